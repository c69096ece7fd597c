#include "metadata.hpp"

#include "encoding.hpp"
#include "settings.hpp"
#include "xml_spans.hpp"
#include "xmlsig.hpp"

#include <strings.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <unordered_set>
#include <utility>

namespace saml {

namespace {

using std::chrono::seconds;

// SAML's entityID is an anyURI of at most 1024 characters (saml-core 8.3.6).
constexpr std::size_t max_entity_id_length = 1024;
constexpr const char* metadata_what = "IdP metadata";
// A certificate is a few KiB; this bounds the base64 decode before it allocates.
constexpr std::size_t max_certificate_bytes = 64 * 1024;

[[noreturn]] void bad_input(const char* code, const char* rule, std::string detail) {
    fail(ErrorKind::BadInput, code, rule, std::move(detail));
}

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_xml_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_xml_space(text.back())) text.remove_suffix(1);
    return text;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && ascii_iequals(text.substr(0, prefix.size()), prefix);
}

std::size_t find_nocase(std::string_view text, std::string_view needle) {
    for (std::size_t i = 0; i + needle.size() <= text.size(); ++i)
        if (ascii_iequals(text.substr(i, needle.size()), needle)) return i;
    return std::string_view::npos;
}

bool contains_nocase(std::string_view text, std::string_view needle) {
    return find_nocase(text, needle) != std::string_view::npos;
}

// A short, printable excerpt of hostile input for an error detail.
seconds duration_or_throw(std::string_view raw) {
    const std::string_view text = trim(raw);
    auto bad = [&](const char* why) {
        bad_input("SAML0404", "cache-duration", "'" + excerpt(text) + "' is not an xs:duration (" + why + ")");
    };
    if (!text.empty() && text.front() == '-') bad("negative");
    if (text.size() < 2 || text.front() != 'P') bad("it must start with P and hold a component");

    // Designators in the order xs:duration requires them, with their length in seconds.
    // A year is 365 days and a month 30: good enough to schedule a metadata refresh.
    struct Unit {
        char designator;
        long long length;
    };
    static constexpr Unit date_units[] = {{'Y', 31536000}, {'M', 2592000}, {'D', 86400}};
    static constexpr Unit time_units[] = {{'H', 3600}, {'M', 60}, {'S', 1}};

    long long total = 0;
    bool in_time = false;
    int time_components = 0, components = 0;
    std::size_t next_unit = 0;  // units must appear in order, each at most once
    std::size_t pos = 1;
    while (pos < text.size()) {
        if (text[pos] == 'T') {
            if (in_time) bad("a second T");
            in_time = true;
            next_unit = 0;
            ++pos;
            continue;
        }
        const std::size_t digits_start = pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
        const std::size_t digit_count = pos - digits_start;
        if (digit_count == 0) bad("a designator without a number");
        if (digit_count > 9) bad("a number too large");  // keeps the sum far from overflow
        long long number = 0;
        for (std::size_t i = digits_start; i < pos; ++i) number = number * 10 + (text[i] - '0');
        bool fraction = false;
        if (pos < text.size() && text[pos] == '.') {
            fraction = true;
            ++pos;
            const std::size_t fraction_start = pos;
            while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
            if (pos == fraction_start) bad("a decimal point without digits");
        }
        if (pos >= text.size()) bad("a number without a designator");
        const char designator = text[pos++];
        const Unit* units = in_time ? time_units : date_units;
        std::size_t index = next_unit;
        while (index < 3 && units[index].designator != designator) ++index;
        if (index == 3) bad("an unknown or misplaced designator");
        if (fraction && !(in_time && designator == 'S')) bad("a fraction outside the seconds");
        next_unit = index + 1;
        total += number * units[index].length;
        ++components;
        if (in_time) ++time_components;
    }
    if (components == 0) bad("no component");
    if (in_time && time_components == 0) bad("a T without a time component");
    return seconds(total);
}

bool parse_boolean(const xmlNode* node, const char* name, bool fallback) {
    const auto value = attribute(node, name);
    if (!value) return fallback;
    const std::string_view text = trim(*value);
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    bad_input("SAML0417", "boolean", std::string(name) + " is '" + excerpt(text) + "', not an xs:boolean");
}

bool supports_saml2(const xmlNode* role) {
    const auto protocols = attribute(role, "protocolSupportEnumeration");
    if (!protocols) return false;
    const std::string_view list = *protocols;
    std::size_t pos = 0;
    while (pos < list.size()) {
        while (pos < list.size() && is_xml_space(list[pos])) ++pos;
        std::size_t end = pos;
        while (end < list.size() && !is_xml_space(list[end])) ++end;
        if (list.substr(pos, end - pos) == ns::protocol) return true;
        pos = end;
    }
    return false;
}

// validUntil and cacheDuration as they apply at one node: the strictest value on the path to it.
struct Validity {
    std::optional<Instant> valid_until;
    std::optional<seconds> cache_duration;
};

