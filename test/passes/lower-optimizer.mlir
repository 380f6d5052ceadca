// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-optimizer | FileCheck %s

// SGD with momentum: one state tensor (PyTorch's momentum_buffer), the step
// number appended, p' = p - lr * (momentum * buf + g).
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: (%[[W:[^:]+]]: tensor<3xf32> {nn.param = "w"}, %[[T:[^:]+]]: tensor<f32> {nn.step}, %[[BUF:[^:]+]]: tensor<3xf32> {nn.opt_state = "w.momentum_buffer"})
// CHECK-SAME: -> (tensor<f32> {nn.output = "loss"}, tensor<3xf32> {nn.param = "w"}, tensor<3xf32> {nn.opt_state = "w.momentum_buffer"})
// CHECK-DAG: %[[LR:.+]] = nn.constant dense<1.000000e-01> : tensor<f32>
// CHECK-DAG: %[[MOM:.+]] = nn.constant dense<0.899999976> : tensor<f32>
// CHECK: %[[SCALED:.+]] = nn.mul %[[MOM]], %[[BUF]]
// CHECK: %[[NEXT:.+]] = nn.add %[[SCALED]], %{{.+}}
// CHECK: %[[UPD:.+]] = nn.mul %[[LR]], %[[NEXT]]
// CHECK: %[[NEW:.+]] = nn.sub %[[W]], %[[UPD]]
// CHECK: return %{{.+}}, %[[NEW]], %[[NEXT]]
module attributes {nn.train = {optimizer = {kind = "sgd", lr = 0.1 : f64, momentum = 0.9 : f64, dampening = 0.0 : f64, nesterov = false, weight_decay = 0.0 : f64}}} {
  func.func @train_step(%w: tensor<3xf32> {nn.param = "w"}) -> (tensor<f32> {nn.output = "loss"}, tensor<3xf32> {nn.grad = "w"}) {
    %0 = nn.mul %w, %w : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    %1 = nn.reduce_sum %0 {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
    return %1, %w : tensor<f32>, tensor<3xf32>
  }
}

// -----

// AdamW decays the parameter before the Adam step (decoupled) and keeps
// exp_avg and exp_avg_sq; bias corrections are functions of the step number.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: %[[T:[^:]+]]: tensor<f32> {nn.step}, %[[M:[^:]+]]: tensor<3xf32> {nn.opt_state = "w.exp_avg"}, %[[V:[^:]+]]: tensor<3xf32> {nn.opt_state = "w.exp_avg_sq"}
// CHECK-SAME: -> (tensor<f32> {nn.output = "loss"}, tensor<3xf32> {nn.param = "w"}, tensor<3xf32> {nn.opt_state = "w.exp_avg"}, tensor<3xf32> {nn.opt_state = "w.exp_avg_sq"})
// CHECK: %[[DECAYED:.+]] = nn.mul %arg0, %{{.+}} : tensor<3xf32>, tensor<f32> -> tensor<3xf32>
// CHECK: nn.mul %[[T]], %{{.+}} : tensor<f32>, tensor<f32> -> tensor<f32>
// CHECK: nn.exp
// CHECK: nn.sqrt
// CHECK: %[[NEW:.+]] = nn.sub %[[DECAYED]], %{{.+}}
// CHECK: return %{{.+}}, %[[NEW]]
module attributes {nn.train = {optimizer = {kind = "adamw", lr = 1.0e-3 : f64, betas = [0.9 : f64, 0.999 : f64], eps = 1.0e-8 : f64, weight_decay = 0.01 : f64}}} {
  func.func @train_step(%w: tensor<3xf32> {nn.param = "w"}) -> (tensor<f32> {nn.output = "loss"}, tensor<3xf32> {nn.grad = "w"}) {
    %0 = nn.reduce_sum %w {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
    return %0, %w : tensor<f32>, tensor<3xf32>
  }
}

// -----

// Global-norm clipping scales every gradient by min(1, max / (norm + 1e-6));
// a step schedule multiplies lr by gamma^floor(s / every).
// CHECK-LABEL: func.func @train_step
// CHECK: %[[SQ:.+]] = nn.mul %arg0, %arg0
// CHECK: nn.reduce_sum %[[SQ]]
// CHECK: %[[NORM:.+]] = nn.sqrt
// CHECK: %[[COEF:.+]] = nn.minimum
// CHECK: nn.mul %arg0, %[[COEF]]
// CHECK: nn.floor
// CHECK: nn.pow
module attributes {nn.train = {clip_grad_norm = 1.0 : f64, schedule = {kind = "step", every = 10 : i64, gamma = 0.5 : f64}, optimizer = {kind = "sgd", lr = 0.1 : f64, momentum = 0.0 : f64, dampening = 0.0 : f64, nesterov = false, weight_decay = 0.0 : f64}}} {
  func.func @train_step(%w: tensor<3xf32> {nn.param = "w"}) -> (tensor<f32> {nn.output = "loss"}, tensor<3xf32> {nn.grad = "w"}) {
    %0 = nn.reduce_sum %w {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
    return %0, %w : tensor<f32>, tensor<3xf32>
  }
}

// -----

// expected-error @+1 {{no optimizer: the model needs a train block}}
module {
  func.func @train_step(%w: tensor<3xf32> {nn.param = "w"}) -> (tensor<3xf32> {nn.grad = "w"}) {
    return %w : tensor<3xf32>
  }
}
