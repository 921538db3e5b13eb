#include "channels/email.hpp"

#include <gtest/gtest.h>

#include "channels/mime.hpp"
#include "channels/testing/http_fake.hpp"
#include "channels/testing/loopback.hpp"
#include "channels/testing/smtp_sink.hpp"
#include "common/crypto.hpp"

namespace xoal::channels {
namespace {

using testing::FakeReply;
using testing::HttpFake;
using testing::RecordedRequest;
using testing::SmtpReceived;
using testing::SmtpSink;
using testing::SmtpSinkOptions;

const SystemTime kNow = FromEpochMillis(1796292000000);  // Thu, 03 Dec 2026 10:00:00 UTC

// --- helpers that read the bytes back the way a mail client would ---

std::string HeaderOf(const std::string& message, const std::string& name) {
  std::string head = "\r\n" + message.substr(0, message.find("\r\n\r\n"));
  size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  size_t start = at + name.size() + 4;
  std::string value;
  // Unfold continuation lines (RFC 5322 section 2.2.3).
  size_t end = head.find("\r\n", start);
  value = head.substr(start, end - start);
  while (end != std::string::npos && end + 2 < head.size() && head[end + 2] == ' ') {
    size_t next = head.find("\r\n", end + 2);
    value += head.substr(end + 2, next - end - 2);
    end = next;
  }
  return value;
}

std::string DecodeQuotedPrintable(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=' && text.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;
    } else if (text[i] == '=' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Decodes "=?UTF-8?B?...?=" words separated by folding white space.
std::string DecodeEncodedWords(const std::string& value) {
  std::string out;
  size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    size_t end = value.find("?=", pos + 10);
    std::string decoded;
    EXPECT_TRUE(Base64Decode(value.substr(pos + 10, end - pos - 10), decoded));
    out += decoded;
    pos = end + 2;
  }
  return out;
}

struct Part {
  std::string headers;
  std::string body;
};

std::vector<Part> MultipartParts(const std::string& message) {
  std::string type = HeaderOf(message, "Content-Type");
  std::string boundary = type.substr(type.find("boundary=\"") + 10);
  boundary.pop_back();
  std::vector<Part> parts;
  std::string delimiter = "--" + boundary;
  size_t pos = message.find(delimiter + "\r\n");
  while (pos != std::string::npos) {
    size_t start = pos + delimiter.size() + 2;
    size_t next = message.find("\r\n" + delimiter, start);
    std::string part = message.substr(start, next - start);
    size_t split = part.find("\r\n\r\n");
    parts.push_back({part.substr(0, split + 2), part.substr(split + 4)});
    pos = message.compare(next + 2 + delimiter.size(), 2, "--") == 0 ? std::string::npos : next + 2;
  }
  return parts;
}

EmailMessage MarketingEmail() {
  EmailMessage m;
  m.to = "Ann Lee <ann@example.org>";
  m.subject = "Still thinking, Zoë? 🎁";
  m.text = "Hi Zoë,\nyour cart misses you.\n.dot line\n";
  m.html = "<p>Hi Zo&euml;,</p><p>a=b</p>";
  m.unsubscribe_url = "https://xoal.example/unsubscribe/tok123";
  m.unsubscribe_mailto = "mailto:unsubscribe@news.example.com?subject=tok123";
  return m;
}

class EmailTest : public ::testing::Test {
 protected:
  void StartSink(SmtpSinkOptions options = {}) {
    sink_ = std::make_unique<SmtpSink>(std::move(options));
    ASSERT_TRUE(sink_->Start().ok());
    config_.host = "127.0.0.1";
    config_.port = sink_->port();
  }

  void SetUp() override {
    config_.from = "Xoal News <news@news.example.com>";
    config_.tls = SmtpTls::kNone;
    config_.timeouts = {std::chrono::milliseconds(2000), std::chrono::milliseconds(5000)};
  }

