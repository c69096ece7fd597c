#include "session.hpp"

#include "encoding.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace saml {

namespace {

// ---------------------------------------------------------------------------------------------
// Payload encoding

// Version 2 = version 1 + the assertion ID at the end. Both are read; only 2 is written.
constexpr std::uint8_t kPayloadVersion = 2;
constexpr std::uint8_t kPayloadVersionNoAssertionId = 1;
// Times are unix seconds in [0, 2^33): far beyond any real session, and small enough that
// converting to the clock's nanoseconds cannot overflow.
constexpr std::uint64_t kMaxUnixSeconds = std::uint64_t{1} << 33;

// Well-known prefixes of URI-like fields, coded as one byte. Payload version 1 is this exact
// table: append only, and only together with a new payload version.
constexpr std::string_view kPrefixes[] = {
    "urn:oid:",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.",  // eduPerson
    "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/",
    "https://",
    "http://",
};
constexpr std::size_t kPrefixCount = sizeof(kPrefixes) / sizeof(kPrefixes[0]);

[[noreturn]] void too_large(std::string detail) {
    fail(ErrorKind::BadInput, "SAML0531", "session-too-large", std::move(detail));
}

class PayloadWriter {
public:
    // Appends to out (the sealer puts the payload right after its header, and encrypts in place).
    explicit PayloadWriter(std::string& out) : out_(out) {}

    void byte(std::uint8_t b) { out_ += static_cast<char>(b); }

    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_ += static_cast<char>((v & 0x7f) | 0x80);
            v >>= 7;
        }
        out_ += static_cast<char>(v);
    }

    void string(std::string_view s, const char* what) {
        if (s.size() > SessionLimits::max_string_bytes)
            too_large(std::string(what) + " is " + std::to_string(s.size()) + " bytes, more than " +
                      std::to_string(SessionLimits::max_string_bytes));
        varint(s.size());
        out_.append(s.data(), s.size());
    }

    // Code 0 = literal string; code k = kPrefixes[k-1] followed by the string that follows it.
    void uri(std::string_view s, const char* what) {
        std::size_t best = 0, best_len = 0;
        if (!s.empty() && (s[0] == 'u' || s[0] == 'h')) {
            for (std::size_t i = 0; i < kPrefixCount; ++i) {
                const auto& prefix = kPrefixes[i];
                if (prefix.size() > best_len && s.substr(0, prefix.size()) == prefix) {
                    best = i + 1;
                    best_len = prefix.size();
                }
            }
        }
        varint(best);
        string(s.substr(best_len), what);
    }

    void time(Instant t, const char* what) {
        const long long seconds = to_unix(t);
        if (seconds < 0 || static_cast<std::uint64_t>(seconds) >= kMaxUnixSeconds)
            fail(ErrorKind::BadInput, "SAML0532", "session-time", std::string(what) + " is out of range");
        varint(static_cast<std::uint64_t>(seconds));
    }

private:
    std::string& out_;
};

[[noreturn]] void malformed(std::string detail) {
    fail(ErrorKind::BadInput, "SAML0530", "session-payload", std::move(detail));
}

class PayloadReader {
public:
    explicit PayloadReader(std::string_view in) : in_(in) {}

    std::uint8_t byte() {
        if (pos_ >= in_.size()) malformed("truncated");
        return static_cast<std::uint8_t>(in_[pos_++]);
    }

    std::uint64_t varint(std::uint64_t max, const char* what) {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const std::uint8_t b = byte();
            if (shift == 63 && (b & 0x7e) != 0) malformed(std::string(what) + " overflows");
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                if (v > max) malformed(std::string(what) + " is out of range");
                return v;
            }
        }
        malformed(std::string(what) + " is an over-long number");
    }

    // The length is checked against the bytes left before the string is built.
    std::string string(const char* what) { return std::string(view(what)); }

    std::string uri(const char* what) {
        const std::uint64_t code = varint(kPrefixCount, what);
        const std::string_view rest = view(what);
        if (code == 0) return std::string(rest);
        const std::string_view prefix = kPrefixes[code - 1];
        std::string out;
        out.reserve(prefix.size() + rest.size());
        out.append(prefix.data(), prefix.size());
        out.append(rest.data(), rest.size());
        return out;
    }

    Instant time(const char* what) {
        return from_unix(static_cast<long long>(varint(kMaxUnixSeconds - 1, what)));
    }

    // A count of items that each take at least min_item_bytes: bounded by max and by what is left.
    std::size_t count(std::size_t max, std::size_t min_item_bytes, const char* what) {
        const std::uint64_t n = varint(max, what);
        if (n > remaining() / min_item_bytes) malformed(std::string(what) + " exceeds the bytes that remain");
        return static_cast<std::size_t>(n);
    }

    std::size_t remaining() const noexcept { return in_.size() - pos_; }

