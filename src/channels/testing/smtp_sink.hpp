// SmtpSink: a small SMTP server on 127.0.0.1 (port chosen by the kernel) that speaks enough of
// RFC 5321 for libcurl (EHLO/HELO, AUTH PLAIN and LOGIN, MAIL FROM, RCPT TO, DATA, RSET, NOOP,
// QUIT) and records every message it receives. It can refuse the next messages with a given
// reply, or stall after their data. No STARTTLS. Test support only; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "channels/testing/loopback.hpp"
#include "common/status.hpp"

namespace xoal::channels::testing {

struct SmtpReceived {
  std::string ehlo;       // the EHLO/HELO argument
  std::string auth_user;  // who logged in, empty without AUTH
  std::string auth_password;
  std::string mail_from;  // the reverse-path, without angle brackets
  std::vector<std::string> rcpt_to;
  std::string data;    // the message as sent, dot-stuffing undone, final CRLF.CRLF removed
  int reply_code = 0;  // what the sink answered to the end of DATA (0 when it stalled)
};

struct SmtpSinkOptions {
  // When username is set, the sink advertises AUTH PLAIN LOGIN and requires a login with these
  // credentials before MAIL FROM.
  std::string username;
  std::string password;
  // Called (on the sink's thread) with each message once it is recorded; may be empty.
  std::function<void(const SmtpReceived&)> on_message;
};

class SmtpSink {
 public:
  explicit SmtpSink(SmtpSinkOptions options = {}) : options_(std::move(options)) {}

  // Listens on `host`:`port` (port 0: the kernel picks one). Errors: kInternal when it cannot.
  Status Start(std::string_view host = "127.0.0.1", uint16_t port = 0);
  uint16_t port() const { return server_.port(); }
  void Stop() { server_.Stop(); }

  // The next `count` messages get `code` (451 or 550, say) instead of 250 after their data.
  void FailNext(int count, int code);
  // The next `count` messages get no reply after their data: the sink waits (bounded) until the
  // client hangs up, as a server that has hung would.
  void StallNext(int count);

  // Every message that reached the end of DATA, in order, accepted or not.
  std::vector<SmtpReceived> messages() const;
  // How many that is, without copying them (for polls while thousands arrive).
  size_t message_count() const;
  // How many messages carried each X-Xoal-Idempotency-Key header value.
  std::map<std::string, int> IdempotencyKeyCounts() const;

 private:
  struct Session;
  void Serve(Connection& connection);
  bool HandleAuth(Connection& c, const std::string& line, Session& s);
  bool HandleData(Connection& c, Session& s);
  // The reply to the message just received; 0 means stall.
  int NextReply();

  const SmtpSinkOptions options_;
  LoopbackServer server_;
  mutable std::mutex mu_;
  int fail_count_ = 0;                  // guarded by mu_
  int fail_code_ = 0;                   // guarded by mu_
  int stall_count_ = 0;                 // guarded by mu_
  std::vector<SmtpReceived> messages_;  // guarded by mu_
};

}  // namespace xoal::channels::testing
