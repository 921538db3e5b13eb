#include "common/url.hpp"

#include <algorithm>

namespace xoal {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The port after the host: empty (none) or 1..65535. `hostport` has no credentials.
bool HostAndPortOk(std::string_view hostport) {
  std::string_view host = hostport;
  std::string_view port;
  if (hostport.starts_with('[')) {  // IPv6 literal: "[::1]" or "[::1]:8080"
    size_t close = hostport.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return false;
    host = hostport.substr(0, close + 1);
    port = after.empty() ? after : after.substr(1);
    if (after == ":") return false;
  } else if (size_t colon = hostport.find(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
    if (!AllDigits(port)) return false;
  }
  if (host.empty()) return false;
  if (port.empty()) return true;
  if (!AllDigits(port) || port.size() > 5) return false;
  int n = std::stoi(std::string(port));
  return n >= 1 && n <= 65535;
}

}  // namespace

Status CheckHttpBaseUrl(std::string_view url, const std::string& field) {
  auto bad = [&](std::string why) { return Status::InvalidArgument(field + " " + why, field); };
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return bad("must start with http:// or https://");
  }
  if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; })) {
    return bad("must not contain spaces, line breaks or other control or non-ASCII characters");
  }
  // Characters RFC 3986 never allows in a URL; quotes and angle brackets would also break out of
  // the HTML attributes links are written into.
  if (url.find_first_of("\"'<>\\^`{|}") != std::string_view::npos) {
    return bad("must not contain quotes, angle brackets, braces, backslashes, ^, ` or |");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return bad("must not have a query or fragment: Xoal appends a path to it");
  }
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find('@') != std::string_view::npos) {
    return bad("must not hold credentials (user:password@): reads show this URL");
  }
  if (!HostAndPortOk(authority)) {
    return bad("must name a host, with an optional port from 1 to 65535");
  }
  return Status::Ok();
}

}  // namespace xoal
