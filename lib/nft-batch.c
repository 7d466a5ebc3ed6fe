/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IR → nf_tables batch, without a socket.
 *
 * Order of the messages, as nft 1.0.6 orders a `table { ... }` block:
 *   BEGIN, NEWTABLE (create if missing), DELTABLE, NEWTABLE,
 *   all chains (so that jumps in rules and verdict maps resolve),
 *   named sets each followed by its elements,
 *   rules in chain order, each anonymous set right before the rule that binds it,
 *   END (left out in check mode).
 */
#include <arpa/inet.h>
#include <sys/mman.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "addr.h"
#include "nft-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_table *, nftnl_table_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_chain *, nftnl_chain_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_set *, nftnl_set_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule *, nftnl_rule_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_expr *, nftnl_expr_free);
static inline void udata_buf_freep(struct nftnl_udata_buf **p) {
        if (*p)
                nftnl_udata_buf_free(*p);
}

/* nft's enum byteorder, stored in the set's userdata (NFTNL_UDATA_SET_KEYBYTEORDER);
 * nft uses it to print keys of integer types when listing. */
enum {
        NFT_BYTEORDER_INVALID = 0,
        NFT_BYTEORDER_HOST = 1,
        NFT_BYTEORDER_BIG = 2,
};

/* Key byte order of each field's datatype, as nft 1.0.6 writes it for
 * `set s { type T; }` (observed with nft --debug=mnl): nf_proto and
 * inet_proto are plain integers without a byte order. */
static const uint8_t field_byteorder[_PST_F_MAX] = {
        [PST_F_IIFNAME] = NFT_BYTEORDER_HOST,     [PST_F_OIFNAME] = NFT_BYTEORDER_HOST,
        [PST_F_NFPROTO] = NFT_BYTEORDER_INVALID,  [PST_F_L4PROTO] = NFT_BYTEORDER_INVALID,
        [PST_F_IP_SADDR] = NFT_BYTEORDER_BIG,     [PST_F_IP_DADDR] = NFT_BYTEORDER_BIG,
        [PST_F_IP6_SADDR] = NFT_BYTEORDER_BIG,    [PST_F_IP6_DADDR] = NFT_BYTEORDER_BIG,
        [PST_F_TCP_DPORT] = NFT_BYTEORDER_BIG,    [PST_F_UDP_DPORT] = NFT_BYTEORDER_BIG,
        [PST_F_ICMP_TYPE] = NFT_BYTEORDER_BIG,    [PST_F_ICMP6_TYPE] = NFT_BYTEORDER_BIG,
        [PST_F_CT_STATE] = NFT_BYTEORDER_HOST,
        [PST_F_CT_DIRECTION] = NFT_BYTEORDER_INVALID, [PST_F_CT_STAMP] = NFT_BYTEORDER_HOST,
        [PST_F_TCP_SPORT] = NFT_BYTEORDER_BIG,
};

/* libnftnl's NFTNL_UDATA_SET_ELEM_FLAGS value for an interval that runs to
 * the end of the key space (no end element): nft needs it to list the
 * element as "65535" rather than as an open range. */
#define PST_SET_ELEM_F_INTERVAL_OPEN 0x1

/* ---- buffers and message bookkeeping ---- */

void pst_nft_batch_free(struct pst_nft_batch *b) {
        if (!b)
                return;
        for (size_t i = 0; i < b->niov; i++)
                (void) munmap(b->iov[i].iov_base, PST_NFT_BUF_SIZE);
        free(b->iov);
        free(b->msgs);
        free(b);
}

size_t pst_nft_batch_nbufs(const struct pst_nft_batch *b) {
        return b->niov;
}

const void *pst_nft_batch_buf(const struct pst_nft_batch *b, size_t i, size_t *ret_len) {
        if (i >= b->niov)
                return NULL;
        if (ret_len)
                *ret_len = b->iov[i].iov_len;
        return b->iov[i].iov_base;
}

size_t pst_nft_batch_len(const struct pst_nft_batch *b) {
        return b->len;
}

size_t pst_nft_batch_nmsgs(const struct pst_nft_batch *b) {
        return b->nmsgs;
}

/* Start a message: room for PST_NFT_MSG_MAX bytes at the end of the current
 * buffer (or a fresh one), and its sequence number. */
static int msg_start(struct pst_nft_batch *b, char **ret_buf, uint32_t *ret_seq) {
        struct iovec *cur = b->niov > 0 ? &b->iov[b->niov - 1] : NULL;
        int r;

        if (!cur || PST_NFT_BUF_SIZE - cur->iov_len < PST_NFT_MSG_MAX) {
                void *p;

                r = GROW(b->iov, b->capiov, b->niov + 1, PST_NFT_BATCH_MAX / PST_NFT_BUF_SIZE);
                if (r < 0)
                        return r;
                /* zeroed: libnftnl and libmnl leave attribute padding unwritten, and
                 * the padding is sent too.  Mapped, not calloc()ed: once the heap
                 * has freed large chunks glibc serves 1 MiB from the heap and
                 * clears all of it, faulting in 256 pages for a delta of one
                 * element; a fresh mapping is zero and only what is written
                 * costs a page */
                p = mmap(NULL, PST_NFT_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        return -ENOMEM;
                b->iov[b->niov++] = (struct iovec) { .iov_base = p, .iov_len = 0 };
                cur = &b->iov[b->niov - 1];
        }
        r = GROW(b->msgs, b->capmsgs, b->nmsgs + 1, PST_NFT_BATCH_MAX / 16);
        if (r < 0)
                return r;
        *ret_buf = (char *) cur->iov_base + cur->iov_len;
        *ret_seq = b->seq0 + (uint32_t) b->nmsgs;
        return 0;
}

/* Account for the message just written at the msg_start() position. */
static int msg_end(struct pst_nft_batch *b, const struct nlmsghdr *nlh, enum pst_nft_obj obj, uint32_t a,
                   uint32_t bb) {
        struct iovec *cur = &b->iov[b->niov - 1];

        /* Every builder stays below PST_NFT_MSG_MAX by construction; if one
         * did not, memory past the reservation is already written. */
        if (nlh->nlmsg_len > PST_NFT_MSG_MAX)
                abort();
        b->msgs[b->nmsgs++] = (struct pst_nft_msg) {
                .obj = (uint8_t) obj,
                .type = (uint8_t) (nlh->nlmsg_type & 0xff),
                .a = a,
                .b = bb,
                .buf = (uint32_t) (b->niov - 1),
                .off = (uint32_t) cur->iov_len,
        };
        cur->iov_len += nlh->nlmsg_len;
        b->len += nlh->nlmsg_len;
        return 0;
}

static int batch_new(const struct pst_ruleset *rs, const struct pst_apply_opts *o, uint32_t seq0,
                     struct pst_nft_batch **ret) {
        struct pst_nft_batch *b;
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->rs = rs;
        b->seq0 = seq0;
        r = msg_start(b, &buf, &seq);
        if (r < 0) {
                pst_nft_batch_free(b);
                return r;
        }
        nlh = nftnl_batch_begin(buf, seq);
        if (o && o->guard_genid)
                mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(o->genid));
        msg_end(b, nlh, PST_NFT_OBJ_BATCH, 0, 0);
        *ret = b;
        return 0;
}

static int batch_finish(struct pst_nft_batch *b) {
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int r;

        r = msg_start(b, &buf, &seq);
        if (r < 0)
                return r;
        nlh = nftnl_batch_end(buf, seq);
        return msg_end(b, nlh, PST_NFT_OBJ_BATCH, 0, 0);
}

/* ---- table, chains ---- */

