//===- StructuredOps.cpp - the evaluator's non-elementwise ops --*- C++ -*-===//
//
// Part of kiln. Dispatches every nn op that is not elementwise to its kernel
// (Kernels.h) after checking what the verifier could not: relations between
// run-time (dynamic) dimensions of different operands, index ranges, and
// result dimensions that only run-time values determine. Each failure is a
// diagnostic at the op naming what does not fit.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Interpreter.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln::nn;
using namespace kiln::eval::kernels;
using namespace kiln::eval::detail;
using kiln::eval::BasicTensor;

namespace {

ConvParams convParams(ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                      ArrayRef<int64_t> dilation, int64_t groups) {
  return {{stride[0], stride[1]},
          {padding[0], padding[1]},
          {dilation[0], dilation[1]},
          groups};
}

/// The result shape of conv2d on operands of these shapes.
Shape convShape(const Shape &x, const Shape &w, const ConvParams &p) {
  return {x[0], w[0],
          convOutputSize(x[2], w[2], p.stride[0], p.padding[0], p.dilation[0]),
          convOutputSize(x[3], w[3], p.stride[1], p.padding[1], p.dilation[1])};
}

template <typename Op> Window windowOf(Op op) {
  ArrayRef<int64_t> k = op.getKernel(), s = op.getStride(), p = op.getPadding();
  return {{k[0], k[1]}, {s[0], s[1]}, {p[0], p[1]}};
}

/// The result shape of pooling an input of shape `x`.
Shape poolShape(const Shape &x, const Window &w) {
  return {x[0], x[1],
          poolOutputSize(x[2], w.kernel[0], w.stride[0], w.padding[0]),
          poolOutputSize(x[3], w.kernel[1], w.stride[1], w.padding[1])};
}

/// `type`'s shape with each dynamic dimension i taken from known[i]; nullopt
/// where a dynamic dimension has no known size (negative or absent).
std::optional<Shape> resolveShape(Type type, const Shape &known) {
  Shape shape(cast<RankedTensorType>(type).getShape());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!ShapedType::isDynamic(shape[i]))
      continue;
    if (i >= known.size() || known[i] < 0)
      return std::nullopt;
    shape[i] = known[i];
  }
  return shape;
}

/// `shape` without the dimensions in `axes`.
Shape dropAxes(const Shape &shape, ArrayRef<int64_t> axes) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!llvm::is_contained(axes, int64_t(d)))
      out.push_back(shape[d]);
  return out;
}

} // namespace

