//===- Metrics.cpp - classification report and progress output --*- C++ -*-===//
//
// Part of kiln. The confusion matrix's scores follow sklearn's definitions
// (precision_recall_fscore_support with zero_division=0, labels 0..n-1) so a
// report printed by the trainer can be diffed against one printed in Python;
// the progress line redraws in place only on a terminal, at most every
// kRedrawInterval, and otherwise prints once from finish(). See Metrics.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/Metrics.h"

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cmath>
#include <unistd.h>

using namespace kiln::rt;

namespace {

/// sklearn's zero_division=0: a score whose denominator is empty is 0, not
/// NaN, so averages over classes never see a NaN.
double ratio(double num, double den) { return den == 0 ? 0.0 : num / den; }

/// printf into a std::string.
template <typename... Args> std::string format(const char *fmt, Args... args) {
  int size = std::snprintf(nullptr, 0, fmt, args...);
  std::string out(size_t(size) + 1, '\0');
  std::snprintf(out.data(), out.size(), fmt, args...);
  out.resize(size_t(size));
  return out;
}

/// The number of characters `v` takes in decimal.
int decimalWidth(int64_t v) { return int(std::to_string(v).size()); }

} // namespace

//===----------------------------------------------------------------------===//
// ConfusionMatrix
//===----------------------------------------------------------------------===//

ConfusionMatrix::ConfusionMatrix(int64_t numClasses)
    : n(numClasses), counts(size_t(numClasses * numClasses), 0) {
  assert(numClasses > 0 && "a confusion matrix needs at least one class");
}

void ConfusionMatrix::add(int64_t label, int64_t prediction) {
  // Labels come from the data loader, which checks them against the model's
  // class count; predictions are an argmax over numClasses logits.
  assert(label >= 0 && label < n && "label out of range");
  assert(prediction >= 0 && prediction < n && "prediction out of range");
  ++counts[size_t(label * n + prediction)];
}

int64_t ConfusionMatrix::count(int64_t label, int64_t prediction) const {
  assert(label >= 0 && label < n && prediction >= 0 && prediction < n);
  return counts[size_t(label * n + prediction)];
}

int64_t ConfusionMatrix::total() const {
  int64_t sum = 0;
  for (int64_t c : counts)
    sum += c;
  return sum;
}

double ConfusionMatrix::accuracy() const {
  int64_t correct = 0;
  for (int64_t c = 0; c < n; ++c)
    correct += count(c, c);
  return ratio(double(correct), double(total()));
}

double ConfusionMatrix::precision(int64_t c) const {
  int64_t predicted = 0;
  for (int64_t label = 0; label < n; ++label)
    predicted += count(label, c);
  return ratio(double(count(c, c)), double(predicted));
}

double ConfusionMatrix::recall(int64_t c) const {
  return ratio(double(count(c, c)), double(support(c)));
}

double ConfusionMatrix::f1(int64_t c) const {
  // 2tp / (2tp + fp + fn) = 2tp / (support + predicted), as sklearn computes
  // it: equal to 2pr/(p+r) but exact in the counts, and 0 (not NaN) when
  // the class was neither present nor predicted.
  int64_t predicted = 0;
  for (int64_t label = 0; label < n; ++label)
    predicted += count(label, c);
  return ratio(2.0 * double(count(c, c)), double(support(c) + predicted));
}

int64_t ConfusionMatrix::support(int64_t c) const {
  int64_t sum = 0;
  for (int64_t p = 0; p < n; ++p)
    sum += count(c, p);
  return sum;
}

std::string
ConfusionMatrix::report(const std::vector<std::string> &names) const {
  assert((names.empty() || int64_t(names.size()) == n) && "one name per class");
  std::vector<std::string> rowNames;
  for (int64_t c = 0; c < n; ++c)
    rowNames.push_back(names.empty() ? std::to_string(c) : names[size_t(c)]);

  // sklearn: width = max(longest name, len("weighted avg"), digits).
  constexpr int kDigits = 4;
  int width = int(std::string("weighted avg").size());
  for (const std::string &name : rowNames)
    width = std::max(width, int(name.size()));

  auto row = [&](const std::string &name, double p, double r, double f,
                 int64_t s) {
    return format("%*s  %9.*f %9.*f %9.*f %9" PRId64 "\n", width, name.c_str(),
                  kDigits, p, kDigits, r, kDigits, f, s);
  };

  std::string out = format("%*s  %9s %9s %9s %9s\n\n", width, "", "precision",
                           "recall", "f1-score", "support");
  double macroP = 0, macroR = 0, macroF = 0;
  double weightedP = 0, weightedR = 0, weightedF = 0;
  for (int64_t c = 0; c < n; ++c) {
    double p = precision(c), r = recall(c), f = f1(c);
    int64_t s = support(c);
    out += row(rowNames[size_t(c)], p, r, f, s);
    macroP += p;
    macroR += r;
    macroF += f;
    weightedP += p * double(s);
    weightedR += r * double(s);
    weightedF += f * double(s);
  }
  out += "\n";

  // With every label listed, sklearn's micro average is the accuracy and is
  // printed as one f1-score column under that name.
  int64_t all = total();
  out += format("%*s  %9s %9s %9.*f %9" PRId64 "\n", width, "accuracy", "", "",
                kDigits, accuracy(), all);
  double classes = double(n);
  out += row("macro avg", macroP / classes, macroR / classes, macroF / classes,
             all);
  out += row("weighted avg", ratio(weightedP, double(all)),
             ratio(weightedR, double(all)), ratio(weightedF, double(all)), all);
  return out;
}

