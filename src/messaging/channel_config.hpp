// Channel configuration of a project (SPEC "Shapes", Channels): validating a PUT body, the masked
// form reads return, and the typed sender configurations the outbox passes to src/channels.
//
// Stored form: the validated body with defaults filled in, secrets included in plain text (see
// docs/messaging.md for that limitation). Secrets are write-only: ChannelConfigToJson never
// returns them, and a PUT that omits a secret, or sends back the masked text a read gave, keeps
// the stored one. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "channels/email.hpp"
#include "channels/push.hpp"
#include "channels/sms.hpp"
#include "channels/webhook.hpp"
#include "common/json.hpp"
#include "common/status.hpp"

namespace xoal::messaging {

enum class Channel { kEmail, kSms, kPush, kWebhook };

// "email", "sms", "push", "webhook"; nullopt for anything else.
std::optional<Channel> ParseChannel(std::string_view name);
std::string_view ChannelName(Channel channel);

// "••••" plus the last two characters (all hidden when the secret has fewer than 8).
std::string MaskSecret(std::string_view secret);

// Checks a PUT body and returns the form to store. `previous` is the stored configuration, whose
// secrets are kept when the body omits them or sends their masked form back.
// Errors: kInvalidArgument naming the field ("smtp.port", "account_sid",
// "service_account.private_key", ...): missing, wrong type, out of range, unknown member.
Result<json::object> ValidateChannelConfig(Channel channel, const json::object& body,
                                           const std::optional<json::object>& previous);

// The stored configuration as reads show it: every secret masked.
json::object ChannelConfigToJson(Channel channel, const json::object& stored);

// Typed configurations from the stored form. Errors: kInvalidArgument when the stored form is
// unusable (written by an older version, say); the outbox records that as invalid_config.
Result<channels::EmailConfig> EmailConfigFrom(const json::object& stored);
Result<channels::SmsConfig> SmsConfigFrom(const json::object& stored);
Result<channels::PushConfig> PushConfigFrom(const json::object& stored);
Result<channels::WebhookConfig> WebhookConfigFrom(const json::object& stored);

}  // namespace xoal::messaging
