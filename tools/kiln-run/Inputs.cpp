//===- Inputs.cpp - deterministic inputs for a model function ---*- C++ -*-===//
//
// Part of kiln. See Inputs.h.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Inputs.h"
#include "ir/NNDialect.h"
#include "runtime/Init.h"

using namespace mlir;
using namespace kiln::nn;
using kiln::eval::Tensor;

std::string kiln::eval::argumentName(func::FuncOp func, unsigned i) {
  for (StringRef attr : {NNDialect::kInputAttr, NNDialect::kTargetAttr,
                         NNDialect::kParamAttr, NNDialect::kBufferAttr,
                         NNDialect::kOptStateAttr})
    if (auto name = func.getArgAttrOfType<StringAttr>(i, attr))
      return name.str();
  if (func.getArgAttr(i, NNDialect::kStepAttr))
    return "step";
  if (func.getArgAttr(i, NNDialect::kSeedAttr))
    return "seed";
  return "arg" + std::to_string(i);
}

std::string kiln::eval::resultName(func::FuncOp func, unsigned i) {
  for (StringRef attr : {NNDialect::kOutputAttr, NNDialect::kParamAttr,
                         NNDialect::kOptStateAttr, NNDialect::kBufferAttr})
    if (auto name = func.getResultAttrOfType<StringAttr>(i, attr))
      return name.str();
  if (auto name = func.getResultAttrOfType<StringAttr>(i, NNDialect::kGradAttr))
    return "grad." + name.str();
  return "result" + std::to_string(i);
}

/// Number of classes of the class-index target `target`: the class
/// dimension of the loss that reads it.
static int64_t classCount(Value target) {
  for (Operation *user : target.getUsers())
    if (isa<CrossEntropyOp, NllOp>(user))
      return cast<RankedTensorType>(user->getOperand(0).getType()).getDimSize(1);
  for (Operation *user : target.getUsers())
    if (auto embedding = dyn_cast<EmbeddingOp>(user))
      return embedding.getTable().getType().getDimSize(0);
  return 2;
}

FailureOr<std::vector<Tensor>>
kiln::eval::makeInputs(func::FuncOp func, int64_t batch, uint64_t seed) {
  std::vector<Tensor> args;
  Block &body = func.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    unsigned i = arg.getArgNumber();
    auto type = cast<RankedTensorType>(arg.getType());
    std::vector<int64_t> shape(type.getShape());
    for (int64_t &d : shape)
      if (ShapedType::isDynamic(d))
        d = batch;
    std::string name = argumentName(func, i);
    if (type.getElementType().isInteger(64)) {
      Tensor t = Tensor::integers(shape, {});
      t.ints.resize(t.numel());
      if (func.getArgAttr(i, NNDialect::kSeedAttr)) {
        t.ints[0] = int64_t(seed);
      } else {
        int64_t classes = classCount(arg);
        uint64_t key = rt::fnv1a(name) ^ rt::splitmix64(seed);
        for (int64_t k = 0; k < t.numel(); ++k)
          t.ints[k] = int64_t(rt::uniform01(key, k) * double(classes));
      }
      args.push_back(std::move(t));
      continue;
    }
    Tensor t = Tensor::zeros(shape);
    if (func.getArgAttr(i, NNDialect::kStepAttr)) {
      t.values[0] = 1.0;
    } else if (auto init = func.getArgAttrOfType<DictionaryAttr>(
                   i, NNDialect::kInitAttr)) {
      auto field = [&](StringRef key) {
        auto f = init.getAs<FloatAttr>(key);
        return f ? f.getValueAsDouble() : 0.0;
      };
      StringRef kind = init.getAs<StringAttr>("kind").getValue();
      rt::InitSpec spec{std::string_view(kind.data(), kind.size()), 0, 0};
      if (kind == "constant")
        spec.a = field("value");
      else if (kind == "uniform")
        spec = {spec.kind, field("low"), field("high")};
      else if (kind == "normal")
        spec = {spec.kind, field("mean"), field("std")};
      if (!rt::initialize(spec, name, seed, t.values.data(), t.numel()))
        return func.emitError("unknown initializer for '") << name << "'";
    } else if (!func.getArgAttr(i, NNDialect::kOptStateAttr)) {
      uint64_t key = rt::fnv1a(name) ^ rt::splitmix64(seed);
      for (int64_t k = 0; k < t.numel(); ++k)
        t.values[k] = rt::uniform01(key, k);
    }
    args.push_back(std::move(t));
  }
  return args;
}
