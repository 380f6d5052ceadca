//===- kiln-run.cpp - run an nn function with the reference evaluator -*- C++
//-*-===//
//
// Part of kiln.
//   kiln-run model.mlir --function=NAME --inputs=in.safetensors
//            [--outputs=out.safetensors] [--precision=f64|f32]
//   kiln-run model.mlir --function=NAME --random-inputs [--batch=N]
// evaluates one func.func of an nn-dialect module with the reference
// evaluator (Evaluator.h). Arguments are read by name (Inputs.h) from a
// safetensors file or made deterministically from runtime/Random.h; results
// are written by name (as F64, or F32 with --precision=f32) and printed as
// name, shape, sum and first values. With --steps=K the function runs K
// times, each run's results fed back into the arguments of the same name
// (updated parameters, buffers and optimizer state), printing the loss.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "runtime/Safetensors.h"
#include "tools/kiln-run/Evaluator.h"
#include "tools/kiln-run/Inputs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

using namespace llvm;
using kiln::eval::Precision;
using kiln::eval::Tensor;

namespace {
// --help lists these alone, not the flags LLVM and MLIR register.
cl::OptionCategory runOptions("kiln-run options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<module.mlir>"),
                               cl::init("-"), cl::cat(runOptions));
cl::opt<std::string> function("function",
                              cl::desc("Function to run (default: the only "
                                       "one in the module)"),
                              cl::cat(runOptions));
cl::opt<std::string> inputsPath("inputs",
                                cl::desc("Arguments by name (.safetensors)"),
                                cl::cat(runOptions));
cl::opt<std::string> outputsPath("outputs",
                                 cl::desc("Write results by name here"),
                                 cl::cat(runOptions));
cl::opt<bool> randomInputs("random-inputs",
                           cl::desc("Make deterministic random arguments"),
                           cl::cat(runOptions));
cl::opt<bool> initialize(
    "initialize",
    cl::desc("With --random-inputs: parameters and buffers from their "
             "initializers (nn.init) under --seed, as a trainer starts"),
    cl::cat(runOptions));
cl::opt<int64_t> batch("batch",
                       cl::desc("Dynamic dimensions with --random-inputs"),
                       cl::init(8), cl::cat(runOptions));
cl::opt<uint64_t> seed("seed", cl::desc("Dropout seed with --random-inputs"),
                       cl::init(0), cl::cat(runOptions));
cl::opt<unsigned> steps("steps", cl::desc("Runs, feeding results back"),
                        cl::init(1), cl::cat(runOptions));
cl::opt<Precision>
    precision("precision", cl::desc("Type every op computes in"),
              cl::values(clEnumValN(Precision::F64, "f64", "double (default)"),
                         clEnumValN(Precision::F32, "f32", "float")),
              cl::init(Precision::F64), cl::cat(runOptions));
} // namespace

static void print(StringRef name, const Tensor &t) {
  outs() << name << " [";
  for (size_t i = 0; i < t.shape.size(); ++i)
    outs() << (i ? "x" : "") << t.shape[i];
  double sum = 0;
  for (int64_t i = 0; i < t.numel(); ++i)
    sum += t.isInteger ? double(t.ints[i]) : t.values[i];
  outs() << "] sum=" << format("%.9g", sum) << " values:";
  for (int64_t i = 0; i < std::min<int64_t>(t.numel(), 6); ++i) {
    if (t.isInteger)
      outs() << " " << t.ints[i];
    else
      outs() << " " << format("%.9g", t.values[i]);
  }
  outs() << (t.numel() > 6 ? " ...\n" : "\n");
}

static mlir::func::FuncOp findFunction(mlir::ModuleOp module) {
  if (!function.empty()) {
    auto func = module.lookupSymbol<mlir::func::FuncOp>(function);
    if (!func)
      errs() << "kiln-run: no function @" << function << " in " << inputFile
             << "\n";
    return func;
  }
  auto funcs = module.getOps<mlir::func::FuncOp>();
  if (std::distance(funcs.begin(), funcs.end()) == 1)
    return *funcs.begin();
  errs() << "kiln-run: " << inputFile
         << " has several functions; choose one with --function\n";
  return nullptr;
}

static mlir::FailureOr<std::vector<Tensor>>
loadArguments(mlir::func::FuncOp func) {
  if (randomInputs) {
    auto args = kiln::eval::randomInputs(func, batch, seed);
    if (mlir::succeeded(args) && initialize &&
        mlir::failed(kiln::eval::initializeParameters(func, *args, seed)))
      return mlir::failure();
    return args;
  }
  kiln::rt::SafetensorsFile file;
  std::string error;
  if (!kiln::rt::readSafetensors(inputsPath, file, error)) {
    errs() << "kiln-run: " << error << "\n";
    return mlir::failure();
  }
  return kiln::eval::inputsFromFile(func, file, inputsPath);
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(runOptions);
  cl::ParseCommandLineOptions(argc, argv, "kiln reference evaluator\n");
  if (randomInputs == !inputsPath.empty()) {
    errs() << "kiln-run: give exactly one of --inputs=FILE and "
              "--random-inputs\n";
    return 1;
  }
  std::string error;
  auto input = mlir::openInputFile(inputFile, &error);
  if (!input) {
    errs() << "kiln-run: " << error << "\n";
    return 1;
  }
  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  mlir::MLIRContext context;
  context.loadDialect<kiln::nn::NNDialect, mlir::func::FuncDialect>();
  context.printOpOnDiagnostic(false);
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;
  mlir::func::FuncOp func = findFunction(*module);
  if (!func)
    return 1;
  auto args = loadArguments(func);
  if (mlir::failed(args))
    return 1;

  std::vector<Tensor> results;
  for (unsigned s = 0; s < steps; ++s) {
    auto out = kiln::eval::evaluate(func, *args, precision);
    if (mlir::failed(out))
      return 1;
    results = std::move(*out);
    for (unsigned i = 0; i < results.size(); ++i) {
      std::string name = kiln::nn::resultName(func, i);
      if (steps > 1 && name == "loss")
        outs() << "step " << s + 1 << " loss "
               << format("%.9g", results[i].values[0]) << "\n";
      for (unsigned a = 0; a < args->size(); ++a)
        if (name != "loss" && kiln::nn::argumentName(func, a) == name &&
            (*args)[a].shape == results[i].shape)
          (*args)[a] = results[i];
    }
    for (unsigned a = 0; a < args->size(); ++a)
      if (kiln::nn::argumentName(func, a) == "step")
        for (double &v : (*args)[a].values)
          v += 1;
  }
  for (unsigned i = 0; i < results.size(); ++i)
    print(kiln::nn::resultName(func, i), results[i]);

  if (!outputsPath.empty()) {
    auto dtype = precision == Precision::F32 ? kiln::rt::DType::F32
                                             : kiln::rt::DType::F64;
    if (!kiln::rt::writeSafetensors(
            outputsPath, kiln::eval::outputsToFile(func, results, dtype),
            error)) {
      errs() << "kiln-run: " << error << "\n";
      return 1;
    }
  }
  return 0;
}
