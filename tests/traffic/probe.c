/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * probe: the packet end of the traffic tests.  libc only.
 *
 *   probe listen [--tcp PORTS] [--udp PORTS] [--proto PROTOS] [--lifetime S]
 *   probe connect ADDR tcp|udp PORT [--from SRC] [--timeout-ms N]
 *   probe ping ADDR [--from SRC] [--timeout-ms N]
 *   probe proto ADDR N [--from SRC] [--timeout-ms N]
 *   probe ct-flush
 *   probe batch  < lines "TAG connect|ping|proto ARGS..."
 *
 * PORTS is "22,25,1024-1030"; PROTOS is "50,51".  `listen` binds [::]
 * dual-stack, accepts and closes TCP, echoes UDP (from the address the
 * datagram was sent to, so that the reply matches the connection), answers
 * raw IP packets of the given protocols, prints "ready" once everything is
 * bound and exits after --lifetime seconds (default 600) even if nobody
 * kills it.
 *
 * The client verbs print one word on stdout and exit 0 for "pass", 1 for
 * "timeout", "refused", "unreachable" or "error", 2 on a usage error.  A
 * firewall drop is a "timeout"; a port without a listener is "refused":
 * the tests tell the two apart.
 *
 * `ct-flush` empties the namespace's conntrack table (what `conntrack -F`
 * does), so that flows a test opened before the firewall was applied cannot
 * pass later as "established".  Raw IP protocols such as ESP have no ports:
 * every packet between two hosts is the same generic conntrack entry.
 *
 * `batch` runs one client verb per input line, all at once (one process
 * each), and prints "TAG RESULT" lines in completion order: a whole probe
 * table costs one namespace switch instead of one per probe.
 */
#include <sys/wait.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 4096
#define REQ_TAG "POSTERN-PROBE-REQ "
#define REP_TAG "POSTERN-PROBE-REP "

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/*
 * AH (protocol 51) probes carry a real AH header (RFC 4302: next header,
 * length in 4-byte units minus 2, reserved, SPI, sequence number) whose ICV
 * is the tag, padded with zeros to a multiple of 8 bytes (IPv6's rule), and
 * nothing after it; next header 253 (RFC 3692: for experiments).  IPv6 code
 * walks AH by its length field: a bare tag ("PO...") reads as an AH header
 * of 324 bytes in a packet of about 70, and ip6tables' protocol lookup,
 * which every rule with -p runs, drops that as malformed on Linux 6.1 and
 * 6.12 before the rule accepting AH is reached.  Next header 59 ("none")
 * would do for ip6tables but not for conntrack, which tracks no packet
 * without a transport protocol (it would be "invalid").
 */
#define AH_HDR 12
#define AH_NEXT 253

static size_t ah_wrap(uint8_t *out, size_t cap, const char *text, size_t len)
{
        size_t total = (AH_HDR + len + 7) & ~(size_t) 7;

        if (total > cap || total / 4 - 2 > 255)
                return 0;
        memset(out, 0, total);
        out[0] = AH_NEXT;
        out[1] = (uint8_t) (total / 4 - 2);
        out[6] = 0x10;   /* SPI 0x1000: 1-255 are reserved */
        out[11] = 1;     /* sequence number 1 */
        memcpy(out + AH_HDR, text, len);
        return total;
}

/* The tag in an AH header ah_wrap() built, or NULL; *len: its length. */
static const uint8_t *ah_unwrap(const uint8_t *in, size_t n, size_t *len)
{
        if (n < AH_HDR || in[0] != AH_NEXT || ((size_t) in[1] + 2) * 4 != n)
                return NULL;
        *len = strnlen((const char *) in + AH_HDR, n - AH_HDR);
        return in + AH_HDR;
}

enum sock_kind { K_TCP, K_UDP, K_RAW4, K_RAW6 };

struct addr {
        int family;
        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
                struct sockaddr_storage ss;
        } u;
        socklen_t len;
};

