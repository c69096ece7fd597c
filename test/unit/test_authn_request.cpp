#include "authn_request.hpp"
#include "encoding.hpp"
#include "redirect_binding.hpp"
#include "test_support.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

using namespace saml;
using namespace saml::test;

namespace {

const char* const kIdpSso = "https://idp.example.com/sso?tenant=1";

SpSettings sp_settings() {
    SpSettings sp;
    sp.entity_id = "https://sp.example.org/saml/metadata";
    sp.acs_url = "https://sp.example.org/saml/acs";
    sp.sls_url = "https://sp.example.org/saml/sls";
    sp.signing = pki_pair("sp-signing");
    return sp;
}

Endpoint endpoint(const char* binding, const char* location = kIdpSso) {
    Endpoint e;
    e.binding = binding;
    e.location = location;
    return e;
}

std::string query_of(const std::string& url) { return url.substr(url.find('?') + 1); }

// The raw value of a query parameter, as it travels.
std::string raw_param(const std::string& query, const std::string& name) {
    const std::string marker = name + "=";
    std::size_t pos = query.rfind(marker, 0) == 0 ? 0 : query.find("&" + marker);
    if (pos == std::string::npos) return "";
    if (pos != 0 || query.rfind(marker, 0) != 0) pos += 1;
    pos += marker.size();
    return query.substr(pos, query.find('&', pos) - pos);
}

std::string with_param(const std::string& query, const std::string& name, const std::string& raw_value) {
    const std::string old = name + "=" + raw_param(query, name);
    std::string out = query;
    out.replace(out.find(old), old.size(), name + "=" + raw_value);
    return out;
}

std::string without_param(const std::string& query, const std::string& name) {
    const std::string old = "&" + name + "=" + raw_param(query, name);
    std::string out = query;
    out.erase(out.find(old), old.size());
    return out;
}

struct TrustedKey {
    PKey key;
    explicit TrustedKey(const std::string& name) : key(certificate_public_key(pki_cert(name).get())) {}
};

RedirectDecodeOptions trusting(const TrustedKey& trusted) {
    RedirectDecodeOptions options;
    options.trusted_keys = {trusted.key.get()};
    return options;
}

RedirectDecodeOptions unsigned_ok() {
    RedirectDecodeOptions options;
    options.require_signature = false;
    return options;
}

Error decode_error(const std::string& query, const RedirectDecodeOptions& options) {
    auto result = decode_redirect_query(query, options);
    CHECK_FALSE(result.ok());
    return result.ok() ? Error{} : result.error();
}

std::string attr(const xmlNode* node, const char* name) { return attribute(node, name).value_or("<absent>"); }

std::string form_field(const std::string& html, const std::string& name) {
    const std::string marker = "name=\"" + name + "\" value=\"";
    const std::size_t start = html.find(marker);
    if (start == std::string::npos) return "<absent>";
    const std::size_t from = start + marker.size();
    return html.substr(from, html.find('"', from) - from);
}

OutgoingRequest build(const SpSettings& sp, const Endpoint& idp, const AuthnRequestOptions& options,
                      const std::string& relay_state, bool sign) {
    auto built = build_authn_request(sp, idp, options, relay_state, sign, test_now());
    if (!built) FAIL(built.error().message().c_str());
    return built.value();
}

std::string deflated_query(const std::string& xml) {
    return "SAMLRequest=" + url_encode(base64_encode(deflate_raw(xml)));
}

}  // namespace

TEST_GROUP(AuthnRequest){};

