//===- Lexer.cpp - Lexer of the kiln DSL ------------------------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Implements the lexer declared in Lexer.h. Every loop is bounded by the end
// of the buffer (not by a NUL byte: the input may contain NULs, which are
// reported as unexpected characters). Numbers are range-checked here so that
// later stages can rely on Integer tokens fitting int64_t and Float tokens
// being finite.
//
//===----------------------------------------------------------------------===//

#include "frontend/Lexer.h"
#include "frontend/Diagnostics.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace kiln;

llvm::StringRef kiln::describe(TokenKind kind) {
  switch (kind) {
  case TokenKind::Eof:
    return "end of file";
  case TokenKind::Error:
    return "invalid token";
  case TokenKind::Newline:
    return "newline";
  case TokenKind::Identifier:
    return "identifier";
  case TokenKind::Integer:
    return "integer";
  case TokenKind::Float:
    return "number";
  case TokenKind::String:
    return "string";
  case TokenKind::KwModel:
    return "'model'";
  case TokenKind::KwTrain:
    return "'train'";
  case TokenKind::KwInput:
    return "'input'";
  case TokenKind::KwTarget:
    return "'target'";
  case TokenKind::KwParam:
    return "'param'";
  case TokenKind::KwFreeze:
    return "'freeze'";
  case TokenKind::KwFrozen:
    return "'frozen'";
  case TokenKind::KwLoss:
    return "'loss'";
  case TokenKind::KwPredict:
    return "'predict'";
  case TokenKind::KwTrue:
    return "'true'";
  case TokenKind::KwFalse:
    return "'false'";
  case TokenKind::LBrace:
    return "'{'";
  case TokenKind::RBrace:
    return "'}'";
  case TokenKind::LParen:
    return "'('";
  case TokenKind::RParen:
    return "')'";
  case TokenKind::LSquare:
    return "'['";
  case TokenKind::RSquare:
    return "']'";
  case TokenKind::Comma:
    return "','";
  case TokenKind::Colon:
    return "':'";
  case TokenKind::Semicolon:
    return "';'";
  case TokenKind::Equal:
    return "'='";
  case TokenKind::Plus:
    return "'+'";
  case TokenKind::Minus:
    return "'-'";
  case TokenKind::Star:
    return "'*'";
  case TokenKind::StarStar:
    return "'**'";
  case TokenKind::Slash:
    return "'/'";
  case TokenKind::At:
    return "'@'";
  }
  llvm_unreachable("unknown token kind");
}

std::string Token::describe() const {
  switch (kind) {
  case TokenKind::Identifier:
  case TokenKind::Integer:
  case TokenKind::Float:
    return ("'" + text + "'").str();
  case TokenKind::String:
    // Long strings would drown the message; the caret shows the rest.
    if (text.size() > 32)
      return "string";
    return text.str();
  default:
    return kiln::describe(kind).str();
  }
}

Lexer::Lexer(llvm::SourceMgr &sourceMgr, unsigned bufferId)
    : sourceMgr(sourceMgr) {
  llvm::StringRef buffer = sourceMgr.getMemoryBuffer(bufferId)->getBuffer();
  cur = buffer.begin();
  end = buffer.end();
}

Token Lexer::makeToken(TokenKind kind, const char *start) {
  Token tok;
  tok.kind = kind;
  tok.text = llvm::StringRef(start, cur - start);
  tok.loc = llvm::SMLoc::getFromPointer(start);
  lastWasNewline = kind == TokenKind::Newline;
  return tok;
}

Token Lexer::error(const char *loc, const llvm::Twine &message) {
  emitError(sourceMgr, llvm::SMLoc::getFromPointer(loc), message);
  // Park at the end so that a caller that keeps lexing terminates.
  Token tok;
  tok.kind = TokenKind::Error;
  tok.loc = llvm::SMLoc::getFromPointer(loc);
  tok.text = llvm::StringRef(loc, loc < end ? 1 : 0);
  cur = end;
  return tok;
}

static bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool isDigit(char c) { return c >= '0' && c <= '9'; }
static bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }

/// Renders a byte for "unexpected character" messages: printable ASCII as
/// itself, anything else (UTF-8 lead bytes, control bytes) in hex.
static std::string showChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f)
    return std::string("'") + c + "'";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "'\\x" << llvm::format_hex_no_prefix(u, 2) << "'";
  return os.str();
}

void Lexer::skipSpaceAndComments() {
  while (cur < end) {
    char c = *cur;
    if (c == ' ' || c == '\t' || c == '\r') {
      ++cur;
    } else if (c == '#') {
      while (cur < end && *cur != '\n')
        ++cur;
    } else if (c == '\n' && (nesting > 0 || lastWasNewline)) {
      // Inside brackets, and on blank lines, a newline ends nothing.
      ++cur;
    } else {
      return;
    }
  }
}