static int usage(void)
{
        fprintf(stderr,
                "usage: probe listen [--tcp PORTS] [--udp PORTS] [--proto PROTOS] [--lifetime S]\n"
                "       probe connect ADDR tcp|udp PORT [--from SRC] [--timeout-ms N]\n"
                "       probe ping ADDR [--from SRC] [--timeout-ms N]\n"
                "       probe proto ADDR N [--from SRC] [--timeout-ms N]\n"
                "       probe ct-flush\n"
                "       probe batch < lines \"TAG connect|ping|proto ARGS...\"\n");
        return EXIT_USAGE;
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
        char *end;
        unsigned long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return false;
        *ret = v;
        return true;
}

static bool parse_addr(const char *s, uint16_t port, struct addr *a)
{
        memset(a, 0, sizeof(*a));
        if (inet_pton(AF_INET, s, &a->u.in4.sin_addr) == 1) {
                a->family = AF_INET;
                a->u.in4.sin_family = AF_INET;
                a->u.in4.sin_port = htons(port);
                a->len = sizeof(a->u.in4);
                return true;
        }
        if (inet_pton(AF_INET6, s, &a->u.in6.sin6_addr) == 1) {
                a->family = AF_INET6;
                a->u.in6.sin6_family = AF_INET6;
                a->u.in6.sin6_port = htons(port);
                a->len = sizeof(a->u.in6);
                return true;
        }
        return false;
}

/* Client options shared by connect, ping and proto. */
struct client_opts {
        const char *from;
        int timeout_ms;
};

static int parse_client_opts(int argc, char **argv, struct client_opts *o)
{
        o->from = NULL;
        o->timeout_ms = 1000;
        for (int i = 0; i < argc; i++) {
                unsigned long v;

                if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
                        o->from = argv[++i];
                else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc &&
                         parse_uint(argv[i + 1], 600000, &v) && v > 0) {
                        o->timeout_ms = (int) v;
                        i++;
                } else
                        return -1;
        }
        return 0;
}

static int bind_from(int fd, int family, const char *from)
{
        struct addr src;

        if (!from)
                return 0;
        if (!parse_addr(from, 0, &src) || src.family != family) {
                fprintf(stderr, "probe: bad --from address %s\n", from);
                return -1;
        }
        if (bind(fd, &src.u.sa, src.len) < 0) {
                fprintf(stderr, "probe: bind %s: %s\n", from, strerror(errno));
                return -1;
        }
        return 0;
}

static const char *report_tag;  /* batch: the line's tag, printed first */

static int report(const char *word, const char *detail)
{
        /* one write(2) per line, so that parallel batch children never mix */
        char line[512];

        snprintf(line, sizeof(line), "%s%s%s%s%s%s\n", report_tag ? report_tag : "",
                 report_tag ? " " : "", word, detail ? " (" : "", detail ? detail : "",
                 detail ? ")" : "");
        fputs(line, stdout);
        fflush(stdout);
        return strcmp(word, "pass") == 0 ? EXIT_PASS : EXIT_FAIL;
}

static int report_errno(int err)
{
        switch (err) {
        case ECONNREFUSED:
                return report("refused", NULL);
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EACCES:
        case EPERM:
                return report("unreachable", strerror(err));
        case ETIMEDOUT:
                return report("timeout", NULL);
        default:
                return report("error", strerror(err));
        }
}

/* Wait until fd is readable/writable or the deadline passes.  >0 ready, 0 timeout. */
static int wait_fd(int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int64_t left = deadline - now_ms();
                int r;

                if (left <= 0)
                        return 0;
                r = poll(&p, 1, (int) left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                return r;
        }
}

static void make_nonce(char *buf, size_t size)
{
        snprintf(buf, size, "%ld-%lld", (long) getpid(), (long long) now_ms());
}

