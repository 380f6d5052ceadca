//===- TrainerStep.cpp - step calls, the steps command ----------*- C++ -*-===//
//
// Part of kiln. StepCall binds a compiled step function to the training
// state (see TrainerCommands.h). The `steps` command runs train_step on
// arguments read by name from a safetensors file, feeding each run's
// results back the way `kiln-run --steps` does, so the compiled kernels can
// be compared with the reference evaluator tensor by tensor.
//
//===----------------------------------------------------------------------===//

#include "runtime/Random.h"
#include "runtime/Safetensors.h"
#include "runtime/TrainerCommands.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace kiln::rt;
using namespace kiln::rt::trainer;

static bool isState(Role role) {
  return role == Role::Param || role == Role::Buffer || role == Role::OptState;
}

/// One array of `info` bound to the state tensor of its name, or with its
/// own storage for up to `maxBatch` samples when it is not state.
static StepArray makeArray(const TensorInfo &info, TrainState &state,
                           int64_t maxBatch) {
  StepArray a;
  a.info = &info;
  if (isState(info.role))
    a.state = state.find(info.name);
  if (a.state)
    return a;
  int64_t n = elementCount(info, maxBatch);
  if (info.type == ElemType::F32)
    a.f.assign(n, 0.0f);
  else
    a.i.assign(n, 0);
  return a;
}

/// Places the state arrays of `arrays` back to back in `arena`, in order.
static void packInto(std::vector<StepArray> &arrays,
                     std::vector<float> &arena) {
  size_t size = 0;
  for (StepArray &a : arrays)
    if (a.state) {
      a.arena = &arena;
      a.offset = size;
      size += a.state->count;
    }
  arena.assign(size, 0.0f);
}

StepCall::StepCall(const StepFunction &fn, TrainState &state, int64_t maxBatch)
    : fn(fn), state(state) {
  for (int k = 0; k < fn.numArgs; ++k)
    args.push_back(makeArray(fn.args[k], state, maxBatch));
  for (int k = 0; k < fn.numResults; ++k)
    results.push_back(makeArray(fn.results[k], state, maxBatch));

  // The state arguments are read in place when they already form one run
  // of the state's arena (every train_step; an eval_step whose state is a
  // prefix of train_step's); otherwise run() gathers them.
  const StateTensor *previous = nullptr;
  bool inPlace = true;
  for (StepArray &a : args)
    if (a.state) {
      inPlace &= !previous || a.state->offset == previous->offset +
                                                     previous->count;
      previous = a.state;
    }
  this->inPlace = inPlace;
  if (inPlace) {
    for (StepArray &a : args)
      if (a.state) {
        a.arena = &state.arena;
        a.offset = a.state->offset;
      }
  } else {
    packInto(args, gathered);
  }

  packInto(results, resultArena);
  // The result arena can become the state's when it holds the same tensors
  // in the same order, hence at the same offsets.
  std::vector<const StateTensor *> updated;
  for (StepArray &r : results)
    if (r.state)
      updated.push_back(r.state);
  swaps = updated.size() == state.tensors.size();
  for (size_t k = 0; swaps && k < updated.size(); ++k)
    swaps = updated[k] == &state.tensors[k];

  device = fn.runOnDevice ? deviceInUse() : nullptr;
  if (device)
    placeOnDevice(maxBatch);
}

/// Bytes of `info`'s array for `batch` samples.
static int64_t bytesOf(const TensorInfo &info, int64_t batch) {
  return elementCount(info, batch) *
         (info.type == ElemType::I64 ? int64_t(sizeof(int64_t))
                                     : int64_t(sizeof(float)));
}

