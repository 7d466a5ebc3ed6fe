/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ruleset evaluator on hand-made rulesets: each kernel rule it mirrors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <string.h>
#include <unistd.h>

#include "eval.h"
#include "lockout.h"
#include "pipeline.h"

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

/* parse_err VALUE EXPECTED: -EINVAL and exactly that message */
static void parse_err(const char *v, const char *msg) {
        struct pst_ssh_conn c;
        struct pst_diag d;

        pst_diag_init(&d);
        assert_int_equal(pst_ssh_connection_parse(v, &c, &d), -EINVAL);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.items[0].msg, msg);
        assert_null(d.items[0].file);
        pst_diag_clear(&d);
}

static void test_ssh_connection_parse(void **state) {
        struct pst_ssh_conn c;
        struct pst_diag d;
        uint8_t a[16] = {};

        pst_diag_init(&d);
        assert_int_equal(pst_ssh_connection_parse("198.18.0.5 50122 198.18.0.1 22", &c, &d), 0);
        assert_int_equal(c.family, AF_INET);
        inet_pton(AF_INET, "198.18.0.5", a);
        assert_memory_equal(c.client, a, 16);
        inet_pton(AF_INET, "198.18.0.1", a);
        assert_memory_equal(c.server, a, 16);
        assert_int_equal(c.client_port, 50122);
        assert_int_equal(c.server_port, 22);
        assert_string_equal(c.scope, "");
        /* IPv4-mapped: what the kernel sees is IPv4 */
        assert_int_equal(pst_ssh_connection_parse("::ffff:198.18.0.5 1 ::ffff:198.18.0.1 65535", &c, &d), 0);
        assert_int_equal(c.family, AF_INET);
        inet_pton(AF_INET, "198.18.0.5", a);
        assert_memory_equal(c.client, a, 16);
        assert_int_equal(c.server_port, 65535);
        assert_int_equal(pst_ssh_connection_parse("fe80::5%eth1 50122 fe80::1%eth1 2222", &c, &d), 0);
        assert_int_equal(c.family, AF_INET6);
        assert_string_equal(c.scope, "eth1");
        assert_int_equal(d.n, 0);
        pst_diag_clear(&d);

        parse_err("", "SSH_CONNECTION \"\" has 0 fields: expected \"CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT\"");
        parse_err("198.18.0.5 50122 198.18.0.1 22 x",
                  "SSH_CONNECTION \"198.18.0.5 50122 198.18.0.1 22 x\" has more than 4 fields: expected "
                  "\"CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT\"");
        parse_err("198.18.0.5 50122 198.18.0.1 65536",
                  "SSH_CONNECTION \"198.18.0.5 50122 198.18.0.1 65536\": the server port \"65536\" is not a port "
                  "number 1..65535");
        parse_err("198.18.0.5 -1 198.18.0.1 22",
                  "SSH_CONNECTION \"198.18.0.5 -1 198.18.0.1 22\": the client port \"-1\" is not a port number "
                  "1..65535");
        parse_err("host.example 50122 198.18.0.1 22",
                  "SSH_CONNECTION \"host.example 50122 198.18.0.1 22\": the client address \"host.example\" is "
                  "not an IPv4 or IPv6 address");
        parse_err("198.18.0.5 50122 2001:db8::1 22",
                  "SSH_CONNECTION \"198.18.0.5 50122 2001:db8::1 22\": the client and server addresses are of "
                  "different families");
        parse_err("198.18.0.5%eth0 50122 198.18.0.1 22",
                  "SSH_CONNECTION \"198.18.0.5%eth0 50122 198.18.0.1 22\": the client address \"198.18.0.5\" is "
                  "not an IPv4 or IPv6 address");
}

/* this host's addresses, as the check is given them: fe80::1 on eth0, eth1 and eth2 */
static void host_ifaddrs(struct pst_ifaddrs *ifa) {
        static const char *const ifs[] = { "eth0", "eth1", "eth2" };
        struct pst_addr a = { .family = AF_INET6, .prefixlen = 128 };

        inet_pton(AF_INET6, "fe80::1", a.a);
        for (size_t i = 0; i < ELEMENTSOF(ifs); i++)
                assert_int_equal(pst_ifaddrs_add(ifa, ifs[i], &a), 0);
}

