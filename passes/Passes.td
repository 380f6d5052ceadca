//===- Passes.td - kiln passes ---------------------------------*- tablegen -*-===//
//
// Part of kiln. Every kiln pass is declared here; each has one name used for
// its file (passes/<Name>.cpp), its flag (kiln-<name>, also its DEBUG_TYPE)
// and its test (test/passes/<name>.mlir). Pipelines are in Pipelines.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

def ShapeInference : Pass<"kiln-shape-inference", "mlir::ModuleOp"> {
  let summary = "Propagate static shapes through nn ops, optionally fixing "
                "the batch size";
  let description = [{
    Re-derives every nn op's result type from its operands with the op's shape
    rule and refines result and function types where the rule knows more
    (a `?` that becomes a number). With `batch=N`, the dynamic dimension 0 of
    every `nn.input` / `nn.target` argument first becomes N, which makes the
    whole function static; codegen specializes kernels this way.

    Before (`batch=64`):
    ```mlir
    func.func @forward(%x: tensor<?x4xf32> {nn.input = "x"}) -> tensor<?x4xf32> {
      %0 = nn.relu %x : tensor<?x4xf32>
      return %0 : tensor<?x4xf32>
    }
    ```
    After:
    ```mlir
    func.func @forward(%x: tensor<64x4xf32> {nn.input = "x"}) -> tensor<64x4xf32> {
      %0 = nn.relu %x : tensor<64x4xf32>
      return %0 : tensor<64x4xf32>
    }
    ```
    A result type that contradicts its shape rule is an error. Only
    `func.func` bodies with a single block are handled; calls between
    functions are not followed.
  }];
  let options = [
    Option<"batch", "batch", "int64_t", /*default=*/"0",
           "Fix the dynamic batch dimension of inputs to this size (0 keeps "
           "it dynamic)">,
  ];
  let statistics = [
    Statistic<"numRefined", "num-refined", "Number of result types refined">,
  ];
}

def Autodiff : Pass<"kiln-autodiff", "mlir::ModuleOp"> {
  let summary = "Build @train_step (forward + reverse-mode gradients) and "
                "@eval_step from @forward";
  let description = [{
    Clones `@forward` into `@train_step` and appends the reverse sweep: each
    op's gradient rule (GradientOpInterface) is applied in reverse order and
    gradients of values with several uses are summed. Only active values
    get gradients: those depending on a trainable parameter (an `nn.param`
    argument without `nn.frozen`) that the loss depends on, so frozen layers
    are pruned. `@train_step` returns what `@forward` did plus the gradient
    of every trainable parameter, tagged `nn.grad = "<name>"`. `@eval_step`
    is `@forward` in inference mode: dropout removed, batch norm on running
    statistics, no buffer updates.

    Before:
    ```mlir
    func.func @forward(%x: tensor<?x4xf32> {nn.input = "x"},
                       %w: tensor<4xf32> {nn.param = "w", ...}) -> (tensor<f32> {nn.output = "loss"}) {
      %0 = nn.mul %x, %w : ...
      %1 = nn.reduce_mean %0 {axes = array<i64: 0, 1>} : ...
      return %1 : tensor<f32>
    }
    ```
    After (train_step):
    ```mlir
      %g = nn.reduce_mean_grad %one, %0 ...
      %gw = nn.mul %g, %x ...     // then summed over the batch
      return %1, %gw : tensor<f32>, tensor<4xf32>   // {nn.grad = "w"}
    ```
    A loss that depends on no trainable parameter, and an op on the path
    from a parameter to the loss without a gradient rule, are errors at their
    source locations. Concat or slice along the dynamic batch dimension has
    no gradient.
  }];
}

def LowerOptimizer : Pass<"kiln-lower-optimizer", "mlir::ModuleOp"> {
  let summary = "Turn @train_step's gradients into parameter updates";
  let description = [{
    Reads `nn.train` (optimizer, schedule, clip_grad_norm) and replaces each
    `nn.grad` result of `@train_step` by the updated parameter and the
    updated optimizer state, computed with nn ops following PyTorch's
    formulas: SGD (momentum, dampening, nesterov, L2 weight decay), Adam (L2
    weight decay), AdamW (decoupled), clip_grad_norm_, and StepLR /
    CosineAnnealingLR / linear warm-up as functions of the step number.
    Adds the argument `%t: tensor<f32> {nn.step}` (1-based) and one argument
    per state tensor, `{nn.opt_state = "fc1.weight.exp_avg"}` (PyTorch's
    state names), initialized to zeros by the runtime.

    Before: `return %loss, %gw : ... {nn.grad = "w"}`
    After (SGD, lr 0.1): `%u = nn.mul %lr, %gw; %w2 = nn.sub %w, %u;
    return %loss, %w2 : ... {nn.param = "w"}`
  }];
}

