#include "authn.hpp"

#include "attribute_names.hpp"
#include "config.hpp"
#include "encoding.hpp"
#include "handlers.hpp"
#include "request.hpp"
#include "runtime.hpp"
#include "session_glue.hpp"
#include "status.hpp"
#include "xml.hpp"

#include <ap_provider.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <mod_auth.h>

#include <ap_regex.h>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

bool auth_type_is_saml(request_rec* r) {
    const char* type = ap_auth_type(r);
    return type != nullptr && strcasecmp(type, "SAML") == 0;
}

const Runtime* runtime_of(request_rec* r) { return server_config(r->server)->runtime; }

// This request's URL, to come back to after login. The request line is client input like any
// ReturnTo ("GET //evil.example/ HTTP/1.1"), so it passes the same checker; "/" if refused.
std::string return_target(request_rec* r, const Runtime& rt) {
    saml::Error refused;
    return checked_return_to(r, rt, r->unparsed_uri ? r->unparsed_uri : "/", &refused).value_or("/");
}

// SAMLUserAttribute in this directory may name another attribute than the one used at login.
// As at /acs, a value with a control character (a newline above all) is no user id. nullptr:
// no user here. (A pointer into the session: the session itself is never copied per request.)
const std::string* user_here(const DirConfig* dir, const saml::Session& session) {
    if (dir->user_attribute == nullptr) return &session.user;
    for (const auto& attribute : session.attributes)
        if (attribute_matches(dir, attribute, dir->user_attribute) && attribute.values.size() == 1 &&
            saml::usable_as_user_id(attribute.values.front()))
            return &attribute.values.front();
    return nullptr;
}

template <typename Body>
int guarded_hook(request_rec* r, const char* hook, Body&& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SAML0899 internal error in %s: %s", hook, e.what());
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SAML0899 internal error in %s", hook);
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

bool export_if_logged_in(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    const saml::Session* session = current_session(r, rt, dir);
    if (session == nullptr) return false;
    const std::string* user = user_here(dir, *session);
    if (user == nullptr) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "SAML0850 the session lacks the single-valued attribute %s "
                      "that SAMLUserAttribute names here (or its value is blank or holds a control character)", dir->user_attribute);
        return false;
    }
    export_session(r, dir, *session, *user);
    return true;
}

// SAMLSessionStore cache that does not answer: the user may well be logged in, so a trip to the
// IdP would only come back to the same failure (a loop). 503, one line, the page says wait.
int store_unavailable(request_rec* r) {
    count(Counter::session_store_unavailable);
    install_error_page(r, Failure{HTTP_SERVICE_UNAVAILABLE, "Service unavailable",
                                  "The site cannot check your session right now. Try again in a minute.",
                                  saml::Error{saml::ErrorKind::Internal, "SAML0815", "session-store",
                                              "the session store does not answer; logged-in users get 503 until it does"},
                                  ""});
    return HTTP_SERVICE_UNAVAILABLE;
}

}  // namespace

int check_user_id(request_rec* r) {
    if (!auth_type_is_saml(r)) return DECLINED;
    return guarded_hook(r, "check_user_id", [&]() -> int {
        const Runtime* rt = runtime_of(r);
        const DirConfig* dir = dir_config(r);
        if (rt == nullptr) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "SAML0851 AuthType SAML is used but this server has no SAML configuration (SAMLSPEntityID ...)");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        strip_forged_headers(r, dir);
        if (export_if_logged_in(r, *rt, dir)) return OK;
        if (session_store_failed(r)) return store_unavailable(r);
        if (is_script_request(r)) {
            apr_table_setn(r->err_headers_out, "WWW-Authenticate", "SAML");
            install_error_page(r, Failure{HTTP_UNAUTHORIZED, "Login required",
                                          "Reload the page to log in.",
                                          saml::Error{saml::ErrorKind::Rejected, "SAML0852", "login-required",
                                                      "a script request without a session gets 401, not a redirect"},
                                          ""});
            return HTTP_UNAUTHORIZED;
        }
        const std::string default_idp = default_idp_for(r, *rt);
        if (default_idp.empty()) {
            // Several IdPs: the sso endpoint will ask which one.
            const std::string sso = rt->endpoint_url("", "sso") + "?ReturnTo=" + saml::url_encode(return_target(r, *rt));
            apr_table_setn(r->headers_out, "Location", apr_pstrdup(r->pool, sso.c_str()));
            return HTTP_MOVED_TEMPORARILY;
        }
        const int status = start_login(r, *rt, dir, default_idp, return_target(r, *rt), flag_or(dir->force_authn, false), false);
        // start_login answered with a redirect status or wrote a POST form (OK): either way the
        // request ends here, so a form must not be mistaken for "authenticated".
        if (status == OK) return DONE;
        return status;
    });
}

