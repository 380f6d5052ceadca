//===- Checkpoint.cpp - training state and its checkpoint files -*- C++ -*-===//
//
// Part of kiln. See Checkpoint.h. Saving serializes both files in memory,
// writes each to `<path>.tmp-XXXXXX` beside its target and fsyncs it, then
// renames both over their targets (undoing the first if the second fails)
// and fsyncs the directory, so the renames survive a power cut. Loading builds the new state in a copy and commits it only
// when every check passed.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/Init.h"
#include "runtime/Json.h"
#include "runtime/Safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace kiln::rt;

/// Metadata keys kiln writes itself; every other kiln_* key is runInfo.
static constexpr const char *kStepKey = "kiln_step";
static constexpr const char *kEpochKey = "kiln_epoch";
static constexpr const char *kBatchKey = "kiln_batch";
static constexpr const char *kModelKey = "kiln_model";

/// PyTorch's batch norm keeps this counter beside its running statistics;
/// load_state_dict (strict) insists on it.
static constexpr std::string_view kRunningMean = ".running_mean";
static constexpr std::string_view kBatchesTracked = ".num_batches_tracked";

std::vector<int64_t> kiln::rt::concreteShape(const TensorInfo &info,
                                             int64_t batch) {
  std::vector<int64_t> shape(info.shape, info.shape + info.rank);
  for (int64_t &d : shape)
    if (d < 0)
      d = batch;
  return shape;
}

int64_t kiln::rt::elementCount(const TensorInfo &info, int64_t batch) {
  int64_t n = 1;
  for (int64_t d : concreteShape(info, batch))
    n *= d;
  return n;
}

std::string kiln::rt::formatShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<int64_t> kiln::rt::canonicalShape(const TensorInfo &info) {
  std::vector<int64_t> stored = concreteShape(info, 1);
  if (!info.permuted)
    return stored;
  std::vector<int64_t> shape(stored.size());
  for (size_t d = 0; d < shape.size(); ++d)
    shape[d] = stored[info.layout[d]];
  return shape;
}

