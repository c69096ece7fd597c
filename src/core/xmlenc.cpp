#include "xmlenc.hpp"

#include "encoding.hpp"
#include "error.hpp"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace saml {

namespace {

[[noreturn]] void reject(const char* code, std::string detail) {
    fail(ErrorKind::Rejected, code, "decryption", std::move(detail));
}

// An algorithm we implement but refuse unless the administrator opts in: its own rule, so the
// module can tell the user's page which directive the log line names.
[[noreturn]] void refuse_legacy(const char* code, std::string detail) {
    fail(ErrorKind::Rejected, code, "legacy-algorithm", std::move(detail));
}

std::string algorithm_of(const xmlNode* node) {
    return node == nullptr ? std::string() : attribute(node, "Algorithm").value_or("");
}

std::string cipher_value(const xmlNode* parent, const char* what) {
    xmlNode* cipher_data = unique_child(parent, ns::xmlenc, "CipherData");
    xmlNode* value = cipher_data ? unique_child(cipher_data, ns::xmlenc, "CipherValue") : nullptr;
    if (value == nullptr) reject("SAML0261", std::string(what) + " has no CipherData/CipherValue (references are not followed)");
    return base64_decode(element_text(value), 1 << 20, what);
}

const EVP_MD* digest_by_uri(const std::string& uri) {
    if (uri.empty() || uri == algorithm::sha1) return EVP_sha1();
    if (uri == algorithm::sha256) return EVP_sha256();
    if (uri == algorithm::sha384) return EVP_sha384();
    if (uri == algorithm::sha512) return EVP_sha512();
    return nullptr;
}

const EVP_MD* mgf_by_uri(const std::string& uri) {
    if (uri.empty() || uri == algorithm::mgf1_sha1) return EVP_sha1();
    if (uri == algorithm::mgf1_sha224) return EVP_sha224();
    if (uri == algorithm::mgf1_sha256) return EVP_sha256();
    if (uri == algorithm::mgf1_sha384) return EVP_sha384();
    if (uri == algorithm::mgf1_sha512) return EVP_sha512();
    return nullptr;
}

struct KeyTransport {
    int padding = RSA_PKCS1_OAEP_PADDING;
    const EVP_MD* oaep_digest = nullptr;
    const EVP_MD* mgf1_digest = nullptr;
    std::string label;
};

KeyTransport key_transport(const xmlNode* method, const DecryptionPolicy& policy) {
    const std::string uri = algorithm_of(method);
    KeyTransport transport;
    if (uri == algorithm::rsa_1_5) {
        if (!policy.allow_rsa15)
            refuse_legacy("SAML0262", "RSA PKCS#1 v1.5 key transport is refused: a legacy algorithm (SAMLAllowRSA15 On accepts "
                               "it, for an IdP that cannot do RSA-OAEP)");
        transport.padding = RSA_PKCS1_PADDING;
        return transport;
    }
    if (uri != algorithm::rsa_oaep_mgf1p && uri != algorithm::rsa_oaep)
        reject("SAML0263", "key transport algorithm '" + uri + "' is not supported");
    xmlNode* digest = unique_child(method, ns::dsig, "DigestMethod");
    transport.oaep_digest = digest_by_uri(algorithm_of(digest));
    // rsa-oaep-mgf1p fixes MGF1 with SHA-1; the xmlenc11 form names it in xenc11:MGF.
    transport.mgf1_digest = uri == algorithm::rsa_oaep ? mgf_by_uri(algorithm_of(unique_child(method, ns::xmlenc11, "MGF")))
                                                      : EVP_sha1();
    if (transport.oaep_digest == nullptr || transport.mgf1_digest == nullptr)
        reject("SAML0263", "RSA-OAEP digest or MGF is not supported");
    if (xmlNode* params = unique_child(method, ns::xmlenc, "OAEPparams"))
        transport.label = base64_decode(element_text(params), 1024, "OAEPparams");
    return transport;
}

// Tries each key; empty when none opens it (no detail: a padding oracle must learn nothing).
std::string unwrap_key(const std::string& wrapped, const KeyTransport& transport, const std::vector<EVP_PKEY*>& keys) {
    for (EVP_PKEY* key : keys) {
        if (key_type(key) != KeyType::Rsa) continue;
        PKeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
        if (!ctx) throw std::bad_alloc();
        std::size_t len = 0;
        if (EVP_PKEY_decrypt_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), transport.padding) != 1)
            continue;
        if (transport.padding == RSA_PKCS1_OAEP_PADDING) {
            if (EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), transport.oaep_digest) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), transport.mgf1_digest) != 1)
                continue;
            if (!transport.label.empty()) {
                auto* label = static_cast<unsigned char*>(OPENSSL_memdup(transport.label.data(), transport.label.size()));
                if (label == nullptr || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, static_cast<int>(transport.label.size())) != 1) {
                    OPENSSL_free(label);
                    continue;
                }
            }
        }
        const auto* in = reinterpret_cast<const unsigned char*>(wrapped.data());
        if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, in, wrapped.size()) != 1) continue;
        std::string out(len, '\0');
        if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, in, wrapped.size()) == 1) {
            out.resize(len);
            ERR_clear_error();
            return out;
        }
    }
    ERR_clear_error();
    return {};
}

