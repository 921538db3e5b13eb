#include "segments/condition.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>

#include "common/time_format.hpp"

namespace xoal::segments {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

SystemTime T(std::string_view iso) {
  std::optional<SystemTime> t = ParseIsoTime(iso);
  EXPECT_TRUE(t.has_value()) << iso;
  return t.value_or(SystemTime());
}

json::value J(std::string_view text) {
  Result<json::value> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : json::value();
}

Condition MustParse(std::string_view text) {
  Result<Condition> c = ParseCondition(J(text));
  EXPECT_TRUE(c.ok()) << text << ": " << c.status().field() << ": " << c.status().message();
  return std::move(c).value();
}

class ConditionTest : public ::testing::Test {
 protected:
  CustomerView View() const {
    CustomerView v;
    v.customer = &customer_;
    v.companies = companies_;
    v.events = events_;
    v.in_segment = [this](std::string_view id) { return segments_.count(std::string(id)) > 0; };
    v.timezone = tz_;
    return v;
  }

  bool Match(std::string_view condition) { return Matches(MustParse(condition), View(), now_); }

  bool MatchAt(std::string_view condition, SystemTime at) {
    return Matches(MustParse(condition), View(), at);
  }

  std::optional<SystemTime> Flip(std::string_view condition) {
    return NextFlipTime(MustParse(condition), View(), now_);
  }

  void Set(std::string_view name, std::string_view json_value) {
    customer_.attributes[name] = J(json_value);
  }

  void AddEvent(std::string_view name, SystemTime at, std::string_view properties = "{}") {
    store::Event e;
    e.name = std::string(name);
    e.timestamp = at;
    e.properties = J(properties).as_object();
    events_.push_back(std::move(e));
  }

