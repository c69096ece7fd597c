// Federation scale: what loading a signed EntitiesDescriptor of N IdPs (default 10,000, each with
// its own certificate, as research and education federations publish) costs one process: parse
// time, signature verification time, registry build time and resident memory. A figure to read,
// not a test.
//
//   make bench && ./bench/bench_metadata [entities] [--write DIR] [--include idp-metadata.xml]
//
// --write DIR keeps the signed aggregate (DIR/aggregate.xml), a second publication of it
// (DIR/aggregate-next.xml) and its signer's certificate (DIR/signer.crt) for
// bench/metadata_http_bench.py; --include adds a real IdP's
// EntityDescriptor (e.g. a SimpleSAMLphp's) to the aggregate so that logins can run through it.

#include "crypto.hpp"
#include "init.hpp"
#include "metadata.hpp"
#include "xml.hpp"
#include "xmlsig.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace saml;
using SteadyClock = std::chrono::steady_clock;

long status_kib(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    const std::size_t length = std::strlen(field);
    while (std::getline(status, line))
        if (line.compare(0, length, field) == 0) return std::strtol(line.c_str() + length, nullptr, 10);
    return -1;
}
long rss_kib() { return status_kib("VmRSS:"); }
// Private memory: what each of httpd's children would hold on its own (the mapped document's
// pages are the page cache's, shared by all of them).
long anon_kib() { return status_kib("RssAnon:"); }

// The aggregate as a mapped file, the way a refreshed child holds its backup.
class MappedFile final : public DocumentBytes {
public:
    explicit MappedFile(const std::string& text) {
        char path[] = "/tmp/bench-metadata-XXXXXX";
        const int fd = ::mkstemp(path);
        if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
        ::unlink(path);
        data_ = ::mmap(nullptr, text.size(), PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (data_ == MAP_FAILED) std::abort();
        size_ = text.size();
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() override { ::munmap(data_, size_); }
    std::string_view bytes() const noexcept override { return {static_cast<const char*>(data_), size_}; }
    void release_pages() const noexcept override { ::madvise(data_, size_, MADV_DONTNEED); }

private:
    void* data_ = nullptr;
    std::size_t size_ = 0;
};

double seconds_since(SteadyClock::time_point start) {
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

PKey make_key(int type) {
    EVP_PKEY* key = type == EVP_PKEY_RSA ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                                          : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (key == nullptr) {
        std::fprintf(stderr, "key generation failed\n");
        std::exit(1);
    }
    return PKey(key);
}

// A certificate for `subject_key` with its own serial and name, signed by `issuer_key`.
X509Ptr make_certificate(EVP_PKEY* subject_key, EVP_PKEY* issuer_key, const std::string& common_name, long serial) {
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3L * 365 * 86400);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Bench Federation Member"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), subject_key);
    X509_sign(cert.get(), issuer_key, EVP_sha256());
    return cert;
}

std::string idp_entity(int i, const std::string& cert) {
    const std::string host = "idp" + std::to_string(i) + ".university" + std::to_string(i % 97) + ".example.edu";
    const std::string id = "https://" + host + "/idp/shibboleth";
    std::string e;
    e.reserve(cert.size() * 2 + 2000);
    e += "<md:EntityDescriptor entityID=\"" + id + "\"><md:Extensions><mdrpi:RegistrationInfo registrationAuthority=\"https://federation.example.org\"/></md:Extensions>";
    e += "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol\">";
    e += "<md:Extensions><shibmd:Scope regexp=\"false\">university" + std::to_string(i) + ".example.edu</shibmd:Scope>"
         "<mdui:UIInfo><mdui:DisplayName xml:lang=\"en\">University " + std::to_string(i) + "</mdui:DisplayName>"
         "<mdui:Description xml:lang=\"en\">Identity provider of University number " + std::to_string(i) + " for staff and students</mdui:Description>"
         "</mdui:UIInfo></md:Extensions>";
    e += "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" + cert +
         "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";
    e += "<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" + cert +
         "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";
    e += "<md:ArtifactResolutionService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" Location=\"https://" + host + ":8443/idp/profile/SAML2/SOAP/ArtifactResolution\" index=\"1\"/>";
    e += "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://" + host + "/idp/profile/SAML2/Redirect/SLO\"/>";
    e += "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>";
    e += "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>";
    e += "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://" + host + "/idp/profile/SAML2/POST/SSO\"/>";
    e += "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://" + host + "/idp/profile/SAML2/Redirect/SSO\"/>";
    e += "</md:IDPSSODescriptor><md:Organization><md:OrganizationName xml:lang=\"en\">University " + std::to_string(i) +
         "</md:OrganizationName><md:OrganizationDisplayName xml:lang=\"en\">University " + std::to_string(i) +
         "</md:OrganizationDisplayName><md:OrganizationURL xml:lang=\"en\">https://university" + std::to_string(i) +
         ".example.edu/</md:OrganizationURL></md:Organization>";
    e += "<md:ContactPerson contactType=\"technical\"><md:EmailAddress>mailto:idp-admin@university" + std::to_string(i) +
         ".example.edu</md:EmailAddress></md:ContactPerson></md:EntityDescriptor>\n";
    return e;
}

// The included IdP's EntityDescriptor without its XML declaration.
std::string included_entity(const std::string& path) {
    std::string xml = read_file(path, 1 << 20);
    const auto start = xml.find("<md:EntityDescriptor");
    if (start == std::string::npos) {
        std::fprintf(stderr, "%s: no <md:EntityDescriptor\n", path.c_str());
        std::exit(2);
    }
    return xml.substr(start);
}

}  // namespace

int main(int argc, char** argv) {
    int entities = 10000;
    std::string write_dir, include;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--write") == 0 && i + 1 < argc) write_dir = argv[++i];
        else if (std::strcmp(argv[i], "--include") == 0 && i + 1 < argc) include = argv[++i];
        else entities = std::atoi(argv[i]);
    }
    if (auto init = initialize_libraries(); !init) {
        std::fprintf(stderr, "%s\n", init.error().message().c_str());
        return 1;
    }

