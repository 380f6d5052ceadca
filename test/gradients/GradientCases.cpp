//===- GradientCases.cpp - random instances of differentiable ops -*- C++
//-*-===//
//
// Part of kiln. The table of GradientCases.h: one maker per differentiable
// op. Values avoid kinks by construction rather than by luck: operands
// compared by max/min/greater come from two interleaved grids 0.05 apart,
// pooled and reduced-by-max values are distinct (a permutation of a grid),
// relu/abs/sign inputs have |x| >= 0.05, floor inputs are >= 0.1 from an
// integer, log/sqrt/pow bases and divisors are in [0.5, 2) in magnitude.
// All of these margins dwarf the finite-difference step (1e-6).
//
//===----------------------------------------------------------------------===//

#include "test/gradients/GradientCases.h"
#include "ir/NNDialect.h"
#include "runtime/Random.h"

#include <algorithm>
#include <numeric>

using namespace mlir;
using namespace kiln::nn;
using kiln::eval::Tensor;
using kiln::test::Expect;
using kiln::test::GradientCase;
using kiln::test::Operand;
using kiln::test::Rng;
using Shape = std::vector<int64_t>;

Rng::Rng(uint64_t seed) : key(rt::splitmix64(seed ^ 0x6b696c6eull)) {}

double Rng::uniform(double lo, double hi) {
  return lo + (hi - lo) * rt::uniform01(key, counter++);
}

int64_t Rng::range(int64_t lo, int64_t hi) {
  return std::min(hi, lo + int64_t(uniform(0, double(hi - lo + 1))));
}

