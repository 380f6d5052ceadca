//===- Kernels.cpp - AOT-compiled Halide kernels for nn ops -----*- C++ -*-===//
//
// Part of kiln. Builds one Halide pipeline per distinct op computation
// (keyed by op name, attributes and operand/result types after
// flattening), constrains its buffers to the dense row-major layout the
// step program passes (so Halide compiles static strides and extents
// in), and links all of them into one object file. This is the only
// place outside the Lower*/Schedule files that touches Halide, and every
// Halide::Error is caught here.
//
//===----------------------------------------------------------------------===//

#include "codegen/Kernels.h"

#include "codegen/Lowering.h"
#include "codegen/Schedule.h"
#include "ir/NNDialect.h"
#include "passes/PlanMemory.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Path.h"

#include <sstream>

using namespace kiln::codegen;
using Halide::Expr;

namespace kiln::codegen {
/// codegen/x86_avx512.ll as LLVM 14 bitcode (generated X86Avx512Bitcode.cpp).
const std::vector<uint8_t> &x86Avx512Bitcode();
} // namespace kiln::codegen

namespace {

Halide::Type halideType(mlir::Type t) {
  return t.isInteger(64) ? Halide::Int(64) : Halide::Float(32);
}

/// The extents of `type`, the dynamic dimension being `dyn`.
std::vector<Expr> shapeOf(mlir::RankedTensorType type, const Expr &dyn) {
  std::vector<Expr> shape;
  for (int64_t d : type.getShape())
    shape.push_back(mlir::ShapedType::isDynamic(d) ? dyn
                                                   : Expr(int32_t(d)));
  return shape;
}

/// Constrains `dims` (Halide order) to the dense row-major layout of the
/// MLIR-order `shape`.
template <typename Dims>
void constrainDense(Dims dimension, const std::vector<Expr> &shape) {
  Expr stride = 1;
  int rank = static_cast<int>(shape.size());
  for (int h = 0; h < rank; ++h) {
    const Expr &extent = shape[rank - 1 - h];
    dimension(h).set_min(0).set_extent(extent).set_stride(stride);
    stride = Halide::Internal::simplify(stride * extent);
  }
}

/// The types a kernel for `op` takes: elementwise ops whose operands all
/// have the result's shape (or are scalars) see one flat dimension.
bool flattenTypes(mlir::Operation *op,
                  std::vector<mlir::RankedTensorType> &operands,
                  std::vector<mlir::RankedTensorType> &results) {
  for (mlir::Value v : op->getOperands())
    operands.push_back(llvm::cast<mlir::RankedTensorType>(v.getType()));
  for (mlir::Value v : op->getResults())
    results.push_back(llvm::cast<mlir::RankedTensorType>(v.getType()));
  // A kernel of elementwise ops alone (kiln-fuse makes them all of one
  // result type) may have any number of results.
  bool elementwise;
  if (auto kernel = llvm::dyn_cast<kiln::nn::KernelOp>(op))
    elementwise = llvm::all_of(
        kernel.getBody().front().without_terminator(),
        [](mlir::Operation &inner) {
          return llvm::isa<kiln::nn::ConstantOp>(inner) ||
                 isElementwise(inner.getName().getStringRef());
        });
  else
    elementwise = isElementwise(op->getName().getStringRef()) &&
                  results.size() == 1;
  if (!elementwise || results.empty() || results[0].getRank() == 0)
    return false;
  for (mlir::RankedTensorType t : operands)
    if (t.getRank() != 0 && t.getShape() != results[0].getShape())
      return false;
  for (mlir::RankedTensorType t : results)
    if (t.getShape() != results[0].getShape())
      return false;
  auto flat = [](mlir::RankedTensorType t) {
    return t.getRank() == 0 ? t
                            : mlir::RankedTensorType::get(
                                  {mlir::ShapedType::kDynamic},
                                  t.getElementType());
  };
  for (mlir::RankedTensorType &t : operands)
    t = flat(t);
  for (mlir::RankedTensorType &t : results)
    t = flat(t);
  return true;
}

/// The attributes of `op` that define what it computes: all but where
/// kiln-plan-memory put its results.
mlir::DictionaryAttr computeAttributes(mlir::Operation *op) {
  llvm::SmallVector<mlir::NamedAttribute> attrs;
  for (mlir::NamedAttribute a : op->getAttrs())
    if (a.getName() != kiln::plan::kStorageAttr)
      attrs.push_back(a);
  return mlir::DictionaryAttr::get(op->getContext(), attrs);
}

/// Whether result `i` of `op` is planned at a cache-line boundary of the
/// step's arena (whose base is aligned too), so that the kernel computing
/// it may read it back: Halide assumes vector alignment when a pipeline
/// loads from its own output buffer. Results elsewhere (the caller's
/// arrays, the state arena) may start anywhere.
bool readableBack(mlir::Operation *op, unsigned i) {
  constexpr int64_t kCacheLine = 64;
  auto storage = kiln::plan::storageOf(op->getResult(i));
  return mlir::succeeded(storage) &&
         storage->kind == kiln::plan::Storage::Kind::Arena &&
         storage->offset.perBatch % kCacheLine == 0 &&
         storage->offset.fixed % kCacheLine == 0;
}

std::string keyOf(mlir::Operation *op,
                  const std::vector<mlir::RankedTensorType> &operands,
                  const std::vector<mlir::RankedTensorType> &results) {
  std::string key;
  llvm::raw_string_ostream os(key);
  // A kernel's identity is its body (and which outputs it may read back);
  // other ops' their name and attributes.
  if (auto kernel = llvm::dyn_cast<kiln::nn::KernelOp>(op)) {
    os << kernel.getName() << " {";
    for (mlir::Operation &inner : kernel.getBody().front())
      inner.print(os, mlir::OpPrintingFlags().useLocalScope());
    os << "} back:";
    for (unsigned i = 0; i < op->getNumResults(); ++i)
      os << readableBack(op, i);
  } else {
    os << op->getName() << " " << computeAttributes(op);
  }
  os << " (";
  for (mlir::Type t : operands)
    os << t << ",";
  os << ") -> (";
  for (mlir::Type t : results)
    os << t << ",";
  os << ")";
  return key;
}

} // namespace

