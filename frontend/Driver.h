//===- Driver.h - Front-end entry points for the kiln driver -----*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// What the `kiln` driver calls: parse and check one .kiln buffer, and the
// whole of `kiln FILE --emit=ast`. Diagnostics go through the SourceMgr
// (stderr unless the caller installed a handler); output goes to the stream
// given.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_DRIVER_H
#define KILN_FRONTEND_DRIVER_H

#include "frontend/AST.h"

#include "llvm/ADT/StringRef.h"

#include <memory>

namespace llvm {
class SourceMgr;
class raw_ostream;
} // namespace llvm

namespace kiln {

/// parseFile then checkFile. Returns null after printing diagnostics if
/// either fails; a non-null file is ready for MLIRGen.
std::unique_ptr<ast::File> parseAndCheck(llvm::SourceMgr &sourceMgr,
                                         unsigned bufferId);

/// `kiln FILE --emit=ast`: reads `path` ("-" is stdin) into `sourceMgr`,
/// parses, checks and prints the AST to `os`. Returns the process exit
/// status: 0 on success, 1 on any error (already reported).
int emitAST(llvm::StringRef path, llvm::SourceMgr &sourceMgr,
            llvm::raw_ostream &os);

} // namespace kiln

#endif // KILN_FRONTEND_DRIVER_H
