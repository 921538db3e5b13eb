#include "channels/sms.hpp"

#include <gtest/gtest.h>

#include <map>

#include "channels/mime.hpp"
#include "channels/testing/http_fake.hpp"
#include "channels/testing/loopback.hpp"

namespace xoal::channels {
namespace {

using testing::FakeReply;
using testing::HttpFake;

const SystemTime kNow = FromEpochMillis(1796292000000);  // Thu, 03 Dec 2026 10:00:00 UTC

class SmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.Start().ok());
    config_.base_url = fake_.base_url() + "/";
    config_.account_sid = "AC123";
    config_.auth_token = "token-secret";
    config_.from = "+15550001111";
    config_.timeouts = {std::chrono::milliseconds(2000), std::chrono::milliseconds(5000)};
  }

  SmsMessage Message() { return {"+15552223333", "Hi Zoë & co: 50% off+more"}; }

  HttpFake fake_;
  FakeClock clock_{kNow};
  TwilioSmsSender sender_{clock_};
  SmsConfig config_;
};

TEST_F(SmsTest, PostsFormWithBasicAuthAndIdempotencyToken) {
  fake_.Enqueue(
      {201, {{"Content-Type", "application/json"}}, R"({"sid":"SM42","status":"queued"})"});

  SendResult r = sender_.Send(Message(), "msg-1", config_);

  ASSERT_EQ(r.outcome, Outcome::kSent) << r.reason << r.answer.error;
  EXPECT_EQ(r.provider_message_id, "SM42");
  EXPECT_EQ(r.answer.status, 201);
  ASSERT_EQ(fake_.requests().size(), 1u);
  auto req = fake_.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/2010-04-01/Accounts/AC123/Messages.json");
  EXPECT_EQ(req.Header("Authorization"), "Basic " + Base64Encode("AC123:token-secret"));
  EXPECT_EQ(req.Header("I-Twilio-Idempotency-Token"), "msg-1");
  EXPECT_EQ(req.Header("Content-Type"), "application/x-www-form-urlencoded");
  auto form = req.FormFields();
  EXPECT_EQ(form.size(), 3u);
  EXPECT_EQ(form["To"], "+15552223333");
  EXPECT_EQ(form["From"], "+15550001111");
  EXPECT_EQ(form["Body"], "Hi Zoë & co: 50% off+more");
}

TEST_F(SmsTest, TooManyRequestsIsTemporaryWithRetryAfter) {
  fake_.Enqueue({429, {{"Retry-After", "7"}}, R"({"code":20429,"message":"Too Many Requests"})"});

  SendResult r = sender_.Send(Message(), "msg-2", config_);

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.reason, "http_429");
  EXPECT_EQ(r.retry_after, std::chrono::seconds(7));
  EXPECT_EQ(r.answer.status, 429);
  EXPECT_NE(r.answer.body.find("20429"), std::string::npos);
}

TEST_F(SmsTest, RetryAfterDateIsReadAgainstTheInjectedClock) {
  fake_.Enqueue({429, {{"Retry-After", "Thu, 03 Dec 2026 10:02:00 GMT"}}, ""});

  SendResult r = sender_.Send(Message(), "msg-3", config_);

  EXPECT_EQ(r.retry_after, std::chrono::seconds(120));
}

TEST_F(SmsTest, ServerErrorIsTemporary) {
  fake_.Enqueue({500, {}, "oops"});

  SendResult r = sender_.Send(Message(), "msg-4", config_);

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.reason, "http_500");
  EXPECT_EQ(r.answer.body, "oops");
  EXPECT_EQ(r.retry_after, std::nullopt);
}

TEST_F(SmsTest, BadRequestIsPermanentAndKeepsProviderAnswer) {
  std::string answer = R"({"code":21211,"message":"The 'To' number is not a valid phone number."})";
  fake_.Enqueue({400, {}, answer});

  SendResult r = sender_.Send(Message(), "msg-5", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "http_400");
  EXPECT_EQ(r.answer.body, answer);
}

TEST_F(SmsTest, LongAnswersAreCut) {
  fake_.Enqueue({400, {}, std::string(10000, 'x')});

  SendResult r = sender_.Send(Message(), "msg-6", config_);

  EXPECT_EQ(r.answer.body.size(), kMaxAnswerBytes);
}

TEST_F(SmsTest, ConnectionRefusedIsTemporary) {
  config_.base_url = "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort());

  SendResult r = sender_.Send(Message(), "msg-7", config_);

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.reason, "connect_failed");
  EXPECT_EQ(r.answer.status, 0);
}

TEST_F(SmsTest, SlowProviderTimesOut) {
  fake_.Enqueue({201, {}, R"({"sid":"late"})", std::chrono::milliseconds(10000)});
  config_.timeouts.total = std::chrono::milliseconds(300);

  SendResult r = sender_.Send(Message(), "msg-8", config_);

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.reason, "timeout");
}

TEST_F(SmsTest, IncompleteConfigIsPermanentWithoutRequest) {
  config_.auth_token.clear();

  SendResult r = sender_.Send(Message(), "msg-9", config_);

  EXPECT_EQ(r.reason, "invalid_config");
  EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(SmsTest, AccountSidCannotRewriteThePath) {
  config_.account_sid = "AC1/../../evil";

  SendResult r = sender_.Send(Message(), "msg-10", config_);

  EXPECT_EQ(r.reason, "invalid_config");
}

}  // namespace
}  // namespace xoal::channels
