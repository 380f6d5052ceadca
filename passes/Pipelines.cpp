//===- Pipelines.cpp - kiln pass pipelines ----------------------*- C++ -*-===//
//
// Part of kiln. Every pipeline the driver runs, one line per pass, each with
// the invariant that holds after it (as Halide's Lower.cpp does). Passes are
// declared in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Transforms/Passes.h"

void kiln::buildFrontendPipeline(mlir::OpPassManager &pm) {
  // Every nn op's result type is exactly what its shape rule derives.
  pm.addPass(createShapeInference());
  // Identities (x + 0, reshape of reshape, ...) and constants are folded.
  pm.addPass(mlir::createCanonicalizerPass());
  // No two ops compute the same value (dropout ops differ by their stream).
  pm.addPass(mlir::createCSEPass());
}

void kiln::buildTrainPipeline(mlir::OpPassManager &pm) {
  buildFrontendPipeline(pm);
  // @train_step returns the loss and each trainable parameter's gradient;
  // @eval_step is @forward in inference mode.
  pm.addPass(createAutodiff());
  // @train_step returns updated parameters and optimizer state instead.
  pm.addPass(createLowerOptimizer());
  // Gradient algebra folded (x * 1, x + 0) and shared subexpressions merged.
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void kiln::buildCodegenPipeline(mlir::OpPassManager &pm, bool fuse,
                                bool explainFusion) {
  buildTrainPipeline(pm);
  // GEMM weights (with their optimizer state) are stored in the layout the
  // GEMM reads without repacking, marked nn.layout; no transpose is left
  // between a weight and its forward matmul. Runs with --no-fusion too, so
  // that flag measures fusion alone.
  pm.addPass(createLayout());
  // Elementwise chains are nn.kernel ops, one Halide pipeline each.
  if (fuse)
    pm.addPass(createFuse(FuseOptions{explainFusion}));
  // Last: every op result carries its storage (an arena slot, a view, the
  // caller's array) and every function its arena size; codegen reads them.
  pm.addPass(createPlanMemory());
}
