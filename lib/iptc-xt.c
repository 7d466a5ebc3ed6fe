/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One planned xtables rule in both its forms: the -A line iptables-save
 * prints, and the struct ipt_entry / ip6t_entry (with its matches and
 * target) that libiptc appends.  Pure: nothing here talks to the kernel.
 *
 * Each part of a rule we write — the ip part of the entry, each match,
 * each target — is one row of xt_parts[], which holds when it is present
 * and its text and binary writers side by side (as iptables keeps each
 * match's print/save and its binary layout in one libxt_<name>.c, and
 * libnftnl one expression per file).  iptc_rule_text() and
 * iptc_rule_entry() are the same walk over that table, so a match cannot
 * be added to one form and forgotten in the other.
 *
 * The order of xt_parts[] is the order of the matches in the entry, and
 * iptables-save prints an entry's matches in the order they stand in it:
 * it is therefore also the order of the text, byte for byte.  The golden
 * files (tests/golden/examples-iptc) and tests/kernel/iptc.sh (our text
 * == iptables-legacy-save of our entries) hold it there.
 */
#include <net/if.h> /* before any <linux/if.h> */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_LOG.h>
#include <linux/netfilter/xt_NFLOG.h>
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

#include "iptc-internal.h"
#include "nflog.h"

#define LOG_LEVEL_DEFAULT 4 /* warning: nft's log default, and LOG's */
#define LIMIT_BURST 5       /* nft's default burst, and xt_limit's */

/* What a writer looks at: one rule of one family, and which instance of a
 * part that may stand in it more than once (set). */
struct xt_ctx {
        const struct iptc_plan *p;
        int xf;
        const struct xrule *x;
        unsigned i;
};

/* ---- text helpers (iptables' own spelling) ---- */

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

/* " !" before an option when inverted, as iptables-save puts it */
static const char *bang(bool inv) {
        return inv ? " !" : "";
}

/* ---- the ip part: -s -d -i -o -p, in struct ipt_ip / ip6t_ip6 ---- */

static int mask_to_cidr(const uint8_t *mask, unsigned len) {
        uint8_t m[16];
        int plen;

        for (plen = 0; plen < (int) len * 8 && (mask[plen / 8] & (0x80 >> (plen % 8))); plen++)
                ;
        iptc_prefix_mask(m, len, (unsigned) plen);
        return memcmp(m, mask, len) == 0 ? plen : -1;
}

static void print_ip(FILE *f, int xf, const char *opt, const struct xaddr *a) {
        int af = xf == XF_4 ? AF_INET : AF_INET6, plen;
        char buf[INET6_ADDRSTRLEN];

        if (a->kind != XA_NET)
                return;
        plen = mask_to_cidr(a->b, iptc_addr_len(xf));
        if (plen == 0 && !a->inv)
                return;
        inet_ntop(af, a->a, buf, sizeof(buf));
        fprintf(f, "%s %s %s/%d", bang(a->inv), opt, buf, plen);
}

static void print_iface(FILE *f, char letter, const char *name, bool inv) {
        if (name[0])
                fprintf(f, "%s -%c %s", bang(inv), letter, name);
}

static unsigned ip_present(const struct xt_ctx *c) {
        return 1;
}

static void ip_text(const struct xt_ctx *c, FILE *f) {
        const struct xrule *x = c->x;
        const char *n;

        print_ip(f, c->xf, "-s", &x->src);
        print_ip(f, c->xf, "-d", &x->dst);
        print_iface(f, 'i', x->iif, x->iif_inv);
        print_iface(f, 'o', x->oif, x->oif_inv);
        if (x->proto <= 0)
                return;
        n = proto_name(x->proto);
        fprintf(f, "%s -p ", bang(x->proto_inv));
        if (n)
                fputs(n, f);
        else
                fprintf(f, "%d", x->proto);
}

