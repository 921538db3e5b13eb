// The outbox end to end (SPEC "Messages and channels"): POST /api/v1/messages renders and
// enqueues, a worker delivers to the loopback fakes, and the Messages API shows the outcome.
// Checks the bytes each provider received, retries of temporary failures after the back-off
// (the test clock is moved past it), permanent failures, idempotent enqueue, the engagement
// events on the customer, and the list filters and pagination.
#include <set>
#include <thread>

#include "channels/testing/loopback.hpp"
#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "integration/messaging_fixture.hpp"

namespace xoal::testing {
namespace {

using MessagingDeliveryTest = MessagingTest;
using channels::testing::FakeReply;
using std::chrono::seconds;

json::object EmailBody(const std::string& usid, const std::string& key_suffix = "1") {
  return json::object{
      {"customer", json::object{{"usid", usid}}},
      {"channel", "email"},
      {"idempotency_key", "welcome-" + key_suffix},
      {"transactional", true},
      {"data", json::object{{"code", "K-9"}}},
      {"message", json::object{{"subject", "Welcome {{ customer.first_name }}"},
                               {"text", "Your code is {{ trigger.code }}."},
                               {"html", "<p>Your code is <b>{{ trigger.code }}</b></p>"}}}};
}

// An SMS to Ann (the fixture's customer with user_id ann-1).
json::object SmsBody(const std::string& text) {
  return json::object{{"customer", json::object{{"user_id", "ann-1"}}},
                      {"channel", "sms"},
                      {"message", json::object{{"body", text}}}};
}

int64_t MillisBetween(const json::value& m, std::string_view from, std::string_view to) {
  auto a = ParseIsoTime(Str(m, from));
  auto b = ParseIsoTime(Str(m, to));
  EXPECT_TRUE(a && b) << json::serialize(m);
  if (!a || !b) return -1;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*b - *a).count();
}

bool HasEvent(HttpClient& http, const std::string& key, const std::string& usid,
              const std::string& name) {
  HttpResponse r = http.Get("/api/v1/customers/" + usid + "/events", key);
  for (const auto& e : DataOf(r)) {
    if (Str(e, "name") == name) return true;
  }
  return false;
}

TEST_F(MessagingDeliveryTest, EmailReachesTheSmtpSinkAsMime) {
  ConfigureEmail();
  std::string usid = Ann();

  std::string id = EnqueueOrFail(EmailBody(usid));
  json::value m = WaitForStatus(id, "sent", 1);

  auto received = smtp_.messages();
  ASSERT_EQ(received.size(), 1u);
  const auto& mail = received[0];
  EXPECT_EQ(mail.mail_from, "news@example.com");
  EXPECT_EQ(mail.rcpt_to, std::vector<std::string>{"ann@example.com"});
  EXPECT_NE(mail.data.find("Subject: Welcome Ann\r\n"), std::string::npos) << mail.data;
  EXPECT_NE(mail.data.find("X-Xoal-Idempotency-Key: welcome-1\r\n"), std::string::npos);
  EXPECT_NE(mail.data.find("Content-Type: multipart/alternative"), std::string::npos);
  EXPECT_NE(mail.data.find("Content-Type: text/plain; charset=utf-8"), std::string::npos)
      << mail.data;
  EXPECT_NE(mail.data.find("Your code is K-9."), std::string::npos);
  EXPECT_NE(mail.data.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
  EXPECT_NE(mail.data.find("Message-ID: <" + Str(m, "provider_message_id") + ">"),
            std::string::npos)
      << json::serialize(m);
  EXPECT_EQ(mail.data.find("List-Unsubscribe"), std::string::npos);  // transactional
  EXPECT_EQ(Str(m, "idempotency_key"), "welcome-1");
  EXPECT_EQ(JsonAt(m, "/transactional"), "true");
  EXPECT_EQ(JsonAt(m, "/last_answer/reason"), "\"sent\"");
  EXPECT_EQ(JsonAt(m, "/last_answer/status"), "250");
  EXPECT_FALSE(IsNullMember(m, "sent_at"));
  EXPECT_TRUE(IsNullMember(m, "next_attempt_at"));
  EXPECT_TRUE(HasEvent(*http_, key(), usid, "message_sent"));
}

TEST_F(MessagingDeliveryTest, MarketingEmailCarriesListUnsubscribe) {
  ConfigureEmail();
  std::string usid = Ann();
  json::object body = EmailBody(usid);
  body["transactional"] = false;
  body["message"].as_object()["unsubscribe_url"] = "https://x.example/u/{{ customer.user_id }}";

  std::string id = EnqueueOrFail(body);
  WaitForStatus(id, "sent", 1);

  ASSERT_EQ(smtp_.messages().size(), 1u);
  EXPECT_NE(smtp_.messages()[0].data.find("List-Unsubscribe: <https://x.example/u/ann-1>"),
            std::string::npos)
      << smtp_.messages()[0].data;
}

TEST_F(MessagingDeliveryTest, SmsPostsTwilioForm) {
  ConfigureSms();
  std::string usid = Ann();

  std::string id =
      EnqueueOrFail({{"customer", json::object{{"user_id", "ann-1"}}},
                     {"channel", "sms"},
                     {"idempotency_key", "sms-1"},
                     {"message", json::object{{"body", "Hi {{ customer.first_name }} & co"}}}});
  json::value m = WaitForStatus(id, "sent", 1);

  auto requests = sms_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/2010-04-01/Accounts/AC123/Messages.json");
  EXPECT_EQ(req.Header("Authorization"),
            "Basic " + std::string("QUMxMjM6dG9rZW4tc2VjcmV0LTQy"));  // AC123:token-secret-42
  EXPECT_EQ(req.Header("I-Twilio-Idempotency-Token"), "sms-1");
  auto form = req.FormFields();
  EXPECT_EQ(form["To"], "+15552223333");
  EXPECT_EQ(form["From"], "+15550001111");
  EXPECT_EQ(form["Body"], "Hi Ann & co");
  EXPECT_EQ(Str(m, "provider_message_id"), "SM1");
  EXPECT_EQ(Str(m, "usid"), usid);
}

TEST_F(MessagingDeliveryTest, PushExchangesTokenAndPostsFcmJson) {
  ConfigurePush();
  Ann();

  std::string id = EnqueueOrFail(
      {{"customer", json::object{{"user_id", "ann-1"}}},
       {"channel", "push"},
       {"message", json::object{{"title", "Shipped"},
                                {"body", "{{ customer.first_name }}, it arrives {{ trigger.day }}"},
                                {"data", json::object{{"order", "{{ trigger.order }}"}}}}},
       {"data", json::object{{"day", "Friday"}, {"order", "o-17"}}}});
  json::value m = WaitForStatus(id, "sent", 1);

  ASSERT_EQ(oauth_.requests().size(), 1u);
  EXPECT_NE(oauth_.requests()[0].body.find("grant_type=urn"), std::string::npos);
  auto requests = fcm_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/v1/projects/proj-1/messages:send");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer ya29.fake");
  json::value sent = ParseJsonOrFail(requests[0].body);
  EXPECT_EQ(JsonAt(sent, "/message/token"), "\"device-token-abc\"");
  EXPECT_EQ(JsonAt(sent, "/message/notification/title"), "\"Shipped\"");
  EXPECT_EQ(JsonAt(sent, "/message/notification/body"), "\"Ann, it arrives Friday\"");
  EXPECT_EQ(JsonAt(sent, "/message/data/order"), "\"o-17\"");
  // FCM takes no idempotency key: the collapse ids, derived from ours, let a repeat replace the
  // first notification on the device.
  std::string collapse = "\"" + Sha256Hex(Str(m, "idempotency_key")).substr(0, 32) + "\"";
  EXPECT_EQ(JsonAt(sent, "/message/android/collapse_key"), collapse);
  EXPECT_EQ(JsonAt(sent, "/message/apns/headers/apns-collapse-id"), collapse);
  EXPECT_EQ(JsonAt(sent, "/message/webpush/headers/Topic"), collapse);
  EXPECT_EQ(Str(m, "provider_message_id"), "projects/proj-1/messages/0:1");
}

TEST_F(MessagingDeliveryTest, WebhookIsSignedWithHmacOfBodyAndOfTimestampAndBody) {
  ConfigureWebhook();
  Ann();

  std::string id = EnqueueOrFail(
      {{"customer", json::object{{"user_id", "ann-1"}}},
       {"channel", "webhook"},
       {"idempotency_key", "hook-1"},
       {"data", json::object{{"n", 5}}},
       {"message", json::object{{"url", hook_.base_url() + "/hooks/{{ customer.user_id }}"},
                                {"method", "PUT"},
                                {"headers", json::object{{"X-Trace", "t-{{ trigger.n }}"}}},
                                {"body", json::object{{"event", "welcome"},
                                                      {"name", "{{ customer.first_name }}"}}}}}});
  WaitForStatus(id, "sent", 1);

  auto requests = hook_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.method, "PUT");
  EXPECT_EQ(req.target, "/hooks/ann-1");
  EXPECT_EQ(req.Header("X-Trace"), "t-5");
  EXPECT_EQ(req.Header("Idempotency-Key"), "hook-1");
  json::value body = ParseJsonOrFail(req.body);
  EXPECT_EQ(JsonAt(body, "/event"), "\"welcome\"");
  EXPECT_EQ(JsonAt(body, "/name"), "\"Ann\"");
  // SPEC: an HMAC of the body; and one of "<X-Xoal-Timestamp>.<body>" for replay protection.
  EXPECT_EQ(req.Header("X-Xoal-Signature"), "sha256=" + HmacSha256Hex("whsec-test-1234", req.body));
  std::string timestamp = req.Header("X-Xoal-Timestamp").value_or("");
  ASSERT_FALSE(timestamp.empty());
  EXPECT_EQ(timestamp.find_first_not_of("0123456789"), std::string::npos) << timestamp;
  EXPECT_EQ(req.Header("X-Xoal-Timestamp-Signature"),
            "sha256=" + HmacSha256Hex("whsec-test-1234", timestamp + "." + req.body));
}

