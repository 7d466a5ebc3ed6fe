/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The two forms of a planned iptables rule agree, without a kernel: for
 * every rule of every seed example (with and without ipset), the -m and
 * -j/-g names of iptc_rule_text() are, in order, the match and target
 * names of iptc_rule_entry(), and the entry's offsets add up.  (The kernel
 * suite's iptc test checks the same through iptables-legacy-save.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <net/if.h> /* before any <linux/if.h> */
#include <netinet/in.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "addr.h"
#include "compile.h"
#include "iptc-internal.h"
#include "pipeline.h"
#include "policy.h"
#include "service.h"

#define NAMES_MAX 32

struct names {
        char v[NAMES_MAX][XT_EXTENSION_MAXNAMELEN];
        size_t n;
};

static void names_add(struct names *n, const char *s, size_t len) {
        assert_true(n->n < NAMES_MAX);
        assert_true(len < XT_EXTENSION_MAXNAMELEN);
        memcpy(n->v[n->n], s, len);
        n->v[n->n++][len] = 0;
}

/* The word at *p (a quoted one as iptables-save quotes it), *p moved past it. */
static size_t next_word(const char **p, const char **ret_word) {
        const char *s = *p + strspn(*p, " "), *e = s;

        if (*e == '"') {
                for (e++; *e && *e != '"'; e++)
                        if (*e == '\\' && e[1])
                                e++;
                e += *e == '"';
        } else
                e += strcspn(e, " ");
        *p = e;
        *ret_word = s;
        return (size_t) (e - s);
}

/* "-A CHAIN ... -m NAME ... -j NAME": the names after -m, -j and -g */
static void text_names(const char *line, struct names *ret) {
        const char *p = line, *w;
        size_t l;

        ret->n = 0;
        while ((l = next_word(&p, &w)) > 0) {
                bool ext = l == 2 && (!strncmp(w, "-m", 2) || !strncmp(w, "-j", 2) || !strncmp(w, "-g", 2));

                if (ext) {
                        l = next_word(&p, &w);
                        names_add(ret, w, l);
                }
        }
}

static void entry_names(int xf, const uint8_t *e, size_t size, struct names *ret) {
        size_t off = xf == XF_4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
        uint16_t toff = xf == XF_4 ? ((const struct ipt_entry *) e)->target_offset
                                   : ((const struct ip6t_entry *) e)->target_offset;
        uint16_t next = xf == XF_4 ? ((const struct ipt_entry *) e)->next_offset
                                   : ((const struct ip6t_entry *) e)->next_offset;
        const struct xt_entry_target *t = (const struct xt_entry_target *) (e + toff);

        ret->n = 0;
        while (off < toff) {
                const struct xt_entry_match *m = (const struct xt_entry_match *) (e + off);

                assert_true(m->u.user.match_size >= sizeof(*m));
                names_add(ret, m->u.user.name, strlen(m->u.user.name));
                off += m->u.user.match_size;
        }
        assert_int_equal(off, toff); /* the matches end where the target starts */
        assert_int_equal(toff + t->u.user.target_size, next);
        assert_int_equal(next, size);
        names_add(ret, t->u.user.name, strlen(t->u.user.name));
}

static void check_plan(const struct iptc_plan *p) {
        for (int xf = XF_4; xf <= XF_6; xf++)
                for (size_t i = 0; i < p->fam[xf].n; i++) {
                        const struct xrule *x = &p->fam[xf].rules[i];
                        uint8_t entry[IPTC_ENTRY_MAX] __attribute__((aligned(8)));
                        _cleanup_free_ char *text = NULL;
                        size_t tlen = 0, size;
                        struct names tn, en;
                        FILE *f = open_memstream(&text, &tlen);

                        assert_non_null(f);
                        iptc_rule_text(p, xf, x, f);
                        assert_int_equal(fclose(f), 0);
                        size = iptc_rule_entry(p, xf, x, entry);
                        text_names(text, &tn);
                        entry_names(xf, entry, size, &en);
                        if (tn.n != en.n)
                                fail_msg("%s: %zu names in the text, %zu in the entry", text, tn.n, en.n);
                        for (size_t k = 0; k < tn.n; k++)
                                if (!streq(tn.v[k], en.v[k]))
                                        fail_msg("%s: name %zu is %s in the text, %s in the entry", text, k,
                                                 tn.v[k], en.v[k]);
                }
}

