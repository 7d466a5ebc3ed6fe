/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IR → iptables plan: the xtables rules of each family and the ipsets they
 * use, then each rule as iptables-save text or as an xtables entry.  Pure:
 * nothing here talks to the kernel.
 *
 * A rule of the IR is a conjunction of matches; some of them (a set of
 * interfaces, of protocols, more than 15 ports, a small address set, a
 * verdict map) have no single xtables match, so the rule is expanded into
 * one xtables rule per alternative: the cartesian product, walked by
 * expand() one IR match at a time.  Alternatives of one match are disjoint
 * (the IR's sets are normalized), so at most one of the expanded rules
 * matches a packet and a jump is never taken twice.
 */
#include <net/if.h> /* before any <linux/if.h> */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_LOG.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_iprange.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_set.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_ipv6header.h>

#include "addr.h"
#include "iptc-internal.h"

#define LOG_PREFIX_MAX 29 /* struct xt_log_info: char prefix[30] */
#define LOG_LEVEL_DEFAULT 4 /* warning: nft's log default, and LOG's */
#define LIMIT_BURST 5       /* nft's default burst, and xt_limit's */

uint32_t iptc_hash(const void *data, size_t len, uint32_t h) {
        const uint8_t *p = data;

        for (size_t i = 0; i < len; i++) {
                h ^= p[i];
                h *= 16777619u;
        }
        return h;
}

/* ---- names ---- */

void pst_iptc_chain_name(const struct pst_ruleset *rs, uint32_t chain, char buf[32]) {
        const struct pst_chain *c = &rs->chains[chain];
        char name[PST_NAME_MAX];
        char *us;

        if (c->hook == PST_HOOK_INPUT) {
                strcpy(buf, "INPUT");
                return;
        }
        if (c->hook == PST_HOOK_FORWARD) {
                strcpy(buf, "FORWARD");
                return;
        }
        /* input_lan → postern-input-lan: only the separator the compiler put
         * after the chain kind, so zone names keep their own spelling */
        snprintf(name, sizeof(name), "%s", c->name);
        us = strchr(name, '_');
        if (us)
                *us = '-';
        if (strlen(PST_IPTC_PREFIX) + strlen(name) < XCHAIN_LEN)
                snprintf(buf, 32, "%s%s", PST_IPTC_PREFIX, name);
        else /* iptables refuses chain names over 28 bytes: shorten, keep unique */
                snprintf(buf, 32, "%s%.11s-%08x", PST_IPTC_PREFIX, name,
                         iptc_hash(c->name, strlen(c->name), IPTC_HASH_INIT));
}

/* The body of an ipset name: at most max bytes of the IR set's name, with the
 * usual words shortened first, and the family suffix kept when cut. */
static void set_body(const char *irname, size_t max, char *out) {
        static const struct {
                const char *from, *to;
        } abbrev[] = {
                { "forward_hosts_", "fwd_" }, { "input_hosts_", "in_" }, { "list_", "l_" }, { "zone_", "z_" },
        };
        char buf[PST_NAME_MAX];
        size_t l;

        snprintf(buf, sizeof(buf), "%s", irname[0] ? irname : "anon");
        for (size_t i = 0; strlen(buf) > max && i < ELEMENTSOF(abbrev); i++) {
                size_t fl = strlen(abbrev[i].from);

                if (strncmp(buf, abbrev[i].from, fl) == 0) {
                        memmove(buf + strlen(abbrev[i].to), buf + fl, strlen(buf + fl) + 1);
                        memcpy(buf, abbrev[i].to, strlen(abbrev[i].to));
                }
        }
        l = strlen(buf);
        if (l > max && max > 3) { /* first max-3 bytes + the last 3 ("_v4") */
                memmove(buf + max - 3, buf + l - 3, 4);
                l = max;
        }
        buf[MIN(l, max)] = 0;
        strcpy(out, buf);
}

/* ---- address helpers ---- */

static void xaddr_set(struct xaddr *a, unsigned len, const uint8_t *first, const uint8_t *last, bool inv) {
        int plen = pst_range_prefix(first, last, len);

        *a = (struct xaddr) { .inv = inv };
        if (plen >= 0) {
                a->kind = XA_NET;
                memcpy(a->a, first, len);
                iptc_prefix_mask(a->b, len, (unsigned) plen);
        } else {
                a->kind = XA_RANGE;
                memcpy(a->a, first, len);
                memcpy(a->b, last, len);
        }
}

/* ---- the plan ---- */

struct builder {
        struct iptc_plan *p;
        const struct pst_ruleset *rs;
        struct pst_diag *diag;
        int xf;
        const struct pst_rule *r;
        uint32_t chain;
};

static int rule_error(struct builder *b, int err, const char *fmt, const char *what) {
        return pst_error(b->diag, err, pst_origin_file(b->rs, b->r->origin), b->r->origin.line,
                         "iptables backend: %s%s", fmt, what ? what : "");
}

static int set_family(const struct pst_set *s) {
        for (unsigned i = 0; i < s->nfields; i++) {
                if (s->fields[i] == PST_F_IP_SADDR || s->fields[i] == PST_F_IP_DADDR)
                        return XF_4;
                if (s->fields[i] == PST_F_IP6_SADDR || s->fields[i] == PST_F_IP6_DADDR)
                        return XF_6;
        }
        return -1;
}

static bool is_addr_field(enum pst_field f) {
        return f == PST_F_IP_SADDR || f == PST_F_IP_DADDR || f == PST_F_IP6_SADDR || f == PST_F_IP6_DADDR;
}

static bool is_src_field(enum pst_field f) {
        return f == PST_F_IP_SADDR || f == PST_F_IP6_SADDR;
}

/* saddr . daddr . dport with single hosts on one side: which side (0 src, 1 dst), or -1 */
static int ipportnet_host_side(const struct pst_set *s) {
        unsigned len, aoff;
        bool src_single = true, dst_single = true;

        if (s->nfields != 3 || !is_src_field(s->fields[0]) || !is_addr_field(s->fields[1]) ||
            is_src_field(s->fields[1]) || (s->fields[2] != PST_F_TCP_DPORT && s->fields[2] != PST_F_UDP_DPORT))
                return -1;
        len = pst_field_info(s->fields[0])->len;
        aoff = (len + 3) & ~3u;
        for (size_t i = 0; i < s->n; i++) {
                src_single &= memcmp(pst_set_first(s, i), pst_set_last(s, i), len) == 0;
                dst_single &= memcmp(pst_set_first(s, i) + aoff, pst_set_last(s, i) + aoff, len) == 0;
        }
        return dst_single ? 1 : src_single ? 0 : -1;
}

/*
 * The ipset for IR set si, created on first use; -1 (in *ret) when the set
 * is written as rules instead.  An error when it can be neither.
 */
static int choose_ipset(struct builder *b, uint32_t si, int *ret) {
        struct iptc_plan *p = b->p;
        const struct pst_set *s = &b->rs->sets[si];
        struct xset x = { .irset = si, .xf = set_family(s) };
        int side = -1, r;

        if (p->ipset_of[si] != -2) {
                *ret = p->ipset_of[si];
                return 0;
        }
        *ret = -1;
        if (s->nfields == 1 && is_addr_field(s->fields[0])) {
                if (p->use_ipset && (!(s->flags & PST_SET_ANON) || s->n > PST_IPTC_INLINE_MAX))
                        x.type = XS_NET;
                else
                        goto inline_set;
        } else if (p->use_ipset && (side = ipportnet_host_side(s)) >= 0) {
                x.type = XS_IPPORTNET;
                x.ip_is_dst = side == 1;
                x.proto = s->fields[2] == PST_F_TCP_DPORT ? IPPROTO_TCP : IPPROTO_UDP;
        } else
                goto inline_set;

        x.entries = iptc_set_entries(s, &x);
        if (x.entries > PST_IPTC_IPSET_ELEMS_MAX)
                return pst_error(b->diag, -E2BIG, pst_origin_file(b->rs, s->origin), s->origin.line,
                                 "iptables backend: set '%s' needs %llu ipset entries; at most %u are allowed",
                                 s->name[0] ? s->name : "(anonymous)", (unsigned long long) x.entries,
                                 PST_IPTC_IPSET_ELEMS_MAX);

        x.dynamic = s->flags & PST_SET_DYNAMIC;
        if (x.dynamic) {
                if (strlen(PST_IPTC_PREFIX) + strlen(s->name) < IPSET_MAXNAMELEN)
                        snprintf(x.name, sizeof(x.name), "%s%s", PST_IPTC_PREFIX, s->name);
                else {
                        char body[15];

                        set_body(s->name, 14, body);
                        snprintf(x.name, sizeof(x.name), "%s%s-%08x", PST_IPTC_PREFIX, body,
                                 iptc_hash(s->name, strlen(s->name), IPTC_HASH_INIT));
                }
        } else {
                /* named by content: a changed set gets a new name, so a live
                 * ruleset never sees its set change under it */
                _cleanup_free_ char *text = NULL;
                size_t tlen = 0;
                FILE *m = open_memstream(&text, &tlen);
                char body[15];

                if (!m)
                        return -ENOMEM;
                iptc_set_text(p, &x, "-", false, m);
                if (fclose(m) != 0)
                        return -ENOMEM;
                set_body(s->name, 14, body);
                snprintf(x.name, sizeof(x.name), "%s%s-%08x", PST_IPTC_PREFIX, body,
                         iptc_hash(text, tlen, IPTC_HASH_INIT));
        }
        /* two anonymous sets with the same contents are one ipset */
        for (size_t i = 0; i < p->nsets; i++)
                if (streq(p->sets[i].name, x.name)) {
                        *ret = p->ipset_of[si] = (int) i;
                        return 0;
                }
        r = GROW(p->sets, p->capsets, p->nsets + 1, PST_SETS_MAX);
        if (r < 0)
                return r;
        p->sets[p->nsets] = x;
        *ret = p->ipset_of[si] = (int) p->nsets++;
        return 0;

inline_set:
        if (s->n > PST_IPTC_NOIPSET_MAX && set_family(s) >= 0)
                return pst_error(b->diag, -E2BIG, pst_origin_file(b->rs, b->r->origin), b->r->origin.line,
                                 "iptables backend: %s%s%s has %zu elements; without ipset %s at most %u elements "
                                 "of a set are written as individual rules",
                                 s->name[0] ? "set '" : "an address set", s->name, s->name[0] ? "'" : "", s->n,
                                 p->use_ipset ? "(no ipset type fits this set)"
                                              : "(no ipset tool, no ip_set in the kernel, or ipset disabled)",
                                 PST_IPTC_NOIPSET_MAX);
        p->ipset_of[si] = -1;
        return 0;
}

/* ---- expansion ---- */

static int emit(struct builder *b, const struct xrule *x) {
        struct xfamily *fam = &b->p->fam[b->xf];
        int r;

        if (x->verdict.kind == PST_V_NONE && !b->r->log_prefix[0])
                return 0; /* matches without a statement: nothing to do */
        if (x->verdict.kind != PST_V_NONE && b->r->log_prefix[0])
                return rule_error(b, -EOPNOTSUPP, "a rule that both logs and has a verdict", NULL);
        r = GROW(fam->rules, fam->cap, fam->n + 1, PST_IPTC_RULES_MAX);
        if (r < 0)
                return rule_error(b, r, "too many xtables rules (sets written as rules multiply them)", NULL);
        fam->rules[fam->n++] = *x;
        return 0;
}

static int xf_nfproto(int xf) {
        return xf == XF_4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

/* 1: applied; 0: this alternative can never match in this family */
static int need_proto(struct xrule *x, int proto) {
        if (x->ah6)
                return 0;
        if (x->proto < 0) {
                x->proto = proto;
                return 1;
        }
        return x->proto == proto && !x->proto_inv;
}

static uint16_t ct_bits(uint32_t nft) {
        uint16_t v = 0;

        if (nft & NF_CT_STATE_INVALID_BIT)
                v |= XT_CONNTRACK_STATE_INVALID;
        for (int ct = IP_CT_ESTABLISHED; ct <= IP_CT_NEW; ct++)
                if (nft & NF_CT_STATE_BIT(ct))
                        v |= (uint16_t) XT_CONNTRACK_STATE_BIT(ct);
        if (nft & NF_CT_STATE_UNTRACKED_BIT)
                v |= XT_CONNTRACK_STATE_UNTRACKED;
        return v;
}

/*
 * Constrain x by "field in [first, last]" (negated: not in).  Returns 1,
 * 0 when the alternative cannot match in this family, or a negative errno.
 */
static int apply_field(struct builder *b, struct xrule *x, enum pst_field f, const uint8_t *first,
                       const uint8_t *last, bool neg) {
        switch (f) {
        case PST_F_IIFNAME:
        case PST_F_OIFNAME: {
                char *name = f == PST_F_IIFNAME ? x->iif : x->oif;
                size_t l = strnlen((const char *) first, IFNAMSIZ);

                if (name[0])
                        return rule_error(b, -EOPNOTSUPP, "two matches on one interface", NULL);
                if (memcmp(first, last, IFNAMSIZ) == 0)
                        memcpy(name, first, l);
                else {
                        if (l >= IFNAMSIZ - 1)
                                return rule_error(b, -EINVAL, "interface wildcard too long", NULL);
                        memcpy(name, first, l);
                        name[l] = '+';
                }
                name[l + (name[l] == '+')] = 0;
                if (f == PST_F_IIFNAME)
                        x->iif_inv = neg;
                else
                        x->oif_inv = neg;
                return 1;
        }
        case PST_F_NFPROTO: {
                bool in = first[0] <= xf_nfproto(b->xf) && xf_nfproto(b->xf) <= last[0];

                return in != neg;
        }
        case PST_F_L4PROTO:
                if (first[0] != last[0])
                        return rule_error(b, -EOPNOTSUPP, "a protocol range", NULL);
                /* ICMPv4 inside IPv6 and ICMPv6 inside IPv4 do not exist:
                 * "meta l4proto { icmp, ipv6-icmp }" is -p icmp in iptables
                 * and -p ipv6-icmp in ip6tables */
                if (!neg && ((b->xf == XF_6 && first[0] == IPPROTO_ICMP) ||
                             (b->xf == XF_4 && first[0] == IPPROTO_ICMPV6)))
                        return 0;
                /* ip6tables' -p skips AH like any extension header (it asks
                 * ipv6_find_hdr() for the last header), so "-p ah" never
                 * matches; nf_tables' meta l4proto stops at AH
                 * (IP6_FH_F_AUTH).  "-m ipv6header --header ah --soft"
                 * matches a packet with an AH header.  (Not "-m ah": on
                 * kernel 6.18 it hotdrops AH whose length field points past
                 * the packet, observed with the traffic suite's probes.) */
                if (b->xf == XF_6 && first[0] == IPPROTO_AH && !neg) {
                        if (x->proto >= 0 || x->ah6)
                                return 0;
                        x->ah6 = true;
                        return 1;
                }
                if (x->ah6)
                        return 0;
                if (x->proto >= 0)
                        return x->proto == first[0] && !x->proto_inv && !neg;
                x->proto = first[0];
                x->proto_inv = neg;
                return 1;
        case PST_F_IP_SADDR:
        case PST_F_IP_DADDR:
        case PST_F_IP6_SADDR:
        case PST_F_IP6_DADDR: {
                bool v4 = f == PST_F_IP_SADDR || f == PST_F_IP_DADDR;
                struct xaddr *a = is_src_field(f) ? &x->src : &x->dst;

                if (v4 != (b->xf == XF_4))
                        return 0;
                if (a->kind != XA_NONE)
                        return rule_error(b, -EOPNOTSUPP, "two matches on one address", NULL);
                xaddr_set(a, iptc_addr_len(b->xf), first, last, neg);
                return 1;
        }
        case PST_F_TCP_DPORT:
        case PST_F_UDP_DPORT:
                if (!need_proto(x, f == PST_F_TCP_DPORT ? IPPROTO_TCP : IPPROTO_UDP))
                        return 0;
                if (x->port_field)
                        return rule_error(b, -EOPNOTSUPP, "two port matches", NULL);
                x->port_field = f;
                x->multiport = false;
                x->ports_inv = neg;
                x->ports[0] = (uint16_t) (first[0] << 8 | first[1]);
                x->ports[1] = (uint16_t) (last[0] << 8 | last[1]);
                return 1;
        case PST_F_ICMP_TYPE:
        case PST_F_ICMP6_TYPE:
                if ((f == PST_F_ICMP_TYPE) != (b->xf == XF_4))
                        return 0;
                if (!need_proto(x, f == PST_F_ICMP_TYPE ? IPPROTO_ICMP : IPPROTO_ICMPV6))
                        return 0;
                if (x->icmp_type >= 0 || first[0] != last[0])
                        return rule_error(b, -EOPNOTSUPP, "this ICMP type match", NULL);
                x->icmp_type = first[0];
                x->icmp_inv = neg;
                return 1;
        case PST_F_CT_STATE: {
                uint32_t v;

                memcpy(&v, first, 4);
                if (x->ctstate)
                        return rule_error(b, -EOPNOTSUPP, "two ct state matches", NULL);
                x->ctstate = ct_bits(v);
                x->ct_inv = neg;
                return 1;
        }
        default:
                return rule_error(b, -EOPNOTSUPP, "a match on this field", NULL);
        }
}

static int expand(struct builder *b, unsigned mi, const struct xrule *cur);

/* Continue with x after applying one element (all fields of a concatenation). */
static int expand_elem(struct builder *b, unsigned mi, const struct xrule *cur, const struct pst_set *s, size_t i,
                       const struct pst_verdict *v) {
        struct xrule x = *cur;
        unsigned off = 0;

        for (unsigned k = 0; k < s->nfields; k++) {
                int r = apply_field(b, &x, s->fields[k], pst_set_first(s, i) + off, pst_set_last(s, i) + off, false);

                if (r <= 0)
                        return r;
                off += (pst_field_info(s->fields[k])->len + 3u) & ~3u;
        }
        if (v)
                x.verdict = *v;
        return expand(b, mi + 1, &x);
}

static int expand_ports(struct builder *b, unsigned mi, const struct xrule *cur, const struct pst_set *s,
                        enum pst_field f) {
        struct xrule x = *cur;
        size_t i = 0;
        int r;

        if (!need_proto(&x, f == PST_F_TCP_DPORT ? IPPROTO_TCP : IPPROTO_UDP))
                return 0;
        if (x.port_field)
                return rule_error(b, -EOPNOTSUPP, "two port matches", NULL);
        x.port_field = f;
        x.multiport = true;
        while (i < s->n) {
                struct xrule y = x;

                /* multiport takes 15 ports; a range takes two of them */
                while (i < s->n) {
                        const uint8_t *first = pst_set_first(s, i), *last = pst_set_last(s, i);
                        uint16_t pf = (uint16_t) (first[0] << 8 | first[1]), pl = (uint16_t) (last[0] << 8 | last[1]);
                        unsigned need = pf == pl ? 1 : 2;

                        if (y.nports + need > XT_MULTI_PORTS)
                                break;
                        y.ports[y.nports] = pf;
                        y.pflags[y.nports++] = pf != pl;
                        if (pf != pl)
                                y.ports[y.nports++] = pl;
                        i++;
                }
                r = expand(b, mi + 1, &y);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int expand_set(struct builder *b, unsigned mi, const struct xrule *cur, const struct pst_match *m) {
        const struct pst_set *s = &b->rs->sets[m->set];
        enum pst_field f0 = s->fields[0];
        struct xrule x = *cur;
        int r, is;

        if (s->nfields == 1 && (f0 == PST_F_TCP_DPORT || f0 == PST_F_UDP_DPORT))
                return expand_ports(b, mi, cur, s, f0);
        if (s->nfields == 1 && f0 == PST_F_CT_STATE) {
                uint32_t all = 0, v;

                for (size_t i = 0; i < s->n; i++) {
                        memcpy(&v, pst_set_first(s, i), 4);
                        all |= v;
                }
                r = apply_field(b, &x, f0, (uint8_t *) &all, (uint8_t *) &all, false);
                return r <= 0 ? r : expand(b, mi + 1, &x);
        }
        if (set_family(s) >= 0) {
                if (set_family(s) != b->xf)
                        return 0;
                r = choose_ipset(b, m->set, &is);
                if (r < 0)
                        return r;
                if (is >= 0) {
                        const struct xset *xs = &b->p->sets[is];
                        struct xsetmatch *sm;

                        if (x.nsetm >= ELEMENTSOF(x.setm))
                                return rule_error(b, -EOPNOTSUPP, "more than two set matches", NULL);
                        sm = &x.setm[x.nsetm++];
                        sm->set = is;
                        if (xs->type == XS_NET) {
                                sm->dim = 1;
                                sm->flags = is_src_field(f0) ? IPSET_DIM_ONE_SRC : 0;
                        } else {
                                sm->dim = 3;
                                sm->flags = xs->ip_is_dst ? IPSET_DIM_THREE_SRC : IPSET_DIM_ONE_SRC;
                                if (!need_proto(&x, xs->proto))
                                        return 0;
                        }
                        return expand(b, mi + 1, &x);
                }
        }
        for (size_t i = 0; i < s->n; i++) {
                r = expand_elem(b, mi, cur, s, i, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int expand_vmap(struct builder *b, unsigned mi, const struct xrule *cur, const struct pst_match *m) {
        const struct pst_set *s = &b->rs->sets[m->set];
        int r;

        if (s->nfields == 1 && s->fields[0] == PST_F_CT_STATE) {
                /* one conntrack match per verdict, in the order of first appearance */
                for (size_t i = 0; i < s->n; i++) {
                        uint32_t all = 0, v;
                        bool seen = false;
                        struct xrule x = *cur;

                        for (size_t j = 0; j < i; j++)
                                seen |= s->data[j].kind == s->data[i].kind && s->data[j].chain == s->data[i].chain;
                        if (seen)
                                continue;
                        for (size_t j = i; j < s->n; j++)
                                if (s->data[j].kind == s->data[i].kind && s->data[j].chain == s->data[i].chain) {
                                        memcpy(&v, pst_set_first(s, j), 4);
                                        all |= v;
                                }
                        r = apply_field(b, &x, PST_F_CT_STATE, (uint8_t *) &all, (uint8_t *) &all, false);
                        if (r < 0)
                                return r;
                        x.verdict = s->data[i];
                        if (r > 0 && (r = expand(b, mi + 1, &x)) < 0)
                                return r;
                }
                return 0;
        }
        for (size_t i = 0; i < s->n; i++) {
                r = expand_elem(b, mi, cur, s, i, &s->data[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int expand(struct builder *b, unsigned mi, const struct xrule *cur) {
        const struct pst_match *m;
        struct xrule x;
        int r;

        if (mi == b->r->nmatch)
                return emit(b, cur);
        m = &b->r->match[mi];
        x = *cur;
        switch (m->op) {
        case PST_M_EQ:
        case PST_M_NEQ:
                r = apply_field(b, &x, m->fields[0], m->value, m->value, m->op == PST_M_NEQ);
                return r <= 0 ? r : expand(b, mi + 1, &x);
        case PST_M_RANGE: {
                enum pst_field f = m->fields[0];

                /* a range of protocols or ICMP types: one rule each */
                if ((f == PST_F_L4PROTO || f == PST_F_ICMP_TYPE || f == PST_F_ICMP6_TYPE) &&
                    m->value[0] != m->last[0]) {
                        for (unsigned v = m->value[0]; v <= m->last[0]; v++) {
                                uint8_t key[4] = { (uint8_t) v };

                                x = *cur;
                                r = apply_field(b, &x, f, key, key, false);
                                if (r > 0)
                                        r = expand(b, mi + 1, &x);
                                if (r < 0)
                                        return r;
                        }
                        return 0;
                }
                r = apply_field(b, &x, f, m->value, m->last, false);
                return r <= 0 ? r : expand(b, mi + 1, &x);
        }
        case PST_M_SET:
                return expand_set(b, mi, cur, m);
        case PST_M_VMAP:
                return expand_vmap(b, mi, cur, m);
        }
        return -EINVAL;
}

void iptc_plan_free(struct iptc_plan *p) {
        if (!p)
                return;
        free(p->sets);
        free(p->ipset_of);
        free(p->chains);
        for (int i = 0; i < 2; i++)
                free(p->fam[i].rules);
        free(p);
}

int iptc_plan_build(const struct pst_ruleset *rs, bool use_ipset, struct iptc_plan **ret, struct pst_diag *diag) {
        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;
        struct builder b = { .rs = rs, .diag = diag };
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->rs = rs;
        p->use_ipset = use_ipset;
        p->ipset_of = malloc(MAX(rs->nsets, 1) * sizeof(int));
        p->chains = calloc(MAX(rs->nchains, 1), sizeof(*p->chains));
        if (!p->ipset_of || !p->chains)
                return -ENOMEM;
        for (size_t i = 0; i < rs->nsets; i++)
                p->ipset_of[i] = -2; /* not decided yet */
        for (size_t i = 0; i < rs->nchains; i++) {
                char name[32];

                pst_iptc_chain_name(rs, (uint32_t) i, name);
                strcpy(p->chains[i], name);
                for (size_t j = 0; j < i; j++)
                        if (streq(p->chains[j], name))
                                return pst_error(diag, -EEXIST, NULL, 0,
                                                 "iptables backend: chains '%s' and '%s' both map to '%s'",
                                                 rs->chains[j].name, rs->chains[i].name, name);
        }
        b.p = p;
        for (int xf = XF_4; xf <= XF_6; xf++) {
                b.xf = xf;
                for (size_t c = 0; c < rs->nchains; c++)
                        for (size_t i = 0; i < rs->chains[c].n; i++) {
                                const struct pst_rule *ir = &rs->chains[c].rules[i];
                                struct xrule x = { .chain = (uint32_t) c, .ir = ir, .proto = -1, .icmp_type = -1,
                                                   .verdict = ir->verdict };

                                if (strlen(ir->log_prefix) > LOG_PREFIX_MAX)
                                        return pst_error(diag, -E2BIG, pst_origin_file(rs, ir->origin),
                                                         ir->origin.line,
                                                         "iptables backend: log prefix \"%s\" is %zu bytes; the "
                                                         "LOG target takes at most %d",
                                                         ir->log_prefix, strlen(ir->log_prefix), LOG_PREFIX_MAX);
                                b.r = ir;
                                b.chain = (uint32_t) c;
                                r = expand(&b, 0, &x);
                                if (r < 0) {
                                        if (!pst_diag_has_errors(diag))
                                                rule_error(&b, r, "cannot write this rule: ", strerror(-r));
                                        return r;
                                }
                        }
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int iptc_plan_one_set(const struct pst_ruleset *rs, uint32_t si, struct iptc_plan **ret, int *ret_set,
                      struct pst_diag *diag) {
        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;
        struct builder b = { .rs = rs, .diag = diag };
        int r, is;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->rs = rs;
        p->use_ipset = true;
        p->ipset_of = malloc(MAX(rs->nsets, 1) * sizeof(int));
        if (!p->ipset_of)
                return -ENOMEM;
        for (size_t i = 0; i < rs->nsets; i++)
                p->ipset_of[i] = -2;
        b.p = p;
        if (si >= rs->nsets || set_family(&rs->sets[si]) < 0 || (rs->sets[si].flags & PST_SET_ANON))
                return -EINVAL;
        r = choose_ipset(&b, si, &is);
        if (r < 0)
                return r;
        if (is < 0)
                return -EINVAL;
        *ret_set = is;
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- text (as iptables-save prints it) ---- */

static const char *proto_name(int proto) {
        /* iptables' own table first (xtables_chain_protos), then /etc/protocols */
        static const struct {
                const char *name;
                int num;
        } protos[] = {
                { "tcp", IPPROTO_TCP },   { "sctp", IPPROTO_SCTP }, { "udp", IPPROTO_UDP },
                { "udplite", 136 },       { "icmp", IPPROTO_ICMP }, { "ipv6-icmp", IPPROTO_ICMPV6 },
                { "esp", IPPROTO_ESP },   { "ah", IPPROTO_AH },
        };
        const struct protoent *pe;

        for (size_t i = 0; i < ELEMENTSOF(protos); i++)
                if (protos[i].num == proto)
                        return protos[i].name;
        pe = getprotobynumber(proto);
        return pe ? pe->p_name : NULL;
}

/* xtables_save_string() */
static void save_string(FILE *f, const char *s) {
        static const char plain[] = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        size_t l = strspn(s, plain);

        if (l > 0 && s[l] == 0) {
                fprintf(f, " %s", s);
                return;
        }
        fputs(" \"", f);
        for (const char *p = s; *p; p++) {
                if (strchr("\"\\'", *p))
                        fputc('\\', f);
                fputc(*p, f);
        }
        fputc('"', f);
}

static int mask_to_cidr(const uint8_t *mask, unsigned len) {
        uint8_t m[16];
        int plen;

        for (plen = 0; plen < (int) len * 8 && (mask[plen / 8] & (0x80 >> (plen % 8))); plen++)
                ;
        iptc_prefix_mask(m, len, (unsigned) plen);
        return memcmp(m, mask, len) == 0 ? plen : -1;
}

static void print_ip(FILE *f, int xf, const char *opt, const struct xaddr *a) {
        unsigned len = iptc_addr_len(xf);
        int af = xf == XF_4 ? AF_INET : AF_INET6, plen;
        char buf[INET6_ADDRSTRLEN];

        if (a->kind != XA_NET)
                return;
        plen = mask_to_cidr(a->b, len);
        if (plen == 0 && !a->inv)
                return;
        inet_ntop(af, a->a, buf, sizeof(buf));
        fprintf(f, "%s %s %s/%d", a->inv ? " !" : "", opt, buf, plen);
}

static void print_iface(FILE *f, char letter, const char *name, bool inv) {
        if (name[0])
                fprintf(f, "%s -%c %s", inv ? " !" : "", letter, name);
}

static void print_rate(FILE *f, uint32_t period) {
        static const struct {
                const char *name;
                uint32_t mult;
        } rates[] = { { "day", XT_LIMIT_SCALE * 24 * 60 * 60 }, { "hour", XT_LIMIT_SCALE * 60 * 60 },
                      { "min", XT_LIMIT_SCALE * 60 },           { "sec", XT_LIMIT_SCALE } };
        unsigned i;

        for (i = 1; i < ELEMENTSOF(rates); ++i)
                if (period > rates[i].mult || rates[i].mult / period < rates[i].mult % period)
                        break;
        fprintf(f, " %u/%s", rates[i - 1].mult / period, rates[i - 1].name);
}

static uint32_t limit_avg(uint32_t per_minute) {
        return XT_LIMIT_SCALE * 60 / per_minute;
}

void iptc_rule_text(const struct iptc_plan *p, int xf, const struct xrule *x, FILE *f) {
        const struct pst_rule *ir = x->ir;
        int af = xf == XF_4 ? AF_INET : AF_INET6;
        char a[INET6_ADDRSTRLEN], c[INET6_ADDRSTRLEN];

        fprintf(f, "-A %s", p->chains[x->chain]);
        print_ip(f, xf, "-s", &x->src);
        print_ip(f, xf, "-d", &x->dst);
        print_iface(f, 'i', x->iif, x->iif_inv);
        print_iface(f, 'o', x->oif, x->oif_inv);
        if (x->proto > 0) {
                const char *n = proto_name(x->proto);

                fprintf(f, "%s -p ", x->proto_inv ? " !" : "");
                if (n)
                        fputs(n, f);
                else
                        fprintf(f, "%d", x->proto);
        }
        if (x->src.kind == XA_RANGE || x->dst.kind == XA_RANGE) {
                fputs(" -m iprange", f);
                if (x->src.kind == XA_RANGE)
                        fprintf(f, "%s --src-range %s-%s", x->src.inv ? " !" : "",
                                inet_ntop(af, x->src.a, a, sizeof(a)), inet_ntop(af, x->src.b, c, sizeof(c)));
                if (x->dst.kind == XA_RANGE)
                        fprintf(f, "%s --dst-range %s-%s", x->dst.inv ? " !" : "",
                                inet_ntop(af, x->dst.a, a, sizeof(a)), inet_ntop(af, x->dst.b, c, sizeof(c)));
        }
        for (unsigned i = 0; i < x->nsetm; i++) {
                const struct xsetmatch *sm = &x->setm[i];

                fprintf(f, " -m set%s --match-set %s", sm->flags & IPSET_INV_MATCH ? " !" : "",
                        p->sets[sm->set].name);
                for (unsigned d = 1; d <= sm->dim; d++)
                        fprintf(f, "%s%s", d == 1 ? " " : ",", sm->flags & (1 << d) ? "src" : "dst");
        }
        if (x->ah6)
                fputs(" -m ipv6header --header ah --soft", f);
        if (x->port_field) {
                const char *m = x->port_field == PST_F_TCP_DPORT ? "tcp" : "udp";

                if (x->multiport) {
                        fprintf(f, " -m multiport%s --dports ", x->ports_inv ? " !" : "");
                        for (unsigned i = 0; i < x->nports; i++) {
                                fprintf(f, "%s%u", i ? "," : "", x->ports[i]);
                                if (x->pflags[i])
                                        fprintf(f, ":%u", x->ports[++i]);
                        }
                } else if (x->ports[0] == x->ports[1])
                        fprintf(f, " -m %s%s --dport %u", m, x->ports_inv ? " !" : "", x->ports[0]);
                else
                        fprintf(f, " -m %s%s --dport %u:%u", m, x->ports_inv ? " !" : "", x->ports[0], x->ports[1]);
        }
        if (x->icmp_type >= 0) {
                if (xf == XF_4)
                        fprintf(f, " -m icmp%s --icmp-type %d", x->icmp_inv ? " !" : "", x->icmp_type);
                else
                        fprintf(f, " -m icmp6%s --icmpv6-type %d", x->icmp_inv ? " !" : "", x->icmp_type);
        }
        if (x->ctstate) {
                static const struct {
                        uint16_t bit;
                        const char *name;
                } st[] = {
                        { XT_CONNTRACK_STATE_INVALID, "INVALID" },
                        { XT_CONNTRACK_STATE_BIT(IP_CT_NEW), "NEW" },
                        { XT_CONNTRACK_STATE_BIT(IP_CT_RELATED), "RELATED" },
                        { XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED), "ESTABLISHED" },
                        { XT_CONNTRACK_STATE_UNTRACKED, "UNTRACKED" },
                };
                const char *sep = " ";

                fprintf(f, " -m conntrack%s --ctstate", x->ct_inv ? " !" : "");
                for (size_t i = 0; i < ELEMENTSOF(st); i++)
                        if (x->ctstate & st[i].bit) {
                                fprintf(f, "%s%s", sep, st[i].name);
                                sep = ",";
                        }
        }
        if (ir->limit_per_minute) {
                fputs(" -m limit --limit", f);
                print_rate(f, limit_avg(ir->limit_per_minute));
        }
        if (ir->comment[0]) {
                fputs(" -m comment --comment", f);
                save_string(f, ir->comment);
        }
        if (ir->log_prefix[0]) {
                fputs(" -j LOG", f);
                fputs(" --log-prefix", f);
                save_string(f, ir->log_prefix);
                return;
        }
        switch (x->verdict.kind) {
        case PST_V_ACCEPT:
                fputs(" -j ACCEPT", f);
                break;
        case PST_V_DROP:
                fputs(" -j DROP", f);
                break;
        case PST_V_RETURN:
                fputs(" -j RETURN", f);
                break;
        case PST_V_JUMP:
        case PST_V_GOTO:
                fprintf(f, " -%c %s", x->verdict.kind == PST_V_GOTO ? 'g' : 'j', p->chains[x->verdict.chain]);
                break;
        case PST_V_NONE:
                break;
        }
}

/* ---- entries ---- */

static void *add_match(uint8_t *buf, size_t *off, const char *name, uint8_t rev, size_t datalen) {
        struct xt_entry_match *m = (struct xt_entry_match *) (buf + *off);
        size_t size = XT_ALIGN(sizeof(*m)) + XT_ALIGN(datalen);

        memset(m, 0, size);
        m->u.user.match_size = (uint16_t) size;
        snprintf(m->u.user.name, sizeof(m->u.user.name), "%s", name);
        m->u.user.revision = rev;
        *off += size;
        return m->data;
}

static void set_iface(const char *name, char *iface, unsigned char *mask) {
        size_t l = strlen(name);

        if (!l)
                return;
        /* as iptables stores it: "ppp+" keeps its '+', the mask covers
         * "ppp"; an exact name's mask covers its NUL too */
        strcpy(iface, name);
        memset(mask, 0xff, name[l - 1] == '+' ? l - 1 : l + 1);
}

size_t iptc_rule_entry(const struct iptc_plan *p, int xf, const struct xrule *x, void *buf) {
        const struct pst_rule *ir = x->ir;
        uint8_t *b = buf;
        size_t off, target_off;
        uint16_t *tgt_off_field, *next_off_field;

        memset(b, 0, IPTC_ENTRY_MAX);
        if (xf == XF_4) {
                struct ipt_entry *e = buf;
                struct ipt_ip *ip = &e->ip;

                if (x->src.kind == XA_NET) {
                        memcpy(&ip->smsk, x->src.b, 4);
                        memcpy(&ip->src, x->src.a, 4);
                        ip->src.s_addr &= ip->smsk.s_addr;
                        if (x->src.inv)
                                ip->invflags |= IPT_INV_SRCIP;
                }
                if (x->dst.kind == XA_NET) {
                        memcpy(&ip->dmsk, x->dst.b, 4);
                        memcpy(&ip->dst, x->dst.a, 4);
                        ip->dst.s_addr &= ip->dmsk.s_addr;
                        if (x->dst.inv)
                                ip->invflags |= IPT_INV_DSTIP;
                }
                set_iface(x->iif, ip->iniface, ip->iniface_mask);
                set_iface(x->oif, ip->outiface, ip->outiface_mask);
                ip->invflags |= (x->iif_inv ? IPT_INV_VIA_IN : 0) | (x->oif_inv ? IPT_INV_VIA_OUT : 0);
                if (x->proto > 0) {
                        ip->proto = (uint16_t) x->proto;
                        if (x->proto_inv)
                                ip->invflags |= XT_INV_PROTO;
                }
                if (x->verdict.kind == PST_V_GOTO)
                        ip->flags |= IPT_F_GOTO;
                off = sizeof(*e);
                tgt_off_field = &e->target_offset;
                next_off_field = &e->next_offset;
        } else {
                struct ip6t_entry *e = buf;
                struct ip6t_ip6 *ip = &e->ipv6;

                if (x->src.kind == XA_NET) {
                        memcpy(&ip->smsk, x->src.b, 16);
                        for (int i = 0; i < 16; i++)
                                ip->src.s6_addr[i] = x->src.a[i] & x->src.b[i];
                        if (x->src.inv)
                                ip->invflags |= IP6T_INV_SRCIP;
                }
                if (x->dst.kind == XA_NET) {
                        memcpy(&ip->dmsk, x->dst.b, 16);
                        for (int i = 0; i < 16; i++)
                                ip->dst.s6_addr[i] = x->dst.a[i] & x->dst.b[i];
                        if (x->dst.inv)
                                ip->invflags |= IP6T_INV_DSTIP;
                }
                set_iface(x->iif, ip->iniface, ip->iniface_mask);
                set_iface(x->oif, ip->outiface, ip->outiface_mask);
                ip->invflags |= (x->iif_inv ? IP6T_INV_VIA_IN : 0) | (x->oif_inv ? IP6T_INV_VIA_OUT : 0);
                if (x->proto > 0) {
                        /* ip6tables looks at the protocol only with this flag */
                        ip->flags |= IP6T_F_PROTO;
                        ip->proto = (uint16_t) x->proto;
                        if (x->proto_inv)
                                ip->invflags |= XT_INV_PROTO;
                }
                if (x->verdict.kind == PST_V_GOTO)
                        ip->flags |= IP6T_F_GOTO;
                off = sizeof(*e);
                tgt_off_field = &e->target_offset;
                next_off_field = &e->next_offset;
        }

        /* matches, in the order iptc_rule_text() prints them */
        if (x->src.kind == XA_RANGE || x->dst.kind == XA_RANGE) {
                struct xt_iprange_mtinfo *ir_ = add_match(b, &off, "iprange", 1, sizeof(*ir_));
                unsigned len = iptc_addr_len(xf);

                if (x->src.kind == XA_RANGE) {
                        memcpy(&ir_->src_min, x->src.a, len);
                        memcpy(&ir_->src_max, x->src.b, len);
                        ir_->flags |= IPRANGE_SRC | (x->src.inv ? IPRANGE_SRC_INV : 0);
                }
                if (x->dst.kind == XA_RANGE) {
                        memcpy(&ir_->dst_min, x->dst.a, len);
                        memcpy(&ir_->dst_max, x->dst.b, len);
                        ir_->flags |= IPRANGE_DST | (x->dst.inv ? IPRANGE_DST_INV : 0);
                }
        }
        for (unsigned i = 0; i < x->nsetm; i++) {
                /* revision 4: iptables-save prints a match only in the
                 * newest revision both it and the kernel know */
                struct xt_set_info_match_v4 *sm = add_match(b, &off, "set", 4, sizeof(*sm));

                sm->match_set.index = p->sets[x->setm[i].set].index;
                sm->match_set.dim = x->setm[i].dim;
                sm->match_set.flags = x->setm[i].flags;
        }
        if (x->ah6) {
                struct ip6t_ipv6header_info *h = add_match(b, &off, "ipv6header", 0, sizeof(*h));

                h->matchflags = MASK_AH;
                h->modeflag = 1; /* --soft: AH among the headers, others allowed */
        }
        if (x->port_field && x->multiport) {
                struct xt_multiport_v1 *mp = add_match(b, &off, "multiport", 1, sizeof(*mp));

                mp->flags = XT_MULTIPORT_DESTINATION;
                mp->count = x->nports;
                memcpy(mp->ports, x->ports, sizeof(mp->ports));
                memcpy(mp->pflags, x->pflags, sizeof(mp->pflags));
                mp->invert = x->ports_inv;
        } else if (x->port_field == PST_F_TCP_DPORT) {
                struct xt_tcp *t = add_match(b, &off, "tcp", 0, sizeof(*t));

                t->spts[1] = 0xffff;
                t->dpts[0] = x->ports[0];
                t->dpts[1] = x->ports[1];
                t->invflags = x->ports_inv ? XT_TCP_INV_DSTPT : 0;
        } else if (x->port_field == PST_F_UDP_DPORT) {
                struct xt_udp *u = add_match(b, &off, "udp", 0, sizeof(*u));

                u->spts[1] = 0xffff;
                u->dpts[0] = x->ports[0];
                u->dpts[1] = x->ports[1];
                u->invflags = x->ports_inv ? XT_UDP_INV_DSTPT : 0;
        }
        if (x->icmp_type >= 0) {
                if (xf == XF_4) {
                        struct ipt_icmp *ic = add_match(b, &off, "icmp", 0, sizeof(*ic));

                        ic->type = (uint8_t) x->icmp_type;
                        ic->code[1] = 0xff;
                        ic->invflags = x->icmp_inv ? IPT_ICMP_INV : 0;
                } else {
                        struct ip6t_icmp *ic = add_match(b, &off, "icmp6", 0, sizeof(*ic));

                        ic->type = (uint8_t) x->icmp_type;
                        ic->code[1] = 0xff;
                        ic->invflags = x->icmp_inv ? IP6T_ICMP_INV : 0;
                }
        }
        if (x->ctstate) {
                struct xt_conntrack_mtinfo3 *ct = add_match(b, &off, "conntrack", 3, sizeof(*ct));

                ct->match_flags = XT_CONNTRACK_STATE;
                ct->invert_flags = x->ct_inv ? XT_CONNTRACK_STATE : 0;
                ct->state_mask = x->ctstate;
        }
        if (ir->limit_per_minute) {
                struct xt_rateinfo *ri = add_match(b, &off, "limit", 0, sizeof(*ri));

                ri->avg = limit_avg(ir->limit_per_minute);
                ri->burst = LIMIT_BURST;
        }
        if (ir->comment[0]) {
                struct xt_comment_info *ci = add_match(b, &off, "comment", 0, sizeof(*ci));

                snprintf(ci->comment, sizeof(ci->comment), "%s", ir->comment);
        }

        target_off = off;
        if (ir->log_prefix[0]) {
                struct xt_entry_target *t = (struct xt_entry_target *) (b + off);
                struct xt_log_info *li = (struct xt_log_info *) t->data;
                size_t size = XT_ALIGN(sizeof(*t)) + XT_ALIGN(sizeof(*li));

                t->u.user.target_size = (uint16_t) size;
                strcpy(t->u.user.name, "LOG");
                li->level = LOG_LEVEL_DEFAULT;
                memcpy(li->prefix, ir->log_prefix, MIN(strlen(ir->log_prefix), sizeof(li->prefix) - 1));
                off += size;
        } else {
                /* a standard target named after its verdict or chain: libiptc
                 * turns the name into the verdict or the jump offset */
                struct xt_standard_target *t = (struct xt_standard_target *) (b + off);
                const char *name = "";

                switch (x->verdict.kind) {
                case PST_V_ACCEPT:
                        name = "ACCEPT";
                        break;
                case PST_V_DROP:
                        name = "DROP";
                        break;
                case PST_V_RETURN:
                        name = "RETURN";
                        break;
                case PST_V_JUMP:
                case PST_V_GOTO:
                        name = p->chains[x->verdict.chain];
                        break;
                case PST_V_NONE:
                        break;
                }
                t->target.u.user.target_size = XT_ALIGN(sizeof(*t));
                snprintf(t->target.u.user.name, sizeof(t->target.u.user.name), "%s", name);
                off += XT_ALIGN(sizeof(*t));
        }
        *tgt_off_field = (uint16_t) target_off;
        *next_off_field = (uint16_t) off;
        return off;
}
