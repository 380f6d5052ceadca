//===- Evaluator.cpp - reference interpreter of the nn dialect --*- C++ -*-===//
//
// Part of kiln. Implements evaluate() (Evaluator.h): walks the function's
// ops in order and computes each one with direct loops over row-major
// buffers. Shapes are taken from the run-time operands (the batch dimension
// may have any size); every formula is the textbook one, written out, so the
// numbers can be trusted as a reference. No op is fused or reordered.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Evaluator.h"
#include "ir/NNDialect.h"
#include "runtime/Random.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

using namespace mlir;
using namespace kiln::nn;
using kiln::eval::Tensor;
using Shape = std::vector<int64_t>;

int64_t Tensor::numel() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         std::multiplies<int64_t>());
}

Tensor Tensor::zeros(Shape shape) {
  Tensor t;
  t.shape = std::move(shape);
  t.values.assign(t.numel(), 0.0);
  return t;
}

Tensor Tensor::integers(Shape shape, std::vector<int64_t> ints) {
  Tensor t;
  t.shape = std::move(shape);
  t.ints = std::move(ints);
  t.isInteger = true;
  return t;
}

namespace {

/// Row-major strides of `shape`.
Shape stridesOf(const Shape &shape) {
  Shape strides(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// Calls fn(index, flat) for every multi-index of `shape` in row-major order.
void forEachIndex(const Shape &shape,
                  const std::function<void(const Shape &, int64_t)> &fn) {
  int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t{1},
                              std::multiplies<int64_t>());
  Shape index(shape.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    fn(index, flat);
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
}

/// Flat offset into a tensor of `shape` for `index` aligned at the trailing
/// dimensions, with broadcast (size-1) dimensions pinned to 0.
int64_t broadcastOffset(const Shape &shape, const Shape &strides,
                        const Shape &index) {
  int64_t offset = 0, lead = int64_t(index.size()) - int64_t(shape.size());
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1)
      offset += index[d + lead] * strides[d];
  return offset;
}

std::optional<Shape> broadcastShapes(const Shape &a, const Shape &b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t ia = int64_t(i) - int64_t(rank - a.size());
    int64_t ib = int64_t(i) - int64_t(rank - b.size());
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

double erfPhi(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }

/// The interpreter state for one call.
class Interpreter {
public:
  explicit Interpreter(kiln::eval::Precision precision)
      : roundToFloat(precision == kiln::eval::Precision::Float) {}

  FailureOr<std::vector<Tensor>> run(func::FuncOp func,
                                     ArrayRef<Tensor> args);

private:
  bool roundToFloat;
  llvm::DenseMap<Value, Tensor> env;

  const Tensor &get(Value v) { return env.find(v)->second; }
  void set(Value v, Tensor t) {
    if (roundToFloat && !t.isInteger)
      for (double &x : t.values)
        x = double(float(x));
    env[v] = std::move(t);
  }

  LogicalResult step(Operation *op);

  Tensor unary(const Tensor &x, const std::function<double(double)> &f);
  FailureOr<Tensor> binary(Operation *op, const Tensor &a, const Tensor &b,
                           const std::function<double(double, double)> &f);
  FailureOr<Tensor> matmul(MatmulOp op);
  Tensor conv(const Tensor &x, const Tensor &w, const Tensor *gradOut,
              Shape outShape, ArrayRef<int64_t> stride,
              ArrayRef<int64_t> padding, ArrayRef<int64_t> dilation,
              int64_t groups, int mode);
  Tensor pool(const Tensor &x, ArrayRef<int64_t> kernel,
              ArrayRef<int64_t> stride, ArrayRef<int64_t> padding, bool max,
              const Tensor *gradOut);
  Tensor reduce(const Tensor &x, ArrayRef<int64_t> axes, int kind);
  Tensor softmax(const Tensor &x, int64_t axis, bool log);
};

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

Tensor Interpreter::unary(const Tensor &x,
                          const std::function<double(double)> &f) {
  Tensor out = Tensor::zeros(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i)
    out.values[i] = f(x.values[i]);
  return out;
}

FailureOr<Tensor>
Interpreter::binary(Operation *op, const Tensor &a, const Tensor &b,
                    const std::function<double(double, double)> &f) {
  std::optional<Shape> shape = broadcastShapes(a.shape, b.shape);
  if (!shape)
    return op->emitError("operand shapes do not broadcast at run time");
  Tensor out = Tensor::zeros(*shape);
  Shape sa = stridesOf(a.shape), sb = stridesOf(b.shape);
  forEachIndex(*shape, [&](const Shape &index, int64_t flat) {
    out.values[flat] = f(a.values[broadcastOffset(a.shape, sa, index)],
                         b.values[broadcastOffset(b.shape, sb, index)]);
  });
  return out;
}

//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling
//===----------------------------------------------------------------------===//

FailureOr<Tensor> Interpreter::matmul(MatmulOp op) {
  const Tensor &a = get(op.getLhs()), &b = get(op.getRhs());
  bool batched = a.shape.size() == 3;
  int64_t batch = batched ? a.shape[0] : 1, r = a.shape.size();
  int64_t m = a.shape[r - 2], k = a.shape[r - 1];
  if (op.getTransposeA())
    std::swap(m, k);
  int64_t kb = b.shape[r - 2], n = b.shape[r - 1];
  if (op.getTransposeB())
    std::swap(kb, n);
  if (k != kb || (batched && b.shape[0] != batch))
    return op.emitError("matmul operand shapes do not match at run time");
  Shape shape = batched ? Shape{batch, m, n} : Shape{m, n};
  Tensor out = Tensor::zeros(shape);
  // Element (i, j) of op(A) and op(B) in batch item z.
  auto at = [&](int64_t z, int64_t i, int64_t j) {
    int64_t rows = a.shape[r - 2], cols = a.shape[r - 1];
    return op.getTransposeA() ? a.values[z * rows * cols + j * cols + i]
                              : a.values[z * rows * cols + i * cols + j];
  };
  auto bt = [&](int64_t z, int64_t i, int64_t j) {
    int64_t rows = b.shape[r - 2], cols = b.shape[r - 1];
    return op.getTransposeB() ? b.values[z * rows * cols + j * cols + i]
                              : b.values[z * rows * cols + i * cols + j];
  };
  for (int64_t z = 0; z < batch; ++z)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += at(z, i, p) * bt(z, p, j);
        out.values[(z * m + i) * n + j] = sum;
      }
  return out;
}

/// One loop nest for the three convolution ops. mode 0: forward
/// (out = conv(x, w)); mode 1: input gradient (out = d x, from gradOut and
/// w); mode 2: weight gradient (out = d w, from x and gradOut).
Tensor Interpreter::conv(const Tensor &x, const Tensor &w,
                         const Tensor *gradOut, Shape outShape,
                         ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                         ArrayRef<int64_t> dilation, int64_t groups,
                         int mode) {
  Tensor out = Tensor::zeros(outShape);
  const Shape &xs = mode == 1 ? outShape : x.shape;
  const Shape &ws = mode == 2 ? outShape : w.shape;
  int64_t n = xs[0], h = xs[2], wd = xs[3];
  int64_t o = ws[0], cg = ws[1], kh = ws[2], kw = ws[3];
  int64_t og = o / groups;
  int64_t oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1;
  int64_t ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      int64_t g = oc / og;
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          int64_t outIndex = ((b * o + oc) * oh + y) * ow + xo;
          double acc = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t iy = y * stride[0] - padding[0] + i * dilation[0];
                int64_t ix = xo * stride[1] - padding[1] + j * dilation[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                  continue;
                int64_t xIndex = ((b * xs[1] + g * cg + ci) * h + iy) * wd + ix;
                int64_t wIndex = ((oc * cg + ci) * kh + i) * kw + j;
                if (mode == 0)
                  acc += x.values[xIndex] * w.values[wIndex];
                else if (mode == 1)
                  out.values[xIndex] += gradOut->values[outIndex] * w.values[wIndex];
                else
                  out.values[wIndex] += gradOut->values[outIndex] * x.values[xIndex];
              }
          if (mode == 0)
            out.values[outIndex] = acc;
        }
    }
  return out;
}

