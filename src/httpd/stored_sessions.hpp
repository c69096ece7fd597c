// SAMLSessionStore cache: sessions on the server, in an socache shared by the whole httpd (and
// by every node when it is memcache or redis). The format is the core's (session_store.hpp);
// this file reads and writes it, keeps the records it decoded in a small per-process memory,
// and ends sessions: by handle at logout, by IdP + NameID for a logout that comes without the
// browser.
#pragma once

#include "session.hpp"
#include "session_store.hpp"

#include <httpd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace saml_httpd {

struct Runtime;

int session_store_pre_config(apr_pool_t* pconf);
// Creates the cache when a server uses SAMLSessionStore cache (one per httpd: every server that
// does must name the same provider); a message on failure.
const char* session_store_post_config(apr_pool_t* pconf, server_rec* main_server);
void session_store_child_init(apr_pool_t* pchild, server_rec* s);

// The largest session record accepted from the cache (a session's sealed payload, base64url).
inline constexpr std::size_t kMaxStoredRecordBytes = 400 * 1024;

struct StoredSession {
    std::shared_ptr<const saml::Session> session;
    saml::Instant last_seen{};
};
enum class StoreAnswer { found, missing, unavailable };

// The session a handle names, if its record and last-seen entry are there. `missing` covers a
// session that ended (logout), expired or was evicted; `unavailable` a cache that did not answer.
// `known`: the session this connection already holds for the handle; then only the last-seen
// entry is read (whether the session is still on), not the record.
StoreAnswer read_stored_session(request_rec* r, const saml::SessionHandle& handle, saml::Instant now, StoredSession* out,
                                std::shared_ptr<const saml::Session> known = nullptr);
// With a store that is this httpd's own (shmcb): how many sessions its processes have ended so
// far (logouts, revocations), read without a lock. While the count has not moved, a session the
// store said was on is still on (nothing else removes a session before its end, but running out
// of room), so a connection may skip asking again. nullopt for memcache and redis: other nodes
// end sessions there, and only the cache can say.
std::optional<std::uint64_t> sessions_ended_here();
// A new session: its record, its last-seen entry and its place in the subject's index. False,
// with the reason, when the cache did not take it.
bool store_session(request_rec* r, const Runtime& rt, const saml::SessionHandle& handle, const saml::Session& session,
                   std::string* why);
// Records that the session was used now (for the idle timeout); best effort.
void touch_stored_session(request_rec* r, const std::string& session_id, saml::Instant now, saml::Instant expires_at);
// Ends one session for every copy of its cookie. False when the cache did not answer.
bool end_stored_session(request_rec* r, const std::string& session_id);
// Ends every session of (IdP, NameID), only those whose SessionIndex is listed when some are.
// The number ended, or -1 when the cache did not answer.
int end_subject_sessions(request_rec* r, const Runtime& rt, const std::string& idp_entity_id, const std::string& name_id,
                         const std::vector<std::string>& session_indexes);

}  // namespace saml_httpd
