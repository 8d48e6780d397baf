/* Socketmap load generator: CONNS connections, each sending one request
 * and waiting for its reply (as a Postfix smtp process does), for SECONDS.
 * Keys are taken in turn from KEYFILE (one per line) or are KEY itself.
 *
 *   load IP PORT CONNS SECONDS MAP KEY|@KEYFILE
 *
 * Prints: requests=N seconds=S rps=R errors=E replies=<first reply seen>
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static const char *map;
static char **keys;
static size_t nkeys;
static double seconds;
static char first_reply[256];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct result {
    unsigned long requests, errors;
    size_t offset;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reads one netstring reply into out; returns its length or -1. */
static long read_reply(int fd, char *buf, size_t cap, size_t *have, char *out, size_t outcap)
{
    for (;;) {
        size_t len = 0, i = 0;
        while (i < *have && buf[i] >= '0' && buf[i] <= '9' && i < 6)
            len = len * 10 + (size_t)(buf[i++] - '0');
        if (i < *have && buf[i] != ':')
            return -1;
        if (i < *have && i + 1 + len < *have) {
            if (buf[i + 1 + len] != ',')
                return -1;
            size_t copy = len < outcap - 1 ? len : outcap - 1;
            memcpy(out, buf + i + 1, copy);
            out[copy] = 0;
            size_t used = i + 1 + len + 1;
            memmove(buf, buf + used, *have - used);
            *have -= used;
            return (long)len;
        }
        if (*have == cap)
            return -1;
        ssize_t n = read(fd, buf + *have, cap - *have);
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void *run(void *arg)
{
    struct result *r = arg;
    char buf[131072], req[11000], reply[256];
    size_t have = 0, k = r->offset;
    int fd = dial();
    double end = now() + seconds;
    while (now() < end) {
        if (fd < 0) {
            r->errors++;
            nanosleep(&(struct timespec){0, 10000000}, NULL);
            fd = dial();
            continue;
        }
        const char *key = keys[k++ % nkeys];
        int body = (int)(strlen(map) + 1 + strlen(key));
        int n = snprintf(req, sizeof req, "%d:%s %s,", body, map, key);
        if (n <= 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n ||
            read_reply(fd, buf, sizeof buf, &have, reply, sizeof reply) < 0) {
            r->errors++;
            close(fd);
            have = 0;
            fd = dial();
            continue;
        }
        if (strncmp(reply, "OK", 2) != 0 && strncmp(reply, "NOTFOUND", 8) != 0)
            r->errors++;
        pthread_mutex_lock(&lock);
        if (!first_reply[0])
            snprintf(first_reply, sizeof first_reply, "%s", reply);
        pthread_mutex_unlock(&lock);
        r->requests++;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: load IP PORT CONNS SECONDS MAP KEY|@KEYFILE\n");
        return 2;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1)
        return 2;
    int conns = atoi(argv[3]);
    seconds = atof(argv[4]);
    map = argv[5];
    if (argv[6][0] == '@') {
        FILE *f = fopen(argv[6] + 1, "r");
        char line[1024];
        size_t cap = 0;
        if (!f) {
            perror(argv[6] + 1);
            return 2;
        }
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!line[0])
                continue;
            if (nkeys == cap) {
                cap = cap ? cap * 2 : 1024;
                keys = realloc(keys, cap * sizeof *keys);
                if (!keys)
                    return 2;
            }
            keys[nkeys++] = strdup(line);
        }
        fclose(f);
    } else {
        keys = &argv[6];
        nkeys = 1;
    }
    if (conns < 1 || nkeys == 0)
        return 2;
    pthread_t *t = calloc((size_t)conns, sizeof *t);
    struct result *r = calloc((size_t)conns, sizeof *r);
    if (!t || !r)
        return 2;
    double t0 = now();
    for (int i = 0; i < conns; i++) {
        r[i].offset = (size_t)i * (nkeys / (size_t)conns + 1);
        pthread_create(&t[i], NULL, run, &r[i]);
    }
    unsigned long total = 0, errors = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(t[i], NULL);
        total += r[i].requests;
        errors += r[i].errors;
    }
    double took = now() - t0;
    printf("requests=%lu seconds=%.2f rps=%.0f errors=%lu reply=%s\n", total, took,
           (double)total / took, errors, first_reply);
    return 0;
}
