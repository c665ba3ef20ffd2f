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

// Connect with a timeout. No command timeout is armed: hiredis' is SO_RCVTIMEO, per
// read(2), and fibcache bounds each command as a whole itself (poll(2) up to one
// deadline, RedisConnection+Replies.swift).
static inline redisContext *chiredis_connect_tcp(const char *host, int port, struct timeval connect_timeout) {
    return redisConnectWithTimeout(host, port, connect_timeout);
}

static inline redisContext *chiredis_connect_unix(const char *path, struct timeval connect_timeout) {
    return redisConnectUnixWithTimeout(path, connect_timeout);
}

// A command that ran out of time: 1.x reports REDIS_ERR_TIMEOUT, 0.14 an I/O
// error with EAGAIN's text.
static inline int chiredis_is_timeout(const redisContext *c) {
#if HIREDIS_MAJOR >= 1
    if (c->err == REDIS_ERR_TIMEOUT) return 1;
#endif
    return c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0;
}

// Refusing replies larger than a caller can use. hiredis builds an array's
// element table as soon as it reads the claimed count (`*50000000` is 400 MB
// before one element arrives), so the claim is checked there: the arrays of one
// reply together may claim at most `max_elements`. And it copies each string as
// soon as it is whole, so the strings of one reply together may hold at most
// `max_bytes` (1,024 strings of 200 kB each would be 200 MB). A refused claim
// or string makes the reader fail, and the connection with it. Installed per
// context by `chiredis_limit_replies`, which keeps hiredis' own functions for the rest.
#define CHIREDIS_MAX_REPLY_DEPTH 7

typedef struct chiredis_reply_budget {
    redisReplyObjectFunctions functions;
    redisReplyObjectFunctions *inner;
    size_t max_elements;
    size_t elements;      // claimed so far by the reply being read
    long long refused;    // the elements the refused claim would have made in all, or -1
    size_t max_bytes;
    size_t bytes;         // in the strings of the reply being read
    long long refused_bytes;  // the bytes the refused string would have made in all, or -1
    int too_deep;         // whether an array nested deeper than CHIREDIS_MAX_REPLY_DEPTH was refused
} chiredis_reply_budget;

#if HIREDIS_MAJOR >= 1
static inline void *chiredis_budgeted_array(const redisReadTask *task, size_t elements) {
#else
static inline void *chiredis_budgeted_array(const redisReadTask *task, int elements) {
    if (elements < 0) return NULL;  // hiredis never asks so; refuse rather than trust it
#endif
    chiredis_reply_budget *budget = (chiredis_reply_budget *)task->privdata;
    // 0.14 stops at 7 levels of nesting, 1.x never does: a reply nested thousands
    // deep would overflow the stack of whoever walks it (RedisReply's copy does).
    int depth = 0;
    for (const redisReadTask *up = task->parent; up != NULL; up = up->parent) depth++;
    if (depth >= CHIREDIS_MAX_REPLY_DEPTH) {
        budget->too_deep = 1;
        return NULL;
    }
    if ((size_t)elements > budget->max_elements - budget->elements) {
        budget->refused = (long long)(budget->elements + (size_t)elements);
        return NULL;
    }
    budget->elements += (size_t)elements;
    return budget->inner->createArray(task, elements);
}

static inline void *chiredis_budgeted_string(const redisReadTask *task, char *text, size_t length) {
    chiredis_reply_budget *budget = (chiredis_reply_budget *)task->privdata;
    if (length > budget->max_bytes - budget->bytes) {
        budget->refused_bytes = (long long)(budget->bytes + length);
        return NULL;
    }
    budget->bytes += length;
    return budget->inner->createString(task, text, length);
}

// The budget must outlive the context: redisFree may free a partial reply through it.
static inline void chiredis_limit_replies(redisContext *c, chiredis_reply_budget *budget,
                                          size_t max_elements, size_t max_bytes) {
    budget->inner = c->reader->fn;
    budget->functions = *c->reader->fn;
    budget->functions.createArray = chiredis_budgeted_array;
    budget->functions.createString = chiredis_budgeted_string;
    budget->max_elements = max_elements;
    budget->elements = 0;
    budget->refused = -1;
    budget->max_bytes = max_bytes;
    budget->bytes = 0;
    budget->refused_bytes = -1;
    budget->too_deep = 0;
    c->reader->fn = &budget->functions;
    c->reader->privdata = budget;
    // 1.x's reader->maxelements is left as it is: it would refuse one array's claim
    // as a bare protocol error, where this check also counts nested arrays together
    // and says what was refused.
}

// A reply was taken whole: the next one starts with the full budget.
static inline void chiredis_reply_budget_reset(chiredis_reply_budget *budget) {
    budget->elements = 0;
    budget->bytes = 0;
}

// Bytes read but not yet parsed: a bulk string waits here whole until its last
// byte arrives (a `$2000000000` claim's stream would all be kept here).
static inline size_t chiredis_unparsed_bytes(const redisContext *c) { return c->reader->len - c->reader->pos; }

static inline int chiredis_fd(const redisContext *c) { return c->fd; }

// hiredis keeps its reader's buffer at the size of the largest reply read (2 MB
// for F(10^7)) until the next reply arrives, when it frees it: on an idle worker's
// connection that is memory held for nothing. Once every byte read has been parsed,
// a large buffer is given back at once (what hiredis does lazily; same API in 0.14 and 1.x).
static inline void chiredis_release_large_buffer(redisContext *c, size_t keep) {
    redisReader *r = c->reader;
    if (r == NULL || r->buf == NULL || r->pos != r->len) return;
    if (sdsavail(r->buf) + sdslen(r->buf) <= keep) return;
    sds empty = sdsempty();
    if (empty == NULL) return;  // out of memory: keep the old one, hiredis will retry
    sdsfree(r->buf);
    r->buf = empty;
    r->pos = 0;
    r->len = 0;
}

#endif
