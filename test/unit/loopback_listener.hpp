// A TCP listener on 127.0.0.1 at a port the kernel picks, for unit tests that need a real peer
// (the HTTP client's, the metadata source's). stop() makes a pending accept() fail, so the
// thread serving it ends and can be joined.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace saml::test {

class LoopbackListener {
public:
    explicit LoopbackListener(int backlog) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
        socklen_t length = sizeof address;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        listen(fd_, backlog);
    }
    ~LoopbackListener() { stop(); }
    LoopbackListener(const LoopbackListener&) = delete;
    LoopbackListener& operator=(const LoopbackListener&) = delete;

    int fd() const noexcept { return fd_; }
    int port() const noexcept { return port_; }
    void stop() noexcept {
        if (fd_ < 0) return;
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
    int port_ = 0;
};

}  // namespace saml::test
