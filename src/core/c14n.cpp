#include "c14n.hpp"

#include "error.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace saml {

namespace {

std::string_view view(const xmlChar* text) {
    return text == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(text));
}

// The two escaping rules of c14n: text nodes, and attribute values (which also escape the
// quote and the whitespace characters that attribute normalisation would otherwise change).
enum class Escaping { Text, Attribute };

const char* replacement_for(char c, Escaping escaping) {
    switch (c) {
        case '&': return "&amp;";
        case '<': return "&lt;";
        case '\r': return "&#xD;";
        case '>': return escaping == Escaping::Text ? "&gt;" : nullptr;
        case '"': return escaping == Escaping::Attribute ? "&quot;" : nullptr;
        case '\t': return escaping == Escaping::Attribute ? "&#x9;" : nullptr;
        case '\n': return escaping == Escaping::Attribute ? "&#xA;" : nullptr;
        default: return nullptr;
    }
}

// A namespace URI as libxml2's c14n (and so xmlsec, the IdPs' usual signer) writes it: as
// stored, not escaped. libxml2 keeps a '&' of the document as the text "&#38;" in the stored
// URI, so escaping it again would give "&amp;#38;" where the signer wrote "&#38;". A URI with a
// '"' goes in single quotes, or with both quote kinds in double quotes and '"' as &quot;. This
// changes no verdict on a SAML message (whose namespaces are fixed names), only agreement with
// the signer's bytes on such URIs.
void append_namespace_uri(std::string& out, std::string_view uri) {
    const bool has_double = uri.find('"') != std::string_view::npos;
    if (!has_double) {
        out += '"';
        out += uri;
        out += '"';
    } else if (uri.find('\'') == std::string_view::npos) {
        out += '\'';
        out += uri;
        out += '\'';
    } else {
        out += '"';
        for (char c : uri) {
            if (c == '"') out += "&quot;";
            else out += c;
        }
        out += '"';
    }
}

void append_escaped(std::string& out, std::string_view text, Escaping escaping) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char* replacement = replacement_for(text[i], escaping);
        if (replacement == nullptr) continue;
        out.append(text, start, i - start);
        out += replacement;
        start = i + 1;
    }
    out.append(text, start, text.size() - start);
}

void append_qname(std::string& out, const xmlNs* ns, const xmlChar* name) {
    if (ns != nullptr && ns->prefix != nullptr) {
        out += view(ns->prefix);
        out += ':';
    }
    out += view(name);
}

// A namespace declaration an output ancestor has rendered: (prefix, URI); "" is the default.
struct Rendered {
    std::string_view prefix;
    std::string_view uri;
};

class Canonicalizer {
public:
    Canonicalizer(const xmlNode* excluded, const std::vector<std::string>& inclusive, std::string& out, Comments comments)
        : excluded_(excluded), out_(out), comments_(comments) {
        for (const auto& prefix : inclusive) inclusive_.push_back(prefix == "#default" ? std::string_view() : prefix);
    }

    void element(const xmlNode* e) {
        const std::size_t scope = rendered_.size();
        out_ += '<';
        append_qname(out_, e->ns, e->name);
        namespaces(e);
        attributes(e);
        out_ += '>';
        for (const xmlNode* child = e->children; child != nullptr; child = child->next) node(child);
        out_ += "</";
        append_qname(out_, e->ns, e->name);
        out_ += '>';
        rendered_.resize(scope);
    }

private:
    void node(const xmlNode* n) {
        if (n == excluded_) return;
        switch (n->type) {
            case XML_ELEMENT_NODE: element(n); break;
            case XML_TEXT_NODE:
            case XML_CDATA_SECTION_NODE: append_escaped(out_, view(n->content), Escaping::Text); break;
            case XML_COMMENT_NODE:
                // Rendered as stored: c14n escapes nothing in a comment.
                if (comments_ == Comments::Keep) {
                    out_ += "<!--";
                    out_ += view(n->content);
                    out_ += "-->";
                }
                break;
            case XML_PI_NODE:
                out_ += "<?";
                out_ += view(n->name);
                if (n->content != nullptr && n->content[0] != '\0') {
                    out_ += ' ';
                    out_ += view(n->content);
                }
                out_ += "?>";
                break;
            default:
                fail(ErrorKind::BadInput, "SAML0225", "c14n", "the signed content holds a node type c14n does not cover");
        }
    }

