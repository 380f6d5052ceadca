//===- TrainerBench.cpp - the trainer's bench command -----------*- C++ -*-===//
//
// Part of kiln. `trainer bench` times full training steps (forward,
// backward, optimizer update: one train_step call) on random data of the
// model's shapes, from the model's initial weights, and prints the median
// and minimum time per step. It then times every kernel call of train_step
// over as many steps again (one sample per call site and step) and prints
// each call's median and minimum time, GFLOP/s, GB/s, arithmetic intensity
// and the fraction of the machine's roofline it reaches. The roofline's two
// peaks (FMA throughput, copy bandwidth) are measured here at the start
// unless given. --json writes the report for machines, --html one
// self-contained page with a bar chart and a roofline plot for people, and
// --baseline adds the report of the same model's --no-fusion trainer to
// both (what `kiln bench` does). Benchmarks, not tests: run them beside a
// peer measured in the same run (bench/).
//
//===----------------------------------------------------------------------===//

#include "runtime/Random.h"
#include "runtime/TrainerCommands.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define KILN_BENCH_X86 1
#endif

using namespace kiln::rt;
using namespace kiln::rt::trainer;

namespace {

/// Random inputs in [-1, 1), labels in range, targets in [0, 1): the
/// kernels' speed does not depend on the values, but zeros could hide work.
void fillBatch(const Model &model, StepCall &call, int64_t batch) {
  SampleSpec spec = sampleSpec(model);
  int64_t inputSize = 1;
  for (int64_t d : spec.inputShape)
    inputSize *= d;
  if (float *x = call.inputs())
    for (int64_t i = 0; i < batch * inputSize; ++i)
      x[i] = float(2 * uniform01(fnv1a("bench.x"), i) - 1);
  if (int64_t *y = call.labels())
    for (int64_t i = 0; i < batch; ++i)
      y[i] = int64_t(uniform01(fnv1a("bench.y"), i) *
                     double(std::max<int64_t>(model.numClasses, 1)));
  if (float *t = call.targets()) {
    int64_t targetSize = 1;
    for (int64_t d : spec.targetShape)
      targetSize *= d;
    for (int64_t i = 0; i < batch * targetSize; ++i)
      t[i] = float(uniform01(fnv1a("bench.t"), i));
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double minimum(const std::vector<double> &v) {
  return *std::min_element(v.begin(), v.end());
}

std::string format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char *fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

//===----------------------------------------------------------------------===//
// The machine's roofline: FMA throughput and copy bandwidth
//===----------------------------------------------------------------------===//

/// Iterations of one run of the FMA loop: about 8 ms on a 3 GHz AVX-512
/// core, long enough that the clock's resolution is noise.
constexpr int64_t kFmaIterations = int64_t(1) << 22;
/// Runs of the FMA loop per thread; the fastest counts, so a time slice
/// lost to another process does not lower the peak.
constexpr int kFmaRuns = 5;
/// Independent FMA chains the loop keeps in flight: at least the FMA latency
/// (4 cycles) times the FMA ports (2) of current x86 cores, so the units
/// never wait for a result.
constexpr int kFmaChains = 12;
/// Floats in each array of the bandwidth loop (128 MiB): far beyond any
/// last-level cache, so the loop measures DRAM.
constexpr size_t kCopyFloats = size_t(1) << 25;
/// Passes of the bandwidth loop; the fastest counts.
constexpr int kCopyPasses = 5;

// The loops below keep kFmaChains accumulators a = a * b + c. The empty asm
// statements pin the accumulators in registers each iteration so the
// compiler cannot fold the chains.
// clang-format off
#define KILN_FMA_CHAINS(FMA)                                                   \
  FMA(a0) FMA(a1) FMA(a2) FMA(a3) FMA(a4) FMA(a5)                              \
  FMA(a6) FMA(a7) FMA(a8) FMA(a9) FMA(a10) FMA(a11)
// clang-format on

#ifdef KILN_BENCH_X86
/// FLOPs done by kFmaIterations of 16-lane fused multiply-adds.
__attribute__((target("avx512f"))) double fmaLoopAvx512(int64_t iterations) {
  __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
  __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),
         a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5),
         a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8),
         a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10),
         a11 = _mm512_set1_ps(11);
  for (int64_t n = 0; n < iterations; ++n) {
#define KILN_FMA512(x) x = _mm512_fmadd_ps(x, b, c);
    KILN_FMA_CHAINS(KILN_FMA512)
#undef KILN_FMA512
    __asm__ volatile(""
                     : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4),
                       "+v"(a5));
  }
  __m512 sum = _mm512_add_ps(
      _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
      _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  sum = _mm512_add_ps(
      sum, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  __asm__ volatile("" : : "r"(lanes) : "memory"); // the result is used
  return double(iterations) * kFmaChains * 16 * 2;
}

/// The same with 8-lane AVX2 FMAs.
__attribute__((target("avx2,fma"))) double fmaLoopAvx2(int64_t iterations) {
  __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
  __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
         a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
         a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
         a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10),
         a11 = _mm256_set1_ps(11);
  for (int64_t n = 0; n < iterations; ++n) {
#define KILN_FMA256(x) x = _mm256_fmadd_ps(x, b, c);
    KILN_FMA_CHAINS(KILN_FMA256)
#undef KILN_FMA256
    __asm__ volatile(""
                     : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4),
                       "+x"(a5));
  }
  __m256 sum = _mm256_add_ps(
      _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
      _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  sum = _mm256_add_ps(
      sum, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  __asm__ volatile("" : : "r"(lanes) : "memory");
  return double(iterations) * kFmaChains * 8 * 2;
}
#endif

/// The portable fallback: scalar multiply-adds, whatever the compiler makes
/// of them.
double fmaLoopScalar(int64_t iterations) {
  volatile float seed = 1.0000001f;
  float b = seed, c = 1e-7f;
  float a0 = 0, a1 = 1, a2 = 2, a3 = 3, a4 = 4, a5 = 5, a6 = 6, a7 = 7, a8 = 8,
        a9 = 9, a10 = 10, a11 = 11;
  for (int64_t n = 0; n < iterations; ++n) {
#define KILN_FMA1(x) x = x * b + c;
    KILN_FMA_CHAINS(KILN_FMA1)
#undef KILN_FMA1
  }
  volatile float sum =
      a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
  (void)sum;
  return double(iterations) * kFmaChains * 2;
}

/// The widest FMA loop this CPU runs, and its name.
std::pair<double (*)(int64_t), const char *> fmaLoop() {
#ifdef KILN_BENCH_X86
  if (__builtin_cpu_supports("avx512f"))
    return {fmaLoopAvx512, "AVX-512 FMA"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {fmaLoopAvx2, "AVX2 FMA"};
#endif
  return {fmaLoopScalar, "scalar"};
}

/// Runs `work(t)` on `threads` threads at once; returns the wall time.
template <typename Work> double onThreads(int threads, Work work) {
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire))
        std::this_thread::yield();
      work(t);
    });
  auto start = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread &th : pool)
    th.join();
  return secondsSince(start);
}

