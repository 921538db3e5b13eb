// Identity resolution through ingestion (SPEC, Customers and Events): timestamp-ordered
// attributes, de-duplication by messageId, anonymous-to-known identifies, alias and identify
// merges with no event lost or counted twice, and batches where some items are bad.
#include <algorithm>
#include <set>

#include "integration/ingest_fixture.hpp"

namespace xoal::testing {
namespace {

constexpr std::string_view kSegment = "/ingest/v1/segment/event";

json::object Msg(std::string type, json::object fields) {
  fields["type"] = std::move(type);
  return fields;
}

class IngestIdentityTest : public IngestTest {
 protected:
  // The ids of a profile's events, sorted.
  std::vector<std::string> EventIds(std::string_view usid) {
    std::vector<std::string> ids;
    for (const auto& e : EventsOf(usid)) {
      ids.push_back(Str(e, "id"));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  std::vector<std::string> AllEventIds() {
    std::vector<std::string> ids;
    for (const auto& [id, e] : EventsById()) {
      ids.push_back(id);
    }
    return ids;
  }
};

TEST_F(IngestIdentityTest, OlderIdentifyArrivingLateDoesNotOverwriteNewerValues) {
  json::object newer =
      Msg("identify", {{"userId", "u-1"},
                       {"timestamp", "2024-06-02T00:00:00Z"},
                       {"traits", json::object{{"plan", "pro"}, {"firstName", "New"}}}});
  json::object older =
      Msg("identify",
          {{"userId", "u-1"},
           {"timestamp", "2024-06-01T00:00:00Z"},
           {"traits", json::object{{"plan", "free"}, {"firstName", "Old"}, {"company", "Acme"}}}});

  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, newer), 1, 0));
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, older), 1, 0));

  HttpResponse c = Lookup("user_id", "u-1");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"pro\"");
  EXPECT_EQ(Str(c.json, "first_name"), "New");
  EXPECT_EQ(JsonAt(c.json, "/attributes/company"), "\"Acme\"")
      << "an older message still sets what no newer one decided";
  EXPECT_EQ(Str(c.json, "last_active"), "2024-06-02T00:00:00.000Z");
  EXPECT_EQ(EventsOf(Str(c.json, "usid")).size(), 2u) << "both identifies are recorded";
}

TEST_F(IngestIdentityTest, OlderIdentifyArrivingLateDoesNotOverwriteNewerEmail) {
  json::object newer = Msg("identify", {{"userId", "u-1"},
                                        {"timestamp", "2024-06-02T00:00:00Z"},
                                        {"traits", json::object{{"email", "new@example.com"}}}});
  json::object older = Msg("identify", {{"userId", "u-1"},
                                        {"timestamp", "2024-06-01T00:00:00Z"},
                                        {"traits", json::object{{"email", "old@example.com"}}}});

  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, newer), 1, 0));
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, older), 1, 0));

  EXPECT_EQ(Str(Lookup("user_id", "u-1").json, "email"), "new@example.com");
}

// The store updates a profile without touching the user_id and email indexes when neither
// changed; when one does, the lookups must follow it.
TEST_F(IngestIdentityTest, NewerEmailAndUserIdMoveTheirLookups) {
  json::object visit =
      Msg("track",
          {{"anonymousId", "anon-1"}, {"event", "Viewed"}, {"timestamp", "2024-06-01T00:00:00Z"}});
  json::object first = Msg("identify", {{"anonymousId", "anon-1"},
                                        {"userId", "u-1"},
                                        {"timestamp", "2024-06-02T00:00:00Z"},
                                        {"traits", json::object{{"email", "old@example.com"}}}});
  json::object moved = Msg("identify", {{"userId", "u-1"},
                                        {"timestamp", "2024-06-03T00:00:00Z"},
                                        {"traits", json::object{{"email", "new@example.com"}}}});

  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, visit), 1, 0));
  std::string usid = Str(Lookup("anonymous_id", "anon-1").json, "usid");
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, first), 1, 0));
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, moved), 1, 0));

  EXPECT_EQ(Str(Lookup("user_id", "u-1").json, "usid"), usid);
  EXPECT_EQ(Str(Lookup("email", "new@example.com").json, "usid"), usid);
  EXPECT_TRUE(HasStatus(Lookup("email", "old@example.com"), 404));
  EXPECT_EQ(Str(Lookup("anonymous_id", "anon-1").json, "usid"), usid);
}

