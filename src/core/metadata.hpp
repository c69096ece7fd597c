// IdP metadata: an EntityDescriptor or an EntitiesDescriptor aggregate, indexed by entityID.
// What the rest of the core trusts about an IdP comes from here and nowhere else.
#pragma once

#include "crypto.hpp"
#include "error.hpp"
#include "time.hpp"
#include "xml.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace saml {

struct Endpoint {
    std::string binding;
    std::string location;
    std::string response_location;  // empty when not given
    int index = -1;                 // indexed endpoints only
    bool is_default = false;
};

struct TrustedCertificate {
    std::shared_ptr<X509> certificate;
    std::shared_ptr<EVP_PKEY> public_key;
};

struct IdpDescriptor {
    std::string entity_id;
    // What a person is shown (the IdP chooser): mdui:DisplayName, else OrganizationDisplayName,
    // English preferred; empty when the metadata names none (show the entityID then).
    std::string display_name;
    std::vector<Endpoint> single_sign_on;
    std::vector<Endpoint> single_logout;
    std::vector<Endpoint> artifact_resolution;
    std::vector<TrustedCertificate> signing;     // KeyDescriptor use="signing" or no use
    std::vector<TrustedCertificate> encryption;  // KeyDescriptor use="encryption" or no use
    std::vector<std::string> name_id_formats;
    bool want_authn_requests_signed = false;
    std::optional<Instant> valid_until;          // the nearest validUntil on the path to it
    std::optional<std::chrono::seconds> cache_duration;

    // Non-owning views of the signing keys, for verification.
    std::vector<EVP_PKEY*> signing_keys() const;
    // The first endpoint with this binding (the default one first for indexed endpoints).
    const Endpoint* find_endpoint(const std::vector<Endpoint>& endpoints, std::string_view binding) const;
};

class IdpRegistry {
public:
    // nullptr when the entityID is unknown.
    std::shared_ptr<const IdpDescriptor> find(std::string_view entity_id) const;
    void add(std::shared_ptr<const IdpDescriptor> idp);  // a later one with the same ID replaces
    std::size_t size() const noexcept { return by_entity_id_.size(); }
    std::vector<std::string> entity_ids() const;  // sorted

private:
    std::unordered_map<std::string, std::shared_ptr<const IdpDescriptor>> by_entity_id_;
};

struct MetadataOptions {
    XmlLimits limits{64 * 1024 * 1024, 64};       // aggregates run to tens of MB
    std::vector<std::shared_ptr<X509>> signing_certificates;  // non-empty: the metadata must be signed by one
    AlgorithmPolicy algorithms;
    Instant now = Clock::now();
    bool allow_expired = false;                   // validUntil in the past is refused by default
};

struct MetadataWarning {
    std::string code;     // stable id, e.g. "SAML0405"
    std::string message;  // e.g. an expired signing certificate (still trusted: SAML trusts keys, not dates)
};

struct LoadedMetadata {
    std::vector<std::shared_ptr<const IdpDescriptor>> idps;  // every entity with an IDPSSODescriptor
    std::optional<Instant> valid_until;
    std::optional<std::chrono::seconds> cache_duration;
    std::vector<MetadataWarning> warnings;
};

// Parses IdP metadata. Entities without an IDPSSODescriptor for SAML 2.0 are skipped; an IdP
// without a signing certificate is an error for that entity (reported as a warning and
// skipped in an aggregate, an error when it is the only entity).
Result<LoadedMetadata> parse_idp_metadata(std::string_view xml, const MetadataOptions& options);

// An xs:duration as metadata's cacheDuration carries it (PT6H, P1D, PT1H30M, P1Y2M3DT4H5M6.5S).
// Strict: no negative durations, at least one component, a 'T' only before a time part.
// Years count as 365 days and months as 30 (the value only schedules a refresh); fractions of
// a second are dropped.
Result<std::chrono::seconds> parse_xs_duration(std::string_view text);

}  // namespace saml
