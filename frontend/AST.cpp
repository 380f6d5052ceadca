//===- AST.cpp - Abstract syntax tree of the kiln DSL -----------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Small AST helpers: keyword lookup, operator spellings and the constant
// folder that reads hyper-parameters such as `1/255` or `64*6*6`. The folder
// follows Python's arithmetic so a formula means what a PyTorch user expects.
//
//===----------------------------------------------------------------------===//

#include "frontend/AST.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace kiln;
using namespace kiln::ast;

const Arg *CallExpr::getKeyword(llvm::StringRef name) const {
  for (const Arg &arg : args)
    if (arg.name == name)
      return &arg;
  return nullptr;
}

llvm::StringRef ast::spell(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::MatMul:
    return "@";
  case BinaryOp::Pow:
    return "**";
  }
  llvm_unreachable("unknown binary operator");
}

llvm::StringRef ast::spell(ElementType type) {
  return type == ElementType::F32 ? "f32" : "i64";
}

const TrainEntry *Train::get(llvm::StringRef key) const {
  for (const TrainEntry &entry : entries)
    if (entry.key == key)
      return &entry;
  return nullptr;
}

static std::optional<Constant> makeInt(int64_t v) {
  return Constant{true, v, 0};
}
static std::optional<Constant> makeFloat(double v) {
  if (!std::isfinite(v))
    return std::nullopt;
  return Constant{false, 0, v};
}

/// Integer power by squaring; nullopt on overflow.
static std::optional<int64_t> intPow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1)
      if (llvm::MulOverflow(result, base, result))
        return std::nullopt;
    exp >>= 1;
    if (exp && llvm::MulOverflow(base, base, base))
      return std::nullopt;
  }
  return result;
}

std::optional<Constant> ast::evalConstant(const Expr &expr) {
  if (const auto *i = llvm::dyn_cast<IntExpr>(&expr))
    return makeInt(i->getValue());
  if (const auto *f = llvm::dyn_cast<FloatExpr>(&expr))
    return makeFloat(f->getValue());
  if (const auto *u = llvm::dyn_cast<UnaryExpr>(&expr)) {
    std::optional<Constant> v = evalConstant(u->getOperand());
    if (!v)
      return std::nullopt;
    if (!v->isInt)
      return makeFloat(-v->f);
    if (v->i == INT64_MIN)
      return std::nullopt;
    return makeInt(-v->i);
  }
  const auto *b = llvm::dyn_cast<BinaryExpr>(&expr);
  if (!b || b->getOp() == BinaryOp::MatMul)
    return std::nullopt;
  std::optional<Constant> l = evalConstant(b->getLHS());
  std::optional<Constant> r = evalConstant(b->getRHS());
  if (!l || !r)
    return std::nullopt;
  bool bothInt = l->isInt && r->isInt;
  int64_t out;
  switch (b->getOp()) {
  case BinaryOp::Add:
    if (bothInt)
      return llvm::AddOverflow(l->i, r->i, out) ? std::nullopt : makeInt(out);
    return makeFloat(l->asDouble() + r->asDouble());
  case BinaryOp::Sub:
    if (bothInt)
      return llvm::SubOverflow(l->i, r->i, out) ? std::nullopt : makeInt(out);
    return makeFloat(l->asDouble() - r->asDouble());
  case BinaryOp::Mul:
    if (bothInt)
      return llvm::MulOverflow(l->i, r->i, out) ? std::nullopt : makeInt(out);
    return makeFloat(l->asDouble() * r->asDouble());
  case BinaryOp::Div:
    // True division, as in Python 3: 1/255 is a float.
    if (r->asDouble() == 0)
      return std::nullopt;
    return makeFloat(l->asDouble() / r->asDouble());
  case BinaryOp::Pow:
    if (bothInt && r->i >= 0) {
      std::optional<int64_t> p = intPow(l->i, r->i);
      return p ? makeInt(*p) : std::nullopt;
    }
    if (l->asDouble() == 0 && r->asDouble() < 0)
      return std::nullopt;
    return makeFloat(std::pow(l->asDouble(), r->asDouble()));
  case BinaryOp::MatMul:
    break;
  }
  return std::nullopt;
}
