//===- Lexer.h - Tokens and lexer of the kiln DSL ----------------*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Turns one buffer of a llvm::SourceMgr into tokens. Every token carries the
// SMLoc of its first character, so a later stage can point at it. Newlines
// are tokens (they end statements) except inside `(...)` and `[...]`, where
// the lexer drops them so that long calls and lists can span lines, as in
// Python. Lexical errors are reported through SourceMgr::PrintMessage and
// produce an Error token; the lexer never reads past the buffer's end and
// returns Eof forever once it gets there.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_LEXER_H
#define KILN_FRONTEND_LEXER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <string>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace kiln {

/// Token kinds. Keywords are reserved: they cannot name values.
enum class TokenKind {
  Eof,
  Error,
  Newline,
  Identifier,
  Integer,
  Float,
  String,
  // Keywords.
  KwModel,
  KwTrain,
  KwInput,
  KwTarget,
  KwParam,
  KwFreeze,
  KwFrozen,
  KwLoss,
  KwPredict,
  KwTrue,
  KwFalse,
  // Punctuation.
  LBrace,
  RBrace,
  LParen,
  RParen,
  LSquare,
  RSquare,
  Comma,
  Colon,
  Semicolon,
  Equal,
  Plus,
  Minus,
  Star,
  StarStar,
  Slash,
  At,
};

/// Human-readable spelling of a token kind for diagnostics ("newline",
/// "')'", "identifier", ...).
llvm::StringRef describe(TokenKind kind);

/// One token. `text` points into the source buffer.
struct Token {
  TokenKind kind = TokenKind::Eof;
  llvm::StringRef text;
  llvm::SMLoc loc;
  /// Value of an Integer token.
  int64_t intValue = 0;
  /// Value of a Float token.
  double floatValue = 0;
  /// Value of a String token, escapes resolved.
  std::string stringValue;

  bool is(TokenKind k) const { return kind == k; }
  /// How diagnostics name this token: `'relu'`, `'('`, `newline`, ...
  std::string describe() const;
};

/// Lexes one buffer of a SourceMgr on demand.
class Lexer {
public:
  Lexer(llvm::SourceMgr &sourceMgr, unsigned bufferId);

  /// Returns the next token. After an Error token the caller should stop;
  /// the diagnostic has already been printed.
  Token lex();

  llvm::SourceMgr &getSourceMgr() { return sourceMgr; }

private:
  Token makeToken(TokenKind kind, const char *start);
  Token error(const char *loc, const llvm::Twine &message);
  Token lexIdentifier(const char *start);
  Token lexNumber(const char *start);
  Token lexString(const char *start);
  void skipSpaceAndComments();

  llvm::SourceMgr &sourceMgr;
  const char *cur;
  const char *end;
  /// Depth of open `(` and `[`; newlines inside them are not tokens.
  unsigned nesting = 0;
  /// True after a Newline token so that blank lines yield one Newline.
  bool lastWasNewline = true;
};

} // namespace kiln

#endif // KILN_FRONTEND_LEXER_H
