/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The delta between two rulesets as one nf_tables batch (nft-delta.h).
 *
 * Order of the messages (each step only needs what the ones before made):
 *   BEGIN (guarded by the generation),
 *   new chains, new named sets with their elements,
 *   elements removed from kept sets, then elements added to them,
 *   rules removed (of kept chains and of chains that go),
 *   rules added (kept chains: before the next rule that stays; new chains:
 *   appended), each with its anonymous sets,
 *   chains that go, named sets that go,
 *   END.
 */
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <stdio.h>
#include <string.h>

#include "nft-delta.h"
#include "nft-internal.h"
#include "nlreq.h"

struct chain_handles {
        size_t n;
        uint64_t *h;
};

struct pst_nft_handles {
        size_t nchains;
        struct chain_handles *chains;
};

void pst_nft_handles_free(struct pst_nft_handles *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->nchains; i++)
                free(h->chains[i].h);
        free(h->chains);
        free(h);
}

uint64_t pst_nft_handle(const struct pst_nft_handles *h, size_t ci, size_t ri) {
        if (!h || ci >= h->nchains || ri >= h->chains[ci].n)
                return 0;
        return h->chains[ci].h[ri];
}

/* Room for every rule of rs, all handles 0. */
static int handles_new(const struct pst_ruleset *rs, struct pst_nft_handles **ret) {
        _cleanup_(pst_nft_handles_freep) struct pst_nft_handles *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->chains = calloc(rs->nchains + 1, sizeof(*h->chains));
        if (!h->chains)
                return -ENOMEM;
        h->nchains = rs->nchains;
        for (size_t i = 0; i < rs->nchains; i++) {
                h->chains[i].n = rs->chains[i].n;
                h->chains[i].h = calloc(rs->chains[i].n + 1, sizeof(uint64_t));
                if (!h->chains[i].h)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(h);
        return 0;
}

int pst_nft_handles_fake(const struct pst_ruleset *rs, uint64_t first, struct pst_nft_handles **ret) {
        int r = handles_new(rs, ret);

        for (size_t c = 0; r >= 0 && c < rs->nchains; c++)
                for (size_t i = 0; i < rs->chains[c].n; i++)
                        (*ret)->chains[c].h[i] = first++;
        return r;
}

/* ---- reading handles back ---- */

struct handle_dump {
        const struct pst_ruleset *rs;
        struct pst_nft_handles *h;
        int only;      /* chain index the dump is for, -1: all */
        size_t *seen;  /* per chain: rules seen so far */
        int error;
};

static int handle_cb(const struct nlmsghdr *nlh, void *data) {
        struct handle_dump *d = data;
        const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
        const char *table = NULL, *chain = NULL;
        uint64_t handle = 0;
        const struct nlattr *a;
        int ci;

        if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE || g->nfgen_family != NFPROTO_INET)
                return MNL_CB_OK;
        mnl_attr_for_each(a, nlh, sizeof(*g)) {
                if (mnl_attr_get_type(a) == NFTA_RULE_TABLE && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                        table = mnl_attr_get_str(a);
                else if (mnl_attr_get_type(a) == NFTA_RULE_CHAIN && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                        chain = mnl_attr_get_str(a);
                else if (mnl_attr_get_type(a) == NFTA_RULE_HANDLE && mnl_attr_validate(a, MNL_TYPE_U64) >= 0)
                        handle = be64toh(mnl_attr_get_u64(a));
        }
        if (!table || !chain || !streq(table, d->rs->table))
                return MNL_CB_OK;
        ci = d->only >= 0 && streq(chain, d->rs->chains[d->only].name) ? d->only : pst_chain_find(d->rs, chain);
        if (ci < 0 || (d->only >= 0 && ci != d->only) || d->seen[ci] >= d->h->chains[ci].n || handle == 0) {
                d->error = -ESTALE;
                return MNL_CB_OK;
        }
        d->h->chains[ci].h[d->seen[ci]++] = handle;
        return MNL_CB_OK;
}

/* One GETRULE dump of the table (chain only >= 0: of that chain) into h. */
static int handles_dump(const struct pst_ruleset *rs, struct pst_nft_handles *h, int only) {
        char buf[1024] __attribute__((aligned(4)));
        _cleanup_free_ size_t *seen = calloc(rs->nchains + 1, sizeof(size_t));
        struct handle_dump d = { .rs = rs, .h = h, .only = only, .seen = seen };
        struct nlmsghdr *nlh;
        int r;

        if (!seen)
                return -ENOMEM;
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, 0);
        mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, rs->table);
        if (only >= 0)
                mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, rs->chains[only].name);
        r = pst_nl_request(NETLINK_NETFILTER, nlh, handle_cb, &d);
        if (r < 0)
                return r;
        if (d.error < 0)
                return d.error;
        for (size_t i = 0; i < rs->nchains; i++)
                if ((only < 0 || (size_t) only == i) && seen[i] != h->chains[i].n)
                        return -ESTALE;
        return 0;
}

