/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The ruleset IR: what the compiler produces and every backend consumes
 * (nf_tables batch, nft text, iptables).  Plain C structs, no libnftnl.
 *
 * Shape of the data:
 *   ruleset ── sets[]    named or anonymous; keys are one field or a
 *           │            concatenation; elements are [first, last] ranges in
 *           │            network byte order, each field padded to 4 bytes
 *           └─ chains[]  base chains (input, forward; prerouting and
 *                │           postrouting of type nat) and regular chains
 *                └─ rules[]  ANDed matches + one verdict (or a verdict map)
 *                            or, in the nat chains, one NAT statement
 *
 * Every set and rule carries the policy location (file:line) it came from so
 * a kernel error can be mapped back to the line that produced it.
 */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

#define PST_TABLE "postern"
#define PST_NAME_MAX 64        /* chain and set names we generate */
#define PST_COMMENT_MAX 128    /* nft allows 128 bytes of rule comment */
#define PST_LOG_PREFIX_MAX 128 /* NF_LOG_PREFIXLEN */
#define PST_CONCAT_MAX 3       /* fields in one concatenation */
#define PST_MATCH_MAX 6        /* matches in one rule */
#define PST_KEY_MAX 64         /* bytes in one (possibly concatenated) key */

#define PST_SETS_MAX 262144   /* anonymous sets count too */
#define PST_CHAINS_MAX 1024
#define PST_RULES_MAX 65536      /* per chain */
#define PST_ELEMS_MAX 2000000    /* per set */

/* What a match can look at.  Each field knows its length, its nft datatype,
 * its spelling in nft syntax and the dependency it implies (pst_field_info). */
enum pst_field {
        PST_F_IIFNAME,    /* meta iifname, 16 bytes, wildcard "ppp*" = a range */
        PST_F_OIFNAME,    /* meta oifname */
        PST_F_NFPROTO,    /* meta nfproto, 1 byte (NFPROTO_IPV4 / NFPROTO_IPV6) */
        PST_F_L4PROTO,    /* meta l4proto, 1 byte (IPPROTO_*) */
        PST_F_IP_SADDR,   /* ip saddr, 4 bytes; implies meta nfproto ipv4 */
        PST_F_IP_DADDR,   /* ip daddr */
        PST_F_IP6_SADDR,  /* ip6 saddr, 16 bytes; implies meta nfproto ipv6 */
        PST_F_IP6_DADDR,  /* ip6 daddr */
        PST_F_TCP_DPORT,  /* tcp dport, 2 bytes; implies meta l4proto tcp */
        PST_F_UDP_DPORT,  /* udp dport; implies meta l4proto udp */
        PST_F_ICMP_TYPE,  /* icmp type, 1 byte; implies meta l4proto icmp (and nfproto ipv4) */
        PST_F_ICMP6_TYPE, /* icmpv6 type; implies meta l4proto ipv6-icmp (and nfproto ipv6) */
        PST_F_CT_STATE,   /* ct state, 4 bytes host byte order bitmask */
        PST_F_CT_STATUS,  /* ct status, 4 bytes host byte order (IPS_* bits); only with PST_M_EQ,
                           * which for this field means "one of value's bits is set", the way
                           * nft reads `ct status dnat` (bitwise & value, cmp neq 0) */
        PST_F_CT_DIRECTION, /* ct direction, 1 byte: IP_CT_DIR_ORIGINAL (0) or IP_CT_DIR_REPLY (1) */
        PST_F_CT_STAMP,   /* ct mark and PST_REMATCH_MASK, 4 bytes host byte order (options.rematch) */
        PST_F_TCP_SPORT,  /* tcp sport, 2 bytes; implies meta l4proto tcp (the endpoint mapper's replies) */
        _PST_F_MAX,
};

struct pst_field_info {
        const char *nft;   /* "ip saddr" */
        const char *type;  /* nft datatype name: "ipv4_addr" */
        uint32_t datatype; /* nft datatype id (NFTA_SET_KEY_TYPE) */
        uint8_t len;       /* bytes, before padding */
        uint8_t nfproto;   /* implied meta nfproto, 0 = none */
        uint8_t l4proto;   /* implied meta l4proto, 0 = none */
};

const struct pst_field_info *pst_field_info(enum pst_field f);

/* Byte length of a key made of these fields, each padded to 4 bytes
 * (nf_tables registers are 32 bits wide). */
uint32_t pst_key_len(const enum pst_field *fields, unsigned n);

enum pst_verdict_kind {
        PST_V_NONE, /* no verdict: the rule only logs/counts */
        PST_V_ACCEPT,
        PST_V_DROP,
        PST_V_JUMP,
        PST_V_GOTO,
        PST_V_RETURN,
        /* queue num CHAIN bypass: hand the packet to the NFQUEUE whose number
         * is in .chain; with no reader bound to it the kernel accepts it
         * (bypass).  Only the endpoint mapper's replies (rpc.h), never a map
         * element. */
        PST_V_QUEUE,
};