namespace {

int64_t numel(const Shape &s) {
  return std::accumulate(s.begin(), s.end(), int64_t{1},
                         std::multiplies<int64_t>());
}

Shape randomShape(Rng &rng, int minRank, int maxRank, int64_t lo = 1,
                  int64_t hi = 5) {
  Shape s(rng.range(minRank, maxRank));
  for (int64_t &d : s)
    d = rng.range(lo, hi);
  return s;
}

/// A shape that broadcasts to `out`: some leading dimensions dropped, some
/// others set to 1.
Shape broadcastOperand(Rng &rng, const Shape &out) {
  Shape s(out.begin() + rng.range(0, int64_t(out.size())), out.end());
  for (int64_t &d : s)
    if (rng.range(0, 2) == 0)
      d = 1;
  return s;
}

template <typename F> Tensor generate(const Shape &shape, F f) {
  Tensor t = Tensor::zeros(shape);
  for (double &v : t.values)
    v = f();
  return t;
}

Tensor uniform(Rng &rng, const Shape &s, double lo = -2, double hi = 2) {
  return generate(s, [&] { return rng.uniform(lo, hi); });
}

/// |x| in [0.05, 2) with a random sign: away from 0, where relu, abs,
/// leaky_relu and sign have kinks.
Tensor awayFromZero(Rng &rng, const Shape &s) {
  return generate(s,
                  [&] { return (rng.coin() ? 1 : -1) * rng.uniform(0.05, 2); });
}

/// Values on the grid k/10 + offset, k in [-20, 20]: two tensors with
/// offsets 0.03 and 0.08 never come closer than 0.05.
Tensor grid(Rng &rng, const Shape &s, double offset) {
  return generate(s, [&] { return double(rng.range(-20, 20)) / 10 + offset; });
}

/// Distinct values 0.01 apart in random order: no ties for max.
Tensor distinct(Rng &rng, const Shape &s) {
  int64_t n = numel(s);
  std::vector<int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(perm[i], perm[rng.range(0, i)]);
  Tensor t = Tensor::zeros(s);
  for (int64_t i = 0; i < n; ++i)
    t.values[i] = double(perm[i] - n / 2) * 0.01 + 0.003;
  return t;
}

Tensor integers(Rng &rng, const Shape &s, int64_t lo, int64_t hi) {
  std::vector<int64_t> v(numel(s));
  for (int64_t &x : v)
    x = rng.range(lo, hi);
  return Tensor::integers(s, v);
}

Operand checked(Tensor t) { return {std::move(t), Expect::Checked}; }

Value result(Operation *op) { return op->getResult(0); }

/// An op from createInferred; the makers only draw valid instances.
template <typename Op, typename... Args>
Operation *inferred(OpBuilder &b, Location l, Args &&...args) {
  FailureOr<Op> op = createInferred<Op>(b, l, std::forward<Args>(args)...);
  return succeeded(op) ? op->getOperation() : nullptr;
}

template <typename Op>
GradientCase unary(Rng &rng, Tensor (*values)(Rng &, const Shape &)) {
  Shape s = randomShape(rng, 0, 3);
  return {{checked(values(rng, s))},
          [](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<Op>(l, in[0]);
          }};
}

Tensor anyValue(Rng &rng, const Shape &s) { return uniform(rng, s); }
Tensor positive(Rng &rng, const Shape &s) { return uniform(rng, s, 0.5, 2); }
Tensor offInteger(Rng &rng, const Shape &s) {
  return generate(
      s, [&] { return double(rng.range(-3, 3)) + rng.uniform(0.1, 0.9); });
}

template <typename Op>
GradientCase binary(Rng &rng, Tensor (*lhs)(Rng &, const Shape &),
                    Tensor (*rhs)(Rng &, const Shape &)) {
  Shape out = randomShape(rng, 0, 3);
  Shape a = rng.coin() ? out : broadcastOperand(rng, out);
  Shape c = rng.coin() ? out : broadcastOperand(rng, out);
  return {{checked(lhs(rng, a)), checked(rhs(rng, c))},
          [](OpBuilder &b, Location l, ValueRange in) {
            return inferred<Op>(b, l, in[0], in[1]);
          }};
}

Tensor gridA(Rng &rng, const Shape &s) { return grid(rng, s, 0.03); }
Tensor gridB(Rng &rng, const Shape &s) { return grid(rng, s, 0.08); }
Tensor divisor(Rng &rng, const Shape &s) {
  return generate(s,
                  [&] { return (rng.coin() ? 1 : -1) * rng.uniform(0.5, 2); });
}
Tensor exponent(Rng &rng, const Shape &s) { return uniform(rng, s, -2, 2); }

GradientCase matmulCase(Rng &rng) {
  bool batched = rng.coin(), ta = rng.coin(), tb = rng.coin();
  int64_t z = rng.range(1, 3), m = rng.range(1, 5), k = rng.range(1, 5),
          n = rng.range(1, 5);
  Shape a = ta ? Shape{k, m} : Shape{m, k};
  Shape c = tb ? Shape{n, k} : Shape{k, n};
  if (batched) {
    a.insert(a.begin(), z);
    c.insert(c.begin(), z);
  }
  return {{checked(uniform(rng, a)), checked(uniform(rng, c))},
          [ta, tb](OpBuilder &b, Location l, ValueRange in) {
            return inferred<MatmulOp>(b, l, in[0], in[1], ta, tb);
          }};
}

GradientCase conv2dCase(Rng &rng) {
  int64_t groups = rng.range(1, 2), cg = rng.range(1, 2), og = rng.range(1, 2);
  int64_t n = rng.range(1, 2);
  Shape stride, padding, dilation, kernel, spatial;
  for (int d = 0; d < 2; ++d) {
    int64_t size = rng.range(3, 7);
    int64_t k = rng.range(1, 3), dil = rng.range(1, 2);
    // The dilated kernel must fit in the padded input.
    while (dil * (k - 1) + 1 > size + 2)
      k = k > 1 ? k - 1 : 1, dil = 1;
    int64_t pad =
        rng.range(0, std::min<int64_t>(2, (dil * (k - 1) + 1) / 2 + 1));
    while (size + 2 * pad < dil * (k - 1) + 1)
      ++pad;
    spatial.push_back(size);
    kernel.push_back(k);
    dilation.push_back(dil);
    padding.push_back(pad);
    stride.push_back(rng.range(1, 2));
  }
  Shape x = {n, cg * groups, spatial[0], spatial[1]};
  Shape w = {og * groups, cg, kernel[0], kernel[1]};
  return {{checked(uniform(rng, x)), checked(uniform(rng, w))},
          [=](OpBuilder &b, Location l, ValueRange in) {
            return inferred<Conv2dOp>(b, l, in[0], in[1],
                                      ArrayRef<int64_t>(stride),
                                      ArrayRef<int64_t>(padding),
                                      ArrayRef<int64_t>(dilation), groups);
          }};
}

template <typename Op> GradientCase poolCase(Rng &rng) {
  Shape kernel, stride, padding, spatial;
  for (int d = 0; d < 2; ++d) {
    int64_t size = rng.range(3, 7), k = rng.range(1, 3);
    kernel.push_back(k);
    stride.push_back(rng.range(1, 2));
    padding.push_back(rng.range(0, k / 2)); // at most half the window
    spatial.push_back(size);
  }
  Shape x = {rng.range(1, 2), rng.range(1, 3), spatial[0], spatial[1]};
  return {{checked(distinct(rng, x))},
          [=](OpBuilder &b, Location l, ValueRange in) {
            return inferred<Op>(b, l, in[0], ArrayRef<int64_t>(kernel),
                                ArrayRef<int64_t>(stride),
                                ArrayRef<int64_t>(padding));
          }};
}

GradientCase reshapeCase(Rng &rng) {
  Shape s = randomShape(rng, 1, 3);
  // The same elements under a different grouping of the dimensions.
  Shape out;
  for (int64_t d : s)
    if (!out.empty() && rng.coin())
      out.back() *= d;
    else
      out.push_back(d);
  if (rng.coin())
    out.push_back(1);
  return {{checked(uniform(rng, s))},
          [out](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            auto type = RankedTensorType::get(out, b.getF32Type());
            return b.create<ReshapeOp>(l, type, in[0]);
          }};
}

GradientCase transposeCase(Rng &rng) {
  Shape s = randomShape(rng, 1, 4);
  std::vector<int64_t> perm(s.size());
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = int64_t(perm.size()) - 1; i > 0; --i)
    std::swap(perm[i], perm[rng.range(0, i)]);
  return {{checked(uniform(rng, s))},
          [perm](OpBuilder &b, Location l, ValueRange in) {
            return inferred<TransposeOp>(b, l, in[0], ArrayRef<int64_t>(perm));
          }};
}

