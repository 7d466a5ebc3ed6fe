/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The drop log: NFLOG parsing, the bounded aggregator, posternctl drops' words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <libmnl/libmnl.h>

#include "dropreport.h"
#include "dropstats.h"
#include "nflog.h"
#include "pipeline.h"
#include "sockdiag.h"

#define SEC 1000000ULL

static struct pst_addr addr(const char *s) {
        struct pst_addr a;

        assert_int_equal(pst_addr_parse(s, &a, NULL), 0);
        return a;
}

/* ---- NFLOG messages, as nfnetlink_log builds them ---- */

static size_t put_packet(char *buf, const char *prefix, const uint8_t *payload, size_t plen) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nfgenmsg *nfg;
        struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = 1 };

        nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = AF_INET;
        nfg->res_id = htons(PST_NFLOG_GROUP_DROPS);
        mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
        mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
        mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(7));
        mnl_attr_put(nlh, NFULA_PAYLOAD, plen, payload);
        return nlh->nlmsg_len;
}

static void test_nflog_parse_ipv4(void **state) {
        /* IPv4 (ihl 5), TCP 198.18.0.2:40000 → 198.18.0.1:993 */
        static const uint8_t p[] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1,
                                     0x9c, 0x40, 0x03, 0xe1, 0, 0, 0, 0 };
        char buf[512], a[PST_ADDR_STRLEN];
        struct pst_nflog_pkt pkt;
        size_t n = put_packet(buf, "postern drop: wan", p, sizeof(p));

        assert_int_equal(pst_nflog_parse(buf, n, &pkt), 0);
        assert_int_equal(pkt.group, PST_NFLOG_GROUP_DROPS);
        assert_int_equal(pkt.hook, 1);
        assert_int_equal(pkt.indev, 7);
        assert_string_equal(pkt.prefix, "postern drop: wan");
        assert_int_equal(pkt.family, AF_INET);
        assert_int_equal(pkt.l4proto, IPPROTO_TCP);
        assert_int_equal(pkt.sport, 40000);
        assert_int_equal(pkt.dport, 993);
        assert_string_equal(pst_addr_format(&pkt.saddr, a), "198.18.0.2");
        assert_string_equal(pst_addr_format(&pkt.daddr, a), "198.18.0.1");

        /* cut inside the IP header: reported without addresses, not an error */
        n = put_packet(buf, "x", p, 12);
        assert_int_equal(pst_nflog_parse(buf, n, &pkt), 0);
        assert_int_equal(pkt.family, 0);
        /* the message's own length beyond the buffer */
        n = put_packet(buf, "x", p, sizeof(p));
        assert_int_equal(pst_nflog_parse(buf, n - 4, &pkt), -EBADMSG);
        /* not a packet message */
        ((struct nlmsghdr *) buf)->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
        assert_int_equal(pst_nflog_parse(buf, n, &pkt), -ENOMSG);
}

static void test_nflog_parse_ipv6(void **state) {
        uint8_t p[40 + 8 + 8] = { 0x60 };
        struct pst_nflog_pkt pkt = {};
        char a[PST_ADDR_STRLEN];

        p[6] = IPPROTO_HOPOPTS;
        inet_pton(AF_INET6, "2001:db8::2", p + 8);
        inet_pton(AF_INET6, "2001:db8::1", p + 24);
        p[40] = IPPROTO_UDP; /* hop-by-hop, 8 bytes, then UDP 5353 → 53 */
        p[48] = 0x14, p[49] = 0xe9, p[50] = 0, p[51] = 53;
        assert_int_equal(pst_nflog_parse_ip(p, sizeof(p), &pkt), 0);
        assert_int_equal(pkt.family, AF_INET6);
        assert_int_equal(pkt.l4proto, IPPROTO_UDP);
        assert_int_equal(pkt.dport, 53);
        assert_string_equal(pst_addr_format(&pkt.saddr, a), "2001:db8::2");
        /* the extension header runs past what was copied */
        assert_int_equal(pst_nflog_parse_ip(p, 44, &pkt), -EBADMSG);
        /* a later fragment: the protocol, no ports */
        memset(&pkt, 0, sizeof(pkt));
        p[6] = IPPROTO_FRAGMENT;
        p[40] = IPPROTO_TCP, p[42] = 0x01, p[43] = 0x00;
        assert_int_equal(pst_nflog_parse_ip(p, sizeof(p), &pkt), 0);
        assert_int_equal(pkt.l4proto, IPPROTO_TCP);
        assert_int_equal(pkt.dport, 0);
        assert_int_equal(pst_nflog_parse_ip((const uint8_t[]) { 0x50 }, 1, &pkt), -EBADMSG);
}

