// Clock: the one source of "now" for the whole server. Real code gets a SystemClock; tests and the
// `--fake-clock` flag get a FakeClock they can move. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace xoal {

using SystemTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime SystemNow() const = 0;
  virtual SteadyTime SteadyNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  SystemTime SystemNow() const override;
  SteadyTime SteadyNow() const override;
};

// A clock that moves only when told. Both readings advance together.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SystemTime start);
  SystemTime SystemNow() const override;
  SteadyTime SteadyNow() const override;
  void Set(SystemTime t);
  void Advance(Millis d);

 private:
  std::atomic<int64_t> now_ms_;
};

inline int64_t ToEpochMillis(SystemTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}
inline SystemTime FromEpochMillis(int64_t ms) { return SystemTime(Millis(ms)); }

}  // namespace xoal
