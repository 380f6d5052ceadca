//===- IsolationTest.cpp - MLIR 19 and Halide 14 in one process -*- C++ -*-===//
//
// Part of kiln. Regression test for the two-LLVM setup (docs/architecture.md,
// "Two LLVMs in one process"): this binary holds MLIR 19 statically, calls
// LLVM 19 in libLLVM.so.19.1 (symbol version LLVM_19.1) and loads
// libHalide14.so, which brings libLLVM-14.so.1 (LLVM_14). The tests check
// that each side still works when the other has run (parse and verify nn IR,
// JIT and run a Halide pipeline, interleaved), that Halide errors arrive as
// C++ exceptions or through a custom JIT handler, and that the two LLVMs
// cannot bind to each other: the binary exports no LLVM or MLIR symbol, and
// every LLVM symbol this binary and libHalide14.so import names its version.
// Precondition: the build flags of the top-level CMakeLists.txt (hidden
// visibility, --exclude-libs,ALL, static MLIR libraries). Needs no GPU.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include "Halide.h"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr const char *kReluModule = R"mlir(
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = nn.relu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
)mlir";

/// The outcome of parsing, verifying and printing `source` in a fresh
/// context: the printed module, or the diagnostics that stopped it.
struct MlirResult {
  bool ok = false;
  std::string printed;
  std::string diagnostics;
};

MlirResult parseVerifyPrint(const char *source) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::func::FuncDialect, kiln::nn::NNDialect>();
  mlir::MLIRContext context(registry);
  MlirResult result;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    result.diagnostics += d.str() + "\n";
  });
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  if (!module || mlir::failed(mlir::verify(*module)))
    return result;
  llvm::raw_string_ostream os(result.printed);
  module->print(os);
  result.ok = true;
  return result;
}

/// Checks that `source` (kReluModule) parses, verifies, prints the relu and
/// prints the same text again after a round trip.
void expectReluRoundTrip(const char *source) {
  MlirResult first = parseVerifyPrint(source);
  ASSERT_TRUE(first.ok) << first.diagnostics;
  EXPECT_NE(first.printed.find("nn.relu %arg0 : tensor<4xf32>"),
            std::string::npos)
      << first.printed;
  MlirResult second = parseVerifyPrint(first.printed.c_str());
  ASSERT_TRUE(second.ok) << second.diagnostics;
  EXPECT_EQ(first.printed, second.printed);
}

/// JIT-compiles f(x) = x * scale + 1 (vectorized, so LLVM 14's X86 backend
/// emits vector code) and checks all `extent` values.
void expectHalideAffine(int scale, int extent) {
  Halide::Var x("x");
  Halide::Func f("affine");
  f(x) = x * scale + 1;
  f.vectorize(x, 8);
  Halide::Buffer<int32_t> out = f.realize({extent});
  ASSERT_EQ(out.width(), extent);
  for (int i = 0; i < extent; ++i)
    ASSERT_EQ(out(i), i * scale + 1) << "at x = " << i;
}

// Bit 15 of a .gnu.version entry marks a hidden version; the rest indexes it.
constexpr uint16_t kVersymIndexMask = 0x7fff;

/// One entry of an ELF object's dynamic symbol table.
struct DynamicSymbol {
  std::string name;
  bool defined = false;
  /// The symbol version ("LLVM_14"), empty when the symbol has none.
  std::string version;
};

