// RateLimiter: one token bucket per project for the ingestion endpoints (SPEC, Ingestion API:
// "Over the project's rate limit: 429 with Retry-After"). The limit is a project setting,
// `ingest_rate_limit: {"requests_per_second": R, "burst": B}`; a project without it is not
// limited. Time comes from the injected clock. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"
#include "store/store.hpp"

namespace xoal::api {

class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock) : clock_(clock) {}

  // Takes one request from the project's bucket. Returns nullopt when it may go on, otherwise
  // how long until a request would be allowed (at least one second, as Retry-After counts).
  std::optional<std::chrono::seconds> Take(const store::Project& project);

 private:
  struct Bucket {
    double tokens = 0;
    SteadyTime refilled_at;
  };

  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_; by project id
};

// The project's limit as (requests per second, burst), or nullopt when unlimited.
std::optional<std::pair<double, double>> IngestRateLimit(const store::Project& project);

}  // namespace xoal::api
