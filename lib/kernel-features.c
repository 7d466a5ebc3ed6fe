/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Probing the running kernel (kernel-features.h): one check-mode nf_tables batch,
 * a few files under /proc, /sys and /lib/modules, and uname().
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kernel-features.h"
#include "nft.h"
#include "rpc.h"

static const struct pst_feature_info infos[_PST_FEAT_MAX] = {
        [PST_FEAT_INET_FILTER] = { "inet_filter", "3.14", "inet tables with filter base chains", true },
        [PST_FEAT_META] = { "meta", "3.14", "meta nfproto/l4proto/iifname/oifname matches", true },
        [PST_FEAT_PAYLOAD] = { "payload", "3.13", "header field matches (addresses, ports)", true },
        [PST_FEAT_CT_STATE] = { "ct_state", "3.13", "connection tracking state (ct state)", true },
        [PST_FEAT_VERDICT_MAP] = { "verdict_map", "3.13", "verdict maps (vmap)", true },
        [PST_FEAT_INTERVAL_SET] = { "interval_set", "3.13", "interval sets (networks, port ranges)", true },
        [PST_FEAT_CONCAT] = { "concat", "4.1", "concatenated set keys (ip saddr . tcp dport)", true },
        [PST_FEAT_CONCAT_INTERVAL] = { "concat_interval", "5.6",
                                       "concatenated interval sets (ranges in ip saddr . tcp dport keys)", true },
        [PST_FEAT_COUNTER] = { "counter", "3.13", "rule counters", true },
        [PST_FEAT_LIMIT] = { "limit", "4.3", "packet rate limits with a burst (limit rate N/minute)", true },
        [PST_FEAT_LOG] = { "log", "3.13", "logging in inet chains (log prefix)", true },
        [PST_FEAT_SET_TIMEOUT] = { "set_timeout", "4.1", "set element timeouts", false },
        [PST_FEAT_QUEUE] = { "queue", "3.14", "the queue expression (NFQUEUE; CONFIG_NFT_QUEUE)", false },
        [PST_FEAT_INNER_PAYLOAD] = { "inner_payload", "5.7", "raw inner header payload (@ih)", false },
        [PST_FEAT_TABLE_OWNER] = { "table_owner", "5.12", "table ownership (NFT_TABLE_F_OWNER)", false },
        [PST_FEAT_TABLE_PERSIST] = { "table_persist", "6.9", "tables that outlive their owner (NFT_TABLE_F_PERSIST)",
                                     false },
        [PST_FEAT_RPC_KERNEL] = { "rpc_kernel", "4.1",
                                  "endpoint-mapper replies read in the kernel (a set update keyed by a raw payload "
                                  "load)",
                                  false },
};

const struct pst_feature_info *pst_feature_info(enum pst_feature f) {
        return (unsigned) f < _PST_FEAT_MAX ? &infos[f] : NULL;
}

const char *pst_legacy_name(enum pst_legacy l) {
        static const char *const names[_PST_LEGACY_MAX] = {
                [PST_LEGACY_IP_TABLES] = "ip_tables",
                [PST_LEGACY_IP6_TABLES] = "ip6_tables",
                [PST_LEGACY_IP_SET] = "ip_set",
        };
        return (unsigned) l < _PST_LEGACY_MAX ? names[l] : NULL;
}

const char *pst_presence_name(enum pst_presence p) {
        return p == PST_PRESENT ? "present" : p == PST_LOADABLE ? "loadable" : "absent";
}

bool pst_features_supported(const struct pst_features *f) {
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (infos[i].used && !pst_features_has(f, i))
                        return false;
        return true;
}

/* ---- the legacy side: read, never load ---- */

/* Is "/NAME.ko" (any compression suffix) a module of modules.dep?  One line
 * per module, "kernel/net/ipv4/netfilter/ip_tables.ko.xz: deps". */
static bool module_on_disk(const char *dep, const char *name) {
        char pat[64];
        size_t n;

        n = (size_t) snprintf(pat, sizeof(pat), "/%s.ko", name);
        for (const char *p = dep; (p = strstr(p, pat)); p += n)
                if (p[n] == ':' || p[n] == '.')
                        return true;
        return false;
}

static void probe_legacy(struct pst_features *f) {
        static const char *const proc[_PST_LEGACY_MAX] = {
                [PST_LEGACY_IP_TABLES] = "/proc/net/ip_tables_names",
                [PST_LEGACY_IP6_TABLES] = "/proc/net/ip6_tables_names",
                [PST_LEGACY_IP_SET] = NULL, /* no /proc file; /sys/module/ip_set has its parameters */
        };
        _cleanup_free_ char *dep = NULL;
        char path[128];

        snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", f->release);
        if (read_full_file(path, 16u << 20, &dep, NULL) < 0)
                dep = NULL; /* no module tree (a monolithic kernel, a VM sharing the host's root) */
        for (unsigned i = 0; i < _PST_LEGACY_MAX; i++) {
                snprintf(path, sizeof(path), "/sys/module/%s", pst_legacy_name(i));
                if ((proc[i] && access(proc[i], F_OK) == 0) || access(path, F_OK) == 0)
                        f->legacy[i] = PST_PRESENT;
                else if (dep && module_on_disk(dep, pst_legacy_name(i)))
                        f->legacy[i] = PST_LOADABLE;
                else
                        f->legacy[i] = PST_ABSENT;
        }
}

