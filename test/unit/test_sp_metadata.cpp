// SP metadata generation: structure and values, options, the signed form, escaping and
// settings that cannot make valid metadata.
#include "sp_metadata.hpp"
#include "test_support.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

using namespace saml;

namespace {

SpSettings sp_settings() {
    SpSettings settings;
    settings.entity_id = "https://sp.example.org/saml/metadata";
    settings.acs_url = "https://sp.example.org/saml/acs";
    settings.sls_url = "https://sp.example.org/saml/sls";
    settings.name_id_formats = {nameid_format::persistent, nameid_format::email};
    settings.signing = test::pki_pair("sp-signing");
    settings.encryption = test::pki_pair("sp-encryption");
    settings.rollover_certificates = {test::pki_cert("idp-rsa-next")};
    return settings;
}

std::string generate(const SpSettings& settings, const SpMetadataOptions& options = {}) {
    auto result = generate_sp_metadata(settings, options);
    if (!result) FAIL(result.error().message().c_str());
    return result.value();
}

Error generate_error(const SpSettings& settings, const SpMetadataOptions& options = {}) {
    auto result = generate_sp_metadata(settings, options);
    CHECK_FALSE(result.ok());
    return result ? Error{} : result.error();
}

XmlDoc parse(const std::string& xml) { return parse_xml(xml, {}, "SP metadata"); }

xmlNode* sp_role(xmlDoc* doc) {
    xmlNode* root = xmlDocGetRootElement(doc);
    CHECK(is_element(root, ns::metadata, "EntityDescriptor"));
    auto roles = child_elements(root, ns::metadata, "SPSSODescriptor");
    LONGS_EQUAL(1, roles.size());
    return roles.front();
}

std::string attr(const xmlNode* node, const char* name) { return attribute(node, name).value_or("<absent>"); }

std::string key_descriptor_cert(const xmlNode* descriptor) {
    const xmlNode* key_info = unique_child(descriptor, ns::dsig, "KeyInfo");
    const xmlNode* data = unique_child(key_info, ns::dsig, "X509Data");
    return element_text(unique_child(data, ns::dsig, "X509Certificate"));
}

std::vector<std::string> local_names(const xmlNode* parent) {
    std::vector<std::string> names;
    for (xmlNode* child = first_element_child(parent); child != nullptr; child = next_element_sibling(child))
        names.emplace_back(reinterpret_cast<const char*>(child->name));
    return names;
}

SignatureState verify(xmlDoc* doc, EVP_PKEY* key) {
    register_unique_ids(doc, {{ns::metadata, "EntityDescriptor"}});
    return verify_enveloped_signature(xmlDocGetRootElement(doc), {key}, AlgorithmPolicy{});
}

}  // namespace

TEST_GROUP(SpMetadata){};

