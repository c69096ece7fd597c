// The Artifact binding's two inputs from outside: the SAMLart (from the browser) and the SOAP
// answer (from the IdP's resolver), and the Response copied out of it into the validator.
#include "fuzz_common.hpp"

#include "artifact.hpp"
#include "response.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    static const saml::SpSettings sp = [] {
        saml::SpSettings s;
        s.entity_id = "https://sp.test.example/saml/metadata";
        s.acs_url = "https://sp.test.example/saml/acs";
        return s;
    }();
    static const saml::SecurityPolicy security;
    static const saml::ArtifactPolicy policy = [] {
        saml::ArtifactPolicy p;
        p.want_artifact_response_signed = false;  // no keys here: let unsigned answers reach the copy
        return p;
    }();
    static const saml::IdpRegistry idps = [] {
        saml::IdpRegistry r;
        auto idp = std::make_shared<saml::IdpDescriptor>();
        idp->entity_id = "https://idp.test.example/saml2/idp";
        idp->artifact_resolution.push_back({saml::binding::soap, "https://idp.test.example/ars", "", 0, true});
        r.add(idp);
        return r;
    }();
    const std::string input(reinterpret_cast<const char*>(data), size);
    (void)saml::parse_artifact(input.substr(0, 256), idps);

    saml::Artifact artifact;
    artifact.idp = idps.find("https://idp.test.example/saml2/idp");
    artifact.resolution_endpoint = &artifact.idp->artifact_resolution.front();
    const auto now = saml::from_unix(1780315200);
    auto resolved = saml::check_artifact_response(input, artifact, "_ar1", sp, security, policy, now);
    if (resolved) {
        saml::ResponseInput in{"", {"_r1"}, now, ""};
        const saml::ResponseEnvelope envelope{resolved.value().idp_entity_id, resolved.value().envelope_signed};
        (void)saml::ResponseValidator(sp, security, idps).validate_xml(resolved.value().response_xml, in, nullptr, &envelope);
    }
    return 0;
}