    // Every member has its own certificate (distinct DER, as in a real federation); the keys
    // behind them are shared to keep generation quick: it is the certificates we load.
    auto generated = SteadyClock::now();
    PKey member_key = make_key(EVP_PKEY_RSA);
    PKey issuer_key = make_key(EVP_PKEY_EC);
    PKey signer_key = make_key(EVP_PKEY_RSA);
    X509Ptr signer_cert = make_certificate(signer_key.get(), signer_key.get(), "Bench Federation Metadata Signer", 1);
    const auto valid_until = format_datetime(Clock::now() + std::chrono::hours(24 * 10));
    std::string body;
    body.reserve(static_cast<std::size_t>(entities) * 4200);
    body += "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
            "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:mdrpi=\"urn:oasis:names:tc:SAML:metadata:rpi\" "
            "xmlns:mdui=\"urn:oasis:names:tc:SAML:metadata:ui\" xmlns:shibmd=\"urn:mace:shibboleth:metadata:1.0\" "
            "ID=\"_bench_federation\" Name=\"https://federation.example.org\" cacheDuration=\"PT6H\" validUntil=\"" +
            valid_until + "\">\n";
    for (int i = 0; i < entities; ++i) {
        X509Ptr cert = make_certificate(member_key.get(), issuer_key.get(), "idp" + std::to_string(i) + ".example.edu", 1000 + i);
        body += idp_entity(i, certificate_base64(cert.get()));
    }
    if (!include.empty()) body += included_entity(include) + "\n";
    body += "</md:EntitiesDescriptor>\n";
    auto sign = [&](const std::string& text) {
        XmlDoc doc = parse_xml(text, XmlLimits{512u * 1024 * 1024, 64}, "aggregate");
        xmlNode* root = xmlDocGetRootElement(doc.get());
        sign_enveloped(root, nullptr, signer_key.get(), signer_cert.get(),
                       *find_signature_algorithm(default_signature_algorithm(signer_key.get())));
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + serialize(root);
    };
    const std::string xml = sign(body);
    // The federation's next publication (another Name): what a refresh fetches.
    std::string next_xml;
    if (!write_dir.empty()) {
        const std::string name = "Name=\"https://federation.example.org\"";
        body.replace(body.find(name), name.size(), "Name=\"https://federation.example.org/next\"");
        next_xml = sign(body);
    }
    body.clear();
    body.shrink_to_fit();
    std::printf("generated a signed aggregate of %d IdPs (distinct certificates): %.1f MB in %.1f s\n", entities,
                static_cast<double>(xml.size()) / 1e6, seconds_since(generated));
    if (!write_dir.empty()) {
        std::ofstream(write_dir + "/aggregate.xml", std::ios::binary) << xml;
        std::ofstream(write_dir + "/aggregate-next.xml", std::ios::binary) << next_xml;
        FILE* pem = std::fopen((write_dir + "/signer.crt").c_str(), "w");
        if (pem == nullptr) return 1;
        PEM_write_X509(pem, signer_cert.get());
        std::fclose(pem);
        std::printf("wrote aggregate.xml, aggregate-next.xml and signer.crt in %s\n", write_dir.c_str());
    }