static int put_table(struct pst_nft_batch *b, const char *name, uint16_t type, uint32_t flags) {
        _cleanup_(nftnl_table_freep) struct nftnl_table *t = NULL;
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int r;

        t = nftnl_table_alloc();
        if (!t)
                return -ENOMEM;
        if (nftnl_table_set_str(t, NFTNL_TABLE_NAME, name) < 0)
                return -ENOMEM;
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        if (type == NFT_MSG_NEWTABLE)
                nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);

        r = msg_start(b, &buf, &seq);
        if (r < 0)
                return r;
        nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET,
                                    NLM_F_ACK | (type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0), seq);
        nftnl_table_nlmsg_build_payload(nlh, t);
        return msg_end(b, nlh, PST_NFT_OBJ_TABLE, 0, 0);
}

static int put_chain(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t ci) {
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = NULL;
        const struct pst_chain *ch = &rs->chains[ci];
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int r;

        c = nftnl_chain_alloc();
        if (!c)
                return -ENOMEM;
        if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, rs->table) < 0 ||
            nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, ch->name) < 0)
                return -ENOMEM;
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        if (ch->hook != PST_HOOK_NONE) {
                static const uint32_t hooknum[] = {
                        [PST_HOOK_INPUT] = NF_INET_LOCAL_IN,
                        [PST_HOOK_FORWARD] = NF_INET_FORWARD,
                        [PST_HOOK_PREROUTING] = NF_INET_PRE_ROUTING,
                        [PST_HOOK_POSTROUTING] = NF_INET_POST_ROUTING,
                        [PST_HOOK_OUTPUT] = NF_INET_LOCAL_OUT,
                };

                if ((unsigned) ch->hook >= ELEMENTSOF(hooknum))
                        return -EINVAL;
                if (ch->policy != PST_V_ACCEPT && ch->policy != PST_V_DROP)
                        return -EINVAL;
                if (nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, pst_hook_is_nat(ch->hook) ? "nat" : "filter") < 0)
                        return -ENOMEM;
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hooknum[ch->hook]);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, ch->priority);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, ch->policy == PST_V_ACCEPT ? NF_ACCEPT : NF_DROP);
        }

        r = msg_start(b, &buf, &seq);
        if (r < 0)
                return r;
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
        nftnl_chain_nlmsg_build_payload(nlh, c);
        return msg_end(b, nlh, PST_NFT_OBJ_CHAIN, ci, 0);
}

/* ---- sets and their elements ---- */

static const char *set_kname(const struct pst_set *s) {
        if (s->flags & PST_SET_ANON)
                return (s->flags & PST_SET_MAP) ? "__map%d" : "__set%d";
        return s->name;
}

/* Kernel key length: a single field is sent unpadded (the kernel compares
 * the element key length with the set's), a concatenation padded per field. */
static uint32_t set_klen(const struct pst_set *s) {
        if (s->nfields == 1)
                return pst_field_info(s->fields[0])->len;
        return s->klen;
}

static bool set_interval1(const struct pst_set *s) {
        return (s->flags & PST_SET_INTERVAL) && s->nfields == 1;
}

static bool key_all(const uint8_t *k, uint32_t len, uint8_t v) {
        for (uint32_t i = 0; i < len; i++)
                if (k[i] != v)
                        return false;
        return true;
}

/* dst = src + 1 as a big-endian number; false on overflow (all ones).  Host
 * byte order keys (ct state) make no sense as intervals; nft would do the
 * same big-endian arithmetic on the bytes we have. */
static bool key_inc(uint8_t *dst, const uint8_t *src, uint32_t len) {
        memcpy(dst, src, len);
        return !pst_key_inc(dst, len);
}

/* last(i) + 1 == first(i + 1) */
static bool elems_adjacent(const struct pst_set *s, uint32_t klen, size_t i) {
        uint8_t next[PST_KEY_MAX];

        if (i + 1 >= s->n)
                return false;
        if (!key_inc(next, pst_set_last(s, i), klen))
                return false;
        return memcmp(next, pst_set_first(s, i + 1), klen) == 0;
}

/* One element as the kernel sees it. */
struct kelem {
        uint32_t flags; /* NFT_SET_ELEM_INTERVAL_END */
        const uint8_t *key;
        const uint8_t *key_end; /* concatenated ranges (pipapo): inclusive last */
        const struct pst_verdict *verdict;
        bool open; /* start of an interval that runs to the end of the key space */
        size_t ir; /* index of the IR element it comes from */
        uint8_t buf[PST_KEY_MAX];
};

/*
 * Walks an IR set and yields the kernel's elements:
 *  - single-field interval sets (rbtree): a leading all-zero end element
 *    when the first start is not zero, then start elements (key = first)
 *    and end elements (key = last + 1, INTERVAL_END).  No end element when
 *    last is all ones.  Anonymous sets merge adjacent ranges (nft
 *    auto-merges constant sets); anonymous maps leave out the end element
 *    between adjacent ranges (the next start closes it); named sets keep
 *    both, exactly as nft 1.0.6 does (observed with --debug=netlink).
 *  - concatenated interval sets (pipapo): KEY = first, KEY_END = last;
 *  - everything else: KEY = first.
 */
struct elem_gen {
        const struct pst_set *s;
        uint32_t klen;
        bool interval1, concat_range, merge, skip_adjacent_end;
        bool lead_done;
        int phase; /* 0: start of element i next, 1: its end */
        size_t i;
};

static void elem_gen_init(struct elem_gen *g, const struct pst_set *s) {
        bool anon = s->flags & PST_SET_ANON, map = s->flags & PST_SET_MAP;

        *g = (struct elem_gen) {
                .s = s,
                .klen = set_klen(s),
                .interval1 = set_interval1(s),
                .concat_range = (s->flags & PST_SET_INTERVAL) && s->nfields > 1,
        };
        g->merge = g->interval1 && anon && !map;
        g->skip_adjacent_end = g->interval1 && anon && map;
}

static bool elem_gen_next(struct elem_gen *g, struct kelem *ke) {
        const struct pst_set *s = g->s;

        if (!g->lead_done) {
                g->lead_done = true;
                if (g->interval1 && s->n > 0 && !key_all(pst_set_first(s, 0), g->klen, 0)) {
                        *ke = (struct kelem) { .flags = NFT_SET_ELEM_INTERVAL_END, .ir = 0 }; /* buf: zeroes */
                        ke->key = ke->buf;
                        return true;
                }
        }
        for (;;) {
                uint8_t end[PST_KEY_MAX];
                size_t i = g->i;

                if (i >= s->n)
                        return false;
                if (g->phase == 0) {
                        size_t run = i;

                        g->phase = 1;
                        if (g->merge && i > 0 && elems_adjacent(s, g->klen, i - 1))
                                continue; /* merged into the previous range */
                        *ke = (struct kelem) {
                                .key = pst_set_first(s, i),
                                .verdict = (s->flags & PST_SET_MAP) ? &s->data[i] : NULL,
                                .ir = i,
                        };
                        if (g->concat_range)
                                ke->key_end = pst_set_last(s, i);
                        if (g->interval1) {
                                while (g->merge && elems_adjacent(s, g->klen, run))
                                        run++;
                                ke->open = key_all(pst_set_last(s, run), g->klen, 0xff);
                        }
                        return true;
                }
                g->phase = 0;
                g->i++;
                if (!g->interval1)
                        continue;
                if ((g->merge || g->skip_adjacent_end) && elems_adjacent(s, g->klen, i))
                        continue;
                if (!key_inc(end, pst_set_last(s, i), g->klen))
                        continue; /* open interval: no end element */
                *ke = (struct kelem) { .flags = NFT_SET_ELEM_INTERVAL_END, .ir = i };
                memcpy(ke->buf, end, g->klen);
                ke->key = ke->buf;
                return true;
        }
}

/* The IR contract for elements, checked before anything is built: a bad set
 * would otherwise come back from the kernel as a bare EEXIST or EINVAL. */
