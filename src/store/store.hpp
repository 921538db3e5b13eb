// The store: the records Xoal keeps and the one interface through which all code reads and writes
// them. SqliteStore (store/sqlite_store.hpp) implements it now; a PostgreSQL store implements the
// same interface, so nothing above this file changes with the backend.
//
// Work is done in transactions: Read() runs a function on a consistent snapshot; Write() runs a
// function inside a write transaction and returns only once its effects are durable. A write
// function returning a non-ok Status has all its changes rolled back, and nothing else is
// affected. Functions passed to Write() may run on another thread and must not call Read() or
// Write() themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"

namespace xoal::store {

struct Project {
  std::string id;
  std::string name;
  json::object settings;  // timezone, users_timezone, languages, default_language, sources
  SystemTime created_at;
};

enum class KeyType { kIngestion, kManagement };

struct ApiKey {
  std::string id;
  std::string project_id;
  std::string name;
  KeyType type = KeyType::kManagement;
  std::string hash;    // hex SHA-256 of the whole key; the key itself is never stored
  std::string prefix;  // the first characters, so people can tell keys apart
  SystemTime created_at;
  std::optional<SystemTime> last_used_at;
  std::optional<SystemTime> revoked_at;
};

struct Customer {
  int64_t seq = 0;  // store-assigned; orders lists and pages
  std::string project_id;
  std::string usid;
  std::optional<std::string> user_id;
  std::optional<std::string> email;  // lower-cased
  std::vector<std::string> anonymous_ids;
  json::object attributes;       // every other attribute, built-in or custom, by name
  json::object attribute_times;  // name -> epoch ms of the message that last set it
  std::vector<std::string> tags;
  SystemTime created_at;
  SystemTime updated_at;
  std::string added_via;
};

// How a customer is named in a lookup.
enum class CustomerKey { kUsid, kUserId, kEmail, kAnonymousId };

struct CustomerFilter {
  std::optional<std::string> email;
  std::optional<std::string> user_id;
  std::optional<std::string> tag;
  std::optional<std::string> segment_id;  // members of this segment only
};

struct Company {
  int64_t seq = 0;
  std::string project_id;
  std::string id;
  std::string name;
  json::object attributes;
  SystemTime created_at;
  SystemTime updated_at;
};

struct Membership {
  int64_t seq = 0;
  std::string project_id;
  std::string company_id;
  std::string usid;
  json::object attributes;
  SystemTime created_at;
};

struct Field {
  std::string project_id;
  std::string entity;  // customer, company, event
  std::string name;
  std::string type;  // string, number, boolean, datetime, list, object
  std::string description;
  std::string origin;  // system, user, auto
  SystemTime created_at;
};

struct Event {
  int64_t seq = 0;
  std::string project_id;
  std::string id;  // the source's messageId, or generated
  std::string usid;
  std::string name;
  std::string type;    // track, page, screen, identify, group, alias
  std::string source;  // api, segment, rudderstack, hightouch, jitsu, system
  SystemTime timestamp;
  SystemTime received_at;
  json::object properties;
};

// One entry of the ingestion error log: a message rejected, or part of one dropped (an attribute
// of the wrong type, an unparseable time), with why.
struct IngestionError {
  int64_t seq = 0;
  std::string project_id;
  SystemTime received_at;
  std::string source;      // segment, rudderstack, ...
  std::string message_id;  // empty when the message had none
  int index = -1;          // position in its request's batch
  std::string kind;        // rejected, attribute_dropped, time_fallback, ...
  std::string reason;
  std::string excerpt;  // the start of the offending message or value
};

struct Segment {
  int64_t seq = 0;
  std::string project_id;
  std::string id;
  std::string name;
  std::string type;        // dynamic or manual
  json::value conditions;  // null for manual segments
  std::string status;      // computing or ready
  SystemTime created_at;
  SystemTime updated_at;
};

struct SegmentMember {
  int64_t seq = 0;
  std::string usid;
  SystemTime entered_at;
};

// One entry into or exit from a segment.
struct SegmentChange {
  int64_t seq = 0;
  std::string project_id;
  std::string segment_id;
  std::string usid;
  bool entered = true;
  SystemTime at;
};

// When a time-based condition of a segment can next flip for a customer with no new data.
struct SegmentTimer {
  std::string project_id;
  std::string segment_id;
  std::string usid;
  SystemTime flip_at;
};

// One message of the durable outbox (see docs/messaging.md): a fully rendered message for one
// customer on one channel, and where its delivery stands.
struct OutboxMessage {
  int64_t seq = 0;  // store-assigned; orders lists
  std::string project_id;
  std::string id;
  std::string usid;
  std::string channel;          // email, sms, push, webhook
  std::string status;           // queued, sending, sent, failed, skipped
  json::object content;         // the rendered message with its recipient ("to")
  std::string idempotency_key;  // unique per project
  bool transactional = false;
  int attempts = 0;    // attempts started, counted before each send
  int recoveries = 0;  // times an attempt was interrupted by a crash and the message re-queued
  SystemTime created_at;
  SystemTime updated_at;
  std::optional<SystemTime> sent_at;
  std::optional<SystemTime> next_attempt_at;  // set while queued
  std::optional<SystemTime> attempt_started_at;
  std::string provider_message_id;
  json::object last_answer;  // outcome, reason, status, body, error of the last attempt
  std::string skip_reason;   // set when status is skipped (messaging/policy.hpp names them)
  SystemTime planned_at;     // when the outbox first planned to send it (counts frequency caps)
  // A crash interrupted an attempt, so the provider may have the message already: the outbox
  // asks the provider (where it can) before sending it again. Cleared by a decided attempt.
  bool in_doubt = false;
};

// One broadcast (docs/broadcasts.md): its definition as the API validated it, its status, and
// the engine's durable progress, which moves in the same transaction as the work it records.
struct Broadcast {
  int64_t seq = 0;  // store-assigned; orders lists
  std::string project_id;
  std::string id;
  std::string name;
  std::string status;       // draft, scheduled, sending, sent, cancelled
  json::object definition;  // segment_id, conditions, channel, message, schedule, throttle
  std::optional<SystemTime> start_at;  // when a scheduled broadcast starts
  std::string phase;                   // "", snapshot, deliver
  int64_t member_cursor = 0;           // seq of the last segment member the snapshot read
  int64_t recipients = 0;              // recipient rows written so far
  SystemTime cursor_due_at;  // the last recipient handed to the outbox, in (due_at, pos) order
  int64_t cursor_pos = 0;
  int64_t enqueued = 0;     // recipients handled (enqueued or skipped by the engine)
  SystemTime window_start;  // the throttle window and how many it has enqueued
  int64_t window_count = 0;
  json::object engine_skips;  // reason -> count, for skips decided before the outbox
  std::optional<SystemTime> started_at;
  std::optional<SystemTime> finished_at;
  SystemTime created_at;
  SystemTime updated_at;
};

// One recipient of a broadcast's audience snapshot; `pos` numbers them from 1.
struct BroadcastRecipient {
  int64_t pos = 0;
  std::string usid;
  SystemTime due_at;
};

// How many outbox messages have one status (and skip reason, when skipped).
struct OutboxCount {
  std::string status;
  std::string reason;
  int64_t count = 0;
};

// A workflow (SPEC "Workflows"; docs/workflows.md): its current definition and status.
struct Workflow {
  int64_t seq = 0;
  std::string project_id;
  std::string id;
  std::string name;
  std::string status;  // draft, active, paused, archived
  int version = 1;     // the current version; runs keep the one they started on
  json::object definition;
  SystemTime created_at;
  SystemTime updated_at;
};

// One customer going through one version of a workflow.
struct WorkflowRun {
  int64_t seq = 0;
  std::string project_id;
  std::string id;
  std::string workflow_id;
  int version = 1;
  std::string usid;
  std::optional<std::string> run_key;  // the trigger event's key property, when keyed
  std::string status;                  // active, held, completed, converted, exited, failed
  std::string step;                    // the current step; empty once ended
  bool waiting = false;                // the current step has started waiting
  int visits = 0;  // steps executed so far; numbers the step log and idempotency keys
  std::optional<SystemTime> wake_at;
  std::optional<std::string> wait_event;  // the event a wait_for_event step waits for
  // When the workflow's condition goal, false now, turns true if the customer's data does not
  // change (a time window moving); the scheduler re-checks the goal then.
  std::optional<SystemTime> goal_at;
  json::object context;  // trigger (API data), event (the triggering event), matched (event)
  SystemTime started_at;
  SystemTime updated_at;
  std::optional<SystemTime> ended_at;
};

// One entry of a run's log: a step executed, with its outcome.
struct WorkflowRunStep {
  int64_t seq = 0;
  std::string run_id;
  std::string workflow_id;
  std::string step;
  int visit = 0;
  std::string type;
  std::string outcome;  // done, sent, skipped, yes, no, event, timeout, failed, ...
  std::string channel;  // for messaging steps
  json::object detail;
  SystemTime at;
};

// When a `date_attribute` trigger starts one customer's run of one workflow: the customer's date
// attribute moved by the trigger's offset (docs/workflows.md "Date triggers"). One row per
// (workflow, customer); the state keeps a moment that fired (or was missed) from firing again.
struct DateTimer {
  std::string project_id;
  std::string workflow_id;
  std::string usid;
  SystemTime fire_at;
  std::string state;  // pending (due at fire_at), fired, missed (passed while not active), paused
  std::string value;  // the attribute's value (JSON text) the moment was computed from
};

// A background pass over a project's customers that a workflow still needs (a date_attribute
// trigger's timers after activation): customers with seq greater than `after_seq` are left.
struct WorkflowScan {
  std::string project_id;
  std::string workflow_id;
  int64_t after_seq = 0;
};

struct WorkflowRunFilter {
  std::optional<std::string> workflow_id;
  std::optional<std::string> usid;
  std::optional<std::string> status;
};

// Counts of a workflow's runs and steps (analytics).
struct WorkflowStats {
  std::map<std::string, int64_t> runs_by_status;
  // step -> outcome -> count
  std::map<std::string, std::map<std::string, int64_t>> steps;
  // step -> channel -> messages enqueued
  std::map<std::string, std::map<std::string, int64_t>> sent;
  // date_attribute triggers: timers by state (pending, fired, missed, paused)
  std::map<std::string, int64_t> date_timers;
};

struct OutboxFilter {
  std::optional<std::string> usid;
  std::optional<std::string> status;
  std::optional<std::string> channel;
  std::optional<std::string> skip_reason;
};

// An address (lower-cased email, or phone) that no message of the project may go to.
struct Suppression {
  int64_t seq = 0;
  std::string project_id;
  std::string address;
  std::string channel;  // email or sms
  std::string reason;   // manual, bounce, complaint, ...
  SystemTime created_at;
};

// A page of a list: rows with seq greater than `after_seq`, at most `limit` of them.
struct PageRequest {
  int64_t after_seq = 0;
  int limit = 50;
};

class ReadTxn {
 public:
  virtual ~ReadTxn() = default;

