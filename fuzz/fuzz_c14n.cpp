// Differential: our exclusive c14n must equal libxml2's on every element of any document the
// secure parser accepts, with and without comments.
#include "fuzz_common.hpp"

#include "c14n.hpp"
#include "error.hpp"
#include "xml.hpp"

#include <libxml/c14n.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Scope {
    const xmlNode* root;
};

int visible(void* user, xmlNode* node, xmlNode* parent) {
    const auto* scope = static_cast<const Scope*>(user);
    const xmlNode* n = (node == nullptr || node->type == XML_NAMESPACE_DECL) ? parent : node;
    for (; n != nullptr; n = n->parent)
        if (n == scope->root) return 1;
    return 0;
}

int append(void* context, const char* bytes, int len) {
    static_cast<std::string*>(context)->append(bytes, static_cast<std::size_t>(len));
    return len;
}

void check(const xmlNode* node, const std::vector<std::string>& prefixes, int& budget) {
    for (; node != nullptr && budget > 0; node = node->next) {
        if (node->type != XML_ELEMENT_NODE) continue;
        --budget;
        for (const int with_comments : {0, 1}) {
            std::string expected;
            xmlOutputBuffer* buffer = xmlOutputBufferCreateIO(append, nullptr, &expected, nullptr);
            std::vector<std::string> copy = prefixes;
            std::vector<xmlChar*> list;
            for (auto& p : copy) list.push_back(reinterpret_cast<xmlChar*>(p.data()));
            list.push_back(nullptr);
            Scope scope{node};
            const int rc = xmlC14NExecute(node->doc, visible, &scope, XML_C14N_EXCLUSIVE_1_0,
                                          copy.empty() ? nullptr : list.data(), with_comments, buffer);
            xmlOutputBufferClose(buffer);
            if (rc < 0) return;  // libxml2 refuses (e.g. relative namespace URIs): nothing to compare
            std::string actual;
            auto ours = saml::guarded([&] {
                saml::exclusive_c14n(node, nullptr, prefixes, actual,
                                     with_comments ? saml::Comments::Keep : saml::Comments::Omit);
                return true;
            });
            if (ours && actual != expected) {
                std::fprintf(stderr, "c14n differs (comments %d)\nlibxml2: %s\nours:    %s\n", with_comments,
                             expected.c_str(), actual.c_str());
                std::abort();
            }
        }
        check(node->children, prefixes, budget);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    saml::fuzz::init_once();
    auto doc = saml::guarded([&] {
        return saml::parse_xml(std::string_view(reinterpret_cast<const char*>(data), size), {65536, 32}, "fuzz")
            .release();
    });
    if (!doc) return 0;
    saml::XmlDoc owned(doc.value());
    int budget = 64;
    check(xmlDocGetRootElement(owned.get()), {}, budget);
    budget = 16;
    check(xmlDocGetRootElement(owned.get()), {"a", "#default"}, budget);
    return 0;
}
