// WorkflowEngine against a real SQLite store in a temp dir, in process, for what a real `xoal`
// process cannot show deterministically: the engine matches triggers against a snapshot of the
// active workflows that it reloads only after a pause, archive or edit commits, and a write that
// lands in those few milliseconds must still see the stored status and version. The tests change
// the stored row directly (so the snapshot stays stale for as long as the test likes) and then
// apply the triggering write.
#include "workflows/engine.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/customers.hpp"
#include "core/projects.hpp"
#include "store/sqlite_store.hpp"

namespace xoal::workflows {
namespace {

json::object J(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok() && v->is_object()) << text;
  return v.ok() && v->is_object() ? v->get_object() : json::object();
}

class WorkflowEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (std::filesystem::temp_directory_path() / "xoal-wf-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    auto opened = store::SqliteStore::Open({dir_ / "xoal.db"});
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(*opened);
    segments_ = std::make_unique<segments::SegmentEngine>(*store_, clock_);
    ASSERT_TRUE(segments_->Load().ok());
    auto made = core::CreateProject(segments_->store(), clock_, "wf");
    ASSERT_TRUE(made.ok()) << made.status().message();
    project_ = made->project;
    engine_ = std::make_unique<WorkflowEngine>(*segments_, clock_, renderer_, nullptr);
    ASSERT_TRUE(engine_->Load().ok());
    ann_ = Write<std::string>([&](store::WriteTxn& txn) -> Result<std::string> {
      XOAL_ASSIGN_OR_RETURN(auto up, core::UpsertCustomer(txn, Ctx(), J(R"({"user_id": "ann"})")));
      return up.customer.usid;
    });
  }

  void TearDown() override {
    engine_.reset();
    segments_.reset();
    if (store_) store_->Close();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  core::WriteContext Ctx() const {
    return core::WriteContext{&project_, clock_.SystemNow(), clock_.SystemNow(), "api"};
  }

  // A write through the segment engine, as the API and ingestion make them (the workflow engine
  // sees it in its transaction). Returns what `fn` returns.
  template <typename T>
  T Write(const std::function<Result<T>(store::WriteTxn&)>& fn) {
    T out{};
    Status st = segments_->store().Write([&](store::WriteTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(out, fn(txn));
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  std::string CreateActive(std::string_view body) {
    auto w = engine_->Create(project_, J(body));
    EXPECT_TRUE(w.ok()) << w.status().field() << " " << w.status().message();
    if (!w.ok()) return {};
    EXPECT_TRUE(engine_->Transition(project_, w->id, "activate").ok());
    return w->id;
  }

  // What a pause or archive writes to the workflow row, written straight into the store: the
  // engine's snapshot still lists the workflow as active, as it does until such a change commits
  // and the engine reloads.
  void StoreStatusBehindTheEngine(const std::string& workflow_id, const std::string& status) {
    Status st = store_->Write([&](store::WriteTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project_.id, workflow_id));
      if (!w) return Status::NotFound(workflow_id);
      w->status = status;
      if (status == "archived") {
        XOAL_RETURN_IF_ERROR(txn.DeleteDateTimers(workflow_id, std::nullopt));
      }
      return txn.PutWorkflow(*w);
    });
    ASSERT_TRUE(st.ok()) << st.message();
  }

  void Track(const std::string& name) {
    Write<bool>([&](store::WriteTxn& txn) -> Result<bool> {
      store::Event e;
      e.project_id = project_.id;
      e.id = "ev-" + std::to_string(++events_);
      e.usid = ann_;
      e.name = name;
      e.type = "track";
      e.source = "api";
      e.timestamp = e.received_at = clock_.SystemNow();
      XOAL_RETURN_IF_ERROR(txn.InsertEvent(e));
      return true;
    });
  }

  void Patch(std::string_view attributes) {
    Write<bool>([&](store::WriteTxn& txn) -> Result<bool> {
      XOAL_RETURN_IF_ERROR(core::PatchCustomer(txn, Ctx(), ann_, J(attributes)).status());
      return true;
    });
  }

  std::vector<store::WorkflowRun> Runs(const std::string& workflow_id) {
    std::vector<store::WorkflowRun> runs;
    Status st = store_->Read([&](store::ReadTxn& txn) {
      store::WorkflowRunFilter filter;
      filter.workflow_id = workflow_id;
      XOAL_ASSIGN_OR_RETURN(runs, txn.ListRuns(project_.id, filter, {0, 100}));
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return runs;
  }

  std::optional<store::DateTimer> Timer(const std::string& workflow_id) {
    std::optional<store::DateTimer> timer;
    Status st = store_->Read([&](store::ReadTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(timer, txn.GetDateTimer(workflow_id, ann_));
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return timer;
  }

  std::filesystem::path dir_;  // a fresh temp dir per test, removed after it
  FakeClock clock_{FromEpochMillis(1'780'000'000'000)};  // 2026-05-28
  messaging::MessageRenderer renderer_{clock_};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<segments::SegmentEngine> segments_;
  std::unique_ptr<WorkflowEngine> engine_;
  store::Project project_;
  std::string ann_;
  int events_ = 0;
};

constexpr std::string_view kOnGo = R"({"name": "Go", "trigger": {"type": "event", "event": "go"},
    "entry": {"re_entry": "always"}, "start": "a", "steps": {"a": {"type": "exit"}}})";
constexpr std::string_view kOnPlan = R"({"name": "Plan",
    "trigger": {"type": "attribute_changed", "attribute": "plan"},
    "entry": {"re_entry": "always"}, "start": "a", "steps": {"a": {"type": "exit"}}})";

// The event trigger and the attribute_changed trigger start a run while the workflow is active,
// and nothing once its stored status is paused or archived, though the snapshot says active.
TEST_F(WorkflowEngineTest, EventAndAttributeTriggersStartNothingOnceStoredPausedOrArchived) {
  for (std::string status : {"paused", "archived"}) {
    SCOPED_TRACE(status);
    std::string on_go = CreateActive(kOnGo);
    std::string on_plan = CreateActive(kOnPlan);
    Track("go");
    Patch(R"({"plan": "basic"})");
    ASSERT_EQ(Runs(on_go).size(), 1u);
    ASSERT_EQ(Runs(on_plan).size(), 1u);

    StoreStatusBehindTheEngine(on_go, status);
    StoreStatusBehindTheEngine(on_plan, status);
    Track("go");
    Patch(R"({"plan": "pro"})");

    EXPECT_EQ(Runs(on_go).size(), 1u);
    EXPECT_EQ(Runs(on_plan).size(), 1u);
  }
}

// A segment_entered trigger: the membership change in the same write starts nothing on a workflow
// stored as paused.
TEST_F(WorkflowEngineTest, SegmentTriggerStartsNothingOnceStoredPaused) {
  auto segment = segments_->Create(project_, J(R"({"name": "Pro", "type": "dynamic",
      "conditions": {"attribute": "plan", "op": "eq", "value": "pro"}})"));
  ASSERT_TRUE(segment.ok()) << segment.status().message();
  std::string id = CreateActive(R"({"name": "Entered", "trigger": {"type": "segment_entered",
      "segment_id": ")" + segment->id +
                                R"("}, "entry": {"re_entry": "always"}, "start": "a",
      "steps": {"a": {"type": "exit"}}})");
  Patch(R"({"plan": "pro"})");
  Patch(R"({"plan": "basic"})");
  ASSERT_EQ(Runs(id).size(), 1u);

