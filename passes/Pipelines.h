//===- Pipelines.h - kiln pass pipelines ------------------------*- C++ -*-===//
//
// Part of kiln. The ordered pass pipelines the `kiln` driver runs, one
// function per stage of docs/architecture.md. Each stage's comment in
// Pipelines.cpp states the invariant it establishes.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_PIPELINES_H
#define KILN_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace kiln {

/// Cleans up the IR MLIRGen produced: exact shapes, folded algebra, no
/// duplicate or dead ops. Output of `kiln --emit=nn`.
void buildFrontendPipeline(mlir::OpPassManager &pm);

/// From the frontend's output to @train_step (forward, gradients, optimizer
/// update) and @eval_step. Output of `kiln --emit=train`.
void buildTrainPipeline(mlir::OpPassManager &pm);

/// The train pipeline, then what code generation wants: with `fuse`,
/// kiln-fuse (reporting its decisions as remarks with `explainFusion`),
/// and last kiln-plan-memory.
void buildCodegenPipeline(mlir::OpPassManager &pm, bool fuse,
                          bool explainFusion = false);

} // namespace kiln

#endif // KILN_PASSES_PIPELINES_H
