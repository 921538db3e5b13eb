// BroadcastsTest: the fixture of the broadcast integration tests. The server runs with
// --test-clock and the email channel points at the SMTP sink of MessagingTest. Helpers make
// customers and segments, create and act on broadcasts, set the clock, and wait (bounded polls)
// for counts or deliveries.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "integration/messaging_fixture.hpp"

namespace xoal::testing {

class BroadcastsTest : public MessagingTest {
 protected:
  void SetUp() override;

  // A manual segment holding `usids` (in pages of 1000); returns its id.
  std::string ManualSegment(const std::vector<std::string>& usids);
  // Customers cust-0@example.com ... cust-(n-1)@example.com; returns their usids in order.
  std::vector<std::string> MakeCustomers(int n, const json::object& extra = {});

  // A marketing email broadcast body to `segment_id`.
  json::object EmailBroadcast(const std::string& segment_id);
  // POST /api/v1/broadcasts; must answer 201. Returns the id.
  std::string CreateBroadcast(const json::object& body);
  // POST /api/v1/broadcasts/{id}/{action} (send, schedule, cancel).
  HttpResponse Act(const std::string& id, const std::string& action, const json::object& body = {});
  json::value GetBroadcast(const std::string& id);
  // Polls GET /broadcasts/{id} until `pred` holds (at most kDeliveryWait); records a failure
  // with the last answer otherwise.
  json::value WaitBroadcast(const std::string& id,
                            const std::function<bool(const json::value&)>& pred,
                            std::string_view what);
  // Polls until the sink has received at least `n` messages; records a failure otherwise.
  void WaitSinkCount(size_t n);

  // POST /_test/clock {"set": iso}.
  void SetClock(const std::string& iso);
  // Every outbox message of the project (all pages of GET /api/v1/messages).
  std::vector<json::value> AllMessages();
};

// counts.<name> of a broadcast answer as an integer, or -1.
int64_t CountOf(const json::value& broadcast, std::string_view name);

}  // namespace xoal::testing
