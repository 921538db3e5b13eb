// The ingestion endpoints' HTTP contract (SPEC, Ingestion API): status codes for bad requests,
// keys and signatures, size limits, and the payload shapes and time formats each source sends.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "integration/ingest_fixture.hpp"

namespace xoal::testing {
namespace {

constexpr std::string_view kSegment = "/ingest/v1/segment/event";

std::string HmacSha1Hex(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

// POSTs `body` on a raw loopback connection and returns the answer's status code (0 when none
// came). A server may answer 413 and close before the body is sent whole; HttpClient reports
// the failed write instead of that answer, so this sends what it can and reads what comes back.
int PostRawForStatus(uint16_t port, const std::string& key, const std::string& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return 0;
  }
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  std::string request = "POST /ingest/v1/segment/event HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/json\r\nAuthorization: Bearer " +
                        key + "\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break;  // the server stopped reading: its answer may already be waiting
    }
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  while (answer.find("\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  int status = 0;
  std::sscanf(answer.c_str(), "HTTP/1.1 %d", &status);
  return status;
}

json::object Track(std::string user_id, std::string event, std::string message_id = {}) {
  json::object m{{"type", "track"}, {"userId", user_id}, {"event", event}};
  if (!message_id.empty()) {
    m["messageId"] = message_id;
  }
  return m;
}

class IngestApiTest : public IngestTest {
 protected:
  HttpResponse SendText(std::string_view path, std::string body, std::string_view content_type,
                        std::string_view key) {
    return http_->SendRaw("POST", path, std::move(body), content_type, key);
  }
  HttpResponse SendSigned(std::string body, std::string_view signature) {
    HeaderList headers{{"Content-Type", "application/json"},
                       {"Authorization", "Bearer " + ingestion_key()}};
    if (!signature.empty()) {
      headers.emplace_back("X-Signature", std::string(signature));
    }
    return http_->Request("POST", kSegment, std::move(body), headers);
  }
  ::testing::AssertionResult SetSegmentSecret(const std::string& secret) {
    json::object sources{{"segment", json::object{{"secret", secret}}}};
    return HasStatus(http_->Patch("/api/v1/project", json::object{{"sources", sources}}, key()),
                     200);
  }
  // The timestamp of the only event of the profile with `user_id`.
  std::string OnlyEventTime(std::string_view user_id) {
    auto events = EventsOf(UsidOf("user_id", user_id));
    if (events.size() != 1) {
      ADD_FAILURE() << user_id << " has " << events.size() << " events";
      return "<none>";
    }
    return Str(events[0], "timestamp");
  }
};

TEST_F(IngestApiTest, WrongContentTypeIs415AndStoresNothing) {
  std::string body = json::serialize(Track("u-1", "Signed Up"));

  HttpResponse r = SendText(kSegment, body, "text/plain", ingestion_key());

  EXPECT_TRUE(IsError(r, 415, "unsupported_media_type"));
  EXPECT_TRUE(IsError(SendText("/ingest/v1/event", body, "", ingestion_key()), 415,
                      "unsupported_media_type"));
  EXPECT_EQ(UsidOf("user_id", "u-1"), "<none>");
}

TEST_F(IngestApiTest, MalformedJsonIs400) {
  EXPECT_TRUE(IsError(SendText(kSegment, "{\"type\": \"track\",", "application/json",
                               ingestion_key()),
                      400, "malformed"));
  // Valid JSON that is neither a message nor a batch.
  EXPECT_TRUE(IsError(Send(kSegment, 42), 400, "malformed"));
  EXPECT_TRUE(IsError(Send(kSegment, json::object{{"batch", "no"}}), 400, "malformed"));
}

TEST_F(IngestApiTest, MissingOrUnknownKeyIs401) {
  std::string body = json::serialize(Track("u-1", "Signed Up"));

  EXPECT_TRUE(IsError(SendText(kSegment, body, "application/json", ""), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(
      SendText(kSegment, body, "application/json", "ing_0123456789abcdefghijklmnopqrstuv"), 401,
      "unauthenticated"));
  EXPECT_TRUE(IsError(http_->Request("POST", "/v1/batch", body,
                                     {{"Content-Type", "application/json"},
                                      {"Authorization", "Basic !!not-base64!!"}}),
                      401, "unauthenticated"));
}

TEST_F(IngestApiTest, KeyOfTheWrongTypeIs403) {
  EXPECT_TRUE(IsError(http_->Post(kSegment, Track("u-1", "Signed Up"), key()), 403, "forbidden"));
  EXPECT_TRUE(IsError(http_->Post("/v1/track", Track("u-1", "Signed Up"), key()), 403,
                      "forbidden"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers", ingestion_key()), 403, "forbidden"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/ingestion/errors", ingestion_key()), 403, "forbidden"));
  EXPECT_EQ(UsidOf("user_id", "u-1"), "<none>");
}

TEST_F(IngestApiTest, OversizeMessageIsRejectedAloneAndLogged) {
  std::string big(33 * 1024, 'x');
  json::object oversize = Track("u-big", "Too Big", "m-big");
  oversize["properties"] = json::object{{"blob", big}};
  json::array batch{Track("u-1", "Before", "m-1"), oversize, Track("u-2", "After", "m-2")};

  HttpResponse r = Send(kSegment, batch);

  ASSERT_TRUE((IsIngestAnswer(r, 2, 0, {1})));
  EXPECT_NE(ReadIngestAnswer(r).rejected[0].second.find("32 KB"), std::string::npos) << r.body;
  EXPECT_NE(UsidOf("user_id", "u-1"), "<none>");
  EXPECT_NE(UsidOf("user_id", "u-2"), "<none>");
  EXPECT_EQ(UsidOf("user_id", "u-big"), "<none>");
  auto errors = IngestionErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(Str(errors[0], "kind"), "rejected");
  EXPECT_EQ(JsonAt(errors[0], "/index"), "1");
  EXPECT_EQ(Str(errors[0], "message_id"), "m-big");
  EXPECT_EQ(Str(errors[0], "source"), "segment");
  EXPECT_LE(Str(errors[0], "excerpt").size(), 200u) << "the log keeps an excerpt, not the body";
}

TEST_F(IngestApiTest, OversizeRequestIs413) {
  // Many messages each under 32 KB, together over 8 MB.
  std::string filler(30 * 1024, 'y');
  json::array batch;
  for (int i = 0; i < 8 * 1024 / 30 + 10; ++i) {
    json::object m = Track("u-" + std::to_string(i), "Filler");
    m["properties"] = json::object{{"filler", filler}};
    batch.push_back(std::move(m));
  }
  std::string body = json::serialize(batch);
  ASSERT_GT(body.size(), 8u * 1024 * 1024);

  int status = PostRawForStatus(xoal_.port(), ingestion_key(), body);

  EXPECT_EQ(status, 413);
  EXPECT_EQ(UsidOf("user_id", "u-0"), "<none>");
  // Just under the limit is taken (each message under 32 KB).
  batch.resize(8 * 1024 / 31);
  ASSERT_LT(json::serialize(batch).size(), 8u * 1024 * 1024);
  EXPECT_TRUE(IsIngestAnswer(Send(kSegment, batch), static_cast<int>(batch.size()), 0));
}

TEST_F(IngestApiTest, SegmentSignatureIsVerifiedWhenTheProjectSetsASecret) {
  const std::string secret = "whsec-test-1";
  ASSERT_TRUE(SetSegmentSecret(secret));
  std::string single = json::serialize(Track("u-signed", "Signed", "m-signed"));
  // What Webhooks (Actions) sends in batch mode: a bare array, with X-Signature over the first
  // event alone as JSON.stringify renders it.
  std::string first = R"({"type":"track","userId":"u-batch","event":"First","messageId":"m-b1"})";
  std::string batch =
      "[" + first + R"(,{"type":"track","userId":"u-batch","event":"Second","messageId":"m-b2"}])";

  EXPECT_TRUE(IsError(SendSigned(single, ""), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(SendSigned(single, HmacSha1Hex("other-secret", single)), 401,
                      "unauthenticated"));
  EXPECT_TRUE(IsIngestAnswer(SendSigned(single, HmacSha1Hex(secret, single)), 1, 0));
  EXPECT_TRUE(IsIngestAnswer(SendSigned(batch, HmacSha1Hex(secret, first)), 2, 0));
  EXPECT_TRUE(IsIngestAnswer(SendSigned(batch, HmacSha1Hex(secret, batch)), 0, 2));
  // Other sources are not signed by Segment's secret.
  EXPECT_TRUE(IsIngestAnswer(Send("/ingest/v1/jitsu/event", Track("u-jitsu", "Unsigned")), 1, 0));
  EXPECT_EQ(EventsOf(UsidOf("user_id", "u-batch")).size(), 2u);
  EXPECT_EQ(Str(http_->Get("/api/v1/project", key()).json, "sources").find(secret),
            std::string::npos)
      << "the secret is write-only";
}

// JSON.stringify writes 19.99 as "19.99" and a non-ASCII or escaped string as it is; the
// signature is over those bytes, so the server must not re-serialize the first event its own way.
TEST_F(IngestApiTest, BatchSignatureOverFirstEventWithDecimalsAndEscapes) {
  const std::string secret = "whsec-test-2";
  ASSERT_TRUE(SetSegmentSecret(secret));
  std::string first =
      R"({"type":"track","userId":"u-dec","event":"Order \"Completed\"",)"
      R"("properties":{"total":19.99,"city":"Solmsstraße"},"messageId":"m-d1"})";
  std::string batch = "[" + first + R"(,{"type":"page","userId":"u-dec","name":"Home"}])";

  HttpResponse r = SendSigned(batch, HmacSha1Hex(secret, first));

  EXPECT_TRUE(IsIngestAnswer(r, 2, 0));
}

TEST_F(IngestApiTest, IdsSentAsNumbersAreReadAsTheirDigits) {
  json::array batch{
      json::object{{"type", "identify"}, {"userId", 432}, {"anonymousId", 77},
                   {"traits", json::object{{"plan", "pro"}}}},
      json::object{{"type", "group"}, {"userId", 432}, {"groupId", 306},
                   {"traits", json::object{{"name", "Numbers Inc"}}}}};

  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, batch), 2, 0));

