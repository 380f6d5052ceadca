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
/// staged Funcs) for `target`. `internal`: its result is stored inside a
/// fused kernel rather than being an output of it.
void scheduleForCPU(OpLowering &lowering, const Halide::Target &target,
                    bool internal = false);

/// Schedules conv2d and its two adjoints (ScheduleConv.cpp) for vectors of
/// `vectorWidth` f32 lanes; false for any other op.
bool scheduleConvolution(OpLowering &lowering, int vectorWidth);

/// A lowered nn.kernel, for the scheduler. Elementwise members are inlined
/// into whatever reads them; the rest each run one loop nest of their own.
struct FusedKernel {
  /// The anchors and stages, each with results[0] replaced by the Func its
  /// loop nest computes: its own result, or the last value of its epilogue
  /// (the elementwise ops after it, computed in its tiles).
  std::vector<OpLowering> stages;
  /// For each stage, whether that Func is internal to the kernel (stored in
  /// a buffer of its own) rather than an output.
  std::vector<bool> internal;
  /// The outputs that elementwise ops compute from inputs and stages.
  std::vector<Tensor> elementwiseOutputs;
  /// For each of those, whether other members read it back (then it is
  /// computed before them, in a loop of its own).
  std::vector<bool> readInside;
  /// Scalars the kernel recomputes (the learning rate): once per call.
  std::vector<Halide::Func> scalars;
};

/// Schedules a fused kernel for `target`.
void scheduleFusedForCPU(FusedKernel &kernel, const Halide::Target &target);

/// The GPU schedules (ScheduleGPU.cpp), for any GPU API: one thread per
/// element of every Func the kernel stores.
void scheduleForGPU(OpLowering &lowering);
void scheduleFusedForGPU(FusedKernel &kernel);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_SCHEDULE_H
