#include "messaging/compose.hpp"

#include "channels/email.hpp"
#include "messaging/render.hpp"

namespace xoal::messaging {

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
