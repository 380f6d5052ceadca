//===- LowerLinalg.cpp - matmul and transpose as Halide ---------*- C++ -*-===//
//
// Part of kiln. nn.matmul (rank 2, or rank 3 batched over the leading
// dimension; `transpose_a`/`transpose_b` read an operand with its last two
// dimensions swapped) as a sum over k into an accumulator Func the scheduler
// register-blocks; nn.transpose as an index permutation.
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"
#include "ir/NNDialect.h"

using namespace kiln::codegen;
using Halide::Expr;
using Halide::Var;

namespace {

mlir::LogicalResult lowerMatmul(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::MatmulOp>(l.op);
  const Tensor &a = l.operands[0], &b = l.operands[1];
  bool ta = op.getTransposeA(), tb = op.getTransposeB();
  int rank = a.rank();
  Expr k = ta ? a.shape[rank - 2] : a.shape[rank - 1];
  Halide::RDom r(0, k, "k");

  Tensor &out = l.result(0, Halide::Float(32));
  std::vector<Var> v = makeVars(rank);
  Var i = v[rank - 2], j = v[rank - 1];
  std::vector<Expr> lead(v.begin(), v.end() - 2);
  auto at = [&](Expr row, Expr col) {
    std::vector<Expr> index = lead;
    index.push_back(row);
    index.push_back(col);
    return index;
  };
  // Rows are read clamped into range, so the scheduler may compute whole
  // row tiles past a batch that is not a multiple of the tile (the extra
  // rows are never stored).
  Expr rows = ta ? a.shape[rank - 1] : a.shape[rank - 2];
  Expr row = Halide::clamp(i, 0, rows - 1);
  Expr lhs = ta ? a(at(r.x, row)) : a(at(row, r.x));
  Expr rhs;
  if (tb) {
    // Reading b[j, k] with j innermost strides by k; a transposed copy,
    // stored once per call, keeps the inner loop's loads contiguous.
    Halide::Func bt("rhs_transposed");
    std::vector<Var> tv = makeVars(rank, "t");
    std::vector<Expr> src(tv.begin(), tv.end() - 2);
    src.push_back(tv[rank - 1]);
    src.push_back(tv[rank - 2]);
    define(bt, tv, b(src));
    l.staged.push_back(bt);
    Tensor btT{bt, {}, Halide::Float(32)};
    btT.shape.assign(rank, Expr(0));
    rhs = btT(at(r.x, j));
  } else {
    rhs = b(at(r.x, j));
  }
  Halide::Func acc("matmul_acc");
  std::vector<Var> order = halideOrder(v);
  acc(order) = 0.0f;
  acc(order) += lhs * rhs;
  l.reductions.push_back({acc, r});
  out.func(order) = acc(order);
  return mlir::success();
}

mlir::LogicalResult lowerTranspose(OpLowering &l) {
  auto op = llvm::cast<kiln::nn::TransposeOp>(l.op);
  Tensor &out = l.result(0, l.operands[0].type);
  std::vector<Var> v = makeVars(out.rank());
  std::vector<Expr> src(out.rank());
  // result dimension d is input dimension perm[d]
  llvm::ArrayRef<int64_t> perm = op.getPerm();
  for (int d = 0; d < out.rank(); ++d)
    src[perm[d]] = v[d];
  define(out.func, v, l.operands[0](src));
  return mlir::success();
}

} // namespace

void kiln::codegen::addLinalgRules(RuleTable &rules) {
  rules["nn.matmul"] = lowerMatmul;
  rules["nn.transpose"] = lowerTranspose;
}
