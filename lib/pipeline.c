/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pipeline.h"
#include "kernel-features.h"
#include "list-cache.h"
#include "source.h"

/* What one load read and made, and the inputs that decided it (pipeline.h). */
struct pst_loaded {
        unsigned refs;
        struct pst_catalog catalog;
        struct pst_policy *policy;
        char *policy_path;  /* pst_load_opts.policy */
        char *catalog_path; /* pst_load_opts.catalog (NULL: the default) */
        unsigned source_flags, rpc_offer;
};

static void loaded_unref(struct pst_loaded *l) {
        if (!l || --l->refs > 0)
                return;
        pst_policy_free(l->policy);
        pst_catalog_clear(&l->catalog);
        free(l->policy_path);
        free(l->catalog_path);
        free(l);
}

void pst_compiled_free(struct pst_compiled *c) {
        if (!c)
                return;
        pst_ruleset_free(c->ruleset);
        free(c->list_digest);
        loaded_unref(c->loaded);
        free(c);
}

/*
 * options.rpc_mechanism against what the kernel offers (rpc_offer).  "auto"
 * takes the kernel's own reading when there is one, else NFLOG; never a
 * queue: with the kernel's reading the common replies open their pinhole
 * before the client's SYN anyway, and a queue makes every other reply wait
 * for posternd's reader (README).  A mechanism asked for by name that
 * a probed kernel lacks is an error at the option; without a probe
 * (--offline, nf_tables not answering) it is compiled as asked.
 */
static int rpc_mechanism(struct pst_options *opt, unsigned offer, struct pst_diag *diag) {
        unsigned want = opt->rpc_mech & (PST_RPC_MECH_KERNEL | PST_RPC_MECH_QUEUE), lack;

        if (opt->rpc_mech & PST_RPC_MECH_AUTO) {
                opt->rpc_mech = offer & PST_RPC_MECH_KERNEL;
                return 0;
        }
        lack = (offer & PST_RPC_MECH_PROBED) ? want & ~offer : 0;
        if (!lack)
                return 0;
        return pst_error(diag, -EOPNOTSUPP, opt->rpc_mech_loc.file, opt->rpc_mech_loc.line,
                         "options.rpc_mechanism: this kernel does not offer %s%s%s",
                         lack & PST_RPC_MECH_KERNEL ? "reading the endpoint mapper's replies itself "
                                                      "(rpc_kernel: a set update keyed by a raw payload load)"
                                                    : "",
                         lack == (PST_RPC_MECH_KERNEL | PST_RPC_MECH_QUEUE) ? " nor " : "",
                         lack & PST_RPC_MECH_QUEUE ? "the queue expression (nft_queue, CONFIG_NFT_QUEUE)" : "");
}

static unsigned rpc_offer(const struct pst_load_opts *o, const struct pst_policy *p) {
        if (!o->rpc_probe)
                return o->rpc_offer;
        for (size_t i = 0; i < p->nrules; i++)
                if (p->rules[i].rpc)
                        return pst_rpc_offer_probe();
        return 0;
}

static int compiled_new(struct pst_loaded *l, struct pst_compiled **ret) {
        struct pst_compiled *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->list_digest = calloc(MAX(l->policy->nlists, (size_t) 1), sizeof(uint64_t));
        if (!c->list_digest) {
                free(c);
                return -ENOMEM;
        }
        l->refs++;
        c->loaded = l;
        c->catalog = &l->catalog;
        c->policy = l->policy;
        *ret = c;
        return 0;
}