// Runs before authz_core's first, user-less pass over the Require lines, which decides alone
// whenever no provider asks for a user: `Require expr "reqenv('SAML_x') ..."` or `Require all
// granted` never reach check_user_id. So, for AuthType SAML:
//  - passive mode: export a session if there is one (the page stays public);
//  - auth mode with a session: export its attributes (not yet the user) so expressions see
//    them; force_authn then makes check_user_id set the user even when that pass granted access;
//  - auth mode without a session: if that pass denies, send the browser to log in instead of a
//    bare 403 (a logged-in user who is denied still gets the 403).
int prepare_session(request_rec* r) {
    if (!auth_type_is_saml(r)) return DECLINED;
    const DirConfig* dir = dir_config(r);
    return guarded_hook(r, "access_checker", [&]() -> int {
        const Runtime* rt = runtime_of(r);
        if (rt == nullptr) return DECLINED;
        strip_forged_headers(r, dir);
        if (mode_of(dir) == Mode::Passive) {
            export_if_logged_in(r, *rt, dir);
            return DECLINED;
        }
        if (const saml::Session* session = current_session(r, *rt, dir)) {
            if (const std::string* user = user_here(dir, *session)) export_session(r, dir, *session, *user, false);
            return DECLINED;
        }
        if (session_store_failed(r)) return store_unavailable(r);
        if (!is_script_request(r)) {
            const std::string sso = rt->endpoint_url(public_base_url(r, *rt), "sso") + "?ReturnTo=" +
                                    saml::url_encode(return_target(r, *rt));
            ap_custom_response(r, HTTP_FORBIDDEN, apr_pstrdup(r->pool, sso.c_str()));
        }
        return DECLINED;  // never decides access itself
    });
}

int force_authn(request_rec* r) {
    if (!auth_type_is_saml(r) || mode_of(dir_config(r)) == Mode::Passive || r->user != nullptr) return DECLINED;
    const Runtime* rt = runtime_of(r);
    if (rt == nullptr) return DECLINED;
    return guarded_hook(r, "force_authn", [&]() -> int {
        return current_session(r, *rt, dir_config(r)) != nullptr ? OK : DECLINED;
    }) == OK ? OK : DECLINED;
}

int endpoints_are_public(request_rec* r) {
    const Runtime* rt = runtime_of(r);
    if (rt == nullptr || r->main != nullptr) return DECLINED;
    return endpoint_of(r, *rt) ? OK : DECLINED;
}

// --- authz providers -----------------------------------------------------------------------

namespace {

struct AttributeRequirement {
    std::string name;
    bool regex = false;
    std::vector<std::string> values;
    std::vector<ap_regex_t*> patterns;  // httpd's PCRE, compiled once into the config pool
};

const saml::Session* session_for_authz(request_rec* r) {
    const Runtime* rt = runtime_of(r);
    if (rt == nullptr || !auth_type_is_saml(r) || r->user == nullptr) return nullptr;
    return current_session(r, *rt, dir_config(r));
}

// The page a logged-in user sees when a Require line keeps them out (401 or, with
// AuthzSendForbiddenOnFailure On, 403): who they are and that logging in again will not help.
void explain_denial(request_rec* r, const std::string& ref, const char* code) {
    const std::string body = "<p id=\"what\">You are logged in as <strong>" + saml::xml_escape(r->user) +
                             "</strong>, but this page is restricted to other users or groups.</p>\n"
                             "<p id=\"advice\">If you think you should have access, ask the site's administrator. "
                             "<a href=\"" + saml::xml_escape(runtime_of(r)->endpoint_url("", "logout")) +
                             "\">Log out</a> to use another account.</p>\n" + reference_html(ref, code, false);
    // No leading quote: ap_custom_response adds the one that marks text (not a URL) itself, and
    // a second one showed on the page and put the browser in quirks mode.
    const char* text = apr_pstrdup(r->pool, html_page("Access denied", body).c_str());
    ap_custom_response(r, HTTP_FORBIDDEN, text);
    ap_custom_response(r, HTTP_UNAUTHORIZED, text);
}

std::vector<std::string> words(cmd_parms* cmd, const char* line) {
    std::vector<std::string> out;
    const char* rest = line;
    while (*rest) {
        char* word = ap_getword_conf(cmd->temp_pool, &rest);
        if (word == nullptr || *word == '\0') break;
        out.emplace_back(word);
    }
    return out;
}

extern "C" authz_status check_saml_user(request_rec* r, const char* require_line, const void* parsed) {
    if (r->user == nullptr) return AUTHZ_DENIED_NO_USER;
    if (session_for_authz(r) == nullptr) return AUTHZ_DENIED;
    const auto* users = static_cast<const std::vector<std::string>*>(parsed);
    for (const auto& user : *users)
        if (user == r->user) return AUTHZ_GRANTED;
    const std::string ref = correlation_id();
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "SAML0860 user %s is not in 'Require saml-user %s' [ref %s]", r->user,
                  require_line, ref.c_str());
    explain_denial(r, ref, "SAML0860");
    return AUTHZ_DENIED;
}

