// The Customers API (docs/api.md, Customers): create/upsert, lookup, get, patch, delete, lists,
// derived fields and input validation.
#include <algorithm>
#include <regex>
#include <set>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

const std::regex kIsoMillisUtc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

class CustomersTest : public XoalTest {
 protected:
  HttpResponse Get(const std::string& usid) {
    return http_->Get("/api/v1/customers/" + UrlEncode(usid), key());
  }
  HttpResponse Lookup(std::string_view by, std::string_view value) {
    return http_->Get("/api/v1/customers/lookup?" + std::string(by) + "=" + UrlEncode(value),
                      key());
  }
};

TEST_F(CustomersTest, CreateAnswers201WithDocumentedShape) {
  json::object body{{"user_id", "u-1"},
                    {"email", "Ada@Example.com"},
                    {"anonymous_id", "anon-1"},
                    {"first_name", "Ada"},
                    {"timezone", "Europe/London"},
                    {"tags", json::array{"VIP"}},
                    {"attributes", json::object{{"plan", "pro"}}}};

  HttpResponse r = http_->Post("/api/v1/customers", body, key());

  ASSERT_TRUE(HasStatus(r, 201));
  EXPECT_EQ(Str(r.json, "usid").rfind("cus_", 0), 0u) << r.body;
  EXPECT_EQ(Str(r.json, "user_id"), "u-1");
  EXPECT_EQ(Str(r.json, "email"), "ada@example.com") << "emails are stored lower-cased";
  EXPECT_EQ(Strings(r.json, "anonymous_ids"), std::vector<std::string>{"anon-1"});
  EXPECT_EQ(Str(r.json, "contact_type"), "user");
  EXPECT_EQ(Str(r.json, "first_name"), "Ada");
  EXPECT_TRUE(IsNullMember(r.json, "last_name")) << r.body;
  EXPECT_TRUE(IsNullMember(r.json, "phone")) << r.body;
  EXPECT_TRUE(IsNullMember(r.json, "language")) << r.body;
  EXPECT_EQ(Str(r.json, "timezone"), "Europe/London");
  EXPECT_TRUE(std::regex_match(Str(r.json, "created_at"), kIsoMillisUtc)) << r.body;
  EXPECT_TRUE(std::regex_match(Str(r.json, "updated_at"), kIsoMillisUtc)) << r.body;
  EXPECT_TRUE(IsNullMember(r.json, "joined_date")) << r.body;
  EXPECT_TRUE(IsNullMember(r.json, "last_active")) << r.body;
  EXPECT_EQ(Str(r.json, "added_via"), "api");
  EXPECT_TRUE(IsNullMember(r.json, "email_subscribed")) << r.body;
  EXPECT_TRUE(IsNullMember(r.json, "sms_subscribed")) << r.body;
  EXPECT_EQ(Strings(r.json, "tags"), std::vector<std::string>{"VIP"});
  EXPECT_EQ(JsonAt(r.json, "/attributes/plan"), "\"pro\"");
  // GET answers the same profile.
  HttpResponse got = Get(Str(r.json, "usid"));
  ASSERT_TRUE(HasStatus(got, 200));
  EXPECT_EQ(got.json, r.json);
}

TEST_F(CustomersTest, PostWithKnownUserIdUpdatesAndAnswers200) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}, {"email", "ada@example.com"}});

  HttpResponse r = http_->Post("/api/v1/customers",
                               json::object{{"user_id", "u-1"}, {"first_name", "Ada"}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "usid"), usid);
  EXPECT_EQ(Str(r.json, "first_name"), "Ada");
  EXPECT_EQ(Str(r.json, "email"), "ada@example.com") << "an upsert keeps what it does not name";
  HttpResponse list = http_->Get("/api/v1/customers", key());
  EXPECT_EQ(DataOf(list).size(), 1u) << list.body;
}