Token Lexer::lex() {
  skipSpaceAndComments();
  const char *start = cur;
  if (cur >= end) {
    // A file without a trailing newline still ends its last statement.
    if (!lastWasNewline) {
      Token tok = makeToken(TokenKind::Newline, start);
      return tok;
    }
    return makeToken(TokenKind::Eof, start);
  }
  char c = *cur++;
  switch (c) {
  case '\n':
    return makeToken(TokenKind::Newline, start);
  case '{':
    return makeToken(TokenKind::LBrace, start);
  case '}':
    return makeToken(TokenKind::RBrace, start);
  case '(':
    ++nesting;
    return makeToken(TokenKind::LParen, start);
  case ')':
    nesting = nesting ? nesting - 1 : 0;
    return makeToken(TokenKind::RParen, start);
  case '[':
    ++nesting;
    return makeToken(TokenKind::LSquare, start);
  case ']':
    nesting = nesting ? nesting - 1 : 0;
    return makeToken(TokenKind::RSquare, start);
  case ',':
    return makeToken(TokenKind::Comma, start);
  case ':':
    return makeToken(TokenKind::Colon, start);
  case ';':
    return makeToken(TokenKind::Semicolon, start);
  case '=':
    return makeToken(TokenKind::Equal, start);
  case '+':
    return makeToken(TokenKind::Plus, start);
  case '-':
    return makeToken(TokenKind::Minus, start);
  case '/':
    return makeToken(TokenKind::Slash, start);
  case '@':
    return makeToken(TokenKind::At, start);
  case '*':
    if (cur < end && *cur == '*') {
      ++cur;
      return makeToken(TokenKind::StarStar, start);
    }
    return makeToken(TokenKind::Star, start);
  case '"':
    return lexString(start);
  default:
    break;
  }
  if (isIdentStart(c))
    return lexIdentifier(start);
  if (isDigit(c))
    return lexNumber(start);
  return error(start, "unexpected character " + showChar(c));
}

Token Lexer::lexIdentifier(const char *start) {
  while (cur < end && isIdentChar(*cur))
    ++cur;
  llvm::StringRef text(start, cur - start);
  TokenKind kind = llvm::StringSwitch<TokenKind>(text)
                       .Case("model", TokenKind::KwModel)
                       .Case("train", TokenKind::KwTrain)
                       .Case("input", TokenKind::KwInput)
                       .Case("target", TokenKind::KwTarget)
                       .Case("param", TokenKind::KwParam)
                       .Case("freeze", TokenKind::KwFreeze)
                       .Case("frozen", TokenKind::KwFrozen)
                       .Case("loss", TokenKind::KwLoss)
                       .Case("predict", TokenKind::KwPredict)
                       .Case("true", TokenKind::KwTrue)
                       .Case("false", TokenKind::KwFalse)
                       .Default(TokenKind::Identifier);
  return makeToken(kind, start);
}

// number := digit+ ('.' digit*)? ([eE] [+-]? digit+)?
Token Lexer::lexNumber(const char *start) {
  bool isFloat = false;
  while (cur < end && isDigit(*cur))
    ++cur;
  if (cur < end && *cur == '.') {
    isFloat = true;
    ++cur;
    while (cur < end && isDigit(*cur))
      ++cur;
  }
  if (cur < end && (*cur == 'e' || *cur == 'E')) {
    isFloat = true;
    ++cur;
    if (cur < end && (*cur == '+' || *cur == '-'))
      ++cur;
    if (cur >= end || !isDigit(*cur))
      return error(cur, "expected digits in the exponent of number '" +
                            llvm::StringRef(start, cur - start) + "'");
    while (cur < end && isDigit(*cur))
      ++cur;
  }
  // `28x28` or `3.5.1` is almost certainly a typo, not two tokens.
  if (cur < end && (isIdentChar(*cur) || *cur == '.'))
    return error(cur, "unexpected " + showChar(*cur) + " after number '" +
                          llvm::StringRef(start, cur - start) + "'");
  Token tok = makeToken(isFloat ? TokenKind::Float : TokenKind::Integer, start);
  if (!isFloat) {
    uint64_t value;
    if (tok.text.getAsInteger(10, value) ||
        value > static_cast<uint64_t>(INT64_MAX))
      return error(start, "integer literal '" + tok.text +
                              "' does not fit in a signed 64-bit integer");
    tok.intValue = static_cast<int64_t>(value);
    return tok;
  }
  std::string spelling = tok.text.str();
  errno = 0;
  double value = std::strtod(spelling.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(value))
    return error(start, "number '" + tok.text + "' is out of range");
  tok.floatValue = value;
  return tok;
}

Token Lexer::lexString(const char *start) {
  std::string value;
  while (true) {
    if (cur >= end || *cur == '\n')
      return error(start, "unterminated string literal");
    char c = *cur++;
    if (c == '"')
      break;
    if (c == '\\') {
      if (cur >= end)
        return error(start, "unterminated string literal");
      char e = *cur++;
      switch (e) {
      case '"':
      case '\\':
        value += e;
        continue;
      case 'n':
        value += '\n';
        continue;
      case 't':
        value += '\t';
        continue;
      default:
        return error(cur - 2, "unknown escape sequence '\\" +
                                  llvm::StringRef(&e, 1) +
                                  "' in string; expected \\\", \\\\, \\n or "
                                  "\\t");
      }
    }
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
      return error(cur - 1, "unexpected character " + showChar(c) +
                                " in string literal");
    value += c;
  }
  Token tok = makeToken(TokenKind::String, start);
  tok.stringValue = std::move(value);
  return tok;
}
