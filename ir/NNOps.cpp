//===- NNOps.cpp - nn dialect operations ------------------------*- C++ -*-===//
//
// Part of kiln. Shape rules, verifiers and folders of the nn ops. Each shape
// rule lives in the op's inferReturnTypes and reports a failure at the
// location it is given, naming the shapes involved, so MLIRGen can pass a DSL
// location and get a user-facing diagnostic for free. Dynamic dimensions
// (the batch) are accepted wherever a static one would be checked.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace kiln::nn;

static constexpr int64_t kDyn = ShapedType::kDynamic;

//===----------------------------------------------------------------------===//
// Shape-rule helpers
//===----------------------------------------------------------------------===//

/// Emits `message` at `loc` when a location is given; always returns failure.
static LogicalResult fail(std::optional<Location> loc, const Twine &message) {
  if (loc)
    emitError(*loc) << message;
  return failure();
}

static std::string str(Type type) {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << type;
  return out;
}

static RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type elementType) {
  return RankedTensorType::get(shape, elementType);
}

/// Two dimensions agree if equal or if either is dynamic.
static bool dimsAgree(int64_t a, int64_t b) {
  return a == b || a == kDyn || b == kDyn;
}

/// Normalizes a possibly negative axis; fails when out of [-rank, rank).
static FailureOr<int64_t> normalizeAxis(std::optional<Location> loc,
                                        int64_t axis, int64_t rank,
                                        StringRef what) {
  if (axis < -rank || axis >= rank) {
    (void)fail(loc, what + " axis " + Twine(axis) + " is out of range for rank " +
                        Twine(rank));
    return failure();
  }
  return axis < 0 ? axis + rank : axis;
}

/// Two result type lists are compatible when each pair has one element type
/// and compatible shapes (a dynamic dimension matches any).
bool kiln::nn::areCompatibleTensorTypes(TypeRange lhs, TypeRange rhs) {
  if (lhs.size() != rhs.size())
    return false;
  for (auto [l, r] : llvm::zip(lhs, rhs)) {
    if (getElementTypeOrSelf(l) != getElementTypeOrSelf(r))
      return false;
    if (failed(verifyCompatibleShape(l, r)))
      return false;
  }
  return true;
}

FailureOr<RankedTensorType>
kiln::nn::inferBroadcastType(std::optional<Location> loc, RankedTensorType a,
                             RankedTensorType b) {
  int64_t rank = std::max(a.getRank(), b.getRank());
  SmallVector<int64_t> shape(rank);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t ia = i - (rank - a.getRank()), ib = i - (rank - b.getRank());
    int64_t da = ia >= 0 ? a.getDimSize(ia) : 1;
    int64_t db = ib >= 0 ? b.getDimSize(ib) : 1;
    if (da == 1)
      shape[i] = db;
    else if (db == 1)
      shape[i] = da;
    else if (dimsAgree(da, db))
      shape[i] = da == kDyn ? db : da;
    else {
      (void)fail(loc, "cannot broadcast " + str(a) + " with " + str(b) +
                          ": dimension " + Twine(i) + " is " + Twine(da) +
                          " vs " + Twine(db));
      return failure();
    }
  }
  return tensorOf(shape, a.getElementType());
}

#define KILN_COMPATIBLE_RETURN_TYPES(Op)                                       \
  bool Op::isCompatibleReturnTypes(TypeRange l, TypeRange r) {                 \
    return areCompatibleTensorTypes(l, r);                                     \
  }

//===----------------------------------------------------------------------===//
// Constant
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

LogicalResult GeluOp::verify() {
  if (getApproximate() != "none" && getApproximate() != "tanh")
    return emitOpError("approximate must be \"none\" or \"tanh\", got \"")
           << getApproximate() << "\"";
  return success();
}

/// The float value of a splat f32 constant, if `attr` is one.
static std::optional<double> getSplat(Attribute attr) {
  auto dense = dyn_cast_or_null<DenseElementsAttr>(attr);
  if (!dense || !dense.isSplat() || !dense.getElementType().isF32())
    return std::nullopt;
  return dense.getSplatValue<APFloat>().convertToDouble();
}

