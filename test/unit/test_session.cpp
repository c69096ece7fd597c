#include "attribute_names.hpp"
#include "encoding.hpp"
#include "error.hpp"
#include "login_state.hpp"
#include "session.hpp"
#include "test_support.hpp"

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace saml;
using std::chrono::seconds;

namespace {

const std::string kSecretA = "session secret A: 0123456789abcdef0123456789abcdef";
const std::string kSecretB = "session secret B: fedcba9876543210fedcba9876543210";
const std::string kCookie = "saml_session";

template <typename T>
std::string code_of(const Result<T>& result) {
    CHECK_FALSE(result.ok());
    return result.ok() ? std::string("(ok)") : result.error().code;
}

template <typename T>
ErrorKind kind_of(const Result<T>& result) {
    CHECK_FALSE(result.ok());
    return result.ok() ? ErrorKind::Internal : result.error().kind;
}

SessionSealer make_sealer(std::vector<std::string> secrets) {
    auto sealer = SessionSealer::create(std::move(secrets));
    if (!sealer) FAIL(sealer.error().message().c_str());
    return std::move(sealer).value();
}

Session sample_session(std::size_t attribute_count) {
    Session s;
    s.user = "alice@example.org";
    s.name_id.value = "AAdzZWNyZXQxFHm0pZ8Bk1bXxZ3q";
    s.name_id.format = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    s.name_id.name_qualifier = "https://idp.example.org/idp";
    s.name_id.sp_name_qualifier = "https://sp.example.org/saml";
    s.session_index = "_5f2c1a9e0b";
    s.idp_entity_id = "https://idp.example.org/idp";
    s.assertion_id = "_a75adf55-01d7-40cc-929f-dbd8372ebdfc";
    const Instant now = test::test_now();
    s.authn_instant = now - seconds(30);
    s.issued_at = now;
    s.last_seen = now;
    s.expires_at = now + seconds(8 * 3600);
    for (std::size_t i = 0; i < attribute_count; ++i) {
        Attribute a;
        a.name = "urn:oid:1.3.6.1.4.1.99999.1." + std::to_string(i);
        a.name_format = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
        a.friendly_name = "attribute" + std::to_string(i);
        a.values = {"value " + std::to_string(i), "second value of " + std::to_string(i)};
        s.attributes.push_back(a);
    }
    return s;
}

void check_same(const Session& expected, const Session& actual) {
    STRCMP_EQUAL(expected.user.c_str(), actual.user.c_str());
    STRCMP_EQUAL(expected.name_id.value.c_str(), actual.name_id.value.c_str());
    STRCMP_EQUAL(expected.name_id.format.c_str(), actual.name_id.format.c_str());
    STRCMP_EQUAL(expected.name_id.name_qualifier.c_str(), actual.name_id.name_qualifier.c_str());
    STRCMP_EQUAL(expected.name_id.sp_name_qualifier.c_str(), actual.name_id.sp_name_qualifier.c_str());
    STRCMP_EQUAL(expected.session_index.c_str(), actual.session_index.c_str());
    STRCMP_EQUAL(expected.idp_entity_id.c_str(), actual.idp_entity_id.c_str());
    STRCMP_EQUAL(expected.assertion_id.c_str(), actual.assertion_id.c_str());
    LONGLONGS_EQUAL(to_unix(expected.authn_instant), to_unix(actual.authn_instant));
    LONGLONGS_EQUAL(to_unix(expected.issued_at), to_unix(actual.issued_at));
    LONGLONGS_EQUAL(to_unix(expected.expires_at), to_unix(actual.expires_at));
    LONGLONGS_EQUAL(to_unix(expected.last_seen), to_unix(actual.last_seen));
    CHECK(expected.issued_at == actual.issued_at);
    UNSIGNED_LONGS_EQUAL(expected.attributes.size(), actual.attributes.size());
    for (std::size_t i = 0; i < expected.attributes.size(); ++i) {
        const auto& e = expected.attributes[i];
        const auto& a = actual.attributes[i];
        STRCMP_EQUAL(e.name.c_str(), a.name.c_str());
        STRCMP_EQUAL(e.name_format.c_str(), a.name_format.c_str());
        STRCMP_EQUAL(e.friendly_name.c_str(), a.friendly_name.c_str());
        UNSIGNED_LONGS_EQUAL(e.values.size(), a.values.size());
        for (std::size_t j = 0; j < e.values.size(); ++j) CHECK(e.values[j] == a.values[j]);
    }
}

// The same payload as payload version 1 wrote it (before the assertion ID): the version byte
// 1 and no assertion ID at the end. Only for a session whose assertion ID is empty.
std::string as_version1(std::string payload) {
    CHECK_EQUAL('\x02', payload.at(0));
    CHECK_EQUAL('\x00', payload.back());  // the empty assertion ID's length
    payload.pop_back();
    payload[0] = '\x01';
    return payload;
}

std::string raw_of(const std::string& cookie) { return base64url_decode(cookie, 1 << 20, "test cookie"); }

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_GROUP(SessionPayload){};

TEST(SessionPayload, RoundTripsEveryField) {
    const Session s = sample_session(3);
    auto payload = encode_session(s);
    CHECK(payload.ok());
    auto back = decode_session(payload.value());
    CHECK(back.ok());
    check_same(s, back.value());
}

TEST(SessionPayload, EmptySessionRoundTrips) {
    Session empty;
    auto payload = encode_session(empty);
    CHECK(payload.ok());
    auto back = decode_session(payload.value());
    CHECK(back.ok());
    check_same(empty, back.value());
}

TEST(SessionPayload, AssertionIdRoundTripsAndVersionOnePayloadsStillOpen) {
    Session s = sample_session(2);
    auto back = decode_session(encode_session(s).value());
    CHECK(back.ok());
    STRCMP_EQUAL("_a75adf55-01d7-40cc-929f-dbd8372ebdfc", back.value().assertion_id.c_str());
    // A cookie sealed before the assertion ID was kept (payload version 1) still opens.
    s.assertion_id.clear();
    auto old = decode_session(as_version1(encode_session(s).value()));
    CHECK(old.ok());
    check_same(s, old.value());
    // Version 1 as it was written, byte for byte: the empty session.
    auto literal = decode_session(std::string("\x01", 1) + std::string(16, '\0'));
    CHECK(literal.ok());
    check_same(Session{}, literal.value());
    // Version 1 never carried an assertion ID: one more string after the attributes is refused.
    STRCMP_EQUAL("SAML0530", code_of(decode_session(std::string("\x01", 1) + std::string(17, '\0'))).c_str());
    // And version 2 without it is truncated.
    STRCMP_EQUAL("SAML0530", code_of(decode_session(std::string("\x02", 1) + std::string(16, '\0'))).c_str());
}

TEST(SessionPayload, WellKnownPrefixesKeepItCompact) {
    Session s = sample_session(0);
    Attribute a;
    a.name = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6";
    a.name_format = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
    a.values = {"alice@example.org"};
    s.attributes.push_back(a);
    const std::string one = encode_session(s).value();
    s.attributes.push_back(a);
    const std::string two = encode_session(s).value();
    // Name "6" after the eduPerson prefix code, format as a bare code: the attribute costs
    // 3 + 2 + 1 + 1 + 18 bytes instead of 101.
    UNSIGNED_LONGS_EQUAL(25, two.size() - one.size());
    check_same(s, decode_session(two).value());
}

TEST(SessionPayload, UnknownUriFormsStayLiteral) {
    Session s = sample_session(0);
    s.name_id.format = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistentX";  // a known prefix plus more
    s.idp_entity_id = "urn:example:idp";
    s.attributes.push_back(Attribute{"http://", "https://", "", {""}});
    check_same(s, decode_session(encode_session(s).value()).value());
}

TEST(SessionPayload, HundredAttributesAndNonAsciiValuesRoundTrip) {
    Session s = sample_session(100);
    s.user = "Zoë Ångström";
    s.attributes[0].values = {"日本語の値", "emoji \xF0\x9F\x94\x91", std::string("nul\0inside", 10), ""};
    s.attributes[99].values.assign(50, "ünïcødé");
    auto back = decode_session(encode_session(s).value());
    CHECK(back.ok());
    check_same(s, back.value());
    CHECK(back.value().attributes[0].values[2] == std::string("nul\0inside", 10));
}

TEST(SessionPayload, EveryTruncationIsBadInput) {
    const std::string payload = encode_session(sample_session(2)).value();
    for (std::size_t len = 0; len < payload.size(); ++len) {
        auto r = decode_session(payload.substr(0, len));
        STRCMP_EQUAL("SAML0530", code_of(r).c_str());
        CHECK(kind_of(r) == ErrorKind::BadInput);
    }
}

TEST(SessionPayload, CorruptedBytesNeverCrashOrEscape) {
    const std::string payload = encode_session(sample_session(3)).value();
    const unsigned char replacements[] = {0x00, 0x01, 0x0f, 0x7f, 0x80, 0xff};
    int refused = 0;
    for (std::size_t i = 0; i < payload.size(); ++i) {
        for (unsigned char r : replacements) {
            std::string corrupted = payload;
            corrupted[i] = static_cast<char>(r);
            auto result = decode_session(corrupted);
            if (!result.ok()) {
                STRCMP_EQUAL("SAML0530", result.error().code.c_str());
                ++refused;
            }
        }
    }
    CHECK(refused > 0);
}

TEST(SessionPayload, TrailingBytesUnknownVersionAndPrefixAreRefused) {
    const std::string payload = encode_session(sample_session(1)).value();
    STRCMP_EQUAL("SAML0530", code_of(decode_session(payload + "x")).c_str());
    std::string other_version = payload;
    other_version[0] = 3;
    STRCMP_EQUAL("SAML0530", code_of(decode_session(other_version)).c_str());
    // Version, empty user, empty NameID, then a prefix code past the table for the Format.
    STRCMP_EQUAL("SAML0530", code_of(decode_session(std::string("\x01\x00\x00\x7f\x00", 5))).c_str());
}

TEST(SessionPayload, HugeLengthsAndCountsAreRefusedBeforeAllocating) {
    // A string length of 2^32 and an over-long varint.
    STRCMP_EQUAL("SAML0530", code_of(decode_session(std::string("\x01\x80\x80\x80\x80\x10", 6))).c_str());
    STRCMP_EQUAL("SAML0530",
                 code_of(decode_session(std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11))).c_str());
    // A valid header followed by an attribute count of 1000 with no bytes behind it.
    Session s;
    std::string payload = as_version1(encode_session(s).value());
    payload.back() = '\x00';
    CHECK(decode_session(payload).ok());
    payload.back() = '\xe8';
    payload += '\x07';  // 1000
    auto r = decode_session(payload);
    STRCMP_EQUAL("SAML0530", code_of(r).c_str());
    CHECK(r.error().detail.find("attribute count") != std::string::npos);
    // And a count above the hard limit.
    payload.back() = '\x7f';  // 0x68 | 0x7f<<7 = 16360
    STRCMP_EQUAL("SAML0530", code_of(decode_session(payload)).c_str());
}

