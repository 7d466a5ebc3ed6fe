/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The policy model: what an administrator wrote, typed and validated, with
 * the file:line of every node.  Loading never touches the kernel.
 */

#include "addr.h"
#include "backend.h"
#include "cfg.h"
#include "emergency.h"
#include "rpc.h"
#include "service.h"

#define PST_NAME_LEN 48          /* zone, host, list names */
#define PST_ZONES_MAX 256
#define PST_ZONE_IFS_MAX 64
#define PST_HOSTS_MAX 65536
#define PST_HOST_ADDRS_MAX 256
#define PST_LISTS_MAX 256
#define PST_LIST_ENTRIES_MAX 1000000
#define PST_PRULES_MAX 65536
#define PST_RULE_ITEMS_MAX 256   /* services / sources / destinations per rule */
#define PST_FRAGMENTS_MAX 256
#define PST_POLICY_SERVICES_MAX 4096
#define PST_GROUPS_MAX 1024
#define PST_GROUP_DEPTH_MAX 8    /* a group in a group in a group ... */

enum pst_icmp_level {
        PST_ICMP_NONE,
        PST_ICMP_ESSENTIAL,
        PST_ICMP_PING,
        PST_ICMP_ALL,
};

const char *pst_icmp_level_name(enum pst_icmp_level l);
/* The ICMP (v6: ICMPv6) types a level accepts from everywhere; ALL and NONE: none listed
 * (ALL accepts the whole protocol). */
const uint8_t *pst_icmp_level_types(enum pst_icmp_level l, bool v6, size_t *ret_n);

struct pst_options {
        bool ipv6;
        enum pst_icmp_level icmp, forward_icmp;
        bool log_drops;
        char log_prefix[128];
        uint32_t log_rate; /* per minute */
        enum pst_backend_kind backend; /* who installs the ruleset */
        bool forward_unmanaged; /* options.forward = "unmanaged": no forward base chain at all */
        bool rematch; /* options.rematch: established flows re-checked after a policy change */
        struct pst_loc rematch_loc; /* its line: the origin of the rules it adds */
        unsigned rpc_mech; /* rpc.h PST_RPC_MECH_*: options.rpc_mechanism (default "auto") */
        struct pst_loc rpc_mech_loc;
};

struct pst_addrs {
        size_t n, cap;
        struct pst_addr *v;
        bool has4, has6;
};

struct pst_ifname {
        char name[16]; /* wildcards end in '*' */
        bool wildcard;
        struct pst_loc loc;
};

struct pst_zone {
        char name[PST_NAME_LEN];
        struct pst_loc loc;
        size_t nifs;
        struct pst_ifname ifs[PST_ZONE_IFS_MAX];
        struct pst_addrs nets;
        bool trusted; /* trusted = true: everything from the zone is accepted (input and forward) */
};

struct pst_host {
        char name[PST_NAME_LEN];
        struct pst_loc loc;
        struct pst_addrs addrs;
};

/* A list's entries as its interval sets hold them before overlapping and
 * adjacent ranges merge: per family ([0] IPv4, 4-byte keys; [1] IPv6,
 * 16-byte keys) first/last pairs in pst_set_sort()'s order, duplicates
 * kept.  The list cache (list-cache.h) keeps them up to date as entries
 * come and go, so the compiler does not sort 100,000 ranges again. */
struct pst_list_ranges {
        size_t n[2];
        uint8_t *keys[2];
};
void pst_list_ranges_free(struct pst_list_ranges *r);

struct pst_list {
        char name[PST_NAME_LEN];
        struct pst_loc loc;
        struct pst_addrs addrs;
        struct pst_list_ranges *ranges; /* NULL, or addrs as ranges (from the list cache) */
};

enum pst_ep_kind {
        PST_EP_ANY,
        PST_EP_ADDRS,  /* a literal address or a host */
        PST_EP_ZONE,
        PST_EP_LIST,
        PST_EP_IFADDR, /* "(ppp0)" */
};

struct pst_endpoint {
        enum pst_ep_kind kind;
        struct pst_loc loc;
        struct pst_addr lit;            /* ADDRS, literal: the address */
        const struct pst_host *host;    /* ADDRS, named host (else the literal) */
        const struct pst_zone *zone;
        const struct pst_list *list;
        char ifname[16];                /* IFADDR */
        bool link;                      /* IFADDR: "(IFNAME, link)", link-local addresses too */
};

enum pst_chain_kind {
        PST_INPUT,
        PST_FORWARD,
};

/*
 * groups = { outlook = ["smtp", "imaps", "ldap/tcp"]; }: a name for a list
 * of services, usable wherever a service name is (allow lists, other
 * groups).  svc is the flattened list, each service once, at most
 * PST_RULE_ITEMS_MAX of them.
 */
struct pst_group {
        char name[PST_NAME_LEN];
        struct pst_loc loc;
        size_t nsvc, capsvc;
        const struct pst_service **svc;
        const config_setting_t *members; /* while loading: its list */
        int state;           /* while loading: 0 unresolved, 1 resolving, 2 done, -1 broken */
        unsigned levels;     /* 1, or 1 + the deepest group in it */
};

struct pst_prule {
        enum pst_chain_kind chain;
        struct pst_loc loc;
        size_t nsvc;
        const struct pst_service **svc;
        const struct pst_group **via;   /* per service: the group that brought it, or NULL */
        size_t nfrom, nto;
        struct pst_endpoint *from, *to;
        char comment[128];
        struct pst_rpc *rpc; /* endpoint-mapper pinholes (rpc.h), NULL = none */
};