/// Folds a unary op whose operand is a splat constant.
static OpFoldResult foldUnarySplat(Attribute input, Type resultType,
                                   double (*fn)(double)) {
  std::optional<double> x = getSplat(input);
  if (!x)
    return {};
  return DenseElementsAttr::get(cast<ShapedType>(resultType),
                                static_cast<float>(fn(*x)));
}

OpFoldResult NegOp::fold(FoldAdaptor adaptor) {
  if (auto inner = getInput().getDefiningOp<NegOp>())
    return inner.getInput(); // -(-x) = x
  return foldUnarySplat(adaptor.getInput(), getType(),
                        [](double x) { return -x; });
}

OpFoldResult LogOp::fold(FoldAdaptor) {
  if (auto inner = getInput().getDefiningOp<ExpOp>())
    return inner.getInput(); // log(exp(x)) = x
  return {};
}

OpFoldResult ReluOp::fold(FoldAdaptor adaptor) {
  if (getInput().getDefiningOp<ReluOp>())
    return getInput(); // relu is idempotent
  return foldUnarySplat(adaptor.getInput(), getType(),
                        [](double x) { return x > 0 ? x : 0.0; });
}

/// Shared rule of the broadcasting binary ops.
template <typename Adaptor>
static LogicalResult inferBinary(std::optional<Location> loc, Adaptor adaptor,
                                 SmallVectorImpl<Type> &types) {
  auto a = dyn_cast<RankedTensorType>(adaptor.getLhs().getType());
  auto b = dyn_cast<RankedTensorType>(adaptor.getRhs().getType());
  if (!a || !b)
    return fail(loc, "operands must be ranked tensors");
  FailureOr<RankedTensorType> type = inferBroadcastType(loc, a, b);
  if (failed(type))
    return failure();
  types.push_back(*type);
  return success();
}

/// Folds `op(x, c)` to `x` when `c` is the splat `identity` and broadcasting
/// does not change x's type; folds two splat operands with `fn`.
static OpFoldResult foldBinary(Value lhs, Value rhs, Attribute lhsAttr,
                               Attribute rhsAttr, Type resultType,
                               std::optional<double> rightIdentity,
                               std::optional<double> leftIdentity,
                               double (*fn)(double, double)) {
  std::optional<double> l = getSplat(lhsAttr), r = getSplat(rhsAttr);
  // A result type less precise than the rule's (`?`) cannot hold a constant.
  if (l && r && cast<ShapedType>(resultType).hasStaticShape())
    return DenseElementsAttr::get(cast<ShapedType>(resultType),
                                  static_cast<float>(fn(*l, *r)));
  if (r && rightIdentity && *r == *rightIdentity && lhs.getType() == resultType)
    return lhs;
  if (l && leftIdentity && *l == *leftIdentity && rhs.getType() == resultType)
    return rhs;
  return {};
}

#define KILN_BINARY_OP(Op)                                                     \
  LogicalResult Op::inferReturnTypes(MLIRContext *, std::optional<Location> loc,\
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &types) {           \
    return inferBinary(loc, adaptor, types);                                   \
  }                                                                            \
  KILN_COMPATIBLE_RETURN_TYPES(Op)

KILN_BINARY_OP(AddOp)
KILN_BINARY_OP(SubOp)
KILN_BINARY_OP(MulOp)
KILN_BINARY_OP(DivOp)
KILN_BINARY_OP(PowOp)
KILN_BINARY_OP(MaximumOp)
KILN_BINARY_OP(MinimumOp)
KILN_BINARY_OP(GreaterOp)
#undef KILN_BINARY_OP

OpFoldResult AddOp::fold(FoldAdaptor a) {
  return foldBinary(getLhs(), getRhs(), a.getLhs(), a.getRhs(), getType(), 0.0,
                    0.0, [](double x, double y) { return x + y; });
}
OpFoldResult SubOp::fold(FoldAdaptor a) {
  return foldBinary(getLhs(), getRhs(), a.getLhs(), a.getRhs(), getType(), 0.0,
                    std::nullopt, [](double x, double y) { return x - y; });
}
OpFoldResult MulOp::fold(FoldAdaptor a) {
  return foldBinary(getLhs(), getRhs(), a.getLhs(), a.getRhs(), getType(), 1.0,
                    1.0, [](double x, double y) { return x * y; });
}
OpFoldResult DivOp::fold(FoldAdaptor a) {
  return foldBinary(getLhs(), getRhs(), a.getLhs(), a.getRhs(), getType(), 1.0,
                    std::nullopt, [](double x, double y) { return x / y; });
}
OpFoldResult PowOp::fold(FoldAdaptor a) {
  return foldBinary(getLhs(), getRhs(), a.getLhs(), a.getRhs(), getType(), 1.0,
                    std::nullopt,
                    [](double x, double y) { return std::pow(x, y); });
}

