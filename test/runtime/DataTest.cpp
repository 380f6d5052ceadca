//===- DataTest.cpp - tests of runtime/Data.h -------------------*- C++ -*-===//
//
// Part of kiln. Writes small IDX (plain and gzip), CIFAR-10 and CSV files
// into a fresh temporary directory and checks that loadData returns their
// values, and that each kind of malformed file gives an error naming the
// file and the problem. Also checks normalisation, the validation split, the
// epoch shuffle and batch gathering, and loads the real Fashion-MNIST when
// /usr/share/datasets/fashion-mnist is installed (skipped, saying so, when
// it is not).
//
//===----------------------------------------------------------------------===//

#include "runtime/Data.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

using namespace kiln::rt;

namespace {

namespace fs = std::filesystem;

/// Passes when `text` contains `part`, printing both when it does not.
::testing::AssertionResult contains(const std::string &text,
                                    const std::string &part) {
  if (text.find(part) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << text << "' does not contain '" << part << "'";
}

JsonValue json(const std::string &text) {
  JsonValue value;
  std::string error;
  EXPECT_TRUE(parseJson(text, value, error)) << error << " in " << text;
  return value;
}

std::vector<uint8_t> bigEndian(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> bytes;
  for (uint32_t w : words)
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(uint8_t(w >> shift));
  return bytes;
}

void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes,
                bool gzip = false) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr) << path;
    ASSERT_EQ(gzwrite(file, bytes.data(), unsigned(bytes.size())),
              int(bytes.size()));
    ASSERT_EQ(gzclose(file), Z_OK);
    return;
  }
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char *>(bytes.data()),
             std::streamsize(bytes.size()));
  ASSERT_TRUE(file.good()) << path;
}

void writeText(const std::string &path, const std::string &text) {
  std::ofstream file(path);
  file << text;
  ASSERT_TRUE(file.good()) << path;
}

/// The pixel the test images hold at `index` (sample * size + offset):
/// distinct enough that a misplaced byte shows.
uint8_t pixel(size_t index) { return uint8_t(index * 7 + 3); }

/// An IDX image file of `count` rows x cols images, pixels from pixel().
std::vector<uint8_t> idxImages(uint32_t count, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> bytes = bigEndian({0x803, count, rows, cols});
  for (size_t i = 0; i < size_t(count) * rows * cols; ++i)
    bytes.push_back(pixel(i));
  return bytes;
}

/// An IDX label file with labels i % 3.
std::vector<uint8_t> idxLabels(uint32_t count) {
  std::vector<uint8_t> bytes = bigEndian({0x801, count});
  for (uint32_t i = 0; i < count; ++i)
    bytes.push_back(uint8_t(i % 3));
  return bytes;
}

SampleSpec classes(std::vector<int64_t> inputShape, int64_t numClasses) {
  SampleSpec spec;
  spec.inputShape = std::move(inputShape);
  spec.numClasses = numClasses;
  return spec;
}

SampleSpec regression(std::vector<int64_t> inputShape) {
  SampleSpec spec;
  spec.inputShape = std::move(inputShape);
  spec.classLabels = false;
  spec.targetShape = {1};
  return spec;
}

class DataTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "kiln-data-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string path(const std::string &name) const { return dir + "/" + name; }

  /// Writes the four IDX files of a directory source: 5 training and 2 test
  /// images of 2x3.
  void writeIdxDirectory(bool gzip) {
    std::string suffix = gzip ? ".gz" : "";
    writeBytes(path("train-images-idx3-ubyte" + suffix), idxImages(5, 2, 3),
               gzip);
    writeBytes(path("train-labels-idx1-ubyte" + suffix), idxLabels(5), gzip);
    writeBytes(path("t10k-images-idx3-ubyte" + suffix), idxImages(2, 2, 3),
               gzip);
    writeBytes(path("t10k-labels-idx1-ubyte" + suffix), idxLabels(2), gzip);
  }

  /// Loads `data` expecting failure; returns the message.
  std::string loadError(const std::string &data, const SampleSpec &spec,
                        const std::vector<std::string> &files = {}) {
    DataSplits splits;
    std::string error;
    EXPECT_FALSE(loadData(json(data), files, spec, splits, error));
    return error;
  }

  std::string dir;
};

std::string idxSpec(const std::string &images, const std::string &labels) {
  return R"({"kind":"idx","images":)" + quoteJson(images) + R"(,"labels":)" +
         quoteJson(labels) + "}";
}

