/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The reply reader's targets from a compiled policy (see rpc-targets.h). */
#include <sys/socket.h>

#include "rpc-targets.h"

/* The policy rule of a set named rpc_N_vF (compile.c rpc_pinholes), NULL if none has rpc. */
static const struct pst_rpc *rule_rpc(const struct pst_policy *p, const char *set) {
        size_t n;
        int fam, end = 0;

        if (sscanf(set, "rpc_%zu_v%d%n", &n, &fam, &end) != 2 || set[end] || n == 0 || n > p->nrules)
                return NULL;
        return p->rules[n - 1].rpc;
}

static bool listed(const struct pst_rpc_target *v, size_t n, const char *set) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].set, set))
                        return true;
        return false;
}

/* The pinhole set whose replies rule r hands to the reader: an NFLOG copy
 * (prefix = the set's name) or the queue the set waits in; -1 if none. */
static int fed_set(const struct pst_ruleset *rs, const struct pst_rule *r) {
        if (r->log_nflog && r->log_group == PST_RPC_NFLOG_GROUP)
                return pst_set_find(rs, r->log_prefix);
        if (r->verdict.kind != PST_V_QUEUE)
                return -1;
        for (size_t i = 0; i < rs->nsets; i++)
                if (rs->sets[i].queue == r->verdict.chain)
                        return (int) i;
        return -1;
}

int pst_rpc_targets(const struct pst_compiled *c, struct pst_rpc_target *ret, size_t max) {
        const struct pst_ruleset *rs = c ? c->ruleset : NULL;
        size_t n = 0;

        if (!rs || !c->policy)
                return 0; /* the emergency ruleset has no pinholes */
        for (size_t i = 0; i < rs->nchains; i++)
                for (size_t j = 0; j < rs->chains[i].n; j++) {
                        const struct pst_rule *r = &rs->chains[i].rules[j];
                        const struct pst_rpc *rpc;
                        const struct pst_set *s;
                        int si;

                        si = fed_set(rs, r);
                        if (si < 0 || listed(ret, n, rs->sets[si].name) || !(rs->sets[si].flags & PST_SET_TIMEOUT) ||
                            !(rpc = rule_rpc(c->policy, rs->sets[si].name)))
                                continue;
                        if (n == max)
                                return -E2BIG;
                        s = &rs->sets[si];
                        ret[n] = (struct pst_rpc_target) {
                                .family = s->fields[0] == PST_F_IP6_SADDR ? AF_INET6 : AF_INET,
                                .nifs = rpc->nifs,
                                .queue = s->queue,
                        };
                        snprintf(ret[n].set, sizeof(ret[n].set), "%s", s->name);
                        memcpy(ret[n].ifs, rpc->ifs, rpc->nifs * sizeof(rpc->ifs[0]));
                        n++;
                }
        return (int) n;
}
