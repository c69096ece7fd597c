// Each rule of the Response validation checklist, with a passing and a failing case.
#include "attribute_names.hpp"
#include "encoding.hpp"
#include "idp_builder.hpp"
#include "response.hpp"

#include <CppUTest/TestHarness.h>

#include <map>
#include <set>

using namespace saml;
using namespace saml::test;

namespace {

struct Fixture {
    SpSettings sp = test_sp();
    SecurityPolicy policy;
    IdpRegistry idps = test_registry();
    MemoryReplayCache replay;

    Result<Login> validate(const std::string& base64, std::vector<std::string> expected = {kRequestId},
                           const std::string& user_attribute = "") {
        ResponseValidator validator(sp, policy, idps);
        ResponseInput input{base64, std::move(expected), test_now(), user_attribute};
        return validator.validate(input, &replay);
    }
    Result<Login> validate(const ResponseSpec& spec) { return validate(response_base64(spec)); }
};

Fixture* f = nullptr;

void expect_rejected(const Result<Login>& result, const char* rule, const char* code = nullptr) {
    if (result.ok()) FAIL("expected a rejection, the login was accepted");
    STRCMP_EQUAL(rule, result.error().rule.c_str());
    if (code != nullptr) STRCMP_EQUAL(code, result.error().code.c_str());
}

}  // namespace

TEST_GROUP(Response) {
    void setup() override { f = new Fixture(); }
    void teardown() override { delete f; }
};

