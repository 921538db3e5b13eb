#include "messaging/channel_config.hpp"

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

#include "channels/jwt.hpp"
#include "common/url.hpp"

namespace xoal::messaging {
namespace {

constexpr std::string_view kMaskPrefix = "••••";
constexpr size_t kMaxStringBytes = 2048;
constexpr size_t kMaxSecretBytes = 16 * 1024;  // a PEM private key fits

std::string Join(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
}

// Rejects members of `body` that are not in `allowed`, naming the first.
Status OnlyMembers(const json::object& body, std::initializer_list<std::string_view> allowed,
                   const std::string& prefix) {
  for (const auto& [k, v] : body) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(k)) == allowed.end()) {
      return Status::InvalidArgument("unknown member " + Join(prefix, k), Join(prefix, k));
    }
  }
  return Status::Ok();
}

// A string member: required unless `fallback` is given (used when absent or null).
Result<std::string> StringMember(const json::object& body, std::string_view name,
                                 const std::string& prefix,
                                 std::optional<std::string_view> fallback = std::nullopt) {
  std::string field = Join(prefix, name);
  auto it = body.find(name);
  if (it == body.end() || it->value().is_null()) {
    if (fallback) return std::string(*fallback);
    return Status::InvalidArgument(field + " is required", field);
  }
  if (!it->value().is_string()) return Status::InvalidArgument(field + " must be a string", field);
  std::string v(it->value().get_string());
  if (v.size() > kMaxStringBytes) {
    return Status::InvalidArgument(field + " is longer than 2048 bytes", field);
  }
  if (!fallback && v.empty()) return Status::InvalidArgument(field + " must not be empty", field);
  return v;
}

// A write-only member: a new value, or (absent, null or masked) the previous one.
Result<std::string> SecretMember(const json::object& body, std::string_view name,
                                 const std::string& prefix, const json::object* previous,
                                 bool required) {
  std::string field = Join(prefix, name);
  auto it = body.find(name);
  bool keep = it == body.end() || it->value().is_null() ||
              (it->value().is_string() && it->value().get_string().starts_with(kMaskPrefix));
  if (!keep) {
    if (!it->value().is_string()) {
      return Status::InvalidArgument(field + " must be a string", field);
    }
    std::string v(it->value().get_string());
    if (v.size() > kMaxSecretBytes) {
      return Status::InvalidArgument(field + " is longer than 16 KiB", field);
    }
    if (required && v.empty()) return Status::InvalidArgument(field + " must not be empty", field);
    return v;
  }
  if (previous) {
    if (auto p = previous->find(name); p != previous->end() && p->value().is_string()) {
      return std::string(p->value().get_string());
    }
  }
  if (required) return Status::InvalidArgument(field + " is required", field);
  return std::string();
}

