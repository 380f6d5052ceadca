//===- Builtins.cpp - The table of kiln's builtin functions -----------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// The builtin table, argument binding and initializer resolution declared in
// Builtins.h. docs/language.md lists the same rows for users; when a row
// changes here, change it there.
//
//===----------------------------------------------------------------------===//

#include "frontend/Builtins.h"

#include "frontend/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"

#include <cmath>

using namespace kiln;
using namespace kiln::ast;

namespace {
using DK = Default::Kind;
constexpr Default req() { return {}; }
constexpr Default none() { return {DK::None}; }
constexpr Default dInt(int64_t v) { return {DK::Int, v}; }
constexpr Default dFloat(double v) { return {DK::Float, 0, v}; }
constexpr Default dBool(bool v) { return {DK::Bool, 0, 0, 0, v}; }
constexpr Default dStr(const char *v) { return {DK::String, 0, 0, 0, false, v}; }
constexpr Default sameAs(const char *p) { return {DK::SameAs, 0, 0, 0, false, p}; }
constexpr Default dPair(double a, double b) { return {DK::FloatPair, 0, a, b}; }

using AK = ArgKind;
using BC = BuiltinCategory;

// Parameter lists shared by several rows.
const ParamSpec kUnary[] = {{"x", AK::Tensor, req()}};
const ParamSpec kBinary[] = {{"a", AK::Tensor, req()}, {"b", AK::Tensor, req()}};
const ParamSpec kBinaryNum[] = {{"a", AK::TensorOrNumber, req()},
                                {"b", AK::TensorOrNumber, req()}};
const ParamSpec kAxisOp[] = {{"x", AK::Tensor, req()},
                             {"axis", AK::Int, dInt(-1)}};
const ParamSpec kReduce[] = {{"x", AK::Tensor, req()},
                             {"axis", AK::Axes, none()},
                             {"keepdim", AK::Bool, dBool(false)}};
const ParamSpec kLossArgs[] = {{"input", AK::Tensor, req()},
                               {"target", AK::Tensor, req()}};
const ParamSpec kPool[] = {
    {"x", AK::Tensor, req()},
    {"kernel", AK::IntOrPair, req(), Range::Positive},
    {"stride", AK::IntOrPair, sameAs("kernel"), Range::Positive},
    {"padding", AK::IntOrPair, dInt(0), Range::NonNegative}};

const ParamSpec kDense[] = {
    {"x", AK::Tensor, req()},
    {"units", AK::Int, req(), Range::Positive},
    {"bias", AK::Bool, dBool(true)},
    {"init", AK::Initializer, none()},
    {"bias_init", AK::Initializer, none()}};
const ParamSpec kConv2d[] = {
    {"x", AK::Tensor, req()},
    {"filters", AK::Int, req(), Range::Positive},
    {"kernel", AK::IntOrPair, req(), Range::Positive},
    {"stride", AK::IntOrPair, dInt(1), Range::Positive},
    {"padding", AK::IntOrPair, dInt(0), Range::NonNegative},
    {"dilation", AK::IntOrPair, dInt(1), Range::Positive},
    {"groups", AK::Int, dInt(1), Range::Positive},
    {"bias", AK::Bool, dBool(true)},
    {"init", AK::Initializer, none()},
    {"bias_init", AK::Initializer, none()}};
const ParamSpec kBatchNorm[] = {
    {"x", AK::Tensor, req()},
    {"momentum", AK::Float, dFloat(0.1), Range::UnitClosed},
    {"eps", AK::Float, dFloat(1e-5), Range::Positive}};
const ParamSpec kLayerNorm[] = {
    {"x", AK::Tensor, req()},
    {"eps", AK::Float, dFloat(1e-5), Range::Positive}};
const ParamSpec kEmbedding[] = {
    {"ids", AK::Tensor, req()},
    {"num", AK::Int, req(), Range::Positive},
    {"dim", AK::Int, req(), Range::Positive},
    {"init", AK::Initializer, none()}};

const ParamSpec kDropout[] = {
    {"x", AK::Tensor, req()},
    {"p", AK::Float, dFloat(0.5), Range::UnitOpen}};
const ParamSpec kLeakyRelu[] = {{"x", AK::Tensor, req()},
                                {"slope", AK::Float, dFloat(0.01)}};
const ParamSpec kGelu[] = {
    {"x", AK::Tensor, req()},
    {"approximate", AK::String, dStr("none"), Range::Any, "none|tanh"}};
const ParamSpec kReshape[] = {{"x", AK::Tensor, req()},
                              {"shape", AK::Shape, req()}};
const ParamSpec kTranspose[] = {{"x", AK::Tensor, req()},
                                {"perm", AK::IntList, none(), Range::NonNegative}};
const ParamSpec kConcat[] = {{"tensors", AK::TensorList, req()},
                             {"axis", AK::Int, req()}};
const ParamSpec kSlice[] = {{"x", AK::Tensor, req()},
                            {"axis", AK::Int, req()},
                            {"start", AK::Int, req()},
                            {"end", AK::Int, req()}};

const ParamSpec kConstantInit[] = {{"value", AK::Float, req()}};
const ParamSpec kNormalInit[] = {
    {"mean", AK::Float, dFloat(0)},
    {"std", AK::Float, dFloat(1), Range::NonNegative}};
const ParamSpec kUniformInit[] = {{"low", AK::Float, dFloat(-1)},
                                  {"high", AK::Float, dFloat(1)}};
const ParamSpec kGlorotInit[] = {
    {"gain", AK::Float, dFloat(1), Range::Positive}};
const ParamSpec kKaimingInit[] = {
    {"a", AK::Float, dFloat(0), Range::NonNegative},
    {"mode", AK::String, dStr("fan_in"), Range::Any, "fan_in|fan_out"},
    {"nonlinearity", AK::String, dStr("leaky_relu"), Range::Any,
     "leaky_relu|relu|linear|sigmoid|tanh|selu"}};

const ParamSpec kIdx[] = {{"dir", AK::String, none()},
                          {"images", AK::String, none()},
                          {"labels", AK::String, none()},
                          {"test_images", AK::String, none()},
                          {"test_labels", AK::String, none()}};
const ParamSpec kCifar10[] = {{"dir", AK::String, req()}};
const ParamSpec kCsv[] = {{"file", AK::String, req()},
                          {"label", AK::Int, dInt(-1)},
                          {"header", AK::Bool, dBool(true)},
                          {"test", AK::String, none()}};
const ParamSpec kScale[] = {{"factor", AK::Float, req(), Range::Positive}};
const ParamSpec kStandard[] = {{"mean", AK::Float, req()},
                               {"std", AK::Float, req(), Range::Positive}};

const ParamSpec kSgd[] = {
    {"lr", AK::Float, req(), Range::Positive},
    {"momentum", AK::Float, dFloat(0), Range::NonNegative},
    {"dampening", AK::Float, dFloat(0), Range::UnitClosed},
    {"nesterov", AK::Bool, dBool(false)},
    {"weight_decay", AK::Float, dFloat(0), Range::NonNegative}};
const ParamSpec kAdam[] = {
    {"lr", AK::Float, dFloat(1e-3), Range::Positive},
    {"betas", AK::FloatPair, dPair(0.9, 0.999), Range::UnitOpen},
    {"eps", AK::Float, dFloat(1e-8), Range::Positive},
    {"weight_decay", AK::Float, dFloat(0), Range::NonNegative}};
const ParamSpec kAdamW[] = {
    {"lr", AK::Float, dFloat(1e-3), Range::Positive},
    {"betas", AK::FloatPair, dPair(0.9, 0.999), Range::UnitOpen},
    {"eps", AK::Float, dFloat(1e-8), Range::Positive},
    {"weight_decay", AK::Float, dFloat(1e-2), Range::NonNegative}};

const ParamSpec kStep[] = {{"every", AK::Int, req(), Range::Positive},
                           {"gamma", AK::Float, dFloat(0.1), Range::Positive}};
const ParamSpec kCosine[] = {
    {"t_max", AK::Int, req(), Range::Positive},
    {"min_lr", AK::Float, dFloat(0), Range::NonNegative}};
const ParamSpec kWarmup[] = {{"steps", AK::Int, req(), Range::Positive},
                             {"then", AK::Schedule, none()}};
const ParamSpec kEarlyStopping[] = {
    {"metric", AK::String, dStr("val_loss"), Range::Any,
     "val_loss|val_accuracy"},
    {"patience", AK::Int, dInt(3), Range::Positive},
    {"min_delta", AK::Float, dFloat(0), Range::NonNegative}};

const BuiltinSpec kBuiltins[] = {
    // Layers with parameters.
    {"dense", BC::Layer, kDense},
    {"conv2d", BC::Layer, kConv2d},
    {"batchnorm", BC::Layer, kBatchNorm},
    {"layernorm", BC::Layer, kLayerNorm},
    {"embedding", BC::Layer, kEmbedding},
    // Parameter-free layers.
    {"maxpool2d", BC::TensorOp, kPool},
    {"avgpool2d", BC::TensorOp, kPool},
    {"flatten", BC::TensorOp, kUnary},
    {"dropout", BC::TensorOp, kDropout},
    // Activations.
    {"relu", BC::TensorOp, kUnary},
    {"leaky_relu", BC::TensorOp, kLeakyRelu},
    {"sigmoid", BC::TensorOp, kUnary},
    {"tanh", BC::TensorOp, kUnary},
    {"gelu", BC::TensorOp, kGelu},
    {"softmax", BC::TensorOp, kAxisOp},
    {"log_softmax", BC::TensorOp, kAxisOp},
    // Losses.
    {"cross_entropy", BC::Loss, kLossArgs},
    {"nll", BC::Loss, kLossArgs},
    {"binary_cross_entropy", BC::Loss, kLossArgs},
    {"mse", BC::Loss, kLossArgs},
    // Tensor ops.
    {"argmax", BC::TensorOp, kAxisOp},
    {"matmul", BC::TensorOp, kBinary},
    {"exp", BC::TensorOp, kUnary},
    {"log", BC::TensorOp, kUnary},
    {"sqrt", BC::TensorOp, kUnary},
    {"abs", BC::TensorOp, kUnary},
    {"pow", BC::TensorOp, kBinaryNum},
    {"maximum", BC::TensorOp, kBinaryNum},
    {"minimum", BC::TensorOp, kBinaryNum},
    {"reshape", BC::TensorOp, kReshape},
    {"transpose", BC::TensorOp, kTranspose},
    {"concat", BC::TensorOp, kConcat},
    {"slice", BC::TensorOp, kSlice},
    {"sum", BC::TensorOp, kReduce},
    {"mean", BC::TensorOp, kReduce},
    {"max", BC::TensorOp, kReduce},
    // Initializers.
    {"zeros", BC::Initializer, {}},
    {"ones", BC::Initializer, {}},
    {"constant", BC::Initializer, kConstantInit},
    {"normal", BC::Initializer, kNormalInit},
    {"uniform", BC::Initializer, kUniformInit},
    {"glorot_uniform", BC::Initializer, kGlorotInit},
    {"glorot_normal", BC::Initializer, kGlorotInit},
    {"kaiming_uniform", BC::Initializer, kKaimingInit},
    {"kaiming_normal", BC::Initializer, kKaimingInit},
    // Train block.
    {"idx", BC::Data, kIdx},
    {"cifar10", BC::Data, kCifar10},
    {"csv", BC::Data, kCsv},
    {"scale", BC::Normalize, kScale},
    {"standard", BC::Normalize, kStandard},
    {"sgd", BC::Optimizer, kSgd},
    {"adam", BC::Optimizer, kAdam},
    {"adamw", BC::Optimizer, kAdamW},
    {"constant", BC::Schedule, {}},
    {"step", BC::Schedule, kStep},
    {"cosine", BC::Schedule, kCosine},
    {"warmup", BC::Schedule, kWarmup},
    {"early_stopping", BC::EarlyStopping, kEarlyStopping},
};

const ParamSpec kTrainSettings[] = {
    {"data", AK::Data, req()},
    {"normalize", AK::Normalize, none()},
    {"batch", AK::Int, dInt(32), Range::Positive},
    {"epochs", AK::Int, dInt(1), Range::Positive},
    {"optimizer", AK::Optimizer, req()},
    {"schedule", AK::Schedule, none()},
    {"clip_grad_norm", AK::Float, none(), Range::Positive},
    {"val_split", AK::Float, dFloat(0), Range::UnitOpen},
    {"early_stopping", AK::EarlyStopping, none()},
    {"seed", AK::Int, dInt(0), Range::NonNegative},
};

struct Alias {
  const char *alias;
  const char *canonical;
};
const Alias kAliases[] = {{"xavier_uniform", "glorot_uniform"},
                          {"xavier_normal", "glorot_normal"},
                          {"he_uniform", "kaiming_uniform"},
                          {"he_normal", "kaiming_normal"}};
} // namespace

