#include "session_cache.hpp"

#include "config.hpp"

#include <apr_strings.h>
#include <http_config.h>

#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace saml_httpd {

namespace {

int abort_on_oom(int) { ap_abort_on_oom(); }

constexpr int kRequestEntriesRoom = 32;

// A copy of the table's entries (duplicate names resolved, last wins) in pool. The names are
// laid out together and the values after them: passes over a request's variables that read
// only the names (mod_ssl looks at every name's first letter on each request) then touch a
// third of the memory they would with each value between two names.
apr_table_t* copy_into(apr_pool_t* pool, apr_table_t* table) {
    if (table == nullptr || apr_is_empty_table(table)) return apr_table_make(pool, 1);
    apr_table_compress(table, APR_OVERLAP_TABLES_SET);
    const apr_array_header_t* elts = apr_table_elts(table);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
    std::vector<const char*> names(static_cast<std::size_t>(elts->nelts), nullptr);
    for (int i = 0; i < elts->nelts; ++i)
        if (entries[i].key != nullptr && entries[i].val != nullptr) names[i] = apr_pstrdup(pool, entries[i].key);
    // Room for what a request's table holds before ours are added (apply copies this table).
    apr_table_t* copy = apr_table_make(pool, elts->nelts + kRequestEntriesRoom);
    for (int i = 0; i < elts->nelts; ++i)
        if (names[i] != nullptr) apr_table_addn(copy, names[i], apr_pstrdup(pool, entries[i].val));
    return copy;
}

bool has_prefixed_key(const apr_table_t* table, const std::vector<std::string>& prefixes) {
    const apr_array_header_t* elts = apr_table_elts(table);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
    for (int i = 0; i < elts->nelts; ++i) {
        if (entries[i].key == nullptr) continue;
        for (const auto& prefix : prefixes)
            if (strncasecmp(entries[i].key, prefix.c_str(), prefix.size()) == 0) return true;
    }
    return false;
}

// A copy of `ours` in pool with the entries of `request` after them: what apr_table_overlay
// gives (the order of the entries aside), without zeroing a new array and re-indexing both.
apr_table_t* appended_to_copy(apr_pool_t* pool, const apr_table_t* ours, const apr_table_t* request) {
    apr_table_t* combined = apr_table_copy(pool, ours);
    const apr_array_header_t* elts = apr_table_elts(request);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
    for (int i = 0; i < elts->nelts; ++i) apr_table_addn(combined, entries[i].key, entries[i].val);
    return combined;
}

}  // namespace

std::shared_ptr<const ExportedVariables> ExportedVariables::from(apr_table_t* env, apr_table_t* headers,
                                                                 std::string settings,
                                                                 std::vector<std::string> env_prefixes,
                                                                 std::string header_prefix) {
    std::shared_ptr<ExportedVariables> out(new ExportedVariables());
    apr_pool_t* pool = nullptr;
    // Out of memory in this pool ends the process as in any httpd pool (ap_abort_on_oom).
    if (apr_pool_create_unmanaged_ex(&pool, abort_on_oom, nullptr) != APR_SUCCESS) throw std::bad_alloc();
    out->pool_.reset(pool);
    out->env_ = copy_into(pool, env);
    out->headers_ = copy_into(pool, headers);
    out->settings_ = std::move(settings);
    out->env_prefixes_ = std::move(env_prefixes);
    out->header_prefixes_.push_back(std::move(header_prefix));
    return out;
}

// SET semantics, cheaply when possible. Our keys all start with one of the prefixes; when the
// request's table holds no key that does (the usual case: nothing else sets SAML_ variables),
// none of ours can be there yet and they are simply appended; otherwise they are merged with
// apr_table_overlap as before, so a value someone else put there (SetEnvIf, a client header)
// never survives next to ours. (The entries point into our pool, which is no ancestor of the
// request's: an APR built with pool debugging would refuse that; Debian's and httpd's usual
// builds do not check, and the reference in RequestSession is what keeps them valid.)
bool ExportedVariables::apply(request_rec* r) const {
    const bool merged = has_prefixed_key(r->subprocess_env, env_prefixes_);
    if (!apr_is_empty_table(env_)) {
        if (merged)
            apr_table_overlap(r->subprocess_env, env_, APR_OVERLAP_TABLES_SET);
        else  // one copy of ours (and its index), then the request's few appended
            r->subprocess_env = appended_to_copy(r->pool, env_, r->subprocess_env);
    }
    if (!apr_is_empty_table(headers_)) {
        if (has_prefixed_key(r->headers_in, header_prefixes_)) {
            apr_table_overlap(r->headers_in, headers_, APR_OVERLAP_TABLES_SET);
        } else {
            const apr_array_header_t* elts = apr_table_elts(headers_);
            const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
            for (int i = 0; i < elts->nelts; ++i) apr_table_addn(r->headers_in, entries[i].key, entries[i].val);
        }
    }
    return merged;
}

