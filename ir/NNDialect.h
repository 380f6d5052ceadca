//===- NNDialect.h - the nn dialect -----------------------------*- C++ -*-===//
//
// Part of kiln. Declares the nn dialect and its ops. Include this header to
// use any nn op; see NNOps.td for the op definitions and docs/ir.md for the
// argument attributes that describe a model's interface.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_NNDIALECT_H
#define KILN_IR_NNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "ir/NNDialect.h.inc"
#include "ir/NNInterfaces.h.inc"

namespace kiln::nn {

/// True when each pair of types has one element type and compatible shapes
/// (a dynamic dimension matches any size).
bool areCompatibleTensorTypes(mlir::TypeRange lhs, mlir::TypeRange rhs);

/// The NumPy broadcast of `a` and `b`; emits an error naming both shapes at
/// `loc` (when given) if they do not broadcast.
mlir::FailureOr<mlir::RankedTensorType>
inferBroadcastType(std::optional<mlir::Location> loc, mlir::RankedTensorType a,
                   mlir::RankedTensorType b);

/// The shape rule of nn.conv2d (shared with its gradient ops' verifiers).
mlir::FailureOr<mlir::RankedTensorType>
inferConv2dType(std::optional<mlir::Location> loc, mlir::RankedTensorType input,
                mlir::RankedTensorType weight, llvm::ArrayRef<int64_t> stride,
                llvm::ArrayRef<int64_t> padding,
                llvm::ArrayRef<int64_t> dilation, int64_t groups);

/// The name of argument `i` of a model function: its nn.input, nn.target,
/// nn.param, nn.buffer or nn.opt_state string, "seed" for nn.seed, "step"
/// for nn.step, else "arg<i>". Checkpoints and tensor files use these names.
std::string argumentName(mlir::func::FuncOp func, unsigned i);

/// The name of result `i`: its nn.output, nn.buffer, nn.param or
/// nn.opt_state string, "grad.<name>" for nn.grad, else "result<i>".
std::string resultName(mlir::func::FuncOp func, unsigned i);

/// The shape rule of nn.max_pool2d and nn.avg_pool2d.
mlir::FailureOr<mlir::RankedTensorType>
inferPool2dType(std::optional<mlir::Location> loc, mlir::RankedTensorType input,
                llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> stride,
                llvm::ArrayRef<int64_t> padding);

} // namespace kiln::nn

#define GET_OP_CLASSES
#include "ir/NNOps.h.inc"

namespace kiln::nn {

/// Builds an op whose result types are inferred from its operands and
/// attributes, like `builder.create<OpTy>(loc, args...)`, but when the shape
/// rule rejects the operands it reports why at `loc` and returns failure
/// instead of aborting. `args` are those of OpTy's builder after the result
/// type.
template <typename OpTy, typename... Args>
mlir::FailureOr<OpTy> createInferred(mlir::OpBuilder &builder,
                                     mlir::Location loc, Args &&...args) {
  mlir::OperationState state(loc, OpTy::getOperationName());
  mlir::Type placeholder = mlir::UnrankedTensorType::get(builder.getF32Type());
  OpTy::build(builder, state, placeholder, std::forward<Args>(args)...);
  llvm::SmallVector<mlir::Type> types;
  if (mlir::failed(OpTy::inferReturnTypes(
          builder.getContext(), loc, state.operands,
          state.attributes.getDictionary(builder.getContext()),
          state.getRawProperties(), state.regions, types)))
    return mlir::failure();
  state.types.assign(types.begin(), types.end());
  return mlir::cast<OpTy>(builder.create(state));
}

} // namespace kiln::nn

#endif // KILN_IR_NNDIALECT_H
