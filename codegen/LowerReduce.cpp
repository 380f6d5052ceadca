//===- LowerReduce.cpp - reductions, softmax and losses as Halide -*- C++ -*-===//
//
// Part of kiln. Sum, mean and max over axes and their gradients, argmax
// (first maximum), softmax and log-softmax (max-shifted), and the four
// losses with their gradients, each the reference evaluator's formula
// (tools/kiln-run/KernelsReduce.cpp, KernelsLoss.cpp). Class indices are
// clamped into range before they index: the runtime rejects labels outside
// [0, classes) when it reads the data, and Halide must know every read stays
// inside its buffer.
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"
#include "ir/NNDialect.h"

#include "llvm/ADT/STLExtras.h"

using namespace kiln::codegen;
using Halide::Expr;
using Halide::Var;

namespace {

/// The index mapping of a reduction of `x` over `axes`: result variables
/// (keepdim or not) and an RDom over the reduced extents.
struct Reduction {
  std::vector<Var> vars;
  Halide::RDom r;
  std::vector<Expr> inputIndex;

  Reduction(const Tensor &x, llvm::ArrayRef<int64_t> axes, bool keepdim) {
    // An RDom's first dimension is its innermost loop: list the axes
    // innermost (last) first so the loop nest walks memory in order.
    Halide::Region region;
    for (int64_t a : llvm::reverse(axes))
      region.emplace_back(0, x.shape[a]);
    r = Halide::RDom(region, "r");
    int kept = keepdim ? x.rank() : x.rank() - int(axes.size());
    vars = makeVars(kept);
    int next = 0;
    for (int d = 0; d < x.rank(); ++d) {
      auto it = llvm::find(axes, d);
      if (it != axes.end()) {
        inputIndex.push_back(r[int(axes.end() - it) - 1]);
        if (keepdim)
          ++next;
      } else {
        inputIndex.push_back(vars[next++]);
      }
    }
  }
};

Expr count(const Tensor &x, llvm::ArrayRef<int64_t> axes) {
  Expr n = 1;
  for (int64_t a : axes)
    n = n * x.shape[a];
  return f32(n);
}

template <typename Op> mlir::LogicalResult lowerReduce(OpLowering &l) {
  auto op = llvm::cast<Op>(l.op);
  const Tensor &x = l.operands[0];
  Reduction red(x, op.getAxes(), op.getKeepdim());
  Tensor &out = l.result(0, Halide::Float(32));
  Halide::Func acc(out.func.name() + "_acc");
  std::vector<Var> order = halideOrder(red.vars);
  Expr value = x(red.inputIndex);
  // Sums and maxima are the associative updates Halide can split into
  // vector lanes (rfactor); a NaN-aware maximum is not one. So a maximum
  // keeps Halide's max, which skips NaN, and adds a second sum that is 0,
  // or NaN when a NaN was skipped (torch.amax gives NaN).
  std::vector<Halide::Func> accs = {acc};
  if constexpr (std::is_same_v<Op, kiln::nn::ReduceMaxOp>) {
    acc(order) = Halide::Float(32).min();
    acc(order) = Halide::max(acc(order), value);
    Halide::Func nan(out.func.name() + "_nan");
    nan(order) = 0.0f;
    nan(order) += Halide::select(Halide::is_nan(value), value, 0.0f);
    accs.push_back(nan);
  } else {
    acc(order) = 0.0f;
    acc(order) += value;
  }
  // The reduced axes that end at the last one, consecutively, are one
  // stretch of memory.
  int contiguous = 0;
  for (int64_t a : llvm::reverse(op.getAxes())) {
    if (a != x.rank() - 1 - contiguous)
      break;
    ++contiguous;
  }
  for (Halide::Func &f : accs) {
    l.reductions.push_back({f, red.r});
    if (contiguous > 0)
      l.contiguousReductions[f.name()] = contiguous;
  }
  if constexpr (std::is_same_v<Op, kiln::nn::ReduceMeanOp>)
    out.func(order) = acc(order) / count(x, op.getAxes());
  else if constexpr (std::is_same_v<Op, kiln::nn::ReduceMaxOp>)
    out.func(order) = acc(order) + accs[1](order);
  else
    out.func(order) = acc(order);
  return mlir::success();
}

/// The element of the reduced tensor `g` (shape kept or not) that input
/// index `v` of a reduction over `axes` contributes to.
Expr reducedAt(const Tensor &g, const std::vector<Var> &v,
               llvm::ArrayRef<int64_t> axes) {
  bool keepdim = g.rank() == int(v.size());
  std::vector<Expr> index;
  for (int d = 0; d < int(v.size()); ++d) {
    bool reduced = llvm::is_contained(axes, d);
    if (!reduced)
      index.push_back(v[d]);
    else if (keepdim)
      index.push_back(0);
  }
  return g(index);
}

mlir::LogicalResult lowerReduceMeanGrad(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::ReduceMeanGradOp>(l.op);
  const Tensor &g = l.operands[0], &x = l.operands[1];
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(x.rank());
  define(out.func, v, reducedAt(g, v, op.getAxes()) / count(x, op.getAxes()));
  return mlir::success();
}

mlir::LogicalResult lowerReduceMaxGrad(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::ReduceMaxGradOp>(l.op);
  const Tensor &g = l.operands[0], &x = l.operands[1], &m = l.operands[2];
  // Ties share the gradient evenly: count them per reduced element.
  Reduction red(x, op.getAxes(), op.getKeepdim());
  Halide::Func ties("ties");
  std::vector<Var> order = halideOrder(red.vars);
  ties(order) = 0.0f;
  ties(order) += Halide::select(x(red.inputIndex) == m(std::vector<Expr>(
                                                       red.vars.begin(),
                                                       red.vars.end())),
                                1.0f, 0.0f);
  l.reductions.push_back({ties, red.r});
  l.staged.push_back(ties);
  Tensor tiesT{ties, m.shape, Halide::Float(32)};

  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(x.rank());
  Expr max = reducedAt(m, v, op.getAxes());
  define(out.func, v,
         Halide::select(x(std::vector<Expr>(v.begin(), v.end())) == max,
                        reducedAt(g, v, op.getAxes()) /
                            reducedAt(tiesT, v, op.getAxes()),
                        0.0f));
  return mlir::success();
}

mlir::LogicalResult lowerArgmax(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::ArgmaxOp>(l.op);
  const Tensor &x = l.operands[0];
  int64_t axis = op.getAxis();
  Reduction red(x, {axis}, /*keepdim=*/false);
  Tensor &out = l.result(0, Halide::Int(64));
  // Halide's argmax keeps the first of equal maxima, as the evaluator does.
  Expr best = Halide::argmax(red.r, x(red.inputIndex))[0];
  define(out.func, red.vars, Halide::cast<int64_t>(best));
  return mlir::success();
}

/// Max-shifted softmax pieces of `x` along `axis`: the row maximum and the
/// sum of exp(x - max), both staged, indexed by x's other dimensions. (Kept
/// as a dimension of extent 1, that axis would be the staged Funcs'
/// innermost and the schedule would vectorize it: 16-lane predicated
/// operations on one element, which made the MLP's classifier kernel 1.8x
/// slower.)
struct SoftmaxParts {
  Tensor max, sum;
};

SoftmaxParts softmaxParts(OpLowering &l, const Tensor &x, int64_t axis) {
  Reduction red(x, {axis}, /*keepdim=*/false);
  std::vector<Var> order = halideOrder(red.vars);
  Halide::Func max("row_max"), sum("row_sum_exp");
  max(order) = Halide::maximum(x(red.inputIndex));
  Tensor maxT{max, x.shape, Halide::Float(32)};
  maxT.shape.erase(maxT.shape.begin() + axis);
  std::vector<Expr> kept(red.vars.begin(), red.vars.end());
  // The row maximum may drop a NaN; exp(NaN - max) brings it back.
  sum(order) = Halide::sum(expNaN(x(red.inputIndex) - maxT(kept)));
  l.staged.push_back(max);
  l.staged.push_back(sum);
  return {maxT, Tensor{sum, maxT.shape, Halide::Float(32)}};
}

/// Softmax part `t` at the position `v` of x.
Expr keptAt(const Tensor &t, const std::vector<Var> &v, int64_t axis) {
  std::vector<Expr> index(v.begin(), v.end());
  index.erase(index.begin() + axis);
  return t(index);
}

template <bool Log> mlir::LogicalResult lowerSoftmax(OpLowering &l) {
  int64_t axis = l.op->getAttrOfType<mlir::IntegerAttr>("axis").getInt();
  const Tensor &x = l.operands[0];
  SoftmaxParts p = softmaxParts(l, x, axis);
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(x.rank());
  Expr xv = x(std::vector<Expr>(v.begin(), v.end()));
  Expr shifted = xv - keptAt(p.max, v, axis);
  if (Log)
    define(out.func, v, shifted - logNaN(keptAt(p.sum, v, axis)));
  else
    define(out.func, v, expNaN(shifted) / keptAt(p.sum, v, axis));
  return mlir::success();
}

Expr classOf(const Tensor &t, Expr i, const Tensor &x) {
  return Halide::clamp(Halide::cast<int>(t({i})), 0, x.shape[1] - 1);
}

/// Cross-entropy and NLL: -mean_i logp[i, t_i], logp = log_softmax(x) for
/// cross-entropy and x itself for NLL.
template <bool Softmax> mlir::LogicalResult lowerClassLoss(OpLowering &l) {
  const Tensor &x = l.operands[0], &t = l.operands[1];
  Halide::RDom r(0, x.shape[0], "n");
  Expr picked = x({r.x, classOf(t, r.x, x)});
  if (Softmax) {
    SoftmaxParts p = softmaxParts(l, x, 1);
    picked = picked - p.max({r.x}) - logNaN(p.sum({r.x}));
  }
  Tensor &out = l.result(0, Halide::Float(32));
  out.func() = -Halide::sum(picked) / f32(x.shape[0]);
  return mlir::success();
}

template <bool Softmax> mlir::LogicalResult lowerClassLossGrad(OpLowering &l) {
  const Tensor &g = l.operands[0], &x = l.operands[1], &t = l.operands[2];
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(2);
  Expr hit = Halide::select(classOf(t, v[0], x) == v[1], 1.0f, 0.0f);
  Expr scale = g({}) / f32(x.shape[0]);
  if (Softmax) {
    SoftmaxParts p = softmaxParts(l, x, 1);
    Expr prob = expNaN(x({v[0], v[1]}) - p.max({v[0]})) / p.sum({v[0]});
    define(out.func, v, scale * (prob - hit));
  } else {
    define(out.func, v, -scale * hit);
  }
  return mlir::success();
}

/// Mean over every element of `f(x, t)` for same-shape x and t.
template <typename F> void meanOf(OpLowering &l, F f) {
  const Tensor &x = l.operands[0], &t = l.operands[1];
  if (x.rank() == 0) {
    l.result(0, Halide::Float(32)).func() = f(x({}), t({}));
    return;
  }
  Halide::Region region; // innermost dimension first, as in Reduction
  for (const Expr &e : llvm::reverse(x.shape))
    region.emplace_back(0, e);
  Halide::RDom r(region, "e");
  std::vector<Expr> index;
  for (int d = 0; d < x.rank(); ++d)
    index.push_back(r[x.rank() - 1 - d]);
  Tensor &out = l.result(0, Halide::Float(32));
  out.func() = Halide::sum(f(x(index), t(index))) / f32(x.numel());
}

template <typename F> void elementwiseGrad(OpLowering &l, F f) {
  const Tensor &g = l.operands[0], &x = l.operands[1], &t = l.operands[2];
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(x.rank());
  std::vector<Expr> index(v.begin(), v.end());
  define(out.func, v, g({}) * f(x(index), t(index)) / f32(x.numel()));
}

mlir::LogicalResult lowerBce(OpLowering &l) {
  // The stable form: never exponentiates a positive number.
  meanOf(l, [](Expr x, Expr t) {
    return maxNaN(x, 0.0f) - x * t + logNaN(1.0f + expNaN(-Halide::abs(x)));
  });
  return mlir::success();
}

mlir::LogicalResult lowerBceGrad(OpLowering &l) {
  elementwiseGrad(
      l, [](Expr x, Expr t) { return 1.0f / (1.0f + expNaN(-x)) - t; });
  return mlir::success();
}

mlir::LogicalResult lowerMse(OpLowering &l) {
  meanOf(l, [](Expr x, Expr t) { return (x - t) * (x - t); });
  return mlir::success();
}

mlir::LogicalResult lowerMseGrad(OpLowering &l) {
  elementwiseGrad(l, [](Expr x, Expr t) { return 2.0f * (x - t); });
  return mlir::success();
}

} // namespace

void kiln::codegen::addReduceRules(RuleTable &rules) {
  using namespace kiln::nn;
  rules["nn.reduce_sum"] = lowerReduce<ReduceSumOp>;
  rules["nn.reduce_mean"] = lowerReduce<ReduceMeanOp>;
  rules["nn.reduce_max"] = lowerReduce<ReduceMaxOp>;
  rules["nn.reduce_mean_grad"] = lowerReduceMeanGrad;
  rules["nn.reduce_max_grad"] = lowerReduceMaxGrad;
  rules["nn.argmax"] = lowerArgmax;
  rules["nn.softmax"] = lowerSoftmax<false>;
  rules["nn.log_softmax"] = lowerSoftmax<true>;
  rules["nn.cross_entropy"] = lowerClassLoss<true>;
  rules["nn.nll"] = lowerClassLoss<false>;
  rules["nn.cross_entropy_grad"] = lowerClassLossGrad<true>;
  rules["nn.nll_grad"] = lowerClassLossGrad<false>;
  rules["nn.bce_with_logits"] = lowerBce;
  rules["nn.bce_with_logits_grad"] = lowerBceGrad;
  rules["nn.mse"] = lowerMse;
  rules["nn.mse_grad"] = lowerMseGrad;
}
