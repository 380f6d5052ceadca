// Every nn op round-trips through the custom and the generic syntax.
// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<?x4xf32>, %b: tensor<4xf32>, %s: tensor<f32>) -> tensor<?x4xf32> {
  // CHECK: nn.constant dense<2.000000e+00> : tensor<f32>
  %c = nn.constant dense<2.0> : tensor<f32>
  // CHECK: nn.neg %{{.+}} : tensor<?x4xf32>
  %0 = nn.neg %x : tensor<?x4xf32>
  // CHECK: nn.exp
  %1 = nn.exp %0 : tensor<?x4xf32>
  // CHECK: nn.log
  %2 = nn.log %1 : tensor<?x4xf32>
  // CHECK: nn.sqrt
  %3 = nn.sqrt %2 : tensor<?x4xf32>
  // CHECK: nn.abs
  %4 = nn.abs %3 : tensor<?x4xf32>
  // CHECK: nn.relu
  %5 = nn.relu %4 : tensor<?x4xf32>
  // CHECK: nn.sigmoid
  %6 = nn.sigmoid %5 : tensor<?x4xf32>
  // CHECK: nn.tanh
  %7 = nn.tanh %6 : tensor<?x4xf32>
  // CHECK: nn.leaky_relu %{{.+}} {alpha = 2.000000e-01 : f64} : tensor<?x4xf32>
  %8 = nn.leaky_relu %7 {alpha = 0.2 : f64} : tensor<?x4xf32>
  // CHECK: nn.gelu %{{.+}} {approximate = "tanh"} : tensor<?x4xf32>
  %9 = nn.gelu %8 {approximate = "tanh"} : tensor<?x4xf32>
  // CHECK: nn.gelu %{{.+}} : tensor<?x4xf32>
  %10 = nn.gelu %9 : tensor<?x4xf32>
  // CHECK: nn.cos
  %11 = nn.cos %10 : tensor<?x4xf32>
  // CHECK: nn.floor
  %12 = nn.floor %11 : tensor<?x4xf32>
  // CHECK: nn.sign
  %13 = nn.sign %12 : tensor<?x4xf32>
  // CHECK: nn.add %{{.+}}, %{{.+}} : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %14 = nn.add %13, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: nn.sub %{{.+}}, %{{.+}} : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  %15 = nn.sub %14, %s : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  // CHECK: nn.mul
  %16 = nn.mul %15, %c : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  // CHECK: nn.div
  %17 = nn.div %16, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: nn.pow
  %18 = nn.pow %17, %c : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  // CHECK: nn.maximum
  %19 = nn.maximum %18, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: nn.minimum
  %20 = nn.minimum %19, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: nn.greater
  %21 = nn.greater %20, %s : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  // CHECK: nn.broadcast_to %{{.+}}, %{{.+}} : tensor<4xf32> -> tensor<?x4xf32>
  %22 = nn.broadcast_to %b, %21 : tensor<4xf32> -> tensor<?x4xf32>
  return %22 : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @linear_algebra
func.func @linear_algebra(%a: tensor<8x4xf32>, %w: tensor<3x4xf32>, %x: tensor<2x8x4xf32>, %y: tensor<2x4x5xf32>) -> (tensor<8x3xf32>, tensor<4x4xf32>, tensor<2x8x5xf32>) {
  // CHECK: nn.matmul %{{.+}}, %{{.+}} {transpose_b} : tensor<8x4xf32>, tensor<3x4xf32> -> tensor<8x3xf32>
  %0 = nn.matmul %a, %w {transpose_b} : tensor<8x4xf32>, tensor<3x4xf32> -> tensor<8x3xf32>
  // CHECK: nn.matmul %{{.+}}, %{{.+}} {transpose_a} : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<4x4xf32>
  %1 = nn.matmul %a, %a {transpose_a} : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<4x4xf32>
  // CHECK: nn.matmul {{.*}} : tensor<2x8x4xf32>, tensor<2x4x5xf32> -> tensor<2x8x5xf32>
  %2 = nn.matmul %x, %y : tensor<2x8x4xf32>, tensor<2x4x5xf32> -> tensor<2x8x5xf32>
  return %0, %1, %2 : tensor<8x3xf32>, tensor<4x4xf32>, tensor<2x8x5xf32>
}

