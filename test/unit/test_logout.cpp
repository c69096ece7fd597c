#include "encoding.hpp"
#include "idp_builder.hpp"
#include "logout.hpp"
#include "metadata.hpp"
#include "redirect_binding.hpp"
#include "soap.hpp"
#include "test_support.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <CppUTest/TestHarness.h>

#include <memory>
#include <string>
#include <vector>

using namespace saml;
using namespace saml::test;


namespace {

const char* const kIdp = "https://idp.example.com/idp";
const char* const kSls = "https://sp.example.org/saml/sls";
const char* const kNow = "2026-06-01T12:00:00Z";
const char* const kOurRequestId = "_sp-logout-42";

SpSettings sp_settings() {
    SpSettings sp;
    sp.entity_id = "https://sp.example.org/saml/metadata";
    sp.acs_url = "https://sp.example.org/saml/acs";
    sp.sls_url = kSls;
    sp.signing = pki_pair("sp-signing");
    return sp;
}

TrustedCertificate trusted(const std::string& name) {
    auto cert = pki_cert(name);
    return {cert, std::shared_ptr<EVP_PKEY>(certificate_public_key(cert.get()).release(), EVP_PKEY_free)};
}

IdpRegistry registry() {
    auto idp = std::make_shared<IdpDescriptor>();
    idp->entity_id = kIdp;
    idp->signing = {trusted("idp-rsa")};
    IdpRegistry idps;
    idps.add(idp);
    return idps;
}

const std::string kDestination = std::string(" Destination=\"") + kSls + "\"";

// An IdP's LogoutRequest, written out so each test can bend one part of it.
std::string request_xml(const std::string& extra = kDestination, const std::string& instant = kNow,
                        const std::string& issuer = kIdp, const std::string& name_id = "alice@example.com") {
    std::string xml =
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
        "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_idp-req-1\" Version=\"2.0\" "
        "IssueInstant=\"{{INSTANT}}\"{{EXTRA}}><saml:Issuer>{{ISSUER}}</saml:Issuer>"
        "<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\" "
        "SPNameQualifier=\"https://sp.example.org/saml/metadata\">{{NAMEID}}</saml:NameID>"
        "<samlp:SessionIndex>_s1</samlp:SessionIndex><samlp:SessionIndex>_s2</samlp:SessionIndex>"
        "</samlp:LogoutRequest>";
    return fill(fill(fill(fill(xml, "INSTANT", instant), "EXTRA", extra), "ISSUER", issuer), "NAMEID", name_id);
}

std::string response_xml(const std::string& in_response_to = kOurRequestId,
                         const std::string& status = "urn:oasis:names:tc:SAML:2.0:status:Success",
                         const std::string& extra = kDestination) {
    std::string xml =
        "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
        "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_idp-resp-1\" Version=\"2.0\" "
        "IssueInstant=\"2026-06-01T12:00:00Z\" InResponseTo=\"{{IRT}}\"{{EXTRA}}>"
        "<saml:Issuer>https://idp.example.com/idp</saml:Issuer>"
        "<samlp:Status><samlp:StatusCode Value=\"{{STATUS}}\"/></samlp:Status></samlp:LogoutResponse>";
    return fill(fill(fill(xml, "IRT", in_response_to), "STATUS", status), "EXTRA", extra);
}

// The IdP's side of the Redirect binding; signer empty = unsigned.
std::string idp_redirect(const std::string& xml, bool is_request, const std::string& relay_state,
                         const std::string& signer = "idp-rsa", const char* alg_uri = nullptr) {
    const KeyPair pair = signer.empty() ? KeyPair{} : pki_pair(signer);
    const auto alg = alg_uri ? find_signature_algorithm(alg_uri) : std::nullopt;
    auto query = encode_redirect_query(xml, is_request, relay_state, signer.empty() ? nullptr : &pair,
                                       alg ? &*alg : nullptr);
    if (!query) FAIL(query.error().message().c_str());
    return query.value();
}

// The IdP's side of the POST binding: signed enveloped after the Issuer, then base64.
std::string idp_post(const std::string& xml, const std::string& signer = "idp-rsa") {
    if (signer.empty()) return base64_encode(xml);
    XmlDoc doc = parse_xml(xml, {}, "idp message");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    const auto alg = find_signature_algorithm(algorithm::rsa_sha256);
    sign_enveloped(root, first_element_child(root), pki_key(signer).get(), pki_cert(signer).get(), *alg);
    return base64_encode(serialize(root));
}

IncomingMessage redirect_message(const std::string& query) {
    return {IncomingMessage::Binding::Redirect, query, {}};
}

IncomingMessage post_message(const std::string& body, const std::string& relay_state = "") {
    return {IncomingMessage::Binding::Post, body, relay_state};
}

Result<IncomingLogoutRequest> validate_request(const IncomingMessage& message, const SecurityPolicy& policy = {},
                                               Instant now = test_now()) {
    return validate_logout_request(message, registry(), sp_settings(), policy, now);
}

Result<IncomingLogoutResponse> validate_response(const IncomingMessage& message,
                                                 const std::string& expected = kOurRequestId,
                                                 const SecurityPolicy& policy = {}) {
    return validate_logout_response(message, registry(), sp_settings(), policy, expected, test_now());
}

template <typename T>
Error error_of(const Result<T>& result) {
    CHECK_FALSE(result.ok());
    return result.ok() ? Error{} : result.error();
}

std::string query_param(const std::string& query, const std::string& name) {
    const std::size_t start = query.find(name + "=");
    const std::size_t from = start + name.size() + 1;
    return query.substr(from, query.find('&', from) - from);
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
    const std::size_t pos = text.find(from);
    if (pos != std::string::npos) text.replace(pos, from.size(), to);
    return text;
}

}  // namespace