/// The roofline's two roofs.
struct Peaks {
  double gflops = 0; ///< f32 FMA throughput of all threads
  double gbs = 0;    ///< copy bandwidth, bytes read plus written
  bool gflopsMeasured = false, gbsMeasured = false;
  std::string method; ///< how they were measured, for the report
};

/// Every thread runs the FMA loop kFmaRuns times; the sum of the threads'
/// best rates is the peak.
double measureFlops(int threads, double (*loop)(int64_t)) {
  std::vector<double> rates(static_cast<size_t>(threads));
  onThreads(threads, [&](int t) {
    for (int run = 0; run < kFmaRuns; ++run) {
      auto start = Clock::now();
      double flops = loop(kFmaIterations);
      rates[size_t(t)] =
          std::max(rates[size_t(t)], flops / secondsSince(start));
    }
  });
  double total = 0;
  for (double r : rates)
    total += r;
  return total * 1e-9;
}

/// y = 1.5 * x over two large arrays, split across the threads (each thread
/// first touches its own part, as the kernels' threads do); the fastest pass.
double measureBandwidth(int threads) {
  std::unique_ptr<float[]> x(new float[kCopyFloats]), y(new float[kCopyFloats]);
  size_t chunk = (kCopyFloats + size_t(threads) - 1) / size_t(threads);
  auto part = [&](int t, auto body) {
    size_t begin = std::min(kCopyFloats, chunk * size_t(t)),
           end = std::min(kCopyFloats, begin + chunk);
    body(begin, end);
  };
  onThreads(threads, [&](int t) {
    part(t, [&](size_t begin, size_t end) {
      std::fill(x.get() + begin, x.get() + end, 1.0f);
      std::fill(y.get() + begin, y.get() + end, 0.0f);
    });
  });
  double best = 0;
  for (int pass = 0; pass < kCopyPasses; ++pass) {
    double seconds = onThreads(threads, [&](int t) {
      part(t, [&](size_t begin, size_t end) {
        float *in = x.get(), *out = y.get();
        for (size_t i = begin; i < end; ++i)
          out[i] = 1.5f * in[i];
      });
    });
    best = std::max(best, 2.0 * kCopyFloats * sizeof(float) / seconds * 1e-9);
  }
  volatile float keep = y[kCopyFloats - 1];
  (void)keep;
  return best;
}

//===----------------------------------------------------------------------===//
// The report
//===----------------------------------------------------------------------===//

/// One kernel call of train_step, measured.
struct KernelResult {
  int index = 0; ///< its position in train_step
  std::string kernel, op, source;
  double medianSeconds = 0, minSeconds = 0;
  double flops = 0, bytes = 0; ///< of one call at the benchmark's batch
};

