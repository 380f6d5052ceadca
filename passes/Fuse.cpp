//===- Fuse.cpp - group ops into nn.kernel ops ------------------*- C++ -*-===//
//
// Part of kiln. The kiln-fuse pass (Passes.td has the full description).
// Precondition: function bodies are single blocks of nn ops (after the
// train pipeline). Two phases:
//
// 1. Vertical: groups, in program order, each op with the kernels of its
//    operands' producers as FusionPolicy.h allows (an anchor with its
//    epilogue, stages and elementwise ops after it). Every group of two or
//    more ops, or one that reads a recomputed scalar, becomes an nn.kernel
//    whose inputs dominate it and whose results dominate every use.
// 2. Horizontal: pointwise kernels that compute the same function of
//    tensors of different shapes (the optimizer update of each parameter)
//    become one kernel over the nn.pack of their operands.
//
// The values computed are unchanged: codegen evaluates the same ops, only
// in fewer loop nests.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "passes/FusionPolicy.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

namespace kiln {
#define GEN_PASS_DEF_FUSE
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln::nn;
using kiln::fusion::Role;

namespace {

/// Whether a kernel copies `def` in rather than reading its value as an
/// input: scalar constants and scalars computed from scalars.
bool copiedIntoKernels(Operation *def) {
  return def && (kiln::fusion::isInlinableConstant(def) ||
                 kiln::fusion::isRecomputableScalar(def));
}

/// What a kernel made of `members` reads and copies: `copied` holds the
/// ops it recomputes (in dependency order), `inputs` the values it reads.
struct KernelInterface {
  llvm::SmallSetVector<Operation *, 8> copied;
  llvm::SmallSetVector<Value, 8> inputs;

  explicit KernelInterface(ArrayRef<Operation *> members) {
    llvm::SmallPtrSet<Operation *, 16> inside(members.begin(), members.end());
    for (Operation *op : members)
      for (Value operand : op->getOperands())
        add(operand, inside);
  }

private:
  void add(Value v, const llvm::SmallPtrSetImpl<Operation *> &inside) {
    Operation *def = v.getDefiningOp();
    if (def && inside.count(def))
      return;
    if (!copiedIntoKernels(def)) {
      inputs.insert(v);
      return;
    }
    if (copied.count(def))
      return;
    for (Value operand : def->getOperands())
      add(operand, inside);
    copied.insert(def);
  }
};

/// The elementwise ops that compute the new training state (the optimizer
/// update): those with a path of elementwise ops to a parameter, buffer or
/// optimizer state that `func` returns.
llvm::DenseSet<Operation *> stateUpdates(func::FuncOp func) {
  llvm::DenseSet<Operation *> updates;
  SmallVector<Operation *> work;
  Operation *ret = func.getBody().front().getTerminator();
  for (OpOperand &result : ret->getOpOperands()) {
    unsigned i = result.getOperandNumber();
    if (func.getResultAttr(i, NNDialect::kParamAttr) ||
        func.getResultAttr(i, NNDialect::kBufferAttr) ||
        func.getResultAttr(i, NNDialect::kOptStateAttr))
      if (Operation *def = result.get().getDefiningOp())
        work.push_back(def);
  }
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!kiln::fusion::isElementwise(op) || !updates.insert(op).second)
      continue;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        work.push_back(def);
  }
  return updates;
}

struct Group {
  SmallVector<Operation *> ops; // program order
  bool hasAnchor = false;
  bool hasStage = false;
};

class Fuser {
public:
  Fuser(func::FuncOp func, bool explain)
      : explain(explain), updates(stateUpdates(func)) {
    Block &block = func.getBody().front();
    for (auto [i, op] : llvm::enumerate(block.getOperations()))
      position[&op] = i;
  }

