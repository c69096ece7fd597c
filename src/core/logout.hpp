// Single Logout: the LogoutRequest / LogoutResponse we send, and the checks on those the IdP
// sends us, over HTTP-Redirect or HTTP-POST.
#pragma once

#include "error.hpp"
#include "metadata.hpp"
#include "model.hpp"
#include "redirect_binding.hpp"  // OutgoingRequest
#include "replay.hpp"
#include "settings.hpp"
#include "time.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

namespace status {
inline constexpr const char* success = "urn:oasis:names:tc:SAML:2.0:status:Success";
inline constexpr const char* requester = "urn:oasis:names:tc:SAML:2.0:status:Requester";
inline constexpr const char* responder = "urn:oasis:names:tc:SAML:2.0:status:Responder";
inline constexpr const char* partial_logout = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
}  // namespace status

// SP-initiated logout: a LogoutRequest for the user's NameID and SessionIndex (may be empty)
// to idp_slo.location, over the endpoint's binding, signed with sp.signing when `sign`.
Result<OutgoingRequest> build_logout_request(const SpSettings& sp, const Endpoint& idp_slo, const NameId& name_id,
                                             std::string_view session_index, std::string_view relay_state, bool sign,
                                             Instant now);

// The answer to an IdP's LogoutRequest, sent to idp_slo.response_location when set, else its
// location. An empty status_code means Success.
Result<OutgoingRequest> build_logout_response(const SpSettings& sp, const Endpoint& idp_slo,
                                              std::string_view in_response_to, std::string_view status_code,
                                              std::string_view relay_state, bool sign, Instant now);

// The answer to a back-channel (SOAP) LogoutRequest: a SOAP envelope holding our LogoutResponse,
// signed with sp.signing. An empty status_code means Success.
Result<std::string> build_soap_logout_response(const SpSettings& sp, std::string_view in_response_to,
                                               std::string_view status_code, std::string_view status_message, Instant now);

// A logout message as it reached us.
struct IncomingMessage {
    // Soap: a back-channel LogoutRequest (no browser), which must be signed whatever
    // SecurityPolicy::want_logout_signed says: nothing else shows it comes from the IdP.
    enum class Binding { Redirect, Post, Soap };
    Binding binding = Binding::Redirect;
    // Redirect: the raw query string, exactly as received (not decoded, no '?').
    // POST: the SAMLRequest / SAMLResponse form field (form-decoded base64).
    // Soap: the request body, the SOAP envelope as received.
    std::string_view data;
    std::string_view relay_state;  // POST only: the RelayState form field, decoded
};

struct IncomingLogoutRequest {
    std::string id;
    std::string issuer;                       // a known IdP's entityID
    NameId name_id;
    std::vector<std::string> session_indexes;  // empty: every session of that NameID
    std::string relay_state;
    std::optional<Instant> not_on_or_after;
    bool signature_verified = false;
    bool replay_unchecked = false;  // the replay cache could not be reached (the logout goes ahead)
};

struct IncomingLogoutResponse {
    std::string id;
    std::string issuer;
    std::string in_response_to;
    std::string status_code;         // the top-level StatusCode Value
    std::string second_status_code;  // the nested StatusCode Value, if any
    std::string status_message;
    bool success = false;            // status_code is Success
    std::string relay_state;
    bool signature_verified = false;
};

// Validates an IdP's LogoutRequest: known Issuer (registry), signature per policy
// (want_logout_signed: a query signature for Redirect, an enveloped one for POST; a present
// signature must always verify), Destination = sp.sls_url (required when signed),
// IssueInstant not in the future and NotOnOrAfter not past, both within policy.clock_skew;
// IssueInstant at most kLogoutRequestLifetime old, so that its ID, given to `replay` (when not
// null) until then, refuses a second delivery (SAML0735). An unreachable cache does not stop a
// logout (it only ends a session): replay_unchecked says so for the log.
inline constexpr std::chrono::seconds kLogoutRequestLifetime{600};
Result<IncomingLogoutRequest> validate_logout_request(const IncomingMessage& message, const IdpRegistry& idps,
                                                      const SpSettings& sp, const SecurityPolicy& policy,
                                                      Instant now, ReplayCache* replay = nullptr);

// Validates the IdP's LogoutResponse to our request `expected_in_response_to` (the ID we
// sent): the same checks, plus InResponseTo must match. A non-Success status is reported,
// not refused.
Result<IncomingLogoutResponse> validate_logout_response(const IncomingMessage& message, const IdpRegistry& idps,
                                                        const SpSettings& sp, const SecurityPolicy& policy,
                                                        std::string_view expected_in_response_to, Instant now);

}  // namespace saml
