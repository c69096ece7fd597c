// The HTTP-Artifact binding: parsing SAMLart (and hostile ones), the signed ArtifactResolve,
// every check on the ArtifactResponse, and the Response inside going through the same
// ResponseValidator as a POSTed one. The IdP's side is built with the test PKI.
#include "artifact.hpp"
#include "encoding.hpp"
#include "idp_builder.hpp"
#include "response.hpp"
#include "xmlsig.hpp"

#include <CppUTest/TestHarness.h>

#include <openssl/evp.h>

#include <algorithm>
#include <set>

using namespace saml;
using namespace saml::test;

namespace {

constexpr const char* kResolver = "https://idp.test.example/artifact";
constexpr const char* kResolveId = "_9a8b7c6d5e4f30211203948576abcdef01";
constexpr const char* kSoapNs = "http://schemas.xmlsoap.org/soap/envelope/";

std::string sha1_of(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
    return std::string(reinterpret_cast<const char*>(digest), length);
}

// type (2) | endpoint index (2) | SourceID (20) | MessageHandle (20), base64.
std::string make_artifact(int type = 4, int index = 0, const std::string& issuer = kIdpEntity,
                          std::size_t handle_bytes = 20) {
    std::string bytes;
    bytes += static_cast<char>(type >> 8);
    bytes += static_cast<char>(type & 0xff);
    bytes += static_cast<char>(index >> 8);
    bytes += static_cast<char>(index & 0xff);
    bytes += sha1_of(issuer);
    bytes += std::string(handle_bytes, '\x5a');
    return base64_encode(bytes);
}

struct ArtifactResponseSpec {
    std::string id = "_ar0123456789abcdef0123456789abcdef";
    std::string issuer = kIdpEntity;
    std::string in_response_to = kResolveId;
    std::string status = "urn:oasis:names:tc:SAML:2.0:status:Success";
    std::string destination;                      // empty: none
    std::chrono::seconds issued_offset{0};
    std::vector<std::string> messages;            // the payload elements, in order
    bool sign = true;
    std::string signing_key = "idp-rsa";
    bool soap_fault = false;
};

std::string soap(const std::string& body) {
    return std::string("<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"") + kSoapNs + "\"><SOAP-ENV:Body>" + body +
           "</SOAP-ENV:Body></SOAP-ENV:Envelope>";
}

std::string artifact_response_soap(const ArtifactResponseSpec& spec) {
    if (spec.soap_fault)
        return soap("<SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>broken</faultstring></SOAP-ENV:Fault>");
    std::string xml = "<samlp:ArtifactResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
                      "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"" + spec.id +
                      "\" Version=\"2.0\" IssueInstant=\"" + format_datetime(test_now() + spec.issued_offset) + "\"";
    if (!spec.in_response_to.empty()) xml += " InResponseTo=\"" + spec.in_response_to + "\"";
    if (!spec.destination.empty()) xml += " Destination=\"" + spec.destination + "\"";
    xml += "><saml:Issuer>" + xml_escape(spec.issuer) + "</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"" +
           spec.status + "\"/></samlp:Status>";
    for (const auto& message : spec.messages) xml += message;
    xml += "</samlp:ArtifactResponse>";
    if (spec.sign) xml = sign_element(xml, spec.id, spec.signing_key);
    return soap(xml);
}

std::shared_ptr<IdpDescriptor> idp_with_resolver(const std::string& entity_id = kIdpEntity) {
    auto idp = test_idp({"idp-rsa"}, entity_id);
    idp->artifact_resolution.push_back({binding::soap, kResolver, "", 0, true});
    idp->artifact_resolution.push_back({binding::post, "https://idp.test.example/not-soap", "", 2, false});
    return idp;
}

struct Fixture {
    SpSettings sp = test_sp();
    SecurityPolicy security;
    ArtifactPolicy policy;
    IdpRegistry idps;
    MemoryReplayCache replay;
    Artifact artifact;

    Fixture() {
        idps.add(idp_with_resolver());
        auto parsed = parse_artifact(make_artifact(), idps);
        if (!parsed) FAIL(parsed.error().message().c_str());
        artifact = parsed.value();
    }

    ArtifactResponseSpec carrying(const ResponseSpec& response = {}) {
        ArtifactResponseSpec spec;
        spec.messages.push_back(response_xml(response));
        return spec;
    }

    Result<ResolvedArtifact> check(const ArtifactResponseSpec& spec) {
        return check_artifact_response(artifact_response_soap(spec), artifact, kResolveId, sp, security, policy,
                                       test_now());
    }

    // What /acs does with a resolved artifact: the normal validator, told about the envelope.
    Result<Login> login(const ResolvedArtifact& resolved) {
        ResponseInput input;
        input.pending_request_ids = {kRequestId};
        input.now = test_now();
        const ResponseEnvelope envelope{resolved.idp_entity_id, resolved.envelope_signed};
        return ResponseValidator(sp, security, idps).validate_xml(resolved.response_xml, input, &replay, &envelope);
    }
};

Fixture* f = nullptr;

void expect_error(const Error& error, const char* code) { STRCMP_EQUAL(code, error.code.c_str()); }

template <typename T>
void expect_refused(const Result<T>& result, const char* code) {
    if (result.ok()) FAIL("expected a refusal, got success");
    expect_error(result.error(), code);
}

}  // namespace

TEST_GROUP(ArtifactParsing) {
    void setup() override { f = new Fixture(); }
    void teardown() override { delete f; }
};

TEST(ArtifactParsing, FindsTheIdpBySourceIdAndTheEndpointByIndex) {
    auto parsed = parse_artifact(make_artifact(), f->idps);
    if (!parsed) FAIL(parsed.error().message().c_str());
    STRCMP_EQUAL(kIdpEntity, parsed.value().idp->entity_id.c_str());
    LONGS_EQUAL(0, parsed.value().endpoint_index);
    STRCMP_EQUAL(kResolver, parsed.value().resolution_endpoint->location.c_str());
    STRCMP_EQUAL(make_artifact().c_str(), parsed.value().encoded.c_str());
}

TEST(ArtifactParsing, ChoosesAmongSeveralIdps) {
    f->idps.add(idp_with_resolver("https://other.test.example/idp"));
    auto parsed = parse_artifact(make_artifact(4, 0, "https://other.test.example/idp"), f->idps);
    if (!parsed) FAIL(parsed.error().message().c_str());
    STRCMP_EQUAL("https://other.test.example/idp", parsed.value().idp->entity_id.c_str());
}

TEST(ArtifactParsing, RefusesAnotherTypeCode) {
    expect_refused(parse_artifact(make_artifact(0x0001), f->idps), "SAML0951");
    expect_refused(parse_artifact(make_artifact(0x0104), f->idps), "SAML0951");
}

TEST(ArtifactParsing, RefusesAWrongLength) {
    expect_refused(parse_artifact(make_artifact(4, 0, kIdpEntity, 19), f->idps), "SAML0950");
    expect_refused(parse_artifact(make_artifact(4, 0, kIdpEntity, 21), f->idps), "SAML0950");
    expect_refused(parse_artifact(make_artifact(4, 0, kIdpEntity, 100), f->idps), "SAML0950");
    expect_refused(parse_artifact("", f->idps), "SAML0950");
    expect_refused(parse_artifact(std::string(5000, 'A'), f->idps), "SAML0950");
}

TEST(ArtifactParsing, RefusesWhatIsNotBase64) {
    auto result = parse_artifact("AAQAA*not base64!", f->idps);
    expect_refused(result, "SAML0950");
    CHECK(result.error().kind == ErrorKind::BadInput);
}

TEST(ArtifactParsing, RefusesAnUnknownSourceId) {
    auto result = parse_artifact(make_artifact(4, 0, "https://evil.example/idp"), f->idps);
    expect_refused(result, "SAML0952");
    CHECK(result.error().kind == ErrorKind::Rejected);
}

TEST(ArtifactParsing, RefusesAnUnknownEndpointIndexOrOneWithoutSoap) {
    expect_refused(parse_artifact(make_artifact(4, 1), f->idps), "SAML0953");
    expect_refused(parse_artifact(make_artifact(4, 2), f->idps), "SAML0953");  // exists, but not SOAP
    expect_refused(parse_artifact(make_artifact(4, 0xffff), f->idps), "SAML0953");
}

TEST_GROUP(ArtifactResolve) {
    void setup() override { f = new Fixture(); }
    void teardown() override { delete f; }
};

TEST(ArtifactResolve, IsASignedRequestInASoapEnvelope) {
    auto message = build_artifact_resolve(f->sp, f->artifact, test_now());
    if (!message) FAIL(message.error().message().c_str());
    XmlDoc doc = parse_xml(message.value().soap_body, {}, "soap");
    xmlNode* envelope = xmlDocGetRootElement(doc.get());
    CHECK(is_element(envelope, kSoapNs, "Envelope"));
    xmlNode* resolve = first_element_child(unique_child(envelope, kSoapNs, "Body"));
    CHECK(is_element(resolve, ns::protocol, "ArtifactResolve"));
    STRCMP_EQUAL(message.value().id.c_str(), attribute(resolve, "ID")->c_str());
    STRCMP_EQUAL(kResolver, attribute(resolve, "Destination")->c_str());
    STRCMP_EQUAL(format_datetime(test_now()).c_str(), attribute(resolve, "IssueInstant")->c_str());
    STRCMP_EQUAL(kSpEntity, element_text(unique_child(resolve, ns::assertion, "Issuer")).c_str());
    STRCMP_EQUAL(f->artifact.encoded.c_str(), element_text(unique_child(resolve, ns::protocol, "Artifact")).c_str());

    // The IdP checks it with the SP's metadata certificate; another key does not verify it.
    register_unique_ids(doc.get(), {{ns::protocol, "ArtifactResolve"}});
    auto sp_key = pki_key("sp-signing");
    CHECK(verify_enveloped_signature(resolve, {sp_key.get()}, {}) == SignatureState::Verified);
    auto other = certificate_public_key(pki_cert("idp-rsa").get());
    CHECK_THROWS(Failure, verify_enveloped_signature(resolve, {other.get()}, {}));
}

TEST(ArtifactResolve, NeedsTheSpKey) {
    f->sp.signing = {};
    expect_refused(build_artifact_resolve(f->sp, f->artifact, test_now()), "SAML0954");
}

TEST_GROUP(ArtifactResponse) {
    void setup() override { f = new Fixture(); }
    void teardown() override { delete f; }
};

TEST(ArtifactResponse, SignedAnswerYieldsTheResponseWhichLogsIn) {
    auto resolved = f->check(f->carrying());
    if (!resolved) FAIL(resolved.error().message().c_str());
    CHECK(resolved.value().envelope_signed);
    STRCMP_EQUAL(kIdpEntity, resolved.value().idp_entity_id.c_str());
    auto login = f->login(resolved.value());
    if (!login) FAIL(login.error().message().c_str());
    STRCMP_EQUAL("alice", login.value().user.c_str());
    STRCMP_EQUAL(kRequestId, login.value().in_response_to.c_str());
}

TEST(ArtifactResponse, TheInnerResponseIsReplayCheckedLikeAPostedOne) {
    auto first = f->check(f->carrying());
    CHECK(f->login(first.value()).ok());
    auto again = f->check(f->carrying());
    expect_refused(f->login(again.value()), "SAML0258");
}

TEST(ArtifactResponse, TheEnvelopeSignatureCoversAnUnsignedResponse) {
    // SimpleSAMLphp's shape: the Response unsigned, the ArtifactResponse signed.
    ResponseSpec response;
    response.sign_response = false;
    response.sign_assertion = false;
    auto resolved = f->check(f->carrying(response));
    if (!resolved) FAIL(resolved.error().message().c_str());
    CHECK(f->login(resolved.value()).ok());
    f->replay.expiries.clear();
    f->security.want_response_signed = true;
    CHECK(f->login(resolved.value()).ok());
    f->replay.expiries.clear();
    f->security.want_assertions_signed = true;  // the assertion's own signature is still demanded
    expect_refused(f->login(resolved.value()), "SAML0247");
}

TEST(ArtifactResponse, UnsignedIsRefusedWhenASignatureIsRequired) {
    auto spec = f->carrying();
    spec.sign = false;
    auto result = f->check(spec);
    expect_refused(result, "SAML0960");
    CHECK(result.error().kind == ErrorKind::Rejected);
}

TEST(ArtifactResponse, UnsignedWhenAllowedStillNeedsTheResponseSigned) {
    f->policy.want_artifact_response_signed = false;
    auto spec = f->carrying();
    spec.sign = false;
    auto signed_inside = f->check(spec);
    if (!signed_inside) FAIL(signed_inside.error().message().c_str());
    CHECK_FALSE(signed_inside.value().envelope_signed);
    CHECK(f->login(signed_inside.value()).ok());

    ResponseSpec bare;
    bare.sign_response = false;
    bare.sign_assertion = false;
    spec = f->carrying(bare);
    spec.sign = false;
    auto resolved = f->check(spec);
    if (!resolved) FAIL(resolved.error().message().c_str());
    expect_refused(f->login(resolved.value()), "SAML0245");
}

TEST(ArtifactResponse, ASignatureByAnotherKeyIsRefused) {
    auto spec = f->carrying();
    spec.signing_key = "idp-rsa-next";  // a real signature, by a key metadata does not list
    auto result = f->check(spec);
    if (result.ok()) FAIL("accepted a signature by an untrusted key");
    CHECK(result.error().kind == ErrorKind::Rejected);
}

TEST(ArtifactResponse, TamperingAfterSigningIsRefused) {
    std::string soap_xml = artifact_response_soap(f->carrying());
    const auto at = soap_xml.find(">alice<");
    CHECK(at != std::string::npos);
    soap_xml.replace(at, 7, ">mallory<");
    auto result = check_artifact_response(soap_xml, f->artifact, kResolveId, f->sp, f->security, f->policy, test_now());
    if (result.ok()) FAIL("accepted a tampered ArtifactResponse");
    CHECK(result.error().kind == ErrorKind::Rejected);
}

TEST(ArtifactResponse, WrongInResponseToIsRefused) {
    auto spec = f->carrying();
    spec.in_response_to = "_someone-elses-request";
    expect_refused(f->check(spec), "SAML0962");
    spec.in_response_to = "";
    expect_refused(f->check(spec), "SAML0962");
}

TEST(ArtifactResponse, WrongOrMissingIssuerIsRefused) {
    f->idps.add(idp_with_resolver("https://other.test.example/idp"));
    auto spec = f->carrying();
    spec.issuer = "https://other.test.example/idp";  // a known IdP, but not the artifact's
    expect_refused(f->check(spec), "SAML0961");
    std::string soap_xml = artifact_response_soap(f->carrying());
    const auto start = soap_xml.find("<saml:Issuer>");
    soap_xml.erase(start, soap_xml.find("</saml:Issuer>", start) + 14 - start);  // the ArtifactResponse's own
    expect_refused(check_artifact_response(soap_xml, f->artifact, kResolveId, f->sp, f->security, f->policy, test_now()),
                   "SAML0961");
}

TEST(ArtifactResponse, StatusOtherThanSuccessIsRefused) {
    auto spec = f->carrying();
    spec.status = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    auto result = f->check(spec);
    expect_refused(result, "SAML0963");
    CHECK(result.error().detail.find("Requester") != std::string::npos);
}

TEST(ArtifactResponse, NoResponseInsideMeansTheArtifactWasUsedOrUnknown) {
    ArtifactResponseSpec spec;  // what SimpleSAMLphp answers for an artifact it no longer has
    expect_refused(f->check(spec), "SAML0966");
}

TEST(ArtifactResponse, TwoResponsesOrAnotherMessageAreRefused) {
    auto spec = f->carrying();
    ResponseSpec second;
    second.id = "_second-response-0123456789abcdef";
    second.assertion.id = "_second-assertion-0123456789abcdef";
    second.assertion.name_id = "mallory";
    spec.messages.push_back(response_xml(second));
    auto result = f->check(spec);
    expect_refused(result, "SAML0967");

    ArtifactResponseSpec logout;
    logout.messages.push_back("<samlp:LogoutRequest ID=\"_lr1\" Version=\"2.0\" IssueInstant=\"" +
                              format_datetime(test_now()) + "\"><saml:Issuer>" + kIdpEntity +
                              "</saml:Issuer></samlp:LogoutRequest>");
    expect_refused(f->check(logout), "SAML0967");
}

TEST(ArtifactResponse, DestinationIfPresentMustBeThisAcs) {
    auto spec = f->carrying();
    spec.destination = kAcs;
    CHECK(f->check(spec).ok());
    spec.destination = "https://elsewhere.example/acs";
    expect_refused(f->check(spec), "SAML0964");
}

TEST(ArtifactResponse, MustBeFresh) {
    auto spec = f->carrying();
    spec.issued_offset = std::chrono::seconds(-61);
    expect_refused(f->check(spec), "SAML0965");
    spec.issued_offset = std::chrono::seconds(61);
    expect_refused(f->check(spec), "SAML0965");
    spec.issued_offset = std::chrono::seconds(-59);
    CHECK(f->check(spec).ok());
}

TEST(ArtifactResponse, AResponseThatFailsTheNormalRulesIsRefusedByThem) {
    ResponseSpec response;
    response.assertion.audience = "https://someone-else.example/sp";
    auto resolved = f->check(f->carrying(response));
    if (!resolved) FAIL(resolved.error().message().c_str());
    expect_refused(f->login(resolved.value()), "SAML0253");

    ResponseSpec unsolicited;
    unsolicited.in_response_to = "_not-our-request";
    unsolicited.assertion.confirmation_in_response_to = "_not-our-request";
    resolved = f->check(f->carrying(unsolicited));
    expect_refused(f->login(resolved.value()), "SAML0238");
}

TEST(ArtifactResponse, TheResponseMustComeFromTheArtifactsIdp) {
    // Another configured IdP's signed Response, relayed by the artifact's IdP.
    auto other = idp_with_resolver("https://other.test.example/idp");
    f->idps.add(other);
    ResponseSpec response;
    response.issuer = "https://other.test.example/idp";
    response.assertion.issuer = "https://other.test.example/idp";
    auto resolved = f->check(f->carrying(response));
    if (!resolved) FAIL(resolved.error().message().c_str());
    expect_refused(f->login(resolved.value()), "SAML0968");
}

TEST(ArtifactResponse, SoapFaultsAndGarbageAreBackChannelFailures) {
    ArtifactResponseSpec fault;
    fault.soap_fault = true;
    auto result = f->check(fault);
    expect_refused(result, "SAML0958");
    CHECK(is_back_channel_failure(result.error()));
    expect_refused(check_artifact_response("<html>Bad gateway</html>", f->artifact, kResolveId, f->sp, f->security,
                                           f->policy, test_now()),
                   "SAML0958");
    auto not_xml = check_artifact_response("not xml", f->artifact, kResolveId, f->sp, f->security, f->policy, test_now());
    CHECK_FALSE(not_xml.ok());
    expect_refused(check_artifact_response(soap(response_xml({})), f->artifact, kResolveId, f->sp, f->security,
                                           f->policy, test_now()),
                   "SAML0958");  // a bare Response where the ArtifactResponse belongs
}

TEST(ArtifactResponse, DoctypeIsRefused) {
    std::string soap_xml = "<!DOCTYPE x [<!ENTITY e \"alice\">]>" + artifact_response_soap(f->carrying());
    auto result = check_artifact_response(soap_xml, f->artifact, kResolveId, f->sp, f->security, f->policy, test_now());
    CHECK_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::BadInput);
}

