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

#endif // KILN_PASSES_TD