/* the kernel compares the address already masked */
static void put_net(const struct xaddr *a, unsigned len, void *ret_addr, void *ret_mask) {
        uint8_t *addr = ret_addr;

        memcpy(ret_mask, a->b, len);
        for (unsigned i = 0; i < len; i++)
                addr[i] = a->a[i] & a->b[i];
}

static void put_iface(const char *name, char *ret_iface, unsigned char *ret_mask) {
        size_t l = strlen(name);

        if (!l)
                return;
        /* as iptables stores it: "ppp+" keeps its '+', the mask covers
         * "ppp"; an exact name's mask covers its NUL too */
        strcpy(ret_iface, name);
        memset(ret_mask, 0xff, name[l - 1] == '+' ? l - 1 : l + 1);
}

static void ip4_entry(const struct xrule *x, struct ipt_ip *ip) {
        if (x->src.kind == XA_NET) {
                put_net(&x->src, 4, &ip->src, &ip->smsk);
                ip->invflags |= x->src.inv ? IPT_INV_SRCIP : 0;
        }
        if (x->dst.kind == XA_NET) {
                put_net(&x->dst, 4, &ip->dst, &ip->dmsk);
                ip->invflags |= x->dst.inv ? IPT_INV_DSTIP : 0;
        }
        put_iface(x->iif, ip->iniface, ip->iniface_mask);
        put_iface(x->oif, ip->outiface, ip->outiface_mask);
        ip->invflags |= (x->iif_inv ? IPT_INV_VIA_IN : 0) | (x->oif_inv ? IPT_INV_VIA_OUT : 0);
        if (x->proto > 0) {
                ip->proto = (uint16_t) x->proto;
                ip->invflags |= x->proto_inv ? XT_INV_PROTO : 0;
        }
        /* -g is a flag of the ip part; the target only names the chain */
        if (x->verdict.kind == PST_V_GOTO)
                ip->flags |= IPT_F_GOTO;
}

static void ip6_entry(const struct xrule *x, struct ip6t_ip6 *ip) {
        if (x->src.kind == XA_NET) {
                put_net(&x->src, 16, &ip->src, &ip->smsk);
                ip->invflags |= x->src.inv ? IP6T_INV_SRCIP : 0;
        }
        if (x->dst.kind == XA_NET) {
                put_net(&x->dst, 16, &ip->dst, &ip->dmsk);
                ip->invflags |= x->dst.inv ? IP6T_INV_DSTIP : 0;
        }
        put_iface(x->iif, ip->iniface, ip->iniface_mask);
        put_iface(x->oif, ip->outiface, ip->outiface_mask);
        ip->invflags |= (x->iif_inv ? IP6T_INV_VIA_IN : 0) | (x->oif_inv ? IP6T_INV_VIA_OUT : 0);
        if (x->proto > 0) {
                /* ip6tables looks at the protocol only with this flag */
                ip->flags |= IP6T_F_PROTO;
                ip->proto = (uint16_t) x->proto;
                ip->invflags |= x->proto_inv ? XT_INV_PROTO : 0;
        }
        if (x->verdict.kind == PST_V_GOTO)
                ip->flags |= IP6T_F_GOTO;
}

static void ip_entry(const struct xt_ctx *c, void *entry) {
        if (c->xf == XF_4)
                ip4_entry(c->x, &((struct ipt_entry *) entry)->ip);
        else
                ip6_entry(c->x, &((struct ip6t_entry *) entry)->ipv6);
}

/* ---- iprange: address ranges that are not one network ---- */

static unsigned iprange_present(const struct xt_ctx *c) {
        return c->x->src.kind == XA_RANGE || c->x->dst.kind == XA_RANGE;
}