static int do_connect(int argc, char **argv)
{
        struct client_opts o;
        struct addr dst;
        unsigned long port;
        bool tcp;
        int fd, r;
        int64_t deadline;

        if (argc < 3)
                return usage();
        if (strcmp(argv[1], "tcp") == 0)
                tcp = true;
        else if (strcmp(argv[1], "udp") == 0)
                tcp = false;
        else
                return usage();
        if (!parse_uint(argv[2], 65535, &port) || port == 0 ||
            !parse_addr(argv[0], (uint16_t) port, &dst) ||
            parse_client_opts(argc - 3, argv + 3, &o) < 0)
                return usage();

        fd = socket(dst.family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return report_errno(errno);
        if (bind_from(fd, dst.family, o.from) < 0)
                return EXIT_USAGE;
        deadline = now_ms() + o.timeout_ms;

        if (tcp) {
                int err = 0;
                socklen_t len = sizeof(err);

                if (connect(fd, &dst.u.sa, dst.len) < 0 && errno != EINPROGRESS)
                        return report_errno(errno);
                r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return report_errno(-r);
                if (r == 0)
                        return report("timeout", NULL);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        return report_errno(errno);
                if (err)
                        return report_errno(err);
                close(fd);
                return report("pass", NULL);
        } else {
                char nonce[64], msg[128], buf[256];
                ssize_t n;

                make_nonce(nonce, sizeof(nonce));
                snprintf(msg, sizeof(msg), "%s%s", REQ_TAG, nonce);
                if (connect(fd, &dst.u.sa, dst.len) < 0)
                        return report_errno(errno);
                if (send(fd, msg, strlen(msg), 0) < 0)
                        return report_errno(errno);
                for (;;) {
                        r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0)
                                return report_errno(-r);
                        if (r == 0)
                                return report("timeout", NULL);
                        n = recv(fd, buf, sizeof(buf) - 1, 0);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        continue;
                                /* ICMP port unreachable shows up here as ECONNREFUSED */
                                return report_errno(errno);
                        }
                        buf[n] = 0;
                        if (strcmp(buf, msg) == 0)
                                return report("pass", NULL);
                }
        }
}

static uint16_t inet_csum(const void *data, size_t len)
{
        const uint8_t *p = data;
        uint32_t sum = 0;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t) (p[i] << 8 | p[i + 1]);
        if (len & 1)
                sum += (uint32_t) p[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return htons((uint16_t) ~sum);
}

/* Length of the IPv4 header at the start of a raw IPv4 socket's datagram, or -1. */
static ssize_t ip4_hdr_len(const uint8_t *buf, ssize_t n)
{
        ssize_t hl;

        if (n < 20 || (buf[0] >> 4) != 4)
                return -1;
        hl = (buf[0] & 0x0f) * 4;
        return hl <= n ? hl : -1;
}

static int do_ping(int argc, char **argv)
{
        struct client_opts o;
        struct addr dst;
        uint8_t pkt[64], buf[1500];
        uint16_t id = (uint16_t) (getpid() ^ (now_ms() & 0xffff)), seq = 1;
        int fd, r;
        bool v6;
        int64_t deadline;

        if (argc < 1 || !parse_addr(argv[0], 0, &dst) ||
            parse_client_opts(argc - 1, argv + 1, &o) < 0)
                return usage();
        v6 = dst.family == AF_INET6;
        fd = socket(dst.family, SOCK_RAW | SOCK_CLOEXEC, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
        if (fd < 0)
                return report_errno(errno);
        if (bind_from(fd, dst.family, o.from) < 0)
                return EXIT_USAGE;
        if (v6) {
                struct icmp6_filter f;

                ICMP6_FILTER_SETBLOCKALL(&f);
                ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
                (void) setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
        }

        memset(pkt, 0, sizeof(pkt));
        pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
        pkt[4] = (uint8_t) (id >> 8);
        pkt[5] = (uint8_t) id;
        pkt[6] = (uint8_t) (seq >> 8);
        pkt[7] = (uint8_t) seq;
        memcpy(pkt + 8, "postern-probe-ping", 18);
        if (!v6) {
                uint16_t c = inet_csum(pkt, sizeof(pkt));

                memcpy(pkt + 2, &c, 2);
        }       /* the kernel computes the ICMPv6 checksum */

        deadline = now_ms() + o.timeout_ms;
        if (sendto(fd, pkt, sizeof(pkt), 0, &dst.u.sa, dst.len) < 0)
                return report_errno(errno);
        for (;;) {
                struct addr from;
                socklen_t flen = sizeof(from.u.ss);
                const uint8_t *icmp;
                ssize_t n, off = 0;

                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return report_errno(-r);
                if (r == 0)
                        return report("timeout", NULL);
                n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, &from.u.sa, &flen);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return report_errno(errno);
                }
                if (!v6 && (off = ip4_hdr_len(buf, n)) < 0)
                        continue;
                if (n - off < 8)
                        continue;
                icmp = buf + off;
                if (v6) {
                        if (memcmp(&from.u.in6.sin6_addr, &dst.u.in6.sin6_addr, 16) != 0)
                                continue;
                        if (icmp[0] != ICMP6_ECHO_REPLY)
                                continue;
                } else {
                        if (from.u.in4.sin_addr.s_addr != dst.u.in4.sin_addr.s_addr)
                                continue;
                        if (icmp[0] == ICMP_DEST_UNREACH)
                                return report("unreachable", "icmp");
                        if (icmp[0] != ICMP_ECHOREPLY)
                                continue;
                }
                if (((icmp[4] << 8) | icmp[5]) == id && ((icmp[6] << 8) | icmp[7]) == seq)
                        return report("pass", NULL);
        }
}