/* ---- the probe batch ---- */

#define PROBE_BUF (64 * 1024)    /* the whole batch: ~40 small messages */
#define PROBE_MSG_ROOM 2048      /* the largest probe message, with room to spare */
#define PROBE_MSGS_MAX 64
#define PROBE_CHAIN "c"
#define PROBE_SET "s"

struct probe {
        char *buf;
        size_t len;
        uint32_t seq0, n;              /* message i has sequence number seq0 + i */
        int8_t feat[PROBE_MSGS_MAX];   /* which feature message i probes; -1: BEGIN */
        bool acked[PROBE_MSGS_MAX];
        enum pst_feature cur;
        bool overflow;
};

static char *msg_room(struct probe *p) {
        if (p->len + PROBE_MSG_ROOM > PROBE_BUF || p->n >= PROBE_MSGS_MAX) {
                p->overflow = true;
                return NULL;
        }
        return p->buf + p->len;
}

static void msg_done(struct probe *p, const struct nlmsghdr *nlh, bool batch) {
        p->feat[p->n++] = batch ? -1 : (int8_t) p->cur;
        p->len += nlh->nlmsg_len;
}

static struct nlmsghdr *msg_hdr(struct probe *p, uint16_t type, uint16_t flags) {
        char *room = msg_room(p);

        return room ? nftnl_nlmsg_build_hdr(room, type, NFPROTO_INET, NLM_F_ACK | flags, p->seq0 + p->n) : NULL;
}

static void put_table(struct probe *p, const char *t, uint32_t flags) {
        struct nftnl_table *o = nftnl_table_alloc();
        struct nlmsghdr *nlh = msg_hdr(p, NFT_MSG_NEWTABLE, NLM_F_CREATE);

        if (o && nlh && nftnl_table_set_str(o, NFTNL_TABLE_NAME, t) == 0) {
                nftnl_table_set_u32(o, NFTNL_TABLE_FAMILY, NFPROTO_INET);
                nftnl_table_set_u32(o, NFTNL_TABLE_FLAGS, flags);
                nftnl_table_nlmsg_build_payload(nlh, o);
                msg_done(p, nlh, false);
        } else
                p->overflow = true;
        if (o)
                nftnl_table_free(o);
}

