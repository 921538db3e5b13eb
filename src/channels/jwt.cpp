#include "channels/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

#include "common/crypto.hpp"

namespace xoal::channels {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

Status RequiredString(const json::object& obj, std::string_view key, std::string& out) {
  auto v = OptionalString(obj, key);
  if (!v.ok()) return v.status().WithFieldPrefix(std::string(key));
  if (!v->has_value() || (*v)->empty())
    return Status::InvalidArgument("is required", std::string(key));
  out = std::move(**v);
  return Status::Ok();
}

Status OptionalInto(const json::object& obj, std::string_view key, std::string& out) {
  auto v = OptionalString(obj, key);
  if (!v.ok()) return v.status().WithFieldPrefix(std::string(key));
  if (v->has_value() && !(*v)->empty()) out = std::move(**v);
  return Status::Ok();
}

}  // namespace

Result<ServiceAccount> ParseServiceAccount(const json::value& value) {
  if (!value.is_object()) return Status::InvalidArgument("must be an object");
  const json::object& obj = value.as_object();
  ServiceAccount account;
  XOAL_RETURN_IF_ERROR(RequiredString(obj, "client_email", account.client_email));
  XOAL_RETURN_IF_ERROR(RequiredString(obj, "private_key", account.private_key));
  XOAL_RETURN_IF_ERROR(OptionalInto(obj, "private_key_id", account.private_key_id));
  XOAL_RETURN_IF_ERROR(OptionalInto(obj, "token_uri", account.token_uri));
  XOAL_RETURN_IF_ERROR(OptionalInto(obj, "project_id", account.project_id));
  return account;
}

Result<std::string> SignRs256(std::string_view data, std::string_view private_key_pem) {
  std::unique_ptr<BIO, BioDeleter> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return Status::InvalidArgument("not a PEM RSA private key", "private_key");
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return Status::Internal("RS256 signing failed");
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Status::Internal("RS256 signing failed");
  }
  signature.resize(len);
  return signature;
}

Result<std::string> MakeServiceAccountJwt(const ServiceAccount& account, std::string_view scope,
                                          SystemTime now, std::chrono::seconds lifetime) {
  json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
  if (!account.private_key_id.empty()) header["kid"] = account.private_key_id;
  int64_t iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json::object claims{{"iss", account.client_email},
                      {"scope", scope},
                      {"aud", account.token_uri},
                      {"iat", iat},
                      {"exp", iat + lifetime.count()}};
  std::string signing_input =
      Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(claims));
  XOAL_ASSIGN_OR_RETURN(std::string signature, SignRs256(signing_input, account.private_key));
  return signing_input + "." + Base64UrlEncode(signature);
}

}  // namespace xoal::channels