TEST_GROUP(ArtifactResolution) {
    void setup() override { f = new Fixture(); }
    void teardown() override { delete f; }
};

// The whole exchange, with the IdP's side played by a function that checks what it receives.
TEST(ArtifactResolution, PostsTheSignedRequestAndChecksTheAnswer) {
    std::string seen_url, seen_id;
    std::vector<std::string> seen_headers;
    long seen_redirects = -1;
    HttpExchange idp = [&](const HttpRequest& request, const HttpOptions& options) -> Result<HttpResponse> {
        seen_url = request.url;
        seen_headers = request.headers;
        seen_redirects = options.max_redirects;
        XmlDoc doc = parse_xml(request.body, {}, "request");
        xmlNode* resolve = first_element_child(first_element_child(xmlDocGetRootElement(doc.get())));
        seen_id = attribute(resolve, "ID").value_or("");
        auto spec = f->carrying();
        spec.in_response_to = seen_id;
        HttpResponse response;
        response.status = 200;
        response.body = artifact_response_soap(spec);
        return response;
    };
    auto resolved = resolve_artifact(make_artifact(), f->sp, f->idps, f->security, f->policy, test_now(), idp);
    if (!resolved) FAIL(resolved.error().message().c_str());
    STRCMP_EQUAL(kResolver, seen_url.c_str());
    LONGS_EQUAL(0, seen_redirects);
    CHECK(seen_id.size() > 20);
    CHECK(std::find(seen_headers.begin(), seen_headers.end(), "Content-Type: text/xml; charset=utf-8") !=
          seen_headers.end());
    CHECK(f->login(resolved.value()).ok());
}