void StepCall::placeOnDevice(int64_t maxBatch) {
  const std::vector<float> &stateArgs = inPlace ? state.arena : gathered;
  // The other arrays back to back, each at an offset every device can view
  // in place (Device.h's viewAlignment).
  int64_t other = 0;
  std::vector<int64_t> offsets;
  for (std::vector<StepArray> *arrays : {&args, &results})
    for (StepArray &a : *arrays)
      if (!a.arena) {
        offsets.push_back(other);
        other += (bytesOf(*a.info, maxBatch) + 511) / 512 * 512;
      }
  // An allocation that fails is reported by the first run.
  if (!(deviceState = device->allocate(
            int64_t(stateArgs.size() * sizeof(float)))) ||
      !(deviceResults = device->allocate(
            int64_t(resultArena.size() * sizeof(float)))) ||
      !(deviceOther = device->allocate(other)))
    return;
  size_t k = 0;
  for (std::vector<StepArray> *arrays : {&args, &results}) {
    DeviceBuffer *stateBuffer = arrays == &args ? deviceState : deviceResults;
    for (StepArray &a : *arrays) {
      if (a.arena)
        a.device = device->at(stateBuffer, int64_t(a.offset * sizeof(float)));
      else
        a.device = device->at(deviceOther, offsets[k++]);
    }
  }
}

StepCall::~StepCall() {
  if (device)
    for (DeviceBuffer *b : {deviceState, deviceResults, deviceOther})
      if (b)
        device->release(b);
}

bool StepCall::deviceError(const char *what, int code,
                           std::string &error) const {
  if (code == 0)
    return true;
  return error = std::string(what) + " failed on the GPU (Halide error " +
                 std::to_string(code) + "): " + device->lastError(),
         false;
}

/// The array of `role` in `arrays`, or null.
static StepArray *withRole(std::vector<StepArray> &arrays, Role role) {
  for (StepArray &a : arrays)
    if (a.info->role == role)
      return &a;
  return nullptr;
}

float *StepCall::inputs() {
  StepArray *a = withRole(args, Role::Input);
  return a && !a->f.empty() ? a->f.data() : nullptr;
}

int64_t *StepCall::indexInputs() {
  StepArray *a = withRole(args, Role::Input);
  return a && !a->i.empty() ? a->i.data() : nullptr;
}

int64_t *StepCall::labels() {
  StepArray *a = withRole(args, Role::Target);
  return a && !a->i.empty() ? a->i.data() : nullptr;
}

float *StepCall::targets() {
  StepArray *a = withRole(args, Role::Target);
  return a && !a->f.empty() ? a->f.data() : nullptr;
}

void StepCall::setStep(int64_t step, uint64_t seed) {
  for (StepArray &a : args) {
    if (a.info->role == Role::Step)
      a.f[0] = float(step);
    else if (a.info->role == Role::Seed)
      a.i[0] = int64_t(randomBits(seed, uint64_t(step)));
  }
}

bool StepCall::run(int64_t batch, std::string &error) {
  if (batch < fn.minBatch)
    return error = "a batch of " + std::to_string(batch) +
                   " sample(s): " + batchNormNeeds(fn.minBatch),
           false;
  for (StepArray &a : args)
    if (a.arena == &gathered)
      std::copy(state.values(*a.state).begin(), state.values(*a.state).end(),
                gathered.begin() + a.offset);
  if (device)
    return runOnDevice(batch, error);
  std::vector<void *> argPtrs, resultPtrs;
  for (StepArray &a : args)
    argPtrs.push_back(a.data());
  for (StepArray &r : results)
    resultPtrs.push_back(r.data());
  int status = fn.run(batch, argPtrs.data(), resultPtrs.data());
  if (status != 0)
    return error = "a kernel failed (status " + std::to_string(status) +
                   ") on a batch of " + std::to_string(batch) + " samples",
           false;
  return true;
}

bool StepCall::runOnDevice(int64_t batch, std::string &error) {
  if (!deviceState || !deviceResults || !deviceOther)
    return error = std::string("cannot allocate the step's arrays on the "
                               "GPU: ") +
                   device->lastError(),
           false;
  if (!deviceError("committing the last step's state", commitError, error))
    return false;
  // The gathered state changes with every commit; the state's own arena
  // only when the host wrote it.
  if (deviceStale || !inPlace) {
    const std::vector<float> &host = inPlace ? state.arena : gathered;
    if (!deviceError("uploading the state",
                     device->upload(device->at(deviceState, 0), host.data(),
                                    int64_t(host.size() * sizeof(float))),
                     error))
      return false;
    deviceStale = false;
  }
  std::vector<DevicePtr> argPtrs, resultPtrs;
  for (StepArray &a : args) {
    if (!a.arena &&
        !deviceError("uploading an argument",
                     device->upload(a.device, a.data(),
                                    bytesOf(*a.info, batch)),
                     error))
      return false;
    argPtrs.push_back(a.device);
  }
  for (StepArray &r : results)
    resultPtrs.push_back(r.device);
  int status = fn.runOnDevice(batch, argPtrs.data(), resultPtrs.data());
  if (status != 0)
    return error = "a kernel failed on the GPU (status " +
                   std::to_string(status) + ") on a batch of " +
                   std::to_string(batch) + " samples",
           false;
  for (StepArray &r : results)
    if (!r.arena && !deviceError("downloading a result",
                                 device->download(r.data(), r.device,
                                                  bytesOf(*r.info, batch)),
                                 error))
      return false;
  return true;
}

