#include "messaging/render.hpp"

#include <charconv>

#include "core/customers.hpp"
#include "core/projects.hpp"
#include "messaging/links.hpp"

namespace xoal::messaging {
namespace {

std::string SettingString(const store::Project& p, std::string_view name,
                          std::string_view fallback) {
  auto it = p.settings.find(name);
  if (it == p.settings.end() || !it->value().is_string()) return std::string(fallback);
  return std::string(it->value().get_string());
}

// Reads the number after `label` in `text` ("line 3" -> 3).
std::optional<int> NumberAfter(std::string_view text, std::string_view label) {
  size_t at = text.find(label);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(at + label.size());
  int n = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
  if (ec != std::errc() || end == rest.data()) return std::nullopt;
  return n;
}

bool IsNonEmptyString(const json::object& m, std::string_view name) {
  auto it = m.find(name);
  return it != m.end() && it->value().is_string() && !it->value().get_string().empty();
}

Status OptionalStringMember(const json::object& m, std::string_view name) {
  auto it = m.find(name);
  if (it == m.end() || it->value().is_null() || it->value().is_string()) return Status::Ok();
  std::string field = "message." + std::string(name);
  return Status::InvalidArgument(field + " must be a string", field);
}

Status ValidateEmailMessage(const json::object& m) {
  for (std::string_view name :
       {"subject", "html", "text", "from", "unsubscribe_url", "unsubscribe_mailto"}) {
    XOAL_RETURN_IF_ERROR(OptionalStringMember(m, name));
  }
  if (!IsNonEmptyString(m, "subject")) {
    return Status::InvalidArgument("an email needs a subject", "message.subject");
  }
  if (!IsNonEmptyString(m, "html") && !IsNonEmptyString(m, "text")) {
    return Status::InvalidArgument("an email needs html or text", "message.html");
  }
  return Status::Ok();
}

Status ValidatePushMessage(const json::object& m) {
  XOAL_RETURN_IF_ERROR(OptionalStringMember(m, "title"));
  XOAL_RETURN_IF_ERROR(OptionalStringMember(m, "body"));
  auto data = m.find("data");
  bool has_data = data != m.end() && !data->value().is_null();
  if (has_data && !data->value().is_object()) {
    return Status::InvalidArgument("message.data must be an object", "message.data");
  }
  if (!IsNonEmptyString(m, "title") && !IsNonEmptyString(m, "body") && !has_data) {
    return Status::InvalidArgument("a push needs a title, a body or data", "message.body");
  }
  return Status::Ok();
}

Status ValidateWebhookMessage(const json::object& m) {
  XOAL_RETURN_IF_ERROR(OptionalStringMember(m, "url"));
  XOAL_RETURN_IF_ERROR(OptionalStringMember(m, "method"));
  if (!IsNonEmptyString(m, "url")) {
    return Status::InvalidArgument("a webhook needs a url", "message.url");
  }
  std::string_view url = m.at("url").get_string();
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return Status::InvalidArgument("message.url must start with http:// or https://",
                                   "message.url");
  }
  if (auto method = m.find("method"); method != m.end() && method->value().is_string()) {
    std::string_view v = method->value().get_string();
    if (v != "GET" && v != "POST" && v != "PUT" && v != "PATCH" && v != "DELETE") {
      return Status::InvalidArgument("message.method must be GET, POST, PUT, PATCH or DELETE",
                                     "message.method");
    }
  }
  if (auto headers = m.find("headers"); headers != m.end() && !headers->value().is_null()) {
    if (!headers->value().is_object()) {
      return Status::InvalidArgument("message.headers must be an object", "message.headers");
    }
    for (const auto& [k, v] : headers->value().get_object()) {
      if (!v.is_string()) {
        std::string field = "message.headers." + std::string(k);
        return Status::InvalidArgument(field + " must be a string", field);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

std::optional<TemplatePosition> TemplateErrorPosition(const Status& st) {
  auto line = NumberAfter(st.message(), "line ");
  auto column = NumberAfter(st.message(), "column ");
  if (!line || !column) return std::nullopt;
  return TemplatePosition{*line, *column};
}

Result<json::object> BuildTemplateData(store::ReadTxn& txn, const store::Project& project,
                                       const store::Customer& customer, const json::object& trigger,
                                       const json::value& event) {
  json::object c = core::CustomerAttributes(customer);
  json::array tags;
  for (const auto& t : customer.tags) tags.emplace_back(t);
  c["tags"] = std::move(tags);
  json::object data{
      {"customer", std::move(c)},
      {"trigger", trigger},
      {"project", json::object{{"id", project.id},
                               {"name", project.name},
                               {"timezone", SettingString(project, "timezone", "UTC")}}}};
  if (!event.is_null()) data["event"] = event;
  XOAL_ASSIGN_OR_RETURN(auto memberships, txn.ListMembershipsOf(project.id, customer.usid));
  if (!memberships.empty()) {
    XOAL_ASSIGN_OR_RETURN(auto company, txn.GetCompany(project.id, memberships.front().company_id));
    if (company) {
      json::object co = company->attributes;
      co["id"] = company->id;
      co["name"] = company->name;
      data["company"] = std::move(co);
    }
  }
  // Xoal's own signed unsubscribe link (docs/messaging.md, "Links").
  data["unsubscribe_url"] =
      UnsubscribeUrl(core::ProjectMessagingSettings(project), project.id, customer.usid);
  return data;
}

std::optional<std::string> PickVariant(const json::object& message, std::string_view language,
                                       std::string_view default_language) {
  auto variants = message.find("variants");
  if (variants == message.end() || !variants->value().is_object()) return std::nullopt;
  const json::object& v = variants->value().get_object();
  if (!language.empty() && v.contains(language)) return std::string(language);
  if (v.contains(default_language)) return std::string(default_language);
  return std::nullopt;
}

Status ValidateMessageForChannel(Channel channel, const json::object& m) {
  switch (channel) {
    case Channel::kEmail:
      return ValidateEmailMessage(m);
    case Channel::kSms:
      XOAL_RETURN_IF_ERROR(OptionalStringMember(m, "body"));
      if (!IsNonEmptyString(m, "body")) {
        return Status::InvalidArgument("an SMS needs a body", "message.body");
      }
      return Status::Ok();
    case Channel::kPush:
      return ValidatePushMessage(m);
    case Channel::kWebhook:
      return ValidateWebhookMessage(m);
  }
  return Status::Ok();
}

Result<RenderedMessage> MessageRenderer::Render(const store::Project& project,
                                                const store::Customer& customer,
                                                const json::object& message,
                                                const json::object& data, bool strict) {
  if (auto v = message.find("variants"); v != message.end() && !v->value().is_null()) {
    if (!v->value().is_object()) {
      return Status::InvalidArgument("message.variants must be an object by language",
                                     "message.variants");
    }
    for (const auto& [lang, variant] : v->value().get_object()) {
      if (!variant.is_object()) {
        std::string field = "message.variants." + std::string(lang);
        return Status::InvalidArgument(field + " must be an object", field);
      }
    }
  }
  std::string language;
  if (auto l = customer.attributes.find("language");
      l != customer.attributes.end() && l->value().is_string()) {
    language = std::string(l->value().get_string());
  }
  std::string default_language = SettingString(project, "default_language", "English");
  std::optional<std::string> variant = PickVariant(message, language, default_language);

  // The base members, then the variant's over them; error paths name where the text came from.
  json::object chosen = message;
  chosen.erase("variants");
  const json::object* overrides = nullptr;
  if (variant) {
    overrides = &message.at("variants").get_object().at(*variant).get_object();
    for (const auto& [k, v] : *overrides) chosen[k] = v;
  }

  RenderedMessage out;
  out.language = variant;
  for (const auto& [k, v] : chosen) {
    std::string path = overrides && overrides->contains(k)
                           ? "message.variants." + *variant + "." + std::string(k)
                           : "message." + std::string(k);
    XOAL_ASSIGN_OR_RETURN(auto rendered, RenderValue(v, data, path, strict));
    out.message[k] = std::move(rendered);
  }
  return out;
}

Result<json::value> MessageRenderer::RenderValue(const json::value& v, const json::object& data,
                                                 const std::string& path, bool strict) {
  if (v.is_string()) {
    auto tmpl = cache_.Get(v.get_string());
    if (!tmpl.ok()) {
      return Status::InvalidArgument(path + ": " + tmpl.status().message(), path);
    }
    liquid::RenderOptions options;
    options.now = clock_.SystemNow();
    options.strict_variables = strict;
    options.strict_filters = strict;
    auto text = liquid::Render(**tmpl, data, options);
    if (!text.ok()) return Status::InvalidArgument(path + ": " + text.status().message(), path);
    return json::value(std::move(*text));
  }
  if (v.is_object()) {
    json::object out;
    for (const auto& [k, x] : v.get_object()) {
      XOAL_ASSIGN_OR_RETURN(auto r, RenderValue(x, data, path + "." + std::string(k), strict));
      out[k] = std::move(r);
    }
    return json::value(std::move(out));
  }
  if (v.is_array()) {
    json::array out;
    const auto& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      XOAL_ASSIGN_OR_RETURN(auto r,
                            RenderValue(a[i], data, path + "." + std::to_string(i), strict));
      out.push_back(std::move(r));
    }
    return json::value(std::move(out));
  }
  return v;
}

}  // namespace xoal::messaging