  virtual Result<std::optional<Project>> GetProject(std::string_view id) = 0;
  virtual Result<std::vector<Project>> ListProjects() = 0;

  // All keys, or those of one project, oldest first.
  virtual Result<std::vector<ApiKey>> ListKeys(std::optional<std::string_view> project_id) = 0;

  // The live customer named by `value`, tags and anonymous ids filled in.
  virtual Result<std::optional<Customer>> FindCustomer(std::string_view project_id, CustomerKey key,
                                                       std::string_view value) = 0;
  // The usid that `usid` was merged into (following chains), or nullopt.
  virtual Result<std::optional<std::string>> FindMergedInto(std::string_view project_id,
                                                            std::string_view usid) = 0;
  virtual Result<std::vector<Customer>> ListCustomers(std::string_view project_id,
                                                      const CustomerFilter& filter,
                                                      PageRequest page) = 0;

  virtual Result<std::optional<Company>> GetCompany(std::string_view project_id,
                                                    std::string_view id) = 0;
  virtual Result<std::vector<Company>> ListCompanies(std::string_view project_id,
                                                     PageRequest page) = 0;
  virtual Result<int64_t> CountMembers(std::string_view project_id,
                                       std::string_view company_id) = 0;
  virtual Result<std::vector<Membership>> ListMembers(std::string_view project_id,
                                                      std::string_view company_id,
                                                      PageRequest page) = 0;
  virtual Result<std::optional<Membership>> GetMembership(std::string_view project_id,
                                                          std::string_view company_id,
                                                          std::string_view usid) = 0;
  virtual Result<std::vector<Membership>> ListMembershipsOf(std::string_view project_id,
                                                            std::string_view usid) = 0;