/// Max or average pooling (padding counted in the average's divisor); with
/// gradOut, the gradient with respect to x instead.
Tensor Interpreter::pool(const Tensor &x, ArrayRef<int64_t> kernel,
                         ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                         bool max, const Tensor *gradOut) {
  int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  int64_t oh = (h + 2 * padding[0] - kernel[0]) / stride[0] + 1;
  int64_t ow = (w + 2 * padding[1] - kernel[1]) / stride[1] + 1;
  Tensor out = gradOut ? Tensor::zeros(x.shape) : Tensor::zeros({n, c, oh, ow});
  double area = double(kernel[0] * kernel[1]);
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xo = 0; xo < ow; ++xo) {
        int64_t outIndex = (p * oh + y) * ow + xo;
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t bestIndex = -1;
        for (int64_t i = 0; i < kernel[0]; ++i)
          for (int64_t j = 0; j < kernel[1]; ++j) {
            int64_t iy = y * stride[0] - padding[0] + i;
            int64_t ix = xo * stride[1] - padding[1] + j;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
              continue;
            int64_t index = (p * h + iy) * w + ix;
            if (max && x.values[index] > best) {
              best = x.values[index];
              bestIndex = index;
            }
            if (!max) {
              sum += x.values[index];
              if (gradOut)
                out.values[index] += gradOut->values[outIndex] / area;
            }
          }
        if (!gradOut)
          out.values[outIndex] = max ? best : sum / area;
        else if (max && bestIndex >= 0)
          out.values[bestIndex] += gradOut->values[outIndex];
      }
  return out;
}

