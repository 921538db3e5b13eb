#include "store/sqlite_store.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace xoal::store {
namespace {

// Each entry moves the schema one version forward. Never edit a released entry: add a new one.
constexpr const char* kMigrations[] = {
    // Version 1: projects, keys, customers, companies, fields, events.
    R"sql(
CREATE TABLE projects(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, settings TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE api_keys(
  id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, created_at INTEGER NOT NULL,
  last_used_at INTEGER, revoked_at INTEGER);
CREATE INDEX api_keys_by_project ON api_keys(project_id, created_at);
CREATE TABLE customers(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, usid TEXT NOT NULL UNIQUE, user_id TEXT,
  email TEXT, attributes TEXT NOT NULL, attribute_times TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, added_via TEXT NOT NULL);
CREATE UNIQUE INDEX customers_by_user_id ON customers(project_id, user_id)
  WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX customers_by_email ON customers(project_id, email) WHERE email IS NOT NULL;
CREATE INDEX customers_by_project ON customers(project_id, seq);
CREATE TABLE customer_anonymous_ids(
  project_id TEXT NOT NULL, anonymous_id TEXT NOT NULL, usid TEXT NOT NULL,
  PRIMARY KEY(project_id, anonymous_id)) WITHOUT ROWID;
CREATE INDEX anonymous_ids_by_usid ON customer_anonymous_ids(usid);
CREATE TABLE customer_tags(
  usid TEXT NOT NULL, tag TEXT NOT NULL, project_id TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY(usid, tag)) WITHOUT ROWID;
CREATE INDEX tags_by_tag ON customer_tags(project_id, tag);
CREATE TABLE customer_merges(
  from_usid TEXT PRIMARY KEY, project_id TEXT NOT NULL, into_usid TEXT NOT NULL,
  merged_at INTEGER NOT NULL);
CREATE TABLE companies(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  attributes TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  UNIQUE(project_id, id));
CREATE TABLE memberships(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, company_id TEXT NOT NULL,
  usid TEXT NOT NULL, attributes TEXT NOT NULL, created_at INTEGER NOT NULL,
  UNIQUE(project_id, company_id, usid));
CREATE INDEX memberships_by_usid ON memberships(project_id, usid);
CREATE TABLE fields(
  project_id TEXT NOT NULL, entity TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
  description TEXT NOT NULL, origin TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY(project_id, entity, name)) WITHOUT ROWID;
CREATE TABLE events(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, id TEXT NOT NULL, usid TEXT NOT NULL,
  name TEXT NOT NULL, type TEXT NOT NULL, source TEXT NOT NULL, timestamp INTEGER NOT NULL,
  received_at INTEGER NOT NULL, properties TEXT NOT NULL, UNIQUE(project_id, id));
CREATE INDEX events_by_customer ON events(project_id, usid, seq);
CREATE INDEX events_by_project ON events(project_id, seq);
)sql",
    // Version 2: the ingestion error log.
    R"sql(
CREATE TABLE ingestion_errors(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, received_at INTEGER NOT NULL,
  source TEXT NOT NULL, message_id TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL,
  reason TEXT NOT NULL, excerpt TEXT NOT NULL);
CREATE INDEX ingestion_errors_by_project ON ingestion_errors(project_id, seq);
)sql",
    // Version 3: segments, their members, history and flip timers.
    R"sql(
CREATE TABLE segments(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  type TEXT NOT NULL, conditions TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE INDEX segments_by_project ON segments(project_id, seq);
CREATE TABLE segment_members(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, segment_id TEXT NOT NULL, usid TEXT NOT NULL,
  entered_at INTEGER NOT NULL, UNIQUE(segment_id, usid));
CREATE INDEX segment_members_by_customer ON segment_members(project_id, usid);
CREATE TABLE segment_history(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, segment_id TEXT NOT NULL, usid TEXT NOT NULL,
  entered INTEGER NOT NULL, at INTEGER NOT NULL);
CREATE INDEX segment_history_by_segment ON segment_history(segment_id, seq);
CREATE TABLE segment_timers(
  segment_id TEXT NOT NULL, usid TEXT NOT NULL, project_id TEXT NOT NULL, flip_at INTEGER NOT NULL,
  PRIMARY KEY(segment_id, usid)) WITHOUT ROWID;
CREATE INDEX segment_timers_by_time ON segment_timers(flip_at);
)sql",
    // Version 4: the message outbox and channel configuration.
    R"sql(
CREATE TABLE outbox_messages(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE, usid TEXT NOT NULL,
  channel TEXT NOT NULL, status TEXT NOT NULL, content TEXT NOT NULL,
  idempotency_key TEXT NOT NULL, transactional INTEGER NOT NULL, attempts INTEGER NOT NULL,
  recoveries INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  sent_at INTEGER, next_attempt_at INTEGER, attempt_started_at INTEGER,
  provider_message_id TEXT NOT NULL, last_answer TEXT NOT NULL,
  UNIQUE(project_id, idempotency_key));
CREATE INDEX outbox_by_project ON outbox_messages(project_id, seq);
CREATE INDEX outbox_by_customer ON outbox_messages(project_id, usid, seq);
CREATE INDEX outbox_by_status ON outbox_messages(status, next_attempt_at);
CREATE TABLE channel_configs(
  project_id TEXT NOT NULL, channel TEXT NOT NULL, config TEXT NOT NULL,
  updated_at INTEGER NOT NULL, PRIMARY KEY(project_id, channel)) WITHOUT ROWID;
)sql",
    // Version 5: broadcasts and their audience snapshots.
    R"sql(
CREATE TABLE broadcasts(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  status TEXT NOT NULL, definition TEXT NOT NULL, start_at INTEGER, phase TEXT NOT NULL,
  member_cursor INTEGER NOT NULL, recipients INTEGER NOT NULL, cursor_due_at INTEGER NOT NULL,
  cursor_pos INTEGER NOT NULL, enqueued INTEGER NOT NULL, window_start INTEGER NOT NULL,
  window_count INTEGER NOT NULL, engine_skips TEXT NOT NULL, started_at INTEGER,
  finished_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX broadcasts_by_project ON broadcasts(project_id, seq);
CREATE INDEX broadcasts_by_status ON broadcasts(status, seq);
CREATE TABLE broadcast_recipients(
  broadcast_id TEXT NOT NULL, pos INTEGER NOT NULL, project_id TEXT NOT NULL, usid TEXT NOT NULL,
  due_at INTEGER NOT NULL, PRIMARY KEY(broadcast_id, pos)) WITHOUT ROWID;
CREATE INDEX broadcast_recipients_by_due ON broadcast_recipients(broadcast_id, due_at, pos);
)sql",
    // Version 6: workflows, their versions, runs, run logs, trigger idempotency keys
    // (docs/workflows.md). The partial index on wake_at is the scheduler's queue.
    R"sql(
CREATE TABLE workflows(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  status TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX workflows_by_project ON workflows(project_id, seq);
CREATE TABLE workflow_versions(
  workflow_id TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
  created_at INTEGER NOT NULL, PRIMARY KEY(workflow_id, version)) WITHOUT ROWID;
CREATE TABLE workflow_runs(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE,
  workflow_id TEXT NOT NULL, version INTEGER NOT NULL, usid TEXT NOT NULL, run_key TEXT,
  status TEXT NOT NULL, step TEXT NOT NULL, waiting INTEGER NOT NULL, visits INTEGER NOT NULL,
  wake_at INTEGER, wait_event TEXT, context TEXT NOT NULL, started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, ended_at INTEGER);
CREATE INDEX runs_by_wake ON workflow_runs(wake_at) WHERE wake_at IS NOT NULL AND status = 'active';
CREATE INDEX runs_by_workflow ON workflow_runs(workflow_id, status);
CREATE INDEX runs_by_entry ON workflow_runs(workflow_id, usid, started_at);
CREATE INDEX runs_by_customer ON workflow_runs(project_id, usid, status);
CREATE TABLE workflow_run_steps(
  seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, workflow_id TEXT NOT NULL, step TEXT NOT NULL,
  visit INTEGER NOT NULL, type TEXT NOT NULL, outcome TEXT NOT NULL, channel TEXT NOT NULL,
  detail TEXT NOT NULL, at INTEGER NOT NULL, UNIQUE(run_id, visit));
CREATE INDEX run_steps_by_workflow ON workflow_run_steps(workflow_id, step);
CREATE TABLE workflow_trigger_keys(
  project_id TEXT NOT NULL, workflow_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
  answer TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY(project_id, workflow_id, idempotency_key)) WITHOUT ROWID;
)sql",
    // Version 7: segment members in seq order, so paging through a large segment (a broadcast's
    // audience) reads each page from an index instead of sorting every member per page.
    R"sql(
CREATE INDEX segment_members_by_seq ON segment_members(segment_id, seq);
)sql",
    // Version 8: skipped messages and their reason, the planned send time (frequency caps),
    // suppression lists, and a secret per project that signs the links messages carry.
    R"sql(
ALTER TABLE outbox_messages ADD COLUMN skip_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_messages ADD COLUMN planned_at INTEGER NOT NULL DEFAULT 0;
UPDATE outbox_messages SET planned_at = created_at;
CREATE TABLE suppressions(
  seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, address TEXT NOT NULL, channel TEXT NOT NULL,
  reason TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE(project_id, address));
UPDATE projects SET settings = json_set(settings, '$.link_secret', lower(hex(randomblob(32))))
  WHERE json_extract(settings, '$.link_secret') IS NULL;
)sql",
    // Version 9: the ids of events removed with their customer, so that a retried message of a
    // deleted customer stays a duplicate (SPEC Events) instead of making the profile again.
    R"sql(
CREATE TABLE deleted_event_ids(
  project_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(project_id, id)) WITHOUT ROWID;
)sql",
    // Version 10: date_attribute triggers. One timer per (workflow, customer) with the moment the
    // customer's run starts, found through a partial index of the pending ones; the customer
    // scans that fill them in after an activation, resumable across restarts; each workflow's
    // sends in the current minute (send_rate_per_minute), kept with the sends; and when a run's
    // condition goal can next become true by time alone.
    R"sql(
CREATE TABLE workflow_date_timers(
  workflow_id TEXT NOT NULL, usid TEXT NOT NULL, project_id TEXT NOT NULL,
  fire_at INTEGER NOT NULL, state TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY(workflow_id, usid)) WITHOUT ROWID;
CREATE INDEX date_timers_due ON workflow_date_timers(fire_at) WHERE state = 'pending';
CREATE TABLE workflow_scans(
  workflow_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, after_seq INTEGER NOT NULL)
  WITHOUT ROWID;
ALTER TABLE workflow_runs ADD COLUMN goal_at INTEGER;
CREATE INDEX runs_by_goal ON workflow_runs(goal_at) WHERE goal_at IS NOT NULL AND status = 'active';
CREATE TABLE workflow_send_counts(
  workflow_id TEXT PRIMARY KEY, minute INTEGER NOT NULL, sent INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // Version 11: messages whose last attempt a crash interrupted ("in doubt"), so the outbox can
    // ask the provider before sending them again. Messages an older version already re-queued
    // after a crash are in doubt too.
    R"sql(
ALTER TABLE outbox_messages ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0;
UPDATE outbox_messages SET in_doubt = 1 WHERE status = 'sending' OR
  (status = 'queued' AND json_extract(last_answer, '$.outcome') = 'interrupted');
)sql",
    // Version 12: a customer's segments are read on every evaluation of their segments; with the
    // segment id in the index that read no longer visits the table.
    R"sql(
DROP INDEX segment_members_by_customer;
CREATE INDEX segment_members_by_customer ON segment_members(project_id, usid, segment_id);
)sql",
};

constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);
constexpr int kReadConnections = 8;

Status SqliteError(sqlite3* db, std::string_view what) {
  std::string msg = fmt::format("sqlite {}: {}", what, db ? sqlite3_errmsg(db) : "no handle");
  spdlog::error("store_error backend=sqlite op=\"{}\" detail=\"{}\"", what,
                db ? sqlite3_errmsg(db) : "no handle");
  return Status::Internal(msg);
}

