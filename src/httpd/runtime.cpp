#include "runtime.hpp"

#include "config.hpp"
#include "crypto.hpp"
#include "error.hpp"
#include "idp_discovery.hpp"

#include "metadata_refresh.hpp"
#include "status.hpp"

#include <apr_strings.h>
#include <http_log.h>
#include <http_main.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unixd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

struct Problem {
    std::string text;
};

template <typename T>
T take(saml::Result<T> result, const std::string& context) {
    if (!result) throw Problem{context + ": " + result.error().detail};
    return std::move(result).value();
}

std::string read(const char* path, const char* directive, std::size_t limit) {
    auto content = saml::guarded([&] { return saml::read_file(path, limit); });
    if (!content) throw Problem{std::string(directive) + " " + path + ": " + content.error().detail};
    return content.value();
}

std::shared_ptr<EVP_PKEY> load_key(const char* path, const char* directive) {
    const std::string pem = read(path, directive, 1 << 20);
    auto key = saml::guarded([&] { return std::shared_ptr<EVP_PKEY>(saml::load_private_key_pem(pem, path).release(), EVP_PKEY_free); });
    if (!key)
        throw Problem{std::string(directive) + " " + path + ": not an unencrypted PEM RSA or EC private key (" +
                      key.error().detail + "); convert it with 'openssl pkey -in KEY -out KEY.pem'"};
    return key.value();
}

std::shared_ptr<X509> load_cert(const char* path, const char* directive) {
    const std::string pem = read(path, directive, 1 << 20);
    auto cert = saml::guarded([&] { return std::shared_ptr<X509>(saml::load_certificate_pem(pem, path).release(), X509_free); });
    if (!cert) throw Problem{std::string(directive) + " " + path + ": not a PEM certificate"};
    return cert.value();
}

saml::KeyPair load_pair(const char* cert_path, const char* key_path, const char* cert_directive,
                        const char* key_directive) {
    saml::KeyPair pair{load_key(key_path, key_directive), load_cert(cert_path, cert_directive)};
    if (!saml::key_matches_certificate(pair.key.get(), pair.certificate.get()))
        throw Problem{std::string(key_directive) + " " + key_path + " does not match " + cert_directive + " " +
                      cert_path + ": configure the certificate that was made for this key"};
    return pair;
}

const char* const* strings(const apr_array_header_t* array) {
    return array ? reinterpret_cast<const char* const*>(array->elts) : nullptr;
}

int log_level(saml::FileNotice::Level level) {
    switch (level) {
        case saml::FileNotice::Level::Notice: return APLOG_NOTICE;
        case saml::FileNotice::Level::Warning: return APLOG_WARNING;
        case saml::FileNotice::Level::Error: return APLOG_ERR;
    }
    return APLOG_ERR;
}

void log_notice(server_rec* s, const std::optional<saml::FileNotice>& notice) {
    if (notice) ap_log_error(APLOG_MARK, log_level(notice->level), 0, s, "%s %s", notice->code.c_str(), notice->message.c_str());
}

// SAMLIdPMetadataFile: loaded whatever its validUntil says (docs/METADATA.md, "Metadata files":
// the file is the administrator's statement and a refused file would fail every restart while the
// running server kept using it); what its dates mean is said loudly instead.
void load_metadata_file(server_rec* s, const char* path, Runtime& rt) {
    const std::string xml = read(path, "SAMLIdPMetadataFile", 256u * 1024 * 1024);
    saml::MetadataOptions options;
    options.limits.max_bytes = xml.size() + 1;
    options.defer_certificates = xml.size() > saml::defer_certificates_above;
    options.allow_expired = true;
    auto loaded = saml::parse_idp_metadata(xml, options);
    if (!loaded) {
        // SAML1104 already says what the file is and what to download instead.
        const char* hint = loaded.error().code == "SAML1104" ? "" : " (download the IdP's current SAML 2.0 metadata)";
        throw Problem{std::string("SAMLIdPMetadataFile ") + path + ": " + loaded.error().code + " " + loaded.error().detail + hint};
    }
    for (const auto& warning : loaded.value().warnings)
        ap_log_error(APLOG_MARK, warning.level == saml::MetadataWarning::Level::Warning ? APLOG_WARNING : APLOG_NOTICE, 0, s,
                     "%s %s: %s", warning.code.c_str(), path, warning.message.c_str());
    const auto now = saml::Clock::now();
    Runtime::MetadataFile file{path, saml::first_expiry(loaded.value())};
    log_notice(s, saml::file_expiry_notice(file.path, file.first_expiry, now, rt.metadata_warning_ahead));
    struct stat info {};
    if (stat(path, &info) == 0)
        log_notice(s, saml::file_cache_notice(file.path, loaded.value().cache_duration, saml::Clock::from_time_t(info.st_mtime), now));
    rt.metadata_files.push_back(std::move(file));
    for (const auto& idp : loaded.value().idps) rt.file_idps.push_back(idp);
}

