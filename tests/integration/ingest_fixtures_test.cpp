// Recorded payloads of Segment, RudderStack and Jitsu (../shared/fixtures, see its README.md and
// payload-formats.md) sent through their endpoints. Each test reads the files and derives what
// to expect from them: one event per first-seen messageId with the message's type, name,
// properties, person and time; duplicates where ids repeat; then the profile, company and error
// log details each file is there to exercise.
#include <algorithm>
#include <set>

#include "integration/ingest_fixture.hpp"

namespace xoal::testing {
namespace {

// When a request was sent, to bracket receive times.
struct Sent {
  int64_t before = 0;
  int64_t after = 0;
};

const json::value* Obj(const json::value& v, std::string_view key) {
  const json::value* m = Member(v, key);
  return m != nullptr && m->is_object() ? m : nullptr;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string MessageIdOf(const json::value& m) {
  if (auto id = IdOf(m, "messageId")) {
    return *id;
  }
  return IdOf(m, "message_id").value_or("");
}

// The event name SPEC gives each type: track its event, page/screen their name.
std::string ExpectedName(const json::value& m) {
  std::string type = Lower(Str(m, "type"));
  if (type == "track") {
    return Str(m, "event");
  }
  if (type == "page" || type == "screen") {
    const json::value* props = Obj(m, "properties");
    for (const json::value* v :
         {Member(m, "name"), Member(m, "event"), props ? Member(*props, "name") : nullptr,
          props ? Member(*props, "title") : nullptr}) {
      if (v != nullptr && v->is_string() && !v->get_string().empty()) {
        return std::string(v->get_string());
      }
    }
  }
  return type;
}

// What an identify records: context.traits, overridden by top-level traits.
json::object IdentifyTraits(const json::value& m) {
  json::object traits;
  if (const json::value* ctx = Obj(m, "context")) {
    if (const json::value* ct = Obj(*ctx, "traits")) {
      traits = ct->get_object();
    }
  }
  if (const json::value* t = Obj(m, "traits")) {
    for (const auto& [k, v] : t->get_object()) {
      traits[k] = v;
    }
  }
  return traits;
}

class IngestFixturesTest : public IngestTest {
 protected:
  void SetUp() override {
    XOAL_SKIP_WITHOUT_FIXTURES();
    IngestTest::SetUp();
  }

  // Sends `body` to `path` and checks the answer against the messageIds it carries: each id
  // seen before (in `seen_ids_`) is a duplicate, the rest are accepted.
  Sent SendAndCount(std::string_view path, const json::value& body,
                    const std::vector<json::value>& messages) {
    int accepted = 0;
    int duplicates = 0;
    for (const auto& m : messages) {
      std::string id = MessageIdOf(m);
      bool dup = !id.empty() && !seen_ids_.insert(id).second;
      dup ? ++duplicates : ++accepted;
    }
    Sent sent{NowMillis(), 0};
    HttpResponse r = Send(path, body);
    sent.after = NowMillis();
    EXPECT_TRUE(IsIngestAnswer(r, accepted, duplicates)) << "to " << path;
    return sent;
  }

  // Sends each message alone, as RudderStack's and Jitsu's webhooks do.
  void SendEach(std::string_view path, const json::array& messages) {
    for (const auto& m : messages) {
      Record(m, SendAndCount(path, m, {m}));
    }
  }

  // Sends the messages as one request (`body`: the array itself or an envelope around it).
  void SendTogether(std::string_view path, const json::value& body, const json::array& messages) {
    Sent sent = SendAndCount(path, body, std::vector<json::value>(messages.begin(), messages.end()));
    for (const auto& m : messages) {
      Record(m, sent);
    }
  }

  // Checks, for every first-seen messageId sent so far, the event stored under it: type, name,
  // source, properties, time and the profile it belongs to (found by user id, else anonymous id,
  // as the message named the person).
  void CheckEvents(std::string_view source) {
    auto events = EventsById();
    size_t with_id = 0;
    for (const auto& [m, sent] : sent_) {
      std::string id = MessageIdOf(m);
      if (id.empty() || !checked_.insert(id).second) {
        continue;
      }
      ++with_id;
      SCOPED_TRACE("message " + id);
      auto it = events.find(id);
      if (it == events.end()) {
        ADD_FAILURE() << "no event stored for " << json::serialize(m).substr(0, 300);
        continue;
      }
      const json::object& e = it->second;
      std::string type = Lower(Str(m, "type"));
      EXPECT_EQ(Str(e, "type"), type);
      EXPECT_EQ(Str(e, "name"), ExpectedName(m));
      EXPECT_EQ(Str(e, "source"), source);
      CheckProperties(m, type, e);
      CheckTime(m, sent, e);
      CheckOwner(m, e);
    }
    EXPECT_EQ(with_id, checked_.size() - checked_before_);
    checked_before_ = checked_.size();
  }

  std::set<std::string> seen_ids_;

 private:
  void Record(const json::value& m, Sent sent) { sent_.emplace_back(m, sent); }

  void CheckProperties(const json::value& m, const std::string& type, const json::object& e) {
    json::value props = json::object();
    if (type == "identify") {
      props = IdentifyTraits(m);
    } else if (type == "track" || type == "page" || type == "screen") {
      if (const json::value* p = Obj(m, "properties")) {
        props = *p;
      }
    } else if (type == "alias") {
      props = json::object{{"previous_id", *IdOf(m, "previousId")}};
    }
    if (type == "group") {
      EXPECT_EQ(JsonAt(e, "/properties/group_id"), json::serialize(json::value(
                                                       IdOf(m, "groupId").value_or(""))));
      return;
    }
    EXPECT_EQ(json::value(e).at("properties"), props);
  }

  // The time Segment's rule gives: `timestamp`; else receive - (sentAt - originalTimestamp);
  // else originalTimestamp; else the receive time.
  void CheckTime(const json::value& m, Sent sent, const json::object& e) {
    auto stored = ParseIsoMillis(Str(e, "timestamp"));
    ASSERT_TRUE(stored.has_value()) << Str(e, "timestamp");
    if (auto ts = ParseIsoMillis(Str(m, "timestamp"))) {
      EXPECT_EQ(Str(e, "timestamp"), FormatIsoMillis(*ts));
      return;
    }
    auto original = ParseIsoMillis(Str(m, "originalTimestamp"));
    auto sent_at = ParseIsoMillis(Str(m, "sentAt"));
    int64_t skew = original && sent_at ? *sent_at - *original : 0;
    if (original && !sent_at) {
      EXPECT_EQ(*stored, *original);
      return;
    }
    EXPECT_GE(*stored, sent.before - skew) << "message time " << Str(e, "timestamp");
    EXPECT_LE(*stored, sent.after - skew) << "message time " << Str(e, "timestamp");
  }

  void CheckOwner(const json::value& m, const json::object& e) {
    std::string owner = "<none>";
    if (auto user = IdOf(m, "userId")) {
      owner = UsidOf("user_id", *user);
    }
    if (owner == "<none>") {
      if (auto anon = IdOf(m, "anonymousId")) {
        owner = UsidOf("anonymous_id", *anon);
      }
    }
    EXPECT_EQ(Str(e, "usid"), owner) << "userId " << JsonAt(m, "/userId") << " anonymousId "
                                     << JsonAt(m, "/anonymousId");
  }

  std::vector<std::pair<json::value, Sent>> sent_;
  std::set<std::string> checked_;
  size_t checked_before_ = 0;
};

json::array AsArray(const json::value& v) {
  if (v.is_array()) {
    return v.get_array();
  }
  return json::array{v};
}

TEST_F(IngestFixturesTest, SegmentFunctionDeliveriesAndTestEvent) {
  json::value identify = ReadFixture("segment/function-delivered-identify.json");
  json::value track = ReadFixture("segment/function-delivered-track.json");
  json::value test_event = ReadFixture("segment/test-event-track.json");

  SendEach("/ingest/v1/segment/event", json::array{identify, track, test_event});

  CheckEvents("segment");
  HttpResponse c = Lookup("user_id", Str(identify, "userId"));
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "email"), Str(identify.at("traits"), "email"));
  EXPECT_EQ(JsonAt(c.json, "/attributes/name"), JsonAt(identify, "/traits/name"));
  EXPECT_EQ(Strings(c.json, "anonymous_ids"),
            std::vector<std::string>{Str(identify, "anonymousId")});
  EXPECT_EQ(Str(c.json, "added_via"), "data_ingestion");
  EXPECT_EQ(Str(c.json, "contact_type"), "user");
  // The identify is newer than the track: last_active is the newest event's time.
  EXPECT_EQ(Str(c.json, "last_active"),
            FormatIsoMillis(std::max(*ParseIsoMillis(Str(identify, "timestamp")),
                                     *ParseIsoMillis(Str(track, "timestamp")))));
  // Segment's Test Event names the email at the top level and the timezone in its context.
  HttpResponse t = Lookup("user_id", Str(test_event, "userId"));
  ASSERT_TRUE(HasStatus(t, 200));
  EXPECT_EQ(Str(t.json, "email"), Str(test_event, "email"));
  EXPECT_EQ(Str(t.json, "timezone"), Str(test_event.at("context"), "timezone"));
  EXPECT_EQ(UsidOf("anonymous_id", Str(test_event, "anonymousId")), Str(t.json, "usid"));
  EXPECT_TRUE(IngestionErrors().empty());
}

TEST_F(IngestFixturesTest, SegmentWebhookActionsBatch) {
  json::value batch = ReadFixture("segment/webhook-actions-batch.json");
  ASSERT_TRUE(batch.is_array());

  SendTogether("/ingest/v1/segment/event", batch, batch.get_array());

  CheckEvents("segment");
  // The last two elements share a messageId (README): the group is a duplicate of the page and
  // so creates no company.
  const json::value& last = batch.get_array().back();
  ASSERT_EQ(Str(last, "type"), "group");
  ASSERT_EQ(MessageIdOf(last), MessageIdOf(batch.get_array()[batch.get_array().size() - 2]));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/companies/" + Str(last, "groupId"), key()), 404,
                      "not_found"));
  // Sent again, all of it is duplicates.
  std::set<std::string> ids;
  for (const auto& m : batch.get_array()) {
    ids.insert(MessageIdOf(m));
  }
  EXPECT_TRUE(IsIngestAnswer(Send("/ingest/v1/segment/event", batch), 0,
                             static_cast<int>(batch.get_array().size())));
  EXPECT_EQ(AllEvents().size(), ids.size());
}

