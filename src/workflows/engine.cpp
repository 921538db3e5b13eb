#include "workflows/engine.hpp"

#include <date/tz.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "core/customers.hpp"
#include "messaging/compose.hpp"

namespace xoal::workflows {
namespace {

constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxTriggerCustomers = 1000;
constexpr std::chrono::minutes kRateWindow{1};
// Customers read per write by a date trigger's scan after an activation.
constexpr int kScanPage = 500;
// A scan logs its progress at info every this many customers.
constexpr int64_t kScanLogEvery = 10000;

// A workflow as the trigger matching sees it: the row and its current definition.
struct Active {
  store::Workflow workflow;
  std::shared_ptr<const Definition> def;
};
using ProjectWorkflows = std::vector<std::shared_ptr<const Active>>;

// What a step did: go to a step, end the run, or stop until the run's wake_at.
struct Outcome {
  enum Kind { kNext, kEnd, kWait } kind = kNext;
  std::string next;  // kNext; empty next means kEnd
};

Outcome GoTo(const std::string& next) {
  return next.empty() ? Outcome{Outcome::kEnd, {}} : Outcome{Outcome::kNext, next};
}

const date::time_zone* ZoneNamed(const json::value* v) {
  if (!v || !v->is_string()) return nullptr;
  try {
    return date::locate_zone(std::string(v->get_string()));
  } catch (const std::exception&) {
    return nullptr;  // not a zone name: the caller falls back
  }
}

// The customer's time zone when the project sends at local time (users_timezone) and the
// customer has a valid one; else the project's; else UTC.
const date::time_zone* ZoneFor(const store::Project& project, const store::Customer& customer) {
  const json::value* users = project.settings.if_contains("users_timezone");
  if (users && users->is_bool() && users->get_bool()) {
    if (auto* z = ZoneNamed(customer.attributes.if_contains("timezone"))) return z;
  }
  if (auto* z = ZoneNamed(project.settings.if_contains("timezone"))) return z;
  return date::locate_zone("UTC");
}

// `base` moved by `span` (backwards when `negative`): days in local calendar days of `zone`, so
// "1 day" keeps the local time across a daylight-saving change; the rest exactly.
// `t` as a SystemTime, held to the range SystemTime can hold (1677 to 2262) instead of wrapping:
// a wait that long never ends, a moment that early is long past.
SystemTime Clamped(date::sys_time<std::chrono::milliseconds> t) {
  if (auto in_range = TimeFromEpochMillis(t.time_since_epoch().count())) return *in_range;
  return t.time_since_epoch().count() < 0 ? SystemTime::min() : SystemTime::max();
}

SystemTime AddSpan(SystemTime base, const Span& span, const date::time_zone* zone,
                   bool negative = false) {
  auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(base);
  if (span.days != 0) {
    auto local = zone->to_local(ms);
    local += date::days(negative ? -span.days : span.days);
    ms = std::chrono::time_point_cast<std::chrono::milliseconds>(
        zone->to_sys(local, date::choose::earliest));
  }
  ms += negative ? -span.exact : span.exact;
  return Clamped(ms);
}

// The first instant after `now` at which the local clock of `zone` reads `time_of_day`. On a day
// whose local time skips it (spring forward), the instant the clock jumps.
SystemTime NextTimeOfDay(SystemTime now, std::chrono::minutes time_of_day,
                         const date::time_zone* zone) {
  auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(now);
  auto local_day = date::floor<date::days>(zone->to_local(ms));
  for (int i = 0; i < 3; ++i) {
    auto candidate = zone->to_sys(local_day + date::days(i) + time_of_day, date::choose::earliest);
    if (candidate > ms) return SystemTime(candidate.time_since_epoch());
  }
  return now + std::chrono::hours(24);  // unreachable: one of three days is after now
}

// A customer attribute read as a time. A date without a time ("2026-12-24") is the start of that
// calendar day in `zone`, not midnight UTC, so "09:00 on the day" is the 24th everywhere. nullopt
// when missing, not a time, or outside the years SystemTime holds.
std::optional<SystemTime> AttributeTime(const store::Customer& customer, std::string_view name,
                                        const date::time_zone* zone) {
  json::value v = segments::CustomerAttribute(customer, name);
  if (v.is_string() && v.get_string().size() == 10) {
    std::istringstream in{std::string(v.get_string())};
    date::local_days day;
    in >> date::parse("%F", day);
    if (in.fail()) return std::nullopt;
    auto start = std::chrono::time_point_cast<std::chrono::milliseconds>(
        zone->to_sys(day, date::choose::earliest));
    return TimeFromEpochMillis(start.time_since_epoch().count());
  }
  return ParseJsonTime(v);
}

// When a date_attribute trigger starts the customer's run: the attribute's time (AttributeTime)
// moved by the offset, or with `at` that local time on the local day the moved time falls on.
// nullopt when the attribute is missing or not a time.
std::optional<SystemTime> DateTriggerMoment(const Trigger& t, const store::Customer& customer,
                                            const date::time_zone* zone) {
  auto base = AttributeTime(customer, t.attribute, zone);
  if (!base) return std::nullopt;
  SystemTime moved = AddSpan(*base, t.offset, zone, t.offset_negative);
  if (!t.at) return moved;
  auto local_day = date::floor<date::days>(
      zone->to_local(std::chrono::time_point_cast<std::chrono::milliseconds>(moved)));
  return Clamped(zone->to_sys(local_day + *t.at, date::choose::earliest));
}

// The workflow's send_rate_per_minute, counted in the store in the same write as the send, so
// a crash or restart keeps the minute's count. nullopt: the send may go now (and is counted);
// else the start of the next minute, when it may.
Result<std::optional<SystemTime>> TakeSendSlot(store::WriteTxn& txn, const std::string& workflow_id,
                                               int limit, SystemTime now) {
  if (limit <= 0) return std::optional<SystemTime>();
  const int64_t minute_ms = std::chrono::milliseconds(kRateWindow).count();
  int64_t window = ToEpochMillis(now) / minute_ms;
  XOAL_ASSIGN_OR_RETURN(int count, txn.GetWorkflowSendCount(workflow_id, window));
  if (count >= limit) return std::optional<SystemTime>(FromEpochMillis((window + 1) * minute_ms));
  XOAL_RETURN_IF_ERROR(txn.PutWorkflowSendCount(workflow_id, window, count + 1));
  return std::optional<SystemTime>();
}

std::optional<std::string> KeyOf(const store::Event& e, const std::optional<std::string>& key) {
  if (!key) return std::nullopt;
  const json::value* v = e.properties.if_contains(*key);
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

// Run context member: the seq of the customer's newest event when the run entered. The run
// reaches its first steps only when the scheduler advances it, so an event that came in between
// (in the same ingest batch as the trigger, say) is looked for there, once, by the first
// wait_for_event and by an event goal; later events reach waiting runs as they are written.
constexpr std::string_view kEventsAfter = "events_after";

// The oldest event of the customer named `name` with a seq after `after_seq` that `accept`
// takes, or nullopt.
Result<std::optional<store::Event>> EventSince(
    store::ReadTxn& txn, const std::string& project_id, const std::string& usid, int64_t after_seq,
    const std::string& name, const std::function<bool(const store::Event&)>& accept) {
  constexpr int kPage = 100;
  std::optional<store::Event> oldest;
  int64_t before = 0;
  while (true) {
    XOAL_ASSIGN_OR_RETURN(auto page, txn.ListEvents(project_id, usid, before, kPage));
    for (auto& e : page) {  // newest first
      if (e.seq <= after_seq) return oldest;
      if (e.name == name && accept(e)) oldest = std::move(e);
    }
    if (page.size() < static_cast<size_t>(kPage)) return oldest;
    before = page.back().seq;
  }
}

// A deterministic number in [0, 100) for a split: the same run, step and visit always land in
// the same branch (so a re-executed step after a crash picks the same one).
int SplitBucket(const std::string& run_id, const std::string& step, int visit) {
  std::string h = Sha256Hex(fmt::format("{}:{}:{}", run_id, step, visit));
  return static_cast<int>(std::stoul(h.substr(0, 8), nullptr, 16) % 100);
}

// Whether the event matches an event filter ({"event", "where"}), evaluated on the event alone.
bool EventMatches(const std::optional<segments::Condition>& where, const store::Customer& c,
                  const store::Event& e, SystemTime now) {
  if (!where) return true;
  segments::CustomerView view;
  view.customer = &c;
  view.events = std::span<const store::Event>(&e, 1);
  return segments::Matches(*where, view, now);
}

// Whether the write applied something the trigger could start a run on (or, for a date trigger,
// that could move a customer's moment), judged by the trigger alone.
bool MayConcern(const Trigger& t, const segments::AppliedWrite& applied) {
  auto attribute_changed = [&](const std::string& also) {
    return std::any_of(applied.attributes.begin(), applied.attributes.end(), [&](const auto& kv) {
      return kv.second.contains(t.attribute) || (!also.empty() && kv.second.contains(also));
    });
  };
  switch (t.type) {
    case TriggerType::kEvent:
      return std::any_of(applied.events.begin(), applied.events.end(),
                         [&](const store::Event& e) { return e.name == t.event; });
    case TriggerType::kSegmentEntered:
    case TriggerType::kSegmentLeft:
      return std::any_of(applied.memberships.begin(), applied.memberships.end(),
                         [&](const auto& m) {
                           return m.segment_id == t.segment_id &&
                                  m.entered == (t.type == TriggerType::kSegmentEntered);
                         });
    case TriggerType::kAttributeChanged:
      return !applied.created.empty() || attribute_changed("");
    case TriggerType::kDateAttribute:
      return !applied.removed.empty() || !applied.whole.empty() || attribute_changed("timezone");
    case TriggerType::kApi:
      return false;
  }
  return false;
}

Status ValidateName(const json::object& body) {
  const json::value* v = body.if_contains("name");
  if (!v || !v->is_string() || v->get_string().empty() || v->get_string().size() > kMaxNameLength) {
    return Status::InvalidArgument("name must be a string of 1 to 200 characters", "name");
  }
  return Status::Ok();
}

// Every segment the definition names exists in the project, and the ones its steps add
// customers to or remove them from are manual, as the segment and broadcast APIs refuse an unknown
// segment: else the trigger would never fire or the step would fail for every customer.
// Errors: kInvalidArgument naming where the segment is ("trigger.segment_id",
// "steps.vip.segment_id", "entry.filter").
Status CheckSegments(store::ReadTxn& txn, const std::string& project_id, const Definition& d) {
  auto check = [&](const std::string& id, const std::string& field, bool manual) -> Status {
    XOAL_ASSIGN_OR_RETURN(auto segment, txn.GetSegment(project_id, id));
    if (!segment) return Status::InvalidArgument("no segment with id " + id, field);
    if (manual && segment->type != "manual") {
      return Status::InvalidArgument("segment " + id + " is not a manual segment", field);
    }
    return Status::Ok();
  };
  auto conditions = [&](const std::optional<segments::Condition>& c,
                        const std::string& field) -> Status {
    if (!c) return Status::Ok();
    for (const auto& id : c->dependencies().segments) XOAL_RETURN_IF_ERROR(check(id, field, false));
    return Status::Ok();
  };
  if (d.trigger.type == TriggerType::kSegmentEntered ||
      d.trigger.type == TriggerType::kSegmentLeft) {
    XOAL_RETURN_IF_ERROR(check(d.trigger.segment_id, "trigger.segment_id", false));
  }
  XOAL_RETURN_IF_ERROR(conditions(d.trigger.where, "trigger.where"));
  XOAL_RETURN_IF_ERROR(conditions(d.entry.filter, "entry.filter"));
  if (d.goal) {
    XOAL_RETURN_IF_ERROR(conditions(d.goal->where, "goal.where"));
    XOAL_RETURN_IF_ERROR(conditions(d.goal->condition, "goal"));
  }
  for (const auto& [name, step] : d.steps) {
    if (step.type == "add_to_segment" || step.type == "remove_from_segment") {
      XOAL_RETURN_IF_ERROR(check(step.segment_id, "steps." + name + ".segment_id", true));
    }
    XOAL_RETURN_IF_ERROR(conditions(step.condition, "steps." + name + ".condition"));
  }
  return Status::Ok();
}

// The body without the members that are not part of the definition.
json::object DefinitionOf(const json::object& body) {
  json::object d = body;
  for (const char* k : {"name", "id", "status", "version", "created_at", "updated_at"}) d.erase(k);
  return d;
}

}  // namespace

class WorkflowEngine::State {
 public:
  State(segments::SegmentEngine& segments, const Clock& clock, messaging::MessageRenderer& renderer,
        messaging::Outbox* outbox, EngineOptions options)
      : segments_(segments),
        clock_(clock),
        renderer_(renderer),
        outbox_(outbox),
        options_(options) {}