private:
    std::string_view view(const char* what) {
        const std::uint64_t len = varint(SessionLimits::max_string_bytes, what);
        if (len > remaining()) malformed(std::string(what) + " runs past the end");
        const std::string_view out = in_.substr(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
        return out;
    }

    std::string_view in_;
    std::size_t pos_ = 0;
};

// Appends the payload to out, reserving `room_after` more bytes for what the caller adds next.
void append_payload(const Session& s, std::string& out, std::size_t room_after) {
    if (s.attributes.size() > SessionLimits::max_attributes)
        too_large(std::to_string(s.attributes.size()) + " attributes, more than " +
                  std::to_string(SessionLimits::max_attributes));
    std::size_t expected = 64 + s.assertion_id.size() + s.user.size() + s.name_id.value.size() + s.name_id.format.size() +
                           s.name_id.name_qualifier.size() + s.name_id.sp_name_qualifier.size() +
                           s.session_index.size() + s.idp_entity_id.size();
    for (const auto& a : s.attributes) {
        expected += 8 + a.name.size() + a.name_format.size() + a.friendly_name.size();
        for (const auto& v : a.values) expected += 2 + v.size();
    }
    const std::size_t start = out.size();
    out.reserve(start + std::min(expected, SessionLimits::max_payload_bytes + 1) + room_after);
    PayloadWriter w(out);
    w.byte(kPayloadVersion);
    w.string(s.user, "user");
    w.string(s.name_id.value, "NameID");
    w.uri(s.name_id.format, "NameID Format");
    w.uri(s.name_id.name_qualifier, "NameQualifier");
    w.uri(s.name_id.sp_name_qualifier, "SPNameQualifier");
    w.string(s.session_index, "SessionIndex");
    w.uri(s.idp_entity_id, "IdP entityID");
    w.time(s.authn_instant, "AuthnInstant");
    w.time(s.issued_at, "issued-at");
    w.time(s.expires_at, "expiry");
    w.time(s.last_seen, "last-seen");
    w.varint(s.attributes.size());
    for (const auto& a : s.attributes) {
        if (a.values.size() > SessionLimits::max_values_per_attribute)
            too_large("attribute " + a.name + " has " + std::to_string(a.values.size()) + " values");
        w.uri(a.name, "attribute Name");
        w.uri(a.name_format, "attribute NameFormat");
        w.string(a.friendly_name, "attribute FriendlyName");
        w.varint(a.values.size());
        for (const auto& v : a.values) w.string(v, "attribute value");
    }
    w.string(s.assertion_id, "assertion ID");
    const std::size_t size = out.size() - start;
    if (size > SessionLimits::max_payload_bytes)
        too_large("the session payload is " + std::to_string(size) + " bytes, more than " +
                  std::to_string(SessionLimits::max_payload_bytes));
}

std::string encode_payload(const Session& s) {
    std::string out;
    append_payload(s, out, 0);
    return out;
}

Session decode_payload(std::string_view payload) {
    if (payload.size() > SessionLimits::max_payload_bytes) malformed("payload too large");
    PayloadReader r(payload);
    const std::uint8_t version = r.byte();
    if (version != kPayloadVersion && version != kPayloadVersionNoAssertionId)
        malformed("unknown payload version " + std::to_string(version));
    Session s;
    s.user = r.string("user");
    s.name_id.value = r.string("NameID");
    s.name_id.format = r.uri("NameID Format");
    s.name_id.name_qualifier = r.uri("NameQualifier");
    s.name_id.sp_name_qualifier = r.uri("SPNameQualifier");
    s.session_index = r.string("SessionIndex");
    s.idp_entity_id = r.uri("IdP entityID");
    s.authn_instant = r.time("AuthnInstant");
    s.issued_at = r.time("issued-at");
    s.expires_at = r.time("expiry");
    s.last_seen = r.time("last-seen");
    // An attribute takes at least 5 bytes (two prefix codes, three lengths), a value at least 1.
    const std::size_t attribute_count = r.count(SessionLimits::max_attributes, 5, "attribute count");
    s.attributes.resize(attribute_count);
    for (auto& a : s.attributes) {
        a.name = r.uri("attribute Name");
        a.name_format = r.uri("attribute NameFormat");
        a.friendly_name = r.string("attribute FriendlyName");
        const std::size_t value_count = r.count(SessionLimits::max_values_per_attribute, 1, "value count");
        a.values.reserve(value_count);
        for (std::size_t i = 0; i < value_count; ++i) a.values.push_back(r.string("attribute value"));
    }
    if (version == kPayloadVersion) s.assertion_id = r.string("assertion ID");
    if (r.remaining() != 0) malformed(std::to_string(r.remaining()) + " trailing bytes");
    return s;
}

