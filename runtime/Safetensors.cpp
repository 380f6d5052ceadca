//===- Safetensors.cpp - read and write .safetensors files ------*- C++ -*-===//
//
// Part of kiln. See Safetensors.h. The reader checks, in order: the 8-byte
// header length, that the header fits in the file, that it is a JSON object,
// each entry's dtype, shape and data_offsets, that the offsets lie inside
// the data section, match the shape's byte size and do not overlap.
//
//===----------------------------------------------------------------------===//

#include "runtime/Safetensors.h"
#include "runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

using namespace kiln::rt;

/// Headers beyond this are refused before being read (the reference
/// implementation's limit); a corrupt length would otherwise allocate
/// whatever 8 random bytes say.
static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

/// Element counts beyond this are refused: its byte size must fit in int64.
static constexpr int64_t kMaxElements = int64_t(1) << 60;

const char *kiln::rt::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F64:
    return "F64";
  case DType::I64:
    return "I64";
  }
  return "?";
}

static int64_t elementSize(DType dtype) { return dtype == DType::F32 ? 4 : 8; }

int64_t StoredTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

StoredTensor StoredTensor::fromDoubles(DType dtype, std::vector<int64_t> shape,
                                       const std::vector<double> &values) {
  StoredTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * elementSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::F32) {
      float v = float(values[i]);
      std::memcpy(&t.bytes[i * 4], &v, 4);
    } else {
      std::memcpy(&t.bytes[i * 8], &values[i], 8);
    }
  }
  return t;
}

StoredTensor StoredTensor::fromInts(std::vector<int64_t> shape,
                                    const std::vector<int64_t> &values) {
  StoredTensor t;
  t.dtype = DType::I64;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * 8);
  if (!values.empty())
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

std::vector<double> StoredTensor::toDoubles() const {
  std::vector<double> out;
  if (dtype == DType::I64)
    return out;
  size_t n = bytes.size() / elementSize(dtype);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (dtype == DType::F32) {
      float v;
      std::memcpy(&v, &bytes[i * 4], 4);
      out[i] = v;
    } else {
      std::memcpy(&out[i], &bytes[i * 8], 8);
    }
  }
  return out;
}

