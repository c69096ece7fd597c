#include "checked_cache.hpp"
#include "session_store.hpp"

#include <CppUTest/TestHarness.h>

#include <functional>
#include <map>
#include <string>

using namespace saml;
using namespace std::chrono_literals;

namespace {

using Lookup = CacheClient::Lookup;

// A cache server and a client that treats it as apr_memcache and apr_redis do: an operation
// that fails marks the server dead; while it is held dead, lookups answer "not found" and
// stores fail without asking it; the first operation more than 5 s after the marking tries it
// again (and marks the time of that try when it is still down).
class AprLikeCache : public CacheClient {
public:
    std::map<std::string, std::string, std::less<>> entries;  // what the server holds
    bool server_up = true;
    bool held_dead = false;
    Moment marked{};
    Moment clock{};
    std::chrono::milliseconds round_trip{1};
    int operations = 0;
    int marker_stores = 0;
    // Runs before each operation, given its number (from 0): a fault, a restart, a stall.
    std::function<void(int)> before;

    void hold_dead_since(std::chrono::milliseconds ago) {
        held_dead = true;
        marked = clock - ago;
    }

    Lookup lookup(std::string_view key, std::size_t max_bytes, std::string* value) override {
        if (!reach()) return Lookup::missing;
        if (!server_up) return fail(), Lookup::failed;
        const auto it = entries.find(key);
        if (it == entries.end()) return Lookup::missing;
        if (it->second.size() > max_bytes) return Lookup::failed;
        *value = it->second;
        return Lookup::found;
    }
    bool store(std::string_view key, std::string_view value, Instant) override {
        if (!reach()) return false;
        if (!server_up) return fail(), false;
        if (key == liveness_marker_key) ++marker_stores;
        entries[std::string(key)] = std::string(value);
        return true;
    }
    Moment now() override { return clock; }

private:
    // Whether the operation reaches the server (or finds it down, on a live connection).
    bool reach() {
        if (before) before(operations);
        ++operations;
        clock += round_trip;
        if (!held_dead) return true;
        if (clock - marked <= 5s) return false;
        marked = clock;
        if (!server_up) return false;
        held_dead = false;
        return true;
    }
    void fail() {
        held_dead = true;
        marked = clock;
    }
};

// The module's check before this fix: look, then store.
Added unchecked_add(CacheClient& cache, std::string_view key) {
    std::string ignored;
    switch (cache.lookup(key, 1, &ignored)) {
        case Lookup::found: return Added::present;
        case Lookup::failed: return Added::failed;
        case Lookup::missing: break;
    }
    return cache.store(key, "\1", Instant{}) ? Added::added : Added::failed;
}

const Instant kExpiry = from_unix(1800000000);

}  // namespace

TEST_GROUP(CheckedCache){};

TEST(CheckedCache, AKeyIsAddedOnceThenPresentAndTheMarkerIsWrittenOnlyWhenMissing) {
    AprLikeCache cache;
    CHECK(checked_add(cache, "id-1", "\1", kExpiry) == Added::added);
    CHECK(checked_add(cache, "id-1", "\1", kExpiry) == Added::present);
    CHECK(checked_add(cache, "id-2", "\1", kExpiry) == Added::added);
    LONGS_EQUAL(1, cache.marker_stores);
    // A login costs one lookup more than look-and-store: the marker, the key, the store.
    const int before = cache.operations;
    CHECK(checked_add(cache, "id-3", "\1", kExpiry) == Added::added);
    LONGS_EQUAL(3, cache.operations - before);
    // A cache that lost the marker (evicted, restarted) gets it back.
    cache.entries.erase(std::string(liveness_marker_key));
    CHECK(checked_add(cache, "id-4", "\1", kExpiry) == Added::added);
    LONGS_EQUAL(2, cache.marker_stores);
}

