// TrackingTxn: a WriteTxn that forwards every call to the real one and notes which customers a
// write may have moved in or out of segments, and how (attributes, events, tags, companies), so
// the segment engine re-evaluates only what the write can affect. Internal to the engine.
//
// Attribute changes are found by comparing an updated customer with the copy the same
// transaction read before (callers always read a profile before they update it); without such a
// copy every attribute counts as changed. Changes made inside a Nested() call that fails are
// dropped with it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace xoal::segments::internal {

// What changed for one customer.
struct Dirty {
  bool all = false;      // re-evaluate every segment of the project
  bool created = false;  // the write created the profile
  std::set<std::string> attributes;
  std::set<std::string> events;
  std::set<std::string> tags;
  bool companies = false;
  std::set<std::string> segments;  // segments to re-evaluate whatever changed (timers, scans)
};

// What changed in one project.
struct Changes {
  std::map<std::string, Dirty> customers;  // by usid
  // usid -> the survivor it was merged into, or "" when it was deleted.
  std::map<std::string, std::string> removed;
  std::set<std::string> companies;  // companies whose attributes changed: all members are dirty

  // Events inserted, in order, for the workflow engine's event triggers and waits.
  std::vector<store::Event> events;
  // Manual memberships recorded by hand inside the write, to publish with the others.
  std::vector<store::SegmentChange> recorded;

  bool empty() const { return customers.empty() && removed.empty() && companies.empty(); }
  void MergeFrom(Changes&& other);
};

class TrackingTxn final : public store::WriteTxn {
 public:
  explicit TrackingTxn(store::WriteTxn& inner) : inner_(inner) {}

  // What changed, by project id. Usually one project; a write may touch several (the workflow
  // engine advances the due runs of every project in one write), and each project's customers
  // are evaluated against that project's segments.
  std::map<std::string, Changes, std::less<>>& changes() { return changes_; }
  Changes& ChangesOf(std::string_view project_id);
  // Whether no project has a change to evaluate.
  bool empty() const;
  // When set, the instant to evaluate at and record changes with, instead of the clock's now: a
  // timer that fires late (a jump of the clock, a restart) flips at its exact moment.
  std::optional<SystemTime>& at() { return at_; }
  Dirty& Mark(std::string_view project_id, std::string_view usid);
  // Marks a change of one of the customer's tags.
  void MarkTag(std::string_view project_id, std::string_view usid, std::string_view tag);
  // The customer as this transaction left it, when every write to it since it was read went
  // through here (attributes, tags and anonymous ids kept as the store would return them);
  // nullptr when there is no such copy. Saves the engine a read of the profile it just wrote.
  const store::Customer* FreshCopy(const std::string& usid) const;

