#include "core/projects.hpp"

#include <algorithm>

#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "core/keys.hpp"

namespace xoal::core {
namespace {

constexpr std::string_view kSources[] = {"segment", "rudderstack", "jitsu", "hightouch", "api"};

json::object DefaultSettings() {
  return json::object{{"timezone", "UTC"},
                      {"users_timezone", false},
                      {"languages", json::array{"English"}},
                      {"default_language", "English"},
                      {"sources", json::object{}},
                      {"ingest_rate_limit", nullptr}};
}

// null (no limit) or {"requests_per_second": R > 0, "burst": B >= 1 (default R)}.
Status ValidateRateLimit(const json::value& v) {
  if (v.is_null()) return Status::Ok();
  const std::string field = "ingest_rate_limit";
  if (!v.is_object()) return Status::InvalidArgument(field + " must be an object or null", field);
  for (const auto& [k, x] : v.get_object()) {
    if ((k != "requests_per_second" && k != "burst") || !x.is_number() ||
        x.to_number<double>() <= 0 || (k == "burst" && x.to_number<double>() < 1)) {
      return Status::InvalidArgument(
          "ingest_rate_limit takes requests_per_second > 0 and burst >= 1",
          field + "." + std::string(k));
    }
  }
  if (!v.get_object().contains("requests_per_second")) {
    return Status::InvalidArgument("ingest_rate_limit needs requests_per_second",
                                   field + ".requests_per_second");
  }
  return Status::Ok();
}

Status ValidateName(const json::value& v) {
  if (!v.is_string() || v.get_string().empty() || v.get_string().size() > 200) {
    return Status::InvalidArgument("name must be a string of 1 to 200 characters", "name");
  }
  return Status::Ok();
}

Status ApplySources(json::object& settings, const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("sources must be an object", "sources");
  json::object& sources = settings["sources"].is_object() ? settings["sources"].as_object()
                                                          : settings["sources"].emplace_object();
  for (const auto& [name, cfg] : v.as_object()) {
    std::string field = "sources." + std::string(name);
    if (std::find(std::begin(kSources), std::end(kSources), name) == std::end(kSources)) {
      return Status::InvalidArgument("unknown source " + std::string(name), field);
    }
    if (!cfg.is_object()) return Status::InvalidArgument(field + " must be an object", field);
    auto secret = cfg.as_object().find("secret");
    if (secret == cfg.as_object().end()) continue;
    if (secret->value().is_null()) {
      sources.erase(name);
    } else if (secret->value().is_string() && !secret->value().get_string().empty()) {
      sources[name] = json::object{{"secret", secret->value()}};
    } else {
      return Status::InvalidArgument("a source secret is a non-empty string or null",
                                     field + ".secret");
    }
  }
  return Status::Ok();
}

Status ApplyLanguages(json::object& settings, const json::object& patch) {
  if (auto it = patch.find("languages"); it != patch.end()) {
    const auto& v = it->value();
    if (!v.is_array() || v.as_array().empty()) {
      return Status::InvalidArgument("languages must be a non-empty list of names", "languages");
    }
    for (size_t i = 0; i < v.as_array().size(); ++i) {
      const auto& l = v.as_array()[i];
      bool repeated = std::find(v.as_array().begin(), v.as_array().begin() + i, l) !=
                      v.as_array().begin() + i;
      if (repeated) {
        return Status::InvalidArgument("languages lists " + json::serialize(l) + " twice",
                                       "languages");
      }
      if (!l.is_string() || l.get_string().empty()) {
        return Status::InvalidArgument("languages must be a non-empty list of names", "languages");
      }
    }
    settings["languages"] = v;
  }
  if (auto it = patch.find("default_language"); it != patch.end()) {
    if (!it->value().is_string()) {
      return Status::InvalidArgument("default_language must be a string", "default_language");
    }
    settings["default_language"] = it->value();
  }
  const auto& langs = settings["languages"].as_array();
  if (std::find(langs.begin(), langs.end(), settings["default_language"]) == langs.end()) {
    return Status::InvalidArgument("default_language must be one of languages", "default_language");
  }
  return Status::Ok();
}

}  // namespace

Result<CreatedProject> CreateProject(store::Store& store, const Clock& clock, std::string name,
                                     std::vector<store::ApiKey>* keys_out) {
  XOAL_RETURN_IF_ERROR(ValidateName(json::value(name)));
  SystemTime now = clock.SystemNow();
  store::Project p{"prj_" + RandomAlnum(16), std::move(name), DefaultSettings(), now};
  NewKey ing = MakeKey(p.id, store::KeyType::kIngestion, "default ingestion key", now);
  NewKey mgmt = MakeKey(p.id, store::KeyType::kManagement, "default management key", now);
  XOAL_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) {
    XOAL_RETURN_IF_ERROR(txn.InsertProject(p));
    XOAL_RETURN_IF_ERROR(txn.InsertKey(ing.record));
    return txn.InsertKey(mgmt.record);
  }));
  if (keys_out) {
    keys_out->push_back(ing.record);
    keys_out->push_back(mgmt.record);
  }
  return CreatedProject{std::move(p), std::move(ing.plaintext), std::move(mgmt.plaintext)};
}

