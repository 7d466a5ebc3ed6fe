/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * eval-probes: the traffic suite's probe tables through the ruleset
 * evaluator (lib/eval.h) instead of the kernel.  eval.sh writes, on stdin:
 *
 *   policy PATH                       the policy posternctl apply was given
 *   addr IFNAME LOCAL[/LEN] [PEER/LEN]  the hut's addresses at apply time
 *   now                               what follows is the hut as it is now:
 *   link IFNAME ROLE                  the hut's veth end towards ROLE (or its bridge)
 *   addr ...                          its addresses now (local or not, connected routes)
 *   route PREFIX IFNAME
 *   probe INDEX ROLE DST tcp|udp|icmp|proto PORT|-|N SRC
 *
 * and reads "INDEX pass|timeout|unreachable" lines, what `probe batch`
 * prints.  A probe to one of the hut's addresses is judged by chain input,
 * arriving on the hut's interface towards ROLE; any other by chain forward,
 * leaving by the longest-prefix route.  Every probe is the first packet of
 * a new connection (the seeds flush conntrack after applying).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "pipeline.h"

#define MAX_ENTRIES 256

struct route {
        uint8_t family, plen;
        uint8_t a[16];
        char dev[IFNAMSIZ];
};

struct hut {
        struct route routes[MAX_ENTRIES]; /* connected ones too */
        size_t nroutes;
        struct pst_addr local[MAX_ENTRIES];
        size_t nlocal;
        char link_dev[5][IFNAMSIZ];       /* by role: hut out lan srv ctr */
};

static const char *const roles[] = { "hut", "out", "lan", "srv", "ctr" };

static int parse_prefix(const char *s, struct route *ret) {
        char buf[64];
        char *slash;
        int fam;

        snprintf(buf, sizeof(buf), "%s", s);
        slash = strchr(buf, '/');
        if (slash)
                *slash = 0;
        fam = strchr(buf, ':') ? AF_INET6 : AF_INET;
        memset(ret, 0, sizeof(*ret));
        if (inet_pton(fam, buf, ret->a) != 1)
                return -EINVAL;
        ret->family = (uint8_t) fam;
        ret->plen = (uint8_t) (slash ? atoi(slash + 1) : fam == AF_INET ? 32 : 128);
        return 0;
}

static bool in_prefix(const struct route *r, uint8_t family, const uint8_t *a) {
        if (r->family != family)
                return false;
        for (unsigned b = 0; b < r->plen; b++) {
                uint8_t m = (uint8_t) (0x80u >> (b % 8));

                if ((r->a[b / 8] & m) != (a[b / 8] & m))
                        return false;
        }
        return true;
}

/* "addr IFNAME LOCAL[/LEN] [PEER/LEN]" into the compile list or the hut */
static int add_addr(struct hut *h, struct pst_ifaddrs *ifa, char *args) {
        char *dev = strtok(args, " "), *local = strtok(NULL, " "), *peer = strtok(NULL, " ");
        struct route l, p;

        if (!dev || !local || parse_prefix(local, &l) < 0 || (peer && parse_prefix(peer, &p) < 0))
                return -EINVAL;
        if (ifa) {
                struct pst_addr a = { .family = l.family, .prefixlen = l.family == AF_INET ? 32 : 128 };

                memcpy(a.a, l.a, 16);
                return pst_ifaddrs_add(ifa, dev, &a);
        }
        if (h->nlocal >= MAX_ENTRIES || h->nroutes >= MAX_ENTRIES)
                return -E2BIG;
        h->local[h->nlocal] = (struct pst_addr) { .family = l.family };
        memcpy(h->local[h->nlocal++].a, l.a, 16);
        h->routes[h->nroutes] = peer ? p : l; /* the connected route */
        snprintf(h->routes[h->nroutes++].dev, IFNAMSIZ, "%s", dev);
        return 0;
}

static int add_line(struct hut *h, struct pst_ifaddrs *ifa, char *line) {
        char *kw = strtok(line, " "), *rest = strtok(NULL, "");

        if (!kw || !rest)
                return -EINVAL;
        if (streq(kw, "addr"))
                return add_addr(h, ifa, rest);
        if (streq(kw, "link")) {
                char *dev = strtok(rest, " "), *role = strtok(NULL, " ");

                for (size_t i = 0; dev && role && i < ELEMENTSOF(roles); i++)
                        if (streq(role, roles[i])) {
                                snprintf(h->link_dev[i], IFNAMSIZ, "%s", dev);
                                return 0;
                        }
                return -EINVAL;
        }
        if (streq(kw, "route")) {
                char *pfx = strtok(rest, " "), *dev = strtok(NULL, " ");

                if (!pfx || !dev || h->nroutes >= MAX_ENTRIES || parse_prefix(pfx, &h->routes[h->nroutes]) < 0)
                        return -EINVAL;
                snprintf(h->routes[h->nroutes++].dev, IFNAMSIZ, "%s", dev);
                return 0;
        }
        return -EINVAL;
}

