/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * rtnetlink, the ground truth for links and addresses.
 *
 * One NETLINK_ROUTE socket subscribed to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR
 * and RTNLGRP_IPV6_IFADDR, on sd-event, feeding an in-memory table
 * (ifindex → name, addresses per ifindex).  A burst of events is coalesced:
 * each wakeup reads everything the socket holds, and the first event that
 * changes the address view arms a NETMON_COALESCE_USEC timer; the table is
 * handed to the manager when it fires.  ENOBUFS (the kernel dropped events)
 * and D-Bus hints lead to a full dump instead.
 *
 * NETMON_COALESCE_USEC = 0: the timer fires on the next event-loop
 * iteration, after the queued messages are read — a burst is "what the
 * kernel had queued when we woke up".  pppd's address setup (NEWADDR,
 * DELADDR, NEWADDR from three ioctls within microseconds, notes/events.md
 * Q6) usually arrives whole; when a straggler does not, it costs one more
 * set update of ~0.1 ms, and the set meanwhile shows what the kernel shows.
 * A 5 ms window was tried first: it made every address change 5 ms late,
 * against an event→commit target of under 1 ms (notes/performance.md).
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "compile.h"

#define NETMON_COALESCE_USEC 0
#define NETMON_LINKS_MAX 65536

struct manager;
struct netmon;

int netmon_new(struct manager *m, struct netmon **ret);
void netmon_free(struct netmon *nm);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct netmon *, netmon_free);

/* Subscribe, attach to the event loop, read the initial state (one dump). */
int netmon_start(struct netmon *nm, sd_event *e);

/* Full dump now (synchronously); replaces the table. */
int netmon_resync(struct netmon *nm);
/* A re-check soon: a full dump when the coalescing timer fires. */
int netmon_request_resync(struct netmon *nm);
/* Hand pending changes to the manager now instead of at the timer. */
void netmon_flush(struct netmon *nm);

/* Every address of every known link, by name (as pst_ifaddrs_dump() reports them). */
int netmon_ifaddrs(struct netmon *nm, struct pst_ifaddrs *ret);
bool netmon_has_link(struct netmon *nm, const char *ifname);

/* For status and tests */
uint64_t netmon_resyncs(struct netmon *nm);
size_t netmon_nlinks(struct netmon *nm);
size_t netmon_naddrs(struct netmon *nm);
