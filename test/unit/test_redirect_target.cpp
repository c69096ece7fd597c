#include "error.hpp"
#include "redirect_target.hpp"

#include <CppUTest/TestHarness.h>

#include <string>

using namespace saml;

namespace {

RedirectPolicy site_policy() {
    RedirectPolicy policy;
    policy.self_scheme = "https";
    policy.self_host = "SP.example.org:443";
    policy.allowed_hosts = {"app.example.org", ".apps.example.net"};
    return policy;
}

struct Hostile {
    std::string target;
    const char* code;
};

}  // namespace

TEST_GROUP(RedirectTarget){};

// The shapes behind the open-redirect CVEs of mod_auth_mellon and mod_auth_openidc, and the
// ways browsers' URL parsing turns a "local" target into another host.
TEST(RedirectTarget, RefusesHostileTargets) {
    const Hostile hostile[] = {
        {"", "SAML0600"},
        {"/" + std::string(9000, 'a'), "SAML0601"},
        // scheme-relative and its variants
        {"//evil.com", "SAML0604"},
        {"///evil.com", "SAML0604"},
        {"////evil.com/x", "SAML0604"},
        {"https://sp.example.org//evil.com", "SAML0604"},
        // backslashes, which browsers read as '/'
        {"/\\evil.com", "SAML0603"},
        {"\\\\evil.com", "SAML0603"},
        {"\\/evil.com", "SAML0603"},
        {"/\\/evil.com", "SAML0603"},
        {"http:\\\\evil.com", "SAML0603"},
        {"https://evil.com\\@sp.example.org", "SAML0603"},
        {"https://sp.example.org/\\evil.com", "SAML0603"},
        // missing or malformed "//"
        {"http:evil.com", "SAML0608"},
        {"https:/evil.com", "SAML0608"},
        {"https:///evil.com", "SAML0608"},
        {"https:", "SAML0608"},
        {"https://", "SAML0608"},
        // hosts that are not ours
        {"https://evil.com", "SAML0612"},
        {"https://evil.com/", "SAML0612"},
        {"https://evil.com#@sp.example.org", "SAML0612"},
        {"https://evil.com?@sp.example.org", "SAML0612"},
        {"https://sp.example.org.evil.com/", "SAML0612"},
        {"https://evilapps.example.net/", "SAML0612"},
        {"https://apps.example.net/", "SAML0612"},
        {"https://2130706433/", "SAML0612"},
        {"https://[::1]/", "SAML0612"},
        {"https://[::ffff:127.0.0.1]/", "SAML0612"},
        // userinfo
        {"https://sp.example.org@evil.com", "SAML0609"},
        {"https://sp.example.org:443@evil.com/", "SAML0609"},
        {"https://user:pass@sp.example.org/", "SAML0609"},
        // other schemes and things that are not paths
        {"javascript:alert(1)", "SAML0607"},
        {"JaVaScRiPt:alert(document.cookie)", "SAML0607"},
        {"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg", "SAML0607"},
        {"vbscript:msgbox(1)", "SAML0607"},
        {"ftp://sp.example.org/", "SAML0607"},
        {"file:///etc/passwd", "SAML0607"},
        {"evil.com", "SAML0607"},
        {"evil.com/path", "SAML0607"},
        {"?next=/x", "SAML0607"},
        {"#fragment", "SAML0607"},
        {"java%0ascript:alert(1)", "SAML0607"},
        // whitespace and control characters (browsers strip tab and newline anywhere)
        {"java\tscript:alert(1)", "SAML0602"},
        {"/\t/evil.com", "SAML0602"},
        {"/\n/evil.com", "SAML0602"},
        {"/\r\n/evil.com", "SAML0602"},
        {" //evil.com", "SAML0602"},
        {" /path", "SAML0602"},
        {"/path ", "SAML0602"},
        {"/path\r\nSet-Cookie: a=b", "SAML0602"},
        {std::string("/\0/evil.com", 11), "SAML0602"},
        {"/path\x7f", "SAML0602"},
        {"https://sp.example.org\x01/", "SAML0602"},
        {"https://evil.com\t.sp.example.org/", "SAML0602"},
        // encoded slashes, backslashes and controls at the start of the path, any depth
        {"/%2F%2Fevil.com", "SAML0605"},
        {"/%2fevil.com", "SAML0605"},
        {"/%5Cevil.com", "SAML0605"},
        {"/%5cevil.com", "SAML0605"},
        {"/%09/evil.com", "SAML0605"},
        {"/%0d%0aSet-Cookie:a=b", "SAML0605"},
        {"/%00", "SAML0605"},
        {"/%252F%252Fevil.com", "SAML0605"},
        {"/%25252F%25252Fevil.com", "SAML0605"},
        {"/%2525252F%2525252Fevil.com", "SAML0605"},
        {"https://sp.example.org/%2F%2Fevil.com", "SAML0605"},
        {"/%", "SAML0605"},
        {"/%zz", "SAML0605"},
        {"/%2", "SAML0605"},
        // dot segments
        {"/./evil.com", "SAML0606"},
        {"/../etc/passwd", "SAML0606"},
        {"/app/..", "SAML0606"},
        {"/%2e%2e/%2e%2e/evil", "SAML0606"},
        {"/path/%2e%2e%2f%2e%2e%2f", "SAML0606"},
        // hosts a browser would map to something else, or that no browser would accept as-is
        {"https://evil\xE3\x80\x82" "com/", "SAML0610"},      // ideographic full stop
        {"https://\xEF\xBD\x85vil.com/", "SAML0610"},          // fullwidth e
        {"https://sp.example.org\xE2\x80\xA4" "evil.com/", "SAML0610"},  // one dot leader
        {"https://sp.example.org%2eevil.com/", "SAML0610"},
        {"https://sp%2Eexample.org/", "SAML0610"},
        {"https://%40evil.com/", "SAML0610"},
        {"https://sp.example.org./", "SAML0610"},
        {"https://sp..example.org/", "SAML0610"},
        {"https://.sp.example.org/", "SAML0610"},
        {"https://sp_example.org/", "SAML0610"},
        {"https://[sp.example.org]/", "SAML0610"},
        {"https://[::1/", "SAML0610"},
        {"https://[::1]x/", "SAML0610"},
        {"https://evil.com[/", "SAML0610"},
        // ports
        {"https://sp.example.org:99999/", "SAML0611"},
        {"https://sp.example.org:/", "SAML0611"},
        {"https://sp.example.org:0/", "SAML0611"},
        {"https://sp.example.org:443:443/", "SAML0611"},
        {"https://sp.example.org:4a3/", "SAML0611"},
        // a downgrade from https
        {"http://sp.example.org/", "SAML0613"},
    };
    const RedirectPolicy policy = site_policy();
    for (const auto& h : hostile) {
        auto result = check_redirect_target(h.target, policy);
        CHECK_FALSE_TEXT(result.ok(), ("accepted: " + h.target).c_str());
        if (result.ok()) continue;
        STRCMP_EQUAL_TEXT(h.code, result.error().code.c_str(), ("target: " + h.target).c_str());
        CHECK_TEXT(result.error().kind == ErrorKind::Rejected, h.target.c_str());
        STRCMP_EQUAL("redirect-target", result.error().rule.c_str());
    }
    CHECK(sizeof(hostile) / sizeof(hostile[0]) >= 40);
}

