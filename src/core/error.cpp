#include "error.hpp"

namespace saml {

const char* to_string(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::BadInput: return "bad input";
        case ErrorKind::Rejected: return "rejected";
        case ErrorKind::Config: return "configuration";
        case ErrorKind::Internal: return "internal";
    }
    return "internal";
}

std::string Error::message() const {
    std::string text = code;
    text += ' ';
    text += rule;
    text += ": ";
    text += detail;
    return text;
}

void fail(ErrorKind kind, const char* code, const char* rule, std::string detail) {
    throw Failure(Error{kind, code, rule, std::move(detail)});
}

namespace {

// The length of the well-formed UTF-8 sequence at text[pos] and its code point; 0 when the
// bytes there are not one (overlong, surrogate, beyond U+10FFFF, truncated).
std::size_t utf8_sequence(std::string_view text, std::size_t pos, char32_t& code_point) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(pos);
    std::size_t length = 0;
    char32_t value = 0, minimum = 0;
    if (lead < 0x80) return code_point = lead, 1;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2, value = lead & 0x1f, minimum = 0x80;
    else if (lead >= 0xe0 && lead <= 0xef) length = 3, value = lead & 0x0f, minimum = 0x800;
    else if (lead >= 0xf0 && lead <= 0xf4) length = 4, value = lead & 0x07, minimum = 0x10000;
    else return 0;
    if (pos + length > text.size()) return 0;
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(pos + i) & 0xc0) != 0x80) return 0;
        value = (value << 6) | (byte(pos + i) & 0x3f);
    }
    if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return 0;
    code_point = value;
    return length;
}

// Characters that would let quoted text break a log line or make it read as something else.
bool must_escape(char32_t c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f || c == 0x061c;
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_chars) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    std::size_t pos = 0, chars = 0;
    while (pos < text.size() && chars < max_chars) {
        char32_t c = 0;
        const std::size_t length = utf8_sequence(text, pos, c);
        if (length == 0) {
            const auto b = static_cast<unsigned char>(text[pos]);
            out += "\\x";
            out += hex[b >> 4];
            out += hex[b & 15];
            ++pos;
        } else if (must_escape(c)) {
            if (c < 0x100) {
                out += "\\x";
                out += hex[(c >> 4) & 15];
                out += hex[c & 15];
            } else {
                out += "\\u{";
                for (int shift = 12; shift >= 0; shift -= 4) out += hex[(c >> shift) & 15];
                out += '}';
            }
            pos += length;
        } else {
            out.append(text.substr(pos, length));
            pos += length;
        }
        ++chars;
    }
    if (pos < text.size()) out += "...";
    return out;
}

std::string excerpt(std::string_view text) { return printable(text, max_excerpt_chars); }

}  // namespace saml
