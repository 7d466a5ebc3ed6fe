/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IR → iptables plan: the xtables rules of each family and the ipsets they
 * use, as plain structs (iptc-internal.h).  Pure: nothing here talks to the
 * kernel, nothing here writes a rule out — iptc-xt.c writes a planned rule
 * as text or as an xtables entry, iptc-ipset.c a planned set.
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
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_multiport.h>

#include "addr.h"
#include "iptc-internal.h"

#define LOG_PREFIX_MAX 29   /* struct xt_log_info: char prefix[30] */
#define NFLOG_PREFIX_MAX 63 /* struct xt_nflog_info: char prefix[64] */

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

/* ---- addresses ---- */

/* [first, last] as -s/-d when it is one network, else as an iprange */
static void xaddr_from_range(unsigned len, const uint8_t *first, const uint8_t *last, bool inv, struct xaddr *ret) {
        int plen = pst_range_prefix(first, last, len);

        *ret = (struct xaddr) { .inv = inv };
        if (plen >= 0) {
                ret->kind = XA_NET;
                memcpy(ret->a, first, len);
                iptc_prefix_mask(ret->b, len, (unsigned) plen);
        } else {
                ret->kind = XA_RANGE;
                memcpy(ret->a, first, len);
                memcpy(ret->b, last, len);
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

/* ---- sets: an ipset, or one rule per element ---- */

/* The ipset type that fits IR set s, in x; false: s is written as rules. */
static bool ipset_type(const struct iptc_plan *p, const struct pst_set *s, struct xset *x) {
        int side;

        if (!p->use_ipset)
                return false;
        if (s->nfields == 1 && is_addr_field(s->fields[0])) {
                if ((s->flags & PST_SET_ANON) && s->n <= PST_IPTC_INLINE_MAX)
                        return false; /* a few rules read better than a set */
                x->type = XS_NET;
                return true;
        }
        side = ipportnet_host_side(s);
        if (side < 0)
                return false;
        x->type = XS_IPPORTNET;
        x->ip_is_dst = side == 1;
        x->proto = s->fields[2] == PST_F_TCP_DPORT ? IPPROTO_TCP : IPPROTO_UDP;
        return true;
}

/* x->name for planned set x of IR set s (x->entries already known). */
static int xset_name(const struct iptc_plan *p, const struct pst_set *s, struct xset *x) {
        _cleanup_free_ char *text = NULL;
        size_t tlen = 0;
        FILE *m;
        char body[15];

        if (x->dynamic && strlen(PST_IPTC_PREFIX) + strlen(s->name) < IPSET_MAXNAMELEN) {
                snprintf(x->name, sizeof(x->name), "%s%s", PST_IPTC_PREFIX, s->name);
                return 0;
        }
        set_body(s->name, 14, body);
        if (x->dynamic) { /* a fixed name: refilled by swap */
                snprintf(x->name, sizeof(x->name), "%s%s-%08x", PST_IPTC_PREFIX, body,
                         iptc_hash(s->name, strlen(s->name), IPTC_HASH_INIT));
                return 0;
        }
        /* named by content: a changed set gets a new name, so a live
         * ruleset never sees its set change under it */
        m = open_memstream(&text, &tlen);
        if (!m)
                return -ENOMEM;
        iptc_set_text(p, x, "-", false, m);
        if (fclose(m) != 0)
                return -ENOMEM;
        snprintf(x->name, sizeof(x->name), "%s%s-%08x", PST_IPTC_PREFIX, body, iptc_hash(text, tlen, IPTC_HASH_INIT));
        return 0;
}

/* The index of x among the plan's sets, added unless an equal one is there. */
static int plan_add_set(struct iptc_plan *p, const struct xset *x, int *ret) {
        int r;

        /* two anonymous sets with the same contents are one ipset */
        for (size_t i = 0; i < p->nsets; i++)
                if (streq(p->sets[i].name, x->name)) {
                        *ret = (int) i;
                        return 0;
                }
        r = GROW(p->sets, p->capsets, p->nsets + 1, PST_SETS_MAX);
        if (r < 0)
                return r;
        p->sets[p->nsets] = *x;
        *ret = (int) p->nsets++;
        return 0;
}

/* IR set s goes out as one rule per element: refused beyond PST_IPTC_NOIPSET_MAX. */
static int check_inline_set(struct builder *b, const struct pst_set *s) {
        if (s->n <= PST_IPTC_NOIPSET_MAX || set_family(s) < 0)
                return 0;
        return pst_error(b->diag, -E2BIG, pst_origin_file(b->rs, b->r->origin), b->r->origin.line,
                         "iptables backend: %s%s%s has %zu elements; without ipset (%s) at most %u elements "
                         "of a set are written as individual rules",
                         s->name[0] ? "set '" : "an address set", s->name, s->name[0] ? "'" : "", s->n,
                         b->p->use_ipset      ? "no ipset type fits this set"
                         : b->p->why_no_ipset ? b->p->why_no_ipset
                                              : "no ipset tool, no ip_set in the kernel, or ipset disabled",
                         PST_IPTC_NOIPSET_MAX);
}

#define NO_PINHOLES                                                                                  \
        "iptables backend: rpc pinholes need the nftables backend (a set whose elements the endpoint " \
        "mapper's replies add and that expire)"

/*
 * The ipset for IR set si, created on first use; -1 (in *ret) when the set
 * is written as rules instead.  An error when it can be neither.
 */
static int choose_ipset(struct builder *b, uint32_t si, int *ret) {
        struct iptc_plan *p = b->p;
        const struct pst_set *s = &b->rs->sets[si];
        struct xset x = { .irset = si, .xf = set_family(s), .dynamic = s->flags & PST_SET_DYNAMIC };
        int r, is;

        if (p->ipset_of[si] != -2) {
                *ret = p->ipset_of[si];
                return 0;
        }
        if (s->flags & PST_SET_TIMEOUT)
                return pst_error(b->diag, -EOPNOTSUPP, pst_origin_file(b->rs, s->origin), s->origin.line,
                                 NO_PINHOLES);
        if (!ipset_type(p, s, &x)) {
                r = check_inline_set(b, s);
                if (r < 0)
                        return r;
                *ret = p->ipset_of[si] = -1;
                return 0;
        }
        x.entries = iptc_set_entries(s, &x);
        if (x.entries > PST_IPTC_IPSET_ELEMS_MAX)
                return pst_error(b->diag, -E2BIG, pst_origin_file(b->rs, s->origin), s->origin.line,
                                 "iptables backend: set '%s' needs %llu ipset entries; at most %u are allowed",
                                 s->name[0] ? s->name : "(anonymous)", (unsigned long long) x.entries,
                                 PST_IPTC_IPSET_ELEMS_MAX);
        r = xset_name(p, s, &x);
        if (r < 0)
                return r;
        r = plan_add_set(p, &x, &is);
        if (r < 0)
                return r;
        *ret = p->ipset_of[si] = is;
        return 0;
}

/* ---- expansion ---- */

static int emit(struct builder *b, const struct xrule *x) {
        struct xfamily *fam = &b->p->fam[b->xf];
        int r;

        if (x->verdict.kind == PST_V_NONE && !pst_rule_logs(b->r) && b->r->nat.kind == PST_NAT_NONE)
                return 0; /* matches without a statement: nothing to do */
        if (b->r->nat.kind != PST_NAT_NONE && (x->verdict.kind != PST_V_NONE || pst_rule_logs(b->r)))
                return rule_error(b, -EOPNOTSUPP, "a NAT rule that also logs or has a verdict", NULL);
        if (x->verdict.kind != PST_V_NONE && pst_rule_logs(b->r))
                return rule_error(b, -EOPNOTSUPP, "a rule that both logs and has a verdict", NULL);
        if (b->r->ct_stamp)
                return rule_error(b, -EOPNOTSUPP, "options.rematch (a ct mark set statement)", NULL);
        if (x->verdict.kind == PST_V_QUEUE) /* only rpc pinholes queue, and the policy check refuses them first */
                return rule_error(b, -EOPNOTSUPP, "a queue verdict (NFQUEUE)", NULL);
        r = GROW(fam->rules, fam->cap, fam->n + 1, PST_IPTC_RULES_MAX);
        if (r < 0)
                return rule_error(b, r, "too many xtables rules (sets written as rules multiply them)", NULL);
        fam->rules[fam->n++] = *x;
        if (pst_hook_is_nat(b->rs->chains[x->chain].hook))
                b->p->has_nat[b->xf] = true;
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

static int apply_ifname(struct builder *b, struct xrule *x, enum pst_field f, const uint8_t *first,
                        const uint8_t *last, bool neg) {
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

static int apply_l4proto(struct builder *b, struct xrule *x, const uint8_t *first, const uint8_t *last, bool neg) {
        if (first[0] != last[0])
                return rule_error(b, -EOPNOTSUPP, "a protocol range", NULL);
        /* ICMPv4 inside IPv6 and ICMPv6 inside IPv4 do not exist:
         * "meta l4proto { icmp, ipv6-icmp }" is -p icmp in iptables
         * and -p ipv6-icmp in ip6tables */
        if (!neg && ((b->xf == XF_6 && first[0] == IPPROTO_ICMP) || (b->xf == XF_4 && first[0] == IPPROTO_ICMPV6)))
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
}

static int apply_addr(struct builder *b, struct xrule *x, enum pst_field f, const uint8_t *first,
                      const uint8_t *last, bool neg) {
        bool v4 = f == PST_F_IP_SADDR || f == PST_F_IP_DADDR;
        struct xaddr *a = is_src_field(f) ? &x->src : &x->dst;

        if (v4 != (b->xf == XF_4))
                return 0;
        if (a->kind != XA_NONE)
                return rule_error(b, -EOPNOTSUPP, "two matches on one address", NULL);
        xaddr_from_range(iptc_addr_len(b->xf), first, last, neg, a);
        return 1;
}

static int apply_dport(struct builder *b, struct xrule *x, enum pst_field f, const uint8_t *first,
                       const uint8_t *last, bool neg) {
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
}

static int apply_icmp(struct builder *b, struct xrule *x, enum pst_field f, const uint8_t *first,
                      const uint8_t *last, bool neg) {
        if ((f == PST_F_ICMP_TYPE) != (b->xf == XF_4))
                return 0;
        if (!need_proto(x, f == PST_F_ICMP_TYPE ? IPPROTO_ICMP : IPPROTO_ICMPV6))
                return 0;
        if (x->icmp_type >= 0 || first[0] != last[0])
                return rule_error(b, -EOPNOTSUPP, "this ICMP type match", NULL);
        x->icmp_type = first[0];
        x->icmp_inv = neg;
        return 1;
}

static int apply_ctstate(struct builder *b, struct xrule *x, const uint8_t *value, bool neg) {
        uint32_t v;

        memcpy(&v, value, 4);
        if (x->ctstate)
                return rule_error(b, -EOPNOTSUPP, "two ct state matches", NULL);
        x->ctstate = ct_bits(v);
        x->ct_inv = neg;
        return 1;
}

/* ct status dnat (the port forwards' implied forward accept) is
 * --ctstate DNAT: xt_conntrack tests IPS_DST_NAT for it, as nft's ct status */
static int apply_ctstatus(struct builder *b, struct xrule *x, const uint8_t *value, bool neg) {
        uint32_t v;

        memcpy(&v, value, 4);
        if (v != IPS_DST_NAT || neg)
                return rule_error(b, -EOPNOTSUPP, "a ct status match other than dnat", NULL);
        /* xt_conntrack ORs the bits of one --ctstate: DNAT with a state would widen it */
        if (x->ctstate)
                return rule_error(b, -EOPNOTSUPP, "ct status dnat together with a ct state match", NULL);
        x->ctstate |= XT_CONNTRACK_STATE_DNAT;
        return 1;
}

/*
 * Constrain x by "field in [first, last]" (negated: not in).  Returns 1,
 * 0 when the alternative cannot match in this family, or a negative errno.
 */
static int apply_field(struct builder *b, struct xrule *x, enum pst_field f, const uint8_t *first,
                       const uint8_t *last, bool neg) {
        switch (f) {
        case PST_F_IIFNAME:
        case PST_F_OIFNAME:
                return apply_ifname(b, x, f, first, last, neg);
        case PST_F_NFPROTO: {
                bool in = first[0] <= xf_nfproto(b->xf) && xf_nfproto(b->xf) <= last[0];

                return in != neg;
        }
        case PST_F_L4PROTO:
                return apply_l4proto(b, x, first, last, neg);
        case PST_F_IP_SADDR:
        case PST_F_IP_DADDR:
        case PST_F_IP6_SADDR:
        case PST_F_IP6_DADDR:
                return apply_addr(b, x, f, first, last, neg);
        case PST_F_TCP_DPORT:
        case PST_F_UDP_DPORT:
                return apply_dport(b, x, f, first, last, neg);
        case PST_F_ICMP_TYPE:
        case PST_F_ICMP6_TYPE:
                return apply_icmp(b, x, f, first, last, neg);
        case PST_F_CT_STATE:
                return apply_ctstate(b, x, first, neg);
        case PST_F_CT_DIRECTION:
        case PST_F_CT_STAMP:
                /* options.rematch; the loader refuses it with backend = "iptables" */
                return rule_error(b, -EOPNOTSUPP, "options.rematch (a ct mark match)", NULL);
        case PST_F_CT_STATUS:
                return apply_ctstatus(b, x, first, neg);
        case PST_F_TCP_SPORT: /* only the rpc pinholes' reply copies */
                return pst_error(b->diag, -EOPNOTSUPP, pst_origin_file(b->rs, b->r->origin), b->r->origin.line,
                                 NO_PINHOLES);
        case _PST_F_MAX:
                break;
        }
        return rule_error(b, -EOPNOTSUPP, "a match on this field", NULL);
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

/*
 * The nat chains go to table nat, every other chain to table filter: a nat
 * rule may not jump (no nat chain but the two base chains exists, and a
 * jump across tables does not), and a NAT statement stands only in them.
 */
static int check_nat(const struct pst_ruleset *rs, struct pst_diag *diag) {
        for (size_t c = 0; c < rs->nchains; c++)
                for (size_t i = 0; i < rs->chains[c].n; i++) {
                        const struct pst_rule *ir = &rs->chains[c].rules[i];
                        bool nat = pst_hook_is_nat(rs->chains[c].hook);

                        if (nat ? ir->verdict.kind == PST_V_JUMP || ir->verdict.kind == PST_V_GOTO
                                : ir->nat.kind != PST_NAT_NONE)
                                return pst_error(diag, -EOPNOTSUPP, pst_origin_file(rs, ir->origin),
                                                 ir->origin.line, "iptables backend: %s",
                                                 nat ? "a jump from a nat chain" : "NAT outside a nat chain");
                }
        return 0;
}

int iptc_plan_build(const struct pst_ruleset *rs, bool use_ipset, const char *why_no_ipset, struct pst_diag *diag,
                    struct iptc_plan **ret) {
        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;
        struct builder b = { .rs = rs, .diag = diag };
        int r;

        r = check_nat(rs, diag);
        if (r < 0)
                return r;
        /* Only input rules' rpc replies make an output chain, and the pinhole
         * set they fill is refused below anyway; refused here too, so that no
         * such chain ever reaches iptables (which has no name for it, and
         * whose OUTPUT postern leaves alone). */
        for (size_t i = 0; i < rs->nchains; i++)
                if (rs->chains[i].hook == PST_HOOK_OUTPUT) {
                        const struct pst_rule *ir = rs->chains[i].n ? &rs->chains[i].rules[0] : NULL;

                        return pst_error(diag, -EOPNOTSUPP, ir ? pst_origin_file(rs, ir->origin) : NULL,
                                         ir ? ir->origin.line : 0, NO_PINHOLES);
                }
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->rs = rs;
        p->use_ipset = use_ipset;
        p->why_no_ipset = why_no_ipset;
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

                                int max = ir->log_nflog ? NFLOG_PREFIX_MAX : LOG_PREFIX_MAX;

                                if (strlen(ir->log_prefix) > (size_t) max)
                                        return pst_error(diag, -E2BIG, pst_origin_file(rs, ir->origin),
                                                         ir->origin.line,
                                                         "iptables backend: log prefix \"%s\" is %zu bytes; the "
                                                         "%s target takes at most %d",
                                                         ir->log_prefix, strlen(ir->log_prefix),
                                                         ir->log_nflog ? "NFLOG" : "LOG", max);
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

int iptc_plan_one_set(const struct pst_ruleset *rs, uint32_t si, struct pst_diag *diag, struct iptc_plan **ret,
                      int *ret_set) {
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