  // ---- reads: forwarded; customers read are remembered for attribute diffs ----
  Result<std::optional<store::Project>> GetProject(std::string_view id) override {
    return inner_.GetProject(id);
  }
  Result<std::vector<store::Project>> ListProjects() override { return inner_.ListProjects(); }
  Result<std::vector<store::ApiKey>> ListKeys(std::optional<std::string_view> p) override {
    return inner_.ListKeys(p);
  }
  Result<std::optional<store::Customer>> FindCustomer(std::string_view project_id,
                                                      store::CustomerKey key,
                                                      std::string_view value) override;
  Result<std::optional<std::string>> FindMergedInto(std::string_view p,
                                                    std::string_view usid) override {
    return inner_.FindMergedInto(p, usid);
  }
  Result<std::vector<store::Customer>> ListCustomers(std::string_view p,
                                                     const store::CustomerFilter& f,
                                                     store::PageRequest page) override {
    return inner_.ListCustomers(p, f, page);
  }
  Result<std::optional<store::Company>> GetCompany(std::string_view p,
                                                   std::string_view id) override {
    return inner_.GetCompany(p, id);
  }
  Result<std::vector<store::Company>> ListCompanies(std::string_view p,
                                                    store::PageRequest page) override {
    return inner_.ListCompanies(p, page);
  }
  Result<int64_t> CountMembers(std::string_view p, std::string_view c) override {
    return inner_.CountMembers(p, c);
  }
  Result<std::vector<store::Membership>> ListMembers(std::string_view p, std::string_view c,
                                                     store::PageRequest page) override {
    return inner_.ListMembers(p, c, page);
  }
  Result<std::optional<store::Membership>> GetMembership(std::string_view p, std::string_view c,
                                                         std::string_view usid) override {
    return inner_.GetMembership(p, c, usid);
  }
  Result<std::vector<store::Membership>> ListMembershipsOf(std::string_view p,
                                                           std::string_view usid) override {
    return inner_.ListMembershipsOf(p, usid);
  }
  Result<std::optional<store::Field>> GetField(std::string_view p, std::string_view e,
                                               std::string_view n) override {
    return inner_.GetField(p, e, n);
  }
  Result<std::vector<store::Field>> ListFields(std::string_view p, std::string_view e) override {
    return inner_.ListFields(p, e);
  }
  Result<std::optional<store::Segment>> GetSegment(std::string_view p,
                                                   std::string_view id) override {
    return inner_.GetSegment(p, id);
  }
  Result<std::vector<store::Segment>> ListSegments(std::string_view p,
                                                   store::PageRequest page) override {
    return inner_.ListSegments(p, page);
  }
  Result<bool> IsSegmentMember(std::string_view s, std::string_view usid) override {
    return inner_.IsSegmentMember(s, usid);
  }
  Result<std::vector<store::SegmentMember>> ListSegmentMembers(std::string_view s,
                                                               store::PageRequest page) override {
    return inner_.ListSegmentMembers(s, page);
  }
  Result<int64_t> CountSegmentMembers(std::string_view s) override {
    return inner_.CountSegmentMembers(s);
  }
  Result<std::vector<std::string>> ListSegmentsOf(std::string_view p,
                                                  std::string_view usid) override {
    return inner_.ListSegmentsOf(p, usid);
  }
  Result<std::vector<store::SegmentChange>> ListSegmentHistory(std::string_view s, int64_t before,
                                                               int limit) override {
    return inner_.ListSegmentHistory(s, before, limit);
  }
  Result<std::vector<store::SegmentTimer>> DueSegmentTimers(SystemTime now, int limit) override {
    return inner_.DueSegmentTimers(now, limit);
  }
  Result<std::optional<SystemTime>> NextSegmentTimer() override {
    return inner_.NextSegmentTimer();
  }
  Result<bool> EventExists(std::string_view p, std::string_view id) override {
    return inner_.EventExists(p, id);
  }
  Result<std::vector<store::IngestionError>> ListIngestionErrors(std::string_view p, int64_t b,
                                                                 int limit) override {
    return inner_.ListIngestionErrors(p, b, limit);
  }
  Result<std::vector<store::Event>> ListEvents(std::string_view p, std::string_view usid,
                                               int64_t before, int limit) override {
    return inner_.ListEvents(p, usid, before, limit);
  }
  Result<std::vector<store::Event>> ListEventsNamed(std::string_view p, std::string_view usid,
                                                    const std::vector<std::string>& names,
                                                    std::optional<SystemTime> since,
                                                    int limit) override {
    return inner_.ListEventsNamed(p, usid, names, since, limit);
  }

