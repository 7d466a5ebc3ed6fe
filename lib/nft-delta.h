/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Reload in O(change): the nf_tables batch that turns the running ruleset
 * (old, the IR we last committed) into new, carrying only what differs.
 *
 *   named sets      matched by name; elements diffed range by range (an
 *                   interval leaves and comes as its start and end element
 *                   together, the way nft deletes one: the kernel's interval
 *                   tree refuses a lone end or start that would cut a kept
 *                   range)
 *   chains          matched by name; rules diffed per chain (the longest
 *                   common subsequence stays — common head and tail, then
 *                   Myers' walk over the middle, up to 128 edits; the rest
 *                   is deleted by handle and inserted before the next rule
 *                   that stays, NFTA_RULE_POSITION)
 *   anonymous sets  belong to their rule: a rule whose set changed is
 *                   replaced
 *
 * Kept rules keep their counters; kept elements (interface addresses among
 * them) are not touched.  Anything the delta was not written for falls back
 * to the full replace (-EOPNOTSUPP and a reason): another table name, a
 * base chain whose hook, priority or policy changed, a chain kind it does
 * not know, a set whose key, flags or comment changed, any field of the IR
 * it does not compare (ir.h grew: memcmp of the rest says "changed").
 *
 * The batch is guarded by the generation our last commit left
 * (NFNL_BATCH_GENID): if anyone committed since, the kernel refuses it
 * whole (-ERESTART) and the caller replaces the table instead.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ir.h"
#include "nft.h"

/* What a reload did (also for the iptables backend: full = true). */
struct pst_delta_stats {
        bool full;       /* the whole table was replaced */
        const char *why; /* why not a delta (static text), NULL when a delta was sent */
        bool nothing;    /* no change at all: no kernel write */
        size_t rules_added, rules_removed;
        size_t elems_added, elems_removed; /* IR elements (ranges) of named sets */
        size_t sets_added, sets_removed, chains_added, chains_removed;
        uint64_t send_usec; /* the delta's sendmsg() to its last ACK, µs (the kernel's part; 0: nothing sent) */
};

/* The kernel's handles of the rules of one ruleset, per chain in IR order. */
struct pst_nft_handles;

/* Read the handles of rs's rules from the kernel (one dump of the table's
 * rules); -ESTALE when the table does not hold rs's chains and rule counts. */
int pst_nft_handles_read(const struct pst_ruleset *rs, struct pst_nft_handles **ret);
void pst_nft_handles_free(struct pst_nft_handles *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_nft_handles *, pst_nft_handles_free);
/* Handles first, first + 1, ... for rs's rules in chain order, as a kernel
 * that numbered nothing else would give them (tests). */
int pst_nft_handles_fake(const struct pst_ruleset *rs, uint64_t first, struct pst_nft_handles **ret);
/* Handle of rule ri of chain ci (tests). */
uint64_t pst_nft_handle(const struct pst_nft_handles *h, size_t ci, size_t ri);

/*
 * The delta batch from old (described by h) to new, guarded by genid.
 * 0: *ret is the batch, or NULL when nothing changes, *ret_handles what
 * new's handles will be once it is committed (0 for rules the kernel will
 * number: pst_nft_handles_complete()).  -EOPNOTSUPP: st->why says why a
 * full replace is needed.  Other negative errno: new is malformed (diag).
 */
int pst_nft_delta_build(const struct pst_ruleset *old, const struct pst_ruleset *new,
                        const struct pst_nft_handles *h, uint32_t genid, struct pst_nft_batch **ret,
                        struct pst_nft_handles **ret_handles, struct pst_delta_stats *st, struct pst_diag *diag);

/* Fill the 0 handles of h (rules of rs a delta added) from the kernel: one
 * dump per chain that has any. */
int pst_nft_handles_complete(const struct pst_ruleset *rs, struct pst_nft_handles *h);

/*
 * Build, send, complete: *h describes old on entry and new on success (on
 * failure it is freed and NULL: the caller replaces the table, which reads
 * them anew).  -EOPNOTSUPP / -ERESTART: replace the table instead.
 */
int pst_nft_apply_delta(struct pst_nft *nft, const struct pst_ruleset *old, const struct pst_ruleset *new,
                        uint32_t genid, struct pst_nft_handles **h, struct pst_delta_stats *st,
                        struct pst_diag *diag);

/* What pst_nft_delta_build() would put in a batch from old to new, without
 * the kernel (posternctl diff against posternd's running ruleset). */
int pst_nft_delta_count(const struct pst_ruleset *old, const struct pst_ruleset *new, struct pst_delta_stats *st,
                        struct pst_diag *diag);

/* "3 rules added, 2 removed, 1 element added, 0 removed" and so on. */
void pst_delta_stats_format(const struct pst_delta_stats *st, char *buf, size_t size);
