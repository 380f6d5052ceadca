//===- FrontendFuzzer.cpp - libFuzzer entry point for the front end ---------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Runs arbitrary bytes through everything `kiln --emit=ast` does: lexing,
// parsing, Sema, diagnostic rendering and the AST printer, then reads every
// checked call through CallArgs and resolves layer initializers as MLIRGen
// will. Any crash, hang, sanitizer report or failed assert is a bug: the
// front end must answer every input with an AST or a diagnostic.
//
//===----------------------------------------------------------------------===//

#include "frontend/Builtins.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>

using namespace kiln;
using namespace kiln::ast;

/// Reads every argument of a checked call the way MLIRGen would.
static void readCall(const CallExpr &call, BuiltinCategory category) {
  std::optional<CallArgs> args = CallArgs::bind(call, category);
  if (!args)
    return;
  for (const ParamSpec &param : args->getSpec().params) {
    switch (param.kind) {
    case ArgKind::Int:
      if (param.dflt.kind != Default::Kind::None || args->has(param.name))
        (void)args->getInt(param.name);
      break;
    case ArgKind::IntOrPair:
    case ArgKind::Axes:
    case ArgKind::IntList:
      (void)args->getInts(param.name);
      break;
    case ArgKind::FloatPair:
      (void)args->getFloats(param.name);
      break;
    case ArgKind::String:
      (void)args->getString(param.name);
      break;
    default:
      break;
    }
  }
  if (args->getSpec().category == BuiltinCategory::Layer) {
    (void)getLayerInitializer(call, "weight");
    (void)getLayerInitializer(call, "bias");
  }
}

static void walk(const Expr &expr) {
  if (const auto *call = llvm::dyn_cast<CallExpr>(&expr)) {
    readCall(*call, BuiltinCategory::TensorOp);
    for (const Arg &arg : call->getArgs())
      walk(*arg.value);
  } else if (const auto *b = llvm::dyn_cast<BinaryExpr>(&expr)) {
    walk(b->getLHS());
    walk(b->getRHS());
  } else if (const auto *u = llvm::dyn_cast<UnaryExpr>(&expr)) {
    walk(u->getOperand());
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SourceMgr sourceMgr;
  // Render diagnostics (source line, caret) without printing them.
  sourceMgr.setDiagHandler(
      [](const llvm::SMDiagnostic &diag, void *) {
        llvm::raw_null_ostream os;
        diag.print("kiln", os);
      },
      nullptr);
  unsigned id = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz.kiln"),
      llvm::SMLoc());
  std::unique_ptr<File> file = parseFile(sourceMgr, id);
  if (!file || !checkFile(*file, sourceMgr))
    return 0;
  llvm::raw_null_ostream os;
  print(*file, os, sourceMgr);
  for (const StmtPtr &stmt : file->model.body) {
    if (const auto *let = llvm::dyn_cast<LetStmt>(stmt.get()))
      walk(let->getValue());
    else if (const auto *out = llvm::dyn_cast<OutputStmt>(stmt.get()))
      walk(out->getValue());
    else if (const auto *param = llvm::dyn_cast<ParamStmt>(stmt.get()))
      (void)getInitializer(llvm::cast<CallExpr>(param->getInit()));
  }
  return 0;
}
