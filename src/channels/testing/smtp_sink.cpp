#include "channels/testing/smtp_sink.hpp"

#include <algorithm>
#include <cctype>

#include "common/crypto.hpp"

namespace xoal::channels::testing {
namespace {

constexpr std::chrono::milliseconds kStallLimit{30000};
// Record()'s reply for an accepted message whose 250 is never written.
constexpr int kHangUp = -1;
constexpr size_t kMaxMessageBytes = 10 * 1024 * 1024;

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// "MAIL FROM:<a@b> SIZE=10" -> "a@b".
std::string PathArgument(const std::string& line) {
  size_t lt = line.find('<');
  size_t gt = line.find('>', lt == std::string::npos ? 0 : lt);
  if (lt == std::string::npos || gt == std::string::npos) return {};
  return line.substr(lt + 1, gt - lt - 1);
}

std::string Decode64(const std::string& text) {
  std::string out;
  return Base64Decode(text, out) ? out : std::string();
}

std::string HeaderValue(const std::string& data, std::string_view name) {
  std::string needle = "\r\n" + std::string(name) + ": ";
  size_t at = ("\r\n" + data).find(needle);
  if (at == std::string::npos) return {};
  size_t start = at + needle.size() - 2;
  return data.substr(start, data.find("\r\n", start) - start);
}

}  // namespace

struct SmtpSink::Session {
  SmtpReceived current;
  bool authenticated = false;
};

Status SmtpSink::Start(std::string_view host, uint16_t port) {
  return server_.Start([this](Connection& c) { Serve(c); }, host, port);
}

void SmtpSink::FailNext(int count, int code) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_code_ = code;
}

void SmtpSink::StallNext(int count) {
  std::lock_guard lock(mu_);
  stall_count_ = count;
}

void SmtpSink::DropNext(int count) {
  std::lock_guard lock(mu_);
  drop_count_ = count;
}

size_t SmtpSink::message_count() const {
  std::lock_guard lock(mu_);
  return messages_.size();
}

std::vector<SmtpReceived> SmtpSink::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

std::map<std::string, int> SmtpSink::KeyCounts(bool accepted_only) const {
  std::map<std::string, int> counts;
  std::lock_guard lock(mu_);
  for (const SmtpReceived& m : messages_) {
    if (!accepted_only || m.reply_code == 250) {
      ++counts[HeaderValue(m.data, "X-Xoal-Idempotency-Key")];
    }
  }
  return counts;
}

std::map<std::string, int> SmtpSink::IdempotencyKeyCounts() const { return KeyCounts(false); }

size_t SmtpSink::SetReplyDelay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  reply_delay_ = delay;
  return messages_.size();
}

std::map<std::string, int> SmtpSink::AcceptedKeyCounts() const { return KeyCounts(true); }

Status SmtpSink::StartLookup() {
  lookup_.SetHandler([this](const RecordedRequest& r) { return LookupReply(r); });
  return lookup_.Start();
}

std::string SmtpSink::lookup_url() const { return lookup_.base_url() + "/messages/{message_id}"; }

FakeReply SmtpSink::LookupReply(const RecordedRequest& request) const {
  constexpr std::string_view kPrefix = "/messages/";
  if (request.method != "GET" || !request.target.starts_with(kPrefix)) {
    return FakeReply{404, {}, R"({"error":"no such route"})"};
  }
  std::string id = PercentDecode(std::string_view(request.target).substr(kPrefix.size()), false);
  std::lock_guard lock(mu_);
  auto it = accepted_by_message_id_.find(id);
  if (it == accepted_by_message_id_.end()) return FakeReply{404, {}, R"({"error":"not found"})"};
  return FakeReply{
      200, {}, R"({"message_id":")" + id + R"(","accepted":)" + std::to_string(it->second) + "}"};
}

std::pair<int, std::chrono::milliseconds> SmtpSink::Record(SmtpReceived& received) {
  std::lock_guard lock(mu_);
  received.reply_code = 250;
  if (stall_count_ > 0) {
    --stall_count_;
    received.reply_code = 0;
  } else if (fail_count_ > 0) {
    --fail_count_;
    received.reply_code = fail_code_;
  }
  messages_.push_back(received);
  if (received.reply_code != 250) return {received.reply_code, std::chrono::milliseconds(0)};
  std::string id = HeaderValue(received.data, "Message-ID");
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  ++accepted_by_message_id_[id];
  if (drop_count_ > 0) {
    --drop_count_;
    return {kHangUp, std::chrono::milliseconds(0)};
  }
  return {250, reply_delay_};
}