/* The check on hand-made rulesets: the scope names the interface, no route lookup */
static void test_lockout_check(void **state) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *live = NULL;
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *none = NULL;
        const char *conn = "fe80::5%eth1 50122 fe80::1%eth1 22";
        struct pst_ifaddrs ifa = {};
        struct pst_diag d;
        uint32_t in;

        host_ifaddrs(&ifa);

        assert_int_equal(pst_compiled_from_ruleset(sample(), &live), 0);
        assert_int_equal(pst_ruleset_new(&none), 0);
        assert_int_equal(pst_chain_add(none, "input", PST_HOOK_INPUT, PST_V_DROP, &in), 0);
        pst_diag_init(&d);
        assert_int_equal(pst_lockout_check(live->ruleset, NULL, conn, &ifa, NULL, &d), 0);
        assert_int_equal(pst_lockout_check(none, NULL, NULL, NULL, NULL, &d), 0);
        assert_int_equal(pst_lockout_check(none, NULL, "", NULL, NULL, &d), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(pst_lockout_check(none, live, conn, &ifa, "use --force", &d), -EACCES);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.items[0].msg,
                            "your SSH connection fe80::5 port 50122 → fe80::1 port 22 (via eth1) would be dropped by "
                            "the new policy: no rule in input accepts tcp/22 from fe80::5; today rule 1 of chain lan "
                            "(/etc/postern/postern.conf:12, \"lan services\") accepts it; use --force");
        pst_diag_clear(&d);
        /* a rule that drops: named */
        pst_diag_init(&d);
        assert_int_equal(pst_lockout_check(live->ruleset, NULL, "fe80::5%eth2 50122 fe80::1%eth2 22", &ifa, NULL, &d),
                         -EACCES);
        assert_string_equal(d.items[0].msg,
                            "your SSH connection fe80::5 port 50122 → fe80::1 port 22 (via eth2) would be dropped by "
                            "the new policy: no rule in input accepts tcp/22 from fe80::5");
        pst_diag_clear(&d);
        /* to an address this namespace does not hold: the connection ends elsewhere */
        pst_diag_init(&d);
        assert_int_equal(pst_lockout_check(none, NULL, "fe80::5%eth1 50122 fe80::2%eth1 22", &ifa, NULL, &d), 0);
        assert_int_equal(d.n, 0);
        pst_ifaddrs_clear(&ifa);
}

/* A compiled policy: explain names the policy line and the service, also
 * through the merged host-to-host set (whose rule has the first host rule's origin) */
static const char policy_text[] =
        "hosts = { a = \"198.18.3.1\"; b = \"198.18.3.2\"; c = \"198.18.3.3\"; d = \"198.18.3.4\";\n"
        "          x = \"198.18.2.10\"; };\n"
        "input = (\n"
        "  { allow = \"ssh\"; from = [\"198.18.9.0/24\", \"fe80::/10\"]; },\n"
        "  { allow = [\"smtp\", \"imaps\"]; }\n"
        ");\n"
        "forward = (\n"
        "  { allow = \"ssh\"; from = \"a\"; to = \"x\"; },\n"
        "  { allow = \"ssh\"; from = \"b\"; to = \"x\"; },\n"
        "  { allow = \"https\"; from = \"c\"; to = \"x\"; },\n"
        "  { allow = \"ldap\"; from = \"d\"; to = \"x\"; }\n"
        ");\n";

static struct pst_compiled *compile_text(const char *text, char path[64]) {
        struct pst_compiled *c = NULL;
        struct pst_diag d;
        int fd;

        snprintf(path, 64, "/tmp/postern-unit-eval-XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        pst_diag_init(&d);
        assert_int_equal(pst_load_compile(&(struct pst_load_opts) { .policy = path, .catalog = getenv("POSTERN_CATALOG"),
                                                                    .source_flags = pst_source_flags_from_env() },
                                          &d, &c),
                         0);
        pst_diag_clear(&d);
        return c;
}

static void expect_explained(const struct pst_compiled *c, enum pst_hook hook, const struct pst_packet *p,
                             unsigned line, const char *service) {
        struct pst_eval_result r = run(c->ruleset, hook, p);
        const char *svc = NULL;
        struct pst_loc loc;

        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_int_equal(pst_eval_explain(c->policy, c->ruleset, &r, p, &loc, &svc, NULL), 0);
        assert_int_equal(loc.line, line);
        assert_string_equal(svc, service);
}

static void test_explain(void **state) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *none = NULL;
        struct pst_packet p = tcp4("198.18.9.7", "198.18.0.1", 22, "eth0");
        struct pst_eval_result r;
        const char *svc;
        struct pst_ifaddrs ifa = {};
        struct pst_loc loc;
        struct pst_diag d;
        char path[64];
        uint32_t in;