TEST(ArtifactResolution, AnAnswerToAnotherRequestIsRefused) {
    HttpExchange idp = [&](const HttpRequest&, const HttpOptions&) -> Result<HttpResponse> {
        HttpResponse response;
        response.status = 200;
        response.body = artifact_response_soap(f->carrying());  // answers kResolveId, not the fresh ID
        return response;
    };
    expect_refused(resolve_artifact(make_artifact(), f->sp, f->idps, f->security, f->policy, test_now(), idp), "SAML0962");
}

TEST(ArtifactResolution, TransportFailuresBecomeBackChannelErrors) {
    const auto failing = [](const char* code) {
        return HttpExchange([code](const HttpRequest&, const HttpOptions&) -> Result<HttpResponse> {
            return Error{ErrorKind::BadInput, code, "http", "simulated"};
        });
    };
    auto timeout = resolve_artifact(make_artifact(), f->sp, f->idps, f->security, f->policy, test_now(), failing("SAML0905"));
    expect_refused(timeout, "SAML0956");
    CHECK(is_back_channel_timeout(timeout.error()));
    auto refused = resolve_artifact(make_artifact(), f->sp, f->idps, f->security, f->policy, test_now(), failing("SAML0907"));
    expect_refused(refused, "SAML0955");
    CHECK(is_back_channel_failure(refused.error()));
    expect_refused(resolve_artifact(make_artifact(), f->sp, f->idps, f->security, f->policy, test_now(), failing("SAML0901")),
                   "SAML0969");
    HttpExchange error_page = [](const HttpRequest&, const HttpOptions&) -> Result<HttpResponse> {
        HttpResponse response;
        response.status = 500;
        response.body = "oops";
        return response;
    };
    expect_refused(resolve_artifact(make_artifact(), f->sp, f->idps, f->security, f->policy, test_now(), error_page),
                   "SAML0957");
}

