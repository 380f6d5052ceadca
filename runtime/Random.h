//===- Random.h - kiln's counter-based random numbers -----------*- C++ -*-===//
//
// Part of kiln. The one definition of every random number kiln draws:
// parameter initialization, dropout masks, shuffling, and the reference test
// data. Each number is a pure function of a 64-bit key and an index
// (splitmix64 finalizers), so kernels can draw in parallel, backward passes
// recompute forward masks exactly, and other languages (the PyTorch
// reference script in test/reference) reproduce the same values bit for bit.
// Header-only, no dependencies.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_RANDOM_H
#define KILN_RUNTIME_RANDOM_H

#include <cstdint>
#include <string_view>

namespace kiln::rt {

/// The splitmix64 output function of `x` (Steele, Lea, Flood 2014).
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// 64-bit FNV-1a hash of `name`: turns a tensor name into a key.
constexpr uint64_t fnv1a(std::string_view name) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : name)
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return h;
}

/// Random bits number `index` of the stream `key`.
constexpr uint64_t randomBits(uint64_t key, uint64_t index) {
  return splitmix64(key ^ splitmix64(index));
}

/// A double uniform in [0, 1) with 53 random bits.
constexpr double uniform01(uint64_t key, uint64_t index) {
  return static_cast<double>(randomBits(key, index) >> 11) * 0x1.0p-53;
}

/// The key of dropout op `stream` under the training step's `seed`.
constexpr uint64_t dropoutKey(uint64_t seed, uint64_t stream) {
  return splitmix64(seed) ^ splitmix64(~stream);
}

/// Whether dropout keeps element `index`: kept with probability 1 - p.
constexpr bool dropoutKeeps(uint64_t seed, uint64_t stream, uint64_t index,
                            double p) {
  return uniform01(dropoutKey(seed, stream), index) >= p;
}

} // namespace kiln::rt

#endif // KILN_RUNTIME_RANDOM_H
