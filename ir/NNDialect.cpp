//===- NNDialect.cpp - the nn dialect ---------------------------*- C++ -*-===//
//
// Part of kiln. Registers the nn ops and checks the `nn.*` attributes that
// describe a model's interface on function arguments and results and on the
// module (see docs/ir.md). After verification every `nn.param` argument is a
// statically shaped f32 tensor, every `nn.init` names a known kind with the
// fields it reads, and `nn.train` is a dictionary.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace kiln::nn;

#include "ir/NNDialect.cpp.inc"
#include "ir/NNInterfaces.cpp.inc"

void NNDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/NNOps.cpp.inc"
      >();
}

Operation *NNDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                          Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return builder.create<ConstantOp>(loc, elements);
}

/// Returns the type of argument or result `index` of the function-like op.
static Type getInterfaceType(Operation *op, unsigned index, bool isResult) {
  auto func = dyn_cast<func::FuncOp>(op);
  if (!func)
    return nullptr;
  return isResult ? func.getResultTypes()[index] : func.getArgumentTypes()[index];
}

static LogicalResult verifyInit(Operation *op, DictionaryAttr init) {
  auto kind = init.getAs<StringAttr>("kind");
  if (!kind)
    return op->emitError("'nn.init' needs a string 'kind'");
  static const char *const kKinds[] = {"zeros", "ones", "constant", "uniform",
                                       "normal"};
  if (!llvm::is_contained(kKinds, kind.getValue()))
    return op->emitError("unknown initializer kind '") << kind.getValue()
           << "' (expected zeros, ones, constant, uniform or normal)";
  for (NamedAttribute entry : init)
    if (entry.getName() != "kind" && !isa<FloatAttr>(entry.getValue()))
      return op->emitError("'nn.init' field '")
             << entry.getName().getValue() << "' must be a float";
  // The fields each kind reads.
  SmallVector<StringRef, 2> needed;
  if (kind.getValue() == "constant")
    needed = {"value"};
  else if (kind.getValue() == "uniform")
    needed = {"low", "high"};
  else if (kind.getValue() == "normal")
    needed = {"mean", "std"};
  for (StringRef field : needed)
    if (!init.get(field))
      return op->emitError("'nn.init' of kind '")
             << kind.getValue() << "' needs a field '" << field << "'";
  return success();
}

/// nn.layout (kiln-layout): a permutation of the dimensions of `type`.
static LogicalResult verifyLayout(Operation *op, Attribute layout, Type type) {
  auto perm = dyn_cast<DenseI64ArrayAttr>(layout);
  auto tensor = dyn_cast_or_null<RankedTensorType>(type);
  if (!perm || !tensor || int64_t(perm.size()) != tensor.getRank())
    return op->emitError("'nn.layout' must be an array<i64> permuting the "
                         "dimensions of ")
           << type;
  SmallVector<bool> seen(perm.size(), false);
  for (int64_t d : perm.asArrayRef()) {
    if (d < 0 || d >= tensor.getRank() || seen[d])
      return op->emitError("'nn.layout' is not a permutation");
    seen[d] = true;
  }
  return success();
}

LogicalResult NNDialect::verifyRegionArgAttribute(Operation *op,
                                                  unsigned regionIndex,
                                                  unsigned argIndex,
                                                  NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  Type type = getInterfaceType(op, argIndex, /*isResult=*/false);
  if (!type)
    return op->emitError("'") << name << "' is only valid on func.func";
  if (name == kInputAttr || name == kTargetAttr || name == kParamAttr ||
      name == kBufferAttr || name == kOptStateAttr) {
    if (!isa<StringAttr>(attribute.getValue()))
      return op->emitError("'") << name << "' must be a string naming the value";
  }
  if (name == kParamAttr || name == kBufferAttr || name == kOptStateAttr) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !tensor.hasStaticShape() || !tensor.getElementType().isF32())
      return op->emitError("'") << name << "' argument " << argIndex
             << " must be a statically shaped f32 tensor, got " << type;
    return success();
  }
  if (name == kInitAttr) {
    auto init = dyn_cast<DictionaryAttr>(attribute.getValue());
    if (!init)
      return op->emitError("'nn.init' must be a dictionary");
    return verifyInit(op, init);
  }
  if (name == kFrozenAttr || name == kSeedAttr || name == kStepAttr) {
    if (!isa<UnitAttr>(attribute.getValue()))
      return op->emitError("'") << name << "' must be a unit attribute";
    return success();
  }
  if (name == kLayoutAttr)
    return verifyLayout(op, attribute.getValue(), type);
  if (name == kInputAttr || name == kTargetAttr)
    return success();
  return op->emitError("unknown argument attribute '") << name << "'";
}

LogicalResult NNDialect::verifyRegionResultAttribute(Operation *op,
                                                     unsigned regionIndex,
                                                     unsigned resultIndex,
                                                     NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (name == kLayoutAttr)
    return verifyLayout(op, attribute.getValue(),
                        getInterfaceType(op, resultIndex, /*isResult=*/true));
  if (name != kOutputAttr && name != kBufferAttr && name != kGradAttr &&
      name != kParamAttr && name != kOptStateAttr)
    return op->emitError("unknown result attribute '") << name << "'";
  if (!isa<StringAttr>(attribute.getValue()))
    return op->emitError("'") << name << "' must be a string";
  return success();
}

LogicalResult NNDialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attribute) {
  if (attribute.getName() != kTrainAttr)
    return op->emitError("unknown attribute '")
           << attribute.getName().getValue() << "'";
  if (!isa<ModuleOp>(op))
    return op->emitError("'nn.train' is only valid on a module");
  if (!isa<DictionaryAttr>(attribute.getValue()))
    return op->emitError("'nn.train' must be a dictionary");
  return success();
}

std::string kiln::nn::argumentName(mlir::func::FuncOp func, unsigned i) {
  for (llvm::StringRef attr :
       {NNDialect::kInputAttr, NNDialect::kTargetAttr, NNDialect::kParamAttr,
        NNDialect::kBufferAttr, NNDialect::kOptStateAttr})
    if (auto name = func.getArgAttrOfType<mlir::StringAttr>(i, attr))
      return name.str();
  if (func.getArgAttr(i, NNDialect::kSeedAttr))
    return "seed";
  if (func.getArgAttr(i, NNDialect::kStepAttr))
    return "step";
  return "arg" + std::to_string(i);
}

std::string kiln::nn::resultName(mlir::func::FuncOp func, unsigned i) {
  for (llvm::StringRef attr : {NNDialect::kOutputAttr, NNDialect::kBufferAttr,
                         NNDialect::kParamAttr, NNDialect::kOptStateAttr})
    if (auto name = func.getResultAttrOfType<mlir::StringAttr>(i, attr))
      return name.str();
  if (auto name = func.getResultAttrOfType<mlir::StringAttr>(i, NNDialect::kGradAttr))
    return "grad." + name.str();
  return "result" + std::to_string(i);
}
