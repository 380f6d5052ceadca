//===- Fuse.cpp - group elementwise ops into nn.kernel ops -------*- C++ -*-===//
//
// Part of kiln. The kiln-fuse pass (Passes.td has the full description).
// Precondition: function bodies are single blocks of nn ops (after the
// train pipeline). Afterwards every group of two or more fusible ops is one
// nn.kernel whose inputs dominate it and whose results dominate every use;
// the values computed are unchanged (codegen evaluates the same ops inside
// one loop nest).
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "passes/FusionPolicy.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

namespace kiln {
#define GEN_PASS_DEF_FUSE
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln::nn;

namespace {

struct Group {
  SmallVector<Operation *> ops; // program order
  Type type;                    // the result type every member has
};

class Fuser {
public:
  Fuser(Block &block, bool explain) : explain(explain) {
    for (auto [i, op] : llvm::enumerate(block.getOperations()))
      position[&op] = i;
  }

  /// Forms the groups of `block`.
  void group(Block &block);
  /// Replaces each group of two or more ops by an nn.kernel; returns how
  /// many kernels and member ops there are.
  std::pair<unsigned, unsigned> outline();

private:
  /// Why the ops of `members` (with `last` the latest) cannot become one
  /// kernel placed at `last`, or "" when they can: every outside user of a
  /// member must come after it, and the kernel must stay within the
  /// policy's limits.
  std::string whyNot(ArrayRef<Operation *> members, Operation *last) const;
  void build(Group &group);
  /// With `explain`, says at `op` why it did not join a producer's kernel.
  void remarkNotFused(Operation *op, const std::string &why) const;

  bool explain;
  DenseMap<Operation *, size_t> position;
  DenseMap<Operation *, unsigned> groupOf;
  std::vector<Group> groups;
};

std::string Fuser::whyNot(ArrayRef<Operation *> members,
                          Operation *last) const {
  if (members.size() > kiln::fusion::kMaxKernelOps)
    return "the kernel would hold more than kMaxKernelOps (" +
           std::to_string(kiln::fusion::kMaxKernelOps) + ") ops";
  llvm::SmallPtrSet<Operation *, 16> inside(members.begin(), members.end());
  llvm::SmallSetVector<Value, 8> inputs;
  for (Operation *op : members) {
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (!inside.count(def) &&
          !(def && kiln::fusion::isInlinableConstant(def)))
        inputs.insert(operand);
    }
    for (Operation *user : op->getUsers())
      if (!inside.count(user) && position.lookup(user) < position.lookup(last))
        return "a value of the kernel is used by " +
               user->getName().getStringRef().str() +
               " before this op, so the kernel could not be placed here";
  }
  if (inputs.size() > kiln::fusion::kMaxKernelInputs)
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
    if (!kiln::fusion::isElementwise(&op))
      continue;
    Type type = op.getResult(0).getType();
    // The groups this op connects: its operands' producers' groups of the
    // same result type.
    llvm::SmallSetVector<unsigned, 4> joined;
    for (Value operand : op.getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (!def || kiln::fusion::isInlinableConstant(def))
        continue;
      auto it = groupOf.find(def);
      if (it == groupOf.end())
        remarkNotFused(&op, "its operand comes from " +
                                def->getName().getStringRef().str() +
                                ", which fuses with nothing (only "
                                "elementwise ops fuse so far)");
      else if (groups[it->second].type != type)
        remarkNotFused(&op, "its result type differs from that of the "
                            "kernel computing its operand (" +
                                def->getName().getStringRef().str() + ")");
      else
        joined.insert(it->second);
    }
    // Try all of them merged, then each alone.
    SmallVector<SmallVector<unsigned>> choices;
    if (joined.size() > 1)
      choices.push_back(SmallVector<unsigned>(joined.begin(), joined.end()));
    for (unsigned g : joined)
      choices.push_back({g});
    bool placed = false;
    for (ArrayRef<unsigned> choice : choices) {
      SmallVector<Operation *> members;
      for (unsigned g : choice)
        members.append(groups[g].ops);
      members.push_back(&op);
      std::string why = whyNot(members, &op);
      if (!why.empty()) {
        remarkNotFused(&op, why);
        continue;
      }
      llvm::sort(members, [&](Operation *a, Operation *b) {
        return position[a] < position[b];
      });
      unsigned target = choice.front();
      for (unsigned g : choice.drop_front())
        groups[g].ops.clear();
      groups[target].ops = members;
      for (Operation *m : members)
        groupOf[m] = target;
      placed = true;
      break;
    }
    if (!placed) {
      groupOf[&op] = groups.size();
      groups.push_back({{&op}, type});
    }
  }
}

void Fuser::build(Group &group) {
  Operation *last = group.ops.back();
  llvm::SmallPtrSet<Operation *, 16> inside(group.ops.begin(),
                                            group.ops.end());
  llvm::SmallSetVector<Value, 8> inputs, results;
  SmallVector<Operation *> constants;
  for (Operation *op : group.ops) {
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && inside.count(def))
        continue;
      if (def && kiln::fusion::isInlinableConstant(def)) {
        if (!llvm::is_contained(constants, def))
          constants.push_back(def);
        continue;
      }
      inputs.insert(operand);
    }
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(),
                       [&](Operation *u) { return !inside.count(u); }))
        results.insert(result);
  }

  // The name lists each kind of op once, in order: "mul_add_sqrt_div_sub".
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
                                   inputs.getArrayRef(), b.getStringAttr(name));
  Block *body = new Block();
  kernel.getBody().push_back(body);
  IRMapping map;
  for (Value input : inputs)
    map.map(input, body->addArgument(input.getType(), input.getLoc()));
  OpBuilder inner = OpBuilder::atBlockEnd(body);
  for (Operation *c : constants)
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
  for (Group &group : groups)
    if (group.ops.size() >= 2) {
      ++kernels;
      fused += group.ops.size();
      build(group);
    }
  return {kernels, fused};
}

struct Fuse : kiln::impl::FuseBase<Fuse> {
  using FuseBase::FuseBase;
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.getBody().getBlocks().size() != 1)
        continue;
      Block &block = func.getBody().front();
      Fuser fuser(block, explain);
      fuser.group(block);
      auto [kernels, fused] = fuser.outline();
      numKernels += kernels;
      numFused += fused;
    }
  }
};

} // namespace
