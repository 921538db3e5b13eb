#include "liquid/liquid.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace xoal::liquid {
namespace {

using std::chrono::seconds;

json::value Data(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? v.value() : json::value();
}

// Parses and renders; a failure comes back as "ERROR: <message>" so tests can compare strings.
std::string RenderText(std::string_view source, const json::value& data = json::object(),
                       const RenderOptions& options = {}) {
  auto t = Parse(source);
  if (!t.ok()) {
    return "ERROR: " + t.status().message();
  }
  auto out = Render(**t, data, options);
  return out.ok() ? out.value() : "ERROR: " + out.status().message();
}

// ---- output and variables ---------------------------------------------------------------------

TEST(LiquidTest, RendersCustomerFieldsWithDefault) {
  json::value data = Data(R"({"customer": {"first_name": "Ada", "orders": [{"total": 12}]}})");

  EXPECT_EQ(RenderText("Hi {{ customer.first_name | default: 'there' }}!", data), "Hi Ada!");
  EXPECT_EQ(RenderText("Hi {{ customer.nickname | default: 'there' }}!", data), "Hi there!");
  EXPECT_EQ(RenderText("{{ customer.orders[0].total | times: 2 }}", data), "24");
  EXPECT_EQ(RenderText("{{ customer.orders.size }} {{ customer.orders.first.total }}", data),
            "1 12");
}

TEST(LiquidTest, RendersValuesTheWayRubyPrintsThem) {
  EXPECT_EQ(RenderText("{{ 5.0 }} {{ 0.1 | plus: 0.2 }} {{ 10 | divided_by: 4.0 }}"),
            "5.0 0.3 2.5");
  EXPECT_EQ(RenderText("{{ n }}", Data(R"({"n": 1e20})")), "1.0e+20");
  EXPECT_EQ(RenderText("{{ a }}", Data(R"({"a": ["x", ["y", null], 3]})")), "xy3");
  EXPECT_EQ(RenderText("{{ t }} {{ f }} {{ nil }}", Data(R"({"t": true, "f": false})")),
            "true false ");
}

// Shopify leaves a hash's output undefined; JSON is what a webhook body wants.
TEST(LiquidTest, RendersObjectsAsJson) {
  EXPECT_EQ(RenderText("{{ event }}", Data(R"({"event": {"name": "signup", "n": 1}})")),
            R"({"name":"signup","n":1})");
}

TEST(LiquidTest, WhitespaceControlStripsNewlines) {
  EXPECT_EQ(RenderText("a  \n  {%- if true -%}  \n b \n {%- endif -%} \n c"), "abc");
  EXPECT_EQ(RenderText("a {{- 'b' -}} c"), "abc");
}

// ---- tags -------------------------------------------------------------------------------------

TEST(LiquidTest, ForLoopVariablesAndModifiers) {
  EXPECT_EQ(RenderText(
                "{% for i in (1..5) limit: 2 offset: 1 %}{{ forloop.index }}:{{ i }} {% endfor %}"),
            "1:2 2:3 ");
  EXPECT_EQ(
      RenderText(
          "{% for i in (1..3) reversed %}{{ i }}{% if forloop.last %}!{% endif %}{% endfor %}"),
      "321!");
  EXPECT_EQ(
      RenderText("{% for i in (1..2) %}{% for j in (1..2) %}{{ forloop.parentloop.index }}{{ j }} "
                 "{% endfor %}{% endfor %}"),
      "11 12 21 22 ");
  EXPECT_EQ(RenderText("{% for x in nothing %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(RenderText("{% for i in (1..9) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}"
                       "{% continue %}{% endif %}{{ i }}{% endfor %}"),
            "2");
  EXPECT_EQ(RenderText("{% for i in (1..4) %}{% cycle 'a', 'b', 'c' %}{% endfor %}"), "abca");
}

TEST(LiquidTest, ConditionsGroupToTheRight) {
  // `true or false and false` is `true or (false and false)`.
  EXPECT_EQ(RenderText("{% if true or false and false %}y{% else %}n{% endif %}"), "y");
  EXPECT_EQ(RenderText("{% if false and false or true %}y{% else %}n{% endif %}"), "n");
  EXPECT_EQ(RenderText("{% if 'hello' contains 'ell' and tags contains 'vip' %}y{% endif %}",
                       Data(R"({"tags": ["new", "vip"]})")),
            "y");
  EXPECT_EQ(
      RenderText("{% unless s == empty %}set{% endunless %}{% if b == blank %}blank{% endif %}",
                 Data(R"({"s": "", "b": "  "})")),
      "blank");
}

TEST(LiquidTest, CaseWhenWithOrAndCommas) {
  std::string tmpl =
      "{% case plan %}{% when 'free', 'trial' %}F{% when 'pro' or 'team' %}P{% else %}?"
      "{% endcase %}";

  EXPECT_EQ(RenderText(tmpl, Data(R"({"plan": "trial"})")), "F");
  EXPECT_EQ(RenderText(tmpl, Data(R"({"plan": "team"})")), "P");
  EXPECT_EQ(RenderText(tmpl, Data(R"({"plan": "x"})")), "?");
}

TEST(LiquidTest, AssignCaptureCountersRawComment) {
  EXPECT_EQ(RenderText("{% assign n = 'a,b' | split: ',' %}{{ n | join: '+' }}"), "a+b");
  EXPECT_EQ(RenderText("{% capture x %}<{{ 1 | plus: 1 }}>{% endcapture %}{{ x }}{{ x }}"),
            "<2><2>");
  EXPECT_EQ(RenderText("{% increment c %}{% increment c %}{% decrement d %}"), "01-1");
  EXPECT_EQ(
      RenderText("{% raw %}{{ x }}{% endraw %}{% comment %}{{ y }}{% endcomment %}{% # note %}"),
      "{{ x }}");
  EXPECT_EQ(RenderText("{% liquid\n assign x = 2\n if x > 1\n echo 'big'\n endif\n%}"), "big");
}

// ---- filters ----------------------------------------------------------------------------------

TEST(LiquidTest, StringFilters) {
  EXPECT_EQ(RenderText("{{ ' Hi there ' | strip | upcase | append: '!' }}"), "HI THERE!");
  EXPECT_EQ(RenderText("{{ '<b>A & B</b>' | escape }}"), "&lt;b&gt;A &amp; B&lt;/b&gt;");
  EXPECT_EQ(RenderText("{{ '&amp; <' | escape_once }}"), "&amp; &lt;");
  EXPECT_EQ(RenderText("{{ 'a b&c' | url_encode }} {{ 'a+b%26c' | url_decode }}"), "a+b%26c a b&c");
  EXPECT_EQ(RenderText("{{ 'Ground control to Major Tom' | truncatewords: 3 }}"),
            "Ground control to...");
  EXPECT_EQ(RenderText("{{ 'héllo' | slice: 1, 3 }} {{ 'héllo' | size }}"), "éll 5");
  EXPECT_EQ(RenderText("{{ '<p>x<script>y</script></p>' | strip_html }}"), "x");
}

TEST(LiquidTest, NumberFilters) {
  EXPECT_EQ(RenderText("{{ 7 | divided_by: 2 }} {{ 7.0 | divided_by: 2 }} {{ -7 | modulo: 3 }}"),
            "3 3.5 2");
  EXPECT_EQ(
      RenderText("{{ 2.675 | round: 2 }} {{ 2.5 | round }} {{ 3.2 | ceil }} {{ '3.9' | floor }}"),
      "2.68 3 4 3");
  EXPECT_EQ(RenderText("{{ 5 | at_most: 3 }} {{ -4 | abs }} {{ '10' | plus: '5' }}"), "3 4 15");
  EXPECT_EQ(RenderText("{{ 1 | divided_by: 0 }}").rfind("ERROR: line 1, column 8:", 0), 0u);
}

TEST(LiquidTest, ArrayFilters) {
  json::value data = Data(R"({"orders": [{"id": 1, "status": "paid", "total": 5},
                                         {"id": 2, "status": "open", "total": 7},
                                         {"id": 3, "status": "paid", "total": 9}]})");

  EXPECT_EQ(RenderText("{{ orders | where: 'status', 'paid' | map: 'id' | join: ',' }}", data),
            "1,3");
  EXPECT_EQ(
      RenderText("{{ orders | sum: 'total' }} {{ orders | map: 'total' | sort | last }}", data),
      "21 9");
  EXPECT_EQ(RenderText("{{ orders | find: 'status', 'open' | map: 'id' }}", data), "2");
  EXPECT_EQ(RenderText("{{ orders | reject: 'status', 'paid' | size }}", data), "1");
  EXPECT_EQ(RenderText("{{ orders | has: 'status', 'void' }}", data), "false");
  EXPECT_EQ(RenderText("{{ 'b,a,B,c,a' | split: ',' | sort_natural | uniq | join }}"), "a b B c");
  EXPECT_EQ(RenderText("{{ 'a,b' | split: ',' | concat: more | reverse | join }}",
                       Data(R"({"more": ["c"]})")),
            "c b a");
}

