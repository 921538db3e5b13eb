// The Customer API and the Customer Attribute API.
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "core/customers.hpp"

namespace xoal::api {
namespace {

using http::Method;
using CustomerWrite =
    std::function<Result<store::Customer>(store::WriteTxn&, const core::WriteContext&)>;

core::WriteContext ContextFor(Api& api, const ApiCall& call) {
  SystemTime now = api.deps().clock.SystemNow();
  return core::WriteContext{&call.project, now, now, "api"};
}

// Runs `fn` in a write transaction and answers the customer it returns with `status`.
http::Response WriteCustomer(Api& api, ApiCall& call, int status, const CustomerWrite& fn) {
  core::WriteContext ctx = ContextFor(api, call);
  std::optional<store::Customer> out;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(out, fn(txn, ctx));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(status, core::CustomerToJson(*out));
}

http::Response ReadCustomer(Api& api, ApiCall& call, store::CustomerKey key,
                            const std::string& value) {
  std::optional<store::Customer> found;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(found, core::ResolveCustomer(txn, call.project.id, key, value));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  if (!found) return ErrorResponse(Status::NotFound("no such customer"));
  return JsonResponse(200, core::CustomerToJson(*found));
}

http::Response Upsert(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  core::WriteContext ctx = ContextFor(api, call);
  std::optional<core::UpsertResult> result;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(result, core::UpsertCustomer(txn, ctx, *body));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(result->created ? 201 : 200, core::CustomerToJson(result->customer));
}

http::Response List(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  store::CustomerFilter filter;
  if (const auto* e = call.req.Query("email")) {
    auto email = core::NormalizeEmail(*e);
    filter.email = email.ok() ? *email : *e;
  }
  if (const auto* u = call.req.Query("user_id")) filter.user_id = *u;
  if (const auto* t = call.req.Query("tag")) filter.tag = *t;
  if (const auto* s = call.req.Query("segment_id")) filter.segment_id = *s;
  std::vector<store::Customer> rows;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    if (filter.segment_id) {
      XOAL_ASSIGN_OR_RETURN(auto segment, txn.GetSegment(call.project.id, *filter.segment_id));
      if (!segment) return Status::NotFound("no segment with id " + *filter.segment_id);
    }
    XOAL_ASSIGN_OR_RETURN(rows, txn.ListCustomers(call.project.id, filter, *page));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, PageJson(rows, *page, core::CustomerToJson));
}

http::Response Lookup(Api& api, ApiCall& call) {
  static const std::pair<const char*, store::CustomerKey> kKeys[] = {
      {"user_id", store::CustomerKey::kUserId},
      {"email", store::CustomerKey::kEmail},
      {"anonymous_id", store::CustomerKey::kAnonymousId},
      {"usid", store::CustomerKey::kUsid}};
  for (const auto& [name, key] : kKeys) {
    if (const std::string* v = call.req.Query(name)) return ReadCustomer(api, call, key, *v);
  }
  return ErrorResponse(
      Status::InvalidArgument("give one of user_id, email, anonymous_id or usid", "user_id"));
}

http::Response Patch(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  return WriteCustomer(api, call, 200, [&](store::WriteTxn& txn, const core::WriteContext& ctx) {
    return core::PatchCustomer(txn, ctx, call.req.Param("usid"), *body);
  });
}

http::Response Delete(Api& api, ApiCall& call) {
  const std::string& usid = call.req.Param("usid");
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto c, core::GetCustomer(txn, call.project.id, usid));
    return txn.DeleteCustomer(call.project.id, c.usid);
  });
  if (!st.ok()) return ErrorResponse(st);
  spdlog::info("customer_deleted project_id={} customer_id={}", call.project.id, usid);
  return JsonResponse(200, json::object{{"deleted", true}});
}

http::Response GetAttributes(Api& api, ApiCall& call) {
  std::optional<store::Customer> c;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(c, core::GetCustomer(txn, call.project.id, call.req.Param("usid")));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"data", core::CustomerAttributes(*c)}});
}

// PUT /attributes takes {"attributes": {...}}; a bare object of attributes is accepted too.
http::Response PutAttributes(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  json::object patch;
  if (auto it = body->find("attributes"); it != body->end() && body->size() == 1) {
    if (!it->value().is_object()) {
      return ErrorResponse(Status::InvalidArgument("attributes must be an object", "attributes"));
    }
    patch["attributes"] = it->value();
  } else {
    patch["attributes"] = *body;
  }
  return WriteCustomer(api, call, 200, [&](store::WriteTxn& txn, const core::WriteContext& ctx) {
    return core::PatchCustomer(txn, ctx, call.req.Param("usid"), patch);
  });
}

// Sets (or, with null, removes) one attribute; identity fields go through the body parser.
http::Response SetOneAttribute(Api& api, ApiCall& call, const json::value& value) {
  const std::string& name = call.req.Param("name");
  bool identity = name == "user_id" || name == "email";
  if (identity && value.is_null()) {
    return ErrorResponse(Status::InvalidArgument(name + " cannot be removed", name));
  }
  json::object patch;
  if (identity) {
    patch[name] = value;
  } else {
    patch["attributes"] = json::object{{name, value}};
  }
  return WriteCustomer(api, call, 200, [&](store::WriteTxn& txn, const core::WriteContext& ctx) {
    return core::PatchCustomer(txn, ctx, call.req.Param("usid"), patch);
  });
}

http::Response PutAttribute(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto it = body->find("value");
  if (it == body->end()) {
    return ErrorResponse(Status::InvalidArgument("the body is {\"value\": ...}", "value"));
  }
  return SetOneAttribute(api, call, it->value());
}

