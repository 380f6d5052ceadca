// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// Every nn op (forward, helper and backward) with its attributes, the nn.*
// argument and result attributes and the module's nn.train survive printing and re-parsing, in the custom
// and in the generic form. Default-valued attributes (alpha, approximate,
// groups, eps, momentum) are elided when they equal the default.

// CHECK: module attributes {nn.train = {batch = 64 : i64, epochs = 5 : i64, optimizer = {kind = "adam", lr = 1.000000e-03 : f64}}}
module attributes {nn.train = {batch = 64 : i64, epochs = 5 : i64, optimizer = {kind = "adam", lr = 1.000000e-03 : f64}}} {

// CHECK-LABEL: func.func @interface
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32> {nn.input = "x"},
// CHECK-SAME: %{{.+}}: tensor<?xi64> {nn.target = "y"},
// CHECK-SAME: %[[W:.+]]: tensor<8x4xf32> {nn.init = {high = 5.000000e-01 : f64, kind = "uniform", low = -5.000000e-01 : f64}, nn.param = "fc.weight"},
// CHECK-SAME: %{{.+}}: tensor<8xf32> {nn.frozen, nn.init = {kind = "zeros"}, nn.param = "fc.bias"},
// CHECK-SAME: %[[M:.+]]: tensor<8xf32> {nn.buffer = "bn.running_mean", nn.init = {kind = "constant", value = 2.500000e-01 : f64}},
// CHECK-SAME: %{{.+}}: tensor<i64> {nn.seed},
// CHECK-SAME: %{{.+}}: tensor<f32> {nn.step},
// CHECK-SAME: %[[A:.+]]: tensor<8x4xf32> {nn.opt_state = "fc.weight.exp_avg"})
// CHECK-SAME: -> (tensor<?x8xf32> {nn.output = "predict"}, tensor<8xf32> {nn.buffer = "bn.running_mean"}, tensor<8x4xf32> {nn.grad = "fc.weight"}, tensor<8x4xf32> {nn.param = "fc.weight"}, tensor<8x4xf32> {nn.opt_state = "fc.weight.exp_avg"})
// CHECK: %[[Y:.+]] = nn.matmul %[[X]], %[[W]] {transpose_b} : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
// CHECK: return %[[Y]], %[[M]], %[[A]], %[[W]], %[[A]] : tensor<?x8xf32>, tensor<8xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
func.func @interface(%x: tensor<?x4xf32> {nn.input = "x"},
                     %y: tensor<?xi64> {nn.target = "y"},
                     %w: tensor<8x4xf32> {nn.param = "fc.weight", nn.init = {kind = "uniform", low = -5.000000e-01 : f64, high = 5.000000e-01 : f64}},
                     %b: tensor<8xf32> {nn.param = "fc.bias", nn.init = {kind = "zeros"}, nn.frozen},
                     %m: tensor<8xf32> {nn.buffer = "bn.running_mean", nn.init = {kind = "constant", value = 2.500000e-01 : f64}},
                     %s: tensor<i64> {nn.seed},
                     %t: tensor<f32> {nn.step},
                     %a: tensor<8x4xf32> {nn.opt_state = "fc.weight.exp_avg"})
    -> (tensor<?x8xf32> {nn.output = "predict"}, tensor<8xf32> {nn.buffer = "bn.running_mean"},
        tensor<8x4xf32> {nn.grad = "fc.weight"}, tensor<8x4xf32> {nn.param = "fc.weight"},
        tensor<8x4xf32> {nn.opt_state = "fc.weight.exp_avg"}) {
  %0 = nn.matmul %x, %w {transpose_b} : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
  return %0, %m, %a, %w, %a : tensor<?x8xf32>, tensor<8xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}

// CHECK-LABEL: func.func @constants
// CHECK: nn.constant dense<1.500000e+00> : tensor<4xf32>
// CHECK: nn.constant dense<{{\[}}[1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK: nn.constant dense<[0, 1, 2]> : tensor<3xi64>
func.func @constants() -> (tensor<4xf32>, tensor<2x2xf32>, tensor<3xi64>) {
  %0 = nn.constant dense<1.5> : tensor<4xf32>
  %1 = nn.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %2 = nn.constant dense<[0, 1, 2]> : tensor<3xi64>
  return %0, %1, %2 : tensor<4xf32>, tensor<2x2xf32>, tensor<3xi64>
}

// CHECK-LABEL: func.func @unary
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>)
// CHECK: %[[NEG:.+]] = nn.neg %[[X]] : tensor<?x4xf32>
// CHECK: %[[EXP:.+]] = nn.exp %[[NEG]] : tensor<?x4xf32>
// CHECK: %[[LOG:.+]] = nn.log %[[EXP]] : tensor<?x4xf32>
// CHECK: %[[SQRT:.+]] = nn.sqrt %[[LOG]] : tensor<?x4xf32>
// CHECK: %[[ABS:.+]] = nn.abs %[[SQRT]] : tensor<?x4xf32>
// CHECK: %[[RELU:.+]] = nn.relu %[[ABS]] : tensor<?x4xf32>
// CHECK: %[[SIG:.+]] = nn.sigmoid %[[RELU]] : tensor<?x4xf32>
// CHECK: %[[TANH:.+]] = nn.tanh %[[SIG]] : tensor<?x4xf32>
// CHECK: %[[LR:.+]] = nn.leaky_relu %[[TANH]] {alpha = 2.000000e-01 : f64} : tensor<?x4xf32>
// CHECK: %[[LRD:.+]] = nn.leaky_relu %[[LR]] : tensor<?x4xf32>
// CHECK: %[[GT:.+]] = nn.gelu %[[LRD]] {approximate = "tanh"} : tensor<?x4xf32>
// CHECK: %[[G:.+]] = nn.gelu %[[GT]] : tensor<?x4xf32>
// CHECK: return %[[G]]
func.func @unary(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = nn.neg %x : tensor<?x4xf32>
  %1 = nn.exp %0 : tensor<?x4xf32>
  %2 = nn.log %1 : tensor<?x4xf32>
  %3 = nn.sqrt %2 : tensor<?x4xf32>
  %4 = nn.abs %3 : tensor<?x4xf32>
  %5 = nn.relu %4 : tensor<?x4xf32>
  %6 = nn.sigmoid %5 : tensor<?x4xf32>
  %7 = nn.tanh %6 : tensor<?x4xf32>
  %8 = nn.leaky_relu %7 {alpha = 2.000000e-01 : f64} : tensor<?x4xf32>
  %9 = nn.leaky_relu %8 : tensor<?x4xf32>
  %10 = nn.gelu %9 {approximate = "tanh"} : tensor<?x4xf32>
  %11 = nn.gelu %10 : tensor<?x4xf32>
  return %11 : tensor<?x4xf32>
}

