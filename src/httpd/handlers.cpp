#include "handlers.hpp"

#include "artifact.hpp"
#include "authn_request.hpp"
#include "config.hpp"
#include "encoding.hpp"
#include "idp_chooser.hpp"
#include "idp_discovery.hpp"
#include "logout.hpp"
#include "request_origin.hpp"
#include "redirect_target.hpp"
#include "replay_cache.hpp"
#include "request.hpp"
#include "response.hpp"
#include "runtime.hpp"
#include "session_glue.hpp"
#include "stored_sessions.hpp"
#include "sp_metadata.hpp"
#include "status.hpp"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cstring>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

constexpr const char* kEndpoints[] = {"sso", "acs", "metadata", "logout", "sls", "session"};

Failure failure(int status, const char* title, std::string advice, saml::Error error, std::string idp = {}) {
    return Failure{status, title, std::move(advice), std::move(error), std::move(idp)};
}

saml::Error bad_request(const char* code, const char* rule, std::string detail) {
    return saml::Error{saml::ErrorKind::BadInput, code, rule, std::move(detail)};
}

int status_for(const saml::Error& error) {
    switch (error.kind) {
        case saml::ErrorKind::BadInput: return HTTP_BAD_REQUEST;
        case saml::ErrorKind::Rejected: return HTTP_FORBIDDEN;
        case saml::ErrorKind::Config: return HTTP_INTERNAL_SERVER_ERROR;
        case saml::ErrorKind::Internal: return HTTP_SERVICE_UNAVAILABLE;
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

int redirect(request_rec* r, const std::string& location) {
    apr_table_setn(r->headers_out, "Location", apr_pstrdup(r->pool, location.c_str()));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_SEE_OTHER;
}

// Sends an outgoing message: a redirect (HTTP-Redirect) or a self-submitting form (HTTP-POST).
int send_outgoing(request_rec* r, const saml::OutgoingRequest& message) {
    if (!message.redirect_url.empty()) return redirect(r, message.redirect_url);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(message.post_form_html.size()));
    if (!r->header_only) ap_rwrite(message.post_form_html.data(), static_cast<int>(message.post_form_html.size()), r);
    return OK;
}

bool truthy(const std::optional<std::string>& value) {
    return value && (*value == "1" || strcasecmp(value->c_str(), "true") == 0 || strcasecmp(value->c_str(), "on") == 0);
}

int method_not_allowed(request_rec* r, const char* endpoint, bool get, bool post) {
    r->allowed = (get ? AP_METHOD_BIT << M_GET : 0) | (post ? AP_METHOD_BIT << M_POST : 0);
    const char* allow = get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : "POST";
    apr_table_setn(r->headers_out, "Allow", allow);
    apr_table_setn(r->err_headers_out, "Allow", allow);
    const bool acs = std::strcmp(endpoint, "acs") == 0;
    return answer_failure(
        r, failure(HTTP_METHOD_NOT_ALLOWED, acs ? "Nothing to see here" : "Wrong method",
                   acs ? "This address receives your identity provider's answer after login. Open the page you "
                         "wanted instead."
                       : "This address does not take this kind of request. Open the page you wanted instead.",
                   bad_request(acs ? "SAML0830" : "SAML0823", endpoint,
                               std::string("the ") + endpoint + " endpoint does not take " + r->method + "; it takes " +
                                   allow)));
}

saml::RedirectPolicy redirect_policy(request_rec* r, const Runtime& rt) {
    saml::RedirectPolicy policy;
    const std::string base = public_base_url(r, rt);
    const auto scheme_end = base.find("://");
    policy.self_scheme = base.substr(0, scheme_end);
    policy.self_host = base.substr(scheme_end + 3);
    policy.allowed_hosts = rt.redirect_domains;
    return policy;
}

// --- sso ---------------------------------------------------------------------------------

// The last IdP this browser chose, so the chooser can put it first. Only a preference: it
// orders a list of configured IdPs and is never used to log in by itself.
constexpr const char* kLastIdpCookie = "saml_last_idp";
constexpr long kLastIdpSeconds = 180L * 24 * 3600;
// Marks our return URL at the discovery service: an answer without an IdP is then told apart
// from a first visit (which would send the browser to the service again, in a loop).
constexpr const char* kDiscoveryMarker = "discovered";
// The chooser lists this many IdPs at most; beyond, the user searches (docs/IDPS.md: several IdPs).
constexpr std::size_t kChooserMaxListed = 100;

std::string remembered_idp(request_rec* r) {
    const auto value = request_cookie(r, kLastIdpCookie);
    if (!value || value->size() > 2048) return {};
    auto decoded = saml::guarded([&] { return saml::base64url_decode(*value, 1536, "last IdP cookie"); });
    return decoded ? decoded.value() : std::string();
}

void remember_idp(request_rec* r, const Runtime& rt, const std::string& entity_id) {
    CookieOptions options;
    options.path = rt.endpoint_path.empty() ? "/" : rt.endpoint_path.c_str();
    options.same_site = "Lax";  // sent when a link from another site starts the login
    options.secure = public_base_url(r, rt).rfind("https://", 0) == 0;
    options.max_age = kLastIdpSeconds;
    set_cookie(r, kLastIdpCookie, saml::base64url_encode(entity_id), options);
}

int send_chooser(request_rec* r, const Runtime& rt, const saml::IdpRegistry& idps, const std::string& return_to,
                 bool force_authn, bool is_passive, const std::string& query) {
    const std::vector<saml::ChooserIdp> listed = saml::chooser_idps(idps);
    saml::ChooserRequest request;
    request.idps = &listed;
    request.sso_path = rt.endpoint_url("", "sso");
    request.return_to = return_to;
    request.force_authn = force_authn;
    request.is_passive = is_passive;
    request.remembered = remembered_idp(r);
    request.query = query;
    request.max_listed = kChooserMaxListed;
    const std::string html = saml::render_idp_chooser(request);
    static const std::string csp = saml::idp_chooser_csp();
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Content-Security-Policy", csp.c_str());
    apr_table_setn(r->headers_out, "Referrer-Policy", "same-origin");
    ap_set_content_length(r, static_cast<apr_off_t>(html.size()));
    if (!r->header_only) ap_rwrite(html.data(), static_cast<int>(html.size()), r);
    return OK;
}

// SAML IdP Discovery Protocol: the service sends the browser back to our sso URL, which keeps
// the ReturnTo, with the chosen entityID as ?idp= (returnIDParam).
int send_to_discovery(request_rec* r, const Runtime& rt, const std::string& return_to, const std::string& login_options) {
    const std::string return_url = rt.endpoint_url(public_base_url(r, rt), "sso") + "?ReturnTo=" +
                                   saml::url_encode(return_to) + login_options + "&" + kDiscoveryMarker + "=1";
    return redirect(r, saml::discovery_request_url(rt.discovery_url, rt.sp.entity_id, return_url, "idp"));
}

int handle_sso(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    if (r->method_number != M_GET) return method_not_allowed(r, "sso", true, false);
    const auto query = parse_query(r->args);
    saml::Error error;
    const auto return_to = checked_return_to(r, rt, field(query, "ReturnTo").value_or("/"), &error);
    if (!return_to)
        return answer_failure(r, failure(HTTP_BAD_REQUEST, "Login not started",
                                         "The address to return to after login is not allowed here. Start again "
                                         "from the page you wanted to open.", error));
    const saml::IdpRegistry& idps = idps_for(r, rt);
    // "IdP" is mod_auth_mellon's spelling of the parameter (SAMLEndpointNames mellon).
    std::string chosen = field(query, "idp").value_or(rt.mellon_names ? field(query, "IdP").value_or("") : "");
    const bool from_discovery = field(query, kDiscoveryMarker).has_value();
    const bool force_authn = truthy(field(query, "ForceAuthn")), is_passive = truthy(field(query, "IsPassive"));
    // What the login asked for survives the detour through the chooser or the discovery service.
    const std::string login_options = std::string(force_authn ? "&ForceAuthn=1" : "") + (is_passive ? "&IsPassive=1" : "");
    if (chosen.empty()) {
        if (from_discovery)
            return answer_failure(r, failure(HTTP_BAD_REQUEST, "No identity provider chosen",
                                             "The service that asks where you log in came back without a choice. "
                                             "Go back to the page you wanted and choose your organisation.",
                                             bad_request("SAML0824", "idp",
                                                         "the discovery service answered without an IdP")));
        if (const std::string default_idp = default_idp_for(r, rt); !default_idp.empty()) {
            chosen = default_idp;
        } else if (!rt.discovery_url.empty()) {
            return send_to_discovery(r, rt, *return_to, login_options);
        } else {
            return send_chooser(r, rt, idps, *return_to, force_authn, is_passive, field(query, "q").value_or(""));
        }
    } else if (!idps.find(chosen)) {
        const std::string unusable = idps.unusable_reason(chosen);
        if (!unusable.empty())
            return answer_failure(r, failure(HTTP_BAD_REQUEST, "Identity provider unavailable",
                                             "This site cannot use that identity provider right now. Try again later "
                                             "or tell the site's administrators.",
                                             bad_request("SAML0936", "metadata-changed", unusable), chosen.substr(0, 1024)));
        return answer_failure(r, failure(HTTP_BAD_REQUEST, "Unknown identity provider",
                                         from_discovery
                                             ? "The identity provider chosen for you is not one this site trusts. Go "
                                               "back to the page you wanted and choose another one."
                                             : "This site does not know that identity provider. Use the site's own "
                                               "login link.",
                                         bad_request("SAML0821", "idp",
                                                     "'" + chosen.substr(0, 1024) + "' is not a configured IdP" +
                                                         (from_discovery ? " (the discovery service's answer)" : "")),
                                         chosen.substr(0, 1024)));
    } else if (idps.size() > 1) {
        remember_idp(r, rt, chosen);
    }
    return start_login(r, rt, dir, chosen, *return_to, force_authn || flag_or(dir->force_authn, false), is_passive);
}

// --- acs ---------------------------------------------------------------------------------

// What the person at the browser is told when the IdP's answer is refused. The causes a
// person meets most (no login in progress in this browser, an answer used twice, a portal's tile
// that posts a login nobody asked for) get their own words; the log line has the precise rule.
std::string acs_advice(request_rec* r, const Runtime& rt, const saml::Error& error) {
    if (error.kind == saml::ErrorKind::Internal) return "The site cannot complete logins right now. Try again in a minute.";
    if (error.code == "SAML0239") {
        // An access portal's tile (AWS IAM Identity Center, Okta, Microsoft My Apps) posts a
        // Response without a request when the application has no start URL: say where to fix it.
        const std::string sso_url = rt.endpoint_url(public_base_url(r, rt), "sso");
        return "Your identity provider sent a login this site did not ask for, as an application tile in an "
               "access portal does when the application has no start URL; this site takes only logins it "
               "started. To log in now, open " + sso_url + " . The site's administrator changes one of two "
               "things: at the identity provider, set the application's start URL (AWS IAM Identity Center: "
               "Application start URL; Microsoft Entra ID: Sign on URL; Okta: a Bookmark App tile) to " +
               sso_url + " ; or on this site, SAMLAllowUnsolicited On.";
    }
    if (error.code == "SAML0238")
        return "This browser has no login in progress that matches the answer: the login was started in another "
               "browser, more than ten minutes ago, or this site's cookies are blocked. Open the page you wanted "
               "again to start a new login.";
    if (error.rule == "legacy-algorithm")
        return "Your identity provider encrypted its answer with a legacy algorithm this site refuses. The site's "
               "administrator either has the identity provider encrypt with AES-GCM and RSA-OAEP, or accepts the "
               "legacy algorithm with " + std::string(error.code == "SAML0262" ? "SAMLAllowRSA15 On" : "SAMLAllowTripleDES On") +
               " (the error log names it).";
    if (error.code == "SAML0258")
        return "This login answer was already used once (sent again by the Back button or a reload). Open the page "
               "you wanted again; you are probably logged in already.";
    return "Your identity provider's answer could not be accepted. Go back to the page you wanted and log in again; "
           "if that fails too, contact the site's administrator.";
}

// The Response a SAMLart stands for, fetched from the IdP over the back channel (the Artifact
// binding); a failure there is the IdP's resolver's fault, told apart as 502/504.
saml::Result<saml::ResolvedArtifact> resolve(request_rec* r, const Runtime& rt, const saml::SpSettings& sp,
                                             const std::string& saml_art, Failure* failure) {
    const saml::IdpRegistry& idps = idps_for(r, rt);
    auto resolved = saml::resolve_artifact(saml_art, sp, idps, rt.policy, rt.artifact, saml::Clock::now());
    if (resolved) return resolved;
    const auto& error = resolved.error();
    const auto artifact = saml::parse_artifact(saml_art, idps);  // for the log line: whose resolver
    std::string idp = artifact ? artifact.value().idp->entity_id : std::string();
    if (saml::is_back_channel_failure(error))
        *failure = Failure{saml::is_back_channel_timeout(error) ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                           "Login could not be completed",
                           "Your identity provider could not be asked for your login. Try again in a minute; if "
                           "it keeps failing, tell the site's administrator.",
                           error, idp};
    else
        *failure = Failure{status_for(error), "Login failed", acs_advice(r, rt, error), error, idp};
    return resolved;
}

int handle_acs(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    // GET carries a SAMLart in the query (Artifact binding); POST a SAMLResponse or a SAMLart.
    const bool artifact_on = rt.artifact_binding != Runtime::ArtifactBinding::Off;
    std::vector<std::pair<std::string, std::string>> fields;
    if (r->method_number == M_GET && artifact_on) {
        fields = parse_query(r->args);
    } else if (r->method_number == M_POST) {
        const std::size_t limit = rt.policy.xml_limits.max_bytes / 3 * 4 + 16384;  // base64 + RelayState + slack
        int status = 0;
        std::string why;
        auto form = read_form(r, limit, &status, &why);
        if (!form)
            return answer_failure(r, failure(status, "Login failed", "The login answer could not be read. Log in again.",
                                             bad_request("SAML0831", "acs", why)));
        fields = std::move(*form);
    } else {
        return method_not_allowed(r, "acs", artifact_on, true);
    }
    // A Response comes only by POST (HTTP-POST binding): in a GET query it would sit in URLs,
    // logs and Referer headers. A GET here carries a SAMLart or nothing we take.
    const auto saml_response =
        r->method_number == M_POST ? field(fields, "SAMLResponse") : std::optional<std::string>();
    const auto saml_art = field(fields, "SAMLart");
    if (saml_response && saml_art)
        return answer_failure(r, failure(HTTP_BAD_REQUEST, "Login failed", "The login answer is malformed. Log in again.",
                                         bad_request("SAML0972", "acs", "both SAMLResponse and SAMLart were sent")));
    if (saml_art && !artifact_on)
        return answer_failure(r, failure(HTTP_BAD_REQUEST, "Login failed",
                                         "This site takes the login answer only by HTTP-POST. The site's "
                                         "administrator has to check the identity provider's settings.",
                                         bad_request("SAML0971", "acs", "a SAMLart was sent and SAMLArtifactBinding is Off")));
    if (!saml_art && (!saml_response || saml_response->empty()))
        return answer_failure(r, failure(HTTP_BAD_REQUEST, "Login failed",
                                         "The login answer is missing. Log in again from the page you wanted.",
                                         bad_request("SAML0832", "acs",
                                                     artifact_on ? "no SAMLResponse or SAMLart" : "no SAMLResponse in the form")));

    const auto states = read_states(r, rt, kLoginStatePrefix);
    saml::ResponseInput input;
    if (saml_response) input.saml_response = *saml_response;
    for (const auto& state : states) {
        input.pending_request_ids.push_back(state.request_id);
        input.request_idps[state.request_id] = state.idp_entity_id;
    }
    input.now = saml::Clock::now();
    input.user_attribute = dir->user_attribute ? dir->user_attribute : "";
    const saml::SpSettings sp = rt.sp_for(public_base_url(r, rt));
    const saml::ResponseValidator validator(sp, rt.policy, idps_for(r, rt));
    SocacheReplayCache replay(r);

    // The same validator either way; an artifact first becomes the Response it stands for.
    std::optional<saml::ResolvedArtifact> resolved;
    std::optional<saml::ResponseEnvelope> envelope;
    if (saml_art && states.empty() && !rt.policy.allow_unsolicited)
        // Its Response could only be refused (no request of ours to answer): do not make the
        // IdP's resolver, and our signing key, work for a link anyone can send.
        return answer_failure(r, failure(HTTP_FORBIDDEN, "Login failed",
                                         "No login was started from this browser. Open the page you wanted and log "
                                         "in from there.",
                                         saml::Error{saml::ErrorKind::Rejected, "SAML0975", "artifact",
                                                     "a SAMLart came with no login in progress in this browser and "
                                                     "SAMLAllowUnsolicited is off; not resolved"}));
    if (saml_art) {
        Failure refused{};
        auto result = resolve(r, rt, sp, *saml_art, &refused);
        if (!result) {
            count(Counter::logins_refused);
            return answer_failure(r, refused);
        }
        resolved = std::move(result).value();
        envelope = saml::ResponseEnvelope{resolved->idp_entity_id, resolved->envelope_signed};
    }
    const auto validate = [&](saml::ReplayCache* cache) {
        return resolved ? validator.validate_xml(resolved->response_xml, input, cache, &*envelope)
                        : validator.validate(input, cache);
    };
    auto login = validate(&replay);
    if (!login && login.error().code == "SAML0259" && rt.replay_failure_allows) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "SAML0833 replay cache unavailable; accepting the login as SAMLReplayCacheFailure allow says");
        login = validate(nullptr);
    }
    if (!login) {
        count(Counter::logins_refused);
        const auto& error = login.error();
        return answer_failure(r, failure(status_for(error), "Login failed", acs_advice(r, rt, error), error,
                                         resolved ? resolved->idp_entity_id : std::string()));
    }

    for (const auto& notice : login.value().notices) ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "%s", notice.c_str());

    const auto now = saml::Clock::now();
    const saml::Session session = saml::Session::from_login(
        login.value(), now, std::chrono::seconds(or_default(dir->session_max_age, defaults::session_max_age)));
    if (const std::string problem = write_session(r, rt, dir, session); !problem.empty()) {
        count(Counter::logins_refused);
        if (session_store_failed(r)) {
            count(Counter::session_store_unavailable);
            return answer_failure(r, failure(HTTP_SERVICE_UNAVAILABLE, "Login failed",
                                             "The site cannot keep sessions right now. Try again in a minute.",
                                             saml::Error{saml::ErrorKind::Internal, "SAML0815", "session-store", problem},
                                             login.value().idp_entity_id));
        }
        // Cookie mode only: a stored session's size is the cache's, not the browser's, business.
        return answer_failure(r, failure(HTTP_FORBIDDEN, "Login failed",
                                         "Your account carries more information than this site can keep in a "
                                         "session cookie. The site's administrator has to fix this (SAMLSessionStore "
                                         "cache keeps sessions on the server).",
                                         saml::Error{saml::ErrorKind::Config, "SAML0834", "session-size",
                                                     problem + "; or keep sessions on the server: SAMLSessionStore cache"},
                                         login.value().idp_entity_id));
    }
    count(Counter::logins);

    std::string target = "/";
    if (!login.value().in_response_to.empty()) {
        for (const auto& state : states)
            if (state.request_id == login.value().in_response_to) {
                target = state.return_to;
                clear_state(r, dir, kLoginStatePrefix, state.request_id);
            }
    } else if (const auto relay_state = field(fields, "RelayState"); relay_state && !relay_state->empty()) {
        // An unsolicited login keeps its session; a RelayState that is no safe target is dropped, and said so.
        saml::Error refused;
        if (auto checked = checked_return_to(r, rt, *relay_state, &refused))
            target = *checked;
        else
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "SAML0836 RelayState ignored, going to /: %s",
                          refused.message().c_str());
    }
    // The SessionIndex is what pages show (SAML_SESSION_INDEX) and the IdP logs too: one id to
    // follow a user's session from the page through both logs.
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "SAML0835 login of %s from %s [session %s]", login.value().user.c_str(),
                  login.value().idp_entity_id.c_str(),
                  login.value().session_index.empty() ? "-" : login.value().session_index.c_str());
    return redirect(r, target);
}

