//===- InitTest.cpp - parameter initialization ------------------*- C++ -*-===//
//
// Part of kiln. Checks runtime/Init.h and kiln-run's initializeParameters:
// every initializer kind draws from the distribution its nn.init names
// (bounds exact; mean and standard deviation within 5 standard errors over
// 100,000 draws, so a wrong formula fails and a right one essentially never
// does), values depend only on the seed and the parameter's name, and an
// nn.init that MLIRGen wrote for a PyTorch Linear layer gives PyTorch's
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "runtime/Init.h"
#include "tools/kiln-run/Inputs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace mlir;
using kiln::rt::InitSpec;

namespace {

constexpr int64_t kDraws = 100000;

struct Moments {
  double mean = 0, std = 0, min = INFINITY, max = -INFINITY;
};

Moments moments(const std::vector<double> &v) {
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= double(v.size());
  for (double x : v)
    m.std += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(m.std / double(v.size()));
  return m;
}

std::vector<double> draw(const InitSpec &spec, const char *name, uint64_t seed,
                         int64_t n = kDraws) {
  std::vector<double> v(n);
  EXPECT_TRUE(kiln::rt::initialize(spec, name, seed, v.data(), n));
  return v;
}

TEST(Init, UniformHasItsBoundsMeanAndSpread) {
  Moments m = moments(draw({"uniform", -0.2, 0.6}, "fc.weight", 1));
  double sd = 0.8 / std::sqrt(12.0);
  EXPECT_GE(m.min, -0.2);
  EXPECT_LT(m.max, 0.6);
  EXPECT_NEAR(m.mean, 0.2, 5 * sd / std::sqrt(double(kDraws)));
  EXPECT_NEAR(m.std, sd, 5 * sd / std::sqrt(2.0 * kDraws));
}

TEST(Init, NormalHasItsMeanAndStd) {
  Moments m = moments(draw({"normal", 0.5, 0.05}, "emb.weight", 2));
  EXPECT_NEAR(m.mean, 0.5, 5 * 0.05 / std::sqrt(double(kDraws)));
  EXPECT_NEAR(m.std, 0.05, 5 * 0.05 / std::sqrt(2.0 * kDraws));
  // Gaussian tails: about 0.27% beyond 3 sigma.
  int64_t beyond = 0;
  for (double x : draw({"normal", 0.5, 0.05}, "emb.weight", 2))
    beyond += std::fabs(x - 0.5) > 3 * 0.05;
  EXPECT_NEAR(double(beyond) / kDraws, 0.0027, 0.001);
}

TEST(Init, ConstantsAreExact) {
  for (double x : draw({"zeros"}, "b", 1, 10))
    EXPECT_EQ(x, 0.0);
  for (double x : draw({"ones"}, "g", 1, 10))
    EXPECT_EQ(x, 1.0);
  for (double x : draw({"constant", 0.25}, "s", 1, 10))
    EXPECT_EQ(x, 0.25);
}

TEST(Init, DependsOnlyOnSeedAndName) {
  InitSpec spec{"uniform", -1, 1};
  EXPECT_EQ(draw(spec, "fc1.weight", 7, 64), draw(spec, "fc1.weight", 7, 64));
  EXPECT_NE(draw(spec, "fc1.weight", 7, 64), draw(spec, "fc1.weight", 8, 64));
  EXPECT_NE(draw(spec, "fc1.weight", 7, 64), draw(spec, "fc2.weight", 7, 64));
}

TEST(Init, UnknownKindIsRefused) {
  double x;
  EXPECT_FALSE(kiln::rt::initialize(InitSpec{"xavier"}, "w", 0, &x, 1));
}

TEST(Init, LinearLayerGetsPyTorchsBound) {
  MLIRContext context;
  context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  // What MLIRGen writes for dense(x, 256) on 784 features (see
  // test/examples/mlp.kiln): kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(784)).
  auto module = parseSourceString<ModuleOp>(R"mlir(
    func.func @forward(%w: tensor<256x784xf32> {nn.param = "fc1.weight",
        nn.init = {kind = "uniform", low = -0.035714285714285712 : f64,
                   high = 0.035714285714285712 : f64}},
        %m: tensor<256xf32> {nn.buffer = "bn.running_var", nn.init = {kind = "ones"}})
        -> tensor<256x784xf32> {
      return %w : tensor<256x784xf32>
    })mlir", &context);
  ASSERT_TRUE(module);
  auto func = module->lookupSymbol<func::FuncOp>("forward");
  auto args = kiln::eval::randomInputs(func, 1, 0);
  ASSERT_TRUE(succeeded(args));
  ASSERT_TRUE(succeeded(kiln::eval::initializeParameters(func, *args, 42)));
  Moments m = moments((*args)[0].values);
  double bound = 1 / std::sqrt(784.0);
  EXPECT_GE(m.min, -bound);
  EXPECT_LT(m.max, bound);
  EXPECT_NEAR(m.std, bound / std::sqrt(3.0), 0.01 * bound);
  for (double v : (*args)[1].values)
    EXPECT_EQ(v, 1.0);
}

} // namespace
