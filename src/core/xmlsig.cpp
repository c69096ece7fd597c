#include "xmlsig.hpp"

#include "error.hpp"
#include "xml.hpp"

#include <openssl/err.h>
#include <xmlsec/crypto.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/templates.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

#include "c14n.hpp"
#include "encoding.hpp"

#include <cstring>
#include <set>

namespace saml {

namespace {

struct DSigCtxDeleter {
    void operator()(xmlSecDSigCtx* ctx) const noexcept { xmlSecDSigCtxDestroy(ctx); }
};
using DSigCtx = std::unique_ptr<xmlSecDSigCtx, DSigCtxDeleter>;

struct KeyDeleter {
    void operator()(xmlSecKey* key) const noexcept { xmlSecKeyDestroy(key); }
};
using SecKey = std::unique_ptr<xmlSecKey, KeyDeleter>;

[[noreturn]] void reject(const char* code, std::string detail) {
    fail(ErrorKind::Rejected, code, "signature", std::move(detail));
}

// An xmlsec key holding a reference to the caller's EVP_PKEY.
SecKey xmlsec_key(EVP_PKEY* pkey) {
    if (EVP_PKEY_up_ref(pkey) != 1) throw std::bad_alloc();
    xmlSecKeyDataPtr data = xmlSecOpenSSLEvpKeyAdopt(pkey);
    if (data == nullptr) {
        EVP_PKEY_free(pkey);
        fail(ErrorKind::Internal, "SAML0020", "signature", "xmlsec cannot adopt the key");
    }
    SecKey key(xmlSecKeyCreate());
    if (!key || xmlSecKeySetValue(key.get(), data) < 0) {
        xmlSecKeyDataDestroy(data);
        throw std::bad_alloc();
    }
    return key;
}

std::string algorithm_of(const xmlNode* node) {
    return node == nullptr ? std::string() : attribute(node, "Algorithm").value_or("");
}

// Both exclusive c14n URIs SAML core 5.4.3/5.4.4 names; their InclusiveNamespaces parameter is
// in the namespace of the plain one for both.
bool is_exclusive_c14n(std::string_view uri) { return uri == algorithm::exc_c14n || uri == algorithm::exc_c14n_comments; }

bool is_allowed_digest(std::string_view uri, const AlgorithmPolicy& policy) {
    if (uri == algorithm::sha256 || uri == algorithm::sha384 || uri == algorithm::sha512) return true;
    return uri == algorithm::sha1 && policy.allow_sha1;
}

// Our own structural checks, before any cryptography runs: they decide what may be signed.
SignatureAlgorithm check_signature_shape(const xmlNode* signature, const std::string& element_id,
                                         const AlgorithmPolicy& policy) {
    xmlNode* signed_info = nullptr;
    int signed_info_count = 0, value_count = 0;
    for (xmlNode* child = first_element_child(signature); child != nullptr; child = next_element_sibling(child)) {
        if (is_element(child, ns::dsig, "SignedInfo")) {
            signed_info = child;
            ++signed_info_count;
        } else if (is_element(child, ns::dsig, "SignatureValue")) {
            ++value_count;
        } else if (!is_element(child, ns::dsig, "KeyInfo")) {
            // ds:Object and anything else is where wrapped content hides.
            reject("SAML0210", std::string("Signature holds an unexpected ") +
                                   reinterpret_cast<const char*>(child->name) + " element");
        }
    }
    if (signed_info_count != 1 || value_count != 1)
        reject("SAML0211", "Signature must hold exactly one SignedInfo and one SignatureValue");

    xmlNode* c14n = nullptr;
    xmlNode* method = nullptr;
    std::vector<xmlNode*> references;
    for (xmlNode* child = first_element_child(signed_info); child != nullptr; child = next_element_sibling(child)) {
        if (is_element(child, ns::dsig, "CanonicalizationMethod") && c14n == nullptr) c14n = child;
        else if (is_element(child, ns::dsig, "SignatureMethod") && method == nullptr) method = child;
        else if (is_element(child, ns::dsig, "Reference")) references.push_back(child);
        else reject("SAML0212", "SignedInfo holds an unexpected or repeated element");
    }
    for (xmlNode* p = first_element_child(c14n); p != nullptr; p = next_element_sibling(p))
        if (!is_element(p, algorithm::exc_c14n, "InclusiveNamespaces"))
            reject("SAML0213", "CanonicalizationMethod has unexpected parameters");
    if (!is_exclusive_c14n(algorithm_of(c14n)))
        reject("SAML0213", "canonicalization must be exclusive c14n, not '" + algorithm_of(c14n) + "'");
    if (method == nullptr) reject("SAML0214", "SignedInfo lacks SignatureMethod");
    if (first_element_child(method) != nullptr) reject("SAML0214", "SignatureMethod has parameters (HMAC length?)");
    const std::string method_uri = algorithm_of(method);
    auto alg = find_signature_algorithm(method_uri);
    if (!alg || !policy.allowed(*alg)) reject("SAML0215", "signature algorithm '" + method_uri + "' is not allowed");

    if (references.size() != 1)
        reject("SAML0216", "SignedInfo must hold exactly one Reference, it holds " + std::to_string(references.size()));
    const xmlNode* reference = references.front();
    const auto uri = attribute(reference, "URI");
    if (!uri || element_id.empty() || *uri != "#" + element_id)
        reject("SAML0217", "Reference URI '" + uri.value_or("") + "' is not '#" + element_id + "' (the signed element)");

    int transform_count = 0;
    xmlNode* digest_method = nullptr;
    for (xmlNode* child = first_element_child(reference); child != nullptr; child = next_element_sibling(child)) {
        if (is_element(child, ns::dsig, "Transforms") && transform_count == 0) {
            for (xmlNode* t = first_element_child(child); t != nullptr; t = next_element_sibling(t)) {
                ++transform_count;
                const std::string t_uri = algorithm_of(t);
                if (!is_element(t, ns::dsig, "Transform") || (t_uri != algorithm::enveloped && !is_exclusive_c14n(t_uri)) ||
                    transform_count > 2)
                    reject("SAML0218", "transform '" + t_uri + "' is not allowed");
                for (xmlNode* p = first_element_child(t); p != nullptr; p = next_element_sibling(p))
                    if (!is_exclusive_c14n(t_uri) || !is_element(p, algorithm::exc_c14n, "InclusiveNamespaces"))
                        reject("SAML0218", "transform parameters are not allowed");
            }
            if (transform_count == 0) transform_count = -1;  // empty Transforms: still one block
        } else if (is_element(child, ns::dsig, "DigestMethod") && digest_method == nullptr) {
            digest_method = child;
        } else if (!is_element(child, ns::dsig, "DigestValue")) {
            reject("SAML0219", "Reference holds an unexpected or repeated element");
        }
    }
    if (!is_allowed_digest(algorithm_of(digest_method), policy))
        reject("SAML0220", "digest algorithm '" + algorithm_of(digest_method) + "' is not allowed");
    return *alg;
}

// --- verification: our exclusive c14n (c14n.hpp), digests and signatures from OpenSSL --------
// xmlsec's generic node-set machinery made verification quadratic in the document size, and
// libxml2's generic c14n cost 38% of a login; our profile needs only "this subtree, minus its
// Signature", which c14n.cpp renders directly.

std::vector<std::string> inclusive_prefixes(const xmlNode* method) {
    std::vector<std::string> list;
    xmlNode* inclusive = method ? unique_child(method, algorithm::exc_c14n, "InclusiveNamespaces") : nullptr;
    const std::string text = inclusive ? attribute(inclusive, "PrefixList").value_or("") : "";
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t end = text.find_first_of(" \t\r\n", pos);
        const std::string name = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        if (!name.empty()) list.push_back(name);
        if (end == std::string::npos) break;
        pos = end + 1;
    }
    return list;
}

std::string canonicalize(const xmlNode* root, const xmlNode* excluded, const std::vector<std::string>& prefixes,
                         Comments comments) {
    std::string out;
    out.reserve(16384);
    exclusive_c14n(root, excluded, prefixes, out, comments);
    return out;
}

const EVP_MD* digest_by_uri(const std::string& uri) {
    if (uri == algorithm::sha256) return EVP_sha256();
    if (uri == algorithm::sha384) return EVP_sha384();
    if (uri == algorithm::sha512) return EVP_sha512();
    if (uri == algorithm::sha1) return EVP_sha1();
    return nullptr;
}

std::string digest(const EVP_MD* md, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1)
        fail(ErrorKind::Internal, "SAML0023", "signature", "digest failed");
    return std::string(reinterpret_cast<char*>(out), len);
}

