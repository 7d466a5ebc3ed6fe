/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The legacy backend: ruleset IR → libiptc (IPv4: libip4tc, IPv6: libip6tc)
 * + ipset, for hosts whose kernel has no nf_tables.  Built when meson finds
 * libip4tc and libip6tc (HAVE_IPTC in config.h).
 *
 *   pst_iptc_render()      IR → iptables-save text (pure: no kernel)
 *   pst_iptc_apply()       IR → filter tables of both families + ipsets
 *   pst_iptc_update_set()  one interface-address set, on an address event
 *
 * What we own, in table "filter" of each family: INPUT and FORWARD (their
 * rules and their policy, DROP) and every chain named "postern-*".  Every
 * other chain (OUTPUT, fail2ban's, docker's ...) is kept as it was, and so
 * is every other table.  Address sets live in ipsets named "postern-*".
 *
 * Atomicity: each family is one iptc_commit (one SO_SET_REPLACE: atomic
 * per table).  IPv4 is committed first, then IPv6; if the IPv6 commit fails
 * the IPv4 table is put back as it was before (its previous rules, copied
 * from the handle taken before our commit, committed again), so no mixed
 * state is left.  Named and large address sets are created under a name
 * that carries a hash of their contents (postern-zone_lan_v4-1a2b3c4d) and
 * filled before the commits, so a live ruleset never sees a set change under
 * it; sets the old rules used and the new ones do not are destroyed after
 * both commits succeeded.  Table nat (only where a family has NAT rules,
 * or holds chains of ours to remove) is committed after both filter tables,
 * IPv4 then IPv6; a refused nat table puts back every table committed
 * before it.  Interface-address sets keep a fixed name
 * (postern-ifaddr_ppp0_v4) and are refilled by `ipset swap`.
 *
 * Mapping of the IR (the same semantics as the nft backend):
 *   chain input / forward      INPUT / FORWARD, policy DROP
 *   chain input_lan            postern-input-lan (names over 28 bytes are
 *                              shortened, with a hash to keep them unique)
 *   ct state vmap              -m conntrack --ctstate per verdict
 *   iifname vmap               one rule per interface: -i eth1 -j postern-input-lan
 *                              (wildcard "ppp*" → -i ppp+)
 *   port sets                  -m multiport --dports, split at 15 ports
 *                              (a range counts as two)
 *   l4proto / icmp type sets   one rule per protocol / type
 *   address sets               ipset hash:net (-m set --match-set NAME src);
 *                              anonymous sets of at most PST_IPTC_INLINE_MAX
 *                              elements are written as one rule per element
 *                              (-s / -m iprange)
 *   saddr . daddr . dport      ipset hash:ip,port,net (the host side is the
 *                              "ip" dimension; this kernel has no
 *                              hash:net,port,net); as rules when neither
 *                              side is made of single hosts
 *   limit + log                -m limit --limit N/min -j LOG --log-prefix
 *   comment                    -m comment --comment
 *   nat chains prerouting /    table nat: postern-prerouting / -postrouting,
 *   postrouting                one jump each, first in PREROUTING /
 *                              POSTROUTING (other tools' nat rules stay);
 *                              -j MASQUERADE, SNAT --to-source, DNAT
 *                              --to-destination ADDR[:PORT]
 *   ct status dnat             -m conntrack --ctstate DNAT
 *
 * Without ipset (no tool or no ip_set in the kernel) every set is written
 * as rules, up to PST_IPTC_NOIPSET_MAX elements per set; a larger one is an
 * error that names the set, its size and the limit.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "ir.h"

#define PST_IPTC_PREFIX "postern-"
#define PST_IPTC_INLINE_MAX 8       /* anonymous address sets up to this size become rules */
#define PST_IPTC_NOIPSET_MAX 256    /* without ipset: elements of one set written as rules */
#define PST_IPTC_RULES_MAX 200000   /* xtables rules per family */
#define PST_IPTC_IPSET_ELEMS_MAX 4000000 /* ipset entries of one set (port ranges expand) */

enum pst_iptc_ipset {
        PST_IPTC_IPSET_AUTO,  /* use ipset when the tool and the kernel's ip_set are there */
        PST_IPTC_IPSET_NEVER, /* write every set as rules (and fail beyond PST_IPTC_NOIPSET_MAX) */
};

struct pst_iptc_opts {
        bool check_only;          /* build both tables, commit nothing, create no set */
        enum pst_iptc_ipset ipset;
        const char *ipset_path;   /* NULL: /usr/sbin/ipset, /sbin/ipset, else $PATH */
        /* the module helper run (with -q NAME) when the kernel lacks
         * ip_tables, ip6_tables or ip_set; NULL: /proc/sys/kernel/modprobe */
        const char *modprobe_path;
        /*
         * Tests only: called after the IPv4 commit, before the IPv6 one.  A
         * negative return makes the IPv6 step fail with that error, as if
         * the kernel had refused the table (the rollback path runs).
         */
        int (*before_v6_commit)(void *userdata);
        /* Tests only: likewise before the commit of table nat of family 4 or 6. */
        int (*before_nat_commit)(void *userdata, int family);
        void *userdata;
};

/* 0 when legacy xtables (the filter table of both families) can be used
 * here, else a negative errno (-ENOPROTOOPT: no ip_tables in this kernel).
 * Loads ip_tables / ip6_tables if the kernel has them as modules. */
int pst_iptc_available(void);

/* 0 when ipset can be used: the tool exists and the kernel has ip_set
 * (loaded through the module helper if need be). */
int pst_iptc_ipset_available(const struct pst_iptc_opts *o);

/*
 * Replace our part of table filter in both families (see above) and create
 * the ipsets the rules use.  On error diag says what failed; the tables are
 * as they were before the call (the IPv4 table restored if the IPv6 commit
 * failed; if even that restore fails, diag says so loudly).
 */
int pst_iptc_apply(const struct pst_ruleset *rs, const struct pst_iptc_opts *o, struct pst_diag *diag);

/*
 * An interface-address set changed (pst_ruleset_update_ifaddrs): refill its
 * ipset with one `ipset swap` — rules are not touched.  When the set is
 * written as rules (no ipset), the whole ruleset is applied again instead
 * (the rules referencing the set live in our chains, replacing those is one
 * commit per family as in pst_iptc_apply).
 */
int pst_iptc_update_set(const struct pst_ruleset *rs, const struct pst_iptc_opts *o, uint32_t set,
                        struct pst_diag *diag);

/*
 * The ruleset as text, in three parts, each introduced by a line
 * "# postern: ipset", "# postern: iptables", "# postern: ip6tables":
 *   ipset      `ipset restore` input (only when sets go through ipset)
 *   iptables   `iptables-restore --noflush` input: table filter, IPv4
 *   ip6tables  `ip6tables-restore --noflush` input: table filter, IPv6
 * The -A lines are exactly what iptables-save prints after pst_iptc_apply.
 * o may be NULL (ipset assumed available).
 */
int pst_iptc_render(const struct pst_ruleset *rs, const struct pst_iptc_opts *o, FILE *f, struct pst_diag *diag);

/* The xtables chain name of IR chain i ("INPUT", "postern-input-lan"). */
void pst_iptc_chain_name(const struct pst_ruleset *rs, uint32_t chain, char buf[32]);
