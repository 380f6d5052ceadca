//===- CompiledStepTest.cpp - the built trainer against the evaluator -*- C++ -*-===//
//
// Part of kiln. For every example model, and every model in
// test/e2e/models: builds the real trainer with `kiln model.kiln -o trainer`
// (AOT Halide kernels, generated step program, runtime), draws initial
// weights and one batch (8 samples for the examples, 5 for the others) with
// the evaluator's deterministic inputs, and runs 20 training steps both ways
// from the same weights and batch: `trainer steps` and the reference
// evaluator in f32 (each step's results fed back as the next step's
// arguments, the step counter advanced, as `kiln-run --steps` does).
// Compared: the loss of every step and every result after the last one.
//
// Tolerance, per element: |compiled - reference| <= 2e-3 |reference| + abs,
// abs = 1e-4 for losses and outputs; for parameters and optimizer state
// abs = 1e-4 + 20 steps x the model's lr. Both sides compute in f32 but sum
// in different orders (tiled GEMMs, vectorized reductions), ~1e-6 relative
// per step; Adam divides by sqrt(v) + eps, so an element whose gradient is
// near zero can move by up to lr per step on one side and not the other,
// which the lr term bounds. A wrong kernel is off by far more. The largest
// differences are printed.
//
//===----------------------------------------------------------------------===//

#include "frontend/MLIRGen.h"
#include "ir/NNDialect.h"
#include "passes/Pipelines.h"
#include "runtime/Safetensors.h"
#include "tools/kiln-run/Evaluator.h"
#include "tools/kiln-run/Inputs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cmath>
#include <dlfcn.h>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

using namespace mlir;
using kiln::eval::Tensor;

namespace {

constexpr int kSteps = 20;
constexpr int64_t kBatch = 8;
constexpr double kRelTol = 2e-3, kAbsTol = 1e-4;

/// Runs `command`; its output, and in `status` its exit status (expected
/// to be 0 when `status` is not asked for).
std::string run(const std::string &command, int *status = nullptr) {
  std::string output;
  FILE *pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe))
    output.append(buffer, n);
  int code = pclose(pipe);
  if (status)
    *status = code;
  else
    EXPECT_EQ(code, 0) << command << "\n" << output;
  return output;
}

kiln::rt::SafetensorsFile argumentsFile(func::FuncOp func,
                                        const std::vector<Tensor> &args) {
  kiln::rt::SafetensorsFile file;
  for (unsigned i = 0; i < args.size(); ++i)
    file.tensors[kiln::nn::argumentName(func, i)] =
        args[i].isInteger
            ? kiln::rt::StoredTensor::fromInts(args[i].shape, args[i].ints)
            : kiln::rt::StoredTensor::fromDoubles(kiln::rt::DType::F32,
                                                  args[i].shape,
                                                  args[i].values);
  return file;
}

double learningRate(ModuleOp module) {
  auto train = module->getAttrOfType<DictionaryAttr>(
      kiln::nn::NNDialect::kTrainAttr);
  auto optimizer = train.getAs<DictionaryAttr>("optimizer");
  return optimizer.getAs<FloatAttr>("lr").getValueAsDouble();
}

/// A model (a file `<name>.kiln` in `dir`), the device its trainer runs on
/// (cpu; opencl, the GPU kernels on any OpenCL device: PoCL runs them on the
/// CPU, so CI checks the GPU schedules and the device memory path without a
/// GPU; or cuda) and the batch.
using Case = std::tuple<const char *, const char *, const char *, int64_t>;

class CompiledStepTest : public ::testing::TestWithParam<Case> {};