  StoreStatusBehindTheEngine(id, "paused");
  Patch(R"({"plan": "pro"})");

  EXPECT_EQ(Runs(id).size(), 1u);
}

// A date_attribute workflow stored as archived (its timers gone) gets no timer back from a write
// that sets the customer's date, so no run can start from it later either.
TEST_F(WorkflowEngineTest, DateTriggerSetsNoTimerOnceStoredArchived) {
  std::string id = CreateActive(R"({"name": "Trial",
      "trigger": {"type": "date_attribute", "attribute": "trial_ends_at", "offset": {"days": -1}},
      "start": "a", "steps": {"a": {"type": "exit"}}})");
  Patch(R"({"trial_ends_at": "2026-07-01T00:00:00Z"})");
  ASSERT_TRUE(Timer(id).has_value());

  StoreStatusBehindTheEngine(id, "archived");
  Patch(R"({"trial_ends_at": "2026-08-01T00:00:00Z"})");

  EXPECT_FALSE(Timer(id).has_value());
}

// The Trigger API reads the stored status itself: a workflow stored as paused is a 409.
TEST_F(WorkflowEngineTest, TriggerApiRefusesAWorkflowStoredPaused) {
  std::string id = CreateActive(R"({"name": "Api", "trigger": {"type": "api"}, "start": "a",
      "steps": {"a": {"type": "exit"}}})");

  StoreStatusBehindTheEngine(id, "paused");
  auto answer = engine_->Trigger(project_, id, J(R"({"customers": [{"user_id": "ann"}]})"));

  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), StatusCode::kConflict);
  EXPECT_EQ(answer.status().field(), "status");
  EXPECT_TRUE(Runs(id).empty());
}

// A run started between an edit's commit and the reload is on the stored version, not the one
// the snapshot holds.
TEST_F(WorkflowEngineTest, RunStartsOnTheStoredVersion) {
  std::string id = CreateActive(kOnGo);
  json::object v2 = J(R"({"trigger": {"type": "event", "event": "go"},
      "entry": {"re_entry": "always"}, "start": "b", "steps": {"b": {"type": "exit"}}})");
  Status st = store_->Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(project_.id, id));
    w->version = 2;
    w->definition = v2;
    XOAL_RETURN_IF_ERROR(txn.InsertWorkflowVersion(id, 2, v2, clock_.SystemNow()));
    return txn.PutWorkflow(*w);
  });
  ASSERT_TRUE(st.ok()) << st.message();

  Track("go");

  auto runs = Runs(id);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].version, 2);
  EXPECT_EQ(runs[0].step, "b");
}

// Review 5: a workflow being saved has its messages checked (an unknown member is a 422), but a
// stored definition is parsed without that check, so a workflow saved before it keeps running
// after an upgrade instead of being dropped from the engine as unreadable.
TEST(StoredDefinitionTest, UnknownMessageMemberIsRefusedOnSaveButParsedWhenStored) {
  json::object body = J(R"({"trigger": {"type": "api"}, "start": "m", "steps": {
      "m": {"type": "send_email", "message": {"subject": "s", "text": "t", "reply_to": "x"}}}})");

  auto stored = ParseDefinition(body);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  Status on_save = CheckNewDefinition(*stored);

  EXPECT_TRUE(on_save.IsInvalidArgument());
  EXPECT_EQ(on_save.field(), "steps.m.message.reply_to");
}

}  // namespace
}  // namespace xoal::workflows
