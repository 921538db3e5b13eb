// Membership changes the moment the data that changes it is applied (SPEC "Segments"): through
// ingestion, the Customer and Company APIs, merges, deletions, and segments that read segments.
// Every check reads right after the write's answer: no wait, because the change commits with it.
#include "integration/segments_fixture.hpp"

namespace xoal::testing {
namespace {

json::value J(std::string_view text) { return ParseJsonOrFail(text); }

class SegmentsMembershipTest : public SegmentsTest {
 protected:
  std::string UsidOf(std::string_view key_name, std::string_view value) {
    HttpResponse r = http_->Get(
        "/api/v1/customers/lookup?" + std::string(key_name) + "=" + UrlEncode(value), key());
    EXPECT_TRUE(HasStatus(r, 200));
    return Str(r.json, "usid");
  }
};

TEST_F(SegmentsMembershipTest, IngestedIdentifyAndTrackMoveMembersAtOnce) {
  std::string pro = ReadyDynamic("pro", J(R"({"attribute": "plan", "op": "eq", "value": "pro"})"));
  std::string buyers = ReadyDynamic("buyers", J(R"({"event": "purchase",
      "where": [{"property": "amount", "op": "gt", "value": 50}],
      "count": {"op": "gte", "value": 2}})"));

  IngestSegment(J(R"({"type": "identify", "userId": "u-1", "messageId": "m-1",
                      "traits": {"plan": "pro"}})"));
  std::string usid = UsidOf("user_id", "u-1");

  EXPECT_EQ(SegmentsOf(usid), std::vector<std::string>{pro});
  IngestSegment(J(R"({"type": "track", "userId": "u-1", "messageId": "m-2", "event": "purchase",
                      "properties": {"amount": 80}})"));
  EXPECT_FALSE(IsMember(buyers, usid)) << "one purchase is not two";
  IngestSegment(J(R"({"type": "track", "userId": "u-1", "messageId": "m-3", "event": "purchase",
                      "properties": {"amount": 20}})"));
  EXPECT_FALSE(IsMember(buyers, usid)) << "the second purchase is too small";
  IngestSegment(J(R"({"type": "track", "userId": "u-1", "messageId": "m-2", "event": "purchase",
                      "properties": {"amount": 80}})"));
  EXPECT_FALSE(IsMember(buyers, usid)) << "a duplicate messageId counts once";
  IngestSegment(J(R"({"type": "track", "userId": "u-1", "messageId": "m-4", "event": "purchase",
                      "properties": {"amount": 51}})"));
  EXPECT_TRUE(IsMember(buyers, usid));
  IngestSegment(J(R"({"type": "identify", "userId": "u-1", "messageId": "m-5",
                      "traits": {"plan": "free"}})"));
  EXPECT_EQ(SegmentsOf(usid), std::vector<std::string>{buyers});
}

TEST_F(SegmentsMembershipTest, AttributeWritesMoveMembersAtOnce) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}, {"attributes", {{"score", 3}}}});
  std::string high = ReadyDynamic("high", J(R"({"attribute": "score", "op": "gte", "value": 10})"));
  std::string leads = ReadyDynamic("leads", J(R"({"attribute": "contact_type", "op": "eq",
                                                  "value": "lead"})"));
  ASSERT_TRUE(Members(high).empty());

  PutAttributes(usid, {{"score", 12}});
  EXPECT_EQ(Members(high), std::vector<std::string>{usid});
  ASSERT_TRUE(HasStatus(http_->Put("/api/v1/customers/" + usid + "/attributes/score",
                                   json::object{{"value", "9"}}, key()),
                        200));
  EXPECT_TRUE(Members(high).empty());
  PutAttributes(usid, {{"score", 10}});
  EXPECT_TRUE(IsMember(high, usid));
  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + usid + "/attributes/score", key()),
                        200));
  EXPECT_FALSE(IsMember(high, usid));

  std::string lead = CreateCustomer({{"email", "lead@example.com"}});
  EXPECT_EQ(Members(leads), std::vector<std::string>{lead}) << "a new profile is evaluated";
  ASSERT_TRUE(HasStatus(http_->Patch("/api/v1/customers/" + lead,
                                     json::object{{"user_id", "u-lead"}}, key()),
                        200));
  EXPECT_TRUE(Members(leads).empty()) << "contact_type follows user_id";
}

