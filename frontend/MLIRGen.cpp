//===- MLIRGen.cpp - kiln AST to the nn dialect -----------------*- C++ -*-===//
//
// Part of kiln. Walks a checked model in source order and emits nn ops into
// `func.func @forward`. Inputs and targets become the first arguments;
// parameters (and batch-norm buffers, and the dropout seed) are appended as
// arguments when the layer or `param` that owns them is reached, so argument
// order is PyTorch's registration order. Layers decompose into primitive ops
// (dense = matmul + add, conv2d = conv2d + add of a [C, 1, 1] bias). Every op
// is built through its shape rule at the DSL location, so a shape error is a
// located diagnostic naming both shapes.
//
//===----------------------------------------------------------------------===//

#include "frontend/MLIRGen.h"
#include "frontend/Builtins.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "ir/NNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace kiln;
using llvm::SMLoc;
using llvm::StringRef;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

/// Product of `dims`, all static.
int64_t product(ArrayRef<int64_t> dims) {
  return std::accumulate(dims.begin(), dims.end(), int64_t{1},
                         std::multiplies<int64_t>());
}

class MLIRGen {
public:
  MLIRGen(MLIRContext &context, const ast::File &file,
          llvm::SourceMgr &sourceMgr)
      : context(context), builder(&context), file(file), sourceMgr(sourceMgr) {
    bufferName = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())
                     ->getBufferIdentifier()
                     .str();
  }

  OwningOpRef<ModuleOp> run();

private:
  MLIRContext &context;
  OpBuilder builder;
  const ast::File &file;
  llvm::SourceMgr &sourceMgr;
  std::string bufferName;

  func::FuncOp func;
  Block *body = nullptr;
  /// Attributes of each block argument, in argument order.
  SmallVector<NamedAttrList> argAttrs;
  /// Values bound to names: inputs, targets, params, bindings.
  llvm::StringMap<Value> values;
  /// Layer and param names listed in `freeze` statements.
  llvm::StringSet<> frozen;
  /// Results of @forward after the loss and prediction: buffer updates.
  SmallVector<std::pair<Value, std::string>> bufferUpdates;
  Value seed;
  int64_t nextDropoutStream = 0;

  Location loc(SMLoc l) {
    auto [line, col] = sourceMgr.getLineAndColumn(l);
    return FileLineColLoc::get(&context, bufferName, line, col);
  }
  InFlightDiagnostic error(SMLoc l) { return emitError(loc(l)); }

  Type f32() { return builder.getF32Type(); }
  RankedTensorType scalarType() { return RankedTensorType::get({}, f32()); }

  BlockArgument addArgument(Type type, SMLoc l, NamedAttrList attrs) {
    argAttrs.push_back(std::move(attrs));
    return body->addArgument(type, loc(l));
  }

  LogicalResult genStatement(const ast::Stmt &stmt);
  LogicalResult genInput(const ast::InputStmt &stmt);
  LogicalResult genParam(const ast::ParamStmt &stmt);
  FailureOr<Value> genExpr(const ast::Expr &expr);
  FailureOr<Value> genCall(const ast::CallExpr &call);
  FailureOr<Value> genLayer(const CallArgs &args);
  FailureOr<Value> genTensorOp(const CallArgs &args);
  FailureOr<Value> genLoss(const CallArgs &args);
  FailureOr<Value> genBinary(const ast::BinaryExpr &expr);

  FailureOr<Value> genTensorArg(const CallArgs &args, StringRef param);
  LogicalResult requireElementType(Value value, Type type, SMLoc l,
                                   StringRef what);
  FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank, SMLoc l);

  /// Adds a parameter argument `<layer>.<which>` of `shape` with `init`.
  FailureOr<Value> addParam(StringRef layer, StringRef which,
                            ArrayRef<int64_t> shape, const Initializer &init,
                            int64_t biasFanIn, SMLoc l);
  /// Adds a batch-norm buffer argument `<layer>.<which>` filled with `fill`.
  Value addBuffer(StringRef layer, StringRef which, int64_t size,
                  StringRef fill, SMLoc l);
  FailureOr<DictionaryAttr> resolveInit(const Initializer &init,
                                        ArrayRef<int64_t> shape,
                                        int64_t biasFanIn, SMLoc l);

  FailureOr<Value> genDense(const CallArgs &args);
  FailureOr<Value> genConv2d(const CallArgs &args);
  FailureOr<Value> genBatchNorm(const CallArgs &args);
  FailureOr<Value> genLayerNorm(const CallArgs &args);
  FailureOr<Value> genEmbedding(const CallArgs &args);
  FailureOr<Value> genReshape(const CallArgs &args, Value input);

  FailureOr<Attribute> trainValue(const ast::Expr &expr);
  FailureOr<Attribute> trainCall(const ast::CallExpr &call);
  FailureOr<DictionaryAttr> genTrain(const ast::Train &train);
};

