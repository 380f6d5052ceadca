//===- Trainer.cpp - the trainer's command line -----------------*- C++ -*-===//
//
// Part of kiln. See Trainer.h. Parses `./trainer COMMAND [options]` against
// one table of commands and their options (which also writes --help),
// refuses options the compiled model cannot honour (--lr) with the reason,
// and dispatches to the commands in TrainerLoop.cpp, TrainerEval.cpp and
// TrainerStep.cpp; `info` lives here. Options are `--name value`,
// `--name=value`, or for --data one or more values. Every error is printed
// once as "trainer: error: <message>" with exit status 1.
//
//===----------------------------------------------------------------------===//

#include "runtime/Trainer.h"
#include "runtime/TrainerCommands.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

using namespace kiln::rt;
using namespace kiln::rt::trainer;

namespace {

struct OptionSpec {
  const char *name;    ///< without the dashes
  const char *metavar; ///< what its value is, in the help ("": a flag)
  const char *help;
  const char *blockKey; ///< train-block member giving its default, or null
  bool many = false;    ///< takes every following value up to an option
};

struct CommandSpec {
  const char *name;
  const char *summary;
  std::vector<OptionSpec> options;
  bool (*run)(const Options &, const Model &, std::string &);
};

const OptionSpec kData{"data", "DIR|FILE...",
                       "data to use instead of the train block's source: a "
                       "directory, or files in the source's order",
                       "data", true};
const OptionSpec kBatch{"batch", "B", "samples per batch", "batch"};
const OptionSpec kThreads{
    "threads", "T", "threads the kernels may use (0: one per core)", nullptr};
const OptionSpec kDevice{
    "device", "D",
    "where the kernels run: cpu (the default), or the GPU API the trainer "
    "was built for (cuda, or opencl; kiln --gpu)",
    nullptr};
const OptionSpec kWeights{"weights", "CKPT",
                          "the checkpoint to evaluate (its .safetensors "
                          "model file)",
                          nullptr};

bool runInfo(const Options &, const Model &, std::string &);

const CommandSpec kCommands[] = {
    {"train",
     "Trains the model; prints one line per epoch and, when the data has a "
     "test split, the test report.",
     {kData,
      {"epochs", "N", "epochs to train", "epochs"},
      kBatch,
      kThreads,
      kDevice,
      {"seed", "S", "seed of initialization, shuffling, split and dropout",
       "seed"},
      {"val-split", "F",
       "fraction of the training data held out for "
       "validation, in [0, 1)",
       "val_split"},
      {"save", "CKPT",
       "save checkpoints here (CKPT and its .optim file) at "
       "every epoch end",
       nullptr},
      {"save-every", "N", "also save every N optimizer steps", nullptr},
      {"resume", "CKPT", "continue the run saved in CKPT exactly", nullptr},
      {"init-from", "CKPT",
       "start from the weights of CKPT (fine-tuning), "
       "with fresh optimizer state",
       nullptr},
      {"log", "FILE", "append one JSON object per epoch to FILE", nullptr}},
     runTrain},
    {"eval",
     "Prints the loss, accuracy, per-class report and confusion matrix of "
     "a checkpoint on the test data (the training data when there is none).",
     {kWeights, kData, kBatch, kThreads, kDevice},
     runEval},
    {"predict",
     "Writes one line per sample, 'index,prediction,label', on the test data "
     "(the training data when there is none).",
     {kWeights,
      kData,
      kBatch,
      kThreads,
      kDevice,
      {"out", "FILE", "write the predictions here, not to stdout", nullptr}},
     runPredict},
    {"steps",
     "Runs train_step on arguments read by name from a safetensors file, "
     "feeding results back, and prints each step's loss (to compare the "
     "kernels with kiln-run).",
     {{"inputs", "FILE", "train_step's arguments by name (required)", nullptr},
      {"steps", "K", "how many times to run train_step (1)", nullptr},
      {"outputs", "FILE", "write the last run's results here by name", nullptr},
      kThreads,
      kDevice},
     runSteps},
    {"bench",
     "Times training steps (one train_step call each) on random data, then "
     "every kernel call of the step, and prints the median and minimum "
     "times, GFLOP/s, GB/s and the fraction of the machine's roofline "
     "(measured at the start unless --peak-gflops and --peak-gbs give it).",
     {kBatch,
      {"steps", "N", "steps to time, and as many again per kernel (100)",
       nullptr},
      {"warmup", "N", "untimed steps first (10)", nullptr},
      kThreads,
      kDevice,
      {"peak-gflops", "X", "the roofline's compute peak instead of measuring it",
       nullptr},
      {"peak-gbs", "Y", "the roofline's bandwidth instead of measuring it",
       nullptr},
      {"json", "FILE", "write the report as JSON (docs/trainer.md)", nullptr},
      {"html", "FILE", "write the report as one HTML page with SVG charts",
       nullptr},
      {"baseline", "FILE",
       "the --json report of this model's --no-fusion trainer, to compare "
       "with side by side (kiln bench passes it)",
       nullptr},
      {"profile", "", "accepted for older scripts: kernels are always timed",
       nullptr}},
     runBench},
    {"info",
     "Prints the model: its source, target, task, the arguments and results "
     "of its step functions, its parameter count and its train block.",
     {},
     runInfo},
};

const CommandSpec *findCommand(const std::string &name) {
  for (const CommandSpec &c : kCommands)
    if (name == c.name)
      return &c;
  return nullptr;
}

/// Levenshtein distance, for "did you mean" hints.
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The train block's setting `key` as written in the help.
std::string blockDefault(const JsonValue &block, const char *key) {
  const JsonValue *v = block.find(key);
  if (!v)
    return "";
  if (v->kind == JsonValue::Kind::Number) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", v->number);
    return buf;
  }
  if (const JsonValue *kind = v->find("kind")) {
    std::string s = kind->string + "(";
    bool first = true;
    for (const auto &[name, member] : v->members) {
      if (name == "kind" || member.kind != JsonValue::Kind::String)
        continue;
      s += (first ? "" : ", ") + name + "=" + quoteJson(member.string);
      first = false;
    }
    return s + ")";
  }
  return "";
}

