/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel side of the nf_tables backend test (driven by nft-diff.sh, which
 * runs every step in a fresh network namespace):
 *
 *   nft-diff apply  full   apply sample_full() (see nft-sample.h)
 *   nft-diff check  full   the same batch without END (check mode)
 *   nft-diff owner  full   apply with NFT_TABLE_F_OWNER|NFT_TABLE_F_PERSIST and exit
 *   nft-diff hold   full   the same, print "ready", keep the socket until stdin closes,
 *                          then apply once more on the same socket (the owner may)
 *   nft-diff update full   apply, then replace the dynamic set's elements with
 *                          pst_nft_update_set() (198.18.9.2, 198.18.9.3/32)
 *   nft-diff bad           apply sample_bad(): must fail; prints the diagnostics
 *   nft-diff show|show-json [TABLE]   pst_show_table(); exit 3 (and the
 *                          message) when the table does not exist
 *   nft-diff big           100,000 CIDRs + 2,000 rules; prints build and send times
 *   nft-diff dump   full   print the batch the way `nft --debug=netlink` does
 *                          (expressions and set elements), without a kernel
 *
 * Prints nothing and exits 0 on success; diagnostics on stderr and exit 1
 * on failure.
 */
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "diag.h"
#include "nft.h"
#include "show.h"
#include "nft-sample.h"

static int fail(struct pst_diag *d, int r, const char *what) {
        pst_diag_print(d, stderr);
        fprintf(stderr, "nft-diff: %s: %s\n", what, strerror(-r));
        return 1;
}

static int dump(const struct pst_ruleset *rs) {
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        struct pst_apply_opts o = {};
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        r = pst_nft_batch_build(rs, &o, 1, &b, &d);
        if (r < 0)
                return fail(&d, r, "build");
        for (size_t i = 0; i < pst_nft_batch_nbufs(b); i++) {
                size_t len;
                const struct nlmsghdr *nlh = pst_nft_batch_buf(b, i, &len);
                int left = (int) len;

                for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

                        if (type == NFT_MSG_NEWRULE) {
                                struct nftnl_rule *nr = nftnl_rule_alloc();

                                if (!nr || nftnl_rule_nlmsg_parse(nlh, nr) < 0)
                                        return 1;
                                nftnl_rule_fprintf(stdout, nr, NFTNL_OUTPUT_DEFAULT, 0);
                                printf("\n");
                                nftnl_rule_free(nr);
                        } else if (type == NFT_MSG_NEWSETELEM) {
                                struct nftnl_set *ns = nftnl_set_alloc();

                                if (!ns || nftnl_set_elems_nlmsg_parse(nlh, ns) < 0)
                                        return 1;
                                nftnl_set_fprintf(stdout, ns, NFTNL_OUTPUT_DEFAULT, 0);
                                printf("\n");
                                nftnl_set_free(ns);
                        }
                }
        }
        pst_diag_clear(&d);
        return 0;
}

/* P2-sized: 100,000 CIDRs in one interval set and 2,000 rules in one chain.
 * Prints the build and send+ACK times. */
