#include "channels/webhook.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channels/testing/http_fake.hpp"
#include "channels/testing/loopback.hpp"

namespace xoal::channels {
namespace {

using testing::HttpFake;

const SystemTime kNow = FromEpochMillis(1796292000000);  // Thu, 03 Dec 2026 10:00:00 UTC

// What a receiver computes, straight from OpenSSL rather than through our crypto helpers.
std::string ReceiverHmac(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.Start().ok());
    config_.secret = "whsec-project-1";
    config_.timeouts = {std::chrono::milliseconds(2000), std::chrono::milliseconds(5000)};
  }

  WebhookRequest Request() {
    WebhookRequest r;
    r.method = "PUT";
    r.url = fake_.base_url() + "/hooks/orders?src=xoal";
    r.headers = {{"X-Customer-Tier", "gold"}};
    r.body = R"({"customer":{"first_name":"Zoë"},"event":"order_placed"})";
    return r;
  }

  HttpFake fake_;
  FakeClock clock_{kNow};
  HttpWebhookSender sender_{clock_};
  WebhookConfig config_;
};

TEST_F(WebhookTest, SignsBodyAndSendsOurHeaders) {
  WebhookRequest request = Request();

  SendResult r = sender_.Send(request, "run-9:step-2", config_);

  ASSERT_EQ(r.outcome, Outcome::kSent) << r.reason << r.answer.error;
  ASSERT_EQ(fake_.requests().size(), 1u);
  auto got = fake_.requests()[0];
  EXPECT_EQ(got.method, "PUT");
  EXPECT_EQ(got.target, "/hooks/orders?src=xoal");
  EXPECT_EQ(got.body, request.body);
  // X-Xoal-Signature is the HMAC of the body (SPEC); the timestamped one covers
  // "<timestamp>.<body>", so a receiver can refuse an old request replayed under a new timestamp.
  EXPECT_EQ(got.Header("X-Xoal-Signature"), "sha256=" + ReceiverHmac("whsec-project-1", got.body));
  EXPECT_EQ(got.Header("X-Xoal-Timestamp"), "1796292000");
  EXPECT_EQ(got.Header("X-Xoal-Timestamp-Signature"),
            "sha256=" + ReceiverHmac("whsec-project-1", "1796292000." + got.body));
  EXPECT_EQ(got.Header("Idempotency-Key"), "run-9:step-2");
  EXPECT_EQ(got.Header("X-Customer-Tier"), "gold");
  EXPECT_EQ(got.Header("Content-Type"), "application/json");
  EXPECT_TRUE(r.provider_message_id.empty());
}

// A retry a minute later carries a new timestamp and so a new timestamped signature over the same
// body: the old one does not verify under the new timestamp.
TEST_F(WebhookTest, EachAttemptSignsItsOwnTimestamp) {
  WebhookRequest request = Request();

  ASSERT_EQ(sender_.Send(request, "k1", config_).outcome, Outcome::kSent);
  clock_.Advance(std::chrono::minutes(1));
  ASSERT_EQ(sender_.Send(request, "k1", config_).outcome, Outcome::kSent);

  auto got = fake_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].Header("X-Xoal-Timestamp"), "1796292060");
  EXPECT_EQ(got[1].Header("X-Xoal-Timestamp-Signature"),
            "sha256=" + ReceiverHmac("whsec-project-1", "1796292060." + request.body));
  EXPECT_NE(got[0].Header("X-Xoal-Timestamp-Signature"),
            got[1].Header("X-Xoal-Timestamp-Signature"));
  EXPECT_EQ(got[0].Header("X-Xoal-Signature"), got[1].Header("X-Xoal-Signature"));
}

TEST_F(WebhookTest, KeepsTheMessagesContentType) {
  WebhookRequest request = Request();
  request.headers.emplace_back("content-type", "application/vnd.acme+json");

  SendResult r = sender_.Send(request, "k1", config_);

  ASSERT_EQ(r.outcome, Outcome::kSent);
  auto got = fake_.requests().at(0);
  EXPECT_EQ(got.Header("Content-Type"), "application/vnd.acme+json");
}

TEST_F(WebhookTest, MessageCannotForgeTheSignature) {
  WebhookRequest request = Request();
  request.headers.emplace_back("X-Xoal-Signature", "sha256=forged");

  SendResult r = sender_.Send(request, "k2", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "invalid_message");
  EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(WebhookTest, HeaderValuesWithLineBreaksAreRefused) {
  WebhookRequest request = Request();
  request.headers = {{"X-Note", "a\r\nX-Injected: 1"}};

  EXPECT_EQ(sender_.Send(request, "k3", config_).reason, "invalid_message");
  EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(WebhookTest, ServerErrorIsTemporaryAndClientErrorPermanent) {
  fake_.Enqueue({500, {}, "down"});
  fake_.Enqueue({400, {}, R"({"error":"bad payload"})"});

  SendResult first = sender_.Send(Request(), "k4", config_);
  SendResult second = sender_.Send(Request(), "k4", config_);

  EXPECT_EQ(first.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(first.reason, "http_500");
  EXPECT_EQ(second.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(second.answer.body, R"({"error":"bad payload"})");
  // Both attempts carried the same key, so the receiver can drop the duplicate.
  EXPECT_EQ(fake_.requests()[0].Header("Idempotency-Key"),
            fake_.requests()[1].Header("Idempotency-Key"));
}

TEST_F(WebhookTest, RedirectIsNotFollowed) {
  fake_.Enqueue({302, {{"Location", "http://169.254.169.254/"}}, ""});

  SendResult r = sender_.Send(Request(), "k5", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "http_302");
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(WebhookTest, ConnectionRefusedIsTemporary) {
  WebhookRequest request = Request();
  request.url = "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort()) + "/x";

  SendResult r = sender_.Send(request, "k6", config_);

  EXPECT_EQ(r.reason, "connect_failed");
  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
}

TEST_F(WebhookTest, NonHttpUrlIsRefused) {
  WebhookRequest request = Request();
  request.url = "file:///etc/passwd";

  EXPECT_EQ(sender_.Send(request, "k7", config_).reason, "invalid_message");
}

TEST_F(WebhookTest, MissingSecretIsInvalidConfig) {
  config_.secret.clear();

  EXPECT_EQ(sender_.Send(Request(), "k8", config_).reason, "invalid_config");
}

}  // namespace
}  // namespace xoal::channels
