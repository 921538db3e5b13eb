#include "channels/mime.hpp"

#include <date/date.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace xoal::channels {
namespace {

constexpr size_t kMaxPlainHeaderText = 900;  // well under RFC 5322's 998-character line limit
constexpr size_t kEncodedWordBytes = 45;     // 60 base64 chars + 12 of "=?UTF-8?B?...?=" <= 75
constexpr size_t kQpLineLimit = 76;

bool IsAsciiPrintable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7F; });
}

bool IsAtomChar(unsigned char c) {
  static constexpr std::string_view kAtext = "!#$%&'*+-/=?^_`{|}~ ";
  return std::isalnum(c) || kAtext.find(static_cast<char>(c)) != std::string_view::npos;
}

// Length of the UTF-8 prefix of `s` of at most `max` bytes that ends on a character boundary.
size_t Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n == 0 ? max : n;
}

std::string EncodedWords(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    size_t n = Utf8Prefix(text, kEncodedWordBytes);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(text.substr(0, n)) + "?=";
    text.remove_prefix(n);
  }
  return out;
}

bool ValidAddress(std::string_view a) {
  size_t at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  if (a.find('@', at + 1) != std::string_view::npos || a.size() > 254) return false;
  return std::all_of(a.begin(), a.end(), [](unsigned char c) {
    return c > 0x20 && c < 0x7F && c != '<' && c != '>' && c != '"' && c != '(' && c != ')' &&
           c != ',' && c != ';' && c != '\\';
  });
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

void AppendQpByte(std::string& line, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  line += '=';
  line += kHex[c >> 4];
  line += kHex[c & 0xF];
}

// Encodes one line (no line break inside) into `out`, with soft breaks.
void EncodeQpLine(std::string_view line, std::string& out) {
  size_t width = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    bool last = i + 1 == line.size();
    std::string piece;
    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
      piece = static_cast<char>(c);
    } else {
      AppendQpByte(piece, c);
    }
    // Leave room for the "=" of a soft break: a line is at most 76 characters with it.
    if (width + piece.size() > kQpLineLimit - 1) {
      out += "=\r\n";
      width = 0;
    }
    out += piece;
    width += piece.size();
  }
}

}  // namespace

Result<Mailbox> ParseMailbox(std::string_view text) {
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    return Status::InvalidArgument("a mailbox must not contain line breaks");
  }
  Mailbox m;
  text = TrimSpaces(text);
  size_t lt = text.rfind('<');
  if (lt != std::string_view::npos && text.ends_with('>')) {
    m.address = std::string(text.substr(lt + 1, text.size() - lt - 2));
    std::string_view name = TrimSpaces(text.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '\\' && i + 1 < name.size()) ++i;
      m.name += name[i];
    }
  } else {
    m.address = std::string(text);
  }
  if (!ValidAddress(m.address)) return Status::InvalidArgument("not an email address");
  return m;
}

std::string FormatMailbox(const Mailbox& mailbox) {
  const std::string& name = mailbox.name;
  std::string out;
  if (name.empty()) {
    // just the angle-addr
  } else if (!IsAsciiPrintable(name) || name.size() > kMaxPlainHeaderText) {
    out = EncodedWords(name) + " ";
  } else if (std::all_of(name.begin(), name.end(), [](unsigned char c) { return IsAtomChar(c); })) {
    out = name + " ";
  } else {
    out = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\" ";
  }
  return out + "<" + mailbox.address + ">";
}

std::string EncodeHeaderText(std::string_view text) {
  if (IsAsciiPrintable(text) && text.size() <= kMaxPlainHeaderText) return std::string(text);
  return EncodedWords(text);
}

std::string EncodeQuotedPrintable(std::string_view text) {
  std::string out;
  while (true) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    EncodeQpLine(line, out);
    if (nl == std::string_view::npos) break;
    out += "\r\n";
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string FormatRfc5322Date(SystemTime t) {
  return date::format("%a, %d %b %Y %H:%M:%S +0000", date::floor<std::chrono::seconds>(t));
}

}  // namespace xoal::channels