Validity narrow(const Validity& outer, const xmlNode* node) {
    Validity here = outer;
    if (auto text = attribute(node, "validUntil")) {
        const Instant own = parse_datetime(trim(*text), "validUntil");
        here.valid_until = here.valid_until ? std::min(*here.valid_until, own) : own;
    }
    if (auto text = attribute(node, "cacheDuration")) {
        const seconds own = duration_or_throw(*text);
        here.cache_duration = here.cache_duration ? std::min(*here.cache_duration, own) : own;
    }
    return here;
}

std::string required(const xmlNode* node, const char* name) {
    auto value = attribute(node, name);
    if (!value || trim(*value).empty())
        bad_input("SAML0415", "metadata-structure",
                  std::string(reinterpret_cast<const char*>(node->name)) + " lacks the " + name + " attribute");
    return std::string(trim(*value));
}

Endpoint read_endpoint(const xmlNode* node, bool indexed) {
    Endpoint endpoint;
    endpoint.binding = required(node, "Binding");
    endpoint.location = required(node, "Location");
    endpoint.response_location = std::string(trim(attribute(node, "ResponseLocation").value_or("")));
    if (indexed) {
        const std::string index = required(node, "index");
        // xs:unsignedShort
        if (index.size() > 5 || !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            std::stol(index) > 65535)
            bad_input("SAML0416", "metadata-structure", "endpoint index '" + excerpt(index) + "' is not an unsignedShort");
        endpoint.index = static_cast<int>(std::stol(index));
        endpoint.is_default = parse_boolean(node, "isDefault", false);
    }
    return endpoint;
}

std::vector<Endpoint> read_endpoints(const xmlNode* role, const char* local_name, bool indexed) {
    std::vector<Endpoint> endpoints;
    for (const xmlNode* node : child_elements(role, ns::metadata, local_name))
        endpoints.push_back(read_endpoint(node, indexed));
    return endpoints;
}

void add_unique(std::vector<TrustedCertificate>& list, const TrustedCertificate& cert) {
    for (const auto& existing : list)
        if (X509_cmp(existing.certificate.get(), cert.certificate.get()) == 0) return;
    list.push_back(cert);
}

const xmlNode* first_child(const xmlNode* parent, const char* ns_uri, const char* local_name) {
    for (const xmlNode* child = first_element_child(parent); child != nullptr; child = next_element_sibling(child))
        if (is_element(child, ns_uri, local_name)) return child;
    return nullptr;
}

// --- display names -------------------------------------------------------------------------

constexpr std::size_t max_display_name_bytes = 200;

// xml:lang, lower-cased (language tags compare case-insensitively); empty when absent.
std::string xml_lang(const xmlNode* node) {
    struct XmlCharFree {
        void operator()(xmlChar* text) const noexcept { xmlFree(text); }
    };
    std::unique_ptr<xmlChar, XmlCharFree> value(xmlGetNsProp(node, BAD_CAST "lang", XML_XML_NAMESPACE));
    std::string lang = value ? reinterpret_cast<const char*>(value.get()) : "";
    for (char& c : lang)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return lang;
}

// English first, then an English variant, then a name without a language, then any other.
int language_rank(const std::string& lang) {
    if (lang == "en") return 3;
    if (lang.rfind("en-", 0) == 0) return 2;
    if (lang.empty()) return 1;
    return 0;
}