// The bodies analytics-go posts to Segment's /v1/batch. Every file reuses the messageId "I'm
// unique", so each file goes to a project of its own and is checked there.
TEST_F(IngestFixturesTest, SegmentHttpTrackingApiBodies) {
  const std::vector<std::string> files = {
      "test-context-track", "test-enqueue-alias", "test-enqueue-group",
      "test-enqueue-identify", "test-enqueue-page", "test-enqueue-screen",
      "test-enqueue-track", "test-integrations-track", "test-many-track",
      "test-messageid-track", "test-timestamp-track"};
  http_.reset();
  xoal_.Stop();
  std::vector<ProjectKeys> projects;
  for (const auto& f : files) {
    projects.push_back(xoal_.CreateProject(f));
  }
  ASSERT_TRUE(xoal_.Start());
  http_ = NewClient();

  for (size_t i = 0; i < files.size(); ++i) {
    SCOPED_TRACE(files[i]);
    json::value body = ReadFixture("segment/http-tracking-api/" + files[i] + ".json");
    const json::array& batch = body.at("batch").as_array();
    std::set<std::string> ids;
    for (const auto& m : batch) {
      ids.insert(MessageIdOf(m));
    }
    int unique = static_cast<int>(ids.size());
    int total = static_cast<int>(batch.size());

    HttpResponse r = http_->Post("/v1/batch", body, projects[i].ingestion_key);

    ASSERT_TRUE(IsIngestAnswer(r, unique, total - unique));
    HttpResponse events = http_->Get("/api/v1/events", projects[i].management_key);
    ASSERT_EQ(DataOf(events).size(), ids.size());
    const json::value& e = DataOf(events)[0];
    const json::value& m = batch[0];
    EXPECT_EQ(Str(e, "id"), MessageIdOf(m));
    EXPECT_EQ(Str(e, "type"), Str(m, "type"));
    EXPECT_EQ(Str(e, "name"), ExpectedName(m));
    EXPECT_EQ(Str(e, "timestamp"), FormatIsoMillis(*ParseIsoMillis(Str(m, "timestamp"))));
    if (const json::value* props = Obj(m, "properties")) {
      EXPECT_EQ(e.at("properties"), *props);
    }
    HttpResponse owner = http_->Get(
        "/api/v1/customers/lookup?user_id=" + UrlEncode(Str(m, "userId")),
        projects[i].management_key);
    ASSERT_TRUE(HasStatus(owner, 200));
    EXPECT_EQ(Str(e, "usid"), Str(owner.json, "usid"));
    if (Str(m, "type") == "alias") {
      EXPECT_EQ(Strings(owner.json, "anonymous_ids"),
                std::vector<std::string>{Str(m, "previousId")});
    }
    if (Str(m, "type") == "group") {
      HttpResponse members = http_->Get("/api/v1/companies/" + Str(m, "groupId") + "/members",
                                        projects[i].management_key);
      EXPECT_EQ(Column(members, "usid"), std::vector<std::string>{Str(owner.json, "usid")});
    }
  }
}