  store::Customer customer_;
  std::vector<store::Company> companies_;
  std::vector<store::Event> events_;
  std::set<std::string> segments_;
  const date::time_zone* tz_ = nullptr;
  SystemTime now_ = T("2026-06-15T12:00:00Z");
};

// --- equality and text operators ---------------------------------------------------------------

TEST_F(ConditionTest, EqComparesTextCaseSensitively) {
  Set("plan", R"("pro")");

  EXPECT_TRUE(Match(R"({"attribute": "plan", "op": "eq", "value": "pro"})"));
  EXPECT_FALSE(Match(R"({"attribute": "plan", "op": "eq", "value": "Pro"})"));
  EXPECT_FALSE(Match(R"({"attribute": "plan", "op": "neq", "value": "pro"})"));
  EXPECT_TRUE(Match(R"({"attribute": "plan", "op": "neq", "value": "free"})"));
}

TEST_F(ConditionTest, EmailComparesCaseInsensitively) {
  customer_.email = "ada@example.com";

  EXPECT_TRUE(Match(R"({"attribute": "email", "op": "eq", "value": "Ada@Example.COM"})"));
  EXPECT_TRUE(Match(R"({"attribute": "email", "op": "ends_with", "value": "@EXAMPLE.com"})"));
  EXPECT_TRUE(Match(R"({"attribute": "email", "op": "contains", "value": "ADA@"})"));
  EXPECT_TRUE(
      Match(R"({"attribute": "email", "op": "in", "value": ["x@y.z", "ADA@example.com"]})"));
  EXPECT_FALSE(Match(R"({"attribute": "email", "op": "starts_with", "value": "bob"})"));
}

TEST_F(ConditionTest, NumbersMatchNumericStringsBothWays) {
  Set("age", "42");
  Set("score", R"("42.5")");
  Set("zip", R"("02134")");

  EXPECT_TRUE(Match(R"({"attribute": "age", "op": "eq", "value": "42"})"));
  EXPECT_TRUE(Match(R"({"attribute": "age", "op": "eq", "value": 42.0})"));
  EXPECT_TRUE(Match(R"({"attribute": "score", "op": "eq", "value": 42.5})"));
  EXPECT_TRUE(Match(R"({"attribute": "score", "op": "gt", "value": 42})"));
  EXPECT_TRUE(Match(R"({"attribute": "score", "op": "lt", "value": "100"})"));
  // Two strings compare as text: zip codes keep their leading zero.
  EXPECT_FALSE(Match(R"({"attribute": "zip", "op": "eq", "value": "2134"})"));
  EXPECT_TRUE(Match(R"({"attribute": "zip", "op": "eq", "value": 2134})"));
}

TEST_F(ConditionTest, BooleansMatchOnlyBooleans) {
  Set("vip", "true");
  Set("flag", R"("true")");

  EXPECT_TRUE(Match(R"({"attribute": "vip", "op": "eq", "value": true})"));
  EXPECT_FALSE(Match(R"({"attribute": "vip", "op": "eq", "value": false})"));
  EXPECT_FALSE(Match(R"({"attribute": "flag", "op": "eq", "value": true})"));
  EXPECT_FALSE(Match(R"({"attribute": "vip", "op": "eq", "value": "true"})"));
}

TEST_F(ConditionTest, ContainsOnTextAndLists) {
  Set("title", R"("Head of Growth")");
  Set("interests", R"(["golf", "chess", 7])");

  EXPECT_TRUE(Match(R"({"attribute": "title", "op": "contains", "value": "of Gro"})"));
  EXPECT_FALSE(Match(R"({"attribute": "title", "op": "contains", "value": "growth"})"));
  EXPECT_TRUE(Match(R"({"attribute": "title", "op": "not_contains", "value": "CEO"})"));
  EXPECT_TRUE(Match(R"({"attribute": "interests", "op": "contains", "value": "chess"})"));
  EXPECT_TRUE(Match(R"({"attribute": "interests", "op": "contains", "value": 7})"));
  EXPECT_FALSE(Match(R"({"attribute": "interests", "op": "contains", "value": "ches"})"));
  EXPECT_TRUE(Match(R"({"attribute": "interests", "op": "not_contains", "value": "tennis"})"));
}

TEST_F(ConditionTest, StartsAndEndsWith) {
  Set("phone_country", R"("+234 801")");

  EXPECT_TRUE(Match(R"({"attribute": "phone_country", "op": "starts_with", "value": "+234"})"));
  EXPECT_TRUE(Match(R"({"attribute": "phone_country", "op": "ends_with", "value": "801"})"));
  EXPECT_FALSE(Match(R"({"attribute": "phone_country", "op": "ends_with", "value": "+234"})"));
  EXPECT_FALSE(
      Match(R"({"attribute": "phone_country", "op": "starts_with", "value": "+234 8012"})"));
}

TEST_F(ConditionTest, ExistsCountsEmptyTextButNotNull) {
  Set("nickname", R"("")");
  Set("middle_name", "null");

  EXPECT_TRUE(Match(R"({"attribute": "nickname", "op": "exists"})"));
  EXPECT_FALSE(Match(R"({"attribute": "middle_name", "op": "exists"})"));
  EXPECT_TRUE(Match(R"({"attribute": "middle_name", "op": "not_exists"})"));
  EXPECT_TRUE(Match(R"({"attribute": "never_set", "op": "not_exists"})"));
}

TEST_F(ConditionTest, InAndNotIn) {
  Set("plan", R"("team")");
  Set("roles", R"(["admin", "billing"])");

  EXPECT_TRUE(Match(R"({"attribute": "plan", "op": "in", "value": ["pro", "team"]})"));
  EXPECT_FALSE(Match(R"({"attribute": "plan", "op": "not_in", "value": ["pro", "team"]})"));
  EXPECT_TRUE(Match(R"({"attribute": "roles", "op": "in", "value": ["owner", "billing"]})"));
  EXPECT_TRUE(Match(R"({"attribute": "roles", "op": "not_in", "value": ["owner"]})"));
}

TEST_F(ConditionTest, MatchesIsAnUnanchoredRe2Search) {
  Set("sku", R"("AB-1234-Z")");

  EXPECT_TRUE(Match(R"({"attribute": "sku", "op": "matches", "value": "\\d{4}"})"));
  EXPECT_FALSE(Match(R"({"attribute": "sku", "op": "matches", "value": "^\\d{4}$"})"));
  EXPECT_FALSE(Match(R"({"attribute": "sku", "op": "matches", "value": "ab-"})"));
  EXPECT_TRUE(Match(R"({"attribute": "sku", "op": "matches", "value": "(?i)ab-"})"));
}

// --- ordering ------------------------------------------------------------------------------------

TEST_F(ConditionTest, OrderingOperatorsOnNumbers) {
  Set("orders", "3");

  EXPECT_TRUE(Match(R"({"attribute": "orders", "op": "gt", "value": 2})"));
  EXPECT_FALSE(Match(R"({"attribute": "orders", "op": "gt", "value": 3})"));
  EXPECT_TRUE(Match(R"({"attribute": "orders", "op": "gte", "value": 3})"));
  EXPECT_TRUE(Match(R"({"attribute": "orders", "op": "lt", "value": 3.5})"));
  EXPECT_TRUE(Match(R"({"attribute": "orders", "op": "lte", "value": 3})"));
  EXPECT_FALSE(Match(R"({"attribute": "orders", "op": "lte", "value": 2.999})"));
  EXPECT_TRUE(Match(R"({"attribute": "orders", "op": "between", "value": [3, 5]})"));
  EXPECT_TRUE(Match(R"({"attribute": "orders", "op": "between", "value": [1, 3]})"));
  EXPECT_FALSE(Match(R"({"attribute": "orders", "op": "between", "value": [4, 5]})"));
}

TEST_F(ConditionTest, LargeIntegersCompareExactly) {
  Set("big", "9007199254740993");  // 2^53 + 1: a double would round it to 2^53

  EXPECT_FALSE(Match(R"({"attribute": "big", "op": "eq", "value": 9007199254740992})"));
  EXPECT_TRUE(Match(R"({"attribute": "big", "op": "gt", "value": 9007199254740992})"));
}

TEST_F(ConditionTest, OrderingOperatorsOnTimes) {
  Set("trial_ends_at", R"("2026-07-01T00:00:00Z")");
  Set("renewal_epoch", "1782864000");  // 2026-07-01T00:00:00Z in epoch seconds

  EXPECT_TRUE(
      Match(R"({"attribute": "trial_ends_at", "op": "gt", "value": "2026-06-30T23:59:59Z"})"));
  EXPECT_TRUE(Match(R"({"attribute": "trial_ends_at", "op": "gte", "value": "2026-07-01"})"));
  EXPECT_FALSE(Match(R"({"attribute": "trial_ends_at", "op": "lt", "value": "2026-07-01"})"));
  EXPECT_TRUE(Match(R"({"attribute": "trial_ends_at", "op": "lt", "value": 1782864001})"));
  EXPECT_TRUE(
      Match(R"({"attribute": "renewal_epoch", "op": "gte", "value": "2026-07-01T00:00:00Z"})"));
  EXPECT_TRUE(Match(R"({"attribute": "renewal_epoch", "op": "after", "value": "2026-06-30"})"));
}

TEST_F(ConditionTest, BetweenDateOnlyUpperBoundIncludesTheWholeDay) {
  Set("joined_date", R"("2026-01-31T23:59:59Z")");

  EXPECT_TRUE(Match(R"({"attribute": "joined_date", "op": "between",
                        "value": ["2026-01-01", "2026-01-31"]})"));
  Set("joined_date", R"("2026-02-01T00:00:00Z")");
  EXPECT_FALSE(Match(R"({"attribute": "joined_date", "op": "between",
                         "value": ["2026-01-01", "2026-01-31"]})"));
  EXPECT_TRUE(Match(R"({"attribute": "joined_date", "op": "between",
                        "value": ["2026-01-01", "2026-02-01T00:00:00Z"]})"));
}

// --- datetimes, time zones ----------------------------------------------------------------------

TEST_F(ConditionTest, BeforeAndAfterInstants) {
  Set("joined_date", R"("2026-03-10T08:30:00Z")");

  EXPECT_TRUE(
      Match(R"({"attribute": "joined_date", "op": "before", "value": "2026-03-10T08:30:01Z"})"));
  EXPECT_FALSE(
      Match(R"({"attribute": "joined_date", "op": "before", "value": "2026-03-10T08:30:00Z"})"));
  EXPECT_TRUE(Match(
      R"({"attribute": "joined_date", "op": "after", "value": "2026-03-10T10:29:00+02:00"})"));
  EXPECT_FALSE(
      Match(R"({"attribute": "joined_date", "op": "after", "value": "2026-03-10T08:30:00Z"})"));
}

TEST_F(ConditionTest, DateOnlyValueMeansStartOfDayInProjectZone) {
  tz_ = date::locate_zone("America/New_York");      // UTC-5 in March before the 8th
  Set("joined_date", R"("2026-03-01T04:59:59Z")");  // Feb 28, 23:59:59 in New York

  EXPECT_TRUE(Match(R"({"attribute": "joined_date", "op": "before", "value": "2026-03-01"})"));
  Set("joined_date", R"("2026-03-01T05:00:00Z")");  // Mar 1, 00:00 in New York
  EXPECT_FALSE(Match(R"({"attribute": "joined_date", "op": "before", "value": "2026-03-01"})"));
  EXPECT_TRUE(Match(R"({"attribute": "joined_date", "op": "eq", "value": "2026-03-01"})"));

  tz_ = nullptr;  // UTC: the same instant is well inside Mar 1
  EXPECT_TRUE(Match(R"({"attribute": "joined_date", "op": "after", "value": "2026-03-01"})"));
}

TEST_F(ConditionTest, DateOnlyAttributeValueIsALocalDay) {
  tz_ = date::locate_zone("Asia/Tokyo");  // UTC+9
  Set("birthday", R"("2026-05-05")");     // starts 2026-05-04T15:00:00Z

  EXPECT_TRUE(
      Match(R"({"attribute": "birthday", "op": "after", "value": "2026-05-04T14:59:59Z"})"));
  EXPECT_FALSE(
      Match(R"({"attribute": "birthday", "op": "after", "value": "2026-05-04T15:00:00Z"})"));
}

TEST_F(ConditionTest, MidnightInsideADstGapDoesNotThrow) {
  // Havana springs forward at 00:00: 2026-03-08 00:00 local does not exist, the day starts at
  // 01:00 CDT (05:00Z).
  tz_ = date::locate_zone("America/Havana");
  Set("t", R"("2026-03-08T04:59:59Z")");

  EXPECT_TRUE(Match(R"({"attribute": "t", "op": "before", "value": "2026-03-08"})"));
  Set("t", R"("2026-03-08T05:00:00Z")");
  EXPECT_FALSE(Match(R"({"attribute": "t", "op": "before", "value": "2026-03-08"})"));
}

TEST_F(ConditionTest, DateEqualityIsTheSameTimeWrittenDifferently) {
  Set("t", R"("2026-03-08T05:00:00.000Z")");

  EXPECT_TRUE(Match(R"({"attribute": "t", "op": "eq", "value": "2026-03-08T07:00:00+02:00"})"));
  EXPECT_FALSE(Match(R"({"attribute": "t", "op": "eq", "value": "2026-03-08T05:00:01Z"})"));
}

TEST_F(ConditionTest, WithinLastIsHalfOpenAndAgesOut) {
  Set("last_active", R"("2026-06-14T12:00:00Z")");  // 24 h before now
  const char* kWithin =
      R"({"attribute": "last_active", "op": "within_last", "value": {"hours": 25}})";

  EXPECT_TRUE(Match(kWithin));
  EXPECT_FALSE(
      Match(R"({"attribute": "last_active", "op": "within_last", "value": {"hours": 24}})"));
  EXPECT_TRUE(
      Match(R"({"attribute": "last_active", "op": "not_within_last", "value": {"days": 1}})"));
  EXPECT_EQ(Flip(kWithin), T("2026-06-15T13:00:00Z"));
  EXPECT_FALSE(MatchAt(kWithin, T("2026-06-15T13:00:00Z")));
  EXPECT_TRUE(MatchAt(kWithin, T("2026-06-15T12:59:59.999Z")));
}

TEST_F(ConditionTest, WithinLastIgnoresFutureTimesUntilTheyArrive) {
  Set("last_active", R"("2026-06-15T12:30:00Z")");
  const char* kWithin =
      R"({"attribute": "last_active", "op": "within_last", "value": {"minutes": 10}})";

  EXPECT_FALSE(Match(kWithin));
  EXPECT_EQ(Flip(kWithin), T("2026-06-15T12:30:00Z"));
}

TEST_F(ConditionTest, WithinNextFlipsOnAndOff) {
  Set("trial_ends_at", R"("2026-06-20T12:00:00Z")");
  const char* kSoon =
      R"({"attribute": "trial_ends_at", "op": "within_next", "value": {"days": 3}})";

  EXPECT_FALSE(Match(kSoon));
  EXPECT_EQ(Flip(kSoon), T("2026-06-17T12:00:00Z"));
  now_ = T("2026-06-17T12:00:00Z");
  EXPECT_TRUE(Match(kSoon));
  EXPECT_EQ(Flip(kSoon), T("2026-06-20T12:00:00Z"));
  now_ = T("2026-06-20T12:00:00Z");
  EXPECT_FALSE(Match(kSoon));
  EXPECT_EQ(Flip(kSoon), std::nullopt);
}

TEST_F(ConditionTest, EpochAttributesAreTimes) {
  Set("seconds", "1781438400");  // 2026-06-14T12:00:00Z
  Set("millis", "1781438400000");
  Set("text_seconds", R"("1781438400")");

  for (const char* name : {"seconds", "millis", "text_seconds"}) {
    std::string c = std::string(R"({"attribute": ")") + name +
                    R"(", "op": "within_last", "value": {"days": 2}})";
    EXPECT_TRUE(Match(c)) << name;
  }
}

