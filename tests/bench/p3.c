/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * p3 — P3: how long from an interface-address change to the kernel's
 * commit of the interface-address set update.  Run it inside a private
 * network namespace (tests/bench/run does: unshare -n).
 *
 *   p3 --policy FILE --catalog FILE [--changes N] [--budget SECONDS] [--idle SECONDS]
 *      [--log FILE] [--daemon -- POSTERND ARGS...]
 *
 * Sets up ppp0 (a persistent tun device: with no process attached it stays NO-CARRIER,
 * but it takes and drops addresses like a ppp link) with 198.18.0.1/32, then either
 *  --daemon: starts POSTERND ARGS (the running daemon does the update), or
 *  otherwise:  loads and compiles the policy with libpostern, applies it on
 *              a socket it keeps open, and on every address event does what
 *              the daemon does (pst_ruleset_update_ifaddrs +
 *              pst_nft_update_set) — "in-process".
 * Then N times: add the other address, remove the old one (two events per
 * change).  For each event:
 *   t0  just before our RTM_NEWADDR/RTM_DELADDR request (the `ip addr` role)
 *   t1  its ACK: the kernel has queued the event to every RTNLGRP_IPV4_IFADDR
 *       listener (ours checks that it came)
 *   t2  NFT_MSG_NEWGEN seen by our NFNLGRP_NFTABLES listener: the kernel
 *       committed the update (the first commit after which the set, as
 *       replayed from the NEWSETELEM/DELSETELEM notifications, holds what
 *       the change should leave there)
 * and counts the nf_tables notifications of that generation (what the
 * update changed in the kernel).  With --daemon, also the daemon's RSS
 * (VmRSS, VmHWM) and CPU time while idle for --idle seconds after start-up.
 *
 * Prints one JSON object with the raw samples (µs): event_us = t2 - t1,
 * request_us = t2 - t0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "pipeline.h"
#include "compile.h"
#include "ifaddr.h"
#include "nft.h"
#include "policy.h"
#include "bench.h"

#define ADDR_A "198.18.0.1"
#define ADDR_B "198.18.0.2"

static void die(const char *what, int err) {
        fprintf(stderr, "p3: %s: %s\n", what, strerror(err));
        exit(2);
}

/* ---- rtnetlink: the `ip addr` role, and our listener ---- */

static struct mnl_socket *rt_req, *rt_mon, *nf_mon;
static uint32_t rt_seq = 1;
static unsigned ppp0_index;

static void addr_request(int type, const char *addr) {
        char buf[512];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifaddrmsg *ifa;
        struct in_addr a;
        ssize_t n;

        inet_pton(AF_INET, addr, &a);
        nlh->nlmsg_type = (uint16_t) type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
        nlh->nlmsg_seq = rt_seq++;
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = 32;
        ifa->ifa_index = ppp0_index;
        mnl_attr_put(nlh, IFA_LOCAL, 4, &a);
        mnl_attr_put(nlh, IFA_ADDRESS, 4, &a);
        if (mnl_socket_sendto(rt_req, nlh, nlh->nlmsg_len) < 0)
                die("rtnetlink request", errno);
        n = mnl_socket_recvfrom(rt_req, buf, sizeof(buf));
        if (n < 0)
                die("rtnetlink ack", errno);
        if (mnl_cb_run(buf, (size_t) n, nlh->nlmsg_seq, mnl_socket_get_portid(rt_req), NULL, NULL) < 0)
                die(type == RTM_NEWADDR ? "adding the address" : "deleting the address", errno);
}

/* Wait for an RTM_NEWADDR/RTM_DELADDR of ppp0 on the listener; true when seen. */
static bool wait_addr_event(int type, int timeout_ms) {
        static char buf[65536];
        uint64_t end = now_us() + (uint64_t) timeout_ms * 1000;

        for (;;) {
                struct pollfd p = { mnl_socket_get_fd(rt_mon), POLLIN, 0 };
                int left_ms = (int) (((int64_t) end - (int64_t) now_us()) / 1000);
                ssize_t n;
                int left;

                if (left_ms < 0 || poll(&p, 1, left_ms) <= 0)
                        return false;
                n = recv(mnl_socket_get_fd(rt_mon), buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0)
                        continue;
                left = (int) n;
                for (struct nlmsghdr *nlh = (void *) buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

                        if (nlh->nlmsg_type == type && ifa->ifa_index == ppp0_index)
                                return true;
                }
        }
}

