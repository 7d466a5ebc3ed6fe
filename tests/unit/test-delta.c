/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nft-delta.h without the kernel: what the delta from one ruleset to another
 * holds (pst_nft_delta_count), what falls back to a full replace and why,
 * and the messages of a delta batch (deletions by handle, insertion before
 * the first kept rule, element deletions as start + end).
 */
#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "nft-delta.h"
#include "nft-internal.h"

static void add_range(struct pst_set *s, const char *a, const char *b) {
        uint8_t x[4], y[4];

        inet_pton(AF_INET, a, x);
        inet_pton(AF_INET, b, y);
        assert_int_equal(pst_set_add_elem(s, x, y, NULL), 0);
}

/* input (drop): ip saddr @allow accept; tcp dport P accept for each port */
static struct pst_ruleset *make(enum pst_verdict_kind policy, const char *const *ranges, size_t nranges,
                                const uint16_t *ports, size_t nports) {
        struct pst_ruleset *rs = NULL;
        enum pst_field f = PST_F_IP_SADDR;
        uint32_t ci, si;

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_chain_add(rs, "input", PST_HOOK_INPUT, policy, &ci), 0);
        assert_int_equal(pst_set_add(rs, "allow", PST_SET_INTERVAL, &f, 1, &si), 0);
        for (size_t i = 0; i < nranges; i++)
                add_range(&rs->sets[si], ranges[2 * i], ranges[2 * i + 1]);
        assert_int_equal(pst_set_normalize(&rs->sets[si]), 0);
        {
                struct pst_rule r = { .nmatch = 1, .counter = true, .verdict = { PST_V_ACCEPT, 0 } };

                pst_match_set(&r.match[0], PST_F_IP_SADDR, si);
                assert_int_equal(pst_rule_add(rs, ci, &r), 0);
        }
        for (size_t i = 0; i < nports; i++) {
                struct pst_rule r = { .nmatch = 1, .counter = true, .verdict = { PST_V_ACCEPT, 0 } };
                uint16_t p = htons(ports[i]);

                pst_match_eq(&r.match[0], PST_F_TCP_DPORT, &p, false);
                assert_int_equal(pst_rule_add(rs, ci, &r), 0);
        }
        return rs;
}

static const char *const base_ranges[] = { "198.18.1.0", "198.18.1.255", "198.18.3.0", "198.18.3.255" };
static const uint16_t base_ports[] = { 22, 25, 443 };

static void count(const struct pst_ruleset *a, const struct pst_ruleset *b, struct pst_delta_stats *st, int want) {
        struct pst_diag d;

        pst_diag_init(&d);
        assert_int_equal(pst_nft_delta_count(a, b, st, &d), want);
        pst_diag_clear(&d);
}

