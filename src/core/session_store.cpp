#include "session_store.hpp"

#include "crypto.hpp"
#include "encoding.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace saml {

namespace {

// The first byte of a sealed handle's plaintext: tells a handle from any other sealed bytes the
// same keys made (a login-state cookie's), whatever cookie it was moved into.
constexpr char kHandleMagic = 'H';
constexpr char kIndexVersion = 1;
constexpr std::size_t kIndexEntryBytes = SessionHandle::id_bytes + 16 + 8;

std::string record_name(std::string_view id) { return "saml-session-record " + hex_encode(id); }

void put_u64(std::string& out, std::uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

std::uint64_t get_u64(std::string_view bytes) {
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    return value;
}

// A per-record sealer: the handle's key is the secret (32 random bytes) it derives its key from.
Result<SessionSealer> record_sealer(const SessionHandle& handle) {
    if (handle.id.size() != SessionHandle::id_bytes || handle.key.size() != SessionHandle::key_bytes)
        return Error{ErrorKind::Internal, "SAML0583", "session-handle", "a session handle of the wrong size"};
    return SessionSealer::create({handle.key});
}

}  // namespace

SessionHandle SessionHandle::fresh() { return {random_bytes(id_bytes), random_bytes(key_bytes)}; }

Result<std::string> seal_handle(const SessionSealer& sealer, const SessionHandle& handle, std::string_view cookie_name) {
    if (handle.id.size() != SessionHandle::id_bytes || handle.key.size() != SessionHandle::key_bytes)
        return Error{ErrorKind::Internal, "SAML0583", "session-handle", "a session handle of the wrong size"};
    std::string plain = kHandleMagic + handle.id + handle.key;
    auto sealed = sealer.seal_bytes(plain, cookie_name);
    OPENSSL_cleanse(plain.data(), plain.size());
    return sealed;
}

Result<SessionHandle> open_handle(const SessionSealer& sealer, std::string_view cookie_value, std::string_view cookie_name) {
    // A handle cookie is ~110 characters; anything far longer is not one (a cookie-mode session).
    if (cookie_value.size() > 256)
        return Error{ErrorKind::BadInput, "SAML0580", "session-handle",
                     "the session cookie is " + std::to_string(cookie_value.size()) + " bytes, not a session handle"};
    auto opened = sealer.open_bytes(cookie_value, cookie_name);
    if (!opened) return opened.error();
    std::string& plain = opened.value();
    if (plain.size() != 1 + SessionHandle::id_bytes + SessionHandle::key_bytes || plain.front() != kHandleMagic) {
        OPENSSL_cleanse(plain.data(), plain.size());
        return Error{ErrorKind::Rejected, "SAML0580", "session-handle", "the session cookie does not hold a session handle"};
    }
    SessionHandle handle{plain.substr(1, SessionHandle::id_bytes), plain.substr(1 + SessionHandle::id_bytes)};
    OPENSSL_cleanse(plain.data(), plain.size());
    return handle;
}

Result<std::string> seal_record(const Session& session, const SessionHandle& handle) {
    auto sealer = record_sealer(handle);
    if (!sealer) return sealer.error();
    return sealer.value().seal(session, record_name(handle.id));
}

Result<Session> open_record(std::string_view record, const SessionHandle& handle, Instant now) {
    auto sealer = record_sealer(handle);
    if (!sealer) return sealer.error();
    // The idle limit is the module's (from last_seen_key); the record's own last_seen is its issue.
    return sealer.value().open(record, record_name(handle.id), now, std::chrono::seconds(0));
}

std::string record_key(const SessionHandle& handle) { return record_key_of(handle.id); }
std::string record_key_of(std::string_view session_id) { return "rec:" + std::string(session_id); }
std::string last_seen_key(std::string_view session_id) { return "seen:" + std::string(session_id); }

std::string subject_index_key(const SessionSealer& sealer, std::string_view idp_entity_id, std::string_view name_id) {
    // Hashed first: the digest's input stays small whatever the NameID's length.
    const std::string subject = sha256(std::string(idp_entity_id) + '\0' + std::string(name_id));
    return "nameid:" + sealer.keyed_digest("saml-session-subject-index", subject);
}

std::string encode_last_seen(Instant when) {
    std::string out;
    put_u64(out, static_cast<std::uint64_t>(std::max<long long>(0, to_unix(when))));
    return out;
}

Result<Instant> decode_last_seen(std::string_view bytes) {
    if (bytes.size() != 8) return Error{ErrorKind::BadInput, "SAML0581", "session-last-seen", "not 8 bytes"};
    const std::uint64_t seconds = get_u64(bytes);
    if (seconds >= (1ULL << 33)) return Error{ErrorKind::BadInput, "SAML0581", "session-last-seen", "out of range"};
    return from_unix(static_cast<long long>(seconds));
}

std::string session_index_digest(std::string_view session_index) {
    return session_index.empty() ? std::string() : sha256(session_index).substr(0, 16);
}

Result<std::string> seal_subject_index(const SessionSealer& sealer, std::vector<IndexedSession> sessions,
                                       std::string_view index_key, Instant now) {
    sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                  [&](const IndexedSession& s) {
                                      return s.expires_at <= now || s.id.size() != SessionHandle::id_bytes ||
                                             (s.session_index_digest.size() != 16 && !s.session_index_digest.empty());
                                  }),
                   sessions.end());
    // The newest first; beyond the bound the oldest go (their sessions still expire by themselves).
    std::stable_sort(sessions.begin(), sessions.end(),
                     [](const IndexedSession& a, const IndexedSession& b) { return a.expires_at > b.expires_at; });
    if (sessions.size() > max_indexed_sessions) sessions.resize(max_indexed_sessions);
    std::string plain(1, kIndexVersion);
    for (const auto& s : sessions) {
        plain += s.id;
        plain += s.session_index_digest.empty() ? std::string(16, '\0') : s.session_index_digest;
        put_u64(plain, static_cast<std::uint64_t>(std::max<long long>(0, to_unix(s.expires_at))));
    }
    return sealer.seal_bytes(plain, index_key);
}

