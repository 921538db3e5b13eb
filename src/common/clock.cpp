#include "common/clock.hpp"

namespace xoal {

SystemTime SystemClock::SystemNow() const { return std::chrono::system_clock::now(); }
SteadyTime SystemClock::SteadyNow() const { return std::chrono::steady_clock::now(); }

FakeClock::FakeClock(SystemTime start) : now_ms_(ToEpochMillis(start)) {}

SystemTime FakeClock::SystemNow() const { return FromEpochMillis(now_ms_.load()); }

SteadyTime FakeClock::SteadyNow() const { return SteadyTime(Millis(now_ms_.load())); }

void FakeClock::Set(SystemTime t) { now_ms_.store(ToEpochMillis(t)); }

void FakeClock::Advance(Millis d) { now_ms_.fetch_add(d.count()); }

}  // namespace xoal
