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

kiln::fusion::Role kiln::fusion::roleOf(mlir::Operation *op) {
  if (isElementwise(op))
    return Role::Elementwise;
  if (llvm::isa<MatmulOp, Conv2dOp, Conv2dGradInputOp, Conv2dGradWeightOp>(op))
    return Role::Anchor;
  // Each computes its result in a loop nest of its own (a reduction over
  // some dimensions, a window, a row's log-sum-exp) that any elementwise
  // consumer can extend.
  if (llvm::isa<ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ArgmaxOp, SoftmaxOp,
                LogSoftmaxOp, CrossEntropyOp, CrossEntropyGradOp, NllOp,
                NllGradOp, BceWithLogitsOp, BceWithLogitsGradOp, MseOp,
                MseGradOp, MaxPool2dOp, AvgPool2dOp, MaxPool2dGradOp,
                AvgPool2dGradOp, ReduceMeanGradOp, ReduceMaxGradOp>(op))
    return Role::Stage;
  return Role::None;
}

bool kiln::fusion::isInlinableConstant(mlir::Operation *op) {
  auto constant = llvm::dyn_cast<ConstantOp>(op);
  return constant &&
         llvm::cast<mlir::RankedTensorType>(constant.getType()).getRank() == 0;
}

bool kiln::fusion::isRecomputableScalar(mlir::Operation *op) {
  return isElementwise(op) &&
         llvm::cast<mlir::RankedTensorType>(op->getResult(0).getType())
                 .getRank() == 0;
}
