// The links messages carry (SPEC "Outside /api/v1": /unsubscribe/{token}, /t/open/{token},
// /t/click/{token}), the suppression list (/api/v1/suppressions) and provider reports of
// delivery and bounces (POST /api/v1/messages/{id}/events). Tokens: messaging/links.hpp.
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "core/customers.hpp"
#include "core/projects.hpp"
#include "messaging/links.hpp"
#include "messaging/policy.hpp"

namespace xoal::api {
namespace {

using http::Method;

// A 1x1 transparent GIF.
constexpr unsigned char kPixel[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

http::Response Html(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Xoal</title></head><body>" +
           body + "</body></html>";
  return r;
}

http::Response NotFoundPage() { return Html(404, "<p>This link is not valid.</p>"); }

// The verified token of `kind` and its project; nullopt when malformed, of another kind, of an
// unknown project, or not signed with the project's secret.
std::optional<std::pair<messaging::LinkToken, store::Project>> Verify(Api& api,
                                                                      const std::string& token,
                                                                      messaging::LinkKind kind) {
  auto t = messaging::ParseLinkToken(token);
  if (!t || t->kind != kind) return std::nullopt;
  std::optional<store::Project> project;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(project, txn.GetProject(t->project_id));
    return Status::Ok();
  });
  if (!st.ok() || !project) return std::nullopt;
  if (!messaging::VerifyLinkToken(token, core::ProjectMessagingSettings(*project).link_secret)) {
    spdlog::info("link_refused project_id={} reason=bad_signature", project->id);
    return std::nullopt;
  }
  return std::make_pair(std::move(*t), std::move(*project));
}

// Records an engagement event on the customer (following merges); a repeat of `id` is a no-op.
Status RecordEvent(store::WriteTxn& txn, const store::Project& project, const std::string& usid,
                   std::string id, std::string name, json::object properties, SystemTime now) {
  XOAL_ASSIGN_OR_RETURN(auto c,
                        core::ResolveCustomer(txn, project.id, store::CustomerKey::kUsid, usid));
  if (!c) return Status::Ok();  // deleted since
  store::Event e;
  e.project_id = project.id;
  e.id = std::move(id);
  e.usid = c->usid;
  e.name = std::move(name);
  e.type = "track";
  e.source = "system";
  e.timestamp = now;
  e.received_at = now;
  e.properties = std::move(properties);
  Status st = txn.InsertEvent(e);
  return st.code() == StatusCode::kAlreadyExists ? Status::Ok() : st;
}

// --- unsubscribe ---------------------------------------------------------------------------

http::Response UnsubscribePage(Api& api, ApiCall& call) {
  const std::string& token = call.req.Param("token");
  if (!Verify(api, token, messaging::LinkKind::kUnsubscribe)) return NotFoundPage();
  // A GET only shows the choice: mail scanners follow links, and must not unsubscribe anyone.
  return Html(200,
              "<p>Stop receiving these emails?</p><form method=\"post\" action=\"/unsubscribe/" +
                  token + "\"><button type=\"submit\">Unsubscribe</button></form>");
}

http::Response Unsubscribe(Api& api, ApiCall& call) {
  auto v = Verify(api, call.req.Param("token"), messaging::LinkKind::kUnsubscribe);
  if (!v) return NotFoundPage();
  auto& [token, project] = *v;
  SystemTime now = api.deps().clock.SystemNow();
  bool found = false;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(
        auto c, core::ResolveCustomer(txn, project.id, store::CustomerKey::kUsid, token.usid));
    found = c.has_value();
    if (!c) return Status::Ok();
    // One-click POSTs get repeated (provider retries, a second click): already unsubscribed
    // means nothing to change and no second event.
    const json::value* current = c->attributes.if_contains("email_subscribed");
    if (current && current->is_bool() && !current->as_bool()) return Status::Ok();
    core::WriteContext ctx{&project, now, now, "app", nullptr};
    XOAL_RETURN_IF_ERROR(core::SetAttribute(txn, ctx, *c, "email_subscribed", json::value(false)));
    c->updated_at = now;
    XOAL_RETURN_IF_ERROR(txn.UpdateCustomer(*c));
    return RecordEvent(txn, project, c->usid, "evt_unsub_" + RandomAlnum(16), "unsubscribed",
                       json::object{{"channel", "email"}, {"via", "link"}}, now);
  });
  if (!st.ok()) return ErrorResponse(st);
  if (!found) return NotFoundPage();
  spdlog::info("customer_unsubscribed project_id={} customer_id={} channel=email", project.id,
               token.usid);
  return Html(200, "<p>You are unsubscribed.</p>");
}

// --- tracking ------------------------------------------------------------------------------

