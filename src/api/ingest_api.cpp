// The ingestion endpoints (/ingest/v1/...), the Segment tracking API (/v1/...), and the
// ingestion error log (/api/v1/ingestion/errors).
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "common/compression.hpp"
#include "common/crypto.hpp"
#include "core/projects.hpp"
#include "ingest/apply.hpp"

namespace xoal::api {
namespace {

using http::Method;
constexpr int kMaxErrorsLimit = 1000;

// The text of the first object of a JSON array body, exactly as sent; empty when the body does
// not start with an object inside an array. The body has already parsed as JSON.
std::string_view FirstElementText(std::string_view body) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || body[start] != '[') return {};
  start = body.find_first_not_of(" \t\r\n", start + 1);
  if (start == std::string_view::npos || body[start] != '{') return {};
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return body.substr(start, i + 1 - start);
    }
  }
  return {};
}

// Segment signs its webhook with X-Signature, the hex HMAC-SHA1 of the body. In batch mode it
// signs only the first event as JSON.stringify renders it: that is the first element's text in
// the body it sends (re-serializing would not do: Boost.JSON writes 19.99 as 1.999E1).
Status VerifySignature(const ApiCall& call, ingest::Source source, const json::value& body) {
  std::string secret = core::ProjectSourceSecret(call.project, ingest::SourceName(source));
  if (secret.empty()) return Status::Ok();
  std::string given(call.req.Header("x-signature"));
  if (given.empty()) return Status::Unauthenticated("this source requires an X-Signature header");
  for (char& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ConstantTimeEquals(HmacSha1Hex(secret, call.req.body), given)) return Status::Ok();
  std::string_view first = body.is_array() ? FirstElementText(call.req.body) : std::string_view();
  if (!first.empty() && ConstantTimeEquals(HmacSha1Hex(secret, first), given)) {
    return Status::Ok();
  }
  return Status::Unauthenticated("the X-Signature does not match the body");
}

// Replaces a gzip or deflate body (Content-Encoding) by its decoded text. RudderStack's
// libraries gzip their batches by default.
Status DecodeBody(http::Request& req) {
  std::string encoding(req.Header("content-encoding"));
  for (char& c : encoding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (encoding.empty() || encoding == "identity") return Status::Ok();
  if (encoding != "gzip" && encoding != "deflate" && encoding != "x-gzip") {
    return Status::UnsupportedMedia("Content-Encoding " + encoding +
                                    " is not supported (gzip and deflate are)");
  }
  XOAL_ASSIGN_OR_RETURN(req.body, Inflate(req.body, ingest::kMaxRequestBytes));
  return Status::Ok();
}

// The body as JSON. The tracking API takes it whatever its Content-Type says, as Segment's own
// API does (libraries that gzip often send none); the ingestion endpoints require JSON.
Result<json::value> ReadBody(http::Request& req, bool tracking_api) {
  if (req.body.size() > ingest::kMaxRequestBytes) {
    return Status::TooLarge("the body is over the limit of 8 MiB");
  }
  XOAL_RETURN_IF_ERROR(DecodeBody(req));
  if (!tracking_api && !IsJsonContentType(req.Header("content-type"))) {
    return Status::UnsupportedMedia("the body must be sent as Content-Type: application/json");
  }
  // Non-finite numbers are rejected message by message (IngestBatch), not for the whole batch.
  return ParseJsonAllowingNonFinite(req.body);
}

// Which tool sent a tracking API request to plain /v1/...: its libraries name themselves in
// context.library.name. Anything else counts as Segment.
ingest::Source SourceOfTrackingCall(const json::value& body) {
  const json::value* probe = &body;
  if (body.is_object()) {
    if (auto batch = body.get_object().find("batch"); batch != body.get_object().end()) {
      if (auto ctx = body.get_object().find("context"); ctx != body.get_object().end()) {
        probe = &ctx->value();
      } else if (batch->value().is_array() && !batch->value().get_array().empty()) {
        probe = &batch->value().get_array()[0];
      }
    }
  } else if (body.is_array() && !body.get_array().empty()) {
    probe = &body.get_array()[0];
  }
  const json::value* name =
      probe->is_object() ? probe->get_object().if_contains("library") : nullptr;
  if (!name && probe->is_object()) {
    if (const json::value* ctx = probe->get_object().if_contains("context");
        ctx && ctx->is_object()) {
      name = ctx->get_object().if_contains("library");
    }
  }
  if (name && name->is_object()) name = name->get_object().if_contains("name");
  std::string lib = name && name->is_string() ? std::string(name->get_string()) : "";
  for (char& c : lib) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lib.find("rudder") != std::string::npos) return ingest::Source::kRudderstack;
  if (lib.find("jitsu") != std::string::npos) return ingest::Source::kJitsu;
  return ingest::Source::kSegment;
}

