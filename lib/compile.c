/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "compile.h"
#include "dcerpc.h"
#include "nflog.h"
#include "rpc-reader.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>

/*
 * The shape of what we generate (see README, "What the compiled ruleset
 * looks like"):
 *
 *   chain input (base, policy drop)
 *     ct state vmap { invalid : drop, established : accept, related : accept }
 *     iifname "lo" accept
 *     [meta nfproto ipv6 drop]                      options.ipv6 = false
 *     icmpv6 type { nd-... } accept                 neighbour discovery
 *     icmp / icmpv6 per options.icmp
 *     iifname vmap { "eth1" : jump input_lan, "ppp*" : jump input_wan }
 *     rules whose source is not a zone with interfaces
 *     [iifname vmap { "eth1" : goto log_lan, ... }  options.log_drops, per zone
 *      limit rate N/minute log prefix "..." group G snaplen S]
 *   chain input_<zone>: rules from that zone
 *   [chain log_<zone>: limit rate N/minute log prefix "...<zone>" group G snaplen S]
 *
 * Every accept rule is one IR rule per (source, destination, family,
 * protocol group) with its ports in one set.  Host-to-host rules merge into a
 * concatenated set per chain, family and protocol once there are
 * PST_MERGE_MIN of them, so their number never lengthens a packet's path.
 */

enum { FAM_ANY = 0, FAM_4 = 4, FAM_6 = 6 };
/* G_ALL: allow = "all", a rule without a layer-4 match */
enum group { G_TCP, G_UDP, G_PROTO, G_ICMP, G_ICMP6, G_ALL, _G_MAX };

#define ZONE_CHAIN_NONE UINT32_MAX

struct bucket { /* host-to-host rules merged into one concatenated set */
        size_t count;   /* eligible specs seen in the counting pass */
        bool emitted;   /* the lookup rule exists */
        uint32_t set;
};

struct compiler {
        const struct pst_policy *p;
        const struct pst_ifaddrs *ifa;
        struct pst_ruleset *rs;
        struct pst_diag *diag;
        uint32_t base[2];
        uint32_t *zone_chain[2]; /* per zone: chain index or ZONE_CHAIN_NONE */
        uint32_t *log_chain;     /* options.log_drops: per zone, its "log_<zone>" chain */
        /* base-chain rules, appended after the prelude and the zone dispatch */
        struct pst_rule *pending[2];
        size_t npending[2], cappending[2];
        struct bucket buckets[2][2][2]; /* chain kind, v4/v6, tcp/udp */
        bool counting;
        uint32_t rematch; /* options.rematch: the chain "rematch"; its stamp chain follows it */
        uint32_t output;  /* the output chain (input rules' rpc replies), UINT32_MAX while there is none */
};

/* ---- set helpers ---- */

static void key_ifname(const char *name, bool last, uint8_t ret_key[IFNAMSIZ]) {
        size_t l = strlen(name);

        memset(ret_key, 0, IFNAMSIZ);
        if (l && name[l - 1] == '*') {
                /* a wildcard is the range of every name with that prefix */
                memcpy(ret_key, name, l - 1);
                if (last)
                        memset(ret_key + l - 1, 0xff, IFNAMSIZ - (l - 1));
        } else
                memcpy(ret_key, name, l);
}

static void key_port(uint16_t port, uint8_t ret_key[4]) {
        ret_key[0] = (uint8_t) (port >> 8);
        ret_key[1] = (uint8_t) port;
        ret_key[2] = ret_key[3] = 0;
}

static void key_u8(uint8_t v, uint8_t ret_key[4]) {
        memset(ret_key, 0, 4);
        ret_key[0] = v;
}

static int new_anon_set(struct compiler *c, enum pst_field f, bool interval, uint32_t *ret) {
        return pst_set_add(c->rs, NULL, PST_SET_ANON | (interval ? PST_SET_INTERVAL : 0), &f, 1, ret);
}

/* ---- matches ---- */

static int rule_push(struct pst_rule *r, const struct pst_match *m) {
        if (r->nmatch >= PST_MATCH_MAX)
                return -E2BIG;
        r->match[r->nmatch++] = *m;
        return 0;
}

static int match_addrs(struct compiler *c, struct pst_rule *r, bool dst, int fam, const struct pst_addr *v,
                       size_t n) {
        enum pst_field f = fam == FAM_4 ? (dst ? PST_F_IP_DADDR : PST_F_IP_SADDR)
                                        : (dst ? PST_F_IP6_DADDR : PST_F_IP6_SADDR);
        uint8_t family = fam == FAM_4 ? AF_INET : AF_INET6;
        const struct pst_addr *only = NULL;
        size_t cnt = 0;
        struct pst_match m;
        uint32_t set;
        int k;

        for (size_t i = 0; i < n; i++)
                if (v[i].family == family) {
                        cnt++;
                        only = &v[i];
                }
        if (cnt == 1) {
                uint8_t first[16], last[16];

                pst_addr_range(only, first, last);
                pst_match_range(&m, f, first, last);
                return rule_push(r, &m);
        }
        k = new_anon_set(c, f, true, &set);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                uint8_t first[16], last[16];

                if (v[i].family != family)
                        continue;
                pst_addr_range(&v[i], first, last);
                k = pst_set_add_elem(&c->rs->sets[set], first, last, NULL);
                if (k < 0)
                        return k;
        }
        k = pst_set_normalize(&c->rs->sets[set]);
        if (k < 0)
                return k;
        pst_match_set(&m, f, set);
        return rule_push(r, &m);
}

/* Named sets are called <kind>_<name>_v4 / _v6: zone_lan_v4, list_partners_v6, ifaddr_ppp0_v4 */
static void set_name(const char *kind, const char *name, int fam, char ret_name[PST_NAME_MAX]) {
        snprintf(ret_name, PST_NAME_MAX, "%s_%s_v%d", kind, name, fam);
}

static int match_named(struct compiler *c, struct pst_rule *r, enum pst_field f, const char *kind, const char *name,
                       int fam) {
        char setname[PST_NAME_MAX];
        struct pst_match m;
        int idx;

        set_name(kind, name, fam, setname);
        idx = pst_set_find(c->rs, setname);
        if (idx < 0)
                return idx;
        pst_match_set(&m, f, (uint32_t) idx);
        return rule_push(r, &m);
}

static int match_ifnames(struct compiler *c, struct pst_rule *r, enum pst_field f, const struct pst_zone *z) {
        struct pst_match m;
        bool wild = false;
        uint32_t set;
        int k;

        for (size_t i = 0; i < z->nifs; i++)
                wild |= z->ifs[i].wildcard;
        if (z->nifs == 1) {
                uint8_t first[IFNAMSIZ], last[IFNAMSIZ];

                key_ifname(z->ifs[0].name, false, first);
                key_ifname(z->ifs[0].name, true, last);
                pst_match_range(&m, f, first, last);
                return rule_push(r, &m);
        }
        k = new_anon_set(c, f, wild, &set);
        for (size_t i = 0; k >= 0 && i < z->nifs; i++) {
                uint8_t first[IFNAMSIZ], last[IFNAMSIZ];

                key_ifname(z->ifs[i].name, false, first);
                key_ifname(z->ifs[i].name, true, last);
                k = pst_set_add_elem(&c->rs->sets[set], first, last, NULL);
        }
        if (k >= 0)
                k = pst_set_normalize(&c->rs->sets[set]);
        if (k < 0)
                return k;
        pst_match_set(&m, f, set);
        return rule_push(r, &m);
}

/* The ports / protocols / types of group g over all services of the rule. */
static int match_group(struct compiler *c, struct pst_rule *r, const struct pst_prule *pr, enum group g) {
        static const enum pst_field fields[_G_MAX] = {
                [G_TCP] = PST_F_TCP_DPORT, [G_UDP] = PST_F_UDP_DPORT, [G_PROTO] = PST_F_L4PROTO,
                [G_ICMP] = PST_F_ICMP_TYPE, [G_ICMP6] = PST_F_ICMP6_TYPE,
        };
        enum pst_field f = fields[g];
        struct pst_match m;
        struct pst_set *s;
        uint32_t set;
        bool ranges = false;
        int k;

        if (g == G_TCP || g == G_UDP)
                for (size_t i = 0; i < pr->nsvc; i++) {
                        const struct pst_portrange *v = g == G_TCP ? pr->svc[i]->tcp : pr->svc[i]->udp;
                        size_t n = g == G_TCP ? pr->svc[i]->ntcp : pr->svc[i]->nudp;

                        for (size_t j = 0; j < n; j++)
                                ranges |= v[j].first != v[j].last;
                }
        k = new_anon_set(c, f, ranges, &set);
        if (k < 0)
                return k;
        s = &c->rs->sets[set];
        for (size_t i = 0; k >= 0 && i < pr->nsvc; i++) {
                const struct pst_service *svc = pr->svc[i];
                uint8_t first[4], last[4];

                switch (g) {
                case G_TCP:
                case G_UDP: {
                        const struct pst_portrange *v = g == G_TCP ? svc->tcp : svc->udp;
                        size_t n = g == G_TCP ? svc->ntcp : svc->nudp;

                        for (size_t j = 0; k >= 0 && j < n; j++) {
                                key_port(v[j].first, first);
                                key_port(v[j].last, last);
                                k = pst_set_add_elem(s, first, last, NULL);
                        }
                        break;
                }
                case G_PROTO:
                case G_ICMP:
                case G_ICMP6: {
                        const uint8_t *v = g == G_PROTO ? svc->proto : g == G_ICMP ? svc->icmp : svc->icmp6;
                        size_t n = g == G_PROTO ? svc->nproto : g == G_ICMP ? svc->nicmp : svc->nicmp6;

                        for (size_t j = 0; k >= 0 && j < n; j++) {
                                key_u8(v[j], first);
                                k = pst_set_add_elem(s, first, NULL, NULL);
                        }
                        break;
                }
                case G_ALL:
                case _G_MAX:
                        break;
                }
        }
        if (k >= 0)
                k = pst_set_normalize(s);
        if (k < 0)
                return k;
        if (s->n == 0) {
                /* nothing of this group: drop the set again (it is the last one) */
                pst_set_drop_last(c->rs);
                return 0;
        }
        if (s->n == 1) {
                /* one element: a comparison, as nft makes of a one-element set */
                uint8_t first[PST_KEY_MAX], last[PST_KEY_MAX];

                memcpy(first, pst_set_first(s, 0), s->klen);
                memcpy(last, pst_set_last(s, 0), s->klen);
                pst_set_drop_last(c->rs);
                pst_match_range(&m, f, first, last);
        } else
                pst_match_set(&m, f, set);
        return rule_push(r, &m) < 0 ? -E2BIG : 1;
}