static void test_examples(void **state) {
        static const char *const examples[] = {
                "000-safesquid-outlook.conf", "001-citrix-exchange-rpc.conf", "002-isa-frontend-backend.conf",
                "003-exchange-fixed-rpc.conf", "004-dialup-mail-server.conf",
        };
        static const char *const ifaddrs[][2] = {
                { "eth0", "198.18.0.1" }, { "eth0", "2001:db8::1" }, { "ppp0", "198.18.0.1" },
        };
        const char *root = getenv("POSTERN_SOURCE_ROOT"), *catalog = getenv("POSTERN_CATALOG");
        struct pst_catalog cat = {};
        struct pst_ifaddrs ifa = {};
        struct pst_diag d;
        size_t nrules = 0;

        if (!root || !catalog)
                skip();
        pst_diag_init(&d);
        assert_int_equal(pst_catalog_load(&cat, catalog, pst_source_flags_from_env(), &d), 0);
        for (size_t i = 0; i < ELEMENTSOF(ifaddrs); i++) {
                struct pst_addr a;
                bool hostbits;

                assert_int_equal(pst_addr_parse(ifaddrs[i][1], &a, &hostbits), 0);
                assert_int_equal(pst_ifaddrs_add(&ifa, ifaddrs[i][0], &a), 0);
        }
        for (size_t e = 0; e < ELEMENTSOF(examples); e++) {
                _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
                struct pst_policy *pol = NULL;
                char path[4096];

                snprintf(path, sizeof(path), "%s/conf/examples/%s", root, examples[e]);
                assert_int_equal(pst_policy_load(path, &cat, pst_source_flags_from_env(), &d, &pol), 0);
                assert_int_equal(pst_compile(pol, &ifa, &d, &rs), 0);
                pst_policy_free(pol);
                for (int use_ipset = 0; use_ipset <= 1; use_ipset++) {
                        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;

                        assert_int_equal(iptc_plan_build(rs, use_ipset, NULL, &d, &p), 0);
                        check_plan(p);
                        nrules += p->fam[XF_4].n + p->fam[XF_6].n;
                }
        }
        assert_true(nrules > 0);
        pst_ifaddrs_clear(&ifa);
        pst_catalog_clear(&cat);
        pst_diag_clear(&d);
}

/* An output chain (input rules' rpc replies, compile.c rpc_logs) never
 * reaches iptables: refused by itself, before the pinhole set is looked at. */
static void test_output_chain(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;
        struct pst_rule r = { .verdict = { PST_V_ACCEPT, 0 }, .origin = { .line = 7 } };
        struct pst_diag d;
        uint32_t in, out;

        (void) state;
        pst_diag_init(&d);
        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_chain_add(rs, "input", PST_HOOK_INPUT, PST_V_DROP, &in), 0);
        assert_int_equal(pst_chain_add(rs, "output", PST_HOOK_OUTPUT, PST_V_ACCEPT, &out), 0);
        assert_int_equal(pst_ruleset_file(rs, "p.conf", &r.origin.file), 0);
        assert_int_equal(pst_rule_add(rs, out, &r), 0);
        assert_int_equal(iptc_plan_build(rs, false, NULL, &d, &p), -EOPNOTSUPP);
        assert_null(p);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.items[0].file, "p.conf");
        assert_int_equal(d.items[0].line, 7);
        assert_string_equal(d.items[0].msg, "iptables backend: rpc pinholes need the nftables backend (a set whose "
                                            "elements the endpoint mapper's replies add and that expire)");
        pst_diag_clear(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples),
                cmocka_unit_test(test_output_chain),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