TEST(Response, AcceptsSignedResponseAndAssertionAndReadsEverything) {
    ResponseSpec spec;
    spec.assertion.attributes = typical_attributes();
    auto result = f->validate(spec);
    if (!result) FAIL(result.error().message().c_str());
    const Login& login = result.value();
    STRCMP_EQUAL("alice", login.user.c_str());
    STRCMP_EQUAL("alice", login.name_id.value.c_str());
    STRCMP_EQUAL(nameid_format::persistent, login.name_id.format.c_str());
    STRCMP_EQUAL(kSpEntity, login.name_id.sp_name_qualifier.c_str());
    STRCMP_EQUAL("_session-42", login.session_index.c_str());
    STRCMP_EQUAL(kIdpEntity, login.idp_entity_id.c_str());
    STRCMP_EQUAL(kRequestId, login.in_response_to.c_str());
    CHECK(login.session_not_on_or_after.has_value());
    LONGS_EQUAL(to_unix(test_now()) + 8 * 3600, to_unix(*login.session_not_on_or_after));
    LONGS_EQUAL(to_unix(test_now()) - 5, to_unix(login.authn_instant));
    LONGS_EQUAL(10, login.attributes.size());
    STRCMP_EQUAL("Zoë", login.attributes[2].values[0].c_str());
    STRCMP_EQUAL("givenName", login.attributes[2].friendly_name.c_str());
    LONGS_EQUAL(3, login.attributes[5].values.size());
    STRCMP_EQUAL("employee", login.attributes[5].values[2].c_str());
    STRCMP_EQUAL("R&D <Labs>", login.attributes[8].values[0].c_str());
    STRCMP_EQUAL("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                 login.authn_context_class_refs.at(0).c_str());
    LONGS_EQUAL(to_unix(test_now()) + 300 + 60, to_unix(login.assertion_expiry));
}

TEST(Response, OnlyAssertionSignedIsEnough) {
    ResponseSpec spec;
    spec.sign_response = false;
    CHECK(f->validate(spec).ok());
}

TEST(Response, OnlyResponseSignedIsEnough) {
    ResponseSpec spec;
    spec.sign_assertion = false;
    CHECK(f->validate(spec).ok());
}

TEST(Response, NothingSignedIsRejected) {
    ResponseSpec spec;
    spec.sign_assertion = false;
    spec.sign_response = false;
    expect_rejected(f->validate(spec), "signature-required", "SAML0245");
}

TEST(Response, PolicyCanRequireEachSignature) {
    ResponseSpec spec;
    spec.sign_response = false;
    f->policy.want_response_signed = true;
    expect_rejected(f->validate(spec), "signature-required", "SAML0246");
    f->policy = SecurityPolicy{};
    f->policy.want_assertions_signed = true;
    ResponseSpec only_response;
    only_response.sign_assertion = false;
    expect_rejected(f->validate(only_response), "signature-required", "SAML0247");
    CHECK(f->validate(ResponseSpec{}).ok());
}

TEST(Response, EcdsaSignatureVerifies) {
    f->idps = test_registry({"idp-ec"});
    ResponseSpec spec;
    spec.signing_key = "idp-ec";
    CHECK(f->validate(spec).ok());
}

TEST(Response, RolloverKeysAreAllTried) {
    f->idps = test_registry({"idp-rsa", "idp-rsa-next"});
    ResponseSpec spec;
    spec.signing_key = "idp-rsa-next";
    CHECK(f->validate(spec).ok());
    f->idps = test_registry({"idp-rsa"});
    spec.id = "_other-response";
    spec.assertion.id = "_other-assertion";
    expect_rejected(f->validate(spec), "signature", "SAML0222");
}

TEST(Response, Sha1OnlyWhenAllowed) {
    ResponseSpec spec;
    spec.signature_algorithm = algorithm::rsa_sha1;
    expect_rejected(f->validate(spec), "signature", "SAML0215");
    f->policy.algorithms.allow_sha1 = true;
    CHECK(f->validate(spec).ok());
}

TEST(Response, StrongerDigestsVerify) {
    ResponseSpec spec;
    spec.signature_algorithm = algorithm::rsa_sha512;
    CHECK(f->validate(spec).ok());
}

TEST(Response, InputLimitsAndBase64) {
    f->policy.xml_limits.max_bytes = 1000;
    expect_rejected(f->validate(ResponseSpec{}), "input-size", "SAML0102");
    f->policy = SecurityPolicy{};
    expect_rejected(f->validate("not base64 !!"), "base64", "SAML0110");
    expect_rejected(f->validate(""), "input", "SAML0101");
    expect_rejected(f->validate(base64_encode("<notxml")), "xml", "SAML0104");
}

TEST(Response, AnUnknownIssuerIsQuotedOnOneBoundedLine) {
    ResponseSpec spec;
    spec.issuer = "https://evil.example/idp\nSAML0000 forged line " + std::string(700, 'x');
    spec.assertion.issuer = spec.issuer;
    auto result = f->validate(spec);
    CHECK_FALSE(result.ok());
    const std::string detail = result.error().detail;
    STRCMP_EQUAL("SAML0234", result.error().code.c_str());
    CHECK_TRUE_TEXT(detail.find('\n') == std::string::npos, detail.c_str());
    CHECK_TRUE_TEXT(detail.find("evil.example/idp\\x0ASAML0000 forged line xxx") != std::string::npos, detail.c_str());
    CHECK_TRUE_TEXT(detail.find("...' is not a configured IdP") != std::string::npos, detail.c_str());
    CHECK_TRUE(detail.size() < 600);
}

TEST(Response, WrongRootIsRejected) {
    expect_rejected(f->validate(base64_encode("<samlp:AuthnRequest xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>")),
                    "structure", "SAML0230");
}

TEST(Response, IssuerMustBeConfiguredIdp) {
    ResponseSpec spec;
    spec.issuer = "https://evil.example/idp";
    spec.assertion.issuer = "https://evil.example/idp";
    expect_rejected(f->validate(spec), "issuer", "SAML0234");
    ResponseSpec mixed;
    mixed.assertion.issuer = "https://evil.example/idp";
    expect_rejected(f->validate(mixed), "issuer", "SAML0234");
}

TEST(Response, NonSuccessStatusIsRejectedEvenWithAssertion) {
    ResponseSpec spec;
    spec.status = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    auto result = f->validate(spec);
    expect_rejected(result, "status", "SAML0236");
    CHECK(result.error().detail.find("Responder") != std::string::npos);
}

// A refusal names the IdP once the Issuer matched a configured one, marked verified only when
// one of its signatures covered the message, so the log line can tell whose Response it was.
TEST(Response, RefusalsNameTheIdpOnceKnownAndSayWhetherVerified) {
    ResponseSpec refused;
    refused.status = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    auto status = f->validate(refused);
    expect_rejected(status, "status", "SAML0236");
    STRCMP_EQUAL(kIdpEntity, status.error().idp.c_str());
    CHECK(status.error().idp_verified);

    ResponseSpec late;  // refused after the assertion's own signature was checked
    late.id = "_late-response";
    late.assertion.id = "_late-assertion";
    late.sign_response = false;
    late.assertion.audience = "https://other.example/sp";
    auto audience = f->validate(late);
    CHECK_FALSE(audience.ok());
    STRCMP_EQUAL(kIdpEntity, audience.error().idp.c_str());
    CHECK(audience.error().idp_verified);

    ResponseSpec forged;  // claims the IdP, signed by another key
    forged.id = "_forged-response";
    forged.assertion.id = "_forged-assertion";
    forged.signing_key = "attacker";
    auto signature = f->validate(forged);
    expect_rejected(signature, "signature", "SAML0222");
    STRCMP_EQUAL(kIdpEntity, signature.error().idp.c_str());
    CHECK_FALSE(signature.error().idp_verified);

    ResponseSpec stranger;  // no configured IdP: nobody to name
    stranger.issuer = "https://evil.example/idp";
    stranger.assertion.issuer = "https://evil.example/idp";
    auto unknown = f->validate(stranger);
    expect_rejected(unknown, "issuer", "SAML0234");
    STRCMP_EQUAL("", unknown.error().idp.c_str());
}

TEST(Response, DestinationMustBeOurAcs) {
    ResponseSpec spec;
    spec.destination = "https://other.example/acs";
    expect_rejected(f->validate(spec), "destination", "SAML0237");
}

TEST(Response, SignedResponseMustNameDestination) {
    ResponseSpec spec;
    spec.destination = "";
    expect_rejected(f->validate(spec), "destination", "SAML0237");
    spec.sign_response = false;  // unsigned Response, signed assertion: Destination is optional
    CHECK(f->validate(spec).ok());
}

TEST(Response, InResponseToMustMatchThisBrowser) {
    expect_rejected(f->validate(response_base64(ResponseSpec{}), std::vector<std::string>{"_another-request"}), "in-response-to",
                    "SAML0238");
    expect_rejected(f->validate(response_base64(ResponseSpec{}), std::vector<std::string>{}), "in-response-to", "SAML0238");
}

TEST(Response, UnsolicitedOnlyWhenAllowed) {
    ResponseSpec spec;
    spec.in_response_to = "";
    spec.assertion.confirmation_in_response_to = "";
    expect_rejected(f->validate(response_base64(spec), std::vector<std::string>{}), "unsolicited", "SAML0239");
    f->policy.allow_unsolicited = true;
    CHECK(f->validate(response_base64(spec), std::vector<std::string>{}).ok());
}

TEST(Response, ConfirmationInResponseToMustMatchToo) {
    ResponseSpec spec;
    spec.assertion.confirmation_in_response_to = "_other";
    expect_rejected(f->validate(spec), "subject-confirmation", "SAML0249");
}

TEST(Response, NoAssertionIsRejected) {
    ResponseSpec spec;
    spec.include_assertion = false;
    expect_rejected(f->validate(spec), "assertion-count", "SAML0240");
}

TEST(Response, RecipientMustBeOurAcs) {
    ResponseSpec spec;
    spec.assertion.recipient = "https://other.example/acs";
    expect_rejected(f->validate(spec), "subject-confirmation", "SAML0249");
}

TEST(Response, HolderOfKeyIsNotBearer) {
    ResponseSpec spec;
    spec.assertion.confirmation_method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
    auto result = f->validate(spec);
    expect_rejected(result, "subject-confirmation", "SAML0249");
    CHECK(result.error().detail.find("not bearer") != std::string::npos);
}

TEST(Response, StaleConfirmationIsRejected) {
    ResponseSpec spec;
    spec.assertion.confirmation_lifetime = std::chrono::seconds(-61);
    expect_rejected(f->validate(spec), "subject-confirmation", "SAML0249");
    spec.assertion.confirmation_lifetime = std::chrono::seconds(-30);  // within the 60 s skew
    CHECK(f->validate(spec).ok());
}

TEST(Response, ExpiredAssertionIsRejected) {
    ResponseSpec spec;
    spec.assertion.not_on_or_after_offset = std::chrono::seconds(-120);
    expect_rejected(f->validate(spec), "conditions", "SAML0252");
}

TEST(Response, NotYetValidAssertionIsRejected) {
    ResponseSpec spec;
    spec.assertion.not_before_offset = std::chrono::seconds(300);
    expect_rejected(f->validate(spec), "conditions", "SAML0251");
    spec.assertion.not_before_offset = std::chrono::seconds(30);  // within the skew
    CHECK(f->validate(spec).ok());
}

TEST(Response, AudienceMustIncludeUs) {
    ResponseSpec spec;
    spec.assertion.audience = "https://other-sp.example/";
    expect_rejected(f->validate(spec), "audience", "SAML0253");
    spec.assertion.include_audience = false;
    expect_rejected(f->validate(spec), "audience", "SAML0253");
    spec.assertion.include_conditions = false;
    expect_rejected(f->validate(spec), "conditions", "SAML0250");
}

TEST(Response, AudienceAmongSeveralIsAccepted) {
    ResponseSpec spec;
    spec.assertion.extra_conditions =
        "<saml:AudienceRestriction><saml:Audience>urn:other</saml:Audience><saml:Audience>" + std::string(kSpEntity) +
        "</saml:Audience></saml:AudienceRestriction>";
    CHECK(f->validate(spec).ok());
}

TEST(Response, UnknownConditionIsRejected) {
    ResponseSpec spec;
    spec.assertion.extra_conditions = "<saml:Condition xmlns:x='urn:x' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xsi:type='x:Custom'/>";
    expect_rejected(f->validate(spec), "conditions", "SAML0254");
}

TEST(Response, AuthnStatementIsRequired) {
    ResponseSpec spec;
    spec.assertion.include_authn_statement = false;
    expect_rejected(f->validate(spec), "authn-statement", "SAML0255");
}

TEST(Response, EndedIdpSessionIsRejected) {
    ResponseSpec spec;
    spec.assertion.session_lifetime = std::chrono::seconds(-1);
    expect_rejected(f->validate(spec), "session-expired", "SAML0256");
}

TEST(Response, UserFromAttribute) {
    ResponseSpec spec;
    spec.assertion.attributes = typical_attributes();
    auto result = f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "mail");
    CHECK(result.ok());
    STRCMP_EQUAL("alice@example.org", result.value().user.c_str());
    spec.id = "_r2";
    spec.assertion.id = "_a2";
    expect_rejected(f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "eduPersonAffiliation"), "user-id",
                    "SAML0257");
    spec.id = "_r3";
    spec.assertion.id = "_a3";
    expect_rejected(f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "missing"), "user-id", "SAML0257");
}

