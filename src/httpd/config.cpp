#include "config.hpp"

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>

#include "crypto.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

ServerConfig* server_config(const server_rec* s) {
    return static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &auth_saml_module));
}

DirConfig* dir_config(const request_rec* r) {
    return static_cast<DirConfig*>(ap_get_module_config(r->per_dir_config, &auth_saml_module));
}

Mode mode_of(const DirConfig* dir) { return dir->mode == static_cast<int>(Mode::Passive) ? Mode::Passive : Mode::Auth; }

void* create_server_config(apr_pool_t* pool, server_rec*) {
    auto* conf = static_cast<ServerConfig*>(apr_pcalloc(pool, sizeof(ServerConfig)));
    conf->session_store = -1;
    conf->replay_cache_failure = conf->clock_skew = conf->max_response_size = -1;
    conf->authn_requests_signed = conf->want_assertions_signed = conf->want_response_signed = -1;
    conf->want_assertions_encrypted = conf->want_logout_signed = -1;
    conf->allow_sha1 = conf->allow_rsa15 = conf->allow_triple_des = conf->allow_unsolicited = conf->endpoint_names = -1;
    conf->idp_metadata_timeout = conf->idp_metadata_max_size = -1;
    conf->idp_metadata_warning_days = conf->idp_metadata_reminder_seconds = conf->sp_metadata_signed = -1;
    conf->artifact_binding = conf->artifact_timeout = conf->artifact_connect_timeout = -1;
    conf->artifact_allow_http = conf->artifact_response_signed = -1;
    return conf;
}

void* create_dir_config(apr_pool_t* pool, char*) {
    auto* conf = static_cast<DirConfig*>(apr_pcalloc(pool, sizeof(DirConfig)));
    conf->mode = static_cast<int>(Mode::Unset);
    conf->request_headers = conf->session_max_age = conf->session_idle_timeout = -1;
    conf->cookie_secure = conf->force_authn = conf->mellon_compat = -1;
    conf->mellon_index_start = conf->mellon_set_count = -1;
    return conf;
}

namespace {

// The one merge rule for every field: the more specific value wins when it is set.
template <typename T>
T pick(T base, T add) { return add ? add : base; }
inline int pick(int base, int add) { return add >= 0 ? add : base; }

}  // namespace

void* merge_server_config(apr_pool_t* pool, void* base_ptr, void* add_ptr) {
    const auto* base = static_cast<const ServerConfig*>(base_ptr);
    const auto* add = static_cast<const ServerConfig*>(add_ptr);
    auto* merged = static_cast<ServerConfig*>(apr_pcalloc(pool, sizeof(ServerConfig)));
#define SAML_MERGE(field) merged->field = pick(base->field, add->field)
    SAML_MERGE(sp_entity_id); SAML_MERGE(sp_certificate_file); SAML_MERGE(sp_private_key_file);
    SAML_MERGE(sp_encryption_certificate_file); SAML_MERGE(sp_encryption_key_file);
    SAML_MERGE(sp_rollover_certificate_files); SAML_MERGE(idp_metadata_files); SAML_MERGE(default_idp);
    SAML_MERGE(idp_metadata_urls); SAML_MERGE(idp_metadata_signing_cert_files); SAML_MERGE(idp_metadata_ca_file);
    SAML_MERGE(idp_metadata_timeout); SAML_MERGE(idp_metadata_max_size);
    SAML_MERGE(idp_metadata_warning_days); SAML_MERGE(idp_metadata_reminder_seconds); SAML_MERGE(sp_metadata_signed);
    SAML_MERGE(discovery_url);
    SAML_MERGE(endpoint_path); SAML_MERGE(endpoint_names); SAML_MERGE(base_url); SAML_MERGE(session_secret_files); SAML_MERGE(replay_cache);
    SAML_MERGE(replay_cache_failure); SAML_MERGE(session_store); SAML_MERGE(session_store_cache); SAML_MERGE(clock_skew); SAML_MERGE(max_response_size);
    SAML_MERGE(authn_requests_signed); SAML_MERGE(want_assertions_signed); SAML_MERGE(want_response_signed);
    SAML_MERGE(want_assertions_encrypted); SAML_MERGE(want_logout_signed);
    SAML_MERGE(allow_sha1); SAML_MERGE(allow_rsa15); SAML_MERGE(allow_triple_des); SAML_MERGE(allow_unsolicited); SAML_MERGE(redirect_domains);
    SAML_MERGE(artifact_binding); SAML_MERGE(artifact_ca_file); SAML_MERGE(artifact_client_certificate);
    SAML_MERGE(artifact_client_key); SAML_MERGE(artifact_timeout); SAML_MERGE(artifact_connect_timeout);
    SAML_MERGE(artifact_allow_http); SAML_MERGE(artifact_response_signed);
#undef SAML_MERGE
    merged->runtime = nullptr;  // built per server by check_config
    return merged;
}

