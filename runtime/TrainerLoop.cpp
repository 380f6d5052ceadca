//===- TrainerLoop.cpp - the train command ----------------------*- C++ -*-===//
//
// Part of kiln. The training loop: settings from the train block overridden
// by the command line, a fresh, fine-tuned (--init-from) or resumed
// (--resume) state, then per epoch the batches of epochOrder(seed, epoch)
// through train_step, validation through eval_step, early stopping and a
// checkpoint; finally the test report. Everything a batch depends on (the
// sample order, the dropout seed, the step) is a function of the seed and
// the position, and the checkpoint records the position and the running
// sums, so a resumed run computes bit for bit what the uninterrupted run
// would have. A non-finite loss stops training before anything is saved.
//
//===----------------------------------------------------------------------===//

#include "runtime/TrainerCommands.h"

#include <cerrno>
#include <chrono>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>
#include <type_traits>

using namespace kiln::rt;
using namespace kiln::rt::trainer;

namespace {

/// runInfo keys: the settings a resumed run must keep, early stopping and
/// the running sums of a partly done epoch.
constexpr const char *kSeedKey = "kiln_seed";
constexpr const char *kBatchSizeKey = "kiln_batch_size";
constexpr const char *kValSplitKey = "kiln_val_split";
constexpr const char *kSamplesKey = "kiln_train_samples";
constexpr const char *kBestKey = "kiln_best";
constexpr const char *kStaleKey = "kiln_stale_epochs";
constexpr const char *kLossSumKey = "kiln_epoch_loss_sum";
constexpr const char *kSeenKey = "kiln_epoch_samples";
constexpr const char *kCorrectKey = "kiln_epoch_correct";
constexpr const char *kJudgedKey = "kiln_epoch_judged";

bool exists(const std::string &path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0;
}

/// A double as the shortest text that reads back exactly (0.1, not
/// 0.10000000000000001).
std::string exact(double v) {
  if (std::isnan(v))
    return "nan"; // the spelling would depend on the sign bit ("-nan")
  char buf[40];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

/// The runInfo entry `key` as a number; false when absent or malformed.
bool infoNumber(const TrainState &state, const char *key, double &out) {
  auto it = state.runInfo.find(key);
  if (it == state.runInfo.end())
    return false;
  char *end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end)
    return false;
  out = v;
  return true;
}

/// early_stopping(metric, patience, min_delta) of the train block.
struct EarlyStopping {
  bool enabled = false;
  bool onAccuracy = false; ///< val_accuracy (higher is better)
  int64_t patience = 0;
  double minDelta = 0;
  double best = INFINITY; ///< in "lower is better" form: accuracy negated
  int64_t stale = 0;      ///< epochs since the last improvement

