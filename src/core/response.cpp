#include "response.hpp"

#include "attribute_names.hpp"
#include "encoding.hpp"
#include "xml.hpp"
#include "xmlenc.hpp"
#include "xmlsig.hpp"

#include <algorithm>
#include <cstring>

namespace saml {

namespace {

constexpr const char* kStatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success";
constexpr const char* kBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

[[noreturn]] void reject(const char* code, const char* rule, std::string detail) {
    fail(ErrorKind::Rejected, code, rule, std::move(detail));
}


// Everything the rules share while one Response is checked.
struct Check {
    Check(const SpSettings& sp_, const SecurityPolicy& policy_, const IdpRegistry& idps_, const ResponseInput& input_,
          XmlDoc doc, const ResponseEnvelope* envelope_ = nullptr)
        : sp(sp_), policy(policy_), idps(idps_), input(input_), envelope(envelope_), response_doc(std::move(doc)) {}

    const SpSettings& sp;
    const SecurityPolicy& policy;
    const IdpRegistry& idps;
    const ResponseInput& input;
    const ResponseEnvelope* envelope;  // null unless the Response came by artifact
    XmlDoc response_doc;
    XmlDoc decrypted_doc;           // owns the assertion when it came encrypted
    xmlNode* response = nullptr;
    xmlNode* assertion = nullptr;
    std::shared_ptr<const IdpDescriptor> idp;
    bool response_signed = false;
    bool envelope_signed = false;   // a verified ArtifactResponse signature covers the Response
    bool assertion_signed = false;
    IdpSeen seen;  // for the refusal's log line
    bool name_id_present = false;   // a NameID (plain or decrypted), even an empty one
    Login login;
};


Instant checked_instant(const xmlNode* node, const char* attr, const char* rule) {
    return parse_datetime(required_attribute(node, attr, rule), attr);
}

std::optional<Instant> optional_instant(const xmlNode* node, const char* attr) {
    auto text = attribute(node, attr);
    if (!text) return std::nullopt;
    return parse_datetime(*text, attr);
}

std::string issuer_of(const xmlNode* element, const char* rule) {
    xmlNode* issuer = unique_child(element, ns::assertion, "Issuer");
    if (issuer == nullptr) return {};
    auto format = attribute(issuer, "Format");
    if (format && *format != nameid_format::entity)
        reject("SAML0232", rule, "Issuer Format is '" + *format + "', not the entity format");
    return element_text(issuer);
}

// EncryptedAssertion, EncryptedID, EncryptedAttribute: with our keys, an EncryptedKey addressed
// to our entityID first.
XmlDoc decrypt_for_us(const Check& c, const xmlNode* container, xmlNode** decrypted) {
    return decrypt_element(container, decryption_keys(c.sp), {c.policy.allow_rsa15, c.policy.allow_triple_des, c.sp.entity_id}, c.policy.xml_limits,
                           decrypted);
}

// --- the rules, in order -------------------------------------------------------------------

void rule_structure(Check& c) {
    c.response = xmlDocGetRootElement(c.response_doc.get());
    if (!is_element(c.response, ns::protocol, "Response"))
        reject("SAML0230", "structure", "the root element is " + name_of(c.response) + ", not samlp:Response");
    if (attribute(c.response, "Version").value_or("") != "2.0") reject("SAML0230", "structure", "Version is not 2.0");
    c.login.response_id = required_attribute(c.response, "ID", "structure");
    const Instant issued = checked_instant(c.response, "IssueInstant", "structure");
    if (issued > c.input.now + c.policy.clock_skew)
        reject("SAML0231", "structure", "the Response was issued in the future (" + format_datetime(issued) + ")");
    register_unique_ids(c.response_doc.get(), {{ns::protocol, "Response"}, {ns::assertion, "Assertion"}});
}

void rule_issuer(Check& c) {
    std::string issuer = issuer_of(c.response, "issuer");
    if (issuer.empty()) {
        // The Response Issuer is optional; the assertion's is not. Decide trust by it.
        const auto assertions = child_elements(c.response, ns::assertion, "Assertion");
        if (assertions.size() == 1) issuer = issuer_of(assertions.front(), "issuer");
    }
    if (issuer.empty()) reject("SAML0233", "issuer", "the Response names no Issuer");
    c.idp = c.idps.find(issuer);
    if (!c.idp) {
        const std::string unusable = c.idps.unusable_reason(issuer);
        if (!unusable.empty()) reject("SAML0936", "metadata-changed", unusable);
        reject("SAML0234", "issuer", "the Issuer '" + excerpt(issuer) + "' is not a configured IdP");
    }
    if (c.envelope && c.envelope->idp_entity_id != c.idp->entity_id)
        reject("SAML0968", "issuer",
               "the artifact came from " + c.envelope->idp_entity_id + " but the Response inside from " + excerpt(issuer));
    c.login.idp_entity_id = c.idp->entity_id;
    c.seen.entity_id = c.idp->entity_id;
}

void rule_response_signature(Check& c) {
    c.response_signed = verify_enveloped_signature(c.response, c.idp->signing_keys(), c.policy.algorithms) ==
                        SignatureState::Verified;
    // SAML profiles 4.1.4.2: a signed Response MUST carry its own Issuer (rule_issuer has
    // checked that one, when present, is this IdP's). The assertion's may not stand in for it.
    if (c.response_signed && issuer_of(c.response, "issuer").empty())
        reject("SAML1050", "issuer", "the Response is signed but names no Issuer of its own (SAML profiles 4.1.4.2)");
    c.envelope_signed = c.envelope && c.envelope->signature_verified;
    c.seen.verified = c.response_signed || c.envelope_signed;
}

void rule_status(Check& c) {
    xmlNode* status = unique_child(c.response, ns::protocol, "Status");
    xmlNode* code = status ? unique_child(status, ns::protocol, "StatusCode") : nullptr;
    if (code == nullptr) reject("SAML0235", "status", "the Response has no StatusCode");
    const std::string value = attribute(code, "Value").value_or("");
    if (value == kStatusSuccess) return;
    std::string detail = "the IdP answered " + value;
    if (xmlNode* sub = unique_child(code, ns::protocol, "StatusCode")) detail += " / " + attribute(sub, "Value").value_or("");
    if (xmlNode* message = unique_child(status, ns::protocol, "StatusMessage")) detail += ": " + deep_text(message);
    reject("SAML0236", "status", detail);
}

void rule_destination(Check& c) {
    auto destination = attribute(c.response, "Destination");
    if (destination && *destination != c.sp.acs_url)
        reject("SAML0237", "destination", "Destination '" + *destination + "' is not this ACS (" + c.sp.acs_url + ")");
    if (!destination && c.response_signed)
        reject("SAML0237", "destination", "a signed Response must name its Destination");
}

void rule_in_response_to(Check& c) {
    auto in_response_to = attribute(c.response, "InResponseTo");
    const auto& pending = c.input.pending_request_ids;
    if (in_response_to) {
        if (pending.empty())
            reject("SAML0238", "in-response-to",
                   "the Response answers request " + *in_response_to + " but this browser has no login in progress");
        if (std::find(pending.begin(), pending.end(), *in_response_to) == pending.end())
            reject("SAML0238", "in-response-to",
                   "the Response answers request " + *in_response_to + ", which this browser did not start");
        c.login.in_response_to = *in_response_to;
        if (!c.input.request_idps.empty()) {
            const auto sent_to = c.input.request_idps.find(*in_response_to);
            if (sent_to == c.input.request_idps.end() || sent_to->second != c.idp->entity_id)
                reject("SAML0285", "idp-mismatch",
                       "the Response from " + c.idp->entity_id + " answers request " + *in_response_to +
                           ", which was sent to " +
                           (sent_to == c.input.request_idps.end() ? std::string("an unknown IdP") : sent_to->second));
        }
    } else if (!c.policy.allow_unsolicited) {
        reject("SAML0239", "unsolicited", "unsolicited Response (no InResponseTo) and SAMLAllowUnsolicited is off");
    }
}

void rule_one_assertion(Check& c) {
    const auto plain = child_elements(c.response, ns::assertion, "Assertion");
    const auto encrypted = child_elements(c.response, ns::assertion, "EncryptedAssertion");
    const std::size_t count = plain.size() + encrypted.size();
    if (count == 0) reject("SAML0240", "assertion-count", "the Response carries no assertion");
    if (count > 1) reject("SAML0241", "assertion-count", "the Response carries " + std::to_string(count) + " assertions");
    if (!encrypted.empty()) {
        c.decrypted_doc = decrypt_for_us(c, encrypted.front(), &c.assertion);
        if (!is_element(c.assertion, ns::assertion, "Assertion"))
            reject("SAML0242", "assertion-count", "the EncryptedAssertion holds " + name_of(c.assertion));
        register_unique_ids(c.decrypted_doc.get(), {{ns::assertion, "Assertion"}});
        const std::string id = attribute(c.assertion, "ID").value_or("");
        if (id == c.login.response_id) reject("SAML0205", "unique-ids", "the decrypted assertion reuses the Response ID");
    } else {
        if (c.policy.want_assertions_encrypted)
            reject("SAML0243", "encryption-required", "the assertion is not encrypted and SAMLWantAssertionsEncrypted is on");
        c.assertion = plain.front();
    }
}

void rule_assertion_signature(Check& c) {
    if (attribute(c.assertion, "Version").value_or("") != "2.0")
        reject("SAML0244", "structure", "the assertion's Version is not 2.0");
    c.login.assertion_id = required_attribute(c.assertion, "ID", "structure");
    checked_instant(c.assertion, "IssueInstant", "structure");
    const std::string issuer = issuer_of(c.assertion, "issuer");
    if (issuer != c.idp->entity_id)
        reject("SAML0234", "issuer", "the assertion's Issuer '" + excerpt(issuer) + "' is not " + c.idp->entity_id);
    c.assertion_signed = verify_enveloped_signature(c.assertion, c.idp->signing_keys(), c.policy.algorithms) ==
                         SignatureState::Verified;
    c.seen.verified = c.seen.verified || c.assertion_signed;
    const bool response_covered = c.response_signed || c.envelope_signed;
    if (!response_covered && !c.assertion_signed)
        reject("SAML0245", "signature-required", "neither the Response nor the assertion is signed");
    if (c.policy.want_response_signed && !response_covered)
        reject("SAML0246", "signature-required", "the Response is not signed and SAMLWantResponseSigned is on");
    if (c.policy.want_assertions_signed && !c.assertion_signed)
        reject("SAML0247", "signature-required", "the assertion is not signed and SAMLWantAssertionsSigned is on");
}

void rule_subject(Check& c) {
    xmlNode* subject = unique_child(c.assertion, ns::assertion, "Subject");
    if (subject == nullptr) reject("SAML0248", "subject", "the assertion has no Subject");
    xmlNode* name_id = unique_child(subject, ns::assertion, "NameID");
    XmlDoc decrypted_id;
    if (xmlNode* encrypted_id = unique_child(subject, ns::assertion, "EncryptedID")) {
        if (name_id != nullptr) reject("SAML0248", "subject", "the Subject has both NameID and EncryptedID");
        decrypted_id = decrypt_for_us(c, encrypted_id, &name_id);
        if (!is_element(name_id, ns::assertion, "NameID")) reject("SAML0248", "subject", "EncryptedID holds no NameID");
    }
    if (name_id != nullptr) {
        c.name_id_present = true;
        c.login.name_id.value = element_text(name_id);
        c.login.name_id.format = attribute(name_id, "Format").value_or("");
        c.login.name_id.name_qualifier = attribute(name_id, "NameQualifier").value_or("");
        c.login.name_id.sp_name_qualifier = attribute(name_id, "SPNameQualifier").value_or("");
    }

    // At least one bearer confirmation that fits: Recipient, time, request.
    std::string why = "no bearer SubjectConfirmation";
    for (xmlNode* confirmation : child_elements(subject, ns::assertion, "SubjectConfirmation")) {
        const std::string method = attribute(confirmation, "Method").value_or("");
        if (method != kBearer) {
            why = "SubjectConfirmation method '" + method + "' is not bearer";
            continue;
        }
        xmlNode* data = unique_child(confirmation, ns::assertion, "SubjectConfirmationData");
        if (data == nullptr) {
            why = "bearer SubjectConfirmation without SubjectConfirmationData";
            continue;
        }
        const auto recipient = attribute(data, "Recipient");
        const auto not_on_or_after = optional_instant(data, "NotOnOrAfter");
        const auto not_before = optional_instant(data, "NotBefore");
        const auto in_response_to = attribute(data, "InResponseTo");
        if (!recipient || *recipient != c.sp.acs_url) {
            why = "Recipient '" + recipient.value_or("") + "' is not this ACS";
        } else if (!not_on_or_after) {
            why = "SubjectConfirmationData has no NotOnOrAfter";
        } else if (c.input.now - c.policy.clock_skew >= *not_on_or_after) {
            why = "the confirmation expired at " + format_datetime(*not_on_or_after);
        } else if (not_before && *not_before > c.input.now + c.policy.clock_skew) {
            why = "the confirmation is not valid before " + format_datetime(*not_before);
        } else if (in_response_to.value_or("") != c.login.in_response_to) {
            why = "the confirmation answers request '" + in_response_to.value_or("") + "', not '" + c.login.in_response_to + "'";
        } else {
            c.login.assertion_expiry = std::max(c.login.assertion_expiry, *not_on_or_after + c.policy.clock_skew);
            return;
        }
    }
    reject("SAML0249", "subject-confirmation", why);
}

void rule_conditions(Check& c) {
    xmlNode* conditions = unique_child(c.assertion, ns::assertion, "Conditions");
    if (conditions == nullptr) reject("SAML0250", "conditions", "the assertion has no Conditions (no audience)");
    const auto not_before = optional_instant(conditions, "NotBefore");
    const auto not_on_or_after = optional_instant(conditions, "NotOnOrAfter");
    if (not_before && *not_before > c.input.now + c.policy.clock_skew)
        reject("SAML0251", "conditions", "the assertion is not valid before " + format_datetime(*not_before));
    if (not_on_or_after && c.input.now - c.policy.clock_skew >= *not_on_or_after)
        reject("SAML0252", "conditions", "the assertion expired at " + format_datetime(*not_on_or_after));
    if (not_on_or_after) c.login.assertion_expiry = std::max(c.login.assertion_expiry, *not_on_or_after + c.policy.clock_skew);

    int restrictions = 0;
    for (xmlNode* condition = first_element_child(conditions); condition != nullptr;
         condition = next_element_sibling(condition)) {
        if (is_element(condition, ns::assertion, "AudienceRestriction")) {
            ++restrictions;
            bool ours = false;
            for (xmlNode* audience : child_elements(condition, ns::assertion, "Audience"))
                ours = ours || element_text(audience) == c.sp.entity_id;
            if (!ours) reject("SAML0253", "audience", "the assertion is not meant for " + c.sp.entity_id);
        } else if (!is_element(condition, ns::assertion, "OneTimeUse") &&
                   !is_element(condition, ns::assertion, "ProxyRestriction")) {
            // A condition we cannot evaluate makes the assertion invalid (SAML core 2.5.1.5).
            reject("SAML0254", "conditions", "unknown condition " + name_of(condition));
        }
    }
    if (restrictions == 0) reject("SAML0253", "audience", "the assertion has no AudienceRestriction");
}

void rule_authn_statement(Check& c) {
    const auto statements = child_elements(c.assertion, ns::assertion, "AuthnStatement");
    if (statements.empty()) reject("SAML0255", "authn-statement", "the assertion has no AuthnStatement");
    const xmlNode* statement = statements.front();
    c.login.authn_instant = checked_instant(statement, "AuthnInstant", "authn-statement");
    c.login.session_index = attribute(statement, "SessionIndex").value_or("");
    c.login.session_not_on_or_after = optional_instant(statement, "SessionNotOnOrAfter");
    if (c.login.session_not_on_or_after && *c.login.session_not_on_or_after <= c.input.now)
        reject("SAML0256", "session-expired", "the IdP session ended at " + format_datetime(*c.login.session_not_on_or_after));
    if (xmlNode* context = unique_child(statement, ns::assertion, "AuthnContext"))
        for (xmlNode* ref : child_elements(context, ns::assertion, "AuthnContextClassRef"))
            c.login.authn_context_class_refs.push_back(element_text(ref));
}

std::string attribute_value(const xmlNode* value) {
    if (attribute(value, "nil") && xmlHasNsProp(value, BAD_CAST "nil", BAD_CAST ns::xsi) != nullptr) return {};
    if (xmlNode* name_id = unique_child(value, ns::assertion, "NameID")) return element_text(name_id);
    return first_element_child(value) != nullptr ? deep_text(value) : element_text(value);
}

void add_attribute(Check& c, const xmlNode* node) {
    Attribute attr;
    attr.name = required_attribute(node, "Name", "attributes");
    attr.name_format = attribute(node, "NameFormat").value_or("");
    attr.friendly_name = attribute(node, "FriendlyName").value_or("");
    for (xmlNode* value : child_elements(node, ns::assertion, "AttributeValue")) attr.values.push_back(attribute_value(value));
    // The same attribute twice (some IdPs split values): merge, keeping order.
    auto same = std::find_if(c.login.attributes.begin(), c.login.attributes.end(),
                             [&](const Attribute& a) { return a.name == attr.name; });
    if (same != c.login.attributes.end())
        same->values.insert(same->values.end(), attr.values.begin(), attr.values.end());
    else
        c.login.attributes.push_back(std::move(attr));
}

void rule_attributes(Check& c) {
    for (xmlNode* statement : child_elements(c.assertion, ns::assertion, "AttributeStatement")) {
        for (xmlNode* node = first_element_child(statement); node != nullptr; node = next_element_sibling(node)) {
            if (is_element(node, ns::assertion, "Attribute")) {
                add_attribute(c, node);
            } else if (is_element(node, ns::assertion, "EncryptedAttribute")) {
                // Inside the verified assertion, so its signature covers the encrypted form.
                xmlNode* decrypted = nullptr;
                XmlDoc holder = decrypt_for_us(c, node, &decrypted);
                if (!is_element(decrypted, ns::assertion, "Attribute"))
                    reject("SAML0242", "attributes", "an EncryptedAttribute holds " + name_of(decrypted));
                add_attribute(c, decrypted);
            }
        }
    }
}

// Identifiers of the form user@scope: the scope says which organisation's user it is, and an
// IdP may only speak for the scopes its metadata lists (shibmd:Scope). Otherwise, with several
// IdPs (a federation), any of them could assert "alice@example.org" for another's user.
constexpr const char* scoped_attributes[] = {"eduPersonPrincipalName", "eduPersonScopedAffiliation",
                                             "eduPersonUniqueId", "urn:oasis:names:tc:SAML:attribute:subject-id",
                                             "urn:oasis:names:tc:SAML:attribute:pairwise-id"};
constexpr std::size_t max_scope_length = 256;
constexpr std::size_t max_scope_notices = 5;

bool is_scoped(const Attribute& attr) {
    for (const char* name : scoped_attributes)
        if (attribute_named(attr, name)) return true;
    return false;
}

// Checked when the IdP lists scopes (it then speaks only for those) or when several IdPs are
// trusted (an IdP that lists none then speaks for no scope); a lone IdP without scopes is
// trusted for whatever it says, as before. A value outside the IdP's scopes is dropped, not the
// login: the other attributes are still good; a user taken from that attribute then has none.
void rule_scopes(Check& c) {
    if (c.idp->scopes.empty() && c.idps.size() <= 1) return;
    std::size_t dropped = 0;
    for (auto attr = c.login.attributes.begin(); attr != c.login.attributes.end();) {
        if (!is_scoped(*attr)) {
            ++attr;
            continue;
        }
        std::vector<std::string> kept;
        for (auto& value : attr->values) {
            const auto at = value.find('@');
            const std::string_view scope = at == std::string::npos ? std::string_view() : std::string_view(value).substr(at + 1);
            const bool allowed = at != std::string::npos && at > 0 && value.find('@', at + 1) == std::string::npos &&
                                 !scope.empty() && scope.size() <= max_scope_length &&
                                 std::any_of(c.idp->scopes.begin(), c.idp->scopes.end(),
                                             [&](const IdpScope& s) { return s.allows(scope); });
            if (allowed) {
                kept.push_back(std::move(value));
            } else if (++dropped <= max_scope_notices) {
                c.login.notices.push_back("SAML0287 value '" + excerpt(value) + "' of attribute " + excerpt(attr->name) +
                                          " dropped: its scope is not one that IdP " + c.idp->entity_id +
                                          " lists in its metadata (shibmd:Scope)");
            }
        }
        attr->values = std::move(kept);
        if (attr->values.empty()) attr = c.login.attributes.erase(attr);
        else ++attr;
    }
    // A log line per dropped value, up to a few: an assertion can carry thousands.
    if (dropped > max_scope_notices)
        c.login.notices.push_back("SAML0287 " + std::to_string(dropped - max_scope_notices) +
                                  " more scoped values dropped for the same reason (IdP " + c.idp->entity_id + ")");
}

void check_user_text(const std::string& user, const std::string& source) {
    if (is_blank(user))
        reject("SAML1051", "user-id",
               source + " is empty or only whitespace; it cannot be a user id (SAML core 1.3.1)");
    if (!usable_as_user_id(user))
        reject("SAML0257", "user-id", source + " holds a control character; it cannot be a user id");
}

void rule_user(Check& c) {
    if (c.input.user_attribute.empty()) {
        if (!c.name_id_present) reject("SAML0257", "user-id", "the Subject has no NameID to use as the user");
        check_user_text(c.login.name_id.value, "the NameID");
        c.login.user = c.login.name_id.value;
        return;
    }
    for (const auto& attr : c.login.attributes) {
        if (!attribute_named(attr, c.input.user_attribute)) continue;
        if (attr.values.size() != 1)
            reject("SAML0257", "user-id",
                   "attribute '" + c.input.user_attribute + "' has " + std::to_string(attr.values.size()) +
                       " values; the user id needs exactly one");
        check_user_text(attr.values.front(), "attribute '" + c.input.user_attribute + "'");
        c.login.user = attr.values.front();
        return;
    }
    reject("SAML0257", "user-id", "the assertion lacks the user attribute '" + c.input.user_attribute + "'");
}

void rule_replay(Check& c, ReplayCache* replay) {
    if (replay == nullptr) return;
    switch (replay->remember(c.login.idp_entity_id + " " + c.login.assertion_id, c.login.assertion_expiry)) {
        case ReplayCache::Verdict::Fresh: return;
        case ReplayCache::Verdict::Replayed:
            reject("SAML0258", "replay", "assertion " + c.login.assertion_id + " was already used");
        case ReplayCache::Verdict::Unavailable:
            fail(ErrorKind::Internal, "SAML0259", "replay", "the replay cache is unavailable; refusing to accept the assertion");
    }
}

Login run_rules(Check& c, ReplayCache* replay) {
    rule_structure(c);
    rule_issuer(c);
    rule_response_signature(c);
    rule_status(c);
    rule_destination(c);
    rule_in_response_to(c);
    rule_one_assertion(c);
    rule_assertion_signature(c);
    rule_subject(c);
    rule_conditions(c);
    rule_authn_statement(c);
    rule_attributes(c);
    rule_scopes(c);
    rule_user(c);
    rule_replay(c, replay);
    return std::move(c.login);
}

}  // namespace

Result<Login> ResponseValidator::validate_xml(std::string_view response_xml, const ResponseInput& input,
                                              ReplayCache* replay, const ResponseEnvelope* envelope) const {
    return guarded([&] {
        Check check{sp_, policy_, idps_, input, parse_xml(response_xml, policy_.xml_limits, "SAMLResponse"), envelope};
        return naming_idp(check.seen, [&] { return run_rules(check, replay); });
    });
}

Result<Login> ResponseValidator::validate(const ResponseInput& input, ReplayCache* replay) const {
    return guarded([&] {
        if (input.saml_response.empty()) fail(ErrorKind::BadInput, "SAML0101", "input", "no SAMLResponse was posted");
        const std::string xml = base64_decode(input.saml_response, policy_.xml_limits.max_bytes, "SAMLResponse");
        Check check{sp_, policy_, idps_, input, parse_xml(xml, policy_.xml_limits, "SAMLResponse")};
        return naming_idp(check.seen, [&] { return run_rules(check, replay); });
    });
}

}  // namespace saml
