/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The generation guard of pst_nft_apply(), in a private network namespace,
 * watched through the kernel's own notifications (NFNLGRP_NFTABLES: every
 * committed object change, then NEWGEN):
 *   1. a first apply into a fresh namespace commits no DELTABLE (nothing to
 *      delete: the batch is guarded by the generation instead), exactly one
 *      NEWTABLE; the old unguarded batch (NEWTABLE+DELTABLE+NEWTABLE) into
 *      a second fresh namespace does show its DELTABLE, so the watch can see
 *      one;
 *   2. an apply over the existing table replaces it (one DELTABLE);
 *   3. a batch of another ruleset built with a stale generation (current-1)
 *      is refused with -ERESTART: no notification at all, the generation
 *      and `nft list table` byte-identical;
 *   4. the same batch with the current generation commits.
 * Exit 0 ok, 1 failure, 77 skipped (not root / no nf_tables).
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <sched.h>
#include <string.h>

#include "check.h"
#include "nft.h"
#include "show.h"

struct counts {
        unsigned newtable, deltable, newgen, other;
};

/* A socket subscribed to NFNLGRP_NFTABLES in the current namespace. */
static struct mnl_socket *watch_open(void) {
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
        int group = NFNLGRP_NFTABLES, rcvbuf = 4 << 20;

        if (!nl)
                return NULL;
        (void) setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
            mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
                mnl_socket_close(nl);
                return NULL;
        }
        return nl;
}

/* Every notification queued so far (the kernel queues them before it
 * acknowledges the batch's END, so they are all there once a send returned). */
static struct counts watch_drain(struct mnl_socket *nl) {
        static char buf[1 << 16] __attribute__((aligned(4)));
        struct counts c = {};
        ssize_t n;

        while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
                int len = (int) n;

                for (const struct nlmsghdr *h = (const void *) buf; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
                        unsigned type = h->nlmsg_type & 0xff;

                        if (h->nlmsg_type >> 8 != NFNL_SUBSYS_NFTABLES)
                                c.other++;
                        else if (type == NFT_MSG_NEWTABLE)
                                c.newtable++;
                        else if (type == NFT_MSG_DELTABLE)
                                c.deltable++;
                        else if (type == NFT_MSG_NEWGEN)
                                c.newgen++;
                        else
                                c.other++;
                }
        }
        return c;
}

/* Part 1's control: what the batch did before the guard, in its own fresh namespace. */
static void unguarded_first_apply(const struct pst_ruleset *rs) {
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        struct pst_nft *nft = NULL;
        struct mnl_socket *w;
        struct counts c;
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        CHECK(unshare(CLONE_NEWNET) == 0, "unshare: %m");
        w = watch_open();
        CHECK(w && pst_nft_open(&nft) == 0, "netlink sockets");
        if (!w || !nft)
                return;
        r = pst_nft_batch_build(rs, &(struct pst_apply_opts) {}, 0, &b, &d);
        if (r == 0)
                r = pst_nft_batch_send(nft, b, &d);
        CHECK(r == 0, "unguarded first apply: %s", strerror(-r));
        c = watch_drain(w);
        CHECK(c.deltable == 1 && c.newtable == 2 && c.newgen == 1,
              "the unguarded batch: %u NEWTABLE, %u DELTABLE, %u NEWGEN (expected 2, 1, 1)", c.newtable, c.deltable,
              c.newgen);
        pst_nft_close(nft);
        mnl_socket_close(w);
        pst_diag_clear(&d);
}

