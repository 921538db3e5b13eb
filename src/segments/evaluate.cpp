// Matches(): evaluation of a compiled condition at one instant, and the value rules every
// operator shares (condition.hpp states them).
#include <re2/re2.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <cmath>

#include "common/time_format.hpp"
#include "core/customers.hpp"
#include "segments/condition.hpp"
#include "segments/condition_internal.hpp"

namespace xoal::segments {
namespace internal {
namespace {

bool SameChar(char a, char b, bool fold) {
  if (!fold) return a == b;
  return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
}

// ASCII case-insensitive when `fold`: emails are ASCII in practice and stored lower-cased.
bool TextEquals(std::string_view a, std::string_view b, bool fold) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [fold](char x, char y) {
           return SameChar(x, y, fold);
         });
}

bool TextContains(std::string_view hay, std::string_view needle, bool fold) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                        [fold](char x, char y) { return SameChar(x, y, fold); });
  return it != hay.end() || needle.empty();
}

std::optional<long double> ValueNumber(const json::value& v) {
  if (v.is_string()) return ParseNumber(v.get_string());
  return JsonNumber(v);
}

// A time the operand and the value both name, for eq: the same instant, or for a date-only
// operand, any instant of that day.
bool SameTime(const TimeOperand& t, const json::value& v, const date::time_zone* tz) {
  std::optional<SystemTime> at = ValueTime(v, tz);
  if (!at) return false;
  if (!t.day) return *at == t.instant;
  TimeOperand next{t.instant, *t.day + date::days(1)};
  return ResolveTime(t, tz) <= *at && *at < ResolveTime(next, tz);
}

bool Equals(const Predicate& p, const Operand& o, const json::value& v, const date::time_zone* tz) {
  if (o.json.is_bool()) return v.is_bool() && v.get_bool() == o.json.get_bool();
  if (o.json.is_number()) {
    std::optional<long double> n = ValueNumber(v);
    return n && *n == *o.number;
  }
  // The operand is a string.
  if (v.is_string()) {
    if (TextEquals(v.get_string(), *o.text, p.fold_case)) return true;
    // The same time written another way ("...T10:00:00Z" and "...T10:00:00.000Z"), or a day.
    return o.time && !o.number && SameTime(*o.time, v, tz);
  }
  if (v.is_number()) {
    if (o.number) return *ValueNumber(v) == *o.number;
    return o.time && SameTime(*o.time, v, tz);
  }
  return false;
}

template <typename T>
bool Ordered(Op op, const T& value, const T& bound) {
  switch (op) {
    case Op::kGt:
      return value > bound;
    case Op::kGte:
      return value >= bound;
    case Op::kLt:
      return value < bound;
    default:
      return value <= bound;
  }
}

bool MatchOrdered(Op op, const Operand& o, const json::value& v, const date::time_zone* tz) {
  if (o.number) {
    if (auto n = ValueNumber(v)) return Ordered(op, *n, *o.number);
  }
  if (o.time) {
    if (auto t = ValueTime(v, tz)) return Ordered(op, *t, ResolveTime(*o.time, tz));
  }
  return false;
}

bool MatchBetween(const Predicate& p, const json::value& v, const date::time_zone* tz) {
  const Operand& low = p.operands[0];
  const Operand& high = p.operands[1];
  if (low.number && high.number) {
    if (auto n = ValueNumber(v)) return *low.number <= *n && *n <= *high.number;
  }
  if (low.time && high.time) {
    std::optional<SystemTime> t = ValueTime(v, tz);
    if (!t || *t < ResolveTime(*low.time, tz)) return false;
    SystemTime end = ResolveTime(*high.time, tz);
    return p.high_is_day_end ? *t < end : *t <= end;
  }
  return false;
}

// An element of a list attribute, or the value itself, equals one operand.
bool MatchIn(const Predicate& p, const json::value& v, const date::time_zone* tz) {
  for (const Operand& o : p.operands) {
    if (const json::array* arr = v.if_array()) {
      for (const json::value& e : *arr) {
        if (Equals(p, o, e, tz)) return true;
      }
    } else if (Equals(p, o, v, tz)) {
      return true;
    }
  }
  return false;
}

bool MatchContains(const Predicate& p, const json::value& v, const date::time_zone* tz) {
  const Operand& o = p.operands[0];
  if (v.is_string()) return o.text && TextContains(v.get_string(), *o.text, p.fold_case);
  if (v.is_array()) return MatchIn(p, v, tz);
  return false;
}

bool MatchAffix(const Predicate& p, const json::value& v) {
  if (!v.is_string()) return false;
  std::string_view s = v.get_string();
  std::string_view affix = *p.operands[0].text;
  if (s.size() < affix.size()) return false;
  std::string_view part =
      p.op == Op::kStartsWith ? s.substr(0, affix.size()) : s.substr(s.size() - affix.size());
  return TextEquals(part, affix, p.fold_case);
}

