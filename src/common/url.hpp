// Checks of the http(s) base URLs that settings and channel configuration store and that Xoal
// later extends with a path ("{base_url}/2010-04-01/...", "{public_base_url}/unsubscribe/...").
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"

namespace xoal {

// Ok when `url` is "http://" or "https://", a host (with an optional numeric port) and an
// optional path, in printable ASCII without spaces. Refused, as kInvalidArgument naming `field`:
// no host ("http://", "http://:80"), a bad port, credentials ("user:pw@host": reads show the URL,
// so a password there would leak), a query or fragment (the path Xoal appends would land inside
// it), spaces, line breaks, other control or non-ASCII bytes, and characters URLs never hold
// (quotes, angle brackets, braces, backslash, ^, `, |).
[[nodiscard]] Status CheckHttpBaseUrl(std::string_view url, const std::string& field);

}  // namespace xoal