  // Constant after construction.
  segments::SegmentEngine& segments_;
  const Clock& clock_;
  messaging::MessageRenderer& renderer_;
  messaging::Outbox* const outbox_;
  const EngineOptions options_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const ProjectWorkflows>> active_;  // guarded by mu_
  // Parsed definitions by (workflow id, version); versions never change once runs exist.
  std::map<std::pair<std::string, int>, std::shared_ptr<const Definition>> defs_;  // mu_
  // Customers each running date-trigger scan has read since this process started (progress logs).
  std::map<std::string, int64_t> scanned_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  bool woken_ = false;                      // guarded by mu_
  std::condition_variable cv_;
  std::thread thread_;

  store::Store& store() { return segments_.store(); }

  std::shared_ptr<const ProjectWorkflows> Snapshot(const std::string& project_id) {
    std::lock_guard lock(mu_);
    auto it = active_.find(project_id);
    return it == active_.end() ? std::make_shared<ProjectWorkflows>() : it->second;
  }

  // One page of due rows (`page`, read at `now`) handled in one write, each in a nested
  // transaction of its own so that one that fails is rolled back alone and then handed, with its
  // error, to `failed` (nested too). False when nothing was due or the write failed; `what`
  // names the job in the log.
  template <typename Row>
  bool HandleDue(const char* what, SystemTime now,
                 const std::function<Result<std::vector<Row>>(store::ReadTxn&)>& page,
                 const std::function<Status(store::WriteTxn&, const Row&)>& handle,
                 const std::function<Status(store::WriteTxn&, const Row&, const Status&)>& failed) {
    std::vector<Row> due;
    Status st = store().Read([&](store::ReadTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(due, page(txn));
      return Status::Ok();
    });
    if (!st.ok() || due.empty()) return false;
    st = store().Write([&](store::WriteTxn& txn) {
      for (const auto& row : due) {
        Status one = txn.Nested([&](store::WriteTxn& t) { return handle(t, row); });
        if (one.ok()) continue;
        XOAL_RETURN_IF_ERROR(txn.Nested([&](store::WriteTxn& t) { return failed(t, row, one); }));
      }
      return Status::Ok();
    });
    if (!st.ok()) {
      spdlog::error("workflow_{}_failed rows={} error=\"{}\"", what, due.size(), st.message());
      return false;
    }
    return true;
  }

  Status ReloadProject(const std::string& project_id);
  // Drops the cached definitions of the workflow (its draft changed in place, or it is gone).
  void ForgetDefinitions(const std::string& workflow_id) {
    std::lock_guard lock(mu_);
    std::erase_if(defs_, [&](const auto& kv) { return kv.first.first == workflow_id; });
  }
  Result<std::shared_ptr<const Definition>> DefinitionFor(store::ReadTxn& txn,
                                                          const std::string& workflow_id,
                                                          int version);
  // The workflow as the transaction sees it, when it is active with a date_attribute trigger
  // (not the snapshot, which is reloaded only after a status change commits).
  Result<std::optional<Active>> ActiveDateWorkflow(store::ReadTxn& txn,
                                                   const std::string& project_id,
                                                   const std::string& workflow_id);

  // The snapshot's workflows that the write may concern (MayConcern), as the write's transaction
  // stores them: only those still active, each on its stored version.
  Result<ProjectWorkflows> StoredWorkflows(store::ReadTxn& txn, const std::string& project_id,
                                           const segments::AppliedWrite& applied);

  // Entry of one customer into a workflow; the run id, or the reason it was skipped.
  // Requires: `wf` is the workflow as `txn` stores it, active and on its current version
  // (StoredWorkflows, ActiveDateWorkflow, or the Trigger API's own read), never the snapshot.
  struct Entered {
    std::string run_id;
    std::string skipped;
  };
  Result<Entered> Enter(store::WriteTxn& txn, const store::Project& project, const Active& wf,
                        const std::string& usid, json::object context,
                        std::optional<std::string> key, SystemTime now);
  // Starts the runs the write triggers in `workflows` (StoredWorkflows).
  Status StartTriggered(store::WriteTxn& txn, const store::Project& project,
                        const ProjectWorkflows& workflows, const segments::AppliedWrite& applied);
  Status UpdateOpenRuns(store::WriteTxn& txn, const store::Project& project,
                        const std::string& usid, const segments::AppliedWrite& applied);

  // Date triggers (docs/workflows.md "Date triggers").
  // Sets the customer's timer of a date_attribute workflow from the customer's current data: a
  // new moment in the future is pending, one already past is missed, a moment that already fired
  // stays fired, and no moment (no such attribute) removes the timer.
  Status ScheduleDateTimer(store::WriteTxn& txn, const store::Project& project, const Active& wf,
                           const store::Customer& customer, SystemTime now);
  // The timers, in the date workflows of `workflows` (StoredWorkflows), of the customers whose
  // date attribute (or time zone) the write changed.
  Status RescheduleDateTimers(store::WriteTxn& txn, const store::Project& project,
                              const ProjectWorkflows& workflows,
                              const segments::AppliedWrite& applied);
  // Starts the runs of one page of due timers; false when none was due.
  bool FireDueDateTimers();
  Status FireDateTimer(store::WriteTxn& txn, const store::DateTimer& timer, SystemTime now);
  // One page of the oldest unfinished scan; false when there is none.
  bool ScanOnePage();

