// The links messages carry back to Xoal (SPEC "Messages and channels"; design in
// docs/messaging.md, "Links"): one-click unsubscribe, the open pixel and click redirects.
//
// A link holds a token: base64url of its payload, a dot, and the first 128 bits (hex) of an
// HMAC-SHA256 of the payload under the project's `link_secret`. The payload names the project
// in clear, so the server can find the secret to verify it; nothing in it is secret, but any
// change to it breaks the signature.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/projects.hpp"

namespace xoal::messaging {

enum class LinkKind { kUnsubscribe, kOpen, kClick };

struct LinkToken {
  LinkKind kind = LinkKind::kUnsubscribe;
  std::string project_id;
  std::string usid;
  std::string message_id;  // open and click
  std::string url;         // click: the destination
};

// The token for `t`, signed with `secret`.
std::string SignLinkToken(const LinkToken& t, std::string_view secret);
// The payload of a well-formed token, not yet verified; nullopt when malformed.
std::optional<LinkToken> ParseLinkToken(std::string_view token);
// Whether `token` carries a valid signature under `secret`.
bool VerifyLinkToken(std::string_view token, std::string_view secret);

// The base of every link: the project's `public_base_url`, else the server's default (set once
// at start from --public-url / XOAL_PUBLIC_URL, else the listening address).
void SetDefaultPublicBaseUrl(std::string url);
std::string PublicBaseUrl(const core::MessagingSettings& s);

// {base}/unsubscribe/{token} for the customer.
std::string UnsubscribeUrl(const core::MessagingSettings& s, std::string_view project_id,
                           std::string_view usid);

// SPEC "Messages and channels": marketing email carries an unsubscribe link, not only the
// List-Unsubscribe header (which many clients do not show). These add one to a body that does
// not show `url` already (raw, or with `&` written `&amp;` in HTML), so a template using
// {{ unsubscribe_url }} keeps its own link and gets no second one; an empty body stays empty.
// HTML: a small paragraph with <a href="url">Unsubscribe</a> before </body>, or at the end.
// Text: a last line "Unsubscribe: <url>".
std::string HtmlWithUnsubscribeFooter(std::string_view html, std::string_view url);
// Whether `body` shows `url`: as written, or with `&` written `&amp;` (an HTML attribute).
bool ShowsLink(std::string_view body, std::string_view url);
std::string TextWithUnsubscribeFooter(std::string_view text, std::string_view url);

// An HTML body with tracking: every http(s) href of an <a> goes through
// {base}/t/click/{token} (when `clicks`), and a 1x1 image {base}/t/open/{token} is added before
// </body> or at the end (when `opens`). `links` lists the destinations, in order of first
// appearance: the only URLs the redirect will go to.
struct TrackedHtml {
  std::string html;
  std::vector<std::string> links;
};
TrackedHtml AddTracking(std::string_view html, const core::MessagingSettings& s,
                        std::string_view project_id, std::string_view usid,
                        std::string_view message_id);

}  // namespace xoal::messaging
