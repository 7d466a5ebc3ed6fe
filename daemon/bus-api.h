/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * org.postern1 as posternd serves it (bus.c) and posternctl calls it
 * (ctl-bus.c): the only place its names are spelled in C, so that the two
 * cannot drift apart.  The README's "D-Bus API" section documents them;
 * systemd/org.postern1.conf and the daemon tests spell them again, as an
 * outside caller would.
 *
 * Who may call what (the same in bus.c, org.postern1.conf and the README):
 * methods are for root only; properties, introspection and the Applied
 * signal are for everyone.
 */

#define POSTERN_BUS_NAME "org.postern1"
#define POSTERN_BUS_PATH "/org/postern1"
#define POSTERN_BUS_INTERFACE "org.postern1.Manager"

/* errors: what a caller (posternctl) branches on */
#define POSTERN_BUS_ERROR_INVALID_POLICY "org.postern1.Error.InvalidPolicy"
#define POSTERN_BUS_ERROR_KERNEL "org.postern1.Error.KernelError"
#define POSTERN_BUS_ERROR_PERMISSION_DENIED "org.postern1.Error.PermissionDenied"
#define POSTERN_BUS_ERROR_NO_SUCH_INTERFACE "org.postern1.Error.NoSuchInterface"
#define POSTERN_BUS_ERROR_BUSY "org.postern1.Error.Busy"       /* a confirmation is pending; nothing to confirm */
#define POSTERN_BUS_ERROR_LOCKOUT "org.postern1.Error.Lockout" /* would cut the caller's own SSH connection */

/* methods and signal */
#define POSTERN_BUS_METHOD_RELOAD "Reload"   /* () */
#define POSTERN_BUS_METHOD_REAPPLY "Reapply" /* (s ifname) */
#define POSTERN_BUS_METHOD_APPLY "Apply"     /* (s path, u confirm_seconds, s ssh_connection, b force) -> (t generation) */
#define POSTERN_BUS_METHOD_CONFIRM "Confirm" /* () */
#define POSTERN_CONFIRM_MAX_SEC (24u * 3600u) /* Apply()'s confirm_seconds at most */
/* () -> (s path, u generation): the running ruleset written to path (snapshot.h), and the
 * kernel's ruleset generation after posternd's last commit; Busy when it cannot vouch for it */
#define POSTERN_BUS_METHOD_SAVE_RUNNING "SaveRunning"
/* () -> (a(sut) hits): per rule of table inet postern, in the kernel's order, its chain, its
 * position in it and when it last matched (CLOCK_REALTIME µs, 0 = not since the apply) */
#define POSTERN_BUS_METHOD_RULE_HITS "RuleHits"

/* (t since_usec) -> (a(syqttttus) rows, t total, t evicted, t lost): the drop log (drops.h), rows of
 * (zone, protocol, port, drops, sources, first, last seen (CLOCK_REALTIME µs), prefixes, top prefix)
 * last seen at or after since_usec */
#define POSTERN_BUS_METHOD_DROPS "Drops"
#define POSTERN_BUS_SIGNAL_APPLIED "Applied" /* (t generation, s digest) */
#define POSTERN_BUS_SIGNAL_ROLLED_BACK "RolledBack" /* (t generation, s digest): what is back */

/* properties */
#define POSTERN_BUS_PROP_STATE "State"                /* s */
#define POSTERN_BUS_PROP_POLICY_PATH "PolicyPath"     /* s */
#define POSTERN_BUS_PROP_POLICY_DIGEST "PolicyDigest" /* s */
#define POSTERN_BUS_PROP_GENERATION "Generation"      /* t */
#define POSTERN_BUS_PROP_LAST_ERROR "LastError"       /* s */
#define POSTERN_BUS_PROP_APPLIED_AT "AppliedAt"       /* t */
#define POSTERN_BUS_PROP_RULES "Rules"                /* t */
#define POSTERN_BUS_PROP_LAST_EVENT "LastEvent"       /* s */
#define POSTERN_BUS_PROP_RECHECKS "Rechecks"          /* t */
#define POSTERN_BUS_PROP_SET_UPDATES "SetUpdates"     /* t */
#define POSTERN_BUS_PROP_RESYNCS "Resyncs"            /* t */
#define POSTERN_BUS_PROP_CONFIRM_DEADLINE "ConfirmDeadline" /* t: CLOCK_REALTIME µs, 0 = nothing pending */
#define POSTERN_BUS_PROP_ROLLBACK_DIGEST "RollbackDigest"   /* s: what goes back without Confirm(), "" */
#define POSTERN_BUS_PROP_ROLLBACKS "Rollbacks"              /* t */
/* s: other tables' base chains that can drop what ours accepts, one a line ("" none; drift.c) */
#define POSTERN_BUS_PROP_FOREIGN_DROPS "ForeignDrops"
#define POSTERN_BUS_PROP_APPLY_USEC "ApplyUsec" /* t: how long the last full apply took, µs */
/* t each: the endpoint-mapper reply reader (daemon/rpc.h, lib/rpc-reader.h), since posternd started */
#define POSTERN_BUS_PROP_RPC_SETS "RpcSets"                     /* pinhole sets it fills now */
#define POSTERN_BUS_PROP_RPC_PACKETS "RpcPackets"               /* reply copies read */
#define POSTERN_BUS_PROP_RPC_ADDED "RpcPinholesAdded"           /* elements the kernel took */
#define POSTERN_BUS_PROP_RPC_REFUSED "RpcPinholesRefused"       /* refused: the set was full */
#define POSTERN_BUS_PROP_RPC_SKIPPED "RpcPinholesSkipped"       /* towers of an interface not listed */
#define POSTERN_BUS_PROP_RPC_UNPARSED "RpcRepliesUnparsed"      /* replies the parser could not read */
#define POSTERN_BUS_PROP_RPC_LOST "RpcLost"                     /* copies out of order, lost, unknown */
#define POSTERN_BUS_PROP_RPC_LATENCY "RpcLastLatencyUsec"       /* reply passed → element added, the last */
