//===- KernelsReduce.cpp - evaluator loops for reductions -------*- C++ -*-===//
//
// Part of kiln. Sum, mean and max over axes and their gradients, argmax and
// (log-)softmax. Every reduction is laid out in "keepdim" shape (reduced
// dimensions as size 1); the dispatcher relabels the shape when the op drops
// them, which does not move any element.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Kernels.h"

#include <cmath>
#include <limits>

using namespace kiln::eval;
using namespace kiln::eval::kernels;

Shape kernels::keptShape(const Shape &shape, llvm::ArrayRef<int64_t> axes) {
  Shape kept = shape;
  for (int64_t a : axes)
    kept[a] = 1;
  return kept;
}

template <typename T>
BasicTensor<T> kernels::reduce(const BasicTensor<T> &x,
                               llvm::ArrayRef<int64_t> axes, Reduction kind) {
  Shape kept = keptShape(x.shape, axes);
  BasicTensor<T> out = BasicTensor<T>::zeros(kept);
  if (kind == Reduction::Max)
    std::fill(out.values.begin(), out.values.end(),
              -std::numeric_limits<T>::infinity());
  // slot[i]: the reduced value that input element i contributes to.
  std::vector<int64_t> slot = broadcastIndices(kept, x.shape);
  for (size_t i = 0; i < slot.size(); ++i) {
    T &acc = out.values[slot[i]];
    T v = x.values[i];
    if (kind != Reduction::Max)
      acc += v;
    else if (std::isnan(v) || v > acc) // a NaN is the maximum (torch.amax)
      acc = v;
  }
  if (kind == Reduction::Mean && out.numel() > 0) {
    T count = T(x.numel() / out.numel());
    for (T &v : out.values)
      v /= count;
  }
  return out;
}

template <typename T>
BasicTensor<T> kernels::reduceMeanGrad(const BasicTensor<T> &g,
                                       const Shape &inputShape,
                                       llvm::ArrayRef<int64_t> axes) {
  Shape kept = keptShape(inputShape, axes);
  T count = T(numelOf(inputShape) / std::max<int64_t>(1, numelOf(kept)));
  std::vector<int64_t> slot = broadcastIndices(kept, inputShape);
  BasicTensor<T> dx = BasicTensor<T>::zeros(inputShape);
  for (size_t i = 0; i < slot.size(); ++i)
    dx.values[i] = g.values[slot[i]] / count;
  return dx;
}

template <typename T>
BasicTensor<T> kernels::reduceMaxGrad(const BasicTensor<T> &g,
                                      const BasicTensor<T> &x,
                                      const BasicTensor<T> &max,
                                      llvm::ArrayRef<int64_t> axes) {
  Shape kept = keptShape(x.shape, axes);
  std::vector<int64_t> slot = broadcastIndices(kept, x.shape);
  std::vector<int64_t> ties(numelOf(kept), 0);
  for (size_t i = 0; i < slot.size(); ++i)
    if (x.values[i] == max.values[slot[i]])
      ++ties[slot[i]];
  BasicTensor<T> dx = BasicTensor<T>::zeros(x.shape);
  for (size_t i = 0; i < slot.size(); ++i)
    if (x.values[i] == max.values[slot[i]])
      dx.values[i] = g.values[slot[i]] / T(ties[slot[i]]);
  return dx;
}

template <typename T>
BasicTensor<T> kernels::argmax(const BasicTensor<T> &x, int64_t axis) {
  Shape kept = keptShape(x.shape, {axis}), outShape;
  for (size_t d = 0; d < x.shape.size(); ++d)
    if (int64_t(d) != axis)
      outShape.push_back(x.shape[d]);
  std::vector<int64_t> slot = broadcastIndices(kept, x.shape);
  std::vector<int64_t> best(numelOf(kept), -1);
  int64_t inner = stridesOf(x.shape)[axis];
  for (size_t i = 0; i < slot.size(); ++i) {
    int64_t &b = best[slot[i]];
    // Elements visit in increasing position along the axis: strictly
    // greater keeps the first maximum.
    if (b < 0 || x.values[i] > x.values[b])
      b = int64_t(i);
  }
  std::vector<int64_t> positions(best.size());
  for (size_t r = 0; r < best.size(); ++r)
    positions[r] = (best[r] / inner) % x.shape[axis];
  return BasicTensor<T>::integers(outShape, positions);
}

template <typename T>
BasicTensor<T> kernels::softmax(const BasicTensor<T> &x, int64_t axis,
                                bool log) {
  BasicTensor<T> max = reduce(x, {axis}, Reduction::Max);
  std::vector<int64_t> slot = broadcastIndices(max.shape, x.shape);
  BasicTensor<T> sum = BasicTensor<T>::zeros(max.shape);
  for (size_t i = 0; i < slot.size(); ++i)
    sum.values[slot[i]] += std::exp(x.values[i] - max.values[slot[i]]);
  BasicTensor<T> out = BasicTensor<T>::zeros(x.shape);
  for (size_t i = 0; i < slot.size(); ++i) {
    T shifted = x.values[i] - max.values[slot[i]];
    out.values[i] = log ? shifted - std::log(sum.values[slot[i]])
                        : std::exp(shifted) / sum.values[slot[i]];
  }
  return out;
}

#define INSTANTIATE(T)                                                         \
  template BasicTensor<T> kernels::reduce(const BasicTensor<T> &,              \
                                          llvm::ArrayRef<int64_t>, Reduction); \
  template BasicTensor<T> kernels::reduceMeanGrad(                             \
      const BasicTensor<T> &, const Shape &, llvm::ArrayRef<int64_t>);         \
  template BasicTensor<T> kernels::reduceMaxGrad(                              \
      const BasicTensor<T> &, const BasicTensor<T> &, const BasicTensor<T> &,  \
      llvm::ArrayRef<int64_t>);                                                \
  template BasicTensor<T> kernels::argmax(const BasicTensor<T> &, int64_t);    \
  template BasicTensor<T> kernels::softmax(const BasicTensor<T> &, int64_t,    \
                                           bool);
INSTANTIATE(float)
INSTANTIATE(double)
