// Messages (SPEC, Management API "Events and messages"): template preview, enqueueing a message
// for one customer, and the outbox as a list. Rendering and delivery live in src/messaging.
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "core/customers.hpp"
#include "messaging/compose.hpp"
#include "messaging/outbox.hpp"
#include "messaging/policy.hpp"
#include "messaging/render.hpp"

namespace xoal::api {
namespace {

using http::Method;

// A parsed preview or send request: `{"customer": {...}, "message": {...}, "data": {...},
// "event": {...}, "channel": "...", "idempotency_key": "...", "transactional": bool}`.
struct MessageRequest {
  store::CustomerKey customer_key = store::CustomerKey::kUsid;
  std::string customer_value;
  json::object message;
  json::object data;
  json::value event;
  std::optional<messaging::Channel> channel;
  std::string idempotency_key;
  std::optional<bool> transactional;
  bool strict = false;  // undefined variables and unknown filters are template errors
};

Status ReadCustomerRef(const json::object& body, MessageRequest& out) {
  auto it = body.find("customer");
  if (it == body.end() || !it->value().is_object() || it->value().get_object().size() != 1) {
    return Status::InvalidArgument(
        "customer must name one customer: {\"usid\"|\"user_id\"|"
        "\"email\": \"...\"}",
        "customer");
  }
  const auto& [k, v] = *it->value().get_object().begin();
  if (k == "usid") {
    out.customer_key = store::CustomerKey::kUsid;
  } else if (k == "user_id") {
    out.customer_key = store::CustomerKey::kUserId;
  } else if (k == "email") {
    out.customer_key = store::CustomerKey::kEmail;
  } else {
    return Status::InvalidArgument("customer is named by usid, user_id or email", "customer");
  }
  if (!v.is_string() || v.get_string().empty()) {
    std::string field = "customer." + std::string(k);
    return Status::InvalidArgument(field + " must be a non-empty string", field);
  }
  out.customer_value = std::string(v.get_string());
  return Status::Ok();
}

constexpr std::string_view kMessageRequestMembers[] = {
    "customer", "message",         "data",          "event",
    "channel",  "idempotency_key", "transactional", "strict"};

Result<MessageRequest> ParseMessageRequest(const json::object& body) {
  MessageRequest r;
  XOAL_RETURN_IF_ERROR(CheckKnownMembers(body, kMessageRequestMembers, "a message request"));
  XOAL_RETURN_IF_ERROR(ReadCustomerRef(body, r));
  auto message = body.find("message");
  if (message == body.end() || !message->value().is_object()) {
    return Status::InvalidArgument("message must be an object", "message");
  }
  r.message = message->value().get_object();
  if (auto d = body.find("data"); d != body.end() && !d->value().is_null()) {
    if (!d->value().is_object()) return Status::InvalidArgument("data must be an object", "data");
    r.data = d->value().get_object();
  }
  if (auto e = body.find("event"); e != body.end() && !e->value().is_null()) {
    if (!e->value().is_object()) {
      return Status::InvalidArgument("event must be an object", "event");
    }
    r.event = e->value();
  }
  XOAL_ASSIGN_OR_RETURN(auto channel, OptionalString(body, "channel"));
  if (channel) {
    r.channel = messaging::ParseChannel(*channel);
    if (!r.channel) {
      return Status::InvalidArgument("channel must be email, sms, push or webhook", "channel");
    }
  }
  // Before the customer is looked up: a bad body is a 422 even for an unknown customer.
  XOAL_RETURN_IF_ERROR(messaging::CheckMessageShape(r.channel, r.message));
  XOAL_ASSIGN_OR_RETURN(auto key, OptionalString(body, "idempotency_key"));
  if (key && key->empty()) {
    // An empty key would otherwise mean "no key": a retry would then send a second message.
    return Status::InvalidArgument("idempotency_key must be 1 to 200 printable ASCII characters",
                                   "idempotency_key");
  }
  if (key) r.idempotency_key = *key;
  XOAL_ASSIGN_OR_RETURN(auto strict, OptionalBool(body, "strict"));
  r.strict = strict.value_or(false);
  XOAL_ASSIGN_OR_RETURN(r.transactional, OptionalBool(body, "transactional"));
  if (!r.transactional) {
    XOAL_ASSIGN_OR_RETURN(r.transactional, OptionalBool(r.message, "transactional"));
  }
  return r;
}

// The 422 of a template error, with its position as `line` and `column` members.
http::Response RenderErrorResponse(const Status& st) {
  auto pos = messaging::TemplateErrorPosition(st);
  if (!st.IsInvalidArgument() || !pos) return ErrorResponse(st);
  json::object err{{"code", "invalid"},
                   {"message", st.message()},
                   {"field", st.field()},
                   {"line", pos->line},
                   {"column", pos->column}};
  return JsonResponse(422, json::object{{"error", std::move(err)}});
}

// A key the project already used names the message it made: the same request again gets it
// back, but a key reused for another customer or channel is a 409, not a silent "already sent"
// for a message that went to someone else. A customer merged since counts as the same one.
Status CheckKeyReuse(Api& api, const std::string& project_id, const store::OutboxMessage& existing,
                     const std::string& usid, messaging::Channel channel) {
  if (existing.channel != messaging::ChannelName(channel)) {
    return Status::Conflict("idempotency_key " + existing.idempotency_key + " was used for the " +
                                existing.channel + " message " + existing.id,
                            "idempotency_key");
  }
  if (existing.usid == usid) return Status::Ok();
  std::optional<store::Customer> survivor;
  XOAL_RETURN_IF_ERROR(api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(
        survivor, core::ResolveCustomer(txn, project_id, store::CustomerKey::kUsid, existing.usid));
    return Status::Ok();
  }));
  if (survivor && survivor->usid == usid) return Status::Ok();
  return Status::Conflict("idempotency_key " + existing.idempotency_key +
                              " was used for a message to another customer (" + existing.id + ")",
                          "idempotency_key");
}

