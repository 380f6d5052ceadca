// RUN: kiln-opt %s -split-input-file --kiln-plan-memory | FileCheck %s
// RUN: kiln-opt %s -split-input-file --kiln-plan-memory | kiln-opt | FileCheck %s

// A slot is reused once its tensor is dead: %0 dies at %1, so %2 takes its
// slot; %3 is computed straight into the caller's result 0.
// CHECK-LABEL: func.func @reuse_after_death
// CHECK-SAME: kiln.arena_bytes = array<i64: 0, 512>
// CHECK-SAME: kiln.unplanned_bytes = array<i64: 0, 768>
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 256>}]
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.matmul {{.*}}kiln.storage = [{result = 0 : i64}]
func.func @reuse_after_death(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  %0 = nn.matmul %x, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  %1 = nn.matmul %0, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  %2 = nn.matmul %1, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  %3 = nn.matmul %2, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  return %3 : tensor<4x16xf32>
}

// -----

// An elementwise op writes its result over an operand of the same size
// that dies there; sizes are linear in the batch (64 bytes per sample).
// CHECK-LABEL: func.func @in_place_elementwise
// CHECK-SAME: kiln.arena_bytes = array<i64: 64, 0>
// CHECK-SAME: kiln.unplanned_bytes = array<i64: 128, 0>
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.relu {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
func.func @in_place_elementwise(%x: tensor<?x16xf32>, %w: tensor<16x16xf32>) -> tensor<?x16xf32> {
  %0 = nn.matmul %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %1 = nn.relu %0 : tensor<?x16xf32>
  %2 = nn.matmul %1, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  return %2 : tensor<?x16xf32>
}

// -----

// So does a kernel of elementwise ops whose tensors share one shape (the
// bias is a scalar).
// CHECK-LABEL: func.func @in_place_kernel
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.kernel "add_relu" {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
func.func @in_place_kernel(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>, %b: tensor<f32>) -> tensor<4x16xf32> {
  %0 = nn.matmul %x, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  %1 = nn.kernel "add_relu" (%0, %b : tensor<4x16xf32>, tensor<f32>) -> (tensor<4x16xf32>) {
  ^bb0(%a: tensor<4x16xf32>, %c: tensor<f32>):
    %s = nn.add %a, %c : tensor<4x16xf32>, tensor<f32> -> tensor<4x16xf32>
    %r = nn.relu %s : tensor<4x16xf32>
    nn.yield %r : tensor<4x16xf32>
  }
  %2 = nn.matmul %1, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  return %2 : tensor<4x16xf32>
}

// -----

// No in-place update for an operand that is still read later (%2 does not
// take %1's slot), for a broadcasting op (%4: its operands differ in
// shape), nor for a kernel result whose sibling result reads the same
// operand in its own loop (neither result of "neg_exp" takes %4's slot).
// %3 does take %1's slot: both its operands die there.
// CHECK-LABEL: func.func @no_in_place
// CHECK: nn.relu {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 1024>}]
// CHECK: nn.neg {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.add {{.*}}kiln.storage = [{arena = array<i64: 0, 1024>}]
// CHECK: nn.add {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.kernel "neg_exp" {{.*}}kiln.storage = [{arena = array<i64: 0, 1024>}, {arena = array<i64: 0, 2048>}]
func.func @no_in_place(%x: tensor<16x16xf32>, %v: tensor<16xf32>) -> tensor<16x16xf32> {
  %0 = nn.relu %x : tensor<16x16xf32>
  %1 = nn.matmul %0, %0 : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
  %2 = nn.neg %1 : tensor<16x16xf32>
  %3 = nn.add %1, %2 : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
  %4 = nn.add %3, %v : tensor<16x16xf32>, tensor<16xf32> -> tensor<16x16xf32>
  %5:2 = nn.kernel "neg_exp" (%4 : tensor<16x16xf32>) -> (tensor<16x16xf32>, tensor<16x16xf32>) {
  ^bb0(%a: tensor<16x16xf32>):
    %n = nn.neg %a : tensor<16x16xf32>
    %e = nn.exp %a : tensor<16x16xf32>
    nn.yield %n, %e : tensor<16x16xf32>, tensor<16x16xf32>
  }
  %6 = nn.add %5#0, %5#1 : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
  %7 = nn.matmul %6, %6 : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
  return %7 : tensor<16x16xf32>
}

// -----

// Reshape and unpack results are views of their operand (unpack result j
// after the bytes of results 0..j-1) and keep its slot alive: %3 cannot
// reuse %0's slot while %2#1 is still to be read.
// CHECK-LABEL: func.func @views
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.reshape {{.*}}kiln.storage = [{offset = array<i64: 0, 0>, view = 0 : i64}]
// CHECK: nn.unpack {{.*}}kiln.storage = [{offset = array<i64: 0, 0>, view = 0 : i64}, {offset = array<i64: 0, 64>, view = 0 : i64}]
// CHECK: nn.neg {{.*}}kiln.storage = [{arena = array<i64: 0, 256>}]
// CHECK: nn.neg {{.*}}kiln.storage = [{result = 0 : i64}]
func.func @views(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> (tensor<48xf32>, tensor<4x16xf32>) {
  %0 = nn.matmul %x, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  %1 = nn.reshape %0 : tensor<4x16xf32> -> tensor<64xf32>
  %2:2 = nn.unpack %1 : tensor<64xf32> -> tensor<16xf32>, tensor<48xf32>
  %3 = nn.neg %x : tensor<4x16xf32>
  %4 = nn.neg %2#1 : tensor<48xf32>
  %5 = nn.matmul %3, %w : tensor<4x16xf32>, tensor<16x16xf32> -> tensor<4x16xf32>
  return %4, %5 : tensor<48xf32>, tensor<4x16xf32>
}

// -----

// A pack of consecutive state arguments is a view of the first one: the
// caller keeps state back to back (the step argument in between is not
// state and does not break the run).
// CHECK-LABEL: func.func @pack_state_arguments
// CHECK: nn.pack {{.*}}kiln.storage = [{state_args = 1 : i64}]
func.func @pack_state_arguments(%x: tensor<8xf32> {nn.input = "x"},
                                %w: tensor<2x3xf32> {nn.param = "w"},
                                %t: tensor<f32> {nn.step},
                                %b: tensor<2xf32> {nn.param = "b"})
    -> (tensor<8xf32> {nn.output = "y"}) {
  %p = nn.pack %w, %b : tensor<2x3xf32>, tensor<2xf32> -> tensor<8xf32>
  %y = nn.mul %p, %x : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// The optimizer as kiln-fuse packs it: the gradients are computed inside
// the pack's slot (no copy); parameters and state are views of the state
// arena; the update kernel writes straight into the caller's consecutive
// state results, which the unpack names. The bias gradient is summed with
// keepdim and reshaped: the sum itself is placed, at byte 64.
// CHECK-LABEL: func.func @pack_gradients
// CHECK-SAME: kiln.arena_bytes = array<i64: 0, 128>
// CHECK: nn.matmul {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.reduce_sum {{.*}}kiln.storage = [{arena = array<i64: 0, 64>}]
// CHECK: nn.reshape {{.*}}kiln.storage = [{offset = array<i64: 0, 0>, view = 0 : i64}]
// CHECK: nn.pack %{{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.pack %{{.*}}kiln.storage = [{state_args = 1 : i64}]
// CHECK: nn.pack %{{.*}}kiln.storage = [{state_args = 3 : i64}]
// CHECK: nn.kernel "sgd_momentum" {{.*}}kiln.storage = [{state_results = 1 : i64}, {state_results = 3 : i64}]
// CHECK: nn.unpack {{.*}}kiln.storage = [{result = 1 : i64}, {result = 2 : i64}]
// CHECK: nn.unpack {{.*}}kiln.storage = [{result = 3 : i64}, {result = 4 : i64}]
func.func @pack_gradients(%x: tensor<4x8xf32> {nn.input = "x"},
                          %w: tensor<2x8xf32> {nn.param = "w"},
                          %b: tensor<2xf32> {nn.param = "b"},
                          %mw: tensor<2x8xf32> {nn.opt_state = "w.momentum_buffer"},
                          %mb: tensor<2xf32> {nn.opt_state = "b.momentum_buffer"},
                          %g: tensor<4x2xf32> {nn.target = "g"})
    -> (tensor<f32> {nn.output = "loss"},
        tensor<2x8xf32> {nn.param = "w"}, tensor<2xf32> {nn.param = "b"},
        tensor<2x8xf32> {nn.opt_state = "w.momentum_buffer"},
        tensor<2xf32> {nn.opt_state = "b.momentum_buffer"}) {
  %gw = nn.matmul %g, %x {transpose_a} : tensor<4x2xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
  %gk = nn.reduce_sum %g {axes = array<i64: 0>, keepdim} : tensor<4x2xf32> -> tensor<1x2xf32>
  %gb = nn.reshape %gk : tensor<1x2xf32> -> tensor<2xf32>
  %loss = nn.reduce_sum %gb {axes = array<i64: 0>} : tensor<2xf32> -> tensor<f32>
  %grads = nn.pack %gw, %gb : tensor<2x8xf32>, tensor<2xf32> -> tensor<18xf32>
  %params = nn.pack %w, %b : tensor<2x8xf32>, tensor<2xf32> -> tensor<18xf32>
  %moms = nn.pack %mw, %mb : tensor<2x8xf32>, tensor<2xf32> -> tensor<18xf32>
  %new:2 = nn.kernel "sgd_momentum" (%grads, %params, %moms : tensor<18xf32>, tensor<18xf32>, tensor<18xf32>) -> (tensor<18xf32>, tensor<18xf32>) {
  ^bb0(%gg: tensor<18xf32>, %pp: tensor<18xf32>, %mm: tensor<18xf32>):
    %m2 = nn.add %mm, %gg : tensor<18xf32>, tensor<18xf32> -> tensor<18xf32>
    %p2 = nn.sub %pp, %m2 : tensor<18xf32>, tensor<18xf32> -> tensor<18xf32>
    nn.yield %p2, %m2 : tensor<18xf32>, tensor<18xf32>
  }
  %w2, %b2 = nn.unpack %new#0 : tensor<18xf32> -> tensor<2x8xf32>, tensor<2xf32>
  %mw2, %mb2 = nn.unpack %new#1 : tensor<18xf32> -> tensor<2x8xf32>, tensor<2xf32>
  return %loss, %w2, %b2, %mw2, %mb2 : tensor<f32>, tensor<2x8xf32>, tensor<2xf32>, tensor<2x8xf32>, tensor<2xf32>
}

// -----

// Operands that cannot be placed are copied into the pack's slot: state
// arguments out of order, an input, a kernel result the caller receives
// (it lives in the caller's array), and one whose offset in the pack (48)
// is not a multiple of 64 bytes (kernels assume aligned buffers).
// CHECK-LABEL: func.func @pack_copies
// CHECK: nn.neg {{.*}}kiln.storage = [{result = 1 : i64}]
// CHECK: nn.exp {{.*}}kiln.storage = [{arena = array<i64: 0, 0>}]
// CHECK: nn.pack {{.*}}kiln.storage = [{arena = array<i64: 0, 64>, copy = array<i64: 0, 1, 2, 3, 4>}]
func.func @pack_copies(%x: tensor<2xf32> {nn.input = "x"},
                       %w: tensor<2x3xf32> {nn.param = "w"},
                       %b: tensor<2xf32> {nn.param = "b"})
    -> (tensor<14xf32> {nn.output = "y"}, tensor<2xf32> {nn.output = "n"}) {
  %n = nn.neg %x : tensor<2xf32>
  %e = nn.exp %x : tensor<2xf32>
  %p = nn.pack %b, %w, %x, %n, %e : tensor<2xf32>, tensor<2x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32> -> tensor<14xf32>
  %y = nn.mul %p, %p : tensor<14xf32>, tensor<14xf32> -> tensor<14xf32>
  return %y, %n : tensor<14xf32>, tensor<2xf32>
}
