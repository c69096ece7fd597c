#include "redirect_binding.hpp"

#include "encoding.hpp"
#include "xmlsig.hpp"

#include <optional>

namespace saml {

namespace {

constexpr std::size_t kMaxSignatureBytes = 2048;  // RSA-16384 or ECDSA P-521 fit with room

constexpr const char* kSamlRequest = "SAMLRequest";
constexpr const char* kSamlResponse = "SAMLResponse";
constexpr const char* kRelayState = "RelayState";
constexpr const char* kSigAlg = "SigAlg";
constexpr const char* kSignature = "Signature";

// One SAML parameter as received: the whole "name=value" octets (what the signature covers)
// and the still-encoded value.
struct RawParameter {
    std::string_view octets;
    std::string_view value;
};

struct RawQuery {
    std::optional<RawParameter> request, response, relay_state, sig_alg, signature;
};

std::optional<RawParameter>* slot_for(RawQuery& query, const std::string& name) {
    if (name == kSamlRequest) return &query.request;
    if (name == kSamlResponse) return &query.response;
    if (name == kRelayState) return &query.relay_state;
    if (name == kSigAlg) return &query.sig_alg;
    if (name == kSignature) return &query.signature;
    return nullptr;
}

// Splits the query on '&'. Names are compared decoded, so "SAML%52equest" counts as a second
// SAMLRequest rather than slipping past the duplicate check; parameters of other applications
// are ignored.
RawQuery split_query(std::string_view raw) {
    RawQuery query;
    std::size_t start = 0;
    while (start <= raw.size()) {
        std::size_t end = raw.find('&', start);
        if (end == std::string_view::npos) end = raw.size();
        const std::string_view part = raw.substr(start, end - start);
        start = end + 1;
        if (part.empty()) continue;
        const std::size_t equals = part.find('=');
        const std::string_view raw_name = part.substr(0, equals);
        const std::string_view value = equals == std::string_view::npos ? std::string_view() : part.substr(equals + 1);
        const std::string name = url_decode(raw_name, "a query parameter name");
        auto* slot = slot_for(query, name);
        if (slot == nullptr) continue;
        if (slot->has_value())
            fail(ErrorKind::BadInput, "SAML0701", "redirect-binding", "the query carries " + name + " twice");
        *slot = RawParameter{part, value};
    }
    return query;
}

const SignatureAlgorithm& checked_algorithm(std::optional<SignatureAlgorithm>& holder, const SignatureAlgorithm* alg,
                                            EVP_PKEY* key) {
    if (alg == nullptr) {
        holder = find_signature_algorithm(default_signature_algorithm(key));
        alg = &*holder;
    }
    if (alg->key_type != key_type(key))
        fail(ErrorKind::Config, "SAML0714", "signing", std::string("the signing key cannot make ") + alg->uri);
    return *alg;
}

// Metadata may list keys we cannot use (Ed25519, DSA): they are skipped, not an error.
bool key_has_type(EVP_PKEY* key, KeyType wanted) {
    try {
        return key != nullptr && key_type(key) == wanted;
    } catch (const Failure&) {
        return false;
    }
}


}  // namespace

Result<std::string> encode_redirect_query(std::string_view xml, bool is_request, std::string_view relay_state,
                                          const KeyPair* signer, const SignatureAlgorithm* alg) {
    return guarded([&] {
        std::string query = is_request ? kSamlRequest : kSamlResponse;
        query += '=';
        query += url_encode(base64_encode(deflate_raw(xml)));
        if (!relay_state.empty()) {
            query += "&RelayState=";
            query += url_encode(relay_state);
        }
        if (signer == nullptr) return query;
        if (!signer->key) fail(ErrorKind::Config, "SAML0710", "signing", "no SP signing key is configured");
        std::optional<SignatureAlgorithm> holder;
        const SignatureAlgorithm& chosen = checked_algorithm(holder, alg, signer->key.get());
        query += "&SigAlg=";
        query += url_encode(chosen.uri);
        // The signature covers the query exactly as built so far, the octets the receiver sees.
        const std::string signature = sign_bytes(signer->key.get(), chosen, query);
        query += "&Signature=";
        query += url_encode(base64_encode(signature));
        return query;
    });
}

Result<ReceivedRedirect> parse_redirect_query(std::string_view raw_query, const RedirectDecodeOptions& options) {
    return guarded([&] {
        const RawQuery query = split_query(raw_query);
        if (query.request.has_value() == query.response.has_value())
            fail(ErrorKind::BadInput, "SAML0702", "redirect-binding",
                 query.request ? "the query carries both SAMLRequest and SAMLResponse"
                               : "the query carries neither SAMLRequest nor SAMLResponse");
        const RawParameter& message = query.request ? *query.request : *query.response;
        if (query.signature && !query.sig_alg)
            fail(ErrorKind::BadInput, "SAML0704", "redirect-signature", "the query has a Signature but no SigAlg");
        if (query.sig_alg && !query.signature)
            fail(ErrorKind::Rejected, "SAML0709", "redirect-signature", "the query has a SigAlg but no Signature");

        ReceivedRedirect received;
        received.message.is_request = query.request.has_value();
        const char* what = received.message.is_request ? kSamlRequest : kSamlResponse;
        const std::string compressed =
            base64_decode(url_decode(message.value, what), options.max_inflated_bytes, what);
        if (compressed.empty()) fail(ErrorKind::BadInput, "SAML0703", "redirect-binding", std::string(what) + " is empty");
        const std::string xml = inflate_raw(compressed, options.max_inflated_bytes, what);
        received.message.doc = parse_xml(xml, options.xml_limits, what);
        if (query.relay_state) received.message.relay_state = url_decode(query.relay_state->value, kRelayState);

        if (query.signature) {
            received.has_signature = true;
            received.message.sig_alg = url_decode(query.sig_alg->value, kSigAlg);
            received.signature =
                base64_decode(url_decode(query.signature->value, kSignature), kMaxSignatureBytes, kSignature);
            if (received.signature.empty())
                fail(ErrorKind::BadInput, "SAML0703", "redirect-signature", "the Signature parameter is empty");
            // The order the binding defines, whatever order the parameters arrived in, each
            // parameter exactly as received.
            received.signed_octets.assign(message.octets);
            if (query.relay_state) {
                received.signed_octets += '&';
                received.signed_octets += query.relay_state->octets;
            }
            received.signed_octets += '&';
            received.signed_octets += query.sig_alg->octets;
        }
        return received;
    });
}

Result<RedirectMessage> verify_redirect_signature(ReceivedRedirect received,
                                                  const std::vector<EVP_PKEY*>& trusted_keys,
                                                  const RedirectDecodeOptions& options) {
    return guarded([&] {
        RedirectMessage& message = received.message;
        if (!received.has_signature) {
            if (options.require_signature)
                fail(ErrorKind::Rejected, "SAML0708", "redirect-signature",
                     "the message is not signed and a signature is required");
            message.sig_alg.clear();
            message.signature_verified = false;
            return std::move(message);
        }
        const auto alg = find_signature_algorithm(message.sig_alg);
        if (!alg) fail(ErrorKind::Rejected, "SAML0705", "redirect-signature", "SigAlg '" + message.sig_alg + "' is not supported");
        if (!options.algorithms.allowed(*alg))
            fail(ErrorKind::Rejected, "SAML0705", "redirect-signature", "SigAlg '" + message.sig_alg + "' is not allowed");
        std::size_t candidates = 0;
        for (EVP_PKEY* key : trusted_keys) {
            if (!key_has_type(key, alg->key_type)) continue;
            ++candidates;
            if (verify_bytes(key, *alg, received.signed_octets, received.signature)) {
                message.signature_verified = true;
                return std::move(message);
            }
        }
        if (candidates == 0)
            fail(ErrorKind::Rejected, "SAML0706", "redirect-signature",
                 "none of the issuer's " + std::to_string(trusted_keys.size()) + " trusted key(s) can check SigAlg '" +
                     message.sig_alg + "'");
        fail(ErrorKind::Rejected, "SAML0707", "redirect-signature",
             "the query signature does not verify with any of the issuer's " + std::to_string(candidates) +
                 " trusted key(s)");
    });
}

Result<RedirectMessage> decode_redirect_query(std::string_view raw_query, const RedirectDecodeOptions& options) {
    auto received = parse_redirect_query(raw_query, options);
    if (!received) return received.error();
    return verify_redirect_signature(std::move(received).value(), options.trusted_keys, options);
}

std::string post_binding_form(std::string_view action_url, std::string_view field, std::string_view base64_message,
                              std::string_view relay_state) {
    std::string html =
        "<!DOCTYPE html>\n"
        "<html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">"
        "<title>Continue</title></head>\n"
        "<body>\n<form method=\"post\" action=\"";
    html += xml_escape(action_url);
    html += "\">\n<input type=\"hidden\" name=\"";
    html += xml_escape(field);
    html += "\" value=\"";
    html += xml_escape(base64_message);
    html += "\">\n";
    if (!relay_state.empty()) {
        html += "<input type=\"hidden\" name=\"RelayState\" value=\"";
        html += xml_escape(relay_state);
        html += "\">\n";
    }
    html +=
        "<noscript><p>Your browser does not run JavaScript: press Continue to proceed.</p>"
        "<button type=\"submit\">Continue</button></noscript>\n"
        "</form>\n"
        "<script>document.forms[0].submit();</script>\n"
        "</body></html>\n";
    return html;
}

Result<OutgoingRequest> prepare_outgoing(std::string id, std::string xml, const Endpoint& endpoint,
                                         std::string_view url, bool is_request, std::string_view relay_state,
                                         const KeyPair* signer) {
    return guarded([&] {
        if (url.empty()) fail(ErrorKind::Config, "SAML0713", "endpoint", "the IdP endpoint has no location");
        if (signer != nullptr && !signer->key)
            fail(ErrorKind::Config, "SAML0710", "signing", "signing is asked for but no SP signing key is configured");
        OutgoingRequest out;
        out.id = std::move(id);
        if (endpoint.binding == binding::redirect) {
            auto query = encode_redirect_query(xml, is_request, relay_state, signer, nullptr);
            if (!query) throw Failure(query.error());
            out.redirect_url.assign(url);
            out.redirect_url += url.find('?') == std::string_view::npos ? '?' : '&';
            out.redirect_url += query.value();
            out.xml = std::move(xml);
        } else if (endpoint.binding == binding::post) {
            if (signer != nullptr) {
                XmlDoc doc = parse_xml(xml, XmlLimits{}, "outgoing message");
                xmlNode* root = xmlDocGetRootElement(doc.get());
                xmlNode* first = first_element_child(root);
                xmlNode* issuer = is_element(first, ns::assertion, "Issuer") ? first : nullptr;
                std::optional<SignatureAlgorithm> holder;
                const SignatureAlgorithm& alg = checked_algorithm(holder, nullptr, signer->key.get());
                sign_enveloped(root, issuer, signer->key.get(), signer->certificate.get(), alg);
                xml = serialize(root);
            }
            out.post_form_html =
                post_binding_form(url, is_request ? kSamlRequest : kSamlResponse, base64_encode(xml), relay_state);
            out.xml = std::move(xml);
        } else {
            fail(ErrorKind::Config, "SAML0711", "endpoint",
                 "the IdP endpoint's binding '" + endpoint.binding + "' is not HTTP-Redirect or HTTP-POST");
        }
        return out;
    });
}

}  // namespace saml
