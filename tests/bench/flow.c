/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flow — a bounded traffic source and sink for the per-packet benchmark.
 *
 *   flow recv tcp|udp PORT SECONDS        print {"bytes":..,"packets":..,"us":..}
 *   flow send tcp|udp ADDR PORT SECONDS [PAYLOAD]
 *   flow syn ADDR PORT [SRC]              send one TCP SYN (non-blocking connect), wait 300 ms
 *   flow udp1 ADDR PORT [SRC]             send one UDP datagram
 *
 * recv measures from the first to the last byte received and gives up
 * SECONDS + 2 s after it started, or 1 s after the data stopped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static void die(const char *what) {
        fprintf(stderr, "flow: %s: %s\n", what, strerror(errno));
        exit(2);
}

static struct sockaddr_in sin_of(const char *addr, int port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };

        if (addr && inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
                fprintf(stderr, "flow: bad address %s\n", addr);
                exit(2);
        }
        return a;
}

static int sock_from(int type, const char *src) {
        int fd = socket(AF_INET, type, 0);

        if (fd < 0)
                die("socket");
        if (src) {
                struct sockaddr_in a = sin_of(src, 0);

                if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                        die("bind source");
        }
        return fd;
}

static int do_recv(int tcp, int port, int seconds) {
        static char buf[1 << 16];
        struct sockaddr_in a = sin_of(NULL, port);
        int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0), one = 1, cfd = -1, sz = 4 << 20;
        uint64_t start = now_us(), first = 0, last = 0, bytes = 0, packets = 0;

        if (fd < 0)
                die("socket");
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                die("bind");
        if (tcp && listen(fd, 1) < 0)
                die("listen");
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                struct pollfd p = { cfd >= 0 ? cfd : fd, POLLIN, 0 };
                uint64_t t = now_us();
                ssize_t n;

                if (t - start > (uint64_t) (seconds + 2) * 1000000 || (last && t - last > 1000000))
                        break;
                if (poll(&p, 1, 100) <= 0)
                        continue;
                if (tcp && cfd < 0) {
                        cfd = accept(fd, NULL, NULL);
                        if (cfd < 0)
                                die("accept");
                        continue;
                }
                n = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 && tcp)
                        break;
                if (n <= 0)
                        continue;
                if (!first)
                        first = now_us();
                last = now_us();
                bytes += (uint64_t) n;
                packets++;
        }
        printf("{\"bytes\":%llu,\"packets\":%llu,\"us\":%llu}\n", (unsigned long long) bytes,
               (unsigned long long) packets, (unsigned long long) (last - first));
        return 0;
}

static int do_send(int tcp, const char *addr, int port, int seconds, size_t payload) {
        static char buf[1 << 16];
        struct sockaddr_in a = sin_of(addr, port);
        int fd = sock_from(tcp ? SOCK_STREAM : SOCK_DGRAM, NULL);
        uint64_t end = now_us() + (uint64_t) seconds * 1000000, sent = 0;

        if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                die("connect");
        if (payload > sizeof(buf))
                payload = sizeof(buf);
        memset(buf, 'x', sizeof(buf));
        while (now_us() < end)
                for (int i = 0; i < 64; i++) {
                        ssize_t n = send(fd, buf, payload, 0);

                        if (n > 0)
                                sent += (uint64_t) n;
                        else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
                                die("send");
                }
        close(fd);
        printf("{\"sent\":%llu}\n", (unsigned long long) sent);
        return 0;
}

static int do_one(int tcp, const char *addr, int port, const char *src) {
        struct sockaddr_in a = sin_of(addr, port);
        int fd = sock_from(tcp ? SOCK_STREAM : SOCK_DGRAM, src);

        if (tcp) {
                fcntl(fd, F_SETFL, O_NONBLOCK);
                if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0 && errno != EINPROGRESS)
                        die("connect");
                usleep(300000);
        } else if (sendto(fd, "x", 1, 0, (struct sockaddr *) &a, sizeof(a)) != 1)
                die("sendto");
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 5 && strcmp(argv[1], "recv") == 0)
                return do_recv(strcmp(argv[2], "tcp") == 0, atoi(argv[3]), atoi(argv[4]));
        if (argc >= 6 && strcmp(argv[1], "send") == 0)
                return do_send(strcmp(argv[2], "tcp") == 0, argv[3], atoi(argv[4]), atoi(argv[5]),
                               argc > 6 ? (size_t) atoi(argv[6]) : (strcmp(argv[2], "tcp") == 0 ? 65536 : 64));
        if (argc >= 4 && (strcmp(argv[1], "syn") == 0 || strcmp(argv[1], "udp1") == 0))
                return do_one(strcmp(argv[1], "syn") == 0, argv[2], atoi(argv[3]), argc > 4 ? argv[4] : NULL);
        fprintf(stderr, "usage: flow recv tcp|udp PORT SEC | send tcp|udp ADDR PORT SEC [PAYLOAD] | "
                        "syn|udp1 ADDR PORT [SRC]\n");
        return 2;
}