  // Whether the run's condition goal holds now; when it does not, sets the run's goal_at to when
  // it would turn true by time alone (nullopt: never, or no condition goal).
  Result<bool> ConditionGoalMet(store::ReadTxn& txn, const store::Project& project,
                                const Definition& def, const store::Customer& customer,
                                store::WorkflowRun& run, SystemTime now);
  // Ends the run as converted, with the `goal` step in its log.
  Status Convert(store::WriteTxn& txn, store::WorkflowRun& run, SystemTime now);
  // Re-checks the goals of one page of runs whose goal_at is due; false when none was.
  bool CheckDueGoals();
  Status CheckGoal(store::WriteTxn& txn, const store::WorkflowRun& due, SystemTime now);
  Status EndRun(store::WriteTxn& txn, store::WorkflowRun& run, std::string status, SystemTime now);
  Status Advance(store::WriteTxn& txn, const std::string& project_id, const std::string& run_id,
                 SystemTime now, bool& sent);
  bool AdvanceDue();
  void Run();
};

Status WorkflowEngine::State::ReloadProject(const std::string& project_id) {
  auto snapshot = std::make_shared<ProjectWorkflows>();
  XOAL_RETURN_IF_ERROR(store().Read([&](store::ReadTxn& txn) {
    store::PageRequest page{0, 500};
    while (true) {
      XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListWorkflows(project_id, page));
      for (auto& w : rows) {
        if (w.status != "active") continue;
        auto def = ParseDefinition(w.definition);
        if (!def.ok()) {
          spdlog::error("workflow_unreadable project_id={} workflow_id={} error=\"{}\"",
                        w.project_id, w.id, def.status().message());
          continue;
        }
        snapshot->push_back(std::make_shared<const Active>(
            Active{std::move(w), std::make_shared<const Definition>(std::move(*def))}));
      }
      if (rows.size() < static_cast<size_t>(page.limit)) return Status::Ok();
      page.after_seq = rows.back().seq;
    }
  }));
  std::lock_guard lock(mu_);
  active_[project_id] = std::move(snapshot);
  return Status::Ok();
}

Result<std::shared_ptr<const Definition>> WorkflowEngine::State::DefinitionFor(
    store::ReadTxn& txn, const std::string& workflow_id, int version) {
  {
    std::lock_guard lock(mu_);
    auto it = defs_.find({workflow_id, version});
    if (it != defs_.end()) return it->second;
  }
  XOAL_ASSIGN_OR_RETURN(auto body, txn.GetWorkflowVersion(workflow_id, version));
  if (!body)
    return Status::NotFound(fmt::format("workflow {} has no version {}", workflow_id, version));
  XOAL_ASSIGN_OR_RETURN(auto def, ParseDefinition(*body));
  auto shared = std::make_shared<const Definition>(std::move(def));
  std::lock_guard lock(mu_);
  defs_[{workflow_id, version}] = shared;
  return shared;
}

Result<std::optional<Active>> WorkflowEngine::State::ActiveDateWorkflow(
    store::ReadTxn& txn, const std::string& project_id, const std::string& workflow_id) {
  XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project_id, workflow_id));
  if (!w || w->status != "active") return std::optional<Active>();
  XOAL_ASSIGN_OR_RETURN(auto def, DefinitionFor(txn, w->id, w->version));
  if (def->trigger.type != TriggerType::kDateAttribute) return std::optional<Active>();
  return std::optional<Active>(Active{std::move(*w), std::move(def)});
}

// The snapshot is reloaded only after a pause, archive or edit commits, so a write that lands in
// between would otherwise start a run (or set a date timer) on a workflow whose stored status no
// longer allows it, or on its old version. Reading the row in the write's own transaction puts
// the decision in SQLite's single writer, after or before that change, never across it. One
// indexed read per workflow the write may trigger, not per event or customer.
Result<ProjectWorkflows> WorkflowEngine::State::StoredWorkflows(
    store::ReadTxn& txn, const std::string& project_id, const segments::AppliedWrite& applied) {
  ProjectWorkflows stored;
  for (const auto& cached : *Snapshot(project_id)) {
    if (!MayConcern(cached->def->trigger, applied)) continue;
    XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project_id, cached->workflow.id));
    if (!w || w->status != "active") continue;
    if (w->version == cached->workflow.version) {
      stored.push_back(cached);
      continue;
    }
    XOAL_ASSIGN_OR_RETURN(auto def, DefinitionFor(txn, w->id, w->version));
    stored.push_back(std::make_shared<const Active>(Active{std::move(*w), std::move(def)}));
  }
  return stored;
}

Result<WorkflowEngine::State::Entered> WorkflowEngine::State::Enter(
    store::WriteTxn& txn, const store::Project& project, const Active& wf, const std::string& usid,
    json::object context, std::optional<std::string> key, SystemTime now) {
  const Definition& def = *wf.def;
  XOAL_ASSIGN_OR_RETURN(auto customer,
                        txn.FindCustomer(project.id, store::CustomerKey::kUsid, usid));
  if (!customer) return Entered{{}, "customer_not_found"};
  if (def.entry.re_entry != ReEntry::kAlways) {
    XOAL_ASSIGN_OR_RETURN(auto last, txn.LastEntry(wf.workflow.id, usid));
    if (last && def.entry.re_entry == ReEntry::kNever) return Entered{{}, "already_entered"};
    if (last && AddSpan(*last, def.entry.cooldown, ZoneFor(project, *customer)) > now) {
      return Entered{{}, "cooling_down"};
    }
  }
  if (def.entry.filter) {
    XOAL_ASSIGN_OR_RETURN(
        bool ok, segments::MatchesStoredCustomer(txn, project, *def.entry.filter, *customer, now));
    if (!ok) return Entered{{}, "filter_not_matched"};
  }
  if (!context.contains(kEventsAfter)) {
    XOAL_ASSIGN_OR_RETURN(auto newest, txn.ListEvents(project.id, usid, 0, 1));
    context[kEventsAfter] = newest.empty() ? int64_t{0} : newest.front().seq;
  }
  store::WorkflowRun run;
  run.project_id = project.id;
  run.id = "run_" + RandomAlnum(20);
  run.workflow_id = wf.workflow.id;
  run.version = wf.workflow.version;
  run.usid = usid;
  run.run_key = std::move(key);
  run.status = "active";
  run.step = def.start;
  run.wake_at = now;
  run.context = std::move(context);
  run.started_at = now;
  run.updated_at = now;
  XOAL_RETURN_IF_ERROR(txn.InsertRun(run));
  spdlog::debug("workflow_run_started project_id={} workflow_id={} run_id={} customer_id={}",
                project.id, wf.workflow.id, run.id, usid);
  return Entered{run.id, {}};
}

Status WorkflowEngine::State::StartTriggered(store::WriteTxn& txn, const store::Project& project,
                                             const ProjectWorkflows& workflows,
                                             const segments::AppliedWrite& applied) {
  if (workflows.empty()) return Status::Ok();
  SystemTime now = applied.at;
  for (const auto& e : applied.events) {
    std::optional<store::Customer> customer;
    for (const auto& wf : workflows) {
      const workflows::Trigger& t = wf->def->trigger;
      if (t.type != TriggerType::kEvent || t.event != e.name) continue;
      if (!customer) {
        XOAL_ASSIGN_OR_RETURN(customer,
                              txn.FindCustomer(project.id, store::CustomerKey::kUsid, e.usid));
        if (!customer) break;
      }
      if (!EventMatches(t.where, *customer, e, now)) continue;
      json::object context{{"event", core::EventToJson(e)}, {kEventsAfter, e.seq}};
      XOAL_RETURN_IF_ERROR(
          Enter(txn, project, *wf, e.usid, std::move(context), KeyOf(e, t.key), now).status());
    }
  }
  for (const auto& m : applied.memberships) {
    for (const auto& wf : workflows) {
      const workflows::Trigger& t = wf->def->trigger;
      bool wanted = (t.type == TriggerType::kSegmentEntered && m.entered) ||
                    (t.type == TriggerType::kSegmentLeft && !m.entered);
      if (!wanted || t.segment_id != m.segment_id) continue;
      json::object context{{"segment", json::object{{"id", m.segment_id},
                                                    {"change", m.entered ? "entered" : "left"}}}};
      XOAL_RETURN_IF_ERROR(
          Enter(txn, project, *wf, m.usid, std::move(context), std::nullopt, now).status());
    }
  }
  for (const auto& [usid, names] : applied.attributes) {
    if (applied.created.contains(usid)) continue;  // "added", below
    for (const auto& wf : workflows) {
      const workflows::Trigger& t = wf->def->trigger;
      if (t.type != TriggerType::kAttributeChanged || !names.contains(t.attribute)) continue;
      json::object context{{"attribute", t.attribute}, {"change", "changed"}};
      XOAL_RETURN_IF_ERROR(
          Enter(txn, project, *wf, usid, std::move(context), std::nullopt, now).status());
    }
  }
  // A profile created with the attribute: it was added.
  for (const auto& usid : applied.created) {
    std::optional<store::Customer> customer;
    for (const auto& wf : workflows) {
      const workflows::Trigger& t = wf->def->trigger;
      if (t.type != TriggerType::kAttributeChanged) continue;
      if (!customer) {
        XOAL_ASSIGN_OR_RETURN(customer,
                              txn.FindCustomer(project.id, store::CustomerKey::kUsid, usid));
        if (!customer) break;
      }
      if (segments::CustomerAttribute(*customer, t.attribute).is_null()) continue;
      json::object context{{"attribute", t.attribute}, {"change", "added"}};
      XOAL_RETURN_IF_ERROR(
          Enter(txn, project, *wf, usid, std::move(context), std::nullopt, now).status());
    }
  }
  return Status::Ok();
}