// --- missing and wrong-type values ---------------------------------------------------------------

TEST_F(ConditionTest, MissingAttributeMatchesOnlyNegativeOperators) {
  const std::pair<const char*, bool> kCases[] = {
      {R"({"attribute": "x", "op": "eq", "value": "a"})", false},
      {R"({"attribute": "x", "op": "neq", "value": "a"})", true},
      {R"({"attribute": "x", "op": "contains", "value": "a"})", false},
      {R"({"attribute": "x", "op": "not_contains", "value": "a"})", true},
      {R"({"attribute": "x", "op": "starts_with", "value": "a"})", false},
      {R"({"attribute": "x", "op": "ends_with", "value": "a"})", false},
      {R"({"attribute": "x", "op": "exists"})", false},
      {R"({"attribute": "x", "op": "not_exists"})", true},
      {R"({"attribute": "x", "op": "gt", "value": 1})", false},
      {R"({"attribute": "x", "op": "lte", "value": 1})", false},
      {R"({"attribute": "x", "op": "between", "value": [1, 2]})", false},
      {R"({"attribute": "x", "op": "in", "value": ["a"]})", false},
      {R"({"attribute": "x", "op": "not_in", "value": ["a"]})", true},
      {R"({"attribute": "x", "op": "matches", "value": ".*"})", false},
      {R"({"attribute": "x", "op": "before", "value": "2030-01-01"})", false},
      {R"({"attribute": "x", "op": "after", "value": "2000-01-01"})", false},
      {R"({"attribute": "x", "op": "within_last", "value": {"days": 1}})", false},
      {R"({"attribute": "x", "op": "not_within_last", "value": {"days": 1}})", true},
      {R"({"attribute": "x", "op": "within_next", "value": {"days": 1}})", false},
  };
  for (const char* value : {"absent", "null"}) {
    customer_.attributes.erase("x");
    if (std::string_view(value) == "null") Set("x", "null");
    for (const auto& [condition, expected] : kCases) {
      EXPECT_EQ(Match(condition), expected) << value << ": " << condition;
      EXPECT_EQ(Flip(condition), std::nullopt) << condition;
    }
  }
}