static void test_counts(void **state) {
        static const char *const more[] = { "198.18.1.0", "198.18.1.255", "198.18.3.0", "198.18.3.255",
                                            "198.18.5.0", "198.18.5.0" };
        static const char *const merged[] = { "198.18.1.0", "198.18.1.255", "198.18.2.0", "198.18.3.255" };
        static const uint16_t ports2[] = { 22, 80, 443 };
        struct pst_ruleset *a = make(PST_V_DROP, base_ranges, 2, base_ports, 3);
        struct pst_ruleset *same = make(PST_V_DROP, base_ranges, 2, base_ports, 3);
        struct pst_ruleset *b = make(PST_V_DROP, more, 3, base_ports, 3);
        struct pst_ruleset *c = make(PST_V_DROP, base_ranges, 2, ports2, 3);
        struct pst_ruleset *m = make(PST_V_DROP, merged, 2, base_ports, 3);
        struct pst_delta_stats st;

        count(a, same, &st, 0);
        assert_true(st.nothing && !st.full);
        count(a, b, &st, 0);
        assert_true(!st.nothing && st.elems_added == 1 && st.elems_removed == 0 && st.rules_added == 0 &&
                    st.rules_removed == 0);
        count(a, c, &st, 0); /* port 25 → 80: one rule replaced, the others keep their place */
        assert_true(st.rules_added == 1 && st.rules_removed == 1 && st.elems_added == 0);
        {
                /* two rules far apart change: the ones between them stay (longest common subsequence) */
                static const uint16_t p4[] = { 22, 25, 443, 993, 995 }, q4[] = { 23, 25, 443, 993, 996 };
                struct pst_ruleset *x = make(PST_V_DROP, base_ranges, 2, p4, 5);
                struct pst_ruleset *y = make(PST_V_DROP, base_ranges, 2, q4, 5);

                count(x, y, &st, 0);
                assert_true(st.rules_added == 2 && st.rules_removed == 2);
                count(y, x, &st, 0);
                assert_true(st.rules_added == 2 && st.rules_removed == 2);
                pst_ruleset_free(x), pst_ruleset_free(y);
        }
        /* the entry between the two ranges merges them into one: both go, the merged one comes */
        count(a, m, &st, 0);
        assert_true(st.elems_added == 1 && st.elems_removed == 2);
        pst_ruleset_free(a), pst_ruleset_free(same), pst_ruleset_free(b), pst_ruleset_free(c), pst_ruleset_free(m);
}

/* An old set that holds an element twice (not what the compiler leaves; a
 * set read back could): the window between the common start and end must
 * not take the second copy for one that goes, while the first stays. */
static void test_window_duplicate(void **state) {
        static const char *const three[] = { "198.18.1.0", "198.18.1.0", "198.18.2.0", "198.18.2.0",
                                             "198.18.4.0", "198.18.4.0" };
        struct pst_ruleset *a = make(PST_V_DROP, three, 3, base_ports, 3);
        struct pst_ruleset *b = make(PST_V_DROP, three, 3, base_ports, 3);
        struct pst_set *s = &a->sets[0];
        struct pst_delta_stats st;

        /* old: .1, .2, .2, .4 (still in order) */
        add_range(s, "198.18.4.0", "198.18.4.0");
        memcpy(s->keys + 3 * 8, s->keys + 2 * 8, 8);
        memcpy(s->keys + 2 * 8, s->keys + 1 * 8, 8);
        assert_int_equal(s->n, 4);
        count(a, b, &st, 0);
        assert_int_equal(st.elems_removed, 0);
        assert_int_equal(st.elems_added, 0);
        assert_true(st.nothing);
        pst_ruleset_free(a), pst_ruleset_free(b);
}

/* A list-only reload's copy (pst_ruleset_dup) shares the running ruleset's
 * rule arrays: an element more is an element more and nothing else; a rule
 * whose bytes are shared but whose set is another one is replaced (the
 * bytes' identity is no proof); a rule added unshares, and either side
 * outlives the other. */
