//===- Data.cpp - training data: IDX, CIFAR-10 binary and CSV ---*- C++ -*-===//
//
// Part of kiln. Implements runtime/Data.h. Every file is read whole through
// zlib, whose gzread passes plain files through unchanged, so one reader
// serves "x" and "x.gz"; its header and length are then checked against the
// model's SampleSpec before any value is converted, so a bad file fails with
// one message naming it rather than with garbage samples. Shuffles are
// Fisher-Yates over runtime/Random.h's counter-based streams: pure functions
// of the seed (and epoch) that a resumed run, or a numpy script, recomputes
// exactly.
// Messages count CSV lines and columns from 1 (as editors and `cut` do) and
// samples from 0 (as an array index).
//
//===----------------------------------------------------------------------===//

#include "runtime/Data.h"

#include "runtime/Random.h"

#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>
#include <string_view>

using namespace kiln::rt;

namespace {

namespace fs = std::filesystem;

/// gzread is asked for this much at a time: large reads let zlib inflate
/// straight into the destination instead of through its own buffer.
constexpr unsigned kReadChunk = 1u << 20;

/// IDX magic numbers: two zero bytes, the element type 0x08 (unsigned
/// byte), then the number of dimensions.
constexpr uint32_t kIdxImageMagic = 0x00000803;
constexpr uint32_t kIdxLabelMagic = 0x00000801;
constexpr size_t kIdxImageHeader = 16; // magic, count, rows, columns
constexpr size_t kIdxLabelHeader = 8;  // magic, count

/// A CIFAR-10 binary record: one label byte, then 3x32x32 pixel bytes,
/// channel-major (the layout of an NCHW tensor).
constexpr int64_t kCifarPixels = 3 * 32 * 32;
constexpr int64_t kCifarRecord = 1 + kCifarPixels;
constexpr int kCifarTrainBatches = 5;

/// Keep the two shuffles' streams apart from each other and from the
/// parameter-init and dropout keys that are drawn from the same seed.
constexpr uint64_t kEpochDomain = fnv1a("kiln.data.epochOrder");
constexpr uint64_t kValidationDomain = fnv1a("kiln.data.splitValidation");

bool fail(std::string &error, std::string message) {
  error = std::move(message);
  return false;
}

int64_t product(const std::vector<int64_t> &shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         std::multiplies<int64_t>());
}

/// "[1, 28, 28] (784 values)", how messages show a per-sample shape.
std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "] (" + std::to_string(product(shape)) + " values)";
}

uint32_t bigEndian32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 |
         uint32_t(p[3]);
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

/// How many bytes a file may hold, given its first chunk (an IDX header
/// says how long the file is); 0 for no limit.
using SizeLimit = std::function<uint64_t(const std::vector<uint8_t> &)>;

/// Reads the whole of `path`, inflating it if it is gzip. With `limit`, a
/// file found to be much longer (a gzip bomb, an endless device) fails a
/// chunk or two past the limit, instead of filling memory.
bool readFile(const std::string &path, std::vector<uint8_t> &bytes,
              std::string &error, const SizeLimit &limit = {}) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) {
    std::string where;
    if (std::error_code ec; !path.empty() && path[0] != '/')
      where = " (relative to the current directory " +
              std::filesystem::current_path(ec).string() +
              "; --data gives other files)";
    return fail(error, path + ": cannot open: " +
                           (errno ? std::strerror(errno) : "out of memory") +
                           where);
  }
  gzbuffer(file, kReadChunk);
  bytes.clear();
  for (;;) {
    size_t used = bytes.size();
    bytes.resize(used + kReadChunk);
    int n = gzread(file, bytes.data() + used, kReadChunk);
    if (n < 0) {
      int code = 0;
      std::string why = gzerror(file, &code);
      if (code == Z_ERRNO)
        why = std::strerror(errno);
      gzclose(file);
      return fail(error, path + ": cannot read: " + why);
    }
    bytes.resize(used + size_t(n));
    if (n == 0)
      break;
    // A chunk of slack: a file a little too long gets the caller's message,
    // which says by how much.
    if (uint64_t most = limit ? limit(bytes) : 0;
        most && bytes.size() > most + kReadChunk) {
      gzclose(file);
      return fail(error, path + ": longer than its header says (" +
                             std::to_string(most) + " bytes); stopped at " +
                             std::to_string(bytes.size()));
    }
  }
  // gzclose reports a gzip stream that ended early only here.
  if (gzclose(file) != Z_OK)
    return fail(error, path + ": truncated or corrupt gzip data");
  return true;
}

