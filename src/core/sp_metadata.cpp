#include "sp_metadata.hpp"

#include "idp_discovery.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <openssl/x509.h>

#include <string_view>

namespace saml {

namespace {

using std::chrono::seconds;

[[noreturn]] void config_error(const char* code, std::string detail) {
    fail(ErrorKind::Config, code, "sp-metadata", std::move(detail));
}

// XML 1.0 can carry only well-formed UTF-8 without C0 controls other than tab, LF and CR;
// anything else would make the document unparsable for the IdP, so say so here.
void check_xml_text(std::string_view value, const char* field) {
    auto refuse = [&](const char* why) {
        config_error("SAML0451", std::string(field) + " " + why + " and cannot be put in metadata");
    };
    std::size_t i = 0;
    while (i < value.size()) {
        const auto lead = static_cast<unsigned char>(value[i]);
        if (lead < 0x80) {
            if (lead < 0x20 && lead != '\t' && lead != '\n' && lead != '\r') refuse("holds a control character");
            ++i;
            continue;
        }
        std::size_t length = 0;
        unsigned long code_point = 0;
        if ((lead & 0xe0) == 0xc0) { length = 2; code_point = lead & 0x1f; }
        else if ((lead & 0xf0) == 0xe0) { length = 3; code_point = lead & 0x0f; }
        else if ((lead & 0xf8) == 0xf0) { length = 4; code_point = lead & 0x07; }
        else refuse("is not UTF-8");
        if (i + length > value.size()) refuse("is not UTF-8");
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(value[i + k]);
            if ((next & 0xc0) != 0x80) refuse("is not UTF-8");
            code_point = (code_point << 6) | (next & 0x3f);
        }
        static constexpr unsigned long shortest[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code_point < shortest[length] || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff))
            refuse("is not UTF-8");
        if (code_point == 0xfffe || code_point == 0xffff) refuse("holds a non-character");
        i += length;
    }
}

std::string escaped(std::string_view value, const char* field) {
    check_xml_text(value, field);
    return xml_escape(value);
}

// The canonical xs:duration for a whole number of seconds: PnDTnHnMnS with zero parts left out.
std::string format_duration(seconds duration) {
    long long rest = duration.count();
    if (rest < 0) config_error("SAML0455", "cacheDuration must not be negative");
    const long long days = rest / 86400;
    rest %= 86400;
    const long long hours = rest / 3600;
    rest %= 3600;
    const long long minutes = rest / 60;
    const long long secs = rest % 60;
    std::string out = "P";
    if (days > 0) out += std::to_string(days) + "D";
    if (hours > 0 || minutes > 0 || secs > 0 || days == 0) {
        out += "T";
        if (hours > 0) out += std::to_string(hours) + "H";
        if (minutes > 0) out += std::to_string(minutes) + "M";
        if (secs > 0 || (hours == 0 && minutes == 0)) out += std::to_string(secs) + "S";
    }
    return out;
}

// An xs:ID is an NCName; we allow the safe ASCII subset.
void check_id(const std::string& id) {
    auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    bool ok = !id.empty() && id.size() <= 256 && letter(id.front());
    for (char c : id) ok = ok && (letter(c) || (c >= '0' && c <= '9') || c == '-' || c == '.');
    if (!ok) config_error("SAML0456", "the metadata ID must be an NCName such as _a1b2 (letters, digits, '_', '-', '.')");
}

bool is_contact_type(const std::string& type) {
    return type == "technical" || type == "support" || type == "administrative" || type == "billing" || type == "other";
}

void key_descriptor(std::string& out, const char* use, const X509* cert, const char* encryption_methods) {
    out += "    <md:KeyDescriptor use=\"";
    out += use;
    out += "\">\n      <ds:KeyInfo>\n        <ds:X509Data>\n          <ds:X509Certificate>";
    out += certificate_base64(cert);
    out += "</ds:X509Certificate>\n        </ds:X509Data>\n      </ds:KeyInfo>\n";
    out += encryption_methods;
    out += "    </md:KeyDescriptor>\n";
}