int pst_nft_handles_read(const struct pst_ruleset *rs, struct pst_nft_handles **ret) {
        _cleanup_(pst_nft_handles_freep) struct pst_nft_handles *h = NULL;
        int r;

        r = handles_new(rs, &h);
        if (r < 0)
                return r;
        r = handles_dump(rs, h, -1);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

int pst_nft_handles_complete(const struct pst_ruleset *rs, struct pst_nft_handles *h) {
        for (size_t c = 0; c < h->nchains; c++)
                for (size_t i = 0; i < h->chains[c].n; i++)
                        if (h->chains[c].h[i] == 0) {
                                int r = handles_dump(rs, h, (int) c);

                                if (r < 0)
                                        return r;
                                break;
                        }
        return 0;
}

/* ---- comparing ---- */

#define KNOWN_SET_FLAGS                                                                                        \
        (PST_SET_INTERVAL | PST_SET_MAP | PST_SET_DYNAMIC | PST_SET_ANON | PST_SET_LINKLOCAL | PST_SET_TIMEOUT)

/* A set's declaration without its elements and origin: what must agree for
 * its elements to be diffed in place. */
static bool set_decl_eq(const struct pst_set *a, const struct pst_set *b) {
        struct pst_set x = *a, y = *b;

        x.n = x.cap = x.capdata = y.n = y.cap = y.capdata = 0;
        x.keys = y.keys = NULL;
        x.data = y.data = NULL;
        x.origin = y.origin = (struct pst_origin) {};
        x.queue = y.queue = 0; /* which NFQUEUE feeds a pinhole set is no property of the kernel's set */
        return memcmp(&x, &y, sizeof(x)) == 0;
}

static bool verdict_eq(const struct pst_ruleset *ra, const struct pst_verdict *a, const struct pst_ruleset *rb,
                       const struct pst_verdict *b) {
        if (a->kind != b->kind)
                return false;
        if (a->kind == PST_V_QUEUE)
                return a->chain == b->chain;
        if (a->kind != PST_V_JUMP && a->kind != PST_V_GOTO)
                return true;
        return a->chain < ra->nchains && b->chain < rb->nchains &&
               streq(ra->chains[a->chain].name, rb->chains[b->chain].name);
}

static bool elem_eq(const struct pst_ruleset *ra, const struct pst_set *a, size_t i, const struct pst_ruleset *rb,
                    const struct pst_set *b, size_t j) {
        if (memcmp(pst_set_first(a, i), pst_set_first(b, j), 2 * (size_t) a->klen) != 0)
                return false;
        return !(a->flags & PST_SET_MAP) || verdict_eq(ra, &a->data[i], rb, &b->data[j]);
}

/* An anonymous set: declaration and every element. */
static bool set_content_eq(const struct pst_ruleset *ra, const struct pst_set *a, const struct pst_ruleset *rb,
                           const struct pst_set *b) {
        if (!set_decl_eq(a, b) || a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!elem_eq(ra, a, i, rb, b, i))
                        return false;
        return true;
}

static bool set_ref_eq(const struct pst_ruleset *ra, uint32_t sa, const struct pst_ruleset *rb, uint32_t sb) {
        const struct pst_set *a, *b;

        if (sa >= ra->nsets || sb >= rb->nsets)
                return false;
        a = &ra->sets[sa];
        b = &rb->sets[sb];
        if ((a->flags & PST_SET_ANON) != (b->flags & PST_SET_ANON))
                return false;
        if (a->flags & PST_SET_ANON)
                return set_content_eq(ra, a, rb, b);
        return streq(a->name, b->name);
}

/* The same rule in the kernel's eyes: references compared by what they
 * name, the origin ignored, every other byte of the struct compared (a
 * field ir.h grows that this does not know makes rules differ: replaced). */
/* What a's and b's references name, in their rulesets: the verdict's chain,
 * the sets matched and updated (the matches' ops already equal). */
static bool refs_eq(const struct pst_ruleset *ra, const struct pst_rule *a, const struct pst_ruleset *rb,
                    const struct pst_rule *b) {
        if (!verdict_eq(ra, &a->verdict, rb, &b->verdict))
                return false;
        for (unsigned i = 0; i < a->nmatch; i++)
                if ((a->match[i].op == PST_M_SET || a->match[i].op == PST_M_VMAP) &&
                    !set_ref_eq(ra, a->match[i].set, rb, b->match[i].set))
                        return false;
        return (a->update_set != 0) == (b->update_set != 0) &&
               (!a->update_set || set_ref_eq(ra, a->update_set - 1, rb, b->update_set - 1));
}

static bool rule_eq(const struct pst_ruleset *ra, const struct pst_rule *a, const struct pst_ruleset *rb,
                    const struct pst_rule *b) {
        struct pst_rule x, y;

        if (a->nmatch != b->nmatch || a->nmatch > PST_MATCH_MAX)
                return false;
        /* one rule of an array both rulesets share (a list-only reload,
         * pst_ruleset_dup): the same bytes, but what they refer to may differ */
        if (a == b)
                return refs_eq(ra, a, rb, b);
        /* what tells most rules apart, before copying two rules (the rule walk asks often) */
        if (!verdict_eq(ra, &a->verdict, rb, &b->verdict))
                return false;
        for (unsigned i = 0; i < a->nmatch; i++)
                if (a->match[i].op != b->match[i].op ||
                    (a->match[i].op != PST_M_SET && a->match[i].op != PST_M_VMAP &&
                     memcmp(a->match[i].value, b->match[i].value, sizeof(a->match[i].value)) != 0))
                        return false;
        if (!streq(a->comment, b->comment) || !refs_eq(ra, a, rb, b))
                return false;
        x = *a, y = *b;
        for (unsigned i = 0; i < a->nmatch; i++)
                if (a->match[i].op == PST_M_SET || a->match[i].op == PST_M_VMAP)
                        x.match[i].set = y.match[i].set = 0;
        for (unsigned i = a->nmatch; i < PST_MATCH_MAX; i++)
                x.match[i] = y.match[i] = (struct pst_match) {};
        x.update_set = y.update_set = 0;
        x.verdict.chain = y.verdict.chain = 0;
        x.origin = y.origin = (struct pst_origin) {};
        return memcmp(&x, &y, sizeof(x)) == 0;
}

/* ---- the delta ---- */

struct chain_plan {
        int32_t *from_old; /* per new rule: the old rule it is, -1: it comes */
        bool *kept;        /* per old rule */
};

/* Named sets of a ruleset sorted by name, for matching the two sides. */
struct named {
        const char *name;
        uint32_t idx;
};

static int named_cmp(const void *a, const void *b) {
        return strcmp(((const struct named *) a)->name, ((const struct named *) b)->name);
}

struct delta {
        const struct pst_ruleset *old, *new;
        const struct pst_nft_handles *h;
        struct pst_nft_handles *nh;
        int32_t *chain_old;  /* per new chain: its old index, -1: new */
        int32_t *chain_new;  /* per old chain: its new index, -1: goes */
        int64_t *set_old;    /* per new set: old index of the named set of that name, -1 */
        bool *set_kept;      /* per old set: a named set new has too */
        struct named *names; /* old's named sets, sorted */
        size_t nnames;
        struct pst_nft_batch *b;
        struct pst_delta_stats *st;
        struct pst_diag *diag;
        struct chain_plan *plans; /* per new chain */
};

static void plan_free(struct chain_plan *p);

static void delta_done(struct delta *d) {
        for (size_t i = 0; d->plans && i < d->new->nchains; i++)
                plan_free(&d->plans[i]);
        free(d->plans);
        free(d->chain_old);
        free(d->chain_new);
        free(d->set_old);
        free(d->set_kept);
        free(d->names);
        pst_nft_handles_free(d->nh);
        pst_nft_batch_free(d->b);
}

static int unsupported(struct delta *d, const char *why) {
        d->st->why = why;
        d->st->full = true;
        return -EOPNOTSUPP;
}

/*
 * The output chain (rpc replies of input rules) is a filter base chain like
 * input and forward, and its rules are the reply rules forward has too: the
 * rule-by-rule delta applies as it is.  It is there exactly while some input
 * rule has rpc, so its coming or going is "a new base chain" / "a base
 * chain goes" below, a full replace; a reload that keeps it is a delta,
 * which is what keeps the input rules' pinholes across the reload.
 */
static bool hook_known(enum pst_hook h) {
        return h == PST_HOOK_NONE || h == PST_HOOK_INPUT || h == PST_HOOK_FORWARD || h == PST_HOOK_OUTPUT;
}

/* A chain's declaration without its rules. */
static bool chain_decl_eq(const struct pst_chain *a, const struct pst_chain *b) {
        struct pst_chain x = *a, y = *b;

        x.n = x.cap = y.n = y.cap = 0;
        x.rules = y.rules = NULL;
        return memcmp(&x, &y, sizeof(x)) == 0;
}

/* The ruleset's own fields other than its arrays: a field ir.h grows is a change. */
static bool ruleset_decl_eq(const struct pst_ruleset *a, const struct pst_ruleset *b) {
        struct pst_ruleset x = *a, y = *b;

        x.nsets = x.capsets = x.nchains = x.capchains = x.nfiles = x.capfiles = 0;
        y.nsets = y.capsets = y.nchains = y.capchains = y.nfiles = y.capfiles = 0;
        x.sets = y.sets = NULL;
        x.chains = y.chains = NULL;
        x.files = y.files = NULL;
        x.rules_ref = y.rules_ref = NULL;
        return memcmp(&x, &y, sizeof(x)) == 0;
}

static int map_chains(struct delta *d) {
        const struct pst_ruleset *o = d->old, *n = d->new;

        d->chain_old = calloc(n->nchains + 1, sizeof(int32_t));
        d->chain_new = calloc(o->nchains + 1, sizeof(int32_t));
        if (!d->chain_old || !d->chain_new)
                return -ENOMEM;
        for (size_t i = 0; i < o->nchains; i++) {
                d->chain_new[i] = -1;
                if (!hook_known(o->chains[i].hook))
                        return unsupported(d, "a chain kind the delta does not know");
        }
        for (size_t i = 0; i < n->nchains; i++) {
                int k = pst_chain_find(o, n->chains[i].name);

                if (!hook_known(n->chains[i].hook))
                        return unsupported(d, "a chain kind the delta does not know");
                d->chain_old[i] = k;
                if (k < 0) {
                        if (n->chains[i].hook != PST_HOOK_NONE)
                                return unsupported(d, "a new base chain");
                        continue;
                }
                if (!chain_decl_eq(&o->chains[k], &n->chains[i]))
                        return unsupported(d, "a chain changed its hook, priority or policy");
                d->chain_new[k] = (int32_t) i;
        }
        for (size_t i = 0; i < o->nchains; i++)
                if (d->chain_new[i] < 0 && o->chains[i].hook != PST_HOOK_NONE)
                        return unsupported(d, "a base chain goes");
        return 0;
}

static int map_sets(struct delta *d) {
        const struct pst_ruleset *o = d->old, *n = d->new;

        d->set_old = calloc(n->nsets + 1, sizeof(int64_t));
        d->set_kept = calloc(o->nsets + 1, sizeof(bool));
        d->names = calloc(o->nsets + 1, sizeof(struct named));
        if (!d->set_old || !d->set_kept || !d->names)
                return -ENOMEM;
        for (size_t i = 0; i < o->nsets; i++) {
                if (o->sets[i].flags & ~KNOWN_SET_FLAGS)
                        return unsupported(d, "a set kind the delta does not know");
                if (!(o->sets[i].flags & PST_SET_ANON))
                        d->names[d->nnames++] = (struct named) { o->sets[i].name, (uint32_t) i };
        }
        qsort(d->names, d->nnames, sizeof(struct named), named_cmp);
        for (size_t i = 0; i < n->nsets; i++) {
                const struct pst_set *s = &n->sets[i];
                struct named key = { s->name, 0 }, *hit;

                d->set_old[i] = -1;
                if (s->flags & ~KNOWN_SET_FLAGS)
                        return unsupported(d, "a set kind the delta does not know");
                if (s->flags & PST_SET_ANON)
                        continue;
                hit = bsearch(&key, d->names, d->nnames, sizeof(struct named), named_cmp);
                if (!hit)
                        continue;
                if (!set_decl_eq(&o->sets[hit->idx], s))
                        return unsupported(d, "a set changed its key, flags or comment");
                d->set_old[i] = hit->idx;
                d->set_kept[hit->idx] = true;
        }
        return 0;
}

static int ensure_batch(struct delta *d, uint32_t genid) {
        if (d->b)
                return 0;
        return pst_nft_batch_open(d->new, genid, &d->b);
}

/* Does an interval set of one field hold the all-zero end element? */
static bool has_zero_end(const struct pst_set *s) {
        uint8_t zero[PST_KEY_MAX] = {};

        return (s->flags & PST_SET_INTERVAL) && s->nfields == 1 && s->n > 0 &&
               memcmp(pst_set_first(s, 0), zero, pst_field_info(s->fields[0])->len) != 0;
}

static int range_cmp(const void *x, const void *y, void *data) {
        const struct pst_set *s = data;

        return memcmp(pst_set_first(s, *(const size_t *) x), pst_set_first(s, *(const size_t *) y),
                      2 * (size_t) s->klen);
}

/* s's element indices [from, to) in (first, last) order: the IR sorts by
 * first only, and concatenations may share a first key (or hold one
 * element twice). */
static size_t *range_order(const struct pst_set *s, size_t from, size_t to) {
        size_t *o = calloc(to - from + 1, sizeof(size_t));
        bool sorted = true;

        if (!o)
                return NULL;
        for (size_t i = from; i < to; i++) {
                o[i - from] = i;
                if (i > from && memcmp(pst_set_first(s, i - 1), pst_set_first(s, i), 2 * (size_t) s->klen) >= 0)
                        sorted = false;
        }
        if (!sorted)
                qsort_r(o, to - from, sizeof(size_t), range_cmp, (void *) s);
        return o;
}


/* How many elements a and b share at their start (tail: at their end),
 * compared as blocks of bytes: 100,000 elements in ~0.05 ms. */
static size_t same_run(const struct pst_set *a, const struct pst_set *b, bool tail) {
        size_t esz = 2 * (size_t) a->klen, n = MIN(a->n, b->n), k = 0;
        const uint8_t *x = a->keys, *y = b->keys;

#define AT(p, s, i) ((p) + (tail ? (s)->n - (i) - 1 : (i)) * esz)
        while (k + 256 <= n && memcmp(tail ? AT(x, a, k + 255) : AT(x, a, k),
                                      tail ? AT(y, b, k + 255) : AT(y, b, k), 256 * esz) == 0)
                k += 256;
        while (k < n && memcmp(AT(x, a, k), AT(y, b, k), esz) == 0)
                k++;
#undef AT
        return k;
}

/* Where the two element lists can differ: all of them, or for sets of one
 * field (sorted and disjoint, checked) only between the elements both hold
 * at the start and at the end — a one-entry change of a 100,000-entry list
 * walks a few elements instead of sorting indices of all of them.  Strictly
 * sorted, both lists are sets: no element between can equal one outside.
 * new's interval sets passed pst_nft_check_ruleset() (disjoint, in order)
 * before any diff, and old's start and end are new's: of old only what lies
 * between, and its two neighbours, needs the check. */
static void diff_window(const struct pst_set *a, const struct pst_set *b, size_t *head, size_t *tail) {
        size_t h, t;

        *head = *tail = 0;
        if (a->nfields != 1 || b->nfields != 1 || ((a->flags | b->flags) & PST_SET_MAP) || a->klen != b->klen ||
            (!(b->flags & PST_SET_INTERVAL) && !pst_set_strictly_sorted(b, 0, b->n)))
                return;
        h = same_run(a, b, false);
        t = MIN(same_run(a, b, true), MIN(a->n, b->n) - h);
        if (!pst_set_strictly_sorted(a, h > 0 ? h - 1 : 0, a->n - t + (t > 0)))
                return;
        *head = h;
        *tail = t;
}

/* Walk both element lists in (first, last) order; gone[] gets old's
 * indices of elements new lacks, come[] new's of those old lacks. */
static int elems_diff(struct delta *d, const struct pst_set *a, const struct pst_set *b, size_t **gone,
                      size_t *ngone, size_t **come, size_t *ncome) {
        size_t head, tail, na, nb, i = 0, j = 0;
        _cleanup_free_ size_t *oa = NULL, *ob = NULL;

        diff_window(a, b, &head, &tail);
        na = a->n - head - tail;
        nb = b->n - head - tail;
        oa = range_order(a, head, a->n - tail);
        ob = range_order(b, head, b->n - tail);
        *gone = calloc(na + 1, sizeof(size_t));
        *come = calloc(nb + 1, sizeof(size_t));
        if (!*gone || !*come || !oa || !ob)
                return -ENOMEM;
        *ngone = *ncome = 0;
        while (i < na || j < nb) {
                int c;

                /* a concatenation may hold an element twice (the compiler only sorts them): the
                 * kernel holds it once, and it must not go while the other copy stays */
                if (i > 0 && i < na && range_cmp(&oa[i - 1], &oa[i], (void *) a) == 0) {
                        i++;
                        continue;
                }
                if (j > 0 && j < nb && range_cmp(&ob[j - 1], &ob[j], (void *) b) == 0) {
                        j++;
                        continue;
                }
                c = i == na ? 1 : j == nb ? -1 :
                        memcmp(pst_set_first(a, oa[i]), pst_set_first(b, ob[j]), 2 * (size_t) a->klen);
                if (c == 0 && !elem_eq(d->old, a, oa[i], d->new, b, ob[j]))
                        c = -1; /* same key, another verdict: leaves, then comes */
                if (c == 0) {
                        i++, j++;
                } else if (c < 0) {
                        (*gone)[(*ngone)++] = oa[i++];
                } else
                        (*come)[(*ncome)++] = ob[j++];
        }
        return 0;
}

static int set_elems_delta(struct delta *d, uint32_t genid, uint32_t si_new, uint32_t si_old) {
        const struct pst_set *a = &d->old->sets[si_old], *b = &d->new->sets[si_new];
        _cleanup_free_ size_t *gone = NULL, *come = NULL;
        bool za = has_zero_end(a), zb = has_zero_end(b);
        size_t ngone, ncome;
        int r;

        /* rpc pinholes: the kernel's elements come from the endpoint mapper's replies, not
         * from the IR; a kept set (same name, key, timeout and bound) keeps them all */
        if ((a->flags | b->flags) & PST_SET_TIMEOUT)
                return a->n == 0 && b->n == 0 ? 0 : unsupported(d, "elements in a pinhole set");
        r = elems_diff(d, a, b, &gone, &ngone, &come, &ncome);
        if (r < 0)
                return r;
        d->st->elems_removed += ngone;
        d->st->elems_added += ncome;
        if (ngone == 0 && ncome == 0 && za == zb)
                return 0;
        r = ensure_batch(d, genid);
        /* the batch names the set by new's index: same name, same key (set_decl_eq) */
        if (r >= 0 && (ngone > 0 || (za && !zb))) {
                size_t m0 = d->b->nmsgs;

                /* the elements that go are old's */
                r = pst_nft_put_elem_ranges(d->b, d->old, si_old, NFT_MSG_DELSETELEM, gone, ngone, za && !zb);
                /* an error names the set through the batch's ruleset, new */
                for (size_t m = m0; r >= 0 && m < d->b->nmsgs; m++)
                        d->b->msgs[m].a = si_new;
        }
        if (r >= 0 && (ncome > 0 || (zb && !za)))
                r = pst_nft_put_elem_ranges(d->b, d->new, si_new, NFT_MSG_NEWSETELEM, come, ncome, zb && !za);
        return r;
}

/*
 * Which rules of a chain both have stay: per new rule, the old rule it is
 * (-1: it comes).  The common head and tail, then between them the longest
 * common subsequence (Myers' O((N+M)·D) greedy walk, D edits at most
 * PLAN_D_MAX; more and the whole middle is replaced: correct, only fewer
 * counters kept).
 */
#define PLAN_D_MAX 128

static void plan_free(struct chain_plan *p) {
        free(p->from_old);
        free(p->kept);
}

struct walk {
        const struct delta *d;
        const struct pst_rule *a, *b; /* the middles */
        int32_t n, m;
        int32_t *v;  /* (PLAN_D_MAX + 1) rows of 2·PLAN_D_MAX + 1: furthest x per diagonal after d edits */
        uint8_t *how; /* the same shape: how that x was reached */
};

enum { HOW_NONE, HOW_START, HOW_DOWN, HOW_RIGHT }; /* NONE: off the grid, not reached */

#define AT(w, dd, k) ((size_t) (dd) * (2 * PLAN_D_MAX + 1) + (size_t) ((k) + PLAN_D_MAX))

/* Forward pass, every point kept inside the n × m grid: the number of
 * edits, or -1 when more than PLAN_D_MAX. */
static int walk_forward(struct walk *w) {
        for (int dd = 0; dd <= PLAN_D_MAX; dd++)
                for (int k = -dd; k <= dd; k += 2) {
                        int32_t down = -1, right = -1, x;
                        uint8_t how;

                        if (dd == 0)
                                down = 0;
                        else {
                                if (k + 1 <= dd - 1 && w->how[AT(w, dd - 1, k + 1)] != HOW_NONE &&
                                    w->v[AT(w, dd - 1, k + 1)] - k <= w->m)
                                        down = w->v[AT(w, dd - 1, k + 1)];
                                if (k - 1 >= -(dd - 1) && w->how[AT(w, dd - 1, k - 1)] != HOW_NONE &&
                                    w->v[AT(w, dd - 1, k - 1)] + 1 <= w->n)
                                        right = w->v[AT(w, dd - 1, k - 1)] + 1;
                        }
                        if (down < 0 && right < 0)
                                continue; /* how stays HOW_NONE (calloc) */
                        how = dd == 0 ? HOW_START : down >= right ? HOW_DOWN : HOW_RIGHT;
                        x = MAX(down, right);
                        while (x < w->n && x - k < w->m && rule_eq(w->d->old, &w->a[x], w->d->new, &w->b[x - k]))
                                x++;
                        w->v[AT(w, dd, k)] = x;
                        w->how[AT(w, dd, k)] = how;
                        if (x == w->n && x - k == w->m)
                                return dd;
                }
        return -1;
}

/* Backward from (n, m): the diagonal runs are the kept rules (offsets in the middles). */
static void walk_back(const struct walk *w, int dd, int32_t *from_old, bool *kept) {
        int32_t x = w->n, y = w->m;

        for (; dd >= 0; dd--) {
                int k = x - y;
                uint8_t how = w->how[AT(w, dd, k)];
                int pk = how == HOW_DOWN ? k + 1 : k - 1;
                int32_t sx = how == HOW_START ? 0 : how == HOW_DOWN ? w->v[AT(w, dd - 1, pk)]
                                                                    : w->v[AT(w, dd - 1, pk)] + 1;

                for (; x > sx; x--, y--) { /* the run that follows the move */
                        from_old[y - 1] = x - 1;
                        kept[x - 1] = true;
                }
                if (how == HOW_START)
                        return;
                x = w->v[AT(w, dd - 1, pk)];
                y = x - pk;
        }
}

static int plan_chain(const struct delta *d, const struct pst_chain *a, const struct pst_chain *b,
                      struct chain_plan *p) {
        size_t head = 0, tail = 0;
        struct walk w = { .d = d };
        int dd;

        p->from_old = calloc(b->n + 1, sizeof(int32_t));
        p->kept = calloc(a->n + 1, sizeof(bool));
        if (!p->from_old || !p->kept)
                return -ENOMEM;
        for (size_t j = 0; j < b->n; j++)
                p->from_old[j] = -1;
        while (head < a->n && head < b->n && rule_eq(d->old, &a->rules[head], d->new, &b->rules[head]))
                head++;
        while (tail < a->n - head && tail < b->n - head &&
               rule_eq(d->old, &a->rules[a->n - 1 - tail], d->new, &b->rules[b->n - 1 - tail]))
                tail++;
        for (size_t i = 0; i < head; i++)
                p->from_old[i] = (int32_t) i, p->kept[i] = true;
        for (size_t i = 0; i < tail; i++) {
                p->from_old[b->n - 1 - i] = (int32_t) (a->n - 1 - i);
                p->kept[a->n - 1 - i] = true;
        }
        w.a = a->rules + head, w.b = b->rules + head;
        w.n = (int32_t) (a->n - head - tail), w.m = (int32_t) (b->n - head - tail);
        if (w.n == 0 || w.m == 0)
                return 0;
        w.v = calloc((size_t) (PLAN_D_MAX + 1) * (2 * PLAN_D_MAX + 1), sizeof(int32_t));
        w.how = calloc((size_t) (PLAN_D_MAX + 1) * (2 * PLAN_D_MAX + 1), 1);
        dd = w.v && w.how ? walk_forward(&w) : -1;
        if (dd >= 0) {
                walk_back(&w, dd, p->from_old + head, p->kept + head);
                for (size_t j = head; j < b->n - tail; j++)
                        if (p->from_old[j] >= 0)
                                p->from_old[j] += (int32_t) head;
        }
        free(w.v);
        free(w.how);
        return 0;
}

static int del_rule(struct delta *d, uint32_t genid, size_t co, size_t ri) {
        int r = ensure_batch(d, genid);

        if (r < 0)
                return r;
        d->st->rules_removed++;
        return pst_nft_put_delete(d->b, NFT_MSG_DELRULE, d->old->chains[co].name, d->h->chains[co].h[ri]);
}

static int add_rule(struct delta *d, uint32_t genid, size_t cn, size_t ri, uint64_t before) {
        int r = ensure_batch(d, genid);

        if (r < 0)
                return r;
        d->st->rules_added++;
        return pst_nft_put_rule(d->b, d->new, (uint32_t) cn, (uint32_t) ri, before, d->diag);
}

/* New rules of chain cn, each before the next rule that stays (appended
 * when none does); new's handles of the rules that stay. */
static int chain_adds(struct delta *d, uint32_t genid, size_t cn, const struct chain_plan *p) {
        const struct pst_chain *b = &d->new->chains[cn];
        const struct chain_handles *oh = d->chain_old[cn] >= 0 ? &d->h->chains[d->chain_old[cn]] : NULL;
        _cleanup_free_ uint64_t *before = calloc(b->n + 1, sizeof(uint64_t));
        uint64_t next = 0;
        int r = 0;

        if (!before)
                return -ENOMEM;
        for (size_t j = b->n; j-- > 0;) { /* from the end: the next kept rule's handle */
                if (oh && p->from_old[j] >= 0) {
                        next = oh->h[p->from_old[j]];
                        d->nh->chains[cn].h[j] = next;
                } else
                        before[j] = next;
        }
        for (size_t j = 0; r >= 0 && j < b->n; j++)
                if (!oh || p->from_old[j] < 0)
                        r = add_rule(d, genid, cn, j, before[j]);
        return r;
}

/* Rule deletions of every old chain (pass 0), then additions (pass 1). */
static int rules_delta(struct delta *d, uint32_t genid, int pass) {
        for (size_t cn = 0; cn < d->new->nchains; cn++) {
                int32_t co = d->chain_old[cn];
                const struct chain_plan *p = &d->plans[cn];
                int r = 0;

                for (size_t i = 0; pass == 0 && co >= 0 && r >= 0 && i < d->old->chains[co].n; i++)
                        if (!p->kept[i])
                                r = del_rule(d, genid, (size_t) co, i);
                if (pass == 1)
                        r = chain_adds(d, genid, cn, p);
                if (r < 0)
                        return r;
        }
        if (pass == 1)
                return 0;
        /* the rules of chains that go: before any chain goes, so that no jump still points at one */
        for (size_t co = 0; co < d->old->nchains; co++)
                for (size_t i = 0; d->chain_new[co] < 0 && i < d->old->chains[co].n; i++) {
                        int r = del_rule(d, genid, co, i);

                        if (r < 0)
                                return r;
                }
        return 0;
}

/* Which rules stay, per chain both have (new chains: none). */
static int plan_chains(struct delta *d) {
        d->plans = calloc(d->new->nchains + 1, sizeof(struct chain_plan));
        if (!d->plans)
                return -ENOMEM;
        for (size_t cn = 0; cn < d->new->nchains; cn++)
                if (d->chain_old[cn] >= 0) {
                        int r = plan_chain(d, &d->old->chains[d->chain_old[cn]], &d->new->chains[cn], &d->plans[cn]);

                        if (r < 0)
                                return r;
                }
        return 0;
}

static int objects_added(struct delta *d, uint32_t genid) {
        int r;

        for (size_t i = 0; i < d->new->nchains; i++) {
                if (d->chain_old[i] >= 0)
                        continue;
                r = ensure_batch(d, genid);
                if (r >= 0)
                        r = pst_nft_put_chain(d->b, d->new, (uint32_t) i);
                if (r < 0)
                        return r;
                d->st->chains_added++;
        }
        for (size_t i = 0; i < d->new->nsets; i++) {
                if ((d->new->sets[i].flags & PST_SET_ANON) || d->set_old[i] >= 0)
                        continue;
                r = ensure_batch(d, genid);
                if (r >= 0)
                        r = pst_nft_put_set(d->b, d->new, (uint32_t) i);
                if (r < 0)
                        return r;
                d->st->sets_added++;
                d->st->elems_added += d->new->sets[i].n;
        }
        return 0;
}

static int objects_removed(struct delta *d, uint32_t genid) {
        int r;

        for (size_t i = 0; i < d->old->nchains; i++) {
                if (d->chain_new[i] >= 0)
                        continue;
                r = ensure_batch(d, genid);
                if (r >= 0)
                        r = pst_nft_put_delete(d->b, NFT_MSG_DELCHAIN, d->old->chains[i].name, 0);
                if (r < 0)
                        return r;
                d->st->chains_removed++;
        }
        for (size_t i = 0; i < d->old->nsets; i++) {
                if ((d->old->sets[i].flags & PST_SET_ANON) || d->set_kept[i])
                        continue;
                r = ensure_batch(d, genid);
                if (r >= 0)
                        r = pst_nft_put_delete(d->b, NFT_MSG_DELSET, d->old->sets[i].name, 0);
                if (r < 0)
                        return r;
                d->st->sets_removed++;
                d->st->elems_removed += d->old->sets[i].n;
        }
        return 0;
}

/* Do h's chains and rule counts describe rs? */
static bool handles_fit(const struct pst_nft_handles *h, const struct pst_ruleset *rs) {
        if (!h || h->nchains != rs->nchains)
                return false;
        for (size_t i = 0; i < rs->nchains; i++)
                if (h->chains[i].n != rs->chains[i].n)
                        return false;
        return true;
}

static int delta_steps(struct delta *d, uint32_t genid) {
        int r;

        r = plan_chains(d);
        if (r >= 0)
                r = objects_added(d, genid);
        for (size_t i = 0; r >= 0 && i < d->new->nsets; i++)
                if (d->set_old[i] >= 0)
                        r = set_elems_delta(d, genid, (uint32_t) i, (uint32_t) d->set_old[i]);
        if (r >= 0)
                r = rules_delta(d, genid, 0);
        if (r >= 0)
                r = rules_delta(d, genid, 1);
        if (r >= 0)
                r = objects_removed(d, genid);
        if (r >= 0 && d->b)
                r = pst_nft_batch_close(d->b);
        return r;
}

int pst_nft_delta_build(const struct pst_ruleset *old, const struct pst_ruleset *new,
                        const struct pst_nft_handles *h, uint32_t genid, struct pst_nft_batch **ret,
                        struct pst_nft_handles **ret_handles, struct pst_delta_stats *st, struct pst_diag *diag) {
        struct delta d = { .old = old, .new = new, .h = h, .st = st, .diag = diag };
        int r;

        *st = (struct pst_delta_stats) {};
        if (!handles_fit(h, old))
                r = unsupported(&d, "the running table's rule handles are not known");
        else if (!ruleset_decl_eq(old, new))
                r = unsupported(&d, "another table");
        else
                r = pst_nft_check_ruleset(new, diag);
        if (r >= 0)
                r = map_chains(&d);
        if (r >= 0)
                r = map_sets(&d);
        if (r >= 0)
                r = handles_new(new, &d.nh);
        if (r >= 0)
                r = delta_steps(&d, genid);
        if (r >= 0) {
                st->nothing = !d.b;
                *ret = TAKE_PTR(d.b);
                *ret_handles = TAKE_PTR(d.nh);
        }
        delta_done(&d);
        return r;
}

int pst_nft_apply_delta(struct pst_nft *nft, const struct pst_ruleset *old, const struct pst_ruleset *new,
                        uint32_t genid, struct pst_nft_handles **h, struct pst_delta_stats *st,
                        struct pst_diag *diag) {
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        _cleanup_(pst_nft_handles_freep) struct pst_nft_handles *nh = NULL;
        int r;

        r = pst_nft_delta_build(old, new, *h, genid, &b, &nh, st, diag);
        if (r >= 0 && b) {
                uint64_t t0 = now_usec();

                r = pst_nft_batch_send(nft, b, diag);
                st->send_usec = now_usec() - t0;
        }
        if (r >= 0 && b)
                r = pst_nft_handles_complete(new, nh);
        if (r == -ESTALE)
                r = pst_error(diag, r, NULL, 0, "the table does not hold the rules the delta left");
        pst_nft_handles_free(*h);
        *h = r >= 0 ? TAKE_PTR(nh) : NULL;
        return r;
}

int pst_nft_delta_count(const struct pst_ruleset *old, const struct pst_ruleset *new, struct pst_delta_stats *st,
                        struct pst_diag *diag) {
        _cleanup_(pst_nft_handles_freep) struct pst_nft_handles *h = NULL, *nh = NULL;
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        int r;

        r = handles_new(old, &h); /* all 0: the batch is only counted */
        if (r < 0)
                return r;
        return pst_nft_delta_build(old, new, h, 0, &b, &nh, st, diag);
}

void pst_delta_stats_format(const struct pst_delta_stats *st, char *buf, size_t size) {
        if (st->full)
                snprintf(buf, size, "full replace (%s)", st->why ? st->why : "no delta");
        else if (st->nothing)
                snprintf(buf, size, "no change, nothing sent");
        else
                snprintf(buf, size,
                         "delta: %zu rules added, %zu removed; %zu elements added, %zu removed; "
                         "%zu sets added, %zu removed; %zu chains added, %zu removed",
                         st->rules_added, st->rules_removed, st->elems_added, st->elems_removed, st->sets_added,
                         st->sets_removed, st->chains_added, st->chains_removed);
}