//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto a = cast<RankedTensorType>(adaptor.getLhs().getType());
  auto b = cast<RankedTensorType>(adaptor.getRhs().getType());
  if (a.getRank() != b.getRank() || a.getRank() < 2 || a.getRank() > 3)
    return fail(loc, "matmul needs two rank-2 or two rank-3 operands, got " +
                         str(a) + " and " + str(b));
  int64_t r = a.getRank();
  int64_t m = a.getDimSize(r - 2), ka = a.getDimSize(r - 1);
  if (adaptor.getTransposeA())
    std::swap(m, ka);
  int64_t kb = b.getDimSize(r - 2), n = b.getDimSize(r - 1);
  if (adaptor.getTransposeB())
    std::swap(kb, n);
  if (!dimsAgree(ka, kb))
    return fail(loc, "matmul contraction mismatch: " + str(a) +
                         (adaptor.getTransposeA() ? " (transposed)" : "") +
                         " has " + Twine(ka) + " columns but " + str(b) +
                         (adaptor.getTransposeB() ? " (transposed)" : "") +
                         " has " + Twine(kb) + " rows");
  SmallVector<int64_t> shape;
  if (r == 3) {
    // The same batch on both sides: a dynamic batch against a static one
    // would be a broadcast (or a mismatch) known only at run time.
    if (a.getDimSize(0) != b.getDimSize(0))
      return fail(loc, "matmul batch mismatch: " + str(a) + " vs " + str(b) +
                           " (both operands need the same leading dimension;"
                           " it is not broadcast)");
    shape.push_back(a.getDimSize(0));
  }
  shape.append({m, n});
  types.push_back(tensorOf(shape, a.getElementType()));
  return success();
}
KILN_COMPATIBLE_RETURN_TYPES(MatmulOp)

/// Checks that a window attribute has two positive (or, for padding,
/// non-negative) entries.
static LogicalResult checkWindow(std::optional<Location> loc,
                                 ArrayRef<int64_t> values, StringRef name,
                                 int64_t min) {
  if (values.size() != 2)
    return fail(loc, name + " must have 2 entries (height, width), got " +
                         Twine(values.size()));
  for (int64_t v : values)
    if (v < min)
      return fail(loc, name + " must be >= " + Twine(min) + ", got " +
                           Twine(v));
  return success();
}

/// Output extent of a window of `window` (dilated) over `size` padded by
/// `pad` on each side with stride `stride`; kDyn stays kDyn.
static int64_t windowOutput(int64_t size, int64_t window, int64_t stride,
                            int64_t pad) {
  if (size == kDyn)
    return kDyn;
  // C++ division truncates toward zero; a window larger than the padded
  // input must give an empty output, not (negative / stride) + 1 = 1.
  if (size + 2 * pad < window)
    return 0;
  return (size + 2 * pad - window) / stride + 1;
}

