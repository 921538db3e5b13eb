// The Companies API (docs/api.md, Companies).
#include <algorithm>
#include <regex>
#include <set>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

class CompaniesTest : public XoalTest {
 protected:
  HttpResponse CreateAcme() {
    return http_->Post(
        "/api/v1/companies",
        json::object{
            {"id", "acme"}, {"name", "Acme"}, {"attributes", json::object{{"tier", "gold"}}}},
        key());
  }
};

TEST_F(CompaniesTest, CreateAnswers201ThenUpdateById200) {
  HttpResponse created = CreateAcme();

  ASSERT_TRUE(HasStatus(created, 201));
  EXPECT_EQ(Str(created.json, "id"), "acme");
  EXPECT_EQ(Str(created.json, "name"), "Acme");
  EXPECT_EQ(JsonAt(created.json, "/attributes/tier"), "\"gold\"");
  EXPECT_EQ(JsonAt(created.json, "/member_count"), "0");
  std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(Str(created.json, "created_at"), iso)) << created.body;
  EXPECT_TRUE(std::regex_match(Str(created.json, "updated_at"), iso)) << created.body;

  HttpResponse updated = http_->Post(
      "/api/v1/companies",
      json::object{
          {"id", "acme"}, {"name", "Acme Corp"}, {"attributes", json::object{{"seats", 10}}}},
      key());

  ASSERT_TRUE(HasStatus(updated, 200));
  EXPECT_EQ(Str(updated.json, "name"), "Acme Corp");
  EXPECT_EQ(JsonAt(updated.json, "/attributes/seats"), "10");
  EXPECT_EQ(JsonAt(updated.json, "/attributes/tier"), "\"gold\"") << "an upsert keeps the rest";
  EXPECT_EQ(Str(updated.json, "created_at"), Str(created.json, "created_at"));
  EXPECT_EQ(DataOf(http_->Get("/api/v1/companies", key())).size(), 1u);
}

TEST_F(CompaniesTest, GetListPatchDelete) {
  ASSERT_TRUE(HasStatus(CreateAcme(), 201));
  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/companies", json::object{{"id", "globex"}, {"name", "Globex"}}, key()),
      201));

  HttpResponse got = http_->Get("/api/v1/companies/acme", key());
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(Str(got.json, "name"), "Acme");
  HttpResponse list = http_->Get("/api/v1/companies", key());
  ASSERT_TRUE(HasStatus(list, 200));
  std::vector<std::string> ids = Column(list, "id");
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"acme", "globex"}));
  EXPECT_NE(Member(list.json, "next_cursor"), nullptr) << list.body;

  HttpResponse patched = http_->Patch(
      "/api/v1/companies/acme",
      json::object{{"name", "ACME"}, {"attributes", json::object{{"tier", nullptr}}}}, key());
  ASSERT_TRUE(HasStatus(patched, 200));
  EXPECT_EQ(Str(patched.json, "name"), "ACME");
  std::string tier = JsonAt(patched.json, "/attributes/tier");
  EXPECT_TRUE(tier == "<missing>" || tier == "null") << patched.body;

  HttpResponse deleted = http_->Delete("/api/v1/companies/acme", key());
  ASSERT_TRUE(HasStatus(deleted, 200));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/companies/acme", key()), 404, "not_found"));
  EXPECT_EQ(Column(http_->Get("/api/v1/companies", key()), "id"),
            std::vector<std::string>{"globex"});
}

TEST_F(CompaniesTest, ListPagesWithCursor) {
  for (int i = 0; i < 5; ++i) {
    std::string id = "co-" + std::to_string(i);
    ASSERT_TRUE(HasStatus(
        http_->Post("/api/v1/companies", json::object{{"id", id}, {"name", id}}, key()), 201));
  }

  std::set<std::string> seen;
  size_t total = 0;
  std::string target = "/api/v1/companies?limit=2";
  for (int page = 0; page < 6; ++page) {
    HttpResponse r = http_->Get(target, key());
    ASSERT_TRUE(HasStatus(r, 200));
    for (const std::string& id : Column(r, "id")) {
      seen.insert(id);
      ++total;
    }
    const json::value* next = Member(r.json, "next_cursor");
    ASSERT_NE(next, nullptr) << r.body;
    if (next->is_null()) {
      break;
    }
    target = "/api/v1/companies?limit=2&cursor=" + UrlEncode(next->as_string());
  }

  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(total, 5u) << "no company twice";
}

TEST_F(CompaniesTest, InvalidCompanyBodiesAreRejected) {
  EXPECT_TRUE(IsError(http_->Post("/api/v1/companies", json::object{{"name", "No Id"}}, key()), 422,
                      "invalid", "id"));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/companies", json::object{{"id", 5}, {"name", "Five"}}, key()),
              422, "invalid", "id"));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/companies", json::object{{"id", "x"}, {"name", 5}}, key()), 422,
              "invalid", "name"));
  EXPECT_TRUE(IsError(
      http_->Post("/api/v1/companies", json::object{{"id", "x"}, {"attributes", "no"}}, key()), 422,
      "invalid", "attributes"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/companies", json::array{}, key()), 400, "malformed"));
  EXPECT_TRUE(
      IsError(http_->SendRaw("POST", "/api/v1/companies", R"({"id":"x"})", "text/csv", key()), 415,
              "unsupported_media_type"));
}

TEST_F(CompaniesTest, UnknownCompanyIs404) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}});

  EXPECT_TRUE(IsError(http_->Get("/api/v1/companies/nope", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Patch("/api/v1/companies/nope", json::object{{"name", "N"}}, key()),
                      404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/companies/nope", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/companies/nope/members", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Put("/api/v1/companies/nope/members/" + usid, json::object{}, key()),
                      404, "not_found"));
}

