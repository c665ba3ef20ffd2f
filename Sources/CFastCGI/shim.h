// libfcgi through its thread-safe FCGX_* API only (never fcgi_stdio.h, which
// replaces stdio globally and is not re-entrant).
#ifndef CFASTCGI_SHIM_H
#define CFASTCGI_SHIM_H

#include <fcgiapp.h>
#include <fastcgi.h>

// The server accepts connections itself (see FastCGIServer.swift) and wakes its
// workers with an eventfd. accept4 is a GNU extension that Glibc's Swift overlay
// does not show without _GNU_SOURCE, hence this wrapper.
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

#include <arpa/inet.h>
#include <netinet/in.h>

// Accepts one connection and writes its peer's IP address as text into `peer`
// (IPv4-mapped IPv6 as plain IPv4; empty for a unix socket peer), so that TCP
// peers can be checked against the allow list (libfcgi's FCGI_WEB_SERVER_ADDRS
// is only consulted by libfcgi's own accept, which fibcache does not use).
static inline int cfastcgi_accept_peer(int listen_fd, char *peer, size_t size) {
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    int fd = accept4(listen_fd, (struct sockaddr *)&address, &length, SOCK_CLOEXEC);
    peer[0] = 0;
    if (fd < 0) return fd;
    if (address.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&address)->sin_addr, peer, (socklen_t)size);
    } else if (address.ss_family == AF_INET6) {
        const struct in6_addr *ip = &((struct sockaddr_in6 *)&address)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(ip)) inet_ntop(AF_INET, &ip->s6_addr[12], peer, (socklen_t)size);
        else inet_ntop(AF_INET6, ip, peer, (socklen_t)size);
    }
    return fd;
}

// An IP address in its canonical text form (the form cfastcgi_accept_peer writes):
// returns 1 and fills `out`, or 0 if `text` is not an IPv4 or IPv6 address.
static inline int cfastcgi_canonical_address(const char *text, char *out, size_t size) {
    unsigned char binary[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, text, binary) == 1) return inet_ntop(AF_INET, binary, out, (socklen_t)size) != NULL;
    if (inet_pton(AF_INET6, text, binary) == 1) {
        const struct in6_addr *ip = (const struct in6_addr *)binary;
        if (IN6_IS_ADDR_V4MAPPED(ip)) return inet_ntop(AF_INET, &ip->s6_addr[12], out, (socklen_t)size) != NULL;
        return inet_ntop(AF_INET6, binary, out, (socklen_t)size) != NULL;
    }
    return 0;
}


// epoll, for the connections nobody is serving: struct epoll_event is packed on
// x86-64, which Swift does not import faithfully, so the calls stay in C.
#include <sys/epoll.h>

// Watches fd for one readable event (EPOLLONESHOT: the one worker woken owns it
// until it re-arms it). `add` registers a new fd, otherwise an existing one is re-armed.
static inline int cfastcgi_epoll_arm(int epoll_fd, int fd, int add) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLONESHOT, .data = { .fd = fd } };
    return epoll_ctl(epoll_fd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event);
}

// Watches fd for readability until removed, waking every waiter (the shutdown eventfd).
static inline int cfastcgi_epoll_watch(int epoll_fd, int fd) {
    struct epoll_event event = { .events = EPOLLIN, .data = { .fd = fd } };
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

// Waits for one ready fd; returns it (>= 0), or -1 with errno set.
static inline int cfastcgi_epoll_next(int epoll_fd) {
    struct epoll_event event;
    int ready = epoll_wait(epoll_fd, &event, 1, -1);
    return ready == 1 ? event.data.fd : -1;
}

// Whether the peer has closed (or shut down its side of) a connection, without
// reading from it: POLLRDHUP is Linux's, hidden from Swift without _GNU_SOURCE.
#include <poll.h>
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif

static inline int cfastcgi_peer_closed(int fd) {
    struct pollfd connection = { .fd = fd, .events = POLLRDHUP, .revents = 0 };
    if (poll(&connection, 1, 0) != 1) return 0;
    return (connection.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

// The bytes a connection has received, looked at without taking them (MSG_PEEK), so
// that they are checked before libfcgi reads them; never blocks. Returns the count,
// 0 when the peer has closed, -1 with errno (EAGAIN: nothing yet).
#include <sys/ioctl.h>

static inline long cfastcgi_peek(int fd, void *buffer, size_t size) {
    return (long)recv(fd, buffer, size, MSG_PEEK | MSG_DONTWAIT);
}

// Reads what has arrived, without waiting: count, 0 at end of stream, -1 with errno.
static inline long cfastcgi_read_nowait(int fd, void *buffer, size_t size) {
    return (long)recv(fd, buffer, size, MSG_DONTWAIT);
}

// Shuts a connection down both ways (its worker, blocked on it, sees the end and
// closes it). In C because SHUT_RDWR is not visible to Swift beside <sys/ioctl.h>.
static inline int cfastcgi_shutdown(int fd) {
    return shutdown(fd, SHUT_RDWR);
}

// Bytes received and not read yet (FIONREAD), or -1.
static inline long cfastcgi_unread_bytes(int fd) {
    int count = 0;
    return ioctl(fd, FIONREAD, &count) == 0 ? (long)count : -1;
}

#endif
