/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy loading and compiling: the model and the IR, without a kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "pipeline.h"
#include "compile.h"
#include "eval.h"
#include "policy.h"
#include "policy-fixture.h"
#include "render.h"

/* Load <dir>/name; returns the policy or NULL with diag filled. */
static struct pst_policy *load(const char *name, struct pst_diag *d) {
        struct pst_policy *p = NULL;
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        pst_diag_init(d);
        if (pst_policy_load(path, &cat, pst_source_flags_from_env(), d, &p) < 0)
                return NULL;
        return p;
}

static void test_catalog(void **state) {
        static const char *const required[] = {
                "ssh", "smtp", "smtps", "submission", "pop3", "pop3s", "imap", "imaps", "http", "https",
                "http-proxy", "squid", "dns", "rndc", "ldap", "ldaps", "globalcatalog", "globalcatalog-ssl",
                "kerberos", "msrpc-epmap", "msrpc-dynamic", "msrpc-legacy", "exchange-lsa", "xmpp-client",
                "xmpp-server", "xmpp-bosh", "ipsec",
        };
        const struct pst_service *s;

        for (size_t i = 0; i < ELEMENTSOF(required); i++) {
                s = pst_catalog_find(&cat, required[i]);
                assert_non_null(s);
                assert_non_null(s->description);
                assert_non_null(s->source);
        }
        s = pst_catalog_find(&cat, "ipsec");
        assert_int_equal(s->nudp, 2);
        assert_int_equal(s->nproto, 2);
        s = pst_catalog_find(&cat, "msrpc-dynamic");
        assert_int_equal(s->tcp[0].first, 49152);
        assert_int_equal(s->tcp[0].last, 65535);
        s = pst_catalog_find(&cat, "ldap");
        assert_int_equal(s->ntcp, 1);
        assert_int_equal(s->nudp, 1);
}

static void test_model(void **state) {
        struct pst_diag d;
        struct pst_policy *p;

        write_file("m.conf", "options = { icmp = \"all\"; ipv6 = true; };\n"
                             "zones = { wan = { interfaces = [\"ppp+\"]; }; };\n"
                             "hosts = { mx = [\"198.18.2.25\", \"2001:db8:2::25\"]; };\n"
                             "input = ( { allow = [\"smtp\", \"tcp/2222\"]; from = \"wan\"; to = \"(ppp0)\"; } );\n"
                             "forward = ( { allow = \"imaps\"; to = \"mx\"; comment = \"users\"; } );\n");
        p = load("m.conf", &d);
        assert_non_null(p);
        assert_int_equal(p->options.icmp, PST_ICMP_ALL);
        assert_int_equal(p->nzones, 1);
        assert_true(p->zones[0]->ifs[0].wildcard);
        assert_string_equal(p->zones[0]->ifs[0].name, "ppp*");
        assert_int_equal(p->nrules, 2);
        assert_int_equal(p->rules[0].chain, PST_INPUT);
        assert_int_equal(p->rules[0].loc.line, 4);
        assert_int_equal(p->rules[0].nsvc, 2);
        assert_int_equal(p->rules[0].svc[1]->tcp[0].first, 2222);
        assert_int_equal(p->rules[0].from[0].kind, PST_EP_ZONE);
        assert_int_equal(p->rules[0].to[0].kind, PST_EP_IFADDR);
        assert_string_equal(p->rules[0].to[0].ifname, "ppp0");
        assert_int_equal(p->rules[1].from[0].kind, PST_EP_ANY);
        assert_string_equal(p->rules[1].comment, "users");
        pst_policy_free(p);
        pst_diag_clear(&d);
}

