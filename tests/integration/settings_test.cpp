// Project settings and the API keys endpoints (docs/api.md, Project settings and API keys).
#include <regex>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

using SettingsTest = XoalTest;

TEST_F(SettingsTest, GetProjectAnswersDocumentedShape) {
  HttpResponse r = http_->Get("/api/v1/project", key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "id"), alpha_.project_id);
  EXPECT_EQ(Str(r.json, "name"), "alpha");
  EXPECT_NE(Str(r.json, "timezone"), "<missing>");
  ASSERT_NE(Member(r.json, "users_timezone"), nullptr) << r.body;
  EXPECT_TRUE(Member(r.json, "users_timezone")->is_bool()) << r.body;
  ASSERT_NE(Member(r.json, "languages"), nullptr) << r.body;
  EXPECT_TRUE(Member(r.json, "languages")->is_array()) << r.body;
  EXPECT_NE(Member(r.json, "default_language"), nullptr) << r.body;
  EXPECT_TRUE(std::regex_match(Str(r.json, "created_at"),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << r.body;
  ASSERT_NE(Member(r.json, "sources"), nullptr) << r.body;
  EXPECT_TRUE(Member(r.json, "sources")->is_object()) << r.body;
}

TEST_F(SettingsTest, PatchProjectChangesSettings) {
  json::object patch{{"name", "Alpha Inc"},
                     {"timezone", "Africa/Lagos"},
                     {"users_timezone", true},
                     {"languages", json::array{"English", "French"}},
                     {"default_language", "French"}};

  HttpResponse r = http_->Patch("/api/v1/project", patch, key());

  ASSERT_TRUE(HasStatus(r, 200));
  HttpResponse got = http_->Get("/api/v1/project", key());
  ASSERT_TRUE(HasStatus(got, 200));
  for (const json::value* v : {&r.json, &got.json}) {
    EXPECT_EQ(Str(*v, "name"), "Alpha Inc");
    EXPECT_EQ(Str(*v, "timezone"), "Africa/Lagos");
    EXPECT_EQ(json::serialize(*Member(*v, "users_timezone")), "true");
    EXPECT_EQ(Strings(*v, "languages"), (std::vector<std::string>{"English", "French"}));
    EXPECT_EQ(Str(*v, "default_language"), "French");
  }
}

TEST_F(SettingsTest, PatchProjectRejectsInvalidValuesNamingTheField) {
  struct Case {
    json::object patch;
    const char* field;
  };
  std::vector<Case> cases = {
      {{{"name", ""}}, "name"},
      {{{"name", 5}}, "name"},
      {{{"timezone", "Mars/Olympus_Mons"}}, "timezone"},
      {{{"timezone", 3}}, "timezone"},
      {{{"users_timezone", "yes"}}, "users_timezone"},
      {{{"languages", json::array{}}}, "languages"},
      {{{"languages", "English"}}, "languages"},
      {{{"languages", json::array{"English"}}, {"default_language", "German"}}, "default_language"},
  };

  for (const Case& c : cases) {
    EXPECT_TRUE(IsError(http_->Patch("/api/v1/project", c.patch, key()), 422, "invalid", c.field))
        << json::serialize(c.patch);
  }
  // Nothing of the rejected patches was applied.
  HttpResponse got = http_->Get("/api/v1/project", key());
  EXPECT_EQ(Str(got.json, "name"), "alpha");
}

TEST_F(SettingsTest, PatchProjectRejectsMalformedBodies) {
  EXPECT_TRUE(
      IsError(http_->SendRaw("PATCH", "/api/v1/project", "{\"name\":", "application/json", key()),
              400, "malformed"));
  EXPECT_TRUE(IsError(http_->Patch("/api/v1/project", json::array{1, 2}, key()), 400, "malformed"));
  EXPECT_TRUE(
      IsError(http_->SendRaw("PATCH", "/api/v1/project", "{\"name\":\"x\"}", "text/plain", key()),
              415, "unsupported_media_type"));
}

TEST_F(SettingsTest, SourceSecretIsWriteOnly) {
  json::object set{
      {"sources", json::object{{"segment", json::object{{"secret", "s3cr3t-v4lue"}}}}}};

  HttpResponse r = http_->Patch("/api/v1/project", set, key());

  ASSERT_TRUE(HasStatus(r, 200));
  HttpResponse got = http_->Get("/api/v1/project", key());
  EXPECT_EQ(got.body.find("s3cr3t-v4lue"), std::string::npos) << got.body;
  EXPECT_EQ(r.body.find("s3cr3t-v4lue"), std::string::npos) << r.body;
  EXPECT_EQ(JsonAt(got.json, "/sources/segment/secret_set"), "true");

  json::object clear{{"sources", json::object{{"segment", json::object{{"secret", nullptr}}}}}};
  ASSERT_TRUE(HasStatus(http_->Patch("/api/v1/project", clear, key()), 200));
  got = http_->Get("/api/v1/project", key());
  EXPECT_EQ(JsonAt(got.json, "/sources/segment/secret_set"), "false");
}

using ApiKeysTest = XoalTest;

TEST_F(ApiKeysTest, CreateShowsKeyOnceAndListNeverShowsIt) {
  HttpResponse created = http_->Post(
      "/api/v1/api-keys", json::object{{"name", "deploy"}, {"type", "management"}}, key());

  ASSERT_TRUE(HasStatus(created, 201));
  std::string secret = Str(created.json, "key");
  EXPECT_TRUE(std::regex_match(secret, std::regex("sk_[a-z0-9]{32}"))) << created.body;
  EXPECT_EQ(Str(created.json, "name"), "deploy");
  EXPECT_EQ(Str(created.json, "type"), "management");
  std::string prefix = Str(created.json, "prefix");
  EXPECT_EQ(secret.rfind(prefix, 0), 0u) << "prefix " << prefix << " of " << secret;
  EXPECT_LT(prefix.size(), secret.size());
  EXPECT_TRUE(IsNullMember(created.json, "revoked_at")) << created.body;
  EXPECT_NE(Member(created.json, "last_used_at"), nullptr) << created.body;
  EXPECT_NE(Str(created.json, "created_at"), "<missing>");

  HttpResponse list = http_->Get("/api/v1/api-keys", key());
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_EQ(list.body.find(secret), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find(key()), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find(alpha_.ingestion_key), std::string::npos) << list.body;
  ASSERT_EQ(DataOf(list).size(), 3u) << list.body;
  for (const auto& k : DataOf(list)) {
    EXPECT_EQ(Member(k, "key"), nullptr) << list.body;
  }
  std::vector<std::string> ids = Column(list, "id");
  EXPECT_NE(std::find(ids.begin(), ids.end(), Str(created.json, "id")), ids.end()) << list.body;
}

TEST_F(ApiKeysTest, UsingKeySetsLastUsedAt) {
  HttpResponse created = http_->Post("/api/v1/api-keys",
                                     json::object{{"name", "used"}, {"type", "management"}}, key());
  ASSERT_TRUE(HasStatus(created, 201));

  ASSERT_TRUE(HasStatus(http_->Get("/api/v1/project", Str(created.json, "key")), 200));

  HttpResponse list = http_->Get("/api/v1/api-keys", key());
  bool found = false;
  for (const auto& k : DataOf(list)) {
    if (Str(k, "id") == Str(created.json, "id")) {
      found = true;
      const json::value* used = Member(k, "last_used_at");
      EXPECT_TRUE(used != nullptr && used->is_string()) << list.body;
    }
  }
  EXPECT_TRUE(found) << list.body;
}

TEST_F(ApiKeysTest, CreateRejectsBadTypeAndBadBodies) {
  EXPECT_TRUE(IsError(
      http_->Post("/api/v1/api-keys", json::object{{"name", "x"}, {"type", "admin"}}, key()), 422,
      "invalid", "type"));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/api-keys", json::object{{"name", "x"}, {"type", 1}}, key()), 422,
              "invalid", "type"));
  EXPECT_TRUE(IsError(
      http_->Post("/api/v1/api-keys", json::object{{"name", 7}, {"type", "management"}}, key()),
      422, "invalid", "name"));
  EXPECT_TRUE(
      IsError(http_->SendRaw("POST", "/api/v1/api-keys", "not json", "application/json", key()),
              400, "malformed"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/api-keys", json::array{}, key()), 400, "malformed"));
}

}  // namespace
}  // namespace xoal::testing
