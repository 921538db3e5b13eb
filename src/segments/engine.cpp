#include "segments/engine.hpp"

#include <date/tz.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "segments/event_cache.hpp"
#include "segments/tracking_txn.hpp"

namespace xoal::segments {
namespace {

using internal::Changes;
using internal::Dirty;
using internal::EventCache;
using internal::EventQuery;
using internal::TrackingTxn;

// TODO: a view loads at most this many of a customer's newest events; a customer with more
// events than that is evaluated on the newest ones only.
constexpr int kMaxEventsPerView = EventCache::kMaxPerCustomer;
// Events the engine keeps of recently evaluated customers (EventCache), in all: some hundred MB
// at most, so that the customers active now are evaluated without reading their events.
constexpr size_t kCachedEvents = 300'000;
// Small pages: each is evaluated inside one write transaction, which holds the single writer.
constexpr int kScanPage = 100;
constexpr int kTimerBatch = 500;
constexpr std::chrono::seconds kIdleWait{1};
constexpr size_t kMaxNameLength = 200;

// One segment of a project as the engine evaluates it.
struct Def {
  store::Segment segment;
  std::optional<Condition> condition;  // dynamic segments only
};

// A project's segments, dynamic ones in dependency order (a segment after those it reads).
struct ProjectSegments {
  std::vector<Def> defs;
};

bool Intersects(const std::vector<std::string>& wanted, const std::set<std::string>& changed) {
  for (const auto& w : wanted) {
    if (changed.contains(w)) return true;
  }
  return false;
}

bool Affects(const Def& def, const Dirty& dirty) {
  if (dirty.all || dirty.segments.contains(def.segment.id)) return true;
  const Dependencies& d = def.condition->dependencies();
  return Intersects(d.attributes, dirty.attributes) || Intersects(d.events, dirty.events) ||
         Intersects(d.tags, dirty.tags) ||
         (dirty.companies && (!d.companies.empty() || !d.company_attributes.empty()));
}

// Orders `defs` so that a segment comes after every segment it reads. Requires: no cycle.
std::vector<Def> TopologicalOrder(std::vector<Def> defs) {
  std::vector<Def> out;
  std::set<std::string> placed;
  while (!defs.empty()) {
    size_t before = defs.size();
    for (auto it = defs.begin(); it != defs.end();) {
      bool ready = true;
      if (it->condition) {
        for (const auto& dep : it->condition->dependencies().segments) {
          bool known = std::any_of(defs.begin(), defs.end(),
                                   [&](const Def& d) { return d.segment.id == dep; });
          if (known && !placed.contains(dep)) ready = false;
        }
      }
      if (ready) {
        placed.insert(it->segment.id);
        out.push_back(std::move(*it));
        it = defs.erase(it);
      } else {
        ++it;
      }
    }
    if (defs.size() == before) {  // a cycle slipped through: keep going rather than loop
      for (auto& d : defs) out.push_back(std::move(d));
      break;
    }
  }
  return out;
}

const date::time_zone* ProjectZone(const store::Project* project) {
  if (!project) return nullptr;
  auto it = project->settings.find("timezone");
  if (it == project->settings.end() || !it->value().is_string()) return nullptr;
  try {
    return date::locate_zone(std::string(it->value().get_string()));
  } catch (const std::exception&) {
    return nullptr;  // validated when set; an unknown name falls back to UTC
  }
}

// What evaluation reads about one customer: the customer the caller holds, the rest owned.
struct ViewData {
  const store::Customer* customer = nullptr;
  std::vector<store::Company> companies;
  std::vector<store::Event> events;
};

// Which of a customer's events an evaluation of some conditions at one instant reads: those
// with the names they read, no older than the oldest that can count for any of them.
EventQuery EventsFor(const std::vector<const Condition*>& conditions, SystemTime now) {
  std::set<std::string> names;
  std::optional<SystemTime> since;
  bool any_age = false;
  for (const Condition* c : conditions) {
    const Dependencies& d = c->dependencies();
    if (d.events.empty()) continue;
    names.insert(d.events.begin(), d.events.end());
    if (auto mine = EventsSince(d, now)) {
      since = std::min(since.value_or(*mine), *mine);
    } else {
      any_age = true;
    }
  }
  return EventQuery{{names.begin(), names.end()}, any_age ? std::nullopt : since};
}

// Loads what evaluation reads about `customer`: its companies and the events `events` asks for.
// Requires: `customer` outlives the result.
Result<ViewData> LoadView(store::ReadTxn& txn, const store::Customer& customer,
                          const EventQuery& events) {
  ViewData v;
  v.customer = &customer;
  const std::string& pid = customer.project_id;
  XOAL_ASSIGN_OR_RETURN(auto memberships, txn.ListMembershipsOf(pid, customer.usid));
  for (const auto& m : memberships) {
    XOAL_ASSIGN_OR_RETURN(auto company, txn.GetCompany(pid, m.company_id));
    if (company) v.companies.push_back(std::move(*company));
  }
  if (!events.names.empty()) {
    XOAL_ASSIGN_OR_RETURN(v.events, txn.ListEventsNamed(pid, customer.usid, events.names,
                                                        events.since, kMaxEventsPerView));
  }
  return v;
}

// The view of `v` in `zone`; `in_segment` answers the customer's memberships of other segments.
CustomerView ViewOf(const ViewData& v, const date::time_zone* zone,
                    std::function<bool(std::string_view)> in_segment) {
  CustomerView view;
  view.customer = v.customer;
  view.companies = v.companies;
  view.events = v.events;
  view.timezone = zone;
  view.in_segment = std::move(in_segment);
  return view;
}

// The same, with memberships read from `txn` as they are asked for.
CustomerView ViewOf(const ViewData& v, store::ReadTxn& txn, const date::time_zone* zone) {
  return ViewOf(v, zone, [&txn, &v](std::string_view segment_id) {
    auto member = txn.IsSegmentMember(segment_id, v.customer->usid);
    return member.ok() && *member;
  });
}

Status ValidateName(const json::value& v) {
  if (!v.is_string() || v.get_string().empty() || v.get_string().size() > kMaxNameLength) {
    return Status::InvalidArgument("name must be a string of 1 to 200 characters", "name");
  }
  return Status::Ok();
}

}  // namespace

class SegmentEngine::State {
 public:
  State(store::Store& inner, const Clock& clock) : inner_(inner), clock_(clock) {}