/* nat = ( { masquerade = {...}; }, { snat = {...}; }, { forward = {...}; } ): lib/policy-nat.c */
#define PST_NAT_RULES_MAX 4096
#define PST_NAT_PORTS_MAX 256 /* ports of one forward */

enum pst_pnat_kind {
        PST_PNAT_MASQ,
        PST_PNAT_SNAT,
        PST_PNAT_FORWARD,
};

struct pst_nat_port {
        uint8_t proto;       /* IPPROTO_TCP / IPPROTO_UDP */
        uint16_t first, last; /* the ports the packets arrive on */
        uint16_t to;          /* "EXT:INT": the internal port, 0 = the same */
};

struct pst_nat_rule {
        enum pst_pnat_kind kind;
        struct pst_loc loc;
        const struct pst_zone *out;  /* MASQ, SNAT: the zone whose interfaces the packets leave by */
        struct pst_endpoint from;    /* who is translated (ANY by default) */
        struct pst_addr to_addr;     /* SNAT: the source address; FORWARD: the internal address (v4) */
        struct pst_addr to_addr6;    /* FORWARD: the internal IPv6 address, family 0 = none */
        struct pst_endpoint to;      /* FORWARD: the host or address, as written */
        char on[16];                 /* FORWARD: "(ppp0)": the interface whose addresses are forwarded */
        bool ipv6;                   /* MASQ, FORWARD: IPv6 too (never by default) */
        size_t nports;
        struct pst_nat_port *ports;
        char comment[128];
};

struct pst_policy {
        char *path;
        struct pst_options options;
        bool has_emergency;
        struct pst_emergency emergency; /* what the daemon's fail-closed ruleset allows */
        struct pst_strpool files;

        size_t nzones, capzones;
        struct pst_zone **zones;
        size_t nhosts, caphosts;
        struct pst_host **hosts;
        size_t nlists, caplists;
        struct pst_list **lists;
        size_t nservices, capservices;
        struct pst_service **services; /* the policy's own and inline ones */
        size_t ngroups, capgroups;
        struct pst_group **groups;
        size_t nrules, caprules;
        struct pst_prule *rules;
        size_t nnat, capnat;
        struct pst_nat_rule *nat;

        uint64_t digest; /* FNV-1a 64 over every file read, in order: identifies what is loaded */
        struct pst_read_log read; /* cfg.h: every file read, in order (the list-only reload's proof) */
};

struct pst_list_cache;
void pst_policy_free(struct pst_policy *p);

/* Definitions by name (NULL: none).
 * policy-nat.c: the nat = ( ... ) list of one file, appended to p->nat
 * (service names of a forward's allow resolved against p's and cat);
 * pst_policy_free_nat releases them.  Errors through c. */
const struct pst_zone *pst_policy_zone(const struct pst_policy *p, const char *name);
const struct pst_host *pst_policy_host(const struct pst_policy *p, const char *name);
const struct pst_list *pst_policy_list(const struct pst_policy *p, const char *name);
int pst_policy_load_nat(struct pst_cfg *c, struct pst_policy *p, const struct pst_catalog *cat,
                        const config_setting_t *list);
void pst_policy_free_nat(struct pst_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_policy *, pst_policy_free);

/*
 * Load path and the fragments in <dir of path>/postern.d/ *.conf (lexical
 * order), resolving service names against cat.  Every file is read once,
 * through source.h (source_flags: PST_SOURCE_ANY_OWNER), and the digest
 * covers the path and bytes of each: main file, fragments, @includes, list
 * files.  A policy with neither an input nor a forward list anywhere is an
 * error (an emptied file is not "drop everything"; "input = ();" is).  On
 * error, diag holds every problem found as FILE:LINE: messages and -EINVAL
 * is returned.
 */
int pst_policy_load(const char *path, const struct pst_catalog *cat, unsigned source_flags, struct pst_diag *diag,
                    struct pst_policy **ret);

/* The same through cache (list-cache.h; NULL: none): a list file parses
 * only the lines that changed since the cache last read it, to exactly
 * what parsing it whole gives. */
int pst_policy_load_cached(const char *path, const struct pst_catalog *cat, unsigned source_flags,
                           struct pst_list_cache *cache, struct pst_diag *diag, struct pst_policy **ret);

/* The files a load of path reads as main files, in order: path, then
 * postern.d/ *.conf.  *ret: n strings to free (strings_free). */
int pst_policy_files(const char *path, struct pst_diag *diag, char ***ret, size_t *ret_n);
void pst_policy_files_free(char **v, size_t n);


/* Read list file e (a PST_READ_LIST entry of p->read) again, through cache
 * as a load does (the same checks): *ret_digest gets the file's
 * pst_digest_bytes().  With a cache, its entries stay there: *ret gets only
 * has4/has6, *ret_ranges the cache's own sorted ranges (valid until the
 * cache's next load); without one, *ret gets the entries and *ret_ranges
 * NULL.  p is not changed. */
int pst_policy_reread_list(const struct pst_policy *p, const struct pst_read_entry *e, unsigned source_flags,
                           struct pst_list_cache *cache, struct pst_diag *diag, struct pst_addrs *ret,
                           const struct pst_list_ranges **ret_ranges, uint64_t *ret_digest);

/* The digest as 16 hex digits */
void pst_policy_digest_hex(const struct pst_policy *p, char out[17]);