TEST(Response, NoNameIdAndNoUserAttributeIsRejected) {
    ResponseSpec spec;
    spec.assertion.include_name_id = false;
    expect_rejected(f->validate(spec), "user-id", "SAML0257");
}

TEST(Response, ReplayIsRefusedAndCacheOutageFailsClosed) {
    const std::string posted = response_base64(ResponseSpec{});
    CHECK(f->validate(posted).ok());
    expect_rejected(f->validate(posted), "replay", "SAML0258");
    f->replay.expiries.clear();
    f->replay.unavailable = true;
    auto result = f->validate(posted);
    expect_rejected(result, "replay", "SAML0259");
}

TEST(Response, EncryptedAssertionIsDecrypted) {
    ResponseSpec spec;
    spec.encrypt = true;
    spec.assertion.attributes = typical_attributes();
    auto result = f->validate(spec);
    if (!result) FAIL(result.error().message().c_str());
    STRCMP_EQUAL("alice", result.value().user.c_str());
    LONGS_EQUAL(10, result.value().attributes.size());
}

TEST(Response, EncryptionCanBeRequired) {
    f->policy.want_assertions_encrypted = true;
    expect_rejected(f->validate(ResponseSpec{}), "encryption-required", "SAML0243");
    ResponseSpec spec;
    spec.encrypt = true;
    CHECK(f->validate(spec).ok());
}