  store::Store& inner_;
  const Clock& clock_;
  EventCache events_{kCachedEvents};

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const ProjectSegments>> projects_;  // guarded by mu_
  // Reloads are numbered as they start; projects_ keeps the newest-started one's snapshot.
  uint64_t reloads_started_ = 0;                // guarded by mu_
  std::map<std::string, uint64_t> reload_of_;   // guarded by mu_: project -> its snapshot's number
  std::vector<MembershipListener*> listeners_;  // guarded by mu_
  WriteObserver* observer_ = nullptr;           // set before Start(); constant afterwards
  // Segments whose membership is being computed from scratch: (project, id) -> where the
  // compute is and which run it is. A restart (new conditions) is a new run: a page of an older
  // run still in flight then neither moves the cursor nor marks the segment ready.
  struct Compute {
    int64_t cursor = 0;
    uint64_t run = 0;
  };
  std::map<std::pair<std::string, std::string>, Compute> computing_;  // guarded by mu_
  uint64_t compute_runs_ = 0;                                         // guarded by mu_
  bool stopping_ = false;                                             // guarded by mu_
  bool woken_ = false;                                                // guarded by mu_
  std::condition_variable cv_;
  std::thread thread_;

  std::shared_ptr<const ProjectSegments> Snapshot(const std::string& project_id) {
    std::lock_guard lock(mu_);
    auto it = projects_.find(project_id);
    return it == projects_.end() ? std::make_shared<ProjectSegments>() : it->second;
  }

  // Starts computing a segment from its first customer, as a new run.
  void StartCompute(const std::string& project_id, const std::string& segment_id) {
    std::lock_guard lock(mu_);
    computing_[{project_id, segment_id}] = Compute{0, ++compute_runs_};
  }
  // Whether `run` is still the compute of the segment (not cancelled or restarted since).
  bool IsCurrentRun(const std::pair<std::string, std::string>& key, uint64_t run) {
    std::lock_guard lock(mu_);
    auto it = computing_.find(key);
    return it != computing_.end() && it->second.run == run;
  }

  // Re-reads one project's segments from the store into the snapshot. Reloads may overlap (the
  // compute thread after a segment is ready, an API call after creating one): a reload that
  // started earlier may have read before a newer segment was written, so it never replaces the
  // snapshot of a reload that started after it.
  Status ReloadProject(const std::string& project_id) {
    uint64_t number = 0;
    {
      std::lock_guard lock(mu_);
      number = ++reloads_started_;
    }
    std::vector<store::Segment> rows;
    XOAL_RETURN_IF_ERROR(inner_.Read([&](store::ReadTxn& txn) {
      store::PageRequest page{0, 1000};
      while (true) {
        XOAL_ASSIGN_OR_RETURN(auto part, txn.ListSegments(project_id, page));
        rows.insert(rows.end(), part.begin(), part.end());
        if (part.size() < static_cast<size_t>(page.limit)) return Status::Ok();
        page.after_seq = part.back().seq;
      }
    }));
    std::vector<Def> defs;
    for (auto& s : rows) {
      Def d{std::move(s), std::nullopt};
      if (d.segment.type == "dynamic") {
        auto cond = ParseCondition(d.segment.conditions);
        if (!cond.ok()) {
          spdlog::error("segment_unreadable project_id={} segment_id={} error=\"{}\"", project_id,
                        d.segment.id, cond.status().message());
          continue;
        }
        d.condition = std::move(*cond);
      }
      defs.push_back(std::move(d));
    }
    auto snapshot = std::make_shared<ProjectSegments>();
    snapshot->defs = TopologicalOrder(std::move(defs));
    std::lock_guard lock(mu_);
    uint64_t& current = reload_of_[project_id];
    if (number < current) return Status::Ok();
    current = number;
    projects_[project_id] = std::move(snapshot);
    return Status::Ok();
  }

  void Publish(const std::vector<MembershipChange>& changes) {
    std::vector<MembershipListener*> listeners;
    {
      std::lock_guard lock(mu_);
      listeners = listeners_;
    }
    for (auto* l : listeners) l->OnMembershipChanges(changes);
  }

  Status Record(store::WriteTxn& txn, const std::string& pid, const std::string& sid,
                const std::string& usid, bool entered, SystemTime at,
                std::vector<MembershipChange>& out) {
    if (entered) {
      XOAL_RETURN_IF_ERROR(txn.AddSegmentMember(pid, sid, usid, at));
    } else {
      XOAL_RETURN_IF_ERROR(txn.RemoveSegmentMember(sid, usid));
    }
    store::SegmentChange change{0, pid, sid, usid, entered, at};
    XOAL_RETURN_IF_ERROR(txn.InsertSegmentChange(change));
    out.push_back(MembershipChange{pid, sid, usid, entered, at});
    return Status::Ok();
  }