/* Several errors in one file are all reported, each with its line. */
static void test_errors_collected(void **state) {
        struct pst_diag d;

        write_file("e.conf", "options = { icmp = \"sometimes\"; };\n"
                             "hosts = { a = \"198.18.0.300\"; b = \"198.18.0.5/24\"; };\n"
                             "zones = { lan = { interfaces = [\"eth1\"]; networks = [\"2001:db8::/129\"]; }; };\n");
        assert_null(load("e.conf", &d));
        assert_int_equal(d.n_errors, 4);
        assert_int_equal(d.items[0].line, 1);
        assert_int_equal(d.items[1].line, 3);
        assert_int_equal(d.items[2].line, 2);
        assert_int_equal(d.items[3].line, 2);
        assert_non_null(strstr(d.items[3].msg, "198.18.0.0/24"));
        pst_diag_clear(&d);
}

/* "ldap/tcp" keeps the service's TCP ports only; "ssh/udp" names no port and is an error with its line. */
static void test_restrict(void **state) {
        struct pst_diag d;
        struct pst_policy *p;

        write_file("r.conf", "input = ( { allow = [\"ldap/tcp\", \"ipsec/udp\"]; } );\n");
        p = load("r.conf", &d);
        assert_non_null(p);
        assert_int_equal(p->rules[0].nsvc, 2);
        assert_string_equal(p->rules[0].svc[0]->name, "ldap/tcp");
        assert_int_equal(p->rules[0].svc[0]->ntcp, 1);
        assert_int_equal(p->rules[0].svc[0]->tcp[0].first, 389);
        assert_int_equal(p->rules[0].svc[0]->nudp, 0);
        assert_int_equal(p->rules[0].svc[1]->nudp, 2);
        assert_int_equal(p->rules[0].svc[1]->nproto, 0);
        pst_policy_free(p);
        pst_diag_clear(&d);

        write_file("r.conf", "input = (\n { allow = \"ssh/udp\"; },\n { allow = \"ldap/sctp\"; }\n);\n");
        assert_null(load("r.conf", &d));
        assert_int_equal(d.n_errors, 2);
        assert_int_equal(d.items[0].line, 2);
        assert_non_null(strstr(d.items[0].msg, "has no udp port"));
        assert_int_equal(d.items[1].line, 3);
        assert_non_null(strstr(d.items[1].msg, "not 'sctp'"));
        pst_diag_clear(&d);
}

/* Fragments in postern.d/ are read in lexical order and may use each other's names. */
static void test_fragments(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        char sub[256];

        snprintf(sub, sizeof(sub), "%s/postern.d", dir);
        mkdir(sub, 0755);
        write_file("f.conf", "hosts = { mx = \"198.18.2.25\"; };\n");
        write_file("postern.d/20-rules.conf", "input = ( { allow = \"smtp\"; from = \"relays\"; to = \"mx\"; } );\n");
        write_file("postern.d/10-lists.conf", "lists = { relays = { addresses = [\"198.18.7.0/24\"]; }; };\n");
        write_file("postern.d/README", "not a fragment\n");
        p = load("f.conf", &d);
        assert_non_null(p);
        assert_int_equal(p->nlists, 1);
        assert_int_equal(p->nrules, 1);
        assert_non_null(strstr(p->rules[0].loc.file, "20-rules.conf"));
        pst_policy_free(p);
        pst_diag_clear(&d);

        /* options belong to the main file only */
        write_file("postern.d/30-options.conf", "options = { ipv6 = false; };\n");
        assert_null(load("f.conf", &d));
        assert_int_equal(d.n_errors, 1);
        assert_non_null(strstr(d.items[0].file, "30-options.conf"));
        pst_diag_clear(&d);
        snprintf(sub, sizeof(sub), "rm -rf %s/postern.d", dir);
        assert_int_equal(system(sub), 0);
}

/* Groups across files: defined in a fragment, nesting one of the main file,
 * used in another fragment; errors name the fragment's line; a rule of
 * rules = (...) is one policy rule per chain with the same location. */
