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

static inline int cfastcgi_accept(int listen_fd) {
    return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

#endif
