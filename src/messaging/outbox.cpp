#include "messaging/outbox.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "core/projects.hpp"
#include "messaging/compose.hpp"
#include "messaging/links.hpp"
#include "messaging/policy.hpp"

namespace xoal::messaging {
namespace {

constexpr int kRecoverPage = 500;
constexpr size_t kRandomDigits = 12;  // 36^12 < 2^63: exact in an int64, ~62 bits of randomness

std::string Text(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                  : std::string();
}

json::value OptTime(const std::optional<SystemTime>& t) {
  return t ? json::value(FormatIsoTime(*t)) : json::value(nullptr);
}

channels::EmailMessage EmailFrom(const store::OutboxMessage& m) {
  channels::EmailMessage e;
  e.to = Text(m.content, "to");
  e.from = Text(m.content, "from");
  e.subject = Text(m.content, "subject");
  e.text = Text(m.content, "text");
  e.html = Text(m.content, "html");
  e.transactional = m.transactional;
  e.unsubscribe_url = Text(m.content, "unsubscribe_url");
  e.unsubscribe_mailto = Text(m.content, "unsubscribe_mailto");
  return e;
}

channels::PushMessage PushFrom(const store::OutboxMessage& m) {
  channels::PushMessage p;
  p.device_token = Text(m.content, "to");
  p.title = Text(m.content, "title");
  p.body = Text(m.content, "body");
  if (auto d = m.content.find("data"); d != m.content.end() && d->value().is_object()) {
    // FCM data values are strings; other JSON values travel as their JSON text.
    for (const auto& [k, v] : d->value().get_object()) {
      p.data[std::string(k)] = v.is_string() ? std::string(v.get_string()) : json::serialize(v);
    }
  }
  return p;
}

channels::WebhookRequest WebhookFrom(const store::OutboxMessage& m) {
  channels::WebhookRequest w;
  w.url = Text(m.content, "url");
  if (std::string method = Text(m.content, "method"); !method.empty()) w.method = method;
  if (auto h = m.content.find("headers"); h != m.content.end() && h->value().is_object()) {
    for (const auto& [k, v] : h->value().get_object()) {
      if (v.is_string()) w.headers.emplace_back(std::string(k), std::string(v.get_string()));
    }
  }
  if (auto b = m.content.find("body"); b != m.content.end() && !b->value().is_null()) {
    w.body =
        b->value().is_string() ? std::string(b->value().get_string()) : json::serialize(b->value());
  }
  return w;
}

channels::SendResult ConfigFailure(const Status& st) {
  channels::SendResult r;
  r.outcome = channels::Outcome::kPermanentFailure;
  r.reason = "invalid_config";
  r.answer.error = "invalid_config: " + st.message();
  return r;
}

// One attempt through `sender` when the stored configuration converts, else invalid_config.
template <typename Sender, typename Message, typename Config>
channels::SendResult SendVia(Sender& sender, const Message& message, const std::string& key,
                             const Result<Config>& config) {
  if (!config.ok()) return ConfigFailure(config.status());
  return sender.Send(message, key, *config);
}

std::string_view LookupOutcomeName(channels::LookupOutcome outcome) {
  switch (outcome) {
    case channels::LookupOutcome::kFound:
      return "found";
    case channels::LookupOutcome::kNotFound:
      return "not_found";
    case channels::LookupOutcome::kUndecided:
      return "undecided";
  }
  return "undecided";
}

json::object AnswerJson(const channels::SendResult& r, int attempt) {
  json::object a{{"attempt", attempt},    {"outcome", channels::OutcomeName(r.outcome)},
                 {"reason", r.reason},    {"status", r.answer.status},
                 {"body", r.answer.body}, {"error", r.answer.error}};
  a["retry_after_s"] = r.retry_after ? json::value(r.retry_after->count()) : json::value(nullptr);
  return a;
}

// The customer `usid` names, following merges; nullopt when deleted.
Result<std::optional<store::Customer>> LiveCustomer(store::ReadTxn& txn,
                                                    const std::string& project_id,
                                                    const std::string& usid) {
  XOAL_ASSIGN_OR_RETURN(auto c, txn.FindCustomer(project_id, store::CustomerKey::kUsid, usid));
  if (c) return c;
  XOAL_ASSIGN_OR_RETURN(auto into, txn.FindMergedInto(project_id, usid));
  if (!into) return std::optional<store::Customer>();
  return txn.FindCustomer(project_id, store::CustomerKey::kUsid, *into);
}

// The deliverability checks that can change while a message waits, repeated before a send.
Result<std::optional<SkipReason>> RecheckInTxn(store::ReadTxn& txn, const store::OutboxMessage& m) {
  auto channel = ParseChannel(m.channel);
  if (!channel || *channel == Channel::kWebhook) return std::optional<SkipReason>();
  XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(m.project_id));
  XOAL_ASSIGN_OR_RETURN(auto customer, LiveCustomer(txn, m.project_id, m.usid));
  if (!project || !customer) return std::optional<SkipReason>();
  return RecheckBeforeSend(txn, *project, *customer, *channel, Text(m.content, "to"),
                           m.transactional);
}

// Email links back to Xoal. Marketing email gets the customer's one-click unsubscribe link
// (unless the message brings its own) for List-Unsubscribe, and shows it in its body (SPEC
// "Messages and channels"): each part (html, text) that shows neither that link nor Xoal's own
// for the customer (what {{ unsubscribe_url }} renders to) gets a footer with the former. Here,
// where the Messages API, broadcasts and workflows all enqueue, so no path can miss it. HTML gets
// open and click tracking when enabled; its footer is added after tracking, so the footer's link
// is the List-Unsubscribe one and never a click redirect, while whether it needs one is decided
// on the HTML as written. The click destinations are kept in content.links: the only URLs
// /t/click will redirect to.
void AddLinks(store::OutboxMessage& m, const core::MessagingSettings& s) {
  std::string html = Text(m.content, "html");
  std::string footer_url;  // set when the HTML needs a footer with it
  if (!m.transactional) {
    std::string xoal_url = UnsubscribeUrl(s, m.project_id, m.usid);
    if (Text(m.content, "unsubscribe_url").empty()) m.content["unsubscribe_url"] = xoal_url;
    std::string url = Text(m.content, "unsubscribe_url");
    std::string text = Text(m.content, "text");
    if (!text.empty() && !ShowsLink(text, xoal_url)) {
      m.content["text"] = TextWithUnsubscribeFooter(text, url);
    }
    if (!html.empty() && !ShowsLink(html, xoal_url) && !ShowsLink(html, url)) footer_url = url;
  }
  if (!html.empty() && (s.track_opens || s.track_clicks)) {
    TrackedHtml tracked = AddTracking(html, s, m.project_id, m.usid, m.id);
    html = std::move(tracked.html);
    json::array links;
    for (auto& l : tracked.links) links.emplace_back(std::move(l));
    m.content["links"] = std::move(links);
  }
  if (!footer_url.empty()) html = HtmlWithUnsubscribeFooter(html, footer_url);
  if (!html.empty()) m.content["html"] = std::move(html);
}

// Marks `m` skipped for `reason` (the check repeated just before a send).
void MarkSkipped(store::OutboxMessage& m, SkipReason reason, SystemTime now) {
  m.status = "skipped";
  m.skip_reason = std::string(SkipReasonName(reason));
  m.next_attempt_at.reset();
  m.updated_at = now;
  m.last_answer = json::object{{"outcome", "skipped"}, {"reason", m.skip_reason}};
}

// The engagement event of a final outcome, on the customer (or the profile it was merged into).
Status RecordEngagementEvent(store::WriteTxn& txn, const store::OutboxMessage& m,
                             const channels::SendResult& r, SystemTime now) {
  std::string usid = m.usid;
  XOAL_ASSIGN_OR_RETURN(auto live, txn.FindCustomer(m.project_id, store::CustomerKey::kUsid, usid));
  if (!live) {
    XOAL_ASSIGN_OR_RETURN(auto into, txn.FindMergedInto(m.project_id, usid));
    if (!into) return Status::Ok();  // the customer was deleted: nobody to record it on
    usid = *into;
  }
  store::Event e;
  e.project_id = m.project_id;
  e.id = "evt_" + m.id + (r.sent() ? "_sent" : "_failed");
  e.usid = usid;
  e.name = r.sent() ? "message_sent" : "message_failed";
  e.type = "track";
  e.source = "system";
  e.timestamp = now;
  e.received_at = now;
  e.properties = json::object{{"message_id", m.id},
                              {"channel", m.channel},
                              {"attempts", m.attempts},
                              {"transactional", m.transactional},
                              {"reason", r.reason}};
  Status st = txn.InsertEvent(e);
  // Recorded already (a reconciled message whose outcome write raced a crash): keep the first.
  return st.code() == StatusCode::kAlreadyExists ? Status::Ok() : st;
}

// Whether an email attempt ended with no final reply from the server once connected (a timeout,
// a lost connection): the server may have accepted the data, so the message is in doubt and its
// next attempt asks the provider first (docs/messaging.md). A refused connection or an SMTP
// reply leaves no doubt.
bool LostAfterConnecting(Channel channel, const channels::SendResult& r) {
  return channel == Channel::kEmail && r.outcome == channels::Outcome::kTemporaryFailure &&
         (r.reason == "timeout" || r.reason == "connection_lost");
}

}  // namespace

