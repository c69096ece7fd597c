// Metadata from a URL (MetadataSource) against a real socket on loopback that answers what the
// test scripts, with real files for the backup and its state; the swapped registry; deferred
// certificates. Times are passed in, so "an hour later" needs no waiting.
#include "metadata_source.hpp"
#include "test_support.hpp"
#include "xmlsig.hpp"

#include "loopback_listener.hpp"

#include <CppUTest/TestHarness.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

using namespace saml;

namespace {

// Answers every connection with the current answer until destroyed; remembers the requests.
class ScriptedServer {
public:
    ScriptedServer() {
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        listener_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(listener_.port()) + "/federation.xml"; }
    void answer(int status, const std::string& body, const std::string& etag = "") {
        std::lock_guard<std::mutex> lock(mutex_);
        status_ = status;
        body_ = body;
        etag_ = etag;
    }
    std::string last_request() {
        std::lock_guard<std::mutex> lock(mutex_);
        return last_request_;
    }
    int requests() {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }

private:
    void serve() {
        for (;;) {
            const int connection = accept(listener_.fd(), nullptr, nullptr);
            if (connection < 0) return;
            std::string request;
            char buffer[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                const ssize_t got = read(connection, buffer, sizeof buffer);
                if (got <= 0) break;
                request.append(buffer, static_cast<std::size_t>(got));
            }
            std::string reply;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                last_request_ = request;
                ++requests_;
                int status = status_;
                std::string body = body_;
                if (!etag_.empty() && request.find("If-None-Match: " + etag_ + "\r\n") != std::string::npos) {
                    status = 304;
                    body.clear();
                }
                reply = "HTTP/1.1 " + std::to_string(status) + " X\r\n" +
                        (etag_.empty() ? std::string() : "ETag: " + etag_ + "\r\n") +
                        "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
            }
            std::size_t sent = 0;
            while (sent < reply.size()) {
                const ssize_t put = write(connection, reply.data() + sent, reply.size() - sent);
                if (put <= 0) break;
                sent += static_cast<std::size_t>(put);
            }
            close(connection);
        }
    }

    saml::test::LoopbackListener listener_{8};
    std::thread thread_;
    std::mutex mutex_;
    int status_ = 503;
    std::string body_;
    std::string etag_;
    std::string last_request_;
    int requests_ = 0;
};

std::string entity(const std::string& entity_id, const std::string& extra_attributes = "") {
    return "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
           "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"_md\" entityID=\"" + entity_id + "\"" + extra_attributes +
           "><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
           "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" +
           test::pki_cert_base64("idp-rsa") +
           "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
           "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" "
           "Location=\"" + entity_id + "/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>";
}

std::string signed_by(const std::string& xml, const std::string& signer) {
    XmlDoc doc = parse_xml(xml, XmlLimits{1 << 20, 64}, "fixture");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    auto key = test::pki_key(signer);
    sign_enveloped(root, nullptr, key.get(), test::pki_cert(signer).get(),
                   *find_signature_algorithm(default_signature_algorithm(key.get())));
    return serialize(root);
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

bool has_event(const std::vector<SourceEvent>& events, const char* code, SourceEvent::Level level,
               const std::string& containing = "") {
    for (const auto& event : events)
        if (event.code == code && event.level == level && event.message.find(containing) != std::string::npos) return true;
    return false;
}

std::string all_events(const std::vector<SourceEvent>& events) {
    std::string text;
    for (const auto& event : events) text += event.code + " " + event.message + "\n";
    return text;
}

// `steps` refresh steps 10 s apart after `start`, each saying nothing.
void expect_quiet_steps(MetadataSource& source, Instant start, int steps) {
    for (int step = 1; step <= steps; ++step) {
        std::vector<SourceEvent> events;
        source.refresh_step(start + std::chrono::seconds(10 * step), events);
        CHECK_TRUE_TEXT(events.empty(), all_events(events).c_str());
    }
}

const std::string kIdp = "https://idp.example.org";
const std::string kSigner = "idp-rsa-next";  // the federation's metadata signer

}  // namespace