std::string encryption_methods(const X509* cert) {
    // Strongest first: the IdP picks the first it supports. AES-GCM avoids CBC padding oracles.
    std::string out =
        "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\n"
        "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes128-gcm\"/>\n"
        "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\"/>\n"
        "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n";
    // RSA-OAEP key transport only makes sense for an RSA key.
    if (key_type(certificate_public_key(cert).get()) == KeyType::Rsa)
        out += "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>\n";
    return out;
}

void endpoint(std::string& out, const char* element, const char* binding_uri, const std::string& location,
              const char* extra = "") {
    out += "    <md:";
    out += element;
    out += " Binding=\"";
    out += binding_uri;
    out += "\" Location=\"" + escaped(location, element) + "\"";
    out += extra;
    out += "/>\n";
}

void organization(std::string& out, const SpOrganization& org) {
    if (org.name.empty() || org.display_name.empty() || org.url.empty())
        config_error("SAML0458", "an Organization needs a name, a display name and a URL");
    const std::string lang = escaped(org.lang.empty() ? "en" : org.lang, "Organization language");
    out += "  <md:Organization>\n";
    out += "    <md:OrganizationName xml:lang=\"" + lang + "\">" + escaped(org.name, "OrganizationName") +
           "</md:OrganizationName>\n";
    out += "    <md:OrganizationDisplayName xml:lang=\"" + lang + "\">" +
           escaped(org.display_name, "OrganizationDisplayName") + "</md:OrganizationDisplayName>\n";
    out += "    <md:OrganizationURL xml:lang=\"" + lang + "\">" + escaped(org.url, "OrganizationURL") +
           "</md:OrganizationURL>\n";
    out += "  </md:Organization>\n";
}

void contact(std::string& out, const SpContact& person) {
    if (!is_contact_type(person.type))
        config_error("SAML0457", "contact type '" + xml_escape(person.type.substr(0, 32)) +
                                     "' is not technical, support, administrative, billing or other");
    out += "  <md:ContactPerson contactType=\"" + person.type + "\">\n";
    if (!person.company.empty()) out += "    <md:Company>" + escaped(person.company, "Company") + "</md:Company>\n";
    if (!person.given_name.empty())
        out += "    <md:GivenName>" + escaped(person.given_name, "GivenName") + "</md:GivenName>\n";
    if (!person.surname.empty()) out += "    <md:SurName>" + escaped(person.surname, "SurName") + "</md:SurName>\n";
    if (!person.email.empty()) {
        const std::string address = person.email.rfind("mailto:", 0) == 0 ? person.email : "mailto:" + person.email;
        out += "    <md:EmailAddress>" + escaped(address, "EmailAddress") + "</md:EmailAddress>\n";
    }
    out += "  </md:ContactPerson>\n";
}

SignatureAlgorithm signing_algorithm(const SpSettings& settings, const SpMetadataOptions& options) {
    const std::string uri = options.signature_algorithm.empty() ? default_signature_algorithm(settings.signing.key.get())
                                                                : options.signature_algorithm;
    auto alg = find_signature_algorithm(uri);
    if (!alg) config_error("SAML0454", "unknown signature algorithm '" + xml_escape(uri.substr(0, 128)) + "'");
    if (alg->key_type != key_type(settings.signing.key.get()))
        config_error("SAML0454", "the signature algorithm '" + uri + "' does not fit the signing key's type");
    return *alg;
}