void expectIdxValues(const Dataset &data, int64_t size) {
  ASSERT_EQ(data.size, size);
  EXPECT_EQ(data.inputSize, 6);
  EXPECT_EQ(data.targetSize, 1);
  ASSERT_EQ(data.inputs.size(), size_t(size * 6));
  ASSERT_EQ(data.labels.size(), size_t(size));
  EXPECT_TRUE(data.targets.empty());
  for (size_t i = 0; i < data.inputs.size(); ++i)
    ASSERT_EQ(data.inputs[i], float(pixel(i))) << "value " << i;
  for (int64_t i = 0; i < size; ++i)
    EXPECT_EQ(data.labels[size_t(i)], i % 3) << "sample " << i;
}

TEST_F(DataTest, IdxDirectoryPlain) {
  writeIdxDirectory(/*gzip=*/false);
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(R"({"kind":"idx","dir":)" + quoteJson(dir) + "}"),
                       {}, classes({6}, 3), splits, error))
      << error;
  expectIdxValues(splits.train, 5);
  expectIdxValues(splits.test, 2);
  EXPECT_EQ(splits.train.origin, path("train-images-idx3-ubyte"));
}

TEST_F(DataTest, IdxDirectoryGzipWithImageShape) {
  writeIdxDirectory(/*gzip=*/true);
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(R"({"kind":"idx","dir":)" + quoteJson(dir) + "}"),
                       {}, classes({1, 2, 3}, 3), splits, error))
      << error;
  expectIdxValues(splits.train, 5);
  expectIdxValues(splits.test, 2);
  EXPECT_EQ(splits.train.origin, path("train-images-idx3-ubyte.gz"));
}

TEST_F(DataTest, IdxExplicitFilesWithoutTest) {
  writeBytes(path("img"), idxImages(4, 3, 2));
  writeBytes(path("lbl.gz"), idxLabels(4), /*gzip=*/true);
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(idxSpec(path("img"), path("lbl.gz"))), {},
                       classes({6}, 3), splits, error))
      << error;
  expectIdxValues(splits.train, 4);
  EXPECT_EQ(splits.test.size, 0);
  EXPECT_TRUE(splits.test.inputs.empty());
}

TEST_F(DataTest, IdxExplicitTestFiles) {
  writeBytes(path("img"), idxImages(4, 2, 3));
  writeBytes(path("lbl"), idxLabels(4));
  writeBytes(path("timg"), idxImages(3, 2, 3));
  writeBytes(path("tlbl"), idxLabels(3));
  std::string spec = R"({"kind":"idx","images":)" + quoteJson(path("img")) +
                     R"(,"labels":)" + quoteJson(path("lbl")) +
                     R"(,"test_images":)" + quoteJson(path("timg")) +
                     R"(,"test_labels":)" + quoteJson(path("tlbl")) + "}";
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(spec), {}, classes({6}, 3), splits, error))
      << error;
  expectIdxValues(splits.train, 4);
  expectIdxValues(splits.test, 3);
}

TEST_F(DataTest, IdxFilesOverrideThePaths) {
  writeIdxDirectory(/*gzip=*/false);
  std::string nowhere = R"({"kind":"idx","dir":"/nonexistent/kiln"})";
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(nowhere), {dir}, classes({6}, 3), splits, error))
      << error;
  expectIdxValues(splits.train, 5);
  expectIdxValues(splits.test, 2);

  ASSERT_TRUE(
      loadData(json(nowhere),
               {path("t10k-images-idx3-ubyte"), path("t10k-labels-idx1-ubyte")},
               classes({6}, 3), splits, error))
      << error;
  expectIdxValues(splits.train, 2);
  EXPECT_EQ(splits.test.size, 0);

  EXPECT_TRUE(contains(loadError(nowhere, classes({6}, 3), {"a", "b", "c"}),
                       "got 3 paths"));
}

TEST_F(DataTest, IdxMissingFileNamesBothCandidates) {
  std::string error = loadError(
      R"({"kind":"idx","dir":)" + quoteJson(dir) + "}", classes({6}, 3));
  EXPECT_TRUE(contains(error, path("train-images-idx3-ubyte")));
  EXPECT_TRUE(contains(error, path("train-images-idx3-ubyte.gz")));

  writeBytes(path("img"), idxImages(4, 2, 3));
  error = loadError(idxSpec(path("img"), path("missing")), classes({6}, 3));
  EXPECT_TRUE(contains(error, path("missing") + ": cannot open"));
}