    // The URI an output ancestor last rendered for prefix; nullptr when none did.
    const std::string_view* rendered_uri(std::string_view prefix) const {
        for (auto it = rendered_.rbegin(); it != rendered_.rend(); ++it)
            if (it->prefix == prefix) return &it->uri;
        return nullptr;
    }

    // Decides whether (prefix, uri) needs a declaration here, and remembers it.
    void consider(std::vector<Rendered>& pending, std::string_view prefix, std::string_view uri) {
        if (prefix == "xml") return;
        for (const auto& p : pending)
            if (p.prefix == prefix) return;
        const std::string_view* before = rendered_uri(prefix);
        if (prefix.empty() && uri.empty()) {
            // xmlns="" only undoes a default namespace an output ancestor declared.
            if (before == nullptr || before->empty()) return;
        } else if (before != nullptr && *before == uri) {
            return;
        }
        pending.push_back({prefix, uri});
    }

    void namespaces(const xmlNode* e) {
        std::vector<Rendered> pending;
        // Visibly utilized: the element's own prefix (the default one when it has none)...
        consider(pending, e->ns ? view(e->ns->prefix) : std::string_view(), e->ns ? view(e->ns->href) : std::string_view());
        // ...and the prefixes of its attributes (unprefixed attributes use no namespace).
        for (const xmlAttr* a = e->properties; a != nullptr; a = a->next)
            if (a->ns != nullptr && a->ns->prefix != nullptr) consider(pending, view(a->ns->prefix), view(a->ns->href));
        // InclusiveNamespaces: those prefixes follow the inclusive rules (in scope, not yet rendered).
        for (std::string_view prefix : inclusive_) {
            const xmlNs* in_scope = xmlSearchNs(e->doc, const_cast<xmlNode*>(e),
                                                prefix.empty() ? nullptr : reinterpret_cast<const xmlChar*>(std::string(prefix).c_str()));
            if (in_scope != nullptr) consider(pending, prefix, view(in_scope->href));
            else if (prefix.empty()) consider(pending, prefix, std::string_view());
        }
        std::sort(pending.begin(), pending.end(), [](const Rendered& a, const Rendered& b) { return a.prefix < b.prefix; });
        for (const auto& ns : pending) {
            if (ns.prefix.empty()) {
                out_ += " xmlns=";
            } else {
                out_ += " xmlns:";
                out_ += ns.prefix;
                out_ += '=';
            }
            append_namespace_uri(out_, ns.uri);
            rendered_.push_back(ns);
        }
    }

    void attributes(const xmlNode* e) {
        attrs_.clear();
        for (const xmlAttr* a = e->properties; a != nullptr; a = a->next) attrs_.push_back(a);
        if (attrs_.size() > 1)
            std::sort(attrs_.begin(), attrs_.end(), [](const xmlAttr* a, const xmlAttr* b) {
                const std::string_view ua = a->ns ? view(a->ns->href) : std::string_view();
                const std::string_view ub = b->ns ? view(b->ns->href) : std::string_view();
                if (ua != ub) return ua < ub;
                return view(a->name) < view(b->name);
            });
        for (const xmlAttr* a : attrs_) {
            out_ += ' ';
            append_qname(out_, a->ns, a->name);
            out_ += "=\"";
            for (const xmlNode* part = a->children; part != nullptr; part = part->next) {
                if (part->type == XML_TEXT_NODE) append_escaped(out_, view(part->content), Escaping::Attribute);
                else fail(ErrorKind::BadInput, "SAML0225", "c14n", "an attribute holds an entity reference");
            }
            out_ += '"';
        }
    }

    const xmlNode* excluded_;
    std::string& out_;
    const Comments comments_;
    std::vector<std::string_view> inclusive_;
    std::vector<Rendered> rendered_;
    std::vector<const xmlAttr*> attrs_;
};

}  // namespace

void exclusive_c14n(const xmlNode* root, const xmlNode* excluded, const std::vector<std::string>& inclusive_prefixes,
                    std::string& out, Comments comments) {
    Canonicalizer(excluded, inclusive_prefixes, out, comments).element(root);
}

}  // namespace saml
