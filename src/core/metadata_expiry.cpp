#include "metadata_expiry.hpp"

namespace saml {

namespace {

using std::chrono::duration_cast;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::string count_of(long long n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); }

std::string span_in_words(seconds span) {
    if (span >= hours(48)) return count_of(duration_cast<hours>(span).count() / 24, "day");
    if (span >= hours(2)) return count_of(duration_cast<hours>(span).count(), "hour");
    return count_of(std::max<long long>(duration_cast<minutes>(span).count(), 1), "minute");
}

std::string whose(const FirstExpiry& expiry) {
    return expiry.entity_id.empty() ? "its validUntil" : "the validUntil of IdP '" + excerpt(expiry.entity_id) + "'";
}

}  // namespace

std::optional<FirstExpiry> first_expiry(const LoadedMetadata& loaded) {
    std::optional<FirstExpiry> first;
    const auto consider = [&](const std::optional<Instant>& at, const std::string& entity_id) {
        if (at && (!first || *at < first->at)) first = FirstExpiry{*at, entity_id};
    };
    consider(loaded.valid_until, "");
    // An IdP's validUntil is the nearest on its path, so one equal to the root's is the root's.
    for (const auto& idp : loaded.idps) consider(idp->valid_until, idp->entity_id);
    for (const auto& idp : loaded.lazy_idps) consider(idp->valid_until(), idp->entity_id());
    return first;
}

std::string distance_in_words(Instant then, Instant now) {
    const auto span = duration_cast<seconds>(then > now ? then - now : now - then);
    return then > now ? "in " + span_in_words(span) : span_in_words(span) + " ago";
}

std::optional<FileNotice> file_expiry_notice(const std::string& path, const std::optional<FirstExpiry>& expiry,
                                             Instant now, std::chrono::seconds ahead) {
    if (!expiry) return std::nullopt;
    const std::string when = format_datetime(expiry->at) + " (" + distance_in_words(expiry->at, now) + ")";
    if (expiry->at <= now)
        return FileNotice{FileNotice::Level::Error, "SAML1101",
                          path + ": " + whose(*expiry) + " passed at " + when +
                              "; the file is still used, as the administrator's statement, but the IdP may have "
                              "changed its keys since: download its current metadata and replace the file"};
    if (expiry->at - now <= ahead)
        return FileNotice{FileNotice::Level::Warning, "SAML1100",
                          path + ": " + whose(*expiry) + " is " + when +
                              "; download the IdP's current metadata before then (it will still be used after, "
                              "with an error in the log every day)"};
    return std::nullopt;
}

std::optional<FileNotice> file_cache_notice(const std::string& path, const std::optional<std::chrono::seconds>& cache_duration,
                                            Instant modified, Instant now) {
    if (!cache_duration || now - modified <= *cache_duration) return std::nullopt;
    return FileNotice{FileNotice::Level::Notice, "SAML1103",
                      path + ": its cacheDuration asks that it be re-read every " + span_in_words(*cache_duration) +
                          ", and the file was last changed " + distance_in_words(modified, now) +
                          "; a file is read only when httpd (re)starts: SAMLIdPMetadataURL would refresh it"};
}

}  // namespace saml