// ---------------------------------------------------------------------------------------------
// Sealing

constexpr std::string_view kHkdfSalt = "mod_auth_saml session";
constexpr std::string_view kKeyInfo = "mod_auth_saml session cookie AES-256-GCM key v1";
constexpr std::string_view kKeyIdInfo = "mod_auth_saml session cookie key id v1";
constexpr std::size_t kHeaderBytes = 1 + SessionSealer::key_id_bytes;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::size_t encoded_length(std::size_t raw) { return (raw * 4 + 2) / 3; }

// The cookie's own base64url (no padding, no whitespace, canonical ending). It is on every
// request's path, so it writes into a buffer sized once instead of appending byte by byte.
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct UrlDecodeTable {
    std::int8_t value[256];
    constexpr UrlDecodeTable() : value() {
        for (auto& v : value) v = -1;
        for (int i = 0; i < 64; ++i) value[static_cast<unsigned char>(kUrlAlphabet[i])] = static_cast<std::int8_t>(i);
    }
};
constexpr UrlDecodeTable kUrlDecode;

std::string cookie_base64_encode(std::string_view in) {
    std::string out(encoded_length(in.size()), '\0');
    const auto* src = bytes(in);
    char* dst = out.data();
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8) | src[i + 2];
        *dst++ = kUrlAlphabet[(v >> 18) & 63];
        *dst++ = kUrlAlphabet[(v >> 12) & 63];
        *dst++ = kUrlAlphabet[(v >> 6) & 63];
        *dst++ = kUrlAlphabet[v & 63];
    }
    const std::size_t rest = in.size() - i;
    if (rest > 0) {
        std::uint32_t v = std::uint32_t{src[i]} << 16;
        if (rest == 2) v |= std::uint32_t{src[i + 1]} << 8;
        *dst++ = kUrlAlphabet[(v >> 18) & 63];
        *dst++ = kUrlAlphabet[(v >> 12) & 63];
        if (rest == 2) *dst++ = kUrlAlphabet[(v >> 6) & 63];
    }
    return out;
}

// False for any character outside the alphabet, an impossible length or a non-canonical ending.
bool cookie_base64_decode(std::string_view in, std::string& out) {
    if (in.size() % 4 == 1) return false;
    out.assign(in.size() / 4 * 3 + (in.size() % 4 == 0 ? 0 : in.size() % 4 - 1), '\0');
    const auto* src = bytes(in);
    auto* dst = bytes(out);
    const auto* table = kUrlDecode.value;
    std::size_t i = 0;
    for (; i + 4 <= in.size(); i += 4) {
        const int a = table[src[i]], b = table[src[i + 1]], c = table[src[i + 2]], d = table[src[i + 3]];
        if ((a | b | c | d) < 0) return false;
        const std::uint32_t v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                                (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
        *dst++ = static_cast<unsigned char>(v >> 16);
        *dst++ = static_cast<unsigned char>(v >> 8);
        *dst++ = static_cast<unsigned char>(v);
    }
    const std::size_t rest = in.size() - i;
    if (rest >= 2) {
        const int a = table[src[i]], b = table[src[i + 1]], c = rest == 3 ? table[src[i + 2]] : 0;
        if ((a | b | c) < 0) return false;
        const std::uint32_t v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                                (static_cast<std::uint32_t>(c) << 6);
        if ((rest == 2 && (v & 0xffff) != 0) || (rest == 3 && (v & 0xff) != 0)) return false;
        *dst++ = static_cast<unsigned char>(v >> 16);
        if (rest == 3) *dst++ = static_cast<unsigned char>(v >> 8);
    }
    return true;
}

[[noreturn]] void cipher_failure(const char* step) {
    ERR_clear_error();
    fail(ErrorKind::Internal, "SAML0519", "session-cipher", std::string("AES-256-GCM failed at ") + step);
}

Instant whole_seconds(Instant t) { return std::chrono::floor<std::chrono::seconds>(t); }

}  // namespace

