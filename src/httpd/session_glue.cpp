#include "session_glue.hpp"

#include "attribute_names.hpp"
#include "config.hpp"
#include "mellon_env.hpp"
#include "request.hpp"
#include "runtime.hpp"
#include "session_cache.hpp"
#include "stored_sessions.hpp"
#include "status.hpp"

#include <apr_strings.h>
#include <http_log.h>

#include <algorithm>
#include <charconv>
#include <cstring>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

struct RequestSession {
    bool loaded = false;
    // Shared with the connection's cache when it came from there (never copied per request).
    std::shared_ptr<const saml::Session> session;
    // The session is the connection's from an earlier request (not opened by this one).
    bool reused = false;
    // The session is the one this process holds for its handle (SAMLSessionStore cache),
    // shared by every connection that sends the handle.
    bool shared_in_process = false;
    // Cached exports this request's tables point into: kept alive until the request's pool goes.
    std::vector<std::shared_ptr<const ExportedVariables>> exports;
    // SAMLSessionStore cache: the stored session's id, and whether the store failed to answer.
    std::string store_id;
    bool store_unavailable = false;
};

RequestSession& request_session(request_rec* r) {
    // Subrequests and internal redirects share the main request's session.
    request_rec* main = r;
    while (main->main) main = main->main;
    while (main->prev) main = main->prev;
    return pool_bound_object<RequestSession>(main->request_config, main->pool);
}

const char* cookie_name(const DirConfig* dir) { return or_default(dir->cookie_name, defaults::cookie_name); }

const std::string_view* find_cookie(const std::vector<std::pair<std::string_view, std::string_view>>& cookies,
                                    std::string_view name) {
    for (const auto& cookie : cookies)
        if (cookie.first == name) return &cookie.second;
    return nullptr;
}

std::optional<std::string> read_cookie_value(request_rec* r, const DirConfig* dir, std::string* why) {
    const std::string name = cookie_name(dir);
    const auto cookies = request_cookie_views(r);
    auto find = [&](std::string_view wanted) { return find_cookie(cookies, wanted); };
    const std::string_view* first = find(name);
    if (first == nullptr) return std::nullopt;
    auto count = saml::cookie_chunk_count(*first, kMaxCookieChunks);  // bounded before anything is looked up
    if (!count) {
        *why = count.error().message();
        return std::nullopt;
    }
    std::vector<std::string_view> chunks{*first};
    for (std::size_t i = 1; i < count.value(); ++i) {
        const std::string_view* chunk = find(saml::chunk_cookie_name(name, i));
        if (chunk == nullptr) {
            *why = "session cookie chunk " + std::to_string(i) + " is missing";
            return std::nullopt;
        }
        chunks.push_back(*chunk);
    }
    auto joined = saml::join_cookie(chunks, kMaxCookieChunks);
    if (!joined) {
        *why = joined.error().message();
        return std::nullopt;
    }
    return std::move(joined).value();
}

CookieOptions state_cookie_options(const DirConfig* dir, long max_age) {
    CookieOptions options;
    options.path = "/";
    options.secure = flag_or(dir->cookie_secure, true);
    // The IdP's POST to the ACS is a cross-site navigation: only SameSite=None comes back with
    // it, and browsers take None only with Secure (plain-HTTP development falls back to Lax).
    options.same_site = options.secure ? "None" : "Lax";
    options.max_age = max_age;
    return options;
}

// Variables gathered first and written in one merge: apr_table_set searches the whole table
// for each key (and every key here starts with the same prefix, which defeats APR's quick
// check), which made the export quadratic in the attribute count. Keys and values go straight
// into pool memory; the merge (apr_table_overlap, SET) keeps the last value of a name, compared
// case-insensitively, as set() would.
class EnvBatch {
public:
    EnvBatch(apr_pool_t* pool, int expected) : pool_(pool), ours_(apr_table_make(pool, expected)) {}
    void set(const char* name, std::string_view value) {
        apr_table_addn(ours_, name, apr_pstrmemdup(pool_, value.data(), value.size()));
    }
    void set(const std::string& name, std::string_view value) { set(apr_pstrmemdup(pool_, name.data(), name.size()), value); }
    // prefix + name + suffix, built in the pool.
    const char* key(std::string_view prefix, std::string_view name, std::string_view suffix = {}) const {
        auto* out = static_cast<char*>(apr_palloc(pool_, prefix.size() + name.size() + suffix.size() + 1));
        char* at = out;
        for (std::string_view part : {prefix, name, suffix}) {
            std::memcpy(at, part.data(), part.size());
            at += part.size();
        }
        *at = '\0';
        return out;
    }
    void unset(const char* name) { apr_table_unset(ours_, name); }
    void apply(apr_table_t* table) const {
        if (!apr_is_empty_table(ours_)) apr_table_overlap(table, ours_, APR_OVERLAP_TABLES_SET);
    }
    apr_table_t* table() const { return ours_; }

private:
    apr_pool_t* pool_;
    apr_table_t* ours_;
};

