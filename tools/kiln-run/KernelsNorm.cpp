//===- KernelsNorm.cpp - evaluator loops for normalizations -----*- C++ -*-===//
//
// Part of kiln. Batch norm (training and inference) over channel dimension 1
// of [N, C] or [N, C, H, W], layer norm over the last dimension, and their
// gradients. Statistics are the mean and the biased variance; the running
// variance is updated with the unbiased one (PyTorch). Gradients recompute
// the statistics from the input:
//   xhat = (x - mean) / sqrt(var + eps)
//   d bias = sum g, d weight = sum g xhat,
//   d x = istd / n (n gw - sum gw - xhat sum(gw xhat)), gw = g weight
// with the sums over the n elements sharing a statistic.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Kernels.h"

#include <cmath>

using namespace kiln::eval;
using namespace kiln::eval::kernels;

namespace {

/// Mean and biased variance of each group of elements; group[i] says which
/// group element i belongs to.
template <typename T> struct Moments {
  std::vector<T> mean, var;
  std::vector<int64_t> count;
};

template <typename T>
Moments<T> moments(const std::vector<T> &x, const std::vector<int64_t> &group,
                   int64_t groups) {
  Moments<T> m{std::vector<T>(groups, T(0)), std::vector<T>(groups, T(0)),
               std::vector<int64_t>(groups, 0)};
  for (size_t i = 0; i < x.size(); ++i) {
    m.mean[group[i]] += x[i];
    ++m.count[group[i]];
  }
  for (int64_t k = 0; k < groups; ++k)
    m.mean[k] /= T(m.count[k]);
  for (size_t i = 0; i < x.size(); ++i) {
    T d = x[i] - m.mean[group[i]];
    m.var[group[i]] += d * d;
  }
  for (int64_t k = 0; k < groups; ++k)
    m.var[k] /= T(m.count[k]);
  return m;
}

/// The channel of each element of an [N, C, ...] tensor.
std::vector<int64_t> channels(const Shape &shape) {
  int64_t n = numelOf(shape), c = shape[1];
  int64_t inner = n ? n / (shape[0] * c) : 1;
  std::vector<int64_t> group(n);
  for (size_t i = 0; i < group.size(); ++i)
    group[i] = (int64_t(i) / inner) % c;
  return group;
}

/// The row (all but the last dimension) of each element.
std::vector<int64_t> rows(const Shape &shape) {
  int64_t d = shape.back();
  std::vector<int64_t> group(numelOf(shape));
  for (size_t i = 0; i < group.size(); ++i)
    group[i] = int64_t(i) / d;
  return group;
}

/// The shared backward formula (see the file comment). `group` maps an
/// element to its statistic, `feature` to its weight/bias entry.
template <typename T>
std::array<BasicTensor<T>, 3>
normGrad(const BasicTensor<T> &g, const BasicTensor<T> &x,
         const BasicTensor<T> &weight, double eps,
         const std::vector<int64_t> &group, int64_t groups,
         const std::vector<int64_t> &feature) {
  Moments<T> m = moments(x.values, group, groups);
  std::vector<T> istd(groups), sumGw(groups, T(0)), sumGwXhat(groups, T(0));
  for (int64_t k = 0; k < groups; ++k)
    istd[k] = T(1) / std::sqrt(m.var[k] + T(eps));
  int64_t features = weight.numel();
  BasicTensor<T> dx = BasicTensor<T>::zeros(x.shape);
  BasicTensor<T> dw = BasicTensor<T>::zeros({features});
  BasicTensor<T> db = BasicTensor<T>::zeros({features});
  std::vector<T> xhat(x.values.size());
  for (size_t i = 0; i < x.values.size(); ++i) {
    int64_t k = group[i], f = feature[i];
    xhat[i] = (x.values[i] - m.mean[k]) * istd[k];
    T gw = g.values[i] * weight.values[f];
    sumGw[k] += gw;
    sumGwXhat[k] += gw * xhat[i];
    dw.values[f] += g.values[i] * xhat[i];
    db.values[f] += g.values[i];
  }
  for (size_t i = 0; i < x.values.size(); ++i) {
    int64_t k = group[i];
    T n = T(m.count[k]);
    T gw = g.values[i] * weight.values[feature[i]];
    dx.values[i] = istd[k] / n * (n * gw - sumGw[k] - xhat[i] * sumGwXhat[k]);
  }
  return {dx, dw, db};
}

} // namespace

