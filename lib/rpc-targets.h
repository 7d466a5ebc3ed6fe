/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the reply reader (rpc-reader.h) fills, as a compiled policy says it:
 * one target per pinhole set that some rule copies endpoint-mapper replies
 * for (log group PST_RPC_NFLOG_GROUP, prefix = the set's name), with the
 * interfaces of the policy rule the set belongs to (rpc_N_vF: rule N).  A
 * set no copy feeds (rules in input) is no target: nothing would arrive.
 */

#include "pipeline.h"
#include "rpc-reader.h"

/* Into ret[max]: the number of targets (0: none, the reader is not needed),
 * -E2BIG when there are more than max. */
int pst_rpc_targets(const struct pst_compiled *c, struct pst_rpc_target *ret, size_t max);
