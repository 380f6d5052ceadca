//===- Sema.cpp - Semantic checks of the kiln DSL ---------------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Implements checkFile (Sema.h). One pass collects every definition so that
// an early use of a later name reads "used before its definition" rather
// than "unknown"; a second pass walks the statements in order. Calls are
// checked against the builtin table (Builtins.h); the few rules that relate
// two arguments (nesterov, idx's files, ...) are in checkCallRules. An
// expression that failed yields ValueKind::Invalid, which later checks
// accept silently so one mistake gives one error.
//
//===----------------------------------------------------------------------===//

#include "frontend/Sema.h"

#include "frontend/SemaImpl.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;
using namespace kiln::ast;

using namespace kiln::sema;

/// How diagnostics name a kind of definition, with its article.
static llvm::StringRef describe(DefKind kind) {
  switch (kind) {
  case DefKind::Input:
    return "an input";
  case DefKind::Target:
    return "a target";
  case DefKind::Param:
    return "a param";
  case DefKind::Let:
    return "a binding";
  case DefKind::Layer:
  case DefKind::LayerBinding:
    return "a layer";
  case DefKind::Batch:
    return "the batch dimension";
  }
  llvm_unreachable("unknown definition kind");
}

llvm::StringRef describe(ValueKind kind) {
  switch (kind) {
  case ValueKind::Invalid:
    return "an invalid expression";
  case ValueKind::Tensor:
    return "a tensor";
  case ValueKind::Int:
    return "an integer";
  case ValueKind::Float:
    return "a number";
  case ValueKind::Bool:
    return "a boolean";
  case ValueKind::String:
    return "a string";
  case ValueKind::List:
    return "a list";
  }
  llvm_unreachable("unknown value kind");
}

std::string show(const Constant &c) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (c.isInt)
    os << c.i;
  else
    os << llvm::format("%g", c.f);
  return os.str();
}

//===----------------------------------------------------------------------===//
// Definitions
//===----------------------------------------------------------------------===//

void Sema::addDefinition(llvm::StringRef name, DefKind kind, llvm::SMLoc loc,
                         size_t stmtIndex, bool automatic) {
  auto [it, inserted] = defs.try_emplace(name, Definition{kind, loc, stmtIndex});
  if (inserted) {
    defNames.push_back(it->getKey());
    return;
  }
  error(loc, "'" + name + "' is already defined as " +
                 describe(it->second.kind));
  if (automatic)
    note(loc, "this layer call is named '" + name +
                  "' automatically; give it another name with name=\"...\"");
  note(it->second.loc, "previous definition of '" + name + "' is here");
}

void Sema::collectLayers(const Expr &expr, size_t stmtIndex,
                         llvm::StringRef bindingName) {
  if (const auto *call = llvm::dyn_cast<CallExpr>(&expr)) {
    llvm::StringRef layer = call->getLayerName();
    // The layer a binding names directly is the binding itself.
    if (!layer.empty() && layer != bindingName) {
      const Arg *nameArg = call->getKeyword("name");
      addDefinition(layer, DefKind::Layer, call->getLayerNameLoc(), stmtIndex,
                    /*automatic=*/!nameArg);
    }
    for (const Arg &arg : call->getArgs())
      collectLayers(*arg.value, stmtIndex, "");
  } else if (const auto *list = llvm::dyn_cast<ListExpr>(&expr)) {
    for (const ExprPtr &e : list->getElements())
      collectLayers(*e, stmtIndex, "");
  } else if (const auto *b = llvm::dyn_cast<BinaryExpr>(&expr)) {
    collectLayers(b->getLHS(), stmtIndex, "");
    collectLayers(b->getRHS(), stmtIndex, "");
  } else if (const auto *u = llvm::dyn_cast<UnaryExpr>(&expr)) {
    collectLayers(u->getOperand(), stmtIndex, "");
  }
}

