//===- Parser.h - Parser of the kiln DSL -------------------------*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Recursive-descent parser from tokens to the AST of AST.h. It stops at the
// first error, which it prints through the SourceMgr. It never crashes or
// loops on any input: recursion and tree height are bounded by
// kMaxExpressionDepth. On success every parameter-owning layer call has its
// instance name (docs/language.md, "Layer names").
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_PARSER_H
#define KILN_FRONTEND_PARSER_H

#include "frontend/AST.h"

#include <memory>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace kiln {

/// Deepest expression nesting accepted. Real models nest a few levels; the
/// bound keeps every recursive walk of the tree far from the stack limit.
constexpr unsigned kMaxExpressionDepth = 256;

/// Parses buffer `bufferId` of `sourceMgr`. Returns null after printing a
/// diagnostic if the text is not a well-formed kiln file.
std::unique_ptr<ast::File> parseFile(llvm::SourceMgr &sourceMgr,
                                     unsigned bufferId);

} // namespace kiln

#endif // KILN_FRONTEND_PARSER_H