// The Reference's digest over the signed element, with the transforms the shape check allowed.
bool reference_digest_matches(const xmlNode* signed_element, const xmlNode* signature, const xmlNode* reference) {
    bool enveloped = false;
    const xmlNode* exc_c14n = nullptr;
    if (xmlNode* transforms = unique_child(reference, ns::dsig, "Transforms"))
        for (xmlNode* t = first_element_child(transforms); t != nullptr; t = next_element_sibling(t)) {
            const std::string uri = algorithm_of(t);
            if (uri == algorithm::enveloped) enveloped = true;
            if (is_exclusive_c14n(uri)) exc_c14n = t;
        }
    // Without an explicit exclusive c14n the spec would apply inclusive c14n, which our profile
    // does not offer: refuse rather than guess.
    if (exc_c14n == nullptr) reject("SAML0218", "the Reference does not end in exclusive c14n");
    const EVP_MD* md = digest_by_uri(algorithm_of(unique_child(reference, ns::dsig, "DigestMethod")));
    xmlNode* value = unique_child(reference, ns::dsig, "DigestValue");
    if (md == nullptr || value == nullptr) reject("SAML0220", "the Reference lacks a usable digest");
    const std::string expected = base64_decode(element_text(value), EVP_MAX_MD_SIZE, "DigestValue");
    // The Reference is a bare-name "#ID" (check_signature_shape): dereferencing it yields the
    // element's subtree without its comments (XMLDSig 1.1 section 4.4.3.3: only a full XPointer such
    // as #xpointer(id('ID')) keeps them), so #WithComments has no comment left to render here.
    // xmlsec and the IdPs built on it digest the same bytes. A comment inside a signed value
    // is harmless because every value is read as its element's whole text (xml.hpp).
    const std::string actual = digest(
        md, canonicalize(signed_element, enveloped ? signature : nullptr, inclusive_prefixes(exc_c14n), Comments::Omit));
    return equal_secret(expected, actual);
}

}  // namespace