static int set_check(const struct pst_ruleset *rs, const struct pst_set *s, uint32_t si, struct pst_diag *diag) {
        const char *file = pst_origin_file(rs, s->origin);
        uint32_t klen = set_klen(s);

        if (s->nfields == 0 || s->nfields > PST_CONCAT_MAX || s->klen != pst_key_len(s->fields, s->nfields) ||
            s->klen > PST_KEY_MAX)
                return pst_error(diag, -EINVAL, file, s->origin.line, "set %u (%s): bad key", si, s->name);
        for (unsigned f = 0; f < s->nfields; f++)
                if (!pst_field_info(s->fields[f]))
                        return pst_error(diag, -EINVAL, file, s->origin.line, "set %u (%s): bad field", si,
                                         s->name);
        if (s->n > PST_ELEMS_MAX)
                return pst_error(diag, -E2BIG, file, s->origin.line, "set %s: too many elements", s->name);
        if (set_interval1(s) && !(s->flags & PST_SET_MAP) && pst_set_disjoint4(s))
                return 0; /* a 100,000-entry allow-list at every reload: the loop below names what is wrong */
        for (size_t i = 0; i < s->n; i++) {
                const uint8_t *first = pst_set_first(s, i), *last = pst_set_last(s, i);

                if (s->flags & PST_SET_MAP) {
                        const struct pst_verdict *v = &s->data[i];

                        if (v->kind == PST_V_NONE || v->kind > PST_V_RETURN ||
                            ((v->kind == PST_V_JUMP || v->kind == PST_V_GOTO) && v->chain >= rs->nchains))
                                return pst_error(diag, -EINVAL, file, s->origin.line,
                                                 "map %s: element %zu has no valid verdict", s->name, i);
                }
                if (!(s->flags & PST_SET_INTERVAL)) {
                        if (memcmp(first, last, s->klen) != 0)
                                return pst_error(diag, -EINVAL, file, s->origin.line,
                                                 "set %s: element %zu is a range but the set has no interval flag",
                                                 s->name, i);
                        continue;
                }
                if (s->nfields > 1)
                        continue; /* the kernel (pipapo) checks concatenated ranges */
                if (pst_key_cmp(first, last, klen) > 0)
                        return pst_error(diag, -EINVAL, file, s->origin.line,
                                         "set %s: element %zu ends before it starts", s->name, i);
                if (i > 0 && pst_key_cmp(first, pst_set_last(s, i - 1), klen) <= 0)
                        return pst_error(diag, -EINVAL, file, s->origin.line,
                                         "set %s: element %zu overlaps the previous one or is out of order "
                                         "(pst_set_sort() first)",
                                         s->name, i);
        }
        return 0;
}

static size_t set_kernel_nelems(const struct pst_set *s) {
        struct elem_gen g;
        struct kelem ke;
        size_t n = 0;

        elem_gen_init(&g, s);
        while (elem_gen_next(&g, &ke))
                n++;
        return n;
}

static int put_set(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t si) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *ns = NULL;
        _cleanup_(udata_buf_freep) struct nftnl_udata_buf *ud = NULL;
        const struct pst_set *s = &rs->sets[si];
        uint32_t flags = 0, keytype = 0;
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int r;

        ns = nftnl_set_alloc();
        ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
        if (!ns || !ud)
                return -ENOMEM;

        if (s->flags & PST_SET_ANON)
                flags |= NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
        if (s->flags & PST_SET_INTERVAL)
                flags |= NFT_SET_INTERVAL;
        if (s->flags & PST_SET_MAP)
                flags |= NFT_SET_MAP;
        if (s->flags & PST_SET_TIMEOUT)
                flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
        /* nft flags a concatenation only when it has ranges (pipapo). */
        if ((s->flags & PST_SET_INTERVAL) && s->nfields > 1)
                flags |= NFT_SET_CONCAT;
        /* Concatenated type ids: nftables' concat_subtype_add(), 6 bits per field. */
        for (unsigned f = 0; f < s->nfields; f++)
                keytype = (keytype << 6) | pst_field_info(s->fields[f])->datatype;

        if (nftnl_set_set_str(ns, NFTNL_SET_TABLE, rs->table) < 0 ||
            nftnl_set_set_str(ns, NFTNL_SET_NAME, set_kname(s)) < 0)
                return -ENOMEM;
        nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, flags);
        nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, keytype);
        nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, set_klen(s));
        nftnl_set_set_u32(ns, NFTNL_SET_ID, si + 1);
        if (s->flags & PST_SET_MAP) {
                nftnl_set_set_u32(ns, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
                nftnl_set_set_u32(ns, NFTNL_SET_DATA_LEN, 0);
        }
        if (s->flags & PST_SET_ANON)
                nftnl_set_set_u32(ns, NFTNL_SET_DESC_SIZE, (uint32_t) set_kernel_nelems(s));
        if (s->flags & PST_SET_TIMEOUT) {
                /* the kernel refuses elements beyond size (ENFILE): the bound on pinholes */
                nftnl_set_set_u32(ns, NFTNL_SET_DESC_SIZE, s->size);
                nftnl_set_set_u64(ns, NFTNL_SET_TIMEOUT, (uint64_t) s->timeout * 1000);
        }
        if (flags & NFT_SET_CONCAT) {
                uint8_t field_len[NFT_REG32_COUNT] = {};

                for (unsigned f = 0; f < s->nfields; f++)
                        field_len[f] = pst_field_info(s->fields[f])->len;
                if (nftnl_set_set_data(ns, NFTNL_SET_DESC_CONCAT, field_len, s->nfields) < 0)
                        return -EINVAL;
        }

        /* The userdata nft writes and reads back when listing. */
        if (!nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER,
                                 s->nfields == 1 ? field_byteorder[s->fields[0]] : NFT_BYTEORDER_INVALID))
                return -ENOBUFS;
        if (s->flags & PST_SET_MAP) {
                if (!nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER, NFT_BYTEORDER_INVALID) ||
                    !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATA_INTERVAL, 0))
                        return -ENOBUFS;
        }
        if (s->comment[0] && !(s->flags & PST_SET_ANON) &&
            !nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_COMMENT, s->comment))
                return -ENOBUFS;
        if (nftnl_set_set_data(ns, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud)) < 0)
                return -ENOMEM;

        r = msg_start(b, &buf, &seq);
        if (r < 0)
                return r;
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
        nftnl_set_nlmsg_build_payload(nlh, ns);
        return msg_end(b, nlh, PST_NFT_OBJ_SET, si, 0);
}

static uint32_t verdict_code(enum pst_verdict_kind k) {
        switch (k) {
        case PST_V_ACCEPT:
                return NF_ACCEPT;
        case PST_V_DROP:
                return NF_DROP;
        case PST_V_JUMP:
                return (uint32_t) NFT_JUMP;
        case PST_V_GOTO:
                return (uint32_t) NFT_GOTO;
        case PST_V_RETURN:
                return (uint32_t) NFT_RETURN;
        case PST_V_QUEUE: /* a queue expression, not an immediate (put_verdict) */
        case PST_V_NONE:
                break;
        }
        return (uint32_t) NFT_CONTINUE;
}

static size_t elem_size(const struct kelem *ke, uint32_t klen, const struct pst_ruleset *rs) {
        size_t key = MNL_ATTR_HDRLEN + MNL_ATTR_HDRLEN + MNL_ALIGN(klen);
        size_t n = MNL_ATTR_HDRLEN + key;

        if (ke->flags)
                n += MNL_ATTR_HDRLEN + 4;
        if (ke->key_end)
                n += key;
        if (ke->verdict) {
                n += 3 * MNL_ATTR_HDRLEN + 4;
                if (ke->verdict->kind == PST_V_JUMP || ke->verdict->kind == PST_V_GOTO)
                        n += MNL_ATTR_HDRLEN + MNL_ALIGN(strlen(rs->chains[ke->verdict->chain].name) + 1);
        }
        if (ke->open)
                n += MNL_ATTR_HDRLEN + MNL_ALIGN(2 + 4);
        return n;
}

