#include "integration/messaging_fixture.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cctype>
#include <thread>

namespace xoal::testing {
namespace {

constexpr std::chrono::milliseconds kPollInterval{20};

// A fresh 2048-bit RSA key as PKCS#8 PEM, as a Google service account key file holds it.
std::string MakeRsaPem() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

}  // namespace

std::string DecodeQp(std::string s) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && s.compare(i, 3, "=\r\n") == 0) {
      i += 2;
    } else if (s[i] == '=' && i + 2 < s.size() && hex(s[i + 1]) && hex(s[i + 2])) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string PathAfter(const std::string& text, const std::string& path_prefix) {
  size_t at = text.find(path_prefix);
  if (at == std::string::npos) return "";
  size_t end = text.find_first_of("\"'> \r\n", at);
  return text.substr(at, end - at);
}

std::string ListUnsubscribeUrl(const std::string& data) {
  const std::string header = "List-Unsubscribe: <";
  size_t at = data.find(header);
  if (at == std::string::npos) return "";
  at += header.size();
  return data.substr(at, data.find('>', at) - at);
}

void MessagingTest::SetUp() {
  ASSERT_TRUE(smtp_.Start().ok());
  ASSERT_TRUE(sms_.Start().ok());
  ASSERT_TRUE(oauth_.Start().ok());
  ASSERT_TRUE(fcm_.Start().ok());
  ASSERT_TRUE(hook_.Start().ok());
  sms_.SetHandler([](const channels::testing::RecordedRequest&) {
    return channels::testing::FakeReply{201, {}, R"({"sid":"SM1","status":"queued"})"};
  });
  oauth_.SetHandler([](const channels::testing::RecordedRequest&) {
    return channels::testing::FakeReply{
        200, {}, R"({"access_token":"ya29.fake","expires_in":3600,"token_type":"Bearer"})"};
  });
  fcm_.SetHandler([](const channels::testing::RecordedRequest&) {
    return channels::testing::FakeReply{200, {}, R"({"name":"projects/proj-1/messages/0:1"})"};
  });
  hook_.SetHandler([](const channels::testing::RecordedRequest&) {
    return channels::testing::FakeReply{200, {}, "{}"};
  });
  xoal_.set_serve_flags({"--test-clock"});
  XoalTest::SetUp();
}

namespace {

json::object EmailChannel(uint16_t smtp_port) {
  return json::object{
      {"from", "News <news@example.com>"},
      {"smtp", json::object{{"host", "127.0.0.1"}, {"port", smtp_port}, {"tls", "none"}}}};
}

}  // namespace

void MessagingTest::ConfigureEmail() {
  EXPECT_TRUE(
      HasStatus(http_->Put("/api/v1/channels/email", EmailChannel(smtp_.port()), key()), 200));
}

void MessagingTest::ConfigureEmailWithLookup(const std::string& lookup_url,
                                             const json::object& lookup_headers) {
  if (lookup_url.empty() && !smtp_lookup_started_) {
    ASSERT_TRUE(smtp_.StartLookup().ok());
    smtp_lookup_started_ = true;
  }
  json::object body = EmailChannel(smtp_.port());
  body["lookup_url"] = lookup_url.empty() ? smtp_.lookup_url() : lookup_url;
  body["lookup_headers"] = lookup_headers;
  EXPECT_TRUE(HasStatus(http_->Put("/api/v1/channels/email", body, key()), 200));
}

void MessagingTest::ConfigureSms(const std::string& base_url) {
  json::object body{{"base_url", base_url},
                    {"account_sid", "AC123"},
                    {"auth_token", "token-secret-42"},
                    {"from", "+15550001111"}};
  EXPECT_TRUE(HasStatus(http_->Put("/api/v1/channels/sms", body, key()), 200));
}

void MessagingTest::ConfigurePush() {
  if (private_key_pem_.empty()) private_key_pem_ = MakeRsaPem();
  json::object account{{"client_email", "xoal@proj-1.iam.gserviceaccount.com"},
                       {"private_key", private_key_pem_},
                       {"private_key_id", "kid-1"},
                       {"token_uri", oauth_.base_url() + "/token"}};
  json::object body{
      {"base_url", fcm_.base_url()}, {"project_id", "proj-1"}, {"service_account", account}};
  EXPECT_TRUE(HasStatus(http_->Put("/api/v1/channels/push", body, key()), 200));
}

void MessagingTest::ConfigureWebhook() {
  EXPECT_TRUE(HasStatus(
      http_->Put("/api/v1/channels/webhook", json::object{{"secret", "whsec-test-1234"}}, key()),
      200));
}

HttpResponse MessagingTest::Enqueue(const json::object& body) {
  return http_->Post("/api/v1/messages", body, key());
}

std::string MessagingTest::EnqueueOrFail(const json::object& body) {
  HttpResponse r = Enqueue(body);
  EXPECT_TRUE(HasStatus(r, 201));
  return Str(r.json, "id");
}

json::value MessagingTest::GetMessage(const std::string& id) {
  HttpResponse r = http_->Get("/api/v1/messages/" + id, key());
  EXPECT_TRUE(HasStatus(r, 200));
  return r.json;
}

json::value MessagingTest::WaitForMessage(const std::string& id,
                                          const std::function<bool(const json::value&)>& pred,
                                          std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  json::value m;
  while (true) {
    m = GetMessage(id);
    if (pred(m) || std::chrono::steady_clock::now() > deadline) return m;
    // Polling another process: there is nothing in it to wait on.
    std::this_thread::sleep_for(kPollInterval);
  }
}

json::value MessagingTest::WaitForStatus(const std::string& id, std::string_view status,
                                         int attempts) {
  json::value m = WaitForMessage(id, [&](const json::value& v) {
    return Str(v, "status") == status &&
           (attempts == 0 || JsonAt(v, "/attempts") == std::to_string(attempts));
  });
  EXPECT_EQ(Str(m, "status"), status) << json::serialize(m);
  if (attempts > 0) {
    EXPECT_EQ(JsonAt(m, "/attempts"), std::to_string(attempts));
  }
  return m;
}

void MessagingTest::AdvanceClock(std::chrono::milliseconds ms) {
  EXPECT_TRUE(HasStatus(
      http_->Post("/_test/clock", json::object{{"advance_ms", static_cast<int64_t>(ms.count())}}),
      200));
}

std::string MessagingTest::Ann() {
  return CreateCustomer(json::object{{"user_id", "ann-1"},
                                     {"email", "ann@example.com"},
                                     {"first_name", "Ann"},
                                     {"phone", "+15552223333"},
                                     {"push_token", "device-token-abc"}});
}

}  // namespace xoal::testing