// A batch is first applied as a whole; a message that fails only when applied (its one
// identifier is an invalid email) sends it through again one message at a time. The others are
// applied once, their notes logged once, and the failed message leaves nothing but its rejection.
TEST_F(IngestIdentityTest, MessageFailingWhenAppliedIsRejectedAloneAndTheRestAppliedOnce) {
  json::array batch{
      Msg("identify", {{"userId", "u-1"},
                       {"messageId", "id-0"},
                       {"traits", json::object{{"plan", "pro"}, {"timezone", "Mars/Olympus"}}}}),
      Msg("identify", {{"messageId", "id-1"},
                       {"traits", json::object{{"email", "not-an-email"}, {"plan", "x"}}}}),
      Msg("track", {{"userId", "u-1"},
                    {"anonymousId", "anon-1"},
                    {"messageId", "id-2"},
                    {"event", "Bought"},
                    {"properties", json::object{{"amount", 5}}}})};

  HttpResponse r = Send(kSegment, batch);

  ASSERT_TRUE(IsIngestAnswer(r, 2, 0, {1}));
  EXPECT_EQ(AllEventIds(), (std::vector<std::string>{"id-0", "id-2"}));
  HttpResponse c = Lookup("user_id", "u-1");
  EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"pro\"");
  EXPECT_EQ(JsonAt(c.json, "/anonymous_ids"), "[\"anon-1\"]");
  std::multiset<std::string> logged;
  for (const auto& e : IngestionErrors()) {
    logged.insert(JsonAt(e, "/index") + " " + Str(e, "kind"));
  }
  EXPECT_EQ(logged, (std::multiset<std::string>{"0 attribute_dropped", "1 rejected"}));
}

TEST_F(IngestIdentityTest, DuplicatesAcrossRequestsAndInsideOneBatch) {
  json::object first =
      Msg("identify",
          {{"userId", "u-1"}, {"messageId", "m-1"}, {"traits", json::object{{"plan", "first"}}}});
  json::object same_id_other_body =
      Msg("identify",
          {{"userId", "u-1"}, {"messageId", "m-1"}, {"traits", json::object{{"plan", "second"}}}});
  json::object track = Msg("track", {{"userId", "u-1"}, {"messageId", "m-2"}, {"event", "E"}});

  ASSERT_TRUE(
      (IsIngestAnswer(Send(kSegment, json::array{first, track, same_id_other_body}), 2, 1)));
  ASSERT_TRUE((IsIngestAnswer(Send(kSegment, json::array{track, first}), 0, 2)));
  ASSERT_TRUE(
      (IsIngestAnswer(Send("/v1/batch", json::object{{"batch", json::array{track}}}), 0, 1)));
  // The same id through another source of the same project is the same message.
  ASSERT_TRUE(IsIngestAnswer(Send("/ingest/v1/rudderstack/event", track), 0, 1));

  EXPECT_EQ(AllEventIds(), (std::vector<std::string>{"m-1", "m-2"}));
  EXPECT_EQ(JsonAt(Lookup("user_id", "u-1").json, "/attributes/plan"), "\"first\"");
}

TEST_F(IngestIdentityTest, AnonymousVisitorWhoIdentifiesKeepsEveryEventOnce) {
  json::array before{
      Msg("page", {{"anonymousId", "anon-1"}, {"messageId", "e-1"}, {"name", "Pricing"}}),
      Msg("track", {{"anonymousId", "anon-1"}, {"messageId", "e-2"}, {"event", "Trial Started"}})};
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, before), 2, 0));
  std::string anon_usid = UsidOf("anonymous_id", "anon-1");
  EXPECT_EQ(Str(Lookup("anonymous_id", "anon-1").json, "contact_type"), "unidentified");

  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment, Msg("identify", {{"anonymousId", "anon-1"},
                                      {"userId", "u-1"},
                                      {"messageId", "e-3"},
                                      {"traits", json::object{{"email", "u1@example.com"}}}})),
      1, 0)));
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment, Msg("track", {{"userId", "u-1"}, {"messageId", "e-4"}, {"event", "Paid"}})), 1,
      0)));
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, before), 0, 2)) << "a retry adds nothing";

  HttpResponse c = Lookup("user_id", "u-1");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "usid"), anon_usid) << "the anonymous profile became the user's";
  EXPECT_EQ(Str(c.json, "contact_type"), "user");
  EXPECT_EQ(Str(c.json, "email"), "u1@example.com");
  EXPECT_EQ(UsidOf("anonymous_id", "anon-1"), anon_usid);
  EXPECT_EQ(EventIds(anon_usid), (std::vector<std::string>{"e-1", "e-2", "e-3", "e-4"}));
  EXPECT_EQ(AllEventIds(), (std::vector<std::string>{"e-1", "e-2", "e-3", "e-4"}));
  EXPECT_EQ(DataOf(http_->Get("/api/v1/customers", key())).size(), 1u);
}

