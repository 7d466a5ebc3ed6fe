/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The pipeline in one place, top to bottom:
 *
 *   catalog ─┐
 *   policy ──┴─▶ compile (with the interface addresses given) ─▶ ruleset IR
 *
 * posternctl (check, compile, apply, diff) and posternd (start, reload) all
 * load through pst_load_compile(); what they then do with the ruleset —
 * render it, apply it — goes through backend.h.  No I/O but reading the
 * policy's and the catalog's files.
 */

#include "compile.h"
#include "policy.h"

struct pst_load_opts {
        const char *policy;                /* the main policy file */
        const char *catalog;               /* NULL: the installed catalog + services.d (service.h) */
        const struct pst_ifaddrs *ifaddrs; /* NULL: no interface addresses known */
        unsigned source_flags;             /* source.h: PST_SOURCE_ANY_OWNER */
        unsigned rpc_offer;                /* rpc.h PST_RPC_MECH_* the kernel offers: what
                                            * options.rpc_mechanism = "auto" becomes (0: NFLOG) */
        struct pst_list_cache *list_cache; /* list-cache.h: what the last load's list files parsed to
                                            * (NULL: parse them whole) */
};

/* The source flags the environment asks for: PST_SOURCE_ANY_OWNER when
 * POSTERN_UNSAFE_FILES=1 (test trees owned by someone else). */
unsigned pst_source_flags_from_env(void);

/* What one policy compiled to.  The rules point into the catalog and the
 * policy, so the three live and die together. */
struct pst_compiled {
        struct pst_catalog catalog;
        struct pst_policy *policy;   /* NULL for a built-in ruleset (the emergency one) */
        struct pst_ruleset *ruleset;
        char digest[17];             /* the policy's, as hex; "" without a policy */
};

/* Load catalog and policy, compile.  On error diag holds every problem as
 * FILE:LINE: messages; nothing else happened. */
int pst_load_compile(const struct pst_load_opts *o, struct pst_diag *diag, struct pst_compiled **ret);

/* A compiled ruleset that no policy file produced.  Takes rs, also on failure. */
int pst_compiled_from_ruleset(struct pst_ruleset *rs, struct pst_compiled **ret);

void pst_compiled_free(struct pst_compiled *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_compiled *, pst_compiled_free);
