#include "stored_sessions.hpp"

#include "config.hpp"
#include "runtime.hpp"
#include "socache.hpp"
#include "status.hpp"

#include <apr_shm.h>
#include <apr_strings.h>
#include <http_log.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

constexpr const char* kMutexType = "auth-saml-sessions";
constexpr const char* kCacheName = "auth_saml_sess";  // memcache/redis key prefix: under 16 bytes
// The subject index lists at most 64 sessions of 40 bytes, sealed and base64url.
constexpr std::size_t kMaxIndexBytes = 4096;

ModuleSocache cache;

// With a node-local store (shmcb): how many sessions this httpd has ended, in memory shared by
// its processes (anonymous, created before the children fork, so each generation has its own,
// as it has its own shmcb). Null with memcache or redis, whose sessions other nodes end too.
std::atomic<std::uint64_t>* sessions_ended = nullptr;
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the counter is shared between processes");

const char* create_ended_counter(apr_pool_t* pconf) {
    apr_shm_t* shm = nullptr;
    if (apr_shm_create(&shm, sizeof(std::atomic<std::uint64_t>), nullptr, pconf) != APR_SUCCESS)
        return "SAMLSessionStore cache: cannot create its shared counter (anonymous shared memory)";
    sessions_ended = new (apr_shm_baseaddr_get(shm)) std::atomic<std::uint64_t>(0);
    apr_pool_cleanup_register(pconf, nullptr, [](void*) -> apr_status_t { sessions_ended = nullptr; return APR_SUCCESS; },
                              apr_pool_cleanup_null);
    return nullptr;
}

// The records this process decoded last, keyed by the whole handle (id and key: holding an id
// alone gets nothing from here either). A record never changes under its id (last-seen lives
// apart), so an entry stays right for as long as the cache says the session is there; the cache
// is asked on every request, so a session ended elsewhere ends here at once.
class DecodedSessions {
public:
    std::shared_ptr<const saml::Session> find(const std::string& handle_key) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = index_.find(handle_key);
        if (it == index_.end()) return nullptr;
        order_.splice(order_.begin(), order_, it->second);
        return it->second->second;
    }
    void remember(std::string handle_key, std::shared_ptr<const saml::Session> session) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto it = index_.find(handle_key); it != index_.end()) {
            order_.erase(it->second);
            index_.erase(it);
        }
        order_.emplace_front(handle_key, std::move(session));
        index_.emplace(std::move(handle_key), order_.begin());
        while (order_.size() > kEntries) {
            index_.erase(order_.back().first);
            order_.pop_back();
        }
    }
    void forget_id(const std::string& session_id) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = order_.begin(); it != order_.end();) {
            if (it->first.compare(0, session_id.size(), session_id) == 0) {
                index_.erase(it->first);
                it = order_.erase(it);
            } else {
                ++it;
            }
        }
    }

private:
    static constexpr std::size_t kEntries = 512;
    std::mutex mutex_;
    std::list<std::pair<std::string, std::shared_ptr<const saml::Session>>> order_;
    std::unordered_map<std::string, decltype(order_)::iterator> index_;
};

DecodedSessions& decoded() {
    static DecodedSessions sessions;
    return sessions;
}

const char* store_spec(const ServerConfig* conf) {
    return conf->session_store_cache ? conf->session_store_cache : defaults::session_cache;
}

}  // namespace

int session_store_pre_config(apr_pool_t* pconf) { return ModuleSocache::register_mutex(pconf, kMutexType); }