extern "C" const char* parse_saml_user(cmd_parms* cmd, const char* require_line, const void** parsed) {
    auto* users = new std::vector<std::string>(words(cmd, require_line));
    apr_pool_cleanup_register(cmd->pool, users, [](void* p) -> apr_status_t {
        delete static_cast<std::vector<std::string>*>(p);
        return APR_SUCCESS;
    }, apr_pool_cleanup_null);
    if (users->empty()) return "Require saml-user needs at least one user name";
    *parsed = users;
    return nullptr;
}

extern "C" authz_status check_saml_attribute(request_rec* r, const char* require_line, const void* parsed) {
    if (r->user == nullptr) return AUTHZ_DENIED_NO_USER;
    const saml::Session* session = session_for_authz(r);
    if (session == nullptr) return AUTHZ_DENIED;
    const auto* requirement = static_cast<const AttributeRequirement*>(parsed);
    for (const auto& attribute : session->attributes) {
        if (!attribute_matches(dir_config(r), attribute, requirement->name)) continue;
        for (const auto& value : attribute.values) {
            if (requirement->regex) {
                for (const ap_regex_t* pattern : requirement->patterns)
                    if (ap_regexec(pattern, value.c_str(), 0, nullptr, 0) == 0) return AUTHZ_GRANTED;
            } else {
                for (const auto& wanted : requirement->values)
                    if (value == wanted) return AUTHZ_GRANTED;
            }
        }
    }
    const std::string ref = correlation_id();
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "SAML0861 user %s does not satisfy 'Require saml-attribute %s' [ref %s]",
                  r->user, require_line, ref.c_str());
    explain_denial(r, ref, "SAML0861");
    return AUTHZ_DENIED;
}

extern "C" const char* parse_saml_attribute(cmd_parms* cmd, const char* require_line, const void** parsed) {
    std::vector<std::string> args = words(cmd, require_line);
    auto* requirement = new AttributeRequirement();
    apr_pool_cleanup_register(cmd->pool, requirement, [](void* p) -> apr_status_t {
        delete static_cast<AttributeRequirement*>(p);
        return APR_SUCCESS;
    }, apr_pool_cleanup_null);
    if (args.size() < 2) return "Require saml-attribute NAME VALUE... (or NAME ~ REGEX...)";
    requirement->name = args[0];
    std::size_t first = 1;
    if (args[1] == "~") {
        requirement->regex = true;
        first = 2;
        if (args.size() < 3) return "Require saml-attribute NAME ~ REGEX... needs a regular expression";
    }
    for (std::size_t i = first; i < args.size(); ++i) {
        if (requirement->regex) {
            ap_regex_t* pattern = ap_pregcomp(cmd->pool, args[i].c_str(), AP_REG_EXTENDED);
            if (pattern == nullptr)
                return apr_psprintf(cmd->pool, "Require saml-attribute: '%s' is not a valid regular expression", args[i].c_str());
            requirement->patterns.push_back(pattern);
        } else {
            requirement->values.push_back(args[i]);
        }
    }
    *parsed = requirement;
    return nullptr;
}

const authz_provider saml_user_provider = {&check_saml_user, &parse_saml_user};
const authz_provider saml_attribute_provider = {&check_saml_attribute, &parse_saml_attribute};

}  // namespace

void register_authz_providers(apr_pool_t* pool) {
    ap_register_auth_provider(pool, AUTHZ_PROVIDER_GROUP, "saml-user", AUTHZ_PROVIDER_VERSION, &saml_user_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(pool, AUTHZ_PROVIDER_GROUP, "saml-attribute", AUTHZ_PROVIDER_VERSION,
                              &saml_attribute_provider, AP_AUTH_INTERNAL_PER_CONF);
}

}  // namespace saml_httpd
