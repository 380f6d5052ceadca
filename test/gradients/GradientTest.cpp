//===- GradientTest.cpp - finite-difference check of every gradient rule -*- C++
//-*-===//
//
// Part of kiln. For every op with a gradient rule (GradientOpInterface),
// several random instances (GradientCases.h) are built with OpBuilder as
//   @fwd(x...) -> (y...)                 the op alone
//   @f(x..., r...) -> (y..., dx...)      dx = op.buildGradients({r...})
// and evaluated in double by the reference evaluator. With
// L(x) = sum_j sum(y_j * r_j) for fixed random weights r_j, the rule's dx
// must be dL/dx; each element of each float operand is compared with the
// central difference (L(x + h) - L(x - h)) / 2h, h = 1e-6 max(1, |x|).
// Tolerance: |fd - dx| <= 1e-6 + 1e-5 |dx|. Central differences are exact to
// O(h^2) ~ 1e-12 plus rounding ~ 1e-16 |L| / h ~ 1e-9 here, and the rules
// compute with f32 constants (e.g. pi/2 in cos's rule, ~4e-8 relative), so
// the bound has headroom while a wrong rule is off by O(|dx|). Integer
// operands and seeds must get a null gradient; operands the loss does not
// depend on (piecewise-constant ops, shape-only operands) must get null
// and show zero finite differences. One test per op prints the largest
// |fd - dx| seen (llm.c's test_gpt2 style); a registered differentiable op
// without a case fails CoversEveryDifferentiableOp.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "test/gradients/GradientCases.h"
#include "tools/kiln-run/Evaluator.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

using namespace mlir;
using kiln::eval::Tensor;
using kiln::test::Expect;
using kiln::test::GradientCase;

namespace {

constexpr int kSeeds = 8;
constexpr double kStep = 1e-6, kAbsTol = 1e-6, kRelTol = 1e-5;

/// The two functions of one instance and where each operand's gradient is.
struct Instance {
  OwningOpRef<ModuleOp> module;
  func::FuncOp fwd, f;
  /// Result index in @f of each operand's gradient, or -1 when null.
  std::vector<int> gradResult;
  /// Weights r_j, one per weighted result.
  std::vector<Tensor> weights;
};

RankedTensorType typeOf(MLIRContext *ctx, const Tensor &t) {
  Type element = t.isInteger ? Type(IntegerType::get(ctx, 64))
                             : Type(Float32Type::get(ctx));
  return RankedTensorType::get(t.shape, element);
}

Tensor randomWeights(kiln::test::Rng &rng, RankedTensorType type) {
  Tensor t = Tensor::zeros(std::vector<int64_t>(type.getShape()));
  for (double &v : t.values)
    v = rng.uniform(-1, 1);
  return t;
}

/// Builds @fwd and @f for `c`; fails the test on an invalid module.
::testing::AssertionResult build(MLIRContext &ctx, const GradientCase &c,
                                 kiln::test::Rng &rng, Instance &out) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  out.module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(out.module->getBody());
  SmallVector<Type> operandTypes;
  for (const kiln::test::Operand &o : c.operands)
    operandTypes.push_back(typeOf(&ctx, o.value));

  // @fwd: the op alone, returning its weighted results.
  out.fwd =
      b.create<func::FuncOp>(loc, "fwd", b.getFunctionType(operandTypes, {}));
  Block *body = out.fwd.addEntryBlock();
  b.setInsertionPointToStart(body);
  Operation *op = c.build(b, loc, body->getArguments());
  if (!op)
    return ::testing::AssertionFailure() << "the case's op did not build";
  std::vector<unsigned> weighted = c.weightedResults;
  if (weighted.empty())
    for (unsigned i = 0; i < op->getNumResults(); ++i)
      weighted.push_back(i);
  SmallVector<Value> ys;
  SmallVector<Type> yTypes;
  for (unsigned i : weighted) {
    ys.push_back(op->getResult(i));
    yTypes.push_back(op->getResult(i).getType());
    out.weights.push_back(
        randomWeights(rng, cast<RankedTensorType>(yTypes.back())));
  }
  b.create<func::ReturnOp>(loc, ys);
  out.fwd.setFunctionType(b.getFunctionType(operandTypes, yTypes));

  // @f: the op, then its gradient rule seeded with the weights.
  SmallVector<Type> fArgs(operandTypes);
  fArgs.append(yTypes.begin(), yTypes.end());
  b.setInsertionPointToEnd(out.module->getBody());
  out.f = b.create<func::FuncOp>(loc, "f", b.getFunctionType(fArgs, {}));
  body = out.f.addEntryBlock();
  b.setInsertionPointToStart(body);
  ValueRange args = body->getArguments();
  op = c.build(b, loc, args.take_front(c.operands.size()));
  SmallVector<Value> resultGrads(op->getNumResults());
  for (auto [j, i] : llvm::enumerate(weighted))
    resultGrads[i] = args[c.operands.size() + j];
  auto iface = dyn_cast<kiln::nn::GradientOpInterface>(op);
  if (!iface)
    return ::testing::AssertionFailure() << "op has no gradient interface";
  SmallVector<Value> grads = iface.buildGradients(b, resultGrads);
  if (grads.size() != c.operands.size())
    return ::testing::AssertionFailure()
           << "buildGradients returned " << grads.size() << " values for "
           << c.operands.size() << " operands";
  SmallVector<Value> results;
  for (unsigned i : weighted)
    results.push_back(op->getResult(i));
  for (Value g : grads) {
    out.gradResult.push_back(g ? int(results.size()) : -1);
    if (g)
      results.push_back(g);
  }
  b.create<func::ReturnOp>(loc, results);
  out.f.setFunctionType(
      b.getFunctionType(fArgs, ValueRange(results).getTypes()));
  if (failed(verify(*out.module))) {
    std::string text;
    llvm::raw_string_ostream os(text);
    out.module->print(os);
    return ::testing::AssertionFailure() << "the gradient IR does not verify:\n"
                                         << text;
  }
  return ::testing::AssertionSuccess();
}

