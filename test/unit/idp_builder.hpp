// A test IdP: builds Responses the way an IdP would (assertion signed in place, optionally
// encrypted to the SP's certificate, Response signed last) from the test PKI, with every field
// adjustable so each rule and each attack can be produced from real signatures.
#pragma once

#include "metadata.hpp"
#include "model.hpp"
#include "settings.hpp"
#include "test_support.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace saml::test {

inline constexpr const char* kIdpEntity = "https://idp.test.example/saml2/idp";
inline constexpr const char* kSpEntity = "https://sp.test.example/saml/metadata";
inline constexpr const char* kAcs = "https://sp.test.example/saml/acs";
inline constexpr const char* kSls = "https://sp.test.example/saml/sls";
inline constexpr const char* kRequestId = "_4f1e0c1a9b7d4c2e8a6f0b3d5c7e9a1b";

SpSettings test_sp();
// An IdP trusting the named certificates (test PKI names) for signing.
std::shared_ptr<IdpDescriptor> test_idp(const std::vector<std::string>& signing_certs = {"idp-rsa"},
                                        const std::string& entity_id = kIdpEntity);
IdpRegistry test_registry(const std::vector<std::string>& signing_certs = {"idp-rsa"});

struct EncryptionSpec {
    std::string data_algorithm;      // algorithm::aes256_gcm ...
    std::string key_transport;       // algorithm::rsa_oaep_mgf1p, rsa_oaep, rsa_1_5
    std::string oaep_digest;         // empty: SHA-1 default
    std::string mgf;                 // xmlenc11 MGF URI, empty: default
    std::string recipient_cert = "sp-encryption";
    bool key_beside_data = false;    // EncryptedKey as a sibling of EncryptedData
    std::string key_recipient;       // Recipient attribute of that EncryptedKey; empty: none
    // More EncryptedKeys for the same data, placed before ours: (certificate, Recipient) each,
    // as an IdP encrypting for several recipients writes them (SAML core 2.2.4).
    std::vector<std::pair<std::string, std::string>> other_recipients;
    std::string data_key_info;       // raw XML for EncryptedData's KeyInfo when the keys are beside it
};
EncryptionSpec default_encryption();  // AES-256-GCM with RSA-OAEP (mgf1p)

struct AssertionSpec {
    std::string id = "_a7c1d3e5f7091b2d4f6a8c0e2a4c6e8f0";
    std::string issuer = kIdpEntity;
    std::string name_id = "alice";
    std::string name_id_format = nameid_format::persistent;  // empty: no Format attribute
    bool include_name_id = true;
    std::string confirmation_method = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    std::string recipient = kAcs;
    std::string confirmation_in_response_to = kRequestId;
    std::chrono::seconds confirmation_lifetime{300};  // from test_now()
    std::string audience = kSpEntity;
    bool include_conditions = true;
    bool include_audience = true;
    std::chrono::seconds not_before_offset{-60};
    std::chrono::seconds not_on_or_after_offset{300};
    bool include_authn_statement = true;
    std::string session_index = "_session-42";  // empty: no SessionIndex attribute
    std::chrono::seconds session_lifetime{8 * 3600};
    std::vector<Attribute> attributes;
    std::string extra_subject;     // raw XML appended inside Subject
    std::string extra_conditions;  // raw XML appended inside Conditions
};

struct ResponseSpec {
    std::string id = "_r0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6";
    std::string issuer = kIdpEntity;
    bool include_issuer = true;            // the Response's own Issuer (the assertion keeps its)
    std::string destination = kAcs;        // empty: no Destination attribute
    std::string in_response_to = kRequestId;  // empty: unsolicited
    std::string status = "urn:oasis:names:tc:SAML:2.0:status:Success";
    AssertionSpec assertion;
    bool include_assertion = true;
    bool sign_response = true;
    bool sign_assertion = true;
    std::string signing_key = "idp-rsa";
    std::string signature_algorithm;       // empty: the key's default
    bool encrypt = false;
    EncryptionSpec encryption = default_encryption();
};

std::vector<Attribute> typical_attributes();  // 10 attributes, one multi-valued, non-ASCII
std::string assertion_xml(const AssertionSpec& spec);         // unsigned, standalone (own xmlns)
std::string response_xml(const ResponseSpec& spec);           // the final document
std::string response_base64(const ResponseSpec& spec);        // as posted to the ACS

// Signs the element with this ID inside xml (Signature after its Issuer) and returns the document.
std::string sign_element(const std::string& xml, const std::string& id, const std::string& key_name,
                         const std::string& algorithm = "");
// A ds:Signature template over "#id" for xmlsec to fill, with the given CanonicalizationMethod
// and c14n Transform (after enveloped-signature); signed_info_comment, when not empty, becomes
// a comment at the start of SignedInfo (which #WithComments signs).
std::string signature_template(const std::string& id, const std::string& c14n_method, const std::string& c14n_transform,
                               const std::string& signed_info_comment = "");
// Fills the ds:Signature template that is a child of the element with this ID, the way an IdP
// built on xmlsec signs, and returns the document.
std::string sign_template(const std::string& xml, const std::string& id, const std::string& key_name);
// Encrypts an element's XML into <saml:{wrapper}> holding xenc:EncryptedData.
std::string encrypt_element(const std::string& element_xml, const std::string& wrapper, const EncryptionSpec& spec);

}  // namespace saml::test
