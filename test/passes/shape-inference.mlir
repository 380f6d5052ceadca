// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-shape-inference=batch=64 | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-shape-inference | FileCheck %s --check-prefix=PLAIN
// RUN: not kiln-opt %s -split-input-file --kiln-shape-inference=batch=-1 2>&1 | FileCheck %s --check-prefix=NEG

// NEG: error: kiln-shape-inference: batch must be >= 0

// An MLP: batch=64 fixes dimension 0 of the input and the target, and every
// op after them and the signature become static. Without the option the
// batch stays `?`. The seed and the parameters keep their types.
// CHECK-LABEL: func.func @mlp
// CHECK-SAME: (%[[X:.+]]: tensor<64x784xf32> {nn.input = "x"}, %[[Y:.+]]: tensor<64xi64> {nn.target = "y"}, %[[S:.+]]: tensor<i64> {nn.seed}, %[[W1:.+]]: tensor<128x784xf32> {nn.init = {kind = "zeros"}, nn.param = "fc1.weight"}, %[[B1:.+]]: tensor<128xf32> {nn.init = {kind = "zeros"}, nn.param = "fc1.bias"}, %[[W2:.+]]: tensor<10x128xf32> {nn.init = {kind = "zeros"}, nn.param = "fc2.weight"})
// CHECK-SAME: -> (tensor<f32> {nn.output = "loss"}, tensor<64xi64> {nn.output = "predict"})
// CHECK: %[[H:.+]] = nn.matmul %[[X]], %[[W1]] {transpose_b} : tensor<64x784xf32>, tensor<128x784xf32> -> tensor<64x128xf32>
// CHECK: %[[HB:.+]] = nn.add %[[H]], %[[B1]] : tensor<64x128xf32>, tensor<128xf32> -> tensor<64x128xf32>
// CHECK: %[[R:.+]] = nn.relu %[[HB]] : tensor<64x128xf32>
// CHECK: %[[D:.+]] = nn.dropout %[[R]], %[[S]] {p = 5.000000e-01 : f64, stream = 0 : i64} : tensor<64x128xf32>, tensor<i64>
// CHECK: %[[L:.+]] = nn.matmul %[[D]], %[[W2]] {transpose_b} : tensor<64x128xf32>, tensor<10x128xf32> -> tensor<64x10xf32>
// CHECK: %[[LOSS:.+]] = nn.cross_entropy %[[L]], %[[Y]] : tensor<64x10xf32>, tensor<64xi64>
// CHECK: %[[P:.+]] = nn.argmax %[[L]] {axis = 1 : i64} : tensor<64x10xf32> -> tensor<64xi64>
// CHECK: return %[[LOSS]], %[[P]] : tensor<f32>, tensor<64xi64>
// PLAIN-LABEL: func.func @mlp
// PLAIN-SAME: (%{{.+}}: tensor<?x784xf32> {nn.input = "x"}, %{{.+}}: tensor<?xi64> {nn.target = "y"},
// PLAIN-SAME: -> (tensor<f32> {nn.output = "loss"}, tensor<?xi64> {nn.output = "predict"})
// PLAIN: nn.argmax %{{.+}} {axis = 1 : i64} : tensor<?x10xf32> -> tensor<?xi64>
func.func @mlp(%x: tensor<?x784xf32> {nn.input = "x"}, %y: tensor<?xi64> {nn.target = "y"},
               %s: tensor<i64> {nn.seed},
               %w1: tensor<128x784xf32> {nn.param = "fc1.weight", nn.init = {kind = "zeros"}},
               %b1: tensor<128xf32> {nn.param = "fc1.bias", nn.init = {kind = "zeros"}},
               %w2: tensor<10x128xf32> {nn.param = "fc2.weight", nn.init = {kind = "zeros"}})
    -> (tensor<f32> {nn.output = "loss"}, tensor<?xi64> {nn.output = "predict"}) {
  %0 = nn.matmul %x, %w1 {transpose_b} : tensor<?x784xf32>, tensor<128x784xf32> -> tensor<?x128xf32>
  %1 = nn.add %0, %b1 : tensor<?x128xf32>, tensor<128xf32> -> tensor<?x128xf32>
  %2 = nn.relu %1 : tensor<?x128xf32>
  %3 = nn.dropout %2, %s {p = 5.000000e-01 : f64, stream = 0 : i64} : tensor<?x128xf32>, tensor<i64>
  %4 = nn.matmul %3, %w2 {transpose_b} : tensor<?x128xf32>, tensor<10x128xf32> -> tensor<?x10xf32>
  %5 = nn.cross_entropy %4, %y : tensor<?x10xf32>, tensor<?xi64>
  %6 = nn.argmax %4 {axis = 1 : i64} : tensor<?x10xf32> -> tensor<?xi64>
  return %5, %6 : tensor<f32>, tensor<?xi64>
}

