//===- FusionPolicy.h - which ops kiln-fuse may group -----------*- C++ -*-===//
//
// Part of kiln. The fusion cost model, in one place: what part each op may
// play in a kernel and how large a kernel may grow. kiln-fuse (Fuse.cpp)
// only walks the graph and asks these questions.
//
// A kernel is one Halide pipeline: at most one anchor (a GEMM or a
// convolution, scheduled in register tiles), any number of stages (a
// reduction, a loss, a pooling window: computed once into a buffer inside
// the kernel) and elementwise ops, which cost nothing of their own: they are
// inlined into whatever reads them, so an anchor or stage followed by
// elementwise ops computes them in its own loop (its epilogue: bias,
// activation, the activation's backward mask).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_FUSIONPOLICY_H
#define KILN_PASSES_FUSIONPOLICY_H

#include "mlir/IR/Operation.h"

namespace kiln::fusion {

// A kernel reads each input once per element it writes; past this many
// inputs the loads of one iteration no longer fit the vector registers
// (AVX-512 has 32) and the kernel starts spilling. The Adam update needs 5
// (p, g, m, v and the step number).
constexpr unsigned kMaxKernelInputs = 12;

// Ops a kernel may hold. Every elementwise member is recomputed inline by
// each output that needs it, so long chains with several outputs repeat
// work; 32 covers the optimizer update of a parameter (about 25 ops with its
// learning-rate arithmetic) with room to spare.
constexpr unsigned kMaxKernelOps = 32;

/// The part an op plays in a kernel.
enum class Role {
  None,        ///< never fused: views, constants, ops without a fused form
  Elementwise, ///< inlined into its consumers; joins its producer's kernel
  Anchor,      ///< GEMM or convolution: starts a kernel, never joins one
  Stage,       ///< reduction, loss, pooling: joins its producer's kernel
};

/// The role of `op` (one result, and lowered by codegen).
Role roleOf(mlir::Operation *op);

/// Whether `op` computes each element of its one result from the operand
/// elements at the same index (NumPy broadcasting aside): such ops inline
/// into any kernel that iterates over their result's shape.
bool isElementwise(mlir::Operation *op);

/// Whether `op` is a constant cheap enough to copy into each kernel that
/// reads it (a scalar) instead of passing it as an input.
bool isInlinableConstant(mlir::Operation *op);

/// Whether `op` computes a scalar from scalars (the learning rate and bias
/// corrections from the step number): a handful of flops, so each kernel
/// that reads it recomputes it once per call instead of reading it from a
/// kernel of its own.
bool isRecomputableScalar(mlir::Operation *op);

} // namespace kiln::fusion

#endif // KILN_PASSES_FUSIONPOLICY_H