  HttpResponse c = Lookup("user_id", "432");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Strings(c.json, "anonymous_ids"), std::vector<std::string>{"77"});
  EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"pro\"");
  HttpResponse company = http_->Get("/api/v1/companies/306", key());
  ASSERT_TRUE(HasStatus(company, 200));
  EXPECT_EQ(Str(company.json, "name"), "Numbers Inc");
  EXPECT_EQ(Column(http_->Get("/api/v1/companies/306/members", key()), "usid"),
            std::vector<std::string>{Str(c.json, "usid")});
}

TEST_F(IngestApiTest, EmailAsUserIdAlsoSetsTheEmail) {
  ASSERT_TRUE((IsIngestAnswer(
      Send(kSegment, json::object{{"type", "identify"}, {"userId", "Ada@Example.com"}}), 1, 0)));

  HttpResponse c = Lookup("email", "ada@example.com");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "user_id"), "Ada@Example.com");
  EXPECT_EQ(Str(c.json, "contact_type"), "user");
}

TEST_F(IngestApiTest, IdentifyTraitsOnlyInContextTraitsAreApplied) {
  json::object identify{
      {"type", "identify"},
      {"userId", "u-ctx"},
      {"context", json::object{{"traits", json::object{{"firstName", "Grace"},
                                                        {"email", "grace@example.com"},
                                                        {"plan", "team"}}}}}};

  ASSERT_TRUE(IsIngestAnswer(Send("/ingest/v1/rudderstack/event", identify), 1, 0));

  HttpResponse c = Lookup("user_id", "u-ctx");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "first_name"), "Grace");
  EXPECT_EQ(Str(c.json, "email"), "grace@example.com");
  EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"team\"");
}

