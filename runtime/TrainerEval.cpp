//===- TrainerEval.cpp - data, scoring, eval and predict --------*- C++ -*-===//
//
// Part of kiln. Loads a model's data (the train block's source or --data),
// runs eval_step over a dataset in order and scores its predictions (class
// index for Multiclass, probability on the target's side of 0.5 for Binary,
// none for Regression), and implements `eval` (loss, accuracy, per-class
// report) and `predict` (one CSV line per sample). Both use the source's
// test data when it has some, else its training data, whole.
//
//===----------------------------------------------------------------------===//

#include "runtime/TrainerCommands.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace kiln::rt;
using namespace kiln::rt::trainer;

/// A Binary prediction or target counts as class 1 above this.
static constexpr double kDecisionThreshold = 0.5;

bool trainer::hasPredict(const Model &model) {
  for (int k = 0; k < model.eval.numResults; ++k)
    if (std::strcmp(model.eval.results[k].name, "predict") == 0)
      return true;
  return false;
}

Scorer::Scorer(const Model &model)
    : task(model.task), predicts(hasPredict(model)), confusion(model.task == Task::Multiclass
                                      ? std::max<int64_t>(model.numClasses, 1)
                                      : 2) {}

int64_t Scorer::predictedClass(const StepArray &predict, int64_t sample) const {
  int64_t per = elementCount(*predict.info, 1);
  if (predict.info->type == ElemType::I64)
    return predict.i[sample * per];
  const float *row = predict.f.data() + sample * per;
  if (task == Task::Binary)
    return row[0] > kDecisionThreshold;
  // A model whose prediction is the class scores (logits, probabilities)
  // rather than their argmax.
  if (per > 1)
    return std::max_element(row, row + per) - row;
  return std::llround(row[0]);
}

void Scorer::add(const StepCall &call, int64_t count, double loss,
                 const int64_t *labels, const float *targets) {
  samples += count;
  lossSum += loss * double(count);
  const StepArray *predict = call.prediction();
  if (!predict || task == Task::Regression)
    return;
  auto score = [&](int64_t label, int64_t predicted) {
    ++judged;
    correct += label == predicted;
    if (predicted >= 0 && predicted < confusion.numClasses())
      confusion.add(label, predicted);
  };
  if (task == Task::Multiclass && labels) {
    for (int64_t s = 0; s < count; ++s)
      score(labels[s], predictedClass(*predict, s));
  } else if (task == Task::Binary && targets) {
    // Every element of a Binary prediction is one yes/no decision.
    int64_t per = elementCount(*predict->info, 1);
    for (int64_t k = 0; k < count * per; ++k)
      score(targets[k] > kDecisionThreshold,
            predict->info->type == ElemType::I64
                ? predict->i[k]
                : int64_t(predict->f[k] > kDecisionThreshold));
  }
}

double Scorer::meanLoss() const {
  return samples ? lossSum / double(samples) : NAN;
}

double Scorer::accuracy() const {
  return judged ? double(correct) / double(judged) : NAN;
}

SampleSpec trainer::sampleSpec(const Model &model) {
  SampleSpec spec;
  for (int k = 0; k < model.train.numArgs; ++k) {
    const TensorInfo &info = model.train.args[k];
    std::vector<int64_t> perSample(info.shape + std::min(info.rank, 1),
                                   info.shape + info.rank);
    if (info.role == Role::Input) {
      spec.inputShape = perSample;
      spec.indexInputs = info.type == ElemType::I64;
    }
    if (info.role == Role::Target) {
      spec.classLabels = info.type == ElemType::I64;
      spec.targetShape = perSample;
    }
  }
  spec.hasTarget = std::any_of(
      model.train.args, model.train.args + model.train.numArgs,
      [](const TensorInfo &info) { return info.role == Role::Target; });
  spec.numClasses = model.numClasses;
  spec.indexRows = model.indexRows;
  spec.unitTargets = model.task == Task::Binary;
  return spec;
}

bool trainer::loadSplits(const Model &model, const JsonValue &block,
                         const Options &options, DataSplits &splits,
                         std::string &error) {
  const JsonValue *source = block.find("data");
  if (!source)
    return error = "the train block names no data source", false;
  std::vector<std::string> files;
  if (auto it = options.values.find("data"); it != options.values.end())
    files = it->second;
  const JsonValue *norm = block.find("normalize");
  SampleSpec spec = sampleSpec(model);
  if (spec.indexInputs && norm && norm->kind != JsonValue::Kind::Null)
    return error = "normalize does not apply to the model's input: it is "
                   "i64 (indices)",
           false;
  if (!loadData(*source, files, spec, splits, error) ||
      !normalize(norm, splits.train, error))
    return false;
  return splits.test.size == 0 || normalize(norm, splits.test, error);
}