std::string ConfusionMatrix::matrix() const {
  const std::string corner = "true\\pred";
  // One width for every count column keeps the columns aligned whatever the
  // counts; the first column fits the corner heading and the row indices.
  int cell = decimalWidth(n - 1);
  for (int64_t c : counts)
    cell = std::max(cell, decimalWidth(c));
  int first = std::max(int(corner.size()), decimalWidth(n - 1));

  std::string out = format("%*s", first, corner.c_str());
  for (int64_t p = 0; p < n; ++p)
    out += format("  %*" PRId64, cell, p);
  out += "\n";
  for (int64_t label = 0; label < n; ++label) {
    out += format("%*" PRId64, first, label);
    for (int64_t p = 0; p < n; ++p)
      out += format("  %*" PRId64, cell, count(label, p));
    out += "\n";
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Progress
//===----------------------------------------------------------------------===//

namespace {

/// Redrawing faster than this only costs terminal bandwidth: the eye cannot
/// follow it, and on a slow ssh link it can throttle the training loop.
constexpr std::chrono::milliseconds kRedrawInterval(100);

/// Width of the bar in characters: fine enough for 5% steps, short enough
/// that the whole line fits in 80 columns.
constexpr int kBarWidth = 20;

/// m:ss, or h:mm:ss from an hour on.
std::string formatDuration(double seconds) {
  int64_t s = int64_t(std::llround(std::max(seconds, 0.0)));
  if (s >= 3600)
    return format("%" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, s / 60 % 60,
                  s % 60);
  return format("%" PRId64 ":%02" PRId64, s / 60, s % 60);
}

} // namespace

Progress::Progress(std::FILE *out, int64_t epoch, int64_t epochs,
                   int64_t totalSamples)
    : out(out), interactive(isatty(fileno(out)) != 0), epoch(epoch),
      epochs(epochs), total(totalSamples),
      start(std::chrono::steady_clock::now()),
      // So that the first batch is drawn at once rather than 100 ms late.
      lastDraw(start - kRedrawInterval) {}

void Progress::update(int64_t samples, double loss) {
  assert(samples >= 0 && "a batch cannot have a negative size");
  done += samples;
  lossSum += loss * double(samples);
  if (!interactive)
    return;
  auto now = std::chrono::steady_clock::now();
  if (now - lastDraw < kRedrawInterval)
    return;
  lastDraw = now;
  draw(/*final=*/false);
}

void Progress::finish() { draw(/*final=*/true); }

void Progress::resumed(int64_t samples, double sum) {
  priorSamples = samples;
  priorLossSum = sum;
}

double Progress::meanLoss() const {
  return ratio(lossSum + priorLossSum, double(done + priorSamples));
}

double Progress::samplesPerSecond() const {
  std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - start;
  return ratio(double(done), elapsed.count());
}

void Progress::draw(bool final) {
  double fraction =
      total > 0 ? std::min(1.0, double(done) / double(total)) : 1.0;
  int filled = int(fraction * kBarWidth);
  std::string bar = std::string(size_t(filled), '#') +
                    std::string(size_t(kBarWidth - filled), '.');

  double rate = samplesPerSecond();
  // The final line reports how long the epoch took; an ETA of 0:00 would
  // say nothing.
  std::string timing;
  if (final) {
    std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    timing = "took " + formatDuration(elapsed.count());
  } else if (rate > 0) {
    double left = double(std::max<int64_t>(total - done, 0));
    timing = "ETA " + formatDuration(left / rate);
  } else {
    timing = "ETA -:--";
  }

  // done is padded to total's width so the line does not jitter as it grows.
  std::string line = format("epoch %" PRId64 "/%" PRId64 " [%s]  %*" PRId64
                            "/%" PRId64 "  %.0f samples/s  %s  loss %.4f",
                            epoch, epochs, bar.c_str(), decimalWidth(total),
                            done, total, rate, timing.c_str(), meanLoss());
  if (interactive)
    // \r returns to the line's start; ESC[K clears what a longer previous
    // line left behind.
    std::fprintf(out, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  else
    std::fprintf(out, "%s\n", line.c_str());
  std::fflush(out);
}
