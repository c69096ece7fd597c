// Metadata as people download it (test/fixtures/idp-metadata, each file says where it was found)
// and what the administrator is told about it: a file's validUntil and cacheDuration, certificates
// that only serial and expiry tell apart, long entityIDs, Entra's 'common' metadata, and the
// things saved in metadata's place (an HTML page, a certificate, JSON).
#include "crypto.hpp"
#include "error.hpp"
#include "metadata.hpp"
#include "metadata_expiry.hpp"
#include "test_support.hpp"

#include <CppUTest/TestHarness.h>

#include <openssl/x509.h>

#include <cstdlib>
#include <optional>
#include <string>

using namespace saml;
using std::chrono::hours;

namespace {

std::string fixture(const std::string& name) {
    const char* src = std::getenv("SAML_SRCDIR");
    return read_file(std::string(src  ? src : ".") + "/test/fixtures/idp-metadata/" + name, 1 << 20);
}

Instant at(const char* datetime) { return parse_datetime(datetime, "test"); }

LoadedMetadata load_as_file(const std::string& xml, Instant now) {
    MetadataOptions options;
    options.now = now;
    options.allow_expired = true;  // what SAMLIdPMetadataFile asks for
    auto loaded = parse_idp_metadata(xml, options);
    CHECK_TRUE_TEXT(loaded.ok(), loaded.ok() ? "" : loaded.error().message().c_str());
    return std::move(loaded).value();
}

Error load_error(const std::string& text) {
    auto loaded = parse_idp_metadata(text, MetadataOptions{});
    CHECK_FALSE(loaded.ok());
    return loaded ? Error{} : loaded.error();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::optional<MetadataWarning> find_warning(const LoadedMetadata& loaded, const std::string& code) {
    for (const auto& warning : loaded.warnings)
        if (warning.code == code) return warning;
    return std::nullopt;
}

}  // namespace

TEST_GROUP(PublishedMetadataFiles){};

TEST(PublishedMetadataFiles, GoogleWorkspaceFileLoadsLongAfterItsValidUntilAndSaysSo) {
    const Instant now = at("2026-12-03T09:00:00Z");
    const std::string xml = fixture("google-workspace-2021.xml");
    // As a URL's document it is refused: SAMLIdPMetadataURL keeps that rule.
    MetadataOptions strict;
    strict.now = now;
    auto refused = parse_idp_metadata(xml, strict);
    CHECK_FALSE(refused.ok());
    STRCMP_EQUAL("SAML0406", refused.error().code.c_str());

    const LoadedMetadata loaded = load_as_file(xml, now);
    LONGS_EQUAL(1, loaded.idps.size());
    STRCMP_EQUAL("https://accounts.google.com/o/saml2?idpid=C00itr2x5", loaded.idps[0]->entity_id.c_str());
    const auto expiry = first_expiry(loaded);
    CHECK_TRUE(expiry.has_value());
    CHECK_TRUE(expiry->at == at("2021-02-20T10:46:54Z"));
    CHECK_TRUE(expiry->entity_id.empty());  // the document's own validUntil

    const auto notice = file_expiry_notice("/etc/apache2/saml/google.xml", expiry, now);
    CHECK_TRUE(notice.has_value());
    STRCMP_EQUAL("SAML1101", notice->code.c_str());
    CHECK_TRUE(notice->level == FileNotice::Level::Error);
    CHECK_TRUE_TEXT(contains(notice->message, "/etc/apache2/saml/google.xml: its validUntil passed at 2021-02-20T10:46:54Z"),
                    notice->message.c_str());
    CHECK_TRUE_TEXT(contains(notice->message, "days ago") && contains(notice->message, "still used"), notice->message.c_str());
}

TEST(PublishedMetadataFiles, AWarningComesWithinTheWarningTimeAndNothingBefore) {
    const LoadedMetadata loaded = load_as_file(fixture("google-workspace-2026.xml"), at("2026-06-01T00:00:00Z"));
    const auto expiry = first_expiry(loaded);
    CHECK_TRUE(expiry->at == at("2026-09-14T23:17:31Z"));
    CHECK_FALSE(file_expiry_notice("g.xml", expiry, at("2026-08-01T00:00:00Z")).has_value());  // 44 days ahead
    const auto soon = file_expiry_notice("g.xml", expiry, at("2026-09-01T23:17:31Z"));
    CHECK_TRUE(soon.has_value());
    STRCMP_EQUAL("SAML1100", soon->code.c_str());
    CHECK_TRUE(soon->level == FileNotice::Level::Warning);
    CHECK_TRUE_TEXT(contains(soon->message, "is 2026-09-14T23:17:31Z (in 13 days)"), soon->message.c_str());
    // SAMLIdPMetadataFileWarning 60: earlier.
    CHECK_TRUE(file_expiry_notice("g.xml", expiry, at("2026-08-01T00:00:00Z"), hours(24 * 60)).has_value());
    // A document without validUntil says nothing.
    const LoadedMetadata aws = load_as_file(fixture("aws-iam-identity-center.xml"), at("2026-06-01T00:00:00Z"));
    CHECK_FALSE(first_expiry(aws).has_value());
    CHECK_FALSE(file_expiry_notice("aws.xml", first_expiry(aws), at("2026-06-01T00:00:00Z")).has_value());
}

TEST(PublishedMetadataFiles, TheFirstIdpToExpireInAnAggregateIsNamed) {
    const std::string google = fixture("google-workspace-2026.xml");
    const std::string entity = google.substr(google.find("<md:EntityDescriptor"));
    const std::string aws = fixture("aws-iam-identity-center.xml");
    const std::string xml = "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
                            "validUntil=\"2027-01-01T00:00:00Z\">" +
                            entity + aws.substr(aws.find("<md:EntityDescriptor")) + "</md:EntitiesDescriptor>";
    const LoadedMetadata loaded = load_as_file(xml, at("2026-12-03T09:00:00Z"));
    LONGS_EQUAL(2, loaded.idps.size());
    const auto expiry = first_expiry(loaded);
    CHECK_TRUE(expiry->at == at("2026-09-14T23:17:31Z"));
    STRCMP_EQUAL("https://accounts.google.com/o/saml2?idpid=C01o3oocn", expiry->entity_id.c_str());
    const auto notice = file_expiry_notice("agg.xml", expiry, at("2026-12-03T09:00:00Z"));
    CHECK_TRUE_TEXT(contains(notice->message, "the validUntil of IdP 'https://accounts.google.com/o/saml2?idpid=C01o3oocn' passed"),
                    notice->message.c_str());
}

TEST(PublishedMetadataFiles, TwoGoogleCertificatesWithOneSubjectPrintApart) {
    const Instant now = at("2026-12-03T09:00:00Z");
    const auto old_one = find_warning(load_as_file(fixture("google-workspace-2021.xml"), now), "SAML0405");
    const auto new_one = find_warning(load_as_file(fixture("google-workspace-2026.xml"), now), "SAML0405");
    CHECK_TRUE(old_one.has_value() && new_one.has_value());
    // Same subject; serial and expiry differ, and both are in the line.
    for (const auto& warning : {old_one, new_one})
        CHECK_TRUE_TEXT(contains(warning->message, "subject 'ST=California,C=US,OU=Google For Work,CN=Google,L=Mountain View,O=Google Inc.'"),
                        warning->message.c_str());
    CHECK_TRUE_TEXT(contains(old_one->message, "serial 01530896CFE2, not after 2021-02-20T10:46:54Z, self-signed"),
                    old_one->message.c_str());
    CHECK_TRUE_TEXT(contains(new_one->message, "serial 017BEBC04903, not after 2026-09-14T23:17:31Z, self-signed"),
                    new_one->message.c_str());
    CHECK_TRUE(old_one->message != new_one->message);
}

TEST(PublishedMetadataFiles, AwsEntityIdsArePrintedWhole) {
    const std::string id = "https://portal.sso.us-east-1.amazonaws.com/saml/assertion/NzQ4OTA2OTEyNDY5X2lucy00NGQ2M2ZjOGM2OWUyNGJl";
    LONGS_EQUAL(102, id.size());
    // In 2031 its certificate (to 2030-09-23) has expired: the notice names the whole entityID.
    const auto warning = find_warning(load_as_file(fixture("aws-iam-identity-center.xml"), at("2031-01-01T00:00:00Z")), "SAML0405");
    CHECK_TRUE(warning.has_value());
    CHECK_TRUE_TEXT(contains(warning->message, "IdP '" + id + "' publishes an expired signing certificate"), warning->message.c_str());
    CHECK_TRUE_TEXT(contains(warning->message, "issuer 'C=US,O=Amazon,OU=IDAS,CN=amazonaws.com'") ||
                        contains(warning->message, "self-signed"),
                    warning->message.c_str());
    // Two applications differ only in their last characters.
    const std::string other = id.substr(0, id.size() - 1) + "m";
    CHECK_TRUE(excerpt(id) != excerpt(other));
}

TEST(PublishedMetadataFiles, EntraCommonMetadataLoadsWithAWarningThatNoLoginCanWork) {
    const LoadedMetadata loaded = load_as_file(fixture("entra-common.xml"), at("2026-12-03T09:00:00Z"));
    LONGS_EQUAL(1, loaded.idps.size());
    const auto warning = find_warning(loaded, "SAML1105");
    CHECK_TRUE(warning.has_value());
    CHECK_TRUE(warning->level == MetadataWarning::Level::Warning);
    CHECK_TRUE_TEXT(contains(warning->message, "IdP 'https://sts.windows.net/{tenantid}/' has a template placeholder"),
                    warning->message.c_str());
    CHECK_TRUE_TEXT(contains(warning->message, "no login through it can succeed"), warning->message.c_str());
    CHECK_TRUE_TEXT(contains(warning->message, "https://login.microsoftonline.com/<tenant-id>/federationmetadata/2007-06/"
                                               "federationmetadata.xml?appid=<application-id>"),
                    warning->message.c_str());
    // A tenant's own metadata has no such warning, and another product's placeholder gets the general one.
    std::string tenant = fixture("entra-common.xml");
    tenant.replace(tenant.find("{tenantid}/\">"), 10, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    CHECK_FALSE(find_warning(load_as_file(tenant, at("2026-12-03T09:00:00Z")), "SAML1105").has_value());
    std::string templated = fixture("aws-iam-identity-center.xml");
    templated.replace(templated.find("NzQ4OTA2OTEyNDY5X2lucy00NGQ2M2ZjOGM2OWUyNGJl\">"), 44, "{instance}");
    const auto general = find_warning(load_as_file(templated, at("2026-12-03T09:00:00Z")), "SAML1105");
    CHECK_TRUE(general.has_value());
    CHECK_TRUE_TEXT(contains(general->message, "your own tenant or instance") && !contains(general->message, "Entra"),
                    general->message.c_str());
}

TEST(PublishedMetadataFiles, ASavedSignInPageIsNamedAsOne) {
    const Error error = load_error(fixture("html-login-page.xml"));
    STRCMP_EQUAL("SAML1104", error.code.c_str());
    CHECK_TRUE_TEXT(contains(error.detail, "this is an HTML page titled 'Sign in to your account'"), error.detail.c_str());
    CHECK_TRUE_TEXT(contains(error.detail, "download the IdP's SAML 2.0 metadata XML"), error.detail.c_str());
    CHECK_FALSE(contains(error.detail, "DOCTYPE"));
    // Without a DOCTYPE, and as well-formed XHTML (which parses, then has the wrong root).
    STRCMP_EQUAL("SAML1104", load_error("<html><body><p>Download metadata</p></body></html>").code.c_str());
    const Error xhtml = load_error("<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"><head>"
                                   "<title>Okta</title></head><body/></html>");
    STRCMP_EQUAL("SAML1104", xhtml.code.c_str());
    CHECK_TRUE_TEXT(contains(xhtml.detail, "titled 'Okta'"), xhtml.detail.c_str());
}

TEST(PublishedMetadataFiles, ACertificateSavedAsMetadataIsNamedAsOne) {
    const std::string pem = fixture("google-signing-certificate.pem");
    const Error error = load_error(pem);
    STRCMP_EQUAL("SAML1104", error.code.c_str());
    CHECK_TRUE_TEXT(contains(error.detail, "this is a PEM certificate, probably the IdP's signing certificate, not its metadata"),
                    error.detail.c_str());
    // With a BOM and blank lines before it, as Windows tools save it; and as DER.
    STRCMP_EQUAL("SAML1104", load_error("\xEF\xBB\xBF\r\n" + pem).code.c_str());
    const auto cert = load_certificate_pem(pem, "test");
    unsigned char* der = nullptr;
    const int length = i2d_X509(cert.get(), &der);
    const std::string der_text(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    const Error binary = load_error(der_text);
    STRCMP_EQUAL("SAML1104", binary.code.c_str());
    CHECK_TRUE_TEXT(contains(binary.detail, "binary (DER)"), binary.detail.c_str());
    // Another PEM file is named by its label.
    const Error key = load_error("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
    CHECK_TRUE_TEXT(contains(key.detail, "a PEM file (PRIVATE KEY)"), key.detail.c_str());
}

TEST(PublishedMetadataFiles, JsonAndOtherXmlKeepTheirOwnMessages) {
    const Error json = load_error("{\"issuer\":\"https://login.microsoftonline.com/x/v2.0\"}");
    STRCMP_EQUAL("SAML1104", json.code.c_str());
    CHECK_TRUE(contains(json.detail, "JSON"));
    // Not one of those: the parser's and the root check's own messages stand.
    STRCMP_EQUAL("SAML0401", load_error("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>").code.c_str());
    STRCMP_EQUAL("SAML0103", load_error("<!DOCTYPE x [<!ENTITY a \"b\">]><x/>").code.c_str());
    CHECK_TRUE(load_error("plain text, not XML").code != "SAML1104");
}

TEST(PublishedMetadataFiles, AFileOlderThanItsCacheDurationGetsANotice) {
    const Instant now = at("2026-12-03T09:00:00Z");
    CHECK_FALSE(file_cache_notice("f.xml", std::nullopt, now - hours(24 * 400), now).has_value());
    CHECK_FALSE(file_cache_notice("f.xml", std::chrono::seconds(6 * 3600), now - hours(5), now).has_value());
    const auto notice = file_cache_notice("f.xml", std::chrono::seconds(6 * 3600), now - hours(72), now);
    CHECK_TRUE(notice.has_value());
    STRCMP_EQUAL("SAML1103", notice->code.c_str());
    CHECK_TRUE(notice->level == FileNotice::Level::Notice);
    CHECK_TRUE_TEXT(contains(notice->message, "re-read every 6 hours, and the file was last changed 3 days ago"),
                    notice->message.c_str());
}

TEST_GROUP(PrintableText){};

TEST(PrintableText, Utf8StaysAndWhatCouldBreakALineIsEscaped) {
    STRCMP_EQUAL("Jürgen Müller – Zürich", printable("Jürgen Müller – Zürich", 100).c_str());
    STRCMP_EQUAL("a\\x0Ab\\x1B[31m\\x7F", printable("a\nb\x1b[31m\x7f", 100).c_str());
    STRCMP_EQUAL("M\\xC3ller", printable("M\xC3ller", 100).c_str());          // a lone lead byte
    STRCMP_EQUAL("\\xC0\\xAF", printable("\xC0\xAF", 100).c_str());           // overlong '/'
    STRCMP_EQUAL("\\xED\\xA0\\x80", printable("\xED\xA0\x80", 100).c_str());  // a surrogate
    STRCMP_EQUAL("x\\u{202E}gpj.exe", printable("x\xE2\x80\xAEgpj.exe", 100).c_str());  // right-to-left override
    STRCMP_EQUAL("a\\u{2028}b", printable("a\xE2\x80\xA8" "b", 100).c_str());  // line separator
    STRCMP_EQUAL("\\x85", printable("\xC2\x85", 100).c_str());                 // C1 next line
}

TEST(PrintableText, CutAtACharacterBoundary) {
    std::string long_name;
    for (int i = 0; i < 600; ++i) long_name += "é";
    const std::string cut = printable(long_name, 512);
    LONGS_EQUAL(512 * 2 + 3, cut.size());
    STRCMP_EQUAL("...", cut.substr(cut.size() - 3).c_str());
    STRCMP_EQUAL("abc", printable("abc", 3).c_str());
    STRCMP_EQUAL("ab...", printable("abc", 2).c_str());
    LONGS_EQUAL(512 + 3, excerpt(std::string(2000, 'x')).size());
}

TEST(PrintableText, ACertificateWithAUtf8SubjectPrintsItAsUtf8) {
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 0x1234ab);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "20240501000000Z");
    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Université de Genève\n"), -1, -1, 0);
    X509_NAME* issuer = X509_get_issuer_name(cert.get());
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Föderations-CA"), -1, -1, 0);
    X509_set_pubkey(cert.get(), test::pki_key("idp-rsa").get());
    X509_sign(cert.get(), test::pki_key("idp-rsa").get(), EVP_sha256());
    const std::string text = certificate_identity(cert.get());
    STRCMP_EQUAL("subject 'CN=Université de Genève\\0A', serial 1234AB, not after 2024-05-01T00:00:00Z, issuer 'CN=Föderations-CA'",
                 text.c_str());
}