  explicit EarlyStopping(const JsonValue &block) {
    const JsonValue *spec = block.find("early_stopping");
    if (!spec || spec->kind != JsonValue::Kind::Object)
      return;
    enabled = true;
    const JsonValue *metric = spec->find("metric");
    onAccuracy = metric && metric->string == "val_accuracy";
    patience = jsonInt(*spec, "patience", 3);
    minDelta = jsonNumber(*spec, "min_delta", 0);
  }
  const char *metric() const {
    return onAccuracy ? "val_accuracy" : "val_loss";
  }
  /// Records one epoch's validation scores.
  void update(double valLoss, double valAccuracy) {
    double value = onAccuracy ? -valAccuracy : valLoss;
    if (value < best - minDelta) {
      best = value;
      stale = 0;
    } else {
      ++stale;
    }
  }
  bool shouldStop() const { return enabled && stale >= patience; }
  double bestValue() const { return onAccuracy ? -best : best; }
};

/// A run's settings: the train block's, overridden by the command line and,
/// for --resume, by what the checkpoint was trained with.
struct Settings {
  int64_t epochs = 1, batch = 32, seed = 0, saveEvery = 0;
  double valSplit = 0;
  std::string save, log;
};

/// Takes the setting `option` from the resumed checkpoint's runInfo `key`,
/// refusing a command-line value that differs: the shuffles, the split and
/// the batch boundaries depend on it.
template <typename T>
bool keepResumed(const Options &options, const TrainState &state,
                 const char *option, const char *key, double lo, double hi,
                 T &value, std::string &error) {
  double saved;
  if (!infoNumber(state, key, saved)) {
    auto it = state.runInfo.find(key);
    if (it == state.runInfo.end())
      return true;
    return error = options.text("resume") + ": its metadata " + key +
                   " is '" + it->second + "', not a number",
           false;
  }
  // A value the settings could not have had: the file is damaged.
  if (!(saved >= lo && saved < hi) ||
      (std::is_integral_v<T> && saved != std::floor(saved)))
    return error = options.text("resume") + ": its metadata " + key + " is " +
                   exact(saved) + ", outside the --" + option + " range [" +
                   exact(lo) + ", " + exact(hi) + ")",
           false;
  if (options.has(option) && double(value) != saved)
    return error = "--" + std::string(option) + " " + options.text(option) +
                   " differs from the " + exact(saved) + " that " +
                   options.text("resume") +
                   " was trained with; a resumed run keeps it",
           false;
  value = T(saved);
  return true;
}

bool readSettings(const Options &options, const Model &model,
                  const JsonValue &block, Settings &s, std::string &error) {
  s.epochs = jsonInt(block, "epochs", s.epochs);
  s.batch = jsonInt(block, "batch", s.batch);
  s.seed = jsonInt(block, "seed", s.seed);
  s.valSplit = jsonNumber(block, "val_split", s.valSplit);
  s.save = options.text("save");
  s.log = options.text("log");
  if (!options.integer("epochs", 1, s.epochs, error) ||
      !options.integer("batch", 1, s.batch, error) ||
      !options.integer("seed", 0, s.seed, error) ||
      !options.real("val-split", 0, 1, s.valSplit, error) ||
      !options.integer("save-every", 1, s.saveEvery, error) ||
      !applyKernelOptions(options, model, error))
    return false;
  if (s.saveEvery && s.save.empty())
    return error = "--save-every needs --save CKPT (where to save)", false;
  // Said now rather than after the first epoch has trained.
  for (const std::string *path : {&s.save, &s.log}) {
    std::filesystem::path dir = std::filesystem::path(*path).parent_path();
    if (!path->empty() && !dir.empty() && !std::filesystem::is_directory(dir))
      return error = "cannot write " + *path + ": " + dir.string() +
                     " is not a directory",
             false;
    std::error_code ec;
    if (!path->empty() && std::filesystem::exists(*path, ec) &&
        !std::filesystem::is_regular_file(*path, ec))
      return error = "cannot write " + *path +
                     ": it exists and is not a regular file",
             false;
  }
  if (options.has("resume") && options.has("init-from"))
    return error = "--resume continues a run and --init-from starts a new "
                   "one from its weights; give one of them",
           false;
  return true;
}

/// The state to start from: fresh, fine-tuned from --init-from, or resumed.
bool startState(const Options &options, const Model &model, Settings &s,
                TrainState &state, std::string &error) {
  if (!options.has("resume")) {
    return initialState(model, uint64_t(s.seed), state, error) &&
           (!options.has("init-from") ||
            loadWeights(options.text("init-from"), state, error));
  }
  return initialState(model, 0, state, error) &&
         loadCheckpoint(options.text("resume"), state, error) &&
         keepResumed(options, state, "seed", kSeedKey, 0, 0x1p63, s.seed,
                     error) &&
         keepResumed(options, state, "batch", kBatchSizeKey, 1, 0x1p31,
                     s.batch, error) &&
         keepResumed(options, state, "val-split", kValSplitKey, 0, 1,
                     s.valSplit, error);
}

/// One epoch's numbers, for the epoch line and the log.
struct EpochResult {
  int64_t epoch, step;
  double trainLoss, trainAccuracy, valLoss = NAN, valAccuracy = NAN;
  double samplesPerSecond, seconds;
};

/// `v` for the log: JSON has no NaN, so a missing metric is null.
std::string jsonNumberOrNull(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

bool appendLog(const std::string &path, const EpochResult &r,
               std::string &error) {
  std::FILE *f = std::fopen(path.c_str(), "a");
  if (!f)
    return error =
               path + ": cannot open for appending: " + std::strerror(errno),
           false;
  std::fprintf(f,
               "{\"epoch\":%lld,\"step\":%lld,\"train_loss\":%s,"
               "\"train_accuracy\":%s,\"val_loss\":%s,\"val_accuracy\":%s,"
               "\"samples_per_second\":%s,\"seconds\":%s}\n",
               static_cast<long long>(r.epoch), static_cast<long long>(r.step),
               jsonNumberOrNull(r.trainLoss).c_str(),
               jsonNumberOrNull(r.trainAccuracy).c_str(),
               jsonNumberOrNull(r.valLoss).c_str(),
               jsonNumberOrNull(r.valAccuracy).c_str(),
               jsonNumberOrNull(r.samplesPerSecond).c_str(),
               jsonNumberOrNull(r.seconds).c_str());
  if (std::fclose(f) != 0)
    return error = path + ": write error", false;
  return true;
}

void printEpoch(const EpochResult &r, bool accuracy, bool validation) {
  std::printf("epoch %lld: train loss %.4f", static_cast<long long>(r.epoch),
              r.trainLoss);
  if (accuracy)
    std::printf(" acc %.4f", r.trainAccuracy);
  if (validation) {
    std::printf(" | val loss %.4f", r.valLoss);
    if (accuracy)
      std::printf(" acc %.4f", r.valAccuracy);
  }
  std::printf(" | %.0f samples/s\n", r.samplesPerSecond);
  std::fflush(stdout);
}

} // namespace

/// Set by SIGINT or SIGTERM. Training stops after the step in progress, so
/// a checkpoint pair being saved is never half replaced. (A repeated signal
/// changes nothing: `timeout` and a terminal both send one to the process
/// and one to its group.)
static volatile std::sig_atomic_t interruptSignal = 0;

static void onInterrupt(int sig) { interruptSignal = sig; }

bool trainer::runTrain(const Options &options, const Model &model,
                       std::string &error) {
  JsonValue block;
  Settings s;
  TrainState state;
  if (!parseTrainBlock(model, block, error) ||
      !readSettings(options, model, block, s, error) ||
      !startState(options, model, s, state, error))
    return false;
  uint64_t seed = uint64_t(s.seed);

  EarlyStopping stopping(block);
  if (stopping.enabled && s.valSplit == 0)
    return error = "the train block's early_stopping watches validation "
                   "data, so it needs --val-split > 0",
           false;
  Scorer running(model);
  if (stopping.enabled && stopping.onAccuracy && !running.hasAccuracy())
    return error = "the train block's early_stopping watches val_accuracy, "
                   "which needs a classifier with a 'predict' output; this "
                   "model has none (watch val_loss instead)",
           false;
  infoNumber(state, kBestKey, stopping.best);
  double stale = 0;
  if (infoNumber(state, kStaleKey, stale))
    stopping.stale = int64_t(stale);

  DataSplits splits;
  Dataset validation;
  if (!loadSplits(model, block, options, splits, error))
    return false;
  if (s.valSplit > 0)
    splitValidation(splits.train, s.valSplit, seed, validation);
  const Dataset &train = splits.train;
  double savedSamples;
  if (options.has("resume") && infoNumber(state, kSamplesKey, savedSamples) &&
      int64_t(savedSamples) != train.size)
    return error = options.text("resume") + ": was trained on " +
                   exact(savedSamples) + " samples but the data now gives " +
                   std::to_string(train.size) +
                   " (a resumed run needs the same data)",
           false;
  if (train.size == 0)
    return error = train.origin + ": no training samples are left after "
                                  "the validation split",
           false;

  if (options.has("resume"))
    std::printf("resumed %s at step %lld (epoch %lld, batch %lld)\n",
                options.text("resume").c_str(),
                static_cast<long long>(state.step),
                static_cast<long long>(state.epoch + 1),
                static_cast<long long>(state.batch));
  if (state.epoch >= s.epochs)
    std::printf("nothing to train: %lld of %lld epochs are done (--epochs "
                "sets more)\n",
                static_cast<long long>(state.epoch),
                static_cast<long long>(s.epochs));
  StepCall call(model.train, state, s.batch);
  bool savedAny = false;
  auto save = [&] {
    if (!call.syncState(error))
      return false;
    savedAny = true;
    state.runInfo[kSeedKey] = std::to_string(s.seed);
    state.runInfo[kBatchSizeKey] = std::to_string(s.batch);
    state.runInfo[kValSplitKey] = exact(s.valSplit);
    state.runInfo[kSamplesKey] = std::to_string(train.size);
    state.runInfo[kBestKey] = exact(stopping.best);
    state.runInfo[kStaleKey] = std::to_string(stopping.stale);
    state.runInfo[kLossSumKey] = exact(running.lossSum);
    state.runInfo[kSeenKey] = std::to_string(running.samples);
    state.runInfo[kCorrectKey] = std::to_string(running.correct);
    state.runInfo[kJudgedKey] = std::to_string(running.judged);
    return saveCheckpoint(s.save, model, state, error);
  };
  // A run resumed mid-epoch carries on the epoch's sums.
  if (state.batch > 0) {
    double v;
    if (infoNumber(state, kLossSumKey, v))
      running.lossSum = v;
    if (infoNumber(state, kSeenKey, v))
      running.samples = int64_t(v);
    if (infoNumber(state, kCorrectKey, v))
      running.correct = int64_t(v);
    if (infoNumber(state, kJudgedKey, v))
      running.judged = int64_t(v);
  }

  if (stopping.shouldStop())
    std::printf("training had already stopped early (%s did not improve "
                "for %lld epochs)\n",
                stopping.metric(), static_cast<long long>(stopping.patience));
  int64_t batches = (train.size + s.batch - 1) / s.batch;
  // A last batch too small for train_step (one sample, with a batch norm)
  // is left out of every epoch, as PyTorch's drop_last would leave it.
  int64_t minBatch = model.train.minBatch;
  if (s.batch < minBatch)
    return error = "--batch " + std::to_string(s.batch) +
                   " is too small: " + batchNormNeeds(minBatch),
           false;
  if (int64_t tail = train.size % s.batch; tail != 0 && tail < minBatch) {
    --batches;
    std::printf("note: each epoch leaves out the last %lld sample(s), too few "
                "for a batch norm in training mode\n",
                static_cast<long long>(tail));
  }
  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onInterrupt);
  for (; state.epoch < s.epochs && !stopping.shouldStop(); ++state.epoch) {
    auto start = std::chrono::steady_clock::now();
    std::vector<int64_t> order = epochOrder(train.size, seed, state.epoch);
    int64_t used = std::min(train.size, batches * s.batch);
    Progress progress(stdout, state.epoch + 1, s.epochs,
                      used - std::min(used, state.batch * s.batch));
    progress.resumed(running.samples, running.lossSum);
    for (; state.batch < batches; ++state.batch) {
      int64_t first = state.batch * s.batch;
      int64_t count = std::min(s.batch, train.size - first);
      gatherBatch(train, order, first, count, call.inputs(),
                  call.indexInputs(), call.labels(),
                  call.targets());
      call.setStep(state.step + 1, seed);
      if (!call.run(count, error)) {
        progress.finish();
        return error = "train_step at step " + std::to_string(state.step + 1) +
                       ": " + error,
               false;
      }
      double loss = call.loss();
      if (!std::isfinite(loss)) {
        progress.finish();
        return error = "the loss is " + exact(loss) + " at step " +
                       std::to_string(state.step + 1) + " (epoch " +
                       std::to_string(state.epoch + 1) + ", batch " +
                       std::to_string(state.batch + 1) +
                       "); training stopped without saving" +
                       (exists(s.save) ? ", so " + s.save +
                                             " still holds the last good "
                                             "checkpoint"
                                       : ""),
               false;
      }
      call.commit();
      ++state.step;
      running.add(call, count, loss, call.labels(), call.targets());
      progress.update(count, loss);
      bool lastOfEpoch = state.batch + 1 == batches;
      if (s.saveEvery && state.step % s.saveEvery == 0 && !lastOfEpoch) {
        ++state.batch; // the checkpoint's position is after this batch
        bool saved = save();
        --state.batch;
        if (!saved)
          return false;
      }
      if (interruptSignal) {
        progress.finish();
        return error = "interrupted (signal " +
                       std::to_string(int(interruptSignal)) + ") after step " +
                       std::to_string(state.step) +
                       "; training stopped without saving" +
                       (exists(s.save) ? ", so " + s.save +
                                             " holds the last checkpoint "
                                             "saved"
                                       : ""),
               false;
      }
    }
    progress.finish();

    EpochResult r;
    r.epoch = state.epoch + 1;
    r.step = state.step;
    r.trainLoss = running.meanLoss();
    r.trainAccuracy = running.accuracy();
    r.samplesPerSecond = progress.samplesPerSecond();
    if (validation.size > 0) {
      Scorer val(model);
      if (!call.syncState(error) ||
          !evaluate(model, state, validation, s.batch, val, error))
        return false;
      r.valLoss = val.meanLoss();
      r.valAccuracy = val.accuracy();
      if (stopping.enabled)
        stopping.update(r.valLoss, r.valAccuracy);
    }
    r.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    printEpoch(r, running.hasAccuracy(), validation.size > 0);
    if (!s.log.empty() && !appendLog(s.log, r, error))
      return false;

    running = Scorer(model);
    state.batch = 0;
    if (!s.save.empty()) {
      ++state.epoch; // the checkpoint's position is after this epoch
      bool saved = save();
      --state.epoch;
      if (!saved)
        return false;
    }
    if (stopping.shouldStop())
      std::printf("early stopping: %s has not improved by more than %g for "
                  "%lld epochs (best %.4f)\n",
                  stopping.metric(), stopping.minDelta,
                  static_cast<long long>(stopping.patience),
                  stopping.bestValue());
  }
  if (savedAny)
    std::printf("saved %s (step %lld)\n", s.save.c_str(),
                static_cast<long long>(state.step));

  if (splits.test.size > 0) {
    Scorer test(model);
    if (!call.syncState(error) ||
        !evaluate(model, state, splits.test, s.batch, test, error))
      return false;
    std::printf("\n");
    printReport(stdout, "test", test);
  }
  return true;
}