static void put_data(struct nlmsghdr *nlh, uint16_t type, const void *data, uint32_t len) {
        struct nlattr *nest = mnl_attr_nest_start(nlh, type);

        mnl_attr_put(nlh, NFTA_DATA_VALUE, len, data);
        mnl_attr_nest_end(nlh, nest);
}

/* One NFTA_LIST_ELEM, attributes in libnftnl's order. */
static void put_elem(struct nlmsghdr *nlh, const struct kelem *ke, uint32_t klen, const struct pst_ruleset *rs) {
        struct nlattr *nest = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

        if (ke->flags)
                mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(ke->flags));
        put_data(nlh, NFTA_SET_ELEM_KEY, ke->key, klen);
        if (ke->key_end)
                put_data(nlh, NFTA_SET_ELEM_KEY_END, ke->key_end, klen);
        if (ke->verdict) {
                struct nlattr *data = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
                struct nlattr *verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);

                mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(verdict_code(ke->verdict->kind)));
                if (ke->verdict->kind == PST_V_JUMP || ke->verdict->kind == PST_V_GOTO)
                        mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, rs->chains[ke->verdict->chain].name);
                mnl_attr_nest_end(nlh, verdict);
                mnl_attr_nest_end(nlh, data);
        }
        if (ke->open) {
                /* libnftnl udata TLV: u8 type, u8 len, value (host order u32) */
                uint8_t ud[6] = { NFTNL_UDATA_SET_ELEM_FLAGS, 4 };
                uint32_t v = PST_SET_ELEM_F_INTERVAL_OPEN;

                memcpy(ud + 2, &v, sizeof(v));
                mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, sizeof(ud), ud);
        }
        mnl_attr_nest_end(nlh, nest);
}

/* NEWSETELEM messages for all elements of set si, each below
 * PST_NFT_ELEM_MSG_MAX.  with_id: the set is created in this batch (an
 * anonymous set has no usable name before the commit). */
static int put_elems(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t si, bool with_id) {
        const struct pst_set *s = &rs->sets[si];
        struct elem_gen g;
        struct kelem ke;
        uint32_t k = 0;
        bool have;
        int r;

        elem_gen_init(&g, s);
        have = elem_gen_next(&g, &ke);
        while (have) {
                struct nlmsghdr *nlh;
                struct nlattr *list;
                uint32_t first = k, seq;
                char *buf;

                r = msg_start(b, &buf, &seq);
                if (r < 0)
                        return r;
                nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, rs->table);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set_kname(s));
                if (with_id)
                        mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(si + 1));
                list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
                do {
                        if (nlh->nlmsg_len + elem_size(&ke, g.klen, rs) > PST_NFT_ELEM_MSG_MAX)
                                break;
                        put_elem(nlh, &ke, g.klen, rs);
                        k++;
                        have = elem_gen_next(&g, &ke);
                } while (have);
                mnl_attr_nest_end(nlh, list);
                r = msg_end(b, nlh, PST_NFT_OBJ_ELEMS, si, first);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int put_flush(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t si) {
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int r;

        r = msg_start(b, &buf, &seq);
        if (r < 0)
                return r;
        /* DELSETELEM without NFTA_SET_ELEM_LIST_ELEMENTS flushes the set. */
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_DELSETELEM, NFPROTO_INET, NLM_F_ACK, seq);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, rs->table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, rs->sets[si].name);
        return msg_end(b, nlh, PST_NFT_OBJ_FLUSH, si, 0);
}

/* ---- rules ---- */

/* What the rule has established so far, as nft's protocol context: a field
 * whose dependency is already known gets no second `meta ...` check. */
struct rule_ctx {
        uint8_t nfproto, l4proto;
};

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e) {
        if (!e)
                return -ENOMEM;
        nftnl_rule_add_expr(r, e);
        return 0;
}

static struct nftnl_expr *expr_meta(uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("meta");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
        }
        return e;
}

static struct nftnl_expr *expr_payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        }
        return e;
}

static struct nftnl_expr *expr_bitwise(uint32_t reg, const void *mask, const void *xor, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
                if (nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len) < 0 ||
                    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len) < 0) {
                        nftnl_expr_free(e);
                        return NULL;
                }
        }
        return e;
}

static struct nftnl_expr *expr_cmp(uint32_t op, uint32_t sreg, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
                if (nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0) {
                        nftnl_expr_free(e);
                        return NULL;
                }
        }
        return e;
}

/* nft numbers registers in 32-bit words from NFT_REG_1 and names a word
 * offset by its 128-bit register when aligned (reg 1, reg 2, ...), else by
 * its 32-bit one (reg 9 = NFT_REG32_01, ...): netlink_put_register(). */
static uint32_t reg_at_word(unsigned word) {
        if (word % 4 == 0)
                return NFT_REG_1 + word / 4;
        return NFT_REG32_00 + word;
}

/* Load field f into dreg; plen (payload fields only) loads just the first
 * plen bytes, as nft does for a byte-aligned prefix. */
static int put_load_len(struct nftnl_rule *r, enum pst_field f, uint32_t dreg, uint32_t plen) {
        switch (f) {
        case PST_F_IP_SADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, plen, dreg));
        case PST_F_IP_DADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, plen, dreg));
        case PST_F_IP6_SADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 8, plen, dreg));
        case PST_F_IP6_DADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, plen, dreg));
        case PST_F_IIFNAME:
        case PST_F_OIFNAME:
        case PST_F_NFPROTO:
        case PST_F_L4PROTO:
        case PST_F_TCP_DPORT:
        case PST_F_TCP_SPORT:
        case PST_F_UDP_DPORT:
        case PST_F_ICMP_TYPE:
        case PST_F_ICMP6_TYPE:
        case PST_F_CT_STATE:
        case PST_F_CT_DIRECTION:
        case PST_F_CT_STAMP:
        case PST_F_CT_STATUS:
        case _PST_F_MAX:
                break;
        }
        return -EINVAL; /* only addresses are loaded by prefix */
}

static struct nftnl_expr *expr_ct_load(uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("ct");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
        }
        return e;
}

/* reg = (reg & mask) ^ xor on a 32-bit mark in host byte order (as nft writes `ct mark and M`). */
static struct nftnl_expr *expr_mark_bitwise(uint32_t reg, uint32_t mask, uint32_t xor) {
        struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

        if (!e)
                return NULL;
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
        if (nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4) < 0 ||
            nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, 4) < 0) {
                nftnl_expr_free(e);
                return NULL;
        }
        return e;
}

/* options.rematch: ct mark set ct mark and ~PST_REMATCH_MASK or stamp (ct load; bitwise; ct set). */
static int put_ct_stamp(struct nftnl_rule *r, uint32_t stamp) {
        struct nftnl_expr *e;
        int ret;

        if (stamp & ~PST_REMATCH_MASK)
                return -EINVAL;
        ret = add_expr(r, expr_ct_load(NFT_CT_MARK, NFT_REG_1));
        if (ret >= 0)
                ret = add_expr(r, expr_mark_bitwise(NFT_REG_1, ~PST_REMATCH_MASK, stamp));
        if (ret < 0)
                return ret;
        e = nftnl_expr_alloc("ct");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
        }
        return add_expr(r, e);
}

