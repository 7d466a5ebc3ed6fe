/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The built-in fail-closed ruleset, for a daemon that has no valid policy
 * at boot and no table left by a previous run: rather than leaving the host
 * open, allow only what keeps it reachable and working —
 *
 *   chain input (policy drop)
 *     ct state vmap { invalid : drop, established : accept, related : accept }
 *     iifname "lo" accept
 *     icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
 *     icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
 *     icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
 *     [ip saddr CIDR] tcp dport 22 accept         only when SSH is allowed
 *   chain forward (policy drop)
 *     ct state vmap { ... }
 *
 * It is compiled from a built-in policy (icmp = "essential", forward_icmp =
 * "none", one SSH rule) by the same compiler as every policy, so its prelude
 * is theirs and an established admin session survives the switch to it.
 */

#include <stdbool.h>

#include "addr.h"
#include "cfg.h"
#include "ir.h"

#define PST_EMERGENCY_FROM_MAX 16

/* The policy's optional top-level block:
 *   emergency = { ssh = true; ssh_from = "198.18.9.0/24"; };   (or a list)
 * ssh_from without ssh means ssh = true; no ssh_from means from anywhere. */
struct pst_emergency {
        bool ssh;
        size_t nfrom;
        struct pst_addr from[PST_EMERGENCY_FROM_MAX];
        struct pst_loc loc; /* of the block; file NULL when it came from elsewhere */
};

/* Parse the block (a libconfig group) into e.  Unknown keys are errors. */
int pst_emergency_parse(struct pst_cfg *c, const config_setting_t *g, struct pst_emergency *e);

/*
 * Read only the emergency block of the main policy file at path, for when
 * the policy as a whole does not load: a policy with a typo in a rule still
 * says who may log in to fix it.  -ENOENT when the file has no such block;
 * another negative errno (and diag) when the file or the block is unusable.
 */
int pst_emergency_load(const char *path, unsigned source_flags, struct pst_diag *diag, struct pst_emergency *ret);

/* The fail-closed ruleset for table inet postern. */
int pst_emergency_ruleset(const struct pst_emergency *e, struct pst_ruleset **ret);
