//===- MemoryPlan.h - arena slots for a step's intermediates ----*- C++ -*-===//
//
// Part of kiln. Plans where each intermediate tensor of a step function
// lives in the step's arena. Sizes and offsets are linear in the batch size
// B (the batch is only known at run time), so one plan serves every batch.
// A slot is reused once the value in it is dead (its last use, through any
// reshape view of it, has run); a kernel's results never share a slot with
// its own operands, because a kernel may still read an operand after
// writing part of a result.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_MEMORYPLAN_H
#define KILN_CODEGEN_MEMORYPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <functional>
#include <string>

namespace kiln::codegen {

/// Bytes as a linear function of the batch size B: perBatch * B + fixed.
struct Linear {
  int64_t perBatch = 0, fixed = 0;

  /// Rounded up so slots start on cache lines for every B.
  Linear aligned() const;
  Linear operator+(const Linear &o) const {
    return {perBatch + o.perBatch, fixed + o.fixed};
  }
  /// Whether this fits in `o` for every batch size.
  bool fitsIn(const Linear &o) const {
    return perBatch <= o.perBatch && fixed <= o.fixed;
  }
  /// As C++: "B * 512 + 64", "B * 512", "64".
  std::string str() const;
};

/// Bytes per element of `type` (f32 or i64).
int64_t elementBytes(mlir::RankedTensorType type);

/// The bytes of a tensor of `type` (a dynamic dimension counts as B).
Linear bytesOf(mlir::RankedTensorType type);

class MemoryPlan {
public:
  /// Plans `func`'s values for which `needsSlot` holds (the results of
  /// kernels that are not written straight into the caller's arrays).
  /// Reshape results are views: they keep their operand's slot alive.
  MemoryPlan(mlir::func::FuncOp func,
             const std::function<bool(mlir::Value)> &needsSlot);

  /// The arena offset of a planned value.
  Linear offsetOf(mlir::Value v) const { return offsets.lookup(v); }
  /// The arena size the plan needs.
  Linear size() const { return end; }
  /// What the arena would need with one slot per value (no reuse).
  Linear unplannedSize() const { return total; }

private:
  llvm::DenseMap<mlir::Value, Linear> offsets;
  Linear end, total;
};

} // namespace kiln::codegen

#endif // KILN_CODEGEN_MEMORYPLAN_H
