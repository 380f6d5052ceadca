// RUN: kiln-opt %s -cse | FileCheck %s

// Identical pure ops merge; two dropouts with different streams draw
// different masks and must not.
// CHECK-LABEL: func.func @cse
// CHECK-COUNT-1: nn.add
// CHECK-NOT: nn.add
// CHECK-COUNT-2: nn.dropout
func.func @cse(%x: tensor<4xf32>, %s: tensor<i64>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0 = nn.add %x, %x : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %1 = nn.add %x, %x : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %2 = nn.dropout %x, %s {p = 0.5 : f64, stream = 0 : i64} : tensor<4xf32>, tensor<i64>
  %3 = nn.dropout %x, %s {p = 0.5 : f64, stream = 1 : i64} : tensor<4xf32>, tensor<i64>
  return %0, %1, %2, %3 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
