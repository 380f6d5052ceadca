//===- Autodiff.cpp - reverse-mode differentiation of @forward --*- C++ -*-===//
//
// Part of kiln. Implements kiln-autodiff (see Passes.td): from a model's
// `@forward` builds `@train_step`, which computes the forward pass and the
// gradient of the loss with respect to every trainable parameter, and
// `@eval_step`, the forward pass in inference mode. The pass only walks the
// graph and accumulates; each op's gradient rule is its buildGradients
// method (ir/NNGradients.cpp). Gradients are built only for active values:
// those that depend on a trainable (not frozen) parameter and that the loss
// depends on, so frozen layers and integer inputs cost nothing.
//
// After it, @train_step returns (loss, [predict], gradient of each trainable
// parameter tagged `nn.grad`, updated buffers); kiln-lower-optimizer then
// turns the gradients into parameter updates.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseSet.h"

#define DEBUG_TYPE "kiln-autodiff"

namespace kiln {
#define GEN_PASS_DEF_AUTODIFF
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln::nn;

namespace {

bool isFloatTensor(Value v) {
  return getElementTypeOrSelf(v.getType()).isF32();
}

/// Index of the result of `func` tagged `nn.output = name`, if any.
std::optional<unsigned> findOutput(func::FuncOp func, StringRef name) {
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    if (auto attr = func.getResultAttrOfType<StringAttr>(
            i, NNDialect::kOutputAttr))
      if (attr.getValue() == name)
        return i;
  return std::nullopt;
}

/// Erases ops without uses and without side effects, last to first.
void eraseDeadOps(Block &block) {
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
    if (isOpTriviallyDead(&op))
      op.erase();
}

struct Autodiff : kiln::impl::AutodiffBase<Autodiff> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("kiln-autodiff needs a func.func @forward");
      return signalPassFailure();
    }
    if (module.lookupSymbol("train_step") || module.lookupSymbol("eval_step")) {
      module.emitError("the module already has @train_step or @eval_step");
      return signalPassFailure();
    }
    if (failed(buildTrainStep(module, forward)) ||
        failed(buildEvalStep(module, forward)))
      return signalPassFailure();
  }

  /// Clones `forward` as `name`, placed at the end of the module.
  func::FuncOp cloneAs(ModuleOp module, func::FuncOp forward, StringRef name) {
    OpBuilder builder(module.getContext());
    builder.setInsertionPointToEnd(module.getBody());
    auto clone = cast<func::FuncOp>(builder.clone(*forward));
    clone.setName(name);
    return clone;
  }

  LogicalResult buildTrainStep(ModuleOp module, func::FuncOp forward);
  LogicalResult buildEvalStep(ModuleOp module, func::FuncOp forward);
};

