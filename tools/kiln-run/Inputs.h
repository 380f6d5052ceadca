//===- Inputs.h - deterministic inputs for a model function -----*- C++ -*-===//
//
// Part of kiln. Builds one tensor per argument of a model function from its
// `nn.*` attributes: parameters and buffers from their `nn.init` (runtime/
// Init.h), optimizer state as zeros, the step number, the dropout seed, and
// batch inputs and targets drawn from runtime/Random.h. Used by kiln-run to
// execute a model without data, and by tests.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_KILN_RUN_INPUTS_H
#define KILN_TOOLS_KILN_RUN_INPUTS_H

#include "tools/kiln-run/Evaluator.h"

namespace kiln::eval {

/// Arguments for `func` with a batch of `batch`: inputs uniform in [0, 1),
/// class targets uniform in [0, classes) (classes from the loss that reads
/// them), f32 targets uniform in [0, 1), step 1, dropout seed `seed`.
mlir::FailureOr<std::vector<Tensor>> makeInputs(mlir::func::FuncOp func,
                                                int64_t batch, uint64_t seed);

/// The checkpoint-style name of argument `i` (its nn.* string attribute, or
/// "step" / "seed"), or "arg<i>".
std::string argumentName(mlir::func::FuncOp func, unsigned i);

/// The name of result `i` (nn.output, nn.param, nn.opt_state, nn.buffer or
/// nn.grad), or "result<i>".
std::string resultName(mlir::func::FuncOp func, unsigned i);

} // namespace kiln::eval

#endif // KILN_TOOLS_KILN_RUN_INPUTS_H
