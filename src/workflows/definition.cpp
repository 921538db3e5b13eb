#include "workflows/definition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <span>

#include "liquid/liquid.hpp"
#include "messaging/compose.hpp"

namespace xoal::workflows {
namespace {

// 100 years: delays, offsets and cool-downs beyond it would leave the range of stored times.
constexpr int64_t kMaxSpanDays = 36'525;
constexpr int64_t kMaxSendRatePerMinute = 1'000'000;

constexpr int kMaxSteps = 500;

// `path.key`, or `key` at the top level (empty path).
std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

const std::set<std::string>& StepTypes() {
  static const std::set<std::string> kTypes = {
      "send_email",          "send_sms",     "send_push",  "send_webhook",
      "update_attributes",   "add_tag",      "remove_tag", "add_to_segment",
      "remove_from_segment", "http_request", "delay",      "wait_until",
      "wait_for_event",      "branch",       "split",      "exit"};
  return kTypes;
}

// Member `key` of `o` as a non-empty string. Errors name `path.key`.
Result<std::string> RequiredString(const json::object& o, std::string_view key,
                                   const std::string& path) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string() || it->value().get_string().empty()) {
    return Status::InvalidArgument(fmt::format("{} must be a non-empty string", key),
                                   Join(path, key));
  }
  return std::string(it->value().get_string());
}

Result<std::string> OptionalStepName(const json::object& o, std::string_view key,
                                     const std::string& path) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::string();
  return RequiredString(o, key, path);
}

Result<const json::object*> RequiredObject(const json::object& o, std::string_view key,
                                           const std::string& path) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) {
    return Status::InvalidArgument(fmt::format("{} must be an object", key), Join(path, key));
  }
  return &it->value().get_object();
}

// {"event": name, "where": where} as a condition, so property filters use the one evaluator.
Result<std::optional<segments::Condition>> EventFilter(const json::object& o,
                                                       const std::string& event,
                                                       const std::string& path) {
  auto it = o.find("where");
  if (it == o.end() || it->value().is_null()) return std::optional<segments::Condition>();
  json::object cond{{"event", event}, {"where", it->value()}};
  auto parsed = segments::ParseCondition(cond, path);
  if (!parsed.ok()) return parsed.status();
  return std::optional<segments::Condition>(std::move(*parsed));
}

