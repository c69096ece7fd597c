// What a server's SAML settings turn into at start-up: keys, IdP metadata, the session sealer
// and the core's settings, built once in check_config (so `apachectl configtest` reports a bad
// key, certificate, metadata file or secret) and shared read-only by every request.
#pragma once

#include "artifact.hpp"
#include "metadata.hpp"
#include "metadata_source.hpp"
#include "session.hpp"
#include "settings.hpp"

#include <memory>
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
    std::vector<std::unique_ptr<saml::MetadataSource>> metadata_sources;
    saml::SharedIdpRegistry registry;
    std::optional<saml::SessionSealer> sealer;
    std::string base_url;                // empty: taken from each request
    std::string endpoint_path;           // "/saml", or "" for SAMLEndpointPath /
    bool mellon_names = false;           // SAMLEndpointNames mellon: login, postResponse, logout
    std::string default_idp;             // SAMLDefaultIdP; read through default_idp_for()
    std::string discovery_url;           // SAMLDiscoveryURL; empty: the built-in chooser
    std::vector<std::string> redirect_domains;
    bool sign_authn_requests = true;
    bool replay_failure_allows = false;
    enum class ArtifactBinding { Off, Accept, Prefer };
    ArtifactBinding artifact_binding = ArtifactBinding::Off;
    saml::ArtifactPolicy artifact;       // signature policy and the back channel's TLS and timeouts

    // The SP settings with URLs for this request's public base URL.
    saml::SpSettings sp_for(const std::string& base) const;
    std::string endpoint_url(const std::string& base, const char* name) const;
    // Builds a new registry from file_idps and the sources' current IdPs and swaps it in.
    void rebuild_registry();
};

// The IdPs this request uses from start to end: one snapshot per request (a refresh that
// swaps the registry meanwhile is seen by the next request).
const saml::IdpRegistry& idps_for(request_rec* r, const Runtime& rt);

// SAMLDefaultIdP, else the only IdP of this request's registry, else empty (several: ask which).
std::string default_idp_for(request_rec* r, const Runtime& rt);

// Builds the runtime or returns a message naming the file and the fix.
const char* build_runtime(apr_pool_t* pool, server_rec* s, ServerConfig* conf);

// True when any SAML directive was given for this server (so SAML must be fully configured).
bool saml_configured(const ServerConfig* conf);

}  // namespace saml_httpd