static int put_load(struct nftnl_rule *r, enum pst_field f, uint32_t dreg) {
        switch (f) {
        case PST_F_IIFNAME:
                return add_expr(r, expr_meta(NFT_META_IIFNAME, dreg));
        case PST_F_OIFNAME:
                return add_expr(r, expr_meta(NFT_META_OIFNAME, dreg));
        case PST_F_NFPROTO:
                return add_expr(r, expr_meta(NFT_META_NFPROTO, dreg));
        case PST_F_L4PROTO:
                return add_expr(r, expr_meta(NFT_META_L4PROTO, dreg));
        case PST_F_IP_SADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, dreg));
        case PST_F_IP_DADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, dreg));
        case PST_F_IP6_SADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 16, dreg));
        case PST_F_IP6_DADDR:
                return add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16, dreg));
        case PST_F_TCP_DPORT:
        case PST_F_UDP_DPORT:
                return add_expr(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, dreg));
        case PST_F_TCP_SPORT:
                return add_expr(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, dreg));
        case PST_F_ICMP_TYPE:
        case PST_F_ICMP6_TYPE:
                return add_expr(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, dreg));
        case PST_F_CT_STATE:
        case PST_F_CT_STATUS:
                return add_expr(r, expr_ct_load(f == PST_F_CT_STATE ? NFT_CT_STATE : NFT_CT_STATUS, dreg));
        case PST_F_CT_DIRECTION:
                return add_expr(r, expr_ct_load(NFT_CT_DIRECTION, dreg));
        case PST_F_CT_STAMP: {
                int ret = add_expr(r, expr_ct_load(NFT_CT_MARK, dreg));

                return ret < 0 ? ret : add_expr(r, expr_mark_bitwise(dreg, PST_REMATCH_MASK, 0));
        }
        case _PST_F_MAX:
                break;
        }
        return -EINVAL;
}

/* `meta nfproto X` / `meta l4proto X` implied by a field, once per rule. */
static int put_dep(struct nftnl_rule *r, enum pst_field key, uint8_t *known, uint8_t want) {
        int ret;

        if (want == 0 || *known == want)
                return 0;
        if (*known != 0)
                return -EINVAL; /* ip and ip6 (or tcp and udp) in one rule */
        ret = put_load(r, key, NFT_REG_1);
        if (ret < 0)
                return ret;
        ret = add_expr(r, expr_cmp(NFT_CMP_EQ, NFT_REG_1, &want, 1));
        if (ret < 0)
                return ret;
        *known = want;
        return 0;
}

/*
 * value <= field <= last, the way nft 1.0.6 writes a one-element set (seen
 * with --debug=netlink):
 *   ip saddr 198.18.4.0/24   payload load 3b; cmp eq 3 bytes
 *   ip saddr 198.18.4.0/23   payload load 4b; bitwise & mask ^ 0; cmp eq
 *   iifname "ppp*"           meta load iifname (16 bytes); cmp eq "ppp" (3 bytes)
 *   tcp dport 1024-2000      payload load; cmp gte 1024; cmp lte 2000
 * (addresses that are no prefix get gte/lte too).
 */
static int put_range(struct nftnl_rule *r, const struct pst_match *m) {
        enum pst_field f = m->fields[0];
        const struct pst_field_info *fi = pst_field_info(f);
        bool addr = f == PST_F_IP_SADDR || f == PST_F_IP_DADDR || f == PST_F_IP6_SADDR || f == PST_F_IP6_DADDR;
        bool ifname = f == PST_F_IIFNAME || f == PST_F_OIFNAME;
        int plen = (addr || ifname) ? pst_range_prefix(m->value, m->last, fi->len) : -1;
        int ret;

        if (memcmp(m->value, m->last, fi->len) > 0)
                return -EINVAL;
        if (ifname) {
                /* a wildcard: every name that starts with the prefix */
                if (plen <= 0 || plen % 8 != 0)
                        return -EINVAL;
                ret = put_load(r, f, NFT_REG_1);
                if (ret < 0)
                        return ret;
                return add_expr(r, expr_cmp(NFT_CMP_EQ, NFT_REG_1, m->value, (uint32_t) plen / 8));
        }
        if (plen > 0 && plen % 8 == 0) {
                ret = put_load_len(r, f, NFT_REG_1, (uint32_t) plen / 8);
                if (ret < 0)
                        return ret;
                return add_expr(r, expr_cmp(NFT_CMP_EQ, NFT_REG_1, m->value, (uint32_t) plen / 8));
        }
        ret = put_load(r, f, NFT_REG_1);
        if (ret < 0)
                return ret;
        if (plen >= 0) {
                uint8_t mask[16] = {}, zero[16] = {};

                for (int b = 0; b < plen; b++)
                        mask[b / 8] |= (uint8_t) (0x80u >> (b % 8));
                ret = add_expr(r, expr_bitwise(NFT_REG_1, mask, zero, fi->len));
                if (ret < 0)
                        return ret;
                return add_expr(r, expr_cmp(NFT_CMP_EQ, NFT_REG_1, m->value, fi->len));
        }
        ret = add_expr(r, expr_cmp(NFT_CMP_GTE, NFT_REG_1, m->value, fi->len));
        if (ret < 0)
                return ret;
        return add_expr(r, expr_cmp(NFT_CMP_LTE, NFT_REG_1, m->last, fi->len));
}

/* EQ / NEQ of one field, loaded into reg 1 */
static int put_cmp(struct nftnl_rule *r, const struct pst_match *m, struct rule_ctx *ctx) {
        const struct pst_field_info *fi = pst_field_info(m->fields[0]);
        int ret;

        if (m->nfields != 1)
                return -EINVAL;
        if (m->fields[0] == PST_F_CT_STATUS) {
                /* `ct status dnat`: ct load status; bitwise & value ^ 0; cmp neq 0 */
                static const uint8_t zero[4];

                if (m->op != PST_M_EQ)
                        return -EINVAL;
                ret = add_expr(r, expr_bitwise(NFT_REG_1, m->value, zero, 4));
                return ret < 0 ? ret : add_expr(r, expr_cmp(NFT_CMP_NEQ, NFT_REG_1, zero, 4));
        }
        ret = add_expr(r, expr_cmp(m->op == PST_M_EQ ? NFT_CMP_EQ : NFT_CMP_NEQ, NFT_REG_1, m->value, fi->len));
        if (ret < 0)
                return ret;
        /* An explicit protocol match is a dependency for what follows. */
        if (m->op == PST_M_EQ && m->fields[0] == PST_F_NFPROTO)
                ctx->nfproto = m->value[0];
        if (m->op == PST_M_EQ && m->fields[0] == PST_F_L4PROTO)
                ctx->l4proto = m->value[0];
        return 0;
}