static bool group_present(const struct pst_prule *pr, enum group g) {
        for (size_t i = 0; i < pr->nsvc; i++) {
                const struct pst_service *s = pr->svc[i];

                if ((g == G_TCP && s->ntcp) || (g == G_UDP && s->nudp) || (g == G_PROTO && s->nproto) ||
                    (g == G_ICMP && s->nicmp) || (g == G_ICMP6 && s->nicmp6) || (g == G_ALL && s->all))
                        return true;
        }
        return false;
}

/* ---- endpoints ---- */

/* Bit 0: IPv4, bit 1: IPv6 */
static unsigned ep_families(const struct pst_endpoint *e) {
        const struct pst_addrs *a = NULL;

        switch (e->kind) {
        case PST_EP_ZONE:
                if (e->zone->nets.n == 0)
                        return 3;
                a = &e->zone->nets;
                break;
        case PST_EP_ADDRS:
                if (!e->host)
                        return e->lit.family == AF_INET ? 1 : 2;
                a = &e->host->addrs;
                break;
        case PST_EP_LIST:
                a = &e->list->addrs;
                break;
        case PST_EP_ANY:
        case PST_EP_IFADDR:
                return 3;
        }
        return (a->has4 ? 1u : 0u) | (a->has6 ? 2u : 0u);
}

/* Does the endpoint look at addresses (so the rule must be split by family)? */
static bool ep_has_addresses(const struct pst_endpoint *e) {
        return e->kind == PST_EP_ADDRS || e->kind == PST_EP_LIST || e->kind == PST_EP_IFADDR ||
               (e->kind == PST_EP_ZONE && e->zone->nets.n);
}

static const struct pst_addr *ep_addrs(const struct pst_endpoint *e, size_t *n) {
        if (e->host) {
                *n = e->host->addrs.n;
                return e->host->addrs.v;
        }
        *n = 1;
        return &e->lit;
}

/* "(ppp0)" and "(ppp0, link)" hold different addresses: two sets.  No
 * interface name makes "ifaddr_NAME" read as "ifaddrll_...". */
static const char *ifaddr_kind(const struct pst_endpoint *e) {
        return e->link ? "ifaddrll" : "ifaddr";
}

static int match_endpoint(struct compiler *c, struct pst_rule *r, const struct pst_endpoint *e, bool dst, int fam) {
        enum pst_field af = fam == FAM_4 ? (dst ? PST_F_IP_DADDR : PST_F_IP_SADDR)
                                         : (dst ? PST_F_IP6_DADDR : PST_F_IP6_SADDR);
        int k = 0;

        switch (e->kind) {
        case PST_EP_ANY:
                return 0;
        case PST_EP_ZONE:
                /* a source zone's interfaces are matched by the dispatch into its chain */
                if (dst && e->zone->nifs)
                        k = match_ifnames(c, r, PST_F_OIFNAME, e->zone);
                if (k >= 0 && e->zone->nets.n)
                        k = match_named(c, r, af, "zone", e->zone->name, fam);
                return k;
        case PST_EP_ADDRS: {
                size_t n;
                const struct pst_addr *v = ep_addrs(e, &n);

                return match_addrs(c, r, dst, fam, v, n);
        }
        case PST_EP_LIST:
                return match_named(c, r, af, "list", e->list->name, fam);
        case PST_EP_IFADDR:
                return match_named(c, r, af, ifaddr_kind(e), e->ifname, fam);
        }
        return -EINVAL;
}

/* ---- chains ---- */

static const char *const chain_names[2] = { "input", "forward" };

static int target_chain(struct compiler *c, enum pst_chain_kind k, const struct pst_endpoint *from,
                        uint32_t *ret) {
        size_t zi;
        int r;

        if (from->kind != PST_EP_ZONE || from->zone->nifs == 0) {
                *ret = c->base[k];
                return 0;
        }
        for (zi = 0; c->p->zones[zi] != from->zone; zi++)
                ;
        if (c->zone_chain[k][zi] == ZONE_CHAIN_NONE) {
                char name[PST_NAME_MAX];

                snprintf(name, sizeof(name), "%s_%s", chain_names[k], from->zone->name);
                r = pst_chain_add(c->rs, name, PST_HOOK_NONE, PST_V_NONE, &c->zone_chain[k][zi]);
                if (r < 0)
                        return r;
        }
        *ret = c->zone_chain[k][zi];
        return 0;
}

static int emit(struct compiler *c, enum pst_chain_kind k, uint32_t chain, const struct pst_rule *r) {
        if (chain != c->base[k])
                return pst_rule_add(c->rs, chain, r);
        if (GROW(c->pending[k], c->cappending[k], c->npending[k] + 1, PST_RULES_MAX) < 0)
                return -E2BIG;
        c->pending[k][c->npending[k]++] = *r;
        return 0;
}

static struct pst_origin origin_of(struct compiler *c, const struct pst_loc *loc) {
        struct pst_origin o = { .line = loc->line };

        if (loc->file && pst_ruleset_file(c->rs, loc->file, &o.file) < 0)
                o.file = 0;
        return o;
}

static struct pst_rule accept_rule(struct compiler *c, const struct pst_prule *pr) {
        struct pst_rule r = {
                .counter = true,
                .verdict = { PST_V_ACCEPT, 0 },
                .origin = origin_of(c, &pr->loc),
        };

        snprintf(r.comment, sizeof(r.comment), "%s", pr->comment);
        return r;
}

/* ---- merging host-to-host rules ---- */

static bool mergeable(const struct pst_endpoint *f, const struct pst_endpoint *t, enum group g) {
        return f->kind == PST_EP_ADDRS && t->kind == PST_EP_ADDRS && (g == G_TCP || g == G_UDP);
}

static int bucket_add(struct compiler *c, enum pst_chain_kind k, const struct pst_prule *pr,
                      const struct pst_endpoint *f, const struct pst_endpoint *t, int fam, enum group g) {
        struct bucket *b = &c->buckets[k][fam == FAM_6][g == G_UDP];
        enum pst_field fields[3];
        uint8_t family = fam == FAM_4 ? AF_INET : AF_INET6;
        unsigned alen = pst_addr_len(family), aoff = (alen + 3) & ~3u;
        const struct pst_addr *sv, *dv;
        size_t sn, dn;
        struct pst_set *s;
        int r;

        if (!b->emitted) {
                struct pst_rule rule = { .counter = true, .verdict = { PST_V_ACCEPT, 0 },
                                         .origin = origin_of(c, &pr->loc) };
                char name[PST_NAME_MAX];

                fields[0] = fam == FAM_4 ? PST_F_IP_SADDR : PST_F_IP6_SADDR;
                fields[1] = fam == FAM_4 ? PST_F_IP_DADDR : PST_F_IP6_DADDR;
                fields[2] = g == G_TCP ? PST_F_TCP_DPORT : PST_F_UDP_DPORT;
                snprintf(name, sizeof(name), "%s_hosts_v%d_%s", chain_names[k], fam, g == G_TCP ? "tcp" : "udp");
                r = pst_set_add(c->rs, name, PST_SET_INTERVAL, fields, 3, &b->set);
                if (r < 0)
                        return r;
                c->rs->sets[b->set].origin = rule.origin;
                rule.nmatch = 1;
                rule.match[0] = (struct pst_match) { .op = PST_M_SET, .nfields = 3, .set = b->set };
                memcpy(rule.match[0].fields, fields, sizeof(fields));
                r = emit(c, k, c->base[k], &rule);
                if (r < 0)
                        return r;
                b->emitted = true;
        }
        s = &c->rs->sets[b->set];
        sv = ep_addrs(f, &sn);
        dv = ep_addrs(t, &dn);
        for (size_t i = 0; i < sn; i++)
                for (size_t j = 0; j < dn; j++) {
                        uint8_t sf[16], sl[16], df[16], dl[16];

                        if (sv[i].family != family || dv[j].family != family)
                                continue;
                        pst_addr_range(&sv[i], sf, sl);
                        pst_addr_range(&dv[j], df, dl);
                        for (size_t x = 0; x < pr->nsvc; x++) {
                                const struct pst_portrange *pv = g == G_TCP ? pr->svc[x]->tcp : pr->svc[x]->udp;
                                size_t pn = g == G_TCP ? pr->svc[x]->ntcp : pr->svc[x]->nudp;

                                for (size_t y = 0; y < pn; y++) {
                                        uint8_t first[PST_KEY_MAX] = {}, last[PST_KEY_MAX] = {};

                                        memcpy(first, sf, alen);
                                        memcpy(last, sl, alen);
                                        memcpy(first + aoff, df, alen);
                                        memcpy(last + aoff, dl, alen);
                                        key_port(pv[y].first, first + 2 * aoff);
                                        key_port(pv[y].last, last + 2 * aoff);
                                        r = pst_set_add_elem(s, first, last, NULL);
                                        if (r < 0)
                                                return r;
                                }
                        }
                }
        return 0;
}

/* ---- one policy rule ---- */

static const char *ep_describe(const struct pst_endpoint *e, char buf[80]) {
        switch (e->kind) {
        case PST_EP_ZONE:
                snprintf(buf, 80, "zone '%s'", e->zone->name);
                break;
        case PST_EP_LIST:
                snprintf(buf, 80, "list '%s'", e->list->name);
                break;
        case PST_EP_ADDRS:
                if (e->host)
                        snprintf(buf, 80, "host '%s'", e->host->name);
                else
                        pst_addr_format(&e->lit, buf);
                break;
        case PST_EP_ANY:
        case PST_EP_IFADDR:
                snprintf(buf, 80, "any");
                break;
        }
        return buf;
}

