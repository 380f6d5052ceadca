//===- Inputs.h - a model function's arguments and results by name -*- C++
//-*-===//
//
// Part of kiln. Names each argument and result of a function by its nn.*
// attribute (docs/ir.md), so kiln-run can read arguments from and write
// results to .safetensors files by name, and makes deterministic arguments
// for a function from runtime/Random.h when the user has no data.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_KILN_RUN_INPUTS_H
#define KILN_TOOLS_KILN_RUN_INPUTS_H

#include "runtime/Safetensors.h"
#include "tools/kiln-run/Evaluator.h"

#include <string>

namespace kiln::eval {

/// Deterministic arguments for `func`, dynamic dimensions set to `batch`.
/// Element i of a float argument named n is u = uniform01(fnv1a(n), i);
/// parameters (nn.param) get (2u - 1) / sqrt(fan_in), fan_in being the
/// product of all dimensions but the first (PyTorch's default init bound);
/// optimizer state is zero and the step 1. Integer arguments: the seed
/// (nn.seed) is `seed`; class targets are floor(u * classes), classes read
/// from the loss or embedding that uses them.
mlir::FailureOr<std::vector<Tensor>>
randomInputs(mlir::func::FuncOp func, int64_t batch, uint64_t seed = 0);

/// Replaces every parameter and buffer in `args` (arguments of `func`) by
/// its initializer (`nn.init`) drawn under `seed` with runtime/Init.h: the
/// values a trainer starts from.
mlir::LogicalResult initializeParameters(mlir::func::FuncOp func,
                                         std::vector<Tensor> &args,
                                         uint64_t seed);

/// The arguments of `func` read by name from `file` (read from `path`,
/// named in errors). F32 and F64 tensors feed f32 arguments, I64 tensors i64
/// ones; shapes must fit the argument types.
mlir::FailureOr<std::vector<Tensor>>
inputsFromFile(mlir::func::FuncOp func, const rt::SafetensorsFile &file,
               const std::string &path);

/// The results of `func` by name, floats stored as `dtype` (F32 or F64).
/// Results that share a name keep the last one.
rt::SafetensorsFile outputsToFile(mlir::func::FuncOp func,
                                  const std::vector<Tensor> &results,
                                  rt::DType dtype);

} // namespace kiln::eval

#endif // KILN_TOOLS_KILN_RUN_INPUTS_H