/// Calls visit(canonicalIndex, storedIndex) for every element of `info`,
/// canonical indices in order.
template <typename Visit>
static void forEachElement(const TensorInfo &info, Visit visit) {
  std::vector<int64_t> stored = concreteShape(info, 1);
  int64_t n = elementCount(info, 1);
  if (!info.permuted) {
    for (int64_t k = 0; k < n; ++k)
      visit(k, k);
    return;
  }
  int rank = info.rank;
  // strides[d]: how far the stored index moves per step of canonical
  // dimension d.
  std::vector<int64_t> storedStrides(rank, 1), strides(rank);
  for (int d = rank - 2; d >= 0; --d)
    storedStrides[d] = storedStrides[d + 1] * stored[d + 1];
  std::vector<int64_t> shape = canonicalShape(info), index(rank, 0);
  for (int d = 0; d < rank; ++d)
    strides[d] = storedStrides[info.layout[d]];
  int64_t at = 0;
  for (int64_t k = 0; k < n; ++k) {
    visit(k, at);
    for (int d = rank - 1; d >= 0; --d) {
      at += strides[d];
      if (++index[d] < shape[d])
        break;
      at -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

void kiln::rt::toStoredLayout(const TensorInfo &info, const float *canonical,
                              float *stored) {
  forEachElement(info, [&](int64_t c, int64_t s) { stored[s] = canonical[c]; });
}

void kiln::rt::toCanonicalLayout(const TensorInfo &info, const float *stored,
                                 float *canonical) {
  forEachElement(info, [&](int64_t c, int64_t s) { canonical[c] = stored[s]; });
}

StateTensor *TrainState::find(std::string_view name) {
  for (StateTensor &t : tensors)
    if (name == t.info->name)
      return &t;
  return nullptr;
}

/// The InitSpec of an nn.init dictionary such as
/// {"kind":"uniform","low":-0.1,"high":0.1}; `json` must outlive it.
static bool parseInit(const char *text, JsonValue &json, InitSpec &spec,
                      std::string &why) {
  if (!parseJson(text, json, why))
    return false;
  const JsonValue *kind = json.find("kind");
  if (json.kind != JsonValue::Kind::Object || !kind ||
      kind->kind != JsonValue::Kind::String)
    return why = "no \"kind\"", false;
  auto number = [&](const char *key) {
    const JsonValue *v = json.find(key);
    return v && v->kind == JsonValue::Kind::Number ? v->number : 0.0;
  };
  spec.kind = kind->string;
  if (spec.kind == "constant")
    spec.a = number("value");
  else if (spec.kind == "uniform")
    spec.a = number("low"), spec.b = number("high");
  else if (spec.kind == "normal")
    spec.a = number("mean"), spec.b = number("std");
  return true;
}

bool kiln::rt::initialState(const Model &model, uint64_t seed,
                            TrainState &state, std::string &error) {
  TrainState fresh;
  for (int i = 0; i < model.train.numArgs; ++i) {
    const TensorInfo &info = model.train.args[i];
    if (info.role != Role::Param && info.role != Role::Buffer &&
        info.role != Role::OptState)
      continue;
    size_t count = size_t(elementCount(info, 1));
    fresh.tensors.push_back({&info, fresh.arena.size(), count});
    fresh.arena.resize(fresh.arena.size() + count, 0.0f);
  }
  for (const StateTensor &t : fresh.tensors) {
    const TensorInfo &info = *t.info;
    if (info.role == Role::OptState)
      continue;
    if (!info.init)
      return error = "the model gives no initializer for '" +
                     std::string(info.name) + "'",
             false;
    // Drawn in the canonical order, so a permuted parameter starts from
    // exactly the values it would have in PyTorch's layout.
    JsonValue json;
    InitSpec spec;
    std::string why;
    std::vector<float> canonical(t.count);
    if (!parseInit(info.init, json, spec, why) ||
        !initialize(spec, info.name, seed, canonical.data(),
                    int64_t(canonical.size())))
      return error = "unknown initializer " + std::string(info.init) +
                     " of '" + info.name + "'" +
                     (why.empty() ? "" : ": " + why),
             false;
    toStoredLayout(info, canonical.data(), fresh.values(t).data());
  }
  state = std::move(fresh);
  return true;
}

std::string kiln::rt::optimizerStatePath(const std::string &path) {
  constexpr std::string_view suffix = ".safetensors";
  if (path.size() > suffix.size() &&
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
    return path.substr(0, path.size() - suffix.size()) + ".optim" +
           std::string(suffix);
  return path + ".optim.safetensors";
}

/// Writes `bytes` to a new file beside `path`, synced; its name in `temp`.
static bool writeTemp(const std::string &path, const std::string &bytes,
                      std::string &temp, std::string &error) {
  temp = path + ".tmp-XXXXXX";
  int fd = mkstemp(temp.data());
  if (fd < 0)
    return error = path + ": cannot create a temporary file beside it: " +
                   std::strerror(errno),
           false;
  auto fail = [&](const char *what) {
    error = path + ": " + what + ": " + std::strerror(errno);
    close(fd);
    unlink(temp.c_str());
    return false;
  };
  // mkstemp makes the file private; a checkpoint is as readable as any
  // other output.
  if (fchmod(fd, 0644) != 0)
    return fail("cannot set permissions of the temporary file");
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail("write error");
    done += size_t(n);
  }
  if (fsync(fd) != 0)
    return fail("cannot sync");
  if (close(fd) != 0) {
    error = path + ": write error: " + std::strerror(errno);
    unlink(temp.c_str());
    return false;
  }
  return true;
}

/// Renames `temp` over `path` (removing `temp` if that fails) and syncs the
/// directory, so the rename itself survives a power cut.
static bool commitTemp(const std::string &temp, const std::string &path,
                       std::string &error) {
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    error = path + ": cannot rename the temporary file over it: " +
            std::strerror(errno);
    unlink(temp.c_str());
    return false;
  }
  // A directory that cannot be synced (some network file systems) still
  // holds a complete file.
  size_t slash = path.rfind('/');
  std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash + 1);
  int dirFd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dirFd >= 0) {
    fsync(dirFd);
    close(dirFd);
  }
  return true;
}

/// Replaces the pair `weightsPath` and `optimPath` with the two files'
/// bytes: both are written first, then renamed in; if the second rename
/// fails, the first is undone, so the old pair still matches.
static bool replacePair(const std::string &weightsPath,
                        const std::string &weightsBytes,
                        const std::string &optimPath,
                        const std::string &optimBytes, std::string &error) {
  for (const std::string &p : {weightsPath, optimPath}) {
    std::error_code ec;
    if (std::filesystem::exists(p, ec) &&
        !std::filesystem::is_regular_file(p, ec))
      return error = p + ": exists and is not a regular file; not replacing "
                         "it with a checkpoint",
             false;
  }
  std::string optimTemp, weightsTemp;
  if (!writeTemp(optimPath, optimBytes, optimTemp, error))
    return false;
  if (!writeTemp(weightsPath, weightsBytes, weightsTemp, error)) {
    unlink(optimTemp.c_str());
    return false;
  }
  std::string previous = optimTemp + ".previous";
  bool hadPrevious = link(optimPath.c_str(), previous.c_str()) == 0;
  if (!commitTemp(optimTemp, optimPath, error)) {
    unlink(weightsTemp.c_str());
    if (hadPrevious)
      unlink(previous.c_str());
    return false;
  }
  if (!commitTemp(weightsTemp, weightsPath, error)) {
    if (hadPrevious)
      std::rename(previous.c_str(), optimPath.c_str());
    else
      unlink(optimPath.c_str());
    error += " (" + optimPath + " is as it was)";
    return false;
  }
  if (hadPrevious)
    unlink(previous.c_str());
  return true;
}

