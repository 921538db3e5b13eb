#include "common/time_format.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <exception>

namespace xoal {
namespace {

constexpr double kMillisThreshold = 1e11;

// Reads exactly `n` digits at `pos`.
bool ReadDigits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

std::optional<int> ParseOffsetMinutes(std::string_view s, size_t& pos) {
  if (pos == s.size()) return 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
    return 0;
  }
  if (s[pos] != '+' && s[pos] != '-') return std::nullopt;
  int sign = s[pos] == '-' ? -1 : 1;
  ++pos;
  int hh = 0;
  int mm = 0;
  if (!ReadDigits(s, pos, 2, hh)) return std::nullopt;
  Expect(s, pos, ':');
  if (pos < s.size() && !ReadDigits(s, pos, 2, mm)) return std::nullopt;
  if (hh > 23 || mm > 59) return std::nullopt;
  return sign * (hh * 60 + mm);
}

std::optional<SystemTime> FromEpochNumber(double v) {
  if (!std::isfinite(v) || v < 0) return std::nullopt;
  double ms = v >= kMillisThreshold ? v : v * 1000.0;
  if (ms > 253402300799999.0) return std::nullopt;  // past 9999-12-31
  return TimeFromEpochMillis(static_cast<int64_t>(std::llround(ms)));
}

}  // namespace

std::optional<SystemTime> TimeFromEpochMillis(int64_t ms) {
  constexpr int64_t kMin =
      std::chrono::duration_cast<Millis>(SystemTime::min().time_since_epoch()).count();
  constexpr int64_t kMax =
      std::chrono::duration_cast<Millis>(SystemTime::max().time_since_epoch()).count();
  if (ms < kMin || ms > kMax) return std::nullopt;
  return FromEpochMillis(ms);
}

std::optional<SystemTime> ParseIsoTime(std::string_view s) {
  size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!ReadDigits(s, pos, 4, y) || !Expect(s, pos, '-') || !ReadDigits(s, pos, 2, mo) ||
      !Expect(s, pos, '-') || !ReadDigits(s, pos, 2, d)) {
    return std::nullopt;
  }
  date::year_month_day ymd{date::year(y), date::month(mo), date::day(d)};
  if (!ymd.ok()) return std::nullopt;
  int64_t frac_ms = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    ++pos;
    if (!ReadDigits(s, pos, 2, h) || !Expect(s, pos, ':') || !ReadDigits(s, pos, 2, mi)) {
      return std::nullopt;
    }
    if (Expect(s, pos, ':') && !ReadDigits(s, pos, 2, sec)) return std::nullopt;
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
    if (Expect(s, pos, '.') || Expect(s, pos, ',')) {
      size_t start = pos;
      int64_t scale = 100;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        frac_ms += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
  }
  auto offset = ParseOffsetMinutes(s, pos);
  if (!offset || pos != s.size()) return std::nullopt;
  // In milliseconds, which hold every year from 0000 to 9999; the range check comes after.
  date::sys_time<Millis> t = date::sys_days(ymd) + std::chrono::hours(h) +
                             std::chrono::minutes(mi) + std::chrono::seconds(sec) +
                             Millis(frac_ms) - std::chrono::minutes(*offset);
  return TimeFromEpochMillis(t.time_since_epoch().count());
}

std::optional<SystemTime> ParseJsonTime(const boost::json::value& v) {
  if (v.is_int64()) return FromEpochNumber(static_cast<double>(v.get_int64()));
  if (v.is_uint64()) return FromEpochNumber(static_cast<double>(v.get_uint64()));
  if (v.is_double()) return FromEpochNumber(v.get_double());
  if (!v.is_string()) return std::nullopt;
  std::string_view s = v.get_string();
  if (!s.empty() && s.find_first_not_of("0123456789.") == std::string_view::npos) {
    // A short digit string is a year ("2014") or a typo, not a time in early 1970.
    if (s.find('.') == std::string_view::npos && s.size() < 9) return std::nullopt;
    double d = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return FromEpochNumber(d);
  }
  return ParseIsoTime(s);
}

std::string FormatIsoTime(SystemTime t) {
  // By hand rather than date::format, which builds an ostringstream per call: this runs for
  // every ingested message.
  auto ms = std::chrono::floor<Millis>(t);
  auto day = std::chrono::floor<date::days>(ms);
  date::year_month_day ymd(day);
  date::hh_mm_ss<Millis> tod(ms - day);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     tod.hours().count(), tod.minutes().count(), tod.seconds().count(),
                     tod.subseconds().count());
}

bool IsValidTimeZone(std::string_view name) {
  if (name.empty()) return false;
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::exception&) {
    return false;  // locate_zone throws std::runtime_error for unknown names
  }
}

}  // namespace xoal