static void test_groups_fragments(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        char sub[256];

        snprintf(sub, sizeof(sub), "%s/postern.d", dir);
        mkdir(sub, 0755);
        write_file("g.conf", "groups = { mail = [\"smtp\", \"imaps\"]; };\n"
                             "services = { backup = { tcp = [9102]; }; };\n");
        write_file("postern.d/10-groups.conf", "groups = {\n  office = [\"mail\", \"backup\", \"smtp\"];\n};\n");
        write_file("postern.d/20-rules.conf", "rules = (\n  { allow = \"office\"; chains = [\"forward\", \"input\"]; }\n);\n");
        p = load("g.conf", &d);
        assert_non_null(p);
        assert_int_equal(d.n, 0);
        assert_int_equal(p->ngroups, 2);
        assert_int_equal(p->groups[1]->nsvc, 3); /* smtp once */
        assert_int_equal(p->nrules, 2);
        assert_int_equal(p->rules[0].chain, PST_INPUT);
        assert_int_equal(p->rules[1].chain, PST_FORWARD);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(p->rules[i].nsvc, 3);
                assert_int_equal(p->rules[i].loc.line, 2);
                assert_non_null(strstr(p->rules[i].loc.file, "20-rules.conf"));
                assert_string_equal(p->rules[i].svc[2]->name, "backup");
                assert_string_equal(p->rules[i].via[2]->name, "office");
                assert_ptr_not_equal(p->rules[i].svc, p->rules[1 - i].svc); /* each its own arrays */
        }
        pst_policy_free(p);
        pst_diag_clear(&d);

        /* a bad member, in the fragment, at its line; a group named like a service of another file */
        write_file("postern.d/10-groups.conf", "groups = {\n  office = [\"mail\",\n    \"backups\"];\n"
                                               "  backup = [\"ssh\"];\n};\n");
        assert_null(load("g.conf", &d));
        assert_int_equal(d.n_errors, 2);
        assert_non_null(strstr(d.items[0].file, "10-groups.conf"));
        assert_int_equal(d.items[0].line, 4);
        assert_non_null(strstr(d.items[0].msg, "name of the service 'backup' defined at"));
        assert_non_null(strstr(d.items[0].msg, "g.conf:2"));
        assert_non_null(strstr(d.items[1].file, "10-groups.conf"));
        assert_int_equal(d.items[1].line, 3);
        assert_non_null(strstr(d.items[1].msg, "unknown service 'backups' (did you mean 'backup'?)"));
        pst_diag_clear(&d);
        snprintf(sub, sizeof(sub), "rm -rf %s/postern.d", dir);
        assert_int_equal(system(sub), 0);
}

static const struct pst_rule *find_rule(const struct pst_ruleset *rs, const char *chain, size_t i) {
        int c = pst_chain_find(rs, chain);

        assert_true(c >= 0);
        assert_true(i < rs->chains[c].n);
        return &rs->chains[c].rules[i];
}

static void test_compile(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;
        struct pst_ifaddrs ifa = {};
        struct pst_addr a;
        const struct pst_rule *r;
        uint32_t changed[4];
        int set;

        write_file("c.conf", "zones = { wan = { interfaces = [\"ppp0\"]; }; };\n"
                             "input = ( { allow = [\"smtp\", \"imaps\", \"pop3s\"]; from = \"wan\"; to = \"(ppp0)\"; } );\n");
        p = load("c.conf", &d);
        assert_non_null(p);
        assert_int_equal(pst_addr_parse("198.18.0.1", &a, NULL), 0);
        assert_int_equal(pst_ifaddrs_add(&ifa, "ppp0", &a), 0);
        assert_int_equal(pst_compile(p, &ifa, &d, &rs), 0);

        /* chains: input, forward, input_wan; zone dispatch is a vmap in input */
        assert_int_equal(rs->nchains, 3);
        assert_string_equal(rs->chains[2].name, "input_wan");
        r = find_rule(rs, "input", 0);
        assert_int_equal(r->match[0].op, PST_M_VMAP); /* ct state */
        r = find_rule(rs, "input", rs->chains[0].n - 1);
        assert_int_equal(r->match[0].op, PST_M_VMAP);
        assert_int_equal(r->match[0].fields[0], PST_F_IIFNAME);

        /* the rule: daddr in the interface-address set, ports in one set */
        r = find_rule(rs, "input_wan", 0);
        assert_int_equal(r->nmatch, 2);
        assert_int_equal(r->match[0].fields[0], PST_F_IP_DADDR);
        assert_string_equal(rs->sets[r->match[0].set].name, "ifaddr_ppp0_v4");
        assert_int_equal(rs->sets[r->match[1].set].n, 3);
        assert_int_equal(r->origin.line, 2);
        assert_string_equal(pst_origin_file(rs, r->origin), p->rules[0].loc.file);

        set = pst_set_find(rs, "ifaddr_ppp0_v4");
        assert_true(set >= 0);
        assert_int_equal(rs->sets[set].n, 1);

        /* same addresses: nothing changes; a new address: exactly that set */
        assert_int_equal(pst_ruleset_update_ifaddrs(rs, &ifa, 4, changed), 0);
        ifa.v[0].addr.a[3] = 7;
        assert_int_equal(pst_ruleset_update_ifaddrs(rs, &ifa, 4, changed), 1);
        assert_int_equal(changed[0], (uint32_t) set);
        assert_int_equal(pst_set_first(&rs->sets[set], 0)[3], 7);
        pst_ifaddrs_clear(&ifa);
        assert_int_equal(pst_ruleset_update_ifaddrs(rs, &ifa, 4, changed), 1);
        assert_int_equal(rs->sets[set].n, 0);

        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_diag_clear(&d);
}

