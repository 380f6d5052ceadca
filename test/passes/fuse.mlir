// RUN: kiln-opt %s -split-input-file --kiln-fuse | FileCheck %s
// RUN: kiln-opt %s -split-input-file --kiln-fuse | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -split-input-file --kiln-fuse=explain 2>&1 >/dev/null | FileCheck %s --check-prefix=WHY

// A bias add and its activation are the GEMM's epilogue: one kernel.
// CHECK-LABEL: func.func @bias_relu
// CHECK: nn.kernel "matmul_add_relu"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: nn.matmul
// CHECK-NEXT: nn.add
// CHECK-NEXT: nn.relu
// CHECK-NEXT: nn.yield
// CHECK-NEXT: }
// CHECK-NEXT: return
func.func @bias_relu(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = nn.matmul %x, %w {transpose_b} : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
  %1 = nn.add %0, %b : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  %2 = nn.relu %1 : tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}

// -----

// A scalar constant is copied into the kernel, not passed; a value used
// outside the kernel (%1, returned) is one of its results.
// CHECK-LABEL: func.func @constant_inside
// CHECK: %[[K:.+]]:2 = nn.kernel "mul_sub" (%[[G:[^,]+]], %[[P:[^ ]+]] : tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: nn.constant dense<1.000000e-01>
// CHECK: nn.yield
// CHECK: return %[[K]]#1, %[[K]]#0
func.func @constant_inside(%g: tensor<4xf32>, %p: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %lr = nn.constant dense<0.1> : tensor<f32>
  %1 = nn.mul %lr, %g : tensor<f32>, tensor<4xf32> -> tensor<4xf32>
  %2 = nn.sub %p, %1 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %2, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// A scalar computed from scalars (a bias correction from the step number)
// is recomputed inside the kernel that reads it, which takes the step
// number as its input; no kernel of its own is left.
// CHECK-LABEL: func.func @scalar_recomputed
// CHECK: nn.kernel "mul_neg" (%{{.+}}, %{{.+}} : tensor<4xf32>, tensor<f32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: nn.exp
// CHECK-NEXT: nn.sqrt
// CHECK-NOT: nn.kernel
// CHECK-NOT: nn.exp
// CHECK: return
func.func @scalar_recomputed(%t: tensor<f32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  %0 = nn.exp %t : tensor<f32>
  %1 = nn.sqrt %0 : tensor<f32>
  %2 = nn.mul %g, %1 : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %3 = nn.neg %2 : tensor<4xf32>
  return %3 : tensor<4xf32>
}

// -----

// No prologue fusion, and no merge when an outside user of a group sits
// between its ops: the relu is read by the matmul, so it stays apart; the
// add is the matmul's epilogue.
// CHECK-LABEL: func.func @no_prologue
// CHECK: nn.relu
// CHECK-NEXT: nn.kernel "matmul_add"
// CHECK-NOT: nn.kernel
// WHY: remark: not fused: it would compute an operand of nn.matmul inside its kernel (no prologue fusion)
// WHY: remark: not fused: a value of the kernel is used by nn.matmul before this op
func.func @no_prologue(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %1 = nn.relu %x : tensor<4x4xf32>
  %2 = nn.matmul %1, %1 : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %3 = nn.add %1, %2 : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  return %3 : tensor<4x4xf32>
}

// -----

// The last layer: bias add, softmax cross-entropy, argmax, the loss
// gradient and the bias gradient (a reduction over the batch) are one
// kernel with the logits' GEMM; the weight gradient's GEMM reads the loss
// gradient and is a kernel of its own.
// CHECK-LABEL: func.func @softmax_cross_entropy
// CHECK: %[[K:.+]]:4 = nn.kernel "matmul_add_cross_entropy_argmax_cross_entropy_grad_reduce_sum"
// CHECK-SAME: -> (tensor<f32>, tensor<?xi64>, tensor<?x10xf32>, tensor<1x10xf32>)
// CHECK: nn.matmul %[[K]]#2, %{{.+}} {transpose_a}
// CHECK-NOT: nn.kernel
func.func @softmax_cross_entropy(%h: tensor<?x64xf32>, %w: tensor<10x64xf32>, %b: tensor<10xf32>, %y: tensor<?xi64>) -> (tensor<f32>, tensor<?xi64>, tensor<1x10xf32>, tensor<10x64xf32>) {
  %one = nn.constant dense<1.0> : tensor<f32>
  %0 = nn.matmul %h, %w {transpose_b} : tensor<?x64xf32>, tensor<10x64xf32> -> tensor<?x10xf32>
  %1 = nn.add %0, %b : tensor<?x10xf32>, tensor<10xf32> -> tensor<?x10xf32>
  %2 = nn.cross_entropy %1, %y : tensor<?x10xf32>, tensor<?xi64>
  %3 = nn.argmax %1 {axis = 1 : i64} : tensor<?x10xf32> -> tensor<?xi64>
  %4 = nn.cross_entropy_grad %one, %1, %y : tensor<f32>, tensor<?x10xf32>, tensor<?xi64>
  %5 = nn.reduce_sum %4 {axes = array<i64: 0>, keepdim} : tensor<?x10xf32> -> tensor<1x10xf32>
  %6 = nn.matmul %4, %h {transpose_a} : tensor<?x10xf32>, tensor<?x64xf32> -> tensor<10x64xf32>
  return %2, %3, %5, %6 : tensor<f32>, tensor<?xi64>, tensor<1x10xf32>, tensor<10x64xf32>
}

// -----

// Backward through a hidden layer: the input gradient's GEMM computes the
// ReLU mask in its epilogue and the bias gradient as a stage.
// CHECK-LABEL: func.func @activation_backward
// CHECK: nn.kernel "matmul_relu_grad_reduce_sum"
// CHECK-SAME: -> (tensor<?x64xf32>, tensor<1x64xf32>)
// CHECK-NOT: nn.kernel
func.func @activation_backward(%g: tensor<?x10xf32>, %w: tensor<10x64xf32>, %h: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<1x64xf32>) {
  %0 = nn.matmul %g, %w : tensor<?x10xf32>, tensor<10x64xf32> -> tensor<?x64xf32>
  %1 = nn.relu_grad %0, %h : tensor<?x64xf32>
  %2 = nn.reduce_sum %1 {axes = array<i64: 0>, keepdim} : tensor<?x64xf32> -> tensor<1x64xf32>
  return %1, %2 : tensor<?x64xf32>, tensor<1x64xf32>
}

// -----

// A GEMM result read twice is stored anyway: its readers do not extend the
// GEMM's kernel.
// CHECK-LABEL: func.func @several_readers
// CHECK: %[[M:.+]] = nn.matmul
// CHECK: nn.kernel "exp_neg_add" (%[[M]] : tensor<4x4xf32>)
// WHY: remark: not fused: the result of nn.matmul has several readers, and only a single reader's chain is an epilogue
func.func @several_readers(%a: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = nn.matmul %a, %a : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %1 = nn.exp %0 : tensor<4x4xf32>
  %2 = nn.neg %0 : tensor<4x4xf32>
  %3 = nn.add %1, %2 : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  return %3 : tensor<4x4xf32>
}

// -----

// The optimizer: each parameter's SGD update reads its gradient once, but
// an update of the training state never joins a GEMM's kernel; the updates
// of both parameters (same function, same learning rate) become one kernel
// over the packed gradients and parameters, unpacked into the results.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[GW:.+]] = nn.matmul
// CHECK: %[[GB:.+]] = nn.reshape
// CHECK: %[[G:.+]] = nn.pack %[[GW]], %[[GB]] : tensor<8x4xf32>, tensor<8xf32> -> tensor<40xf32>
// CHECK: %[[P:.+]] = nn.pack %arg2, %arg3 : tensor<8x4xf32>, tensor<8xf32> -> tensor<40xf32>
// CHECK: %[[K:.+]] = nn.kernel "mul_sub" (%[[G]], %[[P]] : tensor<40xf32>, tensor<40xf32>) -> (tensor<40xf32>)
// CHECK: nn.mul %{{.+}}, %{{.+}} : tensor<f32>, tensor<40xf32> -> tensor<40xf32>
// CHECK: %[[U:.+]]:2 = nn.unpack %[[K]] : tensor<40xf32> -> tensor<8x4xf32>, tensor<8xf32>
// CHECK: return %[[U]]#0, %[[U]]#1
// WHY: remark: not fused: it updates the training state, which is updated by one kernel over the state arena
// WHY: remark: merges the 2 'mul_sub' kernels into one over their packed operands
func.func @train_step(%x: tensor<?x4xf32> {nn.input = "x"}, %g: tensor<?x8xf32> {nn.input = "g"},
                      %w: tensor<8x4xf32> {nn.param = "w"}, %b: tensor<8xf32> {nn.param = "b"})
    -> (tensor<8x4xf32> {nn.param = "w"}, tensor<8xf32> {nn.param = "b"}) {
  %lr = nn.constant dense<0.1> : tensor<f32>
  %gw = nn.matmul %g, %x {transpose_a} : tensor<?x8xf32>, tensor<?x4xf32> -> tensor<8x4xf32>
  %sum = nn.reduce_sum %g {axes = array<i64: 0>, keepdim} : tensor<?x8xf32> -> tensor<1x8xf32>
  %gb = nn.reshape %sum : tensor<1x8xf32> -> tensor<8xf32>
  %0 = nn.mul %lr, %gw : tensor<f32>, tensor<8x4xf32> -> tensor<8x4xf32>
  %1 = nn.sub %w, %0 : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
  %2 = nn.mul %lr, %gb : tensor<f32>, tensor<8xf32> -> tensor<8xf32>
  %3 = nn.sub %b, %2 : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  return %1, %3 : tensor<8x4xf32>, tensor<8xf32>
}

// -----

// Two GEMMs never share a kernel.
// CHECK-LABEL: func.func @two_gemms
// CHECK: nn.kernel "matmul_relu"
// CHECK: nn.kernel "matmul_relu"
func.func @two_gemms(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = nn.matmul %x, %x : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %1 = nn.relu %0 : tensor<4x4xf32>
  %2 = nn.matmul %1, %x : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %3 = nn.relu %2 : tensor<4x4xf32>
  return %3 : tensor<4x4xf32>
}
