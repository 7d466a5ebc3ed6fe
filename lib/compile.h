/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * policy + current interface addresses → ruleset IR.  A pure function: no
 * I/O, no kernel, so it is unit-testable and runs before anything is applied.
 */

#include "ifaddr.h"
#include "ir.h"
#include "policy.h"

/* Many host-to-host rules of one chain, family and protocol merge into one
 * concatenated set lookup once there are at least this many of them. */
#define PST_MERGE_MIN 4

int pst_compile(const struct pst_policy *p, const struct pst_ifaddrs *ifa, struct pst_diag *diag,
                struct pst_ruleset **ret);

/*
 * The list-only reload (pipeline.c): list `name`'s sets in rs (compiled by
 * pst_compile) get the elements pst_compile gives for a (ranges: the list
 * cache's, or NULL) — the same code.  -ESTALE: a has4/has6 of a differs
 * from the sets rs has (then rules change too: compile the whole policy).
 */
int pst_compile_list_sets(struct pst_ruleset *rs, const char *name, const struct pst_addrs *a,
                          const struct pst_list_ranges *ranges);
/* Is set one of list `name`'s (what pst_compile_list_sets fills)? */
bool pst_compile_is_list_set(const struct pst_set *set, const char *name);

/*
 * Refill the interface-address sets from ifa.  Returns the number of sets
 * whose elements changed (their indexes in ret_changed, at most max), so a
 * caller updates only those in the kernel; 0 when nothing changed.
 */
int pst_ruleset_update_ifaddrs(struct pst_ruleset *rs, const struct pst_ifaddrs *ifa, size_t max,
                               uint32_t *ret_changed);
