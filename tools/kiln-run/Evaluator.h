//===- Evaluator.h - reference interpreter of the nn dialect ----*- C++ -*-===//
//
// Part of kiln. A plain interpreter of a func.func in the nn dialect: every
// op is a few obvious loops over row-major buffers, computed in double. It
// is the oracle that gradients, optimizer lowering and (later) compiled
// kernels are checked against, so it favours being evidently right over
// being fast. In float precision every op's results are rounded to float,
// which is what an f32 kernel stores.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_KILN_RUN_EVALUATOR_H
#define KILN_TOOLS_KILN_RUN_EVALUATOR_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::eval {

/// A dense row-major tensor: f32 values (held as double) or i64 values.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> values;  ///< used when !isInteger
  std::vector<int64_t> ints;   ///< used when isInteger
  bool isInteger = false;

  int64_t numel() const;
  static Tensor zeros(std::vector<int64_t> shape);
  static Tensor integers(std::vector<int64_t> shape, std::vector<int64_t> ints);
};

enum class Precision { Float, Double };

/// Runs `func` on `args` (one per argument, shapes matching the argument
/// types, dynamic dimensions any size) and returns its results. Fails with a
/// diagnostic at the offending op for an op it does not know or operands
/// whose run-time shapes do not fit.
mlir::FailureOr<std::vector<Tensor>>
evaluate(mlir::func::FuncOp func, llvm::ArrayRef<Tensor> args,
         Precision precision = Precision::Double);

} // namespace kiln::eval

#endif // KILN_TOOLS_KILN_RUN_EVALUATOR_H