TEST_F(DataTest, IdxWrongMagic) {
  writeBytes(path("img"), idxLabels(4));
  writeBytes(path("lbl"), idxLabels(4));
  EXPECT_EQ(loadError(idxSpec(path("img"), path("lbl")), classes({6}, 3)),
            path("img") + ": not an IDX image file (magic 0x00000801; "
                          "expected 0x00000803)");

  writeBytes(path("img"), idxImages(4, 2, 3));
  writeBytes(path("lbl"), idxImages(4, 2, 3));
  EXPECT_EQ(loadError(idxSpec(path("img"), path("lbl")), classes({6}, 3)),
            path("lbl") + ": not an IDX label file (magic 0x00000803; "
                          "expected 0x00000801)");
}

TEST_F(DataTest, IdxTruncated) {
  std::vector<uint8_t> images = idxImages(4, 2, 3);
  images.pop_back();
  writeBytes(path("img.gz"), images, /*gzip=*/true);
  writeBytes(path("lbl"), idxLabels(4));
  EXPECT_EQ(loadError(idxSpec(path("img.gz"), path("lbl")), classes({6}, 3)),
            path("img.gz") +
                ": truncated: expected 24 bytes of pixel data, found 23");

  writeBytes(path("img"), bigEndian({0x803, 4}));
  EXPECT_TRUE(
      contains(loadError(idxSpec(path("img"), path("lbl")), classes({6}, 3)),
               path("img") + ": truncated: expected a 16-byte IDX "
                             "header, found 8 bytes"));

  writeBytes(path("img"), idxImages(4, 2, 3));
  std::vector<uint8_t> labels = idxLabels(4);
  labels.pop_back();
  writeBytes(path("lbl"), labels);
  EXPECT_EQ(loadError(idxSpec(path("img"), path("lbl")), classes({6}, 3)),
            path("lbl") + ": truncated: expected 4 bytes of labels, found 3");
}

// A gzip bomb: a small header and 64 MiB of zeros (64 KiB compressed) is
// refused a chunk or two past what the header says, not read to the end.
TEST_F(DataTest, IdxLongerThanItsHeaderStopsEarly) {
  std::vector<uint8_t> images = idxImages(4, 2, 3);
  images.resize(images.size() + (64u << 20), 0);
  writeBytes(path("img.gz"), images, /*gzip=*/true);
  writeBytes(path("lbl"), idxLabels(4));
  std::string error =
      loadError(idxSpec(path("img.gz"), path("lbl")), classes({6}, 3));
  EXPECT_TRUE(contains(error, path("img.gz") + ": longer than its header "
                                               "says (40 bytes); stopped at "))
      << error;
  // A little too long: the exact count.
  images.resize(idxImages(4, 2, 3).size() + 5);
  writeBytes(path("img.gz"), images, /*gzip=*/true);
  EXPECT_EQ(loadError(idxSpec(path("img.gz"), path("lbl")), classes({6}, 3)),
            path("img.gz") + ": expected 24 bytes of pixel data, found 29");
}

TEST_F(DataTest, IdxCorruptGzip) {
  writeBytes(path("img.gz"), idxImages(4, 2, 3), /*gzip=*/true);
  std::vector<uint8_t> bytes;
  {
    std::ifstream file(path("img.gz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(file), {});
  }
  // Cut into the deflate stream, not only its 8-byte CRC and length trailer.
  bytes.resize(bytes.size() - 10);
  writeBytes(path("img.gz"), bytes);
  writeBytes(path("lbl"), idxLabels(4));
  EXPECT_EQ(loadError(idxSpec(path("img.gz"), path("lbl")), classes({6}, 3)),
            path("img.gz") + ": truncated or corrupt gzip data");
}

TEST_F(DataTest, IdxLabelOutOfRange) {
  writeBytes(path("img"), idxImages(4, 2, 3));
  std::vector<uint8_t> labels = idxLabels(4);
  labels.back() = 12;
  writeBytes(path("lbl"), labels);
  EXPECT_EQ(loadError(idxSpec(path("img"), path("lbl")), classes({6}, 10)),
            path("lbl") + ": label 12 of sample 3 is outside [0, 10)");
}

TEST_F(DataTest, IdxPixelsAsEmbeddingIds) {
  // Pixels 3, 10, ..., 164 (pixel()) as the ids of a model's i64 input.
  writeBytes(path("img"), idxImages(4, 2, 3));
  writeBytes(path("lbl"), idxLabels(4));
  SampleSpec spec = classes({6}, 3);
  spec.indexInputs = true;
  spec.indexRows = 165;
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(idxSpec(path("img"), path("lbl"))), {}, spec,
                       splits, error))
      << error;
  EXPECT_EQ(splits.train.inputs.back(), 164.0f);
  // 101 = pixel(14), image 2's third, is the first past a 100-row table.
  spec.indexRows = 100;
  EXPECT_EQ(loadError(idxSpec(path("img"), path("lbl")), spec),
            path("img") + ": image 2, pixel 2 is 101, not an id of the "
                          "model's embedding table (its input indexes 100 "
                          "rows)");
}

