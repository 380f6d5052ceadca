//===- KernelsLinalg.cpp - evaluator loops for matmul, conv, pooling -*- C++
//-*-===//
//
// Part of kiln. Matrix products, 2-D convolution (NCHW, OIHW, PyTorch's
// stride/padding/dilation/groups semantics) with its two adjoints, and max
// and average pooling with their gradients. The adjoints are written as the
// forward loop nest with the accumulation reversed (scatter into the input
// or weight), so they are the exact transposes of the forward op.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Kernels.h"

#include <cmath>
#include <limits>

using namespace kiln::eval;
using namespace kiln::eval::kernels;

template <typename T>
BasicTensor<T> kernels::matmul(const BasicTensor<T> &a, const BasicTensor<T> &b,
                               bool transposeA, bool transposeB) {
  size_t r = a.shape.size();
  int64_t batch = r == 3 ? a.shape[0] : 1;
  int64_t aRows = a.shape[r - 2], aCols = a.shape[r - 1];
  int64_t bRows = b.shape[r - 2], bCols = b.shape[r - 1];
  int64_t m = transposeA ? aCols : aRows, k = transposeA ? aRows : aCols;
  int64_t n = transposeB ? bRows : bCols;
  // Element (i, j) of op(A) and op(B) of batch item z.
  auto opA = [&](int64_t z, int64_t i, int64_t j) {
    return transposeA ? a.values[(z * aRows + j) * aCols + i]
                      : a.values[(z * aRows + i) * aCols + j];
  };
  auto opB = [&](int64_t z, int64_t i, int64_t j) {
    return transposeB ? b.values[(z * bRows + j) * bCols + i]
                      : b.values[(z * bRows + i) * bCols + j];
  };
  BasicTensor<T> out =
      BasicTensor<T>::zeros(r == 3 ? Shape{batch, m, n} : Shape{m, n});
  for (int64_t z = 0; z < batch; ++z)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += opA(z, i, p) * opB(z, p, j);
        out.values[(z * m + i) * n + j] = sum;
      }
  return out;
}

int64_t kernels::convOutputSize(int64_t size, int64_t k, int64_t stride,
                                int64_t padding, int64_t dilation) {
  int64_t span = size + 2 * padding - dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

namespace {

/// The shared loop nest of conv2d and its adjoints: calls
/// visit(xIndex, wIndex, outIndex) for every product x[xIndex] * w[wIndex]
/// that contributes to out[outIndex]; taps in the padding are skipped.
template <typename F>
void forEachTap(const Shape &xs, const Shape &ws, const ConvParams &p,
                F visit) {
  int64_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3];
  int64_t o = ws[0], cg = ws[1], kh = ws[2], kw = ws[3];
  int64_t og = o / p.groups;
  int64_t oh = convOutputSize(h, kh, p.stride[0], p.padding[0], p.dilation[0]);
  int64_t ow = convOutputSize(wd, kw, p.stride[1], p.padding[1], p.dilation[1]);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      int64_t firstChannel = (oc / og) * cg;
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          int64_t outIndex = ((b * o + oc) * oh + y) * ow + xo;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < kh; ++i) {
              int64_t iy = y * p.stride[0] - p.padding[0] + i * p.dilation[0];
              if (iy < 0 || iy >= h)
                continue;
              for (int64_t j = 0; j < kw; ++j) {
                int64_t ix =
                    xo * p.stride[1] - p.padding[1] + j * p.dilation[1];
                if (ix < 0 || ix >= wd)
                  continue;
                int64_t xIndex =
                    ((b * c + firstChannel + ci) * h + iy) * wd + ix;
                int64_t wIndex = ((oc * cg + ci) * kh + i) * kw + j;
                visit(xIndex, wIndex, outIndex);
              }
            }
        }
    }
}

Shape convOutputShape(const Shape &xs, const Shape &ws, const ConvParams &p) {
  return {
      xs[0], ws[0],
      convOutputSize(xs[2], ws[2], p.stride[0], p.padding[0], p.dilation[0]),
      convOutputSize(xs[3], ws[3], p.stride[1], p.padding[1], p.dilation[1])};
}

} // namespace

template <typename T>
BasicTensor<T> kernels::conv2d(const BasicTensor<T> &x, const BasicTensor<T> &w,
                               const ConvParams &p) {
  BasicTensor<T> out =
      BasicTensor<T>::zeros(convOutputShape(x.shape, w.shape, p));
  forEachTap(x.shape, w.shape, p, [&](int64_t xi, int64_t wi, int64_t oi) {
    out.values[oi] += x.values[xi] * w.values[wi];
  });
  return out;
}

template <typename T>
BasicTensor<T>
kernels::conv2dGradInput(const BasicTensor<T> &g, const BasicTensor<T> &w,
                         const Shape &inputShape, const ConvParams &p) {
  BasicTensor<T> dx = BasicTensor<T>::zeros(inputShape);
  forEachTap(inputShape, w.shape, p, [&](int64_t xi, int64_t wi, int64_t oi) {
    dx.values[xi] += g.values[oi] * w.values[wi];
  });
  return dx;
}

template <typename T>
BasicTensor<T>
kernels::conv2dGradWeight(const BasicTensor<T> &x, const BasicTensor<T> &g,
                          const Shape &weightShape, const ConvParams &p) {
  BasicTensor<T> dw = BasicTensor<T>::zeros(weightShape);
  forEachTap(x.shape, weightShape, p, [&](int64_t xi, int64_t wi, int64_t oi) {
    dw.values[wi] += g.values[oi] * x.values[xi];
  });
  return dw;
}

