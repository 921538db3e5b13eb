// The standard filters, following Shopify's Liquid (lib/liquid/standardfilters.rb) in behaviour:
// which inputs are coerced, which are errors, and what a filter returns for nil.
#include "liquid/filters.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <unordered_set>

#include "liquid/text.hpp"

namespace xoal::liquid::detail {
namespace {

// ---- shared helpers -------------------------------------------------------------------------

std::string Str(const Val& v) { return ToString(v.get()); }

// Shopify's InputIterator as a view: arrays flattened, a hash as a one-item list, nil as empty,
// anything else as a one-item list. The pointers are into `v`, valid while it lives.
using Items = std::vector<const json::value*>;

void Flatten(const json::value& v, Items& out) {
  for (const auto& item : v.get_array()) {
    if (item.is_array()) {
      Flatten(item, out);
    } else {
      out.push_back(&item);
    }
  }
}

Items AsList(const json::value& v) {
  Items out;
  if (v.is_array()) {
    out.reserve(v.get_array().size());
    Flatten(v, out);
  } else if (!v.is_null()) {
    out.push_back(&v);
  }
  return out;
}

// Shopify's Liquid does float arithmetic in decimal (BigDecimal), so 0.1 + 0.2 is 0.3. We do the
// same exactly while the operands' shortest decimal forms fit in 64-bit integers, and fall back
// to binary doubles beyond that.
struct Decimal {
  int64_t mantissa = 0;
  int scale = 0;  // value = mantissa * 10^-scale
};

bool MulPow10(int64_t& v, int n) {
  for (int i = 0; i < n; ++i) {
    if (__builtin_mul_overflow(v, int64_t{10}, &v)) {
      return false;
    }
  }
  return true;
}

std::optional<Decimal> ToDecimal(const json::value& v) {
  if (v.is_int64()) {
    return Decimal{v.get_int64(), 0};
  }
  if (!v.is_double() || !std::isfinite(v.get_double())) {
    return std::nullopt;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v.get_double(), std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  size_t e = s.find('e');
  int64_t mantissa = 0;
  int digits = 0;
  for (char c : s.substr(0, e)) {
    if (c >= '0' && c <= '9') {
      mantissa = mantissa * 10 + (c - '0');
      ++digits;
    }
  }
  if (s[0] == '-') {
    mantissa = -mantissa;
  }
  int exp = 0;
  std::string_view exp_text = s.substr(e + 1);
  if (!exp_text.empty() && exp_text[0] == '+') {
    exp_text.remove_prefix(1);
  }
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  Decimal d{mantissa, digits - 1 - exp};
  if (d.scale < 0) {
    if (!MulPow10(d.mantissa, -d.scale)) {
      return std::nullopt;
    }
    d.scale = 0;
  }
  return d;
}

double DecimalToDouble(const Decimal& d) {
  std::string s = std::to_string(d.mantissa) + "e" + std::to_string(-d.scale);
  return std::strtod(s.c_str(), nullptr);
}

enum class ArithOp { kPlus, kMinus, kTimes, kModulo };

// Exact decimal a (op) b, or nullopt when it does not fit.
std::optional<double> DecimalArith(const json::value& a, const json::value& b, ArithOp op) {
  auto x = ToDecimal(a);
  auto y = ToDecimal(b);
  if (!x || !y) {
    return std::nullopt;
  }
  Decimal r;
  if (op == ArithOp::kTimes) {
    if (__builtin_mul_overflow(x->mantissa, y->mantissa, &r.mantissa)) {
      return std::nullopt;
    }
    r.scale = x->scale + y->scale;
    return DecimalToDouble(r);
  }
  int scale = std::max(x->scale, y->scale);
  if (!MulPow10(x->mantissa, scale - x->scale) || !MulPow10(y->mantissa, scale - y->scale)) {
    return std::nullopt;
  }
  r.scale = scale;
  bool overflow = false;
  switch (op) {
    case ArithOp::kPlus:
      overflow = __builtin_add_overflow(x->mantissa, y->mantissa, &r.mantissa);
      break;
    case ArithOp::kMinus:
      overflow = __builtin_sub_overflow(x->mantissa, y->mantissa, &r.mantissa);
      break;
    default:
      if (y->mantissa == 0 || y->mantissa == -1) {
        return std::nullopt;
      }
      r.mantissa = x->mantissa % y->mantissa;
      if (r.mantissa != 0 && ((r.mantissa < 0) != (y->mantissa < 0))) {
        r.mantissa += y->mantissa;  // Ruby's modulo takes the divisor's sign
      }
  }
  if (overflow) {
    return std::nullopt;
  }
  return DecimalToDouble(r);
}

// ---- string filters -------------------------------------------------------------------------

Val Append(FilterEnv&, const Val& in, const FilterArgs& a) {
  return Val::Own(json::string(Str(in) + Str(a.positional[0])));
}

Val Prepend(FilterEnv&, const Val& in, const FilterArgs& a) {
  return Val::Own(json::string(Str(a.positional[0]) + Str(in)));
}

std::string MapAscii(std::string s, int (*fn)(int)) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x80) {
      c = static_cast<char>(fn(static_cast<unsigned char>(c)));
    }
  }
  return s;
}

