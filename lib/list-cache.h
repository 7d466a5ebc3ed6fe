/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the list files of the last load parsed to, so that a reload parses
 * only the lines that changed (issue 15: a one-entry change of a
 * 100,000-entry allow-list).  The daemon owns one cache and hands it to
 * every load (pipeline.h pst_load_opts.list_cache); lib/ keeps no state of
 * its own.
 *
 * Per list (by its name: a list whose file is renamed, or edited in place,
 * still finds its entry) the cache keeps the file's bytes and its entries
 * in file order, each with the offset and line it came from.  A new read is
 * compared with the cached bytes: the longest common prefix and suffix of
 * whole lines keep their entries (the suffix's offsets and line numbers
 * shifted), and only the lines between are parsed.  The result is exactly
 * what parsing the whole file gives (tests/unit/test-list-cache.c checks
 * that over random edits): lines are independent of each other (an entry,
 * a comment, blank), and the cache only ever holds a parse that succeeded.
 *
 * Bounds: at most PST_LISTS_MAX lists, each no larger than a list file may
 * be (source.h, policy.h); lists the last successful load did not read are
 * dropped.
 */

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "policy.h"
#include "util.h"

struct pst_list_cache;

int pst_list_cache_new(struct pst_list_cache **ret);
void pst_list_cache_free(struct pst_list_cache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_list_cache *, pst_list_cache_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_list_ranges *, pst_list_ranges_free);

/* Statistics of the last load, for logs and tests. */
struct pst_list_cache_stats {
        size_t lists;        /* list files read */
        size_t reused;       /* ... whose bytes were the cached ones */
        size_t lines_parsed; /* lines parsed (all of them without the cache) */
};
void pst_list_cache_stats(const struct pst_list_cache *c, struct pst_list_cache_stats *ret);

/* A load begins; it ends (loaded: it succeeded), and then the lists it did
 * not read are dropped (a failed load drops nothing: what it did not reach
 * is still what the next one will read). */
void pst_list_cache_begin(struct pst_list_cache *c);
void pst_list_cache_end(struct pst_list_cache *c, bool loaded);

/* Parsed lines: entries in file order, each with its line's offset and number. */
struct pst_list_lines {
        size_t n, cap;
        struct pst_addr *v;
        uint32_t *off;
        uint32_t *line;
};
void pst_list_lines_clear(struct pst_list_lines *l);
int pst_list_lines_add(struct pst_list_lines *l, const struct pst_addr *a, size_t off, unsigned line, size_t max);

/* The part of a new read of list `name` that needs parsing: bytes
 * [start, end) (whole lines), the first of them line first_line. */
struct pst_list_plan {
        size_t start, end;
        size_t old_end;              /* where the kept tail starts in the cached bytes */
        unsigned first_line;
        size_t keep_head, keep_tail; /* cached entries kept before / after */
        size_t total_hint;           /* entries kept: keep_head + keep_tail */
        uint64_t digest;             /* the file's digest when its bytes are the cached ones */
        bool reuse;                  /* the bytes are the cached ones: nothing to parse */
};
void pst_list_cache_plan(struct pst_list_cache *c, const char *name, const char *buf, size_t size,
                         struct pst_list_plan *ret);

/* The lines parsed for plan (offsets relative to the file) go between the
 * kept ones; the cache then holds *buf (taken: *buf becomes NULL;
 * NUL-terminated at size, as pst_source_read() leaves it, and not
 * modified; with plan->reuse only as the spare below) and the whole
 * result, and
 * *ret gets a copy of the entries in file order (ret NULL: none),
 * *ret_ranges (policy.h) a copy of them as sorted ranges (NULL: none; they
 * are updated in place for a few changes, sorted again for many).  At
 * most max entries. */
int pst_list_cache_splice(struct pst_list_cache *c, const char *name, char **buf, size_t size,
                          const struct pst_list_plan *plan, const struct pst_list_lines *mid, uint64_t digest,
                          size_t max, struct pst_addr **ret, size_t *ret_n, struct pst_list_ranges **ret_ranges);

/* The buffer the next read of list name may fill (pst_source_read's
 * *ret_buf), taken (NULL: none): the bytes the cache held before the last
 * splice.  A one-entry reload of a 1.6 MB list then reads into memory the
 * daemon has, not into fresh pages that fault in one by one (and that the
 * heap trim after every reload gives back).  It costs one more copy of the
 * file's bytes per list. */
char *pst_list_cache_spare(struct pst_list_cache *c, const char *name);

/* The sorted ranges the cache holds for list name (NULL: none): valid
 * until its next plan or splice. */
const struct pst_list_ranges *pst_list_cache_ranges(const struct pst_list_cache *c, const char *name);

