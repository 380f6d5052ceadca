//===- Device.h - device memory for GPU kernels -----------------*- C++ -*-===//
//
// Part of kiln. What a trainer needs to keep tensors in GPU memory and hand
// them to Halide's GPU kernels, through Halide's device interface (so the
// same code serves CUDA and OpenCL): an allocation (DeviceBuffer), a tensor
// in one seen as a halide_buffer_t (DeviceView, a crop that shares the
// allocation), and copies between host and device. The generated step
// program's device functions use these, and hand the trainer's runtime the
// same operations as Model.h's DeviceApi (kDeviceApi below), so the runtime
// library itself never calls Halide. Header-only, needing only Halide's C
// runtime header (the runtime itself is linked into each trainer).
//
// Every function returns 0 or Halide's error code; the message is what
// Halide reported (step::lastKernelError, once installErrorHandler ran).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_DEVICE_H
#define KILN_RUNTIME_DEVICE_H

#include "runtime/Model.h"
#include "runtime/StepSupport.h"

#include "HalideRuntime.h"

#include <climits>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace kiln::rt {

/// The Halide device interface of Model::gpu; defined by the generated step
/// program, whose Halide runtime provides it.
const halide_device_interface_t *gpuInterface();

/// The byte alignment a view's start needs for a kernel to read it in
/// place: 1 on CUDA, where a view is an address; on OpenCL a view is a
/// sub-buffer, whose origin must be a multiple of the device's
/// CL_DEVICE_MEM_BASE_ADDR_ALIGN (at most 4096 bits on common devices).
int viewAlignment();

namespace step {
/// Runs the GPU library's peak FMA kernel (Kernels.h) on `threads` floats at
/// `out`, setting `flops` to the FLOPs it does; defined by the program.
int peakFma(DevicePtr out, int64_t threads, double *flops);
} // namespace step

constexpr halide_type_t kBytes{halide_type_uint, 8, 1};

/// One device allocation of bytes on the model's GPU (gpuInterface()). The
/// halide_buffer_t stays at one address for the object's life, so a
/// DevicePtr into it stays valid across swap(), which exchanges contents.
class DeviceBuffer {
public:
  DeviceBuffer() {
    buffer.type = kBytes;
    buffer.dimensions = 1;
    buffer.dim = &dim;
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { release(); }

  /// Makes it hold at least `bytes` bytes (contents are lost when it grows).
  int reserve(int64_t bytes) {
    if (buffer.device && bytes <= size())
      return 0;
    release();
    // A halide_buffer_t's extent is 32-bit: one allocation is under 2 GiB.
    if (bytes > INT32_MAX)
      return halide_error_code_buffer_allocation_too_large;
    dim = halide_dimension_t{0, int32_t(bytes > 0 ? bytes : 1), 1, 0};
    return halide_device_malloc(nullptr, &buffer, gpuInterface());
  }
  int64_t size() const { return buffer.device ? dim.extent : 0; }
  int synchronize() { return halide_device_sync(nullptr, &buffer); }
  DevicePtr ptr(int64_t offset = 0) { return {&buffer, offset}; }
  void swap(DeviceBuffer &other) {
    std::swap(buffer.device, other.buffer.device);
    std::swap(buffer.device_interface, other.buffer.device_interface);
    std::swap(dim, other.dim);
  }

private:
  void release() {
    if (buffer.device)
      halide_device_free(nullptr, &buffer);
    buffer.device = 0;
    buffer.device_interface = nullptr;
  }

  halide_buffer_t buffer{};
  halide_dimension_t dim{};
};

/// `bytes` bytes at a DevicePtr as a one-dimensional byte buffer: a crop
/// of the allocation, released with the object.
class ByteRange {
public:
  ByteRange() = default;
  ByteRange(const ByteRange &) = delete;
  ByteRange &operator=(const ByteRange &) = delete;
  ~ByteRange() {
    if (crop.device)
      halide_device_release_crop(nullptr, &crop);
  }