TEST_F(ConditionTest, WrongTypeValuesNeverMatchAndNeverCrash) {
  const char* kConditions[] = {
      R"({"attribute": "x", "op": "eq", "value": "a"})",
      R"({"attribute": "x", "op": "eq", "value": 1})",
      R"({"attribute": "x", "op": "contains", "value": "a"})",
      R"({"attribute": "x", "op": "starts_with", "value": "a"})",
      R"({"attribute": "x", "op": "gt", "value": 1})",
      R"({"attribute": "x", "op": "between", "value": ["2020-01-01", "2030-01-01"]})",
      R"({"attribute": "x", "op": "in", "value": ["a", 1]})",
      R"({"attribute": "x", "op": "matches", "value": "."})",
      R"({"attribute": "x", "op": "before", "value": "2030-01-01"})",
      R"({"attribute": "x", "op": "within_last", "value": {"days": 1000}})",
      R"({"attribute": "x", "op": "within_next", "value": {"days": 1000}})",
  };
  for (const char* wrong : {R"({"a": 1})", "[[1], {}]", "true", "false"}) {
    Set("x", wrong);
    for (const char* condition : kConditions) {
      EXPECT_FALSE(Match(condition)) << wrong << " " << condition;
    }
  }
  Set("x", "true");  // negative operators are exact complements
  EXPECT_TRUE(Match(R"({"attribute": "x", "op": "neq", "value": 1})"));
  EXPECT_TRUE(Match(R"({"attribute": "x", "op": "not_within_last", "value": {"days": 1}})"));
}

TEST_F(ConditionTest, TextIsNeitherANumberNorATime) {
  Set("name", R"("b")");

  EXPECT_FALSE(Match(R"({"attribute": "name", "op": "gt", "value": 1})"));
  EXPECT_FALSE(Match(R"({"attribute": "name", "op": "lt", "value": "2026-01-01"})"));
  EXPECT_FALSE(Match(R"({"attribute": "name", "op": "between", "value": [0, 9]})"));
  EXPECT_FALSE(Match(R"({"attribute": "name", "op": "before", "value": "2030-01-01"})"));
  EXPECT_FALSE(Match(R"({"attribute": "name", "op": "within_next", "value": {"days": 9999}})"));
  EXPECT_TRUE(Match(R"({"attribute": "name", "op": "not_within_last", "value": {"days": 1}})"));
}

// --- built-in attributes ------------------------------------------------------------------------

TEST_F(ConditionTest, BuiltInAttributesReadFromWhereverTheStoreKeepsThem) {
  customer_.usid = "cus_1";
  customer_.user_id = "u-1";
  customer_.email = "a@example.com";
  customer_.anonymous_ids = {"anon-1"};
  customer_.created_at = T("2026-06-15T11:00:00Z");
  customer_.added_via = "api";
  customer_.tags = {"VIP"};
  Set("first_name", R"("Ada")");

  EXPECT_TRUE(Match(R"({"attribute": "usid", "op": "eq", "value": "cus_1"})"));
  EXPECT_TRUE(Match(R"({"attribute": "user_id", "op": "eq", "value": "u-1"})"));
  EXPECT_TRUE(Match(R"({"attribute": "contact_type", "op": "eq", "value": "user"})"));
  EXPECT_TRUE(Match(R"({"attribute": "anonymous_ids", "op": "contains", "value": "anon-1"})"));
  EXPECT_TRUE(Match(R"({"attribute": "created_at", "op": "within_last", "value": {"hours": 2}})"));
  EXPECT_TRUE(Match(R"({"attribute": "added_via", "op": "eq", "value": "api"})"));
  EXPECT_TRUE(Match(R"({"attribute": "tags", "op": "contains", "value": "VIP"})"));
  EXPECT_TRUE(Match(R"({"attribute": "first_name", "op": "eq", "value": "Ada"})"));
  EXPECT_EQ(CustomerAttribute(customer_, "phone"), json::value(nullptr));
  customer_.user_id.reset();
  EXPECT_TRUE(Match(R"({"attribute": "contact_type", "op": "eq", "value": "lead"})"));
}

// --- events -------------------------------------------------------------------------------------

TEST_F(ConditionTest, EventPerformedAndNotPerformed) {
  const char* kPerformed = R"({"event": "purchase"})";
  const char* kNotPerformed = R"({"event": "purchase", "count": {"op": "eq", "value": 0}})";

  EXPECT_FALSE(Match(kPerformed));
  EXPECT_TRUE(Match(kNotPerformed));
  AddEvent("Purchase", now_ - hours(1));  // names are exact
  EXPECT_FALSE(Match(kPerformed));
  AddEvent("purchase", now_ - days(400));
  EXPECT_TRUE(Match(kPerformed));
  EXPECT_FALSE(Match(kNotPerformed));
  EXPECT_EQ(Flip(kPerformed), std::nullopt);
}