void* merge_dir_config(apr_pool_t* pool, void* base_ptr, void* add_ptr) {
    const auto* base = static_cast<const DirConfig*>(base_ptr);
    const auto* add = static_cast<const DirConfig*>(add_ptr);
    auto* merged = static_cast<DirConfig*>(apr_pcalloc(pool, sizeof(DirConfig)));
#define SAML_MERGE(field) merged->field = pick(base->field, add->field)
    SAML_MERGE(mode); SAML_MERGE(user_attribute); SAML_MERGE(attribute_prefix); SAML_MERGE(request_headers);
    SAML_MERGE(header_prefix); SAML_MERGE(session_max_age); SAML_MERGE(session_idle_timeout); SAML_MERGE(cookie_name);
    SAML_MERGE(cookie_domain); SAML_MERGE(cookie_path); SAML_MERGE(cookie_samesite); SAML_MERGE(cookie_secure);
    SAML_MERGE(force_authn); SAML_MERGE(authn_context_class_refs); SAML_MERGE(name_id_format);
    SAML_MERGE(mellon_compat); SAML_MERGE(mellon_separator); SAML_MERGE(mellon_prefix);
    SAML_MERGE(mellon_index_start); SAML_MERGE(mellon_set_count); SAML_MERGE(mellon_idp_name);
#undef SAML_MERGE
    // Maps add up: a location's entries overlay the server's.
    if (base->attribute_map && add->attribute_map)
        merged->attribute_map = apr_table_overlay(pool, base->attribute_map, add->attribute_map);
    else
        merged->attribute_map = pick(base->attribute_map, add->attribute_map);
    return merged;
}

// --- directive handlers ------------------------------------------------------------------
// cmd->info holds the offset of the field within ServerConfig or DirConfig.

namespace {

template <typename T>
T& server_field(cmd_parms* cmd) {
    char* base = reinterpret_cast<char*>(server_config(cmd->server));
    return *reinterpret_cast<T*>(base + reinterpret_cast<std::size_t>(cmd->info));
}

template <typename T>
T& dir_field(void* dir, cmd_parms* cmd) {
    return *reinterpret_cast<T*>(static_cast<char*>(dir) + reinterpret_cast<std::size_t>(cmd->info));
}

const char* parse_nonnegative(cmd_parms* cmd, const char* arg, int& out) {
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || value < 0 || value > 100000000 || errno != 0)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a non-negative whole number", cmd->cmd->name, arg);
    out = static_cast<int>(value);
    return nullptr;
}

apr_array_header_t* append_to(apr_pool_t* pool, apr_array_header_t*& array, const char* value) {
    if (array == nullptr) array = apr_array_make(pool, 2, sizeof(const char*));
    *static_cast<const char**>(apr_array_push(array)) = value;
    return array;
}

}  // namespace

