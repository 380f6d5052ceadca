//===- kiln-run.cpp - run a model with the reference evaluator --*- C++ -*-===//
//
// Part of kiln. `kiln-run model.kiln|model.mlir --function=NAME` executes
// @forward, @train_step or @eval_step of a model with the reference
// evaluator on deterministic inputs (parameters from their initializers,
// batches from kiln's random streams; tools/kiln-run/Inputs.h). A .kiln file
// is compiled through the train pipeline first. With --steps=K, @train_step
// runs K times, feeding each step's updated parameters, buffers and
// optimizer state into the next, and prints the loss of every step: a model
// that learns its random batch shows a falling loss. Results are printed as
// name, shape, sum and the first values.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Evaluator.h"
#include "tools/kiln-run/Inputs.h"
#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "ir/NNDialect.h"
#include "passes/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

using namespace llvm;
using kiln::eval::Tensor;

namespace {
cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.kiln|.mlir>"),
                               cl::Required);
cl::opt<std::string> function("function", cl::desc("Function to run"),
                              cl::init("train_step"));
cl::opt<int64_t> batch("batch", cl::desc("Batch size for dynamic dimensions"),
                       cl::init(8));
cl::opt<uint64_t> seed("seed", cl::desc("Seed of inputs and initializers"),
                       cl::init(0));
cl::opt<unsigned> steps("steps", cl::desc("Training steps to run"),
                        cl::init(1));
cl::opt<bool> useFloat("f32", cl::desc("Round every op's results to float"));
} // namespace

static mlir::OwningOpRef<mlir::ModuleOp> load(mlir::MLIRContext &context,
                                              SourceMgr &sourceMgr) {
  if (!StringRef(inputFile).ends_with(".kiln"))
    return mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  auto file = kiln::parseFile(sourceMgr, sourceMgr.getMainFileID());
  if (!file || !kiln::checkFile(*file, sourceMgr))
    return nullptr;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      kiln::mlirGen(context, *file, sourceMgr);
  mlir::PassManager pm(&context);
  kiln::buildTrainPipeline(pm);
  if (!module || mlir::failed(pm.run(*module)))
    return nullptr;
  return module;
}

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

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "kiln reference evaluator\n");
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
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module = load(context, sourceMgr);
  if (!module)
    return 1;
  auto func = module->lookupSymbol<mlir::func::FuncOp>(function);
  if (!func) {
    errs() << "kiln-run: no function @" << function << " in " << inputFile
           << "\n";
    return 1;
  }
  auto args = kiln::eval::makeInputs(func, batch, seed);
  if (mlir::failed(args))
    return 1;
  auto precision = useFloat ? kiln::eval::Precision::Float
                            : kiln::eval::Precision::Double;
  for (unsigned s = 0; s < steps; ++s) {
    auto results = kiln::eval::evaluate(func, *args, precision);
    if (mlir::failed(results))
      return 1;
    bool last = s + 1 == steps;
    for (unsigned i = 0; i < results->size(); ++i) {
      std::string name = kiln::eval::resultName(func, i);
      if (last)
        print(name, (*results)[i]);
      else if (name == "loss")
        outs() << "step " << s + 1 << " loss "
               << format("%.9g", (*results)[i].values[0]) << "\n";
      // Feed updated state back into the argument of the same name.
      for (unsigned a = 0; a < args->size(); ++a)
        if (name != "loss" && name != "predict" &&
            kiln::eval::argumentName(func, a) == name)
          (*args)[a] = (*results)[i];
    }
    for (unsigned a = 0; a < args->size(); ++a)
      if (kiln::eval::argumentName(func, a) == "step")
        (*args)[a].values[0] += 1;
  }
  return 0;
}