Val Downcase(FilterEnv&, const Val& in, const FilterArgs&) {
  return Val::Own(json::string(MapAscii(Str(in), [](int c) { return std::tolower(c); })));
}

Val Upcase(FilterEnv&, const Val& in, const FilterArgs&) {
  return Val::Own(json::string(MapAscii(Str(in), [](int c) { return std::toupper(c); })));
}

Val Capitalize(FilterEnv&, const Val& in, const FilterArgs&) {
  std::string s = MapAscii(Str(in), [](int c) { return std::tolower(c); });
  if (!s.empty() && static_cast<unsigned char>(s[0]) < 0x80) {
    s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  }
  return Val::Own(json::string(s));
}

Val Strip(FilterEnv&, const Val& in, const FilterArgs&) {
  std::string s = Str(in);
  return Val::Own(json::string(Trim(s)));
}

Val Lstrip(FilterEnv&, const Val& in, const FilterArgs&) {
  std::string s = Str(in);
  return Val::Own(json::string(TrimLeft(s)));
}

Val Rstrip(FilterEnv&, const Val& in, const FilterArgs&) {
  std::string s = Str(in);
  return Val::Own(json::string(TrimRight(s)));
}

void AppendEscaped(std::string& out, char c) {
  switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
  }
}

Val Escape(FilterEnv&, const Val& in, const FilterArgs&) {
  if (in->is_null()) {
    return Val();
  }
  std::string s = Str(in);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    AppendEscaped(out, c);
  }
  return Val::Own(json::string(out));
}

// True when `s` at `i` (an '&') starts an entity: &name; or &#digits;.
bool StartsEntity(std::string_view s, size_t i) {
  size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    size_t k = ++j;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
      ++j;
    }
    return j > k && j < s.size() && s[j] == ';';
  }
  size_t k = j;
  while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) {
    ++j;
  }
  return j > k && j < s.size() && s[j] == ';';
}

Val EscapeOnce(FilterEnv&, const Val& in, const FilterArgs&) {
  if (in->is_null()) {
    return Val();
  }
  std::string s = Str(in);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&' && StartsEntity(s, i)) {
      out += '&';
    } else {
      AppendEscaped(out, s[i]);
    }
  }
  return Val::Own(json::string(out));
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) {
    // Ruby's gsub("", x) puts x between every character and at both ends.
    std::string out(to);
    for (size_t i = 0; i < s.size();) {
      size_t n = Utf8Offset(std::string_view(s).substr(i), 1);
      out.append(s, i, n);
      out += to;
      i += n;
    }
    s = std::move(out);
    return;
  }
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) {
      break;
    }
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

Val Replace(FilterEnv&, const Val& in, const FilterArgs& a) {
  std::string s = Str(in);
  std::string to = a.positional.size() > 1 ? Str(a.positional[1]) : "";
  ReplaceAll(s, Str(a.positional[0]), to);
  return Val::Own(json::string(s));
}

// Replaces the first (or last) occurrence of the first argument with the second (default "").
Val ReplaceOne(const Val& in, const FilterArgs& a, bool last) {
  std::string s = Str(in);
  std::string from = Str(a.positional[0]);
  std::string to = a.positional.size() > 1 ? Str(a.positional[1]) : "";
  size_t hit = last ? s.rfind(from) : s.find(from);
  if (hit != std::string::npos) {
    s.replace(hit, from.size(), to);
  }
  return Val::Own(json::string(s));
}

Val ReplaceFirst(FilterEnv&, const Val& in, const FilterArgs& a) {
  return ReplaceOne(in, a, false);
}

Val ReplaceLast(FilterEnv&, const Val& in, const FilterArgs& a) { return ReplaceOne(in, a, true); }

Val Remove(FilterEnv& env, const Val& in, const FilterArgs& a) {
  std::string s = Str(in);
  std::string from = Str(a.positional[0]);
  if (!from.empty()) {
    ReplaceAll(s, from, "");
  }
  return Val::Own(json::string(s));
}

Val RemoveFirst(FilterEnv&, const Val& in, const FilterArgs& a) {
  return ReplaceOne(in, FilterArgs{{a.positional[0]}, {}}, false);
}

Val RemoveLast(FilterEnv&, const Val& in, const FilterArgs& a) {
  return ReplaceOne(in, FilterArgs{{a.positional[0]}, {}}, true);
}

// Replaces "\r\n" and "\n" with `to`.
std::string ReplaceNewlines(std::string_view s, std::string_view to) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      continue;
    }
    if (s[i] == '\n') {
      out += to;
    } else {
      out += s[i];
    }
  }
  return out;
}

Val StripNewlines(FilterEnv&, const Val& in, const FilterArgs&) {
  return Val::Own(json::string(ReplaceNewlines(Str(in), "")));
}

Val NewlineToBr(FilterEnv&, const Val& in, const FilterArgs&) {
  return Val::Own(json::string(ReplaceNewlines(Str(in), "<br />\n")));
}

