#include "http_client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace saml {

namespace {

struct CurlEasyFree {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct CurlListFree {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyFree>;
using CurlList = std::unique_ptr<curl_slist, CurlListFree>;

void initialize_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Collector {
    std::string* body;
    std::size_t limit;
    bool too_large = false;
};

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* collector = static_cast<Collector*>(user);
    const std::size_t bytes = size * count;
    if (collector->body->size() + bytes > collector->limit) {
        collector->too_large = true;
        return 0;  // makes curl stop with CURLE_WRITE_ERROR
    }
    collector->body->append(data, bytes);
    return bytes;
}

// Response headers we keep, matched case-insensitively.
std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* response = static_cast<HttpResponse*>(user);
    const std::size_t bytes = size * count;
    const std::string_view line(data, bytes);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    if (name == "etag") response->etag = std::string(value);
    else if (name == "last-modified") response->last_modified = std::string(value);
    else if (name == "content-type") response->content_type = std::string(value);
    return bytes;
}

int check_cancelled(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* cancelled = static_cast<const std::function<bool()>*>(user);
    return (*cancelled)() ? 1 : 0;  // non-zero makes curl stop with CURLE_ABORTED_BY_CALLBACK
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

Error transport_error(const char* code, const std::string& url, std::string why) {
    return Error{ErrorKind::BadInput, code, "http", url + ": " + std::move(why)};
}

}  // namespace

Result<HttpResponse> http_exchange(const HttpRequest& request, const HttpOptions& options) {
    const bool https = starts_with(request.url, "https://");
    if (!https && !(options.allow_plain_http && starts_with(request.url, "http://")))
        return transport_error("SAML0901", request.url,
                               options.allow_plain_http ? "only http:// and https:// URLs are fetched"
                                                        : "only https:// URLs are fetched (plain http is not allowed)");
    if (request.method != "GET" && request.method != "POST")
        return transport_error("SAML0902", request.url, "unsupported method " + request.method);

    initialize_curl_once();
    CurlEasy curl(curl_easy_init());
    if (!curl) return Error{ErrorKind::Internal, "SAML0903", "http", "curl_easy_init failed"};
    CURL* h = curl.get();

    HttpResponse response;
    Collector collector{&response.body, options.max_body};
    char curl_message[CURL_ERROR_SIZE] = {0};
    CurlList headers;
    for (const auto& header : request.headers) {
        curl_slist* grown = curl_slist_append(headers.get(), header.c_str());
        if (!grown) return Error{ErrorKind::Internal, "SAML0903", "http", "out of memory for headers"};
        (void)headers.release();
        headers.reset(grown);
    }
    const char* protocols = options.allow_plain_http ? "https,http" : "https";

    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, options.max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, options.max_redirects);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads of an MPM: no SIGALRM for DNS timeouts
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    // Blobs point into `options`, which outlives the transfer; curl copies nothing (NOCOPY).
    curl_blob ca_blob{const_cast<char*>(options.ca_pem.data()), options.ca_pem.size(), CURL_BLOB_NOCOPY};
    curl_blob cert_blob{const_cast<char*>(options.client_certificate_pem.data()), options.client_certificate_pem.size(),
                        CURL_BLOB_NOCOPY};
    const std::string& key_pem = options.client_key_pem.empty() ? options.client_certificate_pem : options.client_key_pem;
    curl_blob key_blob{const_cast<char*>(key_pem.data()), key_pem.size(), CURL_BLOB_NOCOPY};
    if (!options.ca_pem.empty())
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca_blob);
    else if (!options.ca_file.empty())
        curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
    if (!options.client_certificate_pem.empty()) {
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert_blob);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key_blob);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (!options.client_certificate_file.empty()) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, options.client_certificate_file.c_str());
        curl_easy_setopt(h, CURLOPT_SSLKEY, options.client_key_file.empty() ? options.client_certificate_file.c_str()
                                                                            : options.client_key_file.c_str());
    }
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_body));
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate; the size limit counts decoded bytes
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &collector);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_message);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mod_auth_saml");
    if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    if (options.cancelled) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, check_cancelled);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &options.cancelled);
    }
    if (request.method == "POST") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }

    const CURLcode outcome = curl_easy_perform(h);
    if (collector.too_large || outcome == CURLE_FILESIZE_EXCEEDED)
        return transport_error("SAML0904", request.url,
                               "the answer is larger than the limit of " + std::to_string(options.max_body) + " bytes");
    if (outcome == CURLE_ABORTED_BY_CALLBACK)
        return transport_error("SAML0908", request.url, "cancelled");
    if (outcome == CURLE_OPERATION_TIMEDOUT)
        return transport_error("SAML0905", request.url, std::string("timed out: ") + curl_message);
    if (outcome == CURLE_PEER_FAILED_VERIFICATION || outcome == CURLE_SSL_CACERT_BADFILE ||
        outcome == CURLE_SSL_CONNECT_ERROR)
        return transport_error("SAML0906", request.url, std::string("TLS failed: ") +
                                                            (curl_message[0] ? curl_message : curl_easy_strerror(outcome)));
    if (outcome != CURLE_OK)
        return transport_error("SAML0907", request.url,
                               curl_message[0] ? curl_message : curl_easy_strerror(outcome));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace saml