double gflopsOf(const KernelResult &k) {
  return k.flops / k.medianSeconds * 1e-9;
}
double gbsOf(const KernelResult &k) { return k.bytes / k.medianSeconds * 1e-9; }
double intensityOf(const KernelResult &k) {
  return k.bytes > 0 ? k.flops / k.bytes : 0;
}
/// What the roofline allows a call: min(peak FLOP/s, intensity * peak
/// bandwidth), in GFLOP/s.
double roofOf(const KernelResult &k, const Peaks &peaks) {
  return std::min(peaks.gflops, intensityOf(k) * peaks.gbs);
}
/// Percent of the roofline reached. A call with no counted FLOPs
/// (elementwise work, copies) has only the bandwidth roof.
double roofPercentOf(const KernelResult &k, const Peaks &peaks) {
  if (k.flops > 0)
    return 100 * gflopsOf(k) / roofOf(k, peaks);
  return 100 * gbsOf(k) / peaks.gbs;
}

struct Report {
  std::string model, source, target;
  int64_t batch = 0, steps = 0, warmup = 0, threads = 0;
  Peaks peaks;
  double stepMedianSeconds = 0, stepMinSeconds = 0;
  std::vector<KernelResult> kernels; ///< in program order
  std::string json; ///< as read, for a report read back (readReport)
  double flops() const {
    double sum = 0;
    for (const KernelResult &k : kernels)
      sum += k.flops;
    return sum;
  }
  double bytes() const {
    double sum = 0;
    for (const KernelResult &k : kernels)
      sum += k.bytes;
    return sum;
  }
};

/// `report`'s kernels, slowest first.
std::vector<const KernelResult *> bySlowest(const Report &report) {
  std::vector<const KernelResult *> order;
  for (const KernelResult &k : report.kernels)
    order.push_back(&k);
  std::stable_sort(order.begin(), order.end(),
                   [](const KernelResult *a, const KernelResult *b) {
                     return a->medianSeconds > b->medianSeconds;
                   });
  return order;
}

void printTable(const Report &r) {
  double kernelSeconds = 0;
  int width = int(std::strlen("kernel"));
  for (const KernelResult &k : r.kernels) {
    kernelSeconds += k.medianSeconds;
    width = std::max(width, int(k.kernel.size()));
  }
  std::printf(
      "\nkernel calls of train_step (%zu calls, %.1f us of kernels a step; "
      "median and min of %lld steps; roofline %.1f GFLOP/s, %.1f GB/s):\n"
      "  %4s  %-*s %10s %10s %9s %8s %7s %6s  %s\n",
      r.kernels.size(), kernelSeconds * 1e6, static_cast<long long>(r.steps),
      r.peaks.gflops, r.peaks.gbs, "#", width, "kernel", "median_us", "min_us",
      "GFLOP/s", "GB/s", "flop/B", "%roof", "source");
  for (const KernelResult *k : bySlowest(r)) {
    std::printf("  %4d  %-*s %10.2f %10.2f", k->index, width, k->kernel.c_str(),
                k->medianSeconds * 1e6, k->minSeconds * 1e6);
    if (k->flops > 0)
      std::printf(" %9.1f", gflopsOf(*k));
    else
      std::printf(" %9s", "-");
    std::printf(" %8.2f %7.2f %6.1f  %s\n", gbsOf(*k), intensityOf(*k),
                roofPercentOf(*k, r.peaks), k->source.c_str());
  }
  std::printf("\nstep: median %.1f us, min %.1f us; %zu kernel calls, "
              "%.3f GFLOP, %.3f MB moved (%.1f GFLOP/s, %.2f GB/s at the "
              "median)\n",
              r.stepMedianSeconds * 1e6, r.stepMinSeconds * 1e6,
              r.kernels.size(), r.flops() * 1e-9, r.bytes() * 1e-6,
              r.flops() / r.stepMedianSeconds * 1e-9,
              r.bytes() / r.stepMedianSeconds * 1e-9);
}

/// Fused (this trainer) against the --no-fusion baseline, side by side.
void printComparison(const Report &fused, const Report &unfused) {
  std::printf("\n%-24s %14s %14s\n", "train_step", "fused", "--no-fusion");
  std::printf("%-24s %14zu %14zu\n", "kernel calls", fused.kernels.size(),
              unfused.kernels.size());
  std::printf("%-24s %14.3f %14.3f\n", "MB moved", fused.bytes() * 1e-6,
              unfused.bytes() * 1e-6);
  std::printf("%-24s %14.1f %14.1f\n", "median us",
              fused.stepMedianSeconds * 1e6, unfused.stepMedianSeconds * 1e6);
  std::printf("%-24s %14.1f %14.1f\n", "min us", fused.stepMinSeconds * 1e6,
              unfused.stepMinSeconds * 1e6);
  std::printf("fused speedup: %.2fx at the median, %.2fx at the minimum\n",
              unfused.stepMedianSeconds / fused.stepMedianSeconds,
              unfused.stepMinSeconds / fused.stepMinSeconds);
}

//===----------------------------------------------------------------------===//
// JSON (the schema is in docs/trainer.md)
//===----------------------------------------------------------------------===//

/// A JSON number; null for what JSON cannot write.
std::string number(double v) {
  return std::isfinite(v) ? format("%.6g", v) : "null";
}