// Broadcasting: a vector against a batch, a scalar, a ?x1 column, and rank
// growth where `?` meets 1 and stays dynamic.
// CHECK-LABEL: func.func @binary
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>, %[[V:.+]]: tensor<4xf32>, %[[S:.+]]: tensor<f32>, %[[C:.+]]: tensor<?x1xf32>, %[[T:.+]]: tensor<3x1x4xf32>)
// CHECK: %[[ADD:.+]] = nn.add %[[X]], %[[V]] : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
// CHECK: %[[SUB:.+]] = nn.sub %[[V]], %[[ADD]] : tensor<4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
// CHECK: %[[MUL:.+]] = nn.mul %[[S]], %[[SUB]] : tensor<f32>, tensor<?x4xf32> -> tensor<?x4xf32>
// CHECK: %[[DIV:.+]] = nn.div %[[MUL]], %[[C]] : tensor<?x4xf32>, tensor<?x1xf32> -> tensor<?x4xf32>
// CHECK: %[[POW:.+]] = nn.pow %[[DIV]], %[[S]] : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
// CHECK: %[[MAX:.+]] = nn.maximum %[[POW]], %[[X]] : tensor<?x4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
// CHECK: %[[MIN:.+]] = nn.minimum %[[C]], %[[T]] : tensor<?x1xf32>, tensor<3x1x4xf32> -> tensor<3x?x4xf32>
// CHECK: return %[[MIN]], %[[MAX]]
func.func @binary(%x: tensor<?x4xf32>, %v: tensor<4xf32>, %s: tensor<f32>,
                  %c: tensor<?x1xf32>, %t: tensor<3x1x4xf32>) -> (tensor<3x?x4xf32>, tensor<?x4xf32>) {
  %0 = nn.add %x, %v : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %1 = nn.sub %v, %0 : tensor<4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
  %2 = nn.mul %s, %1 : tensor<f32>, tensor<?x4xf32> -> tensor<?x4xf32>
  %3 = nn.div %2, %c : tensor<?x4xf32>, tensor<?x1xf32> -> tensor<?x4xf32>
  %4 = nn.pow %3, %s : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  %5 = nn.maximum %4, %x : tensor<?x4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
  %6 = nn.minimum %c, %t : tensor<?x1xf32>, tensor<3x1x4xf32> -> tensor<3x?x4xf32>
  return %6, %5 : tensor<3x?x4xf32>, tensor<?x4xf32>
}

// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[A:.+]]: tensor<4x3xf32>, %[[B:.+]]: tensor<4x5xf32>, %[[BT:.+]]: tensor<5x4xf32>, %[[P:.+]]: tensor<?x3x4xf32>, %[[Q:.+]]: tensor<?x4x5xf32>)
// CHECK: nn.matmul %[[A]], %[[B]] {transpose_a} : tensor<4x3xf32>, tensor<4x5xf32> -> tensor<3x5xf32>
// CHECK: nn.matmul %[[A]], %[[BT]] {transpose_a, transpose_b} : tensor<4x3xf32>, tensor<5x4xf32> -> tensor<3x5xf32>
// CHECK: nn.matmul %[[P]], %[[Q]] : tensor<?x3x4xf32>, tensor<?x4x5xf32> -> tensor<?x3x5xf32>
func.func @matmul(%a: tensor<4x3xf32>, %b: tensor<4x5xf32>, %bt: tensor<5x4xf32>,
                  %p: tensor<?x3x4xf32>, %q: tensor<?x4x5xf32>)
    -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<?x3x5xf32>) {
  %0 = nn.matmul %a, %b {transpose_a} : tensor<4x3xf32>, tensor<4x5xf32> -> tensor<3x5xf32>
  %1 = nn.matmul %a, %bt {transpose_a, transpose_b} : tensor<4x3xf32>, tensor<5x4xf32> -> tensor<3x5xf32>
  %2 = nn.matmul %p, %q : tensor<?x3x4xf32>, tensor<?x4x5xf32> -> tensor<?x3x5xf32>
  return %0, %1, %2 : tensor<3x5xf32>, tensor<3x5xf32>, tensor<?x3x5xf32>
}

