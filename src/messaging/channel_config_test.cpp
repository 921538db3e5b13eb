#include "messaging/channel_config.hpp"

#include <gtest/gtest.h>

namespace xoal::messaging {
namespace {

json::object Smtp(json::object extra = {}) {
  json::object smtp{{"host", "smtp.example.com"}, {"port", 587}, {"tls", "starttls"}};
  for (auto& [k, v] : extra) smtp[k] = v;
  return smtp;
}

TEST(MaskSecretTest, ShowsOnlyTheLastTwoOfLongSecrets) {
  EXPECT_EQ(MaskSecret("abcdefgh"), "••••gh");
  EXPECT_EQ(MaskSecret("short"), "••••");
  EXPECT_EQ(MaskSecret(""), "••••");
}

TEST(ValidateChannelConfigTest, EmailFillsDefaultsAndConverts) {
  auto stored = ValidateChannelConfig(
      Channel::kEmail, {{"from", "a@example.com"}, {"smtp", json::object{{"host", "h"}}}}, {});

  ASSERT_TRUE(stored.ok()) << stored.status().message();
  auto config = EmailConfigFrom(*stored);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->host, "h");
  EXPECT_EQ(config->port, 587);
  EXPECT_EQ(config->tls, channels::SmtpTls::kStartTls);
}

TEST(ValidateChannelConfigTest, MaskedOrMissingSecretKeepsThePrevious) {
  json::object previous{{"from", "a@example.com"},
                        {"smtp", Smtp({{"username", "u"}, {"password", "old-password"}})}};

  auto masked = ValidateChannelConfig(
      Channel::kEmail,
      {{"from", "a@example.com"}, {"smtp", Smtp({{"username", "u"}, {"password", "••••rd"}})}},
      previous);
  auto missing = ValidateChannelConfig(
      Channel::kEmail, {{"from", "a@example.com"}, {"smtp", Smtp({{"username", "u"}})}}, previous);
  auto replaced = ValidateChannelConfig(
      Channel::kEmail,
      {{"from", "a@example.com"}, {"smtp", Smtp({{"username", "u"}, {"password", "new"}})}},
      previous);

  ASSERT_TRUE(masked.ok() && missing.ok() && replaced.ok());
  EXPECT_EQ(EmailConfigFrom(*masked)->password, "old-password");
  EXPECT_EQ(EmailConfigFrom(*missing)->password, "old-password");
  EXPECT_EQ(EmailConfigFrom(*replaced)->password, "new");
}

TEST(ValidateChannelConfigTest, UsernameWithoutAnyPasswordNamesThePassword) {
  auto r = ValidateChannelConfig(
      Channel::kEmail, {{"from", "a@example.com"}, {"smtp", Smtp({{"username", "u"}})}}, {});

  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "smtp.password");
}

TEST(ChannelConfigToJsonTest, NeverContainsASecret) {
  json::object sms{{"base_url", "https://x"},
                   {"account_sid", "AC1"},
                   {"auth_token", "tok-secret-99"},
                   {"from", "+1"}};

  std::string shown = json::serialize(ChannelConfigToJson(Channel::kSms, sms));

  EXPECT_EQ(shown.find("tok-secret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("••••99"), std::string::npos) << shown;
}

json::object EmailWithLookup(json::value url, json::value headers = nullptr) {
  json::object body{{"from", "a@example.com"}, {"smtp", Smtp()}, {"lookup_url", url}};
  if (!headers.is_null()) body["lookup_headers"] = headers;
  return body;
}

TEST(ValidateChannelConfigTest, EmailLookupConvertsAndMasksItsHeaders) {
  auto stored = ValidateChannelConfig(
      Channel::kEmail,
      EmailWithLookup("https://api.example/v1/{message_id}",
                      json::object{{"Authorization", "Bearer lookup-secret-77"}}),
      {});

  ASSERT_TRUE(stored.ok()) << stored.status().message();
  auto config = EmailConfigFrom(*stored);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->lookup_url, "https://api.example/v1/{message_id}");
  ASSERT_EQ(config->lookup_headers.size(), 1u);
  EXPECT_EQ(config->lookup_headers[0].first, "Authorization");
  EXPECT_EQ(config->lookup_headers[0].second, "Bearer lookup-secret-77");
  std::string shown = json::serialize(ChannelConfigToJson(Channel::kEmail, *stored));
  EXPECT_EQ(shown.find("lookup-secret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("••••77"), std::string::npos) << shown;
}

TEST(ValidateChannelConfigTest, MaskedOrMissingLookupHeadersKeepThePrevious) {
  auto previous = ValidateChannelConfig(
      Channel::kEmail,
      EmailWithLookup("https://h/{message_id}", json::object{{"Authorization", "Basic old-key-1"}}),
      {});
  ASSERT_TRUE(previous.ok());

  auto masked = ValidateChannelConfig(
      Channel::kEmail,
      EmailWithLookup("https://h/{message_id}", json::object{{"Authorization", "••••-1"}}),
      *previous);
  auto missing =
      ValidateChannelConfig(Channel::kEmail, EmailWithLookup("https://h/{message_id}"), *previous);
  auto cleared = ValidateChannelConfig(
      Channel::kEmail, EmailWithLookup("https://h/{message_id}", json::object{}), *previous);

  ASSERT_TRUE(masked.ok() && missing.ok() && cleared.ok());
  EXPECT_EQ(EmailConfigFrom(*masked)->lookup_headers.at(0).second, "Basic old-key-1");
  EXPECT_EQ(EmailConfigFrom(*missing)->lookup_headers.at(0).second, "Basic old-key-1");
  EXPECT_TRUE(EmailConfigFrom(*cleared)->lookup_headers.empty());
}

TEST(ValidateChannelConfigTest, BadLookupIsRejectedNamingTheField) {
  auto field = [](json::value url, json::value headers = nullptr) {
    auto r = ValidateChannelConfig(Channel::kEmail, EmailWithLookup(url, headers), {});
    return r.ok() ? std::string("ok") : r.status().field();
  };

  EXPECT_EQ(field("ftp://h/{message_id}"), "lookup_url");
  EXPECT_EQ(field("https://h/messages"), "lookup_url");  // no placeholder
  EXPECT_EQ(field(42), "lookup_url");
  EXPECT_EQ(field("https://h/{message_id}", "Bearer x"), "lookup_headers");
  EXPECT_EQ(field("https://h/{message_id}", json::object{{"X-Key", 1}}), "lookup_headers.X-Key");
  EXPECT_EQ(field("https://h/{message_id}", json::object{{"Bad Name", "v"}}),
            "lookup_headers.Bad Name");
  EXPECT_EQ(field(nullptr), "ok");  // no lookup: today's behaviour
  // Credentials go in the write-only headers, not in the URL that reads show.
  EXPECT_EQ(field("https://api:KEY-123@h/{message_id}"), "lookup_url");
  EXPECT_EQ(field("http:///{message_id}"), "lookup_url");  // no host
  EXPECT_EQ(field("https://{message_id}"), "lookup_url");  // a placeholder as the host
  EXPECT_EQ(field("https://h:8080/m/{message_id}"), "ok");
  EXPECT_EQ(field(nullptr, json::object{{"Authorization", "Bearer x"}}), "lookup_headers");
  EXPECT_EQ(field("", json::object{{"Authorization", "Bearer x"}}), "lookup_headers");
}

}  // namespace
}  // namespace xoal::messaging
