/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The NFLOG reply reader for endpoint-mapper pinholes: reads the copies of
 * the endpoint mapper's replies that a rule `log prefix "SET" group
 * PST_RPC_NFLOG_GROUP` sends (prefix = the pinhole set's name), follows each
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

struct pst_rpc_target {
        char set[64];   /* "rpc_2_v4": the NFLOG prefix and the set's name in table inet postern */
        int family;     /* AF_INET or AF_INET6 */
        size_t nifs;    /* 0: any interface */
        uint8_t ifs[PST_RPC_IFS_MAX][16];
};

struct pst_rpc_reader_counters {
        uint64_t packets;   /* NFLOG copies read */
        uint64_t added;     /* elements the kernel accepted */
        uint64_t refused;   /* elements the kernel refused (the set is full: ENFILE) */
        uint64_t skipped;   /* towers of an interface not listed */
        uint64_t unparsed;  /* replies lib/dcerpc.c could not read */
        uint64_t lost;      /* segments out of order or unknown prefix: that connection is not followed */
        uint64_t last_latency_us; /* NFLOG timestamp (or receipt) → element added, last one */
};

struct pst_rpc_reader;

int pst_rpc_reader_new(uint16_t group, const struct pst_rpc_target *targets, size_t n, struct pst_rpc_reader **ret);
struct pst_rpc_reader *pst_rpc_reader_free(struct pst_rpc_reader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_rpc_reader *, pst_rpc_reader_free);
int pst_rpc_reader_fd(const struct pst_rpc_reader *r);
/* Read what is queued (non-blocking socket) and act on it; 0 or a negative errno. */
int pst_rpc_reader_process(struct pst_rpc_reader *r);
const struct pst_rpc_reader_counters *pst_rpc_reader_counters(const struct pst_rpc_reader *r);
