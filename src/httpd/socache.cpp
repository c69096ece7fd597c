#include "socache.hpp"

#include <ap_provider.h>
#include <apr_strings.h>
#include <http_log.h>
#include <util_mutex.h>

#include <algorithm>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {
// memcached reads an expiry of more than 30 days as a Unix time (so 40 days would mean 1970,
// gone at once). Longer-lived entries are kept 30 days in memcache.
constexpr apr_time_t kMemcacheMaxLifetime = apr_time_from_sec(30 * 24 * 3600);

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
}  // namespace

int ModuleSocache::register_mutex(apr_pool_t* pconf, const char* mutex_type) {
    return ap_mutex_register(pconf, mutex_type, nullptr, APR_LOCK_DEFAULT, 0) == APR_SUCCESS ? OK : 500;
}

const char* ModuleSocache::create(apr_pool_t* pconf, server_rec* main_server, const char* directive, const char* spec,
                                  const char* consumer, const char* mutex_type, const ap_socache_hints& hints) {
    std::string name = spec, args;
    if (const auto colon = name.find(':'); colon != std::string::npos) {
        args = name.substr(colon + 1);
        name.resize(colon);
    }
    const auto* provider = static_cast<const ap_socache_provider_t*>(
        ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name.c_str(), AP_SOCACHE_PROVIDER_VERSION));
    if (provider == nullptr)
        return apr_psprintf(pconf, "%s %s: no socache provider '%s'; load mod_socache_%s (a2enmod socache_%s)", directive,
                            spec, name.c_str(), name.c_str(), name.c_str());
    ap_socache_instance_t* instance = nullptr;
    if (const char* error = provider->create(&instance, args.empty() ? nullptr : args.c_str(), pconf, pconf))
        return apr_psprintf(pconf, "%s %s: %s", directive, spec, error);
    if (provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        if (ap_global_mutex_create(&mutex_, nullptr, mutex_type, nullptr, main_server, pconf, 0) != APR_SUCCESS)
            return apr_psprintf(pconf, "%s: cannot create its mutex (see the Mutex directive)", directive);
    }
    ap_socache_hints copy = hints;
    if (provider->init(instance, consumer, &copy, main_server, pconf) != APR_SUCCESS)
        return apr_psprintf(pconf, "%s %s: the cache could not be initialised", directive, spec);
    provider_ = provider;
    instance_ = instance;
    server_ = main_server;
    memcache_ = name == "memcache";
    node_local_ = name == "shmcb";
    spec_ = spec;
    apr_pool_cleanup_register(pconf, this, forget, apr_pool_cleanup_null);
    return nullptr;
}

apr_status_t ModuleSocache::forget(void* self) {
    auto* cache = static_cast<ModuleSocache*>(self);
    if (cache->provider_ && cache->instance_) cache->provider_->destroy(cache->instance_, cache->server_);
    *cache = ModuleSocache{};
    return APR_SUCCESS;
}

void ModuleSocache::child_init(apr_pool_t* pchild, server_rec* s, const char* what) {
    if (mutex_ != nullptr && apr_global_mutex_child_init(&mutex_, apr_global_mutex_lockfile(mutex_), pchild) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "SAML0802 cannot attach the %s mutex in this child", what);
}

bool ModuleSocache::lock() { return mutex_ == nullptr || apr_global_mutex_lock(mutex_) == APR_SUCCESS; }
void ModuleSocache::unlock() {
    if (mutex_ != nullptr) apr_global_mutex_unlock(mutex_);
}

apr_time_t ModuleSocache::bounded(apr_time_t expires) const {
    return memcache_ ? std::min(expires, apr_time_now() + kMemcacheMaxLifetime) : expires;
}

ModuleSocache::Found ModuleSocache::retrieve(request_rec* r, std::string_view key, std::size_t max_bytes,
                                             std::string* value) {
    if (provider_ == nullptr) return Found::unavailable;
    auto* buffer = static_cast<unsigned char*>(apr_palloc(r->pool, max_bytes + 1));
    unsigned int length = static_cast<unsigned int>(max_bytes);
    const apr_status_t status = provider_->retrieve(instance_, r->server, bytes(key), static_cast<unsigned int>(key.size()),
                                                    buffer, &length, r->pool);
    if (status == APR_NOTFOUND) return Found::no;
    if (status != APR_SUCCESS || length > max_bytes) return Found::unavailable;
    value->assign(reinterpret_cast<const char*>(buffer), length);
    return Found::yes;
}

bool ModuleSocache::store(request_rec* r, std::string_view key, std::string_view value, apr_time_t expires) {
    if (provider_ == nullptr) return false;
    return provider_->store(instance_, r->server, bytes(key), static_cast<unsigned int>(key.size()), bounded(expires),
                            const_cast<unsigned char*>(bytes(value)), static_cast<unsigned int>(value.size()),
                            r->pool) == APR_SUCCESS;
}

bool ModuleSocache::remove(request_rec* r, std::string_view key) {
    if (provider_ == nullptr) return false;
    return provider_->remove(instance_, r->server, bytes(key), static_cast<unsigned int>(key.size()), r->pool) ==
           APR_SUCCESS;
}

saml::CacheClient::Lookup SocacheClient::lookup(std::string_view key, std::size_t max_bytes, std::string* value) {
    switch (cache_.retrieve(r_, key, max_bytes, value)) {
        case ModuleSocache::Found::yes: return Lookup::found;
        case ModuleSocache::Found::no: return Lookup::missing;
        case ModuleSocache::Found::unavailable: break;
    }
    return Lookup::failed;
}

apr_time_t cache_expiry(saml::Instant when) { return apr_time_from_sec(saml::to_unix(when) + 1); }

bool SocacheClient::store(std::string_view key, std::string_view value, saml::Instant expires) {
    return cache_.store(r_, key, value, cache_expiry(expires));
}

}  // namespace saml_httpd
