#include "attribute_names.hpp"

#include "encoding.hpp"

namespace saml {

namespace {

struct KnownName {
    std::string_view oid;  // without "urn:oid:"
    std::string_view name;
};

// Object identifiers from the LDAP schemas (RFC 4519, RFC 4524, inetOrgPerson RFC 2798), eduPerson,
// eduMember and SCHAC.
constexpr KnownName kOids[] = {
    {"0.9.2342.19200300.100.1.1", "uid"},
    {"0.9.2342.19200300.100.1.3", "mail"},
    {"0.9.2342.19200300.100.1.41", "mobile"},
    {"2.5.4.3", "cn"},
    {"2.5.4.4", "sn"},
    {"2.5.4.10", "o"},
    {"2.5.4.11", "ou"},
    {"2.5.4.12", "title"},
    {"2.5.4.20", "telephoneNumber"},
    {"2.5.4.42", "givenName"},
    {"2.16.840.1.113730.3.1.3", "employeeNumber"},
    {"2.16.840.1.113730.3.1.4", "employeeType"},
    {"2.16.840.1.113730.3.1.39", "preferredLanguage"},
    {"2.16.840.1.113730.3.1.241", "displayName"},
    {"1.3.6.1.4.1.5923.1.1.1.1", "eduPersonAffiliation"},
    {"1.3.6.1.4.1.5923.1.1.1.5", "eduPersonPrimaryAffiliation"},
    {"1.3.6.1.4.1.5923.1.1.1.6", "eduPersonPrincipalName"},
    {"1.3.6.1.4.1.5923.1.1.1.7", "eduPersonEntitlement"},
    {"1.3.6.1.4.1.5923.1.1.1.9", "eduPersonScopedAffiliation"},
    {"1.3.6.1.4.1.5923.1.1.1.10", "eduPersonTargetedID"},
    {"1.3.6.1.4.1.5923.1.1.1.11", "eduPersonAssurance"},
    {"1.3.6.1.4.1.5923.1.1.1.13", "eduPersonUniqueId"},
    {"1.3.6.1.4.1.5923.1.1.1.16", "eduPersonOrcid"},
    {"1.3.6.1.4.1.5923.1.5.1.1", "isMemberOf"},
    {"1.3.6.1.4.1.25178.1.2.9", "schacHomeOrganization"},
};

struct KnownClaim {
    std::string_view uri;
    std::string_view name;
};

constexpr KnownClaim kClaims[] = {
    {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "mail"},
    {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "givenName"},
    {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "sn"},
    {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "name"},
    {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "upn"},
    {"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "groups"},
    {"http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "role"},
    {"http://schemas.microsoft.com/identity/claims/displayname", "displayName"},
};

constexpr std::string_view kOidPrefix = "urn:oid:";
constexpr std::string_view kMacePrefix = "urn:mace:dir:attribute-def:";

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && ascii_iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

std::string_view friendly_attribute_name(std::string_view name) {
    if (istarts_with(name, kOidPrefix)) {
        const std::string_view oid = name.substr(kOidPrefix.size());
        for (const auto& known : kOids)
            if (known.oid == oid) return known.name;
        return {};
    }
    if (istarts_with(name, kMacePrefix)) {
        // The SAML 1 names spell the attribute itself; answer only for the ones we know.
        const std::string_view attribute = name.substr(kMacePrefix.size());
        for (const auto& known : kOids)
            if (known.name == attribute) return known.name;
        return {};
    }
    for (const auto& known : kClaims)
        if (ascii_iequals(known.uri, name)) return known.name;
    return {};
}

std::string env_safe_name(std::string_view name) {
    std::string out(name);
    for (auto& c : out) {
        const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!keep) c = '_';
    }
    return out;
}

bool attribute_named(const Attribute& attribute, std::string_view name) {
    if (name.empty()) return false;
    return attribute.name == name || attribute.friendly_name == name || friendly_attribute_name(attribute.name) == name;
}

namespace {

bool invisible(char32_t cp) {
    switch (cp) {
        case 0x09: case 0x0a: case 0x0d: case 0x20: case 0x85: case 0xa0: case 0xad: case 0x1680: case 0x180e:
        case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x2060: case 0x3000: case 0xfeff:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200d;  // en quad ... zero width space, (non-)joiner
    }
}

}  // namespace

bool is_blank(std::string_view value) {
    for (std::size_t i = 0; i < value.size();) {
        const auto lead = static_cast<unsigned char>(value[i]);
        const std::size_t length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
        if (length == 0 || i + length > value.size()) return false;  // not UTF-8: not whitespace either
        char32_t cp = length == 1 ? lead : lead & (0x7f >> length);
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(value[i + k]);
            if ((next & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (next & 0x3f);
        }
        if (!invisible(cp)) return false;
        i += length;
    }
    return true;
}

bool usable_as_user_id(std::string_view value) {
    if (is_blank(value)) return false;
    for (const unsigned char ch : value)
        if (ch < 0x20 || ch == 0x7f) return false;
    return true;
}

}  // namespace saml
