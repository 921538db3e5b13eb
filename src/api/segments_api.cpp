// The Segment API (SPEC, Management API), over segments::SegmentEngine.
#include <algorithm>

#include "api/api.hpp"
#include "common/time_format.hpp"
#include "core/customers.hpp"
#include "segments/engine.hpp"

namespace xoal::api {
namespace {

using http::Method;
constexpr size_t kDefaultPreviewSample = 10;
constexpr size_t kMaxPreviewSample = 100;
constexpr size_t kMaxMembersPerRequest = 1000;
constexpr int kMaxHistoryLimit = 1000;

segments::SegmentEngine& Engine(Api& api) { return *api.deps().segments; }

Result<json::object> SegmentJson(store::ReadTxn& txn, const store::Segment& s) {
  XOAL_ASSIGN_OR_RETURN(auto size, txn.CountSegmentMembers(s.id));
  return segments::SegmentToJson(s, size);
}

// Answers segment `id` of the caller's project, or 404.
http::Response AnswerSegment(Api& api, ApiCall& call, const std::string& id, int status) {
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto s, txn.GetSegment(call.project.id, id));
    if (!s) return Status::NotFound("no segment with id " + id);
    XOAL_ASSIGN_OR_RETURN(out, SegmentJson(txn, *s));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(status, out);
}

http::Response Create(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto s = Engine(api).Create(call.project, *body);
  if (!s.ok()) return ErrorResponse(s.status());
  return AnswerSegment(api, call, s->id, 201);
}

http::Response List(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListSegments(call.project.id, *page));
    Status size_st;
    out = PageJson(rows, *page, [&](const store::Segment& s) {
      auto j = SegmentJson(txn, s);
      if (!j.ok()) size_st = j.status();
      return j.ok() ? *j : json::object();
    });
    return size_st;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response Get(Api& api, ApiCall& call) {
  return AnswerSegment(api, call, call.req.Param("id"), 200);
}

http::Response Patch(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto s = Engine(api).Update(call.project, call.req.Param("id"), *body);
  if (!s.ok()) return ErrorResponse(s.status());
  return AnswerSegment(api, call, s->id, 200);
}

http::Response Delete(Api& api, ApiCall& call) {
  Status st = Engine(api).Delete(call.project, call.req.Param("id"));
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"deleted", true}});
}

http::Response Members(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  const std::string& id = call.req.Param("id");
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto s, txn.GetSegment(call.project.id, id));
    if (!s) return Status::NotFound("no segment with id " + id);
    XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListSegmentMembers(id, *page));
    json::array data;
    for (const auto& m : rows) {
      XOAL_ASSIGN_OR_RETURN(auto c,
                            txn.FindCustomer(call.project.id, store::CustomerKey::kUsid, m.usid));
      if (!c) continue;
      json::object j = core::CustomerToJson(*c);
      j["entered_at"] = FormatIsoTime(m.entered_at);
      data.push_back(std::move(j));
    }
    json::value next = nullptr;
    if (static_cast<int>(rows.size()) == page->limit) next = EncodeCursor(rows.back().seq);
    out = json::object{{"data", std::move(data)}, {"next_cursor", next}};
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response Count(Api& api, ApiCall& call) {
  const std::string& id = call.req.Param("id");
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto s, txn.GetSegment(call.project.id, id));
    if (!s) return Status::NotFound("no segment with id " + id);
    XOAL_ASSIGN_OR_RETURN(auto n, txn.CountSegmentMembers(id));
    out = json::object{{"count", n}, {"status", s->status}};
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response History(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  const std::string& id = call.req.Param("id");
  int limit = std::min(page->limit, kMaxHistoryLimit);
  std::vector<store::SegmentChange> rows;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto s, txn.GetSegment(call.project.id, id));
    if (!s) return Status::NotFound("no segment with id " + id);
    XOAL_ASSIGN_OR_RETURN(rows, txn.ListSegmentHistory(id, page->after_seq, limit));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  json::array data;
  for (const auto& c : rows) data.push_back(segments::SegmentChangeToJson(c));
  json::value next = nullptr;
  if (static_cast<int>(rows.size()) == limit) next = EncodeCursor(rows.back().seq);
  return JsonResponse(200, json::object{{"data", std::move(data)}, {"next_cursor", next}});
}

http::Response Preview(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto conditions = body->find("conditions");
  if (conditions == body->end()) {
    return ErrorResponse(Status::InvalidArgument("conditions are required", "conditions"));
  }
  size_t sample = kDefaultPreviewSample;
  if (auto it = body->find("sample"); it != body->end()) {
    if (!it->value().is_int64() || it->value().get_int64() < 0 ||
        it->value().get_int64() > static_cast<int64_t>(kMaxPreviewSample)) {
      return ErrorResponse(
          Status::InvalidArgument("sample must be an integer from 0 to 100", "sample"));
    }
    sample = static_cast<size_t>(it->value().get_int64());
  }
  auto result = Engine(api).Preview(call.project, conditions->value(), sample);
  if (!result.ok()) return ErrorResponse(result.status());
  json::array customers;
  for (const auto& c : result->sample) customers.push_back(core::CustomerToJson(c));
  return JsonResponse(200, json::object{{"size", result->size}, {"sample", std::move(customers)}});
}

