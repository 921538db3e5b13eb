// The `xoal` commands. main() parses the command line into these options and calls one function;
// each returns the process exit code and prints what the user asked for on stdout, logs on stderr.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace xoal::app {

struct ServeOptions {
  std::filesystem::path data_dir;
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  int io_threads = 0;                     // 0: one per core
  // Test-only: run on a clock that moves only through POST /_test/clock, so tests of
  // time-based behaviour (segment windows, delays) need no sleeps.
  bool test_clock = false;
  // Test-only, with test_clock: the clock's first reading (ISO-8601) instead of the real now, so
  // a test that restarts the server resumes at the time it had set.
  std::string test_clock_start;
};

// Runs the server until SIGTERM or SIGINT, then stops cleanly and returns 0. On an empty data
// directory it first creates a project and prints its two keys. Prints `listening address=H:P`
// once it accepts connections. Returns 1 (after one clear log line) on unusable options or store.
int RunServe(const ServeOptions& options);

// `xoal project create NAME [--json]`.
int RunProjectCreate(const std::filesystem::path& data_dir, const std::string& name, bool as_json);
// `xoal project list [--json]`.
int RunProjectList(const std::filesystem::path& data_dir, bool as_json);

struct KeyCreateOptions {
  std::filesystem::path data_dir;
  std::string project_id;
  std::string type = "management";  // or "ingestion"
  std::string name = "cli";
  bool as_json = false;
};
// `xoal keys create`: makes a key and prints it, the only time it is shown.
int RunKeysCreate(const KeyCreateOptions& options);
// `xoal keys list [--project ID] [--json]`: never prints a key, only its prefix.
int RunKeysList(const std::filesystem::path& data_dir, const std::optional<std::string>& project_id,
                bool as_json);
// `xoal keys revoke KEY_ID`: a running server refuses the key before this returns.
int RunKeysRevoke(const std::filesystem::path& data_dir, const std::string& key_id);

struct DevSmtpSinkOptions {
  std::string listen = "127.0.0.1:2525";  // HOST:PORT, an IPv4 address; port 0 picks a free one
  std::filesystem::path dir;              // when set, each message is written there as N.eml
};
// `xoal dev smtp-sink`: a development SMTP server that accepts every message and prints
// `received n=N from=... to=... subject="..." bytes=N` for each, after a first line
// `smtp sink listening address=H:P`. Runs until SIGTERM or SIGINT. Not for production.
int RunDevSmtpSink(const DevSmtpSinkOptions& options);

}  // namespace xoal::app
