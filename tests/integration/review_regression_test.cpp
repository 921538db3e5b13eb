// Regression tests for the defects a break-it review found (fixed in f6a22f4): one test per
// finding, each against a real `xoal` over loopback, checking the status and body it answers.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <set>

#include "integration/ingest_fixture.hpp"

namespace xoal::testing {
namespace {

constexpr std::string_view kSegment = "/ingest/v1/segment/event";

// The HMAC-SHA1 of `body` under `secret`, in upper-case hex (docs/api.md, Signatures, shows
// lower case; a sender may use either).
std::string UpperHmacSha1Hex(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex;
  char digits[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(digits, sizeof digits, "%02X", mac[i]);
    hex += digits;
  }
  return hex;
}

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
// Written here so the check does not depend on the JSON parser's own leniency.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char lead = byte(i);
    size_t extra = 0;
    uint32_t cp = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3;
      cp = lead & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) {  // the sequence is cut short
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

class ReviewRegressionTest : public IngestTest {
 protected:
  HttpResponse SendJsonText(std::string_view method, std::string_view path, std::string body,
                            std::string_view bearer) {
    return http_->SendRaw(method, path, std::move(body), "application/json", bearer);
  }
  HttpResponse GetCustomer(const std::string& usid) {
    return http_->Get("/api/v1/customers/" + UrlEncode(usid), key());
  }
  HttpResponse PatchProject(const json::object& patch) {
    return http_->Patch("/api/v1/project", patch, key());
  }
  // Follows `path`'s pages (limit=1) to the end; records a failure on a page that is not 200 or
  // does not hold exactly one item before the last.
  std::vector<std::string> WalkOneByOne(const std::string& path, std::string_view id_key) {
    std::vector<std::string> ids;
    std::string cursor;
    for (int page = 0; page < 200; ++page) {
      std::string target = path + (path.find('?') == std::string::npos ? "?" : "&") + "limit=1";
      if (!cursor.empty()) {
        target += "&cursor=" + UrlEncode(cursor);
      }
      HttpResponse r = http_->Get(target, key());
      if (r.status != 200 || DataOf(r).size() != 1) {
        ADD_FAILURE() << target << ": " << ::testing::PrintToString(r);
        return ids;
      }
      ids.push_back(Str(DataOf(r)[0], id_key));
      if (IsNullMember(r.json, "next_cursor")) {
        return ids;
      }
      cursor = Str(r.json, "next_cursor");
    }
    ADD_FAILURE() << path << " did not end within 200 pages";
    return ids;
  }
  // The ids of the management keys of alpha that are not revoked, oldest first.
  std::vector<std::string> LiveManagementKeyIds() {
    std::vector<std::string> ids;
    HttpResponse r = http_->Get("/api/v1/api-keys", key());
    for (const auto& k : DataOf(r)) {
      if (Str(k, "type") == "management" && IsNullMember(k, "revoked_at")) {
        ids.push_back(Str(k, "id"));
      }
    }
    return ids;
  }
};

TEST_F(ReviewRegressionTest, NonFiniteNumbersAreRejectedAndChangeNothing) {
  std::string usid =
      CreateCustomer({{"user_id", "n1"}, {"attributes", json::object{{"score", 5}}}});
  json::object limit{{"requests_per_second", 100}, {"burst", 200}};
  ASSERT_TRUE(HasStatus(PatchProject({{"ingest_rate_limit", limit}}), 200));
  // The client's serializer cannot write infinity, so these bodies are sent as text.
  std::string batch = R"([{"type":"identify","userId":"n-ok-1","traits":{"plan":"pro"}},)"
                      R"({"type":"identify","userId":"n1","traits":{"score":1e999}},)"
                      R"({"type":"track","userId":"n-ok-2","event":"Clicked"}])";

  HttpResponse customer = SendJsonText("POST", "/api/v1/customers",
                                       R"({"user_id":"n1","attributes":{"score":1e999}})", key());
  HttpResponse project = SendJsonText(
      "PATCH", "/api/v1/project", R"({"ingest_rate_limit":{"requests_per_second":1e999}})", key());
  HttpResponse ingested = SendJsonText("POST", kSegment, batch, ingestion_key());

  EXPECT_TRUE(IsError(customer, 422, "invalid"));
  EXPECT_TRUE(IsError(project, 422, "invalid"));
  EXPECT_TRUE(IsIngestAnswer(ingested, 2, 0, {1}));
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "before restart" : "after restart");
    HttpResponse got = GetCustomer(usid);
    ASSERT_TRUE(HasStatus(got, 200));
    EXPECT_EQ(JsonAt(got.json, "/attributes/score"), "5") << got.body;
    HttpResponse settings = http_->Get("/api/v1/project", key());
    ASSERT_TRUE(HasStatus(settings, 200));
    EXPECT_EQ(JsonAt(settings.json, "/ingest_rate_limit"), json::serialize(limit)) << settings.body;
    EXPECT_NE(UsidOf("user_id", "n-ok-1"), "<none>");
    EXPECT_NE(UsidOf("user_id", "n-ok-2"), "<none>");
    if (round == 0) {
      RestartServer();
    }
  }
}

