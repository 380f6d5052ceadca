//===- TrainerTest.cpp - the trainer on a hand-written model ----*- C++ -*-===//
//
// Part of kiln. Runs runtime/Trainer's command line (trainerMain) on a
// softmax-regression model written by hand in plain C++ to Model.h's
// contract: parameters fc.weight [3, 4] and fc.bias [3], a frozen scalar
// `temp`, a batch-norm-like buffer norm.running_mean, SGD with momentum 0.9
// and lr 0.01 compiled in (so optimizer state and the step argument matter),
// and input dropout drawn from the seed argument (so resuming must restore
// the step exactly). Data is a small CSV of three separable clusters
// written to a temporary directory. Checks training, checkpoints and their
// errors, exact resumption, NaN handling, and the eval, predict, steps and
// info commands.
//
//===----------------------------------------------------------------------===//

#include "runtime/Trainer.h"
#include "runtime/Checkpoint.h"
#include "runtime/Random.h"
#include "runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace kiln::rt;

namespace {

constexpr int64_t kFeatures = 4, kClasses = 3;
constexpr double kLr = 0.01, kMomentum = 0.9, kDropout = 0.1;
constexpr double kStatsMomentum = 0.1; // PyTorch batch norm's default

/// The step whose loss the model reports as NaN (0: never).
int64_t nanAtStep = 0;
/// What the trainer last passed to setKernelThreads.
int kernelThreads = -1;

const TensorInfo kTrainArgs[] = {
    {Role::Input, "x", ElemType::F32, 2, {-1, kFeatures}, nullptr, false},
    {Role::Target, "y", ElemType::I64, 1, {-1}, nullptr, false},
    {Role::Param,
     "fc.weight",
     ElemType::F32,
     2,
     {kClasses, kFeatures},
     R"({"kind":"uniform","low":-0.5,"high":0.5})",
     false},
    {Role::Param,
     "fc.bias",
     ElemType::F32,
     1,
     {kClasses},
     R"({"kind":"zeros"})",
     false},
    {Role::Buffer,
     "norm.running_mean",
     ElemType::F32,
     1,
     {kFeatures},
     R"({"kind":"zeros"})",
     false},
    {Role::Param,
     "temp",
     ElemType::F32,
     1,
     {1},
     R"({"kind":"constant","value":1.0})",
     true},
    {Role::OptState,
     "fc.weight.momentum_buffer",
     ElemType::F32,
     2,
     {kClasses, kFeatures},
     nullptr,
     false},
    {Role::OptState,
     "fc.bias.momentum_buffer",
     ElemType::F32,
     1,
     {kClasses},
     nullptr,
     false},
    {Role::Step, "step", ElemType::F32, 0, {}, nullptr, false},
    {Role::Seed, "seed", ElemType::I64, 0, {}, nullptr, false},
};
const TensorInfo kTrainResults[] = {
    {Role::Output, "loss", ElemType::F32, 0, {}, nullptr, false},
    {Role::Output, "predict", ElemType::I64, 1, {-1}, nullptr, false},
    kTrainArgs[2],
    kTrainArgs[3],
    kTrainArgs[4],
    kTrainArgs[6],
    kTrainArgs[7],
};
const TensorInfo kEvalArgs[] = {kTrainArgs[0], kTrainArgs[1], kTrainArgs[2],
                                kTrainArgs[3], kTrainArgs[4], kTrainArgs[5]};
const TensorInfo kEvalResults[] = {kTrainResults[0], kTrainResults[1]};

/// Logits of one sample, its loss and its gradient w.r.t. the logits.
double forward(const float *x, int64_t label, const float *w, const float *b,
               float temp, double *dlogits, int64_t &predicted) {
  double logits[kClasses], top = -INFINITY, sum = 0;
  for (int64_t c = 0; c < kClasses; ++c) {
    double z = b[c];
    for (int64_t d = 0; d < kFeatures; ++d)
      z += double(w[c * kFeatures + d]) * x[d];
    logits[c] = temp * z;
    if (logits[c] > top)
      top = logits[c], predicted = c;
  }
  for (double z : logits)
    sum += std::exp(z - top);
  for (int64_t c = 0; c < kClasses; ++c)
    dlogits[c] = std::exp(logits[c] - top) / sum - (c == label);
  return std::log(sum) + top - logits[label];
}

int trainStep(int64_t batch, void *const *args, void *const *results) {
  auto x = static_cast<const float *>(args[0]);
  auto y = static_cast<const int64_t *>(args[1]);
  auto w = static_cast<const float *>(args[2]);
  auto b = static_cast<const float *>(args[3]);
  auto mean = static_cast<const float *>(args[4]);
  float temp = *static_cast<const float *>(args[5]);
  auto bufW = static_cast<const float *>(args[6]);
  auto bufB = static_cast<const float *>(args[7]);
  float step = *static_cast<const float *>(args[8]);
  uint64_t seed = uint64_t(*static_cast<const int64_t *>(args[9]));
  auto loss = static_cast<float *>(results[0]);
  auto predict = static_cast<int64_t *>(results[1]);
  auto newW = static_cast<float *>(results[2]);
  auto newB = static_cast<float *>(results[3]);
  auto newMean = static_cast<float *>(results[4]);
  auto newBufW = static_cast<float *>(results[5]);
  auto newBufB = static_cast<float *>(results[6]);

  double gradW[kClasses * kFeatures] = {}, gradB[kClasses] = {}, total = 0;
  for (int64_t i = 0; i < batch; ++i) {
    float dropped[kFeatures];
    for (int64_t d = 0; d < kFeatures; ++d)
      dropped[d] = dropoutKeeps(seed, 0, uint64_t(i * kFeatures + d), kDropout)
                       ? float(x[i * kFeatures + d] / (1 - kDropout))
                       : 0.0f;
    double dlogits[kClasses];
    total += forward(dropped, y[i], w, b, temp, dlogits, predict[i]);
    for (int64_t c = 0; c < kClasses; ++c) {
      double g = dlogits[c] * temp / double(batch);
      gradB[c] += g;
      for (int64_t d = 0; d < kFeatures; ++d)
        gradW[c * kFeatures + d] += g * dropped[d];
    }
  }
  *loss = int64_t(step) == nanAtStep ? NAN : float(total / double(batch));
  // torch.optim.SGD with momentum: the first step's buffer is the gradient.
  auto update = [&](const float *p, const float *buf, const double *g,
                    int64_t n, float *newP, float *newBuf) {
    for (int64_t k = 0; k < n; ++k) {
      newBuf[k] = step == 1 ? float(g[k]) : float(kMomentum * buf[k] + g[k]);
      newP[k] = float(p[k] - kLr * newBuf[k]);
    }
  };
  update(w, bufW, gradW, kClasses * kFeatures, newW, newBufW);
  update(b, bufB, gradB, kClasses, newB, newBufB);
  for (int64_t d = 0; d < kFeatures; ++d) {
    double m = 0;
    for (int64_t i = 0; i < batch; ++i)
      m += x[i * kFeatures + d];
    newMean[d] = float((1 - kStatsMomentum) * mean[d] +
                       kStatsMomentum * m / double(batch));
  }
  return 0;
}

int evalStep(int64_t batch, void *const *args, void *const *results) {
  auto x = static_cast<const float *>(args[0]);
  auto y = static_cast<const int64_t *>(args[1]);
  auto w = static_cast<const float *>(args[2]);
  auto b = static_cast<const float *>(args[3]);
  float temp = *static_cast<const float *>(args[5]);
  double total = 0, dlogits[kClasses];
  auto predict = static_cast<int64_t *>(results[1]);
  for (int64_t i = 0; i < batch; ++i)
    total += forward(x + i * kFeatures, y[i], w, b, temp, dlogits, predict[i]);
  *static_cast<float *>(results[0]) = float(total / double(batch));
  return 0;
}

/// A logistic regression for the Binary task: out.weight [1, 4], out.bias
/// [1], plain SGD (no step, seed or optimizer state), predict a probability.
const TensorInfo kBinaryArgs[] = {
    {Role::Input, "x", ElemType::F32, 2, {-1, kFeatures}, nullptr, false},
    {Role::Target, "y", ElemType::F32, 2, {-1, 1}, nullptr, false},
    {Role::Param,
     "out.weight",
     ElemType::F32,
     2,
     {1, kFeatures},
     R"({"kind":"normal","mean":0.0,"std":0.1})",
     false},
    {Role::Param,
     "out.bias",
     ElemType::F32,
     1,
     {1},
     R"({"kind":"zeros"})",
     false},
};
const TensorInfo kBinaryResults[] = {
    {Role::Output, "loss", ElemType::F32, 0, {}, nullptr, false},
    {Role::Output, "predict", ElemType::F32, 2, {-1, 1}, nullptr, false},
    kBinaryArgs[2],
    kBinaryArgs[3],
};

/// binary_cross_entropy on logits; with `results[2]` set, one SGD step.
int binaryStep(int64_t batch, void *const *args, void *const *results) {
  auto x = static_cast<const float *>(args[0]);
  auto y = static_cast<const float *>(args[1]);
  auto w = static_cast<const float *>(args[2]);
  float b = *static_cast<const float *>(args[3]);
  auto predict = static_cast<float *>(results[1]);
  double total = 0, gradW[kFeatures] = {}, gradB = 0;
  for (int64_t i = 0; i < batch; ++i) {
    double z = b;
    for (int64_t d = 0; d < kFeatures; ++d)
      z += double(w[d]) * x[i * kFeatures + d];
    double p = 1 / (1 + std::exp(-z));
    predict[i] = float(p);
    total += std::log1p(std::exp(-std::fabs(z))) + std::max(z, 0.0) - y[i] * z;
    double g = (p - y[i]) / double(batch);
    gradB += g;
    for (int64_t d = 0; d < kFeatures; ++d)
      gradW[d] += g * x[i * kFeatures + d];
  }
  *static_cast<float *>(results[0]) = float(total / double(batch));
  if (results[2]) {
    for (int64_t d = 0; d < kFeatures; ++d)
      static_cast<float *>(results[2])[d] = float(w[d] - 0.5 * gradW[d]);
    *static_cast<float *>(results[3]) = float(b - 0.5 * gradB);
  }
  return 0;
}

int binaryEval(int64_t batch, void *const *args, void *const *results) {
  void *const all[] = {results[0], results[1], nullptr, nullptr};
  return binaryStep(batch, args, all);
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
}

/// Rows labelled 1 when their first two features sum above 0.
std::string halves(int64_t rows, uint64_t key) {
  std::string csv = "a,b,c,d,label\n";
  for (int64_t r = 0; r < rows; ++r) {
    double v[kFeatures];
    for (int64_t d = 0; d < kFeatures; ++d) {
      v[d] = 2 * uniform01(key, r * 8 + d) - 1;
      csv += std::to_string(v[d]) + ",";
    }
    csv += v[0] + v[1] > 0 ? "1\n" : "0\n";
  }
  return csv;
}

/// Three clusters around 3·e_c with deterministic noise.
std::string clusters(int64_t rows, uint64_t key) {
  std::string csv = "a,b,c,d,label\n";
  for (int64_t r = 0; r < rows; ++r) {
    int64_t c = r % kClasses;
    for (int64_t d = 0; d < kFeatures; ++d) {
      double v = (d == c ? 3.0 : 0.0) + 2 * uniform01(key, r * 8 + d) - 1;
      csv += std::to_string(v) + ",";
    }
    csv += std::to_string(c) + "\n";
  }
  return csv;
}

struct Result {
  int status;
  std::string out, err;
};

class TrainerTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/kiln-trainer-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir = pattern;
    writeFile(dir + "/train.csv", clusters(90, 1));
    writeFile(dir + "/test.csv", clusters(30, 2));
    setTrainBlock("");
    nanAtStep = 0;
    kernelThreads = -1;
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }

  /// The train block, with `extra` members appended.
  void setTrainBlock(const std::string &extra) {
    trainJson = R"({"data":{"kind":"csv","file":")" + dir +
                R"(/train.csv","label":-1,"header":true,"test":")" + dir +
                R"(/test.csv"},"batch":8,"epochs":3,"optimizer":{"kind":)"
                R"("sgd","lr":0.01,"momentum":0.9,"dampening":0.0,)"
                R"("nesterov":false,"weight_decay":0.0},"val_split":0.2,)"
                R"("seed":7)" +
                extra + "}";
    model.trainJson = trainJson.c_str();
  }

  Result run(std::vector<std::string> args) {
    args.insert(args.begin(), "trainer");
    std::vector<char *> argv;
    for (std::string &a : args)
      argv.push_back(a.data());
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    int status = trainerMain(int(argv.size()), argv.data(), model);
    std::string out = testing::internal::GetCapturedStdout();
    return {status, out, testing::internal::GetCapturedStderr()};
  }

  /// The tensors of a checkpoint's model file.
  SafetensorsFile weights(const std::string &path) {
    SafetensorsFile file;
    std::string error;
    EXPECT_TRUE(readSafetensors(path, file, error)) << error;
    return file;
  }

  std::string dir, trainJson;
  Model model{"softmax",
              "softmax.kiln",
              nullptr,
              "host",
              nullptr,
              nullptr,
              Task::Multiclass,
              kClasses,
              0,
              {std::size(kTrainArgs), kTrainArgs, std::size(kTrainResults),
               kTrainResults, trainStep},
              {std::size(kEvalArgs), kEvalArgs, std::size(kEvalResults),
               kEvalResults, evalStep}};
};

