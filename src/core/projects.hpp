// Projects (tenants) and their settings.
#pragma once

#include <string>

#include "common/clock.hpp"
#include "store/store.hpp"

namespace xoal::core {

struct CreatedProject {
  store::Project project;
  std::string ingestion_key;   // plaintext, shown once
  std::string management_key;  // plaintext, shown once
};

// Creates a project with default settings and one key of each type.
Result<CreatedProject> CreateProject(store::Store& store, const Clock& clock, std::string name,
                                     std::vector<store::ApiKey>* keys_out = nullptr);

// The project as the API shows it; source secrets are reported only as set or not.
json::object ProjectToJson(const store::Project& p);

// `p` with the PATCH body applied, or kInvalidArgument naming the bad field.
Result<store::Project> ApplyProjectPatch(store::Project p, const json::object& patch);

// Settings accessors with their defaults.
std::vector<std::string> ProjectLanguages(const store::Project& p);
std::string ProjectSourceSecret(const store::Project& p, std::string_view source);

// Quiet hours: no marketing message between `start` and `end` (minutes after local midnight;
// the window wraps past midnight when start > end). `hold` waits for the window to open,
// otherwise the message is skipped.
struct QuietHours {
  int start_minute = 0;
  int end_minute = 0;
  bool hold = true;
};

// The messaging settings of a project (docs/messaging.md, "Deliverability"), defaults applied.
struct MessagingSettings {
  std::optional<int> per_day;  // frequency cap: marketing messages per customer per local day
  std::optional<QuietHours> quiet_hours;
  bool track_opens = false;
  bool track_clicks = false;
  std::string public_base_url;  // where message links point; empty: the server's own address
  std::string link_secret;      // signs unsubscribe and tracking links; never shown
  std::string timezone;         // the project's default time zone
};
MessagingSettings ProjectMessagingSettings(const store::Project& p);

}  // namespace xoal::core
