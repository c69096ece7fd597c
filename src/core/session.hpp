// Sessions without server state: the login's outcome is serialised to a compact binary payload,
// sealed with AES-256-GCM under a key derived from the administrator's secret, and carried in a
// cookie (split into numbered chunks when it outgrows one). Any node with the same secret opens it.
//
// Error codes SAML0500-0599.
#pragma once

#include "crypto.hpp"
#include "error.hpp"
#include "model.hpp"
#include "time.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saml {

// What a request needs to know about the logged-in user. Instants are stored with one-second
// resolution (unix seconds), so from_login truncates them to whole seconds.
struct Session {
    std::string user;
    NameId name_id;
    std::string session_index;
    std::string idp_entity_id;
    std::vector<Attribute> attributes;
    std::string assertion_id;  // the login's Assertion ID (SAML_ASSERTION_ID); empty in version-1 payloads
    Instant authn_instant{};
    Instant issued_at{};
    Instant expires_at{};
    Instant last_seen{};

    // A fresh session for a login that just happened: issued and last seen now, expiring at
    // now + max_age or at the IdP's SessionNotOnOrAfter, whichever comes first.
    static Session from_login(const Login& login, Instant now, std::chrono::seconds max_age);
};

// Bounds of the payload encoding, enforced by the encoder and the decoder alike.
struct SessionLimits {
    static constexpr std::size_t max_payload_bytes = 256 * 1024;
    static constexpr std::size_t max_string_bytes = 64 * 1024;
    static constexpr std::size_t max_attributes = 1024;
    static constexpr std::size_t max_values_per_attribute = 4096;
};

// The payload: a version byte, then the fields in a fixed order; strings are a LEB128 length
// and their bytes, URI-like fields may start with a code for a well-known prefix, counts and
// times (unix seconds, 0 <= t < 2^33) are LEB128. Neither XML nor JSON: it is only ever read
// back by this code, after its integrity has been checked. Version 2 appends the assertion ID
// after the attributes; version 1 (cookies sealed before it) is still read, with no assertion ID.
Result<std::string> encode_session(const Session& session);
// Every length and count is checked against the bytes that remain before anything is
// allocated; trailing bytes, unknown versions or prefix codes are BadInput (SAML0530).
Result<Session> decode_session(std::string_view payload);

// Seals and opens session cookies. The first secret seals, every secret opens (rotation: put
// the new secret first, keep the old one until the longest session has expired).
//
// Cookie value = base64url( version (1) || key id (4) || nonce (12) || ciphertext || tag (16) ).
// The AAD is version || key id || cookie name, so a value moved to another cookie name (e.g.
// the login-state cookie) does not open. The key id is derived from the secret, not the key,
// so it reveals nothing about the key; open uses it to pick the one key to try.
//
// Immutable after create(): open and seal may run concurrently from any number of threads.
class SessionSealer {
public:
    static constexpr std::size_t min_secret_bytes = 32;
    static constexpr std::uint8_t version = 1;
    static constexpr std::size_t key_id_bytes = 4;
    static constexpr std::size_t nonce_bytes = 12;
    static constexpr std::size_t tag_bytes = 16;
    static constexpr std::size_t overhead_bytes = 1 + key_id_bytes + nonce_bytes + tag_bytes;
    // Refresh last_seen no more often than this (touch()).
    static constexpr std::chrono::seconds default_touch_interval{60};

    // Config (SAML0500-0502) when there is no secret, a secret is shorter than 32 bytes or
    // two secrets are the same; Internal when the cipher is unavailable.
    static Result<SessionSealer> create(std::vector<std::string> secrets);

    SessionSealer(SessionSealer&&) noexcept = default;
    SessionSealer& operator=(SessionSealer&&) noexcept = default;
    SessionSealer(const SessionSealer&) = delete;
    SessionSealer& operator=(const SessionSealer&) = delete;
    ~SessionSealer();

    Result<std::string> seal(const Session& session, std::string_view cookie_name) const;

