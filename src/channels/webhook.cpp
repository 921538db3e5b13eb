#include "channels/webhook.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "channels/classify.hpp"
#include "channels/curl_internal.hpp"
#include "common/crypto.hpp"

namespace xoal::channels {
namespace {

constexpr std::array<std::string_view, 5> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
// Ours (a message must not forge or drop them) and framing headers libcurl computes itself.
constexpr std::array<std::string_view, 6> kReservedHeaders = {
    "x-xoal-signature", "x-xoal-timestamp", "idempotency-key", "host",
    "content-length",   "transfer-encoding"};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Empty when the request may be sent as given, otherwise what is wrong with it.
std::string Problem(const WebhookRequest& request) {
  if (std::find(kMethods.begin(), kMethods.end(), request.method) == kMethods.end()) {
    return "method must be one of GET, POST, PUT, PATCH, DELETE";
  }
  if (!request.url.starts_with("http://") && !request.url.starts_with("https://")) {
    return "url must be http:// or https://";
  }
  for (const auto& [name, value] : request.headers) {
    if (!detail::IsHeaderName(name) || !detail::IsSafeHeaderValue(value)) {
      return "header names must be tokens and values must not contain line breaks";
    }
    std::string lower = Lower(name);
    if (std::find(kReservedHeaders.begin(), kReservedHeaders.end(), lower) !=
        kReservedHeaders.end()) {
      return "header " + lower + " is set by xoal";
    }
  }
  return {};
}

bool HasHeader(const WebhookRequest& request, std::string_view lower_name) {
  return std::any_of(request.headers.begin(), request.headers.end(),
                     [&](const auto& h) { return Lower(h.first) == lower_name; });
}

}  // namespace

std::string WebhookSignature(std::string_view secret, std::string_view text) {
  return "sha256=" + HmacSha256Hex(secret, text);
}

SendResult HttpWebhookSender::Send(const WebhookRequest& request, std::string_view idempotency_key,
                                   const WebhookConfig& config) {
  if (config.secret.empty()) return InvalidConfig("webhook secret is required");
  if (Status st = ValidateIdempotencyKey(idempotency_key); !st.ok()) {
    return InvalidMessage(st.field() + ": " + st.message());
  }
  if (std::string problem = Problem(request); !problem.empty()) return InvalidMessage(problem);

  detail::HttpCall call;
  call.method = request.method;
  call.url = request.url;
  call.body = request.body;
  call.headers = request.headers;
  if (!HasHeader(request, "content-type")) {
    call.headers.emplace_back("Content-Type", "application/json");
  }
  std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(clock_.SystemNow().time_since_epoch())
          .count());
  call.headers.emplace_back("X-Xoal-Signature", WebhookSignature(config.secret, request.body));
  call.headers.emplace_back("X-Xoal-Timestamp", timestamp);
  call.headers.emplace_back("X-Xoal-Timestamp-Signature",
                            WebhookSignature(config.secret, timestamp + "." + request.body));
  call.headers.emplace_back("Idempotency-Key", std::string(idempotency_key));
  call.timeouts = config.timeouts;
  detail::HttpResponse response = detail::PerformHttp(call);

  SendResult result = detail::ClassifyHttp(response, clock_.SystemNow());
  detail::LogAttempt("webhook", idempotency_key, result);
  return result;
}

}  // namespace xoal::channels
