#include "session_cache.hpp"

#include "config.hpp"

#include <apr_strings.h>
#include <http_config.h>

#include <cstring>

namespace saml_httpd {

namespace {

apr_status_t delete_connection_cache(void* p) {
    delete static_cast<ConnectionSessionCache*>(p);
    return APR_SUCCESS;
}

// The table's entries with duplicate names resolved (last wins), copied into one buffer.
std::vector<std::pair<std::size_t, std::size_t>> collect(apr_table_t* table, std::string& text) {
    std::vector<std::pair<std::size_t, std::size_t>> offsets;
    if (table == nullptr || apr_is_empty_table(table)) return offsets;
    apr_table_compress(table, APR_OVERLAP_TABLES_SET);
    const apr_array_header_t* elts = apr_table_elts(table);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
    offsets.reserve(static_cast<std::size_t>(elts->nelts));
    for (int i = 0; i < elts->nelts; ++i) {
        if (entries[i].key == nullptr || entries[i].val == nullptr) continue;
        const std::size_t key = text.size();
        text.append(entries[i].key).push_back('\0');
        const std::size_t val = text.size();
        text.append(entries[i].val).push_back('\0');
        offsets.emplace_back(key, val);
    }
    return offsets;
}

bool has_prefixed_key(apr_table_t* table, const std::vector<std::string>& prefixes) {
    const apr_array_header_t* elts = apr_table_elts(table);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(elts->elts);
    for (int i = 0; i < elts->nelts; ++i) {
        if (entries[i].key == nullptr) continue;
        for (const auto& prefix : prefixes)
            if (strncasecmp(entries[i].key, prefix.c_str(), prefix.size()) == 0) return true;
    }
    return false;
}

}  // namespace

std::shared_ptr<const ExportedVariables> ExportedVariables::from(apr_table_t* env, apr_table_t* headers,
                                                                 std::string settings,
                                                                 std::vector<std::string> env_prefixes,
                                                                 std::string header_prefix) {
    auto out = std::make_shared<ExportedVariables>();
    std::string text;
    const auto env_offsets = collect(env, text);
    const auto header_offsets = collect(headers, text);
    out->text = std::make_unique<char[]>(text.size() + 1);
    std::memcpy(out->text.get(), text.data(), text.size());
    const char* base = out->text.get();
    out->env.reserve(env_offsets.size());
    for (const auto& [key, val] : env_offsets) out->env.emplace_back(base + key, base + val);
    out->headers.reserve(header_offsets.size());
    for (const auto& [key, val] : header_offsets) out->headers.emplace_back(base + key, base + val);
    out->settings = std::move(settings);
    out->env_prefixes = std::move(env_prefixes);
    out->header_prefix = std::move(header_prefix);
    return out;
}

bool add_variables(apr_pool_t* pool, apr_table_t* table, const std::vector<std::pair<const char*, const char*>>& pairs,
                   const std::vector<std::string>& prefixes) {
    if (pairs.empty()) return false;
    if (!has_prefixed_key(table, prefixes)) {
        for (const auto& [key, value] : pairs) apr_table_addn(table, key, value);
        return false;
    }
    apr_table_t* ours = apr_table_make(pool, static_cast<int>(pairs.size()));
    for (const auto& [key, value] : pairs) apr_table_addn(ours, key, value);
    apr_table_overlap(table, ours, APR_OVERLAP_TABLES_SET);
    return true;
}

ConnectionSessionCache& ConnectionSessionCache::of(conn_rec* c) {
    auto* cache = static_cast<ConnectionSessionCache*>(ap_get_module_config(c->conn_config, &auth_saml_module));
    if (cache == nullptr) {
        cache = new ConnectionSessionCache();
        apr_pool_cleanup_register(c->pool, cache, delete_connection_cache, apr_pool_cleanup_null);
        ap_set_module_config(c->conn_config, &auth_saml_module, cache);
    }
    return *cache;
}

std::shared_ptr<const saml::Session> ConnectionSessionCache::find(const Runtime* runtime, std::string_view cookie_name,
                                                                  std::string_view cookie_value) const {
    if (!session_ || runtime != runtime_ || cookie_name != cookie_name_ || cookie_value != cookie_value_) return nullptr;
    return session_;
}

void ConnectionSessionCache::remember(const Runtime* runtime, std::string_view cookie_name, std::string cookie_value,
                                      std::shared_ptr<const saml::Session> session) {
    runtime_ = runtime;
    cookie_name_.assign(cookie_name.data(), cookie_name.size());
    cookie_value_ = std::move(cookie_value);
    session_ = std::move(session);
    exported_.reset();
}

std::shared_ptr<const ExportedVariables> ConnectionSessionCache::exported(const saml::Session* session,
                                                                          std::string_view settings) const {
    if (!holds(session) || !exported_ || exported_->settings != settings) return nullptr;
    return exported_;
}

}  // namespace saml_httpd