static void add_ifaddr(struct pst_ifaddrs *ifa, const char *ifname, const char *addr) {
        struct pst_addr a;

        assert_int_equal(pst_addr_parse(addr, &a, NULL), 0);
        assert_int_equal(pst_ifaddrs_add(ifa, ifname, &a), 0);
}

/* The elements of set name, formatted, in order; "" when empty. */
static const char *set_text(const struct pst_ruleset *rs, const char *name, char *buf, size_t size) {
        int set = pst_set_find(rs, name);
        size_t len = 0;

        assert_true(set >= 0);
        buf[0] = 0;
        for (size_t i = 0; i < rs->sets[set].n; i++) {
                const uint8_t *k = pst_set_first(&rs->sets[set], i);
                struct pst_addr a = { .family = rs->sets[set].klen == 4 ? AF_INET : AF_INET6 };
                char s[PST_ADDR_STRLEN];

                a.prefixlen = (uint8_t) (rs->sets[set].klen * 8);
                memcpy(a.a, k, rs->sets[set].klen);
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? " " : "", pst_addr_format(&a, s));
        }
        return buf;
}

/* "(ppp0)" takes ppp0's global addresses only, "(ppp0, link)" the
 * link-local ones too (by the address: 169.254.0.0/16, fe80::/10); a bad
 * modifier is an error at its line. */
