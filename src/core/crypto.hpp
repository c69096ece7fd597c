// OpenSSL behind RAII owners: keys and certificates, raw signatures for the HTTP-Redirect
// binding, randomness, hashing and HKDF. Algorithms are named by their XML-DSig URIs.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

struct PKeyDeleter { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };
struct X509Deleter { void operator()(X509* p) const noexcept { X509_free(p); } };
struct MdCtxDeleter { void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); } };
struct CipherCtxDeleter { void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); } };
struct PKeyCtxDeleter { void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); } };
struct CipherDeleter { void operator()(EVP_CIPHER* p) const noexcept { EVP_CIPHER_free(p); } };
using PKey = std::unique_ptr<EVP_PKEY, PKeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, PKeyCtxDeleter>;
using Cipher = std::unique_ptr<EVP_CIPHER, CipherDeleter>;

namespace algorithm {
inline constexpr const char* rsa_sha1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
inline constexpr const char* rsa_sha256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
inline constexpr const char* rsa_sha384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
inline constexpr const char* rsa_sha512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
inline constexpr const char* ecdsa_sha1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1";
inline constexpr const char* ecdsa_sha256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
inline constexpr const char* ecdsa_sha384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
inline constexpr const char* ecdsa_sha512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";
inline constexpr const char* sha1 = "http://www.w3.org/2000/09/xmldsig#sha1";
inline constexpr const char* sha256 = "http://www.w3.org/2001/04/xmlenc#sha256";
inline constexpr const char* sha384 = "http://www.w3.org/2001/04/xmldsig-more#sha384";
inline constexpr const char* sha512 = "http://www.w3.org/2001/04/xmlenc#sha512";
inline constexpr const char* exc_c14n = "http://www.w3.org/2001/10/xml-exc-c14n#";
inline constexpr const char* exc_c14n_comments = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
inline constexpr const char* enveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
}  // namespace algorithm

enum class KeyType { Rsa, Ec };

// A signature algorithm we know, with its digest; nullopt for anything else.
struct SignatureAlgorithm {
    const char* uri;
    KeyType key_type;
    const char* digest_name;  // OpenSSL name
    const char* digest_uri;   // the matching XML-DSig DigestMethod
    bool sha1;
};
std::optional<SignatureAlgorithm> find_signature_algorithm(std::string_view uri) noexcept;
// The default algorithm for a key: RSA-SHA256 or ECDSA-SHA256.
const char* default_signature_algorithm(const EVP_PKEY* key);

// Which algorithms policy allows: SHA-1 is off unless asked for.
struct AlgorithmPolicy {
    bool allow_sha1 = false;
    bool allowed(const SignatureAlgorithm& alg) const noexcept { return !alg.sha1 || allow_sha1; }
};

// Loading; every loader throws Failure(Config or BadInput) naming `what`.
PKey load_private_key_pem(std::string_view pem, const char* what);
X509Ptr load_certificate_pem(std::string_view pem, const char* what);
X509Ptr load_certificate_der(std::string_view der, const char* what);
X509Ptr load_certificate_base64(std::string_view base64_der, const char* what);  // metadata's form
std::string read_file(const std::string& path, std::size_t max_bytes);             // Config on failure
std::string certificate_base64(const X509* cert);                                   // DER, base64, no PEM armour
PKey certificate_public_key(const X509* cert);
bool key_matches_certificate(const EVP_PKEY* key, const X509* cert) noexcept;
bool certificate_expired(const X509* cert, std::chrono::system_clock::time_point now) noexcept;
// A distinguished name for a log line: RFC 2253 order (CN first), UTF-8 as UTF-8, control
// characters and bytes that are not UTF-8 escaped (printable()).
std::string certificate_subject(const X509* cert);
// What tells two certificates apart in a log line (two Entra certificates of one tenant share
// their subject): "subject 'CN=..', serial 1A2B.., not after 2026-01-02T03:04:05Z, issuer
// 'CN=..'" (the issuer said as "self-signed" when it is the subject).
std::string certificate_identity(const X509* cert);
KeyType key_type(const EVP_PKEY* key);

// Signs / verifies bytes with an XML-DSig algorithm (ECDSA in the raw r||s form XML-DSig uses).
std::string sign_bytes(EVP_PKEY* key, const SignatureAlgorithm& alg, std::string_view data);
bool verify_bytes(EVP_PKEY* key, const SignatureAlgorithm& alg, std::string_view data, std::string_view signature);

std::string random_bytes(std::size_t count);
// A SAML ID: xs:ID must not start with a digit, so "_" plus 160 random bits in hex.
std::string random_id();

std::string sha256(std::string_view data);
std::string sha1(std::string_view data);  // for identifiers SAML defines with it (artifact SourceID), not for trust
std::string hkdf_sha256(std::string_view key, std::string_view salt, std::string_view info, std::size_t length);

// Constant-time comparison for secrets.
bool equal_secret(std::string_view a, std::string_view b) noexcept;

}  // namespace saml