    // Opens a cookie value and checks the session is still current at `now`:
    //   BadInput SAML0510 empty, SAML0511 not base64url or too long, SAML0512 truncated;
    //   Rejected SAML0513 unknown version, SAML0514 unknown key id (e.g. the secret was
    //   retired), SAML0515 integrity (tampered, wrong key, other cookie name),
    //   SAML0516 "session-expired", SAML0517 "session-idle" (idle_timeout 0 = no idle limit).
    Result<Session> open(std::string_view cookie_value, std::string_view cookie_name, Instant now,
                         std::chrono::seconds idle_timeout) const;

    // The time-dependent half of open(), for a session open() returned earlier from the same
    // cookie bytes (the module's per-connection cache): SAML0516 / SAML0517 exactly as open()
    // would answer at `now`. Everything else open() decides depends only on the bytes, the cookie
    // name and the keys. open() runs this same function.
    static Result<Done> check_current(const Session& session, Instant now, std::chrono::seconds idle_timeout);

    // Idle-timeout support: when last_seen is at least `interval` old, sets it to now and returns
    // the re-sealed cookie value for the module to send; otherwise leaves the session alone and
    // returns nullopt (so a busy page does not set a cookie on every request). Expiry never moves.
    Result<std::optional<std::string>> touch(Session& session, std::string_view cookie_name, Instant now,
                                             std::chrono::seconds interval = default_touch_interval) const;

    // Any other small state the module keeps in a cookie (the login-state cookie): same keys,
    // same format, but its own version byte, so a session cookie never opens as one and back.
    static constexpr std::uint8_t bytes_version = 0x81;
    Result<std::string> seal_bytes(std::string_view payload, std::string_view cookie_name) const;
    Result<std::string> open_bytes(std::string_view cookie_value, std::string_view cookie_name) const;

    // A keyed digest (32 bytes) under the sealing secret, for names that must not reveal what
    // they are derived from (a cache key from IdP + NameID). `purpose` separates the uses.
    std::string keyed_digest(std::string_view purpose, std::string_view data) const;

private:
    struct Key {
        std::array<unsigned char, key_id_bytes> id{};
        std::array<unsigned char, 32> key{};
    };
    SessionSealer() = default;
    const Key* find_key(const unsigned char* id) const noexcept;
    std::string seal_in_place(std::string& raw, std::uint8_t kind, std::string_view cookie_name) const;
    std::string_view open_in_place(std::string_view cookie_value, std::uint8_t kind, std::string_view cookie_name,
                                   std::string& raw) const;

    std::vector<Key> keys_;  // keys_[0] seals
    Cipher cipher_;  // fetched once: no provider lookup per call
};

// Cookie chunking. A value that fits in chunk_size is returned as one chunk, unchanged. A longer
// one becomes N chunks (2 <= N <= max_chunks): the first is "N:" followed by the start of the
// value, the rest hold the remainder in order, each at most chunk_size bytes (the header counts).
// The module stores chunk i under chunk_cookie_name(name, i): "name", "name_1", "name_2", ...
// Sealed values are base64url and never contain ':', so an unchunked value has no header; split
// refuses values that contain ':' (BadInput SAML0544).
//
// Config SAML0540 when the value needs more than max_chunks chunks (the module must log it and
// show an error, not loop), or for a chunk_size too small to hold a header.
Result<std::vector<std::string>> split_cookie(std::string_view value, std::size_t chunk_size,
                                              std::size_t max_chunks);
std::string chunk_cookie_name(std::string_view base_name, std::size_t index);
// The number of chunks the first chunk announces: 1 without a header. A malformed header
// (SAML0541) or a count above max_chunks (SAML0542) is BadInput, decided from at most a few
// header bytes, before the caller looks for or allocates anything.
Result<std::size_t> cookie_chunk_count(std::string_view first_chunk, std::size_t max_chunks);
// Reassembles chunks[0..]: their number must be the one the first chunk announces and at most
// max_chunks (checked before allocating); an empty or missing chunk is BadInput (SAML0543).
Result<std::string> join_cookie(const std::vector<std::string_view>& chunks, std::size_t max_chunks);

}  // namespace saml
