//===- FrontendTestUtil.cpp - Helpers for front-end unit tests --------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Implements FrontendTestUtil.h.
//
//===----------------------------------------------------------------------===//

#include "FrontendTestUtil.h"

#include "frontend/Parser.h"
#include "frontend/Sema.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace kiln;
using namespace kiln::test;

Source::Source(llvm::StringRef text) {
  bufferId = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "test.kiln"), llvm::SMLoc());
  sourceMgr.setDiagHandler(
      [](const llvm::SMDiagnostic &d, void *ctx) {
        const char *kind = d.getKind() == llvm::SourceMgr::DK_Error ? "error"
                           : d.getKind() == llvm::SourceMgr::DK_Note ? "note"
                                                                      : "other";
        static_cast<Source *>(ctx)->diagnostics.push_back(
            std::to_string(d.getLineNo()) + ":" +
            std::to_string(d.getColumnNo() + 1) + ": " + kind + ": " +
            d.getMessage().str());
      },
      this);
}

std::string Source::pos(llvm::SMLoc loc) const {
  auto [line, col] = sourceMgr.getLineAndColumn(loc, bufferId);
  return std::to_string(line) + ":" + std::to_string(col);
}

std::unique_ptr<ast::File> Source::parse() {
  return parseFile(sourceMgr, bufferId);
}

bool Source::check() {
  std::unique_ptr<ast::File> file = parse();
  return file && checkFile(*file, sourceMgr);
}

std::string kiln::test::model(llvm::StringRef body) {
  return ("model m {\n  input x: f32[B, 4]\n  target y: i64[B]\n" + body +
          "\n}\n")
      .str();
}