static void test_ifaddr_link(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;
        struct pst_ifaddrs ifa = {};
        char buf[256];

        write_file("l.conf", "input = ( { allow = \"smtp\"; to = \"(ppp0)\"; },\n"
                             "          { allow = \"ssh\"; to = [\"( ppp0 , link )\", \"(eth1,link)\"]; } );\n");
        p = load("l.conf", &d);
        assert_non_null(p);
        add_ifaddr(&ifa, "ppp0", "198.18.0.1");
        add_ifaddr(&ifa, "ppp0", "169.254.7.7");
        add_ifaddr(&ifa, "ppp0", "fe80::1");
        add_ifaddr(&ifa, "ppp0", "febf::2");
        add_ifaddr(&ifa, "ppp0", "fec0::3"); /* the old site-local: not link-local */
        add_ifaddr(&ifa, "ppp0", "2001:db8::1");
        add_ifaddr(&ifa, "eth1", "fe80::9");
        assert_true(ifa.v[1].linklocal && ifa.v[2].linklocal && !ifa.v[4].linklocal && !ifa.v[5].linklocal);
        assert_int_equal(pst_compile(p, &ifa, &d, &rs), 0);
        assert_string_equal(set_text(rs, "ifaddr_ppp0_v4", buf, sizeof(buf)), "198.18.0.1");
        assert_string_equal(set_text(rs, "ifaddr_ppp0_v6", buf, sizeof(buf)), "2001:db8::1 fec0::3");
        assert_string_equal(set_text(rs, "ifaddrll_ppp0_v4", buf, sizeof(buf)), "169.254.7.7 198.18.0.1");
        assert_string_equal(set_text(rs, "ifaddrll_ppp0_v6", buf, sizeof(buf)),
                            "2001:db8::1 fe80::1 febf::2 fec0::3");
        assert_string_equal(set_text(rs, "ifaddrll_eth1_v6", buf, sizeof(buf)), "fe80::9");
        assert_true(pst_set_find(rs, "ifaddr_eth1_v6") < 0);
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_ifaddrs_clear(&ifa);
        pst_diag_clear(&d);

        write_file("m.conf", "input = ( { allow = \"smtp\"; to = \"(ppp0)\"; },\n"
                             "          { allow = \"ssh\"; to = \"(ppp0, global)\"; },\n"
                             "          { allow = \"ssh\"; to = \"(ppp0,)\"; },\n"
                             "          { allow = \"ssh\"; to = \"(, link)\"; } );\n");
        assert_null(load("m.conf", &d));
        assert_int_equal(d.n_errors, 3);
        assert_int_equal(d.items[0].line, 2);
        assert_string_equal(d.items[0].msg, "'(ppp0, global)': unknown modifier 'global'; expected (IFNAME) for "
                                            "the global addresses or (IFNAME, link) to include the link-local ones");
        assert_int_equal(d.items[1].line, 3);
        assert_non_null(strstr(d.items[1].msg, "unknown modifier ''"));
        assert_int_equal(d.items[2].line, 4);
        assert_non_null(strstr(d.items[2].msg, "is not a valid interface name"));
        pst_diag_clear(&d);
}

/* PST_MERGE_MIN host-to-host rules become one concatenated lookup. */
static void test_merge(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;
        char text[2048];
        size_t off;
        int set;

        off = (size_t) snprintf(text, sizeof(text), "forward = (\n");
        for (int i = 0; i < 6; i++)
                off += (size_t) snprintf(text + off, sizeof(text) - off,
                                         "{ allow = \"smtp\"; from = \"198.18.0.%d\"; to = \"198.18.2.%d\"; },\n", i + 1,
                                         i + 10);
        snprintf(text + off - 2, sizeof(text) - off + 2, "\n);\n");
        write_file("g.conf", text);
        p = load("g.conf", &d);
        assert_non_null(p);
        assert_int_equal(pst_compile(p, NULL, &d, &rs), 0);
        set = pst_set_find(rs, "forward_hosts_v4_tcp");
        assert_true(set >= 0);
        assert_int_equal(rs->sets[set].n, 6);
        assert_int_equal(rs->sets[set].nfields, 3);
        assert_int_equal(rs->sets[set].klen, 12);
        /* ct vmap, icmp, icmpv6, the one lookup */
        assert_int_equal(rs->chains[pst_chain_find(rs, "forward")].n, 4);
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_diag_clear(&d);
}

static void test_contradiction(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;

        write_file("x.conf", "hosts = { a = \"198.18.0.1\"; b = \"2001:db8::1\"; };\n"
                             "forward = ( { allow = \"smtp\"; from = \"a\"; to = \"b\"; } );\n");
        p = load("x.conf", &d);
        assert_non_null(p);
        assert_int_equal(pst_compile(p, NULL, &d, &rs), -EINVAL);
        assert_null(rs);
        assert_int_equal(d.n_errors, 1);
        assert_int_equal(d.items[0].line, 2);
        assert_non_null(strstr(d.items[0].msg, "can never match"));
        pst_policy_free(p);
        pst_diag_clear(&d);
}