/// The values of `key` in a --log file, one per epoch.
std::vector<double> logged(const std::string &path, const std::string &key) {
  std::vector<double> values;
  std::istringstream in(readFile(path));
  std::string line, member = "\"" + key + "\":";
  while (std::getline(in, line)) {
    size_t at = line.find(member);
    EXPECT_NE(at, std::string::npos) << line;
    values.push_back(std::atof(line.c_str() + at + member.size()));
  }
  return values;
}

} // namespace

void kiln::rt::setKernelThreads(int threads) { kernelThreads = threads; }
void kiln::rt::setKernelProfile(double *) {}

TEST_F(TrainerTest, TrainingReducesTheLossAndReportsTheTestSet) {
  Result r = run({"train", "--epochs", "6", "--log", dir + "/log.jsonl",
                  "--threads", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(kernelThreads, 2);
  std::vector<double> losses = logged(dir + "/log.jsonl", "train_loss");
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  std::vector<double> val = logged(dir + "/log.jsonl", "val_loss");
  ASSERT_EQ(val.size(), 6u);
  EXPECT_LT(val.back(), 0.5 * val.front());
  EXPECT_NE(r.out.find("epoch 1: train loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| val loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 6:"), std::string::npos) << r.out;
  // The test report: loss, accuracy, the per-class report and the matrix.
  size_t test = r.out.find("test: loss");
  ASSERT_NE(test, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(30 samples)", test), std::string::npos) << r.out;
  double accuracy = std::atof(r.out.c_str() + r.out.find("accuracy", test) + 9);
  EXPECT_GT(accuracy, 0.9) << r.out;
  EXPECT_NE(r.out.find("precision", test), std::string::npos) << r.out;
  // 72 training samples in batches of 8: 9 steps an epoch.
  EXPECT_NE(readFile(dir + "/log.jsonl").find("\"step\":54"),
            std::string::npos);
}

TEST_F(TrainerTest, CheckpointRoundTrip) {
  TrainState state;
  std::string error;
  ASSERT_TRUE(initialState(model, 3, state, error)) << error;
  for (StateTensor &t : state.tensors)
    for (size_t k = 0; k < t.count; ++k)
      state.values(t)[k] = float(k) * 0.25f - 1.0f / 3.0f;
  state.step = 17;
  state.epoch = 1;
  state.batch = 8;
  state.runInfo["kiln_seed"] = "3";
  std::string path = dir + "/ckpt.safetensors";
  ASSERT_TRUE(saveCheckpoint(path, model, state, error)) << error;

  // The model file is exactly the PyTorch state_dict.
  SafetensorsFile file = weights(path);
  std::vector<std::string> names;
  for (const auto &[name, t] : file.tensors)
    names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc.bias", "fc.weight",
                                             "norm.num_batches_tracked",
                                             "norm.running_mean", "temp"}));
  EXPECT_EQ(file.tensors["norm.num_batches_tracked"].toInts(),
            std::vector<int64_t>{17});
  EXPECT_TRUE(file.tensors["norm.num_batches_tracked"].shape.empty());
  EXPECT_EQ(file.tensors["fc.weight"].dtype, DType::F32);
  EXPECT_EQ(file.tensors["fc.weight"].shape,
            (std::vector<int64_t>{kClasses, kFeatures}));
  EXPECT_EQ(file.metadata["format"], "pt");
  EXPECT_EQ(file.metadata["kiln_model"], "softmax");
  EXPECT_EQ(file.metadata["kiln_step"], "17");
  EXPECT_EQ(file.metadata["kiln_epoch"], "1");
  EXPECT_EQ(file.metadata["kiln_batch"], "8");
  SafetensorsFile optim = weights(dir + "/ckpt.optim.safetensors");
  EXPECT_EQ(optim.tensors.size(), 2u);
  EXPECT_TRUE(optim.tensors.count("fc.weight.momentum_buffer"));
  EXPECT_EQ(optim.metadata["kiln_step"], "17");

  TrainState loaded;
  ASSERT_TRUE(initialState(model, 99, loaded, error)) << error;
  ASSERT_TRUE(loadCheckpoint(path, loaded, error)) << error;
  EXPECT_EQ(loaded.step, 17);
  EXPECT_EQ(loaded.epoch, 1);
  EXPECT_EQ(loaded.batch, 8);
  EXPECT_EQ(loaded.runInfo, state.runInfo);
  for (size_t k = 0; k < state.tensors.size(); ++k)
    EXPECT_EQ(loaded.values(loaded.tensors[k]).toVector(),
              state.values(state.tensors[k]).toVector())
        << state.tensors[k].info->name;
  // No temporary files are left beside the checkpoint.
  std::string listing = dir + "/listing";
  std::system(("ls '" + dir + "' > '" + listing + "'").c_str());
  EXPECT_EQ(readFile(listing).find(".tmp"), std::string::npos);
}