// Removes <script>...</script>, <style>...</style> and <!-- ... --> blocks, then every tag.
Val StripHtml(FilterEnv&, const Val& in, const FilterArgs&) {
  std::string s = Str(in);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kBlocks = {
      {{"<script", "</script>"}, {"<!--", "-->"}, {"<style", "</style>"}}};
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    out.append(s, i, lt == std::string::npos ? std::string::npos : lt - i);
    if (lt == std::string::npos) {
      break;
    }
    i = lt;
    bool skipped = false;
    for (const auto& [open, close] : kBlocks) {
      if (s.compare(i, open.size(), open) == 0) {
        size_t end = s.find(close, i + open.size());
        if (end != std::string::npos) {
          i = end + close.size();
          skipped = true;
          break;
        }
      }
    }
    if (skipped) {
      continue;
    }
    size_t end = s.find('>', i + 1);
    if (end == std::string::npos) {
      out.append(s, i, std::string::npos);
      break;
    }
    i = end + 1;
  }
  return Val::Own(json::string(out));
}

// The arguments of truncate/truncatewords: an integer count (`fallback` when absent; anything
// else, nil included, is an error) and the ellipsis (default "...", nil means none).
struct TruncateArgs {
  int64_t count;
  std::string ellipsis;
};

std::optional<TruncateArgs> ReadTruncateArgs(FilterEnv& env, const FilterArgs& a, int64_t fallback,
                                             std::string_view what) {
  TruncateArgs out{fallback, a.positional.size() > 1 ? Str(a.positional[1]) : "..."};
  if (!a.positional.empty()) {
    auto n = ToInteger(a.positional[0].get(), false);
    if (!n) {
      env.Fail(std::string(what) + " must be an integer");
      return std::nullopt;
    }
    out.count = *n;
  }
  return out;
}

Val Truncate(FilterEnv& env, const Val& in, const FilterArgs& a) {
  auto args = ReadTruncateArgs(env, a, 50, "length");
  if (in->is_null() || !args) {
    return Val();
  }
  int64_t length = args->count;
  const std::string& ellipsis = args->ellipsis;
  std::string s = Str(in);
  int64_t chars = static_cast<int64_t>(Utf8Length(s));
  if (chars <= length) {
    return Val::Own(json::string(s));
  }
  int64_t keep = std::max<int64_t>(length - static_cast<int64_t>(Utf8Length(ellipsis)), 0);
  std::string out(Utf8Substr(s, 0, static_cast<size_t>(keep)));
  return Val::Own(json::string(out + ellipsis));
}

// Splits on runs of whitespace, dropping leading and trailing whitespace (Ruby's split(" ")).
std::vector<std::string_view> SplitWords(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) {
      ++i;
    }
    size_t start = i;
    while (i < s.size() && !IsSpace(s[i])) {
      ++i;
    }
    if (i > start) {
      words.push_back(s.substr(start, i - start));
    }
  }
  return words;
}

Val Truncatewords(FilterEnv& env, const Val& in, const FilterArgs& a) {
  auto args = ReadTruncateArgs(env, a, 15, "word count");
  if (in->is_null() || !args) {
    return Val();
  }
  int64_t count = std::max<int64_t>(args->count, 1);
  const std::string& ellipsis = args->ellipsis;
  std::string s = Str(in);
  auto words = SplitWords(s);
  if (static_cast<int64_t>(words.size()) <= count) {
    return Val::Own(json::string(s));
  }
  std::string out;
  for (int64_t i = 0; i < count; ++i) {
    if (i > 0) {
      out += ' ';
    }
    out += words[static_cast<size_t>(i)];
  }
  return Val::Own(json::string(out + ellipsis));
}

Val Split(FilterEnv&, const Val& in, const FilterArgs& a) {
  std::string s = Str(in);
  std::string sep = Str(a.positional[0]);
  json::array out;
  if (sep == " ") {
    for (std::string_view w : SplitWords(s)) {
      out.emplace_back(json::string(w));
    }
    return Val::Own(std::move(out));
  }
  if (sep.empty()) {
    for (size_t i = 0; i < s.size();) {
      size_t n = Utf8Offset(std::string_view(s).substr(i), 1);
      out.emplace_back(json::string(s.substr(i, n)));
      i += n;
    }
    return Val::Own(std::move(out));
  }
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(sep, pos);
    out.emplace_back(json::string(s.substr(pos, hit == std::string::npos ? hit : hit - pos)));
    if (hit == std::string::npos) {
      break;
    }
    pos = hit + sep.size();
  }
  // Ruby drops trailing empty fields.
  while (!out.empty() && out.back().get_string().empty()) {
    out.pop_back();
  }
  return Val::Own(std::move(out));
}

Val Slice(FilterEnv& env, const Val& in, const FilterArgs& a) {
  auto start = ToInteger(a.positional[0].get(), false);
  if (!start) {
    return env.Fail("start must be an integer");
  }
  int64_t length = 1;
  if (a.positional.size() > 1 && !a.positional[1]->is_null()) {
    auto n = ToInteger(a.positional[1].get(), false);
    if (!n) {
      return env.Fail("length must be an integer");
    }
    length = *n;
  }
  if (in->is_null()) {
    return Val();
  }
  bool is_array = in->is_array();
  std::string s = is_array ? std::string() : Str(in);
  int64_t size =
      is_array ? static_cast<int64_t>(in->get_array().size()) : static_cast<int64_t>(Utf8Length(s));
  int64_t from = *start < 0 ? *start + size : *start;
  if (from < 0 || from > size || length < 0) {
    return is_array ? Val::Own(json::array()) : Val::Own(json::string());
  }
  int64_t count = std::min(length, size - from);
  if (is_array) {
    const auto& arr = in->get_array();
    json::array out(arr.begin() + from, arr.begin() + from + count);
    return Val::Own(std::move(out));
  }
  return Val::Own(
      json::string(Utf8Substr(s, static_cast<size_t>(from), static_cast<size_t>(count))));
}