TEST_F(CustomersTest, PostWithKnownEmailInOtherCaseUpdatesAndAnswers200) {
  std::string usid = CreateCustomer({{"email", "lead@example.com"}});

  HttpResponse r =
      http_->Post("/api/v1/customers",
                  json::object{{"email", "LEAD@Example.COM"}, {"last_name", "Lovelace"}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "usid"), usid);
  EXPECT_EQ(Str(r.json, "last_name"), "Lovelace");
}

TEST_F(CustomersTest, PostMatchedByEmailAddsUserIdAndBecomesUser) {
  std::string usid = CreateCustomer({{"email", "lead@example.com"}});

  HttpResponse r = http_->Post(
      "/api/v1/customers", json::object{{"user_id", "u-9"}, {"email", "lead@example.com"}}, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "usid"), usid);
  EXPECT_EQ(Str(r.json, "user_id"), "u-9");
  EXPECT_EQ(Str(r.json, "contact_type"), "user");
}

TEST_F(CustomersTest, ContactTypeIsDerivedFromIdentifiers) {
  HttpResponse anon =
      http_->Post("/api/v1/customers", json::object{{"anonymous_id", "anon-7"}}, key());
  HttpResponse lead =
      http_->Post("/api/v1/customers", json::object{{"email", "lead@example.com"}}, key());
  HttpResponse user = http_->Post("/api/v1/customers", json::object{{"user_id", "u-7"}}, key());

  ASSERT_TRUE(HasStatus(anon, 201));
  ASSERT_TRUE(HasStatus(lead, 201));
  ASSERT_TRUE(HasStatus(user, 201));
  EXPECT_EQ(Str(anon.json, "contact_type"), "unidentified");
  EXPECT_EQ(Str(lead.json, "contact_type"), "lead");
  EXPECT_EQ(Str(user.json, "contact_type"), "user");
  // The derivation follows changes.
  HttpResponse patched = http_->Patch("/api/v1/customers/" + Str(anon.json, "usid"),
                                      json::object{{"email", "was-anon@example.com"}}, key());
  ASSERT_TRUE(HasStatus(patched, 200));
  EXPECT_EQ(Str(patched.json, "contact_type"), "lead");
  patched = http_->Patch("/api/v1/customers/" + Str(lead.json, "usid"),
                         json::object{{"user_id", "u-8"}}, key());
  ASSERT_TRUE(HasStatus(patched, 200));
  EXPECT_EQ(Str(patched.json, "contact_type"), "user");
}

TEST_F(CustomersTest, LookupFindsByEachIdentifier) {
  std::string usid = CreateCustomer(
      {{"user_id", "u-1"}, {"email", "ada@example.com"}, {"anonymous_id", "anon-1"}});
  ASSERT_FALSE(usid.empty());

  for (auto [by, value] : {std::pair{"user_id", "u-1"}, std::pair{"email", "ada@example.com"},
                           std::pair{"email", "ADA@example.com"},
                           std::pair{"anonymous_id", "anon-1"}, std::pair{"usid", usid.c_str()}}) {
    HttpResponse r = Lookup(by, value);
    ASSERT_TRUE(HasStatus(r, 200)) << by << "=" << value;
    EXPECT_EQ(Str(r.json, "usid"), usid) << by << "=" << value;
  }
}

TEST_F(CustomersTest, LookupOfUnknownIdentifierIs404) {
  CreateCustomer({{"user_id", "u-1"}});

  EXPECT_TRUE(IsError(Lookup("user_id", "u-2"), 404, "not_found"));
  EXPECT_TRUE(IsError(Lookup("email", "nobody@example.com"), 404, "not_found"));
  EXPECT_TRUE(IsError(Lookup("anonymous_id", "anon-x"), 404, "not_found"));
  EXPECT_TRUE(IsError(Lookup("usid", "cus_doesnotexist"), 404, "not_found"));
}