TEST(SpMetadata, HasTheSettingsValuesInSchemaOrder) {
    SpMetadataOptions options;
    options.id = "_sp-metadata-1";
    auto doc = parse(generate(sp_settings(), options));
    xmlNode* root = xmlDocGetRootElement(doc.get());
    STRCMP_EQUAL("https://sp.example.org/saml/metadata", attr(root, "entityID").c_str());
    STRCMP_EQUAL("_sp-metadata-1", attr(root, "ID").c_str());
    STRCMP_EQUAL("<absent>", attr(root, "validUntil").c_str());
    CHECK(child_elements(root, ns::dsig, "Signature").empty());

    xmlNode* role = sp_role(doc.get());
    STRCMP_EQUAL("true", attr(role, "AuthnRequestsSigned").c_str());
    STRCMP_EQUAL("true", attr(role, "WantAssertionsSigned").c_str());
    STRCMP_EQUAL(ns::protocol, attr(role, "protocolSupportEnumeration").c_str());
    const std::vector<std::string> expected_order = {"KeyDescriptor", "KeyDescriptor", "KeyDescriptor",
                                                     "SingleLogoutService", "SingleLogoutService", "NameIDFormat",
                                                     "NameIDFormat", "AssertionConsumerService"};
    CHECK(expected_order == local_names(role));

    auto keys = child_elements(role, ns::metadata, "KeyDescriptor");
    STRCMP_EQUAL("signing", attr(keys[0], "use").c_str());
    STRCMP_EQUAL(test::pki_cert_base64("sp-signing").c_str(), key_descriptor_cert(keys[0]).c_str());
    STRCMP_EQUAL("signing", attr(keys[1], "use").c_str());
    STRCMP_EQUAL(test::pki_cert_base64("idp-rsa-next").c_str(), key_descriptor_cert(keys[1]).c_str());
    STRCMP_EQUAL("encryption", attr(keys[2], "use").c_str());
    STRCMP_EQUAL(test::pki_cert_base64("sp-encryption").c_str(), key_descriptor_cert(keys[2]).c_str());
    auto methods = child_elements(keys[2], ns::metadata, "EncryptionMethod");
    LONGS_EQUAL(5, methods.size());
    STRCMP_EQUAL("http://www.w3.org/2009/xmlenc11#aes256-gcm", attr(methods[0], "Algorithm").c_str());
    STRCMP_EQUAL("http://www.w3.org/2009/xmlenc11#aes128-gcm", attr(methods[1], "Algorithm").c_str());
    STRCMP_EQUAL("http://www.w3.org/2001/04/xmlenc#aes256-cbc", attr(methods[2], "Algorithm").c_str());
    STRCMP_EQUAL("http://www.w3.org/2001/04/xmlenc#aes128-cbc", attr(methods[3], "Algorithm").c_str());
    STRCMP_EQUAL("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", attr(methods[4], "Algorithm").c_str());
    CHECK(child_elements(keys[0], ns::metadata, "EncryptionMethod").empty());

    auto logout = child_elements(role, ns::metadata, "SingleLogoutService");
    STRCMP_EQUAL(binding::redirect, attr(logout[0], "Binding").c_str());
    STRCMP_EQUAL(binding::post, attr(logout[1], "Binding").c_str());
    STRCMP_EQUAL("https://sp.example.org/saml/sls", attr(logout[1], "Location").c_str());

    auto formats = child_elements(role, ns::metadata, "NameIDFormat");
    STRCMP_EQUAL(nameid_format::persistent, element_text(formats[0]).c_str());
    STRCMP_EQUAL(nameid_format::email, element_text(formats[1]).c_str());

    xmlNode* acs = unique_child(role, ns::metadata, "AssertionConsumerService");
    STRCMP_EQUAL(binding::post, attr(acs, "Binding").c_str());
    STRCMP_EQUAL("https://sp.example.org/saml/acs", attr(acs, "Location").c_str());
    STRCMP_EQUAL("0", attr(acs, "index").c_str());
    STRCMP_EQUAL("true", attr(acs, "isDefault").c_str());
}

TEST(SpMetadata, LeavesOutWhatIsNotConfigured) {
    SpSettings settings = sp_settings();
    settings.sls_url.clear();
    settings.encryption = {};
    settings.rollover_certificates.clear();
    settings.name_id_formats.clear();
    SpMetadataOptions options;
    options.want_assertions_signed = false;
    auto doc = parse(generate(settings, options));
    xmlNode* role = sp_role(doc.get());
    const std::vector<std::string> expected = {"KeyDescriptor", "AssertionConsumerService"};
    CHECK(expected == local_names(role));
    STRCMP_EQUAL("false", attr(role, "WantAssertionsSigned").c_str());

    // Without a signing pair nothing can be promised about signed requests.
    settings.signing = {};
    options.authn_requests_signed = false;
    auto unsigned_doc = parse(generate(settings, options));
    const std::vector<std::string> acs_only = {"AssertionConsumerService"};
    CHECK(acs_only == local_names(sp_role(unsigned_doc.get())));
    STRCMP_EQUAL("false", attr(sp_role(unsigned_doc.get()), "AuthnRequestsSigned").c_str());
}

TEST(SpMetadata, RandomIdsDiffer) {
    auto first = parse(generate(sp_settings()));
    auto second = parse(generate(sp_settings()));
    const std::string a = attr(xmlDocGetRootElement(first.get()), "ID");
    const std::string b = attr(xmlDocGetRootElement(second.get()), "ID");
    CHECK(a != b);
    CHECK(a.size() > 20);
    CHECK(a[0] == '_');
}

TEST(SpMetadata, EcEncryptionKeyGetsNoRsaOaep) {
    SpSettings settings = sp_settings();
    settings.encryption = test::pki_pair("idp-ec");
    auto doc = parse(generate(settings));
    auto keys = child_elements(sp_role(doc.get()), ns::metadata, "KeyDescriptor");
    auto methods = child_elements(keys.back(), ns::metadata, "EncryptionMethod");
    LONGS_EQUAL(4, methods.size());
    for (const xmlNode* method : methods) CHECK(attr(method, "Algorithm").find("rsa") == std::string::npos);
}

