//===- Safetensors.h - read and write .safetensors files --------*- C++ -*-===//
//
// Part of kiln. The safetensors format (8-byte little-endian header length,
// a JSON header mapping each name to dtype, shape and [begin, end) byte
// offsets into the data section, then the raw little-endian data) for
// kiln-run's inputs and outputs and the trainer's checkpoints. Supports the
// dtypes kiln uses: F32, F64 and I64. Reading validates everything a file
// can get wrong (truncation, header length, JSON, dtype, shape, offsets) and
// reports it with the file's name; a failed read leaves no partial result.
// Plain C++, no dependencies; assumes a little-endian host.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_SAFETENSORS_H
#define KILN_RUNTIME_SAFETENSORS_H

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt {

/// The element types kiln stores.
enum class DType { F32, F64, I64 };

/// "F32", "F64" or "I64".
const char *dtypeName(DType dtype);

/// One stored tensor: its element type, shape and raw little-endian bytes.
struct StoredTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;

  /// Product of the shape (1 for a scalar).
  int64_t numel() const;

  /// A tensor of `shape` holding `values` (numel(shape) of them) as `dtype`
  /// F32 or F64; F32 rounds each value to float.
  static StoredTensor fromDoubles(DType dtype, std::vector<int64_t> shape,
                                  const std::vector<double> &values);
  /// An I64 tensor of `shape` holding `values`.
  static StoredTensor fromInts(std::vector<int64_t> shape,
                               const std::vector<int64_t> &values);

  /// The values of an F32 or F64 tensor, widened to double (empty for I64).
  std::vector<double> toDoubles() const;
  /// The values of an I64 tensor (empty otherwise).
  std::vector<int64_t> toInts() const;
};

/// The contents of a .safetensors file: tensors by name, and the optional
/// string-to-string `__metadata__` table.
struct SafetensorsFile {
  std::map<std::string, StoredTensor> tensors;
  std::map<std::string, std::string> metadata;
};

/// Parses the bytes of a .safetensors file. `what` names the source in error
/// messages (the path). On failure returns false, sets `error` to a message
/// starting with `what` and leaves `out` unchanged.
bool parseSafetensors(std::string_view bytes, const std::string &what,
                      SafetensorsFile &out, std::string &error);

/// Serializes `file`: tensors in name order, data packed in that order,
/// header padded with spaces to a multiple of 8 bytes.
std::string serializeSafetensors(const SafetensorsFile &file);

/// Reads and parses the file at `path` (errors as parseSafetensors).
bool readSafetensors(const std::string &path, SafetensorsFile &out,
                     std::string &error);

/// Writes `file` to `path`; false with `error` set when it cannot.
bool writeSafetensors(const std::string &path, const SafetensorsFile &file,
                      std::string &error);

} // namespace kiln::rt

#endif // KILN_RUNTIME_SAFETENSORS_H