std::vector<int64_t> StoredTensor::toInts() const {
  std::vector<int64_t> out;
  if (dtype != DType::I64)
    return out;
  out.resize(bytes.size() / 8);
  if (!out.empty())
    std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

namespace {

/// Reads one header entry into `tensor`, with its [begin, end) offsets.
bool parseEntry(const std::string &name, const JsonValue &entry,
                uint64_t dataSize, StoredTensor &tensor, uint64_t &begin,
                uint64_t &end, std::string &why) {
  std::string who = "tensor '" + name + "'";
  if (entry.kind != JsonValue::Kind::Object)
    return why = who + " is not a JSON object", false;
  const JsonValue *dtype = entry.find("dtype");
  if (!dtype || dtype->kind != JsonValue::Kind::String)
    return why = who + " has no string 'dtype'", false;
  if (dtype->string == "F32")
    tensor.dtype = DType::F32;
  else if (dtype->string == "F64")
    tensor.dtype = DType::F64;
  else if (dtype->string == "I64")
    tensor.dtype = DType::I64;
  else
    return why = who + " has unknown dtype '" + dtype->string +
                 "' (kiln reads F32, F64 and I64)",
           false;

  const JsonValue *shape = entry.find("shape");
  if (!shape || shape->kind != JsonValue::Kind::Array)
    return why = who + " has no array 'shape'", false;
  int64_t numel = 1;
  for (const JsonValue &d : shape->elements) {
    if (d.kind != JsonValue::Kind::Number || !d.isInteger || d.integer < 0)
      return why = who + " has a shape entry that is not a non-negative "
                         "integer",
             false;
    if (d.integer != 0 && numel > kMaxElements / d.integer)
      return why = who + " has a shape too large to address", false;
    numel *= d.integer;
    tensor.shape.push_back(d.integer);
  }

  const JsonValue *offsets = entry.find("data_offsets");
  if (!offsets || offsets->kind != JsonValue::Kind::Array ||
      offsets->elements.size() != 2)
    return why = who + " has no 'data_offsets' [begin, end]", false;
  for (const JsonValue &o : offsets->elements)
    if (o.kind != JsonValue::Kind::Number || !o.isInteger || o.integer < 0)
      return why = who + " has data_offsets that are not non-negative "
                         "integers",
             false;
  begin = uint64_t(offsets->elements[0].integer);
  end = uint64_t(offsets->elements[1].integer);
  if (begin > end || end > dataSize)
    return why = who + " has data_offsets [" + std::to_string(begin) + ", " +
                 std::to_string(end) + ") out of range of the " +
                 std::to_string(dataSize) + "-byte data section",
           false;
  uint64_t expected = uint64_t(numel) * uint64_t(elementSize(tensor.dtype));
  if (end - begin != expected)
    return why = who + " has " + std::to_string(end - begin) +
                 " data bytes but its dtype and shape need " +
                 std::to_string(expected),
           false;
  return true;
}

} // namespace

bool kiln::rt::parseSafetensors(std::string_view bytes, const std::string &what,
                                SafetensorsFile &out, std::string &error) {
  auto fail = [&](const std::string &why) {
    error = what + ": " + why;
    return false;
  };
  if (bytes.size() < 8)
    return fail("truncated: " + std::to_string(bytes.size()) +
                " bytes, too short for the 8-byte header length");
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | static_cast<unsigned char>(bytes[i]);
  uint64_t rest = bytes.size() - 8;
  if (headerSize == 0 || headerSize > kMaxHeaderBytes)
    return fail("bad header length " + std::to_string(headerSize));
  if (headerSize > rest)
    return fail("truncated: header length " + std::to_string(headerSize) +
                " exceeds the " + std::to_string(rest) +
                " bytes after the length");

  JsonValue header;
  std::string why;
  if (!parseJson(bytes.substr(8, headerSize), header, why))
    return fail("bad JSON header: " + why);
  if (header.kind != JsonValue::Kind::Object)
    return fail("bad JSON header: not an object");

  std::string_view data = bytes.substr(8 + headerSize);
  SafetensorsFile result;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto &[name, entry] : header.members) {
    if (name == "__metadata__") {
      if (entry.kind != JsonValue::Kind::Object)
        return fail("__metadata__ is not a JSON object");
      for (const auto &[key, value] : entry.members) {
        if (value.kind != JsonValue::Kind::String)
          return fail("__metadata__ entry '" + key + "' is not a string");
        result.metadata[key] = value.string;
      }
      continue;
    }
    if (result.tensors.count(name))
      return fail("tensor '" + name + "' appears twice");
    StoredTensor tensor;
    uint64_t begin, end;
    if (!parseEntry(name, entry, data.size(), tensor, begin, end, why))
      return fail(why);
    tensor.bytes.assign(data.begin() + begin, data.begin() + end);
    ranges.emplace_back(begin, end);
    result.tensors.emplace(name, std::move(tensor));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      return fail("data_offsets of two tensors overlap at byte " +
                  std::to_string(ranges[i].first));
  out = std::move(result);
  return true;
}

std::string kiln::rt::serializeSafetensors(const SafetensorsFile &file) {
  std::string header = "{";
  bool first = true;
  auto separate = [&] {
    if (!first)
      header += ",";
    first = false;
  };
  if (!file.metadata.empty()) {
    separate();
    header += "\"__metadata__\":{";
    bool firstKey = true;
    for (const auto &[key, value] : file.metadata) {
      header += (firstKey ? "" : ",") + quoteJson(key) + ":" + quoteJson(value);
      firstKey = false;
    }
    header += "}";
  }
  uint64_t offset = 0;
  for (const auto &[name, t] : file.tensors) {
    separate();
    header += quoteJson(name) + ":{\"dtype\":\"" + dtypeName(t.dtype) +
              "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  header += "}";
  // Pad so the data section starts 8-byte aligned, as the format suggests.
  while ((8 + header.size()) % 8)
    header += ' ';
  std::string out(8, '\0');
  uint64_t size = header.size();
  for (int i = 0; i < 8; ++i)
    out[i] = char((size >> (8 * i)) & 0xFF);
  out += header;
  for (const auto &[name, t] : file.tensors)
    out.append(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
  return out;
}

bool kiln::rt::readSafetensors(const std::string &path, SafetensorsFile &out,
                               std::string &error) {
  // A directory opens as a stream whose first read throws.
  if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
    error = path + ": is a directory, not a safetensors file";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open for reading: " + std::strerror(errno);
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = path + ": read error";
    return false;
  }
  return parseSafetensors(bytes, path, out, error);
}

bool kiln::rt::writeSafetensors(const std::string &path,
                                const SafetensorsFile &file,
                                std::string &error) {
  std::ofstream outFile(path, std::ios::binary | std::ios::trunc);
  if (!outFile) {
    error = path + ": cannot open for writing: " + std::strerror(errno);
    return false;
  }
  std::string bytes = serializeSafetensors(file);
  outFile.write(bytes.data(), std::streamsize(bytes.size()));
  outFile.close();
  if (!outFile) {
    error = path + ": write error";
    return false;
  }
  return true;
}
