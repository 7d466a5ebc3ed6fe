/* SPDX-License-Identifier: GPL-2.0-or-later */
/* posternctl diff's pure parts: element ranges (format, merge) and a
 * listing read back in the policy's words (daemon/ctl-speak.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "ctl-speak.h"
#include "nft-dump.h"

static void fmt4(const char *a, const char *b, const char *want) {
        struct pst_elems e = { .key_type = 7, .klen = 4 };
        uint8_t x[4], y[4];
        char buf[256];

        assert_int_equal(inet_pton(AF_INET, a, x), 1);
        assert_int_equal(inet_pton(AF_INET, b, y), 1);
        pst_elems_format(&e, x, y, buf, sizeof(buf));
        assert_string_equal(buf, want);
}

static void test_format(void **state) {
        struct pst_elems e6 = { .key_type = 8, .klen = 16 }, svc = { .key_type = 13, .klen = 2 };
        /* ip saddr . ip daddr . tcp dport: types 7, 7, 13, six bits each; fields padded to 4 bytes */
        struct pst_elems cat = { .key_type = (7u << 12) | (7u << 6) | 13u, .klen = 12 };
        uint8_t x[16], y[16], p1[2] = { 0, 25 }, p2[2] = { 0x07, 0xd0 };
        uint8_t c1[12] = { 198, 18, 3, 5, 198, 18, 2, 10, 4, 0 }, c2[12] = { 198, 18, 3, 5, 198, 18, 2, 10, 0x07, 0xd0 };
        char buf[256];

        fmt4("198.18.5.0", "198.18.5.255", "198.18.5.0/24");
        fmt4("198.18.5.7", "198.18.5.7", "198.18.5.7");
        fmt4("198.18.42.7", "198.18.42.9", "198.18.42.7-198.18.42.9");
        fmt4("198.18.5.1", "198.18.5.255", "198.18.5.1-198.18.5.255");
        fmt4("0.0.0.0", "255.255.255.255", "0.0.0.0/0");
        assert_int_equal(inet_pton(AF_INET6, "2001:db8:40::", x), 1);
        assert_int_equal(inet_pton(AF_INET6, "2001:db8:40:ffff:ffff:ffff:ffff:ffff", y), 1);
        pst_elems_format(&e6, x, y, buf, sizeof(buf));
        assert_string_equal(buf, "2001:db8:40::/48");
        pst_elems_format(&svc, p1, p2, buf, sizeof(buf));
        assert_string_equal(buf, "25-2000");
        c1[8] = 0, c1[9] = 135, c2[8] = 0, c2[9] = 135;
        pst_elems_format(&cat, c1, c2, buf, sizeof(buf));
        assert_string_equal(buf, "198.18.3.5 . 198.18.2.10 . 135");
        c1[8] = 0x04, c1[9] = 0, c2[8] = 0x07, c2[9] = 0xd0;
        pst_elems_format(&cat, c1, c2, buf, sizeof(buf));
        assert_string_equal(buf, "198.18.3.5 . 198.18.2.10 . 1024-2000");
}

struct seen {
        char v[8][128];
        size_t n;
};

static int seen_cb(char sign, const uint8_t *first, const uint8_t *last, void *data) {
        struct seen *s = data;

        snprintf(s->v[s->n++], sizeof(s->v[0]), "%c%u-%u", sign, first[0], last[0]);
        return 0;
}

static void test_merge(void **state) {
        /* one-byte keys: a = {1-2, 5, 9-10}, b = {1-2, 6, 9-11} */
        uint8_t ka[] = { 1, 2, 5, 5, 9, 10 }, kb[] = { 1, 2, 6, 6, 9, 11 };
        struct pst_elems a = { .klen = 1, .n = 3, .keys = ka }, b = { .klen = 1, .n = 3, .keys = kb };
        struct pst_elems none = { .klen = 1 };
        struct seen s = {};

        assert_int_equal(pst_elems_diff(&a, &b, seen_cb, &s), 0);
        assert_int_equal(s.n, 4);
        assert_string_equal(s.v[0], "-5-5");
        assert_string_equal(s.v[1], "+6-6");
        assert_string_equal(s.v[2], "-9-10");
        assert_string_equal(s.v[3], "+9-11");
        s.n = 0;
        assert_int_equal(pst_elems_diff(&a, &a, seen_cb, &s), 0);
        assert_int_equal(s.n, 0);
        assert_int_equal(pst_elems_diff(&none, &b, seen_cb, &s), 0);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.v[0], "+1-2");
}

