//===- ScheduleConv.cpp - CPU schedules for convolutions --------*- C++ -*-===//
//
// Part of kiln. The CPU schedules of nn.conv2d and its two adjoints, for the
// Funcs LowerNetwork.cpp defines (their layout is stated there). Each keeps
// a register tile of accumulators while the reduction streams, so the inner
// loop is fused multiply-adds with one vector load per step and the other
// operand broadcast from memory. The forward correlations (conv2d, and the
// input adjoint, which LowerNetwork.cpp writes as one) vectorize either over
// output channels (tiles of channel vectors x a few pixels, broadcasting
// inputs; the tile is transposed on its way to the NCHW result) or over
// output columns (a vector of columns x a few channels x a few rows,
// broadcasting weights), whichever wastes fewer lanes; they run in parallel
// over images and channel tiles. The weight adjoint vectorizes over output
// channels with a tile of channel vectors x kernel taps, accumulating over
// each image's pixels from a channel-innermost copy of the gradient, in
// parallel over chunks of images whose partial sums are added at the end
// (rfactor). Channel counts that are not a multiple of the vector are
// rounded up: the lowering reads zero weights (or gradients) there and the
// extra lanes are never stored.
//
//===----------------------------------------------------------------------===//

#include "codegen/Schedule.h"

#include "ir/NNDialect.h"

using namespace kiln::codegen;
using Halide::Expr;
using Halide::Func;
using Halide::RVar;
using Halide::TailStrategy;
using Halide::Var;

namespace {

// Accumulator vectors in one register tile. AVX-512 has 32 vector
// registers: 24 accumulators leave room for the loaded channel vectors and
// the broadcast inputs. AVX2 has 16, so half.
int accumulatorBudget(int vec) { return vec >= 16 ? 24 : 12; }

// Output columns in one tile of the forward correlation. Rows of 8 with two
// channel vectors fill 16 accumulators; the width is split evenly (26 =
// 4 x 7 rather than 8+8+8+2), so at most one column per tile is computed
// twice.
constexpr int kMaxTileWidth = 8;

// The copy of a channel-vectorized tile to the result, which transposes it,
// costs about as much as this many reduction steps (measured on AVX-512:
// with 9 taps the channel form runs at ~55% of the column form's rate, with
// 288 at ~97%).
constexpr double kTransposeCostInTaps = 8;

// Output channels in one tile of the column-vectorized correlation: with
// three rows of one vector each, 8 channels make 24 accumulators.
constexpr int kColumnTileChannels = 8;

// Images one task of the weight gradient sums before the tasks' partial
// sums are added: enough work to amortize a task and the per-image
// transposed copy of the gradient, while a batch of 64 still splits into
// 8 tasks to balance across cores.
constexpr int kImagesPerTask = 8;

int64_t staticExtent(const Expr &e) {
  const int64_t *v = Halide::Internal::as_const_int(e);
  assert(v && "convolutions have static channel and spatial extents");
  return *v;
}

int ceilDiv(int64_t a, int64_t b) { return int((a + b - 1) / b); }

/// Rows in a tile of `height` rows, at most `maxRows`: the count that
/// computes the fewest rows in all (tiles at the edge shift inwards and
/// overlap), the larger on a tie. Measured on the column form, a tile
/// that wastes rows costs more than one with fewer accumulators.
int rowsPerTile(int64_t height, int maxRows) {
  int best = 1;
  int64_t fewest = height;
  for (int t = 2; t <= maxRows && t <= height; ++t) {
    int64_t rows = ceilDiv(height, t) * int64_t(t);
    if (rows <= fewest) {
      best = t;
      fewest = rows;
    }
  }
  return best;
}

/// Lanes of the channel vector for `channels` channels: the target's width,
/// or the power of two that covers fewer channels (at least 4, below which
/// a vector is not worth it).
int channelLanes(int64_t channels, int vec) {
  int lanes = 4;
  while (lanes < vec && lanes < channels)
    lanes *= 2;
  return lanes;
}

/// The Funcs of a forward correlation (conv2d, conv2d_grad_input) and the
/// extents of its result.
struct Correlation {
  Func out, acc, weight, input; ///< input is undefined when not staged
  Halide::RDom taps;            ///< (j, i, ci)
  int64_t channels, height, width;

