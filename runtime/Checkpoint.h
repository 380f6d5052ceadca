//===- Checkpoint.h - training state and its checkpoint files ---*- C++ -*-===//
//
// Part of kiln. The state a training run carries from step to step (every
// parameter, buffer and optimizer-state argument of train_step, the
// optimizer step and the position in the data) and the two safetensors
// files it is saved in. `X.safetensors` holds exactly the parameters and
// buffers under their PyTorch state_dict names and layouts, plus
// `<p>.num_batches_tracked` beside every `<p>.running_mean`, so PyTorch's
// `load_state_dict` of the equivalent module accepts it as is;
// `X.optim.safetensors` holds the optimizer state. Each file is written to a
// temporary file in the same directory, synced and renamed over the old
// one, so a crash leaves the old or the new file, never a torn one. Loading
// checks every name, dtype and shape, reports the first problem naming the
// file, and leaves the state untouched when it fails. In memory the state
// is one arena in the step functions' layouts (TensorInfo::layout); files
// and initializers always see PyTorch's layout, permuted at the boundary.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_CHECKPOINT_H
#define KILN_RUNTIME_CHECKPOINT_H

#include "runtime/Model.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kiln::rt {

/// The shape of `info` with the batch dimension (-1) replaced by `batch`.
std::vector<int64_t> concreteShape(const TensorInfo &info, int64_t batch);

/// The element count of `info` for `batch` samples.
int64_t elementCount(const TensorInfo &info, int64_t batch);

/// `shape` written as PyTorch prints it: "[64, 784]".
std::string formatShape(const std::vector<int64_t> &shape);

/// The shape of the parameter, buffer or optimizer state `info` as
/// checkpoints hold it: PyTorch's, with TensorInfo::layout undone.
std::vector<int64_t> canonicalShape(const TensorInfo &info);

/// Copies the batch-less tensor `info` from the canonical layout into the
/// layout the step functions use (the same when `info` is not permuted).
void toStoredLayout(const TensorInfo &info, const float *canonical,
                    float *stored);

/// The inverse of toStoredLayout.
void toCanonicalLayout(const TensorInfo &info, const float *stored,
                       float *canonical);

/// A run of elements owned elsewhere (C++17 has no std::span).
template <typename T> struct Span {
  T *first = nullptr;
  size_t count = 0;

  T *data() const { return first; }
  size_t size() const { return count; }
  T *begin() const { return first; }
  T *end() const { return first + count; }
  T &operator[](size_t k) const { return first[k]; }
  std::vector<std::remove_const_t<T>> toVector() const {
    return {begin(), end()};
  }
};

/// One tensor of the training state: a view into TrainState::arena, in the
/// layout the step functions use.
struct StateTensor {
  const TensorInfo *info; ///< the train_step argument it feeds
  size_t offset;          ///< its first element in the arena
  size_t count;           ///< its element count
};

/// Everything a run needs to continue exactly where it stopped.
struct TrainState {
  /// train_step's Param, Buffer and OptState arguments, in argument order,
  /// back to back in `arena` (Model.h's state arena, which a step function
  /// reads in place). Offsets rather than pointers, so a copy is a state of
  /// its own.
  std::vector<StateTensor> tensors;
  std::vector<float> arena;
  int64_t step = 0;  ///< optimizer steps taken
  int64_t epoch = 0; ///< epochs completed
  int64_t batch = 0; ///< batches done of epoch `epoch` (0-based)
  /// What else the trainer records to resume exactly (its seed, batch size,
  /// early-stopping state, the epoch's running sums), saved as metadata
  /// under these keys; all start with "kiln_".
  std::map<std::string, std::string> runInfo;

  /// The tensor named `name`, or null.
  StateTensor *find(std::string_view name);
  /// The values of `t`, one of `tensors`.
  Span<float> values(const StateTensor &t) {
    return {arena.data() + t.offset, t.count};
  }
  Span<const float> values(const StateTensor &t) const {
    return {arena.data() + t.offset, t.count};
  }
};

/// Builds the state of a fresh run of `model`: parameters and buffers from
/// their initializers (TensorInfo::init) under `seed`, optimizer state zero.
/// Fails only on an initializer this runtime does not know.
bool initialState(const Model &model, uint64_t seed, TrainState &state,
                  std::string &error);

/// Where the optimizer state of the checkpoint `path` lives:
/// "run.safetensors" -> "run.optim.safetensors".
std::string optimizerStatePath(const std::string &path);

/// Saves `state` as the checkpoint `path` (and its optimizer-state file) of
/// `model`. The optimizer file is replaced first, so a crash between the
/// two renames leaves files whose steps disagree, which loadCheckpoint
/// refuses, rather than new weights with old optimizer state.
bool saveCheckpoint(const std::string &path, const Model &model,
                    const TrainState &state, std::string &error);

/// Loads parameters and buffers from the model file `path` into `state`
/// (fine-tuning, evaluation): F32 or F64, as kiln or PyTorch wrote them;
/// I64 `num_batches_tracked` entries are accepted and ignored. The file
/// must hold every parameter and buffer and nothing else.
bool loadWeights(const std::string &path, TrainState &state,
                 std::string &error);

/// Loads a whole checkpoint for resuming: the weights as loadWeights, the
/// optimizer state from optimizerStatePath(path), the step and position and
/// runInfo. Both files must carry the same step.
bool loadCheckpoint(const std::string &path, TrainState &state,
                    std::string &error);

} // namespace kiln::rt

#endif // KILN_RUNTIME_CHECKPOINT_H
