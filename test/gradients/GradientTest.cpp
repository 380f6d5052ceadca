//===- GradientTest.cpp - finite-difference checks of autodiff --*- C++ -*-===//
//
// Part of kiln. Checks every gradient rule, and the whole train step of
// every example model, against central finite differences in double
// precision, using the reference evaluator (tools/kiln-run) as the oracle.
//
// Per op: a tiny @forward applies the op to parameters and reduces its
// results to loss = sum(y * r) with random weights r, so every output
// element's gradient matters; kiln-autodiff builds @train_step; each
// parameter element's gradient is compared with
// (L(p + h) - L(p - h)) / 2h, h = 1e-6 * max(1, |p|), on several seeds.
// Tolerance: |fd - grad| <= 1e-6 + 1e-5 |grad| (central differences are
// accurate to ~1e-10 here; the rest is headroom, not slack for a wrong
// rule, which is off by O(1)). A table entry per op; a test fails if an op
// with a gradient rule has no entry.
//
//===----------------------------------------------------------------------===//

#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "ir/NNDialect.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "runtime/Random.h"
#include "tools/kiln-run/Evaluator.h"
#include "tools/kiln-run/Inputs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace mlir;
using kiln::eval::Tensor;

namespace {

struct OpCase {
  const char *name;
  /// Function arguments after the implicit `%r` weights argument.
  const char *args;
  /// Body computing %y (the value weighted by %r).
  const char *body;
  /// Type of %y, also the type of %r.
  const char *yType;
  /// Range of f32 parameter values (kept off kinks and domain edges).
  double low = -1.0, high = 1.0;
};

#define PARAM(n, t) "%" #n ": " t " {nn.param = \"" #n "\", nn.init = {kind = \"zeros\"}}"

const OpCase kCases[] = {
    {"neg", PARAM(x, "tensor<3x4xf32>"), "%y = nn.neg %x : tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"exp", PARAM(x, "tensor<3x4xf32>"), "%y = nn.exp %x : tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"log", PARAM(x, "tensor<3x4xf32>"), "%y = nn.log %x : tensor<3x4xf32>", "tensor<3x4xf32>", 0.5, 2.0},
    {"sqrt", PARAM(x, "tensor<3x4xf32>"), "%y = nn.sqrt %x : tensor<3x4xf32>", "tensor<3x4xf32>", 0.5, 2.0},
    {"abs", PARAM(x, "tensor<3x4xf32>"), "%y = nn.abs %x : tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"relu", PARAM(x, "tensor<3x4xf32>"), "%y = nn.relu %x : tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"sigmoid", PARAM(x, "tensor<3x4xf32>"), "%y = nn.sigmoid %x : tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"tanh", PARAM(x, "tensor<3x4xf32>"), "%y = nn.tanh %x : tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"leaky_relu", PARAM(x, "tensor<3x4xf32>"), "%y = nn.leaky_relu %x {alpha = 0.2 : f64} : tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"gelu", PARAM(x, "tensor<3x4xf32>"), "%y = nn.gelu %x : tensor<3x4xf32>", "tensor<3x4xf32>", -3, 3},
    {"gelu_tanh", PARAM(x, "tensor<3x4xf32>"), "%y = nn.gelu %x {approximate = \"tanh\"} : tensor<3x4xf32>", "tensor<3x4xf32>", -3, 3},
    {"cos", PARAM(x, "tensor<3x4xf32>"), "%y = nn.cos %x : tensor<3x4xf32>", "tensor<3x4xf32>", -3, 3},
    {"floor", PARAM(x, "tensor<3x4xf32>"), "%y = nn.floor %x : tensor<3x4xf32>", "tensor<3x4xf32>", 0.1, 0.9},
    {"sign", PARAM(x, "tensor<3x4xf32>"), "%y = nn.sign %x : tensor<3x4xf32>", "tensor<3x4xf32>", 0.1, 0.9},
    {"add", PARAM(a, "tensor<3x4xf32>") ", " PARAM(b, "tensor<4xf32>"), "%y = nn.add %a, %b : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"sub", PARAM(a, "tensor<3x1xf32>") ", " PARAM(b, "tensor<4xf32>"), "%y = nn.sub %a, %b : tensor<3x1xf32>, tensor<4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"mul", PARAM(a, "tensor<3x4xf32>") ", " PARAM(b, "tensor<f32>"), "%y = nn.mul %a, %b : tensor<3x4xf32>, tensor<f32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"div", PARAM(a, "tensor<3x4xf32>") ", " PARAM(b, "tensor<3x1xf32>"), "%y = nn.div %a, %b : tensor<3x4xf32>, tensor<3x1xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>", 0.5, 2.0},
    {"pow", PARAM(a, "tensor<3x4xf32>") ", " PARAM(b, "tensor<4xf32>"), "%y = nn.pow %a, %b : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>", 0.5, 2.0},
    {"maximum", PARAM(a, "tensor<3x4xf32>") ", " PARAM(b, "tensor<4xf32>"), "%y = nn.maximum %a, %b : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"minimum", PARAM(a, "tensor<3x4xf32>") ", " PARAM(b, "tensor<3x4xf32>"), "%y = nn.minimum %a, %b : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"greater", PARAM(a, "tensor<3x4xf32>") ", " PARAM(b, "tensor<3x4xf32>"), "%g = nn.greater %a, %b : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>\n  %y = nn.mul %g, %a : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"matmul", PARAM(a, "tensor<3x5xf32>") ", " PARAM(b, "tensor<5x4xf32>"), "%y = nn.matmul %a, %b : tensor<3x5xf32>, tensor<5x4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"matmul_tb", PARAM(a, "tensor<3x5xf32>") ", " PARAM(b, "tensor<4x5xf32>"), "%y = nn.matmul %a, %b {transpose_b} : tensor<3x5xf32>, tensor<4x5xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"matmul_ta", PARAM(a, "tensor<5x3xf32>") ", " PARAM(b, "tensor<5x4xf32>"), "%y = nn.matmul %a, %b {transpose_a} : tensor<5x3xf32>, tensor<5x4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"matmul_tab", PARAM(a, "tensor<5x3xf32>") ", " PARAM(b, "tensor<4x5xf32>"), "%y = nn.matmul %a, %b {transpose_a, transpose_b} : tensor<5x3xf32>, tensor<4x5xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"matmul_batched", PARAM(a, "tensor<2x3x5xf32>") ", " PARAM(b, "tensor<2x4x5xf32>"), "%y = nn.matmul %a, %b {transpose_b} : tensor<2x3x5xf32>, tensor<2x4x5xf32> -> tensor<2x3x4xf32>", "tensor<2x3x4xf32>"},
    {"conv2d", PARAM(x, "tensor<2x4x7x6xf32>") ", " PARAM(w, "tensor<6x2x3x3xf32>"), "%y = nn.conv2d %x, %w {stride = array<i64: 2, 1>, padding = array<i64: 1, 0>, dilation = array<i64: 1, 2>, groups = 2 : i64} : tensor<2x4x7x6xf32>, tensor<6x2x3x3xf32> -> tensor<2x6x4x2xf32>", "tensor<2x6x4x2xf32>"},
    {"conv2d_plain", PARAM(x, "tensor<2x3x5x5xf32>") ", " PARAM(w, "tensor<4x3x3x3xf32>"), "%y = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : tensor<2x3x5x5xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x5x5xf32>", "tensor<2x4x5x5xf32>"},
    {"max_pool2d", PARAM(x, "tensor<2x3x6x6xf32>"), "%y = nn.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<2x3x6x6xf32> -> tensor<2x3x3x3xf32>", "tensor<2x3x3x3xf32>"},
    {"max_pool2d_padded", PARAM(x, "tensor<1x2x5x5xf32>"), "%y = nn.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<1x2x5x5xf32> -> tensor<1x2x3x3xf32>", "tensor<1x2x3x3xf32>"},
    {"avg_pool2d", PARAM(x, "tensor<1x2x5x5xf32>"), "%y = nn.avg_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<1x2x5x5xf32> -> tensor<1x2x3x3xf32>", "tensor<1x2x3x3xf32>"},
    {"reshape", PARAM(x, "tensor<2x3x4xf32>"), "%y = nn.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>", "tensor<6x4xf32>"},
    {"transpose", PARAM(x, "tensor<2x3x4xf32>"), "%y = nn.transpose %x {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xf32> -> tensor<4x2x3xf32>", "tensor<4x2x3xf32>"},
    {"concat", PARAM(a, "tensor<2x3xf32>") ", " PARAM(b, "tensor<2x2xf32>"), "%y = nn.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x2xf32>) -> tensor<2x5xf32>", "tensor<2x5xf32>"},
    {"slice", PARAM(x, "tensor<3x5xf32>"), "%y = nn.slice %x {axis = 1 : i64, start = 1 : i64, end = 4 : i64} : tensor<3x5xf32> -> tensor<3x3xf32>", "tensor<3x3xf32>"},
    {"pad", PARAM(x, "tensor<3x2xf32>"), "%y = nn.pad %x {axis = 0 : i64, before = 1 : i64, after = 2 : i64} : tensor<3x2xf32> -> tensor<6x2xf32>", "tensor<6x2xf32>"},
    {"broadcast_to", PARAM(x, "tensor<4xf32>") ", " PARAM(l, "tensor<3x4xf32>"), "%y = nn.broadcast_to %x, %l : tensor<4xf32> -> tensor<3x4xf32>", "tensor<3x4xf32>"},
    {"reduce_sum", PARAM(x, "tensor<3x4x2xf32>"), "%y = nn.reduce_sum %x {axes = array<i64: 0, 2>} : tensor<3x4x2xf32> -> tensor<4xf32>", "tensor<4xf32>"},
    {"reduce_mean", PARAM(x, "tensor<3x4x2xf32>"), "%y = nn.reduce_mean %x {axes = array<i64: 1>, keepdim} : tensor<3x4x2xf32> -> tensor<3x1x2xf32>", "tensor<3x1x2xf32>"},
    {"reduce_max", PARAM(x, "tensor<3x4xf32>"), "%y = nn.reduce_max %x {axes = array<i64: 1>} : tensor<3x4xf32> -> tensor<3xf32>", "tensor<3xf32>"},
    {"softmax", PARAM(x, "tensor<3x4xf32>"), "%y = nn.softmax %x {axis = 1 : i64} : tensor<3x4xf32>", "tensor<3x4xf32>", -3, 3},
    {"log_softmax", PARAM(x, "tensor<3x4xf32>"), "%y = nn.log_softmax %x {axis = 0 : i64} : tensor<3x4xf32>", "tensor<3x4xf32>", -3, 3},
    {"batch_norm", PARAM(x, "tensor<4x3xf32>") ", " PARAM(g, "tensor<3xf32>") ", " PARAM(b, "tensor<3xf32>") ", %m: tensor<3xf32> {nn.buffer = \"m\", nn.init = {kind = \"zeros\"}}, %v: tensor<3xf32> {nn.buffer = \"v\", nn.init = {kind = \"ones\"}}",
     "%y, %m2, %v2 = nn.batch_norm %x, %g, %b, %m, %v : tensor<4x3xf32>, tensor<3xf32>", "tensor<4x3xf32>"},
    {"batch_norm_2d", PARAM(x, "tensor<2x3x2x2xf32>") ", " PARAM(g, "tensor<3xf32>") ", " PARAM(b, "tensor<3xf32>") ", %m: tensor<3xf32> {nn.buffer = \"m\", nn.init = {kind = \"zeros\"}}, %v: tensor<3xf32> {nn.buffer = \"v\", nn.init = {kind = \"ones\"}}",
     "%y, %m2, %v2 = nn.batch_norm %x, %g, %b, %m, %v : tensor<2x3x2x2xf32>, tensor<3xf32>", "tensor<2x3x2x2xf32>"},
    {"layer_norm", PARAM(x, "tensor<3x5xf32>") ", " PARAM(g, "tensor<5xf32>") ", " PARAM(b, "tensor<5xf32>"), "%y = nn.layer_norm %x, %g, %b : tensor<3x5xf32>, tensor<5xf32>", "tensor<3x5xf32>"},
    {"dropout", PARAM(x, "tensor<4x5xf32>") ", %s: tensor<i64> {nn.seed}", "%y = nn.dropout %x, %s {p = 0.3 : f64, stream = 1 : i64} : tensor<4x5xf32>, tensor<i64>", "tensor<4x5xf32>"},
    {"embedding", "%ids: tensor<2x3xi64> {nn.target = \"ids\"}, " PARAM(t, "tensor<3x4xf32>"), "%y = nn.embedding %ids, %t : tensor<2x3xi64>, tensor<3x4xf32> -> tensor<2x3x4xf32>", "tensor<2x3x4xf32>"},
    {"cross_entropy", PARAM(x, "tensor<4x3xf32>") ", %t: tensor<4xi64> {nn.target = \"t\"}", "%y = nn.cross_entropy %x, %t : tensor<4x3xf32>, tensor<4xi64>", "tensor<f32>", -2, 2},
    {"nll", PARAM(x, "tensor<4x3xf32>") ", %t: tensor<4xi64> {nn.target = \"t\"}", "%y = nn.nll %x, %t : tensor<4x3xf32>, tensor<4xi64>", "tensor<f32>"},
    {"bce_with_logits", PARAM(x, "tensor<4x2xf32>") ", %t: tensor<4x2xf32> {nn.target = \"t\"}", "%y = nn.bce_with_logits %x, %t : tensor<4x2xf32>, tensor<4x2xf32>", "tensor<f32>", -3, 3},
    {"mse", PARAM(x, "tensor<4x2xf32>") ", " PARAM(t, "tensor<4x2xf32>"), "%y = nn.mse %x, %t : tensor<4x2xf32>, tensor<4x2xf32>", "tensor<f32>"},
};
#undef PARAM

/// The IR of a case: loss = sum(y * r) over all of y's `rank` dimensions.
std::string caseModule(const OpCase &c, int64_t rank) {
  std::string y = c.yType;
  std::string loss;
  if (rank == 0) {
    loss = "%total = nn.mul %y, %r : tensor<f32>, tensor<f32> -> tensor<f32>";
  } else {
    std::string axes;
    for (int64_t i = 0; i < rank; ++i)
      axes += (i ? ", " : "") + std::to_string(i);
    loss = "%weighted = nn.mul %y, %r : " + y + ", " + y + " -> " + y +
           "\n  %total = nn.reduce_sum %weighted {axes = array<i64: " + axes + ">} : " +
           y + " -> tensor<f32>";
  }
  return "func.func @forward(%r: " + y + " {nn.input = \"r\"}, " + c.args +
         ") -> (tensor<f32> {nn.output = \"loss\"}) {\n  " + c.body +
         "\n  " + loss + "\n  return %total : tensor<f32>\n}\n";
}

class GradientTest : public ::testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  }
  MLIRContext context;
};

/// Runs kiln-autodiff on a clone of `module`.
OwningOpRef<ModuleOp> differentiate(ModuleOp module) {
  OwningOpRef<ModuleOp> clone = module.clone();
  PassManager pm(module.getContext());
  pm.addPass(kiln::createAutodiff());
  if (failed(pm.run(*clone)))
    return nullptr;
  return clone;
}

double lossOf(func::FuncOp forward, const std::vector<Tensor> &args) {
  auto results = kiln::eval::evaluate(forward, args);
  EXPECT_TRUE(succeeded(results));
  return succeeded(results) ? (*results)[0].values[0] : NAN;
}

/// Compares every (or, above `maxChecks`, a sample of) parameter element's
/// gradient with central differences; returns the max abs difference.
double checkGradients(func::FuncOp forward, func::FuncOp trainStep,
                      std::vector<Tensor> args, double relTol,
                      const std::string &what, int64_t maxChecks = 1 << 30) {
  auto results = kiln::eval::evaluate(trainStep, args);
  EXPECT_TRUE(succeeded(results)) << what;
  if (failed(results))
    return INFINITY;
  double maxDiff = 0;
  for (unsigned r = 0; r < trainStep.getNumResults(); ++r) {
    auto name = trainStep.getResultAttrOfType<StringAttr>(
        r, kiln::nn::NNDialect::kGradAttr);
    if (!name)
      continue;
    unsigned argIndex = 0;
    for (; argIndex < forward.getNumArguments(); ++argIndex)
      if (kiln::eval::argumentName(forward, argIndex) == name.str())
        break;
    const Tensor &grad = (*results)[r];
    Tensor &param = args[argIndex];
    int64_t n = param.numel();
    int64_t checks = std::min(n, maxChecks);
    for (int64_t k = 0; k < checks; ++k) {
      int64_t i = checks == n ? k
                              : int64_t(kiln::rt::uniform01(
                                            kiln::rt::fnv1a(name.str()), k) *
                                        double(n));
      double saved = param.values[i];
      double h = 1e-6 * std::max(1.0, std::fabs(saved));
      param.values[i] = saved + h;
      double up = lossOf(forward, args);
      param.values[i] = saved - h;
      double down = lossOf(forward, args);
      param.values[i] = saved;
      double fd = (up - down) / (2 * h), an = grad.values[i];
      double diff = std::fabs(fd - an);
      maxDiff = std::max(maxDiff, diff);
      EXPECT_LE(diff, 1e-6 + relTol * std::fabs(an))
          << what << ": d loss / d " << name.str() << "[" << i
          << "]: autodiff " << an << ", finite differences " << fd;
    }
  }
  return maxDiff;
}

TEST_F(GradientTest, EveryRuleMatchesFiniteDifferences) {
  for (const OpCase &c : kCases) {
    auto yType = cast<RankedTensorType>(
        parseType(c.yType, &context));
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(caseModule(c, yType.getRank()), &context);
    ASSERT_TRUE(module) << c.name;
    auto forward = module->lookupSymbol<func::FuncOp>("forward");
    OwningOpRef<ModuleOp> diff = differentiate(*module);
    ASSERT_TRUE(diff) << c.name;
    auto trainStep = diff->lookupSymbol<func::FuncOp>("train_step");
    double worst = 0;
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      auto args = kiln::eval::makeInputs(forward, 1, seed);
      ASSERT_TRUE(succeeded(args));
      // Parameters in the case's range, off kinks; weights r in [-1, 1].
      for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
        Tensor &t = (*args)[i];
        if (t.isInteger || !forward.getArgAttr(i, "nn.param"))
          continue;
        uint64_t key = kiln::rt::fnv1a(c.name) ^ kiln::rt::splitmix64(seed + 17 * i);
        for (int64_t k = 0; k < t.numel(); ++k)
          t.values[k] = c.low + (c.high - c.low) * kiln::rt::uniform01(key, k);
      }
      Tensor &r = (*args)[0];
      for (double &v : r.values)
        v = 2 * v - 1;
      worst = std::max(worst, checkGradients(forward, trainStep, *args, 1e-5,
                                             std::string(c.name)));
    }
    std::printf("%-18s max |fd - autodiff| = %.3g\n", c.name, worst);
  }
}

