#include "encoding.hpp"

#include "error.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>

namespace saml {

namespace {

constexpr char kStandardAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        std::uint32_t v = data[i] << 16;
        if (rest == 2) v |= data[i + 1] << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        if (rest == 2) out += alphabet[(v >> 6) & 63];
        if (pad) out.append(rest == 1 ? "==" : "=");
    }
    return out;
}

std::array<std::int8_t, 256> make_table(const char* alphabet) {
    std::array<std::int8_t, 256> table{};
    table.fill(-1);
    for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return table;
}

const std::array<std::int8_t, 256> kStandardTable = make_table(kStandardAlphabet);
const std::array<std::int8_t, 256> kUrlTable = make_table(kUrlAlphabet);

[[noreturn]] void bad_base64(const char* what, const char* why) {
    fail(ErrorKind::BadInput, "SAML0110", "base64", std::string(what) + " is not valid base64: " + why);
}

std::string decode(std::string_view text, const std::array<std::int8_t, 256>& table, bool padded,
                   std::size_t max_decoded, const char* what) {
    // Sized once (whitespace only makes the estimate generous), written through a pointer:
    // this runs over every posted Response.
    std::string out(std::min(text.size() / 4 * 3 + 3, max_decoded + 3), '\0');
    char* write = out.data();
    char* const limit = out.data() + out.size();
    std::uint32_t acc = 0;
    int quantum = 0;
    std::size_t padding = 0;
    bool overflow = false;
    const auto* in = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t size = text.size();
    std::size_t i = 0;
    // Fast path: four alphabet characters at a time while nothing else interrupts them.
    while (i + 4 <= size && limit - write >= 3) {
        const std::int8_t a = table[in[i]], b = table[in[i + 1]], c = table[in[i + 2]], d = table[in[i + 3]];
        if ((a | b | c | d) < 0) break;
        const std::uint32_t v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                                (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
        write[0] = static_cast<char>(v >> 16);
        write[1] = static_cast<char>((v >> 8) & 0xff);
        write[2] = static_cast<char>(v & 0xff);
        write += 3;
        i += 4;
        // Line breaks in wrapped base64 send us to the slow path only for that character.
        while (i < size && (in[i] == '\n' || in[i] == '\r')) ++i;
    }
    for (; i < size; ++i) {
        const char c = static_cast<char>(in[i]);
        const std::int8_t v = table[in[i]];
        if (v >= 0) {
            if (padding != 0) bad_base64(what, "data after padding");
            acc = (acc << 6) | static_cast<std::uint32_t>(v);
            if (++quantum == 4) {
                if (limit - write < 3) {
                    overflow = true;  // more than max_decoded: reported below
                    break;
                }
                write[0] = static_cast<char>((acc >> 16) & 0xff);
                write[1] = static_cast<char>((acc >> 8) & 0xff);
                write[2] = static_cast<char>(acc & 0xff);
                write += 3;
                acc = 0;
                quantum = 0;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c != '=') bad_base64(what, "character outside the alphabet");
        if (!padded) bad_base64(what, "unexpected padding");
        ++padding;
    }
    if (quantum > 1 && limit - write < quantum - 1) overflow = true;  // the tail would not fit
    if (overflow)
        fail(ErrorKind::BadInput, "SAML0102", "input-size",
             std::string(what) + " decodes to more than " + std::to_string(max_decoded) + " bytes");
    if (quantum == 1) bad_base64(what, "truncated");
    if (padded && quantum != 0 && padding != static_cast<std::size_t>(4 - quantum)) bad_base64(what, "bad padding");
    if (padded && quantum == 0 && padding != 0) bad_base64(what, "bad padding");
    std::size_t length = static_cast<std::size_t>(write - out.data());
    if (quantum == 2) {
        if ((acc & 0xf) != 0) bad_base64(what, "non-canonical ending");
        out[length++] = static_cast<char>((acc >> 4) & 0xff);
    } else if (quantum == 3) {
        if ((acc & 0x3) != 0) bad_base64(what, "non-canonical ending");
        out[length++] = static_cast<char>((acc >> 10) & 0xff);
        out[length++] = static_cast<char>((acc >> 2) & 0xff);
    }
    if (length > max_decoded)
        fail(ErrorKind::BadInput, "SAML0102", "input-size",
             std::string(what) + " decodes to more than " + std::to_string(max_decoded) + " bytes");
    out.resize(length);
    return out;
}

struct DeflateStream {
    z_stream stream{};
    bool inflating;
    explicit DeflateStream(bool inflate) : inflating(inflate) {
        const int rc = inflating ? inflateInit2(&stream, -MAX_WBITS)
                                 : deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                                                Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) throw std::bad_alloc();
    }
    ~DeflateStream() {
        if (inflating) inflateEnd(&stream);
        else deflateEnd(&stream);
    }
    DeflateStream(const DeflateStream&) = delete;
    DeflateStream& operator=(const DeflateStream&) = delete;
};

}  // namespace

std::string base64_encode(std::string_view bytes) { return encode(bytes, kStandardAlphabet, true); }
std::string base64url_encode(std::string_view bytes) { return encode(bytes, kUrlAlphabet, false); }

std::string base64_decode(std::string_view text, std::size_t max_decoded, const char* what) {
    return decode(text, kStandardTable, true, max_decoded, what);
}
std::string base64url_decode(std::string_view text, std::size_t max_decoded, const char* what) {
    return decode(text, kUrlTable, false, max_decoded, what);
}

std::string deflate_raw(std::string_view bytes) {
    DeflateStream z(false);
    std::string out(deflateBound(&z.stream, static_cast<uLong>(bytes.size())), '\0');
    z.stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.stream.avail_in = static_cast<uInt>(bytes.size());
    z.stream.next_out = reinterpret_cast<Bytef*>(out.data());
    z.stream.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z.stream, Z_FINISH) != Z_STREAM_END) fail(ErrorKind::Internal, "SAML0004", "deflate", "deflate failed");
    out.resize(z.stream.total_out);
    return out;
}

std::string inflate_raw(std::string_view bytes, std::size_t max_output, const char* what) {
    DeflateStream z(true);
    std::string out;
    std::array<char, 16384> chunk{};
    z.stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.stream.avail_in = static_cast<uInt>(bytes.size());
    for (;;) {
        z.stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
        z.stream.avail_out = static_cast<uInt>(chunk.size());
        const int rc = inflate(&z.stream, Z_NO_FLUSH);
        const std::size_t produced = chunk.size() - z.stream.avail_out;
        if (out.size() + produced > max_output)
            fail(ErrorKind::BadInput, "SAML0102", "input-size",
                 std::string(what) + " inflates to more than " + std::to_string(max_output) + " bytes");
        out.append(chunk.data(), produced);
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK || (produced == 0 && z.stream.avail_in == 0))
            fail(ErrorKind::BadInput, "SAML0111", "deflate", std::string(what) + " is not valid DEFLATE data");
    }
    return out;
}

std::string url_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() * 3 / 2);
    for (unsigned char c : text) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string url_decode(std::string_view text, const char* what) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            if (i + 2 >= text.size())
                fail(ErrorKind::BadInput, "SAML0112", "url-encoding", std::string(what) + " has a truncated %-escape");
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0)
                fail(ErrorKind::BadInput, "SAML0112", "url-encoding", std::string(what) + " has a malformed %-escape");
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

std::string hex_encode(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

}  // namespace saml