TEST_GROUP(LogoutValidation){};

TEST(LogoutValidation, SignedRedirectRequestRoundTrip) {
    auto result = validate_request(redirect_message(idp_redirect(request_xml(), true, "back/to?x=1")));
    CHECK_TEXT(result.ok(), result.ok() ? "" : result.error().message().c_str());
    const IncomingLogoutRequest& request = result.value();
    STRCMP_EQUAL("_idp-req-1", request.id.c_str());
    STRCMP_EQUAL(kIdp, request.issuer.c_str());
    STRCMP_EQUAL("alice@example.com", request.name_id.value.c_str());
    STRCMP_EQUAL(nameid_format::email, request.name_id.format.c_str());
    STRCMP_EQUAL("https://sp.example.org/saml/metadata", request.name_id.sp_name_qualifier.c_str());
    STRCMP_EQUAL("", request.name_id.name_qualifier.c_str());
    CHECK_EQUAL(2u, request.session_indexes.size());
    STRCMP_EQUAL("_s1", request.session_indexes[0].c_str());
    STRCMP_EQUAL("_s2", request.session_indexes[1].c_str());
    STRCMP_EQUAL("back/to?x=1", request.relay_state.c_str());
    CHECK(request.signature_verified);
    CHECK_FALSE(request.not_on_or_after.has_value());
}

TEST(LogoutValidation, SignedPostRequestRoundTrip) {
    // A comment inside the NameID must not cut the value short.
    const std::string xml = request_xml(kDestination, kNow, kIdp, "alice<!-- cut -->@example.com");
    auto result = validate_request(post_message(idp_post(xml), "relay"));
    CHECK_TEXT(result.ok(), result.ok() ? "" : result.error().message().c_str());
    STRCMP_EQUAL("alice@example.com", result.value().name_id.value.c_str());
    STRCMP_EQUAL("relay", result.value().relay_state.c_str());
    CHECK(result.value().signature_verified);
    CHECK_EQUAL(2u, result.value().session_indexes.size());
}

TEST(LogoutValidation, MissingSignatureWhenRequired) {
    const Error redirect = error_of(validate_request(redirect_message(idp_redirect(request_xml(), true, "", ""))));
    STRCMP_EQUAL("SAML0708", redirect.code.c_str());
    CHECK(redirect.kind == ErrorKind::Rejected);
    const Error post = error_of(validate_request(post_message(idp_post(request_xml(), ""))));
    STRCMP_EQUAL("SAML0724", post.code.c_str());
    CHECK(post.kind == ErrorKind::Rejected);

    // Allowed unsigned when policy says so, and reported as unsigned.
    SecurityPolicy lax;
    lax.want_logout_signed = false;
    auto unsigned_redirect = validate_request(redirect_message(idp_redirect(request_xml(), true, "", "")), lax);
    CHECK(unsigned_redirect.ok());
    CHECK_FALSE(unsigned_redirect.value().signature_verified);
    auto unsigned_post = validate_request(post_message(idp_post(request_xml(), "")), lax);
    CHECK(unsigned_post.ok());
    CHECK_FALSE(unsigned_post.value().signature_verified);
    // A signature that is there must verify, whatever the policy.
    STRCMP_EQUAL("SAML0707",
                 error_of(validate_request(redirect_message(idp_redirect(request_xml(), true, "", "attacker")), lax)).code.c_str());
    STRCMP_EQUAL("SAML0222", error_of(validate_request(post_message(idp_post(request_xml(), "attacker")), lax)).code.c_str());
}

TEST(LogoutValidation, StrippedSignatureParameter) {
    const std::string query = idp_redirect(request_xml(), true, "r");
    const std::string signature = "&Signature=" + query_param(query, "Signature");
    const std::string sig_alg = "&SigAlg=" + query_param(query, "SigAlg");
    STRCMP_EQUAL("SAML0709", error_of(validate_request(redirect_message(replace_once(query, signature, "")))).code.c_str());
    const std::string stripped = replace_once(replace_once(query, signature, ""), sig_alg, "");
    STRCMP_EQUAL("SAML0708", error_of(validate_request(redirect_message(stripped))).code.c_str());
}