TEST_F(IngestFixturesTest, SegmentLegacyIntegrationInputs) {
  json::value inputs = ReadFixture("segment/legacy-integration-inputs.json");
  ASSERT_TRUE(inputs.is_object());
  json::array messages;
  const json::value* nested = nullptr;
  const json::value* context_identify = nullptr;
  const json::value* group = nullptr;
  const json::value* alias = nullptr;
  int unparseable_times = 0;
  for (const auto& [name, m] : inputs.get_object()) {
    messages.push_back(m);
    std::string type = Str(m, "type");
    if (name.ends_with("identify-nested-dates.json")) nested = &m;
    if (name.ends_with("identify-context.json")) context_identify = &m;
    if (type == "group") group = &m;
    if (type == "alias") alias = &m;
    if (Member(m, "timestamp") != nullptr && !ParseIsoMillis(Str(m, "timestamp"))) {
      ++unparseable_times;
    }
  }
  ASSERT_TRUE(nested && context_identify && group && alias);

  Sent sent{NowMillis(), 0};
  ASSERT_TRUE(IsIngestAnswer(Send("/ingest/v1/segment/event", messages),
                             static_cast<int>(messages.size()), 0));
  sent.after = NowMillis();

  // Year-only ("2014") and placeholder timestamps cannot be parsed: each message falls back to
  // the receive time, and each fallback is logged.
  int fallbacks = 0;
  for (const auto& e : IngestionErrors()) {
    EXPECT_EQ(Str(e, "kind"), "time_fallback") << json::serialize(e);
    fallbacks += Str(e, "kind") == "time_fallback";
  }
  EXPECT_EQ(fallbacks, unparseable_times);
  auto events = AllEvents();
  EXPECT_EQ(events.size(), messages.size());
  for (const auto& e : events) {
    auto t = ParseIsoMillis(Str(e, "timestamp"));
    ASSERT_TRUE(t.has_value());
    EXPECT_GE(*t, sent.before) << json::serialize(e).substr(0, 200);
    EXPECT_LE(*t, sent.after) << json::serialize(e).substr(0, 200);
  }
  // The identifies of "user-id": the last one sent decides equal-time attributes.
  HttpResponse c = Lookup("user_id", Str(*nested, "userId"));
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "email"), Str(nested->at("traits"), "email"));
  EXPECT_EQ(Str(c.json, "first_name"), Str(nested->at("traits"), "firstName"));
  EXPECT_EQ(Str(c.json, "last_name"), Str(nested->at("traits"), "lastName"));
  EXPECT_EQ(JsonAt(c.json, "/attributes/race"), JsonAt(*nested, "/traits/race"));
  EXPECT_EQ(JsonAt(c.json, "/attributes/company"), JsonAt(*context_identify, "/traits/company"));
  EXPECT_EQ(Str(c.json, "timezone"), Str(context_identify->at("context"), "timezone"));
  EXPECT_EQ(Strings(c.json, "anonymous_ids"), std::vector<std::string>{Str(*alias, "previousId")})
      << "the alias attached the previous id to the user";
  // The track with a different email in context.traits does not replace a known email.
  EXPECT_EQ(UsidOf("email", Str(nested->at("traits"), "email")), Str(c.json, "usid"));
  // The group: company with its traits, the user as member.
  HttpResponse company = http_->Get("/api/v1/companies/" + Str(*group, "groupId"), key());
  ASSERT_TRUE(HasStatus(company, 200));
  EXPECT_EQ(Str(company.json, "name"), Str(group->at("traits"), "name"));
  EXPECT_EQ(JsonAt(company.json, "/attributes/plan"), JsonAt(*group, "/traits/plan"));
  EXPECT_EQ(JsonAt(company.json, "/attributes/monthlySpend"), JsonAt(*group, "/traits/monthlySpend"));
  EXPECT_EQ(Column(http_->Get("/api/v1/companies/" + Str(*group, "groupId") + "/members", key()),
                   "usid"),
            std::vector<std::string>{UsidOf("user_id", Str(*group, "userId"))});
}

