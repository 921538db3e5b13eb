#include "channels/push.hpp"

#include "channels/classify.hpp"
#include "channels/curl_internal.hpp"
#include "common/crypto.hpp"
#include "common/json.hpp"

namespace xoal::channels {
namespace {

constexpr std::chrono::seconds kJwtLifetime{3600};  // Google's maximum
constexpr std::chrono::seconds kRefreshMargin{60};

std::string CacheKey(const ServiceAccount& account) {
  return account.client_email + "\n" + account.token_uri + "\n" + account.private_key_id;
}

SendResult OAuthFailure(SendResult r) {
  r.reason = "oauth_" + r.reason;
  return r;
}

std::string FcmBody(const PushMessage& message, std::string_view idempotency_key) {
  json::object m{{"token", message.device_token}};
  // FCM takes no idempotency key. A collapse id per message makes a repeated send (an attempt
  // that a crash left in doubt, sent again) replace the first on the device instead of showing
  // twice: Android collapse_key, APNs apns-collapse-id (at most 64 bytes), Web Push Topic (at
  // most 32 characters of the URL-safe base64 alphabet, which hex is part of).
  std::string collapse = CollapseIdFor(idempotency_key);
  m["android"] = json::object{{"collapse_key", collapse}};
  m["apns"] = json::object{{"headers", json::object{{"apns-collapse-id", collapse}}}};
  m["webpush"] = json::object{{"headers", json::object{{"Topic", collapse}}}};
  if (!message.title.empty() || !message.body.empty()) {
    m["notification"] = json::object{{"title", message.title}, {"body", message.body}};
  }
  if (!message.data.empty()) {
    json::object data;
    for (const auto& [key, value] : message.data) data[key] = value;
    m["data"] = std::move(data);
  }
  return json::serialize(json::object{{"message", std::move(m)}});
}

// Seconds of validity from a token answer's "expires_in"; 0 when absent or not a number.
int64_t ExpiresIn(std::string_view body) {
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) return 0;
  const json::value* v = parsed->as_object().if_contains("expires_in");
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

}  // namespace

std::string CollapseIdFor(std::string_view idempotency_key) {
  return Sha256Hex(idempotency_key).substr(0, 32);
}

FcmPushSender::TokenOrFailure FcmPushSender::FetchToken(const PushConfig& config) {
  TokenOrFailure out;
  const ServiceAccount& account = config.service_account;
  auto jwt = MakeServiceAccountJwt(account, kFcmScope, clock_.SystemNow(), kJwtLifetime);
  if (!jwt.ok()) {
    out.failure =
        InvalidConfig("service_account." + jwt.status().field() + ": " + jwt.status().message());
    return out;
  }

  detail::HttpCall call;
  call.url = account.token_uri;
  call.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                  {"Accept", "application/json"}};
  call.body = detail::FormEncode(
      {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", *jwt}});
  call.timeouts = config.timeouts;
  detail::HttpResponse response = detail::PerformHttp(call);

  SendResult classified = detail::ClassifyHttp(response, clock_.SystemNow());
  if (!classified.sent()) {
    out.failure = OAuthFailure(std::move(classified));
    return out;
  }
  std::string token = detail::JsonStringMember(response.body, "access_token");
  if (token.empty() || !detail::IsSafeHeaderValue(token)) {
    classified.outcome = Outcome::kPermanentFailure;
    classified.reason = "oauth_bad_response";
    out.failure = std::move(classified);
    return out;
  }
  std::chrono::seconds lifetime(ExpiresIn(response.body));
  if (lifetime > 2 * kRefreshMargin) {
    std::lock_guard lock(mu_);
    tokens_[CacheKey(account)] = {token, clock_.SteadyNow() + lifetime - kRefreshMargin};
  }
  out.access_token = std::move(token);
  return out;
}

FcmPushSender::TokenOrFailure FcmPushSender::Token(const PushConfig& config, bool allow_cached) {
  {
    std::lock_guard lock(mu_);
    auto it = tokens_.find(CacheKey(config.service_account));
    if (it != tokens_.end()) {
      if (allow_cached && clock_.SteadyNow() < it->second.refresh_at) {
        return {it->second.access_token, {}, true};
      }
      tokens_.erase(it);
    }
  }
  return FetchToken(config);
}

SendResult FcmPushSender::SendWithToken(const PushMessage& message,
                                        std::string_view idempotency_key, const PushConfig& config,
                                        const std::string& access_token) {
  detail::HttpCall call;
  call.url = detail::StripTrailingSlash(config.base_url) + "/v1/projects/" + config.project_id +
             "/messages:send";
  // FCM has no idempotency header of its own; ours lets fakes and proxies count attempts.
  call.headers = {{"Content-Type", "application/json; charset=utf-8"},
                  {"Authorization", "Bearer " + access_token},
                  {"X-Xoal-Idempotency-Key", std::string(idempotency_key)}};
  call.body = FcmBody(message, idempotency_key);
  call.timeouts = config.timeouts;
  detail::HttpResponse response = detail::PerformHttp(call);

  SendResult result = detail::ClassifyHttp(response, clock_.SystemNow());
  if (result.sent()) result.provider_message_id = detail::JsonStringMember(response.body, "name");
  return result;
}

SendResult FcmPushSender::Send(const PushMessage& message, std::string_view idempotency_key,
                               const PushConfig& config) {
  if (config.base_url.empty() || !detail::IsPathSegment(config.project_id) ||
      config.service_account.client_email.empty() || config.service_account.token_uri.empty()) {
    return InvalidConfig("push needs base_url, project_id and a service account");
  }
  if (Status st = ValidateIdempotencyKey(idempotency_key); !st.ok()) {
    return InvalidMessage(st.field() + ": " + st.message());
  }
  if (message.device_token.empty()) return InvalidMessage("a push needs a device token");

  TokenOrFailure token = Token(config, /*allow_cached=*/true);
  if (token.access_token.empty()) {
    detail::LogAttempt("push", idempotency_key, token.failure);
    return token.failure;
  }
  SendResult result = SendWithToken(message, idempotency_key, config, token.access_token);

  // A cached token can be revoked before it expires: get a fresh one and try once more.
  if (result.answer.status == 401 && token.from_cache) {
    token = Token(config, /*allow_cached=*/false);
    result = token.access_token.empty()
                 ? token.failure
                 : SendWithToken(message, idempotency_key, config, token.access_token);
  }
  detail::LogAttempt("push", idempotency_key, result);
  return result;
}

}  // namespace xoal::channels