  virtual Result<std::optional<Field>> GetField(std::string_view project_id,
                                                std::string_view entity, std::string_view name) = 0;
  // Stored (non built-in) fields of one entity, by name.
  virtual Result<std::vector<Field>> ListFields(std::string_view project_id,
                                                std::string_view entity) = 0;

  virtual Result<std::optional<Segment>> GetSegment(std::string_view project_id,
                                                    std::string_view id) = 0;
  // Segments of one project by seq, or of every project when `project_id` is empty.
  virtual Result<std::vector<Segment>> ListSegments(std::string_view project_id,
                                                    PageRequest page) = 0;
  virtual Result<bool> IsSegmentMember(std::string_view segment_id, std::string_view usid) = 0;
  virtual Result<std::vector<SegmentMember>> ListSegmentMembers(std::string_view segment_id,
                                                                PageRequest page) = 0;
  virtual Result<int64_t> CountSegmentMembers(std::string_view segment_id) = 0;
  // The ids of the segments the customer is in, in no particular order.
  virtual Result<std::vector<std::string>> ListSegmentsOf(std::string_view project_id,
                                                          std::string_view usid) = 0;
  // Entries and exits, newest first; `before_seq` 0 means from the newest.
  virtual Result<std::vector<SegmentChange>> ListSegmentHistory(std::string_view segment_id,
                                                                int64_t before_seq, int limit) = 0;
  // Timers due at or before `now`, earliest first.
  virtual Result<std::vector<SegmentTimer>> DueSegmentTimers(SystemTime now, int limit) = 0;
  virtual Result<std::optional<SystemTime>> NextSegmentTimer() = 0;

