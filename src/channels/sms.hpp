// SMS through a Twilio-compatible HTTP API: POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json
// with form fields To, From, Body, HTTP Basic auth (account sid, auth token) and the idempotency
// key in I-Twilio-Idempotency-Token. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "channels/sender.hpp"
#include "common/clock.hpp"

namespace xoal::channels {

// The project's SMS channel (SPEC "Shapes", Channels: `{"base_url", "account_sid", "auth_token",
// "from"}`).
struct SmsConfig {
  std::string base_url = "https://api.twilio.com";  // no trailing slash needed
  std::string account_sid;
  std::string auth_token;
  std::string from;  // E.164 number or messaging service / alphanumeric sender id
  Timeouts timeouts;
};

struct SmsMessage {
  std::string to;    // E.164 number, "+15551234567"
  std::string body;  // rendered text
};

class SmsSender {
 public:
  virtual ~SmsSender() = default;
  // One attempt. On kSent provider_message_id is the provider's `sid` (empty if its 2xx answer
  // named none).
  virtual SendResult Send(const SmsMessage& message, std::string_view idempotency_key,
                          const SmsConfig& config) = 0;
};

class TwilioSmsSender final : public SmsSender {
 public:
  // `clock` reads Retry-After dates; it must outlive the sender.
  explicit TwilioSmsSender(const Clock& clock) : clock_(clock) {}

  SendResult Send(const SmsMessage& message, std::string_view idempotency_key,
                  const SmsConfig& config) override;

 private:
  const Clock& clock_;
};

}  // namespace xoal::channels
