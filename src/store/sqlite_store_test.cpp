// SqliteStore's upkeep of its files: checkpoints run on their own thread while writes go on, and a
// write that changes many pages commits.
#include "store/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace xoal::store {
namespace {

namespace fs = std::filesystem;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("xoal_store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path db() const { return dir_ / "xoal.db"; }
  fs::path wal() const { return dir_ / "xoal.db-wal"; }

  // One write of `count` events of 3,000 bytes each: a 4 KiB page, so a WAL frame, per event.
  static Status WriteEvents(SqliteStore& store, int first, int count) {
    return store.Write([&](WriteTxn& txn) {
      for (int i = first; i < first + count; ++i) {
        Event e;
        e.project_id = "p";
        e.id = "m" + std::to_string(i);
        e.usid = "c" + std::to_string(i % 97);
        e.name = "viewed";
        e.type = "track";
        e.source = "api";
        e.timestamp = e.received_at = SystemTime{std::chrono::milliseconds(i)};
        e.properties["text"] = std::string(3000, static_cast<char>('a' + i % 26));
        XOAL_RETURN_IF_ERROR(txn.InsertEvent(e));
      }
      return Status::Ok();
    });
  }

  // The WAL-index header's mxFrame and its checkpoint info's nBackfill, read from the -shm file
  // (SQLite's documented WAL-index layout, native byte order): the WAL is fully checkpointed when
  // they are equal.
  std::pair<uint32_t, uint32_t> WalFrames() const {
    std::ifstream shm(dir_ / "xoal.db-shm", std::ios::binary);
    char header[100] = {};
    shm.read(header, sizeof header);
    uint32_t mx_frame = 0;
    uint32_t backfilled = 0;
    std::memcpy(&mx_frame, header + 16, 4);
    std::memcpy(&backfilled, header + 96, 4);
    return {mx_frame, backfilled};
  }

  static uintmax_t Size(const fs::path& p) {
    std::error_code ec;
    auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
  }

  fs::path dir_;
};

// Past 4,000 WAL frames a commit wakes the checkpointer thread, which copies the pages into the
// database file while the writer goes on; a write after a complete checkpoint reuses the WAL
// from its start. The writer checkpoints by itself only past 40,000 frames: a checkpointer that
// is not woken fails this at the first write.
TEST_F(SqliteStoreTest, TheWalIsCheckpointedOnItsOwnThreadAndReused) {
  auto opened = SqliteStore::Open({db()});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  SqliteStore& store = **opened;
  constexpr int kPerWrite = 4500;
  constexpr uintmax_t kBytesPerWrite = uintmax_t{kPerWrite} * 4096;
  int next = 0;
  uintmax_t largest_wal = 0;
  for (int w = 1; w <= 6; ++w, next += kPerWrite) {
    ASSERT_TRUE(WriteEvents(store, next, kPerWrite).ok());
    largest_wal = std::max(largest_wal, Size(wal()));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto frames = WalFrames();
    while (frames.first != frames.second && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      frames = WalFrames();
    }
    ASSERT_EQ(frames.second, frames.first) << "write " << w << ": the WAL was not checkpointed ("
                                           << frames.second << " of " << frames.first << " frames)";
  }
  EXPECT_LT(largest_wal, 2 * kBytesPerWrite) << "the WAL grew instead of being reused";

  // Every event is there after a reopen.
  store.Close();
  opened = SqliteStore::Open({db()});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  int found = 0;
  ASSERT_TRUE((*opened)
                  ->Read([&](ReadTxn& txn) {
                    for (int i = 0; i < next; i += 97) {
                      XOAL_ASSIGN_OR_RETURN(bool there,
                                            txn.EventExists("p", "m" + std::to_string(i)));
                      found += there;
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(found, (next + 96) / 97);
}

// One write whose statement journal passes 16 MiB (the spill size that once made SQLite write the
// journal to its temporary file in one over-long call, and fail): 6,000 customers of about 3 KB
// each, a page apiece, updated in one Write. It commits, and the store takes writes after.
TEST_F(SqliteStoreTest, AWriteWhoseStatementJournalOutgrowsMemoryCommits) {
  auto opened = SqliteStore::Open({db()});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  SqliteStore& store = **opened;
  constexpr int kCustomers = 6000;
  auto customer = [](int i, char fill) {
    Customer c;
    c.project_id = "p";
    c.usid = "c" + std::to_string(i);
    c.attributes["bio"] = std::string(3000, fill);
    c.created_at = c.updated_at = SystemTime{std::chrono::milliseconds(i)};
    c.added_via = "api";
    return c;
  };
  ASSERT_TRUE(store
                  .Write([&](WriteTxn& txn) {
                    for (int i = 0; i < kCustomers; ++i) {
                      Customer c = customer(i, 'a');
                      XOAL_RETURN_IF_ERROR(txn.InsertCustomer(c));
                    }
                    return Status::Ok();
                  })
                  .ok());
  Status updated = store.Write([&](WriteTxn& txn) {
    for (int i = 0; i < kCustomers; ++i) XOAL_RETURN_IF_ERROR(txn.UpdateCustomer(customer(i, 'b')));
    return Status::Ok();
  });
  ASSERT_TRUE(updated.ok()) << updated.message();
  int changed = 0;
  ASSERT_TRUE(store
                  .Read([&](ReadTxn& txn) {
                    for (int i = 0; i < kCustomers; i += 59) {
                      XOAL_ASSIGN_OR_RETURN(auto c, txn.FindCustomer("p", CustomerKey::kUsid,
                                                                     "c" + std::to_string(i)));
                      changed += c && c->attributes.at("bio").as_string().starts_with("bbb");
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(changed, (kCustomers + 58) / 59);
  EXPECT_TRUE(WriteEvents(store, 0, 10).ok());
}

}  // namespace
}  // namespace xoal::store
