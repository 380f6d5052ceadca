//===- Kernels.h - the evaluator's per-op loops -----------------*- C++ -*-===//
//
// Part of kiln. One function per nn op (or op family), templated on the
// scalar type T (float or double) that every intermediate is computed and
// stored in. Kernels assume their operands' shapes were checked by the
// dispatcher (Evaluator.cpp) against each other and the op's attributes;
// they never fail. The .cpp files holding them are split by op group and
// instantiate each kernel for float and double.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_KILN_RUN_KERNELS_H
#define KILN_TOOLS_KILN_RUN_KERNELS_H

#include "tools/kiln-run/Evaluator.h"

#include <array>
#include <optional>

namespace kiln::eval::kernels {

using Shape = std::vector<int64_t>;

/// Row-major strides of `shape`.
Shape stridesOf(const Shape &shape);

/// Product of `shape`.
int64_t numelOf(const Shape &shape);

/// The NumPy broadcast of two shapes, or nullopt when they do not
/// broadcast.
std::optional<Shape> broadcastShapes(const Shape &a, const Shape &b);

/// For each element of `out` (row-major), the flat index of the element of
/// a tensor of shape `in` that broadcasting (trailing alignment, size-1
/// dimensions repeated) maps to it.
std::vector<int64_t> broadcastIndices(const Shape &in, const Shape &out);

/// `x` with f applied to every element.
template <typename T, typename F>
BasicTensor<T> map(const BasicTensor<T> &x, F f) {
  BasicTensor<T> out = BasicTensor<T>::zeros(x.shape);
  for (size_t i = 0; i < x.values.size(); ++i)
    out.values[i] = f(x.values[i]);
  return out;
}

/// f(a, b) elementwise over the broadcast of the two shapes, which the
/// caller has checked exists.
template <typename T, typename F>
BasicTensor<T> zip(const BasicTensor<T> &a, const BasicTensor<T> &b, F f) {
  Shape shape = *broadcastShapes(a.shape, b.shape);
  std::vector<int64_t> ia = broadcastIndices(a.shape, shape);
  std::vector<int64_t> ib = broadcastIndices(b.shape, shape);
  BasicTensor<T> out = BasicTensor<T>::zeros(shape);
  for (size_t i = 0; i < out.values.size(); ++i)
    out.values[i] = f(a.values[ia[i]], b.values[ib[i]]);
  return out;
}

//===----------------------------------------------------------------------===//
// Data movement (KernelsShape.cpp); integer tensors too where the op allows
//===----------------------------------------------------------------------===//

/// out[i] = x[source[i]], or zero where source[i] < 0.
template <typename T>
BasicTensor<T> gather(const BasicTensor<T> &x, Shape shape,
                      const std::vector<int64_t> &source);

/// Result dimension i is input dimension perm[i].
template <typename T>
BasicTensor<T> transpose(const BasicTensor<T> &x, llvm::ArrayRef<int64_t> perm);

/// The inputs joined along `axis` (other dimensions equal).
template <typename T>
BasicTensor<T> concat(llvm::ArrayRef<const BasicTensor<T> *> inputs,
                      int64_t axis);

/// Elements [start, end) along `axis`.
template <typename T>
BasicTensor<T> slice(const BasicTensor<T> &x, int64_t axis, int64_t start,
                     int64_t end);

/// `before` zeros, x, then `after` zeros along `axis`.
template <typename T>
BasicTensor<T> pad(const BasicTensor<T> &x, int64_t axis, int64_t before,
                   int64_t after);

/// x broadcast to `shape` (checked to be a broadcast of x's shape).
template <typename T>
BasicTensor<T> broadcastTo(const BasicTensor<T> &x, const Shape &shape);

//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling (KernelsLinalg.cpp)
//===----------------------------------------------------------------------===//

/// op(a) op(b) for rank 2, or per batch item for rank 3, where op transposes
/// the last two dimensions when its flag is set.
template <typename T>
BasicTensor<T> matmul(const BasicTensor<T> &a, const BasicTensor<T> &b,
                      bool transposeA, bool transposeB);

/// Attributes of a convolution (NCHW input, OIHW weight).
struct ConvParams {
  std::array<int64_t, 2> stride, padding, dilation;
  int64_t groups;
};

/// Output height or width of a convolution of `size` with kernel `k`.
int64_t convOutputSize(int64_t size, int64_t k, int64_t stride, int64_t padding,
                       int64_t dilation);

/// conv2d without bias; PyTorch's Conv2d.
template <typename T>
BasicTensor<T> conv2d(const BasicTensor<T> &x, const BasicTensor<T> &w,
                      const ConvParams &p);

/// The adjoint of conv2d in x: d loss/dx of shape `inputShape` from
/// g = d loss/d conv2d(x, w).
template <typename T>
BasicTensor<T> conv2dGradInput(const BasicTensor<T> &g, const BasicTensor<T> &w,
                               const Shape &inputShape, const ConvParams &p);

/// The adjoint of conv2d in w: d loss/dw of shape `weightShape`.
template <typename T>
BasicTensor<T> conv2dGradWeight(const BasicTensor<T> &x,
                                const BasicTensor<T> &g,
                                const Shape &weightShape, const ConvParams &p);

/// Attributes of a pooling window.
struct Window {
  std::array<int64_t, 2> kernel, stride, padding;
};

/// Output height or width of pooling `size` (floor mode).
int64_t poolOutputSize(int64_t size, int64_t kernel, int64_t stride,
                       int64_t padding);

/// Max pooling; padding acts as -inf.
template <typename T>
BasicTensor<T> maxPool2d(const BasicTensor<T> &x, const Window &w);

/// Average pooling; padded positions count in the divisor
/// (count_include_pad=True).
template <typename T>
BasicTensor<T> avgPool2d(const BasicTensor<T> &x, const Window &w);

/// Each window's g added at the window's first maximum (row-major order).
template <typename T>
BasicTensor<T> maxPool2dGrad(const BasicTensor<T> &g, const BasicTensor<T> &x,
                             const Window &w);

/// Each window's g / (kh kw) added at each in-bounds window position.
template <typename T>
BasicTensor<T> avgPool2dGrad(const BasicTensor<T> &g, const Shape &inputShape,
                             const Window &w);

//===----------------------------------------------------------------------===//
// Reductions and softmax (KernelsReduce.cpp)
//===----------------------------------------------------------------------===//

enum class Reduction { Sum, Mean, Max };

/// x reduced over `axes`, with the reduced dimensions kept as size 1.
template <typename T>
BasicTensor<T> reduce(const BasicTensor<T> &x, llvm::ArrayRef<int64_t> axes,
                      Reduction kind);

/// `shape` with each of `axes` set to 1.
Shape keptShape(const Shape &shape, llvm::ArrayRef<int64_t> axes);

/// g (reduced shape) broadcast back to `inputShape` and divided by the
/// number of elements each reduced value covers.
template <typename T>
BasicTensor<T> reduceMeanGrad(const BasicTensor<T> &g, const Shape &inputShape,
                              llvm::ArrayRef<int64_t> axes);

/// g split evenly among the positions of x equal to their max.
template <typename T>
BasicTensor<T> reduceMaxGrad(const BasicTensor<T> &g, const BasicTensor<T> &x,
                             const BasicTensor<T> &max,
                             llvm::ArrayRef<int64_t> axes);

/// Index of the first maximum along `axis`, which is removed.
template <typename T>
BasicTensor<T> argmax(const BasicTensor<T> &x, int64_t axis);

/// softmax (or log_softmax) along `axis`, computed from x - max(x).
template <typename T>
BasicTensor<T> softmax(const BasicTensor<T> &x, int64_t axis, bool log);

//===----------------------------------------------------------------------===//
// Normalizations (KernelsNorm.cpp)
//===----------------------------------------------------------------------===//

/// Training-mode batch norm: y and the updated running mean and variance.
template <typename T>
std::array<BasicTensor<T>, 3>
batchNorm(const BasicTensor<T> &x, const BasicTensor<T> &weight,
          const BasicTensor<T> &bias, const BasicTensor<T> &runningMean,
          const BasicTensor<T> &runningVar, double eps, double momentum);

/// Batch norm with the running statistics.
template <typename T>
BasicTensor<T> batchNormInference(const BasicTensor<T> &x,
                                  const BasicTensor<T> &weight,
                                  const BasicTensor<T> &bias,
                                  const BasicTensor<T> &runningMean,
                                  const BasicTensor<T> &runningVar, double eps);

/// Gradients of training-mode batch norm in x, weight and bias.
template <typename T>
std::array<BasicTensor<T>, 3>
batchNormGrad(const BasicTensor<T> &g, const BasicTensor<T> &x,
              const BasicTensor<T> &weight, double eps);

/// Layer norm over the last dimension.
template <typename T>
BasicTensor<T> layerNorm(const BasicTensor<T> &x, const BasicTensor<T> &weight,
                         const BasicTensor<T> &bias, double eps);

/// Gradients of layer norm in x, weight and bias.
template <typename T>
std::array<BasicTensor<T>, 3>
layerNormGrad(const BasicTensor<T> &g, const BasicTensor<T> &x,
              const BasicTensor<T> &weight, double eps);

//===----------------------------------------------------------------------===//
// Losses, dropout, embedding (KernelsLoss.cpp)
//===----------------------------------------------------------------------===//

/// mean over rows of logsumexp(x[i]) - x[i, t[i]].
template <typename T>
BasicTensor<T> crossEntropy(const BasicTensor<T> &x, const BasicTensor<T> &t);
/// g (softmax(x) - onehot(t)) / N.
template <typename T>
BasicTensor<T> crossEntropyGrad(T g, const BasicTensor<T> &x,
                                const BasicTensor<T> &t);
/// mean over rows of -x[i, t[i]].
template <typename T>
BasicTensor<T> nll(const BasicTensor<T> &x, const BasicTensor<T> &t);
/// -g onehot(t) / N.
template <typename T>
BasicTensor<T> nllGrad(T g, const BasicTensor<T> &x, const BasicTensor<T> &t);
/// mean of max(x, 0) - x t + log1p(exp(-|x|)).
template <typename T>
BasicTensor<T> bceWithLogits(const BasicTensor<T> &x, const BasicTensor<T> &t);
/// g (sigmoid(x) - t) / numel.
template <typename T>
BasicTensor<T> bceWithLogitsGrad(T g, const BasicTensor<T> &x,
                                 const BasicTensor<T> &t);
/// mean of (x - t)^2.
template <typename T>
BasicTensor<T> mse(const BasicTensor<T> &x, const BasicTensor<T> &t);
/// g 2 (x - t) / numel.
template <typename T>
BasicTensor<T> mseGrad(T g, const BasicTensor<T> &x, const BasicTensor<T> &t);

/// Inverted dropout with kiln's counter-based mask (runtime/Random.h).
template <typename T>
BasicTensor<T> dropout(const BasicTensor<T> &x, uint64_t seed, uint64_t stream,
                       double p);

/// Rows of `table` at `indices` (checked in range).
template <typename T>
BasicTensor<T> embedding(const BasicTensor<T> &indices,
                         const BasicTensor<T> &table);

/// Scatter-add of g's rows into a zero [rows, dim] table.
template <typename T>
BasicTensor<T> embeddingGrad(const BasicTensor<T> &g,
                             const BasicTensor<T> &indices, int64_t rows);

} // namespace kiln::eval::kernels

#endif // KILN_TOOLS_KILN_RUN_KERNELS_H
