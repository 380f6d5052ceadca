// Every verifier and shape rule rejects bad IR with a message naming what is
// wrong.
// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @broadcast(%a: tensor<?x4xf32>, %b: tensor<3xf32>) {
  // expected-error @+2 {{cannot broadcast tensor<?x4xf32> with tensor<3xf32>: dimension 1 is 4 vs 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.add %a, %b : tensor<?x4xf32>, tensor<3xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @wrong_result(%a: tensor<2x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{'nn.mul' op inferred type(s) 'tensor<2x4xf32>' are incompatible with return type(s) of operation 'tensor<2x5xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.mul %a, %b : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x5xf32>
  return
}

// -----

func.func @matmul(%a: tensor<8x4xf32>, %b: tensor<5x3xf32>) {
  // expected-error @+2 {{matmul contraction mismatch: tensor<8x4xf32> has 4 columns but tensor<5x3xf32> has 5 rows}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.matmul %a, %b : tensor<8x4xf32>, tensor<5x3xf32> -> tensor<8x3xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<8x4xf32>, %b: tensor<2x4x3xf32>) {
  // expected-error @+2 {{matmul needs two rank-2 or two rank-3 operands}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.matmul %a, %b : tensor<8x4xf32>, tensor<2x4x3xf32> -> tensor<8x3xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<?x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+2 {{conv2d input tensor<?x3x8x8xf32> has 3 channels but weight tensor<4x2x3x3xf32> expects 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x3x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<?x4x6x6xf32>
  return
}

// -----

func.func @conv_groups(%x: tensor<?x4x8x8xf32>, %w: tensor<3x2x3x3xf32>) {
  // expected-error @+2 {{conv2d output channels 3 are not divisible by groups 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x4x8x8xf32>, tensor<3x2x3x3xf32> -> tensor<?x3x6x6xf32>
  return
}

// -----

