/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by the kernel suite's C tests: a non-fatal CHECK that prints
 * ok/FAIL lines, compiling a seed example as the CLI does, and listing
 * our table. */

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pipeline.h"
#include "compile.h"
#include "policy.h"
#include "nft.h"
#include "show.h"

static int failed;
#define CHECK(cond, ...)                                   \
        do {                                               \
                if (!(cond)) {                             \
                        printf("FAIL: " __VA_ARGS__);      \
                        printf("\n");                      \
                        failed = 1;                        \
                } else                                     \
                        printf("ok: %s\n", #cond);         \
        } while (0)

/* A network namespace of this process's own, or exit 77 (not root, no namespaces). */
static inline void check_private_netns(void) {
        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
                printf("skipped: needs root and network namespaces\n");
                exit(77);
        }
}

/* The catalog and an nf_tables socket, or exit 77 (none there). */
static inline void check_catalog_and_nft(const char *catalog, struct pst_catalog **cat, struct pst_nft **nft,
                                         struct pst_diag *d) {
        if (pst_catalog_new(cat) < 0 || pst_catalog_load(*cat, catalog, pst_source_flags_from_env(), d) < 0 ||
            pst_nft_open(nft) < 0) {
                printf("skipped: no catalog or no nf_tables\n");
                exit(77);
        }
}

/* conf/examples/<example> under root, compiled with ifa; exits on error. */
static inline struct pst_ruleset *compile_example(const struct pst_catalog *cat, const char *root,
                                                  const char *example, const struct pst_ifaddrs *ifa) {
        struct pst_policy *p = NULL;
        struct pst_ruleset *rs = NULL;
        struct pst_diag d;
        char path[4096];

        snprintf(path, sizeof(path), "%s/conf/examples/%s", root, example);
        pst_diag_init(&d);
        if (pst_policy_load(path, cat, pst_source_flags_from_env(), &d, &p) < 0 || pst_compile(p, ifa, &d, &rs) < 0) {
                pst_diag_print(&d, stdout);
                exit(1);
        }
        pst_policy_free(p);
        pst_diag_clear(&d);
        return rs;
}

/* `nft list table inet postern`, counters included; "" when there is none */
static inline char *list_table(void) {
        struct pst_diag d;
        char *text = NULL;

        pst_diag_init(&d);
        if (pst_show_table(PST_TABLE, 0, &d, &text) < 0)
                text = strdup("");
        pst_diag_clear(&d);
        return text;
}
