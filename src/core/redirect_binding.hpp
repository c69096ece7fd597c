// The SAML bindings our messages travel over: HTTP-Redirect (DEFLATE + base64 in the query,
// with a detached signature over the exact query octets) and HTTP-POST (a self-submitting form).
// Shared by AuthnRequest and Single Logout.
#pragma once

#include "crypto.hpp"
#include "error.hpp"
#include "metadata.hpp"
#include "settings.hpp"
#include "xml.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

// A message ready to leave: the browser is sent to redirect_url (Redirect binding) or served
// post_form_html (POST binding); the other one is empty.
struct OutgoingRequest {
    std::string id;              // the message ID, to remember for InResponseTo
    std::string xml;             // as sent (with its enveloped signature for POST)
    std::string redirect_url;    // for HTTP-Redirect
    std::string post_form_html;  // for HTTP-POST
};

// The query string for the Redirect binding: SAMLRequest (or SAMLResponse), RelayState when
// not empty, and with a signer also SigAlg and Signature, the signature covering exactly
// "SAMLRequest=…&RelayState=…&SigAlg=…" as it appears in the result. alg null = the key's
// default (RSA-SHA256 or ECDSA-SHA256). Callers append it to the endpoint URL with ? or &.
Result<std::string> encode_redirect_query(std::string_view xml, bool is_request, std::string_view relay_state,
                                          const KeyPair* signer, const SignatureAlgorithm* alg);

struct RedirectDecodeOptions {
    std::size_t max_inflated_bytes = 256 * 1024;  // the DEFLATE bomb stops here
    XmlLimits xml_limits;
    AlgorithmPolicy algorithms;                   // SHA-1 refused unless allowed
    std::vector<EVP_PKEY*> trusted_keys;          // non-owning; only these verify a Signature
    bool require_signature = true;                // an unsigned message is Rejected
};

struct RedirectMessage {
    XmlDoc doc;
    bool is_request = true;        // SAMLRequest (true) or SAMLResponse (false)
    std::string relay_state;       // decoded; empty when absent
    bool signature_verified = false;
    std::string sig_alg;           // the SigAlg URI; empty when unsigned
};

// A Redirect-binding message parsed but not yet verified: the first step of decoding, for
// callers that must read the Issuer to learn which keys to trust. Nothing in `message` may be
// believed before verify_redirect_signature has run.
struct ReceivedRedirect {
    RedirectMessage message;
    std::string signed_octets;  // the raw received "SAMLx=…[&RelayState=…]&SigAlg=…", in that order
    std::string signature;      // decoded signature bytes; empty when absent
    bool has_signature = false;
};

// `raw_query` is the query string exactly as received (no leading '?', not re-encoded).
// BadInput: duplicate SAML parameters, neither or both of SAMLRequest/SAMLResponse, bad
// encodings, an oversized or malformed message, a Signature without SigAlg.
Result<ReceivedRedirect> parse_redirect_query(std::string_view raw_query, const RedirectDecodeOptions& options);

// Checks the query signature against `trusted_keys` (the options' list is not used here) and
// the algorithm policy. Rejected: a disallowed or unknown SigAlg, no key of the SigAlg's type,
// a signature no key verifies, a missing signature when options.require_signature.
Result<RedirectMessage> verify_redirect_signature(ReceivedRedirect received,
                                                  const std::vector<EVP_PKEY*>& trusted_keys,
                                                  const RedirectDecodeOptions& options);

// Both steps, with options.trusted_keys.
Result<RedirectMessage> decode_redirect_query(std::string_view raw_query, const RedirectDecodeOptions& options);

// A self-submitting HTML page for the POST binding: one form posting `field` (SAMLRequest or
// SAMLResponse) and RelayState (when not empty) to action_url; a button for browsers without
// JavaScript; no external assets. Every value is HTML-escaped.
std::string post_binding_form(std::string_view action_url, std::string_view field, std::string_view base64_message,
                              std::string_view relay_state);

// Packs a built SAML message for the endpoint's binding. Redirect: the query, signed over the
// query when signer is set. POST: the XML signed enveloped (after its saml:Issuer) when signer
// is set, base64'd into a form. `id` is the root's ID. Config error for any other binding.
Result<OutgoingRequest> prepare_outgoing(std::string id, std::string xml, const Endpoint& endpoint,
                                         std::string_view url, bool is_request, std::string_view relay_state,
                                         const KeyPair* signer);

}  // namespace saml