// SAMLIdPMetadataURL: each URL becomes a source that is fetched now (or read from its backup)
// and refreshed by the children (metadata_refresh.cpp).
void load_metadata_urls(server_rec* s, ServerConfig* conf, Runtime& rt) {
    std::vector<std::shared_ptr<X509>> signers;
    const char* const* signer_files = strings(conf->idp_metadata_signing_cert_files);
    for (int i = 0; signer_files && i < conf->idp_metadata_signing_cert_files->nelts; ++i)
        signers.push_back(load_cert(signer_files[i], "SAMLIdPMetadataSigningCert"));
    if (signers.empty())
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "SAML0938 metadata from SAMLIdPMetadataURL is trusted on TLS alone: set SAMLIdPMetadataSigningCert "
                     "to the certificate that signs it");
    // Read once, now (as root): the children's fetches use it from memory.
    std::string ca_pem;
    if (conf->idp_metadata_ca_file != nullptr) {
        ca_pem = read(conf->idp_metadata_ca_file, "SAMLIdPMetadataCAFile", 16 << 20);
        if (ca_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
            throw Problem{std::string("SAMLIdPMetadataCAFile ") + conf->idp_metadata_ca_file + " holds no PEM certificate"};
    }

    const int total = or_default(conf->idp_metadata_timeout, defaults::metadata_timeout);
    const auto* const* urls = reinterpret_cast<const MetadataUrlConfig* const*>(conf->idp_metadata_urls->elts);
    for (int i = 0; i < conf->idp_metadata_urls->nelts; ++i) {
        const MetadataUrlConfig& url = *urls[i];
        saml::MetadataSourceSettings settings;
        settings.url = url.url;
        settings.backup_path = url.backup_file;
        settings.refresh_interval = std::chrono::seconds(or_default(url.refresh_interval, defaults::metadata_refresh_interval));
        settings.failure_retry = std::min(settings.refresh_interval, std::chrono::seconds(300));
        settings.http.total_timeout = std::chrono::seconds(total);
        settings.http.connect_timeout = std::chrono::seconds(std::min(total, defaults::metadata_connect_timeout));
        settings.http.max_body = static_cast<std::size_t>(or_default(conf->idp_metadata_max_size, defaults::metadata_max_size));
        settings.http.ca_pem = ca_pem;
        settings.signing_certificates = signers;
        settings.algorithms.allow_sha1 = flag_or(conf->allow_sha1, false);
        // Started as root, httpd's children run as User/Group: they must be able to replace the files.
        if (geteuid() == 0) settings.file_owner = std::make_pair(ap_unixd_config.user_id, ap_unixd_config.group_id);
        if (settings.refresh_interval < std::chrono::seconds(60))
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "SAML0938 SAMLIdPMetadataURL %s is refreshed every %d s: under 60 s is meant for tests",
                         url.url, static_cast<int>(settings.refresh_interval.count()));

        auto source = std::make_unique<saml::MetadataSource>(std::move(settings));
        if (auto usable = source->check_backup_directory(); !usable)
            throw Problem{std::string("SAMLIdPMetadataURL ") + url.url + ": " + usable.error().message()};
        std::vector<saml::SourceEvent> events;
        auto loaded = source->load_at_startup(saml::Clock::now(), events);
        log_source_events(s, events);
        if (!loaded) throw Problem{std::string("SAMLIdPMetadataURL ") + url.url + ": " + loaded.error().message()};
        rt.metadata_sources.push_back(std::move(source));
    }
    release_startup_memory();
}