// CHECK-LABEL: func.func @convolution
func.func @convolution(%x: tensor<?x4x9x9xf32>, %w: tensor<6x2x3x3xf32>, %g: tensor<?x6x4x4xf32>) -> (tensor<?x6x4x4xf32>, tensor<?x4x9x9xf32>, tensor<6x2x3x3xf32>) {
  // CHECK: nn.conv2d %{{.+}}, %{{.+}} {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<?x4x9x9xf32>, tensor<6x2x3x3xf32> -> tensor<?x6x5x5xf32>
  %0 = nn.conv2d %x, %w {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x4x9x9xf32>, tensor<6x2x3x3xf32> -> tensor<?x6x5x5xf32>
  // CHECK: nn.conv2d {{.*}}dilation = array<i64: 2, 2>{{.*}} -> tensor<?x6x5x5xf32>
  %1 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 2, 2>, groups = 2 : i64} : tensor<?x4x9x9xf32>, tensor<6x2x3x3xf32> -> tensor<?x6x5x5xf32>
  // CHECK: nn.conv2d_grad_input {{.*}} : tensor<?x6x4x4xf32>, tensor<6x2x3x3xf32> -> tensor<?x4x9x9xf32>
  %2 = nn.conv2d_grad_input %g, %w {stride = array<i64: 2, 2>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x6x4x4xf32>, tensor<6x2x3x3xf32> -> tensor<?x4x9x9xf32>
  // CHECK: nn.conv2d_grad_weight {{.*}} : tensor<?x4x9x9xf32>, tensor<?x6x4x4xf32> -> tensor<6x2x3x3xf32>
  %3 = nn.conv2d_grad_weight %x, %g {stride = array<i64: 2, 2>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x4x9x9xf32>, tensor<?x6x4x4xf32> -> tensor<6x2x3x3xf32>
  return %g, %2, %3 : tensor<?x6x4x4xf32>, tensor<?x4x9x9xf32>, tensor<6x2x3x3xf32>
}

// CHECK-LABEL: func.func @pooling
func.func @pooling(%x: tensor<?x3x8x8xf32>) -> (tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>) {
  // CHECK: nn.max_pool2d %{{.+}} {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x3x8x8xf32> -> tensor<?x3x4x4xf32>
  %0 = nn.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x3x8x8xf32> -> tensor<?x3x4x4xf32>
  // CHECK: nn.avg_pool2d {{.*}}padding = array<i64: 1, 1>{{.*}} -> tensor<?x3x4x4xf32>
  %1 = nn.avg_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<?x3x8x8xf32> -> tensor<?x3x4x4xf32>
  // CHECK: nn.max_pool2d_grad {{.*}} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
  %2 = nn.max_pool2d_grad %0, %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
  // CHECK: nn.avg_pool2d_grad {{.*}} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
  %3 = nn.avg_pool2d_grad %1, %2 {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
  return %1, %3 : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<?x4x6xf32>, %y: tensor<?x2x6xf32>) -> (tensor<?x24xf32>, tensor<6x4x?xf32>, tensor<?x6x6xf32>, tensor<?x3x6xf32>, tensor<?x8x6xf32>) {
  // CHECK: nn.reshape %{{.+}} : tensor<?x4x6xf32> -> tensor<?x24xf32>
  %0 = nn.reshape %x : tensor<?x4x6xf32> -> tensor<?x24xf32>
  // CHECK: nn.transpose %{{.+}} {perm = array<i64: 2, 1, 0>} : tensor<?x4x6xf32> -> tensor<6x4x?xf32>
  %1 = nn.transpose %x {perm = array<i64: 2, 1, 0>} : tensor<?x4x6xf32> -> tensor<6x4x?xf32>
  // CHECK: nn.concat %{{.+}}, %{{.+}} {axis = 1 : i64} : (tensor<?x4x6xf32>, tensor<?x2x6xf32>) -> tensor<?x6x6xf32>
  %2 = nn.concat %x, %y {axis = 1 : i64} : (tensor<?x4x6xf32>, tensor<?x2x6xf32>) -> tensor<?x6x6xf32>
  // CHECK: nn.slice %{{.+}} {axis = 1 : i64, end = 4 : i64, start = 1 : i64} : tensor<?x4x6xf32> -> tensor<?x3x6xf32>
  %3 = nn.slice %x {axis = 1 : i64, start = 1 : i64, end = 4 : i64} : tensor<?x4x6xf32> -> tensor<?x3x6xf32>
  // CHECK: nn.pad %{{.+}} {after = 3 : i64, axis = 1 : i64, before = 1 : i64} : tensor<?x4x6xf32> -> tensor<?x8x6xf32>
  %4 = nn.pad %x {axis = 1 : i64, before = 1 : i64, after = 3 : i64} : tensor<?x4x6xf32> -> tensor<?x8x6xf32>
  return %0, %1, %2, %3, %4 : tensor<?x24xf32>, tensor<6x4x?xf32>, tensor<?x6x6xf32>, tensor<?x3x6xf32>, tensor<?x8x6xf32>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<?x5xf32>) -> (tensor<?xf32>, tensor<1x5xf32>, tensor<f32>, tensor<?xi64>, tensor<?x5xf32>) {
  // CHECK: nn.reduce_sum %{{.+}} {axes = array<i64: 1>} : tensor<?x5xf32> -> tensor<?xf32>
  %0 = nn.reduce_sum %x {axes = array<i64: 1>} : tensor<?x5xf32> -> tensor<?xf32>
  // CHECK: nn.reduce_mean %{{.+}} {axes = array<i64: 0>, keepdim} : tensor<?x5xf32> -> tensor<1x5xf32>
  %1 = nn.reduce_mean %x {axes = array<i64: 0>, keepdim} : tensor<?x5xf32> -> tensor<1x5xf32>
  // CHECK: nn.reduce_max %{{.+}} {axes = array<i64: 0, 1>} : tensor<?x5xf32> -> tensor<f32>
  %2 = nn.reduce_max %x {axes = array<i64: 0, 1>} : tensor<?x5xf32> -> tensor<f32>
  // CHECK: nn.argmax %{{.+}} {axis = 1 : i64} : tensor<?x5xf32> -> tensor<?xi64>
  %3 = nn.argmax %x {axis = 1 : i64} : tensor<?x5xf32> -> tensor<?xi64>
  // CHECK: nn.reduce_mean_grad {{.*}} : tensor<1x5xf32>, tensor<?x5xf32>
  %4 = nn.reduce_mean_grad %1, %x {axes = array<i64: 0>, keepdim} : tensor<1x5xf32>, tensor<?x5xf32>
  // CHECK: nn.reduce_max_grad {{.*}} : tensor<f32>, tensor<?x5xf32>, tensor<f32>
  %5 = nn.reduce_max_grad %2, %4, %2 {axes = array<i64: 0, 1>} : tensor<f32>, tensor<?x5xf32>, tensor<f32>
  return %0, %1, %2, %3, %5 : tensor<?xf32>, tensor<1x5xf32>, tensor<f32>, tensor<?xi64>, tensor<?x5xf32>
}

// CHECK-LABEL: func.func @normalization
func.func @normalization(%x: tensor<?x3x4x4xf32>, %w: tensor<3xf32>, %h: tensor<?x7xf32>, %lw: tensor<7xf32>) -> (tensor<?x3x4x4xf32>, tensor<3xf32>, tensor<?x7xf32>) {
  // CHECK: nn.softmax %{{.+}} {axis = 1 : i64} : tensor<?x7xf32>
  %0 = nn.softmax %h {axis = 1 : i64} : tensor<?x7xf32>
  // CHECK: nn.log_softmax
  %1 = nn.log_softmax %0 {axis = 1 : i64} : tensor<?x7xf32>
  // CHECK: %{{.+}}, %{{.+}}, %{{.+}} = nn.batch_norm {{.*}} {eps = 1.000000e-03 : f64, momentum = 2.000000e-01 : f64} : tensor<?x3x4x4xf32>, tensor<3xf32>
  %y, %m, %v = nn.batch_norm %x, %w, %w, %w, %w {eps = 1.0e-3 : f64, momentum = 0.2 : f64} : tensor<?x3x4x4xf32>, tensor<3xf32>
  // CHECK: nn.batch_norm_inference {{.*}} : tensor<?x3x4x4xf32>, tensor<3xf32>
  %2 = nn.batch_norm_inference %y, %w, %w, %m, %v : tensor<?x3x4x4xf32>, tensor<3xf32>
  // CHECK: nn.batch_norm_grad {{.*}} : tensor<?x3x4x4xf32>, tensor<3xf32>
  %dx, %dw, %db = nn.batch_norm_grad %2, %x, %w : tensor<?x3x4x4xf32>, tensor<3xf32>
  // CHECK: nn.layer_norm {{.*}} {eps = 9.99{{[0-9]*}}E-7 : f64} : tensor<?x7xf32>, tensor<7xf32>
  %3 = nn.layer_norm %1, %lw, %lw {eps = 1.0e-6 : f64} : tensor<?x7xf32>, tensor<7xf32>
  // CHECK: nn.layer_norm_grad
  %lx, %lgw, %lgb = nn.layer_norm_grad %3, %1, %lw : tensor<?x7xf32>, tensor<7xf32>
  return %dx, %dw, %lx : tensor<?x3x4x4xf32>, tensor<3xf32>, tensor<?x7xf32>
}

// CHECK-LABEL: func.func @other
func.func @other(%x: tensor<?x8xf32>, %seed: tensor<i64>, %ids: tensor<?x5xi64>, %table: tensor<10x8xf32>, %t: tensor<?xi64>, %f: tensor<?x8xf32>, %g: tensor<f32>) -> (tensor<?x8xf32>, tensor<10x8xf32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  // CHECK: nn.dropout %{{.+}}, %{{.+}} {p = 2.500000e-01 : f64, stream = 3 : i64} : tensor<?x8xf32>, tensor<i64>
  %0 = nn.dropout %x, %seed {p = 0.25 : f64, stream = 3 : i64} : tensor<?x8xf32>, tensor<i64>
  // CHECK: nn.embedding %{{.+}}, %{{.+}} : tensor<?x5xi64>, tensor<10x8xf32> -> tensor<?x5x8xf32>
  %1 = nn.embedding %ids, %table : tensor<?x5xi64>, tensor<10x8xf32> -> tensor<?x5x8xf32>
  // CHECK: nn.embedding_grad {{.*}} : tensor<?x5x8xf32>, tensor<?x5xi64> -> tensor<10x8xf32>
  %2 = nn.embedding_grad %1, %ids : tensor<?x5x8xf32>, tensor<?x5xi64> -> tensor<10x8xf32>
  // CHECK: nn.cross_entropy %{{.+}}, %{{.+}} : tensor<?x8xf32>, tensor<?xi64>
  %3 = nn.cross_entropy %x, %t : tensor<?x8xf32>, tensor<?xi64>
  // CHECK: nn.nll
  %4 = nn.nll %x, %t : tensor<?x8xf32>, tensor<?xi64>
  // CHECK: nn.bce_with_logits %{{.+}}, %{{.+}} : tensor<?x8xf32>, tensor<?x8xf32>
  %5 = nn.bce_with_logits %x, %f : tensor<?x8xf32>, tensor<?x8xf32>
  // CHECK: nn.mse
  %6 = nn.mse %x, %f : tensor<?x8xf32>, tensor<?x8xf32>
  // CHECK: nn.cross_entropy_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<f32>, tensor<?x8xf32>, tensor<?xi64>
  %7 = nn.cross_entropy_grad %g, %x, %t : tensor<f32>, tensor<?x8xf32>, tensor<?xi64>
  // CHECK: nn.nll_grad
  %8 = nn.nll_grad %g, %7, %t : tensor<f32>, tensor<?x8xf32>, tensor<?xi64>
  // CHECK: nn.bce_with_logits_grad
  %9 = nn.bce_with_logits_grad %g, %8, %f : tensor<f32>, tensor<?x8xf32>, tensor<?x8xf32>
  // CHECK: nn.mse_grad
  %10 = nn.mse_grad %g, %9, %f : tensor<f32>, tensor<?x8xf32>, tensor<?x8xf32>
  // CHECK: nn.relu_grad
  %11 = nn.relu_grad %10, %x : tensor<?x8xf32>
  // CHECK: nn.leaky_relu_grad %{{.+}}, %{{.+}} {alpha = 1.000000e-01 : f64}
  %12 = nn.leaky_relu_grad %11, %x {alpha = 0.1 : f64} : tensor<?x8xf32>
  // CHECK: nn.gelu_grad
  %13 = nn.gelu_grad %12, %0 : tensor<?x8xf32>
  return %13, %2, %3, %4, %5, %6 : tensor<?x8xf32>, tensor<10x8xf32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}

// The model interface attributes round-trip.
// CHECK-LABEL: module attributes {nn.train = {batch = 8 : i64, optimizer = {kind = "sgd", lr = 1.000000e-01 : f64}}}
// CHECK: func.func @forward(%{{.+}}: tensor<?x2xf32> {nn.input = "x"}, %{{.+}}: tensor<?xi64> {nn.target = "y"}, %{{.+}}: tensor<i64> {nn.seed}, %{{.+}}: tensor<f32> {nn.step}, %{{.+}}: tensor<2x2xf32> {nn.frozen, nn.init = {high = 1.000000e-01 : f64, kind = "uniform", low = -1.000000e-01 : f64}, nn.param = "fc.weight"}, %{{.+}}: tensor<2xf32> {nn.buffer = "bn.running_mean", nn.init = {kind = "zeros"}}, %{{.+}}: tensor<2x2xf32> {nn.opt_state = "fc.weight.exp_avg"})
// CHECK-SAME: -> (tensor<f32> {nn.output = "loss"}, tensor<2xf32> {nn.buffer = "bn.running_mean"}, tensor<2x2xf32> {nn.grad = "fc.weight"}, tensor<2x2xf32> {nn.param = "fc.weight"}, tensor<2x2xf32> {nn.opt_state = "fc.weight.exp_avg"})
module attributes {nn.train = {batch = 8 : i64, optimizer = {kind = "sgd", lr = 0.1 : f64}}} {
  func.func @forward(%x: tensor<?x2xf32> {nn.input = "x"}, %y: tensor<?xi64> {nn.target = "y"}, %seed: tensor<i64> {nn.seed}, %t: tensor<f32> {nn.step},
                     %w: tensor<2x2xf32> {nn.param = "fc.weight", nn.frozen, nn.init = {kind = "uniform", low = -0.1 : f64, high = 0.1 : f64}},
                     %m: tensor<2xf32> {nn.buffer = "bn.running_mean", nn.init = {kind = "zeros"}},
                     %s: tensor<2x2xf32> {nn.opt_state = "fc.weight.exp_avg"})
      -> (tensor<f32> {nn.output = "loss"}, tensor<2xf32> {nn.buffer = "bn.running_mean"}, tensor<2x2xf32> {nn.grad = "fc.weight"}, tensor<2x2xf32> {nn.param = "fc.weight"}, tensor<2x2xf32> {nn.opt_state = "fc.weight.exp_avg"}) {
    %0 = nn.cross_entropy %x, %y : tensor<?x2xf32>, tensor<?xi64>
    return %0, %m, %w, %w, %s : tensor<f32>, tensor<2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>
  }
}