TEST(Response, MultiValuedAttributeSplitAcrossElementsIsMerged) {
    ResponseSpec spec;
    spec.assertion.attributes = {{"groups", "", "", {"a"}}, {"groups", "", "", {"b", "c"}}};
    auto result = f->validate(spec);
    CHECK(result.ok());
    LONGS_EQUAL(1, result.value().attributes.size());
    LONGS_EQUAL(3, result.value().attributes[0].values.size());
}

TEST(Response, AnswersAnyOfSeveralPendingLogins) {
    // Two tabs started two logins; the Response answers the second.
    auto result = f->validate(response_base64(ResponseSpec{}), {"_first-tab", kRequestId});
    CHECK(result.ok());
    STRCMP_EQUAL(kRequestId, result.value().in_response_to.c_str());
}

TEST(Response, UserAttributeByShortNameWithoutFriendlyName) {
    ResponseSpec spec;
    spec.assertion.attributes = {{"urn:oid:0.9.2342.19200300.100.1.3", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "",
                                  {"carol@example.org"}}};
    auto result = f->validate(response_base64(spec), {kRequestId}, "mail");
    if (!result) FAIL(result.error().message().c_str());
    STRCMP_EQUAL("carol@example.org", result.value().user.c_str());
}

TEST(Response, EncryptedAttributeIsDecrypted) {
    ResponseSpec spec;
    spec.assertion.attributes = {{"mail", "", "", {"alice@example.org"}}};
    // Build the assertion, swap its attribute for an encrypted one, then sign as the IdP would.
    std::string assertion = assertion_xml(spec.assertion);
    const std::string plain = "<saml:Attribute Name=\"mail\"><saml:AttributeValue xsi:type=\"xs:string\" "
                              "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">alice@example.org</saml:AttributeValue></saml:Attribute>";
    const auto at = assertion.find(plain);
    CHECK(at != std::string::npos);
    assertion.replace(at, plain.size(),
                      encrypt_element("<saml:Attribute xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" Name=\"groups\">"
                                      "<saml:AttributeValue>admins</saml:AttributeValue></saml:Attribute>",
                                      "EncryptedAttribute", default_encryption()) +
                          plain);
    assertion = sign_element(assertion, spec.assertion.id, "idp-rsa");
    if (assertion.rfind("<?xml", 0) == 0) assertion.erase(0, assertion.find("?>") + 3);
    ResponseSpec envelope = spec;
    envelope.include_assertion = false;
    envelope.sign_response = false;
    std::string xml = response_xml(envelope);
    xml.replace(xml.find("</samlp:Response>"), 0, assertion);
    auto result = f->validate(base64_encode(xml));
    if (!result) FAIL(result.error().message().c_str());
    LONGS_EQUAL(2, result.value().attributes.size());
    STRCMP_EQUAL("groups", result.value().attributes[0].name.c_str());
    STRCMP_EQUAL("admins", result.value().attributes[0].values.at(0).c_str());
    STRCMP_EQUAL("mail", result.value().attributes[1].name.c_str());
}

