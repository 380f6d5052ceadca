//===- AST.h - Abstract syntax tree of the kiln DSL --------------*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// The tree the parser builds and MLIRGen walks. Every node carries the SMLoc
// of its first token (MLIRGen turns it into a FileLineColLoc). Expressions
// use LLVM-style RTTI (isa/dyn_cast). The tree keeps arguments as written;
// Builtins.h matches them to a builtin's parameters and reads constant
// values with defaults, so no stage re-implements that.
//
// After parseFile succeeds, every call to a layer that owns parameters has
// its instance name set (CallExpr::layerName); see docs/language.md, "Layer
// names". Sema (checkFile) then guarantees names resolve, arguments match
// their builtins and hyper-parameters are in range.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_AST_H
#define KILN_FRONTEND_AST_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
class SourceMgr;
} // namespace llvm

namespace kiln::ast {

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

class Expr {
public:
  enum class Kind { Int, Float, Bool, String, Ident, List, Call, Binary, Unary };

  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  Expr(const Expr &) = delete;
  Expr &operator=(const Expr &) = delete;
  virtual ~Expr() = default;

  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }
  /// Height of the tree below and including this node. The parser bounds
  /// it so that every recursive walk (Sema, printer, MLIRGen, destructors)
  /// has a bounded depth.
  unsigned getHeight() const { return height; }

protected:
  unsigned height = 1;

private:
  Kind kind;
  llvm::SMLoc loc;
};

using ExprPtr = std::unique_ptr<Expr>;

class IntExpr : public Expr {
public:
  IntExpr(llvm::SMLoc loc, int64_t value) : Expr(Kind::Int, loc), value(value) {}
  int64_t getValue() const { return value; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Int; }

private:
  int64_t value;
};

class FloatExpr : public Expr {
public:
  FloatExpr(llvm::SMLoc loc, double value, llvm::StringRef spelling)
      : Expr(Kind::Float, loc), value(value), spelling(spelling.str()) {}
  double getValue() const { return value; }
  /// The literal as written, for the AST dump (printing a double may not
  /// round-trip the user's text).
  llvm::StringRef getSpelling() const { return spelling; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Float; }

private:
  double value;
  std::string spelling;
};

class BoolExpr : public Expr {
public:
  BoolExpr(llvm::SMLoc loc, bool value) : Expr(Kind::Bool, loc), value(value) {}
  bool getValue() const { return value; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Bool; }

private:
  bool value;
};

class StringExpr : public Expr {
public:
  StringExpr(llvm::SMLoc loc, std::string value)
      : Expr(Kind::String, loc), value(std::move(value)) {}
  llvm::StringRef getValue() const { return value; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::String; }

private:
  std::string value;
};

/// A reference to a value (input, target, param, binding) or, inside
/// `reshape`, to the batch dimension.
class IdentExpr : public Expr {
public:
  IdentExpr(llvm::SMLoc loc, std::string name)
      : Expr(Kind::Ident, loc), name(std::move(name)) {}
  llvm::StringRef getName() const { return name; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Ident; }

private:
  std::string name;
};

class ListExpr : public Expr {
public:
  ListExpr(llvm::SMLoc loc, std::vector<ExprPtr> elements)
      : Expr(Kind::List, loc), elements(std::move(elements)) {
    for (const ExprPtr &e : this->elements)
      height = std::max(height, e->getHeight() + 1);
  }
  llvm::ArrayRef<ExprPtr> getElements() const { return elements; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::List; }

private:
  std::vector<ExprPtr> elements;
};

/// One argument of a call: positional when `name` is empty.
struct Arg {
  std::string name;
  llvm::SMLoc nameLoc;
  ExprPtr value;
  bool isKeyword() const { return !name.empty(); }
};

