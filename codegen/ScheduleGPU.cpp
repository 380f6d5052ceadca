//===- ScheduleGPU.cpp - GPU schedules for lowered ops ----------*- C++ -*-===//
//
// Part of kiln. The GPU scheduling policy: every Func a kernel stores (its
// outputs, staged values, reductions a stage keeps, the scalars it
// recomputes) runs as its own GPU launch with one thread per element, its
// dimensions fused into one and tiled into blocks of kThreadsPerBlock;
// consecutive threads take consecutive elements of the contiguous
// dimension, so loads and stores coalesce. Everything else is computed
// inside the thread that needs it: elementwise chains are inlined, and a
// reduction no stage keeps runs serially in the thread of each element it
// produces. The schedules name no device API (DeviceAPI::Default_GPU), so
// the same kernels compile for CUDA and for OpenCL, whose CPU
// implementation (PoCL) the tests run them on.
//
//===----------------------------------------------------------------------===//

#include "codegen/Schedule.h"

#include "llvm/ADT/STLExtras.h"

using namespace kiln::codegen;
using Halide::Func;
using Halide::TailStrategy;
using Halide::Var;

namespace {

// Threads in one block: a multiple of the 32-thread warp, small enough that
// a kernel with few elements still spreads over several multiprocessors.
constexpr int kThreadsPerBlock = 256;

/// One thread per element of `vars` (innermost first) of `stage`: the
/// dimensions fused into one and tiled into blocks. A stage with no such
/// dimension (a scalar, or an update that writes anywhere) runs on one
/// thread.
void threadPerElement(Halide::Stage stage, const std::vector<Var> &vars) {
  if (vars.empty()) {
    stage.gpu_single_thread();
    return;
  }
  Var fused = vars.front();
  for (size_t d = 1; d < vars.size(); ++d) {
    Var outer("gpu_fused" + std::to_string(d));
    stage.fuse(fused, vars[d], outer);
    fused = outer;
  }
  Var block("gpu_block"), thread("gpu_thread");
  stage.gpu_tile(fused, block, thread, kThreadsPerBlock,
                 TailStrategy::GuardWithIf);
}

/// The pure variables update `u` of `f` writes at their own position:
/// those its threads may split (the rest of its arguments index anywhere).
std::vector<Var> ownPositions(const Func &f, int u) {
  std::vector<Var> vars, args = f.args();
  std::vector<Halide::Expr> lhs = f.update_args(u);
  for (size_t d = 0; d < args.size() && d < lhs.size(); ++d) {
    const auto *v = lhs[d].as<Halide::Internal::Variable>();
    if (v && v->name == args[d].name())
      vars.push_back(args[d]);
  }
  return vars;
}

/// `f` computed once per call into a buffer (or its output) on the GPU:
/// the pure definition and every update one thread per element.
void onGpu(Func f, bool root) {
  if (root)
    f.compute_root();
  threadPerElement(f, f.args());
  for (int u = 0; u < f.num_update_definitions(); ++u)
    threadPerElement(f.update(u), ownPositions(f, u));
}

bool isStaged(const OpLowering &l, const Func &f) {
  return llvm::any_of(l.staged,
                      [&](const Func &s) { return s.name() == f.name(); });
}

} // namespace

void kiln::codegen::scheduleForGPU(OpLowering &l) {
  // Reductions run inside the threads of the elements that read them;
  // staged values (whether reductions or not) are stored first.
  for (Func &f : l.staged)
    onGpu(f, /*root=*/true);
  for (Tensor &t : l.results)
    if (!isStaged(l, t.func))
      onGpu(t.func, /*root=*/false);
}

void kiln::codegen::scheduleFusedForGPU(FusedKernel &kernel) {
  for (Func &f : kernel.scalars)
    onGpu(f, /*root=*/true);
  for (auto [stage, internal] : llvm::zip(kernel.stages, kernel.internal)) {
    for (Func &f : stage.staged)
      onGpu(f, /*root=*/true);
    if (!isStaged(stage, stage.results[0].func))
      onGpu(stage.results[0].func, internal);
  }
  for (Tensor &t : kernel.elementwiseOutputs)
    onGpu(t.func, /*root=*/false);
}