  // Whether the project has an event with this id (a messageId seen before).
  virtual Result<bool> EventExists(std::string_view project_id, std::string_view id) = 0;
  // The ingestion error log, newest first; `before_seq` 0 means from the newest.
  virtual Result<std::vector<IngestionError>> ListIngestionErrors(std::string_view project_id,
                                                                  int64_t before_seq,
                                                                  int limit) = 0;

  // Events newest first; `before_seq` 0 means from the newest. `usid` empty means all customers.
  virtual Result<std::vector<Event>> ListEvents(std::string_view project_id, std::string_view usid,
                                                int64_t before_seq, int limit) = 0;
  // One customer's events whose names are in `names` and whose timestamp is not before `since`
  // (when given), newest first, at most `limit`: what a segment evaluation reads, without the
  // events no condition looks at.
  virtual Result<std::vector<Event>> ListEventsNamed(std::string_view project_id,
                                                     std::string_view usid,
                                                     const std::vector<std::string>& names,
                                                     std::optional<SystemTime> since,
                                                     int limit) = 0;

  // The outbox. GetOutboxMessage and FindOutboxMessageByKey look in one project.
  virtual Result<std::optional<OutboxMessage>> GetOutboxMessage(std::string_view project_id,
                                                                std::string_view id) = 0;
  virtual Result<std::optional<OutboxMessage>> FindOutboxMessageByKey(
      std::string_view project_id, std::string_view idempotency_key) = 0;
  // Newest first; `before_seq` 0 means from the newest.
  virtual Result<std::vector<OutboxMessage>> ListOutboxMessages(std::string_view project_id,
                                                                const OutboxFilter& filter,
                                                                int64_t before_seq, int limit) = 0;
  // Queued messages of every project whose next attempt is due at or before `now`, earliest first.
  virtual Result<std::vector<OutboxMessage>> DueOutboxMessages(SystemTime now, int limit) = 0;
  // The earliest next attempt of any queued message, or nullopt when none is queued.
  virtual Result<std::optional<SystemTime>> NextOutboxAttempt() = 0;
  // Messages of every project in `status`, by seq, with seq greater than `after_seq`.
  virtual Result<std::vector<OutboxMessage>> ListOutboxByStatus(std::string_view status,
                                                                int64_t after_seq, int limit) = 0;
  // A channel's stored configuration (channel: email, sms, push, webhook), or nullopt.
  virtual Result<std::optional<json::object>> GetChannelConfig(std::string_view project_id,
                                                               std::string_view channel) = 0;
  // Messages of the project whose idempotency key starts with `prefix`, counted by status and
  // skip reason.
  virtual Result<std::vector<OutboxCount>> CountOutboxByKeyPrefix(std::string_view project_id,
                                                                  std::string_view prefix) = 0;

