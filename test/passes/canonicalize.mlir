// RUN: kiln-opt %s -split-input-file -canonicalize | FileCheck %s

// The folders and canonicalization patterns of ir/NNOps.cpp, one case each.
// What CSE merges is in cse.mlir.

// x + 0 and 0 + x fold to x, also with a scalar zero that broadcasts to x's
// own type.
// CHECK-LABEL: func.func @add_zero
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>)
// CHECK-NOT: nn.add
// CHECK: return %[[X]], %[[X]], %[[X]] : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
func.func @add_zero(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %z = nn.constant dense<0.0> : tensor<4xf32>
  %s = nn.constant dense<0.0> : tensor<f32>
  %0 = nn.add %x, %z : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %1 = nn.add %z, %x : tensor<4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
  %2 = nn.add %x, %s : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  return %0, %1, %2 : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// Adding zero is not an identity when broadcasting changes x's type.
// CHECK-LABEL: func.func @add_zero_broadcast
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[Z:.+]] = nn.constant dense<0.000000e+00> : tensor<3x4xf32>
// CHECK: %[[A:.+]] = nn.add %[[X]], %[[Z]] : tensor<4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
// CHECK: return %[[A]]
func.func @add_zero_broadcast(%x: tensor<4xf32>) -> tensor<3x4xf32> {
  %z = nn.constant dense<0.0> : tensor<3x4xf32>
  %0 = nn.add %x, %z : tensor<4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// Adding a non-zero splat is kept.
// CHECK-LABEL: func.func @add_nonzero
// CHECK: nn.add
func.func @add_nonzero(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = nn.constant dense<1.0> : tensor<4xf32>
  %0 = nn.add %x, %c : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @mul_one
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>)
// CHECK-NOT: nn.mul
// CHECK: return %[[X]], %[[X]] : tensor<?x4xf32>, tensor<?x4xf32>
func.func @mul_one(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %one = nn.constant dense<1.0> : tensor<f32>
  %0 = nn.mul %x, %one : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  %1 = nn.mul %one, %x : tensor<f32>, tensor<?x4xf32> -> tensor<?x4xf32>
  return %0, %1 : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// x - 0 folds; 0 - x does not (it is -x).
// CHECK-LABEL: func.func @sub_zero
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[Z:.+]] = nn.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK: %[[N:.+]] = nn.sub %[[Z]], %[[X]] : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
// CHECK-NOT: nn.sub
// CHECK: return %[[X]], %[[N]] : tensor<4xf32>, tensor<4xf32>
func.func @sub_zero(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %z = nn.constant dense<0.0> : tensor<4xf32>
  %0 = nn.sub %x, %z : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %1 = nn.sub %z, %x : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// x / 1 folds; 1 / x does not.
// CHECK-LABEL: func.func @div_one
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[ONE:.+]] = nn.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK: %[[R:.+]] = nn.div %[[ONE]], %[[X]] : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
// CHECK-NOT: nn.div
// CHECK: return %[[X]], %[[R]] : tensor<4xf32>, tensor<4xf32>
func.func @div_one(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %one = nn.constant dense<1.0> : tensor<4xf32>
  %0 = nn.div %x, %one : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %1 = nn.div %one, %x : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// pow(x, 1) folds; pow(x, 2) does not.
// CHECK-LABEL: func.func @pow_one
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[TWO:.+]] = nn.constant dense<2.000000e+00> : tensor<f32>
// CHECK: %[[SQ:.+]] = nn.pow %[[X]], %[[TWO]] : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
// CHECK-NOT: nn.pow
// CHECK: return %[[X]], %[[SQ]] : tensor<4xf32>, tensor<4xf32>
func.func @pow_one(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %one = nn.constant dense<1.0> : tensor<f32>
  %two = nn.constant dense<2.0> : tensor<f32>
  %0 = nn.pow %x, %one : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %1 = nn.pow %x, %two : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// Splat constants fold through add (broadcasting to the result type), mul,
// neg and relu.
// CHECK-LABEL: func.func @splat_fold
// CHECK-DAG: %[[ADD:.+]] = nn.constant dense<5.000000e+00> : tensor<2x3xf32>
// CHECK-DAG: %[[MUL:.+]] = nn.constant dense<6.000000e+00> : tensor<3xf32>
// CHECK-DAG: %[[NEG:.+]] = nn.constant dense<-2.000000e+00> : tensor<3xf32>
// CHECK-DAG: %[[RELU:.+]] = nn.constant dense<0.000000e+00> : tensor<3xf32>
// CHECK-NOT: nn.add
// CHECK-NOT: nn.mul
// CHECK-NOT: nn.neg
// CHECK-NOT: nn.relu
// CHECK: return %[[ADD]], %[[MUL]], %[[NEG]], %[[RELU]] : tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
func.func @splat_fold() -> (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %a = nn.constant dense<2.0> : tensor<3xf32>
  %b = nn.constant dense<3.0> : tensor<2x1xf32>
  %c = nn.constant dense<3.0> : tensor<3xf32>
  %0 = nn.add %a, %b : tensor<3xf32>, tensor<2x1xf32> -> tensor<2x3xf32>
  %1 = nn.mul %a, %c : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
  %2 = nn.neg %a : tensor<3xf32>
  %3 = nn.relu %2 : tensor<3xf32>
  return %0, %1, %2, %3 : tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// A result type written less precisely than the rule (`?`) cannot hold a
// constant, so the splat operands are not folded.
// CHECK-LABEL: func.func @splat_fold_dynamic_result
// CHECK: %[[S:.+]] = nn.add %{{.+}}, %{{.+}} : tensor<4xf32>, tensor<4xf32> -> tensor<?xf32>
// CHECK: return %[[S]] : tensor<?xf32>
func.func @splat_fold_dynamic_result() -> tensor<?xf32> {
  %a = nn.constant dense<1.0> : tensor<4xf32>
  %b = nn.constant dense<2.0> : tensor<4xf32>
  %0 = nn.add %a, %b : tensor<4xf32>, tensor<4xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// CHECK-LABEL: func.func @neg_neg
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>)
// CHECK-NOT: nn.neg
// CHECK: return %[[X]] : tensor<?x4xf32>
func.func @neg_neg(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = nn.neg %x : tensor<?x4xf32>
  %1 = nn.neg %0 : tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// log(exp x) folds; exp(log x) does not (log needs x > 0).
// CHECK-LABEL: func.func @log_exp
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[L:.+]] = nn.log %[[X]] : tensor<4xf32>
// CHECK: %[[E:.+]] = nn.exp %[[L]] : tensor<4xf32>
// CHECK-NOT: nn.exp
// CHECK-NOT: nn.log
// CHECK: return %[[X]], %[[E]] : tensor<4xf32>, tensor<4xf32>
func.func @log_exp(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = nn.exp %x : tensor<4xf32>
  %1 = nn.log %0 : tensor<4xf32>
  %2 = nn.log %x : tensor<4xf32>
  %3 = nn.exp %2 : tensor<4xf32>
  return %1, %3 : tensor<4xf32>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @relu_relu
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[R:.+]] = nn.relu %[[X]] : tensor<4xf32>
// CHECK-NOT: nn.relu
// CHECK: return %[[R]] : tensor<4xf32>
func.func @relu_relu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = nn.relu %x : tensor<4xf32>
  %1 = nn.relu %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_same_type
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>)
// CHECK-NOT: nn.reshape
// CHECK: return %[[X]] : tensor<?x4xf32>
func.func @reshape_same_type(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = nn.reshape %x : tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Only the last shape of a reshape chain matters.
// CHECK-LABEL: func.func @reshape_reshape
// CHECK-SAME: (%[[X:.+]]: tensor<?x2x6xf32>)
// CHECK: %[[R:.+]] = nn.reshape %[[X]] : tensor<?x2x6xf32> -> tensor<?x3x4xf32>
// CHECK-NOT: nn.reshape
// CHECK: return %[[R]] : tensor<?x3x4xf32>
func.func @reshape_reshape(%x: tensor<?x2x6xf32>) -> tensor<?x3x4xf32> {
  %0 = nn.reshape %x : tensor<?x2x6xf32> -> tensor<?x12xf32>
  %1 = nn.reshape %0 : tensor<?x12xf32> -> tensor<?x3x4xf32>
  return %1 : tensor<?x3x4xf32>
}

// -----

// A reshape chain back to the original type disappears.
// CHECK-LABEL: func.func @reshape_round_trip
// CHECK-SAME: (%[[X:.+]]: tensor<2x6xf32>)
// CHECK-NOT: nn.reshape
// CHECK: return %[[X]] : tensor<2x6xf32>
func.func @reshape_round_trip(%x: tensor<2x6xf32>) -> tensor<2x6xf32> {
  %0 = nn.reshape %x : tensor<2x6xf32> -> tensor<12xf32>
  %1 = nn.reshape %0 : tensor<12xf32> -> tensor<2x6xf32>
  return %1 : tensor<2x6xf32>
}

// -----

// A reshaped constant is a constant of the new shape, row-major.
// CHECK-LABEL: func.func @reshape_constant
// CHECK: %[[C:.+]] = nn.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-NOT: nn.reshape
// CHECK: return %[[C]] : tensor<2x3xf32>
func.func @reshape_constant() -> tensor<2x3xf32> {
  %c = nn.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]> : tensor<6xf32>
  %0 = nn.reshape %c : tensor<6xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @transpose_identity
// CHECK-SAME: (%[[X:.+]]: tensor<?x3x4xf32>)
// CHECK-NOT: nn.transpose
// CHECK: return %[[X]] : tensor<?x3x4xf32>
func.func @transpose_identity(%x: tensor<?x3x4xf32>) -> tensor<?x3x4xf32> {
  %0 = nn.transpose %x {perm = array<i64: 0, 1, 2>} : tensor<?x3x4xf32> -> tensor<?x3x4xf32>
  return %0 : tensor<?x3x4xf32>
}

// -----

// An identity transpose whose result type is less precise than its operand
// is kept: replacing it would change the type seen by its users.
// CHECK-LABEL: func.func @transpose_identity_retyped
// CHECK-SAME: (%[[X:.+]]: tensor<3x4xf32>)
// CHECK: %[[T:.+]] = nn.transpose %[[X]] {perm = array<i64: 0, 1>} : tensor<3x4xf32> -> tensor<?x4xf32>
// CHECK: return %[[T]] : tensor<?x4xf32>
func.func @transpose_identity_retyped(%x: tensor<3x4xf32>) -> tensor<?x4xf32> {
  %0 = nn.transpose %x {perm = array<i64: 0, 1>} : tensor<3x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// transpose(transpose(x, p), q) = transpose(x, [p[q[i]]]):
// p = [1, 2, 0], q = [1, 0, 2] gives [2, 1, 0].
// CHECK-LABEL: func.func @transpose_transpose
// CHECK-SAME: (%[[X:.+]]: tensor<2x3x4xf32>)
// CHECK: %[[T:.+]] = nn.transpose %[[X]] {perm = array<i64: 2, 1, 0>} : tensor<2x3x4xf32> -> tensor<4x3x2xf32>
// CHECK-NOT: nn.transpose
// CHECK: return %[[T]] : tensor<4x3x2xf32>
func.func @transpose_transpose(%x: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %0 = nn.transpose %x {perm = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %1 = nn.transpose %0 {perm = array<i64: 1, 0, 2>} : tensor<3x4x2xf32> -> tensor<4x3x2xf32>
  return %1 : tensor<4x3x2xf32>
}

// -----

// Two transposes that compose to the identity disappear.
// CHECK-LABEL: func.func @transpose_inverse
// CHECK-SAME: (%[[X:.+]]: tensor<?x3xf32>)
// CHECK-NOT: nn.transpose
// CHECK: return %[[X]] : tensor<?x3xf32>
func.func @transpose_inverse(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = nn.transpose %x {perm = array<i64: 1, 0>} : tensor<?x3xf32> -> tensor<3x?xf32>
  %1 = nn.transpose %0 {perm = array<i64: 1, 0>} : tensor<3x?xf32> -> tensor<?x3xf32>
  return %1 : tensor<?x3xf32>
}

// -----

// CHECK-LABEL: func.func @concat_single
// CHECK-SAME: (%[[X:.+]]: tensor<?x3xf32>)
// CHECK-NOT: nn.concat
// CHECK: return %[[X]] : tensor<?x3xf32>
func.func @concat_single(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = nn.concat %x {axis = 1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
