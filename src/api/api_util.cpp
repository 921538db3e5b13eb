#include "api/api_util.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "common/crypto.hpp"

namespace xoal::api {
namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;
constexpr std::string_view kCursorPrefix = "s:";

struct HttpError {
  int status;
  std::string_view code;
};

HttpError ToHttp(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return {200, "ok"};
    case StatusCode::kInvalidArgument:
      return {422, "invalid"};
    case StatusCode::kMalformed:
      return {400, "malformed"};
    case StatusCode::kNotFound:
      return {404, "not_found"};
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
      return {409, "conflict"};
    case StatusCode::kUnauthenticated:
      return {401, "unauthenticated"};
    case StatusCode::kPermissionDenied:
      return {403, "forbidden"};
    case StatusCode::kTooLarge:
      return {413, "too_large"};
    case StatusCode::kUnsupportedMedia:
      return {415, "unsupported_media_type"};
    case StatusCode::kRateLimited:
      return {429, "rate_limited"};
    case StatusCode::kUnavailable:
      return {503, "unavailable"};
    case StatusCode::kDeadlineExceeded:
      return {504, "deadline_exceeded"};
    case StatusCode::kInternal:
      return {500, "internal"};
  }
  return {500, "internal"};
}

}  // namespace

bool IsJsonContentType(std::string_view ct) {
  size_t semi = ct.find(';');
  std::string_view mime = ct.substr(0, semi);
  while (!mime.empty() && mime.back() == ' ') mime.remove_suffix(1);
  std::string lower(mime);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" || (lower.size() > 5 && lower.ends_with("+json"));
}

http::Response JsonResponse(int status, const json::value& body) {
  http::Response r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

http::Response ErrorResponse(const Status& st) {
  HttpError e = ToHttp(st.code());
  std::string message = st.message();
  if (st.code() == StatusCode::kInternal) {
    // The detail was logged where the error was decided; callers see a generic text.
    message = "internal error";
  }
  // SPEC's error shape always has `field`: null when the error concerns no single field.
  json::object err{{"code", e.code},
                   {"message", message},
                   {"field", st.field().empty() ? json::value(nullptr) : json::value(st.field())}};
  http::Response r = JsonResponse(e.status, json::object{{"error", std::move(err)}});
  if (e.status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Result<json::value> ParseJsonBody(const http::Request& req, size_t limit) {
  if (req.body.size() > limit) {
    return Status::TooLarge("the body is over the limit of " + std::to_string(limit) + " bytes");
  }
  if (!IsJsonContentType(req.Header("content-type"))) {
    return Status::UnsupportedMedia("the body must be sent as Content-Type: application/json");
  }
  return ParseJson(req.body);
}

Result<json::object> ParseObjectBody(const http::Request& req, bool allow_empty, size_t limit) {
  if (req.body.empty() && allow_empty) return json::object();
  XOAL_ASSIGN_OR_RETURN(auto v, ParseJsonBody(req, limit));
  if (!v.is_object()) return Status::Malformed("the body must be a JSON object");
  return std::move(v.as_object());
}

Result<store::PageRequest> ReadPage(const http::Request& req) {
  store::PageRequest page;
  page.limit = kDefaultLimit;
  if (const std::string* l = req.Query("limit")) {
    int v = 0;
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
    if (ec != std::errc() || end != l->data() + l->size() || v < 1 || v > kMaxLimit) {
      return Status::InvalidArgument("limit must be a whole number from 1 to 1000", "limit");
    }
    page.limit = v;
  }
  if (const std::string* c = req.Query("cursor"); c && !c->empty()) {
    std::string decoded;
    int64_t seq = -1;
    if (Base64UrlDecode(*c, decoded) && decoded.starts_with(kCursorPrefix)) {
      std::string_view digits = std::string_view(decoded).substr(kCursorPrefix.size());
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
      if (ec != std::errc() || end != digits.data() + digits.size()) seq = -1;
    }
    if (seq < 0) return Status::InvalidArgument("cursor is not one this API gave out", "cursor");
    page.after_seq = seq;
  }
  return page;
}

std::string EncodeCursor(int64_t seq) {
  return Base64UrlEncode(std::string(kCursorPrefix) + std::to_string(seq));
}

json::object PageByPosition(json::array all, const store::PageRequest& page) {
  size_t begin = std::min(all.size(), static_cast<size_t>(page.after_seq));
  size_t end = std::min(all.size(), begin + static_cast<size_t>(page.limit));
  json::array data;
  for (size_t i = begin; i < end; ++i) data.push_back(std::move(all[i]));
  json::value next = end < all.size() ? json::value(EncodeCursor(static_cast<int64_t>(end)))
                                      : json::value(nullptr);
  return json::object{{"data", std::move(data)}, {"next_cursor", std::move(next)}};
}

}  // namespace xoal::api