std::string header_safe(const std::string& value) {
    std::string out = value;
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return out;
}

}  // namespace

// The connection's cache (session_cache.hpp) may stand in for rt.sealer->open(). open() decides
// from (cookie bytes, cookie name, the sealer's keys) whether the cookie is genuine and what it
// holds, and then, from the clock and the idle limit alone, whether it is still current
// (SessionSealer::check_current). The cache answers only for the exact bytes, the same name and
// the same Runtime (so the same sealer) that open() accepted, and hands back the session as
// open() decoded it (never the touched copy below), so its half is the same answer; the other
// half, check_current, runs again on every request, as do the SAMLSessionMaxAge of this
// directory and the idle-timeout touch. A cookie that differs in any byte misses and is opened.
namespace {

// SAMLSessionStore cache: the cookie is a handle; the session, and whether it is still on, are
// the cache's. Asked on every request (one small read), so a session ended anywhere ends here;
// with shmcb a keep-alive connection asks again only when a session of this httpd has ended
// since it last asked (a lock-free shared count), or every kRecheckStore.
constexpr std::chrono::seconds kRecheckStore{10};

const saml::Session* stored_session(request_rec* r, const Runtime& rt, const DirConfig* dir, RequestSession& cached) {
    const auto cookies = request_cookie_views(r);
    const std::string_view* value = find_cookie(cookies, cookie_name(dir));
    if (value == nullptr) return nullptr;
    // A repeat on this connection: the same cookie bytes opened to this handle and session before.
    ConnectionSessionCache& connection = ConnectionSessionCache::of(r->connection);
    std::shared_ptr<const saml::Session> known = connection.find(&rt, cookie_name(dir), *value);
    const saml::SessionHandle* known_handle = known ? connection.handle() : nullptr;
    const bool connection_knows = known_handle != nullptr;
    // What the store last said of this session, as this connection or process knows it.
    ConnectionSessionCache::Liveness live;
    bool live_known = connection_knows && connection.liveness().has_value();
    if (live_known) live = *connection.liveness();
    // Read before the store is asked: a session ended after this read moves it again.
    const std::optional<std::uint64_t> ended = sessions_ended_here();
    // A cookie this process found on before, sent on a new connection (kept only with shmcb).
    std::optional<KnownHandle> process_knows;
    if (!connection_knows && ended) {
        process_knows = ProcessHandles::find(&rt, cookie_name(dir), *value);
        if (process_knows) {
            known = process_knows->session;
            known_handle = &process_knows->handle;
            live = process_knows->liveness;
            live_known = true;
        }
    }
    saml::Result<saml::SessionHandle> handle = known_handle ? saml::Result<saml::SessionHandle>(*known_handle)
                                                             : saml::open_handle(*rt.sealer, *value, cookie_name(dir));
    if (!handle) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0811 session cookie not accepted: %s",
                      handle.error().message().c_str());
        count(Counter::sessions_refused);
        return nullptr;
    }
    if (!known_handle) known.reset();
    const auto now = saml::Clock::now();
    const std::chrono::seconds idle(or_default(dir->session_idle_timeout, 0));
    const std::chrono::seconds max_age(or_default(dir->session_max_age, defaults::session_max_age));
    const auto touch_interval = std::max(std::chrono::seconds(1),
                                         std::min(saml::SessionSealer::default_touch_interval, idle / 4));
    StoredSession stored;
    bool asked = false;
    if (known && ended && live_known && live.sessions_ended == *ended && now < live.checked_at + kRecheckStore &&
        (idle.count() == 0 || now < live.last_seen + touch_interval)) {
        // No session of this httpd has ended since its store said this one was on, and the
        // last-seen it gave needs no touch yet: the answer would be the same (see
        // sessions_ended_here); the lock and the read are saved.
        stored.session = known;
        stored.last_seen = live.last_seen;
    } else {
        switch (read_stored_session(r, handle.value(), now, &stored, known)) {
            case StoreAnswer::unavailable:
                cached.store_unavailable = true;
                return nullptr;
            case StoreAnswer::missing:
                ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                              "SAML0811 session cookie not accepted: its session is not in the store (logged out, "
                              "expired or evicted)");
                count(Counter::sessions_refused);
                return nullptr;
            case StoreAnswer::found:
                break;
        }
        asked = true;
    }
    auto current = saml::SessionSealer::check_current(*stored.session, now, std::chrono::seconds(0));
    const char* refused = !current ? "the session has expired"
                          : stored.session->issued_at + max_age <= now ? "session older than SAMLSessionMaxAge here"
                          : idle.count() > 0 && stored.last_seen + idle <= now ? "the session was idle too long"
                          : nullptr;
    if (refused != nullptr) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0811 session not accepted: %s", refused);
        count(Counter::sessions_refused);
        return nullptr;
    }
    if (idle.count() > 0 && now >= stored.last_seen + touch_interval) {
        touch_stored_session(r, handle.value().id, now, stored.session->expires_at);
        stored.last_seen = saml::from_unix(saml::to_unix(now));  // as the store keeps it: whole seconds
    }
    // The connection's cache holds the export built for this session object: hand it the same one.
    cached.reused = connection_knows && known == stored.session;
    if (!cached.reused) connection.remember(&rt, cookie_name(dir), std::string(*value), stored.session, handle.value());
    if (asked && ended) {
        const ConnectionSessionCache::Liveness said{*ended, now, stored.last_seen};
        connection.remember_liveness(said);
        ProcessHandles::remember(&rt, cookie_name(dir), *value, {handle.value(), stored.session, said});
    } else if (live_known) {
        connection.remember_liveness(live);  // what the store said, as this process knew it
    }
    cached.session = std::move(stored.session);
    cached.shared_in_process = true;
    cached.store_id = handle.value().id;
    count(Counter::sessions_opened);
    return cached.session.get();
}

}  // namespace

