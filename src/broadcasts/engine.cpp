#include "broadcasts/engine.hpp"

#include <spdlog/spdlog.h>

#include "broadcasts/definition.hpp"
#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "messaging/compose.hpp"
#include "segments/condition.hpp"
#include "segments/engine.hpp"

namespace xoal::broadcasts {
namespace {

constexpr int kListPage = 100;

std::string KeyPrefix(std::string_view broadcast_id) {
  return "bcast:" + std::string(broadcast_id) + ":";
}

// The stored definition, parsed again (it was validated when stored).
Result<Definition> DefinitionOf(const store::Broadcast& b) {
  json::object body = b.definition;
  body["name"] = b.name;
  return ParseDefinition(body);
}

void AddSkip(store::Broadcast& b, std::string_view reason) {
  auto& v = b.engine_skips[reason];
  v = (v.is_int64() ? v.get_int64() : 0) + 1;
}

std::optional<SystemTime> Earliest(std::optional<SystemTime> a, std::optional<SystemTime> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// The zone a recipient's local time is read in: their own, else the project's, else UTC.
const date::time_zone* RecipientZone(const store::Customer& c, const date::time_zone* fallback) {
  auto it = c.attributes.find("timezone");
  if (it != c.attributes.end() && it->value().is_string()) {
    if (auto* zone = FindZone(it->value().get_string())) return zone;
  }
  return fallback;
}

const date::time_zone* ProjectZone(const store::Project& p) {
  auto it = p.settings.find("timezone");
  if (it == p.settings.end() || !it->value().is_string()) return nullptr;
  return FindZone(it->value().get_string());
}

void LogProgress(const store::Broadcast& b, int64_t before, int64_t after, int64_t every) {
  if (after / every == before / every) return;
  spdlog::info(
      "broadcast_progress project_id={} broadcast_id={} phase={} recipients={} enqueued={}",
      b.project_id, b.id, b.phase, b.recipients, b.enqueued);
}

// The customer a recipient row names now: itself, the profile it was merged into, or nullopt
// when it was deleted.
Result<std::optional<store::Customer>> LiveCustomer(store::ReadTxn& txn, std::string_view project,
                                                    std::string_view usid) {
  XOAL_ASSIGN_OR_RETURN(auto c, txn.FindCustomer(project, store::CustomerKey::kUsid, usid));
  if (c) return c;
  XOAL_ASSIGN_OR_RETURN(auto into, txn.FindMergedInto(project, usid));
  if (!into) return std::optional<store::Customer>();
  return txn.FindCustomer(project, store::CustomerKey::kUsid, *into);
}

// The audience snapshot, one page: members after the cursor, narrowed by the conditions, each
// with the instant they are due. Moves the cursor; switches to delivery after the last page.
Status SnapshotPage(store::WriteTxn& txn, const store::Project& project, const Definition& def,
                    store::Broadcast& b, SystemTime now, int page_size) {
  XOAL_ASSIGN_OR_RETURN(auto members,
                        txn.ListSegmentMembers(def.segment_id, {b.member_cursor, page_size}));
  std::optional<segments::Condition> condition;
  if (!def.conditions.is_null()) {
    XOAL_ASSIGN_OR_RETURN(condition, segments::ParseCondition(def.conditions));
  }
  // A broadcast started by /send goes out now even when it has a local-time schedule.
  std::optional<date::local_seconds> local;
  if (b.start_at && def.schedule) local = def.schedule->local;
  const date::time_zone* zone = ProjectZone(project);
  for (const auto& m : members) {
    b.member_cursor = m.seq;
    XOAL_ASSIGN_OR_RETURN(auto c, txn.FindCustomer(project.id, store::CustomerKey::kUsid, m.usid));
    if (!c) continue;
    if (condition) {
      XOAL_ASSIGN_OR_RETURN(bool in,
                            segments::MatchesStoredCustomer(txn, project, *condition, *c, now));
      if (!in) continue;
    }
    SystemTime due = local ? LocalInstant(*local, RecipientZone(*c, zone)) : *b.started_at;
    ++b.recipients;
    XOAL_RETURN_IF_ERROR(
        txn.InsertBroadcastRecipient(project.id, b.id, {b.recipients, c->usid, due}));
  }
  if (members.size() < static_cast<size_t>(page_size)) {
    b.phase = "deliver";
    spdlog::info("broadcast_snapshot_done project_id={} broadcast_id={} recipients={}",
                 b.project_id, b.id, b.recipients);
  }
  return Status::Ok();
}

// Hands one recipient to the outbox, or counts why the engine skipped them before it (deleted,
// render_error).
Status DeliverOne(store::WriteTxn& txn, messaging::MessageRenderer& renderer,
                  const store::Project& project, const Definition& def, store::Broadcast& b,
                  const store::BroadcastRecipient& r, SystemTime now) {
  XOAL_ASSIGN_OR_RETURN(auto c, LiveCustomer(txn, project.id, r.usid));
  if (!c) {
    AddSkip(b, "deleted");
    return Status::Ok();
  }
  XOAL_ASSIGN_OR_RETURN(auto data,
                        messaging::BuildTemplateData(txn, project, *c, {}, json::value(nullptr)));
  auto rendered = renderer.Render(project, *c, def.message, data);
  Status valid = rendered.status();
  json::object content;
  if (valid.ok()) {
    content = std::move(rendered->message);
    content.erase("transactional");
    valid = messaging::CheckOutgoing(def.channel, content, def.transactional);
  }
  if (!valid.ok()) {
    spdlog::debug(
        "broadcast_render_failed project_id={} broadcast_id={} customer_id={} error=\"{}\"",
        b.project_id, b.id, c->usid, valid.message());
    AddSkip(b, "render_error");
    return Status::Ok();
  }
  // The outbox fills in the address and decides send or skip (no_address, unsubscribed,
  // suppressed, frequency_cap, quiet_hours); the counts read its decision back.
  content.erase("to");
  messaging::EnqueueRequest request{
      project.id,       c->usid, def.channel, std::move(content), KeyPrefix(b.id) + c->usid,
      def.transactional};
  return messaging::EnqueueInTxn(txn, request, now).status();
}

// kConflict unless the broadcast's status is one of `allowed`.
Status RequireStatus(const store::Broadcast& b, std::initializer_list<std::string_view> allowed,
                     std::string_view action) {
  for (auto s : allowed) {
    if (b.status == s) return Status::Ok();
  }
  return Status::Conflict("cannot " + std::string(action) + " a broadcast that is " + b.status,
                          "status");
}

// Sets status and start from the definition's schedule: scheduled (refused when its last
// moment has passed) or draft.
Status ApplySchedule(store::Broadcast& b, SystemTime now) {
  XOAL_ASSIGN_OR_RETURN(auto def, DefinitionOf(b));
  if (!def.schedule) {
    b.status = "draft";
    b.start_at.reset();
    return Status::Ok();
  }
  if (LastDueOf(*def.schedule) <= now) {
    return Status::InvalidArgument("the schedule has passed everywhere; pick a later time",
                                   def.schedule->at ? "schedule.at" : "schedule.date");
  }
  b.status = "scheduled";
  b.start_at = StartOf(*def.schedule);
  return Status::Ok();
}

void StartSending(store::Broadcast& b, SystemTime now) {
  b.status = "sending";
  b.phase = "snapshot";
  b.started_at = now;
  b.window_start = now;
}

}  // namespace

BroadcastEngine::BroadcastEngine(store::Store& store, const Clock& clock,
                                 messaging::MessageRenderer& renderer, messaging::Outbox* outbox,
                                 BroadcastOptions options)
    : store_(store), clock_(clock), renderer_(renderer), outbox_(outbox), options_(options) {}

BroadcastEngine::~BroadcastEngine() { Stop(); }

void BroadcastEngine::Start() {
  assert(!thread_.joinable());
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void BroadcastEngine::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BroadcastEngine::Wake() {
  {
    std::lock_guard lock(mu_);
    ++wake_count_;
  }
  cv_.notify_all();
}

void BroadcastEngine::Run() {
  while (true) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      seen = wake_count_;
    }
    std::optional<SystemTime> next;
    bool worked = false;
    Status st = [&]() -> Status {
      SystemTime now = clock_.SystemNow();
      XOAL_ASSIGN_OR_RETURN(next, StartDue(now));
      store::PageRequest page{0, kListPage};
      while (true) {
        std::vector<store::Broadcast> sending;
        XOAL_RETURN_IF_ERROR(store_.Read([&](store::ReadTxn& txn) {
          XOAL_ASSIGN_OR_RETURN(sending, txn.ListBroadcastsByStatus("sending", page));
          return Status::Ok();
        }));
        for (const auto& b : sending) {
          std::optional<SystemTime> b_next;
          XOAL_ASSIGN_OR_RETURN(bool did, Step(b, now, b_next));
          worked = worked || did;
          next = Earliest(next, b_next);
        }
        if (sending.size() < static_cast<size_t>(page.limit)) return Status::Ok();
        page.after_seq = sending.back().seq;
      }
    }();
    if (!st.ok()) spdlog::warn("broadcast_round_failed error=\"{}\"", st.message());
    if (worked && st.ok()) continue;

    std::unique_lock lock(mu_);
    auto wait = options_.idle_wait;
    if (next) {
      auto until =
          std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.SystemNow());
      wait = std::clamp(until, std::chrono::milliseconds(0), options_.idle_wait);
    }
    cv_.wait_for(lock, wait, [&] { return stopping_ || wake_count_ != seen; });
  }
}

