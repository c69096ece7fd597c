// IdP metadata: an EntityDescriptor or an EntitiesDescriptor aggregate, indexed by entityID.
// What the rest of the core trusts about an IdP comes from here and nowhere else.
#pragma once

#include "crypto.hpp"
#include "error.hpp"
#include "time.hpp"
#include "xml.hpp"

#include <chrono>
#include <memory>
#include <mutex>
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

// The certificates of one IdP kept as DER until the IdP is first used (see
// MetadataOptions::defer_certificates): decoding a certificate costs OpenSSL 3 about 130 us and
// its X509 object some 6 KB, which for a 10,000-IdP aggregate is over a second and 60 MB in
// every process, for IdPs most of which no user of this site ever picks.
class DeferredCertificates {
public:
    void add(std::string der, bool for_signing, bool for_encryption);
    bool has_signing() const noexcept;
    // Decoded once, on first call, thread-safe; an unreadable certificate is left out (that
    // IdP's messages then fail verification: closed, not open).
    const std::vector<TrustedCertificate>& signing() const;
    const std::vector<TrustedCertificate>& encryption() const;

private:
    struct Entry {
        std::string der;
        bool for_signing;
        bool for_encryption;
    };
    void decode() const;
    std::vector<Entry> entries_;
    mutable std::once_flag decoded_;
    mutable std::vector<TrustedCertificate> signing_;
    mutable std::vector<TrustedCertificate> encryption_;
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
    // Set instead of signing/encryption when the certificates were deferred; read the keys
    // through signing_keys() / signing_certificates(), which handle both.
    std::shared_ptr<const DeferredCertificates> deferred;
    std::vector<std::string> name_id_formats;
    bool want_authn_requests_signed = false;
    std::optional<Instant> valid_until;          // the nearest validUntil on the path to it
    std::optional<std::chrono::seconds> cache_duration;

    // Non-owning views of the signing keys, for verification.
    std::vector<EVP_PKEY*> signing_keys() const;
    const std::vector<TrustedCertificate>& signing_certificates() const;
    const std::vector<TrustedCertificate>& encryption_certificates() const;
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
    // Keep certificates as DER and decode them on an IdP's first use (DeferredCertificates):
    // for large aggregates. A certificate is then only checked for base64 and size at load, and
    // expired-certificate notices (SAML0405) are not given.
    bool defer_certificates = false;
};

// Documents larger than this (federation aggregates) are loaded with defer_certificates; smaller
// ones decode every certificate at load, with its checks and notices.
inline constexpr std::size_t defer_certificates_above = 1024 * 1024;

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
