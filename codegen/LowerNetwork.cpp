//===- LowerNetwork.cpp - convolution, pooling, normalization ---*- C++ -*-===//
//
// Part of kiln. The layers of a network as Halide: 2-D convolution and its
// two adjoints, max and average pooling with their gradients, batch and
// layer normalization with theirs, dropout, embedding lookup and the
// data-movement ops (concat, slice, pad). Each is the reference evaluator's
// formula (tools/kiln-run/KernelsLinalg.cpp, KernelsNorm.cpp,
// KernelsShape.cpp, KernelsLoss.cpp), written as a gather so every result
// element is computed once (the embedding gradient alone scatters, in the
// evaluator's order): taps that fall in the padding, windows that miss an
// input element, and out-of-range channels read a clamped index under a
// select, so no read leaves its buffer. Pooling windows are unrolled from
// their static attributes. Convolutions share one shape that
// ScheduleConv.cpp relies on (the layout of `reductions` and `staged` is
// stated at each rule); the adjoint of the input is itself a convolution of
// the zero-stuffed gradient with the flipped kernel, so both run the same
// register-blocked loop nest.
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"
#include "ir/NNDialect.h"
#include "runtime/Random.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <limits>

using namespace kiln::codegen;
using Halide::Expr;
using Halide::Func;
using Halide::Var;