std::string programName(const char *argv0) {
  const char *slash = std::strrchr(argv0, '/');
  return slash ? slash + 1 : argv0;
}

void printHelp(const std::string &program, const CommandSpec &c,
               const Model &model) {
  JsonValue block;
  std::string ignored;
  parseTrainBlock(model, block, ignored);
  std::printf("usage: %s %s%s\n\n%s\n", program.c_str(), c.name,
              c.options.empty() ? "" : " [options]", c.summary);
  if (!c.options.empty())
    std::printf("\noptions:\n");
  for (const OptionSpec &o : c.options) {
    std::string flag = std::string("--") + o.name + " " + o.metavar;
    std::string dflt = o.blockKey ? blockDefault(block, o.blockKey) : "";
    std::printf("  %-22s %s%s\n", flag.c_str(), o.help,
                dflt.empty() ? "" : (" (train block: " + dflt + ")").c_str());
  }
  std::printf("  %-22s %s\n", "--help", "show this help");
}

void printUsage(const std::string &program, const Model &model) {
  std::printf("usage: %s COMMAND [options]\n\nThe trainer of model '%s' "
              "(compiled from %s).\n\ncommands:\n",
              program.c_str(), model.name, model.source);
  for (const CommandSpec &c : kCommands)
    std::printf("  %-8s %s\n", c.name, c.summary);
  std::printf("\n'%s COMMAND --help' describes a command's options; "
              "docs/trainer.md has the full guide.\n",
              program.c_str());
}

