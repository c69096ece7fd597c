// The HTTP-Redirect binding decoder on arbitrary query strings.
#include "fuzz_common.hpp"

#include "redirect_binding.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    saml::RedirectDecodeOptions options;
    options.require_signature = false;
    (void)saml::decode_redirect_query(std::string_view(reinterpret_cast<const char*>(data), size), options);
    return 0;
}