func.func @conv_empty(%x: tensor<?x1x2x2xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+2 {{does not fit input tensor<?x1x2x2xf32> (output would be empty)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x1x2x2xf32>, tensor<4x1x3x3xf32> -> tensor<?x4x1x1xf32>
  return
}

// -----

func.func @conv_window(%x: tensor<?x1x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+2 {{stride must have 2 entries (height, width), got 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32> -> tensor<?x4x6x6xf32>
  return
}

// -----

func.func @pool_padding(%x: tensor<?x1x8x8xf32>) {
  // expected-error @+2 {{pool padding 2 must be at most half the kernel 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 2, 2>} : tensor<?x1x8x8xf32> -> tensor<?x1x6x6xf32>
  return
}

// -----

func.func @reshape_count(%x: tensor<?x4x6xf32>) {
  // expected-error @+1 {{element count changes: 'tensor<?x4x6xf32>' -> 'tensor<?x25xf32>'}}
  %0 = nn.reshape %x : tensor<?x4x6xf32> -> tensor<?x25xf32>
  return
}

// -----

func.func @reshape_batch(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{dynamic dimension 0 must be kept}}
  %0 = nn.reshape %x : tensor<?x4xf32> -> tensor<4x4xf32>
  return
}

// -----

func.func @reshape_dynamic(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{only dimension 0 may be dynamic}}
  %0 = nn.reshape %x : tensor<?x4xf32> -> tensor<?x2x?xf32>
  return
}

// -----

func.func @transpose(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{transpose perm is not a permutation of [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.transpose %x {perm = array<i64: 0, 0>} : tensor<2x3xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @concat(%a: tensor<2x3xf32>, %b: tensor<4x4xf32>) {
  // expected-error @+2 {{concat inputs tensor<2x3xf32> and tensor<4x4xf32> differ in dimension 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf32>, tensor<4x4xf32>) -> tensor<6x3xf32>
  return
}

// -----

func.func @slice(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{slice [1, 5) is empty or outside dimension 1 of tensor<2x3xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.slice %x {axis = 1 : i64, start = 1 : i64, end = 5 : i64} : tensor<2x3xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @reduce(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{reduction axes must be sorted, distinct and in [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.reduce_sum %x {axes = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<f32>
  return
}

// -----

func.func @argmax(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{argmax axis 2 is out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.argmax %x {axis = 2 : i64} : tensor<2x3xf32> -> tensor<2xi64>
  return
}

// -----

func.func @softmax(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for 'tensor<2x3xf32>'}}
  %0 = nn.softmax %x {axis = 2 : i64} : tensor<2x3xf32>
  return
}

// -----

func.func @batch_norm_shape(%x: tensor<?x3xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{expects per-channel parameters of shape [3], got 'tensor<4xf32>'}}
  %y, %m, %v = nn.batch_norm %x, %w, %w, %w, %w : tensor<?x3xf32>, tensor<4xf32>
  return
}

// -----

func.func @batch_norm_momentum(%x: tensor<?x3xf32>, %w: tensor<3xf32>) {
  // expected-error @+1 {{momentum must be in [0, 1], got 1.5}}
  %y, %m, %v = nn.batch_norm %x, %w, %w, %w, %w {momentum = 1.5 : f64} : tensor<?x3xf32>, tensor<3xf32>
  return
}

// -----

func.func @batch_norm_eps(%x: tensor<?x3xf32>, %w: tensor<3xf32>) {
  // expected-error @+1 {{eps must be positive, got 0}}
  %0 = nn.batch_norm_inference %x, %w, %w, %w, %w {eps = 0.0 : f64} : tensor<?x3xf32>, tensor<3xf32>
  return
}

// -----

func.func @layer_norm(%x: tensor<?x5xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{expects last-dimension parameters of shape [5], got 'tensor<4xf32>'}}
  %0 = nn.layer_norm %x, %w, %w : tensor<?x5xf32>, tensor<4xf32>
  return
}

// -----

func.func @dropout(%x: tensor<?x5xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{p must be in [0, 1), got 1}}
  %0 = nn.dropout %x, %s {p = 1.0 : f64, stream = 0 : i64} : tensor<?x5xf32>, tensor<i64>
  return
}

// -----

func.func @gelu(%x: tensor<?x5xf32>) {
  // expected-error @+1 {{approximate must be "none" or "tanh", got "erf"}}
  %0 = nn.gelu %x {approximate = "erf"} : tensor<?x5xf32>
  return
}

// -----

func.func @embedding(%i: tensor<?xi64>, %t: tensor<10xf32>) {
  // expected-error @+2 {{embedding table must be [num, dim], got tensor<10xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = nn.embedding %i, %t : tensor<?xi64>, tensor<10xf32> -> tensor<?x10xf32>
  return
}

// -----

func.func @class_loss(%x: tensor<8x10xf32>, %t: tensor<4xi64>) {
  // expected-error @+1 {{cross_entropy batch mismatch: scores tensor<8x10xf32> vs targets tensor<4xi64>}}
  %0 = nn.cross_entropy %x, %t : tensor<8x10xf32>, tensor<4xi64>
  return
}

// -----

func.func @class_loss_type(%x: tensor<8x10xf32>, %t: tensor<8xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 64-bit signless integer values}}
  %0 = nn.nll %x, %t : tensor<8x10xf32>, tensor<8xf32>
  return
}

// -----

func.func @elementwise_loss(%x: tensor<8x1xf32>, %t: tensor<8x2xf32>) {
  // expected-error @+1 {{mse needs input and target of one shape, got tensor<8x1xf32> and tensor<8x2xf32>}}
  %0 = nn.mse %x, %t : tensor<8x1xf32>, tensor<8x2xf32>
  return
}

// -----

func.func @broadcast_to(%x: tensor<3xf32>, %l: tensor<2x4xf32>) {
  // expected-error @+1 {{cannot broadcast 'tensor<3xf32>' to 'tensor<2x4xf32>'}}
  %0 = nn.broadcast_to %x, %l : tensor<3xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @pad(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{result 'tensor<2x5xf32>' does not match 'tensor<2x3xf32>' padded by 1 + 2 on axis 1}}
  %0 = nn.pad %x {axis = 1 : i64, before = 1 : i64, after = 2 : i64} : tensor<2x3xf32> -> tensor<2x5xf32>
  return
}

// -----

func.func @pool_grad(%g: tensor<?x1x3x3xf32>, %x: tensor<?x1x8x8xf32>) {
  // expected-error @+1 {{gradient 'tensor<?x1x3x3xf32>' does not match the pooled output 'tensor<?x1x4x4xf32>'}}
  %0 = nn.max_pool2d_grad %g, %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x1x3x3xf32>, tensor<?x1x8x8xf32>
  return
}

// -----

func.func @conv_grad_input(%g: tensor<?x4x5x5xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{conv2d of 'tensor<?x1x8x8xf32>' gives 'tensor<?x4x6x6xf32>', not the gradient's 'tensor<?x4x5x5xf32>'}}
  %0 = nn.conv2d_grad_input %g, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x4x5x5xf32>, tensor<4x1x3x3xf32> -> tensor<?x1x8x8xf32>
  return
}

// -----

func.func @conv_grad_weight(%x: tensor<?x1x8x8xf32>, %g: tensor<?x4x5x5xf32>) {
  // expected-error @+1 {{conv2d with weight 'tensor<4x1x3x3xf32>' gives 'tensor<?x4x6x6xf32>', not the gradient's 'tensor<?x4x5x5xf32>'}}
  %0 = nn.conv2d_grad_weight %x, %g {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x1x8x8xf32>, tensor<?x4x5x5xf32> -> tensor<4x1x3x3xf32>
  return
}

// -----

func.func @embedding_grad(%g: tensor<?x3xf32>, %i: tensor<?xi64>) {
  // expected-error @+1 {{gradient 'tensor<?x3xf32>' does not match indices 'tensor<?xi64>' and table 'tensor<10x4xf32>'}}
  %0 = nn.embedding_grad %g, %i : tensor<?x3xf32>, tensor<?xi64> -> tensor<10x4xf32>
  return
}

// -----

// expected-error @+1 {{unknown argument attribute 'nn.weight'}}
func.func @unknown_arg_attr(%x: tensor<2xf32> {nn.weight = "w"}) {
  return
}

// -----

// expected-error @+1 {{unknown initializer kind 'xavier' (expected zeros, ones, constant, uniform or normal)}}
func.func @bad_init(%x: tensor<2xf32> {nn.param = "w", nn.init = {kind = "xavier"}}) {
  return
}

// -----

// expected-error @+1 {{'nn.init' field 'low' must be a float}}
func.func @bad_init_field(%x: tensor<2xf32> {nn.param = "w", nn.init = {kind = "uniform", low = "a"}}) {
  return
}

// -----

// expected-error @+1 {{'nn.param' argument 0 must be a statically shaped f32 tensor, got 'tensor<?x2xf32>'}}
func.func @dynamic_param(%x: tensor<?x2xf32> {nn.param = "w"}) {
  return
}

// -----

// expected-error @+1 {{'nn.frozen' must be a unit attribute}}
func.func @frozen_value(%x: tensor<2xf32> {nn.param = "w", nn.frozen = 1}) {
  return
}

// -----

// expected-error @+1 {{unknown result attribute 'nn.input'}}
func.func @bad_result_attr(%x: tensor<2xf32>) -> (tensor<2xf32> {nn.input = "x"}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{'nn.train' must be a dictionary}}
module attributes {nn.train = 3 : i64} {
}

// -----

module {
  // expected-error @+1 {{'nn.train' is only valid on a module}}
  func.func @train_on_func() attributes {nn.train = {}} {
    return
  }
}