const char* session_store_post_config(apr_pool_t* pconf, server_rec* main_server) {
    const char* spec = nullptr;
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        const ServerConfig* conf = server_config(s);
        if (conf->runtime == nullptr || conf->session_store != 1) continue;
        if (spec == nullptr) spec = store_spec(conf);
        else if (std::string(spec) != store_spec(conf))
            return apr_psprintf(pconf,
                                "SAMLSessionStore cache: every server of this httpd must use the same cache (%s here, "
                                "%s in %s)",
                                store_spec(conf), spec, s->server_hostname ? s->server_hostname : "a virtual host");
    }
    if (spec == nullptr) return nullptr;
    ap_socache_hints hints{};
    hints.avg_id_len = 24;
    hints.avg_obj_size = 4096;
    hints.expiry_interval = apr_time_from_sec(60);
    if (const char* error = cache.create(pconf, main_server, "SAMLSessionStore cache", spec, kCacheName, kMutexType, hints))
        return error;
    return cache.node_local() ? create_ended_counter(pconf) : nullptr;
}

std::optional<std::uint64_t> sessions_ended_here() {
    if (sessions_ended == nullptr) return std::nullopt;
    return sessions_ended->load(std::memory_order_acquire);
}

void session_store_child_init(apr_pool_t* pchild, server_rec* s) {
    if (cache.ready()) cache.child_init(pchild, s, "session store");
}

StoreAnswer read_stored_session(request_rec* r, const saml::SessionHandle& handle, saml::Instant now, StoredSession* out,
                                std::shared_ptr<const saml::Session> known) {
    // A miss is believed only when the server proves it (checked_cache.hpp: apr_memcache and
    // apr_redis answer "not found" for a server they hold for dead), so a cache that is down is
    // said as such (503), not as a logout. A hit, every protected request, costs one lookup.
    std::string seen;
    saml::CacheClient::Lookup found;
    {
        SocacheLock lock(cache);
        if (!lock.locked()) return StoreAnswer::unavailable;
        SocacheClient client(cache, r);
        found = saml::checked_find(client, saml::last_seen_key(handle.id), 8, &seen);
    }
    if (found == saml::CacheClient::Lookup::failed) return StoreAnswer::unavailable;
    if (found == saml::CacheClient::Lookup::missing) {
        count(Counter::session_store_misses);
        return StoreAnswer::missing;
    }
    auto last_seen = saml::decode_last_seen(seen);
    if (!last_seen) return StoreAnswer::missing;
    out->last_seen = last_seen.value();
    if (known) {
        out->session = std::move(known);
        return StoreAnswer::found;
    }
    const std::string handle_key = handle.id + handle.key;
    if (auto session = decoded().find(handle_key)) {
        out->session = std::move(session);
        return StoreAnswer::found;
    }
    std::string record;
    {
        SocacheLock lock(cache);
        if (!lock.locked()) return StoreAnswer::unavailable;
        SocacheClient client(cache, r);
        found = saml::checked_find(client, saml::record_key(handle), kMaxStoredRecordBytes, &record);
    }
    if (found == saml::CacheClient::Lookup::failed) return StoreAnswer::unavailable;
    if (found == saml::CacheClient::Lookup::missing) {
        // The last-seen entry is there and the record is not: the cache dropped it for room.
        count(Counter::session_store_evictions);
        return StoreAnswer::missing;
    }
    auto opened = saml::open_record(record, handle, now);
    if (!opened) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0814 stored session not accepted: %s",
                      opened.error().message().c_str());
        return StoreAnswer::missing;
    }
    out->session = std::make_shared<const saml::Session>(std::move(opened).value());
    decoded().remember(handle_key, out->session);
    return StoreAnswer::found;
}

