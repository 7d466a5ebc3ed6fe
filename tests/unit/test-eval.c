/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ruleset evaluator on hand-made rulesets: each kernel rule it mirrors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <string.h>

#include "eval.h"

static void key_ifname(const char *name, bool wild_last, uint8_t key[IFNAMSIZ]) {
        memset(key, wild_last ? 0xff : 0, IFNAMSIZ);
        memcpy(key, name, strlen(name));
}

static struct pst_packet tcp4(const char *src, const char *dst, uint16_t dport, const char *iif) {
        struct pst_packet p = { .l4proto = IPPROTO_TCP, .sport = 50122, .dport = dport, .ct_state = PST_CT_NEW };

        assert_int_equal(pst_packet_set_addrs(&p, src, dst), 0);
        snprintf(p.iifname, sizeof(p.iifname), "%s", iif);
        return p;
}

static struct pst_eval_result run(const struct pst_ruleset *rs, enum pst_hook hook, const struct pst_packet *p) {
        struct pst_eval_result r;

        assert_int_equal(pst_eval(rs, hook, p, &r), 0);
        return r;
}

static uint32_t add_port_set(struct pst_ruleset *rs, const uint16_t *ports, size_t n) {
        enum pst_field f = PST_F_TCP_DPORT;
        uint32_t s;

        assert_int_equal(pst_set_add(rs, NULL, PST_SET_ANON | PST_SET_INTERVAL, &f, 1, &s), 0);
        for (size_t i = 0; i < n; i++) {
                uint8_t k[4] = { (uint8_t) (ports[i] >> 8), (uint8_t) ports[i] };

                assert_int_equal(pst_set_add_elem(&rs->sets[s], k, NULL, NULL), 0);
        }
        assert_int_equal(pst_set_normalize(&rs->sets[s]), 0);
        return s;
}

/* input: ct vmap, iifname vmap { "eth1" : jump lan, "ppp*" : goto wan }, ...;
 * lan: tcp dport { 22, 25, ... } accept; wan: ip saddr != 198.18.9.0/24 return, tcp dport 25 accept */
