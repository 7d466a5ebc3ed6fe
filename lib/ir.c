/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <linux/netfilter.h>

#include "ir.h"

/* nft datatype ids (nftables include/datatype.h, enum datatypes) */
enum {
        NFT_TYPE_NFPROTO = 2,
        NFT_TYPE_IPADDR = 7,
        NFT_TYPE_IP6ADDR = 8,
        NFT_TYPE_INET_PROTOCOL = 12,
        NFT_TYPE_INET_SERVICE = 13,
        NFT_TYPE_ICMP_TYPE = 14,
        NFT_TYPE_MARK = 19,
        NFT_TYPE_CT_STATE = 26,
        NFT_TYPE_CT_DIR = 27,
        NFT_TYPE_CT_STATUS = 28, /* after CT_DIR (27) */
        NFT_TYPE_ICMP6_TYPE = 29,
        NFT_TYPE_IFNAME = 41,
};

static const struct pst_field_info field_info[_PST_F_MAX] = {
        [PST_F_IIFNAME] = { "iifname", "ifname", NFT_TYPE_IFNAME, IFNAMSIZ, 0, 0 },
        [PST_F_OIFNAME] = { "oifname", "ifname", NFT_TYPE_IFNAME, IFNAMSIZ, 0, 0 },
        [PST_F_NFPROTO] = { "meta nfproto", "nf_proto", NFT_TYPE_NFPROTO, 1, 0, 0 },
        [PST_F_L4PROTO] = { "meta l4proto", "inet_proto", NFT_TYPE_INET_PROTOCOL, 1, 0, 0 },
        [PST_F_IP_SADDR] = { "ip saddr", "ipv4_addr", NFT_TYPE_IPADDR, 4, NFPROTO_IPV4, 0 },
        [PST_F_IP_DADDR] = { "ip daddr", "ipv4_addr", NFT_TYPE_IPADDR, 4, NFPROTO_IPV4, 0 },
        [PST_F_IP6_SADDR] = { "ip6 saddr", "ipv6_addr", NFT_TYPE_IP6ADDR, 16, NFPROTO_IPV6, 0 },
        [PST_F_IP6_DADDR] = { "ip6 daddr", "ipv6_addr", NFT_TYPE_IP6ADDR, 16, NFPROTO_IPV6, 0 },
        [PST_F_TCP_DPORT] = { "tcp dport", "inet_service", NFT_TYPE_INET_SERVICE, 2, 0, IPPROTO_TCP },
        [PST_F_TCP_SPORT] = { "tcp sport", "inet_service", NFT_TYPE_INET_SERVICE, 2, 0, IPPROTO_TCP },
        [PST_F_UDP_DPORT] = { "udp dport", "inet_service", NFT_TYPE_INET_SERVICE, 2, 0, IPPROTO_UDP },
        [PST_F_ICMP_TYPE] = { "icmp type", "icmp_type", NFT_TYPE_ICMP_TYPE, 1, NFPROTO_IPV4, IPPROTO_ICMP },
        [PST_F_ICMP6_TYPE] = { "icmpv6 type", "icmpv6_type", NFT_TYPE_ICMP6_TYPE, 1, NFPROTO_IPV6,
                               IPPROTO_ICMPV6 },
        [PST_F_CT_STATE] = { "ct state", "ct_state", NFT_TYPE_CT_STATE, 4, 0, 0 },
        [PST_F_CT_DIRECTION] = { "ct direction", "ct_dir", NFT_TYPE_CT_DIR, 1, 0, 0 },
        [PST_F_CT_STAMP] = { "ct mark and 0xffff0000 ==", "mark", NFT_TYPE_MARK, 4, 0, 0 },
        [PST_F_CT_STATUS] = { "ct status", "ct_status", NFT_TYPE_CT_STATUS, 4, 0, 0 },
};

const struct pst_field_info *pst_field_info(enum pst_field f) {
        if ((unsigned) f >= _PST_F_MAX)
                return NULL;
        return &field_info[f];
}

uint32_t pst_key_len(const enum pst_field *fields, unsigned n) {
        uint32_t l = 0;

        for (unsigned i = 0; i < n; i++)
                l += (field_info[fields[i]].len + 3u) & ~3u;
        return l;
}

