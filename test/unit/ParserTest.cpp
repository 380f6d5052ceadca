//===- ParserTest.cpp - Unit tests for the kiln parser ----------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Precedence and associativity (checked by printing expressions back fully
// parenthesized), calls with keyword arguments, statements, layer naming,
// constant folding, and parse errors including the nesting bound.
//
//===----------------------------------------------------------------------===//

#include "FrontendTestUtil.h"

#include "frontend/Parser.h"

#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

using namespace kiln;
using namespace kiln::ast;
using kiln::test::model;
using kiln::test::Source;

namespace {

/// Writes an expression fully parenthesized, calls as name(args).
std::string sexpr(const Expr &e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto *i = llvm::dyn_cast<IntExpr>(&e))
    os << i->getValue();
  else if (auto *f = llvm::dyn_cast<FloatExpr>(&e))
    os << f->getSpelling();
  else if (auto *id = llvm::dyn_cast<IdentExpr>(&e))
    os << id->getName();
  else if (auto *str = llvm::dyn_cast<StringExpr>(&e))
    os << '"' << str->getValue() << '"';
  else if (auto *b = llvm::dyn_cast<BoolExpr>(&e))
    os << (b->getValue() ? "true" : "false");
  else if (auto *u = llvm::dyn_cast<UnaryExpr>(&e))
    os << "(-" << sexpr(u->getOperand()) << ")";
  else if (auto *bin = llvm::dyn_cast<BinaryExpr>(&e))
    os << "(" << sexpr(bin->getLHS()) << " " << spell(bin->getOp()) << " "
       << sexpr(bin->getRHS()) << ")";
  else if (auto *l = llvm::dyn_cast<ListExpr>(&e)) {
    os << "[";
    for (size_t i = 0; i < l->getElements().size(); ++i)
      os << (i ? ", " : "") << sexpr(*l->getElements()[i]);
    os << "]";
  } else if (auto *c = llvm::dyn_cast<CallExpr>(&e)) {
    os << c->getCallee() << "(";
    for (size_t i = 0; i < c->getArgs().size(); ++i) {
      const Arg &a = c->getArgs()[i];
      os << (i ? ", " : "") << (a.isKeyword() ? a.name + "=" : "")
         << sexpr(*a.value);
    }
    os << ")";
  }
  return os.str();
}

/// Parses `h = <text>` and returns the binding's value as an s-expression.
std::string parseExpr(llvm::StringRef text) {
  Source src(("model m {\n  h = " + text + "\n}\n").str());
  std::unique_ptr<File> file = src.parse();
  if (!file)
    return "error: " + (src.diags().empty() ? "" : src.diags()[0]);
  return sexpr(llvm::cast<LetStmt>(*file->model.body[0]).getValue());
}