Result<bool> BroadcastEngine::RunOnce() {
  SystemTime now = clock_.SystemNow();
  XOAL_RETURN_IF_ERROR(StartDue(now).status());
  std::vector<store::Broadcast> sending;
  XOAL_RETURN_IF_ERROR(store_.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(sending, txn.ListBroadcastsByStatus("sending", {0, 1000}));
    return Status::Ok();
  }));
  bool worked = false;
  for (const auto& b : sending) {
    std::optional<SystemTime> next;
    XOAL_ASSIGN_OR_RETURN(bool did, Step(b, now, next));
    worked = worked || did;
  }
  return worked;
}

Result<std::optional<SystemTime>> BroadcastEngine::StartDue(SystemTime now) {
  std::optional<SystemTime> next;
  std::vector<store::Broadcast> due;
  XOAL_RETURN_IF_ERROR(store_.Read([&](store::ReadTxn& txn) {
    store::PageRequest page{0, kListPage};
    while (true) {
      XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListBroadcastsByStatus("scheduled", page));
      for (auto& b : rows) {
        if (b.start_at && *b.start_at <= now) {
          due.push_back(std::move(b));
        } else {
          next = Earliest(next, b.start_at);
        }
      }
      if (rows.size() < static_cast<size_t>(page.limit)) return Status::Ok();
      page.after_seq = rows.back().seq;
    }
  }));
  for (const auto& b : due) {
    XOAL_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(auto fresh, txn.GetBroadcast(b.project_id, b.id));
      if (!fresh || fresh->status != "scheduled") return Status::Ok();  // changed meanwhile
      StartSending(*fresh, now);
      fresh->updated_at = now;
      return txn.PutBroadcast(*fresh);
    }));
    spdlog::info("broadcast_started project_id={} broadcast_id={} trigger=schedule", b.project_id,
                 b.id);
  }
  return next;
}

