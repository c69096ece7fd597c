#include "test_support.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>

namespace saml::test {

std::string pki_path(const std::string& file) {
    const char* dir = std::getenv("SAML_TEST_PKI");
    return std::string(dir != nullptr ? dir : "test-pki") + "/" + file;
}

std::string pki_file(const std::string& file) { return read_file(pki_path(file), 1 << 20); }

std::shared_ptr<EVP_PKEY> pki_key(const std::string& name) {
    static std::mutex lock;
    static std::map<std::string, std::shared_ptr<EVP_PKEY>> cache;
    std::lock_guard<std::mutex> guard(lock);
    auto& slot = cache[name];
    if (!slot) slot = std::shared_ptr<EVP_PKEY>(load_private_key_pem(pki_file(name + ".key"), name.c_str()).release(), EVP_PKEY_free);
    return slot;
}

std::shared_ptr<X509> pki_cert(const std::string& name) {
    static std::mutex lock;
    static std::map<std::string, std::shared_ptr<X509>> cache;
    std::lock_guard<std::mutex> guard(lock);
    auto& slot = cache[name];
    if (!slot) slot = std::shared_ptr<X509>(load_certificate_pem(pki_file(name + ".crt"), name.c_str()).release(), X509_free);
    return slot;
}

KeyPair pki_pair(const std::string& name) { return KeyPair{pki_key(name), pki_cert(name)}; }

std::string pki_cert_base64(const std::string& name) { return certificate_base64(pki_cert(name).get()); }

namespace {
Instant chosen_now = from_unix(1780315200);  // 2026-06-01T12:00:00Z
}

Instant test_now() { return chosen_now; }

void set_test_now(Instant now) { chosen_now = now; }

std::string fill(std::string text, const std::string& key, const std::string& value) {
    const std::string marker = "{{" + key + "}}";
    for (std::size_t pos = text.find(marker); pos != std::string::npos; pos = text.find(marker, pos + value.size()))
        text.replace(pos, marker.size(), value);
    return text;
}

}  // namespace saml::test