// CGI.escape: letters, digits and "_.-~" stay, space becomes '+', the rest %XX.
Val UrlEncode(FilterEnv&, const Val& in, const FilterArgs&) {
  if (in->is_null()) {
    return Val();
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : Str(in)) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return Val::Own(json::string(out));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

Val UrlDecode(FilterEnv&, const Val& in, const FilterArgs&) {
  if (in->is_null()) {
    return Val();
  }
  std::string s = Str(in);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return Val::Own(json::string(out));
}

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in, bool url_safe) {
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size() + 2 && i < in.size()) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    size_t got = 1;
    if (i + 1 < in.size()) {
      n |= static_cast<unsigned char>(in[i + 1]) << 8;
      ++got;
    }
    if (i + 2 < in.size()) {
      n |= static_cast<unsigned char>(in[i + 2]);
      ++got;
    }
    for (size_t k = 0; k < 4; ++k) {
      out += k <= got ? kB64[(n >> (18 - 6 * k)) & 63] : '=';
    }
    i += 3;
  }
  if (url_safe) {
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string s, bool url_safe) {
  if (url_safe) {
    std::replace(s.begin(), s.end(), '-', '+');
    std::replace(s.begin(), s.end(), '_', '/');
    while (s.size() % 4 != 0) {
      s += '=';
    }
  }
  if (s.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = s[i + k];
      size_t d = kB64.find(c);
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        ++pad;
        d = 0;
      } else if (d == std::string_view::npos || pad > 0) {
        return std::nullopt;
      }
      n = (n << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>((n >> 16) & 255);
    if (pad < 2) {
      out += static_cast<char>((n >> 8) & 255);
    }
    if (pad < 1) {
      out += static_cast<char>(n & 255);
    }
  }
  return out;
}

Val B64Encode(FilterEnv&, const Val& in, const FilterArgs&) {
  return Val::Own(json::string(Base64Encode(Str(in), false)));
}
Val B64UrlEncode(FilterEnv&, const Val& in, const FilterArgs&) {
  return Val::Own(json::string(Base64Encode(Str(in), true)));
}
Val B64Decode(FilterEnv& env, const Val& in, const FilterArgs&) {
  auto out = Base64Decode(Str(in), false);
  return out ? Val::Own(json::string(*out)) : env.Fail("invalid base64");
}
Val B64UrlDecode(FilterEnv& env, const Val& in, const FilterArgs&) {
  auto out = Base64Decode(Str(in), true);
  return out ? Val::Own(json::string(*out)) : env.Fail("invalid base64");
}

// ---- math filters ---------------------------------------------------------------------------

Val Arith(const Val& in, const Val& arg, ArithOp op) {
  json::value a = ToNumber(in.get());
  json::value b = ToNumber(arg.get());
  if (a.is_int64() && b.is_int64()) {
    int64_t x = a.get_int64();
    int64_t y = b.get_int64();
    int64_t r = 0;
    bool overflow = op == ArithOp::kPlus    ? __builtin_add_overflow(x, y, &r)
                    : op == ArithOp::kMinus ? __builtin_sub_overflow(x, y, &r)
                                            : __builtin_mul_overflow(x, y, &r);
    if (!overflow) {
      return Val::Own(r);
    }
  }
  if (auto exact = DecimalArith(a, b, op)) {
    return Val::Own(*exact);
  }
  double x = AsDouble(a);
  double y = AsDouble(b);
  return Val::Own(op == ArithOp::kPlus ? x + y : op == ArithOp::kMinus ? x - y : x * y);
}

Val Plus(FilterEnv&, const Val& in, const FilterArgs& a) {
  return Arith(in, a.positional[0], ArithOp::kPlus);
}
Val Minus(FilterEnv&, const Val& in, const FilterArgs& a) {
  return Arith(in, a.positional[0], ArithOp::kMinus);
}
Val Times(FilterEnv&, const Val& in, const FilterArgs& a) {
  return Arith(in, a.positional[0], ArithOp::kTimes);
}

// The input and argument of divided_by/modulo as numbers; nullopt (with an error) for a zero
// divisor, which Ruby raises on for integers and BigDecimal alike.
std::optional<std::pair<json::value, json::value>> DivisionOperands(FilterEnv& env, const Val& in,
                                                                    const FilterArgs& a) {
  json::value y = ToNumber(a.positional[0].get());
  if (AsDouble(y) == 0) {
    env.Fail("divided by 0");
    return std::nullopt;
  }
  return std::make_pair(ToNumber(in.get()), std::move(y));
}

