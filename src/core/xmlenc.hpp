// XML Encryption, decrypt side, for EncryptedAssertion / EncryptedID / EncryptedAttribute.
// Done directly with OpenSSL rather than xmlsec: the xmlsec in Debian 12 (1.2.37) lacks the
// xmlenc11 RSA-OAEP form, and doing it here keeps the algorithm allow-list and the error
// behaviour (one uniform failure, no padding oracle detail) in our hands.
#pragma once

#include "crypto.hpp"
#include "xml.hpp"

#include <string>
#include <vector>

namespace saml {

namespace algorithm {
inline constexpr const char* aes128_cbc = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
inline constexpr const char* aes256_cbc = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
inline constexpr const char* aes128_gcm = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
inline constexpr const char* aes256_gcm = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
inline constexpr const char* tripledes_cbc = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc";  // legacy, opt-in
inline constexpr const char* rsa_oaep_mgf1p = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
inline constexpr const char* rsa_oaep = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
inline constexpr const char* rsa_1_5 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
inline constexpr const char* mgf1_sha1 = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
inline constexpr const char* mgf1_sha224 = "http://www.w3.org/2009/xmlenc11#mgf1sha224";
inline constexpr const char* mgf1_sha256 = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
inline constexpr const char* mgf1_sha384 = "http://www.w3.org/2009/xmlenc11#mgf1sha384";
inline constexpr const char* mgf1_sha512 = "http://www.w3.org/2009/xmlenc11#mgf1sha512";
}  // namespace algorithm

struct DecryptionPolicy {
    bool allow_rsa15 = false;
    bool allow_triple_des = false;  // pysaml2's default and older IdPs' only choice; refused unless asked for
    std::string our_entity_id;  // an EncryptedKey whose Recipient is this is tried first
};

// Decrypts the xenc:EncryptedData inside `container` (e.g. saml:EncryptedAssertion) and parses
// the plaintext under `limits`, in the namespace context of `container`. Returns a document
// whose root wraps the decrypted element; `decrypted_element` is set to that element.
// The EncryptedKey may sit in EncryptedData's KeyInfo or beside EncryptedData in the container
// (SAML core 2.2.4), one per recipient: those whose Recipient is our entityID are tried first,
// then the others, each with every one of `keys`; the first that unwraps a key which decrypts
// (and, for GCM, authenticates) the data wins. Nothing is fetched: a RetrievalMethod, KeyName
// or any URI is never followed, the candidates are only the EncryptedKey elements in place.
// Failure(Rejected) on any problem, with one uniform message (SAML0265) for every
// cryptographic failure, whichever candidate and step failed.
XmlDoc decrypt_element(const xmlNode* container, const std::vector<EVP_PKEY*>& keys, const DecryptionPolicy& policy,
                       const XmlLimits& limits, xmlNode** decrypted_element);

// The raw plaintext of an EncryptedData, for tests and for callers that parse it themselves.
std::string decrypt_data(const xmlNode* container, const std::vector<EVP_PKEY*>& keys, const DecryptionPolicy& policy);

}  // namespace saml
