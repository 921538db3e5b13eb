// Decoding of compressed request bodies (Content-Encoding: gzip or deflate), on zlib.
// Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"

namespace xoal {

// Inflates a gzip or zlib stream. kTooLarge once the output would pass `max_bytes` (so a small
// body cannot expand into an unbounded one), kMalformed for data that is not a valid stream.
Result<std::string> Inflate(std::string_view compressed, size_t max_bytes);

}  // namespace xoal
