//===- NNInterfaces.td - nn op interfaces ---------------------*- tablegen -*-===//
//
// Part of kiln. The gradient interface: each differentiable nn op knows how
// to build the gradients of its operands from the gradients of its results.
// Autodiff (passes/Autodiff.cpp) only walks the graph and accumulates; the
// math lives with each op, in ir/NNGradients.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_NNINTERFACES_TD
#define KILN_IR_NNINTERFACES_TD

include "mlir/IR/OpBase.td"

def NN_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::kiln::nn";
  let description = [{
    An op whose operands can be differentiated. Given the gradient of the
    loss with respect to each result (null where a result does not reach the
    loss), builds ops at the builder's insertion point computing the gradient
    with respect to each operand, and returns one value per operand: null
    for operands that get no gradient (integer tensors, seeds, and operands
    the op is constant in).
  }];
  let methods = [
    InterfaceMethod<
      "Builds the gradients of the operands from those of the results.",
      "::llvm::SmallVector<::mlir::Value>", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGradients)>,
  ];
}

#endif // KILN_IR_NNINTERFACES_TD
