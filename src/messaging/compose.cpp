#include "messaging/compose.hpp"

#include <algorithm>
#include <span>
#include <vector>

#include "channels/email.hpp"
#include "messaging/render.hpp"

namespace xoal::messaging {
namespace {

// What a member of a message holds; kStringOrJson is the webhook body (sent as given, or as its
// JSON text).
enum class MemberKind { kString, kObject, kStringMap, kStringOrJson };

struct MemberSpec {
  std::string_view name;
  MemberKind kind;
};

constexpr MemberSpec kEmailMembers[] = {{"subject", MemberKind::kString},
                                        {"html", MemberKind::kString},
                                        {"text", MemberKind::kString},
                                        {"from", MemberKind::kString},
                                        {"unsubscribe_url", MemberKind::kString},
                                        {"unsubscribe_mailto", MemberKind::kString}};
constexpr MemberSpec kSmsMembers[] = {{"body", MemberKind::kString}};
constexpr MemberSpec kPushMembers[] = {
    {"title", MemberKind::kString}, {"body", MemberKind::kString}, {"data", MemberKind::kObject}};
constexpr MemberSpec kWebhookMembers[] = {{"url", MemberKind::kString},
                                          {"method", MemberKind::kString},
                                          {"headers", MemberKind::kStringMap},
                                          {"body", MemberKind::kStringOrJson}};

std::span<const MemberSpec> ChannelMembers(Channel channel) {
  switch (channel) {
    case Channel::kEmail:
      return kEmailMembers;
    case Channel::kSms:
      return kSmsMembers;
    case Channel::kPush:
      return kPushMembers;
    case Channel::kWebhook:
      return kWebhookMembers;
  }
  return {};
}

// The spec of `name` for `channel`; without a channel the loosest one any channel gives it (a
// `body` is a string for SMS and push but any JSON for a webhook).
std::optional<MemberSpec> FindMember(std::optional<Channel> channel, std::string_view name) {
  std::optional<MemberSpec> found;
  for (Channel c : {Channel::kEmail, Channel::kSms, Channel::kPush, Channel::kWebhook}) {
    if (channel && c != *channel) continue;
    for (const MemberSpec& spec : ChannelMembers(c)) {
      if (spec.name != name) continue;
      if (!found || spec.kind == MemberKind::kStringOrJson) found = spec;
    }
  }
  return found;
}

Status CheckMemberType(const MemberSpec& spec, const json::value& v, const std::string& field) {
  switch (spec.kind) {
    case MemberKind::kString:
      if (v.is_string()) return Status::Ok();
      return Status::InvalidArgument(
          field + " must be a string (a Liquid template), not " + std::string(JsonTypeName(v)),
          field);
    case MemberKind::kObject:
      if (v.is_object()) return Status::Ok();
      return Status::InvalidArgument(field + " must be an object", field);
    case MemberKind::kStringMap:
      if (!v.is_object()) return Status::InvalidArgument(field + " must be an object", field);
      for (const auto& [k, x] : v.get_object()) {
        if (!x.is_string() && !x.is_null()) {
          std::string member = field + "." + std::string(k);
          return Status::InvalidArgument(member + " must be a string", member);
        }
      }
      return Status::Ok();
    case MemberKind::kStringOrJson:
      return Status::Ok();
  }
  return Status::Ok();
}

// One level of a message: the base (`variants` allowed) or a variant (not).
Status CheckMembers(std::optional<Channel> channel, const json::object& m, const std::string& path,
                    bool is_variant) {
  for (const auto& [k, v] : m) {
    std::string field = path + "." + std::string(k);
    if (v.is_null()) continue;
    if (k == "transactional") {
      if (!v.is_bool()) return Status::InvalidArgument(field + " must be a boolean", field);
      continue;
    }
    if (k == "variants" && !is_variant) {
      if (!v.is_object()) {
        return Status::InvalidArgument(field + " must be an object by language", field);
      }
      for (const auto& [lang, variant] : v.get_object()) {
        std::string vpath = field + "." + std::string(lang);
        if (!variant.is_object())
          return Status::InvalidArgument(vpath + " must be an object", vpath);
        XOAL_RETURN_IF_ERROR(CheckMembers(channel, variant.get_object(), vpath, true));
      }
      continue;
    }
    std::optional<MemberSpec> spec = FindMember(channel, k);
    if (!spec) break;  // named below, with the list of members the channel has
    XOAL_RETURN_IF_ERROR(CheckMemberType(*spec, v, field));
  }
  std::vector<std::string_view> known;
  for (Channel c : {Channel::kEmail, Channel::kSms, Channel::kPush, Channel::kWebhook}) {
    if (channel && c != *channel) continue;
    for (const MemberSpec& spec : ChannelMembers(c)) {
      if (std::find(known.begin(), known.end(), spec.name) == known.end()) {
        known.push_back(spec.name);
      }
    }
  }
  known.push_back("transactional");
  if (!is_variant) known.push_back("variants");
  std::string what = channel ? "a message on " + std::string(ChannelName(*channel)) : "a message";
  Status st = CheckKnownMembers(m, known, what).WithFieldPrefix(path);
  if (st.ok()) return st;
  return Status::InvalidArgument(st.field() + ": " + st.message(), st.field());
}

}  // namespace

std::optional<std::string> RecipientAddress(Channel channel, const store::Customer& customer) {
  auto attribute = [&](std::string_view name) {
    auto it = customer.attributes.find(name);
    return it != customer.attributes.end() && it->value().is_string()
               ? std::string(it->value().get_string())
               : std::string();
  };
  std::string to;
  switch (channel) {
    case Channel::kEmail:
      to = customer.email.value_or("");
      break;
    case Channel::kSms:
      to = attribute("phone");
      break;
    case Channel::kPush:
      to = attribute("push_token");
      break;
    case Channel::kWebhook:
      return std::string();
  }
  if (to.empty()) return std::nullopt;
  return to;
}

std::string_view AddressName(Channel channel) {
  switch (channel) {
    case Channel::kEmail:
      return "an email address";
    case Channel::kSms:
      return "a phone number";
    case Channel::kPush:
      return "a push_token attribute";
    case Channel::kWebhook:
      break;
  }
  return "an address";
}

Status CheckMessageShape(std::optional<Channel> channel, const json::object& message,
                         const std::string& path) {
  return CheckMembers(channel, message, path, false);
}

Status CheckOutgoing(Channel channel, const json::object& content, bool /*transactional*/) {
  XOAL_RETURN_IF_ERROR(ValidateMessageForChannel(channel, content));
  return Status::Ok();
}

Status CheckEmailSendable(const json::object& content) {
  auto text = [&](std::string_view name) {
    const json::value* v = content.if_contains(name);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  // Placeholders stand in for what is decided later (recipient, key, the channel's sender) and
  // the body, which the sender does not refuse and need not be encoded here.
  channels::EmailMessage m;
  m.to = "check@example.invalid";
  m.from = text("from");
  m.subject = text("subject");
  m.text = "x";
  m.transactional = true;
  m.unsubscribe_url = text("unsubscribe_url");
  m.unsubscribe_mailto = text("unsubscribe_mailto");
  channels::MimeEnvelope envelope{"check", SystemTime{}, "=_check"};
  auto mime = channels::BuildEmailMime(m, "check@example.invalid", envelope);
  if (mime.ok()) return Status::Ok();
  Status st = mime.status().WithFieldPrefix("message");
  return Status::InvalidArgument(st.field() + ": " + st.message(), st.field());
}

}  // namespace xoal::messaging
