#include "authn_request.hpp"

#include "crypto.hpp"
#include "xml.hpp"

namespace saml {

namespace {

std::string attr(const char* name, std::string_view value) {
    return std::string(" ") + name + "=\"" + xml_escape(value) + "\"";
}

}  // namespace

Result<OutgoingRequest> build_authn_request(const SpSettings& sp, const Endpoint& idp_sso,
                                            const AuthnRequestOptions& options, std::string_view relay_state,
                                            bool sign, Instant now) {
    return guarded([&] {
        const std::string& c = options.comparison;
        if (c != "exact" && c != "minimum" && c != "maximum" && c != "better")
            fail(ErrorKind::Config, "SAML0712", "authn-request", "RequestedAuthnContext Comparison '" + c + "' is not valid");
        if (options.protocol_binding != binding::post && options.protocol_binding != binding::artifact)
            fail(ErrorKind::Config, "SAML0970", "authn-request",
                 "the Response can come over HTTP-POST or HTTP-Artifact, not '" + options.protocol_binding + "'");
        if (sp.entity_id.empty() || sp.acs_url.empty())
            fail(ErrorKind::Config, "SAML0715", "authn-request", "the SP entityID and ACS URL must be set");

        const std::string id = random_id();
        std::string xml = "<samlp:AuthnRequest xmlns:samlp=\"" + std::string(ns::protocol) + "\" xmlns:saml=\"" +
                          ns::assertion + "\"";
        xml += attr("ID", id);
        xml += attr("Version", "2.0");
        xml += attr("IssueInstant", format_datetime(now));
        xml += attr("Destination", idp_sso.location);
        if (options.force_authn) xml += attr("ForceAuthn", "true");
        if (options.is_passive) xml += attr("IsPassive", "true");
        if (!options.provider_name.empty()) xml += attr("ProviderName", options.provider_name);
        xml += attr("ProtocolBinding", options.protocol_binding);
        xml += attr("AssertionConsumerServiceURL", sp.acs_url);
        xml += ">";
        xml += "<saml:Issuer>" + xml_escape(sp.entity_id) + "</saml:Issuer>";
        if (!options.name_id_format.empty() || options.allow_create) {
            xml += "<samlp:NameIDPolicy";
            if (!options.name_id_format.empty()) xml += attr("Format", options.name_id_format);
            xml += attr("AllowCreate", options.allow_create ? "true" : "false");
            xml += "/>";
        }
        if (!options.authn_context_class_refs.empty()) {
            xml += "<samlp:RequestedAuthnContext" + attr("Comparison", c) + ">";
            for (const auto& ref : options.authn_context_class_refs)
                xml += "<saml:AuthnContextClassRef>" + xml_escape(ref) + "</saml:AuthnContextClassRef>";
            xml += "</samlp:RequestedAuthnContext>";
        }
        xml += "</samlp:AuthnRequest>";

        auto out = prepare_outgoing(id, std::move(xml), idp_sso, idp_sso.location, true, relay_state,
                                    sign ? &sp.signing : nullptr);
        if (!out) throw Failure(out.error());
        return std::move(out).value();
    });
}

}  // namespace saml