int pst_ruleset_new(struct pst_ruleset **ret) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        uint32_t idx;
        int r;

        rs = calloc(1, sizeof(*rs));
        if (!rs)
                return -ENOMEM;
        strcpy(rs->table, PST_TABLE);
        r = pst_ruleset_file(rs, "", &idx);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rs);
        return 0;
}

static void set_done(struct pst_set *s) {
        free(s->keys);
        free(s->data);
}

void pst_ruleset_free(struct pst_ruleset *rs) {
        if (!rs)
                return;
        for (size_t i = 0; i < rs->nsets; i++)
                set_done(&rs->sets[i]);
        free(rs->sets);
        if (!rs->rules_ref || --*rs->rules_ref == 0) {
                for (size_t i = 0; i < rs->nchains; i++)
                        free(rs->chains[i].rules);
                free(rs->rules_ref);
        }
        free(rs->chains);
        for (size_t i = 0; i < rs->nfiles; i++)
                free(rs->files[i]);
        free(rs->files);
        free(rs);
}

static void *memdup(const void *p, size_t n) {
        void *q = malloc(n);

        return q ? memcpy(q, p, n) : NULL;
}

/* A copy owning its own memory: every array copied at its length (caps =
 * lengths); with elems false, no elements. */
static int set_dup(struct pst_set *d, const struct pst_set *s, bool elems) {
        size_t kb = s->n * 2 * (size_t) s->klen;

        *d = *s;
        d->keys = NULL;
        d->data = NULL;
        d->cap = d->capdata = 0;
        if (!elems) {
                d->n = 0;
                return 0;
        }
        if (kb) {
                d->keys = memdup(s->keys, kb);
                if (!d->keys)
                        return -ENOMEM;
                d->cap = kb;
        }
        if ((s->flags & PST_SET_MAP) && s->n) {
                d->data = memdup(s->data, s->n * sizeof(*s->data));
                if (!d->data)
                        return -ENOMEM;
                d->capdata = s->n;
        }
        return 0;
}

int pst_ruleset_dup(struct pst_ruleset *src, bool (*empty)(const struct pst_set *s, void *userdata), void *userdata,
                    struct pst_ruleset **ret) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = calloc(1, sizeof(*rs));
        int r;

        if (!rs)
                return -ENOMEM;
        strcpy(rs->table, src->table);
        rs->sets = calloc(MAX(src->nsets, (size_t) 1), sizeof(*rs->sets));
        rs->chains = calloc(MAX(src->nchains, (size_t) 1), sizeof(*rs->chains));
        rs->files = calloc(MAX(src->nfiles, (size_t) 1), sizeof(*rs->files));
        if (!rs->sets || !rs->chains || !rs->files)
                return -ENOMEM;
        rs->capsets = MAX(src->nsets, (size_t) 1);
        rs->capchains = MAX(src->nchains, (size_t) 1);
        rs->capfiles = MAX(src->nfiles, (size_t) 1);
        for (; rs->nsets < src->nsets; rs->nsets++) {
                const struct pst_set *s = &src->sets[rs->nsets];

                r = set_dup(&rs->sets[rs->nsets], s, !empty || !empty(s, userdata));
                if (r < 0) {
                        rs->nsets++; /* freed with the others */
                        return r;
                }
        }
        if (!src->rules_ref) {
                src->rules_ref = calloc(1, sizeof(*src->rules_ref));
                if (!src->rules_ref)
                        return -ENOMEM;
                *src->rules_ref = 1;
        }
        ++*src->rules_ref;
        rs->rules_ref = src->rules_ref;
        memcpy(rs->chains, src->chains, src->nchains * sizeof(*src->chains));
        rs->nchains = src->nchains;
        for (; rs->nfiles < src->nfiles; rs->nfiles++) {
                rs->files[rs->nfiles] = strdup(src->files[rs->nfiles]);
                if (!rs->files[rs->nfiles])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(rs);
        return 0;
}