// --- metadata ----------------------------------------------------------------------------

namespace {
constexpr std::size_t kServedMetadataKept = 8;

int send_metadata(request_rec* r, const std::string& xml) {
    ap_set_content_type(r, "application/samlmetadata+xml");
    ap_set_content_length(r, static_cast<apr_off_t>(xml.size()));
    if (!r->header_only) ap_rwrite(xml.data(), static_cast<int>(xml.size()), r);
    return OK;
}

std::optional<std::string> served_metadata_for(const Runtime& rt, const std::string& base_url) {
    std::lock_guard<std::mutex> lock(rt.served_metadata->mutex);
    for (const auto& [url, xml] : rt.served_metadata->by_base_url)
        if (url == base_url) return xml;
    return std::nullopt;
}

void keep_served_metadata(const Runtime& rt, const std::string& base_url, const std::string& xml) {
    std::lock_guard<std::mutex> lock(rt.served_metadata->mutex);
    auto& kept = rt.served_metadata->by_base_url;
    if (kept.size() >= kServedMetadataKept) kept.erase(kept.begin());
    kept.emplace_back(base_url, xml);
}
}  // namespace

int handle_metadata(request_rec* r, const Runtime& rt) {
    if (r->method_number != M_GET) return method_not_allowed(r, "metadata", true, false);
    const std::string base_url = public_base_url(r, rt);
    // The document depends on the configuration (fixed for this process) and the base URL only.
    if (auto kept = served_metadata_for(rt, base_url)) return send_metadata(r, *kept);
    saml::SpMetadataOptions options;
    options.authn_requests_signed = rt.sign_authn_requests;
    options.want_assertions_signed = rt.policy.want_assertions_signed;
    if (!rt.discovery_url.empty()) options.discovery_response_url = rt.endpoint_url(public_base_url(r, rt), "sso");
    options.artifact_acs = rt.artifact_binding != Runtime::ArtifactBinding::Off;
    options.soap_logout = rt.sessions_in_cache;  // only a server-side store can end a session without the browser
    options.sign = rt.sign_metadata;  // SAMLSPMetadataSigned, On by default
    auto xml = saml::generate_sp_metadata(rt.sp_for(base_url), options);
    if (!xml)
        return answer_failure(r, failure(HTTP_INTERNAL_SERVER_ERROR, "Metadata unavailable",
                                         "The SP metadata cannot be generated; the error log says why.", xml.error()));
    keep_served_metadata(rt, base_url, xml.value());
    return send_metadata(r, xml.value());
}

