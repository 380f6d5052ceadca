//===- PlanMemoryFormat.cpp - the memory plan's attributes ------*- C++ -*-===//
//
// Part of kiln. See PlanMemory.h: byte arithmetic linear in the batch, and
// the encoding of `kiln.storage` and the arena sizes as builtin attributes
// (docs/ir.md, "Memory plan"). kiln-plan-memory writes them, codegen reads
// them; neither spells the format itself.
//
//===----------------------------------------------------------------------===//

#include "passes/PlanMemory.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <optional>

using namespace mlir;
using kiln::plan::Linear;
using kiln::plan::Storage;

namespace {

/// The storage dictionary's keys, one per Storage::Kind, and the keys of
/// its fields.
constexpr llvm::StringLiteral kConstantKey = "constant", kArenaKey = "arena",
                              kResultKey = "result",
                              kStateResultsKey = "state_results",
                              kStateArgsKey = "state_args", kViewKey = "view",
                              kOffsetKey = "offset", kCopyKey = "copy";

Attribute storageAttr(MLIRContext *context, const Storage &s) {
  Builder b(context);
  auto pair = [&](Linear l) {
    return b.getDenseI64ArrayAttr({l.perBatch, l.fixed});
  };
  SmallVector<NamedAttribute> fields;
  switch (s.kind) {
  case Storage::Kind::Constant:
    fields.push_back(b.getNamedAttr(kConstantKey, b.getUnitAttr()));
    break;
  case Storage::Kind::Arena:
    fields.push_back(b.getNamedAttr(kArenaKey, pair(s.offset)));
    if (!s.copied.empty())
      fields.push_back(
          b.getNamedAttr(kCopyKey, b.getDenseI64ArrayAttr(s.copied)));
    break;
  case Storage::Kind::Result:
    fields.push_back(b.getNamedAttr(kResultKey, b.getI64IntegerAttr(s.index)));
    break;
  case Storage::Kind::StateResults:
    fields.push_back(
        b.getNamedAttr(kStateResultsKey, b.getI64IntegerAttr(s.index)));
    break;
  case Storage::Kind::StateArgs:
    fields.push_back(
        b.getNamedAttr(kStateArgsKey, b.getI64IntegerAttr(s.index)));
    break;
  case Storage::Kind::View:
    fields.push_back(b.getNamedAttr(kViewKey, b.getI64IntegerAttr(s.index)));
    fields.push_back(b.getNamedAttr(kOffsetKey, pair(s.offset)));
    break;
  }
  return b.getDictionaryAttr(fields);
}

/// `attr` as a Linear, if it is an `array<i64: perBatch, fixed>`.
std::optional<Linear> linearOf(Attribute attr) {
  auto array = dyn_cast_or_null<DenseI64ArrayAttr>(attr);
  if (!array || array.size() != 2)
    return std::nullopt;
  return Linear{array[0], array[1]};
}

} // namespace


std::string Linear::str() const {
  if (perBatch == 0)
    return std::to_string(fixed);
  std::string s = "B * " + std::to_string(perBatch);
  return fixed ? s + " + " + std::to_string(fixed) : s;
}

int64_t kiln::plan::elementBytes(RankedTensorType t) {
  return t.getElementType().isInteger(64) ? 8 : 4;
}

Linear kiln::plan::bytesOf(RankedTensorType t) {
  int64_t n = elementBytes(t);
  bool dynamic = false;
  for (int64_t d : t.getShape())
    ShapedType::isDynamic(d) ? dynamic = true : n *= d;
  return dynamic ? Linear{n, 0} : Linear{0, n};
}

void kiln::plan::setStorage(Operation *op, ArrayRef<Storage> storage) {
  SmallVector<Attribute> entries;
  for (const Storage &s : storage)
    entries.push_back(storageAttr(op->getContext(), s));
  op->setAttr(kStorageAttr, ArrayAttr::get(op->getContext(), entries));
}

FailureOr<Storage> kiln::plan::storageOf(OpResult result) {
  Operation *op = result.getOwner();
  auto all = op->getAttrOfType<ArrayAttr>(kStorageAttr);
  if (!all || all.size() != op->getNumResults())
    return op->emitError("no memory plan for this op; run kiln-plan-memory "
                         "first (the codegen pipeline does)");
  auto dict = dyn_cast<DictionaryAttr>(all[result.getResultNumber()]);
  auto malformed = [&]() {
    return op->emitError("malformed ")
           << kStorageAttr << " entry " << result.getResultNumber();
  };
  if (!dict)
    return malformed();
  Storage s;
  auto index = [&](StringRef key) -> std::optional<int64_t> {
    auto i = dict.getAs<IntegerAttr>(key);
    return i ? std::optional<int64_t>(i.getInt()) : std::nullopt;
  };
  if (dict.get(kConstantKey)) {
    s.kind = Storage::Kind::Constant;
  } else if (auto offset = linearOf(dict.get(kArenaKey))) {
    s.kind = Storage::Kind::Arena;
    s.offset = *offset;
    if (auto copy = dict.getAs<DenseI64ArrayAttr>(kCopyKey))
      s.copied.assign(copy.asArrayRef().begin(), copy.asArrayRef().end());
  } else if (auto k = index(kResultKey)) {
    s.kind = Storage::Kind::Result;
    s.index = *k;
  } else if (auto k = index(kStateResultsKey)) {
    s.kind = Storage::Kind::StateResults;
    s.index = *k;
  } else if (auto k = index(kStateArgsKey)) {
    s.kind = Storage::Kind::StateArgs;
    s.index = *k;
  } else if (auto k = index(kViewKey)) {
    auto offset = linearOf(dict.get(kOffsetKey));
    if (!offset || *k < 0 || *k >= int64_t(op->getNumOperands()))
      return malformed();
    s.kind = Storage::Kind::View;
    s.index = *k;
    s.offset = *offset;
  } else {
    return malformed();
  }
  return s;
}

void kiln::plan::setPlannedBytes(func::FuncOp func, StringRef attr,
                                 Linear bytes) {
  func->setAttr(attr, DenseI64ArrayAttr::get(func.getContext(),
                                             {bytes.perBatch, bytes.fixed}));
}

FailureOr<Linear> kiln::plan::plannedBytes(func::FuncOp func, StringRef attr) {
  if (auto bytes = linearOf(func->getAttr(attr)))
    return *bytes;
  return func.emitError("@")
         << func.getSymName() << " has no " << attr
         << "; run kiln-plan-memory first (the codegen pipeline does)";
}
