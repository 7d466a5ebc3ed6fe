/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A planned ipset in ipset's own words: the `ipset restore` lines that
 * create and fill it, and how many kernel entries that makes.  Pure: the
 * tool is run by iptc.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "iptc-internal.h"

static unsigned trailing_zero_bits(const uint8_t *a, unsigned len) {
        unsigned n = 0;

        for (unsigned i = len; i-- > 0;) {
                if (a[i] == 0) {
                        n += 8;
                        continue;
                }
                return n + (unsigned) __builtin_ctz(a[i]);
        }
        return n;
}

/*
 * [first, last] as the fewest networks, for ipset (hash types take
 * networks, and IPv6 ones no ranges).  A /0 is two /1: hash:net refuses a
 * zero prefix length.
 */
typedef void (*net_fn)(const uint8_t *addr, unsigned plen, void *userdata);

static void split_range(const uint8_t *first, const uint8_t *last, unsigned len, net_fn fn, void *userdata) {
        unsigned bits = len * 8;
        uint8_t cur[16], end[16];

        memcpy(cur, first, len);
        for (unsigned guard = 0; guard < 2 * bits + 2; guard++) {
                unsigned k = MIN(trailing_zero_bits(cur, len), bits);

                for (;; k--) {
                        memcpy(end, cur, len);
                        for (unsigned b = 0; b < k; b++)
                                end[len - 1 - b / 8] |= (uint8_t) (1u << (b % 8));
                        if (memcmp(end, last, len) <= 0 || k == 0)
                                break;
                }
                if (k == bits) {
                        uint8_t half[16] = {};

                        fn(half, 1, userdata);
                        half[0] = 0x80;
                        fn(half, 1, userdata);
                } else
                        fn(cur, bits - k, userdata);
                if (memcmp(end, last, len) >= 0)
                        break;
                memcpy(cur, end, len);
                pst_key_inc(cur, len);
        }
}

static void count_net(const uint8_t *addr, unsigned plen, void *userdata) {
        (*(uint64_t *) userdata)++;
}

static unsigned port_at(const uint8_t *key) {
        return (unsigned) key[0] << 8 | key[1];
}

uint64_t iptc_set_entries(const struct pst_set *ir, const struct xset *s) {
        unsigned len = iptc_addr_len(s->xf), aoff = (len + 3) & ~3u;
        uint64_t entries = 0;

        for (size_t i = 0; i < ir->n; i++) {
                const uint8_t *first = pst_set_first(ir, i), *last = pst_set_last(ir, i);
                uint64_t nets = 0, ports = 1;

                if (s->type == XS_NET)
                        split_range(first, last, len, count_net, &nets);
                else {
                        split_range(s->ip_is_dst ? first : first + aoff, s->ip_is_dst ? last : last + aoff, len,
                                    count_net, &nets);
                        ports = (uint64_t) (port_at(last + 2 * aoff) - port_at(first + 2 * aoff)) + 1;
                }
                entries += nets * ports;
        }
        return entries;
}

struct set_text_ctx {
        FILE *f;
        const char *prefix; /* "add NAME " or "add NAME IP,tcp:P," */
        int af;
};

static void print_net(const uint8_t *addr, unsigned plen, void *userdata) {
        struct set_text_ctx *c = userdata;
        char buf[INET6_ADDRSTRLEN];

        inet_ntop(c->af, addr, buf, sizeof(buf));
        if (plen == (c->af == AF_INET ? 32u : 128u))
                fprintf(c->f, "%s%s\n", c->prefix, buf);
        else
                fprintf(c->f, "%s%s/%u\n", c->prefix, buf, plen);
}

void iptc_set_create_args(const struct xset *s, FILE *f) {
        uint64_t maxelem = MAX(s->entries, 65536), hashsize = 1024;

        while (hashsize < s->entries / 4 && hashsize < (1u << 20))
                hashsize <<= 1;
        fprintf(f, "%s family %s hashsize %llu maxelem %llu", s->type == XS_NET ? "hash:net" : "hash:ip,port,net",
                s->xf == XF_4 ? "inet" : "inet6", (unsigned long long) hashsize, (unsigned long long) maxelem);
}

void iptc_set_text(const struct iptc_plan *p, const struct xset *s, const char *name, bool flush, FILE *f) {
        const struct pst_set *ir = &p->rs->sets[s->irset];
        unsigned len = iptc_addr_len(s->xf), aoff = (len + 3) & ~3u;
        struct set_text_ctx c = { .f = f, .af = s->xf == XF_4 ? AF_INET : AF_INET6 };
        char prefix[128];

        fprintf(f, "create %s ", name);
        iptc_set_create_args(s, f);
        fputs("\n", f);
        if (flush)
                fprintf(f, "flush %s\n", name);
        for (size_t i = 0; i < ir->n; i++) {
                const uint8_t *first = pst_set_first(ir, i), *last = pst_set_last(ir, i);

                if (s->type == XS_NET) {
                        snprintf(prefix, sizeof(prefix), "add %s ", name);
                        c.prefix = prefix;
                        split_range(first, last, len, print_net, &c);
                } else {
                        /* the host side is single: first == last there */
                        const uint8_t *host = s->ip_is_dst ? first + aoff : first;
                        const uint8_t *nf = s->ip_is_dst ? first : first + aoff;
                        const uint8_t *nl = s->ip_is_dst ? last : last + aoff;
                        unsigned pf = port_at(first + 2 * aoff), pl = port_at(last + 2 * aoff);
                        char hbuf[INET6_ADDRSTRLEN], ports[16];

                        inet_ntop(c.af, host, hbuf, sizeof(hbuf));
                        if (pf == pl)
                                snprintf(ports, sizeof(ports), "%u", pf);
                        else
                                snprintf(ports, sizeof(ports), "%u-%u", pf, pl);
                        snprintf(prefix, sizeof(prefix), "add %s %s,%s:%s,", name, hbuf,
                                 s->proto == IPPROTO_TCP ? "tcp" : "udp", ports);
                        c.prefix = prefix;
                        split_range(nf, nl, len, print_net, &c);
                }
        }
}
