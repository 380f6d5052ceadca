//===- Parser.cpp - Parser of the kiln DSL ----------------------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Implements parseFile (Parser.h): a recursive-descent parser with one token
// of lookahead, following the grammar in docs/language.md, then the layer
// naming pass. Every error names what was found and what was expected and
// stops the parse.
//
//===----------------------------------------------------------------------===//

#include "frontend/Parser.h"

#include "frontend/Builtins.h"
#include "frontend/Diagnostics.h"
#include "frontend/Lexer.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

using namespace kiln;
using namespace kiln::ast;

namespace {

class Parser {
public:
  Parser(llvm::SourceMgr &sourceMgr, unsigned bufferId)
      : sourceMgr(sourceMgr), lexer(sourceMgr, bufferId) {
    consume();
  }

  std::unique_ptr<File> parseFile();

private:
  //===--- Token handling ---------------------------------------------===//

  void consume() {
    if (hasPeeked) {
      tok = std::move(peeked);
      hasPeeked = false;
      return;
    }
    tok = lexer.lex();
  }
  /// The token after `tok`; tells `units=10` from an expression in a call.
  const Token &peek() {
    if (!hasPeeked) {
      peeked = lexer.lex();
      hasPeeked = true;
    }
    return peeked;
  }

  /// Reports `expected <what>, found <tok>`. Lexer errors were already
  /// reported, so an Error token only stops the parse.
  bool expected(const llvm::Twine &what) {
    if (tok.is(TokenKind::Error))
      return false;
    return emitError(sourceMgr, tok.loc,
                     "expected " + what + ", found " + tok.describe());
  }

  bool expect(TokenKind kind, const llvm::Twine &context) {
    if (tok.is(kind)) {
      consume();
      return true;
    }
    return expected(describe(kind) + context);
  }

  bool atSeparator() const {
    return tok.is(TokenKind::Newline) || tok.is(TokenKind::Semicolon);
  }
  void skipSeparators() {
    while (atSeparator())
      consume();
  }

  /// Bounds parser recursion: construct one per nested expression level.
  struct DepthGuard {
    explicit DepthGuard(Parser &p) : p(p) { ++p.depth; }
    ~DepthGuard() { --p.depth; }
    Parser &p;
  };
  bool tooDeep(llvm::SMLoc loc) {
    return emitError(sourceMgr, loc,
                     "expression nested too deeply (the limit is " +
                         llvm::Twine(kMaxExpressionDepth) + " levels)");
  }
  /// Checks the height of a node just built.
  ExprPtr checkHeight(ExprPtr e) {
    if (e && e->getHeight() > kMaxExpressionDepth) {
      tooDeep(e->getLoc());
      return nullptr;
    }
    return e;
  }

  //===--- Grammar ----------------------------------------------------===//

  bool parseModel(File &file);
  bool parseTrain(File &file);
  StmtPtr parseStatement();
  StmtPtr parseInput();
  StmtPtr parseParam();
  StmtPtr parseFreeze();
  bool parseType(TensorType &type);

  ExprPtr parseExpr();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseUnary();
  ExprPtr parsePower();
  ExprPtr parsePrimary();
  ExprPtr parseCall(Token callee);
  ExprPtr parseList();

  llvm::SourceMgr &sourceMgr;
  Lexer lexer;
  Token tok;
  Token peeked;
  bool hasPeeked = false;
  unsigned depth = 0;
  bool seenModel = false;
  llvm::SMLoc modelLoc;
  /// Layer calls seen so far, per layer builtin.
  llvm::StringMap<unsigned> layerCounts;
};

} // namespace

//===----------------------------------------------------------------------===//
// File and blocks
//===----------------------------------------------------------------------===//

