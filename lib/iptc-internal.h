/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Inside the iptables backend, room by room:
 *   iptc-plan.c   IR → struct iptc_plan: the xtables rules of each family
 *                 and the ipsets they use, as the plain structs below
 *                 (pure; it decides, it writes nothing out)
 *   iptc-xt.c     one planned rule as iptables-save text and as an xtables
 *                 entry: one table row per match and target, both forms
 *                 side by side (pure)
 *   iptc-ipset.c  one planned ipset as `ipset restore` lines (pure)
 *   iptc-render.c pst_iptc_render(): a whole plan as restore input (pure)
 *   iptc.c        pst_iptc_apply() / pst_iptc_update_set(): a plan into the
 *                 kernel through libiptc and the ipset tool; the only room
 *                 that talks to the kernel
 */

#include <net/if.h>
#include <linux/netfilter/ipset/ip_set.h>

#include "iptc.h"

#define XCHAIN_LEN 29 /* XT_EXTENSION_MAXNAMELEN: iptables refuses longer chain names */

enum { XF_4, XF_6 };

enum xset_type {
        XS_NET,       /* hash:net: one address field */
        XS_IPPORTNET, /* hash:ip,port,net: saddr . daddr . dport with single hosts on one side */
};

/* One ipset the plan needs. */
struct xset {
        char name[IPSET_MAXNAMELEN];
        uint32_t irset;       /* index in rs->sets */
        int xf;               /* XF_4 / XF_6 */
        enum xset_type type;
        bool dynamic;         /* interface addresses: fixed name, refilled by swap */
        bool ip_is_dst;       /* IPPORTNET: the "ip" dimension is the destination */
        uint8_t proto;        /* IPPORTNET: tcp or udp */
        uint64_t entries;     /* kernel entries once ranges are split and port ranges expanded */
        uint16_t index;       /* kernel index (resolved by iptc.c) */
};

enum xaddr_kind {
        XA_NONE,
        XA_NET,   /* a / mask */
        XA_RANGE, /* a - b, with -m iprange */
};

struct xaddr {
        enum xaddr_kind kind;
        bool inv;
        uint8_t a[16], b[16]; /* NET: address, mask; RANGE: first, last */
};

static inline unsigned iptc_addr_len(int xf) {
        return xf == XF_4 ? 4 : 16;
}

/* The mask of a /plen in len bytes. */
static inline void iptc_prefix_mask(uint8_t *mask, unsigned len, unsigned plen) {
        memset(mask, 0, len);
        for (unsigned b = 0; b < plen; b++)
                mask[b / 8] |= (uint8_t) (0x80 >> (b % 8));
}

struct xsetmatch {
        int set; /* index in plan->sets */
        uint8_t dim, flags; /* xt_set_info: flags has IPSET_DIM_n_SRC bits and IPSET_INV_MATCH */
};

/* One xtables rule. */
struct xrule {
        uint32_t chain;                  /* IR chain index */
        const struct pst_rule *ir;       /* limit, log, comment, origin */
        struct xaddr src, dst;
        char iif[IFNAMSIZ], oif[IFNAMSIZ]; /* as iptables writes them: "ppp+" for a wildcard */
        bool iif_inv, oif_inv;
        int proto;                       /* -1: any */
        bool proto_inv;
        bool ah6;                        /* IPv6 AH: -m ipv6header --header ah --soft, not -p ah */
        int port_field;                  /* 0, or PST_F_TCP_DPORT / PST_F_UDP_DPORT: a port match */
        bool multiport, ports_inv;
        uint8_t nports;                  /* multiport: slots used (a range takes two) */
        uint16_t ports[15];              /* single port match: ports[0]..ports[1] */
        uint8_t pflags[15];
        int icmp_type;                   /* -1: none (icmp or icmpv6 by family) */
        bool icmp_inv;
        uint16_t ctstate;                /* xt_conntrack state bits, 0 = no match */
        bool ct_inv;
        uint8_t nsetm;
        struct xsetmatch setm[2];
        struct pst_verdict verdict;
};

