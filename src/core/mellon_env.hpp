// The environment variables mod_auth_mellon set for a logged-in user, rebuilt from a session so
// that applications written against mellon keep reading what they read (SAMLMellonCompat).
//
// Mellon kept a session as a list of (name, value) pairs, in this order: NAME_ID, ASSERTION_ID,
// one pair per value of each attribute under the attribute's Name (never its FriendlyName), and
// last, with MellonIdP set, the IdP's entityID under that name. Each name could be renamed
// (MellonSetEnv, MellonSetEnvNoPrefix: matched exactly, case included) and was exported as
// <prefix><name> with its first value, <prefix><name>_<i> for each value numbered from the index
// start (or, with a merge separator, <prefix><name> holding every value joined) and, with
// MellonEnvVarsSetCount, <prefix><name>_N holding the count so far.
#pragma once

#include "session.hpp"

#include <string>
#include <utility>
#include <vector>

namespace saml {

struct MellonRename {
    std::string from;        // an attribute's Name, or NAME_ID, ASSERTION_ID, the IdP name
    std::string to;          // the variable's name without the prefix
    bool prefixed = true;    // false: MellonSetEnvNoPrefix, exported as `to` alone
};

struct MellonEnvOptions {
    std::string prefix = "MELLON_";  // MellonEnvPrefix
    std::string merge_separator;     // MellonMergeEnvVars On SEP; empty: numbered values
    int index_start = 0;             // MellonEnvVarsIndexStart
    bool set_count = false;          // MellonEnvVarsSetCount
    std::string idp_name = "IDP";    // MellonIdP; empty: the IdP is not exported
    std::vector<MellonRename> renames;  // the first one whose `from` matches applies
};

// The variables in the order mellon set them. A later pair whose name equals an earlier one
// (compared without case, as httpd's tables do) replaces it. Empty values are skipped, as
// mellon skipped an empty AttributeValue.
std::vector<std::pair<std::string, std::string>> mellon_variables(const Session& session,
                                                                  const MellonEnvOptions& options);

}  // namespace saml