Result<std::chrono::minutes> ParseTimeOfDay(const json::value& v, const std::string& path) {
  auto invalid = [&] {
    return Status::InvalidArgument("a local time must be \"HH:MM\" (00:00 to 23:59)", path);
  };
  if (!v.is_string()) return invalid();
  std::string_view t = v.get_string();
  auto digit = [&](size_t i) { return t[i] >= '0' && t[i] <= '9'; };
  if (t.size() != 5 || t[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
    return invalid();
  }
  int h = (t[0] - '0') * 10 + (t[1] - '0');
  int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (h > 23 || m > 59) return invalid();
  return std::chrono::minutes(h * 60 + m);
}

// An offset from a date attribute. "3 days before" is written with negative numbers
// ({"days": -3}); every part must have the same sign.
Status ParseSignedOffset(const json::value& value, const std::string& path, Span& span,
                         bool& negative) {
  json::value v = value;
  negative = false;
  bool positive = false;
  if (v.is_object()) {
    for (auto& [k, n] : v.as_object()) {
      if (!n.is_int64()) {
        return Status::InvalidArgument("must be a whole number (negative means before)",
                                       fmt::format("{}.{}", path, std::string(k)));
      }
      if (n.get_int64() < 0) {
        negative = true;
        n = -n.get_int64();
      } else if (n.get_int64() > 0) {
        positive = true;
      }
    }
  }
  if (negative && positive) {
    return Status::InvalidArgument("every part of an offset must have the same sign", path);
  }
  XOAL_ASSIGN_OR_RETURN(span, ParseSpan(v, path));
  return Status::Ok();
}

Result<Trigger> ParseTrigger(const json::object& body) {
  XOAL_ASSIGN_OR_RETURN(const json::object* t, RequiredObject(body, "trigger", ""));
  const std::string path = "trigger";
  XOAL_ASSIGN_OR_RETURN(std::string type, RequiredString(*t, "type", path));
  Trigger out;
  if (type == "event") {
    out.type = TriggerType::kEvent;
    XOAL_ASSIGN_OR_RETURN(out.event, RequiredString(*t, "event", path));
    XOAL_ASSIGN_OR_RETURN(out.where, EventFilter(*t, out.event, "trigger.where"));
    if (t->contains("key")) {
      XOAL_ASSIGN_OR_RETURN(std::string key, RequiredString(*t, "key", path));
      out.key = key;
    }
  } else if (type == "segment_entered" || type == "segment_left") {
    out.type = type == "segment_entered" ? TriggerType::kSegmentEntered : TriggerType::kSegmentLeft;
    XOAL_ASSIGN_OR_RETURN(out.segment_id, RequiredString(*t, "segment_id", path));
  } else if (type == "attribute_changed") {
    out.type = TriggerType::kAttributeChanged;
    XOAL_ASSIGN_OR_RETURN(out.attribute, RequiredString(*t, "attribute", path));
  } else if (type == "api") {
    out.type = TriggerType::kApi;
    auto c = OptionalBool(*t, "create_customers");
    if (!c.ok()) return c.status().WithFieldPrefix("trigger");
    out.create_customers = c->value_or(false);
  } else if (type == "date_attribute") {
    out.type = TriggerType::kDateAttribute;
    XOAL_ASSIGN_OR_RETURN(out.attribute, RequiredString(*t, "attribute", path));
    if (auto off = t->find("offset"); off != t->end()) {
      XOAL_RETURN_IF_ERROR(
          ParseSignedOffset(off->value(), "trigger.offset", out.offset, out.offset_negative));
    }
    if (auto at = t->find("at"); at != t->end()) {
      XOAL_ASSIGN_OR_RETURN(out.at, ParseTimeOfDay(at->value(), "trigger.at"));
    }
  } else {
    return Status::InvalidArgument(
        "type must be event, segment_entered, segment_left, attribute_changed, api or "
        "date_attribute",
        "trigger.type");
  }
  return out;
}

Result<Entry> ParseEntry(const json::object& body) {
  Entry out;
  auto it = body.find("entry");
  if (it == body.end() || it->value().is_null()) return out;
  if (!it->value().is_object()) return Status::InvalidArgument("entry must be an object", "entry");
  const json::object& e = it->value().get_object();
  if (auto r = e.find("re_entry"); r != e.end()) {
    const json::value& v = r->value();
    if (v.is_string() && v.get_string() == "never") {
      out.re_entry = ReEntry::kNever;
    } else if (v.is_string() && v.get_string() == "always") {
      out.re_entry = ReEntry::kAlways;
    } else if (v.is_object() && v.get_object().size() == 1 && v.get_object().contains("after")) {
      out.re_entry = ReEntry::kAfter;
      XOAL_ASSIGN_OR_RETURN(out.cooldown,
                            ParseSpan(v.get_object().at("after"), "entry.re_entry.after"));
    } else {
      return Status::InvalidArgument(
          "re_entry must be \"never\", \"always\" or {\"after\": {\"days\": N}}", "entry.re_entry");
    }
  }
  if (auto f = e.find("filter"); f != e.end() && !f->value().is_null()) {
    XOAL_ASSIGN_OR_RETURN(auto cond, segments::ParseCondition(f->value(), "entry.filter"));
    out.filter = std::move(cond);
  }
  return out;
}

Result<std::optional<Goal>> ParseGoal(const json::object& body) {
  auto it = body.find("goal");
  if (it == body.end() || it->value().is_null()) return std::optional<Goal>();
  if (!it->value().is_object()) return Status::InvalidArgument("goal must be an object", "goal");
  const json::object& g = it->value().get_object();
  Goal out;
  // {"event": name} (with optional "where") is an event goal; anything else is a condition.
  auto ev = g.find("event");
  if (ev != g.end() && ev->value().is_string() && !g.contains("count") &&
      !g.contains("within_last") && !g.contains("between")) {
    out.event = std::string(ev->value().get_string());
    // A misspelt `where` would make any event of that name a conversion.
    static constexpr std::string_view kEventGoal[] = {"event", "where"};
    Status known = CheckKnownMembers(g, kEventGoal, "an event goal");
    if (!known.ok()) return known.WithFieldPrefix("goal");
    XOAL_ASSIGN_OR_RETURN(out.where, EventFilter(g, out.event, "goal.where"));
    return std::optional<Goal>(std::move(out));
  }
  XOAL_ASSIGN_OR_RETURN(auto cond, segments::ParseCondition(it->value(), "goal"));
  out.condition = std::move(cond);
  return std::optional<Goal>(std::move(out));
}

// Every string of a message is a Liquid template: one that does not compile is refused when the
// workflow is saved, naming where it is, rather than failing the step for every customer later.
Status CheckTemplates(const json::value& v, const std::string& path) {
  if (v.is_string()) {
    auto parsed = liquid::Parse(v.get_string());
    if (!parsed.ok()) return Status::InvalidArgument(parsed.status().message(), path);
  } else if (v.is_object()) {
    for (const auto& [k, m] : v.get_object()) {
      XOAL_RETURN_IF_ERROR(CheckTemplates(m, Join(path, k)));
    }
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      XOAL_RETURN_IF_ERROR(CheckTemplates(a[i], fmt::format("{}[{}]", path, i)));
    }
  }
  return Status::Ok();
}