TEST_F(TrainerTest, WeightsLoadFromF64AsPyTorchSavesThem) {
  TrainState state;
  std::string error;
  ASSERT_TRUE(initialState(model, 0, state, error)) << error;
  SafetensorsFile file;
  file.tensors["fc.weight"] = StoredTensor::fromDoubles(
      DType::F64, {kClasses, kFeatures}, std::vector<double>(12, 0.5));
  file.tensors["fc.bias"] =
      StoredTensor::fromDoubles(DType::F64, {kClasses}, {1, 2, 3});
  file.tensors["norm.running_mean"] = StoredTensor::fromDoubles(
      DType::F32, {kFeatures}, std::vector<double>(4, 0.0));
  file.tensors["norm.num_batches_tracked"] = StoredTensor::fromInts({}, {5});
  file.tensors["temp"] = StoredTensor::fromDoubles(DType::F64, {1}, {2.0});
  ASSERT_TRUE(writeSafetensors(dir + "/torch.safetensors", file, error));
  ASSERT_TRUE(loadWeights(dir + "/torch.safetensors", state, error)) << error;
  EXPECT_EQ(state.values(*state.find("fc.bias")).toVector(),
            (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(state.values(*state.find("temp")).toVector(),
            std::vector<float>{2});
  // Weights alone cannot be resumed from: there is no step.
  EXPECT_FALSE(loadCheckpoint(dir + "/torch.safetensors", state, error));
}

TEST_F(TrainerTest, ResumeFromAnEpochCheckpointIsBitIdentical) {
  ASSERT_EQ(run({"train", "--save", dir + "/full.safetensors"}).status, 0);
  Result first =
      run({"train", "--epochs", "1", "--save", dir + "/part.safetensors"});
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(weights(dir + "/part.safetensors").metadata["kiln_epoch"], "1");
  Result rest = run({"train", "--resume", dir + "/part.safetensors", "--save",
                     dir + "/part.safetensors"});
  ASSERT_EQ(rest.status, 0) << rest.err;
  EXPECT_EQ(rest.out.find("epoch 1:"), std::string::npos) << rest.out;
  EXPECT_NE(rest.out.find("epoch 3:"), std::string::npos) << rest.out;
  // Same tensors, same metadata: the files are the same bytes.
  EXPECT_EQ(readFile(dir + "/part.safetensors"),
            readFile(dir + "/full.safetensors"));
  EXPECT_EQ(readFile(dir + "/part.optim.safetensors"),
            readFile(dir + "/full.optim.safetensors"));
}

TEST_F(TrainerTest, NanStopsTrainingAndKeepsTheLastCheckpoint) {
  std::string ckpt = dir + "/run.safetensors";
  ASSERT_EQ(run({"train", "--save", dir + "/full.safetensors"}).status, 0);
  // 9 steps an epoch; the step-10 save is one batch into epoch 2.
  nanAtStep = 13;
  Result bad = run({"train", "--save", ckpt, "--save-every", "5"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.err.find("trainer: error: the loss is nan at step 13"), 0u)
      << bad.err;
  SafetensorsFile kept = weights(ckpt);
  EXPECT_EQ(kept.metadata["kiln_step"], "10");
  EXPECT_EQ(kept.metadata["kiln_epoch"], "1");
  EXPECT_EQ(kept.metadata["kiln_batch"], "1");
  std::string before = readFile(ckpt),
              optimBefore = readFile(dir + "/run.optim."
                                           "safetensors");
  // Failing again from the checkpoint does not touch it.
  Result again = run({"train", "--resume", ckpt, "--save", ckpt});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("step 13"), std::string::npos) << again.err;
  EXPECT_EQ(readFile(ckpt), before);
  EXPECT_EQ(readFile(dir + "/run.optim.safetensors"), optimBefore);

  // A run that fails before its first save says nothing of a checkpoint.
  nanAtStep = 2;
  Result early = run({"train", "--save", dir + "/none.safetensors"});
  EXPECT_EQ(early.status, 1);
  EXPECT_EQ(early.err, "trainer: error: the loss is nan at step 2 (epoch 1, "
                       "batch 2); training stopped without saving\n");

  // Resumed mid-epoch after the "crash", the run ends where the
  // uninterrupted one did.
  nanAtStep = 0;
  Result resumed = run({"train", "--resume", ckpt, "--save", ckpt});
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(readFile(ckpt), readFile(dir + "/full.safetensors"));
}

TEST_F(TrainerTest, InitFromCheckpointOfAnotherModelNamesFileAndProblem) {
  std::string error;
  auto write = [&](const std::string &name, SafetensorsFile file) {
    std::string path = dir + "/" + name;
    EXPECT_TRUE(writeSafetensors(path, file, error)) << error;
    return path;
  };
  SafetensorsFile good;
  good.tensors["fc.weight"] = StoredTensor::fromDoubles(
      DType::F32, {kClasses, kFeatures}, std::vector<double>(12, 0.0));
  good.tensors["fc.bias"] =
      StoredTensor::fromDoubles(DType::F32, {kClasses}, {0, 0, 0});
  good.tensors["norm.running_mean"] = StoredTensor::fromDoubles(
      DType::F32, {kFeatures}, std::vector<double>(4, 0.0));
  good.tensors["temp"] = StoredTensor::fromDoubles(DType::F32, {1}, {1});

  SafetensorsFile wrongShape = good;
  wrongShape.tensors["fc.weight"] = StoredTensor::fromDoubles(
      DType::F32, {2, kFeatures}, std::vector<double>(8, 0.0));
  std::string path = write("shape.safetensors", wrongShape);
  Result r = run({"train", "--init-from", path});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "trainer: error: " + path +
                       ": 'fc.weight' has shape [2, 4]; the model expects "
                       "[3, 4]\n");

  SafetensorsFile missing = good;
  missing.tensors.erase("fc.bias");
  path = write("missing.safetensors", missing);
  r = run({"train", "--init-from", path});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "trainer: error: " + path +
                       ": has no tensor 'fc.bias' (is it a checkpoint of "
                       "another model?)\n");

  SafetensorsFile extra = good;
  extra.tensors["fc2.weight"] = good.tensors["fc.weight"];
  path = write("extra.safetensors", extra);
  r = run({"eval", "--weights", path});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(path + ": has unexpected tensor 'fc2.weight'"),
            std::string::npos)
      << r.err;

  // The good one works, and fine-tuning starts at step 0.
  path = write("good.safetensors", good);
  r = run({"train", "--epochs", "1", "--init-from", path, "--save",
           dir + "/tuned.safetensors"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(weights(dir + "/tuned.safetensors").metadata["kiln_step"], "9");
}

TEST_F(TrainerTest, ResumeRefusesOptimizerStateOfAnotherStep) {
  ASSERT_EQ(
      run({"train", "--epochs", "1", "--save", dir + "/a.safetensors"}).status,
      0);
  ASSERT_EQ(
      run({"train", "--epochs", "2", "--save", dir + "/b.safetensors"}).status,
      0);
  // As if the run was killed between writing the two files.
  writeFile(dir + "/a.optim.safetensors",
            readFile(dir + "/b.optim.safetensors"));
  Result r = run({"train", "--resume", dir + "/a.safetensors"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("optimizer state of step 18 but"), std::string::npos)
      << r.err;
  // A resumed run keeps the seed it was started with.
  r = run({"train", "--resume", dir + "/b.safetensors", "--seed", "8"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--seed 8 differs"), std::string::npos) << r.err;
}

TEST_F(TrainerTest, EarlyStoppingStopsWhenValidationStallsAndResumesStopped) {
  // min_delta larger than any improvement: only the first epoch counts.
  setTrainBlock(R"(,"early_stopping":{"metric":"val_loss","patience":2,)"
                R"("min_delta":100.0})");
  Result r =
      run({"train", "--epochs", "10", "--save", dir + "/es.safetensors"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("epoch 3:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("epoch 4:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("early stopping: val_loss"), std::string::npos);
  r = run({"train", "--epochs", "10", "--resume", dir + "/es.safetensors"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("epoch 4:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("already stopped early"), std::string::npos) << r.out;

  r = run({"train", "--val-split", "0"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("early_stopping"), std::string::npos) << r.err;
}

TEST_F(TrainerTest, EvalPrintsReportAndPredictWritesOneLinePerSample) {
  std::string ckpt = dir + "/m.safetensors";
  ASSERT_EQ(run({"train", "--save", ckpt}).status, 0);
  Result r = run({"eval", "--weights", ckpt});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("(test data)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eval: loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accuracy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recall"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(30 samples)"), std::string::npos) << r.out;

  r = run({"predict", "--weights", ckpt, "--out", dir + "/p.csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(readFile(dir + "/p.csv"));
  std::string line;
  int64_t n = 0, right = 0;
  while (std::getline(lines, line)) {
    int64_t index, predicted, label;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lld,%lld,%lld",
                          reinterpret_cast<long long *>(&index),
                          reinterpret_cast<long long *>(&predicted),
                          reinterpret_cast<long long *>(&label)),
              3)
        << line;
    EXPECT_EQ(index, n);
    EXPECT_EQ(label, n % kClasses);
    right += predicted == label;
    ++n;
  }
  EXPECT_EQ(n, 30);
  EXPECT_GT(right, 27);

  // Without a test file, eval uses the training data.
  r = run({"eval", "--weights", ckpt, "--data", dir + "/train.csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("(training data)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(90 samples)"), std::string::npos) << r.out;
}

TEST_F(TrainerTest, StepsFeedsResultsBackLikeKilnRun) {
  constexpr int64_t batch = 5;
  SafetensorsFile in;
  std::vector<double> x(batch * kFeatures);
  for (size_t k = 0; k < x.size(); ++k)
    x[k] = uniform01(11, k) * 2 - 1;
  in.tensors["x"] =
      StoredTensor::fromDoubles(DType::F64, {batch, kFeatures}, x);
  in.tensors["y"] = StoredTensor::fromInts({batch}, {0, 1, 2, 1, 0});
  in.tensors["fc.weight"] = StoredTensor::fromDoubles(
      DType::F32, {kClasses, kFeatures},
      {0.1, -0.2, 0.3, 0.0, 0.2, 0.1, -0.1, 0.4, -0.3, 0.0, 0.2, 0.1});
  in.tensors["fc.bias"] =
      StoredTensor::fromDoubles(DType::F32, {kClasses}, {0.0, 0.1, -0.1});
  in.tensors["norm.running_mean"] = StoredTensor::fromDoubles(
      DType::F32, {kFeatures}, std::vector<double>(4, 0.0));
  in.tensors["temp"] = StoredTensor::fromDoubles(DType::F32, {1}, {1});
  in.tensors["fc.weight.momentum_buffer"] = StoredTensor::fromDoubles(
      DType::F32, {kClasses, kFeatures}, std::vector<double>(12, 0.0));
  in.tensors["fc.bias.momentum_buffer"] = StoredTensor::fromDoubles(
      DType::F32, {kClasses}, std::vector<double>(3, 0.0));
  in.tensors["step"] = StoredTensor::fromDoubles(DType::F32, {}, {1});
  in.tensors["seed"] = StoredTensor::fromInts({}, {42});
  std::string error, inPath = dir + "/in.safetensors";
  ASSERT_TRUE(writeSafetensors(inPath, in, error)) << error;

  // The expected results: three runs, fed back by hand.
  std::vector<float> xf(x.begin(), x.end()), w(12), b(3), mean(4, 0),
      bufW(12, 0), bufB(3, 0), temp{1};
  std::vector<int64_t> y{0, 1, 2, 1, 0}, predict(batch);
  for (size_t k = 0; k < 12; ++k)
    w[k] = float(in.tensors["fc.weight"].toDoubles()[k]);
  b = {0.0f, 0.1f, -0.1f};
  float loss = 0;
  std::string expectedOut;
  for (int s = 1; s <= 3; ++s) {
    float step = float(s);
    int64_t seed = 42;
    std::vector<float> w2(12), b2(3), mean2(4), bufW2(12), bufB2(3);
    void *args[] = {xf.data(),   y.data(),    w.data(),    b.data(),
                    mean.data(), temp.data(), bufW.data(), bufB.data(),
                    &step,       &seed};
    void *results[] = {&loss,        predict.data(), w2.data(),   b2.data(),
                       mean2.data(), bufW2.data(),   bufB2.data()};
    ASSERT_EQ(trainStep(batch, args, results), 0);
    char line[64];
    std::snprintf(line, sizeof line, "step %d loss %.9g\n", s, loss);
    expectedOut += line;
    if (s < 3)
      w = w2, b = b2, mean = mean2, bufW = bufW2, bufB = bufB2;
    else
      w = w2;
  }

  Result r = run({"steps", "--inputs", inPath, "--steps", "3", "--outputs",
                  dir + "/out.safetensors"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expectedOut);
  SafetensorsFile out = weights(dir + "/out.safetensors");
  EXPECT_EQ(out.tensors.size(), std::size(kTrainResults));
  std::vector<double> got = out.tensors["fc.weight"].toDoubles();
  ASSERT_EQ(got.size(), 12u);
  for (size_t k = 0; k < 12; ++k)
    EXPECT_EQ(float(got[k]), w[k]) << k;
  EXPECT_EQ(out.tensors["predict"].toInts(), predict);
  EXPECT_EQ(out.tensors["loss"].toDoubles(), std::vector<double>{loss});

  // A file that does not fit the function names the tensor.
  in.tensors["fc.bias"] =
      StoredTensor::fromDoubles(DType::F32, {2}, {0.0, 0.0});
  ASSERT_TRUE(writeSafetensors(inPath, in, error)) << error;
  r = run({"steps", "--inputs", inPath});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("'fc.bias' has shape [2]; train_step expects [3]"),
            std::string::npos)
      << r.err;

  // So does a class label outside the model's classes.
  in.tensors["fc.bias"] = StoredTensor::fromDoubles(DType::F32, {kClasses},
                                                    {0.0, 0.1, -0.1});
  in.tensors["y"] = StoredTensor::fromInts({batch}, {0, 1, 3, 1, 0});
  ASSERT_TRUE(writeSafetensors(inPath, in, error)) << error;
  r = run({"steps", "--inputs", inPath});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("y[2] is 3, not a class in [0, 3)"), std::string::npos)
      << r.err;
}

TEST_F(TrainerTest, CommandLineErrorsAreClear) {
  Result r = run({"train", "--lr", "0.5"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("compiled into train_step"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sgd, lr=0.01"), std::string::npos) << r.err;

  r = run({"train", "--epoch", "2"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "trainer: error: unknown option '--epoch' for train; did "
                   "you mean '--epochs'? (see 'train --help')\n");

  r = run({"train", "--epochs", "zero"});
  EXPECT_EQ(r.err, "trainer: error: --epochs expects an integer >= 1, not "
                   "'zero'\n");
  r = run({"train", "--save-every", "3"});
  EXPECT_NE(r.err.find("--save-every needs --save"), std::string::npos);
  r = run({"train", "--epochs"});
  EXPECT_NE(r.err.find("--epochs needs a value"), std::string::npos);
  r = run({"fit"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("unknown command 'fit'"), std::string::npos);
  r = run({"trian"});
  EXPECT_NE(r.err.find("unknown command 'trian'; did you mean 'train'?"),
            std::string::npos)
      << r.err;
  r = run({"eval"});
  EXPECT_NE(r.err.find("eval needs --weights"), std::string::npos);
  r = run({"train", "--data", dir + "/nonexistent.csv"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("nonexistent.csv"), std::string::npos) << r.err;
}

TEST_F(TrainerTest, BinaryAndRegressionModelsAreScoredByTheirTask) {
  writeFile(dir + "/binary.csv", halves(200, 3));
  model.task = Task::Binary;
  model.numClasses = 2;
  model.train = {std::size(kBinaryArgs), kBinaryArgs, std::size(kBinaryResults),
                 kBinaryResults, binaryStep};
  model.eval = {std::size(kBinaryArgs), kBinaryArgs, 2, kBinaryResults,
                binaryEval};
  std::string ckpt = dir + "/binary.safetensors";
  Result r = run({"train", "--data", dir + "/binary.csv", "--epochs", "20",
                  "--save", ckpt});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("epoch 20: train loss"), std::string::npos) << r.out;
  // A model without optimizer state still gets its (empty) .optim file.
  EXPECT_TRUE(weights(dir + "/binary.optim.safetensors").tensors.empty());

  r = run({"eval", "--weights", ckpt, "--data", dir + "/binary.csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  size_t at = r.out.find("accuracy ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::atof(r.out.c_str() + at + 9), 0.9) << r.out;
  EXPECT_NE(r.out.find("(200 samples)"), std::string::npos) << r.out;

  // Probabilities on the target's side of 0.5 count as correct.
  r = run({"predict", "--weights", ckpt, "--data", dir + "/binary.csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int64_t n = 0, right = 0;
  while (std::getline(lines, line)) {
    long long index;
    double p, y;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lld,%lf,%lf", &index, &p, &y), 3)
        << line;
    EXPECT_TRUE(p > 0 && p < 1) << line;
    right += (p > 0.5) == (y > 0.5);
    ++n;
  }
  EXPECT_EQ(n, 200);
  EXPECT_EQ(r.out.find("accuracy"), std::string::npos);
  EXPECT_GT(right, 180);

  // Regression: a loss, no accuracy and no per-class report.
  model.task = Task::Regression;
  r = run({"eval", "--weights", ckpt, "--data", dir + "/binary.csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("eval: loss"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("accuracy"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("precision"), std::string::npos) << r.out;
}

TEST_F(TrainerTest, HelpAndInfo) {
  Result r = run({"train", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--resume CKPT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(train block: 3)"), std::string::npos) << r.out;
  r = run({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("predict"), std::string::npos) << r.out;
  r = run({"info"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("parameters 16 (15 trainable)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fc.weight.momentum_buffer"), std::string::npos);
  EXPECT_NE(r.out.find("[B, 4]"), std::string::npos);
}
