// The built-in IdP chooser: the page /sso shows when several IdPs are configured and none is
// chosen. Plain HTML that works without CSS and JavaScript (a list of links and a search form
// the server answers); a small inline script filters the list as the user types.
#pragma once

#include "metadata.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

struct ChooserIdp {
    std::string entity_id;
    std::string name;  // the display name, or the entityID when the metadata names none
};

// Every configured IdP, sorted by name (ASCII case folded), then entityID.
std::vector<ChooserIdp> chooser_idps(const IdpRegistry& idps);

struct ChooserRequest {
    const std::vector<ChooserIdp>* idps = nullptr;  // from chooser_idps
    std::string sso_path;    // absolute path of the sso endpoint, e.g. /saml/sso
    std::string return_to;   // already checked by the ReturnTo checker
    bool force_authn = false;  // carried on to the login (links and search form)
    bool is_passive = false;
    std::string remembered;  // entityID of the last choice (a cookie); ignored unless configured
    std::string query;       // search words (the no-script search form; 200 bytes are used); empty: everything
    std::size_t max_listed = 100;  // more matches than this: the first ones and "type to search"
};

// The whole page (UTF-8). Every value from the request or the metadata is escaped.
std::string render_idp_chooser(const ChooserRequest& request);

// The Content-Security-Policy for that page: its inline script and style by hash, nothing else.
std::string idp_chooser_csp();

// Whether an IdP matches search words: every word (split at spaces) occurs in its name or
// entityID, ASCII letters compared without case.
bool chooser_matches(const ChooserIdp& idp, std::string_view query);

}  // namespace saml