TEST(AuthnRequest, RedirectCarriesEveryField) {
    const SpSettings sp = sp_settings();
    const OutgoingRequest out = build(sp, endpoint(binding::redirect), {}, "/private/page?x=1&y=2", false);
    CHECK(out.post_form_html.empty());
    CHECK_EQUAL(0u, out.redirect_url.rfind("https://idp.example.com/sso?tenant=1&SAMLRequest=", 0));
    CHECK(out.redirect_url.find("Signature=") == std::string::npos);

    auto decoded = decode_redirect_query(query_of(out.redirect_url), unsigned_ok());
    CHECK_TEXT(decoded.ok(), decoded.ok() ? "" : decoded.error().message().c_str());
    const RedirectMessage& message = decoded.value();
    CHECK(message.is_request);
    CHECK_FALSE(message.signature_verified);
    STRCMP_EQUAL("/private/page?x=1&y=2", message.relay_state.c_str());
    xmlNode* root = xmlDocGetRootElement(message.doc.get());
    CHECK(is_element(root, ns::protocol, "AuthnRequest"));
    STRCMP_EQUAL(out.id.c_str(), attr(root, "ID").c_str());
    CHECK_EQUAL('_', out.id[0]);
    CHECK_EQUAL(41u, out.id.size());
    STRCMP_EQUAL("2.0", attr(root, "Version").c_str());
    STRCMP_EQUAL("2026-06-01T12:00:00Z", attr(root, "IssueInstant").c_str());
    STRCMP_EQUAL(kIdpSso, attr(root, "Destination").c_str());
    STRCMP_EQUAL(sp.acs_url.c_str(), attr(root, "AssertionConsumerServiceURL").c_str());
    STRCMP_EQUAL(binding::post, attr(root, "ProtocolBinding").c_str());
    STRCMP_EQUAL("<absent>", attr(root, "ForceAuthn").c_str());
    STRCMP_EQUAL("<absent>", attr(root, "IsPassive").c_str());
    STRCMP_EQUAL("<absent>", attr(root, "ProviderName").c_str());
    xmlNode* issuer = first_element_child(root);
    CHECK(is_element(issuer, ns::assertion, "Issuer"));
    STRCMP_EQUAL(sp.entity_id.c_str(), element_text(issuer).c_str());
    xmlNode* policy = unique_child(root, ns::protocol, "NameIDPolicy");
    CHECK(policy != nullptr);
    STRCMP_EQUAL("true", attr(policy, "AllowCreate").c_str());
    STRCMP_EQUAL("<absent>", attr(policy, "Format").c_str());
    CHECK(unique_child(root, ns::protocol, "RequestedAuthnContext") == nullptr);
    CHECK(unique_child(root, ns::dsig, "Signature") == nullptr);
    // The XML handed back is what was sent.
    STRCMP_EQUAL(out.xml.c_str(), serialize(root).c_str());
}

TEST(AuthnRequest, IdsAreFreshEachTime) {
    const SpSettings sp = sp_settings();
    const OutgoingRequest a = build(sp, endpoint(binding::redirect), {}, "", false);
    const OutgoingRequest b = build(sp, endpoint(binding::redirect), {}, "", false);
    CHECK(a.id != b.id);
    CHECK(raw_param(query_of(a.redirect_url), "RelayState").empty());
    CHECK(a.redirect_url.find("RelayState") == std::string::npos);
}