TEST_F(DataTest, IdxCountMismatch) {
  writeBytes(path("img"), idxImages(4, 2, 3));
  writeBytes(path("lbl"), idxLabels(5));
  std::string error =
      loadError(idxSpec(path("img"), path("lbl")), classes({6}, 3));
  EXPECT_TRUE(contains(error, path("lbl") + ": 5 labels"));
  EXPECT_TRUE(contains(error, path("img") + " has 4 images"));
}

TEST_F(DataTest, IdxShapeMismatch) {
  writeBytes(path("img"), idxImages(4, 2, 3));
  writeBytes(path("lbl"), idxLabels(4));
  EXPECT_EQ(
      loadError(idxSpec(path("img"), path("lbl")), classes({1, 28, 28}, 3)),
      path("img") + ": images are 2x3 (6 values) but the model input "
                    "takes [1, 28, 28] (784 values) per sample");
}

TEST_F(DataTest, IdxLabelsAsFloatTargets) {
  writeBytes(path("img"), idxImages(4, 2, 3));
  writeBytes(path("lbl"), idxLabels(4));
  SampleSpec spec = regression({6});
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(idxSpec(path("img"), path("lbl"))), {}, spec,
                       splits, error))
      << error;
  EXPECT_TRUE(splits.train.labels.empty());
  EXPECT_EQ(splits.train.targets, (std::vector<float>{0, 1, 2, 0}));

  spec.targetShape = {2};
  EXPECT_TRUE(contains(loadError(idxSpec(path("img"), path("lbl")), spec),
                       "takes [2] (2 values)"));
}

/// A CIFAR-10 batch of `count` records; record r has label (r + batch) % 10
/// and pixels pixel(r * 3072 + p) + batch.
std::vector<uint8_t> cifarBatch(int count, int batch) {
  std::vector<uint8_t> bytes;
  for (int r = 0; r < count; ++r) {
    bytes.push_back(uint8_t((r + batch) % 10));
    for (size_t p = 0; p < 3072; ++p)
      bytes.push_back(uint8_t(pixel(size_t(r) * 3072 + p) + batch));
  }
  return bytes;
}