bool store_session(request_rec* r, const Runtime& rt, const saml::SessionHandle& handle, const saml::Session& session,
                   std::string* why) {
    auto record = saml::seal_record(session, handle);
    if (!record) {
        *why = record.error().message();
        return false;
    }
    const apr_time_t expires = cache_expiry(session.expires_at);
    const std::string index_key = saml::subject_index_key(*rt.sealer, session.idp_entity_id, session.name_id.value);
    SocacheLock lock(cache);
    if (!lock.locked()) {
        *why = "the session store's lock cannot be taken";
        return false;
    }
    if (!cache.store(r, saml::record_key(handle), record.value(), expires)) {
        *why = "the session store (" + cache.spec() + ") did not take the session (" +
               std::to_string(record.value().size()) + " bytes)";
        return false;
    }
    if (!cache.store(r, saml::last_seen_key(handle.id), saml::encode_last_seen(session.last_seen), expires)) {
        cache.remove(r, saml::record_key(handle));
        *why = "the session store (" + cache.spec() + ") did not take the session's last-seen entry";
        return false;
    }
    // The subject's index, for a logout without the browser. Two logins of the same subject at the
    // same moment on two nodes can lose one entry (socache has no compare-and-set); that session
    // then still ends by its own logout or expiry.
    SocacheClient client(cache, r);
    auto indexed = saml::add_to_subject_index(
        client, *rt.sealer, index_key,
        {handle.id, saml::session_index_digest(session.session_index), session.expires_at}, kMaxIndexBytes,
        saml::Clock::now());
    if (!indexed)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "SAML0816 the session of %s is not in its subject's index (%s): an IdP logout without the "
                      "browser will not end it (it ends with its own logout or expiry)",
                      session.user.c_str(), indexed.error().message().c_str());
    return true;
}

void touch_stored_session(request_rec* r, const std::string& session_id, saml::Instant now, saml::Instant expires_at) {
    SocacheLock lock(cache);
    if (lock.locked()) cache.store(r, saml::last_seen_key(session_id), saml::encode_last_seen(now), cache_expiry(expires_at));
}

bool end_stored_session(request_rec* r, const std::string& session_id) {
    decoded().forget_id(session_id);
    SocacheLock lock(cache);
    if (!lock.locked()) return false;
    // The last-seen entry first: without it the session is over, whatever happens to the record.
    const bool seen_gone = cache.remove(r, saml::last_seen_key(session_id));
    cache.remove(r, saml::record_key_of(session_id));
    // After the removal: a process that reads the new count finds the session gone.
    if (sessions_ended != nullptr) sessions_ended->fetch_add(1, std::memory_order_release);
    if (seen_gone) return true;
    // A remove answers "not found" both for an entry that is not there and for a server apr
    // holds for dead: only a proved miss says the session is over.
    std::string ignored;
    SocacheClient client(cache, r);
    return saml::checked_find(client, saml::last_seen_key(session_id), 8, &ignored) ==
           saml::CacheClient::Lookup::missing;
}

int end_subject_sessions(request_rec* r, const Runtime& rt, const std::string& idp_entity_id, const std::string& name_id,
                         const std::vector<std::string>& session_indexes) {
    const std::string index_key = saml::subject_index_key(*rt.sealer, idp_entity_id, name_id);
    std::string sealed;
    saml::CacheClient::Lookup found;
    {
        SocacheLock lock(cache);
        if (!lock.locked()) return -1;
        SocacheClient client(cache, r);
        found = saml::checked_find(client, index_key, kMaxIndexBytes, &sealed);
    }
    if (found == saml::CacheClient::Lookup::failed) return -1;
    if (found == saml::CacheClient::Lookup::missing) return 0;
    auto opened = saml::open_subject_index(*rt.sealer, sealed, index_key);
    if (!opened) return 0;
    std::vector<std::string> wanted;
    for (const auto& index : session_indexes) wanted.push_back(saml::session_index_digest(index));
    std::vector<saml::IndexedSession> kept;
    int ended = 0;
    for (const auto& s : opened.value()) {
        const bool named = wanted.empty() || std::find(wanted.begin(), wanted.end(), s.session_index_digest) != wanted.end();
        if (!named) {
            kept.push_back(s);
            continue;
        }
        if (!end_stored_session(r, s.id)) return -1;
        ++ended;
    }
    SocacheLock lock(cache);
    if (!lock.locked()) return ended;
    if (kept.empty()) {
        cache.remove(r, index_key);
    } else {
        SocacheClient client(cache, r);
        saml::store_subject_index(client, *rt.sealer, index_key, std::move(kept), saml::Clock::now());
    }
    return ended;
}

}  // namespace saml_httpd
