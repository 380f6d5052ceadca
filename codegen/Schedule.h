//===- Schedule.h - CPU schedules for lowered ops ---------------*- C++ -*-===//
//
// Part of kiln. Chooses how each lowered op's Funcs run on the CPU: GEMMs
// register-blocked and tiled, elementwise work vectorized to the target's
// width and split across threads when there is enough of it, reductions
// vectorized over their kept dimensions. Every number that steers a
// schedule is a named constant in Schedule.cpp with its reason.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_SCHEDULE_H
#define KILN_CODEGEN_SCHEDULE_H

#include "codegen/Lowering.h"

namespace kiln::codegen {

/// Schedules the Funcs `lowering` defined (its results, reductions and
/// staged Funcs) for `target`.
void scheduleForCPU(OpLowering &lowering, const Halide::Target &target);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_SCHEDULE_H
