#include "session_store.hpp"

#include <CppUTest/TestHarness.h>

#include <string>

using namespace saml;

namespace {

SessionSealer site_sealer(char fill = 's') {
    auto sealer = SessionSealer::create({std::string(32, fill)});
    CHECK_TRUE(sealer.ok());
    return std::move(sealer).value();
}

Session session_with_groups(std::size_t groups) {
    Session session;
    session.user = "alice";
    session.name_id.value = "alice@example.org";
    session.session_index = "_index-1";
    session.idp_entity_id = "https://idp.example.org";
    Attribute attribute;
    attribute.name = "groups";
    for (std::size_t i = 0; i < groups; ++i) attribute.values.push_back("group-" + std::to_string(i) + "-0f3c9a1e-7b44-4c1e");
    session.attributes.push_back(attribute);
    session.issued_at = session.last_seen = from_unix(1800000000);
    session.expires_at = from_unix(1800000000 + 8 * 3600);
    return session;
}

const Instant kNow = from_unix(1800000100);

}  // namespace

TEST_GROUP(SessionStore){};

TEST(SessionStore, TheCookieIsASmallHandleWhateverTheSessionHolds) {
    const SessionSealer sealer = site_sealer();
    const SessionHandle handle = SessionHandle::fresh();
    auto cookie = seal_handle(sealer, handle, "saml_session");
    CHECK_TRUE(cookie.ok());
    CHECK(cookie.value().size() < 200);
    auto opened = open_handle(sealer, cookie.value(), "saml_session");
    CHECK_TRUE(opened.ok());
    CHECK(opened.value().id == handle.id);
    CHECK(opened.value().key == handle.key);
    // Two handles never share an id or a key.
    const SessionHandle other = SessionHandle::fresh();
    CHECK(other.id != handle.id);
    CHECK(other.key != handle.key);
}

TEST(SessionStore, AHandleOpensOnlyWithTheSiteKeysUnderItsCookieName) {
    const SessionSealer sealer = site_sealer();
    auto cookie = seal_handle(sealer, SessionHandle::fresh(), "saml_session");
    CHECK_FALSE(open_handle(site_sealer('x'), cookie.value(), "saml_session").ok());
    CHECK_FALSE(open_handle(sealer, cookie.value(), "other_cookie").ok());
    std::string tampered = cookie.value();
    tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
    CHECK_FALSE(open_handle(sealer, tampered, "saml_session").ok());
    // A cookie-mode session cookie, and other sealed bytes of the same keys, are not handles.
    auto session_cookie = sealer.seal(session_with_groups(1), "saml_session");
    STRCMP_EQUAL("SAML0513", open_handle(sealer, session_cookie.value(), "saml_session").error().code.c_str());
    auto other_bytes = sealer.seal_bytes(std::string(49, 'x'), "saml_session");
    STRCMP_EQUAL("SAML0580", open_handle(sealer, other_bytes.value(), "saml_session").error().code.c_str());
    STRCMP_EQUAL("SAML0580", open_handle(sealer, std::string(300, 'A'), "saml_session").error().code.c_str());
    CHECK_FALSE(open_handle(sealer, "", "saml_session").ok());
}

TEST(SessionStore, TheRecordOpensOnlyWithItsHandleAndRevealsNothingWithout) {
    const Session session = session_with_groups(300);
    const SessionHandle handle = SessionHandle::fresh();
    auto record = seal_record(session, handle);
    CHECK_TRUE(record.ok());
    CHECK(record.value().find("group-1") == std::string::npos);
    CHECK(record.value().find("alice") == std::string::npos);
    auto opened = open_record(record.value(), handle, kNow);
    CHECK_TRUE(opened.ok());
    LONGS_EQUAL(300, opened.value().attributes.at(0).values.size());
    STRCMP_EQUAL("group-299-0f3c9a1e-7b44-4c1e", opened.value().attributes.at(0).values.back().c_str());
    STRCMP_EQUAL("alice@example.org", opened.value().name_id.value.c_str());

    // Another session's key, or this key under another id (a record copied to another entry).
    SessionHandle other_key = handle;
    other_key.key = SessionHandle::fresh().key;
    // (another key announces another key id: refused before decrypting)
    STRCMP_EQUAL("SAML0514", open_record(record.value(), other_key, kNow).error().code.c_str());
    SessionHandle other_id = handle;
    other_id.id = SessionHandle::fresh().id;
    STRCMP_EQUAL("SAML0515", open_record(record.value(), other_id, kNow).error().code.c_str());
    // Expired with the session.
    STRCMP_EQUAL("SAML0516", open_record(record.value(), handle, session.expires_at).error().code.c_str());
    SessionHandle short_key{handle.id, "short"};
    CHECK_FALSE(open_record(record.value(), short_key, kNow).ok());
}

