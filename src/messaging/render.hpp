// Rendering a message for one customer (SPEC "Messages and channels", "Template preview"): the
// data templates see (`customer.*`, `company.*`, `event.*`, `trigger.*`, `project.*`), the
// language variant, and every string of the message run through Liquid.
//
// MessageRenderer owns a liquid::TemplateCache, so each distinct template source is compiled
// once however many customers it is rendered for. Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"
#include "liquid/liquid.hpp"
#include "messaging/channel_config.hpp"
#include "store/store.hpp"

namespace xoal::messaging {

struct RenderedMessage {
  json::object message;  // the chosen variant, every string rendered; no "variants" member
  // The language of the variant used; nullopt when none was (the message has no variant for the
  // customer's language nor the default one, so the base members were rendered as written).
  std::optional<std::string> language;
};

// Where a template error is, read from the "line L, column C: " the Liquid module puts in its
// messages; nullopt when `st` carries none.
struct TemplatePosition {
  int line = 0;
  int column = 0;
};
std::optional<TemplatePosition> TemplateErrorPosition(const Status& st);

// The template data for `customer` of `project`: customer = every attribute plus usid, user_id,
// email, tags; company = the customer's first company (id, name, attributes) or absent;
// trigger = `trigger`; event = `event` when not null; project = id, name, timezone;
// unsubscribe_url = the customer's signed one-click unsubscribe link (messaging/links.hpp).
Result<json::object> BuildTemplateData(store::ReadTxn& txn, const store::Project& project,
                                       const store::Customer& customer, const json::object& trigger,
                                       const json::value& event);

// The language whose variant `message` uses for a customer speaking `language`: that one when
// message.variants has it, else the default language when it has that, else nullopt (the base).
std::optional<std::string> PickVariant(const json::object& message, std::string_view language,
                                       std::string_view default_language);

// Checks that a rendered message has what `channel` needs (email: subject and html or text;
// SMS: body; push: title, body or data; webhook: url, and method, headers of the right shape).
// Errors: kInvalidArgument with field "message.<member>".
Status ValidateMessageForChannel(Channel channel, const json::object& message);

class MessageRenderer {
 public:
  static constexpr size_t kDefaultCacheCapacity = 4096;

  // `clock` gives the `now` of the `date` filter; it must outlive the renderer.
  explicit MessageRenderer(const Clock& clock, size_t cache_capacity = kDefaultCacheCapacity)
      : clock_(clock), cache_(cache_capacity) {}

  // Picks the variant for the customer's language (attribute `language`) with the project's
  // default language as the fallback and renders every string in it over `data`.
  // Errors: kInvalidArgument with field "message.<path>" and a message holding the template's
  // "line L, column C: " (see TemplateErrorPosition); kInvalidArgument when `message.variants`
  // is not an object of objects. `strict`: an undefined variable or unknown filter is such an
  // error too (Liquid strict_variables and strict_filters) instead of rendering as nothing.
  Result<RenderedMessage> Render(const store::Project& project, const store::Customer& customer,
                                 const json::object& message, const json::object& data,
                                 bool strict = false);

 private:
  Result<json::value> RenderValue(const json::value& v, const json::object& data,
                                  const std::string& path, bool strict);

  const Clock& clock_;
  liquid::TemplateCache cache_;
};

}  // namespace xoal::messaging
