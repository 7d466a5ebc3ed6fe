/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "eval.h"
#include "service.h"

/* NFT_JUMP_STACK_SIZE: the kernel refuses a ruleset that nests deeper */
#define JUMP_STACK 16
/* below this many elements a set is scanned, not bisected */
#define SCAN_MAX 8

/*
 * The value a match loads for field f, padded to 4-byte words as in a
 * register.  False when the kernel's load would break the rule: a field of
 * the other family or protocol (the implied dependency fails first), or
 * oifname in input, where the packet has no output device yet
 * (nft_meta_get_eval() breaks on a NULL nft_out()).
 */
static bool load(const struct pst_packet *pkt, enum pst_hook hook, enum pst_field f, uint8_t v[PST_KEY_MAX]) {
        const struct pst_field_info *fi = pst_field_info(f);
        uint8_t nfproto = pkt->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
        unsigned alen = pkt->family == AF_INET ? 4 : 16;
        uint32_t ct = pkt->ct_state ? pkt->ct_state : PST_CT_NEW;

        if (!fi || (fi->nfproto && fi->nfproto != nfproto) || (fi->l4proto && fi->l4proto != pkt->l4proto))
                return false;
        memset(v, 0, 16);
        switch (f) {
        case PST_F_IIFNAME:
                strncpy((char *) v, pkt->iifname, IFNAMSIZ);
                return true;
        case PST_F_OIFNAME:
                if (hook != PST_HOOK_FORWARD || !pkt->oifname[0])
                        return false;
                strncpy((char *) v, pkt->oifname, IFNAMSIZ);
                return true;
        case PST_F_NFPROTO:
                v[0] = nfproto;
                return true;
        case PST_F_L4PROTO:
                v[0] = pkt->l4proto;
                return true;
        case PST_F_IP_SADDR:
        case PST_F_IP6_SADDR:
                memcpy(v, pkt->saddr, alen);
                return true;
        case PST_F_IP_DADDR:
        case PST_F_IP6_DADDR:
                memcpy(v, pkt->daddr, alen);
                return true;
        case PST_F_TCP_DPORT:
        case PST_F_UDP_DPORT:
                v[0] = (uint8_t) (pkt->dport >> 8);
                v[1] = (uint8_t) pkt->dport;
                return true;
        case PST_F_TCP_SPORT:
                v[0] = (uint8_t) (pkt->sport >> 8);
                v[1] = (uint8_t) pkt->sport;
                return true;
        case PST_F_ICMP_TYPE:
        case PST_F_ICMP6_TYPE:
                v[0] = pkt->icmp_type;
                return true;
        case PST_F_CT_STATE:
                memcpy(v, &ct, 4); /* host byte order, as the ct expression stores it */
                return true;
        case PST_F_CT_DIRECTION:
        case PST_F_CT_STAMP:
                /* The evaluator's packets carry no ct mark: original direction, no
                 * stamp (options.rematch treats an unstamped flow as not its own). */
                memset(v, 0, 4);
                return true;
        case PST_F_CT_STATUS: /* the packets we evaluate were not translated: `ct status dnat` is false */
        case _PST_F_MAX:
                break;
        }
        return false;
}

/* The concatenated key of a match; false when a load breaks the rule. */
static bool load_key(const struct pst_packet *pkt, enum pst_hook hook, const struct pst_match *m,
                     uint8_t key[PST_KEY_MAX]) {
        unsigned off = 0;

        memset(key, 0, PST_KEY_MAX);
        for (unsigned i = 0; i < m->nfields; i++) {
                const struct pst_field_info *fi = pst_field_info(m->fields[i]);
                uint8_t v[PST_KEY_MAX];

                if (!fi || off + fi->len > PST_KEY_MAX || !load(pkt, hook, m->fields[i], v))
                        return false;
                memcpy(key + off, v, fi->len);
                off += (fi->len + 3u) & ~3u;
        }
        return true;
}

/* Does key lie in element i, field by field ([first, last] each)? */
static int elem_cmp(const struct pst_set *s, size_t i, const uint8_t *key) {
        unsigned off = 0;

        for (unsigned k = 0; k < s->nfields; k++) {
                unsigned len = pst_field_info(s->fields[k])->len;

                if (memcmp(key + off, pst_set_first(s, i) + off, len) < 0)
                        return -1; /* below */
                if (memcmp(key + off, pst_set_last(s, i) + off, len) > 0)
                        return 1;  /* above */
                off += (len + 3u) & ~3u;
        }
        return 0;
}

