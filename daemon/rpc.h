/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternd's endpoint-mapper reply reader (lib/rpc-reader.h): one reader in
 * the event loop while the running ruleset copies replies to NFLOG group
 * PST_RPC_NFLOG_GROUP for some pinhole set (lib/rpc-targets.h), none (no
 * socket at all) otherwise.  A reload hands it the new sets: the socket and
 * the connections it follows stay.  After each of the reader's commits the
 * manager hears of it (its watch must not call the pinholes drift, and its
 * next delta must be guarded by the generation they left).
 */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "pipeline.h"
#include "rpc-reader.h"

#define RPC_JOURNAL_PER_MIN 10 /* journal lines about unreadable replies and refused pinholes, at most */

struct rpc;

/* the reader committed from netlink port portid; 0: the reader is gone */
typedef void (*rpc_committed_fn)(uint32_t portid, void *userdata);

/* running: the ruleset now running (NULL: none); 0, or a negative errno (logged) */
int rpc_sync(struct rpc **rp, sd_event *event, const struct pst_compiled *running, rpc_committed_fn committed,
             void *userdata);
struct rpc *rpc_free(struct rpc *r);

/* Since posternd started (zeros without a reader ever); *ret_sets: the sets it fills now. */
void rpc_counters(const struct rpc *r, struct pst_rpc_reader_counters *ret, uint64_t *ret_sets);
