//===- FusionPolicy.h - which ops kiln-fuse may group -----------*- C++ -*-===//
//
// Part of kiln. The fusion cost model, in one place: which ops may join a
// kernel and how large a kernel may grow. kiln-fuse (Fuse.cpp) only walks
// the graph and asks these questions.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_FUSIONPOLICY_H
#define KILN_PASSES_FUSIONPOLICY_H

#include "mlir/IR/Operation.h"

namespace kiln::fusion {

// A kernel reads each input once per element it writes; past this many
// inputs the loads of one iteration no longer fit the vector registers
// (AVX-512 has 32) and the kernel starts spilling. The Adam update of one
// parameter needs 6 (p, g, m, v and two step scalars).
constexpr unsigned kMaxKernelInputs = 12;

// Ops a kernel may hold. Every member is recomputed inline by each output
// that needs it, so long chains with several outputs repeat work; 32 covers
// the optimizer update of a parameter (about 20 ops) with room to spare.
constexpr unsigned kMaxKernelOps = 32;

/// Whether `op` computes each element of its one result from the operand
/// elements at the same index (NumPy broadcasting aside): such ops inline
/// into any kernel that iterates over their result's shape.
bool isElementwise(mlir::Operation *op);

/// Whether `op` is a constant cheap enough to copy into each kernel that
/// reads it (a scalar) instead of passing it as an input.
bool isInlinableConstant(mlir::Operation *op);

} // namespace kiln::fusion

#endif // KILN_PASSES_FUSIONPOLICY_H
