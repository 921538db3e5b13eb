#include "common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>

namespace xoal {
namespace {

constexpr std::string_view kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";

std::string ToHex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

std::string HmacHex(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return ToHex(out, len);
}

bool Base64DecodeWith(std::string_view text, bool url, std::string& out) {
  out.clear();
  uint32_t buf = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == (url ? '-' : '+')) {
      v = 62;
    } else if (c == (url ? '_' : '/')) {
      v = 63;
    } else if (c == '=' && !url) {
      break;
    } else {
      return false;
    }
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return true;
}

}  // namespace

std::string RandomAlnum(size_t n) {
  std::string out;
  out.reserve(n);
  // Rejection sampling keeps the distribution uniform: 252 = 7 * 36.
  while (out.size() < n) {
    std::array<unsigned char, 64> bytes{};
    if (RAND_bytes(bytes.data(), bytes.size()) != 1) {
      std::abort();  // no randomness means no safe keys; nothing sensible to continue with
    }
    for (unsigned char b : bytes) {
      if (b < 252 && out.size() < n) out.push_back(kAlnum[b % 36]);
    }
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return ToHex(out, len);
}

std::string HmacSha1Hex(std::string_view key, std::string_view data) {
  return HmacHex(EVP_sha1(), key, data);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  return HmacHex(EVP_sha256(), key, data);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64UrlEncode(std::string_view data) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kTable[(buf >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kTable[(buf << (6 - bits)) & 0x3f]);
  return out;
}

bool Base64UrlDecode(std::string_view text, std::string& out) {
  return Base64DecodeWith(text, true, out);
}

bool Base64Decode(std::string_view text, std::string& out) {
  return Base64DecodeWith(text, false, out);
}

}  // namespace xoal
