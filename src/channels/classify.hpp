// Turning a provider's answer into a SendResult: the one place that decides which HTTP statuses
// and SMTP replies are temporary, and how Retry-After is read. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "channels/sender.hpp"
#include "common/clock.hpp"

namespace xoal::channels {

// Reads an HTTP Retry-After value (RFC 9110 section 10.2.3): delta-seconds ("120") or an
// HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", the IMF-fixdate form) taken relative to `now`.
// A date in the past gives zero. Anything else (empty, negative, garbage) gives nullopt.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, SystemTime now);

// Classifies a complete HTTP answer. 2xx is kSent (the caller fills provider_message_id);
// 408, 429 and 5xx are temporary; every other status (3xx: redirects are never followed, 4xx)
// is permanent. `retry_after` is the raw header value, read only for 429 and 503.
// reason is "http_<status>" for failures, "sent" otherwise.
SendResult ClassifyHttpResponse(int status, std::optional<std::string_view> retry_after,
                                std::string_view body, SystemTime now);

// Classifies the SMTP reply that ended a session: 2xx sent, 4xx temporary (RFC 5321 section
// 4.2.1 "transient negative completion", such as 451 or 452), anything else permanent.
// reason is "smtp_<code>" for failures.
SendResult ClassifySmtpReply(int code, std::string_view reply);

// A failure found before any network call: the channel configuration is unusable (missing host,
// unreadable private key, ...). Permanent until the configuration changes.
SendResult InvalidConfig(std::string_view what);

// A failure found before any network call: the message itself cannot be sent as given (no
// recipient, a header with a line break, marketing mail without an unsubscribe target).
SendResult InvalidMessage(std::string_view what);

// The first kMaxAnswerBytes of `text`, cut back to a UTF-8 character boundary.
std::string TruncateAnswer(std::string_view text);

}  // namespace xoal::channels
