//===- Driver.cpp - Front-end entry points for the kiln driver --------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Implements Driver.h. A file that cannot be read is reported like any
// other input error, as `kiln: error: ...` on stderr, since there is no
// location to point at.
//
//===----------------------------------------------------------------------===//

#include "frontend/Driver.h"

#include "frontend/Parser.h"
#include "frontend/Sema.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;

std::unique_ptr<ast::File> kiln::parseAndCheck(llvm::SourceMgr &sourceMgr,
                                               unsigned bufferId) {
  std::unique_ptr<ast::File> file = parseFile(sourceMgr, bufferId);
  if (!file || !checkFile(*file, sourceMgr))
    return nullptr;
  return file;
}

int kiln::emitAST(llvm::StringRef path, llvm::SourceMgr &sourceMgr,
                  llvm::raw_ostream &os) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError()) {
    llvm::WithColor::error(llvm::errs(), "kiln")
        << "cannot read '" << path << "': " << ec.message() << "\n";
    return 1;
  }
  unsigned id = sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  std::unique_ptr<ast::File> file = parseAndCheck(sourceMgr, id);
  if (!file)
    return 1;
  ast::print(*file, os, sourceMgr);
  return 0;
}
