// Counters of what the module did since httpd (re)started — logins, refusals by rule, replays,
// sessions, metadata refreshes — kept in shared memory so every child adds to the same numbers
// without a lock, and shown by `SetHandler saml-status` as text or in Prometheus' format.
#pragma once

#include "error.hpp"

#include <httpd.h>

namespace saml_httpd {

enum class Counter : unsigned {
    login_requests,          // /sso sent someone to their IdP
    logins,                  // /acs accepted a Response and issued a session
    logins_refused,          // /acs refused a Response (any rule)
    replays_refused,         // ...of which: an assertion already used
    sessions_opened,         // a request came with a valid session
    sessions_refused,        // a request came with a session cookie that was not accepted
    logouts,                 // a session ended through /logout or the IdP's LogoutRequest
    metadata_refreshes,      // IdP metadata fetched, verified and taken into use
    metadata_refresh_failures,
    session_store_misses,    // SAMLSessionStore cache: a handle whose session is not there
    session_store_evictions, // ...of which the record went while its last-seen entry stayed
    session_store_unavailable,  // the session store did not answer
    count_
};

void count(Counter counter) noexcept;
// Every refusal the module answers with an error page, by its SAMLxxxx code and rule.
void count_refusal(const saml::Error& error) noexcept;

// Something that one process of httpd should do now and then rather than each child (the
// metadata files' expiry reminder). True for the one caller that takes the turn: the first call
// after `period` has passed since the last turn; the very first call only starts the clock (the
// start-up said it already).
enum class Turn : unsigned { metadata_expiry_reminder, count_ };
bool claim_turn(Turn turn, apr_time_t now, apr_time_t period) noexcept;

// post_config: the shared segment (counters restart with httpd, like mod_status' numbers).
const char* status_post_config(apr_pool_t* pconf);
// The handler for `SetHandler saml-status`: text by default, `?format=prometheus` for Prometheus.
int handle_status(request_rec* r);

}  // namespace saml_httpd