// Waits resolved and goals met by what the write applied, for one customer's open runs.
Status WorkflowEngine::State::UpdateOpenRuns(store::WriteTxn& txn, const store::Project& project,
                                             const std::string& usid,
                                             const segments::AppliedWrite& applied) {
  XOAL_ASSIGN_OR_RETURN(auto runs, txn.ListOpenRunsOf(project.id, usid));
  if (runs.empty()) return Status::Ok();
  XOAL_ASSIGN_OR_RETURN(auto customer,
                        txn.FindCustomer(project.id, store::CustomerKey::kUsid, usid));
  if (!customer) return Status::Ok();
  SystemTime now = applied.at;
  for (auto& run : runs) {
    XOAL_ASSIGN_OR_RETURN(auto def, DefinitionFor(txn, run.workflow_id, run.version));
    bool converted = false;
    bool changed = false;
    for (const auto& e : applied.events) {
      if (e.usid != usid) continue;
      const std::optional<Goal>& goal = def->goal;
      if (goal && goal->event == e.name && EventMatches(goal->where, *customer, e, now)) {
        // A keyed run converts only on an event with its key (or one without the key at all).
        auto key = KeyOf(e, def->trigger.key);
        if (!run.run_key || !key || *key == *run.run_key) {
          run.context["converted_by"] = core::EventToJson(e);
          converted = true;
          break;
        }
      }
      auto step = def->steps.find(run.step);
      if (run.waiting && run.wait_event == e.name && step != def->steps.end() &&
          !run.context.contains("matched")) {
        auto key = KeyOf(e, def->trigger.key);
        if (step->second.match_key && run.run_key && key != run.run_key) continue;
        run.context["matched"] = core::EventToJson(e);
        run.wake_at = now;
        changed = true;
      }
    }
    if (!converted) {
      auto goal_at = run.goal_at;
      XOAL_ASSIGN_OR_RETURN(converted, ConditionGoalMet(txn, project, *def, *customer, run, now));
      changed = changed || run.goal_at != goal_at;
    }
    if (converted) {
      XOAL_RETURN_IF_ERROR(Convert(txn, run, now));
    } else if (changed) {
      run.updated_at = now;
      XOAL_RETURN_IF_ERROR(txn.UpdateRun(run));
    }
  }
  return Status::Ok();
}

// ---- date triggers ----

Status WorkflowEngine::State::ScheduleDateTimer(store::WriteTxn& txn, const store::Project& project,
                                                const Active& wf, const store::Customer& customer,
                                                SystemTime now) {
  const std::string& wid = wf.workflow.id;
  auto moment = DateTriggerMoment(wf.def->trigger, customer, ZoneFor(project, customer));
  XOAL_ASSIGN_OR_RETURN(auto existing, txn.GetDateTimer(wid, customer.usid));
  if (!moment) {
    return existing ? txn.DeleteDateTimers(wid, customer.usid) : Status::Ok();
  }
  std::string value =
      json::serialize(segments::CustomerAttribute(customer, wf.def->trigger.attribute));
  // The same date fires once: a fired timer stays fired while the attribute keeps its value,
  // whatever moves its instant (the customer's or the project's time zone) and even if a
  // restart's clock reads earlier than when it fired. The same moment again (another attribute
  // changed, a rescan) keeps its state too.
  if (existing && existing->state == "fired" && existing->value == value) return Status::Ok();
  if (existing && existing->fire_at == *moment && existing->state != "paused") return Status::Ok();
  store::DateTimer timer{
      project.id,      wid, customer.usid, *moment, *moment >= now ? "pending" : "missed",
      std::move(value)};
  return txn.PutDateTimer(timer);
}

Status WorkflowEngine::State::RescheduleDateTimers(store::WriteTxn& txn,
                                                   const store::Project& project,
                                                   const ProjectWorkflows& workflows,
                                                   const segments::AppliedWrite& applied) {
  for (const auto& wf : workflows) {
    const workflows::Trigger& t = wf->def->trigger;
    if (t.type != TriggerType::kDateAttribute) continue;
    // Deleted or merged away: the survivor (in `whole`) gets a timer of its own.
    for (const auto& usid : applied.removed) {
      XOAL_RETURN_IF_ERROR(txn.DeleteDateTimers(wf->workflow.id, usid));
    }
    std::set<std::string> usids = applied.whole;
    for (const auto& [usid, names] : applied.attributes) {
      if (names.contains(t.attribute) || names.contains("timezone")) usids.insert(usid);
    }
    for (const auto& usid : usids) {
      XOAL_ASSIGN_OR_RETURN(auto customer,
                            txn.FindCustomer(project.id, store::CustomerKey::kUsid, usid));
      if (customer) {
        XOAL_RETURN_IF_ERROR(ScheduleDateTimer(txn, project, *wf, *customer, applied.at));
      }
    }
  }
  return Status::Ok();
}

Status WorkflowEngine::State::FireDateTimer(store::WriteTxn& txn, const store::DateTimer& due,
                                            SystemTime now) {
  // Re-read inside the write: a timer moved, paused or fired since the page was read is left.
  XOAL_ASSIGN_OR_RETURN(auto timer, txn.GetDateTimer(due.workflow_id, due.usid));
  if (!timer || timer->state != "pending" || timer->fire_at > now) return Status::Ok();
  XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(timer->project_id));
  XOAL_ASSIGN_OR_RETURN(
      auto customer, txn.FindCustomer(timer->project_id, store::CustomerKey::kUsid, timer->usid));
  std::optional<Active> wf;
  if (project) {
    XOAL_ASSIGN_OR_RETURN(wf, ActiveDateWorkflow(txn, project->id, timer->workflow_id));
  }
  if (!customer || !wf) {
    // Deleted or merged away (the survivor has a timer of its own), or no longer active.
    return txn.DeleteDateTimers(timer->workflow_id, timer->usid);
  }
  const workflows::Trigger& t = wf->def->trigger;
  auto moment = DateTriggerMoment(t, *customer, ZoneFor(*project, *customer));
  if (moment != timer->fire_at) return ScheduleDateTimer(txn, *project, *wf, *customer, now);
  timer->state = "fired";
  XOAL_RETURN_IF_ERROR(txn.PutDateTimer(*timer));
  json::object context{{"date_attribute",
                        json::object{{"attribute", t.attribute},
                                     {"value", segments::CustomerAttribute(*customer, t.attribute)},
                                     {"at", FormatIsoTime(timer->fire_at)}}}};
  return Enter(txn, *project, *wf, customer->usid, std::move(context), std::nullopt, now).status();
}

bool WorkflowEngine::State::FireDueDateTimers() {
  SystemTime now = clock_.SystemNow();
  return HandleDue<store::DateTimer>(
      "date_triggers", now,
      [&](store::ReadTxn& txn) { return txn.DueDateTimers(now, options_.due_page); },
      [&](store::WriteTxn& txn, const store::DateTimer& t) { return FireDateTimer(txn, t, now); },
      [&](store::WriteTxn& txn, const store::DateTimer& t, const Status& error) {
        // Marked missed so that one broken timer cannot stall the others forever.
        spdlog::error("workflow_date_trigger_failed workflow_id={} customer_id={} error=\"{}\"",
                      t.workflow_id, t.usid, error.message());
        store::DateTimer missed = t;
        missed.state = "missed";
        return txn.PutDateTimer(missed);
      });
}

bool WorkflowEngine::State::ScanOnePage() {
  std::vector<store::WorkflowScan> scans;
  Status st = store().Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(scans, txn.ListWorkflowScans());
    return Status::Ok();
  });
  if (!st.ok() || scans.empty()) return false;
  const store::WorkflowScan scan = scans.front();
  SystemTime now = clock_.SystemNow();
  size_t read = 0;
  bool done = false;
  int64_t last_seq = scan.after_seq;
  st = store().Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(scan.project_id));
    std::optional<Active> wf;
    if (project) {
      XOAL_ASSIGN_OR_RETURN(wf, ActiveDateWorkflow(txn, project->id, scan.workflow_id));
    }
    if (!wf) {
      done = true;  // paused, archived or changed since: the next activation scans again
      return txn.DeleteWorkflowScan(scan.workflow_id);
    }
    XOAL_ASSIGN_OR_RETURN(auto customers, txn.ListCustomers(project->id, store::CustomerFilter{},
                                                            {scan.after_seq, kScanPage}));
    read = customers.size();
    for (const auto& c : customers) {
      XOAL_RETURN_IF_ERROR(ScheduleDateTimer(txn, *project, *wf, c, now));
    }
    done = customers.size() < static_cast<size_t>(kScanPage);
    if (!customers.empty()) last_seq = customers.back().seq;
    if (done) return txn.DeleteWorkflowScan(scan.workflow_id);
    return txn.PutWorkflowScan(
        store::WorkflowScan{scan.project_id, scan.workflow_id, customers.back().seq});
  });
  if (!st.ok()) {
    spdlog::error("workflow_scan_failed project_id={} workflow_id={} error=\"{}\"", scan.project_id,
                  scan.workflow_id, st.message());
    return false;
  }
  int64_t total = 0;
  {
    std::lock_guard lock(mu_);
    total = scanned_[scan.workflow_id] += static_cast<int64_t>(read);
    if (done) scanned_.erase(scan.workflow_id);
  }
  if (done || total / kScanLogEvery != (total - static_cast<int64_t>(read)) / kScanLogEvery) {
    // `customers` counts this process's pages; `after_seq` is where the stored scan stands, so
    // a scan resumed after a restart still shows its true position.
    spdlog::info("workflow_scan project_id={} workflow_id={} customers={} after_seq={} done={}",
                 scan.project_id, scan.workflow_id, total, last_seq, done);
  }
  return true;
}

Result<bool> WorkflowEngine::State::ConditionGoalMet(store::ReadTxn& txn,
                                                     const store::Project& project,
                                                     const Definition& def,
                                                     const store::Customer& customer,
                                                     store::WorkflowRun& run, SystemTime now) {
  run.goal_at.reset();
  if (!def.goal || !def.goal->condition) return false;
  XOAL_ASSIGN_OR_RETURN(auto match, segments::EvaluateStoredCustomer(
                                        txn, project, *def.goal->condition, customer, now));
  if (!match.matches) run.goal_at = match.next_flip;
  return match.matches;
}