// The Artifact binding's back channel: files are read now, so configtest names a bad one.
void build_artifact(const ServerConfig* conf, Runtime& rt) {
    rt.artifact_binding = conf->artifact_binding == 2   ? Runtime::ArtifactBinding::Prefer
                          : conf->artifact_binding == 1 ? Runtime::ArtifactBinding::Accept
                                                        : Runtime::ArtifactBinding::Off;
    rt.artifact.want_artifact_response_signed = flag_or(conf->artifact_response_signed, true);
    saml::HttpOptions& http = rt.artifact.http;
    const int total = or_default(conf->artifact_timeout, defaults::artifact_timeout);
    const int connect = or_default(conf->artifact_connect_timeout, std::min(total, defaults::artifact_connect_timeout));
    http.total_timeout = std::chrono::seconds(total);
    http.connect_timeout = std::chrono::seconds(std::min(connect, total));
    http.allow_plain_http = flag_or(conf->artifact_allow_http, false);
    if (conf->artifact_ca_file) {
        const std::string pem = read(conf->artifact_ca_file, "SAMLArtifactCAFile", 16 << 20);
        if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
            throw Problem{std::string("SAMLArtifactCAFile ") + conf->artifact_ca_file + " holds no PEM certificate"};
        http.ca_pem = pem;  // kept in memory: no file read per request
    }
    if (conf->artifact_client_certificate) {
        // Read now, as root: the children (www-data) need not be able to read the key file.
        const char* key_file = conf->artifact_client_key ? conf->artifact_client_key : conf->artifact_client_certificate;
        auto key = load_key(key_file, "SAMLArtifactClientCertificate");
        auto cert = load_cert(conf->artifact_client_certificate, "SAMLArtifactClientCertificate");
        if (!saml::key_matches_certificate(key.get(), cert.get()))
            throw Problem{std::string("SAMLArtifactClientCertificate: the key in ") + key_file +
                          " does not match the certificate " + conf->artifact_client_certificate};
        http.client_certificate_pem = read(conf->artifact_client_certificate, "SAMLArtifactClientCertificate", 1 << 20);
        http.client_key_pem = read(key_file, "SAMLArtifactClientCertificate", 1 << 20);
    }
}

// Says at start-up which IdPs cannot have their artifacts resolved, rather than at the first login.
void note_artifact_endpoints(server_rec* s, const Runtime& rt) {
    const auto idps = rt.registry.snapshot();
    // From the IdPs' summaries: a federation's IdPs are not read for this. One line per IdP up
    // to a few, then a count, so that a 10,000-IdP aggregate does not flood the log.
    constexpr std::size_t max_listed = 10;
    std::size_t without_soap = 0, plain_http = 0;
    for (const auto& entity_id : idps->entity_ids()) {
        const auto summary = idps->summary(entity_id);
        if (summary->soap_artifact_locations.empty()) {
            if (++without_soap <= max_listed)
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                             "SAML0973 IdP %s has no SOAP ArtifactResolutionService in its metadata; its artifacts "
                             "cannot be resolved (it can still use HTTP-POST)", entity_id.c_str());
            continue;
        }
        for (const auto& location : summary->soap_artifact_locations) {
            if (location.rfind("https://", 0) == 0 || rt.artifact.http.allow_plain_http) continue;
            if (++plain_http <= max_listed)
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                             "SAML0974 IdP %s: ArtifactResolutionService %s is not https; artifacts for it will be "
                             "refused (SAMLArtifactAllowHTTP)", entity_id.c_str(), location.c_str());
        }
    }
    if (without_soap > max_listed || plain_http > max_listed)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "SAML0973 in all, %zu of %zu IdPs have no SOAP ArtifactResolutionService and %zu "
                     "ArtifactResolutionServices are not https (the first %zu of each are listed above)",
                     without_soap, idps->size(), plain_http, max_listed);
}

