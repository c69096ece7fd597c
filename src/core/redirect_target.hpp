// Where the module may send the browser after login or logout (ReturnTo, RelayState): a path on
// this site, or an http(s) URL on this host or an allow-listed one. The target is parsed as a
// browser would parse it, and every shape that browsers (or a decoding back end) could read as
// another host is refused rather than repaired: backslashes, "//host", "///host", "/\host",
// "http:host", "https:/host", userinfo ("@"), whitespace and control characters (browsers
// silently drop tab and newline), percent-encoded slashes, backslashes and controls at the start
// of the path, dot segments, non-http schemes (javascript:, data:, ...), odd hosts.
//
// Error codes SAML0600-0649.
#pragma once

#include "error.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

struct RedirectPolicy {
    std::string self_scheme;  // the current request's scheme: "https" or "http"
    std::string self_host;    // its host, as in the Host header: "sp.example.org" or "sp.example.org:8443"
    // Further hosts an absolute target may name: "app.example.org" exactly, or ".example.org"
    // for any subdomain of example.org (not example.org itself: list it too if wanted). Ports are
    // not part of the match; case does not matter.
    std::vector<std::string> allowed_hosts;
    // An http:// target while this request came over https is a downgrade; refused unless set.
    bool allow_http_from_https = false;
    std::size_t max_length = 8192;
};

// Returns the target to put in the Location header: a relative path as given, or the absolute
// URL with its scheme and host lowercased and "/" for an empty path; in both, bytes outside
// printable ASCII and the characters " ' < > ` { } | ^ percent-encoded. Refusals are Rejected
// (SAML0600-0615); a malformed allow-list entry is Config (SAML0640).
Result<std::string> check_redirect_target(std::string_view target, const RedirectPolicy& policy);

}  // namespace saml