const ParamSpec *BuiltinSpec::getParam(llvm::StringRef name) const {
  for (const ParamSpec &p : params)
    if (name == p.name)
      return &p;
  return nullptr;
}

llvm::ArrayRef<BuiltinSpec> kiln::getBuiltins() { return kBuiltins; }

llvm::ArrayRef<ParamSpec> kiln::getTrainSettings() { return kTrainSettings; }

const ParamSpec *kiln::lookupTrainSetting(llvm::StringRef key) {
  for (const ParamSpec &p : kTrainSettings)
    if (key == p.name)
      return &p;
  return nullptr;
}

llvm::SmallVector<llvm::StringRef> kiln::getBuiltinNames() {
  llvm::SmallVector<llvm::StringRef> names;
  for (const BuiltinSpec &b : kBuiltins)
    names.push_back(b.name);
  for (const Alias &a : kAliases)
    names.push_back(a.alias);
  return names;
}

const BuiltinSpec *kiln::lookupBuiltin(llvm::StringRef name,
                                       BuiltinCategory preferred) {
  for (const Alias &a : kAliases)
    if (name == a.alias)
      name = a.canonical;
  const BuiltinSpec *found = nullptr;
  for (const BuiltinSpec &b : kBuiltins) {
    if (name != b.name)
      continue;
    if (b.category == preferred)
      return &b;
    if (!found)
      found = &b;
  }
  return found;
}

