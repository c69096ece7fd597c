// What the SP remembers between sending a user to the IdP and the IdP's answer: the request
// ID, where to send the user afterwards and which IdP was asked. It travels in a short-lived
// sealed cookie (one per pending login, so several tabs can log in at once), never on the server.
#pragma once

#include "error.hpp"
#include "time.hpp"

#include <string>
#include <string_view>

namespace saml {

struct LoginState {
    std::string request_id;   // the AuthnRequest (or LogoutRequest) ID
    std::string return_to;    // checked target, where the user goes afterwards
    std::string idp_entity_id;
    Instant created{};
};

std::string encode_login_state(const LoginState& state);
// BadInput (SAML0560) for anything that is not what encode_login_state wrote.
Result<LoginState> decode_login_state(std::string_view bytes);

// The state cookie's name for a request: a fixed prefix and a digest-derived suffix, so each
// pending login has its own cookie and the name reveals nothing.
std::string login_state_cookie_name(std::string_view prefix, std::string_view request_id);

}  // namespace saml
