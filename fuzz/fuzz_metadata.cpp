// The IdP metadata parser on arbitrary documents; and, differentially, every IdP kept as its
// place in the document (LazyIdp, as large aggregates from a URL are) must read back alone to
// the descriptor the whole document gave.
#include "fuzz_common.hpp"

#include "metadata.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void mismatch(const std::string& what) {
    std::fprintf(stderr, "kept as places != parsed: %s\n", what.c_str());
    std::abort();
}

void compare(const saml::IdpDescriptor& parsed, const saml::IdpDescriptor& read) {
    if (parsed.entity_id != read.entity_id) mismatch("entityID " + parsed.entity_id + " / " + read.entity_id);
    if (parsed.display_name != read.display_name) mismatch("display name of " + parsed.entity_id);
    if (parsed.valid_until != read.valid_until || parsed.cache_duration != read.cache_duration)
        mismatch("validity of " + parsed.entity_id);
    if (parsed.want_authn_requests_signed != read.want_authn_requests_signed) mismatch("WantAuthnRequestsSigned");
    if (parsed.name_id_formats != read.name_id_formats) mismatch("NameIDFormats of " + parsed.entity_id);
    const auto same = [&](const std::vector<saml::Endpoint>& a, const std::vector<saml::Endpoint>& b) {
        if (a.size() != b.size()) mismatch("endpoint count of " + parsed.entity_id);
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a[i].binding != b[i].binding || a[i].location != b[i].location ||
                a[i].response_location != b[i].response_location || a[i].index != b[i].index ||
                a[i].is_default != b[i].is_default)
                mismatch("endpoint of " + parsed.entity_id);
    };
    same(parsed.single_sign_on, read.single_sign_on);
    same(parsed.single_logout, read.single_logout);
    same(parsed.artifact_resolution, read.artifact_resolution);
    if (parsed.signing_certificates().size() != read.signing_certificates().size() ||
        parsed.encryption_certificates().size() != read.encryption_certificates().size())
        mismatch("certificates of " + parsed.entity_id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    const std::string_view xml(reinterpret_cast<const char*>(data), size);
    saml::MetadataOptions options;
    options.now = saml::from_unix(1780315200);
    (void)saml::parse_idp_metadata(xml, options);

    options.defer_certificates = true;
    const auto parsed = saml::parse_idp_metadata(xml, options);
    options.keep_as_places = saml::document_bytes(std::string(xml));
    const auto places = saml::parse_idp_metadata(xml, options);
    if (parsed.ok() != places.ok()) mismatch("one loaded, the other did not");
    if (!parsed) return 0;
    const auto& all = parsed.value().idps;
    const auto& kept = places.value();
    if (kept.idp_count() != all.size()) mismatch("IdP count");
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (kept.lazy_idps.empty()) {
            compare(*all[i], *kept.idps[i]);
            continue;
        }
        const auto read = kept.lazy_idps[i]->descriptor();
        if (!read) mismatch(kept.lazy_idps[i]->failure());
        compare(*all[i], *read);
    }
    return 0;
}
