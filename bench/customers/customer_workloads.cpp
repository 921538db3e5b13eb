#include "customers/customer_workloads.hpp"

#include <array>
#include <boost/json.hpp>
#include <cassert>
#include <cctype>

namespace xoal::bench {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;

constexpr std::string_view kCustomersPath = "/api/v1/customers";
// How much of a wrong answer's body an error sample shows.
constexpr size_t kShownBody = 200;

constexpr std::array<std::string_view, 12> kFirstNames = {"Ada",      "Grace",  "Alan",    "Edsger",
                                                          "Barbara",  "Donald", "Frances", "John",
                                                          "Margaret", "Ken",    "Radia",   "Tim"};
constexpr std::array<std::string_view, 12> kLastNames = {
    "Lovelace", "Hopper",   "Turing",   "Dijkstra", "Liskov",  "Knuth",
    "Allen",    "McCarthy", "Hamilton", "Thompson", "Perlman", "Berners-Lee"};
constexpr std::array<std::string_view, 8> kCities = {"Lisbon",  "Berlin", "Austin",  "Osaka",
                                                     "Nairobi", "Lyon",   "Toronto", "Pune"};
constexpr std::array<std::string_view, 4> kPlans = {"free", "starter", "pro", "enterprise"};
constexpr std::array<std::string_view, 5> kSources = {"organic", "ads", "referral", "partner",
                                                      "event"};

template <size_t N>
std::string_view PickFrom(const std::array<std::string_view, N>& values, std::mt19937_64& rng) {
  return values[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string WrongAnswer(std::string_view what, int status, std::string_view body) {
  std::string shown(body.substr(0, kShownBody));
  return std::string(what) + " -> HTTP " + std::to_string(status) + ": " + shown;
}

}  // namespace

std::string_view FindUsid(std::string_view body) {
  constexpr std::string_view kMember = "\"usid\":\"";
  size_t at = body.find(kMember);
  if (at == std::string_view::npos) {
    return {};
  }
  size_t begin = at + kMember.size();
  size_t end = body.find('"', begin);
  return end == std::string_view::npos ? std::string_view() : body.substr(begin, end - begin);
}

BenchRequest HealthzWorkload::Next(size_t) { return {bhttp::verb::get, "/healthz", {}, {}}; }

std::optional<std::string> HealthzWorkload::Check(size_t, int status, std::string_view body) {
  if (status != 200) {
    return WrongAnswer("GET /healthz", status, body);
  }
  return std::nullopt;
}

UpsertWorkload::UpsertWorkload(std::string_view key, size_t connections, double update_share,
                               std::mt19937_64& rng, CustomerRoster& roster)
    : key_(key),
      update_(update_share),
      rng_(rng),
      roster_(roster),
      pending_(connections),
      next_serial_(connections, 0) {}

BenchRequest UpsertWorkload::Next(size_t connection) {
  Pending& p = pending_[connection];
  p.create = roster_.empty() || !update_(rng_);
  if (p.create) {
    p.user_id =
        "bench-" + std::to_string(connection) + "-" + std::to_string(next_serial_[connection]++);
    return {bhttp::verb::post, std::string(kCustomersPath), NewCustomerBody(p.user_id), key_};
  }
  p.roster_index = std::uniform_int_distribution<size_t>(0, roster_.size() - 1)(rng_);
  return {bhttp::verb::post, std::string(kCustomersPath), UpdateBody(roster_[p.roster_index]),
          key_};
}

std::optional<std::string> UpsertWorkload::Check(size_t connection, int status,
                                                 std::string_view body) {
  const Pending& p = pending_[connection];
  if (p.create) {
    std::string_view usid = FindUsid(body);
    if (status != 201 || usid.empty()) {
      return WrongAnswer("POST /api/v1/customers (new " + p.user_id + ")", status, body);
    }
    roster_.push_back({p.user_id, std::string(usid)});
    ++created_;
    return std::nullopt;
  }

  const KnownCustomer& known = roster_[p.roster_index];
  if (status != 200 || FindUsid(body) != known.usid) {
    return WrongAnswer(
        "POST /api/v1/customers (update " + known.user_id + ", expected usid " + known.usid + ")",
        status, body);
  }
  ++updated_;
  return std::nullopt;
}

// A sign-up as a product would send it: identity, names and a few custom attributes, each of one
// fixed type so the field registry never sees a type change.
std::string UpsertWorkload::NewCustomerBody(const std::string& user_id) {
  std::string_view first = PickFrom(kFirstNames, rng_);
  std::string_view last = PickFrom(kLastNames, rng_);
  std::string email = Lower(first) + "." + Lower(last) + "." + user_id + "@example.com";
  json::object attributes{
      {"plan", PickFrom(kPlans, rng_)},
      {"city", PickFrom(kCities, rng_)},
      {"signup_source", PickFrom(kSources, rng_)},
      {"age", std::uniform_int_distribution<int>(18, 80)(rng_)},
      {"lifetime_value", std::uniform_int_distribution<int>(0, 500000)(rng_) / 100.0},
      {"newsletter", std::bernoulli_distribution(0.4)(rng_)},
  };
  json::object body{
      {"user_id", user_id},
      {"email", email},
      {"first_name", first},
      {"last_name", last},
      {"attributes", std::move(attributes)},
  };
  return json::serialize(body);
}

// A later change to a known profile: a plan change and new spend, matched by user_id.
std::string UpsertWorkload::UpdateBody(const KnownCustomer& customer) {
  json::object attributes{
      {"plan", PickFrom(kPlans, rng_)},
      {"lifetime_value", std::uniform_int_distribution<int>(0, 500000)(rng_) / 100.0},
      {"newsletter", std::bernoulli_distribution(0.4)(rng_)},
  };
  json::object body{{"user_id", customer.user_id}, {"attributes", std::move(attributes)}};
  return json::serialize(body);
}

GetWorkload::GetWorkload(std::string_view key, size_t connections, std::mt19937_64& rng,
                         const CustomerRoster& roster)
    : key_(key), rng_(rng), roster_(roster), pick_(0, roster.size() - 1), pending_(connections) {
  assert(!roster.empty() && "GetWorkload needs customers to read");
}

BenchRequest GetWorkload::Next(size_t connection) {
  size_t index = pick_(rng_);
  pending_[connection] = index;
  return {bhttp::verb::get, std::string(kCustomersPath) + "/" + roster_[index].usid, {}, key_};
}

std::optional<std::string> GetWorkload::Check(size_t connection, int status,
                                              std::string_view body) {
  const KnownCustomer& known = roster_[pending_[connection]];
  if (status != 200 || FindUsid(body) != known.usid) {
    return WrongAnswer("GET /api/v1/customers/" + known.usid, status, body);
  }
  return std::nullopt;
}

}  // namespace xoal::bench
