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

/// Schedules conv2d and its two adjoints (ScheduleConv.cpp) for vectors of
/// `vectorWidth` f32 lanes; false for any other op.
bool scheduleConvolution(OpLowering &lowering, int vectorWidth);

/// Schedules the outputs of a fused elementwise kernel (its members are
/// inlined into them) for `target`.
void scheduleFusedForCPU(std::vector<Tensor> &outputs,
                         const Halide::Target &target);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_SCHEDULE_H
