//===- StateArenaTest.cpp - the state arena and stored layouts --*- C++ -*-===//
//
// Part of kiln. Checks the state arena contract of runtime/Model.h as
// StepCall keeps it: a step function's Param, Buffer and OptState
// arguments arrive back to back in argument order, its results of those
// roles back to back in a second array in result order; commit() swaps the
// two arrays when the results are the whole state in its order and copies
// each result otherwise; the state is untouched until commit(). Then
// checks TensorInfo::layout: a permuted parameter is initialised and
// checkpointed in the canonical (PyTorch) layout.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/Safetensors.h"
#include "runtime/TrainerCommands.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <unistd.h>

using namespace kiln::rt;
using namespace kiln::rt::trainer;

namespace {

const TensorInfo kArgs[] = {
    {Role::Input, "x", ElemType::F32, 2, {-1, 3}, nullptr, false},
    {Role::Param,
     "fc.weight",
     ElemType::F32,
     2,
     {2, 3},
     R"({"kind":"uniform","low":-1,"high":1})",
     false},
    {Role::Param, "fc.bias", ElemType::F32, 1, {2}, R"({"kind":"ones"})",
     false},
    {Role::Param,
     "scale",
     ElemType::F32,
     1,
     {1},
     R"({"kind":"constant","value":3})",
     true},
    {Role::Buffer, "norm.running_mean", ElemType::F32, 1, {3},
     R"({"kind":"zeros"})", false},
    {Role::OptState, "fc.weight.exp_avg", ElemType::F32, 2, {2, 3}, nullptr,
     false},
    {Role::Step, "step", ElemType::F32, 0, {}, nullptr, false},
};
constexpr int kX = 0, kWeight = 1, kBias = 2, kScale = 3, kMean = 4,
              kExpAvg = 5;

/// train_step's results: every state tensor but the frozen `scale`.
const TensorInfo kFrozenResults[] = {
    {Role::Output, "loss", ElemType::F32, 0, {}, nullptr, false},
    kArgs[kWeight], kArgs[kBias], kArgs[kMean], kArgs[kExpAvg]};
/// The same without a frozen tensor: `scale` is updated too.
const TensorInfo kAllResults[] = {
    {Role::Output, "loss", ElemType::F32, 0, {}, nullptr, false},
    kArgs[kWeight], kArgs[kBias], kArgs[kScale], kArgs[kMean], kArgs[kExpAvg]};

/// What the last run saw.
std::vector<void *> seenArgs, seenResults;
int numResults = 0;

/// Records the pointers and writes result k's elements as 100 * k + index.
int recordingStep(int64_t, void *const *args, void *const *results) {
  seenArgs.assign(args, args + std::size(kArgs));
  seenResults.assign(results, results + numResults);
  for (int k = 1; k < numResults; ++k) {
    auto out = static_cast<float *>(results[k]);
    const TensorInfo &info =
        numResults == int(std::size(kAllResults)) ? kAllResults[k]
                                                  : kFrozenResults[k];
    for (int64_t i = 0; i < elementCount(info, 1); ++i)
      out[i] = float(100 * k + i);
  }
  *static_cast<float *>(results[0]) = 0.5f;
  return 0;
}

Model modelWith(const TensorInfo *results, int count) {
  Model model{};
  model.name = "arena";
  model.train = {int(std::size(kArgs)), kArgs, count, results, recordingStep};
  model.eval = model.train;
  numResults = count;
  return model;
}

float *f(void *p) { return static_cast<float *>(p); }

TEST(StateArena, StateArgumentsAndResultsAreBackToBack) {
  Model model = modelWith(kFrozenResults, int(std::size(kFrozenResults)));
  TrainState state;
  std::string error;
  ASSERT_TRUE(initialState(model, 1, state, error)) << error;
  StepCall call(model.train, state, 4);
  ASSERT_TRUE(call.run(4, error)) << error;

  // Arguments: in place in the state's arena, each where the last ends.
  EXPECT_EQ(f(seenArgs[kWeight]), state.arena.data());
  EXPECT_EQ(f(seenArgs[kBias]), f(seenArgs[kWeight]) + 6);
  EXPECT_EQ(f(seenArgs[kScale]), f(seenArgs[kBias]) + 2);
  EXPECT_EQ(f(seenArgs[kMean]), f(seenArgs[kScale]) + 1);
  EXPECT_EQ(f(seenArgs[kExpAvg]), f(seenArgs[kMean]) + 3);
  EXPECT_EQ(state.arena.size(), 6u + 2 + 1 + 3 + 6);
  // Results: back to back in result order, apart from the arguments.
  EXPECT_EQ(f(seenResults[2]), f(seenResults[1]) + 6);
  EXPECT_EQ(f(seenResults[3]), f(seenResults[2]) + 2);
  EXPECT_EQ(f(seenResults[4]), f(seenResults[3]) + 3);
  EXPECT_TRUE(f(seenResults[1]) >= state.arena.data() + state.arena.size() ||
              f(seenResults[4]) + 6 <= state.arena.data());
}

TEST(StateArena, CommitCopiesWhenAFrozenParameterHasNoResult) {
  Model model = modelWith(kFrozenResults, int(std::size(kFrozenResults)));
  TrainState state;
  std::string error;
  ASSERT_TRUE(initialState(model, 1, state, error)) << error;
  std::vector<float> before = state.arena;
  StepCall call(model.train, state, 4);
  EXPECT_FALSE(call.commitSwaps());
  ASSERT_TRUE(call.run(4, error)) << error;
  // A run alone leaves the state as it was (a NaN step is never committed).
  EXPECT_EQ(state.arena, before);

  call.commit();
  EXPECT_EQ(state.values(*state.find("fc.bias")).toVector(),
            (std::vector<float>{200, 201}));
  EXPECT_EQ(state.values(*state.find("scale")).toVector(),
            std::vector<float>{3});
  EXPECT_EQ(state.values(*state.find("fc.weight.exp_avg"))[5], 405);
  // The next run reads the committed state in place.
  ASSERT_TRUE(call.run(4, error)) << error;
  EXPECT_EQ(f(seenArgs[kBias])[1], 201);
}

TEST(StateArena, CommitSwapsWhenTheResultsAreTheWholeState) {
  Model model = modelWith(kAllResults, int(std::size(kAllResults)));
  TrainState state;
  std::string error;
  ASSERT_TRUE(initialState(model, 1, state, error)) << error;
  StepCall call(model.train, state, 4);
  EXPECT_TRUE(call.commitSwaps());
  ASSERT_TRUE(call.run(4, error)) << error;
  float *firstResults = f(seenResults[1]);
  call.commit();
  // The result array became the state, and the old state the next results.
  EXPECT_EQ(state.arena.data(), firstResults);
  EXPECT_EQ(state.values(*state.find("scale")).toVector(),
            std::vector<float>{300});
  EXPECT_EQ(state.values(*state.find("norm.running_mean"))[2], 402);
  ASSERT_TRUE(call.run(4, error)) << error;
  EXPECT_EQ(f(seenArgs[kWeight]), firstResults);
  EXPECT_NE(f(seenResults[1]), firstResults);
  EXPECT_EQ(f(seenArgs[kMean])[2], 402);
}

TEST(StateArena, ASubsetThatIsNotOneRunIsGathered) {
  // eval_step taking fc.weight and norm.running_mean but not what lies
  // between them in the state.
  const TensorInfo evalArgs[] = {kArgs[kX], kArgs[kWeight], kArgs[kMean]};
  static std::vector<void *> seen;
  auto evalStep = [](int64_t, void *const *args, void *const *) {
    seen.assign(args, args + 3);
    return 0;
  };
  Model model = modelWith(kAllResults, int(std::size(kAllResults)));
  model.eval = {3, evalArgs, 0, nullptr, evalStep};
  TrainState state;
  std::string error;
  ASSERT_TRUE(initialState(model, 1, state, error)) << error;
  state.values(*state.find("norm.running_mean"))[0] = 7;
  StepCall call(model.eval, state, 2);
  ASSERT_TRUE(call.run(2, error)) << error;
  EXPECT_EQ(f(seen[2]), f(seen[1]) + 6);
  EXPECT_EQ(f(seen[2])[0], 7);
  EXPECT_EQ(f(seen[1])[4], state.values(*state.find("fc.weight"))[4]);
}

/// fc.weight [2, 3] stored transposed, as kiln-layout stores a GEMM weight.
TensorInfo transposedWeight() {
  TensorInfo info = kArgs[kWeight];
  info.shape[0] = 3;
  info.shape[1] = 2;
  info.permuted = true;
  info.layout[0] = 1;
  info.layout[1] = 0;
  return info;
}

TEST(StoredLayout, PermutedParametersStartAndSaveCanonical) {
  TensorInfo args[std::size(kArgs)];
  std::copy(std::begin(kArgs), std::end(kArgs), args);
  args[kWeight] = transposedWeight();
  Model model = modelWith(kFrozenResults, int(std::size(kFrozenResults)));
  Model plain = model;
  model.train.args = args;

  TrainState canonical, stored;
  std::string error;
  ASSERT_TRUE(initialState(plain, 5, canonical, error)) << error;
  ASSERT_TRUE(initialState(model, 5, stored, error)) << error;
  EXPECT_EQ(canonicalShape(args[kWeight]), (std::vector<int64_t>{2, 3}));
  // Initialised in canonical order, then transposed: W^T[j][i] = W[i][j].
  auto w = canonical.values(canonical.tensors[0]);
  auto wt = stored.values(stored.tensors[0]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(wt[j * 2 + i], w[i * 3 + j]) << i << "," << j;

  // The checkpoint holds the canonical tensor; loading transposes it back.
  char dir[] = "/tmp/kiln-arena-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/w.safetensors";
  ASSERT_TRUE(saveCheckpoint(path, model, stored, error)) << error;
  SafetensorsFile file;
  ASSERT_TRUE(readSafetensors(path, file, error)) << error;
  EXPECT_EQ(file.tensors["fc.weight"].shape, (std::vector<int64_t>{2, 3}));
  std::vector<double> saved = file.tensors["fc.weight"].toDoubles();
  EXPECT_EQ(std::vector<float>(saved.begin(), saved.end()), w.toVector());

  TrainState loaded;
  ASSERT_TRUE(initialState(model, 9, loaded, error)) << error;
  ASSERT_TRUE(loadCheckpoint(path, loaded, error)) << error;
  EXPECT_EQ(loaded.arena, stored.arena);
  std::system(("rm -rf '" + std::string(dir) + "'").c_str());
}

TEST(StoredLayout, ThreeDimensionalPermutationsRoundTrip) {
  TensorInfo info{Role::Param, "t", ElemType::F32, 3, {4, 2, 3}, nullptr,
                  false};
  info.permuted = true;
  // canonical [2, 3, 4]: canonical dim 0 is stored dim 1, 1 -> 2, 2 -> 0.
  info.layout[0] = 1;
  info.layout[1] = 2;
  info.layout[2] = 0;
  EXPECT_EQ(canonicalShape(info), (std::vector<int64_t>{2, 3, 4}));
  std::vector<float> canonical(24), stored(24), back(24);
  for (int k = 0; k < 24; ++k)
    canonical[k] = float(k);
  toStoredLayout(info, canonical.data(), stored.data());
  // stored[c][a][b] = canonical[a][b][c]
  EXPECT_EQ(stored[(3 * 2 + 1) * 3 + 2], canonical[(1 * 3 + 2) * 4 + 3]);
  toCanonicalLayout(info, stored.data(), back.data());
  EXPECT_EQ(back, canonical);
}

} // namespace
