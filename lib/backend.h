/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The backends: what puts a compiled ruleset into the kernel.  posternctl
 * and posternd only call these; which backend does the work is one table of
 * operations per backend (backend-ops.h), as libnftnl keeps one ops table per
 * expression:
 *
 *   nftables   backend-nft.c  → nft.c (libnftnl + libmnl, one batch)
 *   iptables   backend-iptc.c → iptc.c (libiptc + ipset), when built with it
 *
 *   pst_backend_open()        resolve "auto" against the kernel, open
 *   pst_backend_apply()       replace the whole ruleset atomically
 *   pst_backend_update_set()  refill one interface-address set
 *   pst_backend_adopt()       keep what a previous run left (fail-closed boot)
 *   pst_backend_render()      the ruleset as the backend's own text (no kernel)
 *
 * The policy's options.backend says which backend, a command line's
 * --backend overrides it, and "auto" means nf_tables when the kernel has it,
 * else iptables.
 */

#include <stdbool.h>
#include <stdio.h>

#include "diag.h"
#include "ir.h"
#include "nft-delta.h" /* struct pst_delta_stats */

enum pst_backend_kind {
        PST_BACKEND_AUTO, /* nf_tables when the kernel has it, else iptables */
        PST_BACKEND_NFTABLES,
        PST_BACKEND_IPTABLES,
        _PST_BACKEND_MAX,
};

const char *pst_backend_name(enum pst_backend_kind b);
/* "auto", "nftables", "iptables"; -EINVAL for anything else */
int pst_backend_from_string(const char *s, enum pst_backend_kind *ret);

/* An open backend: its operations and their state (a kept-open socket). */
struct pst_backend;

/*
 * Open the backend want names; AUTO probes the kernel (nf_tables first, then
 * legacy iptables).  -EOPNOTSUPP: this build has no iptables backend;
 * -EPROTONOSUPPORT: the kernel has neither.  diag says which, in words.
 *
 * The table carries no ownership flags (NFT_TABLE_F_OWNER/PERSIST): with
 * them Debian 12's nft 1.0.6 cannot save and restore the ruleset (EPERM
 * while the owner lives, an unparsable bare "flags" line once it is gone),
 * and Linux before 6.9 has no PERSIST, so OWNER alone would delete the
 * table with the daemon.  The daemon watches instead (pst_backend_watch_*)
 * and puts its ruleset back when someone else changes it.
 */
int pst_backend_open(enum pst_backend_kind want, struct pst_diag *diag, struct pst_backend **ret);
void pst_backend_close(struct pst_backend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_backend *, pst_backend_close);

/* Which backend b is (never AUTO). */
enum pst_backend_kind pst_backend_kind(const struct pst_backend *b);
/* Is b what want asks for?  AUTO accepts any. */
bool pst_backend_matches(const struct pst_backend *b, enum pst_backend_kind want);

/* Atomically replace our whole ruleset with rs.  On error nothing changed and
 * diag says what the kernel refused, mapped to the policy line. */
int pst_backend_apply(struct pst_backend *b, const struct pst_ruleset *rs, struct pst_diag *diag);

/*
 * rs replaces old, the ruleset b committed last: nf_tables sends only what
 * changed (nft-delta.h: kept rules keep their counters, kept elements stay,
 * no change sends nothing) when it can, else — and the iptables backend
 * always — the whole ruleset as pst_backend_apply().  *st says which and
 * what the delta held.  old may be NULL (not known: the whole ruleset).
 */
int pst_backend_reload(struct pst_backend *b, const struct pst_ruleset *old, const struct pst_ruleset *rs,
                       struct pst_delta_stats *st, struct pst_diag *diag);

/* Refill the interface-address set rs->sets[set] (after
 * pst_ruleset_update_ifaddrs); the rest of the ruleset is not touched. */
int pst_backend_update_set(struct pst_backend *b, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag);

/*
 * For a daemon that has no valid policy at boot: is there a ruleset of ours
 * that a previous run left (nf_tables: table inet <table>)?  Then keep it
 * unchanged: 1.  Nothing to keep: 0 (iptables always says 0: its
 * INPUT/FORWARD are always there, fail closed instead).
 */
int pst_backend_adopt(struct pst_backend *b, const char *table, struct pst_diag *diag);

/*
 * The kernel's ruleset generation after our last commit through b, or now
 * if b has not committed yet (nf_tables: NFTA_GEN_ID, +1 on every commit of
 * anyone's, per network namespace).  -EOPNOTSUPP: no such thing (iptables).
 * The daemon records it, so that after a restart it can tell whether
 * anyone committed anything since: then a table it finds is not known to
 * be the one it left.
 */
int pst_backend_generation(struct pst_backend *b, uint32_t *ret);

/* Someone else changed our ruleset. */
struct pst_drift {
        bool unknown;    /* notifications were lost and the kernel moved on: perhaps */
        bool deleted;    /* the whole table went (nft flush ruleset, nft delete table) */
        bool elsewhere;  /* someone changed other tables' tables, chains or rules (whether or not 1 is returned) */
        uint32_t portid; /* the committing netlink socket */
        uint32_t pid;    /* and its process, as the kernel names them (0, "": not known) */
        char comm[32];
};

/*
 * Watch for changes others make to our ruleset: a file descriptor to poll
 * for input (-EOPNOTSUPP: this backend cannot be watched — legacy xtables
 * has no notifications).  On input, pst_backend_watch_read() says whether
 * what arrived was someone else's change to our table (1, *ret filled) or
 * not (0).  Our own applies and set updates are not drift.
 */
int pst_backend_watch_open(struct pst_backend *b, const char *table, int *ret_fd);
int pst_backend_watch_read(struct pst_backend *b, struct pst_drift *ret);

/*
 * Another socket of the caller's own (netlink port portid: the daemon's rpc
 * reader adding pinholes, rpc-reader.h) committed to the table: its commits
 * are not drift, and the generation the next delta is guarded by (and
 * pst_backend_generation()) moves with them, so that the next reload still
 * sends a delta instead of a replace that would empty the pinhole sets.
 * Call it after each such commit, before the event loop reads the watch.
 */
int pst_backend_committed_by(struct pst_backend *b, uint32_t portid);

/* rs as the text the backend's own tools read: nft syntax (NFTABLES, AUTO) or
 * iptables-save text of both families (IPTABLES). */
int pst_backend_render(enum pst_backend_kind kind, const struct pst_ruleset *rs, FILE *f, struct pst_diag *diag);
