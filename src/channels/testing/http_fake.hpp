// HttpFake: an HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel) that records every request
// and answers from a script: queued replies first, then a handler (200 "{}" by default). A reply
// can be delayed, bounded, to provoke client timeouts. One request per connection
// (`Connection: close`); bodies need Content-Length. Test support only; thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "channels/testing/loopback.hpp"
#include "common/status.hpp"

namespace xoal::channels::testing {

struct RecordedRequest {
  std::string method;
  std::string target;                                        // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;

  // The first header named `name`, compared case-insensitively.
  std::optional<std::string> Header(std::string_view name) const;
  // The body read as application/x-www-form-urlencoded ('+' is a space, %XX a byte); the last
  // value wins when a name repeats.
  std::map<std::string, std::string> FormFields() const;
};

// Percent-decoding of a URL path or form value: %XX is a byte; with `plus_is_space` (forms) '+'
// is a space.
std::string PercentDecode(std::string_view s, bool plus_is_space);

struct FakeReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "{}";
  // Wait this long before answering; the wait ends early when the client hangs up.
  std::chrono::milliseconds delay{0};
};

class HttpFake {
 public:
  using Handler = std::function<FakeReply(const RecordedRequest&)>;

  HttpFake() = default;

  // Errors: kInternal when it cannot listen.
  Status Start();
  uint16_t port() const { return server_.port(); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  void Stop() { server_.Stop(); }

  // Answers requests no queued reply is left for.
  void SetHandler(Handler handler);
  // Answers the next request (queued replies are used in order).
  void Enqueue(FakeReply reply);

  std::vector<RecordedRequest> requests() const;

 private:
  void Serve(Connection& connection);
  FakeReply ReplyFor(const RecordedRequest& request);

  LoopbackServer server_;
  mutable std::mutex mu_;
  Handler handler_;                        // guarded by mu_
  std::deque<FakeReply> queue_;            // guarded by mu_
  std::vector<RecordedRequest> requests_;  // guarded by mu_
};

}  // namespace xoal::channels::testing