static void test_shared_rules(void **state) {
        static const char *const more[] = { "198.18.1.0", "198.18.1.255", "198.18.3.0", "198.18.3.255",
                                            "198.18.5.0", "198.18.5.0" };
        struct pst_ruleset *a = make(PST_V_DROP, base_ranges, 2, base_ports, 3), *b = NULL, *c = NULL;
        struct pst_delta_stats st;

        assert_int_equal(pst_ruleset_dup(a, NULL, NULL, &b), 0);
        assert_ptr_equal(a->chains[0].rules, b->chains[0].rules);
        assert_true(a->rules_ref && a->rules_ref == b->rules_ref && *a->rules_ref == 2);
        count(a, b, &st, 0);
        assert_true(st.nothing);
        add_range(&b->sets[0], more[4], more[5]);
        count(a, b, &st, 0);
        assert_true(st.elems_added == 1 && st.elems_removed == 0 && st.rules_added == 0 && st.rules_removed == 0);

        assert_int_equal(pst_ruleset_dup(a, NULL, NULL, &c), 0);
        assert_int_equal(*a->rules_ref, 3);
        strcpy(c->sets[0].name, "other");
        count(a, c, &st, 0);
        assert_true(st.sets_added == 1 && st.sets_removed == 1 && st.rules_added == 1 && st.rules_removed == 1);

        {
                struct pst_rule r = { .nmatch = 0, .verdict = { PST_V_DROP, 0 } };

                assert_int_equal(pst_rule_add(c, 0, &r), 0);
        }
        assert_ptr_not_equal(c->chains[0].rules, a->chains[0].rules);
        assert_null(c->rules_ref);
        assert_int_equal(*a->rules_ref, 2);
        assert_int_equal(c->chains[0].n, 5);
        pst_ruleset_free(a); /* b's rules live on */
        assert_int_equal(*b->rules_ref, 1);
        assert_int_equal(b->chains[0].rules[2].match[0].value[1], 25);
        count(b, b, &st, 0);
        assert_true(st.nothing);
        pst_ruleset_free(b), pst_ruleset_free(c);
}

static void test_full(void **state) {
        struct pst_ruleset *a = make(PST_V_DROP, base_ranges, 2, base_ports, 3);
        struct pst_ruleset *b = make(PST_V_ACCEPT, base_ranges, 2, base_ports, 3);
        struct pst_delta_stats st;

        count(a, b, &st, -EOPNOTSUPP);
        assert_true(st.full);
        assert_string_equal(st.why, "a chain changed its hook, priority or policy");
        pst_ruleset_free(b);
        b = make(PST_V_DROP, base_ranges, 2, base_ports, 3);
        b->sets[0].flags &= ~PST_SET_INTERVAL;
        b->sets[0].n = 0;
        count(a, b, &st, -EOPNOTSUPP);
        assert_string_equal(st.why, "a set changed its key, flags or comment");
        pst_ruleset_free(b);
        b = make(PST_V_DROP, base_ranges, 2, base_ports, 3);
        strcpy(b->table, "other");
        count(a, b, &st, -EOPNOTSUPP);
        assert_string_equal(st.why, "another table");
        pst_ruleset_free(a), pst_ruleset_free(b);
}

/* a's rules plus rpc pinholes: ip saddr . ip daddr . tcp dport @rpc_1_v4 accept */
static struct pst_ruleset *with_pinholes(struct pst_ruleset *rs, uint32_t timeout) {
        enum pst_field f[3] = { PST_F_IP_SADDR, PST_F_IP_DADDR, PST_F_TCP_DPORT };
        struct pst_rule r = { .nmatch = 1, .counter = true, .verdict = { PST_V_ACCEPT, 0 } };
        uint32_t si;

        assert_int_equal(pst_set_add(rs, "rpc_1_v4", PST_SET_TIMEOUT, f, 3, &si), 0);
        rs->sets[si].timeout = timeout;
        rs->sets[si].size = 1024;
        r.match[0] = (struct pst_match) { .op = PST_M_SET, .nfields = 3, .set = si };
        memcpy(r.match[0].fields, f, sizeof(f));
        assert_int_equal(pst_rule_add(rs, 0, &r), 0);
        return rs;
}

/* The kernel's pinholes are no IR elements: a kept set is left alone (no element
 * message, not deleted), a changed one falls back to a full replace. */