/* hook < 0: a regular chain */
static void put_chain(struct probe *p, const char *t, const char *name, int hook) {
        struct nftnl_chain *o = nftnl_chain_alloc();
        struct nlmsghdr *nlh = msg_hdr(p, NFT_MSG_NEWCHAIN, NLM_F_CREATE);

        if (o && nlh && nftnl_chain_set_str(o, NFTNL_CHAIN_TABLE, t) == 0 &&
            nftnl_chain_set_str(o, NFTNL_CHAIN_NAME, name) == 0 &&
            (hook < 0 || nftnl_chain_set_str(o, NFTNL_CHAIN_TYPE, "filter") == 0)) {
                nftnl_chain_set_u32(o, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
                if (hook >= 0) {
                        nftnl_chain_set_u32(o, NFTNL_CHAIN_HOOKNUM, (uint32_t) hook);
                        nftnl_chain_set_s32(o, NFTNL_CHAIN_PRIO, 0);
                        nftnl_chain_set_u32(o, NFTNL_CHAIN_POLICY, NF_DROP);
                }
                nftnl_chain_nlmsg_build_payload(nlh, o);
                msg_done(p, nlh, false);
        } else
                p->overflow = true;
        if (o)
                nftnl_chain_free(o);
}

/* A rule of the expressions e[] (taken, also on failure) in chain c of table t. */
static void put_rule_in(struct probe *p, const char *t, const char *c, struct nftnl_expr *const *e, size_t n) {
        struct nftnl_rule *o = nftnl_rule_alloc();
        struct nlmsghdr *nlh = msg_hdr(p, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
        bool ok = o && nlh && nftnl_rule_set_str(o, NFTNL_RULE_TABLE, t) == 0 &&
                  nftnl_rule_set_str(o, NFTNL_RULE_CHAIN, c) == 0;

        for (size_t i = 0; i < n; i++) {
                if (ok && e[i])
                        nftnl_rule_add_expr(o, e[i]);
                else if (e[i])
                        nftnl_expr_free(e[i]);
                ok = ok && e[i];
        }
        if (ok) {
                nftnl_rule_set_u32(o, NFTNL_RULE_FAMILY, NFPROTO_INET);
                nftnl_rule_nlmsg_build_payload(nlh, o);
                msg_done(p, nlh, false);
        } else
                p->overflow = true;
        if (o)
                nftnl_rule_free(o);
}

static void put_rule(struct probe *p, const char *t, struct nftnl_expr *const *e, size_t n) {
        put_rule_in(p, t, PROBE_CHAIN, e, n);
}

/* The set (taken), then its elements, if it has any. */
static void put_set(struct probe *p, const char *t, struct nftnl_set *s, bool elems) {
        struct nlmsghdr *nlh;

        if (!s || nftnl_set_set_str(s, NFTNL_SET_TABLE, t) < 0) {
                p->overflow = true;
                goto out;
        }
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
        nlh = msg_hdr(p, NFT_MSG_NEWSET, NLM_F_CREATE);
        if (!nlh)
                goto out;
        nftnl_set_nlmsg_build_payload(nlh, s);
        msg_done(p, nlh, false);
        if (!elems)
                goto out;
        nlh = msg_hdr(p, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
        if (!nlh)
                goto out;
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        msg_done(p, nlh, false);
out:
        if (s)
                nftnl_set_free(s);
}

/* ---- expressions ---- */

static struct nftnl_expr *e_u32s(const char *name, const uint16_t *attrs, const uint32_t *vals, size_t n) {
        struct nftnl_expr *e = nftnl_expr_alloc(name);

        for (size_t i = 0; e && i < n; i++)
                nftnl_expr_set_u32(e, attrs[i], vals[i]);
        return e;
}

static struct nftnl_expr *e_meta(uint32_t key) {
        return e_u32s("meta", (const uint16_t[]) { NFTNL_EXPR_META_KEY, NFTNL_EXPR_META_DREG },
                      (const uint32_t[]) { key, NFT_REG_1 }, 2);
}

static struct nftnl_expr *e_payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg) {
        return e_u32s("payload",
                      (const uint16_t[]) { NFTNL_EXPR_PAYLOAD_BASE, NFTNL_EXPR_PAYLOAD_OFFSET, NFTNL_EXPR_PAYLOAD_LEN,
                                           NFTNL_EXPR_PAYLOAD_DREG },
                      (const uint32_t[]) { base, off, len, dreg }, 4);
}

static struct nftnl_expr *e_cmp(uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = e_u32s("cmp", (const uint16_t[]) { NFTNL_EXPR_CMP_SREG, NFTNL_EXPR_CMP_OP },
                                      (const uint32_t[]) { NFT_REG_1, op }, 2);

        if (e && nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0) {
                nftnl_expr_free(e);
                return NULL;
        }
        return e;
}

static struct nftnl_expr *e_bitwise(const void *mask, const void *xor, uint32_t len) {
        struct nftnl_expr *e = e_u32s("bitwise",
                                      (const uint16_t[]) { NFTNL_EXPR_BITWISE_SREG, NFTNL_EXPR_BITWISE_DREG,
                                                           NFTNL_EXPR_BITWISE_LEN },
                                      (const uint32_t[]) { NFT_REG_1, NFT_REG_1, len }, 3);

        if (e && (nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len) < 0 ||
                  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len) < 0)) {
                nftnl_expr_free(e);
                return NULL;
        }
        return e;
}

/* lookup of set PROBE_SET (id 1) from NFT_REG_1; vmap: into the verdict register */
static struct nftnl_expr *e_lookup(const char *set, bool vmap) {
        struct nftnl_expr *e = e_u32s("lookup", (const uint16_t[]) { NFTNL_EXPR_LOOKUP_SREG, NFTNL_EXPR_LOOKUP_SET_ID },
                                      (const uint32_t[]) { NFT_REG_1, 1 }, 2);

        if (e && vmap)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
        if (e && nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set) < 0) {
                nftnl_expr_free(e);
                return NULL;
        }
        return e;
}

static struct nftnl_expr *e_log(const char *prefix) {
        struct nftnl_expr *e = nftnl_expr_alloc("log");

        if (e && nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix) < 0) {
                nftnl_expr_free(e);
                return NULL;
        }
        return e;
}

static struct nftnl_expr *e_jump(const char *chain) {
        struct nftnl_expr *e = e_u32s("immediate", (const uint16_t[]) { NFTNL_EXPR_IMM_DREG, NFTNL_EXPR_IMM_VERDICT },
                                      (const uint32_t[]) { NFT_REG_VERDICT, (uint32_t) NFT_JUMP }, 2);

        if (e && nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain) < 0) {
                nftnl_expr_free(e);
                return NULL;
        }
        return e;
}

static struct nftnl_expr *e_limit(void) {
        struct nftnl_expr *e = e_u32s("limit", (const uint16_t[]) { NFTNL_EXPR_LIMIT_BURST, NFTNL_EXPR_LIMIT_TYPE,
                                                                    NFTNL_EXPR_LIMIT_FLAGS },
                                      (const uint32_t[]) { 5, NFT_LIMIT_PKTS, 0 }, 3);

        if (e) {
                nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, 10);
                nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 60);
        }
        return e;
}

static struct nftnl_expr *e_queue(void) {
        struct nftnl_expr *e = nftnl_expr_alloc("queue");

        if (e) {
                nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, 0);
                nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
                nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, 0);
        }
        return e;
}

/* ---- sets ---- */

/* nft datatype ids (nftables' enum datatypes), as lib/ir.c has them */
#define TYPE_IPADDR 7
#define TYPE_INET_PROTOCOL 12
#define TYPE_INET_SERVICE 13

