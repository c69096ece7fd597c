// The replay cache on httpd's socache: shmcb by default (one server), memcache or redis when
// several servers share the load. One instance per httpd, keyed by a hash of IdP + assertion ID.
#pragma once

#include "response.hpp"

#include <httpd.h>

namespace saml_httpd {

// pre_config: registers the mutex type; post_config: creates and initialises the cache;
// child_init: re-attaches the mutex.
int replay_cache_pre_config(apr_pool_t* pconf);
const char* replay_cache_post_config(apr_pool_t* pconf, server_rec* main_server, const char* spec);
void replay_cache_child_init(apr_pool_t* pchild, server_rec* s);

// The core's ReplayCache for one request.
class SocacheReplayCache : public saml::ReplayCache {
public:
    explicit SocacheReplayCache(request_rec* r) : r_(r) {}
    Verdict remember(std::string_view assertion_key, saml::Instant expiry) override;

private:
    request_rec* r_;
};

}  // namespace saml_httpd