// ---- Several IdPs: the Issuer picks the keys, and a login ends at the IdP it started at ----

namespace {

constexpr const char* kIdpB = "https://idp-b.test.example/saml2/idp";

IdpRegistry two_idps() {
    IdpRegistry idps;
    idps.add(test_idp({"idp-rsa"}));                  // kIdpEntity
    idps.add(test_idp({"idp-rsa-next"}, kIdpB));
    return idps;
}

ResponseSpec from_idp_b() {
    ResponseSpec spec;
    spec.issuer = kIdpB;
    spec.assertion.issuer = kIdpB;
    spec.signing_key = "idp-rsa-next";
    return spec;
}

Result<Login> validate_with_request_idps(const ResponseSpec& spec, std::map<std::string, std::string> request_idps) {
    const std::string posted = response_base64(spec);
    ResponseValidator validator(f->sp, f->policy, f->idps);
    ResponseInput input{posted, {kRequestId}, test_now(), ""};
    input.request_idps = std::move(request_idps);
    return validator.validate(input, &f->replay);
}

}  // namespace

TEST(Response, EachIdpIsVerifiedWithItsOwnKeysOnly) {
    f->idps = two_idps();
    auto from_b = f->validate(from_idp_b());
    if (!from_b) FAIL(from_b.error().message().c_str());
    STRCMP_EQUAL(kIdpB, from_b.value().idp_entity_id.c_str());
    // B's key, A's name: the Issuer selects A's keys, which do not verify B's signature.
    ResponseSpec claims_a = from_idp_b();
    claims_a.issuer = kIdpEntity;
    claims_a.assertion.issuer = kIdpEntity;
    claims_a.assertion.id = "_a-other-assertion";
    auto forged = f->validate(claims_a);
    CHECK_FALSE(forged.ok());
    CHECK(forged.error().code != "SAML0285");
    // A's key under B's name is refused the same way.
    ResponseSpec claims_b;
    claims_b.issuer = kIdpB;
    claims_b.assertion.issuer = kIdpB;
    claims_b.assertion.id = "_a-third-assertion";
    CHECK_FALSE(f->validate(claims_b).ok());
}

