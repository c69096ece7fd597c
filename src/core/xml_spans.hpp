// Where elements sit in a document's bytes. libxml2's tree keeps line numbers but no byte
// offsets; this scanner finds them again in a document that parse_xml already accepted
// (well-formed, no DOCTYPE), so that a part of a large verified document can be re-read alone.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace saml {

struct ElementSpan {
    std::size_t begin = 0;   // the '<' of its start tag
    std::size_t end = 0;     // one past the '>' of its end tag (or of its empty-element tag)
    std::string_view qname;  // as written: prefix:local or local
};

// The spans of the elements at these positions in document order (0 is the root element; the
// order of a pre-order walk of the tree). `ordinals` must be ascending. nullopt when the bytes do
// not scan as plain well-formed XML in an ASCII-compatible encoding (a DOCTYPE, UTF-16, a
// truncated document) or an ordinal is past the last element: the caller then keeps the tree.
std::optional<std::vector<ElementSpan>> element_spans(std::string_view xml, const std::vector<std::size_t>& ordinals);

}  // namespace saml
