#include "api/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

#include "common/crypto.hpp"

namespace xoal::api {
namespace {

// The key from `Authorization: Bearer <key>`, or from HTTP Basic with the key as user name (how
// Segment's libraries send a write key). Empty when there is none.
std::string PresentedKey(const http::Request& req) {
  std::string_view auth = req.Header("authorization");
  auto starts_with_ci = [&](std::string_view prefix) {
    if (auth.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(auth[i])) != prefix[i]) return false;
    }
    return true;
  };
  if (starts_with_ci("bearer ")) {
    std::string_view key = auth.substr(7);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    return std::string(key);
  }
  if (starts_with_ci("basic ")) {
    std::string decoded;
    if (!Base64Decode(auth.substr(6), decoded)) return {};
    return decoded.substr(0, decoded.find(':'));
  }
  return {};
}

}  // namespace

Api::Api(ApiDeps deps) : deps_(deps), ingest_limiter_(deps.clock) {
  AddSettingsRoutes(*this);
  AddCustomerRoutes(*this);
  AddCompanyRoutes(*this);
  AddFieldRoutes(*this);
  AddIngestRoutes(*this);
  if (deps_.segments) AddSegmentRoutes(*this);
  AddChannelRoutes(*this);
  if (deps_.outbox && deps_.renderer) AddMessageRoutes(*this);
  AddLinkRoutes(*this);
  if (deps_.broadcasts) AddBroadcastRoutes(*this);
  if (deps_.workflows) AddWorkflowRoutes(*this);
}

void Api::Add(http::Method method, std::string pattern, Access access, ApiHandler handler) {
  router_.Add(method, std::move(pattern),
              [this, access, handler = std::move(handler)](http::Request& req) {
                return Authorize(req, access, handler);
              });
}

void Api::AddManagement(http::Method method, std::string pattern, ManagementFn fn) {
  Add(method, std::move(pattern), Access::kManagement,
      [this, fn](ApiCall& c) { return fn(*this, c); });
}

void Api::UpdateProjectCache(const store::Project& p) {
  std::lock_guard lock(mu_);
  projects_[p.id] = p;
}

Result<store::Project> Api::LoadProject(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    auto it = projects_.find(id);
    if (it != projects_.end()) return it->second;
  }
  std::optional<store::Project> p;
  XOAL_RETURN_IF_ERROR(deps_.store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(p, txn.GetProject(id));
    return Status::Ok();
  }));
  if (!p) return Status::Unauthenticated("the key's project no longer exists");
  UpdateProjectCache(*p);
  return std::move(*p);
}

http::Response Api::Authorize(http::Request& req, Access access, const ApiHandler& handler) {
  if (access == Access::kPublic) {
    ApiCall call{req, {}, {}};
    return handler(call);
  }
  // Two keys in one request are ambiguous (a proxy adding its own, say): refused rather than
  // picking one.
  auto authorizations = std::count_if(req.headers.begin(), req.headers.end(),
                                      [](const auto& h) { return h.first == "authorization"; });
  if (authorizations > 1) {
    return ErrorResponse(Status::Malformed("send one Authorization header, not several"));
  }
  std::string presented = PresentedKey(req);
  if (presented.empty()) {
    return ErrorResponse(Status::Unauthenticated("send an API key as Authorization: Bearer <key>"));
  }
  auto key = deps_.keys.Authenticate(presented);
  if (!key) return ErrorResponse(Status::Unauthenticated("unknown or revoked API key"));
  auto want =
      access == Access::kManagement ? store::KeyType::kManagement : store::KeyType::kIngestion;
  if (key->type != want) {
    return ErrorResponse(Status::PermissionDenied(
        access == Access::kManagement ? "this endpoint needs a management key (sk_...)"
                                      : "this endpoint needs a data ingestion key (ing_...)"));
  }
  auto project = LoadProject(key->project_id);
  if (!project.ok()) return ErrorResponse(project.status());
  if (access == Access::kIngestion) {
    if (auto wait = ingest_limiter_.Take(*project)) {
      deps_.metrics.Count("xoal_ingest_requests_rate_limited_total");
      http::Response r = ErrorResponse(Status::RateLimited(
          "over the project's ingestion rate limit; retry after the Retry-After seconds"));
      r.headers.emplace_back("Retry-After", std::to_string(wait->count()));
      return r;
    }
  }
  ApiCall call{req, std::move(*key), std::move(*project)};
  return handler(call);
}

http::Response Api::Dispatch(http::Request& req) {
  auto start = std::chrono::steady_clock::now();
  auto match = router_.Find(req);
  http::Response resp;
  std::string route = match.route.empty() ? "unmatched" : match.route;
  if (match.handler) {
    try {
      resp = (*match.handler)(req);
    } catch (const std::exception& e) {
      // Handlers return Status for every expected failure; reaching here is a bug.
      spdlog::error("http_handler_exception route=\"{}\" error=\"{}\"", route, e.what());
      resp = ErrorResponse(Status::Internal(e.what()));
    }
  } else if (match.path_known) {
    resp = JsonResponse(405, json::object{{"error", json::object{{"code", "method_not_allowed"},
                                                                 {"message", "method not allowed"},
                                                                 {"field", nullptr}}}});
  } else {
    resp = ErrorResponse(Status::NotFound("no such endpoint: " + req.path));
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  deps_.metrics.ObserveRequest(route, http::MethodName(req.method), resp.status, elapsed);
  if (resp.status >= 500) {
    spdlog::error("http_request route=\"{}\" method={} status={}", route,
                  http::MethodName(req.method), resp.status);
  } else {
    spdlog::debug("http_request route=\"{}\" method={} status={} duration_us={}", route,
                  http::MethodName(req.method), resp.status,
                  std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  }
  return resp;
}

}  // namespace xoal::api