// Reads {"usids": [...]} or {"customers": [{"usid" | "user_id" | "email": ...}]} into usids.
Result<std::vector<std::string>> ReadMemberList(Api& api, ApiCall& call, const json::object& body) {
  std::vector<std::string> out;
  if (auto it = body.find("usids"); it != body.end()) {
    if (!it->value().is_array()) return Status::InvalidArgument("usids must be a list", "usids");
    for (const auto& v : it->value().get_array()) {
      if (!v.is_string()) return Status::InvalidArgument("usids must be strings", "usids");
      out.emplace_back(v.get_string());
    }
  }
  if (auto it = body.find("customers"); it != body.end()) {
    if (!it->value().is_array()) {
      return Status::InvalidArgument("customers must be a list", "customers");
    }
    XOAL_RETURN_IF_ERROR(api.deps().store.Read([&](store::ReadTxn& txn) {
      for (const auto& v : it->value().get_array()) {
        if (!v.is_object() || v.get_object().size() != 1 ||
            !v.get_object().begin()->value().is_string()) {
          return Status::InvalidArgument(
              "each customer is {\"usid\" | \"user_id\" | \"email\": \"...\"}", "customers");
        }
        const auto& [k, value] = *v.get_object().begin();
        store::CustomerKey key = k == "user_id" ? store::CustomerKey::kUserId
                                 : k == "email" ? store::CustomerKey::kEmail
                                                : store::CustomerKey::kUsid;
        if (k != "usid" && k != "user_id" && k != "email") {
          return Status::InvalidArgument("customers are named by usid, user_id or email",
                                         "customers");
        }
        XOAL_ASSIGN_OR_RETURN(auto c,
                              core::ResolveCustomer(txn, call.project.id, key, value.get_string()));
        if (!c)
          return Status::NotFound("no customer with " + std::string(k) + " " +
                                  std::string(value.get_string()));
        out.push_back(c->usid);
      }
      return Status::Ok();
    }));
  }
  if (out.empty()) return Status::InvalidArgument("give usids or customers to add", "usids");
  if (out.size() > kMaxMembersPerRequest) {
    return Status::InvalidArgument("at most 1000 customers per request", "usids");
  }
  return out;
}

http::Response AddMembers(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto usids = ReadMemberList(api, call, *body);
  if (!usids.ok()) return ErrorResponse(usids.status());
  Status st = Engine(api).AddMembers(call.project, call.req.Param("id"), *usids);
  if (!st.ok()) return ErrorResponse(st);
  return AnswerSegment(api, call, call.req.Param("id"), 200);
}

http::Response RemoveMember(Api& api, ApiCall& call) {
  Status st = Engine(api).RemoveMember(call.project, call.req.Param("id"), call.req.Param("usid"));
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"deleted", true}});
}

http::Response SegmentsOfCustomer(Api& api, ApiCall& call) {
  json::array data;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto c, core::GetCustomer(txn, call.project.id, call.req.Param("usid")));
    XOAL_ASSIGN_OR_RETURN(auto ids, txn.ListSegmentsOf(call.project.id, c.usid));
    std::vector<store::Segment> segments;
    for (const auto& id : ids) {
      XOAL_ASSIGN_OR_RETURN(auto s, txn.GetSegment(call.project.id, id));
      if (s) segments.push_back(std::move(*s));
    }
    // Oldest segment first, as GET /segments lists them.
    std::sort(segments.begin(), segments.end(),
              [](const store::Segment& a, const store::Segment& b) { return a.seq < b.seq; });
    for (const auto& s : segments) {
      XOAL_ASSIGN_OR_RETURN(auto j, SegmentJson(txn, s));
      data.push_back(std::move(j));
    }
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"data", std::move(data)}, {"next_cursor", nullptr}});
}

}  // namespace

void AddSegmentRoutes(Api& api) {
  auto add = [&api](Method m, std::string pattern, Api::ManagementFn fn) {
    api.AddManagement(m, std::move(pattern), fn);
  };
  add(Method::kPost, "/api/v1/segments/preview", Preview);
  add(Method::kPost, "/api/v1/segments", Create);
  add(Method::kGet, "/api/v1/segments", List);
  add(Method::kGet, "/api/v1/segments/{id}", Get);
  add(Method::kPatch, "/api/v1/segments/{id}", Patch);
  add(Method::kDelete, "/api/v1/segments/{id}", Delete);
  add(Method::kGet, "/api/v1/segments/{id}/customers", Members);
  add(Method::kPost, "/api/v1/segments/{id}/customers", AddMembers);
  add(Method::kDelete, "/api/v1/segments/{id}/customers/{usid}", RemoveMember);
  add(Method::kGet, "/api/v1/segments/{id}/count", Count);
  add(Method::kGet, "/api/v1/segments/{id}/history", History);
  add(Method::kGet, "/api/v1/customers/{usid}/segments", SegmentsOfCustomer);
}

}  // namespace xoal::api