Result<bool> BroadcastEngine::Step(const store::Broadcast& listed, SystemTime now,
                                   std::optional<SystemTime>& next) {
  bool did = false;
  std::optional<SystemTime> wake;
  store::Broadcast before;
  store::Broadcast after;
  XOAL_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) -> Status {
    XOAL_ASSIGN_OR_RETURN(auto b, txn.GetBroadcast(listed.project_id, listed.id));
    // Checked inside the write: a cancel that committed first stops this page.
    if (!b || b->status != "sending") return Status::Ok();
    XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(b->project_id));
    if (!project) return Status::Ok();
    XOAL_ASSIGN_OR_RETURN(auto def, DefinitionOf(*b));
    before = *b;
    if (b->phase == "snapshot") {
      XOAL_RETURN_IF_ERROR(SnapshotPage(txn, *project, def, *b, now, options_.snapshot_page));
      did = true;
    } else {
      XOAL_ASSIGN_OR_RETURN(did, DeliverPage(txn, *project, def, *b, now, wake));
    }
    if (!did) return Status::Ok();
    b->updated_at = now;
    after = *b;
    return txn.PutBroadcast(*b);
  }));
  next = wake;
  if (!did) return false;
  LogProgress(after, before.recipients, after.recipients, options_.progress_every);
  LogProgress(after, before.enqueued, after.enqueued, options_.progress_every);
  if (after.enqueued != before.enqueued && outbox_) outbox_->Wake();
  if (after.status == "sent") {
    spdlog::info("broadcast_sent project_id={} broadcast_id={} recipients={} enqueued={}",
                 after.project_id, after.id, after.recipients, after.enqueued);
  }
  return true;
}

