/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Hand-made rulesets for the nf_tables backend tests, shared by the unit
 * test (tests/unit/test-nft.c, no kernel) and the kernel differential test
 * (tests/kernel/nft-diff.c).  sample_full() is written in nft syntax in
 * tests/kernel/nft-diff-full.nft: keep the two in step.
 */

#include <arpa/inet.h>
#include <netinet/in.h>

#include "ir.h"

#define SAMPLE_FILE "sample.conf"

/* set indices in sample_full() */
enum {
        S_NETS4,
        S_NETS6,
        S_T4,
        S_IFA,
        S_CTMAP,
        S_IFMAP,
        S_TCP,
        S_ICMP6,
        S_L4,
        S_MAIL,
        S_UDP,
        _S_MAX,
};

/* chain indices */
enum { C_INPUT, C_FORWARD, C_IN_WAN, C_IN_LAN, C_RANGES };

static inline void key_ip4(uint8_t *k, const char *a) {
        if (inet_pton(AF_INET, a, k) != 1)
                abort();
}

static inline void key_ip6(uint8_t *k, const char *a) {
        if (inet_pton(AF_INET6, a, k) != 1)
                abort();
}

static inline void key_port(uint8_t *k, uint16_t p) {
        k[0] = (uint8_t) (p >> 8);
        k[1] = (uint8_t) p;
}