// A prepared statement, reset on destruction so its connection can reuse it.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::optional<std::string>& v) {
    if (v) return Bind(i, std::string_view(*v));
    sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, SystemTime t) { return Bind(i, ToEpochMillis(t)); }
  Stmt& Bind(int i, const std::optional<SystemTime>& t) {
    if (t) return Bind(i, *t);
    sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& Bind(int i, const json::object& o) { return Bind(i, std::string_view(json::serialize(o))); }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return sqlite3_step(s_); }

  // Runs a statement that returns no rows. kAlreadyExists on a uniqueness violation.
  Status Exec(std::string_view what) {
    int rc = Step();
    if (rc == SQLITE_DONE) return Status::Ok();
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return Status::AlreadyExists(fmt::format("{}: {}", what, sqlite3_errmsg(db_)));
    }
    return SqliteError(db_, what);
  }

  std::string Text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, sqlite3_column_bytes(s_, col)) : std::string();
  }
  std::optional<std::string> OptText(int col) const {
    if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
    return Text(col);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  SystemTime Time(int col) const { return FromEpochMillis(Int(col)); }
  std::optional<SystemTime> OptTime(int col) const {
    if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
    return Time(col);
  }
  json::object Object(int col) const {
    auto parsed = ParseJson(Text(col));
    if (!parsed.ok() || !parsed->is_object()) {
      // Writers never store such text; seeing it means the file was damaged or a bug wrote it.
      spdlog::error("store_corrupt_json backend=sqlite column={}", col);
      return {};
    }
    return std::move(parsed->as_object());
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// One connection with its cache of prepared statements. Used by one thread at a time.
class Conn {
 public:
  ~Conn() {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    if (db_) sqlite3_close(db_);
  }

  Status Open(const std::string& path, bool read_only) {
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      return SqliteError(db_, "open");
    }
    sqlite3_busy_timeout(db_, 10000);
    // Pages are read through a memory map and kept in a large cache: without them most of the
    // time goes to pread/pwrite system calls (seen in perf on the ingest benchmark). The
    // statement journal is set process-wide, in ConfigureSqliteOnce.
    return ExecScript(read_only ? "PRAGMA query_only=1; PRAGMA mmap_size=1073741824;"
                                  "PRAGMA cache_size=-16384;"
                                : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                  "PRAGMA mmap_size=1073741824;"
                                  "PRAGMA cache_size=-131072;");
  }

  Status ExecScript(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      spdlog::error("store_error backend=sqlite op=exec detail=\"{}\"", msg);
      return Status::Internal("sqlite exec: " + msg);
    }
    return Status::Ok();
  }

  // Runs one statement that returns no rows through the statement cache: the savepoints of
  // every message would otherwise be parsed again each time.
  // Requires: `sql` is a string literal (the cache is keyed by its address).
  Status Exec(const char* sql) { return Prepare(sql).Exec(sql); }

  // Requires: `sql` is a string literal (the cache is keyed by its address).
  Stmt Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        // A statement that does not prepare is a bug in this file, not a runtime condition.
        spdlog::critical("store_bug backend=sqlite detail=\"{}\" sql=\"{}\"", sqlite3_errmsg(db_),
                         sql);
        std::abort();
      }
      it = cache_.emplace(sql, s).first;
    }
    return Stmt(db_, it->second);
  }

  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

const char* KeyTypeName(KeyType t) { return t == KeyType::kIngestion ? "ingestion" : "management"; }

// The first column of every row `sql` returns, its parameters bound to `args` in order.
template <typename... Args>
std::vector<std::string> StringColumnList(Conn& c, const char* sql, const Args&... args) {
  std::vector<std::string> out;
  auto s = c.Prepare(sql);
  int i = 1;
  (s.Bind(i++, args), ...);
  while (s.Step() == SQLITE_ROW) out.push_back(s.Text(0));
  return out;
}

constexpr const char* kCustomerColumns =
    "seq, project_id, usid, user_id, email, attributes, attribute_times, created_at, updated_at, "
    "added_via";

// The columns ReadCustomer reads, then the customer's tags and anonymous ids as JSON arrays:
// one statement instead of three for every profile ingestion looks up.
#define XOAL_SELECT_CUSTOMER_WITH_SETS                                                        \
  "SELECT c.seq, c.project_id, c.usid, c.user_id, c.email, c.attributes, c.attribute_times, " \
  "c.created_at, c.updated_at, c.added_via, "                                                 \
  "(SELECT json_group_array(tag) FROM customer_tags WHERE usid = c.usid), "                   \
  "(SELECT json_group_array(anonymous_id) FROM customer_anonymous_ids WHERE usid = c.usid) "

// The columns ReadOutboxMessage reads, as a literal prefix (the statement cache is keyed by the
// literal's address, so the full SQL text must be a literal).
#define XOAL_SELECT_OUTBOX                                                                   \
  "SELECT seq, project_id, id, usid, channel, status, content, idempotency_key, "            \
  "transactional, attempts, recoveries, created_at, updated_at, sent_at, next_attempt_at, "  \
  "attempt_started_at, provider_message_id, last_answer, skip_reason, planned_at, in_doubt " \
  "FROM outbox_messages "

#define XOAL_SELECT_BROADCAST                                                                   \
  "SELECT seq, project_id, id, name, status, definition, start_at, phase, member_cursor, "      \
  "recipients, cursor_due_at, cursor_pos, enqueued, window_start, window_count, engine_skips, " \
  "started_at, finished_at, created_at, updated_at FROM broadcasts "

#define XOAL_SELECT_WORKFLOW                                                               \
  "SELECT seq, project_id, id, name, status, version, definition, created_at, updated_at " \
  "FROM workflows "
#define XOAL_SELECT_DATE_TIMER \
  "SELECT project_id, workflow_id, usid, fire_at, state, value FROM workflow_date_timers "

DateTimer ReadDateTimer(Stmt& s) {
  return DateTimer{s.Text(0), s.Text(1), s.Text(2), s.Time(3), s.Text(4), s.Text(5)};
}

// Reads every row of an events SELECT (seq, project_id, id, usid, name, type, source,
// timestamp, received_at, properties).
std::vector<Event> ReadEvents(Stmt& s) {
  std::vector<Event> out;
  while (s.Step() == SQLITE_ROW) {
    Event e;
    e.seq = s.Int(0);
    e.project_id = s.Text(1);
    e.id = s.Text(2);
    e.usid = s.Text(3);
    e.name = s.Text(4);
    e.type = s.Text(5);
    e.source = s.Text(6);
    e.timestamp = s.Time(7);
    e.received_at = s.Time(8);
    e.properties = s.Object(9);
    out.push_back(std::move(e));
  }
  return out;
}

#define XOAL_SELECT_RUN                                                                      \
  "SELECT seq, project_id, id, workflow_id, version, usid, run_key, status, step, waiting, " \
  "visits, wake_at, wait_event, context, started_at, updated_at, ended_at, goal_at "         \
  "FROM workflow_runs "

// The read half of a transaction; the write half adds to it. Both work on one connection.
// The reads, over a base that is ReadTxn for read transactions and WriteTxn for write ones, so
// that one implementation serves both without virtual inheritance.
template <typename Base>
class SqliteReads : public Base {
 public:
  explicit SqliteReads(Conn& c) : c_(c) {}

  Result<std::optional<Project>> GetProject(std::string_view id) override {
    auto s = c_.Prepare("SELECT id, name, settings, created_at FROM projects WHERE id = ?");
    s.Bind(1, id);
    if (s.Step() != SQLITE_ROW) return std::optional<Project>();
    return std::optional<Project>(ReadProject(s));
  }