TEST(SpMetadata, ValidityCacheDurationOrganizationAndContacts) {
    SpMetadataOptions options;
    options.valid_until = test::test_now() + std::chrono::hours(24 * 7);
    options.cache_duration = std::chrono::seconds(86400 + 2 * 3600 + 3 * 60 + 4);
    options.organization = SpOrganization{"Example Ltd", "Example & Sons", "https://www.example.org/", "en"};
    SpContact tech;
    tech.given_name = "Ada";
    tech.surname = "Lovelace";
    tech.email = "ada@example.org";
    tech.company = "Example Ltd";
    SpContact support;
    support.type = "support";
    support.email = "mailto:help@example.org";
    options.contacts = {tech, support};
    auto doc = parse(generate(sp_settings(), options));
    xmlNode* root = xmlDocGetRootElement(doc.get());
    STRCMP_EQUAL("2026-06-08T12:00:00Z", attr(root, "validUntil").c_str());
    STRCMP_EQUAL("P1DT2H3M4S", attr(root, "cacheDuration").c_str());
    const std::vector<std::string> top = {"SPSSODescriptor", "Organization", "ContactPerson", "ContactPerson"};
    CHECK(top == local_names(root));

    xmlNode* org = unique_child(root, ns::metadata, "Organization");
    STRCMP_EQUAL("Example & Sons", element_text(unique_child(org, ns::metadata, "OrganizationDisplayName")).c_str());
    xmlNode* org_url = unique_child(org, ns::metadata, "OrganizationURL");
    STRCMP_EQUAL("https://www.example.org/", element_text(org_url).c_str());
    xmlChar* lang = xmlNodeGetLang(org_url);
    STRCMP_EQUAL("en", reinterpret_cast<const char*>(lang));
    xmlFree(lang);

    auto people = child_elements(root, ns::metadata, "ContactPerson");
    STRCMP_EQUAL("technical", attr(people[0], "contactType").c_str());
    const std::vector<std::string> fields = {"Company", "GivenName", "SurName", "EmailAddress"};
    CHECK(fields == local_names(people[0]));
    STRCMP_EQUAL("mailto:ada@example.org", element_text(unique_child(people[0], ns::metadata, "EmailAddress")).c_str());
    STRCMP_EQUAL("support", attr(people[1], "contactType").c_str());
    const std::vector<std::string> email_only = {"EmailAddress"};
    CHECK(email_only == local_names(people[1]));
    STRCMP_EQUAL("mailto:help@example.org", element_text(unique_child(people[1], ns::metadata, "EmailAddress")).c_str());
}

TEST(SpMetadata, CacheDurationFormats) {
    struct Case {
        long long seconds;
        const char* text;
    };
    for (const Case& c : {Case{0, "PT0S"}, Case{6 * 3600, "PT6H"}, Case{7 * 86400, "P7D"}, Case{90, "PT1M30S"},
                          Case{86400 + 1, "P1DT1S"}}) {
        SpMetadataOptions options;
        options.cache_duration = std::chrono::seconds(c.seconds);
        auto doc = parse(generate(sp_settings(), options));
        STRCMP_EQUAL(c.text, attr(xmlDocGetRootElement(doc.get()), "cacheDuration").c_str());
    }
    SpMetadataOptions negative;
    negative.cache_duration = std::chrono::seconds(-1);
    STRCMP_EQUAL("SAML0455", generate_error(sp_settings(), negative).code.c_str());
}

