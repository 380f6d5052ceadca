//===- KernelsShape.cpp - evaluator loops that move data --------*- C++ -*-===//
//
// Part of kiln. Broadcasting index maps and the data-movement ops
// (transpose, concat, slice, pad, broadcast_to). Each op computes, for every
// result element, the flat index of the input element it copies (or -1 for
// a zero), and gather() copies: one obviously-correct code path for f32 and
// i64 tensors alike.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Kernels.h"

using namespace kiln::eval;
using namespace kiln::eval::kernels;

Shape kernels::stridesOf(const Shape &shape) {
  Shape strides(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

int64_t kernels::numelOf(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::optional<Shape> kernels::broadcastShapes(const Shape &a, const Shape &b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t ia = int64_t(i) - int64_t(rank - a.size());
    int64_t ib = int64_t(i) - int64_t(rank - b.size());
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Calls fn(index) for each multi-index of `shape` in row-major order.
template <typename F> static void forEachIndex(const Shape &shape, F fn) {
  int64_t n = numelOf(shape);
  Shape index(shape.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    fn(index);
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
}

std::vector<int64_t> kernels::broadcastIndices(const Shape &in,
                                               const Shape &out) {
  Shape strides = stridesOf(in);
  size_t lead = out.size() - in.size();
  std::vector<int64_t> indices;
  indices.reserve(numelOf(out));
  forEachIndex(out, [&](const Shape &index) {
    int64_t offset = 0;
    for (size_t d = 0; d < in.size(); ++d)
      if (in[d] != 1)
        offset += index[d + lead] * strides[d];
    indices.push_back(offset);
  });
  return indices;
}

template <typename T>
BasicTensor<T> kernels::gather(const BasicTensor<T> &x, Shape shape,
                               const std::vector<int64_t> &source) {
  BasicTensor<T> out;
  out.shape = std::move(shape);
  out.isInteger = x.isInteger;
  if (x.isInteger) {
    out.ints.assign(source.size(), 0);
    for (size_t i = 0; i < source.size(); ++i)
      if (source[i] >= 0)
        out.ints[i] = x.ints[source[i]];
  } else {
    out.values.assign(source.size(), T(0));
    for (size_t i = 0; i < source.size(); ++i)
      if (source[i] >= 0)
        out.values[i] = x.values[source[i]];
  }
  return out;
}

template <typename T>
BasicTensor<T> kernels::transpose(const BasicTensor<T> &x,
                                  llvm::ArrayRef<int64_t> perm) {
  Shape shape, inStrides = stridesOf(x.shape);
  for (int64_t p : perm)
    shape.push_back(x.shape[p]);
  std::vector<int64_t> source;
  forEachIndex(shape, [&](const Shape &index) {
    int64_t src = 0;
    for (size_t i = 0; i < index.size(); ++i)
      src += index[i] * inStrides[perm[i]];
    source.push_back(src);
  });
  return gather(x, shape, source);
}

template <typename T>
BasicTensor<T> kernels::concat(llvm::ArrayRef<const BasicTensor<T> *> inputs,
                               int64_t axis) {
  // Copy each input's elements into their place; written as a loop over the
  // result so integer and float tensors share it.
  Shape shape = inputs[0]->shape;
  shape[axis] = 0;
  for (const BasicTensor<T> *in : inputs)
    shape[axis] += in->shape[axis];
  BasicTensor<T> out;
  out.shape = shape;
  out.isInteger = inputs[0]->isInteger;
  if (out.isInteger)
    out.ints.assign(numelOf(shape), 0);
  else
    out.values.assign(numelOf(shape), T(0));
  Shape outStrides = stridesOf(shape);
  int64_t offset = 0;
  for (const BasicTensor<T> *in : inputs) {
    int64_t flat = 0;
    forEachIndex(in->shape, [&](const Shape &index) {
      int64_t dst = 0;
      for (size_t i = 0; i < index.size(); ++i)
        dst += (index[i] + (int64_t(i) == axis ? offset : 0)) * outStrides[i];
      if (out.isInteger)
        out.ints[dst] = in->ints[flat];
      else
        out.values[dst] = in->values[flat];
      ++flat;
    });
    offset += in->shape[axis];
  }
  return out;
}

template <typename T>
BasicTensor<T> kernels::slice(const BasicTensor<T> &x, int64_t axis,
                              int64_t start, int64_t end) {
  Shape shape = x.shape, inStrides = stridesOf(x.shape);
  shape[axis] = end - start;
  std::vector<int64_t> source;
  forEachIndex(shape, [&](const Shape &index) {
    int64_t src = 0;
    for (size_t i = 0; i < index.size(); ++i)
      src += (index[i] + (int64_t(i) == axis ? start : 0)) * inStrides[i];
    source.push_back(src);
  });
  return gather(x, shape, source);
}

template <typename T>
BasicTensor<T> kernels::pad(const BasicTensor<T> &x, int64_t axis,
                            int64_t before, int64_t after) {
  Shape shape = x.shape, inStrides = stridesOf(x.shape);
  shape[axis] += before + after;
  std::vector<int64_t> source;
  forEachIndex(shape, [&](const Shape &index) {
    int64_t at = index[axis] - before;
    if (at < 0 || at >= x.shape[axis]) {
      source.push_back(-1);
      return;
    }
    int64_t src = 0;
    for (size_t i = 0; i < index.size(); ++i)
      src += (int64_t(i) == axis ? at : index[i]) * inStrides[i];
    source.push_back(src);
  });
  return gather(x, shape, source);
}

template <typename T>
BasicTensor<T> kernels::broadcastTo(const BasicTensor<T> &x,
                                    const Shape &shape) {
  return gather(x, shape, broadcastIndices(x.shape, shape));
}

#define INSTANTIATE(T)                                                         \
  template BasicTensor<T> kernels::gather(const BasicTensor<T> &, Shape,       \
                                          const std::vector<int64_t> &);       \
  template BasicTensor<T> kernels::transpose(const BasicTensor<T> &,           \
                                             llvm::ArrayRef<int64_t>);         \
  template BasicTensor<T> kernels::concat(                                     \
      llvm::ArrayRef<const BasicTensor<T> *>, int64_t);                        \
  template BasicTensor<T> kernels::slice(const BasicTensor<T> &, int64_t,      \
                                         int64_t, int64_t);                    \
  template BasicTensor<T> kernels::pad(const BasicTensor<T> &, int64_t,        \
                                       int64_t, int64_t);                      \
  template BasicTensor<T> kernels::broadcastTo(const BasicTensor<T> &,         \
                                               const Shape &);
INSTANTIATE(float)
INSTANTIATE(double)
