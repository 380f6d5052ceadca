//===- LexerTest.cpp - Unit tests for the kiln lexer ------------------------===//
//
// Part of the kiln project.
//
//===----------------------------------------------------------------------===//
//
// Every token kind, token locations, number and string values, newline
// handling inside brackets, and each lexical error.
//
//===----------------------------------------------------------------------===//

#include "FrontendTestUtil.h"

#include "frontend/Lexer.h"

#include "gtest/gtest.h"

using namespace kiln;
using kiln::test::Source;

namespace {

std::vector<Token> lexAll(Source &src) {
  Lexer lexer(src.mgr(), src.id());
  std::vector<Token> tokens;
  // Bounded: a lexer bug must fail the test, not hang it.
  for (int i = 0; i < 1000; ++i) {
    tokens.push_back(lexer.lex());
    if (tokens.back().is(TokenKind::Eof) || tokens.back().is(TokenKind::Error))
      break;
  }
  return tokens;
}

std::vector<TokenKind> kinds(const std::vector<Token> &tokens) {
  std::vector<TokenKind> out;
  for (const Token &t : tokens)
    out.push_back(t.kind);
  return out;
}

TEST(Lexer, EveryTokenKind) {
  Source src("model train input target param freeze frozen loss predict true "
             "false name_1 42 4.5 \"s\" { } ( ) [ ] , : ; = + - * ** / @\n");
  using K = TokenKind;
  std::vector<K> expected = {
      K::KwModel,  K::KwTrain,   K::KwInput,  K::KwTarget,     K::KwParam,
      K::KwFreeze, K::KwFrozen,  K::KwLoss,   K::KwPredict,    K::KwTrue,
      K::KwFalse,  K::Identifier, K::Integer, K::Float,        K::String,
      K::LBrace,   K::RBrace,    K::LParen,   K::RParen,       K::LSquare,
      K::RSquare,  K::Comma,     K::Colon,    K::Semicolon,    K::Equal,
      K::Plus,     K::Minus,     K::Star,     K::StarStar,     K::Slash,
      K::At,       K::Newline,   K::Eof};
  EXPECT_EQ(kinds(lexAll(src)), expected);
  EXPECT_TRUE(src.diags().empty());
}

TEST(Lexer, LocationsAreLineAndColumn) {
  Source src("model m {\n  h = relu(x)\n}");
  std::vector<Token> t = lexAll(src);
  ASSERT_GE(t.size(), 8u);
  EXPECT_EQ(src.pos(t[0].loc), "1:1");
  EXPECT_EQ(src.pos(t[1].loc), "1:7");
  EXPECT_EQ(t[4].text, "h");
  EXPECT_EQ(src.pos(t[4].loc), "2:3");
  EXPECT_EQ(t[6].text, "relu");
  EXPECT_EQ(src.pos(t[6].loc), "2:7");
}

TEST(Lexer, NumbersAndStrings) {
  Source src("0 9223372036854775807 1.5 2. 1e-3 3E+2 \"a\\\"b\\\\c\\nd\\te\"");
  std::vector<Token> t = lexAll(src);
  ASSERT_EQ(t.size(), 9u);
  EXPECT_EQ(t[0].intValue, 0);
  EXPECT_EQ(t[1].intValue, INT64_MAX);
  EXPECT_DOUBLE_EQ(t[2].floatValue, 1.5);
  EXPECT_DOUBLE_EQ(t[3].floatValue, 2.0);
  EXPECT_EQ(t[4].kind, TokenKind::Float);
  EXPECT_DOUBLE_EQ(t[4].floatValue, 1e-3);
  EXPECT_DOUBLE_EQ(t[5].floatValue, 300.0);
  EXPECT_EQ(t[6].stringValue, "a\"b\\c\nd\te");
}

TEST(Lexer, NewlinesEndStatementsOutsideBrackets) {
  // Blank lines and comments collapse into one Newline; inside ( ) and [ ]
  // newlines vanish; a missing final newline is supplied.
  Source src("a\n\n# note\nb(1,\n 2) [3,\n4]\nc");
  using K = TokenKind;
  std::vector<K> expected = {K::Identifier, K::Newline, K::Identifier,
                             K::LParen,     K::Integer, K::Comma,
                             K::Integer,    K::RParen,  K::LSquare,
                             K::Integer,    K::Comma,   K::Integer,
                             K::RSquare,    K::Newline, K::Identifier,
                             K::Newline,    K::Eof};
  EXPECT_EQ(kinds(lexAll(src)), expected);
}

struct LexError {
  const char *text;
  const char *diag;
};

class LexerErrors : public ::testing::TestWithParam<LexError> {};

TEST_P(LexerErrors, ReportsLocatedError) {
  Source src(GetParam().text);
  std::vector<Token> t = lexAll(src);
  EXPECT_EQ(t.back().kind, TokenKind::Error);
  ASSERT_EQ(src.diags().size(), 1u);
  EXPECT_EQ(src.diags()[0], GetParam().diag);
  // After an error the lexer only yields end of input.
  Lexer lexer(src.mgr(), src.id());
  for (int i = 0; i < 100; ++i)
    if (lexer.lex().is(TokenKind::Eof))
      return;
  FAIL() << "lexer did not reach Eof";
}

INSTANTIATE_TEST_SUITE_P(
    All, LexerErrors,
    ::testing::Values(
        LexError{"a $", "1:3: error: unexpected character '$'"},
        LexError{"a \xc3\xa9", "1:3: error: unexpected character '\\xc3'"},
        LexError{"a\n\x01", "2:1: error: unexpected character '\\x01'"},
        LexError{"\"abc", "1:1: error: unterminated string literal"},
        LexError{"\"ab\nc\"", "1:1: error: unterminated string literal"},
        LexError{"\"a\\q\"", "1:3: error: unknown escape sequence '\\q' in "
                             "string; expected \\\", \\\\, \\n or \\t"},
        LexError{"99999999999999999999",
                 "1:1: error: integer literal '99999999999999999999' does "
                 "not fit in a signed 64-bit integer"},
        LexError{"1e999", "1:1: error: number '1e999' is out of range"},
        LexError{"1e+", "1:4: error: expected digits in the exponent of "
                        "number '1e+'"},
        LexError{"28x28", "1:3: error: unexpected 'x' after number '28'"},
        LexError{"1.2.3", "1:4: error: unexpected '.' after number '1.2'"}));

TEST(Lexer, EmbeddedNulIsAnError) {
  Source src(llvm::StringRef("a\0b", 3));
  lexAll(src);
  ASSERT_EQ(src.diags().size(), 1u);
  EXPECT_EQ(src.diags()[0], "1:2: error: unexpected character '\\x00'");
}

} // namespace
