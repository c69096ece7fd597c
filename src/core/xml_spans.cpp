#include "xml_spans.hpp"

#include <utility>

namespace saml {

namespace {

bool is_name_end(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' || c == '>'; }

}  // namespace

std::optional<std::vector<ElementSpan>> element_spans(std::string_view xml, const std::vector<std::size_t>& ordinals) {
    std::vector<ElementSpan> spans(ordinals.size());
    std::vector<std::pair<std::size_t, std::size_t>> open;  // (depth, index in spans) of wanted elements not yet closed
    std::size_t next_wanted = 0;                            // index into ordinals
    std::size_t element = 0;                                // ordinal of the next start tag
    std::size_t depth = 0;
    std::size_t pos = 0;
    auto skip_past = [&](std::string_view terminator) {
        const auto found = xml.find(terminator, pos);
        if (found == std::string_view::npos) return false;
        pos = found + terminator.size();
        return true;
    };
    while (true) {
        pos = xml.find('<', pos);
        if (pos == std::string_view::npos) break;
        const std::string_view rest = xml.substr(pos);
        if (rest.compare(0, 4, "<!--") == 0) {
            if (!skip_past("-->")) return std::nullopt;
        } else if (rest.compare(0, 9, "<![CDATA[") == 0) {
            if (!skip_past("]]>")) return std::nullopt;
        } else if (rest.compare(0, 2, "<?") == 0) {
            if (!skip_past("?>")) return std::nullopt;
        } else if (rest.compare(0, 2, "<!") == 0) {
            return std::nullopt;  // a DOCTYPE: parse_xml refuses those, so this is not such a document
        } else if (rest.compare(0, 2, "</") == 0) {
            if (depth == 0 || !skip_past(">")) return std::nullopt;
            --depth;
            if (!open.empty() && open.back().first == depth) {
                spans[open.back().second].end = pos;
                open.pop_back();
            }
        } else {
            const std::size_t begin = pos;
            std::size_t name_end = pos + 1;
            while (name_end < xml.size() && !is_name_end(xml[name_end])) ++name_end;
            if (name_end == pos + 1 || name_end >= xml.size()) return std::nullopt;
            // Attribute values may hold '>' and '/': step over quoted text to the tag's end.
            std::size_t at = name_end;
            char quote = 0;
            for (; at < xml.size(); ++at) {
                const char c = xml[at];
                if (quote != 0) {
                    if (c == quote) quote = 0;
                } else if (c == '"' || c == '\'') {
                    quote = c;
                } else if (c == '>') {
                    break;
                }
            }
            if (at >= xml.size()) return std::nullopt;
            const bool empty_element = xml[at - 1] == '/';
            pos = at + 1;
            const bool wanted = next_wanted < ordinals.size() && ordinals[next_wanted] == element;
            if (wanted) {
                ElementSpan& span = spans[next_wanted];
                span.begin = begin;
                span.qname = xml.substr(begin + 1, name_end - begin - 1);
                if (empty_element) span.end = pos;
                else open.emplace_back(depth, next_wanted);
                ++next_wanted;
            }
            ++element;
            if (!empty_element) ++depth;
        }
    }
    if (next_wanted != ordinals.size() || !open.empty() || depth != 0) return std::nullopt;
    return spans;
}

}  // namespace saml