struct pst_verdict {
        enum pst_verdict_kind kind;
        uint32_t chain; /* index in ruleset->chains for JUMP/GOTO; the queue number for QUEUE */
};

struct pst_origin {
        uint32_t file; /* index in ruleset->files, 0 = none */
        uint32_t line;
};

enum {
        PST_SET_INTERVAL = 1 << 0, /* elements are ranges (prefixes, port ranges, wildcards) */
        PST_SET_MAP = 1 << 1,      /* verdict map: one pst_verdict per element */
        PST_SET_DYNAMIC = 1 << 2,  /* interface-address set: elements change at runtime */
        PST_SET_ANON = 1 << 3,     /* anonymous, rendered inline, bound to one rule */
        PST_SET_LINKLOCAL = 1 << 4, /* DYNAMIC, "(IFNAME, link)": also the link-local addresses */
        PST_SET_TIMEOUT = 1 << 5,   /* endpoint-mapper pinholes (rpc.h): filled at runtime, elements expire */
};

struct pst_set {
        char name[PST_NAME_MAX]; /* "" for anonymous sets */
        uint32_t flags;
        uint8_t nfields;
        enum pst_field fields[PST_CONCAT_MAX];
        uint32_t klen; /* pst_key_len(fields) */

        size_t n, cap, capdata; /* cap counts key bytes */
        uint8_t *keys;             /* n × 2 × klen: first, last (inclusive); last == first for single values */
        struct pst_verdict *data;  /* maps only: n verdicts */

        char ifname[IFNAMSIZ];     /* DYNAMIC: the interface whose addresses these are */
        uint32_t timeout;          /* TIMEOUT: seconds an element lives */
        uint32_t size;             /* TIMEOUT: the most elements the kernel holds at a time */
        uint16_t queue;            /* TIMEOUT: the NFQUEUE its replies wait in (0: copied to NFLOG) */
        char comment[PST_COMMENT_MAX];
        struct pst_origin origin;
};

enum pst_match_op {
        PST_M_EQ,   /* fields == value */
        PST_M_NEQ,  /* fields != value */
        PST_M_SET,  /* fields in set */
        PST_M_VMAP, /* fields vmap set: must be the last match; the rule's verdict is NONE */
        PST_M_RANGE, /* value <= field <= last, one field.  What nft makes of a one-element
                      * set: a prefix becomes a shorter load (+ bitwise when not byte-aligned)
                      * and cmp eq, an ifname wildcard a cmp of its prefix, anything else
                      * cmp gte + cmp lte.  The backend emits exactly that. */
};

struct pst_match {
        enum pst_match_op op;
        uint8_t nfields;
        enum pst_field fields[PST_CONCAT_MAX];
        uint32_t set;              /* SET / VMAP: index in ruleset->sets */
        uint8_t value[PST_KEY_MAX]; /* EQ / NEQ / RANGE: one key (single field) in network byte order */
        uint8_t last[PST_KEY_MAX];  /* RANGE: the inclusive upper end */
};

/*
 * options.rematch: the bits of ct mark that carry the policy stamp.  The
 * other bits belong to other tools (policy routing's connmark save/restore
 * uses the low ones) and are kept by the `ct mark set` statement.
 */
#define PST_REMATCH_MASK 0xffff0000u
#define PST_REMATCH_SHIFT 16
/* The NAT statement of a rule in a nat chain (the rule's verdict is NONE:
 * the statement is terminal).  family says which address family the
 * statement's address is of; every NAT rule also matches meta nfproto of it. */
enum pst_nat_kind {
        PST_NAT_NONE,
        PST_NAT_MASQ, /* masquerade: the out interface's primary address, conntrack flushed by the kernel */
        PST_NAT_SNAT, /* snat to addr[:port] */
        PST_NAT_DNAT, /* dnat to addr[:port] */
};

struct pst_nat {
        uint8_t kind;     /* enum pst_nat_kind */
        uint8_t family;   /* AF_INET or AF_INET6 */
        uint16_t port;    /* host byte order; 0 = keep the port */
        uint8_t addr[16]; /* SNAT / DNAT: network byte order */
};

/*
 * A raw payload check, after the rule's matches: the len bytes at off bytes
 * from the start of the transport header, masked when mask_len (mask has
 * len bytes then), equal value.  nft spells it `@th,OFF*8,LEN*8 VALUE`.
 * Only the in-kernel reading of the endpoint mapper's replies (rpc.h,
 * PST_RPC_MECH_KERNEL) makes them: they check the PDU's fixed layout.  A
 * load past the packet's end does not match (the kernel breaks the rule).
 */
