//===- TrainerCommands.h - what the trainer's commands share ----*- C++ -*-===//
//
// Part of kiln. Private to the trainer (Trainer.cpp parses the command line
// and dispatches; TrainerLoop.cpp trains; TrainerEval.cpp evaluates,
// predicts and loads data; TrainerStep.cpp calls step functions and runs
// the steps command). Every command takes the parsed options and the model
// and returns false with `error` set, which trainerMain prints as
// "trainer: error: <error>".
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_TRAINERCOMMANDS_H
#define KILN_RUNTIME_TRAINERCOMMANDS_H

#include "runtime/Checkpoint.h"
#include "runtime/Data.h"
#include "runtime/Json.h"
#include "runtime/Metrics.h"
#include "runtime/Model.h"

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kiln::rt::trainer {

/// A parsed command line: the command and each option given (by name,
/// without the dashes) with its values; every name is one the command
/// accepts.
struct Options {
  std::string command;
  std::map<std::string, std::vector<std::string>> values;

  bool has(const std::string &name) const { return values.count(name); }
  /// The option's value, or `otherwise` when it was not given.
  std::string text(const std::string &name,
                   const std::string &otherwise = "") const;
  /// Sets `out` to the option's value when given; false with `error` set
  /// when it is not an integer >= `min`.
  bool integer(const std::string &name, int64_t min, int64_t &out,
               std::string &error) const;
  /// Sets `out` to the option's value when given; false with `error` set
  /// when it is not a number in [low, high).
  bool real(const std::string &name, double low, double high, double &out,
            std::string &error) const;
};

/// The train block (Model::trainJson) parsed.
bool parseTrainBlock(const Model &model, JsonValue &block, std::string &error);

/// The integer member `key` of `object`, or `otherwise` when absent.
int64_t jsonInt(const JsonValue &object, const char *key, int64_t otherwise);

/// The numeric member `key` of `object`, or `otherwise` when absent.
double jsonNumber(const JsonValue &object, const char *key, double otherwise);

/// Calls setKernelThreads when --threads was given, and with --device cuda
/// (or opencl) opens the GPU the step calls then run on.
bool applyKernelOptions(const Options &options, const Model &model,
                        std::string &error);

/// The device API step calls run on, or null for the CPU.
const DeviceApi *deviceInUse();

/// One array of a step call: f32 or i64 storage for up to the bound batch,
/// or, for a Param, Buffer or OptState, a place in a state arena.
/// Why a batch smaller than `minBatch` (a StepFunction's) cannot train.
inline std::string batchNormNeeds(int64_t minBatch) {
  return "the model's batch norm needs more than one value per channel in "
         "training mode, so at least " +
         std::to_string(minBatch) + " samples";
}

struct StepArray {
  const TensorInfo *info = nullptr;
  std::vector<float> f;
  std::vector<int64_t> i;
  StateTensor *state = nullptr; ///< the state it reads or updates, if any
  /// State arrays: the arena holding them (the state's, or the call's
  /// result arena) and where in it they start. The arena is named rather
  /// than pointed into because commit() swaps arenas.
  std::vector<float> *arena = nullptr;
  size_t offset = 0;
  /// Its place in device memory, when the call runs on the GPU.
  DevicePtr device;

  void *data() {
    if (arena)
      return arena->data() + offset;
    return info->type == ElemType::F32 ? static_cast<void *>(f.data())
                                       : static_cast<void *>(i.data());
  }
};

/// A step function bound to the training state, laid out as Model.h's state
/// arena contract asks: its Param, Buffer and OptState arguments read the
/// state's arena in place (or a gathered copy, when the function takes a
/// subset of the state that is not one contiguous run), its results of
/// those roles are written back to back into a result arena of the call,
/// and every other argument and result has its own storage for up to
/// `maxBatch` samples. The state itself changes only in commit().
///
/// On the GPU (deviceInUse()), every array also has a place in device memory
/// and the kernels read and write only those: run() uploads the arguments
/// that are not state (and the state, the first time) and downloads the
/// outputs that are not state; commit() swaps or copies on the device, and
/// the host's copy of the state is brought up to date by syncState().
class StepCall {
public:
  /// Binds `fn` to `state`, which must hold every Param, Buffer and
  /// OptState the function names (it does for its own model's state).
  StepCall(const StepFunction &fn, TrainState &state, int64_t maxBatch);
  StepCall(const StepCall &) = delete;
  StepCall &operator=(const StepCall &) = delete;
  ~StepCall();

  /// The Input argument's storage, and the Target's as labels or targets
  /// (null when the function has no such argument or type).
  float *inputs();
  /// The input array of a model whose input is i64 (else null).
  int64_t *indexInputs();
  int64_t *labels();
  float *targets();
  /// Sets the Step argument to `step` (1-based) and the Seed argument to a
  /// function of (seed, step), so resumed runs draw the same dropout masks.
  void setStep(int64_t step, uint64_t seed);
  /// Runs the function on `batch` samples; false with `error` set when a
  /// kernel fails.
  bool run(int64_t batch, std::string &error);
  /// Makes each updated Param, Buffer and OptState result the state: by
  /// swapping the two arenas when the results are the whole state in its
  /// order (train_step without frozen parameters), else by copying each.
  void commit();
  /// Whether commit() swaps arenas rather than copying.
  bool commitSwaps() const { return swaps; }
  /// Makes the host's copy of the state current: a no-op on the CPU; on the
  /// GPU, downloads the state when steps have changed it. Call before
  /// reading the state (to save it, or to evaluate with another call).
  bool syncState(std::string &error);
  /// On the GPU, downloads the state results of the last run too (run()
  /// downloads the other results), for reading `results`.
  bool fetchStateResults(std::string &error);
  /// The "loss" output of the last run (NaN when there is none).
  double loss() const;
  /// The "predict" output, or null.
  const StepArray *prediction() const;

  std::vector<StepArray> args, results;

private:
  const StepFunction &fn;
  TrainState &state;
  /// The state results, back to back in result order.
  std::vector<float> resultArena;
  /// The state arguments when they are not one run of the state's arena.
  std::vector<float> gathered;
  bool swaps = false;
  bool inPlace = true; ///< the state arguments are the state's arena

  /// The GPU's copies (null on the CPU): the state arguments, laid out as on
  /// the host (the state's arena, or `gathered`), the state results (as
  /// resultArena) and every other array.
  const DeviceApi *device = nullptr;
  DeviceBuffer *deviceState = nullptr, *deviceResults = nullptr,
               *deviceOther = nullptr;
  bool deviceStale = true; ///< the host state is newer than deviceState
  bool hostStale = false;  ///< deviceState is newer than the host state
  int commitError = 0; ///< Halide's error code if commit() failed to copy
  void placeOnDevice(int64_t maxBatch);
  bool runOnDevice(int64_t batch, std::string &error);
  bool deviceError(const char *what, int code, std::string &error) const;
};

/// How a batch's predictions score against its labels or targets.
class Scorer {
public:
  explicit Scorer(const Model &model);

  /// Scores `count` samples: the "predict" output of `call` against
  /// `labels` (Multiclass) or `targets` (Binary); adds `loss` (a batch mean)
  /// weighted by `count`.
  void add(const StepCall &call, int64_t count, double loss,
           const int64_t *labels, const float *targets);
  /// The class a sample's prediction names (Multiclass and Binary).
  int64_t predictedClass(const StepArray &predict, int64_t sample) const;

  /// Accuracy and the class report need a classifier with a "predict"
  /// output.
  bool hasAccuracy() const { return task != Task::Regression && predicts; }
  double meanLoss() const;
  double accuracy() const;

  Task task;
  bool predicts;
  int64_t samples = 0;
  double lossSum = 0;
  int64_t judged = 0, correct = 0;
  ConfusionMatrix confusion;
};

/// Whether the model has a "predict" output (`predict EXPR`).
bool hasPredict(const Model &model);

/// The per-sample description of the model's input and target.
SampleSpec sampleSpec(const Model &model);

/// Loads the data source of the train block (or the --data override) and
/// applies the block's normalisation to the training and test data.
bool loadSplits(const Model &model, const JsonValue &block,
                const Options &options, DataSplits &splits, std::string &error);

/// Runs eval_step over all of `data` in batches of `batch`, in order.
/// `onBatch`, when set, sees each batch's call after it ran.
bool evaluate(const Model &model, TrainState &state, const Dataset &data,
              int64_t batch, Scorer &scores, std::string &error,
              const std::function<void(const StepCall &, int64_t first,
                                       int64_t count)> &onBatch = {});

/// Prints "<label>: loss L accuracy A (N samples)" and, for classifiers,
/// the classification report and confusion matrix.
void printReport(std::FILE *out, const char *label, const Scorer &scores);

bool runTrain(const Options &options, const Model &model, std::string &error);
bool runEval(const Options &options, const Model &model, std::string &error);
bool runPredict(const Options &options, const Model &model, std::string &error);
bool runSteps(const Options &options, const Model &model, std::string &error);
bool runBench(const Options &options, const Model &model, std::string &error);

} // namespace kiln::rt::trainer

#endif // KILN_RUNTIME_TRAINERCOMMANDS_H