TEST(SessionPayload, TimesOutOfRangeAreRefused) {
    std::string payload = as_version1(encode_session(Session{}).value());
    // Seven zero-length strings / codes, four times, a count: replace the last time with 2^33.
    payload.resize(payload.size() - 2);
    payload += std::string("\x80\x80\x80\x80\x20", 5);
    payload += '\x00';
    STRCMP_EQUAL("SAML0530", code_of(decode_session(payload)).c_str());
    Session early;
    early.expires_at = from_unix(-1);
    STRCMP_EQUAL("SAML0532", code_of(encode_session(early)).c_str());
}

TEST(SessionPayload, OversizedSessionsAreRefusedByTheEncoder) {
    Session s = sample_session(1);
    s.attributes[0].values = {std::string(SessionLimits::max_string_bytes + 1, 'x')};
    STRCMP_EQUAL("SAML0531", code_of(encode_session(s)).c_str());
    Session many = sample_session(SessionLimits::max_attributes + 1);
    STRCMP_EQUAL("SAML0531", code_of(encode_session(many)).c_str());
    Session big = sample_session(8);
    for (auto& a : big.attributes) a.values = {std::string(SessionLimits::max_string_bytes, 'y')};
    auto r = encode_session(big);
    STRCMP_EQUAL("SAML0531", code_of(r).c_str());
    CHECK(kind_of(r) == ErrorKind::BadInput);
}

