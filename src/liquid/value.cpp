#include "liquid/value.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "liquid/text.hpp"

namespace xoal::liquid::detail {

bool IsNumber(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

double AsDouble(const json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return v.get_double();
}

std::string FormatFloat(double d) {
  if (std::isnan(d)) {
    return "NaN";
  }
  if (std::isinf(d)) {
    return d > 0 ? "Infinity" : "-Infinity";
  }
  if (d == 0) {
    return std::signbit(d) ? "-0.0" : "0.0";
  }
  // Shortest round-trip digits, then laid out the way Ruby does: fixed notation for exponents in
  // [-4, 16), scientific ("1.0e+16") outside it; always at least one digit after the point.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  bool negative = sci.front() == '-';
  if (negative) {
    sci.remove_prefix(1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') {
      digits.push_back(c);
    }
  }
  int exp = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  std::string out = negative ? "-" : "";
  if (exp >= 16 || exp < -4) {
    out += digits.substr(0, 1);
    out += '.';
    out += digits.size() > 1 ? digits.substr(1) : "0";
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
    return out;
  }
  if (exp < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out += digits;
    return out;
  }
  size_t int_len = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_len) {
    out += digits;
    out.append(int_len - digits.size(), '0');
    out += ".0";
  } else {
    out += digits.substr(0, int_len);
    out += '.';
    out += digits.substr(int_len);
  }
  return out;
}

void AppendString(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_int64());
      out.append(buf, r.ptr);
      return;
    }
    case json::kind::uint64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_uint64());
      out.append(buf, r.ptr);
      return;
    }
    case json::kind::double_:
      out += FormatFloat(v.get_double());
      return;
    case json::kind::string:
      out.append(v.get_string().data(), v.get_string().size());
      return;
    case json::kind::array:
      for (const auto& item : v.get_array()) {
        AppendString(out, item);
      }
      return;
    case json::kind::object:
      out += json::serialize(v);
      return;
  }
}

std::string ToString(const json::value& v) {
  if (v.is_string()) {
    return std::string(v.get_string());
  }
  std::string out;
  AppendString(out, v);
  return out;
}

bool JsonEqual(const json::value& a, const json::value& b) {
  if (IsNumber(a) && IsNumber(b)) {
    if (a.is_double() || b.is_double()) {
      return AsDouble(a) == AsDouble(b);
    }
    if (a.is_int64() && b.is_int64()) {
      return a.get_int64() == b.get_int64();
    }
    return a == b;
  }
  if (a.kind() != b.kind()) {
    return false;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) {
      return false;
    }
    for (size_t i = 0; i < x.size(); ++i) {
      if (!JsonEqual(x[i], y[i])) {
        return false;
      }
    }
    return true;
  }
  return a == b;
}

namespace {

bool IsEmptyValue(const json::value& v) {
  return (v.is_string() && v.get_string().empty()) || (v.is_array() && v.get_array().empty()) ||
         (v.is_object() && v.get_object().empty());
}

bool IsBlankValue(const json::value& v) {
  if (v.is_string()) {
    for (char c : v.get_string()) {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') {
        return false;
      }
    }
    return true;
  }
  return !IsTruthy(v) || IsEmptyValue(v);
}

}  // namespace

bool ValuesEqual(const Val& a, const Val& b) {
  if (a.special() != Val::Special::kNone && b.special() != Val::Special::kNone) {
    return false;
  }
  const Val& special = a.special() != Val::Special::kNone ? a : b;
  const Val& other = a.special() != Val::Special::kNone ? b : a;
  if (special.special() == Val::Special::kEmpty) {
    return IsEmptyValue(other.get());
  }
  if (special.special() == Val::Special::kBlank) {
    return IsBlankValue(other.get());
  }
  return JsonEqual(a.get(), b.get());
}

std::optional<int> Compare(const json::value& a, const json::value& b) {
  if (IsNumber(a) && IsNumber(b)) {
    if (a.is_int64() && b.is_int64()) {
      int64_t x = a.get_int64();
      int64_t y = b.get_int64();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    double x = AsDouble(a);
    double y = AsDouble(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.get_string().subview().compare(b.get_string().subview());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

namespace {

bool IsDecimalString(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  size_t int_start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
  }
  if (i == int_start || i >= s.size() || s[i] != '.') {
    return false;
  }
  size_t frac_start = ++i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
  }
  return i > frac_start && i == s.size();
}

}  // namespace

json::value ToNumber(const json::value& v) {
  if (IsNumber(v)) {
    return v;
  }
  if (!v.is_string()) {
    return 0;
  }
  std::string_view s = Trim(v.get_string().subview());
  if (IsDecimalString(s)) {
    double d = 0;
    std::from_chars(s.data(), s.data() + s.size(), d);
    return d;
  }
  // Ruby's String#to_i: an optional sign and the leading digits; "12abc" is 12, "abc" is 0.
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    negative = s[i] == '-';
    ++i;
  }
  int64_t value = 0;
  auto r = std::from_chars(s.data() + i, s.data() + s.size(), value);
  if (r.ec != std::errc()) {
    return 0;
  }
  return negative ? -value : value;
}

std::optional<int64_t> ToInteger(const json::value& v, bool allow_float) {
  if (v.is_int64()) {
    return v.get_int64();
  }
  if (v.is_uint64()) {
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    if (!allow_float) {
      return std::nullopt;
    }
    return static_cast<int64_t>(v.get_double());
  }
  if (v.is_string()) {
    std::string_view s = Trim(v.get_string().subview());
    int64_t out = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size()) {
      return out;
    }
    if (allow_float && IsDecimalString(s)) {
      double d = 0;
      std::from_chars(s.data(), s.data() + s.size(), d);
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

int64_t SizeOf(const json::value& v) {
  if (v.is_string()) {
    return static_cast<int64_t>(Utf8Length(v.get_string().subview()));
  }
  if (v.is_array()) {
    return static_cast<int64_t>(v.get_array().size());
  }
  if (v.is_object()) {
    return static_cast<int64_t>(v.get_object().size());
  }
  return 0;
}

}  // namespace xoal::liquid::detail