TEST_F(ReviewRegressionTest, SegmentSecretGuardsWebhooksButNotTheTrackingApi) {
  json::object sources{{"segment", json::object{{"secret", "s3cret"}}}};
  ASSERT_TRUE(HasStatus(PatchProject({{"sources", sources}}), 200));
  std::string body =
      json::serialize(json::object{{"type", "track"}, {"userId", "sig-1"}, {"event", "Signed Up"}});
  auto post_segment = [&](std::optional<std::string> signature) {
    HeaderList headers{{"Content-Type", "application/json"},
                       {"Authorization", "Bearer " + ingestion_key()}};
    if (signature) {
      headers.emplace_back("X-Signature", *signature);
    }
    return http_->Request("POST", kSegment, body, headers);
  };

  HttpResponse tracking = Send("/v1/track", json::object{{"userId", "trk-1"}, {"event", "Opened"}});
  HttpResponse unsigned_webhook = post_segment(std::nullopt);
  HttpResponse upper_signed = post_segment(UpperHmacSha1Hex("s3cret", body));

  EXPECT_TRUE(IsIngestAnswer(tracking, 1, 0));
  EXPECT_TRUE(IsError(unsigned_webhook, 401, "unauthenticated"));
  EXPECT_TRUE(IsIngestAnswer(upper_signed, 1, 0));
  EXPECT_NE(UsidOf("user_id", "trk-1"), "<none>");
  EXPECT_NE(UsidOf("user_id", "sig-1"), "<none>");
}

TEST_F(ReviewRegressionTest, MessageWhoseOnlyIdIsAnInvalidEmailIsRejected) {
  json::object event{{"event", "x"}, {"properties", json::object{{"userEmail", "a b@x.com"}}}};

  HttpResponse r = Send("/ingest/v1/event", event);

  EXPECT_TRUE(IsIngestAnswer(r, 0, 0, {0}));
  HttpResponse list = http_->Get("/api/v1/customers", key());
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_TRUE(DataOf(list).empty()) << list.body;
}

TEST_F(ReviewRegressionTest, ErrorLogExcerptIsValidUtf8WhenCutInsideMultiByteText) {
  // Two messages whose ASCII lead (about 190 bytes with the keys before "note") differs by one
  // byte: the 200-byte cut falls inside a two-byte "é" for one of them.
  json::array batch;
  for (size_t pad : {150u, 151u}) {
    std::string text(pad, 'a');
    for (int i = 0; i < 400; ++i) {
      text += "\xC3\xA9";
    }
    batch.push_back(json::object{{"type", "bogus"}, {"userId", "utf-1"}, {"note", text}});
  }

  HttpResponse r = Send(kSegment, batch);
  HttpResponse log = http_->Get("/api/v1/ingestion/errors", key());

  EXPECT_TRUE(IsIngestAnswer(r, 0, 0, {0, 1}));
  ASSERT_EQ(log.status, 200) << log.body.size() << " bytes";
  boost::system::error_code ec;
  json::value parsed = json::parse(log.body, ec);  // rejects invalid UTF-8 by default
  ASSERT_FALSE(ec) << "the error log is not strict JSON: " << ec.message();
  const json::value* data = Member(parsed, "data");
  ASSERT_TRUE(data != nullptr && data->is_array()) << log.body;
  ASSERT_EQ(data->as_array().size(), 2u) << log.body;
  for (const auto& entry : data->as_array()) {
    std::string excerpt = Str(entry, "excerpt");
    EXPECT_FALSE(excerpt.empty());
    EXPECT_LE(excerpt.size(), 200u);
    EXPECT_TRUE(IsValidUtf8(excerpt)) << excerpt;
  }
}

