// Prints what sealing and opening a session cookie costs: microseconds per seal and per open,
// and the cookie size, for sessions with 10 and 100 attributes; then, for SAMLSessionStore cache,
// the bytes a session takes in the cache (record, last-seen, its subject-index entry) and the
// handle cookie, and what opening a stored record costs, for 5, 30, 100 and 300 attributes.
// Figures to read, not a test.
//
//   make bench && ./bench/bench_session [iterations]

#include "crypto.hpp"
#include "init.hpp"
#include "session.hpp"
#include "session_store.hpp"

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using namespace saml;
using SteadyClock = std::chrono::steady_clock;

// Attributes shaped like a university or corporate IdP's release: OID names, URI format, a
// few multi-valued ones.
Session make_session(std::size_t attribute_count, Instant now) {
    Session s;
    s.user = "alice.example@example.org";
    s.name_id.value = "AAdzZWNyZXQxFHm0pZ8Bk1bXxZ3qN4rS9tU2vW5xY8zA";
    s.name_id.format = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    s.name_id.name_qualifier = "https://idp.example.org/idp/shibboleth";
    s.name_id.sp_name_qualifier = "https://sp.example.org/saml/metadata";
    s.session_index = "_4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99";
    s.idp_entity_id = "https://idp.example.org/idp/shibboleth";
    s.authn_instant = now;
    s.issued_at = now;
    s.last_seen = now;
    s.expires_at = now + std::chrono::hours(8);
    for (std::size_t i = 0; i < attribute_count; ++i) {
        Attribute a;
        a.name = "urn:oid:1.3.6.1.4.1.5923.1.1.1." + std::to_string(i + 1);
        a.name_format = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
        a.friendly_name = "attribute" + std::to_string(i + 1);
        a.values.push_back("value-" + std::to_string(i) + "@example.org");
        if (i % 4 == 0) a.values.push_back("urn:mace:example.org:group:" + std::to_string(i));
        s.attributes.push_back(std::move(a));
    }
    return s;
}

struct PerCall {
    double wall_us;
    double cpu_us;  // process CPU time: what the call costs when other work shares the cores
};

template <typename Body>
PerCall microseconds_per_call(long iterations, Body&& body) {
    const auto start = SteadyClock::now();
    const std::clock_t cpu_start = std::clock();
    for (long i = 0; i < iterations; ++i) body();
    const std::clock_t cpu_end = std::clock();
    const std::chrono::duration<double, std::micro> elapsed = SteadyClock::now() - start;
    const double cpu = 1e6 * static_cast<double>(cpu_end - cpu_start) / CLOCKS_PER_SEC;
    return {elapsed.count() / static_cast<double>(iterations), cpu / static_cast<double>(iterations)};
}

int run(std::size_t attribute_count, long iterations, const SessionSealer& sealer) {
    const Instant now = std::chrono::floor<std::chrono::seconds>(Clock::now());
    const Session session = make_session(attribute_count, now);
    const std::string cookie_name = "saml_session";
    auto sealed = sealer.seal(session, cookie_name);
    if (!sealed) {
        std::fprintf(stderr, "seal failed: %s\n", sealed.error().message().c_str());
        return 1;
    }
    const std::string cookie = sealed.value();
    std::size_t sink = 0;
    long failures = 0;
    const long warm_up = iterations / 20 + 100;
    for (long i = 0; i < warm_up; ++i) {
        sink += sealer.seal(session, cookie_name).value().size();
        failures += sealer.open(cookie, cookie_name, now, std::chrono::seconds(0)).ok() ? 0 : 1;
    }
    const PerCall seal = microseconds_per_call(iterations, [&] {
        auto r = sealer.seal(session, cookie_name);
        if (r) sink += r.value().size();
        else ++failures;
    });
    const PerCall open = microseconds_per_call(iterations, [&] {
        auto r = sealer.open(cookie, cookie_name, now, std::chrono::seconds(0));
        if (r) sink += r.value().attributes.size();
        else ++failures;
    });
    const auto payload = encode_session(session);
    std::printf("%3zu attributes: seal %6.2f us (cpu %6.2f)  open %6.2f us (cpu %6.2f)  payload %5zu B  cookie %5zu B"
                "  (%ld iterations)\n",
                attribute_count, seal.wall_us, seal.cpu_us, open.wall_us, open.cpu_us,
                payload ? payload.value().size() : 0, cookie.size(), iterations);
    if (failures != 0 || sink == 0) {
        std::fprintf(stderr, "%ld calls failed\n", failures);
        return 1;
    }
    return 0;
}

// What one session costs the cache: the cache server's own per-item overhead (memcached ~50 B,
// shmcb ~24 B) comes on top of these key and value bytes.
int run_store(std::size_t attribute_count, long iterations, const SessionSealer& sealer) {
    const Instant now = std::chrono::floor<std::chrono::seconds>(Clock::now());
    const Session session = make_session(attribute_count, now);
    const SessionHandle handle = SessionHandle::fresh();
    auto record = seal_record(session, handle);
    auto cookie = seal_handle(sealer, handle, "saml_session");
    const std::string index_key = subject_index_key(sealer, session.idp_entity_id, session.name_id.value);
    auto index = seal_subject_index(sealer, {{handle.id, session_index_digest(session.session_index), session.expires_at}},
                                    index_key, now);
    if (!record || !cookie || !index) {
        std::fprintf(stderr, "store sealing failed\n");
        return 1;
    }
    long failures = 0;
    const long n = iterations / 10 + 1;
    const PerCall open = microseconds_per_call(n, [&] {
        if (!open_record(record.value(), handle, now)) ++failures;
    });
    const std::size_t stored = record_key(handle).size() + record.value().size() + last_seen_key(handle.id).size() + 8;
    std::printf("%3zu attributes, SAMLSessionStore cache: record %6zu B + last-seen %2zu B (keys included: %6zu B) "
                "+ subject index %3zu B; cookie %3zu B; open_record %7.2f us  (%ld iterations)\n",
                attribute_count, record.value().size(), std::size_t{8}, stored, index_key.size() + index.value().size(),
                cookie.value().size(), open.wall_us, n);
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::atol(argv[1]) : 200000;
    if (iterations <= 0) {
        std::fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        return 2;
    }
    auto init = initialize_libraries();
    if (!init) {
        std::fprintf(stderr, "library init failed: %s\n", init.error().message().c_str());
        return 2;
    }
    auto sealer = SessionSealer::create({random_bytes(32), random_bytes(32)});
    if (!sealer) {
        std::fprintf(stderr, "%s\n", sealer.error().message().c_str());
        return 2;
    }
    int rc = 0;
    rc |= run(10, iterations, sealer.value());
    rc |= run(100, iterations, sealer.value());
    for (std::size_t n : {5, 30, 100, 300}) rc |= run_store(n, iterations, sealer.value());
    return rc;
}