/* nat = (...): the model, then the nat chains and their statements (issue 17) */
static void nat_check_model(const struct pst_policy *p) {
        const struct pst_nat_rule *f = &p->nat[1];

        assert_int_equal(p->nnat, 2);
        assert_int_equal(p->nat[0].kind, PST_PNAT_MASQ);
        assert_string_equal(p->nat[0].out->name, "wan");
        assert_int_equal(p->nat[0].from.kind, PST_EP_ZONE);
        assert_int_equal(f->kind, PST_PNAT_FORWARD);
        assert_string_equal(f->on, "ppp0");
        assert_true(f->ipv6);
        assert_int_equal(f->to_addr.family, AF_INET);
        assert_int_equal(f->to_addr6.family, AF_INET6);
        assert_int_equal(f->nports, 3);
        assert_int_equal(f->ports[0].first, 25);
        assert_int_equal(f->ports[0].to, 0);
        assert_int_equal(f->ports[1].first, 8443);
        assert_int_equal(f->ports[1].to, 443);
        assert_int_equal(f->ports[2].proto, IPPROTO_UDP);
        assert_int_equal(f->ports[2].last, 1010);
        assert_int_equal(f->loc.line, 5);
}

static void test_nat(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;
        struct pst_ifaddrs ifa = {};
        const struct pst_rule *r;
        uint32_t changed[4];
        int pre, post;

        write_file("n.conf", "zones = { wan = { interfaces = [\"ppp0\"]; }; lan = { interfaces = [\"eth1\"]; }; };\n"
                             "hosts = { mail = [\"198.18.2.10\", \"2001:db8:2::10\"]; };\n"
                             "input = ();\nnat = ( { masquerade = { out = \"wan\"; from = \"lan\"; }; },\n"
                             "  { forward = { on = \"(ppp0)\"; tcp = (25, \"8443:443\"); udp = \"1000-1010\"; to = \"mail\";\n"
                             "                ipv6 = true; }; } );\n");
        p = load("n.conf", &d);
        assert_non_null(p);
        nat_check_model(p);
        add_ifaddr(&ifa, "ppp0", "198.18.0.1");
        assert_int_equal(pst_compile(p, &ifa, &d, &rs), 0);
        pre = pst_chain_find(rs, "prerouting");
        post = pst_chain_find(rs, "postrouting");
        assert_true(pre >= 0 && post >= 0);
        assert_int_equal(rs->chains[pre].hook, PST_HOOK_PREROUTING);
        assert_int_equal(rs->chains[pre].priority, PST_PRIO_DSTNAT);
        assert_int_equal(rs->chains[post].priority, PST_PRIO_SRCNAT);
        /* masquerade: IPv4 only (no ipv6 = true), meta nfproto first: no address implies it */
        assert_int_equal(rs->chains[post].n, 1);
        r = &rs->chains[post].rules[0];
        assert_int_equal(r->nat.kind, PST_NAT_MASQ);
        assert_int_equal(r->match[0].fields[0], PST_F_NFPROTO);
        /* v4: tcp 25, udp 1000-1010, tcp 8443 → :443; v6 the same */
        assert_int_equal(rs->chains[pre].n, 6);
        r = &rs->chains[pre].rules[1];
        assert_int_equal(r->nat.kind, PST_NAT_DNAT);
        assert_int_equal(r->nat.port, 443);
        assert_int_equal(r->verdict.kind, PST_V_NONE);
        assert_string_equal(rs->sets[r->match[1].set].name, "ifaddr_ppp0_v4");
        assert_int_equal(rs->chains[pre].rules[3].nat.family, AF_INET6);
        /* the implied forward accepts: ct status dnat first */
        r = find_rule(rs, "forward", rs->chains[pst_chain_find(rs, "forward")].n - 1);
        assert_int_equal(r->match[0].fields[0], PST_F_CT_STATUS);
        assert_int_equal(r->verdict.kind, PST_V_ACCEPT);
        /* a reconnect: the one set, not the rules */
        ifa.v[0].addr.a[3] = 5;
        assert_int_equal(pst_ruleset_update_ifaddrs(rs, &ifa, 4, changed), 1);
        assert_int_equal(changed[0], (uint32_t) pst_set_find(rs, "ifaddr_ppp0_v4"));
        pst_ifaddrs_clear(&ifa);
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_diag_clear(&d);
}

