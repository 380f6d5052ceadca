//===- Schedule.cpp - CPU schedules for lowered ops -------------*- C++ -*-===//
//
// Part of kiln. The CPU scheduling policy, in one place. GEMM follows the
// classic register-blocked outer-product form (Halide's apps/linear_algebra):
// an accumulator tile of kRowsPerTile rows by one or two vectors stays in
// registers while k streams; a transposed right operand is packed one
// column panel at a time, inside the parallel loop that uses it. Everything
// else is vectorized along its innermost dimension and split across threads
// once there is enough work to pay for waking them.
//
//===----------------------------------------------------------------------===//

#include "codegen/Schedule.h"

#include "ir/NNDialect.h"

#include <optional>

using namespace kiln::codegen;
using Halide::Expr;
using Halide::Func;
using Halide::TailStrategy;
using Halide::Var;

namespace {

// Below this many output elements a kernel stays on one thread: waking the
// thread pool costs a few microseconds, more than the work.
constexpr int32_t kParallelMinElements = 16384;
// Elementwise work is handed to threads in chunks of this many elements
// (64 KiB of f32): large enough to amortize the task, small enough to
// balance 2-16 cores.
constexpr int kElementwiseChunk = 16384;

std::optional<int64_t> constant(const Expr &e) {
  if (const int64_t *v = Halide::Internal::as_const_int(e))
    return *v;
  return std::nullopt;
}

/// The run-time condition under which `elements` of work pay for waking
/// the thread pool, or undefined when they never do.
Expr worthThreads(const Expr &elements) {
  Expr large = Halide::Internal::simplify(elements >= kParallelMinElements);
  return Halide::Internal::is_const_zero(large) ? Expr() : large;
}

/// Vectorizes the pure definition of `f` along `inner`, whose extent is
/// `extent` when static: whole vectors of `vec` lanes when it holds one,
/// else the widest power of two it holds (at least 4 lanes; below that it
/// stays scalar). When `f` is a kernel output, computed over its whole
/// static extent, a last partial vector shifts inwards, overlapping its
/// neighbour (a few elements computed twice), rather than running masked:
/// x86 turns masked loads of strided or gathered operands into one load
/// per lane (measured: LeNet's pool gradients, rows of 5, 11 and 26). A
/// Func stored inside the kernel may be computed over less than its shape
/// (only what its readers need), so it keeps a guarded tail, as does an
/// extent known only at run time.
void vectorizeRows(Func f, const Var &inner, std::optional<int64_t> extent,
                   int vec, bool output) {
  if (!extent) {
    f.vectorize(inner, vec, TailStrategy::GuardWithIf);
    return;
  }
  if (!output) {
    if (*extent >= vec / 2)
      f.vectorize(inner, int(std::min<int64_t>(vec, *extent)),
                  TailStrategy::GuardWithIf);
    return;
  }
  int lanes = vec;
  while (lanes > 4 && lanes > *extent)
    lanes /= 2;
  if (*extent < lanes)
    return;
  f.vectorize(inner, lanes,
              *extent % lanes == 0 ? TailStrategy::GuardWithIf
                                   : TailStrategy::ShiftInwards);
}

/// Vectorizes `f`'s innermost dimension and, when the tensor is large
/// enough at run time (the batch is only known then), splits its outermost
/// across threads. `output`: see vectorizeRows.
void scheduleElementwise(Func f, const std::vector<Expr> &shape, int vec,
                         bool output) {
  std::vector<Var> args = f.args();
  if (args.empty())
    return;
  Var inner = args.front(), outer = args.back();
  Expr elements = 1;
  for (const Expr &e : shape)
    elements = elements * e;
  Expr large = worthThreads(elements);
  if (args.size() == 1) {
    if (large.defined()) {
      // Vectors first, then chunks of whole vectors: the chunk loop's guard
      // is a scalar test per vector. (Splitting into chunks first leaves the
      // last chunk's loop running masked, all-lanes-off vector loads and
      // stores past the end, which x86 cores execute very slowly.)
      Var v("v"), lane("lane"), o("o"), i("i");
      f.specialize(large)
          .split(inner, v, lane, vec, TailStrategy::GuardWithIf)
          .split(v, o, i, kElementwiseChunk / vec, TailStrategy::GuardWithIf)
          .parallel(o)
          .vectorize(lane);
    }
    f.vectorize(inner, vec, TailStrategy::GuardWithIf);
    return;
  }
  vectorizeRows(f, inner, constant(shape.back()), vec, output);
  if (large.defined())
    f.specialize(large).parallel(outer);
}

/// Computes the 1-D elementwise outputs `loop`, all of extent `elements`,
/// in one loop (compute_with): each vector of every output is computed in
/// the same iteration, so the inputs they share (an optimizer's gradients
/// and moments) are read once, not once per output. Split as in
/// scheduleElementwise; only the loop's first Func may carry the
/// specialization that adds threads.
void scheduleElementwiseLoop(const std::vector<Func> &loop,
                             const Expr &elements, int vec) {
  Var v("v"), lane("lane"), o("o"), i("i");
  for (Func f : loop)
    f.split(f.args().front(), v, lane, vec, TailStrategy::GuardWithIf)
        .split(v, o, i, kElementwiseChunk / vec, TailStrategy::GuardWithIf)
        .vectorize(lane);
  Func first = loop.front();
  if (Expr large = worthThreads(elements); large.defined())
    first.specialize(large).parallel(o);
  for (Func f : llvm::drop_begin(loop))
    f.compute_with(first, i);
}

/// A reduction's accumulator computed once per call, vectorized along its
/// innermost kept dimension; when `large` holds at run time (see
/// worthThreads) its outermost kept dimension, usually the batch, is split
/// across threads.
void scheduleReduction(Func acc, int vec, const Expr &large) {
  acc.compute_root();
  std::vector<Var> args = acc.args();
  if (args.empty())
    return;
  // A specialization inherits the schedule made before it.
  bool threads = large.defined() && args.size() > 1;
  acc.vectorize(args.front(), vec, TailStrategy::GuardWithIf);
  if (threads)
    acc.specialize(large).parallel(args.back());
  for (int u = 0; u < acc.num_update_definitions(); ++u) {
    acc.update(u).vectorize(args.front(), vec, TailStrategy::GuardWithIf);
    // Only where the update writes at that dimension's own index (a
    // scatter's update may write anywhere along it).
    const Halide::Internal::Variable *outer =
        acc.update_args(u).back().as<Halide::Internal::Variable>();
    if (threads && outer && outer->name == args.back().name())
      acc.update(u).specialize(large).parallel(args.back());
  }
}

/// When `large` holds at run time, splits `update` across threads over its
/// pure dimensions `kept` (innermost first), fused into one loop: each kept
/// element (a channel of a bias gradient) reduces independently, and
/// keepdim leaves several of extent 1.
void parallelOverKept(Halide::Stage update, const std::vector<Var> &kept,
                      const Expr &large) {
  if (kept.empty() || !large.defined())
    return;
  Halide::Stage threaded = update.specialize(large);
  Var fused = kept.front();
  for (size_t k = 1; k < kept.size(); ++k) {
    Var outer("kept" + std::to_string(k));
    threaded.fuse(fused, kept[k], outer);
    fused = outer;
  }
  threaded.parallel(fused);
}

/// A reduction along the input's contiguous dimension (a per-channel sum
/// over n, h, w; a row sum): each of `vec` lanes accumulates every vec-th
/// element (rfactor), then the lanes are summed, instead of one scalar
/// chain per kept element. `contiguous` of the RDom's dimensions walk
/// memory in order; when two do (the h x w planes of a bias gradient),
/// they are fused into one, so short rows (11 columns) neither waste lanes
/// nor get unrolled by LLVM into gathers (measured 3x slower on a
/// 64x16x11x11 sum over n, h and w).
void scheduleContiguousReduction(Func acc, Halide::RDom r, int contiguous,
                                 int vec, const Expr &large) {
  acc.compute_root();
  Halide::RVar walk = r.x;
  std::optional<int64_t> inner = constant(r.x.extent());
  if (inner && contiguous >= 2) {
    std::optional<int64_t> rows = constant(r.y.extent());
    if (rows) {
      walk = Halide::RVar("r_plane");
      acc.update().fuse(r.x, r.y, walk);
      *inner *= *rows;
    }
  }
  if (!inner || *inner < vec) {
    parallelOverKept(acc.update(), acc.args(), large);
    return;
  }
  Halide::RVar outer("r_outer"), lane("r_lane");
  Var u("u");
  acc.update().split(walk, outer, lane, vec, TailStrategy::GuardWithIf);
  Func partial = acc.update().rfactor(lane, u);
  // rfactor appends u as the outermost storage dimension; the lanes must
  // be adjacent in memory for the vector loads and stores.
  std::vector<Var> storage{u};
  for (const Var &v : partial.args())
    if (v.name() != u.name())
      storage.push_back(v);
  partial.compute_root().vectorize(u);
  if (storage.size() > 1)
    partial.reorder_storage(storage);
  partial.update().vectorize(u);
  parallelOverKept(partial.update(),
                   std::vector<Var>(storage.begin() + 1, storage.end()), large);
}

// Rows of the output a register tile covers. With AVX-512's 32 vector
// registers, 8 rows x 2 vectors of accumulators leave room for the loaded
// right-hand vectors; AVX2 has 16 registers, so 4 rows.
int rowsPerTile(int vec) { return vec >= 16 ? 8 : 4; }

/// The register-blocked GEMM schedule; false when the shape does not suit
/// it (then the generic schedule applies).
bool scheduleMatmul(OpLowering &l, int vec) {
  auto op = llvm::cast<kiln::nn::MatmulOp>(l.op);
  Tensor &out = l.results[0];
  if (out.rank() != 2)
    return false;
  std::optional<int64_t> n = constant(out.shape[1]);
  int width = 2 * vec;
  while (n && width > 4 && width > *n)
    width /= 2;
  if (!n || *n < width)
    return false;
  int lanes = std::min(width, vec);
  int rows = rowsPerTile(vec);
  Func acc = l.reductions[0].first;
  Halide::RDom k = l.reductions[0].second;
  Var j = out.func.args()[0], i = out.func.args()[1];
  Var jo("jo"), ji("ji"), io("io"), ii("ii");
  // Columns: the static extent is at least one tile, so the last tile
  // shifts inwards and every tile is full. Rows (often the batch) can be
  // fewer than a tile: guard them; the lowering clamps the rows it reads.
  out.func.split(j, jo, ji, width, TailStrategy::ShiftInwards)
      .split(i, io, ii, rows, TailStrategy::GuardWithIf)
      .vectorize(ji, lanes);
  Var tileLoop = jo;
  if (op.getTransposeB()) {
    // Column panels outermost: each thread packs its panel of the
    // transposed operand once and reuses it for every row tile.
    out.func.reorder(ji, ii, io, jo).parallel(jo);
    Func packed = l.staged[0];
    std::vector<Var> pv = packed.args();
    packed.compute_at(out.func, jo)
        .vectorize(pv[0], lanes)
        .unroll(pv[1], 4, TailStrategy::GuardWithIf);
    tileLoop = io;
  } else {
    out.func.reorder(ji, ii, jo, io).parallel(io);
  }
  acc.compute_at(out.func, tileLoop)
      .bound_extent(i, rows)
      .vectorize(j, lanes)
      .unroll(j)
      .unroll(i);
  acc.update()
      .reorder(j, i, k.x)
      .vectorize(j, lanes)
      .unroll(j)
      .unroll(i);
  return true;
}

/// The gradient of a max pool whose windows tile the input (stride =
/// kernel, no padding): each input column reads the window column it falls
/// in, so the result is split by the stride and vectorized across windows,
/// the taps unrolled. Loads of the gradient and the window maxima are then
/// dense vectors (not a gather per lane), and the unrolled taps' stores
/// interleave into dense ones. Measured on a 64x16x11x11 gradient (LeNet's
/// second pool), about 1.5x faster than vectorizing the columns directly.
/// False for other pools (then the generic schedule applies).
bool scheduleTiledPoolGrad(OpLowering &l, int vec, bool output) {
  auto pool = llvm::dyn_cast<kiln::nn::MaxPool2dGradOp>(l.op);
  if (!pool)
    return false;
  llvm::ArrayRef<int64_t> kernel = pool.getKernel(), stride = pool.getStride(),
                          padding = pool.getPadding();
  if (kernel[1] != stride[1] || padding[0] != 0 || padding[1] != 0 ||
      kernel[0] != stride[0])
    return false;
  Tensor &out = l.results[0];
  std::optional<int64_t> width = constant(out.shape[3]);
  std::vector<Var> args = out.func.args(); // w, h, c, n
  Var column("window_column"), tap("tap");
  out.func.split(args[0], column, tap, int(stride[1]), TailStrategy::GuardWithIf)
      .unroll(tap);
  std::optional<int64_t> columns;
  if (width)
    columns = (*width + stride[1] - 1) / stride[1];
  vectorizeRows(out.func, column, columns, vec / 2, output);
  if (Expr large = worthThreads(out.numel()); large.defined())
    out.func.specialize(large).parallel(args.back());
  // The window maxima (staged[0]), one per element of the pooled gradient.
  Func argmax = l.staged[0];
  std::vector<Var> windows = argmax.args();
  argmax.compute_root();
  vectorizeRows(argmax, windows[0], constant(l.operands[0].shape[3]), vec,
                output);
  if (Expr large = worthThreads(l.operands[0].numel()); large.defined())
    argmax.specialize(large).parallel(windows.back());
  return true;
}

} // namespace