//===----------------------------------------------------------------------===//
// CallArgs
//===----------------------------------------------------------------------===//

static std::string paramList(const BuiltinSpec &spec) {
  std::string s;
  for (const ParamSpec &p : spec.params) {
    if (!s.empty())
      s += ", ";
    s += p.name;
  }
  if (spec.acceptsName())
    s += s.empty() ? "name" : ", name";
  return s.empty() ? "none" : s;
}

std::optional<CallArgs> CallArgs::bind(const CallExpr &call,
                                       BuiltinCategory preferred,
                                       llvm::SourceMgr *diag) {
  CallArgs result;
  result.call = &call;
  result.spec = lookupBuiltin(call.getCallee(), preferred);
  if (!result.spec) {
    if (diag)
      emitError(*diag, call.getLoc(),
                "unknown function '" + call.getCallee() + "'");
    return std::nullopt;
  }
  const BuiltinSpec &spec = *result.spec;
  size_t numParams = spec.params.size();
  result.values.assign(numParams, nullptr);
  bool ok = true;
  auto fail = [&](llvm::SMLoc loc, const llvm::Twine &msg) {
    if (diag)
      emitError(*diag, loc, msg);
    ok = false;
  };

  const Arg *firstKeyword = nullptr;
  unsigned position = 0;
  for (const Arg &arg : call.getArgs()) {
    if (!ok)
      break;
    if (!arg.isKeyword()) {
      if (firstKeyword) {
        fail(arg.value->getLoc(),
             "positional argument follows keyword argument '" +
                 firstKeyword->name + "' in call to '" + spec.name + "'");
      } else if (position >= numParams) {
        fail(arg.value->getLoc(),
             "too many arguments to '" + llvm::Twine(spec.name) +
                 "': it takes at most " + llvm::Twine(numParams) +
                 " positional argument" + (numParams == 1 ? "" : "s") +
                 " (" + paramList(spec) + ")");
      } else {
        result.values[position++] = arg.value.get();
      }
      continue;
    }
    if (!firstKeyword)
      firstKeyword = &arg;
    if (arg.name == "name" && spec.acceptsName()) {
      if (result.nameArg) {
        fail(arg.nameLoc, "argument 'name' given twice in call to '" +
                              llvm::Twine(spec.name) + "'");
        if (diag)
          emitNote(*diag, result.nameArg->nameLoc, "first given here");
      }
      result.nameArg = &arg;
      continue;
    }
    const ParamSpec *param = spec.getParam(arg.name);
    if (!param) {
      llvm::SmallVector<llvm::StringRef> names;
      for (const ParamSpec &p : spec.params)
        names.push_back(p.name);
      if (spec.acceptsName())
        names.push_back("name");
      fail(arg.nameLoc, "'" + llvm::Twine(spec.name) +
                            "' has no parameter named '" + arg.name + "'" +
                            didYouMean(arg.name, names) +
                            " (valid: " + paramList(spec) + ")");
      continue;
    }
    unsigned index = param - spec.params.data();
    if (const Expr *previous = result.values[index]) {
      fail(arg.nameLoc, "argument '" + arg.name + "' given twice in call to '" +
                            spec.name + "'");
      if (diag)
        emitNote(*diag, previous->getLoc(), "first given here");
      continue;
    }
    result.values[index] = arg.value.get();
  }
  if (!ok)
    return std::nullopt;
  for (size_t i = 0; i < numParams; ++i) {
    if (!result.values[i] && spec.params[i].dflt.kind == DK::Required) {
      fail(call.getLoc(), "missing argument '" +
                              llvm::Twine(spec.params[i].name) +
                              "' in call to '" + spec.name + "'");
      return std::nullopt;
    }
  }
  return result;
}