  Result<std::optional<store::OutboxMessage>> GetOutboxMessage(std::string_view p,
                                                               std::string_view id) override {
    return inner_.GetOutboxMessage(p, id);
  }
  Result<std::optional<store::OutboxMessage>> FindOutboxMessageByKey(
      std::string_view p, std::string_view key) override {
    return inner_.FindOutboxMessageByKey(p, key);
  }
  Result<std::vector<store::OutboxMessage>> ListOutboxMessages(std::string_view p,
                                                               const store::OutboxFilter& f,
                                                               int64_t before, int limit) override {
    return inner_.ListOutboxMessages(p, f, before, limit);
  }
  Result<std::vector<store::OutboxMessage>> DueOutboxMessages(SystemTime now, int limit) override {
    return inner_.DueOutboxMessages(now, limit);
  }
  Result<std::optional<SystemTime>> NextOutboxAttempt() override {
    return inner_.NextOutboxAttempt();
  }
  Result<std::vector<store::OutboxMessage>> ListOutboxByStatus(std::string_view status,
                                                               int64_t after, int limit) override {
    return inner_.ListOutboxByStatus(status, after, limit);
  }
  Result<std::optional<json::object>> GetChannelConfig(std::string_view p,
                                                       std::string_view channel) override {
    return inner_.GetChannelConfig(p, channel);
  }
  Result<std::vector<store::OutboxCount>> CountOutboxByKeyPrefix(std::string_view p,
                                                                 std::string_view prefix) override {
    return inner_.CountOutboxByKeyPrefix(p, prefix);
  }
  Result<std::optional<store::Broadcast>> GetBroadcast(std::string_view p,
                                                       std::string_view id) override {
    return inner_.GetBroadcast(p, id);
  }
  Result<std::vector<store::Broadcast>> ListBroadcasts(std::string_view p,
                                                       store::PageRequest page) override {
    return inner_.ListBroadcasts(p, page);
  }
  Result<std::vector<store::Broadcast>> ListBroadcastsByStatus(std::string_view status,
                                                               store::PageRequest page) override {
    return inner_.ListBroadcastsByStatus(status, page);
  }
  Result<std::vector<store::BroadcastRecipient>> ListDueBroadcastRecipients(std::string_view b,
                                                                            SystemTime after_due,
                                                                            int64_t after_pos,
                                                                            SystemTime due_by,
                                                                            int limit) override {
    return inner_.ListDueBroadcastRecipients(b, after_due, after_pos, due_by, limit);
  }
  Result<std::optional<SystemTime>> NextBroadcastRecipientDue(std::string_view b,
                                                              SystemTime after_due,
                                                              int64_t after_pos) override {
    return inner_.NextBroadcastRecipientDue(b, after_due, after_pos);
  }
  Result<int64_t> CountCappedMessages(std::string_view p, std::string_view usid, SystemTime from,
                                      SystemTime to) override {
    return inner_.CountCappedMessages(p, usid, from, to);
  }
  Result<std::optional<store::Suppression>> GetSuppression(std::string_view p,
                                                           std::string_view address) override {
    return inner_.GetSuppression(p, address);
  }
  Result<std::vector<store::Suppression>> ListSuppressions(std::string_view p,
                                                           store::PageRequest page) override {
    return inner_.ListSuppressions(p, page);
  }

  Result<std::optional<store::Workflow>> GetWorkflow(std::string_view p,
                                                     std::string_view id) override {
    return inner_.GetWorkflow(p, id);
  }
  Result<std::vector<store::Workflow>> ListWorkflows(std::string_view p,
                                                     store::PageRequest page) override {
    return inner_.ListWorkflows(p, page);
  }
  Result<std::optional<json::object>> GetWorkflowVersion(std::string_view w, int v) override {
    return inner_.GetWorkflowVersion(w, v);
  }
  Result<std::optional<store::WorkflowRun>> GetRun(std::string_view p,
                                                   std::string_view id) override {
    return inner_.GetRun(p, id);
  }
  Result<std::vector<store::WorkflowRun>> ListRuns(std::string_view p,
                                                   const store::WorkflowRunFilter& f,
                                                   store::PageRequest page) override {
    return inner_.ListRuns(p, f, page);
  }
  Result<std::vector<store::WorkflowRun>> ListOpenRunsOf(std::string_view p,
                                                         std::string_view usid) override {
    return inner_.ListOpenRunsOf(p, usid);
  }
  Result<std::optional<SystemTime>> LastEntry(std::string_view w, std::string_view usid) override {
    return inner_.LastEntry(w, usid);
  }
  Result<std::vector<store::WorkflowRun>> DueRuns(SystemTime now, int limit) override {
    return inner_.DueRuns(now, limit);
  }
  Result<std::optional<SystemTime>> NextRunWake() override { return inner_.NextRunWake(); }
  Result<std::vector<store::WorkflowRun>> DueGoalRuns(SystemTime now, int limit) override {
    return inner_.DueGoalRuns(now, limit);
  }
  Result<std::optional<store::DateTimer>> GetDateTimer(std::string_view w,
                                                       std::string_view usid) override {
    return inner_.GetDateTimer(w, usid);
  }
  Result<std::vector<store::DateTimer>> DueDateTimers(SystemTime now, int limit) override {
    return inner_.DueDateTimers(now, limit);
  }
  Result<std::optional<SystemTime>> NextDateTimer() override { return inner_.NextDateTimer(); }
  Result<std::vector<store::WorkflowScan>> ListWorkflowScans() override {
    return inner_.ListWorkflowScans();
  }
  Result<int> GetWorkflowSendCount(std::string_view w, int64_t window) override {
    return inner_.GetWorkflowSendCount(w, window);
  }
  Result<std::vector<store::WorkflowRunStep>> ListRunSteps(std::string_view run_id,
                                                           store::PageRequest page) override {
    return inner_.ListRunSteps(run_id, page);
  }
  Result<store::WorkflowStats> GetWorkflowStats(std::string_view w) override {
    return inner_.GetWorkflowStats(w);
  }
  Result<std::optional<json::object>> GetTriggerAnswer(std::string_view p, std::string_view w,
                                                       std::string_view key) override {
    return inner_.GetTriggerAnswer(p, w, key);
  }

