#include "idp_builder.hpp"

#include "encoding.hpp"
#include "error.hpp"
#include "xml.hpp"
#include "xmlenc.hpp"
#include "xmlsig.hpp"

#include <openssl/rsa.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>

#include <stdexcept>

namespace saml::test {

namespace {

std::string time_at(std::chrono::seconds offset) { return format_datetime(test_now() + offset); }

std::string serialize_document(xmlDoc* doc) {
    return serialize(xmlDocGetRootElement(doc));
}

xmlNode* find_by_id(xmlNode* node, const std::string& id) {
    for (; node != nullptr; node = node->next) {
        if (node->type != XML_ELEMENT_NODE) continue;
        if (attribute(node, "ID").value_or("") == id) return node;
        if (xmlNode* found = find_by_id(node->children, id)) return found;
    }
    return nullptr;
}

std::string aes_encrypt(const std::string& cipher_name, bool gcm, const std::string& key, const std::string& plain) {
    Cipher cipher(EVP_CIPHER_fetch(nullptr, cipher_name.c_str(), nullptr));
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    const std::string iv = random_bytes(gcm ? 12 : static_cast<std::size_t>(EVP_CIPHER_get_iv_length(cipher.get())));
    std::string out(plain.size() + 32, '\0');
    int len = 0, total = 0;
    if (!cipher || !ctx ||
        EVP_EncryptInit_ex2(ctx.get(), cipher.get(), reinterpret_cast<const unsigned char*>(key.data()),
                            reinterpret_cast<const unsigned char*>(iv.data()), nullptr) != 1)
        throw std::runtime_error("cipher init");
    EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                      reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
    total = len;
    EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len);
    total += len;
    out.resize(static_cast<std::size_t>(total));
    std::string result = iv + out;
    if (gcm) {
        std::string tag(16, '\0');
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag.data());
        result += tag;
    }
    return result;
}

const EVP_MD* md_for(const std::string& uri) {
    if (uri.empty() || uri == algorithm::sha1 || uri == algorithm::mgf1_sha1) return EVP_sha1();
    if (uri == algorithm::sha256 || uri == algorithm::mgf1_sha256) return EVP_sha256();
    if (uri == algorithm::sha512 || uri == algorithm::mgf1_sha512) return EVP_sha512();
    throw std::runtime_error("test digest " + uri);
}

std::string rsa_encrypt(const EncryptionSpec& spec, const std::string& recipient_cert, const std::string& key) {
    PKey pub = certificate_public_key(pki_cert(recipient_cert).get());
    PKeyCtx ctx(EVP_PKEY_CTX_new(pub.get(), nullptr));
    EVP_PKEY_encrypt_init(ctx.get());
    if (spec.key_transport == algorithm::rsa_1_5) {
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
    } else {
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md_for(spec.oaep_digest));
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), spec.key_transport == algorithm::rsa_oaep ? md_for(spec.mgf) : EVP_sha1());
    }
    std::size_t len = 0;
    EVP_PKEY_encrypt(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    std::string out(len, '\0');
    if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                         reinterpret_cast<const unsigned char*>(key.data()), key.size()) != 1)
        throw std::runtime_error("rsa encrypt");
    out.resize(len);
    return out;
}

}  // namespace

SpSettings test_sp() {
    SpSettings sp;
    sp.entity_id = kSpEntity;
    sp.acs_url = kAcs;
    sp.sls_url = kSls;
    sp.name_id_formats = {nameid_format::persistent};
    sp.signing = pki_pair("sp-signing");
    sp.encryption = pki_pair("sp-encryption");
    return sp;
}

std::shared_ptr<IdpDescriptor> test_idp(const std::vector<std::string>& signing_certs, const std::string& entity_id) {
    auto idp = std::make_shared<IdpDescriptor>();
    idp->entity_id = entity_id;
    idp->single_sign_on.push_back({binding::redirect, "https://idp.test.example/sso", "", -1, false});
    idp->single_logout.push_back({binding::redirect, "https://idp.test.example/slo", "", -1, false});
    for (const auto& name : signing_certs) {
        auto cert = pki_cert(name);
        idp->signing.push_back({cert, std::shared_ptr<EVP_PKEY>(certificate_public_key(cert.get()).release(), EVP_PKEY_free)});
    }
    return idp;
}

