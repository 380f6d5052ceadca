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

#include <algorithm>

using namespace kiln;

bool kiln::emitError(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
                     const llvm::Twine &message) {
  sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Error, message);
  return false;
}

void kiln::emitNote(llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
                    const llvm::Twine &message) {
  sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Note, message);
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
