// RUN: kiln-opt %s -split-input-file --kiln-fuse | FileCheck %s
// RUN: kiln-opt %s -split-input-file --kiln-fuse | kiln-opt | FileCheck %s

// A bias add and its activation become one kernel; the matmul stays out.
// CHECK-LABEL: func.func @bias_relu
// CHECK: nn.matmul
// CHECK-COUNT-1: nn.kernel "add_relu"
// CHECK-NOT: nn.kernel
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

// Ops of different result types stay apart: the scalar chain (bias
// correction) is its own kernel, the tensor chain another.
// CHECK-LABEL: func.func @scalar_apart
// CHECK-COUNT-2: nn.kernel
// CHECK-NOT: nn.kernel
func.func @scalar_apart(%t: tensor<f32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  %0 = nn.exp %t : tensor<f32>
  %1 = nn.sqrt %0 : tensor<f32>
  %2 = nn.mul %g, %1 : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %3 = nn.neg %2 : tensor<4xf32>
  return %3 : tensor<4xf32>
}

// -----

// No merge when an outside user of the group sits between its ops: %1 is
// read by the matmul before %3, so {%1, %3} cannot be one kernel placed at
// %3; nothing fuses.
// CHECK-LABEL: func.func @user_between
// CHECK-NOT: nn.kernel
func.func @user_between(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %1 = nn.relu %x : tensor<4x4xf32>
  %2 = nn.matmul %1, %1 : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %3 = nn.add %1, %2 : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  return %3 : tensor<4x4xf32>
}
