// Xoal's Liquid template engine: message content (email, SMS, push, webhook bodies) is written in
// Liquid over the render data (`customer.*`, `event.*`, ...), see SPEC.md "Messages and channels".
//
// Two steps. Parse() compiles a source into an immutable Template; Render() runs a Template over a
// JSON value. Rendering is a pure function of (template, data, options): it reads no clock, file or
// global state, so the same inputs always give the same output. A Template is immutable and may be
// rendered from any number of threads at once. TemplateCache memoizes Parse() and is thread-safe.
//
// Semantics follow "standard" Liquid, with Shopify/liquid as the reference (checked against the
// golden-liquid suite and, differentially, against liquidjs). `include` and `render` are not
// supported: Xoal has no file system of templates, so they fail to parse with a message saying
// so. Where Liquid leaves output undefined, an object renders as its JSON text. See README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"

namespace xoal::liquid {

namespace detail {
struct Document;
}  // namespace detail

// A compiled template, made by Parse() (the constructor is for the module itself). Immutable;
// share it freely between threads.
class Template {
 public:
  explicit Template(std::unique_ptr<const detail::Document> doc);
  ~Template();
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  const detail::Document& doc() const { return *doc_; }

 private:
  std::unique_ptr<const detail::Document> doc_;
};

// Compiles `source`. Syntax is always checked strictly (Shopify "strict" parsing): malformed
// tags, unknown tags, unclosed blocks and bad expressions are errors.
// Errors: kInvalidArgument with a message starting "line L, column C: " (both 1-based, columns in
// bytes) pointing at the offending tag or token.
Result<std::shared_ptr<const Template>> Parse(std::string_view source);

struct RenderOptions {
  // Strict: an undefined variable or an unknown filter is an error naming it with its line and
  // column; a variable directly followed by `| default: ...` may still be undefined. Lax (the
  // default): an undefined variable is nil (renders as nothing), and an expression using an
  // unknown filter renders as nothing.
  bool strict_variables = false;
  bool strict_filters = false;

  // The instant that `"now"` and `"today"` mean for the `date` filter. Unset: using them is an
  // error, so a caller that forgot to inject time gets a clear failure instead of a silent epoch.
  std::optional<SystemTime> now;

  // Guards against runaway templates. Exceeding one is kInvalidArgument ("output too large",
  // "too many loop iterations", "nesting too deep", "too much filter work").
  size_t max_output_bytes = 4 * 1024 * 1024;
  uint64_t max_loop_iterations = 1'000'000;  // summed over every loop of one render
  size_t max_depth = 100;                    // nested blocks and captures
  // Bytes of strings plus items of arrays that filters produce, summed over the render: bounds
  // the CPU a template can burn without output (a loop re-filtering a large value).
  uint64_t max_filter_work = 256ull * 1024 * 1024;
};

// Renders `tmpl` over `data` (normally an object: its members are the top-level variables; any
// other value gives an empty top level). Errors: kInvalidArgument with "line L, column C: ..." for
// filter argument errors (wrong count or type, division by zero), comparisons of incompatible
// types, strict-mode failures and exceeded limits.
Result<std::string> Render(const Template& tmpl, const json::value& data,
                           const RenderOptions& options = {});

// A bounded, thread-safe cache of compiled templates keyed by source text. Each distinct source is
// compiled once while it stays cached; the least recently used entry is evicted beyond `capacity`.
// Parse errors are not cached (they are cheap to reproduce and keep the cache for good sources).
class TemplateCache {
 public:
  explicit TemplateCache(size_t capacity);

  // Returns the compiled template for `source`, compiling it on a miss. Errors as Parse().
  Result<std::shared_ptr<const Template>> Get(std::string_view source);

  size_t size() const;

 private:
  using Lru = std::list<std::pair<std::string, std::shared_ptr<const Template>>>;

  const size_t capacity_;
  mutable std::mutex mutex_;
  Lru lru_;                                                    // guarded by mutex_; front = newest
  std::unordered_map<std::string_view, Lru::iterator> index_;  // guarded by mutex_; keys in lru_
};

}  // namespace xoal::liquid