static int do_proto(int argc, char **argv)
{
        struct client_opts o;
        struct addr dst;
        unsigned long proto;
        char nonce[64], msg[128], want[128];
        uint8_t buf[1500], ah[256];
        size_t msglen;
        int fd, r;
        int64_t deadline;

        if (argc < 2 || !parse_addr(argv[0], 0, &dst) || !parse_uint(argv[1], 255, &proto) ||
            proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_ICMP ||
            proto == IPPROTO_ICMPV6 || proto == 0 || proto == 255 ||
            parse_client_opts(argc - 2, argv + 2, &o) < 0)
                return usage();
        fd = socket(dst.family, SOCK_RAW | SOCK_CLOEXEC, (int) proto);
        if (fd < 0)
                return report_errno(errno);
        if (bind_from(fd, dst.family, o.from) < 0)
                return EXIT_USAGE;
        /* connect() makes the raw socket accept only packets from dst */
        if (connect(fd, &dst.u.sa, dst.len) < 0)
                return report_errno(errno);
        make_nonce(nonce, sizeof(nonce));
        snprintf(msg, sizeof(msg), "%s%s", REQ_TAG, nonce);
        snprintf(want, sizeof(want), "%s%s", REP_TAG, nonce);

        deadline = now_ms() + o.timeout_ms;
        msglen = strlen(msg);
        if (proto == IPPROTO_AH && (msglen = ah_wrap(ah, sizeof(ah), msg, msglen)) == 0)
                return report_errno(EMSGSIZE);
        if (send(fd, proto == IPPROTO_AH ? (const void *) ah : msg, msglen, 0) < 0)
                return report_errno(errno);
        for (;;) {
                const uint8_t *got;
                size_t gotlen;
                ssize_t n, off = 0;

                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return report_errno(-r);
                if (r == 0)
                        return report("timeout", NULL);
                n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return report_errno(errno);
                }
                if (dst.family == AF_INET && (off = ip4_hdr_len(buf, n)) < 0)
                        continue;
                got = buf + off;
                gotlen = (size_t) (n - off);
                if (proto == IPPROTO_AH && !(got = ah_unwrap(buf + off, gotlen, &gotlen)))
                        continue;
                if (gotlen == strlen(want) && memcmp(got, want, strlen(want)) == 0)
                        return report("pass", NULL);
        }
}

/* IPCTNL_MSG_CT_DELETE without a tuple flushes every family's entries. */
static int do_ct_flush(void)
{
        struct {
                struct nlmsghdr nh;
                struct nfgenmsg nf;
        } req = {
                .nh = { .nlmsg_len = sizeof(req),
                        .nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 1 },
                .nf = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0 },
        };
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        char buf[4096];
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        ssize_t n;

        if (fd < 0 || sendto(fd, &req, sizeof(req), 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0) {
                fprintf(stderr, "probe: ct-flush: %s\n", strerror(errno));
                return EXIT_FAIL;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n >= (ssize_t) NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                struct nlmsghdr *h = (struct nlmsghdr *) buf;
                struct nlmsgerr *e = NLMSG_DATA(h);

                if (h->nlmsg_type == NLMSG_ERROR && e->error == 0)
                        return EXIT_PASS;
                if (h->nlmsg_type == NLMSG_ERROR) {
                        fprintf(stderr, "probe: ct-flush: %s\n", strerror(-e->error));
                        return EXIT_FAIL;
                }
        }
        fprintf(stderr, "probe: ct-flush: no acknowledgement\n");
        return EXIT_FAIL;
}

