#include "replay_cache.hpp"

#include "crypto.hpp"

#include <ap_provider.h>
#include <ap_socache.h>
#include <apr_strings.h>
#include <http_log.h>
#include <util_mutex.h>

#include <algorithm>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

constexpr const char* kMutexType = "auth-saml-replay";
// The socache consumer name: at most 16 characters by the API; memcache and redis prefix keys
// with it plus ':' and want that prefix, with its NUL, to fit 16 bytes.
constexpr const char* kCacheName = "mod_auth_saml";
// memcached reads an expiry of more than 30 days as a Unix time (so 40 days would mean 1970,
// gone at once). Longer-lived assertions are kept 30 days in memcache.
constexpr apr_time_t kMemcacheMaxLifetime = apr_time_from_sec(30 * 24 * 3600);

// Process-wide: the cache belongs to the whole httpd, not to one virtual host.
struct Cache {
    const ap_socache_provider_t* provider = nullptr;
    ap_socache_instance_t* instance = nullptr;
    apr_global_mutex_t* mutex = nullptr;  // only for providers that are not multi-process safe
    bool memcache = false;
    server_rec* server = nullptr;
};
Cache cache;

apr_status_t forget_cache(void*) {
    if (cache.provider && cache.instance) cache.provider->destroy(cache.instance, cache.server);
    cache = Cache{};
    return APR_SUCCESS;
}

}  // namespace

int replay_cache_pre_config(apr_pool_t* pconf) {
    return ap_mutex_register(pconf, kMutexType, nullptr, APR_LOCK_DEFAULT, 0) == APR_SUCCESS ? OK : 500;
}

const char* replay_cache_post_config(apr_pool_t* pconf, server_rec* main_server, const char* spec) {
    std::string name = spec, args;
    if (const auto colon = name.find(':'); colon != std::string::npos) {
        args = name.substr(colon + 1);
        name.resize(colon);
    }
    const auto* provider = static_cast<const ap_socache_provider_t*>(
        ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name.c_str(), AP_SOCACHE_PROVIDER_VERSION));
    if (provider == nullptr)
        return apr_psprintf(pconf, "SAMLReplayCache %s: no socache provider '%s'; load mod_socache_%s (a2enmod socache_%s)",
                            spec, name.c_str(), name.c_str(), name.c_str());
    ap_socache_instance_t* instance = nullptr;
    if (const char* error = provider->create(&instance, args.empty() ? nullptr : args.c_str(), pconf, pconf))
        return apr_psprintf(pconf, "SAMLReplayCache %s: %s", spec, error);
    if (provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        if (ap_global_mutex_create(&cache.mutex, nullptr, kMutexType, nullptr, main_server, pconf, 0) != APR_SUCCESS)
            return "SAMLReplayCache: cannot create its mutex (see the Mutex directive)";
    }
    ap_socache_hints hints{};
    hints.avg_id_len = 32;
    hints.avg_obj_size = 1;
    hints.expiry_interval = apr_time_from_sec(60);
    if (provider->init(instance, kCacheName, &hints, main_server, pconf) != APR_SUCCESS)
        return apr_psprintf(pconf, "SAMLReplayCache %s: the cache could not be initialised", spec);
    cache.provider = provider;
    cache.instance = instance;
    cache.server = main_server;
    cache.memcache = name == "memcache";
    apr_pool_cleanup_register(pconf, nullptr, forget_cache, apr_pool_cleanup_null);
    return nullptr;
}

void replay_cache_child_init(apr_pool_t* pchild, server_rec* s) {
    if (cache.mutex != nullptr &&
        apr_global_mutex_child_init(&cache.mutex, apr_global_mutex_lockfile(cache.mutex), pchild) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "SAML0802 cannot attach the replay cache mutex in this child");
}

saml::ReplayCache::Verdict SocacheReplayCache::remember(std::string_view assertion_key, saml::Instant expiry) {
    if (cache.provider == nullptr) return Verdict::Unavailable;
    const std::string key = saml::sha256(assertion_key);
    const auto* id = reinterpret_cast<const unsigned char*>(key.data());
    // memcache and redis take whole seconds from now and refuse 0: two seconds more than the
    // assertion lives (one lost to to_unix, one to their rounding down) keep the ID at least
    // as long as the assertion could be accepted, even in its last second.
    apr_time_t expires = apr_time_from_sec(saml::to_unix(expiry) + 2);
    if (cache.memcache) expires = std::min(expires, apr_time_now() + kMemcacheMaxLifetime);
    if (cache.mutex && apr_global_mutex_lock(cache.mutex) != APR_SUCCESS) return Verdict::Unavailable;
    // Look, then store. Under the lock (shmcb, dbm) no two children of this httpd can both find
    // the ID missing. memcache and redis need no lock between processes, but socache has no
    // atomic "add": two nodes given the same Response at the same moment can both look before
    // either stores, and both accept it. The window is one round trip to the cache server
    // (well under a millisecond on a LAN); an attacker has to win that race with a Response the
    // user's browser is posting at the same time (and, for a login the SP asked for, with the
    // user's login-state cookie as well). A dead server also reads as "not found" in
    // apr_memcache and apr_redis; the store then fails too and the login is refused, unless the
    // server is retried and comes back between the two calls.
    unsigned char found = 0;
    unsigned int found_len = sizeof found;
    const apr_status_t looked = cache.provider->retrieve(cache.instance, r_->server, id, static_cast<unsigned int>(key.size()),
                                                         &found, &found_len, r_->pool);
    Verdict verdict;
    if (looked == APR_SUCCESS) {
        verdict = Verdict::Replayed;
    } else if (looked != APR_NOTFOUND) {
        verdict = Verdict::Unavailable;
    } else {
        unsigned char marker = 1;
        verdict = cache.provider->store(cache.instance, r_->server, id, static_cast<unsigned int>(key.size()), expires,
                                        &marker, 1, r_->pool) == APR_SUCCESS
                      ? Verdict::Fresh
                      : Verdict::Unavailable;
    }
    if (cache.mutex) apr_global_mutex_unlock(cache.mutex);
    return verdict;
}

}  // namespace saml_httpd
