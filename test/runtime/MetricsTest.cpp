//===- MetricsTest.cpp - tests of runtime/Metrics ---------------*- C++ -*-===//
//
// Part of kiln. The confusion matrix's scores on a 3-class example worked
// out by hand, the zero-division cases, the report text against strings
// printed by sklearn's classification_report, and the matrix text; the
// progress line printed once to a file and redrawn in place on a terminal
// (a pseudo-terminal, skipped where the system has none).
//
//===----------------------------------------------------------------------===//

#include "runtime/Metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace kiln::rt;

namespace {

/// Adds `times` copies of (label, prediction).
void addMany(ConfusionMatrix &m, int64_t label, int64_t prediction, int times) {
  for (int i = 0; i < times; ++i)
    m.add(label, prediction);
}

/// The 3-class example: rows are true classes, columns predictions.
///   5 1 0
///   2 3 1
///   1 0 2
ConfusionMatrix threeClasses() {
  ConfusionMatrix m(3);
  addMany(m, 0, 0, 5);
  addMany(m, 0, 1, 1);
  addMany(m, 1, 0, 2);
  addMany(m, 1, 1, 3);
  addMany(m, 1, 2, 1);
  addMany(m, 2, 0, 1);
  addMany(m, 2, 2, 2);
  return m;
}

/// Everything written to `file` since it was opened.
std::string contentsOf(std::FILE *file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;)
    text += char(c);
  return text;
}

/// How many times `what` occurs in `text`, overlaps included.
size_t occurrences(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1))
    ++n;
  return n;
}

TEST(ConfusionMatrixTest, CountsAndScoresOfAHandExample) {
  ConfusionMatrix m = threeClasses();
  EXPECT_EQ(m.numClasses(), 3);
  EXPECT_EQ(m.total(), 15);
  EXPECT_EQ(m.count(1, 0), 2);
  EXPECT_EQ(m.count(0, 2), 0);
  // Column sums (predicted counts) are 8, 4, 3; row sums (support) 6, 6, 3.
  EXPECT_EQ(m.support(0), 6);
  EXPECT_EQ(m.support(1), 6);
  EXPECT_EQ(m.support(2), 3);
  EXPECT_DOUBLE_EQ(m.precision(0), 5.0 / 8);
  EXPECT_DOUBLE_EQ(m.precision(1), 3.0 / 4);
  EXPECT_DOUBLE_EQ(m.precision(2), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.recall(0), 5.0 / 6);
  EXPECT_DOUBLE_EQ(m.recall(1), 3.0 / 6);
  EXPECT_DOUBLE_EQ(m.recall(2), 2.0 / 3);
  // f1 = 2tp / (support + predicted).
  EXPECT_DOUBLE_EQ(m.f1(0), 10.0 / 14);
  EXPECT_DOUBLE_EQ(m.f1(1), 6.0 / 10);
  EXPECT_DOUBLE_EQ(m.f1(2), 4.0 / 6);
  EXPECT_DOUBLE_EQ(m.accuracy(), 10.0 / 15);
}

TEST(ConfusionMatrixTest, ZeroDivisionGivesZero) {
  ConfusionMatrix empty(2);
  EXPECT_EQ(empty.total(), 0);
  EXPECT_EQ(empty.accuracy(), 0.0);
  EXPECT_EQ(empty.precision(0), 0.0);
  EXPECT_EQ(empty.recall(0), 0.0);
  EXPECT_EQ(empty.f1(0), 0.0);

  // Class 1 is never predicted (precision 0/0) but has support; class 2 is
  // predicted but has no support (recall 0/0); class 3 is neither.
  ConfusionMatrix m(4);
  m.add(0, 0);
  m.add(1, 0);
  m.add(0, 2);
  EXPECT_EQ(m.precision(1), 0.0);
  EXPECT_EQ(m.recall(1), 0.0);
  EXPECT_EQ(m.f1(1), 0.0);
  EXPECT_EQ(m.precision(2), 0.0);
  EXPECT_EQ(m.recall(2), 0.0);
  EXPECT_EQ(m.f1(2), 0.0);
  EXPECT_EQ(m.support(3), 0);
  EXPECT_EQ(m.precision(3), 0.0);
  EXPECT_EQ(m.recall(3), 0.0);
  EXPECT_EQ(m.f1(3), 0.0);
  EXPECT_DOUBLE_EQ(m.f1(0), 2.0 / 4);
}

// The expected strings of the report tests were printed by scikit-learn
// 1.9.1 with:
//   from sklearn.metrics import classification_report
//   y_true = [0]*6 + [1]*6 + [2]*3
//   y_pred = [0,0,0,0,0,1, 0,0,1,1,1,2, 0,2,2]
//   print(repr(classification_report(y_true, y_pred, labels=[0, 1, 2],
//       target_names=["cat", "dog", "bird"], digits=4, zero_division=0)))
//   y_true = [0, 0, 0, 0, 1, 1, 2, 2]
//   y_pred = [0, 0, 0, 1, 1, 1, 0, 1]
//   print(repr(classification_report(y_true, y_pred, labels=[0, 1, 2, 3],
//       digits=4, zero_division=0)))
//   print(repr(classification_report([0, 1, 1], [0, 1, 0], labels=[0, 1],
//       target_names=["background", "a-very-long-class-name"], digits=4,
//       zero_division=0)))