Status WorkflowEngine::State::Convert(store::WriteTxn& txn, store::WorkflowRun& run,
                                      SystemTime now) {
  store::WorkflowRunStep log{
      0, run.id, run.workflow_id, "goal", ++run.visits, "goal", "converted", "", {}, now};
  XOAL_RETURN_IF_ERROR(txn.InsertRunStep(log));
  return EndRun(txn, run, "converted", now);
}

Status WorkflowEngine::State::CheckGoal(store::WriteTxn& txn, const store::WorkflowRun& due,
                                        SystemTime now) {
  // Re-read inside the write: a run ended, held or re-checked since the page was read is left.
  XOAL_ASSIGN_OR_RETURN(auto run, txn.GetRun(due.project_id, due.id));
  if (!run || run->status != "active" || !run->goal_at || *run->goal_at > now) {
    return Status::Ok();
  }
  XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(run->project_id));
  XOAL_ASSIGN_OR_RETURN(auto customer,
                        txn.FindCustomer(run->project_id, store::CustomerKey::kUsid, run->usid));
  if (!project || !customer) return EndRun(txn, *run, "exited", now);
  XOAL_ASSIGN_OR_RETURN(auto def, DefinitionFor(txn, run->workflow_id, run->version));
  XOAL_ASSIGN_OR_RETURN(bool met, ConditionGoalMet(txn, *project, *def, *customer, *run, now));
  if (met) return Convert(txn, *run, now);
  run->updated_at = now;
  return txn.UpdateRun(*run);
}

bool WorkflowEngine::State::CheckDueGoals() {
  SystemTime now = clock_.SystemNow();
  return HandleDue<store::WorkflowRun>(
      "goal_checks", now,
      [&](store::ReadTxn& txn) { return txn.DueGoalRuns(now, options_.due_page); },
      [&](store::WriteTxn& txn, const store::WorkflowRun& r) { return CheckGoal(txn, r, now); },
      [&](store::WriteTxn& txn, const store::WorkflowRun& r, const Status& error) -> Status {
        // The goal is left unchecked rather than the run stuck due for ever.
        spdlog::error("workflow_goal_check_failed run_id={} error=\"{}\"", r.id, error.message());
        XOAL_ASSIGN_OR_RETURN(auto run, txn.GetRun(r.project_id, r.id));
        if (!run) return Status::Ok();
        run->goal_at.reset();
        return txn.UpdateRun(*run);
      });
}

Status WorkflowEngine::State::EndRun(store::WriteTxn& txn, store::WorkflowRun& run,
                                     std::string status, SystemTime now) {
  run.goal_at.reset();
  run.status = std::move(status);
  run.step.clear();
  run.waiting = false;
  run.wake_at.reset();
  run.wait_event.reset();
  run.ended_at = now;
  run.updated_at = now;
  return txn.UpdateRun(run);
}

// ---- advancing a run ----

namespace {

// Everything one advance of one run works with.
struct RunContext {
  store::WriteTxn& txn;
  WorkflowEngine::State& state;
  const store::Project& project;
  store::Customer& customer;
  store::WorkflowRun& run;
  const Definition& def;
  SystemTime now;
  bool sent = false;
  std::optional<int64_t> events_after;  // the run's first advance: kEventsAfter
};

Status Log(RunContext& c, const Step& step, std::string outcome, std::string channel = {},
           json::object detail = {}) {
  store::WorkflowRunStep log{
      0,         c.run.id,           c.run.workflow_id,  step.name,         ++c.run.visits,
      step.type, std::move(outcome), std::move(channel), std::move(detail), c.now};
  return c.txn.InsertRunStep(log);
}

// Sets the run waiting at the current step until `at` (at once when `at` is not after now).
Outcome WaitUntil(RunContext& c, SystemTime at) {
  c.run.waiting = true;
  c.run.wake_at = std::max(at, c.now);
  return Outcome{Outcome::kWait, {}};
}

Result<Outcome> ExecuteWait(RunContext& c, const Step& step) {
  const date::time_zone* zone = ZoneFor(c.project, c.customer);
  if (c.run.waiting) {  // woken: the wait is over
    c.run.waiting = false;
    c.run.wait_event.reset();
    if (step.type == "wait_for_event") {
      bool matched = c.run.context.contains("matched");
      json::object detail;
      if (matched) detail["event"] = c.run.context["matched"];
      c.run.context.erase("matched");
      XOAL_RETURN_IF_ERROR(Log(c, step, matched ? "event" : "timeout", {}, std::move(detail)));
      return GoTo(matched ? step.next : step.timeout_next);
    }
    XOAL_RETURN_IF_ERROR(Log(c, step, "done"));
    return GoTo(step.next);
  }
  if (step.type == "delay") return WaitUntil(c, AddSpan(c.now, step.duration, zone));
  if (step.type == "wait_for_event") {
    c.run.context.erase("matched");
    c.run.wait_event = step.event;
    c.run.waiting = true;
    c.run.wake_at.reset();
    if (step.timeout) c.run.wake_at = AddSpan(c.now, *step.timeout, zone);
    if (c.events_after) {
      // The event may have come between the run's entry and now.
      auto key_fits = [&](const store::Event& e) {
        return !step.match_key || !c.run.run_key || KeyOf(e, c.def.trigger.key) == c.run.run_key;
      };
      XOAL_ASSIGN_OR_RETURN(auto early, EventSince(c.txn, c.project.id, c.customer.usid,
                                                   *c.events_after, step.event, key_fits));
      if (early) {
        c.run.context["matched"] = core::EventToJson(*early);
        c.run.wake_at = c.now;
      }
    }
    return Outcome{Outcome::kWait, {}};
  }
  if (step.time_of_day) return WaitUntil(c, NextTimeOfDay(c.now, *step.time_of_day, zone));
  auto t = AttributeTime(c.customer, step.attribute, zone);
  if (!t) {
    XOAL_RETURN_IF_ERROR(
        Log(c, step, "skipped", {}, json::object{{"reason", "the attribute is not a time"}}));
    return GoTo(step.next);
  }
  return WaitUntil(c, AddSpan(*t, step.offset, zone, step.offset_negative));
}

// The run's context member naming the message a send step holds for quiet hours.
constexpr std::string_view kHeldMessage = "held_message_id";

// A send step whose message the outbox held for quiet hours waits with it (SPEC: "the send waits
// for the window to open"): the next steps, and the analytics' messages_sent, come when the
// window opens, not when the message was planned. Woken then, the step is done.
Result<Outcome> ReleaseHeldSend(RunContext& c, const Step& step) {
  c.run.waiting = false;
  json::object detail;
  if (const json::value* id = c.run.context.if_contains(kHeldMessage)) detail["message_id"] = *id;
  c.run.context.erase(kHeldMessage);
  c.sent = true;
  XOAL_RETURN_IF_ERROR(Log(c, step, "sent", step.channel, std::move(detail)));
  return GoTo(step.next);
}

Result<Outcome> ExecuteSend(RunContext& c, const Step& step) {
  if (c.run.waiting) return ReleaseHeldSend(c, step);
  XOAL_ASSIGN_OR_RETURN(auto retry_at,
                        TakeSendSlot(c.txn, c.run.workflow_id, c.def.send_rate_per_minute, c.now));
  if (retry_at) {
    c.run.wake_at = *retry_at;  // the step runs again when the next minute opens
    return Outcome{Outcome::kWait, {}};
  }
  auto channel = *messaging::ParseChannel(step.channel);
  bool is_request = step.type == "http_request";
  auto fail = [&](const Status& st, std::string_view outcome) -> Result<Outcome> {
    XOAL_RETURN_IF_ERROR(
        Log(c, step, std::string(outcome), step.channel, json::object{{"reason", st.message()}}));
    return GoTo(step.next);
  };
  auto to = messaging::RecipientAddress(channel, c.customer);
  if (!to) {
    return fail(
        Status::InvalidArgument(
            "the customer has no " + std::string(messaging::AddressName(channel)), "customer"),
        "skipped");
  }
  json::value event = c.run.context.contains("event") ? c.run.context["event"] : json::value();
  const json::value* trig = c.run.context.if_contains("trigger");
  json::object trigger = trig && trig->is_object() ? trig->get_object() : json::object();
  XOAL_ASSIGN_OR_RETURN(auto data,
                        messaging::BuildTemplateData(c.txn, c.project, c.customer, trigger, event));
  auto rendered = c.state.renderer_.Render(c.project, c.customer, step.message, data);
  if (!rendered.ok()) return fail(rendered.status(), "failed");
  json::object content = std::move(rendered->message);
  const json::value* tx = content.if_contains("transactional");
  bool transactional = is_request || (tx && tx->is_bool() && tx->get_bool());
  content.erase("transactional");
  if (Status valid = messaging::CheckOutgoing(channel, content, transactional); !valid.ok()) {
    return fail(valid, "failed");
  }
  if (channel != messaging::Channel::kWebhook) content["to"] = *to;
  // One key per run and visit: the same visit never enqueues twice, a loop's next visit does.
  std::string key = fmt::format("wf-{}-{}", c.run.id, c.run.visits + 1);
  messaging::EnqueueRequest request{c.project.id, c.customer.usid, channel, std::move(content),
                                    key,          transactional};
  auto queued = messaging::EnqueueInTxn(c.txn, request, c.now);
  if (!queued.ok()) return fail(queued.status(), "failed");
  if (queued->message.status == "skipped") {
    // The outbox's policy decided at enqueue that it never goes (frequency cap, quiet hours in
    // skip mode, unsubscribed, suppressed): the log and analytics must not count it as sent.
    XOAL_RETURN_IF_ERROR(Log(
        c, step, "skipped", step.channel,
        json::object{{"reason", queued->message.skip_reason}, {"message_id", queued->message.id}}));
    return GoTo(step.next);
  }
  const json::value* outcome = queued->message.last_answer.if_contains("outcome");
  if (outcome && outcome->is_string() && outcome->get_string() == "held" &&
      queued->message.next_attempt_at) {
    XOAL_RETURN_IF_ERROR(Log(c, step, "held", step.channel,
                             json::object{{"reason", queued->message.last_answer.at("reason")},
                                          {"until", queued->message.last_answer.at("until")},
                                          {"message_id", queued->message.id}}));
    c.run.context[kHeldMessage] = queued->message.id;
    return WaitUntil(c, *queued->message.next_attempt_at);
  }
  c.sent = true;
  XOAL_RETURN_IF_ERROR(Log(c, step, is_request ? "requested" : "sent", step.channel,
                           json::object{{"message_id", queued->message.id}}));
  return GoTo(step.next);
}

Result<Outcome> ExecuteAction(RunContext& c, const Step& step) {
  const std::string& pid = c.project.id;
  Status st;
  if (step.type == "update_attributes") {
    core::WriteContext ctx{&c.project, c.now, c.now, "workflow", nullptr};
    auto updated = core::PatchCustomer(c.txn, ctx, c.customer.usid, step.attributes);
    if (updated.ok()) c.customer = std::move(*updated);
    st = updated.status();
  } else if (step.type == "add_tag") {
    st = c.txn.AddTag(pid, c.customer.usid, step.tag, c.now);
  } else if (step.type == "remove_tag") {
    st = c.txn.RemoveTag(pid, c.customer.usid, step.tag);
    if (st.IsNotFound()) st = Status::Ok();
  } else {
    st = c.state.segments_.ChangeManualMemberInTxn(c.txn, pid, step.segment_id, c.customer.usid,
                                                   step.type == "add_to_segment");
  }
  if (!st.ok() && st.code() == StatusCode::kInternal) return st;
  if (!st.ok()) {
    XOAL_RETURN_IF_ERROR(Log(c, step, "failed", {}, json::object{{"reason", st.message()}}));
  } else {
    XOAL_RETURN_IF_ERROR(Log(c, step, "done"));
  }
  return GoTo(step.next);
}

Result<Outcome> Execute(RunContext& c, const Step& step) {
  if (step.IsWait()) return ExecuteWait(c, step);
  if (step.type.starts_with("send_") || step.type == "http_request") return ExecuteSend(c, step);
  if (step.type == "branch") {
    XOAL_ASSIGN_OR_RETURN(bool yes, segments::MatchesStoredCustomer(
                                        c.txn, c.project, *step.condition, c.customer, c.now));
    XOAL_RETURN_IF_ERROR(Log(c, step, yes ? "yes" : "no"));
    return GoTo(yes ? step.yes : step.no);
  }
  if (step.type == "split") {
    int bucket = SplitBucket(c.run.id, step.name, c.run.visits + 1);
    for (size_t i = 0; i < step.branches.size(); ++i) {
      bucket -= step.branches[i].percent;
      if (bucket < 0) {
        XOAL_RETURN_IF_ERROR(Log(c, step, fmt::format("branch_{}", i)));
        return GoTo(step.branches[i].next);
      }
    }
    return GoTo({});  // unreachable: the percentages add up to 100
  }
  if (step.type == "exit") {
    XOAL_RETURN_IF_ERROR(Log(c, step, "exit"));
    return GoTo({});
  }
  return ExecuteAction(c, step);
}

}  // namespace