        host_ifaddrs(&ifa);
        c = compile_text(policy_text, path);
        expect_explained(c, PST_HOOK_INPUT, &p, 4, "ssh");
        p.dport = 993;
        expect_explained(c, PST_HOOK_INPUT, &p, 5, "imaps");
        p.dport = 25;
        expect_explained(c, PST_HOOK_INPUT, &p, 5, "smtp");
        /* the merged set: its rule's origin is line 8 (a → x), whichever host matched */
        p = tcp4("198.18.3.3", "198.18.2.10", 443, "eth0");
        snprintf(p.oifname, sizeof(p.oifname), "eth2");
        r = run(c->ruleset, PST_HOOK_FORWARD, &p);
        assert_int_equal(r.origin.line, 8);
        expect_explained(c, PST_HOOK_FORWARD, &p, 10, "https");
        assert_int_equal(pst_packet_set_addrs(&p, "198.18.3.2", "198.18.2.10"), 0);
        p.dport = 22;
        expect_explained(c, PST_HOOK_FORWARD, &p, 9, "ssh");
        /* dropped by the policy: nothing to explain */
        p.dport = 443;
        r = run(c->ruleset, PST_HOOK_FORWARD, &p);
        assert_true(r.by_policy);
        assert_int_equal(pst_eval_explain(c->policy, c->ruleset, &r, &p, &loc, &svc, NULL), -ENOENT);

        /* the lockout message names the line and service that accept the connection today */
        assert_int_equal(pst_ruleset_new(&none), 0);
        assert_int_equal(pst_chain_add(none, "input", PST_HOOK_INPUT, PST_V_DROP, &in), 0);
        pst_diag_init(&d);
        /* (a scoped address: the interface is sshd's, no route lookup in the test's namespace) */
        assert_int_equal(pst_lockout_check(none, c, "fe80::7%eth0 50122 fe80::1%eth0 22", &ifa, NULL, &d), -EACCES);
        assert_int_equal(d.n, 1);
        {
                char want[512];

                snprintf(want, sizeof(want),
                         "your SSH connection fe80::7 port 50122 → fe80::1 port 22 (via eth0) would be dropped "
                         "by the new policy: no rule in input accepts tcp/22 from fe80::7; today %s:4 (ssh) "
                         "accepts it",
                         path);
                assert_string_equal(d.items[0].msg, want);
        }
        pst_diag_clear(&d);
        pst_ifaddrs_clear(&ifa);
        unlink(path);
}

/* explain() of what p meets in hook: the rule's line, the service and the group it came through (or none) */
static void expect_via(const struct pst_compiled *c, enum pst_hook hook, const struct pst_packet *p, unsigned line,
                       const char *service, const char *group) {
        struct pst_eval_result r = run(c->ruleset, hook, p);
        const char *svc = NULL, *via = NULL;
        struct pst_loc loc;

        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_int_equal(pst_eval_explain(c->policy, c->ruleset, &r, p, &loc, &svc, &via), 0);
        assert_int_equal(loc.line, line);
        assert_string_equal(svc, service);
        if (group)
                assert_string_equal(via, group);
        else
                assert_null(via);
}

/* a rule naming a group, for both chains: explain names the service and the group */
static void test_explain_group(void **state) {
        static const char text[] =
                "groups = { mail = [\"smtp\", \"imaps\"]; office = [\"mail\", \"ldap/tcp\"]; };\n"
                "rules = (\n"
                "  { allow = [\"ssh\", \"office\"]; chains = [\"input\", \"forward\"]; },\n"
                "  { allow = \"mail\"; from = \"lan\"; chains = [\"input\", \"forward\"]; }\n"
                ");\n"
                "zones = { lan = { interfaces = [\"eth1\"]; }; };\n"
                "input = ( { allow = \"http\"; from = \"lan\"; } );\n";
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        struct pst_packet p = tcp4("198.18.9.7", "198.18.0.1", 25, "eth0");
        char path[64];

        c = compile_text(text, path);
        for (int k = 0; k < 2; k++) {
                enum pst_hook hook = k ? PST_HOOK_FORWARD : PST_HOOK_INPUT;

                snprintf(p.iifname, sizeof(p.iifname), "eth0");
                snprintf(p.oifname, sizeof(p.oifname), "%s", k ? "eth2" : "");
                p.dport = 25;
                expect_via(c, hook, &p, 3, "smtp", "office");
                p.dport = 22;
                expect_via(c, hook, &p, 3, "ssh", NULL);
                p.dport = 389;
                expect_via(c, hook, &p, 3, "ldap/tcp", "office");
                /* from the zone: the rule of the zone's chain, input_lan or forward_lan */
                snprintf(p.iifname, sizeof(p.iifname), "eth1");
                p.dport = 993;
                expect_via(c, hook, &p, 4, "imaps", "mail");
        }
        /* a rule of input only, in input_lan */
        p.oifname[0] = 0;
        p.dport = 80;
        expect_via(c, PST_HOOK_INPUT, &p, 7, "http", NULL);
        unlink(path);
}

