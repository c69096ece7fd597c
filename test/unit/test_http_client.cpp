// The outgoing HTTP client against a real socket on loopback: a thread that accepts one
// connection and answers with what the test gives it (or stays silent).
#include "http_client.hpp"

#include "loopback_listener.hpp"

#include <CppUTest/TestHarness.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace {

class OneShotServer {
public:
    // answer empty: read the request and never reply (for timeouts).
    explicit OneShotServer(std::string answer) : answer_(std::move(answer)) {
        thread_ = std::thread([this] { serve(); });
    }
    ~OneShotServer() {
        listener_.stop();
        thread_.join();
    }
    std::string url(const char* scheme = "http") const {
        return std::string(scheme) + "://127.0.0.1:" + std::to_string(listener_.port()) + "/metadata.xml";
    }
    std::string received() const { return received_; }

private:
    void serve() {
        const int connection = accept(listener_.fd(), nullptr, nullptr);
        if (connection < 0) return;
        char buffer[4096];
        // Read the head and, for a POST, whatever arrives with it.
        while (received_.find("\r\n\r\n") == std::string::npos) {
            const ssize_t got = read(connection, buffer, sizeof buffer);
            if (got <= 0) break;
            received_.append(buffer, static_cast<std::size_t>(got));
            if (static_cast<unsigned char>(received_[0]) == 0x16) break;  // a TLS ClientHello: answer in plain HTTP
        }
        const auto length_at = received_.find("Content-Length: ");
        if (length_at != std::string::npos) {
            const std::size_t wanted = std::stoul(received_.substr(length_at + 16));
            while (received_.size() - (received_.find("\r\n\r\n") + 4) < wanted) {
                const ssize_t got = read(connection, buffer, sizeof buffer);
                if (got <= 0) break;
                received_.append(buffer, static_cast<std::size_t>(got));
            }
        }
        if (answer_.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(800));
        } else {
            (void)!write(connection, answer_.data(), answer_.size());
        }
        close(connection);
    }

    std::string answer_;
    saml::test::LoopbackListener listener_{1};
    std::string received_;
    std::thread thread_;
};

std::string http_answer(const std::string& body, const char* extra_headers = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\nETag: \"v7\"\r\n" +
           std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

saml::HttpRequest get(std::string url) {
    saml::HttpRequest request;
    request.url = std::move(url);
    return request;
}

saml::HttpOptions plain_http_allowed() {
    saml::HttpOptions options;
    options.allow_plain_http = true;
    options.connect_timeout = std::chrono::milliseconds(1000);
    options.total_timeout = std::chrono::milliseconds(3000);
    return options;
}

}  // namespace

TEST_GROUP(HttpClient) {};

TEST(HttpClient, GetsTheBodyStatusAndCacheHeaders) {
    OneShotServer server(http_answer("<EntityDescriptor/>"));
    auto response = saml::http_exchange(get(server.url()), plain_http_allowed());
    CHECK_TRUE(response.ok());
    LONGS_EQUAL(200, response.value().status);
    STRCMP_EQUAL("<EntityDescriptor/>", response.value().body.c_str());
    STRCMP_EQUAL("\"v7\"", response.value().etag.c_str());
    STRCMP_EQUAL("application/samlmetadata+xml", response.value().content_type.c_str());
}

TEST(HttpClient, PostsTheBodyWithItsHeaders) {
    OneShotServer server(http_answer("<soap/>"));
    saml::HttpRequest request = get(server.url());
    request.method = "POST";
    request.body = "<Envelope/>";
    request.headers = {"Content-Type: text/xml", "SOAPAction: x"};
    auto response = saml::http_exchange(request, plain_http_allowed());
    CHECK_TRUE(response.ok());
    STRCMP_EQUAL("<soap/>", response.value().body.c_str());
    const std::string seen = server.received();
    CHECK_TRUE(seen.rfind("POST /metadata.xml HTTP/1.1\r\n", 0) == 0);
    CHECK_TRUE(seen.find("SOAPAction: x\r\n") != std::string::npos);
    CHECK_TRUE(seen.find("\r\n\r\n<Envelope/>") != std::string::npos);
}

TEST(HttpClient, RefusesPlainHttpUnlessAllowed) {
    auto response = saml::http_exchange(get("http://127.0.0.1:9/metadata.xml"), saml::HttpOptions{});
    CHECK_FALSE(response.ok());
    STRCMP_EQUAL("SAML0901", response.error().code.c_str());
    response = saml::http_exchange(get("file:///etc/passwd"), plain_http_allowed());
    CHECK_FALSE(response.ok());
    STRCMP_EQUAL("SAML0901", response.error().code.c_str());
}

TEST(HttpClient, RefusesAnAnswerLargerThanTheLimitInsteadOfTruncatingIt) {
    OneShotServer server(http_answer(std::string(5000, 'x')));
    auto options = plain_http_allowed();
    options.max_body = 4096;
    auto response = saml::http_exchange(get(server.url()), options);
    CHECK_FALSE(response.ok());
    STRCMP_EQUAL("SAML0904", response.error().code.c_str());
}

TEST(HttpClient, RefusesAnOversizedAnswerWithoutContentLengthToo) {
    OneShotServer server("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(70000, 'x'));
    auto options = plain_http_allowed();
    options.max_body = 65536;
    auto response = saml::http_exchange(get(server.url()), options);
    CHECK_FALSE(response.ok());
    STRCMP_EQUAL("SAML0904", response.error().code.c_str());
}

TEST(HttpClient, GivesUpOnASilentServerAtTheTotalTimeout) {
    OneShotServer server("");
    auto options = plain_http_allowed();
    options.total_timeout = std::chrono::milliseconds(300);
    const auto started = std::chrono::steady_clock::now();
    auto response = saml::http_exchange(get(server.url()), options);
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK_FALSE(response.ok());
    STRCMP_EQUAL("SAML0905", response.error().code.c_str());
    CHECK_TRUE(waited < std::chrono::milliseconds(750));
}

TEST(HttpClient, ACancelledTransferEndsLongBeforeItsTimeout) {
    OneShotServer server("");
    auto options = plain_http_allowed();
    options.total_timeout = std::chrono::milliseconds(30000);
    const auto started = std::chrono::steady_clock::now();
    options.cancelled = [&] { return std::chrono::steady_clock::now() - started > std::chrono::milliseconds(200); };
    auto response = saml::http_exchange(get(server.url()), options);
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK_FALSE(response.ok());
    STRCMP_EQUAL("SAML0908", response.error().code.c_str());
    CHECK_TRUE(waited < std::chrono::milliseconds(5000));  // curl asks about once a second
}

TEST(HttpClient, ReportsAnHttpErrorStatusAsAnAnswerForTheCallerToJudge) {
    OneShotServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    auto response = saml::http_exchange(get(server.url()), plain_http_allowed());
    CHECK_TRUE(response.ok());
    LONGS_EQUAL(404, response.value().status);
}

TEST(HttpClient, FailsTlsAgainstAServerThatDoesNotSpeakIt) {
    OneShotServer server(http_answer("<EntityDescriptor/>"));
    auto response = saml::http_exchange(get(server.url("https")), plain_http_allowed());
    CHECK_FALSE(response.ok());
    STRCMP_CONTAINS("SAML090", response.error().code.c_str());
    CHECK_TRUE(response.error().code == "SAML0906" || response.error().code == "SAML0907");
}
