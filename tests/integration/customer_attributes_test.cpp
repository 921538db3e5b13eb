// Attributes and tags of a customer, and coercion through the field registry (docs/api.md,
// Attributes and tags; Field registry).
#include <algorithm>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

class CustomerAttributesTest : public XoalTest {
 protected:
  void SetUp() override {
    XoalTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    usid_ = CreateCustomer({{"user_id", "u-1"},
                            {"email", "ada@example.com"},
                            {"attributes", json::object{{"plan", "pro"}}}});
    ASSERT_FALSE(usid_.empty());
    base_ = "/api/v1/customers/" + usid_;
  }

  HttpResponse CreateField(std::string_view name, std::string_view type) {
    return http_->Post(
        "/api/v1/fields",
        json::object{{"entity", "customer"}, {"name", name}, {"type", type}, {"description", ""}},
        key());
  }

  // The customer field called `name` from the registry list, or null.
  json::value FindField(std::string_view name) {
    HttpResponse list = http_->Get("/api/v1/fields?entity=customer&limit=1000", key());
    for (const auto& f : DataOf(list)) {
      if (Str(f, "name") == name) {
        return f;
      }
    }
    return nullptr;
  }

  std::string usid_;
  std::string base_;
};

TEST_F(CustomerAttributesTest, GetAttributesAnswersBuiltInsAndCustom) {
  HttpResponse r = http_->Get(base_ + "/attributes", key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/data/plan"), "\"pro\"") << r.body;
  EXPECT_EQ(JsonAt(r.json, "/data/email"), "\"ada@example.com\"") << r.body;
  EXPECT_EQ(JsonAt(r.json, "/data/user_id"), "\"u-1\"") << r.body;
}

TEST_F(CustomerAttributesTest, PutAttributesSetsMany) {
  HttpResponse r = http_->Put(
      base_ + "/attributes",
      json::object{{"attributes", json::object{{"plan", "team"}, {"seats", 3}, {"trial", true}}}},
      key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "usid"), usid_);
  EXPECT_EQ(JsonAt(r.json, "/attributes/plan"), "\"team\"");
  EXPECT_EQ(JsonAt(r.json, "/attributes/seats"), "3");
  EXPECT_EQ(JsonAt(r.json, "/attributes/trial"), "true");
  HttpResponse attrs = http_->Get(base_ + "/attributes", key());
  EXPECT_EQ(JsonAt(attrs.json, "/data/seats"), "3") << attrs.body;
}

TEST_F(CustomerAttributesTest, PutAttributesRejectsNonObject) {
  EXPECT_TRUE(IsError(http_->Put(base_ + "/attributes", json::object{{"attributes", "x"}}, key()),
                      422, "invalid", "attributes"));
  EXPECT_TRUE(IsError(http_->Put(base_ + "/attributes", json::array{}, key()), 400, "malformed"));
}

TEST_F(CustomerAttributesTest, PutOneAttributeSetsIt) {
  HttpResponse r =
      http_->Put(base_ + "/attributes/company_size", json::object{{"value", 250}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/attributes/company_size"), "250");
}

TEST_F(CustomerAttributesTest, PutOneBuiltInAttributeSetsIt) {
  HttpResponse r =
      http_->Put(base_ + "/attributes/first_name", json::object{{"value", "Ada"}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "first_name"), "Ada");
}

TEST_F(CustomerAttributesTest, DeleteAttributeRemovesIt) {
  HttpResponse r = http_->Delete(base_ + "/attributes/plan", key());

  ASSERT_TRUE(HasStatus(r, 200));
  std::string plan = JsonAt(r.json, "/attributes/plan");
  EXPECT_TRUE(plan == "<missing>" || plan == "null") << r.body;
  HttpResponse attrs = http_->Get(base_ + "/attributes", key());
  plan = JsonAt(attrs.json, "/data/plan");
  EXPECT_TRUE(plan == "<missing>" || plan == "null") << attrs.body;
}

TEST_F(CustomerAttributesTest, DeletingIdentityFieldIs422) {
  EXPECT_TRUE(IsError(http_->Delete(base_ + "/attributes/user_id", key()), 422, "invalid"));
  EXPECT_TRUE(IsError(http_->Delete(base_ + "/attributes/email", key()), 422, "invalid"));

  HttpResponse got = http_->Get(base_, key());
  EXPECT_EQ(Str(got.json, "user_id"), "u-1");
  EXPECT_EQ(Str(got.json, "email"), "ada@example.com");
}

TEST_F(CustomerAttributesTest, TopLevelUnknownKeyIsCustomAttribute) {
  HttpResponse r = http_->Post("/api/v1/customers",
                               json::object{{"user_id", "u-1"}, {"favorite_color", "teal"}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/attributes/favorite_color"), "\"teal\"") << r.body;
}

TEST_F(CustomerAttributesTest, TagsAreAddedAndRemoved) {
  HttpResponse added = http_->Post(
      base_ + "/tags", json::object{{"tags", json::array{"VIP", "Early Adopter"}}}, key());

  ASSERT_TRUE(HasStatus(added, 200));
  std::vector<std::string> tags = Strings(added.json, "tags");
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"Early Adopter", "VIP"}));
  // Adding a tag twice keeps one.
  HttpResponse again =
      http_->Post(base_ + "/tags", json::object{{"tags", json::array{"VIP"}}}, key());
  ASSERT_TRUE(HasStatus(again, 200));
  EXPECT_EQ(Strings(again.json, "tags").size(), 2u) << again.body;

  HttpResponse removed = http_->Delete(base_ + "/tags/" + UrlEncode("Early Adopter"), key());

  ASSERT_TRUE(HasStatus(removed, 200));
  EXPECT_EQ(Strings(removed.json, "tags"), std::vector<std::string>{"VIP"});
  EXPECT_TRUE(IsError(http_->Delete(base_ + "/tags/" + UrlEncode("Early Adopter"), key()), 404,
                      "not_found"));
}