static struct pst_ruleset *sample(void) {
        struct pst_ruleset *rs;
        uint32_t in, fwd, lan, wan, ct, ifs, file;
        enum pst_field f;
        struct pst_rule r;
        uint32_t est = PST_CT_ESTABLISHED, inv = PST_CT_INVALID;
        uint8_t a[16], b[16], port[2] = { 0, 25 };
        static const uint16_t ports[] = { 22, 25, 80, 110, 143, 443, 465, 587, 993, 995, 3000 };

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_ruleset_file(rs, "/etc/postern/postern.conf", &file), 0);
        assert_int_equal(pst_chain_add(rs, "input", PST_HOOK_INPUT, PST_V_DROP, &in), 0);
        assert_int_equal(pst_chain_add(rs, "forward", PST_HOOK_FORWARD, PST_V_ACCEPT, &fwd), 0);
        assert_int_equal(pst_chain_add(rs, "lan", PST_HOOK_NONE, PST_V_ACCEPT, &lan), 0);
        assert_int_equal(pst_chain_add(rs, "wan", PST_HOOK_NONE, PST_V_ACCEPT, &wan), 0);

        f = PST_F_CT_STATE;
        assert_int_equal(pst_set_add(rs, NULL, PST_SET_ANON | PST_SET_MAP, &f, 1, &ct), 0);
        assert_int_equal(pst_set_add_elem(&rs->sets[ct], (uint8_t *) &inv, NULL,
                                          &(struct pst_verdict) { PST_V_DROP, 0 }), 0);
        assert_int_equal(pst_set_add_elem(&rs->sets[ct], (uint8_t *) &est, NULL,
                                          &(struct pst_verdict) { PST_V_ACCEPT, 0 }), 0);
        r = (struct pst_rule) { .nmatch = 1 };
        r.match[0] = (struct pst_match) { .op = PST_M_VMAP, .nfields = 1, .fields = { f }, .set = ct };
        assert_int_equal(pst_rule_add(rs, in, &r), 0);

        f = PST_F_IIFNAME;
        assert_int_equal(pst_set_add(rs, NULL, PST_SET_ANON | PST_SET_MAP | PST_SET_INTERVAL, &f, 1, &ifs), 0);
        key_ifname("eth1", false, a);
        assert_int_equal(pst_set_add_elem(&rs->sets[ifs], a, NULL, &(struct pst_verdict) { PST_V_JUMP, lan }), 0);
        key_ifname("ppp", false, a);
        key_ifname("ppp", true, b);
        assert_int_equal(pst_set_add_elem(&rs->sets[ifs], a, b, &(struct pst_verdict) { PST_V_GOTO, wan }), 0);
        assert_int_equal(pst_set_normalize(&rs->sets[ifs]), 0);
        r = (struct pst_rule) { .nmatch = 1 };
        r.match[0] = (struct pst_match) { .op = PST_M_VMAP, .nfields = 1, .fields = { f }, .set = ifs };
        assert_int_equal(pst_rule_add(rs, in, &r), 0);

        /* after the jump to lan returns: udp/53 from anywhere */
        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT, 0 }, .origin = { file, 30 } };
        port[1] = 53;
        pst_match_eq(&r.match[0], PST_F_UDP_DPORT, port, false);
        assert_int_equal(pst_rule_add(rs, in, &r), 0);

        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT, 0 }, .origin = { file, 12 } };
        pst_match_set(&r.match[0], PST_F_TCP_DPORT, add_port_set(rs, ports, ELEMENTSOF(ports)));
        snprintf(r.comment, sizeof(r.comment), "lan services");
        assert_int_equal(pst_rule_add(rs, lan, &r), 0);

        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_RETURN, 0 } };
        inet_pton(AF_INET, "198.18.9.0", a);
        inet_pton(AF_INET, "198.18.9.255", b);
        r.match[0] = (struct pst_match) { .op = PST_M_RANGE, .nfields = 1, .fields = { PST_F_IP_SADDR } };
        memcpy(r.match[0].value, a, 4);
        memcpy(r.match[0].last, b, 4);
        r.match[0].op = PST_M_RANGE;
        assert_int_equal(pst_rule_add(rs, wan, &r), 0);
        /* only the admins' network gets here: ssh from it */
        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT, 0 }, .origin = { file, 20 } };
        port[1] = 22;
        pst_match_eq(&r.match[0], PST_F_TCP_DPORT, port, false);
        assert_int_equal(pst_rule_add(rs, wan, &r), 0);

        /* forward (policy accept): drop what leaves by oifname "eth2" */
        key_ifname("eth2", false, a);
        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_DROP, 0 }, .origin = { file, 40 } };
        pst_match_eq(&r.match[0], PST_F_OIFNAME, a, false);
        assert_int_equal(pst_rule_add(rs, fwd, &r), 0);
        return rs;
}

static void test_chains(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample();
        struct pst_packet p = tcp4("198.18.1.10", "198.18.1.1", 22, "eth1");
        struct pst_eval_result r = run(rs, PST_HOOK_INPUT, &p);
        char buf[256];

        /* jump lan: the port set accepts, rule 1 of lan */
        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_false(r.by_policy);
        assert_string_equal(rs->chains[r.chain].name, "lan");
        assert_int_equal(r.rule, 0);
        pst_eval_describe(rs, &r, buf, sizeof(buf));
        assert_string_equal(buf, "rule 1 of chain lan (/etc/postern/postern.conf:12, \"lan services\")");

        /* a port the set has not: lan ends, back in input after the jump, then the policy */
        p.dport = 8080;
        r = run(rs, PST_HOOK_INPUT, &p);
        assert_int_equal(r.verdict, PST_V_DROP);
        assert_true(r.by_policy);
        pst_eval_describe(rs, &r, buf, sizeof(buf));
        assert_string_equal(buf, "the policy (drop) of chain input");
        /* bisection over the set: every element, and the gaps next to them */
        for (unsigned port = 1; port < 4000; port++) {
                bool in = port == 22 || port == 25 || port == 80 || port == 110 || port == 143 || port == 443 ||
                          port == 465 || port == 587 || port == 993 || port == 995 || port == 3000;

                p.dport = (uint16_t) port;
                assert_int_equal(run(rs, PST_HOOK_INPUT, &p).verdict, in ? PST_V_ACCEPT : PST_V_DROP);
        }

        /* udp/53 after the jump returned */
        p.l4proto = IPPROTO_UDP;
        p.dport = 53;
        r = run(rs, PST_HOOK_INPUT, &p);
        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_int_equal(r.origin.line, 30);
}

