//===- Model.h - the interface between a step program and the runtime -*- C++ -*-===//
//
// Part of kiln. The generated step program (codegen/StepProgram.cpp writes
// it) defines `kiln::rt::generatedModel()`: a description of the model's
// train_step and eval_step functions (every argument and result named as in
// docs/ir.md, with its role, element type and shape) and one entry point per
// function that runs its kernels. The runtime (trainer loop, checkpoints,
// data) only talks to a model through this header, so it never depends on
// what a particular model computes.
//
// Tensors cross this interface as dense row-major arrays, in PyTorch's
// layout unless TensorInfo::permuted says the compiler chose another one;
// the batch dimension is written -1 in shapes and fixed per call.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_MODEL_H
#define KILN_RUNTIME_MODEL_H

#include <cstdint>

struct halide_buffer_t;

namespace kiln::rt {

/// A place in device memory: `offset` bytes into the allocation `base` (a
/// one-dimensional byte buffer of the GPU API; runtime/Device.h).
struct DevicePtr {
  halide_buffer_t *base = nullptr;
  int64_t offset = 0;

  DevicePtr operator+(int64_t bytes) const { return {base, offset + bytes}; }
};

/// A device allocation (runtime/Device.h); opaque to the runtime.
class DeviceBuffer;

/// Device memory operations of a trainer built with GPU kernels. The
/// generated step program defines them (runtime/Device.h), since it links
/// Halide's runtime; the trainer's runtime reaches the GPU only through
/// them. Functions returning int return 0 or Halide's error code.
struct DeviceApi {
  /// Finds the device and makes Halide keep freed device memory for reuse
  /// (a step's kernels then allocate nothing after the first step).
  int (*open)();
  /// `bytes` bytes of device memory, or null (then lastError says why).
  DeviceBuffer *(*allocate)(int64_t bytes);
  void (*release)(DeviceBuffer *);
  DevicePtr (*at)(DeviceBuffer *, int64_t offset);
  /// Exchanges two allocations' memory; pointers into each follow it.
  void (*swap)(DeviceBuffer *, DeviceBuffer *);
  int (*upload)(DevicePtr dst, const void *host, int64_t bytes);
  int (*download)(void *host, DevicePtr src, int64_t bytes);
  int (*copy)(DevicePtr dst, DevicePtr src, int64_t bytes);
  /// Blocks until the device has finished the work queued on it.
  int (*synchronize)();
  /// Queues a kernel of `threads` threads that does only FMAs, writing one
  /// float per thread at `out`, and sets `flops` to its FLOP count: for the
  /// roofline of `trainer bench --device`.
  int (*peakFma)(DevicePtr out, int64_t threads, double *flops);
  /// Halide's last error message on this thread.
  const char *(*lastError)();
};

/// What an argument or result of a step function is (its nn.* attribute).
enum class Role {
  Input,    ///< nn.input: the model input, one row per sample
  Target,   ///< nn.target: labels (i64) or regression targets (f32)
  Param,    ///< nn.param: a parameter; as a result, its updated value
  Buffer,   ///< nn.buffer: state such as batch-norm running statistics
  OptState, ///< nn.opt_state: optimizer state such as exp_avg
  Step,     ///< nn.step: the 1-based optimizer step, an f32 scalar
  Seed,     ///< nn.seed: the i64 seed of the step's dropout masks
  Output,   ///< nn.output: loss, predict or another named output
  Grad,     ///< nn.grad: a gradient (only when autodiff keeps them)
};

enum class ElemType { F32, I64 };

constexpr int kMaxRank = 6;

/// One argument or result of a step function.
struct TensorInfo {
  Role role;
  /// Checkpoint key, "loss"/"predict"/"step"/"seed", or "grad.<param>"
  /// (kiln::nn::argumentName and resultName).
  const char *name;
  ElemType type;
  int rank;
  int64_t shape[kMaxRank]; ///< -1 marks the batch dimension
  /// For parameters and buffers: the nn.init dictionary as JSON, e.g.
  /// {"kind":"uniform","low":-0.1,"high":0.1}; nullptr otherwise.
  const char *init;
  bool frozen; ///< nn.frozen parameters are arguments but never results
  /// nn.layout (set by kiln-layout): the array holds the tensor permuted into
  /// the layout its kernels want, and `shape` is that stored shape; the
  /// canonical (PyTorch) tensor is transpose(stored, layout), i.e. canonical
  /// dimension d is stored dimension layout[d]. Checkpoints, initializers
  /// and the steps command use the canonical layout (runtime/Checkpoint.h
  /// permutes on the way). False for every tensor kept as PyTorch lays it out.
  bool permuted;
  int layout[kMaxRank];
};

/// One kernel call of a step function, for profiles and `trainer bench`.
struct KernelCall {
  const char *kernel; ///< the kernel's symbol
  const char *op;     ///< the nn op it computes ("nn.matmul")
  /// Floating-point operations of one call: flopsPerSample * batch + flops
  /// (counted for GEMMs and convolutions; 0 for the rest).
  int64_t flopsPerSample, flops;
  /// Bytes of every operand and result of one call, bytesPerSample * batch +
  /// bytes: the traffic the call cannot avoid (each read and written once),
  /// the x axis of a roofline.
  int64_t bytesPerSample, bytes;
  /// The source ops and their model lines: "matmul+add+relu (mlp.kiln:6-7)".
  const char *source;
};

/// One compiled function (train_step or eval_step).
struct StepFunction {
  int numArgs;
  const TensorInfo *args;
  int numResults;
  const TensorInfo *results;
  /// Runs the function on `batch` samples: args[i] and results[i] point at
  /// dense arrays of the shapes above (batch substituted). Results never
  /// alias arguments. The state arena: the arguments whose role is Param,
  /// Buffer or OptState lie back to back in one array, in argument order,
  /// each starting where the previous one ends; the results of those roles
  /// likewise in a second array, in result order. The step program relies
  /// on it to update every parameter with one kernel (see nn.pack).
  /// Returns 0, or nonzero after printing which kernel failed and Halide's
  /// message (runtime/StepSupport.h).
  int (*run)(int64_t batch, void *const *args, void *const *results);
  /// The same on the GPU (Model::gpu), every array in device memory; null
  /// when the trainer was built without GPU kernels.
  int (*runOnDevice)(int64_t batch, const DevicePtr *args,
                     const DevicePtr *results);
  /// Its kernel calls in program order.
  int numCalls;
  const KernelCall *calls;
  /// Bytes of intermediates, {per sample, fixed}: as planned (slots reused
  /// once dead), and with one slot per tensor, for comparison.
  int64_t arenaBytes[2];
  int64_t unplannedBytes[2];
  /// The smallest batch it accepts: 2 when a batch norm in training mode
  /// would see one value per channel (no variance; PyTorch refuses it
  /// too), else 1.
  int64_t minBatch;
};

/// What the loss makes of the target, and so how predictions are scored.
enum class Task {
  Multiclass, ///< cross_entropy or nll: i64 labels, predict is a class index
  Binary,     ///< binary_cross_entropy: f32 0/1 targets, predict a
              ///< probability (correct when it is on the target's side of 0.5)
  Regression, ///< mse: f32 targets, no accuracy
};

/// A compiled model.
struct Model {
  const char *name;      ///< the model's name in the .kiln file
  const char *source;    ///< path of the .kiln file it was compiled from
  const char *trainJson; ///< the nn.train dictionary as JSON (docs/ir.md)
  const char *target;    ///< the Halide target the kernels were built for
  /// The GPU API of the device kernels ("cuda", "opencl"), or null.
  const char *gpu;
  /// Device memory for StepFunction::runOnDevice; null without GPU kernels.
  const DeviceApi *device;
  Task task;
  int64_t numClasses;    ///< classes of a Multiclass model (2 for Binary)
  /// The i64 input's values must lie in [0, indexRows): the rows of the
  /// smallest embedding table they index (0: they index none).
  int64_t indexRows;
  StepFunction train;    ///< train_step: forward, backward, optimizer update
  StepFunction eval;     ///< eval_step: forward in inference mode
};

/// Defined by the generated step program.
const Model &generatedModel();

/// Sets the number of threads the kernels may use (0: one per core).
void setKernelThreads(int threads);

/// With `seconds` non-null, every kernel call adds its wall time to
/// seconds[c] (c: the call's index in train.calls, or train.numCalls plus
/// its index in eval.calls); null stops profiling.
void setKernelProfile(double *seconds);

} // namespace kiln::rt

#endif // KILN_RUNTIME_MODEL_H