TEST_F(MessagingDeliveryTest, Http500RetriesAfterBackoff) {
  ConfigureSms();
  Ann();
  sms_.Enqueue({500, {}, "oops"});

  std::string id = EnqueueOrFail(SmsBody("retry me"));
  json::value queued = WaitForStatus(id, "queued", 1);
  int64_t backoff = MillisBetween(queued, "attempt_started_at", "next_attempt_at");
  AdvanceClock(std::chrono::milliseconds(backoff + 1));
  json::value sent = WaitForStatus(id, "sent", 2);

  EXPECT_EQ(JsonAt(queued, "/last_answer/reason"), "\"http_500\"");
  EXPECT_EQ(JsonAt(queued, "/last_answer/status"), "500");
  EXPECT_EQ(JsonAt(queued, "/last_answer/body"), "\"oops\"");
  // Attempt 1 waits between half and all of the 30 s base back-off (jitter).
  EXPECT_GE(backoff, 15000);
  EXPECT_LE(backoff, 30000);
  auto requests = sms_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("I-Twilio-Idempotency-Token"),
            requests[1].Header("I-Twilio-Idempotency-Token"));
  HttpResponse metrics = http_->Get("/metrics");
  EXPECT_NE(metrics.body.find("xoal_messages_retried_total 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("xoal_messages_sent_total 1"), std::string::npos);
}

TEST_F(MessagingDeliveryTest, RetryAfterOn429SetsTheNextAttempt) {
  ConfigureSms();
  Ann();
  sms_.Enqueue({429, {{"Retry-After", "120"}}, R"({"code":20429})"});

  std::string id = EnqueueOrFail(SmsBody("later"));
  json::value queued = WaitForStatus(id, "queued", 1);
  AdvanceClock(seconds(119));
  json::value still = GetMessage(id);
  AdvanceClock(seconds(2));
  WaitForStatus(id, "sent", 2);

  EXPECT_EQ(MillisBetween(queued, "attempt_started_at", "next_attempt_at"), 120000);
  EXPECT_EQ(JsonAt(queued, "/last_answer/retry_after_s"), "120");
  EXPECT_EQ(Str(still, "status"), "queued");
  EXPECT_EQ(sms_.requests().size(), 2u);
}

TEST_F(MessagingDeliveryTest, ConnectionRefusedRetriesOnceTheProviderIsBack) {
  ConfigureSms("http://127.0.0.1:" + std::to_string(channels::testing::ClosedLoopbackPort()));
  Ann();

  std::string id = EnqueueOrFail(SmsBody("are you there"));
  json::value queued = WaitForStatus(id, "queued", 1);
  ConfigureSms();
  AdvanceClock(seconds(31));
  WaitForStatus(id, "sent", 2);

  EXPECT_EQ(JsonAt(queued, "/last_answer/reason"), "\"connect_failed\"");
  EXPECT_EQ(sms_.requests().size(), 1u);
}

TEST_F(MessagingDeliveryTest, Smtp451RetriesUnderTheSameKey) {
  ConfigureEmail();
  std::string usid = Ann();
  smtp_.FailNext(1, 451);

  std::string id = EnqueueOrFail(EmailBody(usid));
  json::value queued = WaitForStatus(id, "queued", 1);
  AdvanceClock(seconds(31));
  WaitForStatus(id, "sent", 2);

  EXPECT_EQ(JsonAt(queued, "/last_answer/reason"), "\"smtp_451\"");
  EXPECT_EQ(smtp_.IdempotencyKeyCounts(), (std::map<std::string, int>{{"welcome-1", 2}}));
}

TEST_F(MessagingDeliveryTest, PermanentFailuresAreFinal) {
  ConfigureEmail();
  ConfigureSms();
  std::string usid = Ann();
  sms_.Enqueue({400, {}, R"({"code":21211,"message":"Invalid 'To' Phone Number"})"});
  smtp_.FailNext(1, 550);

  std::string sms_id = EnqueueOrFail({{"customer", json::object{{"usid", usid}}},
                                      {"channel", "sms"},
                                      {"message", json::object{{"body", "x"}}}});
  std::string mail_id = EnqueueOrFail(EmailBody(usid));
  json::value sms = WaitForStatus(sms_id, "failed", 1);
  json::value mail = WaitForStatus(mail_id, "failed", 1);

  EXPECT_EQ(JsonAt(sms, "/last_answer/reason"), "\"http_400\"");
  EXPECT_EQ(JsonAt(sms, "/last_answer/status"), "400");
  EXPECT_EQ(JsonAt(mail, "/last_answer/reason"), "\"smtp_550\"");
  EXPECT_TRUE(IsNullMember(mail, "next_attempt_at"));
  EXPECT_TRUE(HasEvent(*http_, key(), usid, "message_failed"));
  HttpResponse metrics = http_->Get("/metrics");
  EXPECT_NE(metrics.body.find("xoal_messages_failed_total 2"), std::string::npos);
}

TEST_F(MessagingDeliveryTest, TemporaryFailuresGiveUpAfterMaxAttempts) {
  ConfigureSms();
  Ann();
  sms_.SetHandler([](const channels::testing::RecordedRequest&) { return FakeReply{503, {}, ""}; });

  std::string id = EnqueueOrFail(SmsBody("x"));
  for (int attempt = 1; attempt < 6; ++attempt) {
    WaitForStatus(id, "queued", attempt);
    AdvanceClock(std::chrono::hours(2));
  }
  json::value failed = WaitForStatus(id, "failed", 6);

  EXPECT_EQ(JsonAt(failed, "/last_answer/reason"), "\"http_503\"");
  EXPECT_EQ(sms_.requests().size(), 6u);
}

TEST_F(MessagingDeliveryTest, SameIdempotencyKeyEnqueuesOnce) {
  ConfigureEmail();
  std::string usid = Ann();

  HttpResponse first = Enqueue(EmailBody(usid, "once"));
  HttpResponse again = Enqueue(EmailBody(usid, "once"));
  WaitForStatus(Str(first.json, "id"), "sent", 1);
  HttpResponse after_sent = Enqueue(EmailBody(usid, "once"));

  ASSERT_TRUE(HasStatus(first, 201));
  ASSERT_TRUE(HasStatus(again, 200));
  ASSERT_TRUE(HasStatus(after_sent, 200));
  EXPECT_EQ(Str(again.json, "id"), Str(first.json, "id"));
  EXPECT_EQ(Str(after_sent.json, "status"), "sent");
  EXPECT_EQ(smtp_.IdempotencyKeyCounts(), (std::map<std::string, int>{{"welcome-once", 1}}));
}

// Review 5: a key reused for another customer or channel answered 200 with the first message, so
// the second request was silently never sent; an empty key was taken as "no key".
TEST_F(MessagingDeliveryTest, IdempotencyKeyReusedForAnotherCustomerOrChannelIs409) {
  ConfigureEmail();
  ConfigureSms();
  std::string ann = Ann();
  std::string bob = CreateCustomer(json::object{{"email", "bob@example.com"}});
  json::object to_bob = EmailBody(bob, "shared");
  json::object sms_to_ann{{"customer", json::object{{"usid", ann}}},
                          {"channel", "sms"},
                          {"idempotency_key", "welcome-shared"},
                          {"message", json::object{{"body", "x"}}}};
  json::object empty_key = EmailBody(ann);
  empty_key["idempotency_key"] = "";

  HttpResponse first = Enqueue(EmailBody(ann, "shared"));
  HttpResponse other_customer = Enqueue(to_bob);
  HttpResponse other_channel = Enqueue(sms_to_ann);
  HttpResponse same_again = Enqueue(EmailBody(ann, "shared"));
  HttpResponse empty = Enqueue(empty_key);

  ASSERT_TRUE(HasStatus(first, 201));
  EXPECT_TRUE(IsError(other_customer, 409, "conflict", "idempotency_key"));
  EXPECT_TRUE(IsError(other_channel, 409, "conflict", "idempotency_key"));
  ASSERT_TRUE(HasStatus(same_again, 200));
  EXPECT_EQ(Str(same_again.json, "id"), Str(first.json, "id"));
  EXPECT_TRUE(IsError(empty, 422, "invalid", "idempotency_key"));
  WaitForStatus(Str(first.json, "id"), "sent", 1);
  HttpResponse list = http_->Get("/api/v1/messages", key());
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_EQ(list.json.at("data").as_array().size(), 1u);
  EXPECT_EQ(smtp_.IdempotencyKeyCounts(), (std::map<std::string, int>{{"welcome-shared", 1}}));
  EXPECT_TRUE(sms_.requests().empty());
}

TEST_F(MessagingDeliveryTest, EnqueueRejectsWhatCannotBeSent) {
  ConfigureEmail();
  std::string no_phone = CreateCustomer(json::object{{"email", "nophone@example.com"}});
  json::object sms{{"customer", json::object{{"usid", no_phone}}},
                   {"channel", "sms"},
                   {"message", json::object{{"body", "x"}}}};
  json::object marketing = EmailBody(no_phone);
  marketing["transactional"] = false;
  json::object bad_template = EmailBody(no_phone);
  bad_template["message"].as_object()["subject"] = "{{ oops";

  EXPECT_TRUE(IsError(Enqueue(sms), 422, "invalid", "channel"));  // sms not configured
  ConfigureSms();
  HttpResponse no_address = Enqueue(sms);  // no phone: stored, skipped, never sent
  ASSERT_TRUE(HasStatus(no_address, 201));
  EXPECT_EQ(Str(no_address.json, "status"), "skipped");
  EXPECT_EQ(Str(no_address.json, "skip_reason"), "no_address");
  // Marketing email without a link of its own gets Xoal's (messaging_policy_test.cpp).
  EXPECT_TRUE(HasStatus(Enqueue(marketing), 201));
  HttpResponse tmpl = Enqueue(bad_template);
  EXPECT_TRUE(IsError(tmpl, 422, "invalid", "message.subject"));
  EXPECT_EQ(JsonAt(tmpl.json, "/error/line"), "1");
  json::object no_channel = EmailBody(no_phone);
  no_channel.erase("channel");
  EXPECT_TRUE(IsError(Enqueue(no_channel), 422, "invalid", "channel"));
  json::object bad_key = EmailBody(no_phone);
  bad_key["idempotency_key"] = "has space";
  EXPECT_TRUE(IsError(Enqueue(bad_key), 422, "invalid", "idempotency_key"));
}

// Review 5: an unsubscribe_url that is not http(s), a from that is no mailbox or a subject with a
// line break (here from customer data) answered 201 and the message then failed at send time.
TEST_F(MessagingDeliveryTest, EmailTheSenderWouldRefuseIs422AtEnqueue) {
  ConfigureEmail();
  std::string ann = Ann();
  ASSERT_TRUE(HasStatus(http_->Patch("/api/v1/customers/" + ann,
                                     {{"attributes", {{"title", "Dr\r\nBcc: x@y.z"}}}}, key()),
                        200));
  auto email = [&](const char* member, const char* value) {
    json::object body = EmailBody(ann, member);
    body["transactional"] = false;
    body["message"].as_object()[member] = value;
    return body;
  };

  HttpResponse url = Enqueue(email("unsubscribe_url", "javascript:alert(1)"));
  HttpResponse mailto = Enqueue(email("unsubscribe_mailto", "https://x.example"));
  HttpResponse from = Enqueue(email("from", "not a mailbox"));
  HttpResponse subject = Enqueue(email("subject", "Hello {{ customer.title }}"));
  HttpResponse fine =
      Enqueue(email("unsubscribe_url", "https://example.com/u?c={{ customer.usid }}"));

  EXPECT_TRUE(IsError(url, 422, "invalid", "message.unsubscribe_url"));
  EXPECT_TRUE(IsError(mailto, 422, "invalid", "message.unsubscribe_mailto"));
  EXPECT_TRUE(IsError(from, 422, "invalid", "message.from"));
  EXPECT_TRUE(IsError(subject, 422, "invalid", "message.subject"));
  ASSERT_TRUE(HasStatus(fine, 201));
  WaitForStatus(Str(fine.json, "id"), "sent", 1);
  HttpResponse list = http_->Get("/api/v1/messages", key());
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_EQ(list.json.at("data").as_array().size(), 1u);
}

TEST_F(MessagingDeliveryTest, ListFiltersAndPaginatesNewestFirst) {
  ConfigureEmail();
  ConfigureSms();
  std::string ann = Ann();
  std::string bob = CreateCustomer(json::object{{"email", "bob@example.com"}});
  sms_.SetHandler([](const channels::testing::RecordedRequest&) { return FakeReply{400, {}, ""}; });
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(EnqueueOrFail(EmailBody(ann, "a" + std::to_string(i))));
  }
  ids.push_back(EnqueueOrFail(EmailBody(bob, "b0")));
  ids.push_back(EnqueueOrFail({{"customer", json::object{{"usid", ann}}},
                               {"channel", "sms"},
                               {"message", json::object{{"body", "x"}}}}));
  for (size_t i = 0; i + 1 < ids.size(); ++i) WaitForStatus(ids[i], "sent");
  WaitForStatus(ids.back(), "failed");

  std::vector<std::string> all;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    HttpResponse r =
        http_->Get("/api/v1/messages?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), key());
    ASSERT_TRUE(HasStatus(r, 200));
    for (const auto& id : Column(r, "id")) all.push_back(id);
    if (IsNullMember(r.json, "next_cursor")) break;
    cursor = UrlEncode(Str(r.json, "next_cursor"));
  }
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(all, newest_first);
  EXPECT_EQ(Column(http_->Get("/api/v1/messages?channel=sms", key()), "id"),
            std::vector<std::string>{ids[4]});
  EXPECT_EQ(Column(http_->Get("/api/v1/messages?status=failed", key()), "id"),
            std::vector<std::string>{ids[4]});
  EXPECT_EQ(Column(http_->Get("/api/v1/messages?customer=" + bob, key()), "id"),
            std::vector<std::string>{ids[3]});
  EXPECT_EQ(Column(http_->Get("/api/v1/customers/" + ann + "/messages?channel=email", key()), "id"),
            (std::vector<std::string>{ids[2], ids[1], ids[0]}));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/messages?status=lost", key()), 422, "invalid", "status"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/nobody/messages", key()), 404, "not_found"));
  HttpResponse one = http_->Get("/api/v1/messages?limit=1", key());
  EXPECT_EQ(one.body.find("ann@example.com"), std::string::npos) << one.body;
  EXPECT_EQ(one.body.find("token-secret"), std::string::npos) << one.body;
}