static void print_range(FILE *f, int xf, const char *opt, const struct xaddr *a) {
        int af = xf == XF_4 ? AF_INET : AF_INET6;
        char first[INET6_ADDRSTRLEN], last[INET6_ADDRSTRLEN];

        if (a->kind == XA_RANGE)
                fprintf(f, "%s %s %s-%s", bang(a->inv), opt, inet_ntop(af, a->a, first, sizeof(first)),
                        inet_ntop(af, a->b, last, sizeof(last)));
}

static void iprange_text(const struct xt_ctx *c, FILE *f) {
        print_range(f, c->xf, "--src-range", &c->x->src);
        print_range(f, c->xf, "--dst-range", &c->x->dst);
}

static void iprange_entry(const struct xt_ctx *c, void *data) {
        const struct xrule *x = c->x;
        struct xt_iprange_mtinfo *r = data;
        unsigned len = iptc_addr_len(c->xf);

        if (x->src.kind == XA_RANGE) {
                memcpy(&r->src_min, x->src.a, len);
                memcpy(&r->src_max, x->src.b, len);
                r->flags |= IPRANGE_SRC | (x->src.inv ? IPRANGE_SRC_INV : 0);
        }
        if (x->dst.kind == XA_RANGE) {
                memcpy(&r->dst_min, x->dst.a, len);
                memcpy(&r->dst_max, x->dst.b, len);
                r->flags |= IPRANGE_DST | (x->dst.inv ? IPRANGE_DST_INV : 0);
        }
}

/* ---- set: one per ipset the rule looks up ---- */

static unsigned set_present(const struct xt_ctx *c) {
        return c->x->nsetm;
}

static void set_text(const struct xt_ctx *c, FILE *f) {
        const struct xsetmatch *sm = &c->x->setm[c->i];

        fprintf(f, "%s --match-set %s", bang(sm->flags & IPSET_INV_MATCH), c->p->sets[sm->set].name);
        for (unsigned d = 1; d <= sm->dim; d++)
                fprintf(f, "%s%s", d == 1 ? " " : ",", sm->flags & (1 << d) ? "src" : "dst");
}

static void set_entry(const struct xt_ctx *c, void *data) {
        const struct xsetmatch *sm = &c->x->setm[c->i];
        struct xt_set_info_match_v4 *m = data;

        m->match_set.index = c->p->sets[sm->set].index;
        m->match_set.dim = sm->dim;
        m->match_set.flags = sm->flags;
}

/* ---- ipv6header: IPv6 AH (see apply_field() in iptc-plan.c for why not -p ah) ---- */

static unsigned ipv6header_present(const struct xt_ctx *c) {
        return c->x->ah6;
}

static void ipv6header_text(const struct xt_ctx *c, FILE *f) {
        fputs(" --header ah --soft", f);
}

static void ipv6header_entry(const struct xt_ctx *c, void *data) {
        struct ip6t_ipv6header_info *h = data;

        h->matchflags = MASK_AH;
        h->modeflag = 1; /* --soft: AH among the headers, others allowed */
}

/* ---- multiport: port sets, 15 slots a rule ---- */

static unsigned multiport_present(const struct xt_ctx *c) {
        return c->x->port_field && c->x->multiport;
}

static void multiport_text(const struct xt_ctx *c, FILE *f) {
        const struct xrule *x = c->x;

        fprintf(f, "%s --dports ", bang(x->ports_inv));
        for (unsigned i = 0; i < x->nports; i++) {
                fprintf(f, "%s%u", i ? "," : "", x->ports[i]);
                if (x->pflags[i])
                        fprintf(f, ":%u", x->ports[++i]);
        }
}

static void multiport_entry(const struct xt_ctx *c, void *data) {
        const struct xrule *x = c->x;
        struct xt_multiport_v1 *mp = data;

        mp->flags = XT_MULTIPORT_DESTINATION;
        mp->count = x->nports;
        memcpy(mp->ports, x->ports, sizeof(mp->ports));
        memcpy(mp->pflags, x->pflags, sizeof(mp->pflags));
        mp->invert = x->ports_inv;
}