TEST_F(DataTest, CifarRoundTrip) {
  for (int batch = 1; batch <= 5; ++batch)
    writeBytes(path("data_batch_" + std::to_string(batch) + ".bin"),
               cifarBatch(2, batch));
  writeBytes(path("test_batch.bin"), cifarBatch(2, 0));
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(
      loadData(json(R"({"kind":"cifar10","dir":)" + quoteJson(dir) + "}"), {},
               classes({3, 32, 32}, 10), splits, error))
      << error;
  ASSERT_EQ(splits.train.size, 10);
  ASSERT_EQ(splits.train.inputs.size(), size_t(10 * 3072));
  for (int s = 0; s < 10; ++s) {
    int batch = s / 2 + 1, r = s % 2;
    EXPECT_EQ(splits.train.labels[size_t(s)], (r + batch) % 10);
    for (size_t p : {size_t(0), size_t(1024), size_t(3071)})
      EXPECT_EQ(splits.train.inputs[size_t(s) * 3072 + p],
                float(uint8_t(pixel(size_t(r) * 3072 + p) + batch)))
          << "sample " << s << " pixel " << p;
  }
  ASSERT_EQ(splits.test.size, 2);
  EXPECT_EQ(splits.test.labels, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(splits.test.inputs[3072 + 5], float(pixel(3072 + 5)));

  // The files override names the directory too.
  ASSERT_TRUE(loadData(json(R"({"kind":"cifar10","dir":"/nonexistent"})"),
                       {dir}, classes({3072}, 10), splits, error))
      << error;
  EXPECT_EQ(splits.train.size, 10);
}

TEST_F(DataTest, CifarErrors) {
  std::string spec = R"({"kind":"cifar10","dir":)" + quoteJson(dir) + "}";
  for (int batch = 1; batch <= 2; ++batch)
    writeBytes(path("data_batch_" + std::to_string(batch) + ".bin"),
               cifarBatch(2, batch));
  EXPECT_TRUE(contains(loadError(spec, classes({3, 32, 32}, 10)),
                       path("data_batch_3.bin") + ": cannot open"));

  std::vector<uint8_t> bytes = cifarBatch(2, 3);
  bytes.pop_back();
  writeBytes(path("data_batch_3.bin"), bytes);
  EXPECT_EQ(loadError(spec, classes({3, 32, 32}, 10)),
            path("data_batch_3.bin") + ": 6145 bytes is not a whole number of "
                                       "3073-byte CIFAR-10 records");

  EXPECT_TRUE(contains(loadError(spec, classes({784}, 10)),
                       "model input takes [784] (784 values)"));

  bytes = cifarBatch(2, 3);
  bytes[3073] = 10;
  writeBytes(path("data_batch_3.bin"), bytes);
  EXPECT_EQ(loadError(spec, classes({3, 32, 32}, 10)),
            path("data_batch_3.bin") + ": label 10 of sample 1 is outside "
                                       "[0, 10)");
}

std::string csvSpec(const std::string &file, int label, bool header) {
  return R"({"kind":"csv","file":)" + quoteJson(file) + R"(,"label":)" +
         std::to_string(label) + R"(,"header":)" + (header ? "true" : "false") +
         "}";
}

TEST_F(DataTest, CsvHeaderAndLastColumnLabel) {
  writeText(path("x.csv"), "a,b,c,y\r\n"
                           "1,2.5,-3,2\r\n"
                           " 4 , 5e-1,6, 0\r\n"
                           "\n"
                           "7,8,9,1.0\n");
  std::string train = path("x.csv");
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(csvSpec(train, -1, true)), {}, classes({3}, 3),
                       splits, error))
      << error;
  EXPECT_EQ(splits.train.size, 3);
  EXPECT_EQ(splits.train.inputs,
            (std::vector<float>{1, 2.5f, -3, 4, 0.5f, 6, 7, 8, 9}));
  EXPECT_EQ(splits.train.labels, (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(splits.test.size, 0);
}

TEST_F(DataTest, CsvLabelColumnFromEitherEnd) {
  writeText(path("train.csv"), "0.5,1,2\n-1.5,3,4\n");
  writeText(path("test.csv"), "2.5,5,6\n");
  SampleSpec spec = regression({2});
  for (int label : {0, -3}) {
    std::string data = R"({"kind":"csv","file":)" +
                       quoteJson(path("train.csv")) + R"(,"label":)" +
                       std::to_string(label) + R"(,"header":false,"test":)" +
                       quoteJson(path("test.csv")) + "}";
    DataSplits splits;
    std::string error;
    ASSERT_TRUE(loadData(json(data), {}, spec, splits, error)) << error;
    EXPECT_EQ(splits.train.inputs, (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(splits.train.targets, (std::vector<float>{0.5f, -1.5f}));
    EXPECT_TRUE(splits.train.labels.empty());
    EXPECT_EQ(splits.test.inputs, (std::vector<float>{5, 6}));
    EXPECT_EQ(splits.test.targets, (std::vector<float>{2.5f}));
  }
  // The files override replaces both the train and the test file.
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(csvSpec("/nonexistent.csv", 0, false)),
                       {path("test.csv"), path("train.csv")}, spec, splits,
                       error))
      << error;
  EXPECT_EQ(splits.train.size, 1);
  EXPECT_EQ(splits.test.size, 2);
}

TEST_F(DataTest, CsvErrorsNameLineAndColumn) {
  std::string file = path("x.csv");
  writeText(file, "a,b,y\n1,2,0\n3,abc,1\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, true), classes({2}, 2)),
            file + ":3: column 2: 'abc' is not a number");
  // Decimal only: strtod alone would read "0x10" as 16.
  writeText(file, "a,b,y\n1,0x10,0\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, true), classes({2}, 2)),
            file + ":2: column 2: '0x10' is not a number");

  writeText(file, "a,b,y\n1,2,0\n3,4\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, true), classes({2}, 2)),
            file + ":3: 2 columns, expected 3 (2 inputs for the model's [2] "
                   "(2 values) and the label)");

  writeText(file, "a,b,c,y\n1,2,0\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, true), classes({2}, 2)),
            file + ":1: the header names 4 columns, expected 3 (2 inputs for "
                   "the model's [2] (2 values) and the label)");

  writeText(file, "1,2,0\n1,2,5\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, false), classes({2}, 2)),
            file + ":2: column 3: label 5 is outside [0, 2)");

  writeText(file, "1,2,0.5\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, false), classes({2}, 2)),
            file + ":1: column 3: label '0.5' is not a class index");

  writeText(file, "1,nan,0\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, false), classes({2}, 2)),
            file + ":1: column 2: 'nan' is not a finite f32");

  writeText(file, "a,b,y\n1,2,0\n");
  EXPECT_TRUE(contains(loadError(csvSpec(file, -1, false), classes({2}, 2)),
                       file + ":1: column 1: 'a' is not a number (if the "
                              "first line is a header, give header=true)"));

  EXPECT_EQ(loadError(csvSpec(file, 3, true), classes({2}, 2)),
            file + ": label column 3 is outside the 3 columns of a row (2 "
                   "inputs and the label)");

  writeText(file, "a,b,y\n");
  EXPECT_EQ(loadError(csvSpec(file, -1, true), classes({2}, 2)),
            file + ": no samples");

  SampleSpec wide = regression({2});
  wide.targetShape = {1, 3};
  EXPECT_TRUE(contains(loadError(csvSpec(file, -1, true), wide),
                       "csv data gives one target value per sample, but the "
                       "model's target takes [1, 3] (3 values)"));
}

TEST(Data, NormalizeScaleAndStandard) {
  Dataset data;
  data.inputs = {0, 51, 255};
  std::string error;
  ASSERT_TRUE(normalize(nullptr, data, error));
  JsonValue null;
  ASSERT_TRUE(normalize(&null, data, error));
  EXPECT_EQ(data.inputs, (std::vector<float>{0, 51, 255}));

  JsonValue scale = json(R"({"kind":"scale","factor":0.5})");
  ASSERT_TRUE(normalize(&scale, data, error)) << error;
  EXPECT_EQ(data.inputs, (std::vector<float>{0, 25.5f, 127.5f}));

  JsonValue standard = json(R"({"kind":"standard","mean":25.5,"std":2})");
  ASSERT_TRUE(normalize(&standard, data, error)) << error;
  EXPECT_EQ(data.inputs, (std::vector<float>{-12.75f, 0, 51}));

  JsonValue unknown = json(R"({"kind":"minmax"})");
  EXPECT_FALSE(normalize(&unknown, data, error));
  EXPECT_TRUE(contains(error, "unknown kind 'minmax'"));
  JsonValue zeroStd = json(R"({"kind":"standard","mean":0,"std":0})");
  EXPECT_FALSE(normalize(&zeroStd, data, error));
  EXPECT_TRUE(contains(error, "\"std\" > 0"));
}

TEST(Data, EpochOrderIsADeterministicPermutation) {
  constexpr int64_t kSize = 1000;
  std::vector<int64_t> order = epochOrder(kSize, 42, 3);
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < kSize; ++i)
    ASSERT_EQ(sorted[size_t(i)], i);
  EXPECT_EQ(order, epochOrder(kSize, 42, 3));
  EXPECT_NE(order, epochOrder(kSize, 42, 4));
  EXPECT_NE(order, epochOrder(kSize, 43, 3));
  // A shuffle moves almost every sample; an identity would pass the checks
  // above.
  int64_t fixed = 0;
  for (int64_t i = 0; i < kSize; ++i)
    fixed += order[size_t(i)] == i;
  EXPECT_LT(fixed, 10);
  EXPECT_TRUE(epochOrder(0, 1, 0).empty());
  EXPECT_EQ(epochOrder(1, 1, 0), (std::vector<int64_t>{0}));
}

