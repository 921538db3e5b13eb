// The standard Liquid filters. Internal to src/liquid: the parser resolves filter names to
// FilterDefs once, the renderer checks argument counts and calls them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "liquid/liquid.hpp"
#include "liquid/value.hpp"

namespace xoal::liquid::detail {

struct FilterArgs {
  std::vector<Val> positional;
  std::vector<std::pair<std::string_view, Val>> keyword;

  // The keyword argument `name`, or nullptr.
  const Val* Keyword(std::string_view name) const {
    for (const auto& [k, v] : keyword) {
      if (k == name) {
        return &v;
      }
    }
    return nullptr;
  }
};

// What a filter may use besides its arguments. A filter that fails sets `error` (a message
// without position; the renderer adds it) and returns any value.
struct FilterEnv {
  const RenderOptions& options;
  std::string error;

  Val Fail(std::string message) {
    error = std::move(message);
    return Val();
  }
};

using FilterFn = Val (*)(FilterEnv& env, const Val& input, const FilterArgs& args);

struct FilterDef {
  std::string_view name;
  uint8_t min_args;
  uint8_t max_args;
  FilterFn fn;
};

// The filter called `name`, or nullptr when there is none.
const FilterDef* FindFilter(std::string_view name);

// The `date` filter's work, exposed for tests: formats `input` (epoch seconds, a date string,
// "now"/"today") with strftime `format`. Unparseable input is returned unchanged.
Val DateFilter(FilterEnv& env, const Val& input, const FilterArgs& args);

}  // namespace xoal::liquid::detail