/* ---- tcp, udp: one port or one range ---- */

static unsigned tcp_present(const struct xt_ctx *c) {
        return c->x->port_field == PST_F_TCP_DPORT && !c->x->multiport;
}

static unsigned udp_present(const struct xt_ctx *c) {
        return c->x->port_field == PST_F_UDP_DPORT && !c->x->multiport;
}

static void dport_text(const struct xt_ctx *c, FILE *f) {
        const struct xrule *x = c->x;

        if (x->ports[0] == x->ports[1])
                fprintf(f, "%s --dport %u", bang(x->ports_inv), x->ports[0]);
        else
                fprintf(f, "%s --dport %u:%u", bang(x->ports_inv), x->ports[0], x->ports[1]);
}

static void tcp_entry(const struct xt_ctx *c, void *data) {
        struct xt_tcp *t = data;

        t->spts[1] = 0xffff;
        t->dpts[0] = c->x->ports[0];
        t->dpts[1] = c->x->ports[1];
        t->invflags = c->x->ports_inv ? XT_TCP_INV_DSTPT : 0;
}

static void udp_entry(const struct xt_ctx *c, void *data) {
        struct xt_udp *u = data;

        u->spts[1] = 0xffff;
        u->dpts[0] = c->x->ports[0];
        u->dpts[1] = c->x->ports[1];
        u->invflags = c->x->ports_inv ? XT_UDP_INV_DSTPT : 0;
}

/* ---- icmp (IPv4), icmp6 (IPv6): one type, any code ---- */

static unsigned icmp_present(const struct xt_ctx *c) {
        return c->x->icmp_type >= 0 && c->xf == XF_4;
}

static unsigned icmp6_present(const struct xt_ctx *c) {
        return c->x->icmp_type >= 0 && c->xf == XF_6;
}

static void icmp_text(const struct xt_ctx *c, FILE *f) {
        fprintf(f, "%s --icmp-type %d", bang(c->x->icmp_inv), c->x->icmp_type);
}

static void icmp6_text(const struct xt_ctx *c, FILE *f) {
        fprintf(f, "%s --icmpv6-type %d", bang(c->x->icmp_inv), c->x->icmp_type);
}

static void icmp_entry(const struct xt_ctx *c, void *data) {
        struct ipt_icmp *ic = data;

        ic->type = (uint8_t) c->x->icmp_type;
        ic->code[1] = 0xff;
        ic->invflags = c->x->icmp_inv ? IPT_ICMP_INV : 0;
}

static void icmp6_entry(const struct xt_ctx *c, void *data) {
        struct ip6t_icmp *ic = data;

        ic->type = (uint8_t) c->x->icmp_type;
        ic->code[1] = 0xff;
        ic->invflags = c->x->icmp_inv ? IP6T_ICMP_INV : 0;
}

/* ---- conntrack: --ctstate ---- */

static unsigned conntrack_present(const struct xt_ctx *c) {
        return c->x->ctstate != 0;
}

static void conntrack_text(const struct xt_ctx *c, FILE *f) {
        static const struct {
                uint16_t bit;
                const char *name;
        } st[] = {
                { XT_CONNTRACK_STATE_INVALID, "INVALID" },
                { XT_CONNTRACK_STATE_BIT(IP_CT_NEW), "NEW" },
                { XT_CONNTRACK_STATE_BIT(IP_CT_RELATED), "RELATED" },
                { XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED), "ESTABLISHED" },
                { XT_CONNTRACK_STATE_UNTRACKED, "UNTRACKED" },
                { XT_CONNTRACK_STATE_DNAT, "DNAT" },
        };
        const char *sep = " ";

        fprintf(f, "%s --ctstate", bang(c->x->ct_inv));
        for (size_t i = 0; i < ELEMENTSOF(st); i++)
                if (c->x->ctstate & st[i].bit) {
                        fprintf(f, "%s%s", sep, st[i].name);
                        sep = ",";
                }
}