TEST_F(GradientTest, EveryDifferentiableOpHasACase) {
  for (RegisteredOperationName op : context.getRegisteredOperations()) {
    if (!op.hasInterface<kiln::nn::GradientOpInterface>())
      continue;
    std::string needle = op.getStringRef().str() + " ";
    bool covered = llvm::any_of(kCases, [&](const OpCase &c) {
      return std::string(c.body).find(needle) != std::string::npos;
    });
    EXPECT_TRUE(covered) << op.getStringRef().str()
                         << " has a gradient rule but no finite-difference case";
  }
}

/// Compiles an example through the frontend pipeline and kiln-autodiff.
OwningOpRef<ModuleOp> compileExample(MLIRContext &context,
                                     const std::string &path) {
  llvm::SourceMgr sourceMgr;
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return nullptr;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  auto file = kiln::parseFile(sourceMgr, sourceMgr.getMainFileID());
  if (!file || !kiln::checkFile(*file, sourceMgr))
    return nullptr;
  OwningOpRef<ModuleOp> module = kiln::mlirGen(context, *file, sourceMgr);
  if (!module)
    return nullptr;
  PassManager pm(&context);
  kiln::buildFrontendPipeline(pm);
  pm.addPass(kiln::createAutodiff());
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
}

class ExampleGradientTest : public GradientTest,
                            public ::testing::WithParamInterface<const char *> {};

// Whole train steps: 8 sampled elements of every parameter, batch 2, in
// double. Tolerance 1e-6 + 1e-4 |grad|: long chains of float-valued ops
// (the IR's constants are f32) leave more rounding than a single op.
TEST_P(ExampleGradientTest, TrainStepMatchesFiniteDifferences) {
  std::string path = std::string(KILN_EXAMPLES_DIR) + "/" + GetParam() + ".kiln";
  OwningOpRef<ModuleOp> module = compileExample(context, path);
  ASSERT_TRUE(module) << path;
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  auto trainStep = module->lookupSymbol<func::FuncOp>("train_step");
  auto args = kiln::eval::makeInputs(forward, 2, 5);
  ASSERT_TRUE(succeeded(args));
  double worst = checkGradients(forward, trainStep, *args, 1e-4, GetParam(), 8);
  std::printf("%-12s train_step max |fd - autodiff| = %.3g\n", GetParam(), worst);
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleGradientTest,
                         ::testing::Values("mlp", "lenet", "cifar_cnn",
                                           "conv_mnist", "two_layer", "binary",
                                           "regression", "custom_expr"));

} // namespace
