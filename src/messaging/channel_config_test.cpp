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

}  // namespace
}  // namespace xoal::messaging