// A value that goes into a provider URL as one host or path segment: nothing that would end
// it or start another part (the senders refuse the same values, but only at send time).
Status CheckUrlPart(const std::string& value, std::string_view forbidden,
                    const std::string& field) {
  bool control = std::any_of(value.begin(), value.end(),
                             [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  if (control || value.find_first_of(forbidden) != std::string::npos || value == "." ||
      value == "..") {
    return Status::InvalidArgument(
        field + " must not contain spaces, line breaks or URL separators such as / ? # %", field);
  }
  return Status::Ok();
}
constexpr std::string_view kHostForbidden = " /?#@%\\";
constexpr std::string_view kSegmentForbidden = " /?#%\\";

std::string Text(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                  : std::string();
}

const json::object* ObjectMember(const json::object* o, std::string_view name) {
  if (!o) return nullptr;
  auto it = o->find(name);
  return it != o->end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

Result<json::object> ValidateSmtp(const json::object& body, const json::object* previous) {
  auto it = body.find("smtp");
  if (it == body.end() || !it->value().is_object()) {
    return Status::InvalidArgument("smtp must be an object", "smtp");
  }
  const json::object& smtp = it->value().get_object();
  const std::string p = "smtp";
  XOAL_RETURN_IF_ERROR(OnlyMembers(smtp, {"host", "port", "tls", "username", "password"}, p));
  XOAL_ASSIGN_OR_RETURN(auto host, StringMember(smtp, "host", p));
  XOAL_RETURN_IF_ERROR(CheckUrlPart(host, kHostForbidden, "smtp.host"));
  int64_t port = 587;
  if (auto pi = smtp.find("port"); pi != smtp.end() && !pi->value().is_null()) {
    if (!pi->value().is_int64() || pi->value().get_int64() < 1 || pi->value().get_int64() > 65535) {
      return Status::InvalidArgument("smtp.port must be a whole number from 1 to 65535",
                                     "smtp.port");
    }
    port = pi->value().get_int64();
  }
  XOAL_ASSIGN_OR_RETURN(auto tls, StringMember(smtp, "tls", p, "starttls"));
  if (tls != "none" && tls != "starttls" && tls != "tls") {
    return Status::InvalidArgument("smtp.tls must be none, starttls or tls", "smtp.tls");
  }
  XOAL_ASSIGN_OR_RETURN(auto username, StringMember(smtp, "username", p, ""));
  XOAL_ASSIGN_OR_RETURN(auto password,
                        SecretMember(smtp, "password", p, ObjectMember(previous, "smtp"), false));
  if (!username.empty() && password.empty()) {
    return Status::InvalidArgument("smtp.password is required with a username", "smtp.password");
  }
  return json::object{
      {"host", host}, {"port", port}, {"tls", tls}, {"username", username}, {"password", password}};
}

// lookup_headers: header name to value, every value write-only. Absent or null keeps the stored
// headers; a masked value keeps that header's stored value; {} removes them all.
Result<json::object> ValidateLookupHeaders(const json::object& body, const json::object* previous) {
  auto it = body.find("lookup_headers");
  const json::object* stored = ObjectMember(previous, "lookup_headers");
  if (it == body.end() || it->value().is_null()) return stored ? *stored : json::object();
  if (!it->value().is_object()) {
    return Status::InvalidArgument("lookup_headers must be an object of header names to values",
                                   "lookup_headers");
  }
  json::object headers;
  for (const auto& [name, v] : it->value().get_object()) {
    XOAL_ASSIGN_OR_RETURN(auto value,
                          SecretMember(it->value().get_object(), name, "lookup_headers", stored,
                                       /*required=*/true));
    headers[name] = value;
  }
  return headers;
}

// The provider lookup that settles a send a crash interrupted (docs/messaging.md "Crashes and
// duplicates"): members added to `out` only when lookup_url is set.
Status ValidateLookup(const json::object& body, const json::object* previous, json::object& out) {
  XOAL_ASSIGN_OR_RETURN(auto url, StringMember(body, "lookup_url", "", ""));
  if (url.empty()) {
    const json::value* h = body.if_contains("lookup_headers");
    if (h && !h->is_null() && !(h->is_object() && h->get_object().empty())) {
      return Status::InvalidArgument("lookup_headers go with a lookup_url", "lookup_headers");
    }
    return Status::Ok();
  }
  XOAL_ASSIGN_OR_RETURN(auto headers, ValidateLookupHeaders(body, previous));
  std::vector<std::pair<std::string, std::string>> list;
  for (const auto& [name, v] : headers) {
    list.emplace_back(std::string(name), std::string(v.get_string()));  // SecretMember: strings
  }
  XOAL_RETURN_IF_ERROR(channels::ValidateEmailLookup(url, list));
  out["lookup_url"] = url;
  out["lookup_headers"] = std::move(headers);
  return Status::Ok();
}

Result<json::object> ValidateEmail(const json::object& body, const json::object* previous) {
  XOAL_RETURN_IF_ERROR(OnlyMembers(body, {"from", "smtp", "lookup_url", "lookup_headers"}, ""));
  XOAL_ASSIGN_OR_RETURN(auto from, StringMember(body, "from", ""));
  if (from.find('@') == std::string::npos || from.find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument("from must be a mailbox such as News <news@example.com>",
                                   "from");
  }
  XOAL_ASSIGN_OR_RETURN(auto smtp, ValidateSmtp(body, previous));
  json::object out{{"from", from}, {"smtp", std::move(smtp)}};
  XOAL_RETURN_IF_ERROR(ValidateLookup(body, previous, out));
  return out;
}

Result<json::object> ValidateSms(const json::object& body, const json::object* previous) {
  XOAL_RETURN_IF_ERROR(OnlyMembers(body, {"base_url", "account_sid", "auth_token", "from"}, ""));
  XOAL_ASSIGN_OR_RETURN(auto base_url,
                        StringMember(body, "base_url", "", "https://api.twilio.com"));
  if (base_url.empty()) base_url = "https://api.twilio.com";
  XOAL_RETURN_IF_ERROR(CheckHttpBaseUrl(base_url, "base_url"));
  XOAL_ASSIGN_OR_RETURN(auto sid, StringMember(body, "account_sid", ""));
  XOAL_RETURN_IF_ERROR(CheckUrlPart(sid, kSegmentForbidden, "account_sid"));
  XOAL_ASSIGN_OR_RETURN(auto token, SecretMember(body, "auth_token", "", previous, true));
  XOAL_ASSIGN_OR_RETURN(auto from, StringMember(body, "from", ""));
  if (std::any_of(from.begin(), from.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return Status::InvalidArgument("from must be a phone number or sender id without line breaks",
                                   "from");
  }
  return json::object{
      {"base_url", base_url}, {"account_sid", sid}, {"auth_token", token}, {"from", from}};
}

Result<json::object> ValidatePush(const json::object& body, const json::object* previous) {
  XOAL_RETURN_IF_ERROR(OnlyMembers(body, {"base_url", "project_id", "service_account"}, ""));
  XOAL_ASSIGN_OR_RETURN(auto base_url,
                        StringMember(body, "base_url", "", "https://fcm.googleapis.com"));
  if (base_url.empty()) base_url = "https://fcm.googleapis.com";
  XOAL_RETURN_IF_ERROR(CheckHttpBaseUrl(base_url, "base_url"));
  XOAL_ASSIGN_OR_RETURN(auto project_id, StringMember(body, "project_id", ""));
  XOAL_RETURN_IF_ERROR(CheckUrlPart(project_id, kSegmentForbidden, "project_id"));
  auto it = body.find("service_account");
  if (it == body.end() || !it->value().is_object()) {
    return Status::InvalidArgument("service_account must be an object (the JSON key file)",
                                   "service_account");
  }
  json::object account = it->value().get_object();
  XOAL_ASSIGN_OR_RETURN(auto key, SecretMember(account, "private_key", "service_account",
                                               ObjectMember(previous, "service_account"), true));
  account["private_key"] = key;
  auto parsed = channels::ParseServiceAccount(account);
  if (!parsed.ok()) return parsed.status().WithFieldPrefix("service_account");
  if (parsed->private_key.find("PRIVATE KEY") == std::string::npos) {
    return Status::InvalidArgument("service_account.private_key must be a PEM private key",
                                   "service_account.private_key");
  }
  if (auto uri = account.find("token_uri"); uri != account.end() && uri->value().is_string()) {
    XOAL_RETURN_IF_ERROR(
        CheckHttpBaseUrl(std::string(uri->value().get_string()), "service_account.token_uri"));
  }
  return json::object{
      {"base_url", base_url}, {"project_id", project_id}, {"service_account", std::move(account)}};
}

Result<json::object> ValidateWebhook(const json::object& body, const json::object* previous) {
  XOAL_RETURN_IF_ERROR(OnlyMembers(body, {"secret"}, ""));
  XOAL_ASSIGN_OR_RETURN(auto secret, SecretMember(body, "secret", "", previous, true));
  return json::object{{"secret", secret}};
}

void MaskMember(json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return;
  std::string secret(it->value().get_string());
  it->value() = secret.empty() ? json::value(nullptr) : json::value(MaskSecret(secret));
}

}  // namespace

std::optional<Channel> ParseChannel(std::string_view name) {
  if (name == "email") return Channel::kEmail;
  if (name == "sms") return Channel::kSms;
  if (name == "push") return Channel::kPush;
  if (name == "webhook") return Channel::kWebhook;
  return std::nullopt;
}

std::string_view ChannelName(Channel channel) {
  switch (channel) {
    case Channel::kEmail:
      return "email";
    case Channel::kSms:
      return "sms";
    case Channel::kPush:
      return "push";
    case Channel::kWebhook:
      return "webhook";
  }
  return "email";
}

std::string MaskSecret(std::string_view secret) {
  // Short secrets show nothing: two characters of a six-character token are a third of it.
  if (secret.size() < 8) return std::string(kMaskPrefix);
  return std::string(kMaskPrefix) + std::string(secret.substr(secret.size() - 2));
}

Result<json::object> ValidateChannelConfig(Channel channel, const json::object& body,
                                           const std::optional<json::object>& previous) {
  const json::object* prev = previous ? &*previous : nullptr;
  switch (channel) {
    case Channel::kEmail:
      return ValidateEmail(body, prev);
    case Channel::kSms:
      return ValidateSms(body, prev);
    case Channel::kPush:
      return ValidatePush(body, prev);
    case Channel::kWebhook:
      return ValidateWebhook(body, prev);
  }
  return Status::InvalidArgument("unknown channel", "channel");
}

json::object ChannelConfigToJson(Channel channel, const json::object& stored) {
  json::object out = stored;
  switch (channel) {
    case Channel::kEmail:
      if (auto it = out.find("smtp"); it != out.end() && it->value().is_object()) {
        MaskMember(it->value().as_object(), "password");
      }
      if (auto it = out.find("lookup_headers"); it != out.end() && it->value().is_object()) {
        json::object& headers = it->value().as_object();
        for (const auto& [name, v] : headers) MaskMember(headers, name);
      }
      break;
    case Channel::kSms:
      MaskMember(out, "auth_token");
      break;
    case Channel::kPush:
      if (auto it = out.find("service_account"); it != out.end() && it->value().is_object()) {
        // The last characters of a PEM are its armour, not the key: say only that it is set.
        it->value().as_object()["private_key"] = json::object{{"set", true}};
      }
      break;
    case Channel::kWebhook:
      MaskMember(out, "secret");
      break;
  }
  return out;
}

Result<channels::EmailConfig> EmailConfigFrom(const json::object& stored) {
  channels::EmailConfig c;
  c.from = Text(stored, "from");
  auto smtp = stored.find("smtp");
  if (smtp == stored.end() || !smtp->value().is_object()) {
    return Status::InvalidArgument("the stored email channel has no smtp", "smtp");
  }
  const json::object& s = smtp->value().get_object();
  c.host = Text(s, "host");
  if (auto p = s.find("port"); p != s.end() && p->value().is_int64()) {
    c.port = static_cast<int>(p->value().get_int64());
  }
  std::string tls = Text(s, "tls");
  c.tls = tls == "none"  ? channels::SmtpTls::kNone
          : tls == "tls" ? channels::SmtpTls::kTls
                         : channels::SmtpTls::kStartTls;
  c.username = Text(s, "username");
  c.password = Text(s, "password");
  c.lookup_url = Text(stored, "lookup_url");
  if (const json::object* headers = ObjectMember(&stored, "lookup_headers")) {
    for (const auto& [name, v] : *headers) {
      if (v.is_string()) c.lookup_headers.emplace_back(name, std::string(v.get_string()));
    }
  }
  return c;
}

Result<channels::SmsConfig> SmsConfigFrom(const json::object& stored) {
  channels::SmsConfig c;
  c.base_url = Text(stored, "base_url");
  c.account_sid = Text(stored, "account_sid");
  c.auth_token = Text(stored, "auth_token");
  c.from = Text(stored, "from");
  return c;
}

Result<channels::PushConfig> PushConfigFrom(const json::object& stored) {
  channels::PushConfig c;
  c.base_url = Text(stored, "base_url");
  c.project_id = Text(stored, "project_id");
  auto account = stored.find("service_account");
  if (account == stored.end()) {
    return Status::InvalidArgument("the stored push channel has no service account",
                                   "service_account");
  }
  XOAL_ASSIGN_OR_RETURN(c.service_account, channels::ParseServiceAccount(account->value()));
  return c;
}

Result<channels::WebhookConfig> WebhookConfigFrom(const json::object& stored) {
  channels::WebhookConfig c;
  c.secret = Text(stored, "secret");
  return c;
}

}  // namespace xoal::messaging