TEST_F(IngestFixturesTest, RudderstackEvents) {
  json::value events = ReadFixture("rudderstack/events.json");
  ASSERT_TRUE(events.is_array());
  const json::array& all = events.get_array();

  std::set<std::string> aliased;  // previous ids that an alias moved to another user id
  for (const auto& m : all) {
    if (Str(m, "type") == "alias") {
      aliased.insert(*IdOf(m, "previousId"));
    }
  }

  SendEach("/ingest/v1/rudderstack/event", all);

  CheckEvents("rudderstack");
  for (const auto& m : all) {
    std::string type = Str(m, "type");
    SCOPED_TRACE(type + " " + MessageIdOf(m));
    auto user = IdOf(m, "userId");
    if (type == "identify") {
      // Identify traits: top level or only in context.traits; well-known ones map to built-ins.
      HttpResponse c = Lookup("user_id", *user);
      ASSERT_TRUE(HasStatus(c, 200));
      json::object traits = IdentifyTraits(m);
      for (const auto& [trait, value] : traits) {
        if (trait == "firstName" || trait == "first_name") {
          EXPECT_EQ(JsonAt(c.json, "/first_name"), json::serialize(value));
        } else if (trait == "lastName" || trait == "last_name") {
          EXPECT_EQ(JsonAt(c.json, "/last_name"), json::serialize(value));
        } else if (trait == "email") {
          EXPECT_EQ(Str(c.json, "email"), Lower(std::string(value.as_string())));
        } else {
          EXPECT_EQ(JsonAt(c.json, "/attributes/" + std::string(trait)), json::serialize(value));
        }
      }
      if (!traits.contains("email") && user->find('@') != std::string::npos) {
        EXPECT_EQ(Str(c.json, "email"), *user) << "the user id is an email";
      }
    }
    if (type == "group") {
      // Numeric ids (userId 432, groupId 306) are read as their digits.
      std::string group_id = *IdOf(m, "groupId");
      HttpResponse company = http_->Get("/api/v1/companies/" + group_id, key());
      ASSERT_TRUE(HasStatus(company, 200));
      EXPECT_EQ(Str(company.json, "name"), Str(m.at("traits"), "name"));
      EXPECT_EQ(JsonAt(company.json, "/attributes/city"), JsonAt(m, "/traits/city"));
      EXPECT_EQ(Column(http_->Get("/api/v1/companies/" + group_id + "/members", key()), "usid"),
                std::vector<std::string>{UsidOf("user_id", *user)});
    }
    if (type == "alias") {
      // previousId is the anonymous id of an earlier track's profile: it is now the user's.
      EXPECT_EQ(UsidOf("anonymous_id", *IdOf(m, "previousId")), UsidOf("user_id", *user));
    }
    if (!user) {
      // `userId: ""` is no id: the person is the anonymous visitor.
      HttpResponse c = Lookup("anonymous_id", Str(m, "anonymousId"));
      ASSERT_TRUE(HasStatus(c, 200));
      EXPECT_EQ(Str(c.json, "contact_type"), "unidentified");
    }
    if (type != "alias" && user && Str(m, "anonymousId") != "<missing>" &&
        !aliased.contains(Str(m, "anonymousId"))) {
      EXPECT_EQ(UsidOf("anonymous_id", Str(m, "anonymousId")), UsidOf("user_id", *user))
          << "the anonymous id is attached to the user";
    }
    const json::value* ctx = Obj(m, "context");
    if (ctx && Member(*ctx, "timezone") != nullptr) {
      EXPECT_EQ(Str(Lookup("user_id", *user).json, "timezone"), Str(*ctx, "timezone"));
    }
  }
  // The one entry: an alias whose previousId is the anonymous id of another known user, who
  // keeps their user id rather than being renamed.
  for (const json::object& e : IngestionErrors()) {
    EXPECT_EQ(Str(e, "kind"), "identifier_dropped") << json::serialize(e);
    EXPECT_NE(Str(e, "reason").find("previousId"), std::string::npos) << json::serialize(e);
  }
}

