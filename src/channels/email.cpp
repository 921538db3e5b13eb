#include "channels/email.hpp"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "channels/classify.hpp"
#include "channels/curl_internal.hpp"
#include "channels/mime.hpp"
#include "common/crypto.hpp"

namespace xoal::channels {
namespace {

// The replies of one SMTP session, as libcurl hands them to the header callback line by line.
struct SmtpReplies {
  std::string current;  // lines of a multi-line reply ("250-...") still in progress
  std::string last;     // the last complete reply, all its lines joined by "\n"
};

size_t OnSmtpReply(char* data, size_t size, size_t count, void* user) {
  auto* replies = static_cast<SmtpReplies*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (replies->current.size() < kMaxAnswerBytes) {
    if (!replies->current.empty()) replies->current += '\n';
    replies->current += line;
  }
  // "250-..." continues a reply; "250 ..." or a bare "250" ends it (RFC 5321 section 4.2.1).
  if (line.size() <= 3 || line[3] != '-') {
    replies->last = std::move(replies->current);
    replies->current.clear();
  }
  return n;
}

struct Upload {
  std::string_view data;
  size_t offset = 0;
};

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  size_t n = std::min(size * count, upload->data.size() - upload->offset);
  std::memcpy(buffer, upload->data.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

bool IsUri(std::string_view s, std::string_view scheme) {
  return s.starts_with(scheme) && s.size() > scheme.size() &&
         std::none_of(s.begin(), s.end(), [](unsigned char c) {
           return c <= 0x20 || c >= 0x7F || c == '<' || c == '>' || c == ',';
         });
}

// List-Unsubscribe (RFC 2369) and, for an https target, List-Unsubscribe-Post (RFC 8058).
Result<std::string> UnsubscribeHeaders(const EmailMessage& m) {
  std::string targets;
  if (!m.unsubscribe_mailto.empty()) {
    if (!IsUri(m.unsubscribe_mailto, "mailto:")) {
      return Status::InvalidArgument("must be a mailto: URI", "unsubscribe_mailto");
    }
    targets = "<" + m.unsubscribe_mailto + ">";
  }
  bool one_click = m.unsubscribe_url.starts_with("https://");
  if (!m.unsubscribe_url.empty()) {
    if (!IsUri(m.unsubscribe_url, "https://") && !IsUri(m.unsubscribe_url, "http://")) {
      return Status::InvalidArgument("must be an http(s) URL", "unsubscribe_url");
    }
    targets += (targets.empty() ? "<" : ", <") + m.unsubscribe_url + ">";
  }
  if (targets.empty()) {
    if (!m.transactional) {
      return Status::InvalidArgument("marketing email needs an unsubscribe URL or mailto",
                                     "unsubscribe_url");
    }
    return std::string();
  }
  std::string out = "List-Unsubscribe: " + targets + "\r\n";
  if (one_click) out += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
  return out;
}

std::string Part(std::string_view type, std::string_view body) {
  return "Content-Type: " + std::string(type) +
         "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
         EncodeQuotedPrintable(body) + "\r\n";
}

std::string Body(const EmailMessage& m, std::string_view boundary) {
  if (m.html.empty()) return Part("text/plain", m.text);
  if (m.text.empty()) return Part("text/html", m.html);
  std::string b(boundary);
  return "Content-Type: multipart/alternative; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n" +
         Part("text/plain", m.text) + "--" + b + "\r\n" + Part("text/html", m.html) + "--" + b +
         "--\r\n";
}

std::string_view Domain(std::string_view address) { return address.substr(address.find('@') + 1); }

std::string SmtpUrl(const EmailConfig& config, std::string_view helo) {
  std::string host =
      config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host;
  // libcurl sends the URL's path as the EHLO argument.
  return (config.tls == SmtpTls::kTls ? "smtps://" : "smtp://") + host + ":" +
         std::to_string(config.port) + "/" + std::string(helo);
}

SendResult MessageFailure(const Status& st) {
  return InvalidMessage(st.field() + ": " + st.message());
}

// The session's outcome: the server's last reply decides when it refused (4xx/5xx); otherwise a
// transport failure does; otherwise it was accepted.
SendResult ClassifySession(CURLcode code, long reply_code, const SmtpReplies& replies,
                           const char* error) {
  if (reply_code >= 400) return ClassifySmtpReply(static_cast<int>(reply_code), replies.last);
  if (code != CURLE_OK) {
    SendResult r =
        detail::ClassifyTransport(code, error[0] != '\0' ? error : curl_easy_strerror(code));
    r.answer.status = static_cast<int>(reply_code);
    r.answer.body = TruncateAnswer(replies.last);
    return r;
  }
  return ClassifySmtpReply(reply_code == 0 ? 250 : static_cast<int>(reply_code), replies.last);
}

// After a failed session libcurl keeps the connection and, at cleanup, sends QUIT and waits for
// the reply: against a server that has stalled that blocks the caller for the whole server
// response timeout. Shutting the socket down first makes QUIT fail at once.
void AbandonConnection(CURL* h) {
  curl_socket_t socket = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &socket) == CURLE_OK &&
      socket != CURL_SOCKET_BAD) {
    ::shutdown(socket, SHUT_RDWR);
  }
}

int64_t ResponseTimeoutSeconds(const Timeouts& timeouts) {
  return std::max<int64_t>(1, (timeouts.total.count() + 999) / 1000);
}

constexpr std::string_view kMessageIdPlaceholder = "{message_id}";
constexpr std::string_view kKeyPlaceholder = "{idempotency_key}";

// The template with both placeholders removed, to check what remains.
std::string WithoutPlaceholders(std::string_view url_template) {
  return ExpandLookupUrl(url_template, "", "");
}

}  // namespace

