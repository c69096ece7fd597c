#include "idp_discovery.hpp"

#include "encoding.hpp"

namespace saml {

Result<std::string> check_discovery_url(std::string_view url) {
    return guarded([&] {
        const bool https = url.rfind("https://", 0) == 0, http = url.rfind("http://", 0) == 0;
        const std::size_t host_start = https ? 8 : 7;
        auto bad = [&](const char* why) {
            fail(ErrorKind::Config, "SAML0470", "discovery-url",
                 std::string("the discovery service URL ") + why + ", e.g. https://ds.example.org/ds");
        };
        if (!https && !http) bad("must be an absolute http:// or https:// URL");
        if (url.size() <= host_start || url[host_start] == '/' || url[host_start] == '?') bad("has no host");
        if (url.find('#') != std::string_view::npos) bad("must not have a fragment (#...)");
        for (char c : url)
            if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\')
                bad("holds a character that must be percent-encoded");
        return std::string(url);
    });
}

std::string discovery_request_url(std::string_view service_url, std::string_view sp_entity_id,
                                  std::string_view return_url, std::string_view return_id_param) {
    std::string url(service_url);
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += "entityID=" + url_encode(sp_entity_id);
    url += "&return=" + url_encode(return_url);
    url += "&returnIDParam=" + url_encode(return_id_param);
    return url;
}

}  // namespace saml
