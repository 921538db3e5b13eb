// Conditions: the one condition language of Xoal (SPEC "Segments", shape "Conditions"). Dynamic
// segments use it now; workflow filters, branches, goals and broadcast audiences use it later.
//
// ParseCondition() validates the JSON once and compiles it into an immutable tree (regular
// expressions compiled, times parsed). Matches() evaluates that tree against one customer at one
// instant; NextFlipTime() says when the answer changes if no new data arrives. Both are pure:
// they read only the CustomerView and the `now` they are given, never the store or a clock, so
// the same Condition may be evaluated from many threads at once.
//
// Semantics (the contract; condition_test.cpp pins each rule down):
// - Missing values. An attribute that is absent or JSON null is "missing". A missing value matches
//   only the negative operators neq, not_contains, not_in, not_exists and not_within_last. Every
//   negative operator is the exact complement of its positive one (neq == !eq, ...), on missing
//   and on wrong-type values alike, as Customer.io and Braze users expect.
// - Wrong types. A value of a type an operator cannot use (a list for starts_with, a word for gt)
//   never matches the positive operator, and so always matches its negative. Nothing throws.
// - Numbers. A JSON number and a numeric string compare as numbers (42 eq "42", "10" gt 9). Two
//   strings always compare as text for eq/in ("02134" neq "2134"); ordering operators (gt, gte,
//   lt, lte, between) compare only numbers or times, never text.
// - Times. A time value is an ISO-8601 string or epoch seconds or milliseconds (as ingestion
//   reads them, common/time_format.hpp), so datetime attributes work whether stored as ISO
//   strings or numbers. A date without a time ("2026-12-03"), as a condition value or an attribute
//   value, means the start of that day in the evaluation's time zone (CustomerView::timezone).
//   eq with a date-only value means "on that day"; the upper bound of between, when date-only,
//   includes that whole day; before, after, gt, gte, lt and lte compare against the day's start.
// - Windows. within_last N is true for a time t while t <= now < t + N; within_next N while
//   now < t <= now + N (so t - N <= now < t). Units are exact: a day is 24 hours, also across
//   daylight-saving changes. Event windows use the same rule on the event's timestamp.
// - Case. String comparisons are case-sensitive (Customer.io's rule), except on the customer
//   attribute `email`, which the store keeps lower-cased and which compares case-insensitively.
//   Event names, tags, company ids and segment ids are exact. A regular expression can ask for
//   case-insensitivity itself with (?i).
// - Lists. contains on a list attribute means "has an element equal to the value"; in on a list
//   attribute means "shares an element with the value list"; eq on a list never matches.
// - Regular expressions are RE2 (linear time, no backreferences) and match anywhere in the text
//   unless anchored with ^ and $.
// - Companies. {"company": "acme"} is true for members of company acme; a company attribute
//   condition is true when at least one of the customer's companies matches it (a customer in no
//   company matches none, not even neq).
// - Segments. {"segment": id} asks CustomerView::in_segment. Membership of another segment is
//   taken as constant by NextFlipTime; the engine re-evaluates dependents when it changes.
#pragma once

#include <date/tz.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"
#include "store/store.hpp"

namespace xoal::segments {

namespace internal {
struct Node;
}  // namespace internal

// What a condition reads, so an incremental engine re-evaluates a condition only after a change
// that can affect it. Every list is sorted and without duplicates.
struct Dependencies {
  std::vector<std::string> attributes;  // customer attributes (contact_type adds its
                                        // sources, user_id and email)
  std::vector<std::string> events;      // event names
  std::vector<std::string> tags;
  std::vector<std::string> companies;           // company ids whose membership is tested
  std::vector<std::string> company_attributes;  // attributes of any company the customer is in
  std::vector<std::string> segments;            // ids of other segments
  // True when the result can change with time alone (a relative window on an attribute, an event
  // or an event property). When false, NextFlipTime() is always nullopt.
  bool reads_time = false;
  // How old an event may be and still count for an event condition (see EventsSince): some
  // condition counts events of any age, or else the widest `within_last` and the earliest
  // `between` start.
  bool events_of_any_age = false;
  std::optional<std::chrono::minutes> events_within_last;
  std::optional<SystemTime> events_from;
};

// The oldest event timestamp that can change the answer of a condition with dependencies `d`
// evaluated at `now` (or when it flips next): older events may be left out of the view.
// nullopt when every event counts.
std::optional<SystemTime> EventsSince(const Dependencies& d, SystemTime now);

// A parsed and validated condition. Cheap to copy: copies share one immutable tree.
class Condition {
 public:
  const Dependencies& dependencies() const { return *dependencies_; }

  // For the evaluator in this module only.
  const internal::Node& root() const { return *root_; }

 private:
  friend Result<Condition> ParseCondition(const json::value& conditions, std::string_view path);
  Condition() = default;

  std::shared_ptr<const internal::Node> root_;
  std::shared_ptr<const Dependencies> dependencies_;
};

// Parses and validates a condition of SPEC "Shapes". `path` names the condition in the caller's
// document and prefixes every error field ("conditions", "entry.filter").
// Errors: kInvalidArgument whose field is the JSON path of the bad part, such as
// "conditions.all[2].op", and whose message says what is expected there.
[[nodiscard]] Result<Condition> ParseCondition(const json::value& conditions,
                                               std::string_view path = "conditions");

// Everything evaluation may read about one customer. Nothing is copied: the caller keeps the
// referenced data alive during the call.
struct CustomerView {
  // Requires: not null. Its `tags` are the customer's tags.
  const store::Customer* customer = nullptr;
  // The companies the customer is a member of.
  std::span<const store::Company> companies;
  // The customer's events, in any order. Events whose names the condition does not read
  // (Dependencies::events) may be left out.
  std::span<const store::Event> events;
  // Whether the customer is a member of the segment with this id; unset means "never".
  std::function<bool(std::string_view segment_id)> in_segment;
  // The project's time zone, for date-only values; null means UTC.
  const date::time_zone* timezone = nullptr;
};

// Whether the customer matches the condition at instant `now`.
bool Matches(const Condition& condition, const CustomerView& view, SystemTime now);

// The earliest instant after `now` at which Matches() gives a different answer if the customer's
// data does not change, or nullopt when it never does. Exact: Matches() has the same answer on
// [now, flip) and a different one at flip.
std::optional<SystemTime> NextFlipTime(const Condition& condition, const CustomerView& view,
                                       SystemTime now);

// The value of a customer attribute as conditions see it, built-in (SPEC "Customers") or custom;
// JSON null when the customer has none. Built-ins kept as members of store::Customer (usid,
// user_id, email, anonymous_ids, created_at, updated_at, added_via) and the derived contact_type
// read the same way as those kept in `attributes`; times are ISO-8601 strings.
json::value CustomerAttribute(const store::Customer& customer, std::string_view name);

// The value of a company attribute: id, name, created_at, updated_at, or a custom attribute.
json::value CompanyAttribute(const store::Company& company, std::string_view name);

}  // namespace xoal::segments
