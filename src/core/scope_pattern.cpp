// Before any include: the warning is reported at lines of libstdc++'s regex headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "scope_pattern.hpp"

#include <regex>
#include <string>

namespace saml {

namespace {

class RegexScopePattern final : public ScopePattern {
public:
    explicit RegexScopePattern(const std::string& text) : regex_(text, std::regex::ECMAScript | std::regex::icase) {}
    bool matches(std::string_view scope) const override { return std::regex_match(scope.begin(), scope.end(), regex_); }

private:
    std::regex regex_;
};

}  // namespace

std::shared_ptr<const ScopePattern> ScopePattern::compile(std::string_view text) {
    try {
        return std::make_shared<const RegexScopePattern>(std::string(text));
    } catch (const std::regex_error&) {
        return nullptr;
    }
}

}  // namespace saml
