/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The nf_tables backend: ruleset IR → one netlink batch → kernel.
 *
 *   pst_nft_batch_build()  IR → batch (pure: no socket, unit-testable)
 *   pst_nft_batch_send()   batch → kernel, every ACK drained and checked
 *   pst_nft_apply()        both, for the whole table
 *   pst_nft_update_set()   both, for one interface-address set (O(set size))
 *
 * Tables, chains, set headers and rules go through libnftnl objects; set
 * elements are written with libmnl directly (one libnftnl object per element
 * costs ~6x more for 100k CIDRs).  The expressions are the ones nft 1.0.6
 * generates for the same constructs, so `nft list` shows our table exactly
 * as if it had been loaded from the equivalent nft text.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netfilter/nf_tables.h>

#include "diag.h"
#include "ir.h"
#include "util.h"

/* Debian 12's uapi header predates it; the kernel (>= 6.9) accepts it. */
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

/* One NETLINK_NETFILTER socket plus its sequence counter.  The daemon keeps
 * one open for its lifetime: closing a socket after a batch that deleted
 * objects waits for an RCU grace period, and its port is how the kernel's
 * notifications name our own commits (nft-watch.c). */
struct pst_nft;

int pst_nft_open(struct pst_nft **ret);
void pst_nft_close(struct pst_nft *nft);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_nft *, pst_nft_close);

struct pst_apply_opts {
        bool check_only;      /* send the batch without its END message: the kernel validates and discards */
        uint32_t table_flags; /* 0, or NFT_TABLE_F_OWNER|NFT_TABLE_F_PERSIST */
        /* set by pst_nft_apply(): the batch holds only if the ruleset is
         * still at generation genid (NFNL_BATCH_GENID; else -ERESTART),
         * and then the table is known not to exist (table_absent: no
         * NEWTABLE + DELTABLE pair to make it go first) */
        bool guard_genid;
        uint32_t genid;
        bool table_absent;
};

/*
 * Atomically replace table inet <rs->table>: NEWTABLE (create if missing),
 * DELTABLE, then NEWTABLE with table_flags + chains + sets + elements +
 * rules, in ONE batch.  The leading NEWTABLE restates the flags an existing
 * table has (one GETTABLE round trip first): the kernel refuses to add or
 * drop OWNER/PERSIST on an existing table in place (EOPNOTSUPP), but lets a
 * table be deleted and created anew, so a plain or orphaned table is taken
 * over and a table owned by another live socket is refused (EPERM).  Every message carries its own sequence number and
 * NLM_F_ACK; all ACKs are drained and checked.  On a kernel error nothing is
 * applied and diag gets "FILE:LINE: kernel rejected <object>: <strerror>
 * (<extack>)".  Returns 0 or a negative errno.
 */
int pst_nft_apply(struct pst_nft *nft, const struct pst_ruleset *rs, const struct pst_apply_opts *o,
                  struct pst_diag *diag);

/* Does table inet <name> exist, and with which NFTA_TABLE_FLAGS?  Changes nothing. */
int pst_nft_table_query(struct pst_nft *nft, const char *name, struct pst_diag *diag, bool *ret_exists,
                        uint32_t *ret_flags);

/* Does the kernel answer nf_tables (NFT_MSG_GETGEN)?  0 if so, else a negative errno. */
int pst_nft_probe(void);

/* The kernel's ruleset generation now (NFTA_GEN_ID: +1 on every commit, anyone's). */
int pst_nft_genid(struct pst_nft *nft, uint32_t *ret);

/* The netlink port of nft's socket: what the kernel names as the committer
 * of our batches in its notifications. */
uint32_t pst_nft_portid(const struct pst_nft *nft);

/*
 * Watching table inet <table> for changes others make (nft-watch.c).  One
 * NETLINK_NETFILTER socket subscribed to NFNLGRP_NFTABLES: the kernel
 * multicasts every committed object change, each message carrying as its
 * nlmsg_pid the netlink port of the socket that committed it, then one
 * NFT_MSG_NEWGEN naming the committing process.  Every nf_tables object
 * message names its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
 * NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, ...).
 */
struct pst_nft_watch;
struct pst_drift;

int pst_nft_watch_open(const char *table, struct pst_nft_watch **ret);
void pst_nft_watch_close(struct pst_nft_watch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_nft_watch *, pst_nft_watch_close);
int pst_nft_watch_fd(const struct pst_nft_watch *w);
/* Commits from portid (0: none) are the caller's too: another socket of its
 * own, the rpc reader's (rpc-reader.h), whose pinholes are state, not drift. */
void pst_nft_watch_trust(struct pst_nft_watch *w, uint32_t portid);

/* Read what the socket holds (without blocking).  1 and *ret filled when a
 * commit from any port but own_portid touched the table (the last such
 * commit); 0 when none; -ENOBUFS when notifications were lost (the caller
 * decides: compare generations); another negative errno on failure. */
int pst_nft_watch_read(struct pst_nft_watch *w, uint32_t own_portid, struct pst_drift *ret);

/* The same for notifications already in a buffer (tests). */
int pst_nft_watch_process(struct pst_nft_watch *w, const void *buf, size_t len, uint32_t own_portid,
                          struct pst_drift *ret);

/*
 * Replace the elements of one named set (an interface-address set) in one
 * small batch: DELSETELEM without elements (flush) + NEWSETELEM with the
 * set's current elements.  The rest of the table is not touched.
 */
int pst_nft_update_set(struct pst_nft *nft, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag);

/*
 * The batch on its own.  It is a list of buffers (each holding whole netlink
 * messages) sent with one sendmsg(): the kernel processes a batch per skb,
 * so BEGIN..END must arrive in one datagram.  Message i has sequence number
 * seq0 + i (message 0 is BATCH_BEGIN).  The batch keeps a pointer to rs (for
 * error messages): rs must outlive it.
 */
struct pst_nft_batch;

int pst_nft_batch_build(const struct pst_ruleset *rs, const struct pst_apply_opts *o, uint32_t seq0,
                        struct pst_nft_batch **ret, struct pst_diag *diag);
int pst_nft_batch_build_set_update(const struct pst_ruleset *rs, uint32_t set, uint32_t seq0,
                                   struct pst_nft_batch **ret, struct pst_diag *diag);
void pst_nft_batch_free(struct pst_nft_batch *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_nft_batch *, pst_nft_batch_free);

size_t pst_nft_batch_nbufs(const struct pst_nft_batch *b);
const void *pst_nft_batch_buf(const struct pst_nft_batch *b, size_t i, size_t *ret_len);
size_t pst_nft_batch_len(const struct pst_nft_batch *b);   /* bytes in all buffers */
size_t pst_nft_batch_nmsgs(const struct pst_nft_batch *b); /* messages, BEGIN and END included */

/* Send a built batch on nft's socket.  The messages are renumbered from the
 * socket's own sequence counter first, so a batch can be sent more than once
 * (the benchmark does). */
int pst_nft_batch_send(struct pst_nft *nft, struct pst_nft_batch *b, struct pst_diag *diag);
