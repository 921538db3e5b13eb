// Emails a crash left in doubt (docs/messaging.md "Crashes and duplicates"). The server is
// SIGKILLed while the SMTP sink holds an email: either accepted with its 250 not yet written (the
// sink has it) or stalled without a reply (the sink does not). After the restart the message is
// in doubt, and before sending it again the outbox asks the provider's lookup API: found means
// recorded sent without a second send, not found means sent once, anything else means retried
// later and nothing sent.
#include <map>
#include <thread>

#include "channels/testing/loopback.hpp"
#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "integration/messaging_fixture.hpp"

namespace xoal::testing {
namespace {

constexpr std::chrono::seconds kHold{30};  // longer than any test waits; cut short by the kill

class MessagingReconcileTest : public MessagingTest {
 protected:
  void SetUp() override {
    MessagingTest::SetUp();
    ASSERT_TRUE(provider_.Start().ok());
  }

  // The email channel with `lookup_url` (empty: the sink's) and an Authorization header.
  void ConfigureLookup(const std::string& lookup_url = "") {
    ConfigureEmailWithLookup(lookup_url, json::object{{"Authorization", "Bearer lookup-key-42"}});
  }

  // Enqueues an email to Ann and kills the server while the sink holds it: accepted (its 250
  // held back) or stalled (no reply, not accepted). Restarts the server; returns the message id.
  std::string KillWhileTheSinkHoldsIt(bool accepted) {
    Ann();
    if (accepted) {
      smtp_.SetReplyDelay(kHold);
    } else {
      smtp_.StallNext(1);
    }
    std::string id = EnqueueOrFail(
        json::object{{"customer", json::object{{"user_id", "ann-1"}}},
                     {"channel", "email"},
                     {"idempotency_key", kKey},
                     {"transactional", true},
                     {"message", json::object{{"subject", "Receipt"}, {"text", "Thanks"}}}});
    auto deadline = std::chrono::steady_clock::now() + kDeliveryWait;
    while (smtp_.message_count() < 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // another process: poll
    }
    EXPECT_EQ(smtp_.message_count(), 1u);
    xoal_.Kill();
    smtp_.SetReplyDelay(std::chrono::milliseconds(0));
    EXPECT_TRUE(xoal_.Start());
    http_ = NewClient();
    return id;
  }

  // The lookup path of the message the sink was sent: /messages/<32 hex>%40example.com.
  std::string LookupPath() const {
    return "/messages/" + Sha256Hex(kKey).substr(0, 32) + "%40example.com";
  }