TEST(SessionPayload, FromLoginTakesTheEarlierExpiryInWholeSeconds) {
    Login login;
    login.user = "bob";
    login.name_id.value = "bob-id";
    login.session_index = "_idx";
    login.idp_entity_id = "https://idp.example.org";
    login.assertion_id = "_assertion-1";
    login.attributes.push_back(Attribute{"urn:oid:0.9.2342.19200300.100.1.3", "", "mail", {"bob@example.org"}});
    login.authn_instant = test::test_now() - std::chrono::milliseconds(1500);
    const Instant now = test::test_now() + std::chrono::milliseconds(700);

    Session capped_by_max_age = Session::from_login(login, now, seconds(3600));
    LONGLONGS_EQUAL(to_unix(test::test_now()), to_unix(capped_by_max_age.issued_at));
    CHECK(capped_by_max_age.issued_at == test::test_now());
    CHECK(capped_by_max_age.last_seen == test::test_now());
    CHECK(capped_by_max_age.expires_at == test::test_now() + seconds(3600));
    CHECK(capped_by_max_age.authn_instant == test::test_now() - seconds(2));
    STRCMP_EQUAL("bob", capped_by_max_age.user.c_str());
    STRCMP_EQUAL("_idx", capped_by_max_age.session_index.c_str());
    STRCMP_EQUAL("_assertion-1", capped_by_max_age.assertion_id.c_str());
    STRCMP_EQUAL("bob@example.org", capped_by_max_age.attributes.at(0).values.at(0).c_str());

    login.session_not_on_or_after = test::test_now() + seconds(600);
    CHECK(Session::from_login(login, now, seconds(3600)).expires_at == test::test_now() + seconds(600));
    login.session_not_on_or_after = test::test_now() + seconds(7200);
    CHECK(Session::from_login(login, now, seconds(3600)).expires_at == test::test_now() + seconds(3600));
}

// ---------------------------------------------------------------------------------------------

TEST_GROUP(SessionSealer){};

TEST(SessionSealer, SecretsMustBeLongDistinctAndPresent) {
    auto none = SessionSealer::create({});
    STRCMP_EQUAL("SAML0500", code_of(none).c_str());
    CHECK(kind_of(none) == ErrorKind::Config);
    auto short_secret = SessionSealer::create({kSecretA, std::string(31, 'k')});
    STRCMP_EQUAL("SAML0501", code_of(short_secret).c_str());
    CHECK(kind_of(short_secret) == ErrorKind::Config);
    CHECK(short_secret.error().detail.find("#2 is 31 bytes") != std::string::npos);
    STRCMP_EQUAL("SAML0502", code_of(SessionSealer::create({kSecretA, kSecretB, kSecretA})).c_str());
    CHECK(SessionSealer::create({std::string(32, 'k')}).ok());
}

TEST(SessionSealer, SealsAndOpens) {
    const auto sealer = make_sealer({kSecretA});
    const Session s = sample_session(10);
    auto cookie = sealer.seal(s, kCookie);
    CHECK(cookie.ok());
    auto opened = sealer.open(cookie.value(), kCookie, test::test_now(), seconds(0));
    CHECK(opened.ok());
    check_same(s, opened.value());
}