/* The element key is in, or -1. */
static ssize_t set_lookup(const struct pst_set *s, const uint8_t *key) {
        size_t lo = 0, hi = s->n;

        if (s->nfields > 1 || s->n <= SCAN_MAX) {
                for (size_t i = 0; i < s->n; i++)
                        if (elem_cmp(s, i, key) == 0)
                                return (ssize_t) i;
                return -1;
        }
        /* sorted, disjoint ranges of one field: bisect */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = elem_cmp(s, mid, key);

                if (c == 0)
                        return (ssize_t) mid;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -1;
}

/*
 * Does the match hold?  For a verdict map, *ret_v is the element's verdict
 * (a map without the key breaks the rule, as nft_lookup does).
 */
static int match_eval(const struct pst_ruleset *rs, enum pst_hook hook, const struct pst_packet *pkt,
                      const struct pst_match *m, struct pst_verdict *ret_v) {
        uint8_t key[PST_KEY_MAX];
        const struct pst_set *s;
        unsigned len;
        ssize_t i;

        if (m->nfields == 0 || m->nfields > PST_CONCAT_MAX)
                return -EINVAL;
        if (!load_key(pkt, hook, m, key))
                return false;
        len = pst_field_info(m->fields[0])->len;
        switch (m->op) {
        case PST_M_EQ:
                return memcmp(key, m->value, len) == 0;
        case PST_M_NEQ:
                return memcmp(key, m->value, len) != 0;
        case PST_M_RANGE:
                return memcmp(key, m->value, len) >= 0 && memcmp(key, m->last, len) <= 0;
        case PST_M_SET:
        case PST_M_VMAP:
                if (m->set >= rs->nsets)
                        return -EINVAL;
                s = &rs->sets[m->set];
                if (s->nfields != m->nfields || !(s->flags & PST_SET_MAP) != (m->op == PST_M_SET))
                        return -EINVAL;
                i = set_lookup(s, key);
                if (i < 0)
                        return false;
                if (m->op == PST_M_VMAP)
                        *ret_v = s->data[i];
                return true;
        }
        return -EINVAL;
}

