// The field registry API (docs/api.md, Field registry).
#include <regex>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

class FieldsTest : public XoalTest {
 protected:
  HttpResponse Create(const json::object& body) {
    return http_->Post("/api/v1/fields", body, key());
  }
};

TEST_F(FieldsTest, ListStartsWithBuiltInSystemFields) {
  HttpResponse r = http_->Get("/api/v1/fields?entity=customer", key());

  ASSERT_TRUE(HasStatus(r, 200));
  std::vector<std::string> names = Column(r, "name");
  for (const char* builtin : {"user_id", "email", "first_name", "timezone", "language"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), builtin), names.end())
        << builtin << " missing from " << r.body;
  }
  ASSERT_FALSE(DataOf(r).empty());
  EXPECT_EQ(Str(DataOf(r)[0], "origin"), "system") << r.body;
  for (const auto& f : DataOf(r)) {
    EXPECT_EQ(Str(f, "entity"), "customer") << r.body;
  }
}

TEST_F(FieldsTest, CreateGetPatchDelete) {
  HttpResponse created = Create(
      {{"entity", "customer"}, {"name", "age"}, {"type", "number"}, {"description", "Years"}});

  ASSERT_TRUE(HasStatus(created, 201));
  EXPECT_EQ(Str(created.json, "entity"), "customer");
  EXPECT_EQ(Str(created.json, "name"), "age");
  EXPECT_EQ(Str(created.json, "type"), "number");
  EXPECT_EQ(Str(created.json, "description"), "Years");
  EXPECT_EQ(Str(created.json, "origin"), "user");
  EXPECT_TRUE(std::regex_match(Str(created.json, "created_at"),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));

  HttpResponse got = http_->Get("/api/v1/fields/customer/age", key());
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(got.json, created.json);

  HttpResponse patched = http_->Patch("/api/v1/fields/customer/age",
                                      json::object{{"description", "Age in years"}}, key());
  ASSERT_TRUE(HasStatus(patched, 200));
  EXPECT_EQ(Str(patched.json, "description"), "Age in years");
  EXPECT_EQ(Str(patched.json, "type"), "number");
  patched = http_->Patch("/api/v1/fields/customer/age", json::object{{"type", "string"}}, key());
  ASSERT_TRUE(HasStatus(patched, 200));
  EXPECT_EQ(Str(patched.json, "type"), "string");

  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/fields/customer/age", key()), 200));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/fields/customer/age", key()), 404, "not_found"));
  std::vector<std::string> names =
      Column(http_->Get("/api/v1/fields?entity=customer", key()), "name");
  EXPECT_EQ(std::find(names.begin(), names.end(), "age"), names.end());
}

TEST_F(FieldsTest, UserFieldsAreListedAfterBuiltInsByName) {
  ASSERT_TRUE(
      HasStatus(Create({{"entity", "customer"}, {"name", "zeta"}, {"type", "string"}}), 201));
  ASSERT_TRUE(
      HasStatus(Create({{"entity", "customer"}, {"name", "alpha"}, {"type", "string"}}), 201));

  HttpResponse r = http_->Get("/api/v1/fields?entity=customer&limit=1000", key());

  ASSERT_TRUE(HasStatus(r, 200));
  const json::array& data = DataOf(r);
  ASSERT_GE(data.size(), 2u);
  EXPECT_EQ(Str(data[data.size() - 2], "name"), "alpha") << r.body;
  EXPECT_EQ(Str(data[data.size() - 1], "name"), "zeta") << r.body;
  bool seen_user = false;
  for (const auto& f : data) {
    if (Str(f, "origin") != "system") {
      seen_user = true;
    }
    EXPECT_FALSE(seen_user && Str(f, "origin") == "system") << "built-ins come first: " << r.body;
  }
}

