// The segments benchmark's data set: customers with realistic attributes, tags and companies, and
// events spread over 90 days, generated from a seed, written straight into a store, and kept in a
// compact in-memory model so that every segment's exact size can be checked independently of the
// engine (catalog.hpp evaluates the model).
//
// Time is frozen: every age is in whole seconds before `now`, the instant the benchmark's clock
// reports, so windows ("within the last 30 days") have one exact answer. Not thread-safe, except
// where a member says otherwise.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"
#include "store/store.hpp"

namespace xoal::bench {

inline constexpr std::array<std::string_view, 20> kEventNames = {"Page Viewed",
                                                                 "Product Viewed",
                                                                 "Product Added",
                                                                 "Cart Viewed",
                                                                 "Checkout Started",
                                                                 "Order Completed",
                                                                 "Order Refunded",
                                                                 "Signed In",
                                                                 "Signed Out",
                                                                 "Search Performed",
                                                                 "Article Read",
                                                                 "Video Played",
                                                                 "Email Opened",
                                                                 "Email Clicked",
                                                                 "Push Opened",
                                                                 "Subscription Started",
                                                                 "Subscription Cancelled",
                                                                 "Support Ticket Opened",
                                                                 "Feature Used",
                                                                 "Invite Sent"};
inline constexpr std::array<std::string_view, 5> kPlans = {"free", "starter", "pro", "team",
                                                           "enterprise"};
inline constexpr std::array<std::string_view, 12> kCountries = {"US", "GB", "DE", "FR", "ES", "IT",
                                                                "NL", "IE", "CA", "BR", "IN", "JP"};
inline constexpr std::array<std::string_view, 8> kCities = {
    "Springfield", "Hamburg",   "Indianapolis", "Lyon",
    "Minneapolis", "Edinburgh", "Osaka",        "Salzburg"};
inline constexpr std::array<std::string_view, 10> kFirstNames = {
    "Ada", "Grace", "alan", "Linus", "Margaret", "Ken", "Annie", "Barbara", "Dennis", "Edsger"};
inline constexpr std::array<std::string_view, 8> kTags = {
    "vip",           "beta",    "churn-risk",   "newsletter",
    "early-adopter", "partner", "nps-promoter", "nps-detractor"};
inline constexpr std::array<std::string_view, 6> kCategories = {"shoes", "shirts", "books",
                                                                "games", "garden", "music"};
inline constexpr std::array<std::string_view, 3> kTiers = {"free", "growth", "enterprise"};
inline constexpr std::array<std::string_view, 3> kPlatforms = {"web", "ios", "android"};

inline constexpr int64_t kDay = 86'400;           // seconds
inline constexpr int64_t kEventSpan = 90 * kDay;  // events reach this far back

struct ModelCustomer {
  uint8_t plan = 0;     // index into kPlans
  uint8_t country = 0;  // kCountries
  uint8_t city = 0;     // kCities
  uint8_t first_name = 0;
  uint8_t tags = 0;  // bit i: kTags[i]
  uint8_t age = 0;   // years
  bool newsletter = false;
  int32_t company = -1;    // index of its company, or -1
  int64_t ltv_cents = 0;   // lifetime_value * 100
  int64_t signup_age = 0;  // seconds before now
  int64_t seen_age = 0;    // last_seen_at, seconds before now
};

struct ModelCompany {
  uint8_t tier = 0;  // kTiers
  int32_t employees = 0;
};

struct ModelEvent {
  uint32_t customer = 0;
  uint32_t age = 0;      // seconds before now
  uint16_t amount = 0;   // the `amount` property
  uint8_t name = 0;      // kEventNames
  uint8_t category = 0;  // kCategories
};

// Customer i has usid UsidOf(i), user_id "user-<i>" and email "user<i>@example.com".
std::string UsidOf(uint32_t i);
std::string UserIdOf(uint32_t i);
std::string CompanyIdOf(uint32_t i);

struct DataSetOptions {
  uint32_t customers = 1'000'000;
  uint64_t events = 10'000'000;
  uint64_t seed = 1;
};

struct LoadFigures {
  std::chrono::nanoseconds customers_elapsed{0};  // customers, tags, companies, memberships
  std::chrono::nanoseconds events_elapsed{0};
  uint64_t tag_rows = 0;
  uint64_t membership_rows = 0;
};

class DataSet {
 public:
  DataSet(DataSetOptions options, SystemTime now);

  // Writes companies, customers (with tags and fields) and memberships, then the events, in large
  // transactions straight through `store` (no segment upkeep). Requires: called once.
  Result<LoadFigures> Load(store::Store& store, const store::Project& project);

  // A track message (Segment shape, as analytics.js sends it) for an existing customer, with a
  // fresh messageId and a time a few minutes before now; `out` receives its model event.
  json::value TrackMessage(std::mt19937_64& rng, uint64_t serial, ModelEvent& out) const;

  // Appends events accepted by ingestion to the model. Requires: no other thread reads events.
  void AddEvents(std::span<const ModelEvent> events);

  // Builds, for the current model, the events of each customer (offsets into EventOrder()).
  void IndexEvents();
  // Frees what IndexEvents() built.
  void ReleaseIndex();
  std::span<const ModelEvent> EventsOf(uint32_t customer) const;
  // Bytes the model holds (customers, companies, events, index), for the memory report.
  size_t ModelBytes() const;

  SystemTime now() const { return now_; }
  uint32_t customers() const { return static_cast<uint32_t>(customers_.size()); }
  uint64_t events() const { return events_.size(); }
  const ModelCustomer& customer(uint32_t i) const { return customers_[i]; }
  ModelCustomer& mutable_customer(uint32_t i) { return customers_[i]; }
  const ModelCompany* company_of(uint32_t i) const {
    int32_t c = customers_[i].company;
    return c < 0 ? nullptr : &companies_[static_cast<size_t>(c)];
  }
  // Thread-safe (each thread with its own rng).
  uint32_t PickCustomer(std::mt19937_64& rng) const;
  uint8_t PickEventName(std::mt19937_64& rng) const;

 private:
  ModelCustomer MakeCustomer(std::mt19937_64& rng);
  store::Customer CustomerRecord(const store::Project& project, uint32_t i) const;
  store::Event EventRecord(const store::Project& project, uint64_t k, const ModelEvent& e) const;
  json::object EventProperties(const ModelEvent& e, uint64_t serial) const;

  DataSetOptions options_;
  SystemTime now_;
  std::vector<ModelCustomer> customers_;
  std::vector<ModelCompany> companies_;
  std::vector<ModelEvent> events_;
  std::vector<uint32_t> by_customer_offsets_;  // IndexEvents(): N + 1 offsets
  std::vector<ModelEvent> by_customer_;        // IndexEvents(): events grouped by customer
  std::array<double, kEventNames.size()> name_cumulative_{};  // running sums of the weights
};

}  // namespace xoal::bench