namespace {

class SharedExportList {
public:
    std::shared_ptr<const ExportedVariables> find(const saml::Session* session, std::string_view settings) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->session.get() != session || it->exported->settings() != settings) continue;
            entries_.splice(entries_.begin(), entries_, it);
            return it->exported;
        }
        return nullptr;
    }
    void remember(std::shared_ptr<const saml::Session> session, std::shared_ptr<const ExportedVariables> exported) {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.push_front({std::move(session), std::move(exported)});
        if (entries_.size() > kEntries) entries_.pop_back();
    }

private:
    // A few dozen KB each with hundreds of attributes: the sessions in use right now, not all.
    static constexpr std::size_t kEntries = 64;
    struct Entry {
        std::shared_ptr<const saml::Session> session;
        std::shared_ptr<const ExportedVariables> exported;
    };
    std::mutex mutex_;
    std::list<Entry> entries_;
};

SharedExportList& shared_exports() {
    static SharedExportList list;
    return list;
}

}  // namespace

std::shared_ptr<const ExportedVariables> SharedExports::find(const saml::Session* session, std::string_view settings) {
    return shared_exports().find(session, settings);
}

void SharedExports::remember(std::shared_ptr<const saml::Session> session,
                             std::shared_ptr<const ExportedVariables> exported) {
    shared_exports().remember(std::move(session), std::move(exported));
}

namespace {

class KnownHandleList {
public:
    std::optional<KnownHandle> find(const std::string& key) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = index_.find(key);
        if (it == index_.end()) return std::nullopt;
        order_.splice(order_.begin(), order_, it->second);
        return it->second->second;
    }
    void remember(std::string key, KnownHandle known) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto it = index_.find(key); it != index_.end()) {
            it->second->second = std::move(known);
            order_.splice(order_.begin(), order_, it->second);
            return;
        }
        order_.emplace_front(key, std::move(known));
        index_.emplace(std::move(key), order_.begin());
        while (order_.size() > kEntries) {
            index_.erase(order_.back().first);
            order_.pop_back();
        }
    }

private:
    static constexpr std::size_t kEntries = 512;
    std::mutex mutex_;
    std::list<std::pair<std::string, KnownHandle>> order_;
    std::unordered_map<std::string, decltype(order_)::iterator> index_;
};

KnownHandleList& known_handles() {
    static KnownHandleList list;
    return list;
}

std::string known_handle_key(const Runtime* runtime, std::string_view cookie_name, std::string_view cookie_value) {
    std::string key(reinterpret_cast<const char*>(&runtime), sizeof runtime);
    key.append(cookie_name.data(), cookie_name.size());
    key.push_back('\0');
    key.append(cookie_value.data(), cookie_value.size());
    return key;
}

}  // namespace

std::optional<KnownHandle> ProcessHandles::find(const Runtime* runtime, std::string_view cookie_name,
                                                std::string_view cookie_value) {
    return known_handles().find(known_handle_key(runtime, cookie_name, cookie_value));
}

void ProcessHandles::remember(const Runtime* runtime, std::string_view cookie_name, std::string_view cookie_value,
                              KnownHandle known) {
    known_handles().remember(known_handle_key(runtime, cookie_name, cookie_value), std::move(known));
}

ConnectionSessionCache& ConnectionSessionCache::of(conn_rec* c) {
    return pool_bound_object<ConnectionSessionCache>(c->conn_config, c->pool);
}

std::shared_ptr<const saml::Session> ConnectionSessionCache::find(const Runtime* runtime, std::string_view cookie_name,
                                                                  std::string_view cookie_value) const {
    if (!session_ || runtime != runtime_ || cookie_name != cookie_name_ || cookie_value != cookie_value_) return nullptr;
    return session_;
}

void ConnectionSessionCache::remember(const Runtime* runtime, std::string_view cookie_name, std::string cookie_value,
                                      std::shared_ptr<const saml::Session> session,
                                      std::optional<saml::SessionHandle> handle) {
    runtime_ = runtime;
    cookie_name_.assign(cookie_name.data(), cookie_name.size());
    cookie_value_ = std::move(cookie_value);
    session_ = std::move(session);
    handle_ = std::move(handle);
    exported_.reset();
    liveness_.reset();
}

std::shared_ptr<const ExportedVariables> ConnectionSessionCache::exported(const saml::Session* session,
                                                                          std::string_view settings) const {
    if (!holds(session) || !exported_ || exported_->settings() != settings) return nullptr;
    return exported_;
}

}  // namespace saml_httpd
