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

enum pst_backend_kind {
        PST_BACKEND_AUTO, /* nf_tables when the kernel has it, else iptables */
        PST_BACKEND_NFTABLES,
        PST_BACKEND_IPTABLES,
        _PST_BACKEND_MAX,
};

const char *pst_backend_name(enum pst_backend_kind b);
/* "auto", "nftables", "iptables"; -EINVAL for anything else */
int pst_backend_from_string(const char *s, enum pst_backend_kind *ret);

struct pst_backend_opts {
        /* The ruleset belongs to this process while it runs (the daemon):
         * nf_tables table flags OWNER|PERSIST, so that nobody else's
         * "nft flush ruleset" removes it and it stays when we exit.  A
         * kernel without PERSIST (before 6.9) gets no flags at all: OWNER
         * alone would delete the table when the daemon exits or crashes,
         * leaving the host open.  A one-shot apply does not own it
         * (ownership would end with the process anyway, and nft 1.0.6 lists
         * an orphaned table with a bare "flags" line). */
        bool own;
};

/* An open backend: its operations and their state (a kept-open socket). */
struct pst_backend;

/*
 * Open the backend want names; AUTO probes the kernel (nf_tables first, then
 * legacy iptables).  -EOPNOTSUPP: this build has no iptables backend;
 * -EPROTONOSUPPORT: the kernel has neither.  diag says which, in words, and
 * holds a warning for what the kernel lacks but the backend copes with (the
 * nf_tables ownership flags before Linux 6.9).
 */
int pst_backend_open(enum pst_backend_kind want, const struct pst_backend_opts *o, struct pst_diag *diag,
                     struct pst_backend **ret);
void pst_backend_close(struct pst_backend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_backend *, pst_backend_close);

/* Which backend b is (never AUTO). */
enum pst_backend_kind pst_backend_kind(const struct pst_backend *b);
/* Is b what want asks for?  AUTO accepts any. */
bool pst_backend_matches(const struct pst_backend *b, enum pst_backend_kind want);

/* Atomically replace our whole ruleset with rs.  On error nothing changed and
 * diag says what the kernel refused, mapped to the policy line. */
int pst_backend_apply(struct pst_backend *b, const struct pst_ruleset *rs, struct pst_diag *diag);

/* Refill the interface-address set rs->sets[set] (after
 * pst_ruleset_update_ifaddrs); the rest of the ruleset is not touched. */
int pst_backend_update_set(struct pst_backend *b, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag);

/*
 * For a daemon that has no valid policy at boot: is there a ruleset of ours
 * that a previous run left (nf_tables: table inet <table>)?  Then keep it
 * unchanged (and own it, with o->own): 1.  Nothing to keep: 0 (iptables
 * always says 0: its INPUT/FORWARD are always there, fail closed instead).
 * A problem that does not stop us keeping it is a warning in diag.
 */
int pst_backend_adopt(struct pst_backend *b, const char *table, struct pst_diag *diag);

/* rs as the text the backend's own tools read: nft syntax (NFTABLES, AUTO) or
 * iptables-save text of both families (IPTABLES). */
int pst_backend_render(enum pst_backend_kind kind, const struct pst_ruleset *rs, FILE *f, struct pst_diag *diag);
