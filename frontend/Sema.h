//===- Sema.h - Semantic checks of the kiln DSL ------------------*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// checkFile verifies everything about a parsed file that does not need
// shapes: names resolve and are defined once and before use, calls match
// their builtins (arity, keyword names, value kinds), hyper-parameters are
// in range, the model has inputs and exactly one loss, the batch dimension
// is consistent, and the train block's settings are known and well-formed.
// After it returns true, MLIRGen may read arguments with CallArgs getters
// without further checks. Shapes are checked later, by MLIRGen.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_SEMA_H
#define KILN_FRONTEND_SEMA_H

#include "frontend/AST.h"

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace kiln {

/// Checks `file`, printing every error found through `sourceMgr` (it does
/// not stop at the first). Returns true if there were none.
bool checkFile(const ast::File &file, llvm::SourceMgr &sourceMgr);

} // namespace kiln

#endif // KILN_FRONTEND_SEMA_H