/* ---- listener ---- */

struct lsock {
        int fd;
        enum sock_kind kind;
};

static struct lsock socks[MAX_SOCKETS];
static size_t n_socks;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void) sig;
        stop = 1;
}

static int add_sock(int fd, enum sock_kind kind)
{
        if (n_socks >= MAX_SOCKETS) {
                fprintf(stderr, "probe: more than %d sockets\n", MAX_SOCKETS);
                close(fd);
                return -1;
        }
        socks[n_socks].fd = fd;
        socks[n_socks].kind = kind;
        n_socks++;
        return 0;
}

static int listen_port(bool tcp, unsigned port)
{
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port),
                                   .sin6_addr = IN6ADDR_ANY_INIT };
        int fd, zero = 0, one = 1;

        fd = socket(AF_INET6, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                goto fail;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                goto fail;
        if (!tcp && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
                goto fail;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                goto fail;
        if (tcp && listen(fd, 128) < 0)
                goto fail;
        return add_sock(fd, tcp ? K_TCP : K_UDP);
fail:
        fprintf(stderr, "probe: listen %s/%u: %s\n", tcp ? "tcp" : "udp", port, strerror(errno));
        if (fd >= 0)
                close(fd);
        return -1;
}

static int listen_proto(unsigned proto)
{
        int one = 1;
        int fd4 = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int) proto);
        int fd6 = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int) proto);

        if (fd4 < 0 || fd6 < 0 ||
            setsockopt(fd6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0) {
                fprintf(stderr, "probe: raw socket for protocol %u: %s\n", proto, strerror(errno));
                return -1;
        }
        if (add_sock(fd4, K_RAW4) < 0 || add_sock(fd6, K_RAW6) < 0)
                return -1;
        return 0;
}

/* "22,25,1024-1030" → calls fn for every port (or protocol). */
static int for_each_in_list(const char *list, unsigned long max, bool tcp, bool is_proto)
{
        char *copy = strdup(list), *save = NULL, *tok;
        int r = 0;

        if (!copy)
                return -1;
        for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
                char *dash = strchr(tok, '-');
                unsigned long a, b;

                if (dash) {
                        *dash = 0;
                        if (!parse_uint(tok, max, &a) || !parse_uint(dash + 1, max, &b) || a > b) {
                                r = -1;
                                break;
                        }
                } else if (!parse_uint(tok, max, &a)) {
                        r = -1;
                        break;
                } else
                        b = a;
                if (a == 0 || b - a >= MAX_SOCKETS) {
                        r = -1;
                        break;
                }
                for (unsigned long p = a; p <= b && r == 0; p++)
                        r = is_proto ? listen_proto((unsigned) p) : listen_port(tcp, (unsigned) p);
        }
        free(copy);
        return r;
}

static void serve_udp(int fd)
{
        for (int budget = 0; budget < 64; budget++) {
                char buf[2048];
                union {
                        char c[CMSG_SPACE(sizeof(struct in6_pktinfo))];
                        struct cmsghdr align;
                } cin, cout;
                struct sockaddr_in6 peer;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
                struct msghdr m = { .msg_name = &peer, .msg_namelen = sizeof(peer),
                                    .msg_iov = &iov, .msg_iovlen = 1,
                                    .msg_control = cin.c, .msg_controllen = sizeof(cin.c) };
                struct in6_pktinfo *dst = NULL;
                ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

                if (n < 0)
                        return;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
                        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
                                dst = (struct in6_pktinfo *) CMSG_DATA(c);
                iov.iov_len = (size_t) n;
                m.msg_flags = 0;
                if (dst) {
                        /* answer from the address that was asked: srv has several,
                         * and a reply from another one would not match the connection */
                        struct cmsghdr *c;
                        struct in6_pktinfo pi = { .ipi6_addr = dst->ipi6_addr, .ipi6_ifindex = 0 };

                        memset(&cout, 0, sizeof(cout));
                        m.msg_control = cout.c;
                        m.msg_controllen = sizeof(cout.c);
                        c = CMSG_FIRSTHDR(&m);
                        c->cmsg_level = IPPROTO_IPV6;
                        c->cmsg_type = IPV6_PKTINFO;
                        c->cmsg_len = CMSG_LEN(sizeof(pi));
                        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
                } else {
                        m.msg_control = NULL;
                        m.msg_controllen = 0;
                }
                (void) sendmsg(fd, &m, MSG_DONTWAIT);
        }
}

