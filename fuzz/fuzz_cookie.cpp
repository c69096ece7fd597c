// The session cookie opener and the chunk joiner on arbitrary cookie values.
#include "fuzz_common.hpp"

#include "session.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    static const saml::SessionSealer sealer = [] {
        auto created = saml::SessionSealer::create({std::string(32, 's')});
        if (!created) std::abort();
        return std::move(created).value();
    }();
    const std::string_view value(reinterpret_cast<const char*>(data), size);
    (void)sealer.open(value, "saml_session", saml::from_unix(1780315200), std::chrono::seconds(0));
    (void)sealer.open_bytes(value, "saml_login_x");
    (void)saml::decode_session(value);
    (void)saml::cookie_chunk_count(value, 8);
    // Split the input on ';' into chunks, as several cookies would arrive.
    std::vector<std::string_view> chunks;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= value.size() && chunks.size() < 16; ++i)
        if (i == value.size() || value[i] == ';') {
            chunks.push_back(value.substr(start, i - start));
            start = i + 1;
        }
    (void)saml::join_cookie(chunks, 8);
    return 0;
}