TEST(LiquidTest, DateFilterUsesInjectedNow) {
  RenderOptions options;
  options.now = SystemTime(seconds(1764800000));  // 2025-12-03T22:13:20Z

  EXPECT_EQ(RenderText("{{ 'now' | date: '%Y-%m-%d %H:%M' }}", json::object(), options),
            "2025-12-03 22:13");
  EXPECT_EQ(RenderText("{{ 0 | date: '%a %b %e %Y %I%p %j %s' }}"), "Thu Jan  1 1970 12AM 001 0");
  EXPECT_EQ(RenderText("{{ '2024-02-29T13:05:09+02:00' | date: '%-d/%-m/%y %H:%M:%S %z' }}"),
            "29/2/24 13:05:09 +0200");
  EXPECT_EQ(RenderText("{{ 'March 14, 2016' | date: '%B %d, %Y (%A)' }}"),
            "March 14, 2016 (Monday)");
  EXPECT_EQ(RenderText("{{ 'not a date' | date: '%Y' }}"), "not a date");
  // A template asking for "now" without an injected clock is a bug to surface, not to hide.
  EXPECT_EQ(RenderText("{{ 'now' | date: '%Y' }}").rfind("ERROR: line 1, column 12:", 0), 0u);
}

// ---- errors -----------------------------------------------------------------------------------

