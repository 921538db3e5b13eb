#include "common/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

// Boost.JSON is used header-only: Debian ships no compiled library for it, so its
// implementation is compiled into exactly this translation unit.
#include <boost/json/src.hpp>

namespace xoal {

Result<json::value> ParseJsonAllowingNonFinite(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) {
    return Status::Malformed("malformed JSON: " + ec.message());
  }
  return v;
}

bool HasNonFiniteNumber(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return !std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& e : v.get_array()) {
        if (HasNonFiniteNumber(e)) return true;
      }
      return false;
    case json::kind::object:
      for (const auto& [k, e] : v.get_object()) {
        if (HasNonFiniteNumber(e)) return true;
      }
      return false;
    default:
      return false;
  }
}

Result<json::value> ParseJson(std::string_view text) {
  XOAL_ASSIGN_OR_RETURN(auto v, ParseJsonAllowingNonFinite(text));
  // 1e999 parses as infinity, which JSON cannot write back: stored, it would turn the whole
  // record it sits in into unreadable text.
  if (HasNonFiniteNumber(v)) {
    return Status::InvalidArgument("a number is too large to be stored (it is not finite)");
  }
  return v;
}

Result<std::optional<std::string>> OptionalString(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) {
    return Status::InvalidArgument(std::string(key) + " must be a string", std::string(key));
  }
  return std::optional<std::string>(std::string(it->value().get_string()));
}

Result<std::optional<bool>> OptionalBool(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<bool>();
  if (!it->value().is_bool()) {
    return Status::InvalidArgument(std::string(key) + " must be a boolean", std::string(key));
  }
  return std::optional<bool>(it->value().get_bool());
}

Status CheckKnownMembers(const json::object& obj, std::span<const std::string_view> known,
                         std::string_view what) {
  for (const auto& member : obj) {
    if (std::find(known.begin(), known.end(), member.key()) != known.end()) continue;
    std::string list;
    for (size_t i = 0; i < known.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == known.size() ? " and " : ", ") + std::string(known[i]);
    }
    return Status::InvalidArgument(
        fmt::format("unknown member {} ({} has {})", std::string(member.key()), what, list),
        std::string(member.key()));
  }
  return Status::Ok();
}

std::string_view JsonTypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "list";
    case json::kind::object:
      return "object";
  }
  return "unknown";
}

}  // namespace xoal
