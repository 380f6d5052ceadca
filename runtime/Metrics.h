//===- Metrics.h - classification report and progress output ----*- C++ -*-===//
//
// Part of kiln. Accumulates predictions against labels into a confusion
// matrix and prints sklearn's classification_report layout (per-class
// precision, recall, F1 and support, then accuracy, macro and weighted
// averages) and the matrix itself; and draws the trainer's per-epoch
// progress line (bar, samples/s, ETA, running loss).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_METRICS_H
#define KILN_RUNTIME_METRICS_H

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace kiln::rt {

/// counts[label][prediction].
class ConfusionMatrix {
public:
  explicit ConfusionMatrix(int64_t numClasses);

  void add(int64_t label, int64_t prediction);
  int64_t numClasses() const { return n; }
  int64_t count(int64_t label, int64_t prediction) const;
  int64_t total() const;
  double accuracy() const;
  double precision(int64_t c) const; ///< 0 when nothing was predicted c
  double recall(int64_t c) const;    ///< 0 when class c has no support
  double f1(int64_t c) const;
  int64_t support(int64_t c) const;

  /// sklearn.metrics.classification_report(digits=4) layout; `names` label
  /// the rows (class indices when empty).
  std::string report(const std::vector<std::string> &names = {}) const;
  /// The matrix with row (true) and column (predicted) headings.
  std::string matrix() const;

private:
  int64_t n;
  std::vector<int64_t> counts;
};

/// The progress line of one epoch, redrawn in place on a terminal and
/// printed once at the end otherwise (CI logs stay readable).
class Progress {
public:
  Progress(std::FILE *out, int64_t epoch, int64_t epochs,
           int64_t totalSamples);

  /// Records one finished batch of `samples` samples with mean loss `loss`.
  void update(int64_t samples, double loss);
  /// Counts `samples` trained earlier in this epoch (before a resume), with
  /// loss sum `lossSum`, in the mean loss shown, as the epoch's summary
  /// does; the bar and the speed count this run's samples alone.
  void resumed(int64_t samples, double lossSum);
  /// Finishes the line; later output starts on a new line.
  void finish();

  double meanLoss() const;
  double samplesPerSecond() const;

private:
  void draw(bool final);

  std::FILE *out;
  bool interactive;
  int64_t epoch, epochs, total, done = 0, priorSamples = 0;
  double lossSum = 0, priorLossSum = 0;
  std::chrono::steady_clock::time_point start, lastDraw;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_METRICS_H
