//===- EvaluatorTest.cpp - hand-computed checks of the evaluator -*- C++
//-*-===//
//
// Part of kiln. The reference evaluator is the oracle for everything else,
// so its trickiest ops are checked here against numbers worked out by hand
// or against a second formula written differently: convolution against a
// copy-into-padded-buffer version and its adjoints by dot-product identities,
// pooling at padded borders, softmax and BCE at extreme logits, batch norm's
// running statistics, argmax ties, broadcasting, float vs double precision,
// and run-time errors that must be diagnostics rather than crashes.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Evaluator.h"
#include "ir/NNDialect.h"
#include "runtime/Random.h"
#include "tools/kiln-run/Inputs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

using namespace mlir;
using kiln::eval::Precision;
using kiln::eval::Tensor;

namespace {

class EvaluatorTest : public ::testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  }

  /// Runs the first function of `source`; on failure returns the
  /// diagnostics in `diagnostics`.
  FailureOr<std::vector<Tensor>> run(const std::string &source,
                                     std::vector<Tensor> args,
                                     Precision precision = Precision::F64) {
    diagnostics.clear();
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
      diagnostics += d.str() + "\n";
      return success();
    });
    module = parseSourceString<ModuleOp>(source, &context);
    if (!module)
      return failure();
    auto func = *module->getOps<func::FuncOp>().begin();
    return kiln::eval::evaluate(func, args, precision);
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::string diagnostics;
};

Tensor floats(std::vector<int64_t> shape, std::vector<double> values) {
  return Tensor::floats(std::move(shape), std::move(values));
}

Tensor random(std::vector<int64_t> shape, uint64_t key) {
  Tensor t = Tensor::zeros(std::move(shape));
  for (size_t i = 0; i < t.values.size(); ++i)
    t.values[i] = 2 * kiln::rt::uniform01(key, i) - 1;
  return t;
}

double dot(const Tensor &a, const Tensor &b) {
  double s = 0;
  for (size_t i = 0; i < a.values.size(); ++i)
    s += a.values[i] * b.values[i];
  return s;
}

void expectNear(const std::vector<double> &actual,
                const std::vector<double> &expected, double tol = 1e-12) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tol) << "element " << i;
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

/// conv2d written differently from the evaluator: copy x into a zero-padded
/// buffer first, then index it without bounds checks.
Tensor naiveConv(const Tensor &x, const Tensor &w, int64_t sh, int64_t sw,
                 int64_t ph, int64_t pw, int64_t dh, int64_t dw,
                 int64_t groups) {
  int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  int64_t o = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  int64_t hp = h + 2 * ph, wp = wd + 2 * pw;
  std::vector<double> padded(n * c * hp * wp, 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < wd; ++xx)
          padded[((b * c + ch) * hp + y + ph) * wp + xx + pw] =
              x.values[((b * c + ch) * h + y) * wd + xx];
  int64_t oh = (hp - dh * (kh - 1) - 1) / sh + 1;
  int64_t ow = (wp - dw * (kw - 1) - 1) / sw + 1;
  Tensor out = Tensor::zeros({n, o, oh, ow});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xx = 0; xx < ow; ++xx) {
          double s = 0;
          int64_t group = oc / (o / groups);
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j)
                s += padded[((b * c + group * cg + ci) * hp + y * sh + i * dh) *
                                wp +
                            xx * sw + j * dw] *
                     w.values[((oc * cg + ci) * kh + i) * kw + j];
          out.values[((b * o + oc) * oh + y) * ow + xx] = s;
        }
  return out;
}

