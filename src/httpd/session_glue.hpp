// Sessions as the module handles them: reading the (possibly chunked) cookie once per request,
// writing a fresh one at login, clearing it at logout, and exporting it to the application.
#pragma once

#include "login_state.hpp"
#include "session.hpp"

#include <httpd.h>

#include <optional>
#include <string>

namespace saml_httpd {

struct Runtime;
struct DirConfig;

inline constexpr std::size_t kCookieChunkBytes = 3800;  // under browsers' 4096 with name and attributes
inline constexpr std::size_t kMaxCookieChunks = 8;
// Room kept in the Cookie header for the site's other cookies and our login-state cookies.
inline constexpr std::size_t kCookieHeaderReserve = 1024;
inline constexpr const char* kLoginStatePrefix = "saml_login_";
inline constexpr const char* kLogoutStatePrefix = "saml_logout_";
inline constexpr long kLoginStateSeconds = 600;
inline constexpr std::size_t kMaxPendingLogins = 8;

// The session of this request, opened once and cached; null when there is none or it is not
// valid (expired, tampered, sealed with a retired secret: each logged at debug level).
const saml::Session* current_session(request_rec* r, const Runtime& rt, const DirConfig* dir);

// Seals the session into cookies; returns an empty string on success or the reason it cannot
// (e.g. too large for the cookie budget).
std::string write_session(request_rec* r, const Runtime& rt, const DirConfig* dir, const saml::Session& session);
// Ends the session: its cookies go, and with SAMLSessionStore cache its stored session too, for
// every copy of the cookie. False when the store did not answer (the cookies go all the same).
bool clear_session(request_rec* r, const Runtime& rt, const DirConfig* dir);
// SAMLSessionStore cache: this request's session could not be read because the store did not
// answer (the caller answers 503 rather than sending a logged-in user to log in again).
bool session_store_failed(request_rec* r);

// Login / logout state cookies (SameSite=None; Secure: the IdP's POST back is cross-site).
void write_state(request_rec* r, const Runtime& rt, const DirConfig* dir, const char* prefix,
                 const saml::LoginState& state);
std::vector<saml::LoginState> read_states(request_rec* r, const Runtime& rt, const char* prefix);
void clear_state(request_rec* r, const DirConfig* dir, const char* prefix, const std::string& request_id);

// Sets REMOTE_USER and the environment (and request headers when asked) from the session.
// set_user false: only the environment (for Require expr in authz_core's user-less pass); the
// user is set by check_user_id, which force_authn makes run.
void export_session(request_rec* r, const DirConfig* dir, const saml::Session& session, const std::string& user,
                    bool set_user = true);
// Drops client-sent headers carrying our prefix, so a back end never trusts a forged one.
void strip_forged_headers(request_rec* r, const DirConfig* dir);
// The environment name of an attribute under this directory's map, without the prefix;
// `unprefixed` (when given) tells whether SAMLAttributeMap ... NoPrefix exports it as is.
std::string attribute_variable(const DirConfig* dir, const saml::Attribute& attribute, bool* unprefixed = nullptr);
// Whether `wanted` names this attribute here: its Name, FriendlyName, built-in short name, or
// the variable name SAMLAttributeMap gives it — one rule for SAMLUserAttribute and Require.
bool attribute_matches(const DirConfig* dir, const saml::Attribute& attribute, std::string_view wanted);

}  // namespace saml_httpd