http::Response Open(Api& api, ApiCall& call) {
  http::Response pixel;
  pixel.content_type = "image/gif";
  pixel.headers.emplace_back("Cache-Control", "no-store");
  pixel.body.assign(reinterpret_cast<const char*>(kPixel), sizeof kPixel);
  auto v = Verify(api, call.req.Param("token"), messaging::LinkKind::kOpen);
  if (!v) {
    pixel.status = 404;
    return pixel;
  }
  auto& [token, project] = *v;
  SystemTime now = api.deps().clock.SystemNow();
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto m, txn.GetOutboxMessage(project.id, token.message_id));
    if (!m) return Status::Ok();
    // The first open counts: one event per message.
    return RecordEvent(txn, project, m->usid, "evt_" + m->id + "_opened", "message_opened",
                       json::object{{"message_id", m->id}, {"channel", m->channel}}, now);
  });
  if (!st.ok())
    spdlog::warn("open_not_recorded project_id={} error=\"{}\"", project.id, st.message());
  return pixel;
}

http::Response Click(Api& api, ApiCall& call) {
  auto v = Verify(api, call.req.Param("token"), messaging::LinkKind::kClick);
  if (!v) return NotFoundPage();
  auto& [token, project] = *v;
  SystemTime now = api.deps().clock.SystemNow();
  bool allowed = false;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto m, txn.GetOutboxMessage(project.id, token.message_id));
    if (!m) return Status::Ok();
    const json::value* links = m->content.if_contains("links");
    size_t index = 0;
    if (links && links->is_array()) {
      for (const auto& l : links->get_array()) {
        if (l.is_string() && l.get_string() == token.url) {
          allowed = true;
          break;
        }
        ++index;
      }
    }
    if (!allowed) return Status::Ok();
    // One event per link of the message: the first click on it.
    return RecordEvent(
        txn, project, m->usid, "evt_" + m->id + "_clicked_" + std::to_string(index),
        "message_clicked",
        json::object{{"message_id", m->id}, {"channel", m->channel}, {"url", token.url}}, now);
  });
  if (!st.ok()) return ErrorResponse(st);
  if (!allowed) {
    spdlog::info("link_refused project_id={} reason=url_not_in_message", project.id);
    return NotFoundPage();
  }
  http::Response r;
  r.status = 302;
  r.content_type = "text/plain";
  r.headers.emplace_back("Location", token.url);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// --- provider reports ----------------------------------------------------------------------

// POST /api/v1/messages/{id}/events {"type": "delivered"|"bounced", "permanent": bool,
// "detail": "..."}: what a provider reported about a sent message. A permanent bounce also
// suppresses the address.
constexpr std::string_view kReportMembers[] = {"type", "permanent", "detail"};

http::Response ReportEvent(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  // A misspelt "permanent" would otherwise suppress the address as a hard bounce.
  if (Status known = CheckKnownMembers(*body, kReportMembers, "a provider report"); !known.ok()) {
    return ErrorResponse(known);
  }
  auto type = OptionalString(*body, "type");
  if (!type.ok()) return ErrorResponse(type.status());
  if (!*type || (**type != "delivered" && **type != "bounced")) {
    return ErrorResponse(Status::InvalidArgument("type must be delivered or bounced", "type"));
  }
  auto permanent = OptionalBool(*body, "permanent");
  if (!permanent.ok()) return ErrorResponse(permanent.status());
  auto detail = OptionalString(*body, "detail");
  if (!detail.ok()) return ErrorResponse(detail.status());
  const std::string& id = call.req.Param("id");
  SystemTime now = api.deps().clock.SystemNow();
  bool hard = **type == "bounced" && permanent->value_or(true);
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto m, txn.GetOutboxMessage(call.project.id, id));
    if (!m) return Status::NotFound("no message with id " + id);
    if (m->status != "sent") {
      return Status::Conflict("only a sent message can be delivered or bounce");
    }
    json::object props{
        {"message_id", m->id}, {"channel", m->channel}, {"detail", detail->value_or("")}};
    if (**type == "bounced") props["permanent"] = hard;
    XOAL_RETURN_IF_ERROR(RecordEvent(txn, call.project, m->usid, "evt_" + m->id + "_" + **type,
                                     "message_" + **type, std::move(props), now));
    auto channel = messaging::ParseChannel(m->channel);
    const json::value* to = m->content.if_contains("to");
    if (hard && channel && to && to->is_string() && !to->get_string().empty()) {
      store::Suppression s{
          0,          call.project.id, messaging::NormalizeAddress(*channel, to->get_string()),
          m->channel, "bounce",        now};
      Status added = txn.InsertSuppression(s);
      if (!added.ok() && added.code() != StatusCode::kAlreadyExists) return added;
    }
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"recorded", "message_" + **type}, {"suppressed", hard}});
}