  /// Forms the groups of `block`.
  void group(Block &block);
  /// Replaces each group worth a kernel by an nn.kernel; returns how many
  /// kernels and member ops there are.
  std::pair<unsigned, unsigned> outline();

private:
  /// Why `op` cannot join `groups` (merged), or "" when it can: at most one
  /// anchor, every outside user of a member after `op` (where the kernel
  /// will be), and the policy's limits.
  std::string whyNot(ArrayRef<unsigned> groups, Operation *op) const;
  /// Why `op` may not extend the kernel computing its operand `from`
  /// (its role, its type), or "".
  static std::string whyNotExtend(Operation *op, Value from);
  void build(Group &group);
  /// With `explain`, says at `op` why it did not join a producer's kernel.
  void remarkNotFused(Operation *op, const std::string &why) const;

  bool explain;
  llvm::DenseSet<Operation *> updates;
  DenseMap<Operation *, size_t> position;
  DenseMap<Operation *, unsigned> groupOf;
  std::vector<Group> groups;
};

std::string Fuser::whyNotExtend(Operation *op, Value from) {
  // A GEMM or convolution computes its epilogue in its register tiles, one
  // reader's chain only; a result read several times is stored anyway, and
  // its readers group better with their own kind (the update of a weight
  // with the updates of every other parameter).
  if (kiln::fusion::roleOf(from.getDefiningOp()) == Role::Anchor &&
      !from.hasOneUse())
    return "the result of " +
           from.getDefiningOp()->getName().getStringRef().str() +
           " has several readers, and only a single reader's chain is an "
           "epilogue";
  // An elementwise op iterates over its result: it may not widen a value
  // of the kernel (a per-channel value broadcast over a batch would be
  // recomputed for every element), and in a kernel of elementwise ops only
  // all of one type keeps it one flat loop.
  if (kiln::fusion::roleOf(op) == Role::Elementwise &&
      op->getResult(0).getType() != from.getType())
    return "its result type differs from that of its operand from the "
           "kernel computing it (" +
           from.getDefiningOp()->getName().getStringRef().str() + ")";
  return "";
}

std::string Fuser::whyNot(ArrayRef<unsigned> choice, Operation *op) const {
  SmallVector<Operation *> members;
  unsigned anchors = 0;
  for (unsigned g : choice) {
    members.append(groups[g].ops);
    anchors += groups[g].hasAnchor;
  }
  members.push_back(op);
  if (anchors > 1)
    return "it would put two GEMMs or convolutions in one kernel";
  // A GEMM reads each operand element many times: a producer inlined into
  // it would be recomputed as often (no prologue fusion).
  llvm::SmallPtrSet<Operation *, 16> inside(members.begin(), members.end());
  for (Operation *m : members)
    if (kiln::fusion::roleOf(m) == Role::Anchor)
      for (Value operand : m->getOperands())
        if (inside.count(operand.getDefiningOp()))
          return "it would compute an operand of " +
                 m->getName().getStringRef().str() +
                 " inside its kernel (no prologue fusion)";
  // Updates of the training state stay kernels of elementwise ops, which
  // the horizontal phase merges into one over the whole state arena.
  if (updates.count(op) &&
      llvm::any_of(choice, [&](unsigned g) {
        return groups[g].hasAnchor || groups[g].hasStage;
      }))
    return "it updates the training state, which is updated by one kernel "
           "over the state arena";
  if (members.size() > kiln::fusion::kMaxKernelOps)
    return "the kernel would hold more than kMaxKernelOps (" +
           std::to_string(kiln::fusion::kMaxKernelOps) + ") ops";
  for (Operation *m : members)
    for (Operation *user : m->getUsers())
      if (!inside.count(user) && position.lookup(user) < position.lookup(op))
        return "a value of the kernel is used by " +
               user->getName().getStringRef().str() +
               " before this op, so the kernel could not be placed here";
  if (KernelInterface(members).inputs.size() > kiln::fusion::kMaxKernelInputs)
    return "the kernel would read more than kMaxKernelInputs (" +
           std::to_string(kiln::fusion::kMaxKernelInputs) + ") inputs";
  return "";
}

