// The SP's own identity, keys and security policy, as plain values the glue fills from the
// httpd configuration (and tests fill by hand).
#pragma once

#include "crypto.hpp"
#include "xml.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace saml {

namespace binding {
inline constexpr const char* redirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
inline constexpr const char* post = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
inline constexpr const char* artifact = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact";
inline constexpr const char* soap = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";
}  // namespace binding

namespace nameid_format {
inline constexpr const char* unspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
inline constexpr const char* email = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
inline constexpr const char* persistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
inline constexpr const char* transient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
inline constexpr const char* entity = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
}  // namespace nameid_format

// A key pair the SP owns. The certificate is what metadata publishes.
struct KeyPair {
    std::shared_ptr<EVP_PKEY> key;
    std::shared_ptr<X509> certificate;
};

struct SpSettings {
    std::string entity_id;
    std::string acs_url;          // absolute, as the IdP posts to it (Destination, Recipient)
    std::string sls_url;          // absolute; empty when Single Logout is not offered
    std::vector<std::string> name_id_formats;  // published in metadata, first one requested
    KeyPair signing;              // AuthnRequests, logout messages, metadata
    KeyPair encryption;           // EncryptedAssertion / EncryptedID; may be the signing pair
    std::vector<std::shared_ptr<X509>> rollover_certificates;  // published too, for key rollover
    std::vector<KeyPair> old_encryption_keys;  // still tried when decrypting, during rollover
};

// The keys that may decrypt what an IdP encrypted to us: the encryption key, then keys retired
// by a rollover, then (when no encryption pair is set) the signing key. Non-owning views.
inline std::vector<EVP_PKEY*> decryption_keys(const SpSettings& sp) {
    std::vector<EVP_PKEY*> keys;
    if (sp.encryption.key) keys.push_back(sp.encryption.key.get());
    for (const auto& old : sp.old_encryption_keys)
        if (old.key) keys.push_back(old.key.get());
    if (keys.empty() && sp.signing.key) keys.push_back(sp.signing.key.get());
    return keys;
}

struct SecurityPolicy {
    AlgorithmPolicy algorithms;              // SHA-1 off by default
    bool want_response_signed = false;
    bool want_assertions_signed = false;     // either way, something signed must cover the assertion
    bool want_assertions_encrypted = false;
    bool want_logout_signed = true;          // LogoutRequest / LogoutResponse from the IdP
    bool allow_unsolicited = false;
    bool allow_rsa15 = false;                // RSA PKCS#1 v1.5 key transport (Bleichenbacher)
    bool allow_triple_des = false;           // 3DES-CBC data encryption (64-bit blocks, unauthenticated)
    std::chrono::seconds clock_skew{60};
    XmlLimits xml_limits;                    // 256 KiB, depth 64 by default
};

}  // namespace saml