TEST_GROUP(MetadataSource) {
    std::string dir;
    std::unique_ptr<ScriptedServer> server;

    void setup() override {
        char name[] = "/tmp/saml-mdsource-XXXXXX";
        dir = mkdtemp(name);
        server = std::make_unique<ScriptedServer>();
    }
    void teardown() override {
        server.reset();
        std::system(("rm -rf '" + dir + "'").c_str());
    }
    MetadataSourceSettings settings() const {
        MetadataSourceSettings s;
        s.url = server->url();
        s.backup_path = dir + "/federation.xml";
        s.refresh_interval = std::chrono::seconds(60);
        s.failure_retry = std::chrono::seconds(60);
        s.http.allow_plain_http = true;
        s.http.connect_timeout = std::chrono::milliseconds(1000);
        s.http.total_timeout = std::chrono::milliseconds(3000);
        s.signing_certificates = {test::pki_cert(kSigner)};
        return s;
    }
};

TEST(MetadataSource, StartUpFetchesVerifiesAndKeepsTheDocumentAndItsState) {
    const std::string document = signed_by(entity(kIdp), kSigner);
    server->answer(200, document, "\"v1\"");
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE_TEXT(source.load_at_startup(Clock::now(), events).ok(), all_events(events).c_str());
    LONGS_EQUAL(1, source.idps().size());
    STRCMP_EQUAL(kIdp.c_str(), source.idps()[0]->entity_id.c_str());
    CHECK_TRUE(source.idps()[0]->deferred == nullptr);  // a small document: certificates decoded at load
    LONGS_EQUAL(1, source.idps()[0]->signing_keys().size());
    CHECK_TRUE(slurp(settings().backup_path) == document);
    STRCMP_EQUAL("ok\n\"v1\"\n\n", slurp(source.state_path()).c_str());
    CHECK_TRUE(has_event(events, "SAML0928", SourceEvent::Level::Info));
}

TEST(MetadataSource, AWarningAboutTheDocumentIsLoggedAsAWarningAndAnHtmlAnswerIsNamed) {
    // Entra ID's 'common' metadata from a URL: a warning that no login through it can work.
    const std::string common = "https://sts.windows.net/{tenantid}/";
    server->answer(200, signed_by(entity(common), kSigner));
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE_TEXT(source.load_at_startup(Clock::now(), events).ok(), all_events(events).c_str());
    CHECK_TRUE_TEXT(has_event(events, "SAML1105", SourceEvent::Level::Warning, "no login through it can succeed"),
                    all_events(events).c_str());
    // A sign-in page where the metadata should be (a proxy's or the IdP's): refused, and named.
    server->answer(200, "<!DOCTYPE html><html><head><title>Sign in</title></head><body></body></html>");
    MetadataSource page(settings());
    std::vector<SourceEvent> page_events;
    std::system(("rm -f '" + settings().backup_path + "' '" + page.state_path() + "'").c_str());
    auto refused = page.load_at_startup(Clock::now(), page_events);
    CHECK_FALSE(refused.ok());
    CHECK_TRUE_TEXT(refused.error().message().find("SAML1104") != std::string::npos &&
                        refused.error().message().find("an HTML page titled 'Sign in'") != std::string::npos,
                    refused.error().message().c_str());
}

TEST(MetadataSource, StartUpWithTheUrlDownUsesTheBackupAndSaysWhy) {
    spit(settings().backup_path, signed_by(entity(kIdp), kSigner));
    server->answer(503, "down");
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());
    LONGS_EQUAL(1, source.idps().size());
    CHECK_TRUE_TEXT(has_event(events, "SAML0926", SourceEvent::Level::Warning, "HTTP 503"), all_events(events).c_str());
}

TEST(MetadataSource, StartUpWithNeitherNamesTheUrlTheBackupAndBothReasons) {
    spit(settings().backup_path, entity(kIdp));  // unsigned: refused
    server->answer(200, signed_by(entity(kIdp), "attacker"));
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    auto result = source.load_at_startup(Clock::now(), events);
    CHECK_FALSE(result.ok());
    STRCMP_EQUAL("SAML0927", result.error().code.c_str());
    const std::string& detail = result.error().detail;
    CHECK_TRUE(detail.find(server->url()) != std::string::npos);
    CHECK_TRUE(detail.find(settings().backup_path) != std::string::npos);
    CHECK_TRUE_TEXT(detail.find("SAML0411") != std::string::npos, detail.c_str());  // the URL's wrong signer
    CHECK_TRUE_TEXT(detail.find("SAML0410") != std::string::npos, detail.c_str());  // the unsigned backup
}