TEST_F(IngestFixturesTest, RudderstackInvalidTimestamps) {
  json::value events = ReadFixture("rudderstack/events-invalid-timestamps.json");
  ASSERT_TRUE(events.is_array());

  SendTogether("/ingest/v1/rudderstack/event", events, events.get_array());

  // Both share one messageId (SOURCES.md): the second is a duplicate. The first's `timestamp` is
  // unparseable, so its time comes from sentAt and originalTimestamp, and the fallback is logged.
  CheckEvents("rudderstack");
  bool logged = false;
  for (const auto& e : IngestionErrors()) {
    if (Str(e, "kind") == "time_fallback" && JsonAt(e, "/index") == "0") {
      logged = true;
      EXPECT_EQ(Str(e, "message_id"), MessageIdOf(events.at(0)));
      EXPECT_EQ(Str(e, "source"), "rudderstack");
    }
  }
  EXPECT_TRUE(logged) << "no time_fallback entry for index 0";
}

// The Webhook destination's own cases: what it POSTs (output.body.JSON; GET sends no body).
TEST_F(IngestFixturesTest, RudderstackWebhookDestinationOutputs) {
  json::value cases = ReadFixture("rudderstack/webhook-destination-cases.json");
  ASSERT_TRUE(cases.is_array());
  json::array posted;
  for (const auto& c : cases.get_array()) {
    const json::value& body = c.at("output").at("body").at("JSON");
    if (Str(c.at("output"), "method") != "GET" && !body.as_object().empty()) {
      posted.push_back(body);
    }
  }
  ASSERT_FALSE(posted.empty());

  SendEach("/ingest/v1/rudderstack/event", posted);

  CheckEvents("rudderstack");
  HttpResponse c = Lookup("anonymous_id", Str(posted[0], "anonymousId"));
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "contact_type"), "unidentified");
}