/* The rule's verdict, or PST_V_NONE when it does not match (or only logs). */
static int rule_eval(const struct pst_ruleset *rs, enum pst_hook hook, const struct pst_packet *pkt,
                     const struct pst_rule *r, struct pst_verdict *ret) {
        struct pst_verdict v = r->verdict;

        if (r->nmatch > PST_MATCH_MAX)
                return -EINVAL;
        /* raw payload checks (the endpoint mapper's replies read in the
         * kernel) look at what a pst_packet does not carry: no match, the
         * packet goes on to the rules after, as a reply of another shape would */
        if (r->nraw) {
                *ret = (struct pst_verdict) { PST_V_NONE, 0 };
                return 0;
        }
        for (unsigned i = 0; i < r->nmatch; i++) {
                int k;

                if (r->match[i].op == PST_M_VMAP && (i + 1 != r->nmatch || r->verdict.kind != PST_V_NONE))
                        return -EINVAL;
                k = match_eval(rs, hook, pkt, &r->match[i], &v);
                if (k < 0)
                        return k;
                if (!k) {
                        *ret = (struct pst_verdict) { PST_V_NONE, 0 };
                        return 0;
                }
        }
        if ((v.kind == PST_V_JUMP || v.kind == PST_V_GOTO) && v.chain >= rs->nchains)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int base_chain(const struct pst_ruleset *rs, enum pst_hook hook) {
        for (size_t i = 0; i < rs->nchains; i++)
                if (rs->chains[i].hook == hook)
                        return (int) i;
        return -1;
}

int pst_eval(const struct pst_ruleset *rs, enum pst_hook hook, const struct pst_packet *pkt,
             struct pst_eval_result *ret) {
        struct {
                uint32_t chain, rule;
        } stack[JUMP_STACK];
        unsigned depth = 0;
        uint32_t chain, rule = 0;
        int base;

        if (!rs || !pkt || !ret || (pkt->family != AF_INET && pkt->family != AF_INET6) ||
            (hook != PST_HOOK_INPUT && hook != PST_HOOK_FORWARD))
                return -EINVAL;
        base = base_chain(rs, hook);
        if (base < 0) {
                *ret = (struct pst_eval_result) { .verdict = PST_V_ACCEPT, .by_policy = true, .chain = UINT32_MAX };
                return 0;
        }
        chain = (uint32_t) base;
        for (;;) {
                const struct pst_chain *c = &rs->chains[chain];
                struct pst_verdict v;
                int k;

                if (rule >= c->n) {
                        /* the end of a chain: back to the rule after the jump, or the policy */
                        if (depth == 0)
                                break;
                        depth--;
                        chain = stack[depth].chain;
                        rule = stack[depth].rule + 1;
                        continue;
                }
                k = rule_eval(rs, hook, pkt, &c->rules[rule], &v);
                if (k < 0)
                        return k;
                switch (v.kind) {
                case PST_V_NONE:
                        rule++;
                        continue;
                case PST_V_ACCEPT:
                case PST_V_DROP:
                        /* options.rematch: the stamp chain's accept is that of the rule that jumped there */
                        if (depth > 0 && c->rules[0].ct_stamp) {
                                chain = stack[depth - 1].chain;
                                rule = stack[depth - 1].rule;
                        }
                        *ret = (struct pst_eval_result) { .verdict = v.kind, .chain = chain, .rule = rule,
                                                          .origin = rs->chains[chain].rules[rule].origin };
                        return 0;
                case PST_V_QUEUE:
                        /* the reply reader accepts every packet it is handed, and
                         * without a reader the kernel does (bypass) */
                        *ret = (struct pst_eval_result) { .verdict = PST_V_ACCEPT, .chain = chain, .rule = rule,
                                                          .origin = c->rules[rule].origin };
                        return 0;
                case PST_V_RETURN:
                        rule = c->n;
                        continue;
                case PST_V_JUMP:
                        if (depth >= JUMP_STACK)
                                return -ELOOP;
                        stack[depth].chain = chain;
                        stack[depth].rule = rule;
                        depth++;
                        __attribute__((fallthrough));
                case PST_V_GOTO:
                        chain = v.chain;
                        rule = 0;
                        continue;
                }
                return -EINVAL;
        }
        *ret = (struct pst_eval_result) { .verdict = rs->chains[base].policy == PST_V_ACCEPT ? PST_V_ACCEPT
                                                                                               : PST_V_DROP,
                                          .by_policy = true, .chain = (uint32_t) base };
        return 0;
}

int pst_packet_set_addrs(struct pst_packet *pkt, const char *saddr, const char *daddr) {
        uint8_t s[16] = {}, d[16] = {};
        int fam = strchr(saddr, ':') ? AF_INET6 : AF_INET;

        if (inet_pton(fam, saddr, s) != 1 || inet_pton(fam, daddr, d) != 1)
                return -EINVAL;
        pkt->family = (uint8_t) fam;
        memcpy(pkt->saddr, s, 16);
        memcpy(pkt->daddr, d, 16);
        return 0;
}

void pst_packet_service(const struct pst_packet *pkt, char *buf, size_t n) {
        const char *name = pst_proto_name(pkt->l4proto);

        switch (pkt->l4proto) {
        case IPPROTO_TCP:
        case IPPROTO_UDP:
                snprintf(buf, n, "%s/%u", pkt->l4proto == IPPROTO_TCP ? "tcp" : "udp", pkt->dport);
                break;
        case IPPROTO_ICMP:
        case IPPROTO_ICMPV6:
                snprintf(buf, n, "%s/%u", pkt->l4proto == IPPROTO_ICMP ? "icmp" : "icmpv6", pkt->icmp_type);
                break;
        default:
                if (name)
                        snprintf(buf, n, "proto/%s", name);
                else
                        snprintf(buf, n, "proto/%u", pkt->l4proto);
        }
}

void pst_eval_describe(const struct pst_ruleset *rs, const struct pst_eval_result *res, char *buf, size_t n) {
        const struct pst_chain *c = res->chain < rs->nchains ? &rs->chains[res->chain] : NULL;
        const struct pst_rule *r;

        if (!c) {
                snprintf(buf, n, "no chain of table %s (no firewall)", rs->table);
                return;
        }
        if (res->by_policy || res->rule >= c->n) {
                snprintf(buf, n, "the policy (%s) of chain %s", c->policy == PST_V_ACCEPT ? "accept" : "drop",
                         c->name);
                return;
        }
        r = &c->rules[res->rule];
        if (res->origin.line == 0)
                snprintf(buf, n, "rule %u of chain %s (built in)", res->rule + 1, c->name);
        else
                snprintf(buf, n, "rule %u of chain %s (%s:%u%s%s%s)", res->rule + 1, c->name,
                         pst_origin_file(rs, res->origin) ?: "?", res->origin.line, r->comment[0] ? ", \"" : "",
                         r->comment, r->comment[0] ? "\"" : "");
}

/* ---- back to the policy ---- */

static bool ports_cover(const struct pst_portrange *v, size_t n, uint16_t port) {
        for (size_t i = 0; i < n; i++)
                if (v[i].first <= port && port <= v[i].last)
                        return true;
        return false;
}

static bool u8_cover(const uint8_t *v, size_t n, uint8_t x) {
        return memchr(v, x, n) != NULL;
}

static bool service_covers(const struct pst_service *s, const struct pst_packet *pkt) {
        if (s->all)
                return true;
        switch (pkt->l4proto) {
        case IPPROTO_TCP:
                return ports_cover(s->tcp, s->ntcp, pkt->dport);
        case IPPROTO_UDP:
                return ports_cover(s->udp, s->nudp, pkt->dport);
        case IPPROTO_ICMP:
                return pkt->family == AF_INET && u8_cover(s->icmp, s->nicmp, pkt->icmp_type);
        case IPPROTO_ICMPV6:
                return pkt->family == AF_INET6 && u8_cover(s->icmp6, s->nicmp6, pkt->icmp_type);
        default:
                return u8_cover(s->proto, s->nproto, pkt->l4proto);
        }
}

/* Does a host-or-address endpoint hold addr? */
static bool ep_holds(const struct pst_endpoint *e, uint8_t family, const uint8_t *addr) {
        const struct pst_addr *v = e->host ? e->host->addrs.v : &e->lit;
        size_t n = e->host ? e->host->addrs.n : 1;
        unsigned len = pst_addr_len(family);

        if (e->kind != PST_EP_ADDRS)
                return false;
        for (size_t i = 0; i < n; i++) {
                uint8_t first[16], last[16];

                if (v[i].family != family)
                        continue;
                pst_addr_range(&v[i], first, last);
                if (memcmp(addr, first, len) >= 0 && memcmp(addr, last, len) <= 0)
                        return true;
        }
        return false;
}

static bool hosts_cover(const struct pst_prule *pr, const struct pst_packet *pkt) {
        bool from = false, to = false;

        for (size_t i = 0; i < pr->nfrom; i++)
                from |= ep_holds(&pr->from[i], pkt->family, pkt->saddr);
        for (size_t i = 0; i < pr->nto; i++)
                to |= ep_holds(&pr->to[i], pkt->family, pkt->daddr);
        return from && to;
}

/* The rule of a trusted zone has the zone's definition as its origin */
static bool trusted_zone_at(const struct pst_policy *p, const char *file, uint32_t line, struct pst_loc *ret_loc) {
        for (size_t i = 0; i < p->nzones; i++)
                if (p->zones[i]->trusted && p->zones[i]->loc.line == line && streq(p->zones[i]->loc.file, file)) {
                        *ret_loc = p->zones[i]->loc;
                        return true;
                }
        return false;
}

int pst_eval_explain(const struct pst_policy *p, const struct pst_ruleset *rs, const struct pst_eval_result *res,
                     const struct pst_packet *pkt, struct pst_loc *ret_loc, const char **ret_service,
                     const char **ret_group) {
        const struct pst_rule *r;
        enum pst_chain_kind kind;
        const char *file;
        bool merged;

        if (!p || res->by_policy || res->chain >= rs->nchains || res->rule >= rs->chains[res->chain].n)
                return -ENOENT;
        r = &rs->chains[res->chain].rules[res->rule];
        file = pst_origin_file(rs, res->origin);
        if (!file || res->origin.line == 0)
                return -ENOENT;
        if (trusted_zone_at(p, file, res->origin.line, ret_loc)) {
                *ret_service = "trusted zone";
                return 0;
        }
        /* the only three-field concatenation the compiler makes is the host-to-host set */
        merged = r->nmatch == 1 && r->match[0].op == PST_M_SET && r->match[0].nfields == 3;
        /* a zone's chain (input_lan) has no hook: its name says which base chain jumps to it */
        kind = rs->chains[res->chain].hook == PST_HOOK_INPUT ||
               strncmp(rs->chains[res->chain].name, "input_", 6) == 0 ? PST_INPUT : PST_FORWARD;
        for (size_t i = 0; i < p->nrules; i++) {
                const struct pst_prule *pr = &p->rules[i];

                if (merged && (pr->chain != kind || !hosts_cover(pr, pkt)))
                        continue;
                /* a rule of rules = (...) is one policy rule per chain, at one line */
                if (!merged && (pr->chain != kind || pr->loc.line != res->origin.line || !streq(pr->loc.file, file)))
                        continue;
                for (size_t j = 0; j < pr->nsvc; j++)
                        if (service_covers(pr->svc[j], pkt)) {
                                *ret_loc = pr->loc;
                                *ret_service = pr->svc[j]->name;
                                if (ret_group)
                                        *ret_group = pr->via && pr->via[j] ? pr->via[j]->name : NULL;
                                return 0;
                        }
        }
        return -ENOENT;
}