Session Session::from_login(const Login& login, Instant now, std::chrono::seconds max_age) {
    Session s;
    s.user = login.user;
    s.name_id = login.name_id;
    s.session_index = login.session_index;
    s.idp_entity_id = login.idp_entity_id;
    s.attributes = login.attributes;
    s.assertion_id = login.assertion_id;
    s.authn_instant = whole_seconds(login.authn_instant);
    s.issued_at = whole_seconds(now);
    s.last_seen = s.issued_at;
    Instant expiry = s.issued_at + max_age;
    if (login.session_not_on_or_after && *login.session_not_on_or_after < expiry)
        expiry = whole_seconds(*login.session_not_on_or_after);
    s.expires_at = expiry;
    return s;
}

Result<std::string> encode_session(const Session& session) {
    return guarded([&] { return encode_payload(session); });
}

Result<Session> decode_session(std::string_view payload) {
    return guarded([&] { return decode_payload(payload); });
}

Result<SessionSealer> SessionSealer::create(std::vector<std::string> secrets) {
    auto result = guarded([&] {
        if (secrets.empty())
            fail(ErrorKind::Config, "SAML0500", "session-secret", "no session secret is configured");
        SessionSealer sealer;
        for (std::size_t i = 0; i < secrets.size(); ++i) {
            const std::string& secret = secrets[i];
            if (secret.size() < min_secret_bytes)
                fail(ErrorKind::Config, "SAML0501", "session-secret",
                     "session secret #" + std::to_string(i + 1) + " is " + std::to_string(secret.size()) +
                         " bytes; it must hold at least " + std::to_string(min_secret_bytes) + " random bytes");
            Key key;
            std::string derived = hkdf_sha256(secret, kHkdfSalt, kKeyInfo, key.key.size());
            std::memcpy(key.key.data(), derived.data(), key.key.size());
            OPENSSL_cleanse(derived.data(), derived.size());
            const std::string id = hkdf_sha256(secret, kHkdfSalt, kKeyIdInfo, key.id.size());
            std::memcpy(key.id.data(), id.data(), key.id.size());
            if (sealer.find_key(key.id.data()) != nullptr)
                fail(ErrorKind::Config, "SAML0502", "session-secret",
                     "session secret #" + std::to_string(i + 1) + " repeats an earlier secret");
            sealer.keys_.push_back(key);
            OPENSSL_cleanse(key.key.data(), key.key.size());
        }
        sealer.cipher_.reset(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
        if (!sealer.cipher_) cipher_failure("fetch");
        return sealer;
    });
    for (auto& secret : secrets) OPENSSL_cleanse(secret.data(), secret.size());
    return result;
}

SessionSealer::~SessionSealer() {
    for (auto& key : keys_) OPENSSL_cleanse(key.key.data(), key.key.size());
}

const SessionSealer::Key* SessionSealer::find_key(const unsigned char* id) const noexcept {
    for (const auto& key : keys_)
        if (std::memcmp(key.id.data(), id, key_id_bytes) == 0) return &key;
    return nullptr;
}

std::string SessionSealer::seal_in_place(std::string& raw, std::uint8_t kind, std::string_view cookie_name) const {
    // raw = room for header || nonce, then the payload; the tag is appended and the payload
    // encrypted where it lies.
    if (keys_.empty() || !cipher_) fail(ErrorKind::Internal, "SAML0518", "session-sealer", "sealer is empty");
    const Key& key = keys_.front();
    const std::size_t payload_size = raw.size() - kHeaderBytes - nonce_bytes;
    raw.append(tag_bytes, '\0');
    unsigned char* out = bytes(raw);
    out[0] = kind;
    std::memcpy(out + 1, key.id.data(), key_id_bytes);
    unsigned char* nonce = out + kHeaderBytes;
    if (RAND_bytes(nonce, nonce_bytes) != 1) cipher_failure("nonce");
    unsigned char* payload = nonce + nonce_bytes;
    unsigned char* tag = payload + payload_size;

    CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) throw std::bad_alloc();
    int len = 0;
    if (EVP_EncryptInit_ex2(ctx.get(), cipher_.get(), key.key.data(), nonce, nullptr) != 1) cipher_failure("init");
    if (EVP_EncryptUpdate(ctx.get(), nullptr, &len, out, kHeaderBytes) != 1) cipher_failure("aad");
    if (!cookie_name.empty() &&
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(cookie_name), static_cast<int>(cookie_name.size())) != 1)
        cipher_failure("aad");
    if (EVP_EncryptUpdate(ctx.get(), payload, &len, payload, static_cast<int>(payload_size)) != 1 ||
        static_cast<std::size_t>(len) != payload_size)
        cipher_failure("encrypt");
    if (EVP_EncryptFinal_ex(ctx.get(), payload + len, &len) != 1 || len != 0) cipher_failure("final");
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_bytes, tag) != 1) cipher_failure("tag");
    return cookie_base64_encode(raw);
}

