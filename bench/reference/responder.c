/*
 * The baseline `make bench` compares fibcache with: what a C programmer would
 * write for the same endpoint in an afternoon. libfcgi's thread-safe API with
 * 4 threads blocking in FCGX_Accept_r on one socket, one hiredis connection per
 * thread, GET fibonacci_<n> and on a miss GMP's mpz_fib_ui, SET ... EX 86400;
 * the same body as fibcache ({"fibonacci": <digits>}). No local copy, no
 * single-flight, no timeouts, no validation beyond what keeps it from crashing.
 *
 * Usage: responder SOCKET_PATH REDIS_PORT     (Redis on 127.0.0.1, database 1)
 * Build: cc -O2 -o responder responder.c -lfcgi -lhiredis -lgmp -lpthread
 */
#include <fcgiapp.h>
#include <gmp.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4

static int listen_fd;
static int redis_port;

static void respond(FCGX_Request *request, int status, const char *cache, const char *body, size_t length) {
    /* libfcgi's own printf knows no %zu. */
    FCGX_FPrintF(request->out, "Status: %d\r\nContent-Type: application/json\r\nX-Cache: %s\r\n"
                 "Content-Length: %lu\r\n\r\n", status, cache, (unsigned long)length);
    FCGX_PutStr(body, (int)length, request->out);
}

static void serve(FCGX_Request *request, redisContext *redis) {
    const char *uri = FCGX_GetParam("DOCUMENT_URI", request->envp);
    const char *prefix = "/api/fibonacci/number/";
    char *end;
    if (uri == NULL || strncmp(uri, prefix, strlen(prefix)) != 0) {
        respond(request, 404, "-", "{\"error\": \"not found\"}", 22);
        return;
    }
    unsigned long n = strtoul(uri + strlen(prefix), &end, 10);
    if (end == uri + strlen(prefix) || (*end != '\0' && strcmp(end, "/") != 0) || n > 1000000) {
        respond(request, 400, "-", "{\"error\": \"bad n\"}", 18);
        return;
    }
    char key[64];
    snprintf(key, sizeof key, "fibonacci_%lu", n);

    redisReply *reply = redis ? redisCommand(redis, "GET %s", key) : NULL;
    if (reply && reply->type == REDIS_REPLY_STRING) {
        size_t length = reply->len + 15;
        char *body = malloc(length + 1);
        snprintf(body, length + 1, "{\"fibonacci\": %s}", reply->str);
        respond(request, 200, "HIT", body, length);
        free(body);
        freeReplyObject(reply);
        return;
    }
    if (reply) freeReplyObject(reply);

    mpz_t value;
    mpz_init(value);
    mpz_fib_ui(value, n);
    char *digits = mpz_get_str(NULL, 10, value);
    size_t count = strlen(digits);
    if (redis) {
        reply = redisCommand(redis, "SET %s %b EX 86400", key, digits, count);
        if (reply) freeReplyObject(reply);
    }
    size_t length = count + 15;
    char *body = malloc(length + 1);
    snprintf(body, length + 1, "{\"fibonacci\": %s}", digits);
    respond(request, 200, "MISS", body, length);
    free(body);
    free(digits);
    mpz_clear(value);
}

static void *worker(void *unused) {
    (void)unused;
    redisContext *redis = redisConnect("127.0.0.1", redis_port);
    if (redis && !redis->err) {
        redisReply *reply = redisCommand(redis, "SELECT 1");
        if (reply) freeReplyObject(reply);
    } else {
        redis = NULL;
    }
    FCGX_Request request;
    FCGX_InitRequest(&request, listen_fd, 0);
    while (FCGX_Accept_r(&request) == 0) {
        serve(&request, redis);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET_PATH REDIS_PORT\n", argv[0]);
        return 2;
    }
    redis_port = atoi(argv[2]);
    FCGX_Init();
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    return 0;
}
