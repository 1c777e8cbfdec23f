// HTTP API authentication as IPFS Cluster does it: HTTP Basic with the
// configured credentials, or a bearer JWT (HS256, claims {"iss": user},
// signed with that user's password) handed out by POST /token.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "daemon/http_server.h"

namespace trellis::http {

using Credentials = std::map<std::string, std::string>;  // user → password

// The user an Authorization header authenticates, or why not:
// "no auth provided", "access denied" (Basic), "invalid token" (Bearer).
struct AuthResult {
  std::optional<std::string> user;
  std::string failure;
  bool bearer = false;  // the failure was a Bearer token
};
AuthResult authenticate(const std::string& authorization, const Credentials& creds);

// What a 401 says ("unauthorized: …") and IPFS Cluster's WWW-Authenticate
// challenges for the failure.
std::pair<std::string, Headers> unauthorized(const AuthResult& r);

// A token for `user`, signed with `password`.
std::string make_token(const std::string& user, const std::string& password);

}  // namespace trellis::http