static struct nftnl_set *new_set(const char *name, uint32_t flags, uint32_t keytype, uint32_t keylen) {
        struct nftnl_set *s = nftnl_set_alloc();

        if (s && nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0) {
                nftnl_set_free(s);
                return NULL;
        }
        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, keytype);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, keylen);
        }
        return s;
}

/* One element: key[len], optional key_end, INTERVAL_END flag, verdict
 * (vmap: NF_ACCEPT).  On failure the set is freed and NULL returned. */
static struct nftnl_set *add_elem(struct nftnl_set *s, const void *key, const void *key_end, uint32_t len,
                                  bool end, bool verdict) {
        struct nftnl_set_elem *e;

        if (!s)
                return NULL;
        e = nftnl_set_elem_alloc();
        if (!e || nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len) < 0 ||
            (key_end && nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, key_end, len) < 0)) {
                if (e)
                        nftnl_set_elem_free(e);
                nftnl_set_free(s);
                return NULL;
        }
        if (end)
                nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
        if (verdict)
                nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NF_ACCEPT);
        nftnl_set_elem_add(s, e);
        return s;
}

/* ---- one probe per feature, each in table t, chain c ---- */

/* meta l4proto vmap { tcp : accept }, as the ct state vmap is built */
static void probe_vmap(struct probe *p, const char *t) {
        struct nftnl_set *s = new_set("__map%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP,
                                      TYPE_INET_PROTOCOL, 1);
        uint8_t tcp = IPPROTO_TCP;

        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
                nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, 1);
        }
        put_set(p, t, add_elem(s, &tcp, NULL, 1, false, true), true);
        put_rule(p, t, (struct nftnl_expr *[]) { e_meta(NFT_META_L4PROTO), e_lookup("__map%d", true) }, 2);
}

/* ip saddr . tcp dport: each field in its own 32-bit register */
static void probe_concat(struct probe *p, const char *t, bool ranges) {
        static const uint8_t first[8] = { 198, 18, 0, 0, 0, 25 }, last[8] = { 198, 18, 0, 255, 0, 25 };
        uint32_t type = (TYPE_IPADDR << 6) | TYPE_INET_SERVICE;
        struct nftnl_set *s;

        if (!ranges) {
                s = add_elem(new_set(PROBE_SET, 0, type, 8), first, NULL, 8, false, false);
                put_set(p, t, s, true);
                put_rule(p, t, (struct nftnl_expr *[]) { e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1),
                                                         e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01),
                                                         e_lookup(PROBE_SET, false) },
                         3);
                return;
        }
        s = new_set(PROBE_SET, NFT_SET_INTERVAL | NFT_SET_CONCAT, type, 8);
        if (s && nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, (const uint8_t[]) { 4, 2 }, 2) < 0) {
                nftnl_set_free(s);
                s = NULL;
        }
        put_set(p, t, add_elem(s, first, last, 8, false, false), true);
}

/* 198.18.0.0/15 as the kernel's interval elements: end at 0, start, end */
static void probe_interval(struct probe *p, const char *t) {
        static const uint8_t zero[4], start[4] = { 198, 18 }, end[4] = { 198, 20 };
        struct nftnl_set *s = new_set(PROBE_SET, NFT_SET_INTERVAL, TYPE_IPADDR, 4);

        s = add_elem(s, zero, NULL, 4, true, false);
        s = add_elem(s, start, NULL, 4, false, false);
        put_set(p, t, add_elem(s, end, NULL, 4, true, false), true);
}

static void probe_timeout(struct probe *p, const char *t) {
        struct nftnl_set *s = new_set(PROBE_SET, NFT_SET_TIMEOUT, TYPE_IPADDR, 4);

        if (s)
                nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, 60 * 1000); /* ms */
        put_set(p, t, s, false);
}

static struct nftnl_expr *e_dynset_update(const char *set) {
        struct nftnl_expr *e = nftnl_expr_alloc("dynset");

        if (e && nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set) < 0) {
                nftnl_expr_free(e);
                return NULL;
        }
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, 1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        }
        return e;
}

/* What lib/compile.c emits for options.rpc_mechanism kernel+*: a timeout
 * set of ipv4_addr . ipv4_addr . inet_service and a rule that checks raw
 * transport-header bytes (the DCE/RPC header after a 20-byte TCP header)
 * and updates the set with ip daddr . ip saddr . @th,1248,16. */
static void probe_rpc_kernel(struct probe *p, const char *t) {
        static const uint8_t hdr[4] = { 5, 0, 2, 3 };
        struct nftnl_set *s = new_set(PROBE_SET, NFT_SET_TIMEOUT | NFT_SET_EVAL,
                                      (TYPE_IPADDR << 12) | (TYPE_IPADDR << 6) | TYPE_INET_SERVICE, 12);

        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, 16);
                nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, 60 * 1000); /* ms */
        }
        put_set(p, t, s, false);
        put_rule(p, t, (struct nftnl_expr *[]) { e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 20, 4, NFT_REG_1),
                                                 e_cmp(NFT_CMP_EQ, hdr, 4),
                                                 e_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1),
                                                 e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_01),
                                                 e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 156, 2, NFT_REG32_02),
                                                 e_dynset_update(PROBE_SET) },
                 6);
}

