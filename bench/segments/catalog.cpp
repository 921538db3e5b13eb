#include "segments/catalog.hpp"

#include <algorithm>
#include <cctype>

namespace xoal::bench {
namespace {

constexpr int64_t kEver = 0;

uint8_t NameIndex(std::string_view name) {
  auto it = std::find(kEventNames.begin(), kEventNames.end(), name);
  return static_cast<uint8_t>(it - kEventNames.begin());
}

// Events named `name` within the last `window` seconds (kEver: at any time) that pass `where`.
int Count(const ModelView& v, std::string_view name, int64_t window,
          const std::function<bool(const ModelEvent&)>& where = nullptr) {
  uint8_t n = NameIndex(name);
  int count = 0;
  for (const auto& e : v.events) {
    if (e.name != n || (window != kEver && e.age >= window)) continue;
    if (where && !where(e)) continue;
    ++count;
  }
  return count;
}

bool Plan(const ModelView& v, std::string_view p) { return kPlans[v.customer.plan] == p; }
bool Country(const ModelView& v, std::string_view c) { return kCountries[v.customer.country] == c; }
bool Tag(const ModelView& v, std::string_view t) {
  auto it = std::find(kTags.begin(), kTags.end(), t);
  return (v.customer.tags >> (it - kTags.begin())) & 1u;
}
bool Tier(const ModelView& v, std::string_view t) {
  return v.company && kTiers[v.company->tier] == t;
}
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::vector<SegmentSpec> Build() {
  return {
      // Attribute equality.
      {"attribute eq", "Enterprise plan",
       R"({"attribute": "plan", "op": "eq", "value": "enterprise"})",
       [](const ModelView& v) { return Plan(v, "enterprise"); }},
      {"attribute eq", "Pro plan", R"({"attribute": "plan", "op": "eq", "value": "pro"})",
       [](const ModelView& v) { return Plan(v, "pro"); }},
      {"attribute eq", "In the US", R"({"attribute": "country", "op": "eq", "value": "US"})",
       [](const ModelView& v) { return Country(v, "US"); }},
      {"attribute eq", "Continental EU",
       R"({"attribute": "country", "op": "in", "value": ["DE", "FR", "ES", "IT", "NL"]})",
       [](const ModelView& v) {
         return Country(v, "DE") || Country(v, "FR") || Country(v, "ES") || Country(v, "IT") ||
                Country(v, "NL");
       }},
      {"attribute eq", "Newsletter opt-in",
       R"({"attribute": "newsletter", "op": "eq", "value": true})",
       [](const ModelView& v) { return v.customer.newsletter; }},
      {"attribute eq", "Paying", R"({"attribute": "plan", "op": "neq", "value": "free"})",
       [](const ModelView& v) { return !Plan(v, "free"); }},
      // Attribute ranges and windows.
      {"attribute range", "LTV over 1000",
       R"({"attribute": "lifetime_value", "op": "gt", "value": 1000})",
       [](const ModelView& v) { return v.customer.ltv_cents > 100'000; }},
      {"attribute range", "LTV 100 to 500",
       R"({"attribute": "lifetime_value", "op": "between", "value": [100, 500]})",
       [](const ModelView& v) {
         return v.customer.ltv_cents >= 10'000 && v.customer.ltv_cents <= 50'000;
       }},
      {"attribute range", "Aged 18 to 24",
       R"({"all": [{"attribute": "age", "op": "gte", "value": 18},
                   {"attribute": "age", "op": "lt", "value": 25}]})",
       [](const ModelView& v) { return v.customer.age >= 18 && v.customer.age < 25; }},
      {"attribute range", "Signed up in the last 30 days",
       R"({"attribute": "signup_date", "op": "within_last", "value": {"days": 30}})",
       [](const ModelView& v) { return v.customer.signup_age < 30 * kDay; }},
      {"attribute range", "Not seen for 30 days",
       R"({"attribute": "last_seen_at", "op": "not_within_last", "value": {"days": 30}})",
       [](const ModelView& v) { return v.customer.seen_age >= 30 * kDay; }},
      {"attribute range", "LTV at most 10",
       R"({"attribute": "lifetime_value", "op": "lte", "value": 10})",
       [](const ModelView& v) { return v.customer.ltv_cents <= 1'000; }},
      // Regular expressions.
      {"attribute regex", "Email ends in 7",
       R"({"attribute": "email", "op": "matches", "value": "^user[0-9]*7@"})",
       [](const ModelView& v) { return v.index % 10 == 7; }},
      {"attribute regex", "First name starts with A",
       R"({"attribute": "first_name", "op": "matches", "value": "(?i)^a"})",
       [](const ModelView& v) {
         return std::tolower(static_cast<unsigned char>(kFirstNames[v.customer.first_name][0])) ==
                'a';
       }},
      {"attribute regex", "City ends in -burg or -polis",
       R"({"attribute": "city", "op": "matches", "value": "(burg|polis)$"})",
       [](const ModelView& v) {
         std::string_view c = kCities[v.customer.city];
         return EndsWith(c, "burg") || EndsWith(c, "polis");
       }},
      {"attribute regex", "User id ends in 00",
       R"({"attribute": "user_id", "op": "matches", "value": "-[0-9]*00$"})",
       [](const ModelView& v) { return v.index >= 100 && v.index % 100 == 0; }},
      // Events performed, with counts, windows and property filters.
      {"event performed", "Ever ordered", R"({"event": "Order Completed"})",
       [](const ModelView& v) { return Count(v, "Order Completed", kEver) >= 1; }},
      {"event performed", "3+ orders in 30 days",
       R"({"event": "Order Completed", "count": {"op": "gte", "value": 3},
           "within_last": {"days": 30}})",
       [](const ModelView& v) { return Count(v, "Order Completed", 30 * kDay) >= 3; }},
      {"event performed", "Viewed a product in 7 days",
       R"({"event": "Product Viewed", "within_last": {"days": 7}})",
       [](const ModelView& v) { return Count(v, "Product Viewed", 7 * kDay) >= 1; }},
      {"event performed", "5+ sign-ins in 30 days",
       R"({"event": "Signed In", "count": {"op": "gte", "value": 5},
           "within_last": {"days": 30}})",
       [](const ModelView& v) { return Count(v, "Signed In", 30 * kDay) >= 5; }},
      {"event performed", "Started checkout today",
       R"({"event": "Checkout Started", "within_last": {"days": 1}})",
       [](const ModelView& v) { return Count(v, "Checkout Started", kDay) >= 1; }},
      {"event performed", "Big order in 90 days",
       R"({"event": "Order Completed", "within_last": {"days": 90},
           "where": [{"property": "amount", "op": "gt", "value": 400}]})",
       [](const ModelView& v) {
         return Count(v, "Order Completed", 90 * kDay,
                      [](const ModelEvent& e) { return e.amount > 400; }) >= 1;
       }},
      {"event performed", "Added shoes to cart",
       R"({"event": "Product Added",
           "where": [{"property": "category", "op": "eq", "value": "shoes"}]})",
       [](const ModelView& v) {
         return Count(v, "Product Added", kEver,
                      [](const ModelEvent& e) { return kCategories[e.category] == "shoes"; }) >= 1;
       }},
      {"event performed", "Searched exactly once",
       R"({"event": "Search Performed", "count": {"op": "eq", "value": 1}})",
       [](const ModelView& v) { return Count(v, "Search Performed", kEver) == 1; }},
      {"event performed", "Clicked an email in 14 days",
       R"({"event": "Email Clicked", "within_last": {"days": 14}})",
       [](const ModelView& v) { return Count(v, "Email Clicked", 14 * kDay) >= 1; }},
      {"event performed", "Power user (10+ feature uses)",
       R"({"event": "Feature Used", "count": {"op": "gte", "value": 10}})",
       [](const ModelView& v) { return Count(v, "Feature Used", kEver) >= 10; }},
      // Events not performed.
      {"event not performed", "Never ordered",
       R"({"event": "Order Completed", "count": {"op": "eq", "value": 0}})",
       [](const ModelView& v) { return Count(v, "Order Completed", kEver) == 0; }},
      {"event not performed", "No sign-in for 14 days",
       R"({"event": "Signed In", "count": {"op": "eq", "value": 0}, "within_last": {"days": 14}})",
       [](const ModelView& v) { return Count(v, "Signed In", 14 * kDay) == 0; }},
      {"event not performed", "No email opened in 30 days",
       R"({"event": "Email Opened", "count": {"op": "eq", "value": 0},
           "within_last": {"days": 30}})",
       [](const ModelView& v) { return Count(v, "Email Opened", 30 * kDay) == 0; }},
      {"event not performed", "Never cancelled",
       R"({"event": "Subscription Cancelled", "count": {"op": "eq", "value": 0}})",
       [](const ModelView& v) { return Count(v, "Subscription Cancelled", kEver) == 0; }},
      {"event not performed", "No ticket in 60 days",
       R"({"event": "Support Ticket Opened", "count": {"op": "eq", "value": 0},
           "within_last": {"days": 60}})",
       [](const ModelView& v) { return Count(v, "Support Ticket Opened", 60 * kDay) == 0; }},
      // Tags.
      {"tag", "VIP", R"({"tag": "vip"})", [](const ModelView& v) { return Tag(v, "vip"); }},
      {"tag", "Beta", R"({"tag": "beta"})", [](const ModelView& v) { return Tag(v, "beta"); }},
      {"tag", "At risk", R"({"any": [{"tag": "churn-risk"}, {"tag": "nps-detractor"}]})",
       [](const ModelView& v) { return Tag(v, "churn-risk") || Tag(v, "nps-detractor"); }},
      {"tag", "Not on the newsletter tag", R"({"not": {"tag": "newsletter"}})",
       [](const ModelView& v) { return !Tag(v, "newsletter"); }},
      // Companies.
      {"company", "At company co-00001", R"({"company": "co-00001"})",
       [](const ModelView& v) { return v.company && v.company_index == 1; }},
      {"company", "Enterprise-tier company",
       R"({"company": {"attribute": "tier", "op": "eq", "value": "enterprise"}})",
       [](const ModelView& v) { return Tier(v, "enterprise"); }},
      {"company", "Company over 500 employees",
       R"({"company": {"attribute": "employees", "op": "gt", "value": 500}})",
       [](const ModelView& v) { return v.company && v.company->employees > 500; }},
      {"company", "Not at a free-tier company",
       R"({"not": {"company": {"attribute": "tier", "op": "eq", "value": "free"}}})",
       [](const ModelView& v) { return !Tier(v, "free"); }},
      // Segments of segments.
      {"segment of segments", "Enterprise frequent buyers",
       R"({"all": [{"segment": "$0"}, {"segment": "$17"}]})",
       [](const ModelView& v) { return v.in_segment(0) && v.in_segment(17); }},
      {"segment of segments", "VIP or high LTV",
       R"({"any": [{"segment": "$31"}, {"segment": "$6"}]})",
       [](const ModelView& v) { return v.in_segment(31) || v.in_segment(6); }},
      {"segment of segments", "Browsing, never ordered",
       R"({"all": [{"segment": "$26"}, {"segment": "$18"}]})",
       [](const ModelView& v) { return v.in_segment(26) && v.in_segment(18); }},
      {"segment of segments", "Active pro users",
       R"({"all": [{"not": {"segment": "$10"}}, {"segment": "$1"}]})",
       [](const ModelView& v) { return !v.in_segment(10) && v.in_segment(1); }},
      {"segment of segments", "Key accounts (nested)",
       R"({"any": [{"segment": "$39"}, {"segment": "$36"}]})",
       [](const ModelView& v) { return v.in_segment(39) || v.in_segment(36); }},
      {"segment of segments", "US buyers", R"({"all": [{"segment": "$2"}, {"segment": "$16"}]})",
       [](const ModelView& v) { return v.in_segment(2) && v.in_segment(16); }},
      // Compounds.
      {"compound", "US pro/team buyers this month",
       R"({"all": [{"attribute": "plan", "op": "in", "value": ["pro", "team"]},
                   {"attribute": "country", "op": "eq", "value": "US"},
                   {"event": "Order Completed", "within_last": {"days": 30}}]})",
       [](const ModelView& v) {
         return (Plan(v, "pro") || Plan(v, "team")) && Country(v, "US") &&
                Count(v, "Order Completed", 30 * kDay) >= 1;
       }},
      {"compound", "High value anywhere",
       R"({"any": [{"attribute": "lifetime_value", "op": "gt", "value": 2000}, {"tag": "vip"},
                   {"company": {"attribute": "tier", "op": "eq", "value": "enterprise"}}]})",
       [](const ModelView& v) {
         return v.customer.ltv_cents > 200'000 || Tag(v, "vip") || Tier(v, "enterprise");
       }},
      {"compound", "Active beta testers who never ordered",
       R"({"all": [{"attribute": "last_seen_at", "op": "within_last", "value": {"days": 7}},
                   {"not": {"event": "Order Completed"}}, {"tag": "beta"}]})",
       [](const ModelView& v) {
         return v.customer.seen_age < 7 * kDay && Count(v, "Order Completed", kEver) == 0 &&
                Tag(v, "beta");
       }},
      {"compound", "Engaged newsletter readers",
       R"({"all": [{"attribute": "newsletter", "op": "eq", "value": true},
                   {"event": "Email Opened", "count": {"op": "gte", "value": 2},
                    "within_last": {"days": 30}}]})",
       [](const ModelView& v) {
         return v.customer.newsletter && Count(v, "Email Opened", 30 * kDay) >= 2;
       }},
      {"compound", "UK/IE browsers with some spend",
       R"({"all": [{"attribute": "country", "op": "in", "value": ["GB", "IE"]},
                   {"event": "Product Viewed", "count": {"op": "gte", "value": 3},
                    "within_last": {"days": 14}},
                   {"attribute": "lifetime_value", "op": "gt", "value": 50}]})",
       [](const ModelView& v) {
         return (Country(v, "GB") || Country(v, "IE")) &&
                Count(v, "Product Viewed", 14 * kDay) >= 3 && v.customer.ltv_cents > 5'000;
       }},
  };
}

}  // namespace

