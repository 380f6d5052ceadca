//===- FusionPolicy.cpp - which ops kiln-fuse may group ---------*- C++ -*-===//
//
// Part of kiln. See FusionPolicy.h.
//
//===----------------------------------------------------------------------===//

#include "passes/FusionPolicy.h"

#include "ir/NNDialect.h"

using namespace kiln::nn;

bool kiln::fusion::isElementwise(mlir::Operation *op) {
  return llvm::isa<NegOp, ExpOp, LogOp, SqrtOp, AbsOp, ReluOp, SigmoidOp,
                   TanhOp, LeakyReluOp, GeluOp, CosOp, FloorOp, SignOp, AddOp,
                   SubOp, MulOp, DivOp, PowOp, MaximumOp, MinimumOp, GreaterOp,
                   ReluGradOp, LeakyReluGradOp, GeluGradOp>(op);
}

bool kiln::fusion::isInlinableConstant(mlir::Operation *op) {
  auto constant = llvm::dyn_cast<ConstantOp>(op);
  return constant &&
         llvm::cast<mlir::RankedTensorType>(constant.getType()).getRank() == 0;
}
