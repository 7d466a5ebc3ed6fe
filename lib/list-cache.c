/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What list files parsed to, for reloads that parse only what changed (list-cache.h). */
#include "list-cache.h"
#include "policy.h"

struct cache_entry {
        char name[PST_NAME_LEN];
        char *buf; /* the file's bytes as last parsed */
        size_t size;
        uint64_t digest;
        struct pst_list_lines lines;
        uint64_t serial; /* the load that last read it */
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

static void entry_done(struct cache_entry *e) {
        free(e->buf);
        pst_list_lines_clear(&e->lines);
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

void pst_list_cache_end(struct pst_list_cache *c) {
        size_t out = 0;

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

/* The new lines of e: head kept, mid, tail shifted. */
static int splice_lines(const struct cache_entry *e, const struct pst_list_plan *plan,
                        const struct pst_list_lines *mid, long dline, long doff, struct pst_list_lines *out) {
        size_t tail0 = e ? e->lines.n - plan->keep_tail : 0, total = plan->keep_head + mid->n + plan->keep_tail;
        int r;

        r = lines_reserve(out, MAX(total, (size_t) 1), PST_LIST_ENTRIES_MAX);
        if (r < 0)
                return r;
        if (plan->keep_head) {
                memcpy(out->v, e->lines.v, plan->keep_head * sizeof(*out->v));
                memcpy(out->off, e->lines.off, plan->keep_head * sizeof(*out->off));
                memcpy(out->line, e->lines.line, plan->keep_head * sizeof(*out->line));
        }
        if (mid->n) {
                memcpy(out->v + plan->keep_head, mid->v, mid->n * sizeof(*out->v));
                memcpy(out->off + plan->keep_head, mid->off, mid->n * sizeof(*out->off));
                memcpy(out->line + plan->keep_head, mid->line, mid->n * sizeof(*out->line));
        }
        for (size_t i = 0, o = plan->keep_head + mid->n; i < plan->keep_tail; i++, o++) {
                out->v[o] = e->lines.v[tail0 + i];
                out->off[o] = (uint32_t) ((long) e->lines.off[tail0 + i] + doff);
                out->line[o] = (uint32_t) ((long) e->lines.line[tail0 + i] + dline);
        }
        out->n = total;
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

int pst_list_cache_splice(struct pst_list_cache *c, const char *name, const char *buf, size_t size,
                          const struct pst_list_plan *plan, const struct pst_list_lines *mid, uint64_t digest,
                          size_t max, struct pst_addr **ret, size_t *ret_n) {
        struct cache_entry *e = find(c, name);
        struct pst_list_lines out = {};
        long dline = 0;
        char *copy = NULL;
        int r;

        if (plan->keep_head + mid->n + plan->keep_tail > max)
                return -E2BIG;
        if (!plan->reuse) {
                if (e)
                        dline = (long) count_newlines(buf + plan->start, plan->end - plan->start) -
                                (long) count_newlines(e->buf + plan->start, plan->old_end - plan->start);
                r = splice_lines(e, plan, mid, dline, e ? (long) size - (long) e->size : 0, &out);
                copy = r >= 0 ? malloc(size + 1) : NULL;
                if (r >= 0 && !copy)
                        r = -ENOMEM;
                if (r >= 0)
                        r = entry_for(c, name, &e);
                if (r < 0) {
                        free(copy);
                        pst_list_lines_clear(&out);
                        return r;
                }
                memcpy(copy, buf, size);
                copy[size] = 0;
                entry_done(e);
                e->buf = copy;
                e->size = size;
                e->digest = digest;
                e->lines = out;
                c->stats.lines_parsed += count_newlines(buf + plan->start, plan->end - plan->start) +
                                         (plan->end > plan->start && buf[plan->end - 1] != '\n');
        }
        *ret_n = e->lines.n;
        *ret = malloc(MAX(e->lines.n, (size_t) 1) * sizeof(**ret));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, e->lines.v, e->lines.n * sizeof(**ret));
        return 0;
}

uint64_t pst_list_digest(const char *buf, size_t size) {
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ size;
        size_t i = 0;

        for (; i + 8 <= size; i += 8) {
                uint64_t w;

                memcpy(&w, buf + i, 8);
                h = (h ^ w) * 0xff51afd7ed558ccdULL;
                h ^= h >> 32;
        }
        for (; i < size; i++)
                h = (h ^ (uint8_t) buf[i]) * 0x100000001b3ULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        return h ^ (h >> 33);
}