static const char *fam_describe(unsigned m) {
        return m == 1 ? "IPv4 only" : m == 2 ? "IPv6 only" : m == 0 ? "empty" : "IPv4 and IPv6";
}

static int compile_pair(struct compiler *c, const struct pst_prule *pr, const struct pst_endpoint *f,
                        const struct pst_endpoint *t, size_t *generated) {
        unsigned enabled = c->p->options.ipv6 ? 3u : 1u;
        unsigned fm = ep_families(f), tm = ep_families(t), mask = fm & tm & enabled;
        bool split = ep_has_addresses(f) || ep_has_addresses(t);
        int fams[2], nfams = 0;
        uint32_t chain;
        int r;

        if (mask == 0) {
                char a[80], b[80];

                if (fm == 0 || tm == 0) {
                        pst_warning(c->diag, pr->loc.file, pr->loc.line, "%s is empty; this rule matches nothing",
                                    ep_describe(fm == 0 ? f : t, fm == 0 ? a : b));
                        *generated += 1; /* not a contradiction: the list may fill later */
                        return 0;
                }
                return pst_error(c->diag, -EINVAL, pr->loc.file, pr->loc.line,
                                 "this rule can never match: 'from' %s is %s and 'to' %s is %s", ep_describe(f, a),
                                 fam_describe(fm), ep_describe(t, b), fam_describe(tm));
        }

        if (!split)
                fams[nfams++] = FAM_ANY;
        else {
                if (mask & 1)
                        fams[nfams++] = FAM_4;
                if (mask & 2)
                        fams[nfams++] = FAM_6;
        }

        r = target_chain(c, pr->chain, f, &chain);
        if (r < 0)
                return r;

        for (int i = 0; i < nfams; i++)
                for (enum group g = 0; g < _G_MAX; g++) {
                        struct pst_rule rule;
                        int fam = fams[i];

                        if (!group_present(pr, g))
                                continue;
                        if ((g == G_ICMP && (fam == FAM_6)) || (g == G_ICMP6 && (fam == FAM_4 || !(enabled & 2))))
                                continue;
                        (*generated)++;

                        if (fam != FAM_ANY && mergeable(f, t, g) &&
                            c->buckets[pr->chain][fam == FAM_6][g == G_UDP].count >= PST_MERGE_MIN) {
                                r = bucket_add(c, pr->chain, pr, f, t, fam, g);
                                if (r < 0)
                                        return r;
                                continue;
                        }

                        rule = accept_rule(c, pr);
                        if (fam != FAM_ANY) {
                                r = match_endpoint(c, &rule, f, false, fam);
                                if (r >= 0)
                                        r = match_endpoint(c, &rule, t, true, fam);
                        } else
                                r = t->kind == PST_EP_ZONE ? match_endpoint(c, &rule, t, true, FAM_4) : 0;
                        if (r >= 0 && g != G_ALL)
                                r = match_group(c, &rule, pr, g);
                        if (r >= 0)
                                r = emit(c, pr->chain, chain, &rule);
                        if (r < 0)
                                return pst_error(c->diag, r, pr->loc.file, pr->loc.line, "cannot compile rule: %s",
                                                 strerror(-r));
                }
        return 0;
}

/* Counting pass for merges: how many host-to-host specs per bucket. */
static void count_mergeable(struct compiler *c) {
        unsigned enabled = c->p->options.ipv6 ? 3u : 1u;

        for (size_t i = 0; i < c->p->nrules; i++) {
                const struct pst_prule *pr = &c->p->rules[i];

                for (size_t a = 0; a < pr->nfrom; a++)
                        for (size_t b = 0; b < pr->nto; b++) {
                                const struct pst_endpoint *f = &pr->from[a], *t = &pr->to[b];
                                unsigned mask = ep_families(f) & ep_families(t) & enabled;

                                for (enum group g = G_TCP; g <= G_UDP; g++) {
                                        if (!mergeable(f, t, g) || !group_present(pr, g))
                                                continue;
                                        if (mask & 1)
                                                c->buckets[pr->chain][0][g == G_UDP].count++;
                                        if (mask & 2)
                                                c->buckets[pr->chain][1][g == G_UDP].count++;
                                }
                        }
        }
}

/* ---- named sets ---- */

/* The elements of family's set: from the list cache's sorted ranges when
 * given (policy.h pst_list_ranges: already in order, so normalizing them
 * is one merging pass), else from the addresses. */
