/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pipeline.h"
#include "source.h"

void pst_compiled_free(struct pst_compiled *c) {
        if (!c)
                return;
        pst_ruleset_free(c->ruleset);
        pst_policy_free(c->policy);
        pst_catalog_clear(&c->catalog);
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

int pst_load_compile(const struct pst_load_opts *o, struct pst_diag *diag, struct pst_compiled **ret) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        r = pst_catalog_load_default(&c->catalog, o->catalog, o->source_flags, diag);
        if (r < 0)
                return r;
        r = pst_policy_load_cached(o->policy, &c->catalog, o->source_flags, o->list_cache, diag, &c->policy);
        if (r < 0)
                return r;
        r = rpc_mechanism(&c->policy->options, o->rpc_offer, diag);
        if (r < 0)
                return r;
        r = pst_compile(c->policy, o->ifaddrs, diag, &c->ruleset);
        if (r < 0)
                return r;
        /* the lists' sorted ranges served this compile; the cache keeps its own */
        for (size_t i = 0; i < c->policy->nlists; i++) {
                pst_list_ranges_free(c->policy->lists[i]->ranges);
                c->policy->lists[i]->ranges = NULL;
        }
        pst_policy_digest_hex(c->policy, c->digest);
        *ret = TAKE_PTR(c);
        return 0;
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
