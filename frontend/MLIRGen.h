//===- MLIRGen.h - kiln AST to the nn dialect -------------------*- C++ -*-===//
//
// Part of kiln. Lowers a checked AST (parseFile + checkFile succeeded) to a
// module holding `func.func @forward` in the nn dialect and the train block
// as the module attribute `nn.train`. Shape errors are reported at the DSL
// location through the SourceMgrDiagnosticHandler the caller installed.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_MLIRGEN_H
#define KILN_FRONTEND_MLIRGEN_H

#include "frontend/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace kiln {

/// Builds the nn-dialect module for `file`. Returns null after reporting
/// diagnostics (shape mismatches, ranks a layer cannot take) at the DSL
/// location. The result verifies.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          const ast::File &file,
                                          llvm::SourceMgr &sourceMgr);

/// Parses, checks and lowers the main buffer of `sourceMgr`: the whole
/// front end in one call. Returns null after reporting diagnostics.
mlir::OwningOpRef<mlir::ModuleOp> importKiln(mlir::MLIRContext &context,
                                             llvm::SourceMgr &sourceMgr);

/// importKiln on the file at `path`, printing diagnostics (and a file that
/// cannot be read) to stderr.
mlir::OwningOpRef<mlir::ModuleOp> importKilnFile(mlir::MLIRContext &context,
                                                 llvm::StringRef path);

} // namespace kiln

#endif // KILN_FRONTEND_MLIRGEN_H
