// Metrics: counters and histograms rendered in the Prometheus text format. Thread-safe; each
// observation takes one short mutex.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace xoal {

class Metrics {
 public:
  // One HTTP request answered.
  void ObserveRequest(const std::string& route, std::string_view method, int status,
                      std::chrono::nanoseconds latency);
  // One store operation (e.g. "commit", "read") and how long it took.
  void ObserveStore(const std::string& operation, std::chrono::nanoseconds latency);
  // How many writes one group commit carried.
  void ObserveCommitBatch(size_t writes);
  // Adds `n` to the counter `name` (a metric name without labels).
  void Count(const std::string& name, uint64_t n = 1);

  std::string RenderPrometheus() const;

 private:
  static constexpr std::array<double, 14> kLatencyBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
  static constexpr std::array<double, 9> kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256};

  struct Histogram {
    std::array<uint64_t, 15> counts{};  // one per latency bucket, plus +Inf
    double sum = 0;
    uint64_t total = 0;
  };

  static void Observe(Histogram& h, const double* bounds, size_t n, double v);

  mutable std::mutex mu_;
  std::map<std::string, uint64_t> requests_;       // guarded by mu_; key is the label set
  std::map<std::string, Histogram> request_latency_;  // guarded by mu_; by route
  std::map<std::string, Histogram> store_latency_;    // guarded by mu_; by operation
  Histogram commit_batch_;                            // guarded by mu_
  std::map<std::string, uint64_t> counters_;          // guarded by mu_
};

}  // namespace xoal
