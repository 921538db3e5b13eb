#include "store/sqlite_wal_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace xoal::store {
namespace {

constexpr const char* kVfsName = "xoal-buffered-wal";
// A commit of a 100-message ingest request writes 1 to 4 MiB of frames.
constexpr sqlite3_int64 kBufferBytes = 4 << 20;
// The default VFS writes at most 128 KiB - 1 in one call (os_unix.c masks the length to 17
// bits), so the buffer goes out in pieces of 64 KiB.
constexpr sqlite3_int64 kChunkBytes = 64 << 10;

sqlite3_vfs* Real(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

// A WAL file: the default VFS's file, placed right after this struct in the memory SQLite gives
// xOpen, and the bytes written to it but not yet passed on (`pending` bytes at `start`).
struct WalFile {
  sqlite3_file base;
  sqlite3_file* real;
  char* buffer;  // kBufferBytes, allocated at the first write
  sqlite3_int64 start;
  sqlite3_int64 pending;
};

WalFile* Wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }
sqlite3_file* RealFile(sqlite3_file* f) { return Wal(f)->real; }

int Flush(WalFile* w) {
  int rc = SQLITE_OK;
  for (sqlite3_int64 done = 0; done < w->pending && rc == SQLITE_OK; done += kChunkBytes) {
    auto n = static_cast<int>(std::min(kChunkBytes, w->pending - done));
    rc = w->real->pMethods->xWrite(w->real, w->buffer + done, n, w->start + done);
  }
  w->pending = 0;
  return rc;
}

int Close(sqlite3_file* f) {
  WalFile* w = Wal(f);
  int rc = Flush(w);
  int closed = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
  delete[] w->buffer;
  w->buffer = nullptr;
  return rc != SQLITE_OK ? rc : closed;
}

int Read(sqlite3_file* f, void* out, int n, sqlite3_int64 offset) {
  if (int rc = Flush(Wal(f)); rc != SQLITE_OK) return rc;
  return RealFile(f)->pMethods->xRead(RealFile(f), out, n, offset);
}

int Write(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
  WalFile* w = Wal(f);
  const sqlite3_int64 end = w->start + w->pending;
  if (w->pending > 0 && offset == end && w->pending + n <= kBufferBytes) {
    std::memcpy(w->buffer + w->pending, data, n);  // the next frame, as nearly always
    w->pending += n;
    return SQLITE_OK;
  }
  if (w->pending > 0 && offset >= w->start && offset + n <= end) {
    std::memcpy(w->buffer + (offset - w->start), data, n);  // a frame of this commit rewritten
    return SQLITE_OK;
  }
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  if (n >= kBufferBytes) return w->real->pMethods->xWrite(w->real, data, n, offset);
  if (!w->buffer) w->buffer = new (std::nothrow) char[kBufferBytes];
  if (!w->buffer) return w->real->pMethods->xWrite(w->real, data, n, offset);
  std::memcpy(w->buffer, data, n);
  w->start = offset;
  w->pending = n;
  return SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = Flush(Wal(f)); rc != SQLITE_OK) return rc;
  return RealFile(f)->pMethods->xTruncate(RealFile(f), size);
}

int Sync(sqlite3_file* f, int flags) {
  if (int rc = Flush(Wal(f)); rc != SQLITE_OK) return rc;
  return RealFile(f)->pMethods->xSync(RealFile(f), flags);
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = Flush(Wal(f)); rc != SQLITE_OK) return rc;
  return RealFile(f)->pMethods->xFileSize(RealFile(f), size);
}