// Soak finding F5: the ID was stored (used on another node) after the server came back, while
// this process still held it for dead. Look-then-store read "not found" from the client and
// stored once the client tried the server again: the replay was accepted. Whenever the retry
// falls, the checked add never says "added".
TEST(CheckedCache, TheF5SequenceIsNeverFreshWhereverTheRetryFalls) {
    int accepted_unchecked = 0;
    for (int ago = 4950; ago <= 5050; ++ago) {
        AprLikeCache cache;
        cache.entries["id-used-elsewhere"] = "\1";
        cache.entries[std::string(liveness_marker_key)] = "1";
        cache.hold_dead_since(std::chrono::milliseconds(ago));
        const Added checked = checked_add(cache, "id-used-elsewhere", "\1", kExpiry);
        CHECK(checked != Added::added);

        AprLikeCache old;
        old.entries["id-used-elsewhere"] = "\1";
        old.hold_dead_since(std::chrono::milliseconds(ago));
        if (unchecked_add(old, "id-used-elsewhere") == Added::added) ++accepted_unchecked;
    }
    // The fake does reproduce the finding: the old check accepted the replay.
    CHECK(accepted_unchecked > 0);
}

// The same with the server marked dead by another request after this one read the marker, and
// a stall before the store long enough for the client to try the server again.
TEST(CheckedCache, AMissIsNotBelievedWhenTheReplyAfterItCameTooLate) {
    AprLikeCache cache;
    cache.entries["id-used-elsewhere"] = "\1";
    cache.entries[std::string(liveness_marker_key)] = "1";
    cache.before = [&](int operation) {
        if (operation == 1) cache.hold_dead_since(0ms);  // after the marker: a failure elsewhere
        if (operation == 2) cache.clock += 5001ms;       // before the store: a stall
    };
    CHECK(checked_add(cache, "id-used-elsewhere", "\1", kExpiry) == Added::failed);

    // A cache slower than the bound fails closed even when nothing else happens.
    AprLikeCache slow;
    slow.round_trip = 400ms;
    CHECK(checked_add(slow, "id-1", "\1", kExpiry) == Added::failed);
}

TEST(CheckedCache, ADeadCacheIsFailedNeverMissing) {
    AprLikeCache down;
    down.server_up = false;
    CHECK(checked_add(down, "id-1", "\1", kExpiry) == Added::failed);
    std::string value;
    CHECK(checked_find(down, "seen:x", 8, &value) == Lookup::failed);
    // Held dead, retried at every moment around the 5 s: a key that is there is found or the
    // lookup fails, it never reads as missing.
    for (int ago = 4990; ago <= 5010; ++ago) {
        AprLikeCache cache;
        cache.entries["seen:x"] = "12345678";
        cache.entries[std::string(liveness_marker_key)] = "1";
        cache.hold_dead_since(std::chrono::milliseconds(ago));
        CHECK(checked_find(cache, "seen:x", 8, &value) != Lookup::missing);
    }
}

TEST(CheckedCache, AFindCostsNothingMoreOnAHitAndProvesAMiss) {
    AprLikeCache cache;
    cache.entries["seen:x"] = "12345678";
    std::string value;
    CHECK(checked_find(cache, "seen:x", 8, &value) == Lookup::found);
    STRCMP_EQUAL("12345678", value.c_str());
    LONGS_EQUAL(1, cache.operations);
    CHECK(checked_find(cache, "seen:y", 8, &value) == Lookup::missing);
    // A value longer than asked for is no answer.
    CHECK(checked_find(cache, "seen:x", 4, &value) == Lookup::failed);
    // A false miss first; then the marker answers (the retry was due), and another request's
    // failure marks the server dead before the second lookup: that miss is false too, and the
    // marker read after it gets no answer.
    AprLikeCache racing;
    racing.entries["seen:x"] = "12345678";
    racing.entries[std::string(liveness_marker_key)] = "1";
    racing.before = [&](int operation) {
        if (operation == 0) racing.hold_dead_since(0ms);
        if (operation == 1) racing.clock += 5001ms;
        if (operation == 2) racing.hold_dead_since(0ms);
    };
    CHECK(checked_find(racing, "seen:x", 8, &value) == Lookup::failed);
}