TEST_F(CustomersTest, UnknownUsidIs404OnEveryCustomerRoute) {
  const std::string base = "/api/v1/customers/cus_doesnotexist";

  EXPECT_TRUE(IsError(http_->Get(base, key()), 404, "not_found"));
  EXPECT_TRUE(
      IsError(http_->Patch(base, json::object{{"first_name", "x"}}, key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base, key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get(base + "/events", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get(base + "/attributes", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(
      http_->Put(base + "/attributes", json::object{{"attributes", json::object{{"a", 1}}}}, key()),
      404, "not_found"));
  EXPECT_TRUE(IsError(http_->Put(base + "/attributes/a", json::object{{"value", 1}}, key()), 404,
                      "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base + "/attributes/a", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Post(base + "/tags", json::object{{"tags", json::array{"x"}}}, key()),
                      404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete(base + "/tags/x", key()), 404, "not_found"));
}

TEST_F(CustomersTest, PatchChangesAndNullClears) {
  std::string usid = CreateCustomer({{"user_id", "u-1"},
                                     {"first_name", "Ada"},
                                     {"phone", "+441234"},
                                     {"attributes", json::object{{"plan", "pro"}, {"seats", 3}}}});

  HttpResponse r =
      http_->Patch("/api/v1/customers/" + usid,
                   json::object{{"first_name", "Grace"},
                                {"phone", nullptr},
                                {"attributes", json::object{{"plan", nullptr}, {"seats", 5}}}},
                   key());

  ASSERT_TRUE(HasStatus(r, 200));
  HttpResponse got = Get(usid);
  for (const json::value* v : {&r.json, &got.json}) {
    EXPECT_EQ(Str(*v, "first_name"), "Grace");
    EXPECT_TRUE(IsNullMember(*v, "phone")) << json::serialize(*v);
    std::string plan = JsonAt(*v, "/attributes/plan");
    EXPECT_TRUE(plan == "<missing>" || plan == "null") << json::serialize(*v);
    EXPECT_EQ(JsonAt(*v, "/attributes/seats"), "5");
    EXPECT_EQ(Str(*v, "user_id"), "u-1");
  }
}

TEST_F(CustomersTest, PatchToIdentifierOwnedByAnotherProfileIs409) {
  std::string first = CreateCustomer({{"user_id", "u-1"}, {"email", "one@example.com"}});
  std::string second = CreateCustomer({{"user_id", "u-2"}, {"email", "two@example.com"}});

  EXPECT_TRUE(
      IsError(http_->Patch("/api/v1/customers/" + second, json::object{{"user_id", "u-1"}}, key()),
              409, "conflict"));
  EXPECT_TRUE(IsError(http_->Patch("/api/v1/customers/" + second,
                                   json::object{{"email", "ONE@example.com"}}, key()),
                      409, "conflict"));

  HttpResponse got = Get(second);
  EXPECT_EQ(Str(got.json, "user_id"), "u-2");
  EXPECT_EQ(Str(got.json, "email"), "two@example.com");
}

TEST_F(CustomersTest, PostWithUserIdAndEmailOfDifferentProfilesIs409) {
  std::string by_user = CreateCustomer({{"user_id", "u-1"}});
  std::string by_email = CreateCustomer({{"email", "lead@example.com"}});
  ASSERT_NE(by_user, by_email);

  HttpResponse r = http_->Post(
      "/api/v1/customers",
      json::object{{"user_id", "u-1"}, {"email", "lead@example.com"}, {"first_name", "X"}}, key());

  EXPECT_TRUE(IsError(r, 409, "conflict"));
  EXPECT_TRUE(IsNullMember(Get(by_user).json, "first_name"));
  EXPECT_TRUE(IsNullMember(Get(by_user).json, "email"));
  EXPECT_TRUE(IsNullMember(Get(by_email).json, "first_name"));
}

TEST_F(CustomersTest, DeleteRemovesProfile) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}, {"email", "ada@example.com"}});

  HttpResponse r = http_->Delete("/api/v1/customers/" + usid, key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/deleted"), "true");
  EXPECT_TRUE(IsError(Get(usid), 404, "not_found"));
  EXPECT_TRUE(IsError(Lookup("user_id", "u-1"), 404, "not_found"));
  EXPECT_TRUE(IsError(Lookup("email", "ada@example.com"), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/customers/" + usid, key()), 404, "not_found"));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/customers", key())).empty());
  // The identifiers are free again: a new POST creates a new profile.
  HttpResponse again = http_->Post("/api/v1/customers", json::object{{"user_id", "u-1"}}, key());
  ASSERT_TRUE(HasStatus(again, 201));
  EXPECT_NE(Str(again.json, "usid"), usid);
}

