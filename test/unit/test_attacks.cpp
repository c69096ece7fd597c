// The attack classes DESIGN names, each built from real signatures by the test IdP and then
// altered the way an attacker would; each must be refused by the rule that owns it.
#include "encoding.hpp"
#include "idp_builder.hpp"
#include "response.hpp"

#include <CppUTest/TestHarness.h>

#include <stdexcept>

using namespace saml;
using namespace saml::test;

namespace {

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
    const auto pos = text.find(from);
    if (pos == std::string::npos) throw std::runtime_error("test input lacks: " + from);
    return text.replace(pos, from.size(), to);
}

std::string between(const std::string& text, const std::string& open, const std::string& close) {
    const auto start = text.find(open);
    const auto end = text.find(close, start);
    if (start == std::string::npos || end == std::string::npos) throw std::runtime_error("test input lacks " + open);
    return text.substr(start, end + close.size() - start);
}

// A Response envelope, unsigned, around whatever content the attack puts after Status.
std::string envelope(const std::string& content, const std::string& id = "_evil-response") {
    return "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
           "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"" + id +
           "\" Version=\"2.0\" IssueInstant=\"" + format_datetime(test_now()) + "\" Destination=\"" + kAcs +
           "\" InResponseTo=\"" + kRequestId + "\"><saml:Issuer>" + kIdpEntity +
           "</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
           "</samlp:Status>" + content + "</samlp:Response>";
}

std::string signed_assertion(const AssertionSpec& spec = {}) {
    return sign_element(assertion_xml(spec), spec.id, "idp-rsa");
}

AssertionSpec evil_spec(const std::string& id = "_evil-assertion") {
    AssertionSpec spec;
    spec.id = id;
    spec.name_id = "admin";
    return spec;
}

std::string strip_xml_declaration(std::string xml) {
    if (xml.rfind("<?xml", 0) == 0) xml.erase(0, xml.find("?>") + 2);
    while (!xml.empty() && (xml.front() == '\n' || xml.front() == ' ')) xml.erase(0, 1);
    return xml;
}

Result<Login> validate_xml(const std::string& xml, SecurityPolicy policy = {}) {
    static const SpSettings sp = test_sp();
    static const IdpRegistry idps = test_registry();
    ResponseValidator validator(sp, policy, idps);
    const std::string posted = base64_encode(xml);
    return validator.validate(ResponseInput{posted, std::vector<std::string>{kRequestId}, test_now(), ""}, nullptr);
}

// The attack must fail, and by the rule that owns it.
void refused(const std::string& xml, const char* rule, const char* code = nullptr) {
    auto result = validate_xml(xml);
    if (result.ok()) FAIL(("attack accepted, user = " + result.value().user).c_str());
    STRCMP_EQUAL(rule, result.error().rule.c_str());
    if (code != nullptr) STRCMP_EQUAL(code, result.error().code.c_str());
}

}  // namespace

TEST_GROUP(SignatureWrapping){};

TEST(SignatureWrapping, BaselineSignedAssertionInUnsignedResponseIsAccepted) {
    auto result = validate_xml(envelope(strip_xml_declaration(signed_assertion())));
    if (!result) FAIL(result.error().message().c_str());
    STRCMP_EQUAL("alice", result.value().user.c_str());
}

TEST(SignatureWrapping, EvilAssertionBesideTheSignedOne) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string evil = assertion_xml(evil_spec());
    refused(envelope(good + evil), "assertion-count", "SAML0241");   // after
    refused(envelope(evil + good), "assertion-count", "SAML0241");   // before
}

TEST(SignatureWrapping, EvilAssertionWithTheSameId) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string evil = assertion_xml(evil_spec(AssertionSpec{}.id));
    refused(envelope(evil + good), "unique-ids", "SAML0205");
}

TEST(SignatureWrapping, SignedAssertionHiddenInsideTheEvilOne) {
    // XSW4 shape: the evil assertion wraps the original (here in Advice), reusing nothing signed.
    const std::string good = strip_xml_declaration(signed_assertion());
    std::string evil = assertion_xml(evil_spec());
    evil = replace_once(evil, "</saml:Assertion>", "<saml:Advice>" + good + "</saml:Advice></saml:Assertion>");
    refused(envelope(evil), "signature-required", "SAML0245");
}

TEST(SignatureWrapping, SignedAssertionMovedIntoExtensions) {
    // XSW7 shape: the original sits in samlp:Extensions, an unsigned evil one takes its place.
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string evil = assertion_xml(evil_spec());
    std::string xml = envelope(evil);
    xml = replace_once(xml, "<samlp:Status>", "<samlp:Extensions>" + good + "</samlp:Extensions><samlp:Status>");
    refused(xml, "signature-required", "SAML0245");
}