/// The dynamic symbol table of the ELF64 file at `path`, each symbol with
/// its version from .gnu.version and .gnu.version_r/_d. Returns false when
/// the file cannot be read as ELF64 or has no dynamic symbol table.
bool readDynamicSymbols(const std::string &path,
                        std::vector<DynamicSymbol> &symbols) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> file((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  if (file.size() < sizeof(Elf64_Ehdr) ||
      std::memcmp(file.data(), ELFMAG, SELFMAG) != 0 ||
      file[EI_CLASS] != ELFCLASS64)
    return false;
  const char *base = file.data();
  const auto *ehdr = reinterpret_cast<const Elf64_Ehdr *>(base);
  if (ehdr->e_shoff + ehdr->e_shnum * sizeof(Elf64_Shdr) > file.size())
    return false;
  const auto *shdrs = reinterpret_cast<const Elf64_Shdr *>(base + ehdr->e_shoff);
  const Elf64_Shdr *dynsym = nullptr, *versym = nullptr;
  std::map<uint16_t, std::string> versionNames;
  for (int i = 0; i < ehdr->e_shnum; ++i) {
    const Elf64_Shdr &sh = shdrs[i];
    if (sh.sh_type == SHT_NOBITS)
      continue;
    if (sh.sh_offset + sh.sh_size > file.size() || sh.sh_link >= ehdr->e_shnum)
      return false;
    const char *strings = base + shdrs[sh.sh_link].sh_offset;
    if (sh.sh_type == SHT_DYNSYM) {
      dynsym = &sh;
    } else if (sh.sh_type == SHT_GNU_versym) {
      versym = &sh;
    } else if (sh.sh_type == SHT_GNU_verneed) {
      const char *p = base + sh.sh_offset;
      for (unsigned n = 0; n < sh.sh_info; ++n) {
        const auto *need = reinterpret_cast<const Elf64_Verneed *>(p);
        const char *q = p + need->vn_aux;
        for (unsigned a = 0; a < need->vn_cnt; ++a) {
          const auto *aux = reinterpret_cast<const Elf64_Vernaux *>(q);
          versionNames[aux->vna_other] = strings + aux->vna_name;
          q += aux->vna_next;
        }
        p += need->vn_next;
      }
    } else if (sh.sh_type == SHT_GNU_verdef) {
      const char *p = base + sh.sh_offset;
      for (unsigned n = 0; n < sh.sh_info; ++n) {
        const auto *def = reinterpret_cast<const Elf64_Verdef *>(p);
        const auto *aux = reinterpret_cast<const Elf64_Verdaux *>(p + def->vd_aux);
        if (!(def->vd_flags & VER_FLG_BASE))
          versionNames[def->vd_ndx] = strings + aux->vda_name;
        p += def->vd_next;
      }
    }
  }
  if (!dynsym)
    return false;
  const char *strings = base + shdrs[dynsym->sh_link].sh_offset;
  const auto *syms = reinterpret_cast<const Elf64_Sym *>(base + dynsym->sh_offset);
  const auto *versions =
      versym ? reinterpret_cast<const uint16_t *>(base + versym->sh_offset)
             : nullptr;
  for (size_t i = 1; i < dynsym->sh_size / sizeof(Elf64_Sym); ++i) {
    DynamicSymbol symbol;
    symbol.name = strings + syms[i].st_name;
    symbol.defined = syms[i].st_shndx != SHN_UNDEF;
    if (versions) {
      auto it = versionNames.find(versions[i] & kVersymIndexMask);
      if (it != versionNames.end())
        symbol.version = it->second;
    }
    symbols.push_back(std::move(symbol));
  }
  return true;
}

/// True for the (C++ or C API) symbols of LLVM and MLIR.
bool isLLVMOrMLIRSymbol(const std::string &name) {
  for (const char *prefix :
       {"_ZN4llvm", "_ZNK4llvm", "_ZN4mlir", "_ZNK4mlir", "LLVM", "mlir"})
    if (name.rfind(prefix, 0) == 0)
      return true;
  return false;
}

/// The file of the loaded object that holds `address`, or "".
std::string objectFile(const void *address) {
  Dl_info info;
  return dladdr(address, &info) && info.dli_fname ? info.dli_fname : "";
}

TEST(Isolation, MlirParsesVerifiesAndPrintsNNIR) {
  expectReluRoundTrip(kReluModule);
}

TEST(Isolation, MlirReportsInvalidNNIR) {
  // A result type the op's SameOperandsAndResultType trait rejects: the
  // verifier (LLVM 19 support code: diagnostics, string formatting) must run.
  MlirResult result = parseVerifyPrint(R"mlir(
    func.func @f(%x: tensor<4xf32>) -> tensor<8xf32> {
      %0 = "nn.relu"(%x) : (tensor<4xf32>) -> tensor<8xf32>
      return %0 : tensor<8xf32>
    }
  )mlir");
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.diagnostics.find("'nn.relu' op requires the same type"),
            std::string::npos)
      << result.diagnostics;
}

TEST(Isolation, HalideJitRunsPipeline) { expectHalideAffine(2, 64); }

TEST(Isolation, MlirAndHalideInterleaved) {
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    expectReluRoundTrip(kReluModule);
    expectHalideAffine(3 + round, 64);
    expectReluRoundTrip(kReluModule);
  }
}

TEST(Isolation, HalideCompileErrorBecomesMlirDiagnostic) {
  // What codegen/ does with every Halide error: catch it on the Halide side
  // of the boundary and report it as an MLIR diagnostic.
  ASSERT_TRUE(Halide::exceptions_enabled());
  mlir::MLIRContext context;
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str();
  });
  bool caught = false;
  try {
    Halide::Func undefined("never_defined");
    undefined.realize({4});
  } catch (const Halide::CompileError &e) {
    caught = true;
    mlir::emitError(mlir::UnknownLoc::get(&context)) << "halide: " << e.what();
  }
  ASSERT_TRUE(caught) << "realizing an undefined Func did not throw";
  EXPECT_NE(diagnostics.find("halide: "), std::string::npos) << diagnostics;
  EXPECT_NE(diagnostics.find("Can't realize undefined Func"),
            std::string::npos)
      << diagnostics;
}

