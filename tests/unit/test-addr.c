/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Addresses, ports, interface names and IR set normalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "ir.h"

static void test_addr_parse(void **state) {
        struct pst_addr a;
        char buf[PST_ADDR_STRLEN];
        bool hb;

        assert_int_equal(pst_addr_parse("198.18.0.0/15", &a, &hb), 0);
        assert_int_equal(a.family, AF_INET);
        assert_int_equal(a.prefixlen, 15);
        assert_string_equal(pst_addr_format(&a, buf), "198.18.0.0/15");
        assert_int_equal(pst_addr_parse("2001:db8::1", &a, NULL), 0);
        assert_int_equal(a.prefixlen, 128);
        assert_string_equal(pst_addr_format(&a, buf), "2001:db8::1");

        assert_int_equal(pst_addr_parse("198.18.1.5/24", &a, &hb), -EINVAL);
        assert_true(hb);
        assert_string_equal(pst_addr_format(&a, buf), "198.18.1.0/24");
        assert_int_equal(pst_addr_parse("198.18.1.0/33", &a, &hb), -ERANGE);
        assert_int_equal(pst_addr_parse("2001:db8::/129", &a, &hb), -ERANGE);
        assert_int_equal(pst_addr_parse("300.1.1.1", &a, &hb), -EINVAL);
        assert_int_equal(pst_addr_parse("198.18.0.0/", &a, &hb), -EINVAL);
        assert_int_equal(pst_addr_parse("198.18.0.0/+8", &a, &hb), -EINVAL);
        assert_int_equal(pst_addr_parse("", &a, &hb), -EINVAL);
}

static void test_addr_range(void **state) {
        struct pst_addr a;
        uint8_t first[16], last[16];

        assert_int_equal(pst_addr_parse("198.18.4.0/22", &a, NULL), 0);
        pst_addr_range(&a, first, last);
        assert_memory_equal(first, ((uint8_t[]) { 198, 18, 4, 0 }), 4);
        assert_memory_equal(last, ((uint8_t[]) { 198, 18, 7, 255 }), 4);
}

static void test_ports(void **state) {
        struct pst_portrange p;

        assert_int_equal(pst_portrange_parse("25", &p), 0);
        assert_int_equal(p.first, 25);
        assert_int_equal(p.last, 25);
        assert_int_equal(pst_portrange_parse("1024-2000", &p), 0);
        assert_int_equal(p.first, 1024);
        assert_int_equal(p.last, 2000);
        assert_int_equal(pst_portrange_parse("65535", &p), 0);
        assert_int_equal(pst_portrange_parse("2000-1024", &p), -EDOM);
        assert_int_equal(pst_portrange_parse("0", &p), -ERANGE);
        assert_int_equal(pst_portrange_parse("65536", &p), -ERANGE);
        assert_int_equal(pst_portrange_parse("25,26", &p), -EINVAL);
        assert_int_equal(pst_portrange_parse("-1", &p), -EINVAL);
        assert_int_equal(pst_portrange_parse("", &p), -EINVAL);
}

static void test_ifnames(void **state) {
        char n[16];
        bool w;

        assert_int_equal(pst_ifname_parse("ppp+", n, &w), 0);
        assert_true(w);
        assert_string_equal(n, "ppp*");
        assert_int_equal(pst_ifname_parse("eth0.100", n, &w), 0);
        assert_false(w);
        assert_int_equal(pst_ifname_parse("p+p", n, &w), -EINVAL);
        assert_int_equal(pst_ifname_parse("+", n, &w), -EINVAL);
        assert_int_equal(pst_ifname_parse("eth/0", n, &w), -EINVAL);
        assert_int_equal(pst_ifname_parse("0123456789abcdef", n, &w), -EINVAL);
        assert_int_equal(pst_ifname_parse("..", n, &w), -EINVAL);
}