static int addr_set_elems(struct pst_set *s, const struct pst_addrs *a, uint8_t family) {
        int r;

        r = pst_set_reserve(s, a->n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < a->n; i++) {
                uint8_t first[16], last[16];

                if (a->v[i].family != family)
                        continue;
                pst_addr_range(&a->v[i], first, last);
                r = pst_set_add_elem(s, first, last, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What a named set of addresses holds: its elements, merged (from the list
 * cache's sorted ranges when there are some). */
static int addr_set_fill(struct pst_set *s, const struct pst_addrs *a, const struct pst_list_ranges *ranges,
                         uint8_t family) {
        int k = family == AF_INET ? 0 : 1, r;

        if (ranges && s->klen == (k == 0 ? 4u : 16u))
                return pst_set_fill_sorted(s, ranges->keys[k], ranges->n[k]);
        r = addr_set_elems(s, a, family);
        return r < 0 ? r : pst_set_normalize(s);
}

static int named_addr_sets(struct compiler *c, const char *kind, const char *name, const struct pst_addrs *a,
                           const struct pst_list_ranges *ranges, const struct pst_loc *loc) {
        for (int fam = FAM_4; fam <= FAM_6; fam += 2) {
                enum pst_field f = fam == FAM_4 ? PST_F_IP_SADDR : PST_F_IP6_SADDR;
                uint8_t family = fam == FAM_4 ? AF_INET : AF_INET6;
                char setname[PST_NAME_MAX];
                struct pst_set *s;
                uint32_t idx;
                int r;

                if (!(fam == FAM_4 ? a->has4 : a->has6))
                        continue;
                set_name(kind, name, fam, setname);
                r = pst_set_add(c->rs, setname, PST_SET_INTERVAL, &f, 1, &idx);
                if (r < 0)
                        return r;
                s = &c->rs->sets[idx];
                s->origin = origin_of(c, loc);
                r = addr_set_fill(s, a, ranges, family);
                if (r < 0)
                        return r;
        }
        return 0;
}

int pst_compile_list_sets(struct pst_ruleset *rs, const char *name, const struct pst_addrs *a,
                          const struct pst_list_ranges *ranges) {
        for (int fam = FAM_4; fam <= FAM_6; fam += 2) {
                char setname[PST_NAME_MAX];
                int idx, r;

                set_name("list", name, fam, setname);
                idx = pst_set_find(rs, setname);
                if (!(fam == FAM_4 ? a->has4 : a->has6)) {
                        if (idx >= 0)
                                return -ESTALE; /* the family came or went: rules change too */
                        continue;
                }
                if (idx < 0)
                        return -ESTALE;
                pst_set_clear(&rs->sets[idx]);
                r = addr_set_fill(&rs->sets[idx], a, ranges, fam == FAM_4 ? AF_INET : AF_INET6);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool pst_compile_is_list_set(const struct pst_set *set, const char *name) {
        char v4[PST_NAME_MAX], v6[PST_NAME_MAX];

        if (strncmp(set->name, "list_", 5) != 0)
                return false; /* most sets: anonymous ones, zones, interface addresses */
        set_name("list", name, FAM_4, v4);
        set_name("list", name, FAM_6, v6);
        return streq(set->name, v4) || streq(set->name, v6);
}

static bool ifaddr_set_exists(struct compiler *c, const struct pst_endpoint *e) {
        char name[PST_NAME_MAX];

        set_name(ifaddr_kind(e), e->ifname, FAM_4, name);
        return pst_set_find(c->rs, name) >= 0;
}

/* The interface-address sets of one "(IFNAME)", unless they exist. */
static int ifaddr_set_add(struct compiler *c, const struct pst_endpoint *e) {
        if (ifaddr_set_exists(c, e))
                return 0;
        for (int fam = FAM_4; fam <= (c->p->options.ipv6 ? FAM_6 : FAM_4); fam += 2) {
                enum pst_field f = fam == FAM_4 ? PST_F_IP_DADDR : PST_F_IP6_DADDR;
                char name[PST_NAME_MAX];
                uint32_t idx;
                int r;

                set_name(ifaddr_kind(e), e->ifname, fam, name);
                r = pst_set_add(c->rs, name, PST_SET_DYNAMIC | (e->link ? PST_SET_LINKLOCAL : 0), &f, 1, &idx);
                if (r < 0)
                        return r;
                strcpy(c->rs->sets[idx].ifname, e->ifname);
                c->rs->sets[idx].origin = origin_of(c, &e->loc);
        }
        return 0;
}

static int nat_ifaddr_sets(struct compiler *c);
static int compile_nat(struct compiler *c);

static int ifaddr_sets(struct compiler *c) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->p->nrules; i++) {
                const struct pst_prule *pr = &c->p->rules[i];

                for (size_t j = 0; r >= 0 && j < pr->nto; j++)
                        if (pr->to[j].kind == PST_EP_IFADDR)
                                r = ifaddr_set_add(c, &pr->to[j]);
        }
        if (r >= 0)
                r = nat_ifaddr_sets(c);
        return r < 0 ? r : pst_ruleset_update_ifaddrs(c->rs, c->ifa, 0, NULL);
}

/* ---- base chains ---- */

static int add_u8_set_rule(struct compiler *c, uint32_t chain, enum pst_field f, const uint8_t *v, size_t n) {
        struct pst_rule r = { .verdict = { PST_V_ACCEPT, 0 } };
        uint32_t set;
        int k;

        k = new_anon_set(c, f, false, &set);
        for (size_t i = 0; k >= 0 && i < n; i++) {
                uint8_t key[4];

                key_u8(v[i], key);
                k = pst_set_add_elem(&c->rs->sets[set], key, NULL, NULL);
        }
        if (k >= 0)
                k = pst_set_normalize(&c->rs->sets[set]);
        if (k < 0)
                return k;
        r.nmatch = 1;
        pst_match_set(&r.match[0], f, set);
        return pst_rule_add(c->rs, chain, &r);
}

static int icmp_rules(struct compiler *c, uint32_t chain, enum pst_icmp_level level) {
        static const uint8_t all[] = { IPPROTO_ICMP, IPPROTO_ICMPV6 };
        bool v6 = c->p->options.ipv6;
        const uint8_t *t;
        size_t n;
        int r;

        switch (level) {
        case PST_ICMP_NONE:
                return 0;
        case PST_ICMP_ALL:
                return add_u8_set_rule(c, chain, PST_F_L4PROTO, all, v6 ? 2 : 1);
        case PST_ICMP_ESSENTIAL:
        case PST_ICMP_PING:
                t = pst_icmp_level_types(level, false, &n);
                r = add_u8_set_rule(c, chain, PST_F_ICMP_TYPE, t, n);
                if (r >= 0 && v6) {
                        t = pst_icmp_level_types(level, true, &n);
                        r = add_u8_set_rule(c, chain, PST_F_ICMP6_TYPE, t, n);
                }
                return r;
        }
        return -EINVAL;
}

static int ct_state_vmap(struct compiler *c, uint32_t chain) {
        static const struct {
                uint32_t bit;
                enum pst_verdict_kind v;
        } states[] = {
                { NF_CT_STATE_INVALID_BIT, PST_V_DROP },
                { NF_CT_STATE_BIT(IP_CT_ESTABLISHED), PST_V_ACCEPT },
                { NF_CT_STATE_BIT(IP_CT_RELATED), PST_V_ACCEPT },
        };
        struct pst_rule r = { .nmatch = 1 };
        enum pst_field f = PST_F_CT_STATE;
        uint32_t set;
        int k;

        k = pst_set_add(c->rs, NULL, PST_SET_ANON | PST_SET_MAP, &f, 1, &set);
        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(states); i++) {
                uint32_t key = states[i].bit; /* ct state is host byte order */
                struct pst_verdict v = { states[i].v, 0 };

                if (c->p->options.rematch && key == NF_CT_STATE_BIT(IP_CT_ESTABLISHED))
                        v = (struct pst_verdict) { PST_V_JUMP, c->rematch };
                k = pst_set_add_elem(&c->rs->sets[set], (uint8_t *) &key, NULL, &v);
        }
        if (k < 0)
                return k;
        r.match[0] = (struct pst_match) { .op = PST_M_VMAP, .nfields = 1, .fields = { f }, .set = set };
        return pst_rule_add(c->rs, chain, &r);
}

/* iifname vmap { <zone's interfaces> : <kind> <zchain[zone]> } for the zones that have a chain */
static int iifname_vmap(struct compiler *c, uint32_t ch, const uint32_t *zchain, enum pst_verdict_kind kind) {
        struct pst_rule r = { .nmatch = 1 };
        enum pst_field f = PST_F_IIFNAME;
        bool any = false, wild = false;
        uint32_t set;
        int e;

        for (size_t zi = 0; zi < c->p->nzones; zi++)
                if (zchain[zi] != ZONE_CHAIN_NONE) {
                        any = true;
                        for (size_t i = 0; i < c->p->zones[zi]->nifs; i++)
                                wild |= c->p->zones[zi]->ifs[i].wildcard;
                }
        if (!any)
                return 0;
        e = pst_set_add(c->rs, NULL, PST_SET_ANON | PST_SET_MAP | (wild ? PST_SET_INTERVAL : 0), &f, 1, &set);
        for (size_t zi = 0; e >= 0 && zi < c->p->nzones; zi++) {
                const struct pst_zone *z = c->p->zones[zi];

                if (zchain[zi] == ZONE_CHAIN_NONE)
                        continue;
                for (size_t i = 0; e >= 0 && i < z->nifs; i++) {
                        uint8_t first[IFNAMSIZ], last[IFNAMSIZ];

                        key_ifname(z->ifs[i].name, false, first);
                        key_ifname(z->ifs[i].name, true, last);
                        e = pst_set_add_elem(&c->rs->sets[set], first, last,
                                             &(struct pst_verdict) { kind, zchain[zi] });
                }
        }
        if (e >= 0)
                e = pst_set_normalize(&c->rs->sets[set]);
        if (e < 0)
                return e;
        r.match[0] = (struct pst_match) { .op = PST_M_VMAP, .nfields = 1, .fields = { f }, .set = set };
        return pst_rule_add(c->rs, ch, &r);
}

static int log_rule(struct compiler *c, uint32_t ch, const char *zone) {
        const struct pst_options *o = &c->p->options;
        struct pst_rule r = { .limit_per_minute = o->log_rate, .log_nflog = true,
                              .log_group = PST_NFLOG_GROUP_DROPS, .log_snaplen = PST_NFLOG_SNAPLEN };

        snprintf(r.log_prefix, sizeof(r.log_prefix), "%s%s", o->log_prefix, zone);
        return pst_rule_add(c->rs, ch, &r);
}

/*
 * options.log_drops: what reaches the end of a base chain is logged to NFLOG
 * group PST_NFLOG_GROUP_DROPS, rate-limited per source zone.  Each zone with
 * interfaces gets one chain "log_<zone>" (shared by input and forward: the
 * limit is the zone's, the packet's hook tells which chain dropped it) with
 * one limited log rule and the prefix log_prefix + zone name; the base chain
 * goes to it, so its end is the base chain's policy drop.  Everything else
 * (zones of addresses only, no zone) meets the base chain's own limited log
 * rule, prefix log_prefix.  A limit per zone chain, not a meter per source
 * address: the token buckets are fixed in number, so a flood of spoofed
 * sources cannot make the kernel allocate, and one noisy zone cannot starve
 * another zone's log.
 */
static int log_drops(struct compiler *c, enum pst_chain_kind k) {
        size_t plen = strlen(c->p->options.log_prefix);
        int e = 0;

        if (!c->log_chain) {
                c->log_chain = malloc(MAX(c->p->nzones, 1) * sizeof(uint32_t));
                if (!c->log_chain)
                        return -ENOMEM;
                for (size_t zi = 0; e >= 0 && zi < c->p->nzones; zi++) {
                        const struct pst_zone *z = c->p->zones[zi];
                        char name[PST_NAME_MAX];

                        c->log_chain[zi] = ZONE_CHAIN_NONE;
                        if (z->nifs == 0 || z->trusted) /* a trusted zone's packets never get here */
                                continue;
                        if (plen + strlen(z->name) >= PST_LOG_PREFIX_MAX)
                                return pst_error(c->diag, -E2BIG, z->loc.file, z->loc.line,
                                                 "options.log_prefix and the zone name '%s' make a log prefix of "
                                                 "%zu bytes; at most %d fit",
                                                 z->name, plen + strlen(z->name), PST_LOG_PREFIX_MAX - 1);
                        snprintf(name, sizeof(name), "log_%s", z->name);
                        e = pst_chain_add(c->rs, name, PST_HOOK_NONE, PST_V_NONE, &c->log_chain[zi]);
                        if (e >= 0)
                                e = log_rule(c, c->log_chain[zi], z->name);
                }
        }
        if (e >= 0)
                e = iifname_vmap(c, c->base[k], c->log_chain, PST_V_GOTO);
        if (e >= 0)
                e = log_rule(c, c->base[k], "");
        return e;
}

/*
 * A trusted zone: everything that comes from it is accepted, in input and
 * in forward, to any destination.  Near the top of the base chain (after
 * the conntrack verdicts, loopback and the ipv6 = false drop, which is the
 * whole policy's word), so no rule and no drop further down sees its
 * packets.  "From" only: traffic to the zone is what the rules say, or a
 * trusted Docker bridge would be open to the Internet.  A zone with
 * networks is its interfaces AND its addresses, as everywhere else.
 */
static int trusted_zone(struct compiler *c, uint32_t chain, const struct pst_zone *z) {
        struct pst_rule r = { .counter = true, .verdict = { PST_V_ACCEPT, 0 }, .origin = origin_of(c, &z->loc) };
        int e = 0;

        snprintf(r.comment, sizeof(r.comment), "trusted zone %s", z->name);
        if (z->nifs)
                e = match_ifnames(c, &r, PST_F_IIFNAME, z);
        if (e < 0)
                return e;
        if (!z->nets.n)
                return pst_rule_add(c->rs, chain, &r);
        for (int fam = FAM_4; e >= 0 && fam <= (c->p->options.ipv6 ? FAM_6 : FAM_4); fam += 2) {
                struct pst_rule rf = r;

                if (!(fam == FAM_4 ? z->nets.has4 : z->nets.has6))
                        continue;
                e = match_named(c, &rf, fam == FAM_4 ? PST_F_IP_SADDR : PST_F_IP6_SADDR, "zone", z->name, fam);
                if (e >= 0)
                        e = pst_rule_add(c->rs, chain, &rf);
        }
        return e;
}

static int rematch_chains(struct compiler *c);

static int base_chain(struct compiler *c, enum pst_chain_kind k) {
        const struct pst_options *o = &c->p->options;
        uint32_t ch = c->base[k];
        uint8_t nfproto6 = NFPROTO_IPV6;
        struct pst_rule r;
        int e;

        /* options.rematch: its chains exist before the vmap that jumps to one (input comes first) */
        e = k == PST_INPUT && o->rematch ? rematch_chains(c) : 0;
        if (e >= 0)
                e = ct_state_vmap(c, ch);
        if (e >= 0 && k == PST_INPUT) {
                uint8_t lo[IFNAMSIZ];

                key_ifname("lo", false, lo);
                r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT, 0 } };
                pst_match_eq(&r.match[0], PST_F_IIFNAME, lo, false);
                e = pst_rule_add(c->rs, ch, &r);
        }
        if (e >= 0 && !o->ipv6) {
                r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_DROP, 0 } };
                pst_match_eq(&r.match[0], PST_F_NFPROTO, &nfproto6, false);
                e = pst_rule_add(c->rs, ch, &r);
        }
        for (size_t zi = 0; e >= 0 && zi < c->p->nzones; zi++)
                if (c->p->zones[zi]->trusted)
                        e = trusted_zone(c, ch, c->p->zones[zi]);
        if (e >= 0 && o->ipv6 && k == PST_INPUT) {
                /* neighbour discovery: without it IPv6 stops working */
                static const uint8_t nd[] = { 134, 135, 136 };

                e = add_u8_set_rule(c, ch, PST_F_ICMP6_TYPE, nd, ELEMENTSOF(nd));
        }
        if (e >= 0)
                e = icmp_rules(c, ch, k == PST_INPUT ? o->icmp : o->forward_icmp);
        if (e >= 0)
                e = iifname_vmap(c, ch, c->zone_chain[k], PST_V_JUMP);
        for (size_t i = 0; e >= 0 && i < c->npending[k]; i++)
                e = pst_rule_add(c->rs, ch, &c->pending[k][i]);
        if (e >= 0 && o->log_drops)
                e = log_drops(c, k);
        return e;
}

