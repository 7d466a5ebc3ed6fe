/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* posternctl diff: the live table against what a compiled policy would install. */

#include <stdbool.h>

#include "diag.h"
#include "ir.h"
#include "policy.h"
#include "service.h"

/* Element lines shown per set before "... and N more". */
#define CTL_DIFF_SHOWN 20

struct ctl_diff_opts {
        const char *label; /* the policy file, for the "+++" line */
        bool json;
        bool nft;                          /* the nft listings' diff instead of the policy's words */
        const struct pst_policy *policy;   /* service names: the policy's own, */
        const struct pst_catalog *catalog; /* then the catalog's */
};

/*
 * Compare table inet <rs->table> in this network namespace with rs and print
 * the difference to stdout: the structure (chains, rules, set declarations)
 * as a unified diff of both sides' nft listings without the named sets'
 * elements, then the elements added and removed per named set.  rs's named
 * sets are emptied in a child process only.  Returns 0 when both are the
 * same, 1 when they differ, a negative errno (and diag) on failure.
 */
int ctl_diff(struct pst_ruleset *rs, const struct ctl_diff_opts *o, struct pst_diag *diag);