static void test_pinholes(void **state) {
        static const uint16_t ports2[] = { 22, 80, 443 };
        struct pst_ruleset *a = with_pinholes(make(PST_V_DROP, base_ranges, 2, base_ports, 3), 120);
        struct pst_ruleset *b = with_pinholes(make(PST_V_DROP, base_ranges, 1, ports2, 3), 120);
        struct pst_ruleset *c = with_pinholes(make(PST_V_DROP, base_ranges, 2, base_ports, 3), 600);
        struct pst_delta_stats st;

        count(a, b, &st, 0);
        assert_true(!st.full && st.sets_added == 0 && st.sets_removed == 0 && st.elems_removed == 1 &&
                    st.elems_added == 0 && st.rules_added == 1 && st.rules_removed == 1);
        count(a, c, &st, -EOPNOTSUPP);
        assert_string_equal(st.why, "a set changed its key, flags or comment");
        pst_ruleset_free(c);
        c = with_pinholes(make(PST_V_DROP, base_ranges, 2, base_ports, 3), 120);
        {
                uint8_t key[PST_KEY_MAX] = { 198, 18, 1, 2, 198, 18, 2, 10, 0xc0, 0x01 };

                /* cannot come from the compiler */
                assert_int_equal(pst_set_add_elem(&c->sets[1], key, NULL, NULL), 0);
                count(a, c, &st, -EOPNOTSUPP);
                assert_string_equal(st.why, "elements in a pinhole set");
        }
        pst_ruleset_free(a), pst_ruleset_free(b), pst_ruleset_free(c);
}

/* rs plus the output chain of an input rule's pinholes: the reply copy
 * ip daddr 198.18.3.5 tcp sport 135 log group 18 prefix "rpc_1_v4" */
static struct pst_ruleset *with_output(struct pst_ruleset *rs) {
        struct pst_rule r = { .nmatch = 2, .log_nflog = true, .log_group = 18 };
        uint8_t cag[4] = { 198, 18, 3, 5 };
        uint16_t port = htons(135);
        uint32_t oi;

        assert_int_equal(pst_chain_add(rs, "output", PST_HOOK_OUTPUT, PST_V_ACCEPT, &oi), 0);
        pst_match_eq(&r.match[0], PST_F_IP_DADDR, cag, false);
        pst_match_eq(&r.match[1], PST_F_TCP_SPORT, &port, false);
        strcpy(r.log_prefix, "rpc_1_v4");
        assert_int_equal(pst_rule_add(rs, oi, &r), 0);
        return rs;
}

/* The output chain is a base chain the delta knows: a reload that keeps it
 * is a delta (which keeps the input rule's pinholes); its coming or going
 * is a full replace. */
static void test_output_chain(void **state) {
        static const uint16_t ports2[] = { 22, 80, 443 };
        struct pst_ruleset *a = with_output(with_pinholes(make(PST_V_DROP, base_ranges, 2, base_ports, 3), 120));
        struct pst_ruleset *b = with_output(with_pinholes(make(PST_V_DROP, base_ranges, 2, ports2, 3), 120));
        struct pst_ruleset *c = with_pinholes(make(PST_V_DROP, base_ranges, 2, base_ports, 3), 120);
        struct pst_delta_stats st;

        count(a, b, &st, 0);
        assert_true(!st.full && st.rules_added == 1 && st.rules_removed == 1 && st.sets_added == 0 &&
                    st.sets_removed == 0);
        count(a, a, &st, 0);
        assert_true(st.nothing);
        count(a, c, &st, -EOPNOTSUPP);
        assert_string_equal(st.why, "a base chain goes");
        count(c, a, &st, -EOPNOTSUPP);
        assert_string_equal(st.why, "a new base chain");
        /* the copy changes: one rule replaced in output, input kept */
        pst_ruleset_free(b);
        b = with_output(with_pinholes(make(PST_V_DROP, base_ranges, 2, base_ports, 3), 120));
        assert_int_equal(b->chains[1].hook, PST_HOOK_OUTPUT);
        strcpy(b->chains[1].rules[0].log_prefix, "rpc_2_v4");
        count(a, b, &st, 0);
        assert_true(!st.full && st.rules_added == 1 && st.rules_removed == 1);
        pst_ruleset_free(a), pst_ruleset_free(b), pst_ruleset_free(c);
}

