/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The live table through netlink dumps: its structure as libnftnl objects
 * (replayable into a private namespace) and its named sets' elements as
 * sorted ranges (nft-dump.h).
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nft-dump.h"
#include "nlreq.h"
#include "util.h"

/* The kernel fills at most 32 KiB per dump datagram (netlink_dump()). */
#define DUMP_BUF (64 * 1024)
#define DUMP_READS_MAX (16 * 1024 * 1024) /* 2M elements need ~1,300 */
#define LIVE_OBJS_MAX (PST_CHAINS_MAX * 2 + PST_SETS_MAX + 1)
#define LIVE_RULES_MAX ((size_t) PST_CHAINS_MAX * PST_RULES_MAX)
#define REPLAY_MSG_MAX (64 * 1024)

/* ---- ranges ---- */

void pst_elems_clear(struct pst_elems *e) {
        free(e->keys);
        e->keys = NULL;
        e->n = e->cap = 0;
}

static int elems_add(struct pst_elems *e, const uint8_t *first, const uint8_t *last) {
        size_t rec = 2 * (size_t) e->klen;

        if (e->n >= PST_ELEMS_MAX * 2)
                return -E2BIG;
        if (GROW(e->keys, e->cap, (e->n + 1) * rec, (size_t) PST_ELEMS_MAX * 2 * rec) < 0)
                return -ENOMEM;
        memcpy(e->keys + e->n * rec, first, e->klen);
        memcpy(e->keys + e->n * rec + e->klen, last, e->klen);
        e->n++;
        return 0;
}

static int rec_cmp(const void *a, const void *b, void *rec) {
        return memcmp(a, b, *(const size_t *) rec);
}

/* Records of size rec in ascending memcmp order: already so, the reverse
 * (an rbtree dumps from the highest key down), or sorted here. */
static void sort_records(uint8_t *v, size_t n, size_t rec) {
        bool asc = true, desc = true;

        for (size_t i = 1; i < n && (asc || desc); i++) {
                int d = memcmp(v + (i - 1) * rec, v + i * rec, rec);

                asc = asc && d <= 0;
                desc = desc && d >= 0;
        }
        if (asc)
                return;
        if (desc) {
                uint8_t tmp[2 * 256 + 1];

                for (size_t i = 0, j = n - 1; i < j; i++, j--) {
                        memcpy(tmp, v + i * rec, rec);
                        memcpy(v + i * rec, v + j * rec, rec);
                        memcpy(v + j * rec, tmp, rec);
                }
                return;
        }
        qsort_r(v, n, rec, rec_cmp, &rec);
}

int pst_elems_from_set(const struct pst_set *s, struct pst_elems *ret) {
        /* a single field is keyed unpadded in the kernel, a concatenation padded */
        uint32_t klen = s->nfields == 1 ? pst_field_info(s->fields[0])->len : s->klen;
        int r;

        *ret = (struct pst_elems) { .klen = klen };
        /* the kernel's NFTA_SET_KEY_TYPE: 6 bits per field (nft's concat_subtype_add()) */
        for (unsigned f = 0; f < s->nfields; f++)
                ret->key_type = (ret->key_type << 6) | pst_field_info(s->fields[f])->datatype;
        strncpy(ret->name, s->name, sizeof(ret->name) - 1);
        for (size_t i = 0; i < s->n; i++) {
                r = elems_add(ret, pst_set_first(s, i), pst_set_last(s, i));
                if (r < 0) {
                        pst_elems_clear(ret);
                        return r;
                }
        }
        sort_records(ret->keys, ret->n, 2 * (size_t) klen);
        return 0;
}

int pst_elems_diff(const struct pst_elems *a, const struct pst_elems *b, pst_elems_diff_cb cb, void *data) {
        size_t i = 0, j = 0;
        int r = 0;

        if (a->klen != b->klen && a->n && b->n) {
                /* a different key: every element differs */
                for (; i < a->n && r >= 0; i++)
                        r = cb('-', a->keys + i * 2 * a->klen, a->keys + i * 2 * a->klen + a->klen, data);
                for (; j < b->n && r >= 0; j++)
                        r = cb('+', b->keys + j * 2 * b->klen, b->keys + j * 2 * b->klen + b->klen, data);
                return r < 0 ? r : 0;
        }
        while ((i < a->n || j < b->n) && r >= 0) {
                size_t rec = 2 * (size_t) (a->n ? a->klen : b->klen);
                const uint8_t *x = i < a->n ? a->keys + i * rec : NULL, *y = j < b->n ? b->keys + j * rec : NULL;
                int d = !x ? 1 : !y ? -1 : memcmp(x, y, rec);

                if (d == 0) {
                        i++, j++;
                        continue;
                }
                if (d < 0) {
                        r = cb('-', x, x + rec / 2, data);
                        i++;
                } else {
                        r = cb('+', y, y + rec / 2, data);
                        j++;
                }
        }
        return r < 0 ? r : 0;
}