static void probe_rules(struct probe *p, const char *t, enum pst_feature f) {
        static const uint8_t v4[4] = { 198, 18, 0, 0 }, mask[4] = { 255, 255, 0, 0 }, zero[16] = {};
        static const uint16_t lo_port = 0x0100, hi_port = 0xffff; /* big endian 1, 65535 */
        static const char lo[16] = "lo";
        uint8_t ipv4 = NFPROTO_IPV4, tcp = IPPROTO_TCP;
        uint32_t established = 2; /* NF_CT_STATE_BIT(IP_CT_ESTABLISHED), host byte order */

        switch (f) {
        case PST_FEAT_META:
                put_rule(p, t, (struct nftnl_expr *[]) { e_meta(NFT_META_NFPROTO), e_cmp(NFT_CMP_EQ, &ipv4, 1),
                                                         e_meta(NFT_META_L4PROTO), e_cmp(NFT_CMP_EQ, &tcp, 1),
                                                         e_meta(NFT_META_IIFNAME), e_cmp(NFT_CMP_EQ, lo, 3),
                                                         e_meta(NFT_META_OIFNAME), e_cmp(NFT_CMP_EQ, lo, 16) },
                         8);
                return;
        case PST_FEAT_PAYLOAD:
                put_rule(p, t, (struct nftnl_expr *[]) { e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1),
                                                         e_bitwise(mask, zero, 4), e_cmp(NFT_CMP_EQ, v4, 4),
                                                         e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1),
                                                         e_cmp(NFT_CMP_GTE, &lo_port, 2),
                                                         e_cmp(NFT_CMP_LTE, &hi_port, 2) },
                         6);
                return;
        case PST_FEAT_CT_STATE:
                put_rule(p, t, (struct nftnl_expr *[]) { e_u32s("ct", (const uint16_t[]) { NFTNL_EXPR_CT_KEY,
                                                                                            NFTNL_EXPR_CT_DREG },
                                                                (const uint32_t[]) { NFT_CT_STATE, NFT_REG_1 }, 2),
                                                         e_cmp(NFT_CMP_EQ, &established, 4) },
                         2);
                return;
        case PST_FEAT_COUNTER:
                put_rule(p, t, (struct nftnl_expr *[]) { nftnl_expr_alloc("counter") }, 1);
                return;
        case PST_FEAT_LIMIT:
                put_rule(p, t, (struct nftnl_expr *[]) { e_limit() }, 1);
                return;
        case PST_FEAT_LOG:
                put_rule(p, t, (struct nftnl_expr *[]) { e_log("postern probe: ") }, 1);
                return;
        case PST_FEAT_QUEUE:
                put_rule(p, t, (struct nftnl_expr *[]) { e_queue() }, 1);
                return;
        case PST_FEAT_INNER_PAYLOAD:
                put_rule(p, t, (struct nftnl_expr *[]) { e_payload(NFT_PAYLOAD_INNER_HEADER, 0, 4, NFT_REG_1),
                                                         e_cmp(NFT_CMP_EQ, v4, 4) },
                         2);
                return;
        default:
                p->overflow = true; /* not a rule probe: a bug */
                return;
        }
}

/* Feature f's messages, in table postern-probe-F of its own. */
static void probe_feature(struct probe *p, enum pst_feature f) {
        char t[32];

        p->cur = f;
        snprintf(t, sizeof(t), "postern-probe-%u", (unsigned) f);
        switch (f) {
        case PST_FEAT_TABLE_OWNER:
                put_table(p, t, NFT_TABLE_F_OWNER);
                return;
        case PST_FEAT_TABLE_PERSIST:
                put_table(p, t, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
                return;
        case PST_FEAT_INET_FILTER:
                put_table(p, t, 0);
                put_chain(p, t, "input", NF_INET_LOCAL_IN);
                put_chain(p, t, "forward", NF_INET_FORWARD);
                put_chain(p, t, PROBE_CHAIN, -1);
                put_rule_in(p, t, "input", (struct nftnl_expr *[]) { e_jump(PROBE_CHAIN) }, 1);
                return;
        default:
                break;
        }
        put_table(p, t, 0);
        put_chain(p, t, PROBE_CHAIN, -1);
        if (f == PST_FEAT_VERDICT_MAP)
                probe_vmap(p, t);
        else if (f == PST_FEAT_CONCAT || f == PST_FEAT_CONCAT_INTERVAL)
                probe_concat(p, t, f == PST_FEAT_CONCAT_INTERVAL);
        else if (f == PST_FEAT_INTERVAL_SET)
                probe_interval(p, t);
        else if (f == PST_FEAT_SET_TIMEOUT)
                probe_timeout(p, t);
        else if (f == PST_FEAT_RPC_KERNEL)
                probe_rpc_kernel(p, t);
        else
                probe_rules(p, t, f);
}

/* ---- sending it ---- */

/* Every ACK: message i of the batch answered with error (0: accepted). */
static int read_acks(struct probe *p, struct mnl_socket *nl, struct pst_features *f) {
        uint32_t portid = mnl_socket_get_portid(nl);
        _cleanup_free_ char *rbuf = malloc(PROBE_BUF);
        int fd = mnl_socket_get_fd(nl);

        if (!rbuf)
                return -ENOMEM;
        /* nfnetlink processes the batch inside sendmsg() and queues every
         * ACK before it returns (after any module-loading replays): drain
         * without blocking. */
        for (;;) {
                ssize_t n = recv(fd, rbuf, PROBE_BUF, MSG_DONTWAIT);
                int left = (int) n;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
                for (const struct nlmsghdr *nlh = (const void *) rbuf; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left)) {
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                        uint32_t i = nlh->nlmsg_seq - p->seq0;

                        if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != portid || i >= p->n ||
                            nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
                                continue;
                        p->acked[i] = true;
                        if (e->error == 0)
                                continue;
                        if (p->feat[i] < 0)
                                return e->error; /* the batch itself: EPERM without CAP_NET_ADMIN */
                        if (f->error[p->feat[i]] == 0)
                                f->error[p->feat[i]] = e->error;
                }
        }
}