GradientCase concatCase(Rng &rng) {
  Shape s = randomShape(rng, 1, 3);
  int64_t axis = rng.range(0, int64_t(s.size()) - 1);
  GradientCase c;
  int64_t count = rng.range(1, 3);
  for (int64_t i = 0; i < count; ++i) {
    Shape part = s;
    part[axis] = rng.range(1, 4);
    c.operands.push_back(checked(uniform(rng, part)));
  }
  c.build = [axis](OpBuilder &b, Location l, ValueRange in) {
    return inferred<ConcatOp>(b, l, in, axis);
  };
  return c;
}

GradientCase sliceCase(Rng &rng) {
  Shape s = randomShape(rng, 1, 3, 1, 6);
  int64_t axis = rng.range(0, int64_t(s.size()) - 1);
  int64_t start = rng.range(0, s[axis] - 1),
          end = rng.range(start + 1, s[axis]);
  return {{checked(uniform(rng, s))},
          [=](OpBuilder &b, Location l, ValueRange in) {
            return inferred<SliceOp>(b, l, in[0], axis, start, end);
          }};
}

GradientCase padCase(Rng &rng) {
  Shape s = randomShape(rng, 1, 3);
  int64_t axis = rng.range(0, int64_t(s.size()) - 1);
  int64_t before = rng.range(0, 2), after = rng.range(0, 2);
  Shape out = s;
  out[axis] += before + after;
  return {{checked(uniform(rng, s))},
          [=](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            auto type = RankedTensorType::get(out, b.getF32Type());
            return b.create<PadOp>(l, type, in[0], axis, before, after);
          }};
}

GradientCase broadcastToCase(Rng &rng) {
  Shape out = randomShape(rng, 0, 3);
  return {{checked(uniform(rng, broadcastOperand(rng, out))),
           {uniform(rng, out), Expect::Zero}},
          [](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<BroadcastToOp>(l, in[0], in[1]);
          }};
}

template <typename Op> GradientCase reduceCase(Rng &rng, bool distinctValues) {
  Shape s = randomShape(rng, 1, 3);
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < int64_t(s.size()); ++d)
    if (rng.coin())
      axes.push_back(d);
  if (axes.empty())
    axes.push_back(rng.range(0, int64_t(s.size()) - 1));
  bool keepdim = rng.coin();
  return {{checked(distinctValues ? distinct(rng, s) : uniform(rng, s))},
          [=](OpBuilder &b, Location l, ValueRange in) {
            return inferred<Op>(b, l, in[0], ArrayRef<int64_t>(axes), keepdim);
          }};
}