/* The prefix length if [first, last] is exactly one prefix, else -1. */
static int prefix_len(const uint8_t *first, const uint8_t *last, uint32_t len) {
        int plen = -1;

        for (uint32_t bit = 0; bit < len * 8; bit++) {
                unsigned m = 0x80u >> (bit % 8);
                bool f = first[bit / 8] & m, l = last[bit / 8] & m;

                if (plen < 0 && f == l)
                        continue;
                if (plen < 0)
                        plen = (int) bit;
                if (f || !l)
                        return -1; /* below the prefix: first all zeroes, last all ones */
        }
        return plen < 0 ? (int) len * 8 : plen;
}

static void format_one(const struct pst_elems *e, const uint8_t *k, char *buf, size_t size) {
        size_t o = 0;

        if (e->key_type == 7 && e->klen == 4 && inet_ntop(AF_INET, k, buf, (socklen_t) size))
                return;
        if (e->key_type == 8 && e->klen == 16 && inet_ntop(AF_INET6, k, buf, (socklen_t) size))
                return;
        if (e->key_type == 13 && e->klen == 2) {
                snprintf(buf, size, "%u", (unsigned) k[0] << 8 | k[1]);
                return;
        }
        if (e->key_type == 41 && memchr(k, 0, e->klen)) { /* ifname */
                snprintf(buf, size, "\"%s\"", (const char *) k);
                return;
        }
        o += (size_t) snprintf(buf, size, "0x");
        for (uint32_t i = 0; i < e->klen && o + 3 <= size; i++)
                o += (size_t) snprintf(buf + o, size - o, "%02x", k[i]);
}

/* One field's range: a value, a prefix or first-last. */
static void format_range(const struct pst_elems *e, const uint8_t *first, const uint8_t *last, char *buf,
                         size_t size) {
        char a[INET6_ADDRSTRLEN + 600], b[sizeof(a)];
        int plen;

        format_one(e, first, a, sizeof(a));
        if (memcmp(first, last, e->klen) == 0) {
                snprintf(buf, size, "%s", a);
                return;
        }
        plen = (e->key_type == 7 || e->key_type == 8) ? prefix_len(first, last, e->klen) : -1;
        if (plen >= 0) {
                snprintf(buf, size, "%s/%d", a, plen);
                return;
        }
        format_one(e, last, b, sizeof(b));
        snprintf(buf, size, "%s-%s", a, b);
}

static uint32_t type_len(uint32_t type) {
        return type == 8 ? 16 : type == 13 ? 2 : 4;
}

void pst_elems_format(const struct pst_elems *e, const uint8_t *first, const uint8_t *last, char *buf,
                      size_t size) {
        uint32_t types[PST_CONCAT_MAX + 2], n = 0, off = 0;
        size_t o = 0;

        if (e->key_type < 64) { /* one field */
                format_range(e, first, last, buf, size);
                return;
        }
        /* a concatenation: 6 bits of type per field, the first field highest */
        for (uint32_t kt = e->key_type; kt && n < ELEMENTSOF(types); kt >>= 6)
                types[n++] = kt & 63;
        buf[0] = 0;
        for (uint32_t i = n; i-- > 0 && o < size;) {
                struct pst_elems f = { .key_type = types[i], .klen = type_len(types[i]) };

                if (off + f.klen > e->klen)
                        break;
                if (o)
                        o += (size_t) snprintf(buf + o, size - o, " . ");
                if (o < size)
                        format_range(&f, first + off, last + off, buf + o, size - o);
                o += strlen(buf + o);
                off += (f.klen + 3) & ~3u;
        }
}

/* ---- the dump ---- */

