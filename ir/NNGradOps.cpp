//===- NNGradOps.cpp - verifiers of the backward nn ops ---------*- C++ -*-===//
//
// Part of kiln. Verifiers and folders of the ops in NNGradOps.td. Where a
// backward op's result type cannot be derived from its operands (the input
// of a strided convolution), the verifier re-runs the forward op's shape rule
// on the claimed type and checks it reproduces the gradient's type.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace kiln::nn;

LogicalResult BroadcastToOp::verify() {
  FailureOr<RankedTensorType> type =
      inferBroadcastType(std::nullopt, getInput().getType(), getType());
  if (failed(type) || !areCompatibleTensorTypes(*type, getType()))
    return emitOpError("cannot broadcast ")
           << getInput().getType() << " to " << getType();
  return success();
}

OpFoldResult BroadcastToOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

LogicalResult PadOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  int64_t axis = getAxis();
  if (axis < 0 || axis >= in.getRank() || in.getRank() != out.getRank())
    return emitOpError("axis ") << axis << " is out of range for " << in;
  // I64Attr getters are unsigned: compare as the signed values written.
  if (static_cast<int64_t>(getBefore()) < 0 ||
      static_cast<int64_t>(getAfter()) < 0)
    return emitOpError("padding amounts must be non-negative");
  for (int64_t i = 0; i < in.getRank(); ++i) {
    int64_t expected = in.getDimSize(i);
    if (i == axis && !in.isDynamicDim(i))
      expected += getBefore() + getAfter();
    if (expected != out.getDimSize(i))
      return emitOpError("result ") << out << " does not match " << in
                                    << " padded by " << getBefore() << " + "
                                    << getAfter() << " on axis " << axis;
  }
  return success();
}

/// Checks that the forward pooling of `input` has the type of `grad`.
template <typename Op>
static LogicalResult verifyPoolGrad(Op op) {
  FailureOr<RankedTensorType> forward =
      inferPool2dType(op.getLoc(), op.getInput().getType(), op.getKernel(),
                      op.getStride(), op.getPadding());
  if (failed(forward))
    return failure();
  if (!areCompatibleTensorTypes(*forward, op.getGrad().getType()))
    return op.emitOpError("gradient ")
           << op.getGrad().getType() << " does not match the pooled output "
           << *forward;
  return success();
}

LogicalResult MaxPool2dGradOp::verify() { return verifyPoolGrad(*this); }
LogicalResult AvgPool2dGradOp::verify() { return verifyPoolGrad(*this); }

LogicalResult Conv2dGradInputOp::verify() {
  FailureOr<RankedTensorType> forward =
      inferConv2dType(getLoc(), getType(), getWeight().getType(), getStride(),
                      getPadding(), getDilation(), getGroups());
  if (failed(forward))
    return failure();
  if (!areCompatibleTensorTypes(*forward, getGrad().getType()))
    return emitOpError("conv2d of ")
           << getType() << " gives " << *forward << ", not the gradient's "
           << getGrad().getType();
  return success();
}

LogicalResult Conv2dGradWeightOp::verify() {
  FailureOr<RankedTensorType> forward =
      inferConv2dType(getLoc(), getInput().getType(), getType(), getStride(),
                      getPadding(), getDilation(), getGroups());
  if (failed(forward))
    return failure();
  if (!areCompatibleTensorTypes(*forward, getGrad().getType()))
    return emitOpError("conv2d with weight ")
           << getType() << " gives " << *forward << ", not the gradient's "
           << getGrad().getType();
  return success();
}

LogicalResult EmbeddingGradOp::verify() {
  RankedTensorType g = getGrad().getType(), ids = getIndices().getType();
  RankedTensorType table = getType();
  if (table.getRank() != 2 || !table.hasStaticShape())
    return emitOpError("result must be a static table [num, dim], got ")
           << table;
  SmallVector<int64_t> expected(ids.getShape());
  expected.push_back(table.getDimSize(1));
  if (failed(verifyCompatibleShape(g.getShape(), expected)))
    return emitOpError("gradient ")
           << g << " does not match indices " << ids << " and table " << table;
  return success();
}
