/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A table as the kernel holds it, read through netlink dumps (no
 * libnftables), for `posternctl diff`:
 *
 *   - its structure: the chains, rules and set declarations as libnftnl
 *     objects, plus the elements of anonymous sets (they belong to their
 *     rule), so it can be replayed into a private network namespace and
 *     listed there by libnftables without the named sets' elements;
 *   - the elements of every named set, as sorted inclusive ranges
 *     (pst_elems), compared element by element with what a policy wants.
 *
 * Why not `nft list`: libnftables fetches (and prints) every element even
 * with --terse, and both listing and the kernel's dump of a large interval
 * set are slow; a netlink dump is the least the kernel can be asked for.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ir.h"

/* The elements of one set as inclusive ranges [first, last], klen bytes
 * each (the kernel's key length), sorted by first then last. */
struct pst_elems {
        char name[PST_NAME_MAX * 4]; /* the kernel allows 256 bytes */
        uint32_t key_type;           /* NFTA_SET_KEY_TYPE: 7 ipv4_addr, 8 ipv6_addr, 13 inet_service, ... */
        uint32_t klen;
        size_t n, cap;
        uint8_t *keys; /* n × 2 × klen */
};

void pst_elems_clear(struct pst_elems *e);

/* The ranges of a named IR set, as the kernel would hold them. */
int pst_elems_from_set(const struct pst_set *s, struct pst_elems *ret);

/*
 * Walk two sorted range lists and call cb for each range only in a (sign
 * '-') or only in b (sign '+'), in key order.  cb returning < 0 stops the
 * walk with that value.
 */
typedef int (*pst_elems_diff_cb)(char sign, const uint8_t *first, const uint8_t *last, void *data);
int pst_elems_diff(const struct pst_elems *a, const struct pst_elems *b, pst_elems_diff_cb cb, void *data);

/* "198.18.5.0/24", "198.18.5.1-198.18.5.9", "2001:db8::1", "25", "ppp0", or hex. */
void pst_elems_format(const struct pst_elems *e, const uint8_t *first, const uint8_t *last, char *buf,
                      size_t size);

struct pst_live_table;

/* pst_live_dump() flags */
enum {
        /* Declare the named sets but do not dump their elements (each set is
         * there, with its name and key, and empty): the caller knows them from
         * elsewhere (posternd's running ruleset) and hands them over with
         * pst_live_set_elems().  The kernel's dump of a large interval set is
         * quadratic; the structure dump alone is cheap. */
        PST_LIVE_NO_NAMED_ELEMS = 1 << 0,
};

/*
 * Dump table inet <table> from the current network namespace.  A missing
 * table is not an error: pst_live_exists() says false.
 */
int pst_live_dump(const char *table, unsigned flags, struct pst_live_table **ret, struct pst_diag *diag);
void pst_live_free(struct pst_live_table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_live_table *, pst_live_free);

bool pst_live_exists(const struct pst_live_table *t);
size_t pst_live_nsets(const struct pst_live_table *t);            /* named sets */
const struct pst_elems *pst_live_set(const struct pst_live_table *t, size_t i);
const struct pst_elems *pst_live_find_set(const struct pst_live_table *t, const char *name);

/*
 * The elements of the live named set e->name are e's: its keys move into
 * the table (e is left empty), the kernel's key type stays.  -ENOENT: no
 * named set of that name; -EPROTO: the kernel keys it with another length;
 * -EEXIST: its elements were dumped or handed over already.
 */
int pst_live_set_elems(struct pst_live_table *t, struct pst_elems *e);

/*
 * Create the table's structure — chains, rules, set declarations, the
 * anonymous sets' elements, but no named set's elements — in the current
 * network namespace, in one batch (meant for a private one).
 */
int pst_live_replay(const struct pst_live_table *t, struct pst_diag *diag);
