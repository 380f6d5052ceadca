//===- StepProgram.cpp - the generated C++ step program ---------*- C++ -*-===//
//
// Part of kiln. See StepProgram.h. The program is meant to be read: each
// kernel call is preceded by the op it computes as MLIR prints it, tensors
// are named after their checkpoint names or SSA numbers, and the arena
// offsets are written out as `B * a + c` bytes.
//
// Memory: this file only reads the plan kiln-plan-memory recorded
// (passes/PlanMemory.h): each result's storage becomes the pointer of its
// View (an arena offset, the caller's array, a view of an operand), a pack
// copies the operands the plan lists, and a returned value is copied into
// the caller's array unless it was computed there.
//
//===----------------------------------------------------------------------===//

#include "codegen/StepProgram.h"

#include "ir/NNDialect.h"
#include "passes/PlanMemory.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <charconv>
#include <cmath>

using namespace kiln::codegen;
using kiln::nn::NNDialect;
using kiln::plan::bytesOf;
using kiln::plan::elementBytes;
using kiln::plan::Linear;
using kiln::plan::Storage;
using llvm::StringRef;

namespace {

constexpr int kMaxRank = 6; // runtime/Model.h's kMaxRank

/// `a` as JSON (dictionaries, arrays, numbers, strings, booleans).
void writeJson(mlir::Attribute a, llvm::raw_ostream &os) {
  if (auto dict = llvm::dyn_cast<mlir::DictionaryAttr>(a)) {
    os << "{";
    llvm::interleave(
        dict, os,
        [&](mlir::NamedAttribute n) {
          os << "\"" << n.getName().getValue() << "\":";
          writeJson(n.getValue(), os);
        },
        ",");
    os << "}";
  } else if (auto array = llvm::dyn_cast<mlir::ArrayAttr>(a)) {
    os << "[";
    llvm::interleave(
        array, os, [&](mlir::Attribute e) { writeJson(e, os); }, ",");
    os << "]";
  } else if (auto b = llvm::dyn_cast<mlir::BoolAttr>(a)) {
    os << (b.getValue() ? "true" : "false");
  } else if (auto i = llvm::dyn_cast<mlir::IntegerAttr>(a)) {
    os << i.getInt();
  } else if (auto f = llvm::dyn_cast<mlir::FloatAttr>(a)) {
    // The shortest text that reads back exactly: 0.05, not
    // 0.050000000000000003.
    char buf[40];
    os << llvm::StringRef(
        buf, std::to_chars(buf, buf + sizeof buf, f.getValueAsDouble()).ptr -
                 buf);
  } else if (auto s = llvm::dyn_cast<mlir::StringAttr>(a)) {
    os << "\"";
    llvm::printEscapedString(s.getValue(), os);
    os << "\"";
  } else {
    os << "true"; // a unit attribute: present
  }
}

std::string json(mlir::Attribute a) {
  std::string text;
  llvm::raw_string_ostream os(text);
  writeJson(a, os);
  return text;
}

/// A C string literal of `s`.
std::string quoted(StringRef s) {
  std::string text = "\"";
  llvm::raw_string_ostream os(text);
  llvm::printEscapedString(s, os);
  return text + "\"";
}

/// A C++ identifier for the tensor name `name` ("fc1.weight" ->
/// "fc1_weight").
std::string identifier(StringRef name) {
  std::string id;
  for (char c : name)
    id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (id.empty() || std::isdigit(static_cast<unsigned char>(id[0])))
    id = "t_" + id;
  return id;
}

/// The element count of `t`, linear in the batch.
Linear elementsOf(mlir::RankedTensorType t) {
  Linear bytes = bytesOf(t);
  int64_t per = elementBytes(t);
  return {bytes.perBatch / per, bytes.fixed / per};
}

/// The element count of `t` as C++ ("B * 128", "10").
std::string numelOf(mlir::RankedTensorType t) { return elementsOf(t).str(); }

std::string shapeList(mlir::RankedTensorType t) {
  std::string s = "{";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(t.getShape(), os, [&](int64_t d) {
    if (mlir::ShapedType::isDynamic(d))
      os << "B";
    else
      os << d;
  });
  return s + "}";
}

std::string typeConstant(mlir::RankedTensorType t) {
  return t.getElementType().isInteger(64) ? "kI64" : "kF32";
}

std::string viewType(mlir::RankedTensorType t) {
  return "View<" + std::to_string(t.getRank()) + ">";
}

mlir::RankedTensorType tensorType(mlir::Value v) {
  return llvm::cast<mlir::RankedTensorType>(v.getType());
}

/// The TensorInfo initializer of one argument or result.
struct Info {
  std::string role, name;
  mlir::RankedTensorType type;
  std::string init = "nullptr";
  bool frozen = false;
  /// nn.layout (kiln-layout), empty when the tensor keeps PyTorch's layout.
  llvm::SmallVector<int64_t> layout;
};

/// The nn.layout permutation in `attrs`, or none.
llvm::SmallVector<int64_t> layoutOf(mlir::DictionaryAttr attrs) {
  if (!attrs)
    return {};
  auto layout =
      attrs.getAs<mlir::DenseI64ArrayAttr>(NNDialect::kLayoutAttr);
  if (!layout)
    return {};
  return llvm::SmallVector<int64_t>(layout.asArrayRef());
}

mlir::FailureOr<Info> argumentInfo(mlir::func::FuncOp func, unsigned i) {
  Info info;
  info.name = kiln::nn::argumentName(func, i);
  info.type = tensorType(func.getArgument(i));
  std::pair<StringRef, const char *> roles[] = {
      {NNDialect::kInputAttr, "Input"},   {NNDialect::kTargetAttr, "Target"},
      {NNDialect::kParamAttr, "Param"},   {NNDialect::kBufferAttr, "Buffer"},
      {NNDialect::kOptStateAttr, "OptState"}, {NNDialect::kStepAttr, "Step"},
      {NNDialect::kSeedAttr, "Seed"}};
  for (auto [attr, role] : roles)
    if (func.getArgAttr(i, attr))
      info.role = role;
  if (info.role.empty())
    return func.emitError("argument ")
           << i << " of @" << func.getSymName()
           << " has no nn role; the trainer cannot supply it";
  if (auto init = func.getArgAttr(i, NNDialect::kInitAttr))
    info.init = "R\"json(" + json(init) + ")json\"";
  info.frozen = static_cast<bool>(func.getArgAttr(i, NNDialect::kFrozenAttr));
  info.layout = layoutOf(func.getArgAttrDict(i));
  return info;
}

mlir::FailureOr<Info> resultInfo(mlir::func::FuncOp func, unsigned i) {
  Info info;
  info.name = kiln::nn::resultName(func, i);
  info.type = llvm::cast<mlir::RankedTensorType>(func.getResultTypes()[i]);
  std::pair<StringRef, const char *> roles[] = {
      {NNDialect::kOutputAttr, "Output"}, {NNDialect::kParamAttr, "Param"},
      {NNDialect::kBufferAttr, "Buffer"}, {NNDialect::kOptStateAttr, "OptState"},
      {NNDialect::kGradAttr, "Grad"}};
  for (auto [attr, role] : roles)
    if (func.getResultAttr(i, attr))
      info.role = role;
  if (info.role.empty())
    return func.emitError("result ")
           << i << " of @" << func.getSymName()
           << " has no nn role; the trainer cannot use it";
  info.layout = layoutOf(func.getResultAttrDict(i));
  return info;
}

void writeInfo(const Info &info, llvm::raw_ostream &os) {
  os << "    {Role::" << info.role << ", " << quoted(info.name) << ", ElemType::"
     << (info.type.getElementType().isInteger(64) ? "I64" : "F32") << ", "
     << info.type.getRank() << ", {";
  llvm::interleaveComma(info.type.getShape(), os, [&](int64_t d) {
    os << (mlir::ShapedType::isDynamic(d) ? -1 : d);
  });
  os << "}, " << info.init << ", " << (info.frozen ? "true" : "false");
  if (!info.layout.empty()) {
    os << ", true, {";
    llvm::interleaveComma(info.layout, os);
    os << "}";
  }
  os << "},\n";
}

/// Floating-point operations of `op` (2 per multiply-add of a GEMM or a
/// convolution), linear in the batch; zero for other ops.
Linear flopsOf(mlir::Operation *op) {
  auto numel = [](mlir::Value v) { return elementsOf(tensorType(v)); };
  auto times = [](Linear a, int64_t k) {
    return Linear{a.perBatch * k, a.fixed * k};
  };
  if (auto mm = llvm::dyn_cast<kiln::nn::MatmulOp>(op)) {
    auto a = tensorType(mm.getLhs());
    int64_t k = a.getDimSize(a.getRank() - (mm.getTransposeA() ? 2 : 1));
    if (mlir::ShapedType::isDynamic(k)) // a reduction over the batch
      return times(Linear{numel(mm.getResult()).fixed, 0}, 2);
    return times(numel(mm.getResult()), 2 * k);
  }
  // A convolution and both its gradients do one multiply-add per (output
  // element, weight element per output channel).
  mlir::Value output, weight;
  if (auto c = llvm::dyn_cast<kiln::nn::Conv2dOp>(op))
    output = c.getResult(), weight = c.getWeight();
  else if (auto c = llvm::dyn_cast<kiln::nn::Conv2dGradInputOp>(op))
    output = c.getGrad(), weight = c.getWeight();
  else if (auto c = llvm::dyn_cast<kiln::nn::Conv2dGradWeightOp>(op))
    output = c.getGrad(), weight = c.getResult();
  else
    return {};
  auto w = tensorType(weight);
  return times(numel(output), 2 * w.getDimSize(1) * w.getDimSize(2) *
                                  w.getDimSize(3));
}

/// The model ops a call of `op` computes: an nn.kernel's member ops
/// (constants are data, not ops of the model), or `op` itself.
llvm::SmallVector<mlir::Operation *> membersOf(mlir::Operation *op) {
  auto kernel = llvm::dyn_cast<kiln::nn::KernelOp>(op);
  if (!kernel)
    return {op};
  llvm::SmallVector<mlir::Operation *> members;
  for (mlir::Operation &inner : kernel.getBody().front().without_terminator())
    if (!llvm::isa<kiln::nn::ConstantOp>(inner))
      members.push_back(&inner);
  return members;
}

/// FLOPs of one call of `op` (flopsOf summed over a kernel's member ops, so
/// a GEMM keeps its count when fused with its epilogue).
Linear flopsOfCall(mlir::Operation *op) {
  Linear flops;
  for (mlir::Operation *member : membersOf(op))
    flops = flops + flopsOf(member);
  return flops;
}

/// The bytes a call of `op` reads and writes at the least: every operand
/// and result once, linear in the batch.
Linear bytesMovedBy(mlir::Operation *op) {
  Linear bytes;
  for (mlir::Value v : op->getOperands())
    bytes = bytes + bytesOf(tensorType(v));
  for (mlir::Value v : op->getResults())
    bytes = bytes + bytesOf(tensorType(v));
  return bytes;
}

/// The source ops of a call with their model lines, for profiles:
/// "matmul+add+relu (mlp.kiln:7-8)", each kind once. Locations may be
/// wrapped in NameLoc or FusedLoc (autodiff and fusion make those); every
/// FileLineColLoc inside counts.
std::string sourceOf(mlir::Operation *op) {
  llvm::SmallVector<mlir::Operation *> members = membersOf(op);
  std::string text;
  llvm::raw_string_ostream os(text);
  StringRef file;
  unsigned first = ~0u, last = 0;
  // Each kind of op once, in order of appearance (an optimizer update
  // repeats mul and add dozens of times); the lines span every member.
  llvm::SetVector<StringRef> kinds;
  for (mlir::Operation *member : members) {
    StringRef name = member->getName().getStringRef();
    name.consume_front("nn.");
    kinds.insert(name);
    member->getLoc()->walk([&](mlir::Location loc) {
      if (auto line = llvm::dyn_cast<mlir::FileLineColLoc>(loc)) {
        file = llvm::sys::path::filename(line.getFilename().getValue());
        first = std::min(first, line.getLine());
        last = std::max(last, line.getLine());
      }
      return mlir::WalkResult::advance();
    });
  }
  llvm::interleave(kinds, os, "+");
  if (last == 0)
    return text;
  os << " (" << file << ":" << first;
  if (last != first)
    os << "-" << last;
  os << ")";
  return text;
}

/// Emits one function: its TensorInfo tables and its C++ body.
class FunctionEmitter {
public:
  /// `firstSite`: the profile slot of the function's first kernel call.
  /// With `gpuKernels`, the function is also written for the GPU.
  FunctionEmitter(mlir::func::FuncOp func, KernelLibrary &kernels,
                  KernelLibrary *gpuKernels, llvm::raw_ostream &os,
                  int firstSite)
      : func(func), kernels(kernels), gpuKernels(gpuKernels), os(os),
        state(func), prefix(identifier(func.getSymName())),
        firstSite(firstSite) {}

