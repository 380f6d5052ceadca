//===- Inputs.cpp - a model function's arguments and results by name -*- C++
//-*-===//
//
// Part of kiln. See Inputs.h.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Inputs.h"
#include "ir/NNDialect.h"
#include "runtime/Init.h"
#include "runtime/Random.h"

#include <cmath>

using namespace mlir;
using namespace kiln::nn;
using kiln::eval::Tensor;

/// Number of classes of the class-index argument `target`: the class
/// dimension of the loss, or the row count of the embedding, that reads it.
static int64_t classCount(Value target) {
  for (Operation *user : target.getUsers()) {
    if (isa<CrossEntropyOp, NllOp>(user))
      return cast<RankedTensorType>(user->getOperand(0).getType())
          .getDimSize(1);
    if (auto embedding = dyn_cast<EmbeddingOp>(user))
      return embedding.getTable().getType().getDimSize(0);
  }
  return 2;
}

FailureOr<std::vector<Tensor>>
kiln::eval::randomInputs(func::FuncOp func, int64_t batch, uint64_t seed) {
  std::vector<Tensor> args;
  for (BlockArgument arg : func.getArguments()) {
    unsigned i = arg.getArgNumber();
    auto type = cast<RankedTensorType>(arg.getType());
    std::vector<int64_t> shape(type.getShape());
    for (int64_t &d : shape)
      if (ShapedType::isDynamic(d))
        d = batch;
    uint64_t key = rt::fnv1a(kiln::nn::argumentName(func, i));
    if (type.getElementType().isInteger(64)) {
      Tensor t = Tensor::integers(shape, {});
      t.ints.resize(t.numel());
      int64_t classes = classCount(arg);
      for (int64_t k = 0; k < t.numel(); ++k)
        t.ints[k] = func.getArgAttr(i, NNDialect::kSeedAttr)
                        ? int64_t(seed)
                        : int64_t(rt::uniform01(key, k) * double(classes));
      args.push_back(std::move(t));
      continue;
    }
    Tensor t = Tensor::zeros(shape);
    if (func.getArgAttr(i, NNDialect::kStepAttr)) {
      std::fill(t.values.begin(), t.values.end(), 1.0);
    } else if (func.getArgAttr(i, NNDialect::kParamAttr)) {
      int64_t fanIn = shape.size() > 1 ? t.numel() / shape[0] : t.numel();
      double bound = 1.0 / std::sqrt(double(std::max<int64_t>(fanIn, 1)));
      for (int64_t k = 0; k < t.numel(); ++k)
        t.values[k] = (2 * rt::uniform01(key, k) - 1) * bound;
    } else if (!func.getArgAttr(i, NNDialect::kOptStateAttr)) {
      for (int64_t k = 0; k < t.numel(); ++k)
        t.values[k] = rt::uniform01(key, k);
    }
    args.push_back(std::move(t));
  }
  return args;
}

LogicalResult kiln::eval::initializeParameters(func::FuncOp func,
                                               std::vector<Tensor> &args,
                                               uint64_t seed) {
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto init = func.getArgAttrOfType<DictionaryAttr>(i, NNDialect::kInitAttr);
    if (!init)
      continue;
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
    Tensor &t = args[i];
    if (!rt::initialize(spec, kiln::nn::argumentName(func, i), seed, t.values.data(),
                        t.numel()))
      return func.emitError("unknown initializer '") << kind << "'";
  }
  return success();
}

FailureOr<std::vector<Tensor>>
kiln::eval::inputsFromFile(func::FuncOp func, const rt::SafetensorsFile &file,
                           const std::string &path) {
  std::vector<Tensor> args;
  for (BlockArgument arg : func.getArguments()) {
    std::string name = kiln::nn::argumentName(func, arg.getArgNumber());
    auto type = cast<RankedTensorType>(arg.getType());
    auto it = file.tensors.find(name);
    if (it == file.tensors.end())
      return func.emitError()
             << path << " has no tensor '" << name << "' for argument "
             << arg.getArgNumber() << " of @" << func.getSymName();
    const rt::StoredTensor &stored = it->second;
    bool integer = type.getElementType().isInteger(64);
    if (integer != (stored.dtype == rt::DType::I64))
      return func.emitError() << path << ": tensor '" << name << "' is "
                              << rt::dtypeName(stored.dtype) << " but argument "
                              << arg.getArgNumber() << " has type " << type;
    bool fits = int64_t(stored.shape.size()) == type.getRank();
    for (int64_t d = 0; fits && d < type.getRank(); ++d)
      fits = type.isDynamicDim(d) || type.getDimSize(d) == stored.shape[d];
    if (!fits) {
      auto diag = func.emitError()
                  << path << ": tensor '" << name << "' has shape [";
      for (size_t d = 0; d < stored.shape.size(); ++d)
        diag << (d ? "x" : "") << stored.shape[d];
      return diag << "] but argument " << arg.getArgNumber() << " has type "
                  << type;
    }
    args.push_back(integer ? Tensor::integers(stored.shape, stored.toInts())
                           : Tensor::floats(stored.shape, stored.toDoubles()));
  }
  return args;
}

kiln::rt::SafetensorsFile
kiln::eval::outputsToFile(func::FuncOp func, const std::vector<Tensor> &results,
                          rt::DType dtype) {
  rt::SafetensorsFile file;
  for (unsigned i = 0; i < results.size(); ++i) {
    const Tensor &t = results[i];
    file.tensors[kiln::nn::resultName(func, i)] =
        t.isInteger ? rt::StoredTensor::fromInts(t.shape, t.ints)
                    : rt::StoredTensor::fromDoubles(dtype, t.shape, t.values);
  }
  return file;
}