LogicalResult Autodiff::buildTrainStep(ModuleOp module, func::FuncOp forward) {
  func::FuncOp step = cloneAs(module, forward, "train_step");
  Block &body = step.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  std::optional<unsigned> lossIndex = findOutput(step, "loss");
  if (!lossIndex)
    return step.emitError("@forward has no result tagged nn.output = \"loss\"");
  Value loss = ret.getOperand(*lossIndex);

  // Trainable parameters, in argument order.
  SmallVector<BlockArgument> params;
  for (BlockArgument arg : body.getArguments())
    if (step.getArgAttr(arg.getArgNumber(), NNDialect::kParamAttr) &&
        !step.getArgAttr(arg.getArgNumber(), NNDialect::kFrozenAttr))
      params.push_back(arg);

  // Varied: depends on a trainable parameter (ops are in dominance order).
  llvm::DenseSet<Value> varied(params.begin(), params.end());
  for (Operation &op : body.without_terminator())
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return varied.contains(v); }))
      for (Value result : op.getResults())
        if (isFloatTensor(result))
          varied.insert(result);
  if (!varied.contains(loss))
    return emitError(loss.getLoc())
           << "the loss does not depend on any trainable parameter, so there "
              "is nothing to train";

  // Useful: the loss depends on it. Active = varied and useful.
  llvm::DenseSet<Value> useful = {loss};
  for (Operation &op : llvm::reverse(body.without_terminator()))
    if (llvm::any_of(op.getResults(),
                     [&](Value v) { return useful.contains(v); }))
      for (Value operand : op.getOperands())
        useful.insert(operand);
  auto isActive = [&](Value v) {
    return varied.contains(v) && useful.contains(v);
  };

  // Reverse sweep: gradients[v] is d loss / d v, summed over v's uses.
  OpBuilder builder = OpBuilder::atBlockTerminator(&body);
  llvm::DenseMap<Value, Value> gradients;
  auto accumulate = [&](Value v, Value g, Location loc) {
    auto [it, inserted] = gradients.try_emplace(v, g);
    if (!inserted)
      it->second = builder.create<AddOp>(loc, v.getType(), it->second, g);
  };
  auto one = RankedTensorType::get({}, builder.getF32Type());
  gradients[loss] = builder.create<ConstantOp>(
      loss.getLoc(), DenseElementsAttr::get(one, 1.0f));

  SmallVector<Operation *> forwardOps;
  for (Operation &op : body.without_terminator())
    forwardOps.push_back(&op);
  for (Operation *op : llvm::reverse(forwardOps)) {
    if (!llvm::any_of(op->getOperands(), isActive))
      continue;
    SmallVector<Value> resultGrads;
    for (Value result : op->getResults())
      resultGrads.push_back(gradients.lookup(result));
    if (llvm::all_of(resultGrads, [](Value g) { return !g; }))
      continue;
    auto rule = dyn_cast<GradientOpInterface>(op);
    if (!rule)
      return op->emitError("'")
             << op->getName() << "' has no gradient rule, but the loss "
             << "depends on a trainable parameter through it";
    builder.setInsertionPoint(ret);
    SmallVector<Value> operandGrads = rule.buildGradients(builder, resultGrads);
    if (operandGrads.size() != op->getNumOperands())
      return failure(); // the rule reported why
    for (auto [operand, g] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!g || !isActive(operand))
        continue;
      // Exactly the operand's type: a gradient with a dynamic dimension
      // where the operand has a static one was not summed over a broadcast.
      if (g.getType() != operand.getType())
        return op->emitError("internal error: the gradient rule of '")
               << op->getName() << "' gives " << g.getType()
               << " for an operand of type " << operand.getType();
      accumulate(operand, g, op->getLoc());
    }
  }

  // Results: loss, [predict], gradients of trainable parameters, buffers.
  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resultAttrs;
  for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
    results.push_back(ret.getOperand(i));
    resultAttrs.push_back(step.getResultAttrDict(i));
  }
  MLIRContext *context = module.getContext();
  for (BlockArgument param : params) {
    Value g = gradients.lookup(param);
    if (!g) {
      // The loss does not reach this parameter: its gradient is zero.
      builder.setInsertionPoint(ret);
      auto type = cast<RankedTensorType>(param.getType());
      g = builder.create<ConstantOp>(param.getLoc(),
                                     DenseElementsAttr::get(type, 0.0f));
    }
    results.push_back(g);
    NamedAttrList attrs;
    attrs.set(NNDialect::kGradAttr,
              step.getArgAttr(param.getArgNumber(), NNDialect::kParamAttr));
    resultAttrs.push_back(attrs.getDictionary(context));
  }
  ret->setOperands(results);
  step.setType(FunctionType::get(context, body.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  step.setAllResultAttrs(resultAttrs);
  eraseDeadOps(body);
  return success();
}

LogicalResult Autodiff::buildEvalStep(ModuleOp module, func::FuncOp forward) {
  func::FuncOp step = cloneAs(module, forward, "eval_step");
  Block &body = step.getBody().front();
  // Inference mode: dropout is the identity, batch norm uses the running
  // statistics and leaves them unchanged.
  step.walk([](DropoutOp op) {
    op.replaceAllUsesWith(op.getInput());
    op.erase();
  });
  step.walk([](BatchNormOp op) {
    OpBuilder builder(op);
    Value y = builder.create<BatchNormInferenceOp>(
        op.getLoc(), op.getInput(), op.getWeight(), op.getBias(),
        op.getRunningMean(), op.getRunningVar(), op.getEps());
    op.getResult().replaceAllUsesWith(y);
    op.getNewRunningMean().replaceAllUsesWith(op.getRunningMean());
    op.getNewRunningVar().replaceAllUsesWith(op.getRunningVar());
    op.erase();
  });
  // Keep the loss and prediction; drop buffer updates (now identities).
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resultAttrs;
  for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
    if (!step.getResultAttr(i, NNDialect::kOutputAttr))
      continue;
    results.push_back(ret.getOperand(i));
    resultAttrs.push_back(step.getResultAttrDict(i));
  }
  ret->setOperands(results);
  step.setType(FunctionType::get(module.getContext(), body.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  step.setAllResultAttrs(resultAttrs);
  eraseDeadOps(body);

  // The seed argument is unused without dropout; keep the signature the same
  // as @forward's so one set of inputs feeds either function.
  return success();
}

} // namespace