/// A call of a builtin. There are no user-defined functions: the callee
/// names a builtin (checked by Sema).
class CallExpr : public Expr {
public:
  CallExpr(llvm::SMLoc loc, std::string callee, std::vector<Arg> args)
      : Expr(Kind::Call, loc), callee(std::move(callee)),
        args(std::move(args)) {
    for (const Arg &a : this->args)
      height = std::max(height, a.value->getHeight() + 1);
  }
  llvm::StringRef getCallee() const { return callee; }
  llvm::ArrayRef<Arg> getArgs() const { return args; }
  /// The keyword argument `name`, or null.
  const Arg *getKeyword(llvm::StringRef name) const;

  /// Instance name of a parameter-owning layer call (dense, conv2d, ...):
  /// checkpoint keys are `<layerName>.weight` etc. Empty for other calls.
  llvm::StringRef getLayerName() const { return layerName; }
  /// Where the name comes from: the `name=` string, the binding's name, or
  /// the call itself for automatic names.
  llvm::SMLoc getLayerNameLoc() const { return layerNameLoc; }
  void setLayerName(std::string name, llvm::SMLoc loc) {
    layerName = std::move(name);
    layerNameLoc = loc;
  }

  static bool classof(const Expr *e) { return e->getKind() == Kind::Call; }

private:
  std::string callee;
  std::vector<Arg> args;
  std::string layerName;
  llvm::SMLoc layerNameLoc;
};

enum class BinaryOp { Add, Sub, Mul, Div, MatMul, Pow };

/// The operator as written ("+", "@", "**").
llvm::StringRef spell(BinaryOp op);

class BinaryExpr : public Expr {
public:
  /// `loc` is the operator's location: errors about the operation point
  /// at it, as clang does.
  BinaryExpr(llvm::SMLoc loc, BinaryOp op, ExprPtr lhs, ExprPtr rhs)
      : Expr(Kind::Binary, loc), op(op), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {
    height = std::max(this->lhs->getHeight(), this->rhs->getHeight()) + 1;
  }
  BinaryOp getOp() const { return op; }
  const Expr &getLHS() const { return *lhs; }
  const Expr &getRHS() const { return *rhs; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Binary; }

private:
  BinaryOp op;
  ExprPtr lhs, rhs;
};

/// Unary minus, the only unary operator.
class UnaryExpr : public Expr {
public:
  UnaryExpr(llvm::SMLoc loc, ExprPtr operand)
      : Expr(Kind::Unary, loc), operand(std::move(operand)) {
    height = this->operand->getHeight() + 1;
  }
  const Expr &getOperand() const { return *operand; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Unary; }

private:
  ExprPtr operand;
};

/// A compile-time number: the value of a constant expression such as
/// `1/255` or `64*6*6`.
struct Constant {
  bool isInt;
  int64_t i;
  double f;
  double asDouble() const { return isInt ? static_cast<double>(i) : f; }
};

/// Folds literals combined with unary minus and + - * / **. Follows Python:
/// `/` always gives a float, `**` with a negative exponent gives a float,
/// int overflow or division by zero is not a constant. Returns nullopt for
/// anything else (a tensor, a string, a call).
std::optional<Constant> evalConstant(const Expr &expr);

//===----------------------------------------------------------------------===//
// Types and statements
//===----------------------------------------------------------------------===//

enum class ElementType { F32, I64 };
llvm::StringRef spell(ElementType type);

/// One dimension: a positive size, or the symbolic batch dimension.
struct Dim {
  llvm::SMLoc loc;
  int64_t size = 0;
  /// Non-empty for the batch dimension (`B`); then `size` is meaningless.
  std::string symbol;
  bool isSymbolic() const { return !symbol.empty(); }
};

struct TensorType {
  llvm::SMLoc loc;
  ElementType elementType = ElementType::F32;
  std::vector<Dim> dims;
};