/* an input rule on a port a forward takes away: a warning at the input rule's line */
static void test_nat_shadow(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;

        write_file("s.conf", "hosts = { mail = [\"198.18.2.10\"]; };\n"
                             "input = ( { allow = [\"https\", \"smtp\"]; to = \"(ppp0)\"; } );\n"
                             "nat = ( { forward = { on = \"(ppp0)\"; tcp = [25]; to = \"mail\"; }; } );\n");
        p = load("s.conf", &d);
        assert_non_null(p);
        assert_int_equal(pst_compile(p, NULL, &d, &rs), 0);
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.items[0].severity, PST_WARNING);
        assert_int_equal(d.items[0].line, 2);
        assert_non_null(strstr(d.items[0].msg, "tcp port 25 to (ppp0) is forwarded by the nat rule at "));
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_diag_clear(&d);
}

/* options.rematch: the stamp of a compiled policy, checked for consistency
 * (the rematch chain tests what the stamp chain writes; every other accept
 * jumps to the stamp chain). */
static uint32_t rematch_stamp_of(const char *name, const char *text, const char *ifaddr) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;
        struct pst_ifaddrs ifa = {};
        int rm, st;
        uint32_t stamp, tested;

        write_file(name, text);
        p = load(name, &d);
        assert_non_null(p);
        add_ifaddr(&ifa, "ppp0", ifaddr);
        assert_int_equal(pst_compile(p, &ifa, &d, &rs), 0);
        rm = pst_chain_find(rs, "rematch");
        st = pst_chain_find(rs, "rematch_stamp");
        assert_true(rm >= 0 && st == rm + 1);
        assert_int_equal(rs->chains[rm].n, 3);
        assert_int_equal(rs->chains[st].n, 2);
        stamp = rs->chains[st].rules[0].ct_stamp;
        memcpy(&tested, rs->chains[rm].rules[0].match[0].value, 4);
        assert_int_equal(tested, stamp);
        assert_true(stamp != 0 && (stamp & ~PST_REMATCH_MASK) == 0);
        assert_int_equal(rs->chains[st].rules[1].ct_stamp, 0);
        for (size_t i = 0; i < rs->nchains; i++)
                for (size_t j = 0; (int) i != rm && (int) i != st && j < rs->chains[i].n; j++)
                        assert_int_not_equal(rs->chains[i].rules[j].verdict.kind, PST_V_ACCEPT);
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_ifaddrs_clear(&ifa);
        pst_diag_clear(&d);
        return stamp;
}

static void test_rematch_stamp(void **state) {
        static const char *const a = "options = { rematch = true; };\n"
                                     "lists = { office = { addresses = [\"198.18.7.0/24\"]; }; };\n"
                                     "input = ( { allow = \"ssh\"; from = \"office\"; comment = \"one\"; },\n"
                                     "          { allow = \"smtp\"; to = \"(ppp0)\"; } );\n";
        /* the same rules: other comment, other lines */
        static const char *const a2 = "options = { rematch = true; };\n\n\n"
                                      "lists = { office = { addresses = [\"198.18.7.0/24\"]; }; };\n"
                                      "input = ( { allow = \"ssh\"; from = \"office\"; comment = \"two\"; },\n\n"
                                      "          { allow = \"smtp\"; to = \"(ppp0)\"; } );\n";
        /* one more list entry */
        static const char *const b = "options = { rematch = true; };\n"
                                     "lists = { office = { addresses = [\"198.18.7.0/24\", \"198.18.9.1\"]; }; };\n"
                                     "input = ( { allow = \"ssh\"; from = \"office\"; comment = \"one\"; },\n"
                                     "          { allow = \"smtp\"; to = \"(ppp0)\"; } );\n";
        /* one port less */
        static const char *const c = "options = { rematch = true; };\n"
                                     "lists = { office = { addresses = [\"198.18.7.0/24\"]; }; };\n"
                                     "input = ( { allow = \"ssh\"; from = \"office\"; comment = \"one\"; } );\n";
        uint32_t sa = rematch_stamp_of("ra.conf", a, "198.18.0.1");
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;

        (void) state;
        assert_int_equal(rematch_stamp_of("ra.conf", a, "198.18.0.1"), sa);
        /* interface addresses change at runtime: not part of the stamp */
        assert_int_equal(rematch_stamp_of("ra.conf", a, "198.18.0.77"), sa);
        assert_int_equal(rematch_stamp_of("ra2.conf", a2, "198.18.0.1"), sa);
        assert_int_not_equal(rematch_stamp_of("rb.conf", b, "198.18.0.1"), sa);
        assert_int_not_equal(rematch_stamp_of("rc.conf", c, "198.18.0.1"), sa);

        /* off: no chain, no statement */
        write_file("r0.conf", "input = ( { allow = \"ssh\"; } );\n");
        p = load("r0.conf", &d);
        assert_non_null(p);
        assert_false(p->options.rematch);
        assert_int_equal(pst_compile(p, NULL, &d, &rs), 0);
        assert_true(pst_chain_find(rs, "rematch") < 0 && pst_chain_find(rs, "rematch_stamp") < 0);
        for (size_t i = 0; i < rs->nchains; i++)
                for (size_t j = 0; j < rs->chains[i].n; j++)
                        assert_int_equal(rs->chains[i].rules[j].ct_stamp, 0);
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_diag_clear(&d);
}

