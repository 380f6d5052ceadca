//===- BuildTrainer.cpp - from train IR to a trainer executable -*- C++ -*-===//
//
// Part of kiln. See BuildTrainer.h. The build directory holds kernels.o,
// kernels.h, halide_runtime.o and step.cpp; the system C++ compiler ($CXX,
// else c++) compiles step.cpp and links everything with libKilnRuntime.a.
// kiln looks for the runtime first in an installed layout beside its own
// executable (../lib/kiln, ../include/kiln), then in the build tree it was
// configured in.
//
//===----------------------------------------------------------------------===//

#include "codegen/BuildTrainer.h"

#include "codegen/Config.h"
#include "codegen/Kernels.h"
#include "codegen/StepProgram.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace kiln::codegen;

namespace {

struct RuntimePaths {
  std::string include; ///< holds runtime/*.h
  std::string library; ///< libKilnRuntime.a
};

RuntimePaths findRuntime(const std::string &argv0) {
  std::string exe = llvm::sys::fs::getMainExecutable(
      argv0.c_str(), reinterpret_cast<void *>(&findRuntime));
  llvm::SmallString<256> installed(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(installed, "..", "lib", "kiln",
                          "libKilnRuntime.a");
  if (llvm::sys::fs::exists(installed)) {
    llvm::SmallString<256> include(llvm::sys::path::parent_path(exe));
    llvm::sys::path::append(include, "..", "include", "kiln");
    return {include.str().str(), installed.str().str()};
  }
  return {KILN_SOURCE_DIR, KILN_RUNTIME_LIBRARY};
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start)
      .count();
}

} // namespace

mlir::LogicalResult kiln::codegen::buildTrainer(mlir::ModuleOp module,
                                                const TrainerOptions &options) {
  mlir::Location loc = module.getLoc();
  auto start = std::chrono::steady_clock::now();

  llvm::SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("kiln-build", dir))
    return mlir::emitError(loc) << "cannot create a build directory: "
                                << ec.message();
  struct Cleanup {
    llvm::SmallString<128> &dir;
    bool keep;
    ~Cleanup() {
      if (!keep)
        llvm::sys::fs::remove_directories(dir);
    }
  } cleanup{dir, options.keepTemps};

  std::unique_ptr<KernelLibrary> kernels =
      KernelLibrary::create(options.target, loc);
  if (!kernels)
    return mlir::failure();
  std::unique_ptr<KernelLibrary> gpuKernels;
  if (!options.gpu.empty() &&
      !(gpuKernels = KernelLibrary::create(options.target, loc, options.gpu)))
    return mlir::failure();
  std::string stepPath = (dir + "/step.cpp").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream step(stepPath, ec);
    if (ec)
      return mlir::emitError(loc) << "cannot write " << stepPath << ": "
                                  << ec.message();
    if (mlir::failed(emitStepProgram(module, *kernels, gpuKernels.get(),
                                     options.source, step)))
      return mlir::failure();
  }
  double lowered = secondsSince(start);
  std::string assembly =
      options.dumpDir.empty() ? "" : options.dumpDir + "/kernels.s";
  auto objects = kernels->compile(dir.str().str(), loc, assembly);
  if (mlir::failed(objects))
    return mlir::failure();
  if (gpuKernels) {
    auto gpuObjects = gpuKernels->compile(dir.str().str(), loc);
    if (mlir::failed(gpuObjects))
      return mlir::failure();
    objects->insert(objects->end(), gpuObjects->begin(), gpuObjects->end());
  }
  objects->push_back((dir + "/halide_runtime.o").str());
  if (mlir::failed(
          kernels->compileRuntime(objects->back(), loc, gpuKernels.get())))
    return mlir::failure();
  if (!options.dumpDir.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream stmt(options.dumpDir + "/kernels.stmt", ec);
    if (!ec)
      kernels->printStmt(stmt);
    if (gpuKernels) {
      llvm::raw_fd_ostream gpuStmt(
          options.dumpDir + "/" + gpuKernels->fileStem() + ".stmt", ec);
      if (!ec)
        gpuKernels->printStmt(gpuStmt);
    }
    llvm::sys::fs::copy_file(stepPath, options.dumpDir + "/step.cpp");
  }
  double halide = secondsSince(start) - lowered;

  RuntimePaths runtime = findRuntime(options.kilnExecutable);
  const char *cxxEnv = std::getenv("CXX");
  auto cxx = llvm::sys::findProgramByName(cxxEnv && *cxxEnv ? cxxEnv : "c++");
  if (!cxx)
    return mlir::emitError(loc)
           << "no C++ compiler found to link the trainer (set CXX or "
              "install g++)";
  // The step program is straight-line glue (views and kernel calls): -O1
  // runs it as fast as -O2, and compiles a long one several times faster
  // (a 48-step unrolled RNN: 3.1 against 10.1 s).
  std::vector<std::string> args = {*cxx,
                                   "-std=c++17",
                                   "-O1",
                                   "-I" + runtime.include,
                                   "-I" + std::string(KILN_HALIDE_INCLUDE_DIR),
                                   "-I" + dir.str().str(),
                                   stepPath};
  args.insert(args.end(), objects->begin(), objects->end());
  args.insert(args.end(), {runtime.library, "-lz", "-lpthread", "-ldl", "-o",
                           options.output});
  std::vector<llvm::StringRef> argRefs(args.begin(), args.end());
  std::string message;
  std::string log = (dir + "/link.log").str();
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log, log};
  int rc = llvm::sys::ExecuteAndWait(*cxx, argRefs, std::nullopt, redirects,
                                     0, 0, &message);
  if (rc != 0) {
    auto text = llvm::MemoryBuffer::getFile(log);
    cleanup.keep = true;
    return mlir::emitError(loc)
           << "the C++ compiler failed to build the trainer (" << *cxx
           << ", exit " << rc << (message.empty() ? "" : ": " + message)
           << "); build directory kept at " << dir << ":\n"
           << (text ? (*text)->getBuffer() : llvm::StringRef());
  }
  double total = secondsSince(start);
  llvm::errs() << llvm::format(
      "kiln: built %s in %.1f s (%zu kernels%s; lowering %.1f s, Halide/LLVM "
      "%.1f s, C++ compile and link %.1f s)\n",
      options.output.c_str(), total, kernels->size(),
      gpuKernels ? (" for the CPU and " + options.gpu).c_str() : "", lowered,
      halide,
      total - lowered - halide);
  if (options.keepTemps)
    llvm::errs() << "kiln: build directory kept at " << dir << "\n";
  return mlir::success();
}