static int send_probe(struct probe *p, struct pst_features *f) {
        struct mnl_socket *nl;
        int one = 1, r;

        nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = -errno;
                mnl_socket_close(nl);
                return r;
        }
        /* errors as header + extack, not the whole message echoed (old kernels: ignored) */
        (void) mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
        r = mnl_socket_sendto(nl, p->buf, p->len) < 0 ? -errno : 0;
        if (r >= 0)
                r = read_acks(p, nl, f);
        mnl_socket_close(nl);
        return r;
}

/* BEGIN, the messages of each feature in which (bits of enum pst_feature),
 * and no END: the kernel checks and discards. */
static int probe_nft(struct pst_features *f, uint32_t which) {
        /* zeroed: libnftnl leaves attribute padding unwritten, and it is sent */
        _cleanup_free_ char *buf = calloc(1, PROBE_BUF);
        struct probe p = { .buf = buf, .seq0 = 1 };
        struct nlmsghdr *nlh;
        int r;

        if (!buf)
                return -ENOMEM;
        nlh = nftnl_batch_begin(msg_room(&p), p.seq0);
        msg_done(&p, nlh, true);
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (which & (UINT32_C(1) << i))
                        probe_feature(&p, i);
        if (p.overflow)
                return -ENOBUFS; /* PROBE_BUF / PROBE_MSGS_MAX too small for the probes: a bug */
        r = send_probe(&p, f);
        if (r < 0)
                return r;
        for (uint32_t i = 1; i < p.n; i++)
                if (!p.acked[i] && f->error[p.feat[i]] == 0)
                        f->error[p.feat[i]] = -EPROTO; /* no answer at all: not known to work */
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (f->error[i] == 0 && (which & (UINT32_C(1) << i)))
                        f->present |= UINT32_C(1) << i;
        return 0;
}

/*
 * The caller may not talk nf_tables in its namespace (EPERM: no
 * CAP_NET_ADMIN there).  It is the kernel that is asked about, not this
 * namespace's ruleset: ask it from a child in a user and network namespace
 * of its own, where the child has CAP_NET_ADMIN (the rootless `unshare -rn`
 * way; no exec, so the capabilities stay).  Fails where unprivileged user
 * namespaces are off; then the EPERM stands.
 */
static int probe_private(struct pst_features *f, uint32_t which) {
        struct pst_features c = {};
        int pfd[2], status;
        ssize_t n;
        pid_t pid;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return -errno;
        }
        if (pid == 0) {
                int r = unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0 ? -errno : pst_nft_probe();

                close(pfd[0]);
                c.nftables = r >= 0;
                if (r >= 0)
                        r = probe_nft(&c, which);
                c.probe_error = r < 0 ? r : 0;
                _exit(write(pfd[1], &c, sizeof(c)) == (ssize_t) sizeof(c) ? 0 : 1);
        }
        close(pfd[1]);
        do
                n = read(pfd[0], &c, sizeof(c));
        while (n < 0 && errno == EINTR);
        close(pfd[0]);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
            n != (ssize_t) sizeof(c))
                return -EIO;
        if (c.probe_error)
                return c.probe_error;
        f->nftables = c.nftables;
        f->present = c.present;
        memcpy(f->error, c.error, sizeof(f->error));
        f->private_ns = true;
        return 0;
}

static int features_probe(struct pst_features *ret, uint32_t which) {
        struct pst_features f = {};
        uint64_t t0 = now_usec();
        struct utsname u;
        int r;

        if (uname(&u) < 0)
                return -errno;
        snprintf(f.release, sizeof(f.release), "%s", u.release);
        probe_legacy(&f);
        r = pst_nft_probe();
        if (r >= 0) {
                f.nftables = true;
                r = probe_nft(&f, which);
        }
        if (r == -EPERM && probe_private(&f, which) == 0)
                r = 0;
        if (r < 0) {
                f.probe_error = r;
                f.present = 0;
        }
        f.usec = now_usec() - t0;
        *ret = f;
        return 0;
}

