// Sessions kept on the server (SAMLSessionStore cache): the cookie carries a handle, the cache
// the session. A handle is a random session id and a random key; the cookie holds it sealed with
// the site's session keys, so a cookie made without the secret never reaches the cache. The
// cache holds the session record sealed with the handle's key (AES-256-GCM, the id bound in the
// additional data), so whoever reads the cache sees no attributes without a user's cookie, and
// whoever holds a cookie sees nothing without the cache. Deleting the record ends the session for
// every copy of the cookie, on every server that shares the cache.
//
// This file is the format only: what is stored under which key. Storing is the module's (it owns
// the socache). Error codes SAML0580-0599.
#pragma once

#include "checked_cache.hpp"
#include "error.hpp"
#include "session.hpp"
#include "time.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

struct SessionHandle {
    static constexpr std::size_t id_bytes = 16;
    static constexpr std::size_t key_bytes = 32;
    std::string id;   // random, names the cache entries
    std::string key;  // random, seals the record; never stored on the server

    static SessionHandle fresh();
};

// The cookie value: under 200 bytes whatever the session holds.
Result<std::string> seal_handle(const SessionSealer& sealer, const SessionHandle& handle, std::string_view cookie_name);
// BadInput/Rejected exactly as SessionSealer::open_bytes, or SAML0580 for sealed bytes that are
// not a handle (another kind of sealed value moved into this cookie).
Result<SessionHandle> open_handle(const SessionSealer& sealer, std::string_view cookie_value, std::string_view cookie_name);

// The record: the session's payload sealed under the handle's key.
Result<std::string> seal_record(const Session& session, const SessionHandle& handle);
// Rejected SAML0514 / SAML0515 when the record was not sealed for this handle (another key, another
// id, or altered), SAML0516 when the session has expired at `now`.
Result<Session> open_record(std::string_view record, const SessionHandle& handle, Instant now);

// The cache keys: "rec:" and "seen:" + the id (the record, and when the session was last used:
// written far more often than the record, and tiny), "nameid:" + a keyed hash of IdP and NameID
// (the sessions of one subject, for a logout that comes without the browser).
std::string record_key(const SessionHandle& handle);
std::string last_seen_key(std::string_view session_id);
std::string record_key_of(std::string_view session_id);
std::string subject_index_key(const SessionSealer& sealer, std::string_view idp_entity_id, std::string_view name_id);

// When the session was last used, as stored under last_seen_key: 8 bytes, big-endian seconds.
std::string encode_last_seen(Instant when);
Result<Instant> decode_last_seen(std::string_view bytes);  // BadInput SAML0581

// One subject's sessions. The SessionIndex is kept as a digest (a LogoutRequest names it to end
// one session of several); the list is sealed with the site's keys, bound to its cache key.
struct IndexedSession {
    std::string id;
    std::string session_index_digest;  // 16 bytes of SHA-256, empty when the IdP gave none
    Instant expires_at{};
};
inline constexpr std::size_t max_indexed_sessions = 64;
std::string session_index_digest(std::string_view session_index);
// Drops entries expired at `now` and keeps the newest max_indexed_sessions.
Result<std::string> seal_subject_index(const SessionSealer& sealer, std::vector<IndexedSession> sessions,
                                       std::string_view index_key, Instant now);
// SAML0582 for an index that is not well-formed once opened.
Result<std::vector<IndexedSession>> open_subject_index(const SessionSealer& sealer, std::string_view sealed,
                                                       std::string_view index_key);

// Seals the index and stores it to live as long as its longest session; SAML0585 when the cache
// does not take it.
Result<Done> store_subject_index(CacheClient& cache, const SessionSealer& sealer, std::string_view index_key,
                                 std::vector<IndexedSession> sessions, Instant now);
// Adds a new session to its subject's index in the cache (read, add, write), the index living as
// long as its longest session. The read is checked_find's: an index that may be there but did not
// answer is left as it is (SAML0584), because writing it anew would take the subject's other
// sessions out of it and a logout without the browser would no longer end them. An index that
// does not open (another site key, altered, malformed) is replaced. Up to max_index_bytes is
// read; the caller holds the cache's lock.
Result<Done> add_to_subject_index(CacheClient& cache, const SessionSealer& sealer, std::string_view index_key,
                                  IndexedSession session, std::size_t max_index_bytes, Instant now);

}  // namespace saml