TEST_F(IngestFixturesTest, JitsuEvents) {
  json::value page = ReadFixture("jitsu/page-cli-sample.json");
  json::value events = ReadFixture("jitsu/events-v2.json");
  ASSERT_TRUE(events.is_array());
  json::array all{page};
  for (const auto& e : events.get_array()) {
    all.push_back(e);
  }

  SendEach("/ingest/v1/jitsu/event", all);

  CheckEvents("jitsu");
  // The CLI sample's user id is an email.
  HttpResponse sample = Lookup("user_id", Str(page, "userId"));
  ASSERT_TRUE(HasStatus(sample, 200));
  EXPECT_EQ(Str(sample.json, "email"), Str(page.at("context").at("traits"), "email"));
  const json::value* first_page = nullptr;  // the page of events-v2, sent before its identify
  for (const auto& m : events.get_array()) {
    std::string type = Str(m, "type");
    if (type == "page" && first_page == nullptr) {
      first_page = &m;
    }
    if (type == "identify") {
      HttpResponse c = Lookup("user_id", Str(m, "userId"));
      ASSERT_TRUE(HasStatus(c, 200));
      EXPECT_EQ(JsonAt(c.json, "/attributes/User_Name"), JsonAt(m, "/traits/User_Name"));
      // The page of the same user named another email in context.traits, and is newer than this
      // identify, which arrived after it: the newer message's email stays (SPEC, Attribute
      // order).
      ASSERT_TRUE(first_page != nullptr);
      ASSERT_EQ(Str(*first_page, "userId"), Str(m, "userId"));
      ASSERT_GT(*ParseIsoMillis(Str(*first_page, "timestamp")),
                *ParseIsoMillis(Str(m, "timestamp")));
      EXPECT_EQ(Str(c.json, "email"), Str(first_page->at("context").at("traits"), "email"));
    }
    if (type == "group") {
      // Jitsu's group: groupId at the top level (or in context), a person known anonymously.
      HttpResponse company = http_->Get("/api/v1/companies/" + Str(m, "groupId"), key());
      ASSERT_TRUE(HasStatus(company, 200));
      EXPECT_EQ(Str(company.json, "name"), Str(m.at("traits"), "name"));
      EXPECT_EQ(JsonAt(company.json, "/attributes/workspaceSlug"),
                JsonAt(m, "/traits/workspaceSlug"));
      EXPECT_EQ(Column(http_->Get("/api/v1/companies/" + Str(m, "groupId") + "/members", key()),
                       "usid"),
                std::vector<std::string>{UsidOf("anonymous_id", Str(m, "anonymousId"))});
    }
  }
  EXPECT_TRUE(IngestionErrors().empty());
}

}  // namespace
}  // namespace xoal::testing