TEST_F(ConditionTest, EventPropertyFilters) {
  AddEvent("purchase", now_ - hours(1),
           R"({"amount": 40, "item": {"sku": "A-1"}, "coupon": null})");
  AddEvent("purchase", now_ - hours(2), R"({"amount": "75", "item.sku": "B-2"})");

  EXPECT_TRUE(Match(
      R"({"event": "purchase", "where": [{"property": "amount", "op": "gt", "value": 50}]})"));
  EXPECT_FALSE(Match(
      R"({"event": "purchase", "where": [{"property": "amount", "op": "gt", "value": 80}]})"));
  EXPECT_TRUE(Match(
      R"({"event": "purchase", "where": [{"property": "item.sku", "op": "eq", "value": "A-1"}]})"));
  EXPECT_TRUE(Match(
      R"({"event": "purchase", "where": [{"property": "item.sku", "op": "eq", "value": "B-2"}]})"));
  EXPECT_FALSE(
      Match(R"({"event": "purchase", "where": [{"property": "coupon", "op": "exists"}]})"));
  EXPECT_TRUE(Match(R"({"event": "purchase", "where": [
                          {"property": "amount", "op": "lt", "value": 50},
                          {"property": "item.sku", "op": "starts_with", "value": "A"}]})"));
  EXPECT_FALSE(Match(R"({"event": "purchase", "where": [
                           {"property": "amount", "op": "gt", "value": 50},
                           {"property": "item.sku", "op": "starts_with", "value": "A"}]})"));
}

TEST_F(ConditionTest, EventCountsInAWindow) {
  AddEvent("purchase", now_ - days(29));
  AddEvent("purchase", now_ - days(10));
  AddEvent("purchase", now_ - days(40));
  const char* kTwice = R"({"event": "purchase", "count": {"op": "gte", "value": 2},
                           "within_last": {"days": 30}})";

  EXPECT_TRUE(Match(kTwice));
  EXPECT_TRUE(Match(R"({"event": "purchase", "count": {"op": "eq", "value": 3}})"));
  EXPECT_TRUE(Match(
      R"({"event": "purchase", "count": {"op": "lte", "value": 2}, "within_last": {"days": 30}})"));
  EXPECT_FALSE(Match(
      R"({"event": "purchase", "count": {"op": "gt", "value": 2}, "within_last": {"days": 30}})"));
  EXPECT_TRUE(Match(
      R"({"event": "purchase", "count": {"op": "lt", "value": 3}, "within_last": {"days": 30}})"));
  // The count drops below 2 when the 29-day-old purchase turns 30 days old.
  EXPECT_EQ(Flip(kTwice), now_ + days(1));
  EXPECT_FALSE(MatchAt(kTwice, now_ + days(1)));
}

TEST_F(ConditionTest, LastQualifyingPurchaseLeavesTheWindow) {
  AddEvent("purchase", T("2026-05-20T08:00:00Z"), R"({"amount": 60})");
  AddEvent("purchase", T("2026-06-10T08:00:00Z"), R"({"amount": 10})");
  const char* kBuyer = R"({"event": "purchase", "within_last": {"days": 30},
                           "where": [{"property": "amount", "op": "gt", "value": 50}]})";

  EXPECT_TRUE(Match(kBuyer));
  EXPECT_EQ(Flip(kBuyer), T("2026-06-19T08:00:00Z"));
}

TEST_F(ConditionTest, NotPerformedInAWindowFlipsWhenTheEventAgesOut) {
  AddEvent("login", now_ - days(6));
  const char* kDormant = R"({"event": "login", "count": {"op": "eq", "value": 0},
                             "within_last": {"days": 7}})";

  EXPECT_FALSE(Match(kDormant));
  EXPECT_EQ(Flip(kDormant), now_ + days(1));
}

TEST_F(ConditionTest, EventBetweenTwoTimes) {
  AddEvent("webinar", T("2026-04-30T23:30:00Z"));
  const char* kApril = R"({"event": "webinar", "between": ["2026-04-01", "2026-04-30"]})";

  EXPECT_TRUE(Match(kApril));
  tz_ = date::locate_zone("Europe/Paris");  // 01:30 on May 1 in Paris
  EXPECT_FALSE(Match(kApril));
  EXPECT_TRUE(Match(
      R"({"event": "webinar", "between": ["2026-04-30T00:00:00Z", "2026-04-30T23:30:00Z"]})"));
  EXPECT_EQ(Flip(kApril), std::nullopt);
}

TEST_F(ConditionTest, EventPropertyWithinLastMovesWithTime) {
  AddEvent("trial_started", now_ - days(30), R"({"ends_at": "2026-06-16T00:00:00Z"})");
  const char* kEndingSoon = R"({"event": "trial_started",
      "where": [{"property": "ends_at", "op": "within_next", "value": {"hours": 24}}]})";

  EXPECT_TRUE(Match(kEndingSoon));
  EXPECT_EQ(Flip(kEndingSoon), T("2026-06-16T00:00:00Z"));
}

// --- tags, companies, segments, composition ---------------------------------------------------

TEST_F(ConditionTest, TagsAreExact) {
  customer_.tags = {"VIP", "beta"};

  EXPECT_TRUE(Match(R"({"tag": "VIP"})"));
  EXPECT_FALSE(Match(R"({"tag": "vip"})"));
}

TEST_F(ConditionTest, CompanyMembershipAndAttributes) {
  store::Company acme;
  acme.id = "acme";
  acme.name = "Acme";
  acme.attributes = J(R"({"tier": "free", "renews_at": "2026-06-20T00:00:00Z"})").as_object();
  store::Company globex;
  globex.id = "globex";
  globex.attributes = J(R"({"tier": "enterprise"})").as_object();
  const char* kFree = R"({"company": {"attribute": "tier", "op": "eq", "value": "free"}})";

  EXPECT_FALSE(Match(R"({"company": "acme"})"));
  EXPECT_FALSE(Match(kFree));
  EXPECT_FALSE(Match(R"({"company": {"attribute": "tier", "op": "neq", "value": "free"}})"));
  companies_ = {acme, globex};
  EXPECT_TRUE(Match(R"({"company": "acme"})"));
  EXPECT_TRUE(Match(kFree));
  EXPECT_TRUE(Match(R"({"company": {"attribute": "tier", "op": "eq", "value": "enterprise"}})"));
  EXPECT_FALSE(
      Match(R"({"not": {"company": {"attribute": "tier", "op": "eq", "value": "free"}}})"));
  EXPECT_TRUE(Match(R"({"company": {"attribute": "name", "op": "eq", "value": "Acme"}})"));
  EXPECT_EQ(
      Flip(R"({"company": {"attribute": "renews_at", "op": "within_next", "value": {"days": 2}}})"),
      T("2026-06-18T00:00:00Z"));
}

TEST_F(ConditionTest, SegmentMembershipAsksTheCallback) {
  segments_ = {"seg_pro"};

  EXPECT_TRUE(Match(R"({"segment": "seg_pro"})"));
  EXPECT_FALSE(Match(R"({"segment": "seg_free"})"));
  CustomerView no_callback = View();
  no_callback.in_segment = nullptr;
  EXPECT_FALSE(Matches(MustParse(R"({"segment": "seg_pro"})"), no_callback, now_));
}

