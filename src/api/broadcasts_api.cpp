// The Broadcast API (SPEC, Management API; shapes in docs/api.md "Broadcasts"), over
// broadcasts::BroadcastEngine.
#include "api/api.hpp"
#include "broadcasts/engine.hpp"

namespace xoal::api {
namespace {

using http::Method;

broadcasts::BroadcastEngine& Engine(Api& api) { return *api.deps().broadcasts; }

// Answers broadcast `id` of the caller's project with its counts, or 404.
http::Response Answer(Api& api, ApiCall& call, std::string_view id, int status) {
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto b, txn.GetBroadcast(call.project.id, id));
    if (!b) return Status::NotFound("no broadcast with id " + std::string(id));
    XOAL_ASSIGN_OR_RETURN(auto counts, broadcasts::BroadcastCounts(txn, *b));
    out = broadcasts::BroadcastToJson(*b, std::move(counts));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(status, out);
}

http::Response AnswerResult(Api& api, ApiCall& call, const Result<store::Broadcast>& b,
                            int status = 200) {
  if (!b.ok()) return ErrorResponse(b.status());
  return Answer(api, call, b->id, status);
}

http::Response Create(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status st = broadcasts::CheckKnownMembers(*body); !st.ok()) return ErrorResponse(st);
  return AnswerResult(api, call, Engine(api).Create(call.project, *body), 201);
}

http::Response List(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListBroadcasts(call.project.id, *page));
    Status counts_st;
    out = PageJson(rows, *page, [&](const store::Broadcast& b) {
      auto counts = broadcasts::BroadcastCounts(txn, b);
      if (!counts.ok()) counts_st = counts.status();
      return broadcasts::BroadcastToJson(b, counts.ok() ? *counts : json::object());
    });
    return counts_st;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response Get(Api& api, ApiCall& call) { return Answer(api, call, call.req.Param("id"), 200); }

http::Response Patch(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status st = broadcasts::CheckKnownMembers(*body); !st.ok()) return ErrorResponse(st);
  return AnswerResult(api, call, Engine(api).Update(call.project, call.req.Param("id"), *body));
}

http::Response Delete(Api& api, ApiCall& call) {
  Status st = Engine(api).Delete(call.project, call.req.Param("id"));
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"deleted", true}});
}

http::Response Send(Api& api, ApiCall& call) {
  return AnswerResult(api, call, Engine(api).Send(call.project, call.req.Param("id")));
}

http::Response Schedule(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req, /*allow_empty=*/true);
  if (!body.ok()) return ErrorResponse(body.status());
  return AnswerResult(api, call, Engine(api).Schedule(call.project, call.req.Param("id"), *body));
}

http::Response Cancel(Api& api, ApiCall& call) {
  return AnswerResult(api, call, Engine(api).Cancel(call.project, call.req.Param("id")));
}

}  // namespace

void AddBroadcastRoutes(Api& api) {
  api.AddManagement(Method::kPost, "/api/v1/broadcasts", Create);
  api.AddManagement(Method::kGet, "/api/v1/broadcasts", List);
  api.AddManagement(Method::kGet, "/api/v1/broadcasts/{id}", Get);
  api.AddManagement(Method::kPatch, "/api/v1/broadcasts/{id}", Patch);
  api.AddManagement(Method::kDelete, "/api/v1/broadcasts/{id}", Delete);
  api.AddManagement(Method::kPost, "/api/v1/broadcasts/{id}/send", Send);
  api.AddManagement(Method::kPost, "/api/v1/broadcasts/{id}/schedule", Schedule);
  api.AddManagement(Method::kPost, "/api/v1/broadcasts/{id}/cancel", Cancel);
}

}  // namespace xoal::api