static void conntrack_entry(const struct xt_ctx *c, void *data) {
        struct xt_conntrack_mtinfo3 *ct = data;

        ct->match_flags = XT_CONNTRACK_STATE;
        ct->invert_flags = c->x->ct_inv ? XT_CONNTRACK_STATE : 0;
        ct->state_mask = c->x->ctstate;
}

/* ---- limit: the rule's log rate ---- */

static uint32_t limit_avg(uint32_t per_minute) {
        return XT_LIMIT_SCALE * 60 / per_minute;
}

static unsigned limit_present(const struct xt_ctx *c) {
        return c->x->ir->limit_per_minute != 0;
}

/* libxt_limit's print_rate() */
static void limit_text(const struct xt_ctx *c, FILE *f) {
        static const struct {
                const char *name;
                uint32_t mult;
        } rates[] = { { "day", XT_LIMIT_SCALE * 24 * 60 * 60 }, { "hour", XT_LIMIT_SCALE * 60 * 60 },
                      { "min", XT_LIMIT_SCALE * 60 },           { "sec", XT_LIMIT_SCALE } };
        uint32_t period = limit_avg(c->x->ir->limit_per_minute);
        unsigned i;

        for (i = 1; i < ELEMENTSOF(rates); ++i)
                if (period > rates[i].mult || rates[i].mult / period < rates[i].mult % period)
                        break;
        fprintf(f, " --limit %u/%s", rates[i - 1].mult / period, rates[i - 1].name);
}

static void limit_entry(const struct xt_ctx *c, void *data) {
        struct xt_rateinfo *ri = data;

        ri->avg = limit_avg(c->x->ir->limit_per_minute);
        ri->burst = LIMIT_BURST;
}

/* ---- comment ---- */

static unsigned comment_present(const struct xt_ctx *c) {
        return c->x->ir->comment[0] != 0;
}

static void comment_text(const struct xt_ctx *c, FILE *f) {
        fputs(" --comment", f);
        save_string(f, c->x->ir->comment);
}

static void comment_entry(const struct xt_ctx *c, void *data) {
        struct xt_comment_info *ci = data;

        snprintf(ci->comment, sizeof(ci->comment), "%s", c->x->ir->comment);
}

/* ---- LOG: a rule that logs has no verdict (the planner makes sure) ---- */

static unsigned log_present(const struct xt_ctx *c) {
        return c->x->ir->log_prefix[0] != 0 && !c->x->ir->log_nflog;
}

static void log_text(const struct xt_ctx *c, FILE *f) {
        fputs(" --log-prefix", f);
        save_string(f, c->x->ir->log_prefix);
}

static void log_entry(const struct xt_ctx *c, void *data) {
        struct xt_log_info *li = data;
        const char *prefix = c->x->ir->log_prefix;

        li->level = LOG_LEVEL_DEFAULT;
        memcpy(li->prefix, prefix, MIN(strlen(prefix), sizeof(li->prefix) - 1));
}

/* ---- NFLOG: options.log_drops (libxt_NFLOG's order: prefix, group, size) ---- */

static unsigned nflog_present(const struct xt_ctx *c) {
        return c->x->ir->log_nflog;
}

static void nflog_text(const struct xt_ctx *c, FILE *f) {
        if (c->x->ir->log_prefix[0]) {
                fputs(" --nflog-prefix", f);
                save_string(f, c->x->ir->log_prefix);
        }
        if (c->x->ir->log_group)
                fprintf(f, " --nflog-group %u", c->x->ir->log_group);
        fprintf(f, " --nflog-size %u", PST_NFLOG_SNAPLEN);
}

