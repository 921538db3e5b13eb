#include "channels/curl_internal.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "channels/classify.hpp"
#include "common/json.hpp"

namespace xoal::channels::detail {
namespace {

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<HttpResponse*>(user);
  size_t n = size * count;
  size_t room = kMaxResponseBytes - std::min(kMaxResponseBytes, r->body.size());
  r->body.append(data, std::min(n, room));
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<HttpResponse*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    r->headers.clear();  // a new response (after 100 Continue): keep only the final one's
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || r->headers.size() >= 200) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  r->headers.emplace_back(std::move(name), std::string(value));
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

void EnsureCurlInitialized() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void CurlEasyDeleter::operator()(CURL* handle) const { curl_easy_cleanup(handle); }

CurlEasy NewEasy(const Timeouts& timeouts, const char* protocols) {
  EnsureCurlInitialized();
  CurlEasy easy(curl_easy_init());
  if (!easy) return easy;
  CURL* h = easy.get();
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts.connect.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts.total.count()));
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  return easy;
}

std::optional<std::string_view> HttpResponse::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return std::string_view(value);
  }
  return std::nullopt;
}

HttpResponse PerformHttp(const HttpCall& call) {
  HttpResponse response;
  CurlEasy easy = NewEasy(call.timeouts, "http,https");
  if (!easy) {
    response.transport = CURLE_OUT_OF_MEMORY;
    response.transport_error = "curl_easy_init failed";
    return response;
  }
  CURL* h = easy.get();
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  if (!call.body.empty() || call.method != "GET") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  if (call.basic_auth) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, call.basic_auth->first.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, call.basic_auth->second.c_str());
  }

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  // An empty "Expect:" stops libcurl from waiting for 100 Continue before larger bodies.
  headers.reset(curl_slist_append(nullptr, "Expect:"));
  for (const auto& [name, value] : call.headers) {
    std::string line = name + ": " + value;
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);

  CURLcode code = curl_easy_perform(h);
  response.transport = code;
  if (code != CURLE_OK) {
    response.transport_error = error[0] != '\0' ? error : curl_easy_strerror(code);
    return response;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

SendResult ClassifyTransport(int code, std::string_view error) {
  SendResult r;
  r.outcome = Outcome::kTemporaryFailure;
  r.answer.error = TruncateAnswer(error);
  switch (static_cast<CURLcode>(code)) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      r.reason = "connect_failed";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      r.reason = "timeout";
      break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
      r.reason = "connection_lost";
      break;
    case CURLE_SSL_CONNECT_ERROR:
      r.reason = "tls_failed";
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      r.outcome = Outcome::kPermanentFailure;
      r.reason = "tls_verify_failed";
      break;
    case CURLE_USE_SSL_FAILED:
      r.outcome = Outcome::kPermanentFailure;
      r.reason = "starttls_unavailable";
      break;
    case CURLE_LOGIN_DENIED:
      r.outcome = Outcome::kPermanentFailure;
      r.reason = "auth_failed";
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      r.outcome = Outcome::kPermanentFailure;
      r.reason = "invalid_config";
      break;
    default:
      r.reason = "transport_error";
      break;
  }
  return r;
}

SendResult ClassifyHttp(const HttpResponse& response, SystemTime now) {
  if (response.transport != CURLE_OK) {
    return ClassifyTransport(response.transport, response.transport_error);
  }
  return ClassifyHttpResponse(response.status, response.Header("retry-after"), response.body, now);
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string FormEncode(const HeaderList& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(name) + "=" + PercentEncode(value);
  }
  return out;
}

bool IsSafeHeaderValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool IsPathSegment(std::string_view s) {
  return !s.empty() && s.find_first_of("/?#%\r\n ") == std::string_view::npos;
}

bool IsHeaderName(std::string_view s) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
  });
}

std::string JsonStringMember(std::string_view body, std::string_view key) {
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) return {};
  const json::value* v = parsed->as_object().if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string StripTrailingSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

void LogAttempt(std::string_view channel, std::string_view idempotency_key,
                const SendResult& result) {
  spdlog::debug("channel_send channel={} idempotency_key={} outcome={} reason={} status={}",
                channel, idempotency_key, OutcomeName(result.outcome), result.reason,
                result.answer.status);
}

}  // namespace xoal::channels::detail
