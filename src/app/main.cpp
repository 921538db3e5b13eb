// xoal: parses the command line and runs one command of app/commands.hpp.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "app/commands.hpp"

namespace {

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// Logs go to stderr, one `key=value` line per event; stdout is for what the user asked for.
void SetUpLogging() {
  auto logger = spdlog::stderr_logger_mt("xoal");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  std::string level = EnvOr("XOAL_LOG_LEVEL", "info");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  SetUpLogging();
  CLI::App app{"xoal: a customer engagement platform"};
  app.require_subcommand(1);
  std::string data_dir = EnvOr("XOAL_DATA_DIR", "./xoal-data");
  auto add_data_dir = [&](CLI::App* cmd) {
    cmd->add_option("--data-dir", data_dir, "where everything is kept (XOAL_DATA_DIR)");
  };

  xoal::app::ServeOptions serve;
  serve.listen = EnvOr("XOAL_LISTEN", serve.listen);
  auto* serve_cmd = app.add_subcommand("serve", "run the HTTP API and the engine");
  add_data_dir(serve_cmd);
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (XOAL_LISTEN)");
  serve_cmd->add_option("--io-threads", serve.io_threads, "socket threads; 0 is one per core");
  serve_cmd->add_flag("--test-clock", serve.test_clock,
                      "tests only: time moves only through POST /_test/clock");
  serve_cmd->add_option("--test-clock-start", serve.test_clock_start,
                        "tests only: the test clock's first reading (ISO-8601)");

  auto* project_cmd = app.add_subcommand("project", "manage projects");
  project_cmd->require_subcommand(1);
  std::string project_name;
  bool as_json = false;
  auto* project_create = project_cmd->add_subcommand("create", "create a project and its keys");
  add_data_dir(project_create);
  project_create->add_option("name", project_name, "the project's name")->required();
  project_create->add_flag("--json", as_json, "print JSON");
  auto* project_list = project_cmd->add_subcommand("list", "list projects");
  add_data_dir(project_list);
  project_list->add_flag("--json", as_json, "print JSON");

  auto* keys_cmd = app.add_subcommand("keys", "manage API keys");
  keys_cmd->require_subcommand(1);
  xoal::app::KeyCreateOptions key_create;
  auto* keys_create = keys_cmd->add_subcommand("create", "create a key (shown once)");
  add_data_dir(keys_create);
  keys_create->add_option("--project", key_create.project_id, "project id")->required();
  keys_create->add_option("--type", key_create.type, "ingestion or management")
      ->check(CLI::IsMember({"ingestion", "management"}));
  keys_create->add_option("--name", key_create.name, "a name to tell the key apart");
  keys_create->add_flag("--json", as_json, "print JSON");
  std::optional<std::string> list_project;
  auto* keys_list = keys_cmd->add_subcommand("list", "list keys (never the keys themselves)");
  add_data_dir(keys_list);
  keys_list->add_option("--project", list_project, "only this project's keys");
  keys_list->add_flag("--json", as_json, "print JSON");
  std::string revoke_id;
  auto* keys_revoke = keys_cmd->add_subcommand("revoke", "revoke a key by its id");
  add_data_dir(keys_revoke);
  keys_revoke->add_option("key_id", revoke_id, "the key's id (key_...)")->required();

  auto* dev_cmd = app.add_subcommand("dev", "tools for development");
  dev_cmd->require_subcommand(1);
  xoal::app::DevSmtpSinkOptions sink;
  auto* dev_sink = dev_cmd->add_subcommand(
      "smtp-sink", "a local SMTP server that accepts every message and prints a line for each");
  dev_sink->add_option("--listen", sink.listen, "HOST:PORT to listen on (default 127.0.0.1:2525)");
  dev_sink->add_option("--dir", sink.dir, "also write each message there as N.eml");

  CLI11_PARSE(app, argc, argv);

  if (serve_cmd->parsed()) {
    serve.data_dir = data_dir;
    return xoal::app::RunServe(serve);
  }
  if (project_create->parsed()) return xoal::app::RunProjectCreate(data_dir, project_name, as_json);
  if (project_list->parsed()) return xoal::app::RunProjectList(data_dir, as_json);
  if (keys_create->parsed()) {
    key_create.data_dir = data_dir;
    key_create.as_json = as_json;
    return xoal::app::RunKeysCreate(key_create);
  }
  if (keys_list->parsed()) return xoal::app::RunKeysList(data_dir, list_project, as_json);
  if (keys_revoke->parsed()) return xoal::app::RunKeysRevoke(data_dir, revoke_id);
  if (dev_sink->parsed()) return xoal::app::RunDevSmtpSink(sink);
  return 2;
}
