// Text helpers shared by the parser and the filters: whitespace trimming, and UTF-8 positions
// (Liquid counts characters, not bytes). Internal.
#pragma once

#include <cstddef>
#include <string_view>

namespace xoal::liquid::detail {

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

inline std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) {
    s.remove_prefix(1);
  }
  return s;
}

inline std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

inline std::string_view Trim(std::string_view s) { return TrimRight(TrimLeft(s)); }

inline bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Number of code points (malformed bytes count as one each).
inline size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    n += IsUtf8Continuation(c) ? 0 : 1;
  }
  return n;
}

// Byte offset of code point `index` (s.size() when past the end).
inline size_t Utf8Offset(std::string_view s, size_t index) {
  size_t i = 0;
  while (i < s.size() && index > 0) {
    ++i;
    while (i < s.size() && IsUtf8Continuation(s[i])) {
      ++i;
    }
    --index;
  }
  return i;
}

// The code points [start, start + count) of `s`.
inline std::string_view Utf8Substr(std::string_view s, size_t start, size_t count) {
  size_t b = Utf8Offset(s, start);
  size_t e = b + Utf8Offset(s.substr(b), count);
  return s.substr(b, e - b);
}

}  // namespace xoal::liquid::detail
