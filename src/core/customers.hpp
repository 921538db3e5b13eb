// Customers: identity resolution, attribute writes through the field registry, tags, merges and
// the JSON shape of a profile. Every function here runs inside a store transaction it is given,
// so callers decide what commits together.
#pragma once

#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "core/fields.hpp"
#include "store/store.hpp"

namespace xoal::core {

// Who is writing, and the time that decides attribute order.
struct WriteContext {
  const store::Project* project = nullptr;
  SystemTime now;           // when the write happens
  SystemTime message_time;  // the time of the message that carries the values
  std::string added_via = "api";
  FieldTypeCache* field_types = nullptr;  // optional, for many writes in one transaction
};

// Attributes kept in Customer::attributes that have a built-in meaning.
bool IsStoredBuiltinAttribute(std::string_view name);

// "user", "lead" or "unidentified".
std::string_view ContactType(const store::Customer& c);

json::object CustomerToJson(const store::Customer& c);
json::object EventToJson(const store::Event& e);

// Every attribute of the customer, built-in and custom, as one object.
json::object CustomerAttributes(const store::Customer& c);

// A lower-cased, trimmed email, or kInvalidArgument (field `email`).
Result<std::string> NormalizeEmail(std::string_view raw);

// Finds the live customer; a usid that was merged away resolves to the survivor.
Result<std::optional<store::Customer>> ResolveCustomer(store::ReadTxn& txn,
                                                       std::string_view project_id,
                                                       store::CustomerKey key,
                                                       std::string_view value);

// Like ResolveCustomer for a usid, but kNotFound when there is none.
Result<store::Customer> GetCustomer(store::ReadTxn& txn, std::string_view project_id,
                                    std::string_view usid);

// Sets one attribute (built-in or custom) after validation and coercion. A value older than the
// one stored (by message time) is ignored. null removes the attribute. Does not write the row.
Status SetAttribute(store::WriteTxn& txn, const WriteContext& ctx, store::Customer& c,
                    std::string_view name, const json::value& value);

struct UpsertResult {
  store::Customer customer;
  bool created = false;
};

// POST /customers: finds the profile by user_id, then email, then anonymous id; creates one when
// none matches; applies the body. kConflict when the identifiers name different profiles.
Result<UpsertResult> UpsertCustomer(store::WriteTxn& txn, const WriteContext& ctx,
                                    const json::object& body);

// PATCH /customers/{usid}: applies the body to that profile.
Result<store::Customer> PatchCustomer(store::WriteTxn& txn, const WriteContext& ctx,
                                      std::string_view usid, const json::object& body);

// Applies a body (identity, built-ins, custom attributes, tags) to `c` and writes it. Shared by
// Upsert and Patch; exposed for ingestion.
Status ApplyCustomerBody(store::WriteTxn& txn, const WriteContext& ctx, store::Customer& c,
                         const json::object& body, bool is_new);

// A new, unsaved profile with a fresh usid.
store::Customer NewCustomer(const WriteContext& ctx);

// Merges `secondary` into `primary` (both live usids of the project) and returns the survivor.
Result<store::Customer> MergeCustomers(store::WriteTxn& txn, const WriteContext& ctx,
                                       std::string_view primary_usid,
                                       std::string_view secondary_usid);

struct ImportReport {
  int created = 0;
  int updated = 0;
  json::array rejected;  // {"row": n, "reason": "..."}
};

// Applies a CSV (header row, then one customer a row) to the project, each row on its own.
Result<ImportReport> ImportCustomersCsv(store::Store& store, const Clock& clock,
                                        const store::Project& project, std::string_view csv);

}  // namespace xoal::core
