// The store the in-process benchmarks run against: a SqliteStore in a fresh temp dir with one
// project, and the email channel pointed at a loopback SMTP sink. Header-only, like the rest of
// bench/support; failures end the benchmark through Fail().
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "core/projects.hpp"
#include "messaging/channel_config.hpp"
#include "store/sqlite_store.hpp"
#include "support/bench_report.hpp"

namespace xoal::bench {

class BenchStore {
 public:
  // Creates /tmp/xoal-<name>-XXXXXX with xoal.db in it and a project called "bench".
  BenchStore(const std::string& name, const Clock& clock, bool keep) : keep_(keep) {
    std::string tmpl = "/tmp/xoal-" + name + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) Fail("mkdtemp");
    dir_ = tmpl;
    auto opened = store::SqliteStore::Open({dir_ / "xoal.db", 512, nullptr});
    if (!opened.ok()) Fail("open: " + opened.status().message());
    store_ = std::move(*opened);
    auto made = core::CreateProject(*store_, clock, "bench");
    if (!made.ok()) Fail("project: " + made.status().message());
    project_ = made->project;
  }
  // Closes the store and, unless kept, removes the temp dir.
  ~BenchStore() {
    store_->Close();
    store_.reset();
    if (!keep_) std::filesystem::remove_all(dir_);
  }
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;

  store::Store& store() { return *store_; }
  const store::Project& project() const { return project_; }

 private:
  const bool keep_;
  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
  store::Project project_;
};

// The stored form of an email channel sending as `from` to the plain-SMTP sink on 127.0.0.1.
inline json::object SinkEmailChannel(uint16_t sink_port, const std::string& from) {
  json::object body{{"from", from},
                    {"smtp", json::object{{"host", "127.0.0.1"},
                                          {"port", static_cast<int64_t>(sink_port)},
                                          {"tls", "none"}}}};
  auto stored = messaging::ValidateChannelConfig(messaging::Channel::kEmail, body, std::nullopt);
  if (!stored.ok()) Fail("config: " + stored.status().message());
  return *stored;
}

}  // namespace xoal::bench