int64_t kernels::poolOutputSize(int64_t size, int64_t kernel, int64_t stride,
                                int64_t padding) {
  int64_t span = size + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

namespace {

/// Calls visit(window, inIndex) for each in-bounds position of each pooling
/// window (window = flat output index), in row-major window order.
template <typename F>
void forEachWindowPosition(const Shape &xs, const Window &w, F visit) {
  int64_t planes = xs[0] * xs[1], h = xs[2], wd = xs[3];
  int64_t oh = poolOutputSize(h, w.kernel[0], w.stride[0], w.padding[0]);
  int64_t ow = poolOutputSize(wd, w.kernel[1], w.stride[1], w.padding[1]);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xo = 0; xo < ow; ++xo) {
        int64_t window = (p * oh + y) * ow + xo;
        for (int64_t i = 0; i < w.kernel[0]; ++i) {
          int64_t iy = y * w.stride[0] - w.padding[0] + i;
          if (iy < 0 || iy >= h)
            continue;
          for (int64_t j = 0; j < w.kernel[1]; ++j) {
            int64_t ix = xo * w.stride[1] - w.padding[1] + j;
            if (ix >= 0 && ix < wd)
              visit(window, (p * h + iy) * wd + ix);
          }
        }
      }
}

Shape poolOutputShape(const Shape &xs, const Window &w) {
  return {xs[0], xs[1],
          poolOutputSize(xs[2], w.kernel[0], w.stride[0], w.padding[0]),
          poolOutputSize(xs[3], w.kernel[1], w.stride[1], w.padding[1])};
}

/// For each window, the flat input index of its first maximum (-1 for a
/// window entirely in the padding, whose max is -inf).
template <typename T>
std::vector<int64_t> argmaxPerWindow(const BasicTensor<T> &x, const Window &w,
                                     int64_t windows) {
  std::vector<int64_t> best(windows, -1);
  forEachWindowPosition(x.shape, w, [&](int64_t window, int64_t in) {
    // Strictly greater: the first maximum in row-major order wins; a NaN
    // always does (PyTorch's max_pool2d).
    if (best[window] < 0 || x.values[in] > x.values[best[window]] ||
        std::isnan(x.values[in]))
      best[window] = in;
  });
  return best;
}

} // namespace

template <typename T>
BasicTensor<T> kernels::maxPool2d(const BasicTensor<T> &x, const Window &w) {
  BasicTensor<T> out = BasicTensor<T>::zeros(poolOutputShape(x.shape, w));
  std::vector<int64_t> best = argmaxPerWindow(x, w, out.numel());
  for (size_t i = 0; i < best.size(); ++i)
    out.values[i] =
        best[i] < 0 ? -std::numeric_limits<T>::infinity() : x.values[best[i]];
  return out;
}

template <typename T>
BasicTensor<T> kernels::avgPool2d(const BasicTensor<T> &x, const Window &w) {
  BasicTensor<T> out = BasicTensor<T>::zeros(poolOutputShape(x.shape, w));
  forEachWindowPosition(x.shape, w, [&](int64_t window, int64_t in) {
    out.values[window] += x.values[in];
  });
  T area = T(w.kernel[0] * w.kernel[1]);
  for (T &v : out.values)
    v /= area;
  return out;
}

template <typename T>
BasicTensor<T> kernels::maxPool2dGrad(const BasicTensor<T> &g,
                                      const BasicTensor<T> &x,
                                      const Window &w) {
  BasicTensor<T> dx = BasicTensor<T>::zeros(x.shape);
  std::vector<int64_t> best = argmaxPerWindow(x, w, g.numel());
  for (size_t i = 0; i < best.size(); ++i)
    if (best[i] >= 0)
      dx.values[best[i]] += g.values[i];
  return dx;
}

template <typename T>
BasicTensor<T> kernels::avgPool2dGrad(const BasicTensor<T> &g,
                                      const Shape &inputShape,
                                      const Window &w) {
  BasicTensor<T> dx = BasicTensor<T>::zeros(inputShape);
  T area = T(w.kernel[0] * w.kernel[1]);
  forEachWindowPosition(inputShape, w, [&](int64_t window, int64_t in) {
    dx.values[in] += g.values[window] / area;
  });
  return dx;
}

#define INSTANTIATE(T)                                                         \
  template BasicTensor<T> kernels::matmul(const BasicTensor<T> &,              \
                                          const BasicTensor<T> &, bool, bool); \
  template BasicTensor<T> kernels::conv2d(                                     \
      const BasicTensor<T> &, const BasicTensor<T> &, const ConvParams &);     \
  template BasicTensor<T> kernels::conv2dGradInput(                            \
      const BasicTensor<T> &, const BasicTensor<T> &, const Shape &,           \
      const ConvParams &);                                                     \
  template BasicTensor<T> kernels::conv2dGradWeight(                           \
      const BasicTensor<T> &, const BasicTensor<T> &, const Shape &,           \
      const ConvParams &);                                                     \
  template BasicTensor<T> kernels::maxPool2d(const BasicTensor<T> &,           \
                                             const Window &);                  \
  template BasicTensor<T> kernels::avgPool2d(const BasicTensor<T> &,           \
                                             const Window &);                  \
  template BasicTensor<T> kernels::maxPool2dGrad(                              \
      const BasicTensor<T> &, const BasicTensor<T> &, const Window &);         \
  template BasicTensor<T> kernels::avgPool2dGrad(                              \
      const BasicTensor<T> &, const Shape &, const Window &);
INSTANTIATE(float)
INSTANTIATE(double)
