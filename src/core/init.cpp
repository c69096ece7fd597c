#include "init.hpp"

#include <libxml/parser.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/xmlsec.h>

#include <mutex>

namespace saml {

namespace {

// xmlsec reports through a global callback; we read its verdicts from return codes and keep
// its chatter out of the server's stderr.
void quiet_xmlsec(const char*, int, const char*, const char*, const char*, int, const char*) {}
void quiet_libxml(void*, const char*, ...) {}

Result<Done> initialize_once() {
    xmlInitParser();
    xmlSetGenericErrorFunc(nullptr, quiet_libxml);
    xmlSecErrorsSetCallback(quiet_xmlsec);
    if (xmlSecInit() < 0)
        return Error{ErrorKind::Internal, "SAML0010", "init", "xmlsec initialisation failed"};
    if (xmlSecCheckVersion() != 1)
        return Error{ErrorKind::Internal, "SAML0011", "init", "xmlsec library version mismatch"};
    if (xmlSecCryptoAppInit(nullptr) < 0 || xmlSecCryptoInit() < 0)
        return Error{ErrorKind::Internal, "SAML0012", "init", "xmlsec-openssl initialisation failed"};
    return Done{};
}

}  // namespace

Result<Done> initialize_libraries() {
    static std::once_flag once;
    static Result<Done> outcome{Done{}};
    std::call_once(once, [] { outcome = initialize_once(); });
    return outcome;
}

}  // namespace saml
