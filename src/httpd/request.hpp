// Small request-level helpers for the glue: the public base URL, cookies, the form body,
// error pages with a correlation id, and the one log line per rejection.
#pragma once

#include "error.hpp"

#include <httpd.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace saml_httpd {

struct Runtime;
struct DirConfig;

// scheme://host[:port] as the browser sees this site: SAMLBaseURL, or built from the request.
std::string public_base_url(request_rec* r, const Runtime& rt);

// Cookies the browser sent, in order; bounded (at most 200 pairs are looked at).
std::vector<std::pair<std::string, std::string>> request_cookies(request_rec* r);
// The same, as views into the request's Cookie headers (valid as long as r->headers_in): no
// copy of a session cookie's kilobytes on every request.
std::vector<std::pair<std::string_view, std::string_view>> request_cookie_views(request_rec* r);
std::optional<std::string> request_cookie(request_rec* r, std::string_view name);

struct CookieOptions {
    const char* path = "/";
    const char* domain = nullptr;
    const char* same_site = "Lax";
    bool secure = true;
    long max_age = -1;  // -1: session cookie; 0: delete
};
void set_cookie(request_rec* r, std::string_view name, std::string_view value, const CookieOptions& options);
CookieOptions session_cookie_options(const DirConfig* dir);

// Reads an application/x-www-form-urlencoded body of at most `limit` bytes. On failure returns
// nullopt and sets *status to the HTTP status to answer (400, 413, 415).
std::optional<std::vector<std::pair<std::string, std::string>>> read_form(request_rec* r, std::size_t limit, int* status,
                                                                          std::string* why);
// Any request body of at most `limit` bytes, as read_form reads it.
std::optional<std::string> read_body(request_rec* r, std::size_t limit, int* status, std::string* why);
std::vector<std::pair<std::string, std::string>> parse_query(const char* args);
std::optional<std::string> field(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name);

// A short random id shown on the error page and written in the log line.
std::string correlation_id();

// What a person sees when a SAML step fails: a plain page saying what happened and what to do.
struct Failure {
    int status;             // 4xx for anything the client or the IdP did
    std::string title;      // "Login failed"
    std::string advice;     // what to do next
    saml::Error error;      // the precise reason, for the log
    std::string idp;        // IdP entityID when known
};
// Logs one line (warning for rejections, error for internal faults) and answers with the page.
// For handlers: writes the page and returns OK. For hooks that must return a status, use
// install_error_page and return failure.status.
int answer_failure(request_rec* r, const Failure& failure);
// The same line in the log, answered as a SOAP Fault (for a back-channel caller, not a person).
int answer_soap_failure(request_rec* r, const Failure& failure);
void install_error_page(request_rec* r, const Failure& failure);
int send_html(request_rec* r, int status, const std::string& title, const std::string& body_html);
// The page every person-facing answer uses: lang, title, one h1, no external assets.
std::string html_page(const std::string& title, const std::string& body_html);
// "Tell the administrator this reference": the correlation id (and SAMLxxxx code) of a log line;
// logged_by_default: that line is at warn or above, so the page may say it is in the log.
std::string reference_html(const std::string& ref, const std::string& code, bool logged_by_default);
// What a person sees after logging out when no ReturnTo was given; logs one info line with its
// reference. idp_told: Single Logout at the IdP completed too.
int send_logged_out(request_rec* r, const std::string& user, bool idp_told);

// A request from script (XHR/fetch) rather than a page navigation: answer 401, do not redirect.
bool is_script_request(request_rec* r);

}  // namespace saml_httpd