Result<std::vector<IndexedSession>> open_subject_index(const SessionSealer& sealer, std::string_view sealed,
                                                       std::string_view index_key) {
    auto opened = sealer.open_bytes(sealed, index_key);
    if (!opened) return opened.error();
    std::string_view plain = opened.value();
    if (plain.empty() || plain.front() != kIndexVersion || (plain.size() - 1) % kIndexEntryBytes != 0 ||
        (plain.size() - 1) / kIndexEntryBytes > max_indexed_sessions)
        return Error{ErrorKind::BadInput, "SAML0582", "session-index", "the subject's session index is malformed"};
    plain.remove_prefix(1);
    std::vector<IndexedSession> sessions;
    const std::string no_index(16, '\0');
    for (; !plain.empty(); plain.remove_prefix(kIndexEntryBytes)) {
        IndexedSession s;
        s.id = std::string(plain.substr(0, SessionHandle::id_bytes));
        const std::string digest(plain.substr(SessionHandle::id_bytes, 16));
        if (digest != no_index) s.session_index_digest = digest;
        s.expires_at = from_unix(static_cast<long long>(get_u64(plain.substr(SessionHandle::id_bytes + 16, 8)) & ((1ULL << 33) - 1)));
        sessions.push_back(std::move(s));
    }
    return sessions;
}

Result<Done> store_subject_index(CacheClient& cache, const SessionSealer& sealer, std::string_view index_key,
                                 std::vector<IndexedSession> sessions, Instant now) {
    Instant longest{};
    for (const auto& s : sessions) longest = std::max(longest, s.expires_at);
    auto index = seal_subject_index(sealer, std::move(sessions), index_key, now);
    if (!index) return index.error();
    if (!cache.store(index_key, index.value(), longest))
        return Error{ErrorKind::Internal, "SAML0585", "session-index", "the cache did not take the subject's index"};
    return Done{};
}

Result<Done> add_to_subject_index(CacheClient& cache, const SessionSealer& sealer, std::string_view index_key,
                                  IndexedSession session, std::size_t max_index_bytes, Instant now) {
    std::string sealed;
    std::vector<IndexedSession> sessions;
    switch (checked_find(cache, index_key, max_index_bytes, &sealed)) {
        case CacheClient::Lookup::failed:
            return Error{ErrorKind::Internal, "SAML0584", "session-index",
                         "the subject's index did not answer for sure and is left as it is"};
        case CacheClient::Lookup::found:
            if (auto opened = open_subject_index(sealer, sealed, index_key)) sessions = std::move(opened).value();
            break;
        case CacheClient::Lookup::missing: break;
    }
    sessions.push_back(std::move(session));
    return store_subject_index(cache, sealer, index_key, std::move(sessions), now);
}

}  // namespace saml
