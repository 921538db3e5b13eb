// Tenancy isolation (SPEC, Tenancy and keys): project beta's key can neither read nor change
// anything of project alpha, on every endpoint, and alpha's data is intact afterwards.
#include <algorithm>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

class TenancyTest : public XoalTest {
 protected:
  void SetUp() override {
    XoalTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    // Beta is made by the CLI while the server runs.
    beta_ = xoal_.CreateProject("beta");
    ASSERT_FALSE(beta_.management_key.empty());

    alpha_usid_ = CreateCustomer({{"user_id", "u-alpha"},
                                  {"email", "alpha@example.com"},
                                  {"anonymous_id", "anon-alpha"},
                                  {"tags", json::array{"VIP"}},
                                  {"attributes", json::object{{"plan", "pro"}}}});
    ASSERT_FALSE(alpha_usid_.empty());
    ASSERT_TRUE(HasStatus(
        http_->Post("/api/v1/companies", json::object{{"id", "acme"}, {"name", "Acme"}}, key()),
        201));
    ASSERT_LT(
        http_->Put("/api/v1/companies/acme/members/" + alpha_usid_, json::object{}, key()).status,
        300);
    ASSERT_TRUE(HasStatus(
        http_->Post("/api/v1/fields",
                    json::object{{"entity", "customer"}, {"name", "age"}, {"type", "number"}},
                    key()),
        201));
    HttpResponse k = http_->Post(
        "/api/v1/api-keys", json::object{{"name", "alpha-extra"}, {"type", "management"}}, key());
    ASSERT_TRUE(HasStatus(k, 201));
    alpha_key_id_ = Str(k.json, "id");
    alpha_extra_key_ = Str(k.json, "key");
    alpha_snapshot_ = http_->Get("/api/v1/customers/" + alpha_usid_, key()).json;
  }

  void TearDown() override {
    // Whatever beta did, alpha's customer, company, field and key are unchanged.
    if (!HasFatalFailure()) {
      HttpResponse customer = http_->Get("/api/v1/customers/" + alpha_usid_, key());
      EXPECT_TRUE(HasStatus(customer, 200));
      EXPECT_EQ(customer.json, alpha_snapshot_);
      HttpResponse company = http_->Get("/api/v1/companies/acme", key());
      EXPECT_EQ(Str(company.json, "name"), "Acme");
      EXPECT_EQ(Column(http_->Get("/api/v1/companies/acme/members", key()), "usid"),
                std::vector<std::string>{alpha_usid_});
      EXPECT_EQ(Str(http_->Get("/api/v1/fields/customer/age", key()).json, "type"), "number");
      EXPECT_TRUE(HasStatus(http_->Get("/api/v1/project", alpha_extra_key_), 200));
      EXPECT_EQ(Str(http_->Get("/api/v1/project", key()).json, "name"), "alpha");
    }
    XoalTest::TearDown();
  }

  const std::string& beta() const { return beta_.management_key; }

  ProjectKeys beta_;
  std::string alpha_usid_;
  std::string alpha_key_id_;
  std::string alpha_extra_key_;
  json::value alpha_snapshot_;
};