int pst_ruleset_file(struct pst_ruleset *rs, const char *file, uint32_t *ret) {
        int r;

        for (size_t i = 0; i < rs->nfiles; i++)
                if (streq(rs->files[i], file)) {
                        *ret = (uint32_t) i;
                        return 0;
                }
        r = GROW(rs->files, rs->capfiles, rs->nfiles + 1, 4096);
        if (r < 0)
                return r;
        rs->files[rs->nfiles] = strdup(file);
        if (!rs->files[rs->nfiles])
                return -ENOMEM;
        *ret = (uint32_t) rs->nfiles++;
        return 0;
}

const char *pst_origin_file(const struct pst_ruleset *rs, struct pst_origin o) {
        if (o.file == 0 || o.file >= rs->nfiles)
                return NULL;
        return rs->files[o.file];
}

int pst_chain_add(struct pst_ruleset *rs, const char *name, enum pst_hook hook,
                  enum pst_verdict_kind policy, uint32_t *ret_index) {
        struct pst_chain *c;
        int r;

        if (pst_chain_find(rs, name) >= 0)
                return -EEXIST;
        r = GROW(rs->chains, rs->capchains, rs->nchains + 1, PST_CHAINS_MAX);
        if (r < 0)
                return r;
        c = &rs->chains[rs->nchains];
        *c = (struct pst_chain) { .hook = hook, .policy = policy };
        r = strcpy_bounded(c->name, sizeof(c->name), name);
        if (r < 0)
                return r;
        if (ret_index)
                *ret_index = (uint32_t) rs->nchains;
        rs->nchains++;
        return 0;
}

int pst_chain_find(const struct pst_ruleset *rs, const char *name) {
        for (size_t i = 0; i < rs->nchains; i++)
                if (streq(rs->chains[i].name, name))
                        return (int) i;
        return -ENOENT;
}

/* rs's own copy of the rule arrays it shares (pst_ruleset_dup) */
static int rules_unshare(struct pst_ruleset *rs) {
        if (!rs->rules_ref)
                return 0;
        if (*rs->rules_ref > 1) {
                _cleanup_free_ struct pst_rule **own = calloc(MAX(rs->nchains, (size_t) 1), sizeof(*own));

                if (!own)
                        return -ENOMEM;
                for (size_t i = 0; i < rs->nchains; i++) {
                        const struct pst_chain *c = &rs->chains[i];

                        if (c->n && !(own[i] = memdup(c->rules, c->n * sizeof(*c->rules)))) {
                                while (i-- > 0)
                                        free(own[i]);
                                return -ENOMEM;
                        }
                }
                for (size_t i = 0; i < rs->nchains; i++) {
                        rs->chains[i].rules = own[i];
                        rs->chains[i].cap = rs->chains[i].n;
                }
                --*rs->rules_ref;
        } else
                free(rs->rules_ref);
        rs->rules_ref = NULL;
        return 0;
}

int pst_rule_add(struct pst_ruleset *rs, uint32_t chain, const struct pst_rule *rule) {
        struct pst_chain *c;
        int r;

        if (chain >= rs->nchains)
                return -EINVAL;
        r = rules_unshare(rs);
        if (r < 0)
                return r;
        c = &rs->chains[chain];
        r = GROW(c->rules, c->cap, c->n + 1, PST_RULES_MAX);
        if (r < 0)
                return r;
        c->rules[c->n++] = *rule;
        return 0;
}

int pst_rule_insert(struct pst_ruleset *rs, uint32_t chain, size_t at, const struct pst_rule *rule) {
        struct pst_chain *c;
        int r;

        if (chain >= rs->nchains || at > rs->chains[chain].n)
                return -EINVAL;
        r = pst_rule_add(rs, chain, rule);
        if (r < 0)
                return r;
        c = &rs->chains[chain];
        memmove(c->rules + at + 1, c->rules + at, (c->n - 1 - at) * sizeof(*c->rules));
        c->rules[at] = *rule;
        return 0;
}

