#include "metadata_source.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace saml {

std::string failure_shape(std::string_view reason) {
    std::string out;
    out.reserve(reason.size());
    for (std::size_t i = 0; i < reason.size();) {
        const bool code = reason.compare(i, 4, "SAML") == 0;
        if (code) {  // SAMLxxxx stays whole: another code is another reason
            std::size_t end = i + 4;
            while (end < reason.size() && reason[end] >= '0' && reason[end] <= '9') ++end;
            out.append(reason.substr(i, end - i));
            i = end;
        } else if (reason[i] >= '0' && reason[i] <= '9') {
            out += '#';
            while (i < reason.size() && reason[i] >= '0' && reason[i] <= '9') ++i;
        } else {
            out += reason[i++];
        }
    }
    return out;
}


namespace {

using std::chrono::seconds;
using Level = SourceEvent::Level;

constexpr std::size_t max_state_bytes = 64 * 1024;
constexpr std::size_t max_logged_warnings = 5;  // an aggregate may skip thousands of entities

SourceEvent::Level level_of(const MetadataWarning& warning) {
    return warning.level == MetadataWarning::Level::Warning ? SourceEvent::Level::Warning : SourceEvent::Level::Notice;
}

// One owner per file descriptor.
class Fd {
public:
    explicit Fd(int fd = -1) noexcept : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_;
};

std::string errno_text(int error) { return std::strerror(error); }

std::string one_line(std::string text) {
    for (auto& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

// An ETag goes back into a request header: printable ASCII only, bounded.
bool usable_etag(const std::string& etag) {
    return !etag.empty() && etag.size() <= 256 &&
           std::all_of(etag.begin(), etag.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

long long mtime_ns(const struct stat& info) {
    return static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec;
}

Instant mtime_of(const struct stat& info) {
    return Instant(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(mtime_ns(info))));
}

std::string read_all(int fd, std::size_t limit, const std::string& path) {
    std::string content;
    char buffer[65536];
    for (;;) {
        const ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0) {
            if (errno == EINTR) continue;
            fail(ErrorKind::Config, "SAML0925", "metadata-backup", path + ": " + errno_text(errno));
        }
        if (got == 0) break;
        if (content.size() + static_cast<std::size_t>(got) > limit)
            fail(ErrorKind::Config, "SAML0925", "metadata-backup",
                 path + " is larger than the size limit of " + std::to_string(limit) + " bytes");
        content.append(buffer, static_cast<std::size_t>(got));
    }
    return content;
}

void write_all(int fd, const std::string& data, const std::string& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t put = ::write(fd, data.data() + done, data.size() - done);
        if (put < 0) {
            if (errno == EINTR) continue;
            fail(ErrorKind::Config, "SAML0924", "metadata-backup", "cannot write " + path + ": " + errno_text(errno));
        }
        done += static_cast<std::size_t>(put);
    }
}

// A backup file mapped read-only: the page cache holds one copy for every process that maps
// it, which is what lets httpd's children share a large aggregate's bytes (LazyIdp). A replaced
// file (rename) stays mapped until the last IdP pointing into it is gone.
class MappedDocument final : public DocumentBytes {
public:
    MappedDocument(const void* data, std::size_t size) noexcept : data_(data), size_(size) {}
    MappedDocument(const MappedDocument&) = delete;
    MappedDocument& operator=(const MappedDocument&) = delete;
    ~MappedDocument() override { ::munmap(const_cast<void*>(data_), size_); }
    std::string_view bytes() const noexcept override { return {static_cast<const char*>(data_), size_}; }
    void release_pages() const noexcept override { ::madvise(const_cast<void*>(data_), size_, MADV_DONTNEED); }

private:
    const void* data_;
    std::size_t size_;
};

std::shared_ptr<const DocumentBytes> map_document(int fd, std::size_t limit, const std::string& path) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) fail(ErrorKind::Config, "SAML0925", "metadata-backup", path + ": " + errno_text(errno));
    const auto size = static_cast<std::size_t>(info.st_size);
    if (size > limit)
        fail(ErrorKind::Config, "SAML0925", "metadata-backup",
             path + " is larger than the size limit of " + std::to_string(limit) + " bytes");
    if (size == 0) return document_bytes(std::string());
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) fail(ErrorKind::Config, "SAML0925", "metadata-backup", path + ": mmap: " + errno_text(errno));
    return std::make_shared<const MappedDocument>(data, size);
}

