//===- KernelsLoss.cpp - evaluator loops for losses and lookups -*- C++ -*-===//
//
// Part of kiln. The mean-reduced losses (PyTorch's reduction='mean') and
// their gradients, which take the scalar upstream gradient g and apply the
// 1/N (class-index losses) or 1/numel (elementwise losses) here; inverted
// dropout with kiln's counter-based mask; embedding lookup and its
// scatter-add gradient. Class indices and embedding indices were checked in
// range by the dispatcher.
//
//===----------------------------------------------------------------------===//

#include "runtime/Random.h"
#include "tools/kiln-run/Kernels.h"

#include <cmath>

using namespace kiln::eval;
using namespace kiln::eval::kernels;

namespace {

template <typename T> BasicTensor<T> scalar(T value) {
  return BasicTensor<T>::floats({}, {value});
}

} // namespace

template <typename T>
BasicTensor<T> kernels::crossEntropy(const BasicTensor<T> &x,
                                     const BasicTensor<T> &t) {
  BasicTensor<T> logp = softmax(x, 1, /*log=*/true);
  int64_t n = x.shape[0], c = x.shape[1];
  T sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum -= logp.values[i * c + t.ints[i]];
  return scalar(sum / T(n));
}

template <typename T>
BasicTensor<T> kernels::crossEntropyGrad(T g, const BasicTensor<T> &x,
                                         const BasicTensor<T> &t) {
  BasicTensor<T> dx = softmax(x, 1, /*log=*/false);
  int64_t n = x.shape[0], c = x.shape[1];
  for (int64_t i = 0; i < n; ++i)
    dx.values[i * c + t.ints[i]] -= T(1);
  for (T &v : dx.values)
    v = g * v / T(n);
  return dx;
}

template <typename T>
BasicTensor<T> kernels::nll(const BasicTensor<T> &x, const BasicTensor<T> &t) {
  int64_t n = x.shape[0], c = x.shape[1];
  T sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum -= x.values[i * c + t.ints[i]];
  return scalar(sum / T(n));
}

template <typename T>
BasicTensor<T> kernels::nllGrad(T g, const BasicTensor<T> &x,
                                const BasicTensor<T> &t) {
  BasicTensor<T> dx = BasicTensor<T>::zeros(x.shape);
  int64_t n = x.shape[0], c = x.shape[1];
  for (int64_t i = 0; i < n; ++i)
    dx.values[i * c + t.ints[i]] = -g / T(n);
  return dx;
}

template <typename T>
BasicTensor<T> kernels::bceWithLogits(const BasicTensor<T> &x,
                                      const BasicTensor<T> &t) {
  // The stable form: never exponentiates a positive number.
  T sum = 0;
  for (size_t i = 0; i < x.values.size(); ++i) {
    T v = x.values[i];
    sum += std::max(v, T(0)) - v * t.values[i] +
           std::log1p(std::exp(-std::fabs(v)));
  }
  return scalar(sum / T(x.numel()));
}

template <typename T>
BasicTensor<T> kernels::bceWithLogitsGrad(T g, const BasicTensor<T> &x,
                                          const BasicTensor<T> &t) {
  BasicTensor<T> dx = BasicTensor<T>::zeros(x.shape);
  T numel = T(x.numel());
  for (size_t i = 0; i < x.values.size(); ++i) {
    T sigmoid = T(1) / (T(1) + std::exp(-x.values[i]));
    dx.values[i] = g * (sigmoid - t.values[i]) / numel;
  }
  return dx;
}

template <typename T>
BasicTensor<T> kernels::mse(const BasicTensor<T> &x, const BasicTensor<T> &t) {
  T sum = 0;
  for (size_t i = 0; i < x.values.size(); ++i) {
    T d = x.values[i] - t.values[i];
    sum += d * d;
  }
  return scalar(sum / T(x.numel()));
}

template <typename T>
BasicTensor<T> kernels::mseGrad(T g, const BasicTensor<T> &x,
                                const BasicTensor<T> &t) {
  BasicTensor<T> dx = BasicTensor<T>::zeros(x.shape);
  T numel = T(x.numel());
  for (size_t i = 0; i < x.values.size(); ++i)
    dx.values[i] = g * T(2) * (x.values[i] - t.values[i]) / numel;
  return dx;
}

template <typename T>
BasicTensor<T> kernels::dropout(const BasicTensor<T> &x, uint64_t seed,
                                uint64_t stream, double p) {
  if (p == 0)
    return x;
  BasicTensor<T> out = BasicTensor<T>::zeros(x.shape);
  T scale = T(1) / (T(1) - T(p));
  for (size_t i = 0; i < x.values.size(); ++i)
    if (rt::dropoutKeeps(seed, stream, i, p))
      out.values[i] = x.values[i] * scale;
  return out;
}

template <typename T>
BasicTensor<T> kernels::embedding(const BasicTensor<T> &indices,
                                  const BasicTensor<T> &table) {
  int64_t dim = table.shape[1];
  Shape shape = indices.shape;
  shape.push_back(dim);
  BasicTensor<T> out = BasicTensor<T>::zeros(shape);
  for (size_t i = 0; i < indices.ints.size(); ++i)
    for (int64_t j = 0; j < dim; ++j)
      out.values[i * dim + j] = table.values[indices.ints[i] * dim + j];
  return out;
}

template <typename T>
BasicTensor<T> kernels::embeddingGrad(const BasicTensor<T> &g,
                                      const BasicTensor<T> &indices,
                                      int64_t rows) {
  int64_t dim = g.shape.back();
  BasicTensor<T> out = BasicTensor<T>::zeros({rows, dim});
  for (size_t i = 0; i < indices.ints.size(); ++i)
    for (int64_t j = 0; j < dim; ++j)
      out.values[indices.ints[i] * dim + j] += g.values[i * dim + j];
  return out;
}

#define INSTANTIATE(T)                                                         \
  template BasicTensor<T> kernels::crossEntropy(const BasicTensor<T> &,        \
                                                const BasicTensor<T> &);       \
  template BasicTensor<T> kernels::crossEntropyGrad(T, const BasicTensor<T> &, \
                                                    const BasicTensor<T> &);   \
  template BasicTensor<T> kernels::nll(const BasicTensor<T> &,                 \
                                       const BasicTensor<T> &);                \
  template BasicTensor<T> kernels::nllGrad(T, const BasicTensor<T> &,          \
                                           const BasicTensor<T> &);            \
  template BasicTensor<T> kernels::bceWithLogits(const BasicTensor<T> &,       \
                                                 const BasicTensor<T> &);      \
  template BasicTensor<T> kernels::bceWithLogitsGrad(                          \
      T, const BasicTensor<T> &, const BasicTensor<T> &);                      \
  template BasicTensor<T> kernels::mse(const BasicTensor<T> &,                 \
                                       const BasicTensor<T> &);                \
  template BasicTensor<T> kernels::mseGrad(T, const BasicTensor<T> &,          \
                                           const BasicTensor<T> &);            \
  template BasicTensor<T> kernels::dropout(const BasicTensor<T> &, uint64_t,   \
                                           uint64_t, double);                  \
  template BasicTensor<T> kernels::embedding(const BasicTensor<T> &,           \
                                             const BasicTensor<T> &);          \
  template BasicTensor<T> kernels::embeddingGrad(                              \
      const BasicTensor<T> &, const BasicTensor<T> &, int64_t);
INSTANTIATE(float)
INSTANTIATE(double)