std::string reportJson(const Report &r) {
  std::ostringstream os;
  os << "{\"model\":" << quoteJson(r.model)
     << ",\"source\":" << quoteJson(r.source)
     << ",\"target\":" << quoteJson(r.target) << ",\"batch\":" << r.batch
     << ",\"steps\":" << r.steps << ",\"warmup\":" << r.warmup
     << ",\"threads\":" << r.threads
     << ",\"peak\":{\"gflops\":" << number(r.peaks.gflops)
     << ",\"gbs\":" << number(r.peaks.gbs)
     << ",\"gflops_measured\":" << (r.peaks.gflopsMeasured ? "true" : "false")
     << ",\"gbs_measured\":" << (r.peaks.gbsMeasured ? "true" : "false")
     << ",\"method\":" << quoteJson(r.peaks.method) << "}"
     << ",\"step\":{\"median_us\":" << number(r.stepMedianSeconds * 1e6)
     << ",\"min_us\":" << number(r.stepMinSeconds * 1e6)
     << ",\"samples_per_second\":"
     << number(double(r.batch) / r.stepMedianSeconds)
     << ",\"kernel_calls\":" << r.kernels.size()
     << ",\"flops\":" << number(r.flops()) << ",\"bytes\":" << number(r.bytes())
     << "},\"kernels\":[";
  for (const KernelResult &k : r.kernels) {
    os << (k.index ? "," : "") << "\n {\"index\":" << k.index
       << ",\"kernel\":" << quoteJson(k.kernel) << ",\"op\":" << quoteJson(k.op)
       << ",\"source\":" << quoteJson(k.source)
       << ",\"median_us\":" << number(k.medianSeconds * 1e6)
       << ",\"min_us\":" << number(k.minSeconds * 1e6)
       << ",\"flops\":" << number(k.flops) << ",\"bytes\":" << number(k.bytes)
       << ",\"gflops\":" << (k.flops > 0 ? number(gflopsOf(k)) : "null")
       << ",\"gbs\":" << number(gbsOf(k))
       << ",\"intensity\":" << number(intensityOf(k)) << ",\"roofline_gflops\":"
       << (k.flops > 0 ? number(roofOf(k, r.peaks)) : "null")
       << ",\"roofline_percent\":" << number(roofPercentOf(k, r.peaks)) << "}";
  }
  os << "]}";
  return os.str();
}

/// Reads a report that reportJson wrote (another trainer's --json).
bool readReport(const std::string &path, Report &r, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return error = path + ": cannot read: " + std::strerror(errno), false;
  std::stringstream text;
  text << in.rdbuf();
  JsonValue json;
  std::string why;
  if (!parseJson(text.str(), json, why) || json.kind != JsonValue::Kind::Object)
    return error = path + ": not a bench report (" + why + ")", false;
  const JsonValue *step = json.find("step"), *kernels = json.find("kernels");
  if (!step || !kernels || kernels->kind != JsonValue::Kind::Array)
    return error = path + ": not a bench report (no step or kernels; write "
                          "it with 'trainer bench --json')",
           false;
  auto stringOf = [](const JsonValue &o, const char *key) {
    const JsonValue *v = o.find(key);
    return v && v->kind == JsonValue::Kind::String ? v->string : std::string();
  };
  r.model = stringOf(json, "model");
  r.source = stringOf(json, "source");
  r.target = stringOf(json, "target");
  r.batch = jsonInt(json, "batch", 0);
  r.steps = jsonInt(json, "steps", 0);
  r.warmup = jsonInt(json, "warmup", 0);
  r.threads = jsonInt(json, "threads", 0);
  if (const JsonValue *peak = json.find("peak")) {
    r.peaks.gflops = jsonNumber(*peak, "gflops", 0);
    r.peaks.gbs = jsonNumber(*peak, "gbs", 0);
  }
  r.json = text.str();
  while (!r.json.empty() &&
         std::isspace(static_cast<unsigned char>(r.json.back())))
    r.json.pop_back();
  r.stepMedianSeconds = jsonNumber(*step, "median_us", 0) * 1e-6;
  r.stepMinSeconds = jsonNumber(*step, "min_us", 0) * 1e-6;
  for (const JsonValue &k : kernels->elements) {
    KernelResult result;
    result.index = int(jsonInt(k, "index", 0));
    result.kernel = stringOf(k, "kernel");
    result.op = stringOf(k, "op");
    result.source = stringOf(k, "source");
    result.medianSeconds = jsonNumber(k, "median_us", 0) * 1e-6;
    result.minSeconds = jsonNumber(k, "min_us", 0) * 1e-6;
    result.flops = jsonNumber(k, "flops", 0);
    result.bytes = jsonNumber(k, "bytes", 0);
    r.kernels.push_back(result);
  }
  return true;
}

//===----------------------------------------------------------------------===//
// HTML: inline SVG, no scripts or external files
//===----------------------------------------------------------------------===//

