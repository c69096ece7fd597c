// Typed errors of the core. Inside the core a failure is thrown as saml::Failure; every public
// entry point catches it and hands the caller a Result, so no exception crosses the API.
#pragma once

#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace saml {

enum class ErrorKind {
    BadInput,   // malformed, truncated, oversized or hostile input
    Rejected,   // well-formed input that a security rule refuses
    Config,     // the administrator's settings, keys or metadata are wrong
    Internal,   // our own bug or an exhausted resource
};

const char* to_string(ErrorKind kind) noexcept;

struct Error {
    Error() = default;
    Error(ErrorKind kind_, std::string code_, std::string rule_, std::string detail_)
        : kind(kind_), code(std::move(code_)), rule(std::move(rule_)), detail(std::move(detail_)) {}

    ErrorKind kind = ErrorKind::Internal;
    std::string code;    // stable message id, e.g. "SAML0203", so logs and tests can name it
    std::string rule;    // the rule or step that failed, e.g. "audience"
    std::string detail;  // why, for the log line (never contains secrets)
    // The IdP the refused message came from, once its Issuer matched a configured IdP (empty
    // before); idp_verified once a signature of that IdP covered the message. Unverified, the
    // name is only what the message claims.
    std::string idp;
    bool idp_verified = false;

    std::string message() const;  // "SAML0203 audience: ..."
};

class Failure : public std::exception {
public:
    explicit Failure(Error error) : error_(std::move(error)) {}
    const Error& error() const noexcept { return error_; }
    const char* what() const noexcept override { return error_.detail.c_str(); }

private:
    Error error_;
};

[[noreturn]] void fail(ErrorKind kind, const char* code, const char* rule, std::string detail);

// Outside text quoted in a message, safe for a one-line log: valid UTF-8 is kept as it is (a
// name reads as written), while control characters (C0, DEL, C1), line and paragraph separators,
// bidirectional overrides and bytes that are not UTF-8 become \xNN (or \u{NNNN}). Cut at a
// character boundary after max_chars characters, with "..." then.
std::string printable(std::string_view text, std::size_t max_chars);

// printable() with room for a whole real entityID (AWS IAM Identity Center's run past 100
// characters; two that differ only at the end must not print alike) and still one bounded line.
inline constexpr std::size_t max_excerpt_chars = 512;
std::string excerpt(std::string_view text);

template <typename T>
class Result {
public:
    Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Error error) : state_(std::move(error)) {}  // NOLINT

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    const T& value() const& { return std::get<0>(state_); }
    T& value() & { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    const Error& error() const& { return std::get<1>(state_); }

private:
    std::variant<T, Error> state_;
};

struct Done {};  // the value of a Result that only succeeds or fails

// How far a validation got in knowing who sent the message, for its refusal's log line.
struct IdpSeen {
    std::string entity_id;  // a configured IdP's entityID, once the Issuer matched it
    bool verified = false;  // a signature of that IdP covered the message
};

// Runs body; a Failure leaving it names the IdP seen by then (unless it names one already), so
// that with several IdPs an administrator can tell whose message was refused.
template <typename Body>
auto naming_idp(const IdpSeen& seen, Body&& body) -> decltype(body()) {
    try {
        return body();
    } catch (const Failure& failure) {
        if (seen.entity_id.empty() || !failure.error().idp.empty()) throw;
        Error error = failure.error();
        error.idp = seen.entity_id;
        error.idp_verified = seen.verified;
        throw Failure(std::move(error));
    }
}

// Runs body and converts anything it throws into an Error; the one place where exceptions stop.
template <typename Body>
auto guarded(Body&& body) -> Result<decltype(body())> {
    try {
        return body();
    } catch (const Failure& failure) {
        return failure.error();
    } catch (const std::bad_alloc&) {
        return Error{ErrorKind::Internal, "SAML0002", "memory", "out of memory"};
    } catch (const std::exception& e) {
        return Error{ErrorKind::Internal, "SAML0001", "internal", e.what()};
    } catch (...) {
        return Error{ErrorKind::Internal, "SAML0001", "internal", "unknown exception"};
    }
}

}  // namespace saml
