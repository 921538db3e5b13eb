// SegmentEngine: keeps every dynamic segment's membership exact and current (SPEC, Segments).
//
// It wraps the store: every write made through store() is followed, in the same transaction, by
// the re-evaluation of the segments it can affect for the customers it touched (see
// tracking_txn.hpp and docs/segments.md), so a membership changes in the same commit as the data
// that changes it. Time-based conditions keep a durable timer per (segment, customer) at the
// exact instant they can flip; a timer thread re-evaluates them then, with no new data. A new or
// edited segment is computed over existing customers by a background job, a page per
// transaction, while ingestion goes on. Every entry and exit is recorded with its time and, once
// committed, published to the listeners.
//
// Thread-safe. Listeners are called on the thread whose write committed the change, after the
// commit, and must not block for long.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "segments/condition.hpp"
#include "store/store.hpp"

namespace xoal::segments {

struct MembershipChange {
  std::string project_id;
  std::string segment_id;
  std::string usid;
  bool entered = true;
  SystemTime at;
};

class MembershipListener {
 public:
  virtual ~MembershipListener() = default;
  virtual void OnMembershipChanges(const std::vector<MembershipChange>& changes) = 0;
};

// What one committed write applied, as the workflow engine reads it (docs/workflows.md).
struct AppliedWrite {
  std::string project_id;
  SystemTime at;
  const std::vector<store::Event>& events;  // inserted, in order
  // usid -> names of the attributes the write changed on a profile it read first (updates, and
  // the survivor of a merge); a created profile may list the attributes set after its insert.
  std::map<std::string, std::set<std::string>> attributes;
  // Customers created or merged into (or rewritten without a diff): any attribute may be new.
  std::set<std::string> whole;
  std::set<std::string> created;  // customers the write created (a subset of `whole`)
  std::set<std::string> removed;  // customers the write deleted or merged into another
  const std::vector<MembershipChange>& memberships;  // entries and exits recorded
  std::set<std::string> customers;                   // every customer the write touched
};

// Sees every write made through SegmentEngine::store() (and the engine's own timer, compute and
// manual-membership writes) inside its transaction, after segment upkeep.
class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  // Runs in the write's transaction on the inner (untracked) txn; a failure rolls the whole
  // write back.
  virtual Status OnApplied(store::WriteTxn& txn, const AppliedWrite& applied) = 0;
  // After such a write committed.
  virtual void OnCommitted() = 0;
};

struct PreviewResult {
  int64_t size = 0;
  std::vector<store::Customer> sample;
};

class SegmentEngine {
 public:
  SegmentEngine(store::Store& inner, const Clock& clock);
  ~SegmentEngine();
  SegmentEngine(const SegmentEngine&) = delete;
  SegmentEngine& operator=(const SegmentEngine&) = delete;

  // Loads every segment. Requires: called once, before Start() and before store() is written.
  Status Load();
  // Starts the timer thread and resumes computing segments left `computing`.
  void Start();
  // Stops both threads; a segment still computing resumes at the next Start().
  void Stop();
  // Re-reads the clock now (after a test moved it) instead of at the next tick.
  void Wake();
  // Runs, on the calling thread, every timer due at the clock's now and every pending background
  // compute, until none is left, so an in-process test sees the state the timer thread would
  // reach. Requires: Start() not called (or Stop() called since).
  void RunPendingWorkForTest();

  // The store to read and write through. Writes keep segments current.
  store::Store& store() { return *tracked_; }

  void Subscribe(MembershipListener* listener);
  // Requires: called before Start() and before store() is written; `observer` outlives the engine.
  void SetObserver(WriteObserver* observer);

  // Adds `usid` to (or removes it from) manual segment `segment_id` inside a write made through
  // store(): `txn` must be the txn that write was given. Segments reading it are re-evaluated and
  // the change is published like any other. A customer already in (or out) is left alone.
  // Errors: kNotFound for an unknown segment, kInvalidArgument for a dynamic one.
  Status ChangeManualMemberInTxn(store::WriteTxn& txn, const std::string& project_id,
                                 const std::string& segment_id, const std::string& usid, bool add);

  // The segment API. Bodies follow SPEC Shapes (`{"name", "type", "conditions"}`); errors
  // name the bad field (kInvalidArgument, also for a cycle of segments), kNotFound for an
  // unknown id, kConflict for a delete of a segment that others read.
  Result<store::Segment> Create(const store::Project& project, const json::object& body);
  Result<store::Segment> Update(const store::Project& project, std::string_view id,
                                const json::object& patch);
  Status Delete(const store::Project& project, std::string_view id);
  // Adds customers to / removes one from a manual segment.
  Status AddMembers(const store::Project& project, std::string_view id,
                    const std::vector<std::string>& usids);
  Status RemoveMember(const store::Project& project, std::string_view id, std::string_view usid);
  // Size and a sample of who matches `conditions` now, without saving anything.
  Result<PreviewResult> Preview(const store::Project& project, const json::value& conditions,
                                size_t sample_size);

  class State;  // defined in engine.cpp

 private:
  std::unique_ptr<State> state_;
  std::unique_ptr<store::Store> tracked_;
};

// Whether the stored `customer` of `project` matches `condition` at `now`, reading what the
// condition needs from `txn`: companies, events only when it reads events, memberships of other
// segments. For callers outside the engine (broadcast audiences, workflow filters).
Result<bool> MatchesStoredCustomer(store::ReadTxn& txn, const store::Project& project,
                                   const Condition& condition, const store::Customer& customer,
                                   SystemTime now);

// MatchesStoredCustomer, and when the answer flips if the data does not change (NextFlipTime).
struct StoredMatch {
  bool matches = false;
  std::optional<SystemTime> next_flip;
};
Result<StoredMatch> EvaluateStoredCustomer(store::ReadTxn& txn, const store::Project& project,
                                           const Condition& condition,
                                           const store::Customer& customer, SystemTime now);

// The segment as the API shows it; `size` is its member count.
json::object SegmentToJson(const store::Segment& s, int64_t size);
json::object SegmentChangeToJson(const store::SegmentChange& c);

}  // namespace xoal::segments