    // Where the time goes: the XML parse alone, and decoding the certificates alone.
    {
        auto start = SteadyClock::now();
        XmlDoc doc = parse_xml(xml, XmlLimits{xml.size() + 1, 64}, "aggregate");
        const double xml_s = seconds_since(start);
        start = SteadyClock::now();
        register_unique_ids(doc.get(), {{ns::metadata, "EntitiesDescriptor"}, {ns::metadata, "EntityDescriptor"}});
        PKey signer_public = certificate_public_key(signer_cert.get());
        const bool verified = verify_enveloped_signature(xmlDocGetRootElement(doc.get()), {signer_public.get()},
                                                         AlgorithmPolicy{}) == SignatureState::Verified;
        const double verify_s = seconds_since(start);
        std::vector<std::string> ders;
        for (int i = 0; i < entities; ++i) {
            X509Ptr cert = make_certificate(member_key.get(), issuer_key.get(), "c" + std::to_string(i), 5000000 + i);
            unsigned char* out = nullptr;
            const int length = i2d_X509(cert.get(), &out);
            ders.emplace_back(reinterpret_cast<char*>(out), static_cast<std::size_t>(length));
            OPENSSL_free(out);
        }
        start = SteadyClock::now();
        for (const auto& der : ders) {
            X509Ptr cert = load_certificate_der(der, "bench");
            PKey key = certificate_public_key(cert.get());
        }
        std::printf("breakdown: XML parse %.2f s; signature (IDs, c14n, digest, RSA) %.2f s, %s; %d certificates "
                    "decoded with their public keys %.2f s\n",
                    xml_s, verify_s, verified ? "verified" : "NOT VERIFIED", entities, seconds_since(start));
    }

    auto signer = std::shared_ptr<X509>(X509_dup(signer_cert.get()), X509_free);
    malloc_trim(0);
    const long baseline = rss_kib();
    const long baseline_anon = anon_kib();
    for (int round = 0; round < 6; ++round) {
        // Rounds 1-2 as SAMLIdPMetadataURL loads a large document now (IdPs kept as places in the
        // mapped backup file, read on first use); 3-4 parsed with certificates decoded on an IdP's
        // first use (as it did before); 5-6 with every certificate decoded at load (as
        // SAMLIdPMetadataFile does).
        const bool places = round < 2;
        const bool deferred = round < 4;
        const auto document = places ? std::make_shared<const MappedFile>(xml) : nullptr;
        MetadataOptions unsigned_options;
        unsigned_options.limits.max_bytes = xml.size() + 1;
        unsigned_options.defer_certificates = deferred;
        auto start = SteadyClock::now();
        auto parsed = parse_idp_metadata(xml, unsigned_options);
        const double parse_s = seconds_since(start);
        if (!parsed) {
            std::fprintf(stderr, "%s\n", parsed.error().message().c_str());
            return 1;
        }
        parsed = Error{};
        malloc_trim(0);

        MetadataOptions options = unsigned_options;
        options.signing_certificates = {signer};
        options.keep_as_places = document;
        start = SteadyClock::now();
        auto loaded = parse_idp_metadata(places ? document->bytes() : std::string_view(xml), options);
        if (places) document->release_pages();  // as MetadataSource does after verifying
        const double verified_s = seconds_since(start);
        if (!loaded) {
            std::fprintf(stderr, "%s\n", loaded.error().message().c_str());
            return 1;
        }
        start = SteadyClock::now();
        auto registry = std::make_shared<IdpRegistry>();
        for (const auto& idp : loaded.value().idps) registry->add(idp);
        for (const auto& idp : loaded.value().lazy_idps) registry->add(idp);
        loaded = Error{};
        const double index_s = seconds_since(start);
        malloc_trim(0);
        const long held = rss_kib();
        const long held_anon = anon_kib();
        start = SteadyClock::now();
        std::size_t found = 0;
        for (int i = 0; i < 100000; ++i) {
            auto idp = registry->find("https://idp" + std::to_string(i % entities) + ".university" +
                                      std::to_string((i % entities) % 97) + ".example.edu/idp/shibboleth");
            found += idp != nullptr && idp->signing_keys().size() == 1;  // also decodes a deferred IdP's certificate
        }
        const double lookup_us = seconds_since(start) * 1e6 / 100000;
        std::printf("%s round %d: parse %.2f s, parse+verify %.2f s, index %.3f s, %zu IdPs; "
                    "RSS held %+.1f MB, of it private %+.1f MB; lookup + keys %.2f us (%zu found%s)\n",
                    places ? "kept as places" : deferred ? "deferred certificates" : "certificates at load", round + 1,
                    parse_s, verified_s, index_s, registry->size(), static_cast<double>(held - baseline) / 1024.0,
                    static_cast<double>(held_anon - baseline_anon) / 1024.0, lookup_us, found,
                    places ? "; each IdP read from its place on its first lookup" : "");
    }
    return 0;
}
