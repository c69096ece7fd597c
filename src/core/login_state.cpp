#include "login_state.hpp"

#include "crypto.hpp"
#include "encoding.hpp"

namespace saml {

namespace {

constexpr unsigned char kVersion = 1;
constexpr std::size_t kMaxField = 8192;

void put(std::string& out, std::string_view field) {
    const auto n = static_cast<std::uint32_t>(field.size());
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
    out.append(field);
}

std::string get(std::string_view& in) {
    if (in.size() < 4) fail(ErrorKind::BadInput, "SAML0560", "login-state", "login state is truncated");
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
    in.remove_prefix(4);
    if (n > kMaxField || n > in.size()) fail(ErrorKind::BadInput, "SAML0560", "login-state", "login state field is too long");
    std::string field(in.substr(0, n));
    in.remove_prefix(n);
    return field;
}

}  // namespace

std::string encode_login_state(const LoginState& state) {
    std::string out(1, static_cast<char>(kVersion));
    put(out, state.request_id);
    put(out, state.return_to);
    put(out, state.idp_entity_id);
    put(out, std::to_string(to_unix(state.created)));
    return out;
}

Result<LoginState> decode_login_state(std::string_view bytes) {
    return guarded([&] {
        if (bytes.empty() || static_cast<unsigned char>(bytes.front()) != kVersion)
            fail(ErrorKind::BadInput, "SAML0560", "login-state", "unknown login state version");
        bytes.remove_prefix(1);
        LoginState state;
        state.request_id = get(bytes);
        state.return_to = get(bytes);
        state.idp_entity_id = get(bytes);
        const std::string created = get(bytes);
        if (!bytes.empty() || created.empty() || created.size() > 12 ||
            created.find_first_not_of("0123456789") != std::string::npos)
            fail(ErrorKind::BadInput, "SAML0560", "login-state", "login state is malformed");
        state.created = from_unix(std::stoll(created));
        return state;
    });
}

std::string login_state_cookie_name(std::string_view prefix, std::string_view request_id) {
    return std::string(prefix) + hex_encode(sha256(request_id).substr(0, 8));
}

}  // namespace saml