  mlir::LogicalResult emit();

  std::string functionName() const { return prefix; }
  /// The GPU version's name, or "nullptr" when there is none.
  std::string deviceFunctionName() const {
    return gpuKernels ? prefix + gpuKernels->suffix() : "nullptr";
  }
  int numCalls() const { return calls; }
  /// The planned arena size, and the size with one slot per tensor.
  Linear arenaBytes() const { return arena; }
  Linear unplannedBytes() const { return unplanned; }

private:
  mlir::LogicalResult emitTables();
  /// Writes the function for the host, or with `device` for the GPU (its
  /// arrays in device memory, its kernels from gpuKernels).
  mlir::LogicalResult emitFunction(bool device);
  mlir::LogicalResult emitOp(mlir::Operation *op, llvm::raw_ostream &body);
  void emitConstant(mlir::Operation *op, llvm::raw_ostream &body);
  /// Declares the View for value `v` over `storage`.
  void declare(mlir::Value v, const std::string &storage,
               llvm::raw_ostream &body);
  /// The address `storage` names for a result of `op` (not a constant).
  std::string address(mlir::Operation *op, const Storage &storage);
  /// Copies the operands of `pack` that the plan lists into it, at `at`.
  void emitPackCopies(kiln::nn::PackOp pack, const std::string &at,
                      const Storage &storage, llvm::raw_ostream &body);
  std::string freshName(StringRef base);