std::string escapeHtml(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

// Chart geometry in SVG pixels.
constexpr int kBarHeight = 18, kBarGap = 4, kBarLabelWidth = 300,
              kBarWidth = 420, kBarSourceWidth = 720;
constexpr int kPlotWidth = 640, kPlotHeight = 420, kPlotMargin = 60;

/// Horizontal bars of each kernel's median time, slowest first.
std::string barChart(const Report &r, const char *colour) {
  std::vector<const KernelResult *> order = bySlowest(r);
  double longest = order.empty() ? 1 : order.front()->medianSeconds;
  int height = int(order.size()) * (kBarHeight + kBarGap) + kBarGap;
  std::string svg = format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"monospace\" font-size=\"11\">\n",
      kBarLabelWidth + kBarWidth + kBarSourceWidth, height);
  int y = kBarGap;
  for (const KernelResult *k : order) {
    double width = longest > 0 ? kBarWidth * k->medianSeconds / longest : 0;
    svg += format("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                  kBarLabelWidth - 6, y + kBarHeight - 5) +
           escapeHtml(k->kernel) + "</text>\n";
    svg += format("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                  "fill=\"%s\"><title>",
                  kBarLabelWidth, y, std::max(width, 1.0), kBarHeight, colour) +
           escapeHtml(k->kernel) +
           format(": %.2f us median</title></rect>\n", k->medianSeconds * 1e6);
    svg += format("<text x=\"%.1f\" y=\"%d\">%.1f us  ",
                  kBarLabelWidth + width + 4, y + kBarHeight - 5,
                  k->medianSeconds * 1e6) +
           escapeHtml(k->source) + "</text>\n";
    y += kBarHeight + kBarGap;
  }
  return svg + "</svg>\n";
}

/// Log-log roofline: arithmetic intensity against GFLOP/s, the bandwidth
/// and FMA roofs, one labelled dot per kernel with counted FLOPs (the
/// baseline's, when given, as hollow dots).
std::string rooflinePlot(const Report &r, const Report *baseline) {
  double ridge = r.peaks.gflops / r.peaks.gbs;
  double xLow = ridge, xHigh = ridge, yLow = r.peaks.gflops,
         yHigh = r.peaks.gflops;
  auto extend = [&](const Report &report) {
    for (const KernelResult &k : report.kernels)
      if (k.flops > 0) {
        xLow = std::min(xLow, intensityOf(k));
        xHigh = std::max(xHigh, intensityOf(k));
        yLow = std::min(yLow, gflopsOf(k));
        yHigh = std::max(yHigh, gflopsOf(k));
      }
  };
  extend(r);
  if (baseline)
    extend(*baseline);
  // Whole decades around everything drawn, with room for the labels right
  // of the dots and above the compute roof.
  constexpr double kDotLabelDecades = 0.5, kRoofLabelDecades = 0.3;
  double x0 = std::floor(std::log10(xLow)),
         x1 = std::ceil(std::log10(xHigh) + kDotLabelDecades),
         y0 = std::floor(std::log10(yLow)),
         y1 = std::ceil(std::log10(yHigh) + kRoofLabelDecades);
  auto px = [&](double intensity) {
    return kPlotMargin + (std::log10(intensity) - x0) / (x1 - x0) * kPlotWidth;
  };
  auto py = [&](double gflops) {
    return kPlotMargin + kPlotHeight -
           (std::log10(gflops) - y0) / (y1 - y0) * kPlotHeight;
  };
  std::string svg = format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"monospace\" font-size=\"11\">\n"
      "<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
      "height=\"%d\"/></clipPath>\n"
      "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
      "stroke=\"#888\"/>\n",
      kPlotWidth + 2 * kPlotMargin, kPlotHeight + 2 * kPlotMargin, kPlotMargin,
      kPlotMargin, kPlotWidth, kPlotHeight, kPlotMargin, kPlotMargin,
      kPlotWidth, kPlotHeight);
  for (double d = x0; d <= x1; ++d)
    svg += format("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                  "stroke=\"#eee\"/><text x=\"%.1f\" y=\"%d\" "
                  "text-anchor=\"middle\">%g</text>\n",
                  px(std::pow(10, d)), kPlotMargin, px(std::pow(10, d)),
                  kPlotMargin + kPlotHeight, px(std::pow(10, d)),
                  kPlotMargin + kPlotHeight + 16, std::pow(10, d));
  for (double d = y0; d <= y1; ++d)
    svg += format("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                  "stroke=\"#eee\"/><text x=\"%d\" y=\"%.1f\" "
                  "text-anchor=\"end\">%g</text>\n",
                  kPlotMargin, py(std::pow(10, d)), kPlotMargin + kPlotWidth,
                  py(std::pow(10, d)), kPlotMargin - 4, py(std::pow(10, d)) + 4,
                  std::pow(10, d));
  svg += format("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">arithmetic "
                "intensity (FLOP/byte)</text>\n<text x=\"14\" y=\"%d\" "
                "transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">"
                "GFLOP/s</text>\n",
                kPlotMargin + kPlotWidth / 2, kPlotMargin + kPlotHeight + 36,
                kPlotMargin + kPlotHeight / 2, kPlotMargin + kPlotHeight / 2);
  // The roofs: bandwidth up to the ridge point, then the FMA peak.
  double left = std::pow(10, x0), right = std::pow(10, x1);
  svg += format("<polyline clip-path=\"url(#plot)\" fill=\"none\" "
                "stroke=\"#c00\" stroke-width=\"2\" "
                "points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n",
                px(left), py(left * r.peaks.gbs), px(ridge), py(r.peaks.gflops),
                px(right), py(r.peaks.gflops));
  svg += format("<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00\" "
                "text-anchor=\"end\">%.1f GFLOP/s</text>\n",
                px(right) - 4, py(r.peaks.gflops) - 6, r.peaks.gflops);
  // The bandwidth roof's label sits on it where it enters the plot.
  double entry = std::max(left, std::pow(10, y0) / r.peaks.gbs);
  svg += format("<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00\">%.1f GB/s</text>\n",
                px(entry) + 8, py(entry * r.peaks.gbs) - 4, r.peaks.gbs);
  if (baseline)
    for (const KernelResult &k : baseline->kernels)
      if (k.flops > 0)
        svg += format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" "
                      "stroke=\"#999\"><title>",
                      px(intensityOf(k)), py(gflopsOf(k))) +
               escapeHtml(k.kernel) + " (--no-fusion)</title></circle>\n";
  for (const KernelResult &k : r.kernels)
    if (k.flops > 0)
      svg += format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#26a\">"
                    "<title>",
                    px(intensityOf(k)), py(gflopsOf(k))) +
             escapeHtml(k.kernel + " " + k.source) +
             format(": %.1f GFLOP/s, %.0f%% of roofline</title></circle>\n"
                    "<text x=\"%.1f\" y=\"%.1f\">",
                    gflopsOf(k), roofPercentOf(k, r.peaks),
                    px(intensityOf(k)) + 6, py(gflopsOf(k)) + 4) +
             escapeHtml(k.kernel) + "</text>\n";
  return svg + "</svg>\n";
}