Status WorkflowEngine::State::Advance(store::WriteTxn& txn, const std::string& project_id,
                                      const std::string& run_id, SystemTime now, bool& sent) {
  XOAL_ASSIGN_OR_RETURN(auto run, txn.GetRun(project_id, run_id));
  // Re-read inside the write: a run woken, converted or held since the page was read is left.
  if (!run || run->status != "active" || !run->wake_at || *run->wake_at > now) return Status::Ok();
  XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(project_id));
  XOAL_ASSIGN_OR_RETURN(auto customer,
                        txn.FindCustomer(project_id, store::CustomerKey::kUsid, run->usid));
  if (!project || !customer) return EndRun(txn, *run, "exited", now);
  XOAL_ASSIGN_OR_RETURN(auto def, DefinitionFor(txn, run->workflow_id, run->version));
  XOAL_ASSIGN_OR_RETURN(bool met, ConditionGoalMet(txn, *project, *def, *customer, *run, now));
  if (met) return Convert(txn, *run, now);
  RunContext c{txn, *this, *project, *customer, *run, *def, now};
  if (const json::value* after = run->context.if_contains(kEventsAfter)) {
    c.events_after = after->is_int64() ? after->get_int64() : int64_t{0};
    run->context.erase(kEventsAfter);
    if (def->goal && !def->goal->event.empty()) {
      // A goal event written after the trigger but before this first advance converts too.
      auto goal_fits = [&](const store::Event& e) {
        auto key = KeyOf(e, def->trigger.key);
        return EventMatches(def->goal->where, *customer, e, now) &&
               (!run->run_key || !key || *key == *run->run_key);
      };
      XOAL_ASSIGN_OR_RETURN(auto goal, EventSince(txn, project_id, run->usid, *c.events_after,
                                                  def->goal->event, goal_fits));
      if (goal) {
        run->context["converted_by"] = core::EventToJson(*goal);
        return Convert(txn, *run, now);
      }
    }
  }
  for (int i = 0; i < options_.max_steps_per_wake; ++i) {
    const Step& step = def->steps.at(run->step);
    XOAL_ASSIGN_OR_RETURN(Outcome o, Execute(c, step));
    if (o.kind == Outcome::kWait) break;
    if (o.kind == Outcome::kEnd) {
      sent = sent || c.sent;
      return EndRun(txn, *run, "completed", now);
    }
    run->step = o.next;
    run->wake_at = now;  // due again at once if the step budget runs out here
  }
  sent = sent || c.sent;
  run->updated_at = now;
  return txn.UpdateRun(*run);
}

bool WorkflowEngine::State::AdvanceDue() {
  SystemTime now = clock_.SystemNow();
  bool sent = false;
  bool advanced = HandleDue<store::WorkflowRun>(
      "advance", now, [&](store::ReadTxn& txn) { return txn.DueRuns(now, options_.due_page); },
      [&](store::WriteTxn& txn, const store::WorkflowRun& r) {
        return Advance(txn, r.project_id, r.id, now, sent);
      },
      [&](store::WriteTxn& txn, const store::WorkflowRun& r, const Status& error) -> Status {
        spdlog::error("workflow_run_failed run_id={} error=\"{}\"", r.id, error.message());
        XOAL_ASSIGN_OR_RETURN(auto run, txn.GetRun(r.project_id, r.id));
        if (!run) return Status::Ok();
        store::WorkflowRunStep log{0,
                                   run->id,
                                   run->workflow_id,
                                   run->step,
                                   ++run->visits,
                                   "error",
                                   "failed",
                                   "",
                                   json::object{{"reason", error.message()}},
                                   now};
        XOAL_RETURN_IF_ERROR(txn.InsertRunStep(log));
        return EndRun(txn, *run, "failed", now);
      });
  if (sent && outbox_) outbox_->Wake();
  return advanced;
}

void WorkflowEngine::State::Run() {
  while (true) {
    bool busy = AdvanceDue();
    busy = CheckDueGoals() || busy;
    busy = FireDueDateTimers() || busy;
    busy = ScanOnePage() || busy;
    std::optional<SystemTime> next;
    (void)store().Read([&](store::ReadTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(next, txn.NextRunWake());
      XOAL_ASSIGN_OR_RETURN(auto timer, txn.NextDateTimer());
      if (timer && (!next || *timer < *next)) next = timer;
      return Status::Ok();
    });
    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (busy) continue;
    auto wait = options_.idle_wait;
    if (next) {
      auto until =
          std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.SystemNow());
      wait = std::clamp(until, std::chrono::milliseconds(0), wait);
    }
    cv_.wait_for(lock, wait, [this] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

// ---- the public face ----

WorkflowEngine::WorkflowEngine(segments::SegmentEngine& segments, const Clock& clock,
                               messaging::MessageRenderer& renderer, messaging::Outbox* outbox,
                               EngineOptions options)
    : state_(std::make_unique<State>(segments, clock, renderer, outbox, options)) {}

WorkflowEngine::~WorkflowEngine() { Stop(); }

Status WorkflowEngine::Load() {
  std::set<std::string> projects;
  XOAL_RETURN_IF_ERROR(state_->store().Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListProjects());
    for (const auto& p : rows) projects.insert(p.id);
    return Status::Ok();
  }));
  for (const auto& p : projects) XOAL_RETURN_IF_ERROR(state_->ReloadProject(p));
  state_->segments_.SetObserver(this);
  return Status::Ok();
}

void WorkflowEngine::Start() {
  std::lock_guard lock(state_->mu_);
  if (state_->thread_.joinable()) return;
  state_->stopping_ = false;
  state_->thread_ = std::thread([this] { state_->Run(); });
}

void WorkflowEngine::Stop() {
  {
    std::lock_guard lock(state_->mu_);
    state_->stopping_ = true;
  }
  state_->cv_.notify_all();
  if (state_->thread_.joinable()) state_->thread_.join();
}

