/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Not features.h: with lib/ on the include path that name would shadow
 * glibc's <features.h>, which every libc header includes. */
#pragma once

/*
 * What the running kernel offers, probed rather than assumed from its
 * version: distribution kernels backport features, and build options
 * (CONFIG_NFT_QUEUE, modules) differ between kernels of one version.
 *
 *   pst_features_probe()    fill struct pst_features: uname, nf_tables
 *                           features, legacy xtables/ipset presence
 *   pst_features_needed()   which nf_tables features a ruleset uses, and the
 *                           policy line of the first set or rule that does
 *   pst_features_explain()  one FILE:LINE error per needed feature the kernel
 *                           lacks, naming it and the Linux version it needs
 *
 * The nf_tables probe is ONE check-mode batch (BEGIN, messages, no END, as
 * `nft -c` sends): the kernel validates every message, answers each with
 * its own ACK, and then aborts the transaction because END never came.
 * Nothing is committed: the ruleset and its generation id stay as they
 * were, so the probe is safe in the host's own network namespace (a kernel
 * test checks both).  Every feature is probed in a table of its own
 * (postern-probe-N, created and discarded inside the batch), so one refusal
 * cannot hide another: nfnetlink goes on through a batch after an error.
 * An expression the kernel has as a module not yet loaded is loaded by the
 * kernel on the way (request_module, then the batch is replayed), as `nft -c`
 * and any apply of a ruleset using it would.
 *
 * The legacy side is read from /proc and /sys only, without loading
 * anything: /proc/net/ip_tables_names (ip_tables loaded or built in),
 * /sys/module/NAME, and /lib/modules/RELEASE/modules.dep for "could be
 * loaded".
 *
 * Each feature below with the Linux version that brought it upstream.
 * "used" marks what the compiler (lib/compile.c via lib/nft-batch.c) and
 * the emergency ruleset (lib/emergency.c) emit; the others are probed and
 * reported for what postern may use next (NFQUEUE, @ih) and for the
 * ownership decision (README, "No ownership flags").
 */

#include <stdbool.h>
#include <stdint.h>

#include <stdio.h>

#include "diag.h"
#include "ir.h"
#include "json.h"

enum pst_feature {
        PST_FEAT_INET_FILTER,     /* used   3.14  inet tables, filter base chains on input and forward,
                                   *              regular chains, jump (nf_tables itself: 3.13) */
        PST_FEAT_META,            /* used   3.14  meta nfproto/l4proto/iifname/oifname (nfproto: 3.14) */
        PST_FEAT_PAYLOAD,         /* used   3.13  network/transport header loads, cmp, bitwise */
        PST_FEAT_CT_STATE,        /* used   3.13  ct state (nft_ct) */
        PST_FEAT_VERDICT_MAP,     /* used   3.13  anonymous constant verdict maps (vmap) */
        PST_FEAT_INTERVAL_SET,    /* used   3.13  NFT_SET_INTERVAL: prefixes and port ranges (rbtree) */
        PST_FEAT_CONCAT,          /* used   4.1   concatenated keys in 32-bit registers (NFT_REG32_*) */
        PST_FEAT_CONCAT_INTERVAL, /* used   5.6   NFT_SET_CONCAT ranges: NFTA_SET_DESC_CONCAT,
                                   *              NFTA_SET_ELEM_KEY_END (pipapo) */
        PST_FEAT_COUNTER,         /* used   3.13  counter */
        PST_FEAT_LIMIT,           /* used   4.3   limit rate N/minute burst 5 packets (NFTA_LIMIT_TYPE) */
        PST_FEAT_LOG,             /* used   3.13  log prefix "..." in an inet chain (nft_log, nf_log) */
        PST_FEAT_SET_TIMEOUT,     /*        4.1   NFT_SET_TIMEOUT: elements that expire */
        PST_FEAT_QUEUE,           /*        3.14  queue (nft_queue, NFQUEUE); CONFIG_NFT_QUEUE */
        PST_FEAT_INNER_PAYLOAD,   /*        5.7   @ih raw payload (NFT_PAYLOAD_INNER_HEADER) */
        PST_FEAT_TABLE_OWNER,     /*        5.12  NFT_TABLE_F_OWNER */
        PST_FEAT_TABLE_PERSIST,   /*        6.9   NFT_TABLE_F_PERSIST */
        PST_FEAT_RPC_KERNEL,      /*        4.1   the endpoint mapper's replies read in the kernel
                                   *              (options.rpc_mechanism kernel+*): a dynset update
                                   *              of a timeout set keyed ip daddr . ip saddr . a raw
                                   *              transport-header load, from raw payload checks */
        _PST_FEAT_MAX,
};

/* The oldest kernel postern supports: the first long-term release with every
 * "used" feature above (concatenated ranges, 5.6, are the newest); Debian
 * 11's.  The emergency ruleset needs much less (pst_features_needed()). */
