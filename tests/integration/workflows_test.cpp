// Workflows over a real `xoal serve --test-clock` (docs/workflows.md, docs/api.md "Workflows"):
// validation, statuses, each trigger kind built, entry rules, steps, goals, keyed waits, time
// zones across daylight-saving changes, versions, pause and resume, and a restart mid-delay.
// Emails go to the SMTP sink of the messaging fixture. Waits are bounded polls of the API.
#include <algorithm>
#include <map>
#include <thread>

#include "integration/messaging_fixture.hpp"
#include "integration/segments_fixture.hpp"

namespace xoal::testing {
namespace {

constexpr std::chrono::milliseconds kPoll{20};
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

json::value J(std::string_view text) { return json::parse(text); }

class WorkflowsTest : public MessagingTest {
 protected:
  void SetUp() override {
    MessagingTest::SetUp();
    if (HasFatalFailure()) return;  // the server did not start: no client to configure with
    ConfigureEmail();
  }

  // POST /api/v1/workflows; 201 expected. Returns the id.
  std::string Create(const json::value& body) {
    HttpResponse r = http_->Post("/api/v1/workflows", body, key());
    EXPECT_TRUE(HasStatus(r, 201));
    return Str(r.json, "id");
  }
  std::string CreateActive(const json::value& body) {
    std::string id = Create(body);
    EXPECT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 200));
    return id;
  }

  // A track event through the Segment endpoint.
  void Track(const std::string& user_id, const std::string& event, json::object props = {}) {
    json::object m{{"type", "track"},
                   {"userId", user_id},
                   {"event", event},
                   {"messageId", "m-" + std::to_string(++messages_)},
                   {"properties", std::move(props)}};
    HttpResponse r = http_->Post("/ingest/v1/segment/event", m, alpha_.ingestion_key);
    ASSERT_TRUE(HasStatus(r, 200));
  }

  json::array Runs(const std::string& workflow_id, std::string_view path = "runs") {
    HttpResponse r =
        http_->Get("/api/v1/workflows/" + workflow_id + "/" + std::string(path), key());
    EXPECT_TRUE(HasStatus(r, 200));
    return DataOf(r);
  }

  // Polls until `pred` holds (bounded); returns whether it did.
  bool Eventually(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      // Polling another process: there is nothing in it to wait on.
      std::this_thread::sleep_for(kPoll);
    }
    return pred();
  }

  // Polls until every run of the workflow has left `active` with a step due now, i.e. is
  // waiting for a later time (or an event) or ended, and there are `count` runs. A run waiting
  // until now (a wait_for_event that found its event already there) is about to go on.
  bool Settled(const std::string& workflow_id, size_t count) {
    return Eventually([&] {
      HttpResponse clock = http_->Post("/_test/clock", json::object{{"advance_ms", 0}});
      int64_t now = EpochMsOf(Str(clock.json, "now")).value_or(0);
      json::array runs = Runs(workflow_id);
      if (runs.size() != count) return false;
      for (const auto& r : runs) {
        if (Str(r, "status") != "active") continue;
        if (JsonAt(r, "/waiting") != "true") return false;
        auto wake = EpochMsOf(Str(r, "wake_at"));
        if (wake && *wake <= now) return false;
      }
      return true;
    });
  }

  int64_t SetClock(std::string_view iso) {
    HttpResponse r = http_->Post("/_test/clock", json::object{{"set", iso}});
    EXPECT_TRUE(HasStatus(r, 200));
    return EpochMsOf(Str(r.json, "now")).value_or(0);
  }
  void Advance(int64_t ms) { AdvanceClock(std::chrono::milliseconds(ms)); }

  size_t Emails() { return smtp_.messages().size(); }

  // Three customers `<prefix>0..2` and an active api-triggered workflow that sends each one
  // email, at most 2 a minute. Returns the workflow's id.
  std::string RateLimited(const std::string& prefix) {
    for (int i = 0; i < 3; ++i) {
      std::string name = prefix + std::to_string(i);
      CreateCustomer(json::object{{"user_id", name}, {"email", name + "@example.com"}});
    }
    return CreateActive(J(R"({"name": "Rate", "trigger": {"type": "api"},
        "limits": {"send_rate_per_minute": 2}, "start": "m",
        "steps": {"m": {"type": "send_email", "message": {"subject": "s", "text": "t",
                                                          "transactional": true}}}})"));
  }

  // Polls until the workflow has three runs and exactly one waits until `iso`.
  bool OneOfThreeRunsWaitsUntil(const std::string& workflow_id, const std::string& iso) {
    return Eventually([&] {
      json::array runs = Runs(workflow_id);
      return runs.size() == 3 && std::count_if(runs.begin(), runs.end(), [&](const json::value& r) {
                                   return Str(r, "wake_at") == iso;
                                 }) == 1;
    });
  }

  void PutAttributes(const std::string& usid, const json::object& attributes) {
    HttpResponse r = http_->Put("/api/v1/customers/" + usid + "/attributes",
                                json::object{{"attributes", attributes}}, key());
    EXPECT_TRUE(HasStatus(r, 200));
  }

  json::object Customer(const std::string& usid) {
    HttpResponse r = http_->Get("/api/v1/customers/" + usid, key());
    EXPECT_TRUE(HasStatus(r, 200));
    return r.json.is_object() ? r.json.get_object() : json::object();
  }

  // A customer `user_id` with the email `<user_id>@example.com` in the IANA zone `zone`.
  std::string ZonedCustomer(const std::string& user_id, const std::string& zone) {
    return CreateCustomer(json::object{
        {"user_id", user_id}, {"email", user_id + "@example.com"}, {"timezone", zone}});
  }

  // Quiet hours 21:00 to 08:00 in `mode`, and an active api-triggered workflow whose email step
  // `m` is followed by the tag `mailed` (step `t`). Returns the workflow's id.
  std::string QuietHoursWorkflow(std::string_view mode) {
    json::object quiet{{"start", "21:00"}, {"end", "08:00"}, {"mode", mode}};
    EXPECT_TRUE(HasStatus(
        http_->Patch("/api/v1/project", json::object{{"quiet_hours", std::move(quiet)}}, key()),
        200));
    return CreateActive(J(R"({"name": "Quiet", "trigger": {"type": "api"}, "start": "m",
        "steps": {"m": {"type": "send_email", "message": {"subject": "s", "text": "t"},
                        "next": "t"},
                  "t": {"type": "add_tag", "tag": "mailed"}}})"));
  }

  int messages_ = 0;
};

json::value Email(std::string_view subject, std::string_view next = "") {
  json::object s{
      {"type", "send_email"},
      {"message", json::object{{"subject", subject}, {"text", "Hi {{ customer.first_name }}"}}}};
  if (!next.empty()) s["next"] = next;
  return s;
}

TEST_F(WorkflowsTest, RefusesInvalidDefinitionsNamingTheStep) {
  auto post = [&](std::string_view body) {
    return http_->Post("/api/v1/workflows", J(body), key());
  };

  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "delay", "duration": {"hours": 1}, "next": "nope"}}})"),
                      422, "invalid", "steps.a.next"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "exit"}, "b": {"type": "exit"}}})"),
                      422, "invalid", "steps.b"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "add_tag", "tag": "t", "next": "b"},
                "b": {"type": "remove_tag", "tag": "t", "next": "a"}}})"),
                      422, "invalid", "steps.a"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "start": "a", "steps": {"a": {"type": "exit"}}})"), 422,
                      "invalid", "trigger"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "teleport"}}})"),
                      422, "invalid", "steps.a.type"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "send_email"}}})"),
                      422, "invalid", "steps.a.message"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "event", "event": "e"},
      "entry": {"filter": {"attribute": "plan", "op": "bogus", "value": 1}}, "start": "a",
      "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "entry.filter.op"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "split", "branches": [{"percent": 40, "next": "a"}]}}})"),
                      422, "invalid", "steps.a.branches"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "date_attribute"}, "start": "a",
      "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.attribute"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "date_attribute",
      "attribute": "trial_ends_at", "at": "25:00"}, "start": "a", "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.at"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "date_attribute",
      "attribute": "trial_ends_at", "offset": {"days": -1, "hours": 2}}, "start": "a",
      "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.offset"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "date_attribute",
      "attribute": "trial_ends_at", "offset": {"fortnights": 1}}, "start": "a",
      "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.offset.fortnights"));
  // Misspelt members are refused naming them, not ignored.
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "limts": {"send_rate_per_minute": 1}, "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "limts"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "event", "event": "e",
      "wher": []}, "start": "a", "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.wher"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "entry": {"reentry":
      "always"}, "start": "a", "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "entry.reentry"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "delay", "duraton": {"hours": 1}, "duration": {"hours": 1}}}})"),
                      422, "invalid", "steps.a.duraton"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "delay", "duration": {"days": 40000}}}})"),
                      422, "invalid", "steps.a.duration"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "date_attribute",
      "attribute": "d", "at": "9:5"}, "start": "a", "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.at"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "limits": {"send_rate_per_minute": 4294967297}, "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "limits.send_rate_per_minute"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api", "create_customers": 1},
      "start": "a", "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.create_customers"));
}

