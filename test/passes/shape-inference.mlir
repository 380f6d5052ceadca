// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-shape-inference=batch=64 | FileCheck %s --check-prefix=BATCH
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-shape-inference | FileCheck %s --check-prefix=KEEP

// With batch=64 the batch dimension of inputs and targets becomes static and
// flows through every op and into the signature; without it, types stay.
// BATCH-LABEL: func.func @mlp
// BATCH-SAME: (%[[X:.+]]: tensor<64x784xf32> {nn.input = "x"}, %[[Y:.+]]: tensor<64xi64> {nn.target = "y"}, %[[W:.+]]: tensor<10x784xf32> {{.*}}) -> (tensor<f32>, tensor<64xi64>)
// BATCH: nn.matmul %[[X]], %[[W]] {transpose_b} : tensor<64x784xf32>, tensor<10x784xf32> -> tensor<64x10xf32>
// BATCH: nn.relu %{{.+}} : tensor<64x10xf32>
// BATCH: nn.cross_entropy %{{.+}}, %[[Y]] : tensor<64x10xf32>, tensor<64xi64>
// BATCH: nn.argmax {{.*}} -> tensor<64xi64>
// KEEP-LABEL: func.func @mlp
// KEEP-SAME: tensor<?x784xf32>
// KEEP: nn.relu %{{.+}} : tensor<?x10xf32>
func.func @mlp(%x: tensor<?x784xf32> {nn.input = "x"}, %y: tensor<?xi64> {nn.target = "y"},
               %w: tensor<10x784xf32> {nn.param = "w", nn.init = {kind = "zeros"}}) -> (tensor<f32>, tensor<?xi64>) {
  %0 = nn.matmul %x, %w {transpose_b} : tensor<?x784xf32>, tensor<10x784xf32> -> tensor<?x10xf32>
  %1 = nn.relu %0 : tensor<?x10xf32>
  %2 = nn.cross_entropy %1, %y : tensor<?x10xf32>, tensor<?xi64>
  %3 = nn.argmax %1 {axis = 1 : i64} : tensor<?x10xf32> -> tensor<?xi64>
  return %2, %3 : tensor<f32>, tensor<?xi64>
}

// -----

// Convolution, pooling and the flattening reshape: reshape's dimension 0 is
// filled in from the element count.
// BATCH-LABEL: func.func @cnn
// BATCH: nn.conv2d {{.*}} -> tensor<64x4x6x6xf32>
// BATCH: nn.max_pool2d {{.*}} -> tensor<64x4x3x3xf32>
// BATCH: nn.reshape %{{.+}} : tensor<64x4x3x3xf32> -> tensor<64x36xf32>
// BATCH: return %{{.+}} : tensor<64x36xf32>
func.func @cnn(%x: tensor<?x1x8x8xf32> {nn.input = "x"}, %w: tensor<4x1x3x3xf32> {nn.param = "w", nn.init = {kind = "zeros"}}) -> tensor<?x36xf32> {
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32> -> tensor<?x4x6x6xf32>
  %1 = nn.max_pool2d %0 {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x4x6x6xf32> -> tensor<?x4x3x3xf32>
  %2 = nn.reshape %1 : tensor<?x4x3x3xf32> -> tensor<?x36xf32>
  return %2 : tensor<?x36xf32>
}

// -----

// Without the batch option, result types written less precisely than the
// rule knows are refined ("?" where the operands are static).
// KEEP-LABEL: func.func @refine
// KEEP-SAME: -> tensor<8x3xf32>
// KEEP: nn.add {{.*}} -> tensor<8x3xf32>
// KEEP: nn.tanh %{{.+}} : tensor<8x3xf32>
func.func @refine(%a: tensor<8x3xf32>, %b: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = nn.add %a, %b : tensor<8x3xf32>, tensor<3xf32> -> tensor<?x3xf32>
  %1 = nn.tanh %0 : tensor<?x3xf32>
  return %1 : tensor<?x3xf32>
}

// -----

// Arguments without nn.input/nn.target keep their dynamic dimension.
// BATCH-LABEL: func.func @untagged
// BATCH-SAME: (%{{.+}}: tensor<?x3xf32>) -> tensor<?x3xf32>
func.func @untagged(%a: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = nn.relu %a : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
