// The HTTP-Artifact binding, SP side: the browser brings a SAMLart; we find the IdP that made
// it, ask that IdP's ArtifactResolutionService for the message over SOAP (a signed
// ArtifactResolve, over verified TLS), check the ArtifactResponse, and hand the Response inside
// to the same ResponseValidator a POSTed Response goes through.
#pragma once

#include "error.hpp"
#include "http_client.hpp"
#include "metadata.hpp"
#include "settings.hpp"
#include "time.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace saml {

// A type 0x0004 artifact (SAML bindings 3.6.4): TypeCode, EndpointIndex, SourceID (SHA-1 of the
// issuer's entityID), MessageHandle; 44 bytes, base64 in the SAMLart parameter.
struct Artifact {
    std::string encoded;                        // as received, for the ArtifactResolve
    int endpoint_index = 0;
    std::shared_ptr<const IdpDescriptor> idp;   // whose SourceID it carries
    const Endpoint* resolution_endpoint = nullptr;  // the IdP's SOAP ArtifactResolutionService of that index
};

// BadInput: not base64, not 44 bytes, not type 0x0004. Rejected: no configured IdP has this
// SourceID, or that IdP has no SOAP ArtifactResolutionService with this index.
Result<Artifact> parse_artifact(std::string_view saml_art, const IdpRegistry& idps);

struct ArtifactResolveMessage {
    std::string id;         // the ArtifactResponse must answer it (InResponseTo)
    std::string soap_body;  // the SOAP envelope to POST
};

// A samlp:ArtifactResolve for this artifact, signed with sp.signing (enveloped, after the
// Issuer), in a SOAP 1.1 envelope. Config error when the SP has no signing key.
Result<ArtifactResolveMessage> build_artifact_resolve(const SpSettings& sp, const Artifact& artifact, Instant now);

struct ArtifactPolicy {
    bool want_artifact_response_signed = true;  // an unsigned ArtifactResponse is refused
    HttpOptions http;                           // TLS trust, client certificate, timeouts, size
};

// The Response the IdP resolved the artifact to, as a standalone document, for
// ResponseValidator::validate_xml with a ResponseEnvelope made of the rest.
struct ResolvedArtifact {
    std::string response_xml;
    std::string idp_entity_id;      // the artifact's issuer
    bool envelope_signed = false;   // the ArtifactResponse carried a signature that verified
};

// Checks the SOAP answer: one samlp:ArtifactResponse in the Body (a SOAP Fault is an error),
// Version 2.0, IssueInstant within the clock skew of now, Issuer = the artifact's IdP,
// signature by that IdP's metadata keys (required unless policy says otherwise; a present one
// must always verify), InResponseTo = request_id, Status Success, Destination (if any) = our
// ACS, and exactly one samlp:Response inside.
Result<ResolvedArtifact> check_artifact_response(std::string_view soap_xml, const Artifact& artifact,
                                                 std::string_view request_id, const SpSettings& sp,
                                                 const SecurityPolicy& security, const ArtifactPolicy& policy,
                                                 Instant now);

// How the SOAP request leaves: http_exchange in production; tests may call a local server
// through it too (it is the same function by default).
using HttpExchange = std::function<Result<HttpResponse>(const HttpRequest&, const HttpOptions&)>;

// All of it: parse, build and sign, POST to the endpoint, check the answer. Back-channel
// failures carry codes SAML0955-SAML0959 (see is_back_channel_failure).
Result<ResolvedArtifact> resolve_artifact(std::string_view saml_art, const SpSettings& sp, const IdpRegistry& idps,
                                          const SecurityPolicy& security, const ArtifactPolicy& policy, Instant now,
                                          const HttpExchange& exchange = http_exchange);

// True for errors that mean the IdP's resolver could not be reached or answered nonsense
// (a gateway problem, 502/504 for the browser), not that the user's message was refused.
bool is_back_channel_failure(const Error& error) noexcept;
bool is_back_channel_timeout(const Error& error) noexcept;

}  // namespace saml
