#include "status.hpp"

#include "runtime.hpp"

#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <http_log.h>
#include <http_protocol.h>

#include <cstdint>
#include <cstring>
#include <string>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

constexpr std::size_t kRefusalSlots = 128;  // distinct SAMLxxxx codes seen; the core has fewer

// One refusal code's tally. A slot is claimed by a compare-and-swap on `key`; `ready` says its
// names are written, so a reader never prints a half-written slot.
struct RefusalSlot {
    std::uint64_t key;
    std::uint32_t ready;
    char code[12];
    char rule[32];
    std::uint64_t total;
};

struct SharedCounters {
    std::int64_t started_at;  // apr_time_t of the (re)start
    std::uint64_t counters[static_cast<unsigned>(Counter::count_)];
    std::uint64_t refusals_unrecorded;  // more distinct codes than slots
    RefusalSlot refusals[kRefusalSlots];
    std::int64_t next_turn[static_cast<unsigned>(Turn::count_)];  // apr_time_t; 0: not started
};

// Before post_config (and where shared memory cannot be had) the numbers are this process's own.
SharedCounters process_counters{};
SharedCounters* shared = &process_counters;

struct CounterInfo {
    const char* text_name;
    const char* metric;
    const char* help;
};

constexpr CounterInfo kCounterInfo[] = {
    {"LoginRequests", "mod_auth_saml_login_requests_total", "Logins started: users sent to their IdP by /sso."},
    {"Logins", "mod_auth_saml_logins_total", "Responses accepted at /acs; each issued a session."},
    {"LoginsRefused", "mod_auth_saml_logins_refused_total", "Responses refused at /acs (any rule)."},
    {"ReplaysRefused", "mod_auth_saml_replays_refused_total", "Assertions and IdP LogoutRequests refused because they were already used."},
    {"SessionsOpened", "mod_auth_saml_sessions_opened_total", "Requests that came with a valid session."},
    {"SessionsRefused", "mod_auth_saml_sessions_refused_total",
     "Requests whose session cookie was not accepted (expired, idle, tampered, old key)."},
    {"Logouts", "mod_auth_saml_logouts_total", "Sessions ended by /logout or by the IdP's LogoutRequest."},
    {"MetadataRefreshes", "mod_auth_saml_metadata_refreshes_total", "IdP metadata fetched, verified and used."},
    {"MetadataRefreshFailures", "mod_auth_saml_metadata_refresh_failures_total",
     "IdP metadata fetches refused or failed; the previous metadata stayed in use."},
    {"SessionStoreMisses", "mod_auth_saml_session_store_misses_total",
     "SAMLSessionStore cache: session cookies whose session was not in the cache (logged out, expired or evicted)."},
    {"SessionStoreEvictions", "mod_auth_saml_session_store_evictions_total",
     "SAMLSessionStore cache: sessions whose record the cache dropped for room (the user logs in again)."},
    {"SessionStoreUnavailable", "mod_auth_saml_session_store_unavailable_total",
     "SAMLSessionStore cache: requests answered 503 because the cache did not answer."},
};
static_assert(sizeof kCounterInfo / sizeof kCounterInfo[0] == static_cast<unsigned>(Counter::count_),
              "one description per counter");

std::uint64_t load(const std::uint64_t& value) { return __atomic_load_n(&value, __ATOMIC_RELAXED); }

// FNV-1a; never 0, which marks a free slot.
std::uint64_t code_key(const std::string& code) {
    std::uint64_t hash = 1469598103934665603ull;
    for (unsigned char c : code) hash = (hash ^ c) * 1099511628211ull;
    return hash == 0 ? 1 : hash;
}

void copy_name(char* target, std::size_t size, const std::string& name) {
    const std::size_t length = std::min(size - 1, name.size());
    std::memcpy(target, name.data(), length);
    target[length] = '\0';
}

// A label value as Prometheus' text format wants it; our codes and rules are [A-Za-z0-9-] anyway.
std::string label(const char* value) {
    std::string out;
    for (const char* c = value; *c; ++c) {
        if (*c == '\\' || *c == '"') out += '\\';
        if (*c == '\n') { out += "\\n"; continue; }
        out += *c;
    }
    return out;
}

std::string render_text(apr_time_t now) {
    std::string out = "Uptime: " + std::to_string(apr_time_sec(now - shared->started_at)) + "\n";
    for (unsigned i = 0; i < static_cast<unsigned>(Counter::count_); ++i)
        out += std::string(kCounterInfo[i].text_name) + ": " + std::to_string(load(shared->counters[i])) + "\n";
    for (const auto& slot : shared->refusals)
        if (__atomic_load_n(&slot.ready, __ATOMIC_ACQUIRE))
            out += std::string("Refused ") + slot.code + " " + slot.rule + ": " + std::to_string(load(slot.total)) + "\n";
    if (const auto lost = load(shared->refusals_unrecorded)) out += "RefusedOther: " + std::to_string(lost) + "\n";
    for (const auto& file : metadata_file_status()) out += "MetadataFile " + file.path + ": " + file.summary + "\n";
    return out;
}