TEST(MetadataSource, ALargeDocumentDefersItsCertificates) {
    MetadataSourceSettings s = settings();
    s.defer_certificates_above = 1000;
    server->answer(200, signed_by(entity(kIdp), kSigner));
    MetadataSource source(s);
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());
    // Kept as its place in the mapped backup file, read on first use.
    LONGS_EQUAL(0, source.idps().size());
    LONGS_EQUAL(1, source.lazy_idps().size());
    const auto idp = source.lazy_idps()[0]->descriptor();
    CHECK_TRUE(idp != nullptr);
    CHECK_TRUE(idp->deferred != nullptr);
    LONGS_EQUAL(1, idp->signing_keys().size());
}

TEST(MetadataSource, ALargeDocumentsIdpsPointIntoTheBackupFileAndAreRefusedIfItIsRewrittenInPlace) {
    MetadataSourceSettings s = settings();
    s.defer_certificates_above = 1000;
    server->answer(200, signed_by(entity(kIdp), kSigner));
    MetadataSource fetcher(s);
    MetadataSource other(s);  // another child: takes the backup file the fetcher wrote
    std::vector<SourceEvent> events;
    CHECK_TRUE(fetcher.load_at_startup(Clock::now(), events).ok());
    CHECK_TRUE(other.load_at_startup(Clock::now(), events).ok());
    LONGS_EQUAL(1, other.lazy_idps().size());
    // Someone with write access changes the file under the mapping, without a rename: the
    // bytes no longer hash to what was verified, and the IdP is not read from them.
    std::string text;
    {
        std::ifstream in(s.backup_path);
        std::stringstream all;
        all << in.rdbuf();
        text = all.str();
    }
    const auto at = text.find("https://idp.example.org/sso");
    CHECK_TRUE(at != std::string::npos);
    {
        std::fstream out(s.backup_path, std::ios::in | std::ios::out | std::ios::binary);
        out.seekp(static_cast<std::streamoff>(at));
        out << "https://evil.example.org/ss";
    }
    CHECK_TRUE(other.lazy_idps()[0]->descriptor() == nullptr);
    CHECK_TRUE(other.lazy_idps()[0]->failure().find("SAML0936") != std::string::npos);
    // The fetcher verified from its own mapping of the same file: the same refusal.
    CHECK_TRUE(fetcher.lazy_idps()[0]->descriptor() == nullptr);
}

TEST(MetadataSource, ARefusedRefreshKeepsTheMetadataAndTheBackupAndWarnsOncePerReason) {
    const std::string good = signed_by(entity(kIdp), kSigner);
    server->answer(200, good);
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());

    server->answer(200, signed_by(entity(kIdp, " validUntil=\"2001-01-01T00:00:00Z\""), kSigner));
    events.clear();
    CHECK_FALSE(source.refresh_step(Clock::now() + std::chrono::seconds(61), events));
    CHECK_TRUE_TEXT(has_event(events, "SAML0920", SourceEvent::Level::Warning, "SAML0406"), all_events(events).c_str());
    LONGS_EQUAL(1, source.idps().size());
    CHECK_TRUE(slurp(settings().backup_path) == good);
    CHECK_TRUE(slurp(source.state_path()).rfind("failed\n", 0) == 0);

    events.clear();
    CHECK_FALSE(source.refresh_step(Clock::now() + std::chrono::seconds(122), events));
    CHECK_TRUE_TEXT(has_event(events, "SAML0932", SourceEvent::Level::Info, "SAML0406"), all_events(events).c_str());
    CHECK_FALSE(has_event(events, "SAML0920", SourceEvent::Level::Warning));

    server->answer(200, "<md:EntityDescriptor");  // another reason: a warning again
    events.clear();
    source.refresh_step(Clock::now() + std::chrono::seconds(183), events);
    CHECK_TRUE_TEXT(has_event(events, "SAML0920", SourceEvent::Level::Warning, "SAML0923"), all_events(events).c_str());
    LONGS_EQUAL(1, source.idps().size());
}