bool isFile(const std::string &path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

bool isDirectory(const std::string &path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string joinPath(const std::string &dir, const std::string &name) {
  return (fs::path(dir) / name).string();
}

/// The JSON string member `key` of `object`, or null.
const std::string *stringMember(const JsonValue &object, std::string_view key) {
  const JsonValue *value = object.find(key);
  return value && value->kind == JsonValue::Kind::String ? &value->string
                                                         : nullptr;
}

/// Sets `value` from the JSON number member `key`; false if absent.
bool numberMember(const JsonValue &object, std::string_view key,
                  double &value) {
  const JsonValue *member = object.find(key);
  if (!member || member->kind != JsonValue::Kind::Number)
    return false;
  value = member->number;
  return true;
}

/// An empty dataset of `spec`'s per-sample sizes, to be appended to.
Dataset emptyDataset(const SampleSpec &spec, std::string origin) {
  Dataset data;
  data.inputSize = product(spec.inputShape);
  data.targetSize = spec.classLabels ? 1 : product(spec.targetShape);
  data.origin = std::move(origin);
  return data;
}

/// Appends `count` pixels of `path`'s images from image `firstImage` on. A
/// model whose input is embedding ids takes each byte as an id, which must
/// name a row of the table.
bool appendPixels(const uint8_t *first, size_t count, int64_t firstImage,
                  const std::string &path, const SampleSpec &spec,
                  std::vector<float> &inputs, std::string &error) {
  if (spec.indexInputs && spec.indexRows > 0)
    if (const uint8_t *id = std::find_if(
            first, first + count, [&](uint8_t v) { return v >= spec.indexRows; });
        id != first + count) {
      int64_t perImage = product(spec.inputShape), at = id - first;
      return fail(error, path + ": image " +
                             std::to_string(firstImage + at / perImage) +
                             ", pixel " + std::to_string(at % perImage) +
                             " is " + std::to_string(*id) +
                             ", not an id of the model's embedding table (its "
                             "input indexes " +
                             std::to_string(spec.indexRows) + " rows)");
    }
  size_t used = inputs.size();
  inputs.resize(used + count);
  std::copy_n(first, count, inputs.begin() + used);
  return true;
}

/// Appends `count` class labels read `stride` bytes apart. A model with f32
/// targets (a binary classifier over images) gets the class index as its
/// target value.
bool appendLabels(const uint8_t *first, size_t stride, int64_t count,
                  const std::string &path, const SampleSpec &spec, Dataset &out,
                  std::string &error) {
  for (int64_t i = 0; i < count; ++i) {
    int64_t label = first[size_t(i) * stride];
    if (spec.numClasses > 0 && label >= spec.numClasses)
      return fail(error, path + ": label " + std::to_string(label) +
                             " of sample " + std::to_string(i) +
                             " is outside [0, " +
                             std::to_string(spec.numClasses) + ")");
    if (spec.classLabels)
      out.labels.push_back(label);
    else
      out.targets.push_back(float(label));
  }
  out.size += count;
  return true;
}

//===----------------------------------------------------------------------===//
// IDX
//===----------------------------------------------------------------------===//

struct IdxFiles {
  std::string images, labels, testImages, testLabels; // test ones optional
};

/// `dir`/`base`, or `dir`/`base`.gz when only that exists.
bool findIdxFile(const std::string &dir, const char *base, std::string &path,
                 std::string &error) {
  std::string plain = joinPath(dir, base), gz = plain + ".gz";
  if (isFile(plain))
    path = plain;
  else if (isFile(gz))
    path = gz;
  else
    return fail(error, plain + ": no such file (nor " + gz + ")");
  return true;
}

bool findIdxFiles(const std::string &dir, IdxFiles &files, std::string &error) {
  if (!isDirectory(dir))
    return fail(error, dir + ": not a directory (an IDX directory holds "
                             "train-images-idx3-ubyte and the other three "
                             "files; --data also takes the files: images "
                             "and labels[, test images and test labels])");
  return findIdxFile(dir, "train-images-idx3-ubyte", files.images, error) &&
         findIdxFile(dir, "train-labels-idx1-ubyte", files.labels, error) &&
         findIdxFile(dir, "t10k-images-idx3-ubyte", files.testImages, error) &&
         findIdxFile(dir, "t10k-labels-idx1-ubyte", files.testLabels, error);
}

/// Checks an IDX file's magic number and that it holds at least `header`
/// bytes.
bool checkIdxHeader(const std::string &path, const std::vector<uint8_t> &bytes,
                    uint32_t expected, const char *what, size_t header,
                    std::string &error) {
  if (bytes.size() >= 4 && bigEndian32(bytes.data()) != expected)
    return fail(error, path + ": not an IDX " + what + " file (magic " +
                           hex32(bigEndian32(bytes.data())) + "; expected " +
                           hex32(expected) + ")");
  if (bytes.size() < header)
    return fail(error, path + ": truncated: expected a " +
                           std::to_string(header) + "-byte IDX header, found " +
                           std::to_string(bytes.size()) + " bytes");
  return true;
}

/// Says whether `found` bytes of `what` after the header are `expected`.
bool checkIdxLength(const std::string &path, uint64_t expected, uint64_t found,
                    const char *what, std::string &error) {
  if (found == expected)
    return true;
  return fail(error, path + ": " + (found < expected ? "truncated: " : "") +
                         "expected " + std::to_string(expected) + " bytes of " +
                         what + ", found " + std::to_string(found));
}

/// Loads one images file and its labels file.
bool loadIdxPair(const std::string &imagesPath, const std::string &labelsPath,
                 const SampleSpec &spec, Dataset &out, std::string &error) {
  out = emptyDataset(spec, imagesPath);
  std::vector<uint8_t> bytes;
  // The header's count and size bound the read (4 bytes each, big-endian).
  auto idxLimit = [](size_t header, bool images) {
    return [header, images](const std::vector<uint8_t> &b) -> uint64_t {
      if (b.size() < header)
        return 0;
      uint64_t values = bigEndian32(&b[4]);
      if (images && __builtin_mul_overflow(values,
                                           uint64_t(bigEndian32(&b[8])) *
                                               bigEndian32(&b[12]),
                                           &values))
        return 0; // an absurd header: the checks after reading say so
      return header + values;
    };
  };
  if (!readFile(imagesPath, bytes, error, idxLimit(kIdxImageHeader, true)) ||
      !checkIdxHeader(imagesPath, bytes, kIdxImageMagic, "image",
                      kIdxImageHeader, error))
    return false;
  uint64_t count = bigEndian32(&bytes[4]);
  uint64_t rows = bigEndian32(&bytes[8]), cols = bigEndian32(&bytes[12]);
  if (rows * cols != uint64_t(out.inputSize))
    return fail(error, imagesPath + ": images are " + std::to_string(rows) +
                           "x" + std::to_string(cols) + " (" +
                           std::to_string(rows * cols) +
                           " values) but the model input takes " +
                           shapeText(spec.inputShape) + " per sample");
  if (!checkIdxLength(imagesPath, count * rows * cols,
                      bytes.size() - kIdxImageHeader, "pixel data", error))
    return false;
  if (!appendPixels(bytes.data() + kIdxImageHeader,
                    bytes.size() - kIdxImageHeader, 0, imagesPath, spec,
                    out.inputs, error))
    return false;

  if (!readFile(labelsPath, bytes, error, idxLimit(kIdxLabelHeader, false)) ||
      !checkIdxHeader(labelsPath, bytes, kIdxLabelMagic, "label",
                      kIdxLabelHeader, error))
    return false;
  uint64_t labelCount = bigEndian32(&bytes[4]);
  if (labelCount != count)
    return fail(error, labelsPath + ": " + std::to_string(labelCount) +
                           " labels, but " + imagesPath + " has " +
                           std::to_string(count) + " images");
  return checkIdxLength(labelsPath, count, bytes.size() - kIdxLabelHeader,
                        "labels", error) &&
         appendLabels(bytes.data() + kIdxLabelHeader, 1, int64_t(count),
                      labelsPath, spec, out, error);
}

bool loadIdx(const JsonValue &data, const std::vector<std::string> &paths,
             const SampleSpec &spec, DataSplits &out, std::string &error) {
  IdxFiles files;
  if (paths.size() == 1) {
    if (!findIdxFiles(paths[0], files, error))
      return false;
  } else if (paths.size() == 2 || paths.size() == 4) {
    files.images = paths[0];
    files.labels = paths[1];
    if (paths.size() == 4) {
      files.testImages = paths[2];
      files.testLabels = paths[3];
    }
  } else if (!paths.empty()) {
    return fail(error, "idx data takes one directory or the files images, "
                       "labels[, test images, test labels]; got " +
                           std::to_string(paths.size()) + " paths");
  } else if (const std::string *dir = stringMember(data, "dir")) {
    if (!findIdxFiles(*dir, files, error))
      return false;
  } else {
    const std::string *images = stringMember(data, "images");
    const std::string *labels = stringMember(data, "labels");
    if (!images || !labels)
      return fail(error, "idx data needs \"dir\" or both \"images\" and "
                         "\"labels\"");
    files.images = *images;
    files.labels = *labels;
    const std::string *testImages = stringMember(data, "test_images");
    const std::string *testLabels = stringMember(data, "test_labels");
    if (bool(testImages) != bool(testLabels))
      return fail(error, "idx data needs both \"test_images\" and "
                         "\"test_labels\", or neither");
    if (testImages) {
      files.testImages = *testImages;
      files.testLabels = *testLabels;
    }
  }
  if (!loadIdxPair(files.images, files.labels, spec, out.train, error))
    return false;
  if (files.testImages.empty()) {
    out.test = emptyDataset(spec, "");
    return true;
  }
  return loadIdxPair(files.testImages, files.testLabels, spec, out.test, error);
}

//===----------------------------------------------------------------------===//
// CIFAR-10
//===----------------------------------------------------------------------===//

/// Appends the records of one batch file to `out`.
bool appendCifarBatch(const std::string &path, const SampleSpec &spec,
                      Dataset &out, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readFile(path, bytes, error))
    return false;
  if (bytes.empty() || bytes.size() % kCifarRecord != 0)
    return fail(error, path + ": " + std::to_string(bytes.size()) +
                           " bytes is not a whole number of " +
                           std::to_string(kCifarRecord) +
                           "-byte CIFAR-10 records");
  int64_t count = int64_t(bytes.size()) / kCifarRecord;
  out.inputs.reserve(out.inputs.size() + size_t(count * kCifarPixels));
  for (int64_t i = 0; i < count; ++i)
    if (!appendPixels(&bytes[size_t(i * kCifarRecord) + 1], kCifarPixels, i,
                      path, spec, out.inputs, error))
      return false;
  return appendLabels(bytes.data(), kCifarRecord, count, path, spec, out,
                      error);
}

bool loadCifar10(const JsonValue &data, const std::vector<std::string> &paths,
                 const SampleSpec &spec, DataSplits &out, std::string &error) {
  if (paths.size() > 1)
    return fail(error, "cifar10 data takes one directory; got " +
                           std::to_string(paths.size()) + " paths");
  const std::string *member = stringMember(data, "dir");
  if (paths.empty() && !member)
    return fail(error, "cifar10 data needs \"dir\"");
  const std::string &dir = paths.empty() ? *member : paths[0];
  if (product(spec.inputShape) != kCifarPixels)
    return fail(error, dir + ": CIFAR-10 images are 3x32x32 (" +
                           std::to_string(kCifarPixels) +
                           " values) but the model input takes " +
                           shapeText(spec.inputShape) + " per sample");
  out.train = emptyDataset(spec, dir);
  for (int batch = 1; batch <= kCifarTrainBatches; ++batch)
    if (!appendCifarBatch(
            joinPath(dir, "data_batch_" + std::to_string(batch) + ".bin"), spec,
            out.train, error))
      return false;
  std::string testPath = joinPath(dir, "test_batch.bin");
  out.test = emptyDataset(spec, testPath);
  return appendCifarBatch(testPath, spec, out.test, error);
}

//===----------------------------------------------------------------------===//
// CSV
//===----------------------------------------------------------------------===//

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos)
    return {};
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