TEST_F(TenancyTest, OtherProjectCannotReadCustomer) {
  const std::string base = "/api/v1/customers/" + alpha_usid_;

  EXPECT_TRUE(IsError(http_->Get(base, beta()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get(base + "/attributes", beta()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get(base + "/events", beta()), 404, "not_found"));
  for (const std::string& query :
       std::vector<std::string>{"user_id=u-alpha", "email=alpha%40example.com",
                                "anonymous_id=anon-alpha", "usid=" + alpha_usid_}) {
    EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/lookup?" + query, beta()), 404, "not_found"))
        << query;
  }
}

TEST_F(TenancyTest, OtherProjectListsDoNotContainCustomer) {
  for (const std::string& query : std::vector<std::string>{
           "", "?email=alpha%40example.com", "?user_id=u-alpha", "?tag=VIP", "?limit=1000"}) {
    HttpResponse r = http_->Get("/api/v1/customers" + query, beta());
    ASSERT_TRUE(HasStatus(r, 200)) << query;
    EXPECT_TRUE(DataOf(r).empty()) << query << ": " << r.body;
  }
}

TEST_F(TenancyTest, OtherProjectCannotChangeCustomer) {
  const std::string base = "/api/v1/customers/" + alpha_usid_;

  EXPECT_TRUE(IsError(http_->Patch(base, json::object{{"first_name", "Mallory"}}, beta()), 404,
                      "not_found"));
  EXPECT_TRUE(
      IsError(http_->Put(base + "/attributes",
                         json::object{{"attributes", json::object{{"plan", "free"}}}}, beta()),
              404, "not_found"));
  EXPECT_TRUE(
      IsError(http_->Put(base + "/attributes/plan", json::object{{"value", "free"}}, beta()), 404,
              "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base + "/attributes/plan", beta()), 404, "not_found"));
  EXPECT_TRUE(
      IsError(http_->Post(base + "/tags", json::object{{"tags", json::array{"bad"}}}, beta()), 404,
              "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base + "/tags/VIP", beta()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base, beta()), 404, "not_found"));
}

TEST_F(TenancyTest, SameIdentifiersInOtherProjectMakeSeparateProfile) {
  HttpResponse r = http_->Post(
      "/api/v1/customers",
      json::object{{"user_id", "u-alpha"}, {"email", "alpha@example.com"}, {"first_name", "Beta"}},
      beta());

  ASSERT_TRUE(HasStatus(r, 201)) << "a profile of alpha must not be matched";
  EXPECT_NE(Str(r.json, "usid"), alpha_usid_);
  HttpResponse imported =
      http_->SendRaw("POST", "/api/v1/customers/import", "user_id,first_name\nu-alpha,Imported\n",
                     "text/csv", beta());
  ASSERT_TRUE(HasStatus(imported, 200));
  EXPECT_EQ(JsonAt(imported.json, "/updated"), "1")
      << "updates beta's own profile: " << imported.body;
}

TEST_F(TenancyTest, OtherProjectCannotMergeCustomer) {
  std::string beta_usid = CreateCustomer({{"user_id", "u-beta"}}, beta());

  EXPECT_TRUE(IsError(http_->Post("/api/v1/customers/merge",
                                  json::object{{"primary", json::object{{"usid", beta_usid}}},
                                               {"secondary", json::object{{"usid", alpha_usid_}}}},
                                  beta()),
                      404, "not_found"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/customers/merge",
                                  json::object{{"primary", json::object{{"usid", alpha_usid_}}},
                                               {"secondary", json::object{{"usid", beta_usid}}}},
                                  beta()),
                      404, "not_found"));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/customers/merge",
                          json::object{{"primary", json::object{{"user_id", "u-beta"}}},
                                       {"secondary", json::object{{"email", "alpha@example.com"}}}},
                          beta()),
              404, "not_found"));
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/customers/" + beta_usid, beta()), 200));
}

TEST_F(TenancyTest, OtherProjectCannotSeeOrChangeCompany) {
  EXPECT_TRUE(IsError(http_->Get("/api/v1/companies/acme", beta()), 404, "not_found"));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/companies", beta())).empty());
  EXPECT_TRUE(
      IsError(http_->Patch("/api/v1/companies/acme", json::object{{"name", "Evil"}}, beta()), 404,
              "not_found"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/companies/acme/members", beta()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/companies/acme/members/" + alpha_usid_, beta()), 404,
                      "not_found"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/companies/acme", beta()), 404, "not_found"));
}

TEST_F(TenancyTest, MembershipsCannotCrossProjects) {
  std::string beta_usid = CreateCustomer({{"user_id", "u-beta"}}, beta());
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/companies",
                                    json::object{{"id", "initech"}, {"name", "Initech"}}, beta()),
                        201));

  // Beta's customer into alpha's company, and alpha's customer into beta's company.
  EXPECT_TRUE(
      IsError(http_->Put("/api/v1/companies/acme/members/" + beta_usid, json::object{}, beta()),
              404, "not_found"));
  EXPECT_TRUE(IsError(
      http_->Put("/api/v1/companies/initech/members/" + alpha_usid_, json::object{}, beta()), 404,
      "not_found"));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/companies/initech/members", beta())).empty());
}

