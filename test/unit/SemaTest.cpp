//===- SemaTest.cpp - Unit tests for Sema and the builtin table -------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Sema accepts valid models and reports each class of error at the right
// place; CallArgs returns written values or the table's defaults (the
// interface MLIRGen reads); layer initializers resolve to PyTorch's.
//
//===----------------------------------------------------------------------===//

#include "FrontendTestUtil.h"

#include "frontend/Builtins.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace kiln;
using namespace kiln::ast;
using kiln::test::model;
using kiln::test::Source;

namespace {

TEST(Sema, AcceptsValidModel) {
  Source src(model("  param w: f32[4, 4] = xavier_uniform(gain=2)\n"
                   "  h = relu(x @ w + 1) * 0.5\n"
                   "  fc = dense(h, 3, init=he_normal(mode=\"fan_out\"))\n"
                   "  r = reshape(fc, [B, -1])\n"
                   "  freeze fc\n"
                   "  loss cross_entropy(r, y) + 1e-4 * sum(w ** 2, axis=[0, 1])\n"
                   "  predict argmax(r)") +
             "train {\n  data = idx(\"d\")\n  optimizer = sgd(0.1, momentum=0.9, "
             "nesterov=true)\n  schedule = warmup(10, then=step(100))\n"
             "  val_split = 0.1\n  early_stopping = early_stopping()\n}\n");
  EXPECT_TRUE(src.check());
  EXPECT_TRUE(src.diags().empty()) << src.diags()[0];
}

struct SemaError {
  const char *body;
  const char *diag;
};

class SemaErrors : public ::testing::TestWithParam<SemaError> {};

TEST_P(SemaErrors, ReportsLocatedError) {
  Source src(model(GetParam().body));
  EXPECT_FALSE(src.check());
  ASSERT_FALSE(src.diags().empty());
  EXPECT_EQ(src.diags()[0], GetParam().diag);
}

INSTANTIATE_TEST_SUITE_P(
    All, SemaErrors,
    ::testing::Values(
        SemaError{"  h = relu(z)\n  loss mse(h, y)",
                  "4:12: error: unknown name 'z'"},
        SemaError{"  h1 = relu(x)\n  loss mse(h2, y)",
                  "5:12: error: unknown name 'h2'; did you mean 'h1'?"},
        SemaError{"  h = sigmod(x)\n  loss mse(h, y)",
                  "4:7: error: unknown function 'sigmod'; did you mean "
                  "'sigmoid'?"},
        SemaError{"  h = relu(g)\n  g = relu(x)\n  loss mse(h, y)",
                  "4:12: error: 'g' is used before its definition"},
        SemaError{"  x = relu(x)\n  loss mse(x, y)",
                  "4:3: error: 'x' is already defined as an input"},
        SemaError{"  h = dense(x)\n  loss mse(h, y)",
                  "4:7: error: missing argument 'units' in call to 'dense'"},
        SemaError{"  h = softmax(x, dim=1)\n  loss mse(h, y)",
                  "4:18: error: 'softmax' has no parameter named 'dim' "
                  "(valid: x, axis)"},
        SemaError{"  h = dense(x, \"4\")\n  loss mse(h, y)",
                  "4:16: error: argument 'units' of 'dense' must be a "
                  "constant integer, found a string"},
        SemaError{"  h = dropout(x, -0.1)\n  loss mse(h, y)",
                  "4:18: error: argument 'p' of 'dropout' must be in [0, 1), "
                  "found -0.1"},
        SemaError{"  h = relu(x)", "1:7: error: model 'm' has no 'loss' "
                                   "(exactly one is required)"},
        SemaError{"  target z: f32[N]\n  loss mse(x, y)",
                  "4:17: error: batch dimension is named 'N' here but 'B' "
                  "before"},
        SemaError{"  freeze x\n  loss mse(x, y)",
                  "4:10: error: cannot freeze 'x': it is an input, not a "
                  "layer or param"}));

TEST(Sema, ReportsEveryErrorNotJustTheFirst) {
  Source src(model("  a = relu(p)\n  b = relu(q)\n  loss mse(a, b)"));
  EXPECT_FALSE(src.check());
  EXPECT_EQ(src.diags().size(), 2u);
}

TEST(Sema, TrainBlockChecks) {
  Source src(model("  loss mse(x, y)") +
             "train {\n  data = csv(\"a\")\n  optimizer = adam(betas=[0.9])\n"
             "  lr = 3\n}\n");
  EXPECT_FALSE(src.check());
  ASSERT_EQ(src.diags().size(), 2u);
  EXPECT_EQ(src.diags()[0], "8:26: error: argument 'betas' of 'adam' must be "
                            "a pair [a, b], found a list of 1");
  EXPECT_EQ(src.diags()[1].rfind("9:3: error: unknown train setting 'lr' "
                                 "(valid: data, ",
                                 0),
            0u);
}

/// Parses and checks `model(body)` and returns its first let's call.
const CallExpr &firstCall(Source &src, std::unique_ptr<File> &file) {
  file = src.parse();
  EXPECT_TRUE(file && checkFile(*file, src.mgr()));
  return llvm::cast<CallExpr>(
      llvm::cast<LetStmt>(*file->model.body[2]).getValue());
}

TEST(CallArgs, ValuesAndDefaults) {
  Source src(model("  h = conv2d(x, 8, [3, 5], padding=1)\n  loss mse(h, y)"));
  std::unique_ptr<File> file;
  const CallExpr &call = firstCall(src, file);
  std::optional<CallArgs> args = CallArgs::bind(call, BuiltinCategory::Layer);
  ASSERT_TRUE(args);
  EXPECT_EQ(args->getInt("filters"), 8);
  EXPECT_EQ(args->getInts("kernel"), (llvm::SmallVector<int64_t, 4>{3, 5}));
  EXPECT_EQ(args->getInts("padding"), (llvm::SmallVector<int64_t, 4>{1, 1}));
  EXPECT_EQ(args->getInts("stride"), (llvm::SmallVector<int64_t, 4>{1, 1}));
  EXPECT_EQ(args->getInt("groups"), 1);
  EXPECT_TRUE(args->getBool("bias"));
  EXPECT_FALSE(args->has("stride"));
}

TEST(CallArgs, PoolStrideDefaultsToKernel) {
  Source src(model("  h = maxpool2d(x, 3)\n  loss mse(h, y)"));
  std::unique_ptr<File> file;
  std::optional<CallArgs> args =
      CallArgs::bind(firstCall(src, file), BuiltinCategory::TensorOp);
  ASSERT_TRUE(args);
  EXPECT_EQ(args->getInts("stride"), (llvm::SmallVector<int64_t, 4>{3, 3}));
}

TEST(CallArgs, ConstantExpressionsAndPairs) {
  Source src(model("  loss mse(x, y)") +
             "train {\n  data = idx(\"d\")\n  normalize = scale(1/255)\n"
             "  optimizer = adamw(lr=2*1e-3)\n}\n");
  std::unique_ptr<File> file = src.parse();
  ASSERT_TRUE(file && checkFile(*file, src.mgr()));
  auto get = [&](llvm::StringRef key, BuiltinCategory c) {
    return *CallArgs::bind(llvm::cast<CallExpr>(*file->train->get(key)->value),
                           c);
  };
  EXPECT_DOUBLE_EQ(get("normalize", BuiltinCategory::Normalize)
                       .getFloat("factor"),
                   1.0 / 255);
  CallArgs adamw = get("optimizer", BuiltinCategory::Optimizer);
  EXPECT_DOUBLE_EQ(adamw.getFloat("lr"), 2e-3);
  EXPECT_DOUBLE_EQ(adamw.getFloat("weight_decay"), 1e-2);
  EXPECT_EQ(adamw.getFloats("betas"), (llvm::SmallVector<double, 2>{0.9, 0.999}));
}

TEST(Initializers, LayerDefaultsFollowPyTorch) {
  Source src(model("  h = dense(x, 3)\n  loss mse(h, y)"));
  std::unique_ptr<File> file;
  const CallExpr &call = firstCall(src, file);
  Initializer w = getLayerInitializer(call, "weight");
  EXPECT_EQ(w.kind, InitKind::KaimingUniform);
  EXPECT_DOUBLE_EQ(w.a, std::sqrt(5.0));
  EXPECT_FALSE(w.fanOut);
  EXPECT_EQ(w.nonlinearity, "leaky_relu");
  // gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + 5)) is 1/sqrt(fan_in).
  double fanIn = 784;
  EXPECT_NEAR(calculateGain("leaky_relu", w.a) * std::sqrt(3 / fanIn),
              1 / std::sqrt(fanIn), 1e-12);
  EXPECT_EQ(getLayerInitializer(call, "bias").kind,
            InitKind::BiasFanInUniform);
}

TEST(Initializers, ExplicitInit) {
  Source src(model("  h = dense(x, 3, init=normal(std=0.02), "
                   "bias_init=constant(0.1))\n  loss mse(h, y)"));
  std::unique_ptr<File> file;
  const CallExpr &call = firstCall(src, file);
  Initializer w = getLayerInitializer(call, "weight");
  EXPECT_EQ(w.kind, InitKind::Normal);
  EXPECT_DOUBLE_EQ(w.a, 0);
  EXPECT_DOUBLE_EQ(w.b, 0.02);
  Initializer b = getLayerInitializer(call, "bias");
  EXPECT_EQ(b.kind, InitKind::Constant);
  EXPECT_DOUBLE_EQ(b.a, 0.1);
}

TEST(Builtins, ConstantResolvesByContext) {
  EXPECT_EQ(lookupBuiltin("constant", BuiltinCategory::Schedule)->category,
            BuiltinCategory::Schedule);
  EXPECT_EQ(lookupBuiltin("constant", BuiltinCategory::Initializer)->category,
            BuiltinCategory::Initializer);
  EXPECT_STREQ(lookupBuiltin("he_uniform", BuiltinCategory::Initializer)->name,
               "kaiming_uniform");
  EXPECT_EQ(lookupBuiltin("nope", BuiltinCategory::TensorOp), nullptr);
}

} // namespace
