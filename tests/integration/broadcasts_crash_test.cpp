// A SIGKILL halfway through a broadcast: after a restart nobody is missed and nobody gets it
// twice.
//
// While the broadcast is being enqueued the SMTP sink answers 451 (a temporary failure) to every
// message, so nothing is accepted before the kill: what is checked is the broadcast engine's
// resumption, not the outbox's own crash window (an email in flight at a kill is looked up
// before it is sent again; messaging_crash_test.cpp covers that). After the restart the sink
// accepts, the clock moves past the retry back-off, and every recipient must be accepted exactly
// once.
#include <iostream>
#include <map>
#include <set>

#include "integration/broadcasts_fixture.hpp"

namespace xoal::testing {
namespace {

constexpr int kRecipients = 1200;
constexpr int kPerMinute = 600;

TEST_F(BroadcastsTest, SigkillHalfwayMissesNobodyAndRepeatsNobody) {
  SetClock("2026-12-01T10:00:00Z");
  std::vector<std::string> usids = MakeCustomers(kRecipients);
  json::object body = EmailBroadcast(ManualSegment(usids));
  body["throttle_per_minute"] = kPerMinute;
  std::string id = CreateBroadcast(body);
  smtp_.FailNext(1'000'000, 451);

  ASSERT_TRUE(HasStatus(Act(id, "send"), 200));
  WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "enqueued") == kPerMinute; },
      "the first minute enqueued");
  AdvanceClock(std::chrono::minutes(1));
  xoal_.Kill();  // while the second minute is being enqueued (or just before)

  ASSERT_TRUE(xoal_.Start());
  http_ = NewClient();
  smtp_.FailNext(0, 451);
  std::cout << "enqueued when the restarted server answered: "
            << CountOf(GetBroadcast(id), "enqueued") << " of " << kRecipients << std::endl;
  json::value resumed = WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "enqueued") >= 2 * kPerMinute; },
      "the second minute after the restart");
  EXPECT_EQ(CountOf(resumed, "recipients"), kRecipients);
  AdvanceClock(std::chrono::hours(2));  // past every retry's back-off
  json::value done = WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "sent") == kRecipients; }, "all sent");
  EXPECT_EQ(Str(done, "status"), "sent");
  EXPECT_EQ(CountOf(done, "enqueued"), kRecipients);

  std::vector<json::value> messages = AllMessages();
  ASSERT_EQ(messages.size(), static_cast<size_t>(kRecipients));
  std::set<std::string> messaged;
  for (const auto& m : messages) messaged.insert(Str(m, "usid"));
  EXPECT_EQ(messaged, std::set<std::string>(usids.begin(), usids.end()));
  std::map<std::string, int> accepted;
  for (const auto& m : smtp_.messages()) {
    if (m.reply_code == 250) ++accepted[m.rcpt_to.empty() ? "" : m.rcpt_to[0]];
  }
  EXPECT_EQ(accepted.size(), static_cast<size_t>(kRecipients));
  for (const auto& [to, n] : accepted) EXPECT_EQ(n, 1) << to << " got it " << n << " times";
}

}  // namespace
}  // namespace xoal::testing