std::string_view SessionSealer::open_in_place(std::string_view cookie_value, std::uint8_t kind,
                                              std::string_view cookie_name, std::string& raw) const {
    if (keys_.empty() || !cipher_) fail(ErrorKind::Internal, "SAML0518", "session-sealer", "sealer is empty");
    if (cookie_value.empty()) fail(ErrorKind::BadInput, "SAML0510", "session-cookie", "the session cookie is empty");
    const std::size_t max_raw = SessionLimits::max_payload_bytes + overhead_bytes;
    if (cookie_value.size() > encoded_length(max_raw))
        fail(ErrorKind::BadInput, "SAML0511", "session-cookie",
             "the session cookie is " + std::to_string(cookie_value.size()) + " bytes long");
    if (!cookie_base64_decode(cookie_value, raw))
        fail(ErrorKind::BadInput, "SAML0511", "session-cookie", "the session cookie is not base64url");
    if (raw.size() < overhead_bytes + 1)
        fail(ErrorKind::BadInput, "SAML0512", "session-cookie",
             "the session cookie is truncated (" + std::to_string(raw.size()) + " bytes)");
    unsigned char* in = bytes(raw);
    if (in[0] != kind)
        fail(ErrorKind::Rejected, "SAML0513", "session-version", "unknown session cookie version " + std::to_string(in[0]));
    const Key* key = find_key(in + 1);
    if (key == nullptr)
        fail(ErrorKind::Rejected, "SAML0514", "session-key",
             "the session cookie was sealed with a secret that is not configured (key id " +
                 hex_encode(raw.substr(1, key_id_bytes)) + ")");
    const unsigned char* nonce = in + kHeaderBytes;
    // Decrypted in place: the payload is read straight from the cookie's buffer.
    unsigned char* ciphertext = in + kHeaderBytes + nonce_bytes;
    const std::size_t ciphertext_len = raw.size() - overhead_bytes;
    unsigned char tag[tag_bytes];
    std::memcpy(tag, ciphertext + ciphertext_len, tag_bytes);

    CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) throw std::bad_alloc();
    int len = 0;
    if (EVP_DecryptInit_ex2(ctx.get(), cipher_.get(), key->key.data(), nonce, nullptr) != 1) cipher_failure("init");
    if (EVP_DecryptUpdate(ctx.get(), nullptr, &len, in, kHeaderBytes) != 1) cipher_failure("aad");
    if (!cookie_name.empty() &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(cookie_name), static_cast<int>(cookie_name.size())) != 1)
        cipher_failure("aad");
    if (EVP_DecryptUpdate(ctx.get(), ciphertext, &len, ciphertext, static_cast<int>(ciphertext_len)) != 1)
        cipher_failure("decrypt");
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_bytes, tag) != 1) cipher_failure("tag");
    int final_len = 0;
    if (EVP_DecryptFinal_ex(ctx.get(), ciphertext + len, &final_len) != 1) {
        ERR_clear_error();
        OPENSSL_cleanse(ciphertext, ciphertext_len);
        fail(ErrorKind::Rejected, "SAML0515", "session-integrity",
             "the session cookie does not authenticate (altered, another secret or another cookie name)");
    }
    return std::string_view(reinterpret_cast<const char*>(ciphertext), ciphertext_len);
}

Result<std::string> SessionSealer::seal(const Session& session, std::string_view cookie_name) const {
    return guarded([&] {
        std::string raw(kHeaderBytes + nonce_bytes, '\0');
        append_payload(session, raw, tag_bytes);
        return seal_in_place(raw, version, cookie_name);
    });
}

