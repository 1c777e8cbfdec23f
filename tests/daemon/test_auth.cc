// HTTP API authentication: Basic, and the HS256 tokens POST /token issues.
#include <doctest/doctest.h>
#include <sodium.h>

#include <string>

#include "daemon/auth.h"

namespace {

using namespace trellis::http;

std::string b64url(const std::string& in) {
  std::string out(sodium_base64_encoded_len(in.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()),
                    in.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out.c_str();
}

const Credentials kCreds{{"alice", "wonderland"}, {"bob", "builder"}};

}  // namespace

TEST_CASE("auth: Basic needs a configured user and the exact password") {
  CHECK(authenticate("Basic YWxpY2U6d29uZGVybGFuZA==", kCreds).user == "alice");  // alice:wonderland
  CHECK(authenticate("basic YWxpY2U6d29uZGVybGFuZA==", kCreds).user == "alice");
  auto wrong = authenticate("Basic YWxpY2U6d29uZGVy", kCreds);  // alice:wonder
  CHECK_FALSE(wrong.user);
  CHECK(wrong.failure == "access denied");
  CHECK_FALSE(authenticate("Basic bWFsbG9yeTp3b25kZXJsYW5k", kCreds).user);  // unknown user
  CHECK_FALSE(authenticate("Basic !!!", kCreds).user);
  CHECK(authenticate("", kCreds).failure == "no auth provided");
  CHECK(authenticate("Digest x", kCreds).failure == "no auth provided");
}

TEST_CASE("auth: tokens carry {\"iss\": user}, verify with that user's password, and resist tampering") {
  std::string token = make_token("alice", "wonderland");
  auto ok = authenticate("Bearer " + token, kCreds);
  CHECK(ok.user == "alice");
  CHECK(token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1) ==
        b64url(R"({"iss":"alice"})"));

  // Signed with another user's password, or altered, or unsigned: refused.
  CHECK_FALSE(authenticate("Bearer " + make_token("alice", "builder"), kCreds).user);
  std::string forged = token.substr(0, token.find('.') + 1) + b64url(R"({"iss":"bob"})") +
                       token.substr(token.rfind('.'));
  auto bad = authenticate("Bearer " + forged, kCreds);
  CHECK_FALSE(bad.user);
  CHECK(bad.bearer);
  CHECK(bad.failure == "invalid token");
  std::string none = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(R"({"iss":"alice"})") + ".";
  CHECK_FALSE(authenticate("Bearer " + none, kCreds).user);
  CHECK_FALSE(authenticate("Bearer " + make_token("mallory", "x"), kCreds).user);
  CHECK_FALSE(authenticate("Bearer a.b", kCreds).user);
  CHECK_FALSE(authenticate("Bearer " + std::string(10000, 'a'), kCreds).user);

  // A token whose password changed no longer works.
  CHECK_FALSE(authenticate("Bearer " + token, Credentials{{"alice", "changed"}}).user);
}

TEST_CASE("auth: 401 challenges follow IPFS Cluster") {
  auto [msg, headers] = unauthorized(authenticate("", kCreds));
  CHECK(msg == "unauthorized: no auth provided");
  REQUIRE(headers.size() == 2);
  CHECK(headers[0].second == "Bearer realm=\"Restricted IPFS Cluster API\"");
  CHECK(headers[1].second == "Basic realm=\"Restricted IPFS Cluster API\"");
  auto [msg2, h2] = unauthorized(authenticate("Bearer x.y.z", kCreds));
  CHECK(msg2 == "unauthorized: invalid token");
  CHECK(h2[0].second.find("error=\"invalid_token\"") != std::string::npos);
}
