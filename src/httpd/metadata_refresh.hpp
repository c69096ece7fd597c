// The refresh of SAMLIdPMetadataURL sources while httpd runs: one thread per child, started in
// child_init and stopped with the child's pool. Requests never wait for it: they read the
// registry snapshot that the thread swaps in (Runtime::registry).
#pragma once

#include "metadata_source.hpp"

#include <httpd.h>

#include <vector>

namespace saml_httpd {

// Starts the child's refresh thread when any server has a SAMLIdPMetadataURL.
void start_metadata_refresh(apr_pool_t* pchild, server_rec* main_server);

// After loading large metadata at start-up: returns the parse's freed peak to the system
// before the children are forked.
void release_startup_memory();

// Before a request uses the IdPs: when a source's backup file is not the one this process last
// looked at (another child fetched a newer document, or this child was forked from a parent that
// holds the metadata of the last restart), takes it now rather than at the refresh thread's next
// step. One stat() per source when nothing changed.
struct Runtime;
void follow_newer_metadata(server_rec* s, const Runtime& rt);

// Writes what a source reports to the error log, one line each.
void log_source_events(server_rec* s, const std::vector<saml::SourceEvent>& events);

}  // namespace saml_httpd
