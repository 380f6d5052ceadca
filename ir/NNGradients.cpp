//===- NNGradients.cpp - gradient rules of the nn ops -----------*- C++ -*-===//
//
// Part of kiln. One buildGradients method per differentiable op: given the
// gradients of the op's results (g; null where a result does not reach the
// loss) it builds the gradients of its operands at the builder's insertion
// point. Each rule's comment gives the math. Broadcasting binary ops sum
// their gradients back to each operand's shape. A rule that cannot be built
// (a shape it does not support) emits an error and returns no values;
// autodiff turns that into a failure.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"

#include <cmath>

using namespace mlir;
using namespace kiln::nn;

namespace {

/// A scalar f32 constant; broadcasts against any tensor.
Value scalar(OpBuilder &b, Location loc, double value) {
  auto type = RankedTensorType::get({}, b.getF32Type());
  return b.create<ConstantOp>(loc,
                              DenseElementsAttr::get(type, float(value)));
}

/// Builds a broadcasting binary op; its shape rule cannot fail on operands
/// that came out of a verified forward op.
template <typename Op>
Value binary(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  FailureOr<Op> op = createInferred<Op>(b, loc, lhs, rhs);
  assert(succeeded(op) && "gradient operands broadcast by construction");
  return (*op)->getResult(0);
}

Value add(OpBuilder &b, Location l, Value x, Value y) {
  return binary<AddOp>(b, l, x, y);
}
Value sub(OpBuilder &b, Location l, Value x, Value y) {
  return binary<SubOp>(b, l, x, y);
}
Value mul(OpBuilder &b, Location l, Value x, Value y) {
  return binary<MulOp>(b, l, x, y);
}
Value div(OpBuilder &b, Location l, Value x, Value y) {
  return binary<DivOp>(b, l, x, y);
}
Value neg(OpBuilder &b, Location l, Value x) {
  return b.create<NegOp>(l, x);
}

/// Sums `grad` over the dimensions along which a value of type `target` was
/// broadcast to produce it, giving `grad` the shape of `target`.
Value sumToType(OpBuilder &b, Location loc, Value grad,
                RankedTensorType target) {
  // Exact types: a dynamic (batch) dimension is compatible with a static 1,
  // but a gradient of that shape still has to be summed over it.
  auto type = cast<RankedTensorType>(grad.getType());
  if (type == target)
    return grad;
  int64_t lead = type.getRank() - target.getRank();
  SmallVector<int64_t> axes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (i < lead || (target.getDimSize(i - lead) == 1 && type.getDimSize(i) != 1))
      axes.push_back(i);
  Value summed = grad;
  if (!axes.empty()) {
    FailureOr<ReduceSumOp> sum = createInferred<ReduceSumOp>(
        b, loc, grad, ArrayRef<int64_t>(axes), /*keepdim=*/true);
    assert(succeeded(sum) && "axes are in range by construction");
    summed = sum->getResult();
  }
  if (summed.getType() == target)
    return summed;
  return b.create<ReshapeOp>(loc, target, summed);
}

RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

/// `grad` of a reduction over `axes` reshaped to keep the reduced dimensions
/// as size 1, so it broadcasts against the reduction's input.
Value keepReducedDims(OpBuilder &b, Location loc, Value grad,
                      RankedTensorType input, ArrayRef<int64_t> axes,
                      bool keepdim) {
  if (keepdim)
    return grad;
  SmallVector<int64_t> shape(input.getShape());
  for (int64_t a : axes)
    shape[a] = 1;
  return b.create<ReshapeOp>(loc, input.clone(shape), grad);
}

/// Sum of `x` over `axis`, keeping it as size 1.
Value sumKeep(OpBuilder &b, Location loc, Value x, int64_t axis) {
  FailureOr<ReduceSumOp> sum = createInferred<ReduceSumOp>(
      b, loc, x, ArrayRef<int64_t>{axis}, /*keepdim=*/true);
  assert(succeeded(sum) && "axis verified by the forward op");
  return sum->getResult();
}

Value matmul(OpBuilder &b, Location loc, Value x, Value y, bool ta, bool tb) {
  FailureOr<MatmulOp> op = createInferred<MatmulOp>(b, loc, x, y, ta, tb);
  assert(succeeded(op) && "gradient matmuls contract matching dimensions");
  return op->getResult();
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise unary ops: g is the result's gradient, y the result
//===----------------------------------------------------------------------===//

// d/dx -x = -1
SmallVector<Value> NegOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  return {neg(b, getLoc(), g[0])};
}

// d/dx e^x = e^x = y
SmallVector<Value> ExpOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  return {mul(b, getLoc(), g[0], getResult())};
}

// d/dx ln x = 1 / x
SmallVector<Value> LogOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  return {div(b, getLoc(), g[0], getInput())};
}

