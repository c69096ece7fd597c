#include "redirect_target.hpp"

namespace saml {

namespace {

[[noreturn]] void refuse(const char* code, std::string detail) {
    fail(ErrorKind::Rejected, code, "redirect-target", std::move(detail));
}

bool is_control_or_space(unsigned char c) { return c <= 0x20 || c == 0x7f; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = lower(c);
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// One layer of %XX decoding. A malformed escape refuses when strict (the target itself must be
// a valid URL); in deeper layers a lone '%' is just a character (e.g. "/100%25" decodes to "/100%").
std::string percent_decode_once(std::string_view s, bool strict) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            const bool complete = i + 2 < s.size();
            const int hi = complete ? hex_value(s[i + 1]) : -1;
            const int lo = complete ? hex_value(s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
            if (strict) refuse("SAML0605", "the path has a malformed %-escape");
        }
        out += s[i];
    }
    return out;
}

bool has_dot_segment(std::string_view path) {
    std::size_t start = 0;
    while (start < path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        const std::string_view segment = path.substr(start, end - start);
        if (segment == "." || segment == "..") return true;
        start = end + 1;
    }
    return false;
}

// The path (from its leading '/' up to '?' or '#') must not turn into another host in any
// decoded layer: no "//" or "/\" at its start, no backslash, control character or dot segment.
void check_path(std::string_view path) {
    std::string layer(path);
    for (int depth = 0;; ++depth) {
        if (layer.size() >= 2 && (layer[1] == '/' || layer[1] == '\\'))
            refuse(depth == 0 ? "SAML0604" : "SAML0605",
                   depth == 0 ? "the path starts with \"//\": a browser reads it as another host"
                              : "the path starts with an encoded \"//\" or \"/\\\"");
        for (char c : layer) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '\\') refuse("SAML0605", "the path holds an encoded backslash");
            // (A tab or newline that a browser strips could join "/" and "/" into "//".)
            if (u < 0x20 || u == 0x7f) refuse("SAML0605", "the path holds an encoded control character");
        }
        if (has_dot_segment(layer)) refuse("SAML0606", "the path has a \".\" or \"..\" segment");
        if (layer.find('%') == std::string::npos) return;
        if (depth == 3) refuse("SAML0605", "the path is encoded more than three times over");
        std::string next = percent_decode_once(layer, depth == 0);
        if (next == layer) return;
        layer = std::move(next);
    }
}

// Location-safe form: bytes that are not printable ASCII, and characters that would need
// escaping in HTML or are not allowed in URLs, become %XX.
std::string escape_unsafe(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        const bool unsafe = u >= 0x80 || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == '{' ||
                            c == '}' || c == '|' || c == '^';
        if (unsafe) {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

bool valid_dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i <= host.size(); ++i) {
        if (i == host.size() || host[i] == '.') {
            if (label == 0 || label > 63) return false;  // empty label: "a..b", ".a", "a."
            label = 0;
            continue;
        }
        const char c = host[i];
        if (!(is_alpha(c) || is_digit(c) || c == '-')) return false;
        ++label;
    }
    return true;
}

bool valid_ipv6_literal(std::string_view host) {
    if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2))
        if (!(hex_value(c) >= 0 || c == ':' || c == '.')) return false;
    return true;
}

struct Authority {
    std::string host;  // lowercase; IPv6 with its brackets
    std::string port;  // canonical digits, or empty
};

Authority parse_authority(std::string_view authority) {
    if (authority.empty()) refuse("SAML0608", "the URL has no host");
    if (authority.find('@') != std::string_view::npos)
        refuse("SAML0609", "the URL carries userinfo (\"@\"), a classic way to disguise the host");
    Authority out;
    std::string_view host, port;
    bool has_port = false;
    if (authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) refuse("SAML0610", "the URL's IPv6 host is not closed");
        host = authority.substr(0, close + 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') refuse("SAML0610", "the URL has characters after its IPv6 host");
            has_port = true;
            port = after.substr(1);
        }
        out.host = lowercase(host);
        if (!valid_ipv6_literal(out.host)) refuse("SAML0610", "the URL's IPv6 host is malformed");
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port = authority.substr(colon + 1);
        }
        out.host = lowercase(host);
        if (!valid_dns_name(out.host))
            refuse("SAML0610", "the URL's host is not a plain DNS name (only letters, digits, '-' and dots)");
    }
    if (has_port) {
        if (port.empty() || port.size() > 5) refuse("SAML0611", "the URL's port is empty or too long");
        unsigned value = 0;
        for (char c : port) {
            if (!is_digit(c)) refuse("SAML0611", "the URL's port is not a number");
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535) refuse("SAML0611", "the URL's port is out of range");
        out.port = std::to_string(value);
    }
    return out;
}

