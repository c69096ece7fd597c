// Outgoing HTTP for the core: metadata downloads and SOAP back-channel calls (artifact
// resolution). One small, strict client over libcurl: TLS always verified, https only unless
// plain http is explicitly allowed, bounded in time and in size, no redirects to other schemes.
#pragma once

#include "error.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

struct HttpOptions {
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds total_timeout{30000};
    std::size_t max_body = 64 * 1024 * 1024;  // a larger answer is refused, not truncated
    std::string ca_file;                      // empty: the system's trust store
    std::string client_certificate_file;      // optional TLS client authentication (PEM)
    std::string client_key_file;
    // The same as PEM text read once beforehand (they win over the files): no file is opened
    // per request, and an httpd child that may not read the key file can still use the key.
    std::string ca_pem;
    std::string client_certificate_pem;
    std::string client_key_pem;
    bool allow_plain_http = false;            // http:// URLs are refused unless set
    long max_redirects = 3;                   // followed only to https (or http when allowed)
    // Asked about once a second while a transfer runs; true ends it (SAML0908), e.g. when the
    // process that waits for the answer is shutting down. Empty: never cancelled.
    std::function<bool()> cancelled;
};

struct HttpResponse {
    long status = 0;
    std::string body;
    std::string content_type;
    std::string etag;
    std::string last_modified;
};

struct HttpRequest {
    std::string url;
    std::string method = "GET";               // GET or POST
    std::string body;                         // POST only
    std::vector<std::string> headers;         // "Name: value"
};

// Performs the request. Transport failures (DNS, connect, TLS, timeout, size) are errors with
// a code and the reason; any HTTP status is a successful exchange that the caller judges.
Result<HttpResponse> http_exchange(const HttpRequest& request, const HttpOptions& options);

}  // namespace saml
