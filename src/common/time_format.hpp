// Parsing and printing of the timestamps the API accepts, and IANA time zone checks.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace xoal {

// A time as epoch milliseconds, or nullopt outside what SystemTime holds (64-bit nanoseconds:
// 1677-09-22 to 2262-04-11). Every parser below rejects such times rather than wrapping them.
std::optional<SystemTime> TimeFromEpochMillis(int64_t ms);

// Parses an ISO-8601 date-time ("2026-12-03T10:00:00Z", "...+02:00", "...T10:00:00.123456",
// "2026-12-03 10:00:00", or a date alone). Without an offset the time is UTC.
std::optional<SystemTime> ParseIsoTime(std::string_view text);

// Reads a JSON time: an ISO-8601 string, or a number of epoch seconds or epoch milliseconds
// (numbers at or above 1e11 are taken as milliseconds: 1e11 s is the year 5138).
// A string of 9 or more digits is read as a number; a shorter one ("2014") is no time.
std::optional<SystemTime> ParseJsonTime(const boost::json::value& v);

// "2026-12-03T10:00:00.000Z".
std::string FormatIsoTime(SystemTime t);

// True when `name` is a time zone of the IANA database ("Africa/Lagos", "UTC").
bool IsValidTimeZone(std::string_view name);

}  // namespace xoal