// The positive operators; each negative one is the complement of its positive (condition.hpp).
// `op` is p.op, or for a negative operator its positive.
bool MatchPresent(Op op, const Predicate& p, const json::value& v, SystemTime now,
                  const date::time_zone* tz) {
  switch (op) {
    case Op::kEq:
      return Equals(p, p.operands[0], v, tz);
    case Op::kContains:
      return MatchContains(p, v, tz);
    case Op::kStartsWith:
    case Op::kEndsWith:
      return MatchAffix(p, v);
    case Op::kExists:
      return true;
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      return MatchOrdered(op, p.operands[0], v, tz);
    case Op::kBetween:
      return MatchBetween(p, v, tz);
    case Op::kIn:
      return MatchIn(p, v, tz);
    case Op::kMatches:
      return v.is_string() &&
             re2::RE2::PartialMatch(re2::StringPiece(v.get_string().data(), v.get_string().size()),
                                    *p.regex);
    case Op::kBefore:
    case Op::kAfter: {
      std::optional<SystemTime> t = ValueTime(v, tz);
      if (!t) return false;
      SystemTime bound = ResolveTime(p.operands[0].time.value(), tz);
      return op == Op::kBefore ? *t < bound : *t > bound;
    }
    case Op::kWithinLast: {
      std::optional<SystemTime> t = ValueTime(v, tz);
      return t && *t <= now && now < SaturatingAdd(*t, p.window);
    }
    case Op::kWithinNext: {
      std::optional<SystemTime> t = ValueTime(v, tz);
      return t && SaturatingAdd(*t, -p.window) <= now && now < *t;
    }
    default:
      assert(false && "negative operators are handled by MatchValue");
      return false;
  }
}

std::optional<Op> PositiveOf(Op op) {
  switch (op) {
    case Op::kNeq:
      return Op::kEq;
    case Op::kNotContains:
      return Op::kContains;
    case Op::kNotExists:
      return Op::kExists;
    case Op::kNotIn:
      return Op::kIn;
    case Op::kNotWithinLast:
      return Op::kWithinLast;
    default:
      return std::nullopt;
  }
}

bool MatchEvent(const Node& node, const CustomerView& view, SystemTime now) {
  const EventSpec& spec = node.event;
  // Counting stops one past the bound: every count operator is decided by then.
  const int64_t enough = spec.count_value + 1;
  int64_t count = 0;
  for (const store::Event& e : view.events) {
    if (!EventMatchesStatically(node, e, view.timezone)) continue;
    if (spec.within_last &&
        !(e.timestamp <= now && now < SaturatingAdd(e.timestamp, *spec.within_last))) {
      continue;
    }
    bool ok = std::all_of(spec.where.begin(), spec.where.end(), [&](const PropertyFilter& f) {
      return !IsRelativeTimeOp(f.predicate.op) ||
             MatchValue(f.predicate, FindProperty(e.properties, f.property), now, view.timezone);
    });
    if (ok && ++count >= enough) break;
  }
  return CompareCount(spec.count_op, count, spec.count_value);
}

}  // namespace