TEST_F(SegmentsMembershipTest, TagsMoveMembersAtOnce) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}});
  std::string vip = ReadyDynamic("vip", J(R"({"tag": "VIP"})"));
  std::string not_vip = ReadyDynamic("not vip", J(R"({"not": {"tag": "VIP"}})"));
  ASSERT_EQ(SegmentsOf(usid), std::vector<std::string>{not_vip});

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/customers/" + usid + "/tags",
                                    json::object{{"tags", json::array{"VIP"}}}, key()),
                        200));
  EXPECT_EQ(SegmentsOf(usid), std::vector<std::string>{vip});
  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + usid + "/tags/VIP", key()), 200));
  EXPECT_EQ(SegmentsOf(usid), std::vector<std::string>{not_vip});
}

TEST_F(SegmentsMembershipTest, CompanyMembershipAndCompanyAttributesMoveMembersAtOnce) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}});
  std::string other = CreateCustomer({{"user_id", "u-2"}});
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/companies",
                                    J(R"({"id": "acme", "attributes": {"tier": "paid"}})"), key()),
                        201));
  std::string at_acme = ReadyDynamic("at acme", J(R"({"company": "acme"})"));
  std::string paid = ReadyDynamic("paid", J(R"({"company": {"attribute": "tier", "op": "eq",
                                                 "value": "paid"}})"));
  std::string not_free = ReadyDynamic("not free", J(R"({"all": [{"company": "acme"},
      {"not": {"company": {"attribute": "tier", "op": "eq", "value": "free"}}}]})"));

  ASSERT_TRUE(HasStatus(
      http_->Put("/api/v1/companies/acme/members/" + usid, json::object{}, key()), 200));
  ASSERT_TRUE(HasStatus(
      http_->Put("/api/v1/companies/acme/members/" + other, json::object{}, key()), 200));
  EXPECT_EQ(SegmentsOf(usid).size(), 3u);
  EXPECT_EQ(Members(paid).size(), 2u);
  ASSERT_TRUE(HasStatus(http_->Patch("/api/v1/companies/acme",
                                     J(R"({"attributes": {"tier": "free"}})"), key()),
                        200));
  EXPECT_TRUE(Members(paid).empty()) << "a company attribute change moves every member";
  EXPECT_TRUE(Members(not_free).empty());
  EXPECT_EQ(Members(at_acme).size(), 2u);
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/companies",
                                    J(R"({"id": "acme", "attributes": {"tier": "paid"}})"), key()),
                        200));
  EXPECT_EQ(Members(paid).size(), 2u);
  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/companies/acme/members/" + usid, key()), 200));
  EXPECT_TRUE(SegmentsOf(usid).empty());
  EXPECT_EQ(SegmentsOf(other).size(), 3u);
  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/companies/acme", key()), 200));
  EXPECT_TRUE(SegmentsOf(other).empty()) << "deleting the company ends its memberships";
}

// An anonymous visitor's purchase counts for the known user once an identify links the two, and
// the merged-away profile's memberships end with a recorded exit.
TEST_F(SegmentsMembershipTest, MergeOfAnonymousIntoKnownProfileMovesMemberships) {
  std::string buyers = ReadyDynamic("buyers", J(R"({"event": "purchase"})"));
  std::string vip = CreateManual("vip");
  std::string vip_buyers = ReadyDynamic("vip buyers", J(R"({"all": [{"segment": ")" + buyers +
                                                          R"("}, {"segment": ")" + vip +
                                                          R"("}]})"));
  IngestSegment(J(R"({"type": "identify", "userId": "u-1", "messageId": "m-1",
                      "traits": {"email": "ada@example.com"}})"));
  IngestSegment(J(R"({"type": "track", "anonymousId": "anon-1", "messageId": "m-2",
                      "event": "purchase"})"));
  std::string known = UsidOf("user_id", "u-1");
  std::string anonymous = UsidOf("anonymous_id", "anon-1");
  ASSERT_NE(known, anonymous);
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/segments/" + vip + "/customers",
                                    json::object{{"usids", json::array{anonymous}}}, key()),
                        200));
  ASSERT_EQ(SegmentsOf(anonymous).size(), 3u);
  ASSERT_TRUE(SegmentsOf(known).empty());

  IngestSegment(J(R"({"type": "identify", "userId": "u-1", "anonymousId": "anon-1",
                      "messageId": "m-3"})"));

  ASSERT_EQ(UsidOf("anonymous_id", "anon-1"), known);
  EXPECT_EQ(Members(buyers), std::vector<std::string>{known});
  EXPECT_EQ(Members(vip), std::vector<std::string>{known}) << "manual memberships move too";
  EXPECT_EQ(Members(vip_buyers), std::vector<std::string>{known});
  for (const auto& id : {buyers, vip, vip_buyers}) {
    EXPECT_TRUE(LastChange(id, anonymous, "exited").has_value()) << id;
    EXPECT_TRUE(LastChange(id, known, "entered").has_value()) << id;
  }
}

