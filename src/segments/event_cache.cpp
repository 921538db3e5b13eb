#include "segments/event_cache.hpp"

#include <algorithm>
#include <iterator>

namespace xoal::segments::internal {
namespace {

// What evaluation reads of an event, as the store keeps it; the rest is dropped to keep entries
// small.
store::Event Slim(store::Event e) {
  store::Event out;
  out.seq = e.seq;
  out.name = std::move(e.name);
  // The store keeps milliseconds; an event the writer just inserted may carry a finer time (the
  // real clock's). Kept finer, a window would end later here than in the store, and the timer
  // set at the stored instant would find the same flip again for ever.
  out.timestamp = FromEpochMillis(ToEpochMillis(e.timestamp));
  out.properties = std::move(e.properties);
  return out;
}

}  // namespace

std::string EventCache::Key(const std::string& project_id, const std::string& usid) {
  std::string key = project_id;
  key += '\n';
  key += usid;
  return key;
}

const std::vector<store::Event>* EventCache::Find(const std::string& project_id,
                                                  const std::string& usid, const EventQuery& q) {
  auto it = entries_.find(Key(project_id, usid));
  if (it == entries_.end()) return nullptr;
  Entry& entry = it->second;
  if (!std::includes(entry.names.begin(), entry.names.end(), q.names.begin(), q.names.end())) {
    return nullptr;
  }
  // Older events than the entry holds would be needed.
  if (entry.since && (!q.since || *q.since < *entry.since)) return nullptr;
  Touch(entry);
  return &entry.events;
}

EventQuery EventCache::Widen(const std::string& project_id, const std::string& usid,
                             const EventQuery& q) const {
  auto it = entries_.find(Key(project_id, usid));
  if (it == entries_.end()) return q;
  const Entry& entry = it->second;
  EventQuery wide;
  std::set_union(entry.names.begin(), entry.names.end(), q.names.begin(), q.names.end(),
                 std::back_inserter(wide.names));
  if (entry.since && q.since) wide.since = std::min(*entry.since, *q.since);
  return wide;
}

const std::vector<store::Event>* EventCache::Put(const std::string& project_id,
                                                 const std::string& usid, const EventQuery& q,
                                                 std::vector<store::Event>& newest_first) {
  std::string key = Key(project_id, usid);
  if (auto it = entries_.find(key); it != entries_.end()) Erase(it);
  // The store returns at most kMaxPerCustomer: more may exist, which the entry could not answer
  // for.
  if (newest_first.size() >= kMaxPerCustomer || newest_first.size() > max_events_) return nullptr;
  Entry entry;
  entry.names = q.names;
  entry.since = q.since;
  entry.events.reserve(newest_first.size());
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    entry.events.push_back(Slim(std::move(*it)));
  }
  newest_first.clear();
  held_ += entry.events.size();
  recent_.push_front(key);
  entry.recent = recent_.begin();
  auto kept = entries_.emplace(std::move(key), std::move(entry)).first;
  Evict();  // spares the newest entry: it alone is within max_events_
  return &kept->second.events;
}

void EventCache::Add(const store::Event& e) {
  auto it = entries_.find(Key(e.project_id, e.usid));
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  // Read from the store after it was inserted: already there.
  if (!entry.events.empty() && entry.events.back().seq >= e.seq) return;
  if (!std::binary_search(entry.names.begin(), entry.names.end(), e.name)) return;
  if (entry.events.size() + 1 >= kMaxPerCustomer) {
    Erase(it);
    return;
  }
  entry.events.push_back(Slim(e));
  ++held_;
  Evict();
}

void EventCache::Forget(const std::string& project_id, const std::string& usid) {
  auto it = entries_.find(Key(project_id, usid));
  if (it != entries_.end()) Erase(it);
}

void EventCache::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
  recent_.clear();
  held_ = 0;
}

void EventCache::Erase(std::unordered_map<std::string, Entry>::iterator it) {
  held_ -= it->second.events.size();
  recent_.erase(it->second.recent);
  entries_.erase(it);
}

void EventCache::Touch(Entry& entry) { recent_.splice(recent_.begin(), recent_, entry.recent); }

void EventCache::Evict() {
  while (held_ > max_events_ && !recent_.empty()) {
    Erase(entries_.find(recent_.back()));
  }
}

}  // namespace xoal::segments::internal
