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

def Fuse : Pass<"kiln-fuse", "mlir::ModuleOp"> {
  let summary = "Group elementwise ops into nn.kernel regions, one kernel each";
  let description = [{
    Greedily, in program order, puts each elementwise op (FusionPolicy.h)
    into the group of an operand's producer that computes the same result
    type, merging groups an op connects; each group of two or more ops
    becomes one `nn.kernel` at the place of its last op, with the values
    used outside it as results. Scalar splat constants are copied into the
    kernel. A merge is refused when a value of the group has a user outside
    it that comes before the group's last op (the kernel could not be placed
    before that user), which also rules out cycles. The Adam update of a
    parameter, a bias add with its activation, an activation gradient with
    its mask become one kernel each.

    Before:
    ```mlir
    %1 = nn.add %0, %b : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
    %2 = nn.relu %1 : tensor<?x8xf32>
    ```
    After:
    ```mlir
    %2 = nn.kernel "add_relu" (%0, %b : tensor<?x8xf32>, tensor<8xf32>)
        -> (tensor<?x8xf32>) {
    ^bb0(%x: tensor<?x8xf32>, %y: tensor<8xf32>):
      %1 = nn.add %x, %y : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
      %2 = nn.relu %1 : tensor<?x8xf32>
      nn.yield %2 : tensor<?x8xf32>
    }
    ```
    Does not fuse across reductions, GEMMs or convolutions (their
    epilogues are not yet kernel members), nor ops of different result
    types (a scalar chain stays apart from the tensor chain it feeds).
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Emit a remark for each kernel (its ops, with their locations) "
           "and for each elementwise op that did not join its producer's "
           "kernel, with the rule that stopped it">,
  ];
  let statistics = [
    Statistic<"numKernels", "num-kernels", "Number of nn.kernel ops built">,
    Statistic<"numFused", "num-fused", "Number of ops moved into kernels">,
  ];
}

#endif // KILN_PASSES_TD