bool session_store_failed(request_rec* r) { return request_session(r).store_unavailable; }

const saml::Session* current_session(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    RequestSession& cached = request_session(r);
    if (cached.loaded) return cached.session.get();
    cached.loaded = true;
    if (rt.sessions_in_cache) return stored_session(r, rt, dir, cached);
    std::string why;
    auto value = read_cookie_value(r, dir, &why);
    if (!value) {
        if (!why.empty()) ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0810 session cookie ignored: %s", why.c_str());
        return nullptr;
    }
    const auto now = saml::Clock::now();
    const std::chrono::seconds idle(or_default(dir->session_idle_timeout, 0));
    ConnectionSessionCache& connection = ConnectionSessionCache::of(r->connection);
    std::shared_ptr<const saml::Session> session = connection.find(&rt, cookie_name(dir), *value);
    const bool reused = session != nullptr;
    if (session) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0813 session cookie is the one this connection opened last");
        auto current = saml::SessionSealer::check_current(*session, now, idle);
        if (!current) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0811 session cookie not accepted: %s",
                          current.error().message().c_str());
            count(Counter::sessions_refused);
            return nullptr;
        }
    } else {
        auto opened = rt.sealer->open(*value, cookie_name(dir), now, idle);
        if (!opened) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0811 session cookie not accepted: %s",
                          opened.error().message().c_str());
            count(Counter::sessions_refused);
            return nullptr;
        }
        session = std::make_shared<const saml::Session>(std::move(opened).value());
        connection.remember(&rt, cookie_name(dir), std::move(*value), session);
    }
    // A stricter area may allow shorter sessions than the one that issued the cookie.
    const std::chrono::seconds max_age(or_default(dir->session_max_age, defaults::session_max_age));
    if (session->issued_at + max_age <= now) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SAML0812 session older than SAMLSessionMaxAge here");
        count(Counter::sessions_refused);
        return nullptr;
    }
    if (idle.count() > 0) {
        // Renew last-seen often enough that an active user never runs into the idle limit: the
        // core's default interval (60 s) alone would let every idle timeout up to 60 s expire.
        const auto interval = std::max(std::chrono::seconds(1),
                                       std::min(saml::SessionSealer::default_touch_interval, idle / 4));
        // touch() re-seals only when last_seen is `interval` old (its own test, repeated here so
        // that the shared session is copied only then); the copy is this request's, the cache
        // keeps what open() returned for the bytes the browser sent.
        if (now >= session->last_seen + interval) {
            saml::Session touched = *session;
            auto refreshed = rt.sealer->touch(touched, cookie_name(dir), now, interval);
            if (refreshed && refreshed.value()) {
                auto chunks = saml::split_cookie(*refreshed.value(), kCookieChunkBytes, kMaxCookieChunks);
                if (chunks) {
                    const CookieOptions options = session_cookie_options(dir);
                    for (std::size_t i = 0; i < chunks.value().size(); ++i)
                        set_cookie(r, saml::chunk_cookie_name(cookie_name(dir), i), chunks.value()[i], options);
                }
            }
            session = std::make_shared<const saml::Session>(std::move(touched));
        }
    }
    cached.session = std::move(session);
    cached.reused = reused;
    count(Counter::sessions_opened);
    return cached.session.get();
}