Result<bool> BroadcastEngine::DeliverPage(store::WriteTxn& txn, const store::Project& project,
                                          const Definition& def, store::Broadcast& b,
                                          SystemTime now, std::optional<SystemTime>& next) {
  // Every recipient row is handled once, in cursor order: when the counts meet, none is left
  // (checked before the throttle, so a full last window does not hold the status back).
  auto finish_if_done = [&] {
    if (b.enqueued < b.recipients) return false;
    b.status = "sent";
    b.phase = "";
    b.finished_at = now;
    return true;
  };
  if (finish_if_done()) return true;
  int64_t budget = options_.deliver_page;
  bool window_moved = false;
  if (def.throttle_per_minute) {
    ThrottleWindow w = CurrentWindow(*b.started_at, {b.window_start, b.window_count}, now);
    window_moved = w.start != b.window_start;
    b.window_start = w.start;
    b.window_count = w.used;
    budget = std::min(budget, *def.throttle_per_minute - w.used);
    if (budget <= 0) {
      next = w.start + kThrottleWindow;
      return window_moved;
    }
  }
  XOAL_ASSIGN_OR_RETURN(auto rows,
                        txn.ListDueBroadcastRecipients(b.id, b.cursor_due_at, b.cursor_pos, now,
                                                       static_cast<int>(budget)));
  for (const auto& r : rows) {
    XOAL_RETURN_IF_ERROR(DeliverOne(txn, renderer_, project, def, b, r, now));
    b.cursor_due_at = r.due_at;
    b.cursor_pos = r.pos;
    ++b.enqueued;
    ++b.window_count;
  }
  if (finish_if_done() || !rows.empty()) return true;
  XOAL_ASSIGN_OR_RETURN(next, txn.NextBroadcastRecipientDue(b.id, b.cursor_due_at, b.cursor_pos));
  return window_moved;
}