static void nflog_entry(const struct xt_ctx *c, void *data) {
        struct xt_nflog_info *ni = data;
        const char *prefix = c->x->ir->log_prefix;

        ni->len = PST_NFLOG_SNAPLEN;
        ni->group = c->x->ir->log_group;
        ni->threshold = XT_NFLOG_DEFAULT_THRESHOLD;
        ni->flags = XT_NFLOG_F_COPY_LEN;
        memcpy(ni->prefix, prefix, MIN(strlen(prefix), sizeof(ni->prefix) - 1));
}

/* ---- MASQUERADE, SNAT, DNAT: the NAT statement of a rule in a nat chain ----
 * The revisions iptables(8) 1.8 itself writes, so iptables-save prints ours
 * alike: MASQUERADE 0 and SNAT 0 for IPv4 (nf_nat_ipv4_multi_range_compat,
 * one range), MASQUERADE 0 and SNAT 1 for IPv6 (nf_nat_range), DNAT 2 for
 * both (nf_nat_range2; iptables-save 1.8.9 prints no IPv4 DNAT 0). */

static bool nat_is(const struct xt_ctx *c, int xf, enum pst_nat_kind kind) {
        return c->xf == xf && c->x->ir->nat.kind == kind;
}

/* one present() per target row: the row's family and kind */
#define NAT_PRESENT(fn, xf, kind)                         \
        static unsigned fn(const struct xt_ctx *c) {      \
                return nat_is(c, xf, kind);               \
        }
NAT_PRESENT(masq4_present, XF_4, PST_NAT_MASQ)
NAT_PRESENT(masq6_present, XF_6, PST_NAT_MASQ)
NAT_PRESENT(snat4_present, XF_4, PST_NAT_SNAT)
NAT_PRESENT(snat6_present, XF_6, PST_NAT_SNAT)

static unsigned dnat_present(const struct xt_ctx *c) {
        return c->x->ir->nat.kind == PST_NAT_DNAT;
}

static void masq_text(const struct xt_ctx *c, FILE *f) {
        (void) c;
        (void) f;
}

/* " --to-source 198.18.0.9", " --to-destination [2001:db8::10]:443" */
static void nat_to_text(const struct xt_ctx *c, FILE *f) {
        const struct pst_nat *n = &c->x->ir->nat;
        char buf[INET6_ADDRSTRLEN];

        inet_ntop(c->xf == XF_4 ? AF_INET : AF_INET6, n->addr, buf, sizeof(buf));
        fprintf(f, " --to-%s ", n->kind == PST_NAT_SNAT ? "source" : "destination");
        if (n->port && c->xf == XF_6)
                fprintf(f, "[%s]:%u", buf, n->port);
        else if (n->port)
                fprintf(f, "%s:%u", buf, n->port);
        else
                fputs(buf, f);
}

static void nat4_entry(const struct xt_ctx *c, void *data) {
        struct nf_nat_ipv4_multi_range_compat *mr = data;
        const struct pst_nat *n = &c->x->ir->nat;

        mr->rangesize = 1;
        if (n->kind == PST_NAT_MASQ)
                return;
        mr->range[0].flags = NF_NAT_RANGE_MAP_IPS;
        memcpy(&mr->range[0].min_ip, n->addr, 4);
        memcpy(&mr->range[0].max_ip, n->addr, 4);
        if (n->port) {
                mr->range[0].flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
                mr->range[0].min.all = mr->range[0].max.all = htons(n->port);
        }
}

/* nf_nat_range, or nf_nat_range2 (the same first fields) */
static void nat_range_entry(const struct xt_ctx *c, void *data) {
        struct nf_nat_range *r = data;
        const struct pst_nat *n = &c->x->ir->nat;
        unsigned len = iptc_addr_len(c->xf);

        if (n->kind == PST_NAT_MASQ)
                return;
        r->flags = NF_NAT_RANGE_MAP_IPS;
        memcpy(&r->min_addr, n->addr, len);
        memcpy(&r->max_addr, n->addr, len);
        if (n->port) {
                r->flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
                r->min_proto.all = r->max_proto.all = htons(n->port);
        }
}

