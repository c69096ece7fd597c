// Writes the hostile-input cases test/integration/test_hostile.py posts to a running module:
// each one a real Response (or Redirect-binding logout query) signed and encrypted with the
// test PKI by the unit tests' IdP builder, then altered the way an attacker would.
//
//   hostile_cases --list
//       one line per case: name, endpoint, expected verdict, expected code (tab-separated)
//   hostile_cases --out DIR --base-url URL --sp-entity ID --idp-entity ID
//                 --request-id ID --other-request-id ID [--logout-request-id ID] [--now UNIX]
//       one file per case in DIR, named after the case, of "key: value" lines:
//         endpoint  acs (POST SAMLResponse=body) | sls (GET /saml/sls?body)
//                   | sls-post (POST SAMLRequest=body to /saml/sls)
//         cookie    first | second | none | logout: which pending state the browser holds
//         expect    deny | grant:<user> | redirect:idp (a LogoutRequest accepted and answered)
//                   | redirect:return (a LogoutResponse accepted, the browser sent back)
//         code      the SAMLxxxx id of the rule that must refuse it (deny only)
//         check     the page whose REMOTE_USER shows whom a session was granted for
//         body      last line: the base64 Response, or the query string
//       With --logout-request-id only the LogoutResponse cases are written (they answer the
//       SP's own LogoutRequest, which exists only once a session has been logged out).
// SAML_TEST_PKI names the test PKI (certs/make-test-pki): idp-rsa signs, attacker forges,
// sp-encryption is the SP's key.
#include "encoding.hpp"
#include "idp_builder.hpp"
#include "init.hpp"
#include "redirect_binding.hpp"
#include "test_support.hpp"
#include "xmlenc.hpp"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

using namespace saml;
using namespace saml::test;

namespace {

struct Live {
    std::string base, acs, sls, sp_entity, idp_entity, r1, r2, logout_id;
};

struct Case {
    std::string name;
    std::string endpoint = "acs";
    std::string expect;  // deny | grant:<user> | redirect:idp | redirect:return
    std::string code;
    std::function<std::string()> body;
    std::string cookie = "first";
    std::string check = "/protected/env.cgi";
    bool logout_response = false;
};

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
    const auto pos = text.find(from);
    if (pos == std::string::npos) throw std::runtime_error("case input lacks: " + from.substr(0, 80));
    return text.replace(pos, from.size(), to);
}

std::string between(const std::string& text, const std::string& open, const std::string& close) {
    const auto start = text.find(open);
    const auto end = start == std::string::npos ? start : text.find(close, start);
    if (start == std::string::npos || end == std::string::npos) throw std::runtime_error("case input lacks " + open);
    return text.substr(start, end + close.size() - start);
}

std::string strip_declaration(std::string xml) {
    if (xml.rfind("<?xml", 0) == 0) xml.erase(0, xml.find("?>") + 2);
    while (!xml.empty() && (xml.front() == '\n' || xml.front() == ' ')) xml.erase(0, 1);
    return xml;
}

std::string fresh(const char* prefix) { return std::string(prefix) + hex_encode(random_bytes(10)); }

class Builder {
public:
    explicit Builder(Live live) : l_(std::move(live)) {}

    // What a well-behaved IdP sends for the first pending request: Response and assertion signed.
    ResponseSpec spec() const {
        ResponseSpec r;
        r.id = fresh("_r");
        r.issuer = l_.idp_entity;
        r.destination = l_.acs;
        r.in_response_to = l_.r1;
        r.assertion = assertion();
        return r;
    }

    AssertionSpec assertion(const std::string& name_id = "alice") const {
        AssertionSpec a;
        a.id = fresh("_a");
        a.issuer = l_.idp_entity;
        a.name_id = name_id;
        a.recipient = l_.acs;
        a.confirmation_in_response_to = l_.r1;
        a.audience = l_.sp_entity;
        return a;
    }

    AssertionSpec evil() const { return assertion("admin"); }

    std::string signed_assertion(const AssertionSpec& a) const {
        return strip_declaration(sign_element(assertion_xml(a), a.id, "idp-rsa"));
    }

    // An unsigned Response around whatever content follows Status.
    std::string envelope(const std::string& content, const std::string& id = "") const {
        return "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
               "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"" + (id.empty() ? fresh("_evil") : id) +
               "\" Version=\"2.0\" IssueInstant=\"" + format_datetime(test_now()) + "\" Destination=\"" + l_.acs +
               "\" InResponseTo=\"" + l_.r1 + "\"><saml:Issuer>" + l_.idp_entity +
               "</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
               "</samlp:Status>" + content + "</samlp:Response>";
    }

    std::string b64(const std::string& xml) const { return base64_encode(xml); }
    std::string response(const ResponseSpec& r) const { return base64_encode(response_xml(r)); }

    // The IdP's LogoutRequest for alice, unsigned XML for the Redirect binding.
    std::string logout_request_xml(const std::string& id = fresh("_lr")) const {
        return "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
               "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"" + id +
               "\" Version=\"2.0\" IssueInstant=\"" + format_datetime(test_now()) + "\" Destination=\"" + l_.sls +
               "\"><saml:Issuer>" + l_.idp_entity + "</saml:Issuer><saml:NameID Format=\"" + nameid_format::persistent +
               "\">alice</saml:NameID><samlp:SessionIndex>_session-42</samlp:SessionIndex></samlp:LogoutRequest>";
    }

    // The same, with an enveloped XML signature for the POST binding.
    std::string signed_logout_request(const std::string& key) const {
        const std::string id = fresh("_lr");
        return strip_declaration(sign_element(logout_request_xml(id), id, key));
    }

    std::string logout_response_xml(const std::string& in_response_to) const {
        return "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
               "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"" + fresh("_ls") +
               "\" Version=\"2.0\" IssueInstant=\"" + format_datetime(test_now()) + "\" Destination=\"" + l_.sls +
               "\" InResponseTo=\"" + in_response_to + "\"><saml:Issuer>" + l_.idp_entity +
               "</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
               "</samlp:Status></samlp:LogoutResponse>";
    }

    std::string redirect(const std::string& xml, bool is_request, const std::string& signer = "idp-rsa",
                         const char* alg_uri = nullptr) const {
        const KeyPair pair = signer.empty() ? KeyPair{} : pki_pair(signer);
        std::optional<SignatureAlgorithm> alg;
        if (alg_uri != nullptr) alg = find_signature_algorithm(alg_uri);
        auto query = encode_redirect_query(xml, is_request, "relay-42", signer.empty() ? nullptr : &pair,
                                           alg ? &*alg : nullptr);
        if (!query) throw std::runtime_error(query.error().message());
        return query.value();
    }

