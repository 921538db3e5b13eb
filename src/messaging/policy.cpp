#include "messaging/policy.hpp"

#include <date/tz.h>

#include <algorithm>
#include <cctype>

#include "common/time_format.hpp"

namespace xoal::messaging {
namespace {

constexpr std::string_view kSkipNames[] = {"no_address", "unsubscribed", "suppressed",
                                           "frequency_cap", "quiet_hours"};

using LocalMinutes = date::local_time<std::chrono::minutes>;

const date::time_zone* Zone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return date::locate_zone("UTC");
  }
}

// The instant a local time names; a time skipped by a DST change maps to the change itself,
// a repeated one to its first occurrence.
SystemTime ToSys(const date::time_zone* zone, LocalMinutes local) {
  try {
    return zone->to_sys(local, date::choose::earliest);
  } catch (const std::exception&) {
    // Nonexistent local time: the instant of the transition that skipped it.
    auto info = zone->get_info(local);
    return std::chrono::time_point_cast<SystemTime::duration>(info.first.end);
  }
}

// When the quiet-hours window containing `now` ends, or nullopt when `now` is outside it.
std::optional<SystemTime> QuietUntil(const core::QuietHours& q, const date::time_zone* zone,
                                     SystemTime now) {
  auto local = std::chrono::floor<std::chrono::minutes>(zone->to_local(now));
  auto day = std::chrono::floor<date::days>(local);
  int minute = static_cast<int>(std::chrono::floor<std::chrono::minutes>(local - day).count());
  bool wraps = q.start_minute > q.end_minute;
  bool inside = wraps ? (minute >= q.start_minute || minute < q.end_minute)
                      : (minute >= q.start_minute && minute < q.end_minute);
  if (!inside) return std::nullopt;
  // The window ends today, unless it wraps and we are in its evening part.
  auto end_day = (wraps && minute >= q.end_minute) ? day + date::days(1) : day;
  return ToSys(zone, end_day + std::chrono::minutes(q.end_minute));
}

// [start, end) of the local day containing `t`.
std::pair<SystemTime, SystemTime> LocalDay(const date::time_zone* zone, SystemTime t) {
  auto local = std::chrono::floor<std::chrono::minutes>(zone->to_local(t));
  auto day = std::chrono::floor<date::days>(local);
  return {ToSys(zone, day), ToSys(zone, day + date::days(1))};
}

bool Subscribed(const store::Customer& c, Channel channel) {
  std::string name = std::string(ChannelName(channel)) + "_subscribed";
  auto it = c.attributes.find(name);
  return it == c.attributes.end() || !it->value().is_bool() || it->value().get_bool();
}

bool NeedsAddress(Channel channel) { return channel != Channel::kWebhook; }

Decision Skip(SkipReason r, SystemTime now) { return Decision{Decision::Action::kSkip, r, now}; }

}  // namespace

std::string_view SkipReasonName(SkipReason r) { return kSkipNames[static_cast<int>(r)]; }

std::optional<SkipReason> ParseSkipReason(std::string_view name) {
  for (SkipReason r : kAllSkipReasons) {
    if (SkipReasonName(r) == name) return r;
  }
  return std::nullopt;
}

std::string NormalizeAddress(Channel channel, std::string_view address) {
  std::string out;
  for (char c : address) {
    auto u = static_cast<unsigned char>(c);
    if (channel == Channel::kEmail) {
      if (!std::isspace(u)) out.push_back(static_cast<char>(std::tolower(u)));
    } else if (channel == Channel::kSms) {
      if (!std::isspace(u) && c != '-' && c != '.' && c != '(' && c != ')') out.push_back(c);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string LocalZoneName(const store::Customer& customer, const core::MessagingSettings& s) {
  auto it = customer.attributes.find("timezone");
  if (it != customer.attributes.end() && it->value().is_string() &&
      IsValidTimeZone(it->value().get_string())) {
    return std::string(it->value().get_string());
  }
  return IsValidTimeZone(s.timezone) ? s.timezone : "UTC";
}

Result<Decision> Decide(
    const PolicyFacts& f,
    const std::function<Result<int64_t>(SystemTime from, SystemTime to)>& count_capped) {
  if (!NeedsAddress(f.channel)) return Decision{Decision::Action::kSend, std::nullopt, f.now};
  if (f.address.empty()) return Skip(SkipReason::kNoAddress, f.now);
  if (f.suppressed) return Skip(SkipReason::kSuppressed, f.now);
  if (f.transactional) return Decision{Decision::Action::kSend, std::nullopt, f.now};
  if (!f.subscribed) return Skip(SkipReason::kUnsubscribed, f.now);

  const date::time_zone* zone = Zone(f.zone);
  Decision d{Decision::Action::kSend, std::nullopt, f.now};
  if (f.settings.quiet_hours) {
    if (auto until = QuietUntil(*f.settings.quiet_hours, zone, f.now)) {
      if (!f.settings.quiet_hours->hold) return Skip(SkipReason::kQuietHours, f.now);
      d = Decision{Decision::Action::kHold, SkipReason::kQuietHours, *until};
    }
  }
  if (f.settings.per_day) {
    auto [from, to] = LocalDay(zone, d.send_at);
    XOAL_ASSIGN_OR_RETURN(int64_t planned, count_capped(from, to));
    if (planned >= *f.settings.per_day) return Skip(SkipReason::kFrequencyCap, f.now);
  }
  return d;
}

namespace {

Result<PolicyFacts> GatherFacts(store::ReadTxn& txn, const store::Project& project,
                                const store::Customer& customer, Channel channel,
                                std::string_view address, bool transactional, SystemTime now) {
  PolicyFacts f;
  f.channel = channel;
  f.transactional = transactional;
  f.address = NormalizeAddress(channel, address);
  f.subscribed = Subscribed(customer, channel);
  f.settings = core::ProjectMessagingSettings(project);
  f.zone = LocalZoneName(customer, f.settings);
  f.now = now;
  if (NeedsAddress(channel) && !f.address.empty()) {
    XOAL_ASSIGN_OR_RETURN(auto s, txn.GetSuppression(project.id, f.address));
    f.suppressed = s.has_value();
  }
  return f;
}

}  // namespace

Result<Decision> CheckDelivery(store::ReadTxn& txn, const store::Project& project,
                               const store::Customer& customer, Channel channel,
                               std::string_view address, bool transactional, SystemTime now) {
  XOAL_ASSIGN_OR_RETURN(auto facts,
                        GatherFacts(txn, project, customer, channel, address, transactional, now));
  return Decide(facts, [&](SystemTime from, SystemTime to) {
    return txn.CountCappedMessages(project.id, customer.usid, from, to);
  });
}

Result<std::optional<SkipReason>> RecheckBeforeSend(store::ReadTxn& txn,
                                                    const store::Project& project,
                                                    const store::Customer& customer,
                                                    Channel channel, std::string_view address,
                                                    bool transactional) {
  XOAL_ASSIGN_OR_RETURN(auto facts, GatherFacts(txn, project, customer, channel, address,
                                                transactional, SystemTime{}));
  // Only the checks whose facts can change while the message waits.
  facts.settings.quiet_hours.reset();
  facts.settings.per_day.reset();
  XOAL_ASSIGN_OR_RETURN(auto d, Decide(facts, nullptr));
  return d.skip() ? d.reason : std::nullopt;
}

}  // namespace xoal::messaging