// The host of a Host-header value: lowercase, without its port.
std::string host_without_port(std::string_view host_header) {
    if (!host_header.empty() && host_header.front() == '[') {
        const std::size_t close = host_header.find(']');
        return lowercase(host_header.substr(0, close == std::string_view::npos ? host_header.size() : close + 1));
    }
    return lowercase(host_header.substr(0, host_header.find(':')));
}

bool host_allowed(const std::string& host, const RedirectPolicy& policy) {
    if (!policy.self_host.empty() && host == host_without_port(policy.self_host)) return true;
    for (const auto& entry_text : policy.allowed_hosts) {
        const std::string entry = lowercase(entry_text);
        const bool suffix = !entry.empty() && entry.front() == '.';
        const std::string_view name = suffix ? std::string_view(entry).substr(1) : std::string_view(entry);
        if (!valid_dns_name(name) && !(!suffix && valid_ipv6_literal(name)))
            fail(ErrorKind::Config, "SAML0640", "redirect-allow-list",
                 "\"" + entry_text + "\" is not a host name or \".domain\" suffix (write \".example.org\" for its subdomains)");
        if (suffix) {
            if (host.size() > entry.size() && host.compare(host.size() - entry.size(), entry.size(), entry) == 0)
                return true;
        } else if (host == entry) {
            return true;
        }
    }
    return false;
}

std::string check_target(std::string_view target, const RedirectPolicy& policy) {
    if (target.empty()) refuse("SAML0600", "no redirect target");
    if (target.size() > policy.max_length)
        refuse("SAML0601", "the redirect target is longer than " + std::to_string(policy.max_length) + " bytes");
    for (char c : target) {
        if (is_control_or_space(static_cast<unsigned char>(c)))
            refuse("SAML0602", "the redirect target holds whitespace or a control character");
        if (c == '\\') refuse("SAML0603", "the redirect target holds a backslash, which browsers read as '/'");
    }

    // The path ends where the query or the fragment begins.
    const auto path_of = [](std::string_view rest) { return rest.substr(0, rest.find_first_of("?#")); };

    if (target.front() == '/') {
        check_path(path_of(target));
        return escape_unsafe(target);
    }

    std::size_t scheme_end = 0;
    if (is_alpha(target.front()))
        while (scheme_end < target.size() &&
               (is_alpha(target[scheme_end]) || is_digit(target[scheme_end]) || target[scheme_end] == '+' ||
                target[scheme_end] == '-' || target[scheme_end] == '.'))
            ++scheme_end;
    if (scheme_end == 0 || scheme_end == target.size() || target[scheme_end] != ':')
        refuse("SAML0607", "the redirect target is neither a path starting with '/' nor an http(s) URL");
    const std::string scheme = lowercase(target.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https")
        refuse("SAML0607", "the redirect target's scheme \"" + scheme + "\" is not http or https");

    const std::string_view after_scheme = target.substr(scheme_end + 1);
    if (after_scheme.substr(0, 2) != "//")
        refuse("SAML0608", "the URL lacks \"//\" after its scheme (\"http:host\", \"https:/host\")");
    const std::string_view rest_of_url = after_scheme.substr(2);
    const std::size_t authority_end = rest_of_url.find_first_of("/?#");
    const std::string_view authority = rest_of_url.substr(0, authority_end);
    const std::string_view rest =
        authority_end == std::string_view::npos ? std::string_view() : rest_of_url.substr(authority_end);
    const Authority parsed = parse_authority(authority);
    if (!host_allowed(parsed.host, policy))
        refuse("SAML0612", "the redirect target's host " + parsed.host + " is neither this host nor allowed");
    if (scheme == "http" && lowercase(policy.self_scheme) == "https" && !policy.allow_http_from_https)
        refuse("SAML0613", "the redirect target would leave https for http");

    std::string out = scheme + "://" + parsed.host;
    if (!parsed.port.empty()) out += ":" + parsed.port;
    if (rest.empty() || rest.front() != '/') out += '/';
    else check_path(path_of(rest));
    out += escape_unsafe(rest);
    return out;
}

// The length limit holds for what goes into the Location header too: escaping can triple a
// target's length, and a target accepted only because it was short before escaping would be
// refused when it comes back (a RelayState round trip), so the check is not idempotent.
std::string check_target_and_result(std::string_view target, const RedirectPolicy& policy) {
    std::string out = check_target(target, policy);
    if (out.size() > policy.max_length)
        refuse("SAML0601", "the redirect target is longer than " + std::to_string(policy.max_length) +
                               " bytes once its unsafe characters are %-escaped");
    return out;
}

}  // namespace

Result<std::string> check_redirect_target(std::string_view target, const RedirectPolicy& policy) {
    return guarded([&] { return check_target_and_result(target, policy); });
}

}  // namespace saml