std::string age_text(Instant then, Instant now) {
    const auto age = std::chrono::duration_cast<seconds>(now - then).count();
    if (age < 120) return std::to_string(age) + " s ago";
    if (age < 7200) return std::to_string(age / 60) + " min ago";
    return std::to_string(age / 3600) + " h ago";
}

}  // namespace

MetadataSource::MetadataSource(MetadataSourceSettings settings) : settings_(std::move(settings)) {}

seconds MetadataSource::refresh_delay() const {
    seconds delay = settings_.refresh_interval;
    if (cache_duration_) delay = std::min(delay, *cache_duration_);
    return std::max(delay, seconds(1));
}

seconds MetadataSource::poll_interval() const {
    return std::clamp(std::min(refresh_delay(), settings_.failure_retry) / 4, seconds(1), seconds(15));
}

LoadedMetadata MetadataSource::verify(const std::shared_ptr<const DocumentBytes>& document, Instant now) const {
    const std::string_view xml = document->bytes();
    MetadataOptions options;
    options.limits.max_bytes = std::max<std::size_t>(settings_.http.max_body, 1) + 1;
    options.signing_certificates = settings_.signing_certificates;
    options.algorithms = settings_.algorithms;
    options.now = now;
    options.defer_certificates = xml.size() > settings_.defer_certificates_above;
    if (options.defer_certificates) options.keep_as_places = document;
    auto loaded = parse_idp_metadata(xml, options);
    document->release_pages();
    if (!loaded) throw Failure(loaded.error());
    return std::move(loaded).value();
}

void MetadataSource::adopt(LoadedMetadata loaded, const std::optional<FileIdentity>& identity) {
    idps_ = std::move(loaded.idps);
    lazy_idps_ = std::move(loaded.lazy_idps);
    valid_until_ = loaded.valid_until;
    cache_duration_ = loaded.cache_duration;
    loaded_identity_ = identity;
    // A document that could not be kept is newer than the backup file still there: that file is
    // not to be taken back at the next step.
    set_seen(identity ? identity : backup_identity());
    expired_logged_ = false;
}

std::optional<MetadataSource::FileIdentity> MetadataSource::backup_identity() const noexcept {
    struct stat info {};
    if (::stat(settings_.backup_path.c_str(), &info) != 0) return std::nullopt;
    return FileIdentity{info.st_dev, info.st_ino, info.st_size, mtime_ns(info)};
}

void MetadataSource::set_seen(const std::optional<FileIdentity>& identity) noexcept {
    std::shared_ptr<const FileIdentity> next;
    if (identity) {
        try {
            next = std::make_shared<const FileIdentity>(*identity);
        } catch (const std::bad_alloc&) {  // then the file is looked at again next time: only slower
        }
    }
    std::atomic_store(&seen_, std::move(next));
}

bool MetadataSource::backup_changed() const noexcept {
    const auto identity = backup_identity();
    if (!identity) return false;  // no file (yet): nothing another process wrote
    const auto seen = std::atomic_load(&seen_);
    return !(seen && *seen == *identity);
}

bool MetadataSource::load_backup(Instant now, std::vector<SourceEvent>& events, bool at_startup, std::string* why) {
    const std::string& path = settings_.backup_path;
    std::optional<FileIdentity> identity;
    auto loaded = guarded([&] {
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) fail(ErrorKind::Config, "SAML0925", "metadata-backup", path + ": " + errno_text(errno));
        struct stat info {};
        if (::fstat(fd.get(), &info) != 0)
            fail(ErrorKind::Config, "SAML0925", "metadata-backup", path + ": " + errno_text(errno));
        identity = FileIdentity{info.st_dev, info.st_ino, info.st_size, mtime_ns(info)};
        return verify(map_document(fd.get(), settings_.http.max_body, path), now);
    });
    if (!loaded) {
        *why = loaded.error().message();
        if (identity) set_seen(identity);  // refused once, and said once
        if (!at_startup)
            events.push_back({Level::Warning, "SAML0925",
                              "the backup file " + path + " of " + settings_.url +
                                  " is refused, the metadata in use is kept: " + *why});
        return false;
    }
    if (at_startup)
        for (std::size_t i = 0; i < loaded.value().warnings.size() && i < max_logged_warnings; ++i)
            events.push_back({level_of(loaded.value().warnings[i]), loaded.value().warnings[i].code,
                              path + ": " + loaded.value().warnings[i].message});
    const std::size_t count = loaded.value().idp_count();
    adopt(std::move(loaded).value(), identity);
    if (!at_startup)
        events.push_back({Level::Info, "SAML0934",
                          "metadata of " + settings_.url + " reloaded from " + path + " (written by another process): " +
                              std::to_string(count) + " IdPs"});
    return true;
}

