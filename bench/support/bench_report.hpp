// How the in-process benchmarks print figures and give up: a figure line flushed at once, seconds
// from a steady-clock duration, and one FAILED line naming the benchmark before exit(1) when a
// check fails. Header-only so no benchmark target gains a library.
#pragma once

#include <errno.h>
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.hpp"

namespace xoal::bench {

// Prints a figure line at once (stdout is block-buffered when redirected to a file).
template <typename... Args>
void Line(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(format, std::forward<Args>(args)...);
  std::fflush(stdout);
}

inline double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// "<program>: FAILED: <what>" on stderr, then exit(1): a benchmark whose check fails has no figure.
[[noreturn]] inline void Fail(const std::string& what) {
  fmt::print(stderr, "{}: FAILED: {}\n", program_invocation_short_name, what);
  std::exit(1);
}

inline void Check(const Status& st, std::string_view what) {
  if (!st.ok()) Fail(fmt::format("{}: {}", what, st.message()));
}

}  // namespace xoal::bench
