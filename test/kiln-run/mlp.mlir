// A two-layer MLP forward, checked against numbers computed by hand.
// RUN: python3 %S/Inputs/safetensors.py write %t.in.safetensors \
// RUN:   x=F32:2x3:1,2,0,0,-1,1 t=I64:2:1,0 \
// RUN:   w1=F32:4x3:1,0,0,0,1,0,0,0,1,1,1,1 b1=F32:4:0,0,-1,0 \
// RUN:   w2=F32:2x4:1,0,0,0,0,0,0,1 b2=F64:2:0,0
// RUN: %kiln-run %s --function=forward --inputs=%t.in.safetensors \
// RUN:   --outputs=%t.out.safetensors | FileCheck %s
// RUN: python3 %S/Inputs/safetensors.py dump %t.out.safetensors \
// RUN:   | FileCheck %s --check-prefix=FILE
// RUN: %kiln-run %s --function=forward --inputs=%t.in.safetensors \
// RUN:   --precision=f32 --outputs=%t.f32.safetensors | FileCheck %s --check-prefix=F32
// RUN: python3 %S/Inputs/safetensors.py dump %t.f32.safetensors \
// RUN:   | FileCheck %s --check-prefix=F32FILE
//
// h = relu(x w1^T + b1) = [[1, 2, 0, 3], [0, 0, 0, 0]]
// logits = h w2^T + b2 = [[1, 3], [0, 0]]
// loss = mean(logsumexp(1, 3) - 3, logsumexp(0, 0) - 0)
//      = (log1p(e^-2) + log 2) / 2 = (0.126928011 + 0.693147181) / 2

// CHECK: loss [] sum=0.410037596 values: 0.410037596
// CHECK-NEXT: logits [2x2] sum=4 values: 1 3 0 0
// CHECK-NEXT: predict [2] sum=1 values: 1 0

// FILE: logits F64 [2x2] 1 3 0 0
// FILE-NEXT: loss F64 [] 0.410037596
// FILE-NEXT: predict I64 [2] 1 0

// F32: loss [] sum=0.410037{{[0-9]*}} values: 0.410037
// F32FILE: loss F32 [] 0.410037

func.func @forward(%x: tensor<?x3xf32> {nn.input = "x"},
                   %t: tensor<?xi64> {nn.target = "t"},
                   %w1: tensor<4x3xf32> {nn.param = "w1"},
                   %b1: tensor<4xf32> {nn.param = "b1"},
                   %w2: tensor<2x4xf32> {nn.param = "w2"},
                   %b2: tensor<2xf32> {nn.param = "b2"})
    -> (tensor<f32> {nn.output = "loss"}, tensor<?x2xf32> {nn.output = "logits"},
        tensor<?xi64> {nn.output = "predict"}) {
  %0 = nn.matmul %x, %w1 {transpose_b} : tensor<?x3xf32>, tensor<4x3xf32> -> tensor<?x4xf32>
  %1 = nn.add %0, %b1 : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %h = nn.relu %1 : tensor<?x4xf32>
  %2 = nn.matmul %h, %w2 {transpose_b} : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  %logits = nn.add %2, %b2 : tensor<?x2xf32>, tensor<2xf32> -> tensor<?x2xf32>
  %loss = nn.cross_entropy %logits, %t : tensor<?x2xf32>, tensor<?xi64>
  %predict = nn.argmax %logits {axis = 1 : i64} : tensor<?x2xf32> -> tensor<?xi64>
  return %loss, %logits, %predict : tensor<f32>, tensor<?x2xf32>, tensor<?xi64>
}
