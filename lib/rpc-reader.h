/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The reply reader for endpoint-mapper pinholes: reads the copies of the
 * endpoint mapper's replies that a rule `log prefix "SET" group
 * PST_RPC_NFLOG_GROUP` sends (prefix = the pinhole set's name), or the
 * replies themselves that a rule `queue flags bypass to Q` holds (one queue
 * per set: pst_rpc_target.queue, compile.c rpc_logs), follows each
 * TCP connection's server side in sequence order through lib/dcerpc.c, and
 * adds client . server . port for every handed-out TCP port (of a listed
 * interface) to that set, with the set's own timeout, in one nf_tables batch
 * per reply.  The server is the reply's source address, whatever the tower
 * names.  Bounded: PST_RPC_READER_CONNS connections followed at a time (the
 * least recently used is forgotten), PST_RPC_READER_TARGETS sets.
 *
 * NFLOG only copies the reply: the client may send its SYN before the
 * element exists and then retransmits it (about 1 s later).  The queue
 * threshold is 1, so that the kernel does not batch copies for up to 1 s.
 *
 * NFQUEUE holds the reply until the reader has read it: every packet gets
 * its NF_ACCEPT right after the batch of its elements is ACKed (the
 * pinhole exists before the client can see the port), or at once when it
 * adds nothing or cannot be read; none is kept past the
 * pst_rpc_reader_process() call that received it.  Each queue holds at most
 * PST_RPC_READER_QUEUE_MAXLEN packets and is fail-open: a full queue, or a
 * message the socket cannot take, lets the reply through without its
 * pinhole, like the rule's `bypass` when no reader is bound.  Closing the
 * reader drops what the kernel still holds for it (none but a packet in
 * flight).
 */

#include "dcerpc.h"
#include "rpc.h"

/* Spelled once: the NFLOG group of endpoint-mapper replies (drop logs use their own). */
#define PST_RPC_NFLOG_GROUP 18
/* options.rpc_mechanism "queue": the first pinhole set's NFQUEUE, the next
 * set's is one more (compile.c rpc_logs, pst_set.queue) */
#define PST_RPC_QUEUE_BASE 18
#define PST_RPC_READER_CONNS 256
#define PST_RPC_READER_TARGETS 64
#define PST_RPC_READER_QUEUE_MAXLEN 256

/* Where the replies come from (one reader reads one kind). */
enum pst_rpc_source_kind {
        PST_RPC_SOURCE_NFLOG, /* copies, NFLOG group .group, prefix = set name */
        PST_RPC_SOURCE_QUEUE, /* the replies, NFQUEUE pst_rpc_target.queue of each set */
};

struct pst_rpc_source {
        enum pst_rpc_source_kind kind;
        uint16_t group; /* NFLOG: PST_RPC_NFLOG_GROUP */
};

struct pst_rpc_target {
        char set[64];   /* "rpc_2_v4": the NFLOG prefix and the set's name in table inet postern */
        int family;     /* AF_INET or AF_INET6 */
        uint16_t queue; /* PST_RPC_SOURCE_QUEUE: the set's NFQUEUE (pst_set.queue) */
        size_t nifs;    /* 0: any interface */
        uint8_t ifs[PST_RPC_IFS_MAX][16];
};

struct pst_rpc_reader_counters {
        uint64_t packets;   /* NFLOG copies or queued replies read */
        uint64_t added;     /* elements the kernel accepted */
        uint64_t refused;   /* elements the kernel refused (the set is full: ENFILE) */
        uint64_t skipped;   /* towers of an interface not listed */
        uint64_t unparsed;  /* replies lib/dcerpc.c could not read */
        uint64_t lost;      /* segments out of order or unknown prefix: that connection is not followed */
        uint64_t last_latency_us; /* NFLOG / NFQUEUE timestamp (or receipt) → element added, last one */
        uint64_t verdicts;  /* NFQUEUE: replies accepted (all that were read, unless a verdict failed) */
};

struct pst_rpc_reader;

int pst_rpc_reader_open(const struct pst_rpc_source *src, const struct pst_rpc_target *targets, size_t n,
                        struct pst_rpc_reader **ret);
/* pst_rpc_reader_open() with the NFLOG source of this group. */
int pst_rpc_reader_new(uint16_t group, const struct pst_rpc_target *targets, size_t n, struct pst_rpc_reader **ret);
struct pst_rpc_reader *pst_rpc_reader_free(struct pst_rpc_reader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_rpc_reader *, pst_rpc_reader_free);
int pst_rpc_reader_fd(const struct pst_rpc_reader *r);
/* Read what is queued (non-blocking socket) and act on it; 0 or a negative errno. */
int pst_rpc_reader_process(struct pst_rpc_reader *r);
const struct pst_rpc_reader_counters *pst_rpc_reader_counters(const struct pst_rpc_reader *r);
/*
 * The sets to fill from now on (a reload): the socket and the followed
 * connections stay; a connection whose set is no longer among them is
 * forgotten; the queues of new targets are bound (queues no target uses
 * any more stay bound: no rule sends there).  -E2BIG beyond
 * PST_RPC_READER_TARGETS, -EPROTOTYPE when the targets ask for the other
 * packet source (queue or not: open another reader); nothing changed then.
 */
int pst_rpc_reader_set_targets(struct pst_rpc_reader *r, const struct pst_rpc_target *targets, size_t n);
/* The netlink port the elements are committed from: the daemon's own, not drift. */
uint32_t pst_rpc_reader_nft_portid(const struct pst_rpc_reader *r);
