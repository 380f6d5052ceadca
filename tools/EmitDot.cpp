//===- EmitDot.cpp - the fused graph as Graphviz ----------------*- C++ -*-===//
//
// Part of kiln. See EmitDot.h. Constants are left out (they are data, not
// work); a kernel's inputs connect to the member ops that read them.
//
//===----------------------------------------------------------------------===//

#include "tools/EmitDot.h"

#include "ir/NNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;

namespace {

class DotWriter {
public:
  DotWriter(llvm::raw_ostream &os) : os(os) {}

  void function(func::FuncOp func) {
    std::string prefix = func.getSymName().str();
    os << "  subgraph cluster_" << prefix << " {\n    label=\"@" << prefix
       << "\";\n";
    for (BlockArgument arg : func.getArguments()) {
      std::string id = prefix + "_arg" + std::to_string(arg.getArgNumber());
      source[arg] = id;
      os << "    " << id << " [shape=ellipse, label=\""
         << kiln::nn::argumentName(func, arg.getArgNumber()) << "\"];\n";
    }
    for (Operation &op : func.getBody().front())
      node(op, prefix, "    ");
    os << "  }\n";
  }

private:
  /// The node of `op` (a cluster for a kernel), then its incoming edges.
  void node(Operation &op, const std::string &prefix,
            const std::string &indent) {
    if (isa<kiln::nn::ConstantOp>(op))
      return;
    std::string id = prefix + "_op" + std::to_string(count++);
    if (auto kernel = dyn_cast<kiln::nn::KernelOp>(op)) {
      os << indent << "subgraph cluster_" << id << " {\n"
         << indent << "  label=\"kernel " << kernel.getName()
         << "\"; style=filled; fillcolor=\"#eef4ff\";\n";
      Block &body = kernel.getBody().front();
      for (auto [arg, input] : llvm::zip(body.getArguments(), kernel.getInputs()))
        source[arg] = source.lookup(input);
      for (Operation &inner : body)
        node(inner, prefix, indent + "  ");
      os << indent << "}\n";
      auto yield = body.getTerminator();
      for (auto [result, value] :
           llvm::zip(kernel.getResults(), yield->getOperands()))
        source[result] = source.lookup(value);
      return;
    }
    if (isa<kiln::nn::YieldOp, func::ReturnOp>(op))
      return;
    os << indent << id << " [shape=box, label=\""
       << op.getName().stripDialect();
    if (auto loc = dyn_cast<FileLineColLoc>(op.getLoc()))
      os << "\\nline " << loc.getLine();
    os << "\"];\n";
    for (Value operand : op.getOperands()) {
      std::string from = source.lookup(operand);
      if (!from.empty())
        os << indent << from << " -> " << id << ";\n";
    }
    for (Value result : op.getResults())
      source[result] = id;
  }

  llvm::raw_ostream &os;
  llvm::DenseMap<Value, std::string> source; // the node producing a value
  unsigned count = 0;
};

} // namespace

void kiln::emitDot(ModuleOp module, llvm::raw_ostream &os) {
  os << "digraph kiln {\n  rankdir=TB; node [fontname=\"monospace\"];\n";
  DotWriter writer(os);
  SmallVector<func::FuncOp> funcs;
  for (const char *name : {"train_step", "eval_step"})
    if (auto f = module.lookupSymbol<func::FuncOp>(name))
      funcs.push_back(f);
  if (funcs.empty())
    funcs = llvm::to_vector(module.getOps<func::FuncOp>());
  for (func::FuncOp f : funcs)
    writer.function(f);
  os << "}\n";
}