// --- logout ------------------------------------------------------------------------------

namespace {

// This browser's session ends; with SAMLSessionStore cache, for every copy of its cookie too.
void end_session_here(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    if (!clear_session(r, rt, dir))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "SAML0817 the session store did not answer: this browser is logged out, but a copy of its "
                      "session cookie stays valid until the session expires");
}

// A LogoutRequest ends every session of its NameID (only those of its SessionIndexes, if any).
int end_subject_everywhere(request_rec* r, const Runtime& rt, const saml::IncomingLogoutRequest& request) {
    const int ended = end_subject_sessions(r, rt, request.issuer, request.name_id.value, request.session_indexes);
    if (ended < 0)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "SAML0818 the session store did not answer: LogoutRequest %s from %s ended no stored session",
                      request.id.c_str(), request.issuer.c_str());
    else
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "SAML0819 LogoutRequest %s from %s ended %d stored session(s)",
                      request.id.c_str(), request.issuer.c_str(), ended);
    return ended;
}

constexpr const char* kConfirmationField = "confirmation";
constexpr std::size_t kConfirmationFormLimit = 4096;

std::optional<std::string_view> header_in(request_rec* r, const char* name) {
    const char* value = apr_table_get(r->headers_in, name);
    return value ? std::optional<std::string_view>(value) : std::nullopt;
}