Val DividedBy(FilterEnv& env, const Val& in, const FilterArgs& a) {
  auto operands = DivisionOperands(env, in, a);
  if (!operands) {
    return Val();
  }
  const auto& [x, y] = *operands;
  if (x.is_int64() && y.is_int64()) {
    int64_t p = x.get_int64();
    int64_t q = y.get_int64();
    if (p == INT64_MIN && q == -1) {
      return Val::Own(-static_cast<double>(p));
    }
    int64_t r = p / q;
    if ((p % q != 0) && ((p < 0) != (q < 0))) {
      --r;  // Ruby's integer division floors
    }
    return Val::Own(r);
  }
  return Val::Own(AsDouble(x) / AsDouble(y));
}

Val Modulo(FilterEnv& env, const Val& in, const FilterArgs& a) {
  auto operands = DivisionOperands(env, in, a);
  if (!operands) {
    return Val();
  }
  const auto& [x, y] = *operands;
  if (x.is_int64() && y.is_int64()) {
    int64_t p = x.get_int64();
    int64_t q = y.get_int64();
    if (q == -1) {
      return Val::Own(int64_t{0});
    }
    int64_t r = p % q;
    if (r != 0 && ((r < 0) != (q < 0))) {
      r += q;  // Ruby's modulo takes the divisor's sign
    }
    return Val::Own(r);
  }
  if (auto exact = DecimalArith(x, y, ArithOp::kModulo)) {
    return Val::Own(*exact);
  }
  double p = AsDouble(x);
  double q = AsDouble(y);
  double r = std::fmod(p, q);
  if (r != 0 && ((r < 0) != (q < 0))) {
    r += q;
  }
  return Val::Own(r);
}

Val Abs(FilterEnv&, const Val& in, const FilterArgs&) {
  json::value n = ToNumber(in.get());
  if (n.is_int64() && n.get_int64() != INT64_MIN) {
    return Val::Own(n.get_int64() < 0 ? -n.get_int64() : n.get_int64());
  }
  return Val::Own(std::fabs(AsDouble(n)));
}

json::value ToIntegerValue(double d) {
  if (std::fabs(d) < 9.2e18) {
    return static_cast<int64_t>(d);
  }
  return d;
}

Val Ceil(FilterEnv&, const Val& in, const FilterArgs&) {
  json::value n = ToNumber(in.get());
  return n.is_double() ? Val::Own(ToIntegerValue(std::ceil(n.get_double()))) : Val::Own(n);
}

Val Floor(FilterEnv&, const Val& in, const FilterArgs&) {
  json::value n = ToNumber(in.get());
  return n.is_double() ? Val::Own(ToIntegerValue(std::floor(n.get_double()))) : Val::Own(n);
}

// Rounds half away from zero at `digits` decimals of the shortest decimal form of `d`, as Ruby's
// BigDecimal does, so that 2.675 rounds to 2.68 (binary doubles would give 2.67).
double RoundDecimal(double d, int64_t digits) {
  auto dec = ToDecimal(json::value(d));
  if (!dec || digits > 18 || dec->scale <= digits) {
    return d;  // already at most `digits` decimals, or too large to have any
  }
  int64_t drop = dec->scale - digits;
  if (drop > 18) {
    return 0.0;
  }
  int64_t p = 1;
  MulPow10(p, static_cast<int>(drop));
  int64_t q = dec->mantissa / p;
  int64_t r = dec->mantissa % p;
  if ((r < 0 ? -r : r) * 2 >= p) {
    q += dec->mantissa < 0 ? -1 : 1;
  }
  return DecimalToDouble(Decimal{q, static_cast<int>(digits)});
}

Val Round(FilterEnv& env, const Val& in, const FilterArgs& a) {
  json::value n = ToNumber(in.get());
  int64_t digits = 0;
  if (!a.positional.empty()) {
    auto d = ToInteger(ToNumber(a.positional[0].get()), true);
    digits = d.value_or(0);
  }
  if (!n.is_double()) {
    if (digits >= 0) {
      return Val::Own(n);
    }
    return Val::Own(ToIntegerValue(RoundDecimal(AsDouble(n), digits)));
  }
  double d = n.get_double();
  if (!std::isfinite(d)) {
    return Val::Own(d);
  }
  double rounded = RoundDecimal(d, digits);
  if (digits <= 0) {
    return Val::Own(ToIntegerValue(rounded));
  }
  return Val::Own(rounded);
}

Val AtLeast(FilterEnv&, const Val& in, const FilterArgs& a) {
  json::value x = ToNumber(in.get());
  json::value y = ToNumber(a.positional[0].get());
  return Val::Own(AsDouble(x) < AsDouble(y) ? y : x);
}

Val AtMost(FilterEnv&, const Val& in, const FilterArgs& a) {
  json::value x = ToNumber(in.get());
  json::value y = ToNumber(a.positional[0].get());
  return Val::Own(AsDouble(x) > AsDouble(y) ? y : x);
}

// ---- array filters --------------------------------------------------------------------------

Val Size(FilterEnv&, const Val& in, const FilterArgs&) { return Val::Own(SizeOf(in.get())); }