TEST(LogoutValidation, ReorderedParametersWithSwappedSigAlgFail) {
    const std::string query = idp_redirect(request_xml(), true, "r");
    const std::string message = "SAMLRequest=" + query_param(query, "SAMLRequest");
    const std::string relay = "RelayState=" + query_param(query, "RelayState");
    const std::string signature = "Signature=" + query_param(query, "Signature");
    const std::string sig_alg = "SigAlg=" + query_param(query, "SigAlg");
    CHECK(validate_request(redirect_message(sig_alg + "&" + signature + "&" + relay + "&" + message)).ok());
    for (const char* swapped : {algorithm::rsa_sha384, algorithm::rsa_sha512, algorithm::ecdsa_sha256}) {
        const std::string attack = signature + "&SigAlg=" + url_encode(swapped) + "&" + relay + "&" + message;
        const Error error = error_of(validate_request(redirect_message(attack)));
        CHECK(error.code == "SAML0707" || error.code == "SAML0706");
        CHECK(error.kind == ErrorKind::Rejected);
    }
}

TEST(LogoutValidation, SigAlgSwappedToSha1OrHmac) {
    const std::string query = idp_redirect(request_xml(), true, "");
    const std::string sig_alg = "SigAlg=" + query_param(query, "SigAlg");
    for (const char* weak : {algorithm::rsa_sha1, "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
                             "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"}) {
        const Error error = error_of(validate_request(redirect_message(replace_once(query, sig_alg, "SigAlg=" + url_encode(weak)))));
        STRCMP_EQUAL("SAML0705", error.code.c_str());
    }
    // Genuinely signed with SHA-1: refused by default, accepted when the policy allows SHA-1.
    const std::string sha1 = idp_redirect(request_xml(), true, "", "idp-rsa", algorithm::rsa_sha1);
    STRCMP_EQUAL("SAML0705", error_of(validate_request(redirect_message(sha1))).code.c_str());
    SecurityPolicy allow_sha1;
    allow_sha1.algorithms.allow_sha1 = true;
    CHECK(validate_request(redirect_message(sha1), allow_sha1).ok());
}

TEST(LogoutValidation, AttackerKeyIsRejected) {
    STRCMP_EQUAL("SAML0707",
                 error_of(validate_request(redirect_message(idp_redirect(request_xml(), true, "", "attacker")))).code.c_str());
    STRCMP_EQUAL("SAML0222", error_of(validate_request(post_message(idp_post(request_xml(), "attacker")))).code.c_str());
    // An EC key signs with ECDSA; the IdP has only an RSA key on file.
    STRCMP_EQUAL("SAML0706",
                 error_of(validate_request(redirect_message(idp_redirect(request_xml(), true, "", "idp-ec")))).code.c_str());
}

TEST(LogoutValidation, SignedPostTamperedAfterSigningFails) {
    const std::string signed_xml = base64_decode(idp_post(request_xml()), 1 << 20, "t");
    const std::string tampered = replace_once(signed_xml, "alice@example.com", "admin@example.com");
    STRCMP_EQUAL("SAML0224", error_of(validate_request(post_message(base64_encode(tampered)))).code.c_str());
}

TEST(LogoutValidation, Destination) {
    const std::string wrong = " Destination=\"https://other.example.org/saml/sls\"";
    STRCMP_EQUAL("SAML0725",
                 error_of(validate_request(redirect_message(idp_redirect(request_xml(wrong), true, "")))).code.c_str());
    STRCMP_EQUAL("SAML0725", error_of(validate_request(post_message(idp_post(request_xml(wrong))))).code.c_str());
    STRCMP_EQUAL("SAML0725", error_of(validate_response(post_message(idp_post(response_xml(kOurRequestId,
        "urn:oasis:names:tc:SAML:2.0:status:Success", wrong))))).code.c_str());
    // Absent: required on any signed message, optional on an unsigned one.
    STRCMP_EQUAL("SAML0726", error_of(validate_request(post_message(idp_post(request_xml(""))))).code.c_str());
    STRCMP_EQUAL("SAML0726", error_of(validate_request(redirect_message(idp_redirect(request_xml(""), true, "")))).code.c_str());
    SecurityPolicy lax;
    lax.want_logout_signed = false;
    CHECK(validate_request(post_message(idp_post(request_xml(""), "")), lax).ok());
    CHECK(validate_request(redirect_message(idp_redirect(request_xml(""), true, "", "")), lax).ok());
}

