// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-autodiff | FileCheck %s

// The gradient of a broadcast product is summed back to the parameter's
// shape; @eval_step is the forward pass.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32> {nn.input = "x"}, %[[W:.+]]: tensor<4xf32> {{.*}}) -> (tensor<f32> {nn.output = "loss"}, tensor<4xf32> {nn.grad = "w"})
// CHECK: %[[P:.+]] = nn.mul %[[X]], %[[W]]
// CHECK: %[[L:.+]] = nn.reduce_mean %[[P]]
// CHECK: %[[ONE:.+]] = nn.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[G:.+]] = nn.reduce_mean_grad %[[ONE]], %[[P]] {axes = array<i64: 0, 1>}
// CHECK: %[[GW:.+]] = nn.mul %[[G]], %[[X]]
// CHECK: %[[S:.+]] = nn.reduce_sum %[[GW]] {axes = array<i64: 0>, keepdim}
// CHECK: %[[R:.+]] = nn.reshape %[[S]] : tensor<1x4xf32> -> tensor<4xf32>
// CHECK: return %[[L]], %[[R]]
// CHECK-LABEL: func.func @eval_step
// CHECK-NOT: grad
// CHECK: return
func.func @forward(%x: tensor<?x4xf32> {nn.input = "x"},
                   %w: tensor<4xf32> {nn.param = "w", nn.init = {kind = "zeros"}})
    -> (tensor<f32> {nn.output = "loss"}) {
  %0 = nn.mul %x, %w : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %1 = nn.reduce_mean %0 {axes = array<i64: 0, 1>} : tensor<?x4xf32> -> tensor<f32>
  return %1 : tensor<f32>
}

// -----

// A value used twice gets the sum of both uses' gradients.
// CHECK-LABEL: func.func @train_step
// CHECK: nn.broadcast_to
// CHECK: %[[G1:.+]] = nn.mul
// CHECK: %[[G2:.+]] = nn.mul
// CHECK: %[[SUM:.+]] = nn.add %[[G1]], %[[G2]] : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
// CHECK: return %{{.+}}, %[[SUM]]
func.func @forward(%w: tensor<3xf32> {nn.param = "w", nn.init = {kind = "ones"}})
    -> (tensor<f32> {nn.output = "loss"}) {
  %0 = nn.mul %w, %w : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
  %1 = nn.reduce_sum %0 {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
  return %1 : tensor<f32>
}

// -----

// A frozen first layer is pruned: no gradient for its weight and no input
// gradient through the second layer (only its weight gradient), so the
// train step has the 2 forward matmuls and 1 backward matmul.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: -> (tensor<f32> {nn.output = "loss"}, tensor<2x8xf32> {nn.grad = "fc2.weight"})
// CHECK-COUNT-3: nn.matmul
// CHECK-NOT: nn.matmul
// CHECK-NOT: nn.relu_grad
// CHECK: return
// CHECK-LABEL: func.func @eval_step
func.func @forward(%x: tensor<?x4xf32> {nn.input = "x"}, %y: tensor<?xi64> {nn.target = "y"},
                   %w1: tensor<8x4xf32> {nn.param = "fc1.weight", nn.frozen, nn.init = {kind = "zeros"}},
                   %w2: tensor<2x8xf32> {nn.param = "fc2.weight", nn.init = {kind = "zeros"}})
    -> (tensor<f32> {nn.output = "loss"}) {
  %0 = nn.matmul %x, %w1 {transpose_b} : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
  %1 = nn.relu %0 : tensor<?x8xf32>
  %2 = nn.matmul %1, %w2 {transpose_b} : tensor<?x8xf32>, tensor<2x8xf32> -> tensor<?x2xf32>
  %3 = nn.cross_entropy %2, %y : tensor<?x2xf32>, tensor<?xi64>
  return %3 : tensor<f32>
}

// -----

// Inference mode: batch norm on running statistics, dropout removed, and
// the running-statistics updates are not returned.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[D:.+]] = nn.dropout %{{.+}}, %[[SEED:.+]] {p = 5.000000e-01 : f64, stream = 0 : i64}
// CHECK: %[[GD:.+]] = nn.dropout %{{.+}}, %[[SEED]] {p = 5.000000e-01 : f64, stream = 0 : i64}
// CHECK: nn.batch_norm_grad %[[GD]]
// CHECK-LABEL: func.func @eval_step
// CHECK-NOT: nn.dropout
// CHECK: nn.batch_norm_inference
// CHECK-NOT: nn.batch_norm
// CHECK: return %{{.+}} : tensor<f32>
func.func @forward(%x: tensor<?x3xf32> {nn.input = "x"}, %seed: tensor<i64> {nn.seed},
                   %g: tensor<3xf32> {nn.param = "bn.weight", nn.init = {kind = "ones"}},
                   %b: tensor<3xf32> {nn.param = "bn.bias", nn.init = {kind = "zeros"}},
                   %m: tensor<3xf32> {nn.buffer = "bn.running_mean", nn.init = {kind = "zeros"}},
                   %v: tensor<3xf32> {nn.buffer = "bn.running_var", nn.init = {kind = "ones"}})
    -> (tensor<f32> {nn.output = "loss"}, tensor<3xf32> {nn.buffer = "bn.running_mean"},
        tensor<3xf32> {nn.buffer = "bn.running_var"}) {
  %y, %m2, %v2 = nn.batch_norm %x, %g, %b, %m, %v : tensor<?x3xf32>, tensor<3xf32>
  %d = nn.dropout %y, %seed {p = 0.5 : f64, stream = 0 : i64} : tensor<?x3xf32>, tensor<i64>
  %s = nn.reduce_mean %d {axes = array<i64: 0, 1>} : tensor<?x3xf32> -> tensor<f32>
  return %s, %m2, %v2 : tensor<f32>, tensor<3xf32>, tensor<3xf32>
}

// -----

func.func @forward(%x: tensor<?x3xf32> {nn.input = "x"},
                   %g: tensor<3xf32> {nn.param = "g", nn.init = {kind = "ones"}},
                   %m: tensor<3xf32> {nn.buffer = "m", nn.init = {kind = "zeros"}})
    -> (tensor<f32> {nn.output = "loss"}) {
  // expected-error @+1 {{'nn.batch_norm_inference' has no gradient rule, but the loss depends on a trainable parameter through it}}
  %y = nn.batch_norm_inference %x, %g, %g, %m, %m : tensor<?x3xf32>, tensor<3xf32>
  %s = nn.reduce_mean %y {axes = array<i64: 0, 1>} : tensor<?x3xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

func.func @forward(%x: tensor<?x3xf32> {nn.input = "x"},
                   %w: tensor<3xf32> {nn.param = "w", nn.frozen, nn.init = {kind = "ones"}})
    -> (tensor<f32> {nn.output = "loss"}) {
  %0 = nn.mul %x, %w : tensor<?x3xf32>, tensor<3xf32> -> tensor<?x3xf32>
  // expected-error @+1 {{the loss does not depend on any trainable parameter}}
  %1 = nn.reduce_mean %0 {axes = array<i64: 0, 1>} : tensor<?x3xf32> -> tensor<f32>
  return %1 : tensor<f32>
}