/* ---- the standard target: ACCEPT, DROP, RETURN, or a chain to jump or go to ---- */

static unsigned verdict_present(const struct xt_ctx *c) {
        return !log_present(c) && !nflog_present(c) && c->x->ir->nat.kind == PST_NAT_NONE;
}

/* What the target is called; libiptc turns the name into the verdict or
 * the jump offset.  "" for a rule without a verdict. */
static const char *verdict_name(const struct xt_ctx *c) {
        switch (c->x->verdict.kind) {
        case PST_V_ACCEPT:
                return "ACCEPT";
        case PST_V_DROP:
                return "DROP";
        case PST_V_RETURN:
                return "RETURN";
        case PST_V_JUMP:
        case PST_V_GOTO:
                return c->p->chains[c->x->verdict.chain];
        case PST_V_QUEUE: /* refused by the plan (iptc-plan.c emit) */
        case PST_V_NONE:
                return "";
        }
        return "";
}

static void verdict_text(const struct xt_ctx *c, FILE *f) {
        const char *name = verdict_name(c);

        if (name[0])
                fprintf(f, " -%c %s", c->x->verdict.kind == PST_V_GOTO ? 'g' : 'j', name);
}

/* ---- the table ---- */

enum xt_kind {
        XT_IP,     /* the entry's own struct ipt_ip / ip6t_ip6 */
        XT_MATCH,  /* " -m NAME ...", a struct xt_entry_match */
        XT_TARGET, /* " -j NAME ...", a struct xt_entry_target; NULL name: named by verdict_name() */
};

struct xt_part {
        enum xt_kind kind;
        const char *name;     /* the match or target, in both forms */
        uint8_t revision;     /* the newest both iptables-save and the kernel know: it prints no other */
        size_t size;          /* of the match's or target's data */
        /* how many times the part stands in x: 0 or 1, up to two set matches */
        unsigned (*present)(const struct xt_ctx *c);
        void (*text)(const struct xt_ctx *c, FILE *f);   /* after " -m NAME" / " -j NAME" */
        void (*entry)(const struct xt_ctx *c, void *data); /* data zeroed; NULL: nothing to fill */
};

/* In the order iptables-save prints them (see the top of this file). */
static const struct xt_part xt_parts[] = {
        { XT_IP, NULL, 0, 0, ip_present, ip_text, ip_entry },
        { XT_MATCH, "iprange", 1, sizeof(struct xt_iprange_mtinfo), iprange_present, iprange_text, iprange_entry },
        { XT_MATCH, "set", 4, sizeof(struct xt_set_info_match_v4), set_present, set_text, set_entry },
        { XT_MATCH, "ipv6header", 0, sizeof(struct ip6t_ipv6header_info), ipv6header_present, ipv6header_text,
          ipv6header_entry },
        { XT_MATCH, "multiport", 1, sizeof(struct xt_multiport_v1), multiport_present, multiport_text,
          multiport_entry },
        { XT_MATCH, "tcp", 0, sizeof(struct xt_tcp), tcp_present, dport_text, tcp_entry },
        { XT_MATCH, "udp", 0, sizeof(struct xt_udp), udp_present, dport_text, udp_entry },
        { XT_MATCH, "icmp", 0, sizeof(struct ipt_icmp), icmp_present, icmp_text, icmp_entry },
        { XT_MATCH, "icmp6", 0, sizeof(struct ip6t_icmp), icmp6_present, icmp6_text, icmp6_entry },
        { XT_MATCH, "conntrack", 3, sizeof(struct xt_conntrack_mtinfo3), conntrack_present, conntrack_text,
          conntrack_entry },
        { XT_MATCH, "limit", 0, sizeof(struct xt_rateinfo), limit_present, limit_text, limit_entry },
        { XT_MATCH, "comment", 0, sizeof(struct xt_comment_info), comment_present, comment_text, comment_entry },
        { XT_TARGET, "LOG", 0, sizeof(struct xt_log_info), log_present, log_text, log_entry },
        { XT_TARGET, "NFLOG", 0, sizeof(struct xt_nflog_info), nflog_present, nflog_text, nflog_entry },
        { XT_TARGET, "MASQUERADE", 0, sizeof(struct nf_nat_ipv4_multi_range_compat), masq4_present, masq_text,
          nat4_entry },
        { XT_TARGET, "MASQUERADE", 0, sizeof(struct nf_nat_range), masq6_present, masq_text, nat_range_entry },
        { XT_TARGET, "SNAT", 0, sizeof(struct nf_nat_ipv4_multi_range_compat), snat4_present, nat_to_text,
          nat4_entry },
        { XT_TARGET, "SNAT", 1, sizeof(struct nf_nat_range), snat6_present, nat_to_text, nat_range_entry },
        { XT_TARGET, "DNAT", 2, sizeof(struct nf_nat_range2), dnat_present, nat_to_text, nat_range_entry },
        /* the verdict: an int libiptc fills in from the name */
        { XT_TARGET, NULL, 0, sizeof(int), verdict_present, verdict_text, NULL },
};