unsigned CallArgs::indexOf(llvm::StringRef param) const {
  const ParamSpec *p = spec->getParam(param);
  assert(p && "no such parameter in the builtin table");
  return p - spec->params.data();
}

const Expr *CallArgs::get(llvm::StringRef param) const {
  return values[indexOf(param)];
}

const Expr *CallArgs::resolve(llvm::StringRef param) const {
  unsigned i = indexOf(param);
  if (values[i])
    return values[i];
  const Default &d = spec->params[i].dflt;
  if (d.kind == DK::SameAs)
    return resolve(d.s);
  return nullptr;
}

/// The default of `param`, following SameAs chains to the final row.
static const Default &defaultOf(const BuiltinSpec &spec, llvm::StringRef param) {
  const ParamSpec *p = spec.getParam(param);
  assert(p && "no such parameter in the builtin table");
  if (p->dflt.kind == DK::SameAs)
    return defaultOf(spec, p->dflt.s);
  return p->dflt;
}

int64_t CallArgs::getInt(llvm::StringRef param) const {
  if (const Expr *e = resolve(param)) {
    std::optional<Constant> c = evalConstant(*e);
    assert(c && c->isInt && "Sema should have checked an int argument");
    return c->i;
  }
  const Default &d = defaultOf(*spec, param);
  assert(d.kind == DK::Int && "parameter has no int default");
  return d.i;
}