  // A removed customer leaves every segment; a merged one hands its manual memberships to the
  // survivor (dynamic ones follow from re-evaluating the survivor).
  Status ApplyRemoval(store::WriteTxn& txn, const ProjectSegments& segs, const std::string& pid,
                      const std::string& usid, const std::string& into, SystemTime now,
                      std::vector<MembershipChange>& out) {
    XOAL_ASSIGN_OR_RETURN(auto ids, txn.ListSegmentsOf(pid, usid));
    for (const auto& sid : ids) {
      auto def = std::find_if(segs.defs.begin(), segs.defs.end(),
                              [&](const Def& d) { return d.segment.id == sid; });
      if (def != segs.defs.end() && def->segment.type == "manual" && !into.empty()) {
        XOAL_ASSIGN_OR_RETURN(bool member, txn.IsSegmentMember(sid, into));
        if (!member) {
          XOAL_RETURN_IF_ERROR(Record(txn, pid, sid, into, true, now, out));
        }
      }
      XOAL_RETURN_IF_ERROR(Record(txn, pid, sid, usid, false, now, out));
      XOAL_RETURN_IF_ERROR(txn.SetSegmentTimer(pid, sid, usid, std::nullopt));
    }
    return Status::Ok();
  }

  // Re-evaluates for `usid` the segments `dirty` can affect. The profile comes from `tracking`
  // when the write left a fresh copy of it (the usual case: ingestion reads, then updates).
  Status Evaluate(store::WriteTxn& txn, const TrackingTxn& tracking, const ProjectSegments& segs,
                  const store::Project* project, const std::string& usid, const Dirty& dirty,
                  SystemTime now, std::vector<MembershipChange>& out) {
    std::set<std::string> candidates;
    for (const auto& d : segs.defs) {
      if (d.condition && Affects(d, dirty)) candidates.insert(d.segment.id);
    }
    if (candidates.empty()) return Status::Ok();
    const store::Customer* customer = tracking.FreshCopy(usid);
    if (customer && customer->project_id != project->id) customer = nullptr;
    std::optional<store::Customer> read;
    if (!customer) {
      XOAL_ASSIGN_OR_RETURN(read, txn.FindCustomer(project->id, store::CustomerKey::kUsid, usid));
      if (!read) return Status::Ok();
      customer = &*read;
    }
    // The segments that may be evaluated: the candidates and, as a change of one spreads to the
    // segments reading it, every segment that reads them. Defs are in dependency order, so one
    // pass finds them all; only their events are loaded.
    std::set<std::string> reachable = candidates;
    std::vector<const Condition*> conditions;
    for (const auto& d : segs.defs) {
      if (!d.condition) continue;
      const auto& reads = d.condition->dependencies().segments;
      if (std::any_of(reads.begin(), reads.end(),
                      [&](const std::string& r) { return reachable.contains(r); })) {
        reachable.insert(d.segment.id);
      }
      if (reachable.contains(d.segment.id)) conditions.push_back(&*d.condition);
    }
    XOAL_ASSIGN_OR_RETURN(auto data, LoadView(txn, *customer, EventQuery{}));
    EventQuery query = EventsFor(conditions, now);
    const std::vector<store::Event>* events = nullptr;
    if (!query.names.empty()) {
      events = events_.Find(project->id, usid, query);
      if (!events) {
        EventQuery wide = events_.Widen(project->id, usid, query);
        XOAL_ASSIGN_OR_RETURN(data.events, txn.ListEventsNamed(project->id, usid, wide.names,
                                                               wide.since, kMaxEventsPerView));
        events = events_.Put(project->id, usid, wide, data.events);
        if (!events && (wide.names != query.names || wide.since != query.since)) {
          // Too many to keep: the newest of the names and window asked for, as without the
          // cache (in an older window, older events sent in later could push out some that
          // count).
          XOAL_ASSIGN_OR_RETURN(data.events, txn.ListEventsNamed(project->id, usid, query.names,
                                                                 query.since, kMaxEventsPerView));
        }
      }
    }
    // The customer's memberships, read once and kept current as this evaluation records changes:
    // the conditions that read other segments see the changes made before them.
    XOAL_ASSIGN_OR_RETURN(auto ids, txn.ListSegmentsOf(project->id, usid));
    std::set<std::string, std::less<>> member_of(ids.begin(), ids.end());
    CustomerView view = ViewOf(data, ProjectZone(project), [&member_of](std::string_view sid) {
      return member_of.contains(sid);
    });
    if (events) view.events = *events;
    for (const auto& d : segs.defs) {
      const std::string& sid = d.segment.id;
      if (!d.condition || !candidates.contains(sid)) continue;
      bool matches = Matches(*d.condition, view, now);
      bool member = member_of.contains(sid);
      if (matches != member) {
        XOAL_RETURN_IF_ERROR(Record(txn, project->id, sid, usid, matches, now, out));
        if (matches) {
          member_of.insert(sid);
        } else {
          member_of.erase(sid);
        }
        for (const auto& other : segs.defs) {
          if (!other.condition) continue;
          const auto& reads = other.condition->dependencies().segments;
          if (std::find(reads.begin(), reads.end(), sid) != reads.end()) {
            candidates.insert(other.segment.id);
          }
        }
      }
      if (d.condition->dependencies().reads_time) {
        XOAL_RETURN_IF_ERROR(
            txn.SetSegmentTimer(project->id, sid, usid, NextFlipTime(*d.condition, view, now)));
      }
    }
    return Status::Ok();
  }

