// The Workflow API and the Workflow Trigger API (SPEC, Management API), over
// workflows::WorkflowEngine.
#include <set>

#include "api/api.hpp"
#include "core/customers.hpp"
#include "workflows/engine.hpp"

namespace xoal::api {
namespace {

using http::Method;
constexpr int kStepsPerRunInLogs = 200;

workflows::WorkflowEngine& Engine(Api& api) { return *api.deps().workflows; }

http::Response Answer(const Result<store::Workflow>& w, int status) {
  if (!w.ok()) return ErrorResponse(w.status());
  return JsonResponse(status, workflows::WorkflowToJson(*w));
}

http::Response Create(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  return Answer(Engine(api).Create(call.project, *body), 201);
}

http::Response List(Api& api, ApiCall& call) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto rows, txn.ListWorkflows(call.project.id, *page));
    out = PageJson(rows, *page, workflows::WorkflowToJson);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

// The workflow of the call's {id}, or kNotFound.
Result<store::Workflow> Load(store::ReadTxn& txn, ApiCall& call) {
  const std::string& id = call.req.Param("id");
  XOAL_ASSIGN_OR_RETURN(auto w, txn.GetWorkflow(call.project.id, id));
  if (!w) return Status::NotFound("no workflow with id " + id);
  return std::move(*w);
}

http::Response Get(Api& api, ApiCall& call) {
  store::Workflow w;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(w, Load(txn, call));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, workflows::WorkflowToJson(w));
}

http::Response Put(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  return Answer(Engine(api).Replace(call.project, call.req.Param("id"), *body), 200);
}

http::Response Delete(Api& api, ApiCall& call) {
  Status st = Engine(api).Delete(call.project, call.req.Param("id"));
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"deleted", true}});
}

http::Response Activate(Api& api, ApiCall& call) {
  return Answer(Engine(api).Transition(call.project, call.req.Param("id"), "activate"), 200);
}
http::Response Pause(Api& api, ApiCall& call) {
  return Answer(Engine(api).Transition(call.project, call.req.Param("id"), "pause"), 200);
}
http::Response Archive(Api& api, ApiCall& call) {
  return Answer(Engine(api).Transition(call.project, call.req.Param("id"), "archive"), 200);
}

http::Response Trigger(Api& api, ApiCall& call) {
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  auto answer = Engine(api).Trigger(call.project, call.req.Param("id"), *body);
  if (!answer.ok()) return ErrorResponse(answer.status());
  return JsonResponse(200, *answer);
}

http::Response Analytics(Api& api, ApiCall& call) {
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto w, Load(txn, call));
    XOAL_ASSIGN_OR_RETURN(auto stats, txn.GetWorkflowStats(w.id));
    out = workflows::StatsToJson(stats, workflows::HasDateTrigger(w.definition));
    out["workflow_id"] = w.id;
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

// Filters of a runs list from the query: status, customer (usid), run_id.
Result<store::WorkflowRunFilter> ReadRunFilter(const http::Request& req) {
  store::WorkflowRunFilter f;
  if (const std::string* s = req.Query("status"); s && !s->empty()) {
    static const std::set<std::string> kStatuses = {"active",    "held",   "completed",
                                                    "converted", "exited", "failed"};
    if (!kStatuses.contains(*s)) {
      return Status::InvalidArgument(
          "status must be active, held, completed, converted, exited or failed", "status");
    }
    f.status = *s;
  }
  if (const std::string* c = req.Query("customer"); c && !c->empty()) f.usid = *c;
  return f;
}

// A page of runs (of the workflow {id}, or of the customer {usid}), each with its log when
// `with_steps`.
http::Response Runs(Api& api, ApiCall& call, bool with_steps) {
  auto page = ReadPage(call.req);
  if (!page.ok()) return ErrorResponse(page.status());
  auto filter = ReadRunFilter(call.req);
  if (!filter.ok()) return ErrorResponse(filter.status());
  json::object out;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    if (call.req.params.contains("usid")) {
      XOAL_ASSIGN_OR_RETURN(auto c,
                            core::GetCustomer(txn, call.project.id, call.req.Param("usid")));
      filter->usid = c.usid;
    } else {
      XOAL_ASSIGN_OR_RETURN(auto w, Load(txn, call));
      filter->workflow_id = w.id;
    }
    std::vector<store::WorkflowRun> rows;
    if (const std::string* id = call.req.Query("run_id"); id && !id->empty()) {
      XOAL_ASSIGN_OR_RETURN(auto run, txn.GetRun(call.project.id, *id));
      // The run must be one the list would show: of this workflow, or of this customer.
      if (!run || (filter->workflow_id && run->workflow_id != *filter->workflow_id) ||
          (filter->usid && run->usid != *filter->usid)) {
        return Status::NotFound("no run with id " + *id);
      }
      rows.push_back(std::move(*run));
    } else {
      XOAL_ASSIGN_OR_RETURN(rows, txn.ListRuns(call.project.id, *filter, *page));
    }
    Status inner;
    out = PageJson(rows, *page, [&](const store::WorkflowRun& r) {
      json::object j = workflows::RunToJson(r);
      if (!with_steps) return j;
      json::array steps;
      auto log = txn.ListRunSteps(r.id, {0, kStepsPerRunInLogs});
      if (!log.ok()) inner = log.status();
      for (const auto& s : log.ok() ? *log : std::vector<store::WorkflowRunStep>{}) {
        steps.push_back(workflows::RunStepToJson(s));
      }
      j["steps"] = std::move(steps);
      return j;
    });
    return inner;
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, out);
}

http::Response ListRuns(Api& api, ApiCall& call) { return Runs(api, call, false); }
http::Response Logs(Api& api, ApiCall& call) { return Runs(api, call, true); }

}  // namespace

void AddWorkflowRoutes(Api& api) {
  auto add = [&api](Method m, std::string pattern, Api::ManagementFn fn) {
    api.AddManagement(m, std::move(pattern), fn);
  };
  add(Method::kPost, "/api/v1/workflows", Create);
  add(Method::kGet, "/api/v1/workflows", List);
  add(Method::kGet, "/api/v1/workflows/{id}", Get);
  add(Method::kPut, "/api/v1/workflows/{id}", Put);
  add(Method::kDelete, "/api/v1/workflows/{id}", Delete);
  add(Method::kPost, "/api/v1/workflows/{id}/activate", Activate);
  add(Method::kPost, "/api/v1/workflows/{id}/pause", Pause);
  add(Method::kPost, "/api/v1/workflows/{id}/archive", Archive);
  add(Method::kPost, "/api/v1/workflows/{id}/trigger", Trigger);
  add(Method::kGet, "/api/v1/workflows/{id}/analytics", Analytics);
  add(Method::kGet, "/api/v1/workflows/{id}/logs", Logs);
  add(Method::kGet, "/api/v1/workflows/{id}/runs", ListRuns);
  add(Method::kGet, "/api/v1/customers/{usid}/runs", ListRuns);
}

}  // namespace xoal::api