// -----

// A flatten: the reshape's `?` result dimension 0 is filled in from the
// operand's element count once the batch is fixed; layer_norm follows it.
// CHECK-LABEL: func.func @flatten
// CHECK-SAME: -> tensor<64x12xf32>
// CHECK: %[[F:.+]] = nn.reshape %{{.+}} : tensor<64x3x4xf32> -> tensor<64x12xf32>
// CHECK: %[[N:.+]] = nn.layer_norm %[[F]], %{{.+}}, %{{.+}} : tensor<64x12xf32>, tensor<12xf32>
// CHECK: return %[[N]] : tensor<64x12xf32>
// PLAIN-LABEL: func.func @flatten
// PLAIN: nn.reshape %{{.+}} : tensor<?x3x4xf32> -> tensor<?x12xf32>
func.func @flatten(%x: tensor<?x3x4xf32> {nn.input = "x"}, %g: tensor<12xf32>, %b: tensor<12xf32>)
    -> tensor<?x12xf32> {
  %0 = nn.reshape %x : tensor<?x3x4xf32> -> tensor<?x12xf32>
  %1 = nn.layer_norm %0, %g, %b : tensor<?x12xf32>, tensor<12xf32>
  return %1 : tensor<?x12xf32>
}

// -----

// A LeNet-style block: conv, batch norm, pool, flatten, linear.
// CHECK-LABEL: func.func @conv_pool
// CHECK-SAME: (%[[X:.+]]: tensor<64x1x28x28xf32> {nn.input = "x"},
// CHECK-SAME: -> tensor<64x10xf32>
// CHECK: %[[C:.+]] = nn.conv2d %[[X]], %{{.+}} {dilation = array<i64: 1, 1>, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<64x1x28x28xf32>, tensor<6x1x5x5xf32> -> tensor<64x6x24x24xf32>
// CHECK: %[[BN:.+]], %[[BNM:.+]], %[[BNV:.+]] = nn.batch_norm %[[C]], {{.+}} : tensor<64x6x24x24xf32>, tensor<6xf32>
// CHECK: %[[P:.+]] = nn.max_pool2d %[[BN]] {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<64x6x24x24xf32> -> tensor<64x6x12x12xf32>
// CHECK: %[[F:.+]] = nn.reshape %[[P]] : tensor<64x6x12x12xf32> -> tensor<64x864xf32>
// CHECK: %[[L:.+]] = nn.matmul %[[F]], %{{.+}} {transpose_b} : tensor<64x864xf32>, tensor<10x864xf32> -> tensor<64x10xf32>
// CHECK: return %[[L]] : tensor<64x10xf32>
// PLAIN-LABEL: func.func @conv_pool
// PLAIN: nn.max_pool2d {{.+}} : tensor<?x6x24x24xf32> -> tensor<?x6x12x12xf32>
func.func @conv_pool(%x: tensor<?x1x28x28xf32> {nn.input = "x"}, %w: tensor<6x1x5x5xf32>,
                     %g: tensor<6xf32>, %fc: tensor<10x864xf32>) -> tensor<?x10xf32> {
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32> -> tensor<?x6x24x24xf32>
  %1:3 = nn.batch_norm %0, %g, %g, %g, %g : tensor<?x6x24x24xf32>, tensor<6xf32>
  %2 = nn.max_pool2d %1#0 {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x6x24x24xf32> -> tensor<?x6x12x12xf32>
  %3 = nn.reshape %2 : tensor<?x6x12x12xf32> -> tensor<?x864xf32>
  %4 = nn.matmul %3, %fc {transpose_b} : tensor<?x864xf32>, tensor<10x864xf32> -> tensor<?x10xf32>
  return %4 : tensor<?x10xf32>
}