std::string htmlTable(const Report &r) {
  std::string html = "<table>\n<tr><th>#</th><th>kernel</th><th>source</th>"
                     "<th>median us</th><th>min us</th><th>GFLOP/s</th>"
                     "<th>GB/s</th><th>FLOP/B</th><th>% roofline</th></tr>\n";
  for (const KernelResult *k : bySlowest(r))
    html += format("<tr><td>%d</td><td>", k->index) + escapeHtml(k->kernel) +
            "</td><td>" + escapeHtml(k->source) +
            format("</td><td>%.2f</td><td>%.2f</td><td>%s</td><td>%.2f</td>"
                   "<td>%.2f</td><td>%.1f</td></tr>\n",
                   k->medianSeconds * 1e6, k->minSeconds * 1e6,
                   k->flops > 0 ? format("%.1f", gflopsOf(*k)).c_str() : "-",
                   gbsOf(*k), intensityOf(*k), roofPercentOf(*k, r.peaks));
  return html + "</table>\n";
}

std::string stepSummary(const Report &r) {
  return format("median %.1f us, min %.1f us per step; %zu kernel calls, "
                "%.3f GFLOP, %.3f MB moved",
                r.stepMedianSeconds * 1e6, r.stepMinSeconds * 1e6,
                r.kernels.size(), r.flops() * 1e-9, r.bytes() * 1e-6);
}

std::string reportHtml(const Report &r, const Report *baseline) {
  std::string title = "kiln bench: " + escapeHtml(r.model);
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
      "</title>\n<style>body{font-family:sans-serif;margin:2em}"
      "table{border-collapse:collapse;font-family:monospace;font-size:12px}"
      "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
      "td:nth-child(2),td:nth-child(3){text-align:left}</style></head>\n"
      "<body>\n<h1>" +
      title + "</h1>\n<p>" + escapeHtml(r.source) +
      format(", batch %lld, %lld timed steps after %lld warm-up steps, %lld "
             "threads, target ",
             static_cast<long long>(r.batch), static_cast<long long>(r.steps),
             static_cast<long long>(r.warmup),
             static_cast<long long>(r.threads)) +
      escapeHtml(r.target) +
      format(".<br>Roofline: %.1f GFLOP/s (%s), %.1f GB/s (%s).</p>\n",
             r.peaks.gflops, r.peaks.gflopsMeasured ? "measured" : "given",
             r.peaks.gbs, r.peaks.gbsMeasured ? "measured" : "given") +
      "<h2>train_step</h2>\n<p>" + (baseline ? "fused: " : "") +
      stepSummary(r) + "</p>\n";
  if (baseline)
    html += "<p>--no-fusion: " + stepSummary(*baseline) +
            format("</p>\n<p>fused speedup: %.2fx at the median</p>\n",
                   baseline->stepMedianSeconds / r.stepMedianSeconds);
  html += "<h2>Median time per kernel call" +
          std::string(baseline ? " (fused)" : "") + "</h2>\n" +
          barChart(r, "#26a");
  if (baseline)
    html += "<h2>Median time per kernel call (--no-fusion)</h2>\n" +
            barChart(*baseline, "#999");
  html += "<h2>Roofline</h2>\n<p>Kernels with counted FLOPs (GEMMs, "
          "convolutions); the others are bandwidth-bound and listed in the "
          "table with their fraction of the bandwidth roof." +
          std::string(baseline ? " Hollow dots: --no-fusion." : "") + "</p>\n" +
          rooflinePlot(r, baseline) + "<h2>Kernel calls</h2>\n" + htmlTable(r);
  if (baseline)
    html += "<h2>Kernel calls (--no-fusion)</h2>\n" + htmlTable(*baseline);
  return html + "</body></html>\n";
}

