//===- GradientCases.h - random instances of differentiable ops -*- C++ -*-===//
//
// Part of kiln. For each nn op with a gradient rule, a maker that draws a
// random valid instance: operand shapes (small: dims 1..5, conv spatial
// 3..7) and attributes, operand values kept away from the op's kinks and
// domain edges, and a builder for the op. test/gradients/GradientTest.cpp
// checks each rule against central differences on these instances.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TEST_GRADIENTS_GRADIENTCASES_H
#define KILN_TEST_GRADIENTS_GRADIENTCASES_H

#include "tools/kiln-run/Evaluator.h"

#include "mlir/IR/Builders.h"

#include <functional>
#include <map>
#include <string>

namespace kiln::test {

/// Deterministic random numbers from kiln's counter-based generator.
class Rng {
public:
  explicit Rng(uint64_t seed);
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi);
  /// Uniform integer in [lo, hi].
  int64_t range(int64_t lo, int64_t hi);
  bool coin() { return range(0, 1) == 1; }

private:
  uint64_t key, counter = 0;
};

/// What the rule must return for an operand.
enum class Expect {
  Checked, ///< a gradient, compared with finite differences
  None,    ///< null: integer operands, seeds, data the op does not
           ///< differentiate (targets of bce_with_logits)
  Zero,    ///< null, and the loss does not depend on it (piecewise-constant
           ///< ops, shape-only operands): finite differences must be 0
};

struct Operand {
  eval::Tensor value;
  Expect expect;
};

/// One random instance of an op.
struct GradientCase {
  std::vector<Operand> operands;
  /// Builds the op on block arguments of the operands' types.
  std::function<mlir::Operation *(mlir::OpBuilder &, mlir::Location,
                                  mlir::ValueRange)>
      build;
  /// Results weighted into the loss (and given a gradient); empty: all.
  std::vector<unsigned> weightedResults;
};

using CaseMaker = std::function<GradientCase(Rng &)>;

/// Op name (e.g. "nn.conv2d") to its maker.
const std::map<std::string, CaseMaker> &gradientCases();

} // namespace kiln::test

#endif // KILN_TEST_GRADIENTS_GRADIENTCASES_H
