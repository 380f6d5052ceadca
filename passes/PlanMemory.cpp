//===- PlanMemory.cpp - where every tensor of a step lives ------*- C++ -*-===//
//
// Part of kiln. The kiln-plan-memory pass (Passes.td has the full
// description); PlanMemoryFormat.cpp writes its decisions as attributes.
// Every rule and constant of memory planning is in this file; codegen only
// reads the result. Precondition: single-block functions of nn ops whose
// shapes are static except one batch dimension. Afterwards every op result of every
// function carries its storage (`kiln.storage`) and every function its
// arena sizes (`kiln.arena_bytes`, `kiln.unplanned_bytes`); no op changes.
//
//===----------------------------------------------------------------------===//

#include "passes/PlanMemory.h"

#include "ir/NNDialect.h"
#include "passes/FusionPolicy.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallBitVector.h"

#include <limits>
#include <optional>
#include <vector>

namespace kiln {
#define GEN_PASS_DEF_PLANMEMORY
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln::nn;
using kiln::plan::Linear;
using kiln::plan::Storage;

namespace {

// Slots start on cache lines: no two tensors share one, and Halide's
// vector loads start aligned. A kernel may read back an output it wrote
// only at such an offset (Halide assumes its own outputs aligned; codegen
// copies the others, codegen/Kernels.cpp readableBack), so a tensor is
// computed inside a pack only where its offset there is a multiple of this
// too (nn.pack has no padding).
constexpr int64_t kSlotAlign = 64;

// The position of the function's return: the copies into the caller's
// arrays run after every op, so what they read stays alive to the end.
constexpr size_t kAfterLastOp = std::numeric_limits<size_t>::max();

int64_t roundUp(int64_t v) {
  return (v + kSlotAlign - 1) / kSlotAlign * kSlotAlign;
}

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

Linear bytesOfValue(Value v) { return kiln::plan::bytesOf(tensorType(v)); }

/// Whether `op` runs as a kernel: constants are data, and reshape, pack and
/// unpack only move or name bytes.
bool isKernel(Operation *op) {
  return !isa<ConstantOp, ReshapeOp, PackOp, UnpackOp, func::ReturnOp>(op);
}

/// Whether an argument or result with attributes `attrs` is training state,
/// which the caller keeps back to back (runtime/Model.h, the state arena).
bool isState(DictionaryAttr attrs) {
  return attrs && (attrs.get(NNDialect::kParamAttr) ||
                   attrs.get(NNDialect::kBufferAttr) ||
                   attrs.get(NNDialect::kOptStateAttr));
}

/// Whether `op` computes element i of every result from element i of its
/// operands only (scalars aside), reading it before writing: an
/// elementwise op, or a kernel of them, whose tensors all share one shape.
/// GEMMs, convolutions and reductions read operands after writing results.
bool isPointwise(Operation *op) {
  if (auto kernel = dyn_cast<KernelOp>(op)) {
    for (Operation &inner : kernel.getBody().front().without_terminator())
      if (!isa<ConstantOp>(inner) && !kiln::fusion::isElementwise(&inner))
        return false;
  } else if (!kiln::fusion::isElementwise(op)) {
    return false;
  }
  std::optional<ArrayRef<int64_t>> shape;
  auto sameShape = [&](Value v) {
    RankedTensorType t = tensorType(v);
    if (t.getRank() == 0)
      return true;
    if (shape && *shape != t.getShape())
      return false;
    shape = t.getShape();
    return true;
  };
  return llvm::all_of(op->getOperands(), sameShape) &&
         llvm::all_of(op->getResults(), sameShape);
}

/// For each result of `op`, the operand positions it reads. A kernel
/// computes each result in its own loop nest, so a result may overwrite an
/// operand only if no other result reads that operand.
SmallVector<llvm::SmallBitVector> operandsRead(Operation *op) {
  unsigned n = op->getNumOperands();
  auto kernel = dyn_cast<KernelOp>(op);
  if (!kernel)
    return SmallVector<llvm::SmallBitVector>(op->getNumResults(),
                                             llvm::SmallBitVector(n, true));
  Block &body = kernel.getBody().front();
  DenseMap<Value, llvm::SmallBitVector> reads;
  for (BlockArgument arg : body.getArguments()) {
    llvm::SmallBitVector bits(n);
    bits.set(arg.getArgNumber());
    reads[arg] = bits;
  }
  for (Operation &inner : body.without_terminator()) {
    llvm::SmallBitVector bits(n);
    for (Value v : inner.getOperands())
      if (auto it = reads.find(v); it != reads.end())
        bits |= it->second;
    for (Value r : inner.getResults())
      reads[r] = bits;
  }
  SmallVector<llvm::SmallBitVector> result;
  for (Value v : body.getTerminator()->getOperands()) {
    auto it = reads.find(v);
    result.push_back(it == reads.end() ? llvm::SmallBitVector(n) : it->second);
  }
  return result;
}

struct Slot {
  Linear offset, size;
};

/// Plans one function: decides each result's storage, then assigns arena
/// offsets by liveness.
class FunctionPlanner {
public:
  explicit FunctionPlanner(func::FuncOp func)
      : func(func), block(func.getBody().front()) {}