  virtual Result<std::optional<Broadcast>> GetBroadcast(std::string_view project_id,
                                                        std::string_view id) = 0;
  // Broadcasts of one project by seq.
  virtual Result<std::vector<Broadcast>> ListBroadcasts(std::string_view project_id,
                                                        PageRequest page) = 0;
  // Broadcasts of every project in `status`, by seq.
  virtual Result<std::vector<Broadcast>> ListBroadcastsByStatus(std::string_view status,
                                                                PageRequest page) = 0;
  // Recipients after (after_due, after_pos) in (due_at, pos) order, due at or before `due_by`.
  virtual Result<std::vector<BroadcastRecipient>> ListDueBroadcastRecipients(
      std::string_view broadcast_id, SystemTime after_due, int64_t after_pos, SystemTime due_by,
      int limit) = 0;
  // The due time of the first recipient after (after_due, after_pos), or nullopt when none.
  virtual Result<std::optional<SystemTime>> NextBroadcastRecipientDue(std::string_view broadcast_id,
                                                                      SystemTime after_due,
                                                                      int64_t after_pos) = 0;

  // Workflows (docs/workflows.md). ListWorkflows of every project when `project_id` is empty.
  virtual Result<std::optional<Workflow>> GetWorkflow(std::string_view project_id,
                                                      std::string_view id) = 0;
  virtual Result<std::vector<Workflow>> ListWorkflows(std::string_view project_id,
                                                      PageRequest page) = 0;
  // The definition of one version of a workflow, or nullopt.
  virtual Result<std::optional<json::object>> GetWorkflowVersion(std::string_view workflow_id,
                                                                 int version) = 0;
  virtual Result<std::optional<WorkflowRun>> GetRun(std::string_view project_id,
                                                    std::string_view id) = 0;
  // Runs of a project by seq, filtered.
  virtual Result<std::vector<WorkflowRun>> ListRuns(std::string_view project_id,
                                                    const WorkflowRunFilter& filter,
                                                    PageRequest page) = 0;
  // Unfinished (active or held) runs of one customer.
  virtual Result<std::vector<WorkflowRun>> ListOpenRunsOf(std::string_view project_id,
                                                          std::string_view usid) = 0;
  // When the customer last entered the workflow, or nullopt.
  virtual Result<std::optional<SystemTime>> LastEntry(std::string_view workflow_id,
                                                      std::string_view usid) = 0;
  // Active runs of every project with wake_at at or before `now`, earliest first.
  virtual Result<std::vector<WorkflowRun>> DueRuns(SystemTime now, int limit) = 0;
  // Active runs of every project with goal_at at or before `now`, earliest first.
  virtual Result<std::vector<WorkflowRun>> DueGoalRuns(SystemTime now, int limit) = 0;
  // The earliest wake_at or goal_at of any active run.
  virtual Result<std::optional<SystemTime>> NextRunWake() = 0;
  // The date trigger timer of one customer in one workflow, or nullopt.
  virtual Result<std::optional<DateTimer>> GetDateTimer(std::string_view workflow_id,
                                                        std::string_view usid) = 0;
  // Pending date timers of every project with fire_at at or before `now`, earliest first.
  virtual Result<std::vector<DateTimer>> DueDateTimers(SystemTime now, int limit) = 0;
  // The earliest fire_at of any pending date timer.
  virtual Result<std::optional<SystemTime>> NextDateTimer() = 0;
  // Every workflow scan not finished yet.
  virtual Result<std::vector<WorkflowScan>> ListWorkflowScans() = 0;
  // How many messages the workflow sent in the send-rate window numbered `window`.
  virtual Result<int> GetWorkflowSendCount(std::string_view workflow_id, int64_t window) = 0;
  // A run's log, oldest first, entries with seq greater than `after_seq`.
  virtual Result<std::vector<WorkflowRunStep>> ListRunSteps(std::string_view run_id,
                                                            PageRequest page) = 0;
  virtual Result<WorkflowStats> GetWorkflowStats(std::string_view workflow_id) = 0;
  // The answer stored for a Workflow Trigger API idempotency key, or nullopt.
  virtual Result<std::optional<json::object>> GetTriggerAnswer(std::string_view project_id,
                                                               std::string_view workflow_id,
                                                               std::string_view key) = 0;
  // Messages of the customer that count towards a frequency cap: not transactional, not
  // webhooks, queued, sending or sent, planned in [from, to).
  virtual Result<int64_t> CountCappedMessages(std::string_view project_id, std::string_view usid,
                                              SystemTime from, SystemTime to) = 0;