Result<EnqueueResult> EnqueueInTxn(store::WriteTxn& txn, const EnqueueRequest& request,
                                   SystemTime now) {
  store::OutboxMessage m;
  m.id = "msg_" + RandomAlnum(20);
  m.idempotency_key = request.idempotency_key.empty() ? m.id : request.idempotency_key;
  XOAL_RETURN_IF_ERROR(channels::ValidateIdempotencyKey(m.idempotency_key));
  XOAL_ASSIGN_OR_RETURN(auto existing,
                        txn.FindOutboxMessageByKey(request.project_id, m.idempotency_key));
  if (existing) return EnqueueResult{std::move(*existing), false};
  XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(request.project_id));
  if (!project) return Status::NotFound("no project " + request.project_id);
  XOAL_ASSIGN_OR_RETURN(auto customer, LiveCustomer(txn, request.project_id, request.usid));
  if (!customer) return Status::NotFound("no customer with usid " + request.usid);

  m.project_id = request.project_id;
  m.usid = customer->usid;
  m.channel = std::string(ChannelName(request.channel));
  m.content = request.content;
  m.transactional = request.transactional;
  m.created_at = now;
  m.updated_at = now;
  std::string to = Text(m.content, "to");
  if (!m.content.contains("to") && request.channel != Channel::kWebhook) {
    to = RecipientAddress(request.channel, *customer).value_or("");
    m.content["to"] = to;
  }
  XOAL_ASSIGN_OR_RETURN(auto decision, CheckDelivery(txn, *project, *customer, request.channel, to,
                                                     request.transactional, now));
  m.planned_at = decision.send_at;
  if (request.channel == Channel::kEmail && !decision.skip()) {
    AddLinks(m, core::ProjectMessagingSettings(*project));
  }
  if (decision.skip()) {
    m.status = "skipped";
    m.skip_reason = std::string(SkipReasonName(*decision.reason));
    m.last_answer = json::object{{"outcome", "skipped"}, {"reason", m.skip_reason}};
  } else {
    m.status = "queued";
    m.next_attempt_at = decision.send_at;
    if (decision.hold()) {
      m.last_answer = json::object{{"outcome", "held"},
                                   {"reason", SkipReasonName(*decision.reason)},
                                   {"until", FormatIsoTime(decision.send_at)}};
    }
  }
  XOAL_RETURN_IF_ERROR(txn.InsertOutboxMessage(m));
  return EnqueueResult{std::move(m), true};
}