// Review 5: the unsubscribe footer is added where every path enqueues (EnqueueInTxn), so a
// workflow's marketing email whose template shows no link gets it too, with the header's link.
TEST_F(WorkflowsTest, MarketingEmailFromAStepGetsTheUnsubscribeFooter) {
  ConfigureEmail();
  Ann();
  std::string id = CreateActive(J(R"({"name": "News", "trigger": {"type": "api"}, "start": "m",
      "steps": {"m": {"type": "send_email", "message": {"subject": "News", "html": "<p>Hi</p>"}}}})"));

  HttpResponse r = http_->Post("/api/v1/workflows/" + id + "/trigger",
                               J(R"({"customers": [{"user_id": "ann-1"}]})"), key());

  ASSERT_TRUE(HasStatus(r, 200));
  ASSERT_TRUE(Eventually([&] { return Emails() == 1; }));
  std::string data = smtp_.messages()[0].data;
  std::string url = ListUnsubscribeUrl(data);
  ASSERT_NE(PathAfter(url, "/unsubscribe/"), "") << data;
  EXPECT_NE(DecodeQp(data).find("<p>Hi</p><p style=\"font-size:12px;color:#666666\"><a href=\"" +
                                url + "\">Unsubscribe</a></p>"),
            std::string::npos)
      << data;
}

// Review 5: a step's message is the Messages API's shape and is checked by the same function
// (messaging::CheckMessageShape): an unknown member or a template that is no string is refused
// naming its path instead of being dropped or sent as a number.
TEST_F(WorkflowsTest, RefusesUnknownOrMistypedMessageMembersNamingThePath) {
  auto post = [&](std::string_view step) {
    return http_->Post("/api/v1/workflows",
                       J(std::string(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
                                         "steps": {"a": )") +
                         std::string(step) + "}}"),
                       key());
  };

  HttpResponse misspelt = post(R"({"type": "send_email", "message": {"subject": "s",
      "text": "t", "transactionnal": true}})");
  HttpResponse variant = post(R"({"type": "send_email", "message": {"subject": "s", "text": "t",
      "variants": {"French": {"reply_to": "x@example.com"}}}})");
  HttpResponse number = post(R"({"type": "send_sms", "message": {"body": 5}})");
  HttpResponse header = post(R"({"type": "http_request", "url": "https://example.com/h",
      "headers": {"X-Count": 1}})");
  HttpResponse valid = post(R"({"type": "send_email", "message": {"subject": "s", "text": "t",
      "transactional": true, "variants": {"French": {"subject": "Bonjour"}}}})");

  EXPECT_TRUE(IsError(misspelt, 422, "invalid", "steps.a.message.transactionnal"));
  EXPECT_TRUE(IsError(variant, 422, "invalid", "steps.a.message.variants.French.reply_to"));
  EXPECT_TRUE(IsError(number, 422, "invalid", "steps.a.message.body"));
  EXPECT_TRUE(IsError(header, 422, "invalid", "steps.a.headers.X-Count"));
  EXPECT_TRUE(HasStatus(valid, 201));
}

// Definitions that would pass the graph checks yet fail or mislead at run time are refused
// when saved, naming the step's member.
TEST_F(WorkflowsTest, RefusesStepsThatWouldFailOrMisleadAtRunTime) {
  auto post = [&](std::string_view body) {
    return http_->Post("/api/v1/workflows", J(body), key());
  };
  // A message its channel cannot send, or a template that does not compile.
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "send_email", "message": {"text": "hi"}}}})"),
                      422, "invalid", "steps.a.message.subject"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "send_sms", "message": {}}}})"),
                      422, "invalid", "steps.a.message.body"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "send_email", "message": {"subject": "Hi {{ customer.first_name",
                                                        "text": "t"}}}})"),
                      422, "invalid", "steps.a.message.subject"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "http_request", "url": "https://h.example/{% if %}"}}})"),
                      422, "invalid", "steps.a.url"));
  // Templated members and language variants are fine.
  EXPECT_TRUE(HasStatus(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "send_email", "message": {"variants": {"English": {"subject":
      "{{ trigger.s | default: 'Hi' }}", "text": "t"}}}, "next": "b"},
      "b": {"type": "send_webhook", "message": {"url": "{{ trigger.url }}"}}}})"),
                        201));
  // `next` on a step that never follows it would make its target look reachable.
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "branch", "condition": {"tag": "VIP"}, "yes": "b", "next": "c"},
                "b": {"type": "exit"}, "c": {"type": "add_tag", "tag": "t"}}})"),
                      422, "invalid", "steps.a.next"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "exit", "next": "b"}, "b": {"type": "add_tag", "tag": "t"}}})"),
                      422, "invalid", "steps.a.next"));
  // A zero delay in a loop waits for nothing: the run would loop for ever.
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "add_tag", "tag": "t", "next": "b"},
                "b": {"type": "delay", "duration": {"seconds": 0}, "next": "a"}}})"),
                      422, "invalid", "steps.a"));
  EXPECT_TRUE(HasStatus(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "add_tag", "tag": "t", "next": "b"},
                "b": {"type": "delay", "duration": {"days": 1}, "next": "a"}}})"),
                        201));
  // A timeout_next with no timeout, a wait_until of both kinds, a misspelt goal `where` and an
  // unknown member of re_entry would each be ignored without a word.
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "wait_for_event", "event": "e", "timeout_next": "b"},
                "b": {"type": "exit"}}})"),
                      422, "invalid", "steps.a.timeout"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "wait_until", "time_of_day": "09:00", "attribute": "d"}}})"),
                      422, "invalid", "steps.a.attribute"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "goal": {"event": "order", "wehre": []}, "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "goal.wehre"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "entry": {"re_entry": {"after": {"days": 1}, "max": 2}}, "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "entry.re_entry"));
  // Segments are checked as the segment and broadcast APIs do: they exist, and a step changes
  // only a manual one.
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "segment_entered",
      "segment_id": "seg_nope"}, "start": "a", "steps": {"a": {"type": "exit"}}})"),
                      422, "invalid", "trigger.segment_id"));
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "branch", "condition": {"segment": "seg_nope"}, "yes": "b"},
                "b": {"type": "exit"}}})"),
                      422, "invalid", "steps.a.condition"));
  HttpResponse seg = http_->Post(
      "/api/v1/segments",
      J(R"({"name": "Emails", "conditions": {"attribute": "email", "op": "exists"}})"), key());
  ASSERT_TRUE(HasStatus(seg, 201));
  std::string dynamic = Str(seg.json, "id");
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "add_to_segment", "segment_id": ")" +
                           dynamic + R"("}}})"),
                      422, "invalid", "steps.a.segment_id"));
  EXPECT_TRUE(HasStatus(post(R"({"name": "x", "trigger": {"type": "segment_left",
      "segment_id": ")" + dynamic +
                             R"("}, "start": "a", "steps": {"a": {"type": "exit"}}})"),
                        201));
  // match_key compares with the run's key: without a keyed event trigger there is none.
  EXPECT_TRUE(IsError(post(R"({"name": "x", "trigger": {"type": "event", "event": "cart"},
      "start": "w", "steps": {"w": {"type": "wait_for_event", "event": "order",
                                    "match_key": true}}})"),
                      422, "invalid", "steps.w.match_key"));
}

TEST_F(WorkflowsTest, StatusesAndCrud) {
  std::string id = Create(J(R"({"name": "Welcome", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "exit"}}})"));
  HttpResponse got = http_->Get("/api/v1/workflows/" + id, key());
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(Str(got.json, "status"), "draft");
  EXPECT_EQ(JsonAt(got.json, "/version"), "1");
  EXPECT_EQ(Column(http_->Get("/api/v1/workflows", key()), "id"), std::vector<std::string>{id});

  HttpResponse put = http_->Put("/api/v1/workflows/" + id, J(R"({"name": "Welcome 2",
      "trigger": {"type": "api"}, "start": "b", "steps": {"b": {"type": "exit"}}})"),
                                key());
  ASSERT_TRUE(HasStatus(put, 200));
  EXPECT_EQ(JsonAt(put.json, "/version"), "1");  // a draft changes in place
  EXPECT_EQ(Str(put.json, "start"), "b");

  EXPECT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 200));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 409, "conflict"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/workflows/" + id, key()), 409, "conflict"));
  EXPECT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/pause", {}, key()), 200));
  EXPECT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/archive", {}, key()), 200));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 409, "conflict"));
  EXPECT_TRUE(HasStatus(http_->Delete("/api/v1/workflows/" + id, key()), 200));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/workflows/" + id, key()), 404, "not_found"));
}