double CallArgs::getFloat(llvm::StringRef param) const {
  if (const Expr *e = resolve(param)) {
    std::optional<Constant> c = evalConstant(*e);
    assert(c && "Sema should have checked a numeric argument");
    return c->asDouble();
  }
  const Default &d = defaultOf(*spec, param);
  assert((d.kind == DK::Float || d.kind == DK::Int) &&
         "parameter has no numeric default");
  return d.kind == DK::Int ? static_cast<double>(d.i) : d.f;
}

bool CallArgs::getBool(llvm::StringRef param) const {
  if (const Expr *e = resolve(param))
    return llvm::cast<BoolExpr>(e)->getValue();
  const Default &d = defaultOf(*spec, param);
  assert(d.kind == DK::Bool && "parameter has no bool default");
  return d.b;
}

llvm::StringRef CallArgs::getString(llvm::StringRef param) const {
  if (const Expr *e = resolve(param))
    return llvm::cast<StringExpr>(e)->getValue();
  const Default &d = defaultOf(*spec, param);
  if (d.kind == DK::None)
    return "";
  assert(d.kind == DK::String && "parameter has no string default");
  return d.s;
}

llvm::SmallVector<int64_t, 4> CallArgs::getInts(llvm::StringRef param) const {
  llvm::SmallVector<int64_t, 4> out;
  ArgKind kind = spec->params[indexOf(param)].kind;
  const Expr *e = resolve(param);
  if (!e) {
    const Default &d = defaultOf(*spec, param);
    if (d.kind == DK::Int)
      out.assign(kind == ArgKind::IntOrPair ? 2 : 1, d.i);
    return out;
  }
  if (const auto *list = llvm::dyn_cast<ListExpr>(e)) {
    for (const ExprPtr &element : list->getElements())
      out.push_back(evalConstant(*element)->i);
    return out;
  }
  int64_t v = evalConstant(*e)->i;
  out.assign(kind == ArgKind::IntOrPair ? 2 : 1, v);
  return out;
}