namespace {

// Cookies of this name family the browser holds that this login does not set: expired.
void expire_chunks_from(request_rec* r, const DirConfig* dir, std::size_t first) {
    CookieOptions expire = session_cookie_options(dir);
    expire.max_age = 0;
    for (std::size_t i = first; i < kMaxCookieChunks; ++i)
        if (request_cookie(r, saml::chunk_cookie_name(cookie_name(dir), i)))
            set_cookie(r, saml::chunk_cookie_name(cookie_name(dir), i), "", expire);
}

std::string write_stored_session(request_rec* r, const Runtime& rt, const DirConfig* dir, const saml::Session& session) {
    // A fresh handle for every login; a session this browser had before ends (no fixation, and
    // no orphan left in the store until it expires).
    if (const auto old = request_cookie(r, cookie_name(dir))) {
        if (auto handle = saml::open_handle(*rt.sealer, *old, cookie_name(dir))) end_stored_session(r, handle.value().id);
    }
    const saml::SessionHandle handle = saml::SessionHandle::fresh();
    std::string why;
    if (!store_session(r, rt, handle, session, &why)) {
        request_session(r).store_unavailable = true;
        return why;
    }
    auto cookie = saml::seal_handle(*rt.sealer, handle, cookie_name(dir));
    if (!cookie) return cookie.error().message();
    set_cookie(r, cookie_name(dir), cookie.value(), session_cookie_options(dir));
    expire_chunks_from(r, dir, 1);
    RequestSession& cached = request_session(r);
    cached.loaded = true;
    cached.session = std::make_shared<const saml::Session>(session);
    cached.store_id = handle.id;
    return {};
}

}  // namespace

std::string write_session(request_rec* r, const Runtime& rt, const DirConfig* dir, const saml::Session& session) {
    if (rt.sessions_in_cache) return write_stored_session(r, rt, dir, session);
    auto sealed = rt.sealer->seal(session, cookie_name(dir));
    if (!sealed) return sealed.error().message();
    auto chunks = saml::split_cookie(sealed.value(), kCookieChunkBytes, kMaxCookieChunks);
    if (!chunks)
        return "the session (" + std::to_string(sealed.value().size()) + " bytes sealed, " +
               std::to_string(session.attributes.size()) + " attributes) does not fit in " +
               std::to_string(kMaxCookieChunks) + " cookies: release fewer attributes to this SP";
    // The browser sends every chunk back in one Cookie header; past httpd's LimitRequestFieldSize
    // each later request would get a bare 400. Refuse the login now, with the numbers, instead.
    std::size_t header_bytes = 0;
    for (std::size_t i = 0; i < chunks.value().size(); ++i)
        header_bytes += saml::chunk_cookie_name(cookie_name(dir), i).size() + 1 + chunks.value()[i].size() + 2;
    const auto field_limit = static_cast<std::size_t>(r->server->limit_req_fieldsize);
    if (header_bytes + kCookieHeaderReserve > field_limit)
        return "the session cookies (" + std::to_string(header_bytes) + " bytes for " +
               std::to_string(session.attributes.size()) + " attributes) would not fit in a request header under " +
               "LimitRequestFieldSize " + std::to_string(field_limit) + " with " + std::to_string(kCookieHeaderReserve) +
               " bytes left for other cookies: raise LimitRequestFieldSize to at least " +
               std::to_string(header_bytes + kCookieHeaderReserve) + " or release fewer attributes to this SP";
    const CookieOptions options = session_cookie_options(dir);
    for (std::size_t i = 0; i < chunks.value().size(); ++i)
        set_cookie(r, saml::chunk_cookie_name(cookie_name(dir), i), chunks.value()[i], options);
    // Chunks left over from a larger earlier session would confuse nothing (the count is in the
    // first chunk) but clutter the browser: expire them.
    expire_chunks_from(r, dir, chunks.value().size());
    RequestSession& cached = request_session(r);
    cached.loaded = true;
    cached.session = std::make_shared<const saml::Session>(session);
    return {};
}