saml::RequestOrigin request_origin(request_rec* r, const Runtime& rt) {
    return saml::classify_request_origin(
        {header_in(r, "Sec-Fetch-Site"), header_in(r, "Origin"), header_in(r, "Referer")}, redirect_policy(r, rt));
}

// A logout from this site, or confirmed on our own page. Any site can make a browser send a GET
// (an <img> suffices), so a request from elsewhere only ends the session through the form.
bool logout_intended(request_rec* r, const Runtime& rt, const saml::Session& session) {
    const saml::RequestOrigin origin = request_origin(r, rt);
    if (origin.source == saml::RequestSource::trusted) return true;
    if (r->method_number == M_POST) {
        int status = 0;
        std::string why;
        const auto form = read_form(r, kConfirmationFormLimit, &status, &why);
        const auto token = form ? field(*form, kConfirmationField) : std::nullopt;
        if (token && saml::logout_confirmation_token_valid(*rt.sealer, session, *token)) return true;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "SAML0846 logout of %s asked for from %s (%s): the session is kept and the user asked to confirm; "
                  "list a site of yours in SAMLRedirectDomains to let its logout links through",
                  session.user.c_str(), origin.source == saml::RequestSource::unknown ? "an unknown page" : "another site",
                  origin.evidence.c_str());
    return false;
}

