#include "integration/integration_fixture.hpp"

#include <iostream>
#include <sstream>

namespace xoal::testing {
namespace {

const json::array kEmptyArray;

}  // namespace

void PrintTo(const HttpResponse& r, std::ostream* os) {
  *os << "HTTP " << r.status;
  if (r.status == 0) {
    *os << " (" << r.error << ")";
  }
  constexpr size_t kMaxBody = 2000;
  *os << " body=" << (r.body.size() > kMaxBody ? r.body.substr(0, kMaxBody) + "..." : r.body);
}

::testing::AssertionResult HasStatus(const HttpResponse& r, int status) {
  if (r.status == status) {
    return ::testing::AssertionSuccess();
  }
  std::ostringstream os;
  PrintTo(r, &os);
  return ::testing::AssertionFailure() << "expected HTTP " << status << ", got " << os.str();
}

::testing::AssertionResult IsError(const HttpResponse& r, int status, std::string_view code,
                                   std::optional<std::string_view> field) {
  std::ostringstream shown;
  PrintTo(r, &shown);
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure()
           << why << "; expected HTTP " << status << " code \"" << code << "\""
           << (field ? " field \"" + std::string(*field) + "\"" : std::string()) << ", got "
           << shown.str();
  };
  if (r.status != status) {
    return fail("wrong status");
  }
  const json::value* error = Member(r.json, "error");
  if (error == nullptr || !error->is_object()) {
    return fail("body is not {\"error\": {...}}");
  }
  if (Str(*error, "code") != code) {
    return fail("wrong error code");
  }
  const json::value* message = Member(*error, "message");
  if (message == nullptr || !message->is_string() || message->get_string().empty()) {
    return fail("error.message missing or empty");
  }
  const json::value* field_member = Member(*error, "field");
  if (field_member == nullptr || !(field_member->is_string() || field_member->is_null())) {
    return fail("error.field missing (SPEC's shape: a string, or null)");
  }
  if (field && Str(*error, "field") != *field) {
    return fail("wrong error field");
  }
  return ::testing::AssertionSuccess();
}

json::value ParseJsonOrFail(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    ADD_FAILURE() << "not JSON (" << ec.message() << "): " << text;
    return nullptr;
  }
  return v;
}

std::string JsonAt(const json::value& v, std::string_view pointer) {
  boost::system::error_code ec;
  const json::value* found = v.find_pointer(pointer, ec);
  if (ec || found == nullptr) {
    return "<missing>";
  }
  return json::serialize(*found);
}

const json::value* Member(const json::value& v, std::string_view key) {
  if (!v.is_object()) {
    return nullptr;
  }
  return v.get_object().if_contains(key);
}

std::string Str(const json::value& v, std::string_view key) {
  const json::value* m = Member(v, key);
  if (m == nullptr) {
    return "<missing>";
  }
  if (!m->is_string()) {
    return "<not a string: " + json::serialize(*m) + ">";
  }
  return std::string(m->get_string());
}

bool IsNullMember(const json::value& v, std::string_view key) {
  const json::value* m = Member(v, key);
  return m != nullptr && m->is_null();
}

std::vector<std::string> Strings(const json::value& v, std::string_view key) {
  std::vector<std::string> out;
  const json::value* m = Member(v, key);
  if (m == nullptr || !m->is_array()) {
    return out;
  }
  for (const auto& item : m->get_array()) {
    if (item.is_string()) {
      out.emplace_back(item.get_string());
    }
  }
  return out;
}

const json::array& DataOf(const HttpResponse& r) {
  const json::value* data = Member(r.json, "data");
  if (data == nullptr || !data->is_array()) {
    return kEmptyArray;
  }
  return data->get_array();
}

std::vector<std::string> Column(const HttpResponse& r, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& item : DataOf(r)) {
    out.push_back(Str(item, key));
  }
  return out;
}

XoalTest::XoalTest() : xoal_(XOAL_BINARY) {}

void XoalTest::SetUp() {
  alpha_ = xoal_.CreateProject("alpha");
  ASSERT_FALSE(alpha_.management_key.empty()) << "could not create project alpha";
  ASSERT_TRUE(xoal_.Start());
  http_ = NewClient();
}

void XoalTest::TearDown() {
  if (HasFailure()) {
    std::cerr << "---- xoal stderr tail (" << xoal_.stderr_path() << ") ----\n"
              << xoal_.StderrTail() << "\n---- end of xoal stderr ----\n";
  }
}

void XoalTest::RestartServer() {
  http_.reset();
  ASSERT_TRUE(xoal_.Restart());
  http_ = NewClient();
}

std::unique_ptr<HttpClient> XoalTest::NewClient() const {
  return std::make_unique<HttpClient>("127.0.0.1", xoal_.port());
}

std::string XoalTest::CreateCustomer(const json::object& body) {
  return CreateCustomer(body, key());
}

std::string XoalTest::CreateCustomer(const json::object& body, std::string_view key) {
  HttpResponse r = http_->Post("/api/v1/customers", body, key);
  if (r.status != 201 && r.status != 200) {
    ADD_FAILURE() << "creating customer " << json::serialize(body)
                  << " failed: " << ::testing::PrintToString(r);
    return {};
  }
  return Str(r.json, "usid");
}

}  // namespace xoal::testing