struct KernelLibrary::Impl {
  Halide::Target target;
  std::map<std::string, Kernel> kernels; // by key
  llvm::StringMap<int> counts;           // kernels per op name
  std::vector<Halide::Module> modules;
  std::string suffix; // of kernel and file names: "", "_cuda", "_opencl"
};

KernelLibrary::KernelLibrary(std::unique_ptr<Impl> impl)
    : impl(std::move(impl)) {}
KernelLibrary::~KernelLibrary() = default;

/// `target` parsed ("host": this machine's), or the reason it is unusable.
static std::string parseTarget(llvm::StringRef target, Halide::Target &out) {
  if (target == "host") {
    out = Halide::get_host_target();
    return "";
  }
  if (!Halide::Target::validate_target_string(target.str()))
    return "unknown target '" + target.str() +
           "' (expected host, or a Halide target string such as "
           "x86-64-linux-avx2-fma-f16c-sse41)";
  out = Halide::Target(target.str());
  if (out.arch != Halide::Target::X86 || out.bits != 64)
    return "target '" + target.str() +
           "' is not x86-64; kiln's CPU back end emits x86-64 code only";
  if (out.has_gpu_feature())
    return "target '" + target.str() +
           "' names a GPU API; the target is the host's, and --gpu=cuda or "
           "--gpu=opencl adds GPU kernels";
  return "";
}

std::string KernelLibrary::problemWith(llvm::StringRef target,
                                       llvm::StringRef gpu) {
  Halide::Target parsed;
  if (std::string problem = parseTarget(target, parsed); !problem.empty())
    return problem;
  if (!gpu.empty() && gpu != "cuda" && gpu != "opencl")
    return "unknown GPU API '" + gpu.str() + "' (expected cuda, opencl or none)";
  return "";
}