extern "C" {

static const char* set_server_string(cmd_parms* cmd, void*, const char* arg) {
    server_field<const char*>(cmd) = arg;
    return nullptr;
}

static const char* add_server_string(cmd_parms* cmd, void*, const char* arg) {
    append_to(cmd->pool, server_field<apr_array_header_t*>(cmd), arg);
    return nullptr;
}

// File names are resolved against ServerRoot; that they are readable is checked by
// check_config, which can name both the file and what is wrong with it.
static const char* set_server_file(cmd_parms* cmd, void*, const char* arg) {
    const char* path = ap_server_root_relative(cmd->pool, arg);
    if (path == nullptr) return apr_psprintf(cmd->pool, "%s: invalid file path '%s'", cmd->cmd->name, arg);
    server_field<const char*>(cmd) = path;
    return nullptr;
}

static const char* add_server_file(cmd_parms* cmd, void*, const char* arg) {
    const char* path = ap_server_root_relative(cmd->pool, arg);
    if (path == nullptr) return apr_psprintf(cmd->pool, "%s: invalid file path '%s'", cmd->cmd->name, arg);
    append_to(cmd->pool, server_field<apr_array_header_t*>(cmd), path);
    return nullptr;
}

static const char* set_server_flag(cmd_parms* cmd, void*, int flag) {
    server_field<int>(cmd) = flag ? 1 : 0;
    return nullptr;
}

static const char* set_server_seconds(cmd_parms* cmd, void*, const char* arg) {
    return parse_nonnegative(cmd, arg, server_field<int>(cmd));
}

static const char* set_server_size(cmd_parms* cmd, void*, const char* arg) {
    int value = 0;
    if (const char* error = parse_nonnegative(cmd, arg, value)) return error;
    if (value < 4096 || value > 64 * 1024 * 1024)
        return apr_psprintf(cmd->pool, "%s: %d is outside 4096..67108864 bytes", cmd->cmd->name, value);
    server_field<int>(cmd) = value;
    return nullptr;
}

// 64-bit FNV-1a: a stable name for a URL's default backup file.
static unsigned long long fnv1a(const char* text) {
    unsigned long long hash = 1469598103934665603ULL;
    for (const char* c = text; *c; ++c) hash = (hash ^ static_cast<unsigned char>(*c)) * 1099511628211ULL;
    return hash;
}

static const char* add_metadata_url(cmd_parms* cmd, void*, const char* url, const char* backup, const char* interval) {
    if (std::strncmp(url, "https://", 8) != 0 || url[8] == '\0' || std::strpbrk(url, " \t\r\n") != nullptr)
        return "SAMLIdPMetadataURL: the URL must be https://... (metadata is never fetched over plain http)";
    auto* entry = static_cast<MetadataUrlConfig*>(apr_pcalloc(cmd->pool, sizeof(MetadataUrlConfig)));
    entry->url = url;
    entry->refresh_interval = -1;
    const char* backup_name = backup;
    if (backup_name == nullptr)
        backup_name = ap_runtime_dir_relative(cmd->pool, apr_psprintf(cmd->pool, "saml-idp-metadata-%016llx.xml", fnv1a(url)));
    else
        backup_name = ap_server_root_relative(cmd->pool, backup);
    if (backup_name == nullptr) return apr_psprintf(cmd->pool, "SAMLIdPMetadataURL: invalid backup file path '%s'", backup);
    entry->backup_file = backup_name;
    if (interval != nullptr) {
        int seconds = 0;
        if (const char* error = parse_nonnegative(cmd, interval, seconds)) return error;
        if (seconds < 1 || seconds > 7 * 86400)
            return "SAMLIdPMetadataURL: the refresh interval is 1..604800 seconds (60 or more outside tests)";
        entry->refresh_interval = seconds;
    }
    apr_array_header_t*& list = server_field<apr_array_header_t*>(cmd);
    if (list == nullptr) list = apr_array_make(cmd->pool, 2, sizeof(MetadataUrlConfig*));
    *static_cast<MetadataUrlConfig**>(apr_array_push(list)) = entry;
    return nullptr;
}

static const char* set_metadata_size(cmd_parms* cmd, void*, const char* arg) {
    int value = 0;
    if (const char* error = parse_nonnegative(cmd, arg, value)) return error;
    if (value < 4096) return apr_psprintf(cmd->pool, "%s: %d is under 4096 bytes", cmd->cmd->name, value);
    server_field<int>(cmd) = value;
    return nullptr;
}

static const char* set_metadata_timeout(cmd_parms* cmd, void*, const char* arg) {
    int value = 0;
    if (const char* error = parse_nonnegative(cmd, arg, value)) return error;
    if (value < 1 || value > 600) return apr_psprintf(cmd->pool, "%s: %d is outside 1..600 seconds", cmd->cmd->name, value);
    server_field<int>(cmd) = value;
    return nullptr;
}

static const char* set_metadata_warning(cmd_parms* cmd, void*, const char* days, const char* repeat) {
    ServerConfig* conf = server_config(cmd->server);
    int value = 0;
    if (const char* error = parse_nonnegative(cmd, days, value)) return error;
    if (value > 3650) return "SAMLIdPMetadataFileWarning: the warning starts 0..3650 days before validUntil";
    conf->idp_metadata_warning_days = value;
    if (repeat != nullptr) {
        if (const char* error = parse_nonnegative(cmd, repeat, value)) return error;
        if (value < 1 || value > 30 * 86400)
            return "SAMLIdPMetadataFileWarning: the repeat is 1..2592000 seconds (default 86400: once a day)";
        conf->idp_metadata_reminder_seconds = value;
    }
    return nullptr;
}

static const char* set_replay_failure(cmd_parms* cmd, void*, const char* arg) {
    if (strcasecmp(arg, "refuse") == 0) server_field<int>(cmd) = 0;
    else if (strcasecmp(arg, "allow") == 0) server_field<int>(cmd) = 1;
    else return "SAMLReplayCacheFailure: use 'refuse' (fail closed) or 'allow'";
    return nullptr;
}

static const char* set_session_store(cmd_parms* cmd, void*, const char* kind, const char* provider) {
    ServerConfig* conf = server_config(cmd->server);
    if (strcasecmp(kind, "cookie") == 0) {
        if (provider != nullptr) return "SAMLSessionStore cookie takes no provider (did you mean 'cache PROVIDER'?)";
        conf->session_store = 0;
    } else if (strcasecmp(kind, "cache") == 0) {
        conf->session_store = 1;
        conf->session_store_cache = provider;
    } else {
        return "SAMLSessionStore: use 'cookie' (the default) or 'cache [PROVIDER]' (e.g. cache, cache memcache:127.0.0.1:11211)";
    }
    return nullptr;
}

static const char* set_artifact_binding(cmd_parms* cmd, void*, const char* arg) {
    if (strcasecmp(arg, "off") == 0) server_field<int>(cmd) = 0;
    else if (strcasecmp(arg, "accept") == 0) server_field<int>(cmd) = 1;
    else if (strcasecmp(arg, "prefer") == 0) server_field<int>(cmd) = 2;
    else return "SAMLArtifactBinding: use Off, Accept (take artifacts) or Prefer (also ask the IdP for them)";
    return nullptr;
}

static const char* set_artifact_client_certificate(cmd_parms* cmd, void*, const char* certificate, const char* key) {
    ServerConfig* conf = server_config(cmd->server);
    conf->artifact_client_certificate = ap_server_root_relative(cmd->pool, certificate);
    conf->artifact_client_key = key ? ap_server_root_relative(cmd->pool, key) : nullptr;
    if (conf->artifact_client_certificate == nullptr || (key && conf->artifact_client_key == nullptr))
        return "SAMLArtifactClientCertificate: invalid file path";
    return nullptr;
}

static const char* set_artifact_timeout(cmd_parms* cmd, void*, const char* total, const char* connect) {
    ServerConfig* conf = server_config(cmd->server);
    if (const char* error = parse_nonnegative(cmd, total, conf->artifact_timeout)) return error;
    if (connect != nullptr)
        if (const char* error = parse_nonnegative(cmd, connect, conf->artifact_connect_timeout)) return error;
    if (conf->artifact_timeout < 1 || conf->artifact_timeout > 120)
        return "SAMLArtifactTimeout: the total must be 1 to 120 seconds (the browser waits that long)";
    if (connect != nullptr && (conf->artifact_connect_timeout < 1 || conf->artifact_connect_timeout > conf->artifact_timeout))
        return "SAMLArtifactTimeout: the connect timeout must be 1 second to the total";
    return nullptr;
}

static const char* set_endpoint_names(cmd_parms* cmd, void*, const char* arg) {
    if (strcasecmp(arg, "saml") == 0) server_field<int>(cmd) = 0;
    else if (strcasecmp(arg, "mellon") == 0) server_field<int>(cmd) = 1;
    else return "SAMLEndpointNames: use 'saml' (sso, acs, sls ...) or 'mellon' (login, postResponse, logout)";
    return nullptr;
}

static const char* set_endpoint_path(cmd_parms* cmd, void*, const char* arg) {
    if (arg[0] != '/' || std::strpbrk(arg, "?#\\ \t") != nullptr)
        return "SAMLEndpointPath must be a URL path starting with '/', e.g. /saml";
    std::string path = arg;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    server_field<const char*>(cmd) = apr_pstrdup(cmd->pool, path.c_str());
    return nullptr;
}

static const char* set_base_url(cmd_parms* cmd, void*, const char* arg) {
    std::string url = arg;
    while (!url.empty() && url.back() == '/') url.pop_back();
    const bool scheme_ok = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
    const std::size_t host_start = url.find("://") + 3;
    if (!scheme_ok || url.size() <= host_start || url.find_first_of("/?#\\ ", host_start) != std::string::npos)
        return "SAMLBaseURL must be scheme://host[:port] with no path, e.g. https://www.example.org";
    server_field<const char*>(cmd) = apr_pstrdup(cmd->pool, url.c_str());
    return nullptr;
}

static const char* set_dir_string(cmd_parms* cmd, void* dir, const char* arg) {
    dir_field<const char*>(dir, cmd) = arg;
    return nullptr;
}

static const char* add_dir_string(cmd_parms* cmd, void* dir, const char* arg) {
    append_to(cmd->pool, dir_field<apr_array_header_t*>(dir, cmd), arg);
    return nullptr;
}

static const char* set_dir_flag(cmd_parms* cmd, void* dir, int flag) {
    dir_field<int>(dir, cmd) = flag ? 1 : 0;
    return nullptr;
}

static const char* set_dir_seconds(cmd_parms* cmd, void* dir, const char* arg) {
    return parse_nonnegative(cmd, arg, dir_field<int>(dir, cmd));
}

static const char* set_mode(cmd_parms* cmd, void* dir, const char* arg) {
    if (strcasecmp(arg, "auth") == 0) dir_field<int>(dir, cmd) = static_cast<int>(Mode::Auth);
    else if (strcasecmp(arg, "passive") == 0) dir_field<int>(dir, cmd) = static_cast<int>(Mode::Passive);
    else return "SAMLMode: use 'auth' or 'passive'";
    return nullptr;
}

// NAME ENVNAME [NoPrefix]. ENVNAME as mellon's MellonSetEnv took it (mellon's README names one
// "e-mail"); NoPrefix (MellonSetEnvNoPrefix) exports it without any prefix, so it may not take a
// name that httpd or CGI gives a meaning of its own.
static const char* add_attribute_map(cmd_parms* cmd, void* dir, const char* name, const char* env_name,
                                     const char* flag) {
    if (*env_name == '\0') return "SAMLAttributeMap: the variable name must not be empty";
    for (const char* c = env_name; *c; ++c)
        if (!apr_isalnum(*c) && *c != '_' && *c != '-' && *c != '.')
            return apr_psprintf(cmd->pool, "SAMLAttributeMap: '%s' is not a valid variable name ([A-Za-z0-9_.-])",
                                env_name);
    bool unprefixed = false;
    if (flag != nullptr) {
        if (strcasecmp(flag, "NoPrefix") != 0)
            return apr_psprintf(cmd->pool, "SAMLAttributeMap: '%s': the third word may only be NoPrefix", flag);
        unprefixed = true;
        // REMOTE_USER is allowed, as mellon allowed it: the variable (not httpd's user, which CGI
        // is given) then holds the attribute.
        for (const char* reserved : {"AUTH_TYPE", "PATH", "HTTPS", "REMOTE_ADDR", "REMOTE_HOST",
                                     "SERVER_NAME", "SCRIPT_NAME", "QUERY_STRING", "REQUEST_METHOD"})
            if (strcasecmp(env_name, reserved) == 0)
                return apr_psprintf(cmd->pool, "SAMLAttributeMap: %s NoPrefix would replace httpd's own %s", env_name,
                                    env_name);
        if (strncasecmp(env_name, "HTTP_", 5) == 0 || strncasecmp(env_name, "LD_", 3) == 0 ||
            strncasecmp(env_name, "SSL_", 4) == 0)
            return apr_psprintf(cmd->pool, "SAMLAttributeMap: %s NoPrefix: HTTP_, SSL_ and LD_ names belong to "
                                "request headers, mod_ssl and the dynamic linker", env_name);
    }
    apr_table_t*& map = dir_field<apr_table_t*>(dir, cmd);
    if (map == nullptr) map = apr_table_make(cmd->pool, 4);
    apr_table_set(map, name, unprefixed ? apr_pstrcat(cmd->pool, "!", env_name, nullptr) : env_name);
    return nullptr;
}

static const char* set_mellon_index_start(cmd_parms* cmd, void* dir, const char* arg) {
    return parse_nonnegative(cmd, arg, dir_field<int>(dir, cmd));
}

static const char* set_request_headers(cmd_parms* cmd, void* dir_ptr, const char* on_off, const char* prefix) {
    auto* dir = static_cast<DirConfig*>(dir_ptr);
    if (strcasecmp(on_off, "on") == 0) dir->request_headers = 1;
    else if (strcasecmp(on_off, "off") == 0) dir->request_headers = 0;
    else return "SAMLRequestHeaders: use On [prefix] or Off";
    if (prefix != nullptr) {
        for (const char* c = prefix; *c; ++c)
            if (!apr_isalnum(*c) && *c != '-' && *c != '_')
                return "SAMLRequestHeaders: the prefix may hold only letters, digits, '-' and '_'";
        dir->header_prefix = prefix;
    }
    (void)cmd;
    return nullptr;
}

static const char* set_mellon_compat(cmd_parms* cmd, void* dir_ptr, const char* on_off, const char* separator) {
    auto* dir = static_cast<DirConfig*>(dir_ptr);
    if (strcasecmp(on_off, "on") == 0) dir->mellon_compat = 1;
    else if (strcasecmp(on_off, "off") == 0) dir->mellon_compat = 0;
    else return "SAMLMellonCompat: use On [separator] or Off";
    if (separator != nullptr) {
        if (dir->mellon_compat == 0) return "SAMLMellonCompat: a separator goes with On";
        if (*separator == '\0') return "SAMLMellonCompat: the separator must not be empty";
        dir->mellon_separator = separator;
    }
    (void)cmd;
    return nullptr;
}

static const char* set_cookie_name(cmd_parms* cmd, void* dir, const char* arg) {
    for (const char* c = arg; *c; ++c)
        if (!apr_isalnum(*c) && *c != '_' && *c != '-')
            return "SAMLCookieName may hold only letters, digits, '_' and '-'";
    if (*arg == '\0') return "SAMLCookieName must not be empty";
    dir_field<const char*>(dir, cmd) = arg;
    return nullptr;
}

static const char* set_samesite(cmd_parms* cmd, void* dir, const char* arg) {
    for (const char* value : {"Lax", "Strict", "None"})
        if (strcasecmp(arg, value) == 0) {
            dir_field<const char*>(dir, cmd) = value;
            return nullptr;
        }
    return "SAMLCookieSameSite: use Lax, Strict or None";
}

}  // extern "C"

#define SAML_SERVER_DIRECTIVE(name, kind, handler, field, scope, help) \
    AP_INIT_##kind(#name, reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler)),       \
                   reinterpret_cast<void*>(offsetof(ServerConfig, field)), scope, help),
#define SAML_DIR_DIRECTIVE(name, kind, handler, field, scope, help) \
    AP_INIT_##kind(#name, reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler)),    \
                   reinterpret_cast<void*>(offsetof(DirConfig, field)), scope, help),

const command_rec commands[] = {
#include "directives.def"
    {nullptr, nullptr, nullptr, 0, RAW_ARGS, nullptr}};

}  // namespace saml_httpd
