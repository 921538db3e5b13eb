#include "integration/ingest_fixture.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace xoal::testing {
namespace {

constexpr int kPageLimit = 1000;
constexpr int kMaxPages = 100;  // bounds the paging loops: 100,000 rows is far above any test

bool ReadDigits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) {
    return false;
  }
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

}  // namespace

std::optional<std::string> FixturesDir() {
  struct stat st {};
  if (::stat(XOAL_FIXTURES_DIR, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return std::nullopt;
  }
  return std::string(XOAL_FIXTURES_DIR);
}

json::value ReadFixture(std::string_view relative) {
  std::string path = std::string(XOAL_FIXTURES_DIR) + "/" + std::string(relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read fixture " << path;
    return nullptr;
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseJsonOrFail(text.str());
}

std::optional<int64_t> ParseIsoMillis(std::string_view s) {
  size_t pos = 0;
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!ReadDigits(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, mo) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, d) || pos >= s.size() || s[pos++] != 'T' ||
      !ReadDigits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' ||
      !ReadDigits(s, pos, 2, mi) || pos >= s.size() || s[pos++] != ':' ||
      !ReadDigits(s, pos, 2, sec)) {
    return std::nullopt;
  }
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
  }
  int offset_min = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!ReadDigits(s, pos, 2, oh) || pos >= s.size() || s[pos++] != ':' ||
        !ReadDigits(s, pos, 2, om)) {
      return std::nullopt;
    }
    offset_min = sign * (oh * 60 + om);
  }
  if (pos != s.size()) {
    return std::nullopt;
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t seconds = ::timegm(&tm) - offset_min * 60;
  return seconds * 1000 + frac_ms;
}

std::string FormatIsoMillis(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::string> IdOf(const json::value& message, std::string_view key) {
  const json::value* v = Member(message, key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (v->is_string() && !v->get_string().empty()) {
    return std::string(v->get_string());
  }
  if (v->is_int64()) {
    return std::to_string(v->get_int64());
  }
  if (v->is_uint64()) {
    return std::to_string(v->get_uint64());
  }
  return std::nullopt;
}

IngestAnswer ReadIngestAnswer(const HttpResponse& r) {
  IngestAnswer a;
  const json::value* accepted = Member(r.json, "accepted");
  const json::value* duplicates = Member(r.json, "duplicates");
  const json::value* rejected = Member(r.json, "rejected");
  if (accepted != nullptr && accepted->is_int64()) {
    a.accepted = static_cast<int>(accepted->get_int64());
  }
  if (duplicates != nullptr && duplicates->is_int64()) {
    a.duplicates = static_cast<int>(duplicates->get_int64());
  }
  if (rejected != nullptr && rejected->is_array()) {
    for (const auto& item : rejected->get_array()) {
      const json::value* index = Member(item, "index");
      a.rejected.emplace_back(index != nullptr && index->is_int64()
                                  ? static_cast<int>(index->get_int64())
                                  : -1,
                              Str(item, "reason"));
    }
  }
  return a;
}

::testing::AssertionResult IsIngestAnswer(const HttpResponse& r, int accepted, int duplicates,
                                          const std::vector<int>& rejected_indexes) {
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure()
           << why << "; expected 200 accepted=" << accepted << " duplicates=" << duplicates
           << " rejected=" << ::testing::PrintToString(rejected_indexes)
           << ", got " << ::testing::PrintToString(r);
  };
  if (r.status != 200) {
    return fail("wrong status");
  }
  IngestAnswer a = ReadIngestAnswer(r);
  if (a.accepted != accepted || a.duplicates != duplicates) {
    return fail("wrong counts");
  }
  std::vector<int> indexes;
  for (const auto& [index, reason] : a.rejected) {
    if (reason.empty() || reason.front() == '<') {
      return fail("a rejection without a reason");
    }
    indexes.push_back(index);
  }
  if (indexes != rejected_indexes) {
    return fail("wrong rejections");
  }
  return ::testing::AssertionSuccess();
}

HttpResponse IngestTest::Send(std::string_view path, const json::value& body) {
  return http_->Post(path, body, ingestion_key());
}

HttpResponse IngestTest::Lookup(std::string_view by, std::string_view value) {
  return http_->Get("/api/v1/customers/lookup?" + std::string(by) + "=" + UrlEncode(value), key());
}

std::string IngestTest::UsidOf(std::string_view by, std::string_view value) {
  HttpResponse r = Lookup(by, value);
  return r.status == 200 ? Str(r.json, "usid") : "<none>";
}

std::vector<json::object> IngestTest::ReadAllPages(const std::string& path) {
  std::vector<json::object> out;
  std::string cursor;
  for (int page = 0; page < kMaxPages; ++page) {
    std::string target = path + "?limit=" + std::to_string(kPageLimit);
    if (!cursor.empty()) {
      target += "&cursor=" + UrlEncode(cursor);
    }
    HttpResponse r = http_->Get(target, key());
    if (r.status != 200) {
      ADD_FAILURE() << "listing " << target << " failed: " << ::testing::PrintToString(r);
      return out;
    }
    for (const auto& item : DataOf(r)) {
      out.push_back(item.as_object());
    }
    const json::value* next = Member(r.json, "next_cursor");
    if (next == nullptr || !next->is_string()) {
      return out;
    }
    cursor = std::string(next->get_string());
  }
  ADD_FAILURE() << "more than " << kMaxPages << " pages at " << path;
  return out;
}

std::vector<json::object> IngestTest::AllEvents() { return ReadAllPages("/api/v1/events"); }

std::map<std::string, json::object> IngestTest::EventsById() {
  std::map<std::string, json::object> out;
  for (auto& e : AllEvents()) {
    std::string id = Str(e, "id");
    if (!out.emplace(id, e).second) {
      ADD_FAILURE() << "event id " << id << " is stored twice";
    }
  }
  return out;
}

std::vector<json::object> IngestTest::EventsOf(std::string_view usid) {
  return ReadAllPages("/api/v1/customers/" + UrlEncode(usid) + "/events");
}

std::vector<json::object> IngestTest::IngestionErrors() {
  return ReadAllPages("/api/v1/ingestion/errors");
}

}  // namespace xoal::testing