#define PST_RAW_MAX 8
#define PST_RAW_LEN_MAX 16

struct pst_raw {
        uint16_t off;
        uint8_t len;
        bool masked;
        uint8_t value[PST_RAW_LEN_MAX];
        uint8_t mask[PST_RAW_LEN_MAX];
};

struct pst_rule {
        uint8_t nmatch;
        struct pst_match match[PST_MATCH_MAX];
        uint8_t nraw;
        struct pst_raw raw[PST_RAW_MAX];
        /* != 0: the set index + 1 of a client . server . port pinhole set
         * (PST_SET_TIMEOUT) this rule adds to or refreshes, from an endpoint
         * mapper's reply: update @set { daddr . saddr . @th,update_off*8,16 }
         * (the reply's destination is the client, its source the server; the
         * family is the set's).  Before the verdict. */
        uint32_t update_set;
        uint16_t update_off;
        bool counter;
        uint32_t limit_per_minute;         /* 0 = no limit statement */
        char log_prefix[PST_LOG_PREFIX_MAX]; /* "" = no log statement */
        /* != 0: ct mark set ct mark and ~PST_REMATCH_MASK or ct_stamp (before the verdict);
         * only bits of PST_REMATCH_MASK */
        uint32_t ct_stamp;
        bool log_nflog;                    /* log to NFLOG group log_group, not to the kernel log */
        uint16_t log_group;
        uint16_t log_snaplen;              /* NFLOG: bytes copied (the drops: PST_NFLOG_SNAPLEN);
                                            * 0 = the whole packet (the rpc reply copies) */
        struct pst_verdict verdict;
        struct pst_nat nat; /* nat chains only */
        char comment[PST_COMMENT_MAX];
        struct pst_origin origin;
};

/* The rule has a log statement. */
static inline bool pst_rule_logs(const struct pst_rule *r) {
        return r->log_prefix[0] || r->log_nflog;
}

enum pst_hook {
        PST_HOOK_NONE, /* regular chain */
        PST_HOOK_INPUT,
        PST_HOOK_FORWARD,
        PST_HOOK_PREROUTING,  /* type nat, priority dstnat (-100), policy accept */
        PST_HOOK_POSTROUTING, /* type nat, priority srcnat (100), policy accept */
        /* type filter, priority filter (0), policy accept: only the reply rules
         * of input rules with rpc (compile.c rpc_logs), never a verdict on the
         * host's own traffic.  Last, so that snapshots keep their numbers. */
        PST_HOOK_OUTPUT,
};

#define PST_PRIO_DSTNAT (-100)
#define PST_PRIO_SRCNAT 100

static inline bool pst_hook_is_nat(enum pst_hook h) {
        return h == PST_HOOK_PREROUTING || h == PST_HOOK_POSTROUTING;
}

struct pst_chain {
        char name[PST_NAME_MAX];
        enum pst_hook hook;
        int32_t priority;               /* base chains: 0 = "filter" */
        enum pst_verdict_kind policy;   /* base chains: PST_V_ACCEPT or PST_V_DROP */
        size_t n, cap;
        struct pst_rule *rules;
};

struct pst_ruleset {
        char table[PST_NAME_MAX];
        size_t nsets, capsets;
        struct pst_set *sets;
        size_t nchains, capchains;
        struct pst_chain *chains;
        size_t nfiles, capfiles;
        char **files; /* files[0] is "" (no origin) */
        /* non-NULL: the chains' rule arrays are shared with the rulesets
         * pst_ruleset_dup made of this one or it of another, and this counts
         * the sharers (the last one frees them); rules added unshare first */
        unsigned *rules_ref;
};

int pst_ruleset_new(struct pst_ruleset **ret);
void pst_ruleset_free(struct pst_ruleset *rs);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_ruleset *, pst_ruleset_free);

/* A copy of src for pipeline.c's list-only reload, which changes the copy's
 * sets: the sets deep, the chains' rule arrays shared (rules are immutable
 * once compiled; P2's 2,000 rules are 3 MB a reload need not copy).  The
 * sets empty(s, userdata) says true of (empty may be NULL) are copied
 * without their elements: the reload refills them, and a 100,000-entry
 * list's 800 kB need not be copied first. */
int pst_ruleset_dup(struct pst_ruleset *src, bool (*empty)(const struct pst_set *s, void *userdata), void *userdata,
                    struct pst_ruleset **ret);
/* Intern a file name; returns its index (> 0) or a negative errno. */
int pst_ruleset_file(struct pst_ruleset *rs, const char *file, uint32_t *ret);
const char *pst_origin_file(const struct pst_ruleset *rs, struct pst_origin o);

