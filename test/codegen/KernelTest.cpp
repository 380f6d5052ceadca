//===- KernelTest.cpp - every lowering rule against the evaluator -*- C++ -*-===//
//
// Part of kiln. Runs functions op by op through the Halide kernels codegen
// builds for them (JIT-compiled for the host, with the same schedules the
// trainer's AOT kernels get) and compares every result with the reference
// evaluator's, in double. Two sources of functions:
//  - every gradient case (test/gradients/GradientCases.h): the op and its
//    gradient rule's ops, so each forward and *_grad op's lowering is hit
//    on several random shapes;
//  - the @train_step and @eval_step of every example model, batch 5 (not a
//    multiple of any tile), so the kernels compose as in a real step.
// Tolerance: |kernel - reference| <= 1e-4 + 1e-3 |reference| per element:
// the kernels compute in f32 (relative rounding ~6e-8 per operation, sums
// of up to ~10^4 terms) against a double reference, while a wrong rule is
// off by O(|reference|). Each test prints the largest difference it saw.
//
//===----------------------------------------------------------------------===//

#include "codegen/Kernels.h"
#include "frontend/MLIRGen.h"
#include "ir/NNDialect.h"
#include "passes/Pipelines.h"
#include "test/gradients/GradientCases.h"
#include "tools/kiln-run/Evaluator.h"
#include "tools/kiln-run/Inputs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;
using kiln::eval::Tensor;