Status BroadcastEngine::CheckDefinition(store::ReadTxn& txn, const store::Project& project,
                                        const json::object& body, store::Broadcast& out) {
  XOAL_ASSIGN_OR_RETURN(auto def, ParseDefinition(body));
  // Here, not in ParseDefinition: a stored broadcast saved before the check still sends.
  XOAL_RETURN_IF_ERROR(messaging::CheckMessageShape(def.channel, def.message));
  XOAL_ASSIGN_OR_RETURN(auto segment, txn.GetSegment(project.id, def.segment_id));
  if (!segment) {
    return Status::InvalidArgument("no segment with id " + def.segment_id, "segment_id");
  }
  if (!def.conditions.is_null()) {
    XOAL_ASSIGN_OR_RETURN(auto condition, segments::ParseCondition(def.conditions, "conditions"));
    // As the segment API does: a condition that reads an unknown segment is refused now rather
    // than matching nobody at send time.
    for (const auto& sid : condition.dependencies().segments) {
      XOAL_ASSIGN_OR_RETURN(auto read, txn.GetSegment(project.id, sid));
      if (!read) return Status::InvalidArgument("no segment with id " + sid, "conditions");
    }
  }
  json::object shape = def.message;
  shape.erase("variants");
  shape.erase("transactional");
  XOAL_RETURN_IF_ERROR(messaging::CheckOutgoing(def.channel, shape, def.transactional));
  // Rendering for a blank profile finds template syntax errors now rather than per recipient.
  store::Customer sample;
  sample.project_id = project.id;
  sample.usid = "sample";
  XOAL_RETURN_IF_ERROR(renderer_.Render(project, sample, def.message, {}).status());
  out.name = def.name;
  out.definition = DefinitionToJson(def);
  return Status::Ok();
}

Result<store::Broadcast> BroadcastEngine::Transition(
    const store::Project& project, std::string_view id,
    const std::function<Status(store::WriteTxn&, store::Broadcast&)>& change) {
  store::Broadcast out;
  XOAL_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto b, txn.GetBroadcast(project.id, id));
    if (!b) return Status::NotFound("no broadcast with id " + std::string(id));
    XOAL_RETURN_IF_ERROR(change(txn, *b));
    b->updated_at = clock_.SystemNow();
    out = *b;
    return txn.PutBroadcast(*b);
  }));
  Wake();
  return out;
}

Result<store::Broadcast> BroadcastEngine::Create(const store::Project& project,
                                                 const json::object& body) {
  SystemTime now = clock_.SystemNow();
  store::Broadcast b;
  b.project_id = project.id;
  b.id = "bc_" + RandomAlnum(16);
  b.created_at = now;
  b.updated_at = now;
  XOAL_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) {
    XOAL_RETURN_IF_ERROR(CheckDefinition(txn, project, body, b));
    XOAL_RETURN_IF_ERROR(ApplySchedule(b, now));
    return txn.PutBroadcast(b);
  }));
  spdlog::info("broadcast_created project_id={} broadcast_id={} status={}", b.project_id, b.id,
               b.status);
  Wake();
  return b;
}

Result<store::Broadcast> BroadcastEngine::Update(const store::Project& project, std::string_view id,
                                                 const json::object& patch) {
  return Transition(project, id, [&](store::WriteTxn& txn, store::Broadcast& b) {
    XOAL_RETURN_IF_ERROR(RequireStatus(b, {"draft", "scheduled"}, "change"));
    XOAL_RETURN_IF_ERROR(CheckDefinition(txn, project, MergePatch(b.name, b.definition, patch), b));
    return ApplySchedule(b, clock_.SystemNow());
  });
}

Status BroadcastEngine::Delete(const store::Project& project, std::string_view id) {
  return store_.Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto b, txn.GetBroadcast(project.id, id));
    if (!b) return Status::NotFound("no broadcast with id " + std::string(id));
    XOAL_RETURN_IF_ERROR(
        RequireStatus(*b, {"draft", "scheduled", "sent", "cancelled"}, "delete (cancel it first)"));
    return txn.DeleteBroadcast(project.id, id);
  });
}

Result<store::Broadcast> BroadcastEngine::Send(const store::Project& project, std::string_view id) {
  auto b = Transition(project, id, [&](store::WriteTxn&, store::Broadcast& b) {
    XOAL_RETURN_IF_ERROR(RequireStatus(b, {"draft", "scheduled"}, "send"));
    b.start_at.reset();
    StartSending(b, clock_.SystemNow());
    return Status::Ok();
  });
  if (b.ok()) {
    spdlog::info("broadcast_started project_id={} broadcast_id={} trigger=send", b->project_id,
                 b->id);
  }
  return b;
}

