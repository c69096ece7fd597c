// The module record and its hooks. Everything here is glue: the work is in the core (src/core)
// and in the other files of src/httpd.
#include "authn.hpp"
#include "config.hpp"
#include "handlers.hpp"
#include "init.hpp"
#include "metadata_refresh.hpp"
#include "replay_cache.hpp"
#include "runtime.hpp"
#include "stored_sessions.hpp"
#include "status.hpp"

#include <apr_strings.h>
#include <http_core.h>
#include <util_cfgtree.h>
#include <http_log.h>
#include <http_request.h>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {
namespace {

int pre_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*) {
    return replay_cache_pre_config(pconf) == OK ? session_store_pre_config(pconf) : 500;
}

// The file (and line) to edit for a server's SAML settings: its <VirtualHost>, or for the main
// server the first SAML directive outside any section (the main server has no defn_name).
const char* config_location(apr_pool_t* pool, const server_rec* s) {
    if (s->defn_name) return apr_psprintf(pool, "%s, <VirtualHost> at line %d", s->defn_name, s->defn_line_number);
    for (const ap_directive_t* d = ap_conftree; d != nullptr; d = d->next)
        if (d->directive && strncasecmp(d->directive, "SAML", 4) == 0 && d->filename)
            return apr_psprintf(pool, "%s, line %d", d->filename, d->line_num);
    return ap_conftree && ap_conftree->filename ? ap_conftree->filename : "main server";
}

// Runs before `apachectl configtest` reports, so a bad key, certificate, metadata file or
// secret fails the test with a message naming the file and the fix.
int check_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* main_server) {
    try {
        if (auto init = saml::initialize_libraries(); !init) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, main_server, "%s", init.error().message().c_str());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        for (server_rec* s = main_server; s != nullptr; s = s->next) {
            ServerConfig* conf = server_config(s);
            conf->runtime = nullptr;
            if (!saml_configured(conf)) continue;
            if (const char* problem = build_runtime(pconf, s, conf)) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, main_server, "mod_auth_saml (%s): %s",
                             config_location(pconf, s), problem);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        return OK;
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, main_server, "mod_auth_saml: %s", e.what());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* main_server) {
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;  // the dry run
    if (const char* problem = status_post_config(pconf))  // numbers per process then, said once
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, main_server, "SAML0870 %s", problem);
    bool any = false;
    for (server_rec* s = main_server; s != nullptr; s = s->next) any = any || server_config(s)->runtime != nullptr;
    if (!any) return OK;
    const char* spec = or_default(server_config(main_server)->replay_cache, defaults::replay_cache);
    const char* problem = replay_cache_post_config(pconf, main_server, spec);
    if (problem == nullptr) problem = session_store_post_config(pconf, main_server);
    if (problem != nullptr) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, main_server, "mod_auth_saml: %s", problem);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void child_init(apr_pool_t* pchild, server_rec* s) {
    replay_cache_child_init(pchild, s);
    session_store_child_init(pchild, s);
    start_metadata_refresh(pchild, s);
}

void register_hooks(apr_pool_t* pool) {
    ap_hook_pre_config(pre_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_check_config(check_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_check_access_ex(endpoints_are_public, nullptr, nullptr, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_URI);
    ap_hook_check_access(prepare_session, nullptr, nullptr, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_force_authn(force_authn, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_check_authn(check_user_id, nullptr, nullptr, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_handler(handle_endpoint, nullptr, nullptr, APR_HOOK_FIRST);
    ap_hook_handler(handle_status, nullptr, nullptr, APR_HOOK_MIDDLE);
    register_authz_providers(pool);
}

}  // namespace
}  // namespace saml_httpd

extern "C" {
module AP_MODULE_DECLARE_DATA auth_saml_module = {
    STANDARD20_MODULE_STUFF,
    saml_httpd::create_dir_config,
    saml_httpd::merge_dir_config,
    saml_httpd::create_server_config,
    saml_httpd::merge_server_config,
    saml_httpd::commands,
    saml_httpd::register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE,
};
}