TEST_F(CompaniesTest, MembersArePutListedAndDeleted) {
  ASSERT_TRUE(HasStatus(CreateAcme(), 201));
  std::string ada = CreateCustomer({{"user_id", "u-ada"}, {"email", "ada@example.com"}});
  std::string bob = CreateCustomer({{"user_id", "u-bob"}});
  const std::string members = "/api/v1/companies/acme/members/";

  HttpResponse put = http_->Put(
      members + ada, json::object{{"attributes", json::object{{"role", "admin"}}}}, key());
  ASSERT_TRUE(put.status == 200 || put.status == 201) << ::testing::PrintToString(put);
  EXPECT_EQ(Str(put.json, "usid"), ada);
  EXPECT_EQ(Str(put.json, "user_id"), "u-ada");
  EXPECT_EQ(Str(put.json, "email"), "ada@example.com");
  EXPECT_EQ(JsonAt(put.json, "/attributes/role"), "\"admin\"");
  EXPECT_NE(Str(put.json, "joined_at"), "<missing>");
  // The body is optional.
  HttpResponse bare =
      http_->Request("PUT", members + bob, {}, {{"Authorization", "Bearer " + key()}});
  ASSERT_TRUE(bare.status == 200 || bare.status == 201) << ::testing::PrintToString(bare);

  HttpResponse list = http_->Get("/api/v1/companies/acme/members", key());
  ASSERT_TRUE(HasStatus(list, 200));
  std::vector<std::string> usids = Column(list, "usid");
  std::sort(usids.begin(), usids.end());
  std::vector<std::string> expected{ada, bob};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(usids, expected);
  EXPECT_EQ(JsonAt(http_->Get("/api/v1/companies/acme", key()).json, "/member_count"), "2");

  HttpResponse removed = http_->Delete(members + ada, key());
  ASSERT_TRUE(HasStatus(removed, 200));
  EXPECT_EQ(JsonAt(removed.json, "/deleted"), "true");
  EXPECT_EQ(Column(http_->Get("/api/v1/companies/acme/members", key()), "usid"),
            std::vector<std::string>{bob});
  EXPECT_TRUE(IsError(http_->Delete(members + ada, key()), 404, "not_found"));
}

TEST_F(CompaniesTest, PuttingMemberAgainUpdatesItsAttributes) {
  ASSERT_TRUE(HasStatus(CreateAcme(), 201));
  std::string ada = CreateCustomer({{"user_id", "u-ada"}});
  const std::string target = "/api/v1/companies/acme/members/" + ada;
  ASSERT_LT(http_->Put(target, json::object{{"attributes", json::object{{"role", "admin"}}}}, key())
                .status,
            300);

  HttpResponse again =
      http_->Put(target, json::object{{"attributes", json::object{{"role", "owner"}}}}, key());

  ASSERT_TRUE(again.status == 200 || again.status == 201) << ::testing::PrintToString(again);
  HttpResponse list = http_->Get("/api/v1/companies/acme/members", key());
  ASSERT_EQ(DataOf(list).size(), 1u) << list.body;
  EXPECT_EQ(JsonAt(list.json, "/data/0/attributes/role"), "\"owner\"");
}

TEST_F(CompaniesTest, UnknownCustomerOnMembershipIs404) {
  ASSERT_TRUE(HasStatus(CreateAcme(), 201));

  EXPECT_TRUE(
      IsError(http_->Put("/api/v1/companies/acme/members/cus_doesnotexist", json::object{}, key()),
              404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/companies/acme/members/cus_doesnotexist", key()), 404,
                      "not_found"));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/companies/acme/members", key())).empty());
}

TEST_F(CompaniesTest, DeletingCustomerRemovesItsMemberships) {
  ASSERT_TRUE(HasStatus(CreateAcme(), 201));
  std::string ada = CreateCustomer({{"user_id", "u-ada"}});
  ASSERT_LT(http_->Put("/api/v1/companies/acme/members/" + ada, json::object{}, key()).status, 300);

  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + ada, key()), 200));

  EXPECT_TRUE(DataOf(http_->Get("/api/v1/companies/acme/members", key())).empty());
  EXPECT_EQ(JsonAt(http_->Get("/api/v1/companies/acme", key()).json, "/member_count"), "0");
}

TEST_F(CompaniesTest, DeletingCompanyRemovesItsMemberships) {
  ASSERT_TRUE(HasStatus(CreateAcme(), 201));
  std::string ada = CreateCustomer({{"user_id", "u-ada"}});
  ASSERT_LT(http_->Put("/api/v1/companies/acme/members/" + ada, json::object{}, key()).status, 300);

  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/companies/acme", key()), 200));

  // A new company with the same id starts without members; the customer is untouched.
  ASSERT_TRUE(HasStatus(CreateAcme(), 201));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/companies/acme/members", key())).empty());
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/customers/" + ada, key()), 200));
}

}  // namespace
}  // namespace xoal::testing