FailureOr<RankedTensorType> kiln::nn::inferConv2dType(
    std::optional<Location> loc, RankedTensorType x, RankedTensorType w,
    ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
    ArrayRef<int64_t> dilation, int64_t groups) {
  if (x.getRank() != 4 || w.getRank() != 4)
    return fail(loc, "conv2d needs input [N, C, H, W] and weight "
                     "[O, C/groups, KH, KW], got " + str(x) + " and " + str(w));
  if (failed(checkWindow(loc, stride, "stride", 1)) ||
      failed(checkWindow(loc, padding, "padding", 0)) ||
      failed(checkWindow(loc, dilation, "dilation", 1)))
    return failure();
  if (groups < 1)
    return fail(loc, "groups must be >= 1, got " + Twine(groups));
  if (!w.hasStaticShape())
    return fail(loc, "conv2d weight must be statically shaped, got " + str(w));
  if (w.getDimSize(0) % groups != 0)
    return fail(loc, "conv2d output channels " + Twine(w.getDimSize(0)) +
                         " are not divisible by groups " + Twine(groups));
  if (!dimsAgree(x.getDimSize(1), w.getDimSize(1) * groups))
    return fail(loc, "conv2d input " + str(x) + " has " +
                         Twine(x.getDimSize(1)) + " channels but weight " +
                         str(w) + " expects " +
                         Twine(w.getDimSize(1) * groups));
  SmallVector<int64_t> shape = {x.getDimSize(0), w.getDimSize(0)};
  for (int i = 0; i < 2; ++i) {
    int64_t window = dilation[i] * (w.getDimSize(2 + i) - 1) + 1;
    int64_t out =
        windowOutput(x.getDimSize(2 + i), window, stride[i], padding[i]);
    if (out != kDyn && out < 1)
      return fail(loc, "conv2d kernel " + str(w) + " does not fit input " +
                           str(x) + " (output would be empty)");
    shape.push_back(out);
  }
  return tensorOf(shape, x.getElementType());
}

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> type = inferConv2dType(
      loc, cast<RankedTensorType>(adaptor.getInput().getType()),
      cast<RankedTensorType>(adaptor.getWeight().getType()),
      adaptor.getStride(), adaptor.getPadding(), adaptor.getDilation(),
      adaptor.getGroups());
  if (failed(type))
    return failure();
  types.push_back(*type);
  return success();
}
KILN_COMPATIBLE_RETURN_TYPES(Conv2dOp)

FailureOr<RankedTensorType>
kiln::nn::inferPool2dType(std::optional<Location> loc, RankedTensorType x,
                          ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                          ArrayRef<int64_t> padding) {
  if (x.getRank() != 4)
    return fail(loc, "pooling needs an input [N, C, H, W], got " + str(x));
  if (failed(checkWindow(loc, kernel, "kernel", 1)) ||
      failed(checkWindow(loc, stride, "stride", 1)) ||
      failed(checkWindow(loc, padding, "padding", 0)))
    return failure();
  SmallVector<int64_t> shape = {x.getDimSize(0), x.getDimSize(1)};
  for (int i = 0; i < 2; ++i) {
    int64_t k = kernel[i], p = padding[i];
    if (2 * p > k)
      return fail(loc, "pool padding " + Twine(p) +
                           " must be at most half the kernel " + Twine(k));
    int64_t out = windowOutput(x.getDimSize(2 + i), k, stride[i], p);
    if (out != kDyn && out < 1)
      return fail(loc, "pool kernel " + Twine(k) + " does not fit input " +
                           str(x) + " (output would be empty)");
    shape.push_back(out);
  }
  return tensorOf(shape, x.getElementType());
}

template <typename Adaptor>
static LogicalResult inferPool(std::optional<Location> loc, Adaptor adaptor,
                               SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> type = inferPool2dType(
      loc, cast<RankedTensorType>(adaptor.getInput().getType()),
      adaptor.getKernel(), adaptor.getStride(), adaptor.getPadding());
  if (failed(type))
    return failure();
  types.push_back(*type);
  return success();
}

LogicalResult MaxPool2dOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  return inferPool(loc, adaptor, types);
}
KILN_COMPATIBLE_RETURN_TYPES(MaxPool2dOp)

LogicalResult AvgPool2dOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  return inferPool(loc, adaptor, types);
}
KILN_COMPATIBLE_RETURN_TYPES(AvgPool2dOp)

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

/// Product of the static dimensions of `type`.
static int64_t staticElementCount(RankedTensorType type) {
  int64_t count = 1;
  for (int64_t d : type.getShape())
    if (d != kDyn)
      count *= d;
  return count;
}

LogicalResult ReshapeOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("cannot change the element type");
  // The batch is the one dynamic dimension a tensor may have (wherever a
  // transpose moved it); a reshape keeps it and regroups the rest.
  auto dynamicDims = [](RankedTensorType t) {
    return llvm::count(t.getShape(), kDyn);
  };
  if (dynamicDims(in) > 1 || dynamicDims(out) > 1)
    return emitOpError("at most one dimension may be dynamic, got ")
           << in << " -> " << out;
  if (dynamicDims(in) != dynamicDims(out))
    return emitOpError("the dynamic dimension must be kept, got ")
           << in << " -> " << out;
  if (staticElementCount(in) != staticElementCount(out))
    return emitOpError("element count changes: ") << in << " -> " << out;
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    if (getType().hasStaticShape())
      return dense.reshape(getType());
  return {};
}