bool clear_session(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    RequestSession& cached = request_session(r);
    bool ended = true;
    if (rt.sessions_in_cache) {
        // The handle this browser sent, even when its session is already gone or was not read.
        std::string id = cached.store_id;
        if (id.empty())
            if (const auto value = request_cookie(r, cookie_name(dir)))
                if (auto handle = saml::open_handle(*rt.sealer, *value, cookie_name(dir))) id = handle.value().id;
        if (!id.empty()) ended = end_stored_session(r, id);
    }
    CookieOptions expire = session_cookie_options(dir);
    expire.max_age = 0;
    set_cookie(r, cookie_name(dir), "", expire);
    expire_chunks_from(r, dir, 1);
    cached.loaded = true;
    cached.session.reset();
    cached.store_id.clear();
    return ended;
}

void write_state(request_rec* r, const Runtime& rt, const DirConfig* dir, const char* prefix,
                 const saml::LoginState& state) {
    // Logins started and never finished (a tab closed at the IdP, an IdP that failed) each leave
    // a state cookie for 10 minutes; /acs reads at most kMaxPendingLogins of them, and enough of
    // them would push the Cookie header past httpd's limit (a 400 for every page). Keep the
    // newest ones: unreadable or expired states go first, then the oldest.
    std::vector<std::pair<long long, std::string>> held;  // (created, name); -1: unreadable
    const std::size_t prefix_len = std::strlen(prefix);
    for (const auto& cookie : request_cookies(r)) {
        if (cookie.first.compare(0, prefix_len, prefix) != 0) continue;
        long long created = -1;
        if (auto opened = rt.sealer->open_bytes(cookie.second, cookie.first))
            if (auto old = saml::decode_login_state(opened.value())) created = saml::to_unix(old.value().created);
        held.emplace_back(created, cookie.first);
    }
    if (held.size() >= kMaxPendingLogins) {
        std::sort(held.begin(), held.end());
        for (std::size_t i = 0; i + kMaxPendingLogins <= held.size(); ++i)
            set_cookie(r, held[i].second, "", state_cookie_options(dir, 0));
    }
    const std::string name = saml::login_state_cookie_name(prefix, state.request_id);
    auto sealed = rt.sealer->seal_bytes(saml::encode_login_state(state), name);
    if (sealed) set_cookie(r, name, sealed.value(), state_cookie_options(dir, kLoginStateSeconds));
}

std::vector<saml::LoginState> read_states(request_rec* r, const Runtime& rt, const char* prefix) {
    std::vector<saml::LoginState> states;
    const auto now = saml::Clock::now();
    const std::size_t prefix_len = std::strlen(prefix);
    for (const auto& cookie : request_cookies(r)) {
        if (cookie.first.compare(0, prefix_len, prefix) != 0) continue;
        if (states.size() >= kMaxPendingLogins) break;
        auto opened = rt.sealer->open_bytes(cookie.second, cookie.first);
        if (!opened) continue;
        auto state = saml::decode_login_state(opened.value());
        if (!state || state.value().created + std::chrono::seconds(kLoginStateSeconds) < now) continue;
        // The name must be the one derived from the ID inside: no swapping states between names.
        if (saml::login_state_cookie_name(prefix, state.value().request_id) != cookie.first) continue;
        states.push_back(std::move(state).value());
    }
    return states;
}

void clear_state(request_rec* r, const DirConfig* dir, const char* prefix, const std::string& request_id) {
    set_cookie(r, saml::login_state_cookie_name(prefix, request_id), "", state_cookie_options(dir, 0));
}

namespace {

// The name SAMLAttributeMap gives the attribute (by Name, else by FriendlyName), or nullptr;
// `unprefixed` says whether it was mapped with NoPrefix (stored as "!name").
const char* mapped_name(const DirConfig* dir, const saml::Attribute& attribute, bool* unprefixed = nullptr) {
    if (unprefixed) *unprefixed = false;
    if (dir->attribute_map == nullptr) return nullptr;
    const char* mapped = apr_table_get(dir->attribute_map, attribute.name.c_str());
    if (!mapped && !attribute.friendly_name.empty())
        mapped = apr_table_get(dir->attribute_map, attribute.friendly_name.c_str());
    if (mapped && *mapped == '!') {
        if (unprefixed) *unprefixed = true;
        ++mapped;
    }
    return mapped;
}

}  // namespace

