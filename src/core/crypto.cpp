#include "crypto.hpp"

#include "encoding.hpp"
#include "error.hpp"
#include "time.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace saml {

namespace {

struct BioDeleter { void operator()(BIO* b) const noexcept { BIO_free(b); } };
using Bio = std::unique_ptr<BIO, BioDeleter>;
struct BignumDeleter { void operator()(BIGNUM* b) const noexcept { BN_free(b); } };
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;

struct EcdsaSigDeleter { void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); } };

Bio memory_bio(std::string_view bytes) {
    Bio bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    if (!bio) throw std::bad_alloc();
    return bio;
}

std::string openssl_reason() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    return buffer;
}

constexpr std::array<SignatureAlgorithm, 8> kSignatureAlgorithms{{
    {algorithm::rsa_sha256, KeyType::Rsa, "SHA256", algorithm::sha256, false},
    {algorithm::rsa_sha384, KeyType::Rsa, "SHA384", algorithm::sha384, false},
    {algorithm::rsa_sha512, KeyType::Rsa, "SHA512", algorithm::sha512, false},
    {algorithm::ecdsa_sha256, KeyType::Ec, "SHA256", algorithm::sha256, false},
    {algorithm::ecdsa_sha384, KeyType::Ec, "SHA384", algorithm::sha384, false},
    {algorithm::ecdsa_sha512, KeyType::Ec, "SHA512", algorithm::sha512, false},
    {algorithm::rsa_sha1, KeyType::Rsa, "SHA1", algorithm::sha1, true},
    {algorithm::ecdsa_sha1, KeyType::Ec, "SHA1", algorithm::sha1, true},
}};

std::size_t ec_field_bytes(EVP_PKEY* key) {
    return static_cast<std::size_t>((EVP_PKEY_get_bits(key) + 7) / 8);
}

// XML-DSig carries ECDSA signatures as r||s, each padded to the field size; OpenSSL speaks DER.
std::string ecdsa_der_to_raw(EVP_PKEY* key, std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) fail(ErrorKind::Internal, "SAML0005", "signature", "cannot decode ECDSA signature");
    const std::size_t n = ec_field_bytes(key);
    std::string raw(2 * n, '\0');
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(n)) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + n, static_cast<int>(n)) < 0)
        fail(ErrorKind::Internal, "SAML0005", "signature", "cannot encode ECDSA signature");
    return raw;
}

std::optional<std::string> ecdsa_raw_to_der(EVP_PKEY* key, std::string_view raw) {
    const std::size_t n = ec_field_bytes(key);
    if (raw.size() != 2 * n) return std::nullopt;
    std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> sig(ECDSA_SIG_new());
    if (!sig) throw std::bad_alloc();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(n), nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + n, static_cast<int>(n), nullptr);
    if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        throw std::bad_alloc();
    }
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) return std::nullopt;
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

}  // namespace

std::optional<SignatureAlgorithm> find_signature_algorithm(std::string_view uri) noexcept {
    for (const auto& alg : kSignatureAlgorithms)
        if (uri == alg.uri) return alg;
    return std::nullopt;
}

KeyType key_type(const EVP_PKEY* key) {
    if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) return KeyType::Rsa;
    if (EVP_PKEY_is_a(key, "EC")) return KeyType::Ec;
    fail(ErrorKind::Config, "SAML0301", "key", "only RSA and EC keys are supported");
}

const char* default_signature_algorithm(const EVP_PKEY* key) {
    return key_type(key) == KeyType::Rsa ? algorithm::rsa_sha256 : algorithm::ecdsa_sha256;
}

PKey load_private_key_pem(std::string_view pem, const char* what) {
    Bio bio = memory_bio(pem);
    PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key)
        fail(ErrorKind::Config, "SAML0302", "key",
             std::string(what) + " is not an unencrypted PEM private key (" + openssl_reason() + ")");
    key_type(key.get());
    return key;
}

X509Ptr load_certificate_pem(std::string_view pem, const char* what) {
    Bio bio = memory_bio(pem);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert)
        fail(ErrorKind::Config, "SAML0303", "certificate",
             std::string(what) + " is not a PEM certificate (" + openssl_reason() + ")");
    return cert;
}

X509Ptr load_certificate_der(std::string_view der, const char* what) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
        ERR_clear_error();
        fail(ErrorKind::BadInput, "SAML0304", "certificate", std::string(what) + " is not a DER certificate");
    }
    return cert;
}

X509Ptr load_certificate_base64(std::string_view base64_der, const char* what) {
    return load_certificate_der(base64_decode(base64_der, 64 * 1024, what), what);
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(ErrorKind::Config, "SAML0305", "file", "cannot read " + path + ": " + std::strerror(errno));
    std::string data;
    std::array<char, 8192> chunk{};
    while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
        data.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        if (data.size() > max_bytes)
            fail(ErrorKind::Config, "SAML0306", "file", path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    return data;
}

std::string certificate_base64(const X509* cert) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    if (len <= 0) fail(ErrorKind::Internal, "SAML0006", "certificate", "cannot encode certificate");
    std::string out = base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<std::size_t>(len)));
    OPENSSL_free(der);
    return out;
}