Status ValidateEmailLookup(std::string_view url_template,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  if (!url_template.starts_with("http://") && !url_template.starts_with("https://")) {
    return Status::InvalidArgument("lookup_url must start with http:// or https://", "lookup_url");
  }
  if (url_template.find(kMessageIdPlaceholder) == std::string_view::npos &&
      url_template.find(kKeyPlaceholder) == std::string_view::npos) {
    return Status::InvalidArgument("lookup_url must contain {message_id} or {idempotency_key}",
                                   "lookup_url");
  }
  std::string rest = WithoutPlaceholders(url_template);
  bool bad = std::any_of(rest.begin(), rest.end(), [](unsigned char c) {
    return c <= 0x20 || c >= 0x7F || c == '{' || c == '}';
  });
  if (bad) {
    return Status::InvalidArgument(
        "lookup_url must not contain spaces, line breaks or braces other than {message_id} and "
        "{idempotency_key}",
        "lookup_url");
  }
  // The authority (between "//" and the next "/", "?" or "#") names a host and holds no
  // placeholder; credentials belong in lookup_headers, which are write-only, not in the URL,
  // which is shown on reads.
  std::string_view after_scheme = url_template.substr(url_template.find("//") + 2);
  std::string_view authority = after_scheme.substr(0, after_scheme.find_first_of("/?#"));
  if (authority.empty() || authority.starts_with(':') ||
      authority.find('{') != std::string_view::npos) {
    return Status::InvalidArgument("lookup_url must name a host (placeholders go in the path)",
                                   "lookup_url");
  }
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "lookup_url must not hold credentials; send them in lookup_headers (an Authorization "
        "header), which are never shown",
        "lookup_url");
  }
  for (const auto& [name, value] : headers) {
    std::string field = "lookup_headers." + name;
    if (!detail::IsHeaderName(name)) {
      return Status::InvalidArgument(field + " is not a valid header name", field);
    }
    if (!detail::IsSafeHeaderValue(value)) {
      return Status::InvalidArgument(field + " must not contain line breaks", field);
    }
  }
  return Status::Ok();
}

std::string ExpandLookupUrl(std::string_view url_template, std::string_view message_id,
                            std::string_view idempotency_key) {
  std::string out;
  size_t at = 0;
  while (at < url_template.size()) {
    std::string_view rest = url_template.substr(at);
    if (rest.starts_with(kMessageIdPlaceholder)) {
      out += detail::PercentEncode(message_id);
      at += kMessageIdPlaceholder.size();
    } else if (rest.starts_with(kKeyPlaceholder)) {
      out += detail::PercentEncode(idempotency_key);
      at += kKeyPlaceholder.size();
    } else {
      out += url_template[at++];
    }
  }
  return out;
}

std::string MessageIdFor(std::string_view idempotency_key, std::string_view from_address) {
  return Sha256Hex(idempotency_key).substr(0, 32) + "@" + std::string(Domain(from_address));
}

Result<std::string> BuildEmailMime(const EmailMessage& message, std::string_view default_from,
                                   const MimeEnvelope& envelope) {
  XOAL_RETURN_IF_ERROR(ValidateIdempotencyKey(envelope.idempotency_key));
  auto from = ParseMailbox(message.from.empty() ? default_from : message.from);
  if (!from.ok()) return from.status().WithFieldPrefix("from");
  auto to = ParseMailbox(message.to);
  if (!to.ok()) return to.status().WithFieldPrefix("to");
  if (!detail::IsSafeHeaderValue(message.subject)) {
    return Status::InvalidArgument("must not contain line breaks", "subject");
  }
  if (message.text.empty() && message.html.empty()) {
    return Status::InvalidArgument("an email needs a text or an html body", "text");
  }
  XOAL_ASSIGN_OR_RETURN(std::string unsubscribe, UnsubscribeHeaders(message));

  std::string out;
  out += "From: " + FormatMailbox(*from) + "\r\n";
  out += "To: " + FormatMailbox(*to) + "\r\n";
  out += "Subject: " + EncodeHeaderText(message.subject) + "\r\n";
  out += "Date: " + FormatRfc5322Date(envelope.date) + "\r\n";
  out += "Message-ID: <" + MessageIdFor(envelope.idempotency_key, from->address) + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "X-Xoal-Idempotency-Key: " + envelope.idempotency_key + "\r\n";
  out += unsubscribe;
  out += Body(message, envelope.boundary);
  return out;
}