void Fuser::remarkNotFused(Operation *op, const std::string &why) const {
  if (explain)
    op->emitRemark("not fused: ") << why;
}

void Fuser::group(Block &block) {
  for (Operation &op : block) {
    Role role = kiln::fusion::roleOf(&op);
    if (role == Role::None || copiedIntoKernels(&op) ||
        op.getNumResults() != 1)
      continue;
    // The groups this op may extend: its operands' producers' groups. An
    // anchor starts a kernel of its own (no prologue fusion).
    llvm::SmallSetVector<unsigned, 4> joined;
    for (Value operand : role == Role::Anchor ? ValueRange()
                                              : op.getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (!def || copiedIntoKernels(def))
        continue;
      auto it = groupOf.find(def);
      if (it == groupOf.end()) {
        remarkNotFused(&op, "its operand comes from " +
                                def->getName().getStringRef().str() +
                                ", which no kernel holds");
        continue;
      }
      std::string why = whyNotExtend(&op, operand);
      if (why.empty())
        joined.insert(it->second);
      else
        remarkNotFused(&op, why);
    }
    // Try all of them merged, then each alone.
    SmallVector<SmallVector<unsigned>> choices;
    if (joined.size() > 1)
      choices.push_back(SmallVector<unsigned>(joined.begin(), joined.end()));
    for (unsigned g : joined)
      choices.push_back({g});
    bool placed = false;
    for (ArrayRef<unsigned> choice : choices) {
      std::string why = whyNot(choice, &op);
      if (!why.empty()) {
        remarkNotFused(&op, why);
        continue;
      }
      unsigned target = choice.front();
      Group &into = groups[target];
      for (unsigned g : choice.drop_front()) {
        into.ops.append(groups[g].ops);
        into.hasAnchor |= groups[g].hasAnchor;
        into.hasStage |= groups[g].hasStage;
        groups[g].ops.clear();
      }
      into.ops.push_back(&op);
      into.hasStage |= role == Role::Stage;
      llvm::sort(into.ops, [&](Operation *a, Operation *b) {
        return position[a] < position[b];
      });
      for (Operation *m : into.ops)
        groupOf[m] = target;
      placed = true;
      break;
    }
    if (!placed) {
      groupOf[&op] = groups.size();
      groups.push_back({{&op}, role == Role::Anchor, role == Role::Stage});
    }
  }
}

void Fuser::build(Group &group) {
  Operation *last = group.ops.back();
  llvm::SmallPtrSet<Operation *, 16> inside(group.ops.begin(),
                                            group.ops.end());
  KernelInterface interface(group.ops);
  llvm::SmallSetVector<Value, 8> results;
  for (Operation *op : group.ops)
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(),
                       [&](Operation *u) { return !inside.count(u); }))
        results.insert(result);

  // The name lists each kind of op once, in order: "matmul_add_relu".
  std::string name;
  llvm::StringSet<> seen;
  for (Operation *op : group.ops) {
    StringRef kind = op->getName().stripDialect();
    if (seen.insert(kind).second)
      name += (name.empty() ? "" : "_") + kind.str();
  }

  OpBuilder b(last);
  b.setInsertionPointAfter(last);
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  auto kernel = b.create<KernelOp>(last->getLoc(), resultTypes,
                                   interface.inputs.getArrayRef(),
                                   b.getStringAttr(name));
  Block *body = new Block();
  kernel.getBody().push_back(body);
  IRMapping map;
  for (Value input : interface.inputs)
    map.map(input, body->addArgument(input.getType(), input.getLoc()));
  OpBuilder inner = OpBuilder::atBlockEnd(body);
  for (Operation *c : interface.copied)
    inner.clone(*c, map);
  for (Operation *op : group.ops)
    inner.clone(*op, map);
  SmallVector<Value> yielded;
  for (Value v : results)
    yielded.push_back(map.lookup(v));
  inner.create<YieldOp>(last->getLoc(), yielded);

  for (auto [i, v] : llvm::enumerate(results))
    Value(v).replaceAllUsesWith(kernel.getResult(i));
  if (explain) {
    InFlightDiagnostic remark = kernel.emitRemark()
                                << "kernel '" << name << "' fuses "
                                << group.ops.size() << " ops:";
    for (Operation *op : group.ops)
      remark.attachNote(op->getLoc()) << op->getName();
  }
  for (Operation *op : llvm::reverse(group.ops))
    op->erase();
}