// d/dx sqrt(x) = 1 / (2 y)
SmallVector<Value> SqrtOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  return {div(b, l, g[0], mul(b, l, getResult(), scalar(b, l, 2.0)))};
}

// d/dx |x| = sign(x) (0 at 0, as PyTorch)
SmallVector<Value> AbsOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  return {mul(b, l, g[0], b.create<SignOp>(l, getInput()))};
}

// d/dx max(x, 0) = x > 0 (0 at 0, as PyTorch)
SmallVector<Value> ReluOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  // relu(x) > 0 exactly where x > 0: masking with the output keeps only the
  // activation alive for backward, not the pre-activation too (and the
  // forward GEMM's epilogue then has one result).
  return {b.create<ReluGradOp>(getLoc(), g[0], getResult())};
}

// d/dx sigmoid(x) = y (1 - y)
SmallVector<Value> SigmoidOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value y = getResult();
  return {mul(b, l, g[0], mul(b, l, y, sub(b, l, scalar(b, l, 1.0), y)))};
}

// d/dx tanh(x) = 1 - y^2
SmallVector<Value> TanhOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value y = getResult();
  return {mul(b, l, g[0], sub(b, l, scalar(b, l, 1.0), mul(b, l, y, y)))};
}

// d/dx leaky_relu(x) = x > 0 ? 1 : alpha
SmallVector<Value> LeakyReluOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  return {b.create<LeakyReluGradOp>(getLoc(), g[0], getInput(), getAlpha())};
}

// d/dx x Phi(x) = Phi(x) + x phi(x) (or the tanh form's derivative)
SmallVector<Value> GeluOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  return {b.create<GeluGradOp>(getLoc(), g[0], getInput(), getApproximate())};
}

// d/dx cos(x) = -sin(x) = cos(x + pi/2)
SmallVector<Value> CosOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value shifted = add(b, l, getInput(), scalar(b, l, M_PI_2));
  return {mul(b, l, g[0], b.create<CosOp>(l, shifted))};
}

// floor and sign are piecewise constant: zero gradient almost everywhere.
SmallVector<Value> FloorOp::buildGradients(OpBuilder &, ArrayRef<Value>) {
  return {Value()};
}
SmallVector<Value> SignOp::buildGradients(OpBuilder &, ArrayRef<Value>) {
  return {Value()};
}

//===----------------------------------------------------------------------===//
// Broadcasting binary ops: each operand's gradient is summed to its shape
//===----------------------------------------------------------------------===//

// d(a + b) = (g, g)
SmallVector<Value> AddOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  return {sumToType(b, l, g[0], getLhs().getType()),
          sumToType(b, l, g[0], getRhs().getType())};
}

// d(a - b) = (g, -g)
SmallVector<Value> SubOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  return {sumToType(b, l, g[0], getLhs().getType()),
          sumToType(b, l, neg(b, l, g[0]), getRhs().getType())};
}

// d(a b) = (g b, g a)
SmallVector<Value> MulOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  return {sumToType(b, l, mul(b, l, g[0], getRhs()), getLhs().getType()),
          sumToType(b, l, mul(b, l, g[0], getLhs()), getRhs().getType())};
}

// d(a / b) = (g / b, -g (a / b) / b)
SmallVector<Value> DivOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value da = div(b, l, g[0], getRhs());
  Value db = neg(b, l, div(b, l, mul(b, l, g[0], getResult()), getRhs()));
  return {sumToType(b, l, da, getLhs().getType()),
          sumToType(b, l, db, getRhs().getType())};
}

// d(a^b) = (g b a^(b-1), g a^b ln a)
SmallVector<Value> PowOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value a = getLhs(), e = getRhs();
  Value lower = binary<PowOp>(b, l, a, sub(b, l, e, scalar(b, l, 1.0)));
  Value da = mul(b, l, g[0], mul(b, l, e, lower));
  Value db = mul(b, l, g[0], mul(b, l, getResult(), b.create<LogOp>(l, a)));
  return {sumToType(b, l, da, typeOf(a)), sumToType(b, l, db, typeOf(e))};
}

/// g (1 + [x > y] - [y > x]) / 2: all of g where x > y, none where x < y,
/// half at a tie, as torch.maximum and torch.minimum split it. max(a, b)
/// gives a this share of g with (x, y) = (a, b), min(a, b) with (b, a);
/// the other operand gets the rest.
static Value tieSplitShare(OpBuilder &b, Location l, Value g, Value x,
                           Value y) {
  Value up = binary<GreaterOp>(b, l, x, y);
  Value down = binary<GreaterOp>(b, l, y, x);
  Value share = mul(b, l, add(b, l, sub(b, l, up, down), scalar(b, l, 1.0)),
                    scalar(b, l, 0.5));
  return mul(b, l, g, share);
}