TEST_F(ReviewRegressionTest, ApiKeysAndFieldsListsHonourLimitAndCursor) {
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/api-keys",
                                    json::object{{"name", "third"}, {"type", "ingestion"}}, key()),
                        201));

  for (std::string path : {"/api/v1/api-keys", "/api/v1/fields?entity=customer"}) {
    SCOPED_TRACE(path);
    std::string id_key = path.starts_with("/api/v1/api-keys") ? "id" : "name";
    std::vector<std::string> all = Column(http_->Get(path, key()), id_key);
    ASSERT_GE(all.size(), 3u);

    std::vector<std::string> walked = WalkOneByOne(path, id_key);

    EXPECT_EQ(walked, all) << "one by one, the pages hold the whole list once, in order";
    EXPECT_EQ(std::set<std::string>(walked.begin(), walked.end()).size(), walked.size());
    std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    for (std::string bad : {"limit=0", "limit=-1", "limit=abc", "limit=100000", "cursor=nope"}) {
      EXPECT_TRUE(IsError(http_->Get(path + sep + bad, key()), 422, "invalid")) << bad;
    }
  }
}

TEST_F(ReviewRegressionTest, PatchTakingAnotherProfilesAnonymousIdIs409) {
  std::string a = CreateCustomer({{"user_id", "pa"}, {"anonymous_id", "aaa1"}});
  std::string b = CreateCustomer({{"user_id", "pb"}});

  HttpResponse r = http_->Patch("/api/v1/customers/" + UrlEncode(b),
                                json::object{{"anonymous_id", "aaa1"}}, key());

  EXPECT_TRUE(IsError(r, 409, "conflict", "anonymous_id"));
  EXPECT_EQ(UsidOf("anonymous_id", "aaa1"), a);
  HttpResponse got_a = GetCustomer(a);
  EXPECT_EQ(Strings(got_a.json, "anonymous_ids"), std::vector<std::string>{"aaa1"}) << got_a.body;
  HttpResponse got_b = GetCustomer(b);
  EXPECT_TRUE(Strings(got_b.json, "anonymous_ids").empty()) << got_b.body;
}

TEST_F(ReviewRegressionTest, DecimalGivenForAStringFieldIsStoredInShortForm) {
  HttpResponse r = http_->Post("/api/v1/customers",
                               json::object{{"user_id", "n2"}, {"first_name", 19.99}}, key());

  ASSERT_TRUE(HasStatus(r, 201));
  EXPECT_EQ(JsonAt(r.json, "/first_name"), "\"19.99\"");
  EXPECT_EQ(JsonAt(GetCustomer(Str(r.json, "usid")).json, "/first_name"), "\"19.99\"");
}

TEST_F(ReviewRegressionTest, CsvImportSkipsUtf8ByteOrderMark) {
  std::string csv = "\xEF\xBB\xBFuser_id,email\nbom-1,bom1@example.com\nbom-2,bom2@example.com\n";

  HttpResponse r = http_->SendRaw("POST", "/api/v1/customers/import", csv, "text/csv", key());

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/created"), "2");
  EXPECT_EQ(JsonAt(r.json, "/rejected"), "[]");
  HttpResponse found = Lookup("user_id", "bom-1");
  ASSERT_TRUE(HasStatus(found, 200));
  EXPECT_EQ(Str(found.json, "email"), "bom1@example.com");
  EXPECT_NE(UsidOf("user_id", "bom-2"), "<none>");
}

TEST_F(ReviewRegressionTest, TrackingApiPathDecidesTypeAndTakesOneObject) {
  json::object identify{{"type", "track"},
                        {"userId", "path-1"},
                        {"event", "Ignored"},
                        {"traits", json::object{{"plan", "pro"}}}};

  HttpResponse r = Send("/v1/identify", identify);
  HttpResponse array =
      Send("/v1/track", json::array{json::object{{"userId", "path-2"}, {"event", "Clicked"}}});

  EXPECT_TRUE(IsIngestAnswer(r, 1, 0));
  EXPECT_TRUE(IsError(array, 400, "malformed"));
  std::string usid = UsidOf("user_id", "path-1");
  std::vector<json::object> events = EventsOf(usid);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Str(events[0], "type"), "identify");
  EXPECT_EQ(JsonAt(GetCustomer(usid).json, "/attributes/plan"), "\"pro\"");
  EXPECT_EQ(UsidOf("user_id", "path-2"), "<none>");
}