TEST_F(IngestIdentityTest, IdentifyLinkingAKnownUserAndAnAnonymousProfileMergesThem) {
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           json::array{
               Msg("track", {{"userId", "u-1"}, {"messageId", "k-1"}, {"event", "Login"}}),
               Msg("track", {{"anonymousId", "anon-2"}, {"messageId", "a-1"}, {"event", "Visit"}}),
               Msg("identify", {{"anonymousId", "anon-2"},
                                {"messageId", "a-2"},
                                {"traits", json::object{{"plan", "trial"}}}})}),
      3, 0)));
  std::string known = UsidOf("user_id", "u-1");
  std::string anonymous = UsidOf("anonymous_id", "anon-2");
  ASSERT_NE(known, anonymous);

  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment, Msg("identify",
                         {{"userId", "u-1"}, {"anonymousId", "anon-2"}, {"messageId", "link-1"}})),
      1, 0)));

  EXPECT_EQ(UsidOf("anonymous_id", "anon-2"), known);
  EXPECT_EQ(EventIds(known), (std::vector<std::string>{"a-1", "a-2", "k-1", "link-1"}));
  EXPECT_EQ(AllEventIds().size(), 4u);
  HttpResponse c = Lookup("user_id", "u-1");
  EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"trial\"") << "attributes move with the merge";
  HttpResponse merged_away = http_->Get("/api/v1/customers/" + anonymous, key());
  ASSERT_TRUE(HasStatus(merged_away, 200));
  EXPECT_EQ(Str(merged_away.json, "usid"), known) << "a merged-away usid answers the survivor";
  EXPECT_EQ(DataOf(http_->Get("/api/v1/customers", key())).size(), 1u);
}

TEST_F(IngestIdentityTest, IdentifyLinkingAUserAndAnEmailLeadMergesThem) {
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           json::array{Msg("track", {{"userId", "u-1"}, {"messageId", "k-1"}, {"event", "Login"}}),
                       Msg("identify", {{"messageId", "l-1"},
                                        {"traits", json::object{{"email", "Lead@Example.com"},
                                                                {"source", "webinar"}}}})}),
      2, 0)));
  std::string user = UsidOf("user_id", "u-1");
  std::string lead = UsidOf("email", "lead@example.com");
  ASSERT_NE(user, lead);
  EXPECT_EQ(Str(Lookup("email", "lead@example.com").json, "contact_type"), "lead");
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/customers/" + lead + "/tags",
                                    json::object{{"tags", json::array{"VIP"}}}, key()),
                        200));

  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment, Msg("identify", {{"userId", "u-1"},
                                      {"messageId", "link-1"},
                                      {"traits", json::object{{"email", "lead@example.com"}}}})),
      1, 0)));

  HttpResponse c = Lookup("user_id", "u-1");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "usid"), user);
  EXPECT_EQ(Str(c.json, "email"), "lead@example.com");
  EXPECT_EQ(UsidOf("email", "lead@example.com"), user);
  EXPECT_EQ(Strings(c.json, "tags"), std::vector<std::string>{"VIP"});
  EXPECT_EQ(JsonAt(c.json, "/attributes/source"), "\"webinar\"");
  EXPECT_EQ(EventIds(user), (std::vector<std::string>{"k-1", "l-1", "link-1"}));
  EXPECT_EQ(DataOf(http_->Get("/api/v1/customers", key())).size(), 1u);
}

TEST_F(IngestIdentityTest, IdentifyNamingAnEmailOfAnotherKnownUserDoesNotMerge) {
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           json::array{Msg("identify", {{"userId", "u-1"},
                                        {"traits", json::object{{"email", "one@example.com"}}}}),
                       Msg("identify", {{"userId", "u-2"},
                                        {"messageId", "m-2"},
                                        {"traits", json::object{{"email", "one@example.com"},
                                                                {"plan", "x"}}}})}),
      2, 0)));

  EXPECT_NE(UsidOf("user_id", "u-1"), UsidOf("user_id", "u-2"));
  EXPECT_EQ(UsidOf("email", "one@example.com"), UsidOf("user_id", "u-1"));
  EXPECT_EQ(JsonAt(Lookup("user_id", "u-2").json, "/attributes/plan"), "\"x\"");
  auto errors = IngestionErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(Str(errors[0], "kind"), "identifier_dropped");
  EXPECT_EQ(Str(errors[0], "message_id"), "m-2");
}