void build(server_rec* s, ServerConfig* conf, Runtime& rt) {
    if (conf->sp_entity_id == nullptr)
        throw Problem{"SAMLSPEntityID is not set: give this SP's entityID, e.g. SAMLSPEntityID https://" +
                      std::string(s->server_hostname ? s->server_hostname : "www.example.org") + "/saml/metadata"};
    if (conf->sp_certificate_file == nullptr || conf->sp_private_key_file == nullptr)
        throw Problem{"SAMLSPCertificateFile and SAMLSPPrivateKeyFile are required (auth-saml-setup or openssl req -x509 "
                      "-newkey rsa:3072 -nodes makes a pair)"};
    const bool have_files = conf->idp_metadata_files != nullptr && conf->idp_metadata_files->nelts > 0;
    const bool have_urls = conf->idp_metadata_urls != nullptr && conf->idp_metadata_urls->nelts > 0;
    if (!have_files && !have_urls)
        throw Problem{"neither SAMLIdPMetadataFile nor SAMLIdPMetadataURL is set: point one of them at your IdP's metadata"};
    if (conf->session_secret_files == nullptr || conf->session_secret_files->nelts == 0)
        throw Problem{"SAMLSessionSecretFile is not set: create one with 'head -c 32 /dev/urandom > FILE; chmod 600 FILE'"};

    rt.sp.entity_id = conf->sp_entity_id;
    rt.sp.signing = load_pair(conf->sp_certificate_file, conf->sp_private_key_file, "SAMLSPCertificateFile",
                              "SAMLSPPrivateKeyFile");
    if (conf->sp_encryption_certificate_file || conf->sp_encryption_key_file) {
        if (!conf->sp_encryption_certificate_file || !conf->sp_encryption_key_file)
            throw Problem{"SAMLSPEncryptionCertificateFile and SAMLSPEncryptionKeyFile go together: set both or neither"};
        rt.sp.encryption = load_pair(conf->sp_encryption_certificate_file, conf->sp_encryption_key_file,
                                     "SAMLSPEncryptionCertificateFile", "SAMLSPEncryptionKeyFile");
        rt.sp.old_encryption_keys.push_back(rt.sp.signing);  // what was published before a split keeps working
    } else {
        rt.sp.encryption = rt.sp.signing;
    }
    const char* const* rollover = strings(conf->sp_rollover_certificate_files);
    for (int i = 0; rollover && i < conf->sp_rollover_certificate_files->nelts; ++i)
        rt.sp.rollover_certificates.push_back(load_cert(rollover[i], "SAMLSPRolloverCertificateFile"));

    rt.metadata_warning_ahead = std::chrono::hours(24) * or_default(conf->idp_metadata_warning_days, defaults::metadata_warning_days);
    rt.metadata_reminder_interval =
        std::chrono::seconds(or_default(conf->idp_metadata_reminder_seconds, defaults::metadata_reminder_seconds));
    rt.sign_metadata = flag_or(conf->sp_metadata_signed, true);
    const char* const* metadata = strings(conf->idp_metadata_files);
    for (int i = 0; have_files && i < conf->idp_metadata_files->nelts; ++i) load_metadata_file(s, metadata[i], rt);
    if (have_urls) load_metadata_urls(s, conf, rt);
    rt.rebuild_registry();
    const auto idps = rt.registry.snapshot();
    if (conf->default_idp != nullptr) {
        if (!idps->find(conf->default_idp))
            throw Problem{std::string("SAMLDefaultIdP ") + conf->default_idp +
                          " is not in the IdP metadata; the configured IdPs are listed by entityID there"};
        rt.default_idp = conf->default_idp;
    }
    if (conf->discovery_url != nullptr)
        rt.discovery_url = take(saml::check_discovery_url(conf->discovery_url), std::string("SAMLDiscoveryURL ") + conf->discovery_url);

    std::vector<std::string> secrets;
    const char* const* secret_files = strings(conf->session_secret_files);
    for (int i = 0; i < conf->session_secret_files->nelts; ++i) {
        struct stat info {};
        if (stat(secret_files[i], &info) == 0 && (info.st_mode & S_IROTH))
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "SAML0801 SAMLSessionSecretFile %s is readable by everyone: chmod 600 it", secret_files[i]);
        std::string secret = read(secret_files[i], "SAMLSessionSecretFile", 64 * 1024);
        // Every byte counts, a trailing newline included: the secret may be binary (head -c 32
        // /dev/urandom ends in 0x0a one time in 256), and every node reads the same file.
        if (secret.size() < saml::SessionSealer::min_secret_bytes)
            throw Problem{std::string("SAMLSessionSecretFile ") + secret_files[i] + " holds " +
                          std::to_string(secret.size()) +
                          " bytes; it needs at least 32 random bytes: head -c 32 /dev/urandom > FILE"};
        secrets.push_back(std::move(secret));
    }
    rt.sealer.emplace(take(saml::SessionSealer::create(std::move(secrets)), "SAMLSessionSecretFile"));

    rt.policy.algorithms.allow_sha1 = flag_or(conf->allow_sha1, false);
    rt.policy.want_response_signed = flag_or(conf->want_response_signed, false);
    rt.policy.want_assertions_signed = flag_or(conf->want_assertions_signed, false);
    rt.policy.want_assertions_encrypted = flag_or(conf->want_assertions_encrypted, false);
    rt.policy.want_logout_signed = flag_or(conf->want_logout_signed, true);
    rt.policy.allow_unsolicited = flag_or(conf->allow_unsolicited, false);
    rt.policy.allow_rsa15 = flag_or(conf->allow_rsa15, false);
    rt.policy.allow_triple_des = flag_or(conf->allow_triple_des, false);
    rt.policy.clock_skew = std::chrono::seconds(or_default(conf->clock_skew, defaults::clock_skew));
    rt.policy.xml_limits.max_bytes = static_cast<std::size_t>(or_default(conf->max_response_size, defaults::max_response_size));
    rt.sign_authn_requests = flag_or(conf->authn_requests_signed, true);
    rt.replay_failure_allows = conf->replay_cache_failure == 1;
    rt.sessions_in_cache = conf->session_store == 1;
    rt.endpoint_path = or_default(conf->endpoint_path, defaults::endpoint_path);
    if (rt.endpoint_path == "/") rt.endpoint_path.clear();
    rt.mellon_names = conf->endpoint_names == 1;
    rt.base_url = conf->base_url ? conf->base_url : "";
    build_artifact(conf, rt);
    if (rt.artifact_binding != Runtime::ArtifactBinding::Off) note_artifact_endpoints(s, rt);
    const char* const* domains = strings(conf->redirect_domains);
    for (int i = 0; domains && i < conf->redirect_domains->nelts; ++i) rt.redirect_domains.emplace_back(domains[i]);
    if (!rt.base_url.empty()) rt.sp = rt.sp_for(rt.base_url);
}

}  // namespace