// Event trigger with a property filter, a delay, a send through the outbox, analytics, logs.
TEST_F(WorkflowsTest, EventTriggerDelaysThenSendsOnce) {
  std::string ann = Ann();
  std::string id = CreateActive(J(R"({"name": "Welcome", "start": "wait",
      "trigger": {"type": "event", "event": "signup",
                  "where": [{"property": "plan", "op": "eq", "value": "pro"}]},
      "steps": {"wait": {"type": "delay", "duration": {"hours": 1}, "next": "mail"},
                "mail": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "Welcome {{ customer.first_name }}",
                         "text": "Hello"}, "next": "bye"},
                "bye": {"type": "exit"}}})"));

  Track("ann-1", "signup", {{"plan", "free"}});
  Track("ann-1", "signup", {{"plan", "pro"}});
  ASSERT_TRUE(Settled(id, 1));
  Advance(59 * kMinute);
  ASSERT_TRUE(Settled(id, 1));
  EXPECT_EQ(Emails(), 0u);
  Advance(2 * kMinute);

  ASSERT_TRUE(Eventually([&] { return Emails() == 1; }));
  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "completed"; }));
  EXPECT_NE(smtp_.messages()[0].data.find("Welcome Ann"), std::string::npos);
  json::array logs = Runs(id, "logs");
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(JsonAt(logs[0], "/steps/0/step"), "\"wait\"");
  EXPECT_EQ(JsonAt(logs[0], "/steps/1/outcome"), "\"sent\"");
  EXPECT_EQ(JsonAt(logs[0], "/steps/2/outcome"), "\"exit\"");
  HttpResponse a = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
  ASSERT_TRUE(HasStatus(a, 200));
  EXPECT_EQ(JsonAt(a.json, "/entered"), "1");
  EXPECT_EQ(JsonAt(a.json, "/completed"), "1");
  EXPECT_EQ(JsonAt(a.json, "/in_progress"), "0");
  EXPECT_EQ(JsonAt(a.json, "/messages_sent/email"), "1");
  EXPECT_EQ(JsonAt(a.json, "/steps/mail/invoked"), "1");
  HttpResponse mine = http_->Get("/api/v1/customers/" + ann + "/runs", key());
  ASSERT_TRUE(HasStatus(mine, 200));
  EXPECT_EQ(Column(mine, "workflow_id"), std::vector<std::string>{id});
}

// SPEC's abandoned cart: runs keyed by cart_id; the order of one cart ends only that cart's run.
TEST_F(WorkflowsTest, AbandonedCartKeyedByCartIdWithTwoCartsOpen) {
  Ann();
  std::string id = CreateActive(J(R"({"name": "Abandoned cart",
      "trigger": {"type": "event", "event": "cart_updated", "key": "cart_id"},
      "entry": {"re_entry": "always", "filter": {"attribute": "email", "op": "exists"}},
      "start": "wait",
      "steps": {
        "wait": {"type": "wait_for_event", "event": "checkout", "match_key": true,
                 "timeout": {"hours": 4}, "next": "done", "timeout_next": "remind"},
        "remind": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "Cart {{ event.properties.cart_id }}",
                   "text": "Still thinking?"}, "next": "done"},
        "done": {"type": "exit"}}})"));

  Track("ann-1", "cart_updated", {{"cart_id", "A"}});
  Track("ann-1", "cart_updated", {{"cart_id", "B"}});
  ASSERT_TRUE(Settled(id, 2));
  Track("ann-1", "checkout", {{"cart_id", "A"}});
  ASSERT_TRUE(Eventually([&] {
    json::array runs = Runs(id);
    return runs.size() == 2 && Str(runs[0], "status") == "completed";
  }));
  Advance(4 * kHour + kMinute);

  ASSERT_TRUE(Eventually([&] { return Emails() == 1; }));
  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[1], "status") == "completed"; }));
  EXPECT_NE(smtp_.messages()[0].data.find("Cart B"), std::string::npos);
  json::array logs = Runs(id, "logs");
  EXPECT_EQ(Str(logs[0], "key"), "A");
  EXPECT_EQ(JsonAt(logs[0], "/steps/0/outcome"), "\"event\"");
  EXPECT_EQ(JsonAt(logs[1], "/steps/0/outcome"), "\"timeout\"");
  EXPECT_EQ(Emails(), 1u);
}

// A goal event ends the run as a conversion; keyed runs convert only on their own key.
// The order comes in the same ingest batch as the cart, before the scheduler has moved the new
// run to its wait: the wait still takes it (only with the run's key), and so does an event goal.
TEST_F(WorkflowsTest, EventInTheTriggersBatchReachesTheFirstWaitAndTheGoal) {
  CreateCustomer(json::object{{"user_id", "ann-1"}, {"email", "ann@example.com"}});
  std::string wait = CreateActive(J(R"({"name": "Cart",
      "trigger": {"type": "event", "event": "cart_updated", "key": "cart_id"},
      "entry": {"re_entry": "always"}, "start": "wait",
      "steps": {"wait": {"type": "wait_for_event", "event": "order_completed", "match_key": true,
                         "timeout": {"hours": 4}, "next": "done", "timeout_next": "remind"},
                "remind": {"type": "add_tag", "tag": "reminded"}, "done": {"type": "exit"}}})"));
  std::string goal = CreateActive(J(R"({"name": "Cart goal",
      "trigger": {"type": "event", "event": "cart_updated", "key": "cart_id"},
      "entry": {"re_entry": "always"}, "goal": {"event": "order_completed"}, "start": "d",
      "steps": {"d": {"type": "delay", "duration": {"hours": 4}}}})"));
  auto track = [&](const char* id, const char* event, const char* cart) {
    return json::object{{"type", "track"},
                        {"userId", "ann-1"},
                        {"event", event},
                        {"messageId", id},
                        {"properties", json::object{{"cart_id", cart}}}};
  };
  json::array batch{track("b1", "cart_updated", "A"), track("b2", "order_completed", "A"),
                    track("b3", "cart_updated", "B"), track("b4", "order_completed", "C")};

  HttpResponse r =
      http_->Post("/ingest/v1/segment/event", json::object{{"batch", batch}}, alpha_.ingestion_key);

  ASSERT_TRUE(HasStatus(r, 200));
  ASSERT_TRUE(Settled(wait, 2));
  ASSERT_TRUE(Settled(goal, 2));
  std::map<std::string, std::string> by_key;
  for (const auto& run : Runs(wait)) by_key[Str(run, "key")] = Str(run, "status");
  EXPECT_EQ(by_key["A"], "completed");  // took the "event" exit
  EXPECT_EQ(by_key["B"], "active");     // order C is another cart: still waiting
  json::array logs = Runs(wait, "logs");
  for (const auto& run : logs) {
    if (Str(run, "key") == "A") EXPECT_EQ(JsonAt(run, "/steps/0/outcome"), "\"event\"");
  }
  // A keyed goal event converts only the run with its key (b2 carries A; C is neither).
  std::map<std::string, std::string> goals;
  for (const auto& run : Runs(goal)) goals[Str(run, "key")] = Str(run, "status");
  EXPECT_EQ(goals["A"], "converted");
  EXPECT_EQ(goals["B"], "active");
}

TEST_F(WorkflowsTest, GoalEndsRunAsConversion) {
  Ann();
  std::string id = CreateActive(J(R"({"name": "Nudge",
      "trigger": {"type": "event", "event": "cart_updated", "key": "cart_id"},
      "entry": {"re_entry": "always"}, "goal": {"event": "order_completed"}, "start": "wait",
      "steps": {"wait": {"type": "delay", "duration": {"days": 1}, "next": "mail"},
                "mail": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "s", "text": "t"}}}})"));
  Track("ann-1", "cart_updated", {{"cart_id", "A"}});
  Track("ann-1", "cart_updated", {{"cart_id", "B"}});
  ASSERT_TRUE(Settled(id, 2));

  Track("ann-1", "order_completed", {{"cart_id", "B"}});

  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[1], "status") == "converted"; }));
  EXPECT_EQ(Str(Runs(id)[0], "status"), "active");
  HttpResponse a = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
  EXPECT_EQ(JsonAt(a.json, "/conversions"), "1");
}

// The Trigger API: customers by user_id/email/usid, trigger.* data, skips with reasons,
// idempotency, re-entry never, and action steps (attributes, tags, branch).
TEST_F(WorkflowsTest, TriggerApiStartsRunsWithReasonsAndIdempotency) {
  std::string ann = Ann();
  std::string id = CreateActive(J(R"({"name": "Upgrade",
      "trigger": {"type": "api"}, "entry": {"re_entry": "never"}, "start": "set",
      "steps": {
        "set": {"type": "update_attributes", "attributes": {"plan": "pro"}, "next": "tag"},
        "tag": {"type": "add_tag", "tag": "upgraded", "next": "check"},
        "check": {"type": "branch", "condition": {"attribute": "plan", "op": "eq", "value": "pro"},
                  "yes": "mail", "no": "bye"},
        "mail": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "Code {{ trigger.code }}",
                 "text": "t"}, "next": "bye"},
        "bye": {"type": "exit"}}})"));
  json::value body = J(R"({"customers": [{"user_id": "ann-1"}, {"email": "nobody@example.com"}],
      "data": {"code": "X42"}, "idempotency_key": "k-1"})");

  HttpResponse first = http_->Post("/api/v1/workflows/" + id + "/trigger", body, key());
  HttpResponse again = http_->Post("/api/v1/workflows/" + id + "/trigger", body, key());
  json::object other = body.as_object();
  other["idempotency_key"] = "k-2";
  HttpResponse second = http_->Post("/api/v1/workflows/" + id + "/trigger", other, key());

  ASSERT_TRUE(HasStatus(first, 200));
  EXPECT_EQ(JsonAt(first.json, "/runs/0/customer/usid"), "\"" + ann + "\"");
  EXPECT_EQ(JsonAt(first.json, "/skipped/0/reason"), "\"customer_not_found\"");
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(JsonAt(second.json, "/skipped/0/reason"), "\"already_entered\"");
  ASSERT_TRUE(Eventually([&] { return Emails() == 1; }));
  EXPECT_NE(smtp_.messages()[0].data.find("Code X42"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "completed"; }));
  json::object c = Customer(ann);
  EXPECT_EQ(JsonAt(c, "/attributes/plan"), "\"pro\"");
  EXPECT_EQ(JsonAt(c, "/tags"), "[\"upgraded\"]");
  EXPECT_EQ(Runs(id).size(), 1u);
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/workflows/nope/trigger", body, key()), 404, "not_found"));
}