/// Parses a whole CSV field as a number.
bool parseNumber(std::string_view field, double &value) {
  // strtod would also read hexadecimal ("0x10" as 16): a decimal number
  // only, as Python's float() and NumPy read CSV.
  if (field.find_first_of("xX") != std::string_view::npos)
    return false;
  // strtod needs a terminated string; fields are short.
  std::string text(field);
  char *end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

/// Loads one CSV file: every row holds the inputs and, in column
/// `labelIndex` (0-based; negative counts from the end), the label or target
/// (none for a model without a target).
bool loadCsv(const std::string &path, int64_t labelIndex, bool header,
             const SampleSpec &spec, Dataset &out, std::string &error) {
  out = emptyDataset(spec, path);
  int64_t columns = out.inputSize + (spec.hasTarget ? 1 : 0);
  int64_t labelColumn = labelIndex < 0 ? columns + labelIndex : labelIndex;
  std::string rowText = std::to_string(out.inputSize) +
                        " inputs for the model's " +
                        shapeText(spec.inputShape) +
                        (spec.hasTarget ? " and the label" : "; no target");
  int64_t maxIndex =
      spec.indexRows > 0 ? spec.indexRows - 1 : kMaxIndexInput;
  if (!spec.hasTarget)
    labelColumn = -1;
  else if (labelColumn < 0 || labelColumn >= columns)
    return fail(error, path + ": label column " + std::to_string(labelIndex) +
                           " is outside the " + std::to_string(columns) +
                           " columns of a row (" +
                           std::to_string(out.inputSize) +
                           " inputs and the label)");
  std::vector<uint8_t> bytes;
  if (!readFile(path, bytes, error))
    return false;
  std::string_view text(reinterpret_cast<const char *>(bytes.data()),
                        bytes.size());
  std::vector<std::string_view> fields;
  int64_t lineNumber = 0;
  for (size_t start = 0; start < text.size();) {
    size_t newline = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, newline - start);
    start = newline + 1;
    ++lineNumber;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto where = [&] { return path + ":" + std::to_string(lineNumber) + ": "; };
    if (header && lineNumber == 1) {
      // A header naming another number of columns is another file's.
      int64_t names = int64_t(std::count(line.begin(), line.end(), ',')) + 1;
      if (names != columns)
        return fail(error, where() + "the header names " +
                               std::to_string(names) + " columns, expected " +
                               std::to_string(columns) + " (" + rowText + ")");
      continue;
    }
    if (trim(line).empty())
      continue;

    fields.clear();
    for (size_t from = 0;;) {
      size_t comma = line.find(',', from);
      fields.push_back(trim(line.substr(from, comma - from)));
      if (comma == std::string_view::npos)
        break;
      from = comma + 1;
    }
    if (int64_t(fields.size()) != columns)
      return fail(error, where() + std::to_string(fields.size()) +
                             " columns, expected " + std::to_string(columns) +
                             " (" + rowText + ")");

    for (int64_t c = 0; c < columns; ++c) {
      auto column = [&] { return "column " + std::to_string(c + 1) + ": "; };
      std::string_view field = fields[size_t(c)];
      double value = 0;
      if (!parseNumber(field, value)) {
        std::string hint = lineNumber == 1 && !header
                               ? " (if the first line is a header, give "
                                 "header=true)"
                               : "";
        return fail(error, where() + column() + "'" + std::string(field) +
                               "' is not a number" + hint);
      }
      // A NaN or an overflow would silently poison every gradient it touches.
      if (!std::isfinite(float(value)))
        return fail(error, where() + column() + "'" + std::string(field) +
                               "' is not a finite f32");
      if (c != labelColumn && spec.indexInputs &&
          (value != std::floor(value) || value < 0 ||
           value > double(maxIndex))) {
        std::string what = spec.indexRows > 0
                               ? "an id of the model's embedding table (its "
                                 "input indexes " +
                                     std::to_string(spec.indexRows) + " rows"
                               : "an index (the model's input is i64";
        return fail(error, where() + column() + "'" + std::string(field) +
                               "' is not " + what +
                               ": a whole number in [0, " +
                               std::to_string(maxIndex) + "])");
      } else if (c != labelColumn) {
        out.inputs.push_back(float(value));
      } else if (!spec.classLabels) {
        if (spec.unitTargets && (value < 0 || value > 1))
          return fail(error, where() + column() + "target " +
                                 std::string(field) +
                                 " is outside [0, 1] (binary cross-entropy "
                                 "takes a probability)");
        out.targets.push_back(float(value));
      } else if (value != std::floor(value)) {
        return fail(error, where() + column() + "label '" + std::string(field) +
                               "' is not a class index");
      } else if (value < 0 || value >= double(spec.numClasses)) {
        return fail(error, where() + column() + "label " + std::string(field) +
                               " is outside [0, " +
                               std::to_string(spec.numClasses) + ")");
      } else {
        out.labels.push_back(int64_t(value));
      }
    }
    ++out.size;
  }
  return true;
}

