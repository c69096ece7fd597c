// The XML-signature profile on its own: sign and verify round trips, ID registration.
#include "error.hpp"
#include "test_support.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <CppUTest/TestHarness.h>

using namespace saml;
using namespace saml::test;

namespace {

const char* kDoc = "<m:Message xmlns:m='urn:test' ID='_m1'><m:Issuer>me</m:Issuer><m:Body>hello</m:Body></m:Message>";

XmlDoc signed_doc(const std::string& key_name, const char* algorithm_uri) {
    XmlDoc doc = parse_xml(kDoc, {}, "test");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    sign_enveloped(root, first_element_child(root), pki_key(key_name).get(), pki_cert(key_name).get(),
                   *find_signature_algorithm(algorithm_uri));
    // Verify a fresh parse, as a receiver would.
    return parse_xml(serialize(root), {}, "test");
}

Result<SignatureState> verify(xmlDoc* doc, const std::string& trusted, AlgorithmPolicy policy = {}) {
    return guarded([&] {
        register_unique_ids(doc, {{"urn:test", "Message"}});
        return verify_enveloped_signature(xmlDocGetRootElement(doc), {pki_key(trusted).get()}, policy);
    });
}

}  // namespace

TEST_GROUP(XmlSignature){};

TEST(XmlSignature, RoundTripsEveryAllowedAlgorithm) {
    for (const char* alg : {algorithm::rsa_sha256, algorithm::rsa_sha384, algorithm::rsa_sha512}) {
        XmlDoc doc = signed_doc("idp-rsa", alg);
        auto result = verify(doc.get(), "idp-rsa");
        CHECK(result.ok() && result.value() == SignatureState::Verified);
    }
    for (const char* alg : {algorithm::ecdsa_sha256, algorithm::ecdsa_sha384, algorithm::ecdsa_sha512}) {
        XmlDoc doc = signed_doc("idp-ec", alg);
        auto result = verify(doc.get(), "idp-ec");
        CHECK(result.ok() && result.value() == SignatureState::Verified);
    }
}

TEST(XmlSignature, SignatureFollowsTheIssuer) {
    XmlDoc doc = signed_doc("idp-rsa", algorithm::rsa_sha256);
    xmlNode* issuer = first_element_child(xmlDocGetRootElement(doc.get()));
    CHECK(is_element(next_element_sibling(issuer), ns::dsig, "Signature"));
}

TEST(XmlSignature, WrongKeyTypeAndWrongKeyFail) {
    XmlDoc doc = signed_doc("idp-rsa", algorithm::rsa_sha256);
    auto wrong = verify(doc.get(), "idp-rsa-next");
    CHECK_FALSE(wrong.ok());
    STRCMP_EQUAL("SAML0222", wrong.error().code.c_str());
    XmlDoc doc2 = signed_doc("idp-rsa", algorithm::rsa_sha256);
    auto ec = verify(doc2.get(), "idp-ec");
    CHECK_FALSE(ec.ok());
}

TEST(XmlSignature, Sha1NeedsPolicy) {
    XmlDoc doc = signed_doc("idp-rsa", algorithm::rsa_sha1);
    CHECK_FALSE(verify(doc.get(), "idp-rsa").ok());
    XmlDoc doc2 = signed_doc("idp-rsa", algorithm::rsa_sha1);
    AlgorithmPolicy sha1;
    sha1.allow_sha1 = true;
    CHECK(verify(doc2.get(), "idp-rsa", sha1).ok());
}

TEST(XmlSignature, AbsentIsReportedNotFailed) {
    XmlDoc doc = parse_xml(kDoc, {}, "test");
    auto result = verify(doc.get(), "idp-rsa");
    CHECK(result.ok() && result.value() == SignatureState::Absent);
}

TEST(XmlSignature, DuplicateIdsAnywhereAreRefused) {
    XmlDoc doc = parse_xml("<m:Message xmlns:m='urn:test' ID='_x'><m:Body Id='_x'/></m:Message>", {}, "test");
    auto result = verify(doc.get(), "idp-rsa");
    CHECK_FALSE(result.ok());
    STRCMP_EQUAL("SAML0205", result.error().code.c_str());
}

TEST(XmlSignature, RawSignaturesForTheRedirectBinding) {
    for (const char* uri : {algorithm::rsa_sha256, algorithm::ecdsa_sha256}) {
        const auto alg = *find_signature_algorithm(uri);
        const std::string name = alg.key_type == KeyType::Rsa ? "idp-rsa" : "idp-ec";
        const std::string sig = sign_bytes(pki_key(name).get(), alg, "SAMLRequest=abc&SigAlg=x");
        CHECK(verify_bytes(pki_key(name).get(), alg, "SAMLRequest=abc&SigAlg=x", sig));
        CHECK_FALSE(verify_bytes(pki_key(name).get(), alg, "SAMLRequest=abd&SigAlg=x", sig));
        CHECK_FALSE(verify_bytes(pki_key(name).get(), alg, "SAMLRequest=abc&SigAlg=x", sig.substr(1)));
    }
}
