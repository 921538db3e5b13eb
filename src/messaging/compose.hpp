// What turns a rendered message into outbox content for one customer, shared by every sender of
// messages (the Messages API, broadcasts, workflows): the customer's address on a channel, and
// the checks a message must pass before it is enqueued.
#pragma once

#include <optional>
#include <string>

#include "common/json.hpp"
#include "common/status.hpp"
#include "messaging/channel_config.hpp"
#include "store/store.hpp"

namespace xoal::messaging {

// The customer's address on `channel`: the email, the `phone` attribute, the `push_token`
// attribute; "" for webhooks (they need none). nullopt when the customer has none.
std::optional<std::string> RecipientAddress(Channel channel, const store::Customer& customer);

// What RecipientAddress looks for, for error messages ("an email address", ...).
std::string_view AddressName(Channel channel);

// Checks a message as written, before anything is rendered, for every path that takes one (the
// Messages API and template preview, broadcast and workflow definitions): each member is one the
// channel reads (email: subject, html, text, from, unsubscribe_url, unsubscribe_mailto; SMS:
// body; push: title, body, data; webhook: url, method, headers, body; all: variants,
// transactional), so a misspelt `transactionnal` or an unsupported `reply_to` is refused instead
// of silently dropped; templates are strings (push `data` an object, webhook `headers` an object
// of strings, a webhook `body` any JSON), `transactional` a boolean, `variants` an object of
// objects by language, each checked the same way. Without `channel` (a preview that names none)
// a member of any channel is accepted with its type. Null members count as absent.
// Errors: kInvalidArgument with field "<path>.<member>" ("message.variants.French.subjct").
Status CheckMessageShape(std::optional<Channel> channel, const json::object& message,
                         const std::string& path = "message");

// Checks rendered content before it is enqueued: what the channel needs
// (ValidateMessageForChannel). Marketing email needs no unsubscribe link of its own: the outbox
// adds Xoal's (docs/messaging.md, "Links"). Errors: kInvalidArgument with field
// "message.<member>".
Status CheckOutgoing(Channel channel, const json::object& content, bool transactional);

// For rendered email content about to be enqueued: what the SMTP sender would refuse as an
// `invalid_message` at send time (a `from` that is no mailbox, a subject with a line break, an
// `unsubscribe_url` that is not http(s) or an `unsubscribe_mailto` that is not mailto:), found
// now so the caller gets a 422 instead of a message that fails later. The recipient and the
// channel's default sender are checked elsewhere. Errors: kInvalidArgument, field
// "message.<member>".
Status CheckEmailSendable(const json::object& content);

}  // namespace xoal::messaging
