// The Response validator on arbitrary posted bytes (as base64 of the input, and raw as XML).
#include "fuzz_common.hpp"

#include "encoding.hpp"
#include "response.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    static const saml::SpSettings sp = [] {
        saml::SpSettings s;
        s.entity_id = "https://sp.test.example/saml/metadata";
        s.acs_url = "https://sp.test.example/saml/acs";
        return s;
    }();
    static const saml::SecurityPolicy policy;
    static const saml::IdpRegistry idps = [] {
        saml::IdpRegistry r;
        auto idp = std::make_shared<saml::IdpDescriptor>();
        idp->entity_id = "https://idp.test.example/saml2/idp";
        r.add(idp);
        return r;
    }();
    const std::string input(reinterpret_cast<const char*>(data), size);
    saml::ResponseValidator validator(sp, policy, idps);
    const std::string posted = saml::base64_encode(input);  // ResponseInput holds a view of it
    saml::ResponseInput in{posted, {"_r1"}, saml::from_unix(1780315200), ""};
    (void)validator.validate(in, nullptr);
    (void)validator.validate_xml(input, in, nullptr);
    return 0;
}