  mlir::func::FuncOp func;
  KernelLibrary &kernels;
  KernelLibrary *gpuKernels;
  llvm::raw_ostream &os;
  mlir::AsmState state;
  std::string prefix;
  llvm::DenseMap<mlir::Value, std::string> names;
  llvm::StringMap<int> used;
  Linear arena, unplanned;
  int firstSite;
  bool device = false; ///< writing the GPU version
  int constants = 0;
  int calls = 0;
  int values = 0;
  /// The KernelCall table, one initializer per call.
  std::string callTable;
};

std::string FunctionEmitter::freshName(StringRef base) {
  std::string id = identifier(base);
  int n = used[id]++;
  return n ? id + "_" + std::to_string(n) : id;
}

void FunctionEmitter::declare(mlir::Value v, const std::string &storage,
                              llvm::raw_ostream &body) {
  mlir::RankedTensorType t = tensorType(v);
  std::string name = names[v];
  body << "  " << (device ? "Device" : "") << viewType(t) << " " << name
       << "(" << storage << ", "
       << typeConstant(t) << ", " << shapeList(t) << ");\n";
}

std::string FunctionEmitter::address(mlir::Operation *op,
                                     const Storage &storage) {
  std::string index = std::to_string(storage.index);
  switch (storage.kind) {
  case Storage::Kind::Arena:
    return "arena + " + storage.offset.str();
  case Storage::Kind::Result:
  case Storage::Kind::StateResults:
    return "results[" + index + "]";
  case Storage::Kind::StateArgs:
    return "args[" + index + "]";
  case Storage::Kind::View: {
    std::string base = names[op->getOperand(storage.index)] + ".data()";
    if (storage.offset == Linear{})
      return base;
    return base + " + " + storage.offset.str();
  }
  case Storage::Kind::Constant:
    break;
  }
  assert(false && "constants are static data, not planned storage");
  return "";
}

void FunctionEmitter::emitPackCopies(kiln::nn::PackOp pack,
                                     const std::string &at,
                                     const Storage &storage,
                                     llvm::raw_ostream &body) {
  // Operand j starts where operands 0..j-1 end (all have static shapes).
  llvm::SmallVector<int64_t> offsets;
  int64_t offset = 0;
  for (mlir::Value v : pack.getInputs()) {
    offsets.push_back(offset);
    offset += bytesOf(tensorType(v)).fixed;
  }
  for (int64_t j : storage.copied) {
    mlir::Value v = pack.getInputs()[j];
    body << "  KILN_CHECK(copyBytes(byteAt(" << at << ", " << offsets[j]
         << "), " << names[v] << ".data(), "
         << bytesOf(tensorType(v)).str() << "));\n";
  }
}

mlir::LogicalResult FunctionEmitter::emitTables() {
  os << "const TensorInfo " << prefix << "Args[] = {\n";
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto info = argumentInfo(func, i);
    if (mlir::failed(info))
      return mlir::failure();
    if (info->type.getRank() > kMaxRank)
      return func.emitError("argument ") << i << " has rank above "
                                         << kMaxRank;
    writeInfo(*info, os);
  }
  os << "};\n\nconst TensorInfo " << prefix << "Results[] = {\n";
  for (unsigned i = 0; i < func.getNumResults(); ++i) {
    auto info = resultInfo(func, i);
    if (mlir::failed(info))
      return mlir::failure();
    writeInfo(*info, os);
  }
  os << "};\n\n";
  return mlir::success();
}

