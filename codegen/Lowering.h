//===- Lowering.h - nn ops as Halide functions ------------------*- C++ -*-===//
//
// Part of kiln. The per-op half of code generation: a rule per nn op that
// defines the op's results as Halide Funcs of its operands' Funcs. Rules
// only define values (the algorithm); schedules live in Schedule.cpp, and
// Kernels.cpp turns a group of lowered ops into one AOT-compiled pipeline.
//
// Tensors are indexed in MLIR's row-major dimension order (`t({n, c, h, w})`);
// Tensor reverses the indices into Halide's innermost-first order, so rules
// read like the math in the op descriptions. Every extent is an Expr: a
// constant for static dimensions, the kernel's `dyn` parameter for the
// dynamic (batch) one. Semantics follow the reference evaluator in
// tools/kiln-run, which the compiled code is tested against.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_LOWERING_H
#define KILN_CODEGEN_LOWERING_H

#include "Halide.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringMap.h"

#include <map>
#include <string>
#include <vector>

namespace kiln::codegen {

/// A tensor value inside a kernel.
struct Tensor {
  Halide::Func func;
  std::vector<Halide::Expr> shape; ///< MLIR order
  Halide::Type type;

  int rank() const { return static_cast<int>(shape.size()); }
  /// The element at `index` (MLIR order).
  Halide::Expr operator()(const std::vector<Halide::Expr> &index) const;
  /// The product of the extents.
  Halide::Expr numel() const;
};

/// Fresh pure variables for a Func of `rank` dimensions, MLIR order.
std::vector<Halide::Var> makeVars(int rank, const std::string &prefix = "i");

/// Halide's argument order (innermost first) of MLIR-order `vars`.
std::vector<Halide::Var> halideOrder(const std::vector<Halide::Var> &vars);

/// Defines `f(vars) = value` with `vars` in MLIR order.
void define(Halide::Func &f, const std::vector<Halide::Var> &vars,
            const Halide::Expr &value);

/// What a rule sees of one op: its operands as Tensors and the shapes its
/// results will have. The rule fills `results`.
struct OpLowering {
  mlir::Operation *op;
  std::vector<Tensor> operands;
  std::vector<std::vector<Halide::Expr>> resultShapes;
  std::vector<Tensor> results;
  /// Reductions the rule created, for the scheduler: each with the Func it
  /// updates and its RDom.
  std::vector<std::pair<Halide::Func, Halide::RDom>> reductions = {};
  /// The reductions whose RDom's first (innermost) dimensions walk the
  /// input's contiguous memory, by name, with how many of its dimensions do
  /// (1 for a row sum; 2 for a sum over whole h x w planes): the scheduler
  /// vectorizes those along the RDom (rfactor) rather than along their few
  /// kept elements.
  std::map<std::string, int> contiguousReductions;
  /// Intermediate Funcs worth storing rather than recomputing at each use
  /// (a transposed operand, a row maximum): the scheduler computes them
  /// once per kernel call, before the results.
  std::vector<Halide::Func> staged;

  /// A new result Tensor named after the op, of `resultShapes[i]`.
  Tensor &result(unsigned i, Halide::Type type);
};

using LowerRule = mlir::LogicalResult (*)(OpLowering &);
using RuleTable = llvm::StringMap<LowerRule>;

/// Rules keyed by op name ("nn.add"), one registration function per file.
void addElementwiseRules(RuleTable &rules);
void addLinalgRules(RuleTable &rules);
void addReduceRules(RuleTable &rules);
void addNetworkRules(RuleTable &rules);

/// Whether the op named `name` computes each result element from the
/// operand elements at the same index alone (broadcasting aside).
bool isElementwise(llvm::StringRef name);

/// Every rule.
const RuleTable &loweringRules();

/// `x` cast to f32 (or kept when already).
Halide::Expr f32(Halide::Expr x);

/// exp, log, max and min that give NaN for a NaN operand, as PyTorch's do,
/// so a NaN inside the network reaches the loss and stops training. Halide's
/// own map NaN to 0 (its polynomial exp) or 89 (log), and its max and min
/// return the other operand.
Halide::Expr expNaN(Halide::Expr x);
Halide::Expr logNaN(Halide::Expr x);
Halide::Expr maxNaN(Halide::Expr a, Halide::Expr b);
Halide::Expr minNaN(Halide::Expr a, Halide::Expr b);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_LOWERING_H