int pst_set_add(struct pst_ruleset *rs, const char *name, uint32_t flags, const enum pst_field *fields,
                unsigned nfields, uint32_t *ret_index) {
        struct pst_set *s;
        int r;

        if (nfields == 0 || nfields > PST_CONCAT_MAX)
                return -EINVAL;
        if (!(flags & PST_SET_ANON) && pst_set_find(rs, name) >= 0)
                return -EEXIST;
        r = GROW(rs->sets, rs->capsets, rs->nsets + 1, PST_SETS_MAX);
        if (r < 0)
                return r;
        s = &rs->sets[rs->nsets];
        *s = (struct pst_set) { .flags = flags, .nfields = (uint8_t) nfields };
        memcpy(s->fields, fields, nfields * sizeof(*fields));
        s->klen = pst_key_len(fields, nfields);
        if (!(flags & PST_SET_ANON)) {
                r = strcpy_bounded(s->name, sizeof(s->name), name);
                if (r < 0)
                        return r;
        }
        if (ret_index)
                *ret_index = (uint32_t) rs->nsets;
        rs->nsets++;
        return 0;
}

void pst_set_drop_last(struct pst_ruleset *rs) {
        if (rs->nsets == 0)
                return;
        set_done(&rs->sets[--rs->nsets]);
}

int pst_set_find(const struct pst_ruleset *rs, const char *name) {
        for (size_t i = 0; i < rs->nsets; i++)
                if (!(rs->sets[i].flags & PST_SET_ANON) && streq(rs->sets[i].name, name))
                        return (int) i;
        return -ENOENT;
}

int pst_set_reserve(struct pst_set *s, size_t n) {
        int r;

        if (n > PST_ELEMS_MAX)
                return -E2BIG;
        r = GROW(s->keys, s->cap, 2 * s->klen * n, 2 * (size_t) s->klen * PST_ELEMS_MAX);
        if (r < 0 || !(s->flags & PST_SET_MAP))
                return r;
        return GROW(s->data, s->capdata, n, PST_ELEMS_MAX);
}

int pst_set_add_pairs(struct pst_set *s, const uint8_t *pairs, size_t n) {
        size_t esz = 2 * (size_t) s->klen;
        int r;

        if (s->flags & PST_SET_MAP)
                return -EINVAL;
        if (n > PST_ELEMS_MAX - s->n)
                return -E2BIG;
        r = pst_set_reserve(s, s->n + n);
        if (r < 0)
                return r;
        if (n)
                memcpy(s->keys + s->n * esz, pairs, n * esz);
        s->n += n;
        return 0;
}

int pst_set_add_elem(struct pst_set *s, const uint8_t *first, const uint8_t *last,
                     const struct pst_verdict *data) {
        int r;

        r = GROW(s->keys, s->cap, 2 * s->klen * (s->n + 1), 2 * (size_t) s->klen * PST_ELEMS_MAX);
        if (r < 0)
                return r;
        if (s->flags & PST_SET_MAP) {
                r = GROW(s->data, s->capdata, s->n + 1, PST_ELEMS_MAX);
                if (r < 0)
                        return r;
                s->data[s->n] = data ? *data : (struct pst_verdict) { PST_V_ACCEPT, 0 };
        }
        memcpy(s->keys + s->n * 2 * s->klen, first, s->klen);
        memcpy(s->keys + s->n * 2 * s->klen + s->klen, last ? last : first, s->klen);
        s->n++;
        return 0;
}

void pst_set_clear(struct pst_set *s) {
        s->n = 0;
}

bool pst_key_inc(uint8_t *k, unsigned n) {
        for (unsigned i = n; i > 0; i--)
                if (++k[i - 1] != 0)
                        return false;
        return true;
}

/* Elements (first, last) in order of first, then last: memcmp() of the pair */
static int pair_cmp(const uint8_t *a, const uint8_t *b, uint32_t klen) {
        int c = pst_key_cmp(a, b, klen);

        return c ? c : pst_key_cmp(a + klen, b + klen, klen);
}

/* qsort_r context: key length */
static int elem_cmp(const void *a, const void *b, void *klen) {
        return pair_cmp(a, b, *(uint32_t *) klen);
}

/* A 4-byte pair (first, last) as one number in pair_cmp()'s order. */
static inline uint64_t pair4(const uint8_t *p) {
        uint32_t f, l;

        memcpy(&f, p, 4);
        memcpy(&l, p + 4, 4);
        return (uint64_t) __builtin_bswap32(f) << 32 | __builtin_bswap32(l);
}

/* The first i in (from, to) whose element sorts before or with element
 * i - 1 (to: none); strict: equal ones count too. */