/* allow = "all", a trusted zone and forward = "unmanaged", compiled from text */
static const char all_text[] =
        "options = { icmp = \"none\"; log_drops = true; };\n"
        "zones = {\n"
        "  wan = { interfaces = [\"ppp0\"]; };\n"
        "  lan = { interfaces = [\"eth1\"]; networks = [\"198.18.1.0/24\"]; };\n"
        "  docker = { interfaces = [\"docker0\", \"br-+\"]; trusted = true; };\n"
        "};\n"
        "forward = ( { allow = \"all\"; from = \"lan\"; to = \"wan\"; } );\n";

static struct pst_packet fwd4(const char *src, const char *dst, uint8_t l4proto, const char *iif, const char *oif) {
        struct pst_packet p = tcp4(src, dst, 80, iif);

        p.l4proto = l4proto;
        snprintf(p.oifname, sizeof(p.oifname), "%s", oif);
        return p;
}

static void test_all_trusted_unmanaged(void **state) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL, *u = NULL;
        struct pst_packet p;
        struct pst_eval_result r;
        char path[64], upath[64];

        c = compile_text(all_text, path);
        /* "all": GRE, ESP, SCTP and TCP from the LAN to the Internet, nothing back in */
        for (unsigned i = 0; i < 4; i++) {
                static const uint8_t protos[] = { 47, 50, 132, IPPROTO_TCP };

                p = fwd4("198.18.1.10", "198.18.3.5", protos[i], "eth1", "ppp0");
                expect_explained(c, PST_HOOK_FORWARD, &p, 7, "all");
                p = fwd4("198.18.3.5", "198.18.1.10", protos[i], "ppp0", "eth1");
                r = run(c->ruleset, PST_HOOK_FORWARD, &p);
                assert_int_equal(r.verdict, PST_V_DROP);
                assert_true(r.by_policy);
        }
        /* the zone is its interface and its network: a spoofed source is not the LAN */
        p = fwd4("198.18.7.7", "198.18.3.5", 47, "eth1", "ppp0");
        assert_int_equal(run(c->ruleset, PST_HOOK_FORWARD, &p).verdict, PST_V_DROP);
        /* trusted: everything from the bridges, to the host and onwards; the zone's line */
        p = tcp4("198.18.5.2", "198.18.5.1", 3306, "docker0");
        expect_explained(c, PST_HOOK_INPUT, &p, 5, "trusted zone");
        p = fwd4("198.18.6.2", "198.18.3.5", 50, "br-1a2b3c", "ppp0");
        r = run(c->ruleset, PST_HOOK_FORWARD, &p);
        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_int_equal(r.origin.line, 5);
        /* ... but not to them */
        p = fwd4("198.18.3.5", "198.18.5.2", IPPROTO_TCP, "ppp0", "docker0");
        assert_int_equal(run(c->ruleset, PST_HOOK_FORWARD, &p).verdict, PST_V_DROP);
        unlink(path);

        /* unmanaged: no forward chain, the packet is not ours to judge */
        u = compile_text("options = { forward = \"unmanaged\"; };\ninput = ();\n", upath);
        for (size_t i = 0; i < u->ruleset->nchains; i++)
                assert_int_not_equal(u->ruleset->chains[i].hook, PST_HOOK_FORWARD);
        r = run(u->ruleset, PST_HOOK_FORWARD, &p);
        assert_int_equal(r.verdict, PST_V_ACCEPT);
        assert_true(r.by_policy);
        unlink(upath);
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
                cmocka_unit_test(test_ssh_connection_parse),
                cmocka_unit_test(test_lockout_check),
                cmocka_unit_test(test_explain),
                cmocka_unit_test(test_explain_group),
                cmocka_unit_test(test_all_trusted_unmanaged),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
