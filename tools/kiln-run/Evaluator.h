//===- Evaluator.h - reference interpreter of the nn dialect ----*- C++ -*-===//
//
// Part of kiln. A plain interpreter of a func.func in the nn dialect (plus
// func.return and nn.constant): every op is a few obvious loops over
// row-major buffers. It is the oracle that gradient rules, optimizer
// lowering and compiled kernels are checked against, so it favours being
// evidently right over being fast. It runs in double or in float: in float
// every op computes and stores in float, as an f32 kernel would. Shapes come
// from the run-time values, so dynamic (batch) dimensions take any size; a
// value that does not fit its op is an error at that op, never a crash.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_KILN_RUN_EVALUATOR_H
#define KILN_TOOLS_KILN_RUN_EVALUATOR_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace kiln::eval {

/// A dense row-major tensor of f32-typed values held as `T`, or of i64
/// values.
template <typename T> struct BasicTensor {
  std::vector<int64_t> shape;
  std::vector<T> values;     ///< the elements when !isInteger
  std::vector<int64_t> ints; ///< the elements when isInteger
  bool isInteger = false;

  /// Product of the shape (1 for a scalar).
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  /// A floating-point tensor of `shape` filled with zeros.
  static BasicTensor zeros(std::vector<int64_t> shape) {
    BasicTensor t;
    t.shape = std::move(shape);
    t.values.assign(t.numel(), T(0));
    return t;
  }
  /// A floating-point tensor of `shape` holding `values`.
  static BasicTensor floats(std::vector<int64_t> shape, std::vector<T> values) {
    BasicTensor t;
    t.shape = std::move(shape);
    t.values = std::move(values);
    return t;
  }
  /// An integer tensor of `shape` holding `ints`.
  static BasicTensor integers(std::vector<int64_t> shape,
                              std::vector<int64_t> ints) {
    BasicTensor t;
    t.shape = std::move(shape);
    t.ints = std::move(ints);
    t.isInteger = true;
    return t;
  }
};

/// The interface type: float results widen to double exactly.
using Tensor = BasicTensor<double>;

/// The type every op computes and stores floating-point values in.
enum class Precision { F32, F64 };

/// Runs `func` on `args` (one per argument; i64 arguments as integer
/// tensors, f32 ones as floating-point tensors, static dimensions as typed)
/// and returns its results. In F32, arguments are first rounded to float.
/// Fails with a diagnostic at the offending op for an op it does not know
/// or run-time shapes and indices that do not fit the op.
mlir::FailureOr<std::vector<Tensor>>
evaluate(mlir::func::FuncOp func, llvm::ArrayRef<Tensor> args,
         Precision precision = Precision::F64);

} // namespace kiln::eval

#endif // KILN_TOOLS_KILN_RUN_EVALUATOR_H
