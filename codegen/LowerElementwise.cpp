//===- LowerElementwise.cpp - elementwise nn ops as Halide ------*- C++ -*-===//
//
// Part of kiln. Unary math, broadcasting binary ops (NumPy rules: operands
// right-aligned, a static extent 1 repeats), the (grad, input) masks of the
// activation gradients, and broadcast_to. Each formula is the reference
// evaluator's (tools/kiln-run/Evaluator.cpp), in f32.
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"
#include "ir/NNDialect.h"

#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace kiln::codegen;
using Halide::Expr;
using Halide::Var;

namespace {

llvm::StringSet<> &elementwiseRuleNames() {
  static llvm::StringSet<> names;
  return names;
}

/// Operand `t` read at the result index `vars` under NumPy broadcasting.
Expr broadcastRead(const Tensor &t, const std::vector<Var> &vars) {
  int offset = static_cast<int>(vars.size()) - t.rank();
  std::vector<Expr> index;
  for (int d = 0; d < t.rank(); ++d) {
    const Expr &extent = t.shape[d];
    bool repeats = Halide::Internal::is_const_one(extent);
    index.push_back(repeats ? Expr(0) : Expr(vars[d + offset]));
  }
  return t(index);
}

template <typename F> mlir::LogicalResult unary(OpLowering &l, F f) {
  std::vector<Var> v = makeVars(l.operands[0].rank());
  Tensor &out = l.result(0, Halide::Float(32));
  define(out.func, v, f(l.operands[0](std::vector<Expr>(v.begin(), v.end()))));
  return mlir::success();
}

template <typename F> mlir::LogicalResult binary(OpLowering &l, F f) {
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(out.rank());
  define(out.func, v,
         f(broadcastRead(l.operands[0], v), broadcastRead(l.operands[1], v)));
  return mlir::success();
}

const float kSqrt2 = std::sqrt(2.0f), kSqrt2OverPi = std::sqrt(2.0f / M_PI),
            kInvSqrt2Pi = 1.0f / std::sqrt(2.0f * float(M_PI)),
            kGeluCubic = 0.044715f;

float alphaOf(mlir::Operation *op) {
  return float(op->getAttrOfType<mlir::FloatAttr>("alpha").getValueAsDouble());
}

bool tanhApproximation(mlir::Operation *op) {
  auto a = op->getAttrOfType<mlir::StringAttr>("approximate");
  return a && a.getValue() == "tanh";
}

mlir::LogicalResult lowerGelu(OpLowering &l) {
  if (tanhApproximation(l.op))
    return unary(l, [](Expr x) {
      Expr u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
      return 0.5f * x * (1.0f + Halide::tanh(u));
    });
  return unary(l, [](Expr x) {
    return 0.5f * x * (1.0f + Halide::erf(x / kSqrt2));
  });
}

mlir::LogicalResult lowerGeluGrad(OpLowering &l) {
  if (tanhApproximation(l.op))
    // d/dx 0.5 x (1 + tanh u), u = k (x + c x^3)
    return binary(l, [](Expr g, Expr x) {
      Expr t = Halide::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
      Expr du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
      return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
    });
  // d/dx x Phi(x) = Phi(x) + x phi(x)
  return binary(l, [](Expr g, Expr x) {
    Expr cdf = 0.5f * (1.0f + Halide::erf(x / kSqrt2));
    return g * (cdf + x * kInvSqrt2Pi * expNaN(-0.5f * x * x));
  });
}

mlir::LogicalResult lowerLeakyRelu(OpLowering &l) {
  float alpha = alphaOf(l.op);
  return unary(l, [=](Expr x) { return Halide::select(x > 0, x, alpha * x); });
}

mlir::LogicalResult lowerLeakyReluGrad(OpLowering &l) {
  float alpha = alphaOf(l.op);
  return binary(l,
                [=](Expr g, Expr x) { return Halide::select(x > 0, g, alpha * g); });
}

mlir::LogicalResult lowerBroadcastTo(OpLowering &l) {
  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(out.rank());
  define(out.func, v, broadcastRead(l.operands[0], v));
  return mlir::success();
}

} // namespace

bool kiln::codegen::isElementwise(llvm::StringRef name) {
  // broadcast_to is not: its result shape is not its operand's.
  return name != "nn.broadcast_to" && loweringRules().count(name) &&
         elementwiseRuleNames().contains(name);
}

void kiln::codegen::addElementwiseRules(RuleTable &rules) {
#define UNARY(NAME, BODY)                                                      \
  elementwiseRuleNames().insert(NAME);                                         \
  rules[NAME] = [](OpLowering &l) {                                            \
    return unary(l, [](Expr x) { return BODY; });                              \
  }
#define BINARY(NAME, BODY)                                                     \
  elementwiseRuleNames().insert(NAME);                                         \
  rules[NAME] = [](OpLowering &l) {                                            \
    return binary(l, [](Expr a, Expr b) { return BODY; });                     \
  }
  UNARY("nn.neg", -x);
  UNARY("nn.exp", expNaN(x));
  UNARY("nn.log", logNaN(x));
  UNARY("nn.sqrt", Halide::sqrt(x));
  UNARY("nn.abs", Halide::abs(x));
  UNARY("nn.cos", Halide::cos(x));
  UNARY("nn.floor", Halide::floor(x));
  UNARY("nn.sign", Halide::select(x > 0, 1.0f, x < 0, -1.0f, 0.0f));
  UNARY("nn.relu", maxNaN(x, 0.0f));
  UNARY("nn.sigmoid", 1.0f / (1.0f + expNaN(-x)));
  UNARY("nn.tanh", Halide::tanh(x));
  BINARY("nn.add", a + b);
  BINARY("nn.sub", a - b);
  BINARY("nn.mul", a * b);
  BINARY("nn.div", a / b);
  BINARY("nn.pow", Halide::pow(a, b));
  BINARY("nn.maximum", maxNaN(a, b));
  BINARY("nn.minimum", minNaN(a, b));
  BINARY("nn.greater", Halide::select(a > b, 1.0f, 0.0f));
  BINARY("nn.relu_grad", Halide::select(b > 0, a, 0.0f));
#undef UNARY
#undef BINARY
  for (const char *name : {"nn.leaky_relu", "nn.leaky_relu_grad", "nn.gelu",
                           "nn.gelu_grad"})
    elementwiseRuleNames().insert(name);
  rules["nn.leaky_relu"] = lowerLeakyRelu;
  rules["nn.leaky_relu_grad"] = lowerLeakyReluGrad;
  rules["nn.gelu"] = lowerGelu;
  rules["nn.gelu_grad"] = lowerGeluGrad;
  rules["nn.broadcast_to"] = lowerBroadcastTo;
}