// A name as a person reads it: runs of white space made one space, cut at a UTF-8 character
// boundary so a hostile aggregate cannot make the chooser page huge. libxml2 has already
// checked that the text is UTF-8 and XML keeps out the other control characters.
std::string readable_name(std::string_view raw) {
    std::string out;
    bool space = false;
    for (char c : trim(raw)) {
        if (is_xml_space(c)) {
            space = true;
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    if (out.size() > max_display_name_bytes) {
        std::size_t cut = max_display_name_bytes;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
        out.resize(cut);
        out += "\xe2\x80\xa6";  // an ellipsis
    }
    return out;
}

// The best-ranked non-empty name among these elements; empty when there is none. An element
// that holds markup instead of text is skipped, not an error: the name only labels a button.
std::string best_name(const std::vector<xmlNode*>& elements) {
    std::string best;
    int best_rank = -1;
    for (const xmlNode* element : elements) {
        const int rank = language_rank(xml_lang(element));
        if (rank <= best_rank) continue;
        std::string name;
        try {
            name = readable_name(element_text(element));
        } catch (const Failure&) {
            continue;
        }
        if (name.empty()) continue;
        best = std::move(name);
        best_rank = rank;
    }
    return best;
}

// mdui:UIInfo/DisplayName in the role's Extensions, else the entity's OrganizationDisplayName.
std::string display_name_of(const xmlNode* entity, const xmlNode* role) {
    if (const xmlNode* extensions = first_child(role, ns::metadata, "Extensions"))
        if (const xmlNode* ui = first_child(extensions, ns::mdui, "UIInfo")) {
            std::string name = best_name(child_elements(ui, ns::mdui, "DisplayName"));
            if (!name.empty()) return name;
        }
    if (const xmlNode* organization = first_child(entity, ns::metadata, "Organization"))
        return best_name(child_elements(organization, ns::metadata, "OrganizationDisplayName"));
    return {};
}

// Builds the descriptors, collecting warnings; one instance per document.
class Loader {
public:
    explicit Loader(const MetadataOptions& options) : options_(options) {}

    void load_root(xmlNode* root) {
        const Validity validity = narrow(Validity{}, root);
        result_.valid_until = validity.valid_until;
        result_.cache_duration = validity.cache_duration;
        if (validity.valid_until && *validity.valid_until <= options_.now && !options_.allow_expired)
            fail(ErrorKind::Rejected, "SAML0406", "metadata-validity",
                 "the metadata expired at " + format_datetime(*validity.valid_until));
        if (is_element(root, ns::metadata, "EntityDescriptor")) {
            load_entity(root, validity, /*in_aggregate=*/false);
        } else {
            load_aggregate(root, validity);
        }
        if (result_.idps.empty()) {
            std::string detail = "the metadata describes no usable SAML 2.0 IdP";
            if (!result_.warnings.empty()) detail += " (first problem: " + result_.warnings.front().message + ")";
            bad_input("SAML0402", "metadata-idp", detail);
        }
    }

    LoadedMetadata take() { return std::move(result_); }

    // One EntityDescriptor read back from its place (LazyIdp): the same reading as in the
    // document, with the ancestors' validity given. nullptr when it is not a SAML 2.0 IdP.
    std::shared_ptr<const IdpDescriptor> load_one(xmlNode* entity, const std::string& entity_id, const Validity& outer) {
        load_idp(entity, entity_id, outer);
        return result_.idps.empty() ? nullptr : result_.idps.back();
    }

    // Turns the IdPs just loaded into places in `document` (the bytes `root` was parsed from).
    // Keeps them parsed when the bytes cannot be matched to the tree; the result is the same,
    // only larger.
    void keep_as_places(xmlNode* root, const std::shared_ptr<const DocumentBytes>& document) {
        if (pending_.empty()) return;
        // A place is read back without the document's XML declaration, so as UTF-8 (or ASCII).
        const auto* encoding = reinterpret_cast<const char*>(root->doc->encoding);
        if (encoding != nullptr && strcasecmp(encoding, "UTF-8") != 0 && strcasecmp(encoding, "US-ASCII") != 0) return;
        std::unordered_map<const xmlNode*, std::size_t> wanted;
        for (std::size_t i = 0; i < pending_.size(); ++i) wanted.emplace(pending_[i].entity, i);
        // Element ordinals in document order, the order element_spans counts start tags in.
        std::vector<std::size_t> ordinals(pending_.size());
        std::size_t ordinal = 0;
        std::vector<const xmlNode*> stack{root};
        while (!stack.empty()) {
            const xmlNode* node = stack.back();
            stack.pop_back();
            const auto found = wanted.find(node);
            if (found != wanted.end()) ordinals[found->second] = ordinal;
            ++ordinal;
            std::vector<const xmlNode*> children;
            for (const xmlNode* child = node->children; child != nullptr; child = child->next)
                if (child->type == XML_ELEMENT_NODE) children.push_back(child);
            stack.insert(stack.end(), children.rbegin(), children.rend());
        }
        if (!std::is_sorted(ordinals.begin(), ordinals.end())) return;
        const std::string_view bytes = document->bytes();
        const auto spans = element_spans(bytes, ordinals);
        if (!spans) return;
        std::vector<std::shared_ptr<const LazyIdp>> places;
        places.reserve(pending_.size());
        std::unordered_map<const xmlNode*, std::shared_ptr<const std::string>> open_tags;
        for (std::size_t i = 0; i < pending_.size(); ++i) {
            const Pending& entry = pending_[i];
            const ElementSpan& span = (*spans)[i];
            if (span.qname != qualified_name(entry.entity)) return;
            auto& open_tag = open_tags[entry.entity->parent];
            if (!open_tag) open_tag = std::make_shared<const std::string>(open_tag_in_scope(entry.entity->parent));
            const IdpDescriptor& idp = *result_.idps[i];
            LazyIdp::Place place;
            place.document = document;
            place.begin = span.begin;
            place.end = span.end;
            place.sha256 = sha256(bytes.substr(span.begin, span.end - span.begin));
            place.open_tag = open_tag;
            place.outer_valid_until = entry.outer.valid_until;
            place.outer_cache_duration = entry.outer.cache_duration;
            place.valid_until = idp.valid_until;
            places.push_back(std::make_shared<const LazyIdp>(idp.entity_id, summary_of(idp), std::move(place)));
        }
        result_.idps.clear();
        result_.lazy_idps = std::move(places);
    }

private:
    static std::string qualified_name(const xmlNode* node) {
        std::string name;
        if (node->ns != nullptr && node->ns->prefix != nullptr) {
            name = reinterpret_cast<const char*>(node->ns->prefix);
            name += ':';
        }
        return name + reinterpret_cast<const char*>(node->name);
    }

    // An element declaring every namespace in scope at `parent` (the innermost declaration of a
    // prefix wins) and its xml:lang, so that an EntityDescriptor's bytes read inside it mean
    // what they meant in the document. Namespace names are written as libxml2 keeps and writes
    // them (its own serialiser does not escape them either).
    static std::string open_tag_in_scope(const xmlNode* parent) {
        std::string tag = "<saml-entity";
        std::set<std::string> declared;
        for (const xmlNode* node = parent; node != nullptr && node->type == XML_ELEMENT_NODE; node = node->parent) {
            for (const xmlNs* ns = node->nsDef; ns != nullptr; ns = ns->next) {
                const std::string prefix = ns->prefix ? reinterpret_cast<const char*>(ns->prefix) : "";
                if (!declared.insert(prefix).second) continue;
                const std::string uri = ns->href ? reinterpret_cast<const char*>(ns->href) : "";
                const char quote = uri.find('"') == std::string::npos ? '"' : '\'';
                tag += prefix.empty() ? " xmlns=" : " xmlns:" + prefix + "=";
                tag += quote + uri + quote;
            }
        }
        if (parent != nullptr && parent->type == XML_ELEMENT_NODE) {
            if (xmlChar* lang = xmlNodeGetLang(parent)) {
                tag += " xml:lang=\"" + xml_escape(reinterpret_cast<const char*>(lang)) + "\"";
                xmlFree(lang);
            }
        }
        return tag + ">";
    }

    void load_aggregate(xmlNode* aggregate, const Validity& validity) {
        // Nesting is bounded by the parser's depth limit.
        for (xmlNode* child = first_element_child(aggregate); child != nullptr; child = next_element_sibling(child)) {
            if (is_element(child, ns::metadata, "EntityDescriptor")) {
                load_entity(child, validity, /*in_aggregate=*/true);
            } else if (is_element(child, ns::metadata, "EntitiesDescriptor")) {
                Validity inner;
                try {
                    inner = narrow(validity, child);
                } catch (const Failure& failure) {
                    warn(failure.error().code, "a nested EntitiesDescriptor is skipped: " + failure.error().detail);
                    continue;
                }
                load_aggregate(child, inner);
            }
        }
    }

    void load_entity(xmlNode* entity, const Validity& outer, bool in_aggregate) {
        const auto raw_id = attribute(entity, "entityID");
        const std::string entity_id(trim(raw_id.value_or("")));
        // The same entityID twice makes it ambiguous which keys to trust: refuse the whole document.
        if (!entity_id.empty() && !seen_entity_ids_.insert(entity_id).second)
            fail(ErrorKind::Rejected, "SAML0407", "metadata-duplicate",
                 "the entityID '" + excerpt(entity_id) + "' occurs more than once");
        if (!in_aggregate) {
            load_idp(entity, entity_id, outer);
            return;
        }
        // In an aggregate one broken entity must not take the federation's others down with it.
        try {
            load_idp(entity, entity_id, outer);
        } catch (const Failure& failure) {
            warn(failure.error().code, "entity '" + excerpt(entity_id) + "' is skipped: " + failure.error().detail);
        }
    }

    void load_idp(xmlNode* entity, const std::string& entity_id, const Validity& outer) {
        if (entity_id.empty()) bad_input("SAML0403", "metadata-entity", "an EntityDescriptor lacks its entityID");
        if (entity_id.size() > max_entity_id_length)
            bad_input("SAML0403", "metadata-entity", "an entityID is longer than 1024 characters");

        std::vector<xmlNode*> roles;
        for (xmlNode* role : child_elements(entity, ns::metadata, "IDPSSODescriptor"))
            if (supports_saml2(role)) roles.push_back(role);
        if (roles.empty()) return;  // an SP, an attribute authority, a SAML 1 IdP: not ours to load
        if (roles.size() > 1)
            bad_input("SAML0418", "metadata-idp", "entity '" + excerpt(entity_id) + "' has several SAML 2.0 IDPSSODescriptors");
        xmlNode* role = roles.front();

        const Validity validity = narrow(narrow(outer, entity), role);
        if (validity.valid_until && *validity.valid_until <= options_.now && !options_.allow_expired)
            fail(ErrorKind::Rejected, "SAML0406", "metadata-validity",
                 "entity '" + excerpt(entity_id) + "' expired at " + format_datetime(*validity.valid_until));

        auto idp = std::make_shared<IdpDescriptor>();
        idp->entity_id = entity_id;
        idp->display_name = display_name_of(entity, role);
        idp->valid_until = validity.valid_until;
        idp->cache_duration = validity.cache_duration;
        idp->want_authn_requests_signed = parse_boolean(role, "WantAuthnRequestsSigned", false);
        idp->single_sign_on = read_endpoints(role, "SingleSignOnService", false);
        idp->single_logout = read_endpoints(role, "SingleLogoutService", false);
        idp->artifact_resolution = read_endpoints(role, "ArtifactResolutionService", true);
        if (idp->single_sign_on.empty())
            bad_input("SAML0414", "metadata-idp", "IdP '" + excerpt(entity_id) + "' has no SingleSignOnService");
        note_placeholder(entity_id);
        for (const xmlNode* holder : {static_cast<const xmlNode*>(entity), static_cast<const xmlNode*>(role)})
            if (const xmlNode* extensions = first_child(holder, ns::metadata, "Extensions"))
                for (const xmlNode* scope : child_elements(extensions, ns::shibmd, "Scope")) read_scope(scope, *idp);
        for (const xmlNode* format : child_elements(role, ns::metadata, "NameIDFormat")) {
            const std::string value(trim(element_text(format)));
            if (!value.empty()) idp->name_id_formats.push_back(value);
        }

        std::vector<MetadataWarning> entity_warnings;
        std::shared_ptr<DeferredCertificates> deferred;
        if (options_.defer_certificates) deferred = std::make_shared<DeferredCertificates>();
        for (const xmlNode* descriptor : child_elements(role, ns::metadata, "KeyDescriptor"))
            read_key_descriptor(descriptor, *idp, entity_warnings, deferred.get());
        idp->deferred = deferred;
        if (deferred ? !deferred->has_signing() : idp->signing.empty())
            bad_input("SAML0409", "metadata-keys", "IdP '" + excerpt(entity_id) + "' publishes no signing certificate");

        result_.warnings.insert(result_.warnings.end(), entity_warnings.begin(), entity_warnings.end());
        result_.idps.push_back(std::move(idp));
        if (options_.keep_as_places && options_.defer_certificates) pending_.push_back({entity, outer});
    }

    void read_scope(const xmlNode* node, IdpDescriptor& idp) {
        IdpScope scope;
        scope.value = std::string(trim(element_text(node)));
        const std::string regexp(trim(attribute(node, "regexp").value_or("false")));
        if (scope.value.empty() || scope.value.size() > 256)
            bad_input("SAML0420", "metadata-scope", "IdP '" + excerpt(idp.entity_id) + "' has an empty or overlong shibmd:Scope");
        if (regexp == "true" || regexp == "1") {
            scope.pattern = ScopePattern::compile(scope.value);
            if (!scope.pattern)
                bad_input("SAML0420", "metadata-scope",
                          "IdP '" + excerpt(idp.entity_id) + "' has a shibmd:Scope that is not a regular expression: " +
                              excerpt(scope.value));
        } else if (regexp != "false" && regexp != "0") {
            bad_input("SAML0420", "metadata-scope", "shibmd:Scope regexp='" + excerpt(regexp) + "' is not a boolean");
        }
        idp.scopes.push_back(std::move(scope));
    }

    void read_key_descriptor(const xmlNode* descriptor, IdpDescriptor& idp, std::vector<MetadataWarning>& warnings,
                             DeferredCertificates* deferred) {
        const auto use = attribute(descriptor, "use");
        const bool for_signing = !use || trim(*use) == "signing";
        const bool for_encryption = !use || trim(*use) == "encryption";
        if (!for_signing && !for_encryption)
            bad_input("SAML0419", "metadata-keys", "KeyDescriptor use '" + excerpt(*use) + "' is neither signing nor encryption");
        const xmlNode* key_info = unique_child(descriptor, ns::dsig, "KeyInfo");
        if (key_info == nullptr) bad_input("SAML0419", "metadata-keys", "a KeyDescriptor lacks ds:KeyInfo");

        for (const xmlNode* data : child_elements(key_info, ns::dsig, "X509Data")) {
            for (const xmlNode* cert_node : child_elements(data, ns::dsig, "X509Certificate")) {
                if (deferred != nullptr) {
                    try {
                        deferred->add(base64_decode(element_text(cert_node), max_certificate_bytes, "X509Certificate"),
                                      for_signing, for_encryption);
                    } catch (const Failure& failure) {
                        bad_input("SAML0408", "metadata-keys", "IdP '" + excerpt(idp.entity_id) +
                                                                   "' has an unreadable certificate: " + failure.error().detail);
                    }
                    continue;
                }
                const TrustedCertificate trusted = certificate(cert_node, idp.entity_id);
                // SAML trusts the key by configuration; the dates are only worth a word in the log.
                if (certificate_expired(trusted.certificate.get(), options_.now))
                    warnings.push_back({"SAML0405", "IdP '" + excerpt(idp.entity_id) + "' publishes an expired " +
                                                         (for_signing ? "signing" : "encryption") + " certificate (" +
                                                         certificate_identity(trusted.certificate.get()) +
                                                         "); it is still trusted"});
                if (for_signing) add_unique(idp.signing, trusted);
                if (for_encryption) add_unique(idp.encryption, trusted);
            }
        }
    }

    // Hosted IdPs in a federation often share one key: decode each distinct certificate once.
    TrustedCertificate certificate(const xmlNode* cert_node, const std::string& entity_id) {
        std::string der;
        try {
            der = base64_decode(element_text(cert_node), max_certificate_bytes, "X509Certificate");
            const auto cached = certificates_by_der_.find(der);
            if (cached != certificates_by_der_.end()) return cached->second;
            X509Ptr cert = load_certificate_der(der, "X509Certificate");
            TrustedCertificate trusted;
            trusted.public_key = std::shared_ptr<EVP_PKEY>(certificate_public_key(cert.get()));
            trusted.certificate = std::shared_ptr<X509>(std::move(cert));
            return certificates_by_der_.emplace(std::move(der), std::move(trusted)).first->second;
        } catch (const Failure& failure) {
            bad_input("SAML0408", "metadata-keys",
                      "IdP '" + excerpt(entity_id) + "' has an unreadable certificate: " + failure.error().detail);
        }
    }

    void warn(const std::string& code, std::string message) { result_.warnings.push_back({code, std::move(message)}); }

    // A template's placeholder left in an entityID, as in Entra ID's multi-tenant ("common",
    // "organizations") metadata, https://sts.windows.net/{tenantid}/: a real Response's Issuer
    // names one tenant, never the placeholder, so every login through this IdP would fail.
    void note_placeholder(const std::string& entity_id) {
        const auto open = entity_id.find('{');
        if (open == std::string::npos || entity_id.find('}', open) == std::string::npos) return;
        const bool entra = contains_nocase(entity_id, "{tenantid}") || contains_nocase(entity_id, "sts.windows.net/") ||
                           contains_nocase(entity_id, "login.microsoftonline.com/");
        std::string message = "IdP '" + excerpt(entity_id) + "' has a template placeholder in its entityID";
        message += entra ? ": this is Microsoft Entra ID's multi-tenant ('common') metadata, and a real Response's "
                           "Issuer names one tenant (https://sts.windows.net/<tenant-id>/), so no login through it can "
                           "succeed; use your tenant's metadata instead, "
                           "https://login.microsoftonline.com/<tenant-id>/federationmetadata/2007-06/"
                           "federationmetadata.xml?appid=<application-id> (Entra admin center: Enterprise applications, "
                           "your application, Single sign-on, App Federation Metadata Url)"
                         : ": no Response is issued under it, so no login through it can succeed; use the metadata "
                           "of your own tenant or instance, whose entityID names it";
        result_.warnings.push_back({"SAML1105", std::move(message), MetadataWarning::Level::Warning});
    }

    struct Pending {
        const xmlNode* entity;
        Validity outer;
    };

    const MetadataOptions& options_;
    LoadedMetadata result_;
    std::vector<Pending> pending_;  // IdPs to keep as places, in document order
    std::unordered_set<std::string> seen_entity_ids_;
    std::unordered_map<std::string, TrustedCertificate> certificates_by_der_;
};

// --- documents that are not metadata ------------------------------------------------------

// The <title> of an HTML page, for the message ("a page titled 'Sign in to your account'").
std::string html_title(std::string_view head) {
    const std::size_t open = find_nocase(head, "<title");
    if (open == std::string::npos) return {};
    const std::size_t start = head.find('>', open);
    const std::size_t end = start == std::string::npos ? start : head.find('<', start);
    if (end == std::string::npos) return {};
    return printable(readable_name(head.substr(start + 1, end - start - 1)), 80);
}

constexpr const char* download_hint =
    "download the IdP's SAML 2.0 metadata XML, a document that begins with <EntityDescriptor or "
    "<md:EntityDescriptor (Entra ID: 'Federation Metadata XML' or the App Federation Metadata Url; Okta: "
    "'Identity Provider metadata'; Google Workspace: 'Download metadata'; AD FS: "
    "/FederationMetadata/2007-06/FederationMetadata.xml; Keycloak: /realms/<realm>/protocol/saml/descriptor)";

// What a document that did not read as metadata is instead, when it is one of the things people
// save in its place; nullopt when it is none of them (the parser's own message stands then).
std::optional<std::string> what_else_this_is(std::string_view text) {
    std::string_view head = text.substr(0, 8192);
    if (head.substr(0, 3) == "\xEF\xBB\xBF") head.remove_prefix(3);
    while (!head.empty() && is_xml_space(head.front())) head.remove_prefix(1);
    if (starts_with_nocase(head, "-----BEGIN CERTIFICATE-----") || starts_with_nocase(head, "-----BEGIN X509 CERTIFICATE") ||
        starts_with_nocase(head, "-----BEGIN TRUSTED CERTIFICATE"))
        return std::string("this is a PEM certificate, probably the IdP's signing certificate, not its metadata (the "
                           "metadata holds that certificate along with the IdP's entityID and login URL): ") + download_hint;
    if (starts_with_nocase(head, "-----BEGIN ")) {
        const std::size_t end = head.find("-----", 11);
        const std::string label = end == std::string::npos ? "?" : printable(head.substr(11, end - 11), 40);
        return "this is a PEM file (" + label + "), not metadata: " + download_hint;
    }
    if (head.size() > 4 && static_cast<unsigned char>(head[0]) == 0x30 &&
        (static_cast<unsigned char>(head[1]) == 0x82 || static_cast<unsigned char>(head[1]) == 0x81))
        return std::string("this is a binary (DER) file, probably the IdP's certificate, not its metadata: ") + download_hint;
    if (contains_nocase(head, "<!doctype html") || contains_nocase(head, "<html")) {
        const std::string title = html_title(head);
        return "this is an HTML page" + (title.empty() ? std::string() : " titled '" + title + "'") +
               " (a login, error or download page: saved from a browser, or fetched from a URL that is not the "
               "metadata's), not SAML metadata: " + download_hint + "; with curl, check that what it saves begins so";
    }
    if (!head.empty() && (head.front() == '{' || head.front() == '['))
        return std::string("this is JSON (an OpenID Connect discovery document or an API's answer?), not SAML metadata: ") +
               download_hint;
    return std::nullopt;
}

// Throws SAML1104 when the document is recognisably something else; returns otherwise.
void refuse_other_formats(std::string_view text) {
    if (auto what = what_else_this_is(text)) bad_input("SAML1104", "metadata-not-metadata", std::move(*what));
}

void verify_metadata_signature(xmlDoc* doc, xmlNode* root, const MetadataOptions& options) {
    std::vector<PKey> owned;
    std::vector<EVP_PKEY*> keys;
    for (const auto& cert : options.signing_certificates) {
        if (!cert) fail(ErrorKind::Config, "SAML0412", "metadata-signature", "a metadata signing certificate is empty");
        owned.push_back(certificate_public_key(cert.get()));
        keys.push_back(owned.back().get());
    }
    register_unique_ids(doc, {{ns::metadata, "EntitiesDescriptor"}, {ns::metadata, "EntityDescriptor"}});
    SignatureState state = SignatureState::Absent;
    try {
        state = verify_enveloped_signature(root, keys, options.algorithms);
    } catch (const Failure& failure) {
        fail(ErrorKind::Rejected, "SAML0411", "metadata-signature",
             "the metadata signature is not valid: " + failure.error().message());
    }
    if (state != SignatureState::Verified)
        fail(ErrorKind::Rejected, "SAML0410", "metadata-signature",
             "the metadata must be signed by a configured certificate, but it is unsigned");
}

}  // namespace

void DeferredCertificates::add(std::string der, bool for_signing, bool for_encryption) {
    for (auto& entry : entries_)
        if (entry.der == der) {
            entry.for_signing = entry.for_signing || for_signing;
            entry.for_encryption = entry.for_encryption || for_encryption;
            return;
        }
    entries_.push_back({std::move(der), for_signing, for_encryption});
}

bool DeferredCertificates::has_signing() const noexcept {
    return std::any_of(entries_.begin(), entries_.end(), [](const Entry& entry) { return entry.for_signing; });
}

void DeferredCertificates::decode() const {
    std::call_once(decoded_, [this] {
        for (const auto& entry : entries_) {
            auto trusted = guarded([&] {
                X509Ptr cert = load_certificate_der(entry.der, "X509Certificate");
                TrustedCertificate decoded;
                decoded.public_key = std::shared_ptr<EVP_PKEY>(certificate_public_key(cert.get()));
                decoded.certificate = std::shared_ptr<X509>(std::move(cert));
                return decoded;
            });
            if (!trusted) continue;
            if (entry.for_signing) signing_.push_back(trusted.value());
            if (entry.for_encryption) encryption_.push_back(trusted.value());
        }
    });
}

const std::vector<TrustedCertificate>& DeferredCertificates::signing() const {
    decode();
    return signing_;
}

const std::vector<TrustedCertificate>& DeferredCertificates::encryption() const {
    decode();
    return encryption_;
}

const std::vector<TrustedCertificate>& IdpDescriptor::signing_certificates() const {
    return deferred ? deferred->signing() : signing;
}

const std::vector<TrustedCertificate>& IdpDescriptor::encryption_certificates() const {
    return deferred ? deferred->encryption() : encryption;
}

std::vector<EVP_PKEY*> IdpDescriptor::signing_keys() const {
    const auto& certificates = signing_certificates();
    std::vector<EVP_PKEY*> keys;
    keys.reserve(certificates.size());
    for (const auto& cert : certificates) keys.push_back(cert.public_key.get());
    return keys;
}

bool IdpScope::allows(std::string_view scope) const {
    if (pattern) return pattern->matches(scope);
    return ascii_iequals(scope, value);
}

const Endpoint* IdpDescriptor::find_endpoint(const std::vector<Endpoint>& endpoints, std::string_view binding) const {
    const Endpoint* first = nullptr;
    for (const auto& endpoint : endpoints) {
        if (endpoint.binding != binding) continue;
        if (endpoint.is_default) return &endpoint;
        if (first == nullptr) first = &endpoint;
    }
    return first;
}

namespace {

class OwnedDocumentBytes final : public DocumentBytes {
public:
    explicit OwnedDocumentBytes(std::string text) : text_(std::move(text)) {}
    std::string_view bytes() const noexcept override { return text_; }

private:
    std::string text_;
};

}  // namespace

std::shared_ptr<const DocumentBytes> document_bytes(std::string text) {
    return std::make_shared<const OwnedDocumentBytes>(std::move(text));
}

std::shared_ptr<const IdpDescriptor> LazyIdp::descriptor() const {
    std::call_once(read_, [this] {
        auto read = guarded([this] {
            const std::string_view all = place_.document->bytes();
            if (place_.begin >= place_.end || place_.end > all.size())
                fail(ErrorKind::Rejected, "SAML0936", "metadata-changed", "its place is outside the stored document");
            const std::string_view bytes = all.substr(place_.begin, place_.end - place_.begin);
            // The file under a mapping can be rewritten in place; what was verified is what is read.
            if (sha256(bytes) != place_.sha256)
                fail(ErrorKind::Rejected, "SAML0936", "metadata-changed",
                     "its stored metadata differs from the document that was verified");
            std::string text;
            text.reserve(place_.open_tag->size() + bytes.size() + 16);
            text.append(*place_.open_tag).append(bytes).append("</saml-entity>");
            XmlDoc doc = parse_xml(text, XmlLimits{text.size() + 1, 64}, "stored IdP metadata");
            xmlNode* entity = first_element_child(xmlDocGetRootElement(doc.get()));
            if (!is_element(entity, ns::metadata, "EntityDescriptor") ||
                std::string(trim(attribute(entity, "entityID").value_or(""))) != entity_id_)
                fail(ErrorKind::Rejected, "SAML0936", "metadata-changed", "its place no longer holds its EntityDescriptor");
            MetadataOptions options;
            options.defer_certificates = true;
            options.allow_expired = true;  // validity was checked for the document; expiry drops the document
            Loader loader(options);
            auto idp = loader.load_one(entity, entity_id_, Validity{place_.outer_valid_until, place_.outer_cache_duration});
            if (!idp) fail(ErrorKind::Rejected, "SAML0936", "metadata-changed", "its place holds no SAML 2.0 IdP");
            return idp;
        });
        if (read) descriptor_ = std::move(read).value();
        else failure_ = "IdP '" + excerpt(entity_id_) + "': " + read.error().message();
    });
    return descriptor_;
}

std::string LazyIdp::failure() const {
    descriptor();
    return failure_;
}

std::shared_ptr<const IdpDescriptor> IdpRegistry::find(std::string_view entity_id) const {
    const auto found = by_entity_id_.find(std::string(entity_id));
    if (found == by_entity_id_.end()) return nullptr;
    return found->second.lazy ? found->second.lazy->descriptor() : found->second.descriptor;
}

bool IdpRegistry::contains(std::string_view entity_id) const {
    return by_entity_id_.find(std::string(entity_id)) != by_entity_id_.end();
}

void IdpRegistry::add(std::shared_ptr<const IdpDescriptor> idp) {
    if (!idp) return;
    std::string key = idp->entity_id;
    by_entity_id_.insert_or_assign(std::move(key), Entry{std::move(idp), nullptr});
    if (source_ids_->indexed) source_ids_ = std::make_unique<SourceIds>();
}

void IdpRegistry::add(std::shared_ptr<const LazyIdp> idp) {
    if (!idp) return;
    std::string key = idp->entity_id();
    by_entity_id_.insert_or_assign(std::move(key), Entry{nullptr, std::move(idp)});
    if (source_ids_->indexed) source_ids_ = std::make_unique<SourceIds>();
}

IdpSummary summary_of(const IdpDescriptor& idp) {
    IdpSummary summary;
    summary.display_name = idp.display_name;
    for (const auto& endpoint : idp.artifact_resolution)
        if (endpoint.binding == binding::soap) summary.soap_artifact_locations.push_back(endpoint.location);
    return summary;
}

std::string IdpRegistry::unusable_reason(std::string_view entity_id) const {
    const auto found = by_entity_id_.find(std::string(entity_id));
    return found != by_entity_id_.end() && found->second.lazy ? found->second.lazy->failure() : std::string();
}

std::optional<IdpSummary> IdpRegistry::summary(std::string_view entity_id) const {
    const auto found = by_entity_id_.find(std::string(entity_id));
    if (found == by_entity_id_.end()) return std::nullopt;
    if (found->second.lazy) return found->second.lazy->summary();
    return summary_of(*found->second.descriptor);
}

std::shared_ptr<const IdpDescriptor> IdpRegistry::find_by_source_id(std::string_view source_id) const {
    std::call_once(source_ids_->built, [this] {
        for (const auto& entry : by_entity_id_) source_ids_->entity_ids.emplace(sha1(entry.first), entry.first);
        source_ids_->indexed = true;
    });
    const auto found = source_ids_->entity_ids.find(std::string(source_id));
    return found == source_ids_->entity_ids.end() ? nullptr : find(found->second);
}

std::vector<std::string> IdpRegistry::entity_ids() const {
    std::vector<std::string> ids;
    ids.reserve(by_entity_id_.size());
    for (const auto& entry : by_entity_id_) ids.push_back(entry.first);
    std::sort(ids.begin(), ids.end());
    return ids;
}

Result<LoadedMetadata> parse_idp_metadata(std::string_view xml, const MetadataOptions& options) {
    return guarded([&] {
        XmlDoc doc = [&] {
            try {
                return parse_xml(xml, options.limits, metadata_what);
            } catch (const Failure&) {
                refuse_other_formats(xml);
                throw;
            }
        }();
        xmlNode* root = xmlDocGetRootElement(doc.get());
        if (!is_element(root, ns::metadata, "EntityDescriptor") && !is_element(root, ns::metadata, "EntitiesDescriptor")) {
            refuse_other_formats(xml);  // an XHTML page parses
            bad_input("SAML0401", "metadata-root",
                      std::string("the metadata root is '") + excerpt(reinterpret_cast<const char*>(root->name)) +
                          "', not md:EntityDescriptor or md:EntitiesDescriptor");
        }
        if (!options.signing_certificates.empty()) verify_metadata_signature(doc.get(), root, options);
        Loader loader(options);
        loader.load_root(root);
        if (options.keep_as_places) loader.keep_as_places(root, options.keep_as_places);
        return loader.take();
    });
}

Result<std::chrono::seconds> parse_xs_duration(std::string_view text) {
    return guarded([&] { return duration_or_throw(text); });
}

}  // namespace saml