void register_unique_ids(xmlDoc* doc, const std::vector<IdElement>& id_elements) {
    std::set<std::string> seen;
    xmlNode* root = xmlDocGetRootElement(doc);
    xmlNode* node = root;
    while (node != nullptr) {
        if (node->type == XML_ELEMENT_NODE) {
            for (xmlAttr* attr = node->properties; attr != nullptr; attr = attr->next) {
                const char* name = reinterpret_cast<const char*>(attr->name);
                if (std::strcmp(name, "ID") != 0 && std::strcmp(name, "Id") != 0 && std::strcmp(name, "id") != 0)
                    continue;
                auto value = attribute(node, name);
                if (!value && attr->children && attr->children->content)
                    value = reinterpret_cast<const char*>(attr->children->content);
                if (value && !seen.insert(*value).second)
                    fail(ErrorKind::Rejected, "SAML0205", "unique-ids", "the ID '" + *value + "' occurs twice");
            }
            for (const auto& wanted : id_elements) {
                if (!is_element(node, wanted.ns_uri, wanted.local_name)) continue;
                xmlAttr* id_attr = xmlHasNsProp(node, BAD_CAST "ID", nullptr);
                if (id_attr != nullptr && xmlGetID(doc, id_attr->children ? id_attr->children->content : nullptr) == nullptr &&
                    id_attr->children != nullptr && id_attr->children->content != nullptr)
                    xmlAddID(nullptr, doc, id_attr->children->content, id_attr);
            }
        }
        if (node->type == XML_ELEMENT_NODE && node->children != nullptr) {
            node = node->children;
            continue;
        }
        while (node != root && node->next == nullptr) node = node->parent;
        if (node == root) break;
        node = node->next;
    }
}

SignatureState verify_enveloped_signature(xmlNode* signed_element, const std::vector<EVP_PKEY*>& trusted_keys,
                                          const AlgorithmPolicy& policy) {
    const auto signatures = child_elements(signed_element, ns::dsig, "Signature");
    if (signatures.empty()) return SignatureState::Absent;
    if (signatures.size() > 1) reject("SAML0209", "the element carries more than one Signature");
    xmlNode* signature = signatures.front();
    const std::string element_id = attribute(signed_element, "ID").value_or("");
    const SignatureAlgorithm alg = check_signature_shape(signature, element_id, policy);
    if (trusted_keys.empty()) reject("SAML0221", "no trusted signing key is configured for this issuer");

    xmlNode* signed_info = unique_child(signature, ns::dsig, "SignedInfo");
    xmlNode* reference = unique_child(signed_info, ns::dsig, "Reference");
    if (!reference_digest_matches(signed_element, signature, reference))
        reject("SAML0224", "the signed content was altered (digest mismatch)");
    // SignedInfo itself is canonicalized as a whole subtree, comments included when the method
    // is #WithComments: a comment there is signed.
    const xmlNode* c14n_method = unique_child(signed_info, ns::dsig, "CanonicalizationMethod");
    const std::string canonical_signed_info =
        canonicalize(signed_info, nullptr, inclusive_prefixes(c14n_method),
                     algorithm_of(c14n_method) == algorithm::exc_c14n_comments ? Comments::Keep : Comments::Omit);
    const std::string signature_value =
        base64_decode(element_text(unique_child(signature, ns::dsig, "SignatureValue")), 2048, "SignatureValue");
    for (EVP_PKEY* key : trusted_keys)
        if (key_type(key) == alg.key_type && verify_bytes(key, alg, canonical_signed_info, signature_value))
            return SignatureState::Verified;
    reject("SAML0222", "the signature does not verify with any of the issuer's " + std::to_string(trusted_keys.size()) +
                           " trusted key(s)");
}

