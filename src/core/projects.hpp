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

}  // namespace xoal::core
