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

std::string excerpt(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (text.size() > 64) out += "...";
    return out;
}

}  // namespace saml