/// The metadata both files of a checkpoint carry.
static std::map<std::string, std::string> metadataOf(const Model &model,
                                                     const TrainState &state) {
  std::map<std::string, std::string> m = state.runInfo;
  m["format"] = "pt";
  m[kModelKey] = model.name;
  m[kStepKey] = std::to_string(state.step);
  m[kEpochKey] = std::to_string(state.epoch);
  m[kBatchKey] = std::to_string(state.batch);
  return m;
}

/// `t` of `state` in the canonical layout, as checkpoints hold it.
static StoredTensor toStored(const TrainState &state, const StateTensor &t) {
  StoredTensor s;
  s.dtype = DType::F32;
  s.shape = canonicalShape(*t.info);
  s.bytes.resize(t.count * sizeof(float));
  std::vector<float> canonical(t.count);
  toCanonicalLayout(*t.info, state.values(t).data(), canonical.data());
  if (t.count)
    std::memcpy(s.bytes.data(), canonical.data(), s.bytes.size());
  return s;
}

static bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

bool kiln::rt::saveCheckpoint(const std::string &path, const Model &model,
                              const TrainState &state, std::string &error) {
  // A NaN or infinity can reach the weights without reaching the loss (a
  // kernel's max, like x86's, drops NaN): such a state is never written
  // over a checkpoint.
  for (const StateTensor &t : state.tensors) {
    Span<const float> values = state.values(t);
    auto bad = std::find_if(values.begin(), values.end(),
                            [](float v) { return !std::isfinite(v); });
    if (bad != values.end())
      return error = std::string(t.info->name) + "[" +
                     std::to_string(bad - values.begin()) + "] is " +
                     std::to_string(*bad) + " after step " +
                     std::to_string(state.step) + "; not saving " + path +
                     (std::filesystem::exists(path)
                          ? ", which still holds the last good checkpoint"
                          : ""),
             false;
  }
  SafetensorsFile weights, optimizer;
  weights.metadata = optimizer.metadata = metadataOf(model, state);
  for (const StateTensor &t : state.tensors) {
    std::string name = t.info->name;
    if (t.info->role == Role::OptState) {
      optimizer.tensors[name] = toStored(state, t);
      continue;
    }
    weights.tensors[name] = toStored(state, t);
    if (t.info->role == Role::Buffer && endsWith(name, kRunningMean))
      weights.tensors[name.substr(0, name.size() - kRunningMean.size()) +
                      std::string(kBatchesTracked)] =
          StoredTensor::fromInts({}, {state.step});
  }
  return replacePair(path, serializeSafetensors(weights),
                     optimizerStatePath(path), serializeSafetensors(optimizer),
                     error);
}

/// Copies the tensors of `roles` from `file` (read from `path`) into
/// `state`, requiring each and refusing any other name except what
/// `tolerated` accepts (it sets `why` to refuse a tolerated name).
template <typename Tolerated>
static bool takeTensors(const std::string &path, const SafetensorsFile &file,
                        std::initializer_list<Role> roles, TrainState &state,
                        Tolerated tolerated, std::string &error) {
  auto wanted = [&](const StateTensor &t) {
    for (Role r : roles)
      if (t.info->role == r)
        return true;
    return false;
  };
  for (StateTensor &t : state.tensors) {
    if (!wanted(t))
      continue;
    auto it = file.tensors.find(t.info->name);
    if (it == file.tensors.end())
      return error = path + ": has no tensor '" + t.info->name +
                     "' (is it a checkpoint of another model?)",
             false;
    const StoredTensor &stored = it->second;
    std::vector<int64_t> expected = canonicalShape(*t.info);
    if (stored.shape != expected)
      return error = path + ": '" + t.info->name + "' has shape " +
                     formatShape(stored.shape) + "; the model expects " +
                     formatShape(expected),
             false;
    if (stored.dtype == DType::I64)
      return error = path + ": '" + t.info->name +
                     "' holds integers (I64); the model expects F32 or F64",
             false;
    std::vector<double> values = stored.toDoubles();
    std::vector<float> canonical(values.begin(), values.end());
    // A NaN or infinity (or an F64 beyond f32's range) would turn every
    // result into NaN, and evaluations into meaningless reports.
    auto bad = std::find_if(canonical.begin(), canonical.end(),
                            [](float v) { return !std::isfinite(v); });
    if (bad != canonical.end())
      return error = path + ": '" + t.info->name + "'[" +
                     std::to_string(bad - canonical.begin()) + "] is " +
                     std::to_string(values[bad - canonical.begin()]) +
                     " (not a finite f32)",
             false;
    toStoredLayout(*t.info, canonical.data(), state.values(t).data());
  }
  for (const auto &[name, stored] : file.tensors) {
    StateTensor *t = state.find(name);
    if (t && wanted(*t))
      continue;
    std::string why;
    if (tolerated(name, stored, why))
      continue;
    if (why.empty())
      why = t && t->info->role == Role::OptState
                ? "'" + name +
                      "' is optimizer state (pass the model file, "
                      "not its .optim file)"
                : "has unexpected tensor '" + name +
                      "' (is it a checkpoint of another model?)";
    return error = path + ": " + why, false;
  }
  return true;
}