  // ---- writes: forwarded and noted ----
  Status Nested(const std::function<Status(store::WriteTxn&)>& fn) override;
  Status InsertProject(const store::Project& p) override { return inner_.InsertProject(p); }
  Status UpdateProject(const store::Project& p) override { return inner_.UpdateProject(p); }
  Status InsertKey(const store::ApiKey& k) override { return inner_.InsertKey(k); }
  Status RevokeKey(std::string_view p, std::string_view id, SystemTime at) override {
    return inner_.RevokeKey(p, id, at);
  }
  Status TouchKey(std::string_view id, SystemTime at) override { return inner_.TouchKey(id, at); }
  Status InsertCustomer(store::Customer& c) override;
  Status UpdateCustomer(const store::Customer& c) override;
  Status AddTag(std::string_view p, std::string_view usid, std::string_view tag,
                SystemTime at) override;
  Status RemoveTag(std::string_view p, std::string_view usid, std::string_view tag) override;
  Status AddAnonymousId(std::string_view p, std::string_view usid,
                        std::string_view anonymous_id) override;
  Status DeleteCustomer(std::string_view p, std::string_view usid) override;
  Status MergeCustomerInto(std::string_view p, std::string_view from, std::string_view into,
                           SystemTime at) override;
  Status PutCompany(store::Company& c) override;
  Status DeleteCompany(std::string_view p, std::string_view id) override;
  Status PutMembership(store::Membership& m) override;
  Status DeleteMembership(std::string_view p, std::string_view company_id,
                          std::string_view usid) override;
  Status PutField(const store::Field& f) override { return inner_.PutField(f); }
  Status DeleteField(std::string_view p, std::string_view e, std::string_view n) override {
    return inner_.DeleteField(p, e, n);
  }
  Status InsertEvent(store::Event& e) override;
  Status InsertIngestionError(store::IngestionError& e) override {
    return inner_.InsertIngestionError(e);
  }
  Status PutSegment(store::Segment& s) override { return inner_.PutSegment(s); }
  Status DeleteSegment(std::string_view p, std::string_view id) override {
    return inner_.DeleteSegment(p, id);
  }
  Status AddSegmentMember(std::string_view p, std::string_view s, std::string_view usid,
                          SystemTime at) override {
    return inner_.AddSegmentMember(p, s, usid, at);
  }
  Status RemoveSegmentMember(std::string_view s, std::string_view usid) override {
    return inner_.RemoveSegmentMember(s, usid);
  }
  Status InsertSegmentChange(store::SegmentChange& c) override {
    return inner_.InsertSegmentChange(c);
  }
  Status SetSegmentTimer(std::string_view p, std::string_view s, std::string_view usid,
                         std::optional<SystemTime> at) override {
    return inner_.SetSegmentTimer(p, s, usid, at);
  }
  Status InsertOutboxMessage(store::OutboxMessage& m) override {
    return inner_.InsertOutboxMessage(m);
  }
  Status UpdateOutboxMessage(const store::OutboxMessage& m) override {
    return inner_.UpdateOutboxMessage(m);
  }
  Status PutChannelConfig(std::string_view p, std::string_view channel, const json::object& c,
                          SystemTime at) override {
    return inner_.PutChannelConfig(p, channel, c, at);
  }
  Status PutBroadcast(store::Broadcast& b) override { return inner_.PutBroadcast(b); }
  Status DeleteBroadcast(std::string_view p, std::string_view id) override {
    return inner_.DeleteBroadcast(p, id);
  }
  Status InsertBroadcastRecipient(std::string_view p, std::string_view b,
                                  const store::BroadcastRecipient& r) override {
    return inner_.InsertBroadcastRecipient(p, b, r);
  }
  Status InsertSuppression(store::Suppression& s) override { return inner_.InsertSuppression(s); }
  Status DeleteSuppression(std::string_view p, std::string_view address) override {
    return inner_.DeleteSuppression(p, address);
  }