TEST_F(IngestApiTest, BatchEnvelopeContextAppliesToEachItemAndItemKeysWin) {
  json::object envelope{
      {"batch",
       json::array{Track("u-a", "A"),
                   json::object{{"type", "track"},
                                {"userId", "u-b"},
                                {"event", "B"},
                                {"context", json::object{{"timezone", "Asia/Tokyo"}}}},
                   json::object{{"type", "track"},
                                {"userId", "u-c"},
                                {"event", "C"},
                                {"context", json::object{{"traits", json::object{
                                                                        {"email",
                                                                         "c@example.com"}}}}}}}},
      {"context", json::object{{"timezone", "Europe/Paris"}}},
      {"sentAt", "2030-01-01T00:00:00Z"}};

  ASSERT_TRUE(IsIngestAnswer(Send("/v1/batch", envelope), 3, 0));

  EXPECT_EQ(Str(Lookup("user_id", "u-a").json, "timezone"), "Europe/Paris");
  EXPECT_EQ(Str(Lookup("user_id", "u-b").json, "timezone"), "Asia/Tokyo");
  HttpResponse c = Lookup("user_id", "u-c");
  EXPECT_EQ(Str(c.json, "timezone"), "Europe/Paris") << "item context merges with the batch's";
  EXPECT_EQ(Str(c.json, "email"), "c@example.com");
}