struct pst_live_table {
        char table[PST_NAME_MAX];
        unsigned flags; /* PST_LIVE_* */
        bool exists;
        struct nftnl_chain **chains;
        size_t nchains, capchains;
        struct nftnl_set **sets; /* every set; anonymous ones with their elements */
        size_t nsets, capsets;
        struct nftnl_rule **rules;
        size_t nrules, caprules;
        struct pst_elems *named; /* the elements of the named sets, as ranges */
        bool *filled;            /* per named set: its elements are there (dumped or handed over) */
        size_t nnamed, capnamed, capfilled;
};

void pst_live_free(struct pst_live_table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->nchains; i++)
                nftnl_chain_free(t->chains[i]);
        for (size_t i = 0; i < t->nsets; i++)
                nftnl_set_free(t->sets[i]);
        for (size_t i = 0; i < t->nrules; i++)
                nftnl_rule_free(t->rules[i]);
        for (size_t i = 0; i < t->nnamed; i++)
                pst_elems_clear(&t->named[i]);
        free(t->chains);
        free(t->sets);
        free(t->rules);
        free(t->named);
        free(t->filled);
        free(t);
}

bool pst_live_exists(const struct pst_live_table *t) {
        return t->exists;
}

size_t pst_live_nsets(const struct pst_live_table *t) {
        return t->nnamed;
}

const struct pst_elems *pst_live_set(const struct pst_live_table *t, size_t i) {
        return i < t->nnamed ? &t->named[i] : NULL;
}

const struct pst_elems *pst_live_find_set(const struct pst_live_table *t, const char *name) {
        for (size_t i = 0; i < t->nnamed; i++)
                if (streq(t->named[i].name, name))
                        return &t->named[i];
        return NULL;
}

int pst_live_set_elems(struct pst_live_table *t, struct pst_elems *e) {
        for (size_t i = 0; i < t->nnamed; i++) {
                struct pst_elems *d = &t->named[i];

                if (!streq(d->name, e->name))
                        continue;
                if (t->filled[i])
                        return -EEXIST;
                if (e->klen != d->klen)
                        return -EPROTO; /* not the set the kernel has, even when empty */
                pst_elems_clear(d);
                d->keys = TAKE_PTR(e->keys);
                d->n = e->n;
                d->cap = e->cap;
                e->n = e->cap = 0;
                t->filled[i] = true;
                return 0;
        }
        return -ENOENT;
}

struct dumper {
        struct mnl_socket *nl;
        uint32_t seq;
        uint8_t *buf;
};

static void dumper_close(struct dumper *d) {
        if (d->nl)
                mnl_socket_close(d->nl);
        free(d->buf);
}

static int dumper_open(struct dumper *d) {
        int rcv = 4 * DUMP_BUF;

        *d = (struct dumper) { .seq = 1 };
        d->buf = malloc(DUMP_BUF);
        if (!d->buf)
                return -ENOMEM;
        d->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!d->nl)
                return -errno;
        if (mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        (void) setsockopt(mnl_socket_get_fd(d->nl), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
        return 0;
}

/* One request (a dump, or a GET with NLM_F_ACK); every answer to cb.
 * Returns 0 or the kernel's negative errno. */
static int dumper_run(struct dumper *d, struct nlmsghdr *req, mnl_cb_t cb, void *data) {
        req->nlmsg_seq = ++d->seq;
        return pst_nl_run(d->nl, req, d->buf, DUMP_BUF, DUMP_READS_MAX, cb, data);
}

static struct nlmsghdr *request(char *buf, uint16_t type, uint16_t flags, uint16_t table_attr, const char *table) {
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, 0);

        mnl_attr_put_strz(nlh, table_attr, table);
        return nlh;
}

static int table_cb(const struct nlmsghdr *nlh, void *data) {
        struct pst_live_table *t = data;

        if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWTABLE)
                t->exists = true;
        return MNL_CB_OK;
}

