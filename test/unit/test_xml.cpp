#include "encoding.hpp"
#include "error.hpp"
#include "time.hpp"
#include "xml.hpp"
#include "xml_spans.hpp"

#include <CppUTest/TestHarness.h>

#include <string>

using namespace saml;

namespace {

Error parse_error(const std::string& xml, XmlLimits limits = {}) {
    auto result = guarded([&] { return parse_xml(xml, limits, "test document").release() != nullptr; });
    CHECK_FALSE(result.ok());
    return result.error();
}

}  // namespace

TEST_GROUP(SecureXml){};

TEST(SecureXml, ParsesPlainDocument) {
    auto doc = parse_xml("<a xmlns='urn:x'><b>text</b></a>", {}, "doc");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    CHECK(is_element(root, "urn:x", "a"));
    STRCMP_EQUAL("text", element_text(first_element_child(root)).c_str());
}

TEST(SecureXml, RefusesAnyDoctype) {
    STRCMP_EQUAL("SAML0103", parse_error("<!DOCTYPE a><a/>").code.c_str());
}

TEST(SecureXml, RefusesBillionLaughs) {
    std::string doc = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
    for (int i = 1; i < 10; ++i) {
        doc += "<!ENTITY lol" + std::to_string(i) + " '";
        for (int j = 0; j < 10; ++j) doc += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
        doc += "'>";
    }
    doc += "]><lolz>&lol9;</lolz>";
    STRCMP_EQUAL("SAML0103", parse_error(doc).code.c_str());
}

TEST(SecureXml, RefusesExternalEntitiesAndParameterEntities) {
    STRCMP_EQUAL("SAML0103",
                 parse_error("<!DOCTYPE a [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><a>&x;</a>").code.c_str());
    STRCMP_EQUAL("SAML0103",
                 parse_error("<!DOCTYPE a [<!ENTITY % p SYSTEM 'http://127.0.0.1:1/x.dtd'> %p;]><a/>").code.c_str());
    STRCMP_EQUAL("SAML0103", parse_error("<!DOCTYPE a SYSTEM 'http://127.0.0.1:1/a.dtd'><a/>").code.c_str());
}

TEST(SecureXml, UndeclaredEntityIsMalformed) {
    STRCMP_EQUAL("SAML0104", parse_error("<a>&x;</a>").code.c_str());
}

TEST(SecureXml, XIncludeIsNotProcessed) {
    auto doc = parse_xml("<a xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='file:///etc/passwd' "
                         "parse='text'/></a>",
                         {}, "doc");
    xmlNode* include = first_element_child(xmlDocGetRootElement(doc.get()));
    CHECK(is_element(include, "http://www.w3.org/2001/XInclude", "include"));
    STRCMP_EQUAL("", deep_text(xmlDocGetRootElement(doc.get())).c_str());
}

TEST(SecureXml, EnforcesSizeAndDepth) {
    XmlLimits limits;
    limits.max_bytes = 10;
    STRCMP_EQUAL("SAML0102", parse_error("<a>0123456789</a>", limits).code.c_str());
    std::string deep;
    for (int i = 0; i < 70; ++i) deep += "<a>";
    for (int i = 0; i < 70; ++i) deep += "</a>";
    STRCMP_EQUAL("SAML0105", parse_error(deep).code.c_str());
    limits = XmlLimits{};
    limits.max_depth = 70;
    CHECK(parse_xml(deep, limits, "deep") != nullptr);
}

TEST(SecureXml, RefusesMalformedAndEmpty) {
    STRCMP_EQUAL("SAML0104", parse_error("<a><b></a>").code.c_str());
    STRCMP_EQUAL("SAML0104", parse_error("not xml at all").code.c_str());
    STRCMP_EQUAL("SAML0101", parse_error("").code.c_str());
    STRCMP_EQUAL("SAML0104", parse_error(std::string("<a>\0</a>", 8)).code.c_str());
}

TEST(SecureXml, TextSurvivesCommentsAndCdata) {
    auto doc = parse_xml("<n>admin@example.com<!-- cut -->.evil.com<![CDATA[!]]></n>", {}, "doc");
    STRCMP_EQUAL("admin@example.com.evil.com!", element_text(xmlDocGetRootElement(doc.get())).c_str());
}

TEST(SecureXml, TextRefusesChildElements) {
    auto doc = parse_xml("<n>alice<b>x</b></n>", {}, "doc");
    auto result = guarded([&] { return element_text(xmlDocGetRootElement(doc.get())); });
    CHECK_FALSE(result.ok());
    STRCMP_EQUAL("SAML0108", result.error().code.c_str());
}