void FunctionEmitter::emitConstant(mlir::Operation *op,
                                   llvm::raw_ostream &body) {
  auto value = llvm::cast<mlir::DenseElementsAttr>(
      llvm::cast<kiln::nn::ConstantOp>(op).getValue());
  mlir::RankedTensorType t = tensorType(op->getResult(0));
  bool isInt = t.getElementType().isInteger(64);
  std::string data = "kConstant" + std::to_string(constants++) + "_" +
                     prefix + (device ? "_device" : "");
  std::string ctype = isInt ? "int64_t" : "float";
  // Constants are data, not code: static arrays the kernels read in place.
  std::string values;
  llvm::raw_string_ostream vs(values);
  int64_t n = t.getNumElements();
  for (int64_t i = 0; i < n; ++i) {
    if (i)
      vs << ", ";
    if (isInt) {
      vs << (value.isSplat() ? value.getSplatValue<llvm::APInt>()
                             : value.getValues<llvm::APInt>()[i])
                .getSExtValue() << "LL";
      continue;
    }
    float f = value.isSplat() ? value.getSplatValue<float>()
                              : value.getValues<float>()[i];
    if (std::isinf(f))
      vs << (f > 0 ? "INFINITY" : "-INFINITY");
    else if (std::isnan(f))
      vs << "NAN";
    else {
      std::string digits = llvm::formatv("{0}", llvm::format("%.9g", f)).str();
      if (digits.find_first_of(".e") == std::string::npos)
        digits += ".0";
      vs << digits << "f";
    }
  }
  body << "  static " << ctype << " " << data << "[] = {" << values << "};\n";
  if (!device) {
    declare(op->getResult(0), data, body);
    return;
  }
  // Uploaded on the first call.
  body << "  static DeviceConstant " << data << "_copy(" << data
       << ", sizeof(" << data << "));\n"
       << "  DevicePtr " << data << "_ptr;\n"
       << "  KILN_CHECK(" << data << "_copy.get(" << data << "_ptr));\n";
  declare(op->getResult(0), data + "_ptr", body);
}