Val First(FilterEnv&, const Val& in, const FilterArgs&) {
  if (in->is_array()) {
    return in->get_array().empty() ? Val() : Val::Own(in->get_array().front());
  }
  if (in->is_string()) {
    std::string_view s = in->get_string().subview();
    return Val::Own(json::string(Utf8Substr(s, 0, 1)));
  }
  if (in->is_object() && !in->get_object().empty()) {
    const auto& kv = *in->get_object().begin();
    return Val::Own(json::array{json::string(kv.key()), kv.value()});
  }
  return Val();
}

Val Last(FilterEnv&, const Val& in, const FilterArgs&) {
  if (in->is_array()) {
    return in->get_array().empty() ? Val() : Val::Own(in->get_array().back());
  }
  if (in->is_string()) {
    std::string_view s = in->get_string().subview();
    size_t n = Utf8Length(s);
    return Val::Own(json::string(n == 0 ? std::string_view() : Utf8Substr(s, n - 1, 1)));
  }
  return Val();
}

Val Join(FilterEnv&, const Val& in, const FilterArgs& a) {
  std::string glue = a.positional.empty() ? " " : Str(a.positional[0]);
  Items items = AsList(in.get());
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += glue;
    }
    AppendString(out, *items[i]);
  }
  return Val::Own(json::string(out));
}

Val Reverse(FilterEnv&, const Val& in, const FilterArgs&) {
  Items items = AsList(in.get());
  json::array out;
  out.reserve(items.size());
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    out.push_back(**it);
  }
  return Val::Own(std::move(out));
}

Val Concat(FilterEnv& env, const Val& in, const FilterArgs& a) {
  const json::value& other = a.positional[0].get();
  if (!other.is_array()) {
    return env.Fail("argument must be an array");
  }
  json::array out;
  for (const json::value* v : AsList(in.get())) {
    out.push_back(*v);
  }
  for (const json::value* v : AsList(other)) {
    out.push_back(*v);
  }
  return Val::Own(std::move(out));
}

// Shopify's property lookup used by map, where, reject, find, has, sort, uniq: a hash by key; a
// string by substring (Ruby's String#[]); arrays and integers by index. `error` for a lookup
// Ruby raises TypeError on; `no_method` for items that have no [] at all (nil, booleans, floats).
enum class PropResult { kOk, kTypeError, kNoMethod };

PropResult FetchProperty(const json::value& item, const json::value& prop, json::value& out) {
  out = nullptr;
  if (item.is_object()) {
    if (prop.is_string()) {
      if (auto* v = item.get_object().if_contains(prop.get_string().subview())) {
        out = *v;
      }
    }
    return PropResult::kOk;
  }
  if (item.is_string()) {
    std::string_view s = item.get_string().subview();
    if (prop.is_string()) {
      if (s.find(prop.get_string().subview()) != std::string_view::npos) {
        out = prop;
      }
      return PropResult::kOk;
    }
    if (prop.is_int64()) {
      int64_t i = prop.get_int64();
      int64_t n = static_cast<int64_t>(Utf8Length(s));
      if (i < 0) {
        i += n;
      }
      if (i >= 0 && i < n) {
        out = json::string(Utf8Substr(s, static_cast<size_t>(i), 1));
      }
      return PropResult::kOk;
    }
    return PropResult::kTypeError;
  }
  if (item.is_array() || item.is_int64()) {
    if (!prop.is_int64()) {
      return PropResult::kTypeError;
    }
    int64_t i = prop.get_int64();
    if (item.is_int64()) {
      out = (i >= 0 && i < 64) ? (item.get_int64() >> i) & 1 : 0;
      return PropResult::kOk;
    }
    const auto& arr = item.get_array();
    int64_t n = static_cast<int64_t>(arr.size());
    if (i < 0) {
      i += n;
    }
    if (i >= 0 && i < n) {
      out = arr[static_cast<size_t>(i)];
    }
    return PropResult::kOk;
  }
  return PropResult::kNoMethod;
}

enum class Select { kWhere, kReject, kFind, kFindIndex, kHas };

// where / reject / find / find_index / has. Without a target value an item matches when its
// property is truthy; with one, when the property equals it.
Val FilterBy(FilterEnv& env, const Val& in, const FilterArgs& a, Select mode) {
  if (IsNumber(in.get()) || in->is_bool()) {
    if (mode == Select::kWhere || mode == Select::kReject) {
      return env.Fail("input must be an array or a hash");
    }
  }
  Items items = AsList(in.get());
  const json::value& prop = a.positional[0].get();
  if (prop.is_null()) {
    // An undefined property matches nothing.
    bool list = mode == Select::kWhere || mode == Select::kReject;
    return mode == Select::kHas ? Val::Own(false) : list ? Val::Own(json::array()) : Val();
  }
  const json::value* target =
      a.positional.size() > 1 && !a.positional[1]->is_null() ? &a.positional[1].get() : nullptr;
  json::array kept;
  for (size_t i = 0; i < items.size(); ++i) {
    json::value v;
    PropResult r = FetchProperty(*items[i], prop, v);
    if (r == PropResult::kTypeError) {
      return env.Fail("cannot read property " + json::serialize(prop) + " of " +
                      std::string(JsonTypeName(*items[i])));
    }
    if (r == PropResult::kNoMethod) {
      return Val();  // Shopify returns nil when an item has no properties at all
    }
    bool match = target ? JsonEqual(v, *target) : IsTruthy(v);
    switch (mode) {
      case Select::kWhere:
        if (match) {
          kept.push_back(*items[i]);
        }
        break;
      case Select::kReject:
        if (!match) {
          kept.push_back(*items[i]);
        }
        break;
      case Select::kFind:
        if (match) {
          return Val::Own(*items[i]);
        }
        break;
      case Select::kFindIndex:
        if (match) {
          return Val::Own(static_cast<int64_t>(i));
        }
        break;
      case Select::kHas:
        if (match) {
          return Val::Own(true);
        }
        break;
    }
  }
  if (mode == Select::kHas) {
    return Val::Own(false);
  }
  if (mode == Select::kFind || mode == Select::kFindIndex) {
    return Val();
  }
  return Val::Own(std::move(kept));
}