bool loadCsvSource(const JsonValue &data, const std::vector<std::string> &paths,
                   const SampleSpec &spec, DataSplits &out,
                   std::string &error) {
  if (paths.size() > 2)
    return fail(error, "csv data takes a train file and an optional test "
                       "file; got " +
                           std::to_string(paths.size()) + " paths");
  const std::string *file = stringMember(data, "file");
  const std::string *test = stringMember(data, "test");
  if (paths.empty() && !file)
    return fail(error, "csv data needs \"file\"");
  std::string trainPath = paths.empty() ? *file : paths[0];
  std::string testPath = paths.size() == 2       ? paths[1]
                         : paths.empty() && test ? *test
                                                 : "";
  // MLIRGen fills in every default; these only guard a hand-written spec.
  int64_t label = -1;
  if (const JsonValue *member = data.find("label"); member && member->isInteger)
    label = member->integer;
  bool header = true;
  if (const JsonValue *member = data.find("header");
      member && member->kind == JsonValue::Kind::Bool)
    header = member->boolean;

  if (!loadCsv(trainPath, label, header, spec, out.train, error))
    return false;
  if (testPath.empty()) {
    out.test = emptyDataset(spec, "");
    return true;
  }
  return loadCsv(testPath, label, header, spec, out.test, error);
}