json::object ProjectToJson(const store::Project& p) {
  json::object out{{"id", p.id}, {"name", p.name}, {"created_at", FormatIsoTime(p.created_at)}};
  json::object settings = DefaultSettings();
  for (const auto& [k, v] : p.settings) settings[k] = v;
  json::object sources;
  for (std::string_view s : kSources) {
    sources[s] = json::object{{"secret_set", !ProjectSourceSecret(p, s).empty()}};
  }
  settings["sources"] = std::move(sources);
  for (auto& [k, v] : settings) out[k] = std::move(v);
  return out;
}

Result<store::Project> ApplyProjectPatch(store::Project p, const json::object& patch) {
  json::object settings = DefaultSettings();
  for (const auto& [k, v] : p.settings) settings[k] = v;
  for (const auto& [key, v] : patch) {
    if (key == "name") {
      XOAL_RETURN_IF_ERROR(ValidateName(v));
      p.name = std::string(v.get_string());
    } else if (key == "timezone") {
      if (!v.is_string() || !IsValidTimeZone(v.get_string())) {
        return Status::InvalidArgument("timezone must be an IANA time zone name", "timezone");
      }
      settings["timezone"] = v;
    } else if (key == "users_timezone") {
      if (!v.is_bool()) return Status::InvalidArgument("users_timezone must be a boolean", key);
      settings["users_timezone"] = v;
    } else if (key == "ingest_rate_limit") {
      XOAL_RETURN_IF_ERROR(ValidateRateLimit(v));
      settings["ingest_rate_limit"] = v;
    } else if (key == "sources") {
      XOAL_RETURN_IF_ERROR(ApplySources(settings, v));
    } else if (key != "languages" && key != "default_language") {
      return Status::InvalidArgument("unknown or read-only setting " + std::string(key),
                                     std::string(key));
    }
  }
  XOAL_RETURN_IF_ERROR(ApplyLanguages(settings, patch));
  p.settings = std::move(settings);
  return p;
}

std::vector<std::string> ProjectLanguages(const store::Project& p) {
  std::vector<std::string> out;
  auto it = p.settings.find("languages");
  if (it == p.settings.end() || !it->value().is_array()) return {"English"};
  for (const auto& l : it->value().as_array()) {
    if (l.is_string()) out.emplace_back(l.get_string());
  }
  return out;
}

std::string ProjectSourceSecret(const store::Project& p, std::string_view source) {
  auto sources = p.settings.find("sources");
  if (sources == p.settings.end() || !sources->value().is_object()) return {};
  auto src = sources->value().as_object().find(source);
  if (src == sources->value().as_object().end() || !src->value().is_object()) return {};
  auto secret = src->value().as_object().find("secret");
  if (secret == src->value().as_object().end() || !secret->value().is_string()) return {};
  return std::string(secret->value().get_string());
}

}  // namespace xoal::core