  // Runs at the end of every write, in its transaction, for each project `pid` it changed.
  Status Apply(store::WriteTxn& txn, const TrackingTxn& tracking, const std::string& pid,
               Changes& changes, SystemTime now, std::vector<MembershipChange>& out) {
    auto segs = Snapshot(pid);
    if (segs->defs.empty()) return Status::Ok();
    XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(pid));
    if (!project) return Status::Ok();
    for (const auto& [usid, into] : changes.removed) {
      XOAL_RETURN_IF_ERROR(ApplyRemoval(txn, *segs, pid, usid, into, now, out));
    }
    for (const auto& company_id : changes.companies) {
      store::PageRequest page{0, 1000};
      while (true) {
        XOAL_ASSIGN_OR_RETURN(auto members, txn.ListMembers(pid, company_id, page));
        for (const auto& m : members) changes.customers[m.usid].companies = true;
        if (members.size() < static_cast<size_t>(page.limit)) break;
        page.after_seq = members.back().seq;
      }
    }
    for (const auto& [usid, dirty] : changes.customers) {
      if (changes.removed.contains(usid)) continue;
      XOAL_RETURN_IF_ERROR(Evaluate(txn, tracking, *segs, &*project, usid, dirty, now, out));
    }
    return Status::Ok();
  }

  // Apply, then the observer, in the write's transaction, project by project. Sets `observed`
  // when the observer saw something (so OnCommitted() is due once the write commits). The event
  // cache follows the write's events first; what the write touched is dropped from it if this
  // fails.
  Status Finish(store::WriteTxn& txn, TrackingTxn& tracking, std::vector<MembershipChange>& out,
                bool& observed) {
    std::lock_guard lock(events_.mu());
    for (const auto& [pid, changes] : tracking.changes()) {
      for (const auto& e : changes.events) events_.Add(e);
      for (const auto& [usid, into] : changes.removed) {
        events_.Forget(pid, usid);
        if (!into.empty()) events_.Forget(pid, into);  // it has the merged events
      }
    }
    // One instant for the whole write.
    SystemTime now = tracking.at().value_or(clock_.SystemNow());
    // Entries and exits the write recorded itself (manual members) go to its project's observer.
    std::vector<MembershipChange> recorded = std::move(out);
    out.clear();
    for (const auto& c : recorded) {
      if (!tracking.changes().contains(c.project_id)) out.push_back(c);
    }
    Status st = Status::Ok();
    for (auto& [pid, changes] : tracking.changes()) {
      std::vector<MembershipChange> mine;
      for (const auto& c : recorded) {
        if (c.project_id == pid) mine.push_back(c);
      }
      st = ApplyAndObserve(txn, tracking, pid, changes, now, mine, observed);
      out.insert(out.end(), mine.begin(), mine.end());
      if (!st.ok()) break;
    }
    if (!st.ok()) {
      for (const auto& [pid, changes] : tracking.changes()) {
        for (const auto& [usid, dirty] : changes.customers) events_.Forget(pid, usid);
      }
    }
    return st;
  }

  // A write whose upkeep succeeded failed afterwards (its batch did not commit): the cache may
  // hold its events.
  void WriteFailedAfterUpkeep() { events_.Clear(); }

  // Apply and the observer for the changes of project `pid`; appends its entries and exits to
  // `mine`, which holds those of the project recorded before.
  Status ApplyAndObserve(store::WriteTxn& txn, const TrackingTxn& tracking, const std::string& pid,
                         Changes& changes, SystemTime now, std::vector<MembershipChange>& mine,
                         bool& observed) {
    for (const auto& c : changes.recorded) {
      mine.push_back(MembershipChange{c.project_id, c.segment_id, c.usid, c.entered, c.at});
    }
    XOAL_RETURN_IF_ERROR(Apply(txn, tracking, pid, changes, now, mine));
    if (!observer_) return Status::Ok();
    AppliedWrite applied{pid, now, changes.events, {}, {}, {}, {}, mine, {}};
    for (const auto& [usid, into] : changes.removed) applied.removed.insert(usid);
    for (const auto& [usid, dirty] : changes.customers) {
      applied.customers.insert(usid);
      if (dirty.all) applied.whole.insert(usid);
      if (dirty.created) applied.created.insert(usid);
      // Kept for whole-profile changes too: a merge diffs the survivor's attributes.
      if (!dirty.attributes.empty()) applied.attributes[usid] = dirty.attributes;
    }
    for (const auto& m : mine) applied.customers.insert(m.usid);
    if (applied.customers.empty() && applied.removed.empty()) return Status::Ok();
    observed = true;
    return observer_->OnApplied(txn, applied);
  }

  void Committed(const std::vector<MembershipChange>& published, bool observed) {
    if (!published.empty()) Publish(published);
    if (observed) observer_->OnCommitted();
  }

  void Run();
  bool FireDueTimers();
  bool ComputeOnePage();
};

// The store callers use: the real one, with segment upkeep at the end of every write.
class TrackedStore final : public store::Store {
 public:
  explicit TrackedStore(SegmentEngine::State& state) : state_(state) {}

  Status Read(const std::function<Status(store::ReadTxn&)>& fn) override {
    return state_.inner_.Read(fn);
  }