TEST_F(TenancyTest, SameCompanyIdInOtherProjectIsSeparate) {
  HttpResponse r = http_->Post("/api/v1/companies",
                               json::object{{"id", "acme"}, {"name", "Beta's Acme"}}, beta());

  ASSERT_TRUE(HasStatus(r, 201)) << "alpha's acme must not be updated";
  EXPECT_EQ(JsonAt(r.json, "/member_count"), "0");
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/companies/acme/members", beta())).empty());
}

TEST_F(TenancyTest, OtherProjectCannotSeeOrChangeField) {
  EXPECT_TRUE(IsError(http_->Get("/api/v1/fields/customer/age", beta()), 404, "not_found"));
  EXPECT_TRUE(
      IsError(http_->Patch("/api/v1/fields/customer/age", json::object{{"type", "string"}}, beta()),
              404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/fields/customer/age", beta()), 404, "not_found"));
  std::vector<std::string> names =
      Column(http_->Get("/api/v1/fields?entity=customer&limit=1000", beta()), "name");
  EXPECT_EQ(std::find(names.begin(), names.end(), "age"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "plan"), names.end())
      << "alpha's auto-registered field leaked";

  // Beta may define its own "age" with another type; coercion follows beta's registry.
  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/fields",
                  json::object{{"entity", "customer"}, {"name", "age"}, {"type", "string"}},
                  beta()),
      201));
  HttpResponse c = http_->Post(
      "/api/v1/customers",
      json::object{{"user_id", "u-beta"}, {"attributes", json::object{{"age", 42}}}}, beta());
  ASSERT_TRUE(HasStatus(c, 201));
  EXPECT_EQ(JsonAt(c.json, "/attributes/age"), "\"42\"");
}

TEST_F(TenancyTest, OtherProjectCannotSeeOrRevokeKeys) {
  HttpResponse list = http_->Get("/api/v1/api-keys", beta());

  ASSERT_TRUE(HasStatus(list, 200));
  std::vector<std::string> ids = Column(list, "id");
  EXPECT_EQ(ids.size(), 2u) << "beta's own two keys only: " << list.body;
  EXPECT_EQ(std::find(ids.begin(), ids.end(), alpha_key_id_), ids.end()) << list.body;
  EXPECT_TRUE(
      IsError(http_->Delete("/api/v1/api-keys/" + alpha_key_id_, beta()), 404, "not_found"));
}

TEST_F(TenancyTest, OtherProjectSettingsAreSeparate) {
  HttpResponse alpha_before = http_->Get("/api/v1/project", key());
  HttpResponse beta_project = http_->Get("/api/v1/project", beta());
  ASSERT_TRUE(HasStatus(beta_project, 200));
  EXPECT_EQ(Str(beta_project.json, "id"), beta_.project_id);
  EXPECT_NE(beta_.project_id, alpha_.project_id);

  ASSERT_TRUE(HasStatus(http_->Patch("/api/v1/project",
                                     json::object{{"name", "beta renamed"},
                                                  {"timezone", "Asia/Tokyo"},
                                                  {"languages", json::array{"Japanese"}},
                                                  {"default_language", "Japanese"}},
                                     beta()),
                        200));

  EXPECT_EQ(http_->Get("/api/v1/project", key()).json, alpha_before.json);
}

TEST_F(TenancyTest, CustomerListOfEachProjectHoldsOnlyItsOwn) {
  std::string beta_usid = CreateCustomer({{"user_id", "u-beta"}}, beta());

  EXPECT_EQ(Column(http_->Get("/api/v1/customers", beta()), "usid"),
            std::vector<std::string>{beta_usid});
  EXPECT_EQ(Column(http_->Get("/api/v1/customers", key()), "usid"),
            std::vector<std::string>{alpha_usid_});
}

}  // namespace
}  // namespace xoal::testing
