// SP-initiated login: the samlp:AuthnRequest we send the IdP, over HTTP-Redirect (optionally
// with a query signature) or HTTP-POST (optionally with an enveloped signature).
#pragma once

#include "error.hpp"
#include "metadata.hpp"
#include "redirect_binding.hpp"  // OutgoingRequest
#include "settings.hpp"
#include "time.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace saml {

struct AuthnRequestOptions {
    bool force_authn = false;
    bool is_passive = false;
    std::string name_id_format;  // NameIDPolicy Format; empty = none
    bool allow_create = true;    // NameIDPolicy AllowCreate; NameIDPolicy is left out when false and no format
    std::vector<std::string> authn_context_class_refs;  // RequestedAuthnContext when not empty
    std::string comparison = "exact";                   // exact, minimum, maximum or better
    std::string provider_name;                          // ProviderName when not empty
    // How the IdP should deliver the Response: HTTP-POST, or HTTP-Artifact (the SP resolves it
    // over SOAP). Either way to sp.acs_url.
    std::string protocol_binding = binding::post;
};

// Builds an AuthnRequest for idp_sso (a SingleSignOnService endpoint from metadata) asking for
// the Response at sp.acs_url over options.protocol_binding. sign: a query signature (Redirect) or an
// enveloped one (POST) with sp.signing. Config errors for an unusable endpoint, a missing key,
// a bad comparison or a protocol binding other than POST and Artifact.
Result<OutgoingRequest> build_authn_request(const SpSettings& sp, const Endpoint& idp_sso,
                                            const AuthnRequestOptions& options, std::string_view relay_state,
                                            bool sign, Instant now);

}  // namespace saml
