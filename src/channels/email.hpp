// Email over SMTP. SmtpEmailSender builds the MIME message itself (BuildEmailMime) and hands it to
// an SMTP server with libcurl: one session (connect, EHLO, optional STARTTLS and AUTH, MAIL FROM,
// RCPT TO, DATA, QUIT) per Send(). SMTP has no idempotency key, so after a crash the outbox asks
// the provider's lookup API (Lookup(), over HTTP) whether an interrupted send arrived before it
// sends again. Thread-safe: Send() and Lookup() may run on many threads at once.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channels/sender.hpp"
#include "common/clock.hpp"
#include "common/status.hpp"

namespace xoal::channels {

enum class SmtpTls {
  kNone,      // plain SMTP; only for loopback and tests
  kStartTls,  // connect plain, then STARTTLS; refuses to go on when the server does not offer it
  kTls,       // TLS from the first byte (SMTPS, usually port 465)
};

// The project's email channel (SPEC "Shapes", Channels: `{"from", "smtp": {"host", "port", "tls",
// "username", "password"}}`).
struct EmailConfig {
  std::string from;  // default sender mailbox, "News <news@example.com>"
  std::string host;
  int port = 587;
  SmtpTls tls = SmtpTls::kStartTls;
  std::string username;  // no AUTH when empty
  std::string password;
  std::string ca_file;      // CA bundle to verify the server with; the system store when empty
  std::string helo_domain;  // EHLO argument; the sender address's domain when empty
  Timeouts timeouts;        // for the SMTP session and for a lookup, each
  // The provider's message-lookup API (Mailgun events, Postmark outbound search, SendGrid
  // activity): a URL template with {message_id} and/or {idempotency_key}, which Lookup() fills in
  // percent-encoded. Empty: the provider offers none, and an interrupted send cannot be checked.
  std::string lookup_url;
  std::vector<std::pair<std::string, std::string>> lookup_headers;  // e.g. Authorization
};

// A fully rendered email (SPEC "Shapes", Messages: subject, html, text, from, transactional).
struct EmailMessage {
  std::string to;    // recipient mailbox: "a@example.com" or "Ann <a@example.com>"
  std::string from;  // overrides EmailConfig::from when not empty
  std::string subject;
  std::string text;  // text/plain part; at least one of text and html is required
  std::string html;  // text/html part
  bool transactional = false;
  // Marketing (non-transactional) mail must name at least one of these; they become the
  // List-Unsubscribe header (RFC 2369), and the https one also List-Unsubscribe-Post (RFC 8058).
  std::string unsubscribe_url;     // "https://xoal.example/unsubscribe/<token>"
  std::string unsubscribe_mailto;  // "mailto:unsubscribe@example.com?subject=<token>"
};

// Parameters of BuildEmailMime that a sender decides, not the message.
struct MimeEnvelope {
  std::string idempotency_key;
  SystemTime date;
  std::string boundary;  // must not occur in the encoded parts; "=_" prefixes guarantee that
};

// The complete RFC 5322 message with CRLF line ends: From, To, Subject (RFC 2047 when not ASCII),
// Date, Message-ID (derived from the idempotency key, so a retry carries the same id),
// MIME-Version, X-Xoal-Idempotency-Key, List-Unsubscribe(-Post) on marketing mail, then
// multipart/alternative with quoted-printable UTF-8 text and HTML parts (a single part when only
// one is given). Errors: kInvalidArgument naming the field (to, from, subject, text,
// unsubscribe_url, idempotency_key) when the message cannot be sent as given.
Result<std::string> BuildEmailMime(const EmailMessage& message, std::string_view default_from,
                                   const MimeEnvelope& envelope);

// The Message-ID BuildEmailMime writes, without angle brackets: "<32 hex>@<from domain>".
std::string MessageIdFor(std::string_view idempotency_key, std::string_view from_address);

// Checks a lookup configuration: an http(s) URL template naming {message_id} or
// {idempotency_key} (no other braces, spaces or line breaks), and header names that are HTTP
// tokens with values without line breaks. Errors: kInvalidArgument with field "lookup_url" or
// "lookup_headers.<name>".
Status ValidateEmailLookup(std::string_view url_template,
                           const std::vector<std::pair<std::string, std::string>>& headers);

// `url_template` with {message_id} and {idempotency_key} replaced by the percent-encoded values
// (RFC 3986 unreserved characters kept, every other byte %XX). Pure.
std::string ExpandLookupUrl(std::string_view url_template, std::string_view message_id,
                            std::string_view idempotency_key);

// What the provider's lookup API says about one message.
enum class LookupOutcome {
  kFound,      // HTTP 200: the provider accepted the message; sending it again would duplicate it
  kNotFound,   // HTTP 404: it never arrived; sending it is safe
  kUndecided,  // anything else (connection error, timeout, 429, 5xx, other statuses)
};

struct LookupResult {
  LookupOutcome outcome = LookupOutcome::kUndecided;
  // The exchange as a SendResult, so the outbox can record it like a send: kFound is kSent with
  // reason "found_at_provider" and provider_message_id the Message-ID; kNotFound carries reason
  // "not_found_at_provider"; kUndecided is a temporary failure with reason "lookup_" + the usual
  // reason ("lookup_http_500", "lookup_connect_failed") and the provider's Retry-After.
  SendResult result;
};

class EmailSender {
 public:
  virtual ~EmailSender() = default;
  // One delivery attempt of `message` under `idempotency_key` (stable across retries of the same
  // message; printable ASCII, at most 200 characters). Returns the classified outcome; on kSent
  // provider_message_id is the Message-ID and answer.body the server's final reply.
  virtual SendResult Send(const EmailMessage& message, std::string_view idempotency_key,
                          const EmailConfig& config) = 0;
  // Asks config.lookup_url whether the provider has `message` as Send() would have written it
  // (its Message-ID, its idempotency key): one GET with config.lookup_headers and
  // config.timeouts. Never sends the message. A config without lookup_url, or a message whose
  // sender address does not parse, is kUndecided with reason "invalid_config".
  virtual LookupResult Lookup(const EmailMessage& message, std::string_view idempotency_key,
                              const EmailConfig& config) = 0;
};

class SmtpEmailSender final : public EmailSender {
 public:
  // `clock` dates the message; it must outlive the sender.
  explicit SmtpEmailSender(const Clock& clock) : clock_(clock) {}

  SendResult Send(const EmailMessage& message, std::string_view idempotency_key,
                  const EmailConfig& config) override;
  LookupResult Lookup(const EmailMessage& message, std::string_view idempotency_key,
                      const EmailConfig& config) override;

 private:
  const Clock& clock_;
};

}  // namespace xoal::channels