std::string build(const SpSettings& settings, const SpMetadataOptions& options, const std::string& id) {
    if (settings.entity_id.empty()) config_error("SAML0450", "the SP has no entityID");
    if (settings.acs_url.empty()) config_error("SAML0450", "the SP has no AssertionConsumerService URL");
    if (options.authn_requests_signed && !settings.signing.certificate)
        config_error("SAML0452", "AuthnRequestsSigned is promised but no signing certificate is configured");

    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
           "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"" +
           escaped(settings.entity_id, "entityID") + "\" ID=\"" + id + "\"";
    if (options.valid_until) out += " validUntil=\"" + format_datetime(*options.valid_until) + "\"";
    if (options.cache_duration) out += " cacheDuration=\"" + format_duration(*options.cache_duration) + "\"";
    out += ">\n";

    out += "  <md:SPSSODescriptor AuthnRequestsSigned=\"";
    out += options.authn_requests_signed ? "true" : "false";
    out += "\" WantAssertionsSigned=\"";
    out += options.want_assertions_signed ? "true" : "false";
    out += "\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n";
    if (!options.discovery_response_url.empty()) {
        // RoleDescriptor order: Extensions before the KeyDescriptors.
        out += "    <md:Extensions>\n      <idpdisc:DiscoveryResponse xmlns:idpdisc=\"";
        out += idp_discovery::ns;
        out += "\" Binding=\"";
        out += idp_discovery::ns;
        out += "\" Location=\"" + escaped(options.discovery_response_url, "DiscoveryResponse") +
               "\" index=\"0\" isDefault=\"true\"/>\n    </md:Extensions>\n";
    }

    if (settings.signing.certificate) key_descriptor(out, "signing", settings.signing.certificate.get(), "");
    for (const auto& cert : settings.rollover_certificates)
        if (cert) key_descriptor(out, "signing", cert.get(), "");
    if (settings.encryption.certificate)
        key_descriptor(out, "encryption", settings.encryption.certificate.get(),
                       encryption_methods(settings.encryption.certificate.get()).c_str());

    if (!settings.sls_url.empty()) {
        endpoint(out, "SingleLogoutService", binding::redirect, settings.sls_url);
        endpoint(out, "SingleLogoutService", binding::post, settings.sls_url);
        if (options.soap_logout) endpoint(out, "SingleLogoutService", binding::soap, settings.sls_url);
    }
    for (const auto& format : settings.name_id_formats)
        out += "    <md:NameIDFormat>" + escaped(format, "NameIDFormat") + "</md:NameIDFormat>\n";
    endpoint(out, "AssertionConsumerService", binding::post, settings.acs_url, " index=\"0\" isDefault=\"true\"");
    // The same URL takes a SAMLart; the AuthnRequest's ProtocolBinding says which one to use.
    if (options.artifact_acs) endpoint(out, "AssertionConsumerService", binding::artifact, settings.acs_url, " index=\"1\"");
    out += "  </md:SPSSODescriptor>\n";

    if (options.organization) organization(out, *options.organization);
    for (const auto& person : options.contacts) contact(out, person);
    out += "</md:EntityDescriptor>\n";
    return out;
}

std::string sign(const std::string& unsigned_xml, const SpSettings& settings, const SpMetadataOptions& options) {
    if (!settings.signing.key || !settings.signing.certificate)
        config_error("SAML0452", "signing the metadata needs the SP signing key and certificate");
    if (!key_matches_certificate(settings.signing.key.get(), settings.signing.certificate.get()))
        config_error("SAML0453", "the SP signing key does not match its certificate");
    const SignatureAlgorithm alg = signing_algorithm(settings, options);
    XmlDoc doc = parse_xml(unsigned_xml, XmlLimits{16 * 1024 * 1024, 16}, "SP metadata");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    // The schema wants ds:Signature as the EntityDescriptor's first child.
    sign_enveloped(root, nullptr, settings.signing.key.get(), settings.signing.certificate.get(), alg);
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + serialize(root) + "\n";
}

}  // namespace

Result<std::string> generate_sp_metadata(const SpSettings& settings, const SpMetadataOptions& options) {
    return guarded([&] {
        std::string id = options.id.empty() ? random_id() : options.id;
        check_id(id);
        std::string xml = build(settings, options, id);
        return options.sign ? sign(xml, settings, options) : xml;
    });
}

}  // namespace saml
