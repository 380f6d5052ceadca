//===- Data.h - training data: IDX, CIFAR-10 binary and CSV ------*- C++ -*-===//
//
// Part of kiln. Reads the data sources of a train block (docs/language.md,
// "The train block") into memory as float features and i64 labels or float
// targets, applies the block's normalisation, splits off validation data and
// orders samples into batches. Every malformed file gives one error naming
// the file and what is wrong; nothing here aborts.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_DATA_H
#define KILN_RUNTIME_DATA_H

#include "runtime/Json.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::rt {

/// What the model expects of one sample.
struct SampleSpec {
  std::vector<int64_t> inputShape;  ///< per sample, e.g. {784} or {1, 28, 28}
  /// The input is i64 (embedding indices): each value must be a whole
  /// number in [0, indexRows), or in [0, kMaxIndexInput] when indexRows is
  /// 0.
  bool indexInputs = false;
  /// The rows of the smallest embedding table the ids index (0: none).
  int64_t indexRows = 0;
  /// The model has a target (an autoencoder has none: csv rows then hold
  /// the inputs alone).
  bool hasTarget = true;
  bool classLabels = true;          ///< i64 class labels, else f32 targets
  /// f32 targets are probabilities, in [0, 1] (binary cross-entropy).
  bool unitTargets = false;
  int64_t numClasses = 0;           ///< labels must lie in [0, numClasses)
  std::vector<int64_t> targetShape; ///< per sample: {} for labels, {1} ...
};

/// Samples in memory, row-major.
struct Dataset {
  int64_t size = 0;            ///< number of samples
  int64_t inputSize = 0;       ///< floats per sample
  int64_t targetSize = 0;      ///< targets per sample (1 for labels)
  std::vector<float> inputs;   ///< size * inputSize
  std::vector<int64_t> labels; ///< size * targetSize, when classLabels
  std::vector<float> targets;  ///< size * targetSize, otherwise
  std::string origin;          ///< file(s) it came from, for messages
};

struct DataSplits {
  Dataset train;
  Dataset test; ///< empty (size 0) when the source has no test data
};

/// Loads the source `data` (the train block's "data" member) for `spec`.
/// `files`, when not empty, replaces the block's paths: one directory
/// (IDX or CIFAR-10, by the source kind) or explicit files in the order the
/// source takes them (IDX: images, labels[, test images, test labels];
/// CSV: train[, test]). Checks sizes against `spec`: an image of another
/// shape, a label outside [0, numClasses), a truncated file, a wrong IDX
/// magic number and a non-numeric CSV field are errors naming the file.
bool loadData(const JsonValue &data, const std::vector<std::string> &files,
              const SampleSpec &spec, DataSplits &out, std::string &error);

/// Applies the train block's "normalize" member (absent or null: nothing)
/// to every input value: scale multiplies, standard subtracts the mean and
/// divides by the std.
bool normalize(const JsonValue *normalizeSpec, Dataset &data,
               std::string &error);

/// Moves the last round(fraction * size) samples of `train`, after a
/// shuffle under `seed`, into `validation` (PyTorch's random_split role).
/// The same seed always selects the same samples.
void splitValidation(Dataset &train, double fraction, uint64_t seed,
                     Dataset &validation);

/// The sample order of `epoch` (0-based): a Fisher-Yates shuffle of
/// 0..size-1 drawn from runtime/Random.h under (seed, epoch), so a resumed
/// run sees the same order as an uninterrupted one.
std::vector<int64_t> epochOrder(int64_t size, uint64_t seed, int64_t epoch);

/// The largest index an i64 input may hold: Dataset keeps inputs as f32,
/// exact for whole numbers up to 2^24.
constexpr int64_t kMaxIndexInput = int64_t(1) << 24;

/// Copies samples order[first, first + count) of `data` into one batch:
/// the inputs (count * inputSize values) into `inputs`, or, for an i64
/// input, into `indexInputs`; and `labels` or `targets`.
void gatherBatch(const Dataset &data, const std::vector<int64_t> &order,
                 int64_t first, int64_t count, float *inputs,
                 int64_t *indexInputs, int64_t *labels, float *targets);

} // namespace kiln::rt

#endif // KILN_RUNTIME_DATA_H