/// A dataset whose sample i has inputs {i, -i} and label i.
Dataset numbered(int64_t size) {
  Dataset data;
  data.size = size;
  data.inputSize = 2;
  data.targetSize = 1;
  for (int64_t i = 0; i < size; ++i) {
    data.inputs.push_back(float(i));
    data.inputs.push_back(float(-i));
    data.labels.push_back(i);
  }
  return data;
}

TEST(Data, SplitValidation) {
  Dataset train = numbered(100), validation;
  splitValidation(train, 0.25, 7, validation);
  ASSERT_EQ(train.size, 75);
  ASSERT_EQ(validation.size, 25);
  ASSERT_EQ(train.inputs.size(), 150u);
  ASSERT_EQ(validation.labels.size(), 25u);
  std::set<int64_t> seen;
  for (const Dataset *part : {&train, &validation})
    for (int64_t i = 0; i < part->size; ++i) {
      int64_t label = part->labels[size_t(i)];
      EXPECT_EQ(part->inputs[size_t(2 * i)], float(label));
      EXPECT_EQ(part->inputs[size_t(2 * i + 1)], float(-label));
      seen.insert(label);
    }
  EXPECT_EQ(seen.size(), 100u);
  // Not simply the last quarter.
  EXPECT_NE(
      *std::min_element(validation.labels.begin(), validation.labels.end()),
      75);

  Dataset again = numbered(100), againValidation;
  splitValidation(again, 0.25, 7, againValidation);
  EXPECT_EQ(againValidation.labels, validation.labels);
  Dataset other = numbered(100), otherValidation;
  splitValidation(other, 0.25, 8, otherValidation);
  EXPECT_NE(otherValidation.labels, validation.labels);

  Dataset whole = numbered(10), none;
  splitValidation(whole, 0, 7, none);
  EXPECT_EQ(whole.size, 10);
  EXPECT_EQ(none.size, 0);
  EXPECT_EQ(none.inputSize, 2);
  Dataset rounded = numbered(10), three;
  splitValidation(rounded, 0.26, 7, three);
  EXPECT_EQ(three.size, 3);
}

