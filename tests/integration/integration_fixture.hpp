// XoalTest: the fixture of every integration test.
//
// Each test gets its own `xoal` process on a fresh data dir with one project ("alpha") made by
// the CLI before the server starts, and a keep-alive HttpClient to it. On failure the server's
// stderr tail is printed. Helpers below turn common checks into readable assertions that show
// the whole answer when they fail.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"
#include "support/xoal_process.hpp"

namespace xoal::testing {

namespace json = boost::json;

// Shows status and body when an assertion on an HttpResponse fails.
void PrintTo(const HttpResponse& r, std::ostream* os);

// Succeeds when `r` has `status`; otherwise shows the answer.
::testing::AssertionResult HasStatus(const HttpResponse& r, int status);

// Succeeds when `r` is the error answer of docs/api.md: `status`, a JSON body
// {"error": {"code": code, "message": non-empty string, ...}}, and, when `field` is given,
// "field" equal to it.
::testing::AssertionResult IsError(const HttpResponse& r, int status, std::string_view code,
                                   std::optional<std::string_view> field = std::nullopt);

// Parses `text`; records a test failure and returns null when it is not JSON.
json::value ParseJsonOrFail(std::string_view text);

// Member `key` of `v` as a string; "<missing>" or "<not a string>" otherwise, so comparisons fail
// readably instead of throwing.
std::string Str(const json::value& v, std::string_view key);

// The JSON text of the value at JSON Pointer `pointer` in `v` ("\"x\"", "42", "true", "null"),
// or "<missing>".
std::string JsonAt(const json::value& v, std::string_view pointer);

// Member `key` of object `v`, or nullptr.
const json::value* Member(const json::value& v, std::string_view key);

// Whether `v` is an object holding `key` with a null value.
bool IsNullMember(const json::value& v, std::string_view key);

// The strings of the array member `key` of `v` (non-strings skipped; empty when absent).
std::vector<std::string> Strings(const json::value& v, std::string_view key);

// The "data" array of a list answer; empty when absent.
const json::array& DataOf(const HttpResponse& r);

// Values of `key` in the objects of a list answer's "data".
std::vector<std::string> Column(const HttpResponse& r, std::string_view key);

class XoalTest : public ::testing::Test {
 protected:
  XoalTest();

  void SetUp() override;
  void TearDown() override;

  // Stops the server cleanly (exit code 0 expected), starts it again on the same data dir and
  // reconnects the client to its new port.
  void RestartServer();

  // A new client to the current server (for other threads, or a second connection).
  std::unique_ptr<HttpClient> NewClient() const;

  // Creates a customer with the management key of project alpha and returns its usid; records a
  // failure (showing the answer) and returns "" unless the answer is 201 or 200.
  std::string CreateCustomer(const json::object& body);
  std::string CreateCustomer(const json::object& body, std::string_view key);

  // Shorthand for alpha's management key.
  const std::string& key() const { return alpha_.management_key; }

  XoalProcess xoal_;
  ProjectKeys alpha_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace xoal::testing
