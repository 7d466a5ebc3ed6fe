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

struct pst_compiled;

struct pst_load_opts {
        const char *policy;                /* the main policy file */
        const char *catalog;               /* NULL: the installed catalog + services.d (service.h) */
        const struct pst_ifaddrs *ifaddrs; /* NULL: no interface addresses known */
        unsigned source_flags;             /* source.h: PST_SOURCE_ANY_OWNER */
        unsigned rpc_offer;                /* rpc.h PST_RPC_MECH_* the kernel offers: what
                                            * options.rpc_mechanism = "auto" becomes (0: NFLOG) */
        bool rpc_probe;                    /* rpc_offer not known: ask the kernel
                                            * (pst_rpc_offer_probe) if, and only if, the policy
                                            * has an rpc rule: a probe costs a netlink round per
                                            * feature, ~10 ms, far more under emulation */
        struct pst_list_cache *list_cache; /* list-cache.h: what the last load's list files parsed to
                                            * (NULL: parse them whole) */
        const struct pst_compiled *previous; /* NULL, or what runs: the list-only reload (below) may
                                              * derive the new compiled from it */
};

/* The source flags the environment asks for: PST_SOURCE_ANY_OWNER when
 * POSTERN_UNSAFE_FILES=1 (test trees owned by someone else). */
unsigned pst_source_flags_from_env(void);

/*
 * What one policy compiled to.  The catalog and the policy (and what the
 * load read: their read logs, cfg.h) live in a holder, pst_loaded, that
 * every compiled derived from the same load shares, counted (one thread:
 * the counter is not atomic); the ruleset is each compiled's own.  Freed
 * in any order: the last one frees the holder.
 *
 * The list-only reload: when pst_load_opts.previous is given and came
 * from the same policy path, catalog option, source flags and rpc_offer,
 * the main file and postern.d/ are the same set of files, every libconfig
 * file that load read (the policy's, its @includes, the catalog's) has
 * the same bytes, and each list file parses without error (or warning) to
 * the same has4/has6 as before (which decide which rules exist), then
 * nothing is parsed or compiled but the list files: the ruleset is a copy
 * of previous's with the sets list_<name>_v4/_v6 of the lists whose
 * files changed refilled (compile.h pst_compile_list_sets) and the
 * interface-address sets refilled from ifaddrs (the compiler's only use of
 * them).  Else the whole load, as without previous.  Both give the same
 * ruleset and the same digest (tests/unit/test-lists-only.c).
 *
 * What such a compiled holds: policy and catalog are previous's (shared);
 * policy->lists[i]->addrs are still what the load that parsed the main
 * files read, not the current entries — the sets in ruleset are; nothing
 * outside compile reads them (daemon/ does not).  With a list_cache they
 * hold no entries at all after the compile (the cache has them), only
 * their families (has4, has6).  policy->digest is that
 * load's too; digest here is the current one.
 */
struct pst_loaded;

struct pst_compiled {
        struct pst_loaded *loaded;         /* NULL for a built-in ruleset */
        const struct pst_catalog *catalog; /* loaded's; NULL for a built-in ruleset */
        struct pst_policy *policy;         /* loaded's; NULL for a built-in ruleset (the emergency one) */
        struct pst_ruleset *ruleset;
        char digest[17];                   /* the policy's, as hex; "" without a policy */
        uint64_t *list_digest;             /* per policy->lists[i] read from a file: its pst_digest_bytes()
                                            * as this ruleset holds it (0: inline addresses) */
        bool lists_only;                   /* made by the list-only reload */
};

/* Load catalog and policy, compile.  On error diag holds every problem as
 * FILE:LINE: messages; nothing else happened. */
int pst_load_compile(const struct pst_load_opts *o, struct pst_diag *diag, struct pst_compiled **ret);

/* A compiled ruleset that no policy file produced.  Takes rs, also on failure. */
int pst_compiled_from_ruleset(struct pst_ruleset *rs, struct pst_compiled **ret);

void pst_compiled_free(struct pst_compiled *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_compiled *, pst_compiled_free);
