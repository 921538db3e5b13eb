// libcurl at the edge: the only files that include <curl/curl.h> are this one's .cpp and
// email.cpp. Every CURLcode becomes a SendResult here; nothing above sees libcurl. Private to
// src/channels.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channels/sender.hpp"
#include "common/clock.hpp"

typedef void CURL;

namespace xoal::channels::detail {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// curl_global_init once per process, before the first easy handle (it is not thread-safe).
void EnsureCurlInitialized();

struct CurlEasyDeleter {
  void operator()(CURL* handle) const;
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

// A fresh easy handle with the options every sender shares: no signals (we run on many threads),
// the connect and total timeouts, and `protocols` ("http,https" or "smtp,smtps") as the only
// protocols allowed, so a configured URL cannot make us speak something else. Null when libcurl
// cannot allocate one.
CurlEasy NewEasy(const Timeouts& timeouts, const char* protocols);

struct HttpCall {
  std::string method = "POST";
  std::string url;
  HeaderList headers;  // sent as given; the caller has validated names and values
  std::string body;
  std::optional<std::pair<std::string, std::string>> basic_auth;  // user, password
  Timeouts timeouts;
};

// What came back. `transport` is the CURLcode as an int (0 when the HTTP exchange completed,
// whatever its status), `transport_error` libcurl's message for it.
struct HttpResponse {
  int transport = 0;
  std::string transport_error;
  int status = 0;
  HeaderList headers;  // names lower-cased, of the final response only
  std::string body;    // at most kMaxResponseBytes; the rest is read and dropped

  std::optional<std::string_view> Header(std::string_view lower_name) const;
};

inline constexpr size_t kMaxResponseBytes = 64 * 1024;

// Performs one HTTP request. Redirects are not followed. Never throws.
HttpResponse PerformHttp(const HttpCall& call);

// Classifies a transport failure (`code` != CURLE_OK): connection refused, DNS, reset, timeout
// are temporary; a TLS verification failure, a refused STARTTLS, rejected credentials or an
// unusable URL are permanent. reason is one of "connect_failed", "timeout", "connection_lost",
// "tls_failed", "tls_verify_failed", "starttls_unavailable", "auth_failed", "invalid_config",
// "transport_error".
SendResult ClassifyTransport(int code, std::string_view error);

// The whole answer: transport failure, else ClassifyHttpResponse.
SendResult ClassifyHttp(const HttpResponse& response, SystemTime now);

// RFC 3986 percent-encoding: unreserved characters as they are, every other byte %XX.
std::string PercentEncode(std::string_view s);

// application/x-www-form-urlencoded encoding of `fields` ("To=%2B1555&Body=hi").
std::string FormEncode(const HeaderList& fields);

// True when `s` can go into a header line as is: no CR, LF or NUL.
bool IsSafeHeaderValue(std::string_view s);

// True when `s` can be pasted into a URL path as one segment without changing the path (a
// configured account sid or project id): not empty, no '/', '?', '#', '%', space or line break.
bool IsPathSegment(std::string_view s);

// True when `s` is an RFC 9110 token (a valid header field name).
bool IsHeaderName(std::string_view s);

// The string member `key` of the JSON object in `body`; empty when absent or not parseable.
std::string JsonStringMember(std::string_view body, std::string_view key);

// `url` without trailing slashes, so a configured base URL may end in one.
std::string StripTrailingSlash(std::string url);

// One debug line per attempt: channel, idempotency key, outcome, reason, provider status. Never
// the recipient, the content or credentials.
void LogAttempt(std::string_view channel, std::string_view idempotency_key,
                const SendResult& result);

}  // namespace xoal::channels::detail
