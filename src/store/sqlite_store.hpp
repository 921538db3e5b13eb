// SqliteStore: the embedded default store, one SQLite database in WAL mode in the data directory.
//
// Writes go through one writer thread that commits many Write() calls in one transaction (group
// commit): each call runs inside its own SAVEPOINT, so a failing call rolls back alone, and every
// caller is answered only after the shared COMMIT has reached the disk (synchronous=FULL).
// Reads use a pool of read-only connections, each inside a transaction for a consistent snapshot.
// If a commit fails the on-disk state is unknown, so the store refuses all later writes until it
// is reopened. Thread-safe.
#pragma once

#include <filesystem>
#include <memory>

#include "http/metrics.hpp"
#include "store/store.hpp"

namespace xoal::store {

struct SqliteOptions {
  std::filesystem::path path;  // the database file
  size_t max_batch = 512;      // most Write() calls in one commit
  Metrics* metrics = nullptr;  // optional
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) and migrates the database to the newest schema version.
  static Result<std::unique_ptr<SqliteStore>> Open(SqliteOptions options);
  ~SqliteStore() override;

  Status Read(const std::function<Status(ReadTxn&)>& fn) override;
  Status Write(const std::function<Status(WriteTxn&)>& fn) override;
  void Close() override;

  class State;

 private:
  explicit SqliteStore(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace xoal::store
