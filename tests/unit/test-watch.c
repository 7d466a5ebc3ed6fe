/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nft-watch.c on hand-made nf_tables notifications (no kernel): whose
 * commits are drift on our table, and which mark other tables' chains or
 * rules as changed (the foreign-chain scan's trigger).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>

#include "backend.h"
#include "nft.h"

#define OWN 99u
#define OTHER 1234u
#define READER 777u

struct msgs {
        uint8_t buf[8192];
        size_t len;
};

static void put(struct msgs *m, int type, uint8_t family, uint32_t portid, const char *table) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(m->buf + m->len);
        struct nfgenmsg *nfg;

        nlh->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | type);
        nlh->nlmsg_pid = portid;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = family;
        if (table)
                mnl_attr_put_strz(nlh, 1, table); /* NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE} are all 1 */
        m->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void put_gen(struct msgs *m, uint32_t pid, const char *comm) {
        struct nlmsghdr *nlh;

        put(m, NFT_MSG_NEWGEN, AF_UNSPEC, 0, NULL);
        nlh = (struct nlmsghdr *) (m->buf + m->len - NLMSG_ALIGN(sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg)));
        mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(pid));
        mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, comm);
        m->len = (size_t) ((uint8_t *) nlh - m->buf) + NLMSG_ALIGN(nlh->nlmsg_len);
}

static struct pst_nft_watch *watch_or_skip(void) {
        struct pst_nft_watch *w = NULL;
        int r = pst_nft_watch_open("postern", &w);

        if (r < 0) {
                print_message("cannot open the watch (%s): skipped\n", strerror(-r));
                skip();
        }
        return w;
}

static int run(struct pst_nft_watch *w, const struct msgs *m, uint32_t own, struct pst_drift *d) {
        *d = (struct pst_drift) {};
        return pst_nft_watch_process(w, m->buf, m->len, own, d);
}

static void test_other_table(void **state) {
        _cleanup_(pst_nft_watch_closep) struct pst_nft_watch *w = watch_or_skip();
        struct msgs m = {};
        struct pst_drift d;

        put(&m, NFT_MSG_NEWCHAIN, NFPROTO_IPV4, OTHER, "rogue");
        put_gen(&m, 4242, "rogue-fw");
        assert_int_equal(run(w, &m, OWN, &d), 0);
        assert_true(d.elsewhere);
        /* the same commit as our own: nothing */
        assert_int_equal(run(w, &m, OTHER, &d), 0);
        assert_false(d.elsewhere);
        /* a table of ours in another family is someone else's table */
        m = (struct msgs) {};
        put(&m, NFT_MSG_NEWRULE, NFPROTO_IPV6, OTHER, "postern");
        put_gen(&m, 4242, "rogue-fw");
        assert_int_equal(run(w, &m, OWN, &d), 0);
        assert_true(d.elsewhere);
        /* set elements of another table: no chain or rule changed */
        m = (struct msgs) {};
        put(&m, NFT_MSG_NEWSETELEM, NFPROTO_INET, OTHER, "docker");
        put_gen(&m, 4242, "dockerd");
        assert_int_equal(run(w, &m, OWN, &d), 0);
        assert_false(d.elsewhere);
}

static void test_ours(void **state) {
        _cleanup_(pst_nft_watch_closep) struct pst_nft_watch *w = watch_or_skip();
        struct msgs m = {};
        struct pst_drift d;

        put(&m, NFT_MSG_DELTABLE, NFPROTO_INET, OTHER, "postern");
        put_gen(&m, 4242, "rogue-fw");
        assert_int_equal(run(w, &m, OWN, &d), 1);
        assert_true(d.deleted);
        assert_false(d.elsewhere);
        assert_int_equal(d.pid, 4242);
        assert_string_equal(d.comm, "rogue-fw");
        assert_int_equal(d.portid, OTHER);
        /* nft flush ruleset: ours and another table in one commit */
        m = (struct msgs) {};
        put(&m, NFT_MSG_DELTABLE, NFPROTO_IPV4, OTHER, "filter");
        put(&m, NFT_MSG_DELTABLE, NFPROTO_INET, OTHER, "postern");
        put_gen(&m, 4243, "nft");
        assert_int_equal(run(w, &m, OWN, &d), 1);
        assert_true(d.deleted && d.elsewhere);
        assert_string_equal(d.comm, "nft");
        /* our own commit is no drift */
        assert_int_equal(run(w, &m, OTHER, &d), 0);
        assert_false(d.elsewhere);
}

/* the rpc reader's pinholes: commits of a trusted port (posternd's other socket) are ours */
static void test_trusted(void **state) {
        _cleanup_(pst_nft_watch_closep) struct pst_nft_watch *w = watch_or_skip();
        struct msgs m = {};
        struct pst_drift d;

        put(&m, NFT_MSG_NEWSETELEM, NFPROTO_INET, READER, "postern");
        put_gen(&m, 4244, "posternd");
        assert_int_equal(run(w, &m, OWN, &d), 1); /* not trusted yet: someone else */
        assert_int_equal(d.portid, READER);
        pst_nft_watch_trust(w, READER);
        assert_int_equal(run(w, &m, OWN, &d), 0);
        /* trusting the reader does not make others ours */
        m = (struct msgs) {};
        put(&m, NFT_MSG_NEWSETELEM, NFPROTO_INET, OTHER, "postern");
        put_gen(&m, 4242, "nft");
        assert_int_equal(run(w, &m, OWN, &d), 1);
        assert_int_equal(d.portid, OTHER);
        /* no reader any more (0): its port is nobody's */
        pst_nft_watch_trust(w, 0);
        m = (struct msgs) {};
        put(&m, NFT_MSG_NEWSETELEM, NFPROTO_INET, READER, "postern");
        put_gen(&m, 4244, "posternd");
        assert_int_equal(run(w, &m, OWN, &d), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_other_table),
                cmocka_unit_test(test_ours),
                cmocka_unit_test(test_trusted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