TEST(SecureXml, AttributesIgnoreNamespacedLookalikes) {
    auto doc = parse_xml("<a xmlns:x='urn:x' x:ID='evil' ID='good'/>", {}, "doc");
    STRCMP_EQUAL("good", attribute(xmlDocGetRootElement(doc.get()), "ID")->c_str());
    auto doc2 = parse_xml("<a xmlns:x='urn:x' x:ID='evil'/>", {}, "doc");
    CHECK_FALSE(attribute(xmlDocGetRootElement(doc2.get()), "ID").has_value());
}

TEST(SecureXml, EscapesMarkup) {
    STRCMP_EQUAL("&lt;a href=&quot;x&quot;&gt;&amp;&#39;", xml_escape("<a href=\"x\">&'").c_str());
}

TEST_GROUP(Encoding){};

TEST(Encoding, Base64RoundTripsAllLengths) {
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        CHECK(base64_decode(base64_encode(bytes), 1000, "t") == bytes);
        CHECK(base64url_decode(base64url_encode(bytes), 1000, "t") == bytes);
        bytes += static_cast<char>(i * 7);
    }
}

TEST(Encoding, Base64SkipsWhitespaceAndRefusesGarbage) {
    STRCMP_EQUAL("hello", base64_decode("aGVs\r\nbG8=", 100, "t").c_str());
    CHECK_FALSE(guarded([] { return base64_decode("aGVsbG8", 100, "t"); }).ok());     // truncated padding
    CHECK_FALSE(guarded([] { return base64_decode("aGVs*bG8=", 100, "t"); }).ok());   // alphabet
    CHECK_FALSE(guarded([] { return base64_decode("aGVsbG8=x", 100, "t"); }).ok());   // data after padding
    CHECK_FALSE(guarded([] { return base64_decode("a", 100, "t"); }).ok());           // lone char
    CHECK_FALSE(guarded([] { return base64_decode("aGVsbG9=", 100, "t"); }).ok());    // non-canonical
    CHECK_FALSE(guarded([] { return base64url_decode("aGVsbG8=", 100, "t"); }).ok()); // padding in url form
    STRCMP_EQUAL("", base64_decode("", 100, "t").c_str());
}

TEST(Encoding, Base64BoundsOutput) {
    auto result = guarded([] { return base64_decode(std::string(4000, 'A'), 1000, "t"); });
    CHECK_FALSE(result.ok());
    STRCMP_EQUAL("SAML0102", result.error().code.c_str());
}

TEST(Encoding, DeflateRoundTripAndBomb) {
    const std::string text(100000, 'x');
    CHECK(inflate_raw(deflate_raw(text), 200000, "t") == text);
    auto bomb = guarded([&] { return inflate_raw(deflate_raw(text), 1000, "t"); });
    CHECK_FALSE(bomb.ok());
    STRCMP_EQUAL("SAML0102", bomb.error().code.c_str());
    CHECK_FALSE(guarded([] { return inflate_raw("not deflate", 1000, "t"); }).ok());
    CHECK_FALSE(guarded([&] { return inflate_raw(deflate_raw(text).substr(0, 20), 200000, "t"); }).ok());
}

TEST(Encoding, UrlEncoding) {
    STRCMP_EQUAL("a%20b%2Fc~", url_encode("a b/c~").c_str());
    STRCMP_EQUAL("a b/c", url_decode("a+b%2fc", "t").c_str());
    CHECK_FALSE(guarded([] { return url_decode("%4", "t"); }).ok());
    CHECK_FALSE(guarded([] { return url_decode("%zz", "t"); }).ok());
}

TEST_GROUP(DateTime){};

TEST(DateTime, ParsesForms) {
    LONGS_EQUAL(0, to_unix(parse_datetime("1970-01-01T00:00:00Z", "t")));
    LONGS_EQUAL(1795790243, to_unix(parse_datetime("2026-11-27T14:37:23Z", "t")));
    LONGS_EQUAL(1795790243, to_unix(parse_datetime("2026-11-27T14:37:23.999Z", "t")));
    LONGS_EQUAL(1795790243, to_unix(parse_datetime("2026-11-27T15:37:23+01:00", "t")));
    LONGS_EQUAL(1795790243, to_unix(parse_datetime("2026-11-27T14:37:23", "t")));
    STRCMP_EQUAL("2026-11-27T14:37:23Z", format_datetime(from_unix(1795790243)).c_str());
}

