/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the default-drop policy dropped, aggregated: one entry per
 * (source zone, protocol, destination port, source prefix) with a count,
 * first and last seen, and an estimate of the distinct source addresses.
 * Source prefixes are /24 (IPv4) and /64 (IPv6): one entry per network a
 * scan or a forgotten client comes from, not per address.
 *
 * Memory is fixed when the table is made (PST_DROPS_ENTRIES_MAX entries at
 * most, 136 bytes each: 560 KiB for the default 4096 with the hash heads).
 * When it is full, a new key evicts the entry with the fewest drops, of
 * those the one last seen longest ago, among PST_DROPS_EVICT_SAMPLE entries
 * taken in turn (a cursor goes round the table), so that an eviction costs
 * the same whatever the table's size: a flood of distinct sources (one drop
 * each) keeps replacing its own entries and leaves the entries that matter —
 * many drops to one port — in place;
 * such an entry goes only when all the entries sampled have as many drops.
 * Evicted drops are counted (pst_drops.evicted), so a report can say how
 * much it does not show.  Times are whatever the caller passes (µs).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "util.h"

#define PST_DROPS_ENTRIES_DEFAULT 4096
#define PST_DROPS_ENTRIES_MAX 65536
#define PST_DROPS_ZONE_MAX 48 /* PST_NAME_LEN */
#define PST_DROPS_SKETCH_BITS 256
#define PST_DROPS_EVICT_SAMPLE 64

struct pst_drop_key {
        char zone[PST_DROPS_ZONE_MAX]; /* "" = no zone */
        uint8_t l4proto;
        uint16_t dport;
        struct pst_addr src; /* the source prefix */
};

struct pst_drop_entry {
        struct pst_drop_key key;
        uint64_t count;
        uint64_t first_usec, last_usec;
        uint64_t sketch[PST_DROPS_SKETCH_BITS / 64]; /* linear counting of source addresses */
        uint32_t next;                                /* hash chain, UINT32_MAX = end */
        bool used;
};

struct pst_drops {
        size_t cap, n;
        uint32_t nbuckets;
        uint32_t *buckets;
        struct pst_drop_entry *v;
        uint64_t seed;      /* of the hash: chosen by the caller */
        uint32_t cursor;    /* where the next eviction looks */
        uint64_t evicted;   /* drops whose entries were evicted */
        uint64_t total;     /* drops seen */
};

/* cap = 0: PST_DROPS_ENTRIES_DEFAULT; more than PST_DROPS_ENTRIES_MAX: -E2BIG */
int pst_drops_new(size_t cap, uint64_t seed, struct pst_drops **ret);
void pst_drops_free(struct pst_drops *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_drops *, pst_drops_free);
void pst_drops_clear(struct pst_drops *d);

/* One dropped packet from saddr (a host address) at now_usec. */
void pst_drops_add(struct pst_drops *d, const char *zone, uint8_t l4proto, uint16_t dport,
                   const struct pst_addr *saddr, uint64_t now_usec);
/* Distinct source addresses of an entry, estimated (exact while few). */
uint64_t pst_drop_entry_sources(const struct pst_drop_entry *e);

/*
 * The report: entries grouped by (zone, protocol, port) over their source
 * prefixes, those last seen at or after since_usec (0: all), by count
 * (most first), then zone, protocol, port.
 */
struct pst_drop_row {
        char zone[PST_DROPS_ZONE_MAX];
        uint8_t l4proto;
        uint16_t dport;
        uint64_t count, sources;
        uint64_t first_usec, last_usec;
        uint32_t nprefixes;
        struct pst_addr top; /* the prefix with the most drops */
};

int pst_drops_report(const struct pst_drops *d, uint64_t since_usec, struct pst_drop_row **ret, size_t *ret_n);
