// The SAML endpoints under SAMLEndpointPath, and starting a login (also used by the auth hook).
#pragma once

#include "error.hpp"

#include <httpd.h>

#include <optional>
#include <string>

namespace saml_httpd {

struct Runtime;
struct DirConfig;

// ReturnTo / RelayState as the checker allows it (relative, this host, SAMLRedirectDomains);
// nullopt with *error set when refused.
std::optional<std::string> checked_return_to(request_rec* r, const Runtime& rt, const std::string& target,
                                             saml::Error* error);

// The endpoint this request addresses ("sso", "acs", ...), or nullopt.
std::optional<std::string> endpoint_of(const request_rec* r, const Runtime& rt);

// Sends the browser to the IdP with a fresh AuthnRequest; return_to is already checked.
int start_login(request_rec* r, const Runtime& rt, const DirConfig* dir, const std::string& idp_entity_id,
                const std::string& return_to, bool force_authn, bool is_passive);

// The handler hook: DECLINED unless the request is for one of our endpoints.
int handle_endpoint(request_rec* r);

}  // namespace saml_httpd