TEST(SessionSealer, CookieHasTheDocumentedLayoutAndAFreshNonce) {
    const auto sealer = make_sealer({kSecretA});
    const Session s = sample_session(2);
    const std::string cookie = sealer.seal(s, kCookie).value();
    for (char c : cookie) CHECK(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    const std::string raw = raw_of(cookie);
    UNSIGNED_LONGS_EQUAL(SessionSealer::overhead_bytes + encode_session(s).value().size(), raw.size());
    LONGS_EQUAL(1, raw[0]);
    const std::string again = raw_of(sealer.seal(s, kCookie).value());
    CHECK(raw.substr(0, 5) == again.substr(0, 5));    // same version and key id
    CHECK(raw.substr(5, 12) != again.substr(5, 12));  // fresh nonce
    CHECK(raw.substr(17) != again.substr(17));
    // The plaintext does not show through.
    CHECK(raw.find("alice@example.org") == std::string::npos);
}

TEST(SessionSealer, EveryTamperedByteIsRefusedWithTheCodeOfItsRegion) {
    const auto sealer = make_sealer({kSecretA});
    const std::string raw = raw_of(sealer.seal(sample_session(1), kCookie).value());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        std::string tampered = raw;
        tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
        auto r = sealer.open(base64url_encode(tampered), kCookie, test::test_now(), seconds(0));
        const char* expected = i == 0 ? "SAML0513" : i < 5 ? "SAML0514" : "SAML0515";
        STRCMP_EQUAL(expected, code_of(r).c_str());
        CHECK(kind_of(r) == ErrorKind::Rejected);
    }
}

TEST(SessionSealer, AnotherSecretDoesNotOpen) {
    const auto a = make_sealer({kSecretA});
    const auto b = make_sealer({kSecretB});
    const std::string cookie = b.seal(sample_session(1), kCookie).value();
    STRCMP_EQUAL("SAML0514", code_of(a.open(cookie, kCookie, test::test_now(), seconds(0))).c_str());
    // Even when the key id is forged to name A's key, the tag does not verify.
    const std::string a_raw = raw_of(a.seal(sample_session(1), kCookie).value());
    std::string forged = raw_of(cookie);
    forged.replace(1, 4, a_raw.substr(1, 4));
    STRCMP_EQUAL("SAML0515", code_of(a.open(base64url_encode(forged), kCookie, test::test_now(), seconds(0))).c_str());
}

TEST(SessionSealer, RotationOpensOldCookiesAndSealsWithTheNewSecret) {
    const auto old_only = make_sealer({kSecretA});
    const auto rotated = make_sealer({kSecretB, kSecretA});
    const auto new_only = make_sealer({kSecretB});
    const Session s = sample_session(3);
    const std::string old_cookie = old_only.seal(s, kCookie).value();
    auto opened = rotated.open(old_cookie, kCookie, test::test_now(), seconds(0));
    CHECK(opened.ok());
    check_same(s, opened.value());

    const std::string new_cookie = rotated.seal(s, kCookie).value();
    CHECK(new_only.open(new_cookie, kCookie, test::test_now(), seconds(0)).ok());
    STRCMP_EQUAL("SAML0514", code_of(old_only.open(new_cookie, kCookie, test::test_now(), seconds(0))).c_str());
    // Once the old secret is retired its cookies stop opening.
    STRCMP_EQUAL("SAML0514", code_of(new_only.open(old_cookie, kCookie, test::test_now(), seconds(0))).c_str());
}

TEST(SessionSealer, ExpiryIsEnforced) {
    const auto sealer = make_sealer({kSecretA});
    const Session s = sample_session(1);
    const std::string cookie = sealer.seal(s, kCookie).value();
    CHECK(sealer.open(cookie, kCookie, s.expires_at - seconds(1), seconds(0)).ok());
    auto at_expiry = sealer.open(cookie, kCookie, s.expires_at, seconds(0));
    STRCMP_EQUAL("SAML0516", code_of(at_expiry).c_str());
    STRCMP_EQUAL("session-expired", at_expiry.error().rule.c_str());
    CHECK(kind_of(at_expiry) == ErrorKind::Rejected);
    STRCMP_EQUAL("SAML0516", code_of(sealer.open(cookie, kCookie, s.expires_at + seconds(86400), seconds(0))).c_str());
}

TEST(SessionSealer, IdleTimeoutIsEnforcedWhenSet) {
    const auto sealer = make_sealer({kSecretA});
    const Session s = sample_session(1);
    const std::string cookie = sealer.seal(s, kCookie).value();
    CHECK(sealer.open(cookie, kCookie, s.last_seen + seconds(1799), seconds(1800)).ok());
    auto idle = sealer.open(cookie, kCookie, s.last_seen + seconds(1800), seconds(1800));
    STRCMP_EQUAL("SAML0517", code_of(idle).c_str());
    STRCMP_EQUAL("session-idle", idle.error().rule.c_str());
    CHECK(kind_of(idle) == ErrorKind::Rejected);
    // 0 = no idle limit: only the expiry counts.
    CHECK(sealer.open(cookie, kCookie, s.last_seen + seconds(7 * 3600), seconds(0)).ok());
}

