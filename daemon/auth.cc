#include "daemon/auth.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

namespace trellis::http {

namespace {

std::string b64(const std::string& in, int variant) {
  std::string out(sodium_base64_encoded_len(in.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()),
                    in.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::string> unb64(const std::string& in, int variant) {
  std::string out(in.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &len, nullptr, variant) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

std::string hs256(const std::string& key, const std::string& msg) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return std::string(reinterpret_cast<char*>(mac), sizeof mac);
}

bool starts_with_nocase(const std::string& s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

constexpr int kUrl = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

std::optional<std::string> verify_token(const std::string& token, const Credentials& creds) {
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  if (token.size() > 4096 || d1 == std::string::npos || d1 == d2) return std::nullopt;
  auto header = unb64(token.substr(0, d1), kUrl);
  auto payload = unb64(token.substr(d1 + 1, d2 - d1 - 1), kUrl);
  auto sig = unb64(token.substr(d2 + 1), kUrl);
  if (!header || !payload || !sig) return std::nullopt;
  auto h = nlohmann::json::parse(*header, nullptr, false);
  auto p = nlohmann::json::parse(*payload, nullptr, false);
  if (!h.is_object() || h.value("alg", "") != "HS256" || !p.is_object() || !p["iss"].is_string())
    return std::nullopt;
  std::string user = p["iss"].get<std::string>();
  auto it = creds.find(user);
  if (it == creds.end()) return std::nullopt;
  std::string want = hs256(it->second, token.substr(0, d2));
  if (want.size() != sig->size() || sodium_memcmp(want.data(), sig->data(), want.size()) != 0)
    return std::nullopt;
  if (p.contains("exp") && p["exp"].is_number() && p["exp"].get<double>() < double(time(nullptr)))
    return std::nullopt;
  return user;
}

}  // namespace

AuthResult authenticate(const std::string& authorization, const Credentials& creds) {
  AuthResult r;
  if (authorization.empty()) {
    r.failure = "no auth provided";
  } else if (starts_with_nocase(authorization, "basic ")) {
    auto plain = unb64(authorization.substr(6), sodium_base64_VARIANT_ORIGINAL);
    size_t colon = plain ? plain->find(':') : std::string::npos;
    if (colon != std::string::npos && colon > 0) {
      auto it = creds.find(plain->substr(0, colon));
      std::string pass = plain->substr(colon + 1);
      if (it != creds.end() && !pass.empty() && it->second.size() == pass.size() &&
          sodium_memcmp(it->second.data(), pass.data(), pass.size()) == 0)
        r.user = it->first;
    }
    if (!r.user) r.failure = "access denied";
  } else if (starts_with_nocase(authorization, "bearer ")) {
    r.user = verify_token(authorization.substr(7), creds);
    r.bearer = true;
    if (!r.user) r.failure = "invalid token";
  } else {
    r.failure = "no auth provided";
  }
  return r;
}

std::pair<std::string, Headers> unauthorized(const AuthResult& r) {
  const std::string realm = "realm=\"Restricted IPFS Cluster API\"";
  Headers h;
  if (r.failure == "no auth provided") {
    h.emplace_back("WWW-Authenticate", "Bearer " + realm);
    h.emplace_back("WWW-Authenticate", "Basic " + realm);
  } else if (r.bearer) {
    h.emplace_back("WWW-Authenticate", "Bearer " + realm + ", error=\"invalid_token\"");
  } else {
    h.emplace_back("WWW-Authenticate", "Basic " + realm);
  }
  return {"unauthorized: " + r.failure, std::move(h)};
}

std::string make_token(const std::string& user, const std::string& password) {
  std::string head = b64(R"({"alg":"HS256","typ":"JWT"})", kUrl);
  std::string body = b64(nlohmann::json{{"iss", user}}.dump(), kUrl);
  std::string signing = head + "." + body;
  return signing + "." + b64(hs256(password, signing), kUrl);
}

}  // namespace trellis::http
