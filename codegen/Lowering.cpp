//===- Lowering.cpp - Tensor helpers and the rule table ---------*- C++ -*-===//
//
// Part of kiln. The helpers every lowering rule uses (MLIR-order indexing,
// fresh variables) and the one table that maps op names to rules.
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"

#include <algorithm>

using namespace kiln::codegen;

Halide::Expr Tensor::operator()(const std::vector<Halide::Expr> &index) const {
  assert(index.size() == shape.size() && "index rank differs from tensor rank");
  std::vector<Halide::Expr> reversed(index.rbegin(), index.rend());
  return func(reversed);
}

Halide::Expr Tensor::numel() const {
  Halide::Expr n = 1;
  for (const Halide::Expr &e : shape)
    n = n * e;
  return Halide::Internal::simplify(n);
}

std::vector<Halide::Var> kiln::codegen::makeVars(int rank,
                                                 const std::string &prefix) {
  std::vector<Halide::Var> vars;
  for (int i = 0; i < rank; ++i)
    vars.emplace_back(prefix + std::to_string(i));
  return vars;
}

std::vector<Halide::Var>
kiln::codegen::halideOrder(const std::vector<Halide::Var> &vars) {
  return {vars.rbegin(), vars.rend()};
}

void kiln::codegen::define(Halide::Func &f, const std::vector<Halide::Var> &vars,
                           const Halide::Expr &value) {
  std::vector<Halide::Var> order = halideOrder(vars);
  f(order) = value;
}

Tensor &OpLowering::result(unsigned i, Halide::Type type) {
  if (results.size() <= i)
    results.resize(i + 1);
  // "nn_tanh", not "tanh": a Func named like a libm function would clash
  // with it in the object file.
  std::string name = op->getName().getStringRef().str();
  std::replace(name.begin(), name.end(), '.', '_');
  if (op->getNumResults() > 1)
    name += "_r" + std::to_string(i);
  results[i] = Tensor{Halide::Func(name), resultShapes[i], type};
  return results[i];
}

Halide::Expr kiln::codegen::f32(Halide::Expr x) {
  return x.type() == Halide::Float(32) ? x : Halide::cast<float>(x);
}

Halide::Expr kiln::codegen::expNaN(Halide::Expr x) {
  return Halide::select(Halide::is_nan(x), x, Halide::exp(x));
}

Halide::Expr kiln::codegen::logNaN(Halide::Expr x) {
  return Halide::select(Halide::is_nan(x), x, Halide::log(x));
}

Halide::Expr kiln::codegen::maxNaN(Halide::Expr a, Halide::Expr b) {
  return Halide::select(Halide::is_nan(a) || a > b, a, b);
}

Halide::Expr kiln::codegen::minNaN(Halide::Expr a, Halide::Expr b) {
  return Halide::select(Halide::is_nan(a) || a < b, a, b);
}

const RuleTable &kiln::codegen::loweringRules() {
  static const RuleTable table = [] {
    RuleTable rules;
    addElementwiseRules(rules);
    addLinalgRules(rules);
    addReduceRules(rules);
    addNetworkRules(rules);
    return rules;
  }();
  return table;
}