static void test_goto_return(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample();
        struct pst_packet p = tcp4("198.18.9.7", "198.18.0.1", 22, "ppp0");
        struct pst_eval_result r;

        /* ppp0 is in the "ppp*" range: goto wan, where the admins' network
         * returns; a return from a chain reached by goto alone ends in the
         * base chain's policy */
        r = run(rs, PST_HOOK_INPUT, &p);
        assert_int_equal(r.verdict, PST_V_DROP);
        assert_true(r.by_policy);
        /* anyone else gets ssh; and the end of wan does not come back to
         * input's udp/53 rule either */
        p = tcp4("198.18.100.7", "198.18.0.1", 22, "ppp0");
        r = run(rs, PST_HOOK_INPUT, &p);
        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_int_equal(r.origin.line, 20);
        p.l4proto = IPPROTO_UDP;
        p.dport = 53;
        assert_int_equal(run(rs, PST_HOOK_INPUT, &p).verdict, PST_V_DROP);
        /* "pppoe0" is in "ppp*" too; "pp0" is not: input's udp/53 rule */
        snprintf(p.iifname, sizeof(p.iifname), "pp0");
        assert_int_equal(run(rs, PST_HOOK_INPUT, &p).verdict, PST_V_ACCEPT);
}

static void test_ct_state_and_family(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample();
        struct pst_packet p = tcp4("198.18.100.7", "198.18.0.1", 3306, "ppp0");
        struct pst_eval_result r;

        p.ct_state = PST_CT_ESTABLISHED;
        r = run(rs, PST_HOOK_INPUT, &p);
        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_int_equal(r.rule, 0);
        assert_int_equal(r.origin.line, 0);
        p.ct_state = PST_CT_INVALID;
        assert_int_equal(run(rs, PST_HOOK_INPUT, &p).verdict, PST_V_DROP);
        p.ct_state = PST_CT_RELATED; /* not in the map: on to the next rule */
        assert_int_equal(run(rs, PST_HOOK_INPUT, &p).verdict, PST_V_DROP);

        /* IPv6 from the "admins" net is no IPv4 source: the ip saddr range's
         * dependency fails, no return; ssh accepted */
        p = (struct pst_packet) { .l4proto = IPPROTO_TCP, .dport = 22 };
        assert_int_equal(pst_packet_set_addrs(&p, "2001:db8::2", "2001:db8::1"), 0);
        snprintf(p.iifname, sizeof(p.iifname), "ppp0");
        assert_int_equal(run(rs, PST_HOOK_INPUT, &p).verdict, PST_V_ACCEPT);
        assert_int_equal(pst_packet_set_addrs(&p, "2001:db8::2", "198.18.0.1"), -EINVAL);
}

static void test_forward_oif(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample();
        struct pst_packet p = tcp4("198.18.1.10", "198.18.2.10", 80, "eth1");
        struct pst_eval_result r;
        char buf[256];

        snprintf(p.oifname, sizeof(p.oifname), "eth2");
        r = run(rs, PST_HOOK_FORWARD, &p);
        assert_int_equal(r.verdict, PST_V_DROP);
        assert_int_equal(r.origin.line, 40);
        snprintf(p.oifname, sizeof(p.oifname), "ppp0");
        r = run(rs, PST_HOOK_FORWARD, &p);
        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_true(r.by_policy);
        pst_eval_describe(rs, &r, buf, sizeof(buf));
        assert_string_equal(buf, "the policy (accept) of chain forward");
}

