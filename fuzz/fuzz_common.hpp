// Shared by the libFuzzer targets: library init once, and the fixed SP/IdP the targets use.
#pragma once

#include "init.hpp"

#include <cstdlib>

namespace saml::fuzz {

inline void init_once() {
    static const bool ready = [] {
        if (!saml::initialize_libraries()) std::abort();
        return true;
    }();
    (void)ready;
}

}  // namespace saml::fuzz