// The module's per-connection cache keeps what open() returned and re-runs check_current on
// every later request: for any instant and idle limit it must answer exactly as open() on the
// same bytes would.
TEST(SessionSealer, CheckCurrentAnswersAsOpenWouldAtEveryInstant) {
    const auto sealer = make_sealer({kSecretA});
    const Session s = sample_session(3);
    const std::string cookie = sealer.seal(s, kCookie).value();
    const Session opened = sealer.open(cookie, kCookie, s.issued_at, seconds(0)).value();
    const Instant instants[] = {s.issued_at, s.last_seen + seconds(1799), s.last_seen + seconds(1800),
                                s.expires_at - seconds(1), s.expires_at, s.expires_at + seconds(86400)};
    const seconds idles[] = {seconds(0), seconds(1), seconds(1800), seconds(86400 * 30)};
    for (const Instant now : instants) {
        for (const seconds idle : idles) {
            auto by_open = sealer.open(cookie, kCookie, now, idle);
            auto by_check = SessionSealer::check_current(opened, now, idle);
            CHECK_EQUAL(by_open.ok(), by_check.ok());
            if (!by_open.ok()) {
                STRCMP_EQUAL(code_of(by_open).c_str(), by_check.error().code.c_str());
                STRCMP_EQUAL(by_open.error().detail.c_str(), by_check.error().detail.c_str());
            }
        }
    }
    STRCMP_EQUAL("SAML0516", SessionSealer::check_current(opened, s.expires_at, seconds(0)).error().code.c_str());
    STRCMP_EQUAL("SAML0517",
                 SessionSealer::check_current(opened, s.last_seen + seconds(1800), seconds(1800)).error().code.c_str());
}

TEST(SessionSealer, TouchRefreshesLastSeenAtMostOncePerInterval) {
    const auto sealer = make_sealer({kSecretA});
    Session s = sample_session(1);
    const Instant start = s.last_seen;
    auto early = sealer.touch(s, kCookie, start + seconds(59));
    CHECK(early.ok());
    CHECK_FALSE(early.value().has_value());
    CHECK(s.last_seen == start);

    auto later = sealer.touch(s, kCookie, start + seconds(60) + std::chrono::milliseconds(400));
    CHECK(later.ok());
    CHECK(later.value().has_value());
    CHECK(s.last_seen == start + seconds(60));
    // The refreshed cookie keeps the session alive past the original idle deadline.
    auto opened = sealer.open(*later.value(), kCookie, start + seconds(1801), seconds(1800));
    CHECK(opened.ok());
    CHECK(opened.value().last_seen == start + seconds(60));
    CHECK(opened.value().expires_at == s.expires_at);
}

TEST(SessionSealer, CookieNameIsBound) {
    const auto sealer = make_sealer({kSecretA});
    const std::string cookie = sealer.seal(sample_session(1), kCookie).value();
    STRCMP_EQUAL("SAML0515", code_of(sealer.open(cookie, "saml_login_state", test::test_now(), seconds(0))).c_str());
    STRCMP_EQUAL("SAML0515", code_of(sealer.open(cookie, "", test::test_now(), seconds(0))).c_str());
    STRCMP_EQUAL("SAML0515", code_of(sealer.open(cookie, kCookie + "x", test::test_now(), seconds(0))).c_str());
}

TEST(SessionSealer, TruncatedEmptyAndGarbageCookiesAreBadInput) {
    const auto sealer = make_sealer({kSecretA});
    const std::string cookie = sealer.seal(sample_session(1), kCookie).value();
    const std::string raw = raw_of(cookie);

    auto empty = sealer.open("", kCookie, test::test_now(), seconds(0));
    STRCMP_EQUAL("SAML0510", code_of(empty).c_str());
    CHECK(kind_of(empty) == ErrorKind::BadInput);
    for (std::size_t len = 1; len <= SessionSealer::overhead_bytes; ++len) {
        auto r = sealer.open(base64url_encode(raw.substr(0, len)), kCookie, test::test_now(), seconds(0));
        STRCMP_EQUAL("SAML0512", code_of(r).c_str());
        CHECK(kind_of(r) == ErrorKind::BadInput);
    }
    // Losing the end of the tag (or of the ciphertext) fails authentication.
    STRCMP_EQUAL("SAML0515", code_of(sealer.open(base64url_encode(raw.substr(0, raw.size() - 1)), kCookie,
                                                 test::test_now(), seconds(0)))
                                 .c_str());
    STRCMP_EQUAL("SAML0511", code_of(sealer.open("not base64!", kCookie, test::test_now(), seconds(0))).c_str());
    STRCMP_EQUAL("SAML0511", code_of(sealer.open(cookie + "=", kCookie, test::test_now(), seconds(0))).c_str());
    STRCMP_EQUAL("SAML0511", code_of(sealer.open(cookie.substr(0, cookie.size() - 1) + "+", kCookie,
                                                 test::test_now(), seconds(0)))
                                 .c_str());
    const std::string huge(400 * 1024, 'A');
    STRCMP_EQUAL("SAML0511", code_of(sealer.open(huge, kCookie, test::test_now(), seconds(0))).c_str());
    // Well-formed base64url of random bytes with a known version byte.
    STRCMP_EQUAL("SAML0514",
                 code_of(sealer.open(base64url_encode("\x01" + std::string(60, 'z')), kCookie, test::test_now(),
                                     seconds(0)))
                     .c_str());
}