/// A Fisher-Yates shuffle of 0..size-1: for i = size-1 down to 1, swap
/// element i with element randomBits(key, i) mod (i + 1). The modulo's bias
/// is below size / 2^64, far under anything a training run could notice,
/// and it keeps the formula easy to reproduce in numpy.
std::vector<int64_t> shuffled(int64_t size, uint64_t key) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(size, 0)));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = size - 1; i > 0; --i) {
    uint64_t j = randomBits(key, uint64_t(i)) % uint64_t(i + 1);
    std::swap(order[size_t(i)], order[size_t(j)]);
  }
  return order;
}

/// Samples order[first, first + count) of `data` as a dataset of their own.
Dataset subset(const Dataset &data, const std::vector<int64_t> &order,
               int64_t first, int64_t count) {
  Dataset part;
  part.size = count;
  part.inputSize = data.inputSize;
  part.targetSize = data.targetSize;
  part.origin = data.origin;
  part.inputs.resize(size_t(count * data.inputSize));
  if (!data.labels.empty())
    part.labels.resize(size_t(count * data.targetSize));
  if (!data.targets.empty())
    part.targets.resize(size_t(count * data.targetSize));
  gatherBatch(data, order, first, count, part.inputs.data(), nullptr,
              part.labels.empty() ? nullptr : part.labels.data(),
              part.targets.empty() ? nullptr : part.targets.data());
  return part;
}

} // namespace

