// Randomness, hashing and encodings, all on OpenSSL. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace xoal {

// `n` characters drawn uniformly from [a-z0-9] with a CSPRNG.
std::string RandomAlnum(size_t n);

// Lowercase hex of SHA-256(data).
std::string Sha256Hex(std::string_view data);

// Lowercase hex of HMAC(key, data) with SHA-1 or SHA-256.
std::string HmacSha1Hex(std::string_view key, std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// URL-safe base64 without padding, and its inverse (nullopt-like empty + false on bad input).
std::string Base64UrlEncode(std::string_view data);
bool Base64UrlDecode(std::string_view text, std::string& out);

// Standard base64 decoding (with padding), used for HTTP Basic credentials.
bool Base64Decode(std::string_view text, std::string& out);

}  // namespace xoal
