// XML Signature, in the narrow profile SAML needs and nothing wider: an enveloped signature,
// a direct child of the element it signs, one Reference to that element's ID, exclusive c14n,
// algorithms from an allow-list, and keys only from configuration (KeyInfo is never trusted).
#pragma once

#include "crypto.hpp"

#include <libxml/tree.h>

#include <string>
#include <vector>

namespace saml {

enum class SignatureState { Absent, Verified };

// Verifies the ds:Signature child of `signed_element` against any of `trusted_keys`.
// Absent when the element has no Signature child; Failure(Rejected) for every other problem:
// a malformed or ambiguous signature, a disallowed algorithm or transform, a reference to
// anything but this element, or no trusted key that verifies it.
// The document's IDs must already be checked unique (register_unique_ids).
SignatureState verify_enveloped_signature(xmlNode* signed_element, const std::vector<EVP_PKEY*>& trusted_keys,
                                          const AlgorithmPolicy& policy);

// Fails (BadInput) when two elements of the document share an ID attribute value, then
// registers the ID attribute of each element named in `id_elements` as an XML ID.
struct IdElement {
    const char* ns_uri;
    const char* local_name;
};
void register_unique_ids(xmlDoc* doc, const std::vector<IdElement>& id_elements);

// Signs `element` in place with an enveloped signature placed after `insert_after` (the
// Issuer, as the SAML schema wants) or first when it is null. The certificate, if given, is
// put in KeyInfo for the receiver's convenience.
void sign_enveloped(xmlNode* element, xmlNode* insert_after, EVP_PKEY* key, const X509* certificate,
                    const SignatureAlgorithm& algorithm);

}  // namespace saml