bool kiln::rt::loadData(const JsonValue &data,
                        const std::vector<std::string> &files,
                        const SampleSpec &spec, DataSplits &out,
                        std::string &error) {
  out = DataSplits();
  const std::string *kind = stringMember(data, "kind");
  if (data.kind != JsonValue::Kind::Object || !kind)
    return fail(error, "data: expected an object with a \"kind\" member");
  // Every source gives one label or target value per sample.
  if (!spec.classLabels && product(spec.targetShape) != 1)
    return fail(error, *kind +
                           " data gives one target value per sample, "
                           "but the model's target takes " +
                           shapeText(spec.targetShape));
  bool ok;
  if (*kind == "idx")
    ok = loadIdx(data, files, spec, out, error);
  else if (*kind == "cifar10")
    ok = loadCifar10(data, files, spec, out, error);
  else if (*kind == "csv")
    ok = loadCsvSource(data, files, spec, out, error);
  else
    return fail(error, "data: unknown kind '" + *kind +
                           "' (expected idx, cifar10 or csv)");
  if (ok && out.train.size == 0)
    return fail(error, out.train.origin + ": no samples");
  return ok;
}

bool kiln::rt::normalize(const JsonValue *normalizeSpec, Dataset &data,
                         std::string &error) {
  if (!normalizeSpec || normalizeSpec->kind == JsonValue::Kind::Null)
    return true;
  const std::string *kind = stringMember(*normalizeSpec, "kind");
  if (!kind)
    return fail(error, "normalize: expected an object with a \"kind\" member");
  // f32 arithmetic, as torchvision's Normalize does on a float tensor.
  if (*kind == "scale") {
    double factor = 0;
    if (!numberMember(*normalizeSpec, "factor", factor) || !(factor > 0))
      return fail(error, "normalize: scale needs a \"factor\" > 0");
    for (float &x : data.inputs)
      x *= float(factor);
    return true;
  }
  if (*kind == "standard") {
    double mean = 0, deviation = 0;
    if (!numberMember(*normalizeSpec, "mean", mean) ||
        !numberMember(*normalizeSpec, "std", deviation) || !(deviation > 0))
      return fail(error,
                  "normalize: standard needs \"mean\" and a \"std\" > 0");
    for (float &x : data.inputs)
      x = (x - float(mean)) / float(deviation);
    return true;
  }
  return fail(error, "normalize: unknown kind '" + *kind +
                         "' (expected scale or standard)");
}