llvm::SmallVector<double, 2> CallArgs::getFloats(llvm::StringRef param) const {
  if (const auto *list = llvm::dyn_cast_or_null<ListExpr>(resolve(param))) {
    llvm::SmallVector<double, 2> out;
    for (const ExprPtr &element : list->getElements())
      out.push_back(evalConstant(*element)->asDouble());
    return out;
  }
  const Default &d = defaultOf(*spec, param);
  assert(d.kind == DK::FloatPair && "parameter has no pair default");
  return {d.f, d.f2};
}

//===----------------------------------------------------------------------===//
// Initializers
//===----------------------------------------------------------------------===//

Initializer kiln::getInitializer(const CallExpr &call) {
  std::optional<CallArgs> args = CallArgs::bind(call, BC::Initializer);
  assert(args && args->getSpec().category == BC::Initializer &&
         "Sema should have checked the initializer");
  llvm::StringRef name = args->getSpec().name;
  Initializer init;
  if (name == "zeros") {
    init.kind = InitKind::Zeros;
  } else if (name == "ones") {
    init.kind = InitKind::Ones;
  } else if (name == "constant") {
    init.kind = InitKind::Constant;
    init.a = args->getFloat("value");
  } else if (name == "normal") {
    init.kind = InitKind::Normal;
    init.a = args->getFloat("mean");
    init.b = args->getFloat("std");
  } else if (name == "uniform") {
    init.kind = InitKind::Uniform;
    init.a = args->getFloat("low");
    init.b = args->getFloat("high");
  } else if (name == "glorot_uniform" || name == "glorot_normal") {
    init.kind = name == "glorot_uniform" ? InitKind::XavierUniform
                                         : InitKind::XavierNormal;
    init.a = args->getFloat("gain");
  } else if (name == "kaiming_uniform" || name == "kaiming_normal") {
    init.kind = name == "kaiming_uniform" ? InitKind::KaimingUniform
                                          : InitKind::KaimingNormal;
    init.a = args->getFloat("a");
    init.fanOut = args->getString("mode") == "fan_out";
    init.nonlinearity = args->getString("nonlinearity").str();
  } else {
    llvm_unreachable("initializer row without a case");
  }
  return init;
}

Initializer kiln::getLayerInitializer(const CallExpr &layerCall,
                                      llvm::StringRef which) {
  std::optional<CallArgs> args = CallArgs::bind(layerCall, BC::Layer);
  assert(args && args->getSpec().category == BC::Layer &&
         "not a checked layer call");
  llvm::StringRef layer = args->getSpec().name;
  llvm::StringRef key = which == "bias" ? "bias_init" : "init";
  if (args->getSpec().getParam(key))
    if (const auto *call = llvm::dyn_cast_or_null<CallExpr>(args->get(key)))
      return getInitializer(*call);
  // PyTorch's reset_parameters() defaults.
  Initializer init;
  if (layer == "dense" || layer == "conv2d") {
    if (which == "bias") {
      init.kind = InitKind::BiasFanInUniform;
    } else {
      // kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      init.kind = InitKind::KaimingUniform;
      init.a = std::sqrt(5.0);
    }
  } else if (layer == "embedding") {
    init.kind = InitKind::Normal;
    init.a = 0;
    init.b = 1;
  } else {
    // batchnorm, layernorm: the affine transform starts as the identity.
    init.kind = which == "bias" ? InitKind::Zeros : InitKind::Ones;
  }
  return init;
}

double kiln::calculateGain(llvm::StringRef nonlinearity, double param) {
  if (nonlinearity == "tanh")
    return 5.0 / 3.0;
  if (nonlinearity == "relu")
    return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu")
    return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu")
    return 3.0 / 4.0;
  // linear, sigmoid and the conv variants.
  return 1.0;
}