int ask_to_confirm_logout(request_rec* r, const Runtime& rt, const saml::Session& session) {
    auto token = saml::logout_confirmation_token(*rt.sealer, session);
    if (!token)
        return answer_failure(r, failure(HTTP_INTERNAL_SERVER_ERROR, "Logout not started",
                                         "The logout could not be prepared; the error log says why.", token.error()));
    std::string action = rt.endpoint_url("", "logout");
    if (r->args != nullptr && *r->args != '\0') action += std::string("?") + r->args;
    const std::string body =
        "<p id=\"what\">Another page asked to log you out of this site.</p>\n"
        "<form method=\"post\" action=\"" + saml::xml_escape(action) + "\">"
        "<input type=\"hidden\" name=\"" + kConfirmationField + "\" value=\"" + saml::xml_escape(token.value()) + "\">"
        "<button type=\"submit\">Log out</button></form>\n"
        "<p id=\"advice\">If you did not mean to log out, close this page: you stay logged in.</p>";
    return send_html(r, HTTP_OK, "Log out?", body);
}

}  // namespace

int handle_logout(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    if (r->method_number != M_GET && r->method_number != M_POST) return method_not_allowed(r, "logout", true, true);
    const auto query = parse_query(r->args);
    saml::Error error;
    // Without a ReturnTo the user ends on our logged-out page (an empty target in the state).
    const bool has_return_to = field(query, "ReturnTo").has_value();
    const auto return_to = checked_return_to(r, rt, field(query, "ReturnTo").value_or("/"), &error);
    if (!return_to)
        return answer_failure(r, failure(HTTP_BAD_REQUEST, "Logout not started",
                                         "The address to return to after logout is not allowed here.", error));
    const saml::Session* session = current_session(r, rt, dir);
    if (session && !logout_intended(r, rt, *session)) return ask_to_confirm_logout(r, rt, *session);
    std::optional<saml::Session> ended;
    if (session) ended = *session;
    end_session_here(r, rt, dir);
    if (ended) count(Counter::logouts);
    auto finish_here = [&]() {
        return has_return_to ? redirect(r, *return_to) : send_logged_out(r, ended ? ended->user : "", false);
    };
    if (!ended || truthy(field(query, "local"))) return finish_here();

    const auto idp = idps_for(r, rt).find(ended->idp_entity_id);
    const saml::Endpoint* slo = nullptr;
    if (idp) {
        slo = idp->find_endpoint(idp->single_logout, saml::binding::redirect);
        if (!slo) slo = idp->find_endpoint(idp->single_logout, saml::binding::post);
    }
    if (!slo) return finish_here();  // the IdP offers no Single Logout: local logout only
    const saml::SpSettings sp = rt.sp_for(public_base_url(r, rt));
    auto request = saml::build_logout_request(sp, *slo, ended->name_id, ended->session_index, "", true,
                                              saml::Clock::now());
    if (!request)
        return answer_failure(r, failure(HTTP_INTERNAL_SERVER_ERROR, "Logged out here only",
                                         "You are logged out of this site, but the identity provider could not be told.",
                                         request.error(), ended->idp_entity_id));
    write_state(r, rt, dir, kLogoutStatePrefix,
                {request.value().id, has_return_to ? *return_to : std::string(), ended->idp_entity_id, saml::Clock::now()});
    return send_outgoing(r, request.value());
}

