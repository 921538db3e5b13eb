// The Company API and the Field registry API.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/api.hpp"
#include "core/companies.hpp"
#include "core/fields.hpp"

namespace xoal::api {
namespace {

using http::Method;

core::WriteContext ContextFor(Api& api, const ApiCall& call) {
  SystemTime now = api.deps().clock.SystemNow();
  return core::WriteContext{&call.project, now, now, "api"};
}

json::object CompanyJson(store::ReadTxn& txn, const store::Company& c, Status& st) {
  auto n = txn.CountMembers(c.project_id, c.id);
  if (!n.ok()) st = n.status();
  return core::CompanyToJson(c, n.ok() ? *n : 0);
}

http::Response UpsertCompany(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto ctx = ContextFor(api, call);
  json::object out;
  bool created = false;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto r, core::UpsertCompany(txn, ctx, *body));
    created = r.created;
    Status count_st;
    out = CompanyJson(txn, r.company, count_st);
    return count_st;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(created ? 201 : 200, out);
}

http::Response ListCompanies(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListCompanies(call.project.id, *page));
    Status count_st;
    out = PageJson(rows, *page,
                   [&](const store::Company& c) { return CompanyJson(txn, c, count_st); });
    return count_st;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response GetCompany(Api& api, ApiCall& call) {
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto c, txn.GetCompany(call.project.id, call.req.Param("id")));
    if (!c) return Status::NotFound("no company with id " + call.req.Param("id"));
    Status count_st;
    out = CompanyJson(txn, *c, count_st);
    return count_st;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response PatchCompany(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto ctx = ContextFor(api, call);
  json::object out;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto c, core::PatchCompany(txn, ctx, call.req.Param("id"), *body));
    Status count_st;
    out = CompanyJson(txn, c, count_st);
    return count_st;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response DeleteCompany(Api& api, ApiCall& call) {
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    return txn.DeleteCompany(call.project.id, call.req.Param("id"));
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"deleted", true}});
}

http::Response ListMembers(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    const std::string& id = call.req.Param("id");
    XOAL_ASSIGN_OR_RETURN(auto company, txn.GetCompany(call.project.id, id));
    if (!company) return Status::NotFound("no company with id " + id);
    XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListMembers(call.project.id, id, *page));
    Status lookup_st;
    out = PageJson(rows, *page, [&](const store::Membership& m) {
      auto c = txn.FindCustomer(call.project.id, store::CustomerKey::kUsid, m.usid);
      if (!c.ok()) lookup_st = c.status();
      const store::Customer* customer = c.ok() && c->has_value() ? &**c : nullptr;
      return core::MembershipToJson(m, customer);
    });
    return lookup_st;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response PutMember(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req, /*allow_empty=*/true);
  if (!body.ok()) return ErrorResponse(body.status());
  auto ctx = ContextFor(api, call);
  json::object out;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(
        auto m, core::PutMember(txn, ctx, call.req.Param("id"), call.req.Param("usid"), *body));
    XOAL_ASSIGN_OR_RETURN(auto customer, core::GetCustomer(txn, call.project.id, m.usid));
    out = core::MembershipToJson(m, &customer);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response DeleteMember(Api& api, ApiCall& call) {
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    const std::string& id = call.req.Param("id");
    XOAL_ASSIGN_OR_RETURN(auto company, txn.GetCompany(call.project.id, id));
    if (!company) return Status::NotFound("no company with id " + id);
    XOAL_ASSIGN_OR_RETURN(auto c, core::GetCustomer(txn, call.project.id, call.req.Param("usid")));
    return txn.DeleteMembership(call.project.id, id, c.usid);
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"deleted", true}});
}

// ---- Field registry ----

// A built-in field as the API shows it. Its description may have been changed, which is stored
// as a registry row with origin "system" (`stored`); its type never changes.
json::object BuiltinJson(const core::BuiltinField& f, const store::Field* stored) {
  std::string_view description = stored ? std::string_view(stored->description) : f.description;
  return json::object{{"entity", f.entity},         {"name", f.name},     {"type", f.type},
                      {"description", description}, {"origin", "system"}, {"created_at", nullptr}};
}

Status CheckEntity(std::string_view entity) {
  if (core::IsValidEntity(entity)) return Status::Ok();
  return Status::InvalidArgument("entity must be customer, company or event", "entity");
}

http::Response ListFields(Api& api, ApiCall& call) {
  const std::string* entity = call.req.Query("entity");
  std::string e = entity ? *entity : "customer";
  if (Status st = CheckEntity(e); !st.ok()) return ErrorResponse(st);
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  json::array data;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto fields, txn.ListFields(call.project.id, e));
    for (const auto& b : core::BuiltinFields(e)) {
      auto stored = std::find_if(fields.begin(), fields.end(),
                                 [&](const store::Field& f) { return f.name == b.name; });
      data.push_back(BuiltinJson(b, stored == fields.end() ? nullptr : &*stored));
    }
    for (const auto& f : fields) {
      if (!core::FindBuiltinField(e, f.name)) data.push_back(core::FieldToJson(f));
    }
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, PageByPosition(std::move(data), *page));
}

Result<std::string> ReadType(const json::object& body) {
  XOAL_ASSIGN_OR_RETURN(auto type, OptionalString(body, "type"));
  if (!type || !core::IsValidFieldType(*type)) {
    return Status::InvalidArgument(
        "type must be one of string, number, boolean, datetime, list, object", "type");
  }
  return *type;
}