std::string attribute_variable(const DirConfig* dir, const saml::Attribute& attribute, bool* unprefixed) {
    const char* mapped = mapped_name(dir, attribute, unprefixed);
    std::string name;
    if (mapped) name = mapped;
    else if (!attribute.friendly_name.empty()) name = attribute.friendly_name;
    else if (auto known = saml::friendly_attribute_name(attribute.name); !known.empty()) name = std::string(known);
    else name = attribute.name;
    return saml::env_safe_name(name);
}

bool attribute_matches(const DirConfig* dir, const saml::Attribute& attribute, std::string_view wanted) {
    return saml::attribute_named(attribute, wanted) || attribute_variable(dir, attribute) == wanted;
}

void strip_forged_headers(request_rec* r, const DirConfig* dir) {
    if (!flag_or(dir->request_headers, false)) return;
    // Once per request, before the export: a second pass would remove our own headers.
    if (apr_table_get(r->notes, "auth_saml-stripped") != nullptr) return;
    apr_table_setn(r->notes, "auth_saml-stripped", "1");
    const char* prefix = or_default(dir->header_prefix, defaults::header_prefix);
    const std::size_t len = std::strlen(prefix);
    const apr_array_header_t* headers = apr_table_elts(r->headers_in);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(headers->elts);
    std::vector<std::string> forged;
    for (int i = 0; i < headers->nelts; ++i)
        if (entries[i].key && strncasecmp(entries[i].key, prefix, len) == 0) forged.emplace_back(entries[i].key);
    // Also the underscore twin (X_SAML_…), which some back ends read as the same variable.
    std::string twin = prefix;
    for (char& c : twin)
        if (c == '-') c = '_';
    for (int i = 0; i < headers->nelts; ++i)
        if (entries[i].key && strncasecmp(entries[i].key, twin.c_str(), len) == 0) forged.emplace_back(entries[i].key);
    for (const auto& key : forged) apr_table_unset(r->headers_in, key.c_str());
}

// SAMLMellonCompat: the variables mod_auth_mellon set, for applications written against it
// (the rules are the core's, mellon_env.hpp). Mellon renamed by the attribute's Name, exactly;
// SAMLAttributeMap entries keyed by anything else (a FriendlyName) do not apply here.
namespace {

saml::MellonEnvOptions mellon_options(const DirConfig* dir) {
    saml::MellonEnvOptions options;
    options.prefix = or_default(dir->mellon_prefix, defaults::mellon_prefix);
    if (dir->mellon_separator) options.merge_separator = dir->mellon_separator;
    options.index_start = or_default(dir->mellon_index_start, 0);
    options.set_count = flag_or(dir->mellon_set_count, false);
    options.idp_name = or_default(dir->mellon_idp_name, defaults::mellon_idp_name);
    if (dir->attribute_map != nullptr) {
        const apr_array_header_t* elts = apr_table_elts(dir->attribute_map);
        const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
        for (int i = 0; i < elts->nelts; ++i) {
            if (entries[i].key == nullptr || entries[i].val == nullptr) continue;
            const bool unprefixed = entries[i].val[0] == '!';
            options.renames.push_back({entries[i].key, entries[i].val + (unprefixed ? 1 : 0), !unprefixed});
        }
    }
    return options;
}

void export_mellon_names(EnvBatch& env, const DirConfig* dir, const saml::Session& session) {
    for (const auto& [name, value] : saml::mellon_variables(session, mellon_options(dir))) env.set(name, value);
}

// Names outside the prefixes that an export may set: SAMLAttributeMap ... NoPrefix.
void add_unprefixed_names(const DirConfig* dir, std::vector<std::string>& names) {
    if (dir->attribute_map == nullptr) return;
    const apr_array_header_t* elts = apr_table_elts(dir->attribute_map);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
    for (int i = 0; i < elts->nelts; ++i)
        if (entries[i].val != nullptr && entries[i].val[0] == '!') names.emplace_back(entries[i].val + 1);
}

}  // namespace