  LogicalResult plan();

  unsigned numInPlace = 0, numPacked = 0, numCopied = 0;

private:
  LogicalResult checkShapes();
  /// Kernel results the caller receives are computed into its arrays.
  void placeInCallerResults();
  /// Packs of consecutive state arguments are views; other packs get a
  /// slot that their operands are computed into where possible.
  void placePacks();
  /// The arena slot (its owner) and offset in it of every value whose
  /// bytes are in the arena, and each owner's live range.
  void findLiveRanges();
  /// First-fit slots in program order, with in-place updates.
  void assignSlots();
  /// Whether `result` of pointwise `op` may take over `operand`'s slot.
  bool mayOverwrite(Operation *op, OpResult result, Value operand,
                    size_t position,
                    const DenseMap<Value, Slot> &live) const;
  void write();

  func::FuncOp func;
  Block &block;
  std::vector<Operation *> order;
  DenseMap<Operation *, size_t> position;
  DenseMap<Value, Storage> storage;
  /// For a kernel result computed inside a pack's slot: the pack, and the
  /// byte offset of the operand in it.
  DenseMap<Value, std::pair<Value, int64_t>> placedIn;
  /// For every value whose bytes are in the arena: the value owning the
  /// slot and the value's byte offset inside it.
  DenseMap<Value, std::pair<Value, Linear>> inArena;
  /// Each slot owner's first and last positions (definition or use of any
  /// value in the slot), owners in program order of their first value.
  DenseMap<Value, std::pair<size_t, size_t>> liveRange;
  std::vector<Value> owners;
  DenseMap<Value, Linear> slotOffset;
  Linear arenaEnd, unplanned;
};

LogicalResult FunctionPlanner::checkShapes() {
  auto check = [&](Value v, Location loc) -> LogicalResult {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t)
      return emitError(loc) << "kiln-plan-memory needs ranked tensors, not "
                            << v.getType();
    if (llvm::count_if(t.getShape(), ShapedType::isDynamic) > 1)
      return emitError(loc) << "kiln-plan-memory sizes tensors linearly in "
                               "the batch; " << t
                            << " has more than one dynamic dimension";
    return success();
  };
  for (BlockArgument arg : block.getArguments())
    if (failed(check(arg, func.getLoc())))
      return failure();
  for (Operation &op : block.without_terminator())
    for (Value r : op.getResults())
      if (failed(check(r, op.getLoc())))
        return failure();
  return success();
}

void FunctionPlanner::placeInCallerResults() {
  auto ret = cast<func::ReturnOp>(block.getTerminator());
  DenseMap<Value, unsigned> firstReturn;
  for (auto [i, v] : llvm::enumerate(ret.getOperands()))
    firstReturn.try_emplace(v, i);
  // Result k's position among the state results, or -1.
  SmallVector<int64_t> stateIndex;
  int64_t states = 0;
  for (unsigned k = 0; k < func.getNumResults(); ++k)
    stateIndex.push_back(isState(func.getResultAttrDict(k)) ? states++ : -1);

  // A kernel result split by an unpack into values returned as consecutive
  // state results is computed into the first of them: by the state arena
  // contract the others follow it exactly.
  for (Operation *op : order) {
    auto unpack = dyn_cast<UnpackOp>(op);
    if (!unpack)
      continue;
    Value packed = unpack.getInput();
    Operation *def = packed.getDefiningOp();
    if (!def || !isKernel(def) || !packed.hasOneUse() ||
        firstReturn.count(packed))
      continue;
    SmallVector<unsigned> indices;
    for (auto [j, r] : llvm::enumerate(unpack.getResults())) {
      auto it = firstReturn.find(r);
      if (it == firstReturn.end() || stateIndex[it->second] < 0 ||
          (j && stateIndex[it->second] != stateIndex[indices[0]] + int64_t(j)))
        break;
      indices.push_back(it->second);
    }
    if (indices.size() != unpack.getNumResults())
      continue;
    storage[packed] = {Storage::Kind::StateResults, {}, indices[0], {}};
    for (auto [r, k] : llvm::zip(unpack.getResults(), indices))
      storage[r] = {Storage::Kind::Result, {}, k, {}};
  }
  // Any other kernel result the caller receives is computed into its array
  // (the first one, when it is returned twice; the others are copies).
  for (auto [v, k] : firstReturn) {
    Operation *def = v.getDefiningOp();
    if (def && isKernel(def) && storage[v].kind == Storage::Kind::Arena)
      storage[v] = {Storage::Kind::Result, {}, k, {}};
  }
}

void FunctionPlanner::placePacks() {
  SmallVector<int64_t> stateIndex;
  int64_t states = 0;
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    stateIndex.push_back(isState(func.getArgAttrDict(i)) ? states++ : -1);
  // The kernel result whose bytes `v` is, through reshapes (a gradient
  // summed with keepdim is reshaped before it is packed), or null.
  auto producer = [](Value v) {
    while (auto reshape = v.getDefiningOp<ReshapeOp>())
      v = reshape->getOperand(0);
    Operation *def = v.getDefiningOp();
    return def && isKernel(def) ? v : Value();
  };
  DenseMap<Value, unsigned> timesPacked;
  for (Operation *op : order)
    if (auto pack = dyn_cast<PackOp>(op))
      for (Value v : pack.getInputs())
        ++timesPacked[producer(v) ? producer(v) : v];

  for (Operation *op : order) {
    auto pack = dyn_cast<PackOp>(op);
    if (!pack)
      continue;
    ValueRange inputs = pack.getInputs();
    bool consecutiveState = llvm::all_of(
        llvm::enumerate(inputs), [&](auto indexed) {
          auto arg = dyn_cast<BlockArgument>(indexed.value());
          auto first = dyn_cast<BlockArgument>(inputs[0]);
          return arg && first && stateIndex[arg.getArgNumber()] >= 0 &&
                 stateIndex[arg.getArgNumber()] ==
                     stateIndex[first.getArgNumber()] +
                         int64_t(indexed.index());
        });
    if (consecutiveState) {
      storage[pack.getResult()] = {
          Storage::Kind::StateArgs, {},
          cast<BlockArgument>(inputs[0]).getArgNumber(), {}};
      continue;
    }
    // The pack gets a slot; an operand computed by a kernel into the arena
    // (or a reshape of one) and packed nowhere else is computed straight
    // into its place there.
    Storage &packStorage = storage[pack.getResult()];
    packStorage = {Storage::Kind::Arena, {}, 0, {}};
    int64_t offset = 0;
    for (auto [j, v] : llvm::enumerate(inputs)) {
      Value computed = producer(v);
      bool placeable = computed &&
                       storage[computed].kind == Storage::Kind::Arena &&
                       timesPacked[computed] == 1 && offset % kSlotAlign == 0;
      if (placeable) {
        placedIn[computed] = {pack.getResult(), offset};
        ++numPacked;
      } else {
        packStorage.copied.push_back(int64_t(j));
        ++numCopied;
      }
      offset += bytesOfValue(v).fixed;
    }
  }
}

void FunctionPlanner::findLiveRanges() {
  auto note = [&](Value v, Value owner, Linear offset) {
    inArena[v] = {owner, offset};
    size_t def = position.lookup(v.getDefiningOp());
    auto [it, fresh] = liveRange.try_emplace(owner, def, def);
    if (fresh)
      owners.push_back(owner);
    auto &[first, last] = it->second;
    first = std::min(first, def);
    last = std::max(last, def);
    for (Operation *user : v.getUsers()) {
      Operation *top = block.findAncestorOpInBlock(*user);
      last = std::max(last, isa<func::ReturnOp>(top) ? kAfterLastOp
                                                      : position.lookup(top));
    }
  };
  for (Operation *op : order) {
    for (OpResult r : op->getResults()) {
      const Storage &s = storage[r];
      if (s.kind == Storage::Kind::Arena) {
        auto placed = placedIn.find(r);
        if (placed != placedIn.end())
          note(r, placed->second.first, Linear{0, placed->second.second});
        else
          note(r, r, Linear{});
        unplanned = unplanned + bytesOfValue(r).aligned();
      } else if (s.kind == Storage::Kind::View) {
        auto viewed = inArena.find(op->getOperand(s.index));
        if (viewed != inArena.end())
          note(r, viewed->second.first, viewed->second.second + s.offset);
      }
    }
  }
}

bool FunctionPlanner::mayOverwrite(Operation *op, OpResult result,
                                   Value operand, size_t at,
                                   const DenseMap<Value, Slot> &live) const {
  auto it = inArena.find(operand);
  if (it == inArena.end())
    return false;
  auto [owner, offset] = it->second;
  // The operand must be the slot's whole content, dying here, with the
  // result's size, so element i of both is at the same address.
  if (!live.count(owner) || liveRange.lookup(owner).second != at ||
      !(offset == Linear{}) || !(bytesOfValue(owner) == bytesOfValue(result)) ||
      !(bytesOfValue(operand) == bytesOfValue(result)))
    return false;
  SmallVector<llvm::SmallBitVector> reads = operandsRead(op);
  for (auto [k, bits] : llvm::enumerate(reads)) {
    if (k == result.getResultNumber())
      continue;
    for (auto [j, v] : llvm::enumerate(op->getOperands()))
      if (v == operand && bits.test(j))
        return false;
  }
  return true;
}

void FunctionPlanner::assignSlots() {
  // Slots taken and freed at each position (those read by the return are
  // never freed).
  std::vector<SmallVector<Value>> startsAt(order.size()), endsAt(order.size());
  for (Value owner : owners) {
    auto [first, last] = liveRange.lookup(owner);
    startsAt[first].push_back(owner);
    if (last != kAfterLastOp)
      endsAt[last].push_back(owner);
  }
  std::vector<Slot> free;
  DenseMap<Value, Slot> live;
  for (auto [i, op] : llvm::enumerate(order)) {
    bool pointwise = isPointwise(op);
    for (Value owner : startsAt[i]) {
      Linear size = bytesOfValue(owner).aligned();
      auto result = dyn_cast<OpResult>(owner);
      if (pointwise && result && result.getOwner() == op) {
        auto victim = llvm::find_if(op->getOperands(), [&](Value v) {
          return mayOverwrite(op, result, v, i, live);
        });
        if (victim != op->operand_end()) {
          Value previous = inArena.lookup(*victim).first;
          live[owner] = live.lookup(previous);
          live.erase(previous);
          slotOffset[owner] = live[owner].offset;
          ++numInPlace;
          continue;
        }
      }
      auto fit = llvm::find_if(free, [&](const Slot &s) {
        return size.fitsIn(s.size);
      });
      Slot slot;
      if (fit != free.end()) {
        slot = *fit;
        free.erase(fit);
      } else {
        slot = {arenaEnd, size};
        arenaEnd = arenaEnd + size;
      }
      live[owner] = slot;
      slotOffset[owner] = slot.offset;
    }
    // After the op, the slots it read for the last time (and those of
    // results nothing reads) are free for the ops that follow.
    for (Value owner : endsAt[i]) {
      auto it = live.find(owner);
      if (it == live.end())
        continue;
      free.push_back(it->second);
      live.erase(it);
    }
  }
}

void FunctionPlanner::write() {
  for (Operation *op : order) {
    SmallVector<Storage> results;
    for (Value r : op->getResults()) {
      Storage s = storage[r];
      if (s.kind == Storage::Kind::Arena) {
        auto [owner, offset] = inArena.lookup(r);
        s.offset = slotOffset.lookup(owner) + offset;
      }
      results.push_back(s);
    }
    kiln::plan::setStorage(op, results);
  }
  kiln::plan::setPlannedBytes(func, kiln::plan::kArenaBytesAttr, arenaEnd);
  kiln::plan::setPlannedBytes(func, kiln::plan::kUnplannedBytesAttr,
                              unplanned);
}

LogicalResult FunctionPlanner::plan() {
  if (failed(checkShapes()))
    return failure();
  for (Operation &op : block.without_terminator()) {
    position[&op] = order.size();
    order.push_back(&op);
    if (isa<ConstantOp>(op)) {
      storage[op.getResult(0)] = {Storage::Kind::Constant, {}, 0, {}};
    } else if (isa<ReshapeOp>(op)) {
      storage[op.getResult(0)] = {Storage::Kind::View, {}, 0, {}};
    } else if (isa<UnpackOp>(op)) {
      // Result j starts where results 0..j-1 end.
      int64_t offset = 0;
      for (Value r : op.getResults()) {
        storage[r] = {Storage::Kind::View, Linear{0, offset}, 0, {}};
        offset += bytesOfValue(r).fixed;
      }
    } else {
      for (Value r : op.getResults())
        storage[r] = {Storage::Kind::Arena, {}, 0, {}};
    }
  }
  placeInCallerResults();
  placePacks();
  findLiveRanges();
  assignSlots();
  write();
  return success();
}

struct PlanMemory : kiln::impl::PlanMemoryBase<PlanMemory> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || func.getBody().getBlocks().size() != 1)
        continue;
      FunctionPlanner planner(func);
      if (failed(planner.plan()))
        return signalPassFailure();
      numInPlace += planner.numInPlace;
      numPacked += planner.numPacked;
      numCopied += planner.numCopied;
    }
  }
};

} // namespace

Linear Linear::aligned() const { return {roundUp(perBatch), roundUp(fixed)}; }
