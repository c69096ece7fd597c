#include "request.hpp"

#include "config.hpp"
#include "crypto.hpp"
#include "encoding.hpp"
#include "soap.hpp"
#include "time.hpp"
#include "xml.hpp"
#include "runtime.hpp"
#include "status.hpp"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cstring>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

std::string public_base_url(request_rec* r, const Runtime& rt) {
    if (!rt.base_url.empty()) return rt.base_url;
    const char* scheme = ap_http_scheme(r);
    const apr_port_t port = ap_get_server_port(r);
    std::string url = std::string(scheme) + "://" + ap_get_server_name_for_url(r);
    if (!ap_is_default_port(port, r)) url += ":" + std::to_string(port);
    return url;
}

std::vector<std::pair<std::string_view, std::string_view>> request_cookie_views(request_rec* r) {
    std::vector<std::pair<std::string_view, std::string_view>> cookies;
    const apr_array_header_t* headers = apr_table_elts(r->headers_in);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(headers->elts);
    for (int i = 0; i < headers->nelts; ++i) {
        if (entries[i].key == nullptr || strcasecmp(entries[i].key, "Cookie") != 0 || entries[i].val == nullptr) continue;
        std::string_view header = entries[i].val;
        while (!header.empty() && cookies.size() < 200) {
            const std::size_t end = header.find(';');
            std::string_view pair = header.substr(0, end);
            header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
            while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
            while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
            const std::size_t eq = pair.find('=');
            if (eq == std::string_view::npos || eq == 0) continue;
            std::string_view value = pair.substr(eq + 1);
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
            cookies.emplace_back(pair.substr(0, eq), value);
        }
    }
    return cookies;
}

std::vector<std::pair<std::string, std::string>> request_cookies(request_rec* r) {
    std::vector<std::pair<std::string, std::string>> cookies;
    for (const auto& [name, value] : request_cookie_views(r)) cookies.emplace_back(name, value);
    return cookies;
}

std::optional<std::string> request_cookie(request_rec* r, std::string_view name) {
    // The first one wins, as in browsers' own ordering (most specific path first).
    for (const auto& cookie : request_cookie_views(r))
        if (cookie.first == name) return std::string(cookie.second);
    return std::nullopt;
}

void set_cookie(request_rec* r, std::string_view name, std::string_view value, const CookieOptions& options) {
    std::string header(name);
    header += '=';
    header += value;
    header += "; Path=";
    header += options.path;
    if (options.domain) (header += "; Domain=") += options.domain;
    if (options.max_age >= 0) {
        header += "; Max-Age=" + std::to_string(options.max_age);
        if (options.max_age == 0) header += "; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
    }
    header += "; HttpOnly";
    if (options.secure) header += "; Secure";
    if (options.same_site) (header += "; SameSite=") += options.same_site;
    // err_headers_out: cookies must survive redirects and error pages.
    apr_table_add(r->err_headers_out, "Set-Cookie", apr_pstrdup(r->pool, header.c_str()));
}

CookieOptions session_cookie_options(const DirConfig* dir) {
    CookieOptions options;
    options.path = or_default(dir->cookie_path, defaults::cookie_path);
    options.domain = dir->cookie_domain;
    options.same_site = or_default(dir->cookie_samesite, defaults::cookie_samesite);
    options.secure = flag_or(dir->cookie_secure, true);
    return options;
}

namespace {

std::vector<std::pair<std::string, std::string>> parse_urlencoded(std::string_view text, std::size_t max_fields) {
    std::vector<std::pair<std::string, std::string>> fields;
    while (!text.empty() && fields.size() < max_fields) {
        const std::size_t end = text.find('&');
        std::string_view pair = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (pair.empty()) continue;
        const std::size_t eq = pair.find('=');
        auto name = saml::guarded([&] { return saml::url_decode(pair.substr(0, eq), "form field name"); });
        auto value = saml::guarded([&] {
            return saml::url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), "form field");
        });
        if (!name || !value) continue;  // a malformed field is as good as absent
        fields.emplace_back(std::move(name).value(), std::move(value).value());
    }
    return fields;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_query(const char* args) {
    return args ? parse_urlencoded(args, 64) : std::vector<std::pair<std::string, std::string>>{};
}

std::optional<std::string> field(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name) {
    for (const auto& f : fields)
        if (f.first == name) return f.second;
    return std::nullopt;
}

std::optional<std::vector<std::pair<std::string, std::string>>> read_form(request_rec* r, std::size_t limit, int* status,
                                                                          std::string* why) {
    const char* type = apr_table_get(r->headers_in, "Content-Type");
    if (type == nullptr || strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0) {
        *status = HTTP_UNSUPPORTED_MEDIA_TYPE;
        *why = std::string("expected a form post (application/x-www-form-urlencoded), got ") + (type ? type : "no Content-Type");
        return std::nullopt;
    }
    auto body = read_body(r, limit, status, why);
    if (!body) return std::nullopt;
    return parse_urlencoded(*body, 64);
}

std::optional<std::string> read_body(request_rec* r, std::size_t limit, int* status, std::string* why) {
    const char* length = apr_table_get(r->headers_in, "Content-Length");
    if (length != nullptr && apr_atoi64(length) > static_cast<apr_int64_t>(limit)) {
        *status = HTTP_REQUEST_ENTITY_TOO_LARGE;
        *why = std::string("the body is ") + length + " bytes, the limit is " + std::to_string(limit);
        return std::nullopt;
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        *status = HTTP_BAD_REQUEST;
        *why = "the request body cannot be read";
        return std::nullopt;
    }
    std::string body;
    if (ap_should_client_block(r)) {
        char buffer[8192];
        long got;
        while ((got = ap_get_client_block(r, buffer, sizeof buffer)) > 0) {
            if (body.size() + static_cast<std::size_t>(got) > limit) {
                *status = HTTP_REQUEST_ENTITY_TOO_LARGE;
                *why = "the body is larger than " + std::to_string(limit) + " bytes";
                return std::nullopt;
            }
            body.append(buffer, static_cast<std::size_t>(got));
        }
        if (got < 0) {
            *status = HTTP_BAD_REQUEST;
            *why = "the request body was cut short";
            return std::nullopt;
        }
    }
    return body;
}