void StepCall::commit() {
  if (device) {
    // The state on the device becomes the results; the host's copy waits
    // for syncState.
    hostStale = true;
    if (swaps) {
      device->swap(deviceState, deviceResults);
      return;
    }
    for (StepArray &r : results)
      if (r.state && !commitError) {
        int64_t bytes = int64_t(r.state->count * sizeof(float));
        commitError =
            inPlace ? device->copy(device->at(deviceState,
                                              int64_t(r.state->offset *
                                                      sizeof(float))),
                                   r.device, bytes)
                    : device->download(state.values(*r.state).data(),
                                       r.device, bytes);
      }
    if (!inPlace)
      hostStale = false;
    return;
  }
  if (swaps) {
    state.arena.swap(resultArena);
    return;
  }
  for (StepArray &r : results)
    if (r.state)
      std::copy_n(resultArena.begin() + r.offset, r.state->count,
                  state.values(*r.state).begin());
}

bool StepCall::syncState(std::string &error) {
  if (!device || !hostStale)
    return true;
  if (!deviceError("committing the last step's state", commitError, error))
    return false;
  if (!deviceError("downloading the state",
                   device->download(state.arena.data(),
                                    device->at(deviceState, 0),
                                    int64_t(state.arena.size() *
                                            sizeof(float))),
                   error))
    return false;
  hostStale = false;
  return true;
}

bool StepCall::fetchStateResults(std::string &error) {
  if (!device)
    return true;
  return deviceError("downloading the results",
                     device->download(resultArena.data(),
                                      device->at(deviceResults, 0),
                                      int64_t(resultArena.size() *
                                              sizeof(float))),
                     error);
}

double StepCall::loss() const {
  for (const StepArray &r : results)
    if (r.info->role == Role::Output && std::strcmp(r.info->name, "loss") == 0)
      return r.f.empty() ? NAN : r.f[0];
  return NAN;
}

const StepArray *StepCall::prediction() const {
  for (const StepArray &r : results)
    if (r.info->role == Role::Output &&
        std::strcmp(r.info->name, "predict") == 0)
      return &r;
  return nullptr;
}

/// Copies the file's tensor named like `a` into it (or into its state, in
/// the layout the step functions use).
static bool readArgument(const std::string &path, const SafetensorsFile &file,
                         int index, int64_t batch, StepArray &a,
                         TrainState &state, std::string &error) {
  const TensorInfo &info = *a.info;
  auto it = file.tensors.find(info.name);
  if (it == file.tensors.end())
    return error = path + ": has no tensor '" + info.name +
                   "' for train_step's argument " + std::to_string(index),
           false;
  const StoredTensor &stored = it->second;
  bool integer = info.type == ElemType::I64;
  if (integer != (stored.dtype == DType::I64))
    return error = path + ": '" + info.name + "' is " +
                   dtypeName(stored.dtype) + " but train_step takes " +
                   (integer ? "I64" : "F32 (or F64)"),
           false;
  std::vector<int64_t> shape =
      a.state ? canonicalShape(info) : concreteShape(info, batch);
  if (stored.shape != shape)
    return error = path + ": '" + info.name + "' has shape " +
                   formatShape(stored.shape) + "; train_step expects " +
                   formatShape(shape),
           false;
  if (integer) {
    std::vector<int64_t> v = stored.toInts();
    std::copy(v.begin(), v.end(), a.i.begin());
    return true;
  }
  std::vector<double> v = stored.toDoubles();
  if (a.state) {
    std::vector<float> canonical(v.begin(), v.end());
    toStoredLayout(info, canonical.data(), state.values(*a.state).data());
    return true;
  }
  std::copy(v.begin(), v.end(), a.f.begin());
  return true;
}