TEST(LogoutValidation, Issuer) {
    const Error unknown = error_of(validate_request(
        redirect_message(idp_redirect(request_xml(kDestination, kNow, "https://evil.example.net/idp"), true, ""))));
    STRCMP_EQUAL("SAML0723", unknown.code.c_str());
    CHECK(unknown.kind == ErrorKind::Rejected);
    const std::string no_issuer = replace_once(request_xml(), "<saml:Issuer>https://idp.example.com/idp</saml:Issuer>", "");
    STRCMP_EQUAL("SAML0722", error_of(validate_request(post_message(base64_encode(no_issuer)))).code.c_str());
}

TEST(LogoutValidation, TimeLimits) {
    const std::string expired = std::string(kDestination) + " NotOnOrAfter=\"2026-06-01T11:58:00Z\"";
    const Error error = error_of(validate_request(redirect_message(idp_redirect(request_xml(expired), true, ""))));
    STRCMP_EQUAL("SAML0728", error.code.c_str());
    CHECK(error.kind == ErrorKind::Rejected);
    // Within the clock skew (60 s) it is still good, and reported.
    const std::string just = std::string(kDestination) + " NotOnOrAfter=\"2026-06-01T11:59:30Z\"";
    auto ok = validate_request(redirect_message(idp_redirect(request_xml(just), true, "")));
    CHECK(ok.ok());
    CHECK(ok.value().not_on_or_after.has_value());
    CHECK(*ok.value().not_on_or_after == parse_datetime("2026-06-01T11:59:30Z", "t"));

    STRCMP_EQUAL("SAML0727", error_of(validate_request(redirect_message(
        idp_redirect(request_xml(kDestination, "2026-06-01T12:05:00Z"), true, "")))).code.c_str());
    CHECK(validate_request(redirect_message(idp_redirect(request_xml(kDestination, "2026-06-01T12:00:50Z"), true, ""))).ok());
    STRCMP_EQUAL("SAML0721", error_of(validate_request(redirect_message(
        idp_redirect(replace_once(request_xml(), " IssueInstant=\"2026-06-01T12:00:00Z\"", ""), true, "")))).code.c_str());
}

// A LogoutRequest is accepted once (per IdP and ID), for at most ten minutes after it was
// issued (sooner when its NotOnOrAfter says so), and remembered that long.
TEST(LogoutValidation, ReplayedRequestIsRefusedAndRememberedWhileItCouldBeAccepted) {
    MemoryReplayCache replay;
    const std::string query = idp_redirect(request_xml(), true, "");
    const IncomingMessage message = redirect_message(query);
    auto first = validate_logout_request(message, registry(), sp_settings(), {}, test_now(), &replay);
    CHECK_TEXT(first.ok(), first.ok() ? "" : first.error().message().c_str());
    CHECK_FALSE(first.value().replay_unchecked);
    CHECK_EQUAL(1u, replay.expiries.size());
    const std::string key = std::string("logout-request ") + kIdp + " _idp-req-1";
    CHECK(replay.expiries.count(key) == 1);
    CHECK(replay.expiries[key] == parse_datetime("2026-06-01T12:11:00Z", "t"));  // issued + 10 min + skew

    // The same request again, by either binding: refused.
    const Error again = error_of(validate_logout_request(message, registry(), sp_settings(), {}, test_now(), &replay));
    STRCMP_EQUAL("SAML0735", again.code.c_str());
    STRCMP_EQUAL("replay", again.rule.c_str());
    CHECK(again.kind == ErrorKind::Rejected);
    const std::string posted = idp_post(request_xml());
    STRCMP_EQUAL("SAML0735", error_of(validate_logout_request(post_message(posted), registry(), sp_settings(), {},
                                                               test_now(), &replay)).code.c_str());

    // Another IdP's request with the same ID is another message.
    CHECK(replay.remember(std::string("logout-request https://other.example/idp _idp-req-1"), test_now()) ==
          ReplayCache::Verdict::Fresh);

    // NotOnOrAfter sooner than ten minutes: remembered until then.
    MemoryReplayCache short_lived;
    const std::string soon = std::string(kDestination) + " NotOnOrAfter=\"2026-06-01T12:02:00Z\"";
    const std::string soon_query = idp_redirect(request_xml(soon), true, "");
    CHECK(validate_logout_request(redirect_message(soon_query), registry(), sp_settings(), {}, test_now(), &short_lived).ok());
    CHECK(short_lived.expiries[key] == parse_datetime("2026-06-01T12:03:00Z", "t"));

    // Older than ten minutes (plus the skew), even with a far NotOnOrAfter: too old to check.
    const std::string far = std::string(kDestination) + " NotOnOrAfter=\"2026-06-02T12:00:00Z\"";
    const std::string too_old = idp_redirect(request_xml(far, "2026-06-01T11:48:59Z"), true, "");
    STRCMP_EQUAL("SAML0728", error_of(validate_request(redirect_message(too_old))).code.c_str());
    const std::string not_yet_too_old = idp_redirect(request_xml(far, "2026-06-01T11:49:01Z"), true, "");
    CHECK(validate_request(redirect_message(not_yet_too_old)).ok());

    // An unreachable cache does not block a logout; the caller is told to log it.
    MemoryReplayCache down;
    down.unavailable = true;
    auto unchecked = validate_logout_request(message, registry(), sp_settings(), {}, test_now(), &down);
    CHECK(unchecked.ok());
    CHECK(unchecked.value().replay_unchecked);
}

