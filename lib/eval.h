/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The ruleset evaluator: which verdict would the ruleset postern installs
 * give one packet?  It interprets the IR the way the kernel runs the
 * nf_tables rules nft-batch.c builds from it: rules in order, every match's
 * implied `meta nfproto` / `meta l4proto` dependency, sets and verdict maps
 * (a concatenation matches when every field lies in its element's range),
 * jump / goto / return with nf_tables' jump stack, and the base chain's
 * policy when no rule decides.  Pure: no kernel, no I/O, no allocation.
 *
 * What it does not model, because a one-packet question has no answer for
 * it: a `limit` statement is taken as under its rate (the first packet of a
 * connection), counters and log statements change nothing.  Single-field
 * sets of more than a few elements are searched by bisection, which needs
 * them sorted and without overlaps, as pst_compile() leaves them
 * (pst_set_normalize); concatenations are scanned.
 */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"
#include "policy.h"

/* ct state as nf_tables sees it: one bit (NF_CT_STATE_BIT) per state */
enum pst_ct_state {
        PST_CT_INVALID = 1u << 0,
        PST_CT_ESTABLISHED = 1u << 1, /* NF_CT_STATE_BIT(IP_CT_ESTABLISHED) */
        PST_CT_RELATED = 1u << 2,
        PST_CT_NEW = 1u << 3,
        PST_CT_UNTRACKED = 1u << 6,
};

/* One packet, as the hook sees it. */
struct pst_packet {
        uint8_t family;             /* AF_INET or AF_INET6 */
        uint8_t l4proto;            /* IPPROTO_TCP, IPPROTO_ICMPV6, 50 (ESP), ... */
        uint8_t saddr[16], daddr[16]; /* network byte order; IPv4 in the first 4 bytes */
        uint16_t sport, dport;      /* host byte order; tcp and udp */
        uint8_t icmp_type, icmp_code; /* icmp and ipv6-icmp */
        char iifname[IFNAMSIZ];     /* the interface it arrived on */
        char oifname[IFNAMSIZ];     /* forward: the one it leaves by; ignored in input */
        uint32_t ct_state;          /* enum pst_ct_state; 0 is taken as PST_CT_NEW */
};

struct pst_eval_result {
        enum pst_verdict_kind verdict; /* PST_V_ACCEPT or PST_V_DROP */
        bool by_policy;                /* no rule decided: the base chain's policy did */
        uint32_t chain;                /* the chain of the deciding rule (by_policy: the base chain) */
        uint32_t rule;                 /* its index in that chain (by_policy: unset) */
        struct pst_origin origin;      /* its policy location; line 0 = a built-in rule (ct state,
                                        * loopback, ICMP, a zone dispatch map) */
};

/*
 * The verdict of the base chain hooked at hook (PST_HOOK_INPUT or
 * PST_HOOK_FORWARD) for pkt.  A ruleset without that base chain accepts
 * (no chain of ours sees the packet): *ret says by_policy, chain = (uint32_t) -1.
 * -EINVAL for a malformed ruleset or packet, -ELOOP when jumps nest deeper
 * than the kernel's jump stack (16).
 */
int pst_eval(const struct pst_ruleset *rs, enum pst_hook hook, const struct pst_packet *pkt,
             struct pst_eval_result *ret);

/* Fill the address fields from text; -EINVAL if either is no address of the
 * same family as the other (family is set from them). */
int pst_packet_set_addrs(struct pst_packet *pkt, const char *saddr, const char *daddr);

/* "tcp/22", "udp/53", "icmp/8", "ipv6-icmp/128", "esp": what a message says about the packet's
 * service. */
void pst_packet_service(const struct pst_packet *pkt, char *buf, size_t n);

/*
 * Which rule decided, for a message: "rule 3 of chain input_lan
 * (postern.conf:12, \"comment\")", "rule 1 of chain input (built in)",
 * "the policy (drop) of chain input".
 */
void pst_eval_describe(const struct pst_ruleset *rs, const struct pst_eval_result *res, char *buf, size_t n);

/*
 * The policy rule and service behind res for pkt, for messages: the rule
 * of p at res's origin one of whose services covers pkt ("ssh" for tcp/22).
 * A rule of the merged host-to-host set carries the origin of the first
 * policy rule merged into it; for it, the host-to-host rule of that chain
 * whose addresses and services cover pkt is found instead.  -ENOENT when
 * res was decided by a built-in rule or a chain policy, or p is NULL.
 * ret_group (may be NULL) is the service group the rule names the service
 * through ("outlook"), or NULL when the rule names the service itself.
 */
int pst_eval_explain(const struct pst_policy *p, const struct pst_ruleset *rs, const struct pst_eval_result *res,
                     const struct pst_packet *pkt, struct pst_loc *ret_loc, const char **ret_service,
                     const char **ret_group);
