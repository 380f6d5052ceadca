//===- FrontendTestUtil.h - Helpers for front-end unit tests -----*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// A SourceMgr holding one in-memory buffer whose diagnostics are captured
// as "line:col: kind: message" strings instead of printed, so tests can
// assert on them.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TEST_UNIT_FRONTENDTESTUTIL_H
#define KILN_TEST_UNIT_FRONTENDTESTUTIL_H

#include "frontend/AST.h"

#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::test {

class Source {
public:
  explicit Source(llvm::StringRef text);

  llvm::SourceMgr &mgr() { return sourceMgr; }
  unsigned id() const { return bufferId; }
  /// "line:col" of a location in the buffer.
  std::string pos(llvm::SMLoc loc) const;
  /// Diagnostics so far, as "line:col: error: message".
  const std::vector<std::string> &diags() const { return diagnostics; }
  /// parseFile on the buffer.
  std::unique_ptr<ast::File> parse();
  /// parseFile then checkFile; true if both succeed.
  bool check();

private:
  llvm::SourceMgr sourceMgr;
  unsigned bufferId;
  std::vector<std::string> diagnostics;
};

/// `model m { <body> }` with an input x: f32[B, 4] and a target y: i64[B]
/// ahead of `body` (which starts on line 4).
std::string model(llvm::StringRef body);

} // namespace kiln::test

#endif // KILN_TEST_UNIT_FRONTENDTESTUTIL_H
