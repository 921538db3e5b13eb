// Outbox: the durable queue every message passes through (SPEC "Messages and channels"; design in
// docs/messaging.md). Enqueue() stores a rendered message as `queued`; worker threads claim due
// messages, record the attempt (status `sending`, attempt count, start time) in a committed write
// BEFORE calling the channel sender, send under the message's idempotency key, and record the
// outcome: `sent`, back to `queued` with a back-off for a temporary failure, or `failed`. Sent and
// failed messages add an event (`message_sent`, `message_failed`, type track, source system) to
// the customer, so segments can use engagement.
//
// Crash safety: a message is never sent without a committed record of the attempt. Recover(),
// called once before Start(), re-queues messages a crash left `sending` as `in_doubt` and counts
// the recovery. A worker that claims an in-doubt email whose channel has a lookup_url asks the
// provider first (found: recorded sent, not sent again; not found: sent; undecided: retried
// later, unsent); other in-doubt messages are sent again under the same idempotency key, which
// SMS and webhook receivers de-duplicate on and push turns into the same collapse id.
//
// Thread-safe. Time comes only from the injected Clock; Wake() makes idle workers re-read it
// (tests move a fake clock, then wake).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "channels/email.hpp"
#include "channels/push.hpp"
#include "channels/sms.hpp"
#include "channels/webhook.hpp"
#include "common/clock.hpp"
#include "http/metrics.hpp"
#include "messaging/channel_config.hpp"
#include "store/store.hpp"

namespace xoal::messaging {

struct OutboxOptions {
  int workers = 4;
  // Attempts before a temporary failure becomes final (`failed`).
  int max_attempts = 6;
  // Back-off before attempt n+1: base * 2^(n-1), at most max_backoff, then jittered down to
  // between half and all of that. A provider's Retry-After raises it, up to max_retry_after.
  std::chrono::seconds base_backoff{30};
  std::chrono::seconds max_backoff{std::chrono::hours(1)};
  std::chrono::seconds max_retry_after{std::chrono::hours(6)};
  // Longest real-time sleep of an idle worker between looks at the clock.
  std::chrono::milliseconds idle_wait{1000};
};

// The channel senders; they must outlive the outbox.
struct Senders {
  channels::EmailSender& email;
  channels::SmsSender& sms;
  channels::PushSender& push;
  channels::WebhookSender& webhook;
};

struct EnqueueRequest {
  std::string project_id;
  std::string usid;
  Channel channel = Channel::kEmail;
  json::object content;  // the rendered message, with "to" set to the recipient (not webhooks)
  std::string idempotency_key;  // empty: the new message's id
  bool transactional = false;
};

struct EnqueueResult {
  store::OutboxMessage message;
  bool created = false;  // false when the idempotency key named an existing message
};

// Adds a message inside the caller's write transaction, so that a workflow step can enqueue in
// the same commit as its own state. The same idempotency key again in the project returns the
// existing message instead (whatever its status).
//
// The deliverability policy (messaging/policy.hpp) decides at once, and the message is stored
// either way:
//   send: status `queued`, due now;
//   hold: status `queued`, next_attempt_at = when the quiet-hours window ends, last_answer
//         {"outcome": "held", "reason": "quiet_hours", "until": ...};
//   skip: status `skipped`, skip_reason one of no_address, unsubscribed, suppressed,
//         frequency_cap, quiet_hours; never sent.
// Callers count skips by reason from the returned message's `status` and `skip_reason`.
// `content.to` absent: the customer's address on the channel is filled in (RecipientAddress).
// `usid` of a merged-away profile is followed to the surviving one.
// Errors: kInvalidArgument (field "idempotency_key") for a key channels cannot carry; kNotFound
// for an unknown project or customer; store errors.
Result<EnqueueResult> EnqueueInTxn(store::WriteTxn& txn, const EnqueueRequest& request,
                                   SystemTime now);

// The delay before the next attempt after `attempts` attempts (>= 1), with `unit` in [0, 1)
// choosing the jitter. Pure; see OutboxOptions.
std::chrono::milliseconds RetryDelay(int attempts, std::optional<std::chrono::seconds> retry_after,
                                     const OutboxOptions& options, double unit);

// A uniform number in [0, 1) from OpenSSL's CSPRNG (common/crypto).
double RandomUnit();

// The message as the Messages API shows it: no content, no recipient, no secrets.
json::object OutboxMessageToJson(const store::OutboxMessage& m);

class Outbox {
 public:
  // `store` is the segment engine's store, so that the events recorded keep segments current.
  // All references must outlive the outbox; `metrics` may be null.
  Outbox(store::Store& store, const Clock& clock, Senders senders, Metrics* metrics,
         OutboxOptions options = {});
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // EnqueueInTxn in a write of its own, then wakes a worker.
  Result<EnqueueResult> Enqueue(const EnqueueRequest& request);

  // Re-queues every message left `sending` (an attempt interrupted by a crash), due now, with
  // `recoveries` counted and `in_doubt` set. Asks no provider (startup must not wait on one):
  // the workers do. Returns how many. Requires: called before Start().
  Result<int> Recover();
  // Starts the workers. Requires: not started.
  void Start();
  // Lets in-flight sends finish and record their outcome, then joins the workers.
  void Stop();
  // Makes idle workers look for due messages now (after a test moved the clock).
  void Wake();

 private:
  void Run();
  struct Claimed {
    std::optional<store::OutboxMessage> message;  // claimed for sending
    bool skipped = false;  // the due message was skipped instead (policy re-check)
  };
  // Takes the earliest due message: records the attempt and returns it, or, when the customer
  // unsubscribed or the address was suppressed while it waited, marks it skipped.
  Result<Claimed> Claim();
  // One attempt as RecordOutcome stores it.
  struct Attempt {
    channels::SendResult result;
    bool in_doubt = false;    // the provider could not say whether it has the message: unsent
    bool reconciled = false;  // the provider has it: recorded sent without sending
  };
  void Deliver(store::OutboxMessage m);
  channels::SendResult Send(const store::OutboxMessage& m, const json::object& config);
  // Requires: m.in_doubt, an email. Asks the provider's lookup API when the channel has one:
  // found is reconciled, not found is sent, undecided stays in doubt unsent. Without a
  // lookup_url it sends again under the same Message-ID.
  Attempt SendInDoubtEmail(const store::OutboxMessage& m, const json::object& config);
  void RecordOutcome(store::OutboxMessage m, const Attempt& attempt);
  void Count(const char* name);

  // Constant after construction.
  store::Store& store_;
  const Clock& clock_;
  const Senders senders_;
  Metrics* const metrics_;
  const OutboxOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;             // guarded by mu_
  uint64_t wake_count_ = 0;           // guarded by mu_; bumped by Wake() and Enqueue()
  std::vector<std::thread> workers_;  // started and joined by the owner's thread only
};

}  // namespace xoal::messaging