TEST(Parser, Precedence) {
  EXPECT_EQ(parseExpr("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(parseExpr("a * b + c"), "((a * b) + c)");
  EXPECT_EQ(parseExpr("a @ b + c"), "((a @ b) + c)");
  EXPECT_EQ(parseExpr("a + b @ c / d"), "(a + ((b @ c) / d))");
  EXPECT_EQ(parseExpr("(a + b) * c"), "((a + b) * c)");
  EXPECT_EQ(parseExpr("-a * b"), "((-a) * b)");
}

TEST(Parser, Associativity) {
  EXPECT_EQ(parseExpr("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(parseExpr("a / b / c"), "((a / b) / c)");
  EXPECT_EQ(parseExpr("a @ b @ c"), "((a @ b) @ c)");
  // ** is right-associative and binds tighter than a unary minus on its
  // left, as in Python.
  EXPECT_EQ(parseExpr("a ** b ** c"), "(a ** (b ** c))");
  EXPECT_EQ(parseExpr("-a ** 2"), "(-(a ** 2))");
  EXPECT_EQ(parseExpr("a ** -b"), "(a ** (-b))");
  EXPECT_EQ(parseExpr("--a"), "(-(-a))");
}

TEST(Parser, CallsListsAndLiterals) {
  EXPECT_EQ(parseExpr("dense(x, 10, bias=false, init=normal(std=0.02))"),
            "dense(x, 10, bias=false, init=normal(std=0.02))");
  EXPECT_EQ(parseExpr("f()"), "f()");
  EXPECT_EQ(parseExpr("f(a,)"), "f(a)");
  EXPECT_EQ(parseExpr("reshape(x, [B, 4 * 4])"), "reshape(x, [B, (4 * 4)])");
  EXPECT_EQ(parseExpr("concat([a, b], axis=1)"), "concat([a, b], axis=1)");
  EXPECT_EQ(parseExpr("g(\"s\", true, 1e-3)"), "g(\"s\", true, 1e-3)");
  // A keyword's name may equal a positional identifier's.
  EXPECT_EQ(parseExpr("f(x, x=x)"), "f(x, x=x)");
}

TEST(Parser, Statements) {
  Source src("model m {\n"
             "  input x: f32[B, 1, 28, 28]; target y: i64[B]\n"
             "  param w: f32[3] = ones() frozen\n"
             "  h = relu(x)\n"
             "  freeze w, h2\n"
             "  loss mse(h, y)\n"
             "  predict h\n"
             "}\n"
             "train { batch = 3 }\n");
  std::unique_ptr<File> file = src.parse();
  ASSERT_TRUE(file) << src.diags()[0];
  EXPECT_EQ(file->model.name, "m");
  ASSERT_EQ(file->model.body.size(), 7u);
  auto &input = llvm::cast<InputStmt>(*file->model.body[0]);
  EXPECT_FALSE(input.isTarget());
  EXPECT_EQ(input.getType().dims.size(), 4u);
  EXPECT_EQ(input.getType().dims[0].symbol, "B");
  EXPECT_EQ(input.getType().dims[3].size, 28);
  EXPECT_EQ(src.pos(input.getLoc()), "2:3");
  auto &target = llvm::cast<InputStmt>(*file->model.body[1]);
  EXPECT_TRUE(target.isTarget());
  EXPECT_EQ(target.getType().elementType, ElementType::I64);
  EXPECT_EQ(src.pos(target.getLoc()), "2:31");
  auto &param = llvm::cast<ParamStmt>(*file->model.body[2]);
  EXPECT_TRUE(param.isFrozen());
  EXPECT_EQ(sexpr(param.getInit()), "ones()");
  auto &freeze = llvm::cast<FreezeStmt>(*file->model.body[4]);
  ASSERT_EQ(freeze.getNames().size(), 2u);
  EXPECT_EQ(freeze.getNames()[1].name, "h2");
  EXPECT_EQ(file->model.body[5]->getKind(), Stmt::Kind::Loss);
  EXPECT_EQ(file->model.body[6]->getKind(), Stmt::Kind::Predict);
  ASSERT_TRUE(file->train);
  ASSERT_TRUE(file->train->get("batch"));
  EXPECT_EQ(sexpr(*file->train->get("batch")->value), "3");
}

TEST(Parser, LayerNames) {
  Source src(model("  fc = dense(x, 4)\n"
                   "  h = relu(dense(fc, 4)) + dense(fc, 4, name=\"side\")\n"
                   "  n = dense(conv2d(h, 2, 1), 3, name=\"head\")\n"
                   "  loss mse(n, y)"));
  std::unique_ptr<File> file = src.parse();
  ASSERT_TRUE(file);
  auto layerOf = [&](size_t stmt) -> const Expr & {
    return llvm::cast<LetStmt>(*file->model.body[stmt]).getValue();
  };
  auto &fc = llvm::cast<CallExpr>(layerOf(2));
  EXPECT_EQ(fc.getLayerName(), "fc");
  auto &sum = llvm::cast<BinaryExpr>(layerOf(3));
  auto &relu = llvm::cast<CallExpr>(sum.getLHS());
  EXPECT_EQ(relu.getLayerName(), "");
  EXPECT_EQ(llvm::cast<CallExpr>(*relu.getArgs()[0].value).getLayerName(),
            "dense2");
  EXPECT_EQ(llvm::cast<CallExpr>(sum.getRHS()).getLayerName(), "side");
  auto &head = llvm::cast<CallExpr>(layerOf(4));
  EXPECT_EQ(head.getLayerName(), "head");
  EXPECT_EQ(llvm::cast<CallExpr>(*head.getArgs()[0].value).getLayerName(),
            "conv2d1");
}

TEST(Parser, ConstantFolding) {
  auto fold = [](llvm::StringRef text) -> std::string {
    Source src(("model m {\n  h = " + text + "\n}\n").str());
    std::unique_ptr<File> file = src.parse();
    if (!file)
      return "parse error";
    auto c = evalConstant(llvm::cast<LetStmt>(*file->model.body[0]).getValue());
    if (!c)
      return "none";
    return c->isInt ? "int " + std::to_string(c->i)
                    : "float " + std::to_string(c->f);
  };
  EXPECT_EQ(fold("64 * 6 * 6"), "int 2304");
  EXPECT_EQ(fold("1 / 4"), "float 0.250000");
  EXPECT_EQ(fold("2 ** 10"), "int 1024");
  EXPECT_EQ(fold("2 ** -1"), "float 0.500000");
  EXPECT_EQ(fold("-(3 - 5)"), "int 2");
  EXPECT_EQ(fold("1 / 0"), "none");
  EXPECT_EQ(fold("9223372036854775807 + 1"), "none");
  EXPECT_EQ(fold("x + 1"), "none");
}

struct ParseError {
  const char *text;
  const char *diag;
};

class ParserErrors : public ::testing::TestWithParam<ParseError> {};

TEST_P(ParserErrors, StopsWithLocatedError) {
  Source src(GetParam().text);
  EXPECT_FALSE(src.parse());
  ASSERT_FALSE(src.diags().empty());
  EXPECT_EQ(src.diags()[0], GetParam().diag);
}

INSTANTIATE_TEST_SUITE_P(
    All, ParserErrors,
    ::testing::Values(
        ParseError{"", "1:1: error: expected a 'model' block, found end of "
                       "file"},
        ParseError{"model m {\n  h = dense(x, 3\n}\n",
                   "3:1: error: expected ',' or ')' to close call to 'dense', "
                   "found '}'"},
        ParseError{"model m {\n  h = [1, 2\n}\n",
                   "3:1: error: expected ',' or ']' to close the list, found "
                   "'}'"},
        ParseError{"model m {\n  h = (x\n}\n",
                   "3:1: error: expected ')' to close '(' at 2:7, found '}'"},
        ParseError{"model m {\n  h = x +\n}\n",
                   "2:10: error: expected expression, found newline"},
        ParseError{"model m {\n  h = f(a=)\n}\n",
                   "2:11: error: expected expression, found ')'"},
        ParseError{"model m {\n  input x f32[B]\n}\n",
                   "2:11: error: expected ':' and a type after input 'x', "
                   "found 'f32'"},
        ParseError{"model m {\n  h = 1 2\n}\n",
                   "2:9: error: expected newline or ';' after statement, "
                   "found '2'"},
        ParseError{"model m { }\nmodel n { }\n",
                   "2:1: error: only one 'model' block is allowed in a file"},
        ParseError{"model m {\n  model = 1\n}\n",
                   "2:3: error: 'model' is a reserved word and cannot name "
                   "a value; choose another name"}));

TEST(Parser, NestingIsBounded) {
  for (const char *open : {"(", "-", "[", "f("}) {
    std::string deep = "model m {\n  h = ";
    for (int i = 0; i < 100000; ++i)
      deep += open;
    Source src(deep);
    EXPECT_FALSE(src.parse());
    ASSERT_FALSE(src.diags().empty());
    EXPECT_NE(src.diags()[0].find("expression nested too deeply"),
              std::string::npos)
        << open;
  }
  // Long flat chains build deep trees too; they are bounded the same way.
  std::string chain = "model m {\n  h = x";
  for (int i = 0; i < 100000; ++i)
    chain += " + x";
  Source src(chain + "\n}\n");
  EXPECT_FALSE(src.parse());
  ASSERT_FALSE(src.diags().empty());
  EXPECT_NE(src.diags()[0].find("expression nested too deeply"),
            std::string::npos);
}

TEST(Parser, NestingUpToTheLimitIsAccepted) {
  std::string text = "model m {\n  h = ";
  for (int i = 0; i < 100; ++i)
    text += "(";
  text += "x";
  for (int i = 0; i < 100; ++i)
    text += ")";
  Source src(text + "\n}\n");
  EXPECT_TRUE(src.parse());
}

} // namespace