// CHECK-LABEL: func.func @conv_pool
// CHECK-SAME: (%[[X:.+]]: tensor<?x4x32x32xf32>, %[[W:.+]]: tensor<8x2x3x3xf32>, %[[Y:.+]]: tensor<1x3x10x10xf32>, %[[K:.+]]: tensor<6x3x3x3xf32>)
// CHECK: %[[C:.+]] = nn.conv2d %[[X]], %[[W]] {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<?x4x32x32xf32>, tensor<8x2x3x3xf32> -> tensor<?x8x16x16xf32>
// CHECK: nn.max_pool2d %[[C]] {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x8x16x16xf32> -> tensor<?x8x8x8xf32>
// CHECK: nn.avg_pool2d %[[C]] {kernel = array<i64: 3, 3>, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>} : tensor<?x8x16x16xf32> -> tensor<?x8x16x16xf32>
// CHECK: nn.conv2d %[[Y]], %[[K]] {dilation = array<i64: 2, 2>, padding = array<i64: 0, 1>, stride = array<i64: 1, 2>} : tensor<1x3x10x10xf32>, tensor<6x3x3x3xf32> -> tensor<1x6x6x4xf32>
func.func @conv_pool(%x: tensor<?x4x32x32xf32>, %w: tensor<8x2x3x3xf32>,
                     %y: tensor<1x3x10x10xf32>, %k: tensor<6x3x3x3xf32>)
    -> (tensor<?x8x8x8xf32>, tensor<?x8x16x16xf32>, tensor<1x6x6x4xf32>) {
  %0 = nn.conv2d %x, %w {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x4x32x32xf32>, tensor<8x2x3x3xf32> -> tensor<?x8x16x16xf32>
  %1 = nn.max_pool2d %0 {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x8x16x16xf32> -> tensor<?x8x8x8xf32>
  %2 = nn.avg_pool2d %0 {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 1, 1>} : tensor<?x8x16x16xf32> -> tensor<?x8x16x16xf32>
  %3 = nn.conv2d %y, %k {stride = array<i64: 1, 2>, padding = array<i64: 0, 1>, dilation = array<i64: 2, 2>} : tensor<1x3x10x10xf32>, tensor<6x3x3x3xf32> -> tensor<1x6x6x4xf32>
  return %1, %2, %3 : tensor<?x8x8x8xf32>, tensor<?x8x16x16xf32>, tensor<1x6x6x4xf32>
}

// CHECK-LABEL: func.func @shape
// CHECK-SAME: (%[[X:.+]]: tensor<?x8x2x2xf32>, %[[A:.+]]: tensor<?x3xf32>, %[[B:.+]]: tensor<?x5xf32>, %[[I:.+]]: tensor<6xi64>, %[[T:.+]]: tensor<?x3x4xf32>)
// CHECK: nn.reshape %[[X]] : tensor<?x8x2x2xf32> -> tensor<?x32xf32>
// CHECK: nn.reshape %[[I]] : tensor<6xi64> -> tensor<2x3xi64>
// CHECK: nn.transpose %[[T]] {perm = array<i64: 0, 2, 1>} : tensor<?x3x4xf32> -> tensor<?x4x3xf32>
// CHECK: %[[CAT:.+]] = nn.concat %[[A]], %[[B]] {axis = 1 : i64} : (tensor<?x3xf32>, tensor<?x5xf32>) -> tensor<?x8xf32>
// CHECK: nn.slice %[[CAT]] {axis = 1 : i64, end = 5 : i64, start = 2 : i64} : tensor<?x8xf32> -> tensor<?x3xf32>
func.func @shape(%x: tensor<?x8x2x2xf32>, %a: tensor<?x3xf32>, %b: tensor<?x5xf32>,
                 %i: tensor<6xi64>, %t: tensor<?x3x4xf32>)
    -> (tensor<?x32xf32>, tensor<2x3xi64>, tensor<?x4x3xf32>, tensor<?x8xf32>, tensor<?x3xf32>) {
  %0 = nn.reshape %x : tensor<?x8x2x2xf32> -> tensor<?x32xf32>
  %1 = nn.reshape %i : tensor<6xi64> -> tensor<2x3xi64>
  %2 = nn.transpose %t {perm = array<i64: 0, 2, 1>} : tensor<?x3x4xf32> -> tensor<?x4x3xf32>
  %3 = nn.concat %a, %b {axis = 1 : i64} : (tensor<?x3xf32>, tensor<?x5xf32>) -> tensor<?x8xf32>
  %4 = nn.slice %3 {axis = 1 : i64, start = 2 : i64, end = 5 : i64} : tensor<?x8xf32> -> tensor<?x3xf32>
  return %0, %1, %2, %3, %4 : tensor<?x32xf32>, tensor<2x3xi64>, tensor<?x4x3xf32>, tensor<?x8xf32>, tensor<?x3xf32>
}

// CHECK-LABEL: func.func @reduce
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>)
// CHECK: nn.reduce_sum %[[X]] {axes = array<i64: 1>, keepdim} : tensor<?x8xf32> -> tensor<?x1xf32>
// CHECK: nn.reduce_mean %[[X]] {axes = array<i64: 0, 1>} : tensor<?x8xf32> -> tensor<f32>
// CHECK: nn.reduce_max %[[X]] {axes = array<i64: 1>} : tensor<?x8xf32> -> tensor<?xf32>
// CHECK: nn.argmax %[[X]] {axis = 1 : i64} : tensor<?x8xf32> -> tensor<?xi64>
// CHECK: nn.softmax %[[X]] {axis = 1 : i64} : tensor<?x8xf32>
// CHECK: nn.log_softmax %[[X]] {axis = -1 : i64} : tensor<?x8xf32>
func.func @reduce(%x: tensor<?x8xf32>)
    -> (tensor<?x1xf32>, tensor<f32>, tensor<?xf32>, tensor<?xi64>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %0 = nn.reduce_sum %x {axes = array<i64: 1>, keepdim} : tensor<?x8xf32> -> tensor<?x1xf32>
  %1 = nn.reduce_mean %x {axes = array<i64: 0, 1>} : tensor<?x8xf32> -> tensor<f32>
  %2 = nn.reduce_max %x {axes = array<i64: 1>} : tensor<?x8xf32> -> tensor<?xf32>
  %3 = nn.argmax %x {axis = 1 : i64} : tensor<?x8xf32> -> tensor<?xi64>
  %4 = nn.softmax %x {axis = 1 : i64} : tensor<?x8xf32>
  %5 = nn.log_softmax %x {axis = -1 : i64} : tensor<?x8xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<?x1xf32>, tensor<f32>, tensor<?xf32>, tensor<?xi64>, tensor<?x8xf32>, tensor<?x8xf32>
}

// batch_norm's three results (output, running mean, running variance) are
// typed from the input and the per-channel parameters.
// CHECK-LABEL: func.func @norm
// CHECK-SAME: (%[[X:.+]]: tensor<?x4x8x8xf32>, %[[W:.+]]: tensor<4xf32>, %[[B:.+]]: tensor<4xf32>, %[[M:.+]]: tensor<4xf32>, %[[V:.+]]: tensor<4xf32>, %[[H:.+]]: tensor<?x3x8xf32>, %[[G:.+]]: tensor<8xf32>, %[[E:.+]]: tensor<8xf32>, %[[Z:.+]]: tensor<?x4xf32>)
// CHECK: %[[BN:.+]], %[[BNM:.+]], %[[BNV:.+]] = nn.batch_norm %[[X]], %[[W]], %[[B]], %[[M]], %[[V]] {eps = 1.000000e-03 : f64, momentum = 2.000000e-01 : f64} : tensor<?x4x8x8xf32>, tensor<4xf32>
// CHECK: %[[BN2:.+]], %{{.+}}, %{{.+}} = nn.batch_norm %[[Z]], %[[W]], %[[B]], %[[M]], %[[V]] : tensor<?x4xf32>, tensor<4xf32>
// CHECK: %[[BNI:.+]] = nn.batch_norm_inference %[[X]], %[[W]], %[[B]], %[[M]], %[[V]] {eps = 1.000000e-03 : f64} : tensor<?x4x8x8xf32>, tensor<4xf32>
// CHECK: %[[LN:.+]] = nn.layer_norm %[[H]], %[[G]], %[[E]] {eps = 1.000000e-03 : f64} : tensor<?x3x8xf32>, tensor<8xf32>
// CHECK: %[[LN2:.+]] = nn.layer_norm %[[H]], %[[G]], %[[E]] : tensor<?x3x8xf32>, tensor<8xf32>
// CHECK: return %[[BN]], %[[BNM]], %[[BNV]], %[[BNI]], %[[LN]], %[[BN2]], %[[LN2]] : tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x4x8x8xf32>, tensor<?x3x8xf32>, tensor<?x4xf32>, tensor<?x3x8xf32>
func.func @norm(%x: tensor<?x4x8x8xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>,
                %m: tensor<4xf32>, %v: tensor<4xf32>, %h: tensor<?x3x8xf32>,
                %g: tensor<8xf32>, %e: tensor<8xf32>, %z: tensor<?x4xf32>)
    -> (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x4x8x8xf32>, tensor<?x3x8xf32>, tensor<?x4xf32>, tensor<?x3x8xf32>) {
  %0:3 = nn.batch_norm %x, %w, %b, %m, %v {eps = 1.000000e-03 : f64, momentum = 2.000000e-01 : f64} : tensor<?x4x8x8xf32>, tensor<4xf32>
  %1:3 = nn.batch_norm %z, %w, %b, %m, %v {eps = 1.000000e-05 : f64, momentum = 1.000000e-01 : f64} : tensor<?x4xf32>, tensor<4xf32>
  %2 = nn.batch_norm_inference %x, %w, %b, %m, %v {eps = 1.000000e-03 : f64} : tensor<?x4x8x8xf32>, tensor<4xf32>
  %3 = nn.layer_norm %h, %g, %e {eps = 1.000000e-03 : f64} : tensor<?x3x8xf32>, tensor<8xf32>
  %4 = nn.layer_norm %h, %g, %e : tensor<?x3x8xf32>, tensor<8xf32>
  return %0#0, %0#1, %0#2, %2, %3, %1#0, %4 : tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x4x8x8xf32>, tensor<?x3x8xf32>, tensor<?x4xf32>, tensor<?x3x8xf32>
}

// CHECK-LABEL: func.func @misc
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[S:.+]]: tensor<i64>, %[[I:.+]]: tensor<?x5xi64>, %[[T:.+]]: tensor<100x16xf32>)
// CHECK: nn.dropout %[[X]], %[[S]] {p = 5.000000e-01 : f64, stream = 3 : i64} : tensor<?x8xf32>, tensor<i64>
// CHECK: nn.embedding %[[I]], %[[T]] : tensor<?x5xi64>, tensor<100x16xf32> -> tensor<?x5x16xf32>
func.func @misc(%x: tensor<?x8xf32>, %seed: tensor<i64>, %ids: tensor<?x5xi64>,
                %table: tensor<100x16xf32>) -> (tensor<?x8xf32>, tensor<?x5x16xf32>) {
  %0 = nn.dropout %x, %seed {p = 5.000000e-01 : f64, stream = 3 : i64} : tensor<?x8xf32>, tensor<i64>
  %1 = nn.embedding %ids, %table : tensor<?x5xi64>, tensor<100x16xf32> -> tensor<?x5x16xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x5x16xf32>
}