template <typename Op> GradientCase softmaxCase(Rng &rng) {
  Shape s = randomShape(rng, 1, 3);
  int64_t axis = rng.range(0, int64_t(s.size()) - 1);
  return {{checked(uniform(rng, s, -3, 3))},
          [axis](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<Op>(l, in[0], axis);
          }};
}

GradientCase batchNormCase(Rng &rng) {
  int64_t c = rng.range(1, 3);
  Shape x = rng.coin()
                ? Shape{rng.range(2, 4), c}
                : Shape{rng.range(1, 3), c, rng.range(1, 3), rng.range(2, 3)};
  double eps = rng.coin() ? 1e-5 : 0.1, momentum = rng.uniform(0.05, 0.5);
  return {{checked(uniform(rng, x)),
           checked(uniform(rng, {c}, 0.5, 2)),
           checked(uniform(rng, {c})),
           {uniform(rng, {c}), Expect::Zero},
           {uniform(rng, {c}, 0.5, 2), Expect::Zero}},
          [=](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<BatchNormOp>(l, in[0], in[1], in[2], in[3], in[4],
                                         APFloat(eps), APFloat(momentum));
          },
          /*weightedResults=*/{0}};
}

GradientCase layerNormCase(Rng &rng) {
  Shape x = randomShape(rng, 1, 3);
  x.back() = rng.range(2, 5);
  double eps = rng.coin() ? 1e-5 : 0.1;
  return {{checked(uniform(rng, x)), checked(uniform(rng, {x.back()}, 0.5, 2)),
           checked(uniform(rng, {x.back()}))},
          [eps](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<LayerNormOp>(l, in[0], in[1], in[2], APFloat(eps));
          }};
}

GradientCase dropoutCase(Rng &rng) {
  Shape s = randomShape(rng, 1, 3);
  double p = std::vector<double>{0.0, 0.3, 0.5}[rng.range(0, 2)];
  int64_t stream = rng.range(0, 7);
  return {{checked(uniform(rng, s)),
           {Tensor::integers({}, {rng.range(0, 1000)}), Expect::None}},
          [=](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<DropoutOp>(l, in[0], in[1], APFloat(p), stream);
          }};
}

GradientCase embeddingCase(Rng &rng) {
  int64_t rows = rng.range(1, 5), dim = rng.range(1, 4);
  Shape ids = randomShape(rng, 1, 2);
  return {{{integers(rng, ids, 0, rows - 1), Expect::None},
           checked(uniform(rng, {rows, dim}))},
          [](OpBuilder &b, Location l, ValueRange in) {
            return inferred<EmbeddingOp>(b, l, in[0], in[1]);
          }};
}

template <typename Op> GradientCase classLossCase(Rng &rng) {
  int64_t n = rng.range(1, 5), c = rng.range(1, 5);
  return {{checked(uniform(rng, {n, c}, -3, 3)),
           {integers(rng, {n}, 0, c - 1), Expect::None}},
          [](OpBuilder &b, Location l, ValueRange in) {
            return inferred<Op>(b, l, in[0], in[1]);
          }};
}

GradientCase bceCase(Rng &rng) {
  Shape s = randomShape(rng, 0, 3);
  return {
      {checked(uniform(rng, s, -4, 4)), {uniform(rng, s, 0, 1), Expect::None}},
      [](OpBuilder &b, Location l, ValueRange in) {
        return inferred<BceWithLogitsOp>(b, l, in[0], in[1]);
      }};
}

GradientCase mseCase(Rng &rng) {
  Shape s = randomShape(rng, 0, 3);
  return {{checked(uniform(rng, s)), checked(uniform(rng, s, 0, 1))},
          [](OpBuilder &b, Location l, ValueRange in) {
            return inferred<MseOp>(b, l, in[0], in[1]);
          }};
}

GradientCase leakyReluCase(Rng &rng) {
  Shape s = randomShape(rng, 0, 3);
  double alpha = rng.uniform(0.01, 0.5);
  return {{checked(awayFromZero(rng, s))},
          [alpha](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<LeakyReluOp>(l, in[0], APFloat(alpha));
          }};
}

GradientCase geluCase(Rng &rng, StringRef approximate) {
  Shape s = randomShape(rng, 0, 3);
  std::string mode = approximate.str();
  return {{checked(uniform(rng, s, -3, 3))},
          [mode](OpBuilder &b, Location l, ValueRange in) -> Operation * {
            return b.create<GeluOp>(l, in[0], mode);
          }};
}