bool trainer::runSteps(const Options &options, const Model &model,
                       std::string &error) {
  if (!options.has("inputs"))
    return error = "steps needs --inputs FILE (train_step's arguments by "
                   "name)",
           false;
  int64_t steps = 1;
  if (!options.integer("steps", 1, steps, error) ||
      !applyKernelOptions(options, model, error))
    return false;
  std::string path = options.text("inputs");
  SafetensorsFile file;
  TrainState state;
  if (!readSafetensors(path, file, error) ||
      !initialState(model, 0, state, error))
    return false;

  // The batch is whatever the file's input holds.
  int64_t batch = -1;
  std::string input;
  for (int k = 0; k < model.train.numArgs; ++k) {
    const TensorInfo &info = model.train.args[k];
    auto it = file.tensors.find(info.name);
    if (info.role == Role::Input && it != file.tensors.end() &&
        !it->second.shape.empty())
      batch = it->second.shape[0], input = info.name;
  }
  if (batch < 0)
    return error = path + ": has no input tensor with a batch dimension", false;
  if (batch == 0)
    return error = path + ": input '" + input + "' holds no samples", false;

  StepCall call(model.train, state, batch);
  for (size_t k = 0; k < call.args.size(); ++k)
    if (!readArgument(path, file, int(k), batch, call.args[k], state, error))
      return false;
  // Class labels must name a class (the kernels would read past the
  // logits' row).
  // Likewise ids must name a row of the embedding table they index.
  for (const StepArray &a : call.args) {
    int64_t limit = 0;
    std::string what;
    if (a.info->role == Role::Target && model.task == Task::Multiclass)
      limit = model.numClasses, what = "a class";
    if (a.info->role == Role::Input && model.indexRows > 0)
      limit = model.indexRows, what = "a row of the embedding table";
    for (size_t i = 0; limit > 0 && i < a.i.size(); ++i)
      if (a.i[i] < 0 || a.i[i] >= limit)
        return error = path + ": " + a.info->name + "[" + std::to_string(i) +
                       "] is " + std::to_string(a.i[i]) + ", not " + what +
                       " in [0, " + std::to_string(limit) + ")",
               false;
  }

  for (int64_t s = 1; s <= steps; ++s) {
    if (!call.run(batch, error))
      return false;
    std::printf("step %lld loss %.9g\n", static_cast<long long>(s),
                call.loss());
    if (s == steps)
      break;
    call.commit();
    // Like kiln-run --steps: the step counter advances, the seed stays.
    for (StepArray &a : call.args)
      if (a.info->role == Role::Step)
        a.f[0] += 1;
  }

  if (!options.has("outputs"))
    return true;
  if (!call.fetchStateResults(error))
    return false;
  SafetensorsFile out;
  for (StepArray &r : call.results) {
    std::vector<int64_t> shape = concreteShape(*r.info, batch);
    int64_t n = elementCount(*r.info, batch);
    if (r.info->type == ElemType::I64) {
      out.tensors[r.info->name] = StoredTensor::fromInts(
          shape, std::vector<int64_t>(r.i.begin(), r.i.begin() + n));
      continue;
    }
    // Updated state in the canonical layout, like the --inputs file.
    std::vector<float> canonical(static_cast<float *>(r.data()),
                                 static_cast<float *>(r.data()) + n);
    if (r.info->permuted) {
      shape = canonicalShape(*r.info);
      toCanonicalLayout(*r.info, static_cast<float *>(r.data()),
                        canonical.data());
    }
    StoredTensor t;
    t.shape = shape;
    t.bytes.resize(size_t(n) * sizeof(float));
    std::memcpy(t.bytes.data(), canonical.data(), t.bytes.size());
    out.tensors[r.info->name] = std::move(t);
  }
  return writeSafetensors(options.text("outputs"), out, error);
}
