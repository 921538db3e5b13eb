#include "channels/push.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <map>
#include <memory>

#include "channels/testing/http_fake.hpp"
#include "channels/testing/loopback.hpp"
#include "common/crypto.hpp"
#include "common/json.hpp"

namespace xoal::channels {
namespace {

using testing::FakeReply;
using testing::HttpFake;
using testing::RecordedRequest;

const SystemTime kNow = FromEpochMillis(1796292000000);  // Thu, 03 Dec 2026 10:00:00 UTC
constexpr int64_t kNowSeconds = 1796292000;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A fresh RSA key per test run, never committed: the private half as PKCS#8 PEM (what a Google
// key file holds) and the key itself to verify signatures with.
struct TestKey {
  Pkey key;
  std::string pem;
};

TestKey MakeRsaKey() {
  TestKey k;
  k.key.reset(EVP_RSA_gen(2048));
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  k.pem.assign(data, static_cast<size_t>(len));
  BIO_free(bio);
  return k;
}

bool VerifyRs256(EVP_PKEY* key, const std::string& data, const std::string& signature) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

json::object JsonObject(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok() && v->is_object()) << text;
  return v.ok() && v->is_object() ? v->as_object() : json::object();
}

json::object JwtPart(const std::string& part) {
  std::string decoded;
  EXPECT_TRUE(Base64UrlDecode(part, decoded));
  return JsonObject(decoded);
}

class PushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { key_ = new TestKey(MakeRsaKey()); }
  static void TearDownTestSuite() { delete key_; }

  void SetUp() override {
    ASSERT_TRUE(token_server_.Start().ok());
    ASSERT_TRUE(fcm_.Start().ok());
    token_server_.SetHandler([this](const RecordedRequest&) {
      ++tokens_issued_;
      return FakeReply{200,
                       {{"Content-Type", "application/json"}},
                       R"({"access_token":"ya29.test-)" + std::to_string(tokens_issued_) +
                           R"(","expires_in":3600,"token_type":"Bearer"})"};
    });
    fcm_.SetHandler([](const RecordedRequest&) {
      return FakeReply{200, {}, R"({"name":"projects/proj-1/messages/0:1"})"};
    });
    config_.base_url = fcm_.base_url();
    config_.project_id = "proj-1";
    config_.service_account.client_email = "xoal@proj-1.iam.gserviceaccount.com";
    config_.service_account.private_key = key_->pem;
    config_.service_account.private_key_id = "kid-1";
    config_.service_account.token_uri = token_server_.base_url() + "/token";
    config_.timeouts = {std::chrono::milliseconds(2000), std::chrono::milliseconds(5000)};
  }

  PushMessage Message() {
    return {"device-token-abc",
            "Your order shipped",
            "Zoë, it arrives Friday",
            {{"order_id", "o-17"}, {"deep_link", "app://orders/o-17"}}};
  }

  std::string BearerOf(size_t fcm_request) {
    return fcm_.requests().at(fcm_request).Header("Authorization").value_or("");
  }

  static TestKey* key_;
  HttpFake token_server_;
  HttpFake fcm_;
  int tokens_issued_ = 0;  // touched only by the token server's thread while a Send runs
  FakeClock clock_{kNow};
  FcmPushSender sender_{clock_};
  PushConfig config_;
};

TestKey* PushTest::key_ = nullptr;

