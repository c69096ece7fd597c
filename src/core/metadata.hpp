// IdP metadata: an EntityDescriptor or an EntitiesDescriptor aggregate, indexed by entityID.
// What the rest of the core trusts about an IdP comes from here and nowhere else.
#pragma once

#include "crypto.hpp"
#include "error.hpp"
#include "scope_pattern.hpp"
#include "time.hpp"
#include "xml.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
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

// A domain an IdP vouches for in scoped identifiers (user@scope), from shibmd:Scope in its
// metadata: a literal, compared case-insensitively, or a regular expression the whole scope
// must match.
struct IdpScope {
    std::string value;
    std::shared_ptr<const ScopePattern> pattern;  // set when regexp="true"
    bool allows(std::string_view scope) const;
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
    std::vector<IdpScope> scopes;                // shibmd:Scope of the entity and its IdP role
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

// The verified bytes of a metadata document that IdPs kept as places in it point into: the
// mmapped backup file (one copy in the page cache for all of httpd's children) or, when there is
// no file, the document itself.
class DocumentBytes {
public:
    virtual ~DocumentBytes() = default;
    virtual std::string_view bytes() const noexcept = 0;
    // After the whole document was read (verified, indexed): let this process stop holding its
    // pages. A mapped file's bytes stay readable (the page cache or the file gives them back on
    // the next read), so each process then holds only the pages of the IdPs it reads.
    virtual void release_pages() const noexcept {}
};
std::shared_ptr<const DocumentBytes> document_bytes(std::string text);

// What lists of thousands of IdPs need without reading any IdP's descriptor.
struct IdpSummary {
    std::string display_name;                          // as IdpDescriptor::display_name
    std::vector<std::string> soap_artifact_locations;  // ArtifactResolutionService, SOAP binding
};

IdpSummary summary_of(const IdpDescriptor& idp);

// An IdP of a large aggregate kept as its place in the verified document (a byte range, its
// SHA-256, the namespaces in scope there) and read into an IdpDescriptor on first use: a
// federation's 10,000 IdPs then cost each process a small index instead of a parsed copy of
// every IdP, most of which this site's users never pick.
class LazyIdp {
public:
    struct Place {
        std::shared_ptr<const DocumentBytes> document;
        std::size_t begin = 0;
        std::size_t end = 0;
        std::string sha256;                            // of bytes [begin, end), checked before reading
        std::shared_ptr<const std::string> open_tag;   // an element declaring the namespaces in scope
        std::optional<Instant> outer_valid_until;      // validUntil/cacheDuration of the ancestors
        std::optional<std::chrono::seconds> outer_cache_duration;
        std::optional<Instant> valid_until;            // the IdP's own, as IdpDescriptor::valid_until
    };
    LazyIdp(std::string entity_id, IdpSummary summary, Place place)
        : entity_id_(std::move(entity_id)), summary_(std::move(summary)), place_(std::move(place)) {}
    const std::string& entity_id() const noexcept { return entity_id_; }
    const IdpSummary& summary() const noexcept { return summary_; }
    const std::optional<Instant>& valid_until() const noexcept { return place_.valid_until; }
    // Read once, thread-safe. nullptr when the bytes no longer match what was verified or do not
    // read back (failure() says why): that IdP is then unknown, closed rather than open.
    std::shared_ptr<const IdpDescriptor> descriptor() const;
    std::string failure() const;

private:
    std::string entity_id_;
    IdpSummary summary_;
    Place place_;
    mutable std::once_flag read_;
    mutable std::shared_ptr<const IdpDescriptor> descriptor_;
    mutable std::string failure_;
};

class IdpRegistry {
public:
    // nullptr when the entityID is unknown (or its stored metadata is unusable, see LazyIdp).
    std::shared_ptr<const IdpDescriptor> find(std::string_view entity_id) const;
    bool contains(std::string_view entity_id) const;
    void add(std::shared_ptr<const IdpDescriptor> idp);  // a later one with the same ID replaces
    void add(std::shared_ptr<const LazyIdp> idp);
    std::size_t size() const noexcept { return by_entity_id_.size(); }
    std::vector<std::string> entity_ids() const;  // sorted
    // Why find() gave nullptr for an entityID the registry has (its stored metadata could not
    // be read back, SAML0936); empty otherwise.
    std::string unusable_reason(std::string_view entity_id) const;
    // Without reading a lazily kept IdP; nullopt when the entityID is unknown.
    std::optional<IdpSummary> summary(std::string_view entity_id) const;
    // The IdP whose entityID has this SHA-1 (an artifact's SourceID); nullptr when none. The
    // index is built on the first call (a registry is complete before it is shared).
    std::shared_ptr<const IdpDescriptor> find_by_source_id(std::string_view source_id) const;

private:
    struct SourceIds {
        std::once_flag built;
        bool indexed = false;
        std::unordered_map<std::string, std::string> entity_ids;  // SHA-1 -> entityID
    };
    struct Entry {
        std::shared_ptr<const IdpDescriptor> descriptor;
        std::shared_ptr<const LazyIdp> lazy;
    };
    std::unordered_map<std::string, Entry> by_entity_id_;
    std::unique_ptr<SourceIds> source_ids_ = std::make_unique<SourceIds>();
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
    // Set (with defer_certificates) for the document whose bytes these are: its IdPs come back as
    // LoadedMetadata::lazy_idps pointing into it instead of parsed descriptors.
    std::shared_ptr<const DocumentBytes> keep_as_places;
};

// Documents larger than this (federation aggregates) are loaded with defer_certificates; smaller
// ones decode every certificate at load, with its checks and notices.
inline constexpr std::size_t defer_certificates_above = 1024 * 1024;

struct MetadataWarning {
    std::string code;     // stable id, e.g. "SAML0405"
    std::string message;  // e.g. an expired signing certificate (still trusted: SAML trusts keys, not dates)
    // Warning: something the administrator must change for logins to work (SAML1105); Notice:
    // worth knowing.
    enum class Level { Notice, Warning } level = Level::Notice;
};

struct LoadedMetadata {
    std::vector<std::shared_ptr<const IdpDescriptor>> idps;  // every entity with an IDPSSODescriptor
    std::vector<std::shared_ptr<const LazyIdp>> lazy_idps;   // instead, with MetadataOptions::keep_as_places
    std::size_t idp_count() const noexcept { return idps.size() + lazy_idps.size(); }
    std::optional<Instant> valid_until;
    std::optional<std::chrono::seconds> cache_duration;
    std::vector<MetadataWarning> warnings;
};

// Parses IdP metadata. A document that is something else people save as metadata (an HTML page,
// a PEM or DER certificate, JSON) is refused with SAML1104 saying what it is and what to download
// instead. Entities without an IDPSSODescriptor for SAML 2.0 are skipped; an IdP
// without a signing certificate is an error for that entity (reported as a warning and
// skipped in an aggregate, an error when it is the only entity).
Result<LoadedMetadata> parse_idp_metadata(std::string_view xml, const MetadataOptions& options);

// An xs:duration as metadata's cacheDuration carries it (PT6H, P1D, PT1H30M, P1Y2M3DT4H5M6.5S).
// Strict: no negative durations, at least one component, a 'T' only before a time part.
// Years count as 365 days and months as 30 (the value only schedules a refresh); fractions of
// a second are dropped.
Result<std::chrono::seconds> parse_xs_duration(std::string_view text);

}  // namespace saml
