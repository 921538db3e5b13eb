// API keys: their format, their creation, and the in-memory cache that authenticates requests
// without a store round trip.
//
// A key is "ing_" or "sk_" followed by 32 characters of [a-z0-9]. Only its SHA-256 is stored: the
// keys carry 165 bits of randomness, so a plain hash cannot be reversed by guessing. The cache maps
// hashes to keys; after the map lookup the hashes are compared again in constant time.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"
#include "store/store.hpp"

namespace xoal::core {

struct NewKey {
  store::ApiKey record;
  std::string plaintext;  // shown once, never stored
};

// A fresh key of `type` for the project. Does not store it.
NewKey MakeKey(std::string_view project_id, store::KeyType type, std::string name, SystemTime now);

// True when `text` has the shape of a key of either type.
bool LooksLikeKey(std::string_view text);

std::string_view KeyTypeName(store::KeyType type);
std::optional<store::KeyType> ParseKeyType(std::string_view name);

json::object KeyToJson(const store::ApiKey& key);

struct AuthedKey {
  std::string key_id;
  std::string project_id;
  store::KeyType type;
};

// Thread-safe.
class KeyCache {
 public:
  KeyCache(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Replaces the cache with what the store holds. Also picks up keys made or revoked by another
  // process (the CLI), so `serve` calls it periodically.
  Status Reload();

  // The live key `plaintext` names, or nullopt. A miss on a well-formed key reloads the cache
  // at most once per second, so keys made by the CLI work at once.
  std::optional<AuthedKey> Authenticate(std::string_view plaintext);

  void Put(const store::ApiKey& key);
  void Remove(std::string_view key_id);

  // Writes the last-used times gathered since the previous flush.
  Status FlushLastUsed();

 private:
  struct Entry {
    store::ApiKey key;
    std::optional<SystemTime> used_at;  // not yet written to the store
  };

  store::Store& store_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> by_hash_;  // guarded by mu_
  SteadyTime last_miss_reload_{};                   // guarded by mu_
};

}  // namespace xoal::core
