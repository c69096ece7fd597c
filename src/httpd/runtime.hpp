// What a server's SAML settings turn into at start-up: keys, IdP metadata, the session sealer
// and the core's settings, built once in check_config (so `apachectl configtest` reports a bad
// key, certificate, metadata file or secret) and shared read-only by every request.
#pragma once

#include "artifact.hpp"
#include "metadata.hpp"
#include "metadata_expiry.hpp"
#include "metadata_source.hpp"
#include "session.hpp"
#include "settings.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <httpd.h>

namespace saml_httpd {

struct ServerConfig;

struct Runtime {
    saml::SpSettings sp;                 // acs_url/sls_url filled when base_url is known
    saml::SecurityPolicy policy;
    // The IdPs in use: SAMLIdPMetadataFile's, fixed at start, plus SAMLIdPMetadataURL's, which the
    // refresh thread of each child replaces (metadata_refresh.cpp). Read them through idps_for().
    std::vector<std::shared_ptr<const saml::IdpDescriptor>> file_idps;
    // Each SAMLIdPMetadataFile and its first validUntil: said at start, once a day while httpd
    // runs (remind_metadata_expiry) and in saml-status.
    struct MetadataFile {
        std::string path;
        std::optional<saml::FirstExpiry> first_expiry;
    };
    std::vector<MetadataFile> metadata_files;
    std::chrono::seconds metadata_warning_ahead{0};     // SAMLIdPMetadataFileWarning
    std::chrono::seconds metadata_reminder_interval{0};
    bool sign_metadata = true;                           // SAMLSPMetadataSigned
    // The SP metadata each public base URL was last served with: signing it costs an RSA or ECDSA
    // signature (about 2 ms for RSA-3072), on an endpoint anyone may call as often as they like.
    // A few base URLs at most (one per name the server answers on); past that, oldest out.
    struct ServedMetadata {
        std::mutex mutex;
        std::vector<std::pair<std::string, std::string>> by_base_url;
    };
    std::shared_ptr<ServedMetadata> served_metadata = std::make_shared<ServedMetadata>();
    std::vector<std::unique_ptr<saml::MetadataSource>> metadata_sources;
    // Held while the sources are stepped or catch up with a newer backup: by the child's refresh
    // thread, and by a request that finds the backup newer than what this process holds
    // (follow_newer_metadata). A MetadataSource is for one thread at a time.
    std::shared_ptr<std::mutex> metadata_lock = std::make_shared<std::mutex>();
    // Swapped whole (atomically) by the refresh thread or by a request catching up, read by every
    // request through idps_for(): mutable because a request catching up replaces it.
    mutable saml::SharedIdpRegistry registry;
    std::optional<saml::SessionSealer> sealer;
    std::string base_url;                // empty: taken from each request
    std::string endpoint_path;           // "/saml", or "" for SAMLEndpointPath /
    bool mellon_names = false;           // SAMLEndpointNames mellon: login, postResponse, logout
    std::string default_idp;             // SAMLDefaultIdP; read through default_idp_for()
    std::string discovery_url;           // SAMLDiscoveryURL; empty: the built-in chooser
    std::vector<std::string> redirect_domains;
    bool sign_authn_requests = true;
    bool replay_failure_allows = false;
    bool sessions_in_cache = false;      // SAMLSessionStore cache (session_store.hpp)
    enum class ArtifactBinding { Off, Accept, Prefer };
    ArtifactBinding artifact_binding = ArtifactBinding::Off;
    saml::ArtifactPolicy artifact;       // signature policy and the back channel's TLS and timeouts

    // The SP settings with URLs for this request's public base URL.
    saml::SpSettings sp_for(const std::string& base) const;
    std::string endpoint_url(const std::string& base, const char* name) const;
    // Builds a new registry from file_idps and the sources' current IdPs and swaps it in (with
    // metadata_lock held, or before the children exist).
    void rebuild_registry() const;
};

// The IdPs this request uses from start to end: one snapshot per request (a refresh that
// swaps the registry meanwhile is seen by the next request). Taken after catching up with a
// backup another process wrote (follow_newer_metadata), so that no child, however recently
// started, trusts older metadata than its siblings.
const saml::IdpRegistry& idps_for(request_rec* r, const Runtime& rt);

// SAMLDefaultIdP, else the only IdP of this request's registry, else empty (several: ask which).
std::string default_idp_for(request_rec* r, const Runtime& rt);

// While httpd runs: the SAML1100/SAML1101 line of each metadata file that expires within the
// warning time or has expired, at most once a day across all children (the first request to an
// endpoint after the day is up says it). Cheap when nothing is due: one atomic read.
void remind_metadata_expiry(server_rec* s, const Runtime& rt);

// For saml-status: each SAMLIdPMetadataFile of any server that has a validUntil, once, with the first.
struct MetadataFileStatus {
    std::string path;
    long long valid_until;                 // Unix seconds
    std::string summary;                   // "valid until 2026-12-17T00:00:00Z (in 14 days)", "expired ..."
};
std::vector<MetadataFileStatus> metadata_file_status();

// Builds the runtime or returns a message naming the file and the fix.
const char* build_runtime(apr_pool_t* pool, server_rec* s, ServerConfig* conf);

// True when any SAML directive was given for this server (so SAML must be fully configured).
bool saml_configured(const ServerConfig* conf);

}  // namespace saml_httpd