TEST(RedirectTarget, AcceptsLocalPathsAndAllowedHostsNormalised) {
    const std::pair<std::string, std::string> good[] = {
        {"/", "/"},
        {"/app/page?x=1&y=2#top", "/app/page?x=1&y=2#top"},
        {"/app/my%20document.pdf", "/app/my%20document.pdf"},
        {"/a/b.c/d..e/.f/...", "/a/b.c/d..e/.f/..."},
        {"/100%25", "/100%25"},
        {"/?next=//evil.com", "/?next=//evil.com"},
        {"/wiki/Z\xC3\xBCrich", "/wiki/Z%C3%BCrich"},
        {"/search?q=\"<script>\"'", "/search?q=%22%3Cscript%3E%22%27"},
        {"https://sp.example.org/app", "https://sp.example.org/app"},
        {"HTTPS://SP.Example.ORG/App?Q=1", "https://sp.example.org/App?Q=1"},
        {"https://sp.example.org", "https://sp.example.org/"},
        {"https://sp.example.org?next=1", "https://sp.example.org/?next=1"},
        {"https://sp.example.org#@evil.com", "https://sp.example.org/#@evil.com"},
        {"https://sp.example.org:8443/x", "https://sp.example.org:8443/x"},
        {"https://sp.example.org:08443/x", "https://sp.example.org:8443/x"},
        {"https://app.example.org/dashboard", "https://app.example.org/dashboard"},
        {"https://APP.example.org", "https://app.example.org/"},
        {"https://deep.team.apps.example.net/x", "https://deep.team.apps.example.net/x"},
    };
    const RedirectPolicy policy = site_policy();
    for (const auto& g : good) {
        auto result = check_redirect_target(g.first, policy);
        CHECK_TEXT(result.ok(), (g.first + ": " + (result.ok() ? "" : result.error().message())).c_str());
        if (result.ok()) STRCMP_EQUAL_TEXT(g.second.c_str(), result.value().c_str(), g.first.c_str());
    }
    CHECK(sizeof(good) / sizeof(good[0]) >= 10);
}