TEST(LiquidTest, ParseErrorsCarryLineAndColumn) {
  EXPECT_EQ(RenderText("Hello\n  {{ name | }}"),
            "ERROR: line 2, column 13: unexpected end of a filter, expected a filter name after "
            "'|'");
  EXPECT_EQ(RenderText("a\nb {% nosuch %}"), "ERROR: line 2, column 3: unknown tag 'nosuch'");
  EXPECT_EQ(RenderText("x\n\n  {% if a %}never closed"),
            "ERROR: line 3, column 3: 'if' tag was never "
            "closed");
  EXPECT_EQ(RenderText("{{ a"), "ERROR: line 1, column 1: output was never closed with '}}'");
  EXPECT_EQ(RenderText("{% if a = 1 %}{% endif %}"),
            "ERROR: line 1, column 9: unexpected '=' in a "
            "condition");
}

TEST(LiquidTest, IncludeAndRenderAreReportedAsUnsupported) {
  EXPECT_EQ(RenderText("{% include 'footer' %}"),
            "ERROR: line 1, column 1: the 'include' tag is not supported: Xoal has no template "
            "files to load");
  EXPECT_NE(RenderText("{% render 'footer' %}").find("'render' tag is not supported"),
            std::string::npos);
}

TEST(LiquidTest, StrictModeReportsUnknownVariablesAndFilters) {
  RenderOptions strict;
  strict.strict_variables = true;
  strict.strict_filters = true;
  json::value data = Data(R"({"customer": {"name": "Ada"}})");

  EXPECT_EQ(RenderText("{{ customer.name }}", data, strict), "Ada");
  EXPECT_EQ(RenderText("ok\n {{ customer.age }}", data, strict),
            "ERROR: line 2, column 5: undefined variable 'age'");
  EXPECT_EQ(RenderText("{{ nobody }}", data, strict),
            "ERROR: line 1, column 4: undefined variable "
            "'nobody'");
  EXPECT_EQ(RenderText("{{ customer.name | shout }}", data, strict),
            "ERROR: line 1, column 20: unknown filter 'shout'");
  EXPECT_EQ(RenderText("{{ customer.age | default: 30 }}", data, strict), "30");
}

TEST(LiquidTest, LaxModeRendersUnknownsAsEmpty) {
  EXPECT_EQ(RenderText("[{{ nobody.name }}][{{ 'x' | shout }}]"), "[][]");
}