struct DataCipher {
    const char* name;
    std::size_t key_bytes;
    std::size_t block_bytes;  // also the IV's size in CBC mode
    bool gcm;
};

DataCipher data_cipher(const std::string& uri, const DecryptionPolicy& policy) {
    if (uri == algorithm::aes128_gcm) return {"AES-128-GCM", 16, 16, true};
    if (uri == algorithm::aes256_gcm) return {"AES-256-GCM", 32, 16, true};
    if (uri == algorithm::aes128_cbc) return {"AES-128-CBC", 16, 16, false};
    if (uri == algorithm::aes256_cbc) return {"AES-256-CBC", 32, 16, false};
    if (uri == algorithm::tripledes_cbc) {
        if (!policy.allow_triple_des)
            refuse_legacy("SAML0264", "data encryption algorithm 3DES-CBC (xmlenc#tripledes-cbc) is refused: a legacy algorithm "
                               "(SAMLAllowTripleDES On accepts it, for an IdP that cannot encrypt with AES)");
        return {"DES-EDE3-CBC", 24, 8, false};
    }
    reject("SAML0264", "data encryption algorithm '" + uri + "' is not supported");
}

[[noreturn]] void undecryptable() {
    reject("SAML0265", "cannot decrypt: wrong key, or the data was altered");
}

// The plaintext, or nothing when the key does not open the data (wrong length, bad padding, a
// GCM tag that does not verify): the caller tries its next candidate and, when none is left,
// gives the one uniform error.
std::optional<std::string> decrypt_symmetric(const DataCipher& cipher, const std::string& key, const std::string& data) {
    const std::size_t iv_bytes = cipher.gcm ? 12 : cipher.block_bytes;
    const std::size_t tag_bytes = cipher.gcm ? 16 : 0;
    if (key.size() != cipher.key_bytes || data.size() < iv_bytes + tag_bytes + (cipher.gcm ? 0 : cipher.block_bytes))
        return std::nullopt;
    Cipher evp(EVP_CIPHER_fetch(nullptr, cipher.name, nullptr));
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!evp || !ctx) throw std::bad_alloc();
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t body = data.size() - iv_bytes - tag_bytes;
    if (!cipher.gcm && body % cipher.block_bytes != 0) return std::nullopt;
    std::string out(body + cipher.block_bytes, '\0');
    int len = 0, total = 0;
    if (EVP_DecryptInit_ex2(ctx.get(), evp.get(), reinterpret_cast<const unsigned char*>(key.data()), bytes, nullptr) != 1)
        return std::nullopt;
    if (!cipher.gcm) EVP_CIPHER_CTX_set_padding(ctx.get(), 0);  // xmlenc padding is not PKCS#7: checked below
    if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes + iv_bytes,
                          static_cast<int>(body)) != 1)
        return std::nullopt;
    total = len;
    if (cipher.gcm &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, const_cast<unsigned char*>(bytes + iv_bytes + body)) != 1)
        return std::nullopt;
    if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len) != 1) {
        ERR_clear_error();
        OPENSSL_cleanse(out.data(), out.size());
        return std::nullopt;
    }
    total += len;
    out.resize(static_cast<std::size_t>(total));
    if (!cipher.gcm) {
        const unsigned pad = out.empty() ? 0 : static_cast<unsigned char>(out.back());
        if (pad == 0 || pad > cipher.block_bytes || pad > out.size()) return std::nullopt;
        out.resize(out.size() - pad);
    }
    return out;
}

constexpr std::size_t max_encrypted_keys = 16;  // one per recipient; more is an attempt at making us work