TEST(Response, AResponseFromAnotherConfiguredIdpThanTheRequestWentToIsRefused) {
    f->idps = two_idps();
    // The browser's login went to A; B answers it (with A's request ID, B's valid signature).
    expect_rejected(validate_with_request_idps(from_idp_b(), {{kRequestId, kIdpEntity}}), "idp-mismatch", "SAML0285");
    // A request the glue knows nothing about is refused too, once the map is given at all.
    expect_rejected(validate_with_request_idps(from_idp_b(), {{"_another", kIdpB}}), "idp-mismatch", "SAML0285");
    // Sent to B, answered by B.
    auto good = validate_with_request_idps(from_idp_b(), {{kRequestId, kIdpB}});
    if (!good) FAIL(good.error().message().c_str());
}

TEST(Response, AnIssuerThatIsNotConfiguredIsRefusedEvenWithAKnownKey) {
    f->idps = two_idps();
    ResponseSpec spec = from_idp_b();
    spec.issuer = "https://idp-c.test.example/saml2/idp";
    spec.assertion.issuer = spec.issuer;
    expect_rejected(f->validate(spec), "issuer", "SAML0234");
}

// ---- Scoped identifiers: an IdP speaks only for the scopes its metadata lists ----------------

namespace {

std::vector<Attribute> scoped_attributes(const std::vector<std::string>& eppn, const std::vector<std::string>& affiliation) {
    auto attributes = typical_attributes();
    attributes.push_back({"urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                          "eduPersonPrincipalName", eppn});
    // SimpleSAMLphp's default: the plain name, no FriendlyName.
    attributes.push_back({"eduPersonScopedAffiliation", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", "",
                          affiliation});
    return attributes;
}

IdpScope literal_scope(const std::string& value) { return IdpScope{value, nullptr}; }

const Attribute* find_attribute(const Login& login, const std::string& name) {
    for (const auto& attribute : login.attributes)
        if (attribute_named(attribute, name)) return &attribute;
    return nullptr;
}

}  // namespace

TEST(Response, ScopedValuesOutsideTheIdpsScopesAreDroppedAndTheUserWithThem) {
    auto a = test_idp({"idp-rsa"});
    a->scopes = {literal_scope("example.org"), IdpScope{"^[a-z]+\\.example\\.org$",
                                                        ScopePattern::compile("^[a-z]+\\.example\\.org$")}};
    IdpRegistry idps;
    idps.add(std::shared_ptr<const IdpDescriptor>(a));
    idps.add(test_idp({"idp-rsa-next"}, kIdpB));
    f->idps = std::move(idps);
    ResponseSpec spec;
    spec.assertion.attributes = scoped_attributes({"alice@EXAMPLE.org", "alice@evil.example", "nobody", "a@b@example.org"},
                                                  {"staff@lab.example.org", "member@example.org.evil.example"});
    auto login = f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "");
    if (!login) FAIL(login.error().message().c_str());
    const Attribute* eppn = find_attribute(login.value(), "eduPersonPrincipalName");
    CHECK(eppn != nullptr);
    CHECK(eppn->values == std::vector<std::string>{"alice@EXAMPLE.org"});
    const Attribute* affiliation = find_attribute(login.value(), "eduPersonScopedAffiliation");
    CHECK(affiliation != nullptr);
    CHECK(affiliation->values == std::vector<std::string>{"staff@lab.example.org"});
    LONGS_EQUAL(4, login.value().notices.size());
    CHECK(login.value().notices[0].rfind("SAML0287 ", 0) == 0);
    CHECK(find_attribute(login.value(), "mail") != nullptr);  // unscoped attributes are not touched

    // Every value dropped: the attribute is gone, and a user taken from it is refused.
    spec.id = "_r-scoped-2";
    spec.assertion.id = "_a-scoped-2";
    spec.assertion.attributes = scoped_attributes({"alice@evil.example"}, {"member@example.org"});
    auto refused = f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "eduPersonPrincipalName");
    expect_rejected(refused, "user-id", "SAML0257");
}