TEST(SpMetadata, HostileValuesAreEscaped) {
    SpSettings settings = sp_settings();
    settings.entity_id = "https://sp.example.org/\"><md:Evil/>&amp;'<!--";
    settings.acs_url = "https://sp.example.org/acs?a=1&b=\"2\"";
    settings.name_id_formats = {"</md:NameIDFormat><md:Evil/>"};
    SpMetadataOptions options;
    options.sign = true;
    SpContact contact;
    contact.given_name = "]]><md:Evil/>";
    options.contacts = {contact};
    const std::string xml = generate(settings, options);
    CHECK(xml.find("<md:Evil") == std::string::npos);
    auto doc = parse(xml);
    xmlNode* root = xmlDocGetRootElement(doc.get());
    STRCMP_EQUAL(settings.entity_id.c_str(), attr(root, "entityID").c_str());
    xmlNode* role = sp_role(doc.get());
    STRCMP_EQUAL(settings.acs_url.c_str(),
                 attr(unique_child(role, ns::metadata, "AssertionConsumerService"), "Location").c_str());
    auto formats = child_elements(role, ns::metadata, "NameIDFormat");
    LONGS_EQUAL(1, formats.size());
    STRCMP_EQUAL(settings.name_id_formats[0].c_str(), element_text(formats[0]).c_str());
    xmlNode* person = unique_child(root, ns::metadata, "ContactPerson");
    STRCMP_EQUAL(contact.given_name.c_str(), element_text(unique_child(person, ns::metadata, "GivenName")).c_str());
    CHECK(verify(doc.get(), test::pki_key("sp-signing").get()) == SignatureState::Verified);
    // Newlines and tabs survive as character references.
    settings = sp_settings();
    settings.entity_id = "urn:a\nb\tc";
    auto multiline = parse(generate(settings));
    STRCMP_EQUAL("urn:a\nb\tc", attr(xmlDocGetRootElement(multiline.get()), "entityID").c_str());
}

TEST(SpMetadata, ValuesXmlCannotCarryAreConfigErrors) {
    for (const std::string& bad : {std::string("urn:a\x01"), std::string("urn:\xff"), std::string("urn:\xc0\xaf"),
                                   std::string("urn:\xed\xa0\x80"), std::string("urn:\xe2\x82"),
                                   std::string("urn:\xef\xbf\xbf"), std::string("urn:a\0b", 7)}) {
        SpSettings settings = sp_settings();
        settings.entity_id = bad;
        Error error = generate_error(settings);
        STRCMP_EQUAL("SAML0451", error.code.c_str());
        LONGS_EQUAL(static_cast<long>(ErrorKind::Config), static_cast<long>(error.kind));
    }
    SpSettings settings = sp_settings();
    settings.entity_id = "https://sp.example.org/caf\xc3\xa9/\xf0\x9f\x94\x91";  // café, a key emoji
    auto doc = parse(generate(settings));
    STRCMP_EQUAL(settings.entity_id.c_str(), attr(xmlDocGetRootElement(doc.get()), "entityID").c_str());
}

TEST(SpMetadata, MissingOrInconsistentSettingsAreConfigErrors) {
    SpSettings settings = sp_settings();
    settings.entity_id.clear();
    STRCMP_EQUAL("SAML0450", generate_error(settings).code.c_str());
    settings = sp_settings();
    settings.acs_url.clear();
    STRCMP_EQUAL("SAML0450", generate_error(settings).code.c_str());

    settings = sp_settings();
    settings.signing = {};
    STRCMP_EQUAL("SAML0452", generate_error(settings).code.c_str());  // AuthnRequestsSigned by default
    SpMetadataOptions sign_options;
    sign_options.sign = true;
    sign_options.authn_requests_signed = false;
    STRCMP_EQUAL("SAML0452", generate_error(settings, sign_options).code.c_str());

    settings = sp_settings();
    settings.signing.key = test::pki_key("attacker");
    STRCMP_EQUAL("SAML0453", generate_error(settings, sign_options).code.c_str());

    settings = sp_settings();
    sign_options.signature_algorithm = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
    STRCMP_EQUAL("SAML0454", generate_error(settings, sign_options).code.c_str());
    sign_options.signature_algorithm = algorithm::ecdsa_sha256;  // the key is RSA
    STRCMP_EQUAL("SAML0454", generate_error(settings, sign_options).code.c_str());

    SpMetadataOptions bad_id;
    for (const char* id : {"1abc", "a b", "_x\"y", "-a"}) {
        bad_id.id = id;
        STRCMP_EQUAL("SAML0456", generate_error(settings, bad_id).code.c_str());
    }

    SpMetadataOptions bad_contact;
    bad_contact.contacts = {SpContact{"owner", "", "", "", "a@b"}};
    STRCMP_EQUAL("SAML0457", generate_error(settings, bad_contact).code.c_str());

    SpMetadataOptions bad_org;
    bad_org.organization = SpOrganization{"Example", "", "https://example.org", "en"};
    STRCMP_EQUAL("SAML0458", generate_error(settings, bad_org).code.c_str());
}

