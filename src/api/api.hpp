// Api: the HTTP face of Xoal. Routes every request, authenticates its key, loads its project,
// calls the handler, maps failures to the error shape, and counts it in the metrics.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/api_util.hpp"
#include "api/rate_limiter.hpp"
#include "common/clock.hpp"
#include "core/keys.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "store/store.hpp"

namespace xoal::api {}  // namespace xoal::api
namespace xoal::segments {
class SegmentEngine;
}
namespace xoal::broadcasts {
class BroadcastEngine;
}
namespace xoal::messaging {
class Outbox;
class MessageRenderer;
}  // namespace xoal::messaging
namespace xoal::workflows {
class WorkflowEngine;
}
namespace xoal::api {

struct ApiDeps {
  store::Store& store;  // the segment engine's store, so that writes keep segments current
  const Clock& clock;
  core::KeyCache& keys;
  Metrics& metrics;
  segments::SegmentEngine* segments = nullptr;
  // Both set: the template preview and Messages routes are served.
  messaging::Outbox* outbox = nullptr;
  messaging::MessageRenderer* renderer = nullptr;
  // Set: the Broadcast routes are served.
  broadcasts::BroadcastEngine* broadcasts = nullptr;
  // Set: the Workflow and Workflow Trigger API routes are served.
  workflows::WorkflowEngine* workflows = nullptr;
};

using ApiHandler = std::function<http::Response(ApiCall&)>;

// Which key a route needs.
enum class Access { kPublic, kManagement, kIngestion };

class Api {
 public:
  explicit Api(ApiDeps deps);

  // Answers one request. Thread-safe; never throws.
  http::Response Dispatch(http::Request& req);

  // Registers a route. Requires: called before the server starts.
  void Add(http::Method method, std::string pattern, Access access, ApiHandler handler);
  // Registers a route that needs a management key.
  using ManagementFn = http::Response (*)(Api&, ApiCall&);
  void AddManagement(http::Method method, std::string pattern, ManagementFn fn);

  const ApiDeps& deps() const { return deps_; }

  // Replaces the cached copy of a project after it changed.
  void UpdateProjectCache(const store::Project& p);

 private:
  http::Response Authorize(http::Request& req, Access access, const ApiHandler& handler);
  Result<store::Project> LoadProject(const std::string& id);

  ApiDeps deps_;
  RateLimiter ingest_limiter_;
  http::Router router_;
  std::mutex mu_;
  std::unordered_map<std::string, store::Project> projects_;  // guarded by mu_
};

// Route groups, one per file under api/.
void AddSettingsRoutes(Api& api);
void AddCustomerRoutes(Api& api);
void AddCompanyRoutes(Api& api);
void AddFieldRoutes(Api& api);
void AddIngestRoutes(Api& api);
void AddSegmentRoutes(Api& api);
void AddChannelRoutes(Api& api);
void AddMessageRoutes(Api& api);
void AddLinkRoutes(Api& api);
void AddBroadcastRoutes(Api& api);
void AddWorkflowRoutes(Api& api);

}  // namespace xoal::api
