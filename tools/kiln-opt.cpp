//===- kiln-opt.cpp - the kiln pass driver ----------------------*- C++ -*-===//
//
// Part of kiln. mlir-opt for the nn dialect: parses IR, runs any kiln pass or
// the generic MLIR ones registered here (canonicalize, cse, ...), prints the
// result. Only the dialects kiln uses are registered.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<kiln::nn::NNDialect, mlir::func::FuncDialect>();
  kiln::registerKilnPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  mlir::registerInlinerPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kiln pass driver\n", registry));
}
