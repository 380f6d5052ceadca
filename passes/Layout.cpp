//===- Layout.cpp - store parameters in the layout kernels want --*- C++ -*-===//
//
// Part of kiln. The kiln-layout pass (Passes.td has the full description).
// Precondition: @train_step and @eval_step after the train pipeline (nn ops
// in one block, nn roles on every argument and result). Afterwards every
// parameter some matmul reads as its transposed B operand is an argument
// (and, with its optimizer state, a result) of the transposed type, marked
// `nn.layout` with the permutation back to PyTorch's layout, in both
// functions alike since the trainer hands both the same state; transposes
// are folded into matmuls, moved through elementwise ops and cancelled, so
// the values computed are unchanged. The layout policy (which parameters
// move, to which layout) is `storedPermutation` below.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "passes/FusionPolicy.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringMap.h"

namespace kiln {
#define GEN_PASS_DEF_LAYOUT
#include "passes/Passes.h.inc"
} // namespace kiln

#define DEBUG_TYPE "kiln-layout"

using namespace mlir;
using namespace kiln::nn;

namespace {

/// Whether `perm` swaps the last two dimensions and keeps the others: the
/// transpose a matmul's transpose_a / transpose_b flag stands for.
bool swapsLastTwo(ArrayRef<int64_t> perm) {
  int64_t rank = perm.size();
  if (rank < 2)
    return false;
  for (int64_t d = 0; d < rank - 2; ++d)
    if (perm[d] != d)
      return false;
  return perm[rank - 2] == rank - 1 && perm[rank - 1] == rank - 2;
}

SmallVector<int64_t> inversePermutation(ArrayRef<int64_t> perm) {
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = int64_t(i);
  return inverse;
}

/// The layout policy: the permutation from PyTorch's layout to the one
/// `param` should be stored in, or none to keep it. The CPU GEMM schedule
/// (codegen/Schedule.cpp) reads a non-transposed B operand in place but
/// repacks a transposed one on every call, so a rank-2 weight that a matmul
/// reads as its transposed B operand (a dense layer's `x W^T`) is stored
/// transposed. Convolution weights keep OIHW (their schedule repacks into
/// its own blocked layout, which no single stored layout serves for both
/// the forward and the backward convolutions yet).
std::optional<SmallVector<int64_t>> storedPermutation(BlockArgument param) {
  auto type = cast<RankedTensorType>(param.getType());
  if (type.getRank() != 2)
    return std::nullopt;
  for (OpOperand &use : param.getUses()) {
    auto matmul = dyn_cast<MatmulOp>(use.getOwner());
    if (matmul && use.getOperandNumber() == 1 && matmul.getTransposeB())
      return SmallVector<int64_t>{1, 0};
  }
  return std::nullopt;
}

/// Whether every user of `value` is a transpose by `perm`.
bool onlyTransposedBy(Value value, ArrayRef<int64_t> perm) {
  return llvm::all_of(value.getUsers(), [&](Operation *user) {
    auto t = dyn_cast<TransposeOp>(user);
    return t && t.getPerm() == perm;
  });
}

/// Replaces every user of `value` (each a transpose) by `replacement`.
void replaceTransposes(Value value, Value replacement,
                       PatternRewriter &rewriter) {
  for (Operation *user : llvm::make_early_inc_range(value.getUsers()))
    rewriter.replaceOp(user, replacement);
}

/// matmul(transpose(a), b) = matmul(a, b) with transpose_a flipped, when
/// the transpose swaps the last two dimensions; likewise for b.
struct FoldTransposeIntoMatmul : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MatmulOp matmul,
                                PatternRewriter &rewriter) const override {
    auto lhs = matmul.getLhs().getDefiningOp<TransposeOp>();
    auto rhs = matmul.getRhs().getDefiningOp<TransposeOp>();
    bool foldLhs = lhs && swapsLastTwo(lhs.getPerm());
    bool foldRhs = rhs && swapsLastTwo(rhs.getPerm());
    if (!foldLhs && !foldRhs)
      return failure();
    rewriter.modifyOpInPlace(matmul, [&] {
      if (foldLhs) {
        matmul.getLhsMutable().assign(lhs.getInput());
        matmul.setTransposeA(!matmul.getTransposeA());
      }
      if (foldRhs) {
        matmul.getRhsMutable().assign(rhs.getInput());
        matmul.setTransposeB(!matmul.getTransposeB());
      }
    });
    return success();
  }
};

