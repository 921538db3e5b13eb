// Internet message formatting for email (RFC 5322 headers, RFC 2045 MIME, RFC 2047 encoded words).
// Pure functions used by SmtpEmailSender; public so tests and previews can build the exact bytes
// that would be sent. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/status.hpp"

namespace xoal::channels {

// "News <news@example.com>", "\"Doe, J\" <j@example.com>" or a bare "news@example.com".
struct Mailbox {
  std::string name;     // display name, UTF-8, possibly empty
  std::string address;  // addr-spec, ASCII only (IDN domains must arrive as punycode)
};

// Parses a mailbox as written in channel settings and messages. Errors: kInvalidArgument when
// there is no plausible address (one '@', no spaces, brackets, quotes or control characters, and
// ASCII only; SMTPUTF8 addresses are not supported), or the text holds CR or LF.
Result<Mailbox> ParseMailbox(std::string_view text);

// The mailbox as a header value: the display name as is when it is plain atoms, quoted when it
// has specials, RFC 2047-encoded when it is not ASCII; then "<address>".
std::string FormatMailbox(const Mailbox& mailbox);

// Unstructured header text (Subject): unchanged when it is printable ASCII and short, otherwise
// RFC 2047 "B" encoded words of UTF-8 (each at most 75 characters, never splitting a character),
// folded onto continuation lines with CRLF + space.
std::string EncodeHeaderText(std::string_view text);

// Quoted-printable body encoding (RFC 2045 section 6.7) of UTF-8 text: line breaks (LF or CRLF)
// become CRLF, lines are soft-broken to at most 76 characters, and trailing spaces are encoded.
std::string EncodeQuotedPrintable(std::string_view text);

// Standard base64 with padding, no line breaks.
std::string Base64Encode(std::string_view data);

// "Thu, 03 Dec 2026 10:00:00 +0000" (RFC 5322 section 3.3), always in UTC.
std::string FormatRfc5322Date(SystemTime t);

}  // namespace xoal::channels
