//===- SemaCalls.cpp - Semantic checks of builtin calls ---------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// The half of Sema (SemaImpl.h) that checks calls against the builtin table:
// arity and keyword names (through CallArgs::bind), the kind and range of
// each argument, the rules that relate two arguments, and the train block,
// whose settings are described by the same ParamSpec rows.
//
//===----------------------------------------------------------------------===//

#include "frontend/SemaImpl.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FormatVariadic.h"

#include <cctype>
#include <cmath>

using namespace kiln;
using namespace kiln::ast;
using namespace kiln::sema;

static bool isIdentifier(llvm::StringRef s) {
  if (s.empty() || !(std::isalpha(s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(s, [](char c) { return std::isalnum(c) || c == '_'; });
}

static llvm::StringRef categoryUse(BuiltinCategory c) {
  switch (c) {
  case BuiltinCategory::Layer:
  case BuiltinCategory::TensorOp:
  case BuiltinCategory::Loss:
    return "a tensor operation, used in the model";
  case BuiltinCategory::Initializer:
    return "an initializer, used in a param's '= INIT' or a layer's init=";
  case BuiltinCategory::Data:
    return "a data source, used in the train block's 'data'";
  case BuiltinCategory::Normalize:
    return "a normalization, used in the train block's 'normalize'";
  case BuiltinCategory::Optimizer:
    return "an optimizer, used in the train block's 'optimizer'";
  case BuiltinCategory::Schedule:
    return "a learning-rate schedule, used in the train block's 'schedule'";
  case BuiltinCategory::EarlyStopping:
    return "used in the train block's 'early_stopping'";
  }
  llvm_unreachable("unknown category");
}

static llvm::StringRef example(BuiltinCategory c) {
  switch (c) {
  case BuiltinCategory::Initializer:
    return "glorot_uniform()";
  case BuiltinCategory::Data:
    return "idx(\"/usr/share/datasets/fashion-mnist\")";
  case BuiltinCategory::Normalize:
    return "scale(1/255)";
  case BuiltinCategory::Optimizer:
    return "adam(lr=1e-3)";
  case BuiltinCategory::Schedule:
    return "cosine(t_max=1000)";
  case BuiltinCategory::EarlyStopping:
    return "early_stopping(patience=3)";
  default:
    return "relu(x)";
  }
}

static bool isModelCategory(BuiltinCategory c) {
  return c == BuiltinCategory::Layer || c == BuiltinCategory::TensorOp ||
         c == BuiltinCategory::Loss;
}


bool Sema::checkNestedCall(const Expr &value, BuiltinCategory category,
                           const llvm::Twine &what) {
  const auto *call = llvm::dyn_cast<CallExpr>(&value);
  const BuiltinSpec *spec =
      call ? lookupBuiltin(call->getCallee(), category) : nullptr;
  if (!call) {
    return error(value.getLoc(), what + " must be a call such as " +
                                     example(category));
  }
  if (spec && spec->category != category) {
    return error(call->getLoc(), what + " must be " + categoryUse(category) +
                                     "; '" + call->getCallee() + "' is " +
                                     categoryUse(spec->category));
  }
  return checkCall(*call, category) != ValueKind::Invalid;
}

ValueKind Sema::checkCall(const CallExpr &call, BuiltinCategory expected) {
  const BuiltinSpec *spec = lookupBuiltin(call.getCallee(), expected);
  if (!spec) {
    std::vector<llvm::StringRef> candidates;
    for (const BuiltinSpec &b : getBuiltins())
      if (isModelCategory(b.category) == isModelCategory(expected) ||
          b.category == expected)
        candidates.push_back(b.name);
    error(call.getLoc(), "unknown function '" + call.getCallee() + "'" +
                             didYouMean(call.getCallee(), candidates));
    return ValueKind::Invalid;
  }
  if (isModelCategory(expected) && !isModelCategory(spec->category)) {
    error(call.getLoc(), "'" + call.getCallee() + "' is " +
                             categoryUse(spec->category) +
                             "; it cannot be used in a model expression");
    return ValueKind::Invalid;
  }
  std::optional<CallArgs> args = CallArgs::bind(call, expected, &sourceMgr);
  if (!args) {
    ok = false;
    return ValueKind::Invalid;
  }
  bool before = ok;
  ok = true;
  for (const ParamSpec &param : spec->params)
    if (const Expr *value = args->get(param.name))
      checkArg(param, *value,
               "argument '" + llvm::Twine(param.name) + "' of '" + spec->name +
                   "'");
  if (const Arg *nameArg = args->getNameArg()) {
    const auto *s = llvm::dyn_cast<StringExpr>(nameArg->value.get());
    if (!s || !isIdentifier(s->getValue()))
      error(nameArg->value->getLoc(),
            "a layer name must be a string holding an identifier, such as "
            "name=\"fc1\"");
  }
  if (ok)
    checkCallRules(*args);
  bool argsOk = ok;
  ok = before && argsOk;
  return argsOk ? ValueKind::Tensor : ValueKind::Invalid;
}

bool Sema::checkRange(const ParamSpec &param, const Constant &c,
                      llvm::SMLoc loc, const llvm::Twine &what) {
  double v = c.asDouble();
  const char *rule = nullptr;
  switch (param.range) {
  case Range::Any:
    return true;
  case Range::Positive:
    rule = v > 0 ? nullptr : "> 0";
    break;
  case Range::NonNegative:
    rule = v >= 0 ? nullptr : ">= 0";
    break;
  case Range::UnitOpen:
    rule = v >= 0 && v < 1 ? nullptr : "in [0, 1)";
    break;
  case Range::UnitClosed:
    rule = v >= 0 && v <= 1 ? nullptr : "in [0, 1]";
    break;
  }
  if (!rule)
    return true;
  return error(loc, what + " must be " + rule + ", found " + show(c));
}

std::optional<Constant> Sema::expectConstant(const Expr &value, bool wantInt,
                                             const llvm::Twine &what) {
  std::optional<Constant> c = evalConstant(value);
  if (c && (c->isInt || !wantInt))
    return c;
  // A whole float (64*6*6/36) is shown as one, 64.0, with the reason.
  if (c && c->f == std::trunc(c->f) && std::abs(c->f) < 1e15)
    error(value.getLoc(), what + " must be an integer, found " +
                              llvm::formatv("{0:F1}", c->f).str() +
                              " (a float: '/' always gives one)");
  else if (c)
    error(value.getLoc(), what + " must be an integer, found " + show(*c));
  else if (ValueKind k = checkExpr(value); k != ValueKind::Invalid)
    error(value.getLoc(), what + " must be a constant " +
                              (wantInt ? "integer" : "number") + ", found " +
                              describe(k));
  return std::nullopt;
}

/// Elements of a list argument, or null after reporting a non-list.
static const ListExpr *asList(Sema &sema, const Expr &value,
                              const llvm::Twine &what, llvm::StringRef shape) {
  const auto *list = llvm::dyn_cast<ListExpr>(&value);
  if (!list)
    sema.error(value.getLoc(), what + " must be " + shape);
  return list;
}

void Sema::checkArg(const ParamSpec &param, const Expr &value,
                    const llvm::Twine &whatTwine) {
  std::string what = whatTwine.str();
  auto checkNumber = [&](const Expr &e, bool wantInt) {
    if (std::optional<Constant> c = expectConstant(e, wantInt, what))
      checkRange(param, *c, e.getLoc(), what);
  };
  switch (param.kind) {
  case ArgKind::Tensor:
  case ArgKind::TensorOrNumber: {
    ValueKind k = checkExpr(value);
    bool numberOk = param.kind == ArgKind::TensorOrNumber &&
                    (k == ValueKind::Int || k == ValueKind::Float);
    if (k != ValueKind::Tensor && k != ValueKind::Invalid && !numberOk)
      error(value.getLoc(), what + " must be a tensor" +
                                (param.kind == ArgKind::TensorOrNumber
                                     ? " or a number"
                                     : "") +
                                ", found " + describe(k));
    return;
  }
  case ArgKind::TensorList: {
    const ListExpr *list = asList(*this, value, what, "a list of tensors");
    if (!list)
      return;
    if (list->getElements().empty())
      error(value.getLoc(), what + " must not be empty");
    for (const ExprPtr &e : list->getElements()) {
      ValueKind k = checkExpr(*e);
      if (k != ValueKind::Tensor && k != ValueKind::Invalid)
        error(e->getLoc(), "elements of " + what + " must be tensors, found " +
                               describe(k));
    }
    return;
  }
  case ArgKind::Int:
  case ArgKind::Float:
    checkNumber(value, param.kind == ArgKind::Int);
    return;
  case ArgKind::Bool:
    if (!llvm::isa<BoolExpr>(value))
      error(value.getLoc(), what + " must be true or false");
    return;
  case ArgKind::String: {
    const auto *s = llvm::dyn_cast<StringExpr>(&value);
    if (!s) {
      error(value.getLoc(), what + " must be a string");
      return;
    }
    if (!param.choices)
      return;
    llvm::SmallVector<llvm::StringRef> choices;
    llvm::StringRef(param.choices).split(choices, '|');
    if (llvm::is_contained(choices, s->getValue()))
      return;
    std::string valid;
    for (llvm::StringRef c : choices)
      valid += (valid.empty() ? "\"" : ", \"") + c.str() + "\"";
    error(value.getLoc(), what + " must be one of " + valid + "; found \"" +
                              s->getValue() + "\"");
    return;
  }
  case ArgKind::IntOrPair: {
    const auto *list = llvm::dyn_cast<ListExpr>(&value);
    if (!list) {
      checkNumber(value, /*wantInt=*/true);
      return;
    }
    if (list->getElements().size() != 2) {
      error(value.getLoc(), what + " must be an integer or a pair [h, w], "
                                   "found a list of " +
                                llvm::Twine(list->getElements().size()));
      return;
    }
    for (const ExprPtr &e : list->getElements())
      checkNumber(*e, /*wantInt=*/true);
    return;
  }
  case ArgKind::Axes:
  case ArgKind::IntList: {
    const auto *list = llvm::dyn_cast<ListExpr>(&value);
    if (!list && param.kind == ArgKind::Axes) {
      checkNumber(value, /*wantInt=*/true);
      return;
    }
    if (!asList(*this, value, what, "a list of integers"))
      return;
    if (list->getElements().empty())
      error(value.getLoc(), what + " must not be empty");
    llvm::SmallSet<int64_t, 4> seen;
    for (const ExprPtr &e : list->getElements()) {
      std::optional<Constant> c = expectConstant(*e, /*wantInt=*/true, what);
      if (!c || !checkRange(param, *c, e->getLoc(), what))
        continue;
      if (!seen.insert(c->i).second)
        error(e->getLoc(), what + " repeats " + show(*c));
    }
    return;
  }
  case ArgKind::Shape: {
    const ListExpr *list =
        asList(*this, value, what, "a list of dimensions such as [B, 400]");
    if (!list)
      return;
    const ast::Expr *inferred = nullptr;
    for (const ExprPtr &e : list->getElements()) {
      if (const auto *id = llvm::dyn_cast<IdentExpr>(e.get())) {
        if (batchName.empty() || id->getName() != batchName)
          error(e->getLoc(), "dimensions in " + what +
                                 " must be integers or the batch name" +
                                 (batchName.empty() ? ""
                                                    : " '" + batchName + "'") +
                                 ", found '" + id->getName() + "'");
        continue;
      }
      std::optional<Constant> c = expectConstant(*e, /*wantInt=*/true, what);
      if (!c)
        continue;
      if (c->i == -1) {
        if (inferred) {
          error(e->getLoc(), "only one dimension of " + what + " may be -1");
          note(inferred->getLoc(), "the first -1 is here");
        }
        inferred = e.get();
      } else if (c->i <= 0) {
        error(e->getLoc(), "dimensions in " + what +
                               " must be positive or -1, found " + show(*c));
      }
    }
    return;
  }
  case ArgKind::FloatPair: {
    const auto *list = asList(*this, value, what, "a pair [a, b]");
    if (!list)
      return;
    if (list->getElements().size() != 2) {
      error(value.getLoc(), what + " must be a pair [a, b], found a list of " +
                                llvm::Twine(list->getElements().size()));
      return;
    }
    for (const ExprPtr &e : list->getElements())
      checkNumber(*e, /*wantInt=*/false);
    return;
  }
  case ArgKind::Initializer:
    checkNestedCall(value, BuiltinCategory::Initializer, what);
    return;
  case ArgKind::Schedule:
    checkNestedCall(value, BuiltinCategory::Schedule, what);
    return;
  case ArgKind::Data:
    checkNestedCall(value, BuiltinCategory::Data, what);
    return;
  case ArgKind::Normalize:
    checkNestedCall(value, BuiltinCategory::Normalize, what);
    return;
  case ArgKind::Optimizer:
    checkNestedCall(value, BuiltinCategory::Optimizer, what);
    return;
  case ArgKind::EarlyStopping:
    checkNestedCall(value, BuiltinCategory::EarlyStopping, what);
    return;
  }
  llvm_unreachable("unknown argument kind");
}

// Rules relating two arguments of one call. Each mirrors a check PyTorch
// makes when the module or optimizer is built.
void Sema::checkCallRules(const CallArgs &args) {
  llvm::StringRef name = args.getSpec().name;
  const CallExpr &call = args.getCall();
  if (name == "pow" || name == "maximum" || name == "minimum") {
    if (evalConstant(*args.get("a")) && evalConstant(*args.get("b")))
      error(call.getLoc(), "'" + name + "' needs at least one tensor operand");
  } else if (name == "uniform") {
    if (args.getFloat("low") >= args.getFloat("high"))
      error(call.getLoc(),
            "uniform() needs low < high, found low=" +
                show({false, 0, args.getFloat("low")}) +
                " and high=" + show({false, 0, args.getFloat("high")}));
  } else if (name == "sgd") {
    if (args.getBool("nesterov") &&
        (args.getFloat("momentum") <= 0 || args.getFloat("dampening") != 0))
      error(args.get("nesterov")->getLoc(),
            "nesterov momentum requires momentum > 0 and dampening = 0 (as in "
            "torch.optim.SGD)");
  } else if (name == "conv2d") {
    if (args.getInt("filters") % args.getInt("groups") != 0)
      error(args.get("groups")->getLoc(),
            "conv2d's filters (" + llvm::Twine(args.getInt("filters")) +
                ") must be divisible by groups (" +
                llvm::Twine(args.getInt("groups")) + ")");
  } else if (name == "transpose" && args.has("perm")) {
    llvm::SmallVector<int64_t, 4> perm = args.getInts("perm");
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] >= static_cast<int64_t>(perm.size()))
        error(llvm::cast<ListExpr>(args.get("perm"))->getElements()[i]->getLoc(),
              "transpose's perm is not a permutation of 0.." +
                  llvm::Twine(perm.size() - 1) + ": found " +
                  llvm::Twine(perm[i]));
  } else if (name == "idx") {
    bool dir = args.has("dir"), images = args.has("images"),
         labels = args.has("labels");
    if (dir == (images || labels))
      error(call.getLoc(), dir ? "idx() takes either a directory or "
                                 "images=/labels= files, not both"
                               : "idx() needs a directory or images= and "
                                 "labels= files");
    else if (!dir && images != labels)
      error(call.getLoc(), "idx() needs both images= and labels=");
    if (args.has("test_images") != args.has("test_labels"))
      error(call.getLoc(), "idx() needs both test_images= and test_labels=, "
                           "or neither");
  }
}

static const char *kTrainContext = "the train block";

void Sema::checkTrain(const Train &train) {
  llvm::StringMap<const TrainEntry *> seen;
  for (const TrainEntry &entry : train.entries) {
    const ParamSpec *spec = lookupTrainSetting(entry.key);
    if (!spec) {
      std::vector<llvm::StringRef> keys;
      std::string valid;
      for (const ParamSpec &p : getTrainSettings()) {
        keys.push_back(p.name);
        valid += (valid.empty() ? "" : ", ") + std::string(p.name);
      }
      error(entry.keyLoc, "unknown train setting '" + entry.key + "'" +
                              didYouMean(entry.key, keys) + " (valid: " +
                              valid + ")");
      continue;
    }
    auto [it, inserted] = seen.try_emplace(entry.key, &entry);
    if (!inserted) {
      error(entry.keyLoc, "train setting '" + entry.key + "' is set twice");
      note(it->second->keyLoc, "first set here");
      continue;
    }
    checkArg(*spec, *entry.value, "train setting '" + entry.key + "'");
  }
  for (const ParamSpec &p : getTrainSettings())
    if (p.dflt.kind == Default::Kind::Required && !seen.count(p.name))
      error(train.loc, llvm::Twine(kTrainContext) + " has no '" + p.name +
                           "' setting (it is required)");
  // Early stopping watches validation metrics, which need a validation set.
  if (const TrainEntry *stop = train.get("early_stopping")) {
    const TrainEntry *split = train.get("val_split");
    std::optional<Constant> c =
        split ? evalConstant(*split->value) : std::nullopt;
    if (!split || (c && c->asDouble() == 0))
      error(stop->keyLoc, "early_stopping monitors validation metrics, so "
                          "the train block needs val_split > 0");
  }
}
