// Authentication and key types (docs/api.md, Conventions; SPEC, Tenancy and keys).
#include <regex>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

class AuthTest : public XoalTest {
 protected:
  // Creates a key through the API with alpha's management key; returns the whole answer.
  HttpResponse CreateKey(std::string_view name, std::string_view type) {
    return http_->Post("/api/v1/api-keys", json::object{{"name", name}, {"type", type}}, key());
  }

  HttpResponse GetWithAuthorization(std::string_view target, std::string authorization) {
    return http_->Request("GET", target, {}, {{"Authorization", std::move(authorization)}});
  }
};

TEST_F(AuthTest, MissingKeyIs401) {
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers"), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/project"), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/customers", json::object{{"user_id", "u-1"}}), 401,
                      "unauthenticated"));
}

TEST_F(AuthTest, MalformedBearerIs401) {
  for (std::string authorization :
       {std::string("Basic ") + key(), key(), std::string("Bearer"), std::string("Bearer "),
        "Bearer  " + key() + " extra", std::string("Bearer sk_short")}) {
    EXPECT_TRUE(
        IsError(GetWithAuthorization("/api/v1/project", authorization), 401, "unauthenticated"))
        << "Authorization: " << authorization;
  }
}

// Two keys in one request are ambiguous: refused whichever comes first, valid or not.
TEST_F(AuthTest, TwoAuthorizationHeadersAre400) {
  std::string unknown = "Bearer sk_" + std::string(32, 'a');

  HttpResponse valid_first =
      http_->Request("GET", "/api/v1/project", {},
                     {{"Authorization", "Bearer " + key()}, {"Authorization", unknown}});
  HttpResponse unknown_first =
      http_->Request("GET", "/api/v1/project", {},
                     {{"Authorization", unknown}, {"Authorization", "Bearer " + key()}});

  EXPECT_TRUE(IsError(valid_first, 400, "malformed"));
  EXPECT_TRUE(IsError(unknown_first, 400, "malformed"));
  EXPECT_TRUE(HasStatus(GetWithAuthorization("/api/v1/project", "Bearer " + key()), 200));
}

TEST_F(AuthTest, UnknownKeyIs401) {
  std::string unknown = "sk_" + std::string(32, 'a');
  ASSERT_NE(unknown, key());

  EXPECT_TRUE(IsError(http_->Get("/api/v1/project", unknown), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(
      http_->Post("/ingest/v1/event", json::object{{"event", "x"}}, "ing_" + std::string(32, 'b')),
      401, "unauthenticated"));
}

TEST_F(AuthTest, IngestionKeyOnManagementApiIs403) {
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers", alpha_.ingestion_key), 403, "forbidden"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/api-keys", alpha_.ingestion_key), 403, "forbidden"));
  EXPECT_TRUE(IsError(
      http_->Post("/api/v1/customers", json::object{{"user_id", "u-1"}}, alpha_.ingestion_key), 403,
      "forbidden"));
  // The refused write left nothing behind.
  HttpResponse lookup = http_->Get("/api/v1/customers/lookup?user_id=u-1", key());
  EXPECT_TRUE(IsError(lookup, 404, "not_found"));
}

TEST_F(AuthTest, ManagementKeyOnIngestionApiIs403) {
  HttpResponse r = http_->Post(
      "/ingest/v1/event",
      json::object{{"event", "signed up"}, {"properties", json::object{{"userId", "u-1"}}}}, key());

  EXPECT_TRUE(IsError(r, 403, "forbidden"));
}

TEST_F(AuthTest, KeysFromProjectCreateHaveDocumentedFormat) {
  EXPECT_TRUE(std::regex_match(alpha_.management_key, std::regex("sk_[a-z0-9]{32}")))
      << alpha_.management_key;
  EXPECT_TRUE(std::regex_match(alpha_.ingestion_key, std::regex("ing_[a-z0-9]{32}")))
      << alpha_.ingestion_key;
}