TEST_F(EvaluatorTest, ConvWithStridePaddingDilationGroups) {
  // x [2, 4, 7, 6], w [6, 2, 3, 2], stride (2, 1), padding (1, 2),
  // dilation (1, 2), 2 groups -> [2, 6, 4, 8].
  const char *ir = R"(
    func.func @f(%x: tensor<2x4x7x6xf32>, %w: tensor<6x2x3x2xf32>,
                 %g: tensor<2x6x4x8xf32>)
        -> (tensor<2x6x4x8xf32>, tensor<2x4x7x6xf32>, tensor<6x2x3x2xf32>) {
      %y = nn.conv2d %x, %w {stride = array<i64: 2, 1>, padding = array<i64: 1, 2>,
                              dilation = array<i64: 1, 2>, groups = 2 : i64}
          : tensor<2x4x7x6xf32>, tensor<6x2x3x2xf32> -> tensor<2x6x4x8xf32>
      %dx = nn.conv2d_grad_input %g, %w {stride = array<i64: 2, 1>,
              padding = array<i64: 1, 2>, dilation = array<i64: 1, 2>, groups = 2 : i64}
          : tensor<2x6x4x8xf32>, tensor<6x2x3x2xf32> -> tensor<2x4x7x6xf32>
      %dw = nn.conv2d_grad_weight %x, %g {stride = array<i64: 2, 1>,
              padding = array<i64: 1, 2>, dilation = array<i64: 1, 2>, groups = 2 : i64}
          : tensor<2x4x7x6xf32>, tensor<2x6x4x8xf32> -> tensor<6x2x3x2xf32>
      return %y, %dx, %dw : tensor<2x6x4x8xf32>, tensor<2x4x7x6xf32>, tensor<6x2x3x2xf32>
    })";
  Tensor x = random({2, 4, 7, 6}, 1), w = random({6, 2, 3, 2}, 2),
         g = random({2, 6, 4, 8}, 3);
  auto r = run(ir, {x, w, g});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  Tensor expected = naiveConv(x, w, 2, 1, 1, 2, 1, 2, 2);
  EXPECT_EQ((*r)[0].shape, expected.shape);
  expectNear((*r)[0].values, expected.values);
  // The gradient ops are conv2d's adjoints: <conv(x, w), g> equals
  // <x, grad_input(g, w)> and <w, grad_weight(x, g)>.
  double forward = dot(expected, g);
  EXPECT_NEAR(dot(x, (*r)[1]), forward, 1e-10);
  EXPECT_NEAR(dot(w, (*r)[2]), forward, 1e-10);
}

TEST_F(EvaluatorTest, ConvOn28x28BatchOfEightIsFast) {
  const char *ir = R"(
    func.func @f(%x: tensor<?x8x28x28xf32>, %w: tensor<16x8x3x3xf32>) -> tensor<?x16x28x28xf32> {
      %y = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>,
                              dilation = array<i64: 1, 1>}
          : tensor<?x8x28x28xf32>, tensor<16x8x3x3xf32> -> tensor<?x16x28x28xf32>
      return %y : tensor<?x16x28x28xf32>
    })";
  auto start = std::chrono::steady_clock::now();
  auto r = run(ir, {random({8, 8, 28, 28}, 4), random({16, 8, 3, 3}, 5)});
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  std::printf("conv2d 8x8x28x28 * 16x8x3x3: %.3f s\n", seconds);
  EXPECT_LT(seconds, 1.0);
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

constexpr const char *kPoolIr = R"(
  func.func @f(%x: tensor<1x1x3x3xf32>, %g: tensor<1x1x2x2xf32>)
      -> (tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>, tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>) {
    %m = nn.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>,
                           padding = array<i64: 1, 1>} : tensor<1x1x3x3xf32> -> tensor<1x1x2x2xf32>
    %a = nn.avg_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>,
                           padding = array<i64: 1, 1>} : tensor<1x1x3x3xf32> -> tensor<1x1x2x2xf32>
    %dm = nn.max_pool2d_grad %g, %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>,
                           padding = array<i64: 1, 1>} : tensor<1x1x2x2xf32>, tensor<1x1x3x3xf32>
    %da = nn.avg_pool2d_grad %g, %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>,
                           padding = array<i64: 1, 1>} : tensor<1x1x2x2xf32>, tensor<1x1x3x3xf32>
    return %m, %a, %dm, %da : tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>, tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>
  })";

