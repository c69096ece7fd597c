#include "mellon_env.hpp"

#include <cstddef>
#include <map>
#include <string_view>

namespace saml {

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

const MellonRename* rename_of(const MellonEnvOptions& options, const std::string& name) {
    for (const auto& rename : options.renames)
        if (rename.from == name) return &rename;
    return nullptr;
}

// Mellon's list: (name as stored, value), in its order.
template <typename Visit>
void for_each_pair(const Session& session, const MellonEnvOptions& options, Visit&& visit) {
    visit(std::string("NAME_ID"), session.name_id.value);
    visit(std::string("ASSERTION_ID"), session.assertion_id);
    for (const auto& attribute : session.attributes)
        for (const auto& value : attribute.values) visit(attribute.name, value);
    if (!options.idp_name.empty()) visit(options.idp_name, session.idp_entity_id);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> mellon_variables(const Session& session,
                                                                  const MellonEnvOptions& options) {
    std::vector<std::pair<std::string, std::string>> out;
    std::map<std::string, int> counts;  // per name after renaming, exact as mellon's hash
    const bool merge = !options.merge_separator.empty();
    for_each_pair(session, options, [&](const std::string& stored, const std::string& value) {
        if (value.empty()) return;
        std::string name = stored;
        std::string prefix = options.prefix;
        if (const MellonRename* rename = rename_of(options, stored)) {
            name = rename->to;
            if (!rename->prefixed) prefix.clear();
        }
        const std::string variable = prefix + name;
        auto [it, first] = counts.emplace(name, 0);
        int& count = it->second;
        if (first) {
            out.emplace_back(variable, value);
        } else if (merge) {
            // The value so far is the last one set under this name (case-insensitively).
            std::string joined;
            for (auto p = out.rbegin(); p != out.rend(); ++p)
                if (equal_ignoring_case(p->first, variable)) {
                    joined = p->second;
                    break;
                }
            out.emplace_back(variable, joined + options.merge_separator + value);
        }
        if (!merge) out.emplace_back(variable + "_" + std::to_string(count + options.index_start), value);
        ++count;
        if (options.set_count) out.emplace_back(variable + "_N", std::to_string(count));
    });
    return out;
}

}  // namespace saml
