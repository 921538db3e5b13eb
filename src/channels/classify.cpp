#include "channels/classify.hpp"

#include <date/date.h>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace xoal::channels {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSent:
      return "sent";
    case Outcome::kTemporaryFailure:
      return "temporary_failure";
    case Outcome::kPermanentFailure:
      return "permanent_failure";
  }
  return "permanent_failure";
}

Status ValidateIdempotencyKey(std::string_view key) {
  bool printable =
      std::all_of(key.begin(), key.end(), [](unsigned char c) { return c >= 0x21 && c < 0x7F; });
  if (key.empty() || key.size() > 200 || !printable) {
    return Status::InvalidArgument("1 to 200 printable ASCII characters without spaces",
                                   "idempotency_key");
  }
  return Status::Ok();
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::chrono::seconds> ParseDeltaSeconds(std::string_view s) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < 0) return std::nullopt;
  return std::chrono::seconds(n);
}

std::optional<std::chrono::seconds> ParseHttpDate(std::string_view s, SystemTime now) {
  std::istringstream in{std::string(s)};
  date::sys_seconds at;
  in >> date::parse("%a, %d %b %Y %H:%M:%S GMT", at);
  if (in.fail()) return std::nullopt;
  auto delta = std::chrono::duration_cast<std::chrono::seconds>(at - now);
  return delta.count() < 0 ? std::chrono::seconds(0) : delta;
}

SendResult Failure(Outcome outcome, std::string reason, int status, std::string_view body) {
  SendResult r;
  r.outcome = outcome;
  r.reason = std::move(reason);
  r.answer.status = status;
  r.answer.body = TruncateAnswer(body);
  return r;
}

}  // namespace

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, SystemTime now) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') return ParseDeltaSeconds(value);
  return ParseHttpDate(value, now);
}

SendResult ClassifyHttpResponse(int status, std::optional<std::string_view> retry_after,
                                std::string_view body, SystemTime now) {
  if (status >= 200 && status < 300) {
    SendResult r = Failure(Outcome::kSent, "sent", status, body);
    return r;
  }
  bool temporary = status == 408 || status == 429 || (status >= 500 && status < 600);
  SendResult r = Failure(temporary ? Outcome::kTemporaryFailure : Outcome::kPermanentFailure,
                         "http_" + std::to_string(status), status, body);
  if ((status == 429 || status == 503) && retry_after) {
    r.retry_after = ParseRetryAfter(*retry_after, now);
  }
  return r;
}

SendResult ClassifySmtpReply(int code, std::string_view reply) {
  if (code >= 200 && code < 300) return Failure(Outcome::kSent, "sent", code, reply);
  bool temporary = code >= 400 && code < 500;
  return Failure(temporary ? Outcome::kTemporaryFailure : Outcome::kPermanentFailure,
                 "smtp_" + std::to_string(code), code, reply);
}

SendResult InvalidConfig(std::string_view what) {
  SendResult r = Failure(Outcome::kPermanentFailure, "invalid_config", 0, {});
  r.answer.error = "invalid_config: " + std::string(what);
  return r;
}

SendResult InvalidMessage(std::string_view what) {
  SendResult r = Failure(Outcome::kPermanentFailure, "invalid_message", 0, {});
  r.answer.error = "invalid_message: " + std::string(what);
  return r;
}

std::string TruncateAnswer(std::string_view text) {
  if (text.size() <= kMaxAnswerBytes) return std::string(text);
  size_t n = kMaxAnswerBytes;
  // Back up over continuation bytes (10xxxxxx) so the cut falls before a character's first byte.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return std::string(text.substr(0, n));
}

}  // namespace xoal::channels
