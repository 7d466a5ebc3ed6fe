/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The delta between two rulesets as one nf_tables batch (nft-delta.h).
 *
 * Order of the messages (each step only needs what the ones before made):
 *   BEGIN (guarded by the generation),
 *   new chains, new named sets with their elements,
 *   elements removed from kept sets, then elements added to them,
 *   rules removed (of kept chains and of chains that go),
 *   rules added (kept chains: before the first kept rule after them; new
 *   chains: appended), each with its anonymous sets,
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

#define KNOWN_SET_FLAGS (PST_SET_INTERVAL | PST_SET_MAP | PST_SET_DYNAMIC | PST_SET_ANON | PST_SET_LINKLOCAL)

/* A set's declaration without its elements and origin: what must agree for
 * its elements to be diffed in place. */
static bool set_decl_eq(const struct pst_set *a, const struct pst_set *b) {
        struct pst_set x = *a, y = *b;

        x.n = x.cap = x.capdata = y.n = y.cap = y.capdata = 0;
        x.keys = y.keys = NULL;
        x.data = y.data = NULL;
        x.origin = y.origin = (struct pst_origin) {};
        return memcmp(&x, &y, sizeof(x)) == 0;
}

static bool verdict_eq(const struct pst_ruleset *ra, const struct pst_verdict *a, const struct pst_ruleset *rb,
                       const struct pst_verdict *b) {
        if (a->kind != b->kind)
                return false;
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
static bool rule_eq(const struct pst_ruleset *ra, const struct pst_rule *a, const struct pst_ruleset *rb,
                    const struct pst_rule *b) {
        struct pst_rule x = *a, y = *b;

        if (a->nmatch != b->nmatch || a->nmatch > PST_MATCH_MAX || !verdict_eq(ra, &a->verdict, rb, &b->verdict))
                return false;
        for (unsigned i = 0; i < a->nmatch; i++) {
                bool ref = a->match[i].op == PST_M_SET || a->match[i].op == PST_M_VMAP;

                if (a->match[i].op != b->match[i].op)
                        return false;
                if (ref && !set_ref_eq(ra, a->match[i].set, rb, b->match[i].set))
                        return false;
                if (ref)
                        x.match[i].set = y.match[i].set = 0;
        }
        for (unsigned i = a->nmatch; i < PST_MATCH_MAX; i++)
                x.match[i] = y.match[i] = (struct pst_match) {};
        x.verdict.chain = y.verdict.chain = 0;
        x.origin = y.origin = (struct pst_origin) {};
        return memcmp(&x, &y, sizeof(x)) == 0;
}

/* ---- the delta ---- */

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
};

static void delta_done(struct delta *d) {
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

static bool hook_known(enum pst_hook h) {
        return h == PST_HOOK_NONE || h == PST_HOOK_INPUT || h == PST_HOOK_FORWARD;
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

/* Walk both element lists (sorted: compile normalizes them); gone[] gets
 * old's indices of elements new lacks, come[] new's of those old lacks.
 * Even unsorted lists come out right (an element then leaves and comes
 * again), only less small. */
static int elems_diff(struct delta *d, const struct pst_set *a, const struct pst_set *b, size_t **gone,
                      size_t *ngone, size_t **come, size_t *ncome) {
        size_t i = 0, j = 0;

        *gone = calloc(a->n + 1, sizeof(size_t));
        *come = calloc(b->n + 1, sizeof(size_t));
        if (!*gone || !*come)
                return -ENOMEM;
        *ngone = *ncome = 0;
        while (i < a->n || j < b->n) {
                int c = i == a->n ? 1 : j == b->n ? -1 :
                        memcmp(pst_set_first(a, i), pst_set_first(b, j), 2 * (size_t) a->klen);

                if (c == 0 && !elem_eq(d->old, a, i, d->new, b, j))
                        c = -1; /* same key, another verdict: leaves, then comes */
                if (c == 0) {
                        i++, j++;
                } else if (c < 0) {
                        (*gone)[(*ngone)++] = i++;
                } else
                        (*come)[(*ncome)++] = j++;
        }
        return 0;
}

static int set_elems_delta(struct delta *d, uint32_t genid, uint32_t si_new, uint32_t si_old) {
        const struct pst_set *a = &d->old->sets[si_old], *b = &d->new->sets[si_new];
        _cleanup_free_ size_t *gone = NULL, *come = NULL;
        bool za = has_zero_end(a), zb = has_zero_end(b);
        size_t ngone, ncome;
        int r;

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

/* Rules of a chain both have: the common head and tail stay, the middle of
 * old goes, the middle of new is inserted before the first rule of the tail
 * (appended when the tail is empty). */
struct chain_plan {
        size_t head, tail_old, tail_new; /* old[head, tail_old) goes, new[head, tail_new) comes */
};

static struct chain_plan plan_chain(const struct delta *d, const struct pst_chain *a, const struct pst_chain *b) {
        size_t head = 0, tail = 0;

        while (head < a->n && head < b->n && rule_eq(d->old, &a->rules[head], d->new, &b->rules[head]))
                head++;
        while (tail < a->n - head && tail < b->n - head &&
               rule_eq(d->old, &a->rules[a->n - 1 - tail], d->new, &b->rules[b->n - 1 - tail]))
                tail++;
        return (struct chain_plan) { head, a->n - tail, b->n - tail };
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

/* Rule deletions of every old chain (pass 0), then additions (pass 1);
 * new's handles where they are known already. */
static int rules_delta(struct delta *d, uint32_t genid, int pass) {
        for (size_t cn = 0; cn < d->new->nchains; cn++) {
                const struct pst_chain *b = &d->new->chains[cn];
                int32_t co = d->chain_old[cn];
                struct chain_plan p = { 0, 0, 0 };
                uint64_t before = 0;
                int r = 0;

                if (co >= 0)
                        p = plan_chain(d, &d->old->chains[co], b);
                else
                        p.tail_new = b->n;
                if (pass == 1 && co >= 0) {
                        const struct chain_handles *oh = &d->h->chains[co];

                        for (size_t i = 0; i < p.head; i++)
                                d->nh->chains[cn].h[i] = oh->h[i];
                        for (size_t i = p.tail_new; i < b->n; i++)
                                d->nh->chains[cn].h[i] = oh->h[p.tail_old + (i - p.tail_new)];
                        before = p.tail_old < oh->n ? oh->h[p.tail_old] : 0;
                }
                for (size_t i = p.head; pass == 0 && co >= 0 && r >= 0 && i < p.tail_old; i++)
                        r = del_rule(d, genid, (size_t) co, i);
                for (size_t i = p.head; pass == 1 && r >= 0 && i < p.tail_new; i++)
                        r = add_rule(d, genid, cn, i, before);
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
        if (r >= 0 && b)
                r = pst_nft_batch_send(nft, b, diag);
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