static int put_match(struct nftnl_rule *r, const struct pst_ruleset *rs, const struct pst_match *m,
                     struct rule_ctx *ctx) {
        unsigned word = 0;
        int ret;

        if (m->nfields == 0 || m->nfields > PST_CONCAT_MAX)
                return -EINVAL;
        for (unsigned i = 0; i < m->nfields; i++) {
                const struct pst_field_info *fi = pst_field_info(m->fields[i]);

                if (!fi)
                        return -EINVAL;
                ret = put_dep(r, PST_F_NFPROTO, &ctx->nfproto, fi->nfproto);
                if (ret < 0)
                        return ret;
                ret = put_dep(r, PST_F_L4PROTO, &ctx->l4proto, fi->l4proto);
                if (ret < 0)
                        return ret;
        }
        if (m->op == PST_M_RANGE)
                return m->nfields == 1 ? put_range(r, m) : -EINVAL;
        for (unsigned i = 0; i < m->nfields; i++) {
                ret = put_load(r, m->fields[i], reg_at_word(word));
                if (ret < 0)
                        return ret;
                word += (pst_field_info(m->fields[i])->len + 3u) / 4u;
        }

        switch (m->op) {
        case PST_M_EQ:
        case PST_M_NEQ:
                return put_cmp(r, m, ctx);
        case PST_M_SET:
        case PST_M_VMAP: {
                const struct pst_set *s;
                struct nftnl_expr *e;

                if (m->set >= rs->nsets)
                        return -EINVAL;
                s = &rs->sets[m->set];
                if (s->nfields != m->nfields || !(s->flags & PST_SET_MAP) != (m->op == PST_M_SET))
                        return -EINVAL;
                /* A set's key type is what must agree, not the header field:
                 * one zone set serves ip saddr and ip daddr. */
                for (unsigned i = 0; i < m->nfields; i++)
                        if (pst_field_info(s->fields[i])->datatype != pst_field_info(m->fields[i])->datatype ||
                            pst_field_info(s->fields[i])->len != pst_field_info(m->fields[i])->len)
                                return -EINVAL;
                e = nftnl_expr_alloc("lookup");
                if (!e)
                        return -ENOMEM;
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
                if (nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set_kname(s)) < 0) {
                        nftnl_expr_free(e);
                        return -ENOMEM;
                }
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, m->set + 1);
                if (m->op == PST_M_VMAP)
                        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
                return add_expr(r, e);
        }
        case PST_M_RANGE: /* handled above */
                break;
        }
        return -EINVAL;
}

/* The raw checks (ir.h pst_raw): payload load from the transport header
 * [bitwise & mask ^ 0] cmp eq; only after the rule's matches made it TCP. */
static int put_raws(struct nftnl_rule *r, const struct pst_rule *rule, const struct rule_ctx *ctx) {
        static const uint8_t zero[PST_RAW_LEN_MAX];
        int ret = 0;

        if (rule->nraw > PST_RAW_MAX || (rule->nraw && ctx->l4proto != IPPROTO_TCP))
                return -EINVAL;
        for (unsigned i = 0; ret >= 0 && i < rule->nraw; i++) {
                const struct pst_raw *w = &rule->raw[i];

                if (w->len == 0 || w->len > PST_RAW_LEN_MAX)
                        return -EINVAL;
                ret = add_expr(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, w->off, w->len, NFT_REG_1));
                if (ret >= 0 && w->masked)
                        ret = add_expr(r, expr_bitwise(NFT_REG_1, w->mask, zero, w->len));
                if (ret >= 0)
                        ret = add_expr(r, expr_cmp(NFT_CMP_EQ, NFT_REG_1, w->value, w->len));
        }
        return ret;
}

/* update @set { daddr . saddr . @th,OFF,16 }: the key in registers from
 * reg 1 on, each field padded to 4 bytes as in the set's key, then dynset
 * with the set's own timeout (none given: the kernel uses the set's). */
static int put_update(struct nftnl_rule *r, const struct pst_ruleset *rs, const struct pst_rule *rule,
                      const struct rule_ctx *ctx) {
        const struct pst_set *s;
        struct nftnl_expr *e;
        bool v6;
        int ret;

        if (rule->update_set > rs->nsets || ctx->l4proto != IPPROTO_TCP)
                return -EINVAL;
        s = &rs->sets[rule->update_set - 1];
        v6 = s->fields[0] == PST_F_IP6_SADDR;
        if (!(s->flags & PST_SET_TIMEOUT) || s->nfields != 3 || s->fields[2] != PST_F_TCP_DPORT ||
            (!v6 && s->fields[0] != PST_F_IP_SADDR) || ctx->nfproto != (v6 ? NFPROTO_IPV6 : NFPROTO_IPV4))
                return -EINVAL;
        ret = put_load(r, v6 ? PST_F_IP6_DADDR : PST_F_IP_DADDR, NFT_REG_1);
        if (ret >= 0)
                ret = put_load(r, v6 ? PST_F_IP6_SADDR : PST_F_IP_SADDR, reg_at_word(v6 ? 4 : 1));
        if (ret >= 0)
                ret = add_expr(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, rule->update_off, 2,
                                               reg_at_word(v6 ? 8 : 2)));
        if (ret < 0)
                return ret;
        e = nftnl_expr_alloc("dynset");
        if (!e)
                return -ENOMEM;
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, rule->update_set);
        if (nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set_kname(s)) < 0) {
                nftnl_expr_free(e);
                return -ENOMEM;
        }
        return add_expr(r, e);
}

static struct nftnl_expr *expr_imm_data(uint32_t dreg, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
                if (nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len) < 0) {
                        nftnl_expr_free(e);
                        return NULL;
                }
        }
        return e;
}

/* What nft 1.0.6 writes for `masquerade` and `dnat ip to ADDR:PORT`: masq;
 * or immediate reg 1 ADDR; [immediate reg 2 PORT;] nat dnat ip addr_min reg 1
 * [proto_min reg 2] (the kernel sets the MAP_IPS / PROTO_SPECIFIED flags). */
static int put_nat(struct nftnl_rule *r, const struct pst_nat *n) {
        struct nftnl_expr *e;
        uint16_t port = htons(n->port);
        int ret;

        if (n->kind == PST_NAT_MASQ)
                return add_expr(r, nftnl_expr_alloc("masq"));
        if ((n->kind != PST_NAT_SNAT && n->kind != PST_NAT_DNAT) || (n->family != AF_INET && n->family != AF_INET6))
                return -EINVAL;
        ret = add_expr(r, expr_imm_data(NFT_REG_1, n->addr, n->family == AF_INET ? 4 : 16));
        if (ret >= 0 && n->port)
                ret = add_expr(r, expr_imm_data(NFT_REG_2, &port, 2));
        if (ret < 0)
                return ret;
        e = nftnl_expr_alloc("nat");
        if (!e)
                return -ENOMEM;
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, n->kind == PST_NAT_SNAT ? NFT_NAT_SNAT : NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, n->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
        if (n->port)
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
        return add_expr(r, e);
}

/* limit rate N/minute (nft's default burst for packet limits) */
static int put_limit(struct nftnl_rule *r, uint32_t per_minute) {
        struct nftnl_expr *e = nftnl_expr_alloc("limit");

        if (e) {
                nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, per_minute);
                nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 60);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, 5);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
        }
        return add_expr(r, e);
}

/* log prefix "..." [group N snaplen S] */
static int put_log(struct nftnl_rule *r, const struct pst_rule *rule) {
        struct nftnl_expr *e;

        if (!memchr(rule->log_prefix, 0, sizeof(rule->log_prefix)))
                return -EINVAL;
        e = nftnl_expr_alloc("log");
        if (e && nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, rule->log_prefix) < 0) {
                nftnl_expr_free(e);
                e = NULL;
        }
        if (e && rule->log_nflog) {
                nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, rule->log_group);
                if (rule->log_snaplen) /* none: the whole packet */
                        nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, rule->log_snaplen);
        }
        return add_expr(r, e);
}

/* queue num N bypass: what nft makes of it, one queue (total 1), no fanout */
static int put_queue(struct nftnl_rule *r, uint32_t num) {
        struct nftnl_expr *e;

        if (num > UINT16_MAX)
                return -EINVAL;
        e = nftnl_expr_alloc("queue");
        if (!e)
                return -ENOMEM;
        nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, (uint16_t) num);
        nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
        nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
        return add_expr(r, e);
}

static int put_verdict(struct nftnl_rule *r, const struct pst_ruleset *rs, const struct pst_verdict *v) {
        struct nftnl_expr *e;

        if (v->kind == PST_V_QUEUE)
                return put_queue(r, v->chain);
        if (v->kind > PST_V_RETURN)
                return -EINVAL;
        e = nftnl_expr_alloc("immediate");
        if (!e)
                return -ENOMEM;
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict_code(v->kind));
        if (v->kind == PST_V_JUMP || v->kind == PST_V_GOTO) {
                if (v->chain >= rs->nchains || nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, rs->chains[v->chain].name) < 0) {
                        nftnl_expr_free(e);
                        return v->chain >= rs->nchains ? -EINVAL : -ENOMEM;
                }
        }
        return add_expr(r, e);
}

