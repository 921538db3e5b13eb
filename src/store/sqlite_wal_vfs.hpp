// A SQLite VFS that gathers the writes of a commit to the WAL file into few large ones.
//
// SQLite writes each WAL frame with two pwrite calls (its 24-byte header, then the page), so a
// commit of 700 pages makes 1,400 system calls; on the ingest benchmark they were about a tenth of
// the writer thread. This VFS wraps the default one and, for WAL files only, keeps consecutive
// writes in a buffer written out in one call when SQLite syncs, reads, truncates, asks the size
// of or closes the file, or writes elsewhere in it. Other files are the default VFS's own.
//
// Correct only where every commit syncs the WAL before it is published to other connections:
// synchronous=FULL, as SqliteStore's writer uses (with synchronous=NORMAL a commit is published
// without a sync, and other connections would not see frames still in the buffer).
#pragma once

namespace xoal::store {

// The VFS's name for sqlite3_open_v2, registered on the first call; nullptr when it could not be
// registered (then the default VFS is used).
const char* BufferedWalVfs();

}  // namespace xoal::store