/* ---- endpoint-mapper pinholes (rpc.h) ---- */

static void rpc_comment(const struct pst_rpc *rpc, char ret[PST_COMMENT_MAX]) {
        size_t n = (size_t) snprintf(ret, PST_COMMENT_MAX, "rpc pinholes:%s", rpc->nifs ? "" : " any interface");

        for (size_t i = 0; i < rpc->nifs && n < PST_COMMENT_MAX; i++) {
                char u[PST_DCERPC_UUID_STRLEN];

                n += (size_t) snprintf(ret + n, PST_COMMENT_MAX - n, " %s",
                                       rpc->if_names[i] ? rpc->if_names[i] : pst_dcerpc_uuid_format(rpc->ifs[i], u));
        }
}

/*
 * The in-kernel reading of an ept_map reply (PST_RPC_MECH_KERNEL): the
 * common layout, one tower of 5 floors in NDR20, little-endian, one
 * fragment of 152 bytes, as Samba and Windows send it (offsets from the
 * first payload byte; README "Endpoint-mapper pinholes"):
 *   0   05 00 02 03 10 00 00 00 98 00 00 00  v5.0 response, first+last frag,
 *                                            little-endian, frag_length 152, no auth
 *   44  num_towers 1, max_count 1, offset 0, actual_count 1
 *   64  tower length 75 (twice), 5 floors, floor 1: lhs length 19, protocol 0x0d
 *   77  floor 1's interface UUID (wire order: the first three fields little-endian)
 *   131 floor 4: 01 00 07 02 00 (TCP, a 2-byte port)
 *   136 the port, big-endian (what the rule adds)
 *   138 floor 5: 01 00 09 04 00 (IP)
 *   148 status 0
 * A TCP header of 20 bytes (no options: Windows) or 32 (timestamps: Linux)
 * moves everything: one rule per header length.  Anything else (other
 * header lengths, several towers, NDR64, fragments, big-endian) fails a
 * check and falls through to the NFLOG copy after these rules.
 */
#define RPC_KERNEL_PORT 136
static const uint8_t rpc_kernel_doffs[] = { 5, 8 };

static void rpc_raw(struct pst_rule *r, unsigned hlen, uint16_t at, const void *v, uint8_t len) {
        struct pst_raw *w = &r->raw[r->nraw++];

        w->off = (uint16_t) (hlen + at);
        w->len = len;
        memcpy(w->value, v, len);
}

/* uuid: RFC 4122 order, or NULL (any interface) */
static void rpc_kernel_rule(struct pst_rule *r, uint8_t doff, const uint8_t *uuid) {
        static const uint8_t hdr[12] = { 5, 0, 2, 3, 0x10, 0, 0, 0, 152, 0, 0, 0 },
                             towers[16] = { 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 },
                             tower[13] = { 75, 0, 0, 0, 75, 0, 0, 0, 5, 0, 19, 0, 0x0d },
                             floor4[5] = { 1, 0, 7, 2, 0 }, floor5[5] = { 1, 0, 9, 4, 0 }, status[4] = {};
        unsigned hlen = doff * 4u;
        uint8_t le[16];

        r->nraw = 0;
        r->raw[0] = (struct pst_raw) { .off = 12, .len = 1, .masked = true, .value = { (uint8_t) (doff << 4) },
                                       .mask = { 0xf0 } };
        r->nraw = 1;
        rpc_raw(r, hlen, 0, hdr, sizeof(hdr));
        rpc_raw(r, hlen, 44, towers, sizeof(towers));
        rpc_raw(r, hlen, 64, tower, sizeof(tower));
        if (uuid) {
                const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

                for (unsigned i = 0; i < 16; i++)
                        le[i] = uuid[order[i]];
                rpc_raw(r, hlen, 77, le, 16);
        }
        rpc_raw(r, hlen, 131, floor4, sizeof(floor4));
        rpc_raw(r, hlen, 138, floor5, sizeof(floor5));
        rpc_raw(r, hlen, 148, status, sizeof(status));
        r->update_off = (uint16_t) (hlen + RPC_KERNEL_PORT);
}

/* Before the copy r of one from/to pair, in chain: the kernel's own rules
 * for it, accepting what they read (a reply is accepted anyway, established;
 * in output, by the chain's policy). */
static int rpc_kernel_rules(struct compiler *c, const struct pst_prule *pr, const struct pst_rule *copy,
                            const char *set, uint32_t chain, size_t *at) {
        int si = pst_set_find(c->rs, set);
        size_t nifs = pr->rpc->nifs ? pr->rpc->nifs : 1;

        if (si < 0)
                return si;
        for (size_t d = 0; d < ELEMENTSOF(rpc_kernel_doffs); d++)
                for (size_t u = 0; u < nifs; u++) {
                        struct pst_rule r = *copy;
                        int k;

                        r.log_nflog = false;
                        r.log_group = 0;
                        r.log_prefix[0] = 0;
                        r.update_set = (uint32_t) si + 1;
                        r.verdict.kind = PST_V_ACCEPT;
                        rpc_kernel_rule(&r, rpc_kernel_doffs[d], pr->rpc->nifs ? pr->rpc->ifs[u] : NULL);
                        k = pst_rule_insert(c->rs, chain, (*at)++, &r);
                        if (k < 0)
                                return k;
                }
        return 0;
}

/*
 * The endpoint mapper's replies (tcp sport 135 from a `to` address to a
 * `from` client) to the reply reader (rpc-reader.h), at *at in chain.  For
 * a forward rule, first in the forward chain: replies are established and
 * the ct state vmap would accept them before any later rule.  For an input
 * rule the endpoint mapper is the host's own, whose replies leave on the
 * output hook: the rules go to the output chain (rpc_logs), the same rules
 * with the same roles — `to` is the host (an absent `to` is PST_EP_ANY and
 * matches nothing, as in the input accept rule: on output every source is
 * one of the host's addresses), `from` the client, and a source zone's
 * interfaces, matched by the dispatch on input, are the reply's oifname.
 *
 * NFLOG (queue 0): a copy, prefix = the set it fills; the reply goes on
 * through the chain.  NFQUEUE (options.rpc_mechanism "queue"): the reply
 * itself waits in queue QUEUE, one queue per set (the reader knows the set
 * by the queue number, as by the prefix), until the reader has added its
 * pinhole and accepts it; `bypass`: with no reader bound the kernel
 * accepts it, so the endpoint mapper still answers but its port stays
 * closed.  An accepted packet leaves the hook, so the rule also asks for
 * `ct direction reply`: only replies of a connection to tcp/135 that the
 * rules let through (a confirmed conntrack entry) skip the ct state vmap —
 * a new connection from port 135 of a `to` host is not queued and meets
 * the rules as any other.
 */
static int rpc_reply_rule(struct compiler *c, const struct pst_prule *pr, int fam, const char *set, uint16_t queue,
                          uint32_t chain, size_t *at) {
        uint8_t port[4], reply = 1; /* IP_CT_DIR_REPLY */

        key_port(PST_DCERPC_EPMAP_PORT, port);
        for (size_t i = 0; i < pr->nfrom; i++)
                for (size_t j = 0; j < pr->nto; j++) {
                        struct pst_rule r = { .origin = origin_of(c, &pr->rpc->loc) };
                        int k;

                        if (!(ep_families(&pr->from[i]) & ep_families(&pr->to[j]) & (fam == FAM_4 ? 1u : 2u)))
                                continue;
                        if (queue) {
                                r.verdict = (struct pst_verdict) { PST_V_QUEUE, queue };
                                pst_match_eq(&r.match[r.nmatch++], PST_F_CT_DIRECTION, &reply, false);
                        } else {
                                r.log_nflog = true; /* snaplen 0: the whole PDU */
                                r.log_group = PST_RPC_NFLOG_GROUP;
                                snprintf(r.log_prefix, sizeof(r.log_prefix), "%s", set);
                        }
                        k = match_endpoint(c, &r, &pr->to[j], false, fam);
                        if (k >= 0)
                                k = match_endpoint(c, &r, &pr->from[i], true, fam);
                        if (k >= 0)
                                k = rule_push(&r, &(struct pst_match) {});
                        if (k < 0)
                                return k;
                        pst_match_eq(&r.match[r.nmatch - 1], PST_F_TCP_SPORT, port, false);
                        if (c->p->options.rpc_mech & PST_RPC_MECH_KERNEL)
                                k = rpc_kernel_rules(c, pr, &r, set, chain, at);
                        if (k >= 0)
                                k = pst_rule_insert(c->rs, chain, (*at)++, &r);
                        if (k < 0)
                                return k;
                }
        return 0;
}

