//===- ReferenceTest.cpp - train steps against PyTorch ----------*- C++ -*-===//
//
// Part of kiln. Compares kiln's training step, run by the reference
// evaluator, with numbers PyTorch computed for the same model, initial
// weights, batches and optimizer (test/reference/make_reference.py wrote
// them; see README.md there). For every example and optimizer: the loss of
// each of 5 steps, the step-0 gradient of every parameter, every parameter
// and buffer after 5 steps, and @eval_step's loss (dropout off, batch norm
// on the running statistics) on a sixth batch. Torch is not needed to run this test.
//
// Tolerances, elementwise, relative to max(floor, |reference|):
//   double evaluation: 1e-5, floor 1e-3 — kiln's IR holds its constants
//   (lr, betas) as f32, so even a double evaluation differs from PyTorch's
//   float64 by their rounding (~1e-7 relative), grown a little by five
//   optimizer steps;
//   float evaluation: 2e-3, floor 1e-2 — every op's result is rounded to
//   f32. Final parameters also get an absolute allowance of steps * lr:
//   Adam moves every weight by about lr per step whatever its gradient's
//   size, so a weight whose gradient is at f32 rounding level (or whose
//   ReLU input sits within rounding of 0) can step the other way.
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
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

using namespace mlir;
using kiln::eval::Tensor;

namespace {

/// A safetensors file of F64 tensors, read with llvm::json.
struct Reference {
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::vector<double>> tensors;
};

std::optional<Reference> readReference(const std::string &path,
                                       std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  llvm::StringRef data = (*buffer)->getBuffer();
  if (data.size() < 8) {
    error = path + ": truncated";
    return std::nullopt;
  }
  uint64_t headerSize;
  std::memcpy(&headerSize, data.data(), 8);
  if (8 + headerSize > data.size()) {
    error = path + ": header length past the end of the file";
    return std::nullopt;
  }
  auto header = llvm::json::parse(data.substr(8, headerSize));
  if (!header || !header->getAsObject()) {
    error = path + ": bad JSON header";
    llvm::consumeError(header.takeError());
    return std::nullopt;
  }
  Reference ref;
  llvm::StringRef payload = data.substr(8 + headerSize);
  for (auto &[key, value] : *header->getAsObject()) {
    const llvm::json::Object *entry = value.getAsObject();
    if (key == "__metadata__") {
      for (auto &[mk, mv] : *entry)
        if (auto s = mv.getAsString())
          ref.metadata[mk.str()] = s->str();
      continue;
    }
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    if (!offsets || entry->getString("dtype") != "F64") {
      error = path + ": tensor " + key.str() + " is not F64";
      return std::nullopt;
    }
    uint64_t begin = *(*offsets)[0].getAsInteger(),
             end = *(*offsets)[1].getAsInteger();
    if (end > payload.size() || begin > end || (end - begin) % 8) {
      error = path + ": tensor " + key.str() + " has bad offsets";
      return std::nullopt;
    }
    std::vector<double> values((end - begin) / 8);
    std::memcpy(values.data(), payload.data() + begin, end - begin);
    ref.tensors[key.str()] = std::move(values);
  }
  return ref;
}

/// A JSON value from the reference script as kiln's IR holds train-block
/// values: objects as dictionaries, numbers as f64, strings, booleans.
Attribute jsonToAttr(MLIRContext *context, const llvm::json::Value &value) {
  Builder b(context);
  if (auto s = value.getAsString())
    return b.getStringAttr(*s);
  if (auto flag = value.getAsBoolean())
    return b.getBoolAttr(*flag);
  if (auto number = value.getAsNumber())
    return b.getF64FloatAttr(*number);
  if (auto array = value.getAsArray()) {
    SmallVector<Attribute> elements;
    for (const llvm::json::Value &e : *array)
      elements.push_back(jsonToAttr(context, e));
    return b.getArrayAttr(elements);
  }
  NamedAttrList fields;
  for (auto &[key, field] : *value.getAsObject())
    fields.set(key, jsonToAttr(context, field));
  return fields.getDictionary(context);
}

/// The train block the reference used: its optimizer and, when present,
/// its schedule and clipping (metadata "train").
DictionaryAttr trainAttr(MLIRContext *context,
                         std::map<std::string, std::string> &metadata) {
  NamedAttrList fields;
  for (const char *key : {"optimizer", "train"}) {
    if (!metadata.count(key))
      continue;
    auto parsed = llvm::json::parse(metadata[key]);
    EXPECT_TRUE(bool(parsed)) << metadata[key];
    if (!parsed) {
      llvm::consumeError(parsed.takeError());
      return {};
    }
    Attribute attr = jsonToAttr(context, *parsed);
    if (std::string(key) == "optimizer")
      fields.set("optimizer", attr);
    else
      fields.append(cast<DictionaryAttr>(attr).getValue());
  }
  return fields.getDictionary(context);
}

/// The model with its train block replaced by `train`, through
/// kiln-autodiff (and kiln-lower-optimizer when `update`).
OwningOpRef<ModuleOp> compile(MLIRContext &context, const std::string &model,
                              DictionaryAttr train, bool update) {
  OwningOpRef<ModuleOp> module = kiln::importKilnFile(
      context, std::string(KILN_EXAMPLES_DIR) + "/" + model + ".kiln");
  if (!module)
    return nullptr;
  (*module)->setAttr(kiln::nn::NNDialect::kTrainAttr, train);
  PassManager pm(&context);
  kiln::buildFrontendPipeline(pm);
  pm.addPass(kiln::createAutodiff());
  if (update)
    pm.addPass(kiln::createLowerOptimizer());
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
}

/// Arguments of step k as make_reference.py builds them.
std::vector<Tensor> referenceArgs(func::FuncOp func, int64_t batch,
                                  int64_t step) {
  auto args = kiln::eval::randomInputs(func, batch, 0);
  EXPECT_TRUE(succeeded(args));
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    Tensor &t = (*args)[i];
    std::string name = kiln::nn::argumentName(func, i);
    bool isBatch = func.getArgAttr(i, kiln::nn::NNDialect::kInputAttr) ||
                   func.getArgAttr(i, kiln::nn::NNDialect::kTargetAttr);
    if (func.getArgAttr(i, kiln::nn::NNDialect::kSeedAttr)) {
      t.ints[0] = step;
    } else if (func.getArgAttr(i, kiln::nn::NNDialect::kStepAttr)) {
      t.values[0] = double(step + 1);
    } else if (isBatch) {
      uint64_t key = kiln::rt::fnv1a("step" + std::to_string(step) + "." + name);
      if (t.isInteger) {
        // Classes as makeInputs found them: recover the count from its draw.
        int64_t classes = 0;
        for (Operation *user : func.getArgument(i).getUsers())
          if (isa<kiln::nn::CrossEntropyOp, kiln::nn::NllOp>(user))
            classes = cast<RankedTensorType>(user->getOperand(0).getType())
                          .getDimSize(1);
        for (int64_t k = 0; k < t.numel(); ++k)
          t.ints[k] = int64_t(kiln::rt::uniform01(key, k) * double(classes));
      } else {
        for (int64_t k = 0; k < t.numel(); ++k)
          t.values[k] = kiln::rt::uniform01(key, k);
      }
    } else if (func.getArgAttr(i, kiln::nn::NNDialect::kBufferAttr)) {
      // Batch-norm running statistics start as PyTorch's: mean 0, var 1.
      double fill = llvm::StringRef(name).ends_with("running_var") ? 1.0 : 0.0;
      std::fill(t.values.begin(), t.values.end(), fill);
    } else if (func.getArgAttr(i, kiln::nn::NNDialect::kParamAttr)) {
      double scale = t.shape.size() >= 2
                         ? 1.0 / std::sqrt(double(t.numel() / t.shape[0]))
                         : 0.5;
      uint64_t key = kiln::rt::fnv1a(name);
      for (int64_t k = 0; k < t.numel(); ++k)
        t.values[k] = (2 * kiln::rt::uniform01(key, k) - 1) * scale;
    }
  }
  return *args;
}

