// Single Logout from the IdP: validate_logout_request and validate_logout_response, called as
// src/httpd/handlers.cpp calls them (handle_sls, handle_soap_logout), on the three bindings.
//
// The first byte picks what the rest is and how it is delivered:
//   bits 0-1  binding: 0 and 3 HTTP-Redirect, 1 HTTP-POST, 2 SOAP (a LogoutRequest only: the
//             SOAP handler takes nothing else)
//   bit 2     kind: 0 LogoutRequest, 1 LogoutResponse
//   bit 3     0 raw: the rest is the message as it arrives (Redirect: the query string; POST:
//             the base64 form field; SOAP: the envelope)
//             1 signed: the rest is the XML of the message, which the harness signs with the
//             IdP's key the way the binding wants (Redirect: deflated into a query signed with
//             SigAlg/Signature; POST and SOAP: an enveloped signature after the Issuer, then
//             base64 or a SOAP envelope) so that what follows the signature check is reached
//   bit 4     SAMLLogoutSigned off (policy.want_logout_signed = false; SOAP still needs one)
//   bit 5     a RelayState comes with the message
//   bit 6     LogoutRequest: delivered twice to one replay cache (the second must be refused);
//             LogoutResponse: no logout of ours pending (empty expected InResponseTo)
//   bit 7     the IdP signs with its EC P-256 key instead of its RSA key (both are trusted)
// In the signed modes the harness also encrypts, as the IdP would: the content of the first
// "<saml:EncryptedID>...</saml:EncryptedID>" that holds no EncryptedData yet becomes one, its
// plaintext those fuzzed bytes, encrypted to the SP's key, so the parsing of decrypted content
// is reached (anyone can encrypt to the SP's published certificate).
// Beyond not crashing, an accepted message must keep the promises the handlers rely on:
// signed when a signature is required, from the known IdP, answering our request, not accepted
// twice.
#include "fuzz_common.hpp"

#include "crypto.hpp"
#include "encoding.hpp"
#include "logout.hpp"
#include "metadata.hpp"
#include "redirect_binding.hpp"
#include "soap.hpp"
#include "xml.hpp"
#include "xmlenc.hpp"
#include "xmlsig.hpp"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace {

const char* const kIdpEntity = "https://idp.test.example/saml2/idp";
const char* const kOurRequestId = "_sp-logout-1";
const char* const kRelayState = "relay-42";

struct World {
    saml::SpSettings sp;
    saml::KeyPair idp_rsa;
    saml::KeyPair idp_ec;
    saml::IdpRegistry idps;
};

const World& world() {
    static const World w = [] {
        World out;
        out.sp.entity_id = "https://sp.test.example/saml/metadata";
        out.sp.acs_url = "https://sp.test.example/saml/acs";
        out.sp.sls_url = "https://sp.test.example/saml/sls";
        out.sp.signing = saml::fuzz::fresh_key_pair(true, "sp.test.example signing");
        out.sp.encryption = saml::fuzz::fresh_key_pair(true, "sp.test.example encryption");
        out.idp_rsa = saml::fuzz::fresh_key_pair(true, "idp.test.example");
        out.idp_ec = saml::fuzz::fresh_key_pair(false, "idp.test.example");
        auto idp = std::make_shared<saml::IdpDescriptor>();
        idp->entity_id = kIdpEntity;
        for (const auto* pair : {&out.idp_rsa, &out.idp_ec}) {
            std::shared_ptr<EVP_PKEY> pub(saml::certificate_public_key(pair->certificate.get()).release(), EVP_PKEY_free);
            idp->signing.push_back({pair->certificate, pub});
        }
        idp->single_logout.push_back({saml::binding::redirect, "https://idp.test.example/saml2/idp/SLO/redirect", "", 0, false});
        idp->single_logout.push_back({saml::binding::post, "https://idp.test.example/saml2/idp/SLO/post", "", 0, false});
        out.idps.add(idp);
        return out;
    }();
    return w;
}

