//===- ShapeInference.cpp - refine static shapes ----------------*- C++ -*-===//
//
// Part of kiln. Implements kiln-shape-inference (see Passes.td): optionally
// fixes the batch dimension of a model's inputs, then walks each function in
// order and gives every nn op the result types its shape rule derives from
// its (possibly refined) operands. Afterwards every op's result types are
// exactly what its rule says and function signatures match their bodies.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

#define DEBUG_TYPE "kiln-shape-inference"

namespace kiln {
#define GEN_PASS_DEF_SHAPEINFERENCE
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln::nn;

namespace {

/// `type` with dimension 0 replaced by `size`.
RankedTensorType withDim0(RankedTensorType type, int64_t size) {
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = size;
  return type.clone(shape);
}

/// The result types `op` should have given its operands, or failure (with a
/// diagnostic) when its shape rule rejects them. Ops without a rule keep
/// their types.
LogicalResult inferResultTypes(Operation *op, SmallVectorImpl<Type> &types) {
  if (auto infer = dyn_cast<InferTypeOpInterface>(op))
    return infer.inferReturnTypes(op->getContext(), op->getLoc(),
                                  op->getOperands(), op->getAttrDictionary(),
                                  op->getPropertiesStorage(), op->getRegions(),
                                  types);
  types.assign(op->result_type_begin(), op->result_type_end());
  if (op->hasTrait<OpTrait::SameOperandsAndResultType>() ||
      isa<DropoutOp, LayerNormOp, BatchNormInferenceOp, BatchNormOp>(op)) {
    types[0] = op->getOperand(0).getType();
    return success();
  }
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    // The batch dimension carries through a reshape: fill in a dynamic
    // result dimension 0 from the operand's now static element count.
    RankedTensorType in = reshape.getInput().getType(), out = reshape.getType();
    if (in.hasStaticShape() && out.getRank() > 0 && out.isDynamicDim(0)) {
      int64_t rest = 1;
      for (int64_t d : out.getShape().drop_front())
        rest *= d;
      if (rest > 0 && in.getNumElements() % rest == 0)
        types[0] = withDim0(out, in.getNumElements() / rest);
    }
  }
  return success();
}

struct ShapeInference
    : kiln::impl::ShapeInferenceBase<ShapeInference> {
  using ShapeInferenceBase::ShapeInferenceBase;

  void runOnOperation() override {
    if (batch < 0) {
      getOperation().emitError("kiln-shape-inference: batch must be >= 0");
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal() && failed(refine(func)))
        return signalPassFailure();
  }

  LogicalResult refine(func::FuncOp func) {
    if (!func.getBody().hasOneBlock())
      return func.emitError("kiln-shape-inference expects one block");
    Block &body = func.getBody().front();
    if (batch > 0)
      fixBatch(func, body);

    for (BlockArgument arg : body.getArguments())
      if (failed(checkSupported(arg.getType(), arg.getLoc())))
        return failure();
    WalkResult walk = func.walk([&](Operation *op) {
      if (op->getNumResults() == 0 || op->getNumRegions() != 0)
        return WalkResult::advance();
      SmallVector<Type> types;
      if (failed(inferResultTypes(op, types)))
        return WalkResult::interrupt();
      if (!areCompatibleTensorTypes(types, op->getResultTypes())) {
        op->emitOpError("result types contradict the shape rule: expected ")
            << TypeRange(types) << ", got " << op->getResultTypes();
        return WalkResult::interrupt();
      }
      for (auto [result, type] : llvm::zip(op->getResults(), types)) {
        if (failed(checkSupported(type, op->getLoc())))
          return WalkResult::interrupt();
        if (result.getType() != type) {
          result.setType(type);
          ++numRefined;
        }
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    Operation *terminator = body.getTerminator();
    func.setType(FunctionType::get(func.getContext(), body.getArgumentTypes(),
                                   terminator->getOperandTypes()));
    return success();
  }

  /// Fails, at `loc`, for a tensor type the back end cannot hold: one that
  /// depends on the batch in more than one dimension (memory is planned
  /// linearly in the batch), or whose static dimensions alone hold more
  /// elements than the kernels can index (Halide addresses buffers with
  /// 32-bit integers).
  static LogicalResult checkSupported(Type type, Location loc) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor)
      return success();
    if (tensor.getNumDynamicDims() > 1)
      return emitError(loc)
             << tensor << " has the batch in " << tensor.getNumDynamicDims()
             << " dimensions; a tensor may grow with the batch along one "
                "dimension only (kiln plans memory linearly in the batch), "
                "so a [B, B] product of the batch with itself is not "
                "supported";
    constexpr int64_t kMaxElements = std::numeric_limits<int32_t>::max();
    int64_t elements = 1;
    for (int64_t d : tensor.getShape())
      if (d != ShapedType::kDynamic &&
          (__builtin_mul_overflow(elements, d, &elements) ||
           elements > kMaxElements))
        return emitError(loc) << tensor << " has more than " << kMaxElements
                              << " elements, the most a kernel can index";
    return success();
  }

  /// Gives dimension 0 of every batch-carrying argument the size `batch`.
  void fixBatch(func::FuncOp func, Block &body) {
    for (BlockArgument arg : body.getArguments()) {
      if (!func.getArgAttr(arg.getArgNumber(), NNDialect::kInputAttr) &&
          !func.getArgAttr(arg.getArgNumber(), NNDialect::kTargetAttr))
        continue;
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (type && type.getRank() > 0 && type.isDynamicDim(0))
        arg.setType(withDim0(type, batch));
    }
  }
};

} // namespace