PKey certificate_public_key(const X509* cert) {
    PKey key(X509_get_pubkey(const_cast<X509*>(cert)));
    if (!key) fail(ErrorKind::BadInput, "SAML0307", "certificate", "certificate has no usable public key");
    key_type(key.get());
    return key;
}

bool key_matches_certificate(const EVP_PKEY* key, const X509* cert) noexcept {
    EVP_PKEY* pub = X509_get0_pubkey(cert);
    return pub != nullptr && EVP_PKEY_eq(key, pub) == 1;
}

bool certificate_expired(const X509* cert, std::chrono::system_clock::time_point now) noexcept {
    const time_t t = std::chrono::system_clock::to_time_t(now);
    return X509_cmp_time(X509_get0_notAfter(cert), const_cast<time_t*>(&t)) < 0;
}

namespace {

std::string name_text(const X509_NAME* name) {
    Bio bio(BIO_new(BIO_s_mem()));
    if (!bio) throw std::bad_alloc();
    // RFC 2253 without escaping the bytes of multi-byte characters, so UTF-8 stays readable;
    // OpenSSL still writes a control character as \0A, and printable() escapes anything else
    // that could break the log line (bytes that are not UTF-8, bidirectional overrides).
    const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) return "?";
    const char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return printable(std::string_view(data, size > 0 ? static_cast<std::size_t>(size) : 0), 512);
}

std::string serial_text(const X509* cert) {
    BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    if (!serial) return "?";
    char* hex = BN_bn2hex(serial.get());
    if (hex == nullptr) return "?";
    std::string text(hex);
    OPENSSL_free(hex);
    return text;
}

std::string not_after_text(const X509* cert) {
    struct tm when {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &when) != 1) return "?";
    return format_datetime(Clock::from_time_t(timegm(&when)));
}

}  // namespace

std::string certificate_subject(const X509* cert) { return name_text(X509_get_subject_name(cert)); }

std::string certificate_identity(const X509* cert) {
    const std::string subject = certificate_subject(cert);
    const bool self_issued = X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
    return "subject '" + subject + "', serial " + serial_text(cert) + ", not after " + not_after_text(cert) +
           (self_issued ? ", self-signed" : ", issuer '" + name_text(X509_get_issuer_name(cert)) + "'");
}

std::string sign_bytes(EVP_PKEY* key, const SignatureAlgorithm& alg, std::string_view data) {
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    std::size_t len = 0;
    if (EVP_DigestSignInit_ex(ctx.get(), nullptr, alg.digest_name, nullptr, nullptr, key, nullptr) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
        fail(ErrorKind::Config, "SAML0308", "signature", "cannot sign: " + openssl_reason());
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
        fail(ErrorKind::Config, "SAML0308", "signature", "cannot sign: " + openssl_reason());
    sig.resize(len);
    if (alg.key_type == KeyType::Ec) return ecdsa_der_to_raw(key, sig);
    return sig;
}

bool verify_bytes(EVP_PKEY* key, const SignatureAlgorithm& alg, std::string_view data, std::string_view signature) {
    if (key_type(key) != alg.key_type) return false;
    std::string der_holder;
    if (alg.key_type == KeyType::Ec) {
        auto der = ecdsa_raw_to_der(key, signature);
        if (!der) return false;
        der_holder = std::move(*der);
        signature = der_holder;
    }
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    const bool ok =
        EVP_DigestVerifyInit_ex(ctx.get(), nullptr, alg.digest_name, nullptr, nullptr, key, nullptr) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    ERR_clear_error();
    return ok;
}

std::string random_bytes(std::size_t count) {
    std::string out(count, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1)
        fail(ErrorKind::Internal, "SAML0007", "random", "the random generator failed");
    return out;
}

std::string random_id() { return "_" + hex_encode(random_bytes(20)); }

std::string sha1(std::string_view data) {
    std::string out(SHA_DIGEST_LENGTH, '\0');
    SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

std::string sha256(std::string_view data) {
    std::string out(SHA256_DIGEST_LENGTH, '\0');
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

std::string hkdf_sha256(std::string_view key, std::string_view salt, std::string_view info, std::size_t length) {
    PKeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
    if (!ctx) throw std::bad_alloc();
    std::string out(length, '\0');
    std::size_t out_len = length;
    if (EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), reinterpret_cast<const unsigned char*>(salt.data()),
                                    static_cast<int>(salt.size())) != 1 ||
        EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()),
                                   static_cast<int>(key.size())) != 1 ||
        EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()),
                                    static_cast<int>(info.size())) != 1 ||
        EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &out_len) != 1 || out_len != length)
        fail(ErrorKind::Internal, "SAML0008", "hkdf", "HKDF failed: " + openssl_reason());
    return out;
}

bool equal_secret(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace saml