static void serve_raw(int fd, bool v6)
{
        for (int budget = 0; budget < 64; budget++) {
                uint8_t buf[2048], txt[256], out[256];
                const uint8_t *req;
                union {
                        char c[CMSG_SPACE(sizeof(struct in6_pktinfo))];
                        struct cmsghdr align;
                } cin, cout;
                struct sockaddr_storage peer;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
                struct msghdr m = { .msg_name = &peer, .msg_namelen = sizeof(peer),
                                    .msg_iov = &iov, .msg_iovlen = 1,
                                    .msg_control = cin.c, .msg_controllen = sizeof(cin.c) };
                ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT), off = 0;
                size_t len, taglen = strlen(REQ_TAG);
                struct cmsghdr *c;
                bool ah;

                if (n < 0)
                        return;
                if (!v6 && (off = ip4_hdr_len(buf, n)) < 0)
                        continue;
                len = (size_t) (n - off);
                req = buf + off;
                /* an AH probe's tag is inside its AH header: answer in kind */
                if (len >= taglen && memcmp(req, REQ_TAG, taglen) == 0)
                        ah = false;
                else if ((req = ah_unwrap(buf + off, len, &len)))
                        ah = true;
                else
                        continue;
                if (len < taglen || len - taglen >= sizeof(txt) - taglen - AH_HDR - 8 ||
                    memcmp(req, REQ_TAG, taglen) != 0)
                        continue;
                memcpy(txt, REP_TAG, taglen);
                memcpy(txt + taglen, req + taglen, len - taglen);
                if (ah)
                        len = ah_wrap(out, sizeof(out), (const char *) txt, len);
                else
                        memcpy(out, txt, len);

                memset(&cout, 0, sizeof(cout));
                if (v6) {
                        struct in6_pktinfo *dst = NULL, pi;

                        for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
                                if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
                                        dst = (struct in6_pktinfo *) CMSG_DATA(c);
                        if (!dst)
                                continue;
                        pi.ipi6_addr = dst->ipi6_addr;
                        pi.ipi6_ifindex = 0;
                        m.msg_control = cout.c;
                        m.msg_controllen = CMSG_SPACE(sizeof(pi));
                        c = CMSG_FIRSTHDR(&m);
                        c->cmsg_level = IPPROTO_IPV6;
                        c->cmsg_type = IPV6_PKTINFO;
                        c->cmsg_len = CMSG_LEN(sizeof(pi));
                        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
                } else {
                        struct in_pktinfo pi = { 0 };

                        memcpy(&pi.ipi_spec_dst, buf + 16, 4);  /* the address that was asked */
                        m.msg_control = cout.c;
                        m.msg_controllen = CMSG_SPACE(sizeof(pi));
                        c = CMSG_FIRSTHDR(&m);
                        c->cmsg_level = IPPROTO_IP;
                        c->cmsg_type = IP_PKTINFO;
                        c->cmsg_len = CMSG_LEN(sizeof(pi));
                        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
                }
                iov.iov_base = out;
                iov.iov_len = len;
                m.msg_flags = 0;
                (void) sendmsg(fd, &m, MSG_DONTWAIT);
        }
}

