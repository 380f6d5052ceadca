//===- SemaImpl.h - Internals shared by Sema's files ------------*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// The checker class behind checkFile, split over Sema.cpp (definitions,
// statements, expressions) and SemaCalls.cpp (builtin calls, arguments and
// the train block). Not part of the front end's interface.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_SEMAIMPL_H
#define KILN_FRONTEND_SEMAIMPL_H

#include "frontend/AST.h"
#include "frontend/Builtins.h"
#include "frontend/Diagnostics.h"

#include "llvm/ADT/StringMap.h"

#include <optional>
#include <string>
#include <vector>

namespace kiln::sema {

using ast::CallExpr;
using ast::Constant;
using ast::Expr;
using ast::IdentExpr;
using ast::File;
using ast::InputStmt;
using ast::Model;
using ast::TensorType;
using ast::Train;

enum class ValueKind { Invalid, Tensor, Int, Float, Bool, String, List };

enum class DefKind { Input, Target, Param, Let, Layer, LayerBinding, Batch };

struct Definition {
  DefKind kind;
  llvm::SMLoc loc;
  /// Index of the defining statement; uses in earlier statements are uses
  /// before the definition.
  size_t stmtIndex;
  /// True once the second pass has reached the definition.
  bool defined = false;
};

/// The state of one checkFile run; see Sema.cpp for the strategy.
class Sema {
public:
  explicit Sema(llvm::SourceMgr &sourceMgr) : sourceMgr(sourceMgr) {}
  bool check(const File &file);

  /// Reports an error and records the failure; returns false.
  bool error(llvm::SMLoc loc, const llvm::Twine &msg) {
    ok = false;
    return emitError(sourceMgr, loc, msg);
  }
  void note(llvm::SMLoc loc, const llvm::Twine &msg) {
    emitNote(sourceMgr, loc, msg);
  }

private:
  // Definitions.
  void collect(const Model &model);
  void addDefinition(llvm::StringRef name, DefKind kind, llvm::SMLoc loc,
                     size_t stmtIndex, bool automatic = false);
  void collectLayers(const Expr &expr, size_t stmtIndex,
                     llvm::StringRef bindingName);

  // Statements.
  void checkModel(const Model &model);
  void checkInput(const InputStmt &input);
  void checkType(const TensorType &type, bool isParam);

  // Expressions.
  ValueKind checkExpr(const Expr &expr);
  ValueKind checkIdent(const IdentExpr &ident);

  // Calls and arguments (SemaCalls.cpp).
  ValueKind checkCall(const CallExpr &call, BuiltinCategory expected);
  void checkArg(const ParamSpec &param, const Expr &value,
                const llvm::Twine &what);
  std::optional<Constant> expectConstant(const Expr &value, bool wantInt,
                                         const llvm::Twine &what);
  bool checkRange(const ParamSpec &param, const Constant &c, llvm::SMLoc loc,
                  const llvm::Twine &what);
  void checkCallRules(const CallArgs &args);
  bool checkNestedCall(const Expr &value, BuiltinCategory category,
                       const llvm::Twine &what);
  void checkTrain(const Train &train);

  llvm::SourceMgr &sourceMgr;
  bool ok = true;
  llvm::StringMap<Definition> defs;
  /// Names in definition order, for "did you mean".
  std::vector<llvm::StringRef> defNames;
  std::string batchName;
  size_t currentStmt = 0;
};

} // namespace kiln::sema

/// How diagnostics name a value kind ("a tensor", "an integer").
llvm::StringRef describe(kiln::sema::ValueKind kind);
/// A constant as diagnostics show it.
std::string show(const kiln::ast::Constant &c);

#endif // KILN_FRONTEND_SEMAIMPL_H
