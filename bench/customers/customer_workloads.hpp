// The three phases of the customers benchmark, as LoadDriver Workloads.
//
// HealthzWorkload is the HTTP-only baseline. UpsertWorkload sends POST /api/v1/customers, mostly
// new profiles and a share of updates of profiles it created earlier; it records every created
// profile in a CustomerRoster, which GetWorkload then reads back at random.
//
// Every answer is checked: the exact status (201 for a new profile, 200 for an update or a read)
// and that the body names the expected usid. Randomness comes from the caller's seeded generator.
// Like the LoadDriver, these run on one thread; nothing is locked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "customers/load_driver.hpp"

namespace xoal::bench {

// A profile the server answered 201 for.
struct KnownCustomer {
  std::string user_id;
  std::string usid;
};

// The profiles created so far, in creation order.
using CustomerRoster = std::vector<KnownCustomer>;

// The value of the first `"usid":"..."` member in a JSON answer, or "" when there is none.
// The server writes compact JSON and usids need no escaping, so no full parse is needed.
std::string_view FindUsid(std::string_view body);

class HealthzWorkload final : public Workload {
 public:
  BenchRequest Next(size_t connection) override;
  std::optional<std::string> Check(size_t connection, int status, std::string_view body) override;
};

class UpsertWorkload final : public Workload {
 public:
  // `update_share` (0..1) of the requests update a profile already in `roster` (while it is
  // empty, all create). `key` is a management key. All references must outlive the workload.
  UpsertWorkload(std::string_view key, size_t connections, double update_share,
                 std::mt19937_64& rng, CustomerRoster& roster);

  BenchRequest Next(size_t connection) override;
  std::optional<std::string> Check(size_t connection, int status, std::string_view body) override;

  uint64_t created() const { return created_; }
  uint64_t updated() const { return updated_; }

 private:
  // What is in flight on one connection: a new profile, or an update of roster_[roster_index].
  struct Pending {
    bool create = true;
    std::string user_id;
    size_t roster_index = 0;
  };

  std::string NewCustomerBody(const std::string& user_id);
  std::string UpdateBody(const KnownCustomer& customer);

  std::string_view key_;
  std::bernoulli_distribution update_;
  std::mt19937_64& rng_;
  CustomerRoster& roster_;
  std::vector<Pending> pending_;       // by connection
  std::vector<uint64_t> next_serial_;  // by connection: user ids are `bench-<connection>-<serial>`
  uint64_t created_ = 0;
  uint64_t updated_ = 0;
};

class GetWorkload final : public Workload {
 public:
  // Reads random profiles of `roster`. Requires: `roster` is not empty.
  GetWorkload(std::string_view key, size_t connections, std::mt19937_64& rng,
              const CustomerRoster& roster);

  BenchRequest Next(size_t connection) override;
  std::optional<std::string> Check(size_t connection, int status, std::string_view body) override;

 private:
  std::string_view key_;
  std::mt19937_64& rng_;
  const CustomerRoster& roster_;
  std::uniform_int_distribution<size_t> pick_;
  std::vector<size_t> pending_;  // by connection: the roster index asked for
};

}  // namespace xoal::bench