/// Compares `actual` with the reference tensor `key` (sampled when the
/// tensor has more than 4096 elements); returns the max relative error.
double compare(const Reference &ref, const std::string &key,
               const Tensor &actual, double tol, double floor,
               const std::string &what, double absTol = 0) {
  auto it = ref.tensors.find(key);
  EXPECT_NE(it, ref.tensors.end()) << what << ": no " << key;
  if (it == ref.tensors.end())
    return INFINITY;
  const std::vector<double> &expected = it->second;
  int64_t n = actual.numel();
  bool sampled = n > 4096;
  EXPECT_EQ(int64_t(expected.size()), sampled ? 4096 : n) << what << " " << key;
  double worst = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    int64_t i = sampled ? int64_t(k) * n / 4096 : int64_t(k);
    double err = std::fabs(actual.values[i] - expected[k]) /
                 std::max(floor, std::fabs(expected[k]));
    double allowed = tol + absTol / std::max(floor, std::fabs(expected[k]));
    worst = std::max(worst, err);
    EXPECT_LE(err, allowed) << what << " " << key << "[" << i << "]: kiln "
                            << actual.values[i] << ", PyTorch " << expected[k];
    if (err > allowed)
      break; // one report per tensor is enough
  }
  return worst;
}

class ReferenceTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  }
  MLIRContext context;

  void run(kiln::eval::Precision precision, double tol, double floor);
};