void kiln::codegen::scheduleForCPU(OpLowering &l, const Halide::Target &target,
                                   bool internal) {
  int vec = target.natural_vector_size(Halide::Float(32));
  if (scheduleConvolution(l, vec))
    return;
  if (llvm::isa<kiln::nn::MatmulOp>(l.op) && scheduleMatmul(l, vec))
    return;
  if (scheduleTiledPoolGrad(l, vec, !internal))
    return;
  // Reductions and staged values split across threads when the op's input
  // is large enough.
  Expr large = l.operands.empty() ? Expr() : worthThreads(l.operands[0].numel());
  auto isStaged = [&](const Func &acc) {
    return llvm::any_of(
        l.staged, [&](const Func &f) { return f.name() == acc.name(); });
  };
  for (Func &f : l.staged)
    if (!l.contiguousReductions.count(f.name()))
      scheduleReduction(f, vec, large);
  for (auto &[acc, rdom] : l.reductions) {
    auto it = l.contiguousReductions.find(acc.name());
    if (it != l.contiguousReductions.end())
      scheduleContiguousReduction(acc, rdom, it->second, vec, large);
    else if (!isStaged(acc))
      scheduleReduction(acc, vec, large);
  }
  for (Tensor &t : l.results)
    scheduleElementwise(t.func, t.shape, vec, !internal);
}