/* Overlapping and adjacent ranges merge; plain sets drop duplicates. */
static void test_set_normalize(void **state) {
        struct pst_ruleset *rs;
        enum pst_field f = PST_F_TCP_DPORT;
        uint32_t idx;
        struct pst_set *s;
        static const uint16_t ranges[][2] = { { 30, 40 }, { 22, 22 }, { 23, 23 }, { 35, 50 }, { 100, 100 }, { 22, 22 } };

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_set_add(rs, "p", PST_SET_INTERVAL, &f, 1, &idx), 0);
        s = &rs->sets[idx];
        assert_int_equal(s->klen, 4);
        for (size_t i = 0; i < ELEMENTSOF(ranges); i++) {
                uint8_t a[4] = { ranges[i][0] >> 8, ranges[i][0] & 0xff }, b[4] = { ranges[i][1] >> 8, ranges[i][1] & 0xff };

                assert_int_equal(pst_set_add_elem(s, a, b, NULL), 0);
        }
        assert_int_equal(pst_set_normalize(s), 0);
        assert_int_equal(s->n, 3); /* 22-23, 30-50, 100 */
        assert_int_equal(pst_set_first(s, 0)[1], 22);
        assert_int_equal(pst_set_last(s, 0)[1], 23);
        assert_int_equal(pst_set_first(s, 1)[1], 30);
        assert_int_equal(pst_set_last(s, 1)[1], 50);
        assert_int_equal(pst_set_first(s, 2)[1], 100);

        /* a map refuses overlapping keys */
        f = PST_F_IIFNAME;
        assert_int_equal(pst_set_add(rs, "m", PST_SET_MAP | PST_SET_INTERVAL, &f, 1, &idx), 0);
        s = &rs->sets[idx];
        {
                uint8_t a[16] = "ppp", b[16] = "ppp", c[16] = "ppp0";

                memset(b + 3, 0xff, 13);
                assert_int_equal(pst_set_add_elem(s, a, b, &(struct pst_verdict) { PST_V_ACCEPT, 0 }), 0);
                assert_int_equal(pst_set_add_elem(s, c, c, &(struct pst_verdict) { PST_V_DROP, 0 }), 0);
        }
        assert_int_equal(pst_set_normalize(s), -EEXIST);
        pst_ruleset_free(rs);
}

/* IPv4 lists take merge4()'s path: the same merges as the bytewise loop,
 * including the top of the address space; pst_set_disjoint4() agrees. */
static void add4(struct pst_set *s, uint32_t first, uint32_t last) {
        uint32_t x = htobe32(first), y = htobe32(last);
        uint8_t a[4], b[4];

        memcpy(a, &x, 4);
        memcpy(b, &y, 4);
        assert_int_equal(pst_set_add_elem(s, a, b, NULL), 0);
}