TEST_F(ConditionTest, AllAnyNot) {
  Set("plan", R"("pro")");
  customer_.tags = {"VIP"};

  EXPECT_TRUE(
      Match(R"({"all": [{"tag": "VIP"}, {"attribute": "plan", "op": "eq", "value": "pro"}]})"));
  EXPECT_FALSE(Match(R"({"all": [{"tag": "VIP"}, {"tag": "beta"}]})"));
  EXPECT_TRUE(Match(R"({"any": [{"tag": "beta"}, {"tag": "VIP"}]})"));
  EXPECT_FALSE(Match(R"({"any": [{"tag": "beta"}, {"not": {"tag": "VIP"}}]})"));
  EXPECT_TRUE(Match(R"({"not": {"not": {"tag": "VIP"}}})"));
}

TEST_F(ConditionTest, SpecExampleParsesAndEvaluates) {
  Set("plan", R"("pro")");
  Set("joined_date", R"("2026-06-12T00:00:00Z")");
  AddEvent("purchase", now_ - days(3), R"({"amount": 60})");
  AddEvent("purchase", now_ - days(20), R"({"amount": 70})");
  segments_ = {"seg_x"};
  const char* kSpec = R"({"all": [
    {"attribute": "plan", "op": "eq", "value": "pro"},
    {"attribute": "joined_date", "op": "within_last", "value": {"days": 7}},
    {"event": "purchase", "where": [{"property": "amount", "op": "gt", "value": 50}],
     "count": {"op": "gte", "value": 2}, "within_last": {"days": 30}},
    {"any": [{"tag": "VIP"}, {"segment": "seg_x"}]},
    {"not": {"company": {"attribute": "tier", "op": "eq", "value": "free"}}}
  ]})";

  EXPECT_TRUE(Match(kSpec));
  // joined_date ages out after 7 days (Jun 19) before the older purchase does (Jun 25).
  EXPECT_EQ(Flip(kSpec), T("2026-06-19T00:00:00Z"));
}

TEST_F(ConditionTest, FlipOfACompoundSkipsLeafChangesThatDoNotMatter) {
  Set("a", R"("2026-06-15T11:00:00Z")");
  Set("b", R"("2026-06-15T11:30:00Z")");
  // True while either is within the last 2 hours: a ages out at 13:00 but b holds until 13:30.
  const char* kEither = R"({"any": [
      {"attribute": "a", "op": "within_last", "value": {"hours": 2}},
      {"attribute": "b", "op": "within_last", "value": {"hours": 2}}]})";

  EXPECT_EQ(Flip(kEither), T("2026-06-15T13:30:00Z"));
}

TEST_F(ConditionTest, TimeIndependentConditionsNeverFlip) {
  AddEvent("purchase", now_ - days(1));
  Set("plan", R"("pro")");

  EXPECT_EQ(
      Flip(
          R"({"all": [{"event": "purchase"}, {"attribute": "plan", "op": "eq", "value": "pro"}]})"),
      std::nullopt);
}

// --- dependencies -------------------------------------------------------------------------------

TEST(ConditionDependenciesTest, ListsEverythingTheConditionReads) {
  Condition c = MustParse(R"({"all": [
      {"attribute": "plan", "op": "eq", "value": "pro"},
      {"attribute": "contact_type", "op": "eq", "value": "lead"},
      {"event": "purchase", "where": [{"property": "amount", "op": "gt", "value": 1}]},
      {"not": {"event": "refund"}},
      {"any": [{"tag": "VIP"}, {"segment": "seg_1"}, {"company": "acme"}]},
      {"company": {"attribute": "tier", "op": "eq", "value": "free"}},
      {"attribute": "plan", "op": "neq", "value": "x"}]})");

  const Dependencies& d = c.dependencies();
  EXPECT_EQ(d.attributes, (std::vector<std::string>{"contact_type", "email", "plan", "user_id"}));
  EXPECT_EQ(d.events, (std::vector<std::string>{"purchase", "refund"}));
  EXPECT_EQ(d.tags, std::vector<std::string>{"VIP"});
  EXPECT_EQ(d.segments, std::vector<std::string>{"seg_1"});
  EXPECT_EQ(d.companies, std::vector<std::string>{"acme"});
  EXPECT_EQ(d.company_attributes, std::vector<std::string>{"tier"});
  EXPECT_FALSE(d.reads_time);
  EXPECT_TRUE(MustParse(R"({"event": "x", "within_last": {"days": 1}})").dependencies().reads_time);
  EXPECT_TRUE(MustParse(R"({"not": {"attribute": "t", "op": "within_next", "value": {"days": 1}}})")
                  .dependencies()
                  .reads_time);
}

// --- validation ---------------------------------------------------------------------------------

struct BadCondition {
  const char* json;
  const char* field;
  const char* message_part;
};