SendResult SmtpEmailSender::Send(const EmailMessage& message, std::string_view idempotency_key,
                                 const EmailConfig& config) {
  if (config.host.empty() || config.port <= 0 || config.port > 65535) {
    return InvalidConfig("smtp host and port (1-65535) are required");
  }
  auto from = ParseMailbox(message.from.empty() ? config.from : message.from);
  if (!from.ok())
    return message.from.empty() ? InvalidConfig("from: " + from.status().message())
                                : MessageFailure(from.status().WithFieldPrefix("from"));
  MimeEnvelope envelope{std::string(idempotency_key), clock_.SystemNow(),
                        "=_xoal_" + RandomAlnum(24)};
  auto mime = BuildEmailMime(message, config.from, envelope);
  if (!mime.ok()) return MessageFailure(mime.status());
  auto to = ParseMailbox(message.to);  // valid: BuildEmailMime checked it

  detail::CurlEasy easy = detail::NewEasy(config.timeouts, "smtp,smtps");
  if (!easy) return detail::ClassifyTransport(CURLE_OUT_OF_MEMORY, "curl_easy_init failed");
  CURL* h = easy.get();
  char error[CURL_ERROR_SIZE] = {0};
  SmtpReplies replies;
  Upload upload{*mime};
  std::string helo =
      config.helo_domain.empty() ? std::string(Domain(from->address)) : config.helo_domain;
  std::string url = SmtpUrl(config, helo);
  std::string mail_from = "<" + from->address + ">";
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + to->address + ">").c_str());

  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_USE_SSL,
                   config.tls == SmtpTls::kNone ? CURLUSESSL_NONE : CURLUSESSL_ALL);
  if (!config.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config.ca_file.c_str());
  if (!config.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, config.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, config.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, OnUpload);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnSmtpReply);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &replies);
  // Bounds the wait for the QUIT reply at cleanup, which the total timeout no longer covers.
  curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT,
                   static_cast<long>(ResponseTimeoutSeconds(config.timeouts)));

  CURLcode code = curl_easy_perform(h);
  long reply_code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply_code);
  // QUIT is sent when the handle is cleaned up; its reply must not land in `replies` after this.
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, nullptr);
  if (code != CURLE_OK) AbandonConnection(h);
  easy.reset();
  curl_slist_free_all(rcpt);

  SendResult result = ClassifySession(code, reply_code, replies, error);
  if (result.sent()) result.provider_message_id = MessageIdFor(idempotency_key, from->address);
  detail::LogAttempt("email", idempotency_key, result);
  return result;
}

LookupResult SmtpEmailSender::Lookup(const EmailMessage& message, std::string_view idempotency_key,
                                     const EmailConfig& config) {
  LookupResult out;
  auto from = ParseMailbox(message.from.empty() ? config.from : message.from);
  if (config.lookup_url.empty() || !from.ok()) {
    out.result = InvalidConfig("a lookup needs lookup_url and a sender address");
    out.result.outcome = Outcome::kTemporaryFailure;
    return out;
  }
  std::string message_id = MessageIdFor(idempotency_key, from->address);
  detail::HttpCall call;
  call.method = "GET";
  call.url = ExpandLookupUrl(config.lookup_url, message_id, idempotency_key);
  call.headers = config.lookup_headers;
  call.headers.emplace_back("Accept", "application/json");
  call.timeouts = config.timeouts;
  detail::HttpResponse response = detail::PerformHttp(call);

  out.result = detail::ClassifyHttp(response, clock_.SystemNow());
  bool answered = response.transport == 0;
  if (answered && response.status == 200) {
    out.outcome = LookupOutcome::kFound;
    out.result.reason = "found_at_provider";
    out.result.provider_message_id = message_id;
  } else if (answered && response.status == 404) {
    out.outcome = LookupOutcome::kNotFound;
    out.result.reason = "not_found_at_provider";
  } else {
    // Not knowing is never a reason to send: whatever the status, ask again later.
    out.outcome = LookupOutcome::kUndecided;
    out.result.outcome = Outcome::kTemporaryFailure;
    out.result.reason = "lookup_" + out.result.reason;
  }
  detail::LogAttempt("email_lookup", idempotency_key, out.result);
  return out;
}

}  // namespace xoal::channels
