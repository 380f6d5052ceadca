//===- Kernels.h - AOT-compiled Halide kernels for nn ops -------*- C++ -*-===//
//
// Part of kiln. A KernelLibrary turns ops into Halide pipelines (Lowering.h
// rules, Schedule.h schedules) and compiles them ahead of time for one
// target, without the Halide runtime (one standalone runtime object is
// compiled beside them). Ops of the same computation share one kernel:
// elementwise ops are flattened to one dimension first, so the Adam update
// of every parameter runs the same few kernels whatever their shapes.
//
// Every kernel has the C signature
//   int name(int32_t dyn, halide_buffer_t *operand..., halide_buffer_t *result...)
// with dense row-major buffers (Halide's dimension 0 is the last MLIR
// dimension) whose static extents are checked on entry; `dyn` is the extent
// of the dynamic (batch) dimension, or the element count of a flattened
// kernel's operands. Halide errors never escape: they become diagnostics at
// the op's location.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_KERNELS_H
#define KILN_CODEGEN_KERNELS_H

#include "Halide.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::codegen {

/// One compiled kernel.
struct Kernel {
  std::string name; ///< its C symbol, named after the op it computes
  /// True when it views its operands and result as one dimension of
  /// `dyn` elements (scalar operands stay scalars).
  bool flattened = false;
};

/// The Halide pipeline of one kernel before compilation: arguments are
/// `dyn` then one buffer per operand; outputs one per result. Tests realize
/// it with Halide's JIT.
struct KernelPipeline {
  Halide::Pipeline pipeline;
  Halide::Param<int32_t> dyn{"dyn"};
  std::vector<Halide::ImageParam> operands;
  bool flattened = false;

  std::vector<Halide::Argument> arguments() const;
};

/// Lowers and schedules `op` for `target`. Halide errors become
/// diagnostics at `op`.
mlir::FailureOr<KernelPipeline> buildKernelPipeline(mlir::Operation *op,
                                                    const Halide::Target &target);

class KernelLibrary {
public:
  /// `target` is a Halide target string ("host", "x86-64-linux-avx2", ...)
  /// for the host code. With `gpu` ("cuda" or "opencl") the kernels run on
  /// that GPU API (ScheduleGPU.cpp) and their names end in "_" + gpu.
  static std::unique_ptr<KernelLibrary> create(llvm::StringRef target,
                                               mlir::Location loc,
                                               llvm::StringRef gpu = "");
  /// Why create() would refuse `target` and `gpu`, or empty when it would
  /// not (for checking the command line before compiling).
  static std::string problemWith(llvm::StringRef target, llvm::StringRef gpu);
  ~KernelLibrary();

  /// The kernel that computes `op`, lowered and scheduled on first use.
  /// Fails with a diagnostic at `op` when the op has no lowering or Halide
  /// rejects it.
  mlir::FailureOr<const Kernel *> get(mlir::Operation *op);

  /// Writes every kernel to objects in `dir`, declared by
  /// `dir`/<fileStem()>.h, and returns the objects' paths; with `assembly`,
  /// also the CPU kernels' assembly to that file.
  mlir::FailureOr<std::vector<std::string>>
  compile(const std::string &dir, mlir::Location loc,
          const std::string &assembly = "");

  /// Writes Halide's runtime for this library's target, with the GPU API
  /// of `gpu` when given, to `path`: one runtime serves both libraries.
  mlir::LogicalResult compileRuntime(const std::string &path,
                                     mlir::Location loc,
                                     const KernelLibrary *gpu = nullptr) const;

  /// "" for CPU kernels, else "_" and the GPU API ("_cuda"): ends the
  /// kernels' names.
  std::string suffix() const;
  /// "kernels" and the suffix: the name of the object and header.
  std::string fileStem() const;

  /// Prints each kernel's lowered Halide statement.
  void printStmt(llvm::raw_ostream &os) const;

  /// The target, as Halide names it.
  std::string targetString() const;

  size_t size() const;

  /// Steps of 8 FMAs each thread of the peak kernel runs.
  static constexpr int kPeakFmaSteps = 512;
  /// Adds `kiln_peak_fma<suffix>(halide_buffer_t *out)` to a GPU library:
  /// one thread per element of `out`, each running kPeakFmaSteps steps of 8
  /// independent FMAs, so `trainer bench --device` can measure the GPU's
  /// FLOP rate for its roofline.
  mlir::LogicalResult addPeakKernel(mlir::Location loc);

private:
  struct Impl;
  explicit KernelLibrary(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace kiln::codegen

#endif // KILN_CODEGEN_KERNELS_H