/* Keep only our table's objects (older kernels ignore a dump's table filter). */
static bool ours(const struct pst_live_table *t, const char *table, uint32_t family) {
        return table && streq(table, t->table) && family == NFPROTO_INET;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data) {
        struct pst_live_table *t = data;
        struct nftnl_chain *c = nftnl_chain_alloc();

        if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
            !ours(t, nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY)) ||
            GROW(t->chains, t->capchains, t->nchains + 1, LIVE_OBJS_MAX) < 0) {
                if (c)
                        nftnl_chain_free(c);
                return c ? MNL_CB_OK : MNL_CB_ERROR;
        }
        t->chains[t->nchains++] = c;
        return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data) {
        struct pst_live_table *t = data;
        struct nftnl_set *s = nftnl_set_alloc();

        if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0 ||
            !ours(t, nftnl_set_get_str(s, NFTNL_SET_TABLE), nftnl_set_get_u32(s, NFTNL_SET_FAMILY)) ||
            GROW(t->sets, t->capsets, t->nsets + 1, LIVE_OBJS_MAX) < 0) {
                if (s)
                        nftnl_set_free(s);
                return s ? MNL_CB_OK : MNL_CB_ERROR;
        }
        t->sets[t->nsets++] = s;
        return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data) {
        struct pst_live_table *t = data;
        struct nftnl_rule *r = nftnl_rule_alloc();

        if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0 ||
            !ours(t, nftnl_rule_get_str(r, NFTNL_RULE_TABLE), nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY)) ||
            GROW(t->rules, t->caprules, t->nrules + 1, LIVE_RULES_MAX) < 0) {
                if (r)
                        nftnl_rule_free(r);
                return r ? MNL_CB_OK : MNL_CB_ERROR;
        }
        t->rules[t->nrules++] = r;
        return MNL_CB_OK;
}

