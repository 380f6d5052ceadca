//===- EmitDot.h - the fused graph as Graphviz ------------------*- C++ -*-===//
//
// Part of kiln. `kiln --emit=dot` writes each step function as a Graphviz
// digraph: arguments as ellipses, ops as boxes labelled with their op and
// model line, each nn.kernel a cluster of its member ops labelled with the
// kernel's name, and edges along the data flow.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_EMITDOT_H
#define KILN_TOOLS_EMITDOT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln {

/// Writes `module`'s @train_step and @eval_step (or every function when
/// neither exists) as Graphviz.
void emitDot(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace kiln

#endif // KILN_TOOLS_EMITDOT_H
