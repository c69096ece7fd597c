// Shared by the libFuzzer targets: library init once, and the fixed SP/IdP the targets use.
#pragma once

#include "init.hpp"
#include "settings.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <memory>

namespace saml::fuzz {

inline void init_once() {
    static const bool ready = [] {
        if (!saml::initialize_libraries()) std::abort();
        return true;
    }();
    (void)ready;
}

// A key made when the target starts, with a self-signed certificate for it (CN = `name`), for
// targets that must sign what they feed in so the code after a signature check is reached too.
// Fresh on every run, as the test PKI is (certs/make-test-pki): no key is ever committed.
inline saml::KeyPair fresh_key_pair(bool rsa, const char* name) {
    EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    X509* cert = X509_new();
    if (key == nullptr || cert == nullptr) std::abort();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600L * 24);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 3650);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mod_auth_saml fuzz"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name), -1, -1, 0);
    X509_set_issuer_name(cert, subject);
    if (X509_set_pubkey(cert, key) != 1 || X509_sign(cert, key, EVP_sha256()) <= 0) std::abort();
    return {std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free), std::shared_ptr<X509>(cert, X509_free)};
}

}  // namespace saml::fuzz
