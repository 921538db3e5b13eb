// Splits the markup of one tag or output into tokens. Internal to src/liquid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xoal::liquid::detail {

enum class TokKind : uint8_t {
  kEnd,
  kIdent,   // foo, foo-bar, foo?  (also keywords: and, or, contains, true, nil, ...)
  kString,  // 'text' or "text", quotes removed; Liquid has no escapes
  kInt,
  kFloat,
  kDot,
  kDotDot,
  kLBracket,
  kRBracket,
  kLParen,
  kRParen,
  kPipe,
  kColon,
  kComma,
  kCompare,  // == != <> < > <= >=
  kAssign,   // = (only meaningful in `assign`)
};

struct Tok {
  TokKind kind = TokKind::kEnd;
  std::string_view text;  // for kString without the quotes
  size_t offset = 0;      // into the whole template source
};

struct LexError {
  size_t offset = 0;
  std::string message;
};

// Tokenizes `markup`, which starts at `base_offset` in the template source. The last token is
// always kEnd (at the end of the markup). On failure returns nullopt and fills `error`.
std::optional<std::vector<Tok>> Lex(std::string_view markup, size_t base_offset, LexError& error);

// [A-Za-z_][A-Za-z0-9_-]* followed by an optional '?': what Liquid accepts as a variable name.
bool IsIdentStart(char c);
bool IsIdentChar(char c);

}  // namespace xoal::liquid::detail