template <typename T>
std::array<BasicTensor<T>, 3> kernels::batchNorm(
    const BasicTensor<T> &x, const BasicTensor<T> &weight,
    const BasicTensor<T> &bias, const BasicTensor<T> &runningMean,
    const BasicTensor<T> &runningVar, double eps, double momentum) {
  int64_t c = x.shape[1];
  std::vector<int64_t> group = channels(x.shape);
  Moments<T> m = moments(x.values, group, c);
  BasicTensor<T> y = BasicTensor<T>::zeros(x.shape);
  for (size_t i = 0; i < y.values.size(); ++i) {
    int64_t k = group[i];
    y.values[i] = (x.values[i] - m.mean[k]) / std::sqrt(m.var[k] + T(eps)) *
                      weight.values[k] +
                  bias.values[k];
  }
  BasicTensor<T> mean = runningMean, var = runningVar;
  T mom = T(momentum);
  for (int64_t k = 0; k < c; ++k) {
    T n = T(m.count[k]);
    T unbiased = m.var[k] * n / (n - T(1));
    mean.values[k] = (T(1) - mom) * runningMean.values[k] + mom * m.mean[k];
    var.values[k] = (T(1) - mom) * runningVar.values[k] + mom * unbiased;
  }
  return {y, mean, var};
}

template <typename T>
BasicTensor<T> kernels::batchNormInference(const BasicTensor<T> &x,
                                           const BasicTensor<T> &weight,
                                           const BasicTensor<T> &bias,
                                           const BasicTensor<T> &runningMean,
                                           const BasicTensor<T> &runningVar,
                                           double eps) {
  std::vector<int64_t> group = channels(x.shape);
  BasicTensor<T> y = BasicTensor<T>::zeros(x.shape);
  for (size_t i = 0; i < y.values.size(); ++i) {
    int64_t k = group[i];
    y.values[i] = (x.values[i] - runningMean.values[k]) /
                      std::sqrt(runningVar.values[k] + T(eps)) *
                      weight.values[k] +
                  bias.values[k];
  }
  return y;
}

template <typename T>
std::array<BasicTensor<T>, 3>
kernels::batchNormGrad(const BasicTensor<T> &g, const BasicTensor<T> &x,
                       const BasicTensor<T> &weight, double eps) {
  std::vector<int64_t> group = channels(x.shape);
  return normGrad(g, x, weight, eps, group, x.shape[1], group);
}

template <typename T>
BasicTensor<T> kernels::layerNorm(const BasicTensor<T> &x,
                                  const BasicTensor<T> &weight,
                                  const BasicTensor<T> &bias, double eps) {
  int64_t d = x.shape.back();
  std::vector<int64_t> group = rows(x.shape);
  Moments<T> m = moments(x.values, group, d ? x.numel() / d : 0);
  BasicTensor<T> y = BasicTensor<T>::zeros(x.shape);
  for (size_t i = 0; i < y.values.size(); ++i) {
    int64_t r = group[i], j = int64_t(i) % d;
    y.values[i] = (x.values[i] - m.mean[r]) / std::sqrt(m.var[r] + T(eps)) *
                      weight.values[j] +
                  bias.values[j];
  }
  return y;
}

template <typename T>
std::array<BasicTensor<T>, 3>
kernels::layerNormGrad(const BasicTensor<T> &g, const BasicTensor<T> &x,
                       const BasicTensor<T> &weight, double eps) {
  int64_t d = x.shape.back();
  std::vector<int64_t> feature(x.numel());
  for (size_t i = 0; i < feature.size(); ++i)
    feature[i] = int64_t(i) % d;
  return normGrad(g, x, weight, eps, rows(x.shape), d ? x.numel() / d : 0,
                  feature);
}

#define INSTANTIATE(T)                                                         \
  template std::array<BasicTensor<T>, 3> kernels::batchNorm(                   \
      const BasicTensor<T> &, const BasicTensor<T> &, const BasicTensor<T> &,  \
      const BasicTensor<T> &, const BasicTensor<T> &, double, double);         \
  template BasicTensor<T> kernels::batchNormInference(                         \
      const BasicTensor<T> &, const BasicTensor<T> &, const BasicTensor<T> &,  \
      const BasicTensor<T> &, const BasicTensor<T> &, double);                 \
  template std::array<BasicTensor<T>, 3> kernels::batchNormGrad(               \
      const BasicTensor<T> &, const BasicTensor<T> &, const BasicTensor<T> &,  \
      double);                                                                 \
  template BasicTensor<T> kernels::layerNorm(const BasicTensor<T> &,           \
                                             const BasicTensor<T> &,           \
                                             const BasicTensor<T> &, double);  \
  template std::array<BasicTensor<T>, 3> kernels::layerNormGrad(               \
      const BasicTensor<T> &, const BasicTensor<T> &, const BasicTensor<T> &,  \
      double);
INSTANTIATE(float)
INSTANTIATE(double)