TEST(LogoutValidation, ResponseRoundTripAndStatus) {
    auto result = validate_response(redirect_message(idp_redirect(response_xml(), false, "after-logout")));
    CHECK_TEXT(result.ok(), result.ok() ? "" : result.error().message().c_str());
    STRCMP_EQUAL("_idp-resp-1", result.value().id.c_str());
    STRCMP_EQUAL(kIdp, result.value().issuer.c_str());
    STRCMP_EQUAL(kOurRequestId, result.value().in_response_to.c_str());
    CHECK(result.value().success);
    STRCMP_EQUAL(status::success, result.value().status_code.c_str());
    STRCMP_EQUAL("after-logout", result.value().relay_state.c_str());
    CHECK(result.value().signature_verified);

    const std::string partial = replace_once(response_xml(kOurRequestId, status::responder),
                                             "/></samlp:Status>",
                                             "><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:PartialLogout\"/>"
                                             "</samlp:StatusCode><samlp:StatusMessage>one SP failed</samlp:StatusMessage>"
                                             "</samlp:Status>");
    auto failed = validate_response(post_message(idp_post(partial)));
    CHECK_TEXT(failed.ok(), failed.ok() ? "" : failed.error().message().c_str());
    CHECK_FALSE(failed.value().success);
    STRCMP_EQUAL(status::responder, failed.value().status_code.c_str());
    STRCMP_EQUAL(status::partial_logout, failed.value().second_status_code.c_str());
    STRCMP_EQUAL("one SP failed", failed.value().status_message.c_str());

    const std::string no_status = replace_once(response_xml(), "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>", "");
    STRCMP_EQUAL("SAML0731", error_of(validate_response(post_message(idp_post(no_status)))).code.c_str());
}

TEST(LogoutValidation, InResponseToMustMatch) {
    const Error mismatch = error_of(validate_response(redirect_message(idp_redirect(response_xml("_someone-else"), false, ""))));
    STRCMP_EQUAL("SAML0729", mismatch.code.c_str());
    CHECK(mismatch.kind == ErrorKind::Rejected);
    STRCMP_EQUAL("SAML0729", error_of(validate_response(post_message(idp_post(response_xml())), "_other")).code.c_str());
    // Nothing pending: nothing to accept.
    STRCMP_EQUAL("SAML0729", error_of(validate_response(redirect_message(idp_redirect(response_xml(""), false, "")), "")).code.c_str());
}

TEST(LogoutValidation, WrongMessageKind) {
    STRCMP_EQUAL("SAML0733",
                 error_of(validate_request(redirect_message(idp_redirect(request_xml(), false, "")))).code.c_str());
    STRCMP_EQUAL("SAML0733",
                 error_of(validate_response(redirect_message(idp_redirect(response_xml(), true, "")))).code.c_str());
    STRCMP_EQUAL("SAML0720", error_of(validate_request(post_message(idp_post(response_xml())))).code.c_str());
    STRCMP_EQUAL("SAML0720", error_of(validate_response(redirect_message(idp_redirect(request_xml(), false, "")))).code.c_str());
    const std::string v1 = replace_once(request_xml(), "Version=\"2.0\"", "Version=\"1.1\"");
    STRCMP_EQUAL("SAML0721", error_of(validate_request(post_message(idp_post(v1)))).code.c_str());
    const std::string encrypted_id = replace_once(
        replace_once(request_xml(), "<saml:NameID ", "<saml:EncryptedID><x:y xmlns:x=\"urn:x\" "), "</saml:NameID>", "</x:y></saml:EncryptedID>");
    STRCMP_EQUAL("SAML0260", error_of(validate_request(post_message(idp_post(encrypted_id)))).code.c_str());
    const std::string base_id = replace_once(replace_once(request_xml(), "<saml:NameID ", "<saml:BaseID "),
                                             "</saml:NameID>", "</saml:BaseID>");
    STRCMP_EQUAL("SAML0734", error_of(validate_request(post_message(idp_post(base_id)))).code.c_str());
}