// A Trigger API idempotency key reused with another body answered the first call's runs with a
// 200, so the second request's customers silently never entered; a retry of the same body (its
// members in another order) still gets the first answer.
TEST_F(WorkflowsTest, TriggerApiKeyReusedWithADifferentBodyIs409) {
  std::string ann = Ann();
  CreateCustomer(json::object{{"user_id", "bob-1"}});
  std::string id = CreateActive(J(R"({"name": "Key", "trigger": {"type": "api"},
      "entry": {"re_entry": "always"}, "start": "a", "steps": {"a": {"type": "exit"}}})"));
  std::string path = "/api/v1/workflows/" + id + "/trigger";

  HttpResponse first = http_->Post(
      path,
      J(R"({"customers": [{"user_id": "ann-1"}], "data": {"a": 1, "b": 2}, "idempotency_key": "k"})"),
      key());
  HttpResponse retry = http_->Post(
      path,
      J(R"({"idempotency_key": "k", "data": {"b": 2, "a": 1}, "customers": [{"user_id": "ann-1"}]})"),
      key());
  HttpResponse other_data = http_->Post(
      path, J(R"({"customers": [{"user_id": "ann-1"}], "data": {"a": 2}, "idempotency_key": "k"})"),
      key());
  HttpResponse other_customers = http_->Post(
      path,
      J(R"({"customers": [{"user_id": "bob-1"}], "data": {"a": 1, "b": 2}, "idempotency_key": "k"})"),
      key());

  ASSERT_TRUE(HasStatus(first, 200));
  ASSERT_TRUE(HasStatus(retry, 200));
  EXPECT_EQ(retry.body, first.body);
  EXPECT_EQ(JsonAt(first.json, "/runs/0/customer/usid"), "\"" + ann + "\"");
  EXPECT_TRUE(IsError(other_data, 409, "conflict", "idempotency_key"));
  EXPECT_NE(JsonAt(other_data.json, "/error/message").find("reused with a different body"),
            std::string::npos);
  EXPECT_TRUE(IsError(other_customers, 409, "conflict", "idempotency_key"));
  EXPECT_EQ(Runs(id).size(), 1u);
}

// A draft edited in place after a Trigger API call on it (409, but the definition was read) runs
// the saved steps once active, not the ones it had before the edit.
TEST_F(WorkflowsTest, DraftEditedInPlaceRunsTheSavedSteps) {
  std::string ann = Ann();
  std::string id = Create(J(R"({"name": "Tagger", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "add_tag", "tag": "old"}}})"));
  json::value body = J(R"({"customers": [{"user_id": "ann-1"}]})");
  EXPECT_TRUE(IsError(http_->Post("/api/v1/workflows/" + id + "/trigger", body, key()), 409,
                      "conflict", "status"));
  HttpResponse put = http_->Put("/api/v1/workflows/" + id,
                                J(R"({"name": "Tagger", "trigger": {"type": "api"}, "start": "b",
      "steps": {"b": {"type": "add_tag", "tag": "new"}}})"),
                                key());
  ASSERT_TRUE(HasStatus(put, 200));
  EXPECT_EQ(JsonAt(put.json, "/version"), "1");
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 200));

  HttpResponse r = http_->Post("/api/v1/workflows/" + id + "/trigger", body, key());

  ASSERT_TRUE(HasStatus(r, 200));
  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "completed"; }));
  EXPECT_EQ(JsonAt(Customer(ann), "/tags"), "[\"new\"]");
  EXPECT_EQ(JsonAt(Runs(id, "logs")[0], "/steps/0/step"), "\"b\"");
  // A customer's runs list finds a run by id only when it is that customer's.
  std::string run = Str(Runs(id)[0], "id");
  std::string bob = CreateCustomer(json::object{{"user_id", "bob-1"}});
  EXPECT_TRUE(
      HasStatus(http_->Get("/api/v1/customers/" + ann + "/runs?run_id=" + run, key()), 200));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/" + bob + "/runs?run_id=" + run, key()), 404,
                      "not_found"));
  // A misspelt idempotency_key is refused rather than dropped (a retry would start runs again).
  EXPECT_TRUE(IsError(
      http_->Post("/api/v1/workflows/" + id + "/trigger", J(R"({"customers": [{"user_id": "ann-1"}],
                                        "idempotncy_key": "k"})"),
                  key()),
      422, "invalid", "idempotncy_key"));
}

// A bad entry of a Trigger API call is a 422 naming it, with nothing started or created; a
// profile it creates says it came through the API.
TEST_F(WorkflowsTest, TriggerApiNamesABadEntryAndCreatesProfilesAsApi) {
  std::string id = CreateActive(J(R"({"name": "Create", "start": "a",
      "trigger": {"type": "api", "create_customers": true}, "steps": {"a": {"type": "exit"}}})"));
  auto trigger = [&](std::string_view customers) {
    return http_->Post("/api/v1/workflows/" + id + "/trigger",
                       J(R"({"customers": )" + std::string(customers) + "}"), key());
  };

  EXPECT_TRUE(IsError(trigger(R"([{"user_id": "new-1"}, {"user_id": "new-2", "email": "no at"}])"),
                      422, "invalid", "customers[1].email"));
  EXPECT_TRUE(IsError(trigger(R"([{"user_id": "new-3", "timezone": "Mars/Olympus"}])"), 422,
                      "invalid", "customers[0].timezone"));
  EXPECT_TRUE(Runs(id).empty());
  EXPECT_TRUE(
      IsError(http_->Get("/api/v1/customers/lookup?user_id=new-1", key()), 404, "not_found"));

  HttpResponse ok = trigger(R"([{"user_id": "new-1"}])");

  ASSERT_TRUE(HasStatus(ok, 200));
  HttpResponse c = http_->Get("/api/v1/customers/lookup?user_id=new-1", key());
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "added_via"), "api");
}

// Archive ends the runs still going as `exited`, shown as ended: no step, not waiting, no
// wake-up (docs/api.md, runs).
TEST_F(WorkflowsTest, ArchiveEndsRunsWithNoStepLeft) {
  Ann();
  std::string id = CreateActive(J(R"({"name": "Wait", "trigger": {"type": "api"}, "start": "w",
      "steps": {"w": {"type": "wait_for_event", "event": "order", "timeout": {"days": 1}}}})"));
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/trigger",
                                    J(R"({"customers": [{"user_id": "ann-1"}]})"), key()),
                        200));
  ASSERT_TRUE(Settled(id, 1));

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/archive", {}, key()), 200));

  json::value run = Runs(id)[0];
  EXPECT_EQ(Str(run, "status"), "exited");
  EXPECT_EQ(JsonAt(run, "/step"), "null");
  EXPECT_EQ(JsonAt(run, "/waiting"), "false");
  EXPECT_EQ(JsonAt(run, "/wake_at"), "null");
  EXPECT_NE(JsonAt(run, "/ended_at"), "null");
}

// A message the outbox's policy skips at enqueue (here the frequency cap) is logged as skipped
// with the reason, and analytics do not count it as sent.
TEST_F(WorkflowsTest, MessageTheOutboxSkipsIsNotCountedAsSent) {
  Ann();
  ASSERT_TRUE(HasStatus(
      http_->Patch("/api/v1/project", J(R"({"frequency_cap": {"per_day": 1}})"), key()), 200));
  std::string id = CreateActive(J(R"({"name": "Two", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "send_email", "message": {"subject": "one", "text": "t",
                      "unsubscribe_url": "https://example.com/u"}, "next": "b"},
                "b": {"type": "send_email", "message": {"subject": "two", "text": "t",
                      "unsubscribe_url": "https://example.com/u"}}}})"));

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/trigger",
                                    J(R"({"customers": [{"user_id": "ann-1"}]})"), key()),
                        200));

  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "completed"; }));
  ASSERT_TRUE(Eventually([&] { return Emails() == 1; }));
  json::value log = Runs(id, "logs")[0];
  EXPECT_EQ(JsonAt(log, "/steps/0/outcome"), "\"sent\"");
  EXPECT_EQ(JsonAt(log, "/steps/1/outcome"), "\"skipped\"");
  EXPECT_EQ(JsonAt(log, "/steps/1/detail/reason"), "\"frequency_cap\"");
  HttpResponse a = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
  EXPECT_EQ(JsonAt(a.json, "/messages_sent"), R"({"email":1})");
  EXPECT_EQ(JsonAt(a.json, "/steps/b/outcomes"), R"({"skipped":1})");
  EXPECT_EQ(Emails(), 1u);
}