//===----------------------------------------------------------------------===//
// Reductions and softmax
//===----------------------------------------------------------------------===//

/// Shape of a reduction over `axes` keeping them as size 1.
Shape keptShape(const Shape &shape, ArrayRef<int64_t> axes) {
  Shape kept = shape;
  for (int64_t a : axes)
    kept[a] = 1;
  return kept;
}

/// kind 0: sum, 1: mean, 2: max. The result is laid out in keepdim order
/// (the same buffer whether or not the reduced dimensions are kept).
Tensor Interpreter::reduce(const Tensor &x, ArrayRef<int64_t> axes, int kind) {
  Shape kept = keptShape(x.shape, axes);
  Tensor out = Tensor::zeros(kept);
  if (kind == 2)
    std::fill(out.values.begin(), out.values.end(),
              -std::numeric_limits<double>::infinity());
  Shape ks = stridesOf(kept);
  forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
    double &slot = out.values[broadcastOffset(kept, ks, index)];
    slot = kind == 2 ? std::max(slot, x.values[flat]) : slot + x.values[flat];
  });
  if (kind == 1) {
    double count = double(x.numel()) / double(out.numel());
    for (double &v : out.values)
      v /= count;
  }
  return out;
}

Tensor Interpreter::softmax(const Tensor &x, int64_t axis, bool log) {
  Tensor max = reduce(x, {axis}, 2);
  Shape kept = max.shape, ks = stridesOf(kept);
  Tensor sum = Tensor::zeros(kept);
  forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
    int64_t r = broadcastOffset(kept, ks, index);
    sum.values[r] += std::exp(x.values[flat] - max.values[r]);
  });
  Tensor out = Tensor::zeros(x.shape);
  forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
    int64_t r = broadcastOffset(kept, ks, index);
    double shifted = x.values[flat] - max.values[r];
    out.values[flat] = log ? shifted - std::log(sum.values[r])
                           : std::exp(shifted) / sum.values[r];
  });
  return out;
}

/// Per-feature statistics for batch norm (feature = dimension 1) or layer
/// norm (feature = last dimension; statistics per row).
struct Moments {
  std::vector<double> mean, var; // biased variance
  int64_t count = 0;
};

/// Batch-norm moments: per channel over N (and H, W).
Moments channelMoments(const Tensor &x) {
  int64_t c = x.shape[1], inner = x.numel() / (x.shape[0] * c);
  Moments m;
  m.mean.assign(c, 0);
  m.var.assign(c, 0);
  m.count = x.shape[0] * inner;
  auto channel = [&](int64_t i) { return (i / inner) % c; };
  for (int64_t i = 0; i < x.numel(); ++i)
    m.mean[channel(i)] += x.values[i];
  for (double &v : m.mean)
    v /= double(m.count);
  for (int64_t i = 0; i < x.numel(); ++i) {
    double d = x.values[i] - m.mean[channel(i)];
    m.var[channel(i)] += d * d;
  }
  for (double &v : m.var)
    v /= double(m.count);
  return m;
}

/// Layer-norm moments: per row of the last dimension.
Moments rowMoments(const Tensor &x) {
  int64_t d = x.shape.back(), rows = x.numel() / d;
  Moments m;
  m.mean.assign(rows, 0);
  m.var.assign(rows, 0);
  m.count = d;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < d; ++j)
      m.mean[r] += x.values[r * d + j];
    m.mean[r] /= double(d);
    for (int64_t j = 0; j < d; ++j) {
      double e = x.values[r * d + j] - m.mean[r];
      m.var[r] += e * e;
    }
    m.var[r] /= double(d);
  }
  return m;
}

//===----------------------------------------------------------------------===//
// The op dispatcher
//===----------------------------------------------------------------------===//

Shape runtimeShape(Type type, int64_t numel) {
  auto t = cast<RankedTensorType>(type);
  Shape shape(t.getShape());
  int64_t known = 1;
  for (int64_t d : shape)
    if (!ShapedType::isDynamic(d))
      known *= d;
  for (int64_t &d : shape)
    if (ShapedType::isDynamic(d))
      d = known ? numel / known : 0;
  return shape;
}