mlir::LogicalResult FunctionEmitter::emitOp(mlir::Operation *op,
                                            llvm::raw_ostream &body) {
  body << "\n  // ";
  {
    std::string text;
    llvm::raw_string_ostream ts(text);
    op->print(ts, state);
    body << StringRef(text).split('\n').first << "\n";
  }
  if (llvm::isa<kiln::nn::KernelOp>(op)) {
    // The fused ops, with the model lines they came from.
    for (mlir::Operation *inner : membersOf(op)) {
      body << "  //   " << inner->getName();
      if (auto loc = llvm::dyn_cast<mlir::FileLineColLoc>(inner->getLoc()))
        body << " (line " << loc.getLine() << ")";
      body << "\n";
    }
  }
  // v<N> is the value MLIR prints as %N.
  for (mlir::Value r : op->getResults())
    names[r] = freshName("v" + std::to_string(values++));

  if (llvm::isa<kiln::nn::ConstantOp>(op)) {
    emitConstant(op, body);
    return mlir::success();
  }
  for (mlir::OpResult r : op->getResults()) {
    auto storage = kiln::plan::storageOf(r);
    if (mlir::failed(storage))
      return mlir::failure();
    std::string at = address(op, *storage);
    // Copies first: a device view may stage its tensor when declared.
    if (auto pack = llvm::dyn_cast<kiln::nn::PackOp>(op))
      emitPackCopies(pack, at, *storage, body);
    declare(r, at, body);
  }
  // Reshape and unpack name bytes that are already there; a pack is a
  // view or the copies above.
  if (llvm::isa<kiln::nn::ReshapeOp, kiln::nn::UnpackOp, kiln::nn::PackOp>(op))
    return mlir::success();

  auto kernel = device ? gpuKernels->get(op) : kernels.get(op);
  if (mlir::failed(kernel))
    return mlir::failure();
  bool flat = (*kernel)->flattened;
  std::string dyn =
      flat ? numelOf(tensorType(op->getResult(0))) : std::string("B");
  if (!device) { // one table for both versions: they share call sites
    Linear flops = flopsOfCall(op), bytes = bytesMovedBy(op);
    llvm::raw_string_ostream table(callTable);
    auto fused = llvm::dyn_cast<kiln::nn::KernelOp>(op);
    table << "    {" << quoted((*kernel)->name) << ", "
          << quoted(fused ? fused.getName() : op->getName().getStringRef())
          << ", " << flops.perBatch << ", " << flops.fixed << ", "
          << bytes.perBatch << ", " << bytes.fixed << ", "
          << quoted(sourceOf(op)) << "},\n";
  }
  body << (device ? "  KILN_RUN_ON_DEVICE(" : "  KILN_RUN(") << firstSite + calls
       << ", " << (*kernel)->name
       << ", int32_t(" << dyn << ")";
  auto operand = [&](mlir::Value v) {
    body << ", " << names[v];
    if (flat && tensorType(v).getRank() > 0)
      body << ".flat()";
  };
  for (mlir::Value v : op->getOperands())
    operand(v);
  for (mlir::Value v : op->getResults())
    operand(v);
  body << ");\n";
  if (device)
    for (mlir::Value v : op->getResults())
      body << "  KILN_CHECK(" << names[v] << ".writeBack());\n";
  ++calls;
  return mlir::success();
}

