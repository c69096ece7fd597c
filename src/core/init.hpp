// Process-wide library set-up (libxml2, xmlsec, OpenSSL). Idempotent and thread-safe; the
// module calls it once per process, tests and tools call it from main. Never torn down:
// other modules in the same httpd (mod_php, mod_ssl) share these libraries.
#pragma once

#include "error.hpp"

namespace saml {

Result<Done> initialize_libraries();

}  // namespace saml
