// One connection's memory of the session cookie it opened last. A browser sends the same
// cookie with every request of a keep-alive connection; with this, a repeat costs a comparison
// of bytes instead of base64, AES-GCM and decoding the attributes, and the environment built
// from it is reused instead of rebuilt and merged. One entry per connection, never shared with
// another connection or thread (a conn_rec is served by one thread at a time; HTTP/2 streams
// run on secondary connections of their own).
#pragma once

#include "session.hpp"
#include "session_store.hpp"

#include <apr_pools.h>
#include <apr_tables.h>
#include <httpd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace saml_httpd {

struct Runtime;

// The variables (and request headers) an export sets, built once for one session under one
// directory's export settings, as APR tables whose keys and values live in a pool owned here
// (unmanaged: its life follows this object, not a connection's or a request's). Requests that
// copy these entries into their tables hold a reference until their pool goes
// (RequestSession), so replacing the cache entry never frees what a live request points to.
class ExportedVariables {
public:
    // From the tables an export filled (duplicates resolved as apr_table_overlap's SET would:
    // the last value of a name, compared case-insensitively, wins), copied into our own pool.
    // settings: the export settings and user they are built for (export_settings_key);
    // every key of env starts with one of env_prefixes, every header with header_prefix.
    static std::shared_ptr<const ExportedVariables> from(apr_table_t* env, apr_table_t* headers, std::string settings,
                                                         std::vector<std::string> env_prefixes,
                                                         std::string header_prefix);
    ExportedVariables(const ExportedVariables&) = delete;
    ExportedVariables& operator=(const ExportedVariables&) = delete;

    const std::string& settings() const { return settings_; }
    // Adds them to the request: subprocess_env and (SAMLRequestHeaders) headers_in. True when
    // subprocess_env already held a variable under our prefixes (so ours were merged over it).
    bool apply(request_rec* r) const;

private:
    struct PoolDestroyer {
        void operator()(apr_pool_t* pool) const { apr_pool_destroy(pool); }
    };
    ExportedVariables() = default;
    std::unique_ptr<apr_pool_t, PoolDestroyer> pool_;
    apr_table_t* env_ = nullptr;
    apr_table_t* headers_ = nullptr;
    std::string settings_;
    std::vector<std::string> env_prefixes_;
    std::vector<std::string> header_prefixes_;
};

// Exports of sessions this process shares between its connections (SAMLSessionStore cache
// decodes a stored session once per process): built once per session and export settings, not
// once per connection, for the few sessions used last. An entry holds its session, so the
// address it is found by cannot be reused while it lives.
class SharedExports {
public:
    static std::shared_ptr<const ExportedVariables> find(const saml::Session* session, std::string_view settings);
    static void remember(std::shared_ptr<const saml::Session> session, std::shared_ptr<const ExportedVariables> exported);
};

class ConnectionSessionCache {
public:
    // This connection's cache, created on first use and deleted with the connection's pool.
    static ConnectionSessionCache& of(conn_rec* c);

    // The session open() returned for exactly these cookie bytes, name and sealer (Runtime), or
    // null. The caller still runs every time-dependent check (see current_session).
    std::shared_ptr<const saml::Session> find(const Runtime* runtime, std::string_view cookie_name,
                                              std::string_view cookie_value) const;
    // Replaces the entry (and its export). With SAMLSessionStore cache, `handle` is what the
    // cookie opened to, so a repeat skips opening it; the store is still asked every time.
    void remember(const Runtime* runtime, std::string_view cookie_name, std::string cookie_value,
                  std::shared_ptr<const saml::Session> session, std::optional<saml::SessionHandle> handle = std::nullopt);
    // The handle of the entry find() returned (SAMLSessionStore cache), if any.
    const saml::SessionHandle* handle() const { return handle_ ? &*handle_ : nullptr; }

    // The export of `session` under `settings`, when session is the cached one and it was built.
    std::shared_ptr<const ExportedVariables> exported(const saml::Session* session, std::string_view settings) const;
    bool holds(const saml::Session* session) const { return session != nullptr && session == session_.get(); }
    void remember_export(std::shared_ptr<const ExportedVariables> exported) { exported_ = std::move(exported); }

    // SAMLSessionStore cache with a store of this httpd's own (sessions_ended_here()): when the
    // store last said the entry's session was on, the count of ended sessions read before
    // asking, and the session's last-seen it gave.
    struct Liveness {
        std::uint64_t sessions_ended = 0;
        saml::Instant checked_at{};
        saml::Instant last_seen{};
    };
    const std::optional<Liveness>& liveness() const { return liveness_; }
    void remember_liveness(Liveness liveness) { liveness_ = liveness; }

private:
    const Runtime* runtime_ = nullptr;
    std::string cookie_name_;
    std::string cookie_value_;
    std::shared_ptr<const saml::Session> session_;
    std::optional<saml::SessionHandle> handle_;
    std::shared_ptr<const ExportedVariables> exported_;
    std::optional<Liveness> liveness_;
};

// SAMLSessionStore cache, for the whole process: handles the store said were on, found by the
// exact cookie bytes that opened to them (under the same Runtime and cookie name), with what the
// store said. A new connection that sends one of these cookies skips opening the handle and,
// while that answer still holds (see stored_session), asking the store. Only bytes that opened
// and were found on are kept: a forged cookie finds nothing here. The 512 used last are kept.
struct KnownHandle {
    saml::SessionHandle handle;
    std::shared_ptr<const saml::Session> session;
    ConnectionSessionCache::Liveness liveness;
};

class ProcessHandles {
public:
    static std::optional<KnownHandle> find(const Runtime* runtime, std::string_view cookie_name,
                                           std::string_view cookie_value);
    static void remember(const Runtime* runtime, std::string_view cookie_name, std::string_view cookie_value,
                         KnownHandle known);
};

}  // namespace saml_httpd