static int load_full(const struct pst_load_opts *o, struct pst_diag *diag, struct pst_compiled **ret) {
        struct pst_loaded *l = calloc(1, sizeof(*l));
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        const struct pst_read_log *log;
        int r;

        if (!l)
                return -ENOMEM;
        l->refs = 1; /* this function's, until c holds it */
        l->source_flags = o->source_flags;
        l->rpc_offer = o->rpc_offer;
        l->policy_path = strdup(o->policy);
        l->catalog_path = o->catalog ? strdup(o->catalog) : NULL;
        r = !l->policy_path || (o->catalog && !l->catalog_path) ? -ENOMEM : 0;
        if (r >= 0)
                r = pst_catalog_load_default(&l->catalog, o->catalog, o->source_flags, diag);
        if (r >= 0)
                r = pst_policy_load_cached(o->policy, &l->catalog, o->source_flags, o->list_cache, diag, &l->policy);
        if (r >= 0)
                r = compiled_new(l, &c);
        loaded_unref(l); /* c holds it now, or nothing does */
        if (r < 0)
                return r;
        r = rpc_mechanism(&c->policy->options, rpc_offer(o, c->policy), diag);
        if (r < 0)
                return r;
        r = pst_compile(c->policy, o->ifaddrs, diag, &c->ruleset);
        if (r < 0)
                return r;
        /* the lists' sorted ranges served this compile; the cache keeps its own,
         * and its entries too: only compile reads a list's (P2: 1.8 MB), its
         * families stay for the list-only reload's check */
        for (size_t i = 0; i < c->policy->nlists; i++) {
                struct pst_list *li = c->policy->lists[i];

                pst_list_ranges_free(li->ranges);
                li->ranges = NULL;
                if (o->list_cache) {
                        free(li->addrs.v);
                        li->addrs = (struct pst_addrs) { .has4 = li->addrs.has4, .has6 = li->addrs.has6 };
                }
        }
        log = &c->policy->read;
        for (size_t i = 0; i < log->n; i++)
                if (log->v[i].kind == PST_READ_LIST && log->v[i].list < c->policy->nlists)
                        c->list_digest[log->v[i].list] = log->v[i].digest;
        pst_policy_digest_hex(c->policy, c->digest);
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- the list-only reload (pipeline.h) ---- */

/* The log's main files are files[], in order. */
static bool same_main_files(const struct pst_read_log *log, char **files, size_t n) {
        size_t k = 0;

        for (size_t i = 0; i < log->n; i++)
                if (log->v[i].kind == PST_READ_MAIN && (k >= n || !streq(log->v[i].path, files[k++])))
                        return false;
        return k == n;
}

static bool same_file_set(const struct pst_loaded *l) {
        char **files = NULL;
        struct pst_diag d;
        size_t n = 0;
        bool same;
        int r;

        pst_diag_init(&d);
        r = pst_policy_files(l->policy_path, &d, &files, &n);
        pst_diag_clear(&d);
        if (r < 0)
                return false;
        same = same_main_files(&l->policy->read, files, n);
        pst_policy_files_free(files, n);
        if (!same || pst_catalog_default_files(l->catalog_path, &files, &n) < 0)
                return false;
        same = same_main_files(&l->catalog.read, files, n);
        pst_policy_files_free(files, n);
        return same;
}

/* Every libconfig file of log reads (with the load's checks of owners and
 * kind; its content passed them when it had these bytes) to the bytes it had. */
static bool same_bytes(const struct pst_read_log *log, unsigned source_flags) {
        for (size_t i = 0; i < log->n; i++) {
                const struct pst_read_entry *e = &log->v[i];
                _cleanup_free_ char *buf = NULL;
                struct pst_diag d;
                size_t size;
                int r;

                if (e->kind == PST_READ_LIST)
                        continue;
                pst_diag_init(&d);
                r = pst_source_read(e->path, PST_SYNTAX_LIBCONFIG, source_flags | PST_SOURCE_UNCHECKED, NULL, &d,
                                    &buf, &size, NULL);
                pst_diag_clear(&d);
                if (r < 0 || size != e->size || memcmp(buf, e->bytes, size) != 0)
                        return false;
        }
        return true;
}

/* A list file read again */
struct relisted {
        struct pst_addrs a; /* families; entries only without a cache */
        const struct pst_list_ranges *ranges; /* the cache's (valid until it reads this list again) */
        bool changed; /* its bytes are not those the running ruleset's sets hold */
};

/* One list file again (from the list cache: its entries stay there, and
 * so do their ranges); *digest: in, what the running ruleset's sets hold,
 * out, the file's now.  1: the list cannot take this path (an error or a
 * warning, a family came or went); the whole load then says why. */
static int reread_one(const struct pst_load_opts *o, const struct pst_policy *p, const struct pst_read_entry *e,
                      uint64_t *digest, struct relisted *ret) {
        const struct pst_list *old = p->lists[e->list];
        struct pst_diag d;
        uint64_t now = 0;
        int r;

        pst_diag_init(&d);
        r = pst_policy_reread_list(p, e, o->source_flags, o->list_cache, &d, &ret->a, &ret->ranges, &now);
        if (r >= 0 && (d.n > 0 || ret->a.has4 != old->addrs.has4 || ret->a.has6 != old->addrs.has6))
                r = 1;
        pst_diag_clear(&d);
        ret->changed = now != *digest;
        *digest = now;
        return r < 0 ? 1 : r; /* what failed here, the whole load reports */
}

struct relist_ctx {
        const struct pst_policy *p;
        const struct relisted *rl; /* per p->lists[] */
};

/* pst_ruleset_dup: the sets of changed lists are refilled, not copied */
static bool refilled(const struct pst_set *s, void *userdata) {
        const struct relist_ctx *x = userdata;

        for (size_t i = 0; i < x->p->nlists; i++)
                if (x->rl[i].changed && pst_compile_is_list_set(s, x->p->lists[i]->name))
                        return true;
        return false;
}

/* The lists again, in the order the load read them, and the digest that
 * load would compute now: the same fold (policy.c, cfg.c); then c's
 * ruleset, prev's with the sets of the lists that changed refilled. */
static int relist(const struct pst_load_opts *o, const struct pst_compiled *prev, struct pst_compiled *c) {
        const struct pst_policy *p = prev->policy;
        _cleanup_free_ struct relisted *rl = calloc(MAX(p->nlists, (size_t) 1), sizeof(*rl));
        uint64_t d = PST_DIGEST_INIT;
        int r = rl ? 0 : 1;

        for (size_t i = 0; r == 0 && i < p->read.n; i++) {
                const struct pst_read_entry *e = &p->read.v[i];

                if (e->kind != PST_READ_LIST) {
                        d = pst_digest_fold(d, e->path, e->digest);
                        continue;
                }
                if (e->list >= p->nlists) {
                        r = 1;
                        break;
                }
                c->list_digest[e->list] = prev->list_digest[e->list];
                r = reread_one(o, p, e, &c->list_digest[e->list], &rl[e->list]);
                d = pst_digest_fold(d, e->path, c->list_digest[e->list]);
        }
        if (r == 0 && pst_ruleset_dup(prev->ruleset, refilled, &(struct relist_ctx) { p, rl }, &c->ruleset) < 0)
                r = 1;
        for (size_t i = 0; r == 0 && i < p->nlists; i++)
                if (rl[i].changed) {
                        r = pst_compile_list_sets(c->ruleset, p->lists[i]->name, &rl[i].a, rl[i].ranges);
                        r = r == -ESTALE || r < 0 ? 1 : r;
                }
        for (size_t i = 0; rl && i < p->nlists; i++)
                free(rl[i].a.v);
        snprintf(c->digest, sizeof(c->digest), "%016llx", (unsigned long long) d);
        return r;
}

/* 0: *ret is the list-only reload of prev; 1: it does not apply. */
static int load_lists_only(const struct pst_load_opts *o, const struct pst_compiled *prev,
                           struct pst_compiled **ret) {
        struct pst_loaded *l = prev ? prev->loaded : NULL;
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        int r;

        if (!l || !l->policy || !prev->ruleset || l->policy->read.incomplete || l->catalog.read.incomplete ||
            !streq(l->policy_path, o->policy) || !streq_ptr(l->catalog_path, o->catalog) ||
            l->source_flags != o->source_flags || l->rpc_offer != o->rpc_offer)
                return 1;
        if (!same_file_set(l) || !same_bytes(&l->policy->read, o->source_flags) ||
            !same_bytes(&l->catalog.read, o->source_flags))
                return 1;
        if (compiled_new(l, &c) < 0)
                return 1;
        if (o->list_cache)
                pst_list_cache_begin(o->list_cache);
        r = relist(o, prev, c);
        if (o->list_cache)
                pst_list_cache_end(o->list_cache, r == 0);
        /* the running ruleset's interface-address sets follow the interfaces
         * (daemon/manager.c): what compile puts there, from ifaddrs */
        if (r == 0 && pst_ruleset_update_ifaddrs(c->ruleset, o->ifaddrs, 0, NULL) < 0)
                r = 1;
        if (r != 0)
                return 1;
        c->lists_only = true;
        *ret = TAKE_PTR(c);
        return 0;
}

int pst_load_compile(const struct pst_load_opts *o, struct pst_diag *diag, struct pst_compiled **ret) {
        if (o->previous && load_lists_only(o, o->previous, ret) == 0)
                return 0;
        return load_full(o, diag, ret);
}

int pst_compiled_from_ruleset(struct pst_ruleset *rs, struct pst_compiled **ret) {
        struct pst_compiled *c = calloc(1, sizeof(*c));

        if (!c) {
                pst_ruleset_free(rs);
                return -ENOMEM;
        }
        c->ruleset = rs;
        *ret = c;
        return 0;
}

unsigned pst_source_flags_from_env(void) {
        const char *e = getenv("POSTERN_UNSAFE_FILES");

        return e && streq(e, "1") ? PST_SOURCE_ANY_OWNER : 0;
}