// Whether the message, or one of its language variants, has `member` as a non-empty string.
bool HasText(const json::object& m, std::string_view member) {
  auto has = [&](const json::object& o) {
    const json::value* v = o.if_contains(member);
    return v && v->is_string() && !v->get_string().empty();
  };
  if (has(m)) return true;
  const json::value* variants = m.if_contains("variants");
  if (!variants || !variants->is_object()) return false;
  return std::any_of(
      variants->get_object().begin(), variants->get_object().end(),
      [&](const auto& kv) { return kv.value().is_object() && has(kv.value().get_object()); });
}

// The members a channel cannot send without (messaging's ValidateMessageForChannel checks the
// rendered message again at send time); a step without them would fail for every customer.
Status CheckMessageMembers(const std::string& channel, const json::object& m,
                           const std::string& path) {
  auto missing = [&](std::string_view what, std::string_view member) {
    return Status::InvalidArgument(fmt::format("a message of this step needs {}", what),
                                   Join(path, member));
  };
  if (channel == "email") {
    if (!HasText(m, "subject")) return missing("a subject", "subject");
    if (!HasText(m, "html") && !HasText(m, "text")) return missing("html or text", "html");
  } else if (channel == "sms") {
    if (!HasText(m, "body")) return missing("a body", "body");
  } else if (channel == "push") {
    if (!HasText(m, "title") && !HasText(m, "body") && !m.contains("data")) {
      return missing("a title, a body or data", "body");
    }
  } else if (!HasText(m, "url")) {
    return missing("a url", "url");
  }
  return Status::Ok();
}

Status ParseMessagingStep(const json::object& o, const std::string& path, Step& s) {
  static const std::map<std::string, std::string> kChannels = {{"send_email", "email"},
                                                               {"send_sms", "sms"},
                                                               {"send_push", "push"},
                                                               {"send_webhook", "webhook"},
                                                               {"http_request", "webhook"}};
  s.channel = kChannels.at(s.type);
  if (s.type == "http_request") {
    // The request itself is the message: {url, method, headers, body}.
    json::object m = o;
    for (const char* k : {"type", "next"}) m.erase(k);
    if (auto it = m.find("url"); it == m.end() || !it->value().is_string()) {
      return Status::InvalidArgument("url must be a string", path + ".url");
    }
    XOAL_RETURN_IF_ERROR(CheckTemplates(m, path));
    s.message = std::move(m);
    return Status::Ok();
  }
  XOAL_ASSIGN_OR_RETURN(const json::object* m, RequiredObject(o, "message", path));
  XOAL_RETURN_IF_ERROR(CheckMessageMembers(s.channel, *m, path + ".message"));
  XOAL_RETURN_IF_ERROR(CheckTemplates(*m, path + ".message"));
  s.message = *m;
  return Status::Ok();
}