TEST(Response, WithSeveralIdpsOneWithoutScopesSpeaksForNone) {
    f->idps = two_idps();  // neither lists scopes
    ResponseSpec spec = from_idp_b();
    spec.assertion.attributes = scoped_attributes({"alice@example.org"}, {"member@example.org"});
    auto login = f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "");
    if (!login) FAIL(login.error().message().c_str());
    CHECK(find_attribute(login.value(), "eduPersonPrincipalName") == nullptr);
    CHECK(find_attribute(login.value(), "eduPersonScopedAffiliation") == nullptr);
    LONGS_EQUAL(2, login.value().notices.size());
}

TEST(Response, ALoneIdpWithoutScopesIsTrustedForWhatItSays) {
    ResponseSpec spec;  // test_registry(): one IdP, no scopes
    spec.assertion.attributes = scoped_attributes({"alice@anything.example"}, {"member@example.org"});
    auto login = f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "eduPersonPrincipalName");
    if (!login) FAIL(login.error().message().c_str());
    STRCMP_EQUAL("alice@anything.example", login.value().user.c_str());
    CHECK(login.value().notices.empty());
}

TEST(Response, ThousandsOfScopedValuesOutsideTheScopesMakeAFewLogLinesNotThousands) {
    f->idps = two_idps();
    ResponseSpec spec = from_idp_b();
    std::vector<std::string> many;
    for (int i = 0; i < 1000; ++i) many.push_back("m" + std::to_string(i) + "@example.org");
    spec.assertion.attributes = scoped_attributes({"alice@example.org"}, many);
    auto login = f->validate(response_base64(spec), std::vector<std::string>{kRequestId}, "");
    if (!login) FAIL(login.error().message().c_str());
    CHECK(find_attribute(login.value(), "eduPersonScopedAffiliation") == nullptr);
    LONGS_EQUAL(6, login.value().notices.size());
    CHECK(login.value().notices.back().find("996 more scoped values dropped") != std::string::npos);
}

// --- conformance at the edges (issue 18) ---

TEST(Response, SignedResponseMustNameItsOwnIssuer) {
    // SAML profiles 4.1.4.2: the assertion's Issuer may not stand in for a signed Response's.
    ResponseSpec spec;
    spec.include_issuer = false;
    expect_rejected(f->validate(spec), "issuer", "SAML1050");
    // Encrypted, there is no Issuer in clear to stand in at all.
    spec.encrypt = true;
    spec.id += "e";
    expect_rejected(f->validate(spec), "issuer", "SAML0233");
    // An unsigned Response may omit it (SAML core 3.2.2); the signed assertion's Issuer decides.
    ResponseSpec unsigned_response;
    unsigned_response.include_issuer = false;
    unsigned_response.sign_response = false;
    auto result = f->validate(unsigned_response);
    if (!result) FAIL(result.error().message().c_str());
    STRCMP_EQUAL(kIdpEntity, result.value().idp_entity_id.c_str());
    // Present but empty counts as absent.
    ResponseSpec emptied;
    emptied.id = "_r-empty-issuer";
    emptied.assertion.id = "_a-empty-issuer";
    emptied.issuer = "";
    expect_rejected(f->validate(emptied), "issuer", "SAML1050");
}