/* ---- nf_tables multicast listener ---- */

struct gen {
        unsigned msgs; /* notifications before NEWGEN */
        unsigned setelem;
};

/* What the kernel's ifaddr_ppp0_v4 holds, replayed from the notifications:
 * a commit counts for an address change only once the set holds what the
 * change should leave there (a trailing commit of an earlier change, or an
 * intermediate one, does not). */
#define MODEL_MAX 16
static uint32_t model[MODEL_MAX];
static unsigned nmodel;

static void model_apply(const struct nlmsghdr *nlh, bool add) {
        const struct nlattr *attr, *elem, *k, *v;
        bool ours = false;

        mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(attr) == NFTA_SET_ELEM_LIST_SET &&
                    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0 &&
                    streq(mnl_attr_get_str(attr), "ifaddr_ppp0_v4"))
                        ours = true;
        if (!ours)
                return;
        mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS)
                        continue;
                mnl_attr_for_each_nested(elem, attr)
                        mnl_attr_for_each_nested(k, elem) {
                                uint32_t key;
                                unsigned i;

                                if (mnl_attr_get_type(k) != NFTA_SET_ELEM_KEY)
                                        continue;
                                mnl_attr_for_each_nested(v, k) {
                                        if (mnl_attr_get_type(v) != NFTA_DATA_VALUE ||
                                            mnl_attr_get_payload_len(v) != 4)
                                                continue;
                                        memcpy(&key, mnl_attr_get_payload(v), 4);
                                        for (i = 0; i < nmodel && model[i] != key; i++)
                                                ;
                                        if (add && i == nmodel && nmodel < MODEL_MAX)
                                                model[nmodel++] = key;
                                        else if (!add && i < nmodel)
                                                model[i] = model[--nmodel];
                                }
                        }
        }
}

static bool model_is(const char *a, const char *b) {
        struct in_addr x, y;
        bool hx = false, hy = false;

        inet_pton(AF_INET, a, &x);
        if (b)
                inet_pton(AF_INET, b, &y);
        for (unsigned i = 0; i < nmodel; i++) {
                if (model[i] == x.s_addr)
                        hx = true;
                else if (b && model[i] == y.s_addr)
                        hy = true;
                else
                        return false;
        }
        return hx && (!b || hy);
}

/* Read notifications until a NEWGEN after which the set holds exactly
 * want_a (and want_b); false on timeout.  ENOBUFS (the initial
 * 100k-element load overflows any buffer) just means "keep going". */
static bool wait_newgen(int timeout_ms, const char *want_a, const char *want_b, struct gen *g) {
        static char buf[1 << 17];
        uint64_t end = now_us() + (uint64_t) timeout_ms * 1000;

        *g = (struct gen) {};
        for (;;) {
                struct pollfd p = { mnl_socket_get_fd(nf_mon), POLLIN, 0 };
                int left_ms = (int) (((int64_t) end - (int64_t) now_us()) / 1000);
                ssize_t n;
                int left;

                if (left_ms < 0)
                        return false;
                if (poll(&p, 1, left_ms) <= 0)
                        return false;
                n = recv(mnl_socket_get_fd(nf_mon), buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0)
                        continue;
                left = (int) n;
                for (struct nlmsghdr *nlh = (void *) buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        unsigned t = NFNL_MSG_TYPE(nlh->nlmsg_type);

                        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
                                continue;
                        if (t == NFT_MSG_NEWGEN) {
                                if (model_is(want_a, want_b))
                                        return true;
                                *g = (struct gen) {}; /* not this change's commit */
                                continue;
                        }
                        g->msgs++;
                        if (t == NFT_MSG_NEWSETELEM || t == NFT_MSG_DELSETELEM) {
                                g->setelem++;
                                model_apply(nlh, t == NFT_MSG_NEWSETELEM);
                        }
                }
        }
}