// The replay cache in memory, as the socache one behaves when it answers.
class MemoryReplayCache : public saml::ReplayCache {
public:
    Verdict remember(std::string_view key, saml::Instant expiry) override {
        return seen_.emplace(std::string(key), expiry).second ? Verdict::Fresh : Verdict::Replayed;
    }

private:
    std::map<std::string, saml::Instant, std::less<>> seen_;
};

[[noreturn]] void broken(const char* promise, const std::string& detail) {
    std::fprintf(stderr, "logout validator broke a promise: %s (%s)\n", promise, detail.c_str());
    std::abort();
}

// The message XML with an enveloped signature after its Issuer (first when it has none), as
// an IdP signs a POST or SOAP message; nullopt when the harness cannot sign it (not XML, no
// ID...): the caller then sends it unsigned.
std::optional<std::string> sign_xml(const std::string& xml, const saml::KeyPair& key) {
    auto signed_xml = saml::guarded([&] {
        saml::XmlDoc doc = saml::parse_xml(xml, saml::XmlLimits{}, "fuzz input");
        xmlNode* root = xmlDocGetRootElement(doc.get());
        xmlNode* first = saml::first_element_child(root);
        xmlNode* issuer = saml::is_element(first, saml::ns::assertion, "Issuer") ? first : nullptr;
        const auto alg = saml::find_signature_algorithm(saml::default_signature_algorithm(key.key.get()));
        saml::sign_enveloped(root, issuer, key.key.get(), key.certificate.get(), *alg);
        return saml::serialize(root);
    });
    if (!signed_xml) return std::nullopt;
    return signed_xml.value();
}