TEST_F(CustomersTest, ListPagesWithCursorWithoutGapsOrDuplicates) {
  constexpr int kCustomers = 7;
  std::vector<std::string> created;
  for (int i = 0; i < kCustomers; ++i) {
    created.push_back(CreateCustomer({{"user_id", "page-" + std::to_string(i)}}));
  }
  ASSERT_FALSE(HasFailure());

  std::vector<std::string> seen;
  std::string target = "/api/v1/customers?limit=2";
  int pages = 0;
  for (; pages < kCustomers + 2; ++pages) {
    HttpResponse page = http_->Get(target, key());
    ASSERT_TRUE(HasStatus(page, 200)) << "page " << pages;
    EXPECT_LE(DataOf(page).size(), 2u) << page.body;
    for (const std::string& usid : Column(page, "usid")) {
      seen.push_back(usid);
    }
    const json::value* next = Member(page.json, "next_cursor");
    ASSERT_NE(next, nullptr) << "next_cursor must always be present: " << page.body;
    if (next->is_null()) {
      break;
    }
    ASSERT_TRUE(next->is_string()) << page.body;
    target = "/api/v1/customers?limit=2&cursor=" + UrlEncode(next->get_string());
  }

  EXPECT_LT(pages, kCustomers + 2) << "next_cursor never became null";
  EXPECT_EQ(seen, created) << "all customers, each once, oldest first";
}

TEST_F(CustomersTest, ListDefaultAnswersAllWithNullCursor) {
  std::string a = CreateCustomer({{"user_id", "a"}});
  std::string b = CreateCustomer({{"user_id", "b"}});

  HttpResponse r = http_->Get("/api/v1/customers", key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Column(r, "usid"), (std::vector<std::string>{a, b}));
  EXPECT_TRUE(IsNullMember(r.json, "next_cursor")) << r.body;
}

TEST_F(CustomersTest, ListRejectsLimitOutOfRange) {
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers?limit=0", key()), 422, "invalid", "limit"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers?limit=1001", key()), 422, "invalid", "limit"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers?limit=abc", key()), 422, "invalid", "limit"));
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/customers?limit=1000", key()), 200));
}

TEST_F(CustomersTest, ListFiltersByEmailUserIdAndTag) {
  std::string ada = CreateCustomer(
      {{"user_id", "u-ada"}, {"email", "ada@example.com"}, {"tags", json::array{"VIP"}}});
  std::string bob = CreateCustomer(
      {{"user_id", "u-bob"}, {"email", "bob@example.com"}, {"tags", json::array{"VIP", "beta"}}});
  std::string cy = CreateCustomer({{"user_id", "u-cy"}, {"email", "cy@example.com"}});

  EXPECT_EQ(Column(http_->Get("/api/v1/customers?email=bob%40example.com", key()), "usid"),
            std::vector<std::string>{bob});
  EXPECT_EQ(Column(http_->Get("/api/v1/customers?email=BOB%40example.com", key()), "usid"),
            std::vector<std::string>{bob});
  EXPECT_EQ(Column(http_->Get("/api/v1/customers?user_id=u-cy", key()), "usid"),
            std::vector<std::string>{cy});
  EXPECT_EQ(Column(http_->Get("/api/v1/customers?tag=VIP", key()), "usid"),
            (std::vector<std::string>{ada, bob}));
  EXPECT_EQ(Column(http_->Get("/api/v1/customers?tag=beta", key()), "usid"),
            std::vector<std::string>{bob});
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/customers?tag=nope", key())).empty());
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/customers?user_id=u-none", key())).empty());
}