static void test_set_normalize4(void **state) {
        struct pst_ruleset *rs;
        enum pst_field f = PST_F_IP_SADDR;
        uint32_t idx;
        struct pst_set *s;

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_set_add(rs, "i", PST_SET_INTERVAL, &f, 1, &idx), 0);
        s = &rs->sets[idx];
        add4(s, 0xc6120010, 0xc612001f); /* adjacent: 198.18.0.0-31 */
        add4(s, 0xc6120000, 0xc612000f);
        add4(s, 0xc6120100, 0xc6120100); /* duplicate */
        add4(s, 0xc6120100, 0xc6120100);
        add4(s, 0xc6130000, 0xc61300ff); /* overlapping: 198.19.0.0-1.128 */
        add4(s, 0xc6130080, 0xc6130180);
        add4(s, 0xfffffff0, 0xffffffff); /* adjacent at the top */
        add4(s, 0xffffff00, 0xffffffef);
        assert_false(pst_set_strictly_sorted(s, 0, s->n));
        assert_false(pst_set_disjoint4(s));
        assert_int_equal(pst_set_normalize(s), 0);
        assert_int_equal(s->n, 4);
        assert_memory_equal(pst_set_first(s, 0), ((uint8_t[]) { 198, 18, 0, 0 }), 4);
        assert_memory_equal(pst_set_last(s, 0), ((uint8_t[]) { 198, 18, 0, 31 }), 4);
        assert_memory_equal(pst_set_first(s, 1), ((uint8_t[]) { 198, 18, 1, 0 }), 4);
        assert_memory_equal(pst_set_last(s, 1), ((uint8_t[]) { 198, 18, 1, 0 }), 4);
        assert_memory_equal(pst_set_first(s, 2), ((uint8_t[]) { 198, 19, 0, 0 }), 4);
        assert_memory_equal(pst_set_last(s, 2), ((uint8_t[]) { 198, 19, 1, 128 }), 4);
        assert_memory_equal(pst_set_first(s, 3), ((uint8_t[]) { 255, 255, 255, 0 }), 4);
        assert_memory_equal(pst_set_last(s, 3), ((uint8_t[]) { 255, 255, 255, 255 }), 4);
        assert_true(pst_set_strictly_sorted(s, 0, s->n));
        assert_true(pst_set_disjoint4(s));

        /* the same elements in order (as the list cache keeps them), merged while they are copied */
        {
                static const uint32_t sorted[][2] = { { 0xc6120000, 0xc612000f }, { 0xc6120010, 0xc612001f },
                                                      { 0xc6120100, 0xc6120100 }, { 0xc6120100, 0xc6120100 },
                                                      { 0xc6130000, 0xc61300ff }, { 0xc6130080, 0xc6130180 },
                                                      { 0xffffff00, 0xffffffef }, { 0xfffffff0, 0xffffffff } };
                uint8_t pairs[ELEMENTSOF(sorted) * 8];
                const struct pst_set *m = s;

                for (size_t i = 0; i < ELEMENTSOF(sorted); i++) {
                        uint32_t x = htobe32(sorted[i][0]), y = htobe32(sorted[i][1]);

                        memcpy(pairs + i * 8, &x, 4);
                        memcpy(pairs + i * 8 + 4, &y, 4);
                }
                assert_int_equal(pst_set_add(rs, "f", PST_SET_INTERVAL, &f, 1, &idx), 0);
                m = &rs->sets[0]; /* the array may have moved */
                s = &rs->sets[idx];
                assert_int_equal(pst_set_fill_sorted(s, pairs, ELEMENTSOF(sorted)), 0);
                assert_int_equal(s->n, m->n);
                assert_memory_equal(s->keys, m->keys, 8 * m->n);
                assert_int_equal(pst_set_fill_sorted(s, pairs, 1), -EINVAL); /* not empty */
        }

        /* a plain set drops duplicates but keeps neighbours apart */
        assert_int_equal(pst_set_add(rs, "p", 0, &f, 1, &idx), 0);
        s = &rs->sets[idx];
        add4(s, 0xc6120002, 0xc6120002);
        add4(s, 0xc6120001, 0xc6120001);
        add4(s, 0xc6120002, 0xc6120002);
        assert_int_equal(pst_set_normalize(s), 0);
        assert_int_equal(s->n, 2);
        assert_memory_equal(pst_set_first(s, 1), ((uint8_t[]) { 198, 18, 0, 2 }), 4);
        pst_ruleset_free(rs);
}

static void test_key_inc(void **state) {
        uint8_t k[4] = { 0, 0xff, 0xff, 0xff };

        assert_false(pst_key_inc(k, 4));
        assert_memory_equal(k, ((uint8_t[]) { 1, 0, 0, 0 }), 4);
        memset(k, 0xff, 4);
        assert_true(pst_key_inc(k, 4));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_addr_parse), cmocka_unit_test(test_addr_range),
                cmocka_unit_test(test_ports),      cmocka_unit_test(test_ifnames),
                cmocka_unit_test(test_set_normalize), cmocka_unit_test(test_set_normalize4),
                cmocka_unit_test(test_key_inc),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
