/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dropstats.h"

#define END UINT32_MAX

int pst_drops_new(size_t cap, uint64_t seed, struct pst_drops **ret) {
        _cleanup_(pst_drops_freep) struct pst_drops *d = NULL;

        if (cap == 0)
                cap = PST_DROPS_ENTRIES_DEFAULT;
        if (cap > PST_DROPS_ENTRIES_MAX)
                return -E2BIG;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->cap = cap;
        d->seed = seed;
        d->nbuckets = 1;
        while (d->nbuckets < cap)
                d->nbuckets <<= 1;
        d->buckets = malloc(d->nbuckets * sizeof(uint32_t));
        d->v = calloc(cap, sizeof(*d->v));
        if (!d->buckets || !d->v)
                return -ENOMEM;
        pst_drops_clear(d);
        *ret = TAKE_PTR(d);
        return 0;
}

void pst_drops_free(struct pst_drops *d) {
        if (!d)
                return;
        free(d->buckets);
        free(d->v);
        free(d);
}

void pst_drops_clear(struct pst_drops *d) {
        for (uint32_t i = 0; i < d->nbuckets; i++)
                d->buckets[i] = END;
        memset(d->v, 0, d->cap * sizeof(*d->v));
        d->n = 0;
        d->evicted = d->total = 0;
}

/* FNV-1a over the bytes, then a final mix (the seed keeps chains unguessable) */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 0x100000001b3ULL;
        return h;
}

static uint64_t mix(uint64_t h) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return h;
}

static uint64_t key_hash(const struct pst_drops *d, const struct pst_drop_key *k) {
        uint64_t h = hash_bytes(0xcbf29ce484222325ULL ^ d->seed, k->zone, strlen(k->zone));

        h = hash_bytes(h, &k->l4proto, 1);
        h = hash_bytes(h, &k->dport, 2);
        h = hash_bytes(h, &k->src.family, 1);
        return mix(hash_bytes(h, k->src.a, pst_addr_len(k->src.family)));
}

static bool key_eq(const struct pst_drop_key *a, const struct pst_drop_key *b) {
        return a->l4proto == b->l4proto && a->dport == b->dport && a->src.family == b->src.family &&
               memcmp(a->src.a, b->src.a, 16) == 0 && streq(a->zone, b->zone);
}

static void unlink_entry(struct pst_drops *d, uint32_t i) {
        uint32_t *p = &d->buckets[key_hash(d, &d->v[i].key) & (d->nbuckets - 1)];

        while (*p != END && *p != i)
                p = &d->v[*p].next;
        if (*p == i)
                *p = d->v[i].next;
}

/* the fewest drops, then the oldest, of PST_DROPS_EVICT_SAMPLE entries from
 * a cursor that goes round: see dropstats.h */
static uint32_t victim(struct pst_drops *d) {
        uint32_t best = d->cursor % d->cap;

        for (uint32_t k = 0; k < MIN(PST_DROPS_EVICT_SAMPLE, d->cap); k++) {
                uint32_t i = (d->cursor + k) % d->cap;
                const struct pst_drop_entry *e = &d->v[i], *b = &d->v[best];

                if (e->count < b->count || (e->count == b->count && e->last_usec < b->last_usec))
                        best = i;
        }
        d->cursor = (d->cursor + PST_DROPS_EVICT_SAMPLE) % d->cap;
        return best;
}

static uint32_t slot(struct pst_drops *d) {
        uint32_t i;

        if (d->n < d->cap)
                return (uint32_t) d->n++;
        i = victim(d);
        d->evicted += d->v[i].count;
        unlink_entry(d, i);
        return i;
}

static void prefix_of(const struct pst_addr *a, struct pst_addr *ret) {
        unsigned bits = a->family == AF_INET ? 24 : 64;

        *ret = (struct pst_addr) { .family = a->family, .prefixlen = (uint8_t) bits };
        memcpy(ret->a, a->a, bits / 8);
}

