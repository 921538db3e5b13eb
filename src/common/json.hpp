// Boost.JSON at the edge: parsing untrusted text into values without exceptions, and small
// accessors that turn a wrong type into a Status naming the field.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace xoal {

namespace json = boost::json;

// Parses `text`; a syntax error is kMalformed with the position in the message, a number too
// large to be finite (1e999) kInvalidArgument.
Result<json::value> ParseJson(std::string_view text);

// As ParseJson, but keeps non-finite numbers, for callers that reject them item by item (a
// batch of messages): check each part with HasNonFiniteNumber().
Result<json::value> ParseJsonAllowingNonFinite(std::string_view text);
bool HasNonFiniteNumber(const json::value& v);

// Reads an optional string member: absent or null gives nullopt, another type an error.
Result<std::optional<std::string>> OptionalString(const json::object& obj, std::string_view key);

// Reads an optional boolean member: absent or null gives nullopt, another type an error.
Result<std::optional<bool>> OptionalBool(const json::object& obj, std::string_view key);

// kInvalidArgument naming the first member of `obj` that is not in `known` (field: the member),
// so that a misspelt option is refused instead of silently ignored. `what` names the object in
// the message ("a broadcast"); the message lists the known members.
Status CheckKnownMembers(const json::object& obj, std::span<const std::string_view> known,
                         std::string_view what);

// The name of a JSON value's type, for error messages ("string", "number", ...).
std::string_view JsonTypeName(const json::value& v);

}  // namespace xoal