bool writeFile(const std::string &path, const std::string &text,
               std::string &error) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out)
    return error = "cannot write " + path, false;
  return true;
}

/// The peaks from --peak-gflops and --peak-gbs, the rest measured on
/// `threads` threads.
/// The GPU's peaks: the best of kDeviceRuns runs of the peak FMA kernel
/// (Model.h's DeviceApi::peakFma) and of a device-to-device copy. Each run
/// waits for the device, so it is timed from queueing to completion.
bool measureDevicePeaks(const DeviceApi &device, bool flopRate,
                        bool bandwidth, Peaks &peaks, std::string &error) {
  constexpr int kDeviceRuns = 5;
  constexpr int64_t kFmaThreads = int64_t(1) << 20;
  constexpr int64_t kCopyBytes = int64_t(256) << 20;
  auto timed = [&](auto queue) {
    double best = 0;
    for (int run = 0; run <= kDeviceRuns; ++run) { // run 0 warms up
      auto start = Clock::now();
      if (int code = queue())
        return error = "measuring the GPU's peaks failed (Halide error " +
                       std::to_string(code) + "): " + device.lastError(),
               -1.0;
      if (int code = device.synchronize())
        return error = std::string("waiting for the GPU failed: ") +
                       device.lastError(),
               -1.0;
      double seconds = secondsSince(start);
      if (run > 0 && (best == 0 || seconds < best))
        best = seconds;
    }
    return best;
  };
  DeviceBuffer *fma = device.allocate(kFmaThreads * int64_t(sizeof(float)));
  DeviceBuffer *from = device.allocate(kCopyBytes);
  DeviceBuffer *to = device.allocate(kCopyBytes);
  bool ok = fma && from && to;
  if (!ok)
    error = std::string("cannot allocate GPU memory to measure its peaks: ") +
            device.lastError();
  double flops = 0;
  if (ok && flopRate) {
    double seconds = timed([&] {
      return device.peakFma(device.at(fma, 0), kFmaThreads, &flops);
    });
    ok = seconds > 0;
    if (ok)
      peaks.gflops = flops / seconds * 1e-9;
  }
  if (ok && bandwidth) {
    double seconds = timed([&] {
      return device.copy(device.at(to, 0), device.at(from, 0), kCopyBytes);
    });
    ok = seconds > 0;
    if (ok)
      peaks.gbs = 2 * double(kCopyBytes) / seconds * 1e-9;
  }
  for (DeviceBuffer *b : {fma, from, to})
    if (b)
      device.release(b);
  return ok;
}

bool findPeaks(const Options &options, int threads, Peaks &peaks,
               std::string &error) {
  // Any positive number is a peak a user may know; the bound only keeps
  // out nonsense.
  constexpr double kMaxPeak = 1e12;
  constexpr double kMinPeak = 1e-6;
  if (!options.real("peak-gflops", kMinPeak, kMaxPeak, peaks.gflops, error) ||
      !options.real("peak-gbs", kMinPeak, kMaxPeak, peaks.gbs, error))
    return false;
  if (const DeviceApi *device = deviceInUse()) {
    peaks.method = "FMA kernel and device copy on the GPU";
    peaks.gflopsMeasured = !options.has("peak-gflops");
    peaks.gbsMeasured = !options.has("peak-gbs");
    if (!measureDevicePeaks(*device, peaks.gflopsMeasured, peaks.gbsMeasured,
                            peaks, error))
      return false;
  } else {
    auto [loop, name] = fmaLoop();
    peaks.method = format("%s loop and copy loop on %d threads", name, threads);
    if (!options.has("peak-gflops")) {
      peaks.gflops = measureFlops(threads, loop);
      peaks.gflopsMeasured = true;
    }
    if (!options.has("peak-gbs")) {
      peaks.gbs = measureBandwidth(threads);
      peaks.gbsMeasured = true;
    }
  }
  if (!peaks.gflopsMeasured && !peaks.gbsMeasured)
    peaks.method = "given on the command line";
  std::printf("machine (%s): %.1f GFLOP/s f32 FMA peak%s, %.1f GB/s copy "
              "bandwidth%s\n",
              peaks.method.c_str(), peaks.gflops,
              peaks.gflopsMeasured ? "" : " (given)", peaks.gbs,
              peaks.gbsMeasured ? "" : " (given)");
  return true;
}

} // namespace