TEST_F(ReviewRegressionTest, LastManagementKeyCannotBeRevoked) {
  std::vector<std::string> live = LiveManagementKeyIds();
  ASSERT_EQ(live.size(), 1u);

  HttpResponse refused = http_->Delete("/api/v1/api-keys/" + UrlEncode(live[0]), key());

  EXPECT_TRUE(IsError(refused, 409, "conflict"));
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/project", key()), 200));
  HttpResponse second = http_->Post(
      "/api/v1/api-keys", json::object{{"name", "second"}, {"type", "management"}}, key());
  ASSERT_TRUE(HasStatus(second, 201));
  std::string second_key = Str(second.json, "key");
  EXPECT_TRUE(HasStatus(http_->Delete("/api/v1/api-keys/" + UrlEncode(live[0]), key()), 200));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/project", key()), 401, "unauthenticated"));
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/project", second_key), 200));
}

TEST_F(ReviewRegressionTest, RepeatedLanguageIs422) {
  HttpResponse r = PatchProject({{"languages", json::array{"English", "English"}}});

  EXPECT_TRUE(IsError(r, 422, "invalid", "languages"));
  HttpResponse project = http_->Get("/api/v1/project", key());
  EXPECT_EQ(JsonAt(project.json, "/languages"), R"(["English"])") << project.body;
}

TEST_F(ReviewRegressionTest, ShortDigitStringIsNoDatetime) {
  HttpResponse r = http_->Post("/api/v1/customers",
                               json::object{{"user_id", "d1"}, {"joined_date", "2014"}}, key());

  EXPECT_TRUE(IsError(r, 422, "invalid", "joined_date"));
  EXPECT_EQ(UsidOf("user_id", "d1"), "<none>");
}

TEST_F(ReviewRegressionTest, ApiIsNoTrackingApiSource) {
  HttpResponse r =
      Send("/ingest/v1/api/v1/track", json::object{{"userId", "src-1"}, {"event", "Clicked"}});

  EXPECT_TRUE(IsError(r, 404, "not_found"));
  EXPECT_EQ(UsidOf("user_id", "src-1"), "<none>");
}

TEST_F(ReviewRegressionTest, EventPropertiesGoThroughTheFieldRegistry) {
  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/fields",
                  json::object{{"entity", "event"}, {"name", "amount"}, {"type", "number"}}, key()),
      201));
  auto track = [](std::string id, json::object properties) {
    return json::object{{"type", "track"},
                        {"userId", "reg-1"},
                        {"event", "Paid"},
                        {"messageId", id},
                        {"properties", std::move(properties)}};
  };

  HttpResponse coerced = Send(kSegment, track("m-42", {{"amount", "42"}}));
  HttpResponse dropped = Send(kSegment, track("m-abc", {{"amount", "abc"}, {"coupon", "X1"}}));

  EXPECT_TRUE(IsIngestAnswer(coerced, 1, 0));
  EXPECT_TRUE(IsIngestAnswer(dropped, 1, 0));
  std::map<std::string, json::object> events = EventsById();
  ASSERT_EQ(events.count("m-42"), 1u);
  const json::value* amount = Member(events["m-42"]["properties"], "amount");
  ASSERT_TRUE(amount != nullptr && amount->is_number()) << json::serialize(events["m-42"]);
  EXPECT_EQ(amount->to_number<double>(), 42.0);
  ASSERT_EQ(events.count("m-abc"), 1u);
  EXPECT_EQ(json::serialize(events["m-abc"]["properties"]), R"({"coupon":"X1"})");
  bool noted = false;
  for (const auto& e : IngestionErrors()) {
    noted = noted || Str(e, "kind") == "attribute_dropped";
  }
  EXPECT_TRUE(noted) << "the dropped property is noted in the ingestion error log";
  HttpResponse fields = http_->Get("/api/v1/fields?entity=event", key());
  ASSERT_TRUE(HasStatus(fields, 200));
  bool coupon_auto = false;
  for (const auto& f : DataOf(fields)) {
    coupon_auto = coupon_auto || (Str(f, "name") == "coupon" && Str(f, "origin") == "auto");
  }
  EXPECT_TRUE(coupon_auto) << fields.body;
}

TEST_F(ReviewRegressionTest, KeysListOfUnknownProjectFails) {
  CliResult r =
      xoal_.RunCli({"keys", "list", "--project", "prj_nope", "--data-dir", xoal_.data_dir()});

  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("prj_nope"), std::string::npos) << "stderr: " << r.err;
}

}  // namespace
}  // namespace xoal::testing
