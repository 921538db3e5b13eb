// Push through FCM HTTP v1: POST {base_url}/v1/projects/{project_id}/messages:send with a Bearer
// token from Google's OAuth 2.0 service-account flow (a signed JWT exchanged at the account's
// token_uri). Tokens are cached per service account until shortly before they expire, measured
// on the injected Clock. Thread-safe: Send() may run on many threads; two threads that miss the
// cache together both fetch a token, and the later one is kept.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "channels/jwt.hpp"
#include "channels/sender.hpp"
#include "common/clock.hpp"

namespace xoal::channels {

// The project's push channel (SPEC "Shapes", Channels: `{"base_url", "project_id",
// "service_account": {...}}`).
struct PushConfig {
  std::string base_url = "https://fcm.googleapis.com";
  std::string project_id;
  ServiceAccount service_account;
  Timeouts timeouts;  // for the token exchange and for the send, each
};

struct PushMessage {
  std::string device_token;  // FCM registration token
  std::string title;         // notification title; no notification block when title and body
  std::string body;          // are both empty (a data-only message)
  std::map<std::string, std::string> data;  // FCM requires string values
};

class PushSender {
 public:
  virtual ~PushSender() = default;
  // One attempt (plus a token exchange when none is cached, and one more exchange and send when
  // FCM rejects a cached token with 401). On kSent provider_message_id is FCM's `name`
  // ("projects/p/messages/0:..."). A failed token exchange is classified like a send with
  // reasons prefixed "oauth_" ("oauth_http_400", "oauth_timeout", "oauth_bad_response").
  virtual SendResult Send(const PushMessage& message, std::string_view idempotency_key,
                          const PushConfig& config) = 0;
};

// The collapse id every send of a message carries (FCM android.collapse_key, APNs
// apns-collapse-id, Web Push Topic): the first 32 hex digits of SHA-256 of the idempotency key,
// so a repeated send replaces the first notification on the device. Pure.
std::string CollapseIdFor(std::string_view idempotency_key);

inline constexpr std::string_view kFcmScope = "https://www.googleapis.com/auth/firebase.messaging";

class FcmPushSender final : public PushSender {
 public:
  // `clock` sets the JWT times and the token cache's expiry; it must outlive the sender.
  explicit FcmPushSender(const Clock& clock) : clock_(clock) {}

  SendResult Send(const PushMessage& message, std::string_view idempotency_key,
                  const PushConfig& config) override;

 private:
  struct CachedToken {
    std::string access_token;
    SteadyTime refresh_at;  // a minute before the provider's expiry
  };
  struct TokenOrFailure {
    std::string access_token;  // empty when `failure` holds the outcome
    SendResult failure;
    bool from_cache = false;
  };

  TokenOrFailure Token(const PushConfig& config, bool allow_cached);
  TokenOrFailure FetchToken(const PushConfig& config);
  SendResult SendWithToken(const PushMessage& message, std::string_view idempotency_key,
                           const PushConfig& config, const std::string& access_token);

  const Clock& clock_;
  std::mutex mu_;
  // Keyed by client_email, token_uri and private_key_id. Guarded by mu_.
  std::map<std::string, CachedToken> tokens_;
};

}  // namespace xoal::channels
