// An ap_socache instance the module owns for the whole httpd (shmcb on one server, memcache or
// redis shared by several): the replay cache and the server-side session store each have one.
// Created in post_config from a spec "provider[:arguments]", re-attached in each child.
#pragma once

#include "checked_cache.hpp"

#include <ap_socache.h>
#include <apr_global_mutex.h>
#include <httpd.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace saml_httpd {

class ModuleSocache {
public:
    // consumer: the socache name (at most 15 characters: memcache and redis prefix keys with it);
    // mutex_type: registered in pre_config (register_mutex), used only by providers that are not
    // multi-process safe (shmcb). Returns a message naming `directive` on failure.
    static int register_mutex(apr_pool_t* pconf, const char* mutex_type);
    const char* create(apr_pool_t* pconf, server_rec* main_server, const char* directive, const char* spec,
                       const char* consumer, const char* mutex_type, const ap_socache_hints& hints);
    void child_init(apr_pool_t* pchild, server_rec* s, const char* what);

    bool ready() const { return provider_ != nullptr; }
    bool memcache() const { return memcache_; }
    // shmcb: the cache is this httpd's memory, so every change to it is made by one of its
    // processes (memcache and redis may be written by other nodes).
    bool node_local() const { return node_local_; }
    const std::string& spec() const { return spec_; }

    enum class Found { yes, no, unavailable };
    // The value stored under key, if it is at most max_bytes long (longer reads as unavailable).
    Found retrieve(request_rec* r, std::string_view key, std::size_t max_bytes, std::string* value);
    bool store(request_rec* r, std::string_view key, std::string_view value, apr_time_t expires);
    bool remove(request_rec* r, std::string_view key);

    // The cache's lock for a look-then-store that must not interleave (with providers that need
    // one; otherwise a no-op). False when it cannot be taken.
    bool lock();
    void unlock();

private:
    static apr_status_t forget(void* self);
    apr_time_t bounded(apr_time_t expires) const;

    const ap_socache_provider_t* provider_ = nullptr;
    ap_socache_instance_t* instance_ = nullptr;
    apr_global_mutex_t* mutex_ = nullptr;
    bool memcache_ = false;
    bool node_local_ = false;
    server_rec* server_ = nullptr;
    std::string spec_;
};

// Holds a ModuleSocache's lock for a scope (when it was taken: check locked()).
class SocacheLock {
public:
    explicit SocacheLock(ModuleSocache& cache) : cache_(cache), locked_(cache.lock()) {}
    ~SocacheLock() {
        if (locked_) cache_.unlock();
    }
    SocacheLock(const SocacheLock&) = delete;
    SocacheLock& operator=(const SocacheLock&) = delete;
    bool locked() const { return locked_; }

private:
    ModuleSocache& cache_;
    bool locked_;
};

// When an entry that must last until `when` expires: memcache and redis count whole seconds and
// round down, so one more keeps it to its end.
apr_time_t cache_expiry(saml::Instant when);

// A ModuleSocache as the core's CacheClient, for one request: what checked_find and
// checked_add (checked_cache.hpp) use to tell a real miss from a server apr holds for dead.
// Take the cache's lock (SocacheLock) around the whole check.
class SocacheClient : public saml::CacheClient {
public:
    SocacheClient(ModuleSocache& cache, request_rec* r) : cache_(cache), r_(r) {}
    Lookup lookup(std::string_view key, std::size_t max_bytes, std::string* value) override;
    bool store(std::string_view key, std::string_view value, saml::Instant expires) override;
    Moment now() override { return std::chrono::steady_clock::now(); }

private:
    ModuleSocache& cache_;
    request_rec* r_;
};

}  // namespace saml_httpd
