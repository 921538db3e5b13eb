// SegmentsTest: the fixture of the segment integration tests (segments_*_test.cpp).
//
// Like XoalTest, but the server runs with `--test-clock`, so time moves only through
// POST /_test/clock, and with helpers for segments: create one and wait (bounded) until its
// background compute is done, read members and history, move the clock, ingest through the
// Segment endpoint. Every wait is a bounded poll with a short interval; nothing sleeps for timing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {

// Epoch milliseconds of an ISO-8601 time, or nullopt.
std::optional<int64_t> EpochMsOf(std::string_view iso);
// ISO-8601 UTC with milliseconds of epoch milliseconds.
std::string IsoOf(int64_t epoch_ms);

class SegmentsTest : public XoalTest {
 protected:
  static constexpr std::chrono::seconds kWaitLimit{20};
  static constexpr std::chrono::milliseconds kPollInterval{10};

  // Whether the server runs with --test-clock; the real-clock test sets it false.
  virtual bool UseTestClock() const { return true; }
  void SetUp() override;

  // POST /api/v1/segments with alpha's key; the answer must be 201. Returns the segment id.
  std::string CreateSegment(const json::object& body);
  std::string CreateDynamic(const std::string& name, const json::value& conditions);
  std::string CreateManual(const std::string& name);
  // Polls GET /segments/{id} until status is "ready" (at most kWaitLimit).
  ::testing::AssertionResult WaitReady(const std::string& id);
  // CreateDynamic and WaitReady.
  std::string ReadyDynamic(const std::string& name, const json::value& conditions);

  // The usids of every member (all pages of /segments/{id}/customers), sorted.
  std::vector<std::string> Members(const std::string& id);
  // The ids of the segments the customer is in (/customers/{usid}/segments), sorted.
  std::vector<std::string> SegmentsOf(const std::string& usid);
  bool IsMember(const std::string& segment_id, const std::string& usid);
  // Polls until IsMember(segment_id, usid) == expected (at most kWaitLimit).
  ::testing::AssertionResult WaitMembership(const std::string& segment_id, const std::string& usid,
                                            bool expected);
  // The newest history entry of `usid` in the segment with change "entered" or "exited".
  std::optional<json::object> LastChange(const std::string& segment_id, const std::string& usid,
                                         std::string_view change);

  // The test clock: {} (read), advance by `ms`, or set. Returns the new now in epoch ms.
  int64_t ClockNow();
  int64_t AdvanceClock(int64_t ms);
  int64_t SetClock(int64_t epoch_ms);

  // POST /ingest/v1/segment/event with alpha's ingestion key; the answer must accept all.
  void IngestSegment(const json::value& message);

  // PUT /api/v1/customers/{usid}/attributes {"attributes": attributes}; must answer 200.
  void PutAttributes(const std::string& usid, const json::object& attributes);
};

}  // namespace xoal::testing
