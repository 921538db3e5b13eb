#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace xoal::api {

std::optional<std::pair<double, double>> IngestRateLimit(const store::Project& project) {
  auto it = project.settings.find("ingest_rate_limit");
  if (it == project.settings.end() || !it->value().is_object()) return std::nullopt;
  const json::object& limit = it->value().get_object();
  auto rate = limit.find("requests_per_second");
  if (rate == limit.end() || !rate->value().is_number()) return std::nullopt;
  double per_second = rate->value().to_number<double>();
  double burst = per_second;
  if (auto b = limit.find("burst"); b != limit.end() && b->value().is_number()) {
    burst = b->value().to_number<double>();
  }
  if (per_second <= 0) return std::nullopt;
  return std::pair{per_second, std::max(1.0, burst)};
}

std::optional<std::chrono::seconds> RateLimiter::Take(const store::Project& project) {
  auto limit = IngestRateLimit(project);
  if (!limit) return std::nullopt;
  auto [per_second, burst] = *limit;
  SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(project.id, Bucket{burst, now});
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.refilled_at).count();
  b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * per_second);
  b.refilled_at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  double wait = (1.0 - b.tokens) / per_second;
  return std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait))));
}

}  // namespace xoal::api