TEST_F(IngestIdentityTest, AliasMergesTwoKnownProfiles) {
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           json::array{
               Msg("identify", {{"userId", "old-id"},
                                {"messageId", "o-1"},
                                {"traits", json::object{{"plan", "legacy"}}}}),
               Msg("track", {{"userId", "old-id"}, {"messageId", "o-2"}, {"event", "Used"}}),
               Msg("track", {{"userId", "new-id"}, {"messageId", "n-1"}, {"event", "Used"}})}),
      3, 0)));
  std::string from = UsidOf("user_id", "old-id");
  std::string to = UsidOf("user_id", "new-id");
  ASSERT_NE(from, to);

  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           Msg("alias", {{"userId", "new-id"}, {"previousId", "old-id"}, {"messageId", "al-1"}})),
      1, 0)));

  HttpResponse c = Lookup("user_id", "new-id");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "usid"), to) << "the alias target survives";
  EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"legacy\"");
  EXPECT_EQ(EventIds(to), (std::vector<std::string>{"al-1", "n-1", "o-1", "o-2"}));
  EXPECT_EQ(Str(http_->Get("/api/v1/customers/" + from, key()).json, "usid"), to);
  EXPECT_EQ(DataOf(http_->Get("/api/v1/customers", key())).size(), 1u);
  auto events = EventsOf(to);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(Str(events[0], "type"), "alias");
  EXPECT_EQ(JsonAt(events[0], "/properties/previous_id"), "\"old-id\"");
}

TEST_F(IngestIdentityTest, AliasOfAnAnonymousIdMergesTheVisitorIntoTheUser) {
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           json::array{
               Msg("page", {{"anonymousId", "anon-9"}, {"messageId", "p-1"}, {"name", "Home"}}),
               Msg("track", {{"userId", "u-9"}, {"messageId", "t-1"}, {"event", "Login"}})}),
      2, 0)));
  std::string user = UsidOf("user_id", "u-9");

  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           json::array{
               Msg("alias", {{"userId", "u-9"}, {"previousId", "anon-9"}, {"messageId", "al-1"}}),
               // Neither side known yet: the alias creates the user with the old id attached.
               Msg("alias", {{"userId", "u-10"}, {"previousId", "anon-10"}})}),
      2, 0)));
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           Msg("track", {{"anonymousId", "anon-10"}, {"messageId", "t-2"}, {"event", "Back"}})),
      1, 0)));

  EXPECT_EQ(UsidOf("anonymous_id", "anon-9"), user);
  EXPECT_EQ(EventIds(user), (std::vector<std::string>{"al-1", "p-1", "t-1"}));
  std::string ten = UsidOf("user_id", "u-10");
  EXPECT_EQ(UsidOf("anonymous_id", "anon-10"), ten);
  auto ten_events = EventsOf(ten);
  ASSERT_EQ(ten_events.size(), 2u);
  EXPECT_EQ(Str(ten_events[0], "id"), "t-2");
}

TEST_F(IngestIdentityTest, BatchWithSomeBadItemsAppliesTheRest) {
  json::array batch{
      Msg("track", {{"userId", "u-ok"}, {"messageId", "ok-1"}, {"event", "Good"}}),  // 0
      Msg("track", {{"userId", "u-ok"}, {"messageId", "bad-1"}}),                    // 1: no event
      "not an object",                                                               // 2
      Msg("identify", {{"messageId", "bad-3"}, {"traits", json::object{{"plan", "x"}}}}),  // 3
      Msg("purchase", {{"userId", "u-ok"}, {"messageId", "bad-4"}}),                       // 4
      Msg("identify", {{"userId", "u-ok"},
                       {"messageId", "ok-2"},
                       {"traits", json::object{{"plan", "pro"}}}}),           // 5
      Msg("group", {{"userId", "u-ok"}, {"messageId", "bad-6"}}),             // 6
      Msg("alias", {{"userId", "u-ok"}, {"messageId", "bad-7"}}),             // 7
      Msg("identify", {{"userId", "u-ok"}, {"traits", "not an object"}}),     // 8
      Msg("track", {{"userId", "u-ok"}, {"event", std::string(300, 'e')}})};  // 9
  const std::vector<int> bad{1, 2, 3, 4, 6, 7, 8, 9};

  HttpResponse r = Send(kSegment, batch);

  ASSERT_TRUE(IsIngestAnswer(r, 2, 0, bad));
  EXPECT_EQ(AllEventIds(), (std::vector<std::string>{"ok-1", "ok-2"}));
  EXPECT_EQ(JsonAt(Lookup("user_id", "u-ok").json, "/attributes/plan"), "\"pro\"");
  std::set<std::string> logged;
  for (const auto& e : IngestionErrors()) {
    EXPECT_EQ(Str(e, "kind"), "rejected");
    logged.insert(JsonAt(e, "/index"));
  }
  std::set<std::string> expected;
  for (int i : bad) {
    expected.insert(std::to_string(i));
  }
  EXPECT_EQ(logged, expected);
  // A rejected message was not recorded, so sending it fixed is applied.
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment,
           Msg("track", {{"userId", "u-ok"}, {"messageId", "bad-1"}, {"event", "Fixed"}})),
      1, 0)));
}

}  // namespace
}  // namespace xoal::testing