// The token exchange carries a well-formed RS256 JWT that verifies with the account's public key.
TEST_F(PushTest, ExchangesSignedJwtForAccessToken) {
  SendResult r = sender_.Send(Message(), "msg-1", config_);

  ASSERT_EQ(r.outcome, Outcome::kSent) << r.reason << " " << r.answer.error << r.answer.body;
  ASSERT_EQ(token_server_.requests().size(), 1u);
  RecordedRequest exchange = token_server_.requests()[0];
  EXPECT_EQ(exchange.method, "POST");
  EXPECT_EQ(exchange.target, "/token");
  EXPECT_EQ(exchange.Header("Content-Type"), "application/x-www-form-urlencoded");
  auto form = exchange.FormFields();
  EXPECT_EQ(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");

  std::string jwt = form["assertion"];
  size_t dot1 = jwt.find('.');
  size_t dot2 = jwt.find('.', dot1 + 1);
  ASSERT_NE(dot2, std::string::npos);
  json::object header = JwtPart(jwt.substr(0, dot1));
  json::object claims = JwtPart(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["typ"], "JWT");
  EXPECT_EQ(header["kid"], "kid-1");
  EXPECT_EQ(claims["iss"], "xoal@proj-1.iam.gserviceaccount.com");
  EXPECT_EQ(claims["scope"], "https://www.googleapis.com/auth/firebase.messaging");
  EXPECT_EQ(claims["aud"], json::value(config_.service_account.token_uri));
  EXPECT_EQ(claims["iat"], kNowSeconds);
  EXPECT_EQ(claims["exp"], kNowSeconds + 3600);
  std::string signature;
  ASSERT_TRUE(Base64UrlDecode(jwt.substr(dot2 + 1), signature));
  EXPECT_TRUE(VerifyRs256(key_->key.get(), jwt.substr(0, dot2), signature));
  EXPECT_FALSE(VerifyRs256(key_->key.get(), jwt.substr(0, dot2) + "x", signature));
}

TEST_F(PushTest, SendsFcmV1MessageWithBearerToken) {
  SendResult r = sender_.Send(Message(), "msg-2", config_);

  ASSERT_EQ(r.outcome, Outcome::kSent) << r.reason;
  EXPECT_EQ(r.provider_message_id, "projects/proj-1/messages/0:1");
  ASSERT_EQ(fcm_.requests().size(), 1u);
  RecordedRequest send = fcm_.requests()[0];
  EXPECT_EQ(send.method, "POST");
  EXPECT_EQ(send.target, "/v1/projects/proj-1/messages:send");
  EXPECT_EQ(send.Header("Authorization"), "Bearer ya29.test-1");
  EXPECT_EQ(send.Header("X-Xoal-Idempotency-Key"), "msg-2");
  json::object body = JsonObject(send.body);
  // The collapse ids are sha256("msg-2")[:32]: the same on every attempt of the message.
  json::object expected = JsonObject(R"({"message": {"token": "device-token-abc",
      "notification": {"title": "Your order shipped", "body": "Zoë, it arrives Friday"},
      "data": {"order_id": "o-17", "deep_link": "app://orders/o-17"},
      "android": {"collapse_key": "95a0deee3cd5e09eb02e66df7e744cc3"},
      "apns": {"headers": {"apns-collapse-id": "95a0deee3cd5e09eb02e66df7e744cc3"}},
      "webpush": {"headers": {"Topic": "95a0deee3cd5e09eb02e66df7e744cc3"}}}})");
  EXPECT_EQ(body, expected);
}

// A repeated send of one message (an in-doubt attempt sent again after a crash) carries the same
// collapse ids, so the device replaces the first notification; another message gets others.
TEST_F(PushTest, RepeatedSendCarriesTheSameCollapseIds) {
  ASSERT_TRUE(sender_.Send(Message(), "msg-7", config_).sent());
  ASSERT_TRUE(sender_.Send(Message(), "msg-7", config_).sent());
  ASSERT_TRUE(sender_.Send(Message(), "msg-8", config_).sent());

  auto requests = fcm_.requests();
  ASSERT_EQ(requests.size(), 3u);
  auto collapse = [&](size_t i, const char* pointer) {
    json::value v = json::value(JsonObject(requests[i].body));
    return std::string(v.at_pointer(pointer).as_string());
  };
  for (const char* p : {"/message/android/collapse_key", "/message/apns/headers/apns-collapse-id",
                        "/message/webpush/headers/Topic"}) {
    EXPECT_EQ(collapse(0, p), CollapseIdFor("msg-7")) << p;
    EXPECT_EQ(collapse(1, p), CollapseIdFor("msg-7")) << p;
    EXPECT_EQ(collapse(2, p), CollapseIdFor("msg-8")) << p;
  }
  EXPECT_NE(CollapseIdFor("msg-7"), CollapseIdFor("msg-8"));
  EXPECT_EQ(CollapseIdFor("msg-7").size(), 32u);  // Web Push Topic: at most 32 characters
}

TEST_F(PushTest, DataOnlyMessageHasNoNotification) {
  PushMessage m = Message();
  m.title.clear();
  m.body.clear();

  ASSERT_TRUE(sender_.Send(m, "msg-3", config_).sent());

  json::object message = JsonObject(fcm_.requests().at(0).body)["message"].as_object();
  EXPECT_FALSE(message.contains("notification"));
  EXPECT_TRUE(message.contains("data"));
}