TEST_F(MessagingDeliveryTest, SegmentsSeeTheMessageSentEvent) {
  ConfigureEmail();
  std::string usid = Ann();
  HttpResponse seg =
      http_->Post("/api/v1/segments",
                  json::object{{"name", "got mail"},
                               {"type", "dynamic"},
                               {"conditions", json::object{{"event", "message_sent"}}}},
                  key());
  ASSERT_TRUE(HasStatus(seg, 201));
  std::string count_path = "/api/v1/segments/" + Str(seg.json, "id") + "/count";

  WaitForStatus(EnqueueOrFail(EmailBody(usid)), "sent", 1);
  HttpResponse count = http_->Get(count_path, key());
  for (int i = 0; i < 100 && JsonAt(count.json, "/count") != "1"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a background compute
    count = http_->Get(count_path, key());
  }

  EXPECT_EQ(JsonAt(count.json, "/count"), "1") << count.body;
}

// SIGTERM lets in-flight sends finish and record their outcome: nothing is left `sending`, so
// nothing is re-sent after the restart.
TEST_F(MessagingDeliveryTest, CleanRestartRecoversNothingAndSendsEachOnce) {
  ConfigureEmail();
  std::string usid = Ann();
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(EnqueueOrFail(EmailBody(usid, std::to_string(i))));

  RestartServer();
  for (const auto& id : ids) WaitForStatus(id, "sent");

  for (const auto& id : ids) EXPECT_EQ(JsonAt(GetMessage(id), "/recoveries"), "0") << id;
  auto counts = smtp_.IdempotencyKeyCounts();
  EXPECT_EQ(counts.size(), ids.size());
  for (const auto& [k, n] : counts) EXPECT_EQ(n, 1) << k;
}

}  // namespace
}  // namespace xoal::testing