void kiln::rt::splitValidation(Dataset &train, double fraction, uint64_t seed,
                               Dataset &validation) {
  int64_t count = std::clamp<int64_t>(
      std::llround(fraction * double(train.size)), 0, train.size);
  if (count == 0) {
    // Nothing to move: skip a copy of the whole training set.
    validation = subset(train, {}, 0, 0);
    return;
  }
  // key = splitmix64(seed ^ fnv1a("kiln.data.splitValidation")).
  std::vector<int64_t> order =
      shuffled(train.size, splitmix64(seed ^ kValidationDomain));
  validation = subset(train, order, train.size - count, count);
  train = subset(train, order, 0, train.size - count);
}

std::vector<int64_t> kiln::rt::epochOrder(int64_t size, uint64_t seed,
                                          int64_t epoch) {
  // key = splitmix64(seed ^ fnv1a("kiln.data.epochOrder"))
  //       ^ splitmix64(~epoch), the dropoutKey pattern with its own domain.
  return shuffled(size, splitmix64(seed ^ kEpochDomain) ^
                            splitmix64(~uint64_t(epoch)));
}

void kiln::rt::gatherBatch(const Dataset &data,
                           const std::vector<int64_t> &order, int64_t first,
                           int64_t count, float *inputs, int64_t *indexInputs,
                           int64_t *labels, float *targets) {
  assert(first >= 0 && count >= 0 && first + count <= int64_t(order.size()) &&
         "batch outside the order");
  assert((inputs != nullptr) != (indexInputs != nullptr) &&
         "the inputs go to one array");
  size_t in = size_t(data.inputSize), out = size_t(data.targetSize);
  for (int64_t i = 0; i < count; ++i) {
    int64_t sample = order[size_t(first + i)];
    assert(sample >= 0 && sample < data.size && "order names no sample");
    auto from = data.inputs.begin() + sample * in;
    if (inputs)
      std::copy_n(from, in, inputs + i * in);
    else
      std::transform(from, from + in, indexInputs + i * in,
                     [](float v) { return int64_t(v); });
    if (labels && !data.labels.empty())
      std::copy_n(data.labels.begin() + sample * out, out, labels + i * out);
    if (targets && !data.targets.empty())
      std::copy_n(data.targets.begin() + sample * out, out, targets + i * out);
  }
}
