// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// Every verifier and shape-rule failure of the nn ops (ir/NNOps.cpp, and the
// helper and backward ops' verifiers in ir/NNGradOps.cpp) and of the nn.*
// attribute verifiers (ir/NNDialect.cpp), one case each. A shape
// rule reports its own message, then the op says inference failed.

//===----------------------------------------------------------------------===//
// Result types
//===----------------------------------------------------------------------===//

func.func @wrong_result_type(%a: tensor<3x4xf32>, %b: tensor<4xf32>) -> tensor<3x5xf32> {
  // expected-error @+2 {{'nn.add' op inferred type(s) 'tensor<3x4xf32>' are incompatible with return type(s) of operation 'tensor<3x5xf32>'}}
  // expected-error @+1 {{'nn.add' op failed to infer returned types}}
  %0 = nn.add %a, %b : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @wrong_result_rank(%x: tensor<?x8xf32>) -> tensor<?x1xf32> {
  // expected-error @+2 {{'nn.reduce_sum' op inferred type(s) 'tensor<?xf32>' are incompatible with return type(s) of operation 'tensor<?x1xf32>'}}
  // expected-error @+1 {{'nn.reduce_sum' op failed to infer returned types}}
  %0 = nn.reduce_sum %x {axes = array<i64: 1>} : tensor<?x8xf32> -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

func.func @wrong_result_element_type(%x: tensor<?x8xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'nn.argmax' op result #0 must be ranked tensor of 64-bit signless integer values, but got 'tensor<?xf32>'}}
  %0 = nn.argmax %x {axis = 1 : i64} : tensor<?x8xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// -----

func.func @broadcast_mismatch(%a: tensor<?x3x4xf32>, %b: tensor<5x1xf32>) -> tensor<?x3x4xf32> {
  // expected-error @+2 {{cannot broadcast tensor<?x3x4xf32> with tensor<5x1xf32>: dimension 1 is 3 vs 5}}
  // expected-error @+1 {{'nn.mul' op failed to infer returned types}}
  %0 = nn.mul %a, %b : tensor<?x3x4xf32>, tensor<5x1xf32> -> tensor<?x3x4xf32>
  return %0 : tensor<?x3x4xf32>
}

// -----

func.func @gelu_approximate(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.gelu' op approximate must be "none" or "tanh", got "erf"}}
  %0 = nn.gelu %x {approximate = "erf"} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

// -----

func.func @matmul_rank(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>) -> tensor<2x3x5xf32> {
  // expected-error @+2 {{matmul needs two rank-2 or two rank-3 operands, got tensor<2x3x4xf32> and tensor<4x5xf32>}}
  // expected-error @+1 {{'nn.matmul' op failed to infer returned types}}
  %0 = nn.matmul %a, %b : tensor<2x3x4xf32>, tensor<4x5xf32> -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}

// -----

func.func @matmul_contraction(%x: tensor<?x4xf32>, %w: tensor<8x5xf32>) -> tensor<?x8xf32> {
  // expected-error @+2 {{matmul contraction mismatch: tensor<?x4xf32> has 4 columns but tensor<8x5xf32> (transposed) has 5 rows}}
  // expected-error @+1 {{'nn.matmul' op failed to infer returned types}}
  %0 = nn.matmul %x, %w {transpose_b} : tensor<?x4xf32>, tensor<8x5xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<3x4x5xf32>) -> tensor<2x3x5xf32> {
  // expected-error @+2 {{matmul batch mismatch: tensor<2x3x4xf32> vs tensor<3x4x5xf32>}}
  // expected-error @+1 {{'nn.matmul' op failed to infer returned types}}
  %0 = nn.matmul %a, %b : tensor<2x3x4xf32>, tensor<3x4x5xf32> -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}

//===----------------------------------------------------------------------===//
// Convolution and pooling
//===----------------------------------------------------------------------===//

// -----

func.func @conv_rank(%x: tensor<?x3x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error @+2 {{conv2d needs input [N, C, H, W] and weight [O, C/groups, KH, KW], got tensor<?x3x8xf32> and tensor<4x3x3x3xf32>}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x3x8xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x6x6xf32>
  return %0 : tensor<?x4x6x6xf32>
}

// -----

func.func @conv_stride_entries(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error @+2 {{stride must have 2 entries (height, width), got 1}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x6x6xf32>
  return %0 : tensor<?x4x6x6xf32>
}

// -----

func.func @conv_padding_negative(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error @+2 {{padding must be >= 0, got -1}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, -1>, dilation = array<i64: 1, 1>} : tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x6x6xf32>
  return %0 : tensor<?x4x6x6xf32>
}

// -----

func.func @conv_dilation_zero(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error @+2 {{dilation must be >= 1, got 0}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 0, 1>} : tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x6x6xf32>
  return %0 : tensor<?x4x6x6xf32>
}

// -----

func.func @conv_groups_zero(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error @+2 {{groups must be >= 1, got 0}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 0 : i64} : tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x6x6xf32>
  return %0 : tensor<?x4x6x6xf32>
}

// -----

func.func @conv_dynamic_weight(%x: tensor<?x3x8x8xf32>, %w: tensor<?x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error @+2 {{conv2d weight must be statically shaped, got tensor<?x3x3x3xf32>}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x3x8x8xf32>, tensor<?x3x3x3xf32> -> tensor<?x4x6x6xf32>
  return %0 : tensor<?x4x6x6xf32>
}

// -----

func.func @conv_groups_output_channels(%x: tensor<?x4x8x8xf32>, %w: tensor<6x1x3x3xf32>) -> tensor<?x6x6x6xf32> {
  // expected-error @+2 {{conv2d output channels 6 are not divisible by groups 4}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 4 : i64} : tensor<?x4x8x8xf32>, tensor<6x1x3x3xf32> -> tensor<?x6x6x6xf32>
  return %0 : tensor<?x6x6x6xf32>
}

// -----

func.func @conv_channels(%x: tensor<?x4x8x8xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<?x8x6x6xf32> {
  // expected-error @+2 {{conv2d input tensor<?x4x8x8xf32> has 4 channels but weight tensor<8x3x3x3xf32> expects 6}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 2 : i64} : tensor<?x4x8x8xf32>, tensor<8x3x3x3xf32> -> tensor<?x8x6x6xf32>
  return %0 : tensor<?x8x6x6xf32>
}

// -----

func.func @conv_empty_output(%x: tensor<?x3x4x4xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x1x1xf32> {
  // The dilated kernel spans 5 > 4 pixels.
  // expected-error @+2 {{conv2d kernel tensor<4x3x3x3xf32> does not fit input tensor<?x3x4x4xf32> (output would be empty)}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 2, 2>} : tensor<?x3x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x1x1xf32>
  return %0 : tensor<?x4x1x1xf32>
}

// -----

func.func @conv_empty_output_strided(%x: tensor<1x1x2x2xf32>, %w: tensor<1x1x3x3xf32>) -> tensor<1x1x1x1xf32> {
  // (2 - 3) / 2 truncates to 0 in C++; the output is still empty.
  // expected-error @+2 {{conv2d kernel tensor<1x1x3x3xf32> does not fit input tensor<1x1x2x2xf32> (output would be empty)}}
  // expected-error @+1 {{'nn.conv2d' op failed to infer returned types}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 2, 2>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<1x1x2x2xf32>, tensor<1x1x3x3xf32> -> tensor<1x1x1x1xf32>
  return %0 : tensor<1x1x1x1xf32>
}

// -----

func.func @pool_rank(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  // expected-error @+2 {{pooling needs an input [N, C, H, W], got tensor<?x8xf32>}}
  // expected-error @+1 {{'nn.max_pool2d' op failed to infer returned types}}
  %0 = nn.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x8xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @pool_kernel_entries(%x: tensor<?x3x8x8xf32>) -> tensor<?x3x4x4xf32> {
  // expected-error @+2 {{kernel must have 2 entries (height, width), got 3}}
  // expected-error @+1 {{'nn.avg_pool2d' op failed to infer returned types}}
  %0 = nn.avg_pool2d %x {kernel = array<i64: 2, 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x3x8x8xf32> -> tensor<?x3x4x4xf32>
  return %0 : tensor<?x3x4x4xf32>
}

// -----

func.func @pool_stride_zero(%x: tensor<?x3x8x8xf32>) -> tensor<?x3x4x4xf32> {
  // expected-error @+2 {{stride must be >= 1, got 0}}
  // expected-error @+1 {{'nn.max_pool2d' op failed to infer returned types}}
  %0 = nn.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 0>, padding = array<i64: 0, 0>} : tensor<?x3x8x8xf32> -> tensor<?x3x4x4xf32>
  return %0 : tensor<?x3x4x4xf32>
}

// -----

func.func @pool_padding_too_big(%x: tensor<?x3x8x8xf32>) -> tensor<?x3x5x5xf32> {
  // expected-error @+2 {{pool padding 2 must be at most half the kernel 3}}
  // expected-error @+1 {{'nn.max_pool2d' op failed to infer returned types}}
  %0 = nn.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 2, 2>} : tensor<?x3x8x8xf32> -> tensor<?x3x5x5xf32>
  return %0 : tensor<?x3x5x5xf32>
}

// -----

func.func @pool_empty_output(%x: tensor<?x3x2x8xf32>) -> tensor<?x3x1x2xf32> {
  // expected-error @+2 {{pool kernel 3 does not fit input tensor<?x3x2x8xf32> (output would be empty)}}
  // expected-error @+1 {{'nn.avg_pool2d' op failed to infer returned types}}
  %0 = nn.avg_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 3, 3>, padding = array<i64: 0, 0>} : tensor<?x3x2x8xf32> -> tensor<?x3x1x2xf32>
  return %0 : tensor<?x3x1x2xf32>
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

// -----

func.func @reshape_element_type(%x: tensor<6xf32>) -> tensor<2x3xi64> {
  // expected-error @+1 {{'nn.reshape' op cannot change the element type}}
  %0 = nn.reshape %x : tensor<6xf32> -> tensor<2x3xi64>
  return %0 : tensor<2x3xi64>
}

// -----

func.func @reshape_count(%x: tensor<?x8x2x2xf32>) -> tensor<?x30xf32> {
  // expected-error @+1 {{'nn.reshape' op element count changes: 'tensor<?x8x2x2xf32>' -> 'tensor<?x30xf32>'}}
  %0 = nn.reshape %x : tensor<?x8x2x2xf32> -> tensor<?x30xf32>
  return %0 : tensor<?x30xf32>
}

// -----

func.func @reshape_two_dynamic(%x: tensor<?x?xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'nn.reshape' op at most one dimension may be dynamic, got 'tensor<?x?xf32>' -> 'tensor<?x4xf32>'}}
  %0 = nn.reshape %x : tensor<?x?xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @reshape_drop_dynamic(%x: tensor<?x4xf32>) -> tensor<8x2xf32> {
  // expected-error @+1 {{'nn.reshape' op the dynamic dimension must be kept, got 'tensor<?x4xf32>' -> 'tensor<8x2xf32>'}}
  %0 = nn.reshape %x : tensor<?x4xf32> -> tensor<8x2xf32>
  return %0 : tensor<8x2xf32>
}

// -----

func.func @transpose_size(%x: tensor<2x3x4xf32>) -> tensor<3x2xf32> {
  // expected-error @+2 {{transpose permutation has 2 entries but the input tensor<2x3x4xf32> has rank 3}}
  // expected-error @+1 {{'nn.transpose' op failed to infer returned types}}
  %0 = nn.transpose %x {perm = array<i64: 1, 0>} : tensor<2x3x4xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @transpose_repeat(%x: tensor<2x3x4xf32>) -> tensor<3x3x2xf32> {
  // expected-error @+2 {{transpose perm is not a permutation of [0, 3)}}
  // expected-error @+1 {{'nn.transpose' op failed to infer returned types}}
  %0 = nn.transpose %x {perm = array<i64: 1, 1, 0>} : tensor<2x3x4xf32> -> tensor<3x3x2xf32>
  return %0 : tensor<3x3x2xf32>
}

// -----

func.func @transpose_out_of_range(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+2 {{transpose perm is not a permutation of [0, 2)}}
  // expected-error @+1 {{'nn.transpose' op failed to infer returned types}}
  %0 = nn.transpose %x {perm = array<i64: 2, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @concat_empty() -> tensor<3xf32> {
  // expected-error @+2 {{concat needs at least one input}}
  // expected-error @+1 {{'nn.concat' op failed to infer returned types}}
  %0 = nn.concat {axis = 0 : i64} : () -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @concat_axis(%a: tensor<?x3xf32>, %b: tensor<?x5xf32>) -> tensor<?x8xf32> {
  // expected-error @+2 {{concat axis 2 is out of range for rank 2}}
  // expected-error @+1 {{'nn.concat' op failed to infer returned types}}
  %0 = nn.concat %a, %b {axis = 2 : i64} : (tensor<?x3xf32>, tensor<?x5xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @concat_rank(%a: tensor<?x3xf32>, %b: tensor<?x3x1xf32>) -> tensor<?x6xf32> {
  // expected-error @+2 {{concat inputs differ in rank or element type: tensor<?x3xf32> vs tensor<?x3x1xf32>}}
  // expected-error @+1 {{'nn.concat' op failed to infer returned types}}
  %0 = nn.concat %a, %b {axis = 1 : i64} : (tensor<?x3xf32>, tensor<?x3x1xf32>) -> tensor<?x6xf32>
  return %0 : tensor<?x6xf32>
}

// -----

func.func @concat_element_type(%a: tensor<3xf32>, %b: tensor<2xi64>) -> tensor<5xf32> {
  // expected-error @+2 {{concat inputs differ in rank or element type: tensor<3xf32> vs tensor<2xi64>}}
  // expected-error @+1 {{'nn.concat' op failed to infer returned types}}
  %0 = nn.concat %a, %b {axis = 0 : i64} : (tensor<3xf32>, tensor<2xi64>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

func.func @concat_mismatch(%a: tensor<4x3xf32>, %b: tensor<5x3xf32>) -> tensor<4x6xf32> {
  // expected-error @+2 {{concat inputs tensor<4x3xf32> and tensor<5x3xf32> differ in dimension 0}}
  // expected-error @+1 {{'nn.concat' op failed to infer returned types}}
  %0 = nn.concat %a, %b {axis = 1 : i64} : (tensor<4x3xf32>, tensor<5x3xf32>) -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

func.func @slice_axis(%x: tensor<?x8xf32>) -> tensor<?x3xf32> {
  // expected-error @+2 {{slice axis -3 is out of range for rank 2}}
  // expected-error @+1 {{'nn.slice' op failed to infer returned types}}
  %0 = nn.slice %x {axis = -3 : i64, start = 2 : i64, end = 5 : i64} : tensor<?x8xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @slice_out_of_range(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  // expected-error @+2 {{slice [6, 10) is empty or outside dimension 1 of tensor<?x8xf32>}}
  // expected-error @+1 {{'nn.slice' op failed to infer returned types}}
  %0 = nn.slice %x {axis = 1 : i64, start = 6 : i64, end = 10 : i64} : tensor<?x8xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @slice_empty(%x: tensor<?x8xf32>) -> tensor<?x0xf32> {
  // expected-error @+2 {{slice [3, 3) is empty or outside dimension 1 of tensor<?x8xf32>}}
  // expected-error @+1 {{'nn.slice' op failed to infer returned types}}
  %0 = nn.slice %x {axis = 1 : i64, start = 3 : i64, end = 3 : i64} : tensor<?x8xf32> -> tensor<?x0xf32>
  return %0 : tensor<?x0xf32>
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

// -----

func.func @reduce_no_axes(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+2 {{reduction needs at least one axis}}
  // expected-error @+1 {{'nn.reduce_sum' op failed to infer returned types}}
  %0 = nn.reduce_sum %x {axes = array<i64>} : tensor<?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @reduce_unsorted(%x: tensor<?x8x4xf32>) -> tensor<?xf32> {
  // expected-error @+2 {{reduction axes must be sorted, distinct and in [0, 3) for tensor<?x8x4xf32>}}
  // expected-error @+1 {{'nn.reduce_mean' op failed to infer returned types}}
  %0 = nn.reduce_mean %x {axes = array<i64: 2, 1>} : tensor<?x8x4xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @reduce_repeated(%x: tensor<?x8x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+2 {{reduction axes must be sorted, distinct and in [0, 3) for tensor<?x8x4xf32>}}
  // expected-error @+1 {{'nn.reduce_max' op failed to infer returned types}}
  %0 = nn.reduce_max %x {axes = array<i64: 1, 1>} : tensor<?x8x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @reduce_negative(%x: tensor<?x8xf32>) -> tensor<?xf32> {
  // expected-error @+2 {{reduction axes must be sorted, distinct and in [0, 2) for tensor<?x8xf32>}}
  // expected-error @+1 {{'nn.reduce_sum' op failed to infer returned types}}
  %0 = nn.reduce_sum %x {axes = array<i64: -1>} : tensor<?x8xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @argmax_axis(%x: tensor<?x8xf32>) -> tensor<?xi64> {
  // expected-error @+2 {{argmax axis 2 is out of range for rank 2}}
  // expected-error @+1 {{'nn.argmax' op failed to infer returned types}}
  %0 = nn.argmax %x {axis = 2 : i64} : tensor<?x8xf32> -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @softmax_axis(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'nn.softmax' op axis 2 is out of range for 'tensor<?x8xf32>'}}
  %0 = nn.softmax %x {axis = 2 : i64} : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @log_softmax_axis(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'nn.log_softmax' op axis -3 is out of range for 'tensor<?x8xf32>'}}
  %0 = nn.log_softmax %x {axis = -3 : i64} : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @batch_norm_rank(%x: tensor<?x4x8xf32>, %p: tensor<4xf32>) -> tensor<?x4x8xf32> {
  // expected-error @+1 {{'nn.batch_norm' op expects an input [N, C] or [N, C, H, W], got 'tensor<?x4x8xf32>'}}
  %0:3 = nn.batch_norm %x, %p, %p, %p, %p : tensor<?x4x8xf32>, tensor<4xf32>
  return %0#0 : tensor<?x4x8xf32>
}

// -----

func.func @batch_norm_channels(%x: tensor<?x4x8x8xf32>, %p: tensor<3xf32>) -> tensor<?x4x8x8xf32> {
  // expected-error @+1 {{'nn.batch_norm' op expects per-channel parameters of shape [4], got 'tensor<3xf32>'}}
  %0:3 = nn.batch_norm %x, %p, %p, %p, %p : tensor<?x4x8x8xf32>, tensor<3xf32>
  return %0#0 : tensor<?x4x8x8xf32>
}

// -----

func.func @batch_norm_param_rank(%x: tensor<?x4xf32>, %p: tensor<1x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'nn.batch_norm' op expects per-channel parameters of shape [4], got 'tensor<1x4xf32>'}}
  %0:3 = nn.batch_norm %x, %p, %p, %p, %p : tensor<?x4xf32>, tensor<1x4xf32>
  return %0#0 : tensor<?x4xf32>
}

// -----

func.func @batch_norm_eps(%x: tensor<?x4xf32>, %p: tensor<4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'nn.batch_norm' op eps must be positive, got 0.000000e+00}}
  %0:3 = nn.batch_norm %x, %p, %p, %p, %p {eps = 0.0 : f64} : tensor<?x4xf32>, tensor<4xf32>
  return %0#0 : tensor<?x4xf32>
}

// -----

func.func @batch_norm_momentum(%x: tensor<?x4xf32>, %p: tensor<4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'nn.batch_norm' op momentum must be in [0, 1], got 1.500000e+00}}
  %0:3 = nn.batch_norm %x, %p, %p, %p, %p {momentum = 1.5 : f64} : tensor<?x4xf32>, tensor<4xf32>
  return %0#0 : tensor<?x4xf32>
}

// -----

func.func @batch_norm_inference_channels(%x: tensor<?x4xf32>, %p: tensor<8xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'nn.batch_norm_inference' op expects per-channel parameters of shape [4], got 'tensor<8xf32>'}}
  %0 = nn.batch_norm_inference %x, %p, %p, %p, %p : tensor<?x4xf32>, tensor<8xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @batch_norm_inference_eps(%x: tensor<?x4xf32>, %p: tensor<4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'nn.batch_norm_inference' op eps must be positive, got -1.000000e+00}}
  %0 = nn.batch_norm_inference %x, %p, %p, %p, %p {eps = -1.0 : f64} : tensor<?x4xf32>, tensor<4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @layer_norm_rank(%x: tensor<f32>, %p: tensor<1xf32>) -> tensor<f32> {
  // expected-error @+1 {{'nn.layer_norm' op expects an input of rank >= 1}}
  %0 = nn.layer_norm %x, %p, %p : tensor<f32>, tensor<1xf32>
  return %0 : tensor<f32>
}

// -----

func.func @layer_norm_shape(%x: tensor<?x3x8xf32>, %p: tensor<3xf32>) -> tensor<?x3x8xf32> {
  // expected-error @+1 {{'nn.layer_norm' op expects last-dimension parameters of shape [8], got 'tensor<3xf32>'}}
  %0 = nn.layer_norm %x, %p, %p : tensor<?x3x8xf32>, tensor<3xf32>
  return %0 : tensor<?x3x8xf32>
}

// -----

func.func @layer_norm_eps(%x: tensor<?x8xf32>, %p: tensor<8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'nn.layer_norm' op eps must be positive, got 0.000000e+00}}
  %0 = nn.layer_norm %x, %p, %p {eps = 0.0 : f64} : tensor<?x8xf32>, tensor<8xf32>
  return %0 : tensor<?x8xf32>
}

//===----------------------------------------------------------------------===//
// Dropout, embedding, losses
//===----------------------------------------------------------------------===//

// -----

func.func @dropout_p_one(%x: tensor<?x8xf32>, %s: tensor<i64>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'nn.dropout' op p must be in [0, 1), got 1.000000e+00}}
  %0 = nn.dropout %x, %s {p = 1.0 : f64, stream = 0 : i64} : tensor<?x8xf32>, tensor<i64>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @dropout_p_negative(%x: tensor<?x8xf32>, %s: tensor<i64>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'nn.dropout' op p must be in [0, 1), got -5.000000e-01}}
  %0 = nn.dropout %x, %s {p = -0.5 : f64, stream = 0 : i64} : tensor<?x8xf32>, tensor<i64>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @embedding_table(%i: tensor<?xi64>, %t: tensor<100xf32>) -> tensor<?x1xf32> {
  // expected-error @+2 {{embedding table must be [num, dim], got tensor<100xf32>}}
  // expected-error @+1 {{'nn.embedding' op failed to infer returned types}}
  %0 = nn.embedding %i, %t : tensor<?xi64>, tensor<100xf32> -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

func.func @class_loss_target_type(%x: tensor<8x10xf32>, %t: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+1 {{'nn.nll' op operand #1 must be ranked tensor of 64-bit signless integer values, but got 'tensor<8xf32>'}}
  %0 = nn.nll %x, %t : tensor<8x10xf32>, tensor<8xf32>
  return %0 : tensor<f32>
}

// -----

// A loss's result type is not written, so the parser runs the shape rule and
// its message is the only one.
func.func @cross_entropy_rank(%x: tensor<?x10x2xf32>, %y: tensor<?xi64>) -> tensor<f32> {
  // expected-error @+1 {{cross_entropy needs scores [N, C] and class indices [N], got tensor<?x10x2xf32> and tensor<?xi64>}}
  %0 = nn.cross_entropy %x, %y : tensor<?x10x2xf32>, tensor<?xi64>
  return %0 : tensor<f32>
}

// -----

func.func @nll_batch(%x: tensor<32x10xf32>, %y: tensor<16xi64>) -> tensor<f32> {
  // expected-error @+1 {{nll batch mismatch: scores tensor<32x10xf32> vs targets tensor<16xi64>}}
  %0 = nn.nll %x, %y : tensor<32x10xf32>, tensor<16xi64>
  return %0 : tensor<f32>
}

// -----

func.func @mse_shape(%x: tensor<?x1xf32>, %y: tensor<?xf32>) -> tensor<f32> {
  // expected-error @+1 {{mse needs input and target of one shape, got tensor<?x1xf32> and tensor<?xf32>}}
  %0 = nn.mse %x, %y : tensor<?x1xf32>, tensor<?xf32>
  return %0 : tensor<f32>
}

// -----

func.func @bce_shape(%x: tensor<4x2xf32>, %y: tensor<4x3xf32>) -> tensor<f32> {
  // expected-error @+1 {{bce_with_logits needs input and target of one shape, got tensor<4x2xf32> and tensor<4x3xf32>}}
  %0 = nn.bce_with_logits %x, %y : tensor<4x2xf32>, tensor<4x3xf32>
  return %0 : tensor<f32>
}

//===----------------------------------------------------------------------===//
// Helper and backward ops (ir/NNGradOps.cpp)
//===----------------------------------------------------------------------===//

// -----

func.func @broadcast_to(%x: tensor<3xf32>, %l: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'nn.broadcast_to' op cannot broadcast 'tensor<3xf32>' to 'tensor<2x4xf32>'}}
  %0 = nn.broadcast_to %x, %l : tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @pad(%x: tensor<2x3xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nn.pad' op result 'tensor<2x5xf32>' does not match 'tensor<2x3xf32>' padded by 1 + 2 on axis 1}}
  %0 = nn.pad %x {axis = 1 : i64, before = 1 : i64, after = 2 : i64} : tensor<2x3xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @pad_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'nn.pad' op axis 2 is out of range for 'tensor<2x3xf32>'}}
  %0 = nn.pad %x {axis = 2 : i64, before = 0 : i64, after = 0 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @pool_grad(%g: tensor<?x1x3x3xf32>, %x: tensor<?x1x8x8xf32>) -> tensor<?x1x8x8xf32> {
  // expected-error @+1 {{'nn.max_pool2d_grad' op gradient 'tensor<?x1x3x3xf32>' does not match the pooled output 'tensor<?x1x4x4xf32>'}}
  %0 = nn.max_pool2d_grad %g, %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x1x3x3xf32>, tensor<?x1x8x8xf32>
  return %0 : tensor<?x1x8x8xf32>
}

// -----

func.func @conv_grad_input(%g: tensor<?x4x5x5xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<?x1x8x8xf32> {
  // expected-error @+1 {{'nn.conv2d_grad_input' op conv2d of 'tensor<?x1x8x8xf32>' gives 'tensor<?x4x6x6xf32>', not the gradient's 'tensor<?x4x5x5xf32>'}}
  %0 = nn.conv2d_grad_input %g, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x4x5x5xf32>, tensor<4x1x3x3xf32> -> tensor<?x1x8x8xf32>
  return %0 : tensor<?x1x8x8xf32>
}

// -----

func.func @conv_grad_weight(%x: tensor<?x1x8x8xf32>, %g: tensor<?x4x5x5xf32>) -> tensor<4x1x3x3xf32> {
  // expected-error @+1 {{'nn.conv2d_grad_weight' op conv2d with weight 'tensor<4x1x3x3xf32>' gives 'tensor<?x4x6x6xf32>', not the gradient's 'tensor<?x4x5x5xf32>'}}
  %0 = nn.conv2d_grad_weight %x, %g {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x1x8x8xf32>, tensor<?x4x5x5xf32> -> tensor<4x1x3x3xf32>
  return %0 : tensor<4x1x3x3xf32>
}

// -----

func.func @embedding_grad_table(%g: tensor<?x4xf32>, %i: tensor<?xi64>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'nn.embedding_grad' op result must be a static table [num, dim], got 'tensor<?x4xf32>'}}
  %0 = nn.embedding_grad %g, %i : tensor<?x4xf32>, tensor<?xi64> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @embedding_grad(%g: tensor<?x3xf32>, %i: tensor<?xi64>) -> tensor<10x4xf32> {
  // expected-error @+1 {{'nn.embedding_grad' op gradient 'tensor<?x3xf32>' does not match indices 'tensor<?xi64>' and table 'tensor<10x4xf32>'}}
  %0 = nn.embedding_grad %g, %i : tensor<?x3xf32>, tensor<?xi64> -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}

//===----------------------------------------------------------------------===//
// nn.* attributes on arguments, results and the module
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{unknown argument attribute 'nn.weight'}}
func.func @unknown_arg_attr(%x: tensor<4xf32> {nn.weight = "w"}) {
  return
}

// -----

// expected-error @+1 {{'nn.input' must be a string naming the value}}
func.func @input_not_string(%x: tensor<?x4xf32> {nn.input = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{'nn.param' argument 1 must be a statically shaped f32 tensor, got 'tensor<?x4xf32>'}}
func.func @param_dynamic(%x: tensor<?x4xf32> {nn.input = "x"},
                         %w: tensor<?x4xf32> {nn.param = "w", nn.init = {kind = "zeros"}}) {
  return
}

// -----

// expected-error @+1 {{'nn.param' argument 0 must be a statically shaped f32 tensor, got 'tensor<4xi64>'}}
func.func @param_i64(%w: tensor<4xi64> {nn.param = "w", nn.init = {kind = "zeros"}}) {
  return
}

// -----

// expected-error @+1 {{'nn.buffer' argument 0 must be a statically shaped f32 tensor, got 'tensor<?xf32>'}}
func.func @buffer_dynamic(%m: tensor<?xf32> {nn.buffer = "bn.running_mean", nn.init = {kind = "zeros"}}) {
  return
}

// -----

// expected-error @+1 {{'nn.init' must be a dictionary}}
func.func @init_not_dict(%w: tensor<4xf32> {nn.param = "w", nn.init = "zeros"}) {
  return
}

// -----

// expected-error @+1 {{'nn.init' needs a string 'kind'}}
func.func @init_no_kind(%w: tensor<4xf32> {nn.param = "w", nn.init = {value = 1.0 : f64}}) {
  return
}

// -----

// expected-error @+1 {{unknown initializer kind 'xavier' (expected zeros, ones, constant, uniform or normal)}}
func.func @init_bad_kind(%w: tensor<4xf32> {nn.param = "w", nn.init = {kind = "xavier"}}) {
  return
}

// -----

// expected-error @+1 {{'nn.init' field 'std' must be a float}}
func.func @init_field_not_float(%w: tensor<4xf32> {nn.param = "w", nn.init = {kind = "normal", mean = 0.0 : f64, std = "one"}}) {
  return
}

// -----

// expected-error @+1 {{'nn.frozen' must be a unit attribute}}
func.func @frozen_not_unit(%w: tensor<4xf32> {nn.param = "w", nn.init = {kind = "zeros"}, nn.frozen = true}) {
  return
}

// -----

// expected-error @+1 {{'nn.seed' must be a unit attribute}}
func.func @seed_not_unit(%s: tensor<i64> {nn.seed = 7 : i64}) {
  return
}

// -----

// expected-error @+1 {{unknown result attribute 'nn.input'}}
func.func @unknown_result_attr(%x: tensor<4xf32>) -> (tensor<4xf32> {nn.input = "x"}) {
  return %x : tensor<4xf32>
}

// -----

// expected-error @+1 {{'nn.output' must be a string}}
func.func @output_not_string(%x: tensor<4xf32>) -> (tensor<4xf32> {nn.output}) {
  return %x : tensor<4xf32>
}

// -----

// expected-error @+1 {{'nn.train' must be a dictionary}}
module attributes {nn.train = "adam"} {
}

// -----

// expected-error @+1 {{'nn.train' is only valid on a module}}
func.func @train_on_func() attributes {nn.train = {epochs = 1 : i64}} {
  return
}

// -----

func.func @unknown_op_attr(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{unknown attribute 'nn.fused'}}
  %0 = nn.relu %x {nn.fused} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// expected-error @+1 {{'nn.step' must be a unit attribute}}
func.func @step_not_unit(%t: tensor<f32> {nn.step = 1.0 : f32}) {
  return
}

// -----

// expected-error @+1 {{'nn.target' must be a string naming the value}}
func.func @target_not_string(%y: tensor<?xi64> {nn.target}) {
  return
}

// -----

// expected-error @+1 {{'nn.init' of kind 'uniform' needs a field 'high'}}
func.func @init_missing_field(%x: tensor<2xf32> {nn.param = "w", nn.init = {kind = "uniform", low = -1.0 : f64}}) {
  return
}

// -----

func.func @pad_negative(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{padding amounts must be non-negative}}
  %0 = nn.pad %x {axis = 1 : i64, before = -1 : i64, after = 0 : i64} : tensor<2x3xf32> -> tensor<2x2xf32>
  return
}
