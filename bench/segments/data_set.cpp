#include "segments/data_set.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "common/time_format.hpp"

namespace xoal::bench {
namespace {

using std::chrono::seconds;

constexpr uint32_t kCustomersPerTxn = 5'000;
constexpr uint64_t kEventsPerTxn = 20'000;
// How often each event name occurs, in the order of kEventNames.
constexpr std::array<double, 20> kNameWeights = {30, 20, 8, 5, 4, 3,   0.5, 8,   2, 6,
                                                 4,  3,  5, 2, 2, 0.5, 0.3, 0.7, 5, 1};

template <size_t N>
uint8_t Pick(std::mt19937_64& rng, const std::array<double, N>& weights) {
  std::discrete_distribution<int> d(weights.begin(), weights.end());
  return static_cast<uint8_t>(d(rng));
}

SystemTime Before(SystemTime now, int64_t age_seconds) { return now - seconds(age_seconds); }

}  // namespace

std::string UsidOf(uint32_t i) { return fmt::format("cus_bench{:015d}", i); }
std::string UserIdOf(uint32_t i) { return fmt::format("user-{}", i); }
std::string CompanyIdOf(uint32_t i) { return fmt::format("co-{:05d}", i); }

DataSet::DataSet(DataSetOptions options, SystemTime now) : options_(options), now_(now) {
  double sum = 0;
  for (size_t i = 0; i < kNameWeights.size(); ++i) name_cumulative_[i] = sum += kNameWeights[i];
  std::mt19937_64 rng(options_.seed);
  uint32_t company_count = std::max<uint32_t>(20, options_.customers / 50);
  companies_.resize(company_count);
  for (auto& c : companies_) {
    c.tier = Pick(rng, std::array<double, 3>{50, 35, 15});
    c.employees = static_cast<int32_t>(std::exp(std::uniform_real_distribution<>(1, 9)(rng)));
  }
  customers_.reserve(options_.customers);
  for (uint32_t i = 0; i < options_.customers; ++i) customers_.push_back(MakeCustomer(rng));
}

ModelCustomer DataSet::MakeCustomer(std::mt19937_64& rng) {
  ModelCustomer c;
  c.plan = Pick(rng, std::array<double, 5>{55, 20, 15, 7, 3});
  c.country = Pick(rng, std::array<double, 12>{30, 10, 9, 8, 5, 5, 4, 2, 6, 8, 8, 5});
  c.city = static_cast<uint8_t>(rng() % kCities.size());
  c.first_name = static_cast<uint8_t>(rng() % kFirstNames.size());
  for (size_t t = 0; t < kTags.size(); ++t) {
    static constexpr std::array<double, 8> kShare = {0.05, 0.10, 0.08, 0.40,
                                                     0.03, 0.02, 0.15, 0.06};
    if (std::uniform_real_distribution<>(0, 1)(rng) < kShare[t]) c.tags |= 1u << t;
  }
  c.age = static_cast<uint8_t>(16 + rng() % 60);
  c.newsletter = rng() % 3 == 0;
  if (rng() % 10 < 3) c.company = static_cast<int32_t>(rng() % companies_.size());
  // Lifetime value: most customers spend little, a few a lot (log-normal, in cents).
  double ltv = std::exp(std::normal_distribution<>(4.5, 1.6)(rng));
  c.ltv_cents = rng() % 5 == 0 ? 0 : std::min<int64_t>(llround(ltv * 100), 5'000'000);
  c.signup_age = static_cast<int64_t>(rng() % (3 * 365 * kDay));
  c.seen_age = static_cast<int64_t>(rng() % std::min<int64_t>(c.signup_age + 1, 120 * kDay));
  return c;
}

uint32_t DataSet::PickCustomer(std::mt19937_64& rng) const {
  // Skewed: u^1.5 gives a few heavy users (about N^(1/3) times the mean), scattered over the
  // customers by a multiplicative permutation so they are not all at the start of the scan.
  double u = std::uniform_real_distribution<>(0, 1)(rng);
  uint64_t n = customers_.size();
  uint64_t rank = std::min<uint64_t>(n - 1, static_cast<uint64_t>(std::pow(u, 1.5) * n));
  return static_cast<uint32_t>((rank * 2'654'435'761ULL + 12'345) % n);
}

uint8_t DataSet::PickEventName(std::mt19937_64& rng) const {
  double x = std::uniform_real_distribution<>(0, name_cumulative_.back())(rng);
  auto it = std::upper_bound(name_cumulative_.begin(), name_cumulative_.end(), x);
  return static_cast<uint8_t>(
      std::min<ptrdiff_t>(it - name_cumulative_.begin(), name_cumulative_.size() - 1));
}

store::Customer DataSet::CustomerRecord(const store::Project& project, uint32_t i) const {
  const ModelCustomer& m = customers_[i];
  store::Customer c;
  c.project_id = project.id;
  c.usid = UsidOf(i);
  c.user_id = UserIdOf(i);
  c.email = fmt::format("user{}@example.com", i);
  SystemTime signup = Before(now_, m.signup_age);
  c.attributes = json::object{
      {"first_name", kFirstNames[m.first_name]},
      {"last_name", "Bench"},
      {"plan", kPlans[m.plan]},
      {"country", kCountries[m.country]},
      {"city", kCities[m.city]},
      {"signup_date", FormatIsoTime(signup)},
      {"last_seen_at", FormatIsoTime(Before(now_, m.seen_age))},
      {"lifetime_value", static_cast<double>(m.ltv_cents) / 100.0},
      {"age", static_cast<int>(m.age)},
      {"newsletter", m.newsletter},
      {"signup_source", i % 3 == 0 ? "ads" : "organic"},
  };
  json::object times;
  for (const auto& [k, v] : c.attributes) times[k] = ToEpochMillis(signup);
  c.attribute_times = std::move(times);
  for (size_t t = 0; t < kTags.size(); ++t) {
    if (m.tags & (1u << t)) c.tags.emplace_back(kTags[t]);
  }
  c.created_at = signup;
  c.updated_at = signup;
  c.added_via = "data_ingestion";
  return c;
}

json::object DataSet::EventProperties(const ModelEvent& e, uint64_t serial) const {
  json::object p{{"category", kCategories[e.category]},
                 {"amount", static_cast<int>(e.amount)},
                 {"platform", kPlatforms[serial % kPlatforms.size()]},
                 {"session_id", fmt::format("s-{}", serial / 7)}};
  if (kEventNames[e.name] == "Order Completed") {
    p["order_id"] = fmt::format("ord-{}", serial);
    p["currency"] = "USD";
  }
  return p;
}

store::Event DataSet::EventRecord(const store::Project& project, uint64_t k,
                                  const ModelEvent& e) const {
  store::Event ev;
  ev.project_id = project.id;
  ev.id = fmt::format("load-{}", k);
  ev.usid = UsidOf(e.customer);
  ev.name = std::string(kEventNames[e.name]);
  ev.type = "track";
  ev.source = "segment";
  ev.timestamp = Before(now_, e.age);
  ev.received_at = ev.timestamp;
  ev.properties = EventProperties(e, k);
  return ev;
}

Result<LoadFigures> DataSet::Load(store::Store& store, const store::Project& project) {
  LoadFigures f;
  auto start = std::chrono::steady_clock::now();
  XOAL_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kFields = {
        {{"plan", "string"},
         {"country", "string"},
         {"city", "string"},
         {"signup_date", "datetime"},
         {"last_seen_at", "datetime"},
         {"lifetime_value", "number"},
         {"age", "number"},
         {"newsletter", "boolean"},
         {"signup_source", "string"}}};
    for (const auto& [name, type] : kFields) {
      XOAL_RETURN_IF_ERROR(txn.PutField(
          {project.id, "customer", std::string(name), std::string(type), "", "auto", now_}));
    }
    for (uint32_t i = 0; i < companies_.size(); ++i) {
      store::Company c{0,
                       project.id,
                       CompanyIdOf(i),
                       fmt::format("Company {}", i),
                       json::object{{"tier", kTiers[companies_[i].tier]},
                                    {"employees", companies_[i].employees},
                                    {"industry", kCategories[i % kCategories.size()]}},
                       now_,
                       now_};
      XOAL_RETURN_IF_ERROR(txn.PutCompany(c));
    }
    return Status::Ok();
  }));
  for (uint32_t first = 0; first < customers_.size(); first += kCustomersPerTxn) {
    uint32_t last = std::min<uint32_t>(first + kCustomersPerTxn, customers());
    std::vector<store::Customer> batch;
    batch.reserve(last - first);
    for (uint32_t i = first; i < last; ++i) batch.push_back(CustomerRecord(project, i));
    XOAL_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) {
      for (uint32_t i = first; i < last; ++i) {
        store::Customer& c = batch[i - first];
        XOAL_RETURN_IF_ERROR(txn.InsertCustomer(c));
        if (customers_[i].company >= 0) {
          store::Membership m{0,
                              project.id,
                              CompanyIdOf(static_cast<uint32_t>(customers_[i].company)),
                              c.usid,
                              json::object{{"role", i % 4 == 0 ? "admin" : "member"}},
                              c.created_at};
          XOAL_RETURN_IF_ERROR(txn.PutMembership(m));
        }
      }
      return Status::Ok();
    }));
    for (const auto& c : batch) f.tag_rows += c.tags.size();
  }
  for (const auto& c : customers_) f.membership_rows += c.company >= 0 ? 1 : 0;
  f.customers_elapsed = std::chrono::steady_clock::now() - start;

  start = std::chrono::steady_clock::now();
  std::mt19937_64 rng(options_.seed + 7);
  events_.reserve(options_.events);
  for (uint64_t first = 0; first < options_.events; first += kEventsPerTxn) {
    uint64_t last = std::min(first + kEventsPerTxn, options_.events);
    std::vector<store::Event> batch;
    batch.reserve(last - first);
    for (uint64_t k = first; k < last; ++k) {
      ModelEvent e;
      e.customer = PickCustomer(rng);
      // Oldest first, as they would have arrived, spread evenly over the last 90 days.
      e.age = static_cast<uint32_t>((options_.events - 1 - k) * kEventSpan / options_.events);
      e.name = PickEventName(rng);
      e.category = static_cast<uint8_t>(rng() % kCategories.size());
      e.amount = static_cast<uint16_t>(rng() % 500);
      events_.push_back(e);
      batch.push_back(EventRecord(project, k, e));
    }
    XOAL_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) {
      for (auto& e : batch) XOAL_RETURN_IF_ERROR(txn.InsertEvent(e));
      return Status::Ok();
    }));
  }
  f.events_elapsed = std::chrono::steady_clock::now() - start;
  return f;
}