TEST_F(AuthTest, KeyRevokedThroughApiIsRefusedAtOnce) {
  HttpResponse created = CreateKey("ci", "management");
  ASSERT_TRUE(HasStatus(created, 201));
  std::string secret = Str(created.json, "key");
  std::string id = Str(created.json, "id");
  auto other = NewClient();  // a second keep-alive connection that already used the key
  ASSERT_TRUE(HasStatus(other->Get("/api/v1/project", secret), 200));

  HttpResponse revoked = http_->Delete("/api/v1/api-keys/" + UrlEncode(id), key());

  ASSERT_TRUE(HasStatus(revoked, 200));
  EXPECT_EQ(Str(revoked.json, "id"), id);
  const json::value* revoked_at = Member(revoked.json, "revoked_at");
  ASSERT_NE(revoked_at, nullptr) << revoked.body;
  EXPECT_TRUE(revoked_at->is_string()) << revoked.body;
  EXPECT_EQ(Member(revoked.json, "key"), nullptr) << "the secret is shown again: " << revoked.body;
  EXPECT_TRUE(IsError(other->Get("/api/v1/project", secret), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers", secret), 401, "unauthenticated"));
  // The key that revoked it still works.
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/project", key()), 200));
}

TEST_F(AuthTest, RevokedIngestionKeyIsRefused) {
  HttpResponse created = CreateKey("tracker", "ingestion");
  ASSERT_TRUE(HasStatus(created, 201));
  std::string secret = Str(created.json, "key");
  EXPECT_TRUE(std::regex_match(secret, std::regex("ing_[a-z0-9]{32}"))) << secret;

  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/api-keys/" + Str(created.json, "id"), key()), 200));

  // Revoked beats wrong type: the key no longer exists for any endpoint.
  EXPECT_TRUE(IsError(http_->Get("/api/v1/project", secret), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(http_->Post("/ingest/v1/event", json::object{{"event", "x"}}, secret), 401,
                      "unauthenticated"));
}

TEST_F(AuthTest, KeyRevokedThroughCliIsRefusedByRunningServer) {
  CliResult created =
      xoal_.RunCli({"keys", "create", "--data-dir", xoal_.data_dir(), "--project",
                    alpha_.project_id, "--type", "management", "--name", "ops", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  json::value v = ParseJsonOrFail(created.out);
  std::string id = Str(v, "id");
  std::string secret = Str(v, "key");
  ASSERT_TRUE(std::regex_match(secret, std::regex("sk_[a-z0-9]{32}"))) << created.out;
  ASSERT_TRUE(HasStatus(http_->Get("/api/v1/project", secret), 200));

  CliResult revoked = xoal_.RunCli({"keys", "revoke", "--data-dir", xoal_.data_dir(), id});

  ASSERT_EQ(revoked.exit_code, 0) << revoked.out << revoked.err;
  EXPECT_TRUE(IsError(http_->Get("/api/v1/project", secret), 401, "unauthenticated"));
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/project", key()), 200));
}

TEST_F(AuthTest, KeyRevokedThroughCliWhileStoppedStaysRevoked) {
  CliResult list = xoal_.RunCli(
      {"keys", "list", "--data-dir", xoal_.data_dir(), "--project", alpha_.project_id, "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json::value keys = ParseJsonOrFail(list.out);
  ASSERT_TRUE(keys.is_array()) << list.out;
  std::string ingestion_id;
  for (const auto& k : keys.get_array()) {
    if (Str(k, "type") == "ingestion") {
      ingestion_id = Str(k, "id");
    }
  }
  ASSERT_FALSE(ingestion_id.empty()) << list.out;
  ASSERT_EQ(xoal_.Stop(), 0);

  CliResult revoked =
      xoal_.RunCli({"keys", "revoke", "--data-dir", xoal_.data_dir(), ingestion_id});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.out << revoked.err;
  ASSERT_TRUE(xoal_.Start());
  HttpClient http("127.0.0.1", xoal_.port());

  EXPECT_TRUE(
      IsError(http.Post("/ingest/v1/event", json::object{{"event", "x"}}, alpha_.ingestion_key),
              401, "unauthenticated"));
  HttpResponse api_list = http.Get("/api/v1/api-keys", key());
  ASSERT_TRUE(HasStatus(api_list, 200));
  bool found = false;
  for (const auto& k : DataOf(api_list)) {
    if (Str(k, "id") == ingestion_id) {
      found = true;
      EXPECT_TRUE(Member(k, "revoked_at") && Member(k, "revoked_at")->is_string()) << api_list.body;
    }
  }
  EXPECT_TRUE(found) << api_list.body;
}

TEST_F(AuthTest, RevokingUnknownKeyIdIs404) {
  EXPECT_TRUE(
      IsError(http_->Delete("/api/v1/api-keys/key_does_not_exist", key()), 404, "not_found"));
}

TEST_F(AuthTest, CliKeysListNeverShowsSecrets) {
  CliResult list = xoal_.RunCli(
      {"keys", "list", "--data-dir", xoal_.data_dir(), "--project", alpha_.project_id, "--json"});

  ASSERT_EQ(list.exit_code, 0) << list.err;
  json::value keys = ParseJsonOrFail(list.out);
  ASSERT_TRUE(keys.is_array()) << list.out;
  EXPECT_EQ(keys.get_array().size(), 2u) << list.out;
  EXPECT_EQ(list.out.find(alpha_.management_key), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(alpha_.ingestion_key), std::string::npos) << list.out;
}

}  // namespace
}  // namespace xoal::testing