TEST(Data, GatherBatch) {
  Dataset data = numbered(5);
  std::vector<int64_t> order = {4, 1, 3, 0, 2};
  float inputs[6];
  int64_t labels[2];
  gatherBatch(data, order, 1, 2, inputs, nullptr, labels, nullptr);
  EXPECT_EQ(std::vector<float>(inputs, inputs + 4),
            (std::vector<float>{1, -1, 3, -3}));
  EXPECT_EQ(std::vector<int64_t>(labels, labels + 2),
            (std::vector<int64_t>{1, 3}));

  // An i64 input (embedding indices) is converted on the way.
  Dataset indexData = data;
  for (float &v : indexData.inputs)
    v = std::fabs(v);
  int64_t indices[4];
  gatherBatch(indexData, order, 1, 2, nullptr, indices, labels, nullptr);
  EXPECT_EQ(std::vector<int64_t>(indices, indices + 4),
            (std::vector<int64_t>{1, 1, 3, 3}));

  Dataset regressionData = data;
  regressionData.labels.clear();
  regressionData.targets = {10, 11, 12, 13, 14};
  float targets[3];
  gatherBatch(regressionData, order, 2, 3, inputs, nullptr, nullptr, targets);
  EXPECT_EQ(std::vector<float>(targets, targets + 3),
            (std::vector<float>{13, 10, 12}));
}

TEST(Data, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    GTEST_SKIP() << dir
                 << " is not installed (Debian's fashion-mnist "
                    "package provides it)";
  DataSplits splits;
  std::string error;
  ASSERT_TRUE(loadData(json(R"({"kind":"idx","dir":)" + quoteJson(dir) + "}"),
                       {}, classes({1, 28, 28}, 10), splits, error))
      << error;
  ASSERT_EQ(splits.train.size, 60000);
  ASSERT_EQ(splits.test.size, 10000);
  ASSERT_EQ(splits.train.inputs.size(), size_t(60000) * 784);
  for (const Dataset *data : {&splits.train, &splits.test}) {
    std::vector<int64_t> perClass(10);
    for (int64_t label : data->labels) {
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 10);
      ++perClass[size_t(label)];
    }
    // Fashion-MNIST is balanced: 6000 / 1000 of each class.
    for (int64_t n : perClass)
      EXPECT_EQ(n, data->size / 10);
    auto [lo, hi] =
        std::minmax_element(data->inputs.begin(), data->inputs.end());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 255.0f);
  }
}

} // namespace
