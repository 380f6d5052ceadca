// RUN: kiln-opt %s -split-input-file --kiln-layout | FileCheck %s
// RUN: kiln-opt %s -split-input-file --kiln-layout | kiln-opt | FileCheck %s

// One dense layer trained with SGD momentum. Its weight, read as the
// transposed B operand of the forward matmul, is stored [in, out] with its
// momentum buffer, in both functions; the forward matmul reads it plainly,
// the weight gradient becomes x^T g in the stored layout, the update works
// on stored tensors, and no transpose is left.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x4xf32> {nn.input = "x"}
// CHECK-SAME: %[[W:[^:]+]]: tensor<4x8xf32> {nn.layout = array<i64: 1, 0>, nn.param = "fc.weight"}
// CHECK-SAME: %[[B:[^:]+]]: tensor<8xf32> {nn.param = "fc.bias"}
// CHECK-SAME: %[[BUF:[^:]+]]: tensor<4x8xf32> {nn.layout = array<i64: 1, 0>, nn.opt_state = "fc.weight.momentum_buffer"}
// CHECK-SAME: -> (tensor<f32> {nn.output = "loss"}, tensor<4x8xf32> {nn.layout = array<i64: 1, 0>, nn.param = "fc.weight"}, tensor<4x8xf32> {nn.layout = array<i64: 1, 0>, nn.opt_state = "fc.weight.momentum_buffer"})
// CHECK-NOT: nn.transpose
// CHECK: %[[H:.+]] = nn.matmul %[[X]], %[[W]] : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
// CHECK: %[[G:.+]] = nn.add %[[H]], %[[B]]
// CHECK: %[[GW:.+]] = nn.matmul %[[X]], %[[G]] {transpose_a} : tensor<2x4xf32>, tensor<2x8xf32> -> tensor<4x8xf32>
// CHECK: %[[MB:.+]] = nn.mul %[[BUF]], %{{.+}} : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
// CHECK: %[[NB:.+]] = nn.add %[[MB]], %[[GW]] : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK: %[[STEP:.+]] = nn.mul %[[NB]], %{{.+}}
// CHECK: %[[NW:.+]] = nn.sub %[[W]], %[[STEP]] : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK-NOT: nn.transpose
// CHECK: return %{{.+}}, %[[NW]], %[[NB]]
// CHECK-LABEL: func.func @eval_step
// CHECK-SAME: %[[EW:[^:]+]]: tensor<4x8xf32> {nn.layout = array<i64: 1, 0>, nn.param = "fc.weight"}
// CHECK-NOT: nn.transpose
// CHECK: nn.matmul %{{.+}}, %[[EW]] : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
// CHECK-NOT: nn.transpose
module {
  func.func @train_step(%x: tensor<2x4xf32> {nn.input = "x"}, %w: tensor<8x4xf32> {nn.param = "fc.weight"}, %b: tensor<8xf32> {nn.param = "fc.bias"}, %buf: tensor<8x4xf32> {nn.opt_state = "fc.weight.momentum_buffer"}) -> (tensor<f32> {nn.output = "loss"}, tensor<8x4xf32> {nn.param = "fc.weight"}, tensor<8x4xf32> {nn.opt_state = "fc.weight.momentum_buffer"}) {
    %h = nn.matmul %x, %w {transpose_b} : tensor<2x4xf32>, tensor<8x4xf32> -> tensor<2x8xf32>
    %g = nn.add %h, %b : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
    %loss = nn.reduce_sum %g {axes = array<i64: 0, 1>} : tensor<2x8xf32> -> tensor<f32>
    %gw = nn.matmul %g, %x {transpose_a} : tensor<2x8xf32>, tensor<2x4xf32> -> tensor<8x4xf32>
    %momentum = nn.constant dense<0.9> : tensor<f32>
    %lr = nn.constant dense<0.1> : tensor<f32>
    %0 = nn.mul %momentum, %buf : tensor<f32>, tensor<8x4xf32> -> tensor<8x4xf32>
    %buf2 = nn.add %0, %gw : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
    %1 = nn.mul %lr, %buf2 : tensor<f32>, tensor<8x4xf32> -> tensor<8x4xf32>
    %w2 = nn.sub %w, %1 : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
    return %loss, %w2, %buf2 : tensor<f32>, tensor<8x4xf32>, tensor<8x4xf32>
  }
  func.func @eval_step(%x: tensor<2x4xf32> {nn.input = "x"}, %w: tensor<8x4xf32> {nn.param = "fc.weight"}) -> (tensor<f32> {nn.output = "loss"}) {
    %h = nn.matmul %x, %w {transpose_b} : tensor<2x4xf32>, tensor<8x4xf32> -> tensor<2x8xf32>
    %loss = nn.reduce_sum %h {axes = array<i64: 0, 1>} : tensor<2x8xf32> -> tensor<f32>
    return %loss : tensor<f32>
  }
}

// -----

// A weight the GEMM already reads plainly keeps PyTorch's layout.
// CHECK-LABEL: func.func @eval_step
// CHECK-SAME: tensor<4x8xf32> {nn.param = "w"}
// CHECK-NOT: nn.layout
// CHECK: nn.matmul %{{.+}}, %{{.+}} : tensor<2x4xf32>, tensor<4x8xf32>
module {
  func.func @eval_step(%x: tensor<2x4xf32> {nn.input = "x"}, %w: tensor<4x8xf32> {nn.param = "w"}) -> (tensor<2x8xf32> {nn.output = "predict"}) {
    %h = nn.matmul %x, %w : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
    return %h : tensor<2x8xf32>
  }
}

// -----

// A weight also needed in PyTorch's layout (an L2 penalty reduced per
// row) keeps one transpose back to it; the matmul still reads it plainly.
// CHECK-LABEL: func.func @eval_step
// CHECK-SAME: %[[W:[^:]+]]: tensor<4x8xf32> {nn.layout = array<i64: 1, 0>, nn.param = "w"}
// CHECK: %[[C:.+]] = nn.transpose %[[W]] {perm = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
// CHECK-NOT: nn.transpose
// CHECK: nn.matmul %{{.+}}, %[[W]] : tensor<2x4xf32>, tensor<4x8xf32>
// CHECK: nn.mul %[[C]], %[[C]]
module {
  func.func @eval_step(%x: tensor<2x4xf32> {nn.input = "x"}, %w: tensor<8x4xf32> {nn.param = "w"}) -> (tensor<2x8xf32> {nn.output = "predict"}, tensor<8xf32> {nn.output = "penalty"}) {
    %h = nn.matmul %x, %w {transpose_b} : tensor<2x4xf32>, tensor<8x4xf32> -> tensor<2x8xf32>
    %sq = nn.mul %w, %w : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
    %p = nn.reduce_sum %sq {axes = array<i64: 1>} : tensor<8x4xf32> -> tensor<8xf32>
    return %h, %p : tensor<2x8xf32>, tensor<8xf32>
  }
}
