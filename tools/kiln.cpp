//===- kiln.cpp - the kiln compiler driver ----------------------*- C++ -*-===//
//
// Part of kiln. `kiln model.kiln -o trainer` compiles a model into a
// standalone training executable. `--emit=STAGE` stops at STAGE and prints
// it instead: `ast` (the parsed and checked model), `nn` (the model in the
// nn dialect after the frontend pipeline), `train` (with @train_step and
// @eval_step: gradients and the optimizer update as nn ops), `kernels` (the
// same after kiln-fuse: nn.kernel groups), `dot` (that graph for Graphviz,
// kernels as clusters), `halide` (each
// kernel's lowered Halide statement), `cpp` (the generated step program).
// Input errors are printed as file:line:col diagnostics with the source line
// and a caret, and the exit code is 1; MLIR's IR-printing flags
// (--mlir-print-ir-after-all, ...) work here as in kiln-opt.
//
// `kiln bench model.kiln` builds the fused and the --no-fusion trainer into
// a temporary directory with the same build path and runs both trainers'
// `bench` command in one run: the --no-fusion one first (it measures the
// machine's roofline peaks), then the fused one with those peaks and the
// first report as its baseline, so it prints the side-by-side summary and
// writes the combined --json and --html (runtime/TrainerBench.cpp).
//
//===----------------------------------------------------------------------===//

#include "codegen/BuildTrainer.h"
#include "codegen/Kernels.h"
#include "codegen/StepProgram.h"
#include "frontend/AST.h"
#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "ir/NNDialect.h"
#include "passes/Pipelines.h"
#include "tools/EmitDot.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace llvm;

namespace {
enum class Stage { AST, NN, Train, Kernels, Dot, Halide, Cpp, Exe };

// --help lists these alone, not the flags LLVM and MLIR register (those
// still work, and --help-hidden lists them).
cl::OptionCategory kilnOptions("kiln options");

cl::SubCommand benchCommand(
    "bench", "Build the fused and the --no-fusion trainer of a model and time "
             "every kernel of both training steps, side by side");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.kiln>"),
                               cl::Required, cl::cat(kilnOptions));
cl::opt<std::string>
    outputFile("o",
               cl::desc("Output file (default: the trainer is written to the "
                        "model file's name without .kiln, in the current "
                        "directory; other --emit stages print to stdout)"),
               cl::value_desc("file"), cl::cat(kilnOptions));
cl::opt<Stage>
    emit("emit", cl::desc("Stage to stop at"), cl::init(Stage::Exe),
         cl::values(clEnumValN(Stage::AST, "ast", "the checked syntax tree"),
                    clEnumValN(Stage::NN, "nn", "the model in the nn dialect"),
                    clEnumValN(Stage::Train, "train",
                               "@train_step and @eval_step in the nn dialect"),
                    clEnumValN(Stage::Kernels, "kernels",
                               "the train IR after fusion (nn.kernel groups)"),
                    clEnumValN(Stage::Dot, "dot",
                               "the fused step functions as a Graphviz graph"),
                    clEnumValN(Stage::Halide, "halide",
                               "each kernel's lowered Halide statement"),
                    clEnumValN(Stage::Cpp, "cpp", "the generated step program"),
                    clEnumValN(Stage::Exe, "exe",
                               "the trainer executable (the default)")),
         cl::cat(kilnOptions));
