/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * How many of the connections the kernel tracks now would a ruleset not let
 * in as new ones?  `posternctl diff` shows it: a new policy leaves the
 * established ones alone (its ct state rule accepts them), but a count of
 * what it would no longer admit says what the change costs.
 *
 * The conntrack table of the current network namespace is streamed
 * (ctnetlink dump, IPv4 then IPv6), never stored: memory does not grow with
 * the table.  Each entry becomes the packet that opened it — its original
 * tuple's source, protocol, ports or ICMP type, the destination it had
 * after any DNAT (the reply tuple's source), ct state new — and is judged
 * by chain input when that destination is one of the host's addresses
 * (ifa) or the kernel's route towards it is local, broadcast or multicast,
 * else by chain forward, leaving by that route's interface.
 * The interface it arrived on is the route towards its source (lookups are
 * cached).  Connections the host opened itself (source local) meet no
 * chain of ours on the way out and count as kept.
 */

#include <stdint.h>

#include "ifaddr.h"
#include "ir.h"

/*
 * *total: the entries seen; *cut: those rs would drop as new.  ifa may be
 * NULL (then the addresses are read from the kernel).  0, or a negative
 * errno: the kernel's (-EPROTONOSUPPORT, ... without conntrack support),
 * -EBADMSG for an entry that cannot be parsed.  Neither output is written on
 * failure.
 */
int pst_conntrack_count_cut(const struct pst_ruleset *rs, const struct pst_ifaddrs *ifa, uint64_t *cut,
                            uint64_t *total);

/*
 * Addresses went away (a PPP reconnect): delete the entries translated to
 * one of them — SNAT or masquerade whose reply goes to it, DNAT of
 * connections made to it.  The kernel's masquerade notifier is meant to do
 * the first, but after a ppp0 address change under posternd it left the
 * entry in place (tests/daemon/nat.sh fails without this).  At most 65,536
 * entries per call (the rest time out).  *ret_deleted counts the deleted
 * ones, also on failure; 0 or a negative errno.
 */
int pst_conntrack_flush_nat(const struct pst_ifaddrs *gone, uint64_t *ret_deleted);