TEST_F(SegmentsMembershipTest, MergeThroughTheApiReevaluatesTheSurvivor) {
  std::string both = ReadyDynamic("both", J(R"({"all": [{"tag": "a"}, {"tag": "b"}]})"));
  std::string primary = CreateCustomer({{"user_id", "u-1"}, {"tags", json::array{"a"}}});
  std::string secondary = CreateCustomer({{"user_id", "u-2"}, {"tags", json::array{"b"}}});
  ASSERT_TRUE(Members(both).empty());

  HttpResponse merged = http_->Post(
      "/api/v1/customers/merge", J(R"({"primary": {"user_id": "u-1"},
                                       "secondary": {"user_id": "u-2"}})"), key());

  ASSERT_TRUE(HasStatus(merged, 200));
  EXPECT_EQ(Members(both), std::vector<std::string>{primary});
  EXPECT_NE(primary, secondary);
}

TEST_F(SegmentsMembershipTest, DeletedCustomerLeavesEverySegmentWithARecordedExit) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}, {"tags", json::array{"VIP"}}});
  std::string vip = ReadyDynamic("vip", J(R"({"tag": "VIP"})"));
  std::string manual = CreateManual("manual");
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/segments/" + manual + "/customers",
                                    json::object{{"usids", json::array{usid}}}, key()),
                        200));

  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + usid, key()), 200));

  for (const auto& id : {vip, manual}) {
    EXPECT_TRUE(Members(id).empty()) << id;
    EXPECT_EQ(JsonAt(http_->Get("/api/v1/segments/" + id + "/count", key()).json, "/count"), "0");
    EXPECT_TRUE(LastChange(id, usid, "exited").has_value()) << id;
  }
}

// A segment that reads other segments (dynamic or manual, under all/any/not) follows them in
// the same write, however deep.
TEST_F(SegmentsMembershipTest, SegmentsOfSegmentsFollowAtOnce) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}});
  std::string vip = ReadyDynamic("vip", J(R"({"tag": "VIP"})"));
  std::string picked = CreateManual("picked");
  std::string either = ReadyDynamic(
      "either", json::object{{"any", json::array{{{"segment", vip}}, {{"segment", picked}}}}});
  std::string neither = ReadyDynamic("neither", json::object{{"not", {{"segment", either}}}});
  ASSERT_EQ(SegmentsOf(usid), std::vector<std::string>{neither});

  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/customers/" + usid + "/tags",
                                    json::object{{"tags", json::array{"VIP"}}}, key()),
                        200));
  EXPECT_TRUE(IsMember(either, usid));
  EXPECT_FALSE(IsMember(neither, usid));
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/segments/" + picked + "/customers",
                                    json::object{{"usids", json::array{usid}}}, key()),
                        200));
  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + usid + "/tags/VIP", key()), 200));
  EXPECT_TRUE(IsMember(either, usid)) << "still picked by hand";
  ASSERT_TRUE(
      HasStatus(http_->Delete("/api/v1/segments/" + picked + "/customers/" + usid, key()), 200));
  EXPECT_FALSE(IsMember(either, usid));
  EXPECT_TRUE(IsMember(neither, usid));
}

}  // namespace
}  // namespace xoal::testing
