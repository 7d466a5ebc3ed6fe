/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternctl stats and metrics: the counters of table inet postern's rules,
 * from a netlink dump of that table's rules only (never `nft list`, which
 * fetches every element of every set), mapped back to the policy rules
 * that made them through rs (the daemon's running ruleset, or the policy
 * compiled here): chain, FILE:LINE and comment.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "snapshot.h"

/* stats: a table (or --json), one line per rule with a counter.  Returns
 * posternctl's exit status. */
int ctl_stats(const struct pst_ruleset *rs, bool json);

/* metrics: the Prometheus text exposition format (version 0.0.4), as
 * node_exporter's textfile collector reads it.  Returns the exit status. */
int ctl_metrics(const struct pst_ruleset *rs, FILE *f);

/* The daemon's running ruleset (SaveRunning(), the file read and removed),
 * the kernel's generation after its last commit and the snapshot's meta
 * (either may be NULL), or a negative errno when no posternd vouches for
 * one (posternctl diff then reads the kernel, stats compiles the policy). */
int ctl_running_ruleset(struct pst_ruleset **ret, uint32_t *ret_gen, struct pst_snapshot_meta *ret_meta);