/// Why --lr cannot be honoured, with the model's compiled learning rate.
std::string learningRateError(const Model &model, const char *argv0) {
  JsonValue block;
  std::string ignored, compiled;
  if (parseTrainBlock(model, block, ignored))
    if (const JsonValue *opt = block.find("optimizer"))
      if (const JsonValue *lr = opt->find("lr")) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " (%s, lr=%g)",
                      opt->find("kind") ? opt->find("kind")->string.c_str()
                                        : "optimizer",
                      lr->number);
        compiled = buf;
      }
  return std::string("--lr cannot change the learning rate: it is compiled "
                     "into train_step as a constant") +
         compiled + "; change the optimizer in the train block of " +
         model.source + " and recompile (kiln " + model.source + " -o " +
         argv0 + ")";
}

bool parseOptions(const CommandSpec &c, int argc, char **argv, int first,
                  const Model &model, Options &options, std::string &error) {
  options.command = c.name;
  for (int k = first; k < argc; ++k) {
    std::string arg = argv[k];
    if (arg.rfind("--", 0) != 0)
      return error = "unexpected argument '" + arg +
                     "' (options start with "
                     "--; see '" +
                     c.name + " --help')",
             false;
    std::string name = arg.substr(2), inlineValue;
    size_t eq = name.find('=');
    bool hasInline = eq != std::string::npos;
    if (hasInline) {
      inlineValue = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "lr")
      return error = learningRateError(model, argv[0]), false;
    const OptionSpec *spec = nullptr;
    const OptionSpec *closest = nullptr;
    size_t best = 3; // a hint only for near misses
    for (const OptionSpec &o : c.options) {
      if (name == o.name)
        spec = &o;
      size_t d = editDistance(name, o.name);
      if (d < best)
        best = d, closest = &o;
    }
    if (!spec)
      return error = "unknown option '--" + name + "' for " + c.name +
                     (closest ? std::string("; did you mean '--") +
                                    closest->name + "'?"
                              : std::string("")) +
                     " (see '" + c.name + " --help')",
             false;
    if (options.has(name))
      return error = "--" + name + " is given twice", false;
    std::vector<std::string> &values = options.values[name];
    if (!*spec->metavar) { // a flag
      if (hasInline)
        return error = "--" + name + " takes no value", false;
      continue;
    }
    if (hasInline) {
      values.push_back(inlineValue);
    } else {
      while (k + 1 < argc && std::strncmp(argv[k + 1], "--", 2) != 0) {
        values.push_back(argv[++k]);
        if (!spec->many)
          break;
      }
    }
    if (values.empty() || values[0].empty())
      return error = "--" + name + " needs a value (" + spec->metavar + ")",
             false;
  }
  return true;
}

const char *roleName(Role role) {
  switch (role) {
  case Role::Input:
    return "input";
  case Role::Target:
    return "target";
  case Role::Param:
    return "param";
  case Role::Buffer:
    return "buffer";
  case Role::OptState:
    return "opt_state";
  case Role::Step:
    return "step";
  case Role::Seed:
    return "seed";
  case Role::Output:
    return "output";
  case Role::Grad:
    return "grad";
  }
  return "?";
}

std::string shapeText(const int64_t *shape, int rank) {
  std::string text = "[";
  for (int d = 0; d < rank; ++d)
    text += (d ? ", " : "") +
            (shape[d] < 0 ? std::string("B") : std::to_string(shape[d]));
  return text + "]";
}

/// One line per tensor; a permuted one (kiln-layout) shows PyTorch's shape,
/// as checkpoints hold it, and the layout the kernels use.
std::string describe(const TensorInfo &info) {
  std::string shape = shapeText(info.shape, info.rank);
  if (info.permuted) {
    std::vector<int64_t> canonical = canonicalShape(info);
    shape = shapeText(canonical.data(), info.rank) + " (stored " + shape + ")";
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "    %-32s %-10s %s %s%s", info.name,
                roleName(info.role), info.type == ElemType::F32 ? "f32" : "i64",
                shape.c_str(), info.frozen ? " frozen" : "");
  return buf;
}