// Losses print no result type: it is always tensor<f32>.
// CHECK-LABEL: func.func @losses
// CHECK-SAME: (%[[X:.+]]: tensor<?x10xf32>, %[[Y:.+]]: tensor<?xi64>, %[[P:.+]]: tensor<?x1xf32>, %[[Q:.+]]: tensor<?x1xf32>)
// CHECK: %[[CE:.+]] = nn.cross_entropy %[[X]], %[[Y]] : tensor<?x10xf32>, tensor<?xi64>
// CHECK: %[[NLL:.+]] = nn.nll %[[X]], %[[Y]] : tensor<?x10xf32>, tensor<?xi64>
// CHECK: %[[BCE:.+]] = nn.bce_with_logits %[[P]], %[[Q]] : tensor<?x1xf32>, tensor<?x1xf32>
// CHECK: %[[MSE:.+]] = nn.mse %[[P]], %[[Q]] : tensor<?x1xf32>, tensor<?x1xf32>
// CHECK: return %[[CE]], %[[NLL]], %[[BCE]], %[[MSE]] : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
func.func @losses(%x: tensor<?x10xf32>, %y: tensor<?xi64>, %p: tensor<?x1xf32>, %q: tensor<?x1xf32>)
    -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  %0 = nn.cross_entropy %x, %y : tensor<?x10xf32>, tensor<?xi64>
  %1 = nn.nll %x, %y : tensor<?x10xf32>, tensor<?xi64>
  %2 = nn.bce_with_logits %p, %q : tensor<?x1xf32>, tensor<?x1xf32>
  %3 = nn.mse %p, %q : tensor<?x1xf32>, tensor<?x1xf32>
  return %0, %1, %2, %3 : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}

