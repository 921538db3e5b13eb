#include "broadcasts/definition.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "common/time_format.hpp"

namespace xoal::broadcasts {
namespace {

// Reads `text` as exactly `digits` decimal digits.
std::optional<int> Digits(std::string_view text, size_t digits) {
  if (text.size() != digits) return std::nullopt;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::chrono::minutes> ParseTimeOfDay(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') return std::nullopt;
  auto h = Digits(t.substr(0, 2), 2);
  auto m = Digits(t.substr(3, 2), 2);
  if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
  return std::chrono::hours(*h) + std::chrono::minutes(*m);
}

std::optional<date::local_days> ParseDate(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  auto y = Digits(t.substr(0, 4), 4);
  auto m = Digits(t.substr(5, 2), 2);
  auto d = Digits(t.substr(8, 2), 2);
  if (!y || !m || !d) return std::nullopt;
  date::year_month_day ymd{date::year(*y), date::month(static_cast<unsigned>(*m)),
                           date::day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return std::nullopt;
  return date::local_days(ymd);
}

Status Invalid(std::string message, std::string field) {
  return Status::InvalidArgument(std::move(message), std::move(field));
}

// A required non-empty string member.
Result<std::string> RequiredString(const json::object& body, std::string_view key) {
  auto it = body.find(key);
  if (it == body.end() || !it->value().is_string() || it->value().get_string().empty()) {
    return Invalid(std::string(key) + " must be a non-empty string", std::string(key));
  }
  return std::string(it->value().get_string());
}

Status ReadThrottle(const json::object& body, Definition& d) {
  auto it = body.find("throttle_per_minute");
  if (it == body.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_int64() || it->value().get_int64() < 1 ||
      it->value().get_int64() > kMaxThrottlePerMinute) {
    return Invalid("throttle_per_minute must be an integer from 1 to 1000000",
                   "throttle_per_minute");
  }
  d.throttle_per_minute = it->value().get_int64();
  return Status::Ok();
}

}  // namespace

Result<Schedule> ParseSchedule(const json::value& v) {
  if (!v.is_object()) {
    return Invalid("schedule must be {\"at\": ...} or {\"local_time\": \"HH:MM\", \"date\": ...}",
                   "schedule");
  }
  const json::object& o = v.get_object();
  Schedule s;
  if (auto at = o.find("at"); at != o.end()) {
    if (o.size() != 1) return Invalid("schedule.at stands alone", "schedule");
    s.at = ParseJsonTime(at->value());
    if (!s.at) return Invalid("schedule.at must be an ISO-8601 time", "schedule.at");
    return s;
  }
  auto lt = o.find("local_time");
  auto day = o.find("date");
  if (lt == o.end() || !lt->value().is_string()) {
    return Invalid("schedule needs at, or local_time with date", "schedule.local_time");
  }
  auto time_of_day = ParseTimeOfDay(lt->value().get_string());
  if (!time_of_day) return Invalid("schedule.local_time must be HH:MM", "schedule.local_time");
  if (day == o.end() || !day->value().is_string()) {
    return Invalid("schedule.date must be YYYY-MM-DD", "schedule.date");
  }
  auto d = ParseDate(day->value().get_string());
  if (!d) return Invalid("schedule.date must be YYYY-MM-DD", "schedule.date");
  if (o.size() != 2) return Invalid("schedule has only local_time and date", "schedule");
  s.local = date::local_seconds(*d) + *time_of_day;
  return s;
}

SystemTime StartOf(const Schedule& schedule) {
  if (schedule.at) return *schedule.at;
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      (*schedule.local - kMaxOffset).time_since_epoch()));
}

SystemTime LastDueOf(const Schedule& schedule) {
  if (schedule.at) return *schedule.at;
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      (*schedule.local - kMinOffset).time_since_epoch()));
}

SystemTime LocalInstant(date::local_seconds local, const date::time_zone* zone) {
  date::sys_seconds instant;
  if (!zone) {
    instant = date::sys_seconds(local.time_since_epoch());
  } else {
    date::local_info info = zone->get_info(local);
    if (info.result == date::local_info::nonexistent) {
      instant = info.first.end;  // the clocks jumped over `local`: the first instant after
    } else {
      instant = date::sys_seconds((local - info.first.offset).time_since_epoch());
    }
  }
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(instant.time_since_epoch()));
}

const date::time_zone* FindZone(std::string_view name) {
  if (name.empty() || !IsValidTimeZone(name)) return nullptr;
  return date::locate_zone(std::string(name));
}

Result<Definition> ParseDefinition(const json::object& body) {
  Definition d;
  XOAL_ASSIGN_OR_RETURN(d.name, RequiredString(body, "name"));
  XOAL_ASSIGN_OR_RETURN(d.segment_id, RequiredString(body, "segment_id"));
  if (auto c = body.find("conditions"); c != body.end()) d.conditions = c->value();
  XOAL_ASSIGN_OR_RETURN(auto channel, RequiredString(body, "channel"));
  auto parsed = messaging::ParseChannel(channel);
  if (!parsed) return Invalid("channel must be email, sms, push or webhook", "channel");
  d.channel = *parsed;
  auto message = body.find("message");
  if (message == body.end() || !message->value().is_object()) {
    return Invalid("message must be an object", "message");
  }
  d.message = message->value().get_object();
  XOAL_ASSIGN_OR_RETURN(auto transactional, OptionalBool(d.message, "transactional"));
  d.transactional = transactional.value_or(false);
  if (auto s = body.find("schedule"); s != body.end() && !s->value().is_null()) {
    XOAL_ASSIGN_OR_RETURN(d.schedule, ParseSchedule(s->value()));
    d.schedule_json = s->value();
  }
  XOAL_RETURN_IF_ERROR(ReadThrottle(body, d));
  return d;
}

json::object DefinitionToJson(const Definition& d) {
  return json::object{
      {"segment_id", d.segment_id},
      {"conditions", d.conditions},
      {"channel", messaging::ChannelName(d.channel)},
      {"message", d.message},
      {"schedule", d.schedule_json},
      {"throttle_per_minute",
       d.throttle_per_minute ? json::value(*d.throttle_per_minute) : json::value(nullptr)}};
}

constexpr std::array<std::string_view, 7> kMembers = {
    "name", "segment_id", "conditions", "channel", "message", "schedule", "throttle_per_minute"};

Status CheckKnownMembers(const json::object& body) {
  return xoal::CheckKnownMembers(body, kMembers, "a broadcast");
}

json::object MergePatch(const std::string& name, const json::object& stored,
                        const json::object& patch) {
  json::object merged = stored;
  merged["name"] = name;
  for (std::string_view key : kMembers) {
    if (auto it = patch.find(key); it != patch.end()) merged[key] = it->value();
  }
  return merged;
}

ThrottleWindow CurrentWindow(SystemTime started, ThrottleWindow stored, SystemTime now) {
  if (now < stored.start + kThrottleWindow) return stored;
  auto windows = (now - started) / kThrottleWindow;
  return ThrottleWindow{started + windows * kThrottleWindow, 0};
}

}  // namespace xoal::broadcasts
