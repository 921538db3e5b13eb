// BroadcastEngine: broadcasts from definition to outbox (SPEC "Broadcasts"; design in
// docs/broadcasts.md). It serves the Broadcast API's state changes (create, update, delete,
// send, schedule, cancel) and runs one thread that starts scheduled broadcasts, snapshots each
// audience a page per transaction into `broadcast_recipients`, and hands recipients whose time
// has come to the outbox, a page per transaction, under idempotency key
// `bcast:<broadcast id>:<usid>`, within the throttle. Every page commits its work together with
// the cursor that records it, so a crash resumes where the last commit left off and a customer is
// never enqueued twice.
//
// Thread-safe. Time comes only from the injected Clock; Wake() makes the thread look again now.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "broadcasts/definition.hpp"
#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"
#include "messaging/outbox.hpp"
#include "messaging/render.hpp"
#include "store/store.hpp"

namespace xoal::broadcasts {

struct BroadcastOptions {
  int snapshot_page = 500;                    // segment members read per transaction
  int deliver_page = 500;                     // recipients enqueued per transaction (at most)
  int64_t progress_every = 10'000;            // a broadcast_progress line per this many recipients
  std::chrono::milliseconds idle_wait{1000};  // longest real-time sleep between looks
};

class BroadcastEngine {
 public:
  // `store` is the segment engine's store. `outbox` (may be null) is woken after enqueues. All
  // references must outlive the engine.
  BroadcastEngine(store::Store& store, const Clock& clock, messaging::MessageRenderer& renderer,
                  messaging::Outbox* outbox, BroadcastOptions options = {});
  ~BroadcastEngine();
  BroadcastEngine(const BroadcastEngine&) = delete;
  BroadcastEngine& operator=(const BroadcastEngine&) = delete;

  // Starts the thread. Requires: not started.
  void Start();
  // Stops the thread after its current page; the work resumes at the next Start().
  void Stop();
  // Makes the thread look at the clock and the broadcasts now.
  void Wake();
  // One round on the calling thread: starts what is due and gives each sending broadcast one
  // page. Returns whether any page did work. Requires: Start() not called, or Stop() since.
  Result<bool> RunOnce();

  // The Broadcast API. Bodies follow SPEC shape "Broadcasts". Errors: kInvalidArgument naming
  // the field (an unknown segment is "segment_id"; a schedule in the past "schedule"),
  // kNotFound for an unknown id, kConflict for a change the broadcast's status does not allow.
  Result<store::Broadcast> Create(const store::Project& project, const json::object& body);
  // draft and scheduled only; a patch without schedule keeps the stored one, "schedule": null
  // makes it a draft.
  Result<store::Broadcast> Update(const store::Project& project, std::string_view id,
                                  const json::object& patch);
  // Anything but sending.
  Status Delete(const store::Project& project, std::string_view id);
  // draft or scheduled: starts now.
  Result<store::Broadcast> Send(const store::Project& project, std::string_view id);
  // draft or scheduled, with {"schedule": {...}} or the stored schedule.
  Result<store::Broadcast> Schedule(const store::Project& project, std::string_view id,
                                    const json::object& body);
  // scheduled or sending: nothing more is enqueued once this returns.
  Result<store::Broadcast> Cancel(const store::Project& project, std::string_view id);

 private:
  void Run();
  // Applies `change` to broadcast `id` in one write, then wakes the thread.
  Result<store::Broadcast> Transition(
      const store::Project& project, std::string_view id,
      const std::function<Status(store::WriteTxn&, store::Broadcast&)>& change);
  // Checks a parsed body against the project: segment, conditions, message templates.
  Status CheckDefinition(store::ReadTxn& txn, const store::Project& project,
                         const json::object& body, store::Broadcast& out);
  // Starts scheduled broadcasts that are due; returns the earliest start still ahead.
  Result<std::optional<SystemTime>> StartDue(SystemTime now);
  // One page of work on a sending broadcast; sets `next` to when it can do more (nullopt: now
  // or never). Returns whether it did anything.
  Result<bool> Step(const store::Broadcast& b, SystemTime now, std::optional<SystemTime>& next);
  // Enqueues the recipients that are due, within the throttle; marks the broadcast sent after
  // the last. Sets `next` when it must wait. Returns whether it changed the broadcast.
  Result<bool> DeliverPage(store::WriteTxn& txn, const store::Project& project,
                           const Definition& def, store::Broadcast& b, SystemTime now,
                           std::optional<SystemTime>& next);

  // Constant after construction.
  store::Store& store_;
  const Clock& clock_;
  messaging::MessageRenderer& renderer_;
  messaging::Outbox* const outbox_;
  const BroadcastOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;    // guarded by mu_
  uint64_t wake_count_ = 0;  // guarded by mu_
  std::thread thread_;
};

// The counts of SPEC shape "Broadcasts": {"recipients", "enqueued", "sent", "failed", "pending",
// "skipped": {reason: n}, "cancelled"}, from the outbox messages of the broadcast and the engine's
// own skips.
Result<json::object> BroadcastCounts(store::ReadTxn& txn, const store::Broadcast& b);

// The broadcast as the API shows it, with `counts`.
json::object BroadcastToJson(const store::Broadcast& b, json::object counts);

}  // namespace xoal::broadcasts