/// L = sum_j sum(y_j * r_j), or NaN if evaluation fails.
double loss(func::FuncOp fwd, const std::vector<Tensor> &args,
            const std::vector<Tensor> &weights) {
  auto ys = kiln::eval::evaluate(fwd, args);
  if (failed(ys))
    return NAN;
  double l = 0;
  for (size_t j = 0; j < ys->size(); ++j)
    for (size_t i = 0; i < (*ys)[j].values.size(); ++i)
      l += (*ys)[j].values[i] * weights[j].values[i];
  return l;
}

class GradientRule : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  }
  MLIRContext context;
};

TEST_P(GradientRule, MatchesFiniteDifferences) {
  const std::string &name = GetParam();
  const kiln::test::CaseMaker &make = kiln::test::gradientCases().at(name);
  double worst = 0;
  int64_t compared = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    kiln::test::Rng rng(seed * 7919 + std::hash<std::string>()(name));
    GradientCase c = make(rng);
    Instance inst;
    ASSERT_TRUE(build(context, c, rng, inst));

    std::vector<Tensor> args;
    for (const kiln::test::Operand &o : c.operands)
      args.push_back(o.value);
    std::vector<Tensor> fArgs = args;
    fArgs.insert(fArgs.end(), inst.weights.begin(), inst.weights.end());
    auto results = kiln::eval::evaluate(inst.f, fArgs);
    ASSERT_TRUE(succeeded(results)) << "evaluating @f failed";

    for (size_t k = 0; k < c.operands.size(); ++k) {
      SCOPED_TRACE("operand " + std::to_string(k));
      Expect expect = c.operands[k].expect;
      int at = inst.gradResult[k];
      if (expect != Expect::Checked) {
        EXPECT_EQ(at, -1) << "expected no gradient";
      } else {
        ASSERT_NE(at, -1) << "expected a gradient, got null";
      }
      if (expect == Expect::None)
        continue;
      const Tensor *grad = at >= 0 ? &(*results)[at] : nullptr;
      if (grad)
        ASSERT_EQ(grad->shape, args[k].shape) << "gradient has the wrong shape";
      for (size_t e = 0; e < args[k].values.size(); ++e) {
        double saved = args[k].values[e];
        double h = kStep * std::max(1.0, std::fabs(saved));
        args[k].values[e] = saved + h;
        double up = loss(inst.fwd, args, inst.weights);
        args[k].values[e] = saved - h;
        double down = loss(inst.fwd, args, inst.weights);
        args[k].values[e] = saved;
        double fd = (up - down) / (2 * h);
        double analytic = grad ? grad->values[e] : 0.0;
        double diff = std::fabs(fd - analytic);
        worst = std::max(worst, diff);
        ++compared;
        EXPECT_LE(diff, kAbsTol + kRelTol * std::fabs(analytic))
            << "element " << e << ": rule " << analytic
            << ", finite differences " << fd;
      }
    }
  }
  std::printf(
      "%-20s max |fd - analytic| = %.3g over %lld elements (%d seeds)\n",
      name.c_str(), worst, (long long)compared, kSeeds);
}

std::vector<std::string> caseNames() {
  std::vector<std::string> names;
  for (const auto &entry : kiln::test::gradientCases())
    names.push_back(entry.first);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradientRule, ::testing::ValuesIn(caseNames()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           std::string s = info.param;
                           for (char &ch : s)
                             if (!isalnum(static_cast<unsigned char>(ch)))
                               ch = '_';
                           return s;
                         });

TEST(GradientCoverage, CoversEveryDifferentiableOp) {
  MLIRContext context;
  context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  const auto &cases = kiln::test::gradientCases();
  int differentiable = 0;
  for (RegisteredOperationName op : context.getRegisteredOperations()) {
    if (!op.hasInterface<kiln::nn::GradientOpInterface>())
      continue;
    ++differentiable;
    EXPECT_TRUE(cases.count(op.getStringRef().str()))
        << op.getStringRef().str()
        << " has a gradient rule but no finite-difference case";
  }
  for (const auto &entry : cases) {
    auto op = RegisteredOperationName::lookup(entry.first, &context);
    EXPECT_TRUE(op && op->hasInterface<kiln::nn::GradientOpInterface>())
        << entry.first << " has a case but is not a differentiable op";
  }
  EXPECT_GT(differentiable, 0);
}

} // namespace