// Quiet hours in hold mode (SPEC "Limits": the send waits for the window to open): at 23:00 in
// Tokyo the send step's message is held and the run waits on the step until 08:00 Tokyo time,
// logged `held` and not counted as sent; in New York (09:00) the same step sends at once.
TEST_F(WorkflowsTest, QuietHoursHoldTheSendStepUntilTheLocalMorning) {
  std::string id = QuietHoursWorkflow("hold");
  SetClock("2026-03-02T14:00:00Z");  // 23:00 in Tokyo, 09:00 in New York
  std::string tokyo = ZonedCustomer("tokyo", "Asia/Tokyo");
  std::string ny = ZonedCustomer("ny", "America/New_York");
  auto run = [&](const std::string& usid) { return Runs(id, "runs?customer=" + usid).at(0); };
  auto log = [&](const std::string& usid) { return Runs(id, "logs?customer=" + usid).at(0); };
  auto analytics = [&] { return http_->Get("/api/v1/workflows/" + id + "/analytics", key()).json; };

  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/workflows/" + id + "/trigger",
                  J(R"({"customers": [{"user_id": "tokyo"}, {"user_id": "ny"}]})"), key()),
      200));

  ASSERT_TRUE(Settled(id, 2));
  ASSERT_TRUE(Eventually([&] { return Str(run(ny), "status") == "completed"; }));
  ASSERT_TRUE(Eventually([&] { return Emails() == 1; }));
  EXPECT_EQ(smtp_.messages()[0].rcpt_to, std::vector<std::string>{"ny@example.com"});
  json::value held = run(tokyo);
  EXPECT_EQ(Str(held, "status"), "active");
  EXPECT_EQ(Str(held, "step"), "m");
  EXPECT_EQ(JsonAt(held, "/waiting"), "true");
  EXPECT_EQ(Str(held, "wake_at"), "2026-03-02T23:00:00.000Z");  // 08:00 in Tokyo
  json::value steps = log(tokyo);
  EXPECT_EQ(JsonAt(steps, "/steps/0/outcome"), "\"held\"");
  EXPECT_EQ(JsonAt(steps, "/steps/0/channel"), "\"email\"");
  EXPECT_EQ(JsonAt(steps, "/steps/0/detail/reason"), "\"quiet_hours\"");
  EXPECT_EQ(JsonAt(steps, "/steps/0/detail/until"), "\"2026-03-02T23:00:00.000Z\"");
  ASSERT_EQ(steps.at("steps").as_array().size(), 1u);
  std::string message_id = Str(steps.at("steps").at(0).at("detail"), "message_id");
  EXPECT_EQ(JsonAt(GetMessage(message_id), "/last_answer/outcome"), "\"held\"");
  json::value a = analytics();
  EXPECT_EQ(JsonAt(a, "/messages_sent"), R"({"email":1})");
  EXPECT_EQ(JsonAt(a, "/steps/m/outcomes"), R"({"held":1,"sent":1})");
  EXPECT_EQ(JsonAt(a, "/steps/m/invoked"), "1");
  EXPECT_EQ(JsonAt(a, "/in_progress"), "1");

  // 07:59 in Tokyo: still inside quiet hours, nothing moves.
  SetClock("2026-03-02T22:59:00Z");
  EXPECT_TRUE(Settled(id, 2));
  EXPECT_EQ(Str(run(tokyo), "step"), "m");
  EXPECT_EQ(Str(GetMessage(message_id), "status"), "queued");
  EXPECT_EQ(Emails(), 1u);

  // 08:00 in Tokyo: the held email goes, once, and the run goes on to its next step.
  SetClock("2026-03-02T23:00:00Z");
  WaitForStatus(message_id, "sent", 1);
  ASSERT_TRUE(Eventually([&] { return Str(run(tokyo), "status") == "completed"; }));
  ASSERT_EQ(Emails(), 2u);
  EXPECT_EQ(smtp_.messages()[1].rcpt_to, std::vector<std::string>{"tokyo@example.com"});
  steps = log(tokyo);
  EXPECT_EQ(JsonAt(steps, "/steps/1/outcome"), "\"sent\"");
  EXPECT_EQ(JsonAt(steps, "/steps/1/at"), "\"2026-03-02T23:00:00.000Z\"");
  EXPECT_EQ(JsonAt(steps, "/steps/1/detail/message_id"), "\"" + message_id + "\"");
  EXPECT_EQ(JsonAt(steps, "/steps/2/step"), "\"t\"");
  EXPECT_EQ(JsonAt(Customer(tokyo), "/tags"), "[\"mailed\"]");
  a = analytics();
  EXPECT_EQ(JsonAt(a, "/messages_sent"), R"({"email":2})");
  EXPECT_EQ(JsonAt(a, "/steps/m/outcomes"), R"({"held":1,"sent":2})");
  EXPECT_EQ(JsonAt(a, "/steps/m/invoked"), "2");
  EXPECT_EQ(JsonAt(a, "/completed"), "2");
  Advance(24 * kHour);
  EXPECT_TRUE(Settled(id, 2));
  EXPECT_EQ(Emails(), 2u);
}

// Quiet hours in skip mode: the send step at 23:00 local is skipped (reason quiet_hours, not
// counted as sent) and the run goes on at once; the morning sends nothing either.
TEST_F(WorkflowsTest, QuietHoursSkipTheSendStepAndTheRunGoesOn) {
  std::string id = QuietHoursWorkflow("skip");
  SetClock("2026-03-02T14:00:00Z");  // 23:00 in Tokyo
  std::string tokyo = ZonedCustomer("tokyo", "Asia/Tokyo");

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/trigger",
                                    J(R"({"customers": [{"user_id": "tokyo"}]})"), key()),
                        200));

  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "completed"; }));
  json::value log = Runs(id, "logs")[0];
  EXPECT_EQ(JsonAt(log, "/steps/0/outcome"), "\"skipped\"");
  EXPECT_EQ(JsonAt(log, "/steps/0/detail/reason"), "\"quiet_hours\"");
  EXPECT_EQ(JsonAt(log, "/steps/0/at"), "\"2026-03-02T14:00:00.000Z\"");
  EXPECT_EQ(JsonAt(log, "/steps/1/step"), "\"t\"");
  EXPECT_EQ(JsonAt(log, "/steps/1/outcome"), "\"done\"");
  EXPECT_EQ(JsonAt(Customer(tokyo), "/tags"), "[\"mailed\"]");
  HttpResponse a = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
  EXPECT_EQ(JsonAt(a.json, "/messages_sent"), "{}");
  EXPECT_EQ(JsonAt(a.json, "/steps/m/outcomes"), R"({"skipped":1})");
  std::string message_id = Str(log.at("steps").at(0).at("detail"), "message_id");
  EXPECT_EQ(Str(GetMessage(message_id), "status"), "skipped");

  SetClock("2026-03-02T23:30:00Z");  // 08:30 in Tokyo: the window is open, nothing was held
  EXPECT_TRUE(Settled(id, 1));
  EXPECT_EQ(Str(GetMessage(message_id), "status"), "skipped");
  EXPECT_EQ(Emails(), 0u);
}

// Re-entry after a cool-down, and a segment_entered trigger.
TEST_F(WorkflowsTest, ReEntryAfterCooldownAndSegmentTrigger) {
  std::string ann = Ann();
  HttpResponse seg =
      http_->Post("/api/v1/segments", J(R"({"name": "VIP", "type": "manual"})"), key());
  ASSERT_TRUE(HasStatus(seg, 201));
  std::string sid = Str(seg.json, "id");
  json::object body{
      {"name", "Cooldown"},
      {"trigger", json::object{{"type", "api"}}},
      {"entry", J(R"({"re_entry": {"after": {"days": 1}}})")},
      {"start", "a"},
      {"steps",
       json::object{{"a", json::object{{"type", "add_to_segment"}, {"segment_id", sid}}}}}};
  std::string id = CreateActive(body);
  std::string vip = CreateActive(json::object{
      {"name", "VIP welcome"},
      {"trigger", json::object{{"type", "segment_entered"}, {"segment_id", sid}}},
      {"start", "t"},
      {"steps", json::object{{"t", json::object{{"type", "add_tag"}, {"tag", "vip"}}}}}});
  json::value trigger = J(R"({"customers": [{"user_id": "ann-1"}]})");

  HttpResponse one = http_->Post("/api/v1/workflows/" + id + "/trigger", trigger, key());
  HttpResponse two = http_->Post("/api/v1/workflows/" + id + "/trigger", trigger, key());
  Advance(24 * kHour + kMinute);
  HttpResponse three = http_->Post("/api/v1/workflows/" + id + "/trigger", trigger, key());

  EXPECT_EQ(DataOf(one).size(), 0u);
  EXPECT_EQ(JsonAt(one.json, "/skipped"), "[]");
  EXPECT_EQ(JsonAt(two.json, "/skipped/0/reason"), "\"cooling_down\"");
  EXPECT_EQ(JsonAt(three.json, "/skipped"), "[]");
  ASSERT_TRUE(Eventually([&] { return JsonAt(Customer(ann), "/tags") == "[\"vip\"]"; }));
  EXPECT_EQ(Runs(vip).size(), 1u);
}