  explicit Correlation(OpLowering &l)
      : out(l.results[0].func), acc(l.reductions[0].first), weight(l.staged[0]),
        taps(l.reductions[0].second),
        channels(staticExtent(l.results[0].shape[1])),
        height(staticExtent(l.results[0].shape[2])),
        width(staticExtent(l.results[0].shape[3])) {
    if (l.staged.size() > 1)
      input = l.staged[1];
  }
};

/// Splits the result into tiles of `tileW` columns (tail `columns`) x
/// `tileH` rows x `channelTile` output channels, one parallel task per
/// (channel tile, image), the columns vectorized and the rest of a tile
/// unrolled. Returns the loop over a row of tiles (where the accumulators
/// live) and the task loop.
std::pair<Var, Var> tileOutput(Correlation &c, int tileW, TailStrategy columns,
                               int tileH, int channelTile) {
  std::vector<Var> v = c.out.args(); // x, y, co, n
  Var x = v[0], y = v[1], co = v[2], n = v[3];
  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), coo("coo"), coi("coi"),
      task("task");
  c.out.split(x, xo, xi, tileW, columns)
      .split(y, yo, yi, tileH, TailStrategy::ShiftInwards)
      .split(co, coo, coi, channelTile, TailStrategy::GuardWithIf)
      .reorder(xi, coi, yi, xo, yo, coo, n)
      .fuse(coo, n, task)
      .parallel(task)
      .vectorize(xi)
      .unroll(coi)
      .unroll(yi);
  return {xo, task};
}

/// Tiles of `channelTile` output channels (vectorized) x `tileH` rows x
/// `tileW` columns. The accumulators are stored channel-innermost; the
/// copy to the result transposes them, a vector of columns at a time.
void scheduleByChannels(Correlation &c, int vec) {
  int lanes = channelLanes(c.channels, vec);
  int vectors = c.channels >= 2 * lanes ? 2 : 1;
  int channelTile = lanes * vectors;
  int tileW = ceilDiv(c.width, ceilDiv(c.width, kMaxTileWidth));
  int tileH = int(std::clamp<int64_t>(
      accumulatorBudget(vec) / (vectors * tileW), 1, c.height));

  std::vector<Var> v = c.out.args(); // x, y, co, n
  Var x = v[0], y = v[1], co = v[2], n = v[3];
  auto [xo, task] =
      tileOutput(c, tileW, TailStrategy::ShiftInwards, tileH, channelTile);

  c.acc.compute_at(c.out, xo)
      .bound_extent(co, channelTile)
      .reorder_storage(co, x, y, n)
      .reorder(co, x, y, n)
      .vectorize(co, lanes)
      .unroll(co)
      .unroll(x)
      .unroll(y);
  // Input channels innermost: consecutive kernel columns would share the
  // broadcast inputs of neighbouring pixels, and LLVM, unrolling that short
  // loop, keeps them all live and spills.
  c.acc.update()
      .reorder(co, x, y, c.taps[2], c.taps[0], c.taps[1], n)
      .vectorize(co, lanes)
      .unroll(co)
      .unroll(x)
      .unroll(y);

  std::vector<Var> w = c.weight.args(); // j, i, ci, co
  c.weight.compute_root()
      .reorder_storage(w[3], w[0], w[1], w[2])
      .reorder(w[3], w[0], w[1], w[2])
      .vectorize(w[3], lanes, TailStrategy::RoundUp);
  if (c.input.defined())
    c.input.compute_at(c.out, task).vectorize(c.input.args()[0], vec);
}

/// Tiles of one vector of columns x up to kColumnTileChannels output
/// channels x `tileH` rows: the weights are broadcast, the input rows loaded
/// as vectors, and the accumulators stored as the result is.
void scheduleByColumns(Correlation &c, int vec) {
  int channelTile = int(std::min<int64_t>(c.channels, kColumnTileChannels));
  int tileH =
      rowsPerTile(c.height, std::max(1, accumulatorBudget(vec) / channelTile));
  std::vector<Var> v = c.out.args(); // x, y, co, n
  Var x = v[0], y = v[1], co = v[2], n = v[3];
  // Narrower than a vector, the tile runs past the last column; the staged
  // input is defined there.
  TailStrategy columns =
      c.width >= vec ? TailStrategy::ShiftInwards : TailStrategy::GuardWithIf;
  auto [xo, task] = tileOutput(c, vec, columns, tileH, channelTile);

  c.acc.compute_at(c.out, xo)
      .bound_extent(x, vec)
      .bound_extent(co, channelTile)
      .vectorize(x)
      .unroll(co)
      .unroll(y);
  c.acc.update()
      .reorder(x, co, y, c.taps[2], c.taps[0], c.taps[1], n)
      .vectorize(x)
      .unroll(co)
      .unroll(y);

  c.weight.compute_root();
  if (c.input.defined())
    c.input.compute_at(c.out, task).vectorize(c.input.args()[0], vec);
}

