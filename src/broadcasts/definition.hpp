// What a broadcast is, as data (SPEC "Broadcasts", shape "Broadcasts"; design in
// docs/broadcasts.md): validating the body the API takes, schedules and the local-time rule, and
// the throttle window. Pure: no store, no clock, no logging, so every rule is unit-tested here.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"
#include "messaging/channel_config.hpp"

namespace xoal::broadcasts {

// The latest and earliest UTC offsets any IANA zone has: a local time is reached everywhere
// between local - kMaxOffset and local - kMinOffset.
inline constexpr std::chrono::hours kMaxOffset{14};   // Pacific/Kiritimati
inline constexpr std::chrono::hours kMinOffset{-12};  // Etc/GMT+12
inline constexpr std::chrono::minutes kThrottleWindow{1};
inline constexpr int64_t kMaxThrottlePerMinute = 1'000'000;

// {"at": "<iso time>"} or {"local_time": "HH:MM", "date": "YYYY-MM-DD"}.
struct Schedule {
  std::optional<SystemTime> at;
  std::optional<date::local_seconds> local;  // the wall-clock time in each recipient's zone
};

// Parses a schedule; errors (kInvalidArgument) name the member, such as "schedule.local_time".
[[nodiscard]] Result<Schedule> ParseSchedule(const json::value& v);

// When a broadcast on this schedule starts (its audience is taken then): `at`, or the moment the
// first zone reaches the local time.
SystemTime StartOf(const Schedule& schedule);
// The last moment any recipient is due: `at`, or when the last zone reaches the local time. A
// schedule whose last moment has passed is refused.
SystemTime LastDueOf(const Schedule& schedule);

// The instant the wall-clock time `local` happens in `zone` (null: UTC). A time inside a
// daylight-saving gap is the end of the gap; an ambiguous one is the earlier instant.
SystemTime LocalInstant(date::local_seconds local, const date::time_zone* zone);

// The zone named `name`, or null when it is not an IANA zone.
const date::time_zone* FindZone(std::string_view name);

// A broadcast body after validation, with every member present (null when not given).
struct Definition {
  std::string name;
  std::string segment_id;
  json::value conditions;  // null: the whole segment
  messaging::Channel channel = messaging::Channel::kEmail;
  json::object message;
  std::optional<Schedule> schedule;
  json::value schedule_json;  // as given, or null
  std::optional<int64_t> throttle_per_minute;
  bool transactional = false;  // message.transactional
};

// Reads `body` (SPEC shape "Broadcasts"). Checks shapes and types only; the caller checks that
// the segment exists, the conditions parse and the message renders. Errors: kInvalidArgument
// naming the member ("name", "segment_id", "channel", "message", "schedule.at",
// "throttle_per_minute").
[[nodiscard]] Result<Definition> ParseDefinition(const json::object& body);

// The definition as stored and shown: {"segment_id", "conditions", "channel", "message",
// "schedule", "throttle_per_minute"} (the name is kept apart).
json::object DefinitionToJson(const Definition& d);

// kInvalidArgument naming the first member of a POST or PATCH body that is not one of the
// Broadcasts shape (a misspelt "throttle_per_minute" must not send unthrottled).
[[nodiscard]] Status CheckKnownMembers(const json::object& body);

// The members a PATCH may change, merged over the stored definition and name.
json::object MergePatch(const std::string& name, const json::object& stored,
                        const json::object& patch);

// Fixed one-minute windows from `started`: the window holding `now` and how many it may still
// enqueue, given the stored window and its count.
struct ThrottleWindow {
  SystemTime start;
  int64_t used = 0;
};
ThrottleWindow CurrentWindow(SystemTime started, ThrottleWindow stored, SystemTime now);

}  // namespace xoal::broadcasts
