//===- TrainStepTest.cpp - whole train steps vs finite differences -*- C++ -*-===//
//
// Part of kiln. For every example model, compiles the .kiln file through
// the frontend pipeline and kiln-autodiff and checks @train_step's gradient
// of every parameter against central finite differences of @forward's loss,
// both run by the reference evaluator in double: 8 sampled elements per
// parameter, batch 2, h = 1e-7 max(1, |p|) (small, so few elements sit
// within h of a ReLU or max-pool kink; those are detected and skipped),
// |fd - autodiff| <= 1e-6 + 1e-4 |autodiff| (long chains leave more rounding
// than one op; a wrong rule or a missed accumulation is off by O(1)).
// GradientTest.cpp checks each op's rule alone.
//
//===----------------------------------------------------------------------===//

#include "frontend/MLIRGen.h"
#include "ir/NNDialect.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "runtime/Random.h"
#include "tools/kiln-run/Evaluator.h"
#include "tools/kiln-run/Inputs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace mlir;
using kiln::eval::Tensor;

namespace {

double lossOf(func::FuncOp forward, const std::vector<Tensor> &args) {
  auto results = kiln::eval::evaluate(forward, args);
  EXPECT_TRUE(succeeded(results));
  return succeeded(results) ? (*results)[0].values[0] : NAN;
}

/// Compares a sample of `maxChecks` elements of every parameter's gradient
/// with central differences; returns the max abs difference. An element
/// whose two one-sided differences disagree sits within h of a kink (a ReLU
/// input or a max-pool tie crossing over): the loss is not differentiable
/// there at this resolution, so it is skipped and counted in `skipped`.
double checkGradients(func::FuncOp forward, func::FuncOp trainStep,
                      std::vector<Tensor> args, double relTol,
                      const std::string &what, int64_t maxChecks,
                      int &skipped) {
  auto results = kiln::eval::evaluate(trainStep, args);
  EXPECT_TRUE(succeeded(results)) << what;
  if (failed(results))
    return INFINITY;
  double maxDiff = 0, center = lossOf(forward, args);
  for (unsigned r = 0; r < trainStep.getNumResults(); ++r) {
    auto name = trainStep.getResultAttrOfType<StringAttr>(
        r, kiln::nn::NNDialect::kGradAttr);
    if (!name)
      continue;
    unsigned argIndex = 0;
    for (; argIndex < forward.getNumArguments(); ++argIndex)
      if (kiln::nn::argumentName(forward, argIndex) == name.str())
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
      double h = 1e-7 * std::max(1.0, std::fabs(saved));
      param.values[i] = saved + h;
      double up = lossOf(forward, args);
      param.values[i] = saved - h;
      double down = lossOf(forward, args);
      param.values[i] = saved;
      double fd = (up - down) / (2 * h), an = grad.values[i];
      double forwardSlope = (up - center) / h, backwardSlope = (center - down) / h;
      if (std::fabs(forwardSlope - backwardSlope) >
          1e-6 + 1e-4 * std::fabs(fd)) {
        ++skipped;
        continue;
      }
      double diff = std::fabs(fd - an);
      maxDiff = std::max(maxDiff, diff);
      EXPECT_LE(diff, 1e-6 + relTol * std::fabs(an))
          << what << ": d loss / d " << name.str() << "[" << i
          << "]: autodiff " << an << ", finite differences " << fd;
    }
  }
  return maxDiff;
}

/// Compiles an example through the frontend pipeline and kiln-autodiff.
OwningOpRef<ModuleOp> compileExample(MLIRContext &context,
                                     const std::string &path) {
  OwningOpRef<ModuleOp> module = kiln::importKilnFile(context, path);
  if (!module)
    return nullptr;
  PassManager pm(&context);
  kiln::buildFrontendPipeline(pm);
  pm.addPass(kiln::createAutodiff());
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
}

class TrainStepTest : public ::testing::TestWithParam<const char *> {
protected:
  void SetUp() override {
    context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  }
  MLIRContext context;
};

// Whole train steps: 8 sampled elements of every parameter, batch 2, in
// double. Tolerance 1e-6 + 1e-4 |grad|: long chains of float-valued ops
// (the IR's constants are f32) leave more rounding than a single op.
TEST_P(TrainStepTest, TrainStepMatchesFiniteDifferences) {
  std::string path = std::string(KILN_EXAMPLES_DIR) + "/" + GetParam() + ".kiln";
  OwningOpRef<ModuleOp> module = compileExample(context, path);
  ASSERT_TRUE(module) << path;
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  auto trainStep = module->lookupSymbol<func::FuncOp>("train_step");
  auto args = kiln::eval::randomInputs(forward, 2, 5);
  ASSERT_TRUE(succeeded(args));
  int skipped = 0;
  double worst =
      checkGradients(forward, trainStep, *args, 1e-4, GetParam(), 8, skipped);
  std::printf("%-12s train_step max |fd - autodiff| = %.3g (%d elements at a "
              "kink skipped)\n",
              GetParam(), worst, skipped);
  EXPECT_LE(skipped, 2) << "too many elements at a kink to be a coincidence";
}

INSTANTIATE_TEST_SUITE_P(Examples, TrainStepTest,
                         ::testing::Values("mlp", "lenet", "cifar_cnn",
                                           "conv_mnist", "two_layer", "binary",
                                           "regression", "custom_expr"));

} // namespace