class Stmt {
public:
  enum class Kind { Input, Param, Let, Freeze, Loss, Predict };
  Stmt(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;
  virtual ~Stmt() = default;
  Kind getKind() const { return kind; }
  /// Location of the statement's first token.
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};

using StmtPtr = std::unique_ptr<Stmt>;

/// `input NAME: TYPE` or `target NAME: TYPE`.
class InputStmt : public Stmt {
public:
  InputStmt(llvm::SMLoc loc, bool isTarget, std::string name,
            llvm::SMLoc nameLoc, TensorType type)
      : Stmt(Kind::Input, loc), target(isTarget), name(std::move(name)),
        nameLoc(nameLoc), type(std::move(type)) {}
  bool isTarget() const { return target; }
  llvm::StringRef getName() const { return name; }
  llvm::SMLoc getNameLoc() const { return nameLoc; }
  const TensorType &getType() const { return type; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Input; }

private:
  bool target;
  std::string name;
  llvm::SMLoc nameLoc;
  TensorType type;
};

/// `param NAME: TYPE = INIT [frozen]`. INIT is a call of an initializer.
class ParamStmt : public Stmt {
public:
  ParamStmt(llvm::SMLoc loc, std::string name, llvm::SMLoc nameLoc,
            TensorType type, ExprPtr init, llvm::SMLoc frozenLoc)
      : Stmt(Kind::Param, loc), name(std::move(name)), nameLoc(nameLoc),
        type(std::move(type)), init(std::move(init)), frozenLoc(frozenLoc) {}
  llvm::StringRef getName() const { return name; }
  llvm::SMLoc getNameLoc() const { return nameLoc; }
  const TensorType &getType() const { return type; }
  const Expr &getInit() const { return *init; }
  bool isFrozen() const { return frozenLoc.isValid(); }
  llvm::SMLoc getFrozenLoc() const { return frozenLoc; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Param; }

private:
  std::string name;
  llvm::SMLoc nameLoc;
  TensorType type;
  ExprPtr init;
  llvm::SMLoc frozenLoc;
};

/// `NAME = EXPR`.
class LetStmt : public Stmt {
public:
  LetStmt(llvm::SMLoc loc, std::string name, ExprPtr value)
      : Stmt(Kind::Let, loc), name(std::move(name)), value(std::move(value)) {}
  llvm::StringRef getName() const { return name; }
  /// The name is the statement's first token.
  llvm::SMLoc getNameLoc() const { return getLoc(); }
  const Expr &getValue() const { return *value; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Let; }

private:
  std::string name;
  ExprPtr value;
};

struct Name {
  std::string name;
  llvm::SMLoc loc;
};

/// `freeze NAME, NAME...`: layers or params that get no gradient.
class FreezeStmt : public Stmt {
public:
  FreezeStmt(llvm::SMLoc loc, std::vector<Name> names)
      : Stmt(Kind::Freeze, loc), names(std::move(names)) {}
  llvm::ArrayRef<Name> getNames() const { return names; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Freeze; }

private:
  std::vector<Name> names;
};

/// `loss EXPR` and `predict EXPR`.
class OutputStmt : public Stmt {
public:
  OutputStmt(Kind kind, llvm::SMLoc loc, ExprPtr value)
      : Stmt(kind, loc), value(std::move(value)) {}
  const Expr &getValue() const { return *value; }
  static bool classof(const Stmt *s) {
    return s->getKind() == Kind::Loss || s->getKind() == Kind::Predict;
  }

private:
  ExprPtr value;
};

struct Model {
  llvm::SMLoc loc;
  std::string name;
  llvm::SMLoc nameLoc;
  std::vector<StmtPtr> body;
};

/// `key = EXPR` inside `train { ... }`.
struct TrainEntry {
  std::string key;
  llvm::SMLoc keyLoc;
  ExprPtr value;
};

struct Train {
  llvm::SMLoc loc;
  std::vector<TrainEntry> entries;
  /// The entry for `key`, or null.
  const TrainEntry *get(llvm::StringRef key) const;
};

/// A whole .kiln file: one model, an optional train block.
struct File {
  Model model;
  std::unique_ptr<Train> train;
};

/// Prints the tree, one node a line, indented by depth, each with its
/// `line:col`. Deterministic; the format is shown in docs/language.md.
void print(const File &file, llvm::raw_ostream &os, llvm::SourceMgr &sourceMgr);

} // namespace kiln::ast

#endif // KILN_FRONTEND_AST_H