TEST(Response, BlankUserIdIsRefused) {
    // SAML core 1.3.1: at least one non-whitespace character. ASCII, no-break, ideographic and
    // zero-width spaces alike; whatever attribute holds the user id.
    const std::vector<std::string> blanks = {"", " ", "   ", " \t ", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\x8b\xe2\x80\x8b",
                                             "\xef\xbb\xbf", " \xe2\x80\x83 "};
    int n = 0;
    for (const auto& blank : blanks) {
        ResponseSpec spec;
        spec.id += std::to_string(++n);
        spec.assertion.id += std::to_string(n);
        spec.assertion.name_id = blank;
        expect_rejected(f->validate(spec), "user-id", "SAML1051");
        spec.id += "u";
        spec.assertion.id += "u";
        spec.assertion.name_id = "alice";
        spec.assertion.attributes = {{"urn:oid:0.9.2342.19200300.100.1.1", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                                      "uid", {blank}}};
        expect_rejected(f->validate(response_base64(spec), {kRequestId}, "uid"), "user-id", "SAML1051");
    }
    // A blank NameID does not matter when the user comes from an attribute, and a value with
    // spaces around a visible character is a value.
    ResponseSpec fine;
    fine.assertion.name_id = "   ";
    fine.assertion.attributes = {{"uid", "", "", {"\xc2\xa0" "bob "}}};
    auto result = f->validate(response_base64(fine), {kRequestId}, "uid");
    if (!result) FAIL(result.error().message().c_str());
    STRCMP_EQUAL("\xc2\xa0" "bob ", result.value().user.c_str());
}

TEST(Response, BlankEncryptedNameIdIsRefused) {
    ResponseSpec spec;
    spec.assertion.include_name_id = false;
    spec.assertion.extra_subject = "";
    const std::string name_id = "<saml:NameID xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">  </saml:NameID>";
    std::string assertion = assertion_xml(spec.assertion);
    assertion.insert(assertion.find("<saml:SubjectConfirmation "), encrypt_element(name_id, "EncryptedID", default_encryption()));
    const std::string xml = sign_element(assertion, spec.assertion.id, "idp-rsa");
    ResponseSpec outer;
    outer.sign_response = false;
    outer.include_assertion = false;
    std::string response = response_xml(outer);
    response.insert(response.find("</samlp:Response>"), xml.substr(xml.find("<saml:Assertion")));
    expect_rejected(f->validate(base64_encode(response)), "user-id", "SAML1051");
}

TEST(Response, ExclusiveC14nWithCommentsIsAccepted) {
    // An IdP signing assertion and Response with #WithComments as both CanonicalizationMethod
    // and Transform, a comment in each SignedInfo (signed) and one splitting the NameID (not
    // signed, XMLDSig 4.4.3.3): accepted, and the user is the NameID's whole text.
    for (const bool split : {false, true}) {
        AssertionSpec a;
        a.id = split ? "_a-wc-split" : "_a-wc";
        a.name_id = "admin@example.com.evil.com";
        std::string assertion = assertion_xml(a);
        assertion.insert(assertion.find("<saml:Subject>"),
                         signature_template(a.id, algorithm::exc_c14n_comments, algorithm::exc_c14n_comments, " idp "));
        if (split) assertion.replace(assertion.find(".evil.com<"), 9, "<!---->.evil.com");
        assertion = sign_template(assertion, a.id, "idp-rsa");
        ResponseSpec r;
        r.id = split ? "_r-wc-split" : "_r-wc";
        r.include_assertion = false;
        r.sign_response = false;
        std::string response = response_xml(r);
        response.insert(response.find("</samlp:Response>"), assertion.substr(assertion.find("<saml:Assertion")));
        response.insert(response.find("<samlp:Status>"),
                        signature_template(r.id, algorithm::exc_c14n_comments, algorithm::exc_c14n, "response"));
        response = sign_template(response, r.id, "idp-rsa");
        f->policy.want_response_signed = f->policy.want_assertions_signed = true;
        auto result = f->validate(base64_encode(response));
        if (!result) FAIL(result.error().message().c_str());
        STRCMP_EQUAL("admin@example.com.evil.com", result.value().user.c_str());
        // The comment in the Response's SignedInfo is signed under #WithComments.
        std::string edited = response;
        edited.replace(edited.find("<!--response-->"), 15, "<!--edited-->");
        expect_rejected(f->validate(base64_encode(edited)), "signature", "SAML0222");
    }
}
