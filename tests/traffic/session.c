/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * session: one long-lived TCP connection for tests/traffic/rematch.sh.  libc only.
 *
 *   session echo PORT [--lifetime S]
 *       listen on [::]:PORT (dual-stack), print "ready", echo what every
 *       connection sends; exit after S seconds (default 300) or on SIGTERM.
 *   session client ADDR PORT [--from SRC] [--timeout-ms N]
 *       connect, print "connected" (or "timeout", "refused", "error (...)" and
 *       exit 1); then for every line read on stdin send one message and print
 *       "pass" when its echo came back within N ms (default 1500), else
 *       "timeout", "reset" or "closed".  Exit at the end of stdin, closing
 *       abortively (RST): a message the firewall dropped must not be
 *       retransmitted, with its FIN, into the next test's counters.
 *
 * The probe (probe.c) opens a connection per check; a session is what a
 * reload must (or must not) cut: its next packet after the reload is the
 * message of the next line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 16

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool parse_num(const char *s, unsigned long max, unsigned long *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > max)
                return false;
        *ret = v;
        return true;
}

static int usage(void) {
        fputs("usage: session echo PORT [--lifetime S]\n"
              "       session client ADDR PORT [--from SRC] [--timeout-ms N]\n",
              stderr);
        return 2;
}

static int echo_listen(unsigned port) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port) };
        int fd, zero = 0, one = 1;

        fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                fprintf(stderr, "session: listen tcp/%u: %s\n", port, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

/* One readable connection: echo what it sent; false when it is gone. */
static bool echo_once(int fd) {
        char buf[512];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return true;
        if (n <= 0)
                return false;
        return write(fd, buf, (size_t) n) == n;
}

static int do_echo(int argc, char **argv) {
        struct pollfd p[CONNS_MAX + 1];
        unsigned long port, lifetime = 300;
        size_t n = 1;
        int64_t end;

        if (argc < 1 || !parse_num(argv[0], 65535, &port) || port == 0)
                return usage();
        if (argc == 3 && strcmp(argv[1], "--lifetime") == 0) {
                if (!parse_num(argv[2], 3600, &lifetime))
                        return usage();
        } else if (argc != 1)
                return usage();
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        p[0] = (struct pollfd) { .fd = echo_listen((unsigned) port), .events = POLLIN };
        if (p[0].fd < 0)
                return 1;
        puts("ready");
        fflush(stdout);
        end = now_ms() + (int64_t) lifetime * 1000;
        while (!stop && now_ms() < end) {
                if (poll(p, n, 200) <= 0)
                        continue;
                for (size_t i = n; i-- > 1;)
                        if (p[i].revents && !echo_once(p[i].fd)) {
                                close(p[i].fd);
                                p[i] = p[--n];
                        }
                if (p[0].revents & POLLIN) {
                        int c = accept4(p[0].fd, NULL, NULL, SOCK_CLOEXEC);

                        if (c >= 0 && n <= CONNS_MAX)
                                p[n++] = (struct pollfd) { .fd = c, .events = POLLIN };
                        else if (c >= 0)
                                close(c);
                }
        }
        return 0;
}

static bool parse_addr(const char *s, unsigned port, struct sockaddr_storage *ss, socklen_t *len) {
        struct sockaddr_in *a4 = (struct sockaddr_in *) ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) ss;

        memset(ss, 0, sizeof(*ss));
        if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons((uint16_t) port);
                *len = sizeof(*a4);
                return true;
        }
        if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons((uint16_t) port);
                *len = sizeof(*a6);
                return true;
        }
        return false;
}

static int client_connect(const char *addr, unsigned port, const char *from, int timeout_ms) {
        struct sockaddr_storage dst, src;
        socklen_t dlen, slen;
        struct pollfd p;
        int fd, err = 0;
        socklen_t elen = sizeof(err);

        if (!parse_addr(addr, port, &dst, &dlen) || (from && !parse_addr(from, 0, &src, &slen))) {
                fputs("session: bad address\n", stderr);
                return -1;
        }
        fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || (from && bind(fd, (struct sockaddr *) &src, slen) < 0)) {
                printf("error (%s)\n", strerror(errno));
                return -1;
        }
        if (connect(fd, (struct sockaddr *) &dst, dlen) < 0 && errno != EINPROGRESS)
                err = errno;
        p = (struct pollfd) { .fd = fd, .events = POLLOUT };
        if (!err && poll(&p, 1, timeout_ms) <= 0)
                err = ETIMEDOUT;
        if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
                err = errno;
        if (err) {
                puts(err == ETIMEDOUT ? "timeout" : err == ECONNREFUSED ? "refused" : "error");
                close(fd);
                return -1;
        }
        puts("connected");
        fflush(stdout);
        return fd;
}

/* Send one message, wait for all of its echo. */
static const char *exchange(int fd, unsigned seq, int timeout_ms) {
        char msg[32], got[32];
        size_t len, have = 0;
        int64_t deadline = now_ms() + timeout_ms;

        len = (size_t) snprintf(msg, sizeof(msg), "message %u\n", seq);
        if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t) len)
                return errno == ECONNRESET || errno == EPIPE ? "reset" : "error";
        while (have < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - now_ms();
                ssize_t n;

                if (left <= 0 || poll(&p, 1, (int) left) == 0)
                        return "timeout";
                n = read(fd, got + have, len - have);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n < 0)
                        return errno == ECONNRESET ? "reset" : "error";
                if (n == 0)
                        return "closed";
                have += (size_t) n;
        }
        return memcmp(msg, got, len) == 0 ? "pass" : "error";
}

static int do_client(int argc, char **argv) {
        unsigned long port, v;
        const char *from = NULL;
        int timeout_ms = 1500, fd;
        char line[64];
        unsigned seq = 0;

        if (argc < 2 || !parse_num(argv[1], 65535, &port) || port == 0)
                return usage();
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
                        from = argv[++i];
                else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc &&
                         parse_num(argv[i + 1], 60000, &v) && v > 0) {
                        timeout_ms = (int) v;
                        i++;
                } else
                        return usage();
        }
        fd = client_connect(argv[0], (unsigned) port, from, timeout_ms);
        if (fd < 0)
                return 1;
        while (fgets(line, sizeof(line), stdin)) {
                puts(exchange(fd, ++seq, timeout_ms));
                fflush(stdout);
        }
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ .l_onoff = 1, .l_linger = 0 },
                   sizeof(struct linger));
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "echo") == 0)
                return do_echo(argc - 2, argv + 2);
        if (argc >= 2 && strcmp(argv[1], "client") == 0)
                return do_client(argc - 2, argv + 2);
        return usage();
}
