#include "app/commands.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "api/api.hpp"
#include "app/control_socket.hpp"
#include "broadcasts/engine.hpp"
#include "common/clock.hpp"
#include "common/time_format.hpp"
#include "core/keys.hpp"
#include "core/projects.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"
#include "messaging/links.hpp"
#include "messaging/outbox.hpp"
#include "messaging/render.hpp"
#include "segments/engine.hpp"
#include "store/sqlite_store.hpp"
#include "workflows/engine.hpp"

namespace xoal::app {
namespace {

// Keys made or revoked by the CLI while no control socket could reach the server still take
// effect within this interval.
constexpr std::chrono::seconds kKeyReloadInterval{5};
constexpr std::chrono::seconds kMaintenanceTick{1};
constexpr std::string_view kReloadKeysCommand = "reload-keys";

std::filesystem::path DatabasePath(const std::filesystem::path& data_dir) {
  return data_dir / "xoal.db";
}
std::filesystem::path ControlPath(const std::filesystem::path& data_dir) {
  return data_dir / "control.sock";
}

// Creates the data directory if needed and opens its store. Logs the reason and returns null
// when that fails.
std::unique_ptr<store::SqliteStore> OpenStore(const std::filesystem::path& data_dir,
                                              Metrics* metrics) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    spdlog::error("data_dir_unusable path=\"{}\" error=\"{}\"", data_dir.string(), ec.message());
    return nullptr;
  }
  auto opened = store::SqliteStore::Open({DatabasePath(data_dir), 512, metrics});
  if (!opened.ok()) {
    spdlog::error("store_open_failed path=\"{}\" error=\"{}\"", DatabasePath(data_dir).string(),
                  opened.status().message());
    return nullptr;
  }
  return std::move(opened).value();
}

bool ParseListen(const std::string& listen, std::string& host, uint16_t& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view digits(listen.data() + colon + 1, listen.size() - colon - 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty();
}

void PrintKeys(const core::CreatedProject& made, bool as_json) {
  if (as_json) {
    std::cout << json::serialize(json::object{{"project_id", made.project.id},
                                              {"ingestion_key", made.ingestion_key},
                                              {"management_key", made.management_key}})
              << std::endl;
    return;
  }
  std::cout << "project " << made.project.id << " (" << made.project.name << ")\n"
            << "  data ingestion key: " << made.ingestion_key << "\n"
            << "  management key:     " << made.management_key << "\n"
            << "  (shown once: store them now)" << std::endl;
}

// Creates the first project when the store has none. Returns false if the store failed.
bool EnsureFirstProject(store::Store& store, const Clock& clock) {
  std::vector<store::Project> projects;
  Status st = store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(projects, txn.ListProjects());
    return Status::Ok();
  });
  if (!st.ok()) {
    spdlog::error("store_read_failed operation=list_projects error=\"{}\"", st.message());
    return false;
  }
  if (!projects.empty()) return true;
  auto made = core::CreateProject(store, clock, "Default project");
  if (!made.ok()) {
    spdlog::error("first_project_failed error=\"{}\"", made.status().message());
    return false;
  }
  spdlog::info("first_project_created project_id={}", made->project.id);
  std::cout << "Created a first project on this empty data directory.\n";
  PrintKeys(*made, false);
  return true;
}

// Blocks SIGTERM and SIGINT in this thread and every thread started after, so that only
// WaitForStopSignal() sees them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Runs `tick` about once a second until a stop signal arrives; returns the signal.
int WaitForStopSignal(const sigset_t& set, const std::function<void()>& tick) {
  timespec timeout{static_cast<time_t>(kMaintenanceTick.count()), 0};
  while (true) {
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig > 0) return sig;
    tick();
  }
}

// XOAL_OUTBOX_WORKERS: how many outbox workers send at once (default 4, 1 to 64).
int OutboxWorkers() {
  const char* env = std::getenv("XOAL_OUTBOX_WORKERS");
  if (!env) return messaging::OutboxOptions{}.workers;
  std::string_view text(env);
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 64) {
    spdlog::warn("invalid_outbox_workers value=\"{}\" using={}", text,
                 messaging::OutboxOptions{}.workers);
    return messaging::OutboxOptions{}.workers;
  }
  return n;
}

void LogIfError(const Status& st, std::string_view event) {
  if (!st.ok()) spdlog::warn("{} error=\"{}\"", event, st.message());
}

// POST /_test/clock {"advance_ms": N} or {"set": "<iso time>"}: moves the test clock and answers
// {"now": "<iso time>"}. Registered only with --test-clock.
void AddTestClockRoute(api::Api& api, FakeClock& clock, segments::SegmentEngine& engine,
                       messaging::Outbox& outbox, broadcasts::BroadcastEngine& broadcasts,
                       workflows::WorkflowEngine& workflows) {
  api.Add(http::Method::kPost, "/_test/clock", api::Access::kPublic,
          [&clock, &engine, &outbox, &broadcasts, &workflows](api::ApiCall& call) {
            auto body = api::ParseObjectBody(call.req);
            if (!body.ok()) return api::ErrorResponse(body.status());
            if (auto it = body->find("advance_ms"); it != body->end() && it->value().is_int64()) {
              clock.Advance(Millis(it->value().get_int64()));
            } else if (auto set = body->find("set"); set != body->end()) {
              auto t = ParseJsonTime(set->value());
              if (!t)
                return api::ErrorResponse(Status::InvalidArgument("set must be a time", "set"));
              clock.Set(*t);
            }
            engine.Wake();
            outbox.Wake();
            broadcasts.Wake();
            workflows.Wake();
            return api::JsonResponse(200, json::object{{"now", FormatIsoTime(clock.SystemNow())}});
          });
}

}  // namespace

