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
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace llvm;

namespace {
enum class Stage { AST, NN, Train, Kernels, Dot, Halide, Cpp, Exe };

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.kiln>"),
                               cl::Required);
cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"));
cl::opt<Stage> emit(
    "emit", cl::desc("Stage to stop at"), cl::init(Stage::Exe),
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
                          "the trainer executable (the default)")));
cl::opt<std::string> target(
    "target",
    cl::desc("Halide target of the kernels: host (default), or e.g. "
             "x86-64-linux-avx2-fma-f16c-sse41, x86-64-linux-avx512_skylake"
             "-avx2-fma-f16c-sse41-avx, x86-64-linux (portable SSE2)"),
    cl::init("host"));
cl::opt<bool> noFusion("no-fusion",
                       cl::desc("One kernel per op (to compare with the "
                                "fused trainer)"));
cl::opt<bool> explainFusion(
    "explain-fusion",
    cl::desc("Print each fused kernel's ops with their model lines, and why "
             "each elementwise op that stayed apart was not fused"));
cl::opt<std::string> dumpDir(
    "dump-dir",
    cl::desc("Write every stage to this directory: the AST, the IR after "
             "each pass, the fused IR, and with a trainer build the kernels' "
             "Halide statements and assembly and the step program; "
             "index.txt lists them in order"),
    cl::value_desc("dir"));
cl::opt<bool> keepTemps("keep-temps",
                        cl::desc("Keep the trainer's build directory (kernel "
                                 "objects, headers, step.cpp)"));
std::string argv0;
} // namespace

/// Writes --dump-dir's index.txt: every file there, in the order the
/// compiler produced them.
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
    if (std::error_code ec = sys::fs::create_directories(dumpDir)) {
      errs() << "kiln: cannot create " << dumpDir << ": " << ec.message()
             << "\n";
      return mlir::failure();
    }
    std::error_code ec;
    raw_fd_ostream ast(dumpDir + "/ast.txt", ec);
    if (!ec)
      kiln::ast::print(*file, ast, sourceMgr);
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
    options.keepTemps = keepTemps;
    options.kilnExecutable = argv0;
    options.dumpDir = dumpDir;
    return kiln::codegen::buildTrainer(*module, options);
  }
  auto kernels = kiln::codegen::KernelLibrary::create(target, module->getLoc());
  if (!kernels)
    return mlir::failure();
  std::string program;
  raw_string_ostream programStream(program);
  if (mlir::failed(kiln::codegen::emitStepProgram(*module, *kernels,
                                                  inputFile, programStream)))
    return mlir::failure();
  if (emit == Stage::Cpp)
    os << program;
  else
    kernels->printStmt(os);
  return mlir::success();
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "kiln: neural-network compiler\n");
  argv0 = argv[0];

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
