// What every API handler shares: the call context, JSON bodies in and out, the one mapping from
// Status to an HTTP answer, and cursor pagination.
#pragma once

#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "core/keys.hpp"
#include "http/http_types.hpp"
#include "store/store.hpp"

namespace xoal::api {

// One authenticated API call.
struct ApiCall {
  http::Request& req;
  core::AuthedKey key;
  store::Project project;
};

inline constexpr size_t kManagementBodyLimit = 1024 * 1024;

http::Response JsonResponse(int status, const json::value& body);
// The error answer for `st` (which must not be ok). Internal details are logged, not sent.
http::Response ErrorResponse(const Status& st);

// application/json, or any +json type, parameters ignored.
bool IsJsonContentType(std::string_view content_type);

// The request body as JSON: 415 without a JSON content type, 400 when it does not parse, 413
// over `limit`.
Result<json::value> ParseJsonBody(const http::Request& req, size_t limit);

// The request body as a JSON object: 415 without a JSON content type, 400 when it does not parse
// or is not an object, 413 over `limit`. An empty body is an empty object when `allow_empty`.
Result<json::object> ParseObjectBody(const http::Request& req, bool allow_empty = false,
                                     size_t limit = kManagementBodyLimit);

// Reads `limit` (1..1000, default 50) and `cursor` from the query.
Result<store::PageRequest> ReadPage(const http::Request& req);

// {"data": [...], "next_cursor": ...}: `next_cursor` is set when the page was full, from the
// seq of its last row.
template <typename Row, typename ToJson>
json::object PageJson(const std::vector<Row>& rows, const store::PageRequest& page,
                      ToJson&& to_json);

std::string EncodeCursor(int64_t seq);

// A page of a short list held whole in memory: the cursor is a position in `all`.
json::object PageByPosition(json::array all, const store::PageRequest& page);

template <typename Row, typename ToJson>
json::object PageJson(const std::vector<Row>& rows, const store::PageRequest& page,
                      ToJson&& to_json) {
  json::array data;
  data.reserve(rows.size());
  for (const auto& r : rows) data.push_back(to_json(r));
  json::value next = nullptr;
  if (!rows.empty() && static_cast<int>(rows.size()) == page.limit) {
    next = json::value(EncodeCursor(rows.back().seq));
  }
  return json::object{{"data", std::move(data)}, {"next_cursor", std::move(next)}};
}

}  // namespace xoal::api