TEST(ConditionValidationTest, ErrorsNameTheJsonPath) {
  const BadCondition kCases[] = {
      {R"([])", "conditions", "must be an object"},
      {R"({})", "conditions", "exactly one of"},
      {R"({"tag": "a", "segment": "b"})", "conditions", "found tag and segment"},
      {R"({"all": []})", "conditions.all", "non-empty list"},
      {R"({"all": {"tag": "a"}})", "conditions.all", "non-empty list"},
      {R"({"all": [{"tag": "a"}, {"tag": "b"},
                   {"attribute": "plan", "op": "equals", "value": 1}]})",
       "conditions.all[2].op", "unknown operator"},
      {R"({"attribute": "plan", "value": 1})", "conditions.op", "op is required"},
      {R"({"attribute": "", "op": "eq", "value": 1})", "conditions.attribute", "non-empty string"},
      {R"({"attribute": "plan", "op": "eq"})", "conditions.value", "expected"},
      {R"({"attribute": "plan", "op": "eq", "value": null})", "conditions.value", "expected"},
      {R"({"attribute": "plan", "op": "eq", "value": 1, "extra": 2})", "conditions.extra",
       "unknown key"},
      {R"({"attribute": "plan", "op": "exists", "value": 1})", "conditions.value", "no value"},
      {R"({"attribute": "n", "op": "gt", "value": "lots"})", "conditions.value",
       "number or a time"},
      {R"({"attribute": "n", "op": "between", "value": [1]})", "conditions.value", "[low, high]"},
      {R"({"attribute": "n", "op": "between", "value": [5, 1]})", "conditions.value", "low bound"},
      {R"({"attribute": "n", "op": "between", "value": [-5, "2026-01-01"]})", "conditions.value",
       "two numbers or two times"},
      {R"({"attribute": "n", "op": "between", "value": [1, "x"]})", "conditions.value[1]",
       "number or a time"},
      {R"({"attribute": "n", "op": "in", "value": []})", "conditions.value", "list"},
      {R"({"attribute": "n", "op": "in", "value": [1, [2]]})", "conditions.value[1]", "string"},
      {R"({"attribute": "n", "op": "matches", "value": "a("})", "conditions.value",
       "invalid regular expression"},
      {R"({"attribute": "n", "op": "starts_with", "value": 1})", "conditions.value", "a string"},
      {R"({"attribute": "t", "op": "before", "value": "soon"})", "conditions.value", "a time"},
      {R"({"attribute": "t", "op": "within_last", "value": 7})", "conditions.value", "duration"},
      {R"({"attribute": "t", "op": "within_last", "value": {"weeks": 1}})",
       "conditions.value.weeks", "minutes, hours or days"},
      {R"({"attribute": "t", "op": "within_last", "value": {"days": 0}})", "conditions.value.days",
       "whole number"},
      {R"({"attribute": "t", "op": "within_last", "value": {"days": 1.5}})",
       "conditions.value.days", "whole number"},
      {R"({"attribute": "t", "op": "within_last", "value": {"days": 1, "hours": 2}})",
       "conditions.value", "duration"},
      {R"({"event": 5})", "conditions.event", "non-empty string"},
      {R"({"event": "e", "where": [{"property": "amount", "op": "gt", "value": "x"}]})",
       "conditions.where[0].value", "number or a time"},
      {R"({"event": "e", "where": [{"op": "exists"}]})", "conditions.where[0].property",
       "non-empty string"},
      {R"({"event": "e", "where": {"property": "a"}})", "conditions.where", "list"},
      {R"({"event": "e", "count": {"op": "ne", "value": 1}})", "conditions.count.op", "gte"},
      {R"({"event": "e", "count": {"op": "gte", "value": -1}})", "conditions.count.value",
       "whole number"},
      {R"({"event": "e", "count": {"op": "lt", "value": 0}})", "conditions.count.value",
       "never match"},
      {R"({"event": "e", "within_last": {"days": 1}, "between": ["2026-01-01", "2026-02-01"]})",
       "conditions.between", "not both"},
      {R"({"event": "e", "between": ["2026-01-01", "later"]})", "conditions.between[1]", "time"},
      {R"({"event": "e", "between": ["2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"]})",
       "conditions.between", "start is after the end"},
      {R"({"event": "e", "within_last": {"years": 1}})", "conditions.within_last.years", "unit"},
      {R"({"not": [{"tag": "a"}]})", "conditions.not", "must be an object"},
      {R"({"any": [{"not": {"company": {"attribute": "tier", "op": "eq"}}}]})",
       "conditions.any[0].not.company.value", "expected"},
      {R"({"company": {"id": "acme"}})", "conditions.company.id", "unknown key"},
      {R"({"company": ""})", "conditions.company", "non-empty string"},
      {R"({"tag": "a", "op": "eq"})", "conditions.op", "unknown key"},
      {R"({"any": [{"tag": "a"}], "name": "x"})", "conditions.name", "unknown key"},
  };
  for (const auto& c : kCases) {
    Result<Condition> parsed = ParseCondition(J(c.json));

    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_TRUE(parsed.status().IsInvalidArgument()) << c.json;
    EXPECT_EQ(parsed.status().field(), c.field) << c.json << ": " << parsed.status().message();
    EXPECT_NE(parsed.status().message().find(c.message_part), std::string::npos)
        << c.json << ": " << parsed.status().message();
  }
}

TEST(ConditionValidationTest, PathPrefixIsTheCallersName) {
  Result<Condition> parsed = ParseCondition(J(R"({"not": {"tag": 1}})"), "entry.filter");

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().field(), "entry.filter.not.tag");
}

TEST(ConditionValidationTest, RejectsDeepNesting) {
  std::string deep = R"({"tag": "a"})";
  for (int i = 0; i < 20; ++i) deep = R"({"not": )" + deep + "}";

  Result<Condition> parsed = ParseCondition(J(deep));

  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("nest"), std::string::npos);
}

// --- NextFlipTime against brute force
// -------------------------------------------------------------

// Random conditions and customers whose times all sit on whole minutes, so checking Matches()
// minute by minute sees every change. The check: the flips NextFlipTime() chains through are
// exactly the minutes at which Matches() changes.
class RandomConditions {
 public:
  explicit RandomConditions(uint64_t seed) : rng_(seed) {}

  std::string Condition(int depth) {
    int pick = Uniform(0, depth > 0 ? 9 : 6);
    if (pick <= 2) return Attribute();
    if (pick <= 5) return Event();
    if (pick == 6) return Uniform(0, 1) ? R"({"tag": "t"})" : Company();
    if (pick == 7) return R"({"not": )" + Condition(depth - 1) + "}";
    std::string out = pick == 8 ? R"({"all": [)" : R"({"any": [)";
    int n = Uniform(1, 3);
    for (int i = 0; i < n; ++i) out += (i ? ", " : "") + Condition(depth - 1);
    return out + "]}";
  }

  // A time within two days of `now`, on a whole minute, as JSON in one of the stored forms.
  std::string TimeValue(SystemTime now) {
    SystemTime t = Minute(now);
    switch (Uniform(0, 5)) {
      case 0:
        return std::to_string(ToEpochMillis(t) / 1000);
      case 1:
        return std::to_string(ToEpochMillis(t));
      case 2:
        return R"("not a time")";
      default:
        return "\"" + FormatIsoTime(t) + "\"";
    }
  }