namespace {

std::vector<Expr> exprsOf(const std::vector<Var> &vars) {
  return {vars.begin(), vars.end()};
}

/// A static extent (every dimension but the batch is static).
int64_t staticExtent(const Expr &e) {
  const int64_t *v = Halide::Internal::as_const_int(e);
  assert(v && "expected a static extent");
  return *v;
}

/// `t` read at `index` with the dimension `axis` clamped into range.
Expr clampedRead(const Tensor &t, std::vector<Expr> index, int axis) {
  index[axis] = Halide::clamp(index[axis], 0, t.shape[axis] - 1);
  return t(index);
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

/// Stride, padding and dilation per spatial dimension, and the group count.
struct ConvParams {
  int64_t stride[2], padding[2], dilation[2], groups;
};

template <typename Op> ConvParams convParams(Op op) {
  llvm::ArrayRef<int64_t> s = op.getStride(), p = op.getPadding(),
                          d = op.getDilation();
  return {{s[0], s[1]}, {p[0], p[1]}, {d[0], d[1]}, int64_t(op.getGroups())};
}

/// `x` [N, C, H, W] read at any spatial index: zero outside the image, so
/// taps in the padding contribute nothing. Staged, so the select runs once
/// per element instead of once per tap.
Tensor zeroPadded(OpLowering &l, const Tensor &x, const ConvParams &p) {
  if (p.padding[0] == 0 && p.padding[1] == 0)
    return x;
  Func padded("input_padded");
  std::vector<Var> v = makeVars(4, "p");
  Expr inside =
      v[2] >= 0 && v[2] < x.shape[2] && v[3] >= 0 && v[3] < x.shape[3];
  Expr value = x({v[0], v[1], Halide::clamp(v[2], 0, x.shape[2] - 1),
                  Halide::clamp(v[3], 0, x.shape[3] - 1)});
  define(padded, v, Halide::select(inside, value, 0.0f));
  l.staged.push_back(padded);
  return Tensor{padded, x.shape, Halide::Float(32)};
}

/// The correlation both conv2d and its input adjoint compute:
///   out[n, co, y, x] = sum_{ci, i, j} in[n, group(co) * inPerGroup + ci,
///                                        y*s0 - o0 + i*d0, x*s1 - o1 + j*d1]
///                                     * weight[co, ci, i, j]
/// with group(co) = co / outPerGroup. `weight` (MLIR order [co, ci, i, j])
/// must be defined for every co: the scheduler computes whole vectors of
/// output channels, past the last one.
///
/// Layout for ScheduleConv.cpp: reductions[0] is the accumulator over the
/// RDom (j, i, ci), innermost first; the result copies it.
void correlate(OpLowering &l, const Tensor &in, const Tensor &weight,
               int64_t outPerGroup, int64_t inPerGroup, const int64_t kernel[2],
               const int64_t stride[2], const int64_t offset[2],
               const int64_t dilation[2]) {
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(4);
  Var n = v[0], co = v[1], y = v[2], x = v[3];
  int64_t outChannels = staticExtent(out.shape[1]);
  Halide::RDom r(
      {{0, int(kernel[1])}, {0, int(kernel[0])}, {0, int(inPerGroup)}}, "tap");
  Expr j = r[0], i = r[1], ci = r[2];
  Expr channel = ci;
  if (outPerGroup != outChannels)
    channel += (Halide::clamp(co, 0, int(outChannels - 1)) / int(outPerGroup)) *
               int(inPerGroup);
  Expr tap = in({n, channel,
                 y * int(stride[0]) - int(offset[0]) + i * int(dilation[0]),
                 x * int(stride[1]) - int(offset[1]) + j * int(dilation[1])});
  Func acc("conv_acc");
  std::vector<Var> order = halideOrder(v);
  acc(order) = 0.0f;
  acc(order) += tap * weight({co, ci, i, j});
  l.reductions.push_back({acc, r});
  out.func(order) = acc(order);
}

/// `t` readable at any index along `axis`: zero past its end (the
/// scheduler computes whole vectors of channels). Staged.
Tensor zeroPastEnd(OpLowering &l, const Tensor &t, int axis,
                   const std::string &name) {
  Func f(name);
  std::vector<Var> v = makeVars(t.rank(), name.substr(0, 1));
  define(f, v,
         Halide::select(v[axis] < int(staticExtent(t.shape[axis])),
                        clampedRead(t, exprsOf(v), axis), 0.0f));
  l.staged.push_back(f);
  return Tensor{f, t.shape, Halide::Float(32)};
}

/// conv2d: the correlation of the (zero-padded) input with the weight.
/// staged[0] is the weight read for any output channel, staged[1] the
/// padded input when there is padding.
mlir::LogicalResult lowerConv2d(OpLowering &l) {
  ConvParams p = convParams(llvm::cast<kiln::nn::Conv2dOp>(l.op));
  const Tensor &x = l.operands[0], &w = l.operands[1];
  int64_t outChannels = staticExtent(w.shape[0]);
  int64_t kernel[2] = {staticExtent(w.shape[2]), staticExtent(w.shape[3])};
  Tensor weight = zeroPastEnd(l, w, 0, "conv_weight");
  Tensor in = zeroPadded(l, x, p);
  correlate(l, in, weight,
            outChannels / p.groups, staticExtent(w.shape[1]), kernel, p.stride,
            p.padding, p.dilation);
  return mlir::success();
}

/// The output position whose tap `tap` (of a window or kernel with this
/// stride, padding and dilation) lands on input position `at`, clamped
/// into [0, outputs), and whether there is one.
std::pair<Expr, Expr> sourceOf(Expr at, int64_t tap, int64_t stride,
                               int64_t padding, int64_t dilation,
                               Expr outputs) {
  Expr t = at + int(padding - tap * dilation);
  Expr o = stride == 1 ? t : t / int(stride);
  Expr valid = t >= 0 && o < outputs;
  if (stride != 1)
    valid = valid && t % int(stride) == 0;
  return {Halide::clamp(o, 0, outputs - 1), valid};
}

/// conv2d_grad_input: dx[n, c, h, w] sums g[n, o, y, x] w[o, c', i, j] over
/// the taps with y*s - p + i*d = h. With the flipped kernel index
/// i' = KH-1-i that is h + i'*d = y*s + (KH-1)*d - p: a stride-1
/// correlation of g spread onto a grid of step s and shifted by
/// (KH-1)*d - p (zero elsewhere) with the flipped, transposed weight.
/// staged[0] is that weight, staged[1] the spread gradient.
mlir::LogicalResult lowerConv2dGradInput(OpLowering &l) {
  ConvParams p = convParams(llvm::cast<kiln::nn::Conv2dGradInputOp>(l.op));
  const Tensor &g = l.operands[0], &w = l.operands[1];
  int64_t inChannels = staticExtent(l.resultShapes[0][1]);
  int64_t outPerGroup = staticExtent(w.shape[0]) / p.groups;
  int64_t inPerGroup = staticExtent(w.shape[1]);
  int64_t kernel[2] = {staticExtent(w.shape[2]), staticExtent(w.shape[3])};

  // weight'[c, oo, i', j'] = w[group(c) * outPerGroup + oo, c mod inPerGroup,
  //                           KH-1-i', KW-1-j']
  Func weight("conv_weight_flipped");
  std::vector<Var> v = makeVars(4, "w");
  Expr c = Halide::clamp(v[0], 0, int(inChannels - 1));
  Expr group = c / int(inPerGroup);
  Expr flipped =
      w({group * int(outPerGroup) + v[1], c - group * int(inPerGroup),
         int(kernel[0] - 1) - v[2], int(kernel[1] - 1) - v[3]});
  define(weight, v, Halide::select(v[0] < int(inChannels), flipped, 0.0f));
  l.staged.push_back(weight);

  // spread[n, o, a, b] = g[n, o, y, x] where a = y*s0 + (KH-1)*d0 - p0 (and
  // likewise b), zero elsewhere.
  Func spread("grad_spread");
  std::vector<Var> u = makeVars(4, "s");
  auto [y, validY] = sourceOf(u[2], kernel[0] - 1, p.stride[0], p.padding[0],
                              p.dilation[0], g.shape[2]);
  auto [x, validX] = sourceOf(u[3], kernel[1] - 1, p.stride[1], p.padding[1],
                              p.dilation[1], g.shape[3]);
  define(spread, u,
         Halide::select(validY && validX, g({u[0], u[1], y, x}), 0.0f));
  l.staged.push_back(spread);

  int64_t one[2] = {1, 1}, zero[2] = {0, 0};
  correlate(l, Tensor{spread, g.shape, Halide::Float(32)},
            Tensor{weight, w.shape, Halide::Float(32)}, inPerGroup, outPerGroup,
            kernel, one, zero, p.dilation);
  return mlir::success();
}

/// conv2d_grad_weight: dw[o, ci, i, j] = sum_{n, y, x} g[n, o, y, x]
///   x[n, group(o) * CG + ci, y*s0 - p0 + i*d0, x*s1 - p1 + j*d1].
/// Layout for ScheduleConv.cpp: reductions[0] is the per-image sum over the
/// RDom (x, y), a Func of [n, o, ci, i, j]; reductions[1] sums it over the
/// batch; staged[0] is g read for any channel o (zero past the last),
/// staged[1] the padded input when there is padding.
mlir::LogicalResult lowerConv2dGradWeight(OpLowering &l) {
  ConvParams p = convParams(llvm::cast<kiln::nn::Conv2dGradWeightOp>(l.op));
  const Tensor &x = l.operands[0], &g = l.operands[1];
  const std::vector<Expr> &shape = l.resultShapes[0];
  int64_t outChannels = staticExtent(shape[0]);
  int64_t inPerGroup = staticExtent(shape[1]);
  int64_t outPerGroup = outChannels / p.groups;

  Tensor gradT = zeroPastEnd(l, g, 1, "grad_channels");
  Tensor in = zeroPadded(l, x, p);

  std::vector<Var> v = makeVars(5, "k"); // n, o, ci, i, j
  Var o = v[1], ci = v[2], i = v[3], j = v[4];
  // The scheduler sums chunks of images, the last one partial: the clamp
  // keeps the images Halide's bounds inference sees for that chunk inside
  // the batch.
  Expr n = Halide::clamp(v[0], 0, x.shape[0] - 1);
  Halide::RDom r({{0, g.shape[3]}, {0, g.shape[2]}}, "pixel");
  Expr channel = ci;
  if (p.groups != 1)
    channel += (Halide::clamp(o, 0, int(outChannels - 1)) / int(outPerGroup)) *
               int(inPerGroup);
  Expr tap =
      in({n, channel,
          r.y * int(p.stride[0]) - int(p.padding[0]) + i * int(p.dilation[0]),
          r.x * int(p.stride[1]) - int(p.padding[1]) + j * int(p.dilation[1])});
  Func image("conv_weight_image");
  std::vector<Var> imageOrder = halideOrder(v);
  image(imageOrder) = 0.0f;
  image(imageOrder) += gradT({n, o, r.y, r.x}) * tap;
  l.reductions.push_back({image, r});

  Halide::RDom batch(0, x.shape[0], "image");
  std::vector<Var> order = halideOrder({o, ci, i, j});
  Func acc("conv_weight_acc");
  acc(order) = 0.0f;
  acc(order) += image(j, i, ci, o, batch.x);
  l.reductions.push_back({acc, batch});
  Tensor &out = l.result(0, Halide::Float(32));
  out.func(order) = acc(order);
  return mlir::success();
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

struct Window {
  int64_t kernel[2], stride[2], padding[2];
};

template <typename Op> Window windowParams(Op op) {
  llvm::ArrayRef<int64_t> k = op.getKernel(), s = op.getStride(),
                          p = op.getPadding();
  return {{k[0], k[1]}, {s[0], s[1]}, {p[0], p[1]}};
}

/// Position (i, j) of window (y, x) over plane (n, c) of `in`: the value
/// (read clamped) and whether the position lies inside the input. Without
/// padding every window lies inside (the output size is floored), which
/// Halide cannot see from the index alone: no clamp or test then.
std::pair<Expr, Expr> windowTap(const Tensor &in, const std::vector<Var> &v,
                                const Window &w, int64_t i, int64_t j) {
  Expr at[2] = {v[2] * int(w.stride[0]) + int(i - w.padding[0]),
                v[3] * int(w.stride[1]) + int(j - w.padding[1])};
  Expr inside = Halide::Internal::const_true();
  for (int d = 0; d < 2; ++d) {
    if (w.padding[d] == 0)
      continue;
    const Expr &size = in.shape[2 + d];
    inside = inside && at[d] >= 0 && at[d] < size;
    at[d] = Halide::clamp(at[d], 0, size - 1);
  }
  return {in({v[0], v[1], at[0], at[1]}), inside};
}

/// The first maximum of window v (row-major order, strictly greater wins,
/// as the evaluator scans; a NaN always does, as in PyTorch): its value (-inf
/// for a window wholly in the padding) and its position i*KW + j (-1 then).
std::pair<Expr, Expr> firstMaximum(const Tensor &in, const std::vector<Var> &v,
                                   const Window &w) {
  Expr best = -std::numeric_limits<float>::infinity(), at = -1;
  for (int64_t i = 0; i < w.kernel[0]; ++i)
    for (int64_t j = 0; j < w.kernel[1]; ++j) {
      auto [value, inside] = windowTap(in, v, w, i, j);
      // A NaN is the maximum, as in PyTorch's max_pool2d.
      Expr take = inside && (at < 0 || value > best || Halide::is_nan(value));
      best = Halide::select(take, value, best);
      at = Halide::select(take, int(i * w.kernel[1] + j), at);
    }
  return {best, at};
}

mlir::LogicalResult lowerMaxPool2d(OpLowering &l) {
  Window w = windowParams(llvm::cast<kiln::nn::MaxPool2dOp>(l.op));
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(4);
  define(out.func, v, firstMaximum(l.operands[0], v, w).first);
  return mlir::success();
}

mlir::LogicalResult lowerAvgPool2d(OpLowering &l) {
  Window w = windowParams(llvm::cast<kiln::nn::AvgPool2dOp>(l.op));
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(4);
  Expr sum = 0.0f;
  for (int64_t i = 0; i < w.kernel[0]; ++i)
    for (int64_t j = 0; j < w.kernel[1]; ++j) {
      auto [value, inside] = windowTap(l.operands[0], v, w, i, j);
      sum += Halide::select(inside, value, 0.0f);
    }
  // Padding counts towards the area (PyTorch's count_include_pad).
  define(out.func, v, sum / float(w.kernel[0] * w.kernel[1]));
  return mlir::success();
}

/// A window that covers input position `at` along one dimension: its index
/// (clamped into range), whether it exists, and the tap that lands on `at`.
struct Covering {
  Expr window, valid, tap;
};

/// The windows covering `at` along a dimension with this kernel, stride and
/// padding. Windows that tile the dimension (stride >= kernel) cover each
/// position at most once, so one candidate is computed rather than one per
/// tap.
std::vector<Covering> coveringWindows(Expr at, int64_t kernel, int64_t stride,
                                      int64_t padding, Expr windows) {
  if (stride >= kernel) {
    Expr t = at + int(padding);
    Expr y = t / int(stride), tap = t % int(stride);
    Expr valid = y < windows;
    if (stride > kernel)
      valid = valid && tap < int(kernel);
    return {{Halide::clamp(y, 0, windows - 1), valid, tap}};
  }
  std::vector<Covering> out;
  for (int64_t i = 0; i < kernel; ++i) {
    auto [y, valid] = sourceOf(at, i, stride, padding, 1, windows);
    out.push_back({y, valid, int(i)});
  }
  return out;
}

/// Sum over the windows (y, x) whose tap (i, j) is input element v of
/// contribution(y, x, i, j): the gather form of the pooling adjoints.
template <typename F>
Expr overWindows(const std::vector<Var> &v, const Window &w, const Tensor &g,
                 F contribution) {
  Expr sum;
  for (const Covering &y : coveringWindows(v[2], w.kernel[0], w.stride[0],
                                           w.padding[0], g.shape[2]))
    for (const Covering &x : coveringWindows(v[3], w.kernel[1], w.stride[1],
                                             w.padding[1], g.shape[3])) {
      Expr term =
          Halide::select(y.valid && x.valid,
                         contribution(y.window, x.window, y.tap, x.tap), 0.0f);
      sum = sum.defined() ? sum + term : term;
    }
  return sum;
}

/// Each window's g goes to its first maximum; the position of that maximum
/// is staged, once per window.
mlir::LogicalResult lowerMaxPool2dGrad(OpLowering &l) {
  Window w = windowParams(llvm::cast<kiln::nn::MaxPool2dGradOp>(l.op));
  const Tensor &g = l.operands[0], &x = l.operands[1];
  Func argmax("window_argmax");
  std::vector<Var> u = makeVars(4, "a");
  define(argmax, u, firstMaximum(x, u, w).second);
  l.staged.push_back(argmax);
  Tensor argmaxT{argmax, g.shape, Halide::Int(32)};

  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(4);
  define(out.func, v,
         overWindows(v, w, g, [&](Expr y, Expr xo, Expr i, Expr j) {
           std::vector<Expr> at = {v[0], v[1], y, xo};
           return Halide::select(argmaxT(at) == i * int(w.kernel[1]) + j, g(at),
                                 0.0f);
         }));
  return mlir::success();
}

mlir::LogicalResult lowerAvgPool2dGrad(OpLowering &l) {
  Window w = windowParams(llvm::cast<kiln::nn::AvgPool2dGradOp>(l.op));
  const Tensor &g = l.operands[0];
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(4);
  float area = float(w.kernel[0] * w.kernel[1]);
  define(out.func, v, overWindows(v, w, g, [&](Expr y, Expr xo, Expr, Expr) {
           return g({v[0], v[1], y, xo}) / area;
         }));
  return mlir::success();
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

/// A sum over every dimension of a tensor but `kept`: Vars for the kept
/// dimensions, an RDom over the others (the last dimension innermost), the
/// tensor's index in terms of both, and the number of terms. `contiguous`
/// of the RDom's dimensions, from the first, walk memory in order (2 for the
/// h x w planes of a batch norm's per-channel sums).
struct Collapse {
  std::vector<Var> vars;
  Halide::RDom r;
  std::vector<Expr> index;
  std::vector<Expr> keptShape;
  Expr count = 1;
  int contiguous = 0;

  Collapse(const Tensor &x, llvm::ArrayRef<int> kept, const std::string &name) {
    Halide::Region region;
    std::vector<int> reduced;
    for (int d = x.rank() - 1; d >= 0; --d)
      if (!llvm::is_contained(kept, d)) {
        region.emplace_back(0, x.shape[d]);
        reduced.push_back(d);
        count = count * x.shape[d];
      }
    // Nothing to reduce: a one-term sum keeps every rule's shape uniform.
    if (region.empty())
      region.emplace_back(0, 1);
    r = Halide::RDom(region, name);
    vars = makeVars(int(kept.size()), name + "_k");
    index.resize(x.rank());
    for (size_t k = 0; k < kept.size(); ++k) {
      index[kept[k]] = vars[k];
      keptShape.push_back(x.shape[kept[k]]);
    }
    for (size_t k = 0; k < reduced.size(); ++k)
      index[reduced[k]] = r[int(k)];
    while (contiguous < int(reduced.size()) &&
           reduced[contiguous] == x.rank() - 1 - contiguous)
      ++contiguous;
  }
};

/// The entries of the index `at` in the dimensions `kept`.
std::vector<Expr> keptIndex(const std::vector<Expr> &at,
                            llvm::ArrayRef<int> kept) {
  std::vector<Expr> out;
  for (int d : kept)
    out.push_back(at[d]);
  return out;
}

/// A staged Func over c's kept dimensions summing `value` (an Expr of
/// c.vars and c.r) over c.r.
Tensor stagedSum(OpLowering &l, const Collapse &c, Expr value,
                 const std::string &name) {
  Func f(name);
  std::vector<Var> order = halideOrder(c.vars);
  f(order) = 0.0f;
  f(order) += value;
  l.reductions.push_back({f, c.r});
  l.staged.push_back(f);
  // Summed along memory (vector lanes over w), not across channels: lanes
  // a plane apart are gathers, and planes of 4 KiB (32 x 32) alias in the
  // cache (measured 7x slower than 33 x 33 per element).
  if (c.contiguous > 0)
    l.contiguousReductions[f.name()] = c.contiguous;
  return Tensor{f, c.keptShape, Halide::Float(32)};
}

/// A staged pure Func over c's kept dimensions.
Tensor stagedMap(OpLowering &l, const Collapse &c, Expr value,
                 const std::string &name) {
  Func f(name);
  define(f, c.vars, value);
  l.staged.push_back(f);
  return Tensor{f, c.keptShape, Halide::Float(32)};
}

/// Mean, biased variance (two passes, as the evaluator) and 1/sqrt(var +
/// eps) of `x` over every dimension but `kept`.
struct Moments {
  Tensor mean, var, istd;
  Expr count;
};

Moments momentsOf(OpLowering &l, const Tensor &x, llvm::ArrayRef<int> kept,
                  float eps) {
  Collapse c(x, kept, "stat");
  std::vector<Expr> at = exprsOf(c.vars);
  Expr count = f32(c.count);
  Tensor sum = stagedSum(l, c, x(c.index), "sum");
  Tensor mean = stagedMap(l, c, sum(at) / count, "mean");
  Expr d = x(c.index) - mean(at);
  Tensor squares = stagedSum(l, c, d * d, "sum_squares");
  Tensor var = stagedMap(l, c, squares(at) / count, "var");
  Tensor istd = stagedMap(l, c, 1.0f / Halide::sqrt(var(at) + eps), "istd");
  return {mean, var, istd, count};
}

/// (x - mean) istd at `at`, the statistics taken over all but `kept`.
Expr normalized(const Tensor &x, const Moments &m, const std::vector<Expr> &at,
                llvm::ArrayRef<int> kept) {
  std::vector<Expr> k = keptIndex(at, kept);
  return (x(at) - m.mean(k)) * m.istd(k);
}

float epsOf(mlir::Operation *op) {
  return float(op->getAttrOfType<mlir::FloatAttr>("eps").getValueAsDouble());
}

/// Batch norm in training mode: batch statistics per channel (dimension
/// 1), and the running statistics moved towards them; the variance folded
/// in is the unbiased one (PyTorch).
mlir::LogicalResult lowerBatchNorm(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::BatchNormOp>(l.op);
  const Tensor &x = l.operands[0], &w = l.operands[1], &b = l.operands[2];
  const Tensor &runningMean = l.operands[3], &runningVar = l.operands[4];
  float momentum = float(op.getMomentum().convertToDouble());
  Moments m = momentsOf(l, x, {1}, epsOf(l.op));
  std::vector<Var> v = makeVars(x.rank());
  std::vector<Expr> at = exprsOf(v);
  Func y = l.result(0, Halide::Float(32)).func;
  define(y, v, normalized(x, m, at, {1}) * w({v[1]}) + b({v[1]}));
  Var c("c");
  Func mean = l.result(1, Halide::Float(32)).func;
  mean(c) = (1.0f - momentum) * runningMean({c}) + momentum * m.mean({c});
  Func var = l.result(2, Halide::Float(32)).func;
  Expr unbiased = m.var({c}) * m.count / (m.count - 1.0f);
  var(c) = (1.0f - momentum) * runningVar({c}) + momentum * unbiased;
  return mlir::success();
}

mlir::LogicalResult lowerBatchNormInference(OpLowering &l) {
  const Tensor &x = l.operands[0], &w = l.operands[1], &b = l.operands[2];
  const Tensor &mean = l.operands[3], &var = l.operands[4];
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(x.rank());
  Expr c = v[1];
  define(out.func, v,
         (x(exprsOf(v)) - mean({c})) / Halide::sqrt(var({c}) + epsOf(l.op)) *
                 w({c}) +
             b({c}));
  return mlir::success();
}

/// Layer norm over the last dimension: statistics per row.
mlir::LogicalResult lowerLayerNorm(OpLowering &l) {
  const Tensor &x = l.operands[0], &w = l.operands[1], &b = l.operands[2];
  std::vector<int> rows;
  for (int d = 0; d + 1 < x.rank(); ++d)
    rows.push_back(d);
  Moments m = momentsOf(l, x, rows, epsOf(l.op));
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(x.rank());
  Expr j = v.back();
  define(out.func, v, normalized(x, m, exprsOf(v), rows) * w({j}) + b({j}));
  return mlir::success();
}

/// The backward formula batch and layer norm share (KernelsNorm.cpp):
///   xhat = (x - mean) istd, d bias = sum g, d weight = sum g xhat,
///   dx = istd / n (n gw - sum gw - xhat sum(gw xhat)), gw = g weight,
/// statistics and the sums in dx over all dimensions but `group`, the
/// weight sums over all but `feature` (one dimension, the weight's).
mlir::LogicalResult lowerNormGrad(OpLowering &l, llvm::ArrayRef<int> group,
                                  int feature) {
  const Tensor &g = l.operands[0], &x = l.operands[1], &w = l.operands[2];
  Moments m = momentsOf(l, x, group, epsOf(l.op));

  Collapse byGroup(x, group, "grp");
  Expr xhatG = normalized(x, m, byGroup.index, group);
  Expr gwG = g(byGroup.index) * w({byGroup.index[feature]});
  Tensor sumGw = stagedSum(l, byGroup, gwG, "sum_gw");
  Tensor sumGwXhat = stagedSum(l, byGroup, gwG * xhatG, "sum_gw_xhat");

  Collapse byFeature(x, {feature}, "feat");
  Expr xhatF = normalized(x, m, byFeature.index, group);
  Tensor dw = stagedSum(l, byFeature, g(byFeature.index) * xhatF, "sum_g_xhat");
  Tensor db = stagedSum(l, byFeature, g(byFeature.index), "sum_g");

  std::vector<Var> v = makeVars(x.rank());
  std::vector<Expr> at = exprsOf(v), k = keptIndex(at, group);
  Expr n = m.count;
  Expr gw = g(at) * w({at[feature]});
  Func dx = l.result(0, Halide::Float(32)).func;
  define(dx, v,
         m.istd(k) / n *
             (n * gw - sumGw(k) - normalized(x, m, at, group) * sumGwXhat(k)));
  Var f("f");
  Func dwOut = l.result(1, Halide::Float(32)).func;
  dwOut(f) = dw({f});
  Func dbOut = l.result(2, Halide::Float(32)).func;
  dbOut(f) = db({f});
  return mlir::success();
}

mlir::LogicalResult lowerBatchNormGrad(OpLowering &l) {
  return lowerNormGrad(l, {1}, 1);
}

mlir::LogicalResult lowerLayerNormGrad(OpLowering &l) {
  int rank = l.operands[1].rank();
  std::vector<int> rows;
  for (int d = 0; d + 1 < rank; ++d)
    rows.push_back(d);
  return lowerNormGrad(l, rows, rank - 1);
}

//===----------------------------------------------------------------------===//
// Dropout, embedding
//===----------------------------------------------------------------------===//

Expr u64(uint64_t v) {
  return Halide::Internal::make_const(Halide::UInt(64), v);
}

/// kiln::rt::splitmix64 (runtime/Random.h) on UInt(64), whose arithmetic
/// wraps as C++'s does.
Expr splitmix64(Expr x) {
  x = x + u64(0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * u64(0xBF58476D1CE4E5B9ull);
  x = (x ^ (x >> 27)) * u64(0x94D049BB133111EBull);
  return x ^ (x >> 31);
}

/// Inverted dropout with rt::dropoutKeeps' mask: element i (flat
/// row-major) is kept when uniform01(key, i) >= p. uniform01 is u * 2^-53
/// for the 53-bit integer u = bits >> 11, exact in double, so the test is
/// u >= ceil(p * 2^53) in integers, with no floating point in the kernel.
mlir::LogicalResult lowerDropout(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::DropoutOp>(l.op);
  const Tensor &x = l.operands[0], &seed = l.operands[1];
  double p = op.getP().convertToDouble();
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(x.rank());
  Expr value = x(exprsOf(v));
  if (p == 0) { // the evaluator returns x itself
    define(out.func, v, value);
    return mlir::success();
  }
  Expr flat = 0;
  for (int d = 0; d < x.rank(); ++d)
    flat = flat * x.shape[d] + v[d];
  Expr key = splitmix64(Halide::cast<uint64_t>(seed({}))) ^
             u64(kiln::rt::splitmix64(~uint64_t(op.getStream())));
  Expr bits = splitmix64(key ^ splitmix64(Halide::cast<uint64_t>(flat)));
  auto threshold = uint64_t(std::ceil(std::ldexp(p, 53)));
  float scale = 1.0f / (1.0f - float(p));
  define(out.func, v,
         Halide::select((bits >> 11) >= u64(threshold), value * scale, 0.0f));
  return mlir::success();
}

/// The runtime rejects indices outside the table when it reads the data;
/// the clamp only tells Halide that every read stays inside the buffer.
Expr rowOf(Expr index, const Expr &rows) {
  return Halide::clamp(Halide::cast<int>(index), 0, rows - 1);
}

mlir::LogicalResult lowerEmbedding(OpLowering &l) {
  const Tensor &indices = l.operands[0], &table = l.operands[1];
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(out.rank());
  std::vector<Expr> position(v.begin(), v.end() - 1);
  define(out.func, v,
         table({rowOf(indices(position), table.shape[0]), v.back()}));
  return mlir::success();
}

/// Scatter-add of g's rows into the table, in the evaluator's order.
mlir::LogicalResult lowerEmbeddingGrad(OpLowering &l) {
  const Tensor &g = l.operands[0], &indices = l.operands[1];
  Expr rows = l.resultShapes[0][0];
  Halide::Region region;
  for (int d = indices.rank() - 1; d >= 0; --d)
    region.emplace_back(0, indices.shape[d]);
  if (region.empty())
    region.emplace_back(0, 1);
  Halide::RDom r(region, "lookup");
  std::vector<Expr> position;
  for (int d = 0; d < indices.rank(); ++d)
    position.push_back(r[indices.rank() - 1 - d]);
  std::vector<Expr> gradAt = position;
  Var j("j"), row("row");
  gradAt.push_back(j);
  Func acc("table_grad");
  acc(j, row) = 0.0f;
  acc(j, rowOf(indices(position), rows)) += g(gradAt);
  l.reductions.push_back({acc, r});
  Func out = l.result(0, Halide::Float(32)).func;
  out(j, row) = acc(j, row);
  return mlir::success();
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

/// Each result element comes from the input whose range along the axis
/// holds it; every input is read clamped into its own range.
mlir::LogicalResult lowerConcat(OpLowering &l) {
  int axis = int(llvm::cast<kiln::nn::ConcatOp>(l.op).getAxis());
  Tensor &out = l.result(0, l.operands[0].type);
  std::vector<Var> v = makeVars(out.rank());
  std::vector<Expr> offsets;
  Expr offset = 0;
  for (const Tensor &in : l.operands) {
    offsets.push_back(offset);
    offset = offset + in.shape[axis];
  }
  Expr value;
  for (int k = int(l.operands.size()) - 1; k >= 0; --k) {
    std::vector<Expr> at = exprsOf(v);
    at[axis] = at[axis] - offsets[k];
    Expr read = clampedRead(l.operands[k], at, axis);
    value = value.defined()
                ? Halide::select(v[axis] < offsets[k + 1], read, value)
                : read;
  }
  define(out.func, v, value);
  return mlir::success();
}

mlir::LogicalResult lowerSlice(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::SliceOp>(l.op);
  int axis = int(op.getAxis());
  Tensor &out = l.result(0, l.operands[0].type);
  std::vector<Var> v = makeVars(out.rank());
  std::vector<Expr> at = exprsOf(v);
  at[axis] = at[axis] + int(op.getStart());
  define(out.func, v, l.operands[0](at));
  return mlir::success();
}

mlir::LogicalResult lowerPad(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::PadOp>(l.op);
  int axis = int(op.getAxis());
  const Tensor &in = l.operands[0];
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(out.rank());
  std::vector<Expr> at = exprsOf(v);
  at[axis] = at[axis] - int(op.getBefore());
  Expr inside = at[axis] >= 0 && at[axis] < in.shape[axis];
  define(out.func, v, Halide::select(inside, clampedRead(in, at, axis), 0.0f));
  return mlir::success();
}

} // namespace

void kiln::codegen::addNetworkRules(RuleTable &rules) {
  rules["nn.conv2d"] = lowerConv2d;
  rules["nn.conv2d_grad_input"] = lowerConv2dGradInput;
  rules["nn.conv2d_grad_weight"] = lowerConv2dGradWeight;
  rules["nn.max_pool2d"] = lowerMaxPool2d;
  rules["nn.max_pool2d_grad"] = lowerMaxPool2dGrad;
  rules["nn.avg_pool2d"] = lowerAvgPool2d;
  rules["nn.avg_pool2d_grad"] = lowerAvgPool2dGrad;
  rules["nn.batch_norm"] = lowerBatchNorm;
  rules["nn.batch_norm_inference"] = lowerBatchNormInference;
  rules["nn.batch_norm_grad"] = lowerBatchNormGrad;
  rules["nn.layer_norm"] = lowerLayerNorm;
  rules["nn.layer_norm_grad"] = lowerLayerNormGrad;
  rules["nn.dropout"] = lowerDropout;
  rules["nn.embedding"] = lowerEmbedding;
  rules["nn.embedding_grad"] = lowerEmbeddingGrad;
  rules["nn.concat"] = lowerConcat;
  rules["nn.slice"] = lowerSlice;
  rules["nn.pad"] = lowerPad;
}
