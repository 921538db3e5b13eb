// WorkflowEngine: runs customer journeys (SPEC "Workflows", "Workflow Trigger API"; design in
// docs/workflows.md).
//
// It is the segment engine's WriteObserver: inside the transaction of every write it starts runs
// of active workflows whose trigger the write matched, resolves wait_for_event waits and ends
// runs whose goal is met, so triggers and the runs they start commit together. One scheduler
// thread pages due runs (wake_at <= the injected clock's now) through an index and advances each
// in a transaction that also holds the step's effects (outbox message, attribute change, ...), so
// a crash never repeats nor loses a step. Runs are rows, not memory: a million waiting runs cost
// nothing here.
//
// Thread-safe. Start() after the segment engine is loaded; Stop() before the store closes.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.hpp"
#include "messaging/outbox.hpp"
#include "messaging/render.hpp"
#include "segments/engine.hpp"
#include "store/store.hpp"
#include "workflows/definition.hpp"

namespace xoal::workflows {

struct EngineOptions {
  int due_page = 200;            // runs advanced per scheduler write
  int max_steps_per_wake = 100;  // steps one run may take in one write
  std::chrono::milliseconds idle_wait{1000};
};

class WorkflowEngine final : public segments::WriteObserver {
 public:
  // All references must outlive the engine. `outbox` is woken after sends; may be null.
  WorkflowEngine(segments::SegmentEngine& segments, const Clock& clock,
                 messaging::MessageRenderer& renderer, messaging::Outbox* outbox,
                 EngineOptions options = {});
  ~WorkflowEngine() override;
  WorkflowEngine(const WorkflowEngine&) = delete;
  WorkflowEngine& operator=(const WorkflowEngine&) = delete;

  // Loads every workflow and subscribes to the segment engine's writes. Requires: once, before
  // Start() and before the segment engine's store is written.
  Status Load();
  void Start();
  void Stop();
  // Makes the scheduler re-read the clock now (a test moved it; a write woke runs).
  void Wake();
  // Advances every due run on the calling thread until none is due (tests without Start()).
  void RunDueForTest();

  // The Workflow API. Bodies follow SPEC Shapes; errors: kInvalidArgument naming the field
  // ("steps.remind.next"), kNotFound, kConflict for a change the status does not allow.
  Result<store::Workflow> Create(const store::Project& project, const json::object& body);
  Result<store::Workflow> Replace(const store::Project& project, std::string_view id,
                                  const json::object& body);
  Status Delete(const store::Project& project, std::string_view id);
  // action: activate (from draft or paused), pause (from active), archive (from any).
  Result<store::Workflow> Transition(const store::Project& project, std::string_view id,
                                     std::string_view action);
  // The Workflow Trigger API: {"runs": [...], "skipped": [...]}. kConflict unless the workflow
  // is active with an api trigger.
  Result<json::object> Trigger(const store::Project& project, std::string_view id,
                               const json::object& body);

  // Inside the write that changes the project's settings: when its timezone or users_timezone
  // changes, every active date_attribute workflow of the project scans its customers again,
  // since their moments are local times. Wake() after the commit.
  Status OnProjectSettingsChanged(store::WriteTxn& txn, const store::Project& before,
                                  const store::Project& after);

  // segments::WriteObserver
  Status OnApplied(store::WriteTxn& txn, const segments::AppliedWrite& applied) override;
  void OnCommitted() override;

  class State;

 private:
  std::unique_ptr<State> state_;
};

// API shapes.
json::object WorkflowToJson(const store::Workflow& w);
json::object RunToJson(const store::WorkflowRun& r);
json::object RunStepToJson(const store::WorkflowRunStep& s);
// Analytics of a workflow from its stats: totals and per step, and with `date_trigger` the
// customers' date timers by state.
json::object StatsToJson(const store::WorkflowStats& stats, bool date_trigger);
// Whether a saved definition has a date_attribute trigger (before it is parsed).
bool HasDateTrigger(const json::object& definition);

}  // namespace xoal::workflows
