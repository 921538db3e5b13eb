#include "core/projects.hpp"

#include <algorithm>

#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "common/url.hpp"
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
                      {"ingest_rate_limit", nullptr},
                      {"frequency_cap", nullptr},
                      {"quiet_hours", nullptr},
                      {"tracking", json::object{{"opens", false}, {"clicks", false}}},
                      {"public_base_url", nullptr}};
}

// "HH:MM" (00:00 to 23:59) as minutes after midnight.
std::optional<int> ParseClockTime(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

// null or {"per_day": N >= 1}.
Status ValidateFrequencyCap(const json::value& v) {
  if (v.is_null()) return Status::Ok();
  const auto* o = v.if_object();
  const json::value* n = o ? o->if_contains("per_day") : nullptr;
  if (!o || o->size() != 1 || !n || !n->is_int64() || n->get_int64() < 1 ||
      n->get_int64() > 10000) {
    return Status::InvalidArgument(
        "frequency_cap is null or {\"per_day\": N} with N from 1 to 10000", "frequency_cap");
  }
  return Status::Ok();
}

// null or {"start": "HH:MM", "end": "HH:MM", "mode": "hold"|"skip"}.
Status ValidateQuietHours(const json::value& v) {
  if (v.is_null()) return Status::Ok();
  const std::string field = "quiet_hours";
  if (!v.is_object()) return Status::InvalidArgument(field + " must be an object or null", field);
  for (const auto& [k, x] : v.get_object()) {
    std::string f = field + "." + std::string(k);
    if (k == "start" || k == "end") {
      if (!x.is_string() || !ParseClockTime(x.get_string())) {
        return Status::InvalidArgument(f + " must be a time \"HH:MM\"", f);
      }
    } else if (k == "mode") {
      if (x != json::value("hold") && x != json::value("skip")) {
        return Status::InvalidArgument(f + " must be \"hold\" or \"skip\"", f);
      }
    } else {
      return Status::InvalidArgument("quiet_hours takes start, end and mode", f);
    }
  }
  for (const char* k : {"start", "end"}) {
    if (!v.get_object().contains(k)) {
      return Status::InvalidArgument("quiet_hours needs start and end", field + "." + k);
    }
  }
  if (v.get_object().at("start") == v.get_object().at("end")) {
    return Status::InvalidArgument("quiet_hours start and end must differ", field + ".end");
  }
  return Status::Ok();
}

// {"opens": bool, "clicks": bool}; members not given keep their value.
Status ApplyTracking(json::object& settings, const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("tracking must be an object", "tracking");
  json::object tracking =
      settings["tracking"].is_object() ? settings["tracking"].as_object() : json::object{};
  for (const auto& [k, x] : v.get_object()) {
    if ((k != "opens" && k != "clicks") || !x.is_bool()) {
      return Status::InvalidArgument("tracking takes opens and clicks, booleans",
                                     "tracking." + std::string(k));
    }
    tracking[k] = x;
  }
  settings["tracking"] = std::move(tracking);
  return Status::Ok();
}

Status ValidateBaseUrl(const json::value& v) {
  if (v.is_null()) return Status::Ok();
  if (!v.is_string() || v.get_string().size() > 500) {
    return Status::InvalidArgument("public_base_url must be an http(s) URL or null",
                                   "public_base_url");
  }
  // Links are this URL plus "/unsubscribe/{token}": it needs a host and no query or fragment.
  return CheckHttpBaseUrl(std::string_view(v.get_string()), "public_base_url");
}

bool SettingBool(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_bool() && v->get_bool();
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
      bool repeated =
          std::find(v.as_array().begin(), v.as_array().begin() + i, l) != v.as_array().begin() + i;
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
  p.settings["link_secret"] = RandomAlnum(40);
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
  settings.erase("link_secret");
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
    } else if (key == "frequency_cap") {
      XOAL_RETURN_IF_ERROR(ValidateFrequencyCap(v));
      settings["frequency_cap"] = v;
    } else if (key == "quiet_hours") {
      XOAL_RETURN_IF_ERROR(ValidateQuietHours(v));
      settings["quiet_hours"] = v;
      // Stored with its default so reads say what the outbox does (hold), not leave it unsaid.
      if (v.is_object() && !v.get_object().contains("mode")) {
        settings["quiet_hours"].as_object()["mode"] = "hold";
      }
    } else if (key == "tracking") {
      XOAL_RETURN_IF_ERROR(ApplyTracking(settings, v));
    } else if (key == "public_base_url") {
      XOAL_RETURN_IF_ERROR(ValidateBaseUrl(v));
      settings["public_base_url"] = v;
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

MessagingSettings ProjectMessagingSettings(const store::Project& p) {
  const json::object& s = p.settings;
  MessagingSettings out;
  if (const auto* cap = s.if_contains("frequency_cap"); cap && cap->is_object()) {
    if (const auto* n = cap->get_object().if_contains("per_day"); n && n->is_int64()) {
      out.per_day = static_cast<int>(n->get_int64());
    }
  }
  if (const auto* q = s.if_contains("quiet_hours"); q && q->is_object()) {
    const auto& o = q->get_object();
    const auto* start = o.if_contains("start");
    const auto* end = o.if_contains("end");
    auto a = start && start->is_string() ? ParseClockTime(start->get_string()) : std::nullopt;
    auto b = end && end->is_string() ? ParseClockTime(end->get_string()) : std::nullopt;
    const auto* mode = o.if_contains("mode");
    if (a && b) out.quiet_hours = QuietHours{*a, *b, !(mode && *mode == json::value("skip"))};
  }
  if (const auto* t = s.if_contains("tracking"); t && t->is_object()) {
    out.track_opens = SettingBool(t->get_object(), "opens");
    out.track_clicks = SettingBool(t->get_object(), "clicks");
  }
  if (const auto* u = s.if_contains("public_base_url"); u && u->is_string()) {
    out.public_base_url = std::string(u->get_string());
    while (out.public_base_url.ends_with('/')) out.public_base_url.pop_back();
  }
  if (const auto* k = s.if_contains("link_secret"); k && k->is_string()) {
    out.link_secret = std::string(k->get_string());
  }
  const auto* tz = s.if_contains("timezone");
  out.timezone = tz && tz->is_string() ? std::string(tz->get_string()) : "UTC";
  return out;
}

}  // namespace xoal::core