TEST_F(IngestApiTest, NativeEventWithPropertiesShape) {
  json::object native{
      {"event", "user upgraded"},
      {"properties", json::object{{"userId", "u-native"},
                                  {"userEmail", "Native@Example.com"},
                                  {"time", 1733220000},
                                  {"customData", json::object{{"plan", "pro"}}},
                                  {"seats", 3}}}};

  ASSERT_TRUE(IsIngestAnswer(Send("/ingest/v1/event", native), 1, 0));
  ASSERT_TRUE((IsIngestAnswer(
      Send("/ingest/v1/event",
           json::array{json::object{{"event", "a"}, {"properties", {{"userId", "u-n2"}}}},
                       json::object{{"event", "b"}, {"properties", {{"userId", "u-n2"}}}}}),
      2, 0)));
  ASSERT_TRUE((IsIngestAnswer(
      Send("/ingest/v1/event",
           json::object{{"batch", json::array{json::object{
                                      {"event", "c"}, {"properties", {{"userId", "u-n2"}}}}}}}),
      1, 0)));
  ASSERT_TRUE((IsIngestAnswer(
      Send("/ingest/v1/event", json::object{{"properties", {{"userId", "u-n3"}}}}), 0, 0, {0})));

  HttpResponse c = Lookup("user_id", "u-native");
  ASSERT_TRUE(HasStatus(c, 200));
  EXPECT_EQ(Str(c.json, "email"), "native@example.com");
  EXPECT_EQ(Str(c.json, "added_via"), "data_ingestion");
  EXPECT_EQ(Str(c.json, "last_active"), "2024-12-03T10:00:00.000Z");
  auto events = EventsOf(Str(c.json, "usid"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Str(events[0], "name"), "user upgraded");
  EXPECT_EQ(Str(events[0], "type"), "track");
  EXPECT_EQ(Str(events[0], "source"), "api");
  EXPECT_EQ(Str(events[0], "timestamp"), "2024-12-03T10:00:00.000Z");
  EXPECT_EQ(json::value(events[0]).at("properties"),
            (json::value{{"plan", "pro"}, {"seats", 3}}));
  EXPECT_EQ(EventsOf(UsidOf("user_id", "u-n2")).size(), 3u);
}

TEST_F(IngestApiTest, HightouchRowsAndSegmentStyleObjects) {
  json::array rows{
      json::object{{"user_id", "ht-1"}, {"email", "ht1@example.com"}, {"plan", "pro"}},
      json::object{{"userId", "ht-2"}, {"seats", "12"}},
      json::object{{"email", "ht3@example.com"}, {"first_name", "Lin"}},
      json::object{{"plan", "nobody"}}};
  json::array objects{
      json::object{{"type", "identify"}, {"userId", "ht-1"},
                   {"traits", json::object{{"company", "Acme"}}}},
      json::object{{"type", "track"}, {"userId", "ht-1"}, {"event", "Synced"}},
      json::object{{"userId", "ht-1"}, {"event", "Row Added"}}};

  ASSERT_TRUE((IsIngestAnswer(Send("/ingest/v1/hightouch/event", rows), 3, 0, {3})));
  ASSERT_TRUE(IsIngestAnswer(Send("/ingest/v1/hightouch/event", objects), 3, 0));

  HttpResponse one = Lookup("user_id", "ht-1");
  ASSERT_TRUE(HasStatus(one, 200));
  EXPECT_EQ(Str(one.json, "email"), "ht1@example.com");
  EXPECT_EQ(JsonAt(one.json, "/attributes/plan"), "\"pro\"");
  EXPECT_EQ(JsonAt(one.json, "/attributes/company"), "\"Acme\"");
  EXPECT_EQ(Str(one.json, "added_via"), "data_ingestion");
  EXPECT_EQ(JsonAt(Lookup("user_id", "ht-2").json, "/attributes/seats"), "\"12\"");
  HttpResponse three = Lookup("email", "ht3@example.com");
  EXPECT_EQ(Str(three.json, "first_name"), "Lin");
  EXPECT_EQ(Str(three.json, "contact_type"), "lead");
  std::vector<std::string> names;
  for (const auto& e : EventsOf(Str(one.json, "usid"))) {
    names.push_back(Str(e, "type") + ":" + Str(e, "name") + ":" + Str(e, "source"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"track:Row Added:hightouch", "track:Synced:hightouch",
                                             "identify:identify:hightouch",
                                             "identify:identify:hightouch"}));
}

TEST_F(IngestApiTest, TimeFormats) {
  const std::vector<std::pair<json::value, std::string>> cases = {
      {"2024-03-01T10:00:00Z", "2024-03-01T10:00:00.000Z"},
      {"2024-03-01T15:30:00+05:30", "2024-03-01T10:00:00.000Z"},
      {"2024-03-01T05:00:00-05:00", "2024-03-01T10:00:00.000Z"},
      {"2024-03-01T10:00:00", "2024-03-01T10:00:00.000Z"},
      {"2024-03-01T10:00:00.123456Z", "2024-03-01T10:00:00.123Z"},
      {"2024-03-01T15:30:00.693229+05:30", "2024-03-01T10:00:00.693Z"},
      {1709287200, "2024-03-01T10:00:00.000Z"},
      {1709287200123, "2024-03-01T10:00:00.123Z"},
      {1709287200.5, "2024-03-01T10:00:00.500Z"},
  };
  json::array batch;
  for (size_t i = 0; i < cases.size(); ++i) {
    json::object m = Track("u-time-" + std::to_string(i), "Timed");
    m["timestamp"] = cases[i].first;
    batch.push_back(std::move(m));
  }

  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, batch), static_cast<int>(cases.size()), 0));

  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(OnlyEventTime("u-time-" + std::to_string(i)), cases[i].second)
        << "timestamp " << json::serialize(cases[i].first);
  }
  EXPECT_TRUE(IngestionErrors().empty());
}