TEST(MetadataSource, NothingIsFetchedBeforeItIsDueAndThenOnlyIfChanged) {
    server->answer(200, signed_by(entity(kIdp), kSigner), "\"v1\"");
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());
    const int after_start = server->requests();
    CHECK_FALSE(source.refresh_step(Clock::now() + std::chrono::seconds(30), events));
    LONGS_EQUAL(after_start, server->requests());
    CHECK_FALSE(source.refresh_step(Clock::now() + std::chrono::seconds(61), events));  // 304
    LONGS_EQUAL(after_start + 1, server->requests());
    CHECK_TRUE(server->last_request().find("If-None-Match: \"v1\"\r\n") != std::string::npos);
    LONGS_EQUAL(1, source.idps().size());
}

TEST(MetadataSource, ANewDocumentReachesAnotherProcessThroughTheBackupFile) {
    server->answer(200, signed_by(entity(kIdp), kSigner));
    MetadataSource fetcher(settings());
    MetadataSource other(settings());  // another child, sharing the files
    std::vector<SourceEvent> events;
    CHECK_TRUE(fetcher.load_at_startup(Clock::now(), events).ok());
    CHECK_TRUE(other.load_at_startup(Clock::now(), events).ok());
    const int requests = server->requests();
    LONGS_EQUAL(1, requests);  // the second start-up took the fresh backup

    server->answer(200, signed_by(entity("https://new-idp.example.org"), kSigner));
    events.clear();
    CHECK_TRUE(fetcher.refresh_step(Clock::now() + std::chrono::seconds(61), events));
    STRCMP_EQUAL("https://new-idp.example.org", fetcher.idps()[0]->entity_id.c_str());
    events.clear();
    // Just after the fetch (real time: the state file's mtime says when it ended): nothing is due.
    CHECK_TRUE_TEXT(other.refresh_step(Clock::now() + std::chrono::seconds(1), events), all_events(events).c_str());
    STRCMP_EQUAL("https://new-idp.example.org", other.idps()[0]->entity_id.c_str());
    CHECK_TRUE(has_event(events, "SAML0934", SourceEvent::Level::Info));
    LONGS_EQUAL(requests + 1, server->requests());  // the other process did not fetch again
}

// Finding F4 of the soak: a child that httpd starts between restarts is a copy of the parent,
// which holds the metadata of the last restart. Before it uses the IdPs a process asks whether
// the backup changed (one stat) and, if so, takes it at once rather than at its next refresh step.
TEST(MetadataSource, AProcessStillHoldingOlderMetadataSeesTheNewBackupBeforeItsNextStep) {
    server->answer(200, signed_by(entity(kIdp), kSigner));
    MetadataSource fetcher(settings());
    MetadataSource forked(settings());  // as the parent left it: the document of the last start
    std::vector<SourceEvent> events;
    CHECK_TRUE(fetcher.load_at_startup(Clock::now(), events).ok());
    CHECK_TRUE(forked.load_at_startup(Clock::now(), events).ok());
    CHECK_FALSE(forked.backup_changed());
    CHECK_FALSE(fetcher.backup_changed());

    server->answer(200, signed_by(entity("https://new-idp.example.org"), kSigner));
    CHECK_TRUE(fetcher.refresh_step(Clock::now() + std::chrono::seconds(61), events));
    CHECK_FALSE(fetcher.backup_changed());  // its own file
    CHECK_TRUE(forked.backup_changed());
    events.clear();
    CHECK_TRUE_TEXT(forked.follow_backup(Clock::now(), events), all_events(events).c_str());
    STRCMP_EQUAL("https://new-idp.example.org", forked.idps()[0]->entity_id.c_str());
    CHECK_TRUE(has_event(events, "SAML0934", SourceEvent::Level::Info));
    CHECK_FALSE(forked.backup_changed());
    events.clear();
    CHECK_FALSE(forked.follow_backup(Clock::now(), events));  // nothing new: nothing read
    CHECK_TRUE(events.empty());
}

