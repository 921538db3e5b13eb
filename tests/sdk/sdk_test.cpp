// The official server libraries of Segment (@segment/analytics-node) and RudderStack
// (@rudderstack/rudder-sdk-node), pointed at a real `xoal` by host and write key only (SPEC,
// Ingestion API: "so the official Segment, RudderStack and Jitsu server libraries can send to
// Xoal directly by changing their host"). send.js makes identify, track, page, group and alias
// calls; the test checks the profiles, events and companies they leave over the management API.
//
// Both libraries post to {host}/v1/batch with HTTP Basic auth (the key as user name); Xoal tells
// them apart by context.library.name, so RudderStack's calls are recorded with source "segment"
// too unless its host is set to .../ingest/v1/rudderstack. The npm
// packages are installed into the build dir on first use; when that fails the tests skip.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

struct ShellResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `command` with sh; callers bound it with timeout(1).
ShellResult RunShell(const std::string& command) {
  ShellResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    r.out = "popen failed";
    return r;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    r.out.append(buf, n);
  }
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// `npm install` of package.json into the build dir, once per test process, under a lock: ctest
// runs the tests of this file as parallel processes that share the dir. Optional dependencies
// (RudderStack's Redis queue) and install scripts are not needed.
const ShellResult& NpmInstall() {
  static const ShellResult result = [] {
    const std::string dir = XOAL_SDK_WORK_DIR;
    const std::string src = XOAL_SDK_SOURCE_DIR;
    return RunShell("command -v node >/dev/null && command -v npm >/dev/null && mkdir -p " +
                    Quote(dir) + " && ( flock 9 && cp " + Quote(src + "/package.json") + " " +
                    Quote(src + "/send.js") + " " + Quote(dir) + " && cd " + Quote(dir) +
                    " && timeout 300 npm install --no-audit --no-fund --omit=optional"
                    " --ignore-scripts --loglevel=error ) 9>" + Quote(dir + "/.install.lock"));
  }();
  return result;
}

class SdkTest : public XoalTest {
 protected:
  void SetUp() override {
    const ShellResult& install = NpmInstall();
    if (install.exit_code != 0) {
      GTEST_SKIP() << "npm install of tests/sdk/package.json into " XOAL_SDK_WORK_DIR
                      " failed (exit " << install.exit_code << "); is node 20 with npm and the "
                   << "npm registry available?\n" << install.out;
    }
    XoalTest::SetUp();
  }

  // Runs send.js for `sdk` against this test's server with alpha's ingestion key.
  ShellResult Send(const std::string& sdk, const std::string& option = "") {
    return RunShell("cd " + Quote(XOAL_SDK_WORK_DIR) + " && timeout 120 node send.js " + sdk +
                    " http://127.0.0.1:" + std::to_string(xoal_.port()) + " " +
                    Quote(alpha_.ingestion_key) + " " + option);
  }

  // What send.js's calls for `sdk` must have left: one profile (the visitor aliased into the
  // user), each call once as an event, the company with the user as member.
  void ExpectDelivered(const std::string& sdk) {
    HttpResponse c = http_->Get("/api/v1/customers/lookup?user_id=" + sdk + "-user", key());
    ASSERT_TRUE(HasStatus(c, 200));
    std::string usid = Str(c.json, "usid");
    EXPECT_EQ(Str(c.json, "email"), sdk + "@example.com");
    EXPECT_EQ(Str(c.json, "first_name"), "Ada");
    EXPECT_EQ(JsonAt(c.json, "/attributes/plan"), "\"pro\"");
    EXPECT_EQ(Str(c.json, "added_via"), "data_ingestion");
    std::vector<std::string> anonymous = Strings(c.json, "anonymous_ids");
    std::sort(anonymous.begin(), anonymous.end());
    EXPECT_EQ(anonymous, (std::vector<std::string>{sdk + "-anon", sdk + "-visitor"}));

    std::vector<std::string> events;
    HttpResponse list = http_->Get("/api/v1/customers/" + usid + "/events", key());
    ASSERT_TRUE(HasStatus(list, 200));
    for (const auto& e : DataOf(list)) {
      events.push_back(Str(e, "type") + ":" + Str(e, "name"));
      if (Str(e, "name") == "Order Completed") {
        const json::value* total = Member(e.at("properties"), "total");
        EXPECT_TRUE(total != nullptr && total->is_double() && total->get_double() == 19.99)
            << json::serialize(e);
        EXPECT_EQ(JsonAt(e, "/properties/items"), "2");
      }
      if (Str(e, "type") == "page") {
        EXPECT_EQ(JsonAt(e, "/properties/path"), "\"/pricing\"");
      }
    }
    std::sort(events.begin(), events.end());
    EXPECT_EQ(events, (std::vector<std::string>{"alias:alias", "group:group", "identify:identify",
                                                "page:Pricing", "track:Order Completed",
                                                "track:Visited"}));

    HttpResponse company = http_->Get("/api/v1/companies/" + sdk + "-company", key());
    ASSERT_TRUE(HasStatus(company, 200));
    EXPECT_EQ(Str(company.json, "name"), "Acme");
    EXPECT_EQ(JsonAt(company.json, "/attributes/seats"), "5");
    EXPECT_EQ(Column(http_->Get("/api/v1/companies/" + sdk + "-company/members", key()), "usid"),
              std::vector<std::string>{usid});
    EXPECT_EQ(DataOf(http_->Get("/api/v1/customers", key())).size(), 1u);
  }
};

TEST_F(SdkTest, SegmentAnalyticsNodeDeliversEveryCall) {
  ShellResult r = Send("segment");

  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectDelivered("segment");
}

// RudderStack's library gzips its batches unless told not to (gzip: false).
TEST_F(SdkTest, RudderstackNodeSdkDeliversEveryCall) {
  ShellResult r = Send("rudderstack");

  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectDelivered("rudderstack");
}

// RudderStack's node library gzips its batches by default and then sends no JSON content type.
TEST_F(SdkTest, RudderstackNodeSdkWithDefaultGzip) {
  ShellResult r = Send("rudderstack", "gzip");

  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectDelivered("rudderstack");
}

}  // namespace
}  // namespace xoal::testing