static int put_comment(struct nftnl_rule *r, const char *comment) {
        _cleanup_(udata_buf_freep) struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

        if (!ud)
                return -ENOMEM;
        if (!memchr(comment, 0, PST_COMMENT_MAX))
                return -EINVAL;
        if (!nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment))
                return -ENOBUFS;
        if (nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud)) < 0)
                return -ENOMEM;
        return 0;
}

static int put_statements(struct nftnl_rule *r, const struct pst_ruleset *rs, const struct pst_rule *rule,
                          const struct rule_ctx *ctx) {
        int ret = put_raws(r, rule, ctx);

        if (ret >= 0 && rule->update_set)
                ret = put_update(r, rs, rule, ctx);
        if (ret >= 0 && rule->counter)
                ret = add_expr(r, nftnl_expr_alloc("counter"));
        if (ret >= 0 && rule->limit_per_minute > 0)
                ret = put_limit(r, rule->limit_per_minute);
        if (ret >= 0 && pst_rule_logs(rule))
                ret = put_log(r, rule);
        if (ret >= 0 && rule->nat.kind != PST_NAT_NONE)
                ret = rule->verdict.kind != PST_V_NONE ? -EINVAL : put_nat(r, &rule->nat);
        if (ret >= 0 && rule->ct_stamp)
                ret = put_ct_stamp(r, rule->ct_stamp);
        if (ret >= 0 && rule->verdict.kind != PST_V_NONE)
                ret = put_verdict(r, rs, &rule->verdict);
        if (ret >= 0 && rule->comment[0])
                ret = put_comment(r, rule->comment);
        return ret;
}

/* before: 0 appends, else the handle of the rule to insert before (NFTA_RULE_POSITION) */
static int put_rule_at(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t ci, uint32_t ri,
                       uint64_t before, struct pst_diag *diag) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = NULL;
        const struct pst_chain *ch = &rs->chains[ci];
        const struct pst_rule *rule = &ch->rules[ri];
        struct rule_ctx ctx = {};
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int ret;

        r = nftnl_rule_alloc();
        if (!r)
                return -ENOMEM;
        if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, rs->table) < 0 ||
            nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, ch->name) < 0)
                return -ENOMEM;
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);

        ret = rule->nmatch <= PST_MATCH_MAX ? 0 : -EINVAL;
        for (unsigned i = 0; ret >= 0 && i < rule->nmatch; i++) {
                if (rule->match[i].op == PST_M_VMAP && (i + 1 != rule->nmatch || rule->verdict.kind != PST_V_NONE))
                        ret = -EINVAL;
                else
                        ret = put_match(r, rs, &rule->match[i], &ctx);
        }
        if (ret >= 0)
                ret = put_statements(r, rs, rule, &ctx);
        if (ret == -EINVAL)
                return pst_error(diag, ret, pst_origin_file(rs, rule->origin), rule->origin.line,
                                 "rule %u in chain %s cannot be expressed in nf_tables "
                                 "(bad set reference, conflicting protocols or malformed verdict)",
                                 ri + 1, ch->name);
        if (ret < 0)
                return ret;

        ret = msg_start(b, &buf, &seq);
        if (ret < 0)
                return ret;
        if (before)
                nftnl_rule_set_u64(r, NFTNL_RULE_POSITION, before);
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET,
                                    NLM_F_CREATE | (before ? 0 : NLM_F_APPEND) | NLM_F_ACK, seq);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        return msg_end(b, nlh, PST_NFT_OBJ_RULE, ci, ri);
}

static int put_rule(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t ci, uint32_t ri,
                    struct pst_diag *diag) {
        return put_rule_at(b, rs, ci, ri, 0, diag);
}

/* ---- whole batches ---- */

static int check_names(const struct pst_ruleset *rs, struct pst_diag *diag) {
        if (!memchr(rs->table, 0, sizeof(rs->table)) || !rs->table[0])
                return pst_error(diag, -EINVAL, NULL, 0, "bad table name");
        for (size_t i = 0; i < rs->nchains; i++)
                if (!memchr(rs->chains[i].name, 0, sizeof(rs->chains[i].name)) || !rs->chains[i].name[0] ||
                    rs->chains[i].n > PST_RULES_MAX)
                        return pst_error(diag, -EINVAL, NULL, 0, "chain %zu: bad name or too many rules", i);
        for (size_t i = 0; i < rs->nsets; i++) {
                const struct pst_set *s = &rs->sets[i];

                if (!memchr(s->name, 0, sizeof(s->name)) || !memchr(s->comment, 0, sizeof(s->comment)) ||
                    (!(s->flags & PST_SET_ANON) && !s->name[0]))
                        return pst_error(diag, -EINVAL, NULL, 0, "set %zu: bad name", i);
        }
        return 0;
}

int pst_nft_batch_build(const struct pst_ruleset *rs, const struct pst_apply_opts *o, uint32_t seq0,
                        struct pst_nft_batch **ret, struct pst_diag *diag) {
        return pst_nft_batch_build_full(rs, o, o->table_flags, seq0, ret, diag);
}

/* This reads best whole: the batch in the order the kernel gets it, top to bottom
 * (NEWTABLE, DELTABLE, NEWTABLE, chains, sets and their elements, rules, END). */
int pst_nft_batch_build_full(const struct pst_ruleset *rs, const struct pst_apply_opts *o, uint32_t first_flags,
                             uint32_t seq0, struct pst_nft_batch **ret, struct pst_diag *diag) {
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        _cleanup_free_ bool *bound = NULL;
        int r;

        r = check_names(rs, diag);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rs->nsets; i++) {
                r = set_check(rs, &rs->sets[i], (uint32_t) i, diag);
                if (r < 0)
                        return r;
        }
        bound = calloc(rs->nsets + 1, sizeof(*bound));
        if (!bound)
                return -ENOMEM;

        r = batch_new(rs, o, seq0, &b);
        if (r < 0)
                return r;
        /* Create-if-missing first, so that DELTABLE cannot fail with ENOENT;
         * none of it for a table known (at o->genid) not to exist: deleting
         * objects makes the next close() of the socket wait for an RCU
         * grace period. */
        if (!o->table_absent) {
                r = put_table(b, rs->table, NFT_MSG_NEWTABLE, first_flags);
                if (r < 0)
                        return r;
                r = put_table(b, rs->table, NFT_MSG_DELTABLE, 0);
                if (r < 0)
                        return r;
        }
        r = put_table(b, rs->table, NFT_MSG_NEWTABLE, o->table_flags);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rs->nchains; i++) {
                r = put_chain(b, rs, (uint32_t) i);
                if (r == -EINVAL)
                        return pst_error(diag, r, NULL, 0, "chain %s: bad hook or policy", rs->chains[i].name);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < rs->nsets; i++) {
                if (rs->sets[i].flags & PST_SET_ANON)
                        continue;
                r = put_set(b, rs, (uint32_t) i);
                if (r < 0)
                        return r;
                r = put_elems(b, rs, (uint32_t) i, true);
                if (r < 0)
                        return r;
        }
        for (size_t c = 0; c < rs->nchains; c++) {
                const struct pst_chain *ch = &rs->chains[c];

                for (size_t i = 0; i < ch->n; i++) {
                        const struct pst_rule *rule = &ch->rules[i];

                        for (unsigned m = 0; m < rule->nmatch && m < PST_MATCH_MAX; m++) {
                                uint32_t si = rule->match[m].set;

                                if ((rule->match[m].op != PST_M_SET && rule->match[m].op != PST_M_VMAP) ||
                                    si >= rs->nsets || !(rs->sets[si].flags & PST_SET_ANON))
                                        continue;
                                /* The kernel binds an anonymous set to exactly one rule. */
                                if (bound[si])
                                        return pst_error(diag, -EINVAL, pst_origin_file(rs, rule->origin),
                                                         rule->origin.line,
                                                         "anonymous set %u is used by more than one rule", si);
                                bound[si] = true;
                                r = put_set(b, rs, si);
                                if (r < 0)
                                        return r;
                                r = put_elems(b, rs, si, true);
                                if (r < 0)
                                        return r;
                        }
                        r = put_rule(b, rs, (uint32_t) c, (uint32_t) i, diag);
                        if (r < 0)
                                return r;
                }
        }
        if (!o->check_only) {
                r = batch_finish(b);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(b);
        return 0;
}