// Every EncryptedKey that may hold this EncryptedData's key, in the two places SAML allows: in
// EncryptedData's KeyInfo, and beside EncryptedData in the container (what a RetrievalMethod
// or CarriedKeyName there would point at; we take the elements, never the pointer). Those
// addressed to us (Recipient = our entityID) come first, then those naming no Recipient, then
// the rest: the Recipient is a hint, which the decryption itself confirms.
std::vector<const xmlNode*> candidate_keys(const xmlNode* container, const xmlNode* encrypted_data,
                                           const std::string& our_entity_id) {
    std::vector<const xmlNode*> keys;
    if (xmlNode* key_info = unique_child(encrypted_data, ns::dsig, "KeyInfo"))
        for (xmlNode* key : child_elements(key_info, ns::xmlenc, "EncryptedKey")) keys.push_back(key);
    for (xmlNode* key : child_elements(container, ns::xmlenc, "EncryptedKey")) keys.push_back(key);
    if (keys.empty()) reject("SAML0266", "no EncryptedKey inside EncryptedData or beside it (references are not followed)");
    if (keys.size() > max_encrypted_keys)
        reject("SAML1052", std::to_string(keys.size()) + " EncryptedKey elements; at most " +
                               std::to_string(max_encrypted_keys) + " are tried");
    auto rank = [&](const xmlNode* key) {
        const auto recipient = attribute(key, "Recipient");
        return !recipient ? 1 : *recipient == our_entity_id ? 0 : 2;
    };
    std::stable_sort(keys.begin(), keys.end(), [&](const xmlNode* a, const xmlNode* b) { return rank(a) < rank(b); });
    return keys;
}

}  // namespace

std::string decrypt_data(const xmlNode* container, const std::vector<EVP_PKEY*>& keys, const DecryptionPolicy& policy) {
    xmlNode* encrypted_data = unique_child(container, ns::xmlenc, "EncryptedData");
    if (encrypted_data == nullptr) reject("SAML0260", "no xenc:EncryptedData");
    const DataCipher cipher = data_cipher(algorithm_of(unique_child(encrypted_data, ns::xmlenc, "EncryptionMethod")), policy);
    const std::vector<const xmlNode*> candidates = candidate_keys(container, encrypted_data, policy.our_entity_id);
    const std::string data = cipher_value(encrypted_data, "EncryptedData");
    if (keys.empty()) reject("SAML0267", "no SP decryption key is configured");
    // A candidate whose form we refuse (an algorithm off the list, no CipherValue) is skipped
    // while another may still serve; when none is usable, that refusal is the answer: it says
    // only what the message shows in clear.
    std::optional<Failure> unusable;
    bool tried = false;
    for (const xmlNode* encrypted_key : candidates) {
        KeyTransport transport;
        std::string wrapped;
        try {
            transport = key_transport(unique_child(encrypted_key, ns::xmlenc, "EncryptionMethod"), policy);
            wrapped = cipher_value(encrypted_key, "EncryptedKey");
        } catch (const Failure& refused) {
            if (!unusable) unusable = refused;
            continue;
        }
        tried = true;
        std::string key = unwrap_key(wrapped, transport, keys);
        if (key.empty()) continue;
        std::optional<std::string> plain = decrypt_symmetric(cipher, key, data);
        OPENSSL_cleanse(key.data(), key.size());
        if (plain) return std::move(*plain);
    }
    if (!tried && unusable) throw *unusable;
    undecryptable();
}

XmlDoc decrypt_element(const xmlNode* container, const std::vector<EVP_PKEY*>& keys, const DecryptionPolicy& policy,
                       const XmlLimits& limits, xmlNode** decrypted_element) {
    const std::string plain = decrypt_data(container, keys, policy);
    // Parse in the container's namespace context, as XML Encryption prescribes: the plaintext
    // may use prefixes declared on the Response.
    std::string wrapped = "<decrypted";
    if (xmlNs** in_scope = xmlGetNsList(container->doc, container)) {
        for (xmlNs** ns = in_scope; *ns != nullptr; ++ns) {
            if ((*ns)->href == nullptr) continue;
            wrapped += (*ns)->prefix ? " xmlns:" + std::string(reinterpret_cast<const char*>((*ns)->prefix)) : std::string(" xmlns");
            wrapped += "=\"" + xml_escape(reinterpret_cast<const char*>((*ns)->href)) + "\"";
        }
        xmlFree(in_scope);
    }
    wrapped += ">";
    wrapped += plain;
    wrapped += "</decrypted>";
    XmlLimits inner = limits;
    inner.max_bytes = limits.max_bytes + 4096;
    XmlDoc doc = parse_xml(wrapped, inner, "decrypted content");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    xmlNode* element = first_element_child(root);
    if (element == nullptr || next_element_sibling(element) != nullptr)
        reject("SAML0268", "decrypted content must be exactly one element");
    for (const xmlNode* n = root->children; n != nullptr; n = n->next)
        if (n->type == XML_TEXT_NODE && n->content != nullptr &&
            std::strspn(reinterpret_cast<const char*>(n->content), " \t\r\n") != std::strlen(reinterpret_cast<const char*>(n->content)))
            reject("SAML0268", "decrypted content must be exactly one element");
    *decrypted_element = element;
    return doc;
}

}  // namespace saml
