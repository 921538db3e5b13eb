#include "http/metrics.hpp"

#include <fmt/format.h>

namespace xoal {
namespace {

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::Observe(Histogram& h, const double* bounds, size_t n, double v) {
  size_t i = 0;
  while (i < n && v > bounds[i]) ++i;
  ++h.counts[i];
  h.sum += v;
  ++h.total;
}

void Metrics::ObserveRequest(const std::string& route, std::string_view method, int status,
                             std::chrono::nanoseconds latency) {
  std::string key = fmt::format("route=\"{}\",method=\"{}\",status=\"{}\"", Escape(route), method,
                                status);
  double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mu_);
  ++requests_[key];
  Observe(request_latency_[route], kLatencyBuckets.data(), kLatencyBuckets.size(), seconds);
}

void Metrics::ObserveStore(const std::string& operation, std::chrono::nanoseconds latency) {
  double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mu_);
  Observe(store_latency_[operation], kLatencyBuckets.data(), kLatencyBuckets.size(), seconds);
}

void Metrics::ObserveCommitBatch(size_t writes) {
  std::lock_guard lock(mu_);
  Observe(commit_batch_, kBatchBuckets.data(), kBatchBuckets.size(), static_cast<double>(writes));
}

void Metrics::Count(const std::string& name, uint64_t n) {
  std::lock_guard lock(mu_);
  counters_[name] += n;
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  auto histogram = [&out](const std::string& name, const std::string& label_name,
                          const std::map<std::string, Histogram>& by_label, const double* bounds,
                          size_t n) {
    out += fmt::format("# TYPE {} histogram\n", name);
    for (const auto& [label, h] : by_label) {
      std::string prefix =
          label_name.empty() ? "" : fmt::format("{}=\"{}\",", label_name, Escape(label));
      uint64_t cumulative = 0;
      for (size_t i = 0; i < n; ++i) {
        cumulative += h.counts[i];
        out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix, bounds[i], cumulative);
      }
      out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, prefix, h.total);
      std::string labels = label_name.empty() ? "" : "{" + prefix.substr(0, prefix.size() - 1) + "}";
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, labels, h.sum, name, labels, h.total);
    }
  };

  std::lock_guard lock(mu_);
  out += "# TYPE xoal_http_requests_total counter\n";
  for (const auto& [labels, n] : requests_) {
    out += fmt::format("xoal_http_requests_total{{{}}} {}\n", labels, n);
  }
  histogram("xoal_http_request_duration_seconds", "route", request_latency_,
            kLatencyBuckets.data(), kLatencyBuckets.size());
  histogram("xoal_store_operation_duration_seconds", "operation", store_latency_,
            kLatencyBuckets.data(), kLatencyBuckets.size());
  histogram("xoal_store_commit_batch_size", "", {{"", commit_batch_}}, kBatchBuckets.data(),
            kBatchBuckets.size());
  for (const auto& [name, n] : counters_) {
    out += fmt::format("# TYPE {} counter\n{} {}\n", name, name, n);
  }
  return out;
}

}  // namespace xoal