LogicalResult Interpreter::step(Operation *op) {
  auto f = [&](int i) -> const Tensor & { return get(op->getOperand(i)); };
  auto setResult = [&](FailureOr<Tensor> t) -> LogicalResult {
    if (failed(t))
      return failure();
    set(op->getResult(0), std::move(*t));
    return success();
  };
  auto binaryOp = [&](std::function<double(double, double)> fn) {
    return setResult(binary(op, f(0), f(1), fn));
  };
  auto unaryOp = [&](std::function<double(double)> fn) {
    return setResult(unary(f(0), fn));
  };

  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](ConstantOp c) {
        auto attr = cast<DenseElementsAttr>(c.getValue());
        Shape shape(attr.getType().getShape());
        if (attr.getElementType().isInteger(64)) {
          std::vector<int64_t> ints;
          for (APInt v : attr.getValues<APInt>())
            ints.push_back(v.getSExtValue());
          return setResult(Tensor::integers(shape, ints));
        }
        Tensor t = Tensor::zeros(shape);
        int64_t i = 0;
        for (APFloat v : attr.getValues<APFloat>())
          t.values[i++] = v.convertToDouble();
        return setResult(t);
      })
      .Case([&](NegOp) { return unaryOp([](double x) { return -x; }); })
      .Case([&](ExpOp) { return unaryOp([](double x) { return std::exp(x); }); })
      .Case([&](LogOp) { return unaryOp([](double x) { return std::log(x); }); })
      .Case([&](SqrtOp) { return unaryOp([](double x) { return std::sqrt(x); }); })
      .Case([&](AbsOp) { return unaryOp([](double x) { return std::fabs(x); }); })
      .Case([&](CosOp) { return unaryOp([](double x) { return std::cos(x); }); })
      .Case([&](FloorOp) { return unaryOp([](double x) { return std::floor(x); }); })
      .Case([&](SignOp) {
        return unaryOp([](double x) { return double((x > 0) - (x < 0)); });
      })
      .Case([&](ReluOp) { return unaryOp([](double x) { return x > 0 ? x : 0.0; }); })
      .Case([&](SigmoidOp) {
        return unaryOp([](double x) { return 1.0 / (1.0 + std::exp(-x)); });
      })
      .Case([&](TanhOp) { return unaryOp([](double x) { return std::tanh(x); }); })
      .Case([&](LeakyReluOp o) {
        double a = o.getAlpha().convertToDouble();
        return unaryOp([a](double x) { return x > 0 ? x : a * x; });
      })
      .Case([&](GeluOp o) {
        if (o.getApproximate() == "tanh")
          return unaryOp([](double x) {
            double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
            return 0.5 * x * (1.0 + std::tanh(u));
          });
        return unaryOp([](double x) { return x * erfPhi(x); });
      })
      .Case([&](AddOp) { return binaryOp(std::plus<double>()); })
      .Case([&](SubOp) { return binaryOp(std::minus<double>()); })
      .Case([&](MulOp) { return binaryOp(std::multiplies<double>()); })
      .Case([&](DivOp) { return binaryOp(std::divides<double>()); })
      .Case([&](PowOp) {
        return binaryOp([](double a, double b) { return std::pow(a, b); });
      })
      .Case([&](MaximumOp) {
        return binaryOp([](double a, double b) { return std::max(a, b); });
      })
      .Case([&](MinimumOp) {
        return binaryOp([](double a, double b) { return std::min(a, b); });
      })
      .Case([&](GreaterOp) {
        return binaryOp([](double a, double b) { return a > b ? 1.0 : 0.0; });
      })
      .Case([&](BroadcastToOp) {
        return setResult(binary(op, f(0), f(1), [](double a, double) { return a; }));
      })
      .Case([&](MatmulOp o) { return setResult(matmul(o)); })
      .Case([&](Conv2dOp o) {
        const Tensor &x = f(0), &w = f(1);
        int64_t kh = w.shape[2], kw = w.shape[3];
        auto s = o.getStride(), p = o.getPadding(), d = o.getDilation();
        Shape shape = {x.shape[0], w.shape[0],
                       (x.shape[2] + 2 * p[0] - d[0] * (kh - 1) - 1) / s[0] + 1,
                       (x.shape[3] + 2 * p[1] - d[1] * (kw - 1) - 1) / s[1] + 1};
        return setResult(conv(x, w, nullptr, shape, s, p, d, o.getGroups(), 0));
      })
      .Case([&](Conv2dGradInputOp o) {
        const Tensor &g = f(0), &w = f(1);
        Shape shape = runtimeShape(o.getType(), 0);
        shape[0] = g.shape[0];
        return setResult(conv(Tensor(), w, &g, shape, o.getStride(),
                              o.getPadding(), o.getDilation(), o.getGroups(), 1));
      })
      .Case([&](Conv2dGradWeightOp o) {
        const Tensor &x = f(0), &g = f(1);
        Shape shape(o.getType().getShape());
        return setResult(conv(x, Tensor(), &g, shape, o.getStride(),
                              o.getPadding(), o.getDilation(), o.getGroups(), 2));
      })
      .Case([&](MaxPool2dOp o) {
        return setResult(pool(f(0), o.getKernel(), o.getStride(),
                              o.getPadding(), true, nullptr));
      })
      .Case([&](AvgPool2dOp o) {
        return setResult(pool(f(0), o.getKernel(), o.getStride(),
                              o.getPadding(), false, nullptr));
      })
      .Case([&](MaxPool2dGradOp o) {
        return setResult(pool(f(1), o.getKernel(), o.getStride(),
                              o.getPadding(), true, &f(0)));
      })
      .Case([&](AvgPool2dGradOp o) {
        return setResult(pool(f(1), o.getKernel(), o.getStride(),
                              o.getPadding(), false, &f(0)));
      })
      .Case([&](ReshapeOp o) {
        Tensor t = f(0);
        t.shape = runtimeShape(o.getType(), t.numel());
        return setResult(t);
      })
      .Case([&](TransposeOp o) {
        const Tensor &x = f(0);
        Shape shape;
        for (int64_t p : o.getPerm())
          shape.push_back(x.shape[p]);
        Tensor out = x;
        out.shape = shape;
        Shape xs = stridesOf(x.shape);
        forEachIndex(shape, [&](const Shape &index, int64_t flat) {
          int64_t src = 0;
          for (size_t i = 0; i < index.size(); ++i)
            src += index[i] * xs[o.getPerm()[i]];
          if (x.isInteger)
            out.ints[flat] = x.ints[src];
          else
            out.values[flat] = x.values[src];
        });
        return setResult(out);
      })
      .Case([&](ConcatOp o) {
        int64_t axis = o.getAxis();
        Shape shape = f(0).shape;
        shape[axis] = 0;
        for (Value v : o.getInputs())
          shape[axis] += get(v).shape[axis];
        Tensor out = Tensor::zeros(shape);
        Shape os = stridesOf(shape);
        int64_t offset = 0;
        for (Value v : o.getInputs()) {
          const Tensor &in = get(v);
          forEachIndex(in.shape, [&](const Shape &index, int64_t flat) {
            Shape at = index;
            at[axis] += offset;
            int64_t dst = 0;
            for (size_t i = 0; i < at.size(); ++i)
              dst += at[i] * os[i];
            out.values[dst] = in.values[flat];
          });
          offset += in.shape[axis];
        }
        return setResult(out);
      })
      .Case([&](SliceOp o) {
        const Tensor &x = f(0);
        Shape shape = x.shape;
        shape[o.getAxis()] = o.getEnd() - o.getStart();
        Tensor out = Tensor::zeros(shape);
        Shape xs = stridesOf(x.shape);
        forEachIndex(shape, [&](const Shape &index, int64_t flat) {
          int64_t src = 0;
          for (size_t i = 0; i < index.size(); ++i)
            src += (index[i] + (int64_t(i) == int64_t(o.getAxis()) ? int64_t(o.getStart()) : 0)) * xs[i];
          out.values[flat] = x.values[src];
        });
        return setResult(out);
      })
      .Case([&](PadOp o) {
        const Tensor &x = f(0);
        Shape shape = x.shape;
        shape[o.getAxis()] += o.getBefore() + o.getAfter();
        Tensor out = Tensor::zeros(shape);
        Shape os = stridesOf(shape);
        forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
          int64_t dst = 0;
          for (size_t i = 0; i < index.size(); ++i)
            dst += (index[i] + (int64_t(i) == int64_t(o.getAxis()) ? int64_t(o.getBefore()) : 0)) * os[i];
          out.values[dst] = x.values[flat];
        });
        return setResult(out);
      })
      .Case([&](ReduceSumOp o) {
        Tensor t = reduce(f(0), o.getAxes(), 0);
        t.shape = runtimeShape(o.getType(), t.numel());
        return setResult(t);
      })
      .Case([&](ReduceMeanOp o) {
        Tensor t = reduce(f(0), o.getAxes(), 1);
        t.shape = runtimeShape(o.getType(), t.numel());
        return setResult(t);
      })
      .Case([&](ReduceMaxOp o) {
        Tensor t = reduce(f(0), o.getAxes(), 2);
        t.shape = runtimeShape(o.getType(), t.numel());
        return setResult(t);
      })
      .Case([&](ReduceMeanGradOp o) {
        const Tensor &g = f(0), &x = f(1);
        Shape kept = keptShape(x.shape, o.getAxes()), ks = stridesOf(kept);
        double count = double(x.numel()) / double(g.numel());
        Tensor out = Tensor::zeros(x.shape);
        forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
          out.values[flat] = g.values[broadcastOffset(kept, ks, index)] / count;
        });
        return setResult(out);
      })
      .Case([&](ReduceMaxGradOp o) {
        const Tensor &g = f(0), &x = f(1), &m = f(2);
        Shape kept = keptShape(x.shape, o.getAxes()), ks = stridesOf(kept);
        Tensor ties = Tensor::zeros(kept);
        forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
          int64_t r = broadcastOffset(kept, ks, index);
          if (x.values[flat] == m.values[r])
            ties.values[r] += 1;
        });
        Tensor out = Tensor::zeros(x.shape);
        forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
          int64_t r = broadcastOffset(kept, ks, index);
          if (x.values[flat] == m.values[r])
            out.values[flat] = g.values[r] / ties.values[r];
        });
        return setResult(out);
      })
      .Case([&](ArgmaxOp o) {
        const Tensor &x = f(0);
        int64_t axis = o.getAxis();
        Shape kept = keptShape(x.shape, {axis}), ks = stridesOf(kept);
        Tensor best = reduce(x, {axis}, 2);
        std::vector<int64_t> ints(best.numel(), -1);
        forEachIndex(x.shape, [&](const Shape &index, int64_t flat) {
          int64_t r = broadcastOffset(kept, ks, index);
          if (ints[r] < 0 && x.values[flat] == best.values[r])
            ints[r] = index[axis];
        });
        return setResult(Tensor::integers(
            runtimeShape(o.getType(), best.numel()), ints));
      })
      .Case([&](SoftmaxOp o) { return setResult(softmax(f(0), o.getAxis(), false)); })
      .Case([&](LogSoftmaxOp o) { return setResult(softmax(f(0), o.getAxis(), true)); })
      .Case([&](BatchNormOp o) {
        const Tensor &x = f(0), &w = f(1), &b = f(2), &rm = f(3), &rv = f(4);
        double eps = o.getEps().convertToDouble();
        double mom = o.getMomentum().convertToDouble();
        Moments m = channelMoments(x);
        int64_t c = x.shape[1], inner = x.numel() / (x.shape[0] * c);
        Tensor y = Tensor::zeros(x.shape);
        for (int64_t i = 0; i < x.numel(); ++i) {
          int64_t ch = (i / inner) % c;
          y.values[i] = (x.values[i] - m.mean[ch]) / std::sqrt(m.var[ch] + eps) *
                            w.values[ch] + b.values[ch];
        }
        Tensor newMean = rm, newVar = rv;
        double unbias = m.count > 1 ? double(m.count) / double(m.count - 1) : 1.0;
        for (int64_t ch = 0; ch < c; ++ch) {
          newMean.values[ch] = (1 - mom) * rm.values[ch] + mom * m.mean[ch];
          newVar.values[ch] = (1 - mom) * rv.values[ch] + mom * m.var[ch] * unbias;
        }
        set(o.getResult(), y);
        set(o.getNewRunningMean(), newMean);
        set(o.getNewRunningVar(), newVar);
        return success();
      })
      .Case([&](BatchNormInferenceOp o) {
        const Tensor &x = f(0), &w = f(1), &b = f(2), &rm = f(3), &rv = f(4);
        double eps = o.getEps().convertToDouble();
        int64_t c = x.shape[1], inner = x.numel() / (x.shape[0] * c);
        Tensor y = Tensor::zeros(x.shape);
        for (int64_t i = 0; i < x.numel(); ++i) {
          int64_t ch = (i / inner) % c;
          y.values[i] = (x.values[i] - rm.values[ch]) /
                            std::sqrt(rv.values[ch] + eps) * w.values[ch] +
                        b.values[ch];
        }
        return setResult(y);
      })
      .Case([&](BatchNormGradOp o) {
        // xhat = (x - mean) * istd; db = sum g; dw = sum g xhat;
        // dx = w istd / n (n g - db - xhat dw)
        const Tensor &g = f(0), &x = f(1), &w = f(2);
        double eps = o.getEps().convertToDouble();
        Moments m = channelMoments(x);
        int64_t c = x.shape[1], inner = x.numel() / (x.shape[0] * c);
        auto channel = [&](int64_t i) { return (i / inner) % c; };
        Tensor dx = Tensor::zeros(x.shape), dw = Tensor::zeros({c}),
               db = Tensor::zeros({c});
        for (int64_t i = 0; i < x.numel(); ++i) {
          int64_t ch = channel(i);
          double xhat = (x.values[i] - m.mean[ch]) / std::sqrt(m.var[ch] + eps);
          db.values[ch] += g.values[i];
          dw.values[ch] += g.values[i] * xhat;
        }
        double n = double(m.count);
        for (int64_t i = 0; i < x.numel(); ++i) {
          int64_t ch = channel(i);
          double istd = 1.0 / std::sqrt(m.var[ch] + eps);
          double xhat = (x.values[i] - m.mean[ch]) * istd;
          dx.values[i] = w.values[ch] * istd / n *
                         (n * g.values[i] - db.values[ch] - xhat * dw.values[ch]);
        }
        set(o.getInputGrad(), dx);
        set(o.getWeightGrad(), dw);
        set(o.getBiasGrad(), db);
        return success();
      })
      .Case([&](LayerNormOp o) {
        const Tensor &x = f(0), &w = f(1), &b = f(2);
        double eps = o.getEps().convertToDouble();
        Moments m = rowMoments(x);
        int64_t d = x.shape.back();
        Tensor y = Tensor::zeros(x.shape);
        for (int64_t i = 0; i < x.numel(); ++i) {
          int64_t r = i / d, j = i % d;
          y.values[i] = (x.values[i] - m.mean[r]) / std::sqrt(m.var[r] + eps) *
                            w.values[j] + b.values[j];
        }
        return setResult(y);
      })
      .Case([&](LayerNormGradOp o) {
        // Per row: xhat = (x - mean) istd, gh = g w;
        // dx = istd / d (d gh - sum gh - xhat sum(gh xhat))
        const Tensor &g = f(0), &x = f(1), &w = f(2);
        double eps = o.getEps().convertToDouble();
        Moments m = rowMoments(x);
        int64_t d = x.shape.back(), rows = x.numel() / d;
        Tensor dx = Tensor::zeros(x.shape), dw = Tensor::zeros({d}),
               db = Tensor::zeros({d});
        for (int64_t r = 0; r < rows; ++r) {
          double istd = 1.0 / std::sqrt(m.var[r] + eps), sumG = 0, sumGX = 0;
          for (int64_t j = 0; j < d; ++j) {
            double xhat = (x.values[r * d + j] - m.mean[r]) * istd;
            double gh = g.values[r * d + j] * w.values[j];
            sumG += gh;
            sumGX += gh * xhat;
            dw.values[j] += g.values[r * d + j] * xhat;
            db.values[j] += g.values[r * d + j];
          }
          for (int64_t j = 0; j < d; ++j) {
            double xhat = (x.values[r * d + j] - m.mean[r]) * istd;
            double gh = g.values[r * d + j] * w.values[j];
            dx.values[r * d + j] = istd / double(d) * (double(d) * gh - sumG - xhat * sumGX);
          }
        }
        set(o.getInputGrad(), dx);
        set(o.getWeightGrad(), dw);
        set(o.getBiasGrad(), db);
        return success();
      })
      .Case([&](DropoutOp o) {
        const Tensor &x = f(0);
        uint64_t seed = uint64_t(f(1).ints[0]);
        double p = o.getP().convertToDouble();
        Tensor out = Tensor::zeros(x.shape);
        for (int64_t i = 0; i < x.numel(); ++i)
          if (kiln::rt::dropoutKeeps(seed, o.getStream(), i, p))
            out.values[i] = x.values[i] / (1.0 - p);
        return setResult(out);
      })
      .Case([&](EmbeddingOp) -> LogicalResult {
        const Tensor &ids = f(0), &table = f(1);
        int64_t dim = table.shape[1];
        Shape shape = ids.shape;
        shape.push_back(dim);
        Tensor out = Tensor::zeros(shape);
        for (int64_t i = 0; i < ids.numel(); ++i) {
          int64_t row = ids.ints[i];
          if (row < 0 || row >= table.shape[0])
            return op->emitError("embedding index ") << row << " is out of range [0, "
                                                      << table.shape[0] << ")";
          for (int64_t j = 0; j < dim; ++j)
            out.values[i * dim + j] = table.values[row * dim + j];
        }
        return setResult(out);
      })
      .Case([&](EmbeddingGradOp o) {
        const Tensor &g = f(0), &ids = f(1);
        Shape shape(o.getType().getShape());
        Tensor out = Tensor::zeros(shape);
        int64_t dim = shape[1];
        for (int64_t i = 0; i < ids.numel(); ++i)
          for (int64_t j = 0; j < dim; ++j)
            out.values[ids.ints[i] * dim + j] += g.values[i * dim + j];
        return setResult(out);
      })
      .Case([&](ReluGradOp) {
        return binaryOp([](double g, double x) { return x > 0 ? g : 0.0; });
      })
      .Case([&](LeakyReluGradOp o) {
        double a = o.getAlpha().convertToDouble();
        return binaryOp([a](double g, double x) { return x > 0 ? g : a * g; });
      })
      .Case([&](GeluGradOp o) {
        if (o.getApproximate() == "tanh")
          return binaryOp([](double g, double x) {
            double k = std::sqrt(2.0 / M_PI);
            double u = k * (x + 0.044715 * x * x * x), t = std::tanh(u);
            return g * (0.5 * (1 + t) +
                        0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x));
          });
        return binaryOp([](double g, double x) {
          return g * (erfPhi(x) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI));
        });
      })
      .Case([&](CrossEntropyOp) {
        const Tensor &x = f(0), &t = f(1);
        Tensor logp = softmax(x, 1, true);
        int64_t n = x.shape[0], c = x.shape[1];
        double sum = 0;
        for (int64_t i = 0; i < n; ++i)
          sum -= logp.values[i * c + t.ints[i]];
        Tensor out = Tensor::zeros({});
        out.values[0] = sum / double(n);
        return setResult(out);
      })
      .Case([&](NllOp) {
        const Tensor &x = f(0), &t = f(1);
        int64_t n = x.shape[0], c = x.shape[1];
        double sum = 0;
        for (int64_t i = 0; i < n; ++i)
          sum -= x.values[i * c + t.ints[i]];
        Tensor out = Tensor::zeros({});
        out.values[0] = sum / double(n);
        return setResult(out);
      })
      .Case([&](BceWithLogitsOp) {
        const Tensor &x = f(0), &t = f(1);
        double sum = 0;
        for (int64_t i = 0; i < x.numel(); ++i) {
          double v = x.values[i];
          sum += std::max(v, 0.0) - v * t.values[i] + std::log1p(std::exp(-std::fabs(v)));
        }
        Tensor out = Tensor::zeros({});
        out.values[0] = sum / double(x.numel());
        return setResult(out);
      })
      .Case([&](MseOp) {
        const Tensor &x = f(0), &t = f(1);
        double sum = 0;
        for (int64_t i = 0; i < x.numel(); ++i)
          sum += (x.values[i] - t.values[i]) * (x.values[i] - t.values[i]);
        Tensor out = Tensor::zeros({});
        out.values[0] = sum / double(x.numel());
        return setResult(out);
      })
      .Case([&](CrossEntropyGradOp) {
        double g = f(0).values[0];
        const Tensor &x = f(1), &t = f(2);
        Tensor out = softmax(x, 1, false);
        int64_t n = x.shape[0], c = x.shape[1];
        for (int64_t i = 0; i < n; ++i)
          out.values[i * c + t.ints[i]] -= 1.0;
        for (double &v : out.values)
          v *= g / double(n);
        return setResult(out);
      })
      .Case([&](NllGradOp) {
        double g = f(0).values[0];
        const Tensor &x = f(1), &t = f(2);
        Tensor out = Tensor::zeros(x.shape);
        int64_t n = x.shape[0], c = x.shape[1];
        for (int64_t i = 0; i < n; ++i)
          out.values[i * c + t.ints[i]] = -g / double(n);
        return setResult(out);
      })
      .Case([&](BceWithLogitsGradOp) {
        double g = f(0).values[0];
        const Tensor &x = f(1), &t = f(2);
        Tensor out = Tensor::zeros(x.shape);
        for (int64_t i = 0; i < x.numel(); ++i)
          out.values[i] = g * (1.0 / (1.0 + std::exp(-x.values[i])) - t.values[i]) /
                          double(x.numel());
        return setResult(out);
      })
      .Case([&](MseGradOp) {
        double g = f(0).values[0];
        const Tensor &x = f(1), &t = f(2);
        Tensor out = Tensor::zeros(x.shape);
        for (int64_t i = 0; i < x.numel(); ++i)
          out.values[i] = g * 2.0 * (x.values[i] - t.values[i]) / double(x.numel());
        return setResult(out);
      })
      .Default([&](Operation *other) -> LogicalResult {
        return other->emitError("kiln-run cannot evaluate '")
               << other->getName() << "'";
      });
}

