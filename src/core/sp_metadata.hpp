// The SP's own metadata, generated from its settings: what the `metadata` endpoint serves and
// what an administrator uploads to the IdP.
#pragma once

#include "error.hpp"
#include "settings.hpp"
#include "time.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace saml {

struct SpOrganization {
    std::string name;
    std::string display_name;
    std::string url;
    std::string lang = "en";
};

struct SpContact {
    std::string type = "technical";  // technical, support, administrative, billing or other
    std::string company;             // each field is left out when empty
    std::string given_name;
    std::string surname;
    std::string email;               // "mailto:" is added when missing
};

struct SpMetadataOptions {
    bool authn_requests_signed = true;
    bool want_assertions_signed = true;
    bool artifact_acs = false;        // also an HTTP-Artifact AssertionConsumerService (index 1)
    bool soap_logout = false;         // also a SOAP SingleLogoutService (back-channel logout)
    std::optional<Instant> valid_until;
    std::optional<std::chrono::seconds> cache_duration;
    std::optional<SpOrganization> organization;
    std::vector<SpContact> contacts;
    bool sign = false;                // sign the EntityDescriptor with settings.signing
    std::string signature_algorithm;  // empty: RSA-SHA256 or ECDSA-SHA256, by the key
    std::string id;                   // the EntityDescriptor's ID; empty: a fresh random one
    // Non-empty: published as idpdisc:DiscoveryResponse (where a discovery service may send the
    // browser back), so a service that checks return URLs against metadata accepts ours.
    std::string discovery_response_url;
};

// A complete md:EntityDescriptor document. Config errors (SAML0450-0459) for settings that
// cannot make valid metadata: no entityID or ACS URL, characters XML cannot carry, a signing
// key that does not match its certificate, an unknown contact type or algorithm.
Result<std::string> generate_sp_metadata(const SpSettings& settings, const SpMetadataOptions& options);

}  // namespace saml