std::string render_prometheus() {
    std::string out =
        "# HELP mod_auth_saml_start_time_seconds When httpd (re)started and the counters began.\n"
        "# TYPE mod_auth_saml_start_time_seconds gauge\n"
        "mod_auth_saml_start_time_seconds " + std::to_string(apr_time_sec(shared->started_at)) + "\n";
    for (unsigned i = 0; i < static_cast<unsigned>(Counter::count_); ++i) {
        const auto& info = kCounterInfo[i];
        out += std::string("# HELP ") + info.metric + " " + info.help + "\n# TYPE " + info.metric + " counter\n" +
               info.metric + " " + std::to_string(load(shared->counters[i])) + "\n";
    }
    out += "# HELP mod_auth_saml_refusals_total Requests refused with an error page, by SAMLxxxx code and rule.\n"
           "# TYPE mod_auth_saml_refusals_total counter\n";
    for (const auto& slot : shared->refusals)
        if (__atomic_load_n(&slot.ready, __ATOMIC_ACQUIRE))
            out += "mod_auth_saml_refusals_total{code=\"" + label(slot.code) + "\",rule=\"" + label(slot.rule) + "\"} " +
                   std::to_string(load(slot.total)) + "\n";
    if (const auto lost = load(shared->refusals_unrecorded))
        out += "mod_auth_saml_refusals_total{code=\"other\",rule=\"other\"} " + std::to_string(lost) + "\n";
    const auto files = metadata_file_status();
    if (!files.empty())
        out += "# HELP mod_auth_saml_metadata_file_valid_until_seconds The first validUntil in a SAMLIdPMetadataFile "
               "(the file is still used after it).\n"
               "# TYPE mod_auth_saml_metadata_file_valid_until_seconds gauge\n";
    for (const auto& file : files)
        out += "mod_auth_saml_metadata_file_valid_until_seconds{file=\"" + label(file.path.c_str()) + "\"} " +
               std::to_string(file.valid_until) + "\n";
    return out;
}

apr_status_t forget_segment(void*) {
    shared = &process_counters;
    return APR_SUCCESS;
}

}  // namespace

void count(Counter counter) noexcept {
    __atomic_fetch_add(&shared->counters[static_cast<unsigned>(counter)], 1, __ATOMIC_RELAXED);
}

void count_refusal(const saml::Error& error) noexcept {
    try {
        if (error.rule == "replay" && error.kind == saml::ErrorKind::Rejected) count(Counter::replays_refused);
        const std::uint64_t key = code_key(error.code + "/" + error.rule);
        for (std::size_t probe = 0; probe < kRefusalSlots; ++probe) {
            RefusalSlot& slot = shared->refusals[(key + probe) % kRefusalSlots];
            std::uint64_t seen = __atomic_load_n(&slot.key, __ATOMIC_ACQUIRE);
            if (seen == 0) {
                std::uint64_t expected = 0;
                if (__atomic_compare_exchange_n(&slot.key, &expected, key, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                    copy_name(slot.code, sizeof slot.code, error.code);
                    copy_name(slot.rule, sizeof slot.rule, error.rule);
                    __atomic_store_n(&slot.ready, 1u, __ATOMIC_RELEASE);
                    seen = key;
                } else {
                    seen = expected;
                }
            }
            if (seen == key) {
                __atomic_fetch_add(&slot.total, 1, __ATOMIC_RELAXED);
                return;
            }
        }
        __atomic_fetch_add(&shared->refusals_unrecorded, 1, __ATOMIC_RELAXED);
    } catch (...) {
        // Counting must never turn a refusal into a crash; the log line still says what happened.
    }
}

bool claim_turn(Turn turn, apr_time_t now, apr_time_t period) noexcept {
    std::int64_t& next = shared->next_turn[static_cast<unsigned>(turn)];
    std::int64_t due = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
    if (due != 0 && now < due) return false;
    // Only the caller whose exchange succeeds takes the turn; the others see the new time.
    const bool won = __atomic_compare_exchange_n(&next, &due, now + period, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return won && due != 0;
}

const char* status_post_config(apr_pool_t* pconf) {
    apr_shm_t* segment = nullptr;
    const apr_status_t rv = apr_shm_create(&segment, sizeof(SharedCounters), nullptr, pconf);
    if (rv != APR_SUCCESS) {
        char reason[120];
        return apr_psprintf(pconf, "cannot create the shared memory for the status counters: %s",
                            apr_strerror(rv, reason, sizeof reason));
    }
    auto* counters = static_cast<SharedCounters*>(apr_shm_baseaddr_get(segment));
    std::memset(counters, 0, sizeof *counters);
    counters->started_at = apr_time_now();
    shared = counters;
    apr_pool_cleanup_register(pconf, nullptr, forget_segment, apr_pool_cleanup_null);
    return nullptr;
}

int handle_status(request_rec* r) {
    if (r->handler == nullptr || std::strcmp(r->handler, "saml-status") != 0) return DECLINED;
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) return HTTP_METHOD_NOT_ALLOWED;
    const bool prometheus = r->args != nullptr && std::strstr(r->args, "format=prometheus") != nullptr;
    std::string body;
    try {
        body = prometheus ? render_prometheus() : render_text(apr_time_now());
    } catch (const std::exception& e) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SAML0871 the status page could not be written: %s", e.what());
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_set_content_type(r, prometheus ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(body.size()));
    if (!r->header_only) ap_rwrite(body.data(), static_cast<int>(body.size()), r);
    return OK;
}

}  // namespace saml_httpd
