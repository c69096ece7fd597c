#include "xml.hpp"

#include "error.hpp"

#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include <cstring>

namespace saml {

void XmlDocDeleter::operator()(xmlDoc* doc) const noexcept {
    xmlFreeDoc(doc);
}

namespace {

struct ParserCtxtDeleter {
    void operator()(xmlParserCtxt* ctxt) const noexcept { xmlFreeParserCtxt(ctxt); }
};

// A DOCTYPE has no business in SAML: stop at the declaration, before any entity is read.
void refuse_doctype(void* user_data, const xmlChar*, const xmlChar*, const xmlChar*) {
    auto* ctxt = static_cast<xmlParserCtxt*>(user_data);
    auto* seen = static_cast<bool*>(ctxt->_private);
    *seen = true;
    xmlStopParser(ctxt);
}

bool deeper_than(const xmlNode* root, unsigned max_depth) {
    // Iterative walk: a hostile document must not be able to exhaust our stack.
    unsigned depth = 1;
    const xmlNode* node = root;
    for (;;) {
        if (node->type == XML_ELEMENT_NODE && depth > max_depth) return true;
        if (node->type == XML_ELEMENT_NODE && node->children != nullptr) {
            node = node->children;
            ++depth;
            continue;
        }
        while (node != root && node->next == nullptr) {
            node = node->parent;
            --depth;
        }
        if (node == root) return false;
        node = node->next;
    }
}

}  // namespace

XmlDoc parse_xml(std::string_view bytes, const XmlLimits& limits, const char* what) {
    if (bytes.empty()) fail(ErrorKind::BadInput, "SAML0101", "xml", std::string(what) + " is empty");
    if (bytes.size() > limits.max_bytes)
        fail(ErrorKind::BadInput, "SAML0102", "input-size",
             std::string(what) + " is " + std::to_string(bytes.size()) + " bytes, limit is " +
                 std::to_string(limits.max_bytes));
    if (bytes.size() > static_cast<std::size_t>(INT32_MAX))
        fail(ErrorKind::BadInput, "SAML0102", "input-size", std::string(what) + " is too large");

    std::unique_ptr<xmlParserCtxt, ParserCtxtDeleter> ctxt(xmlNewParserCtxt());
    if (!ctxt) throw std::bad_alloc();
    bool doctype_seen = false;
    ctxt->_private = &doctype_seen;
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->sax->externalSubset = refuse_doctype;

    // No NOENT (entities stay unexpanded), no DTDLOAD/DTDATTR/DTDVALID, no XINCLUDE, no HUGE.
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    XmlDoc doc(xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()), nullptr,
                                 nullptr, options));
    if (doctype_seen || (doc && (doc->intSubset != nullptr || doc->extSubset != nullptr)))
        fail(ErrorKind::BadInput, "SAML0103", "xml-doctype", std::string(what) + " contains a DOCTYPE");
    // libxml2 only warns about namespace errors (an undeclared prefix, xmlns:p=""); a SAML
    // message that is not namespace-well-formed is malformed, and its names would be ambiguous.
    if (doc && !ctxt->nsWellFormed)
        fail(ErrorKind::BadInput, "SAML0104", "xml", std::string(what) + " is not namespace-well-formed");
    if (!doc || !ctxt->wellFormed) {
        std::string reason = "not well-formed XML";
        const xmlError* err = xmlCtxtGetLastError(ctxt.get());
        if (err != nullptr && err->message != nullptr) {
            reason += " (line " + std::to_string(err->line) + ": " + err->message;
            while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
            reason += ")";
        }
        fail(ErrorKind::BadInput, "SAML0104", "xml", std::string(what) + " is " + reason);
    }
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    if (root == nullptr) fail(ErrorKind::BadInput, "SAML0104", "xml", std::string(what) + " has no root element");
    if (deeper_than(root, limits.max_depth))
        fail(ErrorKind::BadInput, "SAML0105", "xml-depth",
             std::string(what) + " nests deeper than " + std::to_string(limits.max_depth) + " levels");
    return doc;
}

std::string name_of(const xmlNode* node) { return node ? reinterpret_cast<const char*>(node->name) : "nothing"; }

bool is_element(const xmlNode* node, const char* ns_uri, const char* local_name) noexcept {
    if (node == nullptr || node->type != XML_ELEMENT_NODE) return false;
    if (std::strcmp(reinterpret_cast<const char*>(node->name), local_name) != 0) return false;
    if (ns_uri == nullptr) return node->ns == nullptr;
    return node->ns != nullptr && node->ns->href != nullptr &&
           std::strcmp(reinterpret_cast<const char*>(node->ns->href), ns_uri) == 0;
}