MetadataSource::AttemptRecord MetadataSource::read_attempt() const {
    AttemptRecord record = read_attempt_file();
    // What this process could not write down (a full disk) still counts for this process.
    if (remembered_attempt_ && (!record.exists || remembered_attempt_->ended >= record.ended)) return *remembered_attempt_;
    return record;
}

MetadataSource::AttemptRecord MetadataSource::read_attempt_file() const {
    AttemptRecord record;
    Fd fd(::open(state_path().c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return record;
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) return record;
    std::string text;
    try {
        text = read_all(fd.get(), max_state_bytes, state_path());
    } catch (const Failure&) {
        return record;
    }
    record.exists = true;
    record.ended = mtime_of(info);
    // "ok\n<etag>\n" or "failed\n<etag>\n<reason>\n"
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto end = text.find('\n', start);
        lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    record.ok = !lines.empty() && lines[0] == "ok";
    if (lines.size() > 1) record.etag = lines[1];
    if (lines.size() > 2) record.reason = lines[2];
    return record;
}

void MetadataSource::write_attempt(int state_fd, Instant now, bool ok, const std::string& etag, const std::string& reason,
                                   std::vector<SourceEvent>& events) {
    remembered_attempt_ = AttemptRecord{true, ok, now, one_line(etag), one_line(reason)};
    const std::string text = std::string(ok ? "ok" : "failed") + "\n" + one_line(etag) + "\n" + one_line(reason) + "\n";
    // Over the old text first, then cut to length: on a full disk the file's own block still
    // takes the new text, where truncating first would leave it empty.
    std::size_t done = 0;
    int error = 0;
    while (done < text.size() && error == 0) {
        const ssize_t put = ::pwrite(state_fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
        if (put > 0) done += static_cast<std::size_t>(put);
        else if (put == 0) error = ENOSPC;  // a write that takes nothing without saying why
        else if (errno != EINTR) error = errno;
    }
    if (error == 0 && ::ftruncate(state_fd, static_cast<off_t>(text.size())) != 0) error = errno;
    if (error != 0) {
        // The process still knows when it asked: the next fetch waits its turn instead of
        // downloading the document again at every step.
        events.push_back({Level::Warning, "SAML0930",
                          "cannot record the metadata refresh of " + settings_.url + " in " + state_path() + " (" +
                              errno_text(error) + "): this process remembers it, other processes may fetch again"});
        return;
    }
    ::futimens(state_fd, nullptr);  // the mtime is when this attempt ended, even for equal text
    // The file now says it, and other processes read the file: its mtime is what counts.
    remembered_attempt_.reset();
}

bool MetadataSource::fetch_due(const AttemptRecord& attempt, Instant now) const {
    if (!attempt.exists) return true;
    if (now + seconds(5) < attempt.ended) return true;  // the clock was set back
    const seconds delay = attempt.ok && idp_count() != 0 ? refresh_delay() : std::min(refresh_delay(), settings_.failure_retry);
    Instant next = attempt.ended + delay;
    if (valid_until_) {
        // Ask again before the document in use expires, not after (it would be dropped by then),
        // and keep asking at the retry pace until a newer one comes.
        const seconds lead = std::min(delay, settings_.failure_retry);
        next = std::min(next, std::max(*valid_until_ - lead, attempt.ended + lead));
    }
    return now >= next;
}

MetadataSource::FetchOutcome MetadataSource::fetch_locked(int state_fd, Instant now, std::vector<SourceEvent>& events,
                                                          const std::function<bool()>& cancelled,
                                                          const AttemptRecord& previous, std::string* why) {
    const std::string& path = settings_.backup_path;
    HttpRequest request;
    request.url = settings_.url;
    // Ask "has it changed?" only when what we hold is what the ETag names.
    bool conditional = false;
    struct stat info {};
    if (previous.ok && usable_etag(previous.etag) && loaded_identity_ && ::stat(path.c_str(), &info) == 0 &&
        *loaded_identity_ == FileIdentity{info.st_dev, info.st_ino, info.st_size, mtime_ns(info)}) {
        request.headers.push_back("If-None-Match: " + previous.etag);
        conditional = true;
    }
    HttpOptions http = settings_.http;
    http.cancelled = cancelled;

    auto fail_with = [&](std::string reason) {
        *why = one_line(std::move(reason));
        write_attempt(state_fd, now, false, previous.etag, *why, events);
        return FetchOutcome::Failed;
    };

    auto response = http_exchange(request, http);
    if (!response) return fail_with("SAML0922 download failed: " + response.error().message());
    if (response.value().status == 304 && conditional) {
        write_attempt(state_fd, now, true, previous.etag, "", events);
        events.push_back({Level::Debug, "SAML0929", settings_.url + " is unchanged (HTTP 304)"});
        return FetchOutcome::NotModified;
    }
    if (response.value().status != 200)
        return fail_with("SAML0921 the server answered HTTP " + std::to_string(response.value().status));

    // The document goes to a temporary file first and is verified from that file's mapping, so
    // that a large aggregate's IdPs point into the page cache (shared by every child) rather than
    // into this process's heap; renamed over the backup only once verified. A reader sees the
    // old file or the new one, never half of one.
    const std::string temp = path + ".new";
    auto staged = guarded([&] {
        Fd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) fail(ErrorKind::Config, "SAML0924", "metadata-backup", "cannot create " + temp + ": " + errno_text(errno));
        write_all(fd.get(), response.value().body, temp);
        if (::fsync(fd.get()) != 0)
            fail(ErrorKind::Config, "SAML0924", "metadata-backup", "cannot write " + temp + ": " + errno_text(errno));
        if (settings_.file_owner && ::fchown(fd.get(), settings_.file_owner->first, settings_.file_owner->second) != 0)
            fail(ErrorKind::Config, "SAML0924", "metadata-backup", "cannot chown " + temp + ": " + errno_text(errno));
        auto mapped = map_document(fd.get(), settings_.http.max_body, temp);
        if (mapped->bytes() != response.value().body)
            fail(ErrorKind::Config, "SAML0924", "metadata-backup", temp + " does not read back as written");
        return mapped;
    });
    if (!staged) ::unlink(temp.c_str());
    // Without a file the document is still used, from memory.
    const auto document = staged ? staged.value() : document_bytes(std::move(response.value().body));
    auto loaded = guarded([&] { return verify(document, now); });
    if (!loaded) {
        if (staged) ::unlink(temp.c_str());
        return fail_with("SAML0923 the document is refused: " + loaded.error().message());
    }
    auto written = guarded([&] {
        if (!staged) throw Failure(staged.error());
        if (::rename(temp.c_str(), path.c_str()) != 0) {
            const int error = errno;
            ::unlink(temp.c_str());
            fail(ErrorKind::Config, "SAML0924", "metadata-backup",
                 "cannot replace " + path + ": " + errno_text(error));
        }
        struct stat written_info {};
        if (::stat(path.c_str(), &written_info) != 0)
            fail(ErrorKind::Config, "SAML0924", "metadata-backup", path + ": " + errno_text(errno));
        return FileIdentity{written_info.st_dev, written_info.st_ino, written_info.st_size, mtime_ns(written_info)};
    });
    // The good document is used even when it cannot be kept; the next start may then use an older backup.
    for (std::size_t i = 0; i < loaded.value().warnings.size() && i < max_logged_warnings; ++i)
        events.push_back({level_of(loaded.value().warnings[i]), loaded.value().warnings[i].code,
                          settings_.url + ": " + loaded.value().warnings[i].message});
    const std::size_t count = loaded.value().idp_count();
    const auto valid_until = loaded.value().valid_until;
    adopt(std::move(loaded).value(), written ? std::optional<FileIdentity>(written.value()) : std::nullopt);
    if (!written) {
        events.push_back({Level::Error, "SAML0924",
                          "metadata of " + settings_.url + " is used but cannot be kept: " + written.error().message()});
        write_attempt(state_fd, now, true, "", "", events);
        return FetchOutcome::Replaced;
    }
    write_attempt(state_fd, now, true, response.value().etag, "", events);
    events.push_back({Level::Info, "SAML0928",
                      "metadata fetched from " + settings_.url + ": " + std::to_string(count) + " IdPs" +
                          (valid_until ? ", valid until " + format_datetime(*valid_until) : std::string()) +
                          ", next fetch in " + std::to_string(refresh_delay().count()) + " s; kept in " + path});
    return FetchOutcome::Replaced;
}

Result<Done> MetadataSource::load_at_startup(Instant now, std::vector<SourceEvent>& events) {
    return guarded([&]() -> Done {
        const AttemptRecord attempt = read_attempt();
        struct stat info {};
        const bool have_backup = ::stat(settings_.backup_path.c_str(), &info) == 0;
        std::string why_backup;
        // A recent good fetch (a restart, or httpd's second reading of its configuration at start):
        // the backup is what the URL gave, no need to ask it again.
        if (have_backup && attempt.exists && attempt.ok && now < attempt.ended + refresh_delay()) {
            if (load_backup(now, events, true, &why_backup)) {
                events.push_back({Level::Info, "SAML0937",
                                  "metadata of " + settings_.url + " taken from " + settings_.backup_path +
                                      " (fetched " + age_text(attempt.ended, now) + ")"});
                return Done{};
            }
        }

        std::string why_fetch;
        Fd state(::open(state_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!state) {
            why_fetch = "SAML0930 cannot open " + state_path() + ": " + errno_text(errno);
        } else if (settings_.file_owner &&
                   ::fchown(state.get(), settings_.file_owner->first, settings_.file_owner->second) != 0) {
            why_fetch = "SAML0930 cannot chown " + state_path() + ": " + errno_text(errno);
        } else if (::flock(state.get(), LOCK_EX | LOCK_NB) != 0) {
            why_fetch = "another process is fetching it right now";
        } else {
            const AttemptRecord locked = read_attempt();
            const FetchOutcome outcome = fetch_locked(state.get(), now, events, {}, locked, &why_fetch);
            ::flock(state.get(), LOCK_UN);
            if (outcome != FetchOutcome::Failed) return Done{};
        }
        if (why_backup.empty() && load_backup(now, events, true, &why_backup)) {
            // Another process fetching is what a graceful restart during a refresh looks like:
            // nothing failed, the backup is the document that process is checking.
            const bool busy = why_fetch == "another process is fetching it right now";
            events.push_back({busy ? Level::Info : Level::Warning, "SAML0926",
                              "cannot use " + settings_.url + " (" + why_fetch + "); starting with the backup " +
                                  settings_.backup_path + " written " + age_text(mtime_of(info), now)});
            return Done{};
        }
        if (why_backup.empty()) why_backup = "no usable file";
        fail(ErrorKind::Config, "SAML0927", "metadata-url",
             "neither " + settings_.url + " (" + why_fetch + ") nor the backup file " + settings_.backup_path + " (" +
                 why_backup + ") gives usable IdP metadata");
    });
}

bool MetadataSource::drop_expired(Instant now, std::vector<SourceEvent>& events) {
    if (valid_until_ && *valid_until_ <= now) {
        if (idp_count() == 0) return false;
        idps_.clear();
        lazy_idps_.clear();
        events.push_back({Level::Error, "SAML0931",
                          "the metadata of " + settings_.url + " expired at " + format_datetime(*valid_until_) +
                              " and no valid copy could be fetched: its IdPs are no longer trusted"});
        return true;
    }
    const auto before = idp_count();
    const auto expired = [&](const std::optional<Instant>& valid_until) { return valid_until && *valid_until <= now; };
    idps_.erase(std::remove_if(idps_.begin(), idps_.end(), [&](const auto& idp) { return expired(idp->valid_until); }),
                idps_.end());
    lazy_idps_.erase(std::remove_if(lazy_idps_.begin(), lazy_idps_.end(),
                                    [&](const auto& idp) { return expired(idp->valid_until()); }),
                     lazy_idps_.end());
    if (idp_count() == before) return false;
    events.push_back({Level::Error, "SAML0931",
                      std::to_string(before - idp_count()) + " IdPs of " + settings_.url +
                          " passed their validUntil and are no longer trusted"});
    return true;
}

bool MetadataSource::refresh_step(Instant now, std::vector<SourceEvent>& events, const std::function<bool()>& cancelled) {
    auto step = guarded([&] {
        bool changed = follow_backup_unguarded(now, events);
        changed = drop_expired(now, events) || changed;

        if (!fetch_due(read_attempt(), now)) return changed;
        Fd state(::open(state_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!state) {
            // Without the state file no process can take turns: this one retries at the failure
            // pace, and says so each time (a full or read-only disk is the administrator's to fix).
            const std::string reason = "cannot open " + state_path() + ": " + errno_text(errno);
            remembered_attempt_ = AttemptRecord{true, false, now, "", reason};
            events.push_back({Level::Error, "SAML0930", "metadata refresh from " + settings_.url + " not tried: " + reason});
            return changed;
        }
        if (::flock(state.get(), LOCK_EX | LOCK_NB) != 0) return changed;  // another process is at it
        struct Unlock {
            int fd;
            ~Unlock() { ::flock(fd, LOCK_UN); }
        } unlock{state.get()};
        const AttemptRecord previous = read_attempt();  // under the lock: maybe someone just finished
        if (!fetch_due(previous, now)) return changed;
        std::string why;
        const FetchOutcome outcome = fetch_locked(state.get(), now, events, cancelled, previous, &why);
        if (outcome == FetchOutcome::Failed && cancelled && cancelled()) {
            // The process is stopping (a graceful restart): the download was cut, nothing failed.
            events.push_back({Level::Debug, "SAML0940", "metadata refresh from " + settings_.url +
                                                            " stopped with this process: " + why});
        } else if (outcome == FetchOutcome::Failed) {
            // One warning per distinct reason; the same failure again is only worth a note.
            const bool repeated = previous.exists && !previous.ok && failure_shape(previous.reason) == failure_shape(why);
            std::string kept = idp_count() == 0 ? std::string("no metadata is in use")
                                                : "the metadata in use is kept (" + std::to_string(idp_count()) + " IdPs)";
            events.push_back({repeated ? Level::Info : Level::Warning, repeated ? "SAML0932" : "SAML0920",
                              "metadata refresh from " + settings_.url + " failed" + (repeated ? " again" : "") + ", " +
                                  kept + ": " + why});
        }
        return changed || outcome == FetchOutcome::Replaced;
    });
    if (!step) {
        events.push_back({Level::Error, "SAML0939", "metadata refresh of " + settings_.url + ": " + step.error().message()});
        return false;
    }
    return step.value();
}

bool MetadataSource::follow_backup_unguarded(Instant now, std::vector<SourceEvent>& events) {
    // Another process wrote a new backup: take it (verified again: the file is only a hand-over).
    if (!backup_changed()) return false;
    std::string why;
    return load_backup(now, events, false, &why);
}

bool MetadataSource::follow_backup(Instant now, std::vector<SourceEvent>& events) {
    auto step = guarded([&] { return follow_backup_unguarded(now, events); });
    if (!step) {
        events.push_back({Level::Error, "SAML0939", "metadata of " + settings_.url + ": " + step.error().message()});
        return false;
    }
    return step.value();
}

Result<Done> MetadataSource::check_backup_directory() const {
    const std::string dir = directory_of(settings_.backup_path);
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
        return Error{ErrorKind::Config, "SAML0933", "metadata-backup",
                     "the directory " + dir + " of the backup file " + settings_.backup_path + " does not exist"};
    bool writable = false;
    if (settings_.file_owner) {
        const auto [uid, gid] = *settings_.file_owner;
        writable = (info.st_uid == uid && (info.st_mode & S_IWUSR) && (info.st_mode & S_IXUSR)) ||
                   (info.st_gid == gid && (info.st_mode & S_IWGRP) && (info.st_mode & S_IXGRP)) ||
                   ((info.st_mode & S_IWOTH) && (info.st_mode & S_IXOTH));
        if (info.st_mode & S_ISVTX) writable = writable && info.st_uid == uid;  // sticky: others' files stay
    } else {
        writable = ::access(dir.c_str(), W_OK | X_OK) == 0;
    }
    if (!writable)
        return Error{ErrorKind::Config, "SAML0933", "metadata-backup",
                     "the directory " + dir + " of the backup file " + settings_.backup_path +
                         " is not writable by httpd's User; the children replace the file there on refresh "
                         "(e.g. chown www-data " + dir + ")"};
    return Done{};
}

}  // namespace saml
