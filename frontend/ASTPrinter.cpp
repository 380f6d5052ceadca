//===- ASTPrinter.cpp - Dump of the kiln AST --------------------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// ast::print, behind `kiln FILE --emit=ast`: one node a line, two spaces of
// indent per level, each node as `Kind detail @line:col`. Keyword arguments
// appear as `Kwarg NAME` nodes holding their value; positional arguments
// are plain children. Layer calls show the instance name they were given
// (`layer=fc1`). The output depends only on the input text.
//
//===----------------------------------------------------------------------===//

#include "frontend/AST.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;
using namespace kiln::ast;

namespace {

class Printer {
public:
  Printer(llvm::raw_ostream &os, llvm::SourceMgr &sourceMgr)
      : os(os), sourceMgr(sourceMgr) {}

  void print(const File &file);

private:
  /// Starts a line: indentation, then the caller writes the node.
  llvm::raw_ostream &line() { return os.indent(2 * indent); }
  /// Ends a node's line with its location.
  void loc(llvm::SMLoc loc) {
    auto [lineNo, col] = sourceMgr.getLineAndColumn(loc);
    os << " @" << lineNo << ":" << col << "\n";
  }
  struct Nest {
    explicit Nest(Printer &p) : p(p) { ++p.indent; }
    ~Nest() { --p.indent; }
    Printer &p;
  };

  void printType(const TensorType &type);
  void printStmt(const Stmt &stmt);
  void printExpr(const Expr &expr);

  llvm::raw_ostream &os;
  llvm::SourceMgr &sourceMgr;
  unsigned indent = 0;
};

} // namespace

void Printer::printType(const TensorType &type) {
  os << spell(type.elementType) << "[";
  llvm::interleaveComma(type.dims, os, [&](const Dim &d) {
    if (d.isSymbolic())
      os << d.symbol;
    else
      os << d.size;
  });
  os << "]";
}

void Printer::print(const File &file) {
  line() << "Model " << file.model.name;
  loc(file.model.loc);
  {
    Nest nest(*this);
    for (const StmtPtr &stmt : file.model.body)
      printStmt(*stmt);
  }
  if (!file.train)
    return;
  line() << "Train";
  loc(file.train->loc);
  Nest nest(*this);
  for (const TrainEntry &entry : file.train->entries) {
    line() << "Setting " << entry.key;
    loc(entry.keyLoc);
    Nest inner(*this);
    printExpr(*entry.value);
  }
}

void Printer::printStmt(const Stmt &stmt) {
  switch (stmt.getKind()) {
  case Stmt::Kind::Input: {
    const auto &s = llvm::cast<InputStmt>(stmt);
    line() << (s.isTarget() ? "Target " : "Input ") << s.getName() << " : ";
    printType(s.getType());
    loc(s.getLoc());
    return;
  }
  case Stmt::Kind::Param: {
    const auto &s = llvm::cast<ParamStmt>(stmt);
    line() << "Param " << s.getName() << " : ";
    printType(s.getType());
    if (s.isFrozen())
      os << " frozen";
    loc(s.getLoc());
    Nest nest(*this);
    printExpr(s.getInit());
    return;
  }
  case Stmt::Kind::Let: {
    const auto &s = llvm::cast<LetStmt>(stmt);
    line() << "Let " << s.getName();
    loc(s.getLoc());
    Nest nest(*this);
    printExpr(s.getValue());
    return;
  }
  case Stmt::Kind::Freeze: {
    const auto &s = llvm::cast<FreezeStmt>(stmt);
    line() << "Freeze";
    loc(s.getLoc());
    Nest nest(*this);
    for (const Name &name : s.getNames()) {
      line() << "Name " << name.name;
      loc(name.loc);
    }
    return;
  }
  case Stmt::Kind::Loss:
  case Stmt::Kind::Predict: {
    const auto &s = llvm::cast<OutputStmt>(stmt);
    line() << (s.getKind() == Stmt::Kind::Loss ? "Loss" : "Predict");
    loc(s.getLoc());
    Nest nest(*this);
    printExpr(s.getValue());
    return;
  }
  }
}

void Printer::printExpr(const Expr &expr) {
  switch (expr.getKind()) {
  case Expr::Kind::Int:
    line() << "Int " << llvm::cast<IntExpr>(expr).getValue();
    break;
  case Expr::Kind::Float:
    line() << "Float " << llvm::cast<FloatExpr>(expr).getSpelling();
    break;
  case Expr::Kind::Bool:
    line() << "Bool " << (llvm::cast<BoolExpr>(expr).getValue() ? "true"
                                                                : "false");
    break;
  case Expr::Kind::String:
    line() << "String \"";
    llvm::printEscapedString(llvm::cast<StringExpr>(expr).getValue(), os);
    os << "\"";
    break;
  case Expr::Kind::Ident:
    line() << "Ident " << llvm::cast<IdentExpr>(expr).getName();
    break;
  case Expr::Kind::List: {
    line() << "List";
    loc(expr.getLoc());
    Nest nest(*this);
    for (const ExprPtr &element : llvm::cast<ListExpr>(expr).getElements())
      printExpr(*element);
    return;
  }
  case Expr::Kind::Call: {
    const auto &call = llvm::cast<CallExpr>(expr);
    line() << "Call " << call.getCallee();
    if (!call.getLayerName().empty())
      os << " layer=" << call.getLayerName();
    loc(call.getLoc());
    Nest nest(*this);
    for (const Arg &arg : call.getArgs()) {
      if (!arg.isKeyword()) {
        printExpr(*arg.value);
        continue;
      }
      line() << "Kwarg " << arg.name;
      loc(arg.nameLoc);
      Nest inner(*this);
      printExpr(*arg.value);
    }
    return;
  }
  case Expr::Kind::Binary: {
    const auto &b = llvm::cast<BinaryExpr>(expr);
    line() << "Binary " << spell(b.getOp());
    loc(b.getLoc());
    Nest nest(*this);
    printExpr(b.getLHS());
    printExpr(b.getRHS());
    return;
  }
  case Expr::Kind::Unary: {
    line() << "Neg";
    loc(expr.getLoc());
    Nest nest(*this);
    printExpr(llvm::cast<UnaryExpr>(expr).getOperand());
    return;
  }
  }
  loc(expr.getLoc());
}

void ast::print(const File &file, llvm::raw_ostream &os,
                llvm::SourceMgr &sourceMgr) {
  Printer(os, sourceMgr).print(file);
}