TEST(LiquidTest, FilterArgumentCountsAreChecked) {
  EXPECT_EQ(RenderText("{{ 'a' | append }}"),
            "ERROR: line 1, column 10: filter 'append' takes 1 argument(s), got 0");
  EXPECT_EQ(RenderText("{{ 'a' | upcase: 1 }}"),
            "ERROR: line 1, column 10: filter 'upcase' takes 0 argument(s), got 1");
}

// ---- limits -----------------------------------------------------------------------------------

TEST(LiquidTest, StopsRunawayLoops) {
  RenderOptions options;
  options.max_loop_iterations = 1000;

  std::string out =
      RenderText("{% for a in (1..100) %}{% for b in (1..100) %}x{% endfor %}{% endfor %}",
                 json::object(), options);

  EXPECT_EQ(out, "ERROR: line 1, column 24: too many loop iterations (limit 1000)");
}

TEST(LiquidTest, StopsRunawayOutput) {
  RenderOptions options;
  options.max_output_bytes = 1000;

  std::string doubled =
      "{% assign s = 'xx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}";
  std::string big = "{% for i in (1..2000) %}ab{% endfor %}";

  EXPECT_NE(RenderText(doubled, json::object(), options).find("value of 's' too large"),
            std::string::npos);
  EXPECT_NE(RenderText(big, json::object(), options).find("output too large"), std::string::npos);
  EXPECT_NE(RenderText("{{ (1..100000000) | size }}").find("range too large"), std::string::npos);
}

// Re-filtering a big value in a loop produces no output but burns CPU; the work budget stops it.
TEST(LiquidTest, StopsRunawayFilterWork) {
  RenderOptions options;
  options.max_filter_work = 100000;
  json::value data = json::object{{"big", std::string(10000, 'x')}};

  std::string out = RenderText(
      "{% for i in (1..1000) %}{% assign y = big | upcase %}{% endfor %}done", data, options);

  EXPECT_NE(out.find("too much filter work (limit 100000)"), std::string::npos);
}

TEST(LiquidTest, RejectsTemplatesNestedDeepEnoughToExhaustTheStack) {
  std::string brackets = "{{ " + std::string(100000, '[') + "x" + std::string(100000, ']') + " }}";
  std::string conds = "{% if a";
  for (int i = 0; i < 100000; ++i) {
    conds += " and a";
  }
  conds += " %}{% endif %}";
  std::string blocks;
  for (int i = 0; i < 10000; ++i) {
    blocks += "{% if true %}";
  }

  EXPECT_NE(RenderText(brackets).find("expression nested too deeply"), std::string::npos);
  EXPECT_NE(RenderText(conds).find("too many 'and'/'or'"), std::string::npos);
  EXPECT_NE(RenderText(blocks).find("blocks are nested too deeply"), std::string::npos);
}

// ---- cache and threads ------------------------------------------------------------------------

TEST(LiquidTest, CacheCompilesEachSourceOnceAndEvicts) {
  TemplateCache cache(2);

  auto a1 = cache.Get("a {{ x }}");
  auto a2 = cache.Get("a {{ x }}");
  ASSERT_TRUE(a1.ok() && a2.ok());
  EXPECT_EQ(a1->get(), a2->get());

  ASSERT_TRUE(cache.Get("b").ok());
  ASSERT_TRUE(cache.Get("c").ok());  // evicts "a {{ x }}", the least recently used
  EXPECT_EQ(cache.size(), 2u);
  auto a3 = cache.Get("a {{ x }}");
  ASSERT_TRUE(a3.ok());
  EXPECT_NE(a1->get(), a3->get());

  auto bad = cache.Get("{% if %}");
  EXPECT_TRUE(bad.status().IsInvalidArgument());
}

TEST(LiquidTest, RendersConcurrentlyFromOneCache) {
  TemplateCache cache(8);
  json::value data = Data(R"({"items": [1, 2, 3]})");
  std::atomic<int> good{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto tmpl = cache.Get("{% for i in items %}{{ i | times: " + std::to_string(t % 3) +
                              " }}{% endfor %}");
        if (tmpl.ok()) {
          auto out = Render(**tmpl, data);
          std::string want = t % 3 == 0 ? "000" : t % 3 == 1 ? "123" : "246";
          good += out.ok() && out.value() == want ? 1 : 0;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }

  EXPECT_EQ(good.load(), 8 * 200);
  EXPECT_EQ(cache.size(), 3u);
}

}  // namespace
}  // namespace xoal::liquid