void WorkflowEngine::Wake() {
  {
    std::lock_guard lock(state_->mu_);
    state_->woken_ = true;
  }
  state_->cv_.notify_all();
}

void WorkflowEngine::RunDueForTest() {
  while (state_->ScanOnePage() || state_->FireDueDateTimers() || state_->CheckDueGoals() ||
         state_->AdvanceDue()) {
  }
}

Status WorkflowEngine::OnApplied(store::WriteTxn& txn, const segments::AppliedWrite& applied) {
  XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(applied.project_id));
  if (!project) return Status::Ok();
  for (const auto& usid : applied.customers) {
    XOAL_RETURN_IF_ERROR(state_->UpdateOpenRuns(txn, *project, usid, applied));
  }
  XOAL_ASSIGN_OR_RETURN(auto workflows, state_->StoredWorkflows(txn, project->id, applied));
  XOAL_RETURN_IF_ERROR(state_->RescheduleDateTimers(txn, *project, workflows, applied));
  return state_->StartTriggered(txn, *project, workflows, applied);
}

void WorkflowEngine::OnCommitted() { Wake(); }

Status WorkflowEngine::OnProjectSettingsChanged(store::WriteTxn& txn, const store::Project& before,
                                                const store::Project& after) {
  auto setting = [](const store::Project& p, const char* name) {
    const json::value* v = p.settings.if_contains(name);
    return v ? json::serialize(*v) : std::string();
  };
  if (setting(before, "timezone") == setting(after, "timezone") &&
      setting(before, "users_timezone") == setting(after, "users_timezone")) {
    return Status::Ok();
  }
  for (const auto& wf : *state_->Snapshot(after.id)) {
    if (wf->def->trigger.type != TriggerType::kDateAttribute) continue;
    XOAL_RETURN_IF_ERROR(txn.PutWorkflowScan(store::WorkflowScan{after.id, wf->workflow.id, 0}));
  }
  return Status::Ok();
}

Result<store::Workflow> WorkflowEngine::Create(const store::Project& project,
                                               const json::object& body) {
  XOAL_RETURN_IF_ERROR(ValidateName(body));
  json::object definition = DefinitionOf(body);
  XOAL_ASSIGN_OR_RETURN(auto parsed, ParseDefinition(definition));
  XOAL_RETURN_IF_ERROR(CheckNewDefinition(parsed));
  SystemTime now = state_->clock_.SystemNow();
  store::Workflow w{
      0,       project.id, "wf_" + RandomAlnum(16), std::string(body.at("name").get_string()),
      "draft", 1,          std::move(definition),   now,
      now};
  XOAL_RETURN_IF_ERROR(state_->store().Write([&](store::WriteTxn& txn) {
    XOAL_RETURN_IF_ERROR(CheckSegments(txn, project.id, parsed));
    XOAL_RETURN_IF_ERROR(txn.PutWorkflow(w));
    return txn.InsertWorkflowVersion(w.id, w.version, w.definition, now);
  }));
  spdlog::info("workflow_created project_id={} workflow_id={}", project.id, w.id);
  return w;
}

Result<store::Workflow> WorkflowEngine::Replace(const store::Project& project, std::string_view id,
                                                const json::object& body) {
  XOAL_RETURN_IF_ERROR(ValidateName(body));
  json::object definition = DefinitionOf(body);
  XOAL_ASSIGN_OR_RETURN(auto parsed, ParseDefinition(definition));
  XOAL_RETURN_IF_ERROR(CheckNewDefinition(parsed));
  SystemTime now = state_->clock_.SystemNow();
  store::Workflow out;
  XOAL_RETURN_IF_ERROR(state_->store().Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project.id, id));
    if (!w) return Status::NotFound("no workflow with id " + std::string(id));
    if (w->status == "archived") return Status::Conflict("an archived workflow cannot change");
    w->name = std::string(body.at("name").get_string());
    if (w->definition != definition) {
      XOAL_RETURN_IF_ERROR(CheckSegments(txn, project.id, parsed));
      // A new trigger makes new date moments: the old timers go, and an active workflow scans
      // its customers again (a paused one does when it is activated).
      if (w->definition.if_contains("trigger") != nullptr &&
          w->definition.at("trigger") != definition.at("trigger")) {
        XOAL_RETURN_IF_ERROR(txn.DeleteDateTimers(w->id, std::nullopt));
        if (w->status == "active" && HasDateTrigger(definition)) {
          XOAL_RETURN_IF_ERROR(txn.PutWorkflowScan(store::WorkflowScan{project.id, w->id, 0}));
        }
      }
      // A draft has no runs: it changes in place. Otherwise runs keep their version.
      if (w->status != "draft") ++w->version;
      w->definition = definition;
      XOAL_RETURN_IF_ERROR(txn.InsertWorkflowVersion(w->id, w->version, definition, now));
    }
    w->updated_at = now;
    XOAL_RETURN_IF_ERROR(txn.PutWorkflow(*w));
    out = *w;
    return Status::Ok();
  }));
  // A draft's version 1 changed in place: a definition parsed before (a Trigger API call on the
  // draft reads it) must not outlive it, or runs would follow the old steps.
  state_->ForgetDefinitions(out.id);
  XOAL_RETURN_IF_ERROR(state_->ReloadProject(project.id));
  return out;
}

Status WorkflowEngine::Delete(const store::Project& project, std::string_view id) {
  XOAL_RETURN_IF_ERROR(state_->store().Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project.id, id));
    if (!w) return Status::NotFound("no workflow with id " + std::string(id));
    if (w->status == "active" || w->status == "paused") {
      return Status::Conflict("archive the workflow before deleting it", "status");
    }
    return txn.DeleteWorkflow(project.id, id);
  }));
  state_->ForgetDefinitions(std::string(id));
  return state_->ReloadProject(project.id);
}

Result<store::Workflow> WorkflowEngine::Transition(const store::Project& project,
                                                   std::string_view id, std::string_view action) {
  SystemTime now = state_->clock_.SystemNow();
  store::Workflow out;
  XOAL_RETURN_IF_ERROR(state_->store().Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project.id, id));
    if (!w) return Status::NotFound("no workflow with id " + std::string(id));
    const std::string from = w->status;
    if (action == "activate" && (from == "draft" || from == "paused")) {
      w->status = "active";
      XOAL_RETURN_IF_ERROR(txn.SetRunsStatus(w->id, "held", "active", now));
      // Date triggers: every customer's moment from the data as it is now (moments that passed
      // while paused are missed, as other triggers start nothing while paused).
      if (HasDateTrigger(w->definition)) {
        XOAL_RETURN_IF_ERROR(txn.PutWorkflowScan(store::WorkflowScan{project.id, w->id, 0}));
      }
    } else if (action == "pause" && from == "active") {
      w->status = "paused";
      XOAL_RETURN_IF_ERROR(txn.SetRunsStatus(w->id, "active", "held", now));
      XOAL_RETURN_IF_ERROR(txn.SetDateTimersState(w->id, "pending", "paused"));
      XOAL_RETURN_IF_ERROR(txn.DeleteWorkflowScan(w->id));
    } else if (action == "archive" && from != "archived") {
      w->status = "archived";
      XOAL_RETURN_IF_ERROR(txn.SetRunsStatus(w->id, "active", "exited", now));
      XOAL_RETURN_IF_ERROR(txn.SetRunsStatus(w->id, "held", "exited", now));
      XOAL_RETURN_IF_ERROR(txn.DeleteDateTimers(w->id, std::nullopt));
      XOAL_RETURN_IF_ERROR(txn.DeleteWorkflowScan(w->id));
    } else {
      return Status::Conflict(
          fmt::format("{} {} workflow cannot {}",
                      from == "active" || from == "archived" ? "an" : "a", from, action),
          "status");
    }
    w->updated_at = now;
    XOAL_RETURN_IF_ERROR(txn.PutWorkflow(*w));
    out = *w;
    return Status::Ok();
  }));
  spdlog::info("workflow_status project_id={} workflow_id={} status={}", project.id, out.id,
               out.status);
  XOAL_RETURN_IF_ERROR(state_->ReloadProject(project.id));
  Wake();
  return out;
}