void ReferenceTest::run(kiln::eval::Precision precision, double tol,
                        double floor) {
  std::string error;
  std::string path = std::string(KILN_REFERENCE_DIR) + "/" + GetParam();
  std::optional<Reference> ref = readReference(path, error);
  ASSERT_TRUE(ref) << error;
  std::string model = ref->metadata["model"];
  int64_t batch = std::stoll(ref->metadata["batch"]);
  int64_t steps = std::stoll(ref->metadata["steps"]);
  DictionaryAttr train = trainAttr(&context, ref->metadata);
  ASSERT_TRUE(train);
  auto optimizer = train.getAs<DictionaryAttr>("optimizer");

  // Step-0 gradients, from the autodiff-only train step.
  OwningOpRef<ModuleOp> gradModule = compile(context, model, train, false);
  ASSERT_TRUE(gradModule) << model;
  auto gradStep = gradModule->lookupSymbol<func::FuncOp>("train_step");
  auto grads = kiln::eval::evaluate(gradStep, referenceArgs(gradStep, batch, 0),
                                    precision);
  ASSERT_TRUE(succeeded(grads));
  double worstGrad = 0;
  for (unsigned r = 0; r < gradStep.getNumResults(); ++r)
    if (auto name = gradStep.getResultAttrOfType<StringAttr>(
            r, kiln::nn::NNDialect::kGradAttr))
      worstGrad = std::max(worstGrad, compare(*ref, "grad." + name.str(),
                                              (*grads)[r], tol, floor,
                                              GetParam()));

  // Five optimizer steps, feeding parameters, buffers and state forward.
  OwningOpRef<ModuleOp> module = compile(context, model, train, true);
  ASSERT_TRUE(module) << model;
  auto trainStep = module->lookupSymbol<func::FuncOp>("train_step");
  std::map<std::string, Tensor> latest;
  double worstLoss = 0;
  for (int64_t s = 0; s < steps; ++s) {
    std::vector<Tensor> args = referenceArgs(trainStep, batch, s);
    for (unsigned i = 0; i < trainStep.getNumArguments(); ++i)
      if (latest.count(kiln::nn::argumentName(trainStep, i)))
        args[i] = latest[kiln::nn::argumentName(trainStep, i)];
    auto results = kiln::eval::evaluate(trainStep, args, precision);
    ASSERT_TRUE(succeeded(results));
    for (unsigned r = 0; r < results->size(); ++r) {
      std::string name = kiln::nn::resultName(trainStep, r);
      if (name == "loss") {
        double expected = ref->tensors["loss"][s];
        double err = std::fabs((*results)[r].values[0] - expected) /
                     std::max(floor, std::fabs(expected));
        worstLoss = std::max(worstLoss, err);
        EXPECT_LE(err, tol) << GetParam() << " loss of step " << s << ": kiln "
                            << (*results)[r].values[0] << ", PyTorch " << expected;
      } else if (name != "predict") {
        latest[name] = (*results)[r];
      }
    }
  }
  // @eval_step with the trained weights and statistics on a fresh batch.
  auto evalStep = module->lookupSymbol<func::FuncOp>("eval_step");
  std::vector<Tensor> evalArgs = referenceArgs(evalStep, batch, steps);
  for (unsigned i = 0; i < evalStep.getNumArguments(); ++i)
    if (latest.count(kiln::nn::argumentName(evalStep, i)))
      evalArgs[i] = latest[kiln::nn::argumentName(evalStep, i)];
  auto evalResults = kiln::eval::evaluate(evalStep, evalArgs, precision);
  ASSERT_TRUE(succeeded(evalResults));
  double expectedEval = ref->tensors["eval_loss"][0];
  double evalErr = std::fabs((*evalResults)[0].values[0] - expectedEval) /
                   std::max(floor, std::fabs(expectedEval));
  EXPECT_LE(evalErr, tol) << GetParam() << " eval loss: kiln "
                          << (*evalResults)[0].values[0] << ", PyTorch "
                          << expectedEval;

  double lr = optimizer.getAs<FloatAttr>("lr").getValueAsDouble();
  double absTol = precision == kiln::eval::Precision::F32 ? steps * lr : 0;
  double worstFinal = 0;
  for (auto &[name, tensor] : latest)
    if (ref->tensors.count("final." + name))
      worstFinal = std::max(worstFinal, compare(*ref, "final." + name, tensor,
                                                tol, floor, GetParam(), absTol));
  std::printf("%-28s %s: max rel. error loss %.2g, step-0 grads %.2g, "
              "params after %lld steps %.2g, eval loss %.2g\n",
              GetParam().c_str(),
              precision == kiln::eval::Precision::F64 ? "f64" : "f32",
              worstLoss, worstGrad, (long long)steps, worstFinal, evalErr);
}

