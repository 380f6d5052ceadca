//===- Diagnostics.cpp - Front-end diagnostic helpers -----------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Implements Diagnostics.h. The typo threshold is the one policy here.
//
//===----------------------------------------------------------------------===//

#include "frontend/Diagnostics.h"

#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace kiln;

void kiln::printDiagnostic(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
                           llvm::SourceMgr::DiagKind kind,
                           const llvm::Twine &message) {
  llvm::SMDiagnostic d = sourceMgr.GetMessage(loc, kind, message);
  // LLVM prints no caret under a line holding any non-ASCII byte (a "×" in
  // a comment): each such byte is shown as '?', so the caret lines up.
  std::string line = d.getLineContents().str();
  for (char &c : line)
    if (static_cast<unsigned char>(c) >= 0x80)
      c = '?';
  sourceMgr.PrintMessage(
      llvm::errs(),
      llvm::SMDiagnostic(sourceMgr, d.getLoc(), d.getFilename(), d.getLineNo(),
                         d.getColumnNo(), d.getKind(), d.getMessage(), line,
                         d.getRanges(), d.getFixIts()));
}

bool kiln::emitError(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
                     const llvm::Twine &message) {
  printDiagnostic(sourceMgr, loc, llvm::SourceMgr::DK_Error, message);
  return false;
}

void kiln::emitNote(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
                    const llvm::Twine &message) {
  printDiagnostic(sourceMgr, loc, llvm::SourceMgr::DK_Note, message);
}

std::string kiln::didYouMean(llvm::StringRef name,
                             llvm::ArrayRef<llvm::StringRef> candidates) {
  // About a third of the length (1 to 3 edits) catches typos like `rleu`
  // (a swap counts as two) or `unit` for `units` without suggesting
  // unrelated short names.
  unsigned maxDistance =
      std::clamp<unsigned>((static_cast<unsigned>(name.size()) + 2) / 3, 1, 3);
  llvm::StringRef best;
  unsigned bestDistance = maxDistance + 1;
  for (llvm::StringRef candidate : candidates) {
    unsigned d = name.edit_distance(candidate, /*AllowReplacements=*/true,
                                    /*MaxEditDistance=*/maxDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  // Replacing every character of a short name is not a typo (`h` vs `x`).
  if (best.empty() || best == name || bestDistance >= name.size())
    return "";
  return ("; did you mean '" + best + "'?").str();
}
