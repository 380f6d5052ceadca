//===- Interpreter.h - the evaluator's op dispatcher ------------*- C++ -*-===//
//
// Part of kiln. Internal to KilnEvaluator. The state of one call (a tensor
// per SSA value) and the run-time checks shared by the two dispatchers:
// Evaluator.cpp (the walk over a function, constants, elementwise ops) and
// StructuredOps.cpp (every other op). The checks establish what Kernels.h
// assumes, so a kernel never reads out of bounds; after each op every
// result is checked against its static type, so each op's operands are
// known to fit theirs.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_KILN_RUN_INTERPRETER_H
#define KILN_TOOLS_KILN_RUN_INTERPRETER_H

#include "ir/NNDialect.h"
#include "tools/kiln-run/Evaluator.h"
#include "tools/kiln-run/Kernels.h"

#include "llvm/ADT/DenseMap.h"

#include <string>

namespace kiln::eval::detail {

using kernels::Shape;

/// "[2x3]".
inline std::string shapeString(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Whether a run-time value fits a static type: same rank, same element
/// kind, equal static dimensions.
template <typename T> bool conforms(const BasicTensor<T> &t, mlir::Type type) {
  auto ranked = mlir::cast<mlir::RankedTensorType>(type);
  if (int64_t(t.shape.size()) != ranked.getRank() ||
      t.isInteger != ranked.getElementType().isInteger(64))
    return false;
  for (int64_t i = 0; i < ranked.getRank(); ++i)
    if (!ranked.isDynamicDim(i) && ranked.getDimSize(i) != t.shape[i])
      return false;
  return true;
}

/// The interpreter state of one call, in scalar type T.
template <typename T> class Interpreter {
public:
  using Tensor = BasicTensor<T>;

  /// Runs `func` on `args`; see kiln::eval::evaluate.
  mlir::FailureOr<std::vector<Tensor>> run(mlir::func::FuncOp func,
                                           std::vector<Tensor> args);

private:
  llvm::DenseMap<mlir::Value, Tensor> env;

  const Tensor &get(mlir::Value v) { return env.find(v)->second; }
  void set(mlir::Value v, Tensor t) { env[v] = std::move(t); }

  /// Evaluates `op` and checks its results against their types.
  mlir::LogicalResult step(mlir::Operation *op);
  mlir::LogicalResult constant(kiln::nn::ConstantOp op);
  /// Unary and binary ops and the elementwise gradient masks; sets
  /// `handled` to false for any other op.
  mlir::LogicalResult elementwise(mlir::Operation *op, bool &handled);
  /// Every other op (StructuredOps.cpp).
  mlir::LogicalResult structured(mlir::Operation *op);

  /// Fails at `op` unless the run-time shapes of `a` and `b` are equal.
  mlir::LogicalResult sameShape(mlir::Operation *op, mlir::Value a,
                                mlir::Value b) {
    if (get(a).shape == get(b).shape)
      return mlir::success();
    return op->emitOpError("operand shapes ")
           << shapeString(get(a).shape) << " and " << shapeString(get(b).shape)
           << " differ at run time";
  }

  /// Fails at `op` unless every index in `indices` is in [0, bound).
  mlir::LogicalResult inRange(mlir::Operation *op, const Tensor &indices,
                              int64_t bound, llvm::StringRef what) {
    for (int64_t v : indices.ints)
      if (v < 0 || v >= bound)
        return op->emitOpError()
               << what << " " << v << " is out of range [0, " << bound << ")";
    return mlir::success();
  }

  /// Checks shared by the class-index losses and their gradients: logits
  /// [N, C], targets [N] in [0, C).
  mlir::LogicalResult checkClassTargets(mlir::Operation *op, const Tensor &x,
                                        const Tensor &t) {
    if (x.shape.size() != 2 || t.shape.size() != 1 || t.shape[0] != x.shape[0])
      return op->emitOpError("expects logits [N, C] and targets [N], got ")
             << shapeString(x.shape) << " and " << shapeString(t.shape);
    return inRange(op, t, x.shape[1], "class index");
  }
};

} // namespace kiln::eval::detail

#endif // KILN_TOOLS_KILN_RUN_INTERPRETER_H