#define PST_KERNEL_OLDEST "5.10"

struct pst_feature_info {
        const char *name;    /* JSON key: "concat_interval" */
        const char *since;   /* the Linux version that brought it: "5.6" */
        const char *what;    /* words for an error: "concatenated interval sets (ip saddr . tcp dport ranges)" */
        bool used;           /* emitted by the compiler or the emergency ruleset */
};

const struct pst_feature_info *pst_feature_info(enum pst_feature f);

/* Present, loadable or absent: the legacy modules, read without loading them. */
enum pst_presence {
        PST_ABSENT,   /* neither loaded nor found on disk */
        PST_LOADABLE, /* a module in /lib/modules/RELEASE, not loaded */
        PST_PRESENT,  /* loaded or built in */
};

enum pst_legacy {
        PST_LEGACY_IP_TABLES,  /* ip_tables: iptables-legacy's filter table for IPv4 */
        PST_LEGACY_IP6_TABLES, /* ip6_tables */
        PST_LEGACY_IP_SET,     /* ip_set: ipset */
        _PST_LEGACY_MAX,
};

const char *pst_legacy_name(enum pst_legacy l);          /* "ip_tables" */
const char *pst_presence_name(enum pst_presence p);      /* "present", "loadable", "absent" */

struct pst_features {
        char release[65];          /* uname -r */
        /* 0: nf_tables answered and was probed.  Else why not: -EPERM (the
         * caller lacks CAP_NET_ADMIN), -EPROTONOSUPPORT or another errno
         * from the GETGEN request (no nf_tables), or the probe's own error. */
        int probe_error;
        bool nftables;             /* the kernel answers nf_tables (GETGEN) */
        uint32_t present;          /* bit (1 << enum pst_feature), meaningful when probe_error == 0 */
        int error[_PST_FEAT_MAX];  /* the kernel's answer per feature: 0, or its negative errno */
        enum pst_presence legacy[_PST_LEGACY_MAX];
        bool private_ns;           /* probed from a child's own user and network namespace (see below) */
        uint64_t usec;             /* how long the probe took */
};

static inline bool pst_features_has(const struct pst_features *f, enum pst_feature x) {
        return f->probe_error == 0 && (f->present & (UINT32_C(1) << x));
}

/* Every "used" feature present (and so: at least PST_KERNEL_OLDEST, as far
 * as postern is concerned).  false also when nf_tables could not be probed. */
bool pst_features_supported(const struct pst_features *f);

/*
 * Probe the running kernel, in the caller's network namespace.  Never
 * changes the ruleset (see above).  A caller without CAP_NET_ADMIN there
 * (EPERM) asks the same kernel from a forked child in a user and network
 * namespace of its own (private_ns), where unprivileged user namespaces are
 * allowed.  Returns 0 with *ret filled, also when
 * nf_tables could not be probed (ret->probe_error says why: the legacy side
 * and the release are still filled); a negative errno only when uname()
 * fails.
 */
int pst_features_probe(struct pst_features *ret);

/* Where the ruleset first needs each feature. */
struct pst_feature_use {
        bool needed;
        const char *file; /* NULL: no policy line (a table-wide feature) */
        unsigned line;
        char what[PST_NAME_MAX + 64]; /* "set lan_v4", "rule 3 of chain input" */
};

/* Which features rs needs, by the same rules nft-batch.c builds by. */
void pst_features_needed(const struct pst_ruleset *rs, struct pst_feature_use ret[_PST_FEAT_MAX]);

/*
 * One error per feature rs needs that f lacks: "FILE:LINE: set x needs
 * concatenated interval sets (Linux 5.6): this kernel (5.4.0-42) does not
 * have them".  Returns how many (0: nothing missing, or f not probed).
 */
unsigned pst_features_explain(const struct pst_features *f, const struct pst_ruleset *rs, struct pst_diag *diag);

/*
 * The endpoint-mapper reply readers this kernel offers (rpc.h
 * PST_RPC_MECH_*), for pst_load_opts.rpc_offer: PST_RPC_MECH_PROBED, with
 * KERNEL when PST_FEAT_RPC_KERNEL is there and QUEUE when PST_FEAT_QUEUE
 * is.  0 when nf_tables could not be probed (nothing known: an explicit
 * options.rpc_mechanism is compiled as asked, "auto" is NFLOG).
 */
unsigned pst_features_rpc_offer(const struct pst_features *f);
/* pst_features_probe() of just those two features, then the above (0 when
 * the probe fails). */
unsigned pst_rpc_offer_probe(void);

/* f as --version and status show it: text (for people), and as the JSON
 * object key (README, "posternctl --version --json"). */
void pst_features_print(const struct pst_features *f, FILE *out);
void pst_features_json(const struct pst_features *f, struct pst_json *j, const char *key);