TEST(Isolation, HalideRuntimeErrorThrows) {
  // The input buffer is smaller than the region the pipeline reads, so the
  // JIT-compiled code fails its bounds check at run time; with no custom
  // handler, Halide's JIT turns that into a Halide::RuntimeError.
  Halide::ImageParam in(Halide::Int(32), 1, "small_input");
  Halide::Var x("x");
  Halide::Func f("reads_past_input");
  f(x) = in(x) + 1;
  Halide::Buffer<int32_t> input(10);
  input.fill(0);
  in.set(input);
  try {
    f.realize({64});
    FAIL() << "reading past the input did not throw";
  } catch (const Halide::RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("small_input is accessed at 63"),
              std::string::npos)
        << e.what();
  }
}

std::string gHalideRuntimeError;

void recordHalideRuntimeError(Halide::JITUserContext *, const char *msg) {
  gHalideRuntimeError += msg;
}

TEST(Isolation, HalideRuntimeErrorReachesCustomHandler) {
  // A custom JIT error handler gets the message instead (and Halide 14 then
  // does not throw): the path codegen/ can use to attach it to a diagnostic.
  Halide::ImageParam in(Halide::Int(32), 1, "small_input");
  Halide::Var x("x");
  Halide::Func f("reads_past_input");
  f(x) = in(x) + 1;
  f.jit_handlers().custom_error = recordHalideRuntimeError;
  Halide::Buffer<int32_t> input(10);
  input.fill(0);
  in.set(input);
  gHalideRuntimeError.clear();
  f.realize({64});
  EXPECT_NE(gHalideRuntimeError.find("small_input is accessed at 63"),
            std::string::npos)
      << gHalideRuntimeError;
}

TEST(Isolation, BinaryExportsNoLLVMOrMLIRSymbols) {
  // MLIR is linked statically; an exported copy of one of its (or LLVM's)
  // symbols could be bound by another object in the process.
  std::vector<DynamicSymbol> symbols;
  ASSERT_TRUE(readDynamicSymbols("/proc/self/exe", symbols))
      << "cannot read the dynamic symbol table of /proc/self/exe";
  ASSERT_FALSE(symbols.empty());
  for (const DynamicSymbol &symbol : symbols)
    EXPECT_FALSE(symbol.defined && isLLVMOrMLIRSymbol(symbol.name))
        << "this binary exports " << symbol.name;
}

TEST(Isolation, LLVMReferencesCarryTheirLLVMVersion) {
  // An unversioned reference binds to the first definition in load order,
  // and this binary loads libLLVM.so.19.1 before libHalide14.so's
  // libLLVM-14.so.1. So each side must ask for its own version.
  std::vector<DynamicSymbol> ours;
  ASSERT_TRUE(readDynamicSymbols("/proc/self/exe", ours));
  for (const DynamicSymbol &symbol : ours)
    if (!symbol.defined && isLLVMOrMLIRSymbol(symbol.name))
      EXPECT_EQ(symbol.version.rfind("LLVM_19", 0), 0u)
          << symbol.name << " is imported with version '" << symbol.version
          << "'";

  std::string halide =
      objectFile(reinterpret_cast<void *>(&Halide::exceptions_enabled));
  ASSERT_NE(halide.find("libHalide14"), std::string::npos) << halide;
  std::vector<DynamicSymbol> theirs;
  ASSERT_TRUE(readDynamicSymbols(halide, theirs)) << halide;
  int llvmImports = 0;
  for (const DynamicSymbol &symbol : theirs) {
    if (symbol.defined || !isLLVMOrMLIRSymbol(symbol.name))
      continue;
    ++llvmImports;
    EXPECT_EQ(symbol.version, "LLVM_14")
        << halide << " imports " << symbol.name;
  }
  EXPECT_GT(llvmImports, 0) << halide << " imports no LLVM symbol";
}

TEST(Isolation, EachLLVMResolvesToItsOwnCopy) {
  // Both LLVMs define llvm::errs(); the process holds one of each version,
  // in different libraries, and the one this binary calls is LLVM 19's.
  constexpr const char *kErrs = "_ZN4llvm4errsEv";
  void *errs14 = dlvsym(RTLD_DEFAULT, kErrs, "LLVM_14");
  void *errs19 = dlvsym(RTLD_DEFAULT, kErrs, "LLVM_19.1");
  ASSERT_NE(errs14, nullptr) << "no LLVM 14 in the process: " << dlerror();
  ASSERT_NE(errs19, nullptr) << "no LLVM 19.1 in the process: " << dlerror();
  EXPECT_NE(errs14, errs19);
  EXPECT_NE(objectFile(errs14).find("libLLVM-14.so"), std::string::npos)
      << objectFile(errs14);
  EXPECT_NE(objectFile(errs19).find("libLLVM.so.19"), std::string::npos)
      << objectFile(errs19);
  llvm::raw_fd_ostream &(*ownErrs)() = &llvm::errs;
  EXPECT_EQ(reinterpret_cast<void *>(ownErrs), errs19);
}

} // namespace