std::pair<unsigned, unsigned> Fuser::outline() {
  unsigned kernels = 0, fused = 0;
  for (Group &group : groups) {
    // One op alone is a kernel already, unless it reads a scalar that it
    // should recompute rather than wait for a kernel of its own.
    bool readsScalar =
        group.ops.size() == 1 &&
        llvm::any_of(group.ops[0]->getOperands(), [](Value v) {
          Operation *def = v.getDefiningOp();
          return def && kiln::fusion::isRecomputableScalar(def);
        });
    if (group.ops.size() >= 2 || readsScalar) {
      ++kernels;
      fused += group.ops.size();
      build(group);
    }
  }
  return {kernels, fused};
}

/// Erases the copied-in ops (scalars, constants) nothing reads any more.
void eraseDeadScalars(Block &block) {
  SmallVector<Operation *> ops;
  for (Operation &op : block)
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (op->use_empty() && (copiedIntoKernels(op) || isa<ConstantOp>(op)))
      op->erase();
}

//===----------------------------------------------------------------------===//
// Horizontal merging
//===----------------------------------------------------------------------===//

/// A pointwise kernel's computation, independent of its tensors' shape:
/// two kernels with the same signature compute the same function of each
/// element, so one kernel over their concatenated operands computes both.
/// Empty when `kernel` may not be merged: it must hold only elementwise ops
/// on tensors of one static shape (or scalars), and every result must go
/// only to the function's return (so the merged kernel can stand where the
/// last one was).
std::string mergeSignature(KernelOp kernel) {
  auto shape = cast<RankedTensorType>(kernel.getResult(0).getType());
  if (!shape.hasStaticShape() || shape.getRank() == 0)
    return "";
  auto fits = [&](Type t) {
    auto r = cast<RankedTensorType>(t);
    return r.getRank() == 0 || r.getShape() == shape.getShape();
  };
  for (Value v : kernel.getResults())
    if (!fits(v.getType()) ||
        llvm::any_of(v.getUsers(),
                     [](Operation *u) { return !isa<func::ReturnOp>(u); }))
      return "";
  std::string signature;
  llvm::raw_string_ostream os(signature);
  // Scalar inputs must be the very same values; tensors line up by index.
  for (Value input : kernel.getInputs()) {
    if (!fits(input.getType()))
      return "";
    if (cast<RankedTensorType>(input.getType()).getRank() == 0)
      os << "scalar " << input.getAsOpaquePointer() << "; ";
    else
      os << "tensor " << cast<RankedTensorType>(input.getType())
                             .getElementType()
         << "; ";
  }
  Block &body = kernel.getBody().front();
  DenseMap<Value, std::string> id;
  for (BlockArgument arg : body.getArguments())
    id[arg] = "in" + std::to_string(arg.getArgNumber());
  int n = 0;
  for (Operation &op : body) {
    if (!isa<YieldOp, ConstantOp>(op) && !kiln::fusion::isElementwise(&op))
      return "";
    if (isa<ConstantOp>(op) && !kiln::fusion::isInlinableConstant(&op))
      return "";
    os << op.getName() << op.getAttrDictionary() << "(";
    for (Value operand : op.getOperands())
      os << id[operand] << ",";
    os << ") ";
    for (Value r : op.getResults()) {
      id[r] = "v" + std::to_string(n++);
      os << (cast<RankedTensorType>(r.getType()).getRank() == 0 ? "s " : "t ");
    }
  }
  return signature;
}