Val Where(FilterEnv& env, const Val& in, const FilterArgs& a) {
  return FilterBy(env, in, a, Select::kWhere);
}
Val Reject(FilterEnv& env, const Val& in, const FilterArgs& a) {
  return FilterBy(env, in, a, Select::kReject);
}
Val Find(FilterEnv& env, const Val& in, const FilterArgs& a) {
  return FilterBy(env, in, a, Select::kFind);
}
Val FindIndex(FilterEnv& env, const Val& in, const FilterArgs& a) {
  return FilterBy(env, in, a, Select::kFindIndex);
}
Val Has(FilterEnv& env, const Val& in, const FilterArgs& a) {
  return FilterBy(env, in, a, Select::kHas);
}

Val Map(FilterEnv& env, const Val& in, const FilterArgs& a) {
  if (IsNumber(in.get()) || in->is_bool()) {
    return env.Fail("input must be an array or a hash");
  }
  Items items = AsList(in.get());
  json::array out;
  const json::value& prop = a.positional[0].get();
  for (const json::value* item_ptr : items) {
    const json::value& item = *item_ptr;
    if (!item.is_object()) {
      return env.Fail("cannot map over an item of type " + std::string(JsonTypeName(item)));
    }
    json::value v;
    FetchProperty(item, prop, v);
    out.push_back(std::move(v));
  }
  return Val::Own(std::move(out));
}

Val Compact(FilterEnv& env, const Val& in, const FilterArgs& a) {
  Items items = AsList(in.get());
  json::array out;
  bool by_prop = !a.positional.empty() && !a.positional[0]->is_null();
  for (const json::value* item_ptr : items) {
    const json::value& item = *item_ptr;
    json::value v = item;
    if (by_prop && FetchProperty(item, a.positional[0].get(), v) == PropResult::kTypeError) {
      return env.Fail("cannot read a property of " + std::string(JsonTypeName(item)));
    }
    if (!v.is_null()) {
      out.push_back(item);
    }
  }
  return Val::Own(std::move(out));
}

// Identity for uniq, as a hashable string: 1 and 1.0 are different values (Ruby's eql?).
std::string UniqKey(const json::value& v) {
  return std::to_string(static_cast<int>(v.kind())) + json::serialize(v);
}

Val Uniq(FilterEnv&, const Val& in, const FilterArgs& a) {
  Items items = AsList(in.get());
  bool by_prop = !a.positional.empty() && !a.positional[0]->is_null();
  json::array out;
  std::unordered_set<std::string> seen;
  for (const json::value* item_ptr : items) {
    const json::value& item = *item_ptr;
    json::value key = item;
    if (by_prop) {
      FetchProperty(item, a.positional[0].get(), key);
    }
    if (seen.insert(UniqKey(key)).second) {
      out.push_back(item);
    }
  }
  return Val::Own(std::move(out));
}

// Shopify's nil_safe_compare: nils sort last; values that cannot be ordered are an error.
std::optional<int> NilSafeCompare(const json::value& a, const json::value& b) {
  if (a.is_null() || b.is_null()) {
    return a.is_null() == b.is_null() ? 0 : (a.is_null() ? 1 : -1);
  }
  return Compare(a, b);
}

Val SortImpl(FilterEnv& env, const Val& in, const FilterArgs& a, bool natural) {
  Items items = AsList(in.get());
  bool by_prop = !a.positional.empty() && !a.positional[0]->is_null();
  std::vector<std::pair<json::value, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    json::value key = *items[i];
    if (by_prop) {
      FetchProperty(*items[i], a.positional[0].get(), key);
    }
    if (natural && !key.is_null()) {
      key = json::string(MapAscii(ToString(key), [](int c) { return std::tolower(c); }));
    }
    keyed.emplace_back(std::move(key), i);
  }
  bool incomparable = false;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    auto c = NilSafeCompare(x.first, y.first);
    if (!c) {
      incomparable = true;
      return false;
    }
    return *c < 0;
  });
  if (incomparable) {
    return env.Fail("cannot compare the items");
  }
  json::array out;
  out.reserve(items.size());
  for (const auto& k : keyed) {
    out.push_back(*items[k.second]);
  }
  return Val::Own(std::move(out));
}