/// transpose(op(a) op(b)) = op(b)^T op(a)^T: a matmul with its operands
/// swapped and both flags flipped. Only when every user of the product
/// wants it transposed, so no GEMM is computed twice.
struct SinkTransposeIntoMatmul : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TransposeOp transpose,
                                PatternRewriter &rewriter) const override {
    auto matmul = transpose.getInput().getDefiningOp<MatmulOp>();
    if (!matmul || !swapsLastTwo(transpose.getPerm()) ||
        !onlyTransposedBy(matmul.getResult(), transpose.getPerm()))
      return failure();
    rewriter.setInsertionPoint(matmul);
    auto swapped = rewriter.create<MatmulOp>(
        matmul.getLoc(), transpose.getType(), matmul.getRhs(), matmul.getLhs(),
        !matmul.getTransposeB(), !matmul.getTransposeA());
    replaceTransposes(matmul.getResult(), swapped, rewriter);
    return success();
  }
};

/// transpose(f(a, b, s)) = f(transpose(a), transpose(b), s) for an
/// elementwise f whose tensor operands all have its result's type (s: a
/// rank-0 scalar). Moves transposes from the results towards the arguments,
/// where they cancel. Only when every user of f's result wants it
/// transposed, so f is not computed in both layouts.
struct SinkTransposeThroughElementwise : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TransposeOp transpose,
                                PatternRewriter &rewriter) const override {
    Operation *op = transpose.getInput().getDefiningOp();
    if (!op || !kiln::fusion::isElementwise(op) || op->getNumResults() != 1 ||
        !onlyTransposedBy(op->getResult(0), transpose.getPerm()))
      return failure();
    Type resultType = op->getResult(0).getType();
    for (Value operand : op->getOperands()) {
      auto type = cast<RankedTensorType>(operand.getType());
      if (type.getRank() != 0 && type.getShape() !=
                                     cast<RankedTensorType>(resultType)
                                         .getShape())
        return failure(); // broadcasting: no single permutation fits
    }
    rewriter.setInsertionPoint(op);
    IRMapping operands;
    for (Value operand : op->getOperands()) {
      if (cast<RankedTensorType>(operand.getType()).getRank() == 0 ||
          operands.contains(operand))
        continue;
      auto moved = createInferred<TransposeOp>(rewriter, transpose.getLoc(),
                                               operand, transpose.getPerm());
      assert(succeeded(moved) && "a valid permutation of a valid operand");
      operands.map(operand, moved->getResult());
    }
    Operation *sunk = rewriter.clone(*op, operands);
    rewriter.modifyOpInPlace(
        sunk, [&] { sunk->getResult(0).setType(transpose.getType()); });
    replaceTransposes(op->getResult(0), sunk->getResult(0), rewriter);
    return success();
  }
};

class Layout : public kiln::impl::LayoutBase<Layout> {
public:
  using LayoutBase::LayoutBase;

  void runOnOperation() override;

private:
  /// Stores the arguments and results of `func` that belong to a parameter
  /// of `chosen` permuted, with a transpose back to the canonical value at
  /// the top and one into the stored layout before the return.
  void relayout(func::FuncOp func,
                const llvm::StringMap<SmallVector<int64_t>> &chosen);
};

/// The parameter an argument or result named `name` with `role` belongs to:
/// itself for nn.param, "fc1.weight" for the optimizer state
/// "fc1.weight.exp_avg" (LowerOptimizer names state `<param>.<kind>`).
std::optional<StringRef>
ownerIn(const llvm::StringMap<SmallVector<int64_t>> &chosen, StringRef name,
        bool optState) {
  if (!optState)
    return chosen.count(name) ? std::optional<StringRef>(name) : std::nullopt;
  size_t dot = name.rfind('.');
  if (dot == StringRef::npos || !chosen.count(name.take_front(dot)))
    return std::nullopt;
  return name.take_front(dot);
}

/// The name of a parameter or optimizer-state attribute in `attrs`, with
/// whether it is optimizer state.
std::optional<std::pair<StringRef, bool>> stateName(DictionaryAttr attrs) {
  if (!attrs)
    return std::nullopt;
  if (auto name = attrs.getAs<StringAttr>(NNDialect::kParamAttr))
    return std::make_pair(name.getValue(), false);
  if (auto name = attrs.getAs<StringAttr>(NNDialect::kOptStateAttr))
    return std::make_pair(name.getValue(), true);
  return std::nullopt;
}

