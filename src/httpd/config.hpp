// Configuration records of mod_auth_saml: plain structs in pool memory, "unset" spelled as
// nullptr / -1, one defaults table (the *_or_default accessors), one merge helper per record.
#pragma once

#include <apr_tables.h>
#include <httpd.h>
#include <http_config.h>

#include <string>

extern "C" module AP_MODULE_DECLARE_DATA auth_saml_module;

namespace saml_httpd {

struct Runtime;  // runtime.hpp: what check_config built from a server's settings

// The module's C++ object in a request's or connection's config vector: created on first use,
// deleted when `pool` (the request's or connection's) is cleaned up.
template <typename T>
T& pool_bound_object(ap_conf_vector_t* config, apr_pool_t* pool) {
    auto* object = static_cast<T*>(ap_get_module_config(config, &auth_saml_module));
    if (object == nullptr) {
        object = new T();
        apr_pool_cleanup_register(
            pool, object,
            [](void* p) -> apr_status_t {
                delete static_cast<T*>(p);
                return APR_SUCCESS;
            },
            apr_pool_cleanup_null);
        ap_set_module_config(config, &auth_saml_module, object);
    }
    return *object;
}

// One SAMLIdPMetadataURL line.
struct MetadataUrlConfig {
    const char* url;
    const char* backup_file;   // resolved; defaults to a file in DefaultRuntimeDir named after the URL
    int refresh_interval;      // seconds, -1: the default
};

struct ServerConfig {
    const char* sp_entity_id;
    const char* sp_certificate_file;
    const char* sp_private_key_file;
    const char* sp_encryption_certificate_file;
    const char* sp_encryption_key_file;
    apr_array_header_t* sp_rollover_certificate_files;  // const char*
    apr_array_header_t* idp_metadata_files;             // const char*
    apr_array_header_t* idp_metadata_urls;              // MetadataUrlConfig
    apr_array_header_t* idp_metadata_signing_cert_files;  // const char*
    const char* idp_metadata_ca_file;
    int idp_metadata_timeout;
    int idp_metadata_max_size;
    int idp_metadata_warning_days;      // SAMLIdPMetadataFileWarning: days before validUntil
    int idp_metadata_reminder_seconds;  // ...and how often it is said again while httpd runs
    int sp_metadata_signed;             // SAMLSPMetadataSigned
    const char* default_idp;
    const char* discovery_url;
    const char* endpoint_path;
    int endpoint_names;  // -1 unset, 0 saml, 1 mellon
    const char* base_url;
    apr_array_header_t* session_secret_files;  // const char*
    const char* replay_cache;
    int replay_cache_failure;  // -1 unset, 0 refuse, 1 allow
    int session_store;              // -1 unset, 0 cookie, 1 cache
    const char* session_store_cache;  // the socache spec of 'cache PROVIDER'; null: the default
    int clock_skew;
    int max_response_size;
    int authn_requests_signed;
    int want_assertions_signed;
    int want_response_signed;
    int want_assertions_encrypted;
    int want_logout_signed;
    int allow_sha1;
    int allow_rsa15;
    int allow_triple_des;
    int allow_unsolicited;
    apr_array_header_t* redirect_domains;  // const char*
    int artifact_binding;                  // -1 unset, 0 off, 1 accept, 2 prefer
    const char* artifact_ca_file;
    const char* artifact_client_certificate;
    const char* artifact_client_key;       // null: in the certificate's file
    int artifact_timeout;                  // seconds, total
    int artifact_connect_timeout;          // seconds
    int artifact_allow_http;
    int artifact_response_signed;
    Runtime* runtime;  // null when SAML is not configured for this server
};

enum class Mode { Unset = -1, Auth = 0, Passive = 1 };

struct DirConfig {
    int mode;  // Mode
    const char* user_attribute;
    const char* attribute_prefix;
    apr_table_t* attribute_map;  // SAML attribute name -> environment name; "!name": NoPrefix (unprefixed)
    int request_headers;
    const char* header_prefix;
    int session_max_age;
    int session_idle_timeout;
    const char* cookie_name;
    const char* cookie_domain;
    const char* cookie_path;
    const char* cookie_samesite;
    int cookie_secure;
    int force_authn;
    apr_array_header_t* authn_context_class_refs;  // const char*
    const char* name_id_format;
    int mellon_compat;              // SAMLMellonCompat: -1 unset, 0 off, 1 on
    const char* mellon_separator;   // its optional separator (MellonMergeEnvVars On SEP); null: numbered values
    const char* mellon_prefix;      // SAMLMellonPrefix (MellonEnvPrefix), default MELLON_
    int mellon_index_start;         // SAMLMellonIndexStart (MellonEnvVarsIndexStart), -1 unset: 0
    int mellon_set_count;           // SAMLMellonSetCount (MellonEnvVarsSetCount): <name>_N, -1 unset: Off
    const char* mellon_idp_name;    // SAMLMellonIdPName (MellonIdP), default IDP
};

// Defaults, in one place.
namespace defaults {
inline constexpr const char* endpoint_path = "/saml";
inline constexpr const char* replay_cache = "shmcb";
// Sized for sessions with hundreds of attributes: shmcb splits its memory into subcaches and an
// entry must fit one of them (at the default 512 KB, records over ~16 KB would not).
inline constexpr const char* session_cache = "shmcb:auth_saml_sessions(67108864)";
inline constexpr int clock_skew = 60;
inline constexpr int max_response_size = 256 * 1024;
inline constexpr int artifact_timeout = 10;
inline constexpr int artifact_connect_timeout = 5;
inline constexpr const char* attribute_prefix = "SAML_";
inline constexpr const char* header_prefix = "X-SAML-";
inline constexpr const char* mellon_prefix = "MELLON_";
inline constexpr const char* mellon_idp_name = "IDP";
inline constexpr int session_max_age = 8 * 3600;
inline constexpr const char* cookie_name = "saml_session";
inline constexpr const char* cookie_path = "/";
inline constexpr const char* cookie_samesite = "Lax";
inline constexpr int metadata_refresh_interval = 3600;
inline constexpr int metadata_timeout = 30;
inline constexpr int metadata_connect_timeout = 10;  // at most; never more than the total
inline constexpr int metadata_max_size = 64 * 1024 * 1024;
inline constexpr int metadata_warning_days = 30;
inline constexpr int metadata_reminder_seconds = 86400;
}  // namespace defaults

inline const char* or_default(const char* value, const char* fallback) { return value ? value : fallback; }
inline int or_default(int value, int fallback) { return value < 0 ? fallback : value; }
inline bool flag_or(int value, bool fallback) { return value < 0 ? fallback : value != 0; }

ServerConfig* server_config(const server_rec* s);
DirConfig* dir_config(const request_rec* r);
Mode mode_of(const DirConfig* dir);

// Hooks for the module record.
void* create_server_config(apr_pool_t* pool, server_rec* s);
void* merge_server_config(apr_pool_t* pool, void* base, void* add);
void* create_dir_config(apr_pool_t* pool, char* dir);
void* merge_dir_config(apr_pool_t* pool, void* base, void* add);
extern const command_rec commands[];

}  // namespace saml_httpd