/* ---- the aggregator ---- */

static void test_drops_report(void **state) {
        _cleanup_(pst_drops_freep) struct pst_drops *d = NULL;
        _cleanup_free_ struct pst_drop_row *rows = NULL;
        struct pst_addr a = addr("198.18.0.2"), b = addr("198.18.0.3"), c = addr("198.18.9.9");
        char buf[PST_ADDR_STRLEN];
        size_t n;

        assert_int_equal(pst_drops_new(0, 1, &d), 0);
        assert_int_equal(d->cap, PST_DROPS_ENTRIES_DEFAULT);
        for (int i = 0; i < 5; i++)
                pst_drops_add(d, "wan", IPPROTO_TCP, 993, &a, (10 + i) * SEC);
        pst_drops_add(d, "wan", IPPROTO_TCP, 993, &b, 20 * SEC);
        pst_drops_add(d, "wan", IPPROTO_TCP, 993, &c, 30 * SEC); /* another /24 */
        pst_drops_add(d, "lan", IPPROTO_TCP, 993, &a, 40 * SEC);  /* another zone: another row */
        pst_drops_add(d, "wan", IPPROTO_UDP, 993, &a, 5 * SEC);
        assert_int_equal(d->total, 9);

        assert_int_equal(pst_drops_report(d, 0, &rows, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(rows[0].zone, "wan");
        assert_int_equal(rows[0].l4proto, IPPROTO_TCP);
        assert_int_equal(rows[0].count, 7);
        assert_int_equal(rows[0].sources, 3);
        assert_int_equal(rows[0].nprefixes, 2);
        assert_string_equal(pst_addr_format(&rows[0].top, buf), "198.18.0.0/24");
        assert_int_equal(rows[0].first_usec, 10 * SEC);
        assert_int_equal(rows[0].last_usec, 30 * SEC);
        /* one drop each: by zone, then protocol */
        assert_string_equal(rows[1].zone, "lan");
        assert_string_equal(rows[2].zone, "wan");
        assert_int_equal(rows[2].l4proto, IPPROTO_UDP);
        free(TAKE_PTR(rows));

        /* since: entries last seen before it are left out */
        assert_int_equal(pst_drops_report(d, 25 * SEC, &rows, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(rows[0].count, 1); /* the lan row (40 s), then wan's 198.18.9.0/24 entry (30 s) */
        assert_int_equal(rows[0].nprefixes + rows[1].nprefixes, 2);
        free(TAKE_PTR(rows));

        pst_drops_clear(d);
        assert_int_equal(pst_drops_report(d, 0, &rows, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(pst_drops_new(PST_DROPS_ENTRIES_MAX + 1, 0, &(struct pst_drops *) { NULL }), -E2BIG);
}

static struct pst_addr flood_addr(uint32_t i) {
        struct pst_addr a = addr("2001:db8::5");

        a.a[4] = (uint8_t) (i >> 24), a.a[5] = (uint8_t) (i >> 16), a.a[6] = (uint8_t) (i >> 8), a.a[7] = (uint8_t) i;
        return a;
}

/* 100,000 distinct /64s against the default table: it stays at its size,
 * and the entry with many drops outlives them all */
static void test_drops_flood(void **state) {
        _cleanup_(pst_drops_freep) struct pst_drops *d = NULL;
        _cleanup_free_ struct pst_drop_row *rows = NULL;
        struct pst_addr heavy = addr("198.18.0.2");
        uint64_t flooded = 100000;
        size_t n, nprefixes = 0;

        assert_int_equal(pst_drops_new(0, 42, &d), 0);
        for (int i = 0; i < 50; i++)
                pst_drops_add(d, "wan", IPPROTO_TCP, 993, &heavy, (uint64_t) i);
        for (uint32_t i = 0; i < flooded; i++) {
                struct pst_addr a = flood_addr(i);

                pst_drops_add(d, "wan", IPPROTO_UDP, 5000, &a, 100 + i);
        }
        assert_int_equal(d->n, d->cap);
        assert_int_equal(d->total, 50 + flooded);
        assert_int_equal(d->evicted, flooded - (d->cap - 1));
        assert_int_equal(pst_drops_report(d, 0, &rows, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(rows[1].count, 50);
        assert_int_equal(rows[1].l4proto, IPPROTO_TCP);
        for (size_t i = 0; i < n; i++)
                nprefixes += rows[i].nprefixes;
        assert_int_equal(nprefixes, d->cap);
        assert_int_equal(rows[0].count, d->cap - 1);
        assert_int_equal(rows[0].last_usec, 100 + flooded - 1); /* the newest is always there */
}

/* distinct sources: exact while few, within a few per cent up to hundreds */
static void test_drops_sources(void **state) {
        _cleanup_(pst_drops_freep) struct pst_drops *d = NULL;
        _cleanup_free_ struct pst_drop_row *rows = NULL;
        size_t n;

        assert_int_equal(pst_drops_new(16, 7, &d), 0);
        for (int i = 1; i <= 200; i++) {
                struct pst_addr a = addr("198.18.3.0");

                a.a[3] = (uint8_t) i;
                pst_drops_add(d, "", IPPROTO_TCP, 22, &a, 1);
                pst_drops_add(d, "", IPPROTO_TCP, 22, &a, 2); /* the same source twice */
        }
        assert_int_equal(pst_drops_report(d, 0, &rows, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].count, 400);
        assert_in_range(rows[0].sources, 180, 220);
        assert_int_equal(pst_drop_entry_sources(&(struct pst_drop_entry) {}), 0);
}

/* ---- posternctl drops' words ---- */

static struct pst_catalog cat;

static int load_catalog(void **state) {
        const char *path = getenv("POSTERN_CATALOG");
        struct pst_diag d;
        int r;

        if (!path)
                return -1;
        pst_diag_init(&d);
        r = pst_catalog_load(&cat, path, pst_source_flags_from_env(), &d);
        pst_diag_clear(&d);
        return r < 0 ? -1 : 0;
}

static int free_catalog(void **state) {
        pst_catalog_clear(&cat);
        return 0;
}

static struct pst_drop_row row(const char *zone, uint8_t proto, uint16_t port, uint64_t count, uint64_t sources,
                               uint32_t nprefixes, const char *top) {
        struct pst_drop_row r = { .l4proto = proto, .dport = port, .count = count, .sources = sources,
                                  .nprefixes = nprefixes, .first_usec = 1000 * SEC, .last_usec = 1000 * SEC };

        snprintf(r.zone, sizeof(r.zone), "%s", zone);
        if (top)
                r.top = addr(top);
        return r;
}

static void assert_line(const struct pst_drop_row *r, const char *listeners, uint64_t now, const char *want) {
        _cleanup_free_ char *line = pst_drop_line(r, &cat, listeners, now);

        assert_non_null(line);
        assert_string_equal(line, want);
}

static void test_drop_words(void **state) {
        struct pst_drop_row r = row("wan", IPPROTO_TCP, 993, 312, 41, 9, "198.18.0.0/24");

        assert_line(&r, "dovecot listens on *:993", 1120 * SEC,
                    "tcp/993 (imaps): 312 drops from zone wan, 41 sources, last 2 min ago — dovecot listens on "
                    "*:993 — add: { allow = \"imaps\"; from = \"wan\"; }");
        /* nothing listens: a scan, no rule suggested */
        assert_line(&r, "", 1000 * SEC,
                    "tcp/993 (imaps): 312 drops from zone wan, 41 sources, last 0 s ago — nothing listens on it");
        /* ldap has udp/389 too: the suggestion keeps it closed */
        r = row("lan", IPPROTO_TCP, 389, 1, 1, 1, "198.18.1.0/24");
        assert_line(&r, "slapd listens on 198.18.0.1:389", 1000 * SEC + 3 * 3600 * SEC,
                    "tcp/389 (ldap): 1 drop from zone lan, 1 source, last 3 h ago — slapd listens on "
                    "198.18.0.1:389 — add: { allow = \"ldap/tcp\"; from = \"lan\"; }");
        /* no catalog service of exactly that port; no zone, one network */
        r = row("", IPPROTO_TCP, 2222, 4, 2, 1, "198.18.7.0/24");
        assert_line(&r, "sshd listens on *:2222", 1000 * SEC + 3 * 86400 * SEC,
                    "tcp/2222: 4 drops from 198.18.7.0/24, 2 sources, last 3 d ago — sshd listens on *:2222 — "
                    "add: { allow = \"tcp/2222\"; from = \"198.18.7.0/24\"; }");
        /* no zone, several networks: "any", spelled out */
        r = row("", IPPROTO_UDP, 5353, 9, 9, 3, "2001:db8:1::/64");
        assert_line(&r, "something listens on [2001:db8::1]:5353", 1000 * SEC,
                    "udp/5353: 9 drops from 3 networks, 9 sources, last 0 s ago — something listens on "
                    "[2001:db8::1]:5353 — add: { allow = \"udp/5353\"; from = \"any\"; }");
        /* no ports: no listener, no suggestion */
        r = row("wan", IPPROTO_ESP, 0, 2, 1, 1, "198.18.0.0/24");
        assert_line(&r, NULL, 1000 * SEC, "proto/esp: 2 drops from zone wan, 1 source, last 0 s ago");
}

static void test_duration(void **state) {
        uint64_t v;

        assert_int_equal(pst_duration_parse("90", &v), 0);
        assert_int_equal(v, 90 * SEC);
        assert_int_equal(pst_duration_parse("15m", &v), 0);
        assert_int_equal(v, 900 * SEC);
        assert_int_equal(pst_duration_parse("2h", &v), 0);
        assert_int_equal(v, 7200 * SEC);
        assert_int_equal(pst_duration_parse("7d", &v), 0);
        assert_int_equal(v, 7 * 86400 * SEC);
        assert_int_equal(pst_duration_parse("367d", &v), -ERANGE);
        assert_int_equal(pst_duration_parse("99999999999999999999", &v), -ERANGE);
        assert_int_equal(pst_duration_parse("1x", &v), -EINVAL);
        assert_int_equal(pst_duration_parse("1hh", &v), -EINVAL);
        assert_int_equal(pst_duration_parse("-1", &v), -EINVAL);
        assert_int_equal(pst_duration_parse("", &v), -EINVAL);
}

static void test_listeners_describe(void **state) {
        struct pst_listener v[] = {
                { .l4proto = IPPROTO_TCP, .port = 993, .addr = addr("0.0.0.0"), .comm = "dovecot" },
                { .l4proto = IPPROTO_TCP, .port = 993, .addr = addr("::"), .comm = "dovecot" },
                { .l4proto = IPPROTO_UDP, .port = 993, .addr = addr("0.0.0.0"), .comm = "other" },
                { .l4proto = IPPROTO_TCP, .port = 53, .addr = addr("198.18.0.1") },
                { .l4proto = IPPROTO_TCP, .port = 53, .addr = addr("2001:db8::1"), .comm = "named" },
        };
        struct pst_listeners l = { .n = ELEMENTSOF(v), .v = v };
        char buf[256];

        pst_listeners_describe(&l, IPPROTO_TCP, 993, buf, sizeof(buf));
        assert_string_equal(buf, "dovecot listens on *:993");
        pst_listeners_describe(&l, IPPROTO_TCP, 53, buf, sizeof(buf));
        assert_string_equal(buf, "something listens on 198.18.0.1:53, named listens on [2001:db8::1]:53");
        pst_listeners_describe(&l, IPPROTO_UDP, 53, buf, sizeof(buf));
        assert_string_equal(buf, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nflog_parse_ipv4),
                cmocka_unit_test(test_nflog_parse_ipv6),
                cmocka_unit_test(test_drops_report),
                cmocka_unit_test(test_drops_flood),
                cmocka_unit_test(test_drops_sources),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_listeners_describe),
        };
        const struct CMUnitTest words[] = {
                cmocka_unit_test(test_drop_words),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);

        return r + cmocka_run_group_tests(words, load_catalog, free_catalog);
}