TEST_F(FieldsTest, FieldsAreKeptPerEntity) {
  ASSERT_TRUE(
      HasStatus(Create({{"entity", "company"}, {"name", "tier"}, {"type", "string"}}), 201));
  ASSERT_TRUE(
      HasStatus(Create({{"entity", "event"}, {"name", "amount"}, {"type", "number"}}), 201));

  std::vector<std::string> company =
      Column(http_->Get("/api/v1/fields?entity=company", key()), "name");
  std::vector<std::string> customer =
      Column(http_->Get("/api/v1/fields?entity=customer", key()), "name");
  std::vector<std::string> event = Column(http_->Get("/api/v1/fields?entity=event", key()), "name");

  EXPECT_NE(std::find(company.begin(), company.end(), "tier"), company.end());
  EXPECT_EQ(std::find(customer.begin(), customer.end(), "tier"), customer.end());
  EXPECT_NE(std::find(event.begin(), event.end(), "amount"), event.end());
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/fields/company/tier", key()), 200));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/fields/customer/tier", key()), 404, "not_found"));
}

TEST_F(FieldsTest, DuplicateFieldIs409) {
  ASSERT_TRUE(
      HasStatus(Create({{"entity", "customer"}, {"name", "age"}, {"type", "number"}}), 201));

  EXPECT_TRUE(IsError(Create({{"entity", "customer"}, {"name", "age"}, {"type", "string"}}), 409,
                      "conflict"));
  EXPECT_TRUE(IsError(Create({{"entity", "customer"}, {"name", "email"}, {"type", "string"}}), 409,
                      "conflict"));
}

TEST_F(FieldsTest, InvalidDefinitionsAre422NamingTheField) {
  struct Case {
    json::object body;
    const char* field;
  };
  std::vector<Case> cases = {
      {{{"entity", "customer"}, {"name", "age"}, {"type", "integer"}}, "type"},
      {{{"entity", "customer"}, {"name", "age"}, {"type", 1}}, "type"},
      {{{"entity", "customer"}, {"name", "age"}}, "type"},
      {{{"entity", "order"}, {"name", "age"}, {"type", "number"}}, "entity"},
      {{{"name", "age"}, {"type", "number"}}, "entity"},
      {{{"entity", "customer"}, {"name", ""}, {"type", "number"}}, "name"},
      {{{"entity", "customer"}, {"name", 5}, {"type", "number"}}, "name"},
      {{{"entity", "customer"}, {"type", "number"}}, "name"},
  };

  for (const Case& c : cases) {
    EXPECT_TRUE(IsError(Create(c.body), 422, "invalid", c.field)) << json::serialize(c.body);
  }
  EXPECT_TRUE(
      IsError(http_->Patch("/api/v1/fields/customer/email", json::object{{"type", "bad"}}, key()),
              422, "invalid", "type"));
}

TEST_F(FieldsTest, MalformedBodiesAre400) {
  EXPECT_TRUE(IsError(http_->SendRaw("POST", "/api/v1/fields", "{", "application/json", key()), 400,
                      "malformed"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/fields", json::array{}, key()), 400, "malformed"));
}

TEST_F(FieldsTest, UnknownEntityInListIs422) {
  EXPECT_TRUE(IsError(http_->Get("/api/v1/fields?entity=order", key()), 422, "invalid", "entity"));
}

TEST_F(FieldsTest, UnknownFieldIs404) {
  EXPECT_TRUE(IsError(http_->Get("/api/v1/fields/customer/nope", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(
      http_->Patch("/api/v1/fields/customer/nope", json::object{{"description", "x"}}, key()), 404,
      "not_found"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/fields/customer/nope", key()), 404, "not_found"));
}

TEST_F(FieldsTest, BuiltInFieldCannotBeDeletedOrRetyped) {
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/fields/customer/email", key()), 409, "conflict"));
  EXPECT_TRUE(IsError(
      http_->Patch("/api/v1/fields/customer/email", json::object{{"type", "number"}}, key()), 409,
      "conflict"));

  HttpResponse got = http_->Get("/api/v1/fields/customer/email", key());
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(Str(got.json, "type"), "string");
  EXPECT_EQ(Str(got.json, "origin"), "system");
  // Its description may still change.
  EXPECT_TRUE(HasStatus(http_->Patch("/api/v1/fields/customer/email",
                                     json::object{{"description", "Primary address"}}, key()),
                        200));
}

}  // namespace
}  // namespace xoal::testing