namespace {
/// reshape(reshape(x)) -> reshape(x): only the final shape matters.
struct ComposeReshapes : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<ReshapeOp>();
    if (!inner)
      return failure();
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), inner.getInput());
    return success();
  }
};

/// transpose(transpose(x, p), q) -> transpose(x, p∘q).
struct ComposeTransposes : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<TransposeOp>();
    if (!inner)
      return failure();
    SmallVector<int64_t> perm;
    for (int64_t p : op.getPerm())
      perm.push_back(inner.getPerm()[p]);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, op.getType(), inner.getInput(),
                                             perm);
    return success();
  }
};
} // namespace

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                            MLIRContext *context) {
  patterns.add<ComposeReshapes>(context);
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  SmallVector<bool> seen(x.getRank(), false);
  if (static_cast<int64_t>(perm.size()) != x.getRank())
    return fail(loc, "transpose permutation has " + Twine(perm.size()) +
                         " entries but the input " + str(x) + " has rank " +
                         Twine(x.getRank()));
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.getRank() || seen[p])
      return fail(loc, "transpose perm is not a permutation of [0, " +
                           Twine(x.getRank()) + ")");
    seen[p] = true;
    shape.push_back(x.getDimSize(p));
  }
  types.push_back(tensorOf(shape, x.getElementType()));
  return success();
}
KILN_COMPATIBLE_RETURN_TYPES(TransposeOp)

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  if (getInput().getType() != getType())
    return {};
  for (auto [i, p] : llvm::enumerate(getPerm()))
    if (static_cast<int64_t>(i) != p)
      return {};
  return getInput();
}

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                              MLIRContext *context) {
  patterns.add<ComposeTransposes>(context);
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return fail(loc, "concat needs at least one input");
  auto first = cast<RankedTensorType>(inputs[0].getType());
  FailureOr<int64_t> axis =
      normalizeAxis(loc, adaptor.getAxis(), first.getRank(), "concat");
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  for (Value input : inputs.drop_front()) {
    auto t = cast<RankedTensorType>(input.getType());
    if (t.getRank() != first.getRank() ||
        t.getElementType() != first.getElementType())
      return fail(loc, "concat inputs differ in rank or element type: " +
                           str(first) + " vs " + str(t));
    for (int64_t i = 0; i < t.getRank(); ++i) {
      if (i == *axis) {
        shape[i] = (shape[i] == kDyn || t.getDimSize(i) == kDyn)
                       ? kDyn
                       : shape[i] + t.getDimSize(i);
      } else if (!dimsAgree(shape[i], t.getDimSize(i))) {
        return fail(loc, "concat inputs " + str(first) + " and " + str(t) +
                             " differ in dimension " + Twine(i));
      }
    }
  }
  types.push_back(tensorOf(shape, first.getElementType()));
  return success();
}
KILN_COMPATIBLE_RETURN_TYPES(ConcatOp)

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 && getInputs()[0].getType() == getType())
    return getInputs()[0];
  return {};
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  FailureOr<int64_t> axis =
      normalizeAxis(loc, adaptor.getAxis(), x.getRank(), "slice");
  if (failed(axis))
    return failure();
  int64_t start = adaptor.getStart(), end = adaptor.getEnd();
  int64_t size = x.getDimSize(*axis);
  if (start < 0 || end <= start || (size != kDyn && end > size))
    return fail(loc, "slice [" + Twine(start) + ", " + Twine(end) +
                         ") is empty or outside dimension " + Twine(*axis) +
                         " of " + str(x));
  SmallVector<int64_t> shape(x.getShape());
  shape[*axis] = end - start;
  types.push_back(tensorOf(shape, x.getElementType()));
  return success();
}
KILN_COMPATIBLE_RETURN_TYPES(SliceOp)

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

template <typename Adaptor>
static LogicalResult inferReduce(std::optional<Location> loc, Adaptor adaptor,
                                 SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  ArrayRef<int64_t> axes = adaptor.getAxes();
  if (axes.empty())
    return fail(loc, "reduction needs at least one axis");
  for (auto [i, a] : llvm::enumerate(axes))
    if (a < 0 || a >= x.getRank() || (i > 0 && axes[i - 1] >= a))
      return fail(loc, "reduction axes must be sorted, distinct and in [0, " +
                           Twine(x.getRank()) + ") for " + str(x));
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < x.getRank(); ++i) {
    if (!llvm::is_contained(axes, i))
      shape.push_back(x.getDimSize(i));
    else if (adaptor.getKeepdim())
      shape.push_back(1);
  }
  types.push_back(tensorOf(shape, x.getElementType()));
  return success();
}