void sign_enveloped(xmlNode* element, xmlNode* insert_after, EVP_PKEY* key, const X509* certificate,
                    const SignatureAlgorithm& algorithm) {
    xmlDoc* doc = element->doc;
    const auto id = attribute(element, "ID");
    if (!id || id->empty()) fail(ErrorKind::Internal, "SAML0021", "signature", "element to sign has no ID");
    register_unique_ids(doc, {{element->ns ? reinterpret_cast<const char*>(element->ns->href) : nullptr,
                               reinterpret_cast<const char*>(element->name)}});

    xmlSecTransformId sign_method = xmlSecTransformIdListFindByHref(
        xmlSecTransformIdsGet(), BAD_CAST algorithm.uri, xmlSecTransformUsageSignatureMethod);
    xmlSecTransformId digest_method = xmlSecTransformIdListFindByHref(
        xmlSecTransformIdsGet(), BAD_CAST algorithm.digest_uri, xmlSecTransformUsageDigestMethod);
    if (sign_method == xmlSecTransformIdUnknown || digest_method == xmlSecTransformIdUnknown)
        fail(ErrorKind::Internal, "SAML0022", "signature", "xmlsec lacks the algorithm " + std::string(algorithm.uri));

    xmlNode* signature = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId, sign_method, nullptr, BAD_CAST "ds");
    if (signature == nullptr) throw std::bad_alloc();
    // Place it before linking anything else, so a failure below leaves no orphan.
    xmlNode* placed = insert_after != nullptr ? xmlAddNextSibling(insert_after, signature)
                      : element->children != nullptr ? xmlAddPrevSibling(element->children, signature)
                                                      : xmlAddChild(element, signature);
    if (placed == nullptr) {
        xmlFreeNode(signature);
        throw std::bad_alloc();
    }
    const std::string uri = "#" + *id;
    xmlNode* reference = xmlSecTmplSignatureAddReference(signature, digest_method, nullptr, BAD_CAST uri.c_str(), nullptr);
    if (reference == nullptr || xmlSecTmplReferenceAddTransform(reference, xmlSecTransformEnvelopedId) == nullptr ||
        xmlSecTmplReferenceAddTransform(reference, xmlSecTransformExclC14NId) == nullptr)
        throw std::bad_alloc();
    if (certificate != nullptr) {
        xmlNode* key_info = xmlSecTmplSignatureEnsureKeyInfo(signature, nullptr);
        xmlNode* x509_data = key_info ? xmlSecTmplKeyInfoAddX509Data(key_info) : nullptr;
        xmlNode* cert_node = x509_data ? xmlSecTmplX509DataAddCertificate(x509_data) : nullptr;
        if (cert_node == nullptr) throw std::bad_alloc();
        xmlNodeSetContent(cert_node, BAD_CAST certificate_base64(certificate).c_str());
    }

    // No keys manager (the key is given) and nothing outside this document: xmlsec may resolve
    // only our own "#ID" Reference, and no RetrievalMethod or URI in a KeyInfo, whatever the
    // signed element holds (test_xmlsig: SigningReadsNoUri).
    DSigCtx ctx(xmlSecDSigCtxCreate(nullptr));
    if (!ctx) throw std::bad_alloc();
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    for (xmlSecKeyInfoCtx* key_info_ctx : {&ctx->keyInfoReadCtx, &ctx->keyInfoWriteCtx}) {
        key_info_ctx->maxRetrievalMethodLevel = 0;
        key_info_ctx->retrievalMethodCtx.enabledUris = xmlSecTransformUriTypeNone;
    }
    ctx->signKey = xmlsec_key(key).release();
    if (xmlSecDSigCtxSign(ctx.get(), signature) < 0) {
        ERR_clear_error();
        fail(ErrorKind::Config, "SAML0308", "signature", "xmlsec could not sign with the configured key");
    }
}

}  // namespace saml