// Pause holds runs where they are; an edit of an active workflow is a new version and runs
// already in it finish on theirs; resume lets the held runs go on.
TEST_F(WorkflowsTest, PauseHoldsRunsAndEditsMakeVersions) {
  Ann();
  std::string id = CreateActive(J(R"({"name": "Drip", "trigger": {"type": "event", "event": "go"},
      "entry": {"re_entry": "always"}, "start": "wait",
      "steps": {"wait": {"type": "delay", "duration": {"hours": 1}, "next": "v1"},
                "v1": {"type": "add_tag", "tag": "v1"}}})"));
  Track("ann-1", "go");
  ASSERT_TRUE(Settled(id, 1));

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/pause", {}, key()), 200));
  HttpResponse put = http_->Put("/api/v1/workflows/" + id, J(R"({"name": "Drip",
      "trigger": {"type": "event", "event": "go"}, "entry": {"re_entry": "always"},
      "start": "wait", "steps": {"wait": {"type": "delay", "duration": {"hours": 1}, "next": "v2"},
                                 "v2": {"type": "add_tag", "tag": "v2"}}})"),
                                key());
  Advance(2 * kHour);
  Track("ann-1", "go");  // paused: starts nothing

  EXPECT_EQ(JsonAt(put.json, "/version"), "2");
  ASSERT_TRUE(Settled(id, 1));
  EXPECT_EQ(Str(Runs(id)[0], "status"), "held");
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 200));
  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "completed"; }));
  EXPECT_EQ(JsonAt(Runs(id)[0], "/version"), "1");
  Track("ann-1", "go");
  ASSERT_TRUE(Settled(id, 2));
  EXPECT_EQ(JsonAt(Runs(id)[1], "/version"), "2");
  Advance(2 * kHour);
  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[1], "status") == "completed"; }));
  EXPECT_EQ(JsonAt(Customer(Runs(id)[1].at("usid").as_string().c_str()), "/tags"),
            "[\"v1\",\"v2\"]");
}

// A run waiting on a delay survives a restart and wakes on time, sending once.
TEST_F(WorkflowsTest, RunsResumeAfterRestart) {
  Ann();
  std::string id = CreateActive(J(R"({"name": "Later", "trigger": {"type": "event", "event": "go"},
      "start": "wait", "steps": {"wait": {"type": "delay", "duration": {"hours": 3}, "next": "m"},
                                 "m": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "s", "text": "t"}}}})"));
  Track("ann-1", "go");
  ASSERT_TRUE(Settled(id, 1));
  int64_t wake = EpochMsOf(Str(Runs(id)[0], "wake_at")).value_or(0);

  RestartServer();
  SetClock(IsoOf(wake));

  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "completed"; }));
  ASSERT_TRUE(Eventually([&] { return Emails() == 1; }));
  EXPECT_EQ(Emails(), 1u);
}

// A daily 09:00 local wait, for customers in New York and London, across the spring and autumn
// daylight-saving changes of both (2026: US Mar 8 and Nov 1, UK Mar 29 and Oct 25).
// attribute_changed and segment_left triggers; a split sends every run down one branch, the same
// for a run whatever happens; wait_until an attribute with a negative offset; http_request goes
// out through the outbox's webhook channel.
TEST_F(WorkflowsTest, AttributeAndSegmentLeftTriggersSplitWaitUntilAttributeHttpRequest) {
  ConfigureWebhook();
  std::string ann = Ann();
  HttpResponse seg = http_->Post("/api/v1/segments", J(R"({"name": "Pro", "type": "dynamic",
      "conditions": {"attribute": "plan", "op": "eq", "value": "pro"}})"),
                                 key());
  ASSERT_TRUE(HasStatus(seg, 201));
  std::string sid = Str(seg.json, "id");
  std::string changed = CreateActive(J(R"({"name": "Plan changed",
      "trigger": {"type": "attribute_changed", "attribute": "plan"},
      "entry": {"re_entry": "always"}, "start": "split",
      "steps": {"split": {"type": "split", "branches": [{"percent": 50, "next": "a"},
                                                        {"percent": 50, "next": "b"}]},
                "a": {"type": "add_tag", "tag": "a"}, "b": {"type": "add_tag", "tag": "b"}}})"));
  std::string left = CreateActive(json::object{
      {"name", "Left pro"},
      {"trigger", json::object{{"type", "segment_left"}, {"segment_id", sid}}},
      {"start", "call"},
      {"steps",
       json::object{{"call", json::object{{"type", "http_request"},
                                          {"method", "POST"},
                                          {"url", hook_.base_url() + "/left"},
                                          {"body", J(R"({"usid": "{{ customer.usid }}"})")}}}}}});
  std::string renew = CreateActive(J(R"({"name": "Renewal", "trigger": {"type": "api"},
      "start": "before", "steps": {
        "before": {"type": "wait_until", "attribute": "renews_at", "offset": {"days": -3},
                   "next": "tag"},
        "tag": {"type": "add_tag", "tag": "renewal_soon"}}})"));

  PutAttributes(ann, {{"plan", "pro"}});
  PutAttributes(ann, {{"plan", "free"}});
  int64_t now = EpochMsOf(Str(http_->Post("/_test/clock", json::object{}).json, "now")).value();
  PutAttributes(ann, {{"renews_at", IsoOf(now + 10 * 24 * kHour)}});
  HttpResponse t = http_->Post("/api/v1/workflows/" + renew + "/trigger",
                               J(R"({"customers": [{"user_id": "ann-1"}]})"), key());

  ASSERT_TRUE(HasStatus(t, 200));
  ASSERT_TRUE(Settled(changed, 2));
  json::array runs = Runs(changed, "logs");
  for (const auto& r : runs) EXPECT_EQ(Str(r, "status"), "completed");
  ASSERT_TRUE(Settled(left, 1));
  ASSERT_TRUE(Eventually([&] { return hook_.requests().size() == 1; }));
  EXPECT_EQ(hook_.requests()[0].target, "/left");
  EXPECT_NE(hook_.requests()[0].body.find(ann), std::string::npos);
  ASSERT_TRUE(Settled(renew, 1));
  EXPECT_EQ(Str(Runs(renew)[0], "wake_at"), IsoOf(now + 7 * 24 * kHour));
  Advance(7 * 24 * kHour);
  ASSERT_TRUE(Eventually([&] { return Str(Runs(renew)[0], "status") == "completed"; }));
  std::string tags = JsonAt(Customer(ann), "/tags");
  EXPECT_NE(tags.find("renewal_soon"), std::string::npos);
  EXPECT_TRUE(tags.find("\"a\"") != std::string::npos || tags.find("\"b\"") != std::string::npos);
}

// The SMS, push and webhook steps go out through the outbox with their templates rendered over
// the customer and trigger data (bytes asserted at the fakes), and add_to_segment /
// remove_from_segment put the customer in and out of a manual segment, each logged.
TEST_F(WorkflowsTest, SmsPushWebhookAndManualSegmentSteps) {
  ConfigureSms();
  ConfigurePush();
  ConfigureWebhook();
  std::string ann = Ann();
  HttpResponse seg =
      http_->Post("/api/v1/segments", J(R"({"name": "Onboarding", "type": "manual"})"), key());
  ASSERT_TRUE(HasStatus(seg, 201));
  std::string sid = Str(seg.json, "id");
  json::object steps{
      {"in", json::object{{"type", "add_to_segment"}, {"segment_id", sid}, {"next", "sms"}}},
      {"sms", J(R"({"type": "send_sms", "next": "push", "message":
                    {"body": "Hi {{ customer.first_name }}, code {{ trigger.code }}"}})")},
      {"push", J(R"({"type": "send_push", "next": "hook", "message":
                     {"title": "Hello {{ customer.first_name }}", "body": "b"}})")},
      {"hook", json::object{{"type", "send_webhook"},
                            {"next", "out"},
                            {"message", json::object{{"url", hook_.base_url() + "/wf"},
                                                     {"method", "POST"},
                                                     {"body", J(R"({"usid": "{{ customer.usid }}",
                                                                   "code": "{{ trigger.code }}"})")}}}}},
      {"out", json::object{{"type", "remove_from_segment"}, {"segment_id", sid}}}};
  std::string id = CreateActive(json::object{{"name", "Channels"},
                                             {"trigger", J(R"({"type": "api"})")},
                                             {"start", "in"},
                                             {"steps", steps}});

  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/workflows/" + id + "/trigger", J(R"({"customers": [{"user_id": "ann-1"}],
                                          "data": {"code": "A1"}})"),
                  key()),
      200));
  ASSERT_TRUE(Eventually([&] {
    return sms_.requests().size() == 1 && fcm_.requests().size() == 1 &&
           hook_.requests().size() == 1;
  }));

  EXPECT_EQ(sms_.requests()[0].FormFields()["Body"], "Hi Ann, code A1");
  json::value push = ParseJsonOrFail(fcm_.requests()[0].body);
  EXPECT_EQ(JsonAt(push, "/message/notification/title"), "\"Hello Ann\"");
  json::value hook = ParseJsonOrFail(hook_.requests()[0].body);
  EXPECT_EQ(JsonAt(hook, "/usid"), "\"" + ann + "\"");
  EXPECT_EQ(JsonAt(hook, "/code"), "\"A1\"");
  json::array logs = Runs(id, "logs");
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(Str(logs[0], "status"), "completed");
  std::vector<std::string> outcomes;
  for (const auto& s : logs[0].at("steps").as_array()) {
    outcomes.push_back(Str(s, "step") + ":" + Str(s, "outcome"));
  }
  EXPECT_EQ(outcomes, (std::vector<std::string>{"in:done", "sms:sent", "push:sent", "hook:sent",
                                                "out:done"}));
  HttpResponse members = http_->Get("/api/v1/segments/" + sid + "/customers", key());
  EXPECT_TRUE(DataOf(members).empty()) << members.body;
  HttpResponse history = http_->Get("/api/v1/segments/" + sid + "/history", key());
  std::vector<std::string> changes;
  for (const auto& h : DataOf(history)) changes.push_back(Str(h, "change"));
  std::sort(changes.begin(), changes.end());
  EXPECT_EQ(changes, (std::vector<std::string>{"entered", "exited"}));
}

// A condition goal that time alone makes true (renews_at comes within 2 days) converts the run at
// that instant, while it waits on a longer delay, with no new data.
TEST_F(WorkflowsTest, ConditionGoalMetByTimeAloneConvertsAtThatMoment) {
  SetClock("2026-09-01T00:00:00.000Z");
  std::string ann = CreateCustomer(J(R"({"user_id": "g1", "email": "g1@example.com",
                                         "renews_at": "2026-09-06T00:00:00Z"})")
                                       .as_object());
  std::string id = CreateActive(J(R"({"name": "Goal", "trigger": {"type": "api"},
      "goal": {"attribute": "renews_at", "op": "within_next", "value": {"days": 2}},
      "start": "wait", "steps": {
        "wait": {"type": "delay", "duration": {"days": 10}, "next": "m"},
        "m": {"type": "send_email", "message": {"subject": "s", "text": "t", "transactional": true}}}})"));

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/trigger",
                                    J(R"({"customers": [{"user_id": "g1"}]})"), key()),
                        200));
  ASSERT_TRUE(Settled(id, 1));
  json::array runs = Runs(id);
  EXPECT_EQ(Str(runs[0], "goal_at"), "2026-09-04T00:00:00.000Z");
  EXPECT_EQ(Str(runs[0], "wake_at"), "2026-09-11T00:00:00.000Z");
  SetClock("2026-09-04T00:00:00.000Z");

  ASSERT_TRUE(Eventually([&] { return Str(Runs(id)[0], "status") == "converted"; }));
  runs = Runs(id);
  EXPECT_EQ(Str(runs[0], "ended_at"), "2026-09-04T00:00:00.000Z");
  EXPECT_TRUE(IsNullMember(runs[0], "goal_at"));
  SetClock("2026-09-12T00:00:00.000Z");
  HttpResponse analytics = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
  EXPECT_EQ(JsonAt(analytics.json, "/conversions"), "1");
  EXPECT_EQ(Emails(), 0u);
}