/*
 * A set per family of client . server . port with the rule's timeout and
 * bound, filled at runtime from the endpoint mapper's replies (only with the
 * address the reply came from as the server), and the rule accepting what it
 * holds.  The set's origin is the rpc setting.
 */
static int rpc_pinholes(struct compiler *c, const struct pst_prule *pr, size_t index) {
        unsigned from = 0, to = 0, mask;
        int r = 0;

        for (size_t i = 0; i < pr->nfrom; i++)
                from |= ep_families(&pr->from[i]);
        for (size_t i = 0; i < pr->nto; i++)
                to |= ep_families(&pr->to[i]);
        mask = from & to & (c->p->options.ipv6 ? 3u : 1u);
        for (int fam = FAM_4; r >= 0 && fam <= FAM_6; fam += FAM_6 - FAM_4) {
                enum pst_field fields[3] = { fam == FAM_4 ? PST_F_IP_SADDR : PST_F_IP6_SADDR,
                                             fam == FAM_4 ? PST_F_IP_DADDR : PST_F_IP6_DADDR, PST_F_TCP_DPORT };
                struct pst_rule rule = accept_rule(c, pr);
                char name[PST_NAME_MAX];
                struct pst_set *s;
                uint32_t idx;

                if (!(mask & (fam == FAM_4 ? 1u : 2u)))
                        continue;
                snprintf(name, sizeof(name), "rpc_%zu_v%d", index + 1, fam);
                r = pst_set_add(c->rs, name, PST_SET_TIMEOUT, fields, 3, &idx);
                if (r < 0)
                        break;
                s = &c->rs->sets[idx];
                s->timeout = pr->rpc->timeout;
                s->size = pr->rpc->max;
                s->origin = origin_of(c, &pr->rpc->loc);
                rpc_comment(pr->rpc, s->comment);
                rule.nmatch = 1;
                rule.match[0] = (struct pst_match) { .op = PST_M_SET, .nfields = 3, .set = idx };
                memcpy(rule.match[0].fields, fields, sizeof(fields));
                r = emit(c, pr->chain, c->base[pr->chain], &rule);
        }
        if (r < 0)
                return pst_error(c->diag, r, pr->loc.file, pr->loc.line, "cannot compile rpc pinholes: %s",
                                 strerror(-r));
        return 0;
}

/*
 * After the base chains are built: the reply rules go first, forward
 * rules' into the forward chain, input rules' into the output chain, made
 * here for the first of them (no input rule with rpc, no output chain: the
 * host's own traffic is none of postern's business otherwise).  Its policy
 * is accept and it holds nothing but reply rules: copies and queues, whose
 * verdicts are the reply's own (a queued reply comes back accepted, or is
 * let through with `bypass`), and the kernel rules' accept — a firewall for
 * incoming traffic must never drop what the host sends.  With NFQUEUE, the
 * pinhole sets of both chains get queues PST_RPC_QUEUE_BASE,
 * PST_RPC_QUEUE_BASE + 1 ... in policy order (pst_set.queue says which);
 * one reader follows at most PST_RPC_READER_TARGETS sets, so a policy
 * with more is refused at the rule that would need the next queue rather
 * than leaving its replies to a queue nobody reads.
 */
static int rpc_logs(struct compiler *c) {
        bool queue = c->p->options.rpc_mech & PST_RPC_MECH_QUEUE;
        size_t at[2] = { 0, 0 }, nqueues = 0; /* forward, output */
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->p->nrules; i++) {
                const struct pst_prule *pr = &c->p->rules[i];

                for (int fam = FAM_4; pr->rpc && r >= 0 && fam <= FAM_6; fam += FAM_6 - FAM_4) {
                        char name[PST_NAME_MAX];
                        uint16_t q = 0;
                        int s;

                        snprintf(name, sizeof(name), "rpc_%zu_v%d", i + 1, fam);
                        s = pst_set_find(c->rs, name);
                        if (s < 0)
                                continue;
                        if (pr->chain == PST_INPUT && c->output == UINT32_MAX) {
                                r = pst_chain_add(c->rs, "output", PST_HOOK_OUTPUT, PST_V_ACCEPT, &c->output);
                                if (r < 0)
                                        break;
                        }
                        if (queue) {
                                if (nqueues == PST_RPC_READER_TARGETS)
                                        return pst_error(c->diag, -E2BIG, pr->rpc->loc.file, pr->rpc->loc.line,
                                                         "options.rpc_mechanism \"queue\": at most %d pinhole sets "
                                                         "(a set per rule with rpc and address family)",
                                                         PST_RPC_READER_TARGETS);
                                q = (uint16_t) (PST_RPC_QUEUE_BASE + nqueues++);
                                c->rs->sets[s].queue = q;
                        }
                        r = pr->chain == PST_INPUT ? rpc_reply_rule(c, pr, fam, name, q, c->output, &at[1])
                                                   : rpc_reply_rule(c, pr, fam, name, q, c->base[PST_FORWARD], &at[0]);
                }
                if (r < 0)
                        return pst_error(c->diag, r, pr->loc.file, pr->loc.line,
                                         "cannot compile rpc pinholes: %s", strerror(-r));
        }
        return 0;
}

/* ---- options.rematch ----
 *
 *   ct state vmap { invalid : drop, established : jump rematch, related : accept }
 *   chain rematch                      established packets
 *     ct mark and 0xffff0000 == STAMP accept accepted by this very policy (first:
 *                                        the common case, either direction)
 *     ct direction reply accept          replies: the original direction decides
 *     ct mark and 0xffff0000 == 0 accept     not stamped: not accepted by these rules
 *                                             (outgoing, or from before rematch was on)
 *     (return: an old stamp goes through the rules again, as if new)
 *   chain rematch_stamp                every accept of the policy jumps here
 *     ct mark set ct mark and 0x0000ffff or STAMP accept
 *     accept                             a packet without conntrack (neighbour
 *                                        discovery, notrack): `ct mark` breaks the
 *                                        rule above, the accept must still hold
 *
 * STAMP is a 16-bit digest of the ruleset (rematch_digest), so the compiler
 * stays deterministic and a reload that changes nothing keeps every flow's
 * stamp, and the delta of a changed policy is two rules, not every accept.
 * A different policy with the same digest (1 in 65535) does not rematch.
 */
static int rematch_chains(struct compiler *c) {
        uint32_t stamp_chain, zero = 0;
        uint8_t reply = 1; /* IP_CT_DIR_REPLY */
        struct pst_origin o = origin_of(c, &c->p->options.rematch_loc);
        struct pst_rule r = { .nmatch = 1, .verdict = { PST_V_ACCEPT, 0 }, .origin = o };
        int e;

        e = pst_chain_add(c->rs, "rematch", PST_HOOK_NONE, PST_V_NONE, &c->rematch);
        if (e >= 0)
                e = pst_chain_add(c->rs, "rematch_stamp", PST_HOOK_NONE, PST_V_NONE, &stamp_chain);
        pst_match_eq(&r.match[0], PST_F_CT_STAMP, &zero, false);
        if (e >= 0)
                e = pst_rule_add(c->rs, c->rematch, &r); /* gets the stamp */
        pst_match_eq(&r.match[0], PST_F_CT_DIRECTION, &reply, false);
        if (e >= 0)
                e = pst_rule_add(c->rs, c->rematch, &r);
        pst_match_eq(&r.match[0], PST_F_CT_STAMP, &zero, false);
        if (e >= 0)
                e = pst_rule_add(c->rs, c->rematch, &r);
        r = (struct pst_rule) { .verdict = { PST_V_ACCEPT, 0 }, .origin = o };
        for (int i = 0; e >= 0 && i < 2; i++) /* the first one gets the stamp */
                e = pst_rule_add(c->rs, stamp_chain, &r);
        return e;
}

static uint32_t fnv(uint32_t h, const void *data, size_t len) {
        const uint8_t *p = data;

        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

static uint32_t rematch_digest_rule(uint32_t h, const struct pst_rule *r) {
        h = fnv(h, &r->nmatch, 1);
        for (unsigned i = 0; i < r->nmatch; i++) {
                const struct pst_match *m = &r->match[i];
                uint32_t klen = pst_key_len(m->fields, m->nfields);
                uint32_t w[3] = { m->op, m->nfields, m->set };

                h = fnv(h, w, sizeof(w));
                for (unsigned j = 0; j < m->nfields; j++)
                        h = fnv(h, &(uint32_t) { m->fields[j] }, 4);
                if (m->op != PST_M_SET && m->op != PST_M_VMAP)
                        h = fnv(fnv(h, m->value, klen), m->op == PST_M_RANGE ? m->last : m->value, klen);
        }
        h = fnv(h, (uint32_t[]) { r->counter, r->limit_per_minute, r->verdict.kind, r->verdict.chain }, 16);
        return fnv(h, r->log_prefix, strnlen(r->log_prefix, sizeof(r->log_prefix)));
}

/* What the policy accepts: sets (but not the runtime elements of interface-address
 * sets) and rules, without comments and file:line (moving a line is no change). */
static uint32_t rematch_digest(const struct pst_ruleset *rs, uint32_t rematch) {
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < rs->nsets; i++) {
                const struct pst_set *s = &rs->sets[i];

                h = fnv(fnv(h, s->name, strlen(s->name) + 1), &s->flags, sizeof(s->flags));
                for (unsigned j = 0; j < s->nfields; j++)
                        h = fnv(h, &(uint32_t) { s->fields[j] }, 4);
                if (s->flags & PST_SET_DYNAMIC)
                        continue;
                h = fnv(fnv(h, &(uint64_t) { s->n }, 8), s->keys, s->n * 2 * s->klen);
                for (size_t j = 0; (s->flags & PST_SET_MAP) && j < s->n; j++)
                        h = fnv(h, (uint32_t[]) { s->data[j].kind, s->data[j].chain }, 8);
        }
        for (size_t i = 0; i < rs->nchains; i++) {
                const struct pst_chain *ch = &rs->chains[i];

                if (i == rematch || i == rematch + 1)
                        continue;
                h = fnv(fnv(h, ch->name, strlen(ch->name) + 1), (uint32_t[]) { ch->hook, ch->policy }, 8);
                for (size_t j = 0; j < ch->n; j++)
                        h = rematch_digest_rule(h, &ch->rules[j]);
        }
        return h;
}