TEST(DateTime, FarFutureIsClampedNotOverflowed) {
    LONGS_EQUAL(7258118400, to_unix(parse_datetime("9999-12-31T23:59:59Z", "t")));
    LONGS_EQUAL(7258118400, to_unix(parse_datetime("2262-04-12T00:00:00.999999Z", "t")));
    STRCMP_EQUAL("2200-01-01T00:00:00Z", format_datetime(parse_datetime("5000-01-01T00:00:00Z", "t")).c_str());
}

TEST(DateTime, RefusesGarbage) {
    const char* bad[] = {"", "2026-11-27", "2026-13-01T00:00:00Z", "2026-11-27T14:37:23ZZ", "2026-11-27 14:37:23Z",
                         "2026-11-27T14:37:23.Z", "20261127T143723Z", "2026-02-30T00:00:00Z", "x026-11-27T14:37:23Z"};
    for (const char* text : bad) CHECK_FALSE(guarded([&] { return parse_datetime(text, "t"); }).ok());
}

TEST(Encoding, Base64BoundIsExactAtEveryLength) {
    // Around the limit, with and without tails, the decoder must neither overrun nor refuse.
    for (std::size_t limit = 0; limit < 12; ++limit)
        for (std::size_t n = 0; n < 16; ++n) {
            const std::string bytes(n, 'x');
            auto result = guarded([&] { return base64_decode(base64_encode(bytes), limit, "t"); });
            CHECK_EQUAL(n <= limit, result.ok());
            if (result.ok()) CHECK(result.value() == bytes);
        }
}

TEST(SecureXml, RefusesUndeclaredPrefixes) {
    STRCMP_EQUAL("SAML0104", parse_error("<a:root><b/></a:root>").code.c_str());
    STRCMP_EQUAL("SAML0104", parse_error("<root x:attr='1'/>").code.c_str());
}

// format_datetime writes its digits by hand for years 0..9999 (it runs on every exported
// request); each field must come out as xs:dateTime wants and parse back to the same instant.
TEST(DateTime, FormatsEveryFieldAndParsesBack) {
    const char* samples[] = {"1970-01-01T00:00:00Z", "2026-06-01T12:00:00Z", "2024-02-29T23:59:59Z",
                             "2000-12-31T09:05:07Z", "1999-01-09T10:20:30Z", "2199-12-31T23:59:59Z"};
    for (const char* sample : samples) {
        const auto instant = saml::parse_datetime(sample, "test");
        STRCMP_EQUAL(sample, saml::format_datetime(instant).c_str());
    }
}

// ---- element_spans: byte ranges of elements in a parsed document ------------------------------

TEST_GROUP(ElementSpans){};

TEST(ElementSpans, FindsElementsByDocumentOrderPastCommentsCdataAndQuotedMarkup) {
    const std::string xml =
        "<?xml version=\"1.0\"?><!-- <x> --><a k=\"1 > 2\" j='/>'><b/><![CDATA[<c>]]><?p <d>?>"
        "<p:c xmlns:p=\"urn:p\">t<e/></p:c><f></f></a>";
    parse_xml(xml, XmlLimits{}, "fixture");  // it is a document parse_xml accepts
    const auto spans = element_spans(xml, {0, 1, 2, 3, 4});
    CHECK(spans.has_value());
    const auto text = [&](std::size_t i) { return xml.substr((*spans)[i].begin, (*spans)[i].end - (*spans)[i].begin); };
    STRCMP_EQUAL(xml.substr(xml.find("<a ")).c_str(), text(0).c_str());
    STRCMP_EQUAL("<b/>", text(1).c_str());
    STRCMP_EQUAL("<p:c xmlns:p=\"urn:p\">t<e/></p:c>", text(2).c_str());
    STRCMP_EQUAL("p:c", std::string((*spans)[2].qname).c_str());
    STRCMP_EQUAL("<e/>", text(3).c_str());
    STRCMP_EQUAL("<f></f>", text(4).c_str());
}

TEST(ElementSpans, RefusesWhatItCannotScan) {
    CHECK_FALSE(element_spans("<!DOCTYPE a><a/>", {0}).has_value());
    CHECK_FALSE(element_spans("<a><b>", {1}).has_value());          // never closed
    CHECK_FALSE(element_spans("<a/>", {1}).has_value());            // no second element
    CHECK_FALSE(element_spans("<a x=\"1/>", {0}).has_value());      // an unterminated value
    CHECK_FALSE(element_spans(std::string("<\0a\0/\0>\0", 8), {0}).has_value());  // UTF-16
}
