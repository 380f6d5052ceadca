//===- Init.h - parameter initialization ------------------------*- C++ -*-===//
//
// Part of kiln. Fills a parameter from the resolved initializer MLIRGen
// records (`nn.init`: zeros, ones, constant, uniform, normal; fans and gains
// are already folded into the bounds) with kiln's counter-based random
// numbers (Random.h), so a parameter's initial value depends only on the
// seed and its name. Header-only, no dependencies.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_INIT_H
#define KILN_RUNTIME_INIT_H

#include "runtime/Random.h"

#include <cmath>
#include <cstdint>
#include <string_view>

namespace kiln::rt {

/// The resolved initializer of one parameter.
struct InitSpec {
  std::string_view kind; ///< zeros, ones, constant, uniform, normal
  double a = 0;          ///< constant value, uniform low, normal mean
  double b = 0;          ///< uniform high, normal std
};

/// Fills out[0..n) for the parameter `name` under `seed`. Normal samples use
/// Box-Muller on two uniforms of consecutive indices. Returns false for an
/// unknown kind.
template <typename T>
bool initialize(const InitSpec &spec, std::string_view name, uint64_t seed,
                T *out, int64_t n) {
  uint64_t key = fnv1a(name) ^ splitmix64(seed);
  for (int64_t i = 0; i < n; ++i) {
    double v;
    if (spec.kind == "zeros")
      v = 0;
    else if (spec.kind == "ones")
      v = 1;
    else if (spec.kind == "constant")
      v = spec.a;
    else if (spec.kind == "uniform")
      v = spec.a + (spec.b - spec.a) * uniform01(key, i);
    else if (spec.kind == "normal") {
      double u1 = 1.0 - uniform01(key, 2 * i), u2 = uniform01(key, 2 * i + 1);
      v = spec.a + spec.b * std::sqrt(-2.0 * std::log(u1)) *
                       std::cos(2.0 * M_PI * u2);
    } else
      return false;
    out[i] = static_cast<T>(v);
  }
  return true;
}

} // namespace kiln::rt

#endif // KILN_RUNTIME_INIT_H