int Lock(sqlite3_file* f, int level) { return RealFile(f)->pMethods->xLock(RealFile(f), level); }
int Unlock(sqlite3_file* f, int level) {
  return RealFile(f)->pMethods->xUnlock(RealFile(f), level);
}
int CheckReservedLock(sqlite3_file* f, int* out) {
  return RealFile(f)->pMethods->xCheckReservedLock(RealFile(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  if (int rc = Flush(Wal(f)); rc != SQLITE_OK) return rc;
  return RealFile(f)->pMethods->xFileControl(RealFile(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return RealFile(f)->pMethods->xSectorSize(RealFile(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return RealFile(f)->pMethods->xDeviceCharacteristics(RealFile(f));
}
// SQLite maps no shared memory and no pages of a WAL file; these only pass the calls on.
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return RealFile(f)->pMethods->xShmMap(RealFile(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return RealFile(f)->pMethods->xShmLock(RealFile(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { RealFile(f)->pMethods->xShmBarrier(RealFile(f)); }
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  return RealFile(f)->pMethods->xShmUnmap(RealFile(f), delete_flag);
}
int Fetch(sqlite3_file*, sqlite3_int64, int, void** out) {
  *out = nullptr;  // "no mapping": SQLite reads instead
  return SQLITE_OK;
}
int Unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods kWalMethods = {3,
                                        Close,
                                        Read,
                                        Write,
                                        Truncate,
                                        Sync,
                                        FileSize,
                                        Lock,
                                        Unlock,
                                        CheckReservedLock,
                                        FileControl,
                                        SectorSize,
                                        DeviceCharacteristics,
                                        ShmMap,
                                        ShmLock,
                                        ShmBarrier,
                                        ShmUnmap,
                                        Fetch,
                                        Unfetch};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  sqlite3_vfs* real = Real(vfs);
  if (!(flags & SQLITE_OPEN_WAL)) return real->xOpen(real, name, f, flags, out_flags);
  WalFile* w = Wal(f);
  w->base.pMethods = nullptr;
  w->real = reinterpret_cast<sqlite3_file*>(w + 1);
  w->buffer = nullptr;
  w->start = 0;
  w->pending = 0;
  int rc = real->xOpen(real, name, w->real, flags, out_flags);
  if (rc == SQLITE_OK) {
    w->base.pMethods = &kWalMethods;
  } else if (w->real->pMethods) {
    w->real->pMethods->xClose(w->real);  // SQLite closes only what xOpen left pMethods set on
  }
  return rc;
}

int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Real(vfs)->xDelete(Real(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Real(vfs)->xAccess(Real(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Real(vfs)->xFullPathname(Real(vfs), name, n, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) { return Real(vfs)->xDlOpen(Real(vfs), name); }
void DlError(sqlite3_vfs* vfs, int n, char* out) { Real(vfs)->xDlError(Real(vfs), n, out); }
void (*DlSym(sqlite3_vfs* vfs, void* lib, const char* sym))(void) {
  return Real(vfs)->xDlSym(Real(vfs), lib, sym);
}
void DlClose(sqlite3_vfs* vfs, void* lib) { Real(vfs)->xDlClose(Real(vfs), lib); }
int Randomness(sqlite3_vfs* vfs, int n, char* out) {
  return Real(vfs)->xRandomness(Real(vfs), n, out);
}
int Sleep(sqlite3_vfs* vfs, int micros) { return Real(vfs)->xSleep(Real(vfs), micros); }
int CurrentTime(sqlite3_vfs* vfs, double* out) { return Real(vfs)->xCurrentTime(Real(vfs), out); }
int GetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Real(vfs)->xGetLastError(Real(vfs), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Real(vfs)->xCurrentTimeInt64(Real(vfs), out);
}

const char* Register() {
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  if (!real || real->iVersion < 2) return nullptr;
  static sqlite3_vfs vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + real->szOsFile;
  vfs.mxPathname = real->mxPathname;
  vfs.zName = kVfsName;
  vfs.pAppData = real;
  vfs.xOpen = Open;
  vfs.xDelete = Delete;
  vfs.xAccess = Access;
  vfs.xFullPathname = FullPathname;
  vfs.xDlOpen = DlOpen;
  vfs.xDlError = DlError;
  vfs.xDlSym = DlSym;
  vfs.xDlClose = DlClose;
  vfs.xRandomness = Randomness;
  vfs.xSleep = Sleep;
  vfs.xCurrentTime = CurrentTime;
  vfs.xGetLastError = GetLastError;
  vfs.xCurrentTimeInt64 = CurrentTimeInt64;
  return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK ? kVfsName : nullptr;
}

}  // namespace

const char* BufferedWalVfs() {
  static const char* const name = Register();
  return name;
}

}  // namespace xoal::store
