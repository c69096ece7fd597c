// The replay cache the validators write to: each message ID once, until the message could no
// longer be accepted anyway (the module backs it with ap_socache, shared by a cluster).
#pragma once

#include "time.hpp"

#include <string_view>

namespace saml {

class ReplayCache {
public:
    enum class Verdict { Fresh, Replayed, Unavailable };
    virtual ~ReplayCache() = default;
    // key: a namespace, the issuer and the message ID (never the ID alone: two IdPs may use the
    // same); expiry: when it may be forgotten.
    virtual Verdict remember(std::string_view key, Instant expiry) = 0;
};

}  // namespace saml