TEST_F(EvaluatorTest, PoolingWithPadding) {
  // x = 1..9 in a 3x3 plane; each 3x3 window (stride 2, padding 1) covers a
  // 2x2 corner of x, e.g. the top-left one {1, 2, 4, 5}.
  Tensor x = floats({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor g = floats({1, 1, 2, 2}, {1, 10, 100, 1000});
  auto r = run(kPoolIr, {x, g});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  expectNear((*r)[0].values, {5, 6, 8, 9});
  // count_include_pad: the divisor is always 9.
  expectNear((*r)[1].values, {12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9});
  expectNear((*r)[2].values, {0, 0, 0, 0, 1, 10, 0, 100, 1000});
  // The centre 5 is in all four windows; corners in one.
  expectNear((*r)[3].values,
             {1.0 / 9, 11.0 / 9, 10.0 / 9, 101.0 / 9, 1111.0 / 9, 1010.0 / 9,
              100.0 / 9, 1100.0 / 9, 1000.0 / 9});
}

TEST_F(EvaluatorTest, MaxPoolPaddingIsMinusInfinityAndTiesGoToTheFirst) {
  Tensor x = floats({1, 1, 3, 3}, {-1, -2, -3, -4, -5, -6, -7, -8, -9});
  Tensor g = floats({1, 1, 2, 2}, {1, 1, 1, 1});
  auto r = run(kPoolIr, {x, g});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  // Zero padding would give 0 everywhere.
  expectNear((*r)[0].values, {-1, -2, -4, -5});
  // All equal: each window's gradient goes to its first element in
  // row-major order, the window's top-left in-bounds element.
  Tensor same = floats({1, 1, 3, 3}, {7, 7, 7, 7, 7, 7, 7, 7, 7});
  r = run(kPoolIr, {same, floats({1, 1, 2, 2}, {1, 10, 100, 1000})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  expectNear((*r)[2].values, {1, 10, 0, 100, 1000, 0, 0, 0, 0});
}

//===----------------------------------------------------------------------===//
// Softmax, losses
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, SoftmaxIsStableAtLargeLogits) {
  const char *ir = R"(
    func.func @f(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
      %s = nn.softmax %x {axis = 1 : i64} : tensor<2x3xf32>
      %l = nn.log_softmax %x {axis = 1 : i64} : tensor<2x3xf32>
      return %s, %l : tensor<2x3xf32>, tensor<2x3xf32>
    })";
  Tensor x = floats({2, 3}, {1000, 1000, -1000, 50, 0, -50});
  for (Precision p : {Precision::F64, Precision::F32}) {
    auto r = run(ir, {x}, p);
    ASSERT_TRUE(succeeded(r)) << diagnostics;
    expectNear((*r)[0].values,
               {0.5, 0.5, 0, 1 / (1 + std::exp(-50.0) + std::exp(-100.0)),
                std::exp(-50.0), 0},
               1e-7);
    expectNear(
        (*r)[1].values,
        {-std::log(2.0), -std::log(2.0), -2000 - std::log(2.0), 0, -50, -100},
        p == Precision::F32 ? 1e-4 : 1e-12);
  }
}

TEST_F(EvaluatorTest, BceWithLogitsIsStableAtLargeLogits) {
  const char *ir = R"(
    func.func @f(%x: tensor<4xf32>, %t: tensor<4xf32>) -> tensor<f32> {
      %l = nn.bce_with_logits %x, %t : tensor<4xf32>, tensor<4xf32>
      return %l : tensor<f32>
    })";
  // Per element: 100 (x = 100, t = 0), 100 (x = -100, t = 1), ~0 (confident
  // and right), log 2 (x = 0).
  Tensor x = floats({4}, {100, -100, 100, 0}), t = floats({4}, {0, 1, 1, 0.5});
  for (Precision p : {Precision::F64, Precision::F32}) {
    auto r = run(ir, {x, t}, p);
    ASSERT_TRUE(succeeded(r)) << diagnostics;
    EXPECT_NEAR((*r)[0].values[0], (200 + std::log(2.0)) / 4, 1e-5);
  }
}

TEST_F(EvaluatorTest, CrossEntropyAndItsGradient) {
  const char *ir = R"(
    func.func @f(%x: tensor<2x2xf32>, %t: tensor<2xi64>, %g: tensor<f32>)
        -> (tensor<f32>, tensor<2x2xf32>) {
      %l = nn.cross_entropy %x, %t : tensor<2x2xf32>, tensor<2xi64>
      %d = nn.cross_entropy_grad %g, %x, %t : tensor<f32>, tensor<2x2xf32>, tensor<2xi64>
      return %l, %d : tensor<f32>, tensor<2x2xf32>
    })";
  auto r = run(ir, {floats({2, 2}, {1, 3, 0, 0}), Tensor::integers({2}, {1, 0}),
                    floats({}, {2})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  EXPECT_NEAR((*r)[0].values[0],
              (std::log1p(std::exp(-2.0)) + std::log(2.0)) / 2, 1e-12);
  // g / N (softmax - onehot) = 1 * [[s0, s1 - 1], [0.5 - 1, 0.5]]
  double s0 = 1 / (1 + std::exp(2.0));
  expectNear((*r)[1].values, {s0, (1 - s0) - 1, -0.5, 0.5});
}

//===----------------------------------------------------------------------===//
// Normalizations, reductions, broadcasting
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, BatchNormRunningVarianceIsUnbiased) {
  const char *ir = R"(
    func.func @f(%x: tensor<4x1xf32>, %w: tensor<1xf32>, %b: tensor<1xf32>,
                 %m: tensor<1xf32>, %v: tensor<1xf32>)
        -> (tensor<4x1xf32>, tensor<1xf32>, tensor<1xf32>) {
      %y, %m2, %v2 = nn.batch_norm %x, %w, %b, %m, %v {momentum = 0.1 : f64}
          : tensor<4x1xf32>, tensor<1xf32>
      return %y, %m2, %v2 : tensor<4x1xf32>, tensor<1xf32>, tensor<1xf32>
    })";
  auto r = run(ir, {floats({4, 1}, {1, 2, 3, 4}), floats({1}, {2}),
                    floats({1}, {0.5}), floats({1}, {0}), floats({1}, {1})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  // mean 2.5, biased variance 1.25 normalizes; unbiased 5/3 is folded in.
  double istd = 1 / std::sqrt(1.25 + 1e-5);
  expectNear((*r)[0].values, {-1.5 * istd * 2 + 0.5, -0.5 * istd * 2 + 0.5,
                              0.5 * istd * 2 + 0.5, 1.5 * istd * 2 + 0.5});
  expectNear((*r)[1].values, {0.25});
  expectNear((*r)[2].values, {0.9 + 0.1 * 5.0 / 3.0});
}

TEST_F(EvaluatorTest, ArgmaxTakesTheFirstMaximum) {
  const char *ir = R"(
    func.func @f(%x: tensor<2x3xf32>) -> (tensor<2xi64>, tensor<3xi64>) {
      %a = nn.argmax %x {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2xi64>
      %b = nn.argmax %x {axis = 0 : i64} : tensor<2x3xf32> -> tensor<3xi64>
      return %a, %b : tensor<2xi64>, tensor<3xi64>
    })";
  auto r = run(ir, {floats({2, 3}, {1, 3, 3, 2, 2, 1})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  EXPECT_EQ((*r)[0].ints, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ((*r)[1].ints, (std::vector<int64_t>{1, 0, 0}));
  EXPECT_TRUE((*r)[0].isInteger);
}

TEST_F(EvaluatorTest, ReductionsAndTheMaxGradientSplitsTies) {
  const char *ir = R"(
    func.func @f(%x: tensor<2x3xf32>, %g: tensor<2xf32>)
        -> (tensor<2xf32>, tensor<1x3xf32>, tensor<2xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
      %s = nn.reduce_sum %x {axes = array<i64: 1>} : tensor<2x3xf32> -> tensor<2xf32>
      %m = nn.reduce_mean %x {axes = array<i64: 0>, keepdim} : tensor<2x3xf32> -> tensor<1x3xf32>
      %x2 = nn.reduce_max %x {axes = array<i64: 1>} : tensor<2x3xf32> -> tensor<2xf32>
      %dm = nn.reduce_max_grad %g, %x, %x2 {axes = array<i64: 1>}
          : tensor<2xf32>, tensor<2x3xf32>, tensor<2xf32>
      %da = nn.reduce_mean_grad %g, %x {axes = array<i64: 1>} : tensor<2xf32>, tensor<2x3xf32>
      return %s, %m, %x2, %dm, %da : tensor<2xf32>, tensor<1x3xf32>, tensor<2xf32>, tensor<2x3xf32>, tensor<2x3xf32>
    })";
  auto r =
      run(ir, {floats({2, 3}, {1, 5, 5, -1, -2, -3}), floats({2}, {6, 3})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  expectNear((*r)[0].values, {11, -6});
  EXPECT_EQ((*r)[1].shape, (std::vector<int64_t>{1, 3}));
  expectNear((*r)[1].values, {0, 1.5, 1});
  expectNear((*r)[2].values, {5, -1});
  expectNear((*r)[3].values, {0, 3, 3, 3, 0, 0});
  expectNear((*r)[4].values, {2, 2, 2, 1, 1, 1});
}

TEST_F(EvaluatorTest, NaNIsTheMaximumAsInPyTorch) {
  // maximum, minimum, a max over an axis and a max-pool window give NaN when
  // any operand is NaN, wherever it stands (torch.maximum, amax,
  // max_pool2d); std::max(a, b) would keep a when b is NaN.
  const char *ir = R"(
    func.func @f(%a: tensor<4xf32>, %b: tensor<4xf32>, %x: tensor<2x3xf32>)
        -> (tensor<4xf32>, tensor<4xf32>, tensor<2xf32>) {
      %max = nn.maximum %a, %b : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
      %min = nn.minimum %a, %b : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
      %r = nn.reduce_max %x {axes = array<i64: 1>} : tensor<2x3xf32> -> tensor<2xf32>
      return %max, %min, %r : tensor<4xf32>, tensor<4xf32>, tensor<2xf32>
    })";
  const double nan = std::nan("");
  auto r = run(ir, {floats({4}, {nan, 1, 2, 3}), floats({4}, {1, nan, 5, -3}),
                    floats({2, 3}, {1, nan, 2, 3, 4, 5})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  for (int k = 0; k < 2; ++k) {
    EXPECT_TRUE(std::isnan((*r)[k].values[0])) << k;
    EXPECT_TRUE(std::isnan((*r)[k].values[1])) << k;
  }
  EXPECT_EQ((*r)[0].values[2], 5);
  EXPECT_EQ((*r)[1].values[3], -3);
  EXPECT_TRUE(std::isnan((*r)[2].values[0]));
  EXPECT_EQ((*r)[2].values[1], 5);

  // The NaN is the window's maximum, after a larger value; the gradient
  // goes to it.
  Tensor x = floats({1, 1, 3, 3}, {9, nan, -3, -4, -5, -6, -7, -8, -9});
  r = run(kPoolIr, {x, floats({1, 1, 2, 2}, {1, 1, 1, 1})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  EXPECT_TRUE(std::isnan((*r)[0].values[0]));
  EXPECT_TRUE(std::isnan((*r)[0].values[1]));
  EXPECT_EQ((*r)[0].values[2], -4);
  EXPECT_EQ((*r)[0].values[3], -5);
  expectNear((*r)[2].values, {0, 2, 0, 1, 1, 0, 0, 0, 0});
}

TEST_F(EvaluatorTest, BroadcastingFollowsNumPy) {
  const char *ir = R"(
    func.func @f(%a: tensor<2x1x3xf32>, %b: tensor<4x1xf32>) -> tensor<2x4x3xf32> {
      %c = nn.sub %a, %b : tensor<2x1x3xf32>, tensor<4x1xf32> -> tensor<2x4x3xf32>
      return %c : tensor<2x4x3xf32>
    })";
  Tensor a = random({2, 1, 3}, 6), b = random({4, 1}, 7);
  auto r = run(ir, {a, b});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 3; ++k)
        EXPECT_EQ((*r)[0].values[(i * 4 + j) * 3 + k],
                  a.values[i * 3 + k] - b.values[j]);
}

//===----------------------------------------------------------------------===//
// Dropout, precision, errors
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, DropoutUsesKilnsMask) {
  const char *ir = R"(
    func.func @f(%x: tensor<64xf32>, %s: tensor<i64>) -> (tensor<64xf32>, tensor<64xf32>) {
      %y = nn.dropout %x, %s {p = 0.25 : f64, stream = 3 : i64} : tensor<64xf32>, tensor<i64>
      %z = nn.dropout %x, %s {p = 0.0 : f64, stream = 3 : i64} : tensor<64xf32>, tensor<i64>
      return %y, %z : tensor<64xf32>, tensor<64xf32>
    })";
  Tensor x = random({64}, 8);
  auto r = run(ir, {x, Tensor::integers({}, {42})});
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  int kept = 0;
  for (int i = 0; i < 64; ++i) {
    bool keep = kiln::rt::uniform01(kiln::rt::dropoutKey(42, 3), i) >= 0.25;
    kept += keep;
    EXPECT_DOUBLE_EQ((*r)[0].values[i], keep ? x.values[i] / 0.75 : 0.0);
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 64);
  EXPECT_EQ((*r)[1].values, x.values);
}

TEST_F(EvaluatorTest, FloatPrecisionComputesInFloat) {
  const char *ir = R"(
    func.func @f(%x: tensor<3xf32>) -> tensor<f32> {
      %s = nn.reduce_sum %x {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
      return %s : tensor<f32>
    })";
  // 1e8 + 1 is 1e8 in float: the running sum loses the 1.
  Tensor x = floats({3}, {1e8, 1, -1e8});
  auto f64 = run(ir, {x}, Precision::F64);
  ASSERT_TRUE(succeeded(f64)) << diagnostics;
  EXPECT_EQ((*f64)[0].values[0], 1.0);
  auto f32 = run(ir, {x}, Precision::F32);
  ASSERT_TRUE(succeeded(f32)) << diagnostics;
  EXPECT_EQ((*f32)[0].values[0], 0.0);
}

TEST_F(EvaluatorTest, DynamicShapeMismatchIsADiagnostic) {
  const char *ir = R"(
    func.func @f(%a: tensor<?x3xf32>, %b: tensor<?x3xf32>) -> tensor<?x3xf32> {
      %c = nn.add %a, %b : tensor<?x3xf32>, tensor<?x3xf32> -> tensor<?x3xf32>
      return %c : tensor<?x3xf32>
    })";
  EXPECT_TRUE(succeeded(run(ir, {random({2, 3}, 1), random({1, 3}, 2)})));
  EXPECT_TRUE(failed(run(ir, {random({2, 3}, 1), random({4, 3}, 2)})));
  EXPECT_NE(diagnostics.find("'nn.add' op operand shapes [2x3] and [4x3] do "
                             "not broadcast at run time"),
            std::string::npos)
      << diagnostics;
  EXPECT_TRUE(failed(run(ir, {random({2, 4}, 1), random({2, 3}, 2)})));
  EXPECT_NE(diagnostics.find("argument 0 of shape [2x4] does not fit"),
            std::string::npos)
      << diagnostics;
}

TEST_F(EvaluatorTest, OutOfRangeIndicesAreDiagnostics) {
  const char *ir = R"(
    func.func @f(%i: tensor<2xi64>, %t: tensor<3x2xf32>) -> tensor<2x2xf32> {
      %e = nn.embedding %i, %t : tensor<2xi64>, tensor<3x2xf32> -> tensor<2x2xf32>
      return %e : tensor<2x2xf32>
    })";
  EXPECT_TRUE(
      failed(run(ir, {Tensor::integers({2}, {0, 3}), random({3, 2}, 1)})));
  EXPECT_NE(diagnostics.find("embedding index 3 is out of range [0, 3)"),
            std::string::npos)
      << diagnostics;
}

TEST_F(EvaluatorTest, UnknownOpIsADiagnostic) {
  const char *ir = R"(
    func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
      %y = func.call @g(%x) : (tensor<2xf32>) -> tensor<2xf32>
      return %y : tensor<2xf32>
    }
    func.func private @g(tensor<2xf32>) -> tensor<2xf32>)";
  EXPECT_TRUE(failed(run(ir, {random({2}, 1)})));
  EXPECT_NE(diagnostics.find("'func.call' op has no reference semantics"),
            std::string::npos)
      << diagnostics;
}

TEST_F(EvaluatorTest, RandomInputsFollowTheNamingScheme) {
  const char *ir = R"(
    func.func @f(%x: tensor<?x3xf32> {nn.input = "x"}, %w: tensor<2x3xf32> {nn.param = "w"},
                 %t: tensor<?xi64> {nn.target = "t"}, %s: tensor<i64> {nn.seed})
        -> (tensor<f32> {nn.output = "loss"}) {
      %y = nn.matmul %x, %w {transpose_b} : tensor<?x3xf32>, tensor<2x3xf32> -> tensor<?x2xf32>
      %l = nn.cross_entropy %y, %t : tensor<?x2xf32>, tensor<?xi64>
      return %l : tensor<f32>
    })";
  module = parseSourceString<ModuleOp>(ir, &context);
  ASSERT_TRUE(module);
  auto func = *module->getOps<func::FuncOp>().begin();
  auto args = kiln::eval::randomInputs(func, 5, 9);
  ASSERT_TRUE(succeeded(args));
  EXPECT_EQ((*args)[0].shape, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ((*args)[0].values[4], kiln::rt::uniform01(kiln::rt::fnv1a("x"), 4));
  EXPECT_EQ((*args)[1].values[1],
            (2 * kiln::rt::uniform01(kiln::rt::fnv1a("w"), 1) - 1) /
                std::sqrt(3.0));
  for (int64_t c : (*args)[2].ints)
    EXPECT_TRUE(c == 0 || c == 1);
  EXPECT_EQ((*args)[3].ints, std::vector<int64_t>{9});
  EXPECT_EQ(kiln::nn::argumentName(func, 3), "seed");
  EXPECT_EQ(kiln::nn::resultName(func, 0), "loss");
}

} // namespace