  int open(DevicePtr p, int64_t bytes) {
    crop.type = kBytes;
    crop.dimensions = 1;
    crop.dim = &dim;
    dim = halide_dimension_t{int32_t(p.offset), int32_t(bytes), 1, 0};
    int e = halide_device_crop(nullptr, p.base, &crop);
    // The crop's device handle starts at the offset; copies match elements
    // by coordinate, so the range's own coordinates start at 0.
    dim.min = 0;
    return e;
  }
  halide_buffer_t *get() { return &crop; }

private:
  halide_buffer_t crop{};
  halide_dimension_t dim{};
};

/// A host array as a one-dimensional byte buffer.
inline halide_buffer_t hostBytes(const void *host, int64_t bytes,
                                 halide_dimension_t &dim) {
  halide_buffer_t b{};
  b.host = static_cast<uint8_t *>(const_cast<void *>(host));
  b.type = kBytes;
  b.dimensions = 1;
  dim = halide_dimension_t{0, int32_t(bytes), 1, 0};
  b.dim = &dim;
  return b;
}

/// Host to device.
inline int upload(DevicePtr dst, const void *host, int64_t bytes) {
  ByteRange to;
  if (int e = to.open(dst, bytes))
    return e;
  halide_dimension_t dim;
  halide_buffer_t from = hostBytes(host, bytes, dim);
  return halide_buffer_copy(nullptr, &from, gpuInterface(), to.get());
}

/// Device to host.
inline int download(void *host, DevicePtr src, int64_t bytes) {
  ByteRange from;
  if (int e = from.open(src, bytes))
    return e;
  halide_dimension_t dim;
  halide_buffer_t to = hostBytes(host, bytes, dim);
  return halide_buffer_copy(nullptr, from.get(), nullptr, &to);
}

namespace step {

inline DevicePtr byteAt(DevicePtr p, int64_t offset) { return p + offset; }

/// Waits until the device has finished the work queued on it.
inline int synchronizeDevice() {
  static DeviceBuffer any;
  if (int e = any.reserve(1))
    return e;
  return any.synchronize();
}

/// Device to device, for the step program (its host twin is in
/// StepSupport.h).
inline int copyBytes(DevicePtr dst, DevicePtr src, int64_t bytes) {
  ByteRange from, to;
  if (int e = from.open(src, bytes))
    return e;
  if (int e = to.open(dst, bytes))
    return e;
  return halide_buffer_copy(nullptr, from.get(), gpuInterface(), to.get());
}

/// A dense row-major tensor in device memory seen as a halide_buffer_t,
/// like View for host arrays. A view whose start is not aligned as
/// viewAlignment() asks is staged: the kernels see an aligned copy made when
/// the view is declared (after every kernel that writes the tensor has run,
/// as the step program declares a value once it is computed), and
/// writeBack() copies what a kernel wrote there back to its place.
template <int R> class DeviceView {
public:
  DeviceView(DevicePtr p, halide_type_t type,
             std::initializer_list<int64_t> shape)
      : place(p) {
    bytes = describeDense<R>(buffer, dims, type, shape) * type.bytes();
    seen = p;
    if (p.offset % viewAlignment()) {
      staged = true;
      if ((status = copy.reserve(bytes)) ||
          (status = copyBytes(copy.ptr(), p, bytes)))
        return;
      seen = copy.ptr();
    }
    status = range.open(seen, bytes);
    buffer.device = range.get()->device;
    buffer.device_interface = range.get()->device_interface;
  }

  /// After a kernel wrote the view: copies a staged view back to its place.
  int writeBack() {
    return staged && !status ? copyBytes(place, copy.ptr(), bytes) : status;
  }
  operator halide_buffer_t *() { return status ? nullptr : &buffer; }
  DevicePtr data() const { return place; }
  int64_t numel() const { return bytes / buffer.type.bytes(); }
  /// The same elements as one dimension (those the kernels see: the
  /// staged copy of a staged view).
  DeviceView<1> flat() const {
    return DeviceView<1>(seen, buffer.type, {numel()});
  }

private:
  DevicePtr place, seen; ///< where the tensor is, and what kernels see
  int64_t bytes = 0;
  bool staged = false;
  DeviceBuffer copy; ///< the aligned copy of a staged view
  ByteRange range;
  int status = 0; ///< Halide's error code if the view could not be made
  halide_buffer_t buffer{};
  halide_dimension_t dims[R > 0 ? R : 1];
};

/// The device's copy of the step's intermediate tensors, grown to the
/// largest batch seen.
class DeviceArena {
public:
  int get(int64_t bytes, DevicePtr &out) {
    if (int e = memory.reserve(bytes))
      return e;
    out = memory.ptr();
    return 0;
  }

private:
  DeviceBuffer memory;
};

/// A constant of the step program, uploaded on first use.
class DeviceConstant {
public:
  DeviceConstant(const void *host, int64_t bytes) : host(host), bytes(bytes) {}
  int get(DevicePtr &out) {
    if (!memory.size()) {
      if (int e = memory.reserve(bytes))
        return e;
      if (int e = upload(memory.ptr(), host, bytes))
        return e;
    }
    out = memory.ptr();
    return 0;
  }

private:
  const void *host;
  int64_t bytes;
  DeviceBuffer memory;
};

/// Model::device for a step program with GPU kernels.
inline const DeviceApi kDeviceApi = {
    [] {
      halide_reuse_device_allocations(nullptr, true);
      DeviceBuffer probe;
      return probe.reserve(1);
    },
    [](int64_t bytes) -> DeviceBuffer * {
      auto *buffer = new DeviceBuffer;
      if (buffer->reserve(bytes) == 0)
        return buffer;
      delete buffer;
      return nullptr;
    },
    [](DeviceBuffer *buffer) { delete buffer; },
    [](DeviceBuffer *buffer, int64_t offset) { return buffer->ptr(offset); },
    [](DeviceBuffer *a, DeviceBuffer *b) { a->swap(*b); },
    upload,
    download,
    copyBytes,
    synchronizeDevice,
    peakFma,
    [] { return lastKernelError().c_str(); },
};

} // namespace step
} // namespace kiln::rt

/// KILN_RUN for a GPU kernel: when profiling, the call's time includes
/// waiting for the kernel to finish (a launch returns before it runs).
#define KILN_RUN_ON_DEVICE(site, kernel, ...)                                  \
  do {                                                                         \
    if (int kiln_error = ::kiln::rt::step::timedRun(site, [&] {                \
          int e = kernel(__VA_ARGS__);                                         \
          return e || !::kiln::rt::step::profileSlots()                        \
                     ? e                                                       \
                     : ::kiln::rt::step::synchronizeDevice();                  \
        }))                                                                    \
      return ::kiln::rt::step::kernelFailed("kernel " #kernel, kiln_error);   \
  } while (0)

#endif // KILN_RUNTIME_DEVICE_H