// Helpers for backward passes and optimizers (ir/NNGradOps.td).
// CHECK-LABEL: func.func @helpers
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>, %[[B:.+]]: tensor<4xf32>, %[[S:.+]]: tensor<f32>, %[[Y:.+]]: tensor<?x4x6xf32>)
// CHECK: %[[COS:.+]] = nn.cos %[[X]] : tensor<?x4xf32>
// CHECK: %[[FLOOR:.+]] = nn.floor %[[COS]] : tensor<?x4xf32>
// CHECK: %[[SIGN:.+]] = nn.sign %[[FLOOR]] : tensor<?x4xf32>
// CHECK: %[[GT:.+]] = nn.greater %[[SIGN]], %[[S]] : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
// CHECK: %[[BC:.+]] = nn.broadcast_to %[[B]], %[[GT]] : tensor<4xf32> -> tensor<?x4xf32>
// CHECK: %[[PAD:.+]] = nn.pad %[[Y]] {after = 3 : i64, axis = 1 : i64, before = 1 : i64} : tensor<?x4x6xf32> -> tensor<?x8x6xf32>
// CHECK: return %[[GT]], %[[BC]], %[[PAD]]
func.func @helpers(%x: tensor<?x4xf32>, %b: tensor<4xf32>, %s: tensor<f32>, %y: tensor<?x4x6xf32>)
    -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8x6xf32>) {
  %0 = nn.cos %x : tensor<?x4xf32>
  %1 = nn.floor %0 : tensor<?x4xf32>
  %2 = nn.sign %1 : tensor<?x4xf32>
  %3 = nn.greater %2, %s : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  %4 = nn.broadcast_to %b, %3 : tensor<4xf32> -> tensor<?x4xf32>
  %5 = nn.pad %y {axis = 1 : i64, before = 1 : i64, after = 3 : i64} : tensor<?x4x6xf32> -> tensor<?x8x6xf32>
  return %3, %4, %5 : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8x6xf32>
}