TEST(SignatureWrapping, SignatureCopiedOntoEvilAssertionWithOriginalInObject) {
    // XSW6/XSW8 shape: the evil assertion carries the original's Signature, the original
    // assertion hidden in a ds:Object inside it.
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string signature = between(good, "<ds:Signature", "</ds:Signature>");
    std::string unsigned_good = replace_once(good, signature, "");
    std::string evil = assertion_xml(evil_spec(AssertionSpec{}.id + "-x"));
    std::string carried = replace_once(signature, "</ds:Signature>", "<ds:Object>" + unsigned_good + "</ds:Object></ds:Signature>");
    evil = replace_once(evil, "</saml:Issuer>", "</saml:Issuer>" + carried);
    refused(envelope(evil), "signature", "SAML0210");
}

TEST(SignatureWrapping, SignatureCopiedOntoEvilAssertionWithOriginalAfterIt) {
    // XSW5 shape: the copied signature's Reference names the original, which sits elsewhere.
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string signature = between(good, "<ds:Signature", "</ds:Signature>");
    std::string evil = assertion_xml(evil_spec());
    evil = replace_once(evil, "</saml:Issuer>", "</saml:Issuer>" + signature);
    std::string xml = envelope(evil);
    xml = replace_once(xml, "<samlp:Status>", "<samlp:Extensions>" + replace_once(good, signature, "") +
                                                  "</samlp:Extensions><samlp:Status>");
    refused(xml, "signature", "SAML0217");
}

TEST(SignatureWrapping, SignedResponseWrappedByEvilResponse) {
    // XSW1/XSW2 shape on the Response signature: a new Response (new ID) carries the original
    // signature, the original Response hidden inside it.
    ResponseSpec spec;
    spec.sign_assertion = false;
    const std::string original = strip_xml_declaration(response_xml(spec));
    const std::string signature = between(original, "<ds:Signature", "</ds:Signature>");
    std::string evil = envelope(assertion_xml(evil_spec()));
    evil = replace_once(evil, "</saml:Issuer>", "</saml:Issuer>" + signature);
    evil = replace_once(evil, "<samlp:Status>", "<samlp:Extensions>" + replace_once(original, signature, "") +
                                                    "</samlp:Extensions><samlp:Status>");
    refused(evil, "signature", "SAML0217");
    // Same, but the evil Response takes the original ID: now the ID occurs twice.
    refused(replace_once(evil, "ID=\"_evil-response\"", "ID=\"" + spec.id + "\""), "unique-ids", "SAML0205");
}

TEST(SignatureWrapping, EditingTheSignedResponseBreaksTheDigest) {
    ResponseSpec spec;
    spec.sign_assertion = false;
    const std::string xml = response_xml(spec);
    refused(replace_once(xml, ">alice<", ">admin<"), "signature", "SAML0224");
}

TEST(SignatureWrapping, EncryptedEvilAssertionBesideSignedPlainOne) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string evil = encrypt_element(assertion_xml(evil_spec()), "EncryptedAssertion", default_encryption());
    refused(envelope(good + evil), "assertion-count", "SAML0241");
}

TEST(SignatureWrapping, EncryptedUnsignedAssertionInUnsignedResponse) {
    // Anyone can encrypt to our public key: encryption proves nothing.
    const std::string evil = encrypt_element(assertion_xml(evil_spec()), "EncryptedAssertion", default_encryption());
    refused(envelope(evil), "signature-required", "SAML0245");
}

TEST(SignatureWrapping, SignatureNotADirectChildDoesNotCount) {
    std::string good = strip_xml_declaration(signed_assertion());
    const std::string signature = between(good, "<ds:Signature", "</ds:Signature>");
    good = replace_once(good, signature, "");
    good = replace_once(good, "</saml:Subject>", signature + "</saml:Subject>");
    refused(envelope(good), "signature-required", "SAML0245");
}

TEST_GROUP(SignatureTampering){};

TEST(SignatureTampering, StrippedSignature) {
    std::string good = strip_xml_declaration(signed_assertion());
    good = replace_once(good, between(good, "<ds:Signature", "</ds:Signature>"), "");
    refused(envelope(good), "signature-required", "SAML0245");
}

TEST(SignatureTampering, EmptiedAndCorruptedSignatureValue) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string value = between(good, "<ds:SignatureValue>", "</ds:SignatureValue>");
    refused(envelope(replace_once(good, value, "<ds:SignatureValue></ds:SignatureValue>")), "signature", "SAML0222");
    std::string corrupted = value;
    corrupted[25] = corrupted[25] == 'A' ? 'B' : 'A';
    refused(envelope(replace_once(good, value, corrupted)), "signature", "SAML0222");
}