Result<Session> SessionSealer::open(std::string_view cookie_value, std::string_view cookie_name, Instant now,
                                    std::chrono::seconds idle_timeout) const {
    return guarded([&] {
        std::string raw;
        const std::string_view payload = open_in_place(cookie_value, version, cookie_name, raw);
        Session session = decode_payload(payload);
        OPENSSL_cleanse(raw.data(), raw.size());
        auto current = check_current(session, now, idle_timeout);
        if (!current) throw Failure(current.error());
        return session;
    });
}

Result<Done> SessionSealer::check_current(const Session& session, Instant now, std::chrono::seconds idle_timeout) {
    return guarded([&] {
        if (now >= session.expires_at)
            fail(ErrorKind::Rejected, "SAML0516", "session-expired",
                 "the session expired at " + format_datetime(session.expires_at));
        if (idle_timeout.count() > 0 && now >= session.last_seen + idle_timeout)
            fail(ErrorKind::Rejected, "SAML0517", "session-idle",
                 "the session was last used at " + format_datetime(session.last_seen) + ", more than " +
                     std::to_string(idle_timeout.count()) + " s ago");
        return Done{};
    });
}

Result<std::string> SessionSealer::seal_bytes(std::string_view payload, std::string_view cookie_name) const {
    return guarded([&] {
        if (payload.size() > SessionLimits::max_payload_bytes)
            fail(ErrorKind::Internal, "SAML0531", "session-size", "sealed payload is too large");
        std::string raw(kHeaderBytes + nonce_bytes, '\0');
        raw.append(payload);
        return seal_in_place(raw, bytes_version, cookie_name);
    });
}

Result<std::string> SessionSealer::open_bytes(std::string_view cookie_value, std::string_view cookie_name) const {
    return guarded([&] {
        std::string raw;
        std::string payload(open_in_place(cookie_value, bytes_version, cookie_name, raw));
        OPENSSL_cleanse(raw.data(), raw.size());
        return payload;
    });
}

std::string SessionSealer::keyed_digest(std::string_view purpose, std::string_view data) const {
    if (keys_.empty()) fail(ErrorKind::Internal, "SAML0518", "session-sealer", "sealer is empty");
    const Key& key = keys_.front();
    // HKDF-Expand is HMAC-SHA256 keyed by the PRK: a PRF of (purpose, data) under the key.
    return hkdf_sha256(std::string_view(reinterpret_cast<const char*>(key.key.data()), key.key.size()), purpose, data, 32);
}

Result<std::optional<std::string>> SessionSealer::touch(Session& session, std::string_view cookie_name, Instant now,
                                                        std::chrono::seconds interval) const {
    return guarded([&]() -> std::optional<std::string> {
        if (now < session.last_seen + interval) return std::nullopt;
        Session refreshed = session;
        refreshed.last_seen = whole_seconds(now);
        auto sealed = seal(refreshed, cookie_name);
        if (!sealed) throw Failure(sealed.error());
        session.last_seen = refreshed.last_seen;
        return std::move(sealed).value();
    });
}

// ---------------------------------------------------------------------------------------------
// Chunking

namespace {

std::size_t decimal_digits(std::size_t n) {
    std::size_t digits = 1;
    while (n >= 10) {
        n /= 10;
        ++digits;
    }
    return digits;
}

// Returns the announced count and sets header_len; 1 and 0 when there is no header.
std::size_t parse_chunk_header(std::string_view first, std::size_t max_chunks, std::size_t& header_len) {
    header_len = 0;
    std::size_t digits = 0;
    while (digits < first.size() && first[digits] >= '0' && first[digits] <= '9') ++digits;
    const bool has_header = digits > 0 && digits < first.size() && first[digits] == ':';
    if (!has_header) {
        if (first.find(':') != std::string_view::npos)
            fail(ErrorKind::BadInput, "SAML0541", "session-chunks", "the first session cookie has a malformed header");
        return 1;
    }
    if (first[0] == '0')
        fail(ErrorKind::BadInput, "SAML0541", "session-chunks", "the session cookie chunk count has a leading zero");
    if (digits > decimal_digits(max_chunks))
        fail(ErrorKind::BadInput, "SAML0542", "session-chunks",
             "the session cookie announces more than " + std::to_string(max_chunks) + " chunks");
    std::size_t count = 0;
    for (std::size_t i = 0; i < digits; ++i) count = count * 10 + static_cast<std::size_t>(first[i] - '0');
    if (count > max_chunks)
        fail(ErrorKind::BadInput, "SAML0542", "session-chunks",
             "the session cookie announces " + std::to_string(count) + " chunks, more than " +
                 std::to_string(max_chunks));
    if (count < 2)
        fail(ErrorKind::BadInput, "SAML0541", "session-chunks", "a chunked session cookie needs at least 2 chunks");
    header_len = digits + 1;
    return count;
}

}  // namespace