static const char listing[] =
        "table inet postern {\n"
        "\tset list_admins_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy drop;\n"
        "\t\tct state vmap { invalid : drop, established : accept, related : accept }\n"
        "\t\tiifname vmap { \"ppp0\" : jump input_wan }\n"
        "\t\tip saddr @list_admins_v4 tcp dport 22 counter accept comment \"administration\"\n"
        "\t}\n\n"
        "\tchain input_wan {\n"
        "\t\tip daddr @ifaddr_ppp0_v4 tcp dport { 25, 993 } counter accept\n"
        "\t}\n\n"
        "\tchain forward {\n"
        "\t\tip saddr . ip daddr . tcp dport @forward_hosts_v4_tcp counter accept\n"
        "\t\tip saddr 198.18.3.5 oifname \"eth2\" meta l4proto { esp, ah } counter accept\n"
        "\t}\n"
        "}\n";

static int line_cb(const struct speak_line *l, void *data) {
        struct seen *s = data;

        snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", l->text);
        /* the parts say the same as the sentence */
        assert_non_null(strstr(l->text, l->chain));
        assert_non_null(strstr(l->text, l->what));
        assert_non_null(strstr(l->text, l->where));
        assert_non_null(l->element);
        return 0;
}

static void test_speak(void **state) {
        static const struct pst_service smtp = { .name = "smtp", .ntcp = 1, .tcp = { { 25, 25 } } },
                                        msrpc = { .name = "msrpc-epmap", .ntcp = 1, .tcp = { { 135, 135 } } };
        const struct pst_service *v[] = { &smtp, &msrpc };
        struct pst_catalog cat = { .n = 2, .v = (struct pst_service **) v };
        const struct speak_names names = { .catalog = &cat };
        static const char *const want[] = {
                "forward proto/ah from 198.18.3.5 out eth2",
                "forward proto/esp from 198.18.3.5 out eth2",
                "input ct state vmap { invalid : drop, established : accept, related : accept }",
                "input iifname vmap { \"ppp0\" : jump input_wan }",
                "input tcp/22 from list admins",
                "input tcp/25 (smtp) from zone wan to (ppp0)",
                "input tcp/993 from zone wan to (ppp0)",
                "input type filter hook input priority filter; policy drop;",
        };
        struct speak_table t;
        struct seen s = {};
        struct speak_atom *atoms;
        size_t n;

        assert_int_equal(speak_parse(listing, &names, &t), 0);
        assert_int_equal(speak_atoms(&t, &atoms, &n), 0);
        assert_int_equal(n, ELEMENTSOF(want)); /* the host set's rule is said by its elements */
        for (size_t i = 0; i < n; i++)
                assert_string_equal(atoms[i].text, want[i]);
        {
                struct speak_line l;

                speak_atom_line(&atoms[5], &l);
                assert_string_equal(l.chain, "input");
                assert_string_equal(l.what, "tcp/25 (smtp)");
                assert_string_equal(l.where, "from zone wan to (ppp0)");
                assert_string_equal(l.verdict, "");
                assert_null(l.element);
        }
        speak_atoms_free(atoms, n);

        assert_int_equal(speak_element(&t, &names, "list_admins_v4", "198.18.5.0/24", line_cb, &s), 0);
        assert_int_equal(speak_element(&t, &names, "forward_hosts_v4_tcp", "198.18.3.5 . 198.18.2.10 . 135",
                                       line_cb, &s), 0);
        assert_int_equal(speak_element(&t, &names, "gone", "198.18.9.9", line_cb, &s), 0);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.v[0], "input tcp/22 from list admins: 198.18.5.0/24");
        assert_string_equal(s.v[1], "forward tcp/135 (msrpc-epmap) from 198.18.3.5 to 198.18.2.10");
        assert_string_equal(s.v[2], "set gone: 198.18.9.9");

        /* the new policy's hosts name their addresses */
        {
                struct pst_addr a[2];
                struct pst_host cag = { .name = "cag", .addrs = { .n = 1, .v = &a[0] } },
                                exchange = { .name = "exchange", .addrs = { .n = 1, .v = &a[1] } };
                struct pst_host *hosts[] = { &cag, &exchange };
                const struct pst_service *rpc[] = { &msrpc };
                struct pst_group exch = { .name = "exchange-rpc", .nsvc = 1, .svc = rpc };
                struct pst_group *groups[] = { &exch };
                struct pst_policy pol = { .nhosts = 2, .hosts = hosts, .ngroups = 1, .groups = groups };
                const struct speak_names named = { .policy = &pol, .catalog = &cat };

                assert_int_equal(pst_addr_parse("198.18.3.5", &a[0], NULL), 0);
                assert_int_equal(pst_addr_parse("198.18.2.10", &a[1], NULL), 0);
                s.n = 0;
                assert_int_equal(speak_element(&t, &named, "forward_hosts_v4_tcp", "198.18.3.5 . 198.18.2.10 . 135",
                                               line_cb, &s), 0);
                assert_int_equal(s.n, 1);
                /* and a group holding the service names it: where the port came from */
                assert_string_equal(s.v[0], "forward tcp/135 (msrpc-epmap, group exchange-rpc) from cag to exchange");
        }
        speak_table_clear(&t);
}