// d max(a, b) = (g [a > b], g [a < b]), half each at a tie.
SmallVector<Value> MaximumOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value da = tieSplitShare(b, l, g[0], getLhs(), getRhs());
  Value db = sub(b, l, g[0], da);
  return {sumToType(b, l, da, getLhs().getType()),
          sumToType(b, l, db, getRhs().getType())};
}

// d min(a, b) = (g [a < b], g [a > b]), half each at a tie.
SmallVector<Value> MinimumOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value da = tieSplitShare(b, l, g[0], getRhs(), getLhs());
  Value db = sub(b, l, g[0], da);
  return {sumToType(b, l, da, getLhs().getType()),
          sumToType(b, l, db, getRhs().getType())};
}

// A comparison mask is piecewise constant.
SmallVector<Value> GreaterOp::buildGradients(OpBuilder &, ArrayRef<Value>) {
  return {Value(), Value()};
}

//===----------------------------------------------------------------------===//
// Linear algebra, convolution, pooling
//===----------------------------------------------------------------------===//

// C = op(A) op(B), op transposing when the flag is set:
//   d op(A) = g op(B)^T, d op(B) = op(A)^T g, and dA = (d op(A))^T if ta.
SmallVector<Value> MatmulOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  bool ta = getTransposeA(), tb = getTransposeB();
  Value a = getLhs(), bm = getRhs();
  Value da = ta ? matmul(b, l, bm, g[0], tb, true)   // op(B) g^T
                : matmul(b, l, g[0], bm, false, !tb); // g op(B)^T
  Value db = tb ? matmul(b, l, g[0], a, true, ta)    // g^T op(A)
                : matmul(b, l, a, g[0], !ta, false); // op(A)^T g
  return {da, db};
}

// dx: the transposed convolution of g with w; dw: x correlated with g.
SmallVector<Value> Conv2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value dx = b.create<Conv2dGradInputOp>(
      l, getInput().getType(), g[0], getWeight(), getStride(), getPadding(),
      getDilation(), getGroups());
  Value dw = b.create<Conv2dGradWeightOp>(
      l, getWeight().getType(), getInput(), g[0], getStride(), getPadding(),
      getDilation(), getGroups());
  return {dx, dw};
}

// Each window's gradient goes to the window's first maximum.
SmallVector<Value> MaxPool2dOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  return {b.create<MaxPool2dGradOp>(getLoc(), g[0], getInput(), getKernel(),
                                    getStride(), getPadding())};
}

// Each window's gradient is spread evenly over the window.
SmallVector<Value> AvgPool2dOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  return {b.create<AvgPool2dGradOp>(getLoc(), g[0], getInput(), getKernel(),
                                    getStride(), getPadding())};
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

// Reshape is a relabeling: reshape g back.
SmallVector<Value> ReshapeOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  return {b.create<ReshapeOp>(getLoc(), getInput().getType(), g[0])};
}

// Transpose back with the inverse permutation.
SmallVector<Value> TransposeOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  SmallVector<int64_t> inverse(getPerm().size());
  for (auto [i, p] : llvm::enumerate(getPerm()))
    inverse[p] = i;
  return {b.create<TransposeOp>(getLoc(), getInput().getType(), g[0],
                                inverse)};
}

// Each input's gradient is its slice of g along the axis.
SmallVector<Value> ConcatOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  SmallVector<Value> grads;
  int64_t axis = getAxis(), offset = 0;
  for (Value input : getInputs()) {
    int64_t size = typeOf(input).getDimSize(axis);
    if (ShapedType::isDynamic(size)) {
      emitError("the gradient of concat along the dynamic batch dimension is "
                "not supported");
      return {};
    }
    grads.push_back(b.create<SliceOp>(getLoc(), input.getType(), g[0], axis,
                                      offset, offset + size));
    offset += size;
  }
  return grads;
}

// The slice's gradient is g zero-padded back to the input's extent.
SmallVector<Value> SliceOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  int64_t size = getInput().getType().getDimSize(getAxis());
  if (ShapedType::isDynamic(size)) {
    emitError("the gradient of a slice of the dynamic batch dimension is not "
              "supported");
    return {};
  }
  return {b.create<PadOp>(getLoc(), getInput().getType(), g[0], getAxis(),
                          getStart(), size - getEnd())};
}

// Broadcasting's gradient sums over the broadcast dimensions.
SmallVector<Value> BroadcastToOp::buildGradients(OpBuilder &b,
                                                 ArrayRef<Value> g) {
  return {sumToType(b, getLoc(), g[0], getInput().getType()), Value()};
}