static const char *route_dev(const struct hut *h, uint8_t family, const uint8_t *a) {
        const struct route *best = NULL;

        for (size_t i = 0; i < h->nroutes; i++)
                if (in_prefix(&h->routes[i], family, a) && (!best || h->routes[i].plen > best->plen))
                        best = &h->routes[i];
        return best ? best->dev : NULL;
}

static bool is_local(const struct hut *h, uint8_t family, const uint8_t *a) {
        for (size_t i = 0; i < h->nlocal; i++)
                if (h->local[i].family == family && memcmp(h->local[i].a, a, pst_addr_len(family)) == 0)
                        return true;
        return false;
}

/* One probe line → its result word. */
static const char *probe(const struct pst_ruleset *rs, const struct hut *h, char *args) {
        char *idx = strtok(args, " "), *role = strtok(NULL, " "), *dst = strtok(NULL, " ");
        char *proto = strtok(NULL, " "), *port = strtok(NULL, " "), *src = strtok(NULL, " ");
        struct pst_packet pkt = { .ct_state = PST_CT_NEW };
        struct pst_eval_result res;
        enum pst_hook hook;
        const char *dev = NULL, *oif;

        if (!idx || !role || !dst || !proto || !port || !src || pst_packet_set_addrs(&pkt, src, dst) < 0)
                return NULL;
        printf("%s ", idx);
        if (streq(role, "hut"))
                return "pass"; /* the hut's own packets meet no chain of ours (no output chain) */
        for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                if (streq(role, roles[i]))
                        dev = h->link_dev[i];
        if (!dev || !dev[0])
                return NULL;
        snprintf(pkt.iifname, IFNAMSIZ, "%s", dev);
        if (streq(proto, "tcp") || streq(proto, "udp")) {
                pkt.l4proto = streq(proto, "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
                pkt.sport = 40000;
                pkt.dport = (uint16_t) atoi(port);
        } else if (streq(proto, "icmp")) {
                pkt.l4proto = pkt.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
                pkt.icmp_type = pkt.family == AF_INET ? 8 : 128; /* echo request */
        } else if (streq(proto, "proto"))
                pkt.l4proto = (uint8_t) atoi(port);
        else
                return NULL;
        if (is_local(h, pkt.family, pkt.daddr))
                hook = PST_HOOK_INPUT;
        else {
                oif = route_dev(h, pkt.family, pkt.daddr);
                if (!oif)
                        return "unreachable";
                hook = PST_HOOK_FORWARD;
                snprintf(pkt.oifname, IFNAMSIZ, "%s", oif);
        }
        if (pst_eval(rs, hook, &pkt, &res) < 0)
                return NULL;
        return res.verdict == PST_V_ACCEPT ? "pass" : "timeout";
}

static int compile(const char *catalog, const char *policy, const struct pst_ifaddrs *ifa,
                   struct pst_compiled **ret) {
        struct pst_load_opts o = { .policy = policy, .catalog = catalog, .ifaddrs = ifa,
                                   .source_flags = pst_source_flags_from_env() };
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        r = pst_load_compile(&o, &d, ret);
        pst_diag_print(&d, stderr);
        pst_diag_clear(&d);
        return r;
}

int main(int argc, char **argv) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        struct pst_ifaddrs ifa = {};
        static struct hut h;
        char line[512], policy[512] = "";
        const char *catalog = argc == 3 && streq(argv[1], "--catalog") ? argv[2] : NULL;
        bool now = false;

        if (!catalog) {
                fprintf(stderr, "usage: eval-probes --catalog FILE < lines\n");
                return 2;
        }
        while (fgets(line, sizeof(line), stdin)) {
                const char *res;

                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, "policy ", 7) == 0)
                        snprintf(policy, sizeof(policy), "%s", line + 7);
                else if (streq(line, "now")) {
                        if (compile(catalog, policy, &ifa, &c) < 0)
                                return 1;
                        now = true;
                } else if (now && strncmp(line, "probe ", 6) == 0) {
                        res = probe(c->ruleset, &h, line + 6);
                        if (!res) {
                                fprintf(stderr, "eval-probes: bad probe or evaluation failed\n");
                                return 1;
                        }
                        printf("%s\n", res);
                } else if (add_line(&h, now ? NULL : &ifa, line) < 0) {
                        fprintf(stderr, "eval-probes: cannot use line \"%s\"\n", line);
                        return 1;
                }
        }
        pst_ifaddrs_clear(&ifa);
        return now ? 0 : 1;
}