  Status PutWorkflow(store::Workflow& w) override { return inner_.PutWorkflow(w); }
  Status DeleteWorkflow(std::string_view p, std::string_view id) override {
    return inner_.DeleteWorkflow(p, id);
  }
  Status InsertWorkflowVersion(std::string_view w, int v, const json::object& d,
                               SystemTime at) override {
    return inner_.InsertWorkflowVersion(w, v, d, at);
  }
  Status InsertRun(store::WorkflowRun& r) override { return inner_.InsertRun(r); }
  Status UpdateRun(const store::WorkflowRun& r) override { return inner_.UpdateRun(r); }
  Status SetRunsStatus(std::string_view w, std::string_view from, std::string_view to,
                       SystemTime at) override {
    return inner_.SetRunsStatus(w, from, to, at);
  }
  Status InsertRunStep(store::WorkflowRunStep& r) override { return inner_.InsertRunStep(r); }
  Status PutDateTimer(const store::DateTimer& t) override { return inner_.PutDateTimer(t); }
  Status DeleteDateTimers(std::string_view w, std::optional<std::string_view> usid) override {
    return inner_.DeleteDateTimers(w, usid);
  }
  Status SetDateTimersState(std::string_view w, std::string_view from,
                            std::string_view to) override {
    return inner_.SetDateTimersState(w, from, to);
  }
  Status PutWorkflowScan(const store::WorkflowScan& s) override {
    return inner_.PutWorkflowScan(s);
  }
  Status DeleteWorkflowScan(std::string_view w) override { return inner_.DeleteWorkflowScan(w); }
  Status PutWorkflowSendCount(std::string_view w, int64_t window, int count) override {
    return inner_.PutWorkflowSendCount(w, window, count);
  }
  Status PutTriggerAnswer(std::string_view p, std::string_view w, std::string_view key,
                          const json::object& answer, SystemTime at) override {
    return inner_.PutTriggerAnswer(p, w, key, answer, at);
  }

 private:
  store::WriteTxn& inner_;
  std::map<std::string, Changes, std::less<>> changes_;
  std::optional<SystemTime> at_;
  // The last copy read or written of a customer. `fresh` is false once a write changed the
  // customer's row in a way the copy does not follow (a merge, a deletion, an anonymous id
  // moved to another customer); the attributes still serve the diff of a later update.
  struct Copy {
    store::Customer customer;
    bool fresh = true;
  };
  // The copy of `usid` here or in an enclosing txn; nullptr if none.
  const Copy* FindCopy(const std::string& usid) const;
  const store::Customer* ReadCopy(const std::string& usid) const;
  // This txn's own copy of `usid`, copied down from an enclosing txn if need be; nullptr if none.
  Copy* OwnCopy(const std::string& usid);
  // Notes `copy` (just read or inserted) as fresh, with its sets in the store's order.
  void KeepFresh(store::Customer copy);
  // Before `anonymous_id` moves to `usid`: the customer that holds it now is marked changed
  // (its list loses it), and other customers' copies holding it stop being fresh.
  Status AnonymousIdMoving(std::string_view project_id, const std::string& anonymous_id,
                           const std::string& usid);

  std::map<std::string, Copy> read_;     // by usid: the last copy read or written here
  const TrackingTxn* parent_ = nullptr;  // the txn this one is nested in
};

}  // namespace xoal::segments::internal
