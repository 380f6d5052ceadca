//===- Builtins.h - The table of kiln's builtin functions --------*- C++ -*-===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Every builtin (layers, activations, losses, tensor ops, initializers and
// the train-block constructors) is one row of a table: its name, category
// and parameters, each with the kind of value it takes, the range it must
// lie in and its default. Sema checks calls against the rows; MLIRGen reads
// arguments through CallArgs, which returns the value written or the row's
// default, so defaults live only here (and in docs/language.md, which must
// agree).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_BUILTINS_H
#define KILN_FRONTEND_BUILTINS_H

#include "frontend/AST.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace kiln {

/// Where a builtin may be called and what it yields.
enum class BuiltinCategory {
  /// A layer that owns parameters (dense, conv2d, ...): gets an instance name.
  Layer,
  /// Tensor -> tensor without parameters (relu, maxpool2d, sum, ...).
  TensorOp,
  /// A loss: tensor -> scalar tensor, mean reduction.
  Loss,
  /// A parameter initializer: only in `param ... = INIT` and `init=`.
  Initializer,
  // The rest only appear in the train block, each under its own key.
  Data,
  Normalize,
  Optimizer,
  Schedule,
  EarlyStopping,
};

/// The kind of value a parameter takes.
enum class ArgKind {
  Tensor,         ///< a tensor expression
  TensorOrNumber, ///< a tensor or a constant number (pow, maximum, ...)
  TensorList,     ///< [t1, t2, ...] (concat)
  Int,            ///< a constant integer expression
  Float,          ///< a constant numeric expression (ints are accepted)
  Bool,           ///< true / false
  String,         ///< a string; `choices` lists the accepted values if any
  IntOrPair,      ///< n or [h, w] (kernel, stride, padding, dilation)
  Axes,           ///< an axis or a list of axes
  IntList,        ///< [i, j, ...] (transpose's perm)
  Shape,          ///< [d, ...] of ints, -1 or the batch symbol (reshape)
  FloatPair,      ///< [a, b] (adam's betas)
  // A call of a builtin of the category of the same name.
  Initializer,
  Schedule,
  Data,
  Normalize,
  Optimizer,
  EarlyStopping,
};

/// Constraint on a numeric parameter (applied to every element of a list).
enum class Range {
  Any,
  Positive,    ///< > 0
  NonNegative, ///< >= 0
  UnitOpen,    ///< in [0, 1)
  UnitClosed,  ///< in [0, 1]
};

/// The default of an optional parameter.
struct Default {
  enum class Kind {
    Required, ///< must be given
    None,     ///< optional, no value (the builtin documents what happens)
    Int,
    Float,
    Bool,
    String,
    SameAs,   ///< defaults to another parameter's value (`s` names it)
    FloatPair,
  };
  Kind kind = Kind::Required;
  int64_t i = 0;
  double f = 0, f2 = 0;
  bool b = false;
  const char *s = nullptr;
};

struct ParamSpec {
  const char *name;
  ArgKind kind;
  Default dflt;
  Range range = Range::Any;
  /// For String parameters: accepted values separated by '|', or null.
  const char *choices = nullptr;
};

struct BuiltinSpec {
  const char *name;
  BuiltinCategory category;
  llvm::ArrayRef<ParamSpec> params;
  /// Layers accept the keyword `name` (a string, their instance name) on
  /// top of `params`.
  bool acceptsName() const { return category == BuiltinCategory::Layer; }
  const ParamSpec *getParam(llvm::StringRef name) const;
};

/// The row for `name` (aliases such as xavier_uniform resolve to their
/// row), or null. Two rows share a name (`constant` the initializer and
/// `constant` the schedule); the one of category `preferred` wins, so pass
/// the category the call's context expects.
const BuiltinSpec *lookupBuiltin(llvm::StringRef name,
                                 BuiltinCategory preferred);

/// All rows, in table order (for "did you mean" and docs checks).
llvm::ArrayRef<BuiltinSpec> getBuiltins();

/// All spellings including aliases.
llvm::SmallVector<llvm::StringRef> getBuiltinNames();

