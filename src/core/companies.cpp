#include "core/companies.hpp"

#include "common/time_format.hpp"
#include "core/fields.hpp"

namespace xoal::core {
namespace {

constexpr size_t kMaxCompanyIdLength = 256;

Result<std::string> ReadCompanyId(const json::object& body) {
  auto it = body.find("id");
  if (it == body.end() || it->value().is_null()) {
    return Status::InvalidArgument("id is required", "id");
  }
  const auto& v = it->value();
  std::string id;
  if (v.is_string()) {
    id = std::string(v.get_string());
  } else {
    return Status::InvalidArgument("id must be a string", "id");
  }
  if (id.empty() || id.size() > kMaxCompanyIdLength) {
    return Status::InvalidArgument("id must have 1 to 256 characters", "id");
  }
  return id;
}

// Applies `name` and `attributes` of the body to the company.
Status ApplyCompanyBody(store::WriteTxn& txn, const WriteContext& ctx, store::Company& co,
                        const json::object& body) {
  for (const auto& [key, v] : body) {
    if (key != "id" && key != "name" && key != "attributes") {
      return Status::InvalidArgument("unknown field " + std::string(key) +
                                         " (custom values go under attributes)",
                                     std::string(key));
    }
  }
  XOAL_ASSIGN_OR_RETURN(auto name, OptionalString(body, "name"));
  if (name) {
    if (name->empty()) return Status::InvalidArgument("name cannot be empty", "name");
    co.name = *name;
  }
  if (auto it = body.find("attributes"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return Status::InvalidArgument("attributes must be an object", "attributes");
    }
    for (const auto& [k, v] : it->value().as_object()) {
      auto coerced = CoerceAndRegister(txn, ctx.project->id, "company", k, v, ctx.now);
      if (!coerced.ok()) return coerced.status().WithFieldPrefix("attributes");
      if (coerced->is_null()) {
        co.attributes.erase(k);
      } else {
        co.attributes[k] = std::move(*coerced);
      }
    }
  }
  co.updated_at = ctx.now;
  return txn.PutCompany(co);
}

}  // namespace

Result<CompanyUpsert> UpsertCompany(store::WriteTxn& txn, const WriteContext& ctx,
                                    const json::object& body) {
  XOAL_ASSIGN_OR_RETURN(auto id, ReadCompanyId(body));
  XOAL_ASSIGN_OR_RETURN(auto existing, txn.GetCompany(ctx.project->id, id));
  CompanyUpsert out;
  out.created = !existing;
  if (existing) {
    out.company = std::move(*existing);
  } else {
    out.company = store::Company{0, ctx.project->id, id, id, {}, ctx.now, ctx.now};
  }
  XOAL_RETURN_IF_ERROR(ApplyCompanyBody(txn, ctx, out.company, body));
  return out;
}

Result<store::Company> PatchCompany(store::WriteTxn& txn, const WriteContext& ctx,
                                    std::string_view id, const json::object& body) {
  XOAL_ASSIGN_OR_RETURN(auto existing, txn.GetCompany(ctx.project->id, id));
  if (!existing) return Status::NotFound("no company with id " + std::string(id));
  if (auto it = body.find("id"); it != body.end() && it->value() != json::value(id)) {
    return Status::InvalidArgument("a company's id cannot change", "id");
  }
  XOAL_RETURN_IF_ERROR(ApplyCompanyBody(txn, ctx, *existing, body));
  return std::move(*existing);
}

Result<store::Membership> PutMember(store::WriteTxn& txn, const WriteContext& ctx,
                                    std::string_view company_id, std::string_view usid,
                                    const json::object& body) {
  const std::string& pid = ctx.project->id;
  XOAL_ASSIGN_OR_RETURN(auto company, txn.GetCompany(pid, company_id));
  if (!company) return Status::NotFound("no company with id " + std::string(company_id));
  XOAL_ASSIGN_OR_RETURN(auto customer, GetCustomer(txn, pid, usid));
  XOAL_ASSIGN_OR_RETURN(auto existing, txn.GetMembership(pid, company_id, customer.usid));
  store::Membership m = existing ? std::move(*existing)
                                 : store::Membership{0, pid, std::string(company_id),
                                                     customer.usid, {}, ctx.now};
  for (const auto& [key, v] : body) {
    if (key != "attributes") {
      return Status::InvalidArgument("a membership takes only attributes", std::string(key));
    }
  }
  if (auto it = body.find("attributes"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return Status::InvalidArgument("attributes must be an object", "attributes");
    }
    for (const auto& [k, v] : it->value().as_object()) {
      if (v.is_null()) {
        m.attributes.erase(k);
      } else {
        m.attributes[k] = v;
      }
    }
  }
  XOAL_RETURN_IF_ERROR(txn.PutMembership(m));
  return m;
}

json::object CompanyToJson(const store::Company& c, int64_t member_count) {
  return json::object{{"id", c.id},
                      {"name", c.name},
                      {"attributes", c.attributes},
                      {"member_count", member_count},
                      {"created_at", FormatIsoTime(c.created_at)},
                      {"updated_at", FormatIsoTime(c.updated_at)}};
}

json::object MembershipToJson(const store::Membership& m, const store::Customer* customer) {
  json::object out{{"company_id", m.company_id},
                   {"usid", m.usid},
                   {"attributes", m.attributes},
                   {"joined_at", FormatIsoTime(m.created_at)}};
  if (customer) {
    out["user_id"] = customer->user_id ? json::value(*customer->user_id) : json::value(nullptr);
    out["email"] = customer->email ? json::value(*customer->email) : json::value(nullptr);
  }
  return out;
}

}  // namespace xoal::core
