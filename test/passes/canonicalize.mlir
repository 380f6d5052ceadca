// RUN: kiln-opt %s -split-input-file -canonicalize | FileCheck %s

// Additive and multiplicative identities fold away when broadcasting does
// not change the type.
// CHECK-LABEL: func.func @identities
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK-NOT: nn.add
// CHECK-NOT: nn.mul
// CHECK-NOT: nn.sub
// CHECK-NOT: nn.div
// CHECK-NOT: nn.pow
// CHECK: return %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identities(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %zero = nn.constant dense<0.0> : tensor<f32>
  %one = nn.constant dense<1.0> : tensor<f32>
  %0 = nn.add %x, %zero : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %1 = nn.add %zero, %x : tensor<f32>, tensor<4xf32> -> tensor<4xf32>
  %2 = nn.mul %x, %one : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %3 = nn.sub %x, %zero : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %4 = nn.div %x, %one : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %5 = nn.pow %x, %one : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// x + 0 where the zero broadcasts x to a bigger shape is not an identity.
// CHECK-LABEL: func.func @broadcasting_zero
// CHECK: %[[R:.+]] = nn.add
// CHECK: return %[[R]]
func.func @broadcasting_zero(%x: tensor<4xf32>) -> tensor<2x4xf32> {
  %zero = nn.constant dense<0.0> : tensor<2x4xf32>
  %0 = nn.add %x, %zero : tensor<4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// x * 0 is not folded (NaN and infinity would change).
// CHECK-LABEL: func.func @times_zero
// CHECK: nn.mul
func.func @times_zero(%x: tensor<4xf32>) -> tensor<4xf32> {
  %zero = nn.constant dense<0.0> : tensor<f32>
  %0 = nn.mul %x, %zero : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Splat constants fold through arithmetic and unary ops.
// CHECK-LABEL: func.func @constant_folding
// CHECK-DAG: nn.constant dense<5.000000e+00> : tensor<f32>
// CHECK-DAG: nn.constant dense<6.000000e+00> : tensor<f32>
// CHECK-DAG: nn.constant dense<-2.000000e+00> : tensor<f32>
// CHECK-DAG: nn.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NOT: nn.add
// CHECK-NOT: nn.mul
// CHECK-NOT: nn.neg
// CHECK-NOT: nn.relu
func.func @constant_folding() -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  %two = nn.constant dense<2.0> : tensor<f32>
  %three = nn.constant dense<3.0> : tensor<f32>
  %0 = nn.add %two, %three : tensor<f32>, tensor<f32> -> tensor<f32>
  %1 = nn.mul %two, %three : tensor<f32>, tensor<f32> -> tensor<f32>
  %2 = nn.neg %two : tensor<f32>
  %3 = nn.relu %2 : tensor<f32>
  return %0, %1, %2, %3 : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}

// -----

// Involutions and idempotents.
// CHECK-LABEL: func.func @unary
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[R:.+]] = nn.relu %[[X]]
// CHECK-NOT: nn.relu
// CHECK: return %[[X]], %[[X]], %[[R]]
func.func @unary(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0 = nn.neg %x : tensor<4xf32>
  %1 = nn.neg %0 : tensor<4xf32>
  %2 = nn.exp %x : tensor<4xf32>
  %3 = nn.log %2 : tensor<4xf32>
  %4 = nn.relu %x : tensor<4xf32>
  %5 = nn.relu %4 : tensor<4xf32>
  return %1, %3, %5 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Reshapes and transposes compose; identities vanish; a reshaped constant is
// a constant; a one-input concat is its input.
// CHECK-LABEL: func.func @shapes
// CHECK-SAME: (%[[X:.+]]: tensor<2x3x4xf32>)
// CHECK-DAG: %[[C:.+]] = nn.constant dense<1.000000e+00> : tensor<6xf32>
// CHECK-DAG: %[[R:.+]] = nn.reshape %[[X]] : tensor<2x3x4xf32> -> tensor<24xf32>
// CHECK-DAG: %[[T:.+]] = nn.transpose %[[X]] {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
// CHECK: return %[[R]], %[[X]], %[[T]], %[[C]], %[[X]], %[[X]]
func.func @shapes(%x: tensor<2x3x4xf32>) -> (tensor<24xf32>, tensor<2x3x4xf32>, tensor<4x2x3xf32>, tensor<6xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  %0 = nn.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %1 = nn.reshape %0 : tensor<6x4xf32> -> tensor<24xf32>
  %2 = nn.reshape %x : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %3 = nn.transpose %x {perm = array<i64: 1, 0, 2>} : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  %4 = nn.transpose %3 {perm = array<i64: 2, 1, 0>} : tensor<3x2x4xf32> -> tensor<4x2x3xf32>
  %c = nn.constant dense<1.0> : tensor<2x3xf32>
  %5 = nn.reshape %c : tensor<2x3xf32> -> tensor<6xf32>
  %6 = nn.transpose %x {perm = array<i64: 0, 1, 2>} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %7 = nn.concat %x {axis = 0 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  return %1, %2, %4, %5, %6, %7 : tensor<24xf32>, tensor<2x3x4xf32>, tensor<4x2x3xf32>, tensor<6xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
}
