// xs:dateTime as SAML uses it: always read to a UTC instant, always written in UTC with 'Z'.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace saml {

using Clock = std::chrono::system_clock;
using Instant = Clock::time_point;

// Accepts YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm). A missing zone is read as UTC, as most
// SPs do. Anything else is Failure(BadInput) naming `what`.
Instant parse_datetime(std::string_view text, const char* what);
std::string format_datetime(Instant instant);  // 2026-11-27T14:17:23Z

// Seconds since the Unix epoch, for compact storage in sessions and caches.
inline long long to_unix(Instant t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline Instant from_unix(long long seconds) { return Instant(std::chrono::seconds(seconds)); }

}  // namespace saml