/* [first, last] of a prefix, klen bytes (4 or 16) */
static inline void key_prefix(uint8_t *first, uint8_t *last, unsigned klen, unsigned plen) {
        memcpy(last, first, klen);
        for (unsigned bit = plen; bit < klen * 8; bit++) {
                first[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
                last[bit / 8] |= (uint8_t) (0x80u >> (bit % 8));
        }
}

static inline void sample_add4(struct pst_ruleset *rs, uint32_t si, const char *addr, unsigned plen) {
        uint8_t f[PST_KEY_MAX] = {}, l[PST_KEY_MAX] = {};

        key_ip4(f, addr);
        key_prefix(f, l, 4, plen);
        if (pst_set_add_elem(&rs->sets[si], f, l, NULL) < 0)
                abort();
}

static inline void sample_add6(struct pst_ruleset *rs, uint32_t si, const char *addr, unsigned plen) {
        uint8_t f[PST_KEY_MAX] = {}, l[PST_KEY_MAX] = {};

        key_ip6(f, addr);
        key_prefix(f, l, 16, plen);
        if (pst_set_add_elem(&rs->sets[si], f, l, NULL) < 0)
                abort();
}

static inline void sample_add_ports(struct pst_ruleset *rs, uint32_t si, uint16_t lo, uint16_t hi) {
        uint8_t f[PST_KEY_MAX] = {}, l[PST_KEY_MAX] = {};

        key_port(f, lo);
        key_port(l, hi);
        if (pst_set_add_elem(&rs->sets[si], f, l, NULL) < 0)
                abort();
}

static inline void sample_add_byte(struct pst_ruleset *rs, uint32_t si, uint8_t v, const struct pst_verdict *d) {
        uint8_t k[PST_KEY_MAX] = { v };

        if (pst_set_add_elem(&rs->sets[si], k, NULL, d) < 0)
                abort();
}

static inline uint32_t sample_set(struct pst_ruleset *rs, const char *name, uint32_t flags, unsigned line,
                                  unsigned n, enum pst_field f0, enum pst_field f1, enum pst_field f2) {
        enum pst_field fields[3] = { f0, f1, f2 };
        uint32_t idx, file;

        if (pst_set_add(rs, name, flags, fields, n, &idx) < 0 || pst_ruleset_file(rs, SAMPLE_FILE, &file) < 0)
                abort();
        rs->sets[idx].origin = (struct pst_origin) { file, line };
        return idx;
}

static inline void sample_rule(struct pst_ruleset *rs, uint32_t chain, struct pst_rule *r, unsigned line) {
        uint32_t file;

        if (pst_ruleset_file(rs, SAMPLE_FILE, &file) < 0)
                abort();
        r->origin = (struct pst_origin) { file, line };
        if (pst_rule_add(rs, chain, r) < 0)
                abort();
}

static inline struct pst_ruleset *sample_full(void) {
        struct pst_ruleset *rs;
        uint8_t f[PST_KEY_MAX], l[PST_KEY_MAX];
        struct pst_rule r;
        uint32_t idx;

        if (pst_ruleset_new(&rs) < 0)
                abort();
        if (pst_chain_add(rs, "input", PST_HOOK_INPUT, PST_V_DROP, &idx) < 0 || idx != C_INPUT ||
            pst_chain_add(rs, "forward", PST_HOOK_FORWARD, PST_V_DROP, &idx) < 0 || idx != C_FORWARD ||
            pst_chain_add(rs, "in_wan", PST_HOOK_NONE, PST_V_NONE, &idx) < 0 || idx != C_IN_WAN ||
            pst_chain_add(rs, "in_lan", PST_HOOK_NONE, PST_V_NONE, &idx) < 0 || idx != C_IN_LAN ||
            pst_chain_add(rs, "ranges", PST_HOOK_NONE, PST_V_NONE, &idx) < 0 || idx != C_RANGES)
                abort();

        /* named sets */
        if (sample_set(rs, "nets4", PST_SET_INTERVAL, 10, 1, PST_F_IP_SADDR, 0, 0) != S_NETS4 ||
            sample_set(rs, "nets6", PST_SET_INTERVAL, 11, 1, PST_F_IP6_SADDR, 0, 0) != S_NETS6 ||
            sample_set(rs, "t4", PST_SET_INTERVAL, 12, 3, PST_F_IP_SADDR, PST_F_IP_DADDR, PST_F_TCP_DPORT) != S_T4 ||
            sample_set(rs, "ifa_ppp0_v4", PST_SET_DYNAMIC, 13, 1, PST_F_IP_DADDR, 0, 0) != S_IFA)
                abort();
        /* anonymous sets, in the order of the rules that use them */
        if (sample_set(rs, "", PST_SET_ANON | PST_SET_MAP, 20, 1, PST_F_CT_STATE, 0, 0) != S_CTMAP ||
            sample_set(rs, "", PST_SET_ANON | PST_SET_MAP | PST_SET_INTERVAL, 23, 1, PST_F_IIFNAME, 0, 0) != S_IFMAP ||
            sample_set(rs, "", PST_SET_ANON | PST_SET_INTERVAL, 24, 1, PST_F_TCP_DPORT, 0, 0) != S_TCP ||
            sample_set(rs, "", PST_SET_ANON, 22, 1, PST_F_ICMP6_TYPE, 0, 0) != S_ICMP6 ||
            sample_set(rs, "", PST_SET_ANON, 25, 1, PST_F_L4PROTO, 0, 0) != S_L4 ||
            sample_set(rs, "", PST_SET_ANON, 40, 1, PST_F_TCP_DPORT, 0, 0) != S_MAIL ||
            sample_set(rs, "", PST_SET_ANON | PST_SET_INTERVAL, 27, 1, PST_F_UDP_DPORT, 0, 0) != S_UDP)
                abort();

        strcpy(rs->sets[S_NETS4].comment, "lan networks");
        sample_add4(rs, S_NETS4, "10.0.0.0", 8);
        sample_add4(rs, S_NETS4, "198.18.0.0", 24);
        sample_add4(rs, S_NETS4, "198.18.5.5", 32);
        /* adjacent ranges in a named set stay two elements (as nft keeps them) */
        sample_add4(rs, S_NETS4, "198.18.6.0", 24);
        sample_add4(rs, S_NETS4, "198.18.7.0", 24);

        sample_add6(rs, S_NETS6, "2001:db8::", 48);
        sample_add6(rs, S_NETS6, "2001:db8:ff::1", 128);

        memset(f, 0, sizeof(f));
        memset(l, 0, sizeof(l));
        key_ip4(f, "198.18.0.0");
        key_ip4(l, "198.18.0.255");
        key_ip4(f + 4, "198.18.1.1");
        key_ip4(l + 4, "198.18.1.1");
        key_port(f + 8, 25);
        key_port(l + 8, 25);
        if (pst_set_add_elem(&rs->sets[S_T4], f, l, NULL) < 0)
                abort();
        memset(f, 0, sizeof(f));
        memset(l, 0, sizeof(l));
        key_ip4(f, "198.18.2.0");
        key_ip4(l, "198.18.2.255");
        key_ip4(f + 4, "198.18.1.2");
        key_ip4(l + 4, "198.18.1.2");
        key_port(f + 8, 1024);
        key_port(l + 8, 2000);
        if (pst_set_add_elem(&rs->sets[S_T4], f, l, NULL) < 0)
                abort();

        strcpy(rs->sets[S_IFA].ifname, "ppp0");
        sample_add4(rs, S_IFA, "198.18.9.1", 32);

        /* ct state: host byte order bitmask */
        {
                struct pst_verdict drop = { PST_V_DROP, 0 }, acc = { PST_V_ACCEPT, 0 };
                uint32_t st;

                memset(f, 0, sizeof(f));
                st = 1; /* invalid */
                memcpy(f, &st, 4);
                if (pst_set_add_elem(&rs->sets[S_CTMAP], f, NULL, &drop) < 0)
                        abort();
                st = 2; /* established */
                memcpy(f, &st, 4);
                if (pst_set_add_elem(&rs->sets[S_CTMAP], f, NULL, &acc) < 0)
                        abort();
                st = 4; /* related */
                memcpy(f, &st, 4);
                if (pst_set_add_elem(&rs->sets[S_CTMAP], f, NULL, &acc) < 0)
                        abort();
        }
        /* iifname vmap: exact "eth1", wildcard "ppp*" */
        {
                struct pst_verdict lan = { PST_V_JUMP, C_IN_LAN }, wan = { PST_V_JUMP, C_IN_WAN };

                memset(f, 0, sizeof(f));
                strcpy((char *) f, "eth1");
                if (pst_set_add_elem(&rs->sets[S_IFMAP], f, NULL, &lan) < 0)
                        abort();
                memset(f, 0, sizeof(f));
                memset(l, 0xff, IFNAMSIZ);
                memset(l + IFNAMSIZ, 0, sizeof(l) - IFNAMSIZ);
                memcpy(f, "ppp", 3);
                memcpy(l, "ppp", 3);
                if (pst_set_add_elem(&rs->sets[S_IFMAP], f, l, &wan) < 0)
                        abort();
        }
        sample_add_ports(rs, S_TCP, 22, 22);
        sample_add_ports(rs, S_TCP, 25, 25);
        sample_add_ports(rs, S_TCP, 1024, 2000);
        sample_add_byte(rs, S_ICMP6, 134, NULL); /* nd-router-advert */
        sample_add_byte(rs, S_ICMP6, 135, NULL); /* nd-neighbor-solicit */
        sample_add_byte(rs, S_ICMP6, 136, NULL); /* nd-neighbor-advert */
        sample_add_byte(rs, S_L4, IPPROTO_ESP, NULL);
        sample_add_byte(rs, S_L4, IPPROTO_AH, NULL);
        sample_add_ports(rs, S_MAIL, 25, 25);
        sample_add_ports(rs, S_MAIL, 110, 110);
        /* runs to the end of the key space: no end element */
        sample_add_ports(rs, S_UDP, 53, 53);
        sample_add_ports(rs, S_UDP, 60000, 65535);

        /* chain input */
        r = (struct pst_rule) { .nmatch = 1 };
        r.match[0] = (struct pst_match) { .op = PST_M_VMAP, .nfields = 1, .fields = { PST_F_CT_STATE }, .set = S_CTMAP };
        sample_rule(rs, C_INPUT, &r, 20);

        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT } };
        memset(f, 0, sizeof(f));
        strcpy((char *) f, "lo");
        pst_match_eq(&r.match[0], PST_F_IIFNAME, f, false);
        sample_rule(rs, C_INPUT, &r, 21);

        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT } };
        pst_match_set(&r.match[0], PST_F_ICMP6_TYPE, S_ICMP6);
        sample_rule(rs, C_INPUT, &r, 22);

        r = (struct pst_rule) { .nmatch = 1 };
        r.match[0] = (struct pst_match) { .op = PST_M_VMAP, .nfields = 1, .fields = { PST_F_IIFNAME }, .set = S_IFMAP };
        sample_rule(rs, C_INPUT, &r, 23);

        r = (struct pst_rule) { .nmatch = 1, .counter = true, .verdict = { PST_V_ACCEPT } };
        pst_match_set(&r.match[0], PST_F_TCP_DPORT, S_TCP);
        sample_rule(rs, C_INPUT, &r, 24);

        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT } };
        pst_match_set(&r.match[0], PST_F_L4PROTO, S_L4);
        sample_rule(rs, C_INPUT, &r, 25);

        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT } };
        r.match[0] = (struct pst_match) { .op = PST_M_SET, .nfields = 3,
                                          .fields = { PST_F_IP_SADDR, PST_F_IP_DADDR, PST_F_TCP_DPORT }, .set = S_T4 };
        sample_rule(rs, C_INPUT, &r, 26);

        r = (struct pst_rule) { .nmatch = 2, .verdict = { PST_V_ACCEPT } };
        pst_match_set(&r.match[0], PST_F_IP6_SADDR, S_NETS6);
        pst_match_set(&r.match[1], PST_F_UDP_DPORT, S_UDP);
        strcpy(r.comment, "v6 dns");
        sample_rule(rs, C_INPUT, &r, 27);

        r = (struct pst_rule) { .nmatch = 3, .counter = true, .verdict = { PST_V_ACCEPT } };
        memset(f, 0, sizeof(f));
        strcpy((char *) f, "eth0");
        pst_match_eq(&r.match[0], PST_F_IIFNAME, f, true);
        memset(f, 0, sizeof(f));
        key_ip4(f, "198.18.0.1");
        pst_match_eq(&r.match[1], PST_F_IP_SADDR, f, false);
        memset(f, 0, sizeof(f));
        f[0] = 8; /* echo-request */
        pst_match_eq(&r.match[2], PST_F_ICMP_TYPE, f, false);
        sample_rule(rs, C_INPUT, &r, 28);

        r = (struct pst_rule) { .limit_per_minute = 5 };
        strcpy(r.log_prefix, "postern drop: ");
        sample_rule(rs, C_INPUT, &r, 29);

        /* chain forward */
        r = (struct pst_rule) { .nmatch = 2, .verdict = { PST_V_GOTO, C_IN_LAN } };
        pst_match_set(&r.match[0], PST_F_IP_SADDR, S_NETS4);
        memset(f, 0, sizeof(f));
        strcpy((char *) f, "eth1");
        pst_match_eq(&r.match[1], PST_F_OIFNAME, f, false);
        sample_rule(rs, C_FORWARD, &r, 35);

        /* regular chains */
        r = (struct pst_rule) { .nmatch = 2, .verdict = { PST_V_ACCEPT } };
        pst_match_set(&r.match[0], PST_F_IP_DADDR, S_IFA);
        pst_match_set(&r.match[1], PST_F_TCP_DPORT, S_MAIL);
        strcpy(r.comment, "mail");
        sample_rule(rs, C_IN_WAN, &r, 40);

        r = (struct pst_rule) { .nmatch = 2, .verdict = { PST_V_ACCEPT } };
        pst_match_set(&r.match[0], PST_F_IP_SADDR, S_NETS4);
        memset(f, 0, sizeof(f));
        key_port(f, 53);
        pst_match_eq(&r.match[1], PST_F_UDP_DPORT, f, false);
        sample_rule(rs, C_IN_LAN, &r, 45);

        r = (struct pst_rule) { .verdict = { PST_V_RETURN } };
        sample_rule(rs, C_IN_LAN, &r, 46);

        /* one-element ranges (PST_M_RANGE): prefixes, a wildcard, port and address ranges */
        {
                static const struct {
                        enum pst_field f;
                        const char *a;
                        unsigned plen;
                } nets[] = {
                        { PST_F_IP_SADDR, "198.18.4.0", 24 },    { PST_F_IP_SADDR, "198.18.4.0", 23 },
                        { PST_F_IP6_SADDR, "2001:db8:4::", 64 }, { PST_F_IP6_SADDR, "2001:db8:4::", 63 },
                        { PST_F_IP_DADDR, "0.0.0.0", 0 },
                };

                for (unsigned i = 0; i < ELEMENTSOF(nets); i++) {
                        unsigned len = pst_field_info(nets[i].f)->len;

                        memset(f, 0, sizeof(f));
                        if (len == 4)
                                key_ip4(f, nets[i].a);
                        else
                                key_ip6(f, nets[i].a);
                        key_prefix(f, l, len, nets[i].plen);
                        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT } };
                        pst_match_range(&r.match[0], nets[i].f, f, l);
                        if (i == 2) {
                                /* and iifname "ppp*" */
                                uint8_t wf[PST_KEY_MAX] = "ppp", wl[PST_KEY_MAX] = "ppp";

                                memset(wl + 3, 0xff, IFNAMSIZ - 3);
                                pst_match_range(&r.match[1], PST_F_IIFNAME, wf, wl);
                                r.nmatch = 2;
                        }
                        sample_rule(rs, C_RANGES, &r, 50 + i);
                }
                memset(f, 0, sizeof(f));
                memset(l, 0, sizeof(l));
                key_port(f, 1024);
                key_port(l, 2000);
                r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_DROP } };
                pst_match_range(&r.match[0], PST_F_TCP_DPORT, f, l);
                sample_rule(rs, C_RANGES, &r, 56);
                key_ip4(f, "198.18.0.10");
                key_ip4(l, "198.18.0.20");
                r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT } };
                pst_match_range(&r.match[0], PST_F_IP_DADDR, f, l);
                sample_rule(rs, C_RANGES, &r, 57);
        }

        return rs;
}

/* A ruleset the kernel refuses: two overlapping ranges in a concatenated
 * interval set, which only the kernel (pipapo) checks. */
static inline struct pst_ruleset *sample_bad(void) {
        struct pst_ruleset *rs = sample_full();
        uint8_t f[PST_KEY_MAX] = {}, l[PST_KEY_MAX] = {};

        key_ip4(f, "198.18.0.128");
        key_ip4(l, "198.18.0.200");
        key_ip4(f + 4, "198.18.1.1");
        key_ip4(l + 4, "198.18.1.1");
        key_port(f + 8, 25);
        key_port(l + 8, 30);
        if (pst_set_add_elem(&rs->sets[S_T4], f, l, NULL) < 0)
                abort();
        return rs;
}