Val Sort(FilterEnv& env, const Val& in, const FilterArgs& a) { return SortImpl(env, in, a, false); }
Val SortNatural(FilterEnv& env, const Val& in, const FilterArgs& a) {
  return SortImpl(env, in, a, true);
}

Val Sum(FilterEnv& env, const Val& in, const FilterArgs& a) {
  Items items = AsList(in.get());
  bool by_prop = !a.positional.empty() && !a.positional[0]->is_null();
  int64_t isum = 0;
  double dsum = 0;
  bool is_float = false;
  for (const json::value* item_ptr : items) {
    const json::value& item = *item_ptr;
    json::value v = item;
    if (by_prop) {
      if (!item.is_object()) {
        return env.Fail("cannot sum a property of " + std::string(JsonTypeName(item)));
      }
      FetchProperty(item, a.positional[0].get(), v);
    }
    json::value n = ToNumber(v);
    if (!is_float && n.is_int64() && !__builtin_add_overflow(isum, n.get_int64(), &isum)) {
      continue;
    }
    if (!is_float) {
      dsum = static_cast<double>(isum);
      is_float = true;
    }
    dsum = DecimalArith(json::value(dsum), n, ArithOp::kPlus).value_or(dsum + AsDouble(n));
  }
  return is_float ? Val::Own(dsum) : Val::Own(isum);
}

Val Default(FilterEnv&, const Val& in, const FilterArgs& a) {
  const Val* allow_false = a.Keyword("allow_false");
  bool keep_false = allow_false && IsTruthy(allow_false->get());
  const json::value& v = in.get();
  bool use_default = !IsTruthy(v) || (v.is_string() && v.get_string().empty()) ||
                     (v.is_array() && v.get_array().empty()) ||
                     (v.is_object() && v.get_object().empty());
  if (keep_false && v.is_bool() && !v.get_bool()) {
    use_default = false;
  }
  if (!use_default) {
    return in;
  }
  return a.positional.empty() ? Val() : a.positional[0];
}

// Sorted by name for binary search.
constexpr FilterDef kFilters[] = {
    {"abs", 0, 0, Abs},
    {"append", 1, 1, Append},
    {"at_least", 1, 1, AtLeast},
    {"at_most", 1, 1, AtMost},
    {"base64_decode", 0, 0, B64Decode},
    {"base64_encode", 0, 0, B64Encode},
    {"base64_url_safe_decode", 0, 0, B64UrlDecode},
    {"base64_url_safe_encode", 0, 0, B64UrlEncode},
    {"capitalize", 0, 0, Capitalize},
    {"ceil", 0, 0, Ceil},
    {"compact", 0, 1, Compact},
    {"concat", 1, 1, Concat},
    {"date", 1, 1, DateFilter},
    {"default", 0, 1, Default},
    {"divided_by", 1, 1, DividedBy},
    {"downcase", 0, 0, Downcase},
    {"escape", 0, 0, Escape},
    {"escape_once", 0, 0, EscapeOnce},
    {"find", 1, 2, Find},
    {"find_index", 1, 2, FindIndex},
    {"first", 0, 0, First},
    {"floor", 0, 0, Floor},
    {"h", 0, 0, Escape},
    {"has", 1, 2, Has},
    {"join", 0, 1, Join},
    {"last", 0, 0, Last},
    {"lstrip", 0, 0, Lstrip},
    {"map", 1, 1, Map},
    {"minus", 1, 1, Minus},
    {"modulo", 1, 1, Modulo},
    {"newline_to_br", 0, 0, NewlineToBr},
    {"plus", 1, 1, Plus},
    {"prepend", 1, 1, Prepend},
    {"reject", 1, 2, Reject},
    {"remove", 1, 1, Remove},
    {"remove_first", 1, 1, RemoveFirst},
    {"remove_last", 1, 1, RemoveLast},
    {"replace", 1, 2, Replace},
    {"replace_first", 1, 2, ReplaceFirst},
    {"replace_last", 2, 2, ReplaceLast},
    {"reverse", 0, 0, Reverse},
    {"round", 0, 1, Round},
    {"rstrip", 0, 0, Rstrip},
    {"size", 0, 0, Size},
    {"slice", 1, 2, Slice},
    {"sort", 0, 1, Sort},
    {"sort_natural", 0, 1, SortNatural},
    {"split", 1, 1, Split},
    {"strip", 0, 0, Strip},
    {"strip_html", 0, 0, StripHtml},
    {"strip_newlines", 0, 0, StripNewlines},
    {"sum", 0, 1, Sum},
    {"times", 1, 1, Times},
    {"truncate", 0, 2, Truncate},
    {"truncatewords", 0, 2, Truncatewords},
    {"uniq", 0, 1, Uniq},
    {"upcase", 0, 0, Upcase},
    {"url_decode", 0, 0, UrlDecode},
    {"url_encode", 0, 0, UrlEncode},
    {"where", 1, 2, Where},
};

}  // namespace

const FilterDef* FindFilter(std::string_view name) {
  auto it = std::lower_bound(std::begin(kFilters), std::end(kFilters), name,
                             [](const FilterDef& d, std::string_view n) { return d.name < n; });
  return it != std::end(kFilters) && it->name == name ? it : nullptr;
}

}  // namespace xoal::liquid::detail
