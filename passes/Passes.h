//===- Passes.h - kiln passes -----------------------------------*- C++ -*-===//
//
// Part of kiln. Declares every kiln pass (generated from Passes.td) and the
// pipelines the driver runs (Pipelines.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"

namespace kiln {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace kiln

#endif // KILN_PASSES_PASSES_H