namespace {

// Everything export_session's result depends on besides the session: a cached export is
// reused only under equal settings (the merged DirConfig is often rebuilt per request, so its
// address says nothing). Fields are NUL-separated; config strings hold no NUL.
std::string export_settings_key(const DirConfig* dir, const std::string& user) {
    std::string key;
    key.reserve(128 + user.size());  // built on every request: one allocation in the usual case
    auto field = [&key](std::string_view value) {
        key.append(value.data(), value.size());
        key.push_back('\0');
    };
    auto number = [&field](long value) {
        char digits[24];
        const char* end = std::to_chars(digits, digits + sizeof digits, value).ptr;
        field(std::string_view(digits, static_cast<std::size_t>(end - digits)));
    };
    field(or_default(dir->attribute_prefix, defaults::attribute_prefix));
    field(flag_or(dir->request_headers, false) ? "headers" : "-");
    field(or_default(dir->header_prefix, defaults::header_prefix));
    field(flag_or(dir->mellon_compat, false) ? "mellon" : "-");
    field(dir->mellon_separator ? "separator" : "-");
    if (dir->mellon_separator) field(dir->mellon_separator);
    field(or_default(dir->mellon_prefix, defaults::mellon_prefix));
    number(or_default(dir->mellon_index_start, 0));
    field(flag_or(dir->mellon_set_count, false) ? "count" : "-");
    field(or_default(dir->mellon_idp_name, defaults::mellon_idp_name));
    if (dir->attribute_map != nullptr) {
        const apr_array_header_t* elts = apr_table_elts(dir->attribute_map);
        const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
        number(elts->nelts);
        for (int i = 0; i < elts->nelts; ++i) {
            field(entries[i].key ? entries[i].key : "");
            field(entries[i].val ? entries[i].val : "");
        }
    } else {
        field("0");
    }
    field(user);
    return key;
}

// The variables and headers of one export, into the two batches (merged into the request later).
void fill_export(EnvBatch& env, EnvBatch& header_batch, const DirConfig* dir, const saml::Session& session,
                 const std::string& user) {
    const std::string_view own_prefix = or_default(dir->attribute_prefix, defaults::attribute_prefix);
    const bool mellon = flag_or(dir->mellon_compat, false);
    const bool headers = flag_or(dir->request_headers, false);
    const std::string_view header_prefix = or_default(dir->header_prefix, defaults::header_prefix);
    std::string joined;
    for (const auto& attribute : session.attributes) {
        bool unprefixed = false;
        const std::string name = attribute_variable(dir, attribute, &unprefixed);
        // NoPrefix: the unprefixed names are mellon's when SAMLMellonCompat is on (its export
        // sets them as mellon did); the module's own export keeps the prefix then.
        const std::string_view prefix = unprefixed && !mellon ? std::string_view() : own_prefix;
        joined.clear();
        char index[24];
        for (std::size_t i = 0; i < attribute.values.size(); ++i) {
            if (i) joined += ';';
            joined += attribute.values[i];
            index[0] = '_';
            const auto end = std::to_chars(index + 1, index + sizeof index, i).ptr;
            env.set(env.key(prefix, name, std::string_view(index, static_cast<std::size_t>(end - index))),
                    attribute.values[i]);
        }
        env.set(env.key(prefix, name), joined);
        const auto end = std::to_chars(index, index + sizeof index, attribute.values.size()).ptr;
        env.set(env.key(prefix, name, "_COUNT"), std::string_view(index, static_cast<std::size_t>(end - index)));
        if (headers) header_batch.set(header_batch.key(header_prefix, name), header_safe(joined));
    }
    // The module's own variables and the user header come last, so an attribute the IdP names
    // IDP, NAME_ID or User cannot stand in for them (with several IdPs, SAML_IDP is what tells
    // their users apart); the optional ones are removed when empty, for the same reason.
    const std::string_view prefix = own_prefix;
    env.set(env.key(prefix, "NAME_ID"), session.name_id.value);
    env.set(env.key(prefix, "IDP"), session.idp_entity_id);
    env.set(env.key(prefix, "SESSION_EXPIRES"), std::to_string(saml::to_unix(session.expires_at)));
    env.set(env.key(prefix, "AUTHN_INSTANT"), saml::format_datetime(session.authn_instant));
    auto set_or_drop = [&](const char* name, const std::string& value) {
        if (value.empty())
            env.unset(env.key(prefix, name));  // an attribute of that name must not pass for it
        else
            env.set(env.key(prefix, name), value);
    };
    set_or_drop("NAME_ID_FORMAT", session.name_id.format);
    set_or_drop("SESSION_INDEX", session.session_index);
    set_or_drop("ASSERTION_ID", session.assertion_id);  // empty in sessions sealed before it was kept
    if (headers) header_batch.set(header_batch.key(header_prefix, "User"), header_safe(user));
    if (mellon) export_mellon_names(env, dir, session);
}

}  // namespace