TEST(LogoutValidation, EncryptedIdIsDecryptedWithTheSpKey) {
    EncryptionSpec spec = default_encryption();
    spec.recipient_cert = "sp-signing";  // this SP has no separate encryption pair
    const std::string encrypted = encrypt_element(
        "<saml:NameID xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
        "Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\">_t-99</saml:NameID>",
        "EncryptedID", spec);
    const std::string name_id = "<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\" "
                                "SPNameQualifier=\"https://sp.example.org/saml/metadata\">alice@example.com</saml:NameID>";
    const std::string xml = replace_once(request_xml(), name_id, encrypted);
    auto result = validate_request(post_message(idp_post(xml)));
    if (!result) FAIL(result.error().message().c_str());
    STRCMP_EQUAL("_t-99", result.value().name_id.value.c_str());
    STRCMP_EQUAL("urn:oasis:names:tc:SAML:2.0:nameid-format:transient", result.value().name_id.format.c_str());
    spec.recipient_cert = "attacker";
    const std::string wrong = replace_once(request_xml(), name_id,
                                           encrypt_element("<saml:NameID xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">x"
                                                           "</saml:NameID>", "EncryptedID", spec));
    STRCMP_EQUAL("SAML0265", error_of(validate_request(post_message(idp_post(wrong)))).code.c_str());
}

TEST(LogoutValidation, HostileInputIsBadInput) {
    const std::string doctype = "<!DOCTYPE x [<!ENTITY e 'alice'>]>" + request_xml(kDestination, kNow, kIdp, "&e;");
    const Error redirect_doctype = error_of(validate_request(redirect_message(idp_redirect(doctype, true, ""))));
    STRCMP_EQUAL("SAML0103", redirect_doctype.code.c_str());
    CHECK(redirect_doctype.kind == ErrorKind::BadInput);
    STRCMP_EQUAL("SAML0103", error_of(validate_request(post_message(base64_encode(doctype)))).code.c_str());

    const std::string bomb = request_xml(kDestination, kNow, kIdp, std::string(8 * 1024 * 1024, 'a'));
    STRCMP_EQUAL("SAML0102", error_of(validate_request(redirect_message(idp_redirect(bomb, true, "", "")))).code.c_str());
    STRCMP_EQUAL("SAML0102", error_of(validate_request(post_message(base64_encode(bomb)))).code.c_str());

    std::string post = idp_post(request_xml());
    while (post.back() == '=') post.pop_back();
    post.pop_back();
    STRCMP_EQUAL("SAML0110", error_of(validate_request(post_message(post))).code.c_str());
    const std::string query = idp_redirect(request_xml(), true, "");
    const std::string message = query_param(query, "SAMLRequest");
    std::string truncated = url_decode(message, "t");
    truncated.resize(truncated.size() - 5);
    STRCMP_EQUAL("SAML0110",
                 error_of(validate_request(redirect_message(replace_once(query, message, url_encode(truncated))))).code.c_str());
    STRCMP_EQUAL("SAML0110", error_of(validate_request(post_message("!!!!"))).code.c_str());
    STRCMP_EQUAL("SAML0104", error_of(validate_request(post_message(base64_encode("<samlp:LogoutRequest")))).code.c_str());
    STRCMP_EQUAL("SAML0701", error_of(validate_request(redirect_message(query + "&" + query))).code.c_str());
}

TEST(LogoutValidation, NoLogoutUrlConfigured) {
    SpSettings sp = sp_settings();
    sp.sls_url.clear();
    auto result = validate_logout_request(redirect_message(idp_redirect(request_xml(), true, "")), registry(), sp, {}, test_now());
    STRCMP_EQUAL("SAML0732", error_of(result).code.c_str());
    CHECK(result.error().kind == ErrorKind::Config);
}

TEST_GROUP(LogoutBuilding){};