template <typename T> LogicalResult Interpreter<T>::structured(Operation *op) {
  auto arg = [&](unsigned i) -> const Tensor & {
    return get(op->getOperand(i));
  };
  auto setResult = [&](Tensor t) {
    set(op->getResult(0), std::move(t));
    return success();
  };
  // A reduction's result is laid out in keepdim order; dropping the size-1
  // dimensions only relabels the shape.
  auto reduced = [&](Tensor t, ArrayRef<int64_t> axes, bool keepdim) {
    if (!keepdim)
      t.shape = dropAxes(t.shape, axes);
    return setResult(std::move(t));
  };
  // The grad of a reduction must have the reduction's result shape.
  auto checkReducedGrad = [&](Value grad, const Shape &input,
                              ArrayRef<int64_t> axes,
                              bool keepdim) -> LogicalResult {
    Shape expected = keepdim ? keptShape(input, axes) : dropAxes(input, axes);
    if (get(grad).shape == expected)
      return success();
    return op->emitOpError("gradient shape ")
           << shapeString(get(grad).shape) << " does not match the reduction "
           << "of " << shapeString(input) << ", " << shapeString(expected);
  };
  auto checkFeatures = [&](ArrayRef<unsigned> operands, int64_t size,
                           StringRef what) -> LogicalResult {
    for (unsigned i : operands)
      if (arg(i).numel() != size)
        return op->emitOpError("operand ")
               << i << " has " << arg(i).numel() << " elements but the input "
               << what << " has " << size;
    return success();
  };

  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](BroadcastToOp o) -> LogicalResult {
        const Shape &to = arg(1).shape;
        std::optional<Shape> b = broadcastShapes(arg(0).shape, to);
        if (!b || *b != to)
          return o.emitOpError("cannot broadcast ")
                 << shapeString(arg(0).shape) << " to " << shapeString(to)
                 << " at run time";
        return setResult(broadcastTo(arg(0), to));
      })
      .Case([&](MatmulOp o) -> LogicalResult {
        const Shape &a = arg(0).shape, &b = arg(1).shape;
        size_t r = a.size();
        int64_t k = o.getTransposeA() ? a[r - 2] : a[r - 1];
        int64_t kb = o.getTransposeB() ? b[r - 1] : b[r - 2];
        if (k != kb || (r == 3 && a[0] != b[0]))
          return o.emitOpError("operand shapes ")
                 << shapeString(a) << " and " << shapeString(b)
                 << " do not multiply at run time";
        return setResult(
            matmul(arg(0), arg(1), o.getTransposeA(), o.getTransposeB()));
      })
      .Case([&](Conv2dOp o) -> LogicalResult {
        const Shape &x = arg(0).shape, &w = arg(1).shape;
        int64_t groups = o.getGroups();
        if (x[1] != w[1] * groups || w[0] % groups)
          return o.emitOpError("input ")
                 << shapeString(x) << " and weight " << shapeString(w)
                 << " do not match with " << groups << " groups at run time";
        return setResult(conv2d(arg(0), arg(1),
                                convParams(o.getStride(), o.getPadding(),
                                           o.getDilation(), groups)));
      })
      .Case([&](Conv2dGradInputOp o) -> LogicalResult {
        const Shape &g = arg(0).shape, &w = arg(1).shape;
        ConvParams p = convParams(o.getStride(), o.getPadding(),
                                  o.getDilation(), o.getGroups());
        // The input's batch comes from g, its channels from the weight; its
        // height and width cannot be recovered from a strided output.
        std::optional<Shape> input =
            resolveShape(o.getType(), {g[0], w[1] * p.groups, -1, -1});
        if (!input)
          return o.emitOpError("needs a static input height and width");
        if (convShape(*input, w, p) != g || w[0] % p.groups)
          return o.emitOpError("gradient ")
                 << shapeString(g) << " is not conv2d's output shape for input "
                 << shapeString(*input) << " and weight " << shapeString(w);
        return setResult(conv2dGradInput(arg(0), arg(1), *input, p));
      })
      .Case([&](Conv2dGradWeightOp o) -> LogicalResult {
        const Shape &x = arg(0).shape, &g = arg(1).shape;
        ConvParams p = convParams(o.getStride(), o.getPadding(),
                                  o.getDilation(), o.getGroups());
        std::optional<Shape> weight = resolveShape(
            o.getType(), {g.size() > 1 ? g[1] : -1, x[1] / p.groups, -1, -1});
        if (!weight)
          return o.emitOpError("needs a static kernel height and width");
        if (x[1] != (*weight)[1] * p.groups || (*weight)[0] % p.groups ||
            convShape(x, *weight, p) != g)
          return o.emitOpError("gradient ")
                 << shapeString(g) << " is not conv2d's output shape for input "
                 << shapeString(x) << " and weight " << shapeString(*weight);
        return setResult(conv2dGradWeight(arg(0), arg(1), *weight, p));
      })
      .Case([&](MaxPool2dOp o) {
        return setResult(maxPool2d(arg(0), windowOf(o)));
      })
      .Case([&](AvgPool2dOp o) {
        return setResult(avgPool2d(arg(0), windowOf(o)));
      })
      .template Case<MaxPool2dGradOp, AvgPool2dGradOp>(
          [&](auto o) -> LogicalResult {
            Window w = windowOf(o);
            const Shape &x = arg(1).shape;
            if (arg(0).shape != poolShape(x, w))
              return o.emitOpError("gradient ")
                     << shapeString(arg(0).shape)
                     << " does not match the pooled shape of " << shapeString(x)
                     << ", " << shapeString(poolShape(x, w));
            if constexpr (std::is_same_v<decltype(o), MaxPool2dGradOp>)
              return setResult(maxPool2dGrad(arg(0), arg(1), w));
            else
              return setResult(avgPool2dGrad(arg(0), x, w));
          })
      .Case([&](ReshapeOp o) -> LogicalResult {
        Tensor t = arg(0);
        auto type = o.getType();
        int64_t known = 1, dynamic = 0;
        for (int64_t d : type.getShape())
          ShapedType::isDynamic(d) ? ++dynamic : known *= d;
        int64_t n = t.numel();
        Shape shape(type.getShape());
        bool fits = dynamic == 0 ? known == n
                                 : dynamic == 1 && known > 0 && n % known == 0;
        if (!fits)
          return o.emitOpError("cannot reshape ")
                 << shapeString(t.shape) << " to " << type << " at run time";
        for (int64_t &d : shape)
          if (ShapedType::isDynamic(d))
            d = n / known;
        t.shape = shape;
        return setResult(std::move(t));
      })
      .Case([&](TransposeOp o) {
        return setResult(transpose(arg(0), o.getPerm()));
      })
      .Case([&](ConcatOp o) -> LogicalResult {
        int64_t axis = o.getAxis();
        SmallVector<const Tensor *> inputs;
        for (Value v : o.getInputs()) {
          Shape a = get(v).shape, b = arg(0).shape;
          a[axis] = b[axis] = 0;
          if (a != b)
            return o.emitOpError("operand shapes ")
                   << shapeString(get(v).shape) << " and "
                   << shapeString(arg(0).shape)
                   << " differ outside the concatenation axis at run time";
          inputs.push_back(&get(v));
        }
        return setResult(kernels::concat<T>(inputs, axis));
      })
      .Case([&](SliceOp o) -> LogicalResult {
        int64_t axis = o.getAxis(), size = arg(0).shape[axis];
        if (o.getStart() < 0 || o.getStart() > o.getEnd() || o.getEnd() > size)
          return o.emitOpError("slice [")
                 << o.getStart() << ", " << o.getEnd()
                 << ") is out of range of axis " << axis << " of size " << size;
        return setResult(slice(arg(0), axis, o.getStart(), o.getEnd()));
      })
      .Case([&](PadOp o) {
        return setResult(pad(arg(0), o.getAxis(), o.getBefore(), o.getAfter()));
      })
      .Case([&](ReduceSumOp o) {
        return reduced(reduce(arg(0), o.getAxes(), Reduction::Sum), o.getAxes(),
                       o.getKeepdim());
      })
      .Case([&](ReduceMeanOp o) {
        return reduced(reduce(arg(0), o.getAxes(), Reduction::Mean),
                       o.getAxes(), o.getKeepdim());
      })
      .Case([&](ReduceMaxOp o) {
        return reduced(reduce(arg(0), o.getAxes(), Reduction::Max), o.getAxes(),
                       o.getKeepdim());
      })
      .Case([&](ReduceMeanGradOp o) -> LogicalResult {
        if (failed(checkReducedGrad(o.getGrad(), arg(1).shape, o.getAxes(),
                                    o.getKeepdim())))
          return failure();
        return setResult(reduceMeanGrad(arg(0), arg(1).shape, o.getAxes()));
      })
      .Case([&](ReduceMaxGradOp o) -> LogicalResult {
        if (failed(checkReducedGrad(o.getGrad(), arg(1).shape, o.getAxes(),
                                    o.getKeepdim())) ||
            failed(sameShape(op, o.getGrad(), o.getMax())))
          return failure();
        return setResult(reduceMaxGrad(arg(0), arg(1), arg(2), o.getAxes()));
      })
      .Case([&](ArgmaxOp o) -> LogicalResult {
        if (arg(0).shape[o.getAxis()] == 0)
          return o.emitOpError("has no maximum along an empty axis");
        return setResult(argmax(arg(0), o.getAxis()));
      })
      .Case([&](SoftmaxOp o) {
        return setResult(softmax(arg(0), o.getAxis(), /*log=*/false));
      })
      .Case([&](LogSoftmaxOp o) {
        return setResult(softmax(arg(0), o.getAxis(), /*log=*/true));
      })
      .Case([&](BatchNormOp o) -> LogicalResult {
        const Tensor &x = arg(0);
        if (failed(checkFeatures({1, 2, 3, 4}, x.shape[1], "channel count")))
          return failure();
        if (x.numel() <= x.shape[1])
          return o.emitOpError("needs more than one value per channel in "
                               "training mode, got input ")
                 << shapeString(x.shape);
        auto [y, mean, var] = batchNorm(x, arg(1), arg(2), arg(3), arg(4),
                                        o.getEps().convertToDouble(),
                                        o.getMomentum().convertToDouble());
        set(o.getResult(), std::move(y));
        set(o.getNewRunningMean(), std::move(mean));
        set(o.getNewRunningVar(), std::move(var));
        return success();
      })
      .Case([&](BatchNormInferenceOp o) -> LogicalResult {
        if (failed(
                checkFeatures({1, 2, 3, 4}, arg(0).shape[1], "channel count")))
          return failure();
        return setResult(batchNormInference(arg(0), arg(1), arg(2), arg(3),
                                            arg(4),
                                            o.getEps().convertToDouble()));
      })
      .Case([&](BatchNormGradOp o) -> LogicalResult {
        if (failed(sameShape(op, o.getGrad(), o.getInput())) ||
            failed(checkFeatures({2}, arg(1).shape[1], "channel count")))
          return failure();
        auto [dx, dw, db] =
            batchNormGrad(arg(0), arg(1), arg(2), o.getEps().convertToDouble());
        set(o.getInputGrad(), std::move(dx));
        set(o.getWeightGrad(), std::move(dw));
        set(o.getBiasGrad(), std::move(db));
        return success();
      })
      .Case([&](LayerNormOp o) -> LogicalResult {
        if (failed(
                checkFeatures({1, 2}, arg(0).shape.back(), "last dimension")))
          return failure();
        return setResult(
            layerNorm(arg(0), arg(1), arg(2), o.getEps().convertToDouble()));
      })
      .Case([&](LayerNormGradOp o) -> LogicalResult {
        if (failed(sameShape(op, o.getGrad(), o.getInput())) ||
            failed(checkFeatures({2}, arg(1).shape.back(), "last dimension")))
          return failure();
        auto [dx, dw, db] =
            layerNormGrad(arg(0), arg(1), arg(2), o.getEps().convertToDouble());
        set(o.getInputGrad(), std::move(dx));
        set(o.getWeightGrad(), std::move(dw));
        set(o.getBiasGrad(), std::move(db));
        return success();
      })
      .Case([&](DropoutOp o) {
        return setResult(dropout(arg(0), uint64_t(arg(1).ints[0]),
                                 uint64_t(o.getStream()),
                                 o.getP().convertToDouble()));
      })
      .Case([&](EmbeddingOp o) -> LogicalResult {
        if (failed(inRange(op, arg(0), arg(1).shape[0], "embedding index")))
          return failure();
        return setResult(embedding(arg(0), arg(1)));
      })
      .Case([&](EmbeddingGradOp o) -> LogicalResult {
        Shape table(o.getType().getShape()), expected = arg(1).shape;
        expected.push_back(table[1]);
        if (arg(0).shape != expected)
          return o.emitOpError("gradient shape ")
                 << shapeString(arg(0).shape) << " does not match indices "
                 << shapeString(arg(1).shape) << " and table "
                 << shapeString(table);
        if (failed(inRange(op, arg(1), table[0], "embedding index")))
          return failure();
        return setResult(embeddingGrad(arg(0), arg(1), table[0]));
      })
      .template Case<CrossEntropyOp, NllOp>([&](auto o) -> LogicalResult {
        if (failed(checkClassTargets(op, arg(0), arg(1))))
          return failure();
        if constexpr (std::is_same_v<decltype(o), CrossEntropyOp>)
          return setResult(crossEntropy(arg(0), arg(1)));
        else
          return setResult(nll(arg(0), arg(1)));
      })
      .template Case<BceWithLogitsOp, MseOp>([&](auto o) -> LogicalResult {
        if (failed(sameShape(op, o.getInput(), o.getTarget())))
          return failure();
        if constexpr (std::is_same_v<decltype(o), MseOp>)
          return setResult(mse(arg(0), arg(1)));
        else
          return setResult(bceWithLogits(arg(0), arg(1)));
      })
      .template Case<CrossEntropyGradOp, NllGradOp>(
          [&](auto o) -> LogicalResult {
            if (arg(0).numel() != 1)
              return o.emitOpError("expects a scalar upstream gradient");
            if (failed(checkClassTargets(op, arg(1), arg(2))))
              return failure();
            T g = arg(0).values[0];
            if constexpr (std::is_same_v<decltype(o), CrossEntropyGradOp>)
              return setResult(crossEntropyGrad(g, arg(1), arg(2)));
            else
              return setResult(nllGrad(g, arg(1), arg(2)));
          })
      .template Case<BceWithLogitsGradOp, MseGradOp>(
          [&](auto o) -> LogicalResult {
            if (arg(0).numel() != 1)
              return o.emitOpError("expects a scalar upstream gradient");
            if (failed(sameShape(op, o.getInput(), o.getTarget())))
              return failure();
            T g = arg(0).values[0];
            if constexpr (std::is_same_v<decltype(o), MseGradOp>)
              return setResult(mseGrad(g, arg(1), arg(2)));
            else
              return setResult(bceWithLogitsGrad(g, arg(1), arg(2)));
          })
      .Default([&](Operation *other) -> LogicalResult {
        return other->emitOpError("has no reference semantics in kiln-run's "
                                  "evaluator");
      });
}

template LogicalResult Interpreter<float>::structured(Operation *);
template LogicalResult Interpreter<double>::structured(Operation *);