xmlNode* first_element_child(const xmlNode* parent) noexcept {
    if (parent == nullptr) return nullptr;
    for (xmlNode* child = parent->children; child != nullptr; child = child->next)
        if (child->type == XML_ELEMENT_NODE) return child;
    return nullptr;
}

xmlNode* next_element_sibling(const xmlNode* node) noexcept {
    for (xmlNode* next = node->next; next != nullptr; next = next->next)
        if (next->type == XML_ELEMENT_NODE) return next;
    return nullptr;
}

std::vector<xmlNode*> child_elements(const xmlNode* parent, const char* ns_uri, const char* local_name) {
    std::vector<xmlNode*> found;
    for (xmlNode* child = first_element_child(parent); child != nullptr; child = next_element_sibling(child))
        if (is_element(child, ns_uri, local_name)) found.push_back(child);
    return found;
}

xmlNode* unique_child(const xmlNode* parent, const char* ns_uri, const char* local_name) {
    xmlNode* found = nullptr;
    for (xmlNode* child = first_element_child(parent); child != nullptr; child = next_element_sibling(child)) {
        if (!is_element(child, ns_uri, local_name)) continue;
        if (found != nullptr)
            fail(ErrorKind::BadInput, "SAML0106", "structure",
                 std::string("more than one ") + local_name + " in " + reinterpret_cast<const char*>(parent->name));
        found = child;
    }
    return found;
}

std::optional<std::string> attribute(const xmlNode* node, const char* name) {
    if (node == nullptr || node->type != XML_ELEMENT_NODE) return std::nullopt;
    for (const xmlAttr* attr = node->properties; attr != nullptr; attr = attr->next) {
        if (attr->ns != nullptr || std::strcmp(reinterpret_cast<const char*>(attr->name), name) != 0) continue;
        std::string value;
        for (const xmlNode* part = attr->children; part != nullptr; part = part->next)
            if (part->type == XML_TEXT_NODE && part->content != nullptr)
                value += reinterpret_cast<const char*>(part->content);
        return value;
    }
    return std::nullopt;
}

std::string required_attribute(const xmlNode* node, const char* name, const char* rule) {
    auto value = attribute(node, name);
    if (!value || value->empty())
        fail(ErrorKind::BadInput, "SAML0107", rule,
             std::string(reinterpret_cast<const char*>(node->name)) + " lacks the " + name + " attribute");
    return *value;
}

std::string element_text(const xmlNode* node) {
    std::string text;
    for (const xmlNode* child = node->children; child != nullptr; child = child->next) {
        switch (child->type) {
            case XML_TEXT_NODE:
            case XML_CDATA_SECTION_NODE:
                if (child->content != nullptr) text += reinterpret_cast<const char*>(child->content);
                break;
            case XML_COMMENT_NODE:
            case XML_PI_NODE:
                break;
            default:
                fail(ErrorKind::BadInput, "SAML0108", "text-value",
                     std::string(reinterpret_cast<const char*>(node->name)) + " holds markup where text is expected");
        }
    }
    return text;
}

std::string deep_text(const xmlNode* node) {
    std::string text;
    for (const xmlNode* child = node->children; child != nullptr; child = child->next) {
        if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) {
            if (child->content != nullptr) text += reinterpret_cast<const char*>(child->content);
        } else if (child->type == XML_ELEMENT_NODE) {
            text += deep_text(child);  // depth is bounded by the parser's limit
        }
    }
    return text;
}

std::string serialize(const xmlNode* node) {
    std::unique_ptr<xmlBuffer, decltype(&xmlBufferFree)> buffer(xmlBufferCreate(), xmlBufferFree);
    if (!buffer) throw std::bad_alloc();
    if (xmlNodeDump(buffer.get(), node->doc, const_cast<xmlNode*>(node), 0, 0) < 0)
        fail(ErrorKind::Internal, "SAML0003", "xml", "cannot serialise node");
    return std::string(reinterpret_cast<const char*>(xmlBufferContent(buffer.get())),
                       static_cast<std::size_t>(xmlBufferLength(buffer.get())));
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;  // valid in XML and in every HTML
            case '\r': out += "&#13;"; break;
            case '\n': out += "&#10;"; break;
            case '\t': out += "&#9;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace saml
