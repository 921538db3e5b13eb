// The request and response types every handler sees. They carry no Beast types, so that handler
// code compiles without Beast and can be called directly in tests.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xoal::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

std::string_view MethodName(Method m);

struct Request {
  Method method = Method::kGet;
  std::string path;                                   // decoded path, without the query
  std::map<std::string, std::string> query;           // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::map<std::string, std::string> params;          // filled by the router from `{name}` parts

  // The first header called `name` (lower case), or "" when absent.
  std::string_view Header(std::string_view name) const;
  // The query parameter, or nullptr.
  const std::string* Query(const std::string& name) const;
  const std::string& Param(const std::string& name) const { return params.at(name); }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using Handler = std::function<Response(Request&)>;

// Percent-decodes `in` ('+' becomes a space when `plus_is_space`). Returns false on a bad escape.
bool PercentDecode(std::string_view in, std::string& out, bool plus_is_space);

// Splits a request target into its decoded path and query. Returns false on bad escapes.
bool SplitTarget(std::string_view target, std::string& path,
                 std::map<std::string, std::string>& query);

}  // namespace xoal::http
