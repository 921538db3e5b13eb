#include "channels/classify.hpp"

#include <gtest/gtest.h>

namespace xoal::channels {
namespace {

using std::chrono::seconds;

// 2026-12-03T10:00:00Z
const SystemTime kNow = FromEpochMillis(1796292000000);

TEST(RetryAfterTest, ReadsDeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("120", kNow), seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), seconds(0));
}

TEST(RetryAfterTest, ReadsHttpDateRelativeToNow) {
  EXPECT_EQ(ParseRetryAfter("Thu, 03 Dec 2026 10:01:30 GMT", kNow), seconds(90));
  EXPECT_EQ(ParseRetryAfter("Thu, 03 Dec 2026 09:00:00 GMT", kNow), seconds(0));
}

TEST(RetryAfterTest, RejectsGarbage) {
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("12s", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("tomorrow", kNow), std::nullopt);
}

TEST(ClassifyHttpTest, SplitsStatusesIntoOutcomes) {
  EXPECT_EQ(ClassifyHttpResponse(201, {}, "{}", kNow).outcome, Outcome::kSent);
  for (int status : {408, 429, 500, 502, 503}) {
    EXPECT_EQ(ClassifyHttpResponse(status, {}, "", kNow).outcome, Outcome::kTemporaryFailure)
        << status;
  }
  for (int status : {301, 400, 401, 403, 404, 422}) {
    EXPECT_EQ(ClassifyHttpResponse(status, {}, "", kNow).outcome, Outcome::kPermanentFailure)
        << status;
  }
}

TEST(ClassifyHttpTest, KeepsAnswerAndRetryAfterOf429) {
  SendResult r = ClassifyHttpResponse(429, "30", "slow down", kNow);

  EXPECT_EQ(r.reason, "http_429");
  EXPECT_EQ(r.retry_after, seconds(30));
  EXPECT_EQ(r.answer.status, 429);
  EXPECT_EQ(r.answer.body, "slow down");
}

TEST(ClassifyHttpTest, IgnoresRetryAfterOnOtherStatuses) {
  EXPECT_EQ(ClassifyHttpResponse(500, "30", "", kNow).retry_after, std::nullopt);
}

TEST(ClassifySmtpTest, FourHundredsAreTemporaryFiveHundredsPermanent) {
  EXPECT_EQ(ClassifySmtpReply(250, "250 ok").outcome, Outcome::kSent);
  EXPECT_EQ(ClassifySmtpReply(451, "451 later").outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(ClassifySmtpReply(451, "451 later").reason, "smtp_451");
  EXPECT_EQ(ClassifySmtpReply(550, "550 no").outcome, Outcome::kPermanentFailure);
}

TEST(TruncateAnswerTest, CutsOnCharacterBoundary) {
  std::string text(kMaxAnswerBytes - 1, 'a');
  text += "\xC3\xA9tail";  // an "é" straddles the limit

  std::string cut = TruncateAnswer(text);

  EXPECT_EQ(cut.size(), kMaxAnswerBytes - 1);
}

TEST(IdempotencyKeyTest, AcceptsPrintableAsciiOnly) {
  EXPECT_TRUE(ValidateIdempotencyKey("msg-123:attempt").ok());
  EXPECT_FALSE(ValidateIdempotencyKey("").ok());
  EXPECT_FALSE(ValidateIdempotencyKey("a\r\nX-Evil: 1").ok());
  EXPECT_FALSE(ValidateIdempotencyKey(std::string(201, 'k')).ok());
}

}  // namespace
}  // namespace xoal::channels
