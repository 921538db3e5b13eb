// IngestTest: the fixture of the ingestion suites (ingest_*_test.cpp).
//
// It is XoalTest (one fresh server with project "alpha") plus helpers to send to the ingestion
// endpoints with alpha's ingestion key, to read back profiles, events and the ingestion error log
// with the management key, and to read the recorded payloads in ../shared/fixtures, which stay
// outside the repository (XOAL_FIXTURES_DIR; a test that needs them skips when they are absent).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {

// The directory of the shared fixtures, or nullopt when it does not exist on this machine.
std::optional<std::string> FixturesDir();

// Skips the current test, naming the missing directory, when the shared fixtures are absent.
#define XOAL_SKIP_WITHOUT_FIXTURES()                                                         \
  do {                                                                                       \
    if (!::xoal::testing::FixturesDir()) {                                                   \
      GTEST_SKIP() << "shared fixtures not found at " XOAL_FIXTURES_DIR                      \
                   << " (they live beside the repository, in ../shared/fixtures)";           \
    }                                                                                        \
  } while (0)

// The parsed JSON of `relative` under the fixtures dir; records a failure and returns null when
// it cannot be read or parsed.
json::value ReadFixture(std::string_view relative);

// Milliseconds since the epoch of an ISO-8601 time (offset optional, fractions of any length),
// or nullopt when `s` is not one. Written here so the tests do not reuse the server's parser.
std::optional<int64_t> ParseIsoMillis(std::string_view s);
// `ms` as the API formats times: 2026-12-03T10:00:00.000Z.
std::string FormatIsoMillis(int64_t ms);
// Now, in milliseconds since the epoch (to bracket server-side receive times).
int64_t NowMillis();

// A message's identifier as Xoal reads it: a non-empty string, or an integer as its digits.
std::optional<std::string> IdOf(const json::value& message, std::string_view key);

// The answer of an ingestion endpoint, read from the body.
struct IngestAnswer {
  int accepted = -1;
  int duplicates = -1;
  std::vector<std::pair<int, std::string>> rejected;  // index, reason
};
IngestAnswer ReadIngestAnswer(const HttpResponse& r);

// Succeeds when `r` is 200 {"accepted": accepted, "duplicates": duplicates, "rejected": [...]}
// with exactly the given rejected indexes (each with a non-empty reason).
::testing::AssertionResult IsIngestAnswer(const HttpResponse& r, int accepted, int duplicates,
                                          const std::vector<int>& rejected_indexes = {});

class IngestTest : public XoalTest {
 protected:
  const std::string& ingestion_key() const { return alpha_.ingestion_key; }

  // POSTs `body` as JSON to `path` with alpha's ingestion key.
  HttpResponse Send(std::string_view path, const json::value& body);

  // GET /api/v1/customers/lookup?BY=VALUE.
  HttpResponse Lookup(std::string_view by, std::string_view value);
  // The usid of the profile found by `by`=`value`, or "<none>" when the lookup is not 200.
  std::string UsidOf(std::string_view by, std::string_view value);

  // Every event of the project, newest first, read through all pages of GET /api/v1/events.
  std::vector<json::object> AllEvents();
  // AllEvents() keyed by event id; records a failure when an id occurs twice.
  std::map<std::string, json::object> EventsById();
  // GET /api/v1/customers/{usid}/events, all pages, newest first.
  std::vector<json::object> EventsOf(std::string_view usid);
  // GET /api/v1/ingestion/errors, all pages, newest first.
  std::vector<json::object> IngestionErrors();

 private:
  std::vector<json::object> ReadAllPages(const std::string& path);
};

}  // namespace xoal::testing
