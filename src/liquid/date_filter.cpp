// The `date` filter: reads epoch seconds, "now"/"today" (the injected RenderOptions::now) and the
// date strings people write (ISO 8601, "March 14, 2016", RFC 2822), and formats with strftime
// directives. All arithmetic is on the proleptic Gregorian calendar in the input's own UTC offset
// (UTC when none), never the host's time zone, so output does not depend on the machine.
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "liquid/filters.hpp"

namespace xoal::liquid::detail {
namespace {

struct DateTime {
  int64_t epoch = 0;       // seconds since 1970-01-01T00:00:00Z
  int64_t nanos = 0;       // 0..999'999'999
  int32_t utc_offset = 0;  // seconds east of UTC that the fields are shown in
  bool has_zone = false;   // %Z prints "UTC" when false or zero
};

// Days from civil date (H. Hinnant's algorithm, public domain).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{y + (m <= 2), m, d};
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr std::array<std::string_view, 12> kMonths = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 7> kDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                   "Thursday", "Friday", "Saturday"};

// ---- parsing --------------------------------------------------------------------------------

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }
  void SkipSpace() {
    while (!AtEnd() && (std::isspace(static_cast<unsigned char>(s_[i_])) || s_[i_] == ',')) {
      ++i_;
    }
  }
  bool Eat(char c) {
    if (Peek() == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // Reads 1..max_digits digits.
  std::optional<int64_t> Number(size_t max_digits = 9, size_t* digits = nullptr) {
    size_t start = i_;
    while (!AtEnd() && std::isdigit(static_cast<unsigned char>(s_[i_])) &&
           i_ - start < max_digits) {
      ++i_;
    }
    if (i_ == start) {
      return std::nullopt;
    }
    if (digits) {
      *digits = i_ - start;
    }
    int64_t v = 0;
    std::from_chars(s_.data() + start, s_.data() + i_, v);
    return v;
  }
  std::string_view Word() {
    size_t start = i_;
    while (!AtEnd() && std::isalpha(static_cast<unsigned char>(s_[i_]))) {
      ++i_;
    }
    return s_.substr(start, i_ - start);
  }
  size_t pos() const { return i_; }
  void set_pos(size_t p) { i_ = p; }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// 1..12 for a month name or its three-letter abbreviation.
std::optional<unsigned> MonthFromName(std::string_view w) {
  for (size_t m = 0; m < kMonths.size(); ++m) {
    if (IEquals(w, kMonths[m]) || (w.size() >= 3 && IEquals(w, kMonths[m].substr(0, 3))) ||
        (w.size() > 3 && IEquals(w, kMonths[m].substr(0, w.size())))) {
      return static_cast<unsigned>(m + 1);
    }
  }
  return std::nullopt;
}

bool IsDayName(std::string_view w) {
  for (std::string_view d : kDays) {
    if (IEquals(w, d) || IEquals(w, d.substr(0, 3))) {
      return true;
    }
  }
  return false;
}

struct Fields {
  int64_t year = 1970;
  unsigned month = 1;
  unsigned day = 1;
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  int64_t nanos = 0;
  int32_t offset = 0;
  bool has_zone = false;
};

// "HH:MM[:SS[.fff]] [am|pm]"
bool ParseClock(Scanner& sc, Fields& f) {
  auto h = sc.Number(2);
  if (!h || !sc.Eat(':')) {
    return false;
  }
  auto m = sc.Number(2);
  if (!m) {
    return false;
  }
  f.hour = *h;
  f.minute = *m;
  if (sc.Eat(':')) {
    auto s = sc.Number(2);
    if (!s) {
      return false;
    }
    f.second = *s;
    if (sc.Eat('.') || sc.Eat(',')) {
      size_t digits = 0;
      auto frac = sc.Number(9, &digits);
      if (!frac) {
        return false;
      }
      int64_t n = *frac;
      for (size_t i = digits; i < 9; ++i) {
        n *= 10;
      }
      f.nanos = n;
      while (std::isdigit(static_cast<unsigned char>(sc.Peek()))) {
        sc.Number(1);
      }
    }
  }
  size_t save = sc.pos();
  sc.SkipSpace();
  std::string_view w = sc.Word();
  if (IEquals(w, "am") || IEquals(w, "pm")) {
    if (f.hour == 12) {
      f.hour = 0;
    }
    if (IEquals(w, "pm")) {
      f.hour += 12;
    }
  } else {
    sc.set_pos(save);
  }
  return f.hour < 24 && f.minute < 60 && f.second <= 60;
}

// "Z", "UTC", "GMT", "+02:00", "+0200", "-05".
bool ParseZone(Scanner& sc, Fields& f) {
  sc.SkipSpace();
  if (sc.AtEnd()) {
    return true;
  }
  char c = sc.Peek();
  if (c == 'Z' || c == 'z') {
    sc.Eat(c);
    f.has_zone = true;
    return true;
  }
  if (c == '+' || c == '-') {
    sc.Eat(c);
    size_t digits = 0;
    auto hh = sc.Number(2, &digits);
    if (!hh || digits != 2) {
      return false;
    }
    int64_t mm = 0;
    sc.Eat(':');
    if (auto m = sc.Number(2)) {
      mm = *m;
    }
    f.offset = static_cast<int32_t>((*hh * 3600 + mm * 60) * (c == '-' ? -1 : 1));
    f.has_zone = true;
    return true;
  }
  std::string_view w = sc.Word();
  if (IEquals(w, "UTC") || IEquals(w, "GMT")) {
    f.has_zone = true;
    return true;
  }
  return false;
}

bool ValidDate(const Fields& f) {
  static constexpr unsigned kLengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (f.month < 1 || f.month > 12 || f.day < 1) {
    return false;
  }
  unsigned max = kLengths[f.month - 1] + (f.month == 2 && IsLeap(f.year) ? 1 : 0);
  return f.day <= max;
}

// Date part: "2016-03-14", "2016/03/14", "March 14 2016", "14 March 2016", "Mon, 14 Mar 2016".
bool ParseDatePart(Scanner& sc, Fields& f) {
  sc.SkipSpace();
  size_t save = sc.pos();
  std::string_view w = sc.Word();
  if (!w.empty() && IsDayName(w)) {
    sc.SkipSpace();
    save = sc.pos();
    w = sc.Word();
  }
  if (!w.empty()) {
    auto month = MonthFromName(w);
    if (!month) {
      return false;
    }
    sc.Eat('.');
    sc.SkipSpace();
    auto day = sc.Number(2);
    sc.SkipSpace();
    auto year = sc.Number(4);
    if (!day || !year) {
      return false;
    }
    f.month = *month;
    f.day = static_cast<unsigned>(*day);
    f.year = *year;
    return true;
  }
  sc.set_pos(save);
  size_t digits = 0;
  auto first = sc.Number(4, &digits);
  if (!first) {
    return false;
  }
  if (digits == 4 && (sc.Eat('-') || sc.Eat('/'))) {
    auto month = sc.Number(2);
    if (!month || !(sc.Eat('-') || sc.Eat('/'))) {
      return false;
    }
    auto day = sc.Number(2);
    if (!day) {
      return false;
    }
    f.year = *first;
    f.month = static_cast<unsigned>(*month);
    f.day = static_cast<unsigned>(*day);
    return true;
  }
  if (digits <= 2) {
    sc.SkipSpace();
    auto month = MonthFromName(sc.Word());
    sc.Eat('.');
    sc.SkipSpace();
    auto year = sc.Number(4);
    if (!month || !year) {
      return false;
    }
    f.day = static_cast<unsigned>(*first);
    f.month = *month;
    f.year = *year;
    return true;
  }
  return false;
}

std::optional<DateTime> ParseDateString(std::string_view s) {
  Scanner sc(s);
  Fields f;
  if (!ParseDatePart(sc, f) || !ValidDate(f)) {
    return std::nullopt;
  }
  sc.SkipSpace();
  if (sc.Peek() == 'T' || sc.Peek() == 't') {
    sc.Eat(sc.Peek());
  }
  if (std::isdigit(static_cast<unsigned char>(sc.Peek())) && !ParseClock(sc, f)) {
    return std::nullopt;
  }
  if (!ParseZone(sc, f)) {
    return std::nullopt;
  }
  sc.SkipSpace();
  if (!sc.AtEnd()) {
    return std::nullopt;
  }
  int64_t local =
      DaysFromCivil(f.year, f.month, f.day) * 86400 + f.hour * 3600 + f.minute * 60 + f.second;
  return DateTime{local - f.offset, f.nanos, f.offset, f.has_zone && f.offset != 0};
}

std::optional<DateTime> FromEpoch(double seconds) {
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e14) {
    return std::nullopt;
  }
  double whole = std::floor(seconds);
  return DateTime{static_cast<int64_t>(whole),
                  static_cast<int64_t>(std::llround((seconds - whole) * 1e9)) % 1000000000, 0,
                  false};
}

// nullopt: not a date (the filter then returns its input). Sets `needs_now` for "now"/"today"
// when no clock was injected.
std::optional<DateTime> ToDateTime(const json::value& v, const RenderOptions& options,
                                   bool& needs_now) {
  if (v.is_int64() || v.is_uint64() || v.is_double()) {
    return FromEpoch(AsDouble(v));
  }
  if (!v.is_string()) {
    return std::nullopt;
  }
  std::string_view s = v.get_string().subview();
  if (IEquals(s, "now") || IEquals(s, "today")) {
    if (!options.now) {
      needs_now = true;
      return std::nullopt;
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options.now->time_since_epoch())
                  .count();
    int64_t secs = ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000;
    return DateTime{secs, ns - secs * 1000000000, 0, false};
  }
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    int64_t secs = 0;
    if (std::from_chars(s.data(), s.data() + s.size(), secs).ec != std::errc()) {
      return std::nullopt;
    }
    return DateTime{secs, 0, 0, false};
  }
  return ParseDateString(s);
}