bool trainer::evaluate(
    const Model &model, TrainState &state, const Dataset &data, int64_t batch,
    Scorer &scores, std::string &error,
    const std::function<void(const StepCall &, int64_t, int64_t)> &onBatch) {
  batch = std::max<int64_t>(1, std::min(batch, data.size));
  StepCall call(model.eval, state, batch);
  std::vector<int64_t> order(data.size);
  std::iota(order.begin(), order.end(), 0);
  // An eval_step without a target still gets its labels gathered, to score.
  std::vector<int64_t> spareLabels(batch * data.targetSize);
  std::vector<float> spareTargets(batch * data.targetSize);
  int64_t *labels = call.labels() ? call.labels() : spareLabels.data();
  float *targets = call.targets() ? call.targets() : spareTargets.data();
  for (int64_t first = 0; first < data.size; first += batch) {
    int64_t count = std::min(batch, data.size - first);
    gatherBatch(data, order, first, count, call.inputs(), call.indexInputs(),
                labels, targets);
    if (!call.run(count, error)) {
      error = "eval_step: " + error;
      return false;
    }
    scores.add(call, count, call.loss(), labels, targets);
    if (onBatch)
      onBatch(call, first, count);
  }
  return true;
}

void trainer::printReport(std::FILE *out, const char *label,
                          const Scorer &scores) {
  std::fprintf(out, "%s: loss %.4f", label, scores.meanLoss());
  if (scores.hasAccuracy())
    std::fprintf(out, " accuracy %.4f", scores.accuracy());
  std::fprintf(out, " (%lld samples)\n",
               static_cast<long long>(scores.samples));
  if (!scores.hasAccuracy())
    return;
  std::fprintf(out, "\n%s\n%s", scores.confusion.report().c_str(),
               scores.confusion.matrix().c_str());
}

/// What eval and predict share: the settings, the weights of --weights and
/// the data they run on.
struct Inference {
  JsonValue block;
  TrainState state;
  DataSplits splits;
  int64_t batch = 0;

  const Dataset &data() const {
    return splits.test.size > 0 ? splits.test : splits.train;
  }
};

static bool prepareInference(const Options &options, const Model &model,
                             Inference &inf, std::string &error) {
  if (!options.has("weights"))
    return error = options.command +
                   " needs --weights CHECKPOINT (a model .safetensors file)",
           false;
  if (!parseTrainBlock(model, inf.block, error))
    return false;
  inf.batch = jsonInt(inf.block, "batch", 32);
  return options.integer("batch", 1, inf.batch, error) &&
         applyKernelOptions(options, model, error) &&
         initialState(model, 0, inf.state, error) &&
         loadWeights(options.text("weights"), inf.state, error) &&
         loadSplits(model, inf.block, options, inf.splits, error);
}

bool trainer::runEval(const Options &options, const Model &model,
                      std::string &error) {
  Inference inf;
  if (!prepareInference(options, model, inf, error))
    return false;
  Scorer scores(model);
  if (!evaluate(model, inf.state, inf.data(), inf.batch, scores, error))
    return false;
  std::printf("%s on %s (%s data)\n", options.text("weights").c_str(),
              inf.data().origin.c_str(),
              inf.splits.test.size > 0 ? "test" : "training");
  printReport(stdout, "eval", scores);
  return true;
}

/// Appends the values [begin, begin + n) to `line`, comma-separated.
template <typename T>
static void appendValues(std::string &line, const T *begin, int64_t n) {
  char buf[32];
  for (int64_t k = 0; k < n; ++k) {
    if constexpr (std::is_integral_v<T>)
      std::snprintf(buf, sizeof buf, ",%lld", static_cast<long long>(begin[k]));
    else
      std::snprintf(buf, sizeof buf, ",%.9g", double(begin[k]));
    line += buf;
  }
}

bool trainer::runPredict(const Options &options, const Model &model,
                         std::string &error) {
  Inference inf;
  if (!prepareInference(options, model, inf, error))
    return false;
  if (!hasPredict(model))
    return error =
               std::string("model '") + model.name + "' has no predict output",
           false;
  std::string outPath = options.text("out");
  std::FILE *out = stdout;
  if (!outPath.empty() && !(out = std::fopen(outPath.c_str(), "w")))
    return error =
               outPath + ": cannot open for writing: " + std::strerror(errno),
           false;
  const Dataset &data = inf.data();
  Scorer scores(model);
  auto write = [&](const StepCall &call, int64_t first, int64_t count) {
    const StepArray &predict = *call.prediction();
    int64_t per = elementCount(*predict.info, 1);
    std::string line;
    for (int64_t s = 0; s < count; ++s) {
      int64_t index = first + s;
      line = std::to_string(index);
      if (model.task == Task::Multiclass) {
        line += "," + std::to_string(scores.predictedClass(predict, s));
      } else if (predict.info->type == ElemType::I64) {
        appendValues(line, predict.i.data() + s * per, per);
      } else {
        appendValues(line, predict.f.data() + s * per, per);
      }
      int64_t t = data.targetSize;
      if (!data.labels.empty())
        appendValues(line, data.labels.data() + index * t, t);
      else if (!data.targets.empty())
        appendValues(line, data.targets.data() + index * t, t);
      std::fprintf(out, "%s\n", line.c_str());
    }
  };
  bool ok = evaluate(model, inf.state, data, inf.batch, scores, error, write);
  if (out != stdout && std::fclose(out) != 0 && ok)
    ok = (error = outPath + ": write error", false);
  if (ok && out != stdout)
    std::printf("wrote %lld predictions to %s\n",
                static_cast<long long>(data.size), outPath.c_str());
  return ok;
}