void pst_drops_add(struct pst_drops *d, const char *zone, uint8_t l4proto, uint16_t dport,
                   const struct pst_addr *saddr, uint64_t now_usec) {
        struct pst_drop_key k = { .l4proto = l4proto, .dport = dport };
        struct pst_drop_entry *e;
        uint64_t h, sh;
        uint32_t b, i;

        snprintf(k.zone, sizeof(k.zone), "%s", zone ? zone : "");
        prefix_of(saddr, &k.src);
        h = key_hash(d, &k);
        b = (uint32_t) (h & (d->nbuckets - 1));
        for (i = d->buckets[b]; i != END && !key_eq(&d->v[i].key, &k); i = d->v[i].next)
                ;
        if (i == END) {
                i = slot(d);
                d->v[i] = (struct pst_drop_entry) { .key = k, .first_usec = now_usec, .used = true };
                b = (uint32_t) (key_hash(d, &k) & (d->nbuckets - 1));
                d->v[i].next = d->buckets[b];
                d->buckets[b] = i;
        }
        e = &d->v[i];
        e->count++;
        e->last_usec = MAX(e->last_usec, now_usec);
        e->first_usec = MIN(e->first_usec, now_usec);
        sh = mix(hash_bytes(0xcbf29ce484222325ULL ^ d->seed, saddr->a, pst_addr_len(saddr->family))) %
             PST_DROPS_SKETCH_BITS;
        e->sketch[sh / 64] |= 1ULL << (sh % 64);
        d->total++;
}

uint64_t pst_drop_entry_sources(const struct pst_drop_entry *e) {
        unsigned set = 0, m = PST_DROPS_SKETCH_BITS;

        for (unsigned i = 0; i < ELEMENTSOF(e->sketch); i++)
                set += (unsigned) __builtin_popcountll(e->sketch[i]);
        if (set == m) /* saturated: at least this many */
                return (uint64_t) llround(m * log((double) m));
        /* linear counting: n ≈ -m ln(zero bits / m); exact while no two collide */
        return (uint64_t) llround(-(double) m * log((double) (m - set) / m));
}

static int cmp_group(const void *a, const void *b) {
        const struct pst_drop_entry *x = *(const struct pst_drop_entry *const *) a;
        const struct pst_drop_entry *y = *(const struct pst_drop_entry *const *) b;
        int c = strcmp(x->key.zone, y->key.zone);

        if (c)
                return c;
        if (x->key.l4proto != y->key.l4proto)
                return x->key.l4proto < y->key.l4proto ? -1 : 1;
        return x->key.dport < y->key.dport ? -1 : x->key.dport > y->key.dport;
}

static int cmp_row(const void *a, const void *b) {
        const struct pst_drop_row *x = a, *y = b;
        int c;

        if (x->count != y->count)
                return x->count > y->count ? -1 : 1;
        c = strcmp(x->zone, y->zone);
        if (c)
                return c;
        if (x->l4proto != y->l4proto)
                return x->l4proto < y->l4proto ? -1 : 1;
        return x->dport < y->dport ? -1 : x->dport > y->dport;
}

static void row_add(struct pst_drop_row *r, const struct pst_drop_entry *e, uint64_t *top) {
        if (r->nprefixes == 0) {
                snprintf(r->zone, sizeof(r->zone), "%s", e->key.zone);
                r->l4proto = e->key.l4proto;
                r->dport = e->key.dport;
                r->first_usec = e->first_usec;
        }
        r->count += e->count;
        r->sources += MIN(pst_drop_entry_sources(e), e->count);
        r->first_usec = MIN(r->first_usec, e->first_usec);
        r->last_usec = MAX(r->last_usec, e->last_usec);
        r->nprefixes++;
        if (e->count > *top) {
                *top = e->count;
                r->top = e->key.src;
        }
}

int pst_drops_report(const struct pst_drops *d, uint64_t since_usec, struct pst_drop_row **ret, size_t *ret_n) {
        _cleanup_free_ const struct pst_drop_entry **sel = calloc(MAX(d->n, 1), sizeof(*sel));
        _cleanup_free_ struct pst_drop_row *rows = calloc(MAX(d->n, 1), sizeof(*rows));
        size_t n = 0, nrows = 0;
        uint64_t top = 0;

        if (!sel || !rows)
                return -ENOMEM;
        for (size_t i = 0; i < d->n; i++)
                if (d->v[i].used && d->v[i].last_usec >= since_usec)
                        sel[n++] = &d->v[i];
        qsort(sel, n, sizeof(*sel), cmp_group);
        for (size_t i = 0; i < n; i++) {
                if (i == 0 || cmp_group(&sel[i - 1], &sel[i]) != 0) {
                        nrows++;
                        top = 0;
                }
                row_add(&rows[nrows - 1], sel[i], &top);
        }
        qsort(rows, nrows, sizeof(*rows), cmp_row);
        *ret = TAKE_PTR(rows);
        *ret_n = nrows;
        return 0;
}
