//===- BuildTrainer.h - from train IR to a trainer executable ---*- C++ -*-===//
//
// Part of kiln. The last stage of `kiln model.kiln -o trainer`: compiles the
// kernels of @train_step and @eval_step, writes the step program, and runs
// the system C++ compiler to link both with runtime/ into one executable.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_BUILDTRAINER_H
#define KILN_CODEGEN_BUILDTRAINER_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace kiln::codegen {

struct TrainerOptions {
  std::string output;          ///< path of the executable to write
  std::string source;          ///< the .kiln file, recorded in the trainer
  std::string target = "host"; ///< Halide target string
  /// The GPU API to compile the kernels for as well ("cuda", "opencl"), or
  /// empty for a CPU-only trainer.
  std::string gpu = "cuda";
  bool keepTemps = false;      ///< keep (and name) the build directory
  std::string kilnExecutable;  ///< argv[0], to find the runtime beside it
  /// When set, also write kernels.stmt, kernels.s and step.cpp here.
  std::string dumpDir;
};

/// Builds the trainer for `module` (after the train pipeline). Prints the
/// time each phase took. Errors are diagnostics on `module`.
mlir::LogicalResult buildTrainer(mlir::ModuleOp module,
                                 const TrainerOptions &options);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_BUILDTRAINER_H
