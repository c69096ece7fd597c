// The XML-signature profile on its own: sign and verify round trips, ID registration.
#include "error.hpp"
#include "idp_builder.hpp"
#include "loopback_listener.hpp"
#include "test_support.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <poll.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

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

// --- exclusive c14n #WithComments, against xmlsec1 (the command line tool of the library most
// IdPs sign with) as an independent oracle: it signs, both of us verify, and we must agree on
// every tampering. What the specs say, and what xmlsec1 does: SignedInfo is canonicalized with
// its comments (a comment there is signed); the "#ID" Reference yields the element without its
// comments (XMLDSig 1.1 section 4.4.3.3), so a comment in the signed content is not signed,
// whichever of the two c14n URIs the Transform names. ---

namespace {

const std::string kTemplateDoc =
    "<m:Message xmlns:m=\"urn:test\" ID=\"_m1\"><m:Issuer>me</m:Issuer>{{SIGNATURE}}"
    "<m:Body>hel<!-- body comment -->lo</m:Body></m:Message>";

struct Oracle {
    std::string dir;
    Oracle() {
        char name[] = "xmlsec1-oracle-XXXXXX";
        if (mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp");
        dir = name;
    }
    ~Oracle() { std::system(("rm -rf '" + dir + "'").c_str()); }

    std::string write(const std::string& file, const std::string& content) const {
        const std::string path = dir + "/" + file;
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }
    // xmlsec1 COMMAND OPTIONS FILE; the ID attribute registered as our verifier does.
    bool run(const std::string& command, const std::string& file) const {
        return std::system(("xmlsec1 " + command + " --id-attr:ID urn:test:Message " + file + " >/dev/null 2>&1").c_str()) ==
               0;
    }
    std::string sign(const std::string& xml) const {
        const std::string in = write("template.xml", xml), out = dir + "/signed.xml";
        if (!run("--sign --privkey-pem " + pki_path("idp-rsa.key") + " --output " + out, in))
            throw std::runtime_error("xmlsec1 --sign failed (is the xmlsec1 tool installed? scripts/install-deps)");
        std::ifstream file(out, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(file), {});
    }
    bool verifies(const std::string& xml) const {
        // Only the configured certificate's key, as we do: the KeyInfo is not looked at.
        return run("--verify --pubkey-cert-pem " + pki_path("idp-rsa.crt") + " --enabled-key-data key-name",
                   write("check.xml", xml));
    }
};

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto pos = text.find(from);
    if (pos == std::string::npos) throw std::runtime_error("no " + from);
    return text.replace(pos, from.size(), to);
}

bool we_verify(const std::string& xml) {
    XmlDoc doc = parse_xml(xml, {}, "test");
    return verify(doc.get(), "idp-rsa").ok();
}

}  // namespace

TEST(XmlSignature, WithCommentsAgreesWithXmlsec1) {
    const Oracle oracle;
    int cases = 0;
    for (const char* method : {algorithm::exc_c14n, algorithm::exc_c14n_comments})
        for (const char* transform : {algorithm::exc_c14n, algorithm::exc_c14n_comments}) {
            const bool signed_info_comments = std::string(method) == algorithm::exc_c14n_comments;
            const std::string good = oracle.sign(
                fill(kTemplateDoc, "SIGNATURE", signature_template("_m1", method, transform, " signed-info comment ")));
            struct Tamper {
                const char* what;
                std::string xml;
                bool valid;
            };
            const std::vector<Tamper> tampers = {
                {"as signed", good, true},
                {"a comment in the content edited", replaced(good, "body comment", "edited"), true},
                {"a comment in the content removed", replaced(good, "<!-- body comment -->", ""), true},
                {"a comment added to the content", replaced(good, "<m:Issuer>me", "<m:Issuer>m<!--x-->e"), true},
                {"the content edited", replaced(good, ">hel<", ">HEL<"), false},
                {"the SignedInfo comment edited", replaced(good, "signed-info comment", "edited"), !signed_info_comments},
                {"the SignedInfo comment removed", replaced(good, "<!-- signed-info comment -->", ""), !signed_info_comments},
                {"a comment added to SignedInfo", replaced(good, "<ds:Reference ", "<!--x--><ds:Reference "),
                 !signed_info_comments},
            };
            for (const auto& t : tampers) {
                const std::string where = std::string(method) + " / " + transform + ": " + t.what;
                CHECK_EQUAL_TEXT(t.valid, oracle.verifies(t.xml), ("xmlsec1, " + where).c_str());
                CHECK_EQUAL_TEXT(t.valid, we_verify(t.xml), ("ours, " + where).c_str());
                ++cases;
            }
        }
    CHECK_EQUAL(32, cases);
}

TEST(XmlSignature, Xmlsec1VerifiesWhatWeSign) {
    const Oracle oracle;
    XmlDoc doc = signed_doc("idp-rsa", algorithm::rsa_sha256);
    const std::string ours = serialize(xmlDocGetRootElement(doc.get()));
    CHECK(oracle.verifies(ours));
    CHECK_FALSE(oracle.verifies(replaced(ours, ">hello<", ">HELLO<")));
}

// Neither side of the signature code reads a URI: verification is ours (OpenSSL over our c14n)
// and takes keys from configuration only; signing goes through xmlsec, restricted to the
// document itself. A listener on loopback sees whether anything tried.
TEST(XmlSignature, NeitherSigningNorVerifyingReadsAUri) {
    LoopbackListener listener(8);
    const std::string url = "http://127.0.0.1:" + std::to_string(listener.port());
    const std::string bait = "<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:RetrievalMethod URI=\"" + url +
                             "/key\" Type=\"http://www.w3.org/2000/09/xmldsig#X509Data\"/></ds:KeyInfo>"
                             "<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" href=\"" + url + "/include\"/>";
    // Signing an element that holds such references.
    XmlDoc doc = parse_xml("<m:Message xmlns:m='urn:test' ID='_m1'><m:Issuer>me</m:Issuer>" + bait + "</m:Message>", {}, "t");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    sign_enveloped(root, first_element_child(root), pki_key("idp-rsa").get(), pki_cert("idp-rsa").get(),
                   *find_signature_algorithm(algorithm::rsa_sha256));
    std::string xml = serialize(root);
    // Verifying a signature whose KeyInfo holds only a RetrievalMethod to the listener.
    const auto key_info = xml.find("<ds:KeyInfo>");
    xml.replace(key_info, xml.find("</ds:KeyInfo>") + 13 - key_info,
                "<ds:KeyInfo><ds:RetrievalMethod URI=\"" + url + "/signing-key\"/></ds:KeyInfo>");
    XmlDoc received = parse_xml(xml, {}, "t");
    auto verified = verify(received.get(), "idp-rsa");
    CHECK(verified.ok() && verified.value() == SignatureState::Verified);
    // A Reference to the listener is refused by shape, before anything could be read.
    XmlDoc external = parse_xml(replaced(xml, "URI=\"#_m1\"", "URI=\"" + url + "/doc\""), {}, "t");
    auto refused = verify(external.get(), "idp-rsa");
    CHECK_FALSE(refused.ok());
    STRCMP_EQUAL("SAML0217", refused.error().code.c_str());
    pollfd p{listener.fd(), POLLIN, 0};
    CHECK_EQUAL(0, poll(&p, 1, 200));
}