// Backward ops (ir/NNGradOps.td).
// CHECK-LABEL: func.func @backward
// CHECK: nn.conv2d_grad_input %{{.+}}, %{{.+}} {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x6x4x4xf32>, tensor<6x2x3x3xf32> -> tensor<?x4x9x9xf32>
// CHECK: nn.conv2d_grad_weight %{{.+}}, %{{.+}} {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x4x9x9xf32>, tensor<?x6x4x4xf32> -> tensor<6x2x3x3xf32>
// CHECK: nn.max_pool2d_grad %{{.+}}, %{{.+}} {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
// CHECK: nn.avg_pool2d_grad %{{.+}}, %{{.+}} {kernel = array<i64: 3, 3>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
// CHECK: nn.reduce_mean_grad %{{.+}}, %{{.+}} {axes = array<i64: 0>, keepdim} : tensor<1x5xf32>, tensor<?x5xf32>
// CHECK: nn.reduce_max_grad %{{.+}}, %{{.+}}, %{{.+}} {axes = array<i64: 0, 1>} : tensor<f32>, tensor<?x5xf32>, tensor<f32>
// CHECK: %{{.+}}, %{{.+}}, %{{.+}} = nn.batch_norm_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x3x4x4xf32>, tensor<3xf32>
// CHECK: %{{.+}}, %{{.+}}, %{{.+}} = nn.layer_norm_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x7xf32>, tensor<7xf32>
// CHECK: nn.embedding_grad %{{.+}}, %{{.+}} : tensor<?x5x8xf32>, tensor<?x5xi64> -> tensor<10x8xf32>
// CHECK: nn.cross_entropy_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<f32>, tensor<?x8xf32>, tensor<?xi64>
// CHECK: nn.nll_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<f32>, tensor<?x8xf32>, tensor<?xi64>
// CHECK: nn.bce_with_logits_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<f32>, tensor<?x8xf32>, tensor<?x8xf32>
// CHECK: nn.mse_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<f32>, tensor<?x8xf32>, tensor<?x8xf32>
// CHECK: nn.relu_grad %{{.+}}, %{{.+}} : tensor<?x8xf32>
// CHECK: nn.leaky_relu_grad %{{.+}}, %{{.+}} {alpha = 1.000000e-01 : f64} : tensor<?x8xf32>
// CHECK: nn.gelu_grad %{{.+}}, %{{.+}} : tensor<?x8xf32>
// CHECK: nn.gelu_grad %{{.+}}, %{{.+}} {approximate = "tanh"} : tensor<?x8xf32>
func.func @backward(%x: tensor<?x4x9x9xf32>, %w: tensor<6x2x3x3xf32>, %g: tensor<?x6x4x4xf32>,
                    %p: tensor<?x3x8x8xf32>, %pg: tensor<?x3x4x4xf32>,
                    %r: tensor<?x5xf32>, %rg: tensor<1x5xf32>, %s: tensor<f32>,
                    %bx: tensor<?x3x4x4xf32>, %bw: tensor<3xf32>, %h: tensor<?x7xf32>, %lw: tensor<7xf32>,
                    %e: tensor<?x5x8xf32>, %ids: tensor<?x5xi64>,
                    %l: tensor<?x8xf32>, %t: tensor<?xi64>, %f: tensor<?x8xf32>) {
  %0 = nn.conv2d_grad_input %g, %w {stride = array<i64: 2, 2>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x6x4x4xf32>, tensor<6x2x3x3xf32> -> tensor<?x4x9x9xf32>
  %1 = nn.conv2d_grad_weight %x, %g {stride = array<i64: 2, 2>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x4x9x9xf32>, tensor<?x6x4x4xf32> -> tensor<6x2x3x3xf32>
  %2 = nn.max_pool2d_grad %pg, %p {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
  %3 = nn.avg_pool2d_grad %pg, %p {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<?x3x4x4xf32>, tensor<?x3x8x8xf32>
  %4 = nn.reduce_mean_grad %rg, %r {axes = array<i64: 0>, keepdim} : tensor<1x5xf32>, tensor<?x5xf32>
  %5 = nn.reduce_max_grad %s, %r, %s {axes = array<i64: 0, 1>} : tensor<f32>, tensor<?x5xf32>, tensor<f32>
  %dx, %dw, %db = nn.batch_norm_grad %bx, %bx, %bw : tensor<?x3x4x4xf32>, tensor<3xf32>
  %lx, %lgw, %lgb = nn.layer_norm_grad %h, %h, %lw : tensor<?x7xf32>, tensor<7xf32>
  %6 = nn.embedding_grad %e, %ids : tensor<?x5x8xf32>, tensor<?x5xi64> -> tensor<10x8xf32>
  %7 = nn.cross_entropy_grad %s, %l, %t : tensor<f32>, tensor<?x8xf32>, tensor<?xi64>
  %8 = nn.nll_grad %s, %l, %t : tensor<f32>, tensor<?x8xf32>, tensor<?xi64>
  %9 = nn.bce_with_logits_grad %s, %l, %f : tensor<f32>, tensor<?x8xf32>, tensor<?x8xf32>
  %10 = nn.mse_grad %s, %l, %f : tensor<f32>, tensor<?x8xf32>, tensor<?x8xf32>
  %11 = nn.relu_grad %l, %f : tensor<?x8xf32>
  %12 = nn.leaky_relu_grad %l, %f {alpha = 1.000000e-01 : f64} : tensor<?x8xf32>
  %13 = nn.gelu_grad %l, %f : tensor<?x8xf32>
  %14 = nn.gelu_grad %l, %f {approximate = "tanh"} : tensor<?x8xf32>
  return
}

}