TEST(SignatureTampering, AttackerKeyWithItsCertificateInKeyInfo) {
    // The attacker's certificate copies the IdP's subject; KeyInfo must never supply the key.
    const AssertionSpec spec = evil_spec();
    const std::string forged = strip_xml_declaration(sign_element(assertion_xml(spec), spec.id, "attacker"));
    CHECK(forged.find("<ds:X509Certificate>") != std::string::npos);
    refused(envelope(forged), "signature", "SAML0222");
}

TEST(SignatureTampering, AttackerRawKeyAndRetrievalMethodInKeyInfo) {
    const AssertionSpec spec = evil_spec();
    std::string forged = strip_xml_declaration(sign_element(assertion_xml(spec), spec.id, "attacker"));
    const std::string key_info = between(forged, "<ds:KeyInfo>", "</ds:KeyInfo>");
    refused(envelope(replace_once(forged, key_info,
                                  "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AQAB</ds:Modulus>"
                                  "<ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue></ds:KeyInfo>")),
            "signature", "SAML0222");
    refused(envelope(replace_once(forged, key_info,
                                  "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://127.0.0.1:1/key.pem\" "
                                  "Type=\"http://www.w3.org/2000/09/xmldsig#X509Data\"/></ds:KeyInfo>")),
            "signature", "SAML0222");
}

TEST(SignatureTampering, KeyInfoIsIgnoredForTheRealKey) {
    // A RetrievalMethod beside a genuine signature changes nothing: KeyInfo is never read.
    std::string good = strip_xml_declaration(signed_assertion());
    const std::string key_info = between(good, "<ds:KeyInfo>", "</ds:KeyInfo>");
    good = replace_once(good, key_info, "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://127.0.0.1:1/x\"/></ds:KeyInfo>");
    CHECK(validate_xml(envelope(good)).ok());
}

TEST(SignatureTampering, DisallowedSignatureMethods) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string method = between(good, "<ds:SignatureMethod", "/>");
    refused(envelope(replace_once(good, method,
                                  "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256\"/>")),
            "signature", "SAML0215");
    refused(envelope(replace_once(good, method,
                                  "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\">"
                                  "<ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>")),
            "signature", "SAML0214");
    refused(envelope(replace_once(good, method, "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#dsa-sha1\"/>")),
            "signature", "SAML0215");
}

TEST(SignatureTampering, XsltAndXPathTransforms) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string transforms = between(good, "<ds:Transforms>", "</ds:Transforms>");
    refused(envelope(replace_once(good, transforms,
                                  "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\">"
                                  "<xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\"/>"
                                  "</ds:Transform></ds:Transforms>")),
            "signature", "SAML0218");
    refused(envelope(replace_once(good, transforms,
                                  "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">"
                                  "<ds:XPath>not(ancestor-or-self::saml:NameID)</ds:XPath></ds:Transform></ds:Transforms>")),
            "signature", "SAML0218");
    // #WithComments is an allowed transform (SAML core 5.4.4), but this one has dropped the
    // enveloped-signature transform: the digest now covers the Signature and cannot match.
    refused(envelope(replace_once(good, transforms,
                                  "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"/>"
                                  "</ds:Transforms>")),
            "signature", "SAML0224");
}

