// The one way the core reads XML: a parser with hard limits (size, depth), no DOCTYPE, no
// entity substitution, no DTD loading and no network; plus RAII owners and small tree helpers
// that never look past the node they are given.
#pragma once

#include <libxml/tree.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

namespace ns {
inline constexpr const char* protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
inline constexpr const char* assertion = "urn:oasis:names:tc:SAML:2.0:assertion";
inline constexpr const char* metadata = "urn:oasis:names:tc:SAML:2.0:metadata";
inline constexpr const char* dsig = "http://www.w3.org/2000/09/xmldsig#";
inline constexpr const char* dsig11 = "http://www.w3.org/2009/xmldsig11#";
inline constexpr const char* xmlenc = "http://www.w3.org/2001/04/xmlenc#";
inline constexpr const char* xmlenc11 = "http://www.w3.org/2009/xmlenc11#";
inline constexpr const char* xsi = "http://www.w3.org/2001/XMLSchema-instance";
inline constexpr const char* mdui = "urn:oasis:names:tc:SAML:metadata:ui";
inline constexpr const char* mdattr = "urn:oasis:names:tc:SAML:metadata:attribute";
inline constexpr const char* shibmd = "urn:mace:shibboleth:metadata:1.0";
}  // namespace ns

struct XmlDocDeleter {
    void operator()(xmlDoc* doc) const noexcept;
};
using XmlDoc = std::unique_ptr<xmlDoc, XmlDocDeleter>;

struct XmlLimits {
    std::size_t max_bytes = 256 * 1024;
    unsigned max_depth = 64;
};

// Parses a document under the limits. Throws Failure(BadInput) on anything else: a DOCTYPE,
// malformed XML, too deep, too large. `what` names the input in error details.
XmlDoc parse_xml(std::string_view bytes, const XmlLimits& limits, const char* what);

// Element helpers; all match on namespace URI and local name.
bool is_element(const xmlNode* node, const char* ns_uri, const char* local_name) noexcept;
// A node's local name for messages ("nothing" for null).
std::string name_of(const xmlNode* node);
xmlNode* first_element_child(const xmlNode* parent) noexcept;
xmlNode* next_element_sibling(const xmlNode* node) noexcept;
std::vector<xmlNode*> child_elements(const xmlNode* parent, const char* ns_uri, const char* local_name);
// The single child of that name; nullptr when absent; Failure(BadInput) when there are several.
xmlNode* unique_child(const xmlNode* parent, const char* ns_uri, const char* local_name);

// An attribute without a namespace, as it is in the document (no DTD defaults).
std::optional<std::string> attribute(const xmlNode* node, const char* name);
std::string required_attribute(const xmlNode* node, const char* name, const char* rule);

// The element's whole text: every text and CDATA child joined, comments skipped, so a comment
// or CDATA section cannot cut a value short. Child elements are refused (BadInput).
std::string element_text(const xmlNode* node);
// Like element_text, but descends into child elements (for structured attribute values).
std::string deep_text(const xmlNode* node);

// Serialises a node (for decrypted or embedded content in tests and diagnostics).
std::string serialize(const xmlNode* node);

std::string xml_escape(std::string_view text);  // for text and attribute values, in XML and in HTML

}  // namespace saml