namespace {

constexpr double kAbsTol = 1e-4, kRelTol = 1e-3;

Halide::Buffer<> toBuffer(const Tensor &t) {
  std::vector<int> sizes(t.shape.rbegin(), t.shape.rend());
  if (t.isInteger) {
    Halide::Buffer<int64_t> b(sizes);
    std::copy(t.ints.begin(), t.ints.end(), b.data());
    return b;
  }
  Halide::Buffer<float> b(sizes);
  for (size_t i = 0; i < t.values.size(); ++i)
    b.data()[i] = float(t.values[i]);
  return b;
}

Tensor fromBuffer(const Halide::Buffer<> &b, RankedTensorType type,
                  std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  if (type.getElementType().isInteger(64)) {
    const int64_t *p = static_cast<const int64_t *>(b.data());
    return Tensor::integers(shape, std::vector<int64_t>(p, p + n));
  }
  const float *p = static_cast<const float *>(b.data());
  return Tensor::floats(shape, std::vector<double>(p, p + n));
}

/// The runtime shape of `v` given the batch size.
std::vector<int64_t> shapeOf(Value v, int64_t batch) {
  std::vector<int64_t> shape;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
    shape.push_back(ShapedType::isDynamic(d) ? batch : d);
  return shape;
}

/// Runs `func` on `args` with one JIT-compiled kernel per op.
FailureOr<std::vector<Tensor>> runKernels(func::FuncOp func,
                                          const std::vector<Tensor> &args,
                                          int64_t batch) {
  Halide::Target target = Halide::get_jit_target_from_environment();
  DenseMap<Value, Tensor> values;
  for (BlockArgument a : func.getArguments())
    values[a] = args[a.getArgNumber()];
  for (Operation &op : func.getBody().front().without_terminator()) {
    if (auto c = dyn_cast<kiln::nn::ConstantOp>(op)) {
      auto attr = cast<DenseElementsAttr>(c.getValue());
      std::vector<int64_t> shape = shapeOf(c.getResult(), batch);
      if (attr.getElementType().isInteger(64)) {
        std::vector<int64_t> ints;
        for (const APInt &v : attr.getValues<APInt>())
          ints.push_back(v.getSExtValue());
        values[c.getResult()] = Tensor::integers(shape, ints);
      } else {
        std::vector<double> floats;
        for (float v : attr.getValues<float>())
          floats.push_back(v);
        values[c.getResult()] = Tensor::floats(shape, floats);
      }
      continue;
    }
    if (isa<kiln::nn::ReshapeOp>(op)) {
      Tensor t = values[op.getOperand(0)];
      t.shape = shapeOf(op.getResult(0), batch);
      values[op.getResult(0)] = t;
      continue;
    }
    if (getenv("KILN_TEST_DEBUG"))
      op.dump();
    auto kernel = kiln::codegen::buildKernelPipeline(&op, target);
    if (failed(kernel))
      return failure();
    std::vector<Halide::Buffer<>> outputs;
    for (Value r : op.getResults()) {
      std::vector<int64_t> shape = shapeOf(r, batch);
      int64_t n = 1;
      for (int64_t d : shape)
        n *= d;
      std::vector<int> sizes(shape.rbegin(), shape.rend());
      if (kernel->flattened && !shape.empty())
        sizes = {int(n)};
      bool isInt = cast<RankedTensorType>(r.getType()).getElementType()
                       .isInteger(64);
      outputs.push_back(isInt ? Halide::Buffer<>(Halide::Int(64), sizes)
                              : Halide::Buffer<>(Halide::Float(32), sizes));
    }
    int64_t flatSize = 1;
    for (int64_t d : shapeOf(op.getResult(0), batch))
      flatSize *= d;
    kernel->dyn.set(int32_t(kernel->flattened ? flatSize : batch));
    std::vector<Halide::Buffer<>> inputs; // own the data the views read
    for (auto [i, operand] : llvm::enumerate(op.getOperands())) {
      inputs.push_back(toBuffer(values[operand]));
      Halide::Buffer<> b = inputs.back();
      if (kernel->flattened && b.dimensions() > 0)
        b = Halide::Buffer<>(b.type(), b.data(), int(b.number_of_elements()));
      kernel->operands[i].set(b);
    }
    try {
      Halide::Realization realization(outputs);
      kernel->pipeline.realize(realization, target);
    } catch (const Halide::Error &e) {
      ADD_FAILURE() << "Halide failed running " << op.getName().getStringRef().str() << ": "
                    << e.what();
      return failure();
    }
    for (auto [i, r] : llvm::enumerate(op.getResults()))
      values[r] = fromBuffer(outputs[i], cast<RankedTensorType>(r.getType()),
                             shapeOf(r, batch));
  }
  std::vector<Tensor> results;
  for (Value v : func.getBody().front().getTerminator()->getOperands())
    results.push_back(values[v]);
  return results;
}

/// Compares kernel and reference results; returns the largest difference.
double compare(func::FuncOp func, const std::vector<Tensor> &got,
               const std::vector<Tensor> &want, const std::string &what) {
  double worst = 0;
  EXPECT_EQ(got.size(), want.size());
  for (size_t r = 0; r < std::min(got.size(), want.size()); ++r) {
    std::string name = what + " result " + kiln::nn::resultName(func, r);
    EXPECT_EQ(got[r].shape, want[r].shape) << name;
    if (want[r].isInteger) {
      EXPECT_EQ(got[r].ints, want[r].ints) << name;
      continue;
    }
    for (size_t i = 0; i < want[r].values.size(); ++i) {
      double a = got[r].values[i], b = want[r].values[i];
      if (std::isnan(a) && std::isnan(b))
        continue;
      double diff = std::fabs(a - b);
      worst = std::max(worst, diff);
      if (!(diff <= kAbsTol + kRelTol * std::fabs(b))) {
        ADD_FAILURE() << name << " element " << i << ": kernel " << a
                      << ", reference " << b;
        return worst;
      }
    }
  }
  return worst;
}

class KernelTest : public ::testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<kiln::nn::NNDialect, func::FuncDialect>();
  }
  MLIRContext context;
};

