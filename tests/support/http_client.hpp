// HttpClient: a small synchronous HTTP/1.1 client for the integration tests.
//
// One client holds one keep-alive connection to one host and port. Every call blocks until the
// whole answer is read or `timeout` passes, so a hung server fails a test instead of hanging it.
// A transport failure is not thrown: it answers `status == 0` with the reason in `error`.
//
// When a reused keep-alive connection turns out to be closed by the server (nothing of the answer
// was read), the request is sent once more on a new connection, the way browsers do. A request on
// a fresh connection is never resent, so a transport failure there is reported as such.
//
// Not thread-safe: use one client per thread.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xoal::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;      // 0: no answer; see `error`
  std::string error;   // the transport error when status == 0
  HeaderList headers;  // names lower-cased, in the order received
  std::string body;
  boost::json::value json;  // the parsed body; null when the body is not JSON
  bool json_ok = false;     // whether `body` parsed as JSON

  // The first header called `name` (any case), or "" when absent.
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  static constexpr std::chrono::seconds kDefaultTimeout{30};

  HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = kDefaultTimeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `body` as is with exactly `headers` (plus Host, and Content-Length when the method or
  // body needs one). Nothing else is added: no Content-Type unless given.
  HttpResponse Request(std::string_view method, std::string_view target, std::string body = {},
                       const HeaderList& headers = {});

  // JSON helpers: `key`, when not empty, is sent as `Authorization: Bearer <key>`; a body is
  // serialized and sent with `Content-Type: application/json`.
  HttpResponse Get(std::string_view target, std::string_view key = {});
  HttpResponse Delete(std::string_view target, std::string_view key = {});
  HttpResponse Post(std::string_view target, const boost::json::value& body,
                    std::string_view key = {});
  HttpResponse Put(std::string_view target, const boost::json::value& body,
                   std::string_view key = {});
  HttpResponse Patch(std::string_view target, const boost::json::value& body,
                     std::string_view key = {});

  // Sends raw bytes with the given Content-Type (none when empty) and bearer key.
  HttpResponse SendRaw(std::string_view method, std::string_view target, std::string body,
                       std::string_view content_type, std::string_view key = {});

  // Closes the connection; the next request opens a new one.
  void Close();

  // Whether the last answer came over a connection that was already open before the request.
  bool last_request_reused_connection() const { return last_reused_; }

 private:
  struct Impl;
  HttpResponse SendJson(std::string_view method, std::string_view target,
                        const boost::json::value* body, std::string_view key);

  std::unique_ptr<Impl> impl_;
  bool last_reused_ = false;
};

// Percent-encodes `s` for use in a path segment or query value.
std::string UrlEncode(std::string_view s);

}  // namespace xoal::testing
