// kiln-run's errors: bad input files, run-time shapes that do not fit an op,
// ops without reference semantics. Each names the file or the op and its
// location; none crashes.
// RUN: python3 %S/Inputs/safetensors.py write %t.ok.safetensors \
// RUN:   x=F32:2x3:1,2,3,4,5,6 t=I64:3:0,1,2
// RUN: not %kiln-run %s --function=loss --inputs=%t.ok.safetensors 2>&1 \
// RUN:   | FileCheck %s --check-prefix=SHAPE
// SHAPE: errors.mlir:[[@LINE+17]]:8: error: 'nn.cross_entropy' op expects logits [N, C] and targets [N], got [2x3] and [3]

// RUN: not %kiln-run %s --function=call --inputs=%t.ok.safetensors 2>&1 \
// RUN:   | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: errors.mlir:[[@LINE+18]]:8: error: 'func.call' op has no reference semantics in kiln-run's evaluator

// RUN: python3 %S/Inputs/safetensors.py write %t.missing.safetensors x=F32:2x3:1,2,3,4,5,6
// RUN: not %kiln-run %s --function=loss --inputs=%t.missing.safetensors 2>&1 \
// RUN:   | FileCheck %s --check-prefix=MISSING
// MISSING: error: {{.*}}missing.safetensors has no tensor 't' for argument 1 of @loss

// RUN: python3 %S/Inputs/safetensors.py raw %t.short.safetensors 0102
// RUN: not %kiln-run %s --function=loss --inputs=%t.short.safetensors 2>&1 \
// RUN:   | FileCheck %s --check-prefix=SHORT
// SHORT: kiln-run: {{.*}}short.safetensors: truncated: 2 bytes, too short for the 8-byte header length

func.func @loss(%x: tensor<?x3xf32> {nn.input = "x"}, %t: tensor<?xi64> {nn.target = "t"}) -> tensor<f32> {
  %l = nn.cross_entropy %x, %t : tensor<?x3xf32>, tensor<?xi64>
  return %l : tensor<f32>
}

func.func @call(%x: tensor<?x3xf32> {nn.input = "x"}) -> tensor<?x3xf32> {
  %y = func.call @id(%x) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

func.func @id(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  return %x : tensor<?x3xf32>
}