def Layout : Pass<"kiln-layout", "mlir::ModuleOp"> {
  let summary = "Store GEMM weights in the layout the CPU GEMM wants";
  let description = [{
    Chooses for each parameter of @train_step / @eval_step the layout its
    kernels want (Layout.cpp's `storedPermutation`: a rank-2 weight that a
    matmul reads as its transposed B operand is stored transposed, since
    the CPU GEMM reads a plain B in place but repacks a transposed one on
    every call). The parameter's arguments, its optimizer state and the
    matching results take the permuted type and `nn.layout`, the
    permutation back to PyTorch's layout (docs/ir.md); both functions agree
    on it. A transpose back to the canonical value is inserted at the top
    and one into the stored layout before the return, then propagated by
    patterns: a transpose of a matmul operand flips its transpose_a/b flag,
    a transpose of a matmul swaps its operands ((AB)^T = B^T A^T), a
    transpose of an elementwise op moves onto its operands, and
    transpose(transpose(x)) composes and vanishes. Values are unchanged;
    the runtime permutes state on checkpoint load and save.

    Before:
    ```mlir
    func.func @eval_step(%x: tensor<?x4xf32>, %w: tensor<8x4xf32> {nn.param = "fc.weight"}) ...
      %0 = nn.matmul %x, %w {transpose_b} : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
    ```
    After:
    ```mlir
    func.func @eval_step(%x: tensor<?x4xf32>, %w: tensor<4x8xf32> {nn.layout = array<i64: 1, 0>, nn.param = "fc.weight"}) ...
      %0 = nn.matmul %x, %w : tensor<?x4xf32>, tensor<4x8xf32> -> tensor<?x8xf32>
    ```
    Limits: only rank-2 GEMM weights move; a transpose stays where a value
    is needed in both layouts (a weight also read by a reduction, a
    gradient also clipped) or meets a broadcasting op, reshape or
    reduction. Convolution weights and activations keep NCHW/OIHW (NHWC
    or channel-blocked convolution layouts are not chosen yet). The
    gradient of a moved weight becomes `x^T g` and the input gradient
    `g W^T` in the stored layout, so the backward pass has one transposed
    B operand per layer instead of the forward pass.
  }];
  let statistics = [
    Statistic<"numRelaid", "num-relaid",
              "Number of arguments stored in another layout">,
    Statistic<"numTransposesLeft", "num-transposes-left",
              "Number of nn.transpose ops left after propagation">,
  ];
}