  FakeClock clock_{kNow};
  SmtpEmailSender sender_{clock_};
  EmailConfig config_;
  std::unique_ptr<SmtpSink> sink_;
};

TEST(MimeTest, EncodesNonAsciiSubjectAsUtf8Words) {
  std::string subject = "Ünïcödé " + std::string(60, 'x') + " 日本語のテキスト";

  std::string encoded = EncodeHeaderText(subject);

  EXPECT_TRUE(encoded.starts_with("=?UTF-8?B?"));
  EXPECT_NE(encoded.find("\r\n "), std::string::npos);  // folded into several words
  for (size_t start = 0; start < encoded.size();) {
    size_t end = encoded.find("\r\n ", start);
    EXPECT_LE((end == std::string::npos ? encoded.size() : end) - start, 75u);
    start = end == std::string::npos ? encoded.size() : end + 3;
  }
  EXPECT_EQ(DecodeEncodedWords(encoded), subject);
  EXPECT_EQ(EncodeHeaderText("Plain subject"), "Plain subject");
}

TEST(MimeTest, QuotedPrintableKeepsLinesShortAndRoundTrips) {
  std::string text = std::string(200, 'a') + "=é \nnext line \t\nlast";

  std::string qp = EncodeQuotedPrintable(text);

  for (size_t start = 0; start < qp.size();) {
    size_t end = qp.find("\r\n", start);
    EXPECT_LE((end == std::string::npos ? qp.size() : end) - start, 76u);
    start = end == std::string::npos ? qp.size() : end + 2;
  }
  EXPECT_NE(qp.find("=3D=C3=A9"), std::string::npos);
  EXPECT_NE(qp.find("next line =09\r\n"), std::string::npos);  // trailing white space encoded
  std::string expected = std::string(200, 'a') + "=é \r\nnext line \t\r\nlast";
  EXPECT_EQ(DecodeQuotedPrintable(qp), expected);
}

TEST(MimeTest, FormatsMailboxesAndDates) {
  EXPECT_EQ(FormatMailbox({"News", "n@example.com"}), "News <n@example.com>");
  EXPECT_EQ(FormatMailbox({"Doe, J.", "j@example.com"}), "\"Doe, J.\" <j@example.com>");
  EXPECT_EQ(FormatMailbox({"", "j@example.com"}), "<j@example.com>");
  EXPECT_EQ(FormatMailbox({"Zoë", "z@example.com"}), "=?UTF-8?B?Wm/Dqw==?= <z@example.com>");
  EXPECT_EQ(FormatRfc5322Date(kNow), "Thu, 03 Dec 2026 10:00:00 +0000");
  EXPECT_FALSE(ParseMailbox("no-at-sign").ok());
  EXPECT_FALSE(ParseMailbox("a@b.c\r\nBcc: x@y.z").ok());
  EXPECT_EQ(ParseMailbox("\"Doe, J.\" <j@example.com>")->name, "Doe, J.");
}

TEST(MimeTest, MessageIdIsStableAcrossRetries) {
  MimeEnvelope first{"key-1", kNow, "=_b1"};
  MimeEnvelope retry{"key-1", kNow + std::chrono::minutes(5), "=_b2"};

  auto a = BuildEmailMime(MarketingEmail(), "news@news.example.com", first);
  auto b = BuildEmailMime(MarketingEmail(), "news@news.example.com", retry);

  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(HeaderOf(*a, "Message-ID"), HeaderOf(*b, "Message-ID"));
  EXPECT_EQ(HeaderOf(*a, "Message-ID"), "<" + MessageIdFor("key-1", "n@news.example.com") + ">");
}

// The sink receives a complete multipart/alternative message with every header we promise.
TEST_F(EmailTest, DeliversMultipartMessageWithHeaders) {
  StartSink({"smtp-user", "smtp-secret"});
  config_.username = "smtp-user";
  config_.password = "smtp-secret";

  SendResult r = sender_.Send(MarketingEmail(), "msg-42", config_);

  ASSERT_EQ(r.outcome, Outcome::kSent) << r.reason << " " << r.answer.error << r.answer.body;
  ASSERT_EQ(sink_->messages().size(), 1u);
  SmtpReceived got = sink_->messages()[0];
  EXPECT_EQ(got.auth_user, "smtp-user");
  EXPECT_EQ(got.auth_password, "smtp-secret");
  EXPECT_EQ(got.ehlo, "news.example.com");
  EXPECT_EQ(got.mail_from, "news@news.example.com");
  EXPECT_EQ(got.rcpt_to, std::vector<std::string>{"ann@example.org"});
  const std::string& m = got.data;
  EXPECT_EQ(HeaderOf(m, "From"), "Xoal News <news@news.example.com>");
  EXPECT_EQ(HeaderOf(m, "To"), "Ann Lee <ann@example.org>");
  EXPECT_EQ(DecodeEncodedWords(HeaderOf(m, "Subject")), "Still thinking, Zoë? 🎁");
  EXPECT_EQ(HeaderOf(m, "Date"), "Thu, 03 Dec 2026 10:00:00 +0000");
  EXPECT_EQ(HeaderOf(m, "Message-ID"), "<" + r.provider_message_id + ">");
  EXPECT_TRUE(r.provider_message_id.ends_with("@news.example.com"));
  EXPECT_EQ(HeaderOf(m, "MIME-Version"), "1.0");
  EXPECT_EQ(HeaderOf(m, "X-Xoal-Idempotency-Key"), "msg-42");
  EXPECT_EQ(HeaderOf(m, "List-Unsubscribe"),
            "<mailto:unsubscribe@news.example.com?subject=tok123>, "
            "<https://xoal.example/unsubscribe/tok123>");
  EXPECT_EQ(HeaderOf(m, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  EXPECT_TRUE(HeaderOf(m, "Content-Type").starts_with("multipart/alternative; boundary=\""));

  std::vector<Part> parts = MultipartParts(m);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_NE(parts[0].headers.find("Content-Type: text/plain; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(parts[0].headers.find("Content-Transfer-Encoding: quoted-printable\r\n"),
            std::string::npos);
  EXPECT_EQ(DecodeQuotedPrintable(parts[0].body),
            "Hi Zoë,\r\nyour cart misses you.\r\n.dot line\r\n");
  EXPECT_NE(parts[1].headers.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  EXPECT_EQ(DecodeQuotedPrintable(parts[1].body), "<p>Hi Zo&euml;,</p><p>a=b</p>");
  EXPECT_EQ(r.answer.status, 250);
  EXPECT_NE(r.answer.body.find("queued as"), std::string::npos);
}

TEST_F(EmailTest, TransactionalMailNeedsNoUnsubscribeHeader) {
  StartSink();
  EmailMessage m = MarketingEmail();
  m.transactional = true;
  m.unsubscribe_url.clear();
  m.unsubscribe_mailto.clear();
  m.html.clear();

  SendResult r = sender_.Send(m, "receipt-1", config_);

  ASSERT_EQ(r.outcome, Outcome::kSent) << r.reason;
  const std::string& data = sink_->messages().at(0).data;
  EXPECT_EQ(HeaderOf(data, "List-Unsubscribe"), "");
  EXPECT_EQ(HeaderOf(data, "Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(EmailTest, RefusesMarketingMailWithoutUnsubscribeTarget) {
  StartSink();
  EmailMessage m = MarketingEmail();
  m.unsubscribe_url.clear();
  m.unsubscribe_mailto.clear();

  SendResult r = sender_.Send(m, "msg-1", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "invalid_message");
  EXPECT_NE(r.answer.error.find("unsubscribe_url"), std::string::npos);
  EXPECT_TRUE(sink_->messages().empty());
}

TEST_F(EmailTest, RefusesHeaderInjection) {
  StartSink();
  EmailMessage m = MarketingEmail();
  m.subject = "Hi\r\nBcc: victim@example.com";

  SendResult r = sender_.Send(m, "msg-1", config_);

  EXPECT_EQ(r.reason, "invalid_message");
  EXPECT_TRUE(sink_->messages().empty());
}

// 451 is temporary; the retry under the same key succeeds and the sink counts the key twice.
TEST_F(EmailTest, Smtp451IsTemporary) {
  StartSink();
  sink_->FailNext(1, 451);

  SendResult first = sender_.Send(MarketingEmail(), "msg-7", config_);
  SendResult retry = sender_.Send(MarketingEmail(), "msg-7", config_);

  EXPECT_EQ(first.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(first.reason, "smtp_451");
  EXPECT_EQ(first.answer.status, 451);
  EXPECT_EQ(first.answer.body, "451 4.3.0 Try again later");
  EXPECT_EQ(retry.outcome, Outcome::kSent);
  EXPECT_EQ(sink_->IdempotencyKeyCounts().at("msg-7"), 2);
}

TEST_F(EmailTest, Smtp550IsPermanent) {
  StartSink();
  sink_->FailNext(1, 550);

  SendResult r = sender_.Send(MarketingEmail(), "msg-8", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "smtp_550");
  EXPECT_EQ(r.answer.body, "550 5.7.1 Message rejected");
}

TEST_F(EmailTest, WrongPasswordIsPermanent) {
  StartSink({"smtp-user", "smtp-secret"});
  config_.username = "smtp-user";
  config_.password = "wrong";

  SendResult r = sender_.Send(MarketingEmail(), "msg-9", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "smtp_535");
  EXPECT_TRUE(sink_->messages().empty());
}

// A server that swallows the data and never answers: the total timeout ends the attempt.
TEST_F(EmailTest, StalledServerTimesOutAsTemporary) {
  StartSink();
  sink_->StallNext(1);
  config_.timeouts.total = std::chrono::milliseconds(500);

  auto start = std::chrono::steady_clock::now();
  SendResult r = sender_.Send(MarketingEmail(), "msg-10", config_);
  auto took = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.reason, "timeout");
  EXPECT_EQ(sink_->messages().size(), 1u);  // delivered or not: the outbox cannot know
  // Cleanup must not wait for a QUIT reply from the stalled server.
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(EmailTest, ConnectionRefusedIsTemporary) {
  config_.host = "127.0.0.1";
  config_.port = testing::ClosedLoopbackPort();

  SendResult r = sender_.Send(MarketingEmail(), "msg-11", config_);

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.reason, "connect_failed");
  EXPECT_EQ(r.answer.status, 0);
  EXPECT_FALSE(r.answer.error.empty());
}

// With STARTTLS configured, a server that does not offer it never sees the message in clear.
TEST_F(EmailTest, StartTlsRequiredButNotOfferedIsPermanent) {
  StartSink();
  config_.tls = SmtpTls::kStartTls;

  SendResult r = sender_.Send(MarketingEmail(), "msg-12", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "starttls_unavailable");
  EXPECT_TRUE(sink_->messages().empty());
}

TEST_F(EmailTest, MissingHostIsInvalidConfig) {
  config_.host.clear();

  SendResult r = sender_.Send(MarketingEmail(), "msg-13", config_);

  EXPECT_EQ(r.reason, "invalid_config");
  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
}

// --- the provider lookup that settles a send a crash interrupted ---

TEST(EmailLookupTest, ExpandsPlaceholdersPercentEncoded) {
  EXPECT_EQ(ExpandLookupUrl("https://api.example/v1/{message_id}?k={idempotency_key}",
                            "ab12@news.example.com", "wf 1/step?"),
            "https://api.example/v1/ab12%40news.example.com?k=wf%201%2Fstep%3F");
  EXPECT_EQ(ExpandLookupUrl("http://h/{message_id}/{message_id}", "a+b", ""),
            "http://h/a%2Bb/a%2Bb");
}

TEST(EmailLookupTest, ValidatesUrlTemplateAndHeaders) {
  EXPECT_TRUE(ValidateEmailLookup("https://api.example/messages/{message_id}", {}).ok());
  EXPECT_TRUE(
      ValidateEmailLookup("http://h/x?key={idempotency_key}", {{"Authorization", "Basic x"}}).ok());

  EXPECT_EQ(ValidateEmailLookup("ftp://h/{message_id}", {}).field(), "lookup_url");
  EXPECT_EQ(ValidateEmailLookup("https://h/messages", {}).field(), "lookup_url");
  EXPECT_EQ(ValidateEmailLookup("https://h/{message}/{message_id}", {}).field(), "lookup_url");
  EXPECT_EQ(ValidateEmailLookup("https://h/a b/{message_id}", {}).field(), "lookup_url");
  EXPECT_EQ(ValidateEmailLookup("https://h/{message_id}", {{"Bad Name", "x"}}).field(),
            "lookup_headers.Bad Name");
  EXPECT_EQ(ValidateEmailLookup("https://h/{message_id}", {{"X-Key", "a\r\nHost: evil"}}).field(),
            "lookup_headers.X-Key");
}

class EmailLookupFakeTest : public EmailTest {
 protected:
  void SetUp() override {
    EmailTest::SetUp();
    ASSERT_TRUE(provider_.Start().ok());
    config_.lookup_url =
        provider_.base_url() + "/v3/events?message-id={message_id}&k={idempotency_key}";
    config_.lookup_headers = {{"Authorization", "Basic YXBpOmtleS0x"}};
  }

  HttpFake provider_;
};

// One GET, with the Message-ID Send() writes (percent-encoded), the key and the headers.
TEST_F(EmailLookupFakeTest, AsksWithEncodedMessageIdKeyAndHeaders) {
  provider_.Enqueue(FakeReply{200, {}, R"({"items":[{"event":"accepted"}]})"});

  LookupResult r = sender_.Lookup(MarketingEmail(), "wf/run 7", config_);

  EXPECT_EQ(r.outcome, LookupOutcome::kFound);
  EXPECT_EQ(r.result.outcome, Outcome::kSent);
  EXPECT_EQ(r.result.reason, "found_at_provider");
  std::string message_id = MessageIdFor("wf/run 7", "news@news.example.com");
  EXPECT_EQ(r.result.provider_message_id, message_id);
  EXPECT_EQ(r.result.answer.status, 200);
  ASSERT_EQ(provider_.requests().size(), 1u);
  RecordedRequest q = provider_.requests()[0];
  EXPECT_EQ(q.method, "GET");
  EXPECT_EQ(q.target, "/v3/events?message-id=" + message_id.substr(0, 32) +
                          "%40news.example.com&k=wf%2Frun%207");
  EXPECT_EQ(q.Header("Authorization"), "Basic YXBpOmtleS0x");
  EXPECT_EQ(q.Header("Accept"), "application/json");
  EXPECT_EQ(q.body, "");
}

TEST_F(EmailLookupFakeTest, NotFoundIsSafeToSend) {
  provider_.Enqueue(FakeReply{404, {}, R"({"message":"not found"})"});

  LookupResult r = sender_.Lookup(MarketingEmail(), "k-404", config_);

  EXPECT_EQ(r.outcome, LookupOutcome::kNotFound);
  EXPECT_EQ(r.result.reason, "not_found_at_provider");
}

// Anything but 200 or 404 decides nothing: a temporary failure, with Retry-After when given.
TEST_F(EmailLookupFakeTest, ServerErrorsAndThrottlingAreUndecided) {
  provider_.Enqueue(FakeReply{500, {}, "oops"});
  provider_.Enqueue(FakeReply{429, {{"Retry-After", "90"}}, "slow down"});
  provider_.Enqueue(FakeReply{401, {}, "bad key"});

  LookupResult e500 = sender_.Lookup(MarketingEmail(), "k-1", config_);
  LookupResult e429 = sender_.Lookup(MarketingEmail(), "k-1", config_);
  LookupResult e401 = sender_.Lookup(MarketingEmail(), "k-1", config_);

  EXPECT_EQ(e500.outcome, LookupOutcome::kUndecided);
  EXPECT_EQ(e500.result.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(e500.result.reason, "lookup_http_500");
  EXPECT_EQ(e429.outcome, LookupOutcome::kUndecided);
  EXPECT_EQ(e429.result.reason, "lookup_http_429");
  EXPECT_EQ(e429.result.retry_after, std::chrono::seconds(90));
  EXPECT_EQ(e401.outcome, LookupOutcome::kUndecided);
  EXPECT_EQ(e401.result.outcome, Outcome::kTemporaryFailure);
}

TEST_F(EmailLookupFakeTest, ConnectionRefusedIsUndecided) {
  config_.lookup_url =
      "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort()) + "/m/{message_id}";

  LookupResult r = sender_.Lookup(MarketingEmail(), "k-1", config_);

  EXPECT_EQ(r.outcome, LookupOutcome::kUndecided);
  EXPECT_EQ(r.result.reason, "lookup_connect_failed");
}

// The sink's lookup API knows what it accepted: the message sent is found, another is not.
TEST_F(EmailTest, SinkLookupFindsAcceptedMessagesOnly) {
  StartSink();
  ASSERT_TRUE(sink_->StartLookup().ok());
  config_.lookup_url = sink_->lookup_url();
  ASSERT_TRUE(sender_.Send(MarketingEmail(), "sent-1", config_).sent());
  sink_->FailNext(1, 451);
  ASSERT_FALSE(sender_.Send(MarketingEmail(), "refused-1", config_).sent());

  EXPECT_EQ(sender_.Lookup(MarketingEmail(), "sent-1", config_).outcome, LookupOutcome::kFound);
  EXPECT_EQ(sender_.Lookup(MarketingEmail(), "refused-1", config_).outcome,
            LookupOutcome::kNotFound);
  EXPECT_EQ(sender_.Lookup(MarketingEmail(), "never", config_).outcome, LookupOutcome::kNotFound);
  EXPECT_EQ(sink_->AcceptedKeyCounts(), (std::map<std::string, int>{{"sent-1", 1}}));
  EXPECT_EQ(sink_->lookup_requests().size(), 3u);
}

// A slow sink records the message, then waits before its 250: the client still gets it.
TEST_F(EmailTest, SlowSinkRepliesAfterItsDelay) {
  SmtpSinkOptions options;
  options.reply_delay = std::chrono::milliseconds(30);
  StartSink(std::move(options));

  SendResult r = sender_.Send(MarketingEmail(), "slow-1", config_);

  EXPECT_EQ(r.outcome, Outcome::kSent) << r.reason;
  EXPECT_EQ(sink_->AcceptedKeyCounts(), (std::map<std::string, int>{{"slow-1", 1}}));
}

}  // namespace
}  // namespace xoal::channels