json::value DataSet::TrackMessage(std::mt19937_64& rng, uint64_t serial, ModelEvent& out) const {
  out.customer = PickCustomer(rng);
  out.age = static_cast<uint32_t>(60 + rng() % 600);
  out.name = PickEventName(rng);
  out.category = static_cast<uint8_t>(rng() % kCategories.size());
  out.amount = static_cast<uint16_t>(rng() % 500);
  return json::object{
      {"type", "track"},
      {"messageId", fmt::format("live-{}-{}", rng(), serial)},
      {"userId", UserIdOf(out.customer)},
      {"event", kEventNames[out.name]},
      {"timestamp", FormatIsoTime(Before(now_, out.age))},
      {"properties", EventProperties(out, serial)},
      {"context",
       json::object{{"library", json::object{{"name", "analytics.js"}, {"version", "next-1.70.0"}}},
                    {"page", json::object{{"path", "/products/blue-shirt"},
                                          {"url", "https://shop.example.com/products/blue-shirt"},
                                          {"title", "Shop"},
                                          {"referrer", "https://search.example.org/"}}},
                    {"userAgent",
                     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/120.0 Safari/537.36"},
                    {"ip", fmt::format("203.0.113.{}", serial % 250)},
                    {"locale", "en-US"}}},
      {"sentAt", FormatIsoTime(now_)}};
}

void DataSet::AddEvents(std::span<const ModelEvent> events) {
  events_.insert(events_.end(), events.begin(), events.end());
}

void DataSet::IndexEvents() {
  by_customer_offsets_.assign(customers_.size() + 1, 0);
  for (const auto& e : events_) ++by_customer_offsets_[e.customer + 1];
  for (size_t i = 1; i < by_customer_offsets_.size(); ++i) {
    by_customer_offsets_[i] += by_customer_offsets_[i - 1];
  }
  std::vector<uint32_t> fill(by_customer_offsets_.begin(), by_customer_offsets_.end() - 1);
  by_customer_.assign(events_.size(), ModelEvent{});
  for (const auto& e : events_) by_customer_[fill[e.customer]++] = e;
}

void DataSet::ReleaseIndex() {
  std::vector<uint32_t>().swap(by_customer_offsets_);
  std::vector<ModelEvent>().swap(by_customer_);
}

size_t DataSet::ModelBytes() const {
  return customers_.capacity() * sizeof(ModelCustomer) +
         companies_.capacity() * sizeof(ModelCompany) + events_.capacity() * sizeof(ModelEvent) +
         by_customer_offsets_.capacity() * sizeof(uint32_t) +
         by_customer_.capacity() * sizeof(ModelEvent);
}

std::span<const ModelEvent> DataSet::EventsOf(uint32_t customer) const {
  return std::span<const ModelEvent>(by_customer_)
      .subspan(by_customer_offsets_[customer],
               by_customer_offsets_[customer + 1] - by_customer_offsets_[customer]);
}

}  // namespace xoal::bench