  Status Write(const std::function<Status(store::WriteTxn&)>& fn) override {
    std::vector<MembershipChange> published;
    bool observed = false;
    bool upkept = false;
    Status st = state_.inner_.Write([&](store::WriteTxn& txn) {
      published.clear();
      observed = false;
      TrackingTxn tracking(txn);
      XOAL_RETURN_IF_ERROR(fn(tracking));
      if (tracking.empty()) return Status::Ok();
      Status finished = state_.Finish(txn, tracking, published, observed);
      upkept = finished.ok();
      return finished;
    });
    if (st.ok()) state_.Committed(published, observed);
    if (!st.ok() && upkept) state_.WriteFailedAfterUpkeep();
    return st;
  }

  void Close() override { state_.inner_.Close(); }

 private:
  SegmentEngine::State& state_;
};

bool SegmentEngine::State::FireDueTimers() {
  std::vector<store::SegmentTimer> due;
  SystemTime now = clock_.SystemNow();
  Status st = inner_.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(due, txn.DueSegmentTimers(now, kTimerBatch));
    return Status::Ok();
  });
  if (!st.ok() || due.empty()) return false;
  // One write per project and flip instant, earliest first, each evaluated at its own instant: a
  // customer whose entry and exit both fell due while the clock jumped (or the server was down)
  // gets both, each recorded when it happened.
  std::map<std::pair<SystemTime, std::string>, std::vector<store::SegmentTimer>> by_instant;
  for (auto& t : due) by_instant[{t.flip_at, t.project_id}].push_back(std::move(t));
  TrackedStore store(*this);
  for (const auto& [instant, timers] : by_instant) {
    const std::string& pid = instant.second;
    Status w = store.Write([&](store::WriteTxn& txn) {
      auto& tracking = static_cast<TrackingTxn&>(txn);
      tracking.at() = instant.first;
      for (const auto& t : timers) {
        // Cleared first: the evaluation sets the next one if the condition still reads time.
        XOAL_RETURN_IF_ERROR(txn.SetSegmentTimer(pid, t.segment_id, t.usid, std::nullopt));
        tracking.Mark(pid, t.usid).segments.insert(t.segment_id);
      }
      return Status::Ok();
    });
    if (!w.ok()) {
      spdlog::error("segment_timers_failed project_id={} error=\"{}\"", pid, w.message());
      return false;
    }
  }
  spdlog::debug("segment_timers_fired count={}", due.size());
  return true;
}

bool SegmentEngine::State::ComputeOnePage() {
  std::pair<std::string, std::string> key;
  Compute compute;
  {
    std::lock_guard lock(mu_);
    if (computing_.empty()) return false;
    key = computing_.begin()->first;
    compute = computing_.begin()->second;
  }
  const auto& [pid, sid] = key;
  std::vector<store::Customer> page;
  Status st = inner_.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(page, txn.ListCustomers(pid, {}, {compute.cursor, kScanPage}));
    return Status::Ok();
  });
  bool done = st.ok() && page.size() < static_cast<size_t>(kScanPage);
  TrackedStore store(*this);
  st = st.ok() ? store.Write([&](store::WriteTxn& txn) {
    auto& tracking = static_cast<TrackingTxn&>(txn);
    for (const auto& c : page) tracking.Mark(pid, c.usid).segments.insert(sid);
    // A run cancelled or restarted meanwhile (new conditions) leaves `ready` to the new one.
    if (!done || !IsCurrentRun(key, compute.run)) return Status::Ok();
    XOAL_ASSIGN_OR_RETURN(auto segment, txn.GetSegment(pid, sid));
    if (!segment) return Status::Ok();  // deleted meanwhile
    segment->status = "ready";
    return txn.PutSegment(*segment);
  })
               : st;
  if (!st.ok()) {
    spdlog::error("segment_compute_failed project_id={} segment_id={} error=\"{}\"", pid, sid,
                  st.message());
    return false;
  }
  {
    std::lock_guard lock(mu_);
    auto it = computing_.find(key);
    // Deleted, cancelled or restarted meanwhile.
    if (it == computing_.end() || it->second.run != compute.run) return true;
    if (done) {
      computing_.erase(it);
    } else {
      it->second.cursor = page.back().seq;
    }
  }
  if (done) {
    (void)ReloadProject(pid);
    spdlog::info("segment_computed project_id={} segment_id={}", pid, sid);
  } else {
    spdlog::info("segment_computing project_id={} segment_id={} scanned_to_seq={}", pid, sid,
                 page.back().seq);
  }
  return true;
}

