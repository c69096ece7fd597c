// The built-in IdP chooser page (escaping, order, the remembered IdP, search and the cap), the
// IdP Discovery Protocol request and the DiscoveryResponse in the SP metadata.
#include "crypto.hpp"
#include "encoding.hpp"
#include "idp_builder.hpp"
#include "idp_chooser.hpp"
#include "idp_discovery.hpp"
#include "sp_metadata.hpp"
#include "xml.hpp"

#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

using namespace saml;

namespace {

std::vector<ChooserIdp> sample_idps() {
    return {{"https://idp.alpha.example/idp", "Alpha University"},
            {"https://idp.beta.example/idp", "Beta College"},
            {"https://gamma.example/saml", "Gamma Institute"}};
}

std::string render(const std::vector<ChooserIdp>& idps, const std::string& remembered = "", const std::string& query = "",
                   std::size_t max_listed = 100, const std::string& return_to = "/app/page") {
    ChooserRequest request;
    request.idps = &idps;
    request.sso_path = "/saml/sso";
    request.return_to = return_to;
    request.remembered = remembered;
    request.query = query;
    request.max_listed = max_listed;
    return render_idp_chooser(request);
}

bool contains(const std::string& html, const std::string& part) { return html.find(part) != std::string::npos; }

std::size_t count_of(const std::string& html, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = html.find(part); at != std::string::npos; at = html.find(part, at + 1)) ++n;
    return n;
}

// The list items between <ul id="idp-list" ...> and </ul>, in order.
std::vector<std::string> items(const std::string& html) {
    std::vector<std::string> out;
    const std::size_t start = html.find("<ul id=\"idp-list\"");
    const std::size_t end = html.find("</ul>", start);
    for (std::size_t at = html.find("<li", start); at != std::string::npos && at < end; at = html.find("<li", at + 1))
        out.push_back(html.substr(at, html.find("</li>", at) - at));
    return out;
}

}  // namespace

TEST_GROUP(IdpChooser){};

TEST(IdpChooser, AnAccessiblePageWithOneLinkPerIdpThatKeepsReturnTo) {
    const std::string html = render(sample_idps());
    CHECK(contains(html, "<html lang=\"en\">"));
    CHECK(contains(html, "<title>Choose where to log in</title>"));
    CHECK(contains(html, "<h1>Choose where to log in</h1>"));
    CHECK(contains(html, "<label for=\"idp-search\">"));
    CHECK(contains(html, "id=\"idp-search\""));
    CHECK(contains(html, "<ul id=\"idp-list\" data-total=\"3\" data-complete=\"true\">"));
    // No external assets: nothing is loaded from anywhere.
    CHECK_FALSE(contains(html, "src="));
    CHECK_FALSE(contains(html, "<link"));
    const auto list = items(html);
    LONGS_EQUAL(3, list.size());
    CHECK(contains(list[0], "<a href=\"/saml/sso?idp=https%3A%2F%2Fidp.alpha.example%2Fidp&amp;ReturnTo=%2Fapp%2Fpage\">"
                            "Alpha University</a>"));
    CHECK(contains(list[0], "<small>https://idp.alpha.example/idp</small>"));
    CHECK(contains(html, "3 identity providers"));
}

TEST(IdpChooser, ForceAuthnAndIsPassiveAreCarriedOn) {
    const auto idps = sample_idps();
    ChooserRequest request;
    request.idps = &idps;
    request.sso_path = "/saml/sso";
    request.return_to = "/";
    request.force_authn = true;
    const std::string html = render_idp_chooser(request);
    CHECK(contains(items(html)[0], "ReturnTo=%2F&amp;ForceAuthn=1\""));
    CHECK(contains(html, "<input type=\"hidden\" name=\"ForceAuthn\" value=\"1\">"));
    CHECK_FALSE(contains(html, "IsPassive"));
    CHECK_FALSE(contains(render(idps), "ForceAuthn"));
}

