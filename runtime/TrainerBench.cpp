//===- TrainerBench.cpp - the trainer's bench command -----------*- C++ -*-===//
//
// Part of kiln. `trainer bench` times full training steps (forward,
// backward, optimizer update: one train_step call) on random data of the
// model's shapes, from the model's initial weights, and prints the median
// and minimum time per step. With --profile it then times every kernel
// call over the same number of steps and prints where the step's time goes,
// with GFLOP/s for GEMMs and convolutions. Benchmarks, not tests: run them
// beside a peer measured in the same run (bench/).
//
//===----------------------------------------------------------------------===//

#include "runtime/Random.h"
#include "runtime/TrainerCommands.h"

#include <algorithm>
#include <chrono>

using namespace kiln::rt;
using namespace kiln::rt::trainer;

namespace {

/// Random inputs in [-1, 1), labels in range, targets in [0, 1): the
/// kernels' speed does not depend on the values, but zeros could hide work.
void fillBatch(const Model &model, StepCall &call, int64_t batch) {
  SampleSpec spec = sampleSpec(model);
  int64_t inputSize = 1;
  for (int64_t d : spec.inputShape)
    inputSize *= d;
  if (float *x = call.inputs())
    for (int64_t i = 0; i < batch * inputSize; ++i)
      x[i] = float(2 * uniform01(fnv1a("bench.x"), i) - 1);
  if (int64_t *y = call.labels())
    for (int64_t i = 0; i < batch; ++i)
      y[i] = int64_t(uniform01(fnv1a("bench.y"), i) *
                     double(std::max<int64_t>(model.numClasses, 1)));
  if (float *t = call.targets()) {
    int64_t targetSize = 1;
    for (int64_t d : spec.targetShape)
      targetSize *= d;
    for (int64_t i = 0; i < batch * targetSize; ++i)
      t[i] = float(uniform01(fnv1a("bench.t"), i));
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

bool trainer::runBench(const Options &options, const Model &model,
                       std::string &error) {
  JsonValue block;
  if (!parseTrainBlock(model, block, error))
    return false;
  int64_t batch = jsonInt(block, "batch", 32), steps = 100, warmup = 10;
  if (!options.integer("batch", 1, batch, error) ||
      !options.integer("steps", 1, steps, error) ||
      !options.integer("warmup", 0, warmup, error) ||
      !applyThreads(options, error))
    return false;
  TrainState state;
  if (!initialState(model, 0, state, error))
    return false;
  StepCall call(model.train, state, batch);
  fillBatch(model, call, batch);

  // The weights move a little every step (commit), as in training.
  auto step = [&](int64_t s) {
    call.setStep(s + 1, 0);
    if (!call.run(batch, error))
      return false;
    call.commit();
    return true;
  };
  for (int64_t s = 0; s < warmup; ++s)
    if (!step(s))
      return false;
  std::vector<double> times;
  for (int64_t s = 0; s < steps; ++s) {
    auto start = std::chrono::steady_clock::now();
    if (!step(warmup + s))
      return false;
    times.push_back(std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count());
  }
  double med = median(times), best = *std::min_element(times.begin(), times.end());
  std::printf("%s train_step batch %lld: median %.1f us, min %.1f us, "
              "%.0f samples/s (%lld steps)\n",
              model.name, static_cast<long long>(batch), med * 1e6,
              best * 1e6, double(batch) / med, static_cast<long long>(steps));
  if (!options.has("profile"))
    return true;

  const StepFunction &fn = model.train;
  std::vector<double> seconds(size_t(fn.numCalls + model.eval.numCalls), 0);
  setKernelProfile(seconds.data());
  for (int64_t s = 0; s < steps; ++s)
    if (!step(warmup + steps + s)) {
      setKernelProfile(nullptr);
      return false;
    }
  setKernelProfile(nullptr);
  double total = 0;
  for (int c = 0; c < fn.numCalls; ++c)
    total += seconds[c];
  std::vector<int> order(fn.numCalls);
  for (int c = 0; c < fn.numCalls; ++c)
    order[c] = c;
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return seconds[a] > seconds[b]; });
  std::printf("\nkernel calls of train_step (%d calls, %.1f us of kernels a "
              "step):\n  %4s  %-26s %-24s %10s %6s %9s\n",
              fn.numCalls, total / double(steps) * 1e6, "#", "kernel", "op",
              "us/call", "%", "GFLOP/s");
  for (int c : order) {
    const KernelCall &k = fn.calls[c];
    double perCall = seconds[c] / double(steps);
    double flops = double(k.flopsPerSample) * double(batch) + double(k.flops);
    std::printf("  %4d  %-26s %-24s %10.2f %6.1f", c, k.kernel, k.op,
                perCall * 1e6, 100 * seconds[c] / total);
    if (flops > 0)
      std::printf(" %9.1f", flops / perCall * 1e-9);
    std::printf("\n");
  }
  return true;
}