void kiln::codegen::scheduleFusedForCPU(FusedKernel &kernel,
                                        const Halide::Target &target) {
  int vec = target.natural_vector_size(Halide::Float(32));
  for (Func &f : kernel.scalars)
    f.compute_root();
  for (auto [stage, internal] : llvm::zip(kernel.stages, kernel.internal)) {
    if (internal)
      stage.results[0].func.compute_root();
    scheduleForCPU(stage, target, internal);
  }
  // 1-D outputs of one extent that no member reads share a loop; the rest
  // each run their own.
  std::vector<Func> loop;
  const Tensor *loopShape = nullptr;
  for (auto [t, read] :
       llvm::zip(kernel.elementwiseOutputs, kernel.readInside)) {
    if (!read && t.rank() == 1 &&
        (!loopShape ||
         Halide::Internal::equal(t.shape[0], loopShape->shape[0]))) {
      loop.push_back(t.func);
      loopShape = &t;
      continue;
    }
    scheduleElementwise(t.func, t.shape, vec, /*output=*/true);
  }
  if (loop.size() == 1)
    scheduleElementwise(loop[0], loopShape->shape, vec, /*output=*/true);
  else if (loop.size() > 1)
    scheduleElementwiseLoop(loop, loopShape->shape[0], vec);
}
