// The session cookie opener and the chunk joiner on arbitrary cookie values; the server-side
// store's handle, record, last-seen and subject-index readers, on arbitrary values and (sealed
// here first, so the integrity check passes) on arbitrary plaintexts.
#include "fuzz_common.hpp"

#include "session.hpp"
#include "session_store.hpp"

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

    static const saml::SessionHandle handle{std::string(16, 'i'), std::string(32, 'k')};
    const saml::Instant now = saml::from_unix(1780315200);
    (void)saml::open_handle(sealer, value, "saml_session");
    (void)saml::open_record(value, handle, now);
    (void)saml::decode_last_seen(value);
    (void)saml::open_subject_index(sealer, value, "nameid:x");
    if (auto sealed = sealer.seal_bytes(value, "saml_session")) (void)saml::open_handle(sealer, sealed.value(), "saml_session");
    if (auto sealed = sealer.seal_bytes(value, "nameid:x")) (void)saml::open_subject_index(sealer, sealed.value(), "nameid:x");
    return 0;
}