TEST(SessionSealer, HundredAttributesWithNonAsciiValuesSurviveSealing) {
    const auto sealer = make_sealer({kSecretA});
    Session s = sample_session(100);
    s.attributes[5].values = {"Ærøskøbing", "Łódź", "東京", "\xE2\x80\x8Binvisible"};
    const std::string cookie = sealer.seal(s, kCookie).value();
    auto opened = sealer.open(cookie, kCookie, test::test_now(), seconds(0));
    CHECK(opened.ok());
    check_same(s, opened.value());
}

TEST(SessionSealer, ChunkedCookieRoundTrips) {
    const auto sealer = make_sealer({kSecretA});
    const Session s = sample_session(100);
    const std::string cookie = sealer.seal(s, kCookie).value();
    auto chunks = split_cookie(cookie, 3800, 8);
    CHECK(chunks.ok());
    CHECK(chunks.value().size() >= 2);
    std::vector<std::string_view> views(chunks.value().begin(), chunks.value().end());
    auto count = cookie_chunk_count(views[0], 8);
    UNSIGNED_LONGS_EQUAL(chunks.value().size(), count.value());
    auto joined = join_cookie(views, 8);
    CHECK(joined.ok());
    CHECK(joined.value() == cookie);
    CHECK(sealer.open(joined.value(), kCookie, test::test_now(), seconds(0)).ok());
}

