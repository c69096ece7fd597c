// A regular expression from IdP metadata (shibmd:Scope regexp="true"), kept behind its own
// translation unit: std::regex's headers trip GCC 12's -Wmaybe-uninitialized under the
// sanitizer build (a known false positive in libstdc++), which is silenced there only.
#pragma once

#include <memory>
#include <string_view>

namespace saml {

class ScopePattern {
public:
    virtual ~ScopePattern() = default;
    // ECMAScript syntax, case-insensitive; nullptr when the text is not a regular expression.
    static std::shared_ptr<const ScopePattern> compile(std::string_view text);
    // True when the whole of `scope` matches.
    virtual bool matches(std::string_view scope) const = 0;
};

}  // namespace saml