Status ParseStepBody(const json::object& o, const std::string& path, Step& s) {
  if (s.type.starts_with("send_") || s.type == "http_request") {
    return ParseMessagingStep(o, path, s);
  }
  if (s.type == "delay") {
    auto it = o.find("duration");
    if (it == o.end()) return Status::InvalidArgument("duration is required", path + ".duration");
    XOAL_ASSIGN_OR_RETURN(s.duration, ParseSpan(it->value(), path + ".duration"));
  } else if (s.type == "wait_until") {
    if (o.contains("time_of_day") && (o.contains("attribute") || o.contains("offset"))) {
      return Status::InvalidArgument("wait_until takes time_of_day or attribute, not both",
                                     path + (o.contains("attribute") ? ".attribute" : ".offset"));
    }
    if (auto t = o.find("time_of_day"); t != o.end()) {
      XOAL_ASSIGN_OR_RETURN(s.time_of_day, ParseTimeOfDay(t->value(), path + ".time_of_day"));
    } else if (o.contains("attribute")) {
      XOAL_ASSIGN_OR_RETURN(s.attribute, RequiredString(o, "attribute", path));
      if (auto off = o.find("offset"); off != o.end()) {
        XOAL_RETURN_IF_ERROR(
            ParseSignedOffset(off->value(), path + ".offset", s.offset, s.offset_negative));
      }
    } else {
      return Status::InvalidArgument("wait_until needs time_of_day or attribute",
                                     path + ".time_of_day");
    }
  } else if (s.type == "wait_for_event") {
    XOAL_ASSIGN_OR_RETURN(s.event, RequiredString(o, "event", path));
    auto mk = OptionalBool(o, "match_key");
    if (!mk.ok()) return mk.status().WithFieldPrefix(path);
    s.match_key = mk->value_or(false);
    if (auto t = o.find("timeout"); t != o.end() && !t->value().is_null()) {
      XOAL_ASSIGN_OR_RETURN(auto span, ParseSpan(t->value(), path + ".timeout"));
      s.timeout = span;
    }
    XOAL_ASSIGN_OR_RETURN(s.timeout_next, OptionalStepName(o, "timeout_next", path));
    if (!s.timeout_next.empty() && !s.timeout) {
      // Without a timeout the wait never takes that way.
      return Status::InvalidArgument("timeout_next needs a timeout", path + ".timeout");
    }
  } else if (s.type == "branch") {
    auto c = o.find("condition");
    if (c == o.end()) return Status::InvalidArgument("condition is required", path + ".condition");
    XOAL_ASSIGN_OR_RETURN(auto cond, segments::ParseCondition(c->value(), path + ".condition"));
    s.condition = std::move(cond);
    XOAL_ASSIGN_OR_RETURN(s.yes, OptionalStepName(o, "yes", path));
    XOAL_ASSIGN_OR_RETURN(s.no, OptionalStepName(o, "no", path));
  } else if (s.type == "split") {
    auto b = o.find("branches");
    if (b == o.end() || !b->value().is_array() || b->value().get_array().empty()) {
      return Status::InvalidArgument("branches must be a non-empty list", path + ".branches");
    }
    int total = 0;
    const auto& arr = b->value().get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string bp = fmt::format("{}.branches[{}]", path, i);
      const json::object* bo = arr[i].if_object();
      const json::value* pct = bo ? bo->if_contains("percent") : nullptr;
      if (!pct || !pct->is_int64() || pct->get_int64() < 0 || pct->get_int64() > 100) {
        return Status::InvalidArgument("percent must be an integer from 0 to 100", bp + ".percent");
      }
      XOAL_ASSIGN_OR_RETURN(std::string next, RequiredString(*bo, "next", bp));
      s.branches.push_back({static_cast<int>(pct->get_int64()), std::move(next)});
      total += static_cast<int>(pct->get_int64());
    }
    if (total != 100) {
      return Status::InvalidArgument("the percentages must add up to 100", path + ".branches");
    }
  } else if (s.type == "update_attributes") {
    XOAL_ASSIGN_OR_RETURN(const json::object* a, RequiredObject(o, "attributes", path));
    s.attributes = *a;
  } else if (s.type == "add_tag" || s.type == "remove_tag") {
    XOAL_ASSIGN_OR_RETURN(s.tag, RequiredString(o, "tag", path));
  } else if (s.type == "add_to_segment" || s.type == "remove_from_segment") {
    XOAL_ASSIGN_OR_RETURN(s.segment_id, RequiredString(o, "segment_id", path));
  }
  return Status::Ok();
}

