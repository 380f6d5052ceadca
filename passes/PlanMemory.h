//===- PlanMemory.h - the memory plan's vocabulary --------------*- C++ -*-===//
//
// Part of kiln. What kiln-plan-memory (PlanMemory.cpp) writes into the IR
// and codegen reads back: byte counts linear in the batch size B, and the
// storage of each op result (docs/ir.md, "Memory plan"). The attribute
// format is encoded and decoded only here, so the pass and the step
// program cannot disagree about it.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_PLANMEMORY_H
#define KILN_PASSES_PLANMEMORY_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace kiln::plan {

/// The op attribute holding one storage dictionary per result.
constexpr llvm::StringLiteral kStorageAttr = "kiln.storage";
/// Function attributes: the planned arena size, and the size with one slot
/// per arena tensor (no reuse), as `array<i64: perBatch, fixed>`.
constexpr llvm::StringLiteral kArenaBytesAttr = "kiln.arena_bytes";
constexpr llvm::StringLiteral kUnplannedBytesAttr = "kiln.unplanned_bytes";

/// Bytes as a linear function of the batch size B: perBatch * B + fixed.
struct Linear {
  int64_t perBatch = 0, fixed = 0;

  /// Rounded up so slots start on cache lines for every B.
  Linear aligned() const;
  Linear operator+(const Linear &o) const {
    return {perBatch + o.perBatch, fixed + o.fixed};
  }
  bool operator==(const Linear &o) const {
    return perBatch == o.perBatch && fixed == o.fixed;
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

/// The bytes of a tensor of `type` (its one dynamic dimension counts as B).
Linear bytesOf(mlir::RankedTensorType type);

/// Where an op result lives while a step function runs.
struct Storage {
  enum class Kind {
    Constant,     ///< nn.constant: static data in the step program
    Arena,        ///< the step's arena at `offset`
    Result,       ///< the caller's result array `index`
    StateResults, ///< results[index] and the state results after it
    StateArgs,    ///< args[index] and the state arguments after it
    View,         ///< operand `index`'s storage, `offset` bytes in
  };
  Kind kind = Kind::Arena;
  Linear offset;
  int64_t index = 0;
  /// For an nn.pack in the arena: the operands copied into it (the others
  /// were computed in place).
  llvm::SmallVector<int64_t> copied;
};

/// Records `storage` (one per result) on `op`.
void setStorage(mlir::Operation *op, llvm::ArrayRef<Storage> storage);

/// The storage planned for `result`; failure, with a diagnostic at its op,
/// when there is none (kiln-plan-memory has not run) or it is malformed.
mlir::FailureOr<Storage> storageOf(mlir::OpResult result);

/// Records `bytes` as the function attribute `attr` (kArenaBytesAttr or
/// kUnplannedBytesAttr).
void setPlannedBytes(mlir::func::FuncOp func, llvm::StringRef attr,
                     Linear bytes);

/// A function's planned arena size (`kArenaBytesAttr`) or its size with
/// one slot per tensor (`kUnplannedBytesAttr`); failure, with a diagnostic,
/// when the function has not been planned.
mlir::FailureOr<Linear> plannedBytes(mlir::func::FuncOp func,
                                     llvm::StringRef attr);

} // namespace kiln::plan

#endif // KILN_PASSES_PLANMEMORY_H
