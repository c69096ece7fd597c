// What the administrator is told about the validUntil and cacheDuration of a metadata *file*
// (SAMLIdPMetadataFile). A file is the administrator's statement, replaced by hand: its
// validUntil does not stop it from loading (a URL's does, see metadata_source.hpp); it is said
// ahead of time, at every start and configtest, once a day while httpd runs, and in saml-status.
#pragma once

#include "metadata.hpp"
#include "time.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace saml {

// How long before a file's validUntil the warnings start.
inline constexpr std::chrono::hours file_expiry_warning_ahead{30 * 24};

// The first validUntil in a loaded document: the root's or an IdP's (a nested EntitiesDescriptor's
// counts through its IdPs), and whose it is.
struct FirstExpiry {
    Instant at;
    std::string entity_id;  // empty: the document's root
};
std::optional<FirstExpiry> first_expiry(const LoadedMetadata& loaded);

struct FileNotice {
    enum class Level { Notice, Warning, Error };
    Level level;
    std::string code;
    std::string message;  // begins with the file's path
};

// SAML1100 (warning) when the first validUntil is within `ahead` of now, SAML1101 (error) once
// it has passed; nothing otherwise.
std::optional<FileNotice> file_expiry_notice(const std::string& path, const std::optional<FirstExpiry>& expiry,
                                             Instant now, std::chrono::seconds ahead = file_expiry_warning_ahead);

// SAML1103 (notice) when the file is older than the document's cacheDuration: the IdP asks to be
// re-read that often, and a file is read only when httpd (re)starts.
std::optional<FileNotice> file_cache_notice(const std::string& path, const std::optional<std::chrono::seconds>& cache_duration,
                                            Instant modified, Instant now);

// "in 3 days", "in 5 hours", "2 days ago": how far an instant is from now, for log lines.
std::string distance_in_words(Instant then, Instant now);

}  // namespace saml