#define KILN_REDUCE_OP(Op)                                                     \
  LogicalResult Op::inferReturnTypes(MLIRContext *, std::optional<Location> loc,\
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &types) {           \
    return inferReduce(loc, adaptor, types);                                   \
  }                                                                            \
  KILN_COMPATIBLE_RETURN_TYPES(Op)

KILN_REDUCE_OP(ReduceSumOp)
KILN_REDUCE_OP(ReduceMeanOp)
KILN_REDUCE_OP(ReduceMaxOp)
#undef KILN_REDUCE_OP

LogicalResult ArgmaxOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  FailureOr<int64_t> axis =
      normalizeAxis(loc, adaptor.getAxis(), x.getRank(), "argmax");
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(x.getShape());
  shape.erase(shape.begin() + *axis);
  types.push_back(tensorOf(shape, IntegerType::get(context, 64)));
  return success();
}
KILN_COMPATIBLE_RETURN_TYPES(ArgmaxOp)

static LogicalResult verifySoftmaxAxis(Operation *op, int64_t axis,
                                       RankedTensorType type) {
  if (axis < -type.getRank() || axis >= type.getRank())
    return op->emitOpError("axis ") << axis << " is out of range for " << type;
  return success();
}
LogicalResult SoftmaxOp::verify() {
  return verifySoftmaxAxis(*this, getAxis(), getType());
}
LogicalResult LogSoftmaxOp::verify() {
  return verifySoftmaxAxis(*this, getAxis(), getType());
}

/// Checks that each of `params` is a rank-1 tensor of `size` elements.
static LogicalResult verifyPerFeature(Operation *op, ValueRange params,
                                      int64_t size, StringRef what) {
  for (Value p : params) {
    auto t = cast<RankedTensorType>(p.getType());
    if (t.getRank() != 1 || !dimsAgree(t.getDimSize(0), size))
      return op->emitOpError("expects ")
             << what << " parameters of shape [" << size << "], got " << t;
  }
  return success();
}

static LogicalResult verifyEps(Operation *op, double eps) {
  if (!(eps > 0))
    return op->emitOpError("eps must be positive, got ") << eps;
  return success();
}

template <typename BN>
static LogicalResult verifyBatchNorm(BN op) {
  RankedTensorType x = op.getInput().getType();
  if (x.getRank() != 2 && x.getRank() != 4)
    return op.emitOpError("expects an input [N, C] or [N, C, H, W], got ") << x;
  if (failed(verifyEps(op, op.getEps().convertToDouble())))
    return failure();
  return verifyPerFeature(op, {op.getWeight(), op.getBias(),
                               op.getRunningMean(), op.getRunningVar()},
                          x.getDimSize(1), "per-channel");
}

LogicalResult BatchNormOp::verify() {
  if (failed(verifyBatchNorm(*this)))
    return failure();
  double m = getMomentum().convertToDouble();
  if (m < 0 || m > 1)
    return emitOpError("momentum must be in [0, 1], got ") << m;
  return success();
}

LogicalResult BatchNormInferenceOp::verify() { return verifyBatchNorm(*this); }

LogicalResult LayerNormOp::verify() {
  RankedTensorType x = getInput().getType();
  if (x.getRank() < 1)
    return emitOpError("expects an input of rank >= 1");
  if (failed(verifyEps(*this, getEps().convertToDouble())))
    return failure();
  return verifyPerFeature(*this, {getWeight(), getBias()},
                          x.getDimSize(x.getRank() - 1), "last-dimension");
}

//===----------------------------------------------------------------------===//
// Dropout, embedding, losses
//===----------------------------------------------------------------------===//