static size_t first_unsorted(const struct pst_set *s, size_t from, size_t to, bool strict) {
        size_t esz = 2 * (size_t) s->klen;

        if (s->klen == 4) { /* IPv4 address lists: a compare of two numbers */
                for (size_t i = from + 1; i < to; i++) {
                        uint64_t a = pair4(s->keys + (i - 1) * 8), b = pair4(s->keys + i * 8);

                        if (a > b || (strict && a == b))
                                return i;
                }
                return to;
        }
        for (size_t i = from + 1; i < to; i++) {
                int c = pair_cmp(s->keys + (i - 1) * esz, s->keys + i * esz, s->klen);

                if (c > 0 || (strict && c == 0))
                        return i;
        }
        return to;
}

bool pst_set_strictly_sorted(const struct pst_set *s, size_t from, size_t to) {
        to = MIN(to, s->n);
        return from >= to || first_unsorted(s, from, to, true) == to;
}

bool pst_set_disjoint4(const struct pst_set *s) {
        uint32_t prev = 0;

        if (s->klen != 4 || s->nfields != 1 || field_info[s->fields[0]].len != 4)
                return false;
        for (size_t i = 0; i < s->n; i++) {
                uint64_t p = pair4(s->keys + i * 8);
                uint32_t f = (uint32_t) (p >> 32), l = (uint32_t) p;

                if (f > l || (i > 0 && f <= prev))
                        return false;
                prev = l;
        }
        return true;
}

/* qsort_r() (glibc: a merge sort) compares n log n times even when the
 * input is already in order, as address lists kept by hand or generated
 * usually are: check first, in one pass. */
static void sort_elems(struct pst_set *s) {
        if (first_unsorted(s, 0, s->n, false) < s->n)
                qsort_r(s->keys, s->n, 2 * (size_t) s->klen, elem_cmp, &s->klen);
}

int pst_set_sort(struct pst_set *s, size_t *ret_clash) {
        size_t esz = 2 * (size_t) s->klen;

        if (s->n < 2)
                return 0;
        if (s->flags & PST_SET_MAP) {
                /* Maps are small (zone dispatch): sort keys and verdicts together. */
                for (size_t i = 1; i < s->n; i++)
                        for (size_t j = i; j > 0 && memcmp(s->keys + (j - 1) * esz, s->keys + j * esz, s->klen) > 0;
                             j--) {
                                uint8_t tmp[2 * PST_KEY_MAX];
                                struct pst_verdict v;

                                memcpy(tmp, s->keys + j * esz, esz);
                                memcpy(s->keys + j * esz, s->keys + (j - 1) * esz, esz);
                                memcpy(s->keys + (j - 1) * esz, tmp, esz);
                                v = s->data[j];
                                s->data[j] = s->data[j - 1];
                                s->data[j - 1] = v;
                        }
        } else
                sort_elems(s);

        /* Concatenations are checked by the kernel (pipapo): only single fields here. */
        if (s->nfields != 1)
                return 0;
        for (size_t i = 1; i < s->n; i++)
                if (pst_key_cmp(pst_set_first(s, i), pst_set_last(s, i - 1), s->klen) <= 0) {
                        if (ret_clash)
                                *ret_clash = i;
                        return -EEXIST;
                }
        return 0;
}

static bool merge4_applies(const struct pst_set *s) {
        return s->klen == 4 && s->nfields == 1 && field_info[s->fields[0]].len == 4 && !(s->flags & PST_SET_MAP);
}

/* pst_set_normalize()'s merge of n sorted elements at src (n > 0; src may
 * be s->keys itself: an element is written after it is read) into s->keys,
 * for 4-byte fields (IPv4 addresses), in numbers: the one pass over a
 * 100,000-entry list that every reload of it makes. */
