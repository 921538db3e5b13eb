// The Segment API (SPEC "Segments", "Management API", shape "Segments"): every endpoint, its
// success answer and its error answers, over a real `xoal serve --test-clock`.
#include <algorithm>
#include <thread>

#include "integration/segments_fixture.hpp"

namespace xoal::testing {
namespace {

json::value J(std::string_view text) { return ParseJsonOrFail(text); }

json::object PlanIs(std::string_view plan) {
  return json::object{{"attribute", "plan"}, {"op", "eq"}, {"value", plan}};
}

class SegmentsApiTest : public SegmentsTest {
 protected:
  void SetUp() override {
    SegmentsTest::SetUp();
    if (HasFatalFailure()) return;
    pro_ = CreateCustomer({{"user_id", "u-pro"}, {"email", "pro@example.com"},
                           {"attributes", json::object{{"plan", "pro"}}}});
    free_ = CreateCustomer({{"user_id", "u-free"}, {"email", "free@example.com"},
                            {"attributes", json::object{{"plan", "free"}}}});
    ASSERT_FALSE(pro_.empty());
    ASSERT_FALSE(free_.empty());
  }

  std::string pro_;
  std::string free_;
};

TEST_F(SegmentsApiTest, CreatesDynamicSegmentThatBecomesReadyWithItsMembers) {
  HttpResponse r = http_->Post(
      "/api/v1/segments",
      json::object{{"name", "Pro users"}, {"type", "dynamic"}, {"conditions", PlanIs("pro")}},
      key());

  ASSERT_TRUE(HasStatus(r, 201));
  std::string id = Str(r.json, "id");
  EXPECT_TRUE(id.starts_with("seg_")) << r.body;
  EXPECT_EQ(Str(r.json, "name"), "Pro users");
  EXPECT_EQ(Str(r.json, "type"), "dynamic");
  EXPECT_EQ(JsonAt(r.json, "/conditions"), json::serialize(PlanIs("pro")));
  std::string status = Str(r.json, "status");
  EXPECT_TRUE(status == "computing" || status == "ready") << r.body;
  ASSERT_TRUE(WaitReady(id));
  HttpResponse got = http_->Get("/api/v1/segments/" + id, key());
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(JsonAt(got.json, "/size"), "1");
  EXPECT_EQ(Members(id), std::vector<std::string>{pro_});
}

TEST_F(SegmentsApiTest, CreatesManualSegmentReadyAndEmpty) {
  HttpResponse r =
      http_->Post("/api/v1/segments", json::object{{"name", "Beta testers"}, {"type", "manual"}},
                  key());

  ASSERT_TRUE(HasStatus(r, 201));
  EXPECT_EQ(Str(r.json, "type"), "manual");
  EXPECT_EQ(Str(r.json, "status"), "ready");
  EXPECT_EQ(JsonAt(r.json, "/size"), "0");
  EXPECT_TRUE(IsNullMember(r.json, "conditions")) << r.body;
}

TEST_F(SegmentsApiTest, RejectsBadCreateBodiesNamingTheField) {
  auto post = [&](const json::value& body) { return http_->Post("/api/v1/segments", body, key()); };

  EXPECT_TRUE(IsError(http_->SendRaw("POST", "/api/v1/segments", "{\"name\": ", "application/json",
                                     key()),
                      400, "malformed"));
  EXPECT_TRUE(IsError(post(json::array{1}), 400, "malformed"));
  EXPECT_TRUE(IsError(http_->SendRaw("POST", "/api/v1/segments", "{}", "text/plain", key()), 415,
                      "unsupported_media_type"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "x", "type": "manual", "colour": "red"})")), 422,
                      "invalid", "colour"));
  EXPECT_TRUE(IsError(post(J(R"({"type": "manual"})")), 422, "invalid", "name"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "", "type": "manual"})")), 422, "invalid", "name"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "x", "type": "static"})")), 422, "invalid", "type"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "x", "type": "dynamic"})")), 422, "invalid",
                      "conditions"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "x", "type": "manual", "conditions": {"tag": "a"}})")),
                      422, "invalid", "conditions"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "x", "type": "dynamic", "conditions":
      {"all": [{"tag": "a"}, {"attribute": "plan", "op": "resembles", "value": 1}]}})")),
                      422, "invalid", "conditions.all[1].op"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "x", "conditions":
      {"event": "e", "count": {"op": "gte", "value": -1}}})")),
                      422, "invalid", "conditions.count.value"));
  EXPECT_TRUE(IsError(post(J(R"({"name": "x", "conditions": {"segment": "seg_nope"}})")), 422,
                      "invalid", "conditions"));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/segments", key())).empty());
}

