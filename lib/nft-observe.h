/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the kernel says about the ruleset beyond what we commit, read by
 * netlink dumps (never `nft list`, which fetches every set element):
 *
 *   - other tables' base chains on the input and forward hooks that can
 *     drop what our table accepts (pst_foreign_scan);
 *   - our own table's rules with their counters (pst_counters_dump).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/*
 * A base chain of another table on the input or forward hook (families ip,
 * ip6, inet) that drops: its policy is drop, or it has rules whose verdict
 * is drop or reject.  Its priority does not matter: an accept in our chain
 * only ends our chain, and a drop in any chain on the hook drops the packet.
 */
struct pst_foreign_chain {
        uint32_t family; /* NFPROTO_* */
        char table[256], chain[256];
        uint32_t hook; /* NF_INET_LOCAL_IN or NF_INET_FORWARD */
        int32_t priority;
        bool policy_drop;
        uint32_t drop_rules;
};

#define PST_FOREIGN_MAX 16 /* chains named; the rest are counted */

struct pst_foreign {
        size_t n, more;
        struct pst_foreign_chain v[PST_FOREIGN_MAX];
};

/* Scan this network namespace's base chains, all tables but inet <own_table>. */
int pst_foreign_scan(const char *own_table, struct pst_foreign *ret);

/* "table ip filter, chain input (hook input, priority -10): policy drop" */
void pst_foreign_format(const struct pst_foreign_chain *c, char *buf, size_t size);

/* One rule of our table as the kernel holds it. */
struct pst_rule_counter {
        char chain[PST_NAME_MAX];
        uint32_t index;  /* position in its chain, 0-based */
        uint64_t handle;
        bool counter;    /* has a counter expression */
        uint64_t packets, bytes;
        char comment[PST_COMMENT_MAX];
};

#define PST_COUNTERS_MAX 1000000

struct pst_counters {
        size_t n, cap;
        struct pst_rule_counter *v;
};

void pst_counters_clear(struct pst_counters *c);

/* Dump table inet <table>'s rules in chain order.  -ENOENT: no such table. */
int pst_counters_dump(const char *table, struct pst_counters *ret);