void SmtpSink::Serve(Connection& c) {
  Session s;
  if (!c.Write("220 xoal-sink ESMTP ready\r\n")) return;
  std::string line;
  while (c.ReadLine(line)) {
    std::string verb = Upper(line.substr(0, line.find(' ')));
    bool ok = true;
    if (verb == "EHLO" || verb == "HELO") {
      s.current = {};
      s.current.ehlo = line.size() > 5 ? line.substr(5) : "";
      ok = c.Write(options_.username.empty() || verb == "HELO"
                       ? "250-xoal-sink\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"
                       : "250-xoal-sink\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n");
    } else if (verb == "AUTH") {
      ok = HandleAuth(c, line, s);
    } else if (verb == "MAIL") {
      if (!options_.username.empty() && !s.authenticated) {
        ok = c.Write("530 5.7.0 Authentication required\r\n");
      } else {
        s.current.mail_from = PathArgument(line);
        s.current.rcpt_to.clear();
        ok = c.Write("250 2.1.0 Ok\r\n");
      }
    } else if (verb == "RCPT") {
      s.current.rcpt_to.push_back(PathArgument(line));
      ok = c.Write("250 2.1.5 Ok\r\n");
    } else if (verb == "DATA") {
      ok = HandleData(c, s);
    } else if (verb == "RSET" || verb == "NOOP") {
      ok = c.Write("250 2.0.0 Ok\r\n");
    } else if (verb == "QUIT") {
      c.Write("221 2.0.0 Bye\r\n");
      return;
    } else {
      ok = c.Write("502 5.5.2 Command not recognized\r\n");
    }
    if (!ok) return;
  }
}

bool SmtpSink::HandleAuth(Connection& c, const std::string& line, Session& s) {
  std::string rest = line.size() > 5 ? line.substr(5) : "";
  std::string mech = Upper(rest.substr(0, rest.find(' ')));
  std::string initial = rest.find(' ') == std::string::npos ? "" : rest.substr(rest.find(' ') + 1);
  std::string user, password;
  if (mech == "PLAIN") {
    if (initial.empty() && (!c.Write("334 \r\n") || !c.ReadLine(initial))) return false;
    // authzid NUL authcid NUL passwd (RFC 4616)
    std::string decoded = Decode64(initial);
    size_t first = decoded.find('\0');
    size_t second = first == std::string::npos ? first : decoded.find('\0', first + 1);
    if (second != std::string::npos) {
      user = decoded.substr(first + 1, second - first - 1);
      password = decoded.substr(second + 1);
    }
  } else if (mech == "LOGIN") {
    std::string u, p;
    if (!initial.empty()) {
      u = initial;
    } else if (!c.Write("334 VXNlcm5hbWU6\r\n") || !c.ReadLine(u)) {
      return false;
    }
    if (!c.Write("334 UGFzc3dvcmQ6\r\n") || !c.ReadLine(p)) return false;
    user = Decode64(u);
    password = Decode64(p);
  } else {
    return c.Write("504 5.5.4 Unrecognized authentication type\r\n");
  }
  if (user != options_.username || password != options_.password) {
    return c.Write("535 5.7.8 Authentication credentials invalid\r\n");
  }
  s.authenticated = true;
  s.current.auth_user = user;
  s.current.auth_password = password;
  return c.Write("235 2.7.0 Authentication successful\r\n");
}

bool SmtpSink::HandleData(Connection& c, Session& s) {
  if (s.current.rcpt_to.empty()) return c.Write("503 5.5.1 No valid recipients\r\n");
  if (!c.Write("354 End data with <CR><LF>.<CR><LF>\r\n")) return false;
  std::string data, line;
  while (true) {
    if (!c.ReadLine(line)) return false;
    if (line == ".") break;
    if (line.starts_with("..")) line.erase(0, 1);  // RFC 5321 section 4.5.2
    if (data.size() < kMaxMessageBytes) data += line + "\r\n";
  }
  SmtpReceived received = s.current;
  received.data = std::move(data);
  auto [reply, delay] = Record(received);
  if (options_.on_message) options_.on_message(received);
  s.current.rcpt_to.clear();
  // Accepted but not yet confirmed: a client that dies now leaves the message in doubt.
  if (delay.count() > 0 && c.WaitForPeerClose(delay)) return false;
  switch (reply) {
    case 0:
      c.WaitForPeerClose(kStallLimit);
      return false;
    case kHangUp:
      return false;
    case 250:
      return c.Write("250 2.0.0 Ok: queued as Q" + std::to_string(message_count()) + "\r\n");
    default:
      return c.Write(std::to_string(received.reply_code) + (received.reply_code < 500
                                                                ? " 4.3.0 Try again later\r\n"
                                                                : " 5.7.1 Message rejected\r\n"));
  }
}

}  // namespace xoal::channels::testing
