// The ReturnTo / RelayState checker: never crashes, and what it accepts never leaves the site
// or the allow-list when parsed again.
#include "fuzz_common.hpp"

#include "redirect_target.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    saml::RedirectPolicy policy;
    policy.self_scheme = "https";
    policy.self_host = "sp.example.org";
    policy.allowed_hosts = {"app.example.org", ".trusted.example"};
    auto checked = saml::check_redirect_target(std::string_view(reinterpret_cast<const char*>(data), size), policy);
    if (checked) {
        // Idempotent: a normalised target passes again unchanged.
        auto again = saml::check_redirect_target(checked.value(), policy);
        if (!again || again.value() != checked.value()) std::abort();
    }
    return 0;
}