std::string Runtime::endpoint_url(const std::string& base, const char* name) const {
    // SAMLEndpointNames mellon: mod_auth_mellon's URLs, so an IdP keeps the ACS and SLO it knows.
    if (mellon_names) {
        if (std::strcmp(name, "sso") == 0) name = "login";
        else if (std::strcmp(name, "acs") == 0) name = "postResponse";
        else if (std::strcmp(name, "sls") == 0) name = "logout";
    }
    // SAMLEndpointPath / keeps the walkthrough's URLs, with their trailing slash.
    return endpoint_path.empty() ? base + "/" + name + "/" : base + endpoint_path + "/" + name;
}

saml::SpSettings Runtime::sp_for(const std::string& base) const {
    saml::SpSettings settings = sp;
    settings.acs_url = endpoint_url(base, "acs");
    settings.sls_url = endpoint_url(base, "sls");
    return settings;
}

void Runtime::rebuild_registry() const {
    auto next = std::make_shared<saml::IdpRegistry>();
    for (const auto& idp : file_idps) next->add(idp);
    for (const auto& source : metadata_sources) {
        for (const auto& idp : source->idps()) next->add(idp);
        for (const auto& idp : source->lazy_idps()) next->add(idp);
    }
    registry.replace(std::move(next));
}

std::string default_idp_for(request_rec* r, const Runtime& rt) {
    if (!rt.default_idp.empty()) return rt.default_idp;
    // Looked up per request, not fixed at start: a refresh may change the only IdP's entityID.
    const saml::IdpRegistry& idps = idps_for(r, rt);
    return idps.size() == 1 ? idps.entity_ids().front() : std::string();
}

