/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pst_iptc_render(): a whole plan as the input of `ipset restore` and
 * `iptables-restore --noflush` / `ip6tables-restore --noflush`, with the
 * -A lines exactly as iptables-save prints what pst_iptc_apply() installs.
 * Pure: the rules and sets are written by iptc-xt.c and iptc-ipset.c.
 */
#include "iptc-internal.h"

static int chain_cmp(const void *a, const void *b, void *userdata) {
        const struct iptc_plan *sort_plan = userdata;
        const struct pst_ruleset *rs = sort_plan->rs;
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        bool bx = rs->chains[x].hook != PST_HOOK_NONE, by = rs->chains[y].hook != PST_HOOK_NONE;

        if (bx != by)
                return bx ? -1 : 1;
        if (bx)
                return x < y ? -1 : x > y;
        return strcmp(sort_plan->chains[x], sort_plan->chains[y]);
}

/* Where each chain's rules start in fam->rules (grouped by chain, in chain order). */
static size_t *rule_starts(const struct pst_ruleset *rs, const struct xfamily *fam) {
        size_t *start = calloc(rs->nchains + 1, sizeof(*start));

        if (!start)
                return NULL;
        for (size_t i = 0; i < fam->n; i++)
                start[fam->rules[i].chain + 1] = i + 1;
        for (size_t c = 1; c <= rs->nchains; c++)
                start[c] = MAX(start[c], start[c - 1]);
        return start;
}

/* One table (filter, or nat) of one family, in the order iptables-save
 * lists the kernel's table: builtin chains, then user chains by name
 * (libiptc keeps them sorted). */
static void render_table(const struct iptc_plan *p, int xf, bool nat, const uint32_t *order, const size_t *start,
                         FILE *f) {
        const struct pst_ruleset *rs = p->rs;
        const struct xfamily *fam = &p->fam[xf];

        fprintf(f, "*%s\n", nat ? "nat" : "filter");
        for (size_t i = 0; i < rs->nchains; i++) {
                uint32_t c = order[i];

                if (iptc_chain_nat(p, c) != nat)
                        continue;
                if (rs->chains[c].hook != PST_HOOK_NONE && !nat)
                        fprintf(f, ":%s %s [0:0]\n", p->chains[c],
                                rs->chains[c].policy == PST_V_ACCEPT ? "ACCEPT" : "DROP");
                else
                        fprintf(f, ":%s - [0:0]\n", p->chains[c]);
        }
        /* --noflush keeps the rules of builtin chains: ours go explicitly;
         * in nat the builtin chains are everyone's, ours is one jump each
         * (PREROUTING's before POSTROUTING's, the kernel's order) */
        for (int hook = PST_HOOK_INPUT; hook <= PST_HOOK_POSTROUTING; hook++)
                for (size_t i = 0; i < rs->nchains; i++) {
                        if ((int) rs->chains[i].hook != hook || iptc_chain_nat(p, (uint32_t) i) != nat)
                                continue;
                        if (nat)
                                fprintf(f, "-A %s -j %s\n", iptc_nat_builtin(rs, (uint32_t) i), p->chains[i]);
                        else
                                fprintf(f, "-F %s\n", p->chains[i]);
                }
        for (size_t i = 0; i < rs->nchains; i++) {
                uint32_t c = order[i];

                if (iptc_chain_nat(p, c) != nat)
                        continue;
                for (size_t k = start[c]; k < start[c + 1]; k++) {
                        iptc_rule_text(p, xf, &fam->rules[k], f);
                        fputs("\n", f);
                }
        }
        fputs("COMMIT\n", f);
}

static int render_family(const struct iptc_plan *p, int xf, FILE *f) {
        const struct pst_ruleset *rs = p->rs;
        _cleanup_free_ uint32_t *order = NULL;
        _cleanup_free_ size_t *start = NULL;

        order = malloc(MAX(rs->nchains, 1) * sizeof(*order));
        start = rule_starts(rs, &p->fam[xf]);
        if (!order || !start)
                return -ENOMEM;
        for (size_t i = 0; i < rs->nchains; i++)
                order[i] = (uint32_t) i;
        qsort_r(order, rs->nchains, sizeof(*order), chain_cmp, (void *) p);
        fprintf(f, "# postern: %s\n", xf == XF_4 ? "iptables" : "ip6tables");
        render_table(p, xf, false, order, start, f);
        /* table nat only where this family has NAT rules (an IPv4-only
         * forward writes no ip6tables nat table) */
        if (p->has_nat[xf])
                render_table(p, xf, true, order, start, f);
        return 0;
}

int pst_iptc_render(const struct pst_ruleset *rs, const struct pst_iptc_opts *o, FILE *f, struct pst_diag *diag) {
        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;
        int r;

        r = iptc_plan_build(rs, !o || o->ipset != PST_IPTC_IPSET_NEVER, NULL, diag, &p);
        if (r < 0)
                return r;
        fputs("# postern ruleset for the iptables backend. Three parts, each starting with a \"# postern:\" line:\n"
              "#   ipset      input of `ipset -exist restore` (sets named after their contents)\n"
              "#   iptables   input of `iptables-restore --noflush` (table filter, IPv4)\n"
              "#   ip6tables  input of `ip6tables-restore --noflush` (table filter, IPv6)\n",
              f);
        if (p->nsets) {
                fputs("# postern: ipset\n", f);
                for (size_t i = 0; i < p->nsets; i++)
                        iptc_set_text(p, &p->sets[i], p->sets[i].name, p->sets[i].dynamic, f);
        }
        r = render_family(p, XF_4, f);
        if (r >= 0)
                r = render_family(p, XF_6, f);
        if (r < 0)
                return r;
        return ferror(f) ? -EIO : 0;
}