std::chrono::milliseconds RetryDelay(int attempts, std::optional<std::chrono::seconds> retry_after,
                                     const OutboxOptions& options, double unit) {
  using std::chrono::milliseconds;
  int doublings = std::clamp(attempts - 1, 0, 30);
  double base_ms = static_cast<double>(milliseconds(options.base_backoff).count());
  double cap_ms = static_cast<double>(milliseconds(options.max_backoff).count());
  double backoff = std::min(cap_ms, base_ms * std::ldexp(1.0, doublings));
  // "Equal jitter": half fixed, half random, so retries of many messages spread out while each
  // still waits at least half its back-off.
  auto delay = milliseconds(static_cast<int64_t>(backoff * (0.5 + 0.5 * unit)));
  if (retry_after) {
    delay = std::max(delay, milliseconds(std::min(*retry_after, options.max_retry_after)));
  }
  return delay;
}

double RandomUnit() {
  std::string digits = RandomAlnum(kRandomDigits);
  int64_t n = 0;
  int64_t range = 1;
  for (char c : digits) {
    n = n * 36 + (c >= 'a' ? c - 'a' + 10 : c - '0');
    range *= 36;
  }
  return static_cast<double>(n) / static_cast<double>(range);
}

json::object OutboxMessageToJson(const store::OutboxMessage& m) {
  return json::object{
      {"id", m.id},
      {"usid", m.usid},
      {"channel", m.channel},
      {"status", m.status},
      {"attempts", m.attempts},
      {"recoveries", m.recoveries},
      {"idempotency_key", m.idempotency_key},
      {"transactional", m.transactional},
      {"created_at", FormatIsoTime(m.created_at)},
      {"updated_at", FormatIsoTime(m.updated_at)},
      {"sent_at", OptTime(m.sent_at)},
      {"next_attempt_at", OptTime(m.next_attempt_at)},
      {"attempt_started_at", OptTime(m.attempt_started_at)},
      {"provider_message_id",
       m.provider_message_id.empty() ? json::value(nullptr) : json::value(m.provider_message_id)},
      {"last_answer", m.last_answer.empty() ? json::value(nullptr) : json::value(m.last_answer)},
      {"skip_reason", m.skip_reason.empty() ? json::value(nullptr) : json::value(m.skip_reason)},
      {"planned_at", FormatIsoTime(m.planned_at)},
      {"in_doubt", m.in_doubt}};
}

