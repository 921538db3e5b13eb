// MessagingTest: the fixture of the messaging integration tests (channels, template preview,
// outbox). The server runs with --test-clock; the providers are the loopback fakes of
// src/channels/testing, started inside the test process: an SMTP sink, a Twilio-compatible SMS
// provider, an OAuth token endpoint with an FCM endpoint, and a webhook receiver.
//
// Waits on the outbox are bounded polls of the Messages API (the server is another process),
// never sleeps of a fixed length.
#pragma once

#include <chrono>
#include <string>

#include "channels/testing/http_fake.hpp"
#include "channels/testing/smtp_sink.hpp"
#include "integration/integration_fixture.hpp"

namespace xoal::testing {

// A message with its quoted-printable escapes and soft line breaks decoded (other text kept).
std::string DecodeQp(std::string s);

// The first path in `text` that starts with `path_prefix`, up to a quote, '>' or space.
std::string PathAfter(const std::string& text, const std::string& path_prefix);

// The URL of a received message's List-Unsubscribe header ("" when it has none).
std::string ListUnsubscribeUrl(const std::string& data);

class MessagingTest : public XoalTest {
 protected:
  static constexpr std::chrono::seconds kDeliveryWait{20};

  void SetUp() override;

  // PUT /api/v1/channels/{channel} pointing at the fakes; each records a test failure unless 200.
  void ConfigureEmail();
  // ConfigureEmail plus a lookup_url (empty: the sink's lookup API, started on first use) and
  // lookup_headers, so emails a crash left in doubt are looked up before they are sent again.
  void ConfigureEmailWithLookup(const std::string& lookup_url = "",
                                const json::object& lookup_headers = {});
  void ConfigureSms(const std::string& base_url);
  void ConfigureSms() { ConfigureSms(sms_.base_url()); }
  void ConfigurePush();
  void ConfigureWebhook();

  // POST /api/v1/messages with `body`.
  HttpResponse Enqueue(const json::object& body);
  // Enqueues and returns the message id; records a failure unless 201.
  std::string EnqueueOrFail(const json::object& body);

  // GET /api/v1/messages/{id}.
  json::value GetMessage(const std::string& id);
  // Polls the message until `pred` holds (at most `limit`); returns the last answer.
  json::value WaitForMessage(const std::string& id,
                             const std::function<bool(const json::value&)>& pred,
                             std::chrono::milliseconds limit = kDeliveryWait);
  // Polls until the message has `status` (and, when given, exactly `attempts` attempts).
  json::value WaitForStatus(const std::string& id, std::string_view status, int attempts = 0);

  // POST /_test/clock {"advance_ms": ms}.
  void AdvanceClock(std::chrono::milliseconds ms);

  // A customer with email, phone and push token, first name Ann; returns its usid.
  std::string Ann();

  channels::testing::SmtpSink smtp_;
  channels::testing::HttpFake sms_;
  channels::testing::HttpFake oauth_;
  channels::testing::HttpFake fcm_;
  channels::testing::HttpFake hook_;
  std::string private_key_pem_;  // a fresh RSA key for the push service account
  bool smtp_lookup_started_ = false;
};

}  // namespace xoal::testing