void SegmentEngine::State::Run() {
  while (true) {
    bool busy = FireDueTimers();
    busy = ComputeOnePage() || busy;
    std::optional<SystemTime> next;
    (void)inner_.Read([&](store::ReadTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(next, txn.NextSegmentTimer());
      return Status::Ok();
    });
    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (busy) continue;
    // Sleep until the next timer is due, at most kIdleWait, or until woken: a test moving the
    // injected clock, a new segment to compute, or Stop().
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kIdleWait);
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

SegmentEngine::SegmentEngine(store::Store& inner, const Clock& clock)
    : state_(std::make_unique<State>(inner, clock)),
      tracked_(std::make_unique<TrackedStore>(*state_)) {}

SegmentEngine::~SegmentEngine() { Stop(); }

Status SegmentEngine::Load() {
  std::set<std::string> projects;
  std::vector<store::Segment> computing;
  XOAL_RETURN_IF_ERROR(state_->inner_.Read([&](store::ReadTxn& txn) {
    store::PageRequest page{0, 1000};
    while (true) {
      XOAL_ASSIGN_OR_RETURN(auto part, txn.ListSegments("", page));
      for (auto& s : part) {
        projects.insert(s.project_id);
        if (s.status == "computing") computing.push_back(s);
      }
      if (part.size() < static_cast<size_t>(page.limit)) return Status::Ok();
      page.after_seq = part.back().seq;
    }
  }));
  for (const auto& p : projects) XOAL_RETURN_IF_ERROR(state_->ReloadProject(p));
  for (const auto& s : computing) state_->StartCompute(s.project_id, s.id);
  spdlog::info("segments_loaded projects={} computing={}", projects.size(), computing.size());
  return Status::Ok();
}

void SegmentEngine::Start() {
  std::lock_guard lock(state_->mu_);
  if (state_->thread_.joinable()) return;
  state_->stopping_ = false;
  state_->thread_ = std::thread([s = state_.get()] { s->Run(); });
}

void SegmentEngine::Stop() {
  {
    std::lock_guard lock(state_->mu_);
    state_->stopping_ = true;
  }
  state_->cv_.notify_all();
  if (state_->thread_.joinable()) state_->thread_.join();
}

void SegmentEngine::Wake() {
  {
    std::lock_guard lock(state_->mu_);
    state_->woken_ = true;
  }
  state_->cv_.notify_all();
}

void SegmentEngine::RunPendingWorkForTest() {
  while (state_->FireDueTimers() || state_->ComputeOnePage()) {
  }
}

void SegmentEngine::SetObserver(WriteObserver* observer) { state_->observer_ = observer; }

void SegmentEngine::Subscribe(MembershipListener* listener) {
  std::lock_guard lock(state_->mu_);
  state_->listeners_.push_back(listener);
}

namespace {

struct ParsedBody {
  std::optional<std::string> name;
  std::optional<std::string> type;
  std::optional<json::value> conditions;
  std::optional<Condition> condition;
};

Result<ParsedBody> ParseSegmentBody(const json::object& body) {
  ParsedBody out;
  for (const auto& [k, v] : body) {
    if (k == "name") {
      XOAL_RETURN_IF_ERROR(ValidateName(v));
      out.name = std::string(v.get_string());
    } else if (k == "type") {
      if (!v.is_string() || (v.get_string() != "dynamic" && v.get_string() != "manual")) {
        return Status::InvalidArgument("type must be dynamic or manual", "type");
      }
      out.type = std::string(v.get_string());
    } else if (k == "conditions") {
      if (v.is_null()) continue;
      XOAL_ASSIGN_OR_RETURN(out.condition, ParseCondition(v, "conditions"));
      out.conditions = v;
    } else {
      return Status::InvalidArgument(
          "unknown field " + std::string(k) + " (a segment has name, type and conditions)",
          std::string(k));
    }
  }
  return out;
}

// kInvalidArgument when `condition` (of segment `id`) reads an unknown segment, or one that
// reads `id` back, directly or through others.
Status CheckSegmentReferences(const ProjectSegments& segs, const std::string& id,
                              const Condition& condition) {
  auto find = [&](const std::string& sid) -> const Def* {
    for (const auto& d : segs.defs) {
      if (d.segment.id == sid) return &d;
    }
    return nullptr;
  };
  std::vector<std::string> stack(condition.dependencies().segments);
  std::set<std::string> seen;
  for (const auto& dep : stack) {
    if (dep == id) return Status::InvalidArgument("a segment cannot contain itself", "conditions");
    if (!find(dep)) return Status::InvalidArgument("no segment with id " + dep, "conditions");
  }
  while (!stack.empty()) {
    std::string sid = stack.back();
    stack.pop_back();
    if (!seen.insert(sid).second) continue;
    const Def* d = find(sid);
    if (!d || !d->condition) continue;
    for (const auto& next : d->condition->dependencies().segments) {
      if (next == id) {
        return Status::InvalidArgument("segments would contain each other: " + sid + " reads " + id,
                                       "conditions");
      }
      stack.push_back(next);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<store::Segment> SegmentEngine::Create(const store::Project& project,
                                             const json::object& body) {
  XOAL_ASSIGN_OR_RETURN(auto parsed, ParseSegmentBody(body));
  if (!parsed.name) return Status::InvalidArgument("name is required", "name");
  std::string type = parsed.type.value_or(parsed.conditions ? "dynamic" : "manual");
  if (type == "dynamic" && !parsed.condition) {
    return Status::InvalidArgument("a dynamic segment needs conditions", "conditions");
  }
  if (type == "manual" && parsed.condition) {
    return Status::InvalidArgument("a manual segment has no conditions", "conditions");
  }
  SystemTime now = state_->clock_.SystemNow();
  store::Segment s{0,
                   project.id,
                   "seg_" + RandomAlnum(16),
                   *parsed.name,
                   type,
                   parsed.conditions.value_or(nullptr),
                   type == "dynamic" ? "computing" : "ready",
                   now,
                   now};
  if (parsed.condition) {
    XOAL_RETURN_IF_ERROR(
        CheckSegmentReferences(*state_->Snapshot(project.id), s.id, *parsed.condition));
  }
  XOAL_RETURN_IF_ERROR(
      state_->inner_.Write([&](store::WriteTxn& txn) { return txn.PutSegment(s); }));
  XOAL_RETURN_IF_ERROR(state_->ReloadProject(project.id));
  if (type == "dynamic") {
    state_->StartCompute(project.id, s.id);
    Wake();
  }
  spdlog::info("segment_created project_id={} segment_id={} type={}", project.id, s.id, type);
  return s;
}

Result<store::Segment> SegmentEngine::Update(const store::Project& project, std::string_view id,
                                             const json::object& patch) {
  XOAL_ASSIGN_OR_RETURN(auto parsed, ParseSegmentBody(patch));
  std::string sid(id);
  bool cancelled = false;
  if (parsed.condition) {
    XOAL_RETURN_IF_ERROR(
        CheckSegmentReferences(*state_->Snapshot(project.id), sid, *parsed.condition));
    // A compute still running for the old conditions must not mark the new ones ready: it is
    // cancelled here, before the new conditions are written, and run again once they are loaded.
    std::lock_guard lock(state_->mu_);
    cancelled = state_->computing_.erase({project.id, sid}) > 0;
  }
  std::optional<store::Segment> s;
  // Read, checked and written in one transaction, so that a compute marking the segment ready
  // meanwhile is not undone by writing back an older status.
  Status st = state_->inner_.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(s, txn.GetSegment(project.id, sid));
    if (!s) return Status::NotFound("no segment with id " + sid);
    if (parsed.type && *parsed.type != s->type) {
      return Status::InvalidArgument("a segment's type cannot change", "type");
    }
    if (parsed.conditions && s->type == "manual") {
      return Status::InvalidArgument("a manual segment has no conditions", "conditions");
    }
    if (parsed.condition) {
      s->conditions = *parsed.conditions;
      s->status = "computing";
    }
    if (parsed.name) s->name = *parsed.name;
    s->updated_at = state_->clock_.SystemNow();
    return txn.PutSegment(*s);
  });
  if (!st.ok()) {
    if (cancelled) {
      state_->StartCompute(project.id, sid);  // the old conditions still need their compute
      Wake();
    }
    return st;
  }
  XOAL_RETURN_IF_ERROR(state_->ReloadProject(project.id));
  if (parsed.condition) {
    state_->StartCompute(project.id, sid);
    Wake();
    spdlog::info("segment_recompute project_id={} segment_id={}", project.id, sid);
  }
  return std::move(*s);
}

Status SegmentEngine::Delete(const store::Project& project, std::string_view id) {
  auto segs = state_->Snapshot(project.id);
  for (const auto& d : segs->defs) {
    if (!d.condition) continue;
    const auto& reads = d.condition->dependencies().segments;
    if (std::find(reads.begin(), reads.end(), id) != reads.end()) {
      return Status::Conflict("segment " + d.segment.id + " reads this segment; change it first");
    }
  }
  XOAL_RETURN_IF_ERROR(state_->inner_.Write(
      [&](store::WriteTxn& txn) { return txn.DeleteSegment(project.id, id); }));
  {
    std::lock_guard lock(state_->mu_);
    state_->computing_.erase({project.id, std::string(id)});
  }
  spdlog::info("segment_deleted project_id={} segment_id={}", project.id, id);
  return state_->ReloadProject(project.id);
}

namespace {

// The dynamic segments that read segment `id`.
std::set<std::string> Readers(const ProjectSegments& segs, std::string_view id) {
  std::set<std::string> out;
  for (const auto& d : segs.defs) {
    if (!d.condition) continue;
    const auto& reads = d.condition->dependencies().segments;
    if (std::find(reads.begin(), reads.end(), id) != reads.end()) out.insert(d.segment.id);
  }
  return out;
}

// The body of a manual-membership change: runs inside the write, after the segment was found to
// be manual; notes customers whose memberships changed in `tracking` with `readers`.
using ManualChange = std::function<Status(store::WriteTxn& txn, TrackingTxn& tracking,
                                          SystemTime now, std::vector<MembershipChange>& out)>;

// A customer named by usid, following merges to the survivor; kNotFound when there is none.
Result<store::Customer> LiveCustomer(store::ReadTxn& txn, const std::string& pid,
                                     const std::string& usid) {
  XOAL_ASSIGN_OR_RETURN(auto c, txn.FindCustomer(pid, store::CustomerKey::kUsid, usid));
  if (!c) {
    XOAL_ASSIGN_OR_RETURN(auto into, txn.FindMergedInto(pid, usid));
    if (into) {
      XOAL_ASSIGN_OR_RETURN(c, txn.FindCustomer(pid, store::CustomerKey::kUsid, *into));
    }
  }
  if (!c) return Status::NotFound("no customer with usid " + usid);
  return std::move(*c);
}

// Runs `change` on manual segment `id` in one write, then the engine's upkeep for the customers
// it noted (segments that read this one), and publishes the entries and exits once committed.
Status WriteManualChange(SegmentEngine::State& state, const store::Project& project,
                         std::string_view id, const ManualChange& change) {
  std::vector<MembershipChange> published;
  bool observed = false;
  bool upkept = false;
  Status st = state.inner_.Write([&](store::WriteTxn& txn) {
    published.clear();
    observed = false;
    XOAL_ASSIGN_OR_RETURN(auto segment, txn.GetSegment(project.id, id));
    if (!segment) return Status::NotFound("no segment with id " + std::string(id));
    if (segment->type != "manual") {
      return Status::InvalidArgument("only manual segments take members by hand", "type");
    }
    TrackingTxn tracking(txn);
    XOAL_RETURN_IF_ERROR(change(txn, tracking, state.clock_.SystemNow(), published));
    Status finished = state.Finish(txn, tracking, published, observed);
    upkept = finished.ok();
    return finished;
  });
  if (st.ok()) state.Committed(published, observed);
  if (!st.ok() && upkept) state.WriteFailedAfterUpkeep();
  return st;
}

}  // namespace

Status SegmentEngine::AddMembers(const store::Project& project, std::string_view id,
                                 const std::vector<std::string>& usids) {
  std::set<std::string> readers = Readers(*state_->Snapshot(project.id), id);
  const std::string sid(id);
  return WriteManualChange(
      *state_, project, id,
      [&](store::WriteTxn& txn, TrackingTxn& tracking, SystemTime now, auto& out) {
        for (const auto& raw : usids) {
          XOAL_ASSIGN_OR_RETURN(auto c, LiveCustomer(txn, project.id, raw));
          XOAL_ASSIGN_OR_RETURN(bool member, txn.IsSegmentMember(sid, c.usid));
          if (member) continue;
          XOAL_RETURN_IF_ERROR(state_->Record(txn, project.id, sid, c.usid, true, now, out));
          tracking.Mark(project.id, c.usid).segments = readers;
        }
        return Status::Ok();
      });
}

Status SegmentEngine::RemoveMember(const store::Project& project, std::string_view id,
                                   std::string_view usid) {
  std::set<std::string> readers = Readers(*state_->Snapshot(project.id), id);
  const std::string sid(id);
  return WriteManualChange(
      *state_, project, id,
      [&](store::WriteTxn& txn, TrackingTxn& tracking, SystemTime now, auto& out) {
        XOAL_ASSIGN_OR_RETURN(auto c, LiveCustomer(txn, project.id, std::string(usid)));
        XOAL_ASSIGN_OR_RETURN(bool member, txn.IsSegmentMember(sid, c.usid));
        if (!member) return Status::NotFound("the customer is not in this segment");
        XOAL_RETURN_IF_ERROR(state_->Record(txn, project.id, sid, c.usid, false, now, out));
        tracking.Mark(project.id, c.usid).segments = readers;
        return Status::Ok();
      });
}

Status SegmentEngine::ChangeManualMemberInTxn(store::WriteTxn& txn, const std::string& project_id,
                                              const std::string& segment_id,
                                              const std::string& usid, bool add) {
  // Requires: `txn` is the TrackingTxn a store() write was given.
  auto& tracking = static_cast<TrackingTxn&>(txn);
  XOAL_ASSIGN_OR_RETURN(auto segment, txn.GetSegment(project_id, segment_id));
  if (!segment) return Status::NotFound("no segment with id " + segment_id);
  if (segment->type != "manual") {
    return Status::InvalidArgument("only manual segments take members by hand", "segment_id");
  }
  XOAL_ASSIGN_OR_RETURN(bool member, txn.IsSegmentMember(segment_id, usid));
  if (member == add) return Status::Ok();
  SystemTime now = state_->clock_.SystemNow();
  std::vector<MembershipChange> made;
  XOAL_RETURN_IF_ERROR(state_->Record(txn, project_id, segment_id, usid, add, now, made));
  tracking.ChangesOf(project_id).recorded.push_back({0, project_id, segment_id, usid, add, now});
  tracking.Mark(project_id, usid).segments = Readers(*state_->Snapshot(project_id), segment_id);
  return Status::Ok();
}

Result<PreviewResult> SegmentEngine::Preview(const store::Project& project,
                                             const json::value& conditions, size_t sample_size) {
  XOAL_ASSIGN_OR_RETURN(auto condition, ParseCondition(conditions, "conditions"));
  XOAL_RETURN_IF_ERROR(CheckSegmentReferences(*state_->Snapshot(project.id), "", condition));
  PreviewResult out;
  SystemTime now = state_->clock_.SystemNow();
  const date::time_zone* zone = ProjectZone(&project);
  EventQuery events = EventsFor({&condition}, now);
  XOAL_RETURN_IF_ERROR(state_->inner_.Read([&](store::ReadTxn& txn) {
    store::PageRequest page{0, kScanPage};
    while (true) {
      XOAL_ASSIGN_OR_RETURN(auto customers, txn.ListCustomers(project.id, {}, page));
      for (auto& c : customers) {
        XOAL_ASSIGN_OR_RETURN(auto data, LoadView(txn, c, events));
        if (!Matches(condition, ViewOf(data, txn, zone), now)) continue;
        ++out.size;
        if (out.sample.size() < sample_size) out.sample.push_back(std::move(c));
      }
      if (customers.size() < static_cast<size_t>(page.limit)) return Status::Ok();
      page.after_seq = customers.back().seq;
    }
  }));
  return out;
}

Result<bool> MatchesStoredCustomer(store::ReadTxn& txn, const store::Project& project,
                                   const Condition& condition, const store::Customer& customer,
                                   SystemTime now) {
  XOAL_ASSIGN_OR_RETURN(auto data, LoadView(txn, customer, EventsFor({&condition}, now)));
  return Matches(condition, ViewOf(data, txn, ProjectZone(&project)), now);
}

Result<StoredMatch> EvaluateStoredCustomer(store::ReadTxn& txn, const store::Project& project,
                                           const Condition& condition,
                                           const store::Customer& customer, SystemTime now) {
  XOAL_ASSIGN_OR_RETURN(auto data, LoadView(txn, customer, EventsFor({&condition}, now)));
  auto view = ViewOf(data, txn, ProjectZone(&project));
  return StoredMatch{Matches(condition, view, now), NextFlipTime(condition, view, now)};
}

json::object SegmentToJson(const store::Segment& s, int64_t size) {
  return json::object{{"id", s.id},
                      {"name", s.name},
                      {"type", s.type},
                      {"conditions", s.conditions},
                      {"status", s.status},
                      {"size", size},
                      {"created_at", FormatIsoTime(s.created_at)},
                      {"updated_at", FormatIsoTime(s.updated_at)}};
}

json::object SegmentChangeToJson(const store::SegmentChange& c) {
  return json::object{
      {"usid", c.usid}, {"change", c.entered ? "entered" : "exited"}, {"at", FormatIsoTime(c.at)}};
}

}  // namespace xoal::segments