// The members each step type reads (SPEC "Shapes", Workflows); another one is refused.
std::span<const std::string_view> StepMembers(std::string_view type) {
  static constexpr std::string_view kMessage[] = {"type", "next", "message"};
  static constexpr std::string_view kRequest[] = {"type",   "next",    "url",
                                                  "method", "headers", "body"};
  static constexpr std::string_view kDelay[] = {"type", "next", "duration"};
  static constexpr std::string_view kWaitUntil[] = {"type", "next", "time_of_day", "attribute",
                                                    "offset"};
  static constexpr std::string_view kWaitForEvent[] = {"type",      "next",    "event",
                                                       "match_key", "timeout", "timeout_next"};
  // A branch goes on through yes/no, a split through its branches and exit nowhere: a `next`
  // there would be ignored at run time while making its target look reachable.
  static constexpr std::string_view kBranch[] = {"type", "condition", "yes", "no"};
  static constexpr std::string_view kSplit[] = {"type", "branches"};
  static constexpr std::string_view kAttributes[] = {"type", "next", "attributes"};
  static constexpr std::string_view kTag[] = {"type", "next", "tag"};
  static constexpr std::string_view kSegment[] = {"type", "next", "segment_id"};
  static constexpr std::string_view kExit[] = {"type"};
  if (type.starts_with("send_")) return kMessage;
  if (type == "http_request") return kRequest;
  if (type == "delay") return kDelay;
  if (type == "wait_until") return kWaitUntil;
  if (type == "wait_for_event") return kWaitForEvent;
  if (type == "branch") return kBranch;
  if (type == "split") return kSplit;
  if (type == "update_attributes") return kAttributes;
  if (type == "add_tag" || type == "remove_tag") return kTag;
  if (type == "add_to_segment" || type == "remove_from_segment") return kSegment;
  return kExit;
}

Result<Step> ParseStep(const std::string& name, const json::value& v) {
  const std::string path = "steps." + name;
  if (!v.is_object()) return Status::InvalidArgument("a step must be an object", path);
  const json::object& o = v.get_object();
  Step s;
  s.name = name;
  XOAL_ASSIGN_OR_RETURN(s.type, RequiredString(o, "type", path));
  if (!StepTypes().contains(s.type)) {
    return Status::InvalidArgument(fmt::format("unknown step type \"{}\"", s.type), path + ".type");
  }
  XOAL_ASSIGN_OR_RETURN(s.next, OptionalStepName(o, "next", path));
  Status known = CheckKnownMembers(o, StepMembers(s.type), "this step type");
  if (!known.ok()) return known.WithFieldPrefix(path);
  XOAL_RETURN_IF_ERROR(ParseStepBody(o, path, s));
  return s;
}

// The steps a step can go to, each with the member that names it.
std::vector<std::pair<std::string, std::string>> Successors(const Step& s) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& member, const std::string& target) {
    if (!target.empty()) out.emplace_back(member, target);
  };
  add("next", s.next);
  add("timeout_next", s.timeout_next);
  add("yes", s.yes);
  add("no", s.no);
  for (size_t i = 0; i < s.branches.size(); ++i) {
    add(fmt::format("branches[{}].next", i), s.branches[i].next);
  }
  return out;
}