bool trainer::runBench(const Options &options, const Model &model,
                       std::string &error) {
  JsonValue block;
  if (!parseTrainBlock(model, block, error))
    return false;
  int64_t batch = jsonInt(block, "batch", 32), steps = 100, warmup = 10,
          threads = 0;
  if (!options.integer("batch", 1, batch, error) ||
      !options.integer("steps", 1, steps, error) ||
      !options.integer("warmup", 0, warmup, error) ||
      !options.integer("threads", 0, threads, error) ||
      !applyKernelOptions(options, model, error))
    return false;
  Report baseline;
  if (options.has("baseline")) {
    std::string path = options.text("baseline");
    if (!readReport(path, baseline, error))
      return false;
    // A comparison only means something for the same model and batch.
    if (baseline.model != model.name || baseline.batch != batch)
      return error = path + ": a report of model '" + baseline.model +
                     "' at batch " + std::to_string(baseline.batch) +
                     "; this is '" + model.name + "' at batch " +
                     std::to_string(batch) + " (--batch sets it)",
             false;
    // It is shown as the --no-fusion build: not this trainer's own kernels.
    bool same = baseline.kernels.size() == size_t(model.train.numCalls);
    for (size_t k = 0; same && k < baseline.kernels.size(); ++k)
      same = baseline.kernels[k].kernel == model.train.calls[k].kernel;
    if (same)
      return error = path + ": a report of this same build (the same " +
                     std::to_string(baseline.kernels.size()) +
                     " kernel calls); the baseline is the --no-fusion "
                     "trainer's report",
             false;
  }
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  Report report;
  report.model = model.name;
  report.source = model.source;
  report.target = model.target;
  report.batch = batch;
  report.steps = steps;
  report.warmup = warmup;
  report.threads = threads;
  if (!findPeaks(options, int(threads), report.peaks, error))
    return false;

  TrainState state;
  if (!initialState(model, 0, state, error))
    return false;
  StepCall call(model.train, state, batch);
  fillBatch(model, call, batch);

  // The weights move a little every step (commit), as in training.
  auto step = [&](int64_t s) {
    call.setStep(s + 1, 0);
    if (!call.run(batch, error))
      return false;
    call.commit();
    return true;
  };
  for (int64_t s = 0; s < warmup; ++s)
    if (!step(s))
      return false;
  std::vector<double> times;
  for (int64_t s = 0; s < steps; ++s) {
    auto start = Clock::now();
    if (!step(warmup + s))
      return false;
    times.push_back(secondsSince(start));
  }
  report.stepMedianSeconds = median(times);
  report.stepMinSeconds = minimum(times);
  std::printf("%s train_step batch %lld: median %.1f us, min %.1f us, "
              "%.0f samples/s (%lld steps)\n",
              model.name, static_cast<long long>(batch),
              report.stepMedianSeconds * 1e6, report.stepMinSeconds * 1e6,
              double(batch) / report.stepMedianSeconds,
              static_cast<long long>(steps));

  // Kernel times come from separate steps: timing every call costs a clock
  // read per call, which the step times above should not include.
  const StepFunction &fn = model.train;
  std::vector<double> slots(size_t(fn.numCalls + model.eval.numCalls), 0);
  std::vector<std::vector<double>> samples(size_t(fn.numCalls));
  setKernelProfile(slots.data());
  for (int64_t s = 0; s < steps; ++s) {
    std::fill(slots.begin(), slots.end(), 0.0);
    if (!step(warmup + steps + s)) {
      setKernelProfile(nullptr);
      return false;
    }
    for (int c = 0; c < fn.numCalls; ++c)
      samples[size_t(c)].push_back(slots[size_t(c)]);
  }
  setKernelProfile(nullptr);
  for (int c = 0; c < fn.numCalls; ++c) {
    const KernelCall &k = fn.calls[c];
    KernelResult result;
    result.index = c;
    result.kernel = k.kernel;
    result.op = k.op;
    result.source = k.source;
    result.medianSeconds = median(samples[size_t(c)]);
    result.minSeconds = minimum(samples[size_t(c)]);
    result.flops = double(k.flopsPerSample) * double(batch) + double(k.flops);
    result.bytes = double(k.bytesPerSample) * double(batch) + double(k.bytes);
    report.kernels.push_back(result);
  }
  printTable(report);
  const Report *compared = options.has("baseline") ? &baseline : nullptr;
  if (compared)
    printComparison(report, *compared);

  if (options.has("json")) {
    std::string json = reportJson(report);
    if (compared)
      json.back() = ',',
      json += "\"baseline\":" + compared->json + ",\"speedup\":" +
              number(compared->stepMedianSeconds / report.stepMedianSeconds) +
              "}";
    if (!writeFile(options.text("json"), json + "\n", error))
      return false;
  }
  if (options.has("html") &&
      !writeFile(options.text("html"), reportHtml(report, compared), error))
    return false;
  return true;
}
