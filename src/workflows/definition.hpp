// Workflow definitions (SPEC "Workflows", shape "Workflows"): parsing and validation of the JSON a
// user saves, into an immutable Definition the engine runs. Pure: no store, no clock.
//
// Validation refuses, with the JSON path of the bad part as the error field: missing or mistyped
// members, unknown trigger or step types, `next` (or yes/no/timeout_next/split) naming an unknown
// step, steps unreachable from `start`, a loop that passes through no wait step (delay,
// wait_until, wait_for_event; a zero delay or timeout does not count), split percentages that do
// not add up to 100, bad conditions (through segments::ParseCondition), a message without what
// its channel needs or with a template that does not compile, `next` on a step that never follows
// it (branch, split, exit), and match_key without a keyed event trigger.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "segments/condition.hpp"

namespace xoal::workflows {

// A span of time as users write it: {"days": 1, "hours": 2, ...}. Days are calendar days in the
// customer's time zone (the same local time the next day, also across daylight-saving changes);
// weeks are 7 days; hours, minutes and seconds are exact.
struct Span {
  int64_t days = 0;
  std::chrono::milliseconds exact{0};
};

enum class TriggerType {
  kEvent,
  kSegmentEntered,
  kSegmentLeft,
  kAttributeChanged,
  kApi,
  kDateAttribute
};

struct Trigger {
  TriggerType type = TriggerType::kApi;
  std::string event;                         // kEvent
  std::optional<segments::Condition> where;  // kEvent: {"event": event, "where": [...]}
  std::optional<std::string> key;            // kEvent: the property that keys runs
  std::string segment_id;                    // kSegmentEntered, kSegmentLeft
  std::string attribute;                     // kAttributeChanged, kDateAttribute
  bool create_customers = false;             // kApi: unknown user_id/email get a profile
  // kDateAttribute: the run starts at the attribute's time moved by the offset (backwards when
  // negative), or, with `at`, at that local time on the day the moved time falls on.
  Span offset;
  bool offset_negative = false;
  std::optional<std::chrono::minutes> at;
};

enum class ReEntry { kNever, kAlways, kAfter };

struct Entry {
  ReEntry re_entry = ReEntry::kNever;
  Span cooldown;  // kAfter
  std::optional<segments::Condition> filter;
};

struct Goal {
  std::string event;                             // an event goal, or empty
  std::optional<segments::Condition> where;      // for an event goal: {"event", "where"}
  std::optional<segments::Condition> condition;  // a condition goal
};

struct SplitBranch {
  int percent = 0;
  std::string next;
};

struct Step {
  std::string name;
  std::string type;
  std::string next;  // empty: the run ends after this step
  // delay
  Span duration;
  // wait_until: a local time of day ("09:00"), or an attribute plus an offset
  std::optional<std::chrono::minutes> time_of_day;
  std::string attribute;
  Span offset;
  bool offset_negative = false;
  // wait_for_event
  std::string event;
  bool match_key = false;
  std::optional<Span> timeout;
  std::string timeout_next;
  // branch
  std::optional<segments::Condition> condition;
  std::string yes;
  std::string no;
  // split
  std::vector<SplitBranch> branches;
  // send_*: the message; http_request: {url, method, headers, body}
  json::object message;
  std::string channel;  // email, sms, push, webhook
  // update_attributes
  json::object attributes;
  // add_tag, remove_tag
  std::string tag;
  // add_to_segment, remove_from_segment
  std::string segment_id;

  bool IsWait() const {
    return type == "delay" || type == "wait_until" || type == "wait_for_event";
  }
};

struct Definition {
  Trigger trigger;
  Entry entry;
  std::optional<Goal> goal;
  std::string start;
  std::map<std::string, Step> steps;
  int send_rate_per_minute = 0;  // 0: unlimited
};

// Parses and validates a definition (the workflow body without "name"). Errors: kInvalidArgument
// with field the JSON path ("steps.remind.next", "trigger.type", "entry.filter.op").
[[nodiscard]] Result<Definition> ParseDefinition(const json::object& body);

// The checks only a definition being saved gets, on top of ParseDefinition: each message a step
// sends has the shape messaging::CheckMessageShape wants (no member its channel does not read,
// templates that are strings). Stored definitions are parsed without them, so an active
// workflow saved before a check was added keeps running. Errors: kInvalidArgument, field
// "steps.<id>.message.<member>" ("steps.<id>.<member>" for http_request).
[[nodiscard]] Status CheckNewDefinition(const Definition& def);

// Reads a span ({"days"|"hours"|"minutes"|"seconds"|"weeks": non-negative integer, ...}).
// Errors: kInvalidArgument with field `path`.
[[nodiscard]] Result<Span> ParseSpan(const json::value& v, const std::string& path);

}  // namespace xoal::workflows
