//===- StepSupport.h - what a generated step program builds on ---*- C++ -*-===//
//
// Part of kiln. The few definitions the generated step program
// (codegen/StepProgram.cpp) uses to call its Halide kernels: a View wraps a
// dense row-major array as a halide_buffer_t without copying, an Arena
// holds the step's intermediate tensors, and KILN_RUN reports a failing
// kernel by name with Halide's message. Header-only; it needs only Halide's
// C runtime header, never Halide's compiler or LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_STEPSUPPORT_H
#define KILN_RUNTIME_STEPSUPPORT_H

#include "HalideRuntime.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

namespace kiln::rt::step {

constexpr halide_type_t kF32{halide_type_float, 32, 1};
constexpr halide_type_t kI64{halide_type_int, 64, 1};

/// Describes a dense row-major tensor of `shape` (MLIR order) of `type` in
/// `buffer`, whose `dims` hold its R dimensions (Halide's dimension 0 is the
/// last, contiguous one); returns the element count.
template <int R>
int64_t describeDense(halide_buffer_t &buffer, halide_dimension_t *dims,
                      halide_type_t type,
                      std::initializer_list<int64_t> shape) {
  buffer.type = type;
  buffer.dimensions = R;
  buffer.dim = dims;
  int64_t stride = 1;
  const int64_t *extents = shape.begin();
  for (int h = 0; h < R; ++h) {
    int64_t extent = extents[R - 1 - h];
    dims[h] = halide_dimension_t{0, int32_t(extent), int32_t(stride), 0};
    stride *= extent;
  }
  return stride;
}

/// A dense row-major tensor of rank R seen as a halide_buffer_t. `shape` is
/// in MLIR order.
template <int R> class View {
public:
  View(void *data, halide_type_t type, std::initializer_list<int64_t> shape) {
    buffer.host = static_cast<uint8_t *>(data);
    describeDense<R>(buffer, dims, type, shape);
  }

  operator halide_buffer_t *() { return &buffer; }
  uint8_t *data() const { return buffer.host; }
  int64_t numel() const {
    int64_t n = 1;
    for (int h = 0; h < R; ++h)
      n *= dims[h].extent;
    return n;
  }
  /// The same elements as one dimension.
  View<1> flat() const { return View<1>(data(), buffer.type, {numel()}); }

private:
  halide_buffer_t buffer{};
  halide_dimension_t dims[R > 0 ? R : 1];
};

/// Storage for a step's intermediate tensors, grown to the largest batch
/// seen and aligned for the widest vector loads.
class Arena {
public:
  uint8_t *get(size_t bytes) {
    if (bytes > capacity) {
      memory.reset(static_cast<uint8_t *>(std::aligned_alloc(
          kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment)));
      if (!memory) {
        std::fprintf(stderr, "trainer: error: out of memory allocating %zu "
                             "bytes for the step's tensors\n", bytes);
        std::exit(1);
      }
      capacity = bytes;
    }
    return memory.get();
  }

private:
  static constexpr size_t kAlignment = 64;
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> memory;
  size_t capacity = 0;
};

/// `offset` bytes after `p` (Device.h has the DevicePtr twin).
inline uint8_t *byteAt(void *p, int64_t offset) {
  return static_cast<uint8_t *>(p) + offset;
}

/// Copies `bytes` bytes between host arrays (the step program's
/// DeviceView counterpart is in runtime/Device.h).
inline int copyBytes(void *dst, const void *src, int64_t bytes) {
  std::memcpy(dst, src, size_t(bytes));
  return 0;
}

/// The last message Halide reported on this thread.
inline std::string &lastKernelError() {
  static thread_local std::string message;
  return message;
}

extern "C" inline void kilnHalideErrorHandler(void *, const char *message) {
  lastKernelError() = message;
}

/// Routes Halide's errors to lastKernelError (Halide's default aborts).
inline void installErrorHandler() {
  static bool installed =
      (halide_set_error_handler(kilnHalideErrorHandler), true);
  (void)installed;
}

/// Where kernel calls add their wall time (setKernelProfile), or null.
inline double *&profileSlots() {
  static double *slots = nullptr;
  return slots;
}

/// Runs `call`, adding its time to profile slot `site` when profiling.
template <typename Call> int timedRun(int site, Call call) {
  double *slots = profileSlots();
  if (!slots)
    return call();
  auto start = std::chrono::steady_clock::now();
  int code = call();
  slots[site] += std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  return code;
}

/// Reports that `what` (a kernel call, or a device copy) failed.
inline int kernelFailed(const char *what, int code) {
  std::fprintf(stderr, "trainer: error: %s failed (Halide error %d): %s\n",
               what, code, lastKernelError().c_str());
  return code;
}

} // namespace kiln::rt::step

/// Kernel call number `site` (its profile slot); on failure reports the
/// kernel and returns its error code.
#define KILN_RUN(site, kernel, ...)                                            \
  do {                                                                         \
    if (int kiln_error = ::kiln::rt::step::timedRun(                           \
            site, [&] { return kernel(__VA_ARGS__); }))                        \
      return ::kiln::rt::step::kernelFailed("kernel " #kernel, kiln_error);   \
  } while (0)

/// Evaluates `call` (a copy, or on the GPU an allocation); on failure
/// reports it and returns its error code.
#define KILN_CHECK(call)                                                       \
  do {                                                                         \
    if (int kiln_error = (call))                                               \
      return ::kiln::rt::step::kernelFailed(#call, kiln_error);                \
  } while (0)

#endif // KILN_RUNTIME_STEPSUPPORT_H