Status CheckGraph(const Definition& d) {
  for (const auto& [name, step] : d.steps) {
    for (const auto& [member, target] : Successors(step)) {
      if (!d.steps.contains(target)) {
        return Status::InvalidArgument(fmt::format("step \"{}\" does not exist", target),
                                       fmt::format("steps.{}.{}", name, member));
      }
    }
  }
  std::set<std::string> reached;
  std::vector<std::string> todo{d.start};
  while (!todo.empty()) {
    std::string n = todo.back();
    todo.pop_back();
    if (!reached.insert(n).second) continue;
    for (const auto& [m, t] : Successors(d.steps.at(n))) todo.push_back(t);
  }
  for (const auto& [name, step] : d.steps) {
    if (!reached.contains(name)) {
      return Status::InvalidArgument(
          fmt::format("step \"{}\" cannot be reached from the start step", name), "steps." + name);
    }
  }
  // A cycle made only of steps that do not wait would run forever in one go. A delay or
  // timeout of zero does not wait either: the run would be due again at once, for ever.
  auto zero = [](const Span& span) { return span.days == 0 && span.exact.count() == 0; };
  auto waits = [&](const Step& s) {
    if (s.type == "delay") return !zero(s.duration);
    if (s.type == "wait_for_event") return !s.timeout || !zero(*s.timeout);
    return s.IsWait();
  };
  std::map<std::string, int> color;  // 0 new, 1 on the path, 2 done
  std::function<std::optional<std::string>(const std::string&)> visit =
      [&](const std::string& n) -> std::optional<std::string> {
    const Step& s = d.steps.at(n);
    if (waits(s)) return std::nullopt;
    color[n] = 1;
    for (const auto& [m, t] : Successors(s)) {
      if (color[t] == 1 && !waits(d.steps.at(t))) return t;
      if (color[t] == 0) {
        if (auto found = visit(t)) return found;
      }
    }
    color[n] = 2;
    return std::nullopt;
  };
  for (const auto& [name, step] : d.steps) {
    if (color[name] != 0) continue;
    if (auto found = visit(name)) {
      return Status::InvalidArgument(
          fmt::format("step \"{}\" is on a loop with no delay, wait_until or wait_for_event step",
                      *found),
          "steps." + *found);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Span> ParseSpan(const json::value& v, const std::string& path) {
  static const std::map<std::string, int64_t> kUnits = {
      {"seconds", 1000}, {"minutes", 60'000}, {"hours", 3'600'000}};
  const json::object* o = v.if_object();
  if (!o || o->empty()) {
    return Status::InvalidArgument("must be an object of weeks, days, hours, minutes or seconds",
                                   path);
  }
  Span out;
  for (const auto& [k, n] : *o) {
    if (!n.is_int64() || n.get_int64() < 0 || n.get_int64() > 100'000'000) {
      return Status::InvalidArgument("must be a non-negative integer",
                                     fmt::format("{}.{}", path, std::string(k)));
    }
    int64_t count = n.get_int64();
    if (k == "days" || k == "weeks") {
      out.days += k == "weeks" ? count * 7 : count;
    } else if (auto u = kUnits.find(std::string(k)); u != kUnits.end()) {
      out.exact += std::chrono::milliseconds(count * u->second);
    } else {
      return Status::InvalidArgument("unknown unit; use weeks, days, hours, minutes or seconds",
                                     fmt::format("{}.{}", path, std::string(k)));
    }
  }
  // Times are kept to the millisecond between 1677 and 2262; a longer span would wrap around.
  constexpr int64_t kDayMs = 86'400'000;
  if (out.days + out.exact.count() / kDayMs > kMaxSpanDays) {
    return Status::InvalidArgument(
        fmt::format("a span may be at most {} days (100 years)", kMaxSpanDays), path);
  }
  return out;
}

namespace {

constexpr std::string_view kDefinitionMembers[] = {"trigger", "entry", "goal",
                                                   "start",   "steps", "limits"};
constexpr std::string_view kEntryMembers[] = {"re_entry", "filter"};
constexpr std::string_view kLimitsMembers[] = {"send_rate_per_minute"};

// The members each trigger type reads; another one is refused, as a misspelt `where` or `key`
// would otherwise change what starts runs without a word.
std::span<const std::string_view> TriggerMembers(TriggerType type) {
  static constexpr std::string_view kEvent[] = {"type", "event", "where", "key"};
  static constexpr std::string_view kSegment[] = {"type", "segment_id"};
  static constexpr std::string_view kAttribute[] = {"type", "attribute"};
  static constexpr std::string_view kApi[] = {"type", "create_customers"};
  static constexpr std::string_view kDate[] = {"type", "attribute", "offset", "at"};
  switch (type) {
    case TriggerType::kEvent:
      return kEvent;
    case TriggerType::kSegmentEntered:
    case TriggerType::kSegmentLeft:
      return kSegment;
    case TriggerType::kAttributeChanged:
      return kAttribute;
    case TriggerType::kApi:
      return kApi;
    case TriggerType::kDateAttribute:
      return kDate;
  }
  return kApi;
}

Status CheckMembersAt(const json::object& body, std::string_view member,
                      std::span<const std::string_view> known, std::string_view what) {
  const json::value* v = body.if_contains(member);
  if (!v || !v->is_object()) return Status::Ok();  // absent or mistyped: the parser says so
  Status st = CheckKnownMembers(v->get_object(), known, what);
  return st.ok() ? st : st.WithFieldPrefix(std::string(member));
}

}  // namespace

Status CheckNewDefinition(const Definition& def) {
  for (const auto& [name, step] : def.steps) {
    if (!step.type.starts_with("send_") && step.type != "http_request") continue;
    std::string path = "steps." + name + (step.type == "http_request" ? "" : ".message");
    XOAL_RETURN_IF_ERROR(
        messaging::CheckMessageShape(messaging::ParseChannel(step.channel), step.message, path));
  }
  return Status::Ok();
}

Result<Definition> ParseDefinition(const json::object& body) {
  Definition d;
  XOAL_RETURN_IF_ERROR(CheckKnownMembers(body, kDefinitionMembers, "a workflow"));
  XOAL_ASSIGN_OR_RETURN(d.trigger, ParseTrigger(body));
  XOAL_RETURN_IF_ERROR(
      CheckMembersAt(body, "trigger", TriggerMembers(d.trigger.type), "this trigger type"));
  XOAL_RETURN_IF_ERROR(CheckMembersAt(body, "entry", kEntryMembers, "entry"));
  XOAL_RETURN_IF_ERROR(CheckMembersAt(body, "limits", kLimitsMembers, "limits"));
  XOAL_ASSIGN_OR_RETURN(d.entry, ParseEntry(body));
  XOAL_ASSIGN_OR_RETURN(d.goal, ParseGoal(body));
  XOAL_ASSIGN_OR_RETURN(const json::object* steps, RequiredObject(body, "steps", ""));
  if (steps->empty() || steps->size() > kMaxSteps) {
    return Status::InvalidArgument(fmt::format("steps must hold 1 to {} steps", kMaxSteps),
                                   "steps");
  }
  for (const auto& [name, v] : *steps) {
    XOAL_ASSIGN_OR_RETURN(Step s, ParseStep(std::string(name), v));
    d.steps.emplace(std::string(name), std::move(s));
  }
  XOAL_ASSIGN_OR_RETURN(d.start, RequiredString(body, "start", ""));
  if (!d.steps.contains(d.start)) {
    return Status::InvalidArgument(fmt::format("step \"{}\" does not exist", d.start), "start");
  }
  if (auto l = body.find("limits"); l != body.end() && !l->value().is_null()) {
    const json::object* lo = l->value().if_object();
    const json::value* rate = lo ? lo->if_contains("send_rate_per_minute") : nullptr;
    if (!lo || (rate && (!rate->is_int64() || rate->get_int64() < 0 ||
                         rate->get_int64() > kMaxSendRatePerMinute))) {
      return Status::InvalidArgument(
          fmt::format("send_rate_per_minute must be an integer from 0 (no limit) to {}",
                      kMaxSendRatePerMinute),
          "limits.send_rate_per_minute");
    }
    if (rate) d.send_rate_per_minute = static_cast<int>(rate->get_int64());
  }
  // match_key compares with the run's key, which only a keyed event trigger gives: without one
  // the wait would take any event of that name, the opposite of what the step asks.
  for (const auto& [name, step] : d.steps) {
    if (step.match_key && (d.trigger.type != TriggerType::kEvent || !d.trigger.key)) {
      return Status::InvalidArgument("match_key needs an event trigger with a key (trigger.key)",
                                     fmt::format("steps.{}.match_key", name));
    }
  }
  XOAL_RETURN_IF_ERROR(CheckGraph(d));
  return d;
}

}  // namespace xoal::workflows