void printFunction(const char *name, const StepFunction &fn) {
  std::printf("%s:\n  arguments:\n", name);
  for (int k = 0; k < fn.numArgs; ++k)
    std::printf("%s\n", describe(fn.args[k]).c_str());
  std::printf("  results:\n");
  for (int k = 0; k < fn.numResults; ++k)
    std::printf("%s\n", describe(fn.results[k]).c_str());
}

bool runInfo(const Options &, const Model &model, std::string &) {
  const char *task = model.task == Task::Multiclass ? "multiclass"
                     : model.task == Task::Binary   ? "binary"
                                                    : "regression";
  std::printf("model      %s\nsource     %s\ntarget     %s\ngpu        %s\n"
              "task       %s",
              model.name, model.source, model.target,
              model.gpu ? model.gpu : "none (built with kiln --gpu=none)",
              task);
  if (model.task == Task::Multiclass)
    std::printf(" (%lld classes)", static_cast<long long>(model.numClasses));
  if (model.indexRows > 0)
    std::printf("\nids        in [0, %lld): the input indexes embeddings",
                static_cast<long long>(model.indexRows));
  int64_t total = 0, trainable = 0;
  for (int k = 0; k < model.train.numArgs; ++k) {
    const TensorInfo &info = model.train.args[k];
    if (info.role != Role::Param)
      continue;
    total += elementCount(info, 1);
    trainable += info.frozen ? 0 : elementCount(info, 1);
  }
  std::printf("\nparameters %lld (%lld trainable)\ntrain      %s\n\n",
              static_cast<long long>(total), static_cast<long long>(trainable),
              model.trainJson);
  printFunction("train_step", model.train);
  printFunction("eval_step", model.eval);
  JsonValue block;
  std::string ignored;
  int64_t batch =
      parseTrainBlock(model, block, ignored) ? jsonInt(block, "batch", 32) : 32;
  auto mib = [&](const int64_t bytes[2]) {
    return double(bytes[0] * batch + bytes[1]) / (1 << 20);
  };
  std::printf("\nintermediates at batch %lld: train_step %.2f MiB planned "
              "(%.2f MiB with one slot per tensor), eval_step %.2f MiB "
              "(%.2f MiB)\n",
              static_cast<long long>(batch), mib(model.train.arenaBytes),
              mib(model.train.unplannedBytes), mib(model.eval.arenaBytes),
              mib(model.eval.unplannedBytes));
  return true;
}

} // namespace

std::string Options::text(const std::string &name,
                          const std::string &otherwise) const {
  auto it = values.find(name);
  return it == values.end() ? otherwise : it->second[0];
}

bool Options::integer(const std::string &name, int64_t min, int64_t &out,
                      std::string &error) const {
  if (!has(name))
    return true;
  std::string v = text(name);
  char *end = nullptr;
  errno = 0;
  long long parsed = std::strtoll(v.c_str(), &end, 10);
  if (*end || errno || parsed < min)
    return error = "--" + name +
                   " expects an integer >= " + std::to_string(min) + ", not '" +
                   v + "'",
           false;
  out = parsed;
  return true;
}

bool Options::real(const std::string &name, double low, double high,
                   double &out, std::string &error) const {
  if (!has(name))
    return true;
  std::string v = text(name);
  char *end = nullptr;
  double parsed = std::strtod(v.c_str(), &end);
  if (*end || !(parsed >= low && parsed < high)) {
    char range[64];
    std::snprintf(range, sizeof range, "[%g, %g)", low, high);
    return error = "--" + name + " expects a number in " + range + ", not '" +
                   v + "'",
           false;
  }
  out = parsed;
  return true;
}

bool trainer::parseTrainBlock(const Model &model, JsonValue &block,
                              std::string &error) {
  std::string why;
  if (!parseJson(model.trainJson ? model.trainJson : "{}", block, why) ||
      block.kind != JsonValue::Kind::Object)
    return error = "internal error: the model's train block is not a JSON "
                   "object: " +
                   why,
           false;
  return true;
}