TEST(SessionStore, SixtyFourKilobytesOfAttributesFitARecord) {
    Session session = session_with_groups(0);
    Attribute big;
    big.name = "description";
    big.values.assign(64, std::string(1024, 'v'));
    session.attributes.push_back(big);
    const SessionHandle handle = SessionHandle::fresh();
    auto record = seal_record(session, handle);
    CHECK_TRUE(record.ok());
    auto opened = open_record(record.value(), handle, kNow);
    CHECK_TRUE(opened.ok());
    LONGS_EQUAL(64, opened.value().attributes.at(1).values.size());
}

TEST(SessionStore, KeysNameNoOne) {
    const SessionSealer sealer = site_sealer();
    const std::string key = subject_index_key(sealer, "https://idp.example.org", "alice@example.org");
    CHECK(key.find("alice") == std::string::npos);
    CHECK(key == subject_index_key(sealer, "https://idp.example.org", "alice@example.org"));
    CHECK(key != subject_index_key(sealer, "https://other.example.org", "alice@example.org"));
    CHECK(key != subject_index_key(sealer, "https://idp.example.org", "bob@example.org"));
    // IdP and NameID are kept apart: no shifting of characters between them gives the same key.
    CHECK(subject_index_key(sealer, "https://idp.example.orga", "lice") != subject_index_key(sealer, "https://idp.example.org", "alice"));
    // Another site's secret, other keys.
    CHECK(key != subject_index_key(site_sealer('x'), "https://idp.example.org", "alice@example.org"));
    const SessionHandle handle = SessionHandle::fresh();
    CHECK(record_key(handle) != last_seen_key(handle.id));
    CHECK(record_key(handle) == record_key_of(handle.id));
}

TEST(SessionStore, LastSeenRoundTrips) {
    auto back = decode_last_seen(encode_last_seen(kNow));
    CHECK_TRUE(back.ok());
    CHECK(back.value() == kNow);
    STRCMP_EQUAL("SAML0581", decode_last_seen("1234567").error().code.c_str());
    STRCMP_EQUAL("SAML0581", decode_last_seen(std::string(8, '\xff')).error().code.c_str());
}

TEST(SessionStore, TheSubjectIndexKeepsLiveSessionsBoundedAndSealed) {
    const SessionSealer sealer = site_sealer();
    const std::string index_key = subject_index_key(sealer, "https://idp.example.org", "alice@example.org");
    std::vector<IndexedSession> sessions;
    sessions.push_back({SessionHandle::fresh().id, session_index_digest("_a"), kNow + std::chrono::hours(1)});
    sessions.push_back({SessionHandle::fresh().id, "", kNow + std::chrono::hours(2)});
    sessions.push_back({SessionHandle::fresh().id, session_index_digest("_c"), kNow - std::chrono::seconds(1)});  // expired
    auto sealed = seal_subject_index(sealer, sessions, index_key, kNow);
    CHECK_TRUE(sealed.ok());
    auto opened = open_subject_index(sealer, sealed.value(), index_key);
    CHECK_TRUE(opened.ok());
    LONGS_EQUAL(2, opened.value().size());
    CHECK(opened.value()[0].id == sessions[1].id);  // newest expiry first
    CHECK(opened.value()[0].session_index_digest.empty());
    CHECK(opened.value()[1].session_index_digest == session_index_digest("_a"));
    CHECK(opened.value()[1].expires_at == kNow + std::chrono::hours(1));
    // Bound to its key: the index of another subject does not open as this one.
    const std::string bob = subject_index_key(sealer, "https://idp.example.org", "bob@example.org");
    CHECK_FALSE(open_subject_index(sealer, sealed.value(), bob).ok());
    // At most max_indexed_sessions, the newest kept.
    std::vector<IndexedSession> many;
    for (std::size_t i = 0; i < max_indexed_sessions + 10; ++i)
        many.push_back({SessionHandle::fresh().id, "", kNow + std::chrono::seconds(100 + i)});
    auto bounded = open_subject_index(sealer, seal_subject_index(sealer, many, index_key, kNow).value(), index_key);
    LONGS_EQUAL(max_indexed_sessions, bounded.value().size());
    CHECK(bounded.value().front().id == many.back().id);
    // Well-formed sealing of nonsense is refused once opened.
    auto junk = sealer.seal_bytes(std::string(7, '\1'), index_key);
    STRCMP_EQUAL("SAML0582", open_subject_index(sealer, junk.value(), index_key).error().code.c_str());
}