TEST(AuthnRequest, OptionsAppearWhenAsked) {
    AuthnRequestOptions options;
    options.force_authn = true;
    options.is_passive = true;
    options.name_id_format = nameid_format::email;
    options.allow_create = false;
    options.authn_context_class_refs = {"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                                        "urn:example:mfa"};
    options.comparison = "minimum";
    options.provider_name = "Tom & Jerry's <wiki>";
    const OutgoingRequest out = build(sp_settings(), endpoint(binding::redirect), options, "", false);
    auto decoded = decode_redirect_query(query_of(out.redirect_url), unsigned_ok());
    CHECK(decoded.ok());
    xmlNode* root = xmlDocGetRootElement(decoded.value().doc.get());
    STRCMP_EQUAL("true", attr(root, "ForceAuthn").c_str());
    STRCMP_EQUAL("true", attr(root, "IsPassive").c_str());
    STRCMP_EQUAL("Tom & Jerry's <wiki>", attr(root, "ProviderName").c_str());
    xmlNode* policy = unique_child(root, ns::protocol, "NameIDPolicy");
    STRCMP_EQUAL(nameid_format::email, attr(policy, "Format").c_str());
    STRCMP_EQUAL("false", attr(policy, "AllowCreate").c_str());
    xmlNode* context = unique_child(root, ns::protocol, "RequestedAuthnContext");
    CHECK(context != nullptr);
    STRCMP_EQUAL("minimum", attr(context, "Comparison").c_str());
    auto refs = child_elements(context, ns::assertion, "AuthnContextClassRef");
    CHECK_EQUAL(2u, refs.size());
    STRCMP_EQUAL("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", element_text(refs[0]).c_str());
    STRCMP_EQUAL("urn:example:mfa", element_text(refs[1]).c_str());
    // Schema order: Issuer, NameIDPolicy, RequestedAuthnContext.
    CHECK(next_element_sibling(first_element_child(root)) == policy);
    CHECK(next_element_sibling(policy) == context);
}

TEST(AuthnRequest, NameIdPolicyLeftOutWhenNothingIsAsked) {
    AuthnRequestOptions options;
    options.allow_create = false;
    const OutgoingRequest out = build(sp_settings(), endpoint(binding::redirect), options, "", false);
    auto decoded = decode_redirect_query(query_of(out.redirect_url), unsigned_ok());
    CHECK(decoded.ok());
    CHECK(unique_child(xmlDocGetRootElement(decoded.value().doc.get()), ns::protocol, "NameIDPolicy") == nullptr);
}

TEST(AuthnRequest, ValuesAreEscaped) {
    SpSettings sp = sp_settings();
    sp.acs_url = "https://sp.example.org/acs?a=1&b=\"2\"<x>";
    sp.entity_id = "urn:sp:<&>";
    const OutgoingRequest out = build(sp, endpoint(binding::redirect), {}, "", false);
    auto decoded = decode_redirect_query(query_of(out.redirect_url), unsigned_ok());
    CHECK(decoded.ok());
    xmlNode* root = xmlDocGetRootElement(decoded.value().doc.get());
    STRCMP_EQUAL(sp.acs_url.c_str(), attr(root, "AssertionConsumerServiceURL").c_str());
    STRCMP_EQUAL(sp.entity_id.c_str(), element_text(first_element_child(root)).c_str());
}

TEST(AuthnRequest, SignedRedirectVerifiesWithSpCertificate) {
    const TrustedKey sp_cert("sp-signing");
    const OutgoingRequest out = build(sp_settings(), endpoint(binding::redirect), {}, "relay-1", true);
    const std::string query = query_of(out.redirect_url);
    STRCMP_EQUAL(url_encode(algorithm::rsa_sha256).c_str(), raw_param(query, "SigAlg").c_str());
    auto decoded = decode_redirect_query(query, trusting(sp_cert));
    CHECK_TEXT(decoded.ok(), decoded.ok() ? "" : decoded.error().message().c_str());
    CHECK(decoded.value().signature_verified);
    STRCMP_EQUAL(algorithm::rsa_sha256, decoded.value().sig_alg.c_str());
    STRCMP_EQUAL("relay-1", decoded.value().relay_state.c_str());
    STRCMP_EQUAL(out.id.c_str(), attr(xmlDocGetRootElement(decoded.value().doc.get()), "ID").c_str());
    // The XML itself carries no signature on this binding.
    CHECK(out.xml.find("Signature") == std::string::npos);
}

TEST(AuthnRequest, TamperingAnyParameterBreaksTheSignature) {
    const TrustedKey sp_cert("sp-signing");
    const SpSettings sp = sp_settings();
    const std::string query = query_of(build(sp, endpoint(binding::redirect), {}, "relay-1", true).redirect_url);
    CHECK(decode_redirect_query(query, trusting(sp_cert)).ok());

    const std::string other_request = raw_param(query_of(build(sp, endpoint(binding::redirect), {}, "", false).redirect_url), "SAMLRequest");
    STRCMP_EQUAL("SAML0707", decode_error(with_param(query, "SAMLRequest", other_request), trusting(sp_cert)).code.c_str());
    STRCMP_EQUAL("SAML0707", decode_error(with_param(query, "RelayState", "relay-2"), trusting(sp_cert)).code.c_str());
    STRCMP_EQUAL("SAML0707", decode_error(without_param(query, "RelayState"), trusting(sp_cert)).code.c_str());
    STRCMP_EQUAL("SAML0707",
                 decode_error(with_param(query, "SigAlg", url_encode(algorithm::rsa_sha512)), trusting(sp_cert)).code.c_str());
    std::string signature = url_decode(raw_param(query, "Signature"), "test");
    signature[10] = signature[10] == 'A' ? 'B' : 'A';
    STRCMP_EQUAL("SAML0707", decode_error(with_param(query, "Signature", url_encode(signature)), trusting(sp_cert)).code.c_str());
    // Re-encoding a value differently changes the octets the signature covers.
    STRCMP_EQUAL("SAML0707", decode_error(with_param(query, "RelayState", "relay%2D1"), trusting(sp_cert)).code.c_str());
}

TEST(AuthnRequest, WrongKeyOrKeyTypeIsRejected) {
    const std::string query = query_of(build(sp_settings(), endpoint(binding::redirect), {}, "", true).redirect_url);
    const TrustedKey attacker("attacker"), ec("idp-ec");
    STRCMP_EQUAL("SAML0707", decode_error(query, trusting(attacker)).code.c_str());
    const Error no_key = decode_error(query, trusting(ec));
    STRCMP_EQUAL("SAML0706", no_key.code.c_str());
    CHECK(no_key.kind == ErrorKind::Rejected);
    RedirectDecodeOptions none;
    STRCMP_EQUAL("SAML0706", decode_error(query, none).code.c_str());
    // A key that verifies anywhere in the list is enough.
    const TrustedKey sp_cert("sp-signing");
    RedirectDecodeOptions both;
    both.trusted_keys = {attacker.key.get(), sp_cert.key.get()};
    CHECK(decode_redirect_query(query, both).ok());
}

TEST(AuthnRequest, UnusableTrustedKeysAreSkipped) {
    // Metadata may carry a key type we do not sign with (Ed25519): it is passed over, not fatal.
    PKey ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    CHECK(ed25519 != nullptr);
    const TrustedKey sp_cert("sp-signing");
    const std::string query = query_of(build(sp_settings(), endpoint(binding::redirect), {}, "", true).redirect_url);
    RedirectDecodeOptions options;
    options.trusted_keys = {ed25519.get(), nullptr, sp_cert.key.get()};
    auto decoded = decode_redirect_query(query, options);
    CHECK_TEXT(decoded.ok(), decoded.ok() ? "" : decoded.error().message().c_str());
    options.trusted_keys = {ed25519.get()};
    STRCMP_EQUAL("SAML0706", decode_error(query, options).code.c_str());
}

TEST(AuthnRequest, EcKeySignsWithEcdsa) {
    SpSettings sp = sp_settings();
    sp.signing = pki_pair("idp-ec");
    const TrustedKey ec("idp-ec");
    auto decoded = decode_redirect_query(query_of(build(sp, endpoint(binding::redirect), {}, "", true).redirect_url),
                                         trusting(ec));
    CHECK(decoded.ok());
    STRCMP_EQUAL(algorithm::ecdsa_sha256, decoded.value().sig_alg.c_str());
}

TEST(AuthnRequest, UnsignedIsRejectedWhenSignatureRequired) {
    const TrustedKey sp_cert("sp-signing");
    const std::string query = query_of(build(sp_settings(), endpoint(binding::redirect), {}, "", false).redirect_url);
    const Error error = decode_error(query, trusting(sp_cert));
    STRCMP_EQUAL("SAML0708", error.code.c_str());
    CHECK(error.kind == ErrorKind::Rejected);
}

TEST(AuthnRequest, PostFormCarriesAnEnvelopedSignature) {
    const TrustedKey sp_cert("sp-signing");
    const SpSettings sp = sp_settings();
    const OutgoingRequest out =
        build(sp, endpoint(binding::post, "https://idp.example.com/sso/post"), {}, "/a?b=1&c=<x>", true);
    CHECK(out.redirect_url.empty());
    CHECK(out.post_form_html.find("action=\"https://idp.example.com/sso/post\"") != std::string::npos);
    STRCMP_EQUAL("/a?b=1&amp;c=&lt;x&gt;", form_field(out.post_form_html, "RelayState").c_str());
    const std::string xml = base64_decode(form_field(out.post_form_html, "SAMLRequest"), 1 << 20, "form");
    STRCMP_EQUAL(out.xml.c_str(), xml.c_str());

    XmlDoc doc = parse_xml(xml, {}, "signed request");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    STRCMP_EQUAL(out.id.c_str(), attr(root, "ID").c_str());
    CHECK(is_element(next_element_sibling(first_element_child(root)), ns::dsig, "Signature"));  // after Issuer
    register_unique_ids(doc.get(), {{ns::protocol, "AuthnRequest"}});
    CHECK(verify_enveloped_signature(root, {sp_cert.key.get()}, {}) == SignatureState::Verified);

    const TrustedKey attacker("attacker");
    auto wrong_key = guarded([&] { return verify_enveloped_signature(root, {attacker.key.get()}, {}); });
    CHECK_FALSE(wrong_key.ok());

    // Tampering with the signed request breaks it.
    std::string tampered = xml;
    tampered.replace(tampered.find(sp.acs_url), sp.acs_url.size(), "https://evil.example.net/saml/acs");
    XmlDoc tampered_doc = parse_xml(tampered, {}, "tampered request");
    register_unique_ids(tampered_doc.get(), {{ns::protocol, "AuthnRequest"}});
    auto verdict = guarded([&] {
        return verify_enveloped_signature(xmlDocGetRootElement(tampered_doc.get()), {sp_cert.key.get()}, {});
    });
    CHECK_FALSE(verdict.ok());
    STRCMP_EQUAL("SAML0224", verdict.error().code.c_str());
}

TEST(AuthnRequest, UnsignedPostHasNoSignature) {
    const OutgoingRequest out = build(sp_settings(), endpoint(binding::post), {}, "", false);
    CHECK(out.xml.find("Signature") == std::string::npos);
    STRCMP_EQUAL("<absent>", form_field(out.post_form_html, "RelayState").c_str());
    STRCMP_EQUAL(out.xml.c_str(), base64_decode(form_field(out.post_form_html, "SAMLRequest"), 1 << 20, "form").c_str());
}

TEST(AuthnRequest, ConfigurationErrors) {
    SpSettings sp = sp_settings();
    AuthnRequestOptions bad;
    bad.comparison = "roughly";
    auto result = build_authn_request(sp, endpoint(binding::redirect), bad, "", false, test_now());
    CHECK_FALSE(result.ok());
    STRCMP_EQUAL("SAML0712", result.error().code.c_str());
    CHECK(result.error().kind == ErrorKind::Config);

    result = build_authn_request(sp, endpoint(binding::artifact), {}, "", false, test_now());
    STRCMP_EQUAL("SAML0711", result.error().code.c_str());
    result = build_authn_request(sp, endpoint(binding::redirect, ""), {}, "", false, test_now());
    STRCMP_EQUAL("SAML0713", result.error().code.c_str());

    sp.signing = KeyPair{};
    result = build_authn_request(sp, endpoint(binding::redirect), {}, "", true, test_now());
    STRCMP_EQUAL("SAML0710", result.error().code.c_str());
    result = build_authn_request(sp, endpoint(binding::post), {}, "", true, test_now());
    STRCMP_EQUAL("SAML0710", result.error().code.c_str());
    // Unsigned needs no key.
    CHECK(build_authn_request(sp, endpoint(binding::redirect), {}, "", false, test_now()).ok());
}

TEST_GROUP(RedirectBinding){};

TEST(RedirectBinding, EncodeSignsExactlyTheQueryPrefix) {
    const KeyPair signer = pki_pair("sp-signing");
    auto query = encode_redirect_query("<x/>", false, "r s", &signer, nullptr);
    CHECK(query.ok());
    const std::string& q = query.value();
    CHECK_EQUAL(0u, q.rfind("SAMLResponse=", 0));
    const std::size_t sig = q.find("&Signature=");
    const std::string covered = q.substr(0, sig);
    STRCMP_EQUAL(("SAMLResponse=" + raw_param(q, "SAMLResponse") + "&RelayState=r%20s&SigAlg=" +
                  url_encode(algorithm::rsa_sha256)).c_str(),
                 covered.c_str());
    const std::string signature = base64_decode(url_decode(raw_param(q, "Signature"), "t"), 4096, "t");
    const auto alg = find_signature_algorithm(algorithm::rsa_sha256);
    CHECK(verify_bytes(signer.key.get(), *alg, covered, signature));
    STRCMP_EQUAL("<x/>", inflate_raw(base64_decode(url_decode(raw_param(q, "SAMLResponse"), "t"), 4096, "t"), 4096, "t").c_str());
}

TEST(RedirectBinding, EncodeRefusesAlgorithmOfOtherKeyType) {
    const KeyPair signer = pki_pair("sp-signing");
    const auto ecdsa = find_signature_algorithm(algorithm::ecdsa_sha256);
    auto query = encode_redirect_query("<x/>", true, "", &signer, &*ecdsa);
    CHECK_FALSE(query.ok());
    STRCMP_EQUAL("SAML0714", query.error().code.c_str());
}

TEST(RedirectBinding, DuplicateParametersAreBadInput) {
    const std::string one = deflated_query("<a/>");
    const std::string value = one.substr(std::string("SAMLRequest=").size());
    const Error twice = decode_error(one + "&" + one, unsigned_ok());
    STRCMP_EQUAL("SAML0701", twice.code.c_str());
    CHECK(twice.kind == ErrorKind::BadInput);
    STRCMP_EQUAL("SAML0701", decode_error(one + "&SAML%52equest=" + value, unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0701", decode_error(one + "&RelayState=a&RelayState=b", unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0701", decode_error(one + "&SigAlg=a&SigAlg=b&Signature=AA==", unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0701", decode_error(one + "&Signature=AA==&SigAlg=a&Signature=AA==", unsigned_ok()).code.c_str());
    // Other applications' parameters are none of our business.
    auto ok = decode_redirect_query("foo=1&foo=2&" + one + "&&bar", unsigned_ok());
    CHECK(ok.ok());
}

TEST(RedirectBinding, ExactlyOneMessageParameter) {
    STRCMP_EQUAL("SAML0702", decode_error("RelayState=x", unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0702", decode_error("", unsigned_ok()).code.c_str());
    const std::string request = deflated_query("<a/>");
    const std::string both = request + "&SAMLResponse=" + request.substr(12);
    STRCMP_EQUAL("SAML0702", decode_error(both, unsigned_ok()).code.c_str());
    auto response = decode_redirect_query("SAMLResponse=" + request.substr(12), unsigned_ok());
    CHECK(response.ok());
    CHECK_FALSE(response.value().is_request);
    STRCMP_EQUAL("SAML0703", decode_error("SAMLRequest=", unsigned_ok()).code.c_str());
}

TEST(RedirectBinding, SignatureAndSigAlgComeTogether) {
    const KeyPair signer = pki_pair("sp-signing");
    const std::string query = encode_redirect_query("<a/>", true, "", &signer, nullptr).value();
    const TrustedKey sp_cert("sp-signing");
    STRCMP_EQUAL("SAML0704", decode_error(without_param(query, "SigAlg"), trusting(sp_cert)).code.c_str());
    const Error stripped = decode_error(without_param(query, "Signature"), trusting(sp_cert));
    STRCMP_EQUAL("SAML0709", stripped.code.c_str());
    CHECK(stripped.kind == ErrorKind::Rejected);
    // Both stripped: just unsigned, which a signature requirement refuses.
    STRCMP_EQUAL("SAML0708",
                 decode_error(without_param(without_param(query, "Signature"), "SigAlg"), trusting(sp_cert)).code.c_str());
}

TEST(RedirectBinding, WeakOrForeignSigAlgIsRefused) {
    const KeyPair signer = pki_pair("sp-signing");
    const TrustedKey sp_cert("sp-signing");
    const auto sha1 = find_signature_algorithm(algorithm::rsa_sha1);
    const std::string sha1_query = encode_redirect_query("<a/>", true, "", &signer, &*sha1).value();
    const Error refused = decode_error(sha1_query, trusting(sp_cert));
    STRCMP_EQUAL("SAML0705", refused.code.c_str());
    CHECK(refused.kind == ErrorKind::Rejected);
    RedirectDecodeOptions allow_sha1 = trusting(sp_cert);
    allow_sha1.algorithms.allow_sha1 = true;
    auto accepted = decode_redirect_query(sha1_query, allow_sha1);
    CHECK(accepted.ok());
    STRCMP_EQUAL(algorithm::rsa_sha1, accepted.value().sig_alg.c_str());

    const std::string query = encode_redirect_query("<a/>", true, "", &signer, nullptr).value();
    STRCMP_EQUAL("SAML0705",
                 decode_error(with_param(query, "SigAlg", url_encode("http://www.w3.org/2000/09/xmldsig#hmac-sha1")),
                              trusting(sp_cert)).code.c_str());
    STRCMP_EQUAL("SAML0705",
                 decode_error(with_param(query, "SigAlg", url_encode(algorithm::rsa_sha1)), trusting(sp_cert)).code.c_str());
    STRCMP_EQUAL("SAML0705", decode_error(with_param(query, "SigAlg", "none"), trusting(sp_cert)).code.c_str());
}

TEST(RedirectBinding, ReorderedParametersVerifyOnlyOverTheOriginalOctets) {
    const KeyPair signer = pki_pair("sp-signing");
    const TrustedKey sp_cert("sp-signing");
    const std::string query = encode_redirect_query("<a/>", true, "state", &signer, nullptr).value();
    const std::string message = "SAMLRequest=" + raw_param(query, "SAMLRequest");
    const std::string relay = "RelayState=" + raw_param(query, "RelayState");
    const std::string sig_alg = "SigAlg=" + raw_param(query, "SigAlg");
    const std::string signature = "Signature=" + raw_param(query, "Signature");
    // The binding fixes the order the signature covers, so a reshuffle alone still verifies...
    auto reordered = decode_redirect_query(signature + "&" + sig_alg + "&" + relay + "&" + message, trusting(sp_cert));
    CHECK(reordered.ok());
    STRCMP_EQUAL("state", reordered.value().relay_state.c_str());
    // ...but a reshuffle that also swaps SigAlg does not.
    const std::string swapped = "SigAlg=" + url_encode(algorithm::rsa_sha512);
    STRCMP_EQUAL("SAML0707", decode_error(signature + "&" + swapped + "&" + message + "&" + relay, trusting(sp_cert)).code.c_str());
    // Nor does a reshuffle that pretends the RelayState was not there (order of the octets matters).
    STRCMP_EQUAL("SAML0707", decode_error(relay + "x&" + message + "&" + sig_alg + "&" + signature, trusting(sp_cert)).code.c_str());
}

TEST(RedirectBinding, HostileMessagesAreBadInput) {
    // A DEFLATE bomb: 4 MiB of spaces stops at the bound.
    const std::string bomb = "<a>" + std::string(4 * 1024 * 1024, ' ') + "</a>";
    const Error too_big = decode_error(deflated_query(bomb), unsigned_ok());
    STRCMP_EQUAL("SAML0102", too_big.code.c_str());
    CHECK(too_big.kind == ErrorKind::BadInput);
    RedirectDecodeOptions small = unsigned_ok();
    small.max_inflated_bytes = 8;
    STRCMP_EQUAL("SAML0102", decode_error(deflated_query("<abcdefghij/>"), small).code.c_str());

    STRCMP_EQUAL("SAML0103", decode_error(deflated_query("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"), unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0104", decode_error(deflated_query("<a><b></a>"), unsigned_ok()).code.c_str());

    std::string truncated = base64_encode(deflate_raw("<a/>"));
    while (!truncated.empty() && truncated.back() == '=') truncated.pop_back();
    truncated.pop_back();
    STRCMP_EQUAL("SAML0110", decode_error("SAMLRequest=" + url_encode(truncated), unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0111", decode_error("SAMLRequest=" + url_encode(base64_encode("not deflate at all")), unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0112", decode_error("SAMLRequest=%G1", unsigned_ok()).code.c_str());
    STRCMP_EQUAL("SAML0112", decode_error(deflated_query("<a/>") + "&RelayState=%4", unsigned_ok()).code.c_str());
}

TEST(RedirectBinding, PostFormEscapesEverything) {
    const std::string html = post_binding_form("https://idp.example.com/p?a=1&b=\"2\"", "SAMLResponse", "QUJD+/==",
                                               "<script>alert('x')</script>");
    CHECK(html.find("action=\"https://idp.example.com/p?a=1&amp;b=&quot;2&quot;\"") != std::string::npos);
    STRCMP_EQUAL("QUJD+/==", form_field(html, "SAMLResponse").c_str());
    STRCMP_EQUAL("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", form_field(html, "RelayState").c_str());
    CHECK(html.find("<noscript>") != std::string::npos);
    CHECK(html.find("<button type=\"submit\">") != std::string::npos);
    CHECK(html.find("method=\"post\"") != std::string::npos);
    CHECK(html.find("src=") == std::string::npos);
    CHECK(html.find("href=") == std::string::npos);
    CHECK(post_binding_form("/x", "SAMLRequest", "AA==", "").find("RelayState") == std::string::npos);
}

TEST(AuthnRequest, AsksForTheArtifactBindingWhenTold) {
    const OutgoingRequest plain = build(sp_settings(), endpoint(binding::redirect), {}, "", false);
    auto decoded = decode_redirect_query(query_of(plain.redirect_url), unsigned_ok());
    CHECK(decoded.ok());
    STRCMP_EQUAL(binding::post, attr(xmlDocGetRootElement(decoded.value().doc.get()), "ProtocolBinding").c_str());

    AuthnRequestOptions options;
    options.protocol_binding = binding::artifact;
    const OutgoingRequest out = build(sp_settings(), endpoint(binding::redirect), options, "", false);
    decoded = decode_redirect_query(query_of(out.redirect_url), unsigned_ok());
    CHECK(decoded.ok());
    xmlNode* root = xmlDocGetRootElement(decoded.value().doc.get());
    STRCMP_EQUAL(binding::artifact, attr(root, "ProtocolBinding").c_str());
    STRCMP_EQUAL(sp_settings().acs_url.c_str(), attr(root, "AssertionConsumerServiceURL").c_str());

    options.protocol_binding = binding::redirect;  // a Response cannot come that way
    auto refused = build_authn_request(sp_settings(), endpoint(binding::redirect), options, "", false, test_now());
    CHECK_FALSE(refused.ok());
    STRCMP_EQUAL("SAML0970", refused.error().code.c_str());
}