/* The evaluator through the rematch chains: a new packet is decided by its
 * policy rule (not by the stamp chain it jumps to), an established one by
 * chain rematch (no stamp: not ours, accepted as before). */
static void test_rematch_eval(void **state) {
        struct pst_diag d;
        struct pst_policy *p;
        struct pst_ruleset *rs = NULL;
        struct pst_packet pkt = { .l4proto = IPPROTO_TCP, .sport = 40000, .dport = 22, .iifname = "eth1" };
        struct pst_eval_result res;

        (void) state;
        write_file("re.conf", "options = { rematch = true; };\n"
                              "zones = { lan = { interfaces = [\"eth1\"]; }; };\n"
                              "input = ( { allow = \"ssh\"; from = \"lan\"; } );\n");
        p = load("re.conf", &d);
        assert_non_null(p);
        assert_int_equal(pst_compile(p, NULL, &d, &rs), 0);
        assert_int_equal(pst_packet_set_addrs(&pkt, "198.18.1.10", "198.18.1.1"), 0);
        assert_int_equal(pst_eval(rs, PST_HOOK_INPUT, &pkt, &res), 0);
        assert_int_equal(res.verdict, PST_V_ACCEPT);
        assert_false(res.by_policy);
        assert_int_equal(res.origin.line, 3);
        assert_string_equal(rs->chains[res.chain].name, "input_lan");
        pkt.dport = 25;
        assert_int_equal(pst_eval(rs, PST_HOOK_INPUT, &pkt, &res), 0);
        assert_int_equal(res.verdict, PST_V_DROP);
        assert_true(res.by_policy);
        pkt.ct_state = PST_CT_ESTABLISHED;
        assert_int_equal(pst_eval(rs, PST_HOOK_INPUT, &pkt, &res), 0);
        assert_int_equal(res.verdict, PST_V_ACCEPT);
        assert_string_equal(rs->chains[res.chain].name, "rematch");
        assert_int_equal(res.rule, 2);
        assert_int_equal(res.origin.line, 1);
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_diag_clear(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_catalog),   cmocka_unit_test(test_model),
                cmocka_unit_test(test_errors_collected), cmocka_unit_test(test_fragments),
                cmocka_unit_test(test_compile),   cmocka_unit_test(test_merge),
                cmocka_unit_test(test_ifaddr_link),
                cmocka_unit_test(test_contradiction), cmocka_unit_test(test_restrict),
                cmocka_unit_test(test_groups_fragments),
                cmocka_unit_test(test_nat),       cmocka_unit_test(test_nat_shadow),
                cmocka_unit_test(test_rematch_stamp), cmocka_unit_test(test_rematch_eval),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
