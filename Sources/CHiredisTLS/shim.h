// TLS for hiredis 1.x connections, with OpenSSL set up here rather than by
// redisCreateSSLContext: hiredis sends the server name for SNI but never checks
// that the certificate names it, so any certificate from the same CA would do.
// The handshake and all later I/O are non-blocking: every wait is a poll(2) of
// fibcache's own, up to one deadline (Sources/Redis/RedisConnection+Replies.swift).
#ifndef CHIREDIS_TLS_SHIM_H
#define CHIREDIS_TLS_SHIM_H

#include <hiredis/hiredis.h>
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline void chiredis_tls_reason(char *error, size_t length, const char *doing, const char *path) {
    unsigned long code = ERR_peek_last_error();
    const char *reason = code ? ERR_reason_error_string(code) : NULL;
    snprintf(error, length, "%s%s%s: %s", doing, path ? " " : "", path ? path : "", reason ? reason : "failed");
    ERR_clear_error();
}

// An encrypted key is refused, not prompted for on a terminal no one watches.
static inline int chiredis_tls_no_passphrase(char *buffer, int size, int writing, void *data) {
    (void)buffer; (void)size; (void)writing; (void)data;
    return 0;
}

// A client context: TLS 1.2 or later, the peer's certificate verified against
// `ca_file` (or the system's CAs), and a client certificate when `cert_file` is
// given (its key in `key_file`, or in the same file). NULL and `error` on failure.
static inline SSL_CTX *chiredis_tls_context(const char *ca_file, const char *cert_file, const char *key_file,
                                            char *error, size_t length) {
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) {
        chiredis_tls_reason(error, length, "TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_default_passwd_cb(context, chiredis_tls_no_passphrase);
    int loaded = ca_file ? SSL_CTX_load_verify_locations(context, ca_file, NULL) : SSL_CTX_set_default_verify_paths(context);
    if (!loaded) {
        chiredis_tls_reason(error, length, "CA certificates", ca_file);
    } else if (cert_file && !SSL_CTX_use_certificate_chain_file(context, cert_file)) {
        chiredis_tls_reason(error, length, "client certificate", cert_file);
    } else if (cert_file && !SSL_CTX_use_PrivateKey_file(context, key_file ? key_file : cert_file, SSL_FILETYPE_PEM)) {
        chiredis_tls_reason(error, length, "client key", key_file ? key_file : cert_file);
    } else if (cert_file && !SSL_CTX_check_private_key(context)) {
        chiredis_tls_reason(error, length, "client key does not match its certificate", NULL);
    } else {
        return context;
    }
    SSL_CTX_free(context);
    return NULL;
}

static inline void chiredis_tls_context_free(SSL_CTX *context) { SSL_CTX_free(context); }


// Why a handshake failed: a refused certificate says which check refused it.
static inline void chiredis_tls_failure(SSL *ssl, const char *server_name, const char *otherwise,
                                        char *error, size_t length) {
    long verified = SSL_get_verify_result(ssl);
    if (verified != X509_V_OK) {
        snprintf(error, length, "certificate of %s refused: %s", server_name, X509_verify_cert_error_string(verified));
    } else if (otherwise != NULL) {
        snprintf(error, length, "%s", otherwise);
    } else if (ERR_peek_last_error() == 0) {
        snprintf(error, length, "TLS handshake with %s: %s", server_name, errno ? strerror(errno) : "connection closed");
    } else {
        chiredis_tls_reason(error, length, "TLS handshake with", server_name);
    }
    ERR_clear_error();  // hiredis' reads and writes trust the thread's queue to be empty
}

static inline long chiredis_tls_milliseconds_left(const struct timespec *deadline) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

// Starts TLS on a connected context within `timeout_ms`: the certificate must be
// valid and name `server_name` (a DNS name, or an IP address in its SANs). On
// success hiredis owns the session (freed with the context) and it is returned
// for `chiredis_tls_pending`/`chiredis_tls_wants_read`; NULL and `error` otherwise
// (the context is then to be freed by the caller, and is unusable).
static inline SSL *chiredis_tls_start(redisContext *c, SSL_CTX *context, const char *server_name, int timeout_ms,
                                      char *error, size_t length) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }

    SSL *ssl = SSL_new(context);
    if (ssl == NULL) {
        chiredis_tls_reason(error, length, "TLS session", NULL);
        return NULL;
    }
    unsigned char address[16];
    int numeric = inet_pton(AF_INET, server_name, address) == 1 || inet_pton(AF_INET6, server_name, address) == 1;
    // The name must be in the subjectAltName: never a CN alone (OpenSSL's fallback).
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    int named = numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name)
                        : SSL_set_tlsext_host_name(ssl, server_name) && SSL_set1_host(ssl, server_name);
    int flags = fcntl(c->fd, F_GETFL);
    if (!named || flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        snprintf(error, length, "TLS setup for %s failed", server_name);
        SSL_free(ssl);
        return NULL;
    }
    // Non-blocking for hiredis too: it hands back SSL's "want read/write" as
    // "nothing yet" instead of failing, and fibcache waits and calls again.
    c->flags &= ~REDIS_BLOCK;
    // (It runs the handshake's first step: on loopback the server's whole answer may be
    // in already, and the handshake over — or failed — before the loop below.)
    if (redisInitiateSSL(c, ssl) != REDIS_OK) {  // ssl is still ours on failure
        chiredis_tls_failure(ssl, server_name, c->errstr, error, length);
        SSL_free(ssl);
        return NULL;
    }
    for (;;) {
        ERR_clear_error();
        int done = SSL_connect(ssl);
        if (done == 1) {
            ERR_clear_error();
            return ssl;
        }
        int why = SSL_get_error(ssl, done);
        short events = why == SSL_ERROR_WANT_READ ? POLLIN : why == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (events == 0) {
            chiredis_tls_failure(ssl, server_name, NULL, error, length);
            return NULL;
        }
        long left = chiredis_tls_milliseconds_left(&deadline);
        if (left <= 0) {
            snprintf(error, length, "TLS handshake with %s timed out", server_name);
            return NULL;
        }
        struct pollfd descriptor = { .fd = c->fd, .events = events, .revents = 0 };
        if (poll(&descriptor, 1, (int)left) < 0 && errno != EINTR) {
            snprintf(error, length, "TLS handshake with %s: poll: %s", server_name, strerror(errno));
            return NULL;
        }
    }
}

// Decrypted bytes SSL holds that poll(2) cannot see.
static inline int chiredis_tls_pending(const SSL *ssl) { return SSL_pending(ssl); }

// What an unfinished write waits for: POLLIN, POLLOUT, or 0 when the session
// waits for nothing (no progress is possible: the connection is to be dropped).
static inline short chiredis_tls_write_wait(const SSL *ssl) {
    return SSL_want_read(ssl) ? POLLIN : SSL_want_write(ssl) ? POLLOUT : 0;
}

// hiredis 1.2's SSL reads and writes do not clear the thread's OpenSSL error queue
// before SSL_get_error, which reads a stale error as the current one.
static inline void chiredis_tls_clear_errors(void) { ERR_clear_error(); }

#endif