int pst_features_probe(struct pst_features *ret) {
        return features_probe(ret, (UINT32_C(1) << _PST_FEAT_MAX) - 1);
}

/* ---- what a ruleset needs ---- */

static void use(struct pst_feature_use u[], enum pst_feature f, const struct pst_ruleset *rs, struct pst_origin o,
                const char *what) {
        if (u[f].needed)
                return;
        u[f] = (struct pst_feature_use) { .needed = true, .file = pst_origin_file(rs, o), .line = o.line };
        snprintf(u[f].what, sizeof(u[f].what), "%s", what);
}

static void needed_by_set(struct pst_feature_use u[], const struct pst_ruleset *rs, const struct pst_set *s) {
        char what[sizeof(u[0].what)];

        if (s->flags & PST_SET_ANON)
                snprintf(what, sizeof(what), "an anonymous %s", (s->flags & PST_SET_MAP) ? "map" : "set");
        else
                snprintf(what, sizeof(what), "%s %s", (s->flags & PST_SET_MAP) ? "map" : "set", s->name);
        if (s->flags & PST_SET_MAP)
                use(u, PST_FEAT_VERDICT_MAP, rs, s->origin, what);
        if (s->nfields > 1)
                use(u, PST_FEAT_CONCAT, rs, s->origin, what);
        if ((s->flags & PST_SET_INTERVAL) && s->nfields > 1)
                use(u, PST_FEAT_CONCAT_INTERVAL, rs, s->origin, what);
        else if (s->flags & PST_SET_INTERVAL)
                use(u, PST_FEAT_INTERVAL_SET, rs, s->origin, what);
}

static void needed_by_field(struct pst_feature_use u[], const struct pst_ruleset *rs, enum pst_field fld,
                            struct pst_origin o, const char *what) {
        const struct pst_field_info *fi = pst_field_info(fld);

        if (!fi)
                return;
        if (fi->nfproto || fi->l4proto || fld == PST_F_IIFNAME || fld == PST_F_OIFNAME || fld == PST_F_NFPROTO ||
            fld == PST_F_L4PROTO)
                use(u, PST_FEAT_META, rs, o, what); /* the field itself, or its implied meta dependency */
        if (fld == PST_F_CT_STATE || fld == PST_F_CT_DIRECTION || fld == PST_F_CT_STAMP)
                use(u, PST_FEAT_CT_STATE, rs, o, what); /* the ct expression */
        else if (fld != PST_F_IIFNAME && fld != PST_F_OIFNAME && fld != PST_F_NFPROTO && fld != PST_F_L4PROTO)
                use(u, PST_FEAT_PAYLOAD, rs, o, what);
}

static void needed_by_rule(struct pst_feature_use u[], const struct pst_ruleset *rs, const struct pst_chain *ch,
                           size_t ri) {
        const struct pst_rule *r = &ch->rules[ri];
        char what[sizeof(u[0].what)];

        snprintf(what, sizeof(what), "rule %zu of chain %s", ri + 1, ch->name);
        for (unsigned m = 0; m < r->nmatch && m < PST_MATCH_MAX; m++) {
                const struct pst_match *mt = &r->match[m];

                for (unsigned i = 0; i < mt->nfields && i < PST_CONCAT_MAX; i++)
                        needed_by_field(u, rs, mt->fields[i], r->origin, what);
                if (mt->nfields > 1)
                        use(u, PST_FEAT_CONCAT, rs, r->origin, what);
                if (mt->op == PST_M_VMAP)
                        use(u, PST_FEAT_VERDICT_MAP, rs, r->origin, what);
        }
        if (r->counter)
                use(u, PST_FEAT_COUNTER, rs, r->origin, what);
        if (r->limit_per_minute)
                use(u, PST_FEAT_LIMIT, rs, r->origin, what);
        if (pst_rule_logs(r))
                use(u, PST_FEAT_LOG, rs, r->origin, what);
}

void pst_features_needed(const struct pst_ruleset *rs, struct pst_feature_use ret[_PST_FEAT_MAX]) {
        char what[sizeof(ret[0].what)];

        memset(ret, 0, sizeof(*ret) * _PST_FEAT_MAX);
        snprintf(what, sizeof(what), "table inet %s", rs->table);
        use(ret, PST_FEAT_INET_FILTER, rs, (struct pst_origin) {}, what);
        for (size_t i = 0; i < rs->nsets; i++)
                needed_by_set(ret, rs, &rs->sets[i]);
        for (size_t c = 0; c < rs->nchains; c++)
                for (size_t i = 0; i < rs->chains[c].n; i++)
                        needed_by_rule(ret, rs, &rs->chains[c], i);
}