/// Copies the parameters and buffers of `file` (read from `path`) into
/// `state`.
static bool takeWeights(const std::string &path, const SafetensorsFile &file,
                        TrainState &state, std::string &error) {
  // `<p>.num_batches_tracked` belongs to a batch norm whose running mean the
  // model has; kiln derives it from the step, so its value is not needed.
  auto batchesTracked = [&](const std::string &name, const StoredTensor &t,
                            std::string &why) {
    if (!endsWith(name, kBatchesTracked))
      return false;
    std::string mean = name.substr(0, name.size() - kBatchesTracked.size()) +
                       std::string(kRunningMean);
    StateTensor *owner = state.find(mean);
    if (!owner || owner->info->role != Role::Buffer)
      return false;
    if (t.dtype != DType::I64 || t.numel() != 1)
      return why = "'" + name + "' should be one I64 count, not " +
                   dtypeName(t.dtype) + " " + formatShape(t.shape),
             false;
    return true;
  };
  return takeTensors(path, file, {Role::Param, Role::Buffer}, state,
                     batchesTracked, error);
}

bool kiln::rt::loadWeights(const std::string &path, TrainState &state,
                           std::string &error) {
  SafetensorsFile file;
  TrainState loaded = state;
  if (!readSafetensors(path, file, error) ||
      !takeWeights(path, file, loaded, error))
    return false;
  state = std::move(loaded);
  return true;
}

/// The integer metadata `key` of `file` (read from `path`).
static bool metadataInt(const std::string &path, const SafetensorsFile &file,
                        const char *key, int64_t &out, std::string &error) {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end())
    return error = path + ": has no '" + key +
                   "' metadata, so it is not a kiln checkpoint to resume "
                   "(--init-from starts from its weights instead)",
           false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end || errno || v < 0)
    return error = path + ": metadata '" + key + "' is '" + it->second +
                   "', not a count",
           false;
  out = v;
  return true;
}

bool kiln::rt::loadCheckpoint(const std::string &path, TrainState &state,
                              std::string &error) {
  SafetensorsFile weights, optimizer;
  std::string optimPath = optimizerStatePath(path);
  TrainState loaded = state;
  if (!readSafetensors(path, weights, error) ||
      !takeWeights(path, weights, loaded, error) ||
      !readSafetensors(optimPath, optimizer, error))
    return false;
  auto nothingElse = [](const std::string &, const StoredTensor &,
                        std::string &) { return false; };
  if (!takeTensors(optimPath, optimizer, {Role::OptState}, loaded, nothingElse,
                   error))
    return false;
  int64_t optimStep;
  if (!metadataInt(path, weights, kStepKey, loaded.step, error) ||
      !metadataInt(path, weights, kEpochKey, loaded.epoch, error) ||
      !metadataInt(path, weights, kBatchKey, loaded.batch, error) ||
      !metadataInt(optimPath, optimizer, kStepKey, optimStep, error))
    return false;
  if (optimStep != loaded.step)
    return error = optimPath + ": holds the optimizer state of step " +
                   std::to_string(optimStep) + " but " + path +
                   " is from step " + std::to_string(loaded.step) +
                   " (a save was interrupted between the two files)",
           false;
  loaded.runInfo.clear();
  for (const auto &[key, value] : weights.metadata)
    if (key.rfind("kiln_", 0) == 0 && key != kStepKey && key != kEpochKey &&
        key != kBatchKey && key != kModelKey)
      loaded.runInfo[key] = value;
  state = std::move(loaded);
  return true;
}