static int anon_elems_cb(const struct nlmsghdr *nlh, void *data) {
        return nftnl_set_elems_nlmsg_parse(nlh, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* The kernel's elements of a named set, collected raw: records of one
 * flag byte (1: interval end), the key and the key end (concatenations). */
struct raw_elems {
        uint32_t klen;
        size_t rec, n, cap;
        uint8_t *v;
        bool bad;
};

/* Record layout: key, key end (concatenations), then one byte that is 0
 * for an interval end and 1 otherwise, so that memcmp sorts by key and an
 * end before a start of the same key (adjacent ranges of a named set). */
static void raw_elem(struct raw_elems *re, const struct nlattr *elem) {
        uint8_t rec[2 * NFT_DATA_VALUE_MAXLEN + 1] = {};
        const struct nlattr *a, *v;
        bool end = false;

        mnl_attr_for_each_nested(a, elem) {
                uint16_t type = mnl_attr_get_type(a);

                if (type == NFTA_SET_ELEM_FLAGS && mnl_attr_get_payload_len(a) == 4)
                        end = ntohl(mnl_attr_get_u32(a)) & NFT_SET_ELEM_INTERVAL_END;
                if (type != NFTA_SET_ELEM_KEY && type != NFTA_SET_ELEM_KEY_END)
                        continue;
                mnl_attr_for_each_nested(v, a) {
                        if (mnl_attr_get_type(v) != NFTA_DATA_VALUE || mnl_attr_get_payload_len(v) != re->klen) {
                                re->bad = true;
                                continue;
                        }
                        memcpy(rec + (type == NFTA_SET_ELEM_KEY ? 0 : re->klen), mnl_attr_get_payload(v), re->klen);
                }
        }
        rec[2 * re->klen] = end ? 0 : 1;
        if (GROW(re->v, re->cap, (re->n + 1) * re->rec, (size_t) PST_ELEMS_MAX * 2 * re->rec) < 0) {
                re->bad = true;
                return;
        }
        memcpy(re->v + re->n++ * re->rec, rec, re->rec);
}

static int raw_elems_cb(const struct nlmsghdr *nlh, void *data) {
        const struct nlattr *a, *e;

        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
                        continue;
                mnl_attr_for_each_nested(e, a)
                        raw_elem(data, e);
        }
        return MNL_CB_OK;
}

/* dst = src - 1, big-endian (src is never all zeroes: an end is above its start) */
static void key_dec(uint8_t *dst, const uint8_t *src, uint32_t len) {
        memcpy(dst, src, len);
        for (uint32_t i = len; i-- > 0;)
                if (dst[i]-- != 0)
                        break;
}

/*
 * Kernel elements → ranges.  A single-field interval set (rbtree) holds a
 * start element per range and an end element (last + 1, flagged) unless the
 * range runs to the top of the key space; a leading end at zero closes
 * nothing.  A concatenation of ranges (pipapo) holds key and key end; any
 * other set single keys.
 */
static int raw_to_ranges(struct raw_elems *re, uint32_t set_flags, struct pst_elems *out) {
        uint8_t first[NFT_DATA_VALUE_MAXLEN], last[NFT_DATA_VALUE_MAXLEN];
        bool rbtree = (set_flags & NFT_SET_INTERVAL) && !(set_flags & NFT_SET_CONCAT), open = false;
        uint32_t k = re->klen;
        int r = 0;

        sort_records(re->v, re->n, re->rec);
        for (size_t i = 0; i < re->n && r >= 0; i++) {
                const uint8_t *rec = re->v + i * re->rec;
                bool end = rec[2 * k] == 0;

                if (!rbtree) {
                        r = elems_add(out, rec, (set_flags & NFT_SET_CONCAT) ? rec + k : rec);
                        continue;
                }
                if (open && (end || memcmp(rec, first, k) != 0)) {
                        key_dec(last, rec, k); /* a start right after a start (anonymous sets) closes it too */
                        r = elems_add(out, first, last);
                        open = false;
                }
                if (!end) {
                        memcpy(first, rec, k);
                        open = true;
                }
        }
        if (r >= 0 && open) {
                memset(last, 0xff, k);
                r = elems_add(out, first, last);
        }
        return r;
}

static int dump_named_set(struct pst_live_table *t, struct dumper *d, const struct nftnl_set *s) {
        _cleanup_free_ char *req = malloc(MNL_SOCKET_BUFFER_SIZE);
        struct raw_elems re = {};
        struct pst_elems *e;
        struct nlmsghdr *nlh;
        int r;

        if (!req)
                return -ENOMEM;
        if (GROW(t->named, t->capnamed, t->nnamed + 1, LIVE_OBJS_MAX) < 0 ||
            GROW(t->filled, t->capfilled, t->nnamed + 1, LIVE_OBJS_MAX) < 0)
                return -ENOMEM;
        t->filled[t->nnamed] = !(t->flags & PST_LIVE_NO_NAMED_ELEMS);
        e = &t->named[t->nnamed++];
        *e = (struct pst_elems) { .klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN),
                                  .key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE) };
        strncpy(e->name, nftnl_set_get_str(s, NFTNL_SET_NAME), sizeof(e->name) - 1);
        if (e->klen == 0 || e->klen > NFT_DATA_VALUE_MAXLEN)
                return -EPROTO;
        if (t->flags & PST_LIVE_NO_NAMED_ELEMS)
                return 0;
        re = (struct raw_elems) { .klen = e->klen, .rec = 2 * (size_t) e->klen + 1 };
        nlh = request(req, NFT_MSG_GETSETELEM, NLM_F_DUMP, NFTA_SET_ELEM_LIST_TABLE, t->table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, e->name);
        r = dumper_run(d, nlh, raw_elems_cb, &re);
        if (r >= 0 && re.bad)
                r = -EPROTO;
        if (r >= 0)
                r = raw_to_ranges(&re, nftnl_set_get_u32(s, NFTNL_SET_FLAGS), e);
        free(re.v);
        return r;
}

static int dump_sets(struct pst_live_table *t, struct dumper *d) {
        _cleanup_free_ char *req = malloc(MNL_SOCKET_BUFFER_SIZE);
        int r;

        if (!req)
                return -ENOMEM;
        r = dumper_run(d, request(req, NFT_MSG_GETSET, NLM_F_DUMP, NFTA_SET_TABLE, t->table), set_cb, t);
        for (size_t i = 0; i < t->nsets && r >= 0; i++) {
                struct nftnl_set *s = t->sets[i];
                struct nlmsghdr *nlh;

                if (!(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS)) {
                        r = dump_named_set(t, d, s);
                        continue;
                }
                nlh = request(req, NFT_MSG_GETSETELEM, NLM_F_DUMP, NFTA_SET_ELEM_LIST_TABLE, t->table);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, nftnl_set_get_str(s, NFTNL_SET_NAME));
                r = dumper_run(d, nlh, anon_elems_cb, s);
        }
        return r;
}

