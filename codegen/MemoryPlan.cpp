//===- MemoryPlan.cpp - arena slots for a step's intermediates --*- C++ -*-===//
//
// Part of kiln. See MemoryPlan.h. First fit over freed slots in program
// order; a freed slot is reused whole (never split), which keeps every
// offset linear in B. The planner's constants and rules are all here.
//
//===----------------------------------------------------------------------===//

#include "codegen/MemoryPlan.h"

#include "ir/NNDialect.h"

#include <limits>
#include <vector>

using namespace kiln::codegen;

namespace {

// Slots start on cache lines: no two tensors share one, and Halide's
// vector loads start aligned.
constexpr int64_t kSlotAlign = 64;

int64_t roundUp(int64_t v) { return (v + kSlotAlign - 1) / kSlotAlign * kSlotAlign; }

struct Slot {
  Linear offset, size;
};

} // namespace

Linear Linear::aligned() const { return {roundUp(perBatch), roundUp(fixed)}; }

std::string Linear::str() const {
  if (perBatch == 0)
    return std::to_string(fixed);
  std::string s = "B * " + std::to_string(perBatch);
  return fixed ? s + " + " + std::to_string(fixed) : s;
}

int64_t kiln::codegen::elementBytes(mlir::RankedTensorType t) {
  return t.getElementType().isInteger(64) ? 8 : 4;
}

Linear kiln::codegen::bytesOf(mlir::RankedTensorType t) {
  int64_t n = elementBytes(t);
  bool dynamic = false;
  for (int64_t d : t.getShape())
    mlir::ShapedType::isDynamic(d) ? dynamic = true : n *= d;
  return dynamic ? Linear{n, 0} : Linear{0, n};
}

MemoryPlan::MemoryPlan(mlir::func::FuncOp func,
                       const std::function<bool(mlir::Value)> &needsSlot) {
  mlir::Block &block = func.getBody().front();
  // The value whose storage a value lives in (reshapes are views), and the
  // last op (by position) that reads that storage.
  llvm::DenseMap<mlir::Value, mlir::Value> root;
  llvm::DenseMap<mlir::Value, size_t> lastUse;
  auto rootOf = [&](mlir::Value v) {
    auto it = root.find(v);
    return it == root.end() ? v : it->second;
  };
  std::vector<mlir::Operation *> order;
  for (mlir::Operation &op : block)
    order.push_back(&op);
  for (auto [i, op] : llvm::enumerate(order)) {
    if (llvm::isa<kiln::nn::ReshapeOp>(op))
      root[op->getResult(0)] = rootOf(op->getOperand(0));
    size_t use = llvm::isa<mlir::func::ReturnOp>(op)
                     ? std::numeric_limits<size_t>::max() // copied out last
                     : i;
    for (mlir::Value v : op->getOperands()) {
      size_t &last = lastUse[rootOf(v)];
      last = std::max(last, use);
    }
  }

  std::vector<Slot> free;
  llvm::DenseMap<mlir::Value, Slot> live;
  for (auto [i, op] : llvm::enumerate(order)) {
    for (mlir::Value r : op->getResults()) {
      if (!needsSlot(r))
        continue;
      Linear size = bytesOf(llvm::cast<mlir::RankedTensorType>(r.getType()))
                        .aligned();
      total = total + size;
      auto fit = llvm::find_if(free, [&](const Slot &s) {
        return size.fitsIn(s.size);
      });
      Slot slot;
      if (fit != free.end()) {
        slot = *fit;
        free.erase(fit);
      } else {
        slot = {end, size};
        end = end + size;
      }
      offsets[r] = slot.offset;
      live[r] = slot;
    }
    // After the op: storage it read for the last time, and results nothing
    // reads, are free for the ops that follow.
    auto release = [&](mlir::Value v) {
      auto it = live.find(v);
      if (it == live.end() || lastUse.lookup(v) > i)
        return;
      free.push_back(it->second);
      live.erase(it);
    };
    for (mlir::Value v : op->getOperands())
      release(rootOf(v));
    for (mlir::Value r : op->getResults())
      release(r);
  }
}
