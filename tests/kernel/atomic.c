/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Atomicity and error mapping, in a private network namespace:
 *   1. apply example 004; remember `nft list table inet postern`;
 *   2. compile example 001 and append, at the very end of the batch, a rule
 *      the kernel must refuse (a chain jumping to itself: ELOOP) that claims
 *      to come from "atomic-test.conf:42";
 *   3. the apply fails, the error names atomic-test.conf:42, and the live
 *      table is byte-identical to step 1 — nothing of the half-processed
 *      batch remains;
 *   4. check mode of a valid ruleset leaves the table as it was too.
 * Exit 0 ok, 1 failure, 77 skipped (not root / no nf_tables).
 */
#include <sched.h>

#include "pipeline.h"
#include "check.h"
#include "nft.h"
#include "show.h"

int main(int argc, char **argv) {
        const char *root = getenv("POSTERN_SOURCE_ROOT"), *catalog = getenv("POSTERN_CATALOG");
        _cleanup_(pst_catalog_freep) struct pst_catalog *cat = NULL;
        struct pst_ruleset *good, *bad;
        struct pst_nft *nft = NULL;
        struct pst_diag d;
        char *before, *after;
        struct pst_rule loop = { .verdict = { PST_V_JUMP, 0 } };
        uint32_t file;
        int r;

        check_private_netns();
        if (!root || !catalog)
                return 1;
        pst_diag_init(&d);
        check_catalog_and_nft(catalog, &cat, &nft, &d);

        good = compile_example(cat, root, "004-dialup-mail-server.conf", NULL);
        r = pst_nft_apply(nft, good, &(struct pst_apply_opts) {}, &d);
        CHECK(r == 0, "apply 004: %s", strerror(-r));
        before = list_table();

        bad = compile_example(cat, root, "001-citrix-exchange-rpc.conf", NULL);
        loop.verdict.chain = (uint32_t) bad->nchains - 1;
        pst_ruleset_file(bad, "atomic-test.conf", &file);
        loop.origin = (struct pst_origin) { .file = file, .line = 42 };
        pst_rule_add(bad, (uint32_t) bad->nchains - 1, &loop);
        r = pst_nft_apply(nft, bad, &(struct pst_apply_opts) {}, &d);
        CHECK(r < 0, "the kernel accepted a chain that jumps to itself");
        pst_diag_print(&d, stdout);
        CHECK(d.n > 0 && d.items[0].file && streq(d.items[0].file, "atomic-test.conf") && d.items[0].line == 42,
              "the kernel error is not mapped to atomic-test.conf:42");
        after = list_table();
        CHECK(streq(before, after), "the table changed after a rejected batch:\n%s", after);
        free(after);

        /* check mode of a valid ruleset: validated, nothing changes */
        pst_diag_clear(&d);
        bad->chains[bad->nchains - 1].n--; /* without the loop */
        r = pst_nft_apply(nft, bad, &(struct pst_apply_opts) { .check_only = true }, &d);
        CHECK(r == 0, "check mode of a valid ruleset failed: %s", strerror(-r));
        after = list_table();
        CHECK(streq(before, after), "check mode changed the table");

        free(before);
        free(after);
        pst_ruleset_free(good);
        pst_ruleset_free(bad);
        pst_nft_close(nft);
        pst_diag_clear(&d);
        return failed;
}