/// The op of a gradient case and its gradient rule in one function.
OwningOpRef<ModuleOp> buildCase(MLIRContext &ctx,
                                const kiln::test::GradientCase &c) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> types;
  for (const kiln::test::Operand &o : c.operands)
    types.push_back(RankedTensorType::get(
        o.value.shape, o.value.isInteger ? Type(b.getI64Type())
                                         : Type(b.getF32Type())));
  auto f = b.create<func::FuncOp>(loc, "f", b.getFunctionType(types, {}));
  Block *body = f.addEntryBlock();
  b.setInsertionPointToStart(body);
  Operation *op = c.build(b, loc, body->getArguments());
  SmallVector<Value> results(op->getResults());
  // Seed the gradient rule with the results themselves (any tensor of
  // the right type exercises the rule's ops).
  if (auto iface = dyn_cast<kiln::nn::GradientOpInterface>(op)) {
    SmallVector<Value> seeds;
    for (Value r : op->getResults())
      seeds.push_back(cast<RankedTensorType>(r.getType())
                              .getElementType()
                              .isF32()
                          ? r
                          : Value());
    for (Value g : iface.buildGradients(b, seeds))
      if (g)
        results.push_back(g);
  }
  b.create<func::ReturnOp>(loc, results);
  f.setFunctionType(b.getFunctionType(types, ValueRange(results).getTypes()));
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

class CaseKernelTest : public KernelTest,
                       public ::testing::WithParamInterface<std::string> {};

TEST_P(CaseKernelTest, MatchesEvaluator) {
  const kiln::test::CaseMaker &make =
      kiln::test::gradientCases().at(GetParam());
  double worst = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    kiln::test::Rng rng(seed * 7919);
    kiln::test::GradientCase c = make(rng);
    OwningOpRef<ModuleOp> module = buildCase(context, c);
    ASSERT_TRUE(module) << "the case does not verify";
    auto f = module->lookupSymbol<func::FuncOp>("f");
    std::vector<Tensor> args;
    for (const kiln::test::Operand &o : c.operands)
      args.push_back(o.value);
    auto want = kiln::eval::evaluate(f, args, kiln::eval::Precision::F64);
    ASSERT_TRUE(succeeded(want));
    auto got = runKernels(f, args, /*batch=*/0);
    ASSERT_TRUE(succeeded(got)) << "kernels failed";
    worst = std::max(worst, compare(f, *got, *want, GetParam()));
  }
  std::printf("%s: max |kernel - reference| = %.3g\n", GetParam().c_str(),
              worst);
}

std::vector<std::string> caseNames() {
  std::vector<std::string> names;
  for (const auto &entry : kiln::test::gradientCases())
    names.push_back(entry.first);
  return names;
}

INSTANTIATE_TEST_SUITE_P(
    Ops, CaseKernelTest, ::testing::ValuesIn(caseNames()),
    [](const ::testing::TestParamInfo<std::string> &info) {
      std::string name = info.param;
      for (char &c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          c = '_';
      return name;
    });

class ExampleKernelTest : public KernelTest,
                          public ::testing::WithParamInterface<const char *> {
};

TEST_P(ExampleKernelTest, TrainAndEvalStep) {
  std::string path = std::string(KILN_EXAMPLES_DIR) + "/" + GetParam() +
                     ".kiln";
  OwningOpRef<ModuleOp> module = kiln::importKilnFile(context, path);
  ASSERT_TRUE(module);
  PassManager pm(&context);
  kiln::buildTrainPipeline(pm);
  ASSERT_TRUE(succeeded(pm.run(*module)));
  constexpr int64_t kBatch = 5;
  for (const char *name : {"train_step", "eval_step"}) {
    auto func = module->lookupSymbol<func::FuncOp>(name);
    auto args = kiln::eval::randomInputs(func, kBatch, /*seed=*/3);
    ASSERT_TRUE(succeeded(args));
    auto want = kiln::eval::evaluate(func, *args, kiln::eval::Precision::F64);
    ASSERT_TRUE(succeeded(want));
    auto got = runKernels(func, *args, kBatch);
    ASSERT_TRUE(succeeded(got)) << name << ": kernels failed";
    double worst = compare(func, *got, *want, name);
    std::printf("%s @%s: max |kernel - reference| = %.3g\n", GetParam(), name,
                worst);
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleKernelTest,
                         ::testing::Values("mlp", "lenet", "cifar_cnn",
                                           "conv_mnist", "two_layer", "binary",
                                           "regression", "custom_expr"));

} // namespace