/* Stamp the two rematch chains and send every accepting rule through the stamp chain. */
static void rematch_stamp(struct pst_ruleset *rs, uint32_t rematch) {
        uint32_t h = rematch_digest(rs, rematch);
        uint32_t stamp = ((h >> 16) ^ (h & 0xffffu)) << PST_REMATCH_SHIFT;

        if (stamp == 0)
                stamp = 1u << PST_REMATCH_SHIFT; /* 0 is "not stamped" */
        memcpy(rs->chains[rematch].rules[0].match[0].value, &stamp, 4); /* host byte order */
        rs->chains[rematch + 1].rules[0].ct_stamp = stamp;
        for (size_t i = 0; i < rs->nchains; i++) {
                /* The output chain's accepts (the kernel's reading of the host's
                 * own replies) judge nothing: a stamp there would vouch for a
                 * connection to tcp/135 that input has not checked again. */
                if (i == rematch || i == rematch + 1 || rs->chains[i].hook == PST_HOOK_OUTPUT)
                        continue;
                for (size_t j = 0; j < rs->chains[i].n; j++) {
                        struct pst_verdict *v = &rs->chains[i].rules[j].verdict;

                        if (v->kind == PST_V_ACCEPT)
                                *v = (struct pst_verdict) { PST_V_JUMP, rematch + 1 };
                }
        }
}

/* Every policy rule, each error reported (the first one returned). */
static int compile_rules(struct compiler *c) {
        int r = 0;

        for (size_t i = 0; i < c->p->nrules; i++) {
                const struct pst_prule *pr = &c->p->rules[i];
                size_t generated = 0;
                int k = 0;

                for (size_t a = 0; k >= 0 && a < pr->nfrom; a++)
                        for (size_t b = 0; k >= 0 && b < pr->nto; b++)
                                k = compile_pair(c, pr, &pr->from[a], &pr->to[b], &generated);
                if (k >= 0 && pr->rpc)
                        k = rpc_pinholes(c, pr, i);
                if (k >= 0 && generated == 0)
                        k = pst_error(c->diag, -EINVAL, pr->loc.file, pr->loc.line,
                                      "this rule can never match: none of its services applies to the address "
                                      "families of its 'from' and 'to'");
                if (k < 0 && r >= 0)
                        r = k;
        }
        return r;
}

int pst_compile(const struct pst_policy *p, const struct pst_ifaddrs *ifa, struct pst_diag *diag,
                struct pst_ruleset **ret) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        struct compiler c = { .p = p, .ifa = ifa, .diag = diag, .output = UINT32_MAX };
        int r;

        r = pst_ruleset_new(&rs);
        if (r < 0)
                return r;
        c.rs = rs;
        for (int k = 0; k < 2; k++) {
                c.zone_chain[k] = malloc(MAX(p->nzones, 1) * sizeof(uint32_t));
                if (!c.zone_chain[k]) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0; i < p->nzones; i++)
                        c.zone_chain[k][i] = ZONE_CHAIN_NONE;
        }
        r = pst_chain_add(rs, "input", PST_HOOK_INPUT, PST_V_DROP, &c.base[PST_INPUT]);
        /* options.forward = "unmanaged": no forward chain (the loader refused forward rules) */
        c.base[PST_FORWARD] = UINT32_MAX;
        if (r >= 0 && !p->options.forward_unmanaged)
                r = pst_chain_add(rs, "forward", PST_HOOK_FORWARD, PST_V_DROP, &c.base[PST_FORWARD]);

        for (size_t i = 0; r >= 0 && i < p->nzones; i++)
                r = named_addr_sets(&c, "zone", p->zones[i]->name, &p->zones[i]->nets, NULL, &p->zones[i]->loc);
        for (size_t i = 0; r >= 0 && i < p->nlists; i++)
                r = named_addr_sets(&c, "list", p->lists[i]->name, &p->lists[i]->addrs, p->lists[i]->ranges,
                                    &p->lists[i]->loc);
        if (r >= 0)
                r = ifaddr_sets(&c);
        if (r < 0)
                goto out;

        count_mergeable(&c);
        r = compile_rules(&c);
        for (int k = 0; k < 2; k++) {
                struct bucket *b = c.buckets[k][0];

                for (int i = 0; r >= 0 && i < 4; i++)
                        if (b[i].emitted)
                                r = pst_set_sort(&rs->sets[b[i].set], NULL);
        }
        if (r >= 0)
                r = compile_nat(&c);
        if (r < 0)
                goto out;
        r = base_chain(&c, PST_INPUT);
        if (r >= 0 && !p->options.forward_unmanaged)
                r = base_chain(&c, PST_FORWARD);
        if (r >= 0)
                r = rpc_logs(&c);
        /* after the reply copies, which have no verdict to stamp */
        if (r >= 0 && p->options.rematch)
                rematch_stamp(rs, c.rematch);
        if (r >= 0 && pst_diag_has_errors(diag))
                r = -EINVAL;
        if (r >= 0)
                *ret = TAKE_PTR(rs);
out:
        for (int k = 0; k < 2; k++) {
                free(c.zone_chain[k]);
                free(c.pending[k]);
        }
        free(c.log_chain);
        if (r < 0 && !pst_diag_has_errors(diag))
                pst_error(diag, r, p->path, 0, "cannot compile: %s", strerror(-r));
        return r < 0 ? r : 0;
}

/* ---- NAT: policy nat = ( ... ) (lib/policy-nat.c) ----
 *
 *   chain prerouting (type nat, priority dstnat)
 *     meta nfproto ipv4 iifname "ppp0" ip daddr @ifaddr_ppp0_v4 tcp dport { 25, 443 } dnat ip to 198.18.2.10
 *     ... tcp dport 8443 dnat ip to 198.18.2.10:443                 remapped ports: one rule each
 *   chain postrouting (type nat, priority srcnat)
 *     meta nfproto ipv4 oifname "ppp0" ip saddr @zone_lan_v4 masquerade
 *   chain forward: the port forward's implied accept, after the zone dispatch
 *     ct status dnat ip daddr 198.18.2.10 tcp dport { 25, 443 } accept
 * The public address is the interface-address set, so a reconnect with a
 * new address rewrites that set only.
 */

static int nat_ifaddr_sets(struct compiler *c) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->p->nnat; i++) {
                const struct pst_nat_rule *n = &c->p->nat[i];
                struct pst_endpoint e = { .kind = PST_EP_IFADDR, .loc = n->loc };

                if (n->kind != PST_PNAT_FORWARD)
                        continue;
                strcpy(e.ifname, n->on);
                r = ifaddr_set_add(c, &e);
        }
        return r;
}

static int nat_chain(struct compiler *c, enum pst_hook hook, uint32_t *ret) {
        const char *name = hook == PST_HOOK_PREROUTING ? "prerouting" : "postrouting";
        int k = pst_chain_find(c->rs, name);

        if (k >= 0) {
                *ret = (uint32_t) k;
                return 0;
        }
        k = pst_chain_add(c->rs, name, hook, PST_V_ACCEPT, ret);
        if (k >= 0)
                c->rs->chains[*ret].priority = hook == PST_HOOK_PREROUTING ? PST_PRIO_DSTNAT : PST_PRIO_SRCNAT;
        return k;
}

/* A NAT or implied-accept rule: the comment, the origin. */
static struct pst_rule nat_rule(struct compiler *c, const struct pst_nat_rule *n) {
        struct pst_rule r = { .counter = true, .origin = origin_of(c, &n->loc) };

        snprintf(r.comment, sizeof(r.comment), "%s", n->comment);
        return r;
}

/* A rule whose matches imply no family gets `meta nfproto` first (nft
 * lists it only then: an address match implies it). */
static int nat_family(struct pst_rule *r, int fam) {
        uint8_t nfproto = fam == FAM_4 ? NFPROTO_IPV4 : NFPROTO_IPV6;

        for (unsigned i = 0; i < r->nmatch; i++)
                if (pst_field_info(r->match[i].fields[0])->nfproto)
                        return 0;
        if (r->nmatch >= PST_MATCH_MAX)
                return -E2BIG;
        memmove(&r->match[1], &r->match[0], r->nmatch * sizeof(r->match[0]));
        r->nmatch++;
        pst_match_eq(&r->match[0], PST_F_NFPROTO, &nfproto, false);
        return 0;
}

/* Who is translated: a source zone's interfaces and networks, or addresses. */
static int nat_match_from(struct compiler *c, struct pst_rule *r, const struct pst_endpoint *e, int fam) {
        int k = 0;

        if (e->kind == PST_EP_ZONE && e->zone->nifs)
                k = match_ifnames(c, r, PST_F_IIFNAME, e->zone);
        return k < 0 ? k : match_endpoint(c, r, e, false, fam);
}