int RunServe(const ServeOptions& options) {
  http::ServerOptions server_options;
  if (!ParseListen(options.listen, server_options.host, server_options.port)) {
    spdlog::error("invalid_listen_address listen=\"{}\" expected=HOST:PORT", options.listen);
    return 1;
  }
  server_options.io_threads = options.io_threads;
  sigset_t stop_signals = BlockStopSignals();

  SystemClock system_clock;
  std::optional<SystemTime> clock_start = system_clock.SystemNow();
  if (!options.test_clock_start.empty()) clock_start = ParseIsoTime(options.test_clock_start);
  if (!clock_start) {
    spdlog::error("serve_refused reason=\"--test-clock-start is not an ISO-8601 time\"");
    return 1;
  }
  FakeClock test_clock(*clock_start);
  const Clock& clock = options.test_clock ? static_cast<const Clock&>(test_clock) : system_clock;
  Metrics metrics;
  auto store = OpenStore(options.data_dir, &metrics);
  if (!store || !EnsureFirstProject(*store, clock)) return 1;
  segments::SegmentEngine segments(*store, clock);
  if (Status st = segments.Load(); !st.ok()) {
    spdlog::error("segments_load_failed error=\"{}\"", st.message());
    return 1;
  }
  core::KeyCache keys(*store, clock);
  if (Status st = keys.Reload(); !st.ok()) {
    spdlog::error("key_cache_load_failed error=\"{}\"", st.message());
    return 1;
  }

  channels::SmtpEmailSender email_sender(clock);
  channels::TwilioSmsSender sms_sender(clock);
  channels::FcmPushSender push_sender(clock);
  channels::HttpWebhookSender webhook_sender(clock);
  messaging::OutboxOptions outbox_options;
  outbox_options.workers = OutboxWorkers();
  messaging::Outbox outbox(segments.store(), clock,
                           {email_sender, sms_sender, push_sender, webhook_sender}, &metrics,
                           outbox_options);
  if (auto recovered = outbox.Recover(); !recovered.ok()) {
    spdlog::error("outbox_recover_failed error=\"{}\"", recovered.status().message());
    return 1;
  }
  messaging::MessageRenderer renderer(clock);
  broadcasts::BroadcastEngine broadcasts(segments.store(), clock, renderer, &outbox);

  workflows::WorkflowEngine workflows(segments, clock, renderer, &outbox);
  if (Status st = workflows.Load(); !st.ok()) {
    spdlog::error("workflows_load_failed error=\"{}\"", st.message());
    return 1;
  }

  api::Api api({segments.store(), clock, keys, metrics, &segments, &outbox, &renderer, &broadcasts,
                &workflows});
  if (options.test_clock) {
    spdlog::warn("test_clock_enabled detail=\"time moves only through POST /_test/clock\"");
    AddTestClockRoute(api, test_clock, segments, outbox, broadcasts, workflows);
  }
  http::Server server(server_options, [&api](http::Request& req) { return api.Dispatch(req); });
  auto port = server.Start();
  if (!port.ok()) {
    spdlog::error("listen_failed listen=\"{}\" error=\"{}\"", options.listen,
                  port.status().message());
    return 1;
  }
  ControlServer control;
  Status control_started = control.Start(ControlPath(options.data_dir), [&](const std::string& c) {
    if (c != kReloadKeysCommand) return std::string("unknown command");
    Status st = keys.Reload();
    return st.ok() ? std::string("ok") : "error " + st.message();
  });
  LogIfError(control_started, "control_socket_unavailable");
  segments.Start();
  outbox.Start();
  broadcasts.Start();
  workflows.Start();
  spdlog::info("server_started host={} port={}", server_options.host, *port);
  // Links in messages point here unless a project sets public_base_url.
  const char* public_url = std::getenv("XOAL_PUBLIC_URL");
  messaging::SetDefaultPublicBaseUrl(public_url && *public_url
                                         ? std::string(public_url)
                                         : fmt::format("http://{}:{}", server_options.host, *port));
  std::cout << "listening address=" << server_options.host << ":" << *port << std::endl;

  SteadyTime last_reload = clock.SteadyNow();
  int sig = WaitForStopSignal(stop_signals, [&] {
    LogIfError(keys.FlushLastUsed(), "key_last_used_flush_failed");
    if (clock.SteadyNow() - last_reload >= kKeyReloadInterval) {
      last_reload = clock.SteadyNow();
      LogIfError(keys.Reload(), "key_cache_reload_failed");
    }
  });

  spdlog::info("server_stopping signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  control.Stop();
  server.Stop();
  broadcasts.Stop();
  workflows.Stop();
  outbox.Stop();
  segments.Stop();
  LogIfError(keys.FlushLastUsed(), "key_last_used_flush_failed");
  store->Close();
  spdlog::info("server_stopped");
  return 0;
}

int RunProjectCreate(const std::filesystem::path& data_dir, const std::string& name, bool as_json) {
  SystemClock clock;
  auto store = OpenStore(data_dir, nullptr);
  if (!store) return 1;
  auto made = core::CreateProject(*store, clock, name);
  if (!made.ok()) {
    std::cerr << "xoal: " << made.status().message() << "\n";
    return 1;
  }
  spdlog::info("project_created project_id={}", made->project.id);
  PrintKeys(*made, as_json);
  return 0;
}

int RunProjectList(const std::filesystem::path& data_dir, bool as_json) {
  auto store = OpenStore(data_dir, nullptr);
  if (!store) return 1;
  std::vector<store::Project> projects;
  Status st = store->Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(projects, txn.ListProjects());
    return Status::Ok();
  });
  if (!st.ok()) {
    std::cerr << "xoal: " << st.message() << "\n";
    return 1;
  }
  json::array out;
  for (const auto& p : projects) {
    if (as_json) {
      out.push_back(core::ProjectToJson(p));
    } else {
      std::cout << p.id << "  " << p.name << "  created " << FormatIsoTime(p.created_at) << "\n";
    }
  }
  if (as_json) std::cout << json::serialize(out) << std::endl;
  return 0;
}

