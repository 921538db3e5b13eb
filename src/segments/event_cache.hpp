// EventCache: the events of recently evaluated customers, kept by the segment engine so that a
// customer's next evaluation does not read them from the store again. Internal to the engine.
//
// It holds what the writer's transaction holds, not only what is committed: the engine adds each
// event a write inserts before it evaluates that write (Add), and drops what a write that fails
// after touching it may have changed (Forget, Clear). Only the engine's writer-side upkeep uses
// it, one write at a time; the mutex covers Clear() from a thread whose write failed.
//
// Requires: a customer's events change only through writes the engine tracks (inserted events
// are added; a merge or a deletion is forgotten by the caller).
#pragma once
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store.hpp"

namespace xoal::segments::internal {

// Which of a customer's events an evaluation reads: those with these names (sorted), no older
// than `since` (none: of any age).
struct EventQuery {
  std::vector<std::string> names;  // none: no event is read
  std::optional<SystemTime> since;
};

class EventCache {
 public:
  // Keeps at most about `max_events` events in all, dropping the least recently used customers.
  explicit EventCache(size_t max_events) : max_events_(max_events) {}

  std::mutex& mu() { return mu_; }

  // The events of `usid` that `q` asks for, and maybe older ones or ones of other names (which
  // evaluation skips), in ascending seq order; nullptr when the cache cannot answer `q`.
  // Requires: mu() held, for this call and as long as the result is used.
  const std::vector<store::Event>* Find(const std::string& project_id, const std::string& usid,
                                        const EventQuery& q);
  // `q` widened to answer also what the entry of `usid` answers now (names of both, the older
  // since): loading that keeps one entry for every query of the customer's segments.
  // Requires: mu() held.
  EventQuery Widen(const std::string& project_id, const std::string& usid,
                   const EventQuery& q) const;
  // Keeps `newest_first`, the store's answer to `q` (read in the writer's transaction), taking
  // its events, and returns them as Find() would; nullptr, leaving `newest_first` as it was, when
  // they are too many to keep. Requires: mu() held.
  const std::vector<store::Event>* Put(const std::string& project_id, const std::string& usid,
                                       const EventQuery& q,
                                       std::vector<store::Event>& newest_first);
  // Adds an event the writer's transaction just inserted to its customer's entry, if any.
  // Requires: mu() held.
  void Add(const store::Event& e);
  // Requires: mu() held.
  void Forget(const std::string& project_id, const std::string& usid);
  void Clear();

  // A customer whose entry would hold more events than this is not kept.
  static constexpr size_t kMaxPerCustomer = 10000;

 private:
  struct Entry {
    std::vector<std::string> names;
    std::optional<SystemTime> since;
    std::vector<store::Event> events;  // ascending seq; only name, seq, timestamp, properties
    std::list<std::string>::iterator recent;  // its place in recent_
  };
  static std::string Key(const std::string& project_id, const std::string& usid);
  void Erase(std::unordered_map<std::string, Entry>::iterator it);
  void Touch(Entry& entry);
  void Evict();

  std::mutex mu_;
  const size_t max_events_;
  size_t held_ = 0;  // events in all entries
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // keys, most recently used first
};

}  // namespace xoal::segments::internal
