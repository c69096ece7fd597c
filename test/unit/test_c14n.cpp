// Our exclusive c14n must produce exactly libxml2's bytes: checked on hand-made namespace
// corner cases and on every element of real test Responses, with and without an excluded
// Signature and an InclusiveNamespaces list, with and without comments (#WithComments).
#include "c14n.hpp"
#include "error.hpp"
#include "idp_builder.hpp"
#include "xml.hpp"

#include <libxml/c14n.h>

#include <CppUTest/TestHarness.h>

#include <memory>
#include <string>
#include <vector>

using namespace saml;
using namespace saml::test;

namespace {

struct Scope {
    const xmlNode* root;
    const xmlNode* excluded;
};

int visible(void* user, xmlNode* node, xmlNode* parent) {
    const auto* scope = static_cast<const Scope*>(user);
    const xmlNode* n = (node == nullptr || node->type == XML_NAMESPACE_DECL) ? parent : node;
    for (; n != nullptr; n = n->parent) {
        if (n == scope->excluded) return 0;
        if (n == scope->root) return 1;
    }
    return 0;
}

int append(void* context, const char* bytes, int len) {
    static_cast<std::string*>(context)->append(bytes, static_cast<std::size_t>(len));
    return len;
}

// The reference: libxml2's generic implementation with a subtree visibility callback.
std::string libxml2_c14n(const xmlNode* root, const xmlNode* excluded, std::vector<std::string> prefixes,
                         Comments comments) {
    std::string out;
    xmlOutputBuffer* buffer = xmlOutputBufferCreateIO(append, nullptr, &out, nullptr);
    std::vector<xmlChar*> list;
    for (auto& p : prefixes) list.push_back(reinterpret_cast<xmlChar*>(p.data()));
    list.push_back(nullptr);
    Scope scope{root, excluded};
    const int rc = xmlC14NExecute(root->doc, visible, &scope, XML_C14N_EXCLUSIVE_1_0,
                                  prefixes.empty() ? nullptr : list.data(), comments == Comments::Keep, buffer);
    xmlOutputBufferClose(buffer);
    CHECK(rc >= 0);
    return out;
}

std::string ours(const xmlNode* root, const xmlNode* excluded, const std::vector<std::string>& prefixes,
                 Comments comments = Comments::Omit) {
    std::string out;
    exclusive_c14n(root, excluded, prefixes, out, comments);
    return out;
}

int compared = 0;

void compare_every_element(const xmlNode* node, const std::vector<std::string>& prefixes) {
    for (; node != nullptr; node = node->next) {
        if (node->type != XML_ELEMENT_NODE) continue;
        // Exclude the first element child too, as an enveloped Signature would be.
        const xmlNode* excluded = first_element_child(node);
        for (const xmlNode* ex : {static_cast<const xmlNode*>(nullptr), excluded})
            for (const Comments comments : {Comments::Omit, Comments::Keep}) {
                const std::string expected = libxml2_c14n(node, ex, prefixes, comments);
                const std::string actual = ours(node, ex, prefixes, comments);
                if (expected != actual) {
                    std::string message = "c14n differs for <" + std::string(reinterpret_cast<const char*>(node->name)) +
                                          ">\nlibxml2: " + expected + "\nours:    " + actual;
                    FAIL(message.c_str());
                }
                ++compared;
            }
        compare_every_element(node->children, prefixes);
    }
}

void compare_document(const std::string& xml) {
    XmlDoc doc = parse_xml(xml, {1 << 20, 64}, "c14n test");
    for (const auto& prefixes : std::vector<std::vector<std::string>>{{}, {"xs"}, {"#default", "saml"}, {"xsi", "ds", "#default"}})
        compare_every_element(xmlDocGetRootElement(doc.get()), prefixes);
}

}  // namespace

TEST_GROUP(ExclusiveC14n){};

TEST(ExclusiveC14n, NamespaceCornerCases) {
    compare_document(
        "<a:root xmlns:a='urn:a' xmlns:b='urn:b' xmlns='urn:default' xmlns:unused='urn:unused' b:attr='1' z='2' a:y='3'>"
        "<child>text &amp; &lt;more&gt; \r\n</child>"
        "<b:child xmlns:b='urn:b2' b:x='&quot;q&quot;&#9;&#10;&#13;'/>"
        "<plain xmlns=''><inner xmlns='urn:default'/><inner2/></plain>"
        "<a:same xmlns:a='urn:a'><a:deeper/></a:same>"
        "<x xml:lang='en' xmlns:xs='urn:xs' attr='v' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
        "xsi:type='xs:string'>v</x>"
        "<?pi some data?><?pi2?><!-- a comment --><![CDATA[<cdata & text>]]>"
        "</a:root>");
    compare_document("<root><a xmlns='urn:x'><b xmlns=''><c xmlns='urn:x'/></b></a></root>");
    compare_document("<p:r xmlns:p='urn:p' xmlns:q='urn:q'><q:s p:a='1' q:b='2' c='3' xmlns:p2='urn:p'/></p:r>");
    // Namespace URIs with characters that attributes escape (found by fuzz_c14n): libxml2 writes
    // the URI as stored, and stores a '&' as the text "&#38;".
    compare_document("<a:root xmlns:a=\"urn:urn::&amp;x\"><!--c--></a:root>");
    // Comments as #WithComments keeps them: empty, with markup-like text, multi-line, between
    // and around elements and inside a text value (where they must not merge the two halves).
    compare_document("<r><!----><a>x<!-- <b>&amp; -->y</a><!--\r\nline\nbreaks--><b/><!--end--></r>");
    CHECK(compared > 0);
}

TEST(ExclusiveC14n, EveryElementOfRealResponses) {
    ResponseSpec spec;
    spec.assertion.attributes = typical_attributes();
    compare_document(response_xml(spec));
    spec.encrypt = true;
    spec.id += "e";
    compare_document(response_xml(spec));
    ResponseSpec ec;
    ec.signing_key = "idp-ec";
    compare_document(response_xml(ec));
}

TEST(ExclusiveC14n, CommentsOnlyWhenAsked) {
    XmlDoc doc = parse_xml("<n:NameID xmlns:n='urn:n'>admin@example.com<!-- x -->.evil.com</n:NameID>", {}, "t");
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    STRCMP_EQUAL("<n:NameID xmlns:n=\"urn:n\">admin@example.com.evil.com</n:NameID>", ours(root, nullptr, {}).c_str());
    STRCMP_EQUAL("<n:NameID xmlns:n=\"urn:n\">admin@example.com<!-- x -->.evil.com</n:NameID>",
                 ours(root, nullptr, {}, Comments::Keep).c_str());
}

TEST(ExclusiveC14n, RefusesEntityReferenceNodes) {
    XmlDoc doc = parse_xml("<a>x</a>", {}, "t");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    xmlAddChild(root, xmlNewReference(doc.get(), BAD_CAST "&ent;"));
    auto result = guarded([&] { return ours(root, nullptr, {}); });
    CHECK_FALSE(result.ok());
    STRCMP_EQUAL("SAML0225", result.error().code.c_str());
}