int RunKeysCreate(const KeyCreateOptions& options) {
  auto type = core::ParseKeyType(options.type);
  if (!type) {
    std::cerr << "xoal: --type must be ingestion or management\n";
    return 2;
  }
  SystemClock clock;
  auto store = OpenStore(options.data_dir, nullptr);
  if (!store) return 1;
  core::NewKey made = core::MakeKey(options.project_id, *type, options.name, clock.SystemNow());
  Status st = store->Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(options.project_id));
    if (!project) return Status::NotFound("no project " + options.project_id);
    return txn.InsertKey(made.record);
  });
  if (!st.ok()) {
    std::cerr << "xoal: " << st.message() << "\n";
    return 1;
  }
  spdlog::info("key_created project_id={} key_id={}", options.project_id, made.record.id);
  if (options.as_json) {
    json::object out = core::KeyToJson(made.record);
    out["key"] = made.plaintext;
    std::cout << json::serialize(out) << std::endl;
  } else {
    std::cout << made.record.id << " " << core::KeyTypeName(*type) << " key: " << made.plaintext
              << "\n(shown once: store it now)" << std::endl;
  }
  return 0;
}

int RunKeysList(const std::filesystem::path& data_dir, const std::optional<std::string>& project_id,
                bool as_json) {
  auto store = OpenStore(data_dir, nullptr);
  if (!store) return 1;
  std::vector<store::ApiKey> keys;
  Status st = store->Read([&](store::ReadTxn& txn) {
    std::optional<std::string_view> filter;
    if (project_id) {
      filter = *project_id;
      XOAL_ASSIGN_OR_RETURN(auto project, txn.GetProject(*project_id));
      if (!project) return Status::NotFound("no project " + *project_id);
    }
    XOAL_ASSIGN_OR_RETURN(keys, txn.ListKeys(filter));
    return Status::Ok();
  });
  if (!st.ok()) {
    std::cerr << "xoal: " << st.message() << "\n";
    return 1;
  }
  json::array out;
  for (const auto& k : keys) {
    json::object j = core::KeyToJson(k);
    j["project_id"] = k.project_id;
    if (as_json) {
      out.push_back(std::move(j));
    } else {
      std::cout << k.id << "  " << k.project_id << "  " << core::KeyTypeName(k.type) << "  "
                << k.prefix << "...  " << k.name << (k.revoked_at ? "  (revoked)" : "") << "\n";
    }
  }
  if (as_json) std::cout << json::serialize(out) << std::endl;
  return 0;
}

int RunKeysRevoke(const std::filesystem::path& data_dir, const std::string& key_id) {
  SystemClock clock;
  auto store = OpenStore(data_dir, nullptr);
  if (!store) return 1;
  Status st = store->Write([&](store::WriteTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto keys, txn.ListKeys(std::nullopt));
    for (const auto& k : keys) {
      if (k.id == key_id) return txn.RevokeKey(k.project_id, key_id, clock.SystemNow());
    }
    return Status::NotFound("no key " + key_id);
  });
  if (!st.ok()) {
    std::cerr << "xoal: " << st.message() << "\n";
    return 1;
  }
  store->Close();
  spdlog::info("key_revoked key_id={}", key_id);
  // A running server drops the key from its cache now; without one there is nothing to tell.
  if (auto answer = SendControl(ControlPath(data_dir), std::string(kReloadKeysCommand));
      answer && *answer != "ok") {
    spdlog::warn("server_key_reload_failed answer=\"{}\"", *answer);
  }
  std::cout << "revoked " << key_id << std::endl;
  return 0;
}

}  // namespace xoal::app
