//===- Diagnostics.h - Front-end diagnostic helpers --------------*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Thin wrappers over llvm::SourceMgr::PrintMessage so every front-end error
// prints `file:line:col: error: message`, the source line and a caret, the
// same layout MLIR's SourceMgrDiagnosticHandler uses for later stages. Also
// the one "did you mean" policy shared by the lexer, parser and Sema.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_DIAGNOSTICS_H
#define KILN_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"

#include <string>

namespace kiln {

/// Prints `message` at `loc` with the source line and a caret.
void printDiagnostic(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
                     llvm::SourceMgr::DiagKind kind,
                     const llvm::Twine &message);

/// Prints an error at `loc`. Always returns false so callers can write
/// `return emitError(...)` from a bool function.
bool emitError(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
               const llvm::Twine &message);

/// Prints a note at `loc` (used for "previous definition is here").
void emitNote(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
              const llvm::Twine &message);

/// "; did you mean 'relu'?" for the candidate closest to `name`, or "" if
/// none is close enough to be a plausible typo.
std::string didYouMean(llvm::StringRef name,
                       llvm::ArrayRef<llvm::StringRef> candidates);

} // namespace kiln

#endif // KILN_FRONTEND_DIAGNOSTICS_H