TEST_GROUP(SpMetadataSigned){};

TEST(SpMetadataSigned, SignatureIsFirstAndVerifies) {
    SpMetadataOptions options;
    options.sign = true;
    options.id = "_signed-md";
    const std::string xml = generate(sp_settings(), options);
    CHECK(xml.rfind("<?xml", 0) == 0);
    auto doc = parse(xml);
    xmlNode* root = xmlDocGetRootElement(doc.get());
    xmlNode* first = first_element_child(root);
    CHECK(is_element(first, ns::dsig, "Signature"));
    xmlNode* method = unique_child(unique_child(first, ns::dsig, "SignedInfo"), ns::dsig, "SignatureMethod");
    STRCMP_EQUAL(algorithm::rsa_sha256, attr(method, "Algorithm").c_str());
    CHECK(verify(doc.get(), test::pki_key("sp-signing").get()) == SignatureState::Verified);
}

TEST(SpMetadataSigned, OtherKeyAndTamperingFail) {
    SpMetadataOptions options;
    options.sign = true;
    const std::string xml = generate(sp_settings(), options);
    auto doc = parse(xml);
    CHECK_THROWS(Failure, verify(doc.get(), test::pki_key("attacker").get()));

    std::string tampered = xml;
    const std::string acs = "https://sp.example.org/saml/acs";
    tampered.replace(tampered.find(acs), acs.size(), "https://evil.example.org/saml/acs");
    auto tampered_doc = parse(tampered);
    CHECK_THROWS(Failure, verify(tampered_doc.get(), test::pki_key("sp-signing").get()));

    // The unsigned form has no signature to verify.
    auto unsigned_doc = parse(generate(sp_settings()));
    CHECK(verify(unsigned_doc.get(), test::pki_key("sp-signing").get()) == SignatureState::Absent);
}

TEST(SpMetadataSigned, EcKeyAndExplicitAlgorithm) {
    SpSettings settings = sp_settings();
    settings.signing = test::pki_pair("idp-ec");
    SpMetadataOptions options;
    options.sign = true;
    auto doc = parse(generate(settings, options));
    xmlNode* signature = first_element_child(xmlDocGetRootElement(doc.get()));
    xmlNode* method = unique_child(unique_child(signature, ns::dsig, "SignedInfo"), ns::dsig, "SignatureMethod");
    STRCMP_EQUAL(algorithm::ecdsa_sha256, attr(method, "Algorithm").c_str());
    CHECK(verify(doc.get(), test::pki_key("idp-ec").get()) == SignatureState::Verified);

    options.signature_algorithm = algorithm::rsa_sha512;
    auto sha512 = parse(generate(sp_settings(), options));
    signature = first_element_child(xmlDocGetRootElement(sha512.get()));
    method = unique_child(unique_child(signature, ns::dsig, "SignedInfo"), ns::dsig, "SignatureMethod");
    STRCMP_EQUAL(algorithm::rsa_sha512, attr(method, "Algorithm").c_str());
    CHECK(verify(sha512.get(), test::pki_key("sp-signing").get()) == SignatureState::Verified);
}

TEST(SpMetadata, ArtifactAcsIsASecondIndexAtTheSameUrl) {
    XmlDoc plain = parse(generate(sp_settings()));
    LONGS_EQUAL(1, child_elements(sp_role(plain.get()), ns::metadata, "AssertionConsumerService").size());

    SpMetadataOptions options;
    options.artifact_acs = true;
    XmlDoc doc = parse(generate(sp_settings(), options));
    auto acs = child_elements(sp_role(doc.get()), ns::metadata, "AssertionConsumerService");
    LONGS_EQUAL(2, acs.size());
    STRCMP_EQUAL(binding::post, attr(acs[0], "Binding").c_str());
    STRCMP_EQUAL("true", attr(acs[0], "isDefault").c_str());
    STRCMP_EQUAL(binding::artifact, attr(acs[1], "Binding").c_str());
    STRCMP_EQUAL("1", attr(acs[1], "index").c_str());
    STRCMP_EQUAL("<absent>", attr(acs[1], "isDefault").c_str());
    STRCMP_EQUAL(sp_settings().acs_url.c_str(), attr(acs[1], "Location").c_str());
}