    // A Response and its assertion signed by xmlsec with exclusive c14n #WithComments: both as
    // the assertion's CanonicalizationMethod and Transform, as the Response's method; a comment
    // in each SignedInfo, and content_comment (if any) inside the assertion's Conditions.
    std::string with_comments(const AssertionSpec& a, const std::string& content_comment = "") const {
        std::string assertion = assertion_xml(a);
        assertion = replace_once(assertion, "</saml:Issuer>",
                                 "</saml:Issuer>" + signature_template(a.id, algorithm::exc_c14n_comments,
                                                                       algorithm::exc_c14n_comments, "assertion signed-info"));
        if (!content_comment.empty()) assertion = replace_once(assertion, "</saml:Conditions>", content_comment + "</saml:Conditions>");
        assertion = strip_declaration(sign_template(assertion, a.id, "idp-rsa"));
        const std::string id = fresh("_r");
        std::string response = replace_once(envelope(assertion, id), "</saml:Issuer>",
                                            "</saml:Issuer>" + signature_template(id, algorithm::exc_c14n_comments,
                                                                                  algorithm::exc_c14n, "response signed-info"));
        return strip_declaration(sign_template(response, id, "idp-rsa"));
    }

    const Live& live() const { return l_; }

private:
    Live l_;
};

std::string query_param(const std::string& query, const std::string& name) {
    const std::string key = name + "=";
    std::size_t pos = query.rfind(key, 0) == 0 ? 0 : query.find("&" + key);
    if (pos == std::string::npos) throw std::runtime_error("query lacks " + name);
    if (pos != 0) ++pos;
    const auto end = query.find('&', pos);
    return query.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

std::string drop_param(const std::string& query, const std::string& name) {
    const std::string part = query_param(query, name);
    std::string out = query;
    const auto pos = out.find(part);
    out.erase(pos, part.size());
    if (pos > 0 && out[pos - 1] == '&') out.erase(pos - 1, 1);
    else if (pos < out.size() && out[pos] == '&') out.erase(pos, 1);
    return out;
}

std::vector<Case> all_cases(const Builder& b) {
    std::vector<Case> cases;
    auto deny = [&](std::string name, std::string code, std::function<std::string()> body) {
        Case c;
        c.name = std::move(name);
        c.expect = "deny";
        c.code = std::move(code);
        c.body = std::move(body);
        cases.push_back(std::move(c));
        return &cases.back();
    };
    auto grant = [&](std::string name, std::string user, std::function<std::string()> body) {
        Case c;
        c.name = std::move(name);
        c.expect = "grant:" + user;
        c.body = std::move(body);
        cases.push_back(std::move(c));
        return &cases.back();
    };

    // --- baselines: the suite's IdP is believed when it is honest ---
    grant("baseline-signed-response-and-assertion", "alice", [&] { return b.response(b.spec()); });
    grant("baseline-signed-assertion-only", "alice", [&] {
        auto r = b.spec();
        r.sign_response = false;
        return b.response(r);
    });
    grant("baseline-encrypted-signed-assertion", "alice", [&] {
        auto r = b.spec();
        r.encrypt = true;
        return b.response(r);
    });
    grant("baseline-for-the-second-login", "alice", [&] {
        auto r = b.spec();
        r.in_response_to = r.assertion.confirmation_in_response_to = b.live().r2;
        return b.response(r);
    })->cookie = "second";

    // --- signature wrapping: the eight published shapes (Somorovsky et al. 2012) and cousins ---
    // XSW1: an evil Response carries the original's signature; the original sits inside that Signature.
    deny("xsw1-evil-response-original-inside-signature", "SAML0210", [&] {
        auto r = b.spec();
        r.sign_assertion = false;
        const std::string original = strip_declaration(response_xml(r));
        const std::string sig = between(original, "<ds:Signature", "</ds:Signature>");
        const std::string carried =
            replace_once(sig, "</ds:Signature>", "<ds:Object>" + replace_once(original, sig, "") + "</ds:Object></ds:Signature>");
        std::string evil = b.envelope(assertion_xml(b.evil()));
        return b.b64(replace_once(evil, "</saml:Issuer>", "</saml:Issuer>" + carried));
    });
    // XSW2: the same, the original Response placed before the copied signature (detached).
    deny("xsw2-evil-response-original-beside-signature", "SAML0217", [&] {
        auto r = b.spec();
        r.sign_assertion = false;
        const std::string original = strip_declaration(response_xml(r));
        const std::string sig = between(original, "<ds:Signature", "</ds:Signature>");
        std::string evil = b.envelope(assertion_xml(b.evil()));
        return b.b64(replace_once(evil, "</saml:Issuer>",
                                  "</saml:Issuer><samlp:Extensions>" + replace_once(original, sig, "") + "</samlp:Extensions>" +
                                      sig));
    });
    // XSW3: an unsigned evil assertion before the signed one.
    deny("xsw3-evil-assertion-before-signed", "SAML0241", [&] {
        return b.b64(b.envelope(assertion_xml(b.evil()) + b.signed_assertion(b.assertion())));
    });
    deny("xsw3-evil-assertion-after-signed", "SAML0241", [&] {
        return b.b64(b.envelope(b.signed_assertion(b.assertion()) + assertion_xml(b.evil())));
    });
    deny("xsw3-evil-assertion-same-id-before-signed", "SAML0205", [&] {
        const auto good = b.assertion();
        auto evil = b.evil();
        evil.id = good.id;
        return b.b64(b.envelope(assertion_xml(evil) + b.signed_assertion(good)));
    });
    // XSW4: the signed assertion inside the evil one.
    deny("xsw4-signed-assertion-inside-evil-one", "SAML0245", [&] {
        std::string evil = assertion_xml(b.evil());
        return b.b64(b.envelope(replace_once(evil, "</saml:Assertion>",
                                             "<saml:Advice>" + b.signed_assertion(b.assertion()) + "</saml:Advice></saml:Assertion>")));
    });
    deny("xsw4-signed-assertion-inside-evil-subject", "SAML0245", [&] {
        std::string evil = assertion_xml(b.evil());
        return b.b64(b.envelope(replace_once(evil, "</saml:Subject>", b.signed_assertion(b.assertion()) + "</saml:Subject>")));
    });
    // XSW5: the signature copied onto the evil assertion; the original (unsigned now) after it.
    deny("xsw5-signature-on-evil-original-after", "SAML0241", [&] {
        const std::string good = b.signed_assertion(b.assertion());
        const std::string sig = between(good, "<ds:Signature", "</ds:Signature>");
        std::string evil = replace_once(assertion_xml(b.evil()), "</saml:Issuer>", "</saml:Issuer>" + sig);
        return b.b64(b.envelope(evil + replace_once(good, sig, "")));
    });
    // XSW6: the signature on the evil assertion, the original inside that signature's Object.
    deny("xsw6-signature-on-evil-original-in-object", "SAML0210", [&] {
        const std::string good = b.signed_assertion(b.assertion());
        const std::string sig = between(good, "<ds:Signature", "</ds:Signature>");
        const std::string carried =
            replace_once(sig, "</ds:Signature>", "<ds:Object>" + replace_once(good, sig, "") + "</ds:Object></ds:Signature>");
        return b.b64(b.envelope(replace_once(assertion_xml(b.evil()), "</saml:Issuer>", "</saml:Issuer>" + carried)));
    });
    // XSW7: the signed assertion moved into Extensions, an unsigned evil one in its place.
    deny("xsw7-signed-assertion-in-extensions", "SAML0245", [&] {
        std::string xml = b.envelope(assertion_xml(b.evil()));
        return b.b64(replace_once(xml, "<samlp:Status>",
                                  "<samlp:Extensions>" + b.signed_assertion(b.assertion()) + "</samlp:Extensions><samlp:Status>"));
    });
    // XSW8: the original (signature removed) in a ds:Object of its own signature, which sits in the evil assertion.
    deny("xsw8-original-in-object-of-signature-in-evil", "SAML0210", [&] {
        const std::string good = b.signed_assertion(b.assertion());
        const std::string sig = between(good, "<ds:Signature", "</ds:Signature>");
        const std::string carried =
            replace_once(sig, "</ds:SignatureValue>", "</ds:SignatureValue><ds:Object>" + replace_once(good, sig, "") + "</ds:Object>");
        return b.b64(b.envelope(replace_once(assertion_xml(b.evil()), "</saml:Issuer>", "</saml:Issuer>" + carried)));
    });
    deny("wrap-evil-response-takes-signed-response-id", "SAML0205", [&] {
        auto r = b.spec();
        r.sign_assertion = false;
        const std::string original = strip_declaration(response_xml(r));
        const std::string sig = between(original, "<ds:Signature", "</ds:Signature>");
        std::string evil = b.envelope(assertion_xml(b.evil()), r.id);
        evil = replace_once(evil, "</saml:Issuer>", "</saml:Issuer>" + sig);
        return b.b64(replace_once(evil, "<samlp:Status>",
                                  "<samlp:Extensions>" + replace_once(original, sig, "") + "</samlp:Extensions><samlp:Status>"));
    });
    deny("wrap-evil-assertion-inside-signed-assertion", "SAML0224", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, "</saml:Subject>",
                                             "</saml:Subject><saml:Advice>" + assertion_xml(b.evil()) + "</saml:Advice>")));
    });
    deny("wrap-evil-assertion-in-advice-beside-signed", "SAML0241", [&] {
        // The signed assertion is genuine; an Advice-like second assertion beside it is not one more chance.
        return b.b64(b.envelope(b.signed_assertion(b.assertion()) + assertion_xml(b.evil())));
    });
    deny("wrap-signed-response-assertion-replaced", "SAML0224", [&] {
        auto r = b.spec();
        r.sign_assertion = false;
        const std::string xml = response_xml(r);
        return b.b64(replace_once(xml, between(xml, "<saml:Assertion", "</saml:Assertion>"), assertion_xml(b.evil())));
    });
    deny("wrap-signature-not-a-direct-child", "SAML0245", [&] {
        std::string good = b.signed_assertion(b.assertion());
        const std::string sig = between(good, "<ds:Signature", "</ds:Signature>");
        good = replace_once(good, sig, "");
        return b.b64(b.envelope(replace_once(good, "</saml:Subject>", sig + "</saml:Subject>")));
    });

    // --- signatures: missing, stripped, emptied, corrupted, forged ---
    deny("unsigned-response-and-assertion", "SAML0245", [&] {
        auto r = b.spec();
        r.sign_response = r.sign_assertion = false;
        return b.response(r);
    });
    deny("signature-stripped", "SAML0245", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, between(good, "<ds:Signature", "</ds:Signature>"), "")));
    });
    deny("signature-value-emptied", "SAML0222", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, between(good, "<ds:SignatureValue>", "</ds:SignatureValue>"),
                                             "<ds:SignatureValue></ds:SignatureValue>")));
    });
    deny("signature-value-corrupted", "SAML0222", [&] {
        std::string good = b.signed_assertion(b.assertion());
        const std::string value = between(good, "<ds:SignatureValue>", "</ds:SignatureValue>");
        std::string bad = value;
        bad[40] = bad[40] == 'A' ? 'B' : 'A';
        return b.b64(b.envelope(replace_once(good, value, bad)));
    });
    deny("signed-content-edited", "SAML0224", [&] {
        auto r = b.spec();
        r.sign_assertion = false;
        return b.b64(replace_once(response_xml(r), ">alice<", ">admin<"));
    });
    deny("attacker-key-with-its-certificate-in-keyinfo", "SAML0222", [&] {
        const auto a = b.evil();
        return b.b64(b.envelope(strip_declaration(sign_element(assertion_xml(a), a.id, "attacker"))));
    });
    deny("attacker-signed-response-and-assertion", "SAML0222", [&] {
        auto r = b.spec();
        r.assertion.name_id = "admin";
        r.signing_key = "attacker";
        return b.response(r);
    });
    deny("attacker-raw-key-in-keyinfo", "SAML0222", [&] {
        const auto a = b.evil();
        std::string forged = strip_declaration(sign_element(assertion_xml(a), a.id, "attacker"));
        return b.b64(b.envelope(replace_once(forged, between(forged, "<ds:KeyInfo>", "</ds:KeyInfo>"),
                                             "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AQAB</ds:Modulus>"
                                             "<ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue></ds:KeyInfo>")));
    });
    deny("retrieval-method-pointing-outside", "SAML0222", [&] {
        const auto a = b.evil();
        std::string forged = strip_declaration(sign_element(assertion_xml(a), a.id, "attacker"));
        return b.b64(b.envelope(replace_once(forged, between(forged, "<ds:KeyInfo>", "</ds:KeyInfo>"),
                                             "<ds:KeyInfo><ds:RetrievalMethod URI=\"" + b.live().base + "/attacker-key.pem\" "
                                             "Type=\"http://www.w3.org/2000/09/xmldsig#X509Data\"/></ds:KeyInfo>")));
    });
    grant("retrieval-method-beside-a-genuine-signature-is-ignored", "alice", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, between(good, "<ds:KeyInfo>", "</ds:KeyInfo>"),
                                             "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://127.0.0.1:1/x\"/></ds:KeyInfo>")));
    });
    auto method_swap = [&](const std::string& method) {
        return [&b, method] {
            std::string good = b.signed_assertion(b.assertion());
            return b.b64(b.envelope(replace_once(good, between(good, "<ds:SignatureMethod", "/>"), method)));
        };
    };
    deny("signature-method-hmac-sha256", "SAML0215",
         method_swap("<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256\"/>"));
    deny("signature-method-hmac-sha1-truncated", "SAML0214",
         method_swap("<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\">"
                     "<ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>"));
    deny("signature-method-dsa-sha1", "SAML0215",
         method_swap("<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#dsa-sha1\"/>"));
    deny("signature-method-rsa-md5", "SAML0215",
         method_swap("<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-md5\"/>"));
    deny("signature-rsa-sha1-really-signed", "SAML0215", [&] {
        auto r = b.spec();
        r.signature_algorithm = algorithm::rsa_sha1;
        return b.response(r);
    });
    auto transforms_swap = [&](const std::string& transforms) {
        return [&b, transforms] {
            std::string good = b.signed_assertion(b.assertion());
            return b.b64(b.envelope(replace_once(good, between(good, "<ds:Transforms>", "</ds:Transforms>"), transforms)));
        };
    };
    deny("transform-xslt", "SAML0218",
         transforms_swap("<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\">"
                         "<xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">"
                         "<xsl:template match=\"/\"><xsl:copy-of select=\"document('file:///etc/passwd')\"/></xsl:template>"
                         "</xsl:stylesheet></ds:Transform></ds:Transforms>"));
    deny("transform-xpath", "SAML0218",
         transforms_swap("<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">"
                         "<ds:XPath>not(ancestor-or-self::saml:NameID)</ds:XPath></ds:Transform></ds:Transforms>"));
    deny("transform-xpath-filter2", "SAML0218",
         transforms_swap("<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\">"
                         "<dsig-xpath:XPath xmlns:dsig-xpath=\"http://www.w3.org/2002/06/xmldsig-filter2\" "
                         "Filter=\"subtract\">//saml:NameID</dsig-xpath:XPath></ds:Transform></ds:Transforms>"));
    // #WithComments is allowed; dropping enveloped-signature makes the digest cover the Signature.
    deny("transform-c14n-with-comments-without-enveloped", "SAML0224",
         transforms_swap("<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"/>"
                         "</ds:Transforms>"));
    deny("canonicalization-switched-to-with-comments-after-signing", "SAML0222", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
                                             "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"")));
    });
    deny("several-references", "SAML0216", [&] {
        std::string good = b.signed_assertion(b.assertion());
        const std::string ref = between(good, "<ds:Reference", "</ds:Reference>");
        return b.b64(b.envelope(replace_once(good, ref, ref + ref)));
    });
    auto uri_swap = [&](const std::string& uri) {
        return [&b, uri] {
            const auto a = b.assertion();
            return b.b64(b.envelope(replace_once(b.signed_assertion(a), "URI=\"#" + a.id + "\"", "URI=\"" + uri + "\""),
                                    "_evil-response-id"));
        };
    };
    deny("reference-to-another-id", "SAML0217", uri_swap("#_evil-response-id"));
    deny("reference-empty-uri", "SAML0217", uri_swap(""));
    deny("reference-external-uri", "SAML0217", uri_swap(b.live().base + "/assertion.xml"));
    deny("reference-xpointer-uri", "SAML0217", uri_swap("#xpointer(/)"));
    deny("two-signed-info", "SAML0211", [&] {
        std::string good = b.signed_assertion(b.assertion());
        const std::string si = between(good, "<ds:SignedInfo>", "</ds:SignedInfo>");
        return b.b64(b.envelope(replace_once(good, si, si + si)));
    });
    deny("digest-hidden-in-comment", "SAML0224", [&] {
        std::string good = b.signed_assertion(b.assertion());
        const std::string digest = between(good, "<ds:DigestValue>", "</ds:DigestValue>");
        good = replace_once(good, digest, "<ds:DigestValue><!--" + digest.substr(17, digest.size() - 35) + "-->AAAA</ds:DigestValue>");
        return b.b64(b.envelope(good));
    });
    deny("two-signatures-on-one-assertion", "SAML0209", [&] {
        std::string good = b.signed_assertion(b.assertion());
        const std::string sig = between(good, "<ds:Signature", "</ds:Signature>");
        return b.b64(b.envelope(replace_once(good, sig, sig + sig)));
    });

    deny("signature-method-ecdsa-on-an-rsa-signature", "SAML0222",
         method_swap("<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>"));
    deny("signature-value-not-base64", "SAML0110", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, between(good, "<ds:SignatureValue>", "</ds:SignatureValue>"),
                                             "<ds:SignatureValue>!!!*not base64*!!!</ds:SignatureValue>")));
    });
    deny("signature-value-huge", "SAML0102", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, between(good, "<ds:SignatureValue>", "</ds:SignatureValue>"),
                                             "<ds:SignatureValue>" + std::string(100000, 'A') + "</ds:SignatureValue>")));
    });
    deny("digest-value-not-base64", "SAML0110", [&] {
        std::string good = b.signed_assertion(b.assertion());
        return b.b64(b.envelope(replace_once(good, between(good, "<ds:DigestValue>", "</ds:DigestValue>"),
                                             "<ds:DigestValue>!!!*</ds:DigestValue>")));
    });
    deny("reference-without-uri", "SAML0217", [&] {
        const auto a = b.assertion();
        return b.b64(b.envelope(replace_once(b.signed_assertion(a), " URI=\"#" + a.id + "\"", "")));
    });
    deny("many-references", "SAML0216", [&] {
        std::string good = b.signed_assertion(b.assertion());
        const std::string ref = between(good, "<ds:Reference", "</ds:Reference>");
        std::string many;
        for (int i = 0; i < 200; ++i) many += ref;
        return b.b64(b.envelope(replace_once(good, ref, many)));
    });
    deny("many-assertions", "SAML0241", [&] {
        std::string many;
        for (int i = 0; i < 100; ++i) many += assertion_xml(b.evil());
        return b.b64(b.envelope(b.signed_assertion(b.assertion()) + many));
    });
    grant("utf16-encoded-response", "alice", [&] {
        const std::string xml = strip_declaration(response_xml(b.spec()));
        const std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>";
        std::string out = "\xff\xfe";
        for (const char ch : decl + xml) {
            out += ch;
            out += '\0';
        }
        return b.b64(out);
    });
    grant("latin1-encoded-response", "Zo\xc3\xab", [&] {
        auto r = b.spec();
        r.assertion.name_id = "Zo\xc3\xab";
        std::string xml = replace_once(strip_declaration(response_xml(r)), ">Zo\xc3\xab<", ">Zo\xeb<");
        return b.b64("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + xml);
    });

    // --- text splitting (CVE-2017-11427 class): the signature stays valid, the value must be whole ---
    const std::string long_name = "admin@example.com.evil.com";
    auto split_name_id = [&](const std::string& split) {
        return [&b, split, long_name] {
            auto a = b.assertion(long_name);
            return b.b64(b.envelope(replace_once(b.signed_assertion(a), ">" + long_name + "<", ">" + split + "<")));
        };
    };
    grant("nameid-split-by-comment", long_name, split_name_id("admin@example.com<!---->.evil.com"));
    grant("nameid-split-by-cdata", long_name, split_name_id("admin@example.com<![CDATA[.evil.com]]>"));
    grant("nameid-split-by-character-references", long_name, split_name_id("admin@example&#46;com&#x2E;evil.com"));
    grant("nameid-split-by-comment-and-cdata", long_name, split_name_id("admin<!-- x -->@example.com<![CDATA[]]>.evil.com"));
    auto split_attribute = [&](const std::string& split) {
        return [&b, split, long_name] {
            auto a = b.assertion("someone-else");
            a.attributes = {{"urn:oid:0.9.2342.19200300.100.1.1", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "uid",
                             {long_name}}};
            return b.b64(b.envelope(replace_once(b.signed_assertion(a), ">" + long_name + "<", ">" + split + "<")));
        };
    };
    grant("user-attribute-split-by-comment", long_name, split_attribute("admin@example.com<!---->.evil.com"))->check =
        "/mapped/env.cgi";
    grant("user-attribute-split-by-cdata", long_name, split_attribute("admin@example.com<![CDATA[.evil.com]]>"))->check =
        "/mapped/env.cgi";
    grant("user-attribute-split-by-character-references", long_name,
          split_attribute("admin@example&#46;com&#x2E;evil.com"))->check = "/mapped/env.cgi";

    // --- exclusive c14n #WithComments (SAML core 5.4.3/5.4.4), signed by xmlsec as IdPs do:
    // SignedInfo's comments are signed, the "#ID" Reference's content comments are not
    // (XMLDSig 4.4.3.3), and a value split by one is still read whole ---
    grant("c14n-with-comments-response-and-assertion", "alice", [&] { return b.b64(b.with_comments(b.assertion())); });
    grant("c14n-with-comments-nameid-split-by-comment", long_name, [&b, long_name] {
        return b.b64(replace_once(b.with_comments(b.assertion(long_name)), ">" + long_name + "<",
                                  ">admin@example.com<!-- -->.evil.com<"));
    });
    grant("c14n-with-comments-content-comment-edited", "alice", [&] {
        return b.b64(replace_once(b.with_comments(b.assertion(), "<!-- idp -->"), "<!-- idp -->", "<!-- edited -->"));
    });
    deny("c14n-with-comments-signed-info-comment-edited", "SAML0222", [&] {
        return b.b64(replace_once(b.with_comments(b.assertion()), "<!--response signed-info-->", "<!--edited-->"));
    });
    deny("c14n-with-comments-signed-info-comment-removed", "SAML0222", [&] {
        return b.b64(replace_once(b.with_comments(b.assertion()), "<!--response signed-info-->", ""));
    });
    deny("c14n-with-comments-content-edited", "SAML0224",
         [&] { return b.b64(replace_once(b.with_comments(b.assertion()), ">alice<", ">admin<")); });
    deny("reference-xpointer-id-form-that-keeps-comments", "SAML0217", [&] {
        const auto a = b.assertion();
        return b.b64(b.envelope(replace_once(b.signed_assertion(a), "URI=\"#" + a.id + "\"",
                                             "URI=\"#xpointer(id('" + a.id + "'))\"")));
    });

    // --- parser tricks ---
    auto with_prolog = [&](const std::string& prolog) {
        return [&b, prolog] { return b.b64(prolog + strip_declaration(response_xml(b.spec()))); };
    };
    deny("doctype-internal-entity", "SAML0103", with_prolog("<!DOCTYPE samlp:Response [<!ENTITY u 'admin'>]>"));
    deny("doctype-external-entity", "SAML0103",
         with_prolog("<!DOCTYPE samlp:Response [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"));
    deny("doctype-parameter-entity", "SAML0103",
         with_prolog("<!DOCTYPE samlp:Response [<!ENTITY % p SYSTEM 'http://127.0.0.1:1/evil.dtd'> %p;]>"));
    deny("doctype-external-dtd", "SAML0103", with_prolog("<!DOCTYPE samlp:Response SYSTEM 'http://127.0.0.1:1/evil.dtd'>"));
    deny("doctype-plain", "SAML0103", with_prolog("<!DOCTYPE samlp:Response>"));
    deny("doctype-billion-laughs", "SAML0103", [&] {
        std::string dtd = "<?xml version=\"1.0\"?><!DOCTYPE samlp:Response [<!ENTITY l0 'lol'>";
        for (int i = 1; i <= 9; ++i) {
            std::string ten;
            for (int k = 0; k < 10; ++k) ten += "&l" + std::to_string(i - 1) + ";";
            dtd += "<!ENTITY l" + std::to_string(i) + " '" + ten + "'>";
        }
        const std::string xml = strip_declaration(response_xml(b.spec()));
        return b.b64(dtd + "]>" +
                     replace_once(xml, "</samlp:Response>", "<samlp:Extensions>&l9;</samlp:Extensions></samlp:Response>"));
    });
    deny("entity-reference-without-doctype", "SAML0104", [&] {
        return b.b64(replace_once(b.envelope(b.signed_assertion(b.assertion())), "<samlp:Status>",
                                  "<samlp:Extensions>&xxe;</samlp:Extensions><samlp:Status>"));
    });
    grant("xinclude-is-inert", "alice", [&] {
        return b.b64(replace_once(b.envelope(b.signed_assertion(b.assertion())), "<samlp:Status>",
                                  "<samlp:Extensions><xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
                                  "href=\"file:///etc/passwd\" parse=\"text\"/></samlp:Extensions><samlp:Status>"));
    });
    deny("xinclude-in-place-of-the-assertion", "SAML0240", [&] {
        return b.b64(b.envelope("<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" href=\"" + b.live().base +
                                "/evil-assertion.xml\"/>"));
    });

    // --- the rules after the signature: time, audience, destination, recipient, correlation ---
    auto with = [&](std::function<void(ResponseSpec&)> change) {
        return [&b, change] {
            auto r = b.spec();
            change(r);
            return b.response(r);
        };
    };
    deny("assertion-expired", "SAML0252", with([](ResponseSpec& r) { r.assertion.not_on_or_after_offset = std::chrono::seconds(-120); }));
    deny("assertion-not-yet-valid", "SAML0251", with([](ResponseSpec& r) { r.assertion.not_before_offset = std::chrono::seconds(600); }));
    deny("confirmation-data-stale", "SAML0249", with([](ResponseSpec& r) { r.assertion.confirmation_lifetime = std::chrono::seconds(-120); }));
    deny("audience-wrong", "SAML0253", with([](ResponseSpec& r) { r.assertion.audience = "https://other-sp.example/saml/metadata"; }));
    deny("audience-missing", "SAML0253", with([](ResponseSpec& r) { r.assertion.include_audience = false; }));
    deny("conditions-missing", "SAML0250", with([](ResponseSpec& r) { r.assertion.include_conditions = false; }));
    deny("destination-wrong-on-signed-response", "SAML0237",
         with([](ResponseSpec& r) { r.destination = "https://other-sp.example/saml/acs"; }));
    deny("destination-missing-on-signed-response", "SAML0237", with([](ResponseSpec& r) { r.destination.clear(); }));
    deny("recipient-wrong", "SAML0249", with([](ResponseSpec& r) { r.assertion.recipient = "https://other-sp.example/saml/acs"; }));
    deny("holder-of-key-confirmation", "SAML0249",
         with([](ResponseSpec& r) { r.assertion.confirmation_method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"; }));
    deny("in-response-to-mismatch-in-response", "SAML0238", with([](ResponseSpec& r) { r.in_response_to = "_not-our-request"; }));
    deny("in-response-to-mismatch-in-confirmation", "SAML0249",
         with([](ResponseSpec& r) { r.assertion.confirmation_in_response_to = "_not-our-request"; }));
    deny("unsolicited-when-not-allowed", "SAML0239", with([](ResponseSpec& r) {
        r.in_response_to.clear();
        r.assertion.confirmation_in_response_to.clear();
    }));
    deny("issuer-wrong-on-response", "SAML0234", with([](ResponseSpec& r) { r.issuer = "https://evil.example/idp"; }));
    deny("issuer-wrong-on-assertion", "SAML0234", with([](ResponseSpec& r) { r.assertion.issuer = "https://evil.example/idp"; }));
    deny("status-not-success-with-assertion", "SAML0236",
         with([](ResponseSpec& r) { r.status = "urn:oasis:names:tc:SAML:2.0:status:Responder"; }));
    deny("no-assertion", "SAML0240", with([](ResponseSpec& r) { r.include_assertion = false; }));
    deny("session-not-on-or-after-in-the-past", "SAML0256",
         with([](ResponseSpec& r) { r.assertion.session_lifetime = std::chrono::seconds(-120); }));
    deny("no-authn-statement", "SAML0255", with([](ResponseSpec& r) { r.assertion.include_authn_statement = false; }));
    deny("no-name-id", "SAML0257", with([](ResponseSpec& r) { r.assertion.include_name_id = false; }));
    deny("unknown-condition", "SAML0254", with([](ResponseSpec& r) {
        r.assertion.extra_conditions = "<saml:Condition xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                                       "xmlns:evil=\"urn:evil\" xsi:type=\"evil:AlwaysTrue\"/>";
    }));
    deny("assertion-id-equals-response-id", "SAML0205", [&] {
        const auto a = b.assertion();
        return b.b64(b.envelope(b.signed_assertion(a), a.id));
    });
    deny("version-not-2-0", "SAML0230", [&] {
        return b.b64(replace_once(b.envelope(b.signed_assertion(b.assertion())), "Version=\"2.0\"", "Version=\"1.1\""));
    });
    deny("second-audience-restriction-not-ours", "SAML0253", with([](ResponseSpec& r) {
        r.assertion.extra_conditions =
            "<saml:AudienceRestriction><saml:Audience>https://other-sp.example/saml/metadata</saml:Audience>"
            "</saml:AudienceRestriction>";
    }));
    deny("in-response-to-differs-between-response-and-assertion", "SAML0249",
         with([&b](ResponseSpec& r) { r.assertion.confirmation_in_response_to = b.live().r2; }));
    deny("destination-with-trailing-slash", "SAML0237", with([](ResponseSpec& r) { r.destination += "/"; }));
    deny("destination-with-query", "SAML0237", with([](ResponseSpec& r) { r.destination += "?acs"; }));
    deny("destination-other-scheme", "SAML0237",
         with([](ResponseSpec& r) { r.destination.replace(0, 5, "http"); }));
    deny("recipient-with-trailing-slash", "SAML0249", with([](ResponseSpec& r) { r.assertion.recipient += "/"; }));
    deny("status-responder-with-success-inside", "SAML0236", [&] {
        auto r = b.spec();
        r.sign_response = false;
        return b.b64(replace_once(response_xml(r), "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>",
                                  "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\">"
                                  "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:StatusCode>"));
    });
    // SAML core 1.3.1: a user id needs one visible character.
    deny("name-id-empty", "SAML1051", with([](ResponseSpec& r) { r.assertion.name_id.clear(); }));
    deny("name-id-only-spaces", "SAML1051", with([](ResponseSpec& r) { r.assertion.name_id = "   "; }));
    deny("name-id-no-break-spaces", "SAML1051", with([](ResponseSpec& r) { r.assertion.name_id = "\xc2\xa0\xc2\xa0"; }));
    deny("name-id-zero-width-space", "SAML1051", with([](ResponseSpec& r) { r.assertion.name_id = "\xe2\x80\x8b"; }));
    deny("name-id-ideographic-space-and-cdata", "SAML1051", [&] {
        const auto a = b.assertion("placeholder");
        const std::string xml = replace_once(assertion_xml(a), ">placeholder<", "><![CDATA[ ]]>\xe3\x80\x80<!-- -->\n<");
        return b.b64(b.envelope(strip_declaration(sign_element(xml, a.id, "idp-rsa"))));
    });
    // The user attribute of a directory (SAMLUserAttribute uid at /mapped) blank: the login
    // stands on the NameID, but no one is that blank uid (test_hostile checks /mapped).
    grant("user-attribute-blank", "alice", with([](ResponseSpec& r) {
        r.assertion.attributes = {{"urn:oid:0.9.2342.19200300.100.1.1", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "uid",
                                   {" \xc2\xa0 "}}};
    }));
    // No NameID Format and no SessionIndex (both optional), but attributes named like the
    // variables those would fill: the module leaves SAML_NAME_ID_FORMAT and SAML_SESSION_INDEX
    // unset rather than let the attributes stand in for them (test_hostile checks the export).
    grant("optional-module-variables-named-by-attributes", "alice", with([](ResponseSpec& r) {
        r.assertion.name_id_format.clear();
        r.assertion.session_index.clear();
        const std::string basic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
        r.assertion.attributes = {{"NAME_ID_FORMAT", basic, "", {"urn:forged"}},
                                  {"SESSION_INDEX", basic, "", {"forged-index"}}};
    }));
    // SAML profiles 4.1.4.2: a signed Response carries its own Issuer.
    deny("signed-response-without-issuer", "SAML1050", with([](ResponseSpec& r) { r.include_issuer = false; }));
    deny("signed-response-with-empty-issuer", "SAML1050", with([](ResponseSpec& r) { r.issuer.clear(); }));
    deny("signed-response-without-issuer-assertion-unsigned", "SAML1050", with([](ResponseSpec& r) {
        r.include_issuer = false;
        r.sign_assertion = false;
    }));
    grant("unsigned-response-without-issuer-signed-assertion", "alice", with([](ResponseSpec& r) {
        r.include_issuer = false;
        r.sign_response = false;
    }));
    deny("markup-inside-name-id", "SAML0108", [&] {
        const auto a = b.assertion();
        const std::string xml = replace_once(assertion_xml(a), ">alice<", "><saml:Attribute Name=\"x\"/>alice<");
        return b.b64(b.envelope(strip_declaration(sign_element(xml, a.id, "idp-rsa"))));
    });
    deny("newline-in-name-id", "SAML0257", with([](ResponseSpec& r) { r.assertion.name_id = "alice\nadmin"; }));
    deny("tab-in-name-id", "SAML0257", with([](ResponseSpec& r) { r.assertion.name_id = "alice\tadmin"; }));
    deny("deep-nesting-beyond-the-parser-limit", "SAML0104", [&] {
        std::string open, close;
        for (int i = 0; i < 5000; ++i) {
            open += "<x>";
            close += "</x>";
        }
        return b.b64(replace_once(b.envelope(b.signed_assertion(b.assertion())), "<samlp:Status>",
                                  "<samlp:Extensions>" + open + close + "</samlp:Extensions><samlp:Status>"));
    });
    deny("deep-nesting", "SAML0105", [&] {
        std::string open, close;
        for (int i = 0; i < 200; ++i) {
            open += "<x>";
            close += "</x>";
        }
        return b.b64(replace_once(b.envelope(b.signed_assertion(b.assertion())), "<samlp:Status>",
                                  "<samlp:Extensions>" + open + close + "</samlp:Extensions><samlp:Status>"));
    });
    deny("session-too-large-for-the-cookie-budget", "SAML0834", with([](ResponseSpec& r) {
        Attribute big{"bigAttribute", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", "", {}};
        for (int i = 0; i < 150; ++i) big.values.push_back(std::string(1000, static_cast<char>('a' + i % 26)));
        r.assertion.attributes = {big};
    }));
    deny("response-for-another-browser", "SAML0238", with([](ResponseSpec&) {}))->cookie = "none";

    // --- transport: base64, size, root ---
    deny("base64-bad", "SAML0110", [] { return std::string("!!!not*base64***"); });
    deny("base64-truncated", "SAML0110", [&] {
        const std::string good = b.response(b.spec());
        return good.substr(0, good.size() / 2 + 1);
    });
    deny("base64-empty", "SAML0832", [] { return std::string(); });
    deny("not-xml", "SAML0104", [&] { return b.b64("this is not XML at all"); });
    deny("xml-truncated", "SAML0104", [&] {
        const std::string xml = response_xml(b.spec());
        return b.b64(xml.substr(0, xml.size() / 2));
    });
    deny("wrong-root", "SAML0230", [&] {
        return b.b64(replace_once(replace_once(b.envelope(b.signed_assertion(b.assertion())), "<samlp:Response ",
                                               "<samlp:ArtifactResponse "),
                                  "</samlp:Response>", "</samlp:ArtifactResponse>"));
    });
    deny("ten-megabytes", "SAML0831", [&] {
        const std::string xml = response_xml(b.spec());
        return b.b64(replace_once(xml, "</samlp:Response>",
                                  "<samlp:Extensions>" + std::string(10 * 1024 * 1024, 'A') + "</samlp:Extensions></samlp:Response>"));
    });

    // --- encryption ---
    deny("encrypted-to-the-wrong-key", "SAML0265", with([](ResponseSpec& r) {
        r.encrypt = true;
        r.encryption.recipient_cert = "attacker";
    }));
    deny("encrypted-unsigned-inside-unsigned", "SAML0245", with([](ResponseSpec& r) {
        r.encrypt = true;
        r.sign_response = r.sign_assertion = false;
    }));
    // Several EncryptedKeys, one per recipient (SAML core 2.2.4), in either place SAML allows.
    // Legacy algorithms, refused unless the SP opts in (SAMLAllowTripleDES, SAMLAllowRSA15): the
    // refusal's line names the directive. The unsolicited one is what test_hostile posts to the
    // SP that has opted in (and takes unsolicited Responses), where it must log in.
    deny("encrypted-with-3des-cbc", "SAML0264", with([](ResponseSpec& r) {
        r.encrypt = true;
        r.encryption.data_algorithm = algorithm::tripledes_cbc;
    }));
    deny("encrypted-with-rsa-1-5-key-transport", "SAML0262", with([](ResponseSpec& r) {
        r.encrypt = true;
        r.encryption.key_transport = algorithm::rsa_1_5;
    }));
    deny("unsolicited-encrypted-with-3des-cbc", "SAML0239", with([](ResponseSpec& r) {
        r.in_response_to.clear();
        r.assertion.confirmation_in_response_to.clear();
        r.encrypt = true;
        r.encryption.data_algorithm = algorithm::tripledes_cbc;
    }));
    auto encrypted_for = [&](std::vector<std::pair<std::string, std::string>> others, std::string ours, bool beside,
                             std::string recipient_cert = "sp-encryption") {
        return with([others, ours, beside, recipient_cert](ResponseSpec& r) {
            r.encrypt = true;
            r.encryption.other_recipients = others;
            r.encryption.key_recipient = ours;
            r.encryption.key_beside_data = beside;
            r.encryption.recipient_cert = recipient_cert;
        });
    };
    const std::string other_sp = "https://other-sp.example/saml/metadata";
    grant("encrypted-several-recipients-ours-named", "alice",
          encrypted_for({{"attacker", other_sp}, {"sp-signing", "https://third.example/sp"}}, b.live().sp_entity, false));
    grant("encrypted-several-recipients-beside-the-data", "alice",
          encrypted_for({{"attacker", other_sp}}, b.live().sp_entity, true));
    grant("encrypted-several-recipients-none-named", "alice", encrypted_for({{"attacker", ""}, {"sp-signing", ""}}, "", true));
    grant("encrypted-recipient-is-a-hint-not-a-proof", "alice", encrypted_for({{"attacker", b.live().sp_entity}}, other_sp, false));
    grant("encrypted-key-beside-data-named-by-retrieval-method", "alice", with([&b](ResponseSpec& r) {
        r.encrypt = true;
        r.encryption.key_beside_data = true;
        r.encryption.data_key_info = "<ds:RetrievalMethod URI=\"" + b.live().base +
                                     "/saml/metadata\" Type=\"http://www.w3.org/2001/04/xmlenc#EncryptedKey\"/>"
                                     "<ds:KeyName>sp</ds:KeyName>";
    }));
    deny("encrypted-several-recipients-none-ours", "SAML0265",
         encrypted_for({{"attacker", b.live().sp_entity}}, b.live().sp_entity, false, "sp-signing"));
    deny("encrypted-seventeen-keys", "SAML1052",
         encrypted_for(std::vector<std::pair<std::string, std::string>>(16, {"attacker", ""}), "", true));
    deny("encrypted-key-only-by-retrieval-method", "SAML0266", [&] {
        auto r = b.spec();
        r.sign_response = false;  // the key is cut out after encryption; the assertion inside is signed
        r.encrypt = true;
        r.encryption.key_beside_data = true;
        r.encryption.data_key_info = "<ds:RetrievalMethod URI=\"" + b.live().base +
                                     "/saml/metadata\" Type=\"http://www.w3.org/2001/04/xmlenc#EncryptedKey\"/>";
        std::string xml = response_xml(r);
        const auto start = xml.find("<xenc:EncryptedKey");
        return b.b64(xml.erase(start, xml.find("</xenc:EncryptedKey>") + 20 - start));
    });
    deny("encrypted-evil-beside-signed-plain", "SAML0241", [&] {
        return b.b64(b.envelope(b.signed_assertion(b.assertion()) +
                                encrypt_element(assertion_xml(b.evil()), "EncryptedAssertion", default_encryption())));
    });

    // --- Redirect-binding LogoutRequest to /saml/sls ---
    auto sls = [&](std::string name, std::string expect, std::string code, std::function<std::string()> body) {
        Case c;
        c.name = std::move(name);
        c.endpoint = "sls";
        c.expect = std::move(expect);
        c.code = std::move(code);
        c.body = std::move(body);
        cases.push_back(std::move(c));
    };
    sls("logout-request-signed-baseline", "redirect:idp", "", [&] { return b.redirect(b.logout_request_xml(), true); });
    sls("logout-request-params-reordered-still-verify", "redirect:idp", "", [&] {
        const std::string q = b.redirect(b.logout_request_xml(), true);
        return query_param(q, "Signature") + "&" + query_param(q, "SigAlg") + "&" + query_param(q, "RelayState") + "&" +
               query_param(q, "SAMLRequest");
    });
    sls("logout-request-unsigned", "deny", "SAML0708", [&] { return b.redirect(b.logout_request_xml(), true, ""); });
    sls("logout-request-signature-stripped", "deny", "SAML0709",
        [&] { return drop_param(b.redirect(b.logout_request_xml(), true), "Signature"); });
    sls("logout-request-sigalg-stripped", "deny", "SAML0704",
        [&] { return drop_param(b.redirect(b.logout_request_xml(), true), "SigAlg"); });
    sls("logout-request-signature-over-reordered-octets", "deny", "SAML0707", [&] {
        const std::string unsigned_query = b.redirect(b.logout_request_xml(), true, "");
        const auto alg = find_signature_algorithm(algorithm::rsa_sha256);
        const std::string sig_alg = "SigAlg=" + url_encode(algorithm::rsa_sha256);
        const std::string octets = query_param(unsigned_query, "RelayState") + "&" + sig_alg + "&" +
                                   query_param(unsigned_query, "SAMLRequest");
        return octets + "&Signature=" + url_encode(base64_encode(sign_bytes(pki_key("idp-rsa").get(), *alg, octets)));
    });
    auto sigalg_swap = [&](const char* to) {
        return [&b, to] {
            const std::string q = b.redirect(b.logout_request_xml(), true);
            return replace_once(q, query_param(q, "SigAlg"), "SigAlg=" + url_encode(to));
        };
    };
    sls("logout-request-sigalg-swapped-to-sha512", "deny", "SAML0707", sigalg_swap(algorithm::rsa_sha512));
    sls("logout-request-sigalg-swapped-to-sha1", "deny", "SAML0705", sigalg_swap(algorithm::rsa_sha1));
    sls("logout-request-sigalg-swapped-to-ecdsa", "deny", "SAML0706", sigalg_swap(algorithm::ecdsa_sha256));
    sls("logout-request-sigalg-swapped-to-hmac", "deny", "SAML0705",
        sigalg_swap("http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"));
    sls("logout-request-relay-state-edited", "deny", "SAML0707", [&] {
        const std::string q = b.redirect(b.logout_request_xml(), true);
        return replace_once(q, "RelayState=relay-42", "RelayState=relay-43");
    });
    sls("logout-request-attacker-key", "deny", "SAML0707", [&] { return b.redirect(b.logout_request_xml(), true, "attacker"); });

    // --- POST-binding LogoutRequest to /saml/sls: an enveloped XML signature this time ---
    auto sls_post = [&](std::string name, std::string expect, std::string code, std::function<std::string()> body) {
        sls(std::move(name), std::move(expect), std::move(code), std::move(body));
        cases.back().endpoint = "sls-post";
    };
    sls_post("logout-request-post-signed-baseline", "redirect:idp", "", [&] { return b.b64(b.signed_logout_request("idp-rsa")); });
    sls_post("logout-request-post-unsigned", "deny", "SAML0724", [&] { return b.b64(b.logout_request_xml()); });
    sls_post("logout-request-post-attacker-signed", "deny", "SAML0222", [&] { return b.b64(b.signed_logout_request("attacker")); });
    sls_post("logout-request-post-signature-stripped", "deny", "SAML0724", [&] {
        const std::string xml = b.signed_logout_request("idp-rsa");
        return b.b64(replace_once(xml, between(xml, "<ds:Signature", "</ds:Signature>"), ""));
    });
    sls_post("logout-request-post-name-id-edited", "deny", "SAML0224", [&] {
        return b.b64(replace_once(b.signed_logout_request("idp-rsa"), ">alice<", ">bob<"));
    });
    sls_post("logout-request-post-wrapped-in-evil", "deny", "SAML0724", [&] {
        // The genuine signed request hidden in Extensions of an unsigned one naming bob.
        std::string evil = replace_once(b.logout_request_xml(), ">alice<", ">bob<");
        return b.b64(replace_once(evil, "</saml:Issuer>",
                                  "</saml:Issuer><samlp:Extensions>" + b.signed_logout_request("idp-rsa") + "</samlp:Extensions>"));
    });
    sls_post("logout-request-post-doctype", "deny", "SAML0103", [&] {
        return b.b64("<!DOCTYPE samlp:LogoutRequest [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>" + b.signed_logout_request("idp-rsa"));
    });

    // --- Redirect-binding LogoutResponse answering the SP's own LogoutRequest ---
    auto sls_response = [&](std::string name, std::string expect, std::string code, std::function<std::string()> body) {
        sls(std::move(name), std::move(expect), std::move(code), std::move(body));
        cases.back().cookie = "logout";
        cases.back().logout_response = true;
    };
    sls_response("logout-response-signed-baseline", "redirect:return", "",
                 [&] { return b.redirect(b.logout_response_xml(b.live().logout_id), false); });
    sls_response("logout-response-unsigned", "deny", "SAML0708",
                 [&] { return b.redirect(b.logout_response_xml(b.live().logout_id), false, ""); });
    sls_response("logout-response-signature-stripped", "deny", "SAML0709",
                 [&] { return drop_param(b.redirect(b.logout_response_xml(b.live().logout_id), false), "Signature"); });
    sls_response("logout-response-sigalg-swapped-to-sha384", "deny", "SAML0707", [&] {
        const std::string q = b.redirect(b.logout_response_xml(b.live().logout_id), false);
        return replace_once(q, query_param(q, "SigAlg"), "SigAlg=" + url_encode(algorithm::rsa_sha384));
    });
    sls_response("logout-response-attacker-key", "deny", "SAML0707",
                 [&] { return b.redirect(b.logout_response_xml(b.live().logout_id), false, "attacker"); });
    sls_response("logout-response-to-another-request", "deny", "SAML0729",
                 [&] { return b.redirect(b.logout_response_xml("_not-our-logout"), false); });
    return cases;
}

std::string arg(const std::map<std::string, std::string>& args, const std::string& name) {
    const auto it = args.find(name);
    if (it == args.end() || it->second.empty()) throw std::runtime_error("missing --" + name);
    return it->second;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::map<std::string, std::string> args;
        bool list = false;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--list") {
                list = true;
            } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
                args[a.substr(2)] = argv[++i];
            } else {
                std::cerr << "usage: hostile_cases --list | --out DIR --base-url URL --sp-entity ID --idp-entity ID "
                             "--request-id ID --other-request-id ID [--logout-request-id ID] [--now UNIX]\n";
                return 2;
            }
        }
        saml::initialize_libraries();
        if (list) {
            const Builder b(Live{});
            for (const auto& c : all_cases(b)) std::cout << c.name << '\t' << c.endpoint << '\t' << c.expect << '\t' << c.code << '\n';
            return 0;
        }
        Live live;
        live.base = arg(args, "base-url");
        live.acs = live.base + "/saml/acs";
        live.sls = live.base + "/saml/sls";
        live.sp_entity = arg(args, "sp-entity");
        live.idp_entity = arg(args, "idp-entity");
        live.r1 = arg(args, "request-id");
        live.r2 = arg(args, "other-request-id");
        live.logout_id = args.count("logout-request-id") ? args["logout-request-id"] : "";
        set_test_now(args.count("now") ? from_unix(std::stoll(args["now"])) : Clock::now());
        const std::string out = arg(args, "out");
        const Builder b(live);
        for (const auto& c : all_cases(b)) {
            if (c.logout_response != !live.logout_id.empty()) continue;
            std::string body;
            try {
                body = c.body();
            } catch (const std::exception& e) {
                throw std::runtime_error(c.name + ": " + e.what());
            }
            std::ofstream file(out + "/" + c.name);
            file << "endpoint: " << c.endpoint << "\ncookie: " << c.cookie << "\nexpect: " << c.expect << "\ncode: " << c.code
                 << "\ncheck: " << c.check << "\nbody: " << body << "\n";
            if (!file) throw std::runtime_error("cannot write " + out + "/" + c.name);
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "hostile_cases: " << e.what() << "\n";
        return 1;
    }
}