cl::opt<std::string> target(
    "target",
    cl::desc("Halide target of the kernels: host (default), or e.g. "
             "x86-64-linux-avx2-fma-f16c-sse41, x86-64-linux-avx512_skylake"
             "-avx2-fma-f16c-sse41-avx, x86-64-linux (portable SSE2)"),
    cl::init("host"), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<std::string> gpu(
    "gpu",
    cl::desc("GPU API the trainer's kernels are also compiled for, run with "
             "`trainer --device <api>`: cuda (the default), opencl, or none"),
    cl::init("cuda"), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<bool> noFusion("no-fusion",
                       cl::desc("One kernel per op (to compare with the "
                                "fused trainer)"),
                       cl::cat(kilnOptions));
cl::opt<bool> explainFusion(
    "explain-fusion",
    cl::desc("Print each fused kernel's ops with their model lines, and why "
             "each elementwise op that stayed apart was not fused"),
    cl::cat(kilnOptions));
cl::opt<std::string> dumpDir(
    "dump-dir",
    cl::desc("Write every stage to this directory: the AST, the IR after "
             "each pass, the fused IR, and with a trainer build the kernels' "
             "Halide statements and assembly and the step program; "
             "index.txt lists them in order"),
    cl::value_desc("dir"), cl::cat(kilnOptions));
cl::opt<bool> keepTemps("keep-temps",
                        cl::desc("Keep the trainer's build directory (kernel "
                                 "objects, headers, step.cpp)"),
                        cl::cat(kilnOptions));

cl::opt<std::string> benchInput(cl::Positional, cl::desc("<model.kiln>"),
                                cl::Required, cl::sub(benchCommand),
                                cl::cat(kilnOptions));
cl::opt<int> benchBatch(
    "batch", cl::desc("Samples per step (default: the train block's batch)"),
    cl::value_desc("N"), cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<int> benchSteps(
    "steps", cl::desc("Steps to time, and as many again per kernel (100)"),
    cl::value_desc("N"), cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<int> benchThreads(
    "threads", cl::desc("Threads the kernels may use (0: one per core)"),
    cl::value_desc("N"), cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<std::string> benchDevice(
    "device",
    cl::desc("Where the trainers run: cpu (the default), cuda or opencl "
             "(their kernels are then built for that GPU API)"),
    cl::init("cpu"), cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<double> benchPeakGflops(
    "peak-gflops", cl::desc("The roofline's compute peak (default: measured)"),
    cl::value_desc("GFLOP/s"), cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<double> benchPeakGbs(
    "peak-gbs", cl::desc("The roofline's bandwidth (default: measured)"),
    cl::value_desc("GB/s"), cl::sub(benchCommand), cl::cat(kilnOptions));
cl::opt<std::string>
    benchJson("json", cl::desc("Write both reports as JSON (docs/trainer.md)"),
              cl::value_desc("file"), cl::sub(benchCommand),
              cl::cat(kilnOptions));
cl::opt<std::string> benchHtml(
    "html", cl::desc("Write both reports as one HTML page with SVG charts"),
    cl::value_desc("file"), cl::sub(benchCommand), cl::cat(kilnOptions));
std::string argv0;
} // namespace

/// Writes --dump-dir's index.txt: every file there, in the order the
/// compiler produced them.
/// --gpu as KernelLibrary and TrainerOptions take it: empty for none.
static std::string gpuApi() { return gpu == "none" ? "" : gpu.getValue(); }

static void writeDumpIndex() {
  std::vector<std::string> irFiles;
  std::error_code ec;
  for (sys::fs::recursive_directory_iterator it(dumpDir + "/ir", ec), end;
       it != end && !ec; it.increment(ec))
    if (it->type() == sys::fs::file_type::regular_file)
      irFiles.push_back(it->path().substr(dumpDir.size() + 1));
  // Files are named <pass index>_<pass>.mlir: order by that index.
  auto indexOf = [](const std::string &path) {
    return std::atoi(sys::path::filename(path).str().c_str());
  };
  llvm::sort(irFiles, [&](const std::string &a, const std::string &b) {
    return indexOf(a) < indexOf(b);
  });
  raw_fd_ostream index(dumpDir + "/index.txt", ec);
  if (ec)
    return;
  index << "ast.txt          the checked syntax tree\n";
  for (const std::string &f : irFiles)
    index << f << "    IR after that pass\n";
  index << "module.mlir      the IR code generation starts from (nn.kernel "
           "groups when fused)\n";
  if (emit == Stage::Exe)
    index << "kernels.stmt     each kernel's lowered Halide statement\n"
             "kernels.s        the kernels' assembly\n"
             "step.cpp         the generated step program\n";
}

/// Runs the compiler on the file held by `sourceMgr` and writes the chosen
/// stage to `os`. Returns failure after printing diagnostics.
static mlir::LogicalResult compile(SourceMgr &sourceMgr, raw_ostream &os) {
  std::unique_ptr<kiln::ast::File> file =
      kiln::parseFile(sourceMgr, sourceMgr.getMainFileID());
  if (!file || !kiln::checkFile(*file, sourceMgr))
    return mlir::failure();
  if (emit == Stage::AST) {
    kiln::ast::print(*file, os, sourceMgr);
    return mlir::success();
  }
  if (!dumpDir.empty()) {
    std::error_code ec = sys::fs::create_directories(dumpDir);
    if (!ec && !sys::fs::is_directory(dumpDir))
      ec = std::make_error_code(std::errc::not_a_directory);
    if (ec) {
      errs() << "kiln: cannot create " << dumpDir << ": " << ec.message()
             << "\n";
      return mlir::failure();
    }
    raw_fd_ostream ast(dumpDir + "/ast.txt", ec);
    if (!ec)
      kiln::ast::print(*file, ast, sourceMgr);
  }
  // The trainer is linked last: say now, not after compiling, that it
  // cannot be written there (--dump-dir may just have made its directory).
  if (emit == Stage::Exe && !outputFile.empty()) {
    StringRef dir = sys::path::parent_path(outputFile.getValue());
    if (!dir.empty() && !sys::fs::is_directory(dir)) {
      errs() << "kiln: cannot write " << outputFile << ": " << dir
             << " is not a directory\n";
      return mlir::failure();
    }
  }

  mlir::MLIRContext context;
  context.loadDialect<kiln::nn::NNDialect, mlir::func::FuncDialect>();
  // Diagnostics point at the model's source; the IR is for --emit.
  context.printOpOnDiagnostic(false);
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      kiln::mlirGen(context, *file, sourceMgr);
  if (!module)
    return mlir::failure();

  mlir::PassManager pm(&context);
  if (mlir::failed(mlir::applyPassManagerCLOptions(pm)))
    return mlir::failure();
  if (emit == Stage::NN)
    kiln::buildFrontendPipeline(pm);
  else if (emit == Stage::Train)
    kiln::buildTrainPipeline(pm);
  else
    kiln::buildCodegenPipeline(pm, /*fuse=*/!noFusion, explainFusion);
  if (!dumpDir.empty()) {
    context.disableMultithreading(); // MLIR's IR printing requires it
    pm.enableIRPrintingToFileTree(
        [](mlir::Pass *, mlir::Operation *) { return false; },
        [](mlir::Pass *, mlir::Operation *) { return true; },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, dumpDir + "/ir");
  }
  if (mlir::failed(pm.run(*module)))
    return mlir::failure();
  if (!dumpDir.empty()) {
    std::error_code ec;
    raw_fd_ostream fused(dumpDir + "/module.mlir", ec);
    if (!ec)
      module->print(fused);
    writeDumpIndex();
  }
  if (emit == Stage::Dot) {
    kiln::emitDot(*module, os);
    return mlir::success();
  }
  if (emit == Stage::NN || emit == Stage::Train || emit == Stage::Kernels) {
    module->print(os);
    return mlir::success();
  }
  if (emit == Stage::Exe) {
    kiln::codegen::TrainerOptions options;
    options.output = outputFile.empty()
                         ? sys::path::stem(inputFile).str()
                         : outputFile.getValue();
    options.source = inputFile;
    options.target = target;
    options.gpu = gpuApi();
    options.keepTemps = keepTemps;
    options.kilnExecutable = argv0;
    options.dumpDir = dumpDir;
    return kiln::codegen::buildTrainer(*module, options);
  }
  auto kernels = kiln::codegen::KernelLibrary::create(target, module->getLoc());
  if (!kernels)
    return mlir::failure();
  std::unique_ptr<kiln::codegen::KernelLibrary> gpuKernels;
  if (!gpuApi().empty() && !(gpuKernels = kiln::codegen::KernelLibrary::create(
                                 target, module->getLoc(), gpuApi())))
    return mlir::failure();
  std::string program;
  raw_string_ostream programStream(program);
  if (mlir::failed(kiln::codegen::emitStepProgram(
          *module, *kernels, gpuKernels.get(), inputFile, programStream)))
    return mlir::failure();
  if (emit == Stage::Cpp) {
    os << program;
  } else {
    kernels->printStmt(os);
    if (gpuKernels)
      gpuKernels->printStmt(os);
  }
  return mlir::success();
}

/// The options `kiln bench` passes on to both trainers' bench command.
static std::vector<std::string> benchArguments() {
  std::vector<std::string> args = {"bench"};
  auto pass = [&](const char *flag, const std::string &value) {
    args.push_back(std::string("--") + flag);
    args.push_back(value);
  };
  if (benchBatch.getNumOccurrences())
    pass("batch", std::to_string(benchBatch.getValue()));
  if (benchSteps.getNumOccurrences())
    pass("steps", std::to_string(benchSteps.getValue()));
  if (benchThreads.getNumOccurrences())
    pass("threads", std::to_string(benchThreads.getValue()));
  pass("device", benchDevice);
  return args;
}

/// Runs `trainer` with `args`, its output going to ours.
static bool runTrainer(const std::string &trainer,
                       const std::vector<std::string> &args) {
  std::vector<StringRef> argv = {trainer};
  argv.insert(argv.end(), args.begin(), args.end());
  outs().flush();
  std::string why;
  int status = sys::ExecuteAndWait(trainer, argv, std::nullopt, {}, 0, 0, &why);
  if (status == 0)
    return true;
  errs() << "kiln: " << trainer << " bench failed"
         << (why.empty() ? " (exit status " + std::to_string(status) + ")"
                         : ": " + why)
         << "\n";
  return false;
}

/// Reads the measured peaks from the --no-fusion trainer's report.
static bool readPeaks(const std::string &path, double &gflops, double &gbs) {
  auto buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    return errs() << "kiln: cannot read " << path << "\n", false;
  Expected<json::Value> report = json::parse((*buffer)->getBuffer());
  const json::Object *peak =
      report && report->getAsObject()
          ? report->getAsObject()->getObject("peak")
          : nullptr;
  std::optional<double> g = peak ? peak->getNumber("gflops") : std::nullopt,
                        b = peak ? peak->getNumber("gbs") : std::nullopt;
  if (!report)
    consumeError(report.takeError());
  if (!g || !b)
    return errs() << "kiln: " << path << " has no peak.gflops and peak.gbs\n",
           false;
  gflops = *g;
  gbs = *b;
  return true;
}

/// `kiln bench`: see the file comment.
static int runBenchCommand() {
  auto atLeast = [](cl::opt<int> &option, int min) {
    if (!option.getNumOccurrences() || option >= min)
      return true;
    errs() << "kiln: --" << option.ArgStr << " expects an integer >= " << min
           << ", not " << option.getValue() << "\n";
    return false;
  };
  auto positive = [](cl::opt<double> &option) {
    if (!option.getNumOccurrences() || option > 0)
      return true;
    errs() << "kiln: --" << option.ArgStr << " expects a number > 0, not "
           << option.getValue() << "\n";
    return false;
  };
  // LLVM lets a subcommand see the top-level options; bench chooses what
  // they would (both trainers, where they are written), so none applies.
  for (cl::Option *option : std::initializer_list<cl::Option *>{
           &outputFile, &emit, &noFusion, &explainFusion, &dumpDir,
           &keepTemps}) {
    if (option->getNumOccurrences()) {
      errs() << "kiln: bench does not take --" << option->ArgStr
             << " (it builds the fused and the --no-fusion trainer itself; "
                "see 'kiln bench --help')\n";
      return 1;
    }
  }
  if (!atLeast(benchBatch, 1) || !atLeast(benchSteps, 1) ||
      !atLeast(benchThreads, 0) || !positive(benchPeakGflops) ||
      !positive(benchPeakGbs))
    return 1;

  SmallString<128> dir;
  if (std::error_code ec = sys::fs::createUniqueDirectory("kiln-bench", dir)) {
    errs() << "kiln: cannot create a temporary directory: " << ec.message()
           << "\n";
    return 1;
  }
  std::string fused = (dir + "/fused").str(), unfused = (dir + "/unfused").str(),
              unfusedJson = (dir + "/unfused.json").str();
  // Both trainers come from compile()'s trainer build, as `kiln -o` does,
  // with kernels for the device they run on.
  inputFile = benchInput.getValue();
  emit = Stage::Exe;
  if (benchDevice != "cpu" && benchDevice != "cuda" && benchDevice != "opencl") {
    errs() << "kiln: --device expects cpu, cuda or opencl, not " << benchDevice
           << "\n";
    return 1;
  }
  gpu = benchDevice == "cpu" ? "none" : benchDevice.getValue();
  auto build = [&](const std::string &output, bool unfusedBuild) {
    outputFile = output;
    noFusion = unfusedBuild;
    std::string error;
    std::unique_ptr<MemoryBuffer> input =
        mlir::openInputFile(inputFile, &error);
    if (!input) {
      errs() << "kiln: " << error << "\n";
      return false;
    }
    SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
    return mlir::succeeded(compile(sourceMgr, nulls()));
  };
  bool ok = build(fused, false) && build(unfused, true);

  std::vector<std::string> args = benchArguments();
  if (ok) {
    // The --no-fusion trainer measures the peaks (unless given), once.
    std::vector<std::string> first = args;
    if (benchPeakGflops.getNumOccurrences())
      first.insert(first.end(), {"--peak-gflops",
                                 std::to_string(benchPeakGflops.getValue())});
    if (benchPeakGbs.getNumOccurrences())
      first.insert(first.end(),
                   {"--peak-gbs", std::to_string(benchPeakGbs.getValue())});
    first.insert(first.end(), {"--json", unfusedJson});
    outs() << "== " << benchInput << " built with --no-fusion\n";
    ok = runTrainer(unfused, first);
  }
  double gflops = 0, gbs = 0;
  if (ok)
    ok = readPeaks(unfusedJson, gflops, gbs);
  if (ok) {
    std::vector<std::string> second = args;
    second.insert(second.end(),
                  {"--peak-gflops", std::to_string(gflops), "--peak-gbs",
                   std::to_string(gbs), "--baseline", unfusedJson});
    if (!benchJson.empty())
      second.insert(second.end(), {"--json", benchJson});
    if (!benchHtml.empty())
      second.insert(second.end(), {"--html", benchHtml});
    outs() << "\n== " << benchInput << " fused\n";
    ok = runTrainer(fused, second);
  }
  sys::fs::remove_directories(dir);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "kiln " KILN_VERSION " (MLIR/LLVM " LLVM_VERSION_STRING
          ", Halide 14)\n";
  });
  cl::HideUnrelatedOptions(kilnOptions);
  cl::HideUnrelatedOptions(kilnOptions, benchCommand);
  cl::ParseCommandLineOptions(argc, argv, "kiln: neural-network compiler\n");
  argv0 = argv[0];
  // The kernels' targets, checked before anything is compiled.
  if (std::string problem =
          kiln::codegen::KernelLibrary::problemWith(target, gpuApi());
      !problem.empty()) {
    errs() << "kiln: error: " << problem << "\n";
    return 1;
  }
  if (benchCommand)
    return runBenchCommand();

  std::string error;
  std::unique_ptr<MemoryBuffer> input = mlir::openInputFile(inputFile, &error);
  if (!input) {
    errs() << "kiln: " << error << "\n";
    return 1;
  }
  // The trainer is written by the build; every other stage prints.
  std::string printTo = emit == Stage::Exe ? "-"
                        : outputFile.empty() ? "-"
                                             : outputFile.getValue();
  std::unique_ptr<ToolOutputFile> output = mlir::openOutputFile(printTo, &error);
  if (!output) {
    errs() << "kiln: " << error << "\n";
    return 1;
  }

  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  if (mlir::failed(compile(sourceMgr, output->os())))
    return 1;
  output->keep();
  return 0;
}
