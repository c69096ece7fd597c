// Whether a state-changing GET (the user's logout) was asked for by this site or by another
// one. Browsers say where a request comes from in Sec-Fetch-Site, and in Origin or Referer;
// any page on the web can make a browser send a GET to us (an <img>, a link, a redirect), so a
// request from elsewhere must not end a session by itself. When a browser says nothing (old
// browsers, a stripping proxy), the module asks the user instead, with a form that carries a
// token only our page could hold.
#pragma once

#include "redirect_target.hpp"
#include "session.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace saml {

struct RequestOriginHeaders {
    std::optional<std::string_view> sec_fetch_site;  // "same-origin", "same-site", "cross-site", "none"
    std::optional<std::string_view> origin;          // "https://host[:port]" or "null"
    std::optional<std::string_view> referer;
};

enum class RequestSource {
    trusted,     // this site (or an allow-listed host), or the user typed the address
    elsewhere,   // another site, by the browser's own account
    unknown,     // the browser did not say
};

struct RequestOrigin {
    RequestSource source = RequestSource::unknown;
    std::string evidence;  // the header that decided, for the log line: "Sec-Fetch-Site: cross-site"
};

// Sec-Fetch-Site "same-origin" and "none" (typed, bookmarked) are trusted; otherwise an Origin
// or Referer whose host is this host or one of policy.allowed_hosts (SAMLRedirectDomains, the
// sites the administrator already trusts to send users here) is trusted, over the same or a
// stronger scheme; any other Origin or Referer, "null", or Sec-Fetch-Site "same-site" /
// "cross-site" with no trusted Origin or Referer is elsewhere. No header at all is unknown.
RequestOrigin classify_request_origin(const RequestOriginHeaders& headers, const RedirectPolicy& policy);

// The token a logout confirmation form carries: sealed with the session keys and bound to the
// session it confirms ending, so a page elsewhere can neither make nor reuse one.
Result<std::string> logout_confirmation_token(const SessionSealer& sealer, const Session& session);
bool logout_confirmation_token_valid(const SessionSealer& sealer, const Session& session, std::string_view token);

}  // namespace saml
