#include "liquid/lexer.hpp"

#include <cctype>

#include "liquid/text.hpp"

namespace xoal::liquid::detail {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads -?\d+(\.\d+)? at `i`; a '.' not followed by a digit ends the number so that `(1..5)`
// lexes as a range.
size_t ScanNumber(std::string_view s, size_t i, bool& is_float) {
  size_t j = i;
  if (s[j] == '-') {
    ++j;
  }
  while (j < s.size() && IsDigit(s[j])) {
    ++j;
  }
  is_float = false;
  if (j + 1 < s.size() && s[j] == '.' && IsDigit(s[j + 1])) {
    is_float = true;
    j += 2;
    while (j < s.size() && IsDigit(s[j])) {
      ++j;
    }
  }
  return j;
}

}  // namespace

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c) || c == '-'; }

std::optional<std::vector<Tok>> Lex(std::string_view s, size_t base, LexError& error) {
  std::vector<Tok> out;
  size_t i = 0;
  auto push = [&](TokKind kind, size_t start, size_t end) {
    out.push_back(Tok{kind, s.substr(start, end - start), base + start});
  };
  while (i < s.size()) {
    char c = s[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    size_t start = i;
    if (IsIdentStart(c)) {
      while (i < s.size() && IsIdentChar(s[i])) {
        ++i;
      }
      if (i < s.size() && s[i] == '?') {
        ++i;
      }
      push(TokKind::kIdent, start, i);
    } else if (IsDigit(c) || (c == '-' && i + 1 < s.size() && IsDigit(s[i + 1]))) {
      bool is_float = false;
      i = ScanNumber(s, i, is_float);
      push(is_float ? TokKind::kFloat : TokKind::kInt, start, i);
    } else if (c == '\'' || c == '"') {
      size_t close = s.find(c, i + 1);
      if (close == std::string_view::npos) {
        error = {base + start, "unterminated string literal"};
        return std::nullopt;
      }
      out.push_back(Tok{TokKind::kString, s.substr(i + 1, close - i - 1), base + start});
      i = close + 1;
    } else if (c == '.') {
      bool dotdot = i + 1 < s.size() && s[i + 1] == '.';
      i += dotdot ? 2 : 1;
      push(dotdot ? TokKind::kDotDot : TokKind::kDot, start, i);
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      char n = i + 1 < s.size() ? s[i + 1] : '\0';
      bool two = n == '=' || (c == '<' && n == '>');
      if (c == '!' && !two) {
        error = {base + start, "unexpected character '!'"};
        return std::nullopt;
      }
      i += two ? 2 : 1;
      push(c == '=' && !two ? TokKind::kAssign : TokKind::kCompare, start, i);
    } else {
      TokKind kind;
      switch (c) {
        case '[':
          kind = TokKind::kLBracket;
          break;
        case ']':
          kind = TokKind::kRBracket;
          break;
        case '(':
          kind = TokKind::kLParen;
          break;
        case ')':
          kind = TokKind::kRParen;
          break;
        case '|':
          kind = TokKind::kPipe;
          break;
        case ':':
          kind = TokKind::kColon;
          break;
        case ',':
          kind = TokKind::kComma;
          break;
        default:
          error = {base + start, std::string("unexpected character '") + c + "'"};
          return std::nullopt;
      }
      ++i;
      push(kind, start, i);
    }
  }
  out.push_back(Tok{TokKind::kEnd, {}, base + s.size()});
  return out;
}

}  // namespace xoal::liquid::detail