  static constexpr const char* kKey = "receipt-77";
  channels::testing::HttpFake provider_;  // a lookup API scripted per test
};

TEST_F(MessagingReconcileTest, InDoubtEmailFoundAtProviderIsNotSentAgain) {
  ConfigureLookup();

  std::string id = KillWhileTheSinkHoldsIt(/*accepted=*/true);
  json::value m = WaitForStatus(id, "sent");

  EXPECT_EQ(JsonAt(m, "/last_answer/outcome"), "\"reconciled\"");
  EXPECT_EQ(JsonAt(m, "/last_answer/reason"), "\"found_at_provider\"");
  EXPECT_EQ(JsonAt(m, "/recoveries"), "1");
  EXPECT_EQ(JsonAt(m, "/attempts"), "2");  // the interrupted send, then the lookup
  EXPECT_EQ(JsonAt(m, "/in_doubt"), "false");
  EXPECT_EQ(Str(m, "provider_message_id"), Sha256Hex(kKey).substr(0, 32) + "@example.com");
  EXPECT_EQ(smtp_.message_count(), 1u);
  EXPECT_EQ(smtp_.AcceptedKeyCounts(), (std::map<std::string, int>{{kKey, 1}}));
  auto lookups = smtp_.lookup_requests();
  ASSERT_EQ(lookups.size(), 1u);
  EXPECT_EQ(lookups[0].method, "GET");
  EXPECT_EQ(lookups[0].target, LookupPath());
  EXPECT_EQ(lookups[0].Header("Authorization"), "Bearer lookup-key-42");
  HttpResponse events = http_->Get("/api/v1/customers/" + Str(m, "usid") + "/events", key());
  int sent_events = 0;
  for (const auto& e : DataOf(events)) sent_events += Str(e, "name") == "message_sent" ? 1 : 0;
  EXPECT_EQ(sent_events, 1);
}

TEST_F(MessagingReconcileTest, InDoubtEmailNotFoundAtProviderIsSentOnce) {
  ConfigureLookup();

  std::string id = KillWhileTheSinkHoldsIt(/*accepted=*/false);
  json::value m = WaitForStatus(id, "sent");

  EXPECT_EQ(JsonAt(m, "/last_answer/outcome"), "\"sent\"");
  EXPECT_EQ(JsonAt(m, "/recoveries"), "1");
  EXPECT_EQ(JsonAt(m, "/in_doubt"), "false");
  EXPECT_EQ(smtp_.message_count(), 2u);  // the stalled one, never accepted, and the send
  EXPECT_EQ(smtp_.AcceptedKeyCounts(), (std::map<std::string, int>{{kKey, 1}}));
  auto lookups = smtp_.lookup_requests();
  ASSERT_EQ(lookups.size(), 1u);
  EXPECT_EQ(lookups[0].target, LookupPath());
}

// No crash needed: a connection lost after the data (the sink accepts the message, then hangs up
// before its 250) leaves the email in doubt, and the retry asks the provider, finds it, and sends
// nothing more.
TEST_F(MessagingReconcileTest, ConnectionLostAfterDataIsInDoubtAndReconciled) {
  ConfigureLookup();
  Ann();
  smtp_.DropNext(1);

  std::string id = EnqueueOrFail(
      json::object{{"customer", json::object{{"user_id", "ann-1"}}},
                   {"channel", "email"},
                   {"idempotency_key", kKey},
                   {"transactional", true},
                   {"message", json::object{{"subject", "Receipt"}, {"text", "Thanks"}}}});
  json::value lost = WaitForStatus(id, "queued", 1);
  AdvanceClock(std::chrono::hours(1));
  json::value m = WaitForStatus(id, "sent", 2);

  EXPECT_EQ(JsonAt(lost, "/last_answer/reason"), "\"connection_lost\"");
  EXPECT_EQ(JsonAt(lost, "/in_doubt"), "true");
  EXPECT_EQ(JsonAt(m, "/last_answer/outcome"), "\"reconciled\"");
  EXPECT_EQ(JsonAt(m, "/recoveries"), "0");
  EXPECT_EQ(smtp_.message_count(), 1u);
  EXPECT_EQ(smtp_.AcceptedKeyCounts(), (std::map<std::string, int>{{kKey, 1}}));
  EXPECT_EQ(smtp_.lookup_requests().size(), 1u);
}

// 500, 429 with Retry-After and connection refused decide nothing: the message stays queued and
// in doubt with the usual back-off, and nothing reaches the sink until a lookup finds it.
TEST_F(MessagingReconcileTest, UndecidedLookupSendsNothingAndBacksOff) {
  ConfigureLookup(provider_.base_url() + "/v1/messages/{message_id}?key={idempotency_key}");
  provider_.Enqueue({500, {}, "lookup down"});
  provider_.Enqueue({429, {{"Retry-After", "3600"}}, "slow down"});

  std::string id = KillWhileTheSinkHoldsIt(/*accepted=*/true);
  json::value after500 = WaitForStatus(id, "queued", 2);
  auto wait = [&](const json::value& m) {
    auto a = ParseIsoTime(Str(m, "updated_at"));
    auto b = ParseIsoTime(Str(m, "next_attempt_at"));
    return a && b ? std::chrono::duration_cast<std::chrono::seconds>(*b - *a).count() : -1;
  };
  AdvanceClock(std::chrono::seconds(wait(after500) + 1));
  json::value after429 = WaitForStatus(id, "queued", 3);
  ConfigureLookup("http://127.0.0.1:" + std::to_string(channels::testing::ClosedLoopbackPort()) +
                  "/messages/{message_id}");
  AdvanceClock(std::chrono::seconds(wait(after429) + 1));
  json::value refused = WaitForStatus(id, "queued", 4);
  ConfigureLookup();
  AdvanceClock(std::chrono::seconds(wait(refused) + 1));
  json::value sent = WaitForStatus(id, "sent", 5);

  EXPECT_EQ(JsonAt(after500, "/last_answer/reason"), "\"lookup_http_500\"");
  EXPECT_EQ(JsonAt(after500, "/last_answer/outcome"), "\"temporary_failure\"");
  EXPECT_EQ(JsonAt(after500, "/in_doubt"), "true");
  EXPECT_GE(wait(after500), 15);  // attempt 2: between half and all of 60 s
  EXPECT_EQ(JsonAt(after429, "/last_answer/reason"), "\"lookup_http_429\"");
  EXPECT_EQ(JsonAt(after429, "/last_answer/retry_after_s"), "3600");
  EXPECT_GE(wait(after429), 3600);
  EXPECT_EQ(JsonAt(after429, "/in_doubt"), "true");
  EXPECT_EQ(JsonAt(refused, "/last_answer/reason"), "\"lookup_connect_failed\"");
  EXPECT_EQ(JsonAt(refused, "/in_doubt"), "true");
  EXPECT_EQ(JsonAt(sent, "/last_answer/outcome"), "\"reconciled\"");
  EXPECT_EQ(smtp_.message_count(), 1u);  // never sent while undecided
  auto asked = provider_.requests();
  ASSERT_EQ(asked.size(), 2u);
  for (const auto& q : asked) {
    EXPECT_EQ(q.method, "GET");
    EXPECT_EQ(q.target,
              "/v1/messages/" + Sha256Hex(kKey).substr(0, 32) + "%40example.com?key=receipt-77");
    EXPECT_EQ(q.Header("Authorization"), "Bearer lookup-key-42");
    EXPECT_EQ(q.Header("Accept"), "application/json");
  }
}

// Without a lookup_url nothing can be asked: the in-doubt email is sent again under the same
// Message-ID, and a sink that had accepted it has it twice (the documented edge).
TEST_F(MessagingReconcileTest, InDoubtEmailWithoutLookupUrlIsSentAgain) {
  ConfigureEmail();

  std::string id = KillWhileTheSinkHoldsIt(/*accepted=*/true);
  json::value m = WaitForStatus(id, "sent");

  EXPECT_EQ(JsonAt(m, "/recoveries"), "1");
  EXPECT_EQ(JsonAt(m, "/last_answer/outcome"), "\"sent\"");
  EXPECT_EQ(smtp_.AcceptedKeyCounts(), (std::map<std::string, int>{{kKey, 2}}));
  auto messages = smtp_.messages();
  ASSERT_EQ(messages.size(), 2u);
  auto message_id = [](const std::string& data) {
    size_t at = data.find("Message-ID: ");
    return data.substr(at, data.find("\r\n", at) - at);
  };
  EXPECT_EQ(message_id(messages[0].data), message_id(messages[1].data));
  EXPECT_TRUE(smtp_.lookup_requests().empty());
}

TEST_F(MessagingReconcileTest, ChannelReadMasksLookupHeadersAndRejectsBadLookupUrl) {
  ConfigureLookup();

  HttpResponse read = http_->Get("/api/v1/channels/email", key());
  json::object bad{
      {"from", "News <news@example.com>"},
      {"smtp", json::object{{"host", "127.0.0.1"}, {"port", smtp_.port()}, {"tls", "none"}}},
      {"lookup_url", "https://api.example/messages"}};
  HttpResponse rejected = http_->Put("/api/v1/channels/email", bad, key());

  ASSERT_TRUE(HasStatus(read, 200));
  EXPECT_EQ(Str(read.json, "lookup_url"), smtp_.lookup_url());
  EXPECT_EQ(JsonAt(read.json, "/lookup_headers/Authorization"), "\"••••42\"");
  EXPECT_EQ(read.body.find("lookup-key"), std::string::npos) << read.body;
  ASSERT_TRUE(HasStatus(rejected, 422));
  EXPECT_EQ(JsonAt(rejected.json, "/error/field"), "\"lookup_url\"");
}

}  // namespace
}  // namespace xoal::testing