Result<store::Broadcast> BroadcastEngine::Schedule(const store::Project& project,
                                                   std::string_view id, const json::object& body) {
  return Transition(project, id, [&](store::WriteTxn& txn, store::Broadcast& b) {
    XOAL_RETURN_IF_ERROR(RequireStatus(b, {"draft", "scheduled"}, "schedule"));
    if (auto s = body.find("schedule"); s != body.end()) {
      json::object patch{{"schedule", s->value()}};
      XOAL_RETURN_IF_ERROR(
          CheckDefinition(txn, project, MergePatch(b.name, b.definition, patch), b));
    }
    XOAL_RETURN_IF_ERROR(ApplySchedule(b, clock_.SystemNow()));
    if (b.status != "scheduled") {
      return Status::InvalidArgument("give a schedule: {\"at\": ...} or {\"local_time\", \"date\"}",
                                     "schedule");
    }
    return Status::Ok();
  });
}

Result<store::Broadcast> BroadcastEngine::Cancel(const store::Project& project,
                                                 std::string_view id) {
  auto b = Transition(project, id, [&](store::WriteTxn&, store::Broadcast& b) {
    XOAL_RETURN_IF_ERROR(RequireStatus(b, {"scheduled", "sending"}, "cancel"));
    b.status = "cancelled";
    b.finished_at = clock_.SystemNow();
    return Status::Ok();
  });
  if (b.ok()) {
    spdlog::info("broadcast_cancelled project_id={} broadcast_id={} recipients={} enqueued={}",
                 b->project_id, b->id, b->recipients, b->enqueued);
  }
  return b;
}

Result<json::object> BroadcastCounts(store::ReadTxn& txn, const store::Broadcast& b) {
  XOAL_ASSIGN_OR_RETURN(auto rows, txn.CountOutboxByKeyPrefix(b.project_id, KeyPrefix(b.id)));
  int64_t sent = 0;
  int64_t failed = 0;
  int64_t pending = 0;
  json::object skipped;
  auto add_skip = [&](std::string_view reason, int64_t n) {
    auto& v = skipped[reason.empty() ? "other" : reason];
    v = (v.is_int64() ? v.get_int64() : 0) + n;
  };
  for (const auto& r : rows) {
    if (r.status == "sent") {
      sent += r.count;
    } else if (r.status == "failed") {
      failed += r.count;
    } else if (r.status == "skipped") {
      add_skip(r.reason, r.count);
    } else {
      pending += r.count;
    }
  }
  for (const auto& [reason, n] : b.engine_skips) {
    if (n.is_int64()) add_skip(reason, n.get_int64());
  }
  int64_t not_handled = b.recipients - b.enqueued;
  bool cancelled = b.status == "cancelled";
  return json::object{{"recipients", b.recipients},
                      {"enqueued", b.enqueued},
                      {"sent", sent},
                      {"failed", failed},
                      {"pending", pending + (cancelled ? 0 : not_handled)},
                      {"skipped", std::move(skipped)},
                      {"cancelled", cancelled ? not_handled : 0}};
}

json::object BroadcastToJson(const store::Broadcast& b, json::object counts) {
  auto time = [](const std::optional<SystemTime>& t) {
    return t ? json::value(FormatIsoTime(*t)) : json::value(nullptr);
  };
  json::object out{{"id", b.id}, {"name", b.name}, {"status", b.status}};
  for (const auto& [k, v] : b.definition) out[k] = v;
  out["counts"] = std::move(counts);
  out["start_at"] = time(b.start_at);
  out["started_at"] = time(b.started_at);
  out["finished_at"] = time(b.finished_at);
  out["created_at"] = FormatIsoTime(b.created_at);
  out["updated_at"] = FormatIsoTime(b.updated_at);
  return out;
}

}  // namespace xoal::broadcasts