// file := sep* ((model_block | train_block) sep*)* EOF
std::unique_ptr<File> Parser::parseFile() {
  auto file = std::make_unique<File>();
  skipSeparators();
  while (!tok.is(TokenKind::Eof)) {
    if (tok.is(TokenKind::KwModel)) {
      if (!parseModel(*file))
        return nullptr;
    } else if (tok.is(TokenKind::KwTrain)) {
      if (!parseTrain(*file))
        return nullptr;
    } else {
      expected("'model' or 'train' block");
      return nullptr;
    }
    skipSeparators();
  }
  if (!seenModel) {
    if (file->train)
      emitError(sourceMgr, file->train->loc,
                "the file has a 'train' block but no 'model' block");
    else
      expected("a 'model' block");
    return nullptr;
  }
  return file;
}

// model_block := 'model' IDENT '{' sep* (stmt (sep+ stmt)*)? sep* '}'
bool Parser::parseModel(File &file) {
  llvm::SMLoc loc = tok.loc;
  if (seenModel) {
    emitError(sourceMgr, loc, "only one 'model' block is allowed in a file");
    emitNote(sourceMgr, modelLoc, "previous 'model' block is here");
    return false;
  }
  seenModel = true;
  modelLoc = loc;
  consume();
  file.model.loc = loc;
  if (!tok.is(TokenKind::Identifier))
    return expected("model name after 'model'");
  file.model.name = tok.text.str();
  file.model.nameLoc = tok.loc;
  consume();
  if (!expect(TokenKind::LBrace, " to open the model body"))
    return false;
  skipSeparators();
  while (!tok.is(TokenKind::RBrace)) {
    StmtPtr stmt = parseStatement();
    if (!stmt)
      return false;
    file.model.body.push_back(std::move(stmt));
    if (tok.is(TokenKind::RBrace))
      break;
    if (!atSeparator())
      return expected("newline or ';' after statement");
    skipSeparators();
  }
  consume();
  return true;
}