TEST(MetadataSource, ATamperedBackupIsNotFollowedAndIsLookedAtOnlyOnce) {
    const std::string good = signed_by(entity(kIdp), kSigner);
    server->answer(200, good);
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());
    std::string tampered = good;
    tampered.replace(tampered.find(kIdp + "/sso"), kIdp.size() + 4, "https://evil.example.org/sso");
    spit(settings().backup_path + ".tmp", tampered);
    CHECK_EQUAL(0, std::rename((settings().backup_path + ".tmp").c_str(), settings().backup_path.c_str()));
    CHECK_TRUE(source.backup_changed());
    events.clear();
    CHECK_FALSE(source.follow_backup(Clock::now(), events));
    CHECK_TRUE_TEXT(has_event(events, "SAML0925", SourceEvent::Level::Warning), all_events(events).c_str());
    STRCMP_EQUAL((kIdp + "/sso").c_str(), source.idps()[0]->single_sign_on.at(0).location.c_str());
    CHECK_FALSE(source.backup_changed());  // refused once, not again on every request
    events.clear();
    CHECK_FALSE(source.refresh_step(Clock::now() + std::chrono::seconds(1), events));
    CHECK_TRUE_TEXT(events.empty(), all_events(events).c_str());
}

// A document that verified but could not be written (a full disk) is used from memory; the older
// backup file still there must not take its place again at the next step.
TEST(MetadataSource, ADocumentThatCouldNotBeKeptIsNotReplacedByTheOlderBackup) {
    server->answer(200, signed_by(entity(kIdp), kSigner));
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());
    CHECK_EQUAL(0, mkdir((settings().backup_path + ".new").c_str(), 0700));  // the staging file cannot be made
    server->answer(200, signed_by(entity("https://new-idp.example.org"), kSigner));
    events.clear();
    CHECK_TRUE(source.refresh_step(Clock::now() + std::chrono::seconds(61), events));
    CHECK_TRUE_TEXT(has_event(events, "SAML0924", SourceEvent::Level::Error), all_events(events).c_str());
    STRCMP_EQUAL("https://new-idp.example.org", source.idps()[0]->entity_id.c_str());
    CHECK_FALSE(source.backup_changed());
    events.clear();
    source.refresh_step(Clock::now() + std::chrono::seconds(62), events);
    STRCMP_EQUAL("https://new-idp.example.org", source.idps()[0]->entity_id.c_str());
}

// A full disk under the backup directory: neither the document nor the state file can be
// written (the state file is /dev/full here: it opens, every write fails with ENOSPC). The state
// file used to be left as it was, so the next step found a fetch due again and downloaded the
// document at every step, logging SAML0924 and SAML0939 each time. Now the process remembers the
// attempt: one download, one SAML0924, one SAML0930 warning, then the refresh interval.
TEST(MetadataSource, AFullDiskCostsOneDownloadPerRefreshNotOnePerStep) {
    MetadataSourceSettings hourly = settings();
    hourly.refresh_interval = std::chrono::seconds(3600);
    server->answer(200, signed_by(entity(kIdp), kSigner));
    MetadataSource source(hourly);
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());
    CHECK_EQUAL(0, std::remove(source.state_path().c_str()));
    CHECK_EQUAL(0, symlink("/dev/full", source.state_path().c_str()));
    CHECK_EQUAL(0, mkdir((hourly.backup_path + ".new").c_str(), 0700));  // the staging file cannot be made
    server->answer(200, signed_by(entity("https://new-idp.example.org"), kSigner));
    const int before = server->requests();
    const Instant start = Clock::now();
    events.clear();
    CHECK_TRUE(source.refresh_step(start, events));  // no state that can be read: due
    LONGS_EQUAL(before + 1, server->requests());
    STRCMP_EQUAL("https://new-idp.example.org", source.idps()[0]->entity_id.c_str());
    CHECK_TRUE_TEXT(has_event(events, "SAML0924", SourceEvent::Level::Error), all_events(events).c_str());
    CHECK_TRUE_TEXT(has_event(events, "SAML0930", SourceEvent::Level::Warning), all_events(events).c_str());
    CHECK_FALSE_TEXT(has_event(events, "SAML0939", SourceEvent::Level::Error), all_events(events).c_str());
    expect_quiet_steps(source, start, 30);
    LONGS_EQUAL(before + 1, server->requests());
    // The refresh interval later it asks again.
    events.clear();
    source.refresh_step(start + std::chrono::seconds(3601), events);
    LONGS_EQUAL(before + 2, server->requests());
}