// attribute_changed counts a profile created with the attribute as a change (it was added); one
// created without it starts nothing. Runs start in the write that created the profile.
TEST_F(WorkflowsTest, AttributeChangedFiresForAProfileCreatedWithTheAttribute) {
  std::string id = CreateActive(J(R"({"name": "Plan set",
      "trigger": {"type": "attribute_changed", "attribute": "plan"}, "start": "t",
      "steps": {"t": {"type": "add_tag", "tag": "has_plan"}}})"));

  std::string with = CreateCustomer(J(R"({"user_id": "c1", "plan": "pro"})").as_object());
  std::string without = CreateCustomer(J(R"({"user_id": "c2"})").as_object());

  json::array runs = Runs(id);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(Str(runs[0], "usid"), with);
  PutAttributes(without, {{"plan", "free"}});
  EXPECT_EQ(Runs(id).size(), 2u);
  // A merge that gives the survivor the attribute changes it too.
  std::string survivor = CreateCustomer(J(R"({"user_id": "c3"})").as_object());
  CreateCustomer(J(R"({"user_id": "c4", "plan": "gold"})").as_object());  // a run of its own
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/customers/merge", J(R"({"primary": {"user_id": "c3"},
                                          "secondary": {"user_id": "c4"}})"),
                                    key()),
                        200));
  runs = Runs(id);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(Str(runs[3], "usid"), survivor);
}

// The workflow's send_rate_per_minute: sends over it wait for the next minute.
TEST_F(WorkflowsTest, SendRateLimitDefersSendsToTheNextMinute) {
  std::string id = RateLimited("r");
  SetClock("2026-05-01T10:00:10.000Z");

  HttpResponse t = http_->Post("/api/v1/workflows/" + id + "/trigger", J(R"({"customers":
      [{"user_id": "r0"}, {"user_id": "r1"}, {"user_id": "r2"}]})"),
                               key());

  ASSERT_TRUE(HasStatus(t, 200));
  ASSERT_TRUE(Eventually([&] { return Emails() == 2; }));
  ASSERT_TRUE(OneOfThreeRunsWaitsUntil(id, "2026-05-01T10:01:00.000Z"));
  EXPECT_EQ(Emails(), 2u);
  Advance(kMinute);
  ASSERT_TRUE(Eventually([&] { return Emails() == 3; }));
}

// The minute's send count is stored with the sends: a restart does not open a fresh minute.
TEST_F(WorkflowsTest, SendRateCountSurvivesRestart) {
  std::string id = RateLimited("s");
  SetClock("2026-05-01T10:00:10.000Z");
  std::string path = "/api/v1/workflows/" + id + "/trigger";
  ASSERT_TRUE(HasStatus(
      http_->Post(path, J(R"({"customers": [{"user_id": "s0"}, {"user_id": "s1"}]})"), key()),
      200));
  ASSERT_TRUE(Eventually([&] { return Emails() == 2; }));

  xoal_.set_serve_flags({"--test-clock", "--test-clock-start", "2026-05-01T10:00:30.000Z"});
  RestartServer();
  ASSERT_TRUE(HasStatus(http_->Post(path, J(R"({"customers": [{"user_id": "s2"}]})"), key()), 200));

  ASSERT_TRUE(OneOfThreeRunsWaitsUntil(id, "2026-05-01T10:01:00.000Z"));
  EXPECT_EQ(Emails(), 2u);
  SetClock("2026-05-01T10:01:00.000Z");
  ASSERT_TRUE(Eventually([&] { return Emails() == 3; }));
}

// A date_attribute trigger three days before trial_ends_at at 09:00 local (users_timezone on):
// the scan after activation schedules every customer with the attribute, a moment already past
// is missed, a customer created later or whose date moves is rescheduled, the schedule survives a
// restart, and each run starts at its exact moment. Customers: `sp` (Sao Paulo, no DST) fires at
// 12:00Z; `ny` at 13:00Z on the same day, so seeing sp's run without ny's proves ny waited; `ldn`
// has a date without a time (its local calendar day counts); `old` is past; `none` has no date.
TEST_F(WorkflowsTest, DateAttributeTriggerStartsRunsAtTheLocalMoment) {
  ASSERT_TRUE(
      HasStatus(http_->Patch("/api/v1/project", J(R"({"users_timezone": true})"), key()), 200));
  SetClock("2026-06-01T00:00:00.000Z");
  auto customer = [&](std::string_view user_id, std::string_view zone, json::value trial) {
    json::object body{
        {"user_id", user_id}, {"email", std::string(user_id) + "@example.com"}, {"timezone", zone}};
    if (!trial.is_null()) body["trial_ends_at"] = trial;
    return CreateCustomer(body);
  };
  std::string sp = customer("sp", "America/Sao_Paulo", "2026-06-10T20:00:00Z");
  std::string ny = customer("ny", "America/New_York", "2026-06-10T15:00:00Z");
  std::string ldn = customer("ldn", "Europe/London", "2026-06-12");
  customer("old", "UTC", "2026-01-01T00:00:00Z");
  customer("none", "UTC", nullptr);
  std::string id = CreateActive(J(R"({"name": "Trial ending", "trigger": {"type": "date_attribute",
      "attribute": "trial_ends_at", "offset": {"days": -3}, "at": "09:00"}, "start": "m",
      "steps": {"m": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u",
          "subject": "Your trial ends on {{ customer.trial_ends_at }}", "text": "t"}}}})"));
  auto timers = [&](std::string_view state) {
    HttpResponse r = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
    return JsonAt(r.json, "/date_triggers/" + std::string(state));
  };
  ASSERT_TRUE(Eventually([&] { return timers("pending") == "3" && timers("missed") == "1"; }))
      << timers("pending") << " " << timers("missed");
  auto started = [&](const std::string& usid) {
    std::vector<std::string> out;
    for (const auto& r : Runs(id)) {
      if (Str(r, "usid") == usid) out.push_back(Str(r, "started_at"));
    }
    return out;
  };
  std::string late = customer("late", "Asia/Tokyo", "2026-06-20T00:00:00Z");

  SetClock("2026-06-07T12:00:00.000Z");
  ASSERT_TRUE(Eventually([&] { return started(sp).size() == 1; }));
  EXPECT_EQ(started(sp)[0], "2026-06-07T12:00:00.000Z");
  EXPECT_TRUE(started(ny).empty()) << "ny's moment is 13:00Z";
  SetClock("2026-06-07T13:00:00.000Z");
  ASSERT_TRUE(Eventually([&] { return started(ny).size() == 1; }));
  EXPECT_EQ(started(ny)[0], "2026-06-07T13:00:00.000Z");

  // ldn's trial is extended before its moment (2026-06-09 08:00Z); the new one survives a restart.
  PutAttributes(ldn, json::object{{"trial_ends_at", "2026-07-01"}});
  xoal_.set_serve_flags({"--test-clock", "--test-clock-start", "2026-06-09T07:00:00.000Z"});
  RestartServer();
  SetClock("2026-06-09T08:00:00.000Z");
  SetClock("2026-06-17T00:00:00.000Z");  // `late` (Tokyo, June 17 09:00 = 00:00Z) fires
  ASSERT_TRUE(Eventually([&] { return started(late).size() == 1; }));
  EXPECT_EQ(started(late)[0], "2026-06-17T00:00:00.000Z");
  EXPECT_TRUE(started(ldn).empty()) << "ldn's old moment must not fire";
  SetClock("2026-06-28T08:00:00.000Z");
  ASSERT_TRUE(Eventually([&] { return started(ldn).size() == 1; }));
  EXPECT_EQ(started(ldn)[0], "2026-06-28T08:00:00.000Z");
  ASSERT_TRUE(Eventually([&] { return Emails() == 4; }));
  EXPECT_EQ(timers("fired"), "4");
  EXPECT_EQ(Runs(id).size(), 4u);
}