/// A piecewise-constant unary op: no gradient, and none is owed.
template <typename Op>
GradientCase constantUnary(Rng &rng, Tensor (*values)(Rng &, const Shape &)) {
  GradientCase c = unary<Op>(rng, values);
  c.operands[0].expect = Expect::Zero;
  return c;
}

} // namespace

const std::map<std::string, kiln::test::CaseMaker> &
kiln::test::gradientCases() {
  static const std::map<std::string, CaseMaker> cases = {
      {"nn.neg", [](Rng &r) { return unary<NegOp>(r, anyValue); }},
      {"nn.exp", [](Rng &r) { return unary<ExpOp>(r, anyValue); }},
      {"nn.log", [](Rng &r) { return unary<LogOp>(r, positive); }},
      {"nn.sqrt", [](Rng &r) { return unary<SqrtOp>(r, positive); }},
      {"nn.abs", [](Rng &r) { return unary<AbsOp>(r, awayFromZero); }},
      {"nn.relu", [](Rng &r) { return unary<ReluOp>(r, awayFromZero); }},
      {"nn.sigmoid", [](Rng &r) { return unary<SigmoidOp>(r, anyValue); }},
      {"nn.tanh", [](Rng &r) { return unary<TanhOp>(r, anyValue); }},
      {"nn.cos", [](Rng &r) { return unary<CosOp>(r, anyValue); }},
      {"nn.floor",
       [](Rng &r) { return constantUnary<FloorOp>(r, offInteger); }},
      {"nn.sign",
       [](Rng &r) { return constantUnary<SignOp>(r, awayFromZero); }},
      {"nn.leaky_relu", leakyReluCase},
      {"nn.gelu",
       [](Rng &r) { return geluCase(r, r.coin() ? "none" : "tanh"); }},
      {"nn.add", [](Rng &r) { return binary<AddOp>(r, anyValue, anyValue); }},
      {"nn.sub", [](Rng &r) { return binary<SubOp>(r, anyValue, anyValue); }},
      {"nn.mul", [](Rng &r) { return binary<MulOp>(r, anyValue, anyValue); }},
      {"nn.div", [](Rng &r) { return binary<DivOp>(r, anyValue, divisor); }},
      {"nn.pow", [](Rng &r) { return binary<PowOp>(r, positive, exponent); }},
      {"nn.maximum", [](Rng &r) { return binary<MaximumOp>(r, gridA, gridB); }},
      {"nn.minimum", [](Rng &r) { return binary<MinimumOp>(r, gridA, gridB); }},
      {"nn.greater",
       [](Rng &r) {
         GradientCase c = binary<GreaterOp>(r, gridA, gridB);
         for (Operand &o : c.operands)
           o.expect = Expect::Zero;
         return c;
       }},
      {"nn.matmul", matmulCase},
      {"nn.conv2d", conv2dCase},
      {"nn.max_pool2d", poolCase<MaxPool2dOp>},
      {"nn.avg_pool2d", poolCase<AvgPool2dOp>},
      {"nn.reshape", reshapeCase},
      {"nn.transpose", transposeCase},
      {"nn.concat", concatCase},
      {"nn.slice", sliceCase},
      {"nn.pad", padCase},
      {"nn.broadcast_to", broadcastToCase},
      {"nn.reduce_sum",
       [](Rng &r) { return reduceCase<ReduceSumOp>(r, false); }},
      {"nn.reduce_mean",
       [](Rng &r) { return reduceCase<ReduceMeanOp>(r, false); }},
      {"nn.reduce_max",
       [](Rng &r) { return reduceCase<ReduceMaxOp>(r, true); }},
      {"nn.softmax", softmaxCase<SoftmaxOp>},
      {"nn.log_softmax", softmaxCase<LogSoftmaxOp>},
      {"nn.batch_norm", batchNormCase},
      {"nn.layer_norm", layerNormCase},
      {"nn.dropout", dropoutCase},
      {"nn.embedding", embeddingCase},
      {"nn.cross_entropy", classLossCase<CrossEntropyOp>},
      {"nn.nll", classLossCase<NllOp>},
      {"nn.bce_with_logits", bceCase},
      {"nn.mse", mseCase},
  };
  return cases;
}
