// Health, metrics, project settings, API keys, and the project's event feed.
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "core/customers.hpp"
#include "core/projects.hpp"
#include "workflows/engine.hpp"

namespace xoal::api {
namespace {

using http::Method;

constexpr int kMaxEventsLimit = 1000;

http::Response GetProject(ApiCall& call) {
  return JsonResponse(200, core::ProjectToJson(call.project));
}

http::Response PatchProject(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  std::optional<store::Project> updated;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto current, txn.GetProject(call.project.id));
    if (!current) return Status::NotFound("project not found");
    store::Project before = *current;
    XOAL_ASSIGN_OR_RETURN(auto p, core::ApplyProjectPatch(std::move(*current), *body));
    XOAL_RETURN_IF_ERROR(txn.UpdateProject(p));
    // Date triggers are local times: a new time zone moves every customer's moment.
    if (api.deps().workflows) {
      XOAL_RETURN_IF_ERROR(api.deps().workflows->OnProjectSettingsChanged(txn, before, p));
    }
    updated = std::move(p);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  if (api.deps().workflows) api.deps().workflows->Wake();
  api.UpdateProjectCache(*updated);
  spdlog::info("project_updated project_id={}", updated->id);
  return JsonResponse(200, core::ProjectToJson(*updated));
}

http::Response ListKeys(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  // Last-used times are gathered in memory and written once a second; write them now so the
  // list shows this very request's use too.
  if (Status flushed = api.deps().keys.FlushLastUsed(); !flushed.ok()) {
    return ErrorResponse(flushed);
  }
  std::vector<store::ApiKey> keys;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(keys, txn.ListKeys(call.project.id));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  // Keys are few: the cursor is the position in the list, oldest first.
  json::array all;
  for (const auto& k : keys) all.push_back(core::KeyToJson(k));
  return JsonResponse(200, PageByPosition(std::move(all), *page));
}

http::Response CreateKey(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto name = OptionalString(*body, "name");
  if (!name.ok()) return ErrorResponse(name.status());
  auto type_name = OptionalString(*body, "type");
  if (!type_name.ok()) return ErrorResponse(type_name.status());
  auto type = core::ParseKeyType(type_name->value_or(""));
  if (!type) {
    return ErrorResponse(
        Status::InvalidArgument("type must be \"ingestion\" or \"management\"", "type"));
  }
  std::string key_name = name->value_or(std::string(core::KeyTypeName(*type)) + " key");
  if (key_name.empty() || key_name.size() > 200) {
    return ErrorResponse(Status::InvalidArgument("name must have 1 to 200 characters", "name"));
  }
  auto made = core::MakeKey(call.project.id, *type, key_name, api.deps().clock.SystemNow());
  Status st =
      api.deps().store.Write([&](store::WriteTxn& txn) { return txn.InsertKey(made.record); });
  if (!st.ok()) return ErrorResponse(st);
  api.deps().keys.Put(made.record);
  spdlog::info("api_key_created project_id={} key_id={} type={}", call.project.id, made.record.id,
               core::KeyTypeName(*type));
  json::object out = core::KeyToJson(made.record);
  out["key"] = made.plaintext;
  return JsonResponse(201, out);
}

http::Response RevokeKey(Api& api, ApiCall& call) {
  const std::string& id = call.req.Param("id");
  std::optional<store::ApiKey> revoked;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_RETURN_IF_ERROR(txn.RevokeKey(call.project.id, id, api.deps().clock.SystemNow()));
    XOAL_ASSIGN_OR_RETURN(auto keys, txn.ListKeys(call.project.id));
    bool management_left = false;
    for (auto& k : keys) {
      if (k.type == store::KeyType::kManagement && !k.revoked_at) management_left = true;
      if (k.id == id) revoked = std::move(k);
    }
    if (revoked && revoked->type == store::KeyType::kManagement && !management_left) {
      // Undone with the rest of this write: the project would be locked out of its own API.
      return Status::Conflict("this is the project's last management key; create another first");
    }
    return Status::Ok();
  });
  if (st.IsNotFound()) return ErrorResponse(Status::NotFound("no active key with id " + id));
  if (!st.ok()) return ErrorResponse(st);
  api.deps().keys.Remove(id);
  spdlog::info("api_key_revoked project_id={} key_id={}", call.project.id, id);
  return JsonResponse(200, core::KeyToJson(*revoked));
}

http::Response ListEvents(Api& api, ApiCall& call, const std::string& usid) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  std::vector<store::Event> events;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    std::string resolved;
    if (!usid.empty()) {
      XOAL_ASSIGN_OR_RETURN(auto c, core::GetCustomer(txn, call.project.id, usid));
      resolved = c.usid;
    }
    int limit = std::min(page->limit, kMaxEventsLimit);
    XOAL_ASSIGN_OR_RETURN(events,
                          txn.ListEvents(call.project.id, resolved, page->after_seq, limit));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  // Newest first: the cursor carries the seq to continue below.
  json::array data;
  for (const auto& e : events) data.push_back(core::EventToJson(e));
  json::value next = nullptr;
  if (!events.empty() && static_cast<int>(events.size()) == page->limit) {
    next = EncodeCursor(events.back().seq);
  }
  return JsonResponse(200, json::object{{"data", std::move(data)}, {"next_cursor", next}});
}

}  // namespace

void AddSettingsRoutes(Api& api) {
  api.Add(Method::kGet, "/healthz", Access::kPublic, [](ApiCall&) {
    return JsonResponse(200, json::object{{"status", "ok"}});
  });
  api.Add(Method::kGet, "/metrics", Access::kPublic, [&api](ApiCall&) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = api.deps().metrics.RenderPrometheus();
    return r;
  });
  api.Add(Method::kGet, "/api/v1/project", Access::kManagement, GetProject);
  api.Add(Method::kPatch, "/api/v1/project", Access::kManagement,
          [&api](ApiCall& c) { return PatchProject(api, c); });
  api.Add(Method::kGet, "/api/v1/api-keys", Access::kManagement,
          [&api](ApiCall& c) { return ListKeys(api, c); });
  api.Add(Method::kPost, "/api/v1/api-keys", Access::kManagement,
          [&api](ApiCall& c) { return CreateKey(api, c); });
  api.Add(Method::kDelete, "/api/v1/api-keys/{id}", Access::kManagement,
          [&api](ApiCall& c) { return RevokeKey(api, c); });
  api.Add(Method::kGet, "/api/v1/events", Access::kManagement,
          [&api](ApiCall& c) { return ListEvents(api, c, ""); });
  api.Add(Method::kGet, "/api/v1/customers/{usid}/events", Access::kManagement,
          [&api](ApiCall& c) { return ListEvents(api, c, c.req.Param("usid")); });
}

}  // namespace xoal::api