// Moments follow the project's time zone when it changes; a date SystemTime cannot hold gets no
// timer (instead of wrapping into the past); a deleted customer's timer goes with it; and a
// date that fired does not fire again when the customer's time zone moves its instant, even
// with re-entry always.
TEST_F(WorkflowsTest, DateAttributeTriggerFollowsTimeZonesOncePerDate) {
  SetClock("2026-03-01T00:00:00.000Z");
  std::string p = CreateCustomer(J(R"({"user_id": "p", "renews_at": "2026-03-25"})").as_object());
  std::string d = CreateCustomer(J(R"({"user_id": "d", "renews_at": "2026-03-26"})").as_object());
  CreateCustomer(J(R"({"user_id": "w", "renews_at": "2610-09-29"})").as_object());
  std::string id = CreateActive(J(R"({"name": "Renewal", "entry": {"re_entry": "always"},
      "trigger": {"type": "date_attribute", "attribute": "renews_at", "offset": {"days": -1},
                  "at": "09:00"}, "start": "t", "steps": {"t": {"type": "add_tag", "tag": "r"}}})"));
  auto timers = [&](std::string_view state) {
    HttpResponse r = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
    return JsonAt(r.json, "/date_triggers/" + std::string(state));
  };
  auto started = [&] {
    std::vector<std::string> out;
    for (const auto& r : Runs(id)) out.push_back(Str(r, "usid") + "@" + Str(r, "started_at"));
    return out;
  };
  ASSERT_TRUE(Eventually([&] { return timers("pending") == "2"; }));
  EXPECT_EQ(timers("missed"), "0");  // w's year 2610 has no timer at all

  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + d, key()), 200));
  EXPECT_EQ(timers("pending"), "1");
  ASSERT_TRUE(
      HasStatus(http_->Patch("/api/v1/project", J(R"({"timezone": "Asia/Tokyo"})"), key()), 200));
  SetClock("2026-03-24T00:00:00.000Z");  // 09:00 in Tokyo on the 24th
  ASSERT_TRUE(Eventually([&] { return started().size() == 1; }));
  EXPECT_EQ(started()[0], p + "@2026-03-24T00:00:00.000Z");

  ASSERT_TRUE(
      HasStatus(http_->Patch("/api/v1/project", J(R"({"users_timezone": true})"), key()), 200));
  PutAttributes(p, {{"timezone", "America/Los_Angeles"}});
  EXPECT_EQ(timers("fired"), "1");
  EXPECT_EQ(timers("pending"), "0");
  SetClock("2026-03-24T16:00:00.000Z");  // 09:00 in Los Angeles: the same date, not again
  PutAttributes(p, {{"renews_at", "2026-04-25"}});  // a new date is a new moment
  EXPECT_EQ(timers("pending"), "1");
  SetClock("2026-04-24T16:00:00.000Z");
  ASSERT_TRUE(Eventually([&] { return started().size() == 2; }));
  EXPECT_EQ(started()[1], p + "@2026-04-24T16:00:00.000Z");
}

// Pausing holds the timers; a moment that passes while paused is missed at the next activation,
// one still ahead fires; an exact offset (hours) without `at`; archive removes the timers.
TEST_F(WorkflowsTest, DateAttributeTriggerPauseMissesPassedMomentsAndArchiveClears) {
  SetClock("2026-08-01T00:00:00.000Z");
  std::string a = CreateCustomer(J(R"({"user_id": "a", "email": "a@example.com",
                                       "renews_at": "2026-08-02T10:00:00Z"})")
                                     .as_object());
  std::string b = CreateCustomer(J(R"({"user_id": "b", "email": "b@example.com",
                                       "renews_at": "2026-08-05T10:00:00Z"})")
                                     .as_object());
  std::string id = CreateActive(J(R"({"name": "Renewed", "trigger": {"type": "date_attribute",
      "attribute": "renews_at", "offset": {"hours": 2}}, "start": "t",
      "steps": {"t": {"type": "add_tag", "tag": "renewed"}}})"));
  auto timers = [&](std::string_view state) {
    HttpResponse r = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
    return JsonAt(r.json, "/date_triggers/" + std::string(state));
  };
  ASSERT_TRUE(Eventually([&] { return timers("pending") == "2"; }));

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/pause", {}, key()), 200));
  EXPECT_EQ(timers("paused"), "2");
  SetClock("2026-08-03T00:00:00.000Z");  // a's moment (08-02 12:00Z) passes while paused
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 200));
  ASSERT_TRUE(Eventually([&] { return timers("pending") == "1" && timers("missed") == "1"; }));
  SetClock("2026-08-05T12:00:00.000Z");
  ASSERT_TRUE(Eventually([&] { return Runs(id).size() == 1; }));

  json::array runs = Runs(id);
  EXPECT_EQ(Str(runs[0], "usid"), b);
  EXPECT_EQ(Str(runs[0], "started_at"), "2026-08-05T12:00:00.000Z");
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/archive", {}, key()), 200));
  EXPECT_EQ(timers("pending"), "0");
  EXPECT_EQ(timers("missed"), "0");
  EXPECT_EQ(timers("fired"), "0");
}

TEST_F(WorkflowsTest, DailyNineLocalAcrossDaylightSavingChanges) {
  ASSERT_TRUE(
      HasStatus(http_->Patch("/api/v1/project", J(R"({"users_timezone": true})"), key()), 200));
  std::string ny = CreateCustomer(J(R"({"user_id": "ny", "email": "ny@example.com",
                                        "timezone": "America/New_York"})")
                                      .as_object());
  std::string ldn = CreateCustomer(J(R"({"user_id": "ldn", "email": "ldn@example.com",
                                         "timezone": "Europe/London"})")
                                       .as_object());
  std::string id = CreateActive(J(R"({"name": "Daily", "trigger": {"type": "api"},
      "start": "nine", "steps": {
        "nine": {"type": "wait_until", "time_of_day": "09:00", "next": "mail"},
        "mail": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "s", "text": "t"}, "next": "nine"}}})"));
  // The wake-up of the customer's newest run.
  auto wake_of = [&](const std::string& usid) {
    std::string out = "<none>";
    for (const auto& r : Runs(id)) {
      if (Str(r, "usid") == usid) out = Str(r, "wake_at");
    }
    return out;
  };
  // Follows one customer's run from `start` through the expected wake-ups (UTC).
  auto follow = [&](const std::string& usid, std::string_view start,
                    const std::vector<std::string>& expected) {
    SetClock(start);
    HttpResponse t =
        http_->Post("/api/v1/workflows/" + id + "/trigger",
                    json::object{{"customers", json::array{json::object{{"usid", usid}}}}}, key());
    ASSERT_TRUE(HasStatus(t, 200));
    for (const auto& at : expected) {
      ASSERT_TRUE(Eventually([&] { return wake_of(usid) == at; })) << usid << " " << wake_of(usid);
      SetClock(at);
    }
  };
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/archive", {}, key()), 200));
  id = CreateActive(J(R"({"name": "Daily", "trigger": {"type": "api"},
      "entry": {"re_entry": "always"}, "start": "nine", "steps": {
        "nine": {"type": "wait_until", "time_of_day": "09:00", "next": "mail"},
        "mail": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "s", "text": "t"}, "next": "nine"}}})"));

  follow(ny, "2026-03-07T12:00:00.000Z",
         {"2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z", "2026-03-09T13:00:00.000Z"});
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/pause", {}, key()), 200));
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/archive", {}, key()), 200));
  id = CreateActive(J(R"({"name": "Daily 2", "trigger": {"type": "api"},
      "entry": {"re_entry": "always"}, "start": "nine", "steps": {
        "nine": {"type": "wait_until", "time_of_day": "09:00", "next": "mail"},
        "mail": {"type": "send_email", "message": {"unsubscribe_url": "https://example.com/u", "subject": "s", "text": "t"}, "next": "nine"}}})"));
  follow(ldn, "2026-03-28T10:00:00.000Z", {"2026-03-29T08:00:00.000Z", "2026-03-30T08:00:00.000Z"});
  follow(ny, "2026-10-31T12:00:00.000Z",
         {"2026-10-31T13:00:00.000Z", "2026-11-01T14:00:00.000Z", "2026-11-02T14:00:00.000Z"});
  follow(ldn, "2026-10-24T07:00:00.000Z", {"2026-10-24T08:00:00.000Z", "2026-10-25T09:00:00.000Z"});
}

}  // namespace
}  // namespace xoal::testing
