//===- SafetensorsTest.cpp - tests of runtime/Safetensors -------*- C++ -*-===//
//
// Part of kiln. A round trip of every dtype, scalars, empty tensors and
// metadata through serialize and parse (and through a file), and one test
// per way a file can be corrupt, each checking that the message names the
// file and the problem and that the output is left untouched.
//
//===----------------------------------------------------------------------===//

#include "runtime/Safetensors.h"
#include "runtime/Json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

using namespace kiln::rt;

namespace {

/// A file made of an 8-byte length, `header` and `data`.
std::string fileWith(const std::string &header, const std::string &data = "",
                     int64_t claimedLength = -1) {
  uint64_t n = claimedLength < 0 ? header.size() : uint64_t(claimedLength);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = char((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

/// Parses `bytes` expecting failure; returns the message.
std::string errorOf(const std::string &bytes) {
  SafetensorsFile file;
  file.metadata["untouched"] = "yes";
  std::string error;
  EXPECT_FALSE(parseSafetensors(bytes, "model.safetensors", file, error));
  EXPECT_EQ(file.metadata.size(), 1u) << "a failed parse changed its output";
  EXPECT_EQ(error.rfind("model.safetensors: ", 0), 0u) << error;
  return error;
}

SafetensorsFile sample() {
  SafetensorsFile f;
  f.tensors["w"] = StoredTensor::fromDoubles(DType::F32, {2, 3},
                                             {1, -2.5, 3, 0.1, 5e-8, -6});
  f.tensors["d"] = StoredTensor::fromDoubles(DType::F64, {}, {0.1});
  f.tensors["i"] = StoredTensor::fromInts({3}, {-1, 0, int64_t(1) << 40});
  f.tensors["empty"] = StoredTensor::fromDoubles(DType::F64, {0, 4}, {});
  f.tensors["quote\"d"] = StoredTensor::fromInts({1}, {7});
  f.metadata["format"] = "kiln";
  return f;
}

void expectSame(const SafetensorsFile &a, const SafetensorsFile &b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto &[name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    const StoredTensor &u = b.tensors.at(name);
    EXPECT_EQ(t.dtype, u.dtype) << name;
    EXPECT_EQ(t.shape, u.shape) << name;
    EXPECT_EQ(t.bytes, u.bytes) << name;
  }
  EXPECT_EQ(a.metadata, b.metadata);
}

TEST(Safetensors, RoundTripInMemory) {
  SafetensorsFile in = sample(), out;
  std::string bytes = serializeSafetensors(in), error;
  ASSERT_TRUE(parseSafetensors(bytes, "mem", out, error)) << error;
  expectSame(in, out);
  // F32 rounds to float; F64 and I64 are exact.
  EXPECT_EQ(out.tensors["w"].toDoubles()[3], double(0.1f));
  EXPECT_EQ(out.tensors["d"].toDoubles()[0], 0.1);
  EXPECT_EQ(out.tensors["i"].toInts()[2], int64_t(1) << 40);
  // The data section starts 8-byte aligned.
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + headerSize) % 8, 0u);
}

TEST(Safetensors, RoundTripThroughAFile) {
  std::string path = ::testing::TempDir() + "kiln-roundtrip.safetensors";
  std::string error;
  ASSERT_TRUE(writeSafetensors(path, sample(), error)) << error;
  SafetensorsFile out;
  ASSERT_TRUE(readSafetensors(path, out, error)) << error;
  expectSame(sample(), out);
  std::remove(path.c_str());
}

TEST(Safetensors, ReadsAFileWrittenByTheReferenceFormat) {
  // As Python's safetensors writes it: no padding, keys in any order.
  std::string header =
      R"({"b":{"dtype":"I64","shape":[1],"data_offsets":[4,12]},)"
      R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  float one = 1.0f;
  int64_t seven = 7;
  std::string data(reinterpret_cast<const char *>(&one), 4);
  data.append(reinterpret_cast<const char *>(&seven), 8);
  SafetensorsFile out;
  std::string error;
  ASSERT_TRUE(parseSafetensors(fileWith(header, data), "ref", out, error))
      << error;
  EXPECT_EQ(out.tensors["a"].toDoubles(), std::vector<double>{1.0});
  EXPECT_EQ(out.tensors["b"].toInts(), std::vector<int64_t>{7});
}

TEST(Safetensors, MissingFile) {
  SafetensorsFile out;
  std::string error;
  EXPECT_FALSE(readSafetensors("/nonexistent/x.safetensors", out, error));
  EXPECT_NE(error.find("/nonexistent/x.safetensors: cannot open"),
            std::string::npos)
      << error;
}

TEST(Safetensors, TruncatedBeforeTheLength) {
  EXPECT_NE(errorOf("abc").find("truncated: 3 bytes"), std::string::npos);
}

TEST(Safetensors, ZeroHeaderLength) {
  EXPECT_NE(errorOf(fileWith("", "", 0)).find("bad header length 0"),
            std::string::npos);
}

TEST(Safetensors, HugeHeaderLength) {
  EXPECT_NE(
      errorOf(fileWith("{}", "", int64_t(1) << 40)).find("bad header length"),
      std::string::npos);
}

TEST(Safetensors, HeaderLongerThanTheFile) {
  EXPECT_NE(
      errorOf(fileWith("{}", "", 100)).find("truncated: header length 100"),
      std::string::npos);
}

TEST(Safetensors, BadJson) {
  std::string e = errorOf(fileWith(R"({"a": {"dtype": "F32",)"));
  EXPECT_NE(e.find("bad JSON header"), std::string::npos) << e;
  e = errorOf(fileWith("[1, 2]"));
  EXPECT_NE(e.find("bad JSON header: not an object"), std::string::npos) << e;
}

TEST(Safetensors, OffsetsOutOfRange) {
  std::string e = errorOf(fileWith(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"));
  EXPECT_NE(e.find("tensor 'a' has data_offsets [0, 8) out of range of the "
                   "4-byte data section"),
            std::string::npos)
      << e;
  e = errorOf(fileWith(
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "1234"));
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
}

TEST(Safetensors, SizeDisagreesWithShape) {
  std::string e = errorOf(fileWith(
      R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", "12345678"));
  EXPECT_NE(e.find("has 8 data bytes but its dtype and shape need 16"),
            std::string::npos)
      << e;
}

TEST(Safetensors, UnknownDtype) {
  std::string e = errorOf(fileWith(
      R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "1234"));
  EXPECT_NE(e.find("unknown dtype 'BF16'"), std::string::npos) << e;
}

TEST(Safetensors, MalformedEntries) {
  EXPECT_NE(
      errorOf(fileWith(R"({"a":3})")).find("tensor 'a' is not a JSON object"),
      std::string::npos);
  EXPECT_NE(
      errorOf(fileWith(
                  R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})"))
          .find("shape entry"),
      std::string::npos);
  EXPECT_NE(errorOf(fileWith(R"({"a":{"dtype":"F32","shape":[]}})"))
                .find("no 'data_offsets'"),
            std::string::npos);
  EXPECT_NE(errorOf(fileWith(R"({"__metadata__":{"k":1}})"))
                .find("__metadata__ entry 'k' is not a string"),
            std::string::npos);
}

TEST(Safetensors, OverlappingAndDuplicateTensors) {
  std::string e = errorOf(
      fileWith(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
               "12345678"));
  EXPECT_NE(e.find("overlap"), std::string::npos) << e;
  e = errorOf(
      fileWith(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
               R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
               "12345678"));
  EXPECT_NE(e.find("tensor 'a' appears twice"), std::string::npos) << e;
}

TEST(Json, ParsesEscapesAndNumbers) {
  JsonValue v;
  std::string error;
  ASSERT_TRUE(parseJson(
      R"( {"s": "a\"b\\\n\u00e9\ud83d\ude00", "n": [-12, 1.5e3, true, null]} )",
      v, error))
      << error;
  EXPECT_EQ(v.find("s")->string, "a\"b\\\n\xc3\xa9\xf0\x9f\x98\x80");
  const JsonValue &n = *v.find("n");
  EXPECT_TRUE(n.elements[0].isInteger);
  EXPECT_EQ(n.elements[0].integer, -12);
  EXPECT_FALSE(n.elements[1].isInteger);
  EXPECT_EQ(n.elements[1].number, 1500);
  EXPECT_TRUE(n.elements[2].boolean);
  EXPECT_EQ(n.elements[3].kind, JsonValue::Kind::Null);
}

TEST(Json, RejectsMalformedText) {
  JsonValue v;
  std::string error;
  for (const char *bad : {"", "{", "{\"a\" 1}", "[1,]", "01", "\"\\x\"",
                          "\"unterminated", "{} x", "\"\\ud800\"", "-"}) {
    EXPECT_FALSE(parseJson(bad, v, error)) << bad;
    EXPECT_NE(error.find("at byte"), std::string::npos) << error;
  }
  std::string deep(kMaxJsonDepth + 2, '[');
  EXPECT_FALSE(parseJson(deep, v, error));
  EXPECT_NE(error.find("nested deeper"), std::string::npos) << error;
}

} // namespace