/* 3. and 4.: a batch of other, built with genid, sent over the table rs installed. */
static void stale_batch(struct pst_nft *nft, struct mnl_socket *w, const struct pst_ruleset *other) {
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        uint32_t gen = 0, after = 0;
        char *before, *now;
        struct counts c;
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        before = list_table();
        CHECK(pst_nft_genid(nft, &gen) == 0 && gen > 0, "GETGEN");
        r = pst_nft_batch_build(other, &(struct pst_apply_opts) { .guard_genid = true, .genid = gen - 1 }, 0, &b, &d);
        CHECK(r == 0, "build: %s", strerror(-r));
        r = pst_nft_batch_send(nft, b, &d);
        CHECK(r == -ERESTART, "a batch guarded by generation %u (now %u) was not refused with ERESTART: %s",
              gen - 1, gen, strerror(-r));
        c = watch_drain(w);
        CHECK(c.newtable + c.deltable + c.newgen + c.other == 0, "the refused batch notified %u messages",
              c.newtable + c.deltable + c.newgen + c.other);
        CHECK(pst_nft_genid(nft, &after) == 0 && after == gen, "generation %u after the refused batch, was %u",
              after, gen);
        now = list_table();
        CHECK(strlen(before) > 0 && streq(before, now), "the table changed under a refused batch:\n%s", now);
        free(now);

        /* the guard with the current generation lets the same kind of batch through */
        pst_nft_batch_free(TAKE_PTR(b));
        pst_diag_clear(&d);
        r = pst_nft_batch_build(other, &(struct pst_apply_opts) { .guard_genid = true, .genid = gen }, 0, &b, &d);
        if (r == 0)
                r = pst_nft_batch_send(nft, b, &d);
        CHECK(r == 0, "a batch guarded by the current generation: %s", strerror(-r));
        CHECK(pst_nft_genid(nft, &after) == 0 && after == gen + 1, "generation %u after the commit, expected %u",
              after, gen + 1);
        now = list_table();
        CHECK(!streq(before, now), "the guarded batch of another ruleset did not change the table");
        free(now);
        free(before);
        (void) watch_drain(w);
        pst_diag_clear(&d);
}

int main(void) {
        const char *root = getenv("POSTERN_SOURCE_ROOT"), *catalog = getenv("POSTERN_CATALOG");
        _cleanup_(pst_catalog_freep) struct pst_catalog *cat = NULL;
        struct pst_ruleset *rs, *other;
        struct pst_nft *nft = NULL;
        struct mnl_socket *w;
        struct counts c;
        struct pst_diag d;
        int r;

        check_private_netns();
        if (!root || !catalog)
                return 1;
        pst_diag_init(&d);
        check_catalog_and_nft(catalog, &cat, &nft, &d);
        w = watch_open();
        if (!w) {
                printf("skipped: no catalog or no nf_tables\n");
                return 77;
        }
        rs = compile_example(cat, root, "004-dialup-mail-server.conf", NULL);
        other = compile_example(cat, root, "001-citrix-exchange-rpc.conf", NULL);

        /* 1. first apply: guarded by the generation, no DELTABLE */
        r = pst_nft_apply(nft, rs, &(struct pst_apply_opts) {}, &d);
        CHECK(r == 0, "first apply: %s", strerror(-r));
        c = watch_drain(w);
        CHECK(c.deltable == 0 && c.newtable == 1 && c.newgen == 1,
              "first apply into a fresh namespace: %u NEWTABLE, %u DELTABLE, %u NEWGEN (expected 1, 0, 1)",
              c.newtable, c.deltable, c.newgen);

        /* 2. the table exists: replaced */
        r = pst_nft_apply(nft, rs, &(struct pst_apply_opts) {}, &d);
        CHECK(r == 0, "second apply: %s", strerror(-r));
        c = watch_drain(w);
        CHECK(c.deltable == 1 && c.newgen == 1, "apply over the table: %u DELTABLE, %u NEWGEN (expected 1, 1)",
              c.deltable, c.newgen);

        stale_batch(nft, w, other);
        pst_nft_close(nft);
        mnl_socket_close(w);
        unguarded_first_apply(rs); /* last: it leaves this namespace */

        pst_ruleset_free(rs);
        pst_ruleset_free(other);
        pst_diag_clear(&d);
        return failed;
}