RankedTensorType permuted(Type type, ArrayRef<int64_t> perm) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape;
  for (int64_t d : perm)
    shape.push_back(tensor.getDimSize(d));
  return RankedTensorType::get(shape, tensor.getElementType());
}

void Layout::relayout(func::FuncOp func,
                      const llvm::StringMap<SmallVector<int64_t>> &chosen) {
  MLIRContext *context = &getContext();
  Block &body = func.getBody().front();
  OpBuilder builder = OpBuilder::atBlockBegin(&body);
  SmallVector<Type> argTypes(func.getArgumentTypes());
  for (BlockArgument arg : body.getArguments()) {
    auto named = stateName(func.getArgAttrDict(arg.getArgNumber()));
    std::optional<StringRef> owner =
        named ? ownerIn(chosen, named->first, named->second) : std::nullopt;
    if (!owner)
      continue;
    ArrayRef<int64_t> stored = chosen.lookup(*owner);
    SmallVector<int64_t> layout = inversePermutation(stored);
    Type canonical = arg.getType();
    arg.setType(permuted(canonical, stored));
    argTypes[arg.getArgNumber()] = arg.getType();
    auto back = builder.create<TransposeOp>(arg.getLoc(), canonical, arg,
                                            builder.getDenseI64ArrayAttr(
                                                layout));
    arg.replaceAllUsesExcept(back, back);
    func.setArgAttr(arg.getArgNumber(), NNDialect::kLayoutAttr,
                    builder.getDenseI64ArrayAttr(layout));
    ++numRelaid;
  }

  auto ret = cast<func::ReturnOp>(body.getTerminator());
  builder.setInsertionPoint(ret);
  SmallVector<Type> resultTypes(func.getResultTypes());
  for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
    auto named = stateName(func.getResultAttrDict(i));
    std::optional<StringRef> owner =
        named ? ownerIn(chosen, named->first, named->second) : std::nullopt;
    if (!owner)
      continue;
    ArrayRef<int64_t> stored = chosen.lookup(*owner);
    Value value = ret.getOperand(i);
    auto into = builder.create<TransposeOp>(
        value.getLoc(), permuted(value.getType(), stored), value,
        builder.getDenseI64ArrayAttr(stored));
    ret.setOperand(i, into);
    resultTypes[i] = into.getType();
    func.setResultAttr(i, NNDialect::kLayoutAttr,
                       builder.getDenseI64ArrayAttr(inversePermutation(stored)));
  }
  func.setType(FunctionType::get(context, argTypes, resultTypes));

  RewritePatternSet patterns(context);
  patterns.add<FoldTransposeIntoMatmul, SinkTransposeIntoMatmul,
               SinkTransposeThroughElementwise>(context);
  // transpose(transpose(x)) composes; the identity transpose folds away.
  TransposeOp::getCanonicalizationPatterns(patterns, context);
  // Every rewrite preserves the function's values, so the IR is correct
  // whether or not the driver reports convergence; it may not when the
  // folding it also does keeps reordering constants (binary.kiln).
  (void)applyPatternsAndFoldGreedily(func, std::move(patterns));
  // A value needed transposed by several users was transposed once each.
  IRRewriter rewriter(context);
  DominanceInfo dominance(func);
  eliminateCommonSubExpressions(rewriter, dominance, func);
  numTransposesLeft += llvm::count_if(
      body, [](Operation &op) { return isa<TransposeOp>(op); });
}

void Layout::runOnOperation() {
  ModuleOp module = getOperation();
  auto train = module.lookupSymbol<func::FuncOp>("train_step");
  auto eval = module.lookupSymbol<func::FuncOp>("eval_step");
  // A parameter's layout is chosen from its uses in both functions, and
  // applied to both: the trainer passes one state arena to either.
  llvm::StringMap<SmallVector<int64_t>> chosen;
  for (func::FuncOp func : {train, eval}) {
    if (!func || func.isExternal())
      continue;
    for (BlockArgument arg : func.getArguments()) {
      auto name =
          func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                            NNDialect::kParamAttr);
      if (!name || chosen.count(name.getValue()))
        continue;
      if (auto perm = storedPermutation(arg))
        chosen[name.getValue()] = *perm;
    }
  }
  if (chosen.empty())
    return;
  for (func::FuncOp func : {train, eval})
    if (func && !func.isExternal())
      relayout(func, chosen);
}

} // namespace