// Segment's rule when a message has sentAt and originalTimestamp but no timestamp: the client's
// clock is off by (sentAt - receive time), so timestamp = receive - (sentAt - originalTimestamp).
TEST_F(IngestApiTest, ClockSkewIsCorrectedFromSentAtAndOriginalTimestamp) {
  json::object skewed = Track("u-skew", "Skewed");
  skewed["originalTimestamp"] = "2030-01-01T00:00:00.000Z";  // a client clock years ahead
  skewed["sentAt"] = "2030-01-01T00:10:00.000Z";
  json::object only_original = Track("u-orig", "Original");
  only_original["originalTimestamp"] = "2021-07-28T08:58:16.939Z";
  json::object with_timestamp = Track("u-ts", "Timestamped");
  with_timestamp["timestamp"] = "2021-07-28T08:58:17.127Z";
  with_timestamp["originalTimestamp"] = "2021-07-28T08:58:16.939Z";
  with_timestamp["sentAt"] = "2021-07-28T08:58:16.939Z";
  constexpr int64_t kSkewMs = 10 * 60 * 1000;

  int64_t before = NowMillis();
  HttpResponse r = Send(kSegment, json::array{skewed, only_original, with_timestamp});
  int64_t after = NowMillis();

  ASSERT_TRUE(IsIngestAnswer(r, 3, 0));
  auto t = ParseIsoMillis(OnlyEventTime("u-skew"));
  ASSERT_TRUE(t.has_value());
  EXPECT_GE(*t, before - kSkewMs);
  EXPECT_LE(*t, after - kSkewMs);
  EXPECT_EQ(OnlyEventTime("u-orig"), "2021-07-28T08:58:16.939Z");
  EXPECT_EQ(OnlyEventTime("u-ts"), "2021-07-28T08:58:17.127Z");
  HttpResponse c = Lookup("user_id", "u-skew");
  EXPECT_EQ(Str(c.json, "last_active"), FormatIsoMillis(*t));
}

TEST_F(IngestApiTest, UnparseableTimeFallsBackToReceiveTimeAndIsLogged) {
  json::object bad = Track("u-bad-time", "Bad Time", "m-bad-time");
  bad["timestamp"] = "safaff";

  int64_t before = NowMillis();
  ASSERT_TRUE((IsIngestAnswer(Send(kSegment, json::array{Track("u-ok", "Fine"), bad}), 2, 0)));
  int64_t after = NowMillis();

  auto t = ParseIsoMillis(OnlyEventTime("u-bad-time"));
  ASSERT_TRUE(t.has_value());
  EXPECT_GE(*t, before / 1000 * 1000);
  EXPECT_LE(*t, after);
  auto errors = IngestionErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(Str(errors[0], "kind"), "time_fallback");
  EXPECT_EQ(JsonAt(errors[0], "/index"), "1");
  EXPECT_EQ(Str(errors[0], "message_id"), "m-bad-time");
}