  virtual Result<std::optional<Suppression>> GetSuppression(std::string_view project_id,
                                                            std::string_view address) = 0;
  // By seq, oldest first.
  virtual Result<std::vector<Suppression>> ListSuppressions(std::string_view project_id,
                                                            PageRequest page) = 0;
};

class WriteTxn : public ReadTxn {
 public:
  // Runs `fn` so that, if it fails, exactly its own changes are undone and the transaction goes
  // on. Used to apply one message or one CSV row of many without losing the others.
  virtual Status Nested(const std::function<Status(WriteTxn&)>& fn) = 0;

  virtual Status InsertProject(const Project& project) = 0;
  virtual Status UpdateProject(const Project& project) = 0;

  virtual Status InsertKey(const ApiKey& key) = 0;
  // Marks the key revoked; kNotFound unless it exists in that project and is not yet revoked.
  virtual Status RevokeKey(std::string_view project_id, std::string_view key_id, SystemTime at) = 0;
  virtual Status TouchKey(std::string_view key_id, SystemTime at) = 0;

  // Inserts a new customer (fields, tags and anonymous ids); sets `customer.seq`.
  // kAlreadyExists when its user_id or email is taken.
  virtual Status InsertCustomer(Customer& customer) = 0;
  // Rewrites the row of an existing customer (identity, attributes, times). Tags and anonymous
  // ids are changed through their own calls. kAlreadyExists when user_id or email is taken.
  virtual Status UpdateCustomer(const Customer& customer) = 0;
  virtual Status AddTag(std::string_view project_id, std::string_view usid, std::string_view tag,
                        SystemTime at) = 0;
  // kNotFound when the customer did not have the tag.
  virtual Status RemoveTag(std::string_view project_id, std::string_view usid,
                           std::string_view tag) = 0;
  // Links an anonymous id to a customer (moving it if another customer held it).
  virtual Status AddAnonymousId(std::string_view project_id, std::string_view usid,
                                std::string_view anonymous_id) = 0;
  // Deletes the customer with its tags, anonymous ids, memberships and events.
  virtual Status DeleteCustomer(std::string_view project_id, std::string_view usid) = 0;
  // Moves tags, anonymous ids, memberships and events of `from` to `into`, deletes `from`, and
  // records the merge so that `from` resolves to `into` afterwards.
  virtual Status MergeCustomerInto(std::string_view project_id, std::string_view from,
                                   std::string_view into, SystemTime at) = 0;

  // Inserts or replaces the company with this id; sets `company.seq` on insert.
  virtual Status PutCompany(Company& company) = 0;
  virtual Status DeleteCompany(std::string_view project_id, std::string_view id) = 0;
  virtual Status PutMembership(Membership& membership) = 0;
  virtual Status DeleteMembership(std::string_view project_id, std::string_view company_id,
                                  std::string_view usid) = 0;

  virtual Status PutField(const Field& field) = 0;
  virtual Status DeleteField(std::string_view project_id, std::string_view entity,
                             std::string_view name) = 0;

  // Inserts an event; kAlreadyExists when the project already has an event with this id.
  virtual Status InsertEvent(Event& event) = 0;
  virtual Status InsertIngestionError(IngestionError& error) = 0;

  // Inserts the segment, or replaces the one with its id; sets `seq` on insert.
  virtual Status PutSegment(Segment& segment) = 0;
  // Deletes the segment with its members, history and timers; kNotFound when absent.
  virtual Status DeleteSegment(std::string_view project_id, std::string_view id) = 0;
  // kAlreadyExists when the customer is a member already.
  virtual Status AddSegmentMember(std::string_view project_id, std::string_view segment_id,
                                  std::string_view usid, SystemTime at) = 0;
  // kNotFound when the customer was not a member.
  virtual Status RemoveSegmentMember(std::string_view segment_id, std::string_view usid) = 0;
  virtual Status InsertSegmentChange(SegmentChange& change) = 0;
  // Sets (or, with nullopt, clears) the customer's timer for the segment.
  virtual Status SetSegmentTimer(std::string_view project_id, std::string_view segment_id,
                                 std::string_view usid, std::optional<SystemTime> flip_at) = 0;