void export_session(request_rec* r, const DirConfig* dir, const saml::Session& session, const std::string& user,
                    bool set_user) {
    if (set_user) {
        r->user = apr_pstrmemdup(r->pool, user.data(), user.size());
        r->ap_auth_type = const_cast<char*>("SAML");
    }
    // Once per request_rec (the access and the authn hook both ask); an internal redirect is a
    // new request with its own notes, and gets its own export.
    if (apr_table_get(r->notes, "auth_saml-exported") != nullptr) return;
    apr_table_setn(r->notes, "auth_saml-exported", "1");
    const std::string_view prefix = or_default(dir->attribute_prefix, defaults::attribute_prefix);
    ConnectionSessionCache& connection = ConnectionSessionCache::of(r->connection);
    RequestSession& request = request_session(r);
    bool merged = true;  // the uncached path merges; the cached ones say what they did
    // The export's variables and headers, sized from the session. Only when an export is built:
    // a cached one is used as it is, and walking hundreds of attributes on every request was a
    // measurable part of its cost.
    auto filled_batches = [&] {
        std::size_t values = 0;
        for (const auto& attribute : session.attributes) values += attribute.values.size();
        const bool headers = flag_or(dir->request_headers, false);
        std::pair<EnvBatch, EnvBatch> batches(
            EnvBatch(r->pool, static_cast<int>(values + 2 * session.attributes.size() + 8)),
            EnvBatch(r->pool, headers ? static_cast<int>(session.attributes.size() + 1) : 1));
        fill_export(batches.first, batches.second, dir, session, user);
        return batches;
    };
    auto build = [&](std::string settings) {
        const auto [env, header_batch] = filled_batches();
        std::vector<std::string> env_prefixes{std::string(prefix)};
        if (flag_or(dir->mellon_compat, false))
            env_prefixes.emplace_back(or_default(dir->mellon_prefix, defaults::mellon_prefix));
        add_unprefixed_names(dir, env_prefixes);
        return ExportedVariables::from(env.table(), header_batch.table(), std::move(settings), std::move(env_prefixes),
                                       or_default(dir->header_prefix, defaults::header_prefix));
    };
    if (request.shared_in_process && request.session.get() == &session) {
        // A stored session: one export per process and settings, whichever connection asks.
        std::string settings = export_settings_key(dir, user);
        std::shared_ptr<const ExportedVariables> exported = SharedExports::find(&session, settings);
        if (!exported) {
            exported = build(std::move(settings));
            SharedExports::remember(request.session, exported);
        }
        request.exports.push_back(exported);
        merged = exported->apply(r);
    } else if (request.reused && connection.holds(&session)) {
        // A session this connection has used before: its export is built once per export
        // settings (from the second request on, so that a connection that never repeats its
        // cookie, e.g. an HTTP/2 stream, pays nothing for it) and then appended to each
        // request's tables (session_cache.hpp says when that is a plain append and when it must
        // still merge).
        std::string settings = export_settings_key(dir, user);
        std::shared_ptr<const ExportedVariables> exported = connection.exported(&session, settings);
        if (!exported) {
            exported = build(std::move(settings));
            connection.remember_export(exported);
        }
        request.exports.push_back(exported);
        merged = exported->apply(r);
    } else {
        const auto [env, header_batch] = filled_batches();
        env.apply(r->subprocess_env);
        header_batch.apply(r->headers_in);
    }
    // Ours leave out the optional variables this session has no value for (fill_export); one of
    // those names set before us (SetEnvIf) must not pass for ours either. Only a merge can leave
    // one: an append found no name under our prefixes in the request. (Each unset compares every
    // variable whose name starts with the same four letters, i.e. all of ours: not per request
    // when it is not needed.)
    if (!merged) return;
    if (session.name_id.format.empty())
        apr_table_unset(r->subprocess_env, (std::string(prefix) + "NAME_ID_FORMAT").c_str());
    if (session.session_index.empty())
        apr_table_unset(r->subprocess_env, (std::string(prefix) + "SESSION_INDEX").c_str());
    if (session.assertion_id.empty())  // a session sealed before the assertion ID was kept
        apr_table_unset(r->subprocess_env, (std::string(prefix) + "ASSERTION_ID").c_str());
}

}  // namespace saml_httpd