TEST_P(ReferenceTest, MatchesPyTorchInDouble) {
  run(kiln::eval::Precision::F64, 1e-5, 1e-3);
}

TEST_P(ReferenceTest, MatchesPyTorchInFloat) {
  run(kiln::eval::Precision::F32, 2e-3, 1e-2);
}

std::vector<std::string> referenceFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(KILN_REFERENCE_DIR, ec), end;
       it != end && !ec; it.increment(ec))
    if (llvm::StringRef(it->path()).ends_with(".safetensors"))
      files.push_back(llvm::sys::path::filename(it->path()).str());
  std::sort(files.begin(), files.end());
  return files;
}

// Adam's first moves from zero state, against PyTorch's closed form in
// double: with m = v = 0 before step t, each weight moves by
//   lr (1 - b1) / (1 - b1^t) sqrt((1 - b2^t) / (1 - b2)) (eps aside),
// whatever its gradient. Evaluated in f32, the bias corrections must keep
// f32 precision (1e-6 relative here; computing 1 - b^t as 1 - e^(t ln b)
// was off by 6.6e-6 at b2 = 0.999, t = 1), and a beta of 0 must give
// 1 - 0^t = 1 (e^(t ln 0) is e^-inf).
TEST(AdamStepTest, FirstStepsMatchPyTorchClosedForm) {
  struct Case {
    double b1, b2;
    int t;
  };
  for (Case c : {Case{0.9, 0.999, 1}, Case{0.9, 0.999, 2}, Case{0.9, 0.999, 10},
                 Case{0.9, 0.999, 3000}, Case{0.0, 0.5, 1}, Case{0.5, 0.0, 3},
                 Case{0.0, 0.0, 1}}) {
    SCOPED_TRACE("betas " + std::to_string(c.b1) + ", " +
                 std::to_string(c.b2) + ", step " + std::to_string(c.t));
    llvm::SmallString<128> path;
    ASSERT_FALSE(
        llvm::sys::fs::createTemporaryFile("adam-step", "kiln", path));
    {
      std::ofstream source(path.c_str());
      source << "model m {\n  input x: f32[B, 4]\n  target y: f32[B, 1]\n"
             << "  fc = dense(x, 1)\n  loss mse(fc, y)\n}\ntrain {\n"
             << "  data = csv(\"unused.csv\")\n"
             << "  optimizer = adam(lr=1, eps=1e-12, betas=[" << c.b1 << ", "
             << c.b2 << "])\n}\n";
    }
    MLIRContext context;
    context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
    OwningOpRef<ModuleOp> module = kiln::importKilnFile(context, path.str());
    llvm::sys::fs::remove(path);
    ASSERT_TRUE(module);
    PassManager pm(&context);
    kiln::buildTrainPipeline(pm);
    ASSERT_TRUE(succeeded(pm.run(*module)));
    auto step = module->lookupSymbol<func::FuncOp>("train_step");
    auto args = kiln::eval::randomInputs(step, 4, /*seed=*/3);
    ASSERT_TRUE(succeeded(args));
    for (unsigned a = 0; a < args->size(); ++a)
      if (step.getArgAttr(a, kiln::nn::NNDialect::kStepAttr))
        (*args)[a].values[0] = c.t;
    auto results = kiln::eval::evaluate(step, *args, kiln::eval::Precision::F32);
    ASSERT_TRUE(succeeded(results));
    double want = (1 - c.b1) / (1 - std::pow(c.b1, c.t)) *
                  std::sqrt((1 - std::pow(c.b2, c.t)) / (1 - c.b2));
    int checked = 0;
    for (unsigned r = 0; r < step.getNumResults(); ++r) {
      std::string name = kiln::nn::resultName(step, r);
      if (name != "fc.weight")
        continue;
      for (unsigned a = 0; a < args->size(); ++a) {
        if (kiln::nn::argumentName(step, a) != name)
          continue;
        for (size_t i = 0; i < (*results)[r].values.size(); ++i) {
          double moved = std::fabs((*results)[r].values[i] -
                                   (*args)[a].values[i]);
          EXPECT_NEAR(moved / want, 1.0, 1e-6) << name << "[" << i << "]";
          ++checked;
        }
      }
    }
    EXPECT_EQ(checked, 4);
  }
}

INSTANTIATE_TEST_SUITE_P(
    PyTorch, ReferenceTest, ::testing::ValuesIn(referenceFiles()),
    [](const ::testing::TestParamInfo<std::string> &info) {
      std::string name = info.param.substr(0, info.param.find('.'));
      for (char &c : name)
        if (!isalnum(static_cast<unsigned char>(c)))
          c = '_';
      return name;
    });

} // namespace