static void drain(struct mnl_socket *s) {
        static char buf[1 << 17];

        while (recv(mnl_socket_get_fd(s), buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
                ;
}

/* Read what is queued without waiting, keeping the set model current. */
static void drain_model(void) {
        struct gen g;

        wait_newgen(0, "255.255.255.255", NULL, &g);
}

/* ---- in-process: what the daemon does on an address event ---- */

static struct pst_ruleset *rs;
static struct pst_nft *nft;
static size_t nupdated;

static void inproc_update(void) {
        struct pst_ifaddrs ifa = {};
        struct pst_diag diag;
        uint32_t changed[16];
        int n, r;

        pst_diag_init(&diag);
        r = pst_ifaddrs_dump(&ifa);
        if (r < 0)
                die("pst_ifaddrs_dump", -r);
        n = pst_ruleset_update_ifaddrs(rs, &ifa, 16, changed);
        for (int i = 0; i < n; i++) {
                r = pst_nft_update_set(nft, rs, changed[i], &diag);
                if (r < 0) {
                        pst_diag_print(&diag, stderr);
                        die("pst_nft_update_set", -r);
                }
                nupdated++;
        }
        pst_ifaddrs_clear(&ifa);
        pst_diag_clear(&diag);
}

static void inproc_setup(const char *policy, const char *catalog, uint64_t *ret_apply_us) {
        struct pst_catalog cat = {};
        struct pst_policy *p = NULL;
        struct pst_ifaddrs ifa = {};
        struct pst_apply_opts o = { .table_flags = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST };
        struct pst_diag diag;
        uint64_t t0 = now_us();
        int r;

        pst_diag_init(&diag);
        /* The catalog and policy stay loaded, as in the daemon (rules point into them). */
        r = pst_catalog_load(&cat, catalog, pst_source_flags_from_env(), &diag);
        if (r >= 0)
                r = pst_policy_load(policy, &cat, pst_source_flags_from_env(), &diag, &p);
        if (r >= 0)
                r = pst_ifaddrs_dump(&ifa);
        if (r >= 0)
                r = pst_compile(p, &ifa, &diag, &rs);
        if (r >= 0)
                r = pst_nft_open(&nft);
        if (r >= 0)
                r = pst_nft_apply(nft, rs, &o, &diag);
        if (r < 0) {
                pst_diag_print(&diag, stderr);
                die("in-process apply", -r);
        }
        *ret_apply_us = now_us() - t0;
        pst_ifaddrs_clear(&ifa);
        pst_diag_clear(&diag);
}

/* ---- daemon ---- */

static pid_t daemon_pid;

static void stop_daemon(void) {
        if (daemon_pid > 0) {
                kill(daemon_pid, SIGTERM);
                waitpid(daemon_pid, NULL, 0);
                daemon_pid = 0;
        }
}

static long proc_status_kib(pid_t pid, const char *key) {
        char path[64], line[256];
        long v = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
                        v = strtol(line + strlen(key) + 1, NULL, 10);
        fclose(f);
        return v;
}

/* utime + stime of pid, in clock ticks */
static long long proc_cpu_ticks(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long ut, st;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f || !fgets(buf, sizeof(buf), f)) {
                if (f)
                        fclose(f);
                return -1;
        }
        fclose(f);
        p = strrchr(buf, ')');
        /* after ") ": state(3) ... utime is field 14, stime 15 */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -1;
        return (long long) (ut + st);
}

/* The table is there and ifaddr_ppp0_v4 holds ADDR_A: the daemon applied. */
static bool table_ready(void) {
        return system("nft list set inet postern ifaddr_ppp0_v4 2>/dev/null | grep -q '" ADDR_A "'") == 0;
}

int main(int argc, char **argv) {
        enum { OPT_POLICY = 0x100, OPT_CATALOG, OPT_CHANGES, OPT_BUDGET, OPT_IDLE, OPT_DAEMON, OPT_LOG };
        static const struct option opts[] = {
                { "policy", required_argument, NULL, OPT_POLICY },
                { "catalog", required_argument, NULL, OPT_CATALOG },
                { "changes", required_argument, NULL, OPT_CHANGES },
                { "budget", required_argument, NULL, OPT_BUDGET },
                { "idle", required_argument, NULL, OPT_IDLE },
                { "daemon", no_argument, NULL, OPT_DAEMON },
                { "log", required_argument, NULL, OPT_LOG },
                {},
        };
        const char *policy = NULL, *catalog = NULL, *log_path = NULL;
        unsigned changes = 200, budget = 60, idle = 2;
        bool use_daemon = false;
        uint64_t *ev, *req, start_us = 0, t_end;
        unsigned *gmsgs, *gelems;
        size_t ns = 0, misses = 0;
        long rss = -1, hwm = -1, rss_after = -1;
        long long idle_ticks = -1;
        int o, group = NFNLGRP_NFTABLES, one = 1, sz = 8 << 20;
        const char *addr_cur = ADDR_A;

        while ((o = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (o) {
                case OPT_POLICY:
                        policy = optarg;
                        break;
                case OPT_CATALOG:
                        catalog = optarg;
                        break;
                case OPT_CHANGES:
                        changes = (unsigned) atoi(optarg);
                        break;
                case OPT_BUDGET:
                        budget = (unsigned) atoi(optarg);
                        break;
                case OPT_IDLE:
                        idle = (unsigned) atoi(optarg);
                        break;
                case OPT_DAEMON:
                        use_daemon = true;
                        break;
                case OPT_LOG:
                        log_path = optarg;
                        break;
                default:
                        return 2;
                }
        if (!policy || !catalog || (use_daemon && optind >= argc)) {
                fprintf(stderr, "usage: p3 --policy FILE --catalog FILE [--changes N] [--daemon -- CMD...]\n");
                return 2;
        }

        if (system("ip link set lo up && ip tuntap add dev ppp0 mode tun && ip link set ppp0 up && "
                   "ip addr add " ADDR_A "/32 dev ppp0") != 0)
                die("setting up ppp0 (a persistent tun device)", EIO);
        ppp0_index = if_nametoindex("ppp0");

        rt_req = mnl_socket_open(NETLINK_ROUTE);
        rt_mon = mnl_socket_open(NETLINK_ROUTE);
        nf_mon = mnl_socket_open(NETLINK_NETFILTER);
        if (!rt_req || !rt_mon || !nf_mon || mnl_socket_bind(rt_req, 0, MNL_SOCKET_AUTOPID) < 0 ||
            mnl_socket_bind(rt_mon, RTMGRP_IPV4_IFADDR, MNL_SOCKET_AUTOPID) < 0 ||
            mnl_socket_bind(nf_mon, 0, MNL_SOCKET_AUTOPID) < 0)
                die("netlink sockets", errno);
        (void) setsockopt(mnl_socket_get_fd(nf_mon), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
        (void) mnl_socket_setsockopt(nf_mon, NETLINK_NO_ENOBUFS, &one, sizeof(one));

        if (use_daemon) {
                uint64_t t0 = now_us();

                daemon_pid = fork();
                if (daemon_pid < 0)
                        die("fork", errno);
                if (daemon_pid == 0) {
                        /* never outlive the benchmark (nor its namespace) */
                        prctl(PR_SET_PDEATHSIG, SIGTERM);
                        if (log_path) {
                                int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                                if (fd >= 0) {
                                        dup2(fd, 1);
                                        dup2(fd, 2);
                                }
                        }
                        execv(argv[optind], argv + optind);
                        _exit(127);
                }
                while (!table_ready()) {
                        if (now_us() - t0 > 60 * 1000000ull || waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
                                fprintf(stderr, "p3: the daemon did not install the table\n");
                                daemon_pid = 0;
                                printf("{\"mode\":\"daemon\",\"ok\":false}\n");
                                return 3;
                        }
                        usleep(20000);
                }
                start_us = now_us() - t0;
                /* idle: memory and CPU with the policy loaded and nothing happening */
                {
                        long long c0 = proc_cpu_ticks(daemon_pid);

                        sleep(idle);
                        idle_ticks = proc_cpu_ticks(daemon_pid) - c0;
                        rss = proc_status_kib(daemon_pid, "VmRSS");
                        hwm = proc_status_kib(daemon_pid, "VmHWM");
                }
        } else
                inproc_setup(policy, catalog, &start_us);
        /* Join NFNLGRP_NFTABLES only now: while anyone listens, the kernel
         * builds a notification per committed object, and the initial load
         * of P2 (200k interval elements) then takes ~4 s instead of ~0.15. */
        if (mnl_socket_setsockopt(nf_mon, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
                die("joining NFNLGRP_NFTABLES", errno);
        usleep(100000);
        drain(nf_mon);
        drain(rt_mon);
        inet_pton(AF_INET, ADDR_A, &model[0]);
        nmodel = 1;

        ev = calloc(2 * (size_t) changes + 1, sizeof(*ev));
        req = calloc(2 * (size_t) changes + 1, sizeof(*req));
        gmsgs = calloc(2 * (size_t) changes + 1, sizeof(*gmsgs));
        gelems = calloc(2 * (size_t) changes + 1, sizeof(*gelems));
        if (!ev || !req || !gmsgs || !gelems)
                die("calloc", ENOMEM);
        t_end = now_us() + (uint64_t) budget * 1000000;
        for (unsigned c = 0; c < changes && now_us() < t_end; c++) {
                const char *next = streq(addr_cur, ADDR_A) ? ADDR_B : ADDR_A;

                for (int step = 0; step < 2; step++) {
                        int type = step == 0 ? RTM_NEWADDR : RTM_DELADDR;
                        uint64_t t0, t1, t2;
                        struct gen g;

                        t0 = now_us();
                        addr_request(type, step == 0 ? next : addr_cur);
                        /* The kernel queues RTM_NEWADDR/DELADDR to every
                         * listener before it acknowledges the request: the
                         * event exists from here on.  (Our own listener's
                         * read is no timestamp: on 2 cores the daemon often
                         * commits before this process is scheduled again.) */
                        t1 = now_us();
                        if (!wait_addr_event(type, 1000))
                                die("no rtnetlink event for our own change", ETIMEDOUT);
                        if (!use_daemon)
                                inproc_update();
                        if (!wait_newgen(2000, step == 0 ? addr_cur : next, step == 0 ? next : NULL, &g)) {
                                misses++;
                                continue;
                        }
                        t2 = now_us();
                        ev[ns] = t2 - t1;
                        req[ns] = t2 - t0;
                        gmsgs[ns] = g.msgs;
                        gelems[ns] = g.setelem;
                        ns++;
                        /* let the system settle: a daemon's trailing commit
                         * must not be taken for the next change's */
                        usleep(10000);
                        drain_model();
                }
                addr_cur = next;
        }
        if (use_daemon)
                rss_after = proc_status_kib(daemon_pid, "VmRSS");

        printf("{\"mode\":\"%s\",\"ok\":true,\"events\":%zu,\"misses\":%zu,\"startup_us\":%llu,",
               use_daemon ? "daemon" : "in-process", ns, misses, (unsigned long long) start_us);
        if (use_daemon)
                printf("\"daemon_rss_kib\":%ld,\"daemon_hwm_kib\":%ld,\"daemon_rss_after_kib\":%ld,"
                       "\"daemon_idle_cpu_ticks\":%lld,\"idle_seconds\":%u,\"clk_tck\":%ld,",
                       rss, hwm, rss_after, idle_ticks, idle, sysconf(_SC_CLK_TCK));
        else {
                struct rusage ru;

                getrusage(RUSAGE_SELF, &ru);
                printf("\"inproc_maxrss_kib\":%ld,\"updates\":%zu,", ru.ru_maxrss, nupdated);
        }
        print_samples("event_us", ev, ns);
        printf(",");
        print_samples("request_us", req, ns);
        printf(",\"gen_msgs\":[");
        for (size_t i = 0; i < ns; i++)
                printf("%s%u", i ? "," : "", gmsgs[i]);
        printf("],\"gen_setelem\":[");
        for (size_t i = 0; i < ns; i++)
                printf("%s%u", i ? "," : "", gelems[i]);
        printf("]}\n");
        stop_daemon();
        return 0;
}