http::Response Ingest(Api& api, ApiCall& call, std::optional<ingest::Source> fixed_source,
                      std::string_view implied_type, bool tracking_api) {
  auto body = ReadBody(call.req, tracking_api);
  if (!body.ok()) return ErrorResponse(body.status());
  ingest::Source source = fixed_source ? *fixed_source : SourceOfTrackingCall(*body);
  // Webhook deliveries are signed; tracking API calls carry the write key instead, and Segment's
  // libraries never sign them.
  if (!tracking_api) {
    if (Status st = VerifySignature(call, source, *body); !st.ok()) return ErrorResponse(st);
  }
  if (!implied_type.empty() && !body->is_object()) {
    return ErrorResponse(Status::Malformed("/v1/" + std::string(implied_type) +
                                           " takes one message object; send batches to /v1/batch"));
  }
  Result<std::vector<json::value>> items =
      implied_type.empty() ? ingest::SplitBatch(std::move(*body))
                           : Result<std::vector<json::value>>(std::vector<json::value>{*body});
  if (!items.ok()) return ErrorResponse(items.status());
  ingest::IngestContext ctx{&call.project, source, api.deps().clock.SystemNow()};
  auto result = ingest::IngestBatch(api.deps().store, ctx, *items, implied_type);
  if (!result.ok()) return ErrorResponse(result.status());
  api.deps().metrics.Count("xoal_ingest_messages_accepted_total", result->accepted);
  api.deps().metrics.Count("xoal_ingest_messages_duplicate_total", result->duplicates);
  api.deps().metrics.Count("xoal_ingest_messages_rejected_total", result->rejected.size());
  spdlog::debug("ingest_request project_id={} source={} accepted={} duplicates={} rejected={}",
                call.project.id, ingest::SourceName(source), result->accepted, result->duplicates,
                result->rejected.size());
  json::object out{{"accepted", result->accepted},
                   {"duplicates", result->duplicates},
                   {"rejected", std::move(result->rejected)}};
  if (tracking_api) out["success"] = true;  // what Segment's own API answers
  return JsonResponse(200, out);
}

http::Response ListIngestionErrors(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  std::vector<store::IngestionError> errors;
  int limit = std::min(page->limit, kMaxErrorsLimit);
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(errors, txn.ListIngestionErrors(call.project.id, page->after_seq, limit));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  json::array data;
  for (const auto& e : errors) data.push_back(ingest::IngestionErrorToJson(e));
  json::value next = nullptr;
  if (static_cast<int>(errors.size()) == limit) next = EncodeCursor(errors.back().seq);
  return JsonResponse(200, json::object{{"data", std::move(data)}, {"next_cursor", next}});
}

}  // namespace

void AddIngestRoutes(Api& api) {
  api.Add(Method::kPost, "/ingest/v1/event", Access::kIngestion,
          [&api](ApiCall& c) { return Ingest(api, c, ingest::Source::kApi, {}, false); });
  api.Add(Method::kPost, "/ingest/v1/{source}/event", Access::kIngestion, [&api](ApiCall& c) {
    auto source = ingest::ParseSourceName(c.req.Param("source"));
    if (!source || *source == ingest::Source::kApi) {
      return ErrorResponse(
          Status::NotFound("no ingestion endpoint for source " + c.req.Param("source")));
    }
    return Ingest(api, c, *source, {}, false);
  });
  // The Segment tracking API at /v1/..., and under /ingest/v1/{source}/v1/... for libraries
  // (RudderStack's, say) whose host is set to `.../ingest/v1/rudderstack`, which labels their
  // events with that source.
  for (std::string_view type : {"identify", "track", "page", "screen", "group", "alias", "batch"}) {
    std::string implied = type == "batch" ? "" : std::string(type);
    api.Add(Method::kPost, "/v1/" + std::string(type), Access::kIngestion,
            [&api, implied](ApiCall& c) { return Ingest(api, c, std::nullopt, implied, true); });
    api.Add(Method::kPost, "/ingest/v1/{source}/v1/" + std::string(type), Access::kIngestion,
            [&api, implied](ApiCall& c) {
              auto source = ingest::ParseSourceName(c.req.Param("source"));
              if (!source || *source == ingest::Source::kApi) {
                return ErrorResponse(
                    Status::NotFound("no ingestion endpoint for source " + c.req.Param("source")));
              }
              return Ingest(api, c, *source, implied, true);
            });
  }
  api.Add(Method::kGet, "/api/v1/ingestion/errors", Access::kManagement,
          [&api](ApiCall& c) { return ListIngestionErrors(api, c); });
}

}  // namespace xoal::api