struct Prepared {
  store::Customer customer;
  json::object data;
  std::optional<json::object> channel_config;
};

// Loads the customer, the template data and (when a channel is named) its configuration.
Result<Prepared> Prepare(Api& api, const ApiCall& call, const MessageRequest& r) {
  Prepared p;
  XOAL_RETURN_IF_ERROR(api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(
        auto c, core::ResolveCustomer(txn, call.project.id, r.customer_key, r.customer_value));
    if (!c) return Status::NotFound("no customer with " + r.customer_value);
    p.customer = std::move(*c);
    XOAL_ASSIGN_OR_RETURN(
        p.data, messaging::BuildTemplateData(txn, call.project, p.customer, r.data, r.event));
    if (r.channel) {
      XOAL_ASSIGN_OR_RETURN(
          p.channel_config,
          txn.GetChannelConfig(call.project.id, messaging::ChannelName(*r.channel)));
    }
    return Status::Ok();
  }));
  return p;
}

// The answer when Prepare failed. An unknown customer is a 404 only for a body that is otherwise
// good: a template that does not compile is a 422 whoever it is for, so it is rendered once for
// a blank profile (lax: its attributes are all undefined) before the 404 is given.
http::Response PrepareErrorResponse(Api& api, const ApiCall& call, const MessageRequest& r,
                                    const Status& st) {
  if (st.IsNotFound()) {
    store::Customer blank;
    blank.project_id = call.project.id;
    blank.usid = "sample";
    auto rendered = api.deps().renderer->Render(call.project, blank, r.message, json::object{});
    if (!rendered.ok()) return RenderErrorResponse(rendered.status());
  }
  return ErrorResponse(st);
}

http::Response RenderTemplate(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto r = ParseMessageRequest(*body);
  if (!r.ok()) return ErrorResponse(r.status());
  auto p = Prepare(api, call, *r);
  if (!p.ok()) return PrepareErrorResponse(api, call, *r, p.status());

  auto rendered =
      api.deps().renderer->Render(call.project, p->customer, r->message, p->data, r->strict);
  if (!rendered.ok()) return RenderErrorResponse(rendered.status());
  if (r->channel) {
    Status st = messaging::ValidateMessageForChannel(*r->channel, rendered->message);
    if (!st.ok()) return ErrorResponse(st);
  }
  return JsonResponse(
      200, json::object{{"message", std::move(rendered->message)},
                        {"language", rendered->language ? json::value(*rendered->language)
                                                        : json::value(nullptr)},
                        {"usid", p->customer.usid}});
}