// ---- formatting -----------------------------------------------------------------------------

struct Broken {
  Civil date;
  int64_t hour, minute, second;
  int weekday;  // 0 = Sunday
  int yday;     // 1-based
};

Broken Break(const DateTime& t) {
  int64_t local = t.epoch + t.utc_offset;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  int64_t secs = local - days * 86400;
  Broken b{CivilFromDays(days), secs / 3600, (secs / 60) % 60, secs % 60, 0, 0};
  b.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  b.yday = static_cast<int>(days - DaysFromCivil(b.date.year, 1, 1)) + 1;
  return b;
}

void AppendPadded(std::string& out, int64_t v, int width, char pad, char flag) {
  if (flag == '-') {
    out += std::to_string(v);
    return;
  }
  if (flag == '_') {
    pad = ' ';
  } else if (flag == '0') {
    pad = '0';
  }
  std::string digits = std::to_string(v < 0 ? -v : v);
  if (v < 0) {
    out += '-';
  }
  for (int i = static_cast<int>(digits.size()); i < width; ++i) {
    out += pad;
  }
  out += digits;
}

std::string Upper(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

std::string Strftime(const DateTime& t, std::string_view fmt);

// One directive `c` with optional flag ('-', '_', '0', '^').
void AppendDirective(std::string& out, const DateTime& t, const Broken& b, char c, char flag) {
  auto text = [&](std::string s) { out += flag == '^' ? Upper(std::move(s)) : s; };
  int64_t hour12 = b.hour % 12 == 0 ? 12 : b.hour % 12;
  switch (c) {
    case 'Y':
      AppendPadded(out, b.date.year, 4, '0', flag == '^' ? 0 : flag);
      break;
    case 'C':
      AppendPadded(out, b.date.year / 100, 2, '0', flag);
      break;
    case 'y':
      AppendPadded(out, b.date.year % 100, 2, '0', flag);
      break;
    case 'm':
      AppendPadded(out, b.date.month, 2, '0', flag);
      break;
    case 'd':
      AppendPadded(out, b.date.day, 2, '0', flag);
      break;
    case 'e':
      AppendPadded(out, b.date.day, 2, ' ', flag);
      break;
    case 'j':
      AppendPadded(out, b.yday, 3, '0', flag);
      break;
    case 'H':
      AppendPadded(out, b.hour, 2, '0', flag);
      break;
    case 'k':
      AppendPadded(out, b.hour, 2, ' ', flag);
      break;
    case 'I':
      AppendPadded(out, hour12, 2, '0', flag);
      break;
    case 'l':
      AppendPadded(out, hour12, 2, ' ', flag);
      break;
    case 'M':
      AppendPadded(out, b.minute, 2, '0', flag);
      break;
    case 'S':
      AppendPadded(out, b.second, 2, '0', flag);
      break;
    case 'L':
      AppendPadded(out, t.nanos / 1000000, 3, '0', 0);
      break;
    case 'N':
      AppendPadded(out, t.nanos, 9, '0', 0);
      break;
    case 'B':
      text(std::string(kMonths[b.date.month - 1]));
      break;
    case 'b':
    case 'h':
      text(std::string(kMonths[b.date.month - 1].substr(0, 3)));
      break;
    case 'A':
      text(std::string(kDays[static_cast<size_t>(b.weekday)]));
      break;
    case 'a':
      text(std::string(kDays[static_cast<size_t>(b.weekday)].substr(0, 3)));
      break;
    case 'p':
      out += flag == '#' ? (b.hour < 12 ? "am" : "pm") : (b.hour < 12 ? "AM" : "PM");
      break;
    case 'P':
      out += b.hour < 12 ? "am" : "pm";
      break;
    case 'u':
      out += std::to_string(b.weekday == 0 ? 7 : b.weekday);
      break;
    case 'w':
      out += std::to_string(b.weekday);
      break;
    case 'U':
      AppendPadded(out, (b.yday + 6 - b.weekday) / 7, 2, '0', flag);
      break;
    case 'W':
      AppendPadded(out, (b.yday + 6 - (b.weekday + 6) % 7) / 7, 2, '0', flag);
      break;
    case 's':
      out += std::to_string(t.epoch);
      break;
    case 'z': {
      int32_t off = t.utc_offset;
      out += off < 0 ? '-' : '+';
      off = off < 0 ? -off : off;
      AppendPadded(out, off / 3600, 2, '0', 0);
      AppendPadded(out, (off / 60) % 60, 2, '0', 0);
      break;
    }
    case 'Z':
      out += t.has_zone ? "" : "UTC";
      break;
    case 'F':
      out += Strftime(t, "%Y-%m-%d");
      break;
    case 'D':
    case 'x':
      out += Strftime(t, "%m/%d/%y");
      break;
    case 'T':
    case 'X':
      out += Strftime(t, "%H:%M:%S");
      break;
    case 'R':
      out += Strftime(t, "%H:%M");
      break;
    case 'r':
      out += Strftime(t, "%I:%M:%S %p");
      break;
    case 'c':
      out += Strftime(t, "%a %b %e %H:%M:%S %Y");
      break;
    case 'n':
      out += '\n';
      break;
    case 't':
      out += '\t';
      break;
    case '%':
      out += '%';
      break;
    default:
      out += '%';
      if (flag) {
        out += flag;
      }
      out += c;
  }
}

std::string Strftime(const DateTime& t, std::string_view fmt) {
  Broken b = Break(t);
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%' || i + 1 >= fmt.size()) {
      out += fmt[i];
      continue;
    }
    char flag = 0;
    char c = fmt[++i];
    if ((c == '-' || c == '_' || c == '0' || c == '^' || c == '#') && i + 1 < fmt.size()) {
      flag = c;
      c = fmt[++i];
    }
    AppendDirective(out, t, b, c, flag);
  }
  return out;
}

}  // namespace

Val DateFilter(FilterEnv& env, const Val& in, const FilterArgs& a) {
  if (in->is_null()) {
    return Val();
  }
  const json::value& fmt = a.positional[0].get();
  if (fmt.is_null() || (fmt.is_string() && fmt.get_string().empty())) {
    return in;
  }
  bool needs_now = false;
  auto t = ToDateTime(in.get(), env.options, needs_now);
  if (needs_now) {
    return env.Fail("\"now\" needs RenderOptions::now to be set");
  }
  if (!t) {
    return in;
  }
  return Val::Own(json::string(Strftime(*t, ToString(fmt))));
}

}  // namespace xoal::liquid::detail