namespace {

IndexedSession indexed(char fill) { return {std::string(SessionHandle::id_bytes, fill), "", from_unix(1800003600)}; }

std::vector<std::string> indexed_ids(const SessionSealer& sealer, const AprLikeCache& cache, const std::string& key) {
    std::vector<std::string> ids;
    const auto it = cache.entries.find(key);
    if (it == cache.entries.end()) return ids;
    auto opened = open_subject_index(sealer, it->second, key);
    CHECK_TRUE(opened.ok());
    for (const auto& s : opened.value()) ids.push_back(s.id);
    return ids;
}

SessionSealer site_sealer() {
    auto made = SessionSealer::create({std::string(32, 's')});
    CHECK_TRUE(made.ok());
    return std::move(made).value();
}

}  // namespace

TEST_GROUP(SubjectIndex) {
    const SessionSealer sealer = site_sealer();
    const std::string key = subject_index_key(sealer, "https://idp.example.org", "alice@example.org");
    const Instant now = from_unix(1800000000);
};

// A login adds its session to the subject's index. Read back from a server the client holds for
// dead (it came back less than 5 s ago), the index read "not found" and was written anew with the
// new session only: the subject's other sessions fell out of it, and an IdP logout without the
// browser no longer ended them. Now it is left as it is wherever the retry falls.
TEST(SubjectIndex, ThatDidNotAnswerIsNeverWrittenAnew) {
    AprLikeCache cache;
    CHECK_TRUE(add_to_subject_index(cache, sealer, key, indexed('a'), 4096, now).ok());
    CHECK_TRUE(add_to_subject_index(cache, sealer, key, indexed('b'), 4096, now).ok());
    CHECK(indexed_ids(sealer, cache, key) == (std::vector<std::string>{std::string(SessionHandle::id_bytes, 'a'),
                                                                      std::string(SessionHandle::id_bytes, 'b')}));
    const auto both = cache.entries[key];

    for (int ago = 4950; ago <= 5050; ++ago) {
        AprLikeCache revived = cache;
        revived.operations = 0;
        revived.hold_dead_since(std::chrono::milliseconds(ago));
        auto added = add_to_subject_index(revived, sealer, key, indexed('c'), 4096, now);
        const auto ids = indexed_ids(sealer, revived, key);
        if (added.ok()) {  // the retry came first: all three are there
            LONGS_EQUAL(3, ids.size());
        } else {  // otherwise nothing was written
            STRCMP_EQUAL("SAML0584", added.error().code.c_str());
            CHECK(revived.entries[key] == both);
        }
    }
    // A dead server: SAML0584, and the store is never tried.
    AprLikeCache down = cache;
    down.server_up = false;
    STRCMP_EQUAL("SAML0584", add_to_subject_index(down, sealer, key, indexed('c'), 4096, now).error().code.c_str());
    CHECK(down.entries[key] == both);
}

TEST(SubjectIndex, ThatDoesNotOpenIsReplacedAndAFailedWriteIsSaid) {
    AprLikeCache cache;
    cache.entries[key] = "sealed under another site's key";
    CHECK_TRUE(add_to_subject_index(cache, sealer, key, indexed('a'), 4096, now).ok());
    LONGS_EQUAL(1, indexed_ids(sealer, cache, key).size());
    // An index longer than the caller reads is no answer: left as it is.
    cache.entries[key] = std::string(5000, 'x');
    STRCMP_EQUAL("SAML0584", add_to_subject_index(cache, sealer, key, indexed('b'), 4096, now).error().code.c_str());
    // The server goes away between the read and the write (the write is the last operation).
    AprLikeCache dry_run;
    CHECK_TRUE(add_to_subject_index(dry_run, sealer, key, indexed('a'), 4096, now).ok());
    AprLikeCache failing;
    failing.before = [&](int operation) {
        if (operation == dry_run.operations - 1) failing.server_up = false;
    };
    STRCMP_EQUAL("SAML0585", add_to_subject_index(failing, sealer, key, indexed('a'), 4096, now).error().code.c_str());
}
