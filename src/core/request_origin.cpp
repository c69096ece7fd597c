#include "request_origin.hpp"

#include "crypto.hpp"

namespace saml {

namespace {

constexpr std::string_view kTokenCookieName = "saml-logout-confirmation";
constexpr std::size_t kMaxTokenBytes = 512;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// scheme://authority of an absolute http(s) URL, or empty for anything else.
std::string_view origin_of(std::string_view url) {
    const std::size_t colon = url.find("://");
    if (colon == std::string_view::npos) return {};
    const std::string_view scheme = url.substr(0, colon);
    if (!equals_ignoring_case(scheme, "http") && !equals_ignoring_case(scheme, "https")) return {};
    const std::size_t end = url.find_first_of("/?#", colon + 3);
    return url.substr(0, end);
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// "scheme://host[:port]" lowercased, without the scheme's default port.
std::string canonical_origin(std::string origin) {
    while (!origin.empty() && origin.back() == '/') origin.pop_back();
    origin = lowercase(origin);
    for (const auto& [scheme, port] : {std::pair{"https://", ":443"}, std::pair{"http://", ":80"}}) {
        const std::string_view suffix = port;
        if (origin.rfind(scheme, 0) == 0 && origin.size() > suffix.size() &&
            origin.compare(origin.size() - suffix.size(), suffix.size(), suffix) == 0)
            origin.resize(origin.size() - suffix.size());
    }
    return origin;
}

std::string host_of(const std::string& origin) {
    const std::size_t start = origin.find("://") + 3;
    const std::size_t end = origin[start] == '[' ? origin.find(']', start) + 1 : origin.find(':', start);
    return origin.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The redirect rules already decide which hosts are this site or trusted by the administrator,
// and refuse every URL shape a browser could read as another host: an origin is trusted when
// "<origin>/" would be an allowed absolute redirect target. Those rules ignore ports; here this
// host counts only with its own scheme and port (another port may be anyone's server).
bool trusted_origin(std::string_view url, const RedirectPolicy& policy) {
    const std::string_view origin = origin_of(url);
    if (origin.empty() || origin.size() > 1024) return false;
    auto checked = check_redirect_target(std::string(origin) + "/", policy);
    if (!checked) return false;
    const std::string candidate = canonical_origin(checked.value());
    const std::string self = canonical_origin(policy.self_scheme + "://" + policy.self_host);
    return candidate == self || host_of(candidate) != host_of(self);
}

std::string shown(std::string_view header, std::string_view value) {
    return std::string(header) + ": " + excerpt(value);
}

std::string session_fingerprint(const Session& session) {
    const std::string text = session.idp_entity_id + '\0' + session.name_id.value + '\0' + session.session_index + '\0' +
                             session.user + '\0' + std::to_string(to_unix(session.issued_at));
    return sha256(text);
}

}  // namespace

RequestOrigin classify_request_origin(const RequestOriginHeaders& headers, const RedirectPolicy& policy) {
    if (headers.sec_fetch_site) {
        const std::string_view site = *headers.sec_fetch_site;
        if (equals_ignoring_case(site, "same-origin") || equals_ignoring_case(site, "none"))
            return {RequestSource::trusted, shown("Sec-Fetch-Site", site)};
    }
    // A cross-site navigation sends no Origin for a GET but usually a Referer (its origin at
    // least, by the default referrer policy): a link from a host the site trusts still counts.
    for (const auto& [name, value] : {std::pair{"Origin", headers.origin}, std::pair{"Referer", headers.referer}}) {
        if (!value || value->empty()) continue;
        if (trusted_origin(*value, policy)) return {RequestSource::trusted, shown(name, origin_of(*value))};
        return {RequestSource::elsewhere, shown(name, origin_of(*value).empty() ? *value : origin_of(*value))};
    }
    if (headers.sec_fetch_site) return {RequestSource::elsewhere, shown("Sec-Fetch-Site", *headers.sec_fetch_site)};
    return {RequestSource::unknown, "no Sec-Fetch-Site, Origin or Referer"};
}

Result<std::string> logout_confirmation_token(const SessionSealer& sealer, const Session& session) {
    return sealer.seal_bytes(session_fingerprint(session), kTokenCookieName);
}

bool logout_confirmation_token_valid(const SessionSealer& sealer, const Session& session, std::string_view token) {
    if (token.empty() || token.size() > kMaxTokenBytes) return false;
    auto opened = sealer.open_bytes(token, kTokenCookieName);
    return opened.ok() && equal_secret(opened.value(), session_fingerprint(session));
}

}  // namespace saml