  SystemTime Minute(SystemTime now) { return now + minutes(Uniform(-2 * 24 * 60, 2 * 24 * 60)); }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  std::string Window() {
    const char* units[] = {"minutes", "hours", "days"};
    int unit = Uniform(0, 2);
    int n = unit == 0 ? Uniform(1, 600) : unit == 1 ? Uniform(1, 30) : Uniform(1, 2);
    return std::string(R"({")") + units[unit] + R"(": )" + std::to_string(n) + "}";
  }

  std::string RelativeOp() {
    const char* ops[] = {"within_last", "not_within_last", "within_next"};
    return ops[Uniform(0, 2)];
  }

  std::string Attribute() {
    std::string name = Uniform(0, 1) ? "a" : "b";
    if (Uniform(0, 4) == 0) {
      return R"({"attribute": ")" + name + R"(", "op": "exists"})";
    }
    return R"({"attribute": ")" + name + R"(", "op": ")" + RelativeOp() + R"(", "value": )" +
           Window() + "}";
  }

  std::string Event() {
    std::string out = R"({"event": ")" + std::string(Uniform(0, 1) ? "e" : "f") + "\"";
    if (Uniform(0, 3) > 0) out += R"(, "within_last": )" + Window();
    if (Uniform(0, 1)) {
      const char* ops[] = {"gte", "lte", "eq", "gt", "lt"};
      int op = Uniform(0, 4);
      int value = Uniform(op == 4 ? 1 : 0, 3);
      out += std::string(R"(, "count": {"op": ")") + ops[op] + R"(", "value": )" +
             std::to_string(value) + "}";
    }
    switch (Uniform(0, 3)) {
      case 0:
        out += R"(, "where": [{"property": "v", "op": "gt", "value": 2}])";
        break;
      case 1:
        out += R"(, "where": [{"property": "at", "op": ")" + RelativeOp() + R"(", "value": )" +
               Window() + "}]";
        break;
      default:
        break;
    }
    return out + "}";
  }

  std::string Company() {
    return R"({"company": {"attribute": "renews", "op": ")" + RelativeOp() + R"(", "value": )" +
           Window() + "}}";
  }

  std::mt19937_64 rng_;
};

uint64_t BaseSeed() {
  if (const char* s = std::getenv("XOAL_SEGMENTS_SEED")) return std::strtoull(s, nullptr, 10);
  return 20261204;
}

TEST(NextFlipTimeRandomTest, MatchesBruteForceMinuteByMinute) {
  const SystemTime now = T("2026-06-15T12:00:00Z");
  const minutes kHorizon = days(3);
  const int kCases = 1000;
  const uint64_t base = BaseSeed();
  int flips_checked = 0;

  for (int i = 0; i < kCases; ++i) {
    uint64_t seed = base + static_cast<uint64_t>(i);
    RandomConditions gen(seed);
    std::string text = gen.Condition(3);
    Result<Condition> condition = ParseCondition(J(text));
    ASSERT_TRUE(condition.ok()) << text << ": " << condition.status().message();

    store::Customer customer;
    for (const char* name : {"a", "b"}) {
      if (gen.Uniform(0, 4) > 0) customer.attributes[name] = J(gen.TimeValue(now));
    }
    if (gen.Uniform(0, 1)) customer.tags = {"t"};
    std::vector<store::Company> companies(gen.Uniform(0, 2));
    for (auto& c : companies) c.attributes["renews"] = J(gen.TimeValue(now));
    std::vector<store::Event> events(gen.Uniform(0, 6));
    for (auto& e : events) {
      e.name = gen.Uniform(0, 1) ? "e" : "f";
      e.timestamp = gen.Minute(now);
      e.properties["v"] = gen.Uniform(0, 5);
      e.properties["at"] = J(gen.TimeValue(now));
    }
    CustomerView view{&customer, companies, events, nullptr, nullptr};

    SCOPED_TRACE(::testing::Message() << "seed=" << seed << " (rerun with XOAL_SEGMENTS_SEED="
                                      << seed << ") condition=" << text);
    std::optional<SystemTime> flip = NextFlipTime(*condition, view, now);
    bool value = Matches(*condition, view, now);
    for (SystemTime t = now + minutes(1); t <= now + kHorizon; t += minutes(1)) {
      bool at = Matches(*condition, view, t);
      if (flip && t == *flip) {
        ASSERT_NE(at, value) << "no flip at the predicted " << FormatIsoTime(t);
        ++flips_checked;
        value = at;
        flip = NextFlipTime(*condition, view, t);
        ASSERT_TRUE(!flip || *flip > t);
        continue;
      }
      ASSERT_EQ(at, value) << "unpredicted flip at " << FormatIsoTime(t) << "; predicted "
                           << (flip ? FormatIsoTime(*flip) : "none");
      ASSERT_TRUE(!flip || *flip > t) << "predicted flip off the minute grid";
      // Changes happen only on whole minutes here, so any instant between two steps agrees.
      ASSERT_EQ(Matches(*condition, view, t - std::chrono::seconds(30)), value);
    }
  }
  // Guards the generator: most cases must move with time for the test to mean anything.
  EXPECT_GT(flips_checked, kCases / 4);
}

// Evaluation may leave out events older than EventsSince: it must be the oldest timestamp that
// any event condition of the tree can still count, and nothing when one counts every age.
TEST(EventsSinceTest, IsTheOldestTimestampAnyEventConditionCanCount) {
  SystemTime now = T("2026-03-10T12:00:00Z");
  auto since = [&](std::string_view text) {
    return EventsSince(MustParse(text).dependencies(), now);
  };
  EXPECT_EQ(since(R"({"attribute": "plan", "op": "eq", "value": "pro"})"), std::nullopt);
  EXPECT_EQ(since(R"({"event": "order"})"), std::nullopt);
  EXPECT_EQ(since(R"({"event": "order", "within_last": {"days": 7}})"), now - days(7));
  EXPECT_EQ(since(R"({"any": [{"event": "order", "within_last": {"days": 7}},
                               {"not": {"event": "login", "within_last": {"hours": 30}}}]})"),
            now - days(7));
  EXPECT_EQ(since(R"({"all": [{"event": "order", "within_last": {"days": 7}},
                               {"event": "login", "count": {"op": "eq", "value": 2}}]})"),
            std::nullopt);
  EXPECT_EQ(since(R"({"event": "order",
                      "between": ["2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z"]})"),
            T("2026-01-05T10:00:00Z"));
  // A calendar day may start up to 14 hours before its UTC midnight: a day earlier is safe.
  EXPECT_EQ(since(R"({"event": "order", "between": ["2026-01-05", "2026-02-01"]})"),
            T("2026-01-04T00:00:00Z"));
  EXPECT_EQ(
      since(
          R"({"any": [{"event": "order", "between": ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]},
                               {"event": "order", "within_last": {"days": 30}}]})"),
      now - days(30));
}

}  // namespace
}  // namespace xoal::segments