  // Inserts a message; sets `seq`. kAlreadyExists when its id or (project, idempotency key) is
  // taken.
  virtual Status InsertOutboxMessage(OutboxMessage& message) = 0;
  // Rewrites the delivery state (status, attempts, recoveries, times, provider id, answer) of an
  // existing message; kNotFound when absent.
  virtual Status UpdateOutboxMessage(const OutboxMessage& message) = 0;
  // Inserts or replaces a channel's configuration.
  virtual Status PutChannelConfig(std::string_view project_id, std::string_view channel,
                                  const json::object& config, SystemTime at) = 0;

  // Inserts the broadcast, or replaces the one with its id; sets `seq` on insert.
  virtual Status PutBroadcast(Broadcast& broadcast) = 0;
  // Deletes the broadcast and its recipients; kNotFound when absent.
  virtual Status DeleteBroadcast(std::string_view project_id, std::string_view id) = 0;
  // kAlreadyExists when the broadcast has a recipient at that pos.
  virtual Status InsertBroadcastRecipient(std::string_view project_id,
                                          std::string_view broadcast_id,
                                          const BroadcastRecipient& recipient) = 0;
  // Inserts the workflow or replaces the one with its id; sets `seq` on insert.
  virtual Status PutWorkflow(Workflow& workflow) = 0;
  // Deletes the workflow with its versions, runs and their logs; kNotFound when absent.
  virtual Status DeleteWorkflow(std::string_view project_id, std::string_view id) = 0;
  // Stores (or, for a draft edited in place, replaces) one version's definition.
  virtual Status InsertWorkflowVersion(std::string_view workflow_id, int version,
                                       const json::object& definition, SystemTime at) = 0;
  // Inserts a run; sets `seq`.
  virtual Status InsertRun(WorkflowRun& run) = 0;
  // Rewrites an existing run's state; kNotFound when absent.
  virtual Status UpdateRun(const WorkflowRun& run) = 0;
  // Moves every run of the workflow in status `from` to status `to` (pause and resume).
  virtual Status SetRunsStatus(std::string_view workflow_id, std::string_view from,
                               std::string_view to, SystemTime at) = 0;
  virtual Status InsertRunStep(WorkflowRunStep& step) = 0;
  // Inserts the timer or replaces the one of its (workflow, customer).
  virtual Status PutDateTimer(const DateTimer& timer) = 0;
  // Deletes one customer's timer (`usid` given) or every timer of the workflow; absent is fine.
  virtual Status DeleteDateTimers(std::string_view workflow_id,
                                  std::optional<std::string_view> usid) = 0;
  // Moves every timer of the workflow in state `from` to state `to` (pause).
  virtual Status SetDateTimersState(std::string_view workflow_id, std::string_view from,
                                    std::string_view to) = 0;
  // Inserts the scan or replaces the one of its workflow.
  virtual Status PutWorkflowScan(const WorkflowScan& scan) = 0;
  // Absent is fine.
  virtual Status DeleteWorkflowScan(std::string_view workflow_id) = 0;
  // Records `count` sends of the workflow in window `window` (older windows are forgotten).
  virtual Status PutWorkflowSendCount(std::string_view workflow_id, int64_t window, int count) = 0;
  // kAlreadyExists when the key already has an answer.
  virtual Status PutTriggerAnswer(std::string_view project_id, std::string_view workflow_id,
                                  std::string_view key, const json::object& answer,
                                  SystemTime at) = 0;
  // Inserts a suppression; sets `seq`. kAlreadyExists when the project has the address.
  virtual Status InsertSuppression(Suppression& suppression) = 0;
  // kNotFound when the project does not have the address.
  virtual Status DeleteSuppression(std::string_view project_id, std::string_view address) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Status Read(const std::function<Status(ReadTxn&)>& fn) = 0;
  virtual Status Write(const std::function<Status(WriteTxn&)>& fn) = 0;
  // Makes everything written so far durable and closes the store; later calls fail.
  virtual void Close() = 0;
};

}  // namespace xoal::store