TEST(ArtifactResolution, PlainHttpEndpointIsRefusedByTheRealClient) {
    auto idp = test_idp({"idp-rsa"}, "https://plain.test.example/idp");
    idp->artifact_resolution.push_back({binding::soap, "http://127.0.0.1:9/artifact", "", 0, true});
    f->idps.add(idp);
    auto result = resolve_artifact(make_artifact(4, 0, "https://plain.test.example/idp"), f->sp, f->idps, f->security,
                                   f->policy, test_now());
    expect_refused(result, "SAML0969");
    CHECK(result.error().detail.find("SAML0901") != std::string::npos);
}

TEST(ArtifactResolution, BadArtifactsNeverReachTheNetwork) {
    bool called = false;
    HttpExchange idp = [&](const HttpRequest&, const HttpOptions&) -> Result<HttpResponse> {
        called = true;
        return Error{ErrorKind::Internal, "SAML0001", "test", "must not be called"};
    };
    expect_refused(resolve_artifact(make_artifact(4, 0, "https://evil.example/idp"), f->sp, f->idps, f->security,
                                    f->policy, test_now(), idp),
                   "SAML0952");
    expect_refused(resolve_artifact(make_artifact(2), f->sp, f->idps, f->security, f->policy, test_now(), idp), "SAML0951");
    CHECK_FALSE(called);
}
