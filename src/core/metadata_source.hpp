// IdP metadata that lives at a URL: fetched, verified, kept in a backup file, refreshed while
// the server runs. Several processes (httpd's children) share one source through the file
// system: a lock file lets one of them fetch at a time, and the backup file it writes (write
// to a temporary name, then rename) is how the others learn about the new document.
//
// Files of a source with backup file B:
//   B        the last good document, exactly as fetched (signed), read back at start-up
//   B.state  the lock (flock) and the outcome of the last attempt: its mtime is when the last
//            attempt ended; its text says ok or failed, the reason, and the ETag of B
//
// Threads: one at a time calls refresh_step() or follow_backup() (the caller holds a lock);
// backup_changed() may be called from any thread meanwhile. Request threads otherwise only read
// the IdpRegistry snapshots the caller builds from idps().
#pragma once

#include "error.hpp"
#include "http_client.hpp"
#include "metadata.hpp"
#include "time.hpp"

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace saml {

// An IdpRegistry that can be replaced while requests read it: a request takes one snapshot and
// uses it to the end; a replacement never waits for readers and never frees what one still holds.
class SharedIdpRegistry {
public:
    SharedIdpRegistry() : current_(std::make_shared<const IdpRegistry>()) {}
    std::shared_ptr<const IdpRegistry> snapshot() const { return std::atomic_load(&current_); }
    void replace(std::shared_ptr<const IdpRegistry> next) { std::atomic_store(&current_, std::move(next)); }

private:
    std::shared_ptr<const IdpRegistry> current_;
};

struct MetadataSourceSettings {
    std::string url;
    std::string backup_path;
    std::chrono::seconds refresh_interval{3600};  // cacheDuration may make it shorter
    std::chrono::seconds failure_retry{300};      // after a failed attempt, at most this long to the next
    HttpOptions http;                             // timeouts, size limit, CA file
    std::vector<std::shared_ptr<X509>> signing_certificates;  // non-empty: the document must be signed by one
    AlgorithmPolicy algorithms;
    // Documents larger than this decode each IdP's certificates on its first use
    // (MetadataOptions::defer_certificates): what keeps a federation aggregate cheap in time and
    // memory in every child.
    std::size_t defer_certificates_above = saml::defer_certificates_above;
    // When set (httpd started as root), the files are given to this owner so that the children,
    // which run as httpd's User, can replace them.
    std::optional<std::pair<uid_t, gid_t>> file_owner;
};

// What happened, for the caller's log; code is a stable SAML09xx id.
struct SourceEvent {
    enum class Level { Debug, Info, Notice, Warning, Error };
    Level level;
    std::string code;
    std::string message;
};

// A failure's reason as compared with the previous one ("the same failure again" is a note, not
// a warning): runs of digits read as one '#', except in SAMLxxxx codes, so a timeout that says
// how many milliseconds it waited, or a size, is the same failure each time.
std::string failure_shape(std::string_view reason);

class MetadataSource {
public:
    explicit MetadataSource(MetadataSourceSettings settings);

    // At start-up (httpd's parent, before the children exist): fetch when a fetch is due, else
    // or when it fails load the backup, verified the same way. An Error names the URL, the
    // backup file and both reasons when neither gives good metadata.
    Result<Done> load_at_startup(Instant now, std::vector<SourceEvent>& events);

    // One step of the refresh, called every few seconds by one thread of each process: loads a
    // backup that another process replaced, fetches when a fetch is due and no other process is
    // fetching, drops metadata whose validUntil has passed. Never throws; true when idps() changed.
    bool refresh_step(Instant now, std::vector<SourceEvent>& events, const std::function<bool()>& cancelled = {});

    // Whether the backup file is one this source has not looked at yet: another process fetched
    // a newer document (or this process was forked from a parent holding an older one). One
    // stat(); safe from any thread while another runs refresh_step(). What a request checks
    // before it uses the IdPs, so that no process trusts older metadata than the others.
    bool backup_changed() const noexcept;
    // Takes the backup file when it changed (verified again, as at start-up: a tampered or
    // expired file is refused once and the metadata in use kept). The first part of
    // refresh_step(); never throws; true when idps() changed.
    bool follow_backup(Instant now, std::vector<SourceEvent>& events);

    // The IdPs of the current good document (empty once it expired).
    const std::vector<std::shared_ptr<const IdpDescriptor>>& idps() const noexcept { return idps_; }
    // Instead of idps(), for a large document: its IdPs as places in the mmapped backup file.
    const std::vector<std::shared_ptr<const LazyIdp>>& lazy_idps() const noexcept { return lazy_idps_; }
    std::size_t idp_count() const noexcept { return idps_.size() + lazy_idps_.size(); }
    const MetadataSourceSettings& settings() const noexcept { return settings_; }
    std::string state_path() const { return settings_.backup_path + ".state"; }
    // How long after a success the next fetch is due: the refresh interval, or the document's
    // cacheDuration when that is shorter (never under one second).
    std::chrono::seconds refresh_delay() const;
    // When the next refresh_step() may have something to do (for the caller's sleep).
    std::chrono::seconds poll_interval() const;

    // Checks that a process running as `owner` (or as this process) can create and replace the
    // files next to the backup; an Error says which directory and what to change.
    Result<Done> check_backup_directory() const;

private:
    struct FileIdentity {
        dev_t device = 0;
        ino_t inode = 0;
        off_t size = 0;
        long long mtime_ns = 0;
        bool operator==(const FileIdentity& other) const {
            return device == other.device && inode == other.inode && size == other.size && mtime_ns == other.mtime_ns;
        }
    };
    struct AttemptRecord {
        bool exists = false;   // no state file: never attempted
        bool ok = false;
        Instant ended;         // the state file's mtime
        std::string etag;      // of the document in the backup file
        std::string reason;    // of the failure
    };

    // Throws Failure. A large document's IdPs stay places in `document` (see LazyIdp).
    LoadedMetadata verify(const std::shared_ptr<const DocumentBytes>& document, Instant now) const;
    void adopt(LoadedMetadata loaded, const std::optional<FileIdentity>& identity);
    std::optional<FileIdentity> backup_identity() const noexcept;
    // The backup file as it was when this source last took it, refused it, or used a newer
    // document than it (one that could not be written): not to be loaded again.
    void set_seen(const std::optional<FileIdentity>& identity) noexcept;
    bool follow_backup_unguarded(Instant now, std::vector<SourceEvent>& events);
    bool load_backup(Instant now, std::vector<SourceEvent>& events, bool at_startup, std::string* why);
    // The state file's record, or this process's own when the file could not take it.
    AttemptRecord read_attempt() const;
    AttemptRecord read_attempt_file() const;
    bool fetch_due(const AttemptRecord& attempt, Instant now) const;
    enum class FetchOutcome { Failed, NotModified, Replaced };
    // Runs with the state file locked (fd); records the outcome in it. *why: the failure's reason.
    FetchOutcome fetch_locked(int state_fd, Instant now, std::vector<SourceEvent>& events,
                              const std::function<bool()>& cancelled, const AttemptRecord& previous, std::string* why);
    // Never throws: a state file that cannot be written is a SAML0930 warning, and the attempt is
    // remembered by this process instead.
    void write_attempt(int state_fd, Instant now, bool ok, const std::string& etag, const std::string& reason,
                       std::vector<SourceEvent>& events);
    bool drop_expired(Instant now, std::vector<SourceEvent>& events);

    MetadataSourceSettings settings_;
    std::vector<std::shared_ptr<const IdpDescriptor>> idps_;
    std::vector<std::shared_ptr<const LazyIdp>> lazy_idps_;
    std::optional<Instant> valid_until_;
    std::optional<std::chrono::seconds> cache_duration_;
    std::optional<FileIdentity> loaded_identity_;      // of the backup file our idps_ came from
    // See set_seen(); read by backup_changed() from other threads, hence swapped atomically.
    std::shared_ptr<const FileIdentity> seen_;
    bool expired_logged_ = false;
    // The last attempt, while the state file could not record it (used by the refresh thread only).
    std::optional<AttemptRecord> remembered_attempt_;
};

}  // namespace saml