// What the checker returns passes it again unchanged (fuzz_return_to's property), also when
// %-escaping makes it longer than the input: a 3.1 KB path of '|', '"', "%25" and UTF-8 bytes
// (escaped, over 8 KB) was accepted and then refused as too long when it came back.
TEST(RedirectTarget, EscapedResultIsBoundedSoItPassesAgainUnchanged) {
    const RedirectPolicy policy = site_policy();
    std::string grows = "/";
    while (grows.size() < 4000) grows += "|\"%25\xC3\xBC";
    auto first = check_redirect_target(grows, policy);
    CHECK_FALSE(first.ok());
    STRCMP_EQUAL("SAML0601", first.error().code.c_str());

    std::string fits = "/";
    while (fits.size() < 2000) fits += "|\"%25\xC3\xBC";
    auto accepted = check_redirect_target(fits, policy);
    CHECK_TEXT(accepted.ok(), accepted.ok() ? "" : accepted.error().message().c_str());
    CHECK(accepted.value().size() > fits.size());
    auto again = check_redirect_target(accepted.value(), policy);
    CHECK(again.ok());
    STRCMP_EQUAL(accepted.value().c_str(), again.value().c_str());

    const std::string absolute = "https://app.example.org" + fits;
    auto url = check_redirect_target(absolute, policy);
    CHECK(url.ok());
    auto url_again = check_redirect_target(url.value(), policy);
    CHECK(url_again.ok());
    STRCMP_EQUAL(url.value().c_str(), url_again.value().c_str());
}

TEST(RedirectTarget, HttpIsAllowedOverHttpOrWhenAsked) {
    RedirectPolicy policy = site_policy();
    STRCMP_EQUAL("SAML0613", check_redirect_target("http://app.example.org/", policy).error().code.c_str());
    policy.allow_http_from_https = true;
    STRCMP_EQUAL("http://app.example.org/", check_redirect_target("http://app.example.org/", policy).value().c_str());
    policy = site_policy();
    policy.self_scheme = "http";
    STRCMP_EQUAL("http://sp.example.org/x", check_redirect_target("http://sp.example.org/x", policy).value().c_str());
    // Going up to https is fine.
    STRCMP_EQUAL("https://sp.example.org/x", check_redirect_target("https://sp.example.org/x", policy).value().c_str());
}

TEST(RedirectTarget, SelfHostComesFromTheRequestAndMayCarryAPort) {
    RedirectPolicy policy;
    policy.self_scheme = "https";
    policy.self_host = "Login.Example.COM:8443";
    STRCMP_EQUAL("https://login.example.com/", check_redirect_target("https://login.example.com", policy).value().c_str());
    STRCMP_EQUAL("SAML0612", check_redirect_target("https://app.example.org/", policy).error().code.c_str());
    policy.self_host = "[::1]:8443";
    STRCMP_EQUAL("https://[::1]:8443/x", check_redirect_target("https://[::1]:8443/x", policy).value().c_str());
    STRCMP_EQUAL("SAML0612", check_redirect_target("https://[::2]/x", policy).error().code.c_str());
    // Without a self host, only paths and listed hosts pass.
    policy.self_host.clear();
    STRCMP_EQUAL("/x", check_redirect_target("/x", policy).value().c_str());
    STRCMP_EQUAL("SAML0612", check_redirect_target("https://login.example.com/", policy).error().code.c_str());
}

TEST(RedirectTarget, IPv6AllowListEntryMatchesExactly) {
    RedirectPolicy policy = site_policy();
    policy.allowed_hosts.push_back("[2001:db8::1]");
    STRCMP_EQUAL("https://[2001:db8::1]/x",
                 check_redirect_target("https://[2001:DB8::1]/x", policy).value().c_str());
    STRCMP_EQUAL("SAML0612", check_redirect_target("https://[2001:db8::2]/x", policy).error().code.c_str());
}

TEST(RedirectTarget, MalformedAllowListEntriesAreConfigErrors) {
    const char* bad_entries[] = {"*.example.org", "", ".", "exa mple.org", "example.org:443", "https://example.org"};
    for (const char* entry : bad_entries) {
        RedirectPolicy policy;
        policy.self_scheme = "https";
        policy.self_host = "sp.example.org";
        policy.allowed_hosts = {entry};
        auto result = check_redirect_target("https://other.example.org/", policy);
        CHECK_FALSE_TEXT(result.ok(), entry);
        if (result.ok()) continue;
        STRCMP_EQUAL_TEXT("SAML0640", result.error().code.c_str(), entry);
        CHECK(result.error().kind == ErrorKind::Config);
    }
}