TEST(ConfusionMatrixTest, ReportMatchesSklearn) {
  EXPECT_EQ(threeClasses().report({"cat", "dog", "bird"}),
            "              precision    recall  f1-score   support\n"
            "\n"
            "         cat     0.6250    0.8333    0.7143         6\n"
            "         dog     0.7500    0.5000    0.6000         6\n"
            "        bird     0.6667    0.6667    0.6667         3\n"
            "\n"
            "    accuracy                         0.6667        15\n"
            "   macro avg     0.6806    0.6667    0.6603        15\n"
            "weighted avg     0.6833    0.6667    0.6590        15\n");
}

TEST(ConfusionMatrixTest, ReportWithZeroDivisionAndIndexNames) {
  // Class 2 is never predicted; class 3 never occurs at all.
  ConfusionMatrix m(4);
  addMany(m, 0, 0, 3);
  m.add(0, 1);
  addMany(m, 1, 1, 2);
  m.add(2, 0);
  m.add(2, 1);
  EXPECT_EQ(m.report(),
            "              precision    recall  f1-score   support\n"
            "\n"
            "           0     0.7500    0.7500    0.7500         4\n"
            "           1     0.5000    1.0000    0.6667         2\n"
            "           2     0.0000    0.0000    0.0000         2\n"
            "           3     0.0000    0.0000    0.0000         0\n"
            "\n"
            "    accuracy                         0.6250         8\n"
            "   macro avg     0.3125    0.4375    0.3542         8\n"
            "weighted avg     0.5000    0.6250    0.5417         8\n");
}

TEST(ConfusionMatrixTest, ReportWidensForLongNames) {
  ConfusionMatrix m(2);
  m.add(0, 0);
  m.add(1, 1);
  m.add(1, 0);
  EXPECT_EQ(
      m.report({"background", "a-very-long-class-name"}),
      "                        precision    recall  f1-score   support\n"
      "\n"
      "            background     0.5000    1.0000    0.6667         1\n"
      "a-very-long-class-name     1.0000    0.5000    0.6667         2\n"
      "\n"
      "              accuracy                         0.6667         3\n"
      "             macro avg     0.7500    0.7500    0.6667         3\n"
      "          weighted avg     0.8333    0.6667    0.6667         3\n");
}

TEST(ConfusionMatrixTest, MatrixText) {
  EXPECT_EQ(threeClasses().matrix(), "true\\pred  0  1  2\n"
                                     "        0  5  1  0\n"
                                     "        1  2  3  1\n"
                                     "        2  1  0  2\n");

  // A count wider than the column indices widens every column alike.
  ConfusionMatrix m(2);
  addMany(m, 0, 0, 123);
  m.add(1, 0);
  EXPECT_EQ(m.matrix(), "true\\pred    0    1\n"
                        "        0  123    0\n"
                        "        1    1    0\n");
}

TEST(ProgressTest, MeanLossIsWeightedBySamples) {
  std::FILE *file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  Progress progress(file, 1, 1, 100);
  EXPECT_EQ(progress.meanLoss(), 0.0);
  EXPECT_EQ(progress.samplesPerSecond(), 0.0);
  progress.update(10, 1.0);
  progress.update(30, 0.2);
  // (10 * 1.0 + 30 * 0.2) / 40 = 0.4; the unweighted mean would be 0.6.
  EXPECT_DOUBLE_EQ(progress.meanLoss(), 0.4);
  EXPECT_GT(progress.samplesPerSecond(), 0.0);
  std::fclose(file);
}

TEST(ProgressTest, FileGetsExactlyOneFinalLine) {
  std::FILE *file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  Progress progress(file, 2, 5, 54000);
  progress.update(9000, 0.5);
  progress.update(18000, 0.37345);
  EXPECT_EQ(contentsOf(file), "") << "update() wrote to a non-terminal";
  std::fseek(file, 0, SEEK_END);
  progress.finish();

  std::string text = contentsOf(file);
  // (9000 * 0.5 + 18000 * 0.37345) / 27000 = 0.41563...
  EXPECT_EQ(occurrences(text, "\n"), 1u) << text;
  EXPECT_EQ(text.back(), '\n') << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.rfind("epoch 2/5 [##########..........]  27000/54000  ", 0),
            0u)
      << text;
  EXPECT_NE(text.find(" samples/s  "), std::string::npos) << text;
  EXPECT_NE(text.find("  loss 0.4156\n"), std::string::npos) << text;
  std::fclose(file);
}

TEST(ProgressTest, TerminalRedrawsInPlace) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
    GTEST_SKIP() << "no pseudo-terminal to test the interactive mode on";
  // O_NOCTTY: the test must not become the terminal's controlling process.
  int slave = open(ptsname(master), O_WRONLY | O_NOCTTY);
  ASSERT_GE(slave, 0);
  std::FILE *terminal = fdopen(slave, "w");
  ASSERT_NE(terminal, nullptr);

  Progress progress(terminal, 1, 3, 100);
  // The first update draws at once; the second comes well within the
  // redraw interval and is not drawn; finish always draws.
  progress.update(40, 1.0);
  progress.update(10, 1.0);
  progress.finish();
  std::fclose(terminal);

  std::string text;
  char buffer[4096];
  fcntl(master, F_SETFL, O_NONBLOCK);
  for (ssize_t got; (got = read(master, buffer, sizeof buffer)) > 0;)
    text.append(buffer, size_t(got));
  close(master);

  EXPECT_EQ(occurrences(text, "\repoch 1/3 "), 2u) << text;
  EXPECT_NE(text.find("\repoch 1/3 [########............]   40/100 "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\repoch 1/3 [##########..........]   50/100 "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("loss 1.0000"), std::string::npos) << text;
  // The terminal may turn the final "\n" into "\r\n".
  EXPECT_EQ(text.back(), '\n') << text;
}

} // namespace