// Padding's gradient is the unpadded slice of g.
SmallVector<Value> PadOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  int64_t size = getInput().getType().getDimSize(getAxis());
  return {b.create<SliceOp>(getLoc(), getInput().getType(), g[0], getAxis(),
                            getBefore(), getBefore() + size)};
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

// d sum = g broadcast over the reduced axes.
SmallVector<Value> ReduceSumOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  Location l = getLoc();
  Value kept = keepReducedDims(b, l, g[0], getInput().getType(), getAxes(),
                               getKeepdim());
  return {b.create<BroadcastToOp>(l, kept, getInput())};
}

// d mean = g broadcast over the reduced axes / their element count.
SmallVector<Value> ReduceMeanOp::buildGradients(OpBuilder &b,
                                                ArrayRef<Value> g) {
  return {b.create<ReduceMeanGradOp>(getLoc(), getInput().getType(), g[0],
                                     getInput(), getAxes(), getKeepdim())};
}

// d amax = g split evenly among the maxima.
SmallVector<Value> ReduceMaxOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  return {b.create<ReduceMaxGradOp>(getLoc(), getInput().getType(), g[0],
                                    getInput(), getResult(), getAxes(),
                                    getKeepdim())};
}

// d softmax = y (g - sum(g y))
SmallVector<Value> SoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value y = getResult();
  Value dot = sumKeep(b, l, mul(b, l, g[0], y), getAxis());
  return {mul(b, l, y, sub(b, l, g[0], dot))};
}

// d log_softmax = g - e^y sum(g)
SmallVector<Value> LogSoftmaxOp::buildGradients(OpBuilder &b,
                                                ArrayRef<Value> g) {
  Location l = getLoc();
  Value softmax = b.create<ExpOp>(l, getResult());
  return {sub(b, l, g[0], mul(b, l, softmax, sumKeep(b, l, g[0], getAxis())))};
}

// Training-mode batch norm: gradients of input, weight and bias from the
// recomputed batch statistics. The running statistics are state, not
// differentiated.
SmallVector<Value> BatchNormOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  if (!g[0])
    return {Value(), Value(), Value(), Value(), Value()};
  auto grad = b.create<BatchNormGradOp>(getLoc(), g[0], getInput(),
                                        getWeight(), getEps());
  return {grad.getInputGrad(), grad.getWeightGrad(), grad.getBiasGrad(),
          Value(), Value()};
}

// Layer norm: gradients of input, weight and bias.
SmallVector<Value> LayerNormOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  auto grad = b.create<LayerNormGradOp>(getLoc(), g[0], getInput(),
                                        getWeight(), getEps());
  return {grad.getInputGrad(), grad.getWeightGrad(), grad.getBiasGrad()};
}

//===----------------------------------------------------------------------===//
// Dropout, embedding, losses
//===----------------------------------------------------------------------===//

// Dropout is linear in x with the same mask: its gradient is dropout of g
// with the same seed and stream.
SmallVector<Value> DropoutOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  return {b.create<DropoutOp>(getLoc(), g[0], getSeed(), getP(), getStream()),
          Value()};
}

// The table's gradient scatters g's rows to the looked-up indices.
SmallVector<Value> EmbeddingOp::buildGradients(OpBuilder &b,
                                               ArrayRef<Value> g) {
  return {Value(), b.create<EmbeddingGradOp>(getLoc(), getTable().getType(),
                                             g[0], getIndices())};
}

// d/dx mean_i CE = (softmax(x) - onehot(t)) / N; class indices get none.
SmallVector<Value> CrossEntropyOp::buildGradients(OpBuilder &b,
                                                  ArrayRef<Value> g) {
  return {b.create<CrossEntropyGradOp>(getLoc(), g[0], getInput(), getTarget()),
          Value()};
}

// d/dx mean_i -x[i, t_i] = -onehot(t) / N
SmallVector<Value> NllOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  return {b.create<NllGradOp>(getLoc(), g[0], getInput(), getTarget()),
          Value()};
}

// d/dx mean BCE(sigmoid(x), t) = (sigmoid(x) - t) / numel. Targets are
// treated as data (no gradient), as labels are.
SmallVector<Value> BceWithLogitsOp::buildGradients(OpBuilder &b,
                                                   ArrayRef<Value> g) {
  return {b.create<BceWithLogitsGradOp>(getLoc(), g[0], getInput(),
                                        getTarget()),
          Value()};
}

// d mean (x - t)^2 = (2 (x - t) / numel, -2 (x - t) / numel)
SmallVector<Value> MseOp::buildGradients(OpBuilder &b, ArrayRef<Value> g) {
  Location l = getLoc();
  Value dx = b.create<MseGradOp>(l, g[0], getInput(), getTarget());
  Value dt = neg(b, l, dx);
  return {dx, sumToType(b, l, dt, getTarget().getType())};
}
