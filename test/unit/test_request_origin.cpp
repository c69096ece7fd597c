#include "request_origin.hpp"

#include <CppUTest/TestHarness.h>

#include <string>

using namespace saml;

namespace {

RedirectPolicy site_policy() {
    RedirectPolicy policy;
    policy.self_scheme = "https";
    policy.self_host = "sp.example.org";
    policy.allowed_hosts = {"portal.example.org"};
    return policy;
}

RequestOrigin classify(std::optional<std::string_view> site, std::optional<std::string_view> origin,
                       std::optional<std::string_view> referer) {
    return classify_request_origin({site, origin, referer}, site_policy());
}

SessionSealer sealer_with(const std::string& secret) {
    auto sealer = SessionSealer::create({secret});
    CHECK_TRUE(sealer.ok());
    return std::move(sealer).value();
}

Session alices_session() {
    Session session;
    session.user = "alice";
    session.name_id.value = "alice@example.org";
    session.session_index = "_s1";
    session.idp_entity_id = "https://idp.example.org";
    session.issued_at = from_unix(1700000000);
    return session;
}

}  // namespace

TEST_GROUP(RequestOrigin){};

TEST(RequestOrigin, TheSiteItselfAndTypedAddressesAreTrusted) {
    CHECK(classify("same-origin", std::nullopt, std::nullopt).source == RequestSource::trusted);
    CHECK(classify("none", std::nullopt, std::nullopt).source == RequestSource::trusted);
    CHECK(classify("Same-Origin", std::nullopt, std::nullopt).source == RequestSource::trusted);
    // Browsers without Fetch Metadata: the Origin of a form post, or the Referer of a link.
    CHECK(classify(std::nullopt, "https://sp.example.org", std::nullopt).source == RequestSource::trusted);
    CHECK(classify(std::nullopt, std::nullopt, "https://sp.example.org/app/page?x=1").source == RequestSource::trusted);
    // A host the administrator lists in SAMLRedirectDomains, even across sites.
    const auto portal = classify("cross-site", std::nullopt, "https://portal.example.org/apps");
    CHECK(portal.source == RequestSource::trusted);
    STRCMP_EQUAL("Referer: https://portal.example.org", portal.evidence.c_str());
}

TEST(RequestOrigin, AnotherSiteIsElsewhereWhateverElseItClaims) {
    const auto img = classify("cross-site", std::nullopt, std::nullopt);
    CHECK(img.source == RequestSource::elsewhere);
    STRCMP_EQUAL("Sec-Fetch-Site: cross-site", img.evidence.c_str());
    // same-site is another origin (a sibling subdomain may be anyone's)
    CHECK(classify("same-site", std::nullopt, std::nullopt).source == RequestSource::elsewhere);
    CHECK(classify("cross-site", std::nullopt, "https://evil.example.com/").source == RequestSource::elsewhere);
    CHECK(classify(std::nullopt, "null", std::nullopt).source == RequestSource::elsewhere);
    CHECK(classify(std::nullopt, "https://evil.example.com", "https://sp.example.org/").source == RequestSource::elsewhere);
    // Lookalikes of this host and of the allowed one, and a downgrade to http.
    for (const char* referer : {"https://sp.example.org.evil.com/", "https://evil.com/?https://sp.example.org/",
                                "https://sp.example.org@evil.com/", "https://evilportal.example.org/",
                                "http://sp.example.org/", "javascript:alert(1)//https://sp.example.org/", "/relative",
                                "https:\\\\sp.example.org"}) {
        const auto verdict = classify(std::nullopt, std::nullopt, referer);
        CHECK_TEXT(verdict.source == RequestSource::elsewhere, referer);
    }
    // This host on another port or scheme is another origin (another server may run there);
    // the default port written out is the same origin.
    CHECK(classify("same-site", std::nullopt, "https://sp.example.org:8443/").source == RequestSource::elsewhere);
    CHECK(classify(std::nullopt, "https://SP.example.org:443", std::nullopt).source == RequestSource::trusted);
    // An unknown Sec-Fetch-Site value is not trusted.
    CHECK(classify("same-origin-ish", std::nullopt, std::nullopt).source == RequestSource::elsewhere);
}

TEST(RequestOrigin, NoHeaderAtAllIsUnknown) {
    const auto verdict = classify(std::nullopt, std::nullopt, std::nullopt);
    CHECK(verdict.source == RequestSource::unknown);
    CHECK(classify(std::nullopt, "", "").source == RequestSource::unknown);
}

TEST(RequestOrigin, AConfirmationTokenOpensForItsSessionOnly) {
    const SessionSealer sealer = sealer_with(std::string(32, 'k'));
    const Session session = alices_session();
    auto token = logout_confirmation_token(sealer, session);
    CHECK_TRUE(token.ok());
    CHECK_TRUE(logout_confirmation_token_valid(sealer, session, token.value()));

    Session later_login = session;  // the same user's next session
    later_login.issued_at = from_unix(1700000100);
    CHECK_FALSE(logout_confirmation_token_valid(sealer, later_login, token.value()));
    Session bob = session;
    bob.user = "bob";
    bob.name_id.value = "bob@example.org";
    CHECK_FALSE(logout_confirmation_token_valid(sealer, bob, token.value()));
    // Another server's secret, a changed byte, an empty or huge value, a session cookie's value.
    CHECK_FALSE(logout_confirmation_token_valid(sealer_with(std::string(32, 'x')), session, token.value()));
    std::string tampered = token.value();
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    CHECK_FALSE(logout_confirmation_token_valid(sealer, session, tampered));
    CHECK_FALSE(logout_confirmation_token_valid(sealer, session, ""));
    CHECK_FALSE(logout_confirmation_token_valid(sealer, session, std::string(4096, 'A')));
    auto cookie = sealer.seal(session, "saml_session");
    CHECK_TRUE(cookie.ok());
    CHECK_FALSE(logout_confirmation_token_valid(sealer, session, cookie.value()));
}