int pst_live_dump(const char *table, unsigned flags, struct pst_live_table **ret, struct pst_diag *diag) {
        _cleanup_(pst_live_freep) struct pst_live_table *t = NULL;
        _cleanup_free_ char *req = malloc(MNL_SOCKET_BUFFER_SIZE);
        struct dumper d;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t || !req)
                return -ENOMEM;
        if (strcpy_bounded(t->table, sizeof(t->table), table) < 0)
                return -ENAMETOOLONG;
        t->flags = flags;
        r = dumper_open(&d);
        if (r >= 0) {
                r = dumper_run(&d, request(req, NFT_MSG_GETTABLE, NLM_F_ACK, NFTA_TABLE_NAME, table), table_cb, t);
                if (r == -ENOENT)
                        r = 0, t->exists = false;
        }
        if (r >= 0 && t->exists)
                r = dumper_run(&d, request(req, NFT_MSG_GETCHAIN, NLM_F_DUMP, NFTA_CHAIN_TABLE, table), chain_cb, t);
        if (r >= 0 && t->exists)
                r = dump_sets(t, &d);
        if (r >= 0 && t->exists)
                r = dumper_run(&d, request(req, NFT_MSG_GETRULE, NLM_F_DUMP, NFTA_RULE_TABLE, table), rule_cb, t);
        dumper_close(&d);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot read table inet %s from the kernel: %s", table,
                                 strerror(-r));
        *ret = TAKE_PTR(t);
        return 0;
}

/* ---- replay ---- */

struct replay {
        uint8_t *v;
        size_t len, cap;
        uint32_t seq;
};

/* Room for one more message of at most room bytes at the end of the batch. */
static struct nlmsghdr *replay_msg(struct replay *rp, size_t room, uint16_t type, uint16_t flags) {
        if (GROW(rp->v, rp->cap, rp->len + room, (size_t) 1 << 30) < 0)
                return NULL;
        memset(rp->v + rp->len, 0, room);
        return nftnl_nlmsg_build_hdr((char *) rp->v + rp->len, type, NFPROTO_INET, flags, rp->seq++);
}