// AES-256-GCM under a fresh key (iv, ciphertext, tag), the key RSA-OAEP (MGF1-SHA1) to `to`.
std::string encrypted_data(const std::string& plain, EVP_PKEY* to) {
    const std::string key = saml::random_bytes(32);
    const std::string iv = saml::random_bytes(12);
    saml::CipherCtx ctx(EVP_CIPHER_CTX_new());
    std::string sealed(plain.size() + 16, '\0');
    int len = 0, tail = 0;
    const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_bytes, reinterpret_cast<const unsigned char*>(iv.data())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(sealed.data()), &len,
                          reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(sealed.data()) + len, &tail) != 1)
        std::abort();
    sealed.resize(static_cast<std::size_t>(len + tail));
    std::string tag(16, '\0');
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag.data()) != 1) std::abort();

    saml::PKeyCtx rsa(EVP_PKEY_CTX_new(to, nullptr));
    std::size_t wrapped_len = 0;
    if (!rsa || EVP_PKEY_encrypt_init(rsa.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(rsa.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_encrypt(rsa.get(), nullptr, &wrapped_len, key_bytes, key.size()) != 1)
        std::abort();
    std::string wrapped(wrapped_len, '\0');
    if (EVP_PKEY_encrypt(rsa.get(), reinterpret_cast<unsigned char*>(wrapped.data()), &wrapped_len, key_bytes, key.size()) != 1)
        std::abort();
    wrapped.resize(wrapped_len);
    return std::string("<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" "
                       "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Type=\"http://www.w3.org/2001/04/xmlenc#Element\">"
                       "<xenc:EncryptionMethod Algorithm=\"") + saml::algorithm::aes256_gcm + "\"/><ds:KeyInfo><xenc:EncryptedKey>"
           "<xenc:EncryptionMethod Algorithm=\"" + saml::algorithm::rsa_oaep_mgf1p + "\"/><xenc:CipherData><xenc:CipherValue>" +
           saml::base64_encode(wrapped) + "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
           "<xenc:CipherData><xenc:CipherValue>" + saml::base64_encode(iv + sealed + tag) +
           "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>";
}

// The message with the plaintext of its first EncryptedID encrypted (see the top).
std::string encrypt_ids(std::string xml, EVP_PKEY* sp_key) {
    static const std::string open = "<saml:EncryptedID>", close = "</saml:EncryptedID>";
    const auto start = xml.find(open);
    if (start == std::string::npos) return xml;
    const auto from = start + open.size();
    const auto end = xml.find(close, from);
    if (end == std::string::npos) return xml;
    const std::string plain = xml.substr(from, end - from);
    if (plain.find("EncryptedData") != std::string::npos) return xml;
    return xml.replace(from, end - from, encrypted_data(plain, sp_key));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    if (size < 1) return 0;
    const World& w = world();
    const std::uint8_t mode = data[0];
    const std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);

    using Binding = saml::IncomingMessage::Binding;
    const Binding binding = (mode & 3) == 1 ? Binding::Post : (mode & 3) == 2 ? Binding::Soap : Binding::Redirect;
    const bool is_request = binding == Binding::Soap || (mode & 4) == 0;
    const bool harness_signs = (mode & 8) != 0;
    const bool with_relay_state = (mode & 32) != 0;
    const bool flag6 = (mode & 64) != 0;
    const saml::KeyPair& idp_key = (mode & 128) != 0 ? w.idp_ec : w.idp_rsa;

    saml::SecurityPolicy policy;
    policy.want_logout_signed = (mode & 16) == 0;
    const bool signature_required = policy.want_logout_signed || binding == Binding::Soap;
    const auto now = saml::from_unix(1780315200);  // 2026-06-01T12:00:00Z

    std::string delivered;  // what the handler would pass as IncomingMessage::data
    std::string relay_state = with_relay_state ? kRelayState : "";
    if (!harness_signs) {
        delivered = payload;
    } else if (binding == Binding::Redirect) {
        auto query = saml::encode_redirect_query(encrypt_ids(payload, w.sp.encryption.key.get()), is_request, relay_state, &idp_key, nullptr);
        if (!query) return 0;
        delivered = std::move(query).value();
    } else {
        const std::string plain = encrypt_ids(payload, w.sp.encryption.key.get());
        const std::string xml = sign_xml(plain, idp_key).value_or(plain);
        delivered = binding == Binding::Soap ? saml::soap_envelope(xml) : saml::base64_encode(xml);
    }

    saml::IncomingMessage message;
    message.binding = binding;
    message.data = delivered;
    if (binding == Binding::Post) message.relay_state = relay_state;

    if (is_request) {
        MemoryReplayCache replay;
        auto request = saml::validate_logout_request(message, w.idps, w.sp, policy, now, &replay);
        if (!request) return 0;
        const auto& r = request.value();
        if (signature_required && !r.signature_verified) broken("accepted unsigned", r.id);
        if (r.issuer != kIdpEntity) broken("accepted from an unknown issuer", r.issuer);
        if (r.id.empty()) broken("accepted without an ID", "");
        if (r.replay_unchecked) broken("replay unchecked with a cache that answers", r.id);
        if (flag6) {
            auto again = saml::validate_logout_request(message, w.idps, w.sp, policy, now, &replay);
            if (again) broken("accepted the same LogoutRequest twice", r.id);
            if (again.error().code != "SAML0735") broken("a second delivery refused for another reason", again.error().code);
        }
    } else {
        const std::string expected = flag6 ? "" : kOurRequestId;
        auto response = saml::validate_logout_response(message, w.idps, w.sp, policy, expected, now);
        if (!response) return 0;
        const auto& r = response.value();
        if (signature_required && !r.signature_verified) broken("accepted unsigned", r.id);
        if (r.issuer != kIdpEntity) broken("accepted from an unknown issuer", r.issuer);
        if (expected.empty() || r.in_response_to != expected) broken("accepted an answer to another request", r.in_response_to);
        if (r.success != (r.status_code == saml::status::success)) broken("success disagrees with the status", r.status_code);
    }
    return 0;
}
