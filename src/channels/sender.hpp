// The sender contract shared by every channel (email, SMS, push, webhook): what one attempt to
// hand a fully rendered message to a provider returns. See docs/channels.md for how the durable
// outbox uses it (idempotency keys, which outcomes retry, Retry-After, what is stored).
//
// A sender makes one attempt per Send() call (push may add a token exchange, and one refresh on a
// rejected cached token), blocks for at most the configured timeouts of those calls, never throws
// and never retries by itself: retrying, back-off and giving up belong to the outbox.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace xoal::channels {

// How long a network call may take. Both bounds apply to every call a sender makes (SMTP
// session, provider request, OAuth token exchange).
struct Timeouts {
  std::chrono::milliseconds connect{5000};  // TCP connect plus TLS handshake
  std::chrono::milliseconds total{30000};   // the whole call, connect included
};

enum class Outcome {
  kSent,              // the provider accepted the message
  kTemporaryFailure,  // worth retrying later: network trouble, timeout, 429, 5xx, SMTP 4xx
  kPermanentFailure,  // retrying the same message with the same configuration will not help
};

// "sent", "temporary_failure", "permanent_failure": stable names for storage and logs.
std::string_view OutcomeName(Outcome outcome);

// What the provider said, kept for storage beside the message. Bounded: `body` holds at most
// kMaxAnswerBytes, cut on a UTF-8 character boundary.
struct ProviderAnswer {
  // HTTP status, or the last SMTP reply code; 0 when no answer arrived (connection refused,
  // timeout before any reply, a configuration error found before connecting).
  int status = 0;
  // The first bytes of the HTTP response body, or the last SMTP reply (all its lines).
  std::string body;
  // Our own description when the failure is not the provider's answer (libcurl's error text,
  // "invalid_config: ..."). Never contains credentials or the recipient's address.
  std::string error;
};

inline constexpr size_t kMaxAnswerBytes = 2048;

struct SendResult {
  Outcome outcome = Outcome::kPermanentFailure;
  // A short, stable, machine-readable cause: "sent", "connect_failed", "timeout", "http_429",
  // "http_500", "http_400", "smtp_451", "smtp_550", "invalid_config", "invalid_message",
  // "oauth_http_400", ... (see docs/channels.md for the full list).
  std::string reason;
  // Set when sent: the provider's id (Twilio `sid`, FCM `name`; for email the Message-ID we
  // generated, which bounces and replies quote back). Empty for webhooks.
  std::string provider_message_id;
  // Set only when the provider said when to come back (HTTP Retry-After on 429 or 503), already
  // turned into a duration from now; never negative.
  std::optional<std::chrono::seconds> retry_after;
  ProviderAnswer answer;

  bool sent() const { return outcome == Outcome::kSent; }
  bool retryable() const { return outcome == Outcome::kTemporaryFailure; }
};

// Checks an idempotency key: 1 to 200 printable ASCII characters (every channel puts it in a
// header). Errors: kInvalidArgument with field "idempotency_key".
Status ValidateIdempotencyKey(std::string_view key);

}  // namespace xoal::channels