int pst_nft_batch_build_set_update(const struct pst_ruleset *rs, uint32_t set, uint32_t seq0,
                                   struct pst_nft_batch **ret, struct pst_diag *diag) {
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        int r;

        if (set >= rs->nsets)
                return pst_error(diag, -EINVAL, NULL, 0, "no set %u", set);
        if (rs->sets[set].flags & PST_SET_ANON)
                return pst_error(diag, -EINVAL, NULL, 0, "an anonymous set cannot be updated");
        r = set_check(rs, &rs->sets[set], set, diag);
        if (r < 0)
                return r;
        r = batch_new(rs, NULL, seq0, &b);
        if (r < 0)
                return r;
        r = put_flush(b, rs, set);
        if (r < 0)
                return r;
        r = put_elems(b, rs, set, false);
        if (r < 0)
                return r;
        r = batch_finish(b);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

/* Which IR element the k-th kernel element of a set comes from (errors only:
 * this walks the set again). */
int pst_nft_elem_origin(const struct pst_set *s, uint32_t k, size_t *ret_ir, bool *ret_end) {
        struct elem_gen g;
        struct kelem ke;

        elem_gen_init(&g, s);
        for (uint32_t i = 0; elem_gen_next(&g, &ke); i++)
                if (i == k) {
                        *ret_ir = ke.ir;
                        *ret_end = ke.flags & NFT_SET_ELEM_INTERVAL_END;
                        return 0;
                }
        return -ENOENT;
}

/* ---- emitters for a delta (nft-delta.c) ---- */

int pst_nft_batch_open(const struct pst_ruleset *rs, uint32_t genid, struct pst_nft_batch **ret) {
        return batch_new(rs, &(struct pst_apply_opts) { .guard_genid = true, .genid = genid }, 0, ret);
}

int pst_nft_batch_close(struct pst_nft_batch *b) {
        return batch_finish(b);
}

int pst_nft_check_ruleset(const struct pst_ruleset *rs, struct pst_diag *diag) {
        int r = check_names(rs, diag);

        for (size_t i = 0; r >= 0 && i < rs->nsets; i++)
                r = set_check(rs, &rs->sets[i], (uint32_t) i, diag);
        return r;
}

int pst_nft_put_chain(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t ci) {
        return put_chain(b, rs, ci);
}

int pst_nft_put_set(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t si) {
        int r = put_set(b, rs, si);

        return r < 0 ? r : put_elems(b, rs, si, true);
}

int pst_nft_put_rule(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t ci, uint32_t ri,
                     uint64_t before, struct pst_diag *diag) {
        const struct pst_rule *rule = &rs->chains[ci].rules[ri];
        int r;

        for (unsigned m = 0; m < rule->nmatch && m < PST_MATCH_MAX; m++) {
                uint32_t si = rule->match[m].set;

                if ((rule->match[m].op != PST_M_SET && rule->match[m].op != PST_M_VMAP) || si >= rs->nsets ||
                    !(rs->sets[si].flags & PST_SET_ANON))
                        continue;
                r = put_set(b, rs, si);
                if (r >= 0)
                        r = put_elems(b, rs, si, true);
                if (r < 0)
                        return r;
        }
        return put_rule_at(b, rs, ci, ri, before, diag);
}

int pst_nft_put_delete(struct pst_nft_batch *b, uint16_t type, const char *name, uint64_t handle) {
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *buf;
        int r;

        r = msg_start(b, &buf, &seq);
        if (r < 0)
                return r;
        nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_ACK, seq);
        switch (type) {
        case NFT_MSG_DELRULE:
                mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, b->rs->table);
                mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, name);
                mnl_attr_put_u64(nlh, NFTA_RULE_HANDLE, htobe64(handle));
                break;
        case NFT_MSG_DELSET:
                mnl_attr_put_strz(nlh, NFTA_SET_TABLE, b->rs->table);
                mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
                break;
        case NFT_MSG_DELCHAIN:
                mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, b->rs->table);
                mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
                break;
        default:
                return -EINVAL;
        }
        return msg_end(b, nlh, PST_NFT_OBJ_DEL, type, 0);
}

/* The kernel elements of IR element i of a named set: 1 or 2 (an interval's
 * end, unless it runs to the end of the key space).  Deletions carry keys
 * and flags only: that is what the kernel looks elements up by. */
static unsigned range_kelems(const struct pst_set *s, size_t i, bool del, struct kelem ke[2]) {
        uint32_t klen = set_klen(s);

        ke[0] = (struct kelem) { .key = pst_set_first(s, i), .ir = i };
        if (!del && (s->flags & PST_SET_MAP))
                ke[0].verdict = &s->data[i];
        if ((s->flags & PST_SET_INTERVAL) && s->nfields > 1)
                ke[0].key_end = pst_set_last(s, i);
        if (!set_interval1(s))
                return 1;
        if (key_all(pst_set_last(s, i), klen, 0xff)) {
                ke[0].open = !del;
                return 1;
        }
        ke[1] = (struct kelem) { .flags = NFT_SET_ELEM_INTERVAL_END, .ir = i };
        key_inc(ke[1].buf, pst_set_last(s, i), klen);
        ke[1].key = ke[1].buf;
        return 2;
}

int pst_nft_put_elem_ranges(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t si, uint16_t type,
                            const size_t *idx, size_t n, bool zero_end) {
        const struct pst_set *s = &rs->sets[si];
        bool del = type == NFT_MSG_DELSETELEM;
        uint32_t klen = set_klen(s);
        struct kelem ke[2];
        size_t i = 0;
        unsigned nk = 0, k = 0;
        int r;

        if (zero_end) {
                ke[0] = (struct kelem) { .flags = NFT_SET_ELEM_INTERVAL_END };
                ke[0].key = ke[0].buf;
                nk = 1;
        }
        while (k < nk || i < n) {
                struct nlmsghdr *nlh;
                struct nlattr *list;
                uint32_t seq;
                char *buf;

                r = msg_start(b, &buf, &seq);
                if (r < 0)
                        return r;
                nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, (del ? 0 : NLM_F_CREATE) | NLM_F_ACK, seq);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, rs->table);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s->name);
                list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
                for (;;) {
                        if (k == nk) {
                                if (i == n)
                                        break;
                                nk = range_kelems(s, idx[i++], del, ke);
                                k = 0;
                        }
                        if (nlh->nlmsg_len + elem_size(&ke[k], klen, rs) > PST_NFT_ELEM_MSG_MAX)
                                break;
                        /* ke[1].key points into ke[1].buf: put_elem reads it in place */
                        put_elem(nlh, &ke[k], klen, rs);
                        k++;
                }
                mnl_attr_nest_end(nlh, list);
                r = msg_end(b, nlh, PST_NFT_OBJ_DELTA_ELEMS, si, type);
                if (r < 0)
                        return r;
        }
        return 0;
}