static void replay_end(struct replay *rp, struct nlmsghdr *nlh) {
        rp->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static int replay_batch_mark(struct replay *rp, uint16_t type) {
        struct nlmsghdr *nlh;

        if (GROW(rp->v, rp->cap, rp->len + 256, (size_t) 1 << 30) < 0)
                return -ENOMEM;
        nlh = (type == NFNL_MSG_BATCH_BEGIN ? nftnl_batch_begin : nftnl_batch_end)((char *) rp->v + rp->len,
                                                                                    rp->seq++);
        replay_end(rp, nlh);
        return 0;
}

/* Elements per NEWSETELEM of an anonymous set: 200 × at most 256 bytes
 * (key, verdict or chain name, flags) stays below the element list nest's
 * 16-bit length. */
#define REPLAY_ELEMS_PER_MSG 200

/* NEWSETELEM messages of at most REPLAY_ELEMS_PER_MSG elements each. */
struct elem_chunker {
        struct replay *rp;
        const struct nftnl_set *set;
        struct nlmsghdr *nlh; /* the message being filled, or NULL */
        struct nlattr *nest;
        int n;
        int err;
};

static void chunk_end(struct elem_chunker *ec) {
        if (!ec->nlh)
                return;
        mnl_attr_nest_end(ec->nlh, ec->nest);
        replay_end(ec->rp, ec->nlh);
        ec->nlh = NULL;
        ec->n = 0;
}

static int chunk_elem_cb(struct nftnl_set_elem *e, void *data) {
        struct elem_chunker *ec = data;

        if (!ec->nlh) {
                ec->nlh = replay_msg(ec->rp, 4096 + REPLAY_ELEMS_PER_MSG * 256, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
                if (!ec->nlh)
                        return ec->err = -ENOMEM;
                mnl_attr_put_strz(ec->nlh, NFTA_SET_ELEM_LIST_TABLE, nftnl_set_get_str(ec->set, NFTNL_SET_TABLE));
                mnl_attr_put_strz(ec->nlh, NFTA_SET_ELEM_LIST_SET, nftnl_set_get_str(ec->set, NFTNL_SET_NAME));
                ec->nest = mnl_attr_nest_start(ec->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        }
        (void) nftnl_set_elem_nlmsg_build(ec->nlh, e, ++ec->n);
        if (ec->n == REPLAY_ELEMS_PER_MSG)
                chunk_end(ec);
        return 0;
}

static int replay_set(struct replay *rp, struct nftnl_set *s, uint32_t id) {
        struct elem_chunker ec = { .rp = rp, .set = s };
        struct nlmsghdr *nlh;

        nftnl_set_unset(s, NFTNL_SET_HANDLE);
        nftnl_set_set_u32(s, NFTNL_SET_ID, id); /* NEWSET requires one; nothing refers to it */
        nlh = replay_msg(rp, REPLAY_MSG_MAX, NFT_MSG_NEWSET, NLM_F_CREATE);
        if (!nlh)
                return -ENOMEM;
        nftnl_set_nlmsg_build_payload(nlh, s);
        replay_end(rp, nlh);
        if (!(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS))
                return 0; /* a named set's elements are compared, not listed */
        (void) nftnl_set_elem_foreach(s, chunk_elem_cb, &ec);
        if (ec.err >= 0)
                chunk_end(&ec);
        return ec.err;
}

static int replay_build(const struct pst_live_table *t, struct replay *rp) {
        struct nlmsghdr *nlh;
        int r;

        r = replay_batch_mark(rp, NFNL_MSG_BATCH_BEGIN);
        if (r < 0)
                return r;
        nlh = replay_msg(rp, 1024, NFT_MSG_NEWTABLE, NLM_F_CREATE);
        if (!nlh)
                return -ENOMEM;
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, t->table);
        replay_end(rp, nlh);
        for (size_t i = 0; i < t->nchains; i++) {
                struct nftnl_chain *c = t->chains[i];

                nftnl_chain_unset(c, NFTNL_CHAIN_HANDLE);
                nftnl_chain_unset(c, NFTNL_CHAIN_USE);
                nftnl_chain_unset(c, NFTNL_CHAIN_BYTES);
                nftnl_chain_unset(c, NFTNL_CHAIN_PACKETS);
                nlh = replay_msg(rp, REPLAY_MSG_MAX, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
                if (!nlh)
                        return -ENOMEM;
                nftnl_chain_nlmsg_build_payload(nlh, c);
                replay_end(rp, nlh);
        }
        for (size_t i = 0; i < t->nsets; i++) {
                r = replay_set(rp, t->sets[i], (uint32_t) i + 1);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < t->nrules; i++) {
                struct nftnl_rule *ru = t->rules[i];

                nftnl_rule_unset(ru, NFTNL_RULE_HANDLE);
                nftnl_rule_unset(ru, NFTNL_RULE_POSITION);
                nlh = replay_msg(rp, REPLAY_MSG_MAX, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
                if (!nlh)
                        return -ENOMEM;
                nftnl_rule_nlmsg_build_payload(nlh, ru);
                replay_end(rp, nlh);
        }
        return replay_batch_mark(rp, NFNL_MSG_BATCH_END);
}

/* Netlink runs a batch inside sendmsg(): when it returns, every error is
 * queued on the socket (messages without NLM_F_ACK answer only when they fail). */
static int replay_send(struct dumper *d, const struct replay *rp) {
        int size = (int) (rp->len > INT32_MAX / 2 ? INT32_MAX / 2 : rp->len) + 65536;
        int err = 0;

        (void) setsockopt(mnl_socket_get_fd(d->nl), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
        if (mnl_socket_sendto(d->nl, rp->v, rp->len) < 0)
                return -errno;
        for (;;) {
                ssize_t n = recv(mnl_socket_get_fd(d->nl), d->buf, DUMP_BUF, MSG_DONTWAIT);
                int left = (int) n;

                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? err : -errno;
                for (struct nlmsghdr *nlh = (struct nlmsghdr *) d->buf; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left)) {
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                        if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(*e) &&
                            e->error && !err)
                                err = e->error;
                }
        }
}

int pst_live_replay(const struct pst_live_table *t, struct pst_diag *diag) {
        struct replay rp = { .seq = 1 };
        struct dumper d;
        int r;

        if (!t->exists)
                return 0;
        r = replay_build(t, &rp);
        if (r >= 0) {
                r = dumper_open(&d);
                if (r >= 0)
                        r = replay_send(&d, &rp);
                dumper_close(&d);
        }
        free(rp.v);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot copy the structure of table inet %s: %s", t->table,
                                 strerror(-r));
        return 0;
}