  Result<std::vector<Project>> ListProjects() override {
    auto s = c_.Prepare("SELECT id, name, settings, created_at FROM projects ORDER BY created_at");
    std::vector<Project> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadProject(s));
    return out;
  }

  Result<std::vector<ApiKey>> ListKeys(std::optional<std::string_view> project_id) override {
    static constexpr const char* kAll =
        "SELECT id, project_id, name, type, hash, prefix, created_at, last_used_at, revoked_at "
        "FROM api_keys ORDER BY created_at, id";
    static constexpr const char* kOne =
        "SELECT id, project_id, name, type, hash, prefix, created_at, last_used_at, revoked_at "
        "FROM api_keys WHERE project_id = ? ORDER BY created_at, id";
    auto s = c_.Prepare(project_id ? kOne : kAll);
    if (project_id) s.Bind(1, *project_id);
    std::vector<ApiKey> out;
    while (s.Step() == SQLITE_ROW) {
      ApiKey k;
      k.id = s.Text(0);
      k.project_id = s.Text(1);
      k.name = s.Text(2);
      k.type = s.Text(3) == "ingestion" ? KeyType::kIngestion : KeyType::kManagement;
      k.hash = s.Text(4);
      k.prefix = s.Text(5);
      k.created_at = s.Time(6);
      k.last_used_at = s.OptTime(7);
      k.revoked_at = s.OptTime(8);
      out.push_back(std::move(k));
    }
    return out;
  }

  Result<std::optional<Customer>> FindCustomer(std::string_view project_id, CustomerKey key,
                                               std::string_view value) override {
    static constexpr const char* kByUsid =
        XOAL_SELECT_CUSTOMER_WITH_SETS "FROM customers c WHERE c.project_id = ? AND c.usid = ?";
    static constexpr const char* kByUserId =
        XOAL_SELECT_CUSTOMER_WITH_SETS "FROM customers c WHERE c.project_id = ? AND c.user_id = ?";
    static constexpr const char* kByEmail =
        XOAL_SELECT_CUSTOMER_WITH_SETS "FROM customers c WHERE c.project_id = ? AND c.email = ?";
    static constexpr const char* kByAnonymousId = XOAL_SELECT_CUSTOMER_WITH_SETS
        "FROM customer_anonymous_ids a JOIN customers c ON c.usid = a.usid "
        "WHERE a.project_id = ?1 AND a.anonymous_id = ?2 AND c.project_id = ?1";
    const char* sql = key == CustomerKey::kUserId        ? kByUserId
                      : key == CustomerKey::kEmail       ? kByEmail
                      : key == CustomerKey::kAnonymousId ? kByAnonymousId
                                                         : kByUsid;
    auto s = c_.Prepare(sql);
    s.Bind(1, project_id).Bind(2, value);
    if (s.Step() != SQLITE_ROW) return std::optional<Customer>();
    Customer cu = ReadCustomer(s);
    cu.tags = SortedStrings(s, 10);
    cu.anonymous_ids = SortedStrings(s, 11);
    return std::optional<Customer>(std::move(cu));
  }

  Result<std::optional<std::string>> FindMergedInto(std::string_view project_id,
                                                    std::string_view usid) override {
    std::optional<std::string> result;
    std::string current(usid);
    for (int hops = 0; hops < 64; ++hops) {
      auto s = c_.Prepare(
          "SELECT into_usid FROM customer_merges WHERE project_id = ? AND from_usid = ?");
      s.Bind(1, project_id).Bind(2, current);
      if (s.Step() != SQLITE_ROW) break;
      current = s.Text(0);
      result = current;
    }
    return result;
  }

  Result<std::vector<Customer>> ListCustomers(std::string_view project_id,
                                              const CustomerFilter& filter,
                                              PageRequest page) override {
    static constexpr const char* kSql =
        "SELECT c.seq, c.project_id, c.usid, c.user_id, c.email, c.attributes, c.attribute_times,"
        " c.created_at, c.updated_at, c.added_via FROM customers c"
        " WHERE c.project_id = ?1 AND c.seq > ?2"
        " AND (?3 IS NULL OR c.email = ?3) AND (?4 IS NULL OR c.user_id = ?4)"
        " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM customer_tags t"
        "      WHERE t.usid = c.usid AND t.tag = ?5))"
        " AND (?7 IS NULL OR EXISTS (SELECT 1 FROM segment_members m"
        "      WHERE m.segment_id = ?7 AND m.usid = c.usid))"
        " ORDER BY c.seq LIMIT ?6";
    auto s = c_.Prepare(kSql);
    s.Bind(1, project_id).Bind(2, page.after_seq).Bind(3, filter.email).Bind(4, filter.user_id);
    s.Bind(5, filter.tag).Bind(6, static_cast<int64_t>(page.limit)).Bind(7, filter.segment_id);
    std::vector<Customer> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadCustomer(s));
    for (auto& cu : out) FillCustomerSets(cu);
    return out;
  }

  Result<std::optional<Company>> GetCompany(std::string_view project_id,
                                            std::string_view id) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, id, name, attributes, created_at, updated_at FROM companies "
        "WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    if (s.Step() != SQLITE_ROW) return std::optional<Company>();
    return std::optional<Company>(ReadCompany(s));
  }

  Result<std::vector<Company>> ListCompanies(std::string_view project_id,
                                             PageRequest page) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, id, name, attributes, created_at, updated_at FROM companies "
        "WHERE project_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, project_id).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<Company> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadCompany(s));
    return out;
  }

  Result<int64_t> CountMembers(std::string_view project_id, std::string_view company_id) override {
    auto s = c_.Prepare("SELECT count(*) FROM memberships WHERE project_id = ? AND company_id = ?");
    s.Bind(1, project_id).Bind(2, company_id);
    if (s.Step() != SQLITE_ROW) return SqliteError(c_.db(), "count members");
    return s.Int(0);
  }

  Result<std::vector<Membership>> ListMembers(std::string_view project_id,
                                              std::string_view company_id,
                                              PageRequest page) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, company_id, usid, attributes, created_at FROM memberships "
        "WHERE project_id = ? AND company_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, project_id).Bind(2, company_id).Bind(3, page.after_seq);
    s.Bind(4, static_cast<int64_t>(page.limit));
    std::vector<Membership> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadMembership(s));
    return out;
  }

  Result<std::optional<Membership>> GetMembership(std::string_view project_id,
                                                  std::string_view company_id,
                                                  std::string_view usid) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, company_id, usid, attributes, created_at FROM memberships "
        "WHERE project_id = ? AND company_id = ? AND usid = ?");
    s.Bind(1, project_id).Bind(2, company_id).Bind(3, usid);
    if (s.Step() != SQLITE_ROW) return std::optional<Membership>();
    return std::optional<Membership>(ReadMembership(s));
  }

  Result<std::vector<Membership>> ListMembershipsOf(std::string_view project_id,
                                                    std::string_view usid) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, company_id, usid, attributes, created_at FROM memberships "
        "WHERE project_id = ? AND usid = ? ORDER BY seq");
    s.Bind(1, project_id).Bind(2, usid);
    std::vector<Membership> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadMembership(s));
    return out;
  }

  Result<std::optional<Field>> GetField(std::string_view project_id, std::string_view entity,
                                        std::string_view name) override {
    auto s = c_.Prepare(
        "SELECT project_id, entity, name, type, description, origin, created_at FROM fields "
        "WHERE project_id = ? AND entity = ? AND name = ?");
    s.Bind(1, project_id).Bind(2, entity).Bind(3, name);
    if (s.Step() != SQLITE_ROW) return std::optional<Field>();
    return std::optional<Field>(ReadField(s));
  }

  Result<std::vector<Field>> ListFields(std::string_view project_id,
                                        std::string_view entity) override {
    auto s = c_.Prepare(
        "SELECT project_id, entity, name, type, description, origin, created_at FROM fields "
        "WHERE project_id = ? AND entity = ? ORDER BY name");
    s.Bind(1, project_id).Bind(2, entity);
    std::vector<Field> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadField(s));
    return out;
  }

  Result<std::vector<Event>> ListEvents(std::string_view project_id, std::string_view usid,
                                        int64_t before_seq, int limit) override {
    // Two statements, not one with "(?2 = '' OR usid = ?2)": SQLite cannot use the per-customer
    // index for such an OR and would read every event of the project.
    static constexpr const char* kProjectSql =
        "SELECT seq, project_id, id, usid, name, type, source, timestamp, received_at, properties"
        " FROM events WHERE project_id = ?1 AND ?2 = '' AND (?3 = 0 OR seq < ?3)"
        " ORDER BY seq DESC LIMIT ?4";
    static constexpr const char* kCustomerSql =
        "SELECT seq, project_id, id, usid, name, type, source, timestamp, received_at, properties"
        " FROM events WHERE project_id = ?1 AND usid = ?2 AND seq < (CASE WHEN ?3 = 0 THEN"
        " 9223372036854775807 ELSE ?3 END) ORDER BY seq DESC LIMIT ?4";
    auto s = c_.Prepare(usid.empty() ? kProjectSql : kCustomerSql);
    s.Bind(1, project_id).Bind(2, usid).Bind(3, before_seq).Bind(4, static_cast<int64_t>(limit));
    return ReadEvents(s);
  }

  Result<std::vector<Event>> ListEventsNamed(std::string_view project_id, std::string_view usid,
                                             const std::vector<std::string>& names,
                                             std::optional<SystemTime> since, int limit) override {
    // The names go in as one JSON array so the statement stays cached whatever their number;
    // rows of other names are skipped before their properties are parsed.
    auto s = c_.Prepare(
        "SELECT seq, project_id, id, usid, name, type, source, timestamp, received_at, properties"
        " FROM events WHERE project_id = ?1 AND usid = ?2"
        " AND name IN (SELECT value FROM json_each(?3)) AND timestamp >= ?5"
        " ORDER BY seq DESC LIMIT ?4");
    json::array list(names.begin(), names.end());
    std::string text = json::serialize(list);
    s.Bind(1, project_id).Bind(2, usid).Bind(3, text).Bind(4, static_cast<int64_t>(limit));
    s.Bind(5, since ? ToEpochMillis(*since) : std::numeric_limits<int64_t>::min());
    return ReadEvents(s);
  }

  Result<std::optional<Segment>> GetSegment(std::string_view project_id,
                                            std::string_view id) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, id, name, type, conditions, status, created_at, updated_at"
        " FROM segments WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    if (s.Step() != SQLITE_ROW) return std::optional<Segment>();
    return std::optional<Segment>(ReadSegment(s));
  }

  Result<std::vector<Segment>> ListSegments(std::string_view project_id,
                                            PageRequest page) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, id, name, type, conditions, status, created_at, updated_at"
        " FROM segments WHERE (?1 = '' OR project_id = ?1) AND seq > ?2 ORDER BY seq LIMIT ?3");
    s.Bind(1, project_id).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<Segment> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadSegment(s));
    return out;
  }

  Result<bool> IsSegmentMember(std::string_view segment_id, std::string_view usid) override {
    auto s = c_.Prepare("SELECT 1 FROM segment_members WHERE segment_id = ? AND usid = ?");
    s.Bind(1, segment_id).Bind(2, usid);
    return s.Step() == SQLITE_ROW;
  }

  Result<std::vector<SegmentMember>> ListSegmentMembers(std::string_view segment_id,
                                                        PageRequest page) override {
    auto s = c_.Prepare(
        "SELECT seq, usid, entered_at FROM segment_members WHERE segment_id = ? AND seq > ?"
        " ORDER BY seq LIMIT ?");
    s.Bind(1, segment_id).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<SegmentMember> out;
    while (s.Step() == SQLITE_ROW) out.push_back(SegmentMember{s.Int(0), s.Text(1), s.Time(2)});
    return out;
  }

  Result<int64_t> CountSegmentMembers(std::string_view segment_id) override {
    auto s = c_.Prepare("SELECT COUNT(*) FROM segment_members WHERE segment_id = ?");
    s.Bind(1, segment_id);
    return s.Step() == SQLITE_ROW ? s.Int(0) : 0;
  }

  Result<std::vector<std::string>> ListSegmentsOf(std::string_view project_id,
                                                  std::string_view usid) override {
    // In the covering index's order: an ORDER BY would sort at every segment evaluation.
    return StringColumnList(
        c_, "SELECT segment_id FROM segment_members WHERE project_id = ? AND usid = ?", project_id,
        usid);
  }

  Result<std::vector<SegmentChange>> ListSegmentHistory(std::string_view segment_id,
                                                        int64_t before_seq, int limit) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, segment_id, usid, entered, at FROM segment_history"
        " WHERE segment_id = ?1 AND (?2 = 0 OR seq < ?2) ORDER BY seq DESC LIMIT ?3");
    s.Bind(1, segment_id).Bind(2, before_seq).Bind(3, static_cast<int64_t>(limit));
    std::vector<SegmentChange> out;
    while (s.Step() == SQLITE_ROW) {
      out.push_back(
          SegmentChange{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4) != 0, s.Time(5)});
    }
    return out;
  }

  Result<std::vector<SegmentTimer>> DueSegmentTimers(SystemTime now, int limit) override {
    auto s = c_.Prepare(
        "SELECT project_id, segment_id, usid, flip_at FROM segment_timers WHERE flip_at <= ?"
        " ORDER BY flip_at LIMIT ?");
    s.Bind(1, now).Bind(2, static_cast<int64_t>(limit));
    std::vector<SegmentTimer> out;
    while (s.Step() == SQLITE_ROW) {
      out.push_back(SegmentTimer{s.Text(0), s.Text(1), s.Text(2), s.Time(3)});
    }
    return out;
  }

  Result<std::optional<SystemTime>> NextSegmentTimer() override {
    auto s = c_.Prepare("SELECT MIN(flip_at) FROM segment_timers");
    if (s.Step() != SQLITE_ROW || s.IsNull(0)) return std::optional<SystemTime>();
    return std::optional<SystemTime>(s.Time(0));
  }

  Result<bool> EventExists(std::string_view project_id, std::string_view id) override {
    auto s = c_.Prepare(
        "SELECT 1 FROM events WHERE project_id = ?1 AND id = ?2 "
        "UNION ALL SELECT 1 FROM deleted_event_ids WHERE project_id = ?1 AND id = ?2");
    s.Bind(1, project_id).Bind(2, id);
    return s.Step() == SQLITE_ROW;
  }

  Result<std::vector<IngestionError>> ListIngestionErrors(std::string_view project_id,
                                                          int64_t before_seq, int limit) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, received_at, source, message_id, idx, kind, reason, excerpt"
        " FROM ingestion_errors WHERE project_id = ?1 AND (?2 = 0 OR seq < ?2)"
        " ORDER BY seq DESC LIMIT ?3");
    s.Bind(1, project_id).Bind(2, before_seq).Bind(3, static_cast<int64_t>(limit));
    std::vector<IngestionError> out;
    while (s.Step() == SQLITE_ROW) {
      out.push_back(IngestionError{s.Int(0), s.Text(1), s.Time(2), s.Text(3), s.Text(4),
                                   static_cast<int>(s.Int(5)), s.Text(6), s.Text(7), s.Text(8)});
    }
    return out;
  }

  Result<std::optional<OutboxMessage>> GetOutboxMessage(std::string_view project_id,
                                                        std::string_view id) override {
    auto s = c_.Prepare(XOAL_SELECT_OUTBOX "WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    if (s.Step() != SQLITE_ROW) return std::optional<OutboxMessage>();
    return std::optional<OutboxMessage>(ReadOutboxMessage(s));
  }

  Result<std::optional<OutboxMessage>> FindOutboxMessageByKey(
      std::string_view project_id, std::string_view idempotency_key) override {
    auto s = c_.Prepare(XOAL_SELECT_OUTBOX "WHERE project_id = ? AND idempotency_key = ?");
    s.Bind(1, project_id).Bind(2, idempotency_key);
    if (s.Step() != SQLITE_ROW) return std::optional<OutboxMessage>();
    return std::optional<OutboxMessage>(ReadOutboxMessage(s));
  }

  Result<std::vector<OutboxMessage>> ListOutboxMessages(std::string_view project_id,
                                                        const OutboxFilter& filter,
                                                        int64_t before_seq, int limit) override {
    auto s =
        c_.Prepare(XOAL_SELECT_OUTBOX
                   "WHERE project_id = ?1 AND (?2 = 0 OR seq < ?2) AND (?3 IS NULL OR usid = ?3) "
                   "AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR channel = ?5) "
                   "AND (?7 IS NULL OR skip_reason = ?7) ORDER BY seq DESC LIMIT ?6");
    s.Bind(1, project_id).Bind(2, before_seq).Bind(3, filter.usid).Bind(4, filter.status);
    s.Bind(5, filter.channel).Bind(6, static_cast<int64_t>(limit)).Bind(7, filter.skip_reason);
    return ReadOutboxMessages(s);
  }

  Result<std::vector<OutboxMessage>> DueOutboxMessages(SystemTime now, int limit) override {
    auto s = c_.Prepare(
        XOAL_SELECT_OUTBOX
        "WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?");
    s.Bind(1, now).Bind(2, static_cast<int64_t>(limit));
    return ReadOutboxMessages(s);
  }

  Result<std::optional<SystemTime>> NextOutboxAttempt() override {
    auto s = c_.Prepare("SELECT MIN(next_attempt_at) FROM outbox_messages WHERE status = 'queued'");
    if (s.Step() != SQLITE_ROW || s.IsNull(0)) return std::optional<SystemTime>();
    return std::optional<SystemTime>(s.Time(0));
  }

  Result<std::vector<OutboxMessage>> ListOutboxByStatus(std::string_view status, int64_t after_seq,
                                                        int limit) override {
    auto s = c_.Prepare(XOAL_SELECT_OUTBOX "WHERE status = ? AND seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, status).Bind(2, after_seq).Bind(3, static_cast<int64_t>(limit));
    return ReadOutboxMessages(s);
  }

  Result<std::optional<json::object>> GetChannelConfig(std::string_view project_id,
                                                       std::string_view channel) override {
    auto s = c_.Prepare("SELECT config FROM channel_configs WHERE project_id = ? AND channel = ?");
    s.Bind(1, project_id).Bind(2, channel);
    if (s.Step() != SQLITE_ROW) return std::optional<json::object>();
    return std::optional<json::object>(s.Object(0));
  }

  Result<std::vector<OutboxCount>> CountOutboxByKeyPrefix(std::string_view project_id,
                                                          std::string_view prefix) override {
    // A range on the unique (project_id, idempotency_key) index: keys from `prefix` up to the
    // prefix with its last byte raised. Requires a prefix ending in a byte below 0xff.
    std::string end(prefix);
    if (!end.empty()) end.back() = static_cast<char>(end.back() + 1);
    auto s = c_.Prepare(
        "SELECT status, skip_reason, COUNT(*) FROM outbox_messages WHERE project_id = ? AND "
        "idempotency_key >= ? AND idempotency_key < ? GROUP BY status, skip_reason");
    s.Bind(1, project_id).Bind(2, prefix).Bind(3, end);
    std::vector<OutboxCount> out;
    while (s.Step() == SQLITE_ROW) out.push_back(OutboxCount{s.Text(0), s.Text(1), s.Int(2)});
    return out;
  }

  Result<std::optional<Broadcast>> GetBroadcast(std::string_view project_id,
                                                std::string_view id) override {
    auto s = c_.Prepare(XOAL_SELECT_BROADCAST "WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    if (s.Step() != SQLITE_ROW) return std::optional<Broadcast>();
    return std::optional<Broadcast>(ReadBroadcast(s));
  }

  Result<std::vector<Broadcast>> ListBroadcasts(std::string_view project_id,
                                                PageRequest page) override {
    auto s =
        c_.Prepare(XOAL_SELECT_BROADCAST "WHERE project_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, project_id).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<Broadcast> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadBroadcast(s));
    return out;
  }

  Result<std::vector<Broadcast>> ListBroadcastsByStatus(std::string_view status,
                                                        PageRequest page) override {
    auto s = c_.Prepare(XOAL_SELECT_BROADCAST "WHERE status = ? AND seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, status).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<Broadcast> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadBroadcast(s));
    return out;
  }

  Result<std::vector<BroadcastRecipient>> ListDueBroadcastRecipients(std::string_view broadcast_id,
                                                                     SystemTime after_due,
                                                                     int64_t after_pos,
                                                                     SystemTime due_by,
                                                                     int limit) override {
    auto s = c_.Prepare(
        "SELECT pos, usid, due_at FROM broadcast_recipients WHERE broadcast_id = ?1 AND "
        "(due_at, pos) > (?2, ?3) AND due_at <= ?4 ORDER BY due_at, pos LIMIT ?5");
    s.Bind(1, broadcast_id).Bind(2, after_due).Bind(3, after_pos).Bind(4, due_by);
    s.Bind(5, static_cast<int64_t>(limit));
    std::vector<BroadcastRecipient> out;
    while (s.Step() == SQLITE_ROW)
      out.push_back(BroadcastRecipient{s.Int(0), s.Text(1), s.Time(2)});
    return out;
  }

  Result<std::optional<SystemTime>> NextBroadcastRecipientDue(std::string_view broadcast_id,
                                                              SystemTime after_due,
                                                              int64_t after_pos) override {
    auto s = c_.Prepare(
        "SELECT due_at FROM broadcast_recipients WHERE broadcast_id = ?1 AND "
        "(due_at, pos) > (?2, ?3) ORDER BY due_at, pos LIMIT 1");
    s.Bind(1, broadcast_id).Bind(2, after_due).Bind(3, after_pos);
    if (s.Step() != SQLITE_ROW) return std::optional<SystemTime>();
    return std::optional<SystemTime>(s.Time(0));
  }

  Result<std::optional<Workflow>> GetWorkflow(std::string_view project_id,
                                              std::string_view id) override {
    auto s = c_.Prepare(XOAL_SELECT_WORKFLOW "WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    if (s.Step() != SQLITE_ROW) return std::optional<Workflow>();
    return std::optional<Workflow>(ReadWorkflow(s));
  }

  Result<std::vector<Workflow>> ListWorkflows(std::string_view project_id,
                                              PageRequest page) override {
    auto s = c_.Prepare(XOAL_SELECT_WORKFLOW
                        "WHERE (?1 = '' OR project_id = ?1) AND seq > ?2 ORDER BY seq LIMIT ?3");
    s.Bind(1, project_id).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<Workflow> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadWorkflow(s));
    return out;
  }

  Result<std::optional<json::object>> GetWorkflowVersion(std::string_view workflow_id,
                                                         int version) override {
    auto s = c_.Prepare(
        "SELECT definition FROM workflow_versions WHERE workflow_id = ? AND version = ?");
    s.Bind(1, workflow_id).Bind(2, static_cast<int64_t>(version));
    if (s.Step() != SQLITE_ROW) return std::optional<json::object>();
    return std::optional<json::object>(s.Object(0));
  }

  Result<std::optional<WorkflowRun>> GetRun(std::string_view project_id,
                                            std::string_view id) override {
    auto s = c_.Prepare(XOAL_SELECT_RUN "WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    if (s.Step() != SQLITE_ROW) return std::optional<WorkflowRun>();
    return std::optional<WorkflowRun>(ReadRun(s));
  }

  Result<std::vector<WorkflowRun>> ListRuns(std::string_view project_id, const WorkflowRunFilter& f,
                                            PageRequest page) override {
    auto s = c_.Prepare(XOAL_SELECT_RUN
                        "WHERE project_id = ?1 AND (?2 IS NULL OR workflow_id = ?2) AND "
                        "(?3 IS NULL OR usid = ?3) AND (?4 IS NULL OR status = ?4) AND seq > ?5 "
                        "ORDER BY seq LIMIT ?6");
    s.Bind(1, project_id).Bind(2, f.workflow_id).Bind(3, f.usid).Bind(4, f.status);
    s.Bind(5, page.after_seq).Bind(6, static_cast<int64_t>(page.limit));
    return ReadRuns(s);
  }

  Result<std::vector<WorkflowRun>> ListOpenRunsOf(std::string_view project_id,
                                                  std::string_view usid) override {
    auto s = c_.Prepare(XOAL_SELECT_RUN
                        "WHERE project_id = ? AND usid = ? AND status IN ('active', 'held') "
                        "ORDER BY seq");
    s.Bind(1, project_id).Bind(2, usid);
    return ReadRuns(s);
  }

  Result<std::optional<SystemTime>> LastEntry(std::string_view workflow_id,
                                              std::string_view usid) override {
    auto s =
        c_.Prepare("SELECT MAX(started_at) FROM workflow_runs WHERE workflow_id = ? AND usid = ?");
    s.Bind(1, workflow_id).Bind(2, usid);
    if (s.Step() != SQLITE_ROW || s.IsNull(0)) return std::optional<SystemTime>();
    return std::optional<SystemTime>(s.Time(0));
  }

  Result<std::vector<WorkflowRun>> DueRuns(SystemTime now, int limit) override {
    auto s = c_.Prepare(XOAL_SELECT_RUN
                        "WHERE wake_at IS NOT NULL AND status = 'active' AND wake_at <= ? "
                        "ORDER BY wake_at LIMIT ?");
    s.Bind(1, now).Bind(2, static_cast<int64_t>(limit));
    return ReadRuns(s);
  }

  Result<std::vector<WorkflowRun>> DueGoalRuns(SystemTime now, int limit) override {
    auto s = c_.Prepare(XOAL_SELECT_RUN
                        "WHERE goal_at IS NOT NULL AND status = 'active' AND goal_at <= ? "
                        "ORDER BY goal_at LIMIT ?");
    s.Bind(1, now).Bind(2, static_cast<int64_t>(limit));
    return ReadRuns(s);
  }

  Result<std::optional<SystemTime>> NextRunWake() override {
    // Two MINs, each answered at once by its partial index (one over an OR would scan).
    std::optional<SystemTime> out;
    for (const char* sql :
         {"SELECT MIN(wake_at) FROM workflow_runs WHERE wake_at IS NOT NULL AND status = 'active'",
          "SELECT MIN(goal_at) FROM workflow_runs WHERE goal_at IS NOT NULL AND status = "
          "'active'"}) {
      auto s = c_.Prepare(sql);
      if (s.Step() == SQLITE_ROW && !s.IsNull(0) && (!out || s.Time(0) < *out)) out = s.Time(0);
    }
    return out;
  }

  Result<std::vector<WorkflowRunStep>> ListRunSteps(std::string_view run_id,
                                                    PageRequest page) override {
    auto s = c_.Prepare(
        "SELECT seq, run_id, workflow_id, step, visit, type, outcome, channel, detail, at "
        "FROM workflow_run_steps WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, run_id).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<WorkflowRunStep> out;
    while (s.Step() == SQLITE_ROW) {
      out.push_back(WorkflowRunStep{s.Int(0), s.Text(1), s.Text(2), s.Text(3),
                                    static_cast<int>(s.Int(4)), s.Text(5), s.Text(6), s.Text(7),
                                    s.Object(8), s.Time(9)});
    }
    return out;
  }

  Result<WorkflowStats> GetWorkflowStats(std::string_view workflow_id) override {
    WorkflowStats out;
    {
      auto s = c_.Prepare(
          "SELECT status, COUNT(*) FROM workflow_runs WHERE workflow_id = ? GROUP BY status");
      s.Bind(1, workflow_id);
      while (s.Step() == SQLITE_ROW) out.runs_by_status[s.Text(0)] = s.Int(1);
    }
    {
      auto s = c_.Prepare(
          "SELECT state, COUNT(*) FROM workflow_date_timers WHERE workflow_id = ? GROUP BY state");
      s.Bind(1, workflow_id);
      while (s.Step() == SQLITE_ROW) out.date_timers[s.Text(0)] = s.Int(1);
    }
    auto s = c_.Prepare(
        "SELECT step, outcome, channel, COUNT(*) FROM workflow_run_steps WHERE workflow_id = ? "
        "GROUP BY step, outcome, channel");
    s.Bind(1, workflow_id);
    while (s.Step() == SQLITE_ROW) {
      out.steps[s.Text(0)][s.Text(1)] += s.Int(3);
      if (s.Text(1) == "sent") out.sent[s.Text(0)][s.Text(2)] += s.Int(3);
    }
    return out;
  }

  Result<std::optional<DateTimer>> GetDateTimer(std::string_view workflow_id,
                                                std::string_view usid) override {
    auto s = c_.Prepare(XOAL_SELECT_DATE_TIMER "WHERE workflow_id = ? AND usid = ?");
    s.Bind(1, workflow_id).Bind(2, usid);
    if (s.Step() != SQLITE_ROW) return std::optional<DateTimer>();
    return std::optional<DateTimer>(ReadDateTimer(s));
  }

  Result<std::vector<DateTimer>> DueDateTimers(SystemTime now, int limit) override {
    auto s = c_.Prepare(XOAL_SELECT_DATE_TIMER
                        "WHERE state = 'pending' AND fire_at <= ? ORDER BY fire_at LIMIT ?");
    s.Bind(1, now).Bind(2, static_cast<int64_t>(limit));
    std::vector<DateTimer> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadDateTimer(s));
    return out;
  }

  Result<std::optional<SystemTime>> NextDateTimer() override {
    auto s = c_.Prepare("SELECT MIN(fire_at) FROM workflow_date_timers WHERE state = 'pending'");
    if (s.Step() != SQLITE_ROW || s.IsNull(0)) return std::optional<SystemTime>();
    return std::optional<SystemTime>(s.Time(0));
  }

  Result<std::vector<WorkflowScan>> ListWorkflowScans() override {
    auto s = c_.Prepare("SELECT project_id, workflow_id, after_seq FROM workflow_scans");
    std::vector<WorkflowScan> out;
    while (s.Step() == SQLITE_ROW) out.push_back(WorkflowScan{s.Text(0), s.Text(1), s.Int(2)});
    return out;
  }

  Result<int> GetWorkflowSendCount(std::string_view workflow_id, int64_t window) override {
    auto s =
        c_.Prepare("SELECT sent FROM workflow_send_counts WHERE workflow_id = ? AND minute = ?");
    s.Bind(1, workflow_id).Bind(2, window);
    if (s.Step() != SQLITE_ROW) return 0;
    return static_cast<int>(s.Int(0));
  }

  Result<std::optional<json::object>> GetTriggerAnswer(std::string_view project_id,
                                                       std::string_view workflow_id,
                                                       std::string_view key) override {
    auto s = c_.Prepare(
        "SELECT answer FROM workflow_trigger_keys WHERE project_id = ? AND workflow_id = ? AND "
        "idempotency_key = ?");
    s.Bind(1, project_id).Bind(2, workflow_id).Bind(3, key);
    if (s.Step() != SQLITE_ROW) return std::optional<json::object>();
    return std::optional<json::object>(s.Object(0));
  }

  Result<int64_t> CountCappedMessages(std::string_view project_id, std::string_view usid,
                                      SystemTime from, SystemTime to) override {
    auto s = c_.Prepare(
        "SELECT COUNT(*) FROM outbox_messages WHERE project_id = ? AND usid = ? "
        "AND transactional = 0 AND channel != 'webhook' "
        "AND status IN ('queued', 'sending', 'sent') AND planned_at >= ? AND planned_at < ?");
    s.Bind(1, project_id).Bind(2, usid).Bind(3, from).Bind(4, to);
    return s.Step() == SQLITE_ROW ? s.Int(0) : int64_t{0};
  }

  Result<std::optional<Suppression>> GetSuppression(std::string_view project_id,
                                                    std::string_view address) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, address, channel, reason, created_at FROM suppressions "
        "WHERE project_id = ? AND address = ?");
    s.Bind(1, project_id).Bind(2, address);
    if (s.Step() != SQLITE_ROW) return std::optional<Suppression>();
    return std::optional<Suppression>(ReadSuppression(s));
  }

  Result<std::vector<Suppression>> ListSuppressions(std::string_view project_id,
                                                    PageRequest page) override {
    auto s = c_.Prepare(
        "SELECT seq, project_id, address, channel, reason, created_at FROM suppressions "
        "WHERE project_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, project_id).Bind(2, page.after_seq).Bind(3, static_cast<int64_t>(page.limit));
    std::vector<Suppression> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadSuppression(s));
    return out;
  }

 protected:
  static Workflow ReadWorkflow(const Stmt& s) {
    return Workflow{s.Int(0),    s.Text(1), s.Text(2),
                    s.Text(3),   s.Text(4), static_cast<int>(s.Int(5)),
                    s.Object(6), s.Time(7), s.Time(8)};
  }

  static std::vector<WorkflowRun> ReadRuns(Stmt& s) {
    std::vector<WorkflowRun> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadRun(s));
    return out;
  }

  static WorkflowRun ReadRun(const Stmt& s) {
    WorkflowRun r;
    r.seq = s.Int(0);
    r.project_id = s.Text(1);
    r.id = s.Text(2);
    r.workflow_id = s.Text(3);
    r.version = static_cast<int>(s.Int(4));
    r.usid = s.Text(5);
    r.run_key = s.OptText(6);
    r.status = s.Text(7);
    r.step = s.Text(8);
    r.waiting = s.Int(9) != 0;
    r.visits = static_cast<int>(s.Int(10));
    r.wake_at = s.OptTime(11);
    r.wait_event = s.OptText(12);
    r.context = s.Object(13);
    r.started_at = s.Time(14);
    r.updated_at = s.Time(15);
    r.ended_at = s.OptTime(16);
    r.goal_at = s.OptTime(17);
    return r;
  }

  static Project ReadProject(const Stmt& s) {
    return Project{s.Text(0), s.Text(1), s.Object(2), s.Time(3)};
  }

  static Customer ReadCustomer(const Stmt& s) {
    Customer c;
    c.seq = s.Int(0);
    c.project_id = s.Text(1);
    c.usid = s.Text(2);
    c.user_id = s.OptText(3);
    c.email = s.OptText(4);
    c.attributes = s.Object(5);
    c.attribute_times = s.Object(6);
    c.created_at = s.Time(7);
    c.updated_at = s.Time(8);
    c.added_via = s.Text(9);
    return c;
  }

  // The strings of a JSON array column (json_group_array), sorted: the order in which an
  // aggregate sees its rows is not one SQLite promises.
  static std::vector<std::string> SortedStrings(const Stmt& s, int col) {
    std::vector<std::string> out;
    boost::system::error_code ec;
    json::parse_options opts;
    opts.allow_invalid_utf8 = true;  // stored as given; only the JSON around them is ours
    json::value v = json::parse(s.Text(col), ec, {}, opts);
    if (ec || !v.is_array()) {
      spdlog::error("store_corrupt_json backend=sqlite column={}", col);
      return out;
    }
    for (const auto& e : v.get_array()) {
      if (e.is_string()) out.emplace_back(e.get_string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void FillCustomerSets(Customer& c) {
    c.tags =
        StringColumnList(c_, "SELECT tag FROM customer_tags WHERE usid = ? ORDER BY tag", c.usid);
    c.anonymous_ids = StringColumnList(
        c_, "SELECT anonymous_id FROM customer_anonymous_ids WHERE usid = ? ORDER BY anonymous_id",
        c.usid);
  }

  static Company ReadCompany(const Stmt& s) {
    return Company{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Object(4), s.Time(5), s.Time(6)};
  }

  static Membership ReadMembership(const Stmt& s) {
    return Membership{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Object(4), s.Time(5)};
  }

  static Segment ReadSegment(const Stmt& s) {
    Segment g{s.Int(0),      s.Text(1), s.Text(2), s.Text(3), s.Text(4),
              json::value(), s.Text(6), s.Time(7), s.Time(8)};
    std::error_code ec;
    g.conditions = json::parse(s.Text(5), ec);
    return g;
  }

  static OutboxMessage ReadOutboxMessage(const Stmt& s) {
    OutboxMessage m;
    m.seq = s.Int(0);
    m.project_id = s.Text(1);
    m.id = s.Text(2);
    m.usid = s.Text(3);
    m.channel = s.Text(4);
    m.status = s.Text(5);
    m.content = s.Object(6);
    m.idempotency_key = s.Text(7);
    m.transactional = s.Int(8) != 0;
    m.attempts = static_cast<int>(s.Int(9));
    m.recoveries = static_cast<int>(s.Int(10));
    m.created_at = s.Time(11);
    m.updated_at = s.Time(12);
    m.sent_at = s.OptTime(13);
    m.next_attempt_at = s.OptTime(14);
    m.attempt_started_at = s.OptTime(15);
    m.provider_message_id = s.Text(16);
    m.last_answer = s.Object(17);
    m.skip_reason = s.Text(18);
    m.planned_at = s.Time(19);
    m.in_doubt = s.Int(20) != 0;
    return m;
  }

  static Broadcast ReadBroadcast(const Stmt& s) {
    Broadcast b;
    b.seq = s.Int(0);
    b.project_id = s.Text(1);
    b.id = s.Text(2);
    b.name = s.Text(3);
    b.status = s.Text(4);
    b.definition = s.Object(5);
    b.start_at = s.OptTime(6);
    b.phase = s.Text(7);
    b.member_cursor = s.Int(8);
    b.recipients = s.Int(9);
    b.cursor_due_at = s.Time(10);
    b.cursor_pos = s.Int(11);
    b.enqueued = s.Int(12);
    b.window_start = s.Time(13);
    b.window_count = s.Int(14);
    b.engine_skips = s.Object(15);
    b.started_at = s.OptTime(16);
    b.finished_at = s.OptTime(17);
    b.created_at = s.Time(18);
    b.updated_at = s.Time(19);
    return b;
  }

  static Suppression ReadSuppression(const Stmt& s) {
    return Suppression{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Time(5)};
  }

  static std::vector<OutboxMessage> ReadOutboxMessages(Stmt& s) {
    std::vector<OutboxMessage> out;
    while (s.Step() == SQLITE_ROW) out.push_back(ReadOutboxMessage(s));
    return out;
  }

  static Field ReadField(const Stmt& s) {
    return Field{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Time(6)};
  }

  Conn& c_;
};

using SqliteReadTxn = SqliteReads<ReadTxn>;

class SqliteWriteTxn final : public SqliteReads<WriteTxn> {
 public:
  explicit SqliteWriteTxn(Conn& c) : SqliteReads<WriteTxn>(c) {}

  Status Nested(const std::function<Status(WriteTxn&)>& fn) override {
    XOAL_RETURN_IF_ERROR(c_.Exec("SAVEPOINT nested"));
    Status st = fn(*this);
    if (!st.ok()) (void)c_.Exec("ROLLBACK TO nested");
    XOAL_RETURN_IF_ERROR(c_.Exec("RELEASE nested"));
    return st;
  }

  Status InsertProject(const Project& p) override {
    auto s = c_.Prepare("INSERT INTO projects(id, name, settings, created_at) VALUES (?,?,?,?)");
    s.Bind(1, p.id).Bind(2, p.name).Bind(3, p.settings).Bind(4, p.created_at);
    return s.Exec("insert project");
  }

  Status UpdateProject(const Project& p) override {
    auto s = c_.Prepare("UPDATE projects SET name = ?, settings = ? WHERE id = ?");
    s.Bind(1, p.name).Bind(2, p.settings).Bind(3, p.id);
    return s.Exec("update project");
  }

  Status InsertKey(const ApiKey& k) override {
    auto s = c_.Prepare(
        "INSERT INTO api_keys(id, project_id, name, type, hash, prefix, created_at) "
        "VALUES (?,?,?,?,?,?,?)");
    s.Bind(1, k.id).Bind(2, k.project_id).Bind(3, k.name).Bind(4, KeyTypeName(k.type));
    s.Bind(5, k.hash).Bind(6, k.prefix).Bind(7, k.created_at);
    return s.Exec("insert key");
  }

  Status RevokeKey(std::string_view project_id, std::string_view key_id, SystemTime at) override {
    auto s = c_.Prepare(
        "UPDATE api_keys SET revoked_at = ? WHERE project_id = ? AND id = ? AND revoked_at IS "
        "NULL");
    s.Bind(1, at).Bind(2, project_id).Bind(3, key_id);
    XOAL_RETURN_IF_ERROR(s.Exec("revoke key"));
    return Changed() ? Status::Ok() : Status::NotFound("no such key");
  }

  Status TouchKey(std::string_view key_id, SystemTime at) override {
    auto s = c_.Prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?");
    s.Bind(1, at).Bind(2, key_id);
    return s.Exec("touch key");
  }

  Status InsertCustomer(Customer& c) override {
    auto s = c_.Prepare(
        "INSERT INTO customers(project_id, usid, user_id, email, attributes, attribute_times, "
        "created_at, updated_at, added_via) VALUES (?,?,?,?,?,?,?,?,?)");
    s.Bind(1, c.project_id).Bind(2, c.usid).Bind(3, c.user_id).Bind(4, c.email);
    s.Bind(5, c.attributes).Bind(6, c.attribute_times).Bind(7, c.created_at);
    s.Bind(8, c.updated_at).Bind(9, c.added_via);
    XOAL_RETURN_IF_ERROR(s.Exec("insert customer"));
    c.seq = sqlite3_last_insert_rowid(c_.db());
    for (const auto& tag : c.tags)
      XOAL_RETURN_IF_ERROR(AddTag(c.project_id, c.usid, tag, c.created_at));
    for (const auto& a : c.anonymous_ids)
      XOAL_RETURN_IF_ERROR(AddAnonymousId(c.project_id, c.usid, a));
    return Status::Ok();
  }

  Status UpdateCustomer(const Customer& c) override {
    // An UPDATE that names user_id or email rewrites their index entries even when the value is
    // unchanged: two more random index pages dirtied, journaled and written to the WAL. Nearly
    // every update keeps both (each ingested event moves last_active), so the row is first
    // updated on the condition that they are as given, without naming them; only when that
    // matches no row are they written too.
    std::string attributes = json::serialize(c.attributes);
    std::string attribute_times = json::serialize(c.attribute_times);
    {
      auto s = c_.Prepare(
          "UPDATE customers SET attributes = ?, attribute_times = ?, created_at = ?, "
          "updated_at = ?, added_via = ? WHERE project_id = ? AND usid = ? AND user_id IS ? AND "
          "email IS ?");
      s.Bind(1, attributes).Bind(2, attribute_times).Bind(3, c.created_at).Bind(4, c.updated_at);
      s.Bind(5, c.added_via).Bind(6, c.project_id).Bind(7, c.usid).Bind(8, c.user_id);
      s.Bind(9, c.email);
      XOAL_RETURN_IF_ERROR(s.Exec("update customer"));
      if (Changed()) return Status::Ok();
    }
    auto s = c_.Prepare(
        "UPDATE customers SET user_id = ?, email = ?, attributes = ?, attribute_times = ?, "
        "created_at = ?, updated_at = ?, added_via = ? WHERE project_id = ? AND usid = ?");
    s.Bind(1, c.user_id).Bind(2, c.email).Bind(3, attributes).Bind(4, attribute_times);
    s.Bind(5, c.created_at).Bind(6, c.updated_at).Bind(7, c.added_via).Bind(8, c.project_id);
    s.Bind(9, c.usid);
    XOAL_RETURN_IF_ERROR(s.Exec("update customer"));
    return Changed() ? Status::Ok() : Status::NotFound("no such customer");
  }

  Status AddTag(std::string_view project_id, std::string_view usid, std::string_view tag,
                SystemTime at) override {
    auto s = c_.Prepare(
        "INSERT OR IGNORE INTO customer_tags(usid, tag, project_id, created_at) VALUES (?,?,?,?)");
    s.Bind(1, usid).Bind(2, tag).Bind(3, project_id).Bind(4, at);
    return s.Exec("add tag");
  }

  Status RemoveTag(std::string_view project_id, std::string_view usid,
                   std::string_view tag) override {
    auto s = c_.Prepare("DELETE FROM customer_tags WHERE project_id = ? AND usid = ? AND tag = ?");
    s.Bind(1, project_id).Bind(2, usid).Bind(3, tag);
    XOAL_RETURN_IF_ERROR(s.Exec("remove tag"));
    return Changed() ? Status::Ok() : Status::NotFound("the customer does not have this tag");
  }

  Status AddAnonymousId(std::string_view project_id, std::string_view usid,
                        std::string_view anonymous_id) override {
    auto s = c_.Prepare(
        "INSERT INTO customer_anonymous_ids(project_id, anonymous_id, usid) VALUES (?,?,?) "
        "ON CONFLICT(project_id, anonymous_id) DO UPDATE SET usid = excluded.usid");
    s.Bind(1, project_id).Bind(2, anonymous_id).Bind(3, usid);
    return s.Exec("add anonymous id");
  }

  Status DeleteCustomer(std::string_view project_id, std::string_view usid) override {
    static constexpr const char* kDeletes[] = {
        "DELETE FROM customer_tags WHERE project_id = ? AND usid = ?",
        "DELETE FROM customer_anonymous_ids WHERE project_id = ? AND usid = ?",
        "DELETE FROM memberships WHERE project_id = ? AND usid = ?",
        // Their ids stay known, so that a retried message is still a duplicate.
        "INSERT OR IGNORE INTO deleted_event_ids(project_id, id) "
        "SELECT project_id, id FROM events WHERE project_id = ? AND usid = ?",
        "DELETE FROM events WHERE project_id = ? AND usid = ?",
        "DELETE FROM customer_merges WHERE project_id = ? AND into_usid = ?",
    };
    for (const char* sql : kDeletes) {
      auto s = c_.Prepare(sql);
      s.Bind(1, project_id).Bind(2, usid);
      XOAL_RETURN_IF_ERROR(s.Exec("delete customer data"));
    }
    auto s = c_.Prepare("DELETE FROM customers WHERE project_id = ? AND usid = ?");
    s.Bind(1, project_id).Bind(2, usid);
    XOAL_RETURN_IF_ERROR(s.Exec("delete customer"));
    return Changed() ? Status::Ok() : Status::NotFound("no such customer");
  }

  Status MergeCustomerInto(std::string_view project_id, std::string_view from,
                           std::string_view into, SystemTime at) override {
    static constexpr const char* kMoves[] = {
        "UPDATE OR IGNORE customer_tags SET usid = ?3 WHERE project_id = ?1 AND usid = ?2",
        "UPDATE customer_anonymous_ids SET usid = ?3 WHERE project_id = ?1 AND usid = ?2",
        "UPDATE OR IGNORE memberships SET usid = ?3 WHERE project_id = ?1 AND usid = ?2",
        "UPDATE events SET usid = ?3 WHERE project_id = ?1 AND usid = ?2",
        "UPDATE customer_merges SET into_usid = ?3 WHERE project_id = ?1 AND into_usid = ?2",
    };
    for (const char* sql : kMoves) {
      auto s = c_.Prepare(sql);
      s.Bind(1, project_id).Bind(2, from).Bind(3, into);
      XOAL_RETURN_IF_ERROR(s.Exec("merge customer data"));
    }
    // Rows left behind by OR IGNORE duplicated what the survivor already had.
    XOAL_RETURN_IF_ERROR(DeleteCustomer(project_id, from));
    auto s = c_.Prepare(
        "INSERT OR REPLACE INTO customer_merges(from_usid, project_id, into_usid, merged_at) "
        "VALUES (?,?,?,?)");
    s.Bind(1, from).Bind(2, project_id).Bind(3, into).Bind(4, at);
    return s.Exec("record merge");
  }

  Status PutCompany(Company& co) override {
    auto s = c_.Prepare(
        "INSERT INTO companies(project_id, id, name, attributes, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT(project_id, id) DO UPDATE SET name = excluded.name, "
        "attributes = excluded.attributes, updated_at = excluded.updated_at RETURNING seq");
    s.Bind(1, co.project_id).Bind(2, co.id).Bind(3, co.name).Bind(4, co.attributes);
    s.Bind(5, co.created_at).Bind(6, co.updated_at);
    if (s.Step() != SQLITE_ROW) return SqliteError(c_.db(), "put company");
    co.seq = s.Int(0);
    return Status::Ok();
  }

  Status DeleteCompany(std::string_view project_id, std::string_view id) override {
    {
      auto s = c_.Prepare("DELETE FROM memberships WHERE project_id = ? AND company_id = ?");
      s.Bind(1, project_id).Bind(2, id);
      XOAL_RETURN_IF_ERROR(s.Exec("delete memberships"));
    }
    auto s = c_.Prepare("DELETE FROM companies WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    XOAL_RETURN_IF_ERROR(s.Exec("delete company"));
    return Changed() ? Status::Ok() : Status::NotFound("no such company");
  }

  Status PutMembership(Membership& m) override {
    auto s = c_.Prepare(
        "INSERT INTO memberships(project_id, company_id, usid, attributes, created_at) "
        "VALUES (?,?,?,?,?) ON CONFLICT(project_id, company_id, usid) DO UPDATE SET "
        "attributes = excluded.attributes RETURNING seq, created_at");
    s.Bind(1, m.project_id).Bind(2, m.company_id).Bind(3, m.usid).Bind(4, m.attributes);
    s.Bind(5, m.created_at);
    if (s.Step() != SQLITE_ROW) return SqliteError(c_.db(), "put membership");
    m.seq = s.Int(0);
    m.created_at = s.Time(1);
    return Status::Ok();
  }

  Status DeleteMembership(std::string_view project_id, std::string_view company_id,
                          std::string_view usid) override {
    auto s =
        c_.Prepare("DELETE FROM memberships WHERE project_id = ? AND company_id = ? AND usid = ?");
    s.Bind(1, project_id).Bind(2, company_id).Bind(3, usid);
    XOAL_RETURN_IF_ERROR(s.Exec("delete membership"));
    return Changed() ? Status::Ok() : Status::NotFound("the customer is not a member");
  }

  Status PutField(const Field& f) override {
    auto s = c_.Prepare(
        "INSERT OR REPLACE INTO fields(project_id, entity, name, type, description, origin, "
        "created_at) VALUES (?,?,?,?,?,?,?)");
    s.Bind(1, f.project_id).Bind(2, f.entity).Bind(3, f.name).Bind(4, f.type);
    s.Bind(5, f.description).Bind(6, f.origin).Bind(7, f.created_at);
    return s.Exec("put field");
  }

  Status DeleteField(std::string_view project_id, std::string_view entity,
                     std::string_view name) override {
    auto s = c_.Prepare("DELETE FROM fields WHERE project_id = ? AND entity = ? AND name = ?");
    s.Bind(1, project_id).Bind(2, entity).Bind(3, name);
    XOAL_RETURN_IF_ERROR(s.Exec("delete field"));
    return Changed() ? Status::Ok() : Status::NotFound("no such field");
  }

  Status PutSegment(Segment& g) override {
    auto s = c_.Prepare(
        "INSERT INTO segments(project_id, id, name, type, conditions, status, created_at, "
        "updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(id) DO UPDATE SET "
        "name = ?3, type = ?4, conditions = ?5, status = ?6, updated_at = ?8");
    s.Bind(1, g.project_id).Bind(2, g.id).Bind(3, g.name).Bind(4, g.type);
    s.Bind(5, json::serialize(g.conditions)).Bind(6, g.status).Bind(7, g.created_at);
    s.Bind(8, g.updated_at);
    XOAL_RETURN_IF_ERROR(s.Exec("put segment"));
    if (g.seq == 0) g.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status DeleteSegment(std::string_view project_id, std::string_view id) override {
    static constexpr const char* kDeletes[] = {
        "DELETE FROM segment_members WHERE project_id = ?1 AND segment_id = ?2",
        "DELETE FROM segment_history WHERE project_id = ?1 AND segment_id = ?2",
        "DELETE FROM segment_timers WHERE project_id = ?1 AND segment_id = ?2",
    };
    for (const char* sql : kDeletes) {
      auto s = c_.Prepare(sql);
      s.Bind(1, project_id).Bind(2, id);
      XOAL_RETURN_IF_ERROR(s.Exec("delete segment data"));
    }
    auto s = c_.Prepare("DELETE FROM segments WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    XOAL_RETURN_IF_ERROR(s.Exec("delete segment"));
    return Changed() ? Status::Ok() : Status::NotFound("no segment with id " + std::string(id));
  }

  Status AddSegmentMember(std::string_view project_id, std::string_view segment_id,
                          std::string_view usid, SystemTime at) override {
    auto s = c_.Prepare(
        "INSERT INTO segment_members(project_id, segment_id, usid, entered_at) VALUES (?,?,?,?)");
    s.Bind(1, project_id).Bind(2, segment_id).Bind(3, usid).Bind(4, at);
    return s.Exec("add segment member");
  }

  Status RemoveSegmentMember(std::string_view segment_id, std::string_view usid) override {
    auto s = c_.Prepare("DELETE FROM segment_members WHERE segment_id = ? AND usid = ?");
    s.Bind(1, segment_id).Bind(2, usid);
    XOAL_RETURN_IF_ERROR(s.Exec("remove segment member"));
    return Changed() ? Status::Ok() : Status::NotFound("the customer is not in the segment");
  }

  Status InsertSegmentChange(SegmentChange& c) override {
    auto s = c_.Prepare(
        "INSERT INTO segment_history(project_id, segment_id, usid, entered, at) VALUES "
        "(?,?,?,?,?)");
    s.Bind(1, c.project_id).Bind(2, c.segment_id).Bind(3, c.usid);
    s.Bind(4, static_cast<int64_t>(c.entered ? 1 : 0)).Bind(5, c.at);
    XOAL_RETURN_IF_ERROR(s.Exec("insert segment change"));
    c.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status SetSegmentTimer(std::string_view project_id, std::string_view segment_id,
                         std::string_view usid, std::optional<SystemTime> flip_at) override {
    if (!flip_at) {
      auto s = c_.Prepare("DELETE FROM segment_timers WHERE segment_id = ? AND usid = ?");
      s.Bind(1, segment_id).Bind(2, usid);
      return s.Exec("clear segment timer");
    }
    // An unchanged time writes nothing: re-evaluations mostly find the same flip.
    auto s = c_.Prepare(
        "INSERT INTO segment_timers(segment_id, usid, project_id, flip_at) VALUES (?1,?2,?3,?4)"
        " ON CONFLICT(segment_id, usid) DO UPDATE SET flip_at = ?4 WHERE flip_at IS NOT ?4");
    s.Bind(1, segment_id).Bind(2, usid).Bind(3, project_id).Bind(4, *flip_at);
    return s.Exec("set segment timer");
  }

  Status InsertIngestionError(IngestionError& e) override {
    auto s = c_.Prepare(
        "INSERT INTO ingestion_errors(project_id, received_at, source, message_id, idx, kind, "
        "reason, excerpt) VALUES (?,?,?,?,?,?,?,?)");
    s.Bind(1, e.project_id).Bind(2, e.received_at).Bind(3, e.source).Bind(4, e.message_id);
    s.Bind(5, static_cast<int64_t>(e.index)).Bind(6, e.kind).Bind(7, e.reason).Bind(8, e.excerpt);
    XOAL_RETURN_IF_ERROR(s.Exec("insert ingestion error"));
    e.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status InsertEvent(Event& e) override {
    auto s = c_.Prepare(
        "INSERT INTO events(project_id, id, usid, name, type, source, timestamp, received_at, "
        "properties) VALUES (?,?,?,?,?,?,?,?,?)");
    s.Bind(1, e.project_id).Bind(2, e.id).Bind(3, e.usid).Bind(4, e.name).Bind(5, e.type);
    s.Bind(6, e.source).Bind(7, e.timestamp).Bind(8, e.received_at).Bind(9, e.properties);
    XOAL_RETURN_IF_ERROR(s.Exec("insert event"));
    e.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status InsertOutboxMessage(OutboxMessage& m) override {
    auto s = c_.Prepare(
        "INSERT INTO outbox_messages(project_id, id, usid, channel, status, content, "
        "idempotency_key, transactional, attempts, recoveries, created_at, updated_at, sent_at, "
        "next_attempt_at, attempt_started_at, provider_message_id, last_answer, skip_reason, "
        "planned_at, in_doubt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.Bind(1, m.project_id).Bind(2, m.id).Bind(3, m.usid).Bind(4, m.channel).Bind(5, m.status);
    s.Bind(6, m.content).Bind(7, m.idempotency_key);
    s.Bind(8, static_cast<int64_t>(m.transactional ? 1 : 0));
    s.Bind(9, static_cast<int64_t>(m.attempts)).Bind(10, static_cast<int64_t>(m.recoveries));
    s.Bind(11, m.created_at).Bind(12, m.updated_at).Bind(13, m.sent_at);
    s.Bind(14, m.next_attempt_at).Bind(15, m.attempt_started_at);
    s.Bind(16, m.provider_message_id).Bind(17, m.last_answer).Bind(18, m.skip_reason);
    s.Bind(19, m.planned_at).Bind(20, static_cast<int64_t>(m.in_doubt ? 1 : 0));
    XOAL_RETURN_IF_ERROR(s.Exec("insert outbox message"));
    m.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status UpdateOutboxMessage(const OutboxMessage& m) override {
    auto s = c_.Prepare(
        "UPDATE outbox_messages SET status = ?, attempts = ?, recoveries = ?, updated_at = ?, "
        "sent_at = ?, next_attempt_at = ?, attempt_started_at = ?, provider_message_id = ?, "
        "last_answer = ?, skip_reason = ?, in_doubt = ? WHERE project_id = ? AND id = ?");
    s.Bind(1, m.status).Bind(2, static_cast<int64_t>(m.attempts));
    s.Bind(3, static_cast<int64_t>(m.recoveries)).Bind(4, m.updated_at).Bind(5, m.sent_at);
    s.Bind(6, m.next_attempt_at).Bind(7, m.attempt_started_at).Bind(8, m.provider_message_id);
    s.Bind(9, m.last_answer).Bind(10, m.skip_reason);
    s.Bind(11, static_cast<int64_t>(m.in_doubt ? 1 : 0));
    s.Bind(12, m.project_id).Bind(13, m.id);
    XOAL_RETURN_IF_ERROR(s.Exec("update outbox message"));
    return Changed() ? Status::Ok() : Status::NotFound("no such message");
  }

  Status PutChannelConfig(std::string_view project_id, std::string_view channel,
                          const json::object& config, SystemTime at) override {
    auto s = c_.Prepare(
        "INSERT OR REPLACE INTO channel_configs(project_id, channel, config, updated_at) "
        "VALUES (?,?,?,?)");
    s.Bind(1, project_id).Bind(2, channel).Bind(3, config).Bind(4, at);
    return s.Exec("put channel config");
  }

  Status PutBroadcast(Broadcast& b) override {
    auto s = c_.Prepare(
        "INSERT INTO broadcasts(project_id, id, name, status, definition, start_at, phase, "
        "member_cursor, recipients, cursor_due_at, cursor_pos, enqueued, window_start, "
        "window_count, engine_skips, started_at, finished_at, created_at, updated_at) VALUES "
        "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19) "
        "ON CONFLICT(id) DO UPDATE SET name = ?3, status = ?4, definition = ?5, start_at = ?6, "
        "phase = ?7, member_cursor = ?8, recipients = ?9, cursor_due_at = ?10, cursor_pos = ?11, "
        "enqueued = ?12, window_start = ?13, window_count = ?14, engine_skips = ?15, "
        "started_at = ?16, finished_at = ?17, updated_at = ?19");
    s.Bind(1, b.project_id).Bind(2, b.id).Bind(3, b.name).Bind(4, b.status);
    s.Bind(5, b.definition).Bind(6, b.start_at).Bind(7, b.phase).Bind(8, b.member_cursor);
    s.Bind(9, b.recipients).Bind(10, b.cursor_due_at).Bind(11, b.cursor_pos);
    s.Bind(12, b.enqueued).Bind(13, b.window_start).Bind(14, b.window_count);
    s.Bind(15, b.engine_skips).Bind(16, b.started_at).Bind(17, b.finished_at);
    s.Bind(18, b.created_at).Bind(19, b.updated_at);
    XOAL_RETURN_IF_ERROR(s.Exec("put broadcast"));
    if (b.seq == 0) b.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status DeleteBroadcast(std::string_view project_id, std::string_view id) override {
    auto r =
        c_.Prepare("DELETE FROM broadcast_recipients WHERE project_id = ? AND broadcast_id = ?");
    r.Bind(1, project_id).Bind(2, id);
    XOAL_RETURN_IF_ERROR(r.Exec("delete broadcast recipients"));
    auto s = c_.Prepare("DELETE FROM broadcasts WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    XOAL_RETURN_IF_ERROR(s.Exec("delete broadcast"));
    return Changed() ? Status::Ok() : Status::NotFound("no broadcast with id " + std::string(id));
  }

  Status InsertBroadcastRecipient(std::string_view project_id, std::string_view broadcast_id,
                                  const BroadcastRecipient& r) override {
    auto s = c_.Prepare(
        "INSERT INTO broadcast_recipients(broadcast_id, pos, project_id, usid, due_at) "
        "VALUES (?,?,?,?,?)");
    s.Bind(1, broadcast_id).Bind(2, r.pos).Bind(3, project_id).Bind(4, r.usid).Bind(5, r.due_at);
    return s.Exec("insert broadcast recipient");
  }

  Status PutWorkflow(Workflow& w) override {
    auto s = c_.Prepare(
        "INSERT INTO workflows(project_id, id, name, status, version, definition, created_at, "
        "updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(id) DO UPDATE SET "
        "name = ?3, status = ?4, version = ?5, definition = ?6, updated_at = ?8");
    s.Bind(1, w.project_id).Bind(2, w.id).Bind(3, w.name).Bind(4, w.status);
    s.Bind(5, static_cast<int64_t>(w.version)).Bind(6, w.definition).Bind(7, w.created_at);
    s.Bind(8, w.updated_at);
    XOAL_RETURN_IF_ERROR(s.Exec("put workflow"));
    if (w.seq == 0) w.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status DeleteWorkflow(std::string_view project_id, std::string_view id) override {
    static constexpr const char* kDeletes[] = {
        "DELETE FROM workflow_run_steps WHERE workflow_id = ?2",
        "DELETE FROM workflow_runs WHERE project_id = ?1 AND workflow_id = ?2",
        "DELETE FROM workflow_versions WHERE workflow_id = ?2",
        "DELETE FROM workflow_trigger_keys WHERE project_id = ?1 AND workflow_id = ?2",
        "DELETE FROM workflow_date_timers WHERE project_id = ?1 AND workflow_id = ?2",
        "DELETE FROM workflow_scans WHERE project_id = ?1 AND workflow_id = ?2",
        "DELETE FROM workflow_send_counts WHERE workflow_id = ?2",
    };
    for (const char* sql : kDeletes) {
      auto s = c_.Prepare(sql);
      s.Bind(1, project_id).Bind(2, id);
      XOAL_RETURN_IF_ERROR(s.Exec("delete workflow data"));
    }
    auto s = c_.Prepare("DELETE FROM workflows WHERE project_id = ? AND id = ?");
    s.Bind(1, project_id).Bind(2, id);
    XOAL_RETURN_IF_ERROR(s.Exec("delete workflow"));
    return Changed() ? Status::Ok() : Status::NotFound("no workflow with id " + std::string(id));
  }

  Status InsertWorkflowVersion(std::string_view workflow_id, int version,
                               const json::object& definition, SystemTime at) override {
    auto s = c_.Prepare(
        "INSERT OR REPLACE INTO workflow_versions(workflow_id, version, definition, created_at) "
        "VALUES (?,?,?,?)");
    s.Bind(1, workflow_id).Bind(2, static_cast<int64_t>(version)).Bind(3, definition);
    s.Bind(4, at);
    return s.Exec("insert workflow version");
  }

  Status InsertRun(WorkflowRun& r) override {
    auto s = c_.Prepare(
        "INSERT INTO workflow_runs(project_id, id, workflow_id, version, usid, run_key, status, "
        "step, waiting, visits, wake_at, wait_event, context, started_at, updated_at, ended_at, "
        "goal_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.Bind(1, r.project_id).Bind(2, r.id).Bind(3, r.workflow_id);
    s.Bind(4, static_cast<int64_t>(r.version)).Bind(5, r.usid).Bind(6, r.run_key);
    s.Bind(7, r.status).Bind(8, r.step).Bind(9, static_cast<int64_t>(r.waiting ? 1 : 0));
    s.Bind(10, static_cast<int64_t>(r.visits)).Bind(11, r.wake_at).Bind(12, r.wait_event);
    s.Bind(13, r.context).Bind(14, r.started_at).Bind(15, r.updated_at).Bind(16, r.ended_at);
    s.Bind(17, r.goal_at);
    XOAL_RETURN_IF_ERROR(s.Exec("insert run"));
    r.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status UpdateRun(const WorkflowRun& r) override {
    auto s = c_.Prepare(
        "UPDATE workflow_runs SET status = ?, step = ?, waiting = ?, visits = ?, wake_at = ?, "
        "wait_event = ?, context = ?, updated_at = ?, ended_at = ?, goal_at = ? WHERE project_id = "
        "? "
        "AND id = ?");
    s.Bind(1, r.status).Bind(2, r.step).Bind(3, static_cast<int64_t>(r.waiting ? 1 : 0));
    s.Bind(4, static_cast<int64_t>(r.visits)).Bind(5, r.wake_at).Bind(6, r.wait_event);
    s.Bind(7, r.context).Bind(8, r.updated_at).Bind(9, r.ended_at).Bind(10, r.goal_at);
    s.Bind(11, r.project_id).Bind(12, r.id);
    XOAL_RETURN_IF_ERROR(s.Exec("update run"));
    return Changed() ? Status::Ok() : Status::NotFound("no run with id " + r.id);
  }

  Status SetRunsStatus(std::string_view workflow_id, std::string_view from, std::string_view to,
                       SystemTime at) override {
    // Pause and resume keep where the runs are; a run that ends (archive) looks like one EndRun
    // ended: no step, not waiting, nothing to wake for.
    static constexpr const char* kLiveSql =
        "UPDATE workflow_runs SET status = ?3, updated_at = ?4, ended_at = NULL"
        " WHERE workflow_id = ?1 AND status = ?2";
    static constexpr const char* kEndSql =
        "UPDATE workflow_runs SET status = ?3, updated_at = ?4, ended_at = ?4, wake_at = NULL,"
        " step = '', waiting = 0, wait_event = NULL, goal_at = NULL"
        " WHERE workflow_id = ?1 AND status = ?2";
    bool live = to == "active" || to == "held";
    auto s = c_.Prepare(live ? kLiveSql : kEndSql);
    s.Bind(1, workflow_id).Bind(2, from).Bind(3, to).Bind(4, at);
    return s.Exec("set runs status");
  }

  Status InsertRunStep(WorkflowRunStep& r) override {
    auto s = c_.Prepare(
        "INSERT INTO workflow_run_steps(run_id, workflow_id, step, visit, type, outcome, channel, "
        "detail, at) VALUES (?,?,?,?,?,?,?,?,?)");
    s.Bind(1, r.run_id).Bind(2, r.workflow_id).Bind(3, r.step);
    s.Bind(4, static_cast<int64_t>(r.visit)).Bind(5, r.type).Bind(6, r.outcome);
    s.Bind(7, r.channel).Bind(8, r.detail).Bind(9, r.at);
    XOAL_RETURN_IF_ERROR(s.Exec("insert run step"));
    r.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status PutDateTimer(const DateTimer& t) override {
    auto s = c_.Prepare(
        "INSERT OR REPLACE INTO workflow_date_timers(workflow_id, usid, project_id, fire_at, "
        "state, value) VALUES (?,?,?,?,?,?)");
    s.Bind(1, t.workflow_id).Bind(2, t.usid).Bind(3, t.project_id).Bind(4, t.fire_at);
    s.Bind(5, t.state).Bind(6, t.value);
    return s.Exec("put date timer");
  }

  Status DeleteDateTimers(std::string_view workflow_id,
                          std::optional<std::string_view> usid) override {
    auto s = c_.Prepare(
        "DELETE FROM workflow_date_timers WHERE workflow_id = ?1 AND (?2 IS NULL OR usid = ?2)");
    s.Bind(1, workflow_id);
    if (usid) s.Bind(2, *usid);
    return s.Exec("delete date timers");
  }

  Status SetDateTimersState(std::string_view workflow_id, std::string_view from,
                            std::string_view to) override {
    auto s = c_.Prepare(
        "UPDATE workflow_date_timers SET state = ?3 WHERE workflow_id = ?1 AND state = ?2");
    s.Bind(1, workflow_id).Bind(2, from).Bind(3, to);
    return s.Exec("set date timers state");
  }

  Status PutWorkflowScan(const WorkflowScan& scan) override {
    auto s = c_.Prepare(
        "INSERT OR REPLACE INTO workflow_scans(workflow_id, project_id, after_seq) VALUES (?,?,?)");
    s.Bind(1, scan.workflow_id).Bind(2, scan.project_id).Bind(3, scan.after_seq);
    return s.Exec("put workflow scan");
  }

  Status DeleteWorkflowScan(std::string_view workflow_id) override {
    auto s = c_.Prepare("DELETE FROM workflow_scans WHERE workflow_id = ?");
    s.Bind(1, workflow_id);
    return s.Exec("delete workflow scan");
  }

  Status PutWorkflowSendCount(std::string_view workflow_id, int64_t window, int count) override {
    auto s = c_.Prepare(
        "INSERT OR REPLACE INTO workflow_send_counts(workflow_id, minute, sent) VALUES (?,?,?)");
    s.Bind(1, workflow_id).Bind(2, window).Bind(3, static_cast<int64_t>(count));
    return s.Exec("put workflow send count");
  }

  Status PutTriggerAnswer(std::string_view project_id, std::string_view workflow_id,
                          std::string_view key, const json::object& answer,
                          SystemTime at) override {
    auto s = c_.Prepare(
        "INSERT INTO workflow_trigger_keys(project_id, workflow_id, idempotency_key, answer, "
        "created_at) VALUES (?,?,?,?,?)");
    s.Bind(1, project_id).Bind(2, workflow_id).Bind(3, key).Bind(4, answer).Bind(5, at);
    return s.Exec("put trigger answer");
  }

  Status InsertSuppression(Suppression& x) override {
    auto s = c_.Prepare(
        "INSERT INTO suppressions(project_id, address, channel, reason, created_at) "
        "VALUES (?,?,?,?,?) ON CONFLICT(project_id, address) DO NOTHING");
    s.Bind(1, x.project_id).Bind(2, x.address).Bind(3, x.channel).Bind(4, x.reason);
    s.Bind(5, x.created_at);
    XOAL_RETURN_IF_ERROR(s.Exec("insert suppression"));
    if (!Changed()) return Status::AlreadyExists("the address is suppressed already");
    x.seq = sqlite3_last_insert_rowid(c_.db());
    return Status::Ok();
  }

  Status DeleteSuppression(std::string_view project_id, std::string_view address) override {
    auto s = c_.Prepare("DELETE FROM suppressions WHERE project_id = ? AND address = ?");
    s.Bind(1, project_id).Bind(2, address);
    XOAL_RETURN_IF_ERROR(s.Exec("delete suppression"));
    return Changed() ? Status::Ok() : Status::NotFound("the address is not suppressed");
  }

 private:
  bool Changed() const { return sqlite3_changes(c_.db()) > 0; }
};

// The WAL length, in 4 KiB frames, at which the checkpointer thread is woken, and the one at which
// the writer checkpoints itself because the checkpointer has not kept up.
constexpr int kWalFramesCheckpoint = 4000;
constexpr int kWalFramesInline = 40000;

}  // namespace

class SqliteStore::State {
 public:
  struct Job {
    const std::function<Status(WriteTxn&)>* fn;
    std::promise<Status> done;
  };

  SqliteOptions options;
  Conn writer;

  std::mutex read_mu;
  std::vector<std::unique_ptr<Conn>> idle_readers;  // guarded by read_mu

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job*> queue;  // guarded by mu
  bool closing = false;    // guarded by mu
  Status broken;           // guarded by mu; set when a commit failed
  std::thread thread;

  // Checkpoints run on their own thread and connection, so that copying the WAL back into the
  // database neither takes the writer's time nor holds up the writes queued behind a commit.
  Conn checkpointer;
  std::mutex checkpoint_mu;
  std::condition_variable checkpoint_cv;
  bool checkpoint_due = false;   // guarded by checkpoint_mu
  bool checkpoint_stop = false;  // guarded by checkpoint_mu
  std::thread checkpoint_thread;

  void Run();
  void RunCheckpoints();
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int frames);
  void CommitBatch(std::vector<Job*>& batch);
  Status Migrate();
  Result<std::unique_ptr<Conn>> TakeReader();
  void ReturnReader(std::unique_ptr<Conn> c);
};

Status SqliteStore::State::Migrate() {
  XOAL_RETURN_IF_ERROR(writer.ExecScript("BEGIN IMMEDIATE"));
  int version = 0;
  {
    auto s = writer.Prepare("PRAGMA user_version");
    if (s.Step() == SQLITE_ROW) version = static_cast<int>(s.Int(0));
  }
  if (version > kSchemaVersion) {
    (void)writer.ExecScript("ROLLBACK");
    return Status::Internal(fmt::format(
        "the database has schema version {} but this xoal knows only up to {}; upgrade xoal",
        version, kSchemaVersion));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    Status st = writer.ExecScript(kMigrations[v]);
    if (!st.ok()) {
      (void)writer.ExecScript("ROLLBACK");
      return st;
    }
    spdlog::info("store_migrated backend=sqlite from_version={} to_version={}", v, v + 1);
  }
  XOAL_RETURN_IF_ERROR(
      writer.ExecScript(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str()));
  return writer.ExecScript("COMMIT");
}

void SqliteStore::State::Run() {
  std::vector<Job*> batch;
  while (true) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [this] { return closing || !queue.empty(); });
      if (queue.empty()) return;  // closing, and everything queued has been committed
      while (!queue.empty() && batch.size() < options.max_batch) {
        batch.push_back(queue.front());
        queue.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

// Called by SQLite on the writer's thread after each commit with the WAL's length in frames.
int SqliteStore::State::OnWalCommit(void* self, sqlite3* db, const char* name, int frames) {
  auto* state = static_cast<State*>(self);
  if (frames >= kWalFramesInline) {
    // The WAL has not restarted: the writer began each write while the checkpointer was still
    // copying (under a steady load it usually is). What is left to copy is little by now, and the
    // writer copies it itself so that its next write starts the WAL again; if the checkpointer is
    // still at it, this returns at once (SQLITE_BUSY) and the next commit tries again.
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (frames >= kWalFramesCheckpoint) {
    {
      std::lock_guard lock(state->checkpoint_mu);
      state->checkpoint_due = true;
    }
    state->checkpoint_cv.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::State::RunCheckpoints() {
  while (true) {
    {
      std::unique_lock lock(checkpoint_mu);
      checkpoint_cv.wait(lock, [this] { return checkpoint_stop || checkpoint_due; });
      if (checkpoint_stop) return;
      checkpoint_due = false;
    }
    int rc = sqlite3_wal_checkpoint_v2(checkpointer.db(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("store_checkpoint_failed backend=sqlite detail=\"{}\"",
                   sqlite3_errmsg(checkpointer.db()));
    }
  }
}

void SqliteStore::State::CommitBatch(std::vector<Job*>& batch) {
  auto start = std::chrono::steady_clock::now();
  std::vector<Status> results(batch.size());
  Status begin = writer.ExecScript("BEGIN IMMEDIATE");
  if (begin.ok()) {
    SqliteWriteTxn txn(writer);
    for (size_t i = 0; i < batch.size(); ++i) {
      // An I/O error, a full disk or lack of memory makes SQLite roll the whole transaction
      // back: the writes left must not run, each would commit on its own at its RELEASE. The
      // COMMIT below then fails and every write of the batch is answered with that failure.
      if (sqlite3_get_autocommit(writer.db())) break;
      (void)writer.Exec("SAVEPOINT job");
      results[i] = (*batch[i]->fn)(txn);
      if (!results[i].ok()) (void)writer.Exec("ROLLBACK TO job");
      (void)writer.Exec("RELEASE job");
    }
  }
  Status commit = begin.ok() ? writer.ExecScript("COMMIT") : begin;
  if (!commit.ok()) {
    (void)writer.ExecScript("ROLLBACK");
    std::lock_guard lock(mu);
    broken = Status::Unavailable("the store failed to commit and refuses writes until restarted");
    spdlog::error("store_commit_failed backend=sqlite batch={} detail=\"{}\"", batch.size(),
                  commit.message());
  }
  if (options.metrics) {
    options.metrics->ObserveStore("commit", std::chrono::steady_clock::now() - start);
    options.metrics->ObserveCommitBatch(batch.size());
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->done.set_value(commit.ok() ? results[i] : commit);
  }
}

Result<std::unique_ptr<Conn>> SqliteStore::State::TakeReader() {
  {
    std::lock_guard lock(read_mu);
    if (!idle_readers.empty()) {
      auto c = std::move(idle_readers.back());
      idle_readers.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<Conn>();
  XOAL_RETURN_IF_ERROR(c->Open(options.path.string(), true));
  return c;
}

void SqliteStore::State::ReturnReader(std::unique_ptr<Conn> c) {
  std::lock_guard lock(read_mu);
  if (idle_readers.size() < kReadConnections * 4) idle_readers.push_back(std::move(c));
}

namespace {

// Process-wide settings SQLite takes only before it starts. SQLITE_MISUSE when it has already
// started in this process: the defaults stay, which is slower but just as correct.
void ConfigureSqliteOnce() {
  // SQLite counts every allocation under one process-wide mutex: nothing here reads the counts,
  // and taking and releasing it was about 4 % of the writer thread in perf on ingest_bench.
  [[maybe_unused]] static const int memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  // The statement journal (the page copies each savepoint takes) always in memory, in 1 KiB
  // chunks (with tcmalloc their allocation costs the writer about 5 %). Not a spill size of
  // 128 KiB or more: SQLite's journal is then one chunk of that size, written to its temporary
  // file in one call when it spills, and the default VFS writes at most 128 KiB - 1 in a call
  // (os_unix.c masks the length), so a write that changed more than that many bytes of pages
  // failed with SQLITE_FULL and took its whole batch with it (SqliteStoreTest.
  // AWriteWhoseStatementJournalOutgrowsMemoryCommits). A smaller spill size moves an ordinary
  // request's journal to a file, about a quarter slower.
  [[maybe_unused]] static const int spill = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(SqliteOptions options) {
  ConfigureSqliteOnce();
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  XOAL_RETURN_IF_ERROR(state->writer.Open(state->options.path.string(), false));
  XOAL_RETURN_IF_ERROR(state->Migrate());
  XOAL_RETURN_IF_ERROR(state->checkpointer.Open(state->options.path.string(), false));
  State* raw = state.get();
  sqlite3_wal_hook(state->writer.db(), &State::OnWalCommit, raw);
  state->checkpoint_thread = std::thread([raw] { raw->RunCheckpoints(); });
  state->thread = std::thread([raw] { raw->Run(); });
  spdlog::info("store_opened backend=sqlite path=\"{}\" schema_version={}",
               state->options.path.string(), kSchemaVersion);
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(state)));
}

SqliteStore::SqliteStore(std::unique_ptr<State> state) : state_(std::move(state)) {}

SqliteStore::~SqliteStore() { Close(); }

Status SqliteStore::Read(const std::function<Status(ReadTxn&)>& fn) {
  auto start = std::chrono::steady_clock::now();
  XOAL_ASSIGN_OR_RETURN(auto conn, state_->TakeReader());
  XOAL_RETURN_IF_ERROR(conn->ExecScript("BEGIN"));
  Status st;
  {
    SqliteReadTxn txn(*conn);
    st = fn(txn);
  }
  (void)conn->ExecScript("COMMIT");
  state_->ReturnReader(std::move(conn));
  if (state_->options.metrics) {
    state_->options.metrics->ObserveStore("read", std::chrono::steady_clock::now() - start);
  }
  return st;
}

Status SqliteStore::Write(const std::function<Status(WriteTxn&)>& fn) {
  State::Job job{&fn, {}};
  auto done = job.done.get_future();
  {
    std::lock_guard lock(state_->mu);
    if (state_->closing) return Status::Unavailable("the store is closed");
    if (!state_->broken.ok()) return state_->broken;
    state_->queue.push_back(&job);
  }
  state_->cv.notify_one();
  return done.get();
}

void SqliteStore::Close() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->closing) return;
    state_->closing = true;
  }
  state_->cv.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
  {
    std::lock_guard lock(state_->checkpoint_mu);
    state_->checkpoint_stop = true;
  }
  state_->checkpoint_cv.notify_one();
  if (state_->checkpoint_thread.joinable()) state_->checkpoint_thread.join();
  std::lock_guard lock(state_->read_mu);
  state_->idle_readers.clear();
  (void)state_->writer.ExecScript("PRAGMA wal_checkpoint(TRUNCATE)");
  spdlog::info("store_closed backend=sqlite");
}

}  // namespace xoal::store