TEST_F(CustomersTest, InvalidTimezoneIs422NamingTimezone) {
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/customers",
                          json::object{{"user_id", "u-1"}, {"timezone", "Mars/Olympus"}}, key()),
              422, "invalid", "timezone"));
  EXPECT_TRUE(IsError(Lookup("user_id", "u-1"), 404, "not_found")) << "nothing was created";

  std::string usid = CreateCustomer({{"user_id", "u-1"}, {"timezone", "Africa/Lagos"}});
  EXPECT_TRUE(IsError(
      http_->Patch("/api/v1/customers/" + usid, json::object{{"timezone", "Not/AZone"}}, key()),
      422, "invalid", "timezone"));
  EXPECT_EQ(Str(Get(usid).json, "timezone"), "Africa/Lagos");
}

TEST_F(CustomersTest, LanguageMustBeOneOfProjectLanguages) {
  ASSERT_TRUE(HasStatus(http_->Patch("/api/v1/project",
                                     json::object{{"languages", json::array{"English", "French"}},
                                                  {"default_language", "English"}},
                                     key()),
                        200));

  HttpResponse ok = http_->Post("/api/v1/customers",
                                json::object{{"user_id", "u-1"}, {"language", "French"}}, key());
  HttpResponse bad = http_->Post("/api/v1/customers",
                                 json::object{{"user_id", "u-2"}, {"language", "German"}}, key());

  ASSERT_TRUE(HasStatus(ok, 201));
  EXPECT_EQ(Str(ok.json, "language"), "French");
  EXPECT_TRUE(IsError(bad, 422, "invalid", "language"));
  EXPECT_TRUE(IsError(http_->Patch("/api/v1/customers/" + Str(ok.json, "usid"),
                                   json::object{{"language", "Klingon"}}, key()),
                      422, "invalid", "language"));
}

TEST_F(CustomersTest, TimesAreAcceptedInEachFormatAndAnsweredAsIsoUtcMillis) {
  // 2024-12-03T10:00:00Z as ISO with offset, epoch seconds and epoch milliseconds.
  std::string usid = CreateCustomer({{"user_id", "u-1"},
                                     {"joined_date", "2024-12-03T11:00:00+01:00"},
                                     {"last_active", 1733220000}});
  HttpResponse got = Get(usid);
  EXPECT_EQ(Str(got.json, "joined_date"), "2024-12-03T10:00:00.000Z");
  EXPECT_EQ(Str(got.json, "last_active"), "2024-12-03T10:00:00.000Z");

  HttpResponse r = http_->Patch(
      "/api/v1/customers/" + usid,
      json::object{{"joined_date", 1733220000123LL}, {"last_active", "2024-12-03T10:00:00"}},
      key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "joined_date"), "2024-12-03T10:00:00.123Z");
  EXPECT_EQ(Str(r.json, "last_active"), "2024-12-03T10:00:00.000Z");
  EXPECT_TRUE(IsError(
      http_->Patch("/api/v1/customers/" + usid, json::object{{"joined_date", "yesterday"}}, key()),
      422, "invalid", "joined_date"));
}

TEST_F(CustomersTest, MalformedJsonIs400) {
  HttpResponse r = http_->SendRaw("POST", "/api/v1/customers", "{\"user_id\": \"u-1\",",
                                  "application/json", key());

  EXPECT_TRUE(IsError(r, 400, "malformed"));
  EXPECT_TRUE(IsError(http_->SendRaw("POST", "/api/v1/customers", "", "application/json", key()),
                      400, "malformed"));
}

