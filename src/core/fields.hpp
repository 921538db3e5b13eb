// The field registry: what type each customer, company and event attribute has, which fields are
// built in, and the safe coercions a value may undergo to fit its field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/json.hpp"
#include "store/store.hpp"

namespace xoal::core {

inline constexpr std::string_view kEntities[] = {"customer", "company", "event"};
inline constexpr std::string_view kFieldTypes[] = {"string",   "number", "boolean",
                                                   "datetime", "list",   "object"};

struct BuiltinField {
  std::string_view entity;
  std::string_view name;
  std::string_view type;
  std::string_view description;
};

// Built-in fields of `entity` (empty for an unknown entity).
std::vector<BuiltinField> BuiltinFields(std::string_view entity);
std::optional<BuiltinField> FindBuiltinField(std::string_view entity, std::string_view name);

bool IsValidEntity(std::string_view entity);
bool IsValidFieldType(std::string_view type);
// Field and attribute names: 1..128 characters, no control characters, not starting with '$'.
Status ValidateFieldName(std::string_view name);

// The field type a fresh value implies (an ISO-8601 string is still a string: only a declared
// datetime field turns strings into times).
std::string_view InferFieldType(const json::value& v);

// `v` made to fit `type`, or kInvalidArgument saying why it cannot. null passes unchanged.
Result<json::value> CoerceToType(std::string_view type, const json::value& v);

// Types of fields already in the registry, remembered during one write transaction so that a
// batch of messages looks each field up once. Only fields read from the registry are kept: one
// registered by a message that is later rolled back is never remembered.
using FieldTypeCache = std::unordered_map<std::string, std::string>;

// Coerces `value` to the type of the field `name` of `entity` in the project, registering the
// field (origin "auto") when it is new. Errors name the field in their `field`. `cache` may be
// null; when given it must only be used within one transaction.
Result<json::value> CoerceAndRegister(store::WriteTxn& txn, std::string_view project_id,
                                      std::string_view entity, std::string_view name,
                                      const json::value& value, SystemTime now,
                                      FieldTypeCache* cache = nullptr);

json::object FieldToJson(const store::Field& f);

}  // namespace xoal::core
