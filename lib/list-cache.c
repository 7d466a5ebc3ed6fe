/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What list files parsed to, for reloads that parse only what changed (list-cache.h). */
#include "list-cache.h"
#include "policy.h"

struct cache_entry {
        char name[PST_NAME_LEN];
        char *buf; /* the file's bytes as last parsed */
        size_t size;
        char *spare; /* the read before (or the last one, when it was buf's bytes): the next read's buffer */
        uint64_t digest;
        struct pst_list_lines lines;
        struct pst_list_ranges ranges; /* lines.v as sorted ranges */
        size_t rcap[2];                /* entries ranges.keys[] has room for */
        uint64_t serial;               /* the load that last read it */
};

struct pst_list_cache {
        size_t n, cap;
        struct cache_entry *v;
        uint64_t serial;
        struct pst_list_cache_stats stats;
};

int pst_list_cache_new(struct pst_list_cache **ret) {
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

void pst_list_lines_clear(struct pst_list_lines *l) {
        free(l->v);
        free(l->off);
        free(l->line);
        *l = (struct pst_list_lines) {};
}

static void ranges_clear(struct cache_entry *e) {
        for (int k = 0; k < 2; k++) {
                free(e->ranges.keys[k]);
                e->ranges.keys[k] = NULL;
                e->ranges.n[k] = e->rcap[k] = 0;
        }
}

static void entry_done(struct cache_entry *e) {
        free(e->buf);
        free(e->spare);
        pst_list_lines_clear(&e->lines);
        ranges_clear(e);
}

void pst_list_ranges_free(struct pst_list_ranges *r) {
        if (!r)
                return;
        free(r->keys[0]);
        free(r->keys[1]);
        free(r);
}

void pst_list_cache_free(struct pst_list_cache *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++)
                entry_done(&c->v[i]);
        free(c->v);
        free(c);
}

void pst_list_cache_stats(const struct pst_list_cache *c, struct pst_list_cache_stats *ret) {
        *ret = c->stats;
}

void pst_list_cache_begin(struct pst_list_cache *c) {
        c->serial++;
        c->stats = (struct pst_list_cache_stats) {};
}

void pst_list_cache_end(struct pst_list_cache *c, bool loaded) {
        size_t out = 0;

        if (!loaded)
                return; /* a typo in the main file does not cost the next load its lists */
        for (size_t i = 0; i < c->n; i++) {
                if (c->v[i].serial != c->serial) {
                        entry_done(&c->v[i]);
                        continue;
                }
                c->v[out++] = c->v[i];
        }
        c->n = out;
}

/* The three arrays grow together: each from the same capacity to the same. */
static int lines_reserve(struct pst_list_lines *l, size_t need, size_t max) {
        size_t c1 = l->cap, c2 = l->cap, c3 = l->cap;
        int r;

        r = GROW(l->v, c1, need, max);
        if (r >= 0)
                r = GROW(l->off, c2, need, max);
        if (r >= 0)
                r = GROW(l->line, c3, need, max);
        if (r >= 0)
                l->cap = c1;
        return r;
}

int pst_list_lines_add(struct pst_list_lines *l, const struct pst_addr *a, size_t off, unsigned line, size_t max) {
        int r = lines_reserve(l, l->n + 1, max);

        if (r < 0)
                return r;
        l->v[l->n] = *a;
        l->off[l->n] = (uint32_t) off;
        l->line[l->n] = line;
        l->n++;
        return 0;
}

static struct cache_entry *find(struct pst_list_cache *c, const char *name) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->v[i].name, name))
                        return &c->v[i];
        return NULL;
}

static size_t common_prefix(const char *a, const char *b, size_t n) {
        size_t i = 0;

        while (i + 4096 <= n && memcmp(a + i, b + i, 4096) == 0)
                i += 4096;
        while (i < n && a[i] == b[i])
                i++;
        return i;
}

/* bytes a[an - k] == b[bn - k] for k = 1.. at most n */
static size_t common_suffix(const char *a, size_t an, const char *b, size_t bn, size_t n) {
        size_t k = 0;

        while (k + 4096 <= n && memcmp(a + an - k - 4096, b + bn - k - 4096, 4096) == 0)
                k += 4096;
        while (k < n && a[an - k - 1] == b[bn - k - 1])
                k++;
        return k;
}

