// JSON Web Tokens for the Google OAuth 2.0 service-account flow (RFC 7519 claims, RFC 7515
// compact serialization, RS256 = RSASSA-PKCS1-v1_5 with SHA-256 via OpenSSL). Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"

namespace xoal::channels {

// A Google service account, as in the JSON key file Firebase hands out.
struct ServiceAccount {
  std::string client_email;
  std::string private_key;     // PEM, "-----BEGIN PRIVATE KEY-----..."
  std::string private_key_id;  // becomes the JWT header's "kid"; optional
  std::string token_uri = "https://oauth2.googleapis.com/token";
  std::string project_id;  // optional; PushConfig::project_id decides where we send
};

// Reads the key file's object. Errors: kInvalidArgument naming the missing or mistyped field
// (client_email, private_key, token_uri, private_key_id, project_id).
Result<ServiceAccount> ParseServiceAccount(const json::value& value);

// base64url(header) "." base64url(claims) "." base64url(RS256 signature), header
// {"alg":"RS256","typ":"JWT","kid":...}, claims {"iss": client_email, "scope": scope,
// "aud": token_uri, "iat": now, "exp": now + lifetime} (seconds since the epoch).
// Errors: kInvalidArgument (field "private_key") when the PEM is not an RSA private key.
Result<std::string> MakeServiceAccountJwt(const ServiceAccount& account, std::string_view scope,
                                          SystemTime now, std::chrono::seconds lifetime);

// The RS256 signature of `data` (raw bytes, not encoded). Errors: kInvalidArgument when
// `private_key_pem` cannot be read as an RSA private key.
Result<std::string> SignRs256(std::string_view data, std::string_view private_key_pem);

}  // namespace xoal::channels