const saml::IdpRegistry& idps_for(request_rec* r, const Runtime& rt) {
    using Snapshot = std::shared_ptr<const saml::IdpRegistry>;
    const char* key = apr_psprintf(r->pool, "auth_saml:idps:%pp", static_cast<const void*>(&rt));
    void* held = nullptr;
    apr_pool_userdata_get(&held, key, r->pool);
    if (held == nullptr) {
        follow_newer_metadata(r->server, rt);
        held = new Snapshot(rt.registry.snapshot());
        apr_pool_userdata_set(held, key, [](void* p) -> apr_status_t { delete static_cast<Snapshot*>(p); return APR_SUCCESS; },
                              r->pool);
    }
    return **static_cast<Snapshot*>(held);
}

namespace {

// Every server's runtime once (virtual hosts without SAML settings of their own share the main one's).
std::vector<const Runtime*> all_runtimes() {
    std::vector<const Runtime*> runtimes;
    for (server_rec* s = ap_server_conf; s != nullptr; s = s->next) {
        const Runtime* rt = server_config(s)->runtime;
        if (rt != nullptr && std::find(runtimes.begin(), runtimes.end(), rt) == runtimes.end()) runtimes.push_back(rt);
    }
    return runtimes;
}

}  // namespace

void remind_metadata_expiry(server_rec* s, const Runtime& rt) {
    if (rt.metadata_files.empty()) return;
    // One turn for all servers, at the shortest repeat any of them asks for.
    const auto runtimes = all_runtimes();
    auto period = rt.metadata_reminder_interval;
    for (const Runtime* other : runtimes)
        if (!other->metadata_files.empty()) period = std::min(period, other->metadata_reminder_interval);
    if (!claim_turn(Turn::metadata_expiry_reminder, apr_time_now(), apr_time_from_sec(period.count()))) return;
    const auto now = saml::Clock::now();
    for (const Runtime* each : runtimes)
        for (const auto& file : each->metadata_files)
            log_notice(s, saml::file_expiry_notice(file.path, file.first_expiry, now, each->metadata_warning_ahead));
}

std::vector<MetadataFileStatus> metadata_file_status() {
    std::vector<MetadataFileStatus> files;
    const auto now = saml::Clock::now();
    for (const Runtime* rt : all_runtimes())
        for (const auto& file : rt->metadata_files) {
            if (std::any_of(files.begin(), files.end(), [&](const auto& seen) { return seen.path == file.path; })) continue;
            if (!file.first_expiry) continue;  // nothing to watch
            const auto& at = file.first_expiry->at;
            files.push_back({file.path, saml::to_unix(at),
                             std::string(at <= now ? "expired at " : "valid until ") + saml::format_datetime(at) + " (" +
                                 saml::distance_in_words(at, now) + ")" + (at <= now ? ", still used" : "") +
                                 (file.first_expiry->entity_id.empty() ? "" : ", first IdP to expire " + file.first_expiry->entity_id)});
        }
    return files;
}

bool saml_configured(const ServerConfig* conf) {
    return conf->sp_entity_id || conf->idp_metadata_files || conf->idp_metadata_urls || conf->session_secret_files || conf->sp_certificate_file ||
           conf->sp_private_key_file;
}

const char* build_runtime(apr_pool_t* pool, server_rec* s, ServerConfig* conf) {
    try {
        auto* rt = new Runtime();
        apr_pool_cleanup_register(pool, rt, [](void* p) -> apr_status_t { delete static_cast<Runtime*>(p); return APR_SUCCESS; },
                                  apr_pool_cleanup_null);
        build(s, conf, *rt);
        conf->runtime = rt;
        return nullptr;
    } catch (const Problem& problem) {
        return apr_pstrdup(pool, problem.text.c_str());
    } catch (const std::exception& e) {
        return apr_pstrcat(pool, "internal error while loading the SAML configuration: ", e.what(), nullptr);
    }
}

}  // namespace saml_httpd
