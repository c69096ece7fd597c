// Shared by the unit tests: the test PKI (made by certs/make-test-pki; SAML_TEST_PKI names
// its directory) and small helpers.
#pragma once

#include "crypto.hpp"
#include "replay.hpp"
#include "settings.hpp"
#include "time.hpp"

#include <map>
#include <memory>
#include <string>

namespace saml::test {

std::string pki_path(const std::string& file);           // $SAML_TEST_PKI/file
std::string pki_file(const std::string& file);           // its content
std::shared_ptr<EVP_PKEY> pki_key(const std::string& name);   // name.key
std::shared_ptr<X509> pki_cert(const std::string& name);      // name.crt
KeyPair pki_pair(const std::string& name);                    // name.key + name.crt
// The certificate as metadata carries it: base64 DER, no PEM armour.
std::string pki_cert_base64(const std::string& name);

// A fixed "now" for tests: 2026-06-01T12:00:00Z, unless set_test_now chose another (the
// hostile-case generator dates its Responses for a live server's real clock).
Instant test_now();
void set_test_now(Instant now);

// The replay cache in memory: each key once; `unavailable` plays an unreachable cache.
class MemoryReplayCache : public ReplayCache {
public:
    Verdict remember(std::string_view key, Instant expiry) override {
        if (unavailable) return Verdict::Unavailable;
        return expiries.emplace(std::string(key), expiry).second ? Verdict::Fresh : Verdict::Replayed;
    }
    std::map<std::string, Instant, std::less<>> expiries;
    bool unavailable = false;
};

// Replaces every "{{KEY}}" in text.
std::string fill(std::string text, const std::string& key, const std::string& value);

}  // namespace saml::test