int pst_chain_add(struct pst_ruleset *rs, const char *name, enum pst_hook hook,
                  enum pst_verdict_kind policy, uint32_t *ret_index);
int pst_chain_find(const struct pst_ruleset *rs, const char *name);
/* Append a rule (copied).  Returns 0 or -E2BIG. */
int pst_rule_add(struct pst_ruleset *rs, uint32_t chain, const struct pst_rule *r);
/* Insert a rule (copied) before rule `at` of the chain (at <= its length). */
int pst_rule_insert(struct pst_ruleset *rs, uint32_t chain, size_t at, const struct pst_rule *r);

int pst_set_add(struct pst_ruleset *rs, const char *name, uint32_t flags, const enum pst_field *fields,
                unsigned nfields, uint32_t *ret_index);
/* Undo the last pst_set_add: a set that turned out not to be needed. */
void pst_set_drop_last(struct pst_ruleset *rs);
int pst_set_find(const struct pst_ruleset *rs, const char *name);
/* Make room for n elements in all (a list's size is known before its elements are added). */
int pst_set_reserve(struct pst_set *s, size_t n);
/* Add n elements given as first/last pairs (2 × klen bytes each); not for maps. */
int pst_set_add_pairs(struct pst_set *s, const uint8_t *pairs, size_t n);
/* Add one element [first, last]; last may be NULL for a single value.  Keys are klen bytes. */
int pst_set_add_elem(struct pst_set *s, const uint8_t *first, const uint8_t *last,
                     const struct pst_verdict *data);
static inline const uint8_t *pst_set_first(const struct pst_set *s, size_t i) {
        return s->keys + i * 2 * s->klen;
}
static inline const uint8_t *pst_set_last(const struct pst_set *s, size_t i) {
        return s->keys + i * 2 * s->klen + s->klen;
}
/* memcmp() of two keys of klen bytes, inline for the address lengths: the
 * sets of a large allow-list are walked key by key on every reload, and a
 * call per 4-byte compare was a tenth of a reload's time. */
static inline int pst_key_cmp(const uint8_t *a, const uint8_t *b, uint32_t klen) {
        uint64_t x, y;
        uint32_t u, v;

        switch (klen) {
        case 4:
                memcpy(&u, a, 4);
                memcpy(&v, b, 4);
                u = __builtin_bswap32(u);
                v = __builtin_bswap32(v);
                return (u > v) - (u < v);
        case 16:
                memcpy(&x, a, 8);
                memcpy(&y, b, 8);
                if (x == y) {
                        memcpy(&x, a + 8, 8);
                        memcpy(&y, b + 8, 8);
                }
                x = __builtin_bswap64(x);
                y = __builtin_bswap64(y);
                return (x > y) - (x < y);
        default:
                return memcmp(a, b, klen);
        }
}
/* Sort elements by first key and refuse overlapping ranges (-EEXIST, *ret_clash = index). */
int pst_set_sort(struct pst_set *s, size_t *ret_clash);
/*
 * Sort, then: interval sets of one field merge overlapping and adjacent
 * ranges (so the kernel and nft never have to), plain sets drop duplicates,
 * maps refuse overlaps (-EEXIST).  Concatenations are only sorted.
 */
int pst_set_normalize(struct pst_set *s);
/* An empty set filled with n (first, last) pairs already in pair_cmp()'s
 * order (the list cache's ranges), as pst_set_add_pairs() then
 * pst_set_normalize() would leave it; for IPv4 in one pass, no sort. */
int pst_set_fill_sorted(struct pst_set *s, const uint8_t *pairs, size_t n);
/* Elements from .. to - 1 (to: at most s->n) each sort after the one
 * before (pair_cmp's order: first, then last). */
bool pst_set_strictly_sorted(const struct pst_set *s, size_t from, size_t to);
/* A set of one 4-byte field (IPv4 addresses) whose ranges ascend and do not
 * touch: what pst_set_normalize() leaves, checked in one fast pass (false:
 * another key, or not so). */
bool pst_set_disjoint4(const struct pst_set *s);
/* Big-endian increment of the first n bytes of a key; true on wrap-around
 * (all ones → zero).  Backends use it for interval ends (last + 1). */
bool pst_key_inc(uint8_t *key, unsigned n);
/* Drop all elements (dynamic sets are refilled on address changes). */
void pst_set_clear(struct pst_set *s);

/* Match helpers for the compiler */
void pst_match_set(struct pst_match *m, enum pst_field f, uint32_t set);
void pst_match_eq(struct pst_match *m, enum pst_field f, const void *value, bool negate);
/* first == last → EQ, else RANGE */
void pst_match_range(struct pst_match *m, enum pst_field f, const void *first, const void *last);

/* Number of rules in all chains. */
size_t pst_ruleset_nrules(const struct pst_ruleset *rs);