mlir::LogicalResult FunctionEmitter::emit() {
  if (mlir::failed(emitTables()))
    return mlir::failure();

  auto planned = kiln::plan::plannedBytes(func, kiln::plan::kArenaBytesAttr);
  auto oneSlotEach =
      kiln::plan::plannedBytes(func, kiln::plan::kUnplannedBytesAttr);
  if (mlir::failed(planned) || mlir::failed(oneSlotEach))
    return mlir::failure();
  arena = *planned;
  unplanned = *oneSlotEach;

  if (mlir::failed(emitFunction(/*device=*/false)) ||
      (gpuKernels && mlir::failed(emitFunction(/*device=*/true))))
    return mlir::failure();
  os << "const KernelCall " << prefix << "Calls[] = {\n" << callTable
     << "};\n\n";
  return mlir::success();
}

mlir::LogicalResult FunctionEmitter::emitFunction(bool onDevice) {
  device = onDevice;
  names.clear();
  used.clear();
  constants = calls = values = 0;

  std::string bodyText;
  llvm::raw_string_ostream body(bodyText);
  for (mlir::BlockArgument arg : func.getArguments()) {
    names[arg] = freshName(kiln::nn::argumentName(func, arg.getArgNumber()));
    declare(arg, "args[" + std::to_string(arg.getArgNumber()) + "]", body);
  }
  for (mlir::Operation &op : func.getBody().front().without_terminator())
    if (mlir::failed(emitOp(&op, body)))
      return mlir::failure();
  body << "\n";
  // Every result not computed in the caller's array is copied there.
  auto ret = llvm::cast<mlir::func::ReturnOp>(
      func.getBody().front().getTerminator());
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    if (auto r = llvm::dyn_cast<mlir::OpResult>(v)) {
      auto storage = kiln::plan::storageOf(r);
      if (mlir::failed(storage))
        return mlir::failure();
      if (storage->kind == Storage::Kind::Result &&
          storage->index == int64_t(i))
        continue;
    }
    body << "  KILN_CHECK(copyBytes(results[" << i << "], " << names[v]
         << ".data(), " << bytesOf(tensorType(v)).str() << "));\n";
  }

  os << "// @" << func.getSymName() << (device ? " on the GPU" : "") << ": "
     << calls << " kernel calls, arena of " << arena.str()
     << " bytes (one slot per tensor: " << unplanned.str() << ").\n";
  if (device) {
    os << "int " << deviceFunctionName() << "(int64_t B, const DevicePtr *args, "
       << "const DevicePtr *results) {\n"
       << "  static DeviceArena storage;\n"
       << "  DevicePtr arena;\n"
       << "  KILN_CHECK(storage.get(" << arena.str() << ", arena));\n";
  } else {
    os << "int " << prefix << "(int64_t B, void *const *args, "
       << "void *const *results) {\n"
       << "  static Arena storage;\n"
       << "  uint8_t *arena = storage.get(" << arena.str() << ");\n";
  }
  os << "  (void)arena;\n" << body.str() << "  return 0;\n}\n\n";
  return mlir::success();
}