static void merge4(struct pst_set *s, const uint8_t *src, size_t n) {
        bool interval = s->flags & PST_SET_INTERVAL;
        uint8_t *k = s->keys;
        size_t out = 0;
        uint64_t p = pair4(src);
        uint32_t lo = (uint32_t) (p >> 32), hi = (uint32_t) p;

        for (size_t i = 1; i <= n; i++) {
                uint32_t f = 0, l = 0, be;

                if (i < n) {
                        p = pair4(src + i * 8);
                        f = (uint32_t) (p >> 32);
                        l = (uint32_t) p;
                        /* overlapping or adjacent (an interval set's last + 1, unless it wraps): extend */
                        if (f <= hi || (interval && hi != UINT32_MAX && f == hi + 1)) {
                                hi = MAX(hi, l);
                                continue;
                        }
                }
                be = __builtin_bswap32(lo);
                memcpy(k + out * 8, &be, 4);
                be = __builtin_bswap32(hi);
                memcpy(k + out * 8 + 4, &be, 4);
                out++;
                lo = f;
                hi = l;
        }
        s->n = out;
}

int pst_set_normalize(struct pst_set *s) {
        size_t out = 0;
        int r;

        if (s->flags & PST_SET_MAP || s->nfields != 1) {
                r = pst_set_sort(s, NULL);
                return s->nfields != 1 ? 0 : r;
        }
        if (s->n < 2)
                return 0;
        sort_elems(s);
        if (merge4_applies(s)) {
                merge4(s, s->keys, s->n);
                return 0;
        }
        for (size_t i = 1; i < s->n; i++) {
                uint8_t *last = s->keys + out * 2 * s->klen + s->klen;
                const uint8_t *first = pst_set_first(s, i);
                uint8_t next[PST_KEY_MAX];
                bool wrap;

                /* increment over the field's own bytes, not the register padding */
                memcpy(next, last, s->klen);
                wrap = pst_key_inc(next, field_info[s->fields[0]].len);
                if (pst_key_cmp(first, last, s->klen) <= 0 ||
                    ((s->flags & PST_SET_INTERVAL) && !wrap && pst_key_cmp(first, next, s->klen) == 0)) {
                        /* overlapping or adjacent: extend */
                        if (pst_key_cmp(pst_set_last(s, i), last, s->klen) > 0)
                                memcpy(last, pst_set_last(s, i), s->klen);
                        continue;
                }
                out++;
                if (out != i)
                        memcpy(s->keys + out * 2 * s->klen, s->keys + i * 2 * s->klen, 2 * (size_t) s->klen);
        }
        s->n = out + 1;
        return 0;
}

int pst_set_fill_sorted(struct pst_set *s, const uint8_t *pairs, size_t n) {
        int r;

        if (s->n != 0)
                return -EINVAL;
        if (!merge4_applies(s) || n < 2) {
                r = pst_set_add_pairs(s, pairs, n);
                return r < 0 ? r : pst_set_normalize(s);
        }
        if (n > PST_ELEMS_MAX)
                return -E2BIG;
        if (s->cap < 8 * n) { /* merge4: 8 bytes an element, at most one per pair */
                /* empty: nothing to keep, so no realloc() copying what was there
                 * and no zeroing of a doubled capacity — a 100,000-entry list's
                 * refill writes its 800 kB once (issue 15) */
                free(s->keys);
                s->keys = malloc(8 * n);
                s->cap = s->keys ? 8 * n : 0;
                if (!s->keys)
                        return -ENOMEM;
        }
        merge4(s, pairs, n);
        return 0;
}

void pst_match_set(struct pst_match *m, enum pst_field f, uint32_t set) {
        *m = (struct pst_match) { .op = PST_M_SET, .nfields = 1, .fields = { f }, .set = set };
}

void pst_match_eq(struct pst_match *m, enum pst_field f, const void *value, bool negate) {
        *m = (struct pst_match) { .op = negate ? PST_M_NEQ : PST_M_EQ, .nfields = 1, .fields = { f } };
        memcpy(m->value, value, field_info[f].len);
}

void pst_match_range(struct pst_match *m, enum pst_field f, const void *first, const void *last) {
        pst_match_eq(m, f, first, false);
        if (memcmp(first, last, field_info[f].len) != 0) {
                m->op = PST_M_RANGE;
                memcpy(m->last, last, field_info[f].len);
        }
}

size_t pst_ruleset_nrules(const struct pst_ruleset *rs) {
        size_t n = 0;

        for (size_t i = 0; i < rs->nchains; i++)
                n += rs->chains[i].n;
        return n;
}