int64_t trainer::jsonInt(const JsonValue &object, const char *key,
                         int64_t otherwise) {
  const JsonValue *v = object.find(key);
  if (!v || v->kind != JsonValue::Kind::Number)
    return otherwise;
  return v->isInteger ? v->integer : int64_t(v->number);
}

double trainer::jsonNumber(const JsonValue &object, const char *key,
                           double otherwise) {
  const JsonValue *v = object.find(key);
  return v && v->kind == JsonValue::Kind::Number ? v->number : otherwise;
}

static const DeviceApi *selectedDevice = nullptr;

const DeviceApi *trainer::deviceInUse() { return selectedDevice; }

bool trainer::applyKernelOptions(const Options &options, const Model &model,
                                 std::string &error) {
  int64_t threads = 0;
  if (!options.integer("threads", 0, threads, error))
    return false;
  if (options.has("threads"))
    setKernelThreads(int(threads));
  std::string device = options.text("device", "cpu");
  if (device == "cpu")
    return true;
  if (device != "cuda" && device != "opencl")
    return error = "--device: '" + device + "' is not cpu, cuda or opencl",
           false;
  if (!model.gpu || !model.device)
    return error = "--device " + device +
                   ": this trainer has no GPU kernels (it was built with "
                   "kiln --gpu=none)",
           false;
  if (device != model.gpu)
    return error = "--device " + device + ": this trainer's GPU kernels are " +
                   model.gpu + " (kiln --gpu=" + device + " builds " + device +
                   " kernels)",
           false;
  if (int code = model.device->open())
    return error = "--device " + device + ": no usable " +
                   (device == "cuda" ? "CUDA" : "OpenCL") +
                   " device (Halide error " + std::to_string(code) + ": " +
                   model.device->lastError() + ")",
           false;
  selectedDevice = model.device;
  return true;
}

int kiln::rt::trainerMain(int argc, char **argv, const Model &model) {
  std::string program = programName(argc > 0 ? argv[0] : "trainer");
  auto fail = [](const std::string &message) {
    std::fflush(stdout);
    std::fprintf(stderr, "trainer: error: %s\n", message.c_str());
    return 1;
  };
  if (argc < 2)
    return fail("no command given (commands: train, eval, predict, steps, "
                "bench, info; see '" +
                program + " --help')");
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    const CommandSpec *c = argc > 2 ? findCommand(argv[2]) : nullptr;
    if (c)
      printHelp(program, *c, model);
    else
      printUsage(program, model);
    return 0;
  }
  const CommandSpec *spec = findCommand(command);
  if (!spec) {
    const CommandSpec *closest = nullptr;
    size_t best = 3; // a hint only for near misses
    for (const CommandSpec &c : kCommands)
      if (size_t d = editDistance(command, c.name); d < best)
        best = d, closest = &c;
    return fail("unknown command '" + command + "'" +
                (closest ? std::string("; did you mean '") + closest->name +
                               "'?"
                         : std::string()) +
                " (commands: train, eval, predict, steps, bench, info; see '" +
                program + " --help')");
  }
  for (int k = 2; k < argc; ++k)
    if (!std::strcmp(argv[k], "--help") || !std::strcmp(argv[k], "-h")) {
      printHelp(program, *spec, model);
      return 0;
    }
  Options options;
  std::string error;
  try {
    if (!parseOptions(*spec, argc, argv, 2, model, options, error) ||
        !spec->run(options, model, error))
      return fail(error);
  } catch (const std::bad_alloc &) {
    // Arenas, datasets and checkpoints are sized by the model and the
    // batch; a model too large for this machine ends here, having written
    // nothing (checkpoints are written to a temporary file and renamed).
    return fail("out of memory: the model's parameters, optimizer state "
                "and activations at this batch size (see '" +
                program + " info'), or the data, do not fit in this "
                "machine's memory");
  } catch (const std::exception &e) {
    // Every expected failure is an error message; this is the net under
    // the library calls that throw instead (an I/O stream, a container).
    return fail(std::string("internal error: ") + e.what());
  }
  std::fflush(stdout);
  return 0;
}
