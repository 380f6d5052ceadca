// RUN: kiln-opt %s -split-input-file -cse | FileCheck %s

// nn ops are Pure, so CSE merges identical ones; attributes are part of an
// op's identity, which keeps dropouts with different streams apart.

// CSE merges two identical adds.
// CHECK-LABEL: func.func @cse_add
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>, %[[B:.+]]: tensor<4xf32>)
// CHECK: %[[A:.+]] = nn.add %[[X]], %[[B]] : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
// CHECK-NOT: nn.add
// CHECK: return %[[A]], %[[A]] : tensor<?x4xf32>, tensor<?x4xf32>
func.func @cse_add(%x: tensor<?x4xf32>, %b: tensor<4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %0 = nn.add %x, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %1 = nn.add %x, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  return %0, %1 : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// Two dropouts with the same seed but different streams draw different
// masks, so CSE keeps both; one with the same stream is merged.
// CHECK-LABEL: func.func @cse_dropout
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>, %[[S:.+]]: tensor<i64>)
// CHECK: %[[D0:.+]] = nn.dropout %[[X]], %[[S]] {p = 5.000000e-01 : f64, stream = 0 : i64} : tensor<?x4xf32>, tensor<i64>
// CHECK: %[[D1:.+]] = nn.dropout %[[X]], %[[S]] {p = 5.000000e-01 : f64, stream = 1 : i64} : tensor<?x4xf32>, tensor<i64>
// CHECK-NOT: nn.dropout
// CHECK: return %[[D0]], %[[D1]], %[[D0]] : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
func.func @cse_dropout(%x: tensor<?x4xf32>, %s: tensor<i64>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %0 = nn.dropout %x, %s {p = 5.000000e-01 : f64, stream = 0 : i64} : tensor<?x4xf32>, tensor<i64>
  %1 = nn.dropout %x, %s {p = 5.000000e-01 : f64, stream = 1 : i64} : tensor<?x4xf32>, tensor<i64>
  %2 = nn.dropout %x, %s {p = 5.000000e-01 : f64, stream = 0 : i64} : tensor<?x4xf32>, tensor<i64>
  return %0, %1, %2 : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}