// --- sls ---------------------------------------------------------------------------------

namespace {

bool is_soap_request(request_rec* r) {
    const char* type = apr_table_get(r->headers_in, "Content-Type");
    return r->method_number == M_POST &&
           ((type != nullptr && (strncasecmp(type, "text/xml", 8) == 0 || strncasecmp(type, "application/soap+xml", 20) == 0)) ||
            apr_table_get(r->headers_in, "SOAPAction") != nullptr);
}

// A LogoutRequest on the SOAP binding, from the IdP itself (Shibboleth IdP, AD FS): no browser,
// so no cookie; it ends the subject's sessions in the store, or says it cannot (cookie mode).
int handle_soap_logout(request_rec* r, const Runtime& rt) {
    int status = 0;
    std::string why;
    const auto body = read_body(r, rt.policy.xml_limits.max_bytes + 16 * 1024, &status, &why);
    if (!body)
        return answer_soap_failure(r, failure(status, "Logout failed", "", bad_request("SAML0841", "sls", why)));
    saml::IncomingMessage message;
    message.binding = saml::IncomingMessage::Binding::Soap;
    message.data = *body;
    const saml::SpSettings sp = rt.sp_for(public_base_url(r, rt));
    const auto now = saml::Clock::now();
    SocacheReplayCache replay(r);
    auto request = saml::validate_logout_request(message, idps_for(r, rt), sp, rt.policy, now, &replay);
    if (!request) return answer_soap_failure(r, failure(status_for(request.error()), "Logout failed", "", request.error()));
    if (request.value().replay_unchecked)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "SAML0845 replay cache unavailable; LogoutRequest %s from %s accepted unchecked (a logout only ends sessions)",
                      request.value().id.c_str(), request.value().issuer.c_str());
    std::string status_code, status_message;
    if (!rt.sessions_in_cache) {
        status_code = saml::status::partial_logout;
        status_message = "this SP keeps sessions in the browser's cookie (SAMLSessionStore cookie) and cannot end them "
                         "without the browser";
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "SAML0847 back-channel LogoutRequest %s from %s answered PartialLogout: sessions live in cookies "
                      "here; SAMLSessionStore cache lets the IdP end them",
                      request.value().id.c_str(), request.value().issuer.c_str());
    } else {
        const int ended = end_subject_everywhere(r, rt, request.value());
        if (ended < 0) {
            status_code = saml::status::partial_logout;
            status_message = "the session store did not answer";
        }
        for (int i = 0; i < ended; ++i) count(Counter::logouts);
    }
    auto answer = saml::build_soap_logout_response(sp, request.value().id, status_code, status_message, now);
    if (!answer)
        return answer_soap_failure(r, failure(HTTP_INTERNAL_SERVER_ERROR, "Logout failed", "", answer.error(),
                                              request.value().issuer));
    ap_set_content_type(r, "text/xml; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(answer.value().size()));
    if (!r->header_only) ap_rwrite(answer.value().data(), static_cast<int>(answer.value().size()), r);
    return OK;
}

}  // namespace