LogicalResult DropoutOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0 && p < 1))
    return emitOpError("p must be in [0, 1), got ") << p;
  return success();
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto ids = cast<RankedTensorType>(adaptor.getIndices().getType());
  auto table = cast<RankedTensorType>(adaptor.getTable().getType());
  if (table.getRank() != 2)
    return fail(loc, "embedding table must be [num, dim], got " + str(table));
  SmallVector<int64_t> shape(ids.getShape());
  shape.push_back(table.getDimSize(1));
  types.push_back(tensorOf(shape, table.getElementType()));
  return success();
}
KILN_COMPATIBLE_RETURN_TYPES(EmbeddingOp)

/// Class-index losses: input [N, C] against i64 targets [N].
template <typename Adaptor>
static LogicalResult inferClassLoss(MLIRContext *context,
                                    std::optional<Location> loc,
                                    Adaptor adaptor, StringRef name,
                                    SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  auto t = cast<RankedTensorType>(adaptor.getTarget().getType());
  if (x.getRank() != 2 || t.getRank() != 1)
    return fail(loc, name + " needs scores [N, C] and class indices [N], got " +
                         str(x) + " and " + str(t));
  if (!dimsAgree(x.getDimSize(0), t.getDimSize(0)))
    return fail(loc, name + " batch mismatch: scores " + str(x) +
                         " vs targets " + str(t));
  types.push_back(RankedTensorType::get({}, Float32Type::get(context)));
  return success();
}

/// Elementwise losses: input and target of one shape.
template <typename Adaptor>
static LogicalResult inferElementwiseLoss(MLIRContext *context,
                                          std::optional<Location> loc,
                                          Adaptor adaptor, StringRef name,
                                          SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  auto t = cast<RankedTensorType>(adaptor.getTarget().getType());
  if (failed(verifyCompatibleShape(x, t)))
    return fail(loc, name + " needs input and target of one shape, got " +
                         str(x) + " and " + str(t));
  types.push_back(RankedTensorType::get({}, Float32Type::get(context)));
  return success();
}

#define KILN_LOSS_OP(Op, rule, name)                                           \
  LogicalResult Op::inferReturnTypes(MLIRContext *context,                     \
                                     std::optional<Location> loc,              \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &types) {           \
    return rule(context, loc, adaptor, name, types);                           \
  }                                                                            \
  KILN_COMPATIBLE_RETURN_TYPES(Op)

KILN_LOSS_OP(CrossEntropyOp, inferClassLoss, "cross_entropy")
KILN_LOSS_OP(NllOp, inferClassLoss, "nll")
KILN_LOSS_OP(BceWithLogitsOp, inferElementwiseLoss, "bce_with_logits")
KILN_LOSS_OP(MseOp, inferElementwiseLoss, "mse")
#undef KILN_LOSS_OP

#define GET_OP_CLASSES
#include "ir/NNOps.cpp.inc"

//===----------------------------------------------------------------------===//
// KernelOp
//===----------------------------------------------------------------------===//

LogicalResult KernelOp::verify() {
  Block &body = getBody().front();
  if (body.getArgumentTypes() != getInputs().getTypes())
    return emitOpError("block arguments must have the inputs' types");
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields ")
           << yield.getValues().getTypes().size()
           << " values whose types differ from the kernel's results";
  return success();
}

/// Checks that `parts` have static shapes and `flat`'s element type, and
/// that `flat` is 1-D with as many elements as all of them.
static LogicalResult verifyPacked(Operation *op, RankedTensorType flat,
                                  TypeRange parts) {
  if (parts.empty())
    return op->emitOpError("needs at least one tensor to pack");
  if (flat.getRank() != 1)
    return op->emitOpError("packed tensor must be 1-D, not ") << flat;
  int64_t total = 0;
  for (Type t : parts) {
    auto part = cast<RankedTensorType>(t);
    if (!part.hasStaticShape())
      return op->emitOpError("packed tensors need static shapes, not ")
             << part;
    if (part.getElementType() != flat.getElementType())
      return op->emitOpError("packed tensors must have element type ")
             << flat.getElementType() << ", not " << part;
    total += part.getNumElements();
  }
  if (flat.isDynamicDim(0) || flat.getDimSize(0) != total)
    return op->emitOpError("packed tensor must hold ")
           << total << " elements, not " << flat.getShape()[0];
  return success();
}

LogicalResult PackOp::verify() {
  return verifyPacked(*this, getResult().getType(), getInputs().getTypes());
}

LogicalResult UnpackOp::verify() {
  return verifyPacked(*this, getInput().getType(), getResults().getTypes());
}
