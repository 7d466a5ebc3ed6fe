/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the reply reader (rpc-reader.h) fills, as a compiled policy says it:
 * one target per pinhole set that some rule hands endpoint-mapper replies
 * to the reader for (an NFLOG copy to PST_RPC_NFLOG_GROUP, prefix = the
 * set's name, or the reply itself in the set's NFQUEUE), with the
 * interfaces of the policy rule the set belongs to (rpc_N_vF: rule N).  A
 * set no such rule feeds (rules in input) is no target: nothing would
 * arrive.  The targets of one compile share one mechanism: all have a
 * queue, or none has.
 */

#include "pipeline.h"
#include "rpc-reader.h"

/* Into ret[max]: the number of targets (0: none, the reader is not needed),
 * -E2BIG when there are more than max. */
int pst_rpc_targets(const struct pst_compiled *c, struct pst_rpc_target *ret, size_t max);