/// The settings a `train { ... }` block accepts, described like builtin
/// parameters (the block is a call with keyword arguments only). Sema
/// checks entries against them; defaults are the trainer's defaults.
llvm::ArrayRef<ParamSpec> getTrainSettings();
const ParamSpec *lookupTrainSetting(llvm::StringRef key);

/// A call's arguments matched to its builtin's parameters. Getters return
/// the argument written or the table default and assert (internal error)
/// when asked for something Sema would have rejected, so MLIRGen uses them
/// only on checked trees.
class CallArgs {
public:
  /// Matches `call` against its builtin. Returns nullopt if the callee is
  /// unknown or the arguments do not bind; diagnostics are printed only when
  /// `diag` is non-null (Sema passes it; MLIRGen need not).
  /// `preferred` is passed to lookupBuiltin; the default suits calls in
  /// model expressions (only initializers and schedules share a name).
  static std::optional<CallArgs>
  bind(const ast::CallExpr &call,
       BuiltinCategory preferred = BuiltinCategory::TensorOp,
       llvm::SourceMgr *diag = nullptr);

  const BuiltinSpec &getSpec() const { return *spec; }
  const ast::CallExpr &getCall() const { return *call; }

  /// The expression given for `param`, or null when the default applies.
  const ast::Expr *get(llvm::StringRef param) const;
  bool has(llvm::StringRef param) const { return get(param) != nullptr; }
  /// The `name=` keyword of a layer call, or null.
  const ast::Arg *getNameArg() const { return nameArg; }

  int64_t getInt(llvm::StringRef param) const;
  double getFloat(llvm::StringRef param) const;
  bool getBool(llvm::StringRef param) const;
  llvm::StringRef getString(llvm::StringRef param) const;
  /// IntOrPair parameters as {h, w}; Axes and IntList as written.
  llvm::SmallVector<int64_t, 4> getInts(llvm::StringRef param) const;
  /// FloatPair parameters.
  llvm::SmallVector<double, 2> getFloats(llvm::StringRef param) const;

private:
  const BuiltinSpec *spec = nullptr;
  const ast::CallExpr *call = nullptr;
  /// Indexed like spec->params.
  llvm::SmallVector<const ast::Expr *, 8> values;
  const ast::Arg *nameArg = nullptr;

  unsigned indexOf(llvm::StringRef param) const;
  /// The argument or, for SameAs defaults, the referenced argument.
  const ast::Expr *resolve(llvm::StringRef param) const;
};

//===----------------------------------------------------------------------===//
// Initializers
//===----------------------------------------------------------------------===//

/// torch.nn.init schemes, plus the one PyTorch uses for Linear/Conv biases.
enum class InitKind {
  Zeros,
  Ones,
  Constant,       ///< a = value
  Normal,         ///< a = mean, b = std
  Uniform,        ///< a = low, b = high
  XavierUniform,  ///< a = gain
  XavierNormal,   ///< a = gain
  KaimingUniform, ///< a = negative slope, fanOut, nonlinearity
  KaimingNormal,  ///< as KaimingUniform
  /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in of the layer's weight:
  /// PyTorch's default bias of Linear and Conv2d.
  BiasFanInUniform,
};

/// A resolved initializer. Fans come from the weight's shape at MLIRGen
/// time: for [out, in, kh, kw], fan_in = in*kh*kw, fan_out = out*kh*kw.
struct Initializer {
  InitKind kind = InitKind::Zeros;
  double a = 0, b = 0;
  bool fanOut = false;
  std::string nonlinearity = "leaky_relu";
};

/// The initializer an Initializer call describes (a checked call).
Initializer getInitializer(const ast::CallExpr &call);

/// The initializer of parameter `which` ("weight", "bias") of a checked
/// layer call: its init=/bias_init= argument, else PyTorch's default for
/// that layer (see docs/language.md, "Initializers").
Initializer getLayerInitializer(const ast::CallExpr &layerCall,
                                llvm::StringRef which);

/// torch.nn.init.calculate_gain(nonlinearity, param).
double calculateGain(llvm::StringRef nonlinearity, double param);

} // namespace kiln

#endif // KILN_FRONTEND_BUILTINS_H
