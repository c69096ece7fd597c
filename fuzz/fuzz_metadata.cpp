// The IdP metadata parser on arbitrary documents.
#include "fuzz_common.hpp"

#include "metadata.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    saml::MetadataOptions options;
    options.now = saml::from_unix(1780315200);
    (void)saml::parse_idp_metadata(std::string_view(reinterpret_cast<const char*>(data), size), options);
    return 0;
}