FailureOr<std::vector<Tensor>> Interpreter::run(func::FuncOp func,
                                                ArrayRef<Tensor> args) {
  Block &body = func.getBody().front();
  if (args.size() != body.getNumArguments())
    return func.emitError("expected ")
           << body.getNumArguments() << " arguments, got " << args.size();
  for (auto [arg, value] : llvm::zip(body.getArguments(), args)) {
    auto type = cast<RankedTensorType>(arg.getType());
    bool shapeOk = int64_t(value.shape.size()) == type.getRank() &&
                   value.isInteger == !type.getElementType().isF32();
    for (int64_t i = 0; shapeOk && i < type.getRank(); ++i)
      shapeOk = type.isDynamicDim(i) || type.getDimSize(i) == value.shape[i];
    if (!shapeOk)
      return func.emitError("argument ")
             << arg.getArgNumber() << " does not match its type " << type;
    set(arg, value);
  }
  for (Operation &op : body.without_terminator())
    if (failed(step(&op)))
      return failure();
  std::vector<Tensor> results;
  for (Value v : body.getTerminator()->getOperands())
    results.push_back(get(v));
  return results;
}

} // namespace

FailureOr<std::vector<Tensor>> kiln::eval::evaluate(func::FuncOp func,
                                                    ArrayRef<Tensor> args,
                                                    Precision precision) {
  return Interpreter(precision).run(func, args);
}