bool IsDateOnly(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

std::optional<long double> ParseNumber(std::string_view s) {
  long double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

std::optional<long double> JsonNumber(const json::value& v) {
  if (v.is_int64()) return static_cast<long double>(v.get_int64());
  if (v.is_uint64()) return static_cast<long double>(v.get_uint64());
  if (v.is_double()) return static_cast<long double>(v.get_double());
  return std::nullopt;
}

SystemTime ResolveTime(const TimeOperand& t, const date::time_zone* tz) {
  if (!t.day) return t.instant;
  if (tz == nullptr) return SystemTime(t.day->time_since_epoch());
  // choose::earliest never throws: an ambiguous midnight takes its first occurrence and one
  // that does not exist (Santiago, Beirut: clocks jump at 00:00) the end of the gap.
  return tz->to_sys(*t.day, date::choose::earliest);
}

std::optional<SystemTime> ValueTime(const json::value& v, const date::time_zone* tz) {
  if (v.is_string() && IsDateOnly(v.get_string())) {
    std::optional<SystemTime> t = ParseIsoTime(v.get_string());
    if (!t) return std::nullopt;
    date::local_days day(std::chrono::floor<date::days>(*t).time_since_epoch());
    return ResolveTime(TimeOperand{*t, day}, tz);
  }
  if (v.is_string() || v.is_number()) return ParseJsonTime(v);
  return std::nullopt;
}

SystemTime SaturatingAdd(SystemTime t, std::chrono::minutes d) {
  auto delta = std::chrono::duration_cast<SystemTime::duration>(d);
  if (delta.count() > 0 && t > SystemTime::max() - delta) return SystemTime::max();
  if (delta.count() < 0 && t < SystemTime::min() - delta) return SystemTime::min();
  return t + delta;
}

bool MatchValue(const Predicate& p, const json::value* v, SystemTime now,
                const date::time_zone* tz) {
  bool present = v != nullptr && !v->is_null();
  if (std::optional<Op> positive = PositiveOf(p.op)) {
    return !(present && MatchPresent(*positive, p, *v, now, tz));
  }
  return present && MatchPresent(p.op, p, *v, now, tz);
}

const json::value* FindProperty(const json::object& properties, std::string_view path) {
  if (const json::value* v = properties.if_contains(path)) return v;
  const json::object* obj = &properties;
  const json::value* v = nullptr;
  while (obj != nullptr) {
    size_t dot = path.find('.');
    v = obj->if_contains(path.substr(0, dot));
    if (v == nullptr || dot == std::string_view::npos) return v;
    path.remove_prefix(dot + 1);
    obj = v->if_object();
  }
  return nullptr;
}

bool EventMatchesStatically(const Node& node, const store::Event& e, const date::time_zone* tz) {
  const EventSpec& spec = node.event;
  if (e.name != node.name) return false;
  if (spec.from && e.timestamp < ResolveTime(*spec.from, tz)) return false;
  if (spec.to) {
    SystemTime end = ResolveTime(*spec.to, tz);
    if (spec.to->day ? e.timestamp >= end : e.timestamp > end) return false;
  }
  return std::all_of(spec.where.begin(), spec.where.end(), [&](const PropertyFilter& f) {
    return IsRelativeTimeOp(f.predicate.op) ||
           MatchValue(f.predicate, FindProperty(e.properties, f.property), SystemTime(), tz);
  });
}

bool CompareCount(CountOp op, int64_t count, int64_t value) {
  switch (op) {
    case CountOp::kGte:
      return count >= value;
    case CountOp::kLte:
      return count <= value;
    case CountOp::kEq:
      return count == value;
    case CountOp::kGt:
      return count > value;
    case CountOp::kLt:
      return count < value;
  }
  return false;
}

bool MatchesNode(const Node& node, const CustomerView& view, SystemTime now) {
  auto child_matches = [&](const Node& c) { return MatchesNode(c, view, now); };
  switch (node.kind) {
    case Kind::kAll:
      return std::all_of(node.children.begin(), node.children.end(), child_matches);
    case Kind::kAny:
      return std::any_of(node.children.begin(), node.children.end(), child_matches);
    case Kind::kNot:
      return !MatchesNode(node.children[0], view, now);
    case Kind::kAttribute: {
      json::value v = CustomerAttribute(*view.customer, node.name);
      return MatchValue(node.predicate, &v, now, view.timezone);
    }
    case Kind::kEvent:
      return MatchEvent(node, view, now);
    case Kind::kTag: {
      const auto& tags = view.customer->tags;
      return std::find(tags.begin(), tags.end(), node.name) != tags.end();
    }
    case Kind::kCompany:
      return std::any_of(view.companies.begin(), view.companies.end(),
                         [&](const store::Company& c) { return c.id == node.name; });
    case Kind::kCompanyAttribute:
      return std::any_of(view.companies.begin(), view.companies.end(),
                         [&](const store::Company& c) {
                           json::value v = CompanyAttribute(c, node.name);
                           return MatchValue(node.predicate, &v, now, view.timezone);
                         });
    case Kind::kSegment:
      return view.in_segment && view.in_segment(node.name);
  }
  return false;
}

}  // namespace internal

bool Matches(const Condition& condition, const CustomerView& view, SystemTime now) {
  assert(view.customer != nullptr);
  return internal::MatchesNode(condition.root(), view, now);
}

namespace {

json::value OptionalText(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

}  // namespace

json::value CustomerAttribute(const store::Customer& c, std::string_view name) {
  if (name == "usid") return json::value(c.usid);
  if (name == "user_id") return OptionalText(c.user_id);
  if (name == "email") return OptionalText(c.email);
  if (name == "contact_type") return json::value(core::ContactType(c));
  if (name == "created_at") return json::value(FormatIsoTime(c.created_at));
  if (name == "updated_at") return json::value(FormatIsoTime(c.updated_at));
  if (name == "added_via") {
    return c.added_via.empty() ? json::value(nullptr) : json::value(c.added_via);
  }
  if (name == "anonymous_ids") return json::array(c.anonymous_ids.begin(), c.anonymous_ids.end());
  if (name == "tags") return json::array(c.tags.begin(), c.tags.end());
  const json::value* v = c.attributes.if_contains(name);
  return v == nullptr ? json::value(nullptr) : *v;
}

json::value CompanyAttribute(const store::Company& company, std::string_view name) {
  if (name == "id") return json::value(company.id);
  if (name == "name") return json::value(company.name);
  if (name == "created_at") return json::value(FormatIsoTime(company.created_at));
  if (name == "updated_at") return json::value(FormatIsoTime(company.updated_at));
  const json::value* v = company.attributes.if_contains(name);
  return v == nullptr ? json::value(nullptr) : *v;
}

}  // namespace xoal::segments