static size_t count_newlines(const char *p, size_t n) {
        size_t k = 0;

        for (const char *e = p + n; (p = memchr(p, '\n', (size_t) (e - p))); p++)
                k++;
        return k;
}

/* entries whose line starts before off (offsets ascend) */
static size_t entries_before(const struct pst_list_lines *l, size_t off) {
        size_t lo = 0, hi = l->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (l->off[mid] < off)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

void pst_list_cache_plan(struct pst_list_cache *c, const char *name, const char *buf, size_t size,
                         struct pst_list_plan *ret) {
        struct cache_entry *e = find(c, name);
        size_t pre, suf, start, tail;
        const char *nl;

        *ret = (struct pst_list_plan) { .end = size, .first_line = 1 };
        c->stats.lists++;
        if (!e)
                return;
        e->serial = c->serial;
        if (e->size == size && memcmp(e->buf, buf, size) == 0) {
                *ret = (struct pst_list_plan) { .start = size, .end = size, .old_end = size, .keep_head = e->lines.n,
                                                .total_hint = e->lines.n, .digest = e->digest, .reuse = true };
                c->stats.reused++;
                return;
        }
        pre = common_prefix(buf, e->buf, MIN(size, e->size));
        suf = common_suffix(buf, size, e->buf, e->size, MIN(size, e->size) - pre);
        for (start = pre; start > 0 && buf[start - 1] != '\n'; start--)
                ;
        /* the kept tail starts after a newline inside the common suffix */
        nl = suf ? memchr(buf + size - suf, '\n', suf) : NULL;
        tail = nl ? (size_t) (nl - buf) + 1 : size;
        ret->start = start;
        ret->end = tail;
        ret->old_end = tail - size + e->size;
        ret->keep_head = entries_before(&e->lines, start);
        ret->keep_tail = e->lines.n - entries_before(&e->lines, ret->old_end);
        ret->total_hint = ret->keep_head + ret->keep_tail;
        if (ret->keep_head == 0)
                ret->first_line = 1 + (unsigned) count_newlines(e->buf, start);
        else {
                size_t k = ret->keep_head - 1;

                ret->first_line = e->lines.line[k] + (unsigned) count_newlines(e->buf + e->lines.off[k],
                                                                               start - e->lines.off[k]);
        }
}

/* ---- the entries as sorted ranges (policy.h pst_list_ranges) ---- */

static unsigned klen_of(int k) {
        return k == 0 ? 4 : 16;
}

/* a's range as the set holds it: first, last (klen bytes each); its family's index */
static int range_key(const struct pst_addr *a, uint8_t key[32]) {
        uint8_t first[16], last[16];
        int k = a->family == AF_INET ? 0 : 1;

        pst_addr_range(a, first, last);
        memcpy(key, first, klen_of(k));
        memcpy(key + klen_of(k), last, klen_of(k));
        return k;
}

static int cmp8(const void *a, const void *b) {
        return memcmp(a, b, 8);
}

static int cmp32(const void *a, const void *b) {
        return memcmp(a, b, 32);
}

static int ranges_room(struct cache_entry *e, int k, size_t need) {
        return grow_array((void **) &e->ranges.keys[k], &e->rcap[k], need, 2 * klen_of(k), PST_LIST_ENTRIES_MAX);
}

/* All of e's entries, sorted: the first read, or many changes. */
static int ranges_rebuild(struct cache_entry *e) {
        int r;

        for (int k = 0; k < 2; k++)
                e->ranges.n[k] = 0;
        for (size_t i = 0; i < e->lines.n; i++) {
                uint8_t key[32];
                int k = range_key(&e->lines.v[i], key);

                r = ranges_room(e, k, e->ranges.n[k] + 1);
                if (r < 0)
                        return r;
                memcpy(e->ranges.keys[k] + e->ranges.n[k]++ * 2 * klen_of(k), key, 2 * klen_of(k));
        }
        for (int k = 0; k < 2; k++)
                if (e->ranges.n[k] > 1)
                        qsort(e->ranges.keys[k], e->ranges.n[k], 2 * klen_of(k), k == 0 ? cmp8 : cmp32);
        return 0;
}

/* the first index whose pair is >= key */
static size_t ranges_lower(const struct cache_entry *e, int k, const uint8_t *key) {
        size_t lo = 0, hi = e->ranges.n[k], esz = 2 * klen_of(k);

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (memcmp(e->ranges.keys[k] + mid * esz, key, esz) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* One entry goes (del) or comes.  -ENOENT: it was not there. */
static int ranges_change(struct cache_entry *e, const struct pst_addr *a, bool del) {
        uint8_t key[32];
        int k = range_key(a, key), r;
        size_t esz = 2 * klen_of(k), i = ranges_lower(e, k, key);
        uint8_t *at;

        if (del) {
                if (i >= e->ranges.n[k] || memcmp(e->ranges.keys[k] + i * esz, key, esz) != 0)
                        return -ENOENT;
                at = e->ranges.keys[k] + i * esz;
                memmove(at, at + esz, (e->ranges.n[k] - i - 1) * esz);
                e->ranges.n[k]--;
                return 0;
        }
        r = ranges_room(e, k, e->ranges.n[k] + 1);
        if (r < 0)
                return r;
        at = e->ranges.keys[k] + i * esz;
        memmove(at + esz, at, (e->ranges.n[k] - i) * esz);
        memcpy(at, key, esz);
        e->ranges.n[k]++;
        return 0;
}

/* e's ranges before its lines change by plan and mid (the entries that go
 * are lines[keep_head, n - keep_tail)): each change is a memmove of the
 * array.  1: too many (beyond 64) or an entry not found: sort them all
 * again once the lines have changed. */
static int ranges_update(struct cache_entry *e, const struct pst_list_plan *plan, const struct pst_list_lines *mid) {
        size_t gone = e->lines.n - plan->keep_tail - plan->keep_head;
        int r = 0;

        if (gone + mid->n > 64)
                return 1;
        for (size_t i = 0; r >= 0 && i < gone; i++)
                r = ranges_change(e, &e->lines.v[plan->keep_head + i], true);
        for (size_t i = 0; r >= 0 && i < mid->n; i++)
                r = ranges_change(e, &mid->v[i], false);
        return r == -ENOENT ? 1 : r;
}

static int ranges_copy(const struct cache_entry *e, struct pst_list_ranges **ret) {
        _cleanup_(pst_list_ranges_freep) struct pst_list_ranges *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        for (int k = 0; k < 2; k++) {
                size_t bytes = e->ranges.n[k] * 2 * klen_of(k);

                r->keys[k] = malloc(MAX(bytes, (size_t) 1));
                if (!r->keys[k])
                        return -ENOMEM;
                if (bytes)
                        memcpy(r->keys[k], e->ranges.keys[k], bytes);
                r->n[k] = e->ranges.n[k];
        }
        *ret = TAKE_PTR(r);
        return 0;
}

static int realloc_exact(void **p, size_t n, size_t size) {
        void *q = realloc(*p, MAX(n, (size_t) 1) * size);

        if (!q)
                return -ENOMEM;
        *p = q;
        return 0;
}

/* l becomes: its head kept, mid, its tail shifted by dline lines and doff
 * bytes — in place (a one-entry change moves the tail, allocates nothing). */
static int lines_patch(struct pst_list_lines *l, const struct pst_list_plan *plan, const struct pst_list_lines *mid,
                       long dline, long doff) {
        size_t total = plan->keep_head + mid->n + plan->keep_tail, tail0 = l->n - plan->keep_tail;
        size_t to = plan->keep_head + mid->n;

        if (total > l->cap) {
                /* exactly: what the cache keeps between reloads is resident */
                if (realloc_exact((void **) &l->v, total, sizeof(*l->v)) < 0 ||
                    realloc_exact((void **) &l->off, total, sizeof(*l->off)) < 0 ||
                    realloc_exact((void **) &l->line, total, sizeof(*l->line)) < 0)
                        return -ENOMEM;
                l->cap = total;
        }
        memmove(l->v + to, l->v + tail0, plan->keep_tail * sizeof(*l->v));
        memmove(l->off + to, l->off + tail0, plan->keep_tail * sizeof(*l->off));
        memmove(l->line + to, l->line + tail0, plan->keep_tail * sizeof(*l->line));
        if (mid->n) {
                memcpy(l->v + plan->keep_head, mid->v, mid->n * sizeof(*l->v));
                memcpy(l->off + plan->keep_head, mid->off, mid->n * sizeof(*l->off));
                memcpy(l->line + plan->keep_head, mid->line, mid->n * sizeof(*l->line));
        }
        for (size_t i = to; i < total && (dline || doff); i++) {
                l->off[i] = (uint32_t) ((long) l->off[i] + doff);
                l->line[i] = (uint32_t) ((long) l->line[i] + dline);
        }
        l->n = total;
        return 0;
}

static int entry_for(struct pst_list_cache *c, const char *name, struct cache_entry **ret) {
        struct cache_entry *e = find(c, name);
        int r;

        if (!e) {
                r = GROW(c->v, c->cap, c->n + 1, PST_LISTS_MAX);
                if (r < 0)
                        return r;
                e = &c->v[c->n++];
                *e = (struct cache_entry) {};
                if (strcpy_bounded(e->name, sizeof(e->name), name) < 0) {
                        c->n--;
                        return -EINVAL;
                }
        }
        e->serial = c->serial;
        *ret = e;
        return 0;
}

static void entry_remove(struct pst_list_cache *c, struct cache_entry *e) {
        entry_done(e);
        *e = c->v[--c->n];
}

/* e (made when new) holds buf and its lines after plan and mid. */
static int entry_replace(struct pst_list_cache *c, const char *name, char **pbuf, size_t size,
                         const struct pst_list_plan *plan, const struct pst_list_lines *mid, uint64_t digest) {
        struct cache_entry *e = find(c, name);
        const char *buf = *pbuf;
        long dline = 0, doff = 0;
        int r = 1;

        if (e) {
                dline = (long) count_newlines(buf + plan->start, plan->end - plan->start) -
                        (long) count_newlines(e->buf + plan->start, plan->old_end - plan->start);
                doff = (long) size - (long) e->size;
                r = ranges_update(e, plan, mid);
        } else if (entry_for(c, name, &e) < 0)
                return -ENOMEM;
        e->serial = c->serial;
        if (r >= 0)
                r = lines_patch(&e->lines, plan, mid, dline, doff) < 0 ? -ENOMEM : r;
        if (r > 0)
                r = ranges_rebuild(e);
        if (r < 0) {
                entry_remove(c, e); /* nothing half-updated stays */
                return r;
        }
        free(e->spare);
        e->spare = e->buf;
        e->buf = TAKE_PTR(*pbuf); /* the read's buffer itself: 1.6 MB not copied */
        e->size = size;
        e->digest = digest;
        c->stats.lines_parsed += count_newlines(buf + plan->start, plan->end - plan->start) +
                                 (plan->end > plan->start && buf[plan->end - 1] != '\n');
        return 0;
}

int pst_list_cache_splice(struct pst_list_cache *c, const char *name, char **buf, size_t size,
                          const struct pst_list_plan *plan, const struct pst_list_lines *mid, uint64_t digest,
                          size_t max, struct pst_addr **ret, size_t *ret_n, struct pst_list_ranges **ret_ranges) {
        struct cache_entry *e;
        int r;

        if (plan->keep_head + mid->n + plan->keep_tail > max)
                return -E2BIG;
        if (!plan->reuse) {
                r = entry_replace(c, name, buf, size, plan, mid, digest);
                if (r < 0)
                        return r;
        }
        e = find(c, name);
        if (!e)
                return -ENOENT;
        if (*buf) { /* the cached bytes were these: the read's buffer is the next one's */
                free(e->spare);
                e->spare = TAKE_PTR(*buf);
        }
        if (!ret)
                return ret_ranges ? ranges_copy(e, ret_ranges) : 0;
        *ret = malloc(MAX(e->lines.n, (size_t) 1) * sizeof(**ret));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, e->lines.v, e->lines.n * sizeof(**ret));
        *ret_n = e->lines.n;
        return ret_ranges ? ranges_copy(e, ret_ranges) : 0;
}

char *pst_list_cache_spare(struct pst_list_cache *c, const char *name) {
        struct cache_entry *e = find(c, name);

        return e ? TAKE_PTR(e->spare) : NULL;
}

const struct pst_list_ranges *pst_list_cache_ranges(const struct pst_list_cache *c, const char *name) {
        const struct cache_entry *e = find((struct pst_list_cache *) c, name);

        return e ? &e->ranges : NULL;
}