Outbox::Outbox(store::Store& store, const Clock& clock, Senders senders, Metrics* metrics,
               OutboxOptions options)
    : store_(store), clock_(clock), senders_(senders), metrics_(metrics), options_(options) {}

Outbox::~Outbox() { Stop(); }

Result<EnqueueResult> Outbox::Enqueue(const EnqueueRequest& request) {
  std::optional<EnqueueResult> result;
  XOAL_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(result, EnqueueInTxn(txn, request, clock_.SystemNow()));
    return Status::Ok();
  }));
  if (result->created && result->message.status == "skipped") {
    Count("xoal_messages_skipped_total");
    spdlog::info("message_skipped message_id={} project_id={} customer_id={} channel={} reason={}",
                 result->message.id, result->message.project_id, result->message.usid,
                 result->message.channel, result->message.skip_reason);
  } else if (result->created) {
    Count("xoal_messages_enqueued_total");
    spdlog::debug(
        "message_state message_id={} project_id={} customer_id={} channel={} "
        "status=queued",
        result->message.id, result->message.project_id, result->message.usid,
        result->message.channel);
    // One new message needs one worker.
    {
      std::lock_guard lock(mu_);
      ++wake_count_;
    }
    cv_.notify_one();
  }
  return std::move(*result);
}

Result<int> Outbox::Recover() {
  int recovered = 0;
  SystemTime now = clock_.SystemNow();
  XOAL_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) {
    recovered = 0;
    int64_t after = 0;
    while (true) {
      XOAL_ASSIGN_OR_RETURN(auto page, txn.ListOutboxByStatus("sending", after, kRecoverPage));
      for (auto& m : page) {
        after = m.seq;
        m.status = "queued";
        m.recoveries += 1;
        m.in_doubt = true;
        m.next_attempt_at = now;
        m.updated_at = now;
        m.last_answer =
            json::object{{"attempt", m.attempts},
                         {"outcome", "interrupted"},
                         {"reason", "interrupted"},
                         {"status", 0},
                         {"body", ""},
                         {"error",
                          "the server stopped during this attempt; in doubt until the provider "
                          "is asked (email with a lookup_url) or it is sent again under the "
                          "same idempotency key"}};
        XOAL_RETURN_IF_ERROR(txn.UpdateOutboxMessage(m));
        spdlog::info(
            "message_reconciled message_id={} project_id={} customer_id={} channel={} "
            "attempt={}",
            m.id, m.project_id, m.usid, m.channel, m.attempts);
        ++recovered;
      }
      if (static_cast<int>(page.size()) < kRecoverPage) return Status::Ok();
    }
  }));
  if (metrics_ && recovered > 0) metrics_->Count("xoal_messages_reconciled_total", recovered);
  spdlog::info("outbox_recovered interrupted_messages={}", recovered);
  return recovered;
}

void Outbox::Start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { Run(); });
  spdlog::info("outbox_started workers={} max_attempts={}", workers_.size(), options_.max_attempts);
}

void Outbox::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  if (!workers_.empty()) spdlog::info("outbox_stopped");
  workers_.clear();
}

void Outbox::Wake() {
  {
    std::lock_guard lock(mu_);
    ++wake_count_;
  }
  cv_.notify_all();
}

void Outbox::Count(const char* name) {
  if (metrics_) metrics_->Count(name);
}

