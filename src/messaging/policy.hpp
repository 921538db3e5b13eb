// Deliverability policy: whether a message may go to a customer now, later, or not at all
// (SPEC "Messages and channels", "Workflows" limits; design in docs/messaging.md,
// "Deliverability").
//
// The outbox asks at enqueue time (EnqueueInTxn) and again just before each send (a customer
// may unsubscribe, or an address be suppressed, while a message waits). Workflows and
// broadcasts may ask first, to count or report skips without rendering; the outbox decides in
// the end either way.
//
// Checks, in this order; the first that applies decides:
//   no_address    the channel needs an address (email, phone, push token) and there is none.
//   suppressed    the address is on the project's suppression list (transactional included).
//   unsubscribed  marketing only: the customer's `<channel>_subscribed` is false (absent means
//                 subscribed).
//   quiet_hours   marketing only: the local time is inside the project's quiet hours; `hold`
//                 moves the send to the window's end, `skip` skips.
//   frequency_cap marketing only: the customer already has `per_day` capped messages planned
//                 on the local day the message would go out.
// Webhooks go to the business, not to the person: no check applies to them.
// "Local" is the customer's `timezone` attribute, else the project's timezone.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/status.hpp"
#include "core/projects.hpp"
#include "messaging/channel_config.hpp"
#include "store/store.hpp"

namespace xoal::messaging {

// The closed set of reasons a message is skipped; the outbox stores the name in `skip_reason`.
enum class SkipReason { kNoAddress, kUnsubscribed, kSuppressed, kFrequencyCap, kQuietHours };
inline constexpr SkipReason kAllSkipReasons[] = {SkipReason::kNoAddress, SkipReason::kUnsubscribed,
                                                 SkipReason::kSuppressed, SkipReason::kFrequencyCap,
                                                 SkipReason::kQuietHours};
std::string_view SkipReasonName(SkipReason r);  // "no_address", "unsubscribed", ...
std::optional<SkipReason> ParseSkipReason(std::string_view name);

struct Decision {
  enum class Action { kSend, kHold, kSkip };
  Action action = Action::kSend;
  std::optional<SkipReason> reason;  // kSkip: why; kHold: kQuietHours
  SystemTime send_at;                // kSend: now; kHold: when the quiet-hours window ends
  bool send() const { return action == Action::kSend; }
  bool skip() const { return action == Action::kSkip; }
  bool hold() const { return action == Action::kHold; }
};

// The form addresses are compared and stored in: emails lower-cased and trimmed, phones
// without spaces, dashes, dots and parentheses.
std::string NormalizeAddress(Channel channel, std::string_view address);

// The time zone local days and hours are counted in: the customer's `timezone` attribute when
// it names a zone, else the project's, else UTC.
std::string LocalZoneName(const store::Customer& customer, const core::MessagingSettings& s);

// What the checks read, gathered by CheckDelivery; Decide is pure over it (unit tests).
struct PolicyFacts {
  Channel channel = Channel::kEmail;
  bool transactional = false;
  std::string address;
  bool suppressed = false;
  bool subscribed = true;
  std::string zone = "UTC";  // IANA name
  core::MessagingSettings settings;
  SystemTime now;
};

// `count_capped(from, to)`: capped messages planned in [from, to) (asked only when a cap is
// set and the message is marketing).
Result<Decision> Decide(
    const PolicyFacts& facts,
    const std::function<Result<int64_t>(SystemTime from, SystemTime to)>& count_capped);

// Decides for `customer` of `project`. `address` is the recipient the message would go to
// (RecipientAddress in messaging/compose.hpp when the caller has no other). Errors: store errors
// only.
Result<Decision> CheckDelivery(store::ReadTxn& txn, const store::Project& project,
                               const store::Customer& customer, Channel channel,
                               std::string_view address, bool transactional, SystemTime now);

// Only the checks that can change while a message waits (suppressed, unsubscribed), for the
// outbox to repeat just before a send; nullopt when the message may go.
Result<std::optional<SkipReason>> RecheckBeforeSend(store::ReadTxn& txn,
                                                    const store::Project& project,
                                                    const store::Customer& customer,
                                                    Channel channel, std::string_view address,
                                                    bool transactional);

}  // namespace xoal::messaging
