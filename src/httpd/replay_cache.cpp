#include "replay_cache.hpp"

#include "crypto.hpp"

#include "socache.hpp"

#include <http_log.h>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

constexpr const char* kMutexType = "auth-saml-replay";
// The socache consumer name: at most 16 characters by the API; memcache and redis prefix keys
// with it plus ':' and want that prefix, with its NUL, to fit 16 bytes.
constexpr const char* kCacheName = "mod_auth_saml";

// Process-wide: the cache belongs to the whole httpd, not to one virtual host.
ModuleSocache cache;

}  // namespace

int replay_cache_pre_config(apr_pool_t* pconf) { return ModuleSocache::register_mutex(pconf, kMutexType); }

const char* replay_cache_post_config(apr_pool_t* pconf, server_rec* main_server, const char* spec) {
    ap_socache_hints hints{};
    hints.avg_id_len = 32;
    hints.avg_obj_size = 1;
    hints.expiry_interval = apr_time_from_sec(60);
    return cache.create(pconf, main_server, "SAMLReplayCache", spec, kCacheName, kMutexType, hints);
}

void replay_cache_child_init(apr_pool_t* pchild, server_rec* s) { cache.child_init(pchild, s, "replay cache"); }

saml::ReplayCache::Verdict SocacheReplayCache::remember(std::string_view assertion_key, saml::Instant expiry) {
    if (!cache.ready()) return Verdict::Unavailable;
    const std::string key = saml::sha256(assertion_key);
    SocacheLock lock(cache);
    if (!lock.locked()) return Verdict::Unavailable;
    // Look, then store, believing a miss only when the server proved it (checked_cache.hpp):
    // apr_memcache and apr_redis answer "not found" for a server they hold for dead, and could
    // reach it again for the store (soak finding F5). Under the lock (shmcb, dbm) no two
    // children of this httpd can both find the ID missing. memcache and redis need no lock
    // between processes, but socache has no atomic "add": two nodes given the same Response at
    // the same moment can both look before either stores, and both accept it. The window is one
    // round trip to the cache server (well under a millisecond on a LAN); an attacker has to win
    // that race with a Response the user's browser is posting at the same time (and, for a login
    // the SP asked for, with the user's login-state cookie as well).
    //
    // memcache and redis take whole seconds from now and refuse 0: two seconds more than the
    // assertion lives (one lost to to_unix, one to their rounding down) keep the ID at least as
    // long as the assertion could be accepted, even in its last second.
    SocacheClient client(cache, r_);
    switch (saml::checked_add(client, key, std::string_view("\1", 1), expiry + std::chrono::seconds(2))) {
        case saml::Added::added: return Verdict::Fresh;
        case saml::Added::present: return Verdict::Replayed;
        case saml::Added::failed: break;
    }
    return Verdict::Unavailable;
}

}  // namespace saml_httpd