// -----

// Only nn.input / nn.target arguments get the batch size; a `?` elsewhere
// stays, and broadcasting 64 against it gives 64.
// CHECK-LABEL: func.func @only_inputs
// CHECK-SAME: (%[[X:.+]]: tensor<64x4xf32> {nn.input = "x"}, %[[H:.+]]: tensor<?x4xf32>) -> tensor<64x4xf32>
// CHECK: nn.add %[[X]], %[[H]] : tensor<64x4xf32>, tensor<?x4xf32> -> tensor<64x4xf32>
func.func @only_inputs(%x: tensor<?x4xf32> {nn.input = "x"}, %h: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = nn.add %x, %h : tensor<?x4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Without a batch size, result types written less precisely than the rule
// (`?` for a known dimension) are refined, and the change flows on through
// relu and matmul into the signature.
// CHECK-LABEL: func.func @refine
// CHECK-SAME: -> tensor<3x8xf32>
// CHECK: %[[A:.+]] = nn.add %{{.+}}, %{{.+}} : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>
// CHECK: %[[R:.+]] = nn.relu %[[A]] : tensor<3x4xf32>
// CHECK: %[[M:.+]] = nn.matmul %[[R]], %{{.+}} : tensor<3x4xf32>, tensor<4x8xf32> -> tensor<3x8xf32>
// CHECK: return %[[M]] : tensor<3x8xf32>
// PLAIN-LABEL: func.func @refine
// PLAIN-SAME: -> tensor<3x8xf32>
// PLAIN: %[[A:.+]] = nn.add %{{.+}}, %{{.+}} : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>
// PLAIN: %[[R:.+]] = nn.relu %[[A]] : tensor<3x4xf32>
// PLAIN: %[[M:.+]] = nn.matmul %[[R]], %{{.+}} : tensor<3x4xf32>, tensor<4x8xf32> -> tensor<3x8xf32>
// PLAIN: return %[[M]] : tensor<3x8xf32>
func.func @refine(%a: tensor<3x4xf32>, %b: tensor<4xf32>, %w: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %0 = nn.add %a, %b : tensor<3x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %1 = nn.relu %0 : tensor<?x4xf32>
  %2 = nn.matmul %1, %w : tensor<?x4xf32>, tensor<4x8xf32> -> tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}

// -----

// A written result type that contradicts the rule for the written operand
// types is caught by the verifier at parse time, before the pass runs.
func.func @verifier_first(%a: tensor<3x4xf32>, %w: tensor<4x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+2 {{'nn.matmul' op inferred type(s) 'tensor<3x8xf32>' are incompatible with return type(s) of operation 'tensor<5x8xf32>'}}
  // expected-error @+1 {{'nn.matmul' op failed to infer returned types}}
  %0 = nn.matmul %a, %w : tensor<3x4xf32>, tensor<4x8xf32> -> tensor<5x8xf32>
  return %0 : tensor<5x8xf32>
}

// -----

// The verifier accepts 5 against `?`; once the pass refines the operand to 3
// rows, the written 5 contradicts the rule and the pass fails.
func.func @contradiction(%a: tensor<3x4xf32>, %b: tensor<4xf32>, %w: tensor<4x8xf32>) -> tensor<5x8xf32> {
  %0 = nn.add %a, %b : tensor<3x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // expected-error @+1 {{'nn.matmul' op result types contradict the shape rule: expected 'tensor<3x8xf32>', got 'tensor<5x8xf32>'}}
  %1 = nn.matmul %0, %w : tensor<?x4xf32>, tensor<4x8xf32> -> tensor<5x8xf32>
  return %1 : tensor<5x8xf32>
}

// -----

// A shape rule that fails on refined operands reports its own message.
func.func @rule_fails(%a: tensor<3x4xf32>, %b: tensor<4xf32>, %c: tensor<5x4xf32>) -> tensor<?x4xf32> {
  %0 = nn.add %a, %b : tensor<3x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // expected-error @+1 {{cannot broadcast tensor<3x4xf32> with tensor<5x4xf32>: dimension 0 is 3 vs 5}}
  %1 = nn.mul %0, %c : tensor<?x4xf32>, tensor<5x4xf32> -> tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}