TEST_F(CustomerAttributesTest, TagsRejectNonListsAndNonStrings) {
  EXPECT_TRUE(IsError(http_->Post(base_ + "/tags", json::object{{"tags", "VIP"}}, key()), 422,
                      "invalid", "tags"));
  EXPECT_TRUE(IsError(http_->Post(base_ + "/tags", json::object{{"tags", json::array{1}}}, key()),
                      422, "invalid"));
}

TEST_F(CustomerAttributesTest, NumberFieldCoercesNumericString) {
  ASSERT_TRUE(HasStatus(CreateField("age", "number"), 201));

  HttpResponse r = http_->Put(base_ + "/attributes",
                              json::object{{"attributes", json::object{{"age", "42"}}}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/attributes/age"), "42") << "stored as a number: " << r.body;
  EXPECT_EQ(JsonAt(http_->Get(base_, key()).json, "/attributes/age"), "42");
}

TEST_F(CustomerAttributesTest, NumberFieldRejectsNonNumericStringNamingIt) {
  ASSERT_TRUE(HasStatus(CreateField("age", "number"), 201));
  ASSERT_TRUE(HasStatus(http_->Put(base_ + "/attributes",
                                   json::object{{"attributes", json::object{{"age", 30}}}}, key()),
                        200));

  EXPECT_TRUE(IsError(http_->Put(base_ + "/attributes",
                                 json::object{{"attributes", json::object{{"age", "abc"}}}}, key()),
                      422, "invalid", "attributes.age"));
  EXPECT_TRUE(IsError(
      http_->Post("/api/v1/customers",
                  json::object{{"user_id", "u-2"}, {"attributes", json::object{{"age", "abc"}}}},
                  key()),
      422, "invalid", "attributes.age"));
  EXPECT_TRUE(
      IsError(http_->Patch(base_, json::object{{"attributes", json::object{{"age", "x"}}}}, key()),
              422, "invalid", "attributes.age"));
  EXPECT_TRUE(IsError(http_->Put(base_ + "/attributes/age", json::object{{"value", "abc"}}, key()),
                      422, "invalid"));
  EXPECT_EQ(JsonAt(http_->Get(base_, key()).json, "/attributes/age"), "30");
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/lookup?user_id=u-2", key()), 404, "not_found"));
}

TEST_F(CustomerAttributesTest, OtherTypesCoerceWhereSafe) {
  ASSERT_TRUE(HasStatus(CreateField("nickname", "string"), 201));
  ASSERT_TRUE(HasStatus(CreateField("beta", "boolean"), 201));
  ASSERT_TRUE(HasStatus(CreateField("renewal", "datetime"), 201));

  HttpResponse r = http_->Put(
      base_ + "/attributes",
      json::object{
          {"attributes", json::object{{"nickname", 5}, {"beta", "true"}, {"renewal", 1733220000}}}},
      key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/attributes/nickname"), "\"5\"");
  EXPECT_EQ(JsonAt(r.json, "/attributes/beta"), "true");
  EXPECT_EQ(JsonAt(r.json, "/attributes/renewal"), "\"2024-12-03T10:00:00.000Z\"");
  EXPECT_TRUE(
      IsError(http_->Put(base_ + "/attributes",
                         json::object{{"attributes", json::object{{"beta", "yes"}}}}, key()),
              422, "invalid", "attributes.beta"));
  EXPECT_TRUE(
      IsError(http_->Put(base_ + "/attributes",
                         json::object{{"attributes", json::object{{"renewal", "soon"}}}}, key()),
              422, "invalid", "attributes.renewal"));
}

TEST_F(CustomerAttributesTest, NewCustomAttributeIsAutoRegistered) {
  ASSERT_TRUE(FindField("favorite_color").is_null());

  ASSERT_TRUE(HasStatus(
      http_->Put(
          base_ + "/attributes",
          json::object{{"attributes", json::object{{"favorite_color", "teal"}, {"score", 3.5}}}},
          key()),
      200));

  json::value color = FindField("favorite_color");
  ASSERT_FALSE(color.is_null()) << "favorite_color not in GET /api/v1/fields?entity=customer";
  EXPECT_EQ(Str(color, "origin"), "auto");
  EXPECT_EQ(Str(color, "type"), "string");
  EXPECT_EQ(Str(color, "entity"), "customer");
  json::value score = FindField("score");
  EXPECT_EQ(Str(score, "type"), "number");
  EXPECT_EQ(Str(score, "origin"), "auto");
  // The registered type now governs later values.
  EXPECT_TRUE(
      IsError(http_->Put(base_ + "/attributes",
                         json::object{{"attributes", json::object{{"score", "lots"}}}}, key()),
              422, "invalid", "attributes.score"));
}

TEST_F(CustomerAttributesTest, AttributeFromCustomerCreateIsAutoRegistered) {
  // "plan" came with the customer made in SetUp.
  json::value plan = FindField("plan");

  ASSERT_FALSE(plan.is_null());
  EXPECT_EQ(Str(plan, "origin"), "auto");
  EXPECT_EQ(Str(plan, "type"), "string");
}

}  // namespace
}  // namespace xoal::testing