/* oifname in input: the kernel's meta load breaks the rule, even a != */
static void test_oifname_in_input(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        struct pst_packet p = tcp4("198.18.1.10", "198.18.1.1", 22, "eth1");
        struct pst_rule r = { .nmatch = 1, .verdict = { PST_V_ACCEPT, 0 } };
        uint8_t name[IFNAMSIZ];
        uint32_t in;

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_chain_add(rs, "input", PST_HOOK_INPUT, PST_V_DROP, &in), 0);
        key_ifname("eth9", false, name);
        pst_match_eq(&r.match[0], PST_F_OIFNAME, name, true);
        assert_int_equal(pst_rule_add(rs, in, &r), 0);
        assert_int_equal(run(rs, PST_HOOK_INPUT, &p).verdict, PST_V_DROP);
        /* no forward chain: nothing of ours sees the packet */
        assert_int_equal(run(rs, PST_HOOK_FORWARD, &p).verdict, PST_V_ACCEPT);
}

/* a concatenation: ip saddr . ip daddr . tcp dport, each field a range */
static void test_concat(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        enum pst_field f[3] = { PST_F_IP_SADDR, PST_F_IP_DADDR, PST_F_TCP_DPORT };
        struct pst_rule r = { .nmatch = 1, .verdict = { PST_V_ACCEPT, 0 } };
        uint8_t first[PST_KEY_MAX] = {}, last[PST_KEY_MAX] = {};
        struct pst_packet p = tcp4("198.18.3.5", "198.18.2.10", 1500, "ppp0");
        uint32_t fwd, s;

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_chain_add(rs, "forward", PST_HOOK_FORWARD, PST_V_DROP, &fwd), 0);
        assert_int_equal(pst_set_add(rs, "hosts", PST_SET_INTERVAL, f, 3, &s), 0);
        inet_pton(AF_INET, "198.18.3.5", first);
        inet_pton(AF_INET, "198.18.3.5", last);
        inet_pton(AF_INET, "198.18.2.10", first + 4);
        inet_pton(AF_INET, "198.18.2.10", last + 4);
        first[8] = 1024 >> 8, first[9] = 1024 & 0xff;
        last[8] = 2000 >> 8, last[9] = 2000 & 0xff;
        assert_int_equal(pst_set_add_elem(&rs->sets[s], first, last, NULL), 0);
        r.match[0] = (struct pst_match) { .op = PST_M_SET, .nfields = 3, .set = s };
        memcpy(r.match[0].fields, f, sizeof(f));
        assert_int_equal(pst_rule_add(rs, fwd, &r), 0);
        snprintf(p.oifname, sizeof(p.oifname), "eth2");
        assert_int_equal(run(rs, PST_HOOK_FORWARD, &p).verdict, PST_V_ACCEPT);
        p.dport = 2001;
        assert_int_equal(run(rs, PST_HOOK_FORWARD, &p).verdict, PST_V_DROP);
        p.dport = 1024;
        assert_int_equal(pst_packet_set_addrs(&p, "198.18.3.6", "198.18.2.10"), 0);
        assert_int_equal(run(rs, PST_HOOK_FORWARD, &p).verdict, PST_V_DROP);
        p.l4proto = IPPROTO_UDP;
        assert_int_equal(pst_packet_set_addrs(&p, "198.18.3.5", "198.18.2.10"), 0);
        assert_int_equal(run(rs, PST_HOOK_FORWARD, &p).verdict, PST_V_DROP);
}

/* jumps nested deeper than the kernel allows */
static void test_loop(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        struct pst_packet p = tcp4("198.18.1.10", "198.18.1.1", 22, "eth1");
        struct pst_rule r = { .verdict = { PST_V_JUMP, 1 } };
        struct pst_eval_result res;
        uint32_t in, c;

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_chain_add(rs, "input", PST_HOOK_INPUT, PST_V_DROP, &in), 0);
        assert_int_equal(pst_chain_add(rs, "c", PST_HOOK_NONE, PST_V_ACCEPT, &c), 0);
        assert_int_equal(pst_rule_add(rs, in, &r), 0);
        assert_int_equal(pst_rule_add(rs, c, &r), 0);
        assert_int_equal(pst_eval(rs, PST_HOOK_INPUT, &p, &res), -ELOOP);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_chains),
                cmocka_unit_test(test_goto_return),
                cmocka_unit_test(test_ct_state_and_family),
                cmocka_unit_test(test_forward_oif),
                cmocka_unit_test(test_oifname_in_input),
                cmocka_unit_test(test_concat),
                cmocka_unit_test(test_loop),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
