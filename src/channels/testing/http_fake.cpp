#include "channels/testing/http_fake.hpp"

#include <strings.h>

#include <algorithm>
#include <charconv>

namespace xoal::channels::testing {
namespace {

constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool ReadRequest(Connection& c, RecordedRequest& request) {
  std::string line;
  if (!c.ReadLine(line)) return false;
  size_t sp1 = line.find(' ');
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
  request.method = line.substr(0, sp1);
  request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  while (c.ReadLine(line) && !line.empty()) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) return false;
    size_t value = line.find_first_not_of(' ', colon + 1);
    request.headers.emplace_back(line.substr(0, colon),
                                 value == std::string::npos ? "" : line.substr(value));
  }
  if (request.Header("expect") && !c.Write("HTTP/1.1 100 Continue\r\n\r\n")) return false;
  size_t length = 0;
  if (auto cl = request.Header("content-length")) {
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), length);
    if (ec != std::errc() || length > kMaxBodyBytes) return false;
  }
  return c.ReadBytes(length, request.body);
}

}  // namespace

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned value = 0;
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ec == std::errc()) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> RecordedRequest::FormFields() const {
  std::map<std::string, std::string> fields;
  std::string_view rest = body;
  while (!rest.empty()) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    size_t eq = pair.find('=');
    std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    fields[PercentDecode(pair.substr(0, eq), true)] = PercentDecode(value, true);
  }
  return fields;
}

std::optional<std::string> RecordedRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return std::nullopt;
}

Status HttpFake::Start() {
  return server_.Start([this](Connection& c) { Serve(c); });
}

void HttpFake::SetHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

void HttpFake::Enqueue(FakeReply reply) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(reply));
}

std::vector<RecordedRequest> HttpFake::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

FakeReply HttpFake::ReplyFor(const RecordedRequest& request) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    if (!queue_.empty()) {
      FakeReply reply = std::move(queue_.front());
      queue_.pop_front();
      return reply;
    }
    handler = handler_;
  }
  return handler ? handler(request) : FakeReply{};
}

void HttpFake::Serve(Connection& c) {
  RecordedRequest request;
  if (!ReadRequest(c, request)) return;
  FakeReply reply = ReplyFor(request);
  if (reply.delay.count() > 0 && c.WaitForPeerClose(reply.delay)) return;
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                    std::string(ReasonPhrase(reply.status)) + "\r\n";
  for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n";
  c.Write(out + reply.body);
}

}  // namespace xoal::channels::testing