def Fuse : Pass<"kiln-fuse", "mlir::ModuleOp"> {
  let summary = "Group ops into nn.kernel regions, one kernel each";
  let description = [{
    The roles and limits come from passes/FusionPolicy.h. Vertical fusion,
    greedily in program order: a GEMM or convolution (anchor) starts a
    group; an elementwise op or a stage (reduction, loss, pooling) joins
    the groups of its operands' producers, merging the groups it connects,
    unless that would put two anchors in one kernel, exceed the policy's
    limits, or leave a value of the group used before the group's last op
    (the kernel could not be placed there; this also rules out cycles). An
    elementwise op joins only a kernel computing an operand of its own
    result type (it never widens a value). Each group of two or more ops
    becomes one `nn.kernel` at the place of its last op, with the values
    used outside it as results. Scalar constants and scalars computed from
    scalars (learning rate, bias corrections) are copied into every kernel
    that reads them instead of being kernels of their own.

    Horizontal fusion: kernels of elementwise ops that compute the same
    function of tensors of different shapes, with the same scalar inputs,
    and whose results are only returned (the optimizer update of each
    parameter) become one kernel over the `nn.pack` of their operands,
    its results `nn.unpack`ed. With kiln-plan-memory the packs are views
    of the trainer's state arena and of the gradients computed into place.

    Before:
    ```mlir
    %0 = nn.matmul %x, %w {transpose_b} : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
    %1 = nn.add %0, %b : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
    %2 = nn.relu %1 : tensor<?x8xf32>
    ```
    After:
    ```mlir
    %2 = nn.kernel "matmul_add_relu" (%x, %w, %b : ...) -> (tensor<?x8xf32>) {
    ^bb0(%a: tensor<?x4xf32>, %c: tensor<8x4xf32>, %d: tensor<8xf32>):
      %0 = nn.matmul %a, %c {transpose_b} : ...
      %1 = nn.add %0, %d : ...
      %2 = nn.relu %1 : tensor<?x8xf32>
      nn.yield %2 : tensor<?x8xf32>
    }
    ```
    Codegen computes the add and relu in the GEMM's register tiles (the
    epilogue); a softmax cross-entropy, its gradient and the bias gradient
    of the last layer become stages of that layer's kernel.
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Emit a remark for each kernel (its ops, with their locations) "
           "and for each op that did not join its producer's "
           "kernel, with the rule that stopped it">,
  ];
  let statistics = [
    Statistic<"numKernels", "num-kernels", "Number of nn.kernel ops built">,
    Statistic<"numMerged", "num-merged",
              "Number of kernels merged into a sibling over packed operands">,
    Statistic<"numFused", "num-fused", "Number of ops moved into kernels">,
  ];
}

def PlanMemory : Pass<"kiln-plan-memory", "mlir::ModuleOp"> {
  let summary = "Decide where every tensor of each function lives: arena "
                "slots, views, in-place updates, the caller's arrays";
  let description = [{
    Plans every function (codegen needs @train_step and @eval_step) and
    records the plan as attributes (docs/ir.md, "Memory plan"); no op
    changes. Each op gets `kiln.storage`, one dictionary per result:

    - a kernel result the caller receives is computed into its array
      (`result = k`); one that an `nn.unpack` splits into values returned
      as consecutive state results is computed into the first of them
      (`state_results = k`), the state arena contract of runtime/Model.h
      guaranteeing that the rest follow;
    - `nn.reshape` and `nn.unpack` results are views of their operand
      (`view = 0, offset`); an `nn.pack` of consecutive state arguments is
      a view of the first (`state_args = n`);
    - every other kernel result, and every other pack, gets an arena slot
      (`arena = array<i64: perBatch, fixed>`, bytes linear in the batch B).
      Slots are first fit in program order and reused once every value in
      them (views included) is dead. A pointwise kernel (elementwise ops
      over one shape, scalars aside) writes a result over an operand of the
      same size that dies there. A pack's operands that are kernel results
      (or reshapes of one) packed nowhere else, at an offset in the pack
      that keeps them 64-byte aligned, are computed inside the pack's slot,
      which lives from the first of them on; the others are copied in
      (`copy = array<i64: operand indices>`).

    Functions get `kiln.arena_bytes` (the planned arena) and
    `kiln.unplanned_bytes` (one slot per arena tensor, for comparison).

    Before:
    ```mlir
    %0 = nn.matmul %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %1 = nn.relu %0 : tensor<?x16xf32>
    ```
    After (each op's `kiln.storage` shown as a comment; %1 is written
    over %0, which dies there, and the arena is 64 bytes a sample):
    ```mlir
    %0 = nn.matmul %x, %w ...  // {arena = array<i64: 0, 0>}
    %1 = nn.relu %0 ...        // {arena = array<i64: 0, 0>}
    ```
    Limits: a freed slot is reused whole, never split or merged, which
    keeps every offset linear in B but wastes the difference when a small
    tensor takes a large slot. Only single-block functions are planned,
    with at most one dynamic (batch) dimension per tensor. In-place
    updates need the operand's whole slot (not a view into a pack).
  }];
  let statistics = [
    Statistic<"numInPlace", "num-in-place",
              "Results written over an operand that dies at their op">,
    Statistic<"numPacked", "num-packed",
              "Pack operands computed in place inside the pack">,
    Statistic<"numCopied", "num-copied", "Pack operands copied into the pack">,
  ];
}

#endif // KILN_PASSES_TD