//===----------------------------------------------------------------------===//
// Module and statements
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> MLIRGen::run() {
  const ast::Model &model = file.model;
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(loc(model.loc), StringRef(model.name));
  builder.setInsertionPointToEnd(module->getBody());
  func = builder.create<func::FuncOp>(loc(model.loc), "forward",
                                      builder.getFunctionType({}, {}));
  body = func.addEntryBlock();
  builder.setInsertionPointToStart(body);

  for (const ast::StmtPtr &stmt : model.body)
    if (auto *freeze = dyn_cast<ast::FreezeStmt>(stmt.get()))
      for (const ast::Name &name : freeze->getNames())
        frozen.insert(name.name);

  Value loss, predict;
  SMLoc lossLoc = model.loc;
  for (const ast::StmtPtr &stmt : model.body) {
    if (auto *out = dyn_cast<ast::OutputStmt>(stmt.get())) {
      FailureOr<Value> value = genExpr(out->getValue());
      if (failed(value))
        return nullptr;
      (out->getKind() == ast::Stmt::Kind::Loss ? loss : predict) = *value;
      if (out->getKind() == ast::Stmt::Kind::Loss)
        lossLoc = out->getLoc();
      continue;
    }
    if (failed(genStatement(*stmt)))
      return nullptr;
  }

  auto lossType = dyn_cast<RankedTensorType>(loss.getType());
  if (!lossType || lossType.getRank() != 0 || !lossType.getElementType().isF32()) {
    error(lossLoc) << "the loss must be a scalar f32 tensor, got "
                   << loss.getType()
                   << " (reduce it with mean(...) or use a loss builtin)";
    return nullptr;
  }

  SmallVector<Value> results = {loss};
  SmallVector<NamedAttrList> resultAttrs(1);
  resultAttrs[0].set(nn::NNDialect::kOutputAttr, builder.getStringAttr("loss"));
  if (predict) {
    results.push_back(predict);
    resultAttrs.emplace_back().set(nn::NNDialect::kOutputAttr,
                                   builder.getStringAttr("predict"));
  }
  for (auto &[value, name] : bufferUpdates) {
    results.push_back(value);
    resultAttrs.emplace_back().set(nn::NNDialect::kBufferAttr,
                                   builder.getStringAttr(name));
  }
  builder.create<func::ReturnOp>(loc(lossLoc), results);
  func.setType(builder.getFunctionType(body->getArgumentTypes(),
                                       ValueRange(results).getTypes()));
  for (auto [i, attrs] : llvm::enumerate(argAttrs))
    func.setArgAttrs(i, attrs.getDictionary(&context));
  for (auto [i, attrs] : llvm::enumerate(resultAttrs))
    func.setResultAttrs(i, attrs.getDictionary(&context));

  if (file.train) {
    FailureOr<DictionaryAttr> train = genTrain(*file.train);
    if (failed(train))
      return nullptr;
    (*module)->setAttr(nn::NNDialect::kTrainAttr, *train);
  }
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

LogicalResult MLIRGen::genStatement(const ast::Stmt &stmt) {
  switch (stmt.getKind()) {
  case ast::Stmt::Kind::Input:
    return genInput(cast<ast::InputStmt>(stmt));
  case ast::Stmt::Kind::Param:
    return genParam(cast<ast::ParamStmt>(stmt));
  case ast::Stmt::Kind::Let: {
    const auto &let = cast<ast::LetStmt>(stmt);
    FailureOr<Value> value = genExpr(let.getValue());
    if (failed(value))
      return failure();
    values[let.getName()] = *value;
    return success();
  }
  case ast::Stmt::Kind::Freeze:
    return success(); // collected up front
  case ast::Stmt::Kind::Loss:
  case ast::Stmt::Kind::Predict:
    break;
  }
  llvm_unreachable("outputs are handled by run()");
}

LogicalResult MLIRGen::genInput(const ast::InputStmt &stmt) {
  const ast::TensorType &type = stmt.getType();
  SmallVector<int64_t> shape;
  for (const ast::Dim &dim : type.dims)
    shape.push_back(dim.isSymbolic() ? kDyn : dim.size);
  Type element = type.elementType == ast::ElementType::F32
                     ? Type(f32())
                     : Type(builder.getI64Type());
  NamedAttrList attrs;
  attrs.set(stmt.isTarget() ? nn::NNDialect::kTargetAttr
                            : nn::NNDialect::kInputAttr,
            builder.getStringAttr(stmt.getName()));
  values[stmt.getName()] = addArgument(RankedTensorType::get(shape, element),
                                       stmt.getNameLoc(), std::move(attrs));
  return success();
}

LogicalResult MLIRGen::genParam(const ast::ParamStmt &stmt) {
  const ast::TensorType &type = stmt.getType();
  SmallVector<int64_t> shape;
  for (const ast::Dim &dim : type.dims) {
    if (dim.isSymbolic())
      return error(dim.loc) << "parameter '" << stmt.getName()
                            << "' must have a static shape; '" << dim.symbol
                            << "' is the batch dimension";
    shape.push_back(dim.size);
  }
  if (type.elementType != ast::ElementType::F32)
    return error(type.loc) << "parameter '" << stmt.getName()
                           << "' must be f32";
  FailureOr<DictionaryAttr> init = resolveInit(
      getInitializer(cast<ast::CallExpr>(stmt.getInit())), shape, 0,
      stmt.getInit().getLoc());
  if (failed(init))
    return failure();
  NamedAttrList attrs;
  attrs.set(nn::NNDialect::kParamAttr, builder.getStringAttr(stmt.getName()));
  attrs.set(nn::NNDialect::kInitAttr, *init);
  if (stmt.isFrozen() || frozen.contains(stmt.getName()))
    attrs.set(nn::NNDialect::kFrozenAttr, builder.getUnitAttr());
  values[stmt.getName()] = addArgument(RankedTensorType::get(shape, f32()),
                                       stmt.getNameLoc(), std::move(attrs));
  return success();
}

//===----------------------------------------------------------------------===//
// Parameters and initializers
//===----------------------------------------------------------------------===//

FailureOr<DictionaryAttr> MLIRGen::resolveInit(const Initializer &init,
                                               ArrayRef<int64_t> shape,
                                               int64_t biasFanIn, SMLoc l) {
  auto dict = [&](StringRef kind,
                  ArrayRef<std::pair<StringRef, double>> fields = {}) {
    NamedAttrList attrs;
    attrs.set("kind", builder.getStringAttr(kind));
    for (auto [name, value] : fields)
      attrs.set(name, builder.getF64FloatAttr(value));
    return attrs.getDictionary(&context);
  };
  // torch.nn.init._calculate_fan_in_and_fan_out: dims 1 and 0 times the
  // receptive field (the product of the remaining dims).
  bool needsFans = init.kind == InitKind::XavierUniform ||
                   init.kind == InitKind::XavierNormal ||
                   init.kind == InitKind::KaimingUniform ||
                   init.kind == InitKind::KaimingNormal;
  double fanIn = 0, fanOut = 0;
  if (needsFans) {
    if (shape.size() < 2)
      return error(l) << "this initializer computes fans from dimensions 0 "
                         "and 1, so it needs a parameter of rank >= 2 (as in "
                         "PyTorch); use uniform/normal for rank "
                      << shape.size();
    double receptive = product(shape.drop_front(2));
    fanIn = shape[1] * receptive;
    fanOut = shape[0] * receptive;
  }
  switch (init.kind) {
  case InitKind::Zeros:
    return dict("zeros");
  case InitKind::Ones:
    return dict("ones");
  case InitKind::Constant:
    return dict("constant", {{"value", init.a}});
  case InitKind::Normal:
    return dict("normal", {{"mean", init.a}, {"std", init.b}});
  case InitKind::Uniform:
    return dict("uniform", {{"low", init.a}, {"high", init.b}});
  case InitKind::XavierUniform: {
    double bound = init.a * std::sqrt(6.0 / (fanIn + fanOut));
    return dict("uniform", {{"low", -bound}, {"high", bound}});
  }
  case InitKind::XavierNormal:
    return dict("normal",
                {{"mean", 0.0}, {"std", init.a * std::sqrt(2.0 / (fanIn + fanOut))}});
  case InitKind::KaimingUniform:
  case InitKind::KaimingNormal: {
    double fan = init.fanOut ? fanOut : fanIn;
    double gain = calculateGain(init.nonlinearity, init.a);
    if (init.kind == InitKind::KaimingUniform) {
      double bound = gain * std::sqrt(3.0 / fan);
      return dict("uniform", {{"low", -bound}, {"high", bound}});
    }
    return dict("normal", {{"mean", 0.0}, {"std", gain / std::sqrt(fan)}});
  }
  case InitKind::BiasFanInUniform: {
    double bound = biasFanIn > 0 ? 1.0 / std::sqrt(double(biasFanIn)) : 0.0;
    return dict("uniform", {{"low", -bound}, {"high", bound}});
  }
  }
  llvm_unreachable("unknown initializer kind");
}

FailureOr<Value> MLIRGen::addParam(StringRef layer, StringRef which,
                                   ArrayRef<int64_t> shape,
                                   const Initializer &init, int64_t biasFanIn,
                                   SMLoc l) {
  FailureOr<DictionaryAttr> dict = resolveInit(init, shape, biasFanIn, l);
  if (failed(dict))
    return failure();
  NamedAttrList attrs;
  attrs.set(nn::NNDialect::kParamAttr,
            builder.getStringAttr(layer + "." + which));
  attrs.set(nn::NNDialect::kInitAttr, *dict);
  if (frozen.contains(layer))
    attrs.set(nn::NNDialect::kFrozenAttr, builder.getUnitAttr());
  return Value(
      addArgument(RankedTensorType::get(shape, f32()), l, std::move(attrs)));
}

Value MLIRGen::addBuffer(StringRef layer, StringRef which, int64_t size,
                         StringRef fill, SMLoc l) {
  NamedAttrList attrs;
  attrs.set(nn::NNDialect::kBufferAttr,
            builder.getStringAttr(layer + "." + which));
  NamedAttrList init;
  init.set("kind", builder.getStringAttr(fill));
  attrs.set(nn::NNDialect::kInitAttr, init.getDictionary(&context));
  return addArgument(RankedTensorType::get({size}, f32()), l, std::move(attrs));
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

LogicalResult MLIRGen::requireElementType(Value value, Type type, SMLoc l,
                                          StringRef what) {
  if (getElementTypeOrSelf(value.getType()) == type)
    return success();
  return error(l) << what << " expects a tensor of " << type << ", got "
                  << value.getType();
}

FailureOr<int64_t> MLIRGen::normalizeAxis(int64_t axis, int64_t rank, SMLoc l) {
  if (axis < -rank || axis >= rank)
    return error(l) << "axis " << axis << " is out of range for a tensor of rank "
                    << rank;
  return axis < 0 ? axis + rank : axis;
}

FailureOr<Value> MLIRGen::genExpr(const ast::Expr &expr) {
  if (std::optional<ast::Constant> constant = ast::evalConstant(expr)) {
    auto type = scalarType();
    auto attr = DenseElementsAttr::get(
        type, static_cast<float>(constant->asDouble()));
    return builder.create<nn::ConstantOp>(loc(expr.getLoc()), attr)
        .getResult();
  }
  switch (expr.getKind()) {
  case ast::Expr::Kind::Ident: {
    const auto &ident = cast<ast::IdentExpr>(expr);
    auto it = values.find(ident.getName());
    if (it == values.end())
      return error(ident.getLoc())
             << "'" << ident.getName() << "' is not a tensor here";
    return it->second;
  }
  case ast::Expr::Kind::Binary:
    return genBinary(cast<ast::BinaryExpr>(expr));
  case ast::Expr::Kind::Unary: {
    const auto &unary = cast<ast::UnaryExpr>(expr);
    FailureOr<Value> operand = genExpr(unary.getOperand());
    if (failed(operand) ||
        failed(requireElementType(*operand, f32(), unary.getLoc(), "'-'")))
      return failure();
    return builder.create<nn::NegOp>(loc(unary.getLoc()), *operand).getResult();
  }
  case ast::Expr::Kind::Call:
    return genCall(cast<ast::CallExpr>(expr));
  default:
    return error(expr.getLoc()) << "expected a tensor expression";
  }
}

FailureOr<Value> MLIRGen::genBinary(const ast::BinaryExpr &expr) {
  FailureOr<Value> lhs = genExpr(expr.getLHS());
  if (failed(lhs))
    return failure();
  FailureOr<Value> rhs = genExpr(expr.getRHS());
  if (failed(rhs))
    return failure();
  std::string what = ("'" + ast::spell(expr.getOp()) + "'").str();
  if (failed(requireElementType(*lhs, f32(), expr.getLoc(), what)) ||
      failed(requireElementType(*rhs, f32(), expr.getLoc(), what)))
    return failure();
  Location l = loc(expr.getLoc());
  auto result = [](auto op) -> FailureOr<Value> {
    if (failed(op))
      return failure();
    return op->getResult();
  };
  switch (expr.getOp()) {
  case ast::BinaryOp::Add:
    return result(nn::createInferred<nn::AddOp>(builder, l, *lhs, *rhs));
  case ast::BinaryOp::Sub:
    return result(nn::createInferred<nn::SubOp>(builder, l, *lhs, *rhs));
  case ast::BinaryOp::Mul:
    return result(nn::createInferred<nn::MulOp>(builder, l, *lhs, *rhs));
  case ast::BinaryOp::Div:
    return result(nn::createInferred<nn::DivOp>(builder, l, *lhs, *rhs));
  case ast::BinaryOp::Pow:
    return result(nn::createInferred<nn::PowOp>(builder, l, *lhs, *rhs));
  case ast::BinaryOp::MatMul:
    return result(nn::createInferred<nn::MatmulOp>(builder, l, *lhs, *rhs,
                                                   false, false));
  }
  llvm_unreachable("unknown binary operator");
}

FailureOr<Value> MLIRGen::genTensorArg(const CallArgs &args, StringRef param) {
  const ast::Expr *expr = args.get(param);
  assert(expr && "Sema guarantees required tensor arguments");
  return genExpr(*expr);
}

FailureOr<Value> MLIRGen::genCall(const ast::CallExpr &call) {
  std::optional<CallArgs> args =
      CallArgs::bind(call, BuiltinCategory::TensorOp);
  assert(args && "Sema checked every call");
  switch (args->getSpec().category) {
  case BuiltinCategory::Layer:
    return genLayer(*args);
  case BuiltinCategory::TensorOp:
    return genTensorOp(*args);
  case BuiltinCategory::Loss:
    return genLoss(*args);
  default:
    return error(call.getLoc())
           << "'" << call.getCallee() << "' cannot be used in a model";
  }
}

//===----------------------------------------------------------------------===//
// Layers (own parameters)
//===----------------------------------------------------------------------===//

FailureOr<Value> MLIRGen::genLayer(const CallArgs &args) {
  StringRef name = args.getSpec().name;
  if (name == "dense")
    return genDense(args);
  if (name == "conv2d")
    return genConv2d(args);
  if (name == "batchnorm")
    return genBatchNorm(args);
  if (name == "layernorm")
    return genLayerNorm(args);
  if (name == "embedding")
    return genEmbedding(args);
  llvm_unreachable("layer builtin without MLIRGen");
}

FailureOr<Value> MLIRGen::genDense(const CallArgs &args) {
  const ast::CallExpr &call = args.getCall();
  FailureOr<Value> x = genTensorArg(args, "x");
  if (failed(x) || failed(requireElementType(*x, f32(), call.getLoc(), "dense")))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  if (type.getRank() != 2 || type.isDynamicDim(1))
    return error(call.getLoc())
           << "dense expects an input [batch, features] with static features, "
              "got "
           << type << (type.getRank() > 2 ? " (flatten it first)" : "");
  int64_t in = type.getDimSize(1), units = args.getInt("units");
  StringRef layer = call.getLayerName();
  FailureOr<Value> weight =
      addParam(layer, "weight", {units, in},
               getLayerInitializer(call, "weight"), 0, call.getLoc());
  if (failed(weight))
    return failure();
  Location l = loc(call.getLoc());
  FailureOr<nn::MatmulOp> matmul = nn::createInferred<nn::MatmulOp>(
      builder, l, *x, *weight, /*transpose_a=*/false, /*transpose_b=*/true);
  if (failed(matmul))
    return failure();
  if (!args.getBool("bias"))
    return matmul->getResult();
  FailureOr<Value> bias = addParam(layer, "bias", {units},
                                   getLayerInitializer(call, "bias"), in,
                                   call.getLoc());
  if (failed(bias))
    return failure();
  FailureOr<nn::AddOp> add =
      nn::createInferred<nn::AddOp>(builder, l, matmul->getResult(), *bias);
  if (failed(add))
    return failure();
  return add->getResult();
}

FailureOr<Value> MLIRGen::genConv2d(const CallArgs &args) {
  const ast::CallExpr &call = args.getCall();
  FailureOr<Value> x = genTensorArg(args, "x");
  if (failed(x) ||
      failed(requireElementType(*x, f32(), call.getLoc(), "conv2d")))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  if (type.getRank() != 4 || type.isDynamicDim(1))
    return error(call.getLoc())
           << "conv2d expects an input [batch, channels, height, width], got "
           << type;
  int64_t channels = type.getDimSize(1), filters = args.getInt("filters");
  int64_t groups = args.getInt("groups");
  if (channels % groups != 0 || filters % groups != 0)
    return error(call.getLoc())
           << "conv2d groups=" << groups << " must divide both the input's "
           << channels << " channels and the " << filters << " filters";
  SmallVector<int64_t, 4> kernel = args.getInts("kernel");
  SmallVector<int64_t> wshape = {filters, channels / groups, kernel[0],
                                 kernel[1]};
  StringRef layer = call.getLayerName();
  FailureOr<Value> weight =
      addParam(layer, "weight", wshape, getLayerInitializer(call, "weight"), 0,
               call.getLoc());
  if (failed(weight))
    return failure();
  Location l = loc(call.getLoc());
  FailureOr<nn::Conv2dOp> conv = nn::createInferred<nn::Conv2dOp>(
      builder, l, *x, *weight, ArrayRef<int64_t>(args.getInts("stride")),
      ArrayRef<int64_t>(args.getInts("padding")),
      ArrayRef<int64_t>(args.getInts("dilation")), uint64_t(groups));
  if (failed(conv))
    return failure();
  if (!args.getBool("bias"))
    return conv->getResult();
  FailureOr<Value> bias =
      addParam(layer, "bias", {filters}, getLayerInitializer(call, "bias"),
               product(ArrayRef<int64_t>(wshape).drop_front()), call.getLoc());
  if (failed(bias))
    return failure();
  // The bias is [C]; as [C, 1, 1] it broadcasts over [N, C, H, W].
  auto column = builder.create<nn::ReshapeOp>(
      l, RankedTensorType::get({filters, 1, 1}, f32()), *bias);
  FailureOr<nn::AddOp> add =
      nn::createInferred<nn::AddOp>(builder, l, conv->getResult(), column);
  if (failed(add))
    return failure();
  return add->getResult();
}

FailureOr<Value> MLIRGen::genBatchNorm(const CallArgs &args) {
  const ast::CallExpr &call = args.getCall();
  FailureOr<Value> x = genTensorArg(args, "x");
  if (failed(x) ||
      failed(requireElementType(*x, f32(), call.getLoc(), "batchnorm")))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  if ((type.getRank() != 2 && type.getRank() != 4) || type.isDynamicDim(1))
    return error(call.getLoc())
           << "batchnorm expects an input [batch, features] or [batch, "
              "channels, height, width], got "
           << type;
  int64_t c = type.getDimSize(1);
  StringRef layer = call.getLayerName();
  Initializer ones, zeros;
  ones.kind = InitKind::Ones;
  zeros.kind = InitKind::Zeros;
  FailureOr<Value> weight = addParam(layer, "weight", {c}, ones, 0, call.getLoc());
  FailureOr<Value> bias = addParam(layer, "bias", {c}, zeros, 0, call.getLoc());
  if (failed(weight) || failed(bias))
    return failure();
  Value mean = addBuffer(layer, "running_mean", c, "zeros", call.getLoc());
  Value var = addBuffer(layer, "running_var", c, "ones", call.getLoc());
  auto bn = builder.create<nn::BatchNormOp>(
      loc(call.getLoc()), type, mean.getType(), var.getType(), *x, *weight,
      *bias, mean, var, builder.getF64FloatAttr(args.getFloat("eps")),
      builder.getF64FloatAttr(args.getFloat("momentum")));
  bufferUpdates.emplace_back(bn.getNewRunningMean(),
                             (layer + ".running_mean").str());
  bufferUpdates.emplace_back(bn.getNewRunningVar(),
                             (layer + ".running_var").str());
  return bn.getResult();
}

FailureOr<Value> MLIRGen::genLayerNorm(const CallArgs &args) {
  const ast::CallExpr &call = args.getCall();
  FailureOr<Value> x = genTensorArg(args, "x");
  if (failed(x) ||
      failed(requireElementType(*x, f32(), call.getLoc(), "layernorm")))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  if (type.getRank() < 2 || type.isDynamicDim(type.getRank() - 1))
    return error(call.getLoc())
           << "layernorm expects an input [batch, ..., features], got " << type;
  int64_t d = type.getDimSize(type.getRank() - 1);
  StringRef layer = call.getLayerName();
  Initializer ones, zeros;
  ones.kind = InitKind::Ones;
  zeros.kind = InitKind::Zeros;
  FailureOr<Value> weight = addParam(layer, "weight", {d}, ones, 0, call.getLoc());
  FailureOr<Value> bias = addParam(layer, "bias", {d}, zeros, 0, call.getLoc());
  if (failed(weight) || failed(bias))
    return failure();
  return builder
      .create<nn::LayerNormOp>(loc(call.getLoc()), *x, *weight, *bias,
                               builder.getF64FloatAttr(args.getFloat("eps")))
      .getResult();
}

FailureOr<Value> MLIRGen::genEmbedding(const CallArgs &args) {
  const ast::CallExpr &call = args.getCall();
  FailureOr<Value> ids = genTensorArg(args, "ids");
  if (failed(ids) || failed(requireElementType(*ids, builder.getI64Type(),
                                               call.getLoc(), "embedding")))
    return failure();
  Initializer normal;
  normal.kind = InitKind::Normal;
  normal.a = 0;
  normal.b = 1; // torch.nn.Embedding's N(0, 1)
  FailureOr<Value> table =
      addParam(call.getLayerName(), "weight",
               {args.getInt("num"), args.getInt("dim")}, normal, 0,
               call.getLoc());
  if (failed(table))
    return failure();
  FailureOr<nn::EmbeddingOp> op = nn::createInferred<nn::EmbeddingOp>(
      builder, loc(call.getLoc()), *ids, *table);
  if (failed(op))
    return failure();
  return op->getResult();
}

//===----------------------------------------------------------------------===//
// Tensor ops (no parameters) and losses
//===----------------------------------------------------------------------===//

FailureOr<Value> MLIRGen::genReshape(const CallArgs &args, Value input) {
  const ast::CallExpr &call = args.getCall();
  auto type = cast<RankedTensorType>(input.getType());
  const auto *list = dyn_cast<ast::ListExpr>(args.get("shape"));
  assert(list && "Sema checks reshape's shape is a list");
  SmallVector<int64_t> shape;
  int64_t inferred = -1;
  for (const ast::ExprPtr &element : list->getElements()) {
    if (isa<ast::IdentExpr>(element.get())) {
      shape.push_back(kDyn);
      continue;
    }
    std::optional<ast::Constant> c = ast::evalConstant(*element);
    assert(c && c->isInt && "Sema checks reshape dims");
    if (c->i == -1) {
      if (inferred >= 0)
        return error(element->getLoc()) << "only one dimension may be -1";
      inferred = shape.size();
    }
    shape.push_back(c->i);
  }
  bool inDyn = type.getRank() > 0 && type.isDynamicDim(0);
  bool outDyn = !shape.empty() && shape[0] == kDyn;
  if (inDyn != outDyn)
    return error(call.getLoc())
           << "reshape must keep the batch dimension as dimension 0: input "
           << type << (inDyn ? " has" : " has no") << " batch dimension";
  int64_t inCount = 1, outCount = 1;
  for (int64_t d : type.getShape())
    if (d != kDyn)
      inCount *= d;
  for (auto [i, d] : llvm::enumerate(shape))
    if (d != kDyn && int64_t(i) != inferred)
      outCount *= d;
  if (inferred >= 0) {
    if (outCount == 0 || inCount % outCount != 0)
      return error(call.getLoc()) << "cannot infer the -1 dimension reshaping "
                                  << type;
    shape[inferred] = inCount / outCount;
    outCount = inCount;
  }
  auto result = RankedTensorType::get(shape, type.getElementType());
  if (inCount != outCount)
    return error(call.getLoc())
           << "cannot reshape " << type << " to " << result << ": "
           << inCount << " vs " << outCount << " elements"
           << (inDyn ? " per batch item" : "");
  return builder.create<nn::ReshapeOp>(loc(call.getLoc()), result, input)
      .getResult();
}

FailureOr<Value> MLIRGen::genTensorOp(const CallArgs &args) {
  const ast::CallExpr &call = args.getCall();
  StringRef name = args.getSpec().name;
  Location l = loc(call.getLoc());
  auto result = [](auto op) -> FailureOr<Value> {
    if (failed(op))
      return failure();
    return op->getResult();
  };

  if (name == "concat") {
    const auto *list = dyn_cast<ast::ListExpr>(args.get("tensors"));
    assert(list && "Sema checks concat's list");
    SmallVector<Value> inputs;
    for (const ast::ExprPtr &element : list->getElements()) {
      FailureOr<Value> v = genExpr(*element);
      if (failed(v))
        return failure();
      inputs.push_back(*v);
    }
    int64_t rank = cast<RankedTensorType>(inputs[0].getType()).getRank();
    FailureOr<int64_t> axis = normalizeAxis(args.getInt("axis"), rank,
                                            call.getLoc());
    if (failed(axis))
      return failure();
    for (Value v : inputs)
      if (cast<RankedTensorType>(v.getType()).isDynamicDim(*axis))
        return error(call.getLoc())
               << "concat cannot join along the batch dimension (axis "
               << *axis << " of " << v.getType()
               << "): every tensor keeps the whole batch";
    return result(nn::createInferred<nn::ConcatOp>(builder, l, inputs,
                                                   uint64_t(*axis)));
  }

  // Binary tensor ops: either operand may be a number.
  if (name == "matmul" || name == "pow" || name == "maximum" ||
      name == "minimum") {
    FailureOr<Value> a = genTensorArg(args, args.getSpec().params[0].name);
    FailureOr<Value> b = genTensorArg(args, args.getSpec().params[1].name);
    if (failed(a) || failed(b))
      return failure();
    if (failed(requireElementType(*a, f32(), call.getLoc(), name)) ||
        failed(requireElementType(*b, f32(), call.getLoc(), name)))
      return failure();
    if (name == "matmul")
      return result(nn::createInferred<nn::MatmulOp>(builder, l, *a, *b,
                                                     false, false));
    if (name == "pow")
      return result(nn::createInferred<nn::PowOp>(builder, l, *a, *b));
    if (name == "maximum")
      return result(nn::createInferred<nn::MaximumOp>(builder, l, *a, *b));
    return result(nn::createInferred<nn::MinimumOp>(builder, l, *a, *b));
  }

  FailureOr<Value> x = genTensorArg(args, args.getSpec().params[0].name);
  if (failed(x))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  if (name == "reshape")
    return genReshape(args, *x);
  if (name == "transpose") {
    // Without perm, the dimensions are reversed (a matrix transpose).
    SmallVector<int64_t> perm;
    if (args.has("perm"))
      perm.append(args.getInts("perm"));
    else
      for (int64_t i = type.getRank() - 1; i >= 0; --i)
        perm.push_back(i);
    return result(nn::createInferred<nn::TransposeOp>(builder, l, *x,
                                                      ArrayRef<int64_t>(perm)));
  }
  if (name == "slice") {
    FailureOr<int64_t> axis =
        normalizeAxis(args.getInt("axis"), type.getRank(), call.getLoc());
    if (failed(axis))
      return failure();
    int64_t size = type.getDimSize(*axis);
    if (size == kDyn)
      return error(call.getLoc())
             << "slice cannot cut the batch dimension (axis " << *axis
             << " of " << type << "): every tensor keeps the whole batch";
    // Python-style: a negative index counts from the end.
    int64_t start = args.getInt("start"), end = args.getInt("end");
    if (start < 0)
      start += size;
    if (end < 0)
      end += size;
    if (start < 0 || end <= start || end > size)
      return error(call.getLoc())
             << "slice [" << args.getInt("start") << ", " << args.getInt("end")
             << ") is empty or outside dimension " << *axis << " of " << type;
    return result(nn::createInferred<nn::SliceOp>(
        builder, l, *x, uint64_t(*axis), uint64_t(start), uint64_t(end)));
  }
  if (failed(requireElementType(*x, f32(), call.getLoc(), name)))
    return failure();

  if (name == "flatten") {
    if (type.getRank() < 2)
      return error(call.getLoc())
             << "flatten expects a tensor of rank >= 2, got " << type;
    SmallVector<int64_t> rest(type.getShape().drop_front());
    if (llvm::is_contained(rest, kDyn))
      return error(call.getLoc())
             << "flatten needs static dimensions after the first, got " << type;
    auto flat = RankedTensorType::get({type.getDimSize(0), product(rest)}, f32());
    return builder.create<nn::ReshapeOp>(l, flat, *x).getResult();
  }
  if (name == "relu")
    return builder.create<nn::ReluOp>(l, *x).getResult();
  if (name == "sigmoid")
    return builder.create<nn::SigmoidOp>(l, *x).getResult();
  if (name == "tanh")
    return builder.create<nn::TanhOp>(l, *x).getResult();
  if (name == "exp")
    return builder.create<nn::ExpOp>(l, *x).getResult();
  if (name == "log")
    return builder.create<nn::LogOp>(l, *x).getResult();
  if (name == "sqrt")
    return builder.create<nn::SqrtOp>(l, *x).getResult();
  if (name == "abs")
    return builder.create<nn::AbsOp>(l, *x).getResult();
  if (name == "leaky_relu")
    return builder
        .create<nn::LeakyReluOp>(l, *x,
                                 builder.getF64FloatAttr(args.getFloat("slope")))
        .getResult();
  if (name == "gelu")
    return builder.create<nn::GeluOp>(l, *x, args.getString("approximate"))
        .getResult();
  if (name == "dropout") {
    if (!seed) {
      NamedAttrList attrs;
      attrs.set(nn::NNDialect::kSeedAttr, builder.getUnitAttr());
      seed = addArgument(RankedTensorType::get({}, builder.getI64Type()),
                         call.getLoc(), std::move(attrs));
    }
    return builder
        .create<nn::DropoutOp>(l, *x, seed,
                               builder.getF64FloatAttr(args.getFloat("p")),
                               builder.getI64IntegerAttr(nextDropoutStream++))
        .getResult();
  }
  if (name == "softmax" || name == "log_softmax" || name == "argmax") {
    FailureOr<int64_t> axis =
        normalizeAxis(args.getInt("axis"), type.getRank(), call.getLoc());
    if (failed(axis))
      return failure();
    if (name == "softmax")
      return builder.create<nn::SoftmaxOp>(l, *x, uint64_t(*axis)).getResult();
    if (name == "log_softmax")
      return builder.create<nn::LogSoftmaxOp>(l, *x, uint64_t(*axis))
          .getResult();
    return result(
        nn::createInferred<nn::ArgmaxOp>(builder, l, *x, uint64_t(*axis)));
  }
  if (name == "maxpool2d" || name == "avgpool2d") {
    SmallVector<int64_t, 4> kernel = args.getInts("kernel");
    SmallVector<int64_t, 4> stride = args.getInts("stride");
    SmallVector<int64_t, 4> padding = args.getInts("padding");
    if (name == "maxpool2d")
      return result(nn::createInferred<nn::MaxPool2dOp>(
          builder, l, *x, ArrayRef<int64_t>(kernel), ArrayRef<int64_t>(stride),
          ArrayRef<int64_t>(padding)));
    return result(nn::createInferred<nn::AvgPool2dOp>(
        builder, l, *x, ArrayRef<int64_t>(kernel), ArrayRef<int64_t>(stride),
        ArrayRef<int64_t>(padding)));
  }
  if (name == "sum" || name == "mean" || name == "max") {
    SmallVector<int64_t> axes;
    if (args.has("axis")) {
      for (int64_t a : args.getInts("axis")) {
        FailureOr<int64_t> axis =
            normalizeAxis(a, type.getRank(), args.get("axis")->getLoc());
        if (failed(axis))
          return failure();
        axes.push_back(*axis);
      }
    } else {
      for (int64_t i = 0; i < type.getRank(); ++i)
        axes.push_back(i);
    }
    llvm::sort(axes);
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
      return error(args.get("axis")->getLoc()) << "an axis is listed twice";
    bool keepdim = args.getBool("keepdim");
    if (name == "sum")
      return result(nn::createInferred<nn::ReduceSumOp>(
          builder, l, *x, ArrayRef<int64_t>(axes), keepdim));
    if (name == "mean")
      return result(nn::createInferred<nn::ReduceMeanOp>(
          builder, l, *x, ArrayRef<int64_t>(axes), keepdim));
    return result(nn::createInferred<nn::ReduceMaxOp>(
        builder, l, *x, ArrayRef<int64_t>(axes), keepdim));
  }
  return error(call.getLoc()) << "'" << name << "' has no lowering to nn";
}

FailureOr<Value> MLIRGen::genLoss(const CallArgs &args) {
  const ast::CallExpr &call = args.getCall();
  StringRef name = args.getSpec().name;
  FailureOr<Value> input = genTensorArg(args, args.getSpec().params[0].name);
  FailureOr<Value> target = genTensorArg(args, args.getSpec().params[1].name);
  if (failed(input) || failed(target) ||
      failed(requireElementType(*input, f32(), call.getLoc(), name)))
    return failure();
  bool classIndices = name == "cross_entropy" || name == "nll";
  if (failed(requireElementType(
          *target, classIndices ? Type(builder.getI64Type()) : Type(f32()),
          args.get(args.getSpec().params[1].name)->getLoc(),
          (name + " targets").str())))
    return failure();
  Location l = loc(call.getLoc());
  auto result = [](auto op) -> FailureOr<Value> {
    if (failed(op))
      return failure();
    return op->getResult();
  };
  if (name == "cross_entropy")
    return result(nn::createInferred<nn::CrossEntropyOp>(builder, l, *input,
                                                         *target));
  if (name == "nll")
    return result(nn::createInferred<nn::NllOp>(builder, l, *input, *target));
  if (name == "binary_cross_entropy")
    return result(nn::createInferred<nn::BceWithLogitsOp>(builder, l, *input,
                                                          *target));
  return result(nn::createInferred<nn::MseOp>(builder, l, *input, *target));
}

//===----------------------------------------------------------------------===//
// The train block
//===----------------------------------------------------------------------===//

FailureOr<Attribute> MLIRGen::trainValue(const ast::Expr &expr) {
  if (std::optional<ast::Constant> c = ast::evalConstant(expr)) {
    if (c->isInt)
      return Attribute(builder.getI64IntegerAttr(c->i));
    return Attribute(builder.getF64FloatAttr(c->f));
  }
  switch (expr.getKind()) {
  case ast::Expr::Kind::Bool:
    return Attribute(builder.getBoolAttr(cast<ast::BoolExpr>(expr).getValue()));
  case ast::Expr::Kind::String:
    return Attribute(
        builder.getStringAttr(cast<ast::StringExpr>(expr).getValue()));
  case ast::Expr::Kind::Ident:
    return Attribute(
        builder.getStringAttr(cast<ast::IdentExpr>(expr).getName()));
  case ast::Expr::Kind::List: {
    SmallVector<Attribute> elements;
    for (const ast::ExprPtr &element :
         cast<ast::ListExpr>(expr).getElements()) {
      FailureOr<Attribute> attr = trainValue(*element);
      if (failed(attr))
        return failure();
      elements.push_back(*attr);
    }
    return Attribute(builder.getArrayAttr(elements));
  }
  case ast::Expr::Kind::Call:
    return trainCall(cast<ast::CallExpr>(expr));
  default:
    return error(expr.getLoc()) << "expected a constant value";
  }
}

/// A train-block call becomes {kind = "<builtin>", <param> = value...} with
/// every default filled in, so the runtime never re-implements defaults.
FailureOr<Attribute> MLIRGen::trainCall(const ast::CallExpr &call) {
  // `constant` names both an initializer and a schedule; in the train block
  // it is the schedule.
  std::optional<CallArgs> args =
      CallArgs::bind(call, BuiltinCategory::Schedule);
  assert(args && "Sema checked every call");
  const BuiltinSpec &spec = args->getSpec();
  NamedAttrList fields;
  fields.set("kind", builder.getStringAttr(spec.name));
  for (const ParamSpec &param : spec.params) {
    if (const ast::Expr *expr = args->get(param.name)) {
      FailureOr<Attribute> value = trainValue(*expr);
      if (failed(value))
        return failure();
      // Float parameters written as integers (lr=1) stay floats.
      if (param.kind == ArgKind::Float)
        if (auto i = dyn_cast<IntegerAttr>(*value))
          *value = builder.getF64FloatAttr(double(i.getInt()));
      fields.set(param.name, *value);
      continue;
    }
    const Default &d = param.dflt;
    switch (d.kind) {
    case Default::Kind::Required:
    case Default::Kind::None:
      break;
    case Default::Kind::Int:
      fields.set(param.name, builder.getI64IntegerAttr(d.i));
      break;
    case Default::Kind::Float:
      fields.set(param.name, builder.getF64FloatAttr(d.f));
      break;
    case Default::Kind::Bool:
      fields.set(param.name, builder.getBoolAttr(d.b));
      break;
    case Default::Kind::String:
      fields.set(param.name, builder.getStringAttr(d.s));
      break;
    case Default::Kind::FloatPair:
      fields.set(param.name, builder.getArrayAttr({builder.getF64FloatAttr(d.f),
                                                   builder.getF64FloatAttr(d.f2)}));
      break;
    case Default::Kind::SameAs:
      if (Attribute same = fields.get(d.s))
        fields.set(param.name, same);
      break;
    }
  }
  return Attribute(fields.getDictionary(&context));
}

FailureOr<DictionaryAttr> MLIRGen::genTrain(const ast::Train &train) {
  NamedAttrList entries;
  for (const ast::TrainEntry &entry : train.entries) {
    FailureOr<Attribute> value = trainValue(*entry.value);
    if (failed(value))
      return failure();
    entries.set(entry.key, *value);
  }
  return entries.getDictionary(&context);
}

} // namespace

OwningOpRef<ModuleOp> kiln::mlirGen(MLIRContext &context, const ast::File &file,
                                    llvm::SourceMgr &sourceMgr) {
  return MLIRGen(context, file, sourceMgr).run();
}

OwningOpRef<ModuleOp> kiln::importKiln(MLIRContext &context,
                                       llvm::SourceMgr &sourceMgr) {
  std::unique_ptr<ast::File> file =
      parseFile(sourceMgr, sourceMgr.getMainFileID());
  if (!file || !checkFile(*file, sourceMgr))
    return nullptr;
  return mlirGen(context, *file, sourceMgr);
}

OwningOpRef<ModuleOp> kiln::importKilnFile(MLIRContext &context,
                                           StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    llvm::errs() << path << ": " << buffer.getError().message() << "\n";
    return nullptr;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  return importKiln(context, sourceMgr);
}