TEST_F(SegmentsApiTest, ListsSegmentsOldestFirstInPages) {
  std::string a = CreateManual("a");
  std::string b = CreateManual("b");
  std::string c = ReadyDynamic("c", PlanIs("pro"));

  HttpResponse first = http_->Get("/api/v1/segments?limit=2", key());
  ASSERT_TRUE(HasStatus(first, 200));
  EXPECT_EQ(Column(first, "id"), (std::vector<std::string>{a, b}));
  std::string cursor = Str(first.json, "next_cursor");
  HttpResponse second =
      http_->Get("/api/v1/segments?limit=2&cursor=" + UrlEncode(cursor), key());

  ASSERT_TRUE(HasStatus(second, 200));
  EXPECT_EQ(Column(second, "id"), std::vector<std::string>{c});
  EXPECT_TRUE(IsNullMember(second.json, "next_cursor")) << second.body;
  EXPECT_EQ(JsonAt(DataOf(second)[0], "/size"), "1");
  EXPECT_TRUE(IsError(http_->Get("/api/v1/segments?limit=0", key()), 422, "invalid", "limit"));
  EXPECT_TRUE(
      IsError(http_->Get("/api/v1/segments?cursor=bogus", key()), 422, "invalid", "cursor"));
}

TEST_F(SegmentsApiTest, GetUnknownSegmentIs404OnEveryEndpoint) {
  const std::string base = "/api/v1/segments/seg_nope";

  EXPECT_TRUE(IsError(http_->Get(base, key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Patch(base, json::object{{"name", "x"}}, key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base, key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get(base + "/customers", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get(base + "/count", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get(base + "/history", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Post(base + "/customers", json::object{{"usids", json::array{pro_}}},
                                  key()),
                      404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base + "/customers/" + pro_, key()), 404, "not_found"));
}

TEST_F(SegmentsApiTest, PatchRenamesWithoutRecomputing) {
  std::string id = ReadyDynamic("Pro", PlanIs("pro"));

  HttpResponse r = http_->Patch("/api/v1/segments/" + id, json::object{{"name", "Paying"}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "name"), "Paying");
  EXPECT_EQ(Str(r.json, "status"), "ready");
  EXPECT_EQ(JsonAt(r.json, "/size"), "1");
  EXPECT_EQ(Str(http_->Get("/api/v1/segments/" + id, key()).json, "name"), "Paying");
}

// Editing conditions recomputes from scratch: status goes to computing, then ready, and the
// members and history follow the new conditions.
TEST_F(SegmentsApiTest, PatchConditionsRecomputesMembership) {
  std::string id = ReadyDynamic("Pro", PlanIs("pro"));
  ASSERT_EQ(Members(id), std::vector<std::string>{pro_});

  HttpResponse r =
      http_->Patch("/api/v1/segments/" + id, json::object{{"conditions", PlanIs("free")}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  std::string status = Str(r.json, "status");
  EXPECT_TRUE(status == "computing" || status == "ready") << r.body;
  EXPECT_EQ(JsonAt(r.json, "/conditions"), json::serialize(PlanIs("free")));
  ASSERT_TRUE(WaitReady(id));
  EXPECT_EQ(Members(id), std::vector<std::string>{free_});
  EXPECT_TRUE(LastChange(id, pro_, "exited").has_value());
  EXPECT_TRUE(LastChange(id, free_, "entered").has_value());
}

TEST_F(SegmentsApiTest, PatchRejectsBadBodies) {
  std::string dyn = ReadyDynamic("Pro", PlanIs("pro"));
  std::string manual = CreateManual("Hand-picked");
  auto patch = [&](const std::string& id, std::string_view body) {
    return http_->Patch("/api/v1/segments/" + id, J(body), key());
  };

  EXPECT_TRUE(IsError(http_->SendRaw("PATCH", "/api/v1/segments/" + dyn, "{oops",
                                     "application/json", key()),
                      400, "malformed"));
  EXPECT_TRUE(IsError(patch(dyn, R"({"size": 3})"), 422, "invalid", "size"));
  EXPECT_TRUE(IsError(patch(dyn, R"({"type": "manual"})"), 422, "invalid", "type"));
  EXPECT_TRUE(IsError(patch(manual, R"({"type": "dynamic"})"), 422, "invalid", "type"));
  EXPECT_TRUE(IsError(patch(manual, R"({"conditions": {"tag": "a"}})"), 422, "invalid",
                      "conditions"));
  EXPECT_TRUE(IsError(patch(dyn, R"({"conditions": {"any": [{"tag": ""}]}})"), 422, "invalid",
                      "conditions.any[0].tag"));
  EXPECT_TRUE(IsError(patch(dyn, R"({"name": 7})"), 422, "invalid", "name"));
  HttpResponse unchanged = http_->Get("/api/v1/segments/" + dyn, key());
  EXPECT_EQ(Str(unchanged.json, "name"), "Pro");
  EXPECT_EQ(JsonAt(unchanged.json, "/conditions"), json::serialize(PlanIs("pro")));
}

// Segments may read segments, but never in a cycle (422), and a segment another reads cannot be
// deleted (409) until that one stops reading it.
TEST_F(SegmentsApiTest, RejectsCyclesAndDeletesOfSegmentsOthersRead) {
  std::string inner = ReadyDynamic("inner", PlanIs("pro"));
  std::string outer = ReadyDynamic("outer", json::object{{"segment", inner}});
  std::string outermost = ReadyDynamic("outermost", json::object{{"segment", outer}});

  EXPECT_TRUE(IsError(http_->Patch("/api/v1/segments/" + inner,
                                   json::object{{"conditions", {{"segment", outermost}}}}, key()),
                      422, "invalid", "conditions"));
  EXPECT_TRUE(IsError(http_->Patch("/api/v1/segments/" + inner,
                                   json::object{{"conditions", {{"segment", inner}}}}, key()),
                      422, "invalid", "conditions"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/segments/" + inner, key()), 409, "conflict"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/segments/" + outer, key()), 409, "conflict"));
  EXPECT_EQ(Members(outermost), std::vector<std::string>{pro_});

  HttpResponse deleted = http_->Delete("/api/v1/segments/" + outermost, key());

  ASSERT_TRUE(HasStatus(deleted, 200));
  EXPECT_EQ(JsonAt(deleted.json, "/deleted"), "true");
  EXPECT_TRUE(IsError(http_->Get("/api/v1/segments/" + outermost, key()), 404, "not_found"));
  EXPECT_TRUE(HasStatus(http_->Delete("/api/v1/segments/" + outer, key()), 200));
  EXPECT_TRUE(HasStatus(http_->Delete("/api/v1/segments/" + inner, key()), 200));
  EXPECT_TRUE(SegmentsOf(pro_).empty());
}

TEST_F(SegmentsApiTest, MembersCountAndHistory) {
  std::string third = CreateCustomer({{"user_id", "u-pro2"}, {"attributes", {{"plan", "pro"}}}});
  std::string id = ReadyDynamic("Pro", PlanIs("pro"));

  HttpResponse count = http_->Get("/api/v1/segments/" + id + "/count", key());
  ASSERT_TRUE(HasStatus(count, 200));
  EXPECT_EQ(JsonAt(count.json, "/count"), "2");
  EXPECT_EQ(Str(count.json, "status"), "ready");
  HttpResponse page1 = http_->Get("/api/v1/segments/" + id + "/customers?limit=1", key());
  ASSERT_TRUE(HasStatus(page1, 200));
  ASSERT_EQ(DataOf(page1).size(), 1u);
  EXPECT_TRUE(EpochMsOf(Str(DataOf(page1)[0], "entered_at")).has_value()) << page1.body;
  EXPECT_FALSE(Str(DataOf(page1)[0], "user_id").empty());
  HttpResponse page2 = http_->Get("/api/v1/segments/" + id + "/customers?limit=1&cursor=" +
                                      UrlEncode(Str(page1.json, "next_cursor")),
                                  key());
  ASSERT_TRUE(HasStatus(page2, 200));
  ASSERT_EQ(DataOf(page2).size(), 1u);
  EXPECT_NE(Str(DataOf(page1)[0], "usid"), Str(DataOf(page2)[0], "usid"));
  std::vector<std::string> both{pro_, third};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(Members(id), both);

  PutAttributes(pro_, {{"plan", "free"}});

  HttpResponse history = http_->Get("/api/v1/segments/" + id + "/history?limit=2", key());
  ASSERT_TRUE(HasStatus(history, 200));
  ASSERT_EQ(DataOf(history).size(), 2u) << history.body;
  EXPECT_EQ(Str(DataOf(history)[0], "usid"), pro_);  // newest first
  EXPECT_EQ(Str(DataOf(history)[0], "change"), "exited");
  EXPECT_TRUE(EpochMsOf(Str(DataOf(history)[0], "at")).has_value());
  HttpResponse older = http_->Get("/api/v1/segments/" + id + "/history?limit=2&cursor=" +
                                      UrlEncode(Str(history.json, "next_cursor")),
                                  key());
  ASSERT_TRUE(HasStatus(older, 200));
  ASSERT_EQ(DataOf(older).size(), 1u) << older.body;
  EXPECT_EQ(Str(DataOf(older)[0], "change"), "entered");
  EXPECT_EQ(JsonAt(http_->Get("/api/v1/segments/" + id + "/count", key()).json, "/count"), "1");
  EXPECT_TRUE(IsError(http_->Get("/api/v1/segments/" + id + "/customers?limit=5000", key()), 422,
                      "invalid", "limit"));
}

TEST_F(SegmentsApiTest, PreviewGivesSizeAndSampleWithoutSaving) {
  CreateCustomer({{"user_id", "u-pro2"}, {"attributes", {{"plan", "pro"}}}});

  HttpResponse r = http_->Post("/api/v1/segments/preview",
                               json::object{{"conditions", PlanIs("pro")}, {"sample", 1}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/size"), "2");
  ASSERT_TRUE(r.json.as_object().at("sample").is_array());
  ASSERT_EQ(r.json.as_object().at("sample").as_array().size(), 1u);
  EXPECT_EQ(JsonAt(r.json, "/sample/0/attributes/plan"), "\"pro\"");
  HttpResponse all = http_->Post("/api/v1/segments/preview",
                                 json::object{{"conditions", {{"not", PlanIs("pro")}}}}, key());
  ASSERT_TRUE(HasStatus(all, 200));
  EXPECT_EQ(JsonAt(all.json, "/size"), "1");
  EXPECT_EQ(JsonAt(all.json, "/sample/0/usid"), "\"" + free_ + "\"");
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/segments", key())).empty());
}

TEST_F(SegmentsApiTest, PreviewRejectsBadBodies) {
  auto preview = [&](std::string_view body) {
    return http_->Post("/api/v1/segments/preview", J(body), key());
  };

  EXPECT_TRUE(IsError(http_->SendRaw("POST", "/api/v1/segments/preview", "[", "application/json",
                                     key()),
                      400, "malformed"));
  EXPECT_TRUE(IsError(preview(R"({})"), 422, "invalid", "conditions"));
  EXPECT_TRUE(IsError(preview(R"({"conditions": {"all": [{"tag": "a"}, {"tag": 3}]}})"), 422,
                      "invalid", "conditions.all[1].tag"));
  EXPECT_TRUE(IsError(preview(R"({"conditions": {"tag": "a"}, "sample": 101})"), 422, "invalid",
                      "sample"));
  EXPECT_TRUE(IsError(preview(R"({"conditions": {"tag": "a"}, "sample": "3"})"), 422, "invalid",
                      "sample"));
  EXPECT_TRUE(IsError(preview(R"({"conditions": {"segment": "seg_unknown"}})"), 422, "invalid",
                      "conditions"));
}

TEST_F(SegmentsApiTest, ManualSegmentTakesMembersByUsidUserIdAndEmail) {
  std::string id = CreateManual("Hand-picked");
  std::string third = CreateCustomer({{"email", "lead@example.com"}});
  const std::string members = "/api/v1/segments/" + id + "/customers";

  HttpResponse by_usid = http_->Post(members, json::object{{"usids", json::array{pro_}}}, key());
  ASSERT_TRUE(HasStatus(by_usid, 200));
  EXPECT_EQ(Str(by_usid.json, "id"), id);
  EXPECT_EQ(JsonAt(by_usid.json, "/size"), "1");
  HttpResponse by_keys = http_->Post(
      members,
      J(R"({"customers": [{"user_id": "u-free"}, {"email": "LEAD@example.com"}]})"), key());
  ASSERT_TRUE(HasStatus(by_keys, 200));
  EXPECT_EQ(JsonAt(by_keys.json, "/size"), "3");
  HttpResponse again = http_->Post(members, json::object{{"usids", json::array{pro_}}}, key());
  EXPECT_EQ(JsonAt(again.json, "/size"), "3");  // adding a member twice changes nothing
  std::vector<std::string> all{pro_, free_, third};
  std::sort(all.begin(), all.end());
  EXPECT_EQ(Members(id), all);
  EXPECT_EQ(SegmentsOf(third), std::vector<std::string>{id});

  HttpResponse removed = http_->Delete(members + "/" + free_, key());

  ASSERT_TRUE(HasStatus(removed, 200));
  EXPECT_EQ(JsonAt(removed.json, "/deleted"), "true");
  EXPECT_FALSE(IsMember(id, free_));
  EXPECT_TRUE(LastChange(id, free_, "exited").has_value());
  EXPECT_TRUE(IsError(http_->Delete(members + "/" + free_, key()), 404, "not_found"));
}

TEST_F(SegmentsApiTest, ManualMembershipRejectsBadInput) {
  std::string id = CreateManual("Hand-picked");
  std::string dyn = ReadyDynamic("Pro", PlanIs("pro"));
  const std::string members = "/api/v1/segments/" + id + "/customers";
  auto add = [&](std::string_view body) { return http_->Post(members, J(body), key()); };

  EXPECT_TRUE(IsError(http_->SendRaw("POST", members, "{\"usids\"", "application/json", key()),
                      400, "malformed"));
  EXPECT_TRUE(IsError(add(R"({})"), 422, "invalid", "usids"));
  EXPECT_TRUE(IsError(add(R"({"usids": "cus_1"})"), 422, "invalid", "usids"));
  EXPECT_TRUE(IsError(add(R"({"usids": [1]})"), 422, "invalid", "usids"));
  EXPECT_TRUE(IsError(add(R"({"customers": [{"phone": "+1"}]})"), 422, "invalid", "customers"));
  EXPECT_TRUE(IsError(add(R"({"customers": [{"user_id": "nobody"}]})"), 404, "not_found"));
  EXPECT_TRUE(IsError(add(R"({"usids": ["cus_nobody"]})"), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/segments/" + dyn + "/customers",
                                  json::object{{"usids", json::array{free_}}}, key()),
                      422, "invalid"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/segments/" + dyn + "/customers/" + pro_, key()), 422,
                      "invalid"));
  EXPECT_TRUE(IsError(http_->Delete(members + "/cus_nobody", key()), 404, "not_found"));
  EXPECT_TRUE(Members(id).empty());
  EXPECT_EQ(Members(dyn), std::vector<std::string>{pro_});
}

TEST_F(SegmentsApiTest, CustomerSegmentsAndCustomerListFilter) {
  std::string dyn = ReadyDynamic("Pro", PlanIs("pro"));
  std::string manual = CreateManual("Hand-picked");
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/segments/" + manual + "/customers",
                                    json::object{{"usids", json::array{pro_}}}, key()),
                        200));

  HttpResponse of = http_->Get("/api/v1/customers/" + pro_ + "/segments", key());

  ASSERT_TRUE(HasStatus(of, 200));
  std::vector<std::string> ids = Column(of, "id");
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected{dyn, manual};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
  EXPECT_TRUE(IsNullMember(of.json, "next_cursor"));
  EXPECT_TRUE(SegmentsOf(free_).empty());
  HttpResponse listed = http_->Get("/api/v1/customers?segment_id=" + dyn, key());
  ASSERT_TRUE(HasStatus(listed, 200));
  EXPECT_EQ(Column(listed, "usid"), std::vector<std::string>{pro_});
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/customers?segment_id=seg_nope", key())).empty());
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/cus_nobody/segments", key()), 404,
                      "not_found"));
}

// Another project's management key can neither see nor change alpha's segments, nor use alpha's
// segments or customers in its own.
TEST_F(SegmentsApiTest, AnotherProjectCannotSeeOrChangeSegments) {
  std::string dyn = ReadyDynamic("Pro", PlanIs("pro"));
  std::string manual = CreateManual("Hand-picked");
  ProjectKeys beta = xoal_.CreateProject("beta");
  ASSERT_FALSE(beta.management_key.empty());
  const std::string& bk = beta.management_key;
  // The server learns of keys made by the CLI through its control socket or a periodic reload.
  auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (http_->Get("/api/v1/segments", bk).status == 401 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kPollInterval);
  }

  HttpResponse list = http_->Get("/api/v1/segments", bk);
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_TRUE(DataOf(list).empty());
  for (const std::string& id : {dyn, manual}) {
    const std::string base = "/api/v1/segments/" + id;
    EXPECT_TRUE(IsError(http_->Get(base, bk), 404, "not_found"));
    EXPECT_TRUE(IsError(http_->Get(base + "/customers", bk), 404, "not_found"));
    EXPECT_TRUE(IsError(http_->Get(base + "/count", bk), 404, "not_found"));
    EXPECT_TRUE(IsError(http_->Get(base + "/history", bk), 404, "not_found"));
    EXPECT_TRUE(IsError(http_->Patch(base, json::object{{"name", "stolen"}}, bk), 404,
                        "not_found"));
    EXPECT_TRUE(IsError(http_->Delete(base, bk), 404, "not_found"));
    EXPECT_TRUE(IsError(http_->Delete(base + "/customers/" + pro_, bk), 404, "not_found"));
  }
  EXPECT_TRUE(IsError(http_->Post("/api/v1/segments/" + manual + "/customers",
                                  json::object{{"usids", json::array{free_}}}, bk),
                      404, "not_found"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/segments",
                                  json::object{{"name", "spy"}, {"conditions", {{"segment", dyn}}}},
                                  bk),
                      422, "invalid", "conditions"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/segments/preview",
                                  json::object{{"conditions", {{"segment", dyn}}}}, bk),
                      422, "invalid", "conditions"));
  HttpResponse beta_preview =
      http_->Post("/api/v1/segments/preview", json::object{{"conditions", PlanIs("pro")}}, bk);
  EXPECT_EQ(JsonAt(beta_preview.json, "/size"), "0");
  std::string beta_manual;
  {
    HttpResponse r =
        http_->Post("/api/v1/segments", json::object{{"name", "b"}, {"type", "manual"}}, bk);
    ASSERT_TRUE(HasStatus(r, 201));
    beta_manual = Str(r.json, "id");
  }
  EXPECT_TRUE(IsError(http_->Post("/api/v1/segments/" + beta_manual + "/customers",
                                  json::object{{"usids", json::array{pro_}}}, bk),
                      404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/" + pro_ + "/segments", bk), 404,
                      "not_found"));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/customers?segment_id=" + dyn, bk)).empty());
  EXPECT_TRUE(IsError(http_->Get("/api/v1/segments/" + beta_manual, key()), 404, "not_found"));

  HttpResponse intact = http_->Get("/api/v1/segments/" + dyn, key());
  EXPECT_EQ(Str(intact.json, "name"), "Pro");
  EXPECT_EQ(Members(dyn), std::vector<std::string>{pro_});
  EXPECT_EQ(DataOf(http_->Get("/api/v1/segments", key())).size(), 2u);
}

}  // namespace
}  // namespace xoal::testing