/// What the loss makes of the target (Model.h's Task) and the class count.
std::pair<const char *, int64_t> taskOf(mlir::func::FuncOp func) {
  for (mlir::BlockArgument arg : func.getArguments()) {
    if (!func.getArgAttr(arg.getArgNumber(), NNDialect::kTargetAttr))
      continue;
    // The loss reading the target, inside a fused kernel or not.
    llvm::SmallVector<mlir::Value> targets{arg};
    while (!targets.empty()) {
      mlir::Value target = targets.pop_back_val();
      for (mlir::OpOperand &use : target.getUses()) {
        mlir::Operation *user = use.getOwner();
        if (auto kernel = llvm::dyn_cast<kiln::nn::KernelOp>(user))
          targets.push_back(
              kernel.getBody().getArgument(use.getOperandNumber()));
        if (llvm::isa<kiln::nn::CrossEntropyOp, kiln::nn::NllOp>(user))
          return {"Multiclass",
                  tensorType(user->getOperand(0)).getDimSize(1)};
        if (llvm::isa<kiln::nn::BceWithLogitsOp>(user))
          return {"Binary", 2};
      }
    }
  }
  return {"Regression", 0};
}

/// The rows of the smallest embedding table that `func`'s i64 input
/// indexes (through shape ops and fused kernels), or 0 when it indexes
/// none. The kernels clamp ids into the table only to keep reads in
/// bounds, so the trainer refuses data whose ids reach this.
int64_t indexRows(mlir::func::FuncOp func) {
  auto isIds = [](mlir::Value v) {
    auto t = llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
    return t && t.getElementType().isInteger(64);
  };
  int64_t rows = 0;
  llvm::SmallVector<mlir::Value> ids;
  for (mlir::BlockArgument arg : func.getArguments())
    if (func.getArgAttr(arg.getArgNumber(), NNDialect::kInputAttr) &&
        isIds(arg))
      ids.push_back(arg);
  while (!ids.empty()) {
    mlir::Value value = ids.pop_back_val();
    for (mlir::OpOperand &use : value.getUses()) {
      mlir::Operation *user = use.getOwner();
      if (auto kernel = llvm::dyn_cast<kiln::nn::KernelOp>(user)) {
        ids.push_back(kernel.getBody().getArgument(use.getOperandNumber()));
      } else if (llvm::isa<kiln::nn::YieldOp>(user)) {
        ids.push_back(user->getParentOp()->getResult(use.getOperandNumber()));
      } else if (auto lookup = llvm::dyn_cast<kiln::nn::EmbeddingOp>(user)) {
        int64_t table = tensorType(lookup.getTable()).getDimSize(0);
        rows = rows ? std::min(rows, table) : table;
      } else {
        // Reshapes, transposes, slices and concats move ids unchanged.
        for (mlir::Value result : user->getResults())
          if (isIds(result))
            ids.push_back(result);
      }
    }
  }
  return rows;
}

/// The smallest batch `f` accepts: 2 when a batch norm in training mode
/// normalizes each channel over the batch alone (no spatial dimensions),
/// whose variance one sample leaves undefined (PyTorch refuses it too).
int64_t minBatch(mlir::func::FuncOp f) {
  int64_t min = 1;
  f.walk([&](kiln::nn::BatchNormOp bn) {
    auto x = llvm::cast<mlir::RankedTensorType>(bn.getInput().getType());
    int64_t perChannel = 1;
    for (int64_t d : x.getShape().drop_front(2))
      perChannel *= d;
    if (x.isDynamicDim(0) && perChannel == 1)
      min = 2;
  });
  return min;
}

std::string stepInfo(const FunctionEmitter &e, mlir::func::FuncOp f) {
  std::string s, prefix = e.functionName();
  llvm::raw_string_ostream os(s);
  Linear planned = e.arenaBytes(), unplanned = e.unplannedBytes();
  os << "{" << f.getNumArguments() << ", " << prefix << "Args, "
     << f.getNumResults() << ", " << prefix << "Results, " << prefix << ", "
     << e.deviceFunctionName() << ", " << e.numCalls() << ", " << prefix
     << "Calls, {" << planned.perBatch << ", " << planned.fixed << "}, {"
     << unplanned.perBatch << ", " << unplanned.fixed << "}, " << minBatch(f)
     << "}";
  return s;
}

} // namespace

