// Realistic Segment track messages for the ingestion benchmark: about 600 bytes each, as
// analytics.js sends them (context with library, page, userAgent, ip), unique messageIds, users
// drawn from a fixed population so that most events land on existing profiles.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace xoal::bench {

class TrackBatches {
 public:
  // `users`: the size of the population; `seed` makes the sequence repeatable.
  TrackBatches(uint64_t users, uint64_t seed);

  // A JSON array of `n` track messages; every call's messageIds are new.
  std::string NextBatch(int n);

  // The average size of the messages made so far, in bytes.
  double AverageMessageBytes() const;

 private:
  std::string NextMessage();

  uint64_t users_;
  std::mt19937_64 rng_;
  uint64_t serial_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace xoal::bench
