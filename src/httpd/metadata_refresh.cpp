#include "metadata_refresh.hpp"

#include "config.hpp"
#include "runtime.hpp"
#include "status.hpp"

#include <http_log.h>

#include <csignal>
#include <pthread.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>

APLOG_USE_MODULE(auth_saml);

namespace saml_httpd {

namespace {

// Parsing a document of tens of MB peaks far above what its IdPs keep; glibc holds such freed
// memory in the thread's arena, so without this every child would stay that much larger.
void give_back_freed_memory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

int log_level(saml::SourceEvent::Level level) {
    switch (level) {
        case saml::SourceEvent::Level::Debug: return APLOG_DEBUG;
        case saml::SourceEvent::Level::Info: return APLOG_INFO;
        case saml::SourceEvent::Level::Notice: return APLOG_NOTICE;
        case saml::SourceEvent::Level::Warning: return APLOG_WARNING;
        case saml::SourceEvent::Level::Error: return APLOG_ERR;
    }
    return APLOG_ERR;
}

// The one place where refresh outcomes are counted (saml-status): SAML0928 a fetched document
// verified and taken into use; SAML0920 / SAML0932 a failed fetch (the metadata in use kept).
// A child that only reloads the backup another fetched (SAML0934) counts nothing, so each
// refresh counts once however many children there are. At start-up the counters do not exist
// yet (they start with httpd).
void note_refresh_outcome(const saml::SourceEvent& event) {
    if (event.code == "SAML0928") count(Counter::metadata_refreshes);
    else if (event.code == "SAML0920" || event.code == "SAML0932") count(Counter::metadata_refresh_failures);
}

struct RefreshThread {
    server_rec* main_server = nullptr;
    std::vector<Runtime*> runtimes;  // those with metadata sources
    std::mutex mutex;
    std::condition_variable wake;
    std::atomic<bool> stopping{false};
    std::thread thread;

    std::chrono::seconds poll_interval() const {
        std::chrono::seconds shortest(15);
        for (const Runtime* rt : runtimes)
            for (const auto& source : rt->metadata_sources) shortest = std::min(shortest, source->poll_interval());
        return shortest;
    }

    void run() {
        const std::function<bool()> cancelled = [this] { return stopping.load(); };
        while (!stopping.load()) {
            {
                std::unique_lock<std::mutex> lock(mutex);
                wake.wait_for(lock, poll_interval(), [this] { return stopping.load(); });
            }
            if (stopping.load()) break;
            for (Runtime* rt : runtimes) {
                try {
                    // A request of this child waits for this lock only when it found a newer
                    // backup. While a source downloads, no other process writes its backup (this
                    // one holds its fetch lock), so that wait is for the download only when
                    // another source of the same server changed meanwhile.
                    std::lock_guard<std::mutex> lock(*rt->metadata_lock);
                    bool changed = false;
                    for (auto& source : rt->metadata_sources) {
                        std::vector<saml::SourceEvent> events;
                        changed = source->refresh_step(saml::Clock::now(), events, cancelled) || changed;
                        log_source_events(main_server, events);
                    }
                    if (changed) {
                        rt->rebuild_registry();
                        give_back_freed_memory();
                    }
                } catch (const std::exception& e) {  // out of memory while rebuilding: keep the old registry
                    ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_server, "SAML0939 metadata refresh: %s", e.what());
                }
            }
        }
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex);
            stopping.store(true);
        }
        wake.notify_all();
        if (thread.joinable()) thread.join();  // a download in progress ends at its next progress call
    }
};

}  // namespace

void release_startup_memory() { give_back_freed_memory(); }

void log_source_events(server_rec* s, const std::vector<saml::SourceEvent>& events) {
    for (const auto& event : events) {
        note_refresh_outcome(event);
        ap_log_error(APLOG_MARK, log_level(event.level), 0, s, "%s %s", event.code.c_str(), event.message.c_str());
    }
}

void follow_newer_metadata(server_rec* s, const Runtime& rt) {
    if (rt.metadata_sources.empty()) return;
    bool behind = false;
    for (const auto& source : rt.metadata_sources) behind = behind || source->backup_changed();
    if (!behind) return;
    try {
        std::lock_guard<std::mutex> lock(*rt.metadata_lock);
        bool changed = false;
        for (const auto& source : rt.metadata_sources) {  // the refresh thread may have been first
            std::vector<saml::SourceEvent> events;
            changed = source->follow_backup(saml::Clock::now(), events) || changed;
            log_source_events(s, events);
        }
        if (changed) rt.rebuild_registry();
    } catch (const std::exception& e) {  // out of memory while rebuilding: keep the old registry
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "SAML0939 metadata refresh: %s", e.what());
    }
}

void start_metadata_refresh(apr_pool_t* pchild, server_rec* main_server) {
    try {
        auto* refresh = new RefreshThread();
        refresh->main_server = main_server;
        for (server_rec* s = main_server; s != nullptr; s = s->next) {
            Runtime* rt = server_config(s)->runtime;
            if (rt != nullptr && !rt->metadata_sources.empty() &&
                std::find(refresh->runtimes.begin(), refresh->runtimes.end(), rt) == refresh->runtimes.end())
                refresh->runtimes.push_back(rt);
        }
        if (refresh->runtimes.empty()) {
            delete refresh;
            return;
        }
        // The MPM's signals (graceful stop, restart) are for its own threads: the refresh thread
        // starts with all of them blocked, so none is ever delivered to it.
        sigset_t all, previous;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &previous);
        try {
            refresh->thread = std::thread([refresh] { refresh->run(); });
        } catch (...) {
            pthread_sigmask(SIG_SETMASK, &previous, nullptr);
            delete refresh;
            throw;
        }
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        apr_pool_cleanup_register(
            pchild, refresh,
            [](void* p) -> apr_status_t {
                auto* stopping = static_cast<RefreshThread*>(p);
                stopping->stop();
                delete stopping;
                return APR_SUCCESS;
            },
            apr_pool_cleanup_null);
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_server,
                     "SAML0939 the metadata refresh thread could not start (%s): this child keeps the metadata it has",
                     e.what());
    }
}

}  // namespace saml_httpd