void Sema::collect(const Model &model) {
  for (size_t i = 0; i < model.body.size(); ++i) {
    const Stmt &stmt = *model.body[i];
    if (const auto *input = llvm::dyn_cast<InputStmt>(&stmt)) {
      addDefinition(input->getName(),
                    input->isTarget() ? DefKind::Target : DefKind::Input,
                    input->getNameLoc(), i);
      const std::vector<Dim> &dims = input->getType().dims;
      if (batchName.empty() && !dims.empty() && dims[0].isSymbolic()) {
        batchName = dims[0].symbol;
        addDefinition(batchName, DefKind::Batch, dims[0].loc, i);
      }
    } else if (const auto *param = llvm::dyn_cast<ParamStmt>(&stmt)) {
      addDefinition(param->getName(), DefKind::Param, param->getNameLoc(), i);
    } else if (const auto *let = llvm::dyn_cast<LetStmt>(&stmt)) {
      const auto *call = llvm::dyn_cast<CallExpr>(&let->getValue());
      bool isLayer = call && call->getLayerName() == let->getName();
      addDefinition(let->getName(), isLayer ? DefKind::LayerBinding : DefKind::Let,
                    let->getNameLoc(), i);
      collectLayers(let->getValue(), i, let->getName());
    } else if (const auto *out = llvm::dyn_cast<OutputStmt>(&stmt)) {
      collectLayers(out->getValue(), i, "");
    }
  }
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

bool kiln::checkFile(const File &file, llvm::SourceMgr &sourceMgr) {
  return Sema(sourceMgr).check(file);
}

bool Sema::check(const File &file) {
  collect(file.model);
  checkModel(file.model);
  if (file.train)
    checkTrain(*file.train);
  return ok;
}

void Sema::checkModel(const Model &model) {
  const Stmt *loss = nullptr, *predict = nullptr;
  bool hasInput = false;
  llvm::StringMap<llvm::SMLoc> frozen;
  for (currentStmt = 0; currentStmt < model.body.size(); ++currentStmt) {
    const Stmt &stmt = *model.body[currentStmt];
    switch (stmt.getKind()) {
    case Stmt::Kind::Input: {
      const auto &input = llvm::cast<InputStmt>(stmt);
      hasInput |= !input.isTarget();
      checkInput(input);
      break;
    }
    case Stmt::Kind::Param: {
      const auto &param = llvm::cast<ParamStmt>(stmt);
      checkType(param.getType(), /*isParam=*/true);
      checkNestedCall(param.getInit(), BuiltinCategory::Initializer,
                      "the initializer of param '" + param.getName() + "'");
      break;
    }
    case Stmt::Kind::Let: {
      const auto &let = llvm::cast<LetStmt>(stmt);
      ValueKind kind = checkExpr(let.getValue());
      if (kind != ValueKind::Tensor && kind != ValueKind::Invalid)
        error(let.getValue().getLoc(),
              "binding '" + let.getName() + "' must be a tensor, found " +
                  describe(kind) + " (write constants where they are used)");
      break;
    }
    case Stmt::Kind::Freeze:
      // Checked after the walk: freeze may name later layers.
      break;
    case Stmt::Kind::Loss:
    case Stmt::Kind::Predict: {
      bool isLoss = stmt.getKind() == Stmt::Kind::Loss;
      const Stmt *&seen = isLoss ? loss : predict;
      llvm::StringRef what = isLoss ? "loss" : "predict";
      if (seen) {
        error(stmt.getLoc(), "a model has at most one '" + what + "'");
        note(seen->getLoc(), "previous '" + what + "' is here");
      }
      seen = &stmt;
      ValueKind kind = checkExpr(llvm::cast<OutputStmt>(stmt).getValue());
      if (kind != ValueKind::Tensor && kind != ValueKind::Invalid)
        error(llvm::cast<OutputStmt>(stmt).getValue().getLoc(),
              "'" + what + "' must be a tensor expression, found " +
                  describe(kind));
      break;
    }
    }
    // Everything this statement defines is now visible to later ones.
    for (auto &entry : defs)
      if (entry.second.stmtIndex == currentStmt)
        entry.second.defined = true;
  }
  for (const StmtPtr &stmt : model.body) {
    if (const auto *freeze = llvm::dyn_cast<FreezeStmt>(stmt.get())) {
      for (const Name &name : freeze->getNames()) {
        auto it = defs.find(name.name);
        if (it == defs.end()) {
          std::vector<llvm::StringRef> owners;
          for (llvm::StringRef n : defNames) {
            DefKind k = defs.find(n)->second.kind;
            if (k == DefKind::Param || k == DefKind::Layer ||
                k == DefKind::LayerBinding)
              owners.push_back(n);
          }
          error(name.loc, "cannot freeze unknown layer or param '" + name.name +
                              "'" + didYouMean(name.name, owners));
          continue;
        }
        DefKind k = it->second.kind;
        if (k != DefKind::Param && k != DefKind::Layer &&
            k != DefKind::LayerBinding) {
          error(name.loc, "cannot freeze '" + name.name + "': it is " +
                              describe(k) + ", not a layer or param");
          continue;
        }
        auto [prev, inserted] = frozen.try_emplace(name.name, name.loc);
        if (!inserted) {
          error(name.loc, "'" + name.name + "' is already frozen");
          note(prev->second, "frozen here");
        }
      }
    } else if (const auto *param = llvm::dyn_cast<ParamStmt>(stmt.get())) {
      if (param->isFrozen())
        frozen.try_emplace(param->getName(), param->getFrozenLoc());
    }
  }
  if (!hasInput)
    error(model.nameLoc, "model '" + model.name + "' has no 'input'");
  if (!loss)
    error(model.nameLoc, "model '" + model.name +
                             "' has no 'loss' (exactly one is required)");
}

void Sema::checkType(const TensorType &type, bool isParam) {
  if (isParam && type.elementType != ElementType::F32)
    error(type.loc, "params must be f32, found " + spell(type.elementType));
  for (size_t i = 0; i < type.dims.size(); ++i) {
    const Dim &dim = type.dims[i];
    if (!dim.isSymbolic()) {
      if (dim.size <= 0)
        error(dim.loc, "dimension sizes must be positive, found " +
                           llvm::Twine(dim.size));
      continue;
    }
    if (isParam)
      error(dim.loc, "param shapes must be static; '" + dim.symbol +
                         "' is not a number");
    else if (i != 0)
      error(dim.loc, "the batch dimension '" + dim.symbol +
                         "' must be dimension 0, found it at dimension " +
                         llvm::Twine(i));
  }
}

void Sema::checkInput(const InputStmt &input) {
  const TensorType &type = input.getType();
  llvm::StringRef what = input.isTarget() ? "target" : "input";
  if (type.dims.empty()) {
    error(type.loc, what + " '" + input.getName() +
                        "' needs at least one dimension (the batch)");
    return;
  }
  checkType(type, /*isParam=*/false);
  const Dim &first = type.dims[0];
  if (batchName.empty())
    return;
  const Definition &batch = defs.find(batchName)->second;
  if (!first.isSymbolic()) {
    error(first.loc, what + " '" + input.getName() +
                         "' must have the batch dimension '" + batchName +
                         "' as dimension 0, as every input and target does");
    note(batch.loc, "batch dimension '" + batchName + "' is introduced here");
  } else if (first.symbol != batchName) {
    error(first.loc, "batch dimension is named '" + first.symbol +
                         "' here but '" + batchName + "' before");
    note(batch.loc, "batch dimension '" + batchName + "' is introduced here");
  }
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

ValueKind Sema::checkIdent(const IdentExpr &ident) {
  auto it = defs.find(ident.getName());
  if (it == defs.end()) {
    error(ident.getLoc(), "unknown name '" + ident.getName() + "'" +
                              didYouMean(ident.getName(), defNames));
    return ValueKind::Invalid;
  }
  const Definition &def = it->second;
  if (def.kind == DefKind::Batch) {
    error(ident.getLoc(), "'" + ident.getName() +
                              "' is the batch dimension, not a value; it may "
                              "only appear in reshape's shape");
    return ValueKind::Invalid;
  }
  if (def.kind == DefKind::Layer) {
    error(ident.getLoc(), "'" + ident.getName() +
                              "' names a layer, not a value; bind the layer's "
                              "output with NAME = ... to use it");
    return ValueKind::Invalid;
  }
  if (!def.defined) {
    error(ident.getLoc(), "'" + ident.getName() + "' is used before its definition");
    note(def.loc, "'" + ident.getName() + "' is defined here");
    return ValueKind::Invalid;
  }
  return ValueKind::Tensor;
}

ValueKind Sema::checkExpr(const Expr &expr) {
  switch (expr.getKind()) {
  case Expr::Kind::Int:
    return ValueKind::Int;
  case Expr::Kind::Float:
    return ValueKind::Float;
  case Expr::Kind::Bool:
    return ValueKind::Bool;
  case Expr::Kind::String:
    return ValueKind::String;
  case Expr::Kind::List:
    return ValueKind::List;
  case Expr::Kind::Ident:
    return checkIdent(llvm::cast<IdentExpr>(expr));
  case Expr::Kind::Call:
    return checkCall(llvm::cast<CallExpr>(expr), BuiltinCategory::TensorOp);
  case Expr::Kind::Unary: {
    ValueKind k = checkExpr(llvm::cast<UnaryExpr>(expr).getOperand());
    if (k == ValueKind::Tensor || k == ValueKind::Int ||
        k == ValueKind::Float || k == ValueKind::Invalid)
      return k;
    error(expr.getLoc(), "unary '-' expects a tensor or a number, found " +
                             describe(k));
    return ValueKind::Invalid;
  }
  case Expr::Kind::Binary: {
    const auto &b = llvm::cast<BinaryExpr>(expr);
    ValueKind l = checkExpr(b.getLHS());
    ValueKind r = checkExpr(b.getRHS());
    if (l == ValueKind::Invalid || r == ValueKind::Invalid)
      return ValueKind::Invalid;
    bool isMatMul = b.getOp() == BinaryOp::MatMul;
    for (ValueKind k : {l, r}) {
      bool fine = k == ValueKind::Tensor ||
                  (!isMatMul && (k == ValueKind::Int || k == ValueKind::Float));
      if (!fine) {
        error(b.getLoc(), "operator '" + spell(b.getOp()) + "' expects " +
                              (isMatMul ? "tensors" : "tensors or numbers") +
                              ", found " + describe(k));
        return ValueKind::Invalid;
      }
    }
    if (l == ValueKind::Tensor || r == ValueKind::Tensor)
      return ValueKind::Tensor;
    std::optional<Constant> c = evalConstant(b);
    if (!c) {
      error(b.getLoc(), "constant expression overflows or divides by zero");
      return ValueKind::Invalid;
    }
    return c->isInt ? ValueKind::Int : ValueKind::Float;
  }
  }
  llvm_unreachable("unknown expression kind");
}