static int big(void) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_(pst_nft_closep) struct pst_nft *nft = NULL;
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        enum pst_field f = PST_F_IP_SADDR;
        struct pst_apply_opts o = {};
        uint32_t si, ci;
        struct pst_diag d;
        uint64_t t0, t1, t2;
        int r;

        pst_diag_init(&d);
        if (pst_ruleset_new(&rs) < 0 || pst_chain_add(rs, "forward", PST_HOOK_FORWARD, PST_V_DROP, &ci) < 0 ||
            pst_set_add(rs, "allow", PST_SET_INTERVAL, &f, 1, &si) < 0)
                return 1;
        for (uint32_t k = 0; k < 100000; k++) {
                /* 10.0.0.0/8 cut into /27s, every other one, alternately /27 and /32 */
                uint32_t a = (10u << 24) | (k << 6), l = a | ((k & 1) ? 0 : 31);
                uint8_t fk[4], lk[4];

                a = htonl(a);
                l = htonl(l);
                memcpy(fk, &a, 4);
                memcpy(lk, &l, 4);
                if (pst_set_add_elem(&rs->sets[si], fk, lk, NULL) < 0)
                        return 1;
        }
        for (uint32_t k = 0; k < 2000; k++) {
                struct pst_rule rule = { .nmatch = 3, .verdict = { PST_V_ACCEPT } };
                uint8_t v[PST_KEY_MAX] = {};
                uint32_t a = htonl((198u << 24) | (18u << 16) | k);

                memcpy(v, &a, 4);
                pst_match_eq(&rule.match[0], PST_F_IP_SADDR, v, false);
                a = htonl((198u << 24) | (19u << 16) | k);
                memcpy(v, &a, 4);
                pst_match_eq(&rule.match[1], PST_F_IP_DADDR, v, false);
                memset(v, 0, sizeof(v));
                key_port(v, (uint16_t) (1000 + k));
                pst_match_eq(&rule.match[2], PST_F_TCP_DPORT, v, false);
                if (pst_rule_add(rs, ci, &rule) < 0)
                        return 1;
        }
        r = pst_nft_open(&nft);
        if (r < 0)
                return fail(&d, r, "open");
        t0 = now_usec();
        r = pst_nft_batch_build(rs, &o, 1, &b, &d);
        if (r < 0)
                return fail(&d, r, "build");
        t1 = now_usec();
        r = pst_nft_batch_send(nft, b, &d);
        if (r < 0)
                return fail(&d, r, "send");
        t2 = now_usec();
        printf("build %.1f ms, send+ack %.1f ms, %zu messages, %zu bytes in %zu buffers\n", (t1 - t0) / 1000.0,
               (t2 - t1) / 1000.0, pst_nft_batch_nmsgs(b), pst_nft_batch_len(b), pst_nft_batch_nbufs(b));
        pst_diag_clear(&d);
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_(pst_nft_closep) struct pst_nft *nft = NULL;
        struct pst_apply_opts o = {};
        const char *mode = argc > 1 ? argv[1] : "";
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        if (streq(mode, "big"))
                return big();
        if (streq(mode, "show") || streq(mode, "show-json")) {
                _cleanup_free_ char *text = NULL;

                r = pst_show_table(argc > 2 ? argv[2] : PST_TABLE, streq(mode, "show-json") ? PST_SHOW_JSON : 0, &d, &text);
                if (r < 0) {
                        pst_diag_print(&d, stdout);
                        pst_diag_clear(&d);
                        return r == -ENOENT ? 3 : 1;
                }
                fputs(text, stdout);
                return 0;
        }
        if (streq(mode, "bad"))
                rs = sample_bad();
        else if (argc > 2 && streq(argv[2], "full"))
                rs = sample_full();
        else {
                fprintf(stderr, "usage: nft-diff apply|check|owner|hold|update|dump full | nft-diff bad\n");
                return 2;
        }
        if (streq(mode, "dump"))
                return dump(rs);

        r = pst_nft_open(&nft);
        if (r < 0)
                return fail(&d, r, "open");

        if (streq(mode, "bad")) {
                r = pst_nft_apply(nft, rs, &o, &d);
                if (r >= 0) {
                        fprintf(stderr, "nft-diff: the kernel accepted a bad ruleset\n");
                        return 1;
                }
                pst_diag_print(&d, stdout);
                pst_diag_clear(&d);
                return 0;
        }
        if (streq(mode, "check"))
                o.check_only = true;
        if (streq(mode, "owner") || streq(mode, "hold"))
                o.table_flags = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;

        r = pst_nft_apply(nft, rs, &o, &d);
        if (r < 0)
                return fail(&d, r, "apply");

        if (streq(mode, "hold")) {
                char buf[64];

                printf("ready\n");
                fflush(stdout);
                while (fread(buf, 1, sizeof(buf), stdin) > 0)
                        ;
                /* The owner itself may replace its table. */
                r = pst_nft_apply(nft, rs, &o, &d);
                if (r < 0)
                        return fail(&d, r, "apply again as owner");
        } else if (streq(mode, "update")) {
                struct pst_set *s = &rs->sets[S_IFA];

                pst_set_clear(s);
                sample_add4(rs, S_IFA, "198.18.9.2", 32);
                sample_add4(rs, S_IFA, "198.18.9.3", 32);
                r = pst_nft_update_set(nft, rs, S_IFA, &d);
                if (r < 0)
                        return fail(&d, r, "update_set");
        } else if (!streq(mode, "apply") && !streq(mode, "check") && !streq(mode, "owner")) {
                fprintf(stderr, "nft-diff: unknown mode %s\n", mode);
                return 2;
        }
        pst_diag_clear(&d);
        return 0;
}
