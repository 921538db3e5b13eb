#include "messaging/outbox.hpp"

#include <gtest/gtest.h>

namespace xoal::messaging {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RetryDelayTest, DoublesFromTheBaseWithinHalfToAllOfIt) {
  OutboxOptions o;

  EXPECT_EQ(RetryDelay(1, std::nullopt, o, 0.0), milliseconds(15000));
  EXPECT_EQ(RetryDelay(1, std::nullopt, o, 0.999999), milliseconds(29999));
  EXPECT_EQ(RetryDelay(2, std::nullopt, o, 0.0), milliseconds(30000));
  EXPECT_EQ(RetryDelay(3, std::nullopt, o, 0.5), milliseconds(90000));
}

TEST(RetryDelayTest, CapsAtMaxBackoffEvenForHugeAttemptCounts) {
  OutboxOptions o;

  EXPECT_EQ(RetryDelay(20, std::nullopt, o, 0.0), milliseconds(1800 * 1000));
  EXPECT_EQ(RetryDelay(1000, std::nullopt, o, 0.999), milliseconds(3598200));
}

TEST(RetryDelayTest, RetryAfterRaisesTheDelayUpToItsCap) {
  OutboxOptions o;

  EXPECT_EQ(RetryDelay(1, seconds(120), o, 0.9), milliseconds(120000));
  EXPECT_EQ(RetryDelay(1, seconds(1), o, 0.0), milliseconds(15000));  // never shortens it
  EXPECT_EQ(RetryDelay(1, seconds(7 * 24 * 3600), o, 0.0), milliseconds(6 * 3600 * 1000));
}

TEST(RandomUnitTest, StaysInTheUnitIntervalAndVaries) {
  double lo = 1;
  double hi = 0;
  for (int i = 0; i < 1000; ++i) {
    double u = RandomUnit();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }

  EXPECT_LT(lo, 0.1);
  EXPECT_GT(hi, 0.9);
}

}  // namespace
}  // namespace xoal::messaging