/* A trusted zone's rule is said by its zone, not by its interfaces; a
 * policy rule that only carries such a comment is said by its matches. */
static const char trusted_listing[] =
        "table inet postern {\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy drop;\n"
        "\t\tiifname { \"br-*\", \"docker0\" } counter accept comment \"trusted zone docker\"\n"
        "\t\tiifname \"eth1\" ip saddr @zone_lan_v4 counter accept comment \"trusted zone lan\"\n"
        "\t\tip saddr @list_admins_v4 counter accept comment \"trusted zone mgmt\"\n"
        "\t}\n\n"
        "\tchain input_wan {\n"
        "\t\tcounter accept comment \"trusted zone wan\"\n"
        "\t}\n"
        "}\n";

static void test_speak_trusted(void **state) {
        static const char *const want[] = {
                "input from list admins",
                "input from zone wan",
                "input trusted zone docker",
                "input trusted zone lan",
                "input type filter hook input priority filter; policy drop;",
        };
        const struct pst_catalog cat = {};
        const struct speak_names names = { .catalog = &cat };
        struct speak_table t;
        struct speak_atom *atoms;
        struct speak_line l;
        struct seen s = {};
        size_t n;

        assert_int_equal(speak_parse(trusted_listing, &names, &t), 0);
        assert_int_equal(speak_atoms(&t, &atoms, &n), 0);
        assert_int_equal(n, ELEMENTSOF(want));
        for (size_t i = 0; i < n; i++)
                assert_string_equal(atoms[i].text, want[i]);
        speak_atom_line(&atoms[2], &l);
        assert_string_equal(l.where, "trusted zone docker");
        assert_string_equal(l.what, "");
        assert_string_equal(l.trusted_zone, "docker");
        speak_atom_line(&atoms[0], &l);
        assert_null(l.trusted_zone);
        speak_atom_line(&atoms[1], &l);
        assert_null(l.trusted_zone);
        speak_atoms_free(atoms, n);
        /* a changed address of the zone: said by the zone too */
        assert_int_equal(speak_element(&t, &names, "zone_lan_v4", "198.18.1.0/24", line_cb, &s), 0);
        assert_int_equal(s.n, 1);
        assert_string_equal(s.v[0], "input trusted zone lan: 198.18.1.0/24");
        speak_table_clear(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_merge),
                cmocka_unit_test(test_speak),
                cmocka_unit_test(test_speak_trusted),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