std::string correlation_id() { return saml::hex_encode(saml::random_bytes(6)); }

std::string html_page(const std::string& title, const std::string& body_html) {
    // Plain HTML that reads the same without its few style rules; no external assets (the
    // Content-Security-Policy of send_html forbids them anyway).
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<title>" + saml::xml_escape(title) + "</title>"
           "<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}"
           "code{background:#eee;padding:0 .2em}</style></head>\n<body><main>\n<h1>" + saml::xml_escape(title) + "</h1>\n" +
           body_html + "\n</main></body></html>\n";
}

std::string reference_html(const std::string& ref, const std::string& code, bool logged_by_default) {
    std::string text = "<p id=\"reference\">If this keeps happening, tell the site's administrator this reference: <code>" +
                       saml::xml_escape(ref) + "</code>";
    if (!code.empty()) text += " (" + saml::xml_escape(code) + ")";
    // The time lets the administrator find the log line even without grep.
    text += ", " + saml::format_datetime(saml::Clock::now()) + ".";
    if (logged_by_default) text += " It is in the server's error log.";
    return text + "</p>";
}

namespace {

std::string failure_body(const Failure& failure, const std::string& ref) {
    // Failures are logged at warn or above: in the log at httpd's default LogLevel.
    return "<p id=\"advice\">" + saml::xml_escape(failure.advice) + "</p>\n" + reference_html(ref, failure.error.code, true);
}

// The IdP whose message was refused: the one the handler knows, else the one the core saw;
// an Issuer no signature has covered yet is only what the message claims.
std::string idp_for_log(const Failure& failure) {
    if (!failure.idp.empty()) return saml::excerpt(failure.idp);
    if (failure.error.idp.empty()) return "-";
    return saml::excerpt(failure.error.idp) + (failure.error.idp_verified ? "" : " (claimed, not verified)");
}

void log_failure(request_rec* r, const Failure& failure, const std::string& ref) {
    count_refusal(failure.error);
    const int level = failure.status >= 500 ? APLOG_ERR : APLOG_WARNING;
    ap_log_rerror(APLOG_MARK, level, 0, r, "%s %s: %s [idp %s] [ref %s]", failure.error.code.c_str(),
                  failure.error.rule.c_str(), failure.error.detail.c_str(), idp_for_log(failure).c_str(), ref.c_str());
}

}  // namespace

int send_html(request_rec* r, int status, const std::string& title, const std::string& body_html) {
    const std::string html = html_page(title, body_html);
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
    ap_set_content_length(r, static_cast<apr_off_t>(html.size()));
    if (!r->header_only) ap_rwrite(html.data(), static_cast<int>(html.size()), r);
    return OK;
}

int answer_soap_failure(request_rec* r, const Failure& failure) {
    const std::string ref = correlation_id();
    log_failure(r, failure, ref);
    const std::string body = saml::soap_fault(failure.status < 500, failure.title + " (" + failure.error.code + ", reference " + ref + ")");
    r->status = failure.status;
    ap_set_content_type(r, "text/xml; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(body.size()));
    if (!r->header_only) ap_rwrite(body.data(), static_cast<int>(body.size()), r);
    return OK;
}

int answer_failure(request_rec* r, const Failure& failure) {
    const std::string ref = correlation_id();
    log_failure(r, failure, ref);
    return send_html(r, failure.status, failure.title, failure_body(failure, ref));
}

void install_error_page(request_rec* r, const Failure& failure) {
    const std::string ref = correlation_id();
    log_failure(r, failure, ref);
    // No leading quote: ap_custom_response adds the one that marks text (not a URL) itself.
    const std::string text = html_page(failure.title, failure_body(failure, ref));
    ap_custom_response(r, failure.status, apr_pstrdup(r->pool, text.c_str()));
}

int send_logged_out(request_rec* r, const std::string& user, bool idp_told) {
    const std::string ref = correlation_id();
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "SAML0844 logged out %s%s; showing the logged-out page [ref %s]",
                  user.empty() ? "(no session here)" : user.c_str(), idp_told ? " here and at the IdP" : "", ref.c_str());
    std::string body = idp_told ? "<p id=\"what\">You are logged out of this site and of your organisation's login "
                                  "service.</p>\n"
                                : "<p id=\"what\">You are logged out of this site.</p>\n";
    body += "<p id=\"advice\">On a shared computer, close the browser now. To log in again, open the page you "
            "wanted.</p>\n";
    body += "<p id=\"reference\">Reference for the site's administrator: <code>" + ref + "</code>, " +
            saml::format_datetime(saml::Clock::now()) + ".</p>";
    return send_html(r, HTTP_OK, "Logged out", body);
}

bool is_script_request(request_rec* r) {
    const char* mode = apr_table_get(r->headers_in, "Sec-Fetch-Mode");
    if (mode != nullptr && strcasecmp(mode, "navigate") != 0 && strcasecmp(mode, "nested-navigate") != 0) return true;
    const char* requested_with = apr_table_get(r->headers_in, "X-Requested-With");
    return requested_with != nullptr && strcasecmp(requested_with, "XMLHttpRequest") == 0;
}

}  // namespace saml_httpd
