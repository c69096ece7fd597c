#include "logout.hpp"

#include "crypto.hpp"
#include "encoding.hpp"
#include "soap.hpp"
#include "xml.hpp"
#include "xmlenc.hpp"
#include "xmlsig.hpp"

#include <algorithm>
#include <memory>

namespace saml {

namespace {

std::string attr(const char* name, std::string_view value) {
    return std::string(" ") + name + "=\"" + xml_escape(value) + "\"";
}

std::string open_root(const char* name, const std::string& id, std::string_view destination, Instant now) {
    std::string xml = std::string("<samlp:") + name + " xmlns:samlp=\"" + ns::protocol + "\" xmlns:saml=\"" +
                      ns::assertion + "\"";
    xml += attr("ID", id);
    xml += attr("Version", "2.0");
    xml += attr("IssueInstant", format_datetime(now));
    if (!destination.empty()) xml += attr("Destination", destination);  // none on the SOAP back channel
    return xml;
}

template <typename T>
T unwrap(Result<T> result) {
    if (!result) throw Failure(result.error());
    return std::move(result).value();
}

// What both validators share: the message decoded, its root checked, its Issuer a known IdP,
// its signature verified with that IdP's keys only, and the envelope rules met. Every value
// is read afterwards from `root`, which the signature (when there is one) covers whole.
struct Received {
    XmlDoc doc;
    xmlNode* root = nullptr;
    std::string id;
    std::string issuer;
    std::string relay_state;
    bool signature_verified = false;
};

std::shared_ptr<const IdpDescriptor> known_issuer(const xmlNode* root, const IdpRegistry& idps, std::string& issuer) {
    const xmlNode* issuer_node = unique_child(root, ns::assertion, "Issuer");
    if (issuer_node == nullptr)
        fail(ErrorKind::Rejected, "SAML0722", "issuer", "the logout message names no Issuer");
    issuer = element_text(issuer_node);
    auto idp = idps.find(issuer);
    if (!idp) fail(ErrorKind::Rejected, "SAML0723", "issuer", "the Issuer '" + issuer + "' is not a known IdP");
    return idp;
}

void check_root(const xmlNode* root, const char* root_name) {
    if (!is_element(root, ns::protocol, root_name))
        fail(ErrorKind::BadInput, "SAML0720", "structure", std::string("the message is not a samlp:") + root_name);
}

Received receive(const IncomingMessage& message, bool is_request, const char* root_name, const IdpRegistry& idps,
                 const SpSettings& sp, const SecurityPolicy& policy, Instant now, IdpSeen& seen) {
    if (sp.sls_url.empty())
        fail(ErrorKind::Config, "SAML0732", "logout", "a logout message arrived but no SP logout URL is configured");
    Received out;
    std::shared_ptr<const IdpDescriptor> idp;
    if (message.binding == IncomingMessage::Binding::Redirect) {
        RedirectDecodeOptions options;
        options.max_inflated_bytes = policy.xml_limits.max_bytes;
        options.xml_limits = policy.xml_limits;
        options.algorithms = policy.algorithms;
        options.require_signature = policy.want_logout_signed;
        ReceivedRedirect received = unwrap(parse_redirect_query(message.data, options));
        if (received.message.is_request != is_request)
            fail(ErrorKind::BadInput, "SAML0733", "redirect-binding",
                 is_request ? "a LogoutRequest must come as SAMLRequest" : "a LogoutResponse must come as SAMLResponse");
        xmlNode* root = xmlDocGetRootElement(received.message.doc.get());
        check_root(root, root_name);
        // The Issuer is read before verification only to pick the keys; the signature then
        // covers the whole message, Issuer included.
        idp = known_issuer(root, idps, out.issuer);
        seen.entity_id = idp->entity_id;
        RedirectMessage verified = unwrap(verify_redirect_signature(std::move(received), idp->signing_keys(), options));
        out.doc = std::move(verified.doc);
        out.root = xmlDocGetRootElement(out.doc.get());
        out.relay_state = std::move(verified.relay_state);
        out.signature_verified = verified.signature_verified;
        seen.verified = out.signature_verified;
    } else {
        const char* what = is_request ? "SAMLRequest" : "SAMLResponse";
        const bool soap = message.binding == IncomingMessage::Binding::Soap;
        if (soap) {
            if (!is_request) fail(ErrorKind::BadInput, "SAML0736", "soap-binding", "only a LogoutRequest comes over SOAP");
            XmlLimits limits = policy.xml_limits;
            limits.max_bytes += 16 * 1024;  // the envelope around the message
            out.doc = parse_xml(message.data, limits, "SOAP LogoutRequest");
            const SoapBody body = soap_body_message(out.doc.get());
            if (body.message == nullptr) fail(ErrorKind::BadInput, "SAML0736", "soap-binding", body.problem);
            out.root = body.message;
        } else {
            const std::string xml = base64_decode(message.data, policy.xml_limits.max_bytes, what);
            out.doc = parse_xml(xml, policy.xml_limits, what);
            out.root = xmlDocGetRootElement(out.doc.get());
        }
        check_root(out.root, root_name);
        register_unique_ids(out.doc.get(), {{ns::protocol, root_name}});
        idp = known_issuer(out.root, idps, out.issuer);
        seen.entity_id = idp->entity_id;
        const SignatureState state = verify_enveloped_signature(out.root, idp->signing_keys(), policy.algorithms);
        if (state == SignatureState::Absent && (policy.want_logout_signed || soap))
            fail(ErrorKind::Rejected, "SAML0724", "signature",
                 std::string("the ") + root_name + " is not signed and a signature is required");
        out.signature_verified = state == SignatureState::Verified;
        seen.verified = out.signature_verified;
        out.relay_state.assign(message.relay_state);
    }

    const xmlNode* root = out.root;
    if (attribute(root, "Version").value_or("") != "2.0")
        fail(ErrorKind::BadInput, "SAML0721", "structure", std::string("the ") + root_name + " is not SAML 2.0");
    out.id = attribute(root, "ID").value_or("");
    if (out.id.empty()) fail(ErrorKind::BadInput, "SAML0721", "structure", std::string("the ") + root_name + " has no ID");

    const auto destination = attribute(root, "Destination");
    if (destination && *destination != sp.sls_url)
        fail(ErrorKind::Rejected, "SAML0725", "destination",
             "Destination '" + *destination + "' is not this SP's logout URL '" + sp.sls_url + "'");
    // The bindings spec requires Destination on every signed message (SAML Bindings 3.4.5.2,
    // 3.5.5.2): the Redirect signature covers the query but not the URL it was sent to, so
    // without it a signed message meant for another SP of the same IdP would pass here.
    if (!destination && out.signature_verified)
        fail(ErrorKind::Rejected, "SAML0726", "destination", "a signed logout message must carry a Destination");

    const auto issue_instant = attribute(root, "IssueInstant");
    if (!issue_instant) fail(ErrorKind::BadInput, "SAML0721", "structure", std::string("the ") + root_name + " has no IssueInstant");
    if (parse_datetime(*issue_instant, "IssueInstant") > now + policy.clock_skew)
        fail(ErrorKind::Rejected, "SAML0727", "issue-instant", "IssueInstant " + *issue_instant + " is in the future");
    return out;
}

}  // namespace

Result<OutgoingRequest> build_logout_request(const SpSettings& sp, const Endpoint& idp_slo, const NameId& name_id,
                                             std::string_view session_index, std::string_view relay_state, bool sign,
                                             Instant now) {
    return guarded([&] {
        if (name_id.value.empty())
            fail(ErrorKind::Internal, "SAML0716", "logout", "a LogoutRequest needs the session's NameID");
        const std::string id = random_id();
        std::string xml = open_root("LogoutRequest", id, idp_slo.location, now) + ">";
        xml += "<saml:Issuer>" + xml_escape(sp.entity_id) + "</saml:Issuer>";
        xml += "<saml:NameID";
        if (!name_id.format.empty()) xml += attr("Format", name_id.format);
        if (!name_id.name_qualifier.empty()) xml += attr("NameQualifier", name_id.name_qualifier);
        if (!name_id.sp_name_qualifier.empty()) xml += attr("SPNameQualifier", name_id.sp_name_qualifier);
        xml += ">" + xml_escape(name_id.value) + "</saml:NameID>";
        if (!session_index.empty()) xml += "<samlp:SessionIndex>" + xml_escape(session_index) + "</samlp:SessionIndex>";
        xml += "</samlp:LogoutRequest>";
        return unwrap(prepare_outgoing(id, std::move(xml), idp_slo, idp_slo.location, true, relay_state,
                                       sign ? &sp.signing : nullptr));
    });
}

Result<OutgoingRequest> build_logout_response(const SpSettings& sp, const Endpoint& idp_slo,
                                              std::string_view in_response_to, std::string_view status_code,
                                              std::string_view relay_state, bool sign, Instant now) {
    return guarded([&] {
        const std::string& url = idp_slo.response_location.empty() ? idp_slo.location : idp_slo.response_location;
        const std::string id = random_id();
        std::string xml = open_root("LogoutResponse", id, url, now);
        if (!in_response_to.empty()) xml += attr("InResponseTo", in_response_to);
        xml += ">";
        xml += "<saml:Issuer>" + xml_escape(sp.entity_id) + "</saml:Issuer>";
        xml += "<samlp:Status><samlp:StatusCode" + attr("Value", status_code.empty() ? status::success : status_code) +
               "/></samlp:Status>";
        xml += "</samlp:LogoutResponse>";
        return unwrap(prepare_outgoing(id, std::move(xml), idp_slo, url, false, relay_state, sign ? &sp.signing : nullptr));
    });
}

Result<std::string> build_soap_logout_response(const SpSettings& sp, std::string_view in_response_to,
                                               std::string_view status_code, std::string_view status_message, Instant now) {
    return guarded([&] {
        const std::string id = random_id();
        std::string xml = open_root("LogoutResponse", id, "", now);
        if (!in_response_to.empty()) xml += attr("InResponseTo", in_response_to);
        xml += "><saml:Issuer>" + xml_escape(sp.entity_id) + "</saml:Issuer><samlp:Status><samlp:StatusCode" +
               attr("Value", status_code.empty() ? status::success : status_code) + "/>";
        if (!status_message.empty()) xml += "<samlp:StatusMessage>" + xml_escape(status_message) + "</samlp:StatusMessage>";
        xml += "</samlp:Status></samlp:LogoutResponse>";
        XmlDoc doc = parse_xml(xml, XmlLimits{}, "LogoutResponse");
        xmlNode* root = xmlDocGetRootElement(doc.get());
        const auto algorithm = find_signature_algorithm(default_signature_algorithm(sp.signing.key.get()));
        if (!sp.signing.key || !algorithm)
            fail(ErrorKind::Config, "SAML0717", "logout", "a back-channel LogoutResponse needs the SP's signing key");
        sign_enveloped(root, first_element_child(root), sp.signing.key.get(), sp.signing.certificate.get(), *algorithm);
        return soap_envelope(serialize(root));
    });
}

Result<IncomingLogoutRequest> validate_logout_request(const IncomingMessage& message, const IdpRegistry& idps,
                                                      const SpSettings& sp, const SecurityPolicy& policy,
                                                      Instant now, ReplayCache* replay) {
    IdpSeen seen;
    return guarded([&] { return naming_idp(seen, [&] {
        Received received = receive(message, true, "LogoutRequest", idps, sp, policy, now, seen);
        const xmlNode* root = received.root;
        IncomingLogoutRequest out;

        // A replay cache can only refuse what it still holds: the request is accepted for a
        // bounded time after it was issued, and remembered for that long.
        const std::string issue_instant = attribute(root, "IssueInstant").value_or("");
        Instant accepted_until = parse_datetime(issue_instant, "IssueInstant") + kLogoutRequestLifetime;
        if (const auto not_on_or_after = attribute(root, "NotOnOrAfter")) {
            out.not_on_or_after = parse_datetime(*not_on_or_after, "NotOnOrAfter");
            if (now >= *out.not_on_or_after + policy.clock_skew)
                fail(ErrorKind::Rejected, "SAML0728", "not-on-or-after",
                     "the LogoutRequest expired at " + *not_on_or_after);
            accepted_until = std::min(accepted_until, *out.not_on_or_after);
        }
        if (now >= accepted_until + policy.clock_skew)
            fail(ErrorKind::Rejected, "SAML0728", "issue-instant",
                 "the LogoutRequest was issued at " + issue_instant + ", more than " +
                     std::to_string(kLogoutRequestLifetime.count() / 60) + " minutes ago");

        xmlNode* name_id = unique_child(root, ns::assertion, "NameID");
        XmlDoc decrypted_id;  // owns the NameID when it came as an EncryptedID
        if (name_id == nullptr) {
            if (const xmlNode* encrypted = unique_child(root, ns::assertion, "EncryptedID")) {
                // The message's signature (checked above) covers the encrypted form.
                decrypted_id = decrypt_element(encrypted, decryption_keys(sp), {policy.allow_rsa15, policy.allow_triple_des, sp.entity_id}, policy.xml_limits,
                                               &name_id);
                if (!is_element(name_id, ns::assertion, "NameID"))
                    fail(ErrorKind::Rejected, "SAML0734", "name-id", "the EncryptedID holds no NameID");
            } else if (unique_child(root, ns::assertion, "BaseID") != nullptr) {
                fail(ErrorKind::Rejected, "SAML0734", "name-id", "the LogoutRequest carries a BaseID, which this SP does not accept");
            } else {
                fail(ErrorKind::BadInput, "SAML0730", "name-id", "the LogoutRequest has no NameID");
            }
        }
        out.name_id.value = element_text(name_id);
        out.name_id.format = attribute(name_id, "Format").value_or("");
        out.name_id.name_qualifier = attribute(name_id, "NameQualifier").value_or("");
        out.name_id.sp_name_qualifier = attribute(name_id, "SPNameQualifier").value_or("");
        for (const xmlNode* index : child_elements(root, ns::protocol, "SessionIndex"))
            out.session_indexes.push_back(element_text(index));

        out.id = std::move(received.id);
        out.issuer = std::move(received.issuer);
        out.relay_state = std::move(received.relay_state);
        out.signature_verified = received.signature_verified;
        if (replay != nullptr) {
            switch (replay->remember("logout-request " + out.issuer + " " + out.id, accepted_until + policy.clock_skew)) {
                case ReplayCache::Verdict::Replayed:
                    fail(ErrorKind::Rejected, "SAML0735", "replay", "LogoutRequest " + out.id + " was already received");
                case ReplayCache::Verdict::Unavailable:
                    out.replay_unchecked = true;
                    break;
                case ReplayCache::Verdict::Fresh:
                    break;
            }
        }
        return out;
    }); });
}

Result<IncomingLogoutResponse> validate_logout_response(const IncomingMessage& message, const IdpRegistry& idps,
                                                        const SpSettings& sp, const SecurityPolicy& policy,
                                                        std::string_view expected_in_response_to, Instant now) {
    IdpSeen seen;
    return guarded([&] { return naming_idp(seen, [&] {
        Received received = receive(message, false, "LogoutResponse", idps, sp, policy, now, seen);
        const xmlNode* root = received.root;
        IncomingLogoutResponse out;

        out.in_response_to = attribute(root, "InResponseTo").value_or("");
        if (expected_in_response_to.empty())
            fail(ErrorKind::Rejected, "SAML0729", "in-response-to", "no logout request of ours is pending");
        if (out.in_response_to != expected_in_response_to)
            fail(ErrorKind::Rejected, "SAML0729", "in-response-to",
                 "InResponseTo '" + out.in_response_to + "' is not the logout request we sent");

        const xmlNode* status_node = unique_child(root, ns::protocol, "Status");
        const xmlNode* code = status_node ? unique_child(status_node, ns::protocol, "StatusCode") : nullptr;
        if (code == nullptr) fail(ErrorKind::BadInput, "SAML0731", "status", "the LogoutResponse has no StatusCode");
        out.status_code = attribute(code, "Value").value_or("");
        if (out.status_code.empty())
            fail(ErrorKind::BadInput, "SAML0731", "status", "the LogoutResponse's StatusCode has no Value");
        if (const xmlNode* second = unique_child(code, ns::protocol, "StatusCode"))
            out.second_status_code = attribute(second, "Value").value_or("");
        if (const xmlNode* text = unique_child(status_node, ns::protocol, "StatusMessage"))
            out.status_message = element_text(text);
        out.success = out.status_code == status::success;

        out.id = std::move(received.id);
        out.issuer = std::move(received.issuer);
        out.relay_state = std::move(received.relay_state);
        out.signature_verified = received.signature_verified;
        return out;
    }); });
}

}  // namespace saml
