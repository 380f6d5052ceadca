//===- NNDialect.td - the nn dialect -------------------------*- tablegen -*-===//
//
// Part of kiln. The nn dialect holds a model at tensor level with value
// semantics: every op consumes and produces ranked tensors, parameters are
// function arguments, and layer hyper-parameters are attributes. It is the
// level at which shape inference, autodiff, fusion and memory planning work.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_NNDIALECT_TD
#define KILN_IR_NNDIALECT_TD

include "mlir/IR/OpBase.td"

def NN_Dialect : Dialect {
  let name = "nn";
  let cppNamespace = "::kiln::nn";
  let summary = "Tensor-level neural-network ops for kiln";
  let description = [{
    Ops on ranked tensors of f32 (activations, parameters) and i64 (labels,
    indices). Shapes are static except dimension 0 of batch-carrying values,
    which may be dynamic (`?`). Binary elementwise ops broadcast implicitly
    with NumPy's rules. A model is a `func.func @forward` whose arguments are
    tagged with `nn.input`, `nn.target`, `nn.param` (+ `nn.init`,
    `nn.frozen`), `nn.buffer` or `nn.seed`, and whose results are tagged with
    `nn.output`.
  }];
  let hasConstantMaterializer = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    // Argument and result attribute names (see docs/ir.md).
    static constexpr llvm::StringLiteral kInputAttr = "nn.input";
    static constexpr llvm::StringLiteral kTargetAttr = "nn.target";
    static constexpr llvm::StringLiteral kParamAttr = "nn.param";
    static constexpr llvm::StringLiteral kInitAttr = "nn.init";
    static constexpr llvm::StringLiteral kFrozenAttr = "nn.frozen";
    static constexpr llvm::StringLiteral kBufferAttr = "nn.buffer";
    static constexpr llvm::StringLiteral kSeedAttr = "nn.seed";
    static constexpr llvm::StringLiteral kOutputAttr = "nn.output";
    static constexpr llvm::StringLiteral kTrainAttr = "nn.train";
    static constexpr llvm::StringLiteral kGradAttr = "nn.grad";
    static constexpr llvm::StringLiteral kStepAttr = "nn.step";
    static constexpr llvm::StringLiteral kOptStateAttr = "nn.opt_state";
    static constexpr llvm::StringLiteral kLayoutAttr = "nn.layout";
  }];
}

#endif // KILN_IR_NNDIALECT_TD