int handle_sls(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    if (is_soap_request(r)) return handle_soap_logout(r, rt);
    saml::IncomingMessage message;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string post_data, post_relay;
    bool is_request = false;
    if (r->method_number == M_GET) {
        const auto query = parse_query(r->args);
        is_request = field(query, "SAMLRequest").has_value();
        if (!is_request && !field(query, "SAMLResponse"))
            return answer_failure(r, failure(HTTP_BAD_REQUEST, "Logout failed", "No logout message was received.",
                                             bad_request("SAML0840", "sls", "neither SAMLRequest nor SAMLResponse")));
        message.binding = saml::IncomingMessage::Binding::Redirect;
        message.data = r->args;  // the exact octets: the signature covers them
    } else if (r->method_number == M_POST) {
        int status = 0;
        std::string why;
        auto form = read_form(r, rt.policy.xml_limits.max_bytes / 3 * 4 + 16384, &status, &why);
        if (!form)
            return answer_failure(r, failure(status, "Logout failed", "The logout message could not be read.",
                                             bad_request("SAML0841", "sls", why)));
        is_request = field(*form, "SAMLRequest").has_value();
        post_data = field(*form, is_request ? "SAMLRequest" : "SAMLResponse").value_or("");
        post_relay = field(*form, "RelayState").value_or("");
        message.binding = saml::IncomingMessage::Binding::Post;
        message.data = post_data;
        message.relay_state = post_relay;
    } else {
        return method_not_allowed(r, "sls", true, true);
    }
    const saml::SpSettings sp = rt.sp_for(public_base_url(r, rt));
    const auto now = saml::Clock::now();

    if (!is_request) {
        // The IdP's answer to our LogoutRequest: find which pending logout it answers.
        saml::Error last{saml::ErrorKind::Rejected, "SAML0842", "sls", "no logout is in progress in this browser"};
        for (const auto& state : read_states(r, rt, kLogoutStatePrefix)) {
            auto response = saml::validate_logout_response(message, idps_for(r, rt), sp, rt.policy, state.request_id, now);
            if (!response) {
                last = response.error();
                continue;
            }
            clear_state(r, dir, kLogoutStatePrefix, state.request_id);
            end_session_here(r, rt, dir);
            if (!response.value().success)
                ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "SAML0843 the IdP reports logout status %s",
                              response.value().status_code.c_str());
            if (state.return_to.empty()) return send_logged_out(r, "", true);
            return redirect(r, state.return_to);
        }
        return answer_failure(r, failure(status_for(last), "Logout not confirmed",
                                         "You are logged out of this site; the identity provider's confirmation could "
                                         "not be accepted.", last));
    }

    // IdP-initiated logout: end the session here if it is the one named, then answer the IdP.
    SocacheReplayCache replay(r);
    auto request = saml::validate_logout_request(message, idps_for(r, rt), sp, rt.policy, now, &replay);
    if (!request)
        return answer_failure(r, failure(status_for(request.error()), "Logout failed",
                                         "The logout request could not be accepted.", request.error()));
    if (request.value().replay_unchecked)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "SAML0845 replay cache unavailable; LogoutRequest %s from %s accepted unchecked (a logout only ends sessions)",
                      request.value().id.c_str(), request.value().issuer.c_str());
    const saml::Session* session = current_session(r, rt, dir);
    std::string ended_user;  // copied: clear_session drops the cached session
    if (session && session->idp_entity_id == request.value().issuer && session->name_id.value == request.value().name_id.value) {
        ended_user = session->user;
        end_session_here(r, rt, dir);
        count(Counter::logouts);
    }
    // With the sessions on the server, the subject's sessions in other browsers end too.
    if (rt.sessions_in_cache) end_subject_everywhere(r, rt, request.value());
    const auto idp = idps_for(r, rt).find(request.value().issuer);
    const saml::Endpoint* slo = idp->find_endpoint(idp->single_logout, saml::binding::redirect);
    if (!slo) slo = idp->find_endpoint(idp->single_logout, saml::binding::post);
    if (!slo) return send_logged_out(r, ended_user, false);
    auto answer = saml::build_logout_response(sp, *slo, request.value().id, "", request.value().relay_state, true, now);
    if (!answer)
        return answer_failure(r, failure(HTTP_INTERNAL_SERVER_ERROR, "Logged out here only",
                                         "You are logged out of this site, but the identity provider could not be told.",
                                         answer.error(), request.value().issuer));
    return send_outgoing(r, answer.value());
}

// --- session (JSON for front ends) -----------------------------------------------------------

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buffer[8];
                    std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
                    out += buffer;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

int handle_session(request_rec* r, const Runtime& rt, const DirConfig* dir) {
    if (r->method_number != M_GET) return method_not_allowed(r, "session", true, false);
    const saml::Session* session = current_session(r, rt, dir);
    std::string json;
    if (session == nullptr) {
        r->status = HTTP_UNAUTHORIZED;
        json = "{\"authenticated\":false}\n";
    } else {
        json = "{\"authenticated\":true,\"user\":" + json_string(session->user) +
               ",\"idp\":" + json_string(session->idp_entity_id) + ",\"name_id\":" + json_string(session->name_id.value) +
               ",\"name_id_format\":" + json_string(session->name_id.format) +
               ",\"authn_instant\":" + json_string(saml::format_datetime(session->authn_instant)) +
               ",\"expires\":" + json_string(saml::format_datetime(session->expires_at)) + ",\"attributes\":{";
        for (std::size_t i = 0; i < session->attributes.size(); ++i) {
            const auto& attribute = session->attributes[i];
            if (i) json += ',';
            json += json_string(attribute_variable(dir, attribute)) + ":[";
            for (std::size_t v = 0; v < attribute.values.size(); ++v) json += (v ? "," : "") + json_string(attribute.values[v]);
            json += ']';
        }
        json += "}}\n";
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(json.size()));
    if (!r->header_only) ap_rwrite(json.data(), static_cast<int>(json.size()), r);
    return OK;
}

}  // namespace