/// Replaces `members` (same signature, program order) by one kernel over
/// the nn.pack of their tensor inputs, placed at the last member, whose
/// results are nn.unpack'ed back into the members' results.
void mergeKernels(MutableArrayRef<KernelOp> members) {
  KernelOp first = members.front(), last = members.back();
  OpBuilder b(last);
  b.setInsertionPointAfter(last);
  Location loc = last.getLoc();
  Type element = cast<RankedTensorType>(first.getResult(0).getType())
                     .getElementType();
  int64_t total = 0;
  for (KernelOp k : members)
    total += cast<RankedTensorType>(k.getResult(0).getType()).getNumElements();
  auto flat = RankedTensorType::get({total}, element);

  SmallVector<Value> inputs;
  for (unsigned i = 0; i < first.getInputs().size(); ++i) {
    Value input = first.getInputs()[i];
    if (cast<RankedTensorType>(input.getType()).getRank() == 0) {
      inputs.push_back(input);
      continue;
    }
    SmallVector<Value> parts;
    for (KernelOp k : members)
      parts.push_back(k.getInputs()[i]);
    inputs.push_back(b.create<PackOp>(loc, flat, parts));
  }
  SmallVector<Type> resultTypes;
  for (Value r : first.getResults())
    resultTypes.push_back(
        cast<RankedTensorType>(r.getType()).getRank() == 0 ? r.getType()
                                                           : Type(flat));
  auto merged = b.create<KernelOp>(loc, resultTypes, inputs,
                                   first.getNameAttr());
  // The body of the first member, every tensor now the flat one.
  IRMapping map;
  first.getBody().cloneInto(&merged.getBody(), map);
  Block &body = merged.getBody().front();
  auto flatten = [&](Value v) {
    if (cast<RankedTensorType>(v.getType()).getRank() > 0)
      v.setType(flat);
  };
  for (BlockArgument arg : body.getArguments())
    flatten(arg);
  for (Operation &op : body)
    for (Value r : op.getResults())
      flatten(r);

  for (unsigned r = 0; r < merged.getNumResults(); ++r) {
    SmallVector<Type> parts;
    for (KernelOp k : members)
      parts.push_back(k.getResult(r).getType());
    auto unpack = b.create<UnpackOp>(loc, parts, merged.getResult(r));
    for (auto [k, part] : llvm::zip(members, unpack.getResults()))
      k.getResult(r).replaceAllUsesWith(part);
  }
  for (KernelOp k : members)
    k.erase();
}

/// Merges the kernels of `block` that share a signature; returns how many
/// kernels were merged away.
unsigned mergeSiblings(Block &block, bool explain) {
  llvm::MapVector<std::string, SmallVector<KernelOp>,
                  llvm::StringMap<unsigned>>
      bySignature;
  for (auto kernel : block.getOps<KernelOp>()) {
    std::string signature = mergeSignature(kernel);
    if (!signature.empty())
      bySignature[signature].push_back(kernel);
  }
  unsigned merged = 0;
  for (auto &[signature, members] : bySignature) {
    if (members.size() < 2)
      continue;
    if (explain)
      members.back().emitRemark("merges the ")
          << members.size() << " '" << members.back().getName()
          << "' kernels into one over their packed operands";
    merged += members.size() - 1;
    mergeKernels(members);
  }
  return merged;
}

struct Fuse : kiln::impl::FuseBase<Fuse> {
  using FuseBase::FuseBase;
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.getBody().getBlocks().size() != 1)
        continue;
      Block &block = func.getBody().front();
      Fuser fuser(func, explain);
      fuser.group(block);
      auto [kernels, fused] = fuser.outline();
      eraseDeadScalars(block);
      numKernels += kernels;
      numFused += fused;
      numMerged += mergeSiblings(block, explain);
    }
  }
};

} // namespace
