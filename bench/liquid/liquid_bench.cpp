// How fast Xoal renders message content: a ~5 KB marketing email (layout, greeting with a
// fallback, language switch, VIP block, product recommendations loop, order summary with
// where/map/sum, dates, an unsubscribe link) over a realistic customer, event and project.
//
//   ninja -C build-liquid liquid_bench && ./build-liquid/bench/liquid/liquid_bench
//
// Figures: renders/s for a parsed template (the hot path: templates come from TemplateCache),
// the cost of a parse, and a cache lookup plus render.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/json.hpp"
#include "liquid/liquid.hpp"

namespace xoal::liquid {
namespace {

constexpr const char* kEmail = R"LIQUID(<!DOCTYPE html>
<html lang="{{ customer.language | default: project.default_language }}">
<head>
  <meta charset="utf-8">
  <title>{{ project.name | escape }}: picks for {{ customer.first_name | default: "you" }}</title>
  <style>
    body { margin: 0; padding: 0; font-family: Helvetica, Arial, sans-serif; color: #222; }
    .wrap { max-width: 600px; margin: 0 auto; }
    .card { border: 1px solid #eee; border-radius: 6px; padding: 16px; margin: 12px 0; }
    .price { font-weight: bold; color: #0a7; }
    .muted { color: #888; font-size: 12px; }
  </style>
</head>
<body>
<span style="display:none">{{ trigger.campaign | capitalize }}: new arrivals, member prices and {{ trigger.recommendations.size }} picks chosen from what you browsed.</span>
<div class="wrap">
  <table width="100%"><tr>
    <td><a href="{{ project.url }}?utm_source=email"><img src="{{ project.url }}/logo.png" alt="{{ project.name | escape }}" height="32"></a></td>
    <td align="right" class="muted"><a href="{{ project.url }}/account">My account</a> · <a href="{{ project.url }}/help">Help</a></td>
  </tr></table>
  {%- assign first_name = customer.first_name | default: "there" | strip | capitalize -%}
  {%- case customer.language -%}
    {%- when "fr" -%}{%- assign hello = "Bonjour" -%}
    {%- when "de" -%}{%- assign hello = "Hallo" -%}
    {%- when "es", "pt" -%}{%- assign hello = "Hola" -%}
    {%- else -%}{%- assign hello = "Hi" -%}
  {%- endcase %}
  <h1>{{ hello }} {{ first_name | escape }},</h1>
  <p>
    Thanks for being with {{ project.name }} since
    {{ customer.created_at | date: "%B %Y" }}. It has been a while since your visit on
    {{ event.timestamp | date: "%A, %b %-d" }}, so here is what is new.
  </p>

  {% if customer.plan == "vip" or customer.lifetime_value > 1000 %}
  <div class="card">
    <h2>A thank-you for our VIPs</h2>
    <p>Use code <strong>{{ customer.user_id | upcase | slice: 0, 6 }}VIP</strong> for
    {{ project.vip_discount | times: 100 | round }}% off your next order.</p>
  </div>
  {% elsif customer.orders.size == 0 %}
  <div class="card">
    <h2>Your first order ships free</h2>
    <p>Pick anything below: shipping is on us until {{ trigger.offer_ends | date: "%b %d" }}.</p>
  </div>
  {% else %}
  <div class="card"><p>Members get free returns on every order.</p></div>
  {% endif %}

  <h2>Picked for you</h2>
  {% for product in trigger.recommendations limit: 6 %}
  <div class="card">
    <a href="{{ project.url }}/p/{{ product.handle }}?utm_source=email&utm_campaign={{ trigger.campaign | url_encode }}">
      <img src="{{ product.image }}" alt="{{ product.title | escape }}" width="120">
    </a>
    <h3>{{ forloop.index }}. {{ product.title | truncate: 40 }}</h3>
    <p>{{ product.description | strip_html | truncatewords: 18 }}</p>
    <p class="price">
      {% if product.compare_at_price > product.price %}
      <s>{{ product.compare_at_price | divided_by: 100.0 | round: 2 }}</s>
      {% endif %}
      {{ product.price | divided_by: 100.0 | round: 2 }} {{ project.currency }}
    </p>
    {% if product.tags contains "new" %}<span class="muted">New this week</span>{% endif %}
    {% unless forloop.last %}<hr>{% endunless %}
  </div>
  {% else %}
  <p>We are restocking. Check back soon!</p>
  {% endfor %}

  {% assign paid = customer.orders | where: "status", "paid" %}
  {% if paid.size > 0 %}
  <h2>Your recent orders</h2>
  <table width="100%" cellpadding="4">
    <tr><th align="left">Order</th><th align="left">Date</th><th align="right">Total</th></tr>
    {% for order in paid reversed %}
    <tr class="{% cycle 'odd', 'even' %}">
      <td>#{{ order.number }}</td>
      <td>{{ order.created_at | date: "%d/%m/%Y" }}</td>
      <td align="right">{{ order.total | divided_by: 100.0 | round: 2 }} {{ project.currency }}</td>
    </tr>
    {% endfor %}
    <tr><td colspan="2"><strong>Total spent</strong></td>
      <td align="right"><strong>{{ paid | map: "total" | sum | divided_by: 100.0 | round: 2 }}
      {{ project.currency }}</strong></td></tr>
  </table>
  <p class="muted">Items bought: {{ paid | map: "items" | join: ", " | truncate: 80 }}</p>
  {% endif %}

  {% capture unsubscribe_url -%}
    {{ project.url }}/unsubscribe/{{ customer.unsubscribe_token }}?email={{ customer.email | url_encode }}
  {%- endcapture %}
  <table width="100%" class="muted"><tr>
    {% for network in project.social %}
    <td align="center"><a href="{{ network.url }}">{{ network.name | upcase }}</a></td>
    {% endfor %}
  </tr></table>
  <p class="muted">
    You receive this email because you subscribed to {{ project.name }} news
    {%- if customer.tags.size > 0 %} about {{ customer.tags | sort | join: ", " }}{% endif %}.
    <a href="{{ unsubscribe_url }}">Unsubscribe</a> ·
    <a href="{{ project.url }}/preferences">Preferences</a><br>
    {{ project.address | newline_to_br }}<br>
    &copy; {{ "now" | date: "%Y" }} {{ project.name | escape }}
  </p>
</div>
</body>
</html>
)LIQUID";

json::value Customer() {
  json::array recommendations;
  const char* titles[] = {"Merino crew sweater",
                          "Trail running shoes with recycled soles",
                          "Insulated steel bottle 750 ml",
                          "Organic cotton tee",
                          "Packable rain shell",
                          "Wool beanie",
                          "Canvas tote"};
  for (int i = 0; i < 7; ++i) {
    recommendations.push_back(
        json::object{{"handle", "product-" + std::to_string(i)},
                     {"title", titles[i]},
                     {"image", "https://cdn.example.com/img/p" + std::to_string(i) + ".jpg"},
                     {"description",
                      "<p>Made to last, <b>light</b> on the planet. Soft, breathable and easy "
                      "to care for, it goes from the trail to the office without a thought."
                      "</p>"},
                     {"price", 2900 + i * 1150},
                     {"compare_at_price", i % 2 == 0 ? 4900 + i * 1000 : 0},
                     {"tags", i % 3 == 0 ? json::array{"new", "sale"} : json::array{"sale"}}});
  }
  json::array orders;
  for (int i = 0; i < 5; ++i) {
    orders.push_back(json::object{{"number", 10231 + i},
                                  {"status", i == 3 ? "refunded" : "paid"},
                                  {"created_at", 1751000000 + i * 86400 * 17},
                                  {"total", 4599 + i * 2311},
                                  {"items", "sweater, socks"}});
  }
  return json::object{
      {"customer", json::object{{"first_name", " ada "},
                                {"last_name", "Lovelace"},
                                {"email", "ada+news@example.com"},
                                {"user_id", "usr_8f3k2j9d"},
                                {"language", "en"},
                                {"plan", "pro"},
                                {"lifetime_value", 1480},
                                {"created_at", "2023-04-18T09:12:44Z"},
                                {"unsubscribe_token", "tok_1b2c3d4e5f"},
                                {"tags", json::array{"outdoor", "running", "wool"}},
                                {"orders", std::move(orders)}}},
      {"event", json::object{{"name", "viewed_product"}, {"timestamp", "2026-11-28T18:40:00Z"}}},
      {"trigger", json::object{{"campaign", "winter picks 2026"},
                               {"offer_ends", "2026-12-24"},
                               {"recommendations", std::move(recommendations)}}},
      {"project",
       json::object{
           {"name", "Northwind Outfitters"},
           {"url", "https://shop.example.com"},
           {"default_language", "en"},
           {"currency", "EUR"},
           {"vip_discount", 0.15},
           {"social",
            json::array{
                json::object{{"name", "instagram"}, {"url", "https://instagram.com/northwind"}},
                json::object{{"name", "youtube"}, {"url", "https://youtube.com/@northwind"}},
                json::object{{"name", "strava"}, {"url", "https://strava.com/clubs/northwind"}}}},
           {"address", "Northwind Outfitters\n12 Harbour St\nDublin"}}}};
}

RenderOptions Options() {
  RenderOptions options;
  options.now = SystemTime(std::chrono::seconds(1764806400));  // 2025-12-04
  return options;
}

// Prints the rendered email once with LIQUID_BENCH_SHOW=1, to eyeball what is measured.
void ShowOnce() {
  static bool shown = false;
  if (shown || !std::getenv("LIQUID_BENCH_SHOW")) {
    return;
  }
  shown = true;
  auto tmpl = Parse(kEmail);
  auto out = tmpl.ok() ? Render(**tmpl, Customer(), Options()) : Result<std::string>(tmpl.status());
  std::fputs(out.ok() ? out->c_str() : out.status().message().c_str(), stderr);
}

void BM_RenderMarketingEmail(benchmark::State& state) {
  ShowOnce();
  auto tmpl = Parse(kEmail);
  if (!tmpl.ok()) {
    state.SkipWithError(tmpl.status().message().c_str());
    return;
  }
  json::value data = Customer();
  RenderOptions options = Options();
  size_t bytes = 0;
  for (auto _ : state) {
    auto out = Render(**tmpl, data, options);
    if (!out.ok()) {
      state.SkipWithError(out.status().message().c_str());
      return;
    }
    bytes = out->size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["renders/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["template_bytes"] = static_cast<double>(std::string_view(kEmail).size());
  state.counters["output_bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_RenderMarketingEmail);

void BM_ParseMarketingEmail(benchmark::State& state) {
  for (auto _ : state) {
    auto tmpl = Parse(kEmail);
    benchmark::DoNotOptimize(tmpl);
  }
  state.counters["parses/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParseMarketingEmail);

void BM_CacheGetAndRender(benchmark::State& state) {
  TemplateCache cache(64);
  json::value data = Customer();
  RenderOptions options = Options();
  for (auto _ : state) {
    auto tmpl = cache.Get(kEmail);
    auto out = Render(**tmpl, data, options);
    benchmark::DoNotOptimize(out);
  }
  state.counters["renders/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CacheGetAndRender);

}  // namespace
}  // namespace xoal::liquid

BENCHMARK_MAIN();