TEST(SignatureTampering, CanonicalizationSwitchedAfterSigningBreaksTheSignature) {
    // Both exclusive c14n URIs are allowed; the method's URI is inside SignedInfo, so changing
    // it after signing changes what was signed.
    const std::string good = strip_xml_declaration(signed_assertion());
    refused(envelope(replace_once(good, "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
                                  "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"")),
            "signature", "SAML0222");
    refused(envelope(replace_once(good, "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
                                  "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"")),
            "signature", "SAML0213");
}

TEST(SignatureTampering, SeveralReferencesAndForeignUris) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string reference = between(good, "<ds:Reference", "</ds:Reference>");
    refused(envelope(replace_once(good, reference, reference + reference)), "signature", "SAML0216");
    const std::string uri = "URI=\"#" + AssertionSpec{}.id + "\"";
    refused(envelope(replace_once(good, uri, "URI=\"#_evil-response\"")), "signature", "SAML0217");
    refused(envelope(replace_once(good, uri, "URI=\"\"")), "signature", "SAML0217");
    refused(envelope(replace_once(good, uri, "URI=\"http://127.0.0.1:1/assertion.xml\"")), "signature", "SAML0217");
}

TEST(SignatureTampering, TwoSignedInfo) {
    const std::string good = strip_xml_declaration(signed_assertion());
    const std::string signed_info = between(good, "<ds:SignedInfo>", "</ds:SignedInfo>");
    refused(envelope(replace_once(good, signed_info, signed_info + signed_info)), "signature", "SAML0211");
}

TEST(SignatureTampering, DigestHiddenInComment) {
    // Editing the content and moving the old digest into a comment must not help.
    std::string good = strip_xml_declaration(signed_assertion());
    const std::string digest = between(good, "<ds:DigestValue>", "</ds:DigestValue>");
    good = replace_once(good, digest, "<ds:DigestValue><!--" + digest + "-->AAAA</ds:DigestValue>");
    refused(envelope(good), "signature", "SAML0224");
}

TEST(SignatureTampering, TwoSignaturesOnOneElement) {
    std::string good = strip_xml_declaration(signed_assertion());
    const std::string signature = between(good, "<ds:Signature", "</ds:Signature>");
    refused(envelope(replace_once(good, signature, signature + signature)), "signature", "SAML0209");
}

TEST_GROUP(TextSplitting){};

// CVE-2017-11427 class: comments, CDATA and character references do not change the
// canonical form, so the signature stays valid; the value read must be the whole text.
TEST(TextSplitting, CommentInNameIdDoesNotTruncate) {
    AssertionSpec spec;
    spec.name_id = "admin@example.com.evil.com";
    std::string xml = strip_xml_declaration(sign_element(assertion_xml(spec), spec.id, "idp-rsa"));
    xml = replace_once(xml, ">admin@example.com.evil.com<", ">admin@example.com<!---->.evil.com<");
    auto result = validate_xml(envelope(xml));
    if (!result) FAIL(result.error().message().c_str());
    STRCMP_EQUAL("admin@example.com.evil.com", result.value().user.c_str());
}

TEST(TextSplitting, CdataAndCharacterReferencesInNameId) {
    AssertionSpec spec;
    spec.name_id = "admin@example.com.evil.com";
    const std::string xml = strip_xml_declaration(sign_element(assertion_xml(spec), spec.id, "idp-rsa"));
    auto cdata = validate_xml(envelope(replace_once(xml, ">admin@example.com.evil.com<", ">admin@example.com<![CDATA[.evil.com]]><")));
    CHECK(cdata.ok());
    STRCMP_EQUAL("admin@example.com.evil.com", cdata.value().user.c_str());
    auto reference = validate_xml(envelope(replace_once(xml, ">admin@example.com.evil.com<", ">admin@example&#46;com&#x2E;evil.com<")));
    CHECK(reference.ok());
    STRCMP_EQUAL("admin@example.com.evil.com", reference.value().user.c_str());
}

TEST(TextSplitting, CommentInUserAttribute) {
    AssertionSpec spec;
    spec.attributes = {{"mail", "", "", {"admin@example.com.evil.com"}}};
    std::string xml = strip_xml_declaration(sign_element(assertion_xml(spec), spec.id, "idp-rsa"));
    xml = replace_once(xml, ">admin@example.com.evil.com<", ">admin@example.com<!-- -->.evil.com<");
    static const SpSettings sp = test_sp();
    static const IdpRegistry idps = test_registry();
    SecurityPolicy policy;
    ResponseValidator validator(sp, policy, idps);
    const std::string posted = base64_encode(envelope(xml));
    auto result = validator.validate(ResponseInput{posted, std::vector<std::string>{kRequestId}, test_now(), "mail"}, nullptr);
    CHECK(result.ok());
    STRCMP_EQUAL("admin@example.com.evil.com", result.value().user.c_str());
}

TEST(TextSplitting, ControlCharactersInTheUserIdAreRefused) {
    // Signed by the IdP or not, a newline in REMOTE_USER splits lines in every consumer.
    AssertionSpec spec;
    spec.name_id = "alice\nadmin";
    refused(envelope(strip_xml_declaration(signed_assertion(spec))), "user-id", "SAML0257");
    spec.name_id = "alice\tx";
    refused(envelope(strip_xml_declaration(signed_assertion(spec))), "user-id", "SAML0257");
    spec.name_id = "Alice Smith";
    CHECK(validate_xml(envelope(strip_xml_declaration(signed_assertion(spec)))).ok());
}

TEST_GROUP(ParserTricks){};

TEST(ParserTricks, DoctypeAroundASignedResponseIsRefused) {
    const std::string good = envelope(strip_xml_declaration(signed_assertion()));
    refused("<!DOCTYPE samlp:Response [<!ENTITY x 'alice'>]>" + good, "xml-doctype", "SAML0103");
    refused("<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/evil.dtd\">" + good, "xml-doctype", "SAML0103");
}

TEST(ParserTricks, XIncludeIsInert) {
    std::string xml = envelope(strip_xml_declaration(signed_assertion()));
    xml = replace_once(xml, "<samlp:Status>",
                       "<samlp:Extensions><xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
                       "href=\"file:///etc/passwd\" parse=\"text\"/></samlp:Extensions><samlp:Status>");
    auto result = validate_xml(xml);
    CHECK(result.ok());
    STRCMP_EQUAL("alice", result.value().user.c_str());
}