http::Response AddTags(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  json::object patch;
  if (auto one = body->find("tag"); one != body->end()) {
    patch["tags"] = json::array{one->value()};
  } else if (auto many = body->find("tags"); many != body->end()) {
    patch["tags"] = many->value();
  } else {
    return ErrorResponse(Status::InvalidArgument("the body is {\"tags\": [\"...\"]}", "tags"));
  }
  return WriteCustomer(api, call, 200, [&](store::WriteTxn& txn, const core::WriteContext& ctx) {
    return core::PatchCustomer(txn, ctx, call.req.Param("usid"), patch);
  });
}

http::Response RemoveTag(Api& api, ApiCall& call) {
  return WriteCustomer(
      api, call, 200,
      [&](store::WriteTxn& txn, const core::WriteContext& ctx) -> Result<store::Customer> {
        XOAL_ASSIGN_OR_RETURN(auto c,
                              core::GetCustomer(txn, call.project.id, call.req.Param("usid")));
        XOAL_RETURN_IF_ERROR(txn.RemoveTag(call.project.id, c.usid, call.req.Param("tag")));
        c.updated_at = ctx.now;
        XOAL_RETURN_IF_ERROR(txn.UpdateCustomer(c));
        std::erase(c.tags, call.req.Param("tag"));
        return c;
      });
}

// {"usid"|"user_id"|"email": "..."} names one customer.
Result<store::Customer> FindNamed(store::ReadTxn& txn, const std::string& project_id,
                                  const json::object& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || !it->value().is_object()) {
    return Status::InvalidArgument(std::string(field) +
                                       " must name a customer by usid, user_id "
                                       "or email",
                                   field);
  }
  const auto& who = it->value().as_object();
  static const std::pair<const char*, store::CustomerKey> kKeys[] = {
      {"usid", store::CustomerKey::kUsid},
      {"user_id", store::CustomerKey::kUserId},
      {"email", store::CustomerKey::kEmail}};
  for (const auto& [name, key] : kKeys) {
    auto v = who.find(name);
    if (v == who.end()) continue;
    if (!v->value().is_string()) {
      return Status::InvalidArgument(std::string(name) + " must be a string",
                                     std::string(field) + "." + name);
    }
    XOAL_ASSIGN_OR_RETURN(auto c,
                          core::ResolveCustomer(txn, project_id, key, v->value().get_string()));
    if (!c) return Status::NotFound(std::string("the ") + field + " customer does not exist");
    return std::move(*c);
  }
  return Status::InvalidArgument(std::string(field) +
                                     " must name a customer by usid, user_id "
                                     "or email",
                                 field);
}

http::Response Merge(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  return WriteCustomer(
      api, call, 200,
      [&](store::WriteTxn& txn, const core::WriteContext& ctx) -> Result<store::Customer> {
        XOAL_ASSIGN_OR_RETURN(auto primary, FindNamed(txn, call.project.id, *body, "primary"));
        XOAL_ASSIGN_OR_RETURN(auto secondary, FindNamed(txn, call.project.id, *body, "secondary"));
        return core::MergeCustomers(txn, ctx, primary.usid, secondary.usid);
      });
}

http::Response Import(Api& api, ApiCall& call) {
  std::string_view ct = call.req.Header("content-type");
  if (!ct.starts_with("text/csv")) {
    return ErrorResponse(Status::UnsupportedMedia("send the CSV as Content-Type: text/csv"));
  }
  constexpr size_t kImportLimit = 8 * 1024 * 1024;
  if (call.req.body.size() > kImportLimit) {
    return ErrorResponse(Status::TooLarge("a CSV import is at most 8 MiB"));
  }
  auto report =
      core::ImportCustomersCsv(api.deps().store, api.deps().clock, call.project, call.req.body);
  if (!report.ok()) return ErrorResponse(report.status());
  spdlog::info("customer_import_done project_id={} created={} updated={} rejected={}",
               call.project.id, report->created, report->updated, report->rejected.size());
  return JsonResponse(200, json::object{{"created", report->created},
                                        {"updated", report->updated},
                                        {"rejected", report->rejected}});
}

}  // namespace

void AddCustomerRoutes(Api& api) {
  auto add = [&api](Method m, std::string pattern, Api::ManagementFn fn) {
    api.AddManagement(m, std::move(pattern), fn);
  };
  // Fixed paths first: "/customers/lookup" must not be read as a usid.
  add(Method::kPost, "/api/v1/customers", Upsert);
  add(Method::kGet, "/api/v1/customers", List);
  add(Method::kGet, "/api/v1/customers/lookup", Lookup);
  add(Method::kPost, "/api/v1/customers/import", Import);
  add(Method::kPost, "/api/v1/customers/merge", Merge);
  add(Method::kGet, "/api/v1/customers/{usid}", [](Api& a, ApiCall& c) {
    return ReadCustomer(a, c, store::CustomerKey::kUsid, c.req.Param("usid"));
  });
  add(Method::kPatch, "/api/v1/customers/{usid}", Patch);
  add(Method::kDelete, "/api/v1/customers/{usid}", Delete);
  add(Method::kGet, "/api/v1/customers/{usid}/attributes", GetAttributes);
  add(Method::kPut, "/api/v1/customers/{usid}/attributes", PutAttributes);
  add(Method::kPut, "/api/v1/customers/{usid}/attributes/{name}", PutAttribute);
  add(Method::kDelete, "/api/v1/customers/{usid}/attributes/{name}",
      [](Api& a, ApiCall& c) { return SetOneAttribute(a, c, json::value(nullptr)); });
  add(Method::kPost, "/api/v1/customers/{usid}/tags", AddTags);
  add(Method::kDelete, "/api/v1/customers/{usid}/tags/{tag}", RemoveTag);
}

}  // namespace xoal::api