TEST_F(IngestApiTest, AttributeOfTheWrongTypeIsDroppedAloneAndLogged) {
  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/fields",
                  json::object{{"entity", "customer"}, {"name", "age"}, {"type", "number"}}, key()),
      201));
  json::object identify{{"type", "identify"},
                        {"userId", "u-typed"},
                        {"messageId", "m-typed"},
                        {"traits", json::object{{"age", "very old"},
                                                {"plan", "pro"},
                                                {"seats", "7"}}}};
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/fields",
                                    json::object{{"entity", "customer"},
                                                 {"name", "seats"},
                                                 {"type", "number"}},
                                    key()),
                        201));

  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, identify), 1, 0));

  HttpResponse c = Lookup("user_id", "u-typed");
  EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"pro\"");
  EXPECT_EQ(JsonAt(c.json, "/attributes/seats"), "7") << "a numeric string is coerced";
  EXPECT_EQ(JsonAt(c.json, "/attributes/age"), "<missing>");
  auto errors = IngestionErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(Str(errors[0], "kind"), "attribute_dropped");
  EXPECT_EQ(Str(errors[0], "message_id"), "m-typed");
  EXPECT_NE(Str(errors[0], "reason").find("age"), std::string::npos);
}

TEST_F(IngestApiTest, AddedViaAndLastActiveIsTheNewestEventTime) {
  json::object newer = Track("u-active", "Newer");
  newer["timestamp"] = "2024-05-02T00:00:00Z";
  json::object older = Track("u-active", "Older");
  older["timestamp"] = "2024-05-01T00:00:00Z";

  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, newer), 1, 0));
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, older), 1, 0));

  HttpResponse c = Lookup("user_id", "u-active");
  EXPECT_EQ(Str(c.json, "added_via"), "data_ingestion");
  EXPECT_EQ(Str(c.json, "last_active"), "2024-05-02T00:00:00.000Z");
}

TEST_F(IngestApiTest, TrackingApiPathsImplyTheType) {
  std::string basic = "Basic ";
  {
    // base64("ing_...:") by hand is noisy; HttpClient sends headers as given, so encode here.
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string in = ingestion_key() + ":";
    std::string out;
    for (size_t i = 0; i < in.size(); i += 3) {
      uint32_t n = static_cast<unsigned char>(in[i]) << 16;
      if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
      if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
      out += kAlphabet[(n >> 18) & 63];
      out += kAlphabet[(n >> 12) & 63];
      out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
      out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
    }
    basic += out;
  }
  HeaderList headers{{"Content-Type", "application/json"}, {"Authorization", basic}};
  auto post = [&](std::string_view path, const json::object& body) {
    return http_->Request("POST", path, json::serialize(body), headers);
  };

  EXPECT_TRUE(HasStatus(post("/v1/identify", {{"userId", "u-t"}, {"traits", {{"plan", "a"}}}}),
                        200));
  EXPECT_TRUE(HasStatus(post("/v1/track", {{"userId", "u-t"}, {"event", "Clicked"}}), 200));
  EXPECT_TRUE(HasStatus(post("/v1/page", {{"userId", "u-t"}, {"name", "Home"}}), 200));
  EXPECT_TRUE(HasStatus(post("/v1/screen", {{"userId", "u-t"}, {"name", "Main"}}), 200));
  EXPECT_TRUE(HasStatus(post("/v1/group", {{"userId", "u-t"}, {"groupId", "g-t"}}), 200));
  HttpResponse alias = post("/v1/alias", {{"userId", "u-t"}, {"previousId", "anon-t"}});
  EXPECT_TRUE(IsIngestAnswer(alias, 1, 0));
  EXPECT_EQ(JsonAt(alias.json, "/success"), "true");

  std::vector<std::string> types;
  for (const auto& e : EventsOf(UsidOf("user_id", "u-t"))) {
    types.push_back(Str(e, "type") + ":" + Str(e, "name"));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"alias:alias", "group:group", "screen:Main",
                                             "page:Home", "track:Clicked", "identify:identify"}));
  EXPECT_EQ(UsidOf("anonymous_id", "anon-t"), UsidOf("user_id", "u-t"));
}

}  // namespace
}  // namespace xoal::testing