// A state file that cannot even be opened: no fetch (no process could take turns), an error at
// the failure pace, not at every step.
TEST(MetadataSource, AStateFileThatCannotBeOpenedIsSaidAtTheRetryPace) {
    server->answer(200, signed_by(entity(kIdp), kSigner));
    MetadataSource source(settings());  // retry 60 s
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(Clock::now(), events).ok());
    CHECK_EQUAL(0, std::remove(source.state_path().c_str()));
    CHECK_EQUAL(0, mkdir(source.state_path().c_str(), 0700));  // a directory: open(O_RDWR) fails
    const int before = server->requests();
    const Instant start = Clock::now() + std::chrono::seconds(61);
    events.clear();
    source.refresh_step(start, events);
    CHECK_TRUE_TEXT(has_event(events, "SAML0930", SourceEvent::Level::Error), all_events(events).c_str());
    CHECK_FALSE_TEXT(has_event(events, "SAML0939", SourceEvent::Level::Error), all_events(events).c_str());
    expect_quiet_steps(source, start, 5);
    events.clear();
    source.refresh_step(start + std::chrono::seconds(61), events);
    CHECK_TRUE_TEXT(has_event(events, "SAML0930", SourceEvent::Level::Error), all_events(events).c_str());
    LONGS_EQUAL(before, server->requests());
    CHECK_EQUAL(0, rmdir(source.state_path().c_str()));
}

TEST(MetadataSource, ADocumentAboutToExpireIsFetchedAgainBeforeItsValidUntil) {
    const Instant now = Clock::now();
    server->answer(200, signed_by(entity(kIdp, " validUntil=\"" + format_datetime(now + std::chrono::seconds(200)) + "\""), kSigner));
    MetadataSource source(settings());  // refresh interval 60 s, retry 60 s
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(now, events).ok());
    const int requests = server->requests();
    CHECK_FALSE(source.refresh_step(now + std::chrono::seconds(59), events));
    LONGS_EQUAL(requests, server->requests());
    // 3600 s would be the interval; 140 s is validUntil minus the retry pace: asked again.
    MetadataSourceSettings hourly = settings();
    hourly.refresh_interval = std::chrono::seconds(3600);
    MetadataSource slow(hourly);
    CHECK_TRUE(slow.load_at_startup(now, events).ok());  // from the fresh backup
    const int before = server->requests();
    server->answer(200, signed_by(entity(kIdp), kSigner));
    slow.refresh_step(now + std::chrono::seconds(100), events);
    LONGS_EQUAL(before, server->requests());
    CHECK_TRUE_TEXT(slow.refresh_step(now + std::chrono::seconds(141), events), all_events(events).c_str());
    LONGS_EQUAL(before + 1, server->requests());
    CHECK_FALSE(slow.refresh_step(now + std::chrono::seconds(300), events));  // still there: the new one has no end
    LONGS_EQUAL(1, slow.idps().size());
}

TEST(MetadataSource, MetadataPastItsValidUntilIsDroppedWhenNoNewCopyComes) {
    const Instant now = Clock::now();
    server->answer(200, signed_by(entity(kIdp, " validUntil=\"" + format_datetime(now + std::chrono::seconds(100)) + "\""), kSigner));
    MetadataSource source(settings());
    std::vector<SourceEvent> events;
    CHECK_TRUE(source.load_at_startup(now, events).ok());
    server->answer(503, "down");
    events.clear();
    CHECK_TRUE(source.refresh_step(now + std::chrono::seconds(101), events));
    LONGS_EQUAL(0, source.idps().size());
    CHECK_TRUE_TEXT(has_event(events, "SAML0931", SourceEvent::Level::Error), all_events(events).c_str());
}