std::unique_ptr<KernelLibrary> KernelLibrary::create(llvm::StringRef target,
                                                     mlir::Location loc,
                                                     llvm::StringRef gpu) {
  if (std::string problem = problemWith(target, gpu); !problem.empty()) {
    mlir::emitError(loc) << problem;
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  parseTarget(target, impl->target);
  impl->target = impl->target.with_feature(Halide::Target::NoRuntime);
  if (gpu == "cuda") {
    // Halide 14's highest capability; the driver JIT-compiles the PTX for
    // newer GPUs.
    impl->target = impl->target.with_feature(Halide::Target::CUDA)
                       .with_feature(Halide::Target::CUDACapability86);
  } else if (gpu == "opencl") {
    impl->target = impl->target.with_feature(Halide::Target::OpenCL);
  }
  impl->suffix = gpu.empty() ? "" : "_" + gpu.str();
  return std::unique_ptr<KernelLibrary>(new KernelLibrary(std::move(impl)));
}

std::vector<Halide::Argument> KernelPipeline::arguments() const {
  std::vector<Halide::Argument> args{dyn};
  args.insert(args.end(), operands.begin(), operands.end());
  return args;
}

/// Lowers `op` (not a kernel) with its rule; fails with a diagnostic when
/// it has none.
mlir::LogicalResult lowerOp(OpLowering &lowering) {
  const RuleTable &rules = loweringRules();
  auto rule = rules.find(lowering.op->getName().getStringRef());
  if (rule == rules.end())
    return lowering.op->emitError("no Halide lowering for '")
           << lowering.op->getName() << "' in kiln's CPU back end";
  if (mlir::failed(rule->second(lowering)))
    return mlir::failure();
  assert(lowering.results.size() == lowering.op->getNumResults() &&
         "lowering rule left results undefined");
  return mlir::success();
}

/// A scalar constant as a Func of no arguments.
Tensor constantTensor(kiln::nn::ConstantOp constant) {
  auto value = llvm::cast<mlir::DenseElementsAttr>(constant.getValue());
  Halide::Func f("constant");
  if (value.getElementType().isInteger(64)) {
    f() = Expr(value.getSplatValue<llvm::APInt>().getSExtValue());
    return {f, {}, Halide::Int(64)};
  }
  f() = Expr(value.getSplatValue<float>());
  return {f, {}, Halide::Float(32)};
}

/// The value whose Func `result`'s loop nest should compute in a kernel
/// `body`: `result` followed through its epilogue, the chain of
/// elementwise ops of its type that are each the only reader of the
/// previous value, up to a value the kernel yields.
mlir::Value epilogueEnd(mlir::Value result, mlir::Operation *yield) {
  mlir::Value v = result;
  while (!llvm::is_contained(yield->getOperands(), v) && v.hasOneUse()) {
    mlir::Operation *user = *v.getUsers().begin();
    if (user == yield || !isElementwise(user->getName().getStringRef()) ||
        user->getResult(0).getType() != v.getType())
      break;
    v = user->getResult(0);
  }
  return v;
}

/// Lowers the body of an nn.kernel: each member op's rule on the Tensors of
/// its operands; the yielded values' Funcs are the outputs. Member shapes
/// are flattened like the kernel's. Fills `fused` for the scheduler.
mlir::LogicalResult lowerKernelBody(kiln::nn::KernelOp kernel,
                                    const std::vector<Tensor> &inputs,
                                    bool flattened, const Expr &dyn,
                                    std::vector<Tensor> &outputs,
                                    FusedKernel &fused) {
  mlir::Block &body = kernel.getBody().front();
  mlir::Operation *yield = body.getTerminator();
  llvm::DenseMap<mlir::Value, Tensor> values;
  for (auto [arg, input] : llvm::zip(body.getArguments(), inputs))
    values[arg] = input;
  std::vector<OpLowering> stages;
  for (mlir::Operation &inner : body.without_terminator()) {
    if (auto constant = llvm::dyn_cast<kiln::nn::ConstantOp>(inner)) {
      values[constant.getResult()] = constantTensor(constant);
      continue;
    }
    OpLowering lowering{&inner, {}, {}, {}, {}, {}, {}};
    for (mlir::Value v : inner.getOperands())
      lowering.operands.push_back(values[v]);
    for (mlir::Value r : inner.getResults()) {
      auto type = llvm::cast<mlir::RankedTensorType>(r.getType());
      bool flat = flattened && type.getRank() > 0;
      lowering.resultShapes.push_back(flat ? std::vector<Expr>{dyn}
                                           : shapeOf(type, dyn));
    }
    if (mlir::failed(lowerOp(lowering)))
      return mlir::failure();
    for (auto [r, t] : llvm::zip(inner.getResults(), lowering.results))
      values[r] = t;
    bool elementwise = isElementwise(inner.getName().getStringRef());
    if (elementwise && lowering.results[0].rank() == 0)
      fused.scalars.push_back(lowering.results[0].func);
    else if (!elementwise)
      stages.push_back(std::move(lowering));
  }

  // A yielded value is computed straight into its output, unless another
  // member reads it and the output may not be read back (readableBack):
  // then the output is a copy (or a recomputation) of it.
  mlir::OperandRange yielded = yield->getOperands();
  llvm::DenseSet<mlir::Value> direct;
  for (auto [i, v] : llvm::enumerate(yielded)) {
    Tensor t = values[v];
    bool readInside =
        !readableBack(kernel, i) &&
        llvm::any_of(v.getUsers(),
                     [&](mlir::Operation *u) { return u != yield; });
    bool first = llvm::find(yielded, v) == yielded.begin() + i;
    if (readInside || !first) {
      Tensor copy{Halide::Func("out" + std::to_string(i)), t.shape, t.type};
      std::vector<Halide::Var> vars = makeVars(t.rank());
      define(copy.func, vars, t(std::vector<Expr>(vars.begin(), vars.end())));
      t = copy;
    } else {
      direct.insert(v);
    }
    outputs.push_back(t);
  }

  // Each stage computes its epilogue's last value, into an output or a
  // buffer of the kernel's own; the other outputs are elementwise loops.
  llvm::DenseSet<mlir::Value> computedByStage;
  for (OpLowering &stage : stages) {
    mlir::Value end = epilogueEnd(stage.op->getResult(0), yield);
    // Two stages whose epilogues meet (the sum of two reductions' values):
    // the first computes the shared chain; the other stores its own value.
    if (computedByStage.count(end))
      end = stage.op->getResult(0);
    stage.results[0] = values[end];
    computedByStage.insert(end);
    fused.internal.push_back(!direct.count(end));
    fused.stages.push_back(std::move(stage));
  }
  for (auto [i, v] : llvm::enumerate(yielded)) {
    if (direct.count(v) && computedByStage.count(v))
      continue;
    fused.elementwiseOutputs.push_back(outputs[i]);
    fused.readInside.push_back(
        direct.count(v) && llvm::any_of(v.getUsers(), [&](mlir::Operation *u) {
          return u != yield;
        }));
  }
  return mlir::success();
}

mlir::FailureOr<KernelPipeline>
kiln::codegen::buildKernelPipeline(mlir::Operation *op,
                                   const Halide::Target &target) {
  std::vector<mlir::RankedTensorType> operandTypes, resultTypes;
  KernelPipeline kernel;
  kernel.flattened = flattenTypes(op, operandTypes, resultTypes);
  try {
    std::vector<Tensor> inputs;
    for (auto [i, type] : llvm::enumerate(operandTypes)) {
      Halide::ImageParam param(halideType(type.getElementType()),
                               int(type.getRank()), "in" + std::to_string(i));
      std::vector<Expr> shape = shapeOf(type, kernel.dyn);
      constrainDense([&](int h) { return param.dim(h); }, shape);
      Halide::Func wrapper("operand" + std::to_string(i));
      std::vector<Halide::Var> vars = makeVars(int(type.getRank()));
      std::vector<Halide::Var> order = halideOrder(vars);
      define(wrapper, vars, param(std::vector<Expr>(order.begin(), order.end())));
      inputs.push_back(Tensor{wrapper, shape, halideType(type.getElementType())});
      kernel.operands.push_back(param);
    }

    std::vector<Tensor> outputs;
    OpLowering lowering{op, inputs, {}, {}, {}, {}, {}};
    FusedKernel fusedSchedule;
    auto fused = llvm::dyn_cast<kiln::nn::KernelOp>(op);
    if (fused) {
      if (mlir::failed(lowerKernelBody(fused, inputs, kernel.flattened,
                                       kernel.dyn, outputs, fusedSchedule)))
        return mlir::failure();
    } else {
      for (mlir::RankedTensorType type : resultTypes)
        lowering.resultShapes.push_back(shapeOf(type, kernel.dyn));
      if (mlir::failed(lowerOp(lowering)))
        return mlir::failure();
      outputs = lowering.results;
    }

    std::vector<Halide::Func> funcs;
    for (Tensor &t : outputs) {
      Halide::OutputImageParam buffer = t.func.output_buffer();
      constrainDense([&](int h) { return buffer.dim(h); }, t.shape);
      funcs.push_back(t.func);
    }
    bool gpu = target.has_gpu_feature();
    if (fused && gpu)
      scheduleFusedForGPU(fusedSchedule);
    else if (fused)
      scheduleFusedForCPU(fusedSchedule, target);
    else if (gpu)
      scheduleForGPU(lowering);
    else
      scheduleForCPU(lowering, target);
    kernel.pipeline = Halide::Pipeline(funcs);
  } catch (const Halide::Error &e) {
    return op->emitError("Halide rejected the kernel for this op: ")
           << e.what();
  }
  return kernel;
}

mlir::FailureOr<const Kernel *> KernelLibrary::get(mlir::Operation *op) {
  std::vector<mlir::RankedTensorType> operandTypes, resultTypes;
  bool flattened = flattenTypes(op, operandTypes, resultTypes);
  std::string key = keyOf(op, operandTypes, resultTypes);
  auto found = impl->kernels.find(key);
  if (found != impl->kernels.end())
    return &found->second;

  auto pipeline = buildKernelPipeline(op, impl->target);
  if (mlir::failed(pipeline))
    return mlir::failure();
  auto fused = llvm::dyn_cast<kiln::nn::KernelOp>(op);
  std::string opName = fused ? "fused_" + fused.getName().str()
                             : op->getName().stripDialect().str();
  std::string name = opName + "_" + std::to_string(impl->counts[opName]++) +
                     impl->suffix;
  try {
    impl->modules.push_back(pipeline->pipeline.compile_to_module(
        pipeline->arguments(), name, impl->target));
  } catch (const Halide::Error &e) {
    return op->emitError("Halide rejected the kernel for this op: ")
           << e.what();
  }
  Kernel &kernel = impl->kernels[key];
  kernel.name = name;
  kernel.flattened = flattened;
  return &kernel;
}

mlir::FailureOr<std::vector<std::string>>
KernelLibrary::compile(const std::string &dir, mlir::Location loc,
                       const std::string &assembly) {
  std::string stem = dir + "/" + fileStem();
  std::vector<std::string> objects;
  try {
    if (!impl->target.has_gpu_feature()) {
      Halide::Module all =
          Halide::link_modules("kiln_kernels" + impl->suffix, impl->modules);
      // 16-lane sqrt and floor for Halide's x86 runtime (x86_avx512.ll,
      // whose data layout is x86-64 Linux's).
      if (impl->target.os == Halide::Target::Linux)
        all.append(Halide::ExternalCode::bitcode_wrapper(
            impl->target, x86Avx512Bitcode(), "kiln_x86_avx512"));
      std::map<Halide::OutputFileType, std::string> outputs{
          {Halide::OutputFileType::object, stem + ".o"},
          {Halide::OutputFileType::c_header, stem + ".h"}};
      if (!assembly.empty())
        outputs[Halide::OutputFileType::assembly] = assembly;
      all.compile(outputs);
      return std::vector<std::string>{stem + ".o"};
    }
    // GPU modules are compiled one object each: Halide 14's link_modules
    // mixes up their device code (a kernel then cannot be found by name).
    std::error_code ec;
    llvm::raw_fd_ostream header(stem + ".h", ec);
    if (ec)
      return mlir::emitError(loc) << "cannot write " << stem << ".h: "
                                  << ec.message();
    for (auto [i, module] : llvm::enumerate(impl->modules)) {
      std::string part = stem + "_" + std::to_string(i);
      module.compile({{Halide::OutputFileType::object, part + ".o"},
                      {Halide::OutputFileType::c_header, part + ".h"}});
      objects.push_back(part + ".o");
      header << "#include \"" << llvm::sys::path::filename(part) << ".h\"\n";
    }
  } catch (const Halide::Error &e) {
    return mlir::emitError(loc) << "Halide failed to compile the kernels: "
                                << e.what();
  }
  return objects;
}

mlir::LogicalResult KernelLibrary::compileRuntime(const std::string &path,
                                                  mlir::Location loc,
                                                  const KernelLibrary *gpu) const {
  Halide::Target runtime =
      impl->target.without_feature(Halide::Target::NoRuntime);
  if (gpu)
    for (auto feature : {Halide::Target::CUDA, Halide::Target::OpenCL})
      if (gpu->impl->target.has_feature(feature))
        runtime = runtime.with_feature(feature);
  try {
    Halide::compile_standalone_runtime(path, runtime);
  } catch (const Halide::Error &e) {
    return mlir::emitError(loc) << "Halide failed to compile its runtime: "
                                << e.what();
  }
  return mlir::success();
}

std::string KernelLibrary::suffix() const { return impl->suffix; }

std::string KernelLibrary::fileStem() const { return "kernels" + suffix(); }

void KernelLibrary::printStmt(llvm::raw_ostream &os) const {
  for (const Halide::Module &m : impl->modules) {
    std::ostringstream text;
    text << m;
    os << text.str() << "\n";
  }
}

std::string KernelLibrary::targetString() const {
  return impl->target.without_feature(Halide::Target::NoRuntime).to_string();
}

size_t KernelLibrary::size() const { return impl->kernels.size(); }

mlir::LogicalResult KernelLibrary::addPeakKernel(mlir::Location loc) {
  // Independent chains per thread, so each thread issues FMAs back to back
  // instead of waiting on one chain's latency.
  constexpr int kChains = 8;
  Halide::Var x("x");
  Halide::RDom r(0, kPeakFmaSteps, "step");
  std::vector<Expr> init, next;
  for (int c = 0; c < kChains; ++c)
    init.push_back(Halide::cast<float>(x) * 1e-9f + float(c));
  Halide::Func chains("chains");
  chains(x) = Halide::Tuple(init);
  for (int c = 0; c < kChains; ++c)
    // r enters only as 0, but makes the update a loop of kPeakFmaSteps.
    next.push_back(chains(x)[c] * 0.999f + (0.001f + Halide::cast<float>(r.x * 0)));
  chains(x) = Halide::Tuple(next);
  Halide::Func out("peak_fma");
  Expr sum = chains(x)[0];
  for (int c = 1; c < kChains; ++c)
    sum = sum + chains(x)[c];
  out(x) = sum;
  Halide::Var block("block"), thread("thread");
  out.gpu_tile(x, block, thread, 256, Halide::TailStrategy::GuardWithIf);
  chains.compute_at(out, thread);
  try {
    impl->modules.push_back(Halide::Pipeline(out).compile_to_module(
        {}, "kiln_peak_fma" + impl->suffix, impl->target));
  } catch (const Halide::Error &e) {
    return mlir::emitError(loc) << "Halide rejected the peak FMA kernel: "
                                << e.what();
  }
  return mlir::success();
}
