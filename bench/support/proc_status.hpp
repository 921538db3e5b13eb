// Memory figures of the running benchmark process, read from /proc/self/status (Linux). Shared by
// the in-process benchmarks; header-only so no benchmark target gains a library.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

namespace xoal::bench {

// The value in kB of a /proc/self/status line such as "VmRSS" or "VmHWM"; -1 when absent.
inline int64_t ProcStatusKb(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::atoll(line.c_str() + key.size() + 1);
    }
  }
  return -1;
}

inline double Mib(int64_t kb) { return static_cast<double>(kb) / 1024.0; }

}  // namespace xoal::bench
