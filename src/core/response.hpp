// Validation of a SAML Response posted to the ACS: DESIGN's checklist as small named rules
// run in a fixed order, failing closed. The result is a Login read only from verified nodes,
// or an Error naming the rule that refused it.
#pragma once

#include "error.hpp"
#include "metadata.hpp"
#include "model.hpp"
#include "replay.hpp"
#include "settings.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

struct ResponseInput {
    std::string_view saml_response;                 // the SAMLResponse form field, base64
    // The AuthnRequest IDs this browser has pending (one per login started, e.g. in several
    // tabs); empty when none. A solicited Response must answer one of them.
    std::vector<std::string> pending_request_ids;
    Instant now;
    std::string user_attribute;                     // empty: the user is the NameID
    // The IdP each pending request was sent to, by request ID (the login state records it).
    // When given, a Response answering one of them must come from that IdP: with several IdPs
    // configured, one IdP must not complete a login that was started at another.
    std::map<std::string, std::string> request_idps = {};
};

// A Response that came inside an ArtifactResponse (HTTP-Artifact binding): the artifact's IdP,
// which must also be the Response's, and whether the ArtifactResponse's signature (which
// covers the Response) verified; then it counts as the Response's own signature.
struct ResponseEnvelope {
    std::string idp_entity_id;
    bool signature_verified = false;
};

class ResponseValidator {
public:
    ResponseValidator(const SpSettings& sp, const SecurityPolicy& policy, const IdpRegistry& idps)
        : sp_(sp), policy_(policy), idps_(idps) {}

    // replay may be null only in tests that do not test replay.
    Result<Login> validate(const ResponseInput& input, ReplayCache* replay) const;
    // The same rules for a Response already decoded (the Artifact binding's SOAP payload, with
    // the envelope it came in).
    Result<Login> validate_xml(std::string_view response_xml, const ResponseInput& input, ReplayCache* replay,
                               const ResponseEnvelope* envelope = nullptr) const;

private:
    const SpSettings& sp_;
    const SecurityPolicy& policy_;
    const IdpRegistry& idps_;
};

}  // namespace saml