static int do_listen(int argc, char **argv)
{
        static struct pollfd pfds[MAX_SOCKETS];
        unsigned long lifetime = 600;
        int64_t deadline;
        struct sigaction sa = { .sa_handler = on_signal };

        for (int i = 0; i < argc; i++) {
                const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
                int r;

                if (!val)
                        return usage();
                if (strcmp(opt, "--tcp") == 0)
                        r = for_each_in_list(val, 65535, true, false);
                else if (strcmp(opt, "--udp") == 0)
                        r = for_each_in_list(val, 65535, false, false);
                else if (strcmp(opt, "--proto") == 0)
                        r = for_each_in_list(val, 254, false, true);
                else if (strcmp(opt, "--lifetime") == 0)
                        r = parse_uint(val, 86400, &lifetime) && lifetime > 0 ? 0 : -1;
                else
                        return usage();
                if (r < 0) {
                        fprintf(stderr, "probe: bad or unusable %s %s\n", opt, val);
                        return EXIT_USAGE;
                }
                i++;
        }
        if (n_socks == 0)
                return usage();

        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        for (size_t i = 0; i < n_socks; i++)
                pfds[i] = (struct pollfd) { .fd = socks[i].fd, .events = POLLIN };
        printf("ready\n");
        fflush(stdout);

        deadline = now_ms() + (int64_t) lifetime * 1000;
        while (!stop) {
                int64_t left = deadline - now_ms();
                int r;

                if (left <= 0)
                        break;
                r = poll(pfds, n_socks, left > 1000 ? 1000 : (int) left);
                if (r < 0 && errno != EINTR) {
                        perror("probe: poll");
                        return EXIT_FAIL;
                }
                for (size_t i = 0; r > 0 && i < n_socks; i++) {
                        if (!(pfds[i].revents & POLLIN))
                                continue;
                        switch (socks[i].kind) {
                        case K_TCP:
                                for (int k = 0; k < 64; k++) {
                                        int c = accept4(socks[i].fd, NULL, NULL, SOCK_CLOEXEC);

                                        if (c < 0)
                                                break;
                                        close(c);
                                }
                                break;
                        case K_UDP:
                                serve_udp(socks[i].fd);
                                break;
                        case K_RAW4:
                                serve_raw(socks[i].fd, false);
                                break;
                        case K_RAW6:
                                serve_raw(socks[i].fd, true);
                                break;
                        }
                }
        }
        return EXIT_PASS;
}

static int dispatch_client(int argc, char **argv)
{
        if (strcmp(argv[1], "connect") == 0)
                return do_connect(argc - 2, argv + 2);
        if (strcmp(argv[1], "ping") == 0)
                return do_ping(argc - 2, argv + 2);
        if (strcmp(argv[1], "proto") == 0)
                return do_proto(argc - 2, argv + 2);
        return usage();
}

#define BATCH_MAX 2048
#define BATCH_ARGS 16

static int do_batch(void)
{
        static char lines[BATCH_MAX][256];
        size_t n = 0;
        int rc = EXIT_PASS;

        while (n < BATCH_MAX && fgets(lines[n], sizeof(lines[n]), stdin))
                if (lines[n][0] != '\n' && lines[n][0] != '#')
                        n++;
        fflush(stdout);
        for (size_t i = 0; i < n; i++) {
                pid_t pid = fork();

                if (pid < 0) {
                        perror("probe: fork");
                        rc = EXIT_FAIL;
                        break;
                }
                if (pid == 0) {
                        char *argv[BATCH_ARGS + 2], *save = NULL, *tok;
                        int argc = 1;

                        argv[0] = (char *) "probe";
                        report_tag = strtok_r(lines[i], " \t\n", &save);
                        while (argc < BATCH_ARGS + 1 && (tok = strtok_r(NULL, " \t\n", &save)))
                                argv[argc++] = tok;
                        argv[argc] = NULL;
                        if (!report_tag || argc < 2)
                                _exit(report("error", "empty batch line"));
                        _exit(dispatch_client(argc, argv));
                }
        }
        /* every child has its own timeout: this ends within the longest of them */
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        return rc;
}

int main(int argc, char **argv)
{
        if (argc < 2)
                return usage();
        if (strcmp(argv[1], "batch") == 0 && argc == 2)
                return do_batch();
        if (strcmp(argv[1], "listen") == 0)
                return do_listen(argc - 2, argv + 2);
        if (strcmp(argv[1], "connect") == 0)
                return do_connect(argc - 2, argv + 2);
        if (strcmp(argv[1], "ping") == 0)
                return do_ping(argc - 2, argv + 2);
        if (strcmp(argv[1], "proto") == 0)
                return do_proto(argc - 2, argv + 2);
        if (strcmp(argv[1], "ct-flush") == 0 && argc == 2)
                return do_ct_flush();
        return usage();
}