// train_block := 'train' '{' sep* (IDENT '=' expr (sep+ IDENT '=' expr)*)?
//                sep* '}'
bool Parser::parseTrain(File &file) {
  if (file.train) {
    emitError(sourceMgr, tok.loc, "only one 'train' block is allowed in a file");
    emitNote(sourceMgr, file.train->loc, "previous 'train' block is here");
    return false;
  }
  file.train = std::make_unique<Train>();
  file.train->loc = tok.loc;
  consume();
  if (!expect(TokenKind::LBrace, " to open the train block"))
    return false;
  skipSeparators();
  while (!tok.is(TokenKind::RBrace)) {
    if (!tok.is(TokenKind::Identifier))
      return expected("train setting name (such as 'optimizer') or '}'");
    TrainEntry entry;
    entry.key = tok.text.str();
    entry.keyLoc = tok.loc;
    consume();
    if (!expect(TokenKind::Equal, " after train setting '" + entry.key + "'"))
      return false;
    entry.value = parseExpr();
    if (!entry.value)
      return false;
    file.train->entries.push_back(std::move(entry));
    if (tok.is(TokenKind::RBrace))
      break;
    if (!atSeparator())
      return expected("newline or ';' after train setting");
    skipSeparators();
  }
  consume();
  return true;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

StmtPtr Parser::parseStatement() {
  switch (tok.kind) {
  case TokenKind::KwInput:
  case TokenKind::KwTarget:
    return parseInput();
  case TokenKind::KwParam:
    return parseParam();
  case TokenKind::KwFreeze:
    return parseFreeze();
  case TokenKind::KwLoss:
  case TokenKind::KwPredict: {
    Stmt::Kind kind =
        tok.is(TokenKind::KwLoss) ? Stmt::Kind::Loss : Stmt::Kind::Predict;
    llvm::SMLoc loc = tok.loc;
    consume();
    ExprPtr value = parseExpr();
    if (!value)
      return nullptr;
    return std::make_unique<OutputStmt>(kind, loc, std::move(value));
  }
  case TokenKind::Identifier: {
    Token name = tok;
    consume();
    if (!tok.is(TokenKind::Equal)) {
      expected("'=' after '" + name.text + "' (a binding is NAME = EXPR)");
      return nullptr;
    }
    consume();
    ExprPtr value = parseExpr();
    if (!value)
      return nullptr;
    // `fc1 = dense(...)` names the layer after the binding, as a PyTorch
    // submodule attribute would be; an explicit name= still wins.
    if (auto *call = llvm::dyn_cast<CallExpr>(value.get())) {
      const Arg *nameArg = call->getKeyword("name");
      if (!call->getLayerName().empty() &&
          !(nameArg && llvm::isa<StringExpr>(nameArg->value.get())))
        call->setLayerName(name.text.str(), name.loc);
    }
    return std::make_unique<LetStmt>(name.loc, name.text.str(),
                                     std::move(value));
  }
  default:
    // `frozen = dense(...)`: a keyword where a binding's name goes.
    if (tok.kind >= TokenKind::KwModel && tok.kind <= TokenKind::KwFalse &&
        peek().is(TokenKind::Equal)) {
      emitError(sourceMgr, tok.loc,
                "'" + tok.text + "' is a reserved word and cannot name a "
                                 "value; choose another name");
      return nullptr;
    }
    expected("statement (input, target, param, freeze, loss, predict or "
             "NAME = EXPR) or '}'");
    return nullptr;
  }
}

// input := ('input' | 'target') IDENT ':' type
StmtPtr Parser::parseInput() {
  bool isTarget = tok.is(TokenKind::KwTarget);
  llvm::SMLoc loc = tok.loc;
  llvm::StringRef keyword = isTarget ? "target" : "input";
  consume();
  if (!tok.is(TokenKind::Identifier)) {
    expected("name after '" + keyword + "'");
    return nullptr;
  }
  Token name = tok;
  consume();
  if (!expect(TokenKind::Colon, " and a type after " + keyword + " '" +
                                    name.text + "'"))
    return nullptr;
  TensorType type;
  if (!parseType(type))
    return nullptr;
  return std::make_unique<InputStmt>(loc, isTarget, name.text.str(), name.loc,
                                     std::move(type));
}

// param := 'param' IDENT ':' type '=' expr 'frozen'?
StmtPtr Parser::parseParam() {
  llvm::SMLoc loc = tok.loc;
  consume();
  if (!tok.is(TokenKind::Identifier)) {
    expected("name after 'param'");
    return nullptr;
  }
  Token name = tok;
  consume();
  if (!expect(TokenKind::Colon, " and a type after param '" + name.text + "'"))
    return nullptr;
  TensorType type;
  if (!parseType(type))
    return nullptr;
  if (!expect(TokenKind::Equal, " and an initializer after the type of param '" +
                                    name.text + "'"))
    return nullptr;
  ExprPtr init = parseExpr();
  if (!init)
    return nullptr;
  llvm::SMLoc frozenLoc;
  if (tok.is(TokenKind::KwFrozen)) {
    frozenLoc = tok.loc;
    consume();
  }
  return std::make_unique<ParamStmt>(loc, name.text.str(), name.loc,
                                     std::move(type), std::move(init),
                                     frozenLoc);
}

// freeze := 'freeze' IDENT (',' IDENT)*
StmtPtr Parser::parseFreeze() {
  llvm::SMLoc loc = tok.loc;
  consume();
  std::vector<Name> names;
  do {
    if (!names.empty())
      consume();
    if (!tok.is(TokenKind::Identifier)) {
      expected("layer or param name in 'freeze'");
      return nullptr;
    }
    names.push_back({tok.text.str(), tok.loc});
    consume();
  } while (tok.is(TokenKind::Comma));
  return std::make_unique<FreezeStmt>(loc, std::move(names));
}

// type := ('f32' | 'i64') '[' (dim (',' dim)*)? ']'
// dim  := INT | IDENT
bool Parser::parseType(TensorType &type) {
  type.loc = tok.loc;
  if (tok.is(TokenKind::Identifier) && tok.text == "f32")
    type.elementType = ElementType::F32;
  else if (tok.is(TokenKind::Identifier) && tok.text == "i64")
    type.elementType = ElementType::I64;
  else
    return expected("element type 'f32' or 'i64'");
  consume();
  if (!expect(TokenKind::LSquare, " to open the shape"))
    return false;
  while (!tok.is(TokenKind::RSquare)) {
    if (!type.dims.empty() && !expect(TokenKind::Comma, " or ']' in shape"))
      return false;
    Dim dim;
    dim.loc = tok.loc;
    if (tok.is(TokenKind::Integer)) {
      dim.size = tok.intValue;
    } else if (tok.is(TokenKind::Identifier)) {
      dim.symbol = tok.text.str();
    } else {
      return expected("dimension (an integer or the batch name)");
    }
    type.dims.push_back(std::move(dim));
    consume();
  }
  consume();
  return true;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

// expr := additive
ExprPtr Parser::parseExpr() {
  DepthGuard guard(*this);
  if (depth > kMaxExpressionDepth) {
    tooDeep(tok.loc);
    return nullptr;
  }
  return parseAdditive();
}

// additive := multiplicative (('+' | '-') multiplicative)*
ExprPtr Parser::parseAdditive() {
  ExprPtr lhs = parseMultiplicative();
  while (lhs && (tok.is(TokenKind::Plus) || tok.is(TokenKind::Minus))) {
    BinaryOp op = tok.is(TokenKind::Plus) ? BinaryOp::Add : BinaryOp::Sub;
    llvm::SMLoc loc = tok.loc;
    consume();
    ExprPtr rhs = parseMultiplicative();
    if (!rhs)
      return nullptr;
    lhs = checkHeight(
        std::make_unique<BinaryExpr>(loc, op, std::move(lhs), std::move(rhs)));
  }
  return lhs;
}

// multiplicative := unary (('*' | '/' | '@') unary)*
ExprPtr Parser::parseMultiplicative() {
  ExprPtr lhs = parseUnary();
  while (lhs && (tok.is(TokenKind::Star) || tok.is(TokenKind::Slash) ||
                 tok.is(TokenKind::At))) {
    BinaryOp op = tok.is(TokenKind::Star)    ? BinaryOp::Mul
                  : tok.is(TokenKind::Slash) ? BinaryOp::Div
                                             : BinaryOp::MatMul;
    llvm::SMLoc loc = tok.loc;
    consume();
    ExprPtr rhs = parseUnary();
    if (!rhs)
      return nullptr;
    lhs = checkHeight(
        std::make_unique<BinaryExpr>(loc, op, std::move(lhs), std::move(rhs)));
  }
  return lhs;
}

// unary := '-' unary | power
ExprPtr Parser::parseUnary() {
  DepthGuard guard(*this);
  if (depth > kMaxExpressionDepth) {
    tooDeep(tok.loc);
    return nullptr;
  }
  if (!tok.is(TokenKind::Minus))
    return parsePower();
  llvm::SMLoc loc = tok.loc;
  consume();
  ExprPtr operand = parseUnary();
  if (!operand)
    return nullptr;
  return checkHeight(std::make_unique<UnaryExpr>(loc, std::move(operand)));
}

// power := primary ('**' unary)?
// As in Python, `**` binds tighter than a unary minus on its left (-x**2 is
// -(x**2)) and is right-associative through its unary right operand.
ExprPtr Parser::parsePower() {
  ExprPtr base = parsePrimary();
  if (!base || !tok.is(TokenKind::StarStar))
    return base;
  llvm::SMLoc loc = tok.loc;
  consume();
  ExprPtr exponent = parseUnary();
  if (!exponent)
    return nullptr;
  return checkHeight(std::make_unique<BinaryExpr>(
      loc, BinaryOp::Pow, std::move(base), std::move(exponent)));
}

// primary := INT | FLOAT | STRING | 'true' | 'false' | IDENT
//          | IDENT '(' args? ')' | '[' list? ']' | '(' expr ')'
ExprPtr Parser::parsePrimary() {
  Token t = tok;
  switch (t.kind) {
  case TokenKind::Integer:
    consume();
    return std::make_unique<IntExpr>(t.loc, t.intValue);
  case TokenKind::Float:
    consume();
    return std::make_unique<FloatExpr>(t.loc, t.floatValue, t.text);
  case TokenKind::String:
    consume();
    return std::make_unique<StringExpr>(t.loc, std::move(t.stringValue));
  case TokenKind::KwTrue:
  case TokenKind::KwFalse:
    consume();
    return std::make_unique<BoolExpr>(t.loc, t.is(TokenKind::KwTrue));
  case TokenKind::Identifier:
    consume();
    if (tok.is(TokenKind::LParen))
      return parseCall(t);
    return std::make_unique<IdentExpr>(t.loc, t.text.str());
  case TokenKind::LSquare:
    return parseList();
  case TokenKind::LParen: {
    consume();
    ExprPtr inner = parseExpr();
    if (!inner)
      return nullptr;
    if (!tok.is(TokenKind::RParen)) {
      expected("')' to close '(' at " +
               llvm::Twine(sourceMgr.getLineAndColumn(t.loc).first) + ":" +
               llvm::Twine(sourceMgr.getLineAndColumn(t.loc).second));
      return nullptr;
    }
    consume();
    return inner;
  }
  default:
    expected("expression");
    return nullptr;
  }
}

// call := IDENT '(' (arg (',' arg)* ','?)? ')'
// arg  := (IDENT '=')? expr
ExprPtr Parser::parseCall(Token callee) {
  consume(); // '('
  // Count layer calls when their name is read, i.e. in source order, so an
  // automatic name is `<layer><k>` for the k-th call of that layer.
  const BuiltinSpec *spec = lookupBuiltin(callee.text, BuiltinCategory::Layer);
  bool isLayer = spec && spec->category == BuiltinCategory::Layer;
  unsigned ordinal = isLayer ? ++layerCounts[spec->name] : 0;
  std::vector<Arg> args;
  while (!tok.is(TokenKind::RParen)) {
    Arg arg;
    if (tok.is(TokenKind::Identifier) && peek().is(TokenKind::Equal)) {
      arg.name = tok.text.str();
      arg.nameLoc = tok.loc;
      consume();
      consume();
    }
    arg.value = parseExpr();
    if (!arg.value)
      return nullptr;
    args.push_back(std::move(arg));
    if (tok.is(TokenKind::Comma)) {
      consume();
      continue;
    }
    if (!tok.is(TokenKind::RParen)) {
      expected("',' or ')' to close call to '" + callee.text + "'");
      return nullptr;
    }
  }
  consume();
  auto call =
      std::make_unique<CallExpr>(callee.loc, callee.text.str(), std::move(args));
  if (isLayer) {
    const Arg *nameArg = call->getKeyword("name");
    const auto *given =
        nameArg ? llvm::dyn_cast<StringExpr>(nameArg->value.get()) : nullptr;
    if (given)
      call->setLayerName(given->getValue().str(), given->getLoc());
    else
      call->setLayerName(spec->name + std::to_string(ordinal), callee.loc);
  }
  return checkHeight(std::move(call));
}

// list := '[' (expr (',' expr)* ','?)? ']'
ExprPtr Parser::parseList() {
  llvm::SMLoc loc = tok.loc;
  consume();
  std::vector<ExprPtr> elements;
  while (!tok.is(TokenKind::RSquare)) {
    ExprPtr e = parseExpr();
    if (!e)
      return nullptr;
    elements.push_back(std::move(e));
    if (tok.is(TokenKind::Comma)) {
      consume();
      continue;
    }
    if (!tok.is(TokenKind::RSquare)) {
      expected("',' or ']' to close the list");
      return nullptr;
    }
  }
  consume();
  return checkHeight(std::make_unique<ListExpr>(loc, std::move(elements)));
}

std::unique_ptr<File> kiln::parseFile(llvm::SourceMgr &sourceMgr,
                                      unsigned bufferId) {
  return Parser(sourceMgr, bufferId).parseFile();
}