IdpRegistry test_registry(const std::vector<std::string>& signing_certs) {
    IdpRegistry registry;
    registry.add(test_idp(signing_certs));
    return registry;
}

EncryptionSpec default_encryption() {
    EncryptionSpec spec;
    spec.data_algorithm = algorithm::aes256_gcm;
    spec.key_transport = algorithm::rsa_oaep_mgf1p;
    return spec;
}

std::vector<Attribute> typical_attributes() {
    return {
        {"urn:oid:0.9.2342.19200300.100.1.1", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "uid", {"alice"}},
        {"urn:oid:0.9.2342.19200300.100.1.3", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "mail", {"alice@example.org"}},
        {"urn:oid:2.5.4.42", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "givenName", {"Zoë"}},
        {"urn:oid:2.5.4.4", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "sn", {"Ångström"}},
        {"urn:oid:2.16.840.1.113730.3.1.241", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "displayName", {"Zoë Ångström"}},
        {"urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "eduPersonAffiliation",
         {"member", "staff", "employee"}},
        {"urn:oid:1.3.6.1.4.1.5923.1.5.1.1", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "isMemberOf",
         {"admins", "developers"}},
        {"username", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", "", {"alice"}},
        {"department", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", "", {"R&D <Labs>"}},
        {"employeeNumber", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", "", {"4711"}},
    };
}

std::string assertion_xml(const AssertionSpec& a) {
    std::string xml =
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"" + xml_escape(a.id) +
        "\" Version=\"2.0\" IssueInstant=\"" + time_at(std::chrono::seconds(0)) + "\">"
        "<saml:Issuer>" + xml_escape(a.issuer) + "</saml:Issuer><saml:Subject>";
    if (a.include_name_id)
        xml += "<saml:NameID" + (a.name_id_format.empty() ? "" : " Format=\"" + xml_escape(a.name_id_format) + "\"") +
               " SPNameQualifier=\"" + kSpEntity + "\">" + xml_escape(a.name_id) + "</saml:NameID>";
    xml += "<saml:SubjectConfirmation Method=\"" + xml_escape(a.confirmation_method) + "\">"
           "<saml:SubjectConfirmationData NotOnOrAfter=\"" + time_at(a.confirmation_lifetime) + "\" Recipient=\"" +
           xml_escape(a.recipient) + "\"";
    if (!a.confirmation_in_response_to.empty())
        xml += " InResponseTo=\"" + xml_escape(a.confirmation_in_response_to) + "\"";
    xml += "/></saml:SubjectConfirmation>" + a.extra_subject + "</saml:Subject>";
    if (a.include_conditions) {
        xml += "<saml:Conditions NotBefore=\"" + time_at(a.not_before_offset) + "\" NotOnOrAfter=\"" +
               time_at(a.not_on_or_after_offset) + "\">";
        if (a.include_audience)
            xml += "<saml:AudienceRestriction><saml:Audience>" + xml_escape(a.audience) + "</saml:Audience></saml:AudienceRestriction>";
        xml += a.extra_conditions + "</saml:Conditions>";
    }
    if (a.include_authn_statement)
        xml += "<saml:AuthnStatement AuthnInstant=\"" + time_at(std::chrono::seconds(-5)) + "\"" +
               (a.session_index.empty() ? "" : " SessionIndex=\"" + xml_escape(a.session_index) + "\"") +
               " SessionNotOnOrAfter=\"" + time_at(a.session_lifetime) + "\">"
               "<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:"
               "PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>";
    if (!a.attributes.empty()) {
        xml += "<saml:AttributeStatement>";
        for (const auto& attr : a.attributes) {
            xml += "<saml:Attribute Name=\"" + xml_escape(attr.name) + "\"";
            if (!attr.name_format.empty()) xml += " NameFormat=\"" + xml_escape(attr.name_format) + "\"";
            if (!attr.friendly_name.empty()) xml += " FriendlyName=\"" + xml_escape(attr.friendly_name) + "\"";
            xml += ">";
            for (const auto& value : attr.values)
                xml += "<saml:AttributeValue xsi:type=\"xs:string\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">" +
                       xml_escape(value) + "</saml:AttributeValue>";
            xml += "</saml:Attribute>";
        }
        xml += "</saml:AttributeStatement>";
    }
    return xml + "</saml:Assertion>";
}

std::string sign_element(const std::string& xml, const std::string& id, const std::string& key_name,
                         const std::string& algorithm_uri) {
    XmlLimits limits;
    limits.max_bytes = 64 * 1024 * 1024;
    XmlDoc doc = parse_xml(xml, limits, "test document");
    xmlNode* element = find_by_id(xmlDocGetRootElement(doc.get()), id);
    if (element == nullptr) throw std::runtime_error("no element with ID " + id);
    auto key = pki_key(key_name);
    auto alg = find_signature_algorithm(algorithm_uri.empty() ? default_signature_algorithm(key.get()) : algorithm_uri);
    if (!alg) throw std::runtime_error("unknown algorithm " + algorithm_uri);
    xmlNode* issuer = unique_child(element, ns::assertion, "Issuer");
    sign_enveloped(element, issuer, key.get(), pki_cert(key_name).get(), *alg);
    return serialize_document(doc.get());
}

std::string signature_template(const std::string& id, const std::string& c14n_method, const std::string& c14n_transform,
                               const std::string& signed_info_comment) {
    return "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>" +
           (signed_info_comment.empty() ? std::string() : "<!--" + signed_info_comment + "-->") +
           "<ds:CanonicalizationMethod Algorithm=\"" + c14n_method + "\"/><ds:SignatureMethod Algorithm=\"" +
           algorithm::rsa_sha256 + "\"/><ds:Reference URI=\"#" + id + "\"><ds:Transforms><ds:Transform Algorithm=\"" +
           algorithm::enveloped + "\"/><ds:Transform Algorithm=\"" + c14n_transform + "\"/></ds:Transforms>"
           "<ds:DigestMethod Algorithm=\"" + algorithm::sha256 + "\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>"
           "<ds:SignatureValue/></ds:Signature>";
}

std::string sign_template(const std::string& xml, const std::string& id, const std::string& key_name) {
    XmlLimits limits;
    limits.max_bytes = 64 * 1024 * 1024;
    XmlDoc doc = parse_xml(xml, limits, "test document");
    xmlNode* element = find_by_id(xmlDocGetRootElement(doc.get()), id);
    if (element == nullptr) throw std::runtime_error("no element with ID " + id);
    xmlAttr* id_attr = xmlHasNsProp(element, BAD_CAST "ID", nullptr);
    xmlAddID(nullptr, doc.get(), id_attr->children->content, id_attr);
    xmlNode* signature = unique_child(element, ns::dsig, "Signature");
    if (signature == nullptr) throw std::runtime_error("no Signature template in " + id);
    std::unique_ptr<xmlSecDSigCtx, void (*)(xmlSecDSigCtx*)> ctx(xmlSecDSigCtxCreate(nullptr), xmlSecDSigCtxDestroy);
    ctx->signKey = xmlSecCryptoAppKeyLoad(pki_path(key_name + ".key").c_str(), xmlSecKeyDataFormatPem, nullptr, nullptr,
                                          nullptr);
    if (ctx->signKey == nullptr || xmlSecDSigCtxSign(ctx.get(), signature) < 0)
        throw std::runtime_error("xmlsec cannot sign " + id);
    return serialize_document(doc.get());
}

std::string encrypt_element(const std::string& element_xml, const std::string& wrapper, const EncryptionSpec& spec) {
    const bool gcm = spec.data_algorithm == algorithm::aes128_gcm || spec.data_algorithm == algorithm::aes256_gcm;
    const bool aes128 = spec.data_algorithm == algorithm::aes128_gcm || spec.data_algorithm == algorithm::aes128_cbc;
    const bool triple_des = spec.data_algorithm == algorithm::tripledes_cbc;
    const std::string key = random_bytes(triple_des ? 24 : aes128 ? 16 : 32);
    const std::string cipher_name =
        triple_des ? std::string("DES-EDE3-CBC") : std::string(aes128 ? "AES-128-" : "AES-256-") + (gcm ? "GCM" : "CBC");
    const std::string data = aes_encrypt(cipher_name, gcm, key, element_xml);
    std::string key_method = "<xenc:EncryptionMethod Algorithm=\"" + spec.key_transport + "\">";
    if (!spec.oaep_digest.empty()) key_method += "<ds:DigestMethod Algorithm=\"" + spec.oaep_digest + "\"/>";
    if (!spec.mgf.empty())
        key_method += "<xenc11:MGF xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\" Algorithm=\"" + spec.mgf + "\"/>";
    key_method += "</xenc:EncryptionMethod>";
    auto key_for = [&](const std::string& cert, const std::string& recipient) {
        return "<xenc:EncryptedKey Id=\"_k" + hex_encode(random_bytes(8)) + "\"" +
               (recipient.empty() ? std::string() : " Recipient=\"" + xml_escape(recipient) + "\"") + ">" + key_method +
               "<xenc:CipherData><xenc:CipherValue>" + base64_encode(rsa_encrypt(spec, cert, key)) +
               "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>";
    };
    std::string encrypted_key;
    for (const auto& [cert, recipient] : spec.other_recipients) encrypted_key += key_for(cert, recipient);
    encrypted_key += key_for(spec.recipient_cert, spec.key_recipient);
    std::string xml = "<saml:" + wrapper +
                      " xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\""
                      " xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">"
                      "<xenc:EncryptedData Type=\"http://www.w3.org/2001/04/xmlenc#Element\">"
                      "<xenc:EncryptionMethod Algorithm=\"" + spec.data_algorithm + "\"/>";
    if (!spec.key_beside_data) xml += "<ds:KeyInfo>" + encrypted_key + "</ds:KeyInfo>";
    else if (!spec.data_key_info.empty()) xml += "<ds:KeyInfo>" + spec.data_key_info + "</ds:KeyInfo>";
    xml += "<xenc:CipherData><xenc:CipherValue>" + base64_encode(data) + "</xenc:CipherValue></xenc:CipherData>"
           "</xenc:EncryptedData>";
    if (spec.key_beside_data) xml += encrypted_key;
    return xml + "</saml:" + wrapper + ">";
}

std::string response_xml(const ResponseSpec& r) {
    std::string assertion;
    if (r.include_assertion) {
        assertion = assertion_xml(r.assertion);
        if (r.sign_assertion) assertion = sign_element(assertion, r.assertion.id, r.signing_key, r.signature_algorithm);
        if (r.encrypt) assertion = encrypt_element(assertion, "EncryptedAssertion", r.encryption);
    }
    std::string xml = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
                      "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"" + xml_escape(r.id) +
                      "\" Version=\"2.0\" IssueInstant=\"" + time_at(std::chrono::seconds(0)) + "\"";
    if (!r.destination.empty()) xml += " Destination=\"" + xml_escape(r.destination) + "\"";
    if (!r.in_response_to.empty()) xml += " InResponseTo=\"" + xml_escape(r.in_response_to) + "\"";
    xml += ">";
    if (r.include_issuer) xml += "<saml:Issuer>" + xml_escape(r.issuer) + "</saml:Issuer>";
    xml += "<samlp:Status><samlp:StatusCode Value=\"" +
           xml_escape(r.status) + "\"/></samlp:Status>" + assertion + "</samlp:Response>";
    if (r.sign_response) xml = sign_element(xml, r.id, r.signing_key, r.signature_algorithm);
    return xml;
}

std::string response_base64(const ResponseSpec& spec) { return base64_encode(response_xml(spec)); }

}  // namespace saml::test
