#include "core/keys.hpp"

#include <spdlog/spdlog.h>

#include "common/crypto.hpp"
#include "common/time_format.hpp"

namespace xoal::core {
namespace {

constexpr size_t kKeyRandomChars = 32;
constexpr size_t kPrefixRandomChars = 4;  // shown after "sk_" / "ing_"
constexpr std::chrono::seconds kMissReloadInterval{1};

bool IsAlnumLower(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

NewKey MakeKey(std::string_view project_id, store::KeyType type, std::string name,
               SystemTime now) {
  std::string plaintext =
      std::string(type == store::KeyType::kIngestion ? "ing_" : "sk_") + RandomAlnum(kKeyRandomChars);
  store::ApiKey rec;
  rec.id = "key_" + RandomAlnum(16);
  rec.project_id = std::string(project_id);
  rec.name = std::move(name);
  rec.type = type;
  rec.hash = Sha256Hex(plaintext);
  rec.prefix = plaintext.substr(0, plaintext.find('_') + 1 + kPrefixRandomChars);
  rec.created_at = now;
  return NewKey{std::move(rec), std::move(plaintext)};
}

bool LooksLikeKey(std::string_view text) {
  std::string_view rest;
  if (text.substr(0, 4) == "ing_") {
    rest = text.substr(4);
  } else if (text.substr(0, 3) == "sk_") {
    rest = text.substr(3);
  } else {
    return false;
  }
  return rest.size() == kKeyRandomChars && IsAlnumLower(rest);
}

std::string_view KeyTypeName(store::KeyType type) {
  return type == store::KeyType::kIngestion ? "ingestion" : "management";
}

std::optional<store::KeyType> ParseKeyType(std::string_view name) {
  if (name == "ingestion") return store::KeyType::kIngestion;
  if (name == "management") return store::KeyType::kManagement;
  return std::nullopt;
}

json::object KeyToJson(const store::ApiKey& k) {
  auto opt_time = [](const std::optional<SystemTime>& t) -> json::value {
    return t ? json::value(FormatIsoTime(*t)) : json::value(nullptr);
  };
  return json::object{{"id", k.id},
                      {"name", k.name},
                      {"type", KeyTypeName(k.type)},
                      {"prefix", k.prefix},
                      {"created_at", FormatIsoTime(k.created_at)},
                      {"last_used_at", opt_time(k.last_used_at)},
                      {"revoked_at", opt_time(k.revoked_at)}};
}

Status KeyCache::Reload() {
  std::vector<store::ApiKey> keys;
  XOAL_RETURN_IF_ERROR(store_.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(keys, txn.ListKeys(std::nullopt));
    return Status::Ok();
  }));
  std::lock_guard lock(mu_);
  std::unordered_map<std::string, Entry> fresh;
  for (auto& k : keys) {
    if (k.revoked_at) continue;
    auto old = by_hash_.find(k.hash);
    std::optional<SystemTime> used = old == by_hash_.end() ? std::nullopt : old->second.used_at;
    std::string hash = k.hash;
    fresh.emplace(std::move(hash), Entry{std::move(k), used});
  }
  by_hash_ = std::move(fresh);
  return Status::Ok();
}

std::optional<AuthedKey> KeyCache::Authenticate(std::string_view plaintext) {
  if (!LooksLikeKey(plaintext)) return std::nullopt;
  std::string hash = Sha256Hex(plaintext);
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard lock(mu_);
      auto it = by_hash_.find(hash);
      if (it != by_hash_.end() && ConstantTimeEquals(it->second.key.hash, hash)) {
        it->second.used_at = clock_.SystemNow();
        const auto& k = it->second.key;
        return AuthedKey{k.id, k.project_id, k.type};
      }
      SteadyTime now = clock_.SteadyNow();
      if (attempt > 0 || now - last_miss_reload_ < kMissReloadInterval) return std::nullopt;
      last_miss_reload_ = now;
    }
    if (Status st = Reload(); !st.ok()) return std::nullopt;
  }
  return std::nullopt;
}

void KeyCache::Put(const store::ApiKey& key) {
  std::lock_guard lock(mu_);
  by_hash_[key.hash] = Entry{key, std::nullopt};
}

void KeyCache::Remove(std::string_view key_id) {
  std::lock_guard lock(mu_);
  std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.key.id == key_id; });
}

Status KeyCache::FlushLastUsed() {
  std::vector<std::pair<std::string, SystemTime>> used;
  {
    std::lock_guard lock(mu_);
    for (auto& [hash, e] : by_hash_) {
      if (e.used_at) {
        used.emplace_back(e.key.id, *e.used_at);
        e.used_at.reset();
      }
    }
  }
  if (used.empty()) return Status::Ok();
  return store_.Write([&](store::WriteTxn& txn) {
    for (const auto& [id, at] : used) XOAL_RETURN_IF_ERROR(txn.TouchKey(id, at));
    return Status::Ok();
  });
}

}  // namespace xoal::core
