/* The syscall floor for socketmap servers: answers every netstring request
 * with one fixed reply, one thread per connection (the model of sts serve).
 *
 *   echo IP PORT
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
#include <unistd.h>

static const char REPLY[] = "52:OK secure match=mx1.example.test servername=hostname,";

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    char buf[16384];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t at = 0;
        for (;;) {
            size_t len = 0, i = at;
            while (i < have && buf[i] >= '0' && buf[i] <= '9' && i - at < 6)
                len = len * 10 + (size_t)(buf[i++] - '0');
            if (i >= have || buf[i] != ':' || i + 1 + len >= have)
                break;
            at = i + 1 + len + 1;
            if (write(fd, REPLY, sizeof REPLY - 1) < 0)
                goto out;
        }
        memmove(buf, buf + at, have - at);
        have -= at;
        if (have == sizeof buf)
            break;
    }
out:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: echo IP PORT\n");
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    if (s < 0 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 ||
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 512) != 0) {
        perror("echo: listen");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(long)c) != 0)
            close(c);
        else
            pthread_detach(t);
    }
}