TEST(MetadataSource, TheBackupDirectoryMustBeWritable) {
    MetadataSourceSettings s = settings();
    s.backup_path = dir + "/missing/federation.xml";
    auto result = MetadataSource(s).check_backup_directory();
    CHECK_FALSE(result.ok());
    STRCMP_EQUAL("SAML0933", result.error().code.c_str());
    s.backup_path = dir + "/federation.xml";
    s.file_owner = std::make_pair(static_cast<uid_t>(54321), static_cast<gid_t>(54321));  // not the owner
    result = MetadataSource(s).check_backup_directory();
    CHECK_FALSE(result.ok());
    CHECK_TRUE(result.error().detail.find("not writable by httpd's User") != std::string::npos);
    CHECK_TRUE(MetadataSource(settings()).check_backup_directory().ok());
}

TEST_GROUP(SharedIdpRegistry){};

TEST(SharedIdpRegistry, ASnapshotStaysValidAfterAReplacement) {
    SharedIdpRegistry shared;
    auto first = std::make_shared<IdpRegistry>();
    auto idp = std::make_shared<IdpDescriptor>();
    idp->entity_id = kIdp;
    first->add(idp);
    shared.replace(first);
    auto snapshot = shared.snapshot();
    first.reset();
    shared.replace(std::make_shared<IdpRegistry>());
    CHECK_TRUE(snapshot->find(kIdp) != nullptr);  // the request that holds it keeps it
    CHECK_TRUE(shared.snapshot()->find(kIdp) == nullptr);
}

TEST_GROUP(DeferredCertificates){};

TEST(DeferredCertificates, DecodedOnFirstUseToTheSameKeys) {
    MetadataOptions eager;
    eager.now = test::test_now();
    MetadataOptions deferred = eager;
    deferred.defer_certificates = true;
    auto now_loaded = parse_idp_metadata(entity(kIdp), eager);
    auto later_loaded = parse_idp_metadata(entity(kIdp), deferred);
    CHECK_TRUE(now_loaded.ok() && later_loaded.ok());
    const auto& later = *later_loaded.value().idps[0];
    CHECK_TRUE(later.signing.empty());
    LONGS_EQUAL(1, later.signing_keys().size());
    LONGS_EQUAL(1, later.signing_certificates().size());
    CHECK_TRUE(EVP_PKEY_eq(later.signing_keys()[0], now_loaded.value().idps[0]->signing_keys()[0]) == 1);
}

TEST(DeferredCertificates, AnUnreadableCertificateLeavesTheIdpWithoutThatKey) {
    std::string xml = entity(kIdp);
    const std::string cert = test::pki_cert_base64("idp-rsa");
    xml.replace(xml.find(cert), cert.size(), "AAAA" + cert.substr(40));  // base64, but not a certificate
    MetadataOptions options;
    options.now = test::test_now();
    options.defer_certificates = true;
    auto loaded = parse_idp_metadata(xml, options);
    CHECK_TRUE(loaded.ok());
    LONGS_EQUAL(0, loaded.value().idps[0]->signing_keys().size());  // nothing verifies: closed
}

// Found by the soak: a hanging server got a new warning on every attempt, because curl says how
// many milliseconds it waited and no two reasons compared equal.
TEST(MetadataSource, FailuresCompareWithoutTheirNumbersButWithTheirCodes) {
    STRCMP_EQUAL(failure_shape("SAML0905 download failed: Operation timed out after 4001 milliseconds with 0 bytes received").c_str(),
                 failure_shape("SAML0905 download failed: Operation timed out after 4002 milliseconds with 0 bytes received").c_str());
    CHECK(failure_shape("SAML0406 expired") != failure_shape("SAML0923 expired"));
    CHECK(failure_shape("HTTP 503") == failure_shape("HTTP 500"));
    CHECK(failure_shape("a 12 b") != failure_shape("a 12 c"));
    STRCMP_EQUAL("SAML0905 after # ms, # bytes", failure_shape("SAML0905 after 4001 ms, 0 bytes").c_str());
}