/* The nf_tables messages of a batch, BEGIN/END left out. */
static size_t msgs(const struct pst_nft_batch *b, const struct nlmsghdr **out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < pst_nft_batch_nbufs(b); i++) {
                size_t len;
                const struct nlmsghdr *nlh = pst_nft_batch_buf(b, i, &len);
                int left = (int) len;

                for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
                        if ((nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES && n < max)
                                out[n++] = nlh;
        }
        return n;
}

/* The u64 attribute type of message nlh (NFTA_RULE_HANDLE, NFTA_RULE_POSITION), 0 if none. */
static uint64_t attr_u64(const struct nlmsghdr *nlh, uint16_t type) {
        const struct nlattr *a;

        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == type)
                        return be64toh(mnl_attr_get_u64(a));
        return 0;
}

static size_t nelems(const struct nlmsghdr *nlh) {
        const struct nlattr *a, *e;
        size_t n = 0;

        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
                        mnl_attr_for_each_nested(e, a)
                                n++;
        return n;
}

static void test_batch(void **state) {
        static const char *const fewer[] = { "198.18.1.0", "198.18.1.255" };
        static const uint16_t ports2[] = { 22, 80, 443 };
        struct pst_ruleset *a = make(PST_V_DROP, base_ranges, 2, base_ports, 3);
        struct pst_ruleset *b = make(PST_V_DROP, fewer, 1, ports2, 3);
        struct pst_nft_handles *h = NULL, *nh = NULL;
        struct pst_nft_batch *batch = NULL;
        const struct nlmsghdr *m[16];
        struct pst_delta_stats st;
        struct pst_diag d;

        pst_diag_init(&d);
        assert_int_equal(pst_nft_delta_build(a, b, NULL, 7, &batch, &nh, &st, &d), -EOPNOTSUPP);
        assert_string_equal(st.why, "the running table's rule handles are not known");
        /* the kernel's handles: the set rule 11, tcp 22 12, tcp 25 13, tcp 443 14 */
        assert_int_equal(pst_nft_handles_fake(a, 11, &h), 0);
        assert_int_equal(pst_nft_delta_build(a, b, h, 7, &batch, &nh, &st, &d), 0);
        assert_non_null(batch);
        assert_int_equal(msgs(batch, m, ELEMENTSOF(m)), 3);
        /* 198.18.3.0/24 goes: its start and its end element */
        assert_int_equal(m[0]->nlmsg_type & 0xff, NFT_MSG_DELSETELEM);
        assert_int_equal(nelems(m[0]), 2);
        /* tcp 25 goes by handle; tcp 80 comes before tcp 443 (handle 14), not appended */
        assert_int_equal(m[1]->nlmsg_type & 0xff, NFT_MSG_DELRULE);
        assert_int_equal(attr_u64(m[1], NFTA_RULE_HANDLE), 13);
        assert_int_equal(m[2]->nlmsg_type & 0xff, NFT_MSG_NEWRULE);
        assert_int_equal(attr_u64(m[2], NFTA_RULE_POSITION), 14);
        assert_false(m[2]->nlmsg_flags & NLM_F_APPEND);
        /* new's handles: kept ones known, the new rule's (0) for the kernel to say */
        assert_int_equal(pst_nft_handle(nh, 0, 0), 11);
        assert_int_equal(pst_nft_handle(nh, 0, 1), 12);
        assert_int_equal(pst_nft_handle(nh, 0, 2), 0);
        assert_int_equal(pst_nft_handle(nh, 0, 3), 14);
        pst_nft_batch_free(batch);
        pst_nft_handles_free(h), pst_nft_handles_free(nh);
        pst_diag_clear(&d);
        pst_ruleset_free(a), pst_ruleset_free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counts), cmocka_unit_test(test_window_duplicate),
                cmocka_unit_test(test_full), cmocka_unit_test(test_shared_rules),
                cmocka_unit_test(test_output_chain),
                cmocka_unit_test(test_pinholes),
                cmocka_unit_test(test_batch),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
