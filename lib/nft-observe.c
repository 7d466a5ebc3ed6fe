/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Netlink dumps of what the kernel holds beside and in our table
 * (nft-observe.h): other tables' dropping base chains; our rules' counters.
 */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft-observe.h"
#include "nlreq.h"
#include "util.h"

#define REQ_BUF 1024 /* one dump request with two names */

static inline void nftnl_chain_freep(struct nftnl_chain **p) {
        if (*p)
                nftnl_chain_free(*p);
}

static inline void nftnl_rule_freep(struct nftnl_rule **p) {
        if (*p)
                nftnl_rule_free(*p);
}

static const char *str_or_empty(const char *s) {
        return s ? s : "";
}

/* ---- other tables' base chains ---- */

static bool family_filters_ip(uint32_t f) {
        return f == NFPROTO_INET || f == NFPROTO_IPV4 || f == NFPROTO_IPV6;
}

struct scan {
        const char *own;
        struct pst_foreign *f;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data) {
        struct scan *s = data;
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        struct pst_foreign_chain fc = {};
        uint32_t family, hook;

        if (!c)
                return MNL_CB_ERROR;
        if (nftnl_chain_nlmsg_parse(nlh, c) < 0 || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
                return MNL_CB_OK; /* a regular chain: only reached through a base chain */
        family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
        hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
        if (!family_filters_ip(family) || (hook != NF_INET_LOCAL_IN && hook != NF_INET_FORWARD))
                return MNL_CB_OK;
        if (family == NFPROTO_INET && streq(str_or_empty(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)), s->own))
                return MNL_CB_OK;
        fc.family = family;
        fc.hook = hook;
        fc.priority = (int32_t) nftnl_chain_get_u32(c, NFTNL_CHAIN_PRIO);
        fc.policy_drop = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
                         nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP;
        snprintf(fc.table, sizeof(fc.table), "%s", str_or_empty(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)));
        snprintf(fc.chain, sizeof(fc.chain), "%s", str_or_empty(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)));
        if (s->f->n < PST_FOREIGN_MAX)
                s->f->v[s->f->n++] = fc;
        else
                s->f->more++;
        return MNL_CB_OK;
}

/* Does the expression end the packet: verdict drop, or reject? */
static int drop_expr_cb(struct nftnl_expr *e, void *data) {
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        bool *drops = data;

        if (streq(str_or_empty(name), "reject") ||
            (streq(str_or_empty(name), "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
             (int) nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_DROP))
                *drops = true;
        return 0;
}

static int drop_rule_cb(const struct nlmsghdr *nlh, void *data) {
        struct pst_foreign_chain *fc = data;
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        bool drops = false;

        if (!r)
                return MNL_CB_ERROR;
        if (nftnl_rule_nlmsg_parse(nlh, r) < 0 || nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY) != fc->family ||
            !streq(str_or_empty(nftnl_rule_get_str(r, NFTNL_RULE_TABLE)), fc->table) ||
            !streq(str_or_empty(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)), fc->chain))
                return MNL_CB_OK; /* older kernels ignore a dump's filter */
        (void) nftnl_expr_foreach(r, drop_expr_cb, &drops);
        fc->drop_rules += drops;
        return MNL_CB_OK;
}

static int count_drop_rules(struct pst_foreign_chain *fc) {
        char buf[REQ_BUF];
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, (uint16_t) fc->family, NLM_F_DUMP, 0);

        mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, fc->table);
        mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, fc->chain);
        return pst_nl_request(NETLINK_NETFILTER, nlh, drop_rule_cb, fc);
}