TEST(SessionSealer, ConcurrentSealAndOpenShareOneSealer) {
    const auto sealer = make_sealer({kSecretB, kSecretA});
    const auto old_sealer = make_sealer({kSecretA});
    const Session s = sample_session(10);
    const std::string old_cookie = old_sealer.seal(s, kCookie).value();
    std::atomic<int> failures{0};
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            Session mine = s;
            mine.user = "user" + std::to_string(t);
            for (int i = 0; i < 300; ++i) {
                auto cookie = sealer.seal(mine, kCookie);
                if (!cookie) { ++failures; continue; }
                auto opened = sealer.open(cookie.value(), kCookie, test::test_now(), seconds(0));
                if (!opened || opened.value().user != mine.user) ++failures;
                auto old = sealer.open(old_cookie, kCookie, test::test_now(), seconds(0));
                if (!old || old.value().user != s.user) ++failures;
                auto bad = sealer.open(cookie.value(), "other", test::test_now(), seconds(0));
                if (bad.ok() || bad.error().code != "SAML0515") ++failures;
                ++done;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    LONGS_EQUAL(0, failures.load());
    LONGS_EQUAL(8 * 300, done.load());
}

// ---------------------------------------------------------------------------------------------

TEST_GROUP(SessionChunks){};

TEST(SessionChunks, ShortValueIsOneUnchangedChunk) {
    auto chunks = split_cookie("abcdef", 6, 4);
    CHECK(chunks.ok());
    UNSIGNED_LONGS_EQUAL(1, chunks.value().size());
    STRCMP_EQUAL("abcdef", chunks.value()[0].c_str());
    UNSIGNED_LONGS_EQUAL(1, cookie_chunk_count("abcdef", 4).value());
    STRCMP_EQUAL("abcdef", join_cookie({"abcdef"}, 4).value().c_str());
    // Leading digits without a ':' are data, not a header.
    UNSIGNED_LONGS_EQUAL(1, cookie_chunk_count("123abc", 4).value());
}

TEST(SessionChunks, LongValueSplitsWithACountHeader) {
    const std::string value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";  // 26 bytes
    auto chunks = split_cookie(value, 10, 5);
    CHECK(chunks.ok());
    // "3:" + 8 bytes, then 10, then 8: three chunks hold 28 bytes.
    UNSIGNED_LONGS_EQUAL(3, chunks.value().size());
    STRCMP_EQUAL("3:ABCDEFGH", chunks.value()[0].c_str());
    STRCMP_EQUAL("IJKLMNOPQR", chunks.value()[1].c_str());
    STRCMP_EQUAL("STUVWXYZ", chunks.value()[2].c_str());
    for (const auto& c : chunks.value()) CHECK(c.size() <= 10);
    std::vector<std::string_view> views(chunks.value().begin(), chunks.value().end());
    STRCMP_EQUAL(value.c_str(), join_cookie(views, 5).value().c_str());
    UNSIGNED_LONGS_EQUAL(3, cookie_chunk_count(views[0], 5).value());
}

TEST(SessionChunks, EveryLengthSplitsAndJoinsBack) {
    std::string value;
    for (int len = 0; len < 200; ++len) {
        auto chunks = split_cookie(value, 16, 20);
        CHECK_TEXT(chunks.ok(), ("length " + std::to_string(len)).c_str());
        for (const auto& c : chunks.value()) CHECK(!c.empty() || len == 0);
        for (const auto& c : chunks.value()) CHECK(c.size() <= 16);
        if (len > 0) {
            std::vector<std::string_view> views(chunks.value().begin(), chunks.value().end());
            CHECK(join_cookie(views, 20).value() == value);
        }
        value += static_cast<char>('a' + len % 26);
    }
}

TEST(SessionChunks, TooBigToFitIsAConfigErrorNotALoop) {
    auto r = split_cookie(std::string(100, 'x'), 10, 3);
    STRCMP_EQUAL("SAML0540", code_of(r).c_str());
    CHECK(kind_of(r) == ErrorKind::Config);
    CHECK(r.error().detail.find("100 bytes") != std::string::npos);
    STRCMP_EQUAL("SAML0540", code_of(split_cookie(std::string(100, 'x'), 2, 1000)).c_str());
    STRCMP_EQUAL("SAML0540", code_of(split_cookie("abc", 0, 3)).c_str());
    STRCMP_EQUAL("SAML0544", code_of(split_cookie("a:b", 10, 3)).c_str());
}

TEST(SessionChunks, HugeOrMalformedCountsAreRefusedBeforeAllocating) {
    auto huge = cookie_chunk_count("99999999999999999999999999:abc", 8);
    STRCMP_EQUAL("SAML0542", code_of(huge).c_str());
    CHECK(kind_of(huge) == ErrorKind::BadInput);
    STRCMP_EQUAL("SAML0542", code_of(cookie_chunk_count("9:abc", 8)).c_str());
    STRCMP_EQUAL("SAML0542", code_of(cookie_chunk_count("18446744073709551617:x", 100)).c_str());
    STRCMP_EQUAL("SAML0541", code_of(cookie_chunk_count("1:abc", 8)).c_str());
    STRCMP_EQUAL("SAML0541", code_of(cookie_chunk_count("0:abc", 8)).c_str());
    STRCMP_EQUAL("SAML0541", code_of(cookie_chunk_count("02:abc", 8)).c_str());
    STRCMP_EQUAL("SAML0541", code_of(cookie_chunk_count(":abc", 8)).c_str());
    STRCMP_EQUAL("SAML0541", code_of(cookie_chunk_count("ab:c", 8)).c_str());
    STRCMP_EQUAL("SAML0541", code_of(cookie_chunk_count("", 8)).c_str());
    UNSIGNED_LONGS_EQUAL(8, cookie_chunk_count("8:abc", 8).value());
}

TEST(SessionChunks, JoinRefusesMissingExtraEmptyAndTooManyChunks) {
    STRCMP_EQUAL("SAML0543", code_of(join_cookie({}, 4)).c_str());
    STRCMP_EQUAL("SAML0543", code_of(join_cookie({"3:ab", "cd"}, 4)).c_str());
    STRCMP_EQUAL("SAML0543", code_of(join_cookie({"2:ab", "cd", "ef"}, 4)).c_str());
    STRCMP_EQUAL("SAML0543", code_of(join_cookie({"2:ab", ""}, 4)).c_str());
    STRCMP_EQUAL("SAML0543", code_of(join_cookie({"2:", "cd"}, 4)).c_str());
    STRCMP_EQUAL("SAML0543", code_of(join_cookie({"abc", "def"}, 4)).c_str());
    std::vector<std::string_view> many(1000, "x");
    STRCMP_EQUAL("SAML0542", code_of(join_cookie(many, 4)).c_str());
    STRCMP_EQUAL("abcd", join_cookie({"2:ab", "cd"}, 4).value().c_str());
}

TEST(SessionChunks, ChunkCookieNames) {
    STRCMP_EQUAL("saml_session", chunk_cookie_name("saml_session", 0).c_str());
    STRCMP_EQUAL("saml_session_1", chunk_cookie_name("saml_session", 1).c_str());
    STRCMP_EQUAL("saml_session_12", chunk_cookie_name("saml_session", 12).c_str());
}

// ---------------------------------------------------------------------------------------------

TEST_GROUP(AttributeNames){};

TEST(AttributeNames, CommonOidsHaveShortNames) {
    const std::pair<const char*, const char*> cases[] = {
        {"urn:oid:0.9.2342.19200300.100.1.1", "uid"},
        {"urn:oid:0.9.2342.19200300.100.1.3", "mail"},
        {"urn:oid:2.5.4.42", "givenName"},
        {"urn:oid:2.5.4.4", "sn"},
        {"urn:oid:2.5.4.3", "cn"},
        {"urn:oid:2.16.840.1.113730.3.1.241", "displayName"},
        {"urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "eduPersonAffiliation"},
        {"urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "eduPersonPrincipalName"},
        {"urn:oid:1.3.6.1.4.1.5923.1.1.1.7", "eduPersonEntitlement"},
        {"urn:oid:1.3.6.1.4.1.5923.1.1.1.9", "eduPersonScopedAffiliation"},
        {"urn:oid:1.3.6.1.4.1.5923.1.1.1.10", "eduPersonTargetedID"},
        {"urn:oid:1.3.6.1.4.1.5923.1.5.1.1", "isMemberOf"},
        {"urn:oid:2.5.4.10", "o"},
        {"urn:oid:2.5.4.11", "ou"},
        {"urn:oid:2.16.840.1.113730.3.1.3", "employeeNumber"},
        {"urn:oid:2.5.4.20", "telephoneNumber"},
        {"URN:OID:2.5.4.3", "cn"},
        {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "mail"},
        {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "givenName"},
        {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "sn"},
        {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "name"},
        {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "upn"},
        {"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "groups"},
        {"http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "role"},
        {"HTTP://SCHEMAS.XMLSOAP.ORG/ws/2005/05/identity/claims/EmailAddress", "mail"},
        {"urn:mace:dir:attribute-def:eduPersonPrincipalName", "eduPersonPrincipalName"},
        {"urn:mace:dir:attribute-def:mail", "mail"},
    };
    for (const auto& c : cases) STRCMP_EQUAL_TEXT(c.second, std::string(friendly_attribute_name(c.first)).c_str(), c.first);
}

TEST(AttributeNames, UnknownNamesGiveNothing) {
    const char* unknown[] = {"",
                             "mail",
                             "urn:oid:",
                             "urn:oid:2.5.4.3.1",
                             "urn:oid:2.5.4",
                             "urn:oid:1.3.6.1.4.1.99999.1",
                             "urn:mace:dir:attribute-def:favouriteColour",
                             "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/",
                             "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress2",
                             "xurn:oid:2.5.4.3"};
    for (const char* name : unknown) CHECK_TEXT(friendly_attribute_name(name).empty(), name);
}

TEST(AttributeNames, EnvSafeNamesKeepOnlyWordCharacters) {
    STRCMP_EQUAL("urn_oid_2_5_4_3", env_safe_name("urn:oid:2.5.4.3").c_str());
    STRCMP_EQUAL("eduPersonPrincipalName", env_safe_name("eduPersonPrincipalName").c_str());
    STRCMP_EQUAL("http___schemas_microsoft_com_ws_2008_06_identity_claims_groups",
                 env_safe_name("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups").c_str());
    STRCMP_EQUAL("a_b_c_d", env_safe_name("a b=c\nd").c_str());
    STRCMP_EQUAL("Z__", env_safe_name("Z\xC3\xA9").c_str());  // é is two bytes
    STRCMP_EQUAL("", env_safe_name("").c_str());
    STRCMP_EQUAL("_", env_safe_name(std::string(1, '\0')).c_str());
}

TEST(AttributeNames, BlankIsWhitespaceOfAnyKindOnly) {
    for (const char* blank : {"", " ", "\t\r\n ", "\xc2\xa0", "\xc2\x85", "\xe1\x9a\x80", "\xe2\x80\x80\xe2\x80\x8a",
                              "\xe2\x80\x8b\xe2\x80\x8c\xe2\x80\x8d", "\xc2\xad", "\xe2\x80\xaf",
                              "\xe2\x81\x9f\xe2\x81\xa0", "\xe3\x80\x80", "\xef\xbb\xbf"}) {
        CHECK_TEXT(is_blank(blank), blank);
        CHECK_FALSE(usable_as_user_id(blank));
    }
    // One visible character is enough; bytes that are not UTF-8 are not whitespace (libxml2
    // hands us only UTF-8, but a truncated or forged sequence must not pass for a space).
    for (const char* visible : {"a", " a ", "\xc2\xa0x", "\xe2\x80\x90", "\xc2\x20", "\xe3\x80", "\x80", "\xf0\x9f\x98\x80"})
        CHECK_FALSE_TEXT(is_blank(visible), visible);
    CHECK(usable_as_user_id("alice"));
    CHECK(usable_as_user_id("Zo\xc3\xab Smith"));
}

TEST_GROUP(SealedBytes){};

TEST(SealedBytes, RoundTripAndSeparationFromSessions) {
    auto sealer = saml::SessionSealer::create({std::string(32, 'k')});
    CHECK(sealer.ok());
    auto sealed = sealer.value().seal_bytes("login state", "saml_login_ab");
    CHECK(sealed.ok());
    auto opened = sealer.value().open_bytes(sealed.value(), "saml_login_ab");
    CHECK(opened.ok());
    STRCMP_EQUAL("login state", opened.value().c_str());
    // Another cookie name, or opened as a session: refused.
    CHECK_FALSE(sealer.value().open_bytes(sealed.value(), "saml_login_cd").ok());
    auto as_session = sealer.value().open(sealed.value(), "saml_login_ab", saml::Clock::now(), std::chrono::seconds(0));
    CHECK_FALSE(as_session.ok());
    STRCMP_EQUAL("SAML0513", as_session.error().code.c_str());
}

TEST(SealedBytes, LoginStateEncoding) {
    saml::LoginState state{"_req1", "/deep/link?x=1", "https://idp.example/", saml::from_unix(1780315200)};
    auto decoded = saml::decode_login_state(saml::encode_login_state(state));
    CHECK(decoded.ok());
    STRCMP_EQUAL("_req1", decoded.value().request_id.c_str());
    STRCMP_EQUAL("/deep/link?x=1", decoded.value().return_to.c_str());
    STRCMP_EQUAL("https://idp.example/", decoded.value().idp_entity_id.c_str());
    LONGS_EQUAL(1780315200, saml::to_unix(decoded.value().created));
    const std::string encoded = saml::encode_login_state(state);
    for (std::size_t cut = 0; cut < encoded.size(); ++cut)
        CHECK_FALSE(saml::decode_login_state(encoded.substr(0, cut)).ok());
    CHECK_FALSE(saml::decode_login_state(encoded + "x").ok());
    CHECK(saml::login_state_cookie_name("saml_login_", "_req1") != saml::login_state_cookie_name("saml_login_", "_req2"));
}
