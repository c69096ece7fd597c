// Cache answers that can be trusted when the cache is a server on the network (ap_socache over
// memcache or redis). apr_memcache and apr_redis answer "not found" without asking anyone while
// they hold their server for dead: a server is marked dead when an operation on it fails, and
// tried again only when one is asked for more than 5 seconds after that. A miss alone therefore
// does not say that a key is absent, and a write right after it may already reach the server
// again (soak finding F5: a replayed Response accepted while memcached came back).
//
// Here a miss counts only when it is framed by two replies of the same server, less than
// `liveness_bound` apart: a lookup that found a fixed marker key (or, when the marker is
// missing, a write of it that succeeded) before it, and another reply after it. A server that
// answered the first is held for dead at the miss only if it was marked dead after that reply,
// and then nothing reaches it again until 5 s after the marking: a reply within the bound
// means the miss was the server's own answer. For the replay cache the reply after the miss is
// the store of the ID itself; for a plain lookup it is a second read of the marker.
//
// Where the provider has no such state (shmcb, dbm), a miss is always a real one and the
// marker costs one more lookup per login (and a little more on a miss), nothing else.
//
// (With several memcache or redis servers in one spec, the marker and a key may live on
// different servers: a reply from one says nothing about another. The documentation
// recommends one server for the replay cache; see docs/CLUSTER.md.)
#pragma once

#include "time.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace saml {

// The operations the checks use, on one cache. The module implements them over ap_socache;
// unit tests over a fake that can play a dead server.
class CacheClient {
public:
    enum class Lookup { found, missing, failed };
    using Moment = std::chrono::steady_clock::time_point;
    virtual ~CacheClient() = default;
    // found with the value when it is at most max_bytes long; failed for a longer one.
    virtual Lookup lookup(std::string_view key, std::size_t max_bytes, std::string* value) = 0;
    virtual bool store(std::string_view key, std::string_view value, Instant expires) = 0;
    virtual Moment now() = 0;
};

// The longest time from the start of the reply before a miss to the end of the reply after it:
// far below the 5 s apr waits before it tries a dead server again, far above a few round trips
// on a LAN. Slower than that, the miss is not believed (the request fails closed).
inline constexpr std::chrono::milliseconds liveness_bound{1000};
// The marker's key in the cache's own namespace (no other key of the module has this length
// and form) and how long it is kept; it is written again whenever it is found missing.
inline constexpr std::string_view liveness_marker_key = "auth-saml-liveness-marker";
inline constexpr std::chrono::hours liveness_marker_lifetime{24 * 30};

// found; missing only when provably absent (a miss costs three more round trips: the marker,
// the key again, the marker again; a hit costs nothing more); failed when the cache did not
// answer or could not prove its miss.
CacheClient::Lookup checked_find(CacheClient& cache, std::string_view key, std::size_t max_bytes, std::string* value);

// Look, then store, for a key that may be accepted once (the replay cache): `present` when it
// was there; `added` when it was provably absent and is stored now; `failed` when either could
// not be made sure of. After `failed` the key may have been stored: it is never removed, as
// that could erase the record of an earlier use. Costs one round trip more than look-and-store.
enum class Added { added, present, failed };
Added checked_add(CacheClient& cache, std::string_view key, std::string_view value, Instant expires);

}  // namespace saml