std::optional<std::string> checked_return_to(request_rec* r, const Runtime& rt, const std::string& target,
                                             saml::Error* error) {
    auto checked = saml::check_redirect_target(target, redirect_policy(r, rt));
    if (!checked) {
        *error = checked.error();
        return std::nullopt;
    }
    return checked.value();
}

// 405 with the Allow header RFC 9110 requires, our page and one log line. httpd adds Allow
// (from r->allowed) only on its own error path, which a handler that writes its page never takes.
std::optional<std::string> endpoint_of(const request_rec* r, const Runtime& rt) {
    if (r->uri == nullptr) return std::nullopt;
    std::string_view uri = r->uri;
    if (uri.compare(0, rt.endpoint_path.size(), rt.endpoint_path) != 0) return std::nullopt;
    uri.remove_prefix(rt.endpoint_path.size());
    if (uri.empty() || uri.front() != '/') return std::nullopt;
    uri.remove_prefix(1);
    if (!uri.empty() && uri.back() == '/') uri.remove_suffix(1);
    if (rt.mellon_names) {
        // mod_auth_mellon's names; its one logout URL takes both the user's logout and the
        // IdP's logout messages, told apart by the SAML parameter they carry.
        if (uri == "login") return std::string("sso");
        if (uri == "postResponse") return std::string("acs");
        if (uri == "logout") {
            const bool saml_message = r->method_number == M_POST ||
                                      (r->args && (std::strstr(r->args, "SAMLRequest=") || std::strstr(r->args, "SAMLResponse=")));
            return std::string(saml_message ? "sls" : "logout");
        }
    }
    for (const char* name : kEndpoints)
        if (uri == name) return std::string(name);
    return std::nullopt;
}

int start_login(request_rec* r, const Runtime& rt, const DirConfig* dir, const std::string& idp_entity_id,
                const std::string& return_to, bool force_authn, bool is_passive) {
    const auto idp = idps_for(r, rt).find(idp_entity_id);
    const saml::Endpoint* sso = idp ? idp->find_endpoint(idp->single_sign_on, saml::binding::redirect) : nullptr;
    if (idp && !sso) sso = idp->find_endpoint(idp->single_sign_on, saml::binding::post);
    if (!sso)
        return answer_failure(r, failure(HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                                         "The identity provider offers no usable login address; the site's "
                                         "administrator has to check its metadata.",
                                         saml::Error{saml::ErrorKind::Config, "SAML0822", "idp",
                                                     "no SingleSignOnService with the Redirect or POST binding"},
                                         idp_entity_id));
    saml::AuthnRequestOptions options;
    options.force_authn = force_authn;
    options.is_passive = is_passive;
    if (dir->name_id_format) options.name_id_format = dir->name_id_format;
    if (dir->authn_context_class_refs) {
        const auto* refs = reinterpret_cast<const char* const*>(dir->authn_context_class_refs->elts);
        for (int i = 0; i < dir->authn_context_class_refs->nelts; ++i) options.authn_context_class_refs.emplace_back(refs[i]);
    }
    if (rt.artifact_binding == Runtime::ArtifactBinding::Prefer) options.protocol_binding = saml::binding::artifact;
    const saml::SpSettings sp = rt.sp_for(public_base_url(r, rt));
    auto request = saml::build_authn_request(sp, *sso, options, "", rt.sign_authn_requests, saml::Clock::now());
    if (!request)
        return answer_failure(r, failure(HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                                         "The login request could not be built; the error log says why.",
                                         request.error(), idp_entity_id));
    write_state(r, rt, dir, kLoginStatePrefix, {request.value().id, return_to, idp_entity_id, saml::Clock::now()});
    count(Counter::login_requests);
    return send_outgoing(r, request.value());
}

int handle_endpoint(request_rec* r) {
    if (r->main != nullptr) return DECLINED;
    const ServerConfig* conf = server_config(r->server);
    if (conf->runtime == nullptr) return DECLINED;
    const Runtime& rt = *conf->runtime;
    const auto endpoint = endpoint_of(r, rt);
    if (!endpoint) return DECLINED;
    const DirConfig* dir = dir_config(r);
    try {
        // A login is when an expired metadata file matters: say so once a day (SAML1101).
        if (*endpoint == "sso" || *endpoint == "acs") remind_metadata_expiry(r->server, rt);
        if (*endpoint == "sso") return handle_sso(r, rt, dir);
        if (*endpoint == "acs") return handle_acs(r, rt, dir);
        if (*endpoint == "metadata") return handle_metadata(r, rt);
        if (*endpoint == "logout") return handle_logout(r, rt, dir);
        if (*endpoint == "sls") return handle_sls(r, rt, dir);
        return handle_session(r, rt, dir);
    } catch (const std::exception& e) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SAML0899 internal error in the %s endpoint: %s", endpoint->c_str(), e.what());
        return HTTP_INTERNAL_SERVER_ERROR;
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SAML0899 internal error in the %s endpoint", endpoint->c_str());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace saml_httpd
