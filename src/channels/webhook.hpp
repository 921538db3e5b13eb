// Webhooks: one HTTP request (method, URL, headers and an already rendered JSON body) signed
// with the project's webhook secret. Headers added by us, which a message may not set itself:
//   X-Xoal-Signature: sha256=<lowercase hex HMAC-SHA256(secret, body)>
//   X-Xoal-Timestamp: <timestamp: decimal seconds since the epoch, from the injected Clock>
//   X-Xoal-Timestamp-Signature: sha256=<lowercase hex HMAC-SHA256(secret, timestamp + "." + body)>
//   Idempotency-Key: <the idempotency key>
// X-Xoal-Signature is the HMAC of the body that SPEC ("Messages and channels") promises. The
// timestamped one also covers the time (the Stripe scheme), so a captured request cannot be
// replayed later under a fresh timestamp: a receiver that wants replay protection verifies it,
// refuses a timestamp too far from its own clock (docs/channels.md suggests 5 minutes) and
// de-duplicates on Idempotency-Key within that window. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channels/sender.hpp"
#include "common/clock.hpp"

namespace xoal::channels {

// The project's webhook channel (SPEC "Shapes", Channels: `{"secret"}`).
struct WebhookConfig {
  std::string secret;
  Timeouts timeouts;
};

// A rendered webhook message (SPEC "Shapes", Messages: `{"url", "method", "headers", "body"}`).
struct WebhookRequest {
  std::string method = "POST";  // GET, POST, PUT, PATCH or DELETE
  std::string url;              // http:// or https://; redirects are not followed
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type defaults to JSON
  std::string body;
};

class WebhookSender {
 public:
  virtual ~WebhookSender() = default;
  // One attempt. provider_message_id stays empty: receivers name nothing. A message that sets one
  // of our headers, Host, Content-Length or Transfer-Encoding, or has a bad header name or value,
  // is a permanent invalid_message without any request.
  virtual SendResult Send(const WebhookRequest& request, std::string_view idempotency_key,
                          const WebhookConfig& config) = 0;
};

class HttpWebhookSender final : public WebhookSender {
 public:
  // `clock` gives X-Xoal-Timestamp and reads Retry-After dates; it must outlive the sender.
  explicit HttpWebhookSender(const Clock& clock) : clock_(clock) {}

  SendResult Send(const WebhookRequest& request, std::string_view idempotency_key,
                  const WebhookConfig& config) override;

 private:
  const Clock& clock_;
};

// "sha256=" + lowercase hex HMAC-SHA256(secret, text): with the body, the X-Xoal-Signature
// value; with timestamp + "." + body, the X-Xoal-Timestamp-Signature value.
std::string WebhookSignature(std::string_view secret, std::string_view text);

}  // namespace xoal::channels