http::Response CreateField(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto entity = OptionalString(*body, "entity");
  if (!entity.ok()) return ErrorResponse(entity.status());
  std::string e = entity->value_or("");
  if (Status st = CheckEntity(e); !st.ok()) return ErrorResponse(st);
  auto name = OptionalString(*body, "name");
  if (!name.ok()) return ErrorResponse(name.status());
  if (Status st = core::ValidateFieldName(name->value_or("")); !st.ok()) return ErrorResponse(st);
  auto type = ReadType(*body);
  if (!type.ok()) return ErrorResponse(type.status());
  auto description = OptionalString(*body, "description");
  if (!description.ok()) return ErrorResponse(description.status());
  store::Field f{call.project.id,
                 e,
                 **name,
                 *type,
                 description->value_or(""),
                 "user",
                 api.deps().clock.SystemNow()};
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    if (core::FindBuiltinField(e, f.name)) {
      return Status::Conflict("a built-in field has this name", "name");
    }
    XOAL_ASSIGN_OR_RETURN(auto existing, txn.GetField(call.project.id, e, f.name));
    if (existing) return Status::Conflict("the field exists already", "name");
    return txn.PutField(f);
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(201, core::FieldToJson(f));
}

http::Response GetField(Api& api, ApiCall& call) {
  const std::string& e = call.req.Param("entity");
  const std::string& name = call.req.Param("name");
  if (Status st = CheckEntity(e); !st.ok()) return ErrorResponse(Status::NotFound(st.message()));
  auto builtin = core::FindBuiltinField(e, name);
  std::optional<store::Field> f;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(f, txn.GetField(call.project.id, e, name));
    return f || builtin ? Status::Ok() : Status::NotFound("no field " + e + "." + name);
  });
  if (!st.ok()) return ErrorResponse(st);
  if (builtin) return JsonResponse(200, BuiltinJson(*builtin, f ? &*f : nullptr));
  return JsonResponse(200, core::FieldToJson(*f));
}

http::Response PatchField(Api& api, ApiCall& call) {
  const std::string& e = call.req.Param("entity");
  const std::string& name = call.req.Param("name");
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto builtin = core::FindBuiltinField(e, name);
  std::optional<store::Field> f;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(f, txn.GetField(call.project.id, e, name));
    if (!f && builtin) {
      f = store::Field{call.project.id,
                       e,
                       name,
                       std::string(builtin->type),
                       std::string(builtin->description),
                       "system",
                       api.deps().clock.SystemNow()};
    }
    if (!f) return Status::NotFound("no field " + e + "." + name);
    for (const auto& [key, v] : *body) {
      if (key == "type") {
        XOAL_ASSIGN_OR_RETURN(auto type, ReadType(*body));
        if (builtin && type != builtin->type) {
          return Status::Conflict("built-in fields cannot be retyped", "type");
        }
        f->type = std::move(type);
      } else if (key == "description") {
        XOAL_ASSIGN_OR_RETURN(auto d, OptionalString(*body, "description"));
        f->description = d.value_or("");
      } else {
        return Status::InvalidArgument("only type and description can change", std::string(key));
      }
    }
    if (f->origin == "auto") f->origin = "user";
    return txn.PutField(*f);
  });
  if (!st.ok()) return ErrorResponse(st);
  if (builtin) return JsonResponse(200, BuiltinJson(*builtin, &*f));
  return JsonResponse(200, core::FieldToJson(*f));
}

http::Response DeleteField(Api& api, ApiCall& call) {
  const std::string& e = call.req.Param("entity");
  const std::string& name = call.req.Param("name");
  if (core::FindBuiltinField(e, name)) {
    return ErrorResponse(Status::Conflict("built-in fields cannot be deleted", "name"));
  }
  Status st = api.deps().store.Write(
      [&](store::WriteTxn& txn) { return txn.DeleteField(call.project.id, e, name); });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"deleted", true}});
}

}  // namespace

void AddCompanyRoutes(Api& api) {
  auto add = [&api](Method m, std::string pattern, Api::ManagementFn fn) {
    api.AddManagement(m, std::move(pattern), fn);
  };
  add(Method::kPost, "/api/v1/companies", UpsertCompany);
  add(Method::kGet, "/api/v1/companies", ListCompanies);
  add(Method::kGet, "/api/v1/companies/{id}", GetCompany);
  add(Method::kPatch, "/api/v1/companies/{id}", PatchCompany);
  add(Method::kDelete, "/api/v1/companies/{id}", DeleteCompany);
  add(Method::kGet, "/api/v1/companies/{id}/members", ListMembers);
  add(Method::kPut, "/api/v1/companies/{id}/members/{usid}", PutMember);
  add(Method::kDelete, "/api/v1/companies/{id}/members/{usid}", DeleteMember);
}

void AddFieldRoutes(Api& api) {
  auto add = [&api](Method m, std::string pattern, Api::ManagementFn fn) {
    api.AddManagement(m, std::move(pattern), fn);
  };
  add(Method::kGet, "/api/v1/fields", ListFields);
  add(Method::kPost, "/api/v1/fields", CreateField);
  add(Method::kGet, "/api/v1/fields/{entity}/{name}", GetField);
  add(Method::kPatch, "/api/v1/fields/{entity}/{name}", PatchField);
  add(Method::kDelete, "/api/v1/fields/{entity}/{name}", DeleteField);
}

}  // namespace xoal::api