mlir::LogicalResult kiln::codegen::emitStepProgram(mlir::ModuleOp module,
                                                   KernelLibrary &kernels,
                                                   KernelLibrary *gpuKernels,
                                                   StringRef source,
                                                   llvm::raw_ostream &os) {
  auto train = module.lookupSymbol<mlir::func::FuncOp>("train_step");
  auto eval = module.lookupSymbol<mlir::func::FuncOp>("eval_step");
  if (!train || !eval)
    return module.emitError("expected @train_step and @eval_step; run the "
                            "train pipeline first");
  std::string name = module.getSymName() ? module.getSymName()->str() : "model";
  auto trainBlock = module->getAttrOfType<mlir::DictionaryAttr>(
      NNDialect::kTrainAttr);
  if (!trainBlock)
    return module.emitError("the model has no train block; a trainer needs "
                            "one (data, optimizer, ...)");

  os << "// Step program of model '" << name << "' (" << source
     << "), generated by kiln. Do not edit.\n"
     << "// Target: " << kernels.targetString() << "\n\n"
     << "#include \"kernels.h\"\n";
  std::string gpu = gpuKernels ? gpuKernels->suffix().substr(1) : "";
  if (gpuKernels)
    os << "#include \"" << gpuKernels->fileStem() << ".h\"\n"
       << "#include \"runtime/Device.h\"\n"
       << (gpu == "cuda" ? "#include \"HalideRuntimeCuda.h\"\n"
                         : "#include \"HalideRuntimeOpenCL.h\"\n");
  os << "#include \"runtime/Model.h\"\n"
     << "#include \"runtime/StepSupport.h\"\n"
     << "#include \"runtime/Trainer.h\"\n\n"
     << "#include <cmath>\n#include <cstring>\n\n"
     << "using namespace kiln::rt;\nusing namespace kiln::rt::step;\n\n"
     << "namespace {\n\n";
  FunctionEmitter trainEmitter(train, kernels, gpuKernels, os,
                               /*firstSite=*/0);
  if (mlir::failed(trainEmitter.emit()))
    return mlir::failure();
  FunctionEmitter evalEmitter(eval, kernels, gpuKernels, os,
                              trainEmitter.numCalls());
  if (mlir::failed(evalEmitter.emit()))
    return mlir::failure();

  // With GPU kernels: what runtime/Device.h leaves to the program.
  std::string gpuDefinitions;
  if (gpuKernels) {
    if (mlir::failed(gpuKernels->addPeakKernel(module.getLoc())))
      return mlir::failure();
    int64_t flopsPerThread = 2 * 8 * KernelLibrary::kPeakFmaSteps;
    gpuDefinitions =
        "const halide_device_interface_t *kiln::rt::gpuInterface() {\n"
        "  return halide_" + gpu + "_device_interface();\n}\n\n"
        "int kiln::rt::viewAlignment() { return " +
        (gpu == "opencl" ? "512" : "1") + "; }\n\n"
        "int kiln::rt::step::peakFma(DevicePtr out, int64_t threads, "
        "double *flops) {\n"
        "  DeviceView<1> v(out, kF32, {threads});\n"
        "  *flops = double(threads) * " + std::to_string(flopsPerThread) +
        ";\n"
        "  return kiln_peak_fma" + gpuKernels->suffix() + "(v);\n}\n\n";
  }
  auto [task, classes] = taskOf(train);
  os << "const Model kModel = {\n"
     << "    " << quoted(name) << ",\n"
     << "    " << quoted(source) << ",\n"
     << "    R\"json(" << json(trainBlock) << ")json\",\n"
     << "    " << quoted(kernels.targetString()) << ",\n"
     << "    " << (gpuKernels ? quoted(gpu) : "nullptr") << ",\n"
     << "    " << (gpuKernels ? "&kDeviceApi" : "nullptr") << ",\n"
     << "    Task::" << task << ",\n"
     << "    " << classes << ",\n"
     << "    " << indexRows(train) << ",\n"
     << "    " << stepInfo(trainEmitter, train) << ",\n"
     << "    " << stepInfo(evalEmitter, eval) << ",\n"
     << "};\n\n"
     << "} // namespace\n\n"
     << "const Model &kiln::rt::generatedModel() { return kModel; }\n\n"
     << gpuDefinitions
     << "void kiln::rt::setKernelThreads(int threads) {\n"
     << "  halide_set_num_threads(threads);\n}\n\n"
     << "void kiln::rt::setKernelProfile(double *seconds) {\n"
     << "  profileSlots() = seconds;\n}\n\n"
     << "int main(int argc, char **argv) {\n"
     << "  installErrorHandler();\n"
     << "  return trainerMain(argc, argv, kModel);\n}\n";
  return mlir::success();
}