unsigned pst_features_explain(const struct pst_features *f, const struct pst_ruleset *rs, struct pst_diag *diag) {
        struct pst_feature_use u[_PST_FEAT_MAX];
        unsigned n = 0;

        if (f->probe_error != 0)
                return 0;
        pst_features_needed(rs, u);
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++) {
                if (!u[i].needed || pst_features_has(f, i))
                        continue;
                pst_error(diag, -EOPNOTSUPP, u[i].file, u[i].line,
                          "%s needs %s (Linux %s, feature %s): this kernel (%s) does not have it (%s)", u[i].what,
                          infos[i].what, infos[i].since, infos[i].name, f->release, strerror(-f->error[i]));
                n++;
        }
        return n;
}

/* ---- showing it ---- */

static const char *probe_error_text(int err, char *buf, size_t size) {
        if (err == -EPERM)
                snprintf(buf, size, "%s (the probe needs CAP_NET_ADMIN: run as root)", strerror(-err));
        else if (err == -EPROTONOSUPPORT || err == -EOPNOTSUPP || err == -EINVAL)
                snprintf(buf, size, "the kernel does not answer nf_tables (%s)", strerror(-err));
        else
                snprintf(buf, size, "%s", strerror(-err));
        return buf;
}

void pst_features_json(const struct pst_features *f, struct pst_json *j, const char *key) {
        char err[160];

        pst_json_begin_object(j, key);
        pst_json_string(j, "release", f->release);
        pst_json_string(j, "oldest_supported", PST_KERNEL_OLDEST);
        if (f->probe_error)
                pst_json_raw(j, "supported", "null");
        else
                pst_json_bool(j, "supported", pst_features_supported(f));
        if (f->probe_error == -EPERM)
                pst_json_raw(j, "nftables", "null"); /* not known: the kernel refused to say */
        else
                pst_json_bool(j, "nftables", f->nftables);
        pst_json_string(j, "probe_error", f->probe_error ? probe_error_text(f->probe_error, err, sizeof(err)) : NULL);
        pst_json_int(j, "probe_usec", (long long) f->usec);
        pst_json_bool(j, "probe_private_namespace", f->private_ns);
        pst_json_begin_object(j, "features");
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (f->probe_error)
                        pst_json_raw(j, infos[i].name, "null");
                else
                        pst_json_bool(j, infos[i].name, pst_features_has(f, i));
        pst_json_end_object(j);
        pst_json_begin_object(j, "legacy");
        for (unsigned i = 0; i < _PST_LEGACY_MAX; i++)
                pst_json_string(j, pst_legacy_name(i), pst_presence_name(f->legacy[i]));
        pst_json_end_object(j);
        pst_json_end_object(j);
}

void pst_features_print(const struct pst_features *f, FILE *out) {
        char err[160];
        bool first = true;

        fprintf(out, "Kernel: Linux %s, ", f->release);
        if (f->probe_error)
                fprintf(out, "nf_tables not probed: %s\n", probe_error_text(f->probe_error, err, sizeof(err)));
        else if (pst_features_supported(f))
                fprintf(out, "supported (oldest supported: %s)\n", PST_KERNEL_OLDEST);
        else {
                fprintf(out, "NOT supported (oldest supported: %s), it lacks", PST_KERNEL_OLDEST);
                for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                        if (infos[i].used && !pst_features_has(f, i)) {
                                fprintf(out, "%s %s (Linux %s)", first ? "" : ",", infos[i].name, infos[i].since);
                                first = false;
                        }
                fputc('\n', out);
        }
        if (!f->probe_error) {
                fprintf(out, "  %-16s %-4s %-6s %-5s %s\n", "FEATURE", "HAS", "SINCE", "USED", "WHAT");
                for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                        fprintf(out, "  %-16s %-4s %-6s %-5s %s\n", infos[i].name,
                                pst_features_has(f, i) ? "yes" : "no", infos[i].since, infos[i].used ? "yes" : "-",
                                infos[i].what);
                fprintf(out, "  (probed in %.1f ms%s)\n", (double) f->usec / 1000.0,
                        f->private_ns ? ", in a private user and network namespace: no CAP_NET_ADMIN here" : "");
        }
        fprintf(out, "  legacy xtables:");
        for (unsigned i = 0; i < _PST_LEGACY_MAX; i++)
                fprintf(out, "%s %s %s", i ? "," : "", pst_legacy_name(i), pst_presence_name(f->legacy[i]));
        fputc('\n', out);
}

unsigned pst_features_rpc_offer(const struct pst_features *f) {
        unsigned offer = PST_RPC_MECH_PROBED;

        if (f->probe_error)
                return 0;
        if (pst_features_has(f, PST_FEAT_RPC_KERNEL))
                offer |= PST_RPC_MECH_KERNEL;
        if (pst_features_has(f, PST_FEAT_QUEUE))
                offer |= PST_RPC_MECH_QUEUE;
        return offer;
}

unsigned pst_rpc_offer_probe(void) {
        struct pst_features f;

        /* only the two it needs: before posternd's first apply, and
         * each a module at most the kernel may load on the way */
        if (features_probe(&f, (UINT32_C(1) << PST_FEAT_RPC_KERNEL) | (UINT32_C(1) << PST_FEAT_QUEUE)) < 0)
                return 0;
        return pst_features_rpc_offer(&f);
}
