//===- Json.h - a minimal JSON reader ---------------------------*- C++ -*-===//
//
// Part of kiln. Parses the small JSON documents the runtime reads (the
// safetensors header): objects, arrays, strings with escapes, numbers, true,
// false and null. Integers that fit in int64 keep their exact value.
// Nesting deeper than kMaxJsonDepth is rejected so a hostile file cannot
// exhaust the stack. Plain C++, no dependencies.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_JSON_H
#define KILN_RUNTIME_JSON_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::rt {

/// Deeper nesting than any header needs (it has depth 3).
constexpr int kMaxJsonDepth = 64;

/// A parsed JSON value. Objects keep their members in file order.
struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  bool isInteger = false; ///< a number written without fraction or exponent
  int64_t integer = 0;    ///< its value, when isInteger
  std::string string;
  std::vector<JsonValue> elements;
  std::vector<std::pair<std::string, JsonValue>> members;

  /// The member named `key` of an object, or null if absent.
  const JsonValue *find(std::string_view key) const;
};

/// Parses `text` as one JSON document (surrounding whitespace allowed). On
/// failure returns false and sets `error` to what is wrong and the byte
/// offset where.
bool parseJson(std::string_view text, JsonValue &out, std::string &error);

/// `text` as a JSON string literal, quotes included.
std::string quoteJson(std::string_view text);

} // namespace kiln::rt

#endif // KILN_RUNTIME_JSON_H