TEST_F(CustomersTest, NonObjectBodyIs400) {
  EXPECT_TRUE(IsError(
      http_->Post("/api/v1/customers", json::array{json::object{{"user_id", "u-1"}}}, key()), 400,
      "malformed"));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/customers", json::value("u-1"), key()), 400, "malformed"));
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/customers", key())).empty());
}

TEST_F(CustomersTest, WrongTypesAre422NamingTheField) {
  struct Case {
    json::object body;
    const char* field;
  };
  std::vector<Case> cases = {
      {{{"user_id", "u-1"}, {"email", 5}}, "email"},
      {{{"user_id", true}}, "user_id"},
      {{{"user_id", "u-1"}, {"first_name", json::array{"a"}}}, "first_name"},
      {{{"user_id", "u-1"}, {"tags", "VIP"}}, "tags"},
      {{{"user_id", "u-1"}, {"attributes", json::array{1}}}, "attributes"},
      {{{"user_id", "u-1"}, {"email_subscribed", "maybe"}}, "email_subscribed"},
  };

  for (const Case& c : cases) {
    EXPECT_TRUE(IsError(http_->Post("/api/v1/customers", c.body, key()), 422, "invalid", c.field))
        << json::serialize(c.body);
  }
  EXPECT_TRUE(DataOf(http_->Get("/api/v1/customers", key())).empty());
}

TEST_F(CustomersTest, BodyWithoutIdentifierIs422) {
  HttpResponse r = http_->Post("/api/v1/customers", json::object{{"first_name", "Nobody"}}, key());

  EXPECT_TRUE(IsError(r, 422, "invalid"));
}

TEST_F(CustomersTest, BodyOverOneMebibyteIs413) {
  std::string big(1024 * 1024 + 1024, 'x');
  std::string body = "{\"user_id\": \"u-big\", \"attributes\": {\"blob\": \"" + big + "\"}}";

  HttpResponse r = http_->SendRaw("POST", "/api/v1/customers", body, "application/json", key());

  EXPECT_TRUE(IsError(r, 413, "too_large"));
  // The server still serves (the client reconnects if it closed the connection).
  EXPECT_TRUE(IsError(Lookup("user_id", "u-big"), 404, "not_found"));
}

TEST_F(CustomersTest, BodyJustUnderOneMebibyteIsAccepted) {
  std::string big(1024 * 1024 - 4096, 'x');
  std::string body = "{\"user_id\": \"u-big\", \"attributes\": {\"blob\": \"" + big + "\"}}";

  HttpResponse r = http_->SendRaw("POST", "/api/v1/customers", body, "application/json", key());

  EXPECT_TRUE(HasStatus(r, 201));
}

TEST_F(CustomersTest, WrongContentTypeIs415) {
  std::string body = R"({"user_id": "u-1"})";

  EXPECT_TRUE(IsError(http_->SendRaw("POST", "/api/v1/customers", body, "text/plain", key()), 415,
                      "unsupported_media_type"));
  EXPECT_TRUE(IsError(http_->SendRaw("POST", "/api/v1/customers", body, "", key()), 415,
                      "unsupported_media_type"));
  EXPECT_TRUE(IsError(Lookup("user_id", "u-1"), 404, "not_found"));
  // Parameters on the media type are fine.
  EXPECT_TRUE(HasStatus(
      http_->SendRaw("POST", "/api/v1/customers", body, "application/json; charset=utf-8", key()),
      201));
}

TEST_F(CustomersTest, EventsOfNewCustomerIsEmptyList) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}});

  HttpResponse r = http_->Get("/api/v1/customers/" + usid + "/events", key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_TRUE(DataOf(r).empty()) << r.body;
  EXPECT_TRUE(IsNullMember(r.json, "next_cursor")) << r.body;
}

}  // namespace
}  // namespace xoal::testing
