#include "artifact.hpp"

#include "encoding.hpp"
#include "soap.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <optional>

namespace saml {

namespace {

constexpr std::size_t kArtifactBytes = 44;  // 2 type + 2 index + 20 SourceID + 20 MessageHandle
constexpr const char* kStatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success";

[[noreturn]] void reject(const char* code, const char* rule, std::string detail) {
    fail(ErrorKind::Rejected, code, rule, std::move(detail));
}

[[noreturn]] void back_channel(const char* code, std::string detail) {
    fail(ErrorKind::BadInput, code, "artifact-resolution", std::move(detail));
}

std::string attr(const char* name, std::string_view value) {
    return std::string(" ") + name + "=\"" + xml_escape(value) + "\"";
}


// The Response element moved into a document of its own: namespaces it inherited from the
// ArtifactResponse or the SOAP envelope are declared on it, so it stands alone.
std::string standalone(const xmlNode* response) {
    XmlDoc doc(xmlNewDoc(BAD_CAST "1.0"));
    if (!doc) throw std::bad_alloc();
    xmlNode* copy = xmlDocCopyNode(const_cast<xmlNode*>(response), doc.get(), 1);
    if (copy == nullptr) throw std::bad_alloc();
    xmlDocSetRootElement(doc.get(), copy);
    xmlReconciliateNs(doc.get(), copy);
    return serialize(copy);
}

}  // namespace

Result<Artifact> parse_artifact(std::string_view saml_art, const IdpRegistry& idps) {
    return guarded([&] {
        if (saml_art.empty() || saml_art.size() > 200)
            fail(ErrorKind::BadInput, "SAML0950", "artifact",
                 "SAMLart is " + std::to_string(saml_art.size()) + " characters; a type 0x0004 artifact has 60");
        std::string bytes;
        try {
            bytes = base64_decode(saml_art, 128, "SAMLart");
        } catch (const Failure& bad) {
            fail(ErrorKind::BadInput, "SAML0950", "artifact", "SAMLart is not base64: " + bad.error().detail);
        }
        if (bytes.size() != kArtifactBytes)
            fail(ErrorKind::BadInput, "SAML0950", "artifact",
                 "SAMLart decodes to " + std::to_string(bytes.size()) + " bytes, not 44");
        const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
        const int type = byte(0) << 8 | byte(1);
        if (type != 0x0004)
            fail(ErrorKind::BadInput, "SAML0951", "artifact",
                 "artifact type code " + hex_encode(bytes.substr(0, 2)) + " is not 0004");
        Artifact artifact;
        artifact.encoded = std::string(saml_art);
        artifact.endpoint_index = byte(2) << 8 | byte(3);
        const std::string source_id = bytes.substr(4, 20);
        artifact.idp = idps.find_by_source_id(source_id);
        if (!artifact.idp)
            reject("SAML0952", "artifact", "no configured IdP has the artifact's SourceID " + hex_encode(source_id));
        for (const auto& endpoint : artifact.idp->artifact_resolution)
            if (endpoint.index == artifact.endpoint_index && endpoint.binding == binding::soap)
                artifact.resolution_endpoint = &endpoint;
        if (artifact.resolution_endpoint == nullptr)
            reject("SAML0953", "artifact",
                   "the IdP's metadata has no SOAP ArtifactResolutionService with index " +
                       std::to_string(artifact.endpoint_index));
        return artifact;
    });
}

Result<ArtifactResolveMessage> build_artifact_resolve(const SpSettings& sp, const Artifact& artifact, Instant now) {
    return guarded([&] {
        if (!sp.signing.key)
            fail(ErrorKind::Config, "SAML0954", "artifact-resolve", "the ArtifactResolve must be signed and no SP key is set");
        if (artifact.resolution_endpoint == nullptr)
            fail(ErrorKind::Internal, "SAML0954", "artifact-resolve", "the artifact names no resolution endpoint");
        ArtifactResolveMessage message;
        message.id = random_id();
        std::string xml = "<samlp:ArtifactResolve xmlns:samlp=\"" + std::string(ns::protocol) + "\" xmlns:saml=\"" +
                          ns::assertion + "\"";
        xml += attr("ID", message.id);
        xml += attr("Version", "2.0");
        xml += attr("IssueInstant", format_datetime(now));
        xml += attr("Destination", artifact.resolution_endpoint->location);
        xml += "><saml:Issuer>" + xml_escape(sp.entity_id) + "</saml:Issuer>";
        xml += "<samlp:Artifact>" + xml_escape(artifact.encoded) + "</samlp:Artifact></samlp:ArtifactResolve>";

        XmlDoc doc = parse_xml(xml, XmlLimits{}, "ArtifactResolve");
        xmlNode* root = xmlDocGetRootElement(doc.get());
        const auto algorithm = find_signature_algorithm(default_signature_algorithm(sp.signing.key.get()));
        if (!algorithm) fail(ErrorKind::Config, "SAML0954", "artifact-resolve", "the SP key has no usable algorithm");
        sign_enveloped(root, first_element_child(root), sp.signing.key.get(), sp.signing.certificate.get(), *algorithm);
        message.soap_body = soap_envelope(serialize(root));
        return message;
    });
}

Result<ResolvedArtifact> check_artifact_response(std::string_view soap_xml, const Artifact& artifact,
                                                 std::string_view request_id, const SpSettings& sp,
                                                 const SecurityPolicy& security, const ArtifactPolicy& policy,
                                                 Instant now) {
    return guarded([&] {
        // The envelope and the ArtifactResponse add a little around the Response.
        XmlLimits limits = security.xml_limits;
        limits.max_bytes += 64 * 1024;
        XmlDoc doc = parse_xml(soap_xml, limits, "ArtifactResponse");

        // SOAP: Envelope / [Header] / Body / exactly one element.
        const SoapBody body = soap_body_message(doc.get());
        if (body.message == nullptr) back_channel("SAML0958", "the resolver's answer: " + body.problem);
        xmlNode* message = body.message;
        if (!is_element(message, ns::protocol, "ArtifactResponse"))
            back_channel("SAML0958", "the SOAP Body holds " + name_of(message) + ", not samlp:ArtifactResponse");

        register_unique_ids(doc.get(), {{ns::protocol, "ArtifactResponse"},
                                        {ns::protocol, "Response"},
                                        {ns::assertion, "Assertion"}});
        if (attribute(message, "Version").value_or("") != "2.0")
            back_channel("SAML0959", "the ArtifactResponse's Version is not 2.0");
        required_attribute(message, "ID", "artifact-response");

        // Issuer first: it decides whose keys may verify the signature.
        xmlNode* issuer = unique_child(message, ns::assertion, "Issuer");
        if (issuer == nullptr) reject("SAML0961", "artifact-issuer", "the ArtifactResponse names no Issuer");
        const std::string issuer_value = element_text(issuer);
        if (issuer_value != artifact.idp->entity_id)
            reject("SAML0961", "artifact-issuer",
                   "the ArtifactResponse comes from '" + issuer_value + "', not the artifact's IdP " + artifact.idp->entity_id);

        ResolvedArtifact resolved;
        resolved.idp_entity_id = artifact.idp->entity_id;
        resolved.envelope_signed = verify_enveloped_signature(message, artifact.idp->signing_keys(),
                                                              security.algorithms) == SignatureState::Verified;
        if (!resolved.envelope_signed && policy.want_artifact_response_signed)
            reject("SAML0960", "artifact-signature",
                   "the ArtifactResponse is not signed and SAMLArtifactResponseSigned is on");

        const Instant issued = parse_datetime(required_attribute(message, "IssueInstant", "artifact-response"), "IssueInstant");
        if (issued > now + security.clock_skew || issued < now - security.clock_skew)
            reject("SAML0965", "artifact-freshness",
                   "the ArtifactResponse was issued at " + format_datetime(issued) + ", not now (" + format_datetime(now) + ")");
        const auto in_response_to = attribute(message, "InResponseTo");
        if (!in_response_to || *in_response_to != request_id)
            reject("SAML0962", "artifact-in-response-to",
                   "the ArtifactResponse answers '" + in_response_to.value_or("") + "', not our ArtifactResolve " +
                       std::string(request_id));
        if (const auto destination = attribute(message, "Destination"); destination && *destination != sp.acs_url)
            reject("SAML0964", "artifact-destination",
                   "the ArtifactResponse's Destination '" + *destination + "' is not this ACS (" + sp.acs_url + ")");

        xmlNode* status = unique_child(message, ns::protocol, "Status");
        xmlNode* code = status ? unique_child(status, ns::protocol, "StatusCode") : nullptr;
        const std::string status_value = code ? attribute(code, "Value").value_or("") : "";
        if (status_value != kStatusSuccess) {
            std::string detail = "the resolver answered " + (status_value.empty() ? std::string("no status") : status_value);
            if (xmlNode* sub = code ? unique_child(code, ns::protocol, "StatusCode") : nullptr)
                detail += " / " + attribute(sub, "Value").value_or("");
            reject("SAML0963", "artifact-status", detail);
        }

        // The message: what follows Issuer, Signature, Extensions and Status.
        std::vector<xmlNode*> carried;
        for (xmlNode* child = first_element_child(message); child != nullptr; child = next_element_sibling(child)) {
            if (child == issuer || child == status || is_element(child, ns::dsig, "Signature") ||
                is_element(child, ns::protocol, "Extensions"))
                continue;
            carried.push_back(child);
        }
        if (carried.empty())
            reject("SAML0966", "artifact-message",
                   "the IdP resolved the artifact to nothing: it was already used, has expired, or was never issued");
        if (carried.size() > 1)
            reject("SAML0967", "artifact-message",
                   "the ArtifactResponse carries " + std::to_string(carried.size()) + " messages, not one Response");
        if (!is_element(carried.front(), ns::protocol, "Response"))
            reject("SAML0967", "artifact-message",
                   "the ArtifactResponse carries " + name_of(carried.front()) + ", not samlp:Response");
        resolved.response_xml = standalone(carried.front());
        return resolved;
    });
}

Result<ResolvedArtifact> resolve_artifact(std::string_view saml_art, const SpSettings& sp, const IdpRegistry& idps,
                                          const SecurityPolicy& security, const ArtifactPolicy& policy, Instant now,
                                          const HttpExchange& exchange) {
    auto artifact = parse_artifact(saml_art, idps);
    if (!artifact) return artifact.error();
    auto resolve = build_artifact_resolve(sp, artifact.value(), now);
    if (!resolve) return resolve.error();

    HttpRequest request;
    request.url = artifact.value().resolution_endpoint->location;
    request.method = "POST";
    request.body = resolve.value().soap_body;
    request.headers = {"Content-Type: text/xml; charset=utf-8",
                       "SOAPAction: \"http://www.oasis-open.org/committees/security\"", "Accept: text/xml"};
    HttpOptions http = policy.http;
    http.max_redirects = 0;  // the endpoint is the one metadata names, not wherever it points
    http.max_body = security.xml_limits.max_bytes + 64 * 1024;
    auto answer = exchange(request, http);
    if (!answer) {
        const Error& cause = answer.error();
        const char* code = cause.code == "SAML0905" ? "SAML0956" : cause.code == "SAML0901" ? "SAML0969" : "SAML0955";
        return Error{ErrorKind::BadInput, code, "artifact-resolution",
                     "resolving the artifact at " + request.url + " failed: " + cause.code + " " + cause.detail};
    }
    if (answer.value().status != 200)
        return Error{ErrorKind::BadInput, "SAML0957", "artifact-resolution",
                     "the resolver at " + request.url + " answered HTTP " + std::to_string(answer.value().status)};
    return check_artifact_response(answer.value().body, artifact.value(), resolve.value().id, sp, security, policy, now);
}

bool is_back_channel_failure(const Error& error) noexcept {
    return error.code == "SAML0955" || error.code == "SAML0956" || error.code == "SAML0957" ||
           error.code == "SAML0958" || error.code == "SAML0959" || error.code == "SAML0969";
}

bool is_back_channel_timeout(const Error& error) noexcept { return error.code == "SAML0956"; }

}  // namespace saml