struct xfamily {
        size_t n, cap;
        struct xrule *rules; /* in chain order: all rules of chain 0, then chain 1 ... */
};

struct iptc_plan {
        const struct pst_ruleset *rs;
        bool use_ipset;
        const char *why_no_ipset;    /* !use_ipset: why, for errors (NULL: the usual reasons) */
        size_t nsets, capsets;
        struct xset *sets;
        int *ipset_of;               /* per IR set: index in sets, -1 written as rules (-2 while undecided) */
        char (*chains)[XCHAIN_LEN];  /* per IR chain: its xtables name */
        struct xfamily fam[2];
        bool has_nat[2];             /* per family: rules in the nat chains (table nat is written) */
};

/* Does IR chain c live in table nat (else filter)? */
static inline bool iptc_chain_nat(const struct iptc_plan *p, uint32_t c) {
        return pst_hook_is_nat(p->rs->chains[c].hook);
}

/* iptc-plan.c: the plan. */
/* The plan of rs, with ipsets when use_ipset (else every set as rules;
 * why_no_ipset, if not NULL, says why in errors).  On error diag names the
 * rule or set that cannot be written. */
int iptc_plan_build(const struct pst_ruleset *rs, bool use_ipset, const char *why_no_ipset, struct pst_diag *diag,
                    struct iptc_plan **ret);
/* A plan with only the ipset of IR set si (an interface-address set), for
 * an update; *ret_set: that ipset's index in (*ret)->sets. */
int iptc_plan_one_set(const struct pst_ruleset *rs, uint32_t si, struct pst_diag *diag, struct iptc_plan **ret,
                      int *ret_set);
void iptc_plan_free(struct iptc_plan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iptc_plan *, iptc_plan_free);

/* iptc-xt.c: a planned rule in both its forms, written in the same order. */
/* The -A line of one rule, without the newline, exactly as iptables-save prints it. */
void iptc_rule_text(const struct iptc_plan *p, int xf, const struct xrule *x, FILE *f);
/*
 * The xtables entry of one rule (struct ipt_entry or ip6t_entry with its
 * matches and target), in ret_entry (IPTC_ENTRY_MAX bytes, all of them
 * written).  Returns its size.  Jumps carry the target chain's name
 * (libiptc resolves it).
 */
#define IPTC_ENTRY_MAX 2048
size_t iptc_rule_entry(const struct iptc_plan *p, int xf, const struct xrule *x, void *ret_entry);

/* iptc-ipset.c: a planned ipset in ipset's words. */
/* Kernel entries of IR set ir as ipset s (ranges split into networks, port ranges expanded). */
uint64_t iptc_set_entries(const struct pst_set *ir, const struct xset *s);
/* The ipset restore lines that create set s under name (and flush it) and fill it. */
void iptc_set_text(const struct iptc_plan *p, const struct xset *s, const char *name, bool flush, FILE *f);
/* "hash:net family inet hashsize 1024 maxelem 65536" */
void iptc_set_create_args(const struct xset *s, FILE *f);

/* Does this xtables chain name belong to us? */
static inline bool iptc_chain_prefixed(const char *name) {
        return strncmp(name, PST_IPTC_PREFIX, sizeof(PST_IPTC_PREFIX) - 1) == 0;
}

/* The builtin chain of table nat that jumps to nat chain c (PREROUTING / POSTROUTING). */
static inline const char *iptc_nat_builtin(const struct pst_ruleset *rs, uint32_t c) {
        return rs->chains[c].hook == PST_HOOK_PREROUTING ? "PREROUTING" : "POSTROUTING";
}

static inline bool iptc_chain_ours(const char *name) {
        return streq(name, "INPUT") || streq(name, "FORWARD") ||
               strncmp(name, PST_IPTC_PREFIX, sizeof(PST_IPTC_PREFIX) - 1) == 0;
}

/* FNV-1a 32 */
uint32_t iptc_hash(const void *data, size_t len, uint32_t h);
#define IPTC_HASH_INIT 0x811c9dc5u
