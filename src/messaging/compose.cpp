#include "messaging/compose.hpp"

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

}  // namespace xoal::messaging