int pst_foreign_scan(const char *own_table, struct pst_foreign *ret) {
        char buf[REQ_BUF];
        struct pst_foreign all = {};
        struct scan s = { own_table, &all };
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
        int r;

        r = pst_nl_request(NETLINK_NETFILTER, nlh, chain_cb, &s);
        if (r < 0)
                return r;
        *ret = (struct pst_foreign) { .more = all.more };
        for (size_t i = 0; i < all.n; i++) {
                r = all.v[i].policy_drop ? 0 : count_drop_rules(&all.v[i]);
                if (r < 0 && r != -ENOENT) /* a chain gone since: nothing to warn of */
                        return r;
                if (all.v[i].policy_drop || all.v[i].drop_rules)
                        ret->v[ret->n++] = all.v[i];
        }
        return 0;
}

static const char *family_name(uint32_t f) {
        return f == NFPROTO_INET ? "inet" : f == NFPROTO_IPV4 ? "ip" : f == NFPROTO_IPV6 ? "ip6" : "?";
}

void pst_foreign_format(const struct pst_foreign_chain *c, char *buf, size_t size) {
        char what[64];

        if (c->policy_drop)
                snprintf(what, sizeof(what), "policy drop");
        else
                snprintf(what, sizeof(what), "%u rule%s that drop%s", c->drop_rules, c->drop_rules == 1 ? "" : "s",
                         c->drop_rules == 1 ? "s" : "");
        snprintf(buf, size, "table %s %s, chain %s (hook %s, priority %d): %s", family_name(c->family), c->table,
                 c->chain, c->hook == NF_INET_LOCAL_IN ? "input" : "forward", c->priority, what);
}

/* ---- our rules' counters ---- */

void pst_counters_clear(struct pst_counters *c) {
        free(c->v);
        *c = (struct pst_counters) {};
}

static int counter_expr_cb(struct nftnl_expr *e, void *data) {
        struct pst_rule_counter *rc = data;

        if (!streq(str_or_empty(nftnl_expr_get_str(e, NFTNL_EXPR_NAME)), "counter") || rc->counter)
                return 0;
        rc->counter = true;
        rc->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
        rc->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
        return 0;
}

static int comment_cb(const struct nftnl_udata *attr, void *data) {
        struct pst_rule_counter *rc = data;
        const char *v = nftnl_udata_get(attr);
        uint8_t len = nftnl_udata_len(attr);

        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 && v[len - 1] == 0)
                snprintf(rc->comment, sizeof(rc->comment), "%s", v);
        return 0;
}

struct cdump {
        const char *table;
        struct pst_counters *c;
};

static int counter_rule_cb(const struct nlmsghdr *nlh, void *data) {
        struct cdump *d = data;
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        struct pst_rule_counter rc = {};
        const char *chain;
        const void *ud;
        uint32_t udlen = 0;

        if (!r)
                return MNL_CB_ERROR;
        if (nftnl_rule_nlmsg_parse(nlh, r) < 0 || nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY) != NFPROTO_INET ||
            !streq(str_or_empty(nftnl_rule_get_str(r, NFTNL_RULE_TABLE)), d->table))
                return MNL_CB_OK;
        chain = str_or_empty(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
        snprintf(rc.chain, sizeof(rc.chain), "%s", chain);
        if (d->c->n > 0 && streq(d->c->v[d->c->n - 1].chain, rc.chain))
                rc.index = d->c->v[d->c->n - 1].index + 1;
        rc.handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
        (void) nftnl_expr_foreach(r, counter_expr_cb, &rc);
        ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
        if (ud && udlen)
                (void) nftnl_udata_parse(ud, udlen, comment_cb, &rc);
        if (GROW(d->c->v, d->c->cap, d->c->n + 1, PST_COUNTERS_MAX) < 0)
                return MNL_CB_ERROR;
        d->c->v[d->c->n++] = rc;
        return MNL_CB_OK;
}

int pst_counters_dump(const char *table, struct pst_counters *ret) {
        char buf[REQ_BUF];
        struct pst_counters c = {};
        struct cdump d = { table, &c };
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, 0);
        int r;

        mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
        r = pst_nl_request(NETLINK_NETFILTER, nlh, counter_rule_cb, &d);
        if (r < 0) {
                pst_counters_clear(&c);
                return r;
        }
        *ret = c;
        return 0;
}
