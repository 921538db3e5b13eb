// Channel configuration (SPEC "Shapes", Channels): round trips, write-only secrets shown masked,
// secrets kept when a PUT omits them or sends the masked text back, and 422s naming the field.
#include "integration/messaging_fixture.hpp"

namespace xoal::testing {
namespace {

using MessagingChannelsTest = MessagingTest;

TEST_F(MessagingChannelsTest, UnconfiguredChannelReadsAsNotConfigured) {
  HttpResponse r = http_->Get("/api/v1/channels/email", key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/configured"), "false");
  EXPECT_TRUE(IsError(http_->Get("/api/v1/channels/fax", key()), 404, "not_found"));
}

TEST_F(MessagingChannelsTest, EmailRoundTripMasksPassword) {
  json::object body{{"from", "News <news@example.com>"},
                    {"smtp", json::object{{"host", "smtp.example.com"},
                                          {"port", 465},
                                          {"tls", "tls"},
                                          {"username", "mailer"},
                                          {"password", "hunter2-secret"}}}};

  HttpResponse put = http_->Put("/api/v1/channels/email", body, key());
  HttpResponse get = http_->Get("/api/v1/channels/email", key());

  ASSERT_TRUE(HasStatus(put, 200));
  ASSERT_TRUE(HasStatus(get, 200));
  EXPECT_EQ(get.body.find("hunter2"), std::string::npos) << get.body;
  EXPECT_EQ(put.body.find("hunter2"), std::string::npos) << put.body;
  EXPECT_EQ(JsonAt(get.json, "/configured"), "true");
  EXPECT_EQ(JsonAt(get.json, "/from"), "\"News <news@example.com>\"");
  EXPECT_EQ(JsonAt(get.json, "/smtp/host"), "\"smtp.example.com\"");
  EXPECT_EQ(JsonAt(get.json, "/smtp/port"), "465");
  EXPECT_EQ(JsonAt(get.json, "/smtp/tls"), "\"tls\"");
  EXPECT_EQ(JsonAt(get.json, "/smtp/username"), "\"mailer\"");
  EXPECT_EQ(JsonAt(get.json, "/smtp/password"), "\"••••et\"");
}

TEST_F(MessagingChannelsTest, OmittedOrMaskedSecretKeepsTheStoredOne) {
  ConfigureSms("https://sms.example.com");
  HttpResponse first = http_->Get("/api/v1/channels/sms", key());
  ASSERT_TRUE(HasStatus(first, 200));
  json::object echoed = first.json.as_object();
  echoed.erase("channel");
  echoed.erase("configured");
  echoed["from"] = "+15559990000";

  HttpResponse masked_back = http_->Put("/api/v1/channels/sms", echoed, key());
  HttpResponse omitted =
      http_->Put("/api/v1/channels/sms",
                 json::object{{"account_sid", "AC123"}, {"from", "+15559990001"}}, key());

  ASSERT_TRUE(HasStatus(masked_back, 200));
  ASSERT_TRUE(HasStatus(omitted, 200));
  EXPECT_EQ(JsonAt(omitted.json, "/auth_token"), "\"••••42\"");
  EXPECT_EQ(JsonAt(omitted.json, "/from"), "\"+15559990001\"");
  EXPECT_EQ(JsonAt(omitted.json, "/base_url"), "\"https://api.twilio.com\"");
}

TEST_F(MessagingChannelsTest, PushHidesPrivateKeyAndWebhookMasksSecret) {
  ConfigurePush();
  ConfigureWebhook();

  HttpResponse push = http_->Get("/api/v1/channels/push", key());
  HttpResponse hook = http_->Get("/api/v1/channels/webhook", key());

  ASSERT_TRUE(HasStatus(push, 200));
  EXPECT_EQ(push.body.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(JsonAt(push.json, "/service_account/private_key/set"), "true");
  EXPECT_EQ(JsonAt(push.json, "/service_account/client_email"),
            "\"xoal@proj-1.iam.gserviceaccount.com\"");
  EXPECT_EQ(JsonAt(push.json, "/project_id"), "\"proj-1\"");
  ASSERT_TRUE(HasStatus(hook, 200));
  EXPECT_EQ(JsonAt(hook.json, "/secret"), "\"••••34\"");
}

// A host, account sid or project id that would change the provider URL (line breaks, spaces,
// slashes) is refused when it is configured, not later as a failed message per send.
TEST_F(MessagingChannelsTest, ValuesThatWouldBreakTheProviderUrlAre422) {
  auto put = [&](const std::string& channel, const json::object& body) {
    return http_->Put("/api/v1/channels/" + channel, body, key());
  };
  for (const char* host : {"h\r\nX: y", "a host", "h/x", "h?x", "u@h"}) {
    json::object smtp{{"host", host}, {"port", 25}, {"tls", "none"}};
    EXPECT_TRUE(
        IsError(put("email", {{"from", "a@b.c"}, {"smtp", smtp}}), 422, "invalid", "smtp.host"))
        << host;
  }
  for (const char* sid : {"../x", "AC 1", "AC1?x", "AC%2F"}) {
    EXPECT_TRUE(IsError(put("sms", {{"account_sid", sid}, {"auth_token", "t"}, {"from", "+1"}}),
                        422, "invalid", "account_sid"))
        << sid;
  }
  EXPECT_TRUE(HasStatus(
      put("email", {{"from", "a@b.c"}, {"smtp", {{"host", "127.0.0.1"}, {"port", 25}}}}), 200));
  EXPECT_TRUE(
      HasStatus(put("sms", {{"account_sid", "AC1"}, {"auth_token", "t"}, {"from", "+1"}}), 200));
}

// Review 5: base URLs were checked only for their scheme, so "http://", a URL with a line break,
// credentials (shown unmasked on every read) or a query (the provider path landed inside it) were
// stored and failed, or leaked, later.
TEST_F(MessagingChannelsTest, BaseUrlsThatCannotTakeAProviderPathAre422) {
  auto put = [&](const std::string& channel, const json::object& body) {
    return http_->Put("/api/v1/channels/" + channel, body, key());
  };
  auto sms = [](const char* base_url) {
    return json::object{
        {"base_url", base_url}, {"account_sid", "AC1"}, {"auth_token", "t"}, {"from", "+1"}};
  };
  ASSERT_TRUE(HasStatus(put("sms", sms("https://sms.example.com")), 200));

  for (const char* url :
       {"http://", "https://:443", "http://a b", "http://h\r\nX: y", "http://user:pw@h",
        "http://h/x?y=1", "http://h#f", "http://h:0", "http://h:99999", "http://h:x",
        "http://h:", "http://h/\"x", "http://h/<x>", "http://h\xc3\xa9"}) {
    EXPECT_TRUE(IsError(put("sms", sms(url)), 422, "invalid", "base_url")) << url;
    EXPECT_TRUE(
        IsError(put("push", {{"base_url", url}, {"project_id", "p1"}}), 422, "invalid", "base_url"))
        << url;
  }
  EXPECT_TRUE(IsError(put("sms", {{"account_sid", "AC1"}, {"auth_token", "t"}, {"from", "+1\nX"}}),
                      422, "invalid", "from"));

  HttpResponse get = http_->Get("/api/v1/channels/sms", key());
  ASSERT_TRUE(HasStatus(get, 200));
  EXPECT_EQ(Str(get.json, "base_url"), "https://sms.example.com");
  for (const char* url :
       {"http://127.0.0.1:8080/prefix/", "https://[::1]:8443", "https://sms.example.com:443/v"}) {
    EXPECT_TRUE(HasStatus(put("sms", sms(url)), 200)) << url;
  }
}

// Review 5: public_base_url "http://" was stored and every unsubscribe and tracking link became
// "http:///unsubscribe/...".
TEST_F(MessagingChannelsTest, PublicBaseUrlWithoutHostOrWithQueryIs422) {
  for (const char* url : {"http://", "https://links.example.com/?a=1", "https://u:p@x.example",
                          "https://links.example.com#top"}) {
    EXPECT_TRUE(IsError(http_->Patch("/api/v1/project", {{"public_base_url", url}}, key()), 422,
                        "invalid", "public_base_url"))
        << url;
  }
  HttpResponse ok =
      http_->Patch("/api/v1/project", {{"public_base_url", "https://links.example.com/x"}}, key());

  ASSERT_TRUE(HasStatus(ok, 200));
  EXPECT_EQ(Str(ok.json, "public_base_url"), "https://links.example.com/x");
}

TEST_F(MessagingChannelsTest, InvalidBodiesAre422NamingTheField) {
  auto put = [&](const std::string& channel, const json::object& body) {
    return http_->Put("/api/v1/channels/" + channel, body, key());
  };
  json::object smtp{{"host", "h"}, {"port", 25}, {"tls", "none"}};

  EXPECT_TRUE(IsError(put("email", {{"smtp", smtp}}), 422, "invalid", "from"));
  EXPECT_TRUE(
      IsError(put("email", {{"from", "no-at-sign"}, {"smtp", smtp}}), 422, "invalid", "from"));
  EXPECT_TRUE(IsError(put("email", {{"from", "a@b.c"}}), 422, "invalid", "smtp"));
  json::object bad_port = smtp;
  bad_port["port"] = 70000;
  EXPECT_TRUE(
      IsError(put("email", {{"from", "a@b.c"}, {"smtp", bad_port}}), 422, "invalid", "smtp.port"));
  json::object bad_tls = smtp;
  bad_tls["tls"] = "ssl3";
  EXPECT_TRUE(
      IsError(put("email", {{"from", "a@b.c"}, {"smtp", bad_tls}}), 422, "invalid", "smtp.tls"));
  json::object no_host = smtp;
  no_host.erase("host");
  EXPECT_TRUE(
      IsError(put("email", {{"from", "a@b.c"}, {"smtp", no_host}}), 422, "invalid", "smtp.host"));
  EXPECT_TRUE(
      IsError(put("sms", {{"account_sid", "AC1"}, {"from", "+1"}}), 422, "invalid", "auth_token"));
  EXPECT_TRUE(IsError(
      put("sms",
          {{"account_sid", "AC1"}, {"auth_token", "t"}, {"from", "+1"}, {"base_url", "ftp://x"}}),
      422, "invalid", "base_url"));
  EXPECT_TRUE(IsError(put("push", {{"project_id", "p"}}), 422, "invalid", "service_account"));
  EXPECT_TRUE(
      IsError(put("push", {{"project_id", "p"},
                           {"service_account",
                            json::object{{"client_email", "a@b"}, {"private_key", "not a pem"}}}}),
              422, "invalid", "service_account.private_key"));
  EXPECT_TRUE(IsError(put("webhook", {}), 422, "invalid", "secret"));
  EXPECT_TRUE(IsError(put("webhook", {{"secret", "s"}, {"extra", 1}}), 422, "invalid", "extra"));
}

}  // namespace
}  // namespace xoal::testing