TEST(IdpChooser, EverythingFromMetadataAndTheRequestIsEscaped) {
    const std::vector<ChooserIdp> idps = {
        {"https://evil.example/\"><script>alert(1)</script>", "<img src=x onerror=alert(1)> & \"Co\""},
        {"https://ok.example/idp", "OK"}};
    const std::string html = render(idps, "", "", 100, "/p?a=1&b=\"><script>x</script>");
    CHECK_FALSE(contains(html, "<img"));
    CHECK_FALSE(contains(html, "\"><script>alert"));
    CHECK(contains(html, "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot;</a>"));
    CHECK(contains(html, "<small>https://evil.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</small>"));
    // The ReturnTo is percent-encoded in links and escaped in the search form's hidden field.
    CHECK(contains(html, "ReturnTo=%2Fp%3Fa%3D1%26b%3D%22%3E%3Cscript%3Ex%3C%2Fscript%3E\""));
    CHECK(contains(html, "name=\"ReturnTo\" value=\"/p?a=1&amp;b=&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
    // So is the search text, in the box and in the count.
    const std::string searched = render(idps, "", "\"><script>y</script>");
    CHECK_FALSE(contains(searched, "<script>y"));
    CHECK(contains(searched, "value=\"&quot;&gt;&lt;script&gt;y&lt;/script&gt;\""));
    // The only script is ours.
    LONGS_EQUAL(1, count_of(html, "<script>"));
}

TEST(IdpChooser, TheRememberedIdpComesFirstOnlyWhenStillConfigured) {
    const auto list = items(render(sample_idps(), "https://gamma.example/saml"));
    LONGS_EQUAL(3, list.size());
    CHECK(contains(list[0], "Gamma Institute</a> <strong>(last used)</strong>"));
    CHECK(contains(list[0], "class=\"idp-last\""));
    CHECK(contains(list[1], "Alpha University"));
    const auto gone = items(render(sample_idps(), "https://removed.example/idp"));
    LONGS_EQUAL(3, gone.size());
    CHECK(contains(gone[0], "Alpha University"));
    for (const auto& item : gone) CHECK_FALSE(contains(item, "last used"));
}

TEST(IdpChooser, SearchMatchesEveryWordInNameOrEntityIdWithoutCase) {
    const auto idps = sample_idps();
    CHECK(chooser_matches(idps[0], "alpha UNIV"));
    CHECK(chooser_matches(idps[1], "beta.example"));
    CHECK_FALSE(chooser_matches(idps[1], "beta alpha"));
    CHECK(chooser_matches(idps[2], "  "));
    const std::string html = render(idps, "", "college");
    const auto list = items(html);
    LONGS_EQUAL(1, list.size());
    CHECK(contains(list[0], "Beta College"));
    CHECK(contains(html, "1 of 3 identity providers match &#8220;college&#8221;"));
    CHECK(contains(html, "data-complete=\"false\""));  // the script must not stand for the server's search
    // A long search is cut at a character boundary before it is echoed.
    std::string long_query;
    for (int i = 0; i < 150; ++i) long_query += "\xc3\xa9";
    const std::string echoed = render(idps, "", long_query);
    const std::size_t value = echoed.find("name=\"q\" value=\"") + 16;
    const std::string shown = echoed.substr(value, echoed.find('"', value) - value);
    LONGS_EQUAL(200, shown.size());
    CHECK(shown.compare(198, 2, "\xc3\xa9") == 0);
    const std::string none = render(idps, "", "zzz");
    CHECK(items(none).empty());
    CHECK(contains(none, "id=\"idp-none\""));
}

TEST(IdpChooser, ManyIdpsAreCappedWithTypeToSearch) {
    std::vector<ChooserIdp> many;
    for (int i = 0; i < 5000; ++i) {
        const std::string n = std::to_string(10000 + i);
        many.push_back({"https://idp" + n + ".example/idp", "Organisation " + n});
    }
    const std::string html = render(many, "https://idp14999.example/idp");
    const auto list = items(html);
    LONGS_EQUAL(100, list.size());
    CHECK(contains(list[0], "Organisation 14999"));  // the remembered one, though far down the list
    CHECK(contains(html, "data-complete=\"false\""));
    CHECK(contains(html, "4900 more are not listed: type part of your organisation's name and press Search."));
    CHECK(html.size() < 64 * 1024);
    const auto found = items(render(many, "", "Organisation 12345"));
    LONGS_EQUAL(1, found.size());
}

TEST(IdpChooser, SortedByNameAndNamedByEntityIdWhenMetadataHasNoName) {
    IdpRegistry registry;
    auto zulu = test::test_idp({"idp-rsa"}, "https://a.example/idp");
    zulu->display_name = "zulu";
    auto alpha = test::test_idp({"idp-rsa"}, "https://z.example/idp");
    alpha->display_name = "Alpha";
    registry.add(zulu);
    registry.add(alpha);
    registry.add(test::test_idp({"idp-rsa"}, "https://m.example/idp"));
    const auto idps = chooser_idps(registry);
    LONGS_EQUAL(3, idps.size());
    STRCMP_EQUAL("Alpha", idps[0].name.c_str());
    STRCMP_EQUAL("https://m.example/idp", idps[1].name.c_str());
    STRCMP_EQUAL("zulu", idps[2].name.c_str());
    // Named by its entityID: the entityID is not repeated underneath.
    CHECK_FALSE(contains(items(render(idps))[1], "<small>"));
}

TEST(IdpChooser, ThePolicyAllowsOnlyItsOwnScriptAndStyle) {
    const std::string csp = idp_chooser_csp();
    CHECK(contains(csp, "default-src 'none'"));
    CHECK(contains(csp, "script-src 'sha256-"));
    CHECK(contains(csp, "style-src 'sha256-"));
    CHECK(contains(csp, "form-action 'self'"));
    CHECK_FALSE(contains(csp, "unsafe-inline"));
    // The hash names exactly the script on the page.
    const std::string html = render(sample_idps());
    const std::size_t start = html.find("<script>") + 8;
    const std::string script = html.substr(start, html.find("</script>") - start);
    CHECK(contains(csp, "'sha256-" + base64_encode(sha256(script)) + "'"));
}

TEST_GROUP(IdpDiscovery){};

TEST(IdpDiscovery, RequestCarriesEntityIdReturnAndReturnIdParam) {
    STRCMP_EQUAL("https://ds.example.org/ds?entityID=https%3A%2F%2Fsp.example%2Fsaml%2Fmetadata"
                 "&return=https%3A%2F%2Fsp.example%2Fsaml%2Fsso%3FReturnTo%3D%252Fa%26discovered%3D1&returnIDParam=idp",
                 discovery_request_url("https://ds.example.org/ds", "https://sp.example/saml/metadata",
                                       "https://sp.example/saml/sso?ReturnTo=%2Fa&discovered=1", "idp")
                     .c_str());
    // The service's own query is kept.
    const std::string url = discovery_request_url("https://ds.example.org/ds?fed=x", "sp", "https://r/", "idp");
    CHECK(url.rfind("https://ds.example.org/ds?fed=x&entityID=sp&return=", 0) == 0);
}

TEST(IdpDiscovery, OnlyAbsoluteHttpUrlsWithoutFragmentAreAccepted) {
    CHECK(check_discovery_url("https://ds.example.org/ds").ok());
    CHECK(check_discovery_url("http://127.0.0.1:8080/ds?x=1").ok());
    for (const char* bad : {"ds.example.org/ds", "javascript:alert(1)", "https:///ds", "https://ds.example/#frag",
                            "https://ds.example/a b", "//ds.example/ds", ""}) {
        auto result = check_discovery_url(bad);
        CHECK_FALSE(result.ok());
        if (!result.ok()) STRCMP_EQUAL("SAML0470", result.error().code.c_str());
    }
}

TEST(IdpDiscovery, SpMetadataPublishesTheDiscoveryResponseOnlyWhenAsked) {
    SpSettings sp = test::test_sp();
    SpMetadataOptions options;
    auto plain = generate_sp_metadata(sp, options);
    CHECK(plain.ok());
    CHECK_FALSE(contains(plain.value(), "DiscoveryResponse"));
    options.discovery_response_url = "https://sp.test.example/saml/sso";
    auto xml = generate_sp_metadata(sp, options);
    if (!xml) FAIL(xml.error().message().c_str());
    XmlDoc doc = parse_xml(xml.value(), XmlLimits{}, "SP metadata");
    xmlNode* role = unique_child(xmlDocGetRootElement(doc.get()), ns::metadata, "SPSSODescriptor");
    xmlNode* first = first_element_child(role);
    CHECK(is_element(first, ns::metadata, "Extensions"));  // before the KeyDescriptors, as the schema says
    xmlNode* response = unique_child(first, idp_discovery::ns, "DiscoveryResponse");
    CHECK(response != nullptr);
    STRCMP_EQUAL(idp_discovery::ns, attribute(response, "Binding").value_or("").c_str());
    STRCMP_EQUAL("https://sp.test.example/saml/sso", attribute(response, "Location").value_or("").c_str());
    STRCMP_EQUAL("0", attribute(response, "index").value_or("").c_str());
}