http::Response SendMessage(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto r = ParseMessageRequest(*body);
  if (!r.ok()) return ErrorResponse(r.status());
  if (!r->channel) {
    return ErrorResponse(Status::InvalidArgument("channel is required", "channel"));
  }
  auto p = Prepare(api, call, *r);
  if (!p.ok()) return PrepareErrorResponse(api, call, *r, p.status());
  if (!p->channel_config) {
    return ErrorResponse(Status::InvalidArgument(
        "the project has no " + std::string(messaging::ChannelName(*r->channel)) +
            " channel configured; PUT /api/v1/channels/" +
            std::string(messaging::ChannelName(*r->channel)) + " first",
        "channel"));
  }
  auto rendered =
      api.deps().renderer->Render(call.project, p->customer, r->message, p->data, r->strict);
  if (!rendered.ok()) return RenderErrorResponse(rendered.status());
  json::object content = std::move(rendered->message);
  content.erase("transactional");
  bool transactional = r->transactional.value_or(false);
  Status valid = messaging::CheckOutgoing(*r->channel, content, transactional);
  if (valid.ok() && *r->channel == messaging::Channel::kEmail) {
    valid = messaging::CheckEmailSendable(content);
  }
  if (!valid.ok()) return ErrorResponse(valid);
  // The outbox fills in the recipient and skips (no_address) a customer without one.
  content.erase("to");

  messaging::EnqueueRequest request{call.project.id,    p->customer.usid,   *r->channel,
                                    std::move(content), r->idempotency_key, transactional};
  auto queued = api.deps().outbox->Enqueue(request);
  if (!queued.ok()) return ErrorResponse(queued.status());
  if (!queued->created) {
    Status reuse =
        CheckKeyReuse(api, call.project.id, queued->message, p->customer.usid, *r->channel);
    if (!reuse.ok()) return ErrorResponse(reuse);
  }
  return JsonResponse(queued->created ? 201 : 200, messaging::OutboxMessageToJson(queued->message));
}

Result<store::OutboxFilter> ReadFilter(const http::Request& req) {
  store::OutboxFilter f;
  if (const std::string* c = req.Query("customer"); c && !c->empty()) f.usid = *c;
  if (const std::string* s = req.Query("status"); s && !s->empty()) {
    if (*s != "queued" && *s != "sending" && *s != "sent" && *s != "failed" && *s != "skipped") {
      return Status::InvalidArgument("status must be queued, sending, sent, failed or skipped",
                                     "status");
    }
    f.status = *s;
  }
  if (const std::string* r = req.Query("skip_reason"); r && !r->empty()) {
    if (!messaging::ParseSkipReason(*r)) {
      return Status::InvalidArgument(
          "skip_reason must be no_address, unsubscribed, suppressed, frequency_cap or "
          "quiet_hours",
          "skip_reason");
    }
    f.skip_reason = *r;
  }
  if (const std::string* ch = req.Query("channel"); ch && !ch->empty()) {
    if (!messaging::ParseChannel(*ch)) {
      return Status::InvalidArgument("channel must be email, sms, push or webhook", "channel");
    }
    f.channel = *ch;
  }
  return f;
}

// A page of messages, newest first: the cursor carries the seq to continue below.
http::Response ListPage(Api& api, ApiCall& call, store::OutboxFilter filter,
                        const std::string& usid) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  std::vector<store::OutboxMessage> rows;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    if (!usid.empty()) {
      XOAL_ASSIGN_OR_RETURN(auto c, core::GetCustomer(txn, call.project.id, usid));
      filter.usid = c.usid;
    }
    XOAL_ASSIGN_OR_RETURN(
        rows, txn.ListOutboxMessages(call.project.id, filter, page->after_seq, page->limit));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, PageJson(rows, *page, messaging::OutboxMessageToJson));
}

http::Response ListMessages(Api& api, ApiCall& call) {
  auto filter = ReadFilter(call.req);
  if (!filter.ok()) return ErrorResponse(filter.status());
  return ListPage(api, call, *filter, "");
}

http::Response ListCustomerMessages(Api& api, ApiCall& call) {
  auto filter = ReadFilter(call.req);
  if (!filter.ok()) return ErrorResponse(filter.status());
  return ListPage(api, call, *filter, call.req.Param("usid"));
}

http::Response GetMessage(Api& api, ApiCall& call) {
  const std::string& id = call.req.Param("id");
  std::optional<store::OutboxMessage> m;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(m, txn.GetOutboxMessage(call.project.id, id));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  if (!m) return ErrorResponse(Status::NotFound("no message with id " + id));
  return JsonResponse(200, messaging::OutboxMessageToJson(*m));
}

}  // namespace

void AddMessageRoutes(Api& api) {
  api.AddManagement(Method::kPost, "/api/v1/templates/render", RenderTemplate);
  api.AddManagement(Method::kPost, "/api/v1/messages", SendMessage);
  api.AddManagement(Method::kGet, "/api/v1/messages", ListMessages);
  api.AddManagement(Method::kGet, "/api/v1/messages/{id}", GetMessage);
  api.AddManagement(Method::kGet, "/api/v1/customers/{usid}/messages", ListCustomerMessages);
}

}  // namespace xoal::api