void Outbox::Run() {
  uint64_t seen_wake = 0;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      seen_wake = wake_count_;
    }
    auto claimed = Claim();
    if (claimed.ok() && claimed->message) {
      Deliver(std::move(*claimed->message));
      continue;
    }
    if (claimed.ok() && claimed->skipped) continue;
    if (!claimed.ok()) {
      spdlog::warn("outbox_claim_failed error=\"{}\"", claimed.status().message());
    }
    std::optional<SystemTime> next;
    (void)store_.Read([&](store::ReadTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(next, txn.NextOutboxAttempt());
      return Status::Ok();
    });
    // Sleep until the next message is due (on the injected clock), at most idle_wait of real
    // time, or until woken by an enqueue, a moved test clock, or Stop().
    auto wait = options_.idle_wait;
    if (next && claimed.ok()) {
      auto until =
          std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.SystemNow());
      wait = std::clamp(until, std::chrono::milliseconds(0), wait);
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return stopping_ || wake_count_ != seen_wake; });
  }
}

Result<Outbox::Claimed> Outbox::Claim() {
  std::optional<store::OutboxMessage> claimed;
  SystemTime now = clock_.SystemNow();
  // A read first: idle workers woken together must not queue empty writes for the one writer.
  bool any_due = false;
  XOAL_RETURN_IF_ERROR(store_.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto due, txn.DueOutboxMessages(now, 1));
    any_due = !due.empty();
    return Status::Ok();
  }));
  if (!any_due) return Claimed{};
  std::optional<store::OutboxMessage> skipped;
  XOAL_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) {
    claimed.reset();
    skipped.reset();
    XOAL_ASSIGN_OR_RETURN(auto due, txn.DueOutboxMessages(now, 1));
    if (due.empty()) return Status::Ok();
    store::OutboxMessage m = std::move(due.front());
    XOAL_ASSIGN_OR_RETURN(auto skip, RecheckInTxn(txn, m));
    if (skip) {
      // Unsubscribed or suppressed while it waited: never sent.
      MarkSkipped(m, *skip, now);
      XOAL_RETURN_IF_ERROR(txn.UpdateOutboxMessage(m));
      skipped = std::move(m);
      return Status::Ok();
    }
    m.status = "sending";
    m.attempts += 1;
    m.attempt_started_at = now;
    m.next_attempt_at.reset();
    m.updated_at = now;
    XOAL_RETURN_IF_ERROR(txn.UpdateOutboxMessage(m));
    claimed = std::move(m);
    return Status::Ok();
  }));
  if (skipped) {
    Count("xoal_messages_skipped_total");
    spdlog::info("message_skipped message_id={} project_id={} customer_id={} channel={} reason={}",
                 skipped->id, skipped->project_id, skipped->usid, skipped->channel,
                 skipped->skip_reason);
  }
  if (claimed) {
    spdlog::debug(
        "message_state message_id={} project_id={} customer_id={} channel={} "
        "status=sending attempt={}",
        claimed->id, claimed->project_id, claimed->usid, claimed->channel, claimed->attempts);
  }
  return Claimed{std::move(claimed), skipped.has_value()};
}

void Outbox::Deliver(store::OutboxMessage m) {
  std::optional<json::object> config;
  auto channel = ParseChannel(m.channel);
  Status st = store_.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(config, txn.GetChannelConfig(m.project_id, m.channel));
    return Status::Ok();
  });
  Attempt attempt;
  channels::SendResult& r = attempt.result;
  if (!st.ok()) {
    // The attempt is recorded as started; a temporary outcome retries it.
    r.outcome = channels::Outcome::kTemporaryFailure;
    r.reason = "store_unavailable";
    r.answer.error = "could not read the channel configuration";
    attempt.in_doubt = m.in_doubt;  // nothing was sent or asked: still as unknown as before
  } else if (!config || !channel) {
    r.outcome = channels::Outcome::kPermanentFailure;
    r.reason = "channel_not_configured";
    r.answer.error = "the project has no " + m.channel + " channel configured";
    attempt.in_doubt = m.in_doubt;
  } else if (m.in_doubt && *channel == Channel::kEmail) {
    attempt = SendInDoubtEmail(m, *config);
  } else {
    r = Send(m, *config);
    attempt.in_doubt = LostAfterConnecting(*channel, r);
  }
  RecordOutcome(std::move(m), attempt);
}