void iptc_rule_text(const struct iptc_plan *p, int xf, const struct xrule *x, FILE *f) {
        struct xt_ctx c = { .p = p, .xf = xf, .x = x };

        fprintf(f, "-A %s", p->chains[x->chain]);
        for (size_t k = 0; k < ELEMENTSOF(xt_parts); k++) {
                const struct xt_part *t = &xt_parts[k];
                unsigned n = t->present(&c);

                for (c.i = 0; c.i < n; c.i++) {
                        if (t->kind == XT_MATCH)
                                fprintf(f, " -m %s", t->name);
                        else if (t->kind == XT_TARGET && t->name)
                                fprintf(f, " -j %s", t->name);
                        t->text(&c, f);
                }
        }
}

/* struct xt_entry_match and xt_entry_target: the same header, the same layout */
static void *add_ext(uint8_t *buf, size_t *off, const char *name, uint8_t rev, size_t datalen) {
        struct xt_entry_match *m = (struct xt_entry_match *) (buf + *off);
        size_t size = XT_ALIGN(sizeof(*m)) + XT_ALIGN(datalen);

        memset(m, 0, size);
        m->u.user.match_size = (uint16_t) size;
        snprintf(m->u.user.name, sizeof(m->u.user.name), "%s", name);
        m->u.user.revision = rev;
        *off += size;
        return m->data;
}

size_t iptc_rule_entry(const struct iptc_plan *p, int xf, const struct xrule *x, void *ret_entry) {
        struct xt_ctx c = { .p = p, .xf = xf, .x = x };
        uint8_t *buf = ret_entry;
        size_t off = xf == XF_4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry), target_off = 0;

        memset(buf, 0, IPTC_ENTRY_MAX);
        for (size_t k = 0; k < ELEMENTSOF(xt_parts); k++) {
                const struct xt_part *t = &xt_parts[k];
                unsigned n = t->present(&c);

                for (c.i = 0; c.i < n; c.i++) {
                        void *data = ret_entry;

                        if (t->kind == XT_TARGET)
                                target_off = off;
                        if (t->kind != XT_IP)
                                data = add_ext(buf, &off, t->name ?: verdict_name(&c), t->revision, t->size);
                        if (t->entry)
                                t->entry(&c, data);
                }
        }
        if (xf == XF_4) {
                struct ipt_entry *e = ret_entry;

                e->target_offset = (uint16_t) target_off;
                e->next_offset = (uint16_t) off;
        } else {
                struct ip6t_entry *e = ret_entry;

                e->target_offset = (uint16_t) target_off;
                e->next_offset = (uint16_t) off;
        }
        return off;
}
