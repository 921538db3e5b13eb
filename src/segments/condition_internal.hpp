// The compiled condition tree and the evaluation helpers shared by evaluate.cpp (Matches) and
// timeline.cpp (NextFlipTime). Private to src/segments.
#pragma once

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "segments/condition.hpp"

namespace re2 {
class RE2;
}  // namespace re2

namespace xoal::segments::internal {

enum class Op {
  kEq,
  kNeq,
  kContains,
  kNotContains,
  kStartsWith,
  kEndsWith,
  kExists,
  kNotExists,
  kGt,
  kGte,
  kLt,
  kLte,
  kBetween,
  kIn,
  kNotIn,
  kMatches,
  kBefore,
  kAfter,
  kWithinLast,
  kNotWithinLast,
  kWithinNext,
};

// within_last, not_within_last and within_next: the only operators whose answer moves with time.
inline bool IsRelativeTimeOp(Op op) {
  return op == Op::kWithinLast || op == Op::kNotWithinLast || op == Op::kWithinNext;
}

// A time named by a condition: an instant, or a calendar day that becomes an instant only once
// the evaluation's time zone is known.
struct TimeOperand {
  SystemTime instant;
  std::optional<date::local_days> day;
};

// One compiled condition value, read every way an operator may need it.
struct Operand {
  json::value json;                   // as written (eq on booleans)
  std::optional<std::string> text;    // strings; lower-cased when the predicate folds case
  std::optional<long double> number;  // numbers and numeric strings
  std::optional<TimeOperand> time;    // ISO strings, dates, epoch numbers
};

// An operator with its compiled value, applied to one value (an attribute, a property).
struct Predicate {
  Op op = Op::kEq;
  bool fold_case = false;                 // compare text case-insensitively (the email attribute)
  std::vector<Operand> operands;          // one; two for between; the list for in/not_in
  bool high_is_day_end = false;           // between: a date-only upper bound includes its whole day
  std::shared_ptr<const re2::RE2> regex;  // matches
  std::chrono::minutes window{0};         // within_last, not_within_last, within_next
};

struct PropertyFilter {
  std::string property;  // a key of the properties, or a dotted path into nested objects
  Predicate predicate;
};

enum class CountOp { kGte, kLte, kEq, kGt, kLt };

struct EventSpec {
  std::vector<PropertyFilter> where;
  CountOp count_op = CountOp::kGte;
  int64_t count_value = 1;
  std::optional<std::chrono::minutes> within_last;
  std::optional<TimeOperand> from;  // between: from <= timestamp
  std::optional<TimeOperand> to;    // between: timestamp <= to (< start of the next day if a day)
};

enum class Kind {
  kAll,
  kAny,
  kNot,
  kAttribute,
  kEvent,
  kTag,
  kCompany,
  kCompanyAttribute,
  kSegment
};

struct Node {
  Kind kind = Kind::kAll;
  bool reads_time = false;     // the subtree's answer can change with time alone
  std::vector<Node> children;  // all, any; not has exactly one
  std::string name;            // attribute, event, tag, company id, company attribute, segment id
  Predicate predicate;         // attribute, company attribute
  EventSpec event;             // event
};

// "2026-12-03": a date without a time.
bool IsDateOnly(std::string_view s);

// A whole string read as a finite number ("42", "-1.5e3"), or nullopt.
std::optional<long double> ParseNumber(std::string_view s);

// A JSON number, or nullopt for any other type.
std::optional<long double> JsonNumber(const json::value& v);

// The instant a condition time stands for in `tz` (null: UTC). A day is its first instant; a
// local midnight that does not exist (a DST gap) is the first instant after the gap.
SystemTime ResolveTime(const TimeOperand& t, const date::time_zone* tz);

// The instant a stored value stands for: an ISO string (a date alone being the start of that
// day in `tz`), or epoch seconds or milliseconds. Nullopt for anything else.
std::optional<SystemTime> ValueTime(const json::value& v, const date::time_zone* tz);

// Whether the subtree matches at `now` (Matches() on any node).
bool MatchesNode(const Node& node, const CustomerView& view, SystemTime now);

// Whether `p` holds for `v` (null: missing) at `now`.
bool MatchValue(const Predicate& p, const json::value* v, SystemTime now,
                const date::time_zone* tz);

// The property at `path` of an event, or null when absent. A key with dots is tried whole first.
const json::value* FindProperty(const json::object& properties, std::string_view path);

// Whether the event passes the name, between, and every filter that does not move with time.
bool EventMatchesStatically(const Node& node, const store::Event& e, const date::time_zone* tz);

bool CompareCount(CountOp op, int64_t count, int64_t value);

// `t` + `d`, held at the ends of SystemTime's range instead of overflowing.
SystemTime SaturatingAdd(SystemTime t, std::chrono::minutes d);

}  // namespace xoal::segments::internal
