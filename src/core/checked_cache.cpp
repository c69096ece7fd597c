#include "checked_cache.hpp"

#include <optional>

namespace saml {

namespace {

using Lookup = CacheClient::Lookup;

// When the marker answered: the moment just before it was asked (found, or missing and then
// written), nothing when the cache did not answer.
std::optional<CacheClient::Moment> marker_reply(CacheClient& cache) {
    const auto asked = cache.now();
    std::string ignored;
    switch (cache.lookup(liveness_marker_key, 8, &ignored)) {
        case Lookup::found: return asked;
        case Lookup::failed: return std::nullopt;
        case Lookup::missing: break;
    }
    // Never written, evicted, forgotten by a restart, or a server held for dead: a write tells,
    // and a write that succeeds is itself a reply of a live server.
    if (!cache.store(liveness_marker_key, "1", Clock::now() + liveness_marker_lifetime)) return std::nullopt;
    return asked;
}

bool within_bound(CacheClient& cache, CacheClient::Moment since) { return cache.now() - since <= liveness_bound; }

}  // namespace

Lookup checked_find(CacheClient& cache, std::string_view key, std::size_t max_bytes, std::string* value) {
    Lookup answer = cache.lookup(key, max_bytes, value);
    if (answer != Lookup::missing) return answer;
    // Nothing proved the server alive before this miss: ask again between two replies.
    const auto before = marker_reply(cache);
    if (!before) return Lookup::failed;
    answer = cache.lookup(key, max_bytes, value);
    if (answer != Lookup::missing) return answer;
    if (!marker_reply(cache)) return Lookup::failed;
    return within_bound(cache, *before) ? Lookup::missing : Lookup::failed;
}

Added checked_add(CacheClient& cache, std::string_view key, std::string_view value, Instant expires) {
    const auto before = marker_reply(cache);
    if (!before) return Added::failed;
    std::string ignored;
    switch (cache.lookup(key, value.size(), &ignored)) {
        case Lookup::found: return Added::present;
        case Lookup::failed: return Added::failed;
        case Lookup::missing: break;
    }
    // The store is the reply after the miss: had the miss come from a server held for dead, the
    // store could reach it only 5 s after it was marked, that is after `before` + 5 s.
    if (!cache.store(key, value, expires)) return Added::failed;
    return within_bound(cache, *before) ? Added::added : Added::failed;
}

}  // namespace saml