/// The forward correlations vectorize over whichever of output channels
/// and columns wastes fewer lanes, the channel form charged for its
/// transposing copy. Columns need rows of at least a vector, or a staged
/// input that a tile may read past the last column.
void scheduleCorrelation(OpLowering &l, int vec) {
  Correlation c(l);
  int lanes = channelLanes(c.channels, vec);
  double channelUse =
      double(c.channels) / (ceilDiv(c.channels, lanes) * int64_t(vec));
  double taps = double(staticExtent(c.taps[0].extent()) *
                       staticExtent(c.taps[1].extent()) *
                       staticExtent(c.taps[2].extent()));
  double channelScore = channelUse * taps / (taps + kTransposeCostInTaps);
  double columnScore = double(c.width) / (ceilDiv(c.width, vec) * int64_t(vec));
  bool columnsFit = c.width >= vec || c.input.defined();
  if (columnsFit && columnScore > channelScore)
    scheduleByColumns(c, vec);
  else
    scheduleByChannels(c, vec);
}

/// The weight adjoint: per chunk of images, a register tile of `lanes x
/// vectors` output channels x the kernel taps accumulates over each image's
/// pixels, and adds into the chunk's partial sum.
void scheduleWeightGrad(OpLowering &l, int vec) {
  Tensor &out = l.results[0];
  Func image = l.reductions[0].first, acc = l.reductions[1].first;
  Halide::RDom pixels = l.reductions[0].second, batch = l.reductions[1].second;
  Func grad = l.staged[0];
  int64_t channels = staticExtent(out.shape[0]);
  int64_t kh = staticExtent(out.shape[2]), kw = staticExtent(out.shape[3]);
  int lanes = channelLanes(channels, vec);
  int vectors = channels >= 2 * lanes ? 2 : 1;
  int channelTile = lanes * vectors;
  // Whole kernel rows per tile, as many as the accumulator budget holds.
  int64_t rowsFit =
      std::max<int64_t>(1, accumulatorBudget(vec) / (vectors * kw));
  int tileI = 1;
  for (int64_t t = std::min(rowsFit, kh); t >= 1; --t)
    if (kh % t == 0) {
      tileI = int(t);
      break;
    }

  RVar chunk("chunk"), within("within");
  Var u("u");
  acc.compute_root();
  acc.update().split(batch.x, chunk, within, kImagesPerTask,
                     TailStrategy::GuardWithIf);
  Func partial = acc.update().rfactor(chunk, u);

  std::vector<Var> w = acc.args(); // j, i, ci, o
  Var j = w[0], i = w[1], ci = w[2], o = w[3];
  Var oo("oo"), oi("oi"), io("io"), ii("ii");
  partial.compute_root()
      .reorder_storage(o, j, i, ci, u)
      .reorder(o, j, i, ci, u)
      .vectorize(o, lanes, TailStrategy::RoundUp);
  partial.update()
      .split(o, oo, oi, channelTile, TailStrategy::RoundUp)
      .split(i, io, ii, tileI, TailStrategy::RoundUp)
      .reorder(oi, j, ii, oo, io, ci, within, u)
      .vectorize(oi, lanes)
      .parallel(u);

  std::vector<Var> iv = image.args(); // j, i, ci, o, n
  image.compute_at(partial, oo)
      .bound_extent(iv[3], channelTile)
      .bound_extent(iv[1], tileI)
      .bound_extent(iv[0], int(kw))
      .bound_extent(iv[4], 1)
      .reorder_storage(iv[3], iv[0], iv[1], iv[2], iv[4])
      .reorder(iv[3], iv[0], iv[1], iv[2], iv[4])
      .vectorize(iv[3], lanes)
      .unroll(iv[3])
      .unroll(iv[0])
      .unroll(iv[1]);
  image.update()
      .reorder(iv[3], iv[0], iv[1], pixels[0], pixels[1], iv[2], iv[4])
      .vectorize(iv[3], lanes)
      .unroll(iv[3])
      .unroll(iv[0])
      .unroll(iv[1]);

  std::vector<Var> gv = grad.args(); // x, y, o, n
  grad.compute_at(partial, within)
      .bound_extent(gv[3], 1)
      .reorder_storage(gv[2], gv[0], gv[1], gv[3])
      .reorder(gv[2], gv[0], gv[1], gv[3])
      .vectorize(gv[2], lanes, TailStrategy::RoundUp);
  if (l.staged.size() > 1) {
    Func input = l.staged[1];
    input.compute_at(partial, within)
        .bound_extent(input.args()[3], 1)
        .vectorize(input.args()[0], vec);
  }
}

} // namespace

bool kiln::codegen::scheduleConvolution(OpLowering &l, int vectorWidth) {
  if (llvm::isa<kiln::nn::Conv2dOp, kiln::nn::Conv2dGradInputOp>(l.op)) {
    scheduleCorrelation(l, vectorWidth);
    return true;
  }
  if (llvm::isa<kiln::nn::Conv2dGradWeightOp>(l.op)) {
    scheduleWeightGrad(l, vectorWidth);
    return true;
  }
  return false;
}
