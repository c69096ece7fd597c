// What a successful login yields, in plain values: shared by the Response validator, the
// session sealer and the module's exports.
#pragma once

#include "time.hpp"

#include <optional>
#include <string>
#include <vector>

namespace saml {

struct NameId {
    std::string value;
    std::string format;            // empty when the IdP gave none (unspecified)
    std::string name_qualifier;
    std::string sp_name_qualifier;
};

struct Attribute {
    std::string name;
    std::string name_format;
    std::string friendly_name;
    std::vector<std::string> values;  // every value, in document order, UTF-8
};

struct Login {
    std::string user;                 // NameID value, or the configured user attribute's value
    NameId name_id;
    std::string session_index;        // empty when the IdP gave none
    Instant authn_instant{};
    std::optional<Instant> session_not_on_or_after;
    std::string idp_entity_id;
    std::vector<Attribute> attributes;
    std::vector<std::string> authn_context_class_refs;
    std::string response_id;
    std::string assertion_id;         // the replay-cache key
    Instant assertion_expiry{};       // remember the ID until then
    std::string in_response_to;       // empty when unsolicited
    // Worth a log line each, not a refusal: e.g. a scoped value dropped (SAML0287).
    std::vector<std::string> notices;
};

}  // namespace saml