TEST(LogoutBuilding, RedirectLogoutRequest) {
    Endpoint slo{binding::redirect, "https://idp.example.com/slo", "", -1, false};
    NameId name_id{"alice&co@example.com", nameid_format::email, "https://idp.example.com/idp", "https://sp.example.org/saml/metadata"};
    auto out = build_logout_request(sp_settings(), slo, name_id, "_session-7", "/bye", true, test_now());
    CHECK_TEXT(out.ok(), out.ok() ? "" : out.error().message().c_str());
    CHECK_EQUAL(0u, out.value().redirect_url.rfind("https://idp.example.com/slo?SAMLRequest=", 0));

    const PKey sp_key = certificate_public_key(pki_cert("sp-signing").get());
    RedirectDecodeOptions options;
    options.trusted_keys = {sp_key.get()};
    auto decoded = decode_redirect_query(out.value().redirect_url.substr(out.value().redirect_url.find('?') + 1), options);
    CHECK_TEXT(decoded.ok(), decoded.ok() ? "" : decoded.error().message().c_str());
    CHECK(decoded.value().signature_verified);
    STRCMP_EQUAL("/bye", decoded.value().relay_state.c_str());
    xmlNode* root = xmlDocGetRootElement(decoded.value().doc.get());
    CHECK(is_element(root, ns::protocol, "LogoutRequest"));
    STRCMP_EQUAL(out.value().id.c_str(), attribute(root, "ID").value_or("").c_str());
    STRCMP_EQUAL("https://idp.example.com/slo", attribute(root, "Destination").value_or("").c_str());
    STRCMP_EQUAL(kNow, attribute(root, "IssueInstant").value_or("").c_str());
    STRCMP_EQUAL("https://sp.example.org/saml/metadata", element_text(unique_child(root, ns::assertion, "Issuer")).c_str());
    xmlNode* name = unique_child(root, ns::assertion, "NameID");
    STRCMP_EQUAL("alice&co@example.com", element_text(name).c_str());
    STRCMP_EQUAL(nameid_format::email, attribute(name, "Format").value_or("").c_str());
    STRCMP_EQUAL("https://idp.example.com/idp", attribute(name, "NameQualifier").value_or("").c_str());
    STRCMP_EQUAL("https://sp.example.org/saml/metadata", attribute(name, "SPNameQualifier").value_or("").c_str());
    STRCMP_EQUAL("_session-7", element_text(unique_child(root, ns::protocol, "SessionIndex")).c_str());

    NameId bare{"bob", "", "", ""};
    auto minimal = build_logout_request(sp_settings(), slo, bare, "", "", false, test_now());
    CHECK(minimal.ok());
    CHECK(minimal.value().xml.find("SessionIndex") == std::string::npos);
    CHECK(minimal.value().xml.find("Format") == std::string::npos);
    STRCMP_EQUAL("SAML0716", error_of(build_logout_request(sp_settings(), slo, NameId{}, "", "", false, test_now())).code.c_str());
}

TEST(LogoutBuilding, PostLogoutRequestIsSignedEnveloped) {
    Endpoint slo{binding::post, "https://idp.example.com/slo/post", "", -1, false};
    auto out = build_logout_request(sp_settings(), slo, NameId{"alice", "", "", ""}, "_s", "r", true, test_now());
    CHECK(out.ok());
    CHECK(out.value().redirect_url.empty());
    const std::string& html = out.value().post_form_html;
    CHECK(html.find("action=\"https://idp.example.com/slo/post\"") != std::string::npos);
    const std::string marker = "name=\"SAMLRequest\" value=\"";
    const std::size_t from = html.find(marker) + marker.size();
    const std::string xml = base64_decode(html.substr(from, html.find('"', from) - from), 1 << 20, "form");
    XmlDoc doc = parse_xml(xml, {}, "t");
    register_unique_ids(doc.get(), {{ns::protocol, "LogoutRequest"}});
    const PKey sp_key = certificate_public_key(pki_cert("sp-signing").get());
    CHECK(verify_enveloped_signature(xmlDocGetRootElement(doc.get()), {sp_key.get()}, {}) == SignatureState::Verified);
}

TEST(LogoutBuilding, LogoutResponseGoesToResponseLocationAndValidates) {
    Endpoint slo{binding::redirect, "https://idp.example.com/slo", "https://idp.example.com/slo/return", -1, false};
    auto out = build_logout_response(sp_settings(), slo, "_idp-req-1", "", "relay", true, test_now());
    CHECK(out.ok());
    const std::string& url = out.value().redirect_url;
    CHECK_EQUAL(0u, url.rfind("https://idp.example.com/slo/return?SAMLResponse=", 0));

    // Turn it round: an "IdP" that is this SP, and an SP whose logout URL is the IdP's, so the
    // SP's own validator checks what the SP built.
    auto self = std::make_shared<IdpDescriptor>();
    self->entity_id = sp_settings().entity_id;
    self->signing = {trusted("sp-signing")};
    IdpRegistry idps;
    idps.add(self);
    SpSettings receiver = sp_settings();
    receiver.sls_url = "https://idp.example.com/slo/return";
    auto validated = validate_logout_response(redirect_message(url.substr(url.find('?') + 1)), idps, receiver, {},
                                              "_idp-req-1", test_now());
    CHECK_TEXT(validated.ok(), validated.ok() ? "" : validated.error().message().c_str());
    CHECK(validated.value().success);
    CHECK(validated.value().signature_verified);
    STRCMP_EQUAL(out.value().id.c_str(), validated.value().id.c_str());
    STRCMP_EQUAL("relay", validated.value().relay_state.c_str());

    Endpoint no_return{binding::post, "https://idp.example.com/slo", "", -1, false};
    auto post = build_logout_response(sp_settings(), no_return, "_r", status::requester, "", false, test_now());
    CHECK(post.ok());
    CHECK(post.value().post_form_html.find("action=\"https://idp.example.com/slo\"") != std::string::npos);
    CHECK(post.value().post_form_html.find("name=\"SAMLResponse\"") != std::string::npos);
    CHECK(post.value().xml.find(status::requester) != std::string::npos);
    CHECK(post.value().xml.find("InResponseTo=\"_r\"") != std::string::npos);
}

