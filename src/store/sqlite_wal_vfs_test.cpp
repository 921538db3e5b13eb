// The buffered-WAL VFS against plain SQLite: what one connection writes through it, with a page
// cache small enough that SQLite spills pages to the WAL in the middle of a transaction and
// rewrites them at commit, reads back the same through a connection on the default VFS.
#include "store/sqlite_wal_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace xoal::store {
namespace {

namespace fs = std::filesystem;

class Db {
 public:
  Db(const fs::path& path, const char* vfs) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK);
  }
  ~Db() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  std::string One(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) {
      auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      out = p ? p : "";
    }
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(BufferedWalVfsTest, SpilledAndRewrittenFramesReadBackThroughTheDefaultVfs) {
  const char* vfs = BufferedWalVfs();
  ASSERT_NE(vfs, nullptr);
  fs::path dir = fs::temp_directory_path() / ("xoal_wal_vfs_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::path path = dir / "t.db";
  {
    Db writer(path, vfs);
    writer.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=20;");
    writer.Exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    Db reader(path, nullptr);
    for (int round = 0; round < 3; ++round) {
      // Each transaction touches far more pages than the cache holds, and every row twice.
      writer.Exec("BEGIN");
      for (int pass = 0; pass < 2; ++pass) {
        writer.Exec(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) "
            "INSERT OR REPLACE INTO t(k, v) SELECT n, printf('%d-%d-%d-%.*c', n, " +
            std::to_string(round) + ", " + std::to_string(pass) + ", 900, 'x') FROM s");
      }
      // The reader still sees the last commit, not this transaction's spilled frames.
      std::string before = round == 0 ? "0" : "2000";
      EXPECT_EQ(reader.One("SELECT count(*) FROM t"), before);
      writer.Exec("COMMIT");
      EXPECT_EQ(reader.One("SELECT count(*) FROM t"), "2000");
      EXPECT_EQ(
          reader.One("SELECT count(*) FROM t WHERE v LIKE '%-" + std::to_string(round) + "-1-%'"),
          "2000");
      EXPECT_EQ(writer.One("SELECT v FROM t WHERE k = 1777").substr(0, 10),
                "1777-" + std::to_string(round) + "-1-x");
    }
    EXPECT_EQ(reader.One("PRAGMA integrity_check"), "ok");
  }
  // Reopened on the default VFS after a clean close, and once more with the WAL recovered.
  Db again(path, nullptr);
  EXPECT_EQ(again.One("SELECT count(*) FROM t WHERE v LIKE '%-2-1-%'"), "2000");
  EXPECT_EQ(again.One("PRAGMA integrity_check"), "ok");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xoal::store