namespace {

struct TriggerRequest {
  std::vector<json::object> customers;
  json::object data;
  std::string idempotency_key;
};

Result<TriggerRequest> ParseTriggerRequest(const json::object& body) {
  // A misspelt idempotency_key would otherwise be dropped and a retry start the runs again.
  static constexpr std::string_view kMembers[] = {"customers", "data", "idempotency_key"};
  XOAL_RETURN_IF_ERROR(CheckKnownMembers(body, kMembers, "a trigger request"));
  TriggerRequest r;
  const json::value* cs = body.if_contains("customers");
  if (!cs || !cs->is_array() || cs->get_array().empty() ||
      cs->get_array().size() > kMaxTriggerCustomers) {
    return Status::InvalidArgument("customers must be a list of 1 to 1000 customers", "customers");
  }
  for (size_t i = 0; i < cs->get_array().size(); ++i) {
    const json::object* c = cs->get_array()[i].if_object();
    bool named = c && std::any_of(c->begin(), c->end(), [](const auto& kv) {
                   return (kv.key() == "usid" || kv.key() == "user_id" || kv.key() == "email") &&
                          kv.value().is_string();
                 });
    if (!named) {
      return Status::InvalidArgument("each customer needs a usid, user_id or email",
                                     fmt::format("customers[{}]", i));
    }
    r.customers.push_back(*c);
  }
  if (const json::value* d = body.if_contains("data"); d && !d->is_null()) {
    if (!d->is_object()) return Status::InvalidArgument("data must be an object", "data");
    r.data = d->get_object();
  }
  auto key = OptionalString(body, "idempotency_key");
  if (!key.ok()) return key.status();
  r.idempotency_key = key->value_or("");
  if (key->has_value() && (r.idempotency_key.empty() || r.idempotency_key.size() > 200)) {
    return Status::InvalidArgument("idempotency_key must be 1 to 200 characters",
                                   "idempotency_key");
  }
  return r;
}

// Member of a stored Trigger API answer (workflow_trigger_keys) holding the request it answered,
// so that a key reused with another request is told apart from a retry; never shown.
constexpr std::string_view kAnsweredRequest = "request";

json::object RequestOf(const TriggerRequest& r) {
  return json::object{{"customers", json::array(r.customers.begin(), r.customers.end())},
                      {"data", r.data}};
}

// The answer stored for the request's idempotency key. A retry (the same customers and data; the
// order of members does not matter) gets it again; another request under the key is a 409, not
// a silent answer about runs it did not ask for. An answer stored before requests were kept
// cannot be told apart and is answered as a retry.
Result<json::object> StoredAnswerFor(const TriggerRequest& request, json::object stored) {
  const json::value* answered = stored.if_contains(kAnsweredRequest);
  if (answered && *answered != json::value(RequestOf(request))) {
    return Status::Conflict(
        "idempotency_key " + request.idempotency_key + " was reused with a different body",
        "idempotency_key");
  }
  stored.erase(kAnsweredRequest);
  return stored;
}

// The customer a Trigger API entry names, created when allowed; nullopt when there is none.
Result<std::optional<store::Customer>> TriggerCustomer(store::WriteTxn& txn,
                                                       const store::Project& project,
                                                       const json::object& ref, bool create,
                                                       SystemTime now) {
  static const std::pair<const char*, store::CustomerKey> kKeys[] = {
      {"usid", store::CustomerKey::kUsid},
      {"user_id", store::CustomerKey::kUserId},
      {"email", store::CustomerKey::kEmail}};
  for (const auto& [name, key] : kKeys) {
    const json::value* v = ref.if_contains(name);
    if (!v || !v->is_string()) continue;
    std::string value(v->get_string());
    if (key == store::CustomerKey::kEmail) {
      auto normal = core::NormalizeEmail(value);
      if (!normal.ok()) return Status::InvalidArgument(normal.status().message(), "email");
      value = *normal;
    }
    XOAL_ASSIGN_OR_RETURN(auto found, core::ResolveCustomer(txn, project.id, key, value));
    if (found) return found;
  }
  if (!create || ref.contains("usid")) return std::optional<store::Customer>();
  // SPEC's added_via has no "workflow": a profile the Trigger API creates came through the API.
  core::WriteContext ctx{&project, now, now, "api", nullptr};
  XOAL_ASSIGN_OR_RETURN(auto up, core::UpsertCustomer(txn, ctx, ref));
  return std::optional<store::Customer>(std::move(up.customer));
}

}  // namespace

Result<json::object> WorkflowEngine::Trigger(const store::Project& project, std::string_view id,
                                             const json::object& body) {
  XOAL_ASSIGN_OR_RETURN(auto request, ParseTriggerRequest(body));
  SystemTime now = state_->clock_.SystemNow();
  json::object answer;
  XOAL_RETURN_IF_ERROR(state_->store().Write([&](store::WriteTxn& txn) {
    if (!request.idempotency_key.empty()) {
      XOAL_ASSIGN_OR_RETURN(auto seen,
                            txn.GetTriggerAnswer(project.id, id, request.idempotency_key));
      if (seen) {
        XOAL_ASSIGN_OR_RETURN(answer, StoredAnswerFor(request, std::move(*seen)));
        return Status::Ok();
      }
    }
    XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project.id, id));
    if (!w) return Status::NotFound("no workflow with id " + std::string(id));
    XOAL_ASSIGN_OR_RETURN(auto def, state_->DefinitionFor(txn, w->id, w->version));
    if (w->status != "active") return Status::Conflict("the workflow is not active", "status");
    if (def->trigger.type != TriggerType::kApi) {
      return Status::Conflict("the workflow's trigger is not api", "trigger.type");
    }
    Active wf{*w, def};
    json::array runs, skipped;
    for (size_t i = 0; i < request.customers.size(); ++i) {
      const json::object& ref = request.customers[i];
      auto customer = TriggerCustomer(txn, project, ref, def->trigger.create_customers, now);
      if (!customer.ok() && customer.status().code() == StatusCode::kInvalidArgument) {
        // Nothing of this write commits: the 422 names the entry (a bad email, or a bad
        // attribute of a profile it would create).
        return customer.status().WithFieldPrefix(fmt::format("customers[{}]", i));
      }
      if (!customer.ok()) return customer.status();
      const std::optional<store::Customer>& found = *customer;
      State::Entered entered{{}, "customer_not_found"};
      if (found) {
        json::object context{{"trigger", request.data}};
        XOAL_ASSIGN_OR_RETURN(entered, state_->Enter(txn, project, wf, found->usid,
                                                     std::move(context), std::nullopt, now));
      }
      if (entered.run_id.empty()) {
        skipped.push_back(json::object{{"customer", ref}, {"reason", entered.skipped}});
      } else {
        json::object named = ref;
        named["usid"] = found->usid;
        runs.push_back(json::object{{"customer", std::move(named)}, {"run_id", entered.run_id}});
      }
    }
    answer = json::object{{"runs", std::move(runs)}, {"skipped", std::move(skipped)}};
    if (request.idempotency_key.empty()) return Status::Ok();
    json::object stored = answer;
    stored[kAnsweredRequest] = RequestOf(request);
    return txn.PutTriggerAnswer(project.id, id, request.idempotency_key, stored, now);
  }));
  Wake();
  return answer;
}

json::object WorkflowToJson(const store::Workflow& w) {
  json::object out = w.definition;
  out["id"] = w.id;
  out["name"] = w.name;
  out["status"] = w.status;
  out["version"] = w.version;
  out["created_at"] = FormatIsoTime(w.created_at);
  out["updated_at"] = FormatIsoTime(w.updated_at);
  return out;
}

json::object RunToJson(const store::WorkflowRun& r) {
  auto time = [](const std::optional<SystemTime>& t) {
    return t ? json::value(FormatIsoTime(*t)) : json::value(nullptr);
  };
  return json::object{{"id", r.id},
                      {"workflow_id", r.workflow_id},
                      {"version", r.version},
                      {"usid", r.usid},
                      {"key", r.run_key ? json::value(*r.run_key) : json::value(nullptr)},
                      {"status", r.status},
                      {"step", r.step.empty() ? json::value(nullptr) : json::value(r.step)},
                      {"waiting", r.waiting},
                      {"wake_at", time(r.wake_at)},
                      {"goal_at", time(r.goal_at)},
                      {"started_at", FormatIsoTime(r.started_at)},
                      {"updated_at", FormatIsoTime(r.updated_at)},
                      {"ended_at", time(r.ended_at)}};
}

json::object RunStepToJson(const store::WorkflowRunStep& s) {
  json::object out{{"step", s.step},       {"visit", s.visit},   {"type", s.type},
                   {"outcome", s.outcome}, {"detail", s.detail}, {"at", FormatIsoTime(s.at)}};
  if (!s.channel.empty()) out["channel"] = s.channel;
  return out;
}

bool HasDateTrigger(const json::object& definition) {
  const json::value* t = definition.if_contains("trigger");
  const json::value* type = t && t->is_object() ? t->get_object().if_contains("type") : nullptr;
  return type && type->is_string() && type->get_string() == "date_attribute";
}

json::object StatsToJson(const store::WorkflowStats& stats, bool date_trigger) {
  auto runs = [&](const char* status) {
    auto it = stats.runs_by_status.find(status);
    return it == stats.runs_by_status.end() ? int64_t{0} : it->second;
  };
  int64_t entered = 0;
  for (const auto& [status, n] : stats.runs_by_status) entered += n;
  json::object sent_total;
  json::object steps;
  for (const auto& [step, outcomes] : stats.steps) {
    int64_t invoked = 0;
    json::object by_outcome;
    for (const auto& [outcome, n] : outcomes) {
      // A held message logs `held`, then `sent` when the window opens: one invocation.
      if (outcome != "held") invoked += n;
      by_outcome[outcome] = n;
    }
    json::object sent;
    if (auto it = stats.sent.find(step); it != stats.sent.end()) {
      for (const auto& [channel, n] : it->second) {
        sent[channel] = n;
        int64_t before = sent_total.contains(channel) ? sent_total[channel].as_int64() : 0;
        sent_total[channel] = before + n;
      }
    }
    steps[step] = json::object{{"invoked", invoked},
                               {"outcomes", std::move(by_outcome)},
                               {"messages_sent", std::move(sent)}};
  }
  json::object out{{"entered", entered},
                   {"in_progress", runs("active") + runs("held")},
                   {"completed", runs("completed") + runs("converted")},
                   {"conversions", runs("converted")},
                   {"exited", runs("exited")},
                   {"failed", runs("failed")},
                   {"messages_sent", std::move(sent_total)},
                   {"steps", std::move(steps)}};
  if (date_trigger) {
    json::object timers;
    for (const char* state : {"pending", "fired", "missed", "paused"}) {
      auto it = stats.date_timers.find(state);
      timers[state] = it == stats.date_timers.end() ? int64_t{0} : it->second;
    }
    out["date_triggers"] = std::move(timers);
  }
  return out;
}

}  // namespace xoal::workflows
