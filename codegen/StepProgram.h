//===- StepProgram.h - the generated C++ step program -----------*- C++ -*-===//
//
// Part of kiln. Writes the readable C++ that drives a compiled model: the
// description of @train_step and @eval_step for the runtime (Model.h), and
// for each function one call per kernel in program order, every tensor a
// View into the caller's arrays, a constant table, or a statically planned
// slot of one arena whose offsets are linear in the batch size.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_STEPPROGRAM_H
#define KILN_CODEGEN_STEPPROGRAM_H

#include "codegen/Kernels.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln::codegen {

/// Writes the step program of `module` (after the train pipeline: it has
/// @train_step and @eval_step), getting kernels from `kernels`, and with
/// `gpuKernels` a second version of each function that runs them on the
/// GPU. `source` is the .kiln path recorded in the program.
mlir::LogicalResult emitStepProgram(mlir::ModuleOp module,
                                    KernelLibrary &kernels,
                                    KernelLibrary *gpuKernels,
                                    llvm::StringRef source,
                                    llvm::raw_ostream &os);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_STEPPROGRAM_H