// One exchange serves later sends until a minute before expiry on the injected clock.
TEST_F(PushTest, CachesTokenUntilShortlyBeforeExpiry) {
  ASSERT_TRUE(sender_.Send(Message(), "a", config_).sent());
  clock_.Advance(std::chrono::seconds(3500));
  ASSERT_TRUE(sender_.Send(Message(), "b", config_).sent());
  EXPECT_EQ(token_server_.requests().size(), 1u);

  clock_.Advance(std::chrono::seconds(41));  // 3541 s: inside the last minute
  ASSERT_TRUE(sender_.Send(Message(), "c", config_).sent());

  EXPECT_EQ(token_server_.requests().size(), 2u);
  EXPECT_EQ(BearerOf(1), "Bearer ya29.test-1");
  EXPECT_EQ(BearerOf(2), "Bearer ya29.test-2");
}

// FCM rejecting a cached token: one fresh exchange and one more send, within the same attempt.
TEST_F(PushTest, RevokedCachedTokenIsReplacedOnce) {
  ASSERT_TRUE(sender_.Send(Message(), "a", config_).sent());
  fcm_.Enqueue({401, {}, R"({"error":{"status":"UNAUTHENTICATED"}})"});

  SendResult r = sender_.Send(Message(), "b", config_);

  EXPECT_EQ(r.outcome, Outcome::kSent);
  EXPECT_EQ(token_server_.requests().size(), 2u);
  ASSERT_EQ(fcm_.requests().size(), 3u);
  EXPECT_EQ(BearerOf(2), "Bearer ya29.test-2");
}

TEST_F(PushTest, UnregisteredDeviceIsPermanent) {
  std::string answer =
      R"({"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}})";
  fcm_.Enqueue({404, {}, answer});

  SendResult r = sender_.Send(Message(), "msg-4", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "http_404");
  EXPECT_EQ(r.answer.body, answer);
}

TEST_F(PushTest, QuotaExceededIsTemporaryWithRetryAfter) {
  fcm_.Enqueue({429, {{"Retry-After", "30"}}, R"({"error":{"status":"RESOURCE_EXHAUSTED"}})"});

  SendResult r = sender_.Send(Message(), "msg-5", config_);

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(30));
}

TEST_F(PushTest, FcmServerErrorIsTemporary) {
  fcm_.Enqueue({500, {}, "{}"});

  EXPECT_EQ(sender_.Send(Message(), "msg-6", config_).reason, "http_500");
}

TEST_F(PushTest, RejectedAssertionIsPermanentAndSendsNothing) {
  token_server_.Enqueue(
      {400, {}, R"({"error":"invalid_grant","error_description":"Invalid JWT"})"});

  SendResult r = sender_.Send(Message(), "msg-7", config_);

  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(r.reason, "oauth_http_400");
  EXPECT_NE(r.answer.body.find("invalid_grant"), std::string::npos);
  EXPECT_TRUE(fcm_.requests().empty());
}

TEST_F(PushTest, UnreachableTokenEndpointIsTemporary) {
  config_.service_account.token_uri =
      "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort()) + "/token";

  SendResult r = sender_.Send(Message(), "msg-8", config_);

  EXPECT_EQ(r.outcome, Outcome::kTemporaryFailure);
  EXPECT_EQ(r.reason, "oauth_connect_failed");
}

TEST_F(PushTest, TokenAnswerWithoutAccessTokenIsPermanent) {
  token_server_.Enqueue({200, {}, "<html>not a token endpoint</html>"});

  SendResult r = sender_.Send(Message(), "msg-9", config_);

  EXPECT_EQ(r.reason, "oauth_bad_response");
  EXPECT_EQ(r.outcome, Outcome::kPermanentFailure);
}

TEST_F(PushTest, UnreadablePrivateKeyIsInvalidConfig) {
  config_.service_account.private_key =
      "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";

  SendResult r = sender_.Send(Message(), "msg-10", config_);

  EXPECT_EQ(r.reason, "invalid_config");
  EXPECT_TRUE(token_server_.requests().empty());
}

TEST(ServiceAccountTest, ParsesKeyFileAndNamesMissingFields) {
  auto full = ParseJson(R"({"type":"service_account","project_id":"p","private_key_id":"k",
      "private_key":"PEM","client_email":"a@p.iam.gserviceaccount.com",
      "token_uri":"https://oauth2.googleapis.com/token"})");
  auto missing = ParseJson(R"({"client_email":"a@p.iam.gserviceaccount.com"})");
  ASSERT_TRUE(full.ok() && missing.ok());

  auto account = ParseServiceAccount(*full);
  auto error = ParseServiceAccount(*missing);

  ASSERT_TRUE(account.ok());
  EXPECT_EQ(account->client_email, "a@p.iam.gserviceaccount.com");
  EXPECT_EQ(account->private_key_id, "k");
  EXPECT_EQ(account->token_uri, "https://oauth2.googleapis.com/token");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().field(), "private_key");
}

}  // namespace
}  // namespace xoal::channels
