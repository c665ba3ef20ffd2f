// hiredis, with every call whose signature or behaviour differs between
// 0.14 (Debian 12, Ubuntu 22.04) and 1.x (Debian 13, Ubuntu 24.04) kept here,
// behind HIREDIS_MAJOR: Swift's #if cannot read C macros.
#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
#include <errno.h>
#include <string.h>
#include <sys/time.h>

// The error text of a failed context (a char array, which Swift imports as a tuple).
static inline const char *chiredis_errstr(const redisContext *c) { return c->errstr; }

// Connect over TCP with a connect timeout, then arm the command timeout.
// 1.x also accepts the command timeout in its options; 0.14 needs redisSetTimeout.
// Either way the caller gets a context whose every command is bounded.
static inline redisContext *chiredis_connect_tcp(const char *host, int port,
                                                 struct timeval connect_timeout,
                                                 struct timeval command_timeout) {
#if HIREDIS_MAJOR >= 1
    redisOptions options = {0};
    REDIS_OPTIONS_SET_TCP(&options, host, port);
    options.connect_timeout = &connect_timeout;
    options.command_timeout = &command_timeout;
    return redisConnectWithOptions(&options);
#else
    redisContext *c = redisConnectWithTimeout(host, port, connect_timeout);
    if (c != NULL && c->err == 0) redisSetTimeout(c, command_timeout);
    return c;
#endif
}

static inline redisContext *chiredis_connect_unix(const char *path,
                                                  struct timeval connect_timeout,
                                                  struct timeval command_timeout) {
#if HIREDIS_MAJOR >= 1
    redisOptions options = {0};
    REDIS_OPTIONS_SET_UNIX(&options, path);
    options.connect_timeout = &connect_timeout;
    options.command_timeout = &command_timeout;
    return redisConnectWithOptions(&options);
#else
    redisContext *c = redisConnectUnixWithTimeout(path, connect_timeout);
    if (c != NULL && c->err == 0) redisSetTimeout(c, command_timeout);
    return c;
#endif
}

// A command that ran out of time: 1.x reports REDIS_ERR_TIMEOUT, 0.14 an I/O
// error with EAGAIN's text.
static inline int chiredis_is_timeout(const redisContext *c) {
#if HIREDIS_MAJOR >= 1
    if (c->err == REDIS_ERR_TIMEOUT) return 1;
#endif
    return c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0;
}

#endif