static int nat_source(struct compiler *c, const struct pst_nat_rule *n, uint32_t chain) {
        for (int fam = FAM_4; fam <= FAM_6; fam += 2) {
                bool want = n->kind == PST_PNAT_SNAT ? (n->to_addr.family == AF_INET) == (fam == FAM_4)
                                                     : fam == FAM_4 || n->ipv6;
                struct pst_rule r;
                int k;

                if (!want || !(ep_families(&n->from) & (fam == FAM_4 ? 1u : 2u)))
                        continue;
                r = nat_rule(c, n);
                k = match_ifnames(c, &r, PST_F_OIFNAME, n->out);
                if (k >= 0)
                        k = nat_match_from(c, &r, &n->from, fam);
                if (k >= 0)
                        k = nat_family(&r, fam);
                if (k < 0)
                        return k;
                r.nat = (struct pst_nat) { .kind = n->kind == PST_PNAT_MASQ ? PST_NAT_MASQ : PST_NAT_SNAT,
                                           .family = n->to_addr.family };
                memcpy(r.nat.addr, n->to_addr.a, 16);
                k = pst_rule_add(c->rs, chain, &r);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* The ports of proto in a set or a single match: the outside ones not
 * remapped (inside = false), or every inside one (inside = true). */
static int nat_match_ports(struct compiler *c, struct pst_rule *r, const struct pst_nat_rule *n, uint8_t proto,
                           bool inside) {
        enum pst_field f = proto == IPPROTO_TCP ? PST_F_TCP_DPORT : PST_F_UDP_DPORT;
        struct pst_match m;
        uint32_t set;
        int k;

        k = new_anon_set(c, f, true, &set);
        for (size_t i = 0; k >= 0 && i < n->nports; i++) {
                const struct pst_nat_port *pt = &n->ports[i];
                uint8_t first[4], last[4];

                if (pt->proto != proto || (pt->to && !inside))
                        continue;
                key_port(pt->to ? pt->to : pt->first, first);
                key_port(pt->to ? pt->to : pt->last, last);
                k = pst_set_add_elem(&c->rs->sets[set], first, last, NULL);
        }
        if (k >= 0)
                k = pst_set_normalize(&c->rs->sets[set]);
        if (k < 0)
                return k;
        if (c->rs->sets[set].n == 0) {
                pst_set_drop_last(c->rs);
                return 0; /* nothing of this protocol */
        }
        if (c->rs->sets[set].n == 1) {
                struct pst_set *s = &c->rs->sets[set];

                pst_match_range(&m, f, pst_set_first(s, 0), pst_set_last(s, 0));
                pst_set_drop_last(c->rs);
        } else
                pst_match_set(&m, f, set);
        return rule_push(r, &m) < 0 ? -E2BIG : 1;
}

/* iifname ON ip daddr @ifaddr_ON_vF [from]: the head of every dnat rule */
static int nat_dnat_head(struct compiler *c, struct pst_rule *r, const struct pst_nat_rule *n, int fam) {
        uint8_t ifkey[IFNAMSIZ];
        struct pst_match m;
        int k;

        *r = nat_rule(c, n);
        key_ifname(n->on, false, ifkey);
        pst_match_eq(&m, PST_F_IIFNAME, ifkey, false);
        k = rule_push(r, &m);
        if (k >= 0)
                k = match_named(c, r, fam == FAM_4 ? PST_F_IP_DADDR : PST_F_IP6_DADDR, "ifaddr", n->on, fam);
        return k < 0 ? k : nat_match_from(c, r, &n->from, fam);
}

static int nat_dnat(struct compiler *c, const struct pst_nat_rule *n, const struct pst_addr *to, int fam,
                    uint32_t chain) {
        static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
        struct pst_rule r;
        int k;

        for (size_t p = 0; p < ELEMENTSOF(protos); p++) {
                k = nat_dnat_head(c, &r, n, fam);
                if (k >= 0)
                        k = nat_match_ports(c, &r, n, protos[p], false);
                if (k < 0)
                        return k;
                r.nat = (struct pst_nat) { .kind = PST_NAT_DNAT, .family = to->family };
                memcpy(r.nat.addr, to->a, 16);
                if (k > 0 && (k = pst_rule_add(c->rs, chain, &r)) < 0)
                        return k;
                for (size_t i = 0; i < n->nports; i++) {
                        const struct pst_nat_port *pt = &n->ports[i];
                        enum pst_field f = pt->proto == IPPROTO_TCP ? PST_F_TCP_DPORT : PST_F_UDP_DPORT;
                        uint8_t key[4];
                        struct pst_match m;

                        if (pt->proto != protos[p] || !pt->to)
                                continue;
                        k = nat_dnat_head(c, &r, n, fam);
                        key_port(pt->first, key);
                        pst_match_eq(&m, f, key, false);
                        if (k >= 0)
                                k = rule_push(&r, &m);
                        r.nat = (struct pst_nat) { .kind = PST_NAT_DNAT, .family = to->family, .port = pt->to };
                        memcpy(r.nat.addr, to->a, 16);
                        if (k >= 0)
                                k = pst_rule_add(c->rs, chain, &r);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

/* The implied forward accept: what was translated, to the inside address and ports. */
static int nat_forward_accept(struct compiler *c, const struct pst_nat_rule *n, const struct pst_addr *to, int fam) {
        static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
        uint32_t dnat = IPS_DST_NAT; /* host byte order, as ct status is loaded */

        for (size_t p = 0; p < ELEMENTSOF(protos); p++) {
                struct pst_rule r = nat_rule(c, n);
                struct pst_match m;
                int k;

                r.verdict = (struct pst_verdict) { PST_V_ACCEPT, 0 };
                pst_match_eq(&m, PST_F_CT_STATUS, &dnat, false);
                k = rule_push(&r, &m);
                if (k >= 0)
                        k = match_addrs(c, &r, true, fam, to, 1);
                if (k >= 0)
                        k = nat_match_from(c, &r, &n->from, fam);
                if (k >= 0)
                        k = nat_match_ports(c, &r, n, protos[p], true);
                if (k > 0)
                        k = emit(c, PST_FORWARD, c->base[PST_FORWARD], &r);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* An input rule to "(IFNAME)" on a port a forward on IFNAME translates
 * never sees it: prerouting sent the packets elsewhere.  Said, not refused. */
static void nat_shadowed_input(struct compiler *c, const struct pst_nat_rule *n) {
        for (size_t i = 0; i < c->p->nrules; i++) {
                const struct pst_prule *pr = &c->p->rules[i];
                bool to_on = false;

                for (size_t j = 0; pr->chain == PST_INPUT && j < pr->nto; j++)
                        to_on |= pr->to[j].kind == PST_EP_IFADDR && streq(pr->to[j].ifname, n->on);
                for (size_t s = 0; to_on && s < pr->nsvc; s++)
                        for (size_t pi = 0; pi < n->nports; pi++) {
                                const struct pst_nat_port *pt = &n->ports[pi];
                                bool tcp = pt->proto == IPPROTO_TCP;
                                const struct pst_portrange *v = tcp ? pr->svc[s]->tcp : pr->svc[s]->udp;
                                unsigned nv = tcp ? pr->svc[s]->ntcp : pr->svc[s]->nudp;

                                for (unsigned q = 0; q < nv; q++)
                                        if (v[q].first <= pt->last && pt->first <= v[q].last) {
                                                pst_warning(c->diag, pr->loc.file, pr->loc.line,
                                                            "%s port %u to (%s) is forwarded by the nat rule at "
                                                            "%s:%u; this rule never sees it",
                                                            tcp ? "tcp" : "udp", MAX(v[q].first, pt->first), n->on,
                                                            n->loc.file, n->loc.line);
                                                return;
                                        }
                        }
        }
}

static int compile_nat(struct compiler *c) {
        int k = 0;

        for (size_t i = 0; k >= 0 && i < c->p->nnat; i++) {
                const struct pst_nat_rule *n = &c->p->nat[i];
                size_t before = pst_ruleset_nrules(c->rs) + c->npending[PST_FORWARD];
                uint32_t chain;

                k = nat_chain(c, n->kind == PST_PNAT_FORWARD ? PST_HOOK_PREROUTING : PST_HOOK_POSTROUTING, &chain);
                if (k >= 0 && n->kind != PST_PNAT_FORWARD)
                        k = nat_source(c, n, chain);
                for (int fam = FAM_4; k >= 0 && n->kind == PST_PNAT_FORWARD && fam <= FAM_6; fam += 2) {
                        const struct pst_addr *to = fam == FAM_4 ? &n->to_addr : &n->to_addr6;

                        if (!to->family || (fam == FAM_6 && !n->ipv6) ||
                            !(ep_families(&n->from) & (fam == FAM_4 ? 1u : 2u)))
                                continue;
                        k = nat_dnat(c, n, to, fam, chain);
                        if (k >= 0)
                                k = nat_forward_accept(c, n, to, fam);
                }
                if (k >= 0)
                        nat_shadowed_input(c, n);
                if (k >= 0 && pst_ruleset_nrules(c->rs) + c->npending[PST_FORWARD] == before)
                        k = pst_error(c->diag, -EINVAL, n->loc.file, n->loc.line,
                                      "this nat rule can never match: its 'from' has no address of the family it "
                                      "translates (IPv4 unless ipv6 = true)");
        }
        return k;
}

/* ---- interface addresses ---- */

int pst_ruleset_update_ifaddrs(struct pst_ruleset *rs, const struct pst_ifaddrs *ifa, size_t max,
                               uint32_t *ret_changed) {
        int changed = 0;

        for (size_t i = 0; i < rs->nsets; i++) {
                struct pst_set *s = &rs->sets[i];
                uint8_t family = s->fields[0] == PST_F_IP_DADDR ? AF_INET : AF_INET6;
                _cleanup_free_ uint8_t *old = NULL;
                size_t oldn = s->n;
                int r;

                if (!(s->flags & PST_SET_DYNAMIC))
                        continue;
                old = oldn ? malloc(oldn * 2 * s->klen) : NULL;
                if (oldn && !old)
                        return -ENOMEM;
                if (old)
                        memcpy(old, s->keys, oldn * 2 * s->klen);
                pst_set_clear(s);
                for (size_t j = 0; ifa && j < ifa->n; j++) {
                        if (!streq(ifa->v[j].ifname, s->ifname) || ifa->v[j].addr.family != family)
                                continue;
                        if (ifa->v[j].linklocal && !(s->flags & PST_SET_LINKLOCAL))
                                continue; /* "(ppp0)": the addresses the Internet reaches */
                        r = pst_set_add_elem(s, ifa->v[j].addr.a, NULL, NULL);
                        if (r < 0)
                                return r;
                }
                r = pst_set_normalize(s);
                if (r < 0)
                        return r;
                if (s->n != oldn || (oldn && memcmp(old, s->keys, oldn * 2 * s->klen))) {
                        if (ret_changed && (size_t) changed < max)
                                ret_changed[changed] = (uint32_t) i;
                        changed++;
                }
        }
        return changed;
}
