#include "ingest/track_batches.hpp"

#include <fmt/core.h>

#include <array>
#include <string_view>

#include "common/time_format.hpp"

namespace xoal::bench {
namespace {

constexpr std::array<std::string_view, 6> kEvents = {"Product Viewed",   "Product Added",
                                                     "Checkout Started", "Order Completed",
                                                     "Article Read",     "Video Played"};
constexpr std::array<std::string_view, 4> kPaths = {"/pricing", "/products/blue-shirt",
                                                    "/blog/how-to-grow", "/checkout"};

}  // namespace

TrackBatches::TrackBatches(uint64_t users, uint64_t seed) : users_(users), rng_(seed) {}

std::string TrackBatches::NextMessage() {
  uint64_t user = std::uniform_int_distribution<uint64_t>(1, users_)(rng_);
  std::string_view event = kEvents[rng_() % kEvents.size()];
  std::string_view path = kPaths[rng_() % kPaths.size()];
  std::string timestamp =
      FormatIsoTime(FromEpochMillis(1'764'000'000'000 + static_cast<int64_t>(serial_) * 37));
  std::string m = fmt::format(
      R"({{"type":"track","messageId":"bench-{}-{}","userId":"user-{}","anonymousId":"anon-{}",)"
      R"("event":"{}","timestamp":"{}","properties":{{"product_id":"sku-{}","price":{}.99,)"
      R"("currency":"USD","quantity":{},"category":"apparel"}},"context":{{"library":)"
      R"({{"name":"analytics.js","version":"next-1.70.0"}},"page":{{"path":"{}","url":)"
      R"("https://shop.example.com{}","title":"Shop","referrer":"https://search.example.org/"}},)"
      R"("userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) )"
      R"(Chrome/120.0 Safari/537.36","ip":"203.0.113.{}","locale":"en-US"}},)"
      R"("integrations":{{}},"sentAt":"2026-01-01T00:00:00.000Z"}})",
      rng_(), serial_, user, user, event, timestamp, rng_() % 5000, rng_() % 200, 1 + rng_() % 4,
      path, path, rng_() % 250);
  ++serial_;
  bytes_ += m.size();
  return m;
}

std::string TrackBatches::NextBatch(int n) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    out += NextMessage();
  }
  out += ']';
  return out;
}

double TrackBatches::AverageMessageBytes() const {
  return serial_ == 0 ? 0.0 : static_cast<double>(bytes_) / static_cast<double>(serial_);
}

}  // namespace xoal::bench