// --- suppressions --------------------------------------------------------------------------

json::object SuppressionToJson(const store::Suppression& s) {
  return json::object{{"address", s.address},
                      {"channel", s.channel},
                      {"reason", s.reason},
                      {"created_at", FormatIsoTime(s.created_at)}};
}

// An email (has '@') or a phone number, normalized; kInvalidArgument (field "address").
Result<std::pair<std::string, std::string>> ReadAddress(std::string_view raw) {
  bool email = raw.find('@') != std::string_view::npos;
  auto channel = email ? messaging::Channel::kEmail : messaging::Channel::kSms;
  std::string address = messaging::NormalizeAddress(channel, raw);
  bool phone_ok = address.size() >= 3 && address.size() <= 20 &&
                  address.find_first_not_of("+0123456789") == std::string::npos;
  if (address.empty() || address.size() > 320 || (!email && !phone_ok)) {
    return Status::InvalidArgument("address must be an email address or a phone number", "address");
  }
  return std::make_pair(address, std::string(messaging::ChannelName(channel)));
}

http::Response ListSuppressions(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  std::vector<store::Suppression> rows;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(rows, txn.ListSuppressions(call.project.id, *page));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, PageJson(rows, *page, SuppressionToJson));
}

constexpr std::string_view kSuppressionMembers[] = {"address", "reason"};

http::Response AddSuppression(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status known = CheckKnownMembers(*body, kSuppressionMembers, "a suppression"); !known.ok()) {
    return ErrorResponse(known);
  }
  auto raw = OptionalString(*body, "address");
  if (!raw.ok()) return ErrorResponse(raw.status());
  if (!*raw) return ErrorResponse(Status::InvalidArgument("address is required", "address"));
  auto reason = OptionalString(*body, "reason");
  if (!reason.ok()) return ErrorResponse(reason.status());
  auto address = ReadAddress(**raw);
  if (!address.ok()) return ErrorResponse(address.status());
  store::Suppression s{0,
                       call.project.id,
                       address->first,
                       address->second,
                       reason->value_or("manual"),
                       api.deps().clock.SystemNow()};
  if (s.reason.empty() || s.reason.size() > 100) {
    return ErrorResponse(Status::InvalidArgument("reason must have 1 to 100 characters", "reason"));
  }
  Status st =
      api.deps().store.Write([&](store::WriteTxn& txn) { return txn.InsertSuppression(s); });
  if (st.code() == StatusCode::kAlreadyExists) {
    std::optional<store::Suppression> existing;
    (void)api.deps().store.Read([&](store::ReadTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(existing, txn.GetSuppression(call.project.id, s.address));
      return Status::Ok();
    });
    if (existing) return JsonResponse(200, SuppressionToJson(*existing));
  }
  if (!st.ok()) return ErrorResponse(st);
  spdlog::info("address_suppressed project_id={} channel={} reason={}", call.project.id, s.channel,
               s.reason);
  return JsonResponse(201, SuppressionToJson(s));
}

http::Response RemoveSuppression(Api& api, ApiCall& call) {
  auto address = ReadAddress(call.req.Param("address"));
  if (!address.ok()) return ErrorResponse(address.status());
  Status st = api.deps().store.Write(
      [&](store::WriteTxn& txn) { return txn.DeleteSuppression(call.project.id, address->first); });
  if (!st.ok()) return ErrorResponse(st);
  return http::Response{204, "application/json", {}, ""};
}

}  // namespace

void AddLinkRoutes(Api& api) {
  api.Add(Method::kGet, "/unsubscribe/{token}", Access::kPublic,
          [&api](ApiCall& c) { return UnsubscribePage(api, c); });
  api.Add(Method::kPost, "/unsubscribe/{token}", Access::kPublic,
          [&api](ApiCall& c) { return Unsubscribe(api, c); });
  api.Add(Method::kGet, "/t/open/{token}", Access::kPublic,
          [&api](ApiCall& c) { return Open(api, c); });
  api.Add(Method::kGet, "/t/click/{token}", Access::kPublic,
          [&api](ApiCall& c) { return Click(api, c); });
  api.AddManagement(Method::kPost, "/api/v1/messages/{id}/events", ReportEvent);
  api.AddManagement(Method::kGet, "/api/v1/suppressions", ListSuppressions);
  api.AddManagement(Method::kPost, "/api/v1/suppressions", AddSuppression);
  api.AddManagement(Method::kDelete, "/api/v1/suppressions/{address}", RemoveSuppression);
}

}  // namespace xoal::api
