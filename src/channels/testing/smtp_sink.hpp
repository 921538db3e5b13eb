// SmtpSink: a small SMTP server on 127.0.0.1 (port chosen by the kernel) that speaks enough of
// RFC 5321 for libcurl (EHLO/HELO, AUTH PLAIN and LOGIN, MAIL FROM, RCPT TO, DATA, RSET, NOOP,
// QUIT) and records every message it receives. It can refuse the next messages with a given
// reply, stall after their data, or be slow: wait between recording a message and its 250, the
// window in which a client that dies leaves the message sent but unconfirmed. StartLookup()
// adds the message-lookup API a provider offers (GET /messages/{message_id}), which the outbox
// asks about such messages. No STARTTLS. Test support only; thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "channels/testing/http_fake.hpp"
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
  // A slow sink: the wait between recording an accepted message and writing its 250 (cut short
  // when the client hangs up, which then gets no reply). SetReplyDelay() changes it.
  std::chrono::milliseconds reply_delay{0};
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
  // client hangs up, as a server that has hung would. They count as not accepted.
  void StallNext(int count);
  // The next `count` messages are accepted (recorded, and found by the lookup API) but the sink
  // hangs up instead of writing their 250: the client sees the connection lost after its data,
  // as when a server crashes between committing a message and confirming it.
  void DropNext(int count);
  // The reply delay of messages recorded from now on (see SmtpSinkOptions::reply_delay).
  // Returns how many messages were recorded before: the next one is the first to wait so.
  size_t SetReplyDelay(std::chrono::milliseconds delay);

  // Starts the lookup API on another loopback port: GET /messages/{message_id} (the Message-ID
  // without angle brackets, percent-encoded) answers 200 {"message_id": ..., "accepted": n}
  // when the sink accepted that message (250, or 250 about to be written when the client hung
  // up), else 404. Errors: kInternal when it cannot listen.
  Status StartLookup();
  // The template for the email channel's lookup_url. Requires: StartLookup() succeeded.
  std::string lookup_url() const;
  // The lookup requests received, in order.
  std::vector<RecordedRequest> lookup_requests() const { return lookup_.requests(); }

  // Every message that reached the end of DATA, in order, accepted or not.
  std::vector<SmtpReceived> messages() const;
  // How many that is, without copying them (for polls while thousands arrive).
  size_t message_count() const;
  // How many messages carried each X-Xoal-Idempotency-Key header value.
  std::map<std::string, int> IdempotencyKeyCounts() const;
  // The same for accepted messages only (reply 250, written or about to be).
  std::map<std::string, int> AcceptedKeyCounts() const;

 private:
  struct Session;
  void Serve(Connection& connection);
  bool HandleAuth(Connection& c, const std::string& line, Session& s);
  bool HandleData(Connection& c, Session& s);
  // Records `received` with its reply (0 means stall, kHangUp an accepted message whose 250 is
  // never written) and returns them with the reply delay.
  std::pair<int, std::chrono::milliseconds> Record(SmtpReceived& received);
  FakeReply LookupReply(const RecordedRequest& request) const;
  std::map<std::string, int> KeyCounts(bool accepted_only) const;

  const SmtpSinkOptions options_;
  LoopbackServer server_;
  mutable std::mutex mu_;
  int fail_count_ = 0;                                           // guarded by mu_
  int fail_code_ = 0;                                            // guarded by mu_
  int stall_count_ = 0;                                          // guarded by mu_
  int drop_count_ = 0;                                           // guarded by mu_
  std::chrono::milliseconds reply_delay_{options_.reply_delay};  // guarded by mu_
  std::vector<SmtpReceived> messages_;                           // guarded by mu_
  // Accepted messages by Message-ID (without angle brackets), for the lookup API.
  std::map<std::string, int> accepted_by_message_id_;  // guarded by mu_
  HttpFake lookup_;
};

}  // namespace xoal::channels::testing
