#include "messaging/links.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "common/crypto.hpp"

namespace xoal::messaging {
namespace {

constexpr size_t kSignatureHex = 32;  // 128 bits
constexpr std::string_view kVersion = "v1";

std::mutex g_base_mu;
std::string g_default_base = "http://127.0.0.1:8080";  // guarded by g_base_mu

char KindChar(LinkKind k) {
  switch (k) {
    case LinkKind::kUnsubscribe:
      return 'u';
    case LinkKind::kOpen:
      return 'o';
    case LinkKind::kClick:
      return 'c';
  }
  return '?';
}

std::string Payload(const LinkToken& t) {
  std::string p(kVersion);
  const std::string kind(1, KindChar(t.kind));
  for (std::string_view part :
       {std::string_view(kind), std::string_view(t.project_id), std::string_view(t.usid),
        std::string_view(t.message_id), std::string_view(t.url)}) {
    p += '\n';
    p += part;
  }
  return p;
}

std::string Signature(std::string_view payload, std::string_view secret) {
  return HmacSha256Hex(secret, "xoal-link\n" + std::string(payload)).substr(0, kSignatureHex);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// `&amp;` and friends in an attribute value, as the browser would read them.
std::string DecodeEntities(std::string_view s) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool done = false;
    for (const auto& [name, c] : kEntities) {
      if (s.substr(i, name.size()) == name) {
        out += c;
        i += name.size();
        done = true;
        break;
      }
    }
    if (!done) out += s[i++];
  }
  return out;
}

std::string EscapeAttribute(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '"') {
      out += "&quot;";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string SignLinkToken(const LinkToken& t, std::string_view secret) {
  std::string payload = Payload(t);
  return Base64UrlEncode(payload) + "." + Signature(payload, secret);
}

std::optional<LinkToken> ParseLinkToken(std::string_view token) {
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.size() - dot - 1 != kSignatureHex) return std::nullopt;
  std::string payload;
  if (!Base64UrlDecode(token.substr(0, dot), payload)) return std::nullopt;
  auto parts = Split(payload, '\n');
  if (parts.size() != 6 || parts[0] != kVersion || parts[1].size() != 1 || parts[2].empty()) {
    return std::nullopt;
  }
  LinkToken t;
  switch (parts[1][0]) {
    case 'u':
      t.kind = LinkKind::kUnsubscribe;
      break;
    case 'o':
      t.kind = LinkKind::kOpen;
      break;
    case 'c':
      t.kind = LinkKind::kClick;
      break;
    default:
      return std::nullopt;
  }
  t.project_id = std::string(parts[2]);
  t.usid = std::string(parts[3]);
  t.message_id = std::string(parts[4]);
  t.url = std::string(parts[5]);
  if (KindChar(t.kind) != 'u' && t.message_id.empty()) return std::nullopt;
  return t;
}

bool VerifyLinkToken(std::string_view token, std::string_view secret) {
  size_t dot = token.find('.');
  std::string payload;
  if (secret.empty() || dot == std::string_view::npos ||
      !Base64UrlDecode(token.substr(0, dot), payload)) {
    return false;
  }
  return ConstantTimeEquals(token.substr(dot + 1), Signature(payload, secret));
}

void SetDefaultPublicBaseUrl(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  std::lock_guard lock(g_base_mu);
  g_default_base = std::move(url);
}

std::string PublicBaseUrl(const core::MessagingSettings& s) {
  if (!s.public_base_url.empty()) return s.public_base_url;
  std::lock_guard lock(g_base_mu);
  return g_default_base;
}

std::string UnsubscribeUrl(const core::MessagingSettings& s, std::string_view project_id,
                           std::string_view usid) {
  LinkToken t{LinkKind::kUnsubscribe, std::string(project_id), std::string(usid), {}, {}};
  return PublicBaseUrl(s) + "/unsubscribe/" + SignLinkToken(t, s.link_secret);
}

bool ShowsLink(std::string_view body, std::string_view url) {
  return body.find(url) != std::string_view::npos ||
         body.find(EscapeAttribute(url)) != std::string_view::npos;
}

std::string HtmlWithUnsubscribeFooter(std::string_view html, std::string_view url) {
  if (html.empty() || url.empty() || ShowsLink(html, url)) return std::string(html);
  std::string escaped = EscapeAttribute(url);
  std::string footer =
      "<p style=\"font-size:12px;color:#666666\"><a href=\"" + escaped + "\">Unsubscribe</a></p>";
  std::string out(html);
  size_t body = Lower(out).rfind("</body>");
  if (body == std::string::npos) return out + footer;
  out.insert(body, footer);
  return out;
}

std::string TextWithUnsubscribeFooter(std::string_view text, std::string_view url) {
  if (text.empty() || url.empty() || ShowsLink(text, url)) return std::string(text);
  std::string out(text);
  out += out.ends_with('\n') ? "\n" : "\n\n";
  out += "Unsubscribe: ";
  out += url;
  out += "\n";
  return out;
}

TrackedHtml AddTracking(std::string_view html, const core::MessagingSettings& s,
                        std::string_view project_id, std::string_view usid,
                        std::string_view message_id) {
  std::string base = PublicBaseUrl(s);
  auto link = [&](LinkKind kind, std::string url) {
    LinkToken t{kind, std::string(project_id), std::string(usid), std::string(message_id),
                std::move(url)};
    return base + (kind == LinkKind::kOpen ? "/t/open/" : "/t/click/") +
           SignLinkToken(t, s.link_secret);
  };
  TrackedHtml out;
  std::string doc(html);
  std::string lower = Lower(doc);
  size_t pos = 0;
  while (s.track_clicks) {
    size_t a = lower.find("<a", pos);
    if (a == std::string::npos) break;
    size_t end = lower.find('>', a);
    if (end == std::string::npos) break;
    pos = end;
    char after = a + 2 < lower.size() ? lower[a + 2] : '>';
    if (!std::isspace(static_cast<unsigned char>(after))) continue;
    size_t href = lower.find("href=", a);
    if (href == std::string::npos || href > end) continue;
    size_t vstart = href + 5;
    char quote = doc[vstart];
    if (quote != '"' && quote != '\'') continue;
    size_t vend = doc.find(quote, vstart + 1);
    if (vend == std::string::npos || vend > end) continue;
    std::string url = DecodeEntities(doc.substr(vstart + 1, vend - vstart - 1));
    std::string lurl = Lower(url);
    bool web = lurl.starts_with("http://") || lurl.starts_with("https://");
    if (!web || url.starts_with(base + "/")) continue;  // mailto:, anchors, our own links
    if (std::find(out.links.begin(), out.links.end(), url) == out.links.end()) {
      out.links.push_back(url);
    }
    // Replace the value in both copies so positions stay aligned.
    std::string tracked = EscapeAttribute(link(LinkKind::kClick, url));
    doc.replace(vstart + 1, vend - vstart - 1, tracked);
    lower.replace(vstart + 1, vend - vstart - 1, Lower(tracked));
    pos = vstart + 1 + tracked.size();
  }
  out.html = std::move(doc);
  if (s.track_opens) {
    std::string pixel = "<img src=\"" + EscapeAttribute(link(LinkKind::kOpen, "")) +
                        "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">";
    size_t body = lower.rfind("</body>");
    if (body == std::string::npos) {
      out.html += pixel;
    } else {
      out.html.insert(body, pixel);
    }
  }
  return out;
}

}  // namespace xoal::messaging