Outbox::Attempt Outbox::SendInDoubtEmail(const store::OutboxMessage& m,
                                         const json::object& config) {
  auto email = EmailConfigFrom(config);
  if (!email.ok() || email->lookup_url.empty()) {
    // Nothing to ask: sent again under the same Message-ID (docs/messaging.md says what that
    // means for the recipient).
    return Attempt{Send(m, config)};
  }
  channels::LookupResult lookup = senders_.email.Lookup(EmailFrom(m), m.idempotency_key, *email);
  spdlog::info(
      "message_lookup message_id={} project_id={} customer_id={} channel={} attempt={} "
      "outcome={} reason={} status={}",
      m.id, m.project_id, m.usid, m.channel, m.attempts, LookupOutcomeName(lookup.outcome),
      lookup.result.reason, lookup.result.answer.status);
  switch (lookup.outcome) {
    case channels::LookupOutcome::kFound:
      Count("xoal_messages_lookup_found_total");
      return Attempt{lookup.result, /*in_doubt=*/false, /*reconciled=*/true};
    case channels::LookupOutcome::kNotFound: {
      Count("xoal_messages_lookup_not_found_total");
      Attempt sent{Send(m, config)};
      sent.in_doubt = LostAfterConnecting(Channel::kEmail, sent.result);
      return sent;
    }
    case channels::LookupOutcome::kUndecided:
      break;
  }
  // Never send while undecided: the provider may have it. Retried with the usual back-off.
  Count("xoal_messages_lookup_undecided_total");
  return Attempt{lookup.result, /*in_doubt=*/true, /*reconciled=*/false};
}

channels::SendResult Outbox::Send(const store::OutboxMessage& m, const json::object& config) {
  const std::string& key = m.idempotency_key;
  switch (*ParseChannel(m.channel)) {
    case Channel::kEmail:
      return SendVia(senders_.email, EmailFrom(m), key, EmailConfigFrom(config));
    case Channel::kSms:
      return SendVia(senders_.sms,
                     channels::SmsMessage{Text(m.content, "to"), Text(m.content, "body")}, key,
                     SmsConfigFrom(config));
    case Channel::kPush:
      return SendVia(senders_.push, PushFrom(m), key, PushConfigFrom(config));
    case Channel::kWebhook:
      return SendVia(senders_.webhook, WebhookFrom(m), key, WebhookConfigFrom(config));
  }
  return ConfigFailure(Status::InvalidArgument("unknown channel"));
}

void Outbox::RecordOutcome(store::OutboxMessage m, const Attempt& attempt) {
  const channels::SendResult& r = attempt.result;
  SystemTime now = clock_.SystemNow();
  bool retry = r.retryable() && m.attempts < options_.max_attempts;
  m.last_answer = AnswerJson(r, m.attempts);
  // "reconciled": sent, as the provider's lookup showed, without a send of ours this attempt.
  if (attempt.reconciled) m.last_answer["outcome"] = "reconciled";
  m.in_doubt = attempt.in_doubt;
  m.updated_at = now;
  if (r.sent()) {
    m.status = "sent";
    m.sent_at = now;
    m.provider_message_id = r.provider_message_id;
  } else if (retry) {
    m.status = "queued";
    m.next_attempt_at = now + RetryDelay(m.attempts, r.retry_after, options_, RandomUnit());
  } else {
    m.status = "failed";
  }
  Status st = store_.Write([&](store::WriteTxn& txn) {
    XOAL_RETURN_IF_ERROR(txn.UpdateOutboxMessage(m));
    if (m.status == "queued") return Status::Ok();
    return RecordEngagementEvent(txn, m, r, now);
  });
  if (!st.ok()) {
    // The row stays `sending`: the next start re-sends it under the same key.
    spdlog::error(
        "message_outcome_not_recorded message_id={} project_id={} customer_id={} "
        "channel={} reason={} error=\"{}\"",
        m.id, m.project_id, m.usid, m.channel, r.reason, st.message());
    return;
  }
  if (r.sent()) {
    Count("xoal_messages_sent_total");
    spdlog::debug(
        "message_state message_id={} project_id={} customer_id={} channel={} "
        "status=sent attempt={}",
        m.id, m.project_id, m.usid, m.channel, m.attempts);
  } else if (retry) {
    Count("xoal_messages_retried_total");
    spdlog::warn(
        "message_retry message_id={} project_id={} customer_id={} channel={} "
        "attempt={} reason={} next_attempt_at={}",
        m.id, m.project_id, m.usid, m.channel, m.attempts, r.reason,
        FormatIsoTime(*m.next_attempt_at));
  } else {
    Count("xoal_messages_failed_total");
    spdlog::warn(
        "message_failed message_id={} project_id={} customer_id={} channel={} "
        "attempt={} reason={}",
        m.id, m.project_id, m.usid, m.channel, m.attempts, r.reason);
  }
}

}  // namespace xoal::messaging