namespace {

// The IdP's side of the SOAP binding: the signed LogoutRequest in an envelope, as Shibboleth IdP
// and AD FS post it (signer empty = unsigned).
std::string idp_soap(const std::string& xml, const std::string& signer = "idp-rsa") {
    const std::string message = signer.empty() ? xml : base64_decode(idp_post(xml, signer), 1 << 20, "t");
    const std::string body = message.rfind("<?xml", 0) == 0 ? message.substr(message.find("?>") + 2) : message;
    return "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Header/>"
           "<SOAP-ENV:Body>" + body + "</SOAP-ENV:Body></SOAP-ENV:Envelope>";
}

IncomingMessage soap_message(const std::string& envelope) { return {IncomingMessage::Binding::Soap, envelope, {}}; }

}  // namespace

TEST(LogoutValidation, SoapRequestsAreVerifiedLikeTheOtherBindings) {
    auto accepted = validate_request(soap_message(idp_soap(request_xml())));
    if (!accepted) FAIL(accepted.error().message().c_str());
    CHECK(accepted.value().signature_verified);
    STRCMP_EQUAL("alice@example.com", accepted.value().name_id.value.c_str());
    LONGS_EQUAL(2, accepted.value().session_indexes.size());
    // Unsigned: refused even where the front-channel bindings may go unsigned.
    SecurityPolicy lax;
    lax.want_logout_signed = false;
    STRCMP_EQUAL("SAML0724", error_of(validate_request(soap_message(idp_soap(request_xml(), "")), lax)).code.c_str());
    // Tampered after signing, signed by another key, from an unknown IdP.
    const std::string tampered = replace_once(idp_soap(request_xml()), "alice@example.com", "admin@example.com");
    STRCMP_EQUAL("SAML0224", error_of(validate_request(soap_message(tampered))).code.c_str());
    CHECK_FALSE(validate_request(soap_message(idp_soap(request_xml(), "attacker"))).ok());
    STRCMP_EQUAL("SAML0723", error_of(validate_request(soap_message(idp_soap(request_xml(kDestination, kNow,
        "https://evil.example.net/idp"))))).code.c_str());
}

TEST(LogoutValidation, SoapEnvelopesThatAreNotOneLogoutRequestAreRefused) {
    const std::string signed_request = idp_soap(request_xml());
    const std::string body_start = "<SOAP-ENV:Body>";
    const std::string two = replace_once(signed_request, "</SOAP-ENV:Body>", "<x/></SOAP-ENV:Body>");
    STRCMP_EQUAL("SAML0736", error_of(validate_request(soap_message(two))).code.c_str());
    STRCMP_EQUAL("SAML0736", error_of(validate_request(soap_message(
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"/>"))).code.c_str());
    STRCMP_EQUAL("SAML0736", error_of(validate_request(soap_message(request_xml()))).code.c_str());  // no envelope
    CHECK_FALSE(validate_request(soap_message("<!DOCTYPE x [<!ENTITY e \"e\">]><x>&e;</x>")).ok());
    CHECK_FALSE(validate_request(soap_message("not xml")).ok());
    // A LogoutResponse never comes over SOAP to us.
    STRCMP_EQUAL("SAML0736", error_of(validate_response(soap_message(idp_soap(response_xml())))).code.c_str());
    // Replayed: refused like the other bindings' (the same cache key).
    MemoryReplayCache replay;
    CHECK(validate_logout_request(soap_message(signed_request), registry(), sp_settings(), {}, test_now(), &replay).ok());
    STRCMP_EQUAL("SAML0735", error_of(validate_logout_request(soap_message(signed_request), registry(), sp_settings(), {},
                                                              test_now(), &replay)).code.c_str());
}

TEST(LogoutValidation, TheSoapAnswerIsASignedLogoutResponse) {
    auto answer = build_soap_logout_response(sp_settings(), "_idp-req-1", status::partial_logout, "cookies & no store",
                                             test_now());
    if (!answer) FAIL(answer.error().message().c_str());
    XmlDoc doc = parse_xml(answer.value(), {}, "answer");
    const SoapBody body = soap_body_message(doc.get());
    CHECK(body.message != nullptr);
    CHECK(is_element(body.message, ns::protocol, "LogoutResponse"));
    STRCMP_EQUAL("_idp-req-1", attribute(body.message, "InResponseTo").value_or("").c_str());
    CHECK(answer.value().find(status::partial_logout) != std::string::npos);
    CHECK(answer.value().find("cookies &amp; no store") != std::string::npos);
    register_unique_ids(doc.get(), {{ns::protocol, "LogoutResponse"}});
    const std::vector<EVP_PKEY*> sp_keys{pki_key("sp-signing").get()};
    CHECK(verify_enveloped_signature(body.message, sp_keys, {}) == SignatureState::Verified);
}
