// Companies and their members.
#pragma once

#include "core/customers.hpp"
#include "store/store.hpp"

namespace xoal::core {

struct CompanyUpsert {
  store::Company company;
  bool created = false;
};

// POST /companies: creates or updates the company named by body.id. Attributes merge into the
// existing ones (null removes one); `name` defaults to the id on creation.
Result<CompanyUpsert> UpsertCompany(store::WriteTxn& txn, const WriteContext& ctx,
                                    const json::object& body);

// PATCH /companies/{id}: `name` and `attributes`; kNotFound for an unknown id.
Result<store::Company> PatchCompany(store::WriteTxn& txn, const WriteContext& ctx,
                                    std::string_view id, const json::object& body);

// PUT /companies/{id}/members/{usid}: kNotFound for an unknown company or customer.
Result<store::Membership> PutMember(store::WriteTxn& txn, const WriteContext& ctx,
                                    std::string_view company_id, std::string_view usid,
                                    const json::object& body);

json::object CompanyToJson(const store::Company& c, int64_t member_count);
json::object MembershipToJson(const store::Membership& m, const store::Customer* customer);

}  // namespace xoal::core