std::string chunk_cookie_name(std::string_view base_name, std::size_t index) {
    std::string name(base_name);
    if (index > 0) name += "_" + std::to_string(index);
    return name;
}

Result<std::vector<std::string>> split_cookie(std::string_view value, std::size_t chunk_size, std::size_t max_chunks) {
    return guarded([&] {
        if (value.find(':') != std::string_view::npos)
            fail(ErrorKind::BadInput, "SAML0544", "session-chunks", "a value to split must not contain ':'");
        if (max_chunks == 0 || chunk_size == 0)
            fail(ErrorKind::Config, "SAML0540", "session-chunks", "chunk size and chunk count must be positive");
        if (value.size() <= chunk_size) return std::vector<std::string>{std::string(value)};
        // The header "N:" lives in the first chunk and must leave room for data.
        std::size_t count = 0;
        for (std::size_t n = 2; n <= max_chunks; ++n) {
            const std::size_t header = decimal_digits(n) + 1;
            if (header >= chunk_size) break;
            if (n * chunk_size - header >= value.size()) {
                count = n;
                break;
            }
            if (n > value.size()) break;  // n chunks of >= 1 byte would already hold it
        }
        if (count == 0)
            fail(ErrorKind::Config, "SAML0540", "session-chunks",
                 "the session cookie needs " + std::to_string(value.size()) + " bytes, more than " +
                     std::to_string(max_chunks) + " cookies of " + std::to_string(chunk_size) +
                     " bytes hold: raise the cookie budget or release fewer attributes");
        std::vector<std::string> chunks;
        chunks.reserve(count);
        const std::string header = std::to_string(count) + ":";
        const std::size_t first_data = chunk_size - header.size();
        chunks.push_back(header + std::string(value.substr(0, first_data)));
        for (std::size_t pos = first_data; pos < value.size(); pos += chunk_size)
            chunks.emplace_back(value.substr(pos, chunk_size));
        if (chunks.size() != count) fail(ErrorKind::Internal, "SAML0545", "session-chunks", "chunk arithmetic");
        return chunks;
    });
}

Result<std::size_t> cookie_chunk_count(std::string_view first_chunk, std::size_t max_chunks) {
    return guarded([&] {
        if (first_chunk.empty()) fail(ErrorKind::BadInput, "SAML0541", "session-chunks", "the first chunk is empty");
        std::size_t header_len = 0;
        return parse_chunk_header(first_chunk, max_chunks, header_len);
    });
}

Result<std::string> join_cookie(const std::vector<std::string_view>& chunks, std::size_t max_chunks) {
    return guarded([&] {
        if (chunks.empty() || chunks[0].empty())
            fail(ErrorKind::BadInput, "SAML0543", "session-chunks", "no session cookie");
        if (chunks.size() > max_chunks)
            fail(ErrorKind::BadInput, "SAML0542", "session-chunks",
                 std::to_string(chunks.size()) + " session cookie chunks, more than " + std::to_string(max_chunks));
        std::size_t header_len = 0;
        const std::size_t count = parse_chunk_header(chunks[0], max_chunks, header_len);
        if (count != chunks.size())
            fail(ErrorKind::BadInput, "SAML0543", "session-chunks",
                 "the session cookie announces " + std::to_string(count) + " chunks but " +
                     std::to_string(chunks.size()) + " were given");
        std::size_t total = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t part = chunks[i].size() - (i == 0 ? header_len : 0);
            if (part == 0)
                fail(ErrorKind::BadInput, "SAML0543", "session-chunks",
                     "session cookie chunk " + std::to_string(i) + " is empty");
            total += part;
        }
        std::string value;
        value.reserve(total);
        value.append(chunks[0].substr(header_len));
        for (std::size_t i = 1; i < count; ++i) value.append(chunks[i]);
        return value;
    });
}

}  // namespace saml