TEST_P(CompiledStepTest, MatchesEvaluatorFor20Steps) {
  auto [dir, model, device, batch] = GetParam();
  std::string name = model, where = device;
  // Learnt from the first trainer that tried, so later cases skip at once.
  static std::map<std::string, std::string> missingDevice;
  if (missingDevice.count(where))
    GTEST_SKIP() << "no " << where << " device here: " << missingDevice[where];
  // Halide's runtime loads the driver itself; without one, skip before
  // building the trainer.
  if (where == "cuda" && !dlopen("libcuda.so", RTLD_LAZY) &&
      !dlopen("libcuda.so.1", RTLD_LAZY))
    GTEST_SKIP() << "no CUDA driver (libcuda.so) here: the CUDA trainer "
                    "cannot run";
  MLIRContext context;
  context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  std::string source = std::string(dir) + "/" + name + ".kiln";
  OwningOpRef<ModuleOp> module = kiln::importKilnFile(context, source);
  ASSERT_TRUE(module);
  PassManager pm(&context);
  kiln::buildTrainPipeline(pm);
  ASSERT_TRUE(succeeded(pm.run(*module)));
  auto func = module->lookupSymbol<func::FuncOp>("train_step");
  auto args = kiln::eval::randomInputs(func, batch, /*seed=*/5);
  ASSERT_TRUE(succeeded(args));
  ASSERT_TRUE(
      succeeded(kiln::eval::initializeParameters(func, *args, /*seed=*/5)));

  SmallString<128> work;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kiln-e2e", work));
  std::string trainer = (work + "/trainer").str();
  std::string inputs = (work + "/inputs.safetensors").str();
  std::string outputs = (work + "/outputs.safetensors").str();
  std::string error;
  ASSERT_TRUE(kiln::rt::writeSafetensors(inputs, argumentsFile(func, *args),
                                         error))
      << error;
  run(std::string(KILN_EXE) + " " + source + " -o " + trainer + " --gpu=" +
      (where == "cpu" ? "none" : where));
  int status = 0;
  std::string log = run(trainer + " steps --inputs " + inputs + " --steps " +
                            std::to_string(kSteps) + " --outputs " + outputs +
                            " --device " + where,
                        &status);
  if (status != 0 && log.find("no usable") != std::string::npos) {
    llvm::sys::fs::remove_directories(work);
    missingDevice[where] = log;
    GTEST_SKIP() << "no " << where << " device here: " << log;
  }
  ASSERT_EQ(status, 0) << log;

  // The reference: kiln-run --steps semantics in f32.
  std::vector<double> losses;
  std::vector<Tensor> results;
  for (int s = 0; s < kSteps; ++s) {
    auto out = kiln::eval::evaluate(func, *args, kiln::eval::Precision::F32);
    ASSERT_TRUE(succeeded(out));
    results = std::move(*out);
    for (unsigned r = 0; r < results.size(); ++r) {
      std::string result = kiln::nn::resultName(func, r);
      if (result == "loss")
        losses.push_back(results[r].values[0]);
      for (unsigned a = 0; a < args->size(); ++a)
        if (result != "loss" && kiln::nn::argumentName(func, a) == result)
          (*args)[a] = results[r];
    }
    for (unsigned a = 0; a < args->size(); ++a)
      if (kiln::nn::argumentName(func, a) == "step")
        (*args)[a].values[0] += 1;
  }

  double worstLoss = 0;
  std::istringstream lines(log);
  std::string line;
  int step = 0;
  while (std::getline(lines, line)) {
    int k;
    double loss;
    if (std::sscanf(line.c_str(), "step %d loss %lf", &k, &loss) != 2)
      continue;
    ASSERT_LT(step, kSteps);
    double want = losses[step++];
    worstLoss = std::max(worstLoss, std::fabs(loss - want));
    EXPECT_LE(std::fabs(loss - want), kAbsTol + kRelTol * std::fabs(want))
        << "step " << step << " loss: compiled " << loss << ", reference "
        << want;
  }
  EXPECT_EQ(step, kSteps) << "trainer output:\n" << log;

  kiln::rt::SafetensorsFile got;
  ASSERT_TRUE(kiln::rt::readSafetensors(outputs, got, error)) << error;
  double lr = learningRate(*module), worstState = 0;
  for (unsigned r = 0; r < results.size(); ++r) {
    std::string result = kiln::nn::resultName(func, r);
    ASSERT_TRUE(got.tensors.count(result)) << result;
    const kiln::rt::StoredTensor &t = got.tensors[result];
    EXPECT_EQ(t.shape, results[r].shape) << result;
    if (results[r].isInteger) {
      EXPECT_EQ(t.toInts(), results[r].ints) << result;
      continue;
    }
    bool state = !func.getResultAttr(r, kiln::nn::NNDialect::kOutputAttr);
    double abs = kAbsTol + (state ? kSteps * lr : 0);
    std::vector<double> values = t.toDoubles();
    for (size_t i = 0; i < values.size(); ++i) {
      double want = results[r].values[i], diff = std::fabs(values[i] - want);
      worstState = std::max(worstState, diff);
      if (!(diff <= abs + kRelTol * std::fabs(want))) {
        ADD_FAILURE() << result << "[" << i << "]: compiled " << values[i]
                      << ", reference " << want;
        break;
      }
    }
  }
  std::printf("%s on %s, batch %lld: %d steps, max |loss diff| %.3g, max "
              "|result diff| %.3g\n",
              name.c_str(), device, static_cast<long long>(batch), kSteps,
              worstLoss, worstState);
  llvm::sys::fs::remove_directories(work);
}

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  return std::string(std::get<1>(info.param)) + "_" + std::get<2>(info.param);
}

INSTANTIATE_TEST_SUITE_P(
    Examples, CompiledStepTest,
    ::testing::Combine(::testing::Values(KILN_EXAMPLES_DIR),
                       ::testing::Values("mlp", "lenet", "cifar_cnn",
                                         "conv_mnist", "two_layer", "binary",
                                         "regression", "custom_expr"),
                       ::testing::Values("cpu", "opencl", "cuda"),
                       ::testing::Values(kBatch)),
    caseName);

// Models written apart from the examples, each exercising other ops and
// settings (strides, padding, pools, normalization, dropout, losses,
// optimizers, schedules, clipping, frozen layers, shape ops, broadcasting
// parameters, reductions over the batch), at an odd batch, on the CPU and
// on OpenCL (the GPU schedules).
INSTANTIATE_TEST_SUITE_P(
    Models, CompiledStepTest,
    ::testing::Combine(
        ::testing::Values(KILN_TEST_MODELS_DIR),
        ::testing::Values("activations", "adam_beta0", "autoenc", "batchaxis",
                          "batch_last",
                          "batchnorm",
                          "bce", "clip", "combo", "conv5", "conv_stride",
                          "custom", "dropout", "embedding", "frozen", "groups",
                          "mean_grads", "multiloss", "param_broadcast",
                          "pool_tiles", "pools", "reshape"),
        ::testing::Values("cpu", "opencl"), ::testing::Values(int64_t(5))),
    caseName);

} // namespace