const std::vector<SegmentSpec>& Catalog() {
  static const std::vector<SegmentSpec> catalog = Build();
  return catalog;
}

std::string ConditionsWithIds(const SegmentSpec& spec, const std::vector<std::string>& ids) {
  std::string out;
  std::string_view in = spec.conditions;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size() ||
        !std::isdigit(static_cast<unsigned char>(in[i + 1]))) {
      out += in[i];
      continue;
    }
    size_t n = 0;
    size_t j = i + 1;
    while (j < in.size() && std::isdigit(static_cast<unsigned char>(in[j]))) {
      n = n * 10 + static_cast<size_t>(in[j] - '0');
      ++j;
    }
    out += n < ids.size() ? ids[n] : "missing";
    i = j - 1;
  }
  return out;
}

std::vector<std::vector<bool>> ExpectedMembers(const DataSet& data, size_t count) {
  const auto& catalog = Catalog();
  std::vector<std::vector<bool>> members(count, std::vector<bool>(data.customers(), false));
  for (uint32_t i = 0; i < data.customers(); ++i) {
    const ModelCustomer& c = data.customer(i);
    ModelView v{c,
                i,
                data.EventsOf(i),
                data.company_of(i),
                c.company < 0 ? 0u : static_cast<uint32_t>(c.company),
                [&](size_t s) { return s < count && members[s][i]; }};
    for (size_t s = 0; s < count; ++s) members[s][i] = catalog[s].expected(v);
  }
  return members;
}

}  // namespace xoal::bench
